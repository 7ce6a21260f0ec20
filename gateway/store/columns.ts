import type { ChartPoint, PanePoint, ViolationRule } from '../../rules/index.ts'
import type { Delivery } from './types.ts'

/**
 * Readings, chart points and deliveries on their way to the SQLite writer thread, in columns:
 * numbers in one Float64Array per kind, a few strings beside them. Posting an object per
 * record costs about a microsecond to clone on each thread; a typed array is copied at memory
 * speed. Nothing is serialised on the ingest thread (a chart point's panes are numbers, its
 * rules a bit mask). A column batch is immutable once posted (it may be posted again after a
 * failed commit).
 *
 * Characteristics are numbered in the order the sender first saw them (`Names`); a batch
 * carries the names (and the pane names of their charts) new since the batch before, and the
 * writer keeps the list.
 */
export interface ColumnBatch {
  /** Names numbered `namesFrom`, `namesFrom + 1`, … (the writer sets them; idempotent). */
  namesFrom: number
  names: string[]
  /** The panes of a characteristic's chart points, in column order, for those new since the batch before. */
  layouts: [number, string[]][]
  /** READING_STRIDE numbers per reading: name, ts, value, seq, size, received (NaN: none). */
  readings: Float64Array
  /** The subgroup key of reading i, when any reading of the batch has one. */
  keys: (string | undefined)[] | null
  /**
   * CHART_STRIDE numbers per chart point: name, ts, index, n, phase (0 baseline, 1 monitor),
   * the rules it completed (bits of RULE_BITS), then PANE_FIELDS for each of MAX_PANES panes.
   */
  charts: Float64Array
  /**
   * The limits the points stand against, stored once per change, not per point: LIMITS_STRIDE
   * numbers per row, the point's row in `charts` (its limits hold from it on), then
   * LIMIT_FIELDS for each of MAX_PANES panes. A characteristic's first point in a batch always
   * has a row, so a batch is read without the ones before it (it may be sent again, to a new
   * writer); a later point has one only when its limits differ from the point before.
   */
  limits: Float64Array
  /** DELIVERY_STRIDE numbers per delivery: client (index into `clients`), message id, hash, at. */
  deliveries: Float64Array
  clients: string[]
}

export const READING_STRIDE = 6
/** Where each reading field is in its row, after the name. */
export const READING_FIELDS = { ts: 1, value: 2, seq: 3, size: 4, received: 5 } as const

/**
 * A pane's numbers in a chart row, those that change from point to point, in this order (NaN:
 * null, or absent for the CUSUM sums upper and lower).
 */
export const PANE_FIELDS = ['statistic', 'upper', 'lower'] as const
/** A pane's limits, in a limits row (`ColumnBatch.limits`), in this order (NaN: null). */
export const LIMIT_FIELDS = ['center', 'lcl', 'ucl', 'sigma'] as const
/** The most panes a chart has (I-MR, X̄-R, X̄-S: two). */
export const MAX_PANES = 2
const POINT_HEAD = 6
export const CHART_STRIDE = POINT_HEAD + MAX_PANES * PANE_FIELDS.length
/** A limits row: the row it starts at, then LIMIT_FIELDS for each of MAX_PANES panes. */
export const LIMITS_STRIDE = 1 + MAX_PANES * LIMIT_FIELDS.length
/** The limits of a row (LIMITS_STRIDE without its row number). */
export const LIMIT_VALUES = LIMITS_STRIDE - 1
/** Where each point field is in its row, after the name; the panes follow from PANES_AT. */
export const POINT_FIELDS = { ts: 1, index: 2, n: 3, phase: 4, rules: 5 } as const
export const PANES_AT = POINT_HEAD

export const DELIVERY_STRIDE = 4

/**
 * The rules a point completed, one bit each. Stored on disk: append only, never reorder.
 */
export const RULE_BITS: readonly ViolationRule[] = [
  'N1',
  'N2',
  'N3',
  'N4',
  'N5',
  'N6',
  'N7',
  'N8',
  'WE1',
  'WE2',
  'WE3',
  'WE4',
  'cusum-upper',
  'cusum-lower',
]
const BIT_OF = new Map(RULE_BITS.map((rule, bit) => [rule, 1 << bit]))

/** The rules a point completed as a bit mask (a rule judged on two panes is one bit). */
export function ruleMask(violations: readonly { rule: ViolationRule }[]): number {
  let mask = 0
  // Indexed: the arrays come in many shapes (frozen empty ones too), and an iterator would be made.
  for (let i = 0; i < violations.length; i++)
    mask |= BIT_OF.get((violations[i] as { rule: ViolationRule }).rule) ?? 0
  return mask
}

/** The rules of a bit mask, each once, in RULE_BITS order: how stored and live points name them. */
export function rulesOf(mask: number): ViolationRule[] {
  return RULE_BITS.filter((_, bit) => (mask & (1 << bit)) !== 0)
}

