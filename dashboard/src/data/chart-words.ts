import type {
  CharacteristicView,
  ChartType,
  ControlLimitsView,
  RuleId,
  Subgrouping,
} from '../../../gateway/contract.ts'
import { formatDateTime, formatValue } from './format.ts'

/**
 * What a chart is, in words: its name, its panes, how its points are formed, what judges them
 * and where its limits come from. Mirrors rules/charts (the panes of each kind, which rules judge
 * them); pure.
 */

export const CHART_NAMES: Record<ChartType, string> = {
  imr: 'I-MR chart',
  'xbar-r': 'X̄-R chart',
  'xbar-s': 'X̄-S chart',
  ewma: 'EWMA chart',
  cusum: 'CUSUM chart',
  p: 'p chart',
  np: 'np chart',
  c: 'c chart',
  u: 'u chart',
}

export const ATTRIBUTES_CHARTS: ReadonlySet<ChartType> = new Set(['p', 'np', 'c', 'u'])

export interface PaneInfo {
  /** Heading of the pane. */
  label: string
  /** The statistic's symbol in the hover readout. */
  symbol: string
}

const PANES: Record<string, PaneInfo> = {
  i: { label: 'Individuals', symbol: 'x' },
  mr: { label: 'Moving range', symbol: 'MR' },
  xbar: { label: 'Subgroup means (X̄)', symbol: 'X̄' },
  r: { label: 'Subgroup ranges (R)', symbol: 'R' },
  s: { label: 'Subgroup standard deviations (S)', symbol: 'S' },
  ewma: { label: 'Exponentially weighted moving average (EWMA)', symbol: 'z' },
  cusum: { label: 'Cumulative sums in σ units: C⁺ upward, C⁻ downward', symbol: 'y' },
  p: { label: 'Proportion nonconforming (p)', symbol: 'p' },
  np: { label: 'Number nonconforming (np)', symbol: 'np' },
  c: { label: 'Nonconformities (c)', symbol: 'c' },
  u: { label: 'Nonconformities per unit (u)', symbol: 'u' },
}

export function paneInfo(pane: string): PaneInfo {
  return PANES[pane] ?? { label: pane, symbol: pane }
}

/**
 * The pane whose statistic is what the alert and action limits judge (the reading itself, or for
 * p and u its proportion or rate): only there, and on the readings, are those limits drawn. X̄,
 * EWMA and CUSUM plot something else than a reading, so none of their panes gets them.
 */
export function alarmPane(type: ChartType): string | null {
  switch (type) {
    case 'imr':
      return 'i'
    case 'p':
    case 'np':
    case 'c':
    case 'u':
      return type
    case 'xbar-r':
    case 'xbar-s':
    case 'ewma':
    case 'cusum':
      return null
  }
}

/** Decimals of a pane's values: the characteristic's for measured values, more for proportions. */
export function paneDecimals(type: ChartType, pane: string, decimals: number): number {
  if (pane === 'cusum') return 2
  if (type === 'p' || type === 'u') return Math.max(3, decimals)
  if (type === 'np' || type === 'c') return 2
  return decimals
}

/** How the points are formed: "individuals", "subgroups of 5", "a subgroup per 30 s", "one point per sample". */
export function subgroupWords(type: ChartType, subgroup: Subgrouping): string {
  if (type === 'c') return 'one point per inspection'
  if (ATTRIBUTES_CHARTS.has(type)) return 'one point per sample'
  if (type === 'imr') return 'individuals'
  switch (subgroup.by) {
    case 'count':
      return subgroup.size === 1 ? 'individuals' : `subgroups of ${subgroup.size}`
    case 'time':
      return `a subgroup per ${durationWords(subgroup.windowMs)}`
    case 'key':
      return 'a subgroup per lot (subgroup key)'
  }
}

/** What one point of the chart stands for, singular and plural, for the baseline's count. */
export function pointNoun(type: ChartType, subgroup: Subgrouping): [string, string] {
  if (ATTRIBUTES_CHARTS.has(type)) return ['sample', 'samples']
  if (type === 'imr' || (subgroup.by === 'count' && subgroup.size === 1))
    return ['reading', 'readings']
  return ['subgroup', 'subgroups']
}

