import type { Hierarchy, Status } from '../../../gateway/contract.ts'
import { worstStatus } from './status.ts'

export type Level = 'site' | 'area' | 'line' | 'cell'
const LEVELS: readonly Level[] = ['site', 'area', 'line', 'cell']

/** Anything located in the ISA-95 hierarchy with a live status (a CharacteristicView). */
export interface Located {
  hierarchy: Hierarchy
  state: { status: Status }
}

/** One site, area, line or cell, with what sits directly in it and what sits below. */
export interface HierarchyGroup<T extends Located> {
  level: Level
  name: string
  /** Unique key: the names from the site down, joined by "/". */
  key: string
  /** Characteristics located at exactly this level (e.g. a line-level measurement with no cell). */
  items: T[]
  children: HierarchyGroup<T>[]
  /** Most severe status in this group and below. */
  status: Status
  /** Characteristics in this group and below. */
  count: number
}

/**
 * Groups characteristics site → area → line → cell. Groups and items keep the order in which they
 * first appear (the configuration's order, which plant engineers choose), not alphabetical order.
 */
export function groupByHierarchy<T extends Located>(items: readonly T[]): HierarchyGroup<T>[] {
  const roots: HierarchyGroup<T>[] = []
  const byKey = new Map<string, HierarchyGroup<T>>()
  for (const item of items) {
    let siblings = roots
    let group: HierarchyGroup<T> | null = null
    const names: string[] = []
    for (const level of LEVELS) {
      const name = item.hierarchy[level]
      if (name === null || name === undefined) break
      names.push(name)
      const key = names.join('/')
      let next = byKey.get(key)
      if (!next) {
        next = { level, name, key, items: [], children: [], status: 'no-data', count: 0 }
        byKey.set(key, next)
        siblings.push(next)
      }
      group = next
      siblings = next.children
    }
    // The site is always set; a missing one is grouped under an unnamed site rather than lost.
    if (!group) {
      group = byKey.get('') ?? {
        level: 'site',
        name: '',
        key: '',
        items: [],
        children: [],
        status: 'no-data',
        count: 0,
      }
      if (!byKey.has('')) {
        byKey.set('', group)
        roots.push(group)
      }
    }
    group.items.push(item)
  }
  for (const root of roots) summarise(root)
  return roots
}

function summarise<T extends Located>(group: HierarchyGroup<T>): void {
  const statuses: Status[] = group.items.map((i) => i.state.status)
  let count = group.items.length
  for (const child of group.children) {
    summarise(child)
    statuses.push(child.status)
    count += child.count
  }
  group.status = worstStatus(statuses)
  group.count = count
}

/** "Site › Area › Line › Cell" for the levels that are set. */
export function hierarchyLabel(h: Hierarchy): string {
  return LEVELS.map((l) => h[l])
    .filter((n): n is string => n !== null && n !== '')
    .join(' › ')
}

/** Tiles of one cell (or of the panel's own level when `name` is null), shown together. */
export interface Cluster<T extends Located> {
  key: string
  name: string | null
  items: T[]
}

/** A framed group on the wall display: a line with its cells (or the characteristics of an area or site outside any line). */
export interface Panel<T extends Located> {
  key: string
  level: Level
  /** Names below the site down to this group, e.g. ["Filling", "Line 1"]. */
  trail: string[]
  clusters: Cluster<T>[]
  status: Status
  count: number
}

export interface SitePanels<T extends Located> {
  key: string
  name: string
  status: Status
  panels: Panel<T>[]
}

/**
 * Flattens the hierarchy into panels per site for a dense wall display: one panel per line
 * (its cells as clusters), and one for what sits directly in an area or site. Order is kept.
 */
export function panelsBySite<T extends Located>(
  roots: readonly HierarchyGroup<T>[],
): SitePanels<T>[] {
  return roots.map((site) => {
    const panels: Panel<T>[] = []
    const visit = (g: HierarchyGroup<T>, trail: string[]) => {
      const cells = g.children.filter((c) => c.level === 'cell')
      const others = g.children.filter((c) => c.level !== 'cell')
      if (g.items.length > 0 || cells.length > 0) {
        const clusters: Cluster<T>[] = []
        if (g.items.length > 0) clusters.push({ key: g.key, name: null, items: g.items })
        for (const c of cells) clusters.push({ key: c.key, name: c.name, items: allItems(c) })
        const statuses = clusters.flatMap((c) => c.items.map((i) => i.state.status))
        panels.push({
          key: g.key,
          level: g.level,
          trail,
          clusters,
          status: worstStatus(statuses),
          count: statuses.length,
        })
      }
      for (const child of others) visit(child, [...trail, child.name])
    }
    visit(site, [])
    return { key: site.key, name: site.name, status: site.status, panels }
  })
}

function allItems<T extends Located>(g: HierarchyGroup<T>): T[] {
  return [...g.items, ...g.children.flatMap(allItems)]
}
