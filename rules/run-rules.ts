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

export interface RuleState {
  /** Index of the last point judged; null before the first. */
  last: number | null
  /** Statistic of the last point (N3, N4); null before the first. */
  previous: number | null
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
  /** N5/N6: zones of the last five points. */
  zones: ZoneWindow
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
    previous: null,
    side: 0,
    length: 0,
    move: 0,
    trendLength: 0,
    alternating: 0,
    within: 0,
    beyond: 0,
    zones: [null, null, null, null, null],
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
  const fallback = DEFAULT_RUN_LENGTHS[rule] as number
  const length = settings.runLengths?.[rule]
  if (length === undefined || !Number.isInteger(length) || length < (rule === 'N4' ? 3 : 2)) {
    return fallback
  }
  return length
}

function sign(x: number): -1 | 0 | 1 {
  return x > 0 ? 1 : x < 0 ? -1 : 0
}

/** The zone of a point against its own centre ± k·σ lines (strictly beyond a line to be beyond it). */
function zoneOf(point: RuleInput): ZoneCode {
  const { statistic: x, center: c, sigma: s } = point
  if (s === null || !(s > 0) || !Number.isFinite(s) || !Number.isFinite(x) || !Number.isFinite(c)) {
    return null
  }
  if (x > upperLimit(c, s, 1)) return x > upperLimit(c, s, 2) ? 2 : 1
  if (x < lowerLimit(c, s, 1)) return x < lowerLimit(c, s, 2) ? -2 : -1
  return 0
}

/** A state saved before the other rules existed (`{ side, length }`) keeps its N2/WE4 run. */
function upgrade(state: RuleState): RuleState {
  const saved: Partial<RuleState> & Pick<RuleState, 'side' | 'length'> = state
  if (saved.zones !== undefined) return state
  return { ...initialRuleState(), side: saved.side, length: saved.length }
}

/** Advances the rule state by one point and returns the rules that point completes. */
export function stepRules(
  settings: RuleSettings,
  state: RuleState,
  pane: string,
  point: RuleInput,
): { state: RuleState; violations: Violation[] } {
  const prior = upgrade(state)
  const s = prior.last === null || point.index === prior.last + 1 ? prior : initialRuleState()
  const x = point.statistic

  // N2/WE4: same side of the centre line.
  const side = sign(x - point.center)
  const length = side === 0 ? 0 : side === s.side ? s.length + 1 : 1

  // N3 (trend) and N4 (alternation): the difference from the previous point.
  const move = s.previous === null || !Number.isFinite(x) ? 0 : sign(x - s.previous)
  const trendLength = move === 0 ? 1 : move === s.move ? s.trendLength + 1 : 2
  const alternating = move === 0 ? 1 : s.move === -move ? s.alternating + 1 : 2

  // N5–N8: zones of this point.
  const zone = zoneOf(point)
  const within = zone === 0 ? s.within + 1 : 0
  const beyond = zone !== null && zone !== 0 ? s.beyond + 1 : 0
  const zones: ZoneWindow = [s.zones[1], s.zones[2], s.zones[3], s.zones[4], zone]

  const next: RuleState = {
    last: point.index,
    previous: Number.isFinite(x) ? x : null, // JSON has no NaN or ±Infinity
    side,
    length,
    move,
    trendLength,
    alternating,
    within,
    beyond,
    zones,
  }

  const violations: Violation[] = []
  for (const rule of settings.rules) {
    const indices = completes(rule, settings, point, next)
    if (indices !== null) violations.push({ rule, pane, indices })
  }
  return { state: next, violations }
}

/** The points of the pattern `rule` that the point completes (`next`: the state after it), or null. */
function completes(
  rule: RuleId,
  settings: RuleSettings,
  point: RuleInput,
  next: RuleState,
): number[] | null {
  switch (rule) {
    case 'N1':
    case 'WE1': {
      const x = point.statistic
      const beyond = (point.ucl !== null && x > point.ucl) || (point.lcl !== null && x < point.lcl)
      return beyond ? [point.index] : null
    }
    case 'N2':
    case 'WE4':
      return run(settings, rule, next.length, point.index)
    case 'N3':
      return run(settings, rule, next.trendLength, point.index)
    case 'N4':
      return run(settings, rule, next.alternating, point.index)
    case 'N5':
    case 'WE2':
      return kOfM(next.zones, 2, 3, 2, point.index)
    case 'N6':
    case 'WE3':
      return kOfM(next.zones, 4, 5, 1, point.index)
    case 'N7':
      return run(settings, rule, next.within, point.index)
    case 'N8':
      return run(settings, rule, next.beyond, point.index)
  }
}

/** The latest points of a run of `count` points, when that reaches the rule's length. */
function run(settings: RuleSettings, rule: RuleId, count: number, index: number): number[] | null {
  const n = runLength(settings, rule)
  return count >= n ? range(index - n + 1, index) : null
}

/**
 * k of the last m points beyond `level`σ on the side of the newest point, the newest among
 * them: the indices of all the window's points beyond on that side, or null (also when the
 * window is not full: a point in it without zones).
 */
function kOfM(
  zones: ZoneWindow,
  k: number,
  m: number,
  level: 1 | 2,
  index: number,
): number[] | null {
  const newest = zones[4]
  if (newest === null || Math.abs(newest) < level) return null
  const side = newest > 0 ? 1 : -1
  let count = 0
  for (let j = zones.length - m; j < zones.length; j++) {
    const z = zones[j] as ZoneCode
    if (z === null) return null
    if (z * side >= level) count++
  }
  if (count < k) return null
  const indices: number[] = []
  for (let j = zones.length - m; j < zones.length; j++) {
    if ((zones[j] as number) * side >= level) indices.push(index - (zones.length - 1 - j))
  }
  return indices
}

function range(from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i <= to; i++) out.push(i)
  return out
}
