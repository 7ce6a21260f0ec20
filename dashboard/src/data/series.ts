import type {
  AlarmLimits,
  ChartPointView,
  ControlLimitsView,
  ViolationRule,
} from '../../../gateway/contract.ts'

/** The live chart keeps at most this many points: enough for a shift at a glance, cheap to redraw. */
export const MAX_CHART_POINTS = 500

/**
 * Adds live points to a chart buffer: in index order, skipping points already held (a refetch and
 * a live flush may overlap), keeping the newest `max`. Returns a new array.
 */
export function appendPoints(
  buffer: readonly ChartPointView[],
  incoming: readonly ChartPointView[],
  max = MAX_CHART_POINTS,
): ChartPointView[] {
  let last = buffer.length > 0 ? (buffer[buffer.length - 1] as ChartPointView).index : -1
  const fresh: ChartPointView[] = []
  for (const p of [...incoming].sort((a, b) => a.index - b.index)) {
    if (p.index <= last) continue
    fresh.push(p)
    last = p.index
  }
  if (fresh.length === 0 && buffer.length <= max) return [...buffer]
  const all = buffer.concat(fresh)
  return all.length > max ? all.slice(all.length - max) : all
}

/** A horizontal reference line on a chart. */
export interface LimitLine {
  key: 'action-high' | 'alert-high' | 'ucl' | 'cl' | 'lcl' | 'alert-low' | 'action-low'
  label: string
  value: number
}

/** The lines in force for the individuals pane, highest first: alarm limits and control limits. */
export function limitLines(alarm: AlarmLimits, control: ControlLimitsView | null): LimitLine[] {
  const lines: LimitLine[] = []
  const add = (key: LimitLine['key'], label: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value))
      lines.push({ key, label, value })
  }
  add('action-high', 'Action high', alarm.actionHigh)
  add('alert-high', 'Alert high', alarm.alertHigh)
  const i = control?.panes.i
  add('ucl', 'UCL', i?.ucl)
  add('cl', 'CL', i?.center ?? control?.center)
  add('lcl', 'LCL', i?.lcl)
  add('alert-low', 'Alert low', alarm.alertLow)
  add('action-low', 'Action low', alarm.actionLow)
  return lines.sort((a, b) => b.value - a.value)
}

type Column = (number | null)[]

/** A point that completed one or more run rules, to mark and name on the chart. */
export interface ViolationMark {
  /** Position in the series (x index). */
  at: number
  index: number
  ts: number
  value: number
  rules: ViolationRule[]
  /** First point of a run of points flagged for the same rules: where the rule is named on the chart. */
  onset: boolean
}

/**
 * The columns uPlot draws for an I-MR chart. x is the chart point index (points are evenly spaced,
 * as on a paper control chart, whatever the gaps in time); `ts` maps it back to time for the axis.
 */
export interface ControlSeries {
  x: number[]
  ts: number[]
  i: {
    /** Every individual, joined by a line. */
    value: Column
    /** Individuals of the baseline (Phase I), drawn hollow; null elsewhere. */
    baseline: Column
    /** Individuals judged against frozen limits (Phase II); null elsewhere. */
    monitor: Column
    /** Individuals that completed a run rule; null elsewhere. */
    violation: Column
    /** Individuals strictly beyond an action limit; null elsewhere. */
    beyondAction: Column
    /** Individuals strictly beyond an alert limit but not an action limit; null elsewhere. */
    beyondAlert: Column
    cl: Column
    ucl: Column
    lcl: Column
    actionHigh: Column
    alertHigh: Column
    alertLow: Column
    actionLow: Column
  }
  mr: { value: Column; cl: Column; ucl: Column }
  violations: ViolationMark[]
}

/**
 * Builds the chart columns. The control lines follow each point's own limits (so a limit change
 * shows where it happened); where a point has none (baseline points, before the limits were
 * frozen) the current limits are drawn so the baseline is read against them, as in a Phase I chart.
 */
