/**
 * Plain data shared by every chart and rule. No I/O, no clock: time stamps arrive in the
 * input as UTC milliseconds since the epoch.
 */

/**
 * One input to a chart. Variables charts: `value` is a measurement. Attributes charts: `value`
 * is the count (defectives for p/np, defects for c/u) and `size` the sample size (p, np) or
 * the number of inspection units (u; c may leave it out). `key` names the subgroup (lot,
 * batch, sample id) when subgroups are formed by key.
 */
export interface Observation {
  ts: number
  value: number
  size?: number | undefined
  key?: string | undefined
}

/** The run rules: Nelson's eight tests and the Western Electric rules. */
export type RuleId =
  | 'N1'
  | 'N2'
  | 'N3'
  | 'N4'
  | 'N5'
  | 'N6'
  | 'N7'
  | 'N8'
  | 'WE1'
  | 'WE2'
  | 'WE3'
  | 'WE4'

export const NELSON_RULES: readonly RuleId[] = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8']
export const WESTERN_ELECTRIC_RULES: readonly RuleId[] = ['WE1', 'WE2', 'WE3', 'WE4']

/** Everything a point can be flagged for: a run rule, or a CUSUM signal (C⁺ or C⁻ beyond h). */
export type ViolationRule = RuleId | 'cusum-upper' | 'cusum-lower'

/**
 * One pane of a chart point (I-MR has the panes `i` and `mr`). `null` where not (yet) defined.
 *
 * `sigma` is the σ of the plotted statistic that the pane's limits use: lcl and ucl are
 * center ∓ L·sigma, L = 3 for the Shewhart and attributes panes and EWMA's L for the EWMA pane,
 * and a statistic that cannot be negative has LCL max(0, center − 3·sigma) (p ≤ 1 and np ≤ n
 * bound the UCL too). Per pane, σ the process σ of one observation:
 *
 *   I σ;  X̄ σ/√nᵢ;  MR d3(2)·σ;  R d3(nᵢ)·σ;  S σ√(1 − c4(nᵢ)²);
 *   EWMA σ_z,i = σ/√nᵢ·√(λ/(2 − λ)·(1 − (1 − λ)^2i)) (it varies from point to point);
 *   p √(p̄(1 − p̄)/nᵢ);  np √(nᵢp̄(1 − p̄));  c √c̄;  u √(ū/nᵢ);
 *   CUSUM 1: the pane is in σ units (yᵢ and C± are multiples of σ/√nᵢ) and its limits are
 *   ±h = 0 ± h·1, so there L = h.
 *
 * null where the pane has no limits (Phase I previews, a subgroup of one's R or S, a point
 * without a size). The zone rules (N5–N8) judge the primary pane against center ± k·sigma.
 */
export interface PanePoint {
  statistic: number | null
  center: number | null
  sigma: number | null
  lcl: number | null
  ucl: number | null
  /** CUSUM only: C⁺ and C⁻ (both ≥ 0, in σ units). */
  upper?: number | undefined
  lower?: number | undefined
}

/**
 * A pattern a point completes. `indices` are the chart points forming it (at most the longest
 * run length, 50). A CUSUM signal's pattern can be as long as the shift: its `indices` are only
 * the signalling point, and `since` is where the excursion began, so a signal's size does not
 * grow with the length of a violation.
 */
export interface Violation {
  rule: ViolationRule
  pane: string
  indices: number[]
  /**
   * CUSUM: the first point of the excursion that signals, the first point since that side last
   * stood at 0 or was reset (after a signal with `resetOnSignal`, or at the head start). The
   * signal's run length is index − since + 1 (Montgomery's N⁺, N⁻ counters).
   */
  since?: number | undefined
}

/** What a chart emits for each plotted point (one per subgroup). */
export interface ChartPoint {
  /** Position of the point in the chart's stream, from 0. */
  index: number
  /** Time of the subgroup's last observation. */
  ts: number
  /** Observations in the subgroup (1 for individuals; the sample size for attributes). */
  n: number
  /** `baseline` while the limits are being estimated (Phase I), `monitor` against frozen limits. */
  phase: 'baseline' | 'monitor'
  panes: Record<string, PanePoint>
  violations: readonly Violation[]
  /** Set on a baseline point that was left out of the estimate (it was out of control). */
  excluded?: boolean | undefined
}

/** Process parameters: estimated from a baseline, or given, and then frozen. */
export interface ProcessLimits {
  /** Centre of the primary pane: μ (variables) or p̄, n·p̄, c̄, ū (attributes). */
  center: number
  /** σ of one observation (variables); for attributes the centre defines σ and this is 0. */
  sigma: number
  /** How they came to be: estimated from baseline subgroups, or given. */
  basis:
    | {
        kind: 'estimated'
        count: number
        excluded: number
        firstTs: number
        lastTs: number
        method: string
      }
    | { kind: 'given' }
}
