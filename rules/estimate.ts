import { c4, d2, hasRangeConstants, RANGE_SIZES, rangeConstants } from './constants.ts'
import type { SigmaMethod } from './spec.ts'
import { rangeOf, type Subgroup, sdOf } from './subgroups.ts'

/**
 * Phase I estimators over baseline subgroups: pure functions of the subgroups and the mask of
 * those included (out-of-control ones left out). Each σ is that of one observation, unbiased
 * for normal data:
 *
 * - `mr`     MR̄/d2(2), the moving ranges between consecutive included readings (I-MR);
 * - `rbar`   Σ fᵢ·Rᵢ/d2(nᵢ) / Σ fᵢ, fᵢ = d2(nᵢ)²/d3(nᵢ)²;
 * - `sbar`   Σ hᵢ·sᵢ/c4(nᵢ) / Σ hᵢ, hᵢ = c4(nᵢ)²/(1 − c4(nᵢ)²);
 * - `pooled` s_p/c4(d + 1), s_p = √(Σ(nᵢ−1)sᵢ² / d), d = Σ(nᵢ−1): Minitab's unbiasing of the
 *            pooled standard deviation (s_p has d degrees of freedom, so E[s_p] = c4(d + 1)·σ).
 *
 * `rbar` and `sbar` weight each subgroup's unbiased estimate by the inverse of its variance
 * (Var(Rᵢ/d2) = σ²·d3²/d2², Var(sᵢ/c4) = σ²·(1 − c4²)/c4²): Minitab's Rbar and Sbar methods
 * ("Methods and formulas for estimating sigma", Xbar-R and Xbar-S charts), and qcc's and SAS's
 * MVLUE ("minimum variance linear unbiased estimate"); qcc's default, UWAVE, and the SAS and
 * ASTM default are the plain means of Rᵢ/d2(nᵢ) and sᵢ/c4(nᵢ). With one subgroup size the
 * weights are equal and every form is the textbook R̄/d2(n) and s̄/c4(n).
 *
 * `rbar` and `sbar` take the subgroups of two or more (a range or s of one observation is not
 * defined); `rbar` also only those d2 and d3 are computed for (2…100). Subgroups of one still
 * count in the grand mean.
 */

export type SigmaEstimate = { ok: true; sigma: number } | { ok: false; reason: string }

/** x̄̄: the mean of all included observations, Σnᵢx̄ᵢ/Σnᵢ; null when nothing is included. */
export function grandMean(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): number | null {
  let sum = 0
  let count = 0
  subgroups.forEach((sg, k) => {
    if (!included[k]) return
    sum += sg.n * sg.mean
    count += sg.n
  })
  return count === 0 ? null : sum / count
}

/** σ = MR̄/d2(2): a moving range counts only between two consecutive readings that are both included. */
export function sigmaMr(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  let sum = 0
  let count = 0
  subgroups.forEach((sg, k) => {
    const before = subgroups[k - 1]
    if (k > 0 && included[k] && included[k - 1] && before) {
      sum += Math.abs(sg.mean - before.mean)
      count++
    }
  })
  if (count === 0) return { ok: false, reason: 'an I-MR baseline needs two consecutive readings' }
  const mrBar = sum / count
  if (mrBar === 0) return { ok: false, reason: 'the baseline has no variation (MR̄ = 0)' }
  return { ok: true, sigma: mrBar / d2(2) }
}

/**
 * σ as the weighted mean, over the included subgroups that have one, of an unbiased
 * per-subgroup estimate (Rᵢ/d2(nᵢ) or sᵢ/c4(nᵢ)) with the weight of its subgroup size.
 */
function weightedMeanOfUnbiased(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
  eligible: (sg: Subgroup) => boolean,
  unbiased: (sg: Subgroup) => number,
  weight: (n: number) => number,
  none: string,
  symbol: string,
): SigmaEstimate {
  let sum = 0
  let weights = 0
  subgroups.forEach((sg, k) => {
    if (!included[k] || !eligible(sg)) return
    const w = weight(sg.n)
    sum += w * unbiased(sg)
    weights += w
  })
  if (weights === 0) return { ok: false, reason: none }
  if (sum === 0) return { ok: false, reason: `the baseline has no variation (${symbol} = 0)` }
  return { ok: true, sigma: sum / weights }
}

/** fᵢ = d2(n)²/d3(n)²: the inverse of Var(R/d2) in units of σ². */
export function rangeWeight(n: number): number {
  const { d2, d3 } = rangeConstants(n)
  return (d2 * d2) / (d3 * d3)
}

/** hᵢ = c4(n)²/(1 − c4(n)²): the inverse of Var(s/c4) in units of σ². */
export function sdWeight(n: number): number {
  const c = c4(n)
  return (c * c) / (1 - c * c)
}

/** σ = Σ fᵢ·Rᵢ/d2(nᵢ) / Σ fᵢ over the included subgroups of 2…100 observations (RANGE_SIZES). */
export function sigmaRbar(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  return weightedMeanOfUnbiased(
    subgroups,
    included,
    (sg) => hasRangeConstants(sg.n),
    (sg) => rangeOf(sg) / d2(sg.n),
    rangeWeight,
    `σ from R̄ needs baseline subgroups of 2 to ${RANGE_SIZES.max} observations, and there are none (a subgroup of one has no range)`,
    'R̄',
  )
}

/** σ = Σ hᵢ·sᵢ/c4(nᵢ) / Σ hᵢ over the included subgroups of two or more. */
export function sigmaSbar(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  return weightedMeanOfUnbiased(
    subgroups,
    included,
    (sg) => sg.n >= 2,
    (sg) => sdOf(sg) / c4(sg.n),
    sdWeight,
    'σ from s̄ needs baseline subgroups of two or more observations, and there are none (a subgroup of one has no s)',
    's̄',
  )
}

/** σ = s_p/c4(d + 1), s_p = √(Σ(nᵢ−1)sᵢ²/d), d = Σ(nᵢ−1) over the included subgroups. */
export function sigmaPooled(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  let ss = 0
  let d = 0
  subgroups.forEach((sg, k) => {
    if (!included[k] || sg.n < 2) return
    ss += sg.m2 // (nᵢ − 1)·sᵢ²
    d += sg.n - 1
  })
  if (d === 0) {
    return {
      ok: false,
      reason:
        'the pooled σ needs baseline subgroups of two or more observations, and there are none',
    }
  }
  if (ss === 0) return { ok: false, reason: 'the baseline has no variation (s_p = 0)' }
  return { ok: true, sigma: Math.sqrt(ss / d) / c4(d + 1) }
}

/** σ by the named method. */
export function estimateSigma(
  method: SigmaMethod,
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  switch (method) {
    case 'mr':
      return sigmaMr(subgroups, included)
    case 'rbar':
      return sigmaRbar(subgroups, included)
    case 'sbar':
      return sigmaSbar(subgroups, included)
    case 'pooled':
      return sigmaPooled(subgroups, included)
  }
}
