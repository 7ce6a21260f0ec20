import type {
  AlarmLimits,
  ChartPointView,
  ChartType,
  ControlLimitsView,
  PanePoint,
  ViolationRule,
} from '../../../gateway/contract.ts'
import { alarmPane } from './chart-words.ts'
import { finite } from './series.ts'
import { ruleShort } from './status.ts'

type Column = (number | null)[]

/** A point flagged on one pane, to mark and name there. */
export interface ViolationMark {
  /** Position in the series. */
  at: number
  index: number
  ts: number
  /** Height of the marker: the statistic (for CUSUM, C⁺ or −C⁻). */
  value: number
  rules: ViolationRule[]
  /** First point of a run flagged for the same rules on this pane: where the rules are named. */
  onset: boolean
}

/** The alert and action limits, drawn on the pane that plots what they judge. */
export interface AlarmColumns {
  actionHigh: Column
  alertHigh: Column
  alertLow: Column
  actionLow: Column
  /** Statistics strictly beyond an action limit; null elsewhere. */
  beyondAction: Column
  /** Statistics strictly beyond an alert limit but not an action limit; null elsewhere. */
  beyondAlert: Column
}

/** The columns uPlot draws for one pane. */
export interface PaneSeries {
  pane: string
  /** `cusum`: C⁺ upward and C⁻ downward against ±h; `statistic`: one statistic per point. */
  kind: 'statistic' | 'cusum'
  /** The statistic, joined by a line (CUSUM: C⁺). */
  value: Column
  /** CUSUM only: −C⁻ (so the lower sum grows downward); null elsewhere. */
  lower: Column
  /** Statistics of baseline (Phase I) points, drawn hollow; null elsewhere. */
  baseline: Column
  /** Statistics judged against frozen limits (Phase II); null elsewhere. */
  monitor: Column
  /** Where a violation ring is drawn (CUSUM: on C⁺ for an upward signal); null elsewhere. */
  violation: Column
  /** CUSUM only: rings on −C⁻ for a downward signal; null elsewhere. */
  lowerViolation: Column
  /** Each point's own centre line and limits (stepped): null is no line there. */
  cl: Column
  ucl: Column
  lcl: Column
  alarm: AlarmColumns | null
  violations: ViolationMark[]
}

/**
 * The columns of a chart of any type, every pane on one x: the position of the point, evenly
 * spaced as on a paper chart whatever the gaps in time, keeping gaps in the indices (dropped
 * points) and moving on by one where the indices start again (limits estimated anew). `ts` maps x
 * back to time for the axis.
 */
export interface ChartSeries {
  x: number[]
  ts: number[]
  /** Observations in each point's subgroup (the sample size for attributes). */
  n: number[]
  panes: PaneSeries[]
  /** Runs of consecutive baseline points, [first, last] positions, for the Phase I band. */
  baselineRuns: [number, number][]
  /** Positions where a new stream begins (the indices start again: limits estimated anew). */
  restarts: number[]
}

/** Rules that test a point beyond the limits: they may fire on any pane, the others on the primary only. */
const LIMIT_TESTS: ReadonlySet<ViolationRule> = new Set(['N1', 'WE1'])

function beyond(pane: PanePoint | undefined): boolean {
  const v = finite(pane?.statistic)
  if (v === null || !pane) return false
  return (pane.ucl !== null && v > pane.ucl) || (pane.lcl !== null && v < pane.lcl)
}

/**
 * The panes a point's rule was found on. A point carries its rules without their pane: CUSUM
 * signals belong to the CUSUM pane, a limits test (N1, WE1) to each pane whose statistic lies
 * beyond its own limits (the primary one if none does), every other rule to the primary pane.
 */
export function panesOfRule(
  point: ChartPointView,
  rule: ViolationRule,
  panes: readonly string[],
): string[] {
  const primary = panes[0] ?? ''
  if (rule === 'cusum-upper' || rule === 'cusum-lower')
    return panes.includes('cusum') ? ['cusum'] : [primary]
  if (LIMIT_TESTS.has(rule)) {
    const found = panes.filter((p) => beyond(point.panes[p]))
    return found.length > 0 ? found : [primary]
  }
  return [primary]
}

/** As rules/alarm-limits.ts classifies: strictly beyond a limit is past it. */
export function alarmZone(l: AlarmLimits, v: number): 'action' | 'alert' | 'normal' {
  if (
    (l.actionHigh !== undefined && v > l.actionHigh) ||
    (l.actionLow !== undefined && v < l.actionLow)
  )
    return 'action'
  if (
    (l.alertHigh !== undefined && v > l.alertHigh) ||
    (l.alertLow !== undefined && v < l.alertLow)
  )
    return 'alert'
  return 'normal'
}

