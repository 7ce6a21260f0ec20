/**
 * Sparkplug B 3.0 as a primary host application sees one edge node: its session (NBIRTH …
 * NDEATH, matched by bdSeq), its devices (DBIRTH … DDEATH), the metrics and aliases their births
 * announced, the order of its messages (`seq` 0–255 with wrap, held for a reorder timeout when
 * one is missing) and the rebirths it should be asked for, at most one per `minIntervalMs`.
 *
 * Pure: `stepSparkplugNode(policy, state, input)` updates `state` in place (a node's metric maps
 * are large and a message is small: copying them per message would cost more than the message)
 * and returns what the host must do. Time arrives in the input; the shell calls again with a
 * `tick` at `sparkplugDeadline(…)`. Payloads arrive decoded, 64-bit values as bigint.
 */

export const SPARKPLUG_NAMESPACE = 'spBv1.0'

export type SparkplugMessageType =
  | 'NBIRTH'
  | 'NDATA'
  | 'NDEATH'
  | 'NCMD'
  | 'DBIRTH'
  | 'DDATA'
  | 'DDEATH'
  | 'DCMD'

const NODE_TYPES: ReadonlySet<string> = new Set(['NBIRTH', 'NDATA', 'NDEATH', 'NCMD'])
const DEVICE_TYPES: ReadonlySet<string> = new Set(['DBIRTH', 'DDATA', 'DDEATH', 'DCMD'])

export type SparkplugTopic =
  | { kind: 'state'; hostId: string }
  | {
      kind: 'node'
      group: string
      type: SparkplugMessageType
      node: string
      device: string | null
    }

/** `spBv1.0/STATE/host`, `spBv1.0/group/NDATA/node`, `spBv1.0/group/DDATA/node/device`; else null. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | null {
  const levels = topic.split('/')
  if (levels[0] !== SPARKPLUG_NAMESPACE || levels.some((l) => l === '')) return null
  if (levels[1] === 'STATE')
    return levels.length === 3 ? { kind: 'state', hostId: levels[2] as string } : null
  const [, group, type, node, device] = levels as [string, string, string, string, string?]
  if (levels.length === 4 && NODE_TYPES.has(type))
    return { kind: 'node', group, type: type as SparkplugMessageType, node, device: null }
  if (levels.length === 5 && DEVICE_TYPES.has(type))
    return {
      kind: 'node',
      group,
      type: type as SparkplugMessageType,
      node,
      device: device as string,
    }
  return null
}

/** Sparkplug B data types by their number (index 0: unknown). */
export const SPARKPLUG_DATATYPES = [
  'Unknown',
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float',
  'Double',
  'Boolean',
  'String',
  'DateTime',
  'Text',
  'UUID',
  'DataSet',
  'Bytes',
  'File',
  'Template',
  'PropertySet',
  'PropertySetList',
] as const

export function sparkplugDatatypeName(datatype: number | null): string {
  return (datatype !== null && SPARKPLUG_DATATYPES[datatype]) || `datatype ${datatype ?? '?'}`
}

/** Data types whose value is a number a chart can take (Int8 … Double). */
export function isNumericDatatype(datatype: number | null): boolean {
  return datatype !== null && datatype >= 1 && datatype <= 10
}

/**
 * A metric's value as decoded: integers as the protobuf field holds them (uint32 as a number,
 * uint64 as a bigint, both unsigned), so that the data type, which a DATA message may leave out,
 * can give the sign later. null: is_null, or a kind the host does not read (DataSet, Bytes…).
 */
export type SparkplugValue = number | bigint | boolean | string | null

export interface SparkplugMetric {
  name: string | null
  alias: number | null
  datatype: number | null
  /** UTC ms, or null when the metric has none. */
  timestamp: number | null
  value: SparkplugValue
  isNull: boolean
  /** Scalar properties (engineering units, Quality…). */
  properties: Readonly<Record<string, SparkplugValue>>
}

export interface SparkplugPayload {
  timestamp: number | null
  seq: number | null
  metrics: readonly SparkplugMetric[]
}

/**
 * The number a value stands for, read with its data type: Int8/16/32 travel as uint32 (two's
 * complement), Int64 as uint64. null for anything that is no number (booleans are 1 and 0).
 */
export function sparkplugNumber(value: SparkplugValue, datatype: number | null): number | null {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'bigint') return Number(datatype === 4 ? BigInt.asIntN(64, value) : value)
  if (typeof value !== 'number') return null
  if (datatype !== null && datatype >= 1 && datatype <= 3) return value | 0
  return value
}

