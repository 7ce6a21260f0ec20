import { hash } from 'node:crypto'

/**
 * One text per value, so that a hash of it is a hash of the content and not of how it happened
 * to be written: the basis of the audit trail's chain and of the signatures' binding to their
 * record.
 *
 * The form is RFC 8785's JSON Canonicalization Scheme (JCS): no whitespace; object members
 * sorted by their names' UTF-16 code units, recursively; arrays in order; strings and numbers
 * as ECMAScript's JSON.stringify writes them (shortest round-trip numbers, -0 as 0). Beyond
 * JCS, as JSON.stringify does: a property whose value is undefined is left out, an undefined
 * array element (or a hole in a sparse array) is null. So the text of a value and of its JSON
 * round trip (a record stored in the database and read back) are the same, and so are their
 * hashes.
 *
 * Refused with an Error, never written in some lossy form: NaN and ±Infinity (JSON has no such
 * numbers; JSON.stringify would write null), strings (values or member names) holding a lone
 * surrogate (RFC 8785 §3.2.2.2: such data MUST end canonicalization with an error; their UTF-8
 * form is undefined), bigint, functions, symbols, cycles, undefined as the whole value, and
 * objects that are not plain (a Date, a Map: their JSON forms lose what they are).
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new Error('undefined has no JSON form')
  return write(value, new Set(), [])
}

/**
 * Where a value is, as `$.a[1]`, from the keys and indices on the way to it: made only for an
 * error, not for every member written (an audit entry is written whenever an NC opens).
 */
type Place = (string | number)[]

function pathOf(place: Place): string {
  let path = '$'
  for (const step of place) path += typeof step === 'number' ? `[${step}]` : `.${step}`
  return path
}

function write(value: unknown, open: Set<object>, place: Place): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return writeString(value, place)
    case 'number':
      if (!Number.isFinite(value))
        throw new Error(`${pathOf(place)}: ${value} is not a finite number`)
      // JSON.stringify writes -0 as 0, and every other number as ECMAScript's shortest form.
      return JSON.stringify(value)
    case 'object':
      return writeObject(value, open, place)
    default:
      throw new Error(`${pathOf(place)}: a ${typeof value} has no JSON form`)
  }
}

/** A string as JSON.stringify writes it, which is RFC 8785's form for well-formed text. */
function writeString(text: string, place: Place): string {
  if (!text.isWellFormed()) {
    throw new Error(`${pathOf(place)}: a string holds a lone surrogate (not well-formed Unicode)`)
  }
  return JSON.stringify(text)
}

function writeObject(value: object, open: Set<object>, place: Place): string {
  if (open.has(value)) throw new Error(`${pathOf(place)}: the value contains itself (a cycle)`)
  open.add(value)
  let text: string
  if (Array.isArray(value)) {
    // Indexed, not map: map skips the holes of a sparse array, which would leave "[,2,]".
    const items = value as unknown[]
    text = '['
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (i > 0) text += ','
      if (item === undefined) text += 'null'
      else {
        place.push(i)
        text += write(item, open, place)
        place.pop()
      }
    }
    text += ']'
  } else {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object'
      throw new Error(`${pathOf(place)}: a ${name} is not plain JSON data`)
    }
    const record = value as Record<string, unknown>
    // The default sort compares UTF-16 code units, as RFC 8785 §3.2.3 asks.
    const keys = Object.keys(record).sort()
    text = '{'
    let first = true
    for (const key of keys) {
      const member = record[key]
      if (member === undefined) continue
      if (!first) text += ','
      first = false
      text += `${writeString(key, place)}:`
      place.push(key)
      text += write(member, open, place)
      place.pop()
    }
    text += '}'
  }
  open.delete(value)
  return text
}

/** SHA-256 of the text's UTF-8 bytes, 64 lowercase hexadecimal digits. */
export function sha256Hex(text: string): string {
  // One call (Node's one-shot hash), not a Hash object made per text.
  return hash('sha256', text, 'hex')
}
