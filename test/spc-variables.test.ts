import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ChartEvent,
  type ChartState,
  type ChartStep,
  checkObservation,
  closeChart,
  initChart,
  stepChart,
  validateChart,
} from '../rules/charts/index.ts'
import { xbarR, xbarS } from '../rules/charts/xbar.ts'
import {
  c4,
  chartFactors,
  D2,
  D3,
  D4_MR,
  d2,
  d3,
  hasRangeConstants,
  rangeLimitFactors,
} from '../rules/constants.ts'
import { estimateSigma, grandMean, sigmaPooled, sigmaRbar, sigmaSbar } from '../rules/estimate.ts'
import type { ChartSpec } from '../rules/spec.ts'
import { normalCdf } from '../rules/stats.ts'
import type { Subgroup } from '../rules/subgroups.ts'
import type { ChartPoint, Observation, ProcessLimits } from '../rules/types.ts'

/*
 * Sources
 * - Montgomery, Introduction to Statistical Quality Control (6th ed.), Appendix VI: the factors
 *   for constructing variables control charts (transcribed below as APPENDIX_VI).
 * - Minitab, "Unbiasing constants d2(), d3(), and d4()": d3 to four decimals (MINITAB_D3).
 * - Montgomery, Table 6.3 (inside diameters of piston rings, 25 samples of 5, with the x̄ᵢ and
 *   sᵢ columns) and Example 6.3 (x̄ and s charts on it: x̄̄ = 74.001, s̄ = 0.0094); Table 6.4
 *   (the same data with 3 to 5 observations a sample). Sample 21 is the book's (73.982, 74.001,
 *   74.015, 74.005, 73.996; x̄ = 74.000, s = 0.0122): the `pistonrings` data set of the R
 *   package qcc has 73.988 and 74.009 in it.
 * - Montgomery, the cost of processing mortgage loans (individuals: x̄ = 300.5, MR̄ = 7.79,
 *   UCL 321.22, LCL 279.78, MR UCL 25.45), and the NIST/SEMATECH e-Handbook 6.3.2.2
 *   (individuals: x̄ = 50.81, MR̄ = 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13), as cited in
 *   test/characteristic.test.ts: they fix the precision of d2 and D4 (see rules/constants.ts).
 * Where no printed figure exists the expected values are computed in the test by the plain
 * batch formula, and the test says so.
 */

// ---------------------------------------------------------------------------------------------
// Published tables

/** Montgomery Appendix VI, n = 2…25: d2, d3, A2, A3, c4, B3, B4, D3, D4 as printed. */
const APPENDIX_VI: Record<number, readonly number[]> = {
  2: [1.128, 0.853, 1.88, 2.659, 0.7979, 0, 3.267, 0, 3.267],
  3: [1.693, 0.888, 1.023, 1.954, 0.8862, 0, 2.568, 0, 2.574],
  4: [2.059, 0.88, 0.729, 1.628, 0.9213, 0, 2.266, 0, 2.282],
  5: [2.326, 0.864, 0.577, 1.427, 0.94, 0, 2.089, 0, 2.114],
  6: [2.534, 0.848, 0.483, 1.287, 0.9515, 0.03, 1.97, 0, 2.004],
  7: [2.704, 0.833, 0.419, 1.182, 0.9594, 0.118, 1.882, 0.076, 1.924],
  8: [2.847, 0.82, 0.373, 1.099, 0.965, 0.185, 1.815, 0.136, 1.864],
  9: [2.97, 0.808, 0.337, 1.032, 0.9693, 0.239, 1.761, 0.184, 1.816],
  10: [3.078, 0.797, 0.308, 0.975, 0.9727, 0.284, 1.716, 0.223, 1.777],
  11: [3.173, 0.787, 0.285, 0.927, 0.9754, 0.321, 1.679, 0.256, 1.744],
  12: [3.258, 0.778, 0.266, 0.886, 0.9776, 0.354, 1.646, 0.283, 1.717],
  13: [3.336, 0.77, 0.249, 0.85, 0.9794, 0.382, 1.618, 0.307, 1.693],
  14: [3.407, 0.763, 0.235, 0.817, 0.981, 0.406, 1.594, 0.328, 1.672],
  15: [3.472, 0.756, 0.223, 0.789, 0.9823, 0.428, 1.572, 0.347, 1.653],
  16: [3.532, 0.75, 0.212, 0.763, 0.9835, 0.448, 1.552, 0.363, 1.637],
  17: [3.588, 0.744, 0.203, 0.739, 0.9845, 0.466, 1.534, 0.378, 1.622],
  18: [3.64, 0.739, 0.194, 0.718, 0.9854, 0.482, 1.518, 0.391, 1.608],
  19: [3.689, 0.734, 0.187, 0.698, 0.9862, 0.497, 1.503, 0.403, 1.597],
  20: [3.735, 0.729, 0.18, 0.68, 0.9869, 0.51, 1.49, 0.415, 1.585],
  21: [3.778, 0.724, 0.173, 0.663, 0.9876, 0.523, 1.477, 0.425, 1.575],
  // biome-ignore lint/suspicious/noApproximativeNumericConstant: D3(22) as printed, not log10(e)
  22: [3.819, 0.72, 0.167, 0.647, 0.9882, 0.534, 1.466, 0.434, 1.566],
  23: [3.858, 0.716, 0.162, 0.633, 0.9887, 0.545, 1.455, 0.443, 1.557],
  24: [3.895, 0.712, 0.157, 0.619, 0.9892, 0.555, 1.445, 0.451, 1.548],
  25: [3.931, 0.708, 0.153, 0.606, 0.9896, 0.565, 1.435, 0.459, 1.541],
}
const COLUMN = { d2: 0, d3: 1, A2: 2, A3: 3, c4: 4, B3: 5, B4: 6, D3: 7, D4: 8 } as const
const printed = (n: number, column: keyof typeof COLUMN): number =>
  APPENDIX_VI[n]?.[COLUMN[column]] as number

/** Minitab's d3, n = 2…25. */
const MINITAB_D3 = [
  0.8525, 0.8884, 0.8798, 0.8641, 0.848, 0.8332, 0.8198, 0.8078, 0.7971, 0.7873, 0.7785, 0.7704,
  0.763, 0.7562, 0.7499, 0.7441, 0.7386, 0.7335, 0.7287, 0.7242, 0.7199, 0.7159, 0.7121, 0.7084,
]

const SIZES = Array.from({ length: 24 }, (_, i) => i + 2)