/** "30 s", "5 min", "1 h 30 min", "250 ms". */
export function durationWords(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`
  const h = Math.floor(ms / 3_600_000)
  const min = Math.round((ms % 3_600_000) / 60_000)
  return min === 0 ? `${h} h` : `${h} h ${min} min`
}

/**
 * Run rules, runs of three or more consecutive ones joined by a dash: N1–N8, "N1, N2", WE1–WE4,
 * "N1, N5, N6".
 */
export function rulesList(rules: readonly RuleId[]): string {
  const parts: string[] = []
  for (const family of ['N', 'WE'] as const) {
    const numbers = rules
      .filter((r) => r.startsWith(family) && /^\d+$/.test(r.slice(family.length)))
      .map((r) => Number(r.slice(family.length)))
      .sort((a, b) => a - b)
    let k = 0
    while (k < numbers.length) {
      let end = k
      while (end + 1 < numbers.length && numbers[end + 1] === (numbers[end] as number) + 1) end++
      if (end - k >= 2) {
        parts.push(`${family}${numbers[k]}–${family}${numbers[end]}`)
      } else {
        for (let j = k; j <= end; j++) parts.push(`${family}${numbers[j]}`)
      }
      k = end + 1
    }
  }
  return parts.join(', ')
}

/** What judges the points: the configured run rules, N1 alone (EWMA), or the CUSUM decision interval. */
export function judgedBy(
  type: ChartType,
  rules: readonly RuleId[],
  control: ControlLimitsView | null,
): string {
  if (type === 'cusum') {
    const h = control?.panes.cusum?.ucl
    return h === null || h === undefined
      ? 'signals when C⁺ or C⁻ passes h'
      : `signals when C⁺ or C⁻ passes h = ${+h.toFixed(2)}σ`
  }
  if (type === 'ewma') return 'points beyond the limits (N1)'
  return rules.length === 0 ? 'no run rules' : `rules ${rulesList(rules)}`
}

/** σ estimators of the variables charts (rules/spec.ts SigmaMethod). */
const SIGMA_METHODS: Record<string, string> = {
  mr: 'σ from M̄R',
  rbar: 'σ from R̄',
  sbar: 'σ from S̄',
  pooled: 'σ pooled',
}

/** The centre's symbol of an attributes chart (p̄ for p and np). */
function attributesCentre(type: ChartType): string {
  return type === 'c' ? 'c̄' : type === 'u' ? 'ū' : 'p̄'
}

/**
 * Where the limits come from: "σ from R̄, estimated from 25 subgroups, 1 left out",
 * "p̄ estimated from 50 samples", "μ 500.0 and σ 1.00 given", "p̄ 0.050 given".
 */
export function estimateWords(
  type: ChartType,
  subgroup: Subgrouping,
  control: ControlLimitsView,
  decimals: number,
): string {
  const attributes = ATTRIBUTES_CHARTS.has(type)
  const basis = control.basis
  if (basis.kind === 'given') {
    return attributes
      ? `${attributesCentre(type)} ${formatValue(control.center, Math.max(3, decimals))} given`
      : `μ ${formatValue(control.center, decimals)} and σ ${formatValue(control.sigma, decimals + 1)} given`
  }
  const [one, many] = pointNoun(type, subgroup)
  const from = `estimated from ${basis.count} ${basis.count === 1 ? one : many}`
  const left = basis.excluded > 0 ? `, ${basis.excluded} left out` : ''
  if (attributes) return `${attributesCentre(type)} ${from}${left}`
  return `${SIGMA_METHODS[basis.method] ?? `σ (${basis.method})`}, ${from}${left}`
}

/** The baseline: its size, or how much of it is collected while it is collected. */
export function baselineWords(
  view: Pick<CharacteristicView, 'chart' | 'state'>,
  timeZone?: string,
): string | null {
  const { type, subgroup, baseline, control } = view.chart
  if (control?.basis.kind === 'given') return null
  const [one, many] = pointNoun(type, subgroup)
  const collecting = control === null ? view.state.baseline : null
  if ('count' in baseline) {
    if (collecting) return `baseline ${collecting.have} of ${baseline.count} ${many}`
    return `baseline ${baseline.count} ${baseline.count === 1 ? one : many}`
  }
  const range = `${formatDateTime(baseline.from, timeZone)} to ${formatDateTime(baseline.to, timeZone)}`
  if (collecting)
    return `baseline ${range}, ${collecting.have} ${collecting.have === 1 ? one : many} so far`
  return `baseline ${range}`
}

/**
 * The header line of a chart: "X̄-R chart · subgroups of 5 · baseline 25 subgroups · rules N1–N8 ·
 * σ from R̄, estimated from 25 subgroups, 1 left out".
 */
export function chartHeader(
  view: Pick<CharacteristicView, 'chart' | 'state' | 'decimals'>,
  timeZone?: string,
): string {
  const { type, subgroup, rules, control } = view.chart
  const parts = [CHART_NAMES[type] ?? `${type} chart`, subgroupWords(type, subgroup)]
  const baseline = baselineWords(view, timeZone)
  if (baseline) parts.push(baseline)
  parts.push(judgedBy(type, rules, control))
  if (control) parts.push(estimateWords(type, subgroup, control, view.decimals))
  return parts.join(' · ')
}

/**
 * Decimals of a pane's σ: the pane's (the characteristic's decimals for measured values), or more
 * when that would leave fewer than two significant digits (a σ of 0.0042 with three decimals
 * reads 0.0042, not 0.004), at most nine.
 */
export function sigmaDecimals(
  type: ChartType,
  pane: string,
  sigma: number,
  decimals: number,
): number {
  const d = paneDecimals(type, pane, decimals)
  if (!Number.isFinite(sigma) || sigma <= 0) return d
  const significant = 1 - Math.floor(Math.log10(sigma))
  return Math.min(9, Math.max(d, significant))
}

/**
 * The σ a pane's limits use, in words: "σ 0.021"; null without one. A CUSUM pane is in σ units
 * (its σ is 1 and its limits ±h): given `scale`, the σ of one point in the characteristic's unit
 * (the process σ over √n), it says what that unit is: "σ 1.00 = 0.200 °C".
 */
export function sigmaWords(
  type: ChartType,
  pane: string,
  sigma: number | null | undefined,
  decimals: number,
  scale?: { sigma: number; n: number; unit: string },
): string | null {
  if (sigma === null || sigma === undefined || !Number.isFinite(sigma)) return null
  const words = `σ ${formatValue(sigma, sigmaDecimals(type, pane, sigma, decimals))}`
  if (pane !== 'cusum' || !scale || !(scale.sigma > 0) || !(scale.n >= 1)) return words
  const unitSigma = (sigma * scale.sigma) / Math.sqrt(scale.n)
  const d = Math.max(decimals + 1, sigmaDecimals(type, 'i', unitSigma, decimals))
  const value = formatValue(unitSigma, d)
  return `${words} = ${scale.unit ? `${value} ${scale.unit}` : value}`
}
