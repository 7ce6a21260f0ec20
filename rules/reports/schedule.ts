import { civilFromDays, DAY_MS, daysFromCivil, utcMs } from '../time-text.ts'
import type { ReportFormat, ReportKind } from './shapes.ts'
import { REPORT_KINDS } from './shapes.ts'

/**
 * When the daily report runs, in a time zone with daylight saving time, and how its files are
 * named and pruned. Pure: the time arrives as input; the time zone rules are the ICU data of
 * the JavaScript engine (Intl), read, never the clock or the system's zone.
 *
 * A wall-clock time that does not exist on a day (spring forward: 02:30 in Europe/Berlin on the
 * last Sunday of March) runs as late as the gap is long (03:30 CEST); one that exists twice
 * (fall back: 02:30 on the last Sunday of October) runs at the first (02:30 CEST). These are
 * the "compatible" disambiguation of RFC 9557/Temporal, java.time's and most schedulers'.
 */

export interface WallTime {
  hour: number
  minute: number
}

export interface LocalDate {
  year: number
  /** 1–12 */
  month: number
  day: number
}

/** "06:00" → {hour: 6, minute: 0}; a string is what is wrong. */
export function parseDailyAt(text: string): WallTime | string {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text)
  if (!m) return `"${text}" is not a time of day as HH:MM (00:00 to 23:59)`
  return { hour: Number(m[1]), minute: Number(m[2]) }
}

/** Whether the engine knows the IANA time zone (e.g. "Europe/Berlin", "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall-clock fields of an instant in a zone. */
function fields(utc: number, timeZone: string): LocalDate & WallTime & { second: number } {
  const out: Record<string, number> = {}
  for (const part of formatter(timeZone).formatToParts(utc)) {
    if (part.type !== 'literal') out[part.type] = Number(part.value)
  }
  return {
    year: out.year as number,
    month: out.month as number,
    day: out.day as number,
    hour: (out.hour as number) % 24,
    minute: out.minute as number,
    second: out.second as number,
  }
}

/** The zone's offset from UTC at an instant, ms (east positive: +3,600,000 for CET). */
export function zoneOffsetMs(utc: number, timeZone: string): number {
  const f = fields(utc, timeZone)
  const wall = utcMs(f.year, f.month, f.day, f.hour, f.minute, f.second)
  return wall - Math.floor(utc / 1000) * 1000
}

/** The local date of an instant in the zone. */
export function localDate(utc: number, timeZone: string): LocalDate {
  const { year, month, day } = fields(utc, timeZone)
  return { year, month, day }
}

/** The date `days` later (earlier when negative), by the calendar. */
export function addDays(date: LocalDate, days: number): LocalDate {
  return civilFromDays(daysFromCivil(date.year, date.month, date.day) + days)
}

/** "2026-12-06" */
export function dateKey(date: LocalDate): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`
}

/** "2026-12-06" → the date; null when it is not one. */
export function parseDateKey(key: string): LocalDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key)
  if (!m) return null
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) }
  return dateKey(addDays(date, 0)) === key ? date : null
}

/**
 * The instant a wall-clock time of a date has in the zone: the earlier of two in a repeated
 * hour, and in a skipped hour the time as late as the gap is long (the offset before the gap).
 */
export function zonedInstant(date: LocalDate, time: WallTime, timeZone: string): number {
  const wall = utcMs(date.year, date.month, date.day, time.hour, time.minute)
  // Offsets in force a day either side: any transition near the wall time lies between them.
  const before = zoneOffsetMs(wall - DAY_MS, timeZone)
  const after = zoneOffsetMs(wall + DAY_MS, timeZone)
  const candidates = [...new Set([before, after])]
    .map((offset) => wall - offset)
    .filter((utc) => utc + zoneOffsetMs(utc, timeZone) === wall)
    .sort((a, b) => a - b)
  return candidates[0] ?? wall - before
}

/** The first scheduled instant strictly after `now`. */
export function nextRun(now: number, at: WallTime, timeZone: string): number {
  const today = localDate(now, timeZone)
  for (const k of [-1, 0, 1, 2]) {
    const t = zonedInstant(addDays(today, k), at, timeZone)
    if (t > now) return t
  }
  throw new RangeError('no scheduled time within two days (an impossible time zone)')
}

/** The latest scheduled instant at or before `now`. */
export function latestRun(now: number, at: WallTime, timeZone: string): number {
  const today = localDate(now, timeZone)
  for (const k of [1, 0, -1, -2]) {
    const t = zonedInstant(addDays(today, k), at, timeZone)
    if (t <= now) return t
  }
  throw new RangeError('no scheduled time within two days (an impossible time zone)')
}

/**
 * What the run at `run` covers: from the same wall-clock time a day earlier to the run, so a
 * report at 06:00 covers 06:00 to 06:00 (23 or 25 hours across a change of the clocks), and
 * the date its files are named by (the run's local date).
 */
export function dailyRange(
  run: number,
  at: WallTime,
  timeZone: string,
): { from: number; to: number; date: string } {
  const date = localDate(run, timeZone)
  return { from: zonedInstant(addDays(date, -1), at, timeZone), to: run, date: dateKey(date) }
}

/** "daily-2026-12-06-capability.pdf" */
export function dailyFileName(date: string, kind: ReportKind, format: ReportFormat): string {
  return `daily-${date}-${kind}.${format}`
}

/** A daily report file's date, kind and format; null for any other name. */
export function parseDailyFileName(
  name: string,
): { date: string; kind: ReportKind; format: 'pdf' | 'csv' } | null {
  const m = /^daily-(\d{4}-\d{2}-\d{2})-([a-z-]+)\.(pdf|csv)$/.exec(name)
  if (!m || parseDateKey(m[1] as string) === null) return null
  const kind = m[2] as ReportKind
  if (!REPORT_KINDS.includes(kind)) return null
  return { date: m[1] as string, kind, format: m[3] as 'pdf' | 'csv' }
}

/**
 * The daily report files to delete so that the folder keeps the last `keepDays` dates up to
 * and including `today` (older dates go; later ones, from a clock set back, stay). Names that
 * are not daily report files are never chosen.
 */
export function filesToPrune(names: readonly string[], today: string, keepDays: number): string[] {
  const date = parseDateKey(today)
  if (date === null) throw new RangeError(`not a date: ${today}`)
  const oldestKept = dateKey(addDays(date, -(Math.max(1, Math.floor(keepDays)) - 1)))
  return names.filter((name) => {
    const file = parseDailyFileName(name)
    return file !== null && file.date < oldestKept
  })
}
