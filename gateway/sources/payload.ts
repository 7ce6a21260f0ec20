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

/**
 * Readings a message gave, in columns reused from message to message (the fast path allocates
 * nothing per reading). Valid until the next parse.
 */
export class ParsedReadings {
  count = 0
  ts = new Float64Array(16)
  value = new Float64Array(16)
  /** NaN: none. */
  size = new Float64Array(16)
  key: (string | undefined)[] = []

  /** Room for one more; returns its index. */
  add(): number {
    if (this.count === this.ts.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2)
        b.set(a)
        return b
      }
      this.ts = grow(this.ts)
      this.value = grow(this.value)
      this.size = grow(this.size)
    }
    return this.count++
  }
}

/** The bytes the fast path reads. */
const Byte = {
  Tab: 0x09,
  Newline: 0x0a,
  Return: 0x0d,
  Space: 0x20,
  Quote: 0x22,
  Plus: 0x2b,
  Comma: 0x2c,
  Minus: 0x2d,
  Dot: 0x2e,
  Zero: 0x30,
  Nine: 0x39,
  Colon: 0x3a,
  Open: 0x5b,
  Backslash: 0x5c,
  Close: 0x5d,
  E: 0x45,
  LowerE: 0x65,
  Brace: 0x7b,
  CloseBrace: 0x7d,
} as const

/** Powers of ten a double holds exactly (10^0 … 10^22): one multiplication rounds correctly. */
const EXACT_POWERS = Array.from({ length: 23 }, (_, k) => 10 ** k)
/** Significant digits an integer mantissa holds exactly (below 2^53). */
const EXACT_DIGITS = 15

/** Field bits of the fast path's object (each at most once). */
const VALUE = 1
const COUNT = 2
const TS = 4
const SIZE = 8
const SUBGROUP = 16

/**
 * The fast path for the payloads devices send most: a JSON object, or an array of them, whose
 * fields are `value` or `count`, `ts`, `size` and `subgroup`, with plain numbers and ASCII
 * strings, read straight from the bytes (no text is decoded, no JSON object is built). It
 * accepts only what `parsePayload` takes as good readings and gives the same values; for
 * anything else (a field it does not know, an escape, a number it cannot convert exactly in one
 * step, anything `parsePayload` would refuse) it returns false, having added nothing, and the
 * message takes `parsePayload`. A property test holds the two to each other.
 */
export function parseSimple(payload: Uint8Array, receivedAt: number, out: ParsedReadings): boolean {
  out.count = 0
  const end = payload.length
  let p = skipSpace(payload, 0)
  if (p >= end) return false
  const array = payload[p] === Byte.Open
  if (array) p = skipSpace(payload, p + 1)
  for (;;) {
    p = simpleObject(payload, p, receivedAt, out)
    if (p < 0) return fail()
    p = skipSpace(payload, p)
    if (!array) break
    if (payload[p] === Byte.Comma) {
      p = skipSpace(payload, p + 1)
      continue
    }
    if (payload[p] !== Byte.Close) return fail()
    p = skipSpace(payload, p + 1)
    break
  }
  return p === end || fail()

  function fail(): false {
    out.count = 0
    return false
  }
}

function skipSpace(b: Uint8Array, p: number): number {
  while (p < b.length) {
    const c = b[p]
    if (c !== Byte.Space && c !== Byte.Newline && c !== Byte.Return && c !== Byte.Tab) break
    p++
  }
  return p
}

const FIELD_NAMES: readonly [string, number][] = [
  ['value', VALUE],
  ['ts', TS],
  ['count', COUNT],
  ['size', SIZE],
  ['subgroup', SUBGROUP],
]

let fieldEnd = 0

/**
 * The key at `p` (after its opening quote) as a field bit, or 0 for any other key (and for one
 * that is not plain ASCII); for a field, the position after its closing quote in `fieldEnd`.
 * Two keys per reading: nothing is allocated (a result object and a closure per key were two
 * fifths of the broker thread's garbage).
 */
function fieldAt(b: Uint8Array, p: number): number {
  let q = p
  while (q < b.length && b[q] !== Byte.Quote) {
    if (b[q] === Byte.Backslash || (b[q] as number) >= 0x80) return 0
    q++
  }
  if (q >= b.length) return 0
  fieldEnd = q + 1
  const n = q - p
  for (let f = 0; f < FIELD_NAMES.length; f++) {
    const [word, field] = FIELD_NAMES[f] as [string, number]
    if (n !== word.length) continue
    let k = 0
    while (k < n && b[p + k] === word.charCodeAt(k)) k++
    if (k === n) return field
  }
  return 0
}

let numberEnd = 0

/**
 * A JSON number at `p`: its value (NaN when it is not one, or cannot be converted exactly in
 * one step), its end in `numberEnd`.
 */