/** Rounds to k decimals the way a printed table does (half away from zero, on the decimal value). */
function round(x: number, k: number): number {
  return Number(`${Math.round(Number(`${x}e${k}`))}e-${k}`)
}

// ---------------------------------------------------------------------------------------------
// Independent computations

function simpson(h: number, f: readonly number[]): number {
  const last = f.length - 1
  let sum = 0
  f.forEach((v, i) => {
    sum += (i === 0 || i === last ? 1 : i % 2 ? 4 : 2) * v
  })
  return (sum * h) / 3
}

/**
 * The exact d2(n) = E[W] and d3(n) = SD[W] of the relative range by numerical integration:
 * E[W] = ∫ 1 − Φⁿ − (1 − Φ)ⁿ dx, E[W²] = ∫₀^∞ 2w·P(W > w) dw with
 * P(W ≤ w) = n ∫ φ(x)·(Φ(x + w) − Φ(x))ⁿ⁻¹ dx (Simpson, step 0.02; error well below 1e-6).
 */
function rangeMoments(n: number): { d2: number; d3: number } {
  const h = 0.02
  const half = 425 // x in [−8.5, 8.5]
  const xs = Array.from({ length: 2 * half + 1 }, (_, i) => (i - half) * h)
  const Phi = xs.map(normalCdf)
  const phi = xs.map((x) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI))
  const mean = simpson(
    h,
    Phi.map((F) => 1 - F ** n - (1 - F) ** n),
  )
  const tail: number[] = []
  for (let j = 0; j <= 600; j++) {
    const inner = xs.map(
      (_, i) => (phi[i] as number) * ((Phi[i + j] ?? 1) - (Phi[i] as number)) ** (n - 1),
    )
    tail.push(2 * j * h * (1 - n * simpson(h, inner)))
  }
  return { d2: mean, d3: Math.sqrt(simpson(h, tail) - mean * mean) }
}

/** c4(n) without logGamma: Γ(n/2)/Γ((n−1)/2) by its recursion r(n+1) = (n−1)/(2·r(n)), r(2) = 1/√π. */
function c4ByRecursion(n: number): number {
  let r = 1 / Math.sqrt(Math.PI)
  for (let m = 2; m < n; m++) r = (m - 1) / (2 * r)
  return Math.sqrt(2 / (n - 1)) * r
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)
const mean = (xs: readonly number[]): number => sum(xs) / xs.length
const range = (xs: readonly number[]): number => Math.max(...xs) - Math.min(...xs)
function sd(xs: readonly number[]): number {
  const m = mean(xs)
  return Math.sqrt(sum(xs.map((x) => (x - m) ** 2)) / (xs.length - 1))
}
const tableD2 = (n: number): number => printed(n, 'd2')

/** The batch σ of one observation by each method, from raw subgroups (plain formulas). */
function batchSigma(
  method: 'rbar' | 'sbar' | 'pooled',
  groups: readonly (readonly number[])[],
): number {
  switch (method) {
    case 'rbar':
      return mean(
        groups
          .filter((g) => g.length >= 2 && g.length <= 25)
          .map((g) => range(g) / tableD2(g.length)),
      )
    case 'sbar':
      return mean(groups.filter((g) => g.length >= 2).map((g) => sd(g) / c4ByRecursion(g.length)))
    case 'pooled': {
      const withDf = groups.filter((g) => g.length >= 2)
      const df = sum(withDf.map((g) => g.length - 1))
      const sp = Math.sqrt(sum(withDf.map((g) => (g.length - 1) * sd(g) ** 2)) / df)
      return sp / c4ByRecursion(df + 1)
    }
  }
}

/** The batch point of a subgroup: X̄ limits μ ± 3σ/√n; R (D3·R̄, D4·R̄ with R̄ = d2σ) or S (c4σ ± 3σ√(1−c4²)). */
function batchPoint(
  pane: 'r' | 's',
  limits: { center: number; sigma: number },
  g: readonly number[],
) {
  const { center, sigma } = limits
  const n = g.length
  const xbar = {
    statistic: mean(g),
    center,
    lcl: center - (3 * sigma) / Math.sqrt(n),
    ucl: center + (3 * sigma) / Math.sqrt(n),
  }
  if (n < 2) return { xbar, dispersion: { statistic: null, center: null, lcl: null, ucl: null } }
  if (pane === 'r') {
    if (n > 25)
      return { xbar, dispersion: { statistic: range(g), center: null, lcl: null, ucl: null } }
    const c = tableD2(n) * sigma // R̄ for this n
    return {
      xbar,
      dispersion: {
        statistic: range(g),
        center: c,
        lcl: printed(n, 'D3') * c,
        ucl: printed(n, 'D4') * c,
      },
    }
  }
  const c = c4ByRecursion(n)
  const w = 3 * sigma * Math.sqrt(1 - c * c)
  return {
    xbar,
    dispersion: {
      statistic: sd(g),
      center: c * sigma,
      lcl: Math.max(0, c * sigma - w),
      ucl: c * sigma + w,
    },
  }
}

/** |actual − expected| ≤ rel·max(1, |expected|), or both null. */
function expectClose(actual: number | null | undefined, expected: number | null, rel = 1e-9): void {
  if (expected === null) {
    expect(actual).toBeNull()
    return
  }
  expect(actual).not.toBeNull()
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(
    rel * Math.max(1, Math.abs(expected)),
  )
}

// ---------------------------------------------------------------------------------------------
// Running a chart

/** Observations of subgroups, each with its own key, one second apart. */
function keyed(groups: readonly (readonly number[])[]): Observation[] {
  const out: Observation[] = []
  groups.forEach((g, i) => {
    for (const value of g) out.push({ ts: out.length * 1000, value, key: `s${i + 1}` })
  })
  return out
}

interface Run {
  state: ChartState
  events: ChartEvent[]
  /** Every point as finally judged: the baseline's from the limits-established event. */
  points: ChartPoint[]
  limits: ProcessLimits
}

function run(spec: ChartSpec, observations: readonly Observation[]): Run {
  let state = initChart(spec)
  const raw: ChartPoint[] = []
  const events: ChartEvent[] = []
  const judged = new Map<number, ChartPoint>()
  const take = (step: ChartStep) => {
    state = step.state
    raw.push(...step.points)
    events.push(...step.events)
    for (const e of step.events)
      if (e.type === 'limits-established') for (const p of e.baseline) judged.set(p.index, p)
  }
  for (const o of observations) take(stepChart(spec, state, o))
  take(closeChart(spec, state, Number.POSITIVE_INFINITY, true))
  return {
    state,
    events,
    points: raw.map((p) => judged.get(p.index) ?? p),
    limits: state.limits as ProcessLimits,
  }
}

