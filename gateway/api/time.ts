import { parseIsoTime } from '../sources/payload.ts'

/** A time in a query string: epoch milliseconds or ISO 8601 with a zone; else the reason, for a 400. */
export function parseQueryTime(text: string, name: string): number | string {
  if (/^\d{1,16}$/.test(text)) return Number(text)
  return (
    parseIsoTime(text) ??
    `${name}: "${text.slice(0, 40)}" is neither epoch milliseconds nor ISO 8601 with a time zone`
  )
}

const DEFAULT_WINDOW_MS = 3600_000

/** Resolves `from`/`to` of a query string; a string result is the reason for a 400. */
export function timeRange(
  query: { from?: string | undefined; to?: string | undefined },
  defaultWindowMs = DEFAULT_WINDOW_MS,
): { from: number; to: number } | string {
  const to = query.to === undefined ? Date.now() : parseQueryTime(query.to, 'to')
  if (typeof to === 'string') return to
  const from = query.from === undefined ? to - defaultWindowMs : parseQueryTime(query.from, 'from')
  if (typeof from === 'string') return from
  if (from > to) return 'from must not be after to'
  return { from, to }
}
