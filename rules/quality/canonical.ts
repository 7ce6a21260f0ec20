import { createHash } from 'node:crypto'

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
  return write(value, new Set(), '$')
}

function write(value: unknown, open: Set<object>, path: string): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return writeString(value, path)
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${path}: ${value} is not a finite number`)
      // JSON.stringify writes -0 as 0, and every other number as ECMAScript's shortest form.
      return JSON.stringify(value)
    case 'object':
      return writeObject(value, open, path)
    default:
      throw new Error(`${path}: a ${typeof value} has no JSON form`)
  }
}

/** A string as JSON.stringify writes it, which is RFC 8785's form for well-formed text. */
function writeString(text: string, path: string): string {
  if (!text.isWellFormed()) {
    throw new Error(`${path}: a string holds a lone surrogate (not well-formed Unicode)`)
  }
  return JSON.stringify(text)
}

function writeObject(value: object, open: Set<object>, path: string): string {
  if (open.has(value)) throw new Error(`${path}: the value contains itself (a cycle)`)
  open.add(value)
  let text: string
  if (Array.isArray(value)) {
    // Array.from, not map: map skips the holes of a sparse array, which would leave "[,2,]".
    const items = Array.from(value as unknown[], (item, i) =>
      item === undefined ? 'null' : write(item, open, `${path}[${i}]`),
    )
    text = `[${items.join(',')}]`
  } else {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object'
      throw new Error(`${path}: a ${name} is not plain JSON data`)
    }
    const record = value as Record<string, unknown>
    // The default sort compares UTF-16 code units, as RFC 8785 §3.2.3 asks.
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${writeString(key, path)}:${write(record[key], open, `${path}.${key}`)}`)
    text = `{${members.join(',')}}`
  }
  open.delete(value)
  return text
}

/** SHA-256 of the text's UTF-8 bytes, 64 lowercase hexadecimal digits. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
