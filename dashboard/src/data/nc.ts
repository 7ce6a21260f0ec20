import type { NcEvent, NonconformanceSummary } from '../../../gateway/contract.ts'

export type NcFilter = 'open' | 'all'

/** Open nonconformances first, then the most recently active first (last occurrence, then number). */
export function orderNcs(list: readonly NonconformanceSummary[]): NonconformanceSummary[] {
  return [...list].sort(
    (a, b) =>
      Number(b.status === 'open') - Number(a.status === 'open') ||
      b.lastAt - a.lastAt ||
      b.id - a.id,
  )
}

/**
 * Applies live `nc` events to a list: an opened or updated NC replaces the one with its id or is
 * added; with the `open` filter an NC that is no longer open leaves the list. The result is ordered.
 */
export function applyNcEvents(
  list: readonly NonconformanceSummary[],
  events: readonly NcEvent[],
  filter: NcFilter,
): NonconformanceSummary[] {
  const byId = new Map(list.map((nc) => [nc.id, nc]))
  for (const { nc } of events) {
    const held = byId.get(nc.id)
    // Events may arrive after a refetch that already holds a newer state: keep the newer one.
    if (held && held.lastAt > nc.lastAt) continue
    if (filter === 'open' && nc.status !== 'open') byId.delete(nc.id)
    else byId.set(nc.id, nc)
  }
  return orderNcs([...byId.values()])
}

/** Open NCs per characteristic, for tile badges when only NC events are at hand. */
export function openNcCounts(list: readonly NonconformanceSummary[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const nc of list) {
    if (nc.status === 'open')
      counts.set(nc.characteristic, (counts.get(nc.characteristic) ?? 0) + 1)
  }
  return counts
}