const UNIT_KEYS = new Set([
  'engunit',
  'engunits',
  'engineeringunit',
  'engineeringunits',
  'units',
  'unit',
])

/** The engineering unit a metric's properties announce (`engUnit`, as Ignition and others name it), or null. */
export function engineeringUnit(
  properties: Readonly<Record<string, SparkplugValue>>,
): string | null {
  for (const [key, value] of Object.entries(properties)) {
    if (!UNIT_KEYS.has(key.toLowerCase().replace(/[\s_-]/g, ''))) continue
    if (typeof value === 'string' && value.trim() !== '') return value.trim().slice(0, 40)
  }
  return null
}

/** Sparkplug's `Quality` property: 0 BAD, 192 GOOD, 500 STALE; null when absent (good). */
export function metricQuality(properties: Readonly<Record<string, SparkplugValue>>): number | null {
  const q = properties.Quality
  if (typeof q === 'number') return q
  if (typeof q === 'bigint') return Number(q)
  return null
}

export interface SparkplugPolicy {
  /** How long a message ahead of a missing one is held for the missing one to arrive. */
  reorderTimeoutMs: number
  rebirth: {
    onGap: boolean
    onDataBeforeBirth: boolean
    onUnknownAlias: boolean
    onMalformed: boolean
    /** At most one rebirth request per node in this time; the rest wait for it (one at most). */
    minIntervalMs: number
  }
}

export interface SparkplugMetricDef {
  name: string
  alias: number | null
  datatype: number | null
  properties: Readonly<Record<string, SparkplugValue>>
  /** Since the death of its node or device (UTC ms), until the next birth. */
  staleSince: number | null
}

/** What a birth announced: the edge node's own metrics, or one device's. */
export interface SparkplugScope {
  online: boolean
  birthAt: number | null
  deathAt: number | null
  metrics: Map<string, SparkplugMetricDef>
  aliases: Map<number, string>
}

export type RebirthReason = 'gap' | 'before-birth' | 'unknown-metric' | 'malformed' | 'reconnected'

/** Refusals, named as the gateway's dead-letter reasons. */
export type SparkplugRefusal =
  | 'before-birth'
  | 'unknown-metric'
  | 'out-of-order'
  | 'malformed-sparkplug'

export interface SparkplugNodeCounters {
  /** Rebirth requests sent. */
  rebirths: number
  /** Requests the rate limit held back (merged into the next one). */
  rebirthsSuppressed: number
  /** Missing messages given up on after the reorder timeout. */
  gaps: number
  outOfOrder: number
  beforeBirth: number
  unknownMetric: number
  malformed: number
  /** NDEATHs whose bdSeq was not the current birth's. */
  ignoredDeaths: number
}

export interface SparkplugNodeState<R = unknown> extends SparkplugScope {
  bdSeq: number | null
  /** The seq the next message must carry; null until a birth. */
  nextSeq: number | null
  /** Messages that came ahead of a missing one, by seq. */
  held: Map<number, SequencedInput<R>>
  /** When the oldest missing message was first missed; null when none is. */
  reorderSince: number | null
  devices: Map<string, SparkplugScope>
  lastRebirthAt: number | null
  /** A request the rate limit holds back, sent once the interval has passed. */
  pendingRebirth: RebirthReason | null
  counters: SparkplugNodeCounters
}

/** `ref`: whatever the shell wants back with a refusal (the raw message, for a dead letter). */
export type SparkplugInput<R = unknown> =
  | {
      kind: 'message'
      type: SparkplugMessageType
      device: string | null
      payload: SparkplugPayload
      at: number
      ref?: R
    }
  | {
      kind: 'malformed'
      type: SparkplugMessageType
      device: string | null
      detail: string
      at: number
      ref?: R
    }
  | { kind: 'tick'; at: number }
  /** The host's connection to the broker was lost: what it knew of the session is void. */
  | { kind: 'reset'; at: number }

type SequencedInput<R> = Extract<SparkplugInput<R>, { kind: 'message' }>

export interface ResolvedMetric {
  metric: SparkplugMetric
  def: SparkplugMetricDef
}

export type SparkplugEvent<R = unknown> =
  | { type: 'birth'; device: string | null; at: number }
  | {
      type: 'values'
      device: string | null
      birth: boolean
      payloadTimestamp: number | null
      metrics: ResolvedMetric[]
      /** When the message was received (a held one: earlier than the input that released it). */
      at: number
      ref: R | undefined
    }
  /** The node (device null: with all its devices) or one device died: its metrics are stale. */
  | { type: 'death'; device: string | null; at: number; why: string }
  | { type: 'rebirth'; reason: RebirthReason; at: number }
  | {
      type: 'refused'
      reason: SparkplugRefusal
      detail: string
      device: string | null
      at: number
      ref: R | undefined
    }
  | { type: 'ignored-death'; bdSeq: number | null; at: number }