/**
 * Values strictly beyond an action limit, and beyond an alert limit but not an action limit (null
 * elsewhere): the markers of readings drawn against the alarm limits.
 */
export function alarmMarks(
  values: readonly (number | null)[],
  alarm: AlarmLimits,
): { beyondAlert: Column; beyondAction: Column } {
  const beyondAlert: Column = []
  const beyondAction: Column = []
  for (const value of values) {
    const v = finite(value)
    const zone = v === null ? 'normal' : alarmZone(alarm, v)
    beyondAction.push(zone === 'action' ? v : null)
    beyondAlert.push(zone === 'alert' ? v : null)
  }
  return { beyondAlert, beyondAction }
}

function constant(n: number, value: number | undefined): Column {
  return new Array<number | null>(n).fill(
    value !== undefined && Number.isFinite(value) ? value : null,
  )
}

/**
 * Builds every pane's columns. Each point's own limits are drawn (they vary with n on p, u and
 * X̄ charts, with time on EWMA); a baseline point without limits (Phase I, before they froze)
 * gets the current ones, so the baseline is read against them as on a Phase I chart, when they
 * would be its own: it belongs to the latest stream (no restart since), its n is that of the
 * latest point, and the judged points' limits do not vary.
 * Alert and action limits go on the pane `alarmPane` names only.
 */
export function buildChartSeries(
  points: readonly ChartPointView[],
  options: {
    type: ChartType
    panes: readonly string[]
    alarm: AlarmLimits
    control: ControlLimitsView | null
  },
): ChartSeries {
  const { type, panes, alarm, control } = options
  const count = points.length
  const alarmOn = alarmPane(type)
  const refN = points[count - 1]?.n
  const s: ChartSeries = {
    x: new Array(count),
    ts: new Array(count),
    n: new Array(count),
    panes: [],
    baselineRuns: [],
    restarts: [],
  }
  const column = (): Column => new Array<number | null>(count).fill(null)
  for (const pane of panes) {
    s.panes.push({
      pane,
      kind: pane === 'cusum' ? 'cusum' : 'statistic',
      value: column(),
      lower: column(),
      baseline: column(),
      monitor: column(),
      violation: column(),
      lowerViolation: column(),
      cl: column(),
      ucl: column(),
      lcl: column(),
      alarm:
        pane === alarmOn
          ? {
              actionHigh: constant(count, alarm.actionHigh),
              alertHigh: constant(count, alarm.alertHigh),
              alertLow: constant(count, alarm.alertLow),
              actionLow: constant(count, alarm.actionLow),
              beyondAction: column(),
              beyondAlert: column(),
            }
          : null,
      violations: [],
    })
  }
  // Limits are lent only within the latest stream: before a restart other limits were in force.
  let latestStream = 0
  for (let k = 1; k < count; k++) {
    if ((points[k] as ChartPointView).index <= (points[k - 1] as ChartPointView).index)
      latestStream = k
  }
  /** Panes whose judged points have limits that differ (by n, or in time): no limits are lent to them. */
  const varying = new Set<string>()
  const seen = new Map<string, string>()
  for (const p of points.slice(latestStream)) {
    if (p.phase !== 'monitor') continue
    for (const pane of panes) {
      const pp = p.panes[pane]
      if (!pp || finite(pp.center) === null) continue
      const key = `${pp.center}/${pp.lcl}/${pp.ucl}`
      const before = seen.get(pane)
      if (before === undefined) seen.set(pane, key)
      else if (before !== key) varying.add(pane)
    }
  }
  /** Rules flagged at the previous position, per pane (for the onset of a run). */
  const previous = new Map<string, string>()

  points.forEach((p, k) => {
    const before = points[k - 1]
    const restart = before !== undefined && p.index <= before.index
    if (restart) s.restarts.push(k)
    s.x[k] =
      before === undefined
        ? p.index
        : (s.x[k - 1] as number) + (restart ? 1 : p.index - before.index)
    s.ts[k] = p.ts
    s.n[k] = p.n
    if (p.phase === 'baseline') {
      const run = s.baselineRuns[s.baselineRuns.length - 1]
      if (run && run[1] === k - 1 && !restart) run[1] = k
      else s.baselineRuns.push([k, k])
    }
    const consecutive = before !== undefined && p.index === before.index + 1

    // Which pane each of the point's rules belongs to (a rule two panes completed comes twice).
    const byPane = new Map<string, ViolationRule[]>()
    for (const rule of new Set(p.rules)) {
      for (const pane of panesOfRule(p, rule, panes)) {
        const list = byPane.get(pane) ?? []
        list.push(rule)
        byPane.set(pane, list)
      }
    }

    for (const ps of s.panes) {
      const pp = p.panes[ps.pane]
      const fallback =
        p.phase === 'baseline' &&
        k >= latestStream &&
        finite(pp?.center) === null &&
        p.n === refN &&
        !varying.has(ps.pane)
          ? control?.panes[ps.pane]
          : undefined
      ps.cl[k] = finite(pp?.center) ?? finite(fallback?.center)
      ps.ucl[k] = finite(pp?.ucl) ?? finite(fallback?.ucl)
      ps.lcl[k] = finite(pp?.lcl) ?? finite(fallback?.lcl)
      let v: number | null
      if (ps.kind === 'cusum') {
        v = finite(pp?.upper)
        const lower = finite(pp?.lower)
        ps.value[k] = v
        ps.lower[k] = lower === null ? null : lower === 0 ? 0 : -lower
      } else {
        v = finite(pp?.statistic)
        ps.value[k] = v
        ps.baseline[k] = p.phase === 'baseline' ? v : null
        ps.monitor[k] = p.phase === 'monitor' ? v : null
      }
      if (ps.alarm && v !== null) {
        const zone = alarmZone(alarm, v)
        ps.alarm.beyondAction[k] = zone === 'action' ? v : null
        ps.alarm.beyondAlert[k] = zone === 'alert' ? v : null
      }

      const rules = byPane.get(ps.pane) ?? []
      const key = rules.join()
      const onset = !consecutive || previous.get(ps.pane) !== key
      previous.set(ps.pane, key)
      if (rules.length === 0) continue
      if (ps.kind === 'cusum') {
        // C⁺ signals up, C⁻ down: each ring sits on the sum that passed h.
        const up = rules.filter((r) => r !== 'cusum-lower')
        const down = rules.filter((r) => r === 'cusum-lower')
        const upper = finite(pp?.upper)
        const lower = finite(pp?.lower)
        if (up.length > 0 && upper !== null) {
          ps.violation[k] = upper
          ps.violations.push({ at: k, index: p.index, ts: p.ts, value: upper, rules: up, onset })
        }
        if (down.length > 0 && lower !== null) {
          ps.lowerViolation[k] = -lower
          ps.violations.push({ at: k, index: p.index, ts: p.ts, value: -lower, rules: down, onset })
        }
      } else if (v !== null) {
        ps.violation[k] = v
        ps.violations.push({ at: k, index: p.index, ts: p.ts, value: v, rules: [...rules], onset })
      }
    }
  })
  return s
}