/** The last point of an I-MR chart whose baseline is all the values. */
function runImr(values: readonly number[]): ChartPoint {
  const imrSpec: ChartSpec = {
    type: 'imr',
    subgroup: { by: 'count', size: 1 },
    baseline: { subgroups: values.length },
    excludeOutOfControl: false,
    rules: ['N1'],
  }
  const { points } = run(
    imrSpec,
    values.map((value, i) => ({ ts: i, value })),
  )
  return points[points.length - 1] as ChartPoint
}

function spec(type: 'xbar-r' | 'xbar-s', extra: Partial<ChartSpec> = {}): ChartSpec {
  return {
    type,
    subgroup: { by: 'key' },
    baseline: { subgroups: 25 },
    excludeOutOfControl: false,
    rules: ['N1', 'N2'],
    ...extra,
  }
}

function subgroupOf(values: readonly number[]): Subgroup {
  const m = mean(values)
  return {
    firstTs: 0,
    ts: 0,
    n: values.length,
    mean: m,
    m2: sum(values.map((x) => (x - m) ** 2)),
    min: Math.min(...values),
    max: Math.max(...values),
  }
}

// ---------------------------------------------------------------------------------------------
// Data

/** Montgomery Table 6.3: inside diameters (mm) of piston rings, 25 samples of 5. */
const TABLE_6_3: readonly (readonly number[])[] = [
  [74.03, 74.002, 74.019, 73.992, 74.008],
  [73.995, 73.992, 74.001, 74.011, 74.004],
  [73.988, 74.024, 74.021, 74.005, 74.002],
  [74.002, 73.996, 73.993, 74.015, 74.009],
  [73.992, 74.007, 74.015, 73.989, 74.014],
  [74.009, 73.994, 73.997, 73.985, 73.993],
  [73.995, 74.006, 73.994, 74.0, 74.005],
  [73.985, 74.003, 73.993, 74.015, 73.988],
  [74.008, 73.995, 74.009, 74.005, 74.004],
  [73.998, 74.0, 73.99, 74.007, 73.995],
  [73.994, 73.998, 73.994, 73.995, 73.99],
  [74.004, 74.0, 74.007, 74.0, 73.996],
  [73.983, 74.002, 73.998, 73.997, 74.012],
  [74.006, 73.967, 73.994, 74.0, 73.984],
  [74.012, 74.014, 73.998, 73.999, 74.007],
  [74.0, 73.984, 74.005, 73.998, 73.996],
  [73.994, 74.012, 73.986, 74.005, 74.007],
  [74.006, 74.01, 74.018, 74.003, 74.0],
  [73.984, 74.002, 74.003, 74.005, 73.997],
  [74.0, 74.01, 74.013, 74.02, 74.003],
  [73.982, 74.001, 74.015, 74.005, 73.996],
  [74.004, 73.999, 73.99, 74.006, 74.009],
  [74.01, 73.989, 73.99, 74.009, 74.014],
  [74.015, 74.008, 73.993, 74.0, 74.01],
  [73.982, 73.984, 73.995, 74.017, 74.013],
]

/** The x̄ᵢ and sᵢ columns of Table 6.3 as printed, samples 1–16 (as reproduced). */
const TABLE_6_3_COLUMNS: readonly (readonly [number, number])[] = [
  [74.01, 0.0148],
  [74.001, 0.0075],
  [74.008, 0.0147],
  [74.003, 0.0091],
  [74.003, 0.0122],
  [73.996, 0.0087],
  [74.0, 0.0055],
  [73.997, 0.0123],
  [74.004, 0.0055],
  [73.998, 0.0063],
  [73.994, 0.0029],
  [74.001, 0.0042],
  [73.998, 0.0105],
  [73.99, 0.0153],
  [74.006, 0.0073],
  [73.997, 0.0078],
]

/** Montgomery Table 6.4 (Table 6.3 with 3 to 5 observations a sample), samples 1–22 as reproduced. */
const TABLE_6_4: readonly (readonly number[])[] = [
  [74.03, 74.002, 74.019, 73.992, 74.008],
  [73.995, 73.992, 74.001],
  [73.988, 74.024, 74.021, 74.005, 74.002],
  [74.002, 73.996, 73.993, 74.015, 74.009],
  [73.992, 74.007, 74.015, 73.989, 74.014],
  [74.009, 73.994, 73.997, 73.985],
  [73.995, 74.006, 73.994, 74.0],
  [73.985, 74.003, 73.993, 74.015, 73.988],
  [74.008, 73.995, 74.009, 74.005],
  [73.998, 74.0, 73.99, 74.007, 73.995],
  [73.994, 73.998, 73.994, 73.995, 73.99],
  [74.004, 74.0, 74.007, 74.0, 73.996],
  [73.983, 74.002, 73.998],
  [74.006, 73.967, 73.994, 74.0, 73.984],
  [74.012, 74.014, 73.998],
  [74.0, 73.984, 74.005, 73.998, 73.996],
  [73.994, 74.012, 73.986, 74.005],
  [74.006, 74.01, 74.018, 74.003, 74.0],
  [73.984, 74.002, 74.003, 74.005, 73.997],
  [74.0, 74.01, 74.013],
  [73.982, 74.001, 74.015, 74.005, 73.996],
  [74.004, 73.999, 73.99, 74.006, 74.009],
]

/** The x̄ᵢ and sᵢ columns of Table 6.4 as printed, samples 1–22. */
const TABLE_6_4_COLUMNS: readonly (readonly [number, number])[] = [
  [74.01, 0.0148],
  [73.996, 0.0046],
  [74.008, 0.0147],
  [74.003, 0.0091],
  [74.003, 0.0122],
  [73.996, 0.0099],
  [73.999, 0.0055],
  [73.997, 0.0123],
  [74.004, 0.0064],
  [73.998, 0.0063],
  [73.994, 0.0029],
  [74.001, 0.0042],
  [73.994, 0.01],
  [73.99, 0.0153],
  [74.008, 0.0087],
  [73.997, 0.0078],
  [73.999, 0.0115],
  [74.007, 0.007],
  [73.998, 0.0085],
  [74.008, 0.0068],
  [74.0, 0.0122],
  [74.002, 0.0074],
]