function newScope(): SparkplugScope {
  return { online: false, birthAt: null, deathAt: null, metrics: new Map(), aliases: new Map() }
}

export function initialSparkplugNode<R = unknown>(): SparkplugNodeState<R> {
  return {
    ...newScope(),
    bdSeq: null,
    nextSeq: null,
    held: new Map(),
    reorderSince: null,
    devices: new Map(),
    lastRebirthAt: null,
    pendingRebirth: null,
    counters: {
      rebirths: 0,
      rebirthsSuppressed: 0,
      gaps: 0,
      outOfOrder: 0,
      beforeBirth: 0,
      unknownMetric: 0,
      malformed: 0,
      ignoredDeaths: 0,
    },
  }
}

/** When the shell must tick this node next (a reorder timeout, a held-back rebirth), or null. */
export function sparkplugDeadline(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<unknown>,
): number | null {
  let at: number | null = null
  if (state.reorderSince !== null) at = state.reorderSince + policy.reorderTimeoutMs
  if (state.pendingRebirth !== null && state.lastRebirthAt !== null) {
    const due = state.lastRebirthAt + policy.rebirth.minIntervalMs
    at = at === null ? due : Math.min(at, due)
  }
  return at
}

export function stepSparkplugNode<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  input: SparkplugInput<R>,
): SparkplugEvent<R>[] {
  const out: SparkplugEvent<R>[] = []
  switch (input.kind) {
    case 'tick':
      if (state.reorderSince !== null && input.at - state.reorderSince >= policy.reorderTimeoutMs)
        giveUpWaiting(policy, state, input.at, out)
      break
    case 'reset':
      // The host can no longer vouch for any value: stale, though no death was seen.
      endSession(state)
      markStale(state, input.at)
      for (const device of state.devices.values()) {
        device.online = false
        markStale(device, input.at)
      }
      break
    case 'malformed':
      state.counters.malformed++
      out.push(refusal('malformed-sparkplug', input.detail, input, input.device))
      requestRebirth(policy, state, input.at, 'malformed', policy.rebirth.onMalformed, out)
      break
    case 'message': {
      const problem = structuralProblem(input)
      if (problem !== null) {
        state.counters.malformed++
        out.push(refusal('malformed-sparkplug', problem, input, input.device))
        requestRebirth(policy, state, input.at, 'malformed', policy.rebirth.onMalformed, out)
      } else if (input.type === 'NBIRTH') nodeBirth(state, input, out)
      else if (input.type === 'NDEATH') nodeDeath(state, input, out)
      // Commands are a host's, not the node's (this host's own come back on spBv1.0/#).
      else if (input.type !== 'NCMD' && input.type !== 'DCMD') sequenced(policy, state, input, out)
      break
    }
  }
  // A rebirth the rate limit held back goes once the interval has passed.
  if (
    state.pendingRebirth !== null &&
    (state.lastRebirthAt === null || input.at - state.lastRebirthAt >= policy.rebirth.minIntervalMs)
  ) {
    sendRebirth(state, input.at, state.pendingRebirth, out)
  }
  return out
}

/**
 * Asks for a rebirth when `enabled`, at most once per `minIntervalMs`: a request inside the
 * interval is counted and merged into one that goes when the interval has passed.
 */
export function requestRebirth<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  at: number,
  reason: RebirthReason,
  enabled: boolean,
  out: SparkplugEvent<R>[],
): void {
  if (!enabled) return
  if (state.lastRebirthAt === null || at - state.lastRebirthAt >= policy.rebirth.minIntervalMs) {
    sendRebirth(state, at, reason, out)
    return
  }
  state.counters.rebirthsSuppressed++
  state.pendingRebirth ??= reason
}

function sendRebirth<R>(
  state: SparkplugNodeState<R>,
  at: number,
  reason: RebirthReason,
  out: SparkplugEvent<R>[],
): void {
  state.lastRebirthAt = at
  state.pendingRebirth = null
  state.counters.rebirths++
  out.push({ type: 'rebirth', reason, at })
}

function refusal<R>(
  reason: SparkplugRefusal,
  detail: string,
  input: { at: number; ref?: R },
  device: string | null,
): SparkplugEvent<R> {
  return { type: 'refused', reason, detail, device, at: input.at, ref: input.ref }
}

