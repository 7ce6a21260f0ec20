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

/** One column of the rows being encoded, gathered (reused: a block is encoded at a time). */
let column = new Float64Array(1024)

/** How a gathered column of `count` values encodes best: its code and its length in words. */
function analyse(count: number): { code: number; words: number; runs: number } {
  const c = column
  let runs = 1
  for (let k = 1; k < count; k++) if (!same(c[k] as number, c[k - 1] as number)) runs++
  if (runs === 1) return { code: CONSTANT, words: 2, runs }
  const first = c[0] as number
  const step = (c[1] as number) - first
  let linear = Number.isFinite(step)
  // Every value as the decoder computes it, the first too (−0 + 0 is 0; rounding).
  for (let k = 0; k < count && linear; k++) linear = same(c[k] as number, first + k * step)
  if (linear) return { code: LINEAR, words: 3, runs }
  return 2 + 2 * runs < 1 + count
    ? { code: RUNS, words: 2 + 2 * runs, runs }
    : { code: RAW, words: 1 + count, runs }
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
  if (column.length < count) column = new Float64Array(count * 2)
  const gather = (f: number) => {
    for (let k = 0; k < count; k++)
      column[k] = data[(rows[from + k] as number) * stride + f] as number
  }
  const plans = []
  let size = 3
  for (let f = 0; f < stride; f++) {
    gather(f)
    const plan = analyse(count)
    plans.push(plan)
    size += plan.words
  }
  const out = new Float64Array(size)
  out[0] = BLOCK_FORMAT
  out[1] = count
  out[2] = stride
  let o = 3
  for (let f = 0; f < stride; f++) {
    const { code, runs } = plans[f] as { code: number; runs: number }
    gather(f)
    out[o++] = code
    if (code === CONSTANT) out[o++] = column[0] as number
    else if (code === LINEAR) {
      out[o++] = column[0] as number
      out[o++] = (column[1] as number) - (column[0] as number)
    } else if (code === RUNS) {
      out[o++] = runs
      let start = 0
      for (let k = 1; k <= count; k++) {
        if (k < count && same(column[k] as number, column[k - 1] as number)) continue
        out[o++] = k - start
        out[o++] = column[start] as number
        start = k
      }
    } else {
      out.set(column.subarray(0, count), o)
      o += count
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

export function decodeBlock(blob: Uint8Array): Block {
  // SQLite hands a BLOB at any byte offset: a Float64Array needs it aligned to 8.
  const words =
    blob.byteOffset % 8 === 0
      ? new Float64Array(blob.buffer, blob.byteOffset, blob.byteLength / 8)
      : new Float64Array(blob.slice().buffer)
  const count = words[1] as number
  const stride = words[2] as number
  if (words[0] !== BLOCK_FORMAT) throw new Error(`unknown block format ${words[0]}`)
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
    } else if (code === RUNS) {
      const runs = words[o++] as number
      let k = 0
      for (let r = 0; r < runs; r++) {
        const length = words[o++] as number
        const v = words[o++] as number
        for (const end = k + length; k < end; k++) data[k * stride + f] = v
      }
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
