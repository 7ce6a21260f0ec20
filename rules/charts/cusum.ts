import type { ChartSpec } from '../spec.ts'
import type { PanePoint, Violation } from '../types.ts'
import { estimateLocationScale, locationScaleProblems } from './ewma.ts'
import { type ChartKind, NO_SIGNALS } from './kind.ts'

/**
 * The tabular (Page) CUSUM, two-sided, in σ units (Montgomery, Introduction to SQC, ch. 9), on
 * individuals or subgroup means (the spec's subgrouping):
 *
 *   yᵢ = (x̄ᵢ − μ₀) / (σ/√nᵢ)
 *   C⁺ᵢ = max(0, yᵢ − k + C⁺ᵢ₋₁),  C⁻ᵢ = max(0, −yᵢ − k + C⁻ᵢ₋₁),  C⁺₀ = C⁻₀ = headStart
 *
 * A side signals while it is strictly beyond h (exactly h is in control, as N1 treats a point
 * on a limit): `cusum-upper` for C⁺ > h, `cusum-lower` for C⁻ > h, on every point that is
 * beyond, as a run rule flags each point that still completes its pattern. A signal's
 * `indices` are the signalling point and its `since` the first point of its excursion: the
 * first since that side last stood at 0, or since it was last reset. Its run length is
 * index − since + 1 (Montgomery's counters N⁺, N⁻): it dates the shift, and the signal's
 * size does not grow with the length of the shift.
 *
 * After a signal: by default the sums keep accumulating (a lasting shift then signals on every
 * point). With `resetOnSignal` (Minitab's "Reset after each signal": the CUSUMs go back to
 * their initial values) the side that signalled restarts from the head start after the point
 * (the point still shows the sum that signalled), so a lasting shift signals again after
 * about as many points as it took the first time, each signal with its own run length.
 *
 * The pane is in σ units: its `sigma` is 1 and its limits ±h (L = h).
 *
 * Defaults k = 0.5, h = 4, no head start, no reset: Minitab's defaults; Montgomery recommends
 * k = 0.5 with h = 4 or h = 5 (in-control ARL about 168 and 465). A fast initial response
 * (Lucas and Crosier 1982) is usually headStart = h/2.
 */

export const CUSUM_DEFAULTS = { k: 0.5, h: 4, headStart: 0, resetOnSignal: false } as const

export interface CusumStream {
  upper: number
  lower: number
  /** Index of the first point of the current excursion of C⁺ (C⁻) above 0; null while it is 0. */
  upperFrom: number | null
  lowerFrom: number | null
}

function settings(spec: ChartSpec): {
  k: number
  h: number
  headStart: number
  resetOnSignal: boolean
} {
  return spec.cusum ?? CUSUM_DEFAULTS
}

/** One side's step: the new sum, and the first index of its excursion above 0 (null at 0). */
function side(
  previous: number,
  previousFrom: number | null,
  drift: number,
  index: number,
): { sum: number; from: number | null } {
  const sum = Math.max(0, drift + previous)
  if (sum === 0) return { sum, from: null }
  return { sum, from: previousFrom ?? index }
}

export const cusum: ChartKind<CusumStream> = {
  panes: ['cusum'],
  primary: 'cusum',
  rules: 'none',

  record: (p) => ({ cusum: p[0] as PanePoint }),

  validate(spec) {
    const problems = locationScaleProblems(spec, 'CUSUM')
    const { k, h, headStart } = settings(spec)
    if (!(Number.isFinite(k) && k >= 0)) problems.push(`CUSUM: k must be a number ≥ 0, not ${k}`)
    if (!(Number.isFinite(h) && h > 0))
      problems.push(`CUSUM: h must be a positive number, not ${h}`)
    if (!(Number.isFinite(headStart) && headStart >= 0 && headStart < h)) {
      problems.push(`CUSUM: the head start must be ≥ 0 and below h (${h}), not ${headStart}`)
    }
    return problems
  },

  checkObservation() {
    return null
  },

  preview() {
    return { cusum: null } // yᵢ needs μ₀ and σ
  },

  estimate: estimateLocationScale,

  initStream(spec) {
    const { headStart } = settings(spec)
    return { upper: headStart, lower: headStart, upperFrom: null, lowerFrom: null }
  },

  point(spec, limits, stream, sg, index, out) {
    const { k, h, headStart, resetOnSignal } = settings(spec)
    const y = (sg.mean - limits.center) / (limits.sigma / Math.sqrt(sg.n))
    // After a head start (or a reset to it) the excursion's first point is the next one.
    const up = side(stream.upper, stream.upperFrom, y - k, index)
    const down = side(stream.lower, stream.lowerFrom, -y - k, index)
    stream.upper = up.sum
    stream.upperFrom = up.from
    stream.lower = down.sum
    stream.lowerFrom = down.from
    let signals: Violation[] | null = null
    if (up.sum > h) {
      signals = [{ rule: 'cusum-upper', pane: 'cusum', indices: [index], since: up.from ?? index }]
      if (resetOnSignal) {
        stream.upper = headStart
        stream.upperFrom = null
      }
    }
    if (down.sum > h) {
      signals ??= []
      signals.push({
        rule: 'cusum-lower',
        pane: 'cusum',
        indices: [index],
        since: down.from ?? index,
      })
      if (resetOnSignal) {
        stream.lower = headStart
        stream.lowerFrom = null
      }
    }
    // In σ units: the pane's σ is 1, and its limits ±h are 0 ± h·1.
    out.panes[0] = {
      statistic: y,
      center: 0,
      sigma: 1,
      lcl: -h,
      ucl: h,
      upper: up.sum,
      lower: down.sum,
    }
    return signals ?? NO_SIGNALS
  },
}
