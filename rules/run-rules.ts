import type { RuleId, Violation } from './types.ts'

/**
 * The run rules over one pane's stream of points, with bounded state (plain JSON), O(1) per
 * point: a few counters and the zones of the last five points, whatever the run lengths.
 *
 * Conventions (Minitab's "tests for special causes"):
 * - N1 / WE1: a point strictly beyond a control limit as drawn (`lcl`, `ucl`); a point exactly
 *   on a limit is in control; a null limit is no bound. No σ needed.
 * - N2: nine in a row on one side of the centre line; a point exactly on the centre line
 *   belongs to neither side and breaks the run. WE4: the same with eight.
 * - N3: six points in a row steadily increasing or decreasing (five successive rises, or
 *   falls); equal neighbours break the trend.
 * - N4: fourteen points in a row alternating up and down (thirteen differences alternating in
 *   sign); equal neighbours break the alternation.
 * - N5 / WE2: two of three in a row strictly beyond 2σ on the same side. N6 / WE3: four of five
 *   in a row strictly beyond 1σ on the same side. The window must be full (three, or five,
 *   points with zones) and the point itself must be beyond on that side. The pattern's indices
 *   are the window's points beyond on that side (two or three for N5, four or five for N6),
 *   not the in-between points.
 * - N7: fifteen in a row within 1σ, either side; a point exactly on centre ± 1σ is within.
 * - N8: eight in a row strictly beyond 1σ, on either side (they need not straddle the centre).
 * - A flagged point is one that completes a pattern, and each later point that still
 *   completes one; a run's indices are its latest `length` points.
 * - Zones are centre ± k·σ of the point itself (`sigma`), so limits that vary per point (p, u,
 *   varying-n X̄) give each point its own zones. Membership compares the statistic with the
 *   lines `upperLimit`/`lowerLimit` draw (no division), so a statistic drawn exactly on a line
 *   is on it.
 * - A point without zones (`sigma` null, zero or not finite; a statistic that is not finite)
 *   breaks the zone patterns (N5–N8): N7 and N8 start again after it, and an N5/N6 window
 *   holding it is not full. N1–N4 and WE1/WE4 do not need σ and go on through it. A
 *   statistic that is not finite breaks N3 and N4 too, and NaN is on neither side (N2, WE4).
 *   The state stays valid JSON.
 * - Patterns are made of consecutive points: a point whose index does not follow the previous
 *   one's (a point the caller did not judge, or a new stream) starts every pattern afresh.
 * - Run lengths (`runLengths`) apply to N2, N3, N4, N7, N8 and WE4; a length that is not an
 *   integer ≥ 2 (≥ 3 for N4) falls back to the canonical one. The k-of-m rules are fixed.
 */

export interface RuleSettings {
  rules: readonly RuleId[]
  /** Run lengths that differ from the canonical ones. */
  runLengths?: Partial<Record<RuleId, number>> | undefined
}

/** One point as the rules see it. `sigma` null: no zones (the point breaks N5–N8). */
export interface RuleInput {
  index: number
  statistic: number
  center: number
  sigma: number | null
  lcl: number | null
  ucl: number | null
}

/**
 * Zone of a point, signed by its side: 0 within 1σ (on ±1σ included), ±1 beyond 1σ up to 2σ
 * (on ±2σ included), ±2 beyond 2σ; null when the point has no zones.
 */
export type ZoneCode = -2 | -1 | 0 | 1 | 2 | null

/** The zones of the last five points, oldest first (the N5/N6 windows are its last 3 and 5). */
export type ZoneWindow = [ZoneCode, ZoneCode, ZoneCode, ZoneCode, ZoneCode]

const WINDOW_MASK = 0o77777

function zoneCode(zone: ZoneCode): number {
  return zone === null ? 0 : zone + 3
}

function zoneAt(window: number, age: number): ZoneCode {
  const code = (window >> (3 * age)) & 7
  return code === 0 ? null : ((code - 3) as ZoneCode)
}

/** The zones of the last five points in a rule state, oldest first. */
export function zoneWindow(state: RuleState): ZoneWindow {
  const w = state.window
  return [zoneAt(w, 4), zoneAt(w, 3), zoneAt(w, 2), zoneAt(w, 1), zoneAt(w, 0)]
}

