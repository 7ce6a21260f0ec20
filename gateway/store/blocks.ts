/**
 * The embedded time series stores blocks, not rows: many readings (or chart points) are one
 * SQLite row, their fields in columns inside a BLOB. A row costs SQLite about as much as a
 * block of a hundred values, so the writer keeps up with ingest at broker speed.
 * Time-series databases store chunks the same way (Prometheus, InfluxDB's TSM, Gorilla).
 *
 * A block holds rows of `stride` numbers, the rows of a ColumnBatch (columns.ts) with the
 * series id in place of the sender's name number. It is a Float64Array: `[FORMAT, count,
 * stride]`, then each field as its encoding code and payload: CONSTANT (one value for every
 * row: the series, limits in Phase II, a sample size, `null`), LINEAR (first value and step,
 * exactly: point indices, stream numbers) or RAW (every value). NaN stands for `null`. Values
 * come back bit for bit (−0 stays −0).
 */

import type { PanePoint } from '../../rules/index.ts'
import { PANE_FIELDS, PANES_AT, POINT_FIELDS, READING_FIELDS, rulesOf } from './columns.ts'
import type { JournalReading, StoredChartPoint, StoredReading } from './types.ts'

export const BLOCK_FORMAT = 1
const CONSTANT = 0
const LINEAR = 1
const RAW = 2

/** The same number: NaN equals NaN, −0 differs from 0 (a block gives back what it was given). */
function same(a: number, b: number): boolean {
  return a === b ? a !== 0 || 1 / a === 1 / b : Number.isNaN(a) && Number.isNaN(b)
}

/** Encodes the rows `rows[from..to)` of `data` (rows of `stride` numbers) as one block. */
export function encodeBlock(
  data: Float64Array,
  stride: number,
  rows: Int32Array,
  from: number,
  to: number,
): Uint8Array {
  const count = to - from
  const codes = new Uint8Array(stride)
  const at = (k: number, f: number) => data[(rows[k] as number) * stride + f] as number
  let size = 3
  for (let f = 0; f < stride; f++) {
    const first = at(from, f)
    let constant = true
    for (let k = from + 1; k < to && constant; k++) constant = same(at(k, f), first)
    if (constant) {
      codes[f] = CONSTANT
      size += 2
      continue
    }
    const step = at(from + 1, f) - first
    let linear = Number.isFinite(step)
    // From the second row: first + step need not give it back (−0, rounding).
    for (let k = from + 1; k < to && linear; k++) linear = same(at(k, f), first + (k - from) * step)
    codes[f] = linear ? LINEAR : RAW
    size += linear ? 3 : 1 + count
  }
  const out = new Float64Array(size)
  out[0] = BLOCK_FORMAT
  out[1] = count
  out[2] = stride
  let o = 3
  for (let f = 0; f < stride; f++) {
    const code = codes[f] as number
    out[o++] = code
    if (code === CONSTANT) out[o++] = at(from, f)
    else if (code === LINEAR) {
      out[o++] = at(from, f)
      out[o++] = at(from + 1, f) - at(from, f)
    } else for (let k = from; k < to; k++) out[o++] = at(k, f)
  }
  return new Uint8Array(out.buffer)
}

/** A decoded block: `count` rows of `stride` numbers. */
export interface Block {
  count: number
  stride: number
  data: Float64Array
}

export function decodeBlock(blob: Uint8Array): Block {
  // SQLite hands a BLOB at any byte offset: a Float64Array needs it aligned to 8.
  const words =
    blob.byteOffset % 8 === 0
      ? new Float64Array(blob.buffer, blob.byteOffset, blob.byteLength / 8)
      : new Float64Array(blob.slice().buffer)
  if (words[0] !== BLOCK_FORMAT) throw new Error(`unknown block format ${words[0]}`)
  const count = words[1] as number
  const stride = words[2] as number
  const data = new Float64Array(count * stride)
  let o = 3
  for (let f = 0; f < stride; f++) {
    const code = words[o++]
    if (code === CONSTANT) {
      const v = words[o++] as number
      for (let k = 0; k < count; k++) data[k * stride + f] = v
    } else if (code === LINEAR) {
      const first = words[o++] as number
      const step = words[o++] as number
      for (let k = 0; k < count; k++) data[k * stride + f] = first + k * step
    } else {
      for (let k = 0; k < count; k++) data[k * stride + f] = words[o++] as number
    }
  }
  return { count, stride, data }
}

/** A stored number back as a value: NaN is `null`. */
export const orNull = (n: number): number | null => (Number.isNaN(n) ? null : n)

/** Row `r` of a reading block, as a range query answers it. */
export function storedReading(b: Block, r: number): StoredReading {
  const o = r * b.stride
  return {
    ts: b.data[o + READING_FIELDS.ts] as number,
    value: b.data[o + READING_FIELDS.value] as number,
  }
}

/** Row `r` of a reading block, as a replay takes it. */
export function journalReading(b: Block, r: number, key: string | null): JournalReading {
  const o = r * b.stride
  return {
    seq: b.data[o + READING_FIELDS.seq] as number,
    ts: b.data[o + READING_FIELDS.ts] as number,
    value: b.data[o + READING_FIELDS.value] as number,
    size: orNull(b.data[o + READING_FIELDS.size] as number),
    key,
  }
}

/** Row `r` of a chart point block, its panes named `panes` (in column order). */
export function storedPoint(b: Block, r: number, panes: readonly string[]): StoredChartPoint {
  const o = r * b.stride
  const d = b.data
  const record: Record<string, PanePoint> = {}
  panes.forEach((name, k) => {
    const p = o + PANES_AT + k * PANE_FIELDS.length
    const pane: PanePoint = {
      statistic: orNull(d[p] as number),
      center: orNull(d[p + 1] as number),
      lcl: orNull(d[p + 2] as number),
      ucl: orNull(d[p + 3] as number),
    }
    if (!Number.isNaN(d[p + 4])) pane.upper = d[p + 4] as number
    if (!Number.isNaN(d[p + 5])) pane.lower = d[p + 5] as number
    record[name] = pane
  })
  return {
    index: d[o + POINT_FIELDS.index] as number,
    ts: d[o + POINT_FIELDS.ts] as number,
    phase: d[o + POINT_FIELDS.phase] === 1 ? 'monitor' : 'baseline',
    n: d[o + POINT_FIELDS.n] as number,
    panes: record,
    rules: rulesOf(d[o + POINT_FIELDS.rules] as number),
  }
}
