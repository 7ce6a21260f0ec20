/**
 * The embedded time series stores blocks, not rows: many readings (or chart points) are one
 * SQLite row, their fields in columns inside a BLOB. A row costs SQLite about as much as a
 * block of a hundred values, so the writer keeps up with ingest at broker speed.
 * Time-series databases store chunks the same way (Prometheus, InfluxDB's TSM, Gorilla).
 *
 * A block holds rows of `stride` numbers, the rows of a ColumnBatch (columns.ts) with the
 * series id in place of the sender's name number. It is a Float64Array: `[FORMAT, count,
 * stride]`, then each field as its encoding code and payload, whichever is shortest: CONSTANT
 * (one value for every row: a sample size, a phase, `null`), LINEAR (first value and
 * step, exactly: point indices, stream numbers), RUNS (a count of runs, then each run's length
 * and value: the series in a block of many series, grouped) or RAW (every
 * value). NaN stands for `null`. Values come back bit for bit (−0 stays −0).
 */

import type { PanePoint } from '../../rules/index.ts'
import {
  CHART_STRIDE,
  LIMIT_FIELDS,
  LIMIT_VALUES,
  LIMITS_STRIDE,
  MAX_PANES,
  PANE_FIELDS,
  PANES_AT,
  POINT_FIELDS,
  READING_FIELDS,
  rulesOf,
} from './columns.ts'
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

/**
 * A decoded block of chart points: rows of CHART_STRIDE numbers, and the limits they stand
 * against, stored once per change (a block's limits BLOB: rows of LIMITS_STRIDE, the row each
 * holds from, in row order; every series' first row in the block has one). `limitOf[r]` is
 * where row r's LIMIT_VALUES begin in `limits`.
 */
export interface PointBlock extends Block {
  limits: Float64Array
  limitOf: Int32Array
}

/**
 * Decodes a block of chart points and its limits. Blocks written before limits were stored
 * once per change hold them in every row (six or, once panes had a σ, seven numbers per pane,
 * and no limits BLOB): they come back in the same shape, a limits row per point.
 */
export function decodePointBlock(blob: Uint8Array, limitsBlob: Uint8Array | null): PointBlock {
  const block = decodeBlock(blob)
  if (limitsBlob === null) return fromRowLimits(block)
  if (block.stride !== CHART_STRIDE)
    throw new Error(`a chart point block of ${block.stride} numbers a row, not ${CHART_STRIDE}`)
  const limitOf = new Int32Array(block.count)
  const limits = decodeLimits(limitsBlob, block.count, limitOf, 0, 0)
  return { ...block, limits, limitOf }
}

/**
 * A point block's limits (its limits BLOB, for `count` rows), decoded: rows of LIMITS_STRIDE,
 * and for each row r where its LIMIT_VALUES begin in them, plus `offset`, in `limitOf[base + r]`.
 */
export function decodeLimits(
  limitsBlob: Uint8Array,
  count: number,
  limitOf: Int32Array,
  base: number,
  offset: number,
): Float64Array {
  const changes = decodeBlock(limitsBlob)
  if (changes.stride !== LIMITS_STRIDE)
    throw new Error(`a limits block of ${changes.stride} numbers a row, not ${LIMITS_STRIDE}`)
  let next = 0
  let current = -1
  for (let r = 0; r < count; r++) {
    while (next < changes.count && (changes.data[next * LIMITS_STRIDE] as number) <= r)
      current = next++
    if (current < 0) throw new Error(`chart point ${r} of a block has no limits before it`)
    // After the row number: the values.
    limitOf[base + r] = offset + current * LIMITS_STRIDE + 1
  }
  return changes.data
}

