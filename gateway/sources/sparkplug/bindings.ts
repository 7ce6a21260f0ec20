import {
  engineeringUnit,
  metricQuality,
  type SparkplugEvent,
  type SparkplugScope,
  sparkplugDatatypeName,
  sparkplugNumber,
} from '../../../rules/index.ts'
import type { CharacteristicConfig, Config } from '../../config/index.ts'
import type { Logger } from '../../log.ts'
import { checkTimestamp } from '../payload.ts'
import type { ReadingSink, RejectReason } from '../types.ts'
import type { MetricBinding } from './entries.ts'

/**
 * From a node's Sparkplug events to what the gateway takes: readings of the characteristics
 * that map a metric, refusals with their reasons, communication lost at a death (and back at a
 * birth), and engineering units for characteristics whose configuration leaves the unit open.
 */

/** The raw message a refusal keeps (dead letters hold the payload). */
export interface RawMessage {
  topic: string
  payload: Uint8Array
}

const QUALITY_GOOD = 192
const QUALITY_BAD = 0
const QUALITY_NAMES: Record<number, string> = { 0: 'BAD', 500: 'STALE' }

const scopeKey = (group: string, node: string, device: string | null) =>
  JSON.stringify([group, node, device])

export interface SparkplugBindings {
  bound: MetricBinding
  /** Every characteristic a Sparkplug metric feeds. */
  readonly ids: readonly string[]
  /** The characteristics of a node's own metrics (device null) or of one device's. */
  ofScope(group: string, node: string, device: string | null): readonly string[]
  /** The characteristics of a node and all its devices. */
  ofNode(group: string, node: string): readonly string[]
}

export function sparkplugBindings(config: Config): SparkplugBindings {
  const byMetric = new Map<string, string>()
  const byScope = new Map<string, string[]>()
  const byNode = new Map<string, string[]>()
  for (const c of config.characteristics) {
    const s = c.source.sparkplug
    if (!s) continue
    const device = s.device ?? null
    byMetric.set(JSON.stringify([s.group, s.node, device, s.metric]), c.id)
    const scope = scopeKey(s.group, s.node, device)
    byScope.set(scope, [...(byScope.get(scope) ?? []), c.id])
    const node = scopeKey(s.group, s.node, null)
    byNode.set(node, [...(byNode.get(node) ?? []), c.id])
  }
  return {
    bound: (group, node, device, metric) =>
      byMetric.get(JSON.stringify([group, node, device, metric])) ?? null,
    ids: [...byMetric.values()],
    ofScope: (group, node, device) => byScope.get(scopeKey(group, node, device)) ?? [],
    ofNode: (group, node) => byNode.get(scopeKey(group, node, null)) ?? [],
  }
}

export class SparkplugDelivery {
  private readonly bindings: SparkplugBindings
  private readonly sink: ReadingSink
  private readonly log: Logger
  private readonly characteristics: Map<string, CharacteristicConfig>
  /** Characteristics whose loss of communication was reported and not yet its return. */
  private readonly lost = new Set<string>()
  /** The latest time stamp taken per characteristic: a rebirth repeats values already taken. */
  private readonly latest = new Map<string, number>()
  /** Units this host set (a later birth may change them; a configured unit it never touches). */
  private readonly unitsSet = new Set<string>()
  /** The latest time stamp the gateway took before this host (a cluster's restored charts). */
  private readonly takenBefore: ((characteristic: string) => number | undefined) | undefined

  constructor(
    config: Config,
    bindings: SparkplugBindings,
    sink: ReadingSink,
    log: Logger,
    takenBefore?: (characteristic: string) => number | undefined,
  ) {
    this.takenBefore = takenBefore
    this.bindings = bindings
    this.sink = sink
    this.log = log
    this.characteristics = new Map(config.characteristics.map((c) => [c.id, c]))
  }