function numberAt(b: Uint8Array, p: number): number {
  const start = p
  const negative = b[p] === Byte.Minus
  if (negative) p++
  let mantissa = 0
  let digits = 0
  let scale = 0
  const first = b[p] as number
  if (first === Byte.Zero) p++
  else if (first > Byte.Zero && first <= Byte.Nine) {
    while (p < b.length && (b[p] as number) >= Byte.Zero && (b[p] as number) <= Byte.Nine) {
      mantissa = mantissa * 10 + ((b[p] as number) - Byte.Zero)
      digits++
      p++
    }
  } else return Number.NaN
  if (b[p] === Byte.Dot) {
    p++
    const from = p
    while (p < b.length && (b[p] as number) >= Byte.Zero && (b[p] as number) <= Byte.Nine) {
      const d = (b[p] as number) - Byte.Zero
      if (mantissa !== 0 || d !== 0) digits++
      mantissa = mantissa * 10 + d
      scale--
      p++
    }
    if (p === from) return Number.NaN
  }
  if (b[p] === Byte.E || b[p] === Byte.LowerE) {
    p++
    let sign = 1
    if (b[p] === Byte.Plus || b[p] === Byte.Minus) sign = b[p++] === Byte.Minus ? -1 : 1
    const from = p
    let exponent = 0
    while (p < b.length && (b[p] as number) >= Byte.Zero && (b[p] as number) <= Byte.Nine) {
      exponent = Math.min(exponent * 10 + ((b[p] as number) - Byte.Zero), 1e6)
      p++
    }
    if (p === from) return Number.NaN
    scale += sign * exponent
  }
  numberEnd = p
  if (digits > EXACT_DIGITS || Math.abs(scale) > 22) {
    // Beyond the one-step conversion: the full one, on the number's text.
    let text = ''
    for (let k = start; k < p; k++) text += String.fromCharCode(b[k] as number)
    const v = Number(text)
    return Number.isFinite(v) ? v : Number.NaN
  }
  const magnitude =
    scale >= 0
      ? mantissa * (EXACT_POWERS[scale] as number)
      : mantissa / (EXACT_POWERS[-scale] as number)
  return negative ? -magnitude : magnitude
}

let stringEnd = 0

/** A JSON string at `p` (its opening quote) of printable ASCII without escapes, or null. */
function stringAt(b: Uint8Array, p: number): string | null {
  if (b[p] !== Byte.Quote) return null
  let text = ''
  for (let q = p + 1; q < b.length; q++) {
    const c = b[q] as number
    if (c === Byte.Quote) {
      stringEnd = q + 1
      return text
    }
    if (c < Byte.Space || c >= 0x7f || c === Byte.Backslash) return null
    text += String.fromCharCode(c)
  }
  return null
}

/** One reading object at `p`, added to `out`; the position after it, or -1. */
function simpleObject(b: Uint8Array, p: number, receivedAt: number, out: ParsedReadings): number {
  if (b[p] !== Byte.Brace) return -1
  p = skipSpace(b, p + 1)
  let seen = 0
  let value = Number.NaN
  let size = Number.NaN
  let ts = receivedAt
  let key: string | undefined
  for (;;) {
    if (b[p] !== Byte.Quote) return -1
    const field = fieldAt(b, p + 1)
    if (field === 0 || (seen & field) !== 0) return -1
    seen |= field
    p = skipSpace(b, fieldEnd)
    if (b[p] !== Byte.Colon) return -1
    p = skipSpace(b, p + 1)
    if (b[p] === Byte.Quote) {
      // A string: a subgroup, or a time stamp in ISO 8601.
      const text = stringAt(b, p)
      if (text === null || (field !== TS && field !== SUBGROUP)) return -1
      p = stringEnd
      if (field === SUBGROUP) key = text
      else {
        const parsed = parseIsoTime(text)
        if (parsed === null) return -1
        ts = parsed
      }
    } else {
      const n = numberAt(b, p)
      if (Number.isNaN(n)) return -1
      p = numberEnd
      if (field === VALUE || field === COUNT) value = n
      else if (field === SIZE) size = n
      else if (field === TS) ts = n
      else key = String(n)
    }
    p = skipSpace(b, p)
    if (b[p] === Byte.Comma) {
      p = skipSpace(b, p + 1)
      continue
    }
    if (b[p] !== Byte.CloseBrace) return -1
    break
  }
  // Exactly one of value and count, and a time stamp in range: else parsePayload says why not.
  if ((seen & (VALUE | COUNT)) === 0 || (seen & VALUE && seen & COUNT)) return -1
  if (checkTimestamp(ts, receivedAt) !== null) return -1
  const i = out.add()
  out.ts[i] = ts
  out.value[i] = value
  out.size[i] = size
  out.key[i] = key
  return p + 1
}
