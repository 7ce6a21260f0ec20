/**
 * Times (UTC milliseconds) as calendar fields and text, by arithmetic on the proleptic
 * Gregorian calendar: no Date object, no clock (time arrives as input). The day count follows
 * H. Hinnant's `days_from_civil` / `civil_from_days` (eras of 400 years, 146,097 days each).
 */

export const DAY_MS = 86_400_000

export interface CivilDate {
  year: number
  /** 1–12 */
  month: number
  /** 1–31 */
  day: number
}

/** Days since 1970-01-01 of a date; a day or month out of range carries over, as Date.UTC does. */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Months out of 1–12 move the year first.
  const y0 = year + Math.floor((month - 1) / 12)
  const m = ((((month - 1) % 12) + 12) % 12) + 1
  const y = m <= 2 ? y0 - 1 : y0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

/** The date of a day counted from 1970-01-01. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

/** UTC milliseconds of a date and time of day (fields out of range carry over). */
export function utcMs(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): number {
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000
}

/** The largest |ms| a time may have [ECMA-262 21.4.1.31 TimeClip]. */
/** The furthest time from 1970 a Date holds (±8.64e15 ms): beyond it a time cannot be written. */
export const MAX_TIME_MS = 8.64e15

const pad = (n: number, width: number) => String(n).padStart(width, '0')

/**
 * ISO 8601 in UTC: "2026-12-06T14:03:11.000Z", as Date's toISOString writes it (a year outside
 * 0–9999 as ±YYYYYY); a time that is not one (NaN, beyond ±8.64e15 ms) is a RangeError.
 */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) throw new RangeError('Invalid time value')
  const t = Math.trunc(ms)
  const days = Math.floor(t / DAY_MS)
  const inDay = t - days * DAY_MS
  const { year, month, day } = civilFromDays(days)
  const y =
    year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`
  const hour = Math.floor(inDay / 3_600_000)
  const minute = Math.floor(inDay / 60_000) % 60
  const second = Math.floor(inDay / 1000) % 60
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(inDay % 1000, 3)}Z`
}

/** To the second, as records print it: "2026-12-06 14:03:11" (UTC). */
export function utcSeconds(ms: number): string {
  const iso = isoTime(ms)
  const t = iso.indexOf('T')
  return `${iso.slice(0, t)} ${iso.slice(t + 1, t + 9)}`
}