export interface RuleState {
  /** Index of the last point judged; null before the first. */
  last: number | null
  /** Statistic of the last point (N3, N4), when `hasPrevious`; always a number (0 otherwise). */
  previous: number
  /** The last point had a finite statistic: N3 and N4 compare with `previous`. */
  hasPrevious: boolean
  /** N2/WE4: side of the centre line of the current run (1 above, -1 below, 0 on it or none). */
  side: -1 | 0 | 1
  /** N2/WE4: the run's length in points. */
  length: number
  /** N3/N4: sign of the last difference (1 rise, -1 fall, 0 none or equal neighbours). */
  move: -1 | 0 | 1
  /** N3: points in the current trend in the direction of `move` (1 + the successive moves). */
  trendLength: number
  /** N4: points in the current alternating run (1 + the differences alternating in sign). */
  alternating: number
  /** N7: points in a row within 1σ. */
  within: number
  /** N8: points in a row beyond 1σ, either side. */
  beyond: number
  /**
   * N5/N6: the zones of the last five points, packed 3 bits each (newest lowest; 0 no zones,
   * 1…5 the zones −2…2). One number: nothing to shift, nothing to allocate. `zoneWindow` reads it.
   */
  window: number
}

export const DEFAULT_RUN_LENGTHS: Readonly<Partial<Record<RuleId, number>>> = {
  N2: 9,
  N3: 6,
  N4: 14,
  N7: 15,
  N8: 8,
  WE4: 8,
}

export function initialRuleState(): RuleState {
  return {
    last: null,
    previous: 0,
    hasPrevious: false,
    side: 0,
    length: 0,
    move: 0,
    trendLength: 0,
    alternating: 0,
    within: 0,
    beyond: 0,
    window: 0,
  }
}

/** centre + k·σ: the one place an upper k-sigma line is computed. */
export function upperLimit(center: number, sigma: number, k: number): number {
  return center + k * sigma
}

/** centre − k·σ: the one place a lower k-sigma line is computed. */
export function lowerLimit(center: number, sigma: number, k: number): number {
  return center - k * sigma
}

function runLength(settings: RuleSettings, rule: RuleId): number {
  const fallback = DEFAULT_RUN_LENGTHS[rule] ?? 0
  const length = settings.runLengths?.[rule]
  if (length === undefined || !Number.isInteger(length) || length < (rule === 'N4' ? 3 : 2)) {
    return fallback
  }
  return length
}

/** What each rule tests, as a number the hot loop switches on. */
type Test = number
const BEYOND = 0
const SIDE = 1
const TREND = 2
const ALTERNATING = 3
const TWO_OF_THREE = 4
const FOUR_OF_FIVE = 5
const WITHIN = 6
const BEYOND_ONE = 7

const TEST: Record<RuleId, Test> = {
  N1: BEYOND,
  WE1: BEYOND,
  N2: SIDE,
  WE4: SIDE,
  N3: TREND,
  N4: ALTERNATING,
  N5: TWO_OF_THREE,
  WE2: TWO_OF_THREE,
  N6: FOUR_OF_FIVE,
  WE3: FOUR_OF_FIVE,
  N7: WITHIN,
  N8: BEYOND_ONE,
}

/** Rule settings worked out once: each rule's test and run length, and whether any needs the run counters. */
export interface CompiledRules {
  readonly rules: readonly RuleId[]
  readonly tests: readonly Test[]
  readonly lengths: readonly number[]
  /** Only N1/WE1: the counters and zones are not needed (the MR, R and S panes). */
  readonly limitsOnly: boolean
  /*
   * What the quick test of a point looks at (most points complete nothing): whether a limits
   * test is configured, the k-of-m tests configured, and the shortest length of each counted
   * run (Infinity: no rule counts that run).
   */
  readonly beyond: boolean
  /** The bits of `K_OF_M` to test: 1 for 2 of 3 beyond 2σ (N5, WE2), 2 for 4 of 5 beyond 1σ (N6, WE3). */
  readonly kOfM: number
  readonly side: number
  readonly trend: number
  readonly alternating: number
  readonly within: number
  readonly beyondOne: number
}

export function compileRules(settings: RuleSettings): CompiledRules {
  const tests = settings.rules.map((r) => TEST[r])
  const lengths = settings.rules.map((r) => runLength(settings, r))
  const shortest = (test: Test) =>
    Math.min(...lengths.filter((_, r) => tests[r] === test), Number.POSITIVE_INFINITY)
  return {
    rules: [...settings.rules],
    tests,
    lengths,
    limitsOnly: tests.every((t) => t === BEYOND),
    beyond: tests.includes(BEYOND),
    kOfM: (tests.includes(TWO_OF_THREE) ? 1 : 0) | (tests.includes(FOUR_OF_FIVE) ? 2 : 0),
    side: shortest(SIDE),
    trend: shortest(TREND),
    alternating: shortest(ALTERNATING),
    within: shortest(WITHIN),
    beyondOne: shortest(BEYOND_ONE),
  }
}

