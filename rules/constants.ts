import { logGamma, normalCdf } from './stats.ts'

/**
 * Control chart constants, computed exactly (to about 1e-12), never read from a printed table.
 *
 * d2(n) and d3(n) are the mean and the standard deviation of the relative range W = R/σ of n
 * independent standard normals (Tippett 1925; Harter 1960), L and U their smallest and largest:
 *
 *   d2 = E[W]  = ∫ P(L < x < U) dx          = ∫ [1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ] dx
 *   E[W²]      = 2 ∬_{x<y} P(L < x, U > y)  = 2 ∫₀^∞ ∫ [1 − (1 − Φ(x))ⁿ − Φ(x + w)ⁿ + (Φ(x + w) − Φ(x))ⁿ] dx dw
 *   d3 = √(E[W²] − d2²)
 *
 * (the second because (U − L)²/2 is the area of {L < x < y < U}). The integrands in x are
 * entire and fall off like a normal density, so the trapezoidal rule on a uniform grid converges
 * faster than any power of the step (its error is about e^(−2π²/(n·h²))); in w the range has an
 * end at 0, so the trapezoidal sums with steps h, 2h, 4h, 8h are extrapolated (Romberg) to
 * O(h⁸). With h = 1/20 the error is about 1e-12 for n = 2…100 (against the closed forms of n = 2
 * and 3, and an adaptive quadrature of another form of E[W²]; test/spc-variables.test.ts). Choosing w on the x grid makes Φ(x + w) a
 * lookup: one table of Φ serves every n. Each n is integrated once, on first use, and cached.
 *
 * c4(n) = √(2/(n − 1))·Γ(n/2)/Γ((n − 1)/2) = E[s]/σ, from the gamma function.
 *
 * The textbook factors all follow from d2, d3 and c4 (`chartFactors`). The engine itself draws
 * every line as centre ± 3·σ of the plotted statistic (d3σ for R, σ√(1 − c4²) for S), which is
 * what these factors amount to.
 */

/** The subgroup sizes d2 and d3 are computed for (X̄-R charts; X̄-S beyond). */
export const RANGE_SIZES = { min: 2, max: 100 } as const

/** Whether d2(n) and d3(n) exist: n a whole number of 2…100. */
export function hasRangeConstants(n: number): boolean {
  return Number.isInteger(n) && n >= RANGE_SIZES.min && n <= RANGE_SIZES.max
}

/** d2(n), d3(n) of one n. */
export interface RangeConstants {
  readonly d2: number
  readonly d3: number
}

/** Grid step of both integrals, and the half-width of the x range (P(L < −9) ≤ 100·Φ(−9) ≈ 1e-17). */
const STEP = 1 / 20
const HALF_WIDTH = 9
/** Points of the x grid, and steps of the finest w grid: w up to 19.2 (a multiple of 8 steps). */
const POINTS = 2 * HALF_WIDTH * 20 + 1
const W_STEPS = 384

/** Φ on the x grid; made on first use (one table for every n). */
let phiTable: Float64Array | null = null

function phiOnGrid(): Float64Array {
  if (phiTable === null) {
    phiTable = new Float64Array(POINTS)
    for (let i = 0; i < POINTS; i++) phiTable[i] = normalCdf(-HALF_WIDTH + i * STEP)
  }
  return phiTable
}

/** d2(n) and d3(n) by the integrals above (the slow path: once per n). */
function integrateRange(n: number): RangeConstants {
  const phi = phiOnGrid()
  const up = new Float64Array(POINTS) // Φ(x)ⁿ
  const down = new Float64Array(POINTS) // (1 − Φ(x))ⁿ, as Φ(−x)ⁿ: exact in the upper tail
  for (let i = 0; i < POINTS; i++) {
    up[i] = (phi[i] as number) ** n
    down[i] = (phi[POINTS - 1 - i] as number) ** n
  }
  let mean = 0
  for (let i = 0; i < POINTS; i++) mean += 1 - (up[i] as number) - (down[i] as number)
  mean *= STEP

  // inner[j]: the x integral at w = j·h. Beyond the grid Φ(x + w) is 1 and the integrand 0.
  const inner = new Float64Array(W_STEPS + 1)
  for (let j = 0; j <= W_STEPS; j++) {
    let sum = 0
    for (let i = 0; i + j < POINTS; i++) {
      const a = phi[i] as number
      const b = phi[i + j] as number
      sum += 1 - (down[i] as number) - (up[i + j] as number) + (b - a) ** n
    }
    inner[j] = sum * STEP
  }
  // Romberg over the trapezoidal sums with steps h, 2h, 4h, 8h.
  const levels = 4
  const sums: number[] = []
  for (let level = 0; level < levels; level++) {
    const stride = 2 ** level
    let sum = ((inner[0] as number) + (inner[W_STEPS] as number)) / 2
    for (let j = stride; j < W_STEPS; j += stride) sum += inner[j] as number
    sums.push(sum * stride * STEP)
  }
  for (let k = 1; k < levels; k++) {
    const factor = 4 ** k
    for (let level = 0; level < levels - k; level++) {
      const fine = sums[level] as number
      sums[level] = fine + (fine - (sums[level + 1] as number)) / (factor - 1)
    }
  }
  const squared = 2 * (sums[0] as number)
  return Object.freeze({ d2: mean, d3: Math.sqrt(squared - mean * mean) })
}

