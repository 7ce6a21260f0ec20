import { parseIsoTime } from '../sources/payload.ts'

/** A time in a query string: epoch milliseconds or ISO 8601 with a zone; else the reason, for a 400. */
export function parseQueryTime(text: string, name: string): number | string {
  if (/^\d{1,16}$/.test(text)) return Number(text)
  return (
    parseIsoTime(text) ??
    `${name}: "${text.slice(0, 40)}" is neither epoch milliseconds nor ISO 8601 with a time zone`
  )
}
