import type { RuleId } from './types.ts'

/** The charts the engine draws. */
export type ChartType = 'imr' | 'xbar-r' | 'xbar-s' | 'ewma' | 'cusum' | 'p' | 'np' | 'c' | 'u'

export const CHART_TYPES: readonly ChartType[] = [
  'imr',
  'xbar-r',
  'xbar-s',
  'ewma',
  'cusum',
  'p',
  'np',
  'c',
  'u',
]

/** Charts of counts against sample sizes: no subgroups of readings, no σ of a measurement, no capability. */
export const ATTRIBUTES_CHARTS: ReadonlySet<ChartType> = new Set(['p', 'np', 'c', 'u'])

/** Charts whose every observation is one point, whatever the subgrouping says. */
export const ONE_POINT_PER_OBSERVATION: ReadonlySet<ChartType> = new Set([
  'imr',
  ...ATTRIBUTES_CHARTS,
])

/** How σ is estimated from the baseline (defaults: imr mr, xbar-r rbar, xbar-s sbar). */
export type SigmaMethod = 'mr' | 'rbar' | 'sbar' | 'pooled'

/**
 * How observations form subgroups (variables charts, and EWMA/CUSUM on subgroup means):
 * a fixed count, a time window (aligned to the epoch), or a context key (lot, batch, sample
 * id) that closes the subgroup when it changes. I-MR and the attributes charts take each
 * observation as its own point.
 */
export type Subgrouping =
  | { by: 'count'; size: number }
  | { by: 'time'; windowMs: number }
  | { by: 'key' }

/**
 * Which subgroups estimate the limits (Phase I): the first k, or those in a time range (at most
 * MAX_BASELINE_SUBGROUPS: a range holding more ends at the cap, to bound memory).
 */
export type Baseline = { subgroups: number } | { from: number; to: number }

export interface ChartSpec {
  type: ChartType
  subgroup: Subgrouping
  baseline: Baseline
  /** Phase I: leave baseline points beyond the limits out and estimate again (Shewhart and attributes charts). */
  excludeOutOfControl: boolean
  /** Known parameters: μ and σ (variables), or p̄, n·p̄'s p, c̄, ū (attributes, `center` only). No baseline. */
  given?: { center: number; sigma?: number | undefined } | undefined
  sigmaMethod?: SigmaMethod | undefined
  rules: readonly RuleId[]
  /** Run lengths that differ from the canonical ones (N2 9, N3 6, N4 14, N7 15, N8 8, WE4 8). */
  runLengths?: Partial<Record<RuleId, number>> | undefined
  ewma?: { lambda: number; L: number } | undefined
  /** k and h in σ units; headStart is C⁺₀ = C⁻₀ (fast initial response), in σ units. */
  cusum?: { k: number; h: number; headStart: number; resetOnSignal: boolean } | undefined
}
