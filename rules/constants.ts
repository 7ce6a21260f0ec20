import { logGamma } from './stats.ts'

/**
 * Control chart constants.
 *
 * d2(n) and d3(n), the mean and the standard deviation of the relative range W = R/σ of n
 * normal observations, for n = 2…25, as Minitab tabulates them ("Unbiasing constants d2(),
 * d3(), and d4()"): d2 to three decimals, the same digits as every other table (Montgomery,
 * Introduction to Statistical Quality Control, Appendix VI; ASTM E2587), and d3 to four.
 * c4(n) = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2) is computed, for any n ≥ 2. D3(n) and D4(n), the R
 * chart's limit factors, are Appendix VI's, as printed.
 *
 * Precision, chosen so that the numbers come out as in the published worked examples:
 * - σ is R̄/d2 (MR̄/d2(2)) with the three-decimal d2, as the worked examples divide: with the
 *   exact d2(2) = 2/√π = 1.12838 the I chart of Montgomery's mortgage-loan example would read
 *   UCL 321.21, not the printed 321.22.
 * - R and MR limits are D3(n)·R̄ and D4(n)·R̄ with R̄ = d2(n)σ the centre line, and D3, D4 the
 *   printed three-decimal factors (D4(2) = 3.267): the worked examples multiply by them. The
 *   printed factors are not 1 ∓ 3·d3/d2 of any one table (that gives D4(2) = 3.269 from
 *   Appendix VI's d2 and d3, 3.2673 from Minitab's, 3.2665 from the exact values), and only
 *   3.267 reproduces both Montgomery's MR UCL 25.45 (MR̄ = 148/19: needs 3.26655 ≤ D4 < 3.26784)
 *   and NIST/SEMATECH's 6.13 (e-Handbook 6.3.2.2, MR̄ = 16.9/9: needs D4 < 3.26716).
 * - X̄ limits are μ ± 3σ/√n and S limits c4σ ± 3σ√(1 − c4²), with the exact c4.
 *
 * The factors of the textbook formulas (UCL = x̄̄ + A2·R̄ …) are in `chartFactors`; the engine
 * draws every limit from σ and uses only D3 and D4 of them.
 */

/** The subgroup sizes d2 and d3 are tabulated for (X̄-R charts; X̄-S beyond). */
export const RANGE_SIZES = { min: 2, max: 25 } as const

/** d2(n) for n = 2…25, three decimals (the table is named after the constant: this is d2). */
export const D2: Readonly<Record<number, number>> = {
  2: 1.128,
  3: 1.693,
  4: 2.059,
  5: 2.326,
  6: 2.534,
  7: 2.704,
  8: 2.847,
  9: 2.97,
  10: 3.078,
  11: 3.173,
  12: 3.258,
  13: 3.336,
  14: 3.407,
  15: 3.472,
  16: 3.532,
  17: 3.588,
  18: 3.64,
  19: 3.689,
  20: 3.735,
  21: 3.778,
  22: 3.819,
  23: 3.858,
  24: 3.895,
  25: 3.931,
}

/** d3(n) for n = 2…25, four decimals (this is d3, not the R-chart factor D3 of `chartFactors`). */
export const D3: Readonly<Record<number, number>> = {
  2: 0.8525,
  3: 0.8884,
  4: 0.8798,
  5: 0.8641,
  6: 0.848,
  7: 0.8332,
  8: 0.8198,
  9: 0.8078,
  10: 0.7971,
  11: 0.7873,
  12: 0.7785,
  13: 0.7704,
  14: 0.763,
  15: 0.7562,
  16: 0.7499,
  17: 0.7441,
  18: 0.7386,
  19: 0.7335,
  20: 0.7287,
  21: 0.7242,
  22: 0.7199,
  23: 0.7159,
  24: 0.7121,
  25: 0.7084,
}

/** Whether d2(n) and d3(n) exist: n a whole number of 2…25. */
export function hasRangeConstants(n: number): boolean {
  return Number.isInteger(n) && n >= RANGE_SIZES.min && n <= RANGE_SIZES.max
}

function tabulated(table: Readonly<Record<number, number>>, name: string, n: number): number {
  const value = hasRangeConstants(n) ? table[n] : undefined
  if (value === undefined) throw new RangeError(`${name}(${n}) is tabulated for n = 2…25 only`)
  return value
}