/** The words naming a mark's rules on the chart: "N1 N2", "CUSUM up". */
export function markLabel(mark: ViolationMark): string {
  return mark.rules.map(ruleShort).join(' ')
}

/**
 * The control limits with each pane's lines taken from the latest point that has them (in the
 * latest stream): the lines in force now, when they vary point by point and live points arrived
 * since the characteristic was fetched. Null while there are no limits.
 */
export function latestControl(
  control: ControlLimitsView | null,
  points: readonly ChartPointView[],
): ControlLimitsView | null {
  if (!control) return null
  const panes = { ...control.panes }
  const found = new Set<string>()
  for (let k = points.length - 1; k >= 0; k--) {
    const p = points[k] as ChartPointView
    // Points before a restart were judged against limits no longer in force.
    const after = points[k + 1]
    if (after && after.index <= p.index) break
    if (p.phase === 'baseline') continue
    for (const [name, pane] of Object.entries(p.panes)) {
      const center = finite(pane.center)
      if (found.has(name) || center === null) continue
      found.add(name)
      panes[name] = { center, lcl: finite(pane.lcl), ucl: finite(pane.ucl) }
    }
    if (found.size >= Object.keys(p.panes).length) break
  }
  return { ...control, panes }
}

/**
 * The σ each pane's limits use (PanePoint.sigma: the σ of the plotted statistic, the limits being
 * centre ± L·σ), from the point the legend's lines come from (see latestControl): the latest
 * judged point of the latest stream that reports one. Null for a pane without one (no limits yet,
 * or only baseline points).
 */
export function latestSigmas(
  points: readonly ChartPointView[],
  panes: readonly string[],
): Record<string, number | null> {
  const out: Record<string, number | null> = Object.fromEntries(panes.map((p) => [p, null]))
  let left = panes.length
  for (let k = points.length - 1; k >= 0 && left > 0; k--) {
    const p = points[k] as ChartPointView
    const after = points[k + 1]
    if (after && after.index <= p.index) break
    if (p.phase === 'baseline') continue
    for (const pane of panes) {
      if (out[pane] !== null) continue
      const sigma = finite(p.panes[pane]?.sigma)
      if (sigma === null) continue
      out[pane] = sigma
      left--
    }
  }
  return out
}
