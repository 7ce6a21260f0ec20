import { MAX_TIME_MS, utcSeconds } from '../time-text.ts'

/**
 * What an audit entry changed, one line per field: "owner: null → qe". Objects are compared by
 * field (only fields that differ; a time field's milliseconds, "at" or "…At", in UTC); anything
 * else is shown whole. A field that became a text of several lines (a configuration's diff) is
 * its name, then its lines as they are. With `maxLength`, a value longer than that is cut ("…").
 * Pure; the dashboard's audit panels and the audit-trail report (rules/reports) both use it.
 */
export function auditChangeLines(
  entry: { before: unknown; after: unknown },
  options: { maxLength?: number } = {},
): string[] {
  const { before, after } = entry
  const shown = (x: unknown) => valueText(x, options.maxLength)
  if (before === null && after === null) return []
  if (isPlainObject(before) || isPlainObject(after)) {
    const b = isPlainObject(before) ? before : {}
    const a = isPlainObject(after) ? after : {}
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])]
    return keys
      .filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]))
      .flatMap((k) => {
        const now = a[k]
        if ((b[k] ?? null) === null && typeof now === 'string' && now.includes('\n'))
          return [`${k}:`, ...now.split('\n')]
        return [`${k}: ${fieldText(k, b[k], shown)} → ${fieldText(k, now, shown)}`]
      })
  }
  return [`${shown(before)} → ${shown(after)}`]
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)

function valueText(x: unknown, maxLength: number | undefined): string {
  if (x === undefined) return '—'
  const text = typeof x === 'string' ? x : JSON.stringify(x)
  if (text === undefined) return String(x)
  return maxLength !== undefined && text.length > maxLength
    ? `${text.slice(0, maxLength - 1)}…`
    : text
}

/** A field's value: a time field's milliseconds ("dueAt", "at") as a UTC time. */
function fieldText(key: string, x: unknown, shown: (x: unknown) => string): string {
  return typeof x === 'number' && Math.abs(x) <= MAX_TIME_MS && /(^at|At)$/.test(key)
    ? `${utcSeconds(x)} UTC`
    : shown(x ?? null)
}