/** d2(n), n = 2…25 (a RangeError otherwise: check with `hasRangeConstants`). */
export function d2(n: number): number {
  return tabulated(D2, 'd2', n)
}

/** d3(n), n = 2…25 (a RangeError otherwise: check with `hasRangeConstants`). */
export function d3(n: number): number {
  return tabulated(D3, 'd3', n)
}

/** c4(n) = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2): the mean of s/σ for n normal observations, n ≥ 2. */
export function c4(n: number): number {
  if (!(n >= 2 && Number.isFinite(n))) throw new RangeError(`c4(${n}) needs n ≥ 2`)
  return Math.sqrt(2 / (n - 1)) * Math.exp(logGamma(n / 2) - logGamma((n - 1) / 2))
}

/** Appendix VI's D3(n), D4(n) as printed: the R chart's limits are D3·R̄ and D4·R̄. */
const RANGE_LIMIT_FACTORS: Readonly<Record<number, readonly [number, number]>> = {
  2: [0, 3.267],
  3: [0, 2.574],
  4: [0, 2.282],
  5: [0, 2.114],
  6: [0, 2.004],
  7: [0.076, 1.924],
  8: [0.136, 1.864],
  9: [0.184, 1.816],
  10: [0.223, 1.777],
  11: [0.256, 1.744],
  12: [0.283, 1.717],
  13: [0.307, 1.693],
  14: [0.328, 1.672],
  15: [0.347, 1.653],
  16: [0.363, 1.637],
  17: [0.378, 1.622],
  18: [0.391, 1.608],
  19: [0.403, 1.597],
  20: [0.415, 1.585],
  21: [0.425, 1.575],
  // biome-ignore lint/suspicious/noApproximativeNumericConstant: D3(22) as printed, not log10(e)
  22: [0.434, 1.566],
  23: [0.443, 1.557],
  24: [0.451, 1.548],
  25: [0.459, 1.541],
}

/** D3(n) and D4(n), n = 2…25: the R chart's LCL = D3·R̄ and UCL = D4·R̄ (printed factors). */
export function rangeLimitFactors(n: number): { D3: number; D4: number } {
  const factors = hasRangeConstants(n) ? RANGE_LIMIT_FACTORS[n] : undefined
  if (factors === undefined)
    throw new RangeError(`D3(${n}) and D4(${n}) are tabulated for n = 2…25 only`)
  return { D3: factors[0], D4: factors[1] }
}

/** D4(2) = 3.267: the upper limit of a moving range of two, as a multiple of MR̄. */
export const D4_MR = 3.267

/** The factors of the textbook formulas for subgroups of n. */
export interface ChartFactors {
  /** X̄ limits from R̄: x̄̄ ± A2·R̄. */
  A2: number
  /** X̄ limits from s̄: x̄̄ ± A3·s̄. */
  A3: number
  /** S limits from s̄: B3·s̄, B4·s̄. */
  B3: number
  B4: number
  /** R limits from R̄: D3·R̄, D4·R̄. */
  D3: number
  D4: number
}

/**
 * The textbook factors for n = 2…25. Derived: A2 = 3/(d2√n), A3 = 3/(c4√n) and
 * B3, B4 = 1 ∓ 3√(1 − c4²)/c4 (B3 ≥ 0), which are what the engine's X̄ and S limits amount to
 * for σ = R̄/d2 or s̄/c4; rounded to three decimals they are Appendix VI's, except A2(2) = 1.881
 * (printed 1.880, from the exact d2(2) = 1.12838; the engine divides by 1.128, as the worked
 * examples do). D3 and D4: as printed (see `rangeLimitFactors`).
 */
export function chartFactors(n: number): ChartFactors {
  const rootN = Math.sqrt(n)
  const c = c4(n)
  const sSpread = (3 * Math.sqrt(1 - c * c)) / c
  return {
    A2: 3 / (d2(n) * rootN),
    A3: 3 / (c * rootN),
    B3: Math.max(0, 1 - sSpread),
    B4: 1 + sSpread,
    ...rangeLimitFactors(n),
  }
}
