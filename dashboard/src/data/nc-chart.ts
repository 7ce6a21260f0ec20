import type {
  ChartPointView,
  ChartType,
  NonconformanceView,
  ViolationRule,
} from '../../../gateway/contract.ts'
import { paneDecimals, paneInfo } from './chart-words.ts'
import { formatValue } from './format.ts'
import { finite, type LimitLine, limitLines, readingsLines } from './series.ts'

/**
 * What a nonconformance's chart plots, and against which lines. Pure.
 *
 * A limit excursion (and a rule on a pane whose statistic is the reading itself: I-MR's
 * individuals, np and c) is read on the readings, with the lines that judge a reading
 * (series.ts readingsLines). A rule on any other pane judged that pane's statistic (a moving
 * range, a subgroup mean or range, an EWMA's z, a proportion, a CUSUM sum): the chart plots that
 * statistic, from the chart's points around the trigger, against that pane's limits in force when
 * the NC opened (or, when those are not known, the limit the trigger was beyond). A CUSUM signal
 * plots the sum of its side (C⁺, or C⁻ as a positive sum) against h, and its run is marked.
 */

type Trigger = NonconformanceView['trigger']

/** Panes whose statistic is a reading (or what a reading counts). */
const READING_PANES: ReadonlySet<string> = new Set(['i', 'np', 'c'])

export interface NcChartPlan {
  /** `readings`: the readings around the trigger; `pane`: the statistic of the pane the rule judged. */
  source: 'readings' | 'pane'
  /** The pane the rule judged (null for a limit excursion, or an NC recorded without it). */
  pane: string | null
  /** Heading of the chart: "Readings around the trigger", "Moving range around the trigger". */
  heading: string
  /** The horizontal lines drawn. */
  lines: LimitLine[]
  /** Decimals of the values plotted. */
  decimals: number
}

/** Whether a trigger judged a pane's statistic other than the readings. */
export function judgesStatistic(trigger: Pick<Trigger, 'rule' | 'pane'>): boolean {
  return trigger.rule !== null && trigger.pane !== null && !READING_PANES.has(trigger.pane)
}

function isCusum(rule: ViolationRule | null): boolean {
  return rule === 'cusum-upper' || rule === 'cusum-lower'
}

/** The CUSUM sum of a signal's side, in words: "C⁺", "C⁻". */
export function cusumSide(rule: ViolationRule | null): 'C⁺' | 'C⁻' {
  return rule === 'cusum-lower' ? 'C⁻' : 'C⁺'
}

/**
 * The chart of an NC. `type` is the characteristic's chart (null when it left the configuration),
 * `decimals` its decimals.
 */
export function ncChartPlan(
  nc: Pick<NonconformanceView, 'trigger' | 'limitsInForce'>,
  type: ChartType | null,
  decimals: number,
): NcChartPlan {
  const { trigger, limitsInForce } = nc
  const { alarm, control } = limitsInForce
  if (!judgesStatistic(trigger)) {
    return {
      source: 'readings',
      pane: trigger.pane,
      heading: 'Readings around the trigger',
      lines: readingsLines(type, alarm, control),
      decimals,
    }
  }
  const pane = trigger.pane as string
  const own = control?.panes[pane]
  if (isCusum(trigger.rule)) {
    const h = finite(own?.ucl) ?? finite(trigger.limit)
    return {
      source: 'pane',
      pane,
      heading: `${cusumSide(trigger.rule)} (in σ) around the signal`,
      lines: h === null ? [] : [{ key: 'ucl', label: 'h', value: h }],
      decimals: 2,
    }
  }
  let lines: LimitLine[]
  if (own) lines = limitLines({}, control, pane)
  else if (trigger.limit !== null && Number.isFinite(trigger.limit)) {
    const above = trigger.value > trigger.limit
    lines = [{ key: above ? 'ucl' : 'lcl', label: above ? 'UCL' : 'LCL', value: trigger.limit }]
  } else lines = []
  return {
    source: 'pane',
    pane,
    heading: `${paneInfo(pane).label} around the trigger`,
    lines,
    decimals: type === null ? decimals : paneDecimals(type, pane, decimals),
  }
}

