/**
 * The time range a characteristic's charts show (chart history, issue 11): the presets (the last
 * hour, this shift, the last day, the last week), a custom range, panning by half the range,
 * zooming to what was selected on a chart, and the buckets (pixel columns) the gateway
 * downsamples to. Pure: times are UTC ms; the local time zone is a parameter (minutes east of
 * UTC at an instant, as `-Date#getTimezoneOffset()`), so the tests need no TZ.
 */

import { formatDateTime, formatTime } from './format.ts'

export interface TimeRange {
  /** Inclusive, UTC ms. */
  from: number
  to: number
}

export type RangePreset = 'hour' | 'shift' | 'day' | 'week'

export const RANGE_PRESETS: readonly {
  preset: RangePreset
  label: string
  title: string
}[] = [
  { preset: 'hour', label: 'Hour', title: 'The last hour' },
  {
    preset: 'shift',
    label: 'Shift',
    title: 'This shift, from its start (shifts of 8 h from 06:00, 14:00 and 22:00)',
  },
  { preset: 'day', label: 'Day', title: 'The last 24 hours' },
  { preset: 'week', label: 'Week', title: 'The last 7 days' },
]

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Shifts start at these local hours (three shifts of 8 h): the default of every shift function. */
export const SHIFT_STARTS: readonly number[] = [6, 14, 22]

/** The narrowest range a zoom goes to: a few points at 1 Hz stay readable. */
export const MIN_SPAN_MS = 10_000

/** The most buckets the gateway downsamples to (gateway/api/charts.ts MAX_BUCKETS). */
export const MAX_BUCKETS = 10_000

/** Minutes east of UTC at an instant (CET: 60, CEST: 120). */
export type ZoneOffset = (utcMs: number) => number

/** The browser's time zone. */
export const localOffset: ZoneOffset = (ms) => -new Date(ms).getTimezoneOffset()

/**
 * The UTC instant of a local wall-clock time (ms as if the wall clock were UTC). In an overlap
 * (clocks going back) the earlier of the two instants; in a gap (clocks going forward) the wall
 * time does not exist and it is read with the offset before the gap, as JavaScript's Date does
 * (02:30 in a gap from 02:00 to 03:00 is 03:30).
 */
export function fromLocal(wall: number, offset: ZoneOffset): number {
  // The offsets a day before and after (transitions are months apart): the candidates.
  const before = wall - offset(wall - DAY) * MINUTE
  const after = wall - offset(wall + DAY) * MINUTE
  const valid = [before, after].filter((utc) => toLocal(utc, offset) === wall)
  return valid.length > 0 ? Math.min(...valid) : before
}

/** A UTC instant as local wall-clock ms (ms as if the wall clock were UTC). */
export function toLocal(utc: number, offset: ZoneOffset): number {
  return utc + offset(utc) * MINUTE
}

/**
 * The shift `now` falls in: from its start to the next shift's start − 1 ms (UTC ms). Shifts
 * start at `starts` (local hours, e.g. 6, 14, 22: the night shift runs over midnight).
 */
export function shiftAt(
  now: number,
  starts: readonly number[] = SHIFT_STARTS,
  offset: ZoneOffset = localOffset,
): TimeRange {
  if (starts.length === 0) throw new RangeError('at least one shift start is needed')
  const wall = toLocal(now, offset)
  const midnight = Math.floor(wall / DAY) * DAY
  const hours = [...starts].sort((a, b) => a - b)
  // Starts of yesterday, today and tomorrow, as instants.
  const instants = [-1, 0, 1].flatMap((d) =>
    hours.map((h) => fromLocal(midnight + d * DAY + h * HOUR, offset)),
  )
  let from = instants[0] as number
  let to = instants[instants.length - 1] as number
  for (const t of instants) {
    if (t <= now) from = t
    else {
      to = t
      break
    }
  }
  return { from, to: to - 1 }
}

/** The range of a preset, ending now: the last hour, this shift so far, the last 24 h, the last 7 days. */
export function presetRange(
  preset: RangePreset,
  now: number,
  options: { starts?: readonly number[]; offset?: ZoneOffset } = {},
): TimeRange {
  switch (preset) {
    case 'hour':
      return { from: now - HOUR, to: now }
    case 'shift':
      return { from: shiftAt(now, options.starts, options.offset).from, to: now }
    case 'day':
      return { from: now - DAY, to: now }
    case 'week':
      return { from: now - 7 * DAY, to: now }
  }
}