/** The sender's numbering of characteristics, with the pane names of each one's chart. */
export class Names {
  private readonly index = new Map<string, number>()
  private readonly list: string[] = []
  private readonly layouts: (string[] | undefined)[] = []
  /** Names the next batch must carry from here on. */
  private unsent = 0
  /** Layouts not sent yet. */
  private unsentLayouts: number[] = []
  /** Per name: the limits of its last point (LIMIT_VALUES each), and the batch they were in. */
  private limits = new Float64Array(256 * LIMIT_VALUES)
  private limitsBatch = new Int32Array(256).fill(-1)
  /** The number of the batch being built (by whichever builder: they take turns). */
  private batch = 0

  /** The last name asked for: a reading and its chart point come one after the other. */
  private lastName = ''
  private lastIndex = -1

  of(name: string): number {
    if (name === this.lastName) return this.lastIndex
    let i = this.index.get(name)
    if (i === undefined) {
      i = this.list.length
      this.index.set(name, i)
      this.list.push(name)
    }
    this.lastName = name
    this.lastIndex = i
    return i
  }

  /** The panes of characteristic `i`'s points, learnt from its first point (a kind's panes never change). */
  layout(i: number, point: ChartPoint): readonly string[] {
    let panes = this.layouts[i]
    if (panes === undefined) {
      panes = Object.keys(point.panes)
      if (panes.length > MAX_PANES)
        throw new Error(`a chart point has ${panes.length} panes; the store holds ${MAX_PANES}`)
      this.layouts[i] = panes
      this.unsentLayouts.push(i)
    }
    return panes
  }

  /**
   * Whether the limits in `given` (LIMIT_VALUES numbers) must be sent with name `i`'s point:
   * they differ from its point before, or it has none in this batch yet. Remembers them.
   */
  limitsToSend(i: number, given: Float64Array): boolean {
    const batch = this.batch
    if (i >= this.limitsBatch.length) {
      const grown = new Int32Array(Math.max(2 * this.limitsBatch.length, i + 1)).fill(-1)
      grown.set(this.limitsBatch)
      this.limitsBatch = grown
      const values = new Float64Array(grown.length * LIMIT_VALUES)
      values.set(this.limits)
      this.limits = values
    }
    const at = i * LIMIT_VALUES
    let send = this.limitsBatch[i] !== batch
    const last = this.limits
    for (let f = 0; f < LIMIT_VALUES; f++) {
      const v = given[f] as number
      // Object.is: NaN is NaN, −0 is not 0 (what is stored is given back).
      if (!Object.is(v, last[at + f])) {
        send = true
        last[at + f] = v
      }
    }
    this.limitsBatch[i] = batch
    return send
  }

  /** The names and layouts new since the last call, marked sent; the next batch begins. */
  take(): Pick<ColumnBatch, 'namesFrom' | 'names' | 'layouts'> {
    this.batch++
    const namesFrom = this.unsent
    this.unsent = this.list.length
    const layouts = this.unsentLayouts.map((i): [number, string[]] => [i, this.layouts[i] ?? []])
    this.unsentLayouts = []
    return { namesFrom, names: this.list.slice(namesFrom), layouts }
  }

  /** Every name and layout, for a new writer that knows none. */
  all(): Pick<ColumnBatch, 'namesFrom' | 'names' | 'layouts'> {
    const layouts: [number, string[]][] = []
    this.layouts.forEach((panes, i) => {
      if (panes) layouts.push([i, panes])
    })
    return { namesFrom: 0, names: [...this.list], layouts }
  }
}

/**
 * Numbers a column keeps for good (512 KiB). More, grown for a large batch (one turn's writes go
 * in one batch: a broker batch taken in one turn can hold 250,000 readings and their points), is
 * given back by halves once no batch has used a quarter of it for SHRINK_AFTER_MS: kept, the
 * columns of one burst held 72 MB for as long as the gateway ran.
 */
export const KEPT_CAPACITY = 64 * 1024

/**
 * How long a column's batches must all use less than a quarter of it before it gives back half
 * (and half again at each tick after). Under load, batches come in every size (a turn with 50
 * readings, then one with 20,000): giving back after any small batch, or at any tick with
 * nothing waiting, had the columns reallocated 70 times over a QoS 0 run of `bench/thread-cpu.ts`
 * (over 200 MB allocated, zeroed and copied), and that memory drove collections.
 */
export const SHRINK_AFTER_MS = 5000

/** A growable column of numbers. */
class NumberColumn {
  data: Float64Array
  length = 0
  /** The most numbers a batch took since the last tick. */
  private peak = 0
  /** The last tick at which a batch had used a quarter of the capacity or more. */
  private busyAt = Number.NEGATIVE_INFINITY

  constructor(capacity: number) {
    this.data = new Float64Array(capacity)
  }