/** What makes a decoded message unusable, or null. */
function structuralProblem(input: SequencedInput<unknown>): string | null {
  const { type, payload } = input
  if (type === 'NBIRTH' || type === 'DBIRTH') {
    const nameless = payload.metrics.findIndex((m) => m.name === null || m.name === '')
    if (nameless >= 0) return `${type} metric ${nameless} has no name`
  }
  if (type === 'NDEATH' || type === 'NCMD' || type === 'DCMD') return null
  const seq = payload.seq
  if (seq === null) return `${type} has no seq`
  if (!Number.isInteger(seq) || seq < 0 || seq > 255) return `${type} seq ${seq} is outside 0–255`
  return null
}

/** Learns what a birth announces, replacing what an earlier birth of the same scope did. */
function learn(
  scope: SparkplugScope,
  metrics: readonly SparkplugMetric[],
  at: number,
): ResolvedMetric[] {
  scope.metrics = new Map()
  scope.aliases = new Map()
  const resolved: ResolvedMetric[] = []
  for (const metric of metrics) {
    const def: SparkplugMetricDef = {
      name: metric.name as string,
      alias: metric.alias,
      datatype: metric.datatype,
      properties: metric.properties,
      staleSince: null,
    }
    scope.metrics.set(def.name, def)
    if (def.alias !== null) scope.aliases.set(def.alias, def.name)
    resolved.push({ metric, def })
  }
  scope.online = true
  scope.birthAt = at
  return resolved
}

function endSession(state: SparkplugNodeState<unknown>): void {
  state.online = false
  state.nextSeq = null
  state.held.clear()
  state.reorderSince = null
  state.pendingRebirth = null
}

function bdSeqOf(payload: SparkplugPayload): number | null {
  const m = payload.metrics.find((x) => x.name === 'bdSeq')
  if (!m) return null
  const n = sparkplugNumber(m.value, m.datatype)
  return n === null ? null : n
}

function nodeBirth<R>(
  state: SparkplugNodeState<R>,
  input: SequencedInput<R>,
  out: SparkplugEvent<R>[],
): void {
  const { payload, at } = input
  endSession(state)
  state.bdSeq = bdSeqOf(payload)
  state.nextSeq = ((payload.seq ?? 0) + 1) % 256
  // A new session: its devices are announced again by DBIRTHs that follow.
  state.devices = new Map()
  const metrics = learn(state, payload.metrics, at)
  out.push({ type: 'birth', device: null, at })
  out.push({
    type: 'values',
    device: null,
    birth: true,
    payloadTimestamp: payload.timestamp,
    metrics,
    at,
    ref: input.ref,
  })
}

function nodeDeath<R>(
  state: SparkplugNodeState<R>,
  input: SequencedInput<R>,
  out: SparkplugEvent<R>[],
): void {
  const bdSeq = bdSeqOf(input.payload)
  // [tck-id-payloads-ndeath-bdseq] only the death of the current session ends it; a will of an
  // earlier connection arriving late is ignored.
  if (!state.online || bdSeq !== state.bdSeq) {
    state.counters.ignoredDeaths++
    out.push({ type: 'ignored-death', bdSeq, at: input.at })
    return
  }
  // NDEATH is often the broker's will: its time stamp is the connection's, so the host's clock
  // says when the node went.
  const at = input.at
  endSession(state)
  state.deathAt = at
  markStale(state, at)
  for (const device of state.devices.values()) {
    if (device.online) device.deathAt = at
    device.online = false
    markStale(device, at)
  }
  out.push({ type: 'death', device: null, at, why: `NDEATH (bdSeq ${bdSeq ?? 'none'})` })
}

function markStale(scope: SparkplugScope, at: number): void {
  for (const def of scope.metrics.values()) def.staleSince ??= at
}

function sequenced<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  input: SequencedInput<R>,
  out: SparkplugEvent<R>[],
): void {
  if (state.nextSeq === null) {
    state.counters.beforeBirth++
    out.push(refusal('before-birth', `${input.type} before the node's NBIRTH`, input, input.device))
    requestRebirth(policy, state, input.at, 'before-birth', policy.rebirth.onDataBeforeBirth, out)
    return
  }
  const seq = input.payload.seq as number
  const ahead = (seq - state.nextSeq + 256) % 256
  if (ahead === 0) {
    state.nextSeq = (seq + 1) % 256
    apply(policy, state, input, out)
    // [tck-id-operational-behavior-host-reordering-success] held messages follow in order; the
    // timer stops when nothing is missing any more, and starts anew at a further gap.
    while (state.nextSeq !== null && state.held.has(state.nextSeq)) {
      const next = state.held.get(state.nextSeq) as SequencedInput<R>
      state.held.delete(state.nextSeq)
      state.nextSeq = (state.nextSeq + 1) % 256
      apply(policy, state, next, out)
    }
    state.reorderSince = state.held.size === 0 ? null : input.at
    return
  }
  if (ahead < 128 && !state.held.has(seq)) {
    // [tck-id-operational-behavior-host-reordering-start]
    state.held.set(seq, input)
    state.reorderSince ??= input.at
    if (input.at - state.reorderSince >= policy.reorderTimeoutMs)
      giveUpWaiting(policy, state, input.at, out)
    return
  }
  state.counters.outOfOrder++
  out.push(
    refusal(
      'out-of-order',
      `${input.type} seq ${seq} ${ahead < 128 ? 'came twice' : 'is behind'} (expected ${state.nextSeq})`,
      input,
      input.device,
    ),
  )
}

