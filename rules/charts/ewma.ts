import { estimateSigma, grandMean } from '../estimate.ts'
import { lowerLimit, upperLimit } from '../run-rules.ts'
import type { ChartSpec, SigmaMethod } from '../spec.ts'
import type { Subgroup } from '../subgroups.ts'
import type { PanePoint } from '../types.ts'
import { type ChartKind, type Estimate, NO_SIGNALS } from './kind.ts'

/**
 * The EWMA chart (Roberts 1959; Montgomery, Introduction to SQC, ch. 9) on individuals or on
 * subgroup means (the spec's subgrouping):
 *
 *   zᵢ = λ·x̄ᵢ + (1 − λ)·zᵢ₋₁,  z₀ = μ (the centre)
 *   σ_z,i = σ/√nᵢ · √(λ/(2 − λ) · (1 − (1 − λ)^(2i))),  limits μ ± L·σ_z,i
 *
 * The limits are the exact time-varying ones; i counts the points since z₀, the replayed
 * baseline included (the recursion runs on through it, as a stream does). With subgroups of
 * varying size each point uses its own nᵢ in σ/√nᵢ (JMP's and Minitab's convention). Only the
 * limits are judged (N1): zᵢ are autocorrelated, so zone and run rules do not apply.
 * Defaults λ = 0.2, L = 3 (Montgomery's usual choice for 0.05 ≤ λ ≤ 0.25 is L ≈ 3).
 */

export const EWMA_DEFAULTS = { lambda: 0.2, L: 3 } as const

export interface EwmaStream {
  /** zᵢ₋₁ (z₀ = μ). */
  z: number
  /** Points since z₀. */
  i: number
}

function settings(spec: ChartSpec): { lambda: number; L: number } {
  return spec.ewma ?? EWMA_DEFAULTS
}

/** The σ of zᵢ for a point of nᵢ observations, i points after z₀ (the exact, time-varying form). */
export function ewmaSigma(sigma: number, n: number, lambda: number, i: number): number {
  return (sigma / Math.sqrt(n)) * Math.sqrt((lambda / (2 - lambda)) * (1 - (1 - lambda) ** (2 * i)))
}

/**
 * Problems with the σ method and the parameters of a chart on individuals or subgroup means
 * (EWMA, CUSUM): the moving range needs individuals, R̄, s̄ and pooled need subgroups, and given
 * parameters need σ.
 */
export function locationScaleProblems(spec: ChartSpec, chart: string): string[] {
  const problems: string[] = []
  const individuals = spec.subgroup.by === 'count' && spec.subgroup.size === 1
  const grouped = spec.subgroup.by === 'count' && spec.subgroup.size > 1
  if (spec.sigmaMethod === 'mr' && grouped) {
    problems.push(
      `${chart}: σ from the moving range (sigmaMethod mr) needs individuals (subgroups of 1); use rbar, sbar or pooled`,
    )
  }
  if (spec.sigmaMethod !== undefined && spec.sigmaMethod !== 'mr' && individuals) {
    problems.push(
      `${chart}: sigmaMethod ${spec.sigmaMethod} needs subgroups of 2 or more; individuals use mr`,
    )
  }
  if (
    spec.given &&
    !(spec.given.sigma !== undefined && Number.isFinite(spec.given.sigma) && spec.given.sigma > 0)
  ) {
    problems.push(`${chart}: given parameters need σ > 0 (given.sigma) as well as the centre`)
  }
  if (spec.given && !Number.isFinite(spec.given.center))
    problems.push(`${chart}: the given centre must be a finite number`)
  return problems
}

/** The default σ method: the moving range for individuals (subgroups by count of 1), else pooled. */
function sigmaMethodOf(spec: ChartSpec): SigmaMethod {
  if (spec.sigmaMethod) return spec.sigmaMethod
  return spec.subgroup.by === 'count' && spec.subgroup.size === 1 ? 'mr' : 'pooled'
}

/**
 * Phase I estimate of μ and σ of one observation from the included baseline subgroups, for
 * the charts on individuals or subgroup means (EWMA, CUSUM): μ the mean of all included
 * observations, σ by `sigmaMethod` with the one set of estimators (rules/estimate.ts).
 */
export function estimateLocationScale(
  spec: ChartSpec,
  baseline: readonly Subgroup[],
  included: readonly boolean[],
): Estimate {
  const center = grandMean(baseline, included)
  if (center === null) return { ok: false, reason: 'the baseline has no observations' }
  const method = sigmaMethodOf(spec)
  if (method === 'mr' && baseline.some((sg, k) => included[k] && sg.n > 1)) {
    return {
      ok: false,
      reason: 'σ from the moving range (mr) needs individual readings (subgroups of 1)',
    }
  }
  const sigma = estimateSigma(method, baseline, included)
  if (!sigma.ok) return sigma
  return { ok: true, center, sigma: sigma.sigma, method }
}

export const ewma: ChartKind<EwmaStream> = {
  panes: ['ewma'],
  primary: 'ewma',
  rules: 'limits',

  record: (p) => ({ ewma: p[0] as PanePoint }),

  validate(spec) {
    const problems = locationScaleProblems(spec, 'EWMA')
    const { lambda, L } = settings(spec)
    if (!(Number.isFinite(lambda) && lambda > 0 && lambda <= 1))
      problems.push(`EWMA: λ must be in (0, 1], not ${lambda}`)
    if (!(Number.isFinite(L) && L > 0)) problems.push(`EWMA: L must be a positive number, not ${L}`)
    return problems
  },

  checkObservation() {
    return null
  },

  preview() {
    return { ewma: null } // zᵢ needs z₀ = μ
  },

  estimate: estimateLocationScale,

  initStream(_spec, limits) {
    return { z: limits.center, i: 0 }
  },

  point(spec, limits, stream, sg, _index, out) {
    const { lambda, L } = settings(spec)
    const i = stream.i + 1
    const z = lambda * sg.mean + (1 - lambda) * stream.z
    stream.z = z
    stream.i = i
    const sz = ewmaSigma(limits.sigma, sg.n, lambda, i)
    // sigma is σ_z,i, the limits' σ (L of it); only N1 judges the pane (zᵢ are autocorrelated).
    out.panes[0] = {
      statistic: z,
      center: limits.center,
      sigma: sz,
      lcl: lowerLimit(limits.center, sz, L),
      ucl: upperLimit(limits.center, sz, L),
    }
    return NO_SIGNALS
  },
}
