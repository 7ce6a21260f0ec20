import type { CharacteristicView, TileUpdate } from '../../../gateway/contract.ts'

export interface AppliedTiles {
  list: CharacteristicView[]
  /** Ids in the updates that the list does not hold (the configuration changed): refetch. */
  unknown: string[]
}

/**
 * Applies live tile updates: each known characteristic gets its new live state (a new object, so
 * that only changed tiles render again); the list keeps its order.
 */
export function applyTiles(
  list: readonly CharacteristicView[],
  updates: readonly TileUpdate[],
): AppliedTiles {
  const latest = new Map<string, TileUpdate>()
  for (const u of updates) latest.set(u.id, u)
  const known = new Set<string>()
  const next = list.map((c) => {
    known.add(c.id)
    const u = latest.get(c.id)
    return u ? { ...c, state: u.state } : c
  })
  return { list: next, unknown: [...latest.keys()].filter((id) => !known.has(id)) }
}