  get bytes(): number {
    return this.data.byteLength
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

  /**
   * What was collected (a copy), and empty again. The copy is in shared memory: posted to the
   * writer thread it is shared, not serialized and copied twice more (a batch's columns are
   * tens of MB at broker speed), and this thread still holds it to send again.
   */
  take(): Float64Array {
    const taken = new Float64Array(new SharedArrayBuffer(this.length * 8))
    taken.set(this.data.subarray(0, this.length))
    if (this.length > this.peak) this.peak = this.length
    this.length = 0
    return taken
  }

  /**
   * The store's tick (`now`, its time): half of a capacity above KEPT_CAPACITY given back when no
   * batch used a quarter of it for SHRINK_AFTER_MS. What the column holds is kept.
   */
  settle(now: number): void {
    const used = Math.max(this.peak, this.length)
    this.peak = 0
    if (used * 4 >= this.data.length) {
      this.busyAt = now
      return
    }
    if (this.data.length <= KEPT_CAPACITY || now - this.busyAt < SHRINK_AFTER_MS) return
    const kept = new Float64Array(Math.max(KEPT_CAPACITY, Math.floor(this.data.length / 2)))
    kept.set(this.data.subarray(0, this.length))
    this.data = kept
  }
}

const orNaN = (n: number | null | undefined) => (n === undefined || n === null ? Number.NaN : n)

/** Collects one batch's readings, chart points and deliveries. */
export class ColumnBuilder {
  private readonly names: Names
  private readonly readingColumn = new NumberColumn(256 * READING_STRIDE)
  private readonly chartColumn = new NumberColumn(256 * CHART_STRIDE)
  private readonly limitsColumn = new NumberColumn(64 * LIMITS_STRIDE)
  /** The limits of the point being added (scratch). */
  private readonly pointLimits = new Float64Array(LIMIT_VALUES)
  private readonly deliveryColumn = new NumberColumn(0)
  private keys: (string | undefined)[] | null = null
  /** Client ids numbered per batch (a batch-local table: the ids ever seen are not kept). */
  private readonly clientIndex = new Map<string, number>()
  private clients: string[] = []
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
    const name = this.names.of(characteristic)
    const panes = this.names.layout(name, p)
    const i = this.chartColumn.reserve(CHART_STRIDE)
    const d = this.chartColumn.data
    d[i] = name
    d[i + 1] = p.ts
    d[i + 2] = p.index
    d[i + 3] = p.n
    d[i + 4] = p.phase === 'monitor' ? 1 : 0
    d[i + 5] = ruleMask(p.violations)
    let o = i + PANES_AT
    const limits = this.pointLimits
    for (let k = 0; k < MAX_PANES; k++) {
      const pane: PanePoint | undefined = k < panes.length ? p.panes[panes[k] as string] : undefined
      d[o] = orNaN(pane?.statistic)
      d[o + 1] = orNaN(pane?.upper)
      d[o + 2] = orNaN(pane?.lower)
      o += PANE_FIELDS.length
      const l = k * LIMIT_FIELDS.length
      limits[l] = orNaN(pane?.center)
      limits[l + 1] = orNaN(pane?.lcl)
      limits[l + 2] = orNaN(pane?.ucl)
      limits[l + 3] = orNaN(pane?.sigma)
    }
    if (this.names.limitsToSend(name, limits)) {
      const at = this.limitsColumn.reserve(LIMITS_STRIDE)
      const row = this.limitsColumn.data
      row[at] = i / CHART_STRIDE
      for (let f = 0; f < LIMIT_VALUES; f++) row[at + 1 + f] = limits[f] as number
    }
    this.count++
  }

  delivery(delivery: Delivery): void {
    let client = this.clientIndex.get(delivery.client)
    if (client === undefined) {
      client = this.clients.length
      this.clientIndex.set(delivery.client, client)
      this.clients.push(delivery.client)
    }
    const i = this.deliveryColumn.reserve(DELIVERY_STRIDE)
    const d = this.deliveryColumn.data
    d[i] = client
    d[i + 1] = delivery.messageId
    d[i + 2] = delivery.hash
    d[i + 3] = delivery.at
    this.count++
  }

  /** The store's tick, at `now`: the columns give back what a burst grew them to (SHRINK_AFTER_MS). */
  settle(now: number): void {
    this.readingColumn.settle(now)
    this.chartColumn.settle(now)
    this.limitsColumn.settle(now)
    this.deliveryColumn.settle(now)
  }

  /** The memory the builder keeps for its columns between batches (see KEPT_CAPACITY). */
  get keptBytes(): number {
    return (
      this.readingColumn.bytes +
      this.chartColumn.bytes +
      this.limitsColumn.bytes +
      this.deliveryColumn.bytes
    )
  }

  /**
   * The batch as posted (the names it needs are taken now). The builder is empty afterwards
   * and collects the next batch in the buffers it has grown (no reallocation per batch), which
   * it gives back by halves once a burst is over (KEPT_CAPACITY, SHRINK_AFTER_MS).
   */
  build(): ColumnBatch {
    const batch = {
      ...this.names.take(),
      readings: this.readingColumn.take(),
      keys: this.keys,
      charts: this.chartColumn.take(),
      limits: this.limitsColumn.take(),
      deliveries: this.deliveryColumn.take(),
      clients: this.clients,
    }
    this.keys = null
    this.clientIndex.clear()
    this.clients = []
    this.count = 0
    return batch
  }
}
