import { c4, D2, d2, hasRangeConstants } from './constants.ts'
import type { SigmaMethod } from './spec.ts'
import { rangeOf, type Subgroup, sdOf } from './subgroups.ts'

/**
 * Phase I estimators over baseline subgroups: pure functions of the subgroups and the mask of
 * those included (out-of-control ones left out). Each σ is that of one observation, unbiased
 * for normal data:
 *
 * - `mr`     MR̄/d2(2), the moving ranges between consecutive included readings (I-MR);
 * - `rbar`   the mean of Rᵢ/d2(nᵢ) (= R̄/d2(n) for a constant n);
 * - `sbar`   the mean of sᵢ/c4(nᵢ) (= s̄/c4(n) for a constant n);
 * - `pooled` s_p/c4(d + 1), s_p = √(Σ(nᵢ−1)sᵢ² / d), d = Σ(nᵢ−1): Minitab's unbiasing of the
 *            pooled standard deviation (s_p has d degrees of freedom, so E[s_p] = c4(d + 1)·σ).
 *
 * `rbar` and `sbar` take the subgroups of two or more (a range or s of one observation is not
 * defined); `rbar` also only those d2 is tabulated for (2…25). Subgroups of one still count in
 * the grand mean. The mean over subgroups is unweighted (the ASTM manual's and SAS's default,
 * and the issue's); Minitab weights Rᵢ/d2 by d2²/d3² and sᵢ/c4 by c4²/(1 − c4²), so with
 * varying subgroup sizes its R̄ and s̄ estimates differ slightly. For one subgroup size all of
 * them are the textbook R̄/d2(n) and s̄/c4(n).
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
  return { ok: true, sigma: mrBar / (D2[2] as number) }
}

/**
 * σ as the mean, over the included subgroups that have one, of an unbiased per-subgroup
 * estimate (Rᵢ/d2(nᵢ) or sᵢ/c4(nᵢ)).
 */
function meanOfUnbiased(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
  eligible: (sg: Subgroup) => boolean,
  unbiased: (sg: Subgroup) => number,
  none: string,
  symbol: string,
): SigmaEstimate {
  let sum = 0
  let count = 0
  subgroups.forEach((sg, k) => {
    if (!included[k] || !eligible(sg)) return
    sum += unbiased(sg)
    count++
  })
  if (count === 0) return { ok: false, reason: none }
  if (sum === 0) return { ok: false, reason: `the baseline has no variation (${symbol} = 0)` }
  return { ok: true, sigma: sum / count }
}

/** σ = mean of Rᵢ/d2(nᵢ) over the included subgroups of 2…25 observations. */
export function sigmaRbar(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  return meanOfUnbiased(
    subgroups,
    included,
    (sg) => hasRangeConstants(sg.n),
    (sg) => rangeOf(sg) / d2(sg.n),
    'σ from R̄ needs baseline subgroups of 2 to 25 observations, and there are none (a subgroup of one has no range)',
    'R̄',
  )
}

/** σ = mean of sᵢ/c4(nᵢ) over the included subgroups of two or more. */
export function sigmaSbar(
  subgroups: readonly Subgroup[],
  included: readonly boolean[],
): SigmaEstimate {
  return meanOfUnbiased(
    subgroups,
    included,
    (sg) => sg.n >= 2,
    (sg) => sdOf(sg) / c4(sg.n),
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