/** The time span of the readings around an NC, its trigger included: where its chart points are fetched. */
export function ncWindow(nc: Pick<NonconformanceView, 'trigger' | 'readings'>): {
  from: number
  to: number
} {
  let from = nc.trigger.ts
  let to = nc.trigger.ts
  for (const r of nc.readings) {
    if (r.ts < from) from = r.ts
    if (r.ts > to) to = r.ts
  }
  return { from, to }
}

/**
 * The values a pane chart plots: each point's statistic on the pane (a CUSUM signal's: the sum of
 * its side), oldest first, points without one left out.
 */
export function paneValues(
  points: readonly ChartPointView[],
  pane: string,
  rule: ViolationRule | null,
): { ts: number; value: number }[] {
  const out: { ts: number; value: number }[] = []
  for (const p of points) {
    const pp = p.panes[pane]
    const v = isCusum(rule) ? (rule === 'cusum-lower' ? pp?.lower : pp?.upper) : pp?.statistic
    const value = finite(v)
    if (value !== null) out.push({ ts: p.ts, value })
  }
  return out.sort((a, b) => a.ts - b.ts)
}

/**
 * The span of a CUSUM signal's run: from the point its side left 0 to the trigger, found among
 * the chart's points by index (runLength points ending at the trigger's). Null when unknown.
 */
export function runSpan(
  points: readonly ChartPointView[],
  trigger: Pick<Trigger, 'ts' | 'runLength'>,
): { from: number; to: number } | null {
  if (trigger.runLength === null || !(trigger.runLength >= 1)) return null
  const end = points.find((p) => p.ts === trigger.ts)
  if (!end) return null
  const first = end.index - trigger.runLength + 1
  const start = points.find((p) => p.index === first && p.ts <= end.ts)
  return start ? { from: start.ts, to: end.ts } : null
}

/** "run of 7 points" for a CUSUM trigger; null for any other. */
export function runWords(trigger: Pick<Trigger, 'rule' | 'runLength'>): string | null {
  if (!isCusum(trigger.rule) || trigger.runLength === null) return null
  const n = trigger.runLength
  return `run of ${n} ${n === 1 ? 'point' : 'points'} since ${cusumSide(trigger.rule)} left 0`
}

/**
 * Whether a reading is the one that triggered: the same time and value when the trigger judged
 * readings, the same time when it judged a statistic (the reading that completed the point).
 */
export function isTriggerReading(r: { ts: number; value: number }, trigger: Trigger): boolean {
  if (r.ts !== trigger.ts) return false
  return judgesStatistic(trigger) || r.value === trigger.value
}

/** The limit a trigger was beyond, in words: "past 505.0", "past h = 4.00σ"; null without one. */
export function triggerLimitWords(
  trigger: Pick<Trigger, 'rule' | 'limit'>,
  decimals: number,
): string | null {
  if (trigger.limit === null || !Number.isFinite(trigger.limit)) return null
  return isCusum(trigger.rule)
    ? `past h = ${formatValue(trigger.limit, 2)}σ`
    : `past ${formatValue(trigger.limit, decimals)}`
}

/**
 * The heading of an NC's occurrence values: what the trigger judged ("C⁺" in σ, an EWMA's "z",
 * "MR" in the unit) when it judged a pane's statistic, else the readings' "Value".
 */
export function occurrenceHeading(
  trigger: Pick<Trigger, 'rule' | 'pane'>,
  unit: string,
): { name: string; unit: string } {
  if (!judgesStatistic(trigger)) return { name: 'Value', unit }
  if (isCusum(trigger.rule)) return { name: cusumSide(trigger.rule), unit: 'σ' }
  const pane = trigger.pane as string
  // p and u judge a proportion and a rate: no unit.
  return { name: paneInfo(pane).symbol, unit: pane === 'p' || pane === 'u' ? '' : unit }
}
