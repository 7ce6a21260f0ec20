/** Number, time and age formatting for the dashboard. Pure: the clock arrives as an argument. */

const MINUS = '\u2212'

/**
 * A measured value with the configured number of decimals, a true minus sign (legible from a
 * distance) and no grouping. Non-finite values and null show as an em dash.
 */
export function formatValue(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  const d = Math.min(9, Math.max(0, Math.trunc(decimals)))
  const text = value.toFixed(d)
  // -0.00 reads as an excursion below zero: show it as 0.00.
  if (/^-0(\.0*)?$/.test(text)) return text.slice(1)
  return text.startsWith('-') ? `${MINUS}${text.slice(1)}` : text
}

/** A value and its unit, e.g. "12.35 g" (no trailing space when the unit is empty). */
export function formatQuantity(
  value: number | null | undefined,
  decimals: number,
  unit: string,
): string {
  const v = formatValue(value, decimals)
  return unit === '' || v === '—' ? v : `${v} ${unit}`
}

/**
 * How long ago a reading was taken, compact for a tile: "now", "42 s", "7 min", "3 h 05 min",
 * "2 d". A reading time-stamped slightly in the future (clock skew) reads as "now".
 */
export function formatAge(ts: number, now: number): string {
  const ms = now - ts
  if (!Number.isFinite(ms)) return '—'
  if (ms < 1000) return 'now'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  const min = Math.floor(s / 60)
  if (min < 60) return `${min} min`
  const h = Math.floor(min / 60)
  if (h < 24) return `${h} h ${String(min % 60).padStart(2, '0')} min`
  return `${Math.floor(h / 24)} d`
}

/** A time stamp as local date and time, "2025-03-14 09:26:53" (24 h, ISO order, no locale surprises). */
export function formatDateTime(ts: number, timeZone?: string): string {
  const p = parts(ts, timeZone)
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}` : '—'
}

/** A time stamp as local time of day, "09:26:53". */
export function formatTime(ts: number, timeZone?: string): string {
  const p = parts(ts, timeZone)
  return p ? `${p.hour}:${p.minute}:${p.second}` : '—'
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function parts(ts: number, timeZone: string | undefined): Record<string, string> | null {
  if (!Number.isFinite(ts)) return null
  const key = timeZone ?? ''
  let f = formatters.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      ...(timeZone ? { timeZone } : {}),
    })
    formatters.set(key, f)
  }
  const out: Record<string, string> = {}
  for (const part of f.formatToParts(new Date(ts))) out[part.type] = part.value
  return out
}

/**
 * Decimals enough to show some values as they were given (at most `max`), when the configured
 * decimals are not known: [12.5, 12.25] → 2.
 */
export function decimalsShown(values: readonly number[], max = 4): number {
  let d = 0
  for (const v of values) {
    if (!Number.isFinite(v)) continue
    const text = String(v)
    const exp = text.match(/e-(\d+)$/)
    if (exp) {
      d = max
      break
    }
    const dot = text.indexOf('.')
    if (dot >= 0) d = Math.max(d, text.length - dot - 1)
  }
  return Math.min(d, max)
}

/**
 * Tick steps a value axis may use: 1, 2 and 5 times a power of ten, none finer than the decimals
 * shown, so that every label is exact (a step of 0.025 shown with two decimals would read 2.02,
 * 2.05, 2.08).
 */
export function valueSteps(decimals: number): number[] {
  const steps: number[] = []
  for (let e = -Math.min(9, Math.max(0, Math.trunc(decimals))); e <= 12; e++) {
    for (const m of [1, 2, 5]) steps.push(Number(`${m}e${e}`))
  }
  return steps
}

/**
 * A tick of a time axis `stepMs` apart from the next: "09:26:53"; with milliseconds when ticks
 * are less than a second apart ("09:26:53.250"); the date when they are a day or more apart
 * ("2025-03-14").
 */
export function formatTimeTick(ts: number, stepMs: number, timeZone?: string): string {
  if (stepMs >= 86_400_000) return formatDateTime(ts, timeZone).slice(0, 10)
  const time = formatTime(ts, timeZone)
  if (stepMs >= 1000 || time === '—') return time
  const ms = ((Math.round(ts) % 1000) + 1000) % 1000
  return `${time}.${String(ms).padStart(3, '0')}`
}