// ---------------------------------------------------------------------------------------------

describe('control chart constants (rules/constants.ts)', () => {
  const exact = new Map(SIZES.map((n) => [n, rangeMoments(n)]))

  it('d2(n), n = 2…25: Montgomery Appendix VI to its three decimals, and the exact E[R/σ] (numerical integration) rounded', () => {
    for (const n of SIZES) {
      expect(d2(n), `d2(${n})`).toBe(printed(n, 'd2'))
      expect(D2[n]).toBe(d2(n))
      expect(round((exact.get(n) as { d2: number }).d2, 3), `exact d2(${n})`).toBe(d2(n))
    }
    // The integration itself: d2(2) = 2/√π, d2(3) = 3/√π.
    expect((exact.get(2) as { d2: number }).d2).toBeCloseTo(2 / Math.sqrt(Math.PI), 9)
    expect((exact.get(3) as { d2: number }).d2).toBeCloseTo(3 / Math.sqrt(Math.PI), 9)
  })

  it('d3(n): Minitab’s four decimals, which are the exact SD[R/σ] rounded; Appendix VI’s three decimals are within half a unit of them', () => {
    for (const n of SIZES) {
      expect(d3(n), `d3(${n})`).toBe(MINITAB_D3[n - 2])
      expect(D3[n]).toBe(d3(n))
      expect(round((exact.get(n) as { d3: number }).d3, 4), `exact d3(${n})`).toBe(d3(n))
      expect(Math.abs(d3(n) - printed(n, 'd3')), `Appendix VI d3(${n})`).toBeLessThanOrEqual(
        0.0005 + 1e-12,
      )
    }
    // Appendix VI rounds the exact value at n = 12 (0.77848 → 0.778) but the four-decimal one at
    // n = 19 (0.7335 → 0.734; exact 0.73348).
    expect(round((exact.get(12) as { d3: number }).d3, 3)).toBe(printed(12, 'd3'))
    expect(round(d3(19), 3)).toBe(printed(19, 'd3'))
    // The integration itself: d3(2) = √(2(1 − 2/π)).
    expect((exact.get(2) as { d3: number }).d3).toBeCloseTo(Math.sqrt(2 * (1 - 2 / Math.PI)), 7)
  })

  it('c4(n) from Γ: √(2/π) and √π/2 for n = 2, 3; Appendix VI’s four decimals for n = 2…25; the Γ recursion up to n = 2000', () => {
    expect(c4(2)).toBeCloseTo(Math.sqrt(2 / Math.PI), 14)
    expect(c4(3)).toBeCloseTo(Math.sqrt(Math.PI) / 2, 14)
    for (const n of SIZES) expect(round(c4(n), 4), `c4(${n})`).toBe(printed(n, 'c4'))
    for (const n of [26, 50, 101, 500, 2000])
      expect(Math.abs(c4(n) / c4ByRecursion(n) - 1)).toBeLessThan(1e-11)
  })

  it('A3, B3, B4 derived from c4 equal Appendix VI to its three decimals for every n', () => {
    for (const n of SIZES) {
      const f = chartFactors(n)
      expect(round(f.A3, 3), `A3(${n})`).toBe(printed(n, 'A3'))
      expect(round(f.B3, 3), `B3(${n})`).toBe(printed(n, 'B3'))
      expect(round(f.B4, 3), `B4(${n})`).toBe(printed(n, 'B4'))
    }
  })

  it('A2 = 3/(d2√n) equals Appendix VI for n = 3…25; A2(2) = 1.881 with d2(2) = 1.128, the printed 1.880 is 3/(2/√π·√2)', () => {
    for (const n of SIZES.filter((n) => n > 2))
      expect(round(chartFactors(n).A2, 3), `A2(${n})`).toBe(printed(n, 'A2'))
    expect(round(chartFactors(2).A2, 3)).toBe(1.881)
    expect(round(3 / ((2 / Math.sqrt(Math.PI)) * Math.SQRT2), 3)).toBe(printed(2, 'A2'))
  })

  it('D3, D4 are Appendix VI’s as printed, each within 0.001 of 1 ∓ 3·d3/d2 from the exact d2, d3, but not its rounding everywhere (n = 3, 18, 24)', () => {
    const exactFactor = (n: number, sign: 1 | -1) => {
      const m = exact.get(n) as { d2: number; d3: number }
      return Math.max(0, 1 + (sign * 3 * m.d3) / m.d2)
    }
    for (const n of SIZES) {
      const f = chartFactors(n)
      expect([f.D3, f.D4], `D3, D4 (${n})`).toEqual([printed(n, 'D3'), printed(n, 'D4')])
      expect(rangeLimitFactors(n)).toEqual({ D3: f.D3, D4: f.D4 })
      expect(Math.abs(f.D3 - exactFactor(n, -1)), `D3(${n})`).toBeLessThan(0.001)
      expect(Math.abs(f.D4 - exactFactor(n, 1)), `D4(${n})`).toBeLessThan(0.001)
    }
    expect(round(exactFactor(3, 1), 3)).toBe(2.575) // printed 2.574
    expect(round(exactFactor(18, 1), 3)).toBe(1.609) // printed 1.608 (and D3 + D4 = 1.999)
    expect(round(exactFactor(24, -1), 3)).toBe(0.452) // printed 0.451 (and D3 + D4 = 1.999)
    expect(() => rangeLimitFactors(26)).toThrow(RangeError)
  })

  it('precision of the MR/R limits: D4(2) is the printed 3.267; 1 + 3·d3/d2 would be 3.269 (Appendix VI’s d2, d3), 3.2673 (Minitab’s), 3.2665 (exact)', () => {
    expect(D4_MR).toBe(3.267)
    expect(chartFactors(2).D4).toBe(3.267)
    expect(round(1 + (3 * printed(2, 'd3')) / printed(2, 'd2'), 3)).toBe(3.269)
    expect(round(1 + (3 * d3(2)) / d2(2), 4)).toBe(3.2673)
    expect(round(1 + (3 * Math.sqrt(2 * (1 - 2 / Math.PI))) / (2 / Math.sqrt(Math.PI)), 4)).toBe(
      3.2665,
    )
  })

  it('precision, Montgomery’s mortgage-loan costs (I-MR): x̄ = 300.5, MR̄ = 7.79, UCL 321.22, LCL 279.78, MR UCL 25.45 to the printed digits (exact d2 would give 321.21; D4 from d3 = 0.853, 25.46; the exact D4, 25.44)', () => {
    const costs = [
      310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301,
      304,
    ]
    const last = runImr(costs)
    expect(last.panes.i?.center).toBe(300.5)
    expect(round(last.panes.mr?.center as number, 2)).toBe(7.79)
    expect(round(last.panes.i?.ucl as number, 2)).toBe(321.22)
    expect(round(last.panes.i?.lcl as number, 2)).toBe(279.78)
    expect(round(last.panes.mr?.ucl as number, 2)).toBe(25.45)
    expect(last.panes.mr?.lcl).toBe(0)
    // The alternatives the choice rules out.
    const mrBar = 148 / 19
    expect(round(300.5 + (3 * mrBar) / (2 / Math.sqrt(Math.PI)), 2)).toBe(321.21)
    expect(round(mrBar * (1 + (3 * 0.853) / 1.128), 2)).toBe(25.46)
    expect(
      round(mrBar * (1 + (3 * Math.sqrt(2 * (1 - 2 / Math.PI))) / (2 / Math.sqrt(Math.PI))), 2),
    ).toBe(25.44)
  })

  it('precision, NIST/SEMATECH e-Handbook 6.3.2.2 (I-MR): x̄ = 50.81, MR̄ = 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13 to the printed digits (D4 from Minitab’s d3 would give 6.14)', () => {
    const last = runImr([49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1])
    expect(round(last.panes.i?.center as number, 2)).toBe(50.81)
    expect(round(last.panes.mr?.center as number, 4)).toBe(1.8778)
    expect(round(last.panes.i?.ucl as number, 2)).toBe(55.8)
    expect(round(last.panes.i?.lcl as number, 2)).toBe(45.82)
    expect(round(last.panes.mr?.ucl as number, 2)).toBe(6.13)
    expect(round((16.9 / 9) * (1 + (3 * 0.8525) / 1.128), 2)).toBe(6.14)
  })

  it('d2, d3 exist for whole n of 2…25 only; c4 for n ≥ 2 (RangeError otherwise)', () => {
    expect(hasRangeConstants(2) && hasRangeConstants(25)).toBe(true)
    expect(hasRangeConstants(1) || hasRangeConstants(26) || hasRangeConstants(2.5)).toBe(false)
    expect(() => d2(1)).toThrow(RangeError)
    expect(() => d3(26)).toThrow(RangeError)
    expect(() => c4(1)).toThrow(RangeError)
  })
})

