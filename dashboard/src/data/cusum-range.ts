import { finite } from './series.ts'

type Column = readonly (number | null)[]

/**
 * The y-range of a CUSUM pane, and the points it leaves off scale. Pure.
 *
 * The range follows the data shown (C⁺ upward, −C⁻ downward) and always holds 0 and ±h, so the
 * decision interval is in view however quiet the process. After a lasting shift a sum that is not
 * reset climbs without bound (C⁺ at 285σ against h = 4), and a range that held it would flatten
 * the ±h band into a line. So the range stops at CUSUM_CLIP_H times h on each side: ±h always
 * keeps at least a third of the height (a half when only one side is clipped). A small margin
 * (CUSUM_MARGIN of the span) keeps the markers at the ends clear of the frame. Every point whose
 * sum lies beyond the range drawn is listed, to be marked at the edge with its value.
 *
 * Without h (no limits yet) the range is the data's and nothing is clipped.
 */

/** How far beyond ±h the range may reach, in multiples of h. */
export const CUSUM_CLIP_H = 3
/** Room added above and below, as a share of the span. */
export const CUSUM_MARGIN = 0.08

export interface OffScalePoint {
  /** Position in the series. */
  at: number
  /** The sum as plotted: C⁺ (up), or −C⁻ (down). */
  value: number
  side: 'up' | 'down'
}

export interface CusumRange {
  min: number
  max: number
  /** Whether the data reach beyond the range (some points are off scale). */
  clipped: boolean
  offScale: OffScalePoint[]
}

/**
 * The range of a CUSUM pane from its columns: `upper` C⁺, `lower` −C⁻ (zero or below), `h` the
 * decision interval (null when unknown).
 */
export function cusumRange(upper: Column, lower: Column, h: number | null): CusumRange {
  let top = 0
  let bottom = 0
  for (const v of upper) {
    const x = finite(v)
    if (x !== null) top = Math.max(top, x)
  }
  for (const v of lower) {
    const x = finite(v)
    if (x !== null) bottom = Math.min(bottom, x)
  }
  const hh = h !== null && Number.isFinite(h) && h > 0 ? h : null
  let hi = top
  let lo = bottom
  if (hh !== null) {
    const cap = CUSUM_CLIP_H * hh
    hi = Math.min(Math.max(hi, hh), cap)
    lo = Math.max(Math.min(lo, -hh), -cap)
  }
  if (hi - lo <= 0) {
    hi += 1
    lo -= 1
  }
  const margin = CUSUM_MARGIN * (hi - lo)
  const max = hi + margin
  const min = lo - margin
  const offScale: OffScalePoint[] = []
  const n = Math.max(upper.length, lower.length)
  for (let at = 0; at < n; at++) {
    const up = finite(upper[at])
    if (up !== null && up > max) offScale.push({ at, value: up, side: 'up' })
    const down = finite(lower[at])
    if (down !== null && down < min) offScale.push({ at, value: down, side: 'down' })
  }
  return { min, max, clipped: offScale.length > 0, offScale }
}

/** The decision interval h of a CUSUM pane: its latest upper limit (null when none). */
export function latestH(ucl: Column): number | null {
  for (let k = ucl.length - 1; k >= 0; k--) {
    const v = finite(ucl[k])
    if (v !== null) return v
  }
  return null
}