/**
 * The range moved by half its span, earlier (−1) or later (+1). Not past `now`: a later pan
 * stops with the range ending now (same span).
 */
export function panRange(range: TimeRange, direction: -1 | 1, now: number): TimeRange {
  const span = range.to - range.from
  const step = Math.round(span / 2) * direction
  if (direction > 0 && range.to + step > now) {
    const to = Math.max(now, range.to)
    return { from: to - span, to }
  }
  return { from: range.from + step, to: range.to + step }
}

/** The range between two selected instants (either order), at least MIN_SPAN_MS around their middle. */
export function zoomRange(a: number, b: number, minSpan = MIN_SPAN_MS): TimeRange {
  const from = Math.min(a, b)
  const to = Math.max(a, b)
  if (to - from >= minSpan) return { from: Math.round(from), to: Math.round(to) }
  const middle = (from + to) / 2
  return { from: Math.round(middle - minSpan / 2), to: Math.round(middle + minSpan / 2) }
}

/**
 * The time at an x position of a chart whose points sit at `xs` (ascending) with times `ts`:
 * interpolated between the neighbouring points (a downsampled chart leaves gaps), the first or
 * last time beyond the ends. Null without points.
 */
export function timeAt(xs: readonly number[], ts: readonly number[], x: number): number | null {
  const n = Math.min(xs.length, ts.length)
  if (n === 0) return null
  if (x <= (xs[0] as number)) return ts[0] as number
  if (x >= (xs[n - 1] as number)) return ts[n - 1] as number
  // The last position at or before x (binary search).
  let lo = 0
  let hi = n - 1
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if ((xs[mid] as number) <= x) lo = mid
    else hi = mid
  }
  const x0 = xs[lo] as number
  const x1 = xs[hi] as number
  const t0 = ts[lo] as number
  const t1 = ts[hi] as number
  return x1 === x0 ? t0 : t0 + ((x - x0) / (x1 - x0)) * (t1 - t0)
}

/** The buckets to ask the gateway for a plot this many CSS pixels wide (1 … MAX_BUCKETS). */
export function bucketsFor(widthPx: number): number {
  if (!Number.isFinite(widthPx)) return 1000
  return Math.min(MAX_BUCKETS, Math.max(1, Math.round(widthPx)))
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** A UTC instant as the value of a `datetime-local` input, local time: "2025-03-14T09:26". */
export function toDateTimeLocal(utc: number, offset: ZoneOffset = localOffset): string {
  const d = new Date(toLocal(utc, offset))
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

/** The UTC instant of a `datetime-local` value ("2025-03-14T09:26", seconds optional), or null. */
export function fromDateTimeLocal(text: string, offset: ZoneOffset = localOffset): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(
    text.trim(),
  )
  if (!m) return null
  const [y, mo, d, h, mi, s, ms] = m
    .slice(1)
    .map((v) => (v === undefined ? 0 : Number(v))) as number[]
  const wall = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms)
  const check = new Date(wall)
  // Reject what Date would roll over (31 February, 25:00).
  if (
    check.getUTCMonth() !== (mo as number) - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi
  )
    return null
  return fromLocal(wall, offset)
}

/** A custom range from two `datetime-local` values, or why it is refused. */
export function customRange(
  fromText: string,
  toText: string,
  offset: ZoneOffset = localOffset,
): TimeRange | string {
  const from = fromDateTimeLocal(fromText, offset)
  if (from === null) return 'Give the start as a date and time.'
  const to = fromDateTimeLocal(toText, offset)
  if (to === null) return 'Give the end as a date and time.'
  if (to <= from) return 'The end must be after the start.'
  return { from, to }
}

/** A span of time in words: "45 s", "30 min", "8 h", "2 h 30 min", "7 d", "1 d 12 h". */
export function spanWords(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  const min = Math.round(s / 60)
  if (min < 120) return `${min} min`
  const h = Math.floor(min / 60)
  const restMin = min % 60
  if (h < 48) return restMin === 0 ? `${h} h` : `${h} h ${restMin} min`
  const d = Math.floor(h / 24)
  const restH = h % 24
  return restH === 0 ? `${d} d` : `${d} d ${restH} h`
}

/**
 * The label of a tick on a chart's point axis when the points drawn span `spanMs`: the time of
 * day ("09:26:53"), or with a span of a day or more the date and time ("03-14 09:26").
 */
export function pointTickLabel(ts: number, spanMs: number, timeZone?: string): string {
  return spanMs >= DAY ? formatDateTime(ts, timeZone).slice(5, 16) : formatTime(ts, timeZone)
}
