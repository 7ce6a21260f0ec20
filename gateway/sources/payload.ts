import type { RejectReason } from './types.ts'

/**
 * Parses an MQTT payload into readings. Accepted forms:
 *   {"value": 12.3, "ts": "2026-11-22T08:00:00Z" | 1795000000000}   one reading
 *   [{"value": …, "ts": …}, …]                                     several readings
 *   12.3                                                            a bare number (receive time)
 * `ts` is optional (receive time), ISO 8601 with a zone or epoch milliseconds. Attributes
 * readings may say `count` instead of `value` and carry a `size`; a `subgroup` (lot, batch,
 * sample id: a string or a number) names the subgroup a reading belongs to.
 * Each element of an array is judged on its own: good ones pass, bad ones are rejected.
 */
export type ParsedReading =
  | { ok: true; ts: number; value: number; size?: number | undefined; key?: string | undefined }
  | { ok: false; reason: RejectReason; detail: string }

/**
 * The accepted range of a time stamp, for every source (MQTT payloads, OPC-UA source and
 * server timestamps): from EARLIEST_TS (2000-01-01T00:00:00Z) to the gateway's receive time
 * plus MAX_AHEAD_MS (one day), both inclusive. Everything else, including what is not a finite
 * number and what a JavaScript Date cannot hold (beyond ±8.64e15 ms), is refused as
 * `bad-timestamp`. Anything before 2000 is almost always epoch seconds sent as milliseconds.
 */
export const EARLIEST_TS = Date.UTC(2000, 0, 1)
/** A reading may be at most this far ahead of the gateway's clock. */
export const MAX_AHEAD_MS = 24 * 3600 * 1000
/** The largest time value a Date holds, ±100,000,000 days from the epoch (ECMA-262 21.4.1.1). */
const MAX_DATE_MS = 8.64e15

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

function fail(reason: RejectReason, detail: string): ParsedReading {
  return { ok: false, reason, detail }
}

export function parsePayload(payload: Uint8Array, receivedAt: number): ParsedReading[] {
  let text: string
  try {
    text = utf8.decode(payload).trim()
  } catch {
    return [fail('malformed-json', 'payload is not UTF-8 text')]
  }
  if (text === '') return [fail('bad-shape', 'empty payload')]

  const first = text.charCodeAt(0)
  if (first !== 0x7b /* { */ && first !== 0x5b /* [ */) return [parseBare(text, receivedAt)]

  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return [fail('malformed-json', `not valid JSON: ${(e as Error).message}`)]
  }
  if (!Array.isArray(json)) return [parseObject(json, receivedAt, '')]
  if (json.length === 0)
    return [fail('bad-shape', 'empty array: expected at least one {"value", "ts"}')]
  return json.map((element, i) => parseObject(element, receivedAt, `[${i}] `))
}

function parseBare(text: string, receivedAt: number): ParsedReading {
  if (NUMBER.test(text)) {
    const value = Number(text)
    return Number.isFinite(value)
      ? { ok: true, ts: receivedAt, value }
      : fail('non-finite', `${clip(text)} is out of the range of a double`)
  }
  if (NON_FINITE.test(text)) return fail('non-finite', `${text} is not a finite number`)
  return fail(
    'not-a-number',
    `payload ${clip(text)} is neither a number nor a JSON object or array`,
  )
}

function parseObject(json: unknown, receivedAt: number, where: string): ParsedReading {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return fail('bad-shape', `${where}expected an object {"value", "ts"}, got ${describe(json)}`)
  }
  const fields = json as {
    value?: unknown
    count?: unknown
    ts?: unknown
    size?: unknown
    subgroup?: unknown
  }
  if (fields.value !== undefined && fields.count !== undefined) {
    return fail('bad-shape', `${where}give "value" or "count", not both`)
  }
  const name = fields.value === undefined && fields.count !== undefined ? 'count' : 'value'
  if (fields[name] === undefined) return fail('bad-shape', `${where}"value" is missing`)
  const value = checkNumber(fields[name], name, where)
  if (typeof value !== 'number') return value
  let size: number | undefined
  if (fields.size !== undefined) {
    const checked = checkNumber(fields.size, 'size', where)
    if (typeof checked !== 'number') return checked
    size = checked
  }
  const { subgroup } = fields
  if (subgroup !== undefined && typeof subgroup !== 'string' && typeof subgroup !== 'number') {
    return fail(
      'bad-shape',
      `${where}"subgroup" must be a string or a number, got ${describe(subgroup)}`,
    )
  }
  const time = parseTimestamp(fields.ts, receivedAt)
  if (typeof time === 'string') return fail('bad-timestamp', `${where}${time}`)
  return {
    ok: true,
    ts: time,
    value,
    size,
    key: subgroup === undefined ? undefined : String(subgroup),
  }
}

function checkNumber(value: unknown, name: string, where: string): number | ParsedReading {
  if (typeof value !== 'number')
    return fail('not-a-number', `${where}"${name}" must be a JSON number, got ${describe(value)}`)
  if (!Number.isFinite(value))
    return fail('non-finite', `${where}"${name}" is out of the range of a double`)
  return value
}

/** The time stamp in UTC ms, or the reason it is refused. */
export function parseTimestamp(ts: unknown, receivedAt: number): number | string {
  let ms: number
  if (ts === undefined) return receivedAt
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts)) return '"ts" is not a finite number'
    ms = ts
  } else if (typeof ts === 'string') {
    const parsed = parseIsoTime(ts)
    if (parsed === null)
      return `"ts" ${clip(JSON.stringify(ts))} is not ISO 8601 with a time zone (e.g. 2026-11-22T08:00:00Z)`
    ms = parsed
  } else {
    return `"ts" must be an ISO 8601 string or epoch milliseconds, got ${describe(ts)}`
  }
  const refused = checkTimestamp(ms, receivedAt)
  return refused === null ? ms : `"ts" ${refused}`
}

/**
 * Why a time stamp in UTC ms is outside the accepted range (see EARLIEST_TS), or null when it
 * is inside. Total: never throws, whatever the number.
 */
export function checkTimestamp(ms: number, receivedAt: number): string | null {
  if (!Number.isFinite(ms)) return `${ms} is not a finite number`
  if (ms < EARLIEST_TS) return `${ms} is before 2000-01-01 (epoch milliseconds expected; seconds?)`
  if (ms > receivedAt + MAX_AHEAD_MS)
    return `${formatTime(ms)} is more than a day ahead of the gateway clock`
  return null
}

/** ISO 8601 when a Date can hold the time, else the number itself (toISOString would throw). */
function formatTime(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms`
}

/** UTC ms of an ISO 8601 date-time with a zone (2026-11-22T08:00:00Z, …+01:00), or null. */
export function parseIsoTime(text: string): number | null {
  const m = ISO.exec(text)
  if (!m) return null
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(
    Number,
  ) as [number, number, number, number, number, number]
  // Date.parse would roll 2026-02-30 over into March: check the calendar first.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return null
  // The zone is not checked above: Date.parse gives NaN for one it cannot apply (+99:99).
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : null
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `string ${clip(JSON.stringify(v))}`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${clip(String(v))}`
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}
