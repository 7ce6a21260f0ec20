import type { DatabaseSync } from 'node:sqlite'
import {
  ALARM_PRIORITIES,
  type AlarmInput,
  type AlarmKpisView,
  type AlarmRecord,
  type AlarmState,
  type AlarmTransition,
  alarmKpis,
  type ConditionInput,
  type ConditionKind,
  type ConditionState,
  conditionKind,
  type Deviation,
  type Evaluation,
  initialAlarm,
  initialCondition,
  stepAlarm,
  stepCondition,
} from '../../rules/index.ts'
import type { Config } from '../config/index.ts'
import type { AlarmCounts, AlarmEventView, AlarmView, PlantStateView } from '../contract.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import type { NcService, NcTrigger } from '../nonconformance/index.ts'
import type { CharacteristicRuntime } from '../pipeline/runtime.ts'
import type { Communication, Reading } from '../sources/types.ts'
import type { RecordsWriter } from '../store/records-writer.ts'
import { type AlarmDefinition, alarmDefinitions, suppressionMap } from './catalogue.ts'
import { alarmMessage } from './words.ts'

/**
 * The alarm system (ISA-18.2): one alarm per characteristic and condition, judged by the pure
 * rules (`rules/alarms/`: conditions with deadband and delays, the lifecycle state machine)
 * from what the pipeline judged, what the sources say about communication, and time.
 *
 * Everything runs on the judging thread, in the order the readings were judged, so two
 * readings can never raise one alarm twice. The alarms live in memory (the hot path never
 * reads the database); each change is written by the records writer, in the same transaction
 * as the nonconformance it opened, and an alarm's every transition is a row of its history
 * with who, when and why. On start the records give every alarm back its state.
 *
 * An alarm's condition is judged only when it could change: a reading inside the limits of an
 * alarm that is clear and has no delay running changes nothing, so it costs a comparison.
 */
export interface AlarmService {
  start(): Promise<void>
  stop(): Promise<void>
  /** Calls `done` once every alarm change made so far is committed. */
  whenDurable(done: () => void): void
  list(filter: {
    state?: AlarmState
    priority?: string
    area?: string
    characteristic?: string
  }): AlarmView[]
  get(id: string): AlarmView | undefined
  counts(): AlarmCounts
  /** An operator's or engineer's act; the alarm after it, or why it was refused. */
  act(
    id: string,
    act: AlarmAct,
    by: string | null,
  ): AlarmView | { refused: string; invalid?: boolean } | undefined
  history(id: string, limit: number): Promise<AlarmEventView[]>
  kpis(range: { from: number; to: number; area?: string | undefined }): Promise<AlarmKpisView>
  plantStates(): PlantStateView[]
  setPlantState(
    id: string,
    active: boolean,
    by: string | null,
    reason: string,
  ): PlantStateView | { refused: string } | undefined
}

export type AlarmAct =
  | { kind: 'acknowledge'; comment?: string | undefined }
  | { kind: 'shelve'; reason: string; minutes: number }
  | { kind: 'unshelve'; reason?: string | undefined }
  | { kind: 'remove-from-service'; reason: string }
  | { kind: 'return-to-service'; reason?: string | undefined }

interface Slot {
  readonly def: AlarmDefinition
  readonly kind: ConditionKind
  readonly name: string
  readonly unit: string
  cond: ConditionState
  record: AlarmRecord
  shelvedBy: string | null
  shelveReason: string | null
  /** Stale: the latest reading's time not yet handed to the condition (see `feedStale`). */
  lastReadingAt: number | null
  /** How many suppressors hold now. */
  suppressors: number
}

