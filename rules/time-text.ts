/**
 * A given time (UTC milliseconds) as text. The one place rules/ turns a time into a Date: only
 * to format it; no clock is read here (time arrives as input).
 */

/** ISO 8601 in UTC: "2026-12-06T14:03:11.000Z". */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString()
}

/** To the second, as records print it: "2026-12-06 14:03:11" (UTC). */
export function utcSeconds(ms: number): string {
  const iso = isoTime(ms)
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
}