  /** A node's events, in the order the session gave them. */
  take(
    group: string,
    node: string,
    event: SparkplugEvent<RawMessage>,
    scope: SparkplugScope | undefined,
  ): void {
    const where = `${group}/${node}`
    switch (event.type) {
      case 'birth':
        if (scope) this.learnUnits(group, node, event.device, scope)
        this.communication(
          this.bindings.ofScope(group, node, event.device),
          false,
          `Sparkplug ${event.device === null ? 'NBIRTH' : `DBIRTH of device "${event.device}"`} of ${where}`,
          event.at,
        )
        break
      case 'death':
        this.communication(
          event.device === null
            ? this.bindings.ofNode(group, node)
            : this.bindings.ofScope(group, node, event.device),
          true,
          `Sparkplug ${event.why} of ${where}`,
          event.at,
        )
        break
      case 'values':
        this.values(group, node, event)
        break
      case 'refused':
        this.sink.reject({
          source: 'sparkplug',
          reason: event.reason,
          detail: `${where}${event.device === null ? '' : `/${event.device}`}: ${event.detail}`,
          address: event.ref?.topic,
          payload: event.ref?.payload,
          ts: event.at,
        })
        break
      default:
        break
    }
  }

  /** The host lost its broker: every characteristic it feeds has lost communication. */
  connectionLost(why: string, at: number): void {
    this.communication(this.bindings.ids, true, why, at)
  }

  private communication(ids: readonly string[], lost: boolean, why: string, at: number): void {
    const changed = ids.filter((id) => this.lost.has(id) !== lost)
    if (changed.length === 0) return
    for (const id of changed) {
      if (lost) this.lost.add(id)
      else this.lost.delete(id)
    }
    this.sink.communication({ characteristics: changed, lost, why, at })
  }

  /** Engineering units become the unit of a characteristic whose configuration leaves it empty. */
  private learnUnits(
    group: string,
    node: string,
    device: string | null,
    scope: SparkplugScope,
  ): void {
    for (const def of scope.metrics.values()) {
      const id = this.bindings.bound(group, node, device, def.name)
      const c = id === null ? undefined : this.characteristics.get(id)
      const unit = engineeringUnit(def.properties)
      if (!c || unit === null || c.unit === unit) continue
      if (c.unit !== '' && !this.unitsSet.has(c.id)) continue
      // The runtime and the API read this same object.
      c.unit = unit
      this.unitsSet.add(c.id)
      this.log.info({ characteristic: c.id, unit }, 'unit taken from the Sparkplug birth')
    }
  }

  private values(
    group: string,
    node: string,
    event: Extract<SparkplugEvent<RawMessage>, { type: 'values' }>,
  ): void {
    const at = event.at
    for (const { metric, def } of event.metrics) {
      const id = this.bindings.bound(group, node, event.device, def.name)
      if (id === null) continue
      const refuse = (reason: RejectReason, detail: string) =>
        this.sink.reject({
          source: 'sparkplug',
          reason,
          detail: `${group}/${node}${event.device === null ? '' : `/${event.device}`} metric "${def.name}": ${detail}`,
          address: event.ref?.topic,
          payload: event.ref?.payload,
          ts: at,
        })
      const quality = metricQuality(metric.properties)
      if (quality !== null && quality !== QUALITY_GOOD) {
        refuse('bad-quality', `Quality ${quality} (${QUALITY_NAMES[quality] ?? 'not GOOD'})`)
        // BAD: the edge node has lost what measures it.
        if (quality === QUALITY_BAD)
          this.communication(
            [id],
            true,
            `Sparkplug metric "${def.name}" of ${group}/${node} has Quality BAD`,
            at,
          )
        continue
      }
      if (metric.isNull) {
        refuse('not-a-number', 'the value is null (is_null)')
        continue
      }
      const datatype = metric.datatype ?? def.datatype
      const value = sparkplugNumber(metric.value, datatype)
      if (value === null) {
        refuse('not-a-number', `a ${sparkplugDatatypeName(datatype)} is not a number`)
        continue
      }
      if (!Number.isFinite(value)) {
        refuse('non-finite', `${value} is not a finite number`)
        continue
      }
      const ts = metric.timestamp ?? event.payloadTimestamp ?? at
      const badTime = checkTimestamp(ts, at)
      if (badTime !== null) {
        refuse('bad-timestamp', `timestamp ${badTime}`)
        continue
      }
      const latest = this.latest.get(id) ?? this.takenBefore?.(id)
      // A birth repeats the current values: one already taken is not a new measurement.
      if (event.birth && latest !== undefined && ts <= latest) continue
      if (latest === undefined || ts > latest) this.latest.set(id, ts)
      this.lost.delete(id)
      this.sink.reading({ characteristic: id, ts, value, receivedAt: at })
    }
  }
}
