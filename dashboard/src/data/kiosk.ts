import type { Hierarchy, KioskView } from '../../../gateway/contract.ts'

/**
 * Kiosk mode: a wall display that shows every tile of the plant (or of one area) on the screen
 * without scrolling, without navigation, rotating between areas when asked.
 */
export interface KioskSettings {
  /** The area asked for ("Machining" or "Dortmund/Machining"), or null for the whole plant. */
  area: string | null
  /** Seconds each area is shown (null: no rotation). */
  rotateSeconds: number | null
}

/** The shortest rotation a query may ask for (a display token's is at least 5 s). */
export const MIN_ROTATE_SECONDS = 2
const MAX_ROTATE_SECONDS = 86_400

/**
 * The kiosk settings of a page: its address's query (`?kiosk=1`, `area=`, `rotate=` seconds) over
 * the display token's (the session's `kiosk`). `area` or `rotate` imply kiosk mode; `kiosk=0`
 * turns it off whatever the token says. Null: not a kiosk.
 */
export function kioskSettings(
  search: string,
  token: KioskView | null | undefined,
): KioskSettings | null {
  const q = new URLSearchParams(search)
  const flag = q.get('kiosk')
  if (flag !== null && /^(0|false|no|off)$/i.test(flag.trim())) return null
  const area = q.get('area')?.trim() || null
  const rotate = rotateOf(q.get('rotate'))
  if (flag === null && area === null && rotate === null && !token) return null
  // A query's `area=` (even empty: the whole plant) or `rotate=` (0: none) wins over the token's.
  return {
    area: q.has('area') ? area : (token?.area ?? null),
    rotateSeconds: q.has('rotate') ? rotate : (token?.rotateSeconds ?? null),
  }
}

function rotateOf(text: string | null): number | null {
  if (text === null || !/^\d{1,6}$/.test(text.trim())) return null
  const n = Number(text)
  if (n === 0) return null
  return Math.min(MAX_ROTATE_SECONDS, Math.max(MIN_ROTATE_SECONDS, n))
}

/** An area of the plant as kiosk mode shows it: a site's area, or what sits directly in a site. */
export interface KioskArea {
  /** "Site/Area" (or "Site" for what has no area). */
  key: string
  site: string
  /** The area's name, or null for what sits directly in the site. */
  area: string | null
  /** What the screen calls it. */
  name: string
}

/** The areas of the characteristics, in the order they first appear (the configuration's). */
export function kioskAreas(items: readonly { hierarchy: Hierarchy }[]): KioskArea[] {
  const out = new Map<string, KioskArea>()
  for (const { hierarchy: h } of items) {
    const area = h.area ?? null
    const key = area === null ? h.site : `${h.site}/${area}`
    if (!out.has(key)) out.set(key, { key, site: h.site, area, name: area ?? h.site })
  }
  return [...out.values()]
}

/**
 * The area a setting names: by its key ("Dortmund/Machining"), else by the area's name alone,
 * ignoring case ("machining"); null when none is called so.
 */
export function findArea(areas: readonly KioskArea[], wanted: string): KioskArea | null {
  const w = wanted.trim().replace(/\s*\/\s*/g, '/')
  const lower = w.toLowerCase()
  return (
    areas.find((a) => a.key === w) ??
    areas.find((a) => a.key.toLowerCase() === lower) ??
    areas.find((a) => a.area !== null && a.area.toLowerCase() === lower) ??
    null
  )
}

/** Whether a characteristic sits in an area. */
export function inArea(item: { hierarchy: Hierarchy }, area: KioskArea): boolean {
  return item.hierarchy.site === area.site && (item.hierarchy.area ?? null) === area.area
}

/**
 * The area shown at `now` (ms) when rotating every `seconds` through `count` areas. From the
 * clock, not from when the page opened: displays with the same setting show the same area.
 */
export function rotationIndex(now: number, seconds: number, count: number): number {
  if (count <= 0) return 0
  const slot = Math.floor(now / (seconds * 1000))
  return ((slot % count) + count) % count
}

/**
 * The largest scale in [min, max] at which `fits(scale)` holds, to within (max − min) / 2^steps,
 * by bisection; `min` when none fits. `fits` is taken to be monotonic (what fits at a scale fits
 * at every smaller one), which holds for em-sized tiles in a wrapping layout up to a wrap's step.
 */
export function largestFitting(
  fits: (scale: number) => boolean,
  min: number,
  max: number,
  steps = 12,
): { scale: number; fits: boolean } {
  if (fits(max)) return { scale: max, fits: true }
  if (!fits(min)) return { scale: min, fits: false }
  let lo = min
  let hi = max
  for (let k = 0; k < steps; k++) {
    const mid = (lo + hi) / 2
    if (fits(mid)) lo = mid
    else hi = mid
  }
  return { scale: lo, fits: true }
}