describe('σ estimators (rules/estimate.ts) against plain batch formulas', () => {
  // Ragged subgroups, a subgroup of one among them, and one of 27 (no d2).
  const ragged: number[][] = [
    [10.2, 9.8, 10.5],
    [10.1, 9.6],
    [10.4],
    [9.9, 10.3, 10.0, 10.8, 9.7],
    [10.6, 10.1, 9.9, 10.0],
    Array.from({ length: 27 }, (_, i) => 10 + Math.sin(i) / 2),
  ]
  const sgs = ragged.map(subgroupOf)
  const all = sgs.map(() => true)

  it('grand mean x̄̄ = Σnᵢx̄ᵢ/Σnᵢ, the mean of all included observations (the subgroup of one counts)', () => {
    expectClose(grandMean(sgs, all), mean(ragged.flat()), 1e-14)
    const mask = [true, false, true, true, false, true]
    expectClose(grandMean(sgs, mask), mean(ragged.filter((_, k) => mask[k]).flat()), 1e-14)
    expect(
      grandMean(
        sgs,
        sgs.map(() => false),
      ),
    ).toBeNull()
  })

  it('rbar: mean of Rᵢ/d2(nᵢ) over the subgroups of 2…25 (the subgroup of one and the one of 27 add nothing)', () => {
    const sigma = sigmaRbar(sgs, all)
    expect(sigma.ok).toBe(true)
    expectClose(sigma.ok ? sigma.sigma : null, batchSigma('rbar', ragged), 1e-12)
  })

  it('sbar: mean of sᵢ/c4(nᵢ) over the subgroups of two or more', () => {
    const sigma = sigmaSbar(sgs, all)
    expectClose(sigma.ok ? sigma.sigma : null, batchSigma('sbar', ragged), 1e-12)
  })

  it('pooled: √(Σ(nᵢ−1)sᵢ²/Σ(nᵢ−1)) / c4(d + 1), d = Σ(nᵢ−1) (Minitab’s unbiasing)', () => {
    const sigma = sigmaPooled(sgs, all)
    expectClose(sigma.ok ? sigma.sigma : null, batchSigma('pooled', ragged), 1e-12)
  })

  it('the mask leaves subgroups out of every method', () => {
    const mask = [false, true, true, true, false, true]
    const kept = ragged.filter((_, k) => mask[k])
    for (const method of ['rbar', 'sbar', 'pooled'] as const) {
      const sigma = estimateSigma(method, sgs, mask)
      expectClose(sigma.ok ? sigma.sigma : null, batchSigma(method, kept), 1e-12)
    }
  })

  it('for one subgroup size rbar, sbar and pooled are the textbook R̄/d2, s̄/c4 and s_p/c4(d + 1)', () => {
    const five = TABLE_6_3.map(subgroupOf)
    const mask = five.map(() => true)
    const rbar = estimateSigma('rbar', five, mask)
    const sbar = estimateSigma('sbar', five, mask)
    expectClose(rbar.ok ? rbar.sigma : null, mean(TABLE_6_3.map(range)) / 2.326, 1e-12)
    expectClose(sbar.ok ? sbar.sigma : null, mean(TABLE_6_3.map(sd)) / c4ByRecursion(5), 1e-9)
  })

  it('failure reasons: subgroups of one only (no range, no s) and no variation', () => {
    const singles = [[1], [2], [3]].map(subgroupOf)
    const mask = singles.map(() => true)
    for (const method of ['rbar', 'sbar', 'pooled'] as const) {
      const sigma = estimateSigma(method, singles, mask)
      expect(sigma.ok).toBe(false)
      expect(sigma.ok ? '' : sigma.reason).toMatch(/two or more|2 to 25/)
    }
    const flat = [
      [5, 5],
      [5, 5, 5],
    ].map(subgroupOf)
    const flatMask = flat.map(() => true)
    expect(estimateSigma('rbar', flat, flatMask)).toEqual({
      ok: false,
      reason: 'the baseline has no variation (R̄ = 0)',
    })
    expect(estimateSigma('sbar', flat, flatMask)).toEqual({
      ok: false,
      reason: 'the baseline has no variation (s̄ = 0)',
    })
    expect(estimateSigma('pooled', flat, flatMask)).toEqual({
      ok: false,
      reason: 'the baseline has no variation (s_p = 0)',
    })
    expect(
      estimateSigma(
        'mr',
        [5, 5, 5].map((v) => subgroupOf([v])),
        [true, true, true],
      ),
    ).toEqual({
      ok: false,
      reason: 'the baseline has no variation (MR̄ = 0)',
    })
  })
})

