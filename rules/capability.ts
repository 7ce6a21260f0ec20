import { chiSquareQuantile, normalCdf, normalQuantile } from './stats.ts'

/**
 * Process capability and performance of a normal process against its specification limits.
 * Pure, no dependencies beyond `stats.ts`.
 *
 * Definitions (Montgomery, Introduction to Statistical Quality Control, ch. 8; Minitab's
 * "Normal Capability Analysis"; NIST/SEMATECH e-Handbook §6.1.6). μ is the mean of the data,
 * σw the within-subgroup σ (the control chart's), σo the overall sample standard deviation:
 *
 *   Cp  = (USL − LSL) / 6σw            Pp  = (USL − LSL) / 6σo
 *   Cpl = (μ − LSL) / 3σw              Ppl = (μ − LSL) / 3σo
 *   Cpu = (USL − μ) / 3σw              Ppu = (USL − μ) / 3σo
 *   Cpk = min(Cpl, Cpu)                Ppk = min(Ppl, Ppu)
 *
 * One-sided specifications give only the index of the side that exists; Cpk (Ppk) is then that
 * index, and Cp (Pp) is undefined (null).
 *
 * Cpm (Taguchi), from the within σ as the issue asks (Minitab computes it from the overall
 * spread about T; Montgomery writes it with the process σ): τ = √(σw² + (μ − T)²) and, as Minitab
 * defines the cases,
 *   both limits:  min(T − LSL, USL − T) / 3τ   (= (USL − LSL) / 6τ when T is the mid-point)
 *   USL and T:    (USL − T) / 3τ
 *   LSL and T:    (T − LSL) / 3τ
 *   one limit, no target: undefined (null).
 * The target defaults to the mid-point when both limits are given (Minitab leaves Cpm out
 * without a target; the issue asks for the mid-point default).
 *
 * Expected out-of-spec parts per million, normal model: 10⁶ · (Φ((LSL − μ)/σ) + Φ((μ − USL)/σ)),
 * with σo (`expectedPpm`, Minitab's "expected overall performance") and with σw
 * (`expectedPpmWithin`). Observed: 10⁶ · (values outside the limits) / n; a value exactly on a
 * limit is in specification.
 *
 * 95% confidence bounds, the textbook forms (Montgomery §8.3.5), ν = n − 1:
 *   Cp:  Ĉp · √(χ²(0.025; ν) / ν)  ≤ Cp  ≤  Ĉp · √(χ²(0.975; ν) / ν)   (χ²(p; ν) the p-quantile)
 *   Cpk: Ĉpk ∓ z(0.975) · √(1/(9n) + Ĉpk² / (2(n − 1)))            (Bissell's normal approximation)
 * Minitab uses the same forms with ν the degrees of freedom of its σw estimator (e.g. ≈ 0.9k(n−1)
 * for R̄), so its bounds differ slightly from these for subgrouped data.
 *
 * An index whose σ is missing, zero or not finite is null, never infinite.
 */

export interface CapabilitySpec {
  lsl?: number | undefined
  usl?: number | undefined
  /** Target T for Cpm; defaults to the mid-point of LSL and USL when both are given. */
  target?: number | undefined
}

export interface CapabilityInput {
  /** Individual values the overall statistics come from. */
  n: number
  mean: number
  /** The chart's σ of one observation; null when no chart σ exists. */
  sigmaWithin: number | null
  /** Sample standard deviation (n − 1) of the individual values. */
  sigmaOverall: number
  /** Individual values strictly below LSL or strictly above USL. */
  outOfSpec: number
}

export interface Capability {
  n: number
  mean: number
  lsl: number | null
  usl: number | null
  /** T of Cpm (given, or the mid-point), null when there is none. */
  target: number | null
  sigmaWithin: number | null
  sigmaOverall: number | null
  cp: number | null
  cpk: number | null
  cpl: number | null
  cpu: number | null
  cpm: number | null
  pp: number | null
  ppk: number | null
  ppl: number | null
  ppu: number | null
  /** Expected out-of-spec parts per million, normal, with μ and σ overall. */
  expectedPpm: number | null
  /** The same with σ within. */
  expectedPpmWithin: number | null
  /** Observed out-of-spec parts per million. */
  observedPpm: number | null
  cpLower95: number | null
  cpUpper95: number | null
  cpkLower95: number | null
  cpkUpper95: number | null
}