/** Cached d2, d3 by n (index n), filled as sizes are first used. */
const RANGE_CACHE: (RangeConstants | undefined)[] = []

/**
 * d2(n) and d3(n) together, cached (a RangeError outside 2…100: check with `hasRangeConstants`).
 * The hot path reads `rangeConstants(n)` per point: after the first call it is an array load.
 */
export function rangeConstants(n: number): RangeConstants {
  const cached = RANGE_CACHE[n]
  if (cached !== undefined) return cached
  if (!hasRangeConstants(n))
    throw new RangeError(
      `d2(${n}) and d3(${n}) are computed for whole n of ${RANGE_SIZES.min}…${RANGE_SIZES.max}`,
    )
  const computed = integrateRange(n)
  RANGE_CACHE[n] = computed
  return computed
}

/** d2(n) = E[R/σ], n = 2…100 (a RangeError otherwise: check with `hasRangeConstants`). */
export function d2(n: number): number {
  return rangeConstants(n).d2
}

/** d3(n) = SD[R/σ], n = 2…100 (a RangeError otherwise: check with `hasRangeConstants`). */
export function d3(n: number): number {
  return rangeConstants(n).d3
}

/** c4 for whole n below this is cached (the S pane reads it per point). */
const C4_CACHE_SIZE = 1024
const C4_CACHE: (number | undefined)[] = []

/** c4(n) = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2): the mean of s/σ for n normal observations, n ≥ 2. */
export function c4(n: number): number {
  const cached = C4_CACHE[n]
  if (cached !== undefined) return cached
  if (!(n >= 2 && Number.isFinite(n))) throw new RangeError(`c4(${n}) needs n ≥ 2`)
  const value = Math.sqrt(2 / (n - 1)) * Math.exp(logGamma(n / 2) - logGamma((n - 1) / 2))
  if (Number.isInteger(n) && n < C4_CACHE_SIZE) C4_CACHE[n] = value
  return value
}

/** The factors of the textbook formulas for subgroups of n, all derived from d2, d3 and c4. */
export interface ChartFactors {
  d2: number
  d3: number
  c4: number
  /** X̄ limits from R̄: x̄̄ ± A2·R̄, A2 = 3/(d2√n). */
  A2: number
  /** X̄ limits from s̄: x̄̄ ± A3·s̄, A3 = 3/(c4√n). */
  A3: number
  /** S limits from s̄: B3·s̄, B4·s̄; B3, B4 = max(0, 1 ∓ 3√(1 − c4²)/c4). */
  B3: number
  B4: number
  /** S limits from σ: B5·σ, B6·σ; B5, B6 = max(0, c4 ∓ 3√(1 − c4²)). */
  B5: number
  B6: number
  /** R limits from σ: D1·σ, D2·σ; D1, D2 = max(0, d2 ∓ 3d3). */
  D1: number
  D2: number
  /** R limits from R̄: D3·R̄, D4·R̄; D3, D4 = max(0, 1 ∓ 3d3/d2). */
  D3: number
  D4: number
  /** Individuals limits from the mean moving range of span n: x̄ ± E2·MR̄, E2 = 3/d2 (I-MR: n = 2). */
  E2: number
}

/** The textbook factors for n = 2…100 (see `ChartFactors`). */
export function chartFactors(n: number): ChartFactors {
  const { d2, d3 } = rangeConstants(n)
  const c = c4(n)
  const rootN = Math.sqrt(n)
  const spreadS = 3 * Math.sqrt(1 - c * c)
  return {
    d2,
    d3,
    c4: c,
    A2: 3 / (d2 * rootN),
    A3: 3 / (c * rootN),
    B3: Math.max(0, 1 - spreadS / c),
    B4: 1 + spreadS / c,
    B5: Math.max(0, c - spreadS),
    B6: c + spreadS,
    D1: Math.max(0, d2 - 3 * d3),
    D2: d2 + 3 * d3,
    D3: Math.max(0, 1 - (3 * d3) / d2),
    D4: 1 + (3 * d3) / d2,
    E2: 3 / d2,
  }
}