describe('X̄-R and X̄-S: Montgomery’s piston rings', () => {
  const fiveEach = (type: 'xbar-r' | 'xbar-s', extra: Partial<ChartSpec> = {}) =>
    run(spec(type, { subgroup: { by: 'count', size: 5 }, ...extra }), keyed(TABLE_6_3))

  it('Table 6.3: each sample’s x̄ᵢ and sᵢ (samples 1–16) match the printed columns; R is max − min', () => {
    const { points } = fiveEach('xbar-s')
    TABLE_6_3_COLUMNS.forEach(([xbar, s], i) => {
      const p = points[i] as ChartPoint
      expect(round(p.panes.xbar?.statistic as number, 3), `x̄${i + 1}`).toBe(xbar)
      expect(round(p.panes.s?.statistic as number, 4), `s${i + 1}`).toBe(s)
      expect(p.n).toBe(5)
    })
    const r = fiveEach('xbar-r').points
    TABLE_6_3.forEach((g, i) => {
      expectClose(r[i]?.panes.r?.statistic, range(g), 1e-12)
    })
  })

  it('Table 6.3, Example 6.3: x̄̄ = 74.001 and s̄ = 0.0094 to the printed digits; R̄ = 0.02324 (batch formula)', () => {
    const xr = fiveEach('xbar-r')
    const xs = fiveEach('xbar-s')
    expect(round(xr.limits.center, 3)).toBe(74.001)
    expect(round(xs.limits.center, 3)).toBe(74.001)
    expectClose(xr.points[0]?.panes.r?.center, mean(TABLE_6_3.map(range)), 1e-12) // centre d2σ = R̄
    expect(round(xr.points[0]?.panes.r?.center as number, 5)).toBe(0.02324)
    expect(round(xs.points[0]?.panes.s?.center as number, 4)).toBe(0.0094) // centre c4σ = s̄
    expect(xr.limits.basis).toMatchObject({
      kind: 'estimated',
      count: 25,
      excluded: 0,
      method: 'rbar',
    })
    expect(xs.limits.basis).toMatchObject({
      kind: 'estimated',
      count: 25,
      excluded: 0,
      method: 'sbar',
    })
  })

  it('Example 6.3: from x̄̄ = 74.001 and s̄ = 0.0094 (given as μ and σ = s̄/c4) the x̄ limits are 74.014 and 73.988, the s chart’s UCL 0.0196 and LCL 0', () => {
    const given = { center: 74.001, sigma: 0.0094 / c4(5) }
    const p = fiveEach('xbar-s', { given }).points[0] as ChartPoint
    expect(round(p.panes.xbar?.ucl as number, 3)).toBe(74.014)
    expect(round(p.panes.xbar?.lcl as number, 3)).toBe(73.988)
    expect(round(p.panes.s?.center as number, 4)).toBe(0.0094)
    expect(round(p.panes.s?.ucl as number, 4)).toBe(0.0196)
    expect(p.panes.s?.lcl).toBe(0)
  })

  it('X̄-R from R̄ = 0.023 (given σ = R̄/d2): the textbook x̄̄ ± A2·R̄ = 74.014, 73.988 and D4·R̄ = 2.114·0.023 with Appendix VI’s factors, to three decimals', () => {
    const given = { center: 74.001, sigma: 0.023 / 2.326 }
    const p = fiveEach('xbar-r', { given }).points[0] as ChartPoint
    expect(round(p.panes.xbar?.ucl as number, 3)).toBe(round(74.001 + printed(5, 'A2') * 0.023, 3))
    expect(round(p.panes.xbar?.ucl as number, 3)).toBe(74.014)
    expect(round(p.panes.xbar?.lcl as number, 3)).toBe(73.988)
    expect(round(p.panes.r?.ucl as number, 3)).toBe(round(printed(5, 'D4') * 0.023, 3))
    expect(p.panes.r?.lcl).toBe(0)
  })

  it('estimated from the raw data the limits are the unrounded batch values (UCL 74.0146, LCL 73.9878; the book rounds x̄̄ and R̄ first)', () => {
    const { limits, points } = fiveEach('xbar-r')
    const center = mean(TABLE_6_3.flat())
    const sigma = batchSigma('rbar', TABLE_6_3)
    expectClose(limits.center, center, 1e-14)
    expectClose(limits.sigma, sigma, 1e-12)
    TABLE_6_3.forEach((g, i) => {
      const expected = batchPoint('r', { center, sigma }, g)
      const p = points[i] as ChartPoint
      for (const key of ['statistic', 'center', 'lcl', 'ucl'] as const) {
        expectClose(p.panes.xbar?.[key], expected.xbar[key], 1e-12)
        expectClose(p.panes.r?.[key], expected.dispersion[key], 1e-9)
      }
    })
    expect(round(points[0]?.panes.xbar?.ucl as number, 4)).toBe(74.0146)
    expect(round(points[0]?.panes.xbar?.lcl as number, 4)).toBe(73.9878)
  })

  it('Table 6.4, varying n = 3…5 (samples 1–22, one key a sample): x̄ᵢ and sᵢ match the printed columns; each point’s limits are those of its nᵢ (batch formulas, sbar)', () => {
    const { points, limits } = run(
      spec('xbar-s', { baseline: { subgroups: 22 } }),
      keyed(TABLE_6_4),
    )
    expect(points.map((p) => p.n)).toEqual(TABLE_6_4.map((g) => g.length))
    TABLE_6_4_COLUMNS.forEach(([xbar, s], i) => {
      expect(round(points[i]?.panes.xbar?.statistic as number, 3), `x̄${i + 1}`).toBe(xbar)
      expect(round(points[i]?.panes.s?.statistic as number, 4), `s${i + 1}`).toBe(s)
    })
    const center = mean(TABLE_6_4.flat())
    const sigma = batchSigma('sbar', TABLE_6_4)
    expectClose(limits.center, center, 1e-14)
    expectClose(limits.sigma, sigma, 1e-9)
    TABLE_6_4.forEach((g, i) => {
      const expected = batchPoint('s', { center, sigma }, g)
      for (const key of ['center', 'lcl', 'ucl'] as const) {
        expectClose(points[i]?.panes.xbar?.[key], expected.xbar[key], 1e-12)
        expectClose(points[i]?.panes.s?.[key], expected.dispersion[key], 1e-9)
      }
    })
    // Three sizes, three widths.
    const widths = new Set(
      points.map((p) => round((p.panes.xbar?.ucl as number) - (p.panes.xbar?.lcl as number), 9)),
    )
    expect(widths.size).toBe(3)
  })

  it('Table 6.4 with each σ method (rbar, sbar, pooled) on both charts: σ and every limit equal the batch computation', () => {
    for (const type of ['xbar-r', 'xbar-s'] as const) {
      for (const sigmaMethod of ['rbar', 'sbar', 'pooled'] as const) {
        const { points, limits } = run(
          spec(type, { baseline: { subgroups: 22 }, sigmaMethod }),
          keyed(TABLE_6_4),
        )
        const sigma = batchSigma(sigmaMethod, TABLE_6_4)
        expect(limits.basis).toMatchObject({ method: sigmaMethod })
        expectClose(limits.sigma, sigma, 1e-9)
        const pane = type === 'xbar-r' ? 'r' : 's'
        TABLE_6_4.forEach((g, i) => {
          const expected = batchPoint(pane, { center: limits.center, sigma }, g)
          expectClose(points[i]?.panes.xbar?.ucl, expected.xbar.ucl, 1e-12)
          expectClose(points[i]?.panes[pane]?.ucl, expected.dispersion.ucl, 1e-9)
          expectClose(points[i]?.panes[pane]?.lcl, expected.dispersion.lcl, 1e-9)
        })
      }
    }
  })
})