/** Problems that make a specification unusable; empty when it is fine. */
export function capabilitySpecProblems(spec: CapabilitySpec): string[] {
  const problems: string[] = []
  for (const key of ['lsl', 'usl', 'target'] as const) {
    const v = spec[key]
    if (v !== undefined && !Number.isFinite(v)) problems.push(`${key} must be a finite number`)
  }
  if (problems.length > 0) return problems
  const { lsl, usl, target } = spec
  if (lsl !== undefined && usl !== undefined && !(lsl < usl)) {
    problems.push(`the lower specification limit (${lsl}) must be below the upper one (${usl})`)
  }
  if (target !== undefined) {
    if (lsl !== undefined && target < lsl)
      problems.push(`the target (${target}) is below the lower specification limit (${lsl})`)
    if (usl !== undefined && target > usl)
      problems.push(`the target (${target}) is above the upper specification limit (${usl})`)
  }
  return problems
}

/** σ usable as a divisor, or null. */
function usable(sigma: number | null): number | null {
  return sigma !== null && Number.isFinite(sigma) && sigma > 0 ? sigma : null
}

function minOf(a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.min(a, b)
}

/** Expected parts per million outside the limits for a normal(μ, σ). */
function expectedPpmOf(
  mean: number,
  sigma: number | null,
  lsl: number | null,
  usl: number | null,
): number | null {
  if (sigma === null || (lsl === null && usl === null)) return null
  // Each tail from its own Φ(−z): the complement keeps the precision of a far tail.
  const below = lsl === null ? 0 : normalCdf((lsl - mean) / sigma)
  const above = usl === null ? 0 : normalCdf((mean - usl) / sigma)
  return 1e6 * (below + above)
}

/** z(0.975): the two-sided 95% normal quantile. */
const Z_975 = normalQuantile(0.975)

/** 95% bounds of Cp: Ĉp · √(χ²(α/2; ν)/ν) and Ĉp · √(χ²(1 − α/2; ν)/ν), ν = n − 1. */
export function cpBounds95(cp: number, n: number): { lower: number; upper: number } | null {
  if (!(n >= 2) || !Number.isFinite(cp)) return null
  const nu = n - 1
  return {
    lower: cp * Math.sqrt(chiSquareQuantile(0.025, nu) / nu),
    upper: cp * Math.sqrt(chiSquareQuantile(0.975, nu) / nu),
  }
}

/** 95% bounds of Cpk (Bissell): Ĉpk ∓ z(0.975) · √(1/(9n) + Ĉpk²/(2(n − 1))). */
export function cpkBounds95(cpk: number, n: number): { lower: number; upper: number } | null {
  if (!(n >= 2) || !Number.isFinite(cpk)) return null
  const half = Z_975 * Math.sqrt(1 / (9 * n) + (cpk * cpk) / (2 * (n - 1)))
  return { lower: cpk - half, upper: cpk + half }
}

