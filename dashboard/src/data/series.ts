import type {
  AlarmLimits,
  ChartPointView,
  ChartType,
  ControlLimitsView,
} from '../../../gateway/contract.ts'

/** The live chart keeps at most this many points: enough for a shift at a glance, cheap to redraw. */
export const MAX_CHART_POINTS = 500

/** Chart order: by time, then by index (after the limits are estimated anew, indices start again at 0). */
export function comparePoints(a: ChartPointView, b: ChartPointView): number {
  return a.ts - b.ts || a.index - b.index
}

/**
 * Adds live points to a chart buffer: in chart order, skipping points already held (a refetch and
 * a live flush may overlap), keeping the newest `max`. A point is new when it comes after the last
 * one held in index or in time: a restarted stream (indices from 0 again, later times) is new, a
 * repeat of a held point is not. Returns a new array.
 */
export function appendPoints(
  buffer: readonly ChartPointView[],
  incoming: readonly ChartPointView[],
  max = MAX_CHART_POINTS,
): ChartPointView[] {
  let last = buffer[buffer.length - 1]
  const fresh: ChartPointView[] = []
  for (const p of [...incoming].sort(comparePoints)) {
    if (last && p.index <= last.index && p.ts <= last.ts) continue
    fresh.push(p)
    last = p
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

/**
 * The lines in force on a pane, highest first: the alarm limits (pass `{}` for a pane they do not
 * judge) and the pane's control limits at the latest point. The individuals pane falls back to
 * the chart's centre.
 */
export function limitLines(
  alarm: AlarmLimits,
  control: ControlLimitsView | null,
  pane = 'i',
): LimitLine[] {
  const lines: LimitLine[] = []
  const add = (key: LimitLine['key'], label: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value))
      lines.push({ key, label, value })
  }
  add('action-high', 'Action high', alarm.actionHigh)
  add('alert-high', 'Alert high', alarm.alertHigh)
  const own = control?.panes[pane]
  add('ucl', 'UCL', own?.ucl)
  add('cl', 'CL', own?.center ?? (pane === 'i' ? control?.center : undefined))
  add('lcl', 'LCL', own?.lcl)
  add('alert-low', 'Alert low', alarm.alertLow)
  add('action-low', 'Action low', alarm.actionLow)
  return lines.sort((a, b) => b.value - a.value)
}

/**
 * The lines drawn over raw readings (a nonconformance's readings chart): the alert and action
 * limits, which judge each reading, and the control limits only where the chart's primary pane
 * plots the readings themselves (I-MR, np, c). On p and u charts the readings are counts while
 * the limits judge their proportion or rate: no line fits them. Without the chart type (the
 * characteristic left the configuration) the individuals' lines, as before chart types existed.
 */
export function readingsLines(
  type: ChartType | null,
  alarm: AlarmLimits,
  control: ControlLimitsView | null,
): LimitLine[] {
  if (type === null || type === 'imr') return limitLines(alarm, control, 'i')
  if (type === 'np' || type === 'c') return limitLines(alarm, control, type)
  if (type === 'p' || type === 'u') return []
  // X̄, EWMA and CUSUM limits judge subgroup statistics, not single readings.
  return limitLines(alarm, null)
}

type Column = (number | null)[]

/** The columns of a small readings chart (a nonconformance's readings around its trigger). */
export interface ReadingsSeries {
  /** Where each value is drawn: its position (`index` axis) or its time stamp (`time` axis). */
  x: number[]
  ts: number[]
  value: Column
  /** Readings recorded as occurrences of the nonconformance (the trigger among them); null elsewhere. */
  occurrence: Column
  /** The trigger's value at its position; null elsewhere. */
  triggerMark: Column
  /** Position of the trigger reading, or -1 when it is not among the readings (or there is none). */
  trigger: number
}

/**
 * The columns of a readings chart, oldest first. The trigger is the reading of its time and value,
 * or failing that the first of its time (a rule's trigger value is the statistic it judged: the
 * reading that completed the point has its time). `axis` `time` puts each value at its time stamp
 * (a time-proportional chart), `index` at its position.
 */
export function buildReadingsSeries(
  readings: readonly { ts: number; value: number }[],
  trigger: { ts: number; value: number } | null,
  occurrences: readonly { ts: number; value: number }[] = [],
  axis: 'index' | 'time' = 'index',
): ReadingsSeries {
  const sorted = [...readings].sort((a, b) => a.ts - b.ts)
  const marked = new Set(occurrences.map((o) => `${o.ts}:${o.value}`))
  if (trigger) marked.add(`${trigger.ts}:${trigger.value}`)
  let at = -1
  let sameTime = -1
  const out: ReadingsSeries = {
    x: [],
    ts: [],
    value: [],
    occurrence: [],
    triggerMark: [],
    trigger: -1,
  }
  sorted.forEach((r, k) => {
    const key = `${r.ts}:${r.value}`
    out.x.push(axis === 'time' ? r.ts : k)
    out.ts.push(r.ts)
    out.value.push(finite(r.value))
    out.occurrence.push(marked.has(key) ? finite(r.value) : null)
    out.triggerMark.push(null)
    if (trigger && r.ts === trigger.ts) {
      if (at < 0 && r.value === trigger.value) at = k
      if (sameTime < 0) sameTime = k
    }
  })
  out.trigger = at >= 0 ? at : sameTime
  if (out.trigger >= 0) out.triggerMark[out.trigger] = out.value[out.trigger] ?? null
  return out
}

/**
 * The x-range of a time-proportional chart: the data's span with a little room each side (3%),
 * a second either side when all values share one time; whole milliseconds (from a fractional
 * minimum uPlot's time ticks fall a millisecond before their step: 12:00:00.499).
 */
export function timeRange(min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max))
    return [0, 1000]
  const span = max - min
  if (span <= 0) return [Math.floor(min) - 1000, Math.ceil(max) + 1000]
  return [Math.floor(min - span * 0.03), Math.ceil(max + span * 0.03)]
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

export function finite(v: number | null | undefined): number | null {
  return v !== null && v !== undefined && Number.isFinite(v) ? v : null
}