describe('X̄-R and X̄-S: Phase I, given parameters, odd subgroups, validation', () => {
  it('Phase I with exclusion: a sample moved 0.05 up is left out, the limits are estimated again from the other 24, the point is marked excluded', () => {
    const shifted = TABLE_6_3.map((g, i) => (i === 9 ? g.map((x) => x + 0.05) : g))
    const { events, points, limits } = run(
      spec('xbar-r', { excludeOutOfControl: true }),
      keyed(shifted),
    )
    const kept = shifted.filter((_, i) => i !== 9)
    expectClose(limits.center, mean(kept.flat()), 1e-14)
    expectClose(limits.sigma, batchSigma('rbar', kept), 1e-12)
    expect(limits.basis).toMatchObject({ kind: 'estimated', count: 24, excluded: 1 })
    const established = events.find((e) => e.type === 'limits-established')
    expect(
      established?.type === 'limits-established' &&
        established.baseline.filter((p) => p.excluded).map((p) => p.index),
    ).toEqual([9])
    // Judged against the final limits, it is beyond them (N1 on x̄).
    expect(points[9]?.violations).toContainEqual({ rule: 'N1', pane: 'xbar', indices: [9] })
    // Without exclusion the same sample stays in.
    const kept25 = run(spec('xbar-r'), keyed(shifted)).limits
    expectClose(kept25.center, mean(shifted.flat()), 1e-14)
    expect(kept25.basis).toMatchObject({ count: 25, excluded: 0 })
  })

  it('given μ and σ: no baseline, the first point is judged against them, no event', () => {
    const given = { center: 74, sigma: 0.01 }
    const { events, points, state } = run(spec('xbar-s', { given }), keyed(TABLE_6_3.slice(0, 3)))
    expect(events).toEqual([])
    expect(state.limits).toEqual({ center: 74, sigma: 0.01, basis: { kind: 'given' } })
    expect(points.map((p) => p.phase)).toEqual(['monitor', 'monitor', 'monitor'])
    const expected = batchPoint('s', given, TABLE_6_3[0] as number[])
    expectClose(points[0]?.panes.xbar?.ucl, expected.xbar.ucl, 1e-14)
    expectClose(points[0]?.panes.s?.ucl, expected.dispersion.ucl, 1e-12)
  })

  it('a subgroup of one (by key) is plotted on X̄ with its own limits (σ/√1); its R or S point is null and it adds nothing to R̄ or s̄, but counts in x̄̄', () => {
    const groups = [[10.2, 9.8, 10.5], [10.4], [10.1, 9.6], [9.9, 10.3, 10.0, 10.8]]
    for (const type of ['xbar-r', 'xbar-s'] as const) {
      const pane = type === 'xbar-r' ? 'r' : 's'
      const { points, limits } = run(spec(type, { baseline: { subgroups: 4 } }), keyed(groups))
      expect(points[1]?.n).toBe(1)
      expect(points[1]?.panes[pane]).toEqual({
        statistic: null,
        center: null,
        lcl: null,
        ucl: null,
      })
      expectClose(limits.center, mean(groups.flat()), 1e-14)
      expectClose(
        limits.sigma,
        batchSigma(
          type === 'xbar-r' ? 'rbar' : 'sbar',
          groups.filter((g) => g.length > 1),
        ),
        1e-12,
      )
      expectClose(points[1]?.panes.xbar?.ucl, limits.center + 3 * limits.sigma, 1e-14)
      expect(points[1]?.violations.filter((v) => v.pane === pane)).toEqual([])
    }
  })

  it('X̄-R with a key subgroup of 27: its range is drawn without limits (no d2(27)) and stays out of R̄; X̄-S takes it', () => {
    const big = Array.from({ length: 27 }, (_, i) => 10 + Math.cos(i))
    const groups = [[10.2, 9.8, 10.5], big, [10.1, 9.6]]
    const r = run(spec('xbar-r', { baseline: { subgroups: 3 } }), keyed(groups))
    expectClose(r.points[1]?.panes.r?.statistic, range(big), 1e-14)
    expect(r.points[1]?.panes.r?.ucl).toBeNull()
    expectClose(
      r.limits.sigma,
      batchSigma('rbar', [groups[0] as number[], groups[2] as number[]]),
      1e-12,
    )
    const s = run(spec('xbar-s', { baseline: { subgroups: 3 } }), keyed(groups))
    expectClose(s.limits.sigma, batchSigma('sbar', groups), 1e-9)
    expect(s.points[1]?.panes.s?.ucl).not.toBeNull()
  })

  it('a baseline of subgroups of one only cannot be estimated: estimate-failed says why', () => {
    const { events, state } = run(
      spec('xbar-r', { baseline: { subgroups: 3 } }),
      keyed([[1], [2], [3]]),
    )
    expect(state.limits).toBeNull()
    expect(events[0]).toMatchObject({ type: 'estimate-failed' })
    expect(events[0]?.type === 'estimate-failed' && events[0].reason).toMatch(
      /subgroup of one has no range/,
    )
  })

  it('validate: X̄-R takes subgroups of 2…25 (X̄-S beyond), both refuse mr and subgroups of one, given needs σ; defaults rbar and sbar', () => {
    const base = (type: 'xbar-r' | 'xbar-s', extra: Partial<ChartSpec>) =>
      validateChart(spec(type, extra))
    expect(base('xbar-r', { subgroup: { by: 'count', size: 5 } })).toEqual([])
    expect(base('xbar-r', { subgroup: { by: 'count', size: 25 } })).toEqual([])
    expect(base('xbar-r', { subgroup: { by: 'count', size: 26 } }).join()).toMatch(/X̄-S/)
    expect(base('xbar-s', { subgroup: { by: 'count', size: 26 } })).toEqual([])
    for (const type of ['xbar-r', 'xbar-s'] as const) {
      expect(base(type, { subgroup: { by: 'count', size: 1 } }).join()).toMatch(/2 or more/)
      expect(base(type, { sigmaMethod: 'mr' }).join()).toMatch(/mr/)
      expect(base(type, { given: { center: 1 } }).join()).toMatch(/σ > 0/)
      expect(base(type, { given: { center: 1, sigma: 0 } }).join()).toMatch(/σ > 0/)
      expect(base(type, { given: { center: 1, sigma: 2 } })).toEqual([])
      for (const sigmaMethod of ['rbar', 'sbar', 'pooled'] as const)
        expect(base(type, { sigmaMethod })).toEqual([])
      expect(base(type, { subgroup: { by: 'time', windowMs: 60_000 } })).toEqual([])
    }
    expect(xbarR.panes).toEqual(['xbar', 'r'])
    expect(xbarS.panes).toEqual(['xbar', 's'])
    expect([xbarR.primary, xbarS.primary, xbarR.rules, xbarS.rules]).toEqual([
      'xbar',
      'xbar',
      'all',
      'all',
    ])
  })

  it('checkObservation: a value must be finite; by key, a reading needs its key', () => {
    const s = spec('xbar-r')
    expect(checkObservation(s, { ts: 0, value: 1, key: 'a' })).toBeNull()
    expect(checkObservation(s, { ts: 0, value: Number.NaN, key: 'a' })).toMatch(/finite/)
    expect(xbarS.checkObservation(s, { ts: 0, value: Number.POSITIVE_INFINITY })).toMatch(/finite/)
    expect(checkObservation(s, { ts: 0, value: 1 })).toMatch(/key/)
  })
})