/** The indices of a process against its specification (see the module comment). Throws a RangeError on an invalid specification. */
export function capability(input: CapabilityInput, spec: CapabilitySpec): Capability {
  const problems = capabilitySpecProblems(spec)
  if (problems.length > 0) throw new RangeError(problems.join('; '))
  const lsl = spec.lsl ?? null
  const usl = spec.usl ?? null
  const target = spec.target ?? (lsl !== null && usl !== null ? (lsl + usl) / 2 : null)
  const { n, mean } = input
  const sw = usable(input.sigmaWithin)
  const so = usable(input.sigmaOverall)

  const twoSided = (sigma: number | null) =>
    sigma !== null && lsl !== null && usl !== null ? (usl - lsl) / (6 * sigma) : null
  const lower = (sigma: number | null) =>
    sigma !== null && lsl !== null ? (mean - lsl) / (3 * sigma) : null
  const upper = (sigma: number | null) =>
    sigma !== null && usl !== null ? (usl - mean) / (3 * sigma) : null

  const cp = twoSided(sw)
  const cpl = lower(sw)
  const cpu = upper(sw)
  const cpk = minOf(cpl, cpu)
  const pp = twoSided(so)
  const ppl = lower(so)
  const ppu = upper(so)
  const ppk = minOf(ppl, ppu)

  let cpm: number | null = null
  if (sw !== null && target !== null && (lsl !== null || usl !== null)) {
    const tau = Math.sqrt(sw * sw + (mean - target) ** 2)
    const room = minOf(
      lsl === null ? null : target - lsl,
      usl === null ? null : usl - target,
    ) as number
    cpm = room / (3 * tau)
  }

  const cpCi = cp === null ? null : cpBounds95(cp, n)
  const cpkCi = cpk === null ? null : cpkBounds95(cpk, n)
  const anyLimit = lsl !== null || usl !== null
  return {
    n,
    mean,
    lsl,
    usl,
    target,
    sigmaWithin: sw,
    sigmaOverall: so,
    cp,
    cpk,
    cpl,
    cpu,
    cpm,
    pp,
    ppk,
    ppl,
    ppu,
    expectedPpm: expectedPpmOf(mean, so, lsl, usl),
    expectedPpmWithin: expectedPpmOf(mean, sw, lsl, usl),
    observedPpm: anyLimit && n > 0 ? (1e6 * input.outOfSpec) / n : null,
    cpLower95: cpCi?.lower ?? null,
    cpUpper95: cpCi?.upper ?? null,
    cpkLower95: cpkCi?.lower ?? null,
    cpkUpper95: cpkCi?.upper ?? null,
  }
}

/** Whether a value lies outside the specification (a value exactly on a limit is in it). */
export function outOfSpec(value: number, spec: CapabilitySpec): boolean {
  return (
    (spec.lsl !== undefined && value < spec.lsl) || (spec.usl !== undefined && value > spec.usl)
  )
}

/**
 * The live accumulator of a characteristic over its capability window (the readings since the
 * chart's limits froze): O(1) per value, plain JSON. Welford's mean and sum of squared
 * deviations of every value added, the out-of-spec counts, and the chart's signals in the
 * window. The counts are judged against the spec in force when each value was added: start a
 * new state when the spec changes (or the limits do).
 */
export interface CapabilityState {
  n: number
  mean: number
  /** Σ(x − mean)². */
  m2: number
  /** Values below LSL and above USL. */
  below: number
  above: number
  /**
   * Chart points judged against the frozen limits in the window that completed a run rule or a
   * CUSUM signal. Absent in states saved before it was kept: read it with `signalsOf` (0).
   */
  signals?: number | undefined
  /** The latest of them: its time and chart index; null (or absent) when there was none. */
  lastSignal?: { ts: number; index: number } | null | undefined
}

/** The signals counted in the window (0 for a state saved before they were counted). */
export function signalsOf(state: CapabilityState): number {
  return state.signals ?? 0
}

/** Counts a signalling point (judged against the frozen limits) into the window, in place. */
export function recordSignal(state: CapabilityState, ts: number, index: number): void {
  state.signals = (state.signals ?? 0) + 1
  state.lastSignal = { ts, index }
}

/** When the verdict "capable" may be given (see `capabilityVerdict`). */
export interface CapabilityPolicy {
  /** Cpk and Ppk must both reach it. */
  threshold: number
  /** Readings in the window before any verdict on the indices. */
  minReadings: number
}

/**
 * Threshold 1.33, the benchmark most industries use (the mean 4σ from the nearer limit; the one
 * Minitab's Assistant compares Cpk with), and the readings of a usual Phase I baseline of
 * individuals: Ĉp's 95% interval is about ±28% at n = 25, too wide to act on below it.
 */
export const DEFAULT_CAPABILITY_POLICY: Readonly<CapabilityPolicy> = Object.freeze({
  threshold: 1.33,
  minReadings: 25,
})

/**
 * "Enough data" for live capability by default: at least this many values (see
 * DEFAULT_CAPABILITY_POLICY), a within σ (the chart's limits are frozen), and a specification
 * limit.
 */