export function buildControlSeries(
  points: readonly ChartPointView[],
  alarm: AlarmLimits,
  control: ControlLimitsView | null,
): ControlSeries {
  const n = points.length
  const s: ControlSeries = {
    x: new Array(n),
    ts: new Array(n),
    i: {
      value: new Array(n),
      baseline: new Array(n),
      monitor: new Array(n),
      violation: new Array(n),
      beyondAction: new Array(n),
      beyondAlert: new Array(n),
      cl: new Array(n),
      ucl: new Array(n),
      lcl: new Array(n),
      actionHigh: constant(n, alarm.actionHigh),
      alertHigh: constant(n, alarm.alertHigh),
      alertLow: constant(n, alarm.alertLow),
      actionLow: constant(n, alarm.actionLow),
    },
    mr: { value: new Array(n), cl: new Array(n), ucl: new Array(n) },
    violations: [],
  }
  const ci = control?.panes.i
  const cmr = control?.panes.mr
  points.forEach((p, k) => {
    const i = p.panes.i
    const mr = p.panes.mr
    const v = finite(i?.statistic)
    s.x[k] = p.index
    s.ts[k] = p.ts
    s.i.value[k] = v
    s.i.baseline[k] = p.phase === 'baseline' ? v : null
    s.i.monitor[k] = p.phase === 'monitor' ? v : null
    s.i.violation[k] = p.rules.length > 0 ? v : null
    const zone = v === null ? 'normal' : classify(alarm, v)
    s.i.beyondAction[k] = zone === 'action' ? v : null
    s.i.beyondAlert[k] = zone === 'alert' ? v : null
    s.i.cl[k] = finite(i?.center) ?? finite(ci?.center) ?? finite(control?.center)
    s.i.ucl[k] = finite(i?.ucl) ?? finite(ci?.ucl)
    s.i.lcl[k] = finite(i?.lcl) ?? finite(ci?.lcl)
    s.mr.value[k] = finite(mr?.statistic)
    s.mr.cl[k] = finite(mr?.center) ?? finite(cmr?.center)
    s.mr.ucl[k] = finite(mr?.ucl) ?? finite(cmr?.ucl)
    if (p.rules.length > 0 && v !== null) {
      const before = points[k - 1]
      const onset =
        !before || before.index !== p.index - 1 || before.rules.join() !== p.rules.join()
      s.violations.push({ at: k, index: p.index, ts: p.ts, value: v, rules: [...p.rules], onset })
    }
  })
  return s
}

/** The columns of a small readings chart (a nonconformance's readings around its trigger). */
export interface ReadingsSeries {
  x: number[]
  ts: number[]
  value: Column
  /** Readings recorded as occurrences of the nonconformance (the trigger among them); null elsewhere. */
  occurrence: Column
  /** Position of the trigger reading, or -1 when it is not among the readings. */
  trigger: number
}

export function buildReadingsSeries(
  readings: readonly { ts: number; value: number }[],
  trigger: { ts: number; value: number },
  occurrences: readonly { ts: number; value: number }[] = [],
): ReadingsSeries {
  const sorted = [...readings].sort((a, b) => a.ts - b.ts)
  const marked = new Set(occurrences.map((o) => `${o.ts}:${o.value}`))
  marked.add(`${trigger.ts}:${trigger.value}`)
  let at = -1
  const out: ReadingsSeries = { x: [], ts: [], value: [], occurrence: [], trigger: -1 }
  sorted.forEach((r, k) => {
    const key = `${r.ts}:${r.value}`
    out.x.push(k)
    out.ts.push(r.ts)
    out.value.push(finite(r.value))
    out.occurrence.push(marked.has(key) ? finite(r.value) : null)
    if (at < 0 && r.ts === trigger.ts && r.value === trigger.value) at = k
  })
  out.trigger = at
  return out
}

/** The point time stamp closest to a (fractional) x position, for axis labels; null off the data. */
export function tsAt(
  series: { x: readonly number[]; ts: readonly number[] },
  x: number,
): number | null {
  const xs = series.x
  if (xs.length === 0) return null
  let lo = 0
  let hi = xs.length - 1
  if (x < (xs[lo] as number) - 0.5 || x > (xs[hi] as number) + 0.5) return null
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if ((xs[mid] as number) <= x) lo = mid
    else hi = mid
  }
  const best = Math.abs((xs[hi] as number) - x) < Math.abs((xs[lo] as number) - x) ? hi : lo
  return series.ts[best] ?? null
}

/** As rules/alarm-limits.ts classifies: strictly beyond a limit is past it. */
function classify(l: AlarmLimits, v: number): 'action' | 'alert' | 'normal' {
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

function constant(n: number, value: number | undefined): Column {
  return new Array<number | null>(n).fill(
    value !== undefined && Number.isFinite(value) ? value : null,
  )
}

function finite(v: number | null | undefined): number | null {
  return v !== null && v !== undefined && Number.isFinite(v) ? v : null
}