const compiledCache = new WeakMap<RuleSettings, CompiledRules>()

/**
 * The zone of a point against its own centre ± k·σ lines (strictly beyond a line to be beyond
 * it), as the window codes it: 3 within 1σ, plus one beyond +1σ and one more beyond +2σ, minus
 * the same below; 0 when the point has no zones. No branch on where x lies (see `advanceRules`).
 */
function zoneCodeOf(x: number, c: number, s: number | null): number {
  if (s === null || !(s > 0) || !Number.isFinite(s) || !Number.isFinite(x) || !Number.isFinite(c)) {
    return 0
  }
  return (
    3 +
    Number(x > upperLimit(c, s, 1)) +
    Number(x > upperLimit(c, s, 2)) -
    Number(x < lowerLimit(c, s, 1)) -
    Number(x < lowerLimit(c, s, 2))
  )
}

/** 1, −1 or 0 as a is above b, below it, or neither (equal, or NaN), without a branch. */
function compare(a: number, b: number): -1 | 0 | 1 {
  return (Number(a > b) - Number(a < b)) as -1 | 0 | 1
}

/**
 * A state saved by an earlier version: one from before the other rules existed (`{ side,
 * length }`) keeps its N2/WE4 run; one with `previous: null` for "none" gets `hasPrevious`.
 */
function upgrade(state: RuleState): void {
  const saved = state as Partial<RuleState> & { previous?: number | null; zones?: ZoneCode[] }
  if (saved.zones === undefined) {
    const { side, length } = state
    reset(state)
    state.side = side
    state.length = length
    return
  }
  state.hasPrevious = typeof saved.previous === 'number'
  state.previous = saved.previous ?? 0
  state.window = saved.zones.reduce<number>((w, z) => ((w << 3) | zoneCode(z)) & WINDOW_MASK, 0)
  delete saved.zones
}

/** Back to the state before the first point, in place. */
function reset(state: RuleState): void {
  state.last = null
  state.previous = 0
  state.hasPrevious = false
  state.side = 0
  state.length = 0
  state.move = 0
  state.trendLength = 0
  state.alternating = 0
  state.within = 0
  state.beyond = 0
  state.window = 0
}

const NO_VIOLATIONS: readonly Violation[] = Object.freeze([])

/** Advances the rule state by one point and returns the rules that point completes. */
export function stepRules(
  settings: RuleSettings,
  state: RuleState,
  pane: string,
  point: RuleInput,
): { state: RuleState; violations: readonly Violation[] } {
  let compiled = compiledCache.get(settings)
  if (!compiled) {
    compiled = compileRules(settings)
    compiledCache.set(settings, compiled)
  }
  const { index, statistic, center, sigma, lcl, ucl } = point
  return {
    state,
    violations: advanceRules(compiled, state, pane, index, statistic, center, sigma, lcl, ucl),
  }
}

/**
 * The rules' step, in place: `state` becomes the state after the point (no copy is made), and
 * the result is the rules the point completes (a shared empty array when none). What
 * `stepRules` and the chart driver run.
 */