/**
 * [tck-id-operational-behavior-host-reordering-rebirth] the missing messages did not come in
 * time: what was held is taken in order and the node is asked for a rebirth.
 */
function giveUpWaiting<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  at: number,
  out: SparkplugEvent<R>[],
): void {
  const from = state.nextSeq as number
  state.counters.gaps++
  const order = [...state.held.keys()].sort(
    (a, b) => ((a - from + 256) % 256) - ((b - from + 256) % 256),
  )
  const held = order.map((s) => state.held.get(s) as SequencedInput<R>)
  state.held.clear()
  state.reorderSince = null
  for (const message of held) {
    state.nextSeq = ((message.payload.seq as number) + 1) % 256
    apply(policy, state, message, out)
  }
  requestRebirth(policy, state, at, 'gap', policy.rebirth.onGap, out)
}

function apply<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  input: SequencedInput<R>,
  out: SparkplugEvent<R>[],
): void {
  const { type, device, payload, at } = input
  if (type === 'NDATA') {
    resolve(policy, state, state, input, out)
    return
  }
  const id = device as string
  if (type === 'DBIRTH') {
    const scope = state.devices.get(id) ?? newScope()
    state.devices.set(id, scope)
    const metrics = learn(scope, payload.metrics, at)
    out.push({ type: 'birth', device: id, at })
    out.push({
      type: 'values',
      device: id,
      birth: true,
      payloadTimestamp: payload.timestamp,
      metrics,
      at,
      ref: input.ref,
    })
    return
  }
  const scope = state.devices.get(id)
  if (!scope?.online) {
    state.counters.beforeBirth++
    out.push(refusal('before-birth', `${type} of device "${id}" before its DBIRTH`, input, id))
    requestRebirth(policy, state, at, 'before-birth', policy.rebirth.onDataBeforeBirth, out)
    return
  }
  if (type === 'DDATA') {
    resolve(policy, state, scope, input, out)
    return
  }
  // DDEATH: the edge node saw its device go, so the payload's time stamp says when.
  const when = payload.timestamp ?? at
  scope.online = false
  scope.deathAt = when
  markStale(scope, when)
  out.push({ type: 'death', device: id, at: when, why: `DDEATH of device "${id}"` })
}

/** DATA metrics by name or by the alias their birth gave; unknown ones are refused. */
function resolve<R>(
  policy: SparkplugPolicy,
  state: SparkplugNodeState<R>,
  scope: SparkplugScope,
  input: SequencedInput<R>,
  out: SparkplugEvent<R>[],
): void {
  const known: ResolvedMetric[] = []
  const unknown: string[] = []
  for (const metric of input.payload.metrics) {
    const name =
      metric.name ?? (metric.alias !== null ? scope.aliases.get(metric.alias) : undefined)
    const def = name === undefined ? undefined : scope.metrics.get(name)
    if (def) known.push({ metric, def })
    else
      unknown.push(metric.name !== null ? `"${metric.name}"` : `alias ${metric.alias ?? '(none)'}`)
  }
  if (known.length > 0)
    out.push({
      type: 'values',
      device: input.device,
      birth: false,
      payloadTimestamp: input.payload.timestamp,
      metrics: known,
      at: input.at,
      ref: input.ref,
    })
  if (unknown.length === 0) return
  state.counters.unknownMetric++
  const listed =
    unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, … (${unknown.length})` : '')
  out.push(
    refusal(
      'unknown-metric',
      `${input.type} names ${listed}, which the ${input.device === null ? 'NBIRTH' : 'DBIRTH'} did not announce`,
      input,
      input.device,
    ),
  )
  requestRebirth(policy, state, input.at, 'unknown-metric', policy.rebirth.onUnknownAlias, out)
}
