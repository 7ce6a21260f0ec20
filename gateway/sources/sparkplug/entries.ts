import {
  engineeringUnit,
  isNumericDatatype,
  type SparkplugMetricDef,
  type SparkplugNodeState,
  type SparkplugScope,
  sparkplugDatatypeName,
} from '../../../rules/index.ts'
import type {
  SparkplugCharacteristicEntry,
  SparkplugMetricView,
  SparkplugNodeView,
} from './view.ts'

/**
 * What births announced, as views (GET /api/sparkplug/nodes) and as characteristic entries to
 * paste into a configuration (the same entries `linewatch sparkplug discover` prints).
 */

export interface KnownNode {
  group: string
  node: string
  state: SparkplugNodeState<unknown>
}

/** The characteristic that reads a metric (device null: the node's own), or null. */
export type MetricBinding = (
  group: string,
  node: string,
  device: string | null,
  metric: string,
) => string | null

/** Sparkplug's own metrics, which are no measurement. */
export function isControlMetric(name: string): boolean {
  return (
    name === 'bdSeq' ||
    name.startsWith('Node Control/') ||
    name.startsWith('Device Control/') ||
    name.startsWith('Properties/')
  )
}

/** Characteristic ids for entries: from the names, URL-safe, unique among those given. */
export class EntryIds {
  private readonly taken: Set<string>

  constructor(taken: Iterable<string> = []) {
    this.taken = new Set(taken)
  }

  next(parts: readonly string[]): string {
    const base =
      parts
        .join('-')
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/-{2,}/g, '-')
        .replace(/^[^a-z0-9]+|-+$/g, '')
        .slice(0, 120) || 'metric'
    let id = base
    for (let n = 2; this.taken.has(id); n++) id = `${base}-${n}`
    this.taken.add(id)
    return id
  }
}

/** An entry for a numeric metric (null for anything a chart cannot take). */
export function characteristicEntry(
  group: string,
  node: string,
  device: string | null,
  def: SparkplugMetricDef,
  ids: EntryIds,
): SparkplugCharacteristicEntry | null {
  if (!isNumericDatatype(def.datatype) || isControlMetric(def.name)) return null
  const unit = engineeringUnit(def.properties)
  return {
    id: ids.next([group, node, ...(device === null ? [] : [device]), def.name]),
    name: def.name.slice(0, 200),
    path: [group, node, ...(device === null ? [] : [device])].join('/'),
    ...(unit === null ? {} : { unit }),
    source: {
      sparkplug: { group, node, ...(device === null ? {} : { device }), metric: def.name },
    },
  }
}

/** ISO 8601, or null when there is no time or a Date cannot hold it. */
function iso(ms: number | null): string | null {
  return ms !== null && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null
}

function metricViews(
  scope: SparkplugScope,
  at: { group: string; node: string; device: string | null },
  bound: MetricBinding,
  ids: EntryIds,
): SparkplugMetricView[] {
  return [...scope.metrics.values()].map((def) => {
    const characteristic = bound(at.group, at.node, at.device, def.name)
    return {
      name: def.name,
      alias: def.alias,
      datatype: sparkplugDatatypeName(def.datatype),
      unit: engineeringUnit(def.properties),
      staleSince: iso(def.staleSince),
      characteristic,
      entry:
        characteristic === null
          ? characteristicEntry(at.group, at.node, at.device, def, ids)
          : null,
    }
  })
}

/** The nodes as their births announced them; entries get ids none of `takenIds` has. */
export function sparkplugNodeViews(
  nodes: Iterable<KnownNode>,
  bound: MetricBinding,
  takenIds: Iterable<string>,
): SparkplugNodeView[] {
  const ids = new EntryIds(takenIds)
  const views: SparkplugNodeView[] = []
  for (const { group, node, state } of nodes) {
    if (state.birthAt === null) continue
    views.push({
      group,
      node,
      online: state.online,
      bdSeq: state.bdSeq,
      birthAt: iso(state.birthAt),
      deathAt: iso(state.deathAt),
      rebirths: state.counters.rebirths,
      metrics: metricViews(state, { group, node, device: null }, bound, ids),
      devices: [...state.devices].map(([device, scope]) => ({
        device,
        online: scope.online,
        birthAt: iso(scope.birthAt),
        deathAt: iso(scope.deathAt),
        metrics: metricViews(scope, { group, node, device }, bound, ids),
      })),
    })
  }
  return views.sort((a, b) => a.group.localeCompare(b.group) || a.node.localeCompare(b.node))
}

/** Every entry of the views, in order. */
export function entriesOf(views: readonly SparkplugNodeView[]): SparkplugCharacteristicEntry[] {
  const out: SparkplugCharacteristicEntry[] = []
  for (const n of views) {
    for (const m of n.metrics) if (m.entry) out.push(m.entry)
    for (const d of n.devices) for (const m of d.metrics) if (m.entry) out.push(m.entry)
  }
  return out
}
