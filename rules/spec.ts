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

/** Where each rule goes in a canonical rule list: N1…N8, then WE1…WE4. */
const RULE_ORDER: Readonly<Record<RuleId, number>> = {
  N1: 0,
  N2: 1,
  N3: 2,
  N4: 3,
  N5: 4,
  N6: 5,
  N7: 6,
  N8: 7,
  WE1: 8,
  WE2: 9,
  WE3: 10,
  WE4: 11,
}

/** A JSON value with object keys sorted (recursively) and undefined fields left out. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key]
    if (v !== undefined) out[key] = sortedKeys(v)
  }
  return out
}

/**
 * The identity of a chart spec as text: canonical JSON with every object's keys sorted, the rule
 * list in the order N1…N8, WE1…WE4 (each rule once), and no undefined fields. Two specs that
 * differ only in the order of YAML keys or of the rules have the same identity, so reordering a
 * configuration does not reset frozen limits; any change of a value does.
 */
export function canonicalChartSpec(chart: ChartSpec): string {
  const rules = [...new Set(chart.rules)].sort((a, b) => RULE_ORDER[a] - RULE_ORDER[b])
  return JSON.stringify(sortedKeys({ ...chart, rules }))
}