/** Statements the records writer runs for alarms (idempotent: a batch may be sent twice). */
export const ALARM_STATEMENTS = {
  alarmSave: `INSERT INTO alarm (id, record, shelved_by, shelve_reason, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET record = excluded.record, shelved_by = excluded.shelved_by,
              shelve_reason = excluded.shelve_reason, updated_at = excluded.updated_at`,
  alarmEvent: `INSERT OR IGNORE INTO alarm_event (id, alarm, area, priority, at, from_state, to_state, by, why, value)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  alarmPruneBefore: 'DELETE FROM alarm_event WHERE at < ?',
  alarmPruneUpTo: 'DELETE FROM alarm_event WHERE id <= ?',
  plantStateSave: `INSERT INTO plant_state (id, active, since, by, reason) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET active = excluded.active, since = excluded.since,
                   by = excluded.by, reason = excluded.reason`,
}

const TICK_MS = 1000
const PRUNE_EVERY_MS = 3_600_000
const STANDING_LOOKBACK_MS = 24 * 3_600_000

const SHOWN: ReadonlySet<AlarmState> = new Set(['unack-active', 'ack-active'])
const UNACK: ReadonlySet<AlarmState> = new Set(['unack-active', 'unack-rtn'])

export function createAlarmService(ctx: {
  config: Config
  db: DatabaseSync
  writer: RecordsWriter
  bus: EventBus
  log: Logger
  nc: NcService
  runtime: (id: string) => CharacteristicRuntime | undefined
  /** The clock (tests inject one); the rules never read it. */
  now?: () => number
}): AlarmService {
  const { config, db, writer, bus, log, nc } = ctx
  const now = ctx.now ?? Date.now
  const slots = new Map<string, Slot>()
  /** Per characteristic: its alarms judged on readings, on chart points, and its comm-loss and stale alarms. */
  const byCharacteristic = new Map<
    string,
    { reading: Slot[]; signal: Slot[]; comm: Slot | null; stale: Slot | null }
  >()
  /** Alarms that need time to pass: a running time delay, a shelve, a re-alarm. */
  const timed = new Set<Slot>()
  const staleSlots: Slot[] = []
  const counts = emptyCounts()
  const suppression = new Map<string, { targets: Slot[]; why: string }>()
  /** Plant states: active, since, by, reason; derived ones follow a characteristic's readings. */
  const states = new Map<
    string,
    {
      view: PlantStateView
      derived: {
        characteristic: string
        below?: number | undefined
        above?: number | undefined
      } | null
    }
  >()
  const derivedBy = new Map<string, string[]>()
  const timers: NodeJS.Timeout[] = []
  const owner = {}
  let nextEventId = 1
  let saveScheduled = false
  /** The alarms one evaluation activated (reused: the hot path allocates nothing). */
  const scratch: Slot[] = []

  for (const c of config.characteristics) {
    const entry = {
      reading: [] as Slot[],
      signal: [] as Slot[],
      comm: null as Slot | null,
      stale: null as Slot | null,
    }
    for (const def of alarmDefinitions(config, c)) {
      const slot: Slot = {
        def,
        kind: conditionKind(def.condition),
        name: c.name,
        unit: c.unit,
        cond: initialCondition(),
        record: initialAlarm(0),
        shelvedBy: null,
        shelveReason: null,
        lastReadingAt: null,
        suppressors: 0,
      }
      slots.set(def.id, slot)
      if (slot.kind === 'signal') entry.signal.push(slot)
      else if (slot.kind === 'comm-loss') entry.comm = slot
      else if (slot.kind === 'stale') {
        entry.stale = slot
        staleSlots.push(slot)
      } else entry.reading.push(slot)
    }
    byCharacteristic.set(c.id, entry)
  }
  for (const [key, { targets, why }] of suppressionMap(
    config,
    [...slots.values()].map((s) => s.def),
  )) {
    suppression.set(key, { why, targets: targets.map((t) => slots.get(t) as Slot) })
  }
  for (const s of config.alarms.states) {
    states.set(s.id, {
      view: {
        id: s.id,
        name: s.name,
        active: false,
        since: null,
        by: null,
        reason: null,
        manual: !s.when,
      },
      derived: s.when ?? null,
    })
    if (s.when)
      derivedBy.set(s.when.characteristic, [...(derivedBy.get(s.when.characteristic) ?? []), s.id])
  }

  // ---- views -------------------------------------------------------------------------------

  function view(slot: Slot): AlarmView {
    const r = slot.record
    const d = slot.def
    return {
      id: d.id,
      characteristic: d.characteristic,
      characteristicName: slot.name,
      area: d.area,
      condition: d.condition,
      priority: d.priority,
      state: r.state,
      active: r.active,
      acknowledged: r.acknowledged,
      activeSince: r.activeSince,
      since: r.since,
      value: r.value,
      limit: r.limit,
      unit: slot.unit,
      shelvedUntil: r.shelvedUntil,
      shelvedBy: r.state === 'shelved' ? slot.shelvedBy : null,
      shelveReason: r.state === 'shelved' ? slot.shelveReason : null,
      message: alarmMessage(slot.name, d.condition, r.value, r.limit, slot.unit),
    }
  }

  function countIn(slot: Slot, sign: 1 | -1): void {
    const c = counts[slot.def.priority]
    if (SHOWN.has(slot.record.state)) c.active += sign
    if (UNACK.has(slot.record.state)) c.unacknowledged += sign
  }

  // ---- the lifecycle -----------------------------------------------------------------------

  /** Steps an alarm's lifecycle; persists, announces, and tells suppression what changed. */
  function lifecycle(
    slot: Slot,
    input: AlarmInput,
  ): { transitions: AlarmTransition[]; refused: string | null } {
    const wasActive = slot.record.active
    countIn(slot, -1)
    const step = stepAlarm({ reAlarmMs: slot.def.settings.reAlarmMs }, slot.record, input)
    const changed =
      step.record !== slot.record &&
      (step.transitions.length > 0 || !sameRecord(slot.record, step.record))
    slot.record = step.record
    countIn(slot, 1)
    if (slot.record.state !== 'shelved') {
      slot.shelvedBy = null
      slot.shelveReason = null
    }
    for (const t of step.transitions) {
      writer.run('alarmEvent', [
        nextEventId++,
        slot.def.id,
        slot.def.area,
        slot.def.priority,
        t.at,
        t.from,
        t.to,
        t.by,
        t.why,
        t.value,
      ])
    }
    if (changed) {
      markDirty(slot)
      bus.emit('alarm', view(slot))
    }
    track(slot)
    if (wasActive !== slot.record.active)
      suppressorChanged(slot.def.id, slot.record.active, input.at)
    return { transitions: step.transitions, refused: step.refused }
  }

  function markDirty(slot: Slot): void {
    dirtySlots.add(slot)
    if (saveScheduled) return
    saveScheduled = true
    setImmediate(save)
  }

  const dirtySlots = new Set<Slot>()
  /** Acknowledgements waiting for the alarm changes of their turn. */
  let waiting: (() => void)[] = []
  function save(): void {
    saveScheduled = false
    const at = now()
    for (const slot of dirtySlots) {
      writer.run('alarmSave', [
        slot.def.id,
        JSON.stringify(slot.record),
        slot.shelvedBy,
        slot.shelveReason,
        at,
      ])
    }
    dirtySlots.clear()
    const acks = waiting
    waiting = []
    for (const done of acks) writer.whenDurable(done)
  }

  /** Keeps the set of alarms that need ticks true. */
  function track(slot: Slot): void {
    const r = slot.record
    const pendingTime = slot.cond.delay.pendingSince !== null && hasTimeDelay(slot)
    const reAlarm = r.state === 'ack-active' && slot.def.settings.reAlarmMs !== undefined
    if (pendingTime || r.state === 'shelved' || reAlarm) timed.add(slot)
    else timed.delete(slot)
  }

  function hasTimeDelay(slot: Slot): boolean {
    const t = slot.def.settings.threshold
    const d = slot.cond.delay.active ? t?.offDelay : t?.onDelay
    return d !== undefined && 'ms' in d
  }

  /** Steps a condition; a change goes to the lifecycle. Returns true when the alarm became active. */
  function condition(slot: Slot, input: ConditionInput): boolean {
    const step = stepCondition(slot.def.settings, slot.cond, input)
    slot.cond = step.state
    if (!step.changed) {
      track(slot)
      return false
    }
    const wasActive = slot.record.active
    lifecycle(slot, {
      kind: 'condition',
      at: input.at,
      active: step.active,
      value: step.value,
      limit: step.limit,
    })
    return !wasActive && slot.record.active
  }

  // ---- suppression by design ---------------------------------------------------------------

  function suppressorChanged(key: string, holds: boolean, at: number): void {
    const entry = suppression.get(key)
    if (!entry) return
    for (const target of entry.targets) {
      const before = target.suppressors
      target.suppressors += holds ? 1 : -1
      if ((before === 0) !== (target.suppressors === 0))
        lifecycle(target, {
          kind: 'suppress',
          at,
          on: target.suppressors > 0,
          why: holds ? entry.why : 'suppression by design ended',
        })
    }
  }

  function setState(
    id: string,
    active: boolean,
    at: number,
    by: string | null,
    reason: string | null,
  ): void {
    const s = states.get(id)
    if (!s || s.view.active === active) return
    s.view = { ...s.view, active, since: at, by, reason }
    writer.run('plantStateSave', [id, active ? 1 : 0, at, by, reason])
    log.info({ state: id, active, by, reason }, 'plant state changed')
    bus.emit('plant-state', s.view)
    suppressorChanged(`state:${id}`, active, at)
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** Opens or adds to nonconformances for the alarms that became active, one call per characteristic. */
  function raiseNcs(
    rt: CharacteristicRuntime,
    activated: Slot[],
    evaluation: Evaluation | null,
    reading: Reading | null,
  ): void {
    const triggers: NcTrigger[] = []
    for (const slot of activated) {
      if (!slot.def.opensNc) continue
      const state = slot.record.state
      if (state === 'suppressed' || state === 'out-of-service') continue
      const deviation = evaluation?.deviations.find(
        (d): d is Deviation => d.kind === 'rule' && d.cause === slot.def.condition,
      )
      triggers.push({
        condition: slot.def.condition,
        deviation: deviation ?? null,
        ts: reading?.ts ?? slot.record.activeSince ?? now(),
        value:
          slot.kind === 'above' || slot.kind === 'below' || slot.kind === 'target'
            ? (slot.record.value ?? 0)
            : (rt.last?.value ?? slot.record.value ?? 0),
        limit: slot.record.limit,
      })
    }
    if (triggers.length > 0) nc.raise(rt, triggers, evaluation?.points ?? [])
  }

  function onEvaluated(
    rt: CharacteristicRuntime,
    reading: Reading | null,
    evaluation: Evaluation,
  ): void {
    const entry = byCharacteristic.get(rt.config.id)
    if (!entry) return
    const activated = scratch
    activated.length = 0
    if (reading && rt.last) {
      const at = reading.receivedAt ?? now()
      const value = rt.last.value
      for (const slot of entry.reading) {
        if (quiet(slot, value)) continue
        if (condition(slot, { kind: 'reading', at, value })) activated.push(slot)
      }
      const comm = entry.comm
      if (comm && (comm.cond.delay.active || comm.cond.delay.pendingSince !== null))
        if (condition(comm, { kind: 'source', at, ok: true })) activated.push(comm)
      const stale = entry.stale
      if (stale) {
        stale.lastReadingAt = at
        if (stale.cond.delay.active) feedStale(stale)
      }
      const derived = derivedBy.get(rt.config.id)
      if (derived) for (const id of derived) judgeState(id, value, at)
    }
    if (evaluation.points.length > 0 && entry.signal.length > 0) {
      const at = reading?.receivedAt ?? now()
      for (const slot of entry.signal) {
        const d = evaluation.deviations.find(
          (x) => x.kind === 'rule' && x.cause === slot.def.condition,
        )
        if (!d && !slot.cond.delay.active && slot.cond.delay.pendingSince === null) continue
        if (
          condition(slot, {
            kind: 'signal',
            at,
            flagged: d !== undefined,
            value: d?.value ?? null,
            limit: d ? signalLimit(d, evaluation) : null,
          })
        )
          activated.push(slot)
      }
    }
    if (activated.length > 0) raiseNcs(rt, [...activated], evaluation, reading)
  }

  /**
   * A reading that cannot change a clear limit or target alarm with no delay running: the raw
   * test alone (the deadband only widens an active alarm's band).
   */
  function quiet(slot: Slot, value: number): boolean {
    if (slot.cond.delay.active || slot.cond.delay.pendingSince !== null) return false
    const t = slot.def.settings.threshold?.threshold as number
    if (slot.kind === 'above') return !(value > t)
    if (slot.kind === 'below') return !(value < t)
    if (slot.kind === 'target') return !(Math.abs(value - (slot.def.settings.target as number)) > t)
    return false
  }

  /**
   * A stale alarm hears of readings lazily: while it is clear, the readings only move its
   * latest-reading time, which is handed to the condition when it is judged.
   */
  function feedStale(slot: Slot): boolean {
    if (slot.lastReadingAt === null) return false
    const at = slot.lastReadingAt
    slot.lastReadingAt = null
    if (slot.cond.lastReadingAt !== null && at <= slot.cond.lastReadingAt) return false
    return condition(slot, { kind: 'reading', at, value: Number.NaN })
  }

  function judgeState(id: string, value: number, at: number): void {
    const s = states.get(id)
    const when = s?.derived
    if (!s || !when) return
    const holds =
      (when.below !== undefined && value < when.below) ||
      (when.above !== undefined && value > when.above)
    if (holds !== s.view.active)
      setState(id, holds, at, null, holds ? 'condition met' : 'condition ended')
  }

  function onCommunication(update: Communication): void {
    for (const id of update.characteristics) {
      const comm = byCharacteristic.get(id)?.comm
      if (!comm) continue
      if (condition(comm, { kind: 'source', at: update.at, ok: !update.lost })) {
        const rt = ctx.runtime(id)
        if (rt) raiseNcs(rt, [comm], null, null)
      }
    }
    if (update.lost)
      log.warn(
        { characteristics: update.characteristics.length, why: update.why },
        'communication lost',
      )
  }

  function tick(): void {
    const at = now()
    const activated = new Map<string, Slot[]>()
    const note = (slot: Slot, became: boolean) => {
      if (!became) return
      const list = activated.get(slot.def.characteristic) ?? []
      list.push(slot)
      activated.set(slot.def.characteristic, list)
    }
    for (const slot of staleSlots) {
      const after = slot.def.settings.staleAfterMs as number
      const last = slot.lastReadingAt ?? slot.cond.lastReadingAt ?? slot.cond.watchingSince
      if (!slot.cond.delay.active && last !== null && at - last < after) continue
      note(slot, feedStale(slot))
      note(slot, condition(slot, { kind: 'tick', at }))
    }
    for (const slot of [...timed]) {
      if (slot.cond.delay.pendingSince !== null) note(slot, condition(slot, { kind: 'tick', at }))
      if (slot.record.state === 'shelved' || slot.record.state === 'ack-active')
        lifecycle(slot, { kind: 'tick', at })
    }
    for (const [id, list] of activated) {
      const rt = ctx.runtime(id)
      if (rt) raiseNcs(rt, list, null, null)
    }
  }

  function prune(): void {
    const cut = now() - config.alarms.history.maxAgeDays * 86_400_000
    writer.run('alarmPruneBefore', [cut])
    const upTo = nextEventId - 1 - config.alarms.history.maxEvents
    if (upTo > 0) writer.run('alarmPruneUpTo', [upTo])
  }

  function flushed(): Promise<void> {
    if (dirtySlots.size > 0) save()
    return writer.flush()
  }

  return {
    async start() {
      const at = now()
      const last = db.prepare('SELECT coalesce(max(id), 0) AS id FROM alarm_event').get() as {
        id: number
      }
      nextEventId = last.id + 1
      for (const row of db
        .prepare('SELECT id, record, shelved_by, shelve_reason FROM alarm')
        .all() as {
        id: string
        record: string
        shelved_by: string | null
        shelve_reason: string | null
      }[]) {
        const slot = slots.get(row.id)
        if (!slot) continue
        slot.record = JSON.parse(row.record) as AlarmRecord
        slot.shelvedBy = row.shelved_by
        slot.shelveReason = row.shelve_reason
        // The condition carries on from what the alarm says (a running delay starts again).
        slot.cond = {
          ...initialCondition(),
          delay: { active: slot.record.active, pendingSince: null, pendingCount: 0 },
        }
      }
      for (const slot of slots.values()) {
        if (slot.kind === 'stale') slot.cond = { ...slot.cond, watchingSince: at }
        if (slot.record.since === 0) slot.record = initialAlarm(at)
        countIn(slot, 1)
        track(slot)
      }
      for (const row of db
        .prepare('SELECT id, active, since, by, reason FROM plant_state')
        .all() as {
        id: string
        active: number
        since: number
        by: string | null
        reason: string | null
      }[]) {
        const s = states.get(row.id)
        if (s)
          s.view = {
            ...s.view,
            active: row.active === 1,
            since: row.since,
            by: row.by,
            reason: row.reason,
          }
      }
      // Suppression as it holds now; an alarm whose suppression ended while the gateway was
      // down leaves F (and one newly suppressed enters it).
      for (const [key, entry] of suppression) {
        const holds = key.startsWith('state:')
          ? (states.get(key.slice(6))?.view.active ?? false)
          : (slots.get(key)?.record.active ?? false)
        if (holds) for (const t of entry.targets) t.suppressors++
      }
      for (const slot of slots.values()) {
        const should = slot.suppressors > 0
        if (should !== (slot.record.suppressedByDesign ?? false)) {
          const why = should ? 'suppressed by design' : 'suppression by design ended'
          lifecycle(slot, { kind: 'suppress', at, on: should, why })
        }
      }
      bus.on('evaluated', owner, ({ runtime, reading, evaluation }) =>
        onEvaluated(runtime, reading, evaluation),
      )
      bus.on('communication', owner, onCommunication)
      timers.push(setInterval(tick, TICK_MS))
      prune()
      timers.push(setInterval(prune, PRUNE_EVERY_MS))
    },

    whenDurable(done) {
      if (dirtySlots.size > 0) waiting.push(done)
      else writer.whenDurable(done)
    },

    async stop() {
      bus.removeOwner(owner)
      for (const t of timers) clearInterval(t)
      timers.length = 0
      save()
    },

    list({ state, priority, area, characteristic }) {
      const out: AlarmView[] = []
      for (const slot of slots.values()) {
        const r = slot.record
        if (state ? r.state !== state : r.state === 'normal') continue
        if (priority && slot.def.priority !== priority) continue
        if (area && slot.def.area !== area && !slot.def.area.startsWith(`${area}/`)) continue
        if (characteristic && slot.def.characteristic !== characteristic) continue
        out.push(view(slot))
      }
      // Highest priority first, then the newest.
      return out.sort(
        (a, b) =>
          ALARM_PRIORITIES.indexOf(a.priority) - ALARM_PRIORITIES.indexOf(b.priority) ||
          b.since - a.since,
      )
    },

    get(id) {
      const slot = slots.get(id)
      return slot ? view(slot) : undefined
    },

    counts: () => structuredClone(counts),

    act(id, act, by) {
      const slot = slots.get(id)
      if (!slot) return undefined
      const at = now()
      let input: AlarmInput
      switch (act.kind) {
        case 'acknowledge':
          input = { kind: 'acknowledge', at, by: by ?? 'anonymous', comment: act.comment }
          break
        case 'shelve':
          if (act.minutes > config.alarms.maxShelveMinutes)
            return {
              refused: `an alarm may be shelved for at most ${config.alarms.maxShelveMinutes} minutes (alarms.maxShelveMinutes)`,
              invalid: true,
            }
          input = {
            kind: 'shelve',
            at,
            by: by ?? 'anonymous',
            reason: act.reason,
            until: at + act.minutes * 60_000,
          }
          break
        case 'unshelve':
          input = { kind: 'unshelve', at, by: by ?? 'anonymous', reason: act.reason }
          break
        case 'remove-from-service':
          input = { kind: 'remove-from-service', at, by: by ?? 'anonymous', reason: act.reason }
          break
        case 'return-to-service':
          input = { kind: 'return-to-service', at, by: by ?? 'anonymous', reason: act.reason }
          break
      }
      const { refused } = lifecycle(slot, input)
      if (refused) return { refused }
      if (act.kind === 'shelve') {
        slot.shelvedBy = by ?? 'anonymous'
        slot.shelveReason = act.reason
        markDirty(slot)
        bus.emit('alarm', view(slot))
      }
      log.info({ alarm: id, act: act.kind, by }, 'alarm act')
      return view(slot)
    },

    async history(id, limit) {
      await flushed()
      const rows = db
        .prepare(
          'SELECT id, alarm, at, from_state, to_state, by, why, value FROM alarm_event WHERE alarm = ? ORDER BY id DESC LIMIT ?',
        )
        .all(id, limit) as {
        id: number
        alarm: string
        at: number
        from_state: AlarmState
        to_state: AlarmState
        by: string | null
        why: string
        value: number | null
      }[]
      return rows.map((r) => ({
        id: r.id,
        alarm: r.alarm,
        at: r.at,
        from: r.from_state,
        to: r.to_state,
        by: r.by,
        why: r.why,
        value: r.value,
      }))
    },

    async kpis({ from, to, area }) {
      await flushed()
      const boundary = from - STANDING_LOOKBACK_MS
      type Row = {
        alarm: string
        at: number
        from_state: AlarmState
        to_state: AlarmState
        by: string | null
        why: string
        value: number | null
      }
      const columns = 'alarm, at, from_state, to_state, by, why, value'
      // Before the look-back, per alarm its latest transition and its latest activation: where
      // each stood, and since when an alarm active all along has been.
      const before = db
        .prepare(
          `SELECT ${columns} FROM alarm_event WHERE id IN (
             SELECT max(id) FROM alarm_event WHERE at < ? GROUP BY alarm
             UNION SELECT max(id) FROM alarm_event WHERE at < ? AND to_state = 'unack-active' GROUP BY alarm)`,
        )
        .all(boundary, boundary) as Row[]
      const rows = db
        .prepare(`SELECT ${columns} FROM alarm_event WHERE at >= ? AND at < ? ORDER BY id`)
        .all(boundary, to) as Row[]
      const alarms = [...slots.values()]
        .filter((s) => !area || s.def.area === area || s.def.area.startsWith(`${area}/`))
        .map((s) => ({ id: s.def.id, area: s.def.area, priority: s.def.priority }))
      return alarmKpis({
        from,
        to,
        alarms,
        transitions: [...before, ...rows].map((r) => ({
          alarm: r.alarm,
          at: r.at,
          from: r.from_state,
          to: r.to_state,
          by: r.by,
          why: r.why,
          value: r.value,
        })),
      })
    },

    plantStates: () => [...states.values()].map((s) => s.view),

    setPlantState(id, active, by, reason) {
      const s = states.get(id)
      if (!s) return undefined
      if (s.derived)
        return {
          refused: `plant state "${id}" follows ${s.derived.characteristic}: it cannot be set by hand`,
        }
      setState(id, active, now(), by, reason)
      return s.view
    },
  }
}

/** The limit a signalling pane's point is beyond (N1, WE1, CUSUM), for the alarm's message. */
function signalLimit(d: Deviation, evaluation: Evaluation): number | null {
  if (d.kind !== 'rule') return null
  const pane = evaluation.points.find((p) => p.index === d.index)?.panes[d.pane]
  if (!pane) return null
  if (pane.ucl !== null && d.value > pane.ucl) return pane.ucl
  if (pane.lcl !== null && d.value < pane.lcl) return pane.lcl
  return null
}

function sameRecord(a: AlarmRecord, b: AlarmRecord): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function emptyCounts(): AlarmCounts {
  return Object.fromEntries(
    ALARM_PRIORITIES.map((p) => [p, { active: 0, unacknowledged: 0 }]),
  ) as AlarmCounts
}
