import type { ChartPoint } from '../../rules/index.ts'

/**
 * Readings and chart points on their way to the SQLite writer thread, in columns: numbers in
 * one Float64Array per kind, strings beside them. Posting an object per record costs about a
 * microsecond to clone on each thread; a typed array is copied at memory speed. A column batch
 * is immutable once posted (it may be posted again after a failed commit).
 *
 * Characteristics are numbered in the order the sender first saw them (`Names`); a batch
 * carries the names new since the batch before, and the writer keeps the list.
 */
export interface ColumnBatch {
  /** Names numbered `namesFrom`, `namesFrom + 1`, … (the writer sets them; idempotent). */
  namesFrom: number
  names: string[]
  /** READING_STRIDE numbers per reading: name, ts, value, seq, size, received (NaN: none). */
  readings: Float64Array
  /** The subgroup key of reading i, when any reading of the batch has one. */
  keys: (string | undefined)[] | null
  /** CHART_STRIDE numbers per chart point: name, ts, index, n, phase (0 baseline, 1 monitor). */
  charts: Float64Array
  /** Per chart point: its panes as JSON, and its rules joined by commas. */
  panes: string[]
  rules: string[]
}

export const READING_STRIDE = 6
export const CHART_STRIDE = 5

/** The sender's numbering of characteristics. */
export class Names {
  private readonly index = new Map<string, number>()
  private readonly list: string[] = []
  /** Names the next batch must carry from here on. */
  unsent = 0

  of(name: string): number {
    let i = this.index.get(name)
    if (i === undefined) {
      i = this.list.length
      this.index.set(name, i)
      this.list.push(name)
    }
    return i
  }

  /** The names since `from`, and marks them sent. */
  take(): { from: number; names: string[] } {
    const from = this.unsent
    this.unsent = this.list.length
    return { from, names: this.list.slice(from) }
  }

  /** Every name goes again with the next batch (a new writer knows none). */
  resendAll(): void {
    this.unsent = 0
  }

  all(): readonly string[] {
    return this.list
  }
}

/** A growable column of numbers. */
class NumberColumn {
  data: Float64Array
  length = 0

  constructor(capacity: number) {
    this.data = new Float64Array(capacity)
  }

  reserve(n: number): number {
    if (this.length + n > this.data.length) {
      const grown = new Float64Array(Math.max(this.data.length * 2, this.length + n))
      grown.set(this.data.subarray(0, this.length))
      this.data = grown
    }
    const at = this.length
    this.length += n
    return at
  }
}

const orNaN = (n: number | undefined) => (n === undefined ? Number.NaN : n)

/** Collects one batch's readings and chart points. */
export class ColumnBuilder {
  private readonly names: Names
  private readonly readingColumn = new NumberColumn(1024 * READING_STRIDE)
  private readonly chartColumn = new NumberColumn(1024 * CHART_STRIDE)
  private keys: (string | undefined)[] | null = null
  private readonly panes: string[] = []
  private readonly rules: string[] = []
  count = 0

  constructor(names: Names) {
    this.names = names
  }

  reading(
    characteristic: string,
    ts: number,
    value: number,
    seq: number | undefined,
    size: number | undefined,
    key: string | undefined,
    received: number | undefined,
  ): void {
    const i = this.readingColumn.reserve(READING_STRIDE)
    const d = this.readingColumn.data
    d[i] = this.names.of(characteristic)
    d[i + 1] = ts
    d[i + 2] = value
    d[i + 3] = orNaN(seq)
    d[i + 4] = orNaN(size)
    d[i + 5] = orNaN(received)
    if (key !== undefined) {
      this.keys ??= []
      this.keys[i / READING_STRIDE] = key
    }
    this.count++
  }

  chart(characteristic: string, p: ChartPoint): void {
    const i = this.chartColumn.reserve(CHART_STRIDE)
    const d = this.chartColumn.data
    d[i] = this.names.of(characteristic)
    d[i + 1] = p.ts
    d[i + 2] = p.index
    d[i + 3] = p.n
    d[i + 4] = p.phase === 'monitor' ? 1 : 0
    this.panes.push(JSON.stringify(p.panes))
    let rules = ''
    for (const v of p.violations) rules = rules === '' ? v.rule : `${rules},${v.rule}`
    this.rules.push(rules)
    this.count++
  }

  /** The batch as posted (the names it needs are taken now). */
  build(): ColumnBatch {
    const { from, names } = this.names.take()
    return {
      namesFrom: from,
      names,
      readings: this.readingColumn.data.slice(0, this.readingColumn.length),
      keys: this.keys,
      charts: this.chartColumn.data.slice(0, this.chartColumn.length),
      panes: this.panes,
      rules: this.rules,
    }
  }
}

/** A number column's value back as SQL: NaN is NULL. */
export const nullable = (n: number): number | null => (Number.isNaN(n) ? null : n)