export const MIN_CAPABILITY_N = DEFAULT_CAPABILITY_POLICY.minReadings

export function initialCapabilityState(): CapabilityState {
  return { n: 0, mean: 0, m2: 0, below: 0, above: 0, signals: 0, lastSignal: null }
}

/**
 * Adds one value, updating `state` in place (and returning it). A value that is not a finite
 * number is left out (the state stays valid).
 */
export function addToCapability(
  state: CapabilityState,
  value: number,
  spec: CapabilitySpec,
): CapabilityState {
  if (!Number.isFinite(value)) return state
  const n = state.n + 1
  const delta = value - state.mean
  const mean = state.mean + delta / n
  state.n = n
  state.mean = mean
  state.m2 += delta * (value - mean)
  if (spec.lsl !== undefined && value < spec.lsl) state.below++
  if (spec.usl !== undefined && value > spec.usl) state.above++
  return state
}

/** The capability so far, or null until there are `minReadings` values (default MIN_CAPABILITY_N). */
export function capabilityOf(
  state: CapabilityState,
  sigmaWithin: number | null,
  spec: CapabilitySpec,
  minReadings: number = MIN_CAPABILITY_N,
): Capability | null {
  if (state.n < Math.max(2, minReadings) || usable(sigmaWithin) === null) return null
  if (spec.lsl === undefined && spec.usl === undefined) return null
  return capability(
    {
      n: state.n,
      mean: state.mean,
      sigmaWithin,
      sigmaOverall: Math.sqrt(state.m2 / (state.n - 1)),
      outOfSpec: state.below + state.above,
    },
    spec,
  )
}

/** The verdict on a capability, with what it was judged by. */
export interface CapabilityVerdict {
  verdict: 'capable' | 'not-capable' | 'not-in-control' | 'too-few-readings'
  /** What to print: the words of the verdict (for `not-in-control`, exactly NOT_IN_CONTROL_WORDS). */
  words: string
  threshold: number
  minReadings: number
  /** The chart signalled in the capability window. */
  signalled: boolean
}

/** The caveat of a process that is not stable: its indices describe the readings, they predict nothing. */
export const NOT_IN_CONTROL_WORDS =
  'not in statistical control — capability indices are not a prediction'

/** An index as the verdict's words give it: two decimals (a dash when undefined). */
function index2(x: number | null): string {
  return x === null ? '—' : x.toFixed(2)
}

/**
 * Whether the process is capable, by AIAG and Minitab practice: capability indices predict
 * only for a process in statistical control, so
 *
 * 1. the chart signalled (a run rule or CUSUM, against the frozen limits) within the
 *    capability window → `not-in-control` (the indices are still reported, as a description);
 * 2. else fewer than `minReadings` readings, or no capability yet → `too-few-readings`;
 * 3. else `capable` when Cpk ≥ threshold and Ppk ≥ threshold (the within and the overall
 *    spread both fit), otherwise `not-capable` (an index that is undefined does not reach it).
 *
 * `facts.n` is the readings in the window (the capability's n when there is one).
 */
export function capabilityVerdict(
  capability: Capability | null,
  facts: { signalled: boolean; n: number },
  policy: { threshold: number; minReadings: number },
): CapabilityVerdict {
  const { threshold, minReadings } = policy
  const base = { threshold, minReadings, signalled: facts.signalled }
  if (facts.signalled) return { verdict: 'not-in-control', words: NOT_IN_CONTROL_WORDS, ...base }
  if (capability === null || facts.n < minReadings) {
    return {
      verdict: 'too-few-readings',
      words: `too few readings for a verdict: ${facts.n} of ${minReadings}`,
      ...base,
    }
  }
  const { cpk, ppk } = capability
  if (cpk !== null && ppk !== null && cpk >= threshold && ppk >= threshold)
    return { verdict: 'capable', words: `capable (Cpk and Ppk ≥ ${threshold})`, ...base }
  return {
    verdict: 'not-capable',
    words: `not capable (Cpk ${index2(cpk)}, Ppk ${index2(ppk)}; both must reach ${threshold})`,
    ...base,
  }
}