export function advanceRules(
  rules: CompiledRules,
  state: RuleState,
  pane: string,
  // The point as arguments, not a RuleInput object: nothing is allocated per point.
  index: number,
  x: number,
  center: number,
  sigma: number | null,
  lcl: number | null,
  ucl: number | null,
): readonly Violation[] {
  // N1 and WE1 need no memory: a pane judged only against its limits keeps no counters.
  if (rules.limitsOnly) {
    if (!((ucl !== null && x > ucl) || (lcl !== null && x < lcl))) return NO_VIOLATIONS
    return rules.rules.map((rule) => ({ rule, pane, indices: [index] }))
  }
  if (state.hasPrevious === undefined) upgrade(state)
  if (state.last !== null && index !== state.last + 1) reset(state)
  const finite = Number.isFinite(x)
  // The counters are worked out with Number(condition) (0 or 1), not with branches: with noisy
  // data a branch on the side, the move or the zone is mispredicted about half the time, and
  // that was most of a point's cost.

  // N2/WE4: same side of the centre line (on it: no side, no run).
  const side = compare(x, center)
  const length = Number(side !== 0) * (Number(side === state.side) * state.length + 1)
  state.length = length
  state.side = side

  // N3 (trend) and N4 (alternation): the direction from the previous point (none: 0). A run
  // has 1 point when there is no move, 2 when the move starts one, one more when it goes on.
  const move = state.hasPrevious && finite ? compare(x, state.previous) : 0
  const moved = Number(move !== 0)
  const trendLength = moved * (Number(move === state.move) * (state.trendLength - 1) + 1) + 1
  const alternating = moved * (Number(move + state.move === 0) * (state.alternating - 1) + 1) + 1
  state.trendLength = trendLength
  state.alternating = alternating
  state.move = move

  // N5–N8: the zone of this point, as the window codes it (0 no zones, 3 within 1σ).
  const code = zoneCodeOf(x, center, sigma)
  const within = Number(code === 3) * (state.within + 1)
  const beyond = Number(code !== 0) * Number(code !== 3) * (state.beyond + 1)
  const window = ((state.window << 3) | code) & WINDOW_MASK
  state.within = within
  state.beyond = beyond
  state.window = window

  state.last = index
  // JSON has no NaN or ±Infinity; a number always, so the field stays an unboxed double.
  state.hasPrevious = finite
  state.previous = finite ? x : 0

  // Most points complete nothing: say so without going through the rules one by one.
  if (
    length < rules.side &&
    trendLength < rules.trend &&
    alternating < rules.alternating &&
    within < rules.within &&
    beyond < rules.beyondOne &&
    ((K_OF_M[window] as number) & rules.kOfM) === 0 &&
    !(rules.beyond && ((ucl !== null && x > ucl) || (lcl !== null && x < lcl)))
  ) {
    return NO_VIOLATIONS
  }
  return completed(rules, state, pane, index, x, lcl, ucl)
}

/** The rules a point completes, in the order configured (`state` is the state after the point). */
function completed(
  rules: CompiledRules,
  state: RuleState,
  pane: string,
  index: number,
  x: number,
  lcl: number | null,
  ucl: number | null,
): readonly Violation[] {
  const violations: Violation[] = []
  const { tests, lengths } = rules
  const window = state.window
  for (let r = 0; r < tests.length; r++) {
    let indices: number[] | null = null
    const length = lengths[r] as number
    /** The run a counted rule compares with its length (−1: the rule is not a counted run). */
    let run = -1
    switch (tests[r]) {
      case BEYOND:
        if ((ucl !== null && x > ucl) || (lcl !== null && x < lcl)) indices = [index]
        break
      case SIDE:
        run = state.length
        break
      case TREND:
        run = state.trendLength
        break
      case ALTERNATING:
        run = state.alternating
        break
      case TWO_OF_THREE:
        indices = kOfM(window, 2, 3, 2, index)
        break
      case FOUR_OF_FIVE:
        indices = kOfM(window, 4, 5, 1, index)
        break
      case WITHIN:
        run = state.within
        break
      case BEYOND_ONE:
        run = state.beyond
        break
    }
    if (run >= 0 && run >= length) indices = range(index - length + 1, index)
    if (indices !== null) violations.push({ rule: rules.rules[r] as RuleId, pane, indices })
  }
  return violations.length > 0 ? violations : NO_VIOLATIONS
}

/**
 * k of the last m points beyond `level`σ on the side of the newest point, the newest among
 * them: the indices of all the window's points beyond on that side, or null (also when the
 * window is not full: a point in it without zones).
 */
function kOfM(window: number, k: number, m: number, level: 1 | 2, index: number): number[] | null {
  if (!kOfMHolds(window, k, m, level)) return null
  const side = (window & 7) > 3 ? 1 : -1
  const indices: number[] = []
  for (let age = m - 1; age >= 0; age--) {
    if ((((window >> (3 * age)) & 7) - 3) * side >= level) indices.push(index - age)
  }
  return indices
}

/** Whether k of the last m points are beyond `level`σ on the newest point's side, the newest among them (a full window). */
function kOfMHolds(window: number, k: number, m: number, level: 1 | 2): boolean {
  const newest = window & 7
  if (newest === 0 || Math.abs(newest - 3) < level) return false
  const side = newest > 3 ? 1 : -1
  let count = 0
  for (let age = 0; age < m; age++) {
    const code = (window >> (3 * age)) & 7
    if (code === 0) return false
    if ((code - 3) * side >= level) count++
  }
  return count >= k
}

/** Whether each k-of-m test holds, for every window (2¹⁵ of them): one load per point, no loops. */
const K_OF_M = Uint8Array.from(
  { length: WINDOW_MASK + 1 },
  (_, w) => (kOfMHolds(w, 2, 3, 2) ? 1 : 0) | (kOfMHolds(w, 4, 5, 1) ? 2 : 0),
)

function range(from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i <= to; i++) out.push(i)
  return out
}