/** A block with the limits in every row (the format before), as CHART_STRIDE rows and their limits. */
function fromRowLimits(old: Block): PointBlock {
  // Six numbers per pane before panes had a σ, seven after: statistic, center, lcl, ucl,
  // upper, lower[, sigma].
  const fields = (old.stride - PANES_AT) / MAX_PANES
  const data = new Float64Array(old.count * CHART_STRIDE)
  const limits = new Float64Array(old.count * LIMIT_VALUES)
  const limitOf = new Int32Array(old.count)
  for (let r = 0; r < old.count; r++) {
    const o = r * old.stride
    const to = r * CHART_STRIDE
    const l = r * LIMIT_VALUES
    data.set(old.data.subarray(o, o + PANES_AT), to)
    for (let k = 0; k < MAX_PANES; k++) {
      const p = o + PANES_AT + k * fields
      const q = to + PANES_AT + k * PANE_FIELDS.length
      data[q] = old.data[p] as number
      data[q + 1] = old.data[p + 4] as number
      data[q + 2] = old.data[p + 5] as number
      const m = l + k * LIMIT_FIELDS.length
      limits[m] = old.data[p + 1] as number
      limits[m + 1] = old.data[p + 2] as number
      limits[m + 2] = old.data[p + 3] as number
      limits[m + 3] = fields > 6 ? (old.data[p + 6] as number) : Number.NaN
    }
    limitOf[r] = l
  }
  return { count: old.count, stride: CHART_STRIDE, data, limits, limitOf }
}

/**
 * Encodes the limits of rows[from..to) of a chart point batch as a block's limits: a row
 * where a series' rows begin (in rows[from..to), grouped by series) and where its limits
 * differ from the row before. `limitOf(row)` is where a row's LIMIT_VALUES are in `limits`.
 */
export function encodeLimits(
  data: Float64Array,
  rows: Int32Array,
  from: number,
  to: number,
  limits: Float64Array,
  limitOf: Int32Array,
): Uint8Array {
  let out = new Float64Array(Math.min(to - from, 64) * LIMITS_STRIDE)
  let n = 0
  let before = -1
  let series = Number.NaN
  for (let k = from; k < to; k++) {
    const row = rows[k] as number
    const at = limitOf[row] as number
    const s = data[row * CHART_STRIDE] as number
    if (s === series && (at === before || sameLimits(limits, at, before))) continue
    series = s
    before = at
    if ((n + 1) * LIMITS_STRIDE > out.length) {
      const grown = new Float64Array(Math.min(2 * out.length, (to - from) * LIMITS_STRIDE))
      grown.set(out)
      out = grown
    }
    out[n * LIMITS_STRIDE] = k - from
    out.set(limits.subarray(at, at + LIMIT_VALUES), n * LIMITS_STRIDE + 1)
    n++
  }
  return encodeBlock(out, LIMITS_STRIDE, identity(n), 0, n)
}

function sameLimits(limits: Float64Array, a: number, b: number): boolean {
  for (let f = 0; f < LIMIT_VALUES; f++)
    if (!same(limits[a + f] as number, limits[b + f] as number)) return false
  return true
}

/** Row `r` of a chart point block, its panes named `panes` (in column order). */
export function storedPoint(b: PointBlock, r: number, panes: readonly string[]): StoredChartPoint {
  const o = r * CHART_STRIDE
  const d = b.data
  const l = b.limitOf[r] as number
  const record: Record<string, PanePoint> = {}
  panes.forEach((name, k) => {
    const p = o + PANES_AT + k * PANE_FIELDS.length
    const m = l + k * LIMIT_FIELDS.length
    const pane: PanePoint = {
      statistic: orNull(d[p] as number),
      center: orNull(b.limits[m] as number),
      lcl: orNull(b.limits[m + 1] as number),
      ucl: orNull(b.limits[m + 2] as number),
      sigma: orNull(b.limits[m + 3] as number),
    }
    if (!Number.isNaN(d[p + 1])) pane.upper = d[p + 1] as number
    if (!Number.isNaN(d[p + 2])) pane.lower = d[p + 2] as number
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