describe('X̄-R and X̄-S: invariants (fast-check)', () => {
  const value = fc.integer({ min: -400, max: 400 }).map((v) => 100 + v / 16)
  /** Ragged subgroups (1 to 7 observations); the first has variation, so any baseline estimates. */
  const groups = fc
    .tuple(
      fc.tuple(value, fc.integer({ min: 1, max: 40 })).map(([v, d]) => [v, v + d / 16]),
      fc.array(fc.array(value, { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 24 }),
    )
    .map(([first, rest]) => [first, ...rest])
  const method = fc.constantFrom<'rbar' | 'sbar' | 'pooled'>('rbar', 'sbar', 'pooled')
  const type = fc.constantFrom<'xbar-r' | 'xbar-s'>('xbar-r', 'xbar-s')

  it('streaming equals batch: the limits, and every point’s statistic, centre and limits, equal the plain batch computation', () => {
    fc.assert(
      fc.property(groups, type, method, fc.nat(), (data, chartType, sigmaMethod, k) => {
        const baseline = 1 + (k % data.length)
        const { points, limits } = run(
          spec(chartType, { baseline: { subgroups: baseline }, sigmaMethod }),
          keyed(data),
        )
        const base = data.slice(0, baseline)
        const center = mean(base.flat())
        const sigma = batchSigma(sigmaMethod, base)
        expectClose(limits.center, center, 1e-12)
        expectClose(limits.sigma, sigma, 1e-9)
        expect(points).toHaveLength(data.length)
        const pane = chartType === 'xbar-r' ? 'r' : 's'
        data.forEach((g, i) => {
          const p = points[i] as ChartPoint
          expect(p.n).toBe(g.length)
          expect(p.phase).toBe(i < baseline ? 'baseline' : 'monitor')
          const expected = batchPoint(pane, { center, sigma }, g)
          for (const key of ['statistic', 'center', 'lcl', 'ucl'] as const) {
            expectClose(p.panes.xbar?.[key], expected.xbar[key], 1e-9)
            expectClose(p.panes[pane]?.[key], expected.dispersion[key], 1e-8)
          }
        })
      }),
      { numRuns: 200 },
    )
  })

  it('state survives a JSON round trip mid-stream: the points, events and final state are the same', () => {
    const subgrouping = fc.constantFrom<ChartSpec['subgroup']>(
      { by: 'key' },
      { by: 'count', size: 4 },
      { by: 'time', windowMs: 5000 },
    )
    fc.assert(
      fc.property(
        groups,
        type,
        method,
        subgrouping,
        fc.nat(),
        fc.boolean(),
        (data, chartType, sigmaMethod, subgroup, cutAt, exclude) => {
          const s = spec(chartType, {
            subgroup,
            baseline: { subgroups: 3 },
            sigmaMethod,
            excludeOutOfControl: exclude,
          })
          const observations = keyed(data)
          const cut = cutAt % (observations.length + 1)
          const go = (roundTrip: boolean) => {
            let state = initChart(s)
            const out: unknown[] = []
            observations.forEach((o, i) => {
              if (roundTrip && i === cut) state = JSON.parse(JSON.stringify(state)) as ChartState
              const step = stepChart(s, state, o)
              state = step.state
              out.push(step.points, step.events)
            })
            if (roundTrip && cut === observations.length)
              state = JSON.parse(JSON.stringify(state)) as ChartState
            const end = closeChart(s, state, Number.POSITIVE_INFINITY, true)
            out.push(end.points, end.events)
            return { out, state: end.state }
          }
          const straight = go(false)
          const restored = go(true)
          expect(restored.out).toEqual(straight.out)
          expect(restored.state).toEqual(straight.state)
        },
      ),
      { numRuns: 200 },
    )
  })
})
