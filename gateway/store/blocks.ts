/**
 * The embedded time series stores blocks, not rows: many readings (or chart points) are one
 * SQLite row, their fields in columns inside a BLOB. A row costs SQLite about as much as a
 * block of a hundred values, so the writer keeps up with ingest at broker speed.
 * Time-series databases store chunks the same way (Prometheus, InfluxDB's TSM, Gorilla).
 *
 * A block holds rows of `stride` numbers, the rows of a ColumnBatch (columns.ts) with the
 * series id in place of the sender's name number. It is a Float64Array: `[FORMAT, count,
 * stride]`, then each field as its encoding code and payload, whichever is shortest: CONSTANT
 * (one value for every row: limits in Phase II, a sample size, `null`), LINEAR (first value and
 * step, exactly: point indices, stream numbers), RUNS (a count of runs, then each run's length
 * and value: the series and its limits in a block of many series, grouped) or RAW (every
 * value). NaN stands for `null`. Values come back bit for bit (−0 stays −0).
 */

import type { PanePoint } from '../../rules/index.ts'
import { MAX_PANES, PANES_AT, POINT_FIELDS, READING_FIELDS, rulesOf } from './columns.ts'
import type { JournalReading, StoredChartPoint, StoredReading } from './types.ts'

export const BLOCK_FORMAT = 1
const CONSTANT = 0
const LINEAR = 1
const RAW = 2
const RUNS = 3

/** The same number: NaN equals NaN, −0 differs from 0 (a block gives back what it was given). */
function same(a: number, b: number): boolean {
  return a === b ? a !== 0 || 1 / a === 1 / b : Number.isNaN(a) && Number.isNaN(b)
}

/** Per field of the block being encoded: its code and, for RUNS, the number of runs (reused). */
let codes = new Int32Array(64)
let runCounts = new Int32Array(64)

/**
 * Encodes the rows `rows[from..to)` of `data` (rows of `stride` numbers) as one block. Each
 * field is read twice where it is stored in full (once to choose its encoding, once to write
 * it) and once otherwise, straight from `data`: nothing is gathered first.
 */
export function encodeBlock(
  data: Float64Array,
  stride: number,
  rows: Int32Array,
  from: number,
  to: number,
): Uint8Array {
  const count = to - from
  if (codes.length < stride) {
    codes = new Int32Array(stride)
    runCounts = new Int32Array(stride)
  }
  let size = 3
  for (let f = 0; f < stride; f++) {
    // Runs of equal values, and whether every value is first + k × step, in one pass.
    const first = data[(rows[from] as number) * stride + f] as number
    const step = count > 1 ? (data[(rows[from + 1] as number) * stride + f] as number) - first : 0
    // The first value too, as the decoder computes it (−0 + 0 is 0).
    let linear = count > 1 && Number.isFinite(step) && same(first, first + 0 * step)
    let runs = 1
    let previous = first
    for (let k = 1; k < count; k++) {
      const v = data[(rows[from + k] as number) * stride + f] as number
      if (!same(v, previous)) runs++
      if (linear && !same(v, first + k * step)) linear = false
      previous = v
    }
    const code = runs === 1 ? CONSTANT : linear ? LINEAR : 2 + 2 * runs < 1 + count ? RUNS : RAW
    codes[f] = code
    runCounts[f] = runs
    size += code === CONSTANT ? 2 : code === LINEAR ? 3 : code === RUNS ? 2 + 2 * runs : 1 + count
  }
  const out = new Float64Array(size)
  out[0] = BLOCK_FORMAT
  out[1] = count
  out[2] = stride
  let o = 3
  for (let f = 0; f < stride; f++) {
    const code = codes[f] as number
    const first = data[(rows[from] as number) * stride + f] as number
    out[o++] = code
    if (code === CONSTANT) out[o++] = first
    else if (code === LINEAR) {
      out[o++] = first
      out[o++] = (data[(rows[from + 1] as number) * stride + f] as number) - first
    } else if (code === RUNS) {
      out[o++] = runCounts[f] as number
      let start = 0
      let value = first
      for (let k = 1; k < count; k++) {
        const v = data[(rows[from + k] as number) * stride + f] as number
        if (same(v, value)) continue
        out[o++] = k - start
        out[o++] = value
        start = k
        value = v
      }
      out[o++] = count - start
      out[o++] = value
    } else {
      for (let k = 0; k < count; k++)
        out[o++] = data[(rows[from + k] as number) * stride + f] as number
    }
  }
  return new Uint8Array(out.buffer)
}

/** The rows 0…n−1 in order. */
export function identity(n: number): Int32Array {
  const rows = new Int32Array(n)
  for (let k = 0; k < n; k++) rows[k] = k
  return rows
}

/** A decoded block: `count` rows of `stride` numbers. */
export interface Block {
  count: number
  stride: number
  data: Float64Array
}

/** A block's words, aligned (SQLite hands a BLOB at any byte offset: a Float64Array needs 8). */
function wordsOf(blob: Uint8Array): Float64Array {
  const words =
    blob.byteOffset % 8 === 0
      ? new Float64Array(blob.buffer, blob.byteOffset, blob.byteLength / 8)
      : new Float64Array(blob.slice().buffer)
  if (words[0] !== BLOCK_FORMAT) throw new Error(`unknown block format ${words[0]}`)
  return words
}

export function decodeBlock(blob: Uint8Array): Block {
  const words = wordsOf(blob)
  const count = words[1] as number
  const stride = words[2] as number
  const data = new Float64Array(count * stride)
  decodeWords(words, data, 0)
  return { count, stride, data }
}

/**
 * Decodes a block of rows of `stride` numbers into `target` from row `row` on: a compaction
 * gathers many blocks in one array without a copy of each. Returns the block's number of rows.
 */
export function decodeBlockInto(
  blob: Uint8Array,
  stride: number,
  target: Float64Array,
  row: number,
): number {
  const words = wordsOf(blob)
  if (words[2] !== stride) throw new Error(`a block of ${words[2]} numbers a row, not ${stride}`)
  decodeWords(words, target, row * stride)
  return words[1] as number
}

function decodeWords(words: Float64Array, data: Float64Array, base: number): void {
  const count = words[1] as number
  const stride = words[2] as number
  let o = 3
  for (let f = 0; f < stride; f++) {
    const code = words[o++]
    const at = base + f
    if (code === CONSTANT) {
      const v = words[o++] as number
      for (let k = 0; k < count; k++) data[at + k * stride] = v
    } else if (code === LINEAR) {
      const first = words[o++] as number
      const step = words[o++] as number
      for (let k = 0; k < count; k++) data[at + k * stride] = first + k * step
    } else if (code === RUNS) {
      const runs = words[o++] as number
      let k = 0
      for (let r = 0; r < runs; r++) {
        const length = words[o++] as number
        const v = words[o++] as number
        for (const end = k + length; k < end; k++) data[at + k * stride] = v
      }
    } else {
      for (let k = 0; k < count; k++) data[at + k * stride] = words[o++] as number
    }
  }
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
  // Blocks written before panes had a σ have six numbers per pane, not PANE_FIELDS.length.
  const fields = (b.stride - PANES_AT) / MAX_PANES
  const record: Record<string, PanePoint> = {}
  panes.forEach((name, k) => {
    const p = o + PANES_AT + k * fields
    const pane: PanePoint = {
      statistic: orNull(d[p] as number),
      center: orNull(d[p + 1] as number),
      lcl: orNull(d[p + 2] as number),
      ucl: orNull(d[p + 3] as number),
      sigma: fields > 6 ? orNull(d[p + 6] as number) : null,
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
