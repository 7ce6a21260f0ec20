import type { DatabaseSync, StatementSync } from 'node:sqlite'
import {
  decodeBlock,
  decodeBlockInto,
  decodeLimits,
  decodePointBlock,
  encodeBlock,
  encodeLimits,
  identity,
  journalReading,
  type PointBlock,
  storedPoint,
  storedReading,
} from './blocks.ts'
import {
  CHART_STRIDE,
  DELIVERY_STRIDE,
  LIMITS_STRIDE,
  POINT_FIELDS,
  READING_FIELDS,
  READING_STRIDE,
} from './columns.ts'
import { transaction } from './sqlite-db.ts'
import type {
  Delivery,
  JournalReading,
  RangeQuery,
  StoredChartPoint,
  StoredReading,
} from './types.ts'

/**
 * Where the embedded time series keeps its blocks (blocks.ts), and how they move.
 *
 * Each committed batch adds one `recent_reading` and one `recent_point` block holding every
 * characteristic of the batch: a few inserts per commit whatever the number of
 * characteristics, which is what lets every QoS 1 acknowledgement wait for a commit at
 * broker speed. The recent blocks are the journal: after a crash, the readings in them that
 * are beyond their chart's snapshot are judged again. At each checkpoint the recent readings a
 * snapshot covers (and all recent chart points) are compacted into blocks per characteristic
 * and hour (`reading_block`, `point_block`), which range queries find by an index on the series
 * and time stamps and which retention deletes, oldest first.
 */
export const BLOCK_SCHEMA = `
  -- Ids only grow (AUTOINCREMENT: never reused after a delete): they are the order of arrival.
  CREATE TABLE recent_reading (id INTEGER PRIMARY KEY AUTOINCREMENT, count INTEGER NOT NULL,
    keys TEXT, data BLOB NOT NULL);
  -- panes: JSON, the pane names of each series in the block ({"3": "i,mr"}). limits: the
  -- points' limits, once per change (blocks.ts, decodePointBlock; NULL: in every row, before).
  CREATE TABLE recent_point (id INTEGER PRIMARY KEY AUTOINCREMENT, count INTEGER NOT NULL,
    panes TEXT NOT NULL, data BLOB NOT NULL, limits BLOB);
  -- min_ts/max_ts bound the rows' time stamps (which need not arrive in order).
  CREATE TABLE reading_block (id INTEGER PRIMARY KEY AUTOINCREMENT, series INTEGER NOT NULL,
    min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, count INTEGER NOT NULL, keys TEXT,
    data BLOB NOT NULL);
  CREATE INDEX reading_block_series ON reading_block (series, max_ts, min_ts);
  CREATE TABLE point_block (id INTEGER PRIMARY KEY AUTOINCREMENT, series INTEGER NOT NULL,
    min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, count INTEGER NOT NULL,
    panes TEXT NOT NULL, data BLOB NOT NULL, limits BLOB);
  CREATE INDEX point_block_series ON point_block (series, max_ts, min_ts);
  -- QoS 1/2 messages taken, per batch: a resend after a crash is known (sources/deliveries.ts).
  CREATE TABLE delivery_block (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
    clients TEXT NOT NULL, data BLOB NOT NULL);`

/** Recent records compacted per transaction: bounds the writer's memory while it compacts (~15 MB). */
const COMPACT_RECORDS = 100_000
export const RETAINED_TABLES = ['reading_block', 'point_block', 'event'] as const
export type RetainedTable = (typeof RETAINED_TABLES)[number]
/** Time stamps are at the same place in reading and point rows. */
const TS = READING_FIELDS.ts
const HOUR_MS = 3_600_000
/** Recent rows sort after every compacted block in arrival order. */
const RECENT = 2 ** 40

/** A row of a block with where it arrived: block order, then its place in the block. */
interface Placed<T> {
  row: T
  block: number
  at: number
}

/**
 * Rows grouped by a dense key (counting sort): `rows[starts[g]..starts[g + 1])` are the rows
 * of group g, in their original order.
 */
export function groupRows(
  keys: Int32Array,
  groups: number,
): { rows: Int32Array; starts: Int32Array } {
  const starts = new Int32Array(groups + 1)
  for (const g of keys) starts[g + 1] = (starts[g + 1] as number) + 1
  for (let g = 1; g <= groups; g++) starts[g] = (starts[g] as number) + (starts[g - 1] as number)
  const next = starts.slice(0, groups)
  const rows = new Int32Array(keys.length)
  keys.forEach((g, r) => {
    const at = next[g] as number
    rows[at] = r
    next[g] = at + 1
  })
  return { rows, starts }
}

/** The rows grouped by series (field 0), each series' rows in their order. */
function seriesOrder(data: Float64Array, stride: number, count: number): Int32Array {
  const group = new Map<number, number>()
  const groupOf = new Int32Array(count)
  for (let r = 0; r < count; r++) {
    const series = data[r * stride] as number
    let g = group.get(series)
    if (g === undefined) {
      g = group.size
      group.set(series, g)
    }
    groupOf[r] = g
  }
  return groupRows(groupOf, group.size).rows
}

/** The smallest and largest of field `f` over rows[from..to) (NaN ignored; NaN when all are). */
function bounds(
  data: Float64Array,
  stride: number,
  rows: Int32Array,
  from: number,
  to: number,
  f: number,
) {
  let min = Number.NaN
  let max = Number.NaN
  for (let k = from; k < to; k++) {
    const v = data[(rows[k] as number) * stride + f] as number
    if (Number.isNaN(v)) continue
    if (!(v >= min)) min = v
    if (!(v <= max)) max = v
  }
  return { min, max }
}

export class BlockStore {
  private readonly db: DatabaseSync
  private readonly statements: Record<
    | 'recentReading'
    | 'recentPoint'
    | 'readingBlock'
    | 'pointBlock'
    | 'delivery'
    | 'deliveriesSince'
    | 'forgetDeliveries'
    | 'recentReadings'
    | 'recentPoints'
    | 'readingBlocks'
    | 'pointBlocks',
    StatementSync
  >
  private readonly purge: Record<RetainedTable, StatementSync>

  constructor(db: DatabaseSync) {
    this.db = db
    const p = (sql: string) => db.prepare(sql)
    this.statements = {
      recentReading: p('INSERT INTO recent_reading (count, keys, data) VALUES (?, ?, ?)'),
      recentPoint: p('INSERT INTO recent_point (count, panes, data, limits) VALUES (?, ?, ?, ?)'),
      readingBlock: p(
        'INSERT INTO reading_block (series, min_ts, max_ts, count, keys, data) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      pointBlock: p(
        'INSERT INTO point_block (series, min_ts, max_ts, count, panes, data, limits) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      delivery: p('INSERT INTO delivery_block (at, clients, data) VALUES (?, ?, ?)'),
      deliveriesSince: p('SELECT clients, data FROM delivery_block WHERE at >= ? ORDER BY id'),
      forgetDeliveries: p('DELETE FROM delivery_block WHERE at < ?'),
      recentReadings: p('SELECT id, count, keys, data FROM recent_reading ORDER BY id'),
      recentPoints: p('SELECT id, count, panes, data, limits FROM recent_point ORDER BY id'),
      // Newest first by their latest time stamp: a range query stops once it has its rows.
      readingBlocks: p(
        'SELECT id, max_ts, keys, data FROM reading_block WHERE series = ? AND max_ts >= ? AND min_ts <= ? ORDER BY max_ts DESC, id DESC',
      ),
      pointBlocks: p(
        'SELECT id, max_ts, panes, data, limits FROM point_block WHERE series = ? AND max_ts >= ? AND min_ts <= ? ORDER BY max_ts DESC, id DESC',
      ),
    }
    this.purge = Object.fromEntries(
      RETAINED_TABLES.map((t) => [
        t,
        p(
          `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} ORDER BY rowid LIMIT ?) AND ${t === 'event' ? 'ts' : 'max_ts'} < ? RETURNING ${t === 'event' ? '1' : 'count'} AS records`,
        ),
      ]),
    ) as Record<RetainedTable, StatementSync>
  }

  // ---- a batch (in the caller's transaction) ----

  /**
   * A batch's readings (READING_STRIDE rows, series ids in field 0) and their subgroup keys,
   * as a recent block, the rows of each series together (in their order): the series and
   * whatever is constant per series then encode as runs.
   */
  addReadings(data: Float64Array, keys: readonly (string | null | undefined)[] | null): void {
    const count = data.length / READING_STRIDE
    if (count === 0) return
    const rows = seriesOrder(data, READING_STRIDE, count)
    const keyed = keys?.some((k) => k !== undefined && k !== null)
      ? Array.from(rows, (r) => keys[r] ?? null)
      : null
    this.statements.recentReading.run(
      count,
      keyed ? JSON.stringify(keyed) : null,
      encodeBlock(data, READING_STRIDE, rows, 0, count),
    )
  }

  /**
   * A batch's chart points (CHART_STRIDE rows, series ids in field 0), grouped as readings
   * are, with each series' panes and the batch's limits rows (ColumnBatch.limits: a series'
   * first point in the batch has one, a later one where its limits changed).
   */
  addPoints(data: Float64Array, limits: Float64Array, panes: Record<number, string>): void {
    const count = data.length / CHART_STRIDE
    if (count === 0) return
    const rows = seriesOrder(data, CHART_STRIDE, count)
    // Where each point's limits are in `limits`: its own row's, or its series' point before.
    const startsAt = new Int32Array(count).fill(-1)
    for (let o = 0; o < limits.length; o += LIMITS_STRIDE) startsAt[limits[o] as number] = o + 1
    const limitOf = new Int32Array(count)
    let series = Number.NaN
    let current = -1
    for (let k = 0; k < count; k++) {
      const row = rows[k] as number
      const s = data[row * CHART_STRIDE] as number
      const own = startsAt[row] as number
      if (own >= 0) current = own
      else if (s !== series)
        throw new Error(`a batch's first chart point of series ${s} came without its limits`)
      series = s
      limitOf[row] = current
    }
    this.statements.recentPoint.run(
      count,
      JSON.stringify(panes),
      encodeBlock(data, CHART_STRIDE, rows, 0, count),
      encodeLimits(data, rows, 0, count, limits, limitOf),
    )
  }

  /** A batch's deliveries (DELIVERY_STRIDE rows: client index, message id, hash, at). */
  addDeliveries(data: Float64Array, clients: readonly string[]): void {
    const count = data.length / DELIVERY_STRIDE
    if (count === 0) return
    const rows = identity(count)
    this.statements.delivery.run(
      bounds(data, DELIVERY_STRIDE, rows, 0, count, 3).max,
      JSON.stringify(clients),
      encodeBlock(data, DELIVERY_STRIDE, rows, 0, count),
    )
  }

  /** One series' readings, rows[from..to) of `data` (series id in field 0), as a block. */
  writeReadingBlock(
    series: number,
    data: Float64Array,
    rows: Int32Array,
    from: number,
    to: number,
    keys: readonly (string | null)[] | null,
  ): void {
    const ts = bounds(data, READING_STRIDE, rows, from, to, READING_FIELDS.ts)
    let keyed: (string | null)[] | null = null
    if (keys) {
      for (let k = from; k < to; k++) {
        const key = keys[rows[k] as number] ?? null
        if (key === null) continue
        keyed ??= Array.from({ length: to - from }, () => null)
        keyed[k - from] = key
      }
    }
    this.statements.readingBlock.run(
      series,
      ts.min,
      ts.max,
      to - from,
      keyed ? JSON.stringify(keyed) : null,
      encodeBlock(data, READING_STRIDE, rows, from, to),
    )
  }

  /**
   * One series' chart points, rows[from..to) of `data`, with its panes (comma-separated) and
   * their limits (a row's LIMIT_VALUES are at `limitOf[row]` in `limits`), stored once per change.
   */
  writePointBlock(
    series: number,
    data: Float64Array,
    rows: Int32Array,
    from: number,
    to: number,
    panes: string,
    limits: Float64Array,
    limitOf: Int32Array,
  ): void {
    const ts = bounds(data, CHART_STRIDE, rows, from, to, POINT_FIELDS.ts)
    this.statements.pointBlock.run(
      series,
      ts.min,
      ts.max,
      to - from,
      panes,
      encodeBlock(data, CHART_STRIDE, rows, from, to),
      encodeLimits(data, rows, from, to, limits, limitOf),
    )
  }

  // ---- compaction ----

  /**
   * Moves the recent blocks there are now into blocks per characteristic and hour, in
   * transactions of about COMPACT_RECORDS records. A recent reading moves only once
   * `covered(series, seq)` says its chart's snapshot covers it (a replay no longer needs it);
   * the others are written back as a recent block of their own. With `discardReadings` (the
   * journal of an InfluxDB gateway, which has the readings) covered readings are dropped
   * instead. Chart points always move. Returns the records moved or dropped.
   */
  compact(covered: (series: number, seq: number) => boolean, discardReadings: boolean): number {
    const compaction = this.compaction(covered, discardReadings)
    let moved = 0
    for (let n = compaction.step(); n !== null; n = compaction.step()) moved += n
    return moved
  }

  /**
   * The same compaction, a transaction at a time: each `step()` moves one chunk and says how
   * many records it moved, or null once done. The writer commits batches between steps, so
   * that acknowledgements do not wait for a whole compaction. Blocks that arrive meanwhile
   * wait for the next compaction; `covered` is asked at each step (snapshots only advance).
   */
  compaction(
    covered: (series: number, seq: number) => boolean,
    discardReadings: boolean,
  ): { step(): number | null } {
    const last = (table: string) =>
      (
        this.db.prepare(`SELECT coalesce(max(id), 0) AS last FROM ${table}`).get() as {
          last: number
        }
      ).last
    const upTo = { reading: last('recent_reading'), point: last('recent_point') }
    const kinds = ['reading', 'point'] as const
    let k = 0
    return {
      step: () => {
        for (; k < kinds.length; k++) {
          const kind = kinds[k] as (typeof kinds)[number]
          const n = this.compactChunk(
            kind,
            upTo[kind],
            kind === 'reading' ? covered : () => true,
            kind === 'reading' && discardReadings,
          )
          if (n >= 0) return n
        }
        return null
      },
    }
  }

  /**
   * Compacts the oldest recent blocks of a kind up to id `upTo` (about COMPACT_RECORDS
   * records): the records moved, or -1 when there was none left.
   */
  private compactChunk(
    kind: 'reading' | 'point',
    upTo: number,
    covered: (series: number, seq: number) => boolean,
    discard: boolean,
  ): number {
    const stride = kind === 'reading' ? READING_STRIDE : CHART_STRIDE
    const blocks: {
      blob: Uint8Array
      count: number
      keys: string | null
      panes: string | null
      limits: Uint8Array | null
    }[] = []
    let count = 0
    let last = 0
    const select =
      kind === 'reading' ? this.statements.recentReadings : this.statements.recentPoints
    for (const b of select.iterate() as Iterable<{
      id: number
      count: number
      keys?: string | null
      panes?: string
      data: Uint8Array
      limits?: Uint8Array | null
    }>) {
      if (b.id > upTo) break
      blocks.push({
        blob: b.data,
        count: b.count,
        keys: b.keys ?? null,
        panes: b.panes ?? null,
        limits: b.limits ?? null,
      })
      last = b.id
      count += b.count
      if (count >= COMPACT_RECORDS) break
    }
    if (blocks.length === 0) return -1
    // All the chunk's rows in one array; the covered ones in a group per series and hour (and,
    // for points, per pane layout), the others kept.
    const data = new Float64Array(count * stride)
    // Subgroup keys by row, made at the first block that has any: most chunks have none, and
    // need no array of a null per row (100,000 of them).
    let keys: (string | null)[] | null = null
    const moving = new Int32Array(count)
    const groupOf = new Int32Array(count)
    let moves = 0
    const kept: number[] = []
    const groups: { series: number; panes: string }[] = []
    // By series and hour (a number, no string per row). A pane layout other than the group's
    // (the chart type changed across a restart) makes a group of its own.
    const groupIndex = new Map<number, number>()
    const otherLayouts = new Map<string, number>()
    const groupFor = (series: number, hour: number, panes: string): number => {
      const key = series * 2 ** 22 + hour
      const g = groupIndex.get(key)
      if (g !== undefined && (groups[g] as { panes: string }).panes === panes) return g
      const other = g === undefined ? undefined : otherLayouts.get(`${key}:${panes}`)
      if (other !== undefined) return other
      groups.push({ series, panes })
      if (g === undefined) groupIndex.set(key, groups.length - 1)
      else otherLayouts.set(`${key}:${panes}`, groups.length - 1)
      return groups.length - 1
    }
    // Points: where each row's limits are in `limitParts`, concatenated (the blocks' own).
    const limitOf = kind === 'point' ? new Int32Array(count) : null
    const limitParts: Float64Array[] = []
    let limitTotal = 0
    let row = 0
    for (const { blob, count: blockCount, keys: keysText, panes, limits } of blocks) {
      if (limitOf !== null && limits === null) {
        // A block from before limits were stored once per change: converted.
        const old: PointBlock = decodePointBlock(blob, null)
        if (old.count !== blockCount)
          throw new Error(`a recent ${kind} block holds other than its count of rows`)
        data.set(old.data, row * stride)
        for (let r = 0; r < blockCount; r++)
          limitOf[row + r] = limitTotal + (old.limitOf[r] as number)
        limitParts.push(old.limits)
        limitTotal += old.limits.length
      } else {
        if (decodeBlockInto(blob, stride, data, row) !== blockCount)
          throw new Error(`a recent ${kind} block holds other than its count of rows`)
        if (limitOf !== null && limits !== null) {
          const values = decodeLimits(limits, blockCount, limitOf, row, limitTotal)
          limitParts.push(values)
          limitTotal += values.length
        }
      }
      const blockKeys = keysText ? (JSON.parse(keysText) as (string | null)[]) : null
      const layouts = panes ? (JSON.parse(panes) as Record<string, string>) : {}
      // A block holds each series' rows together: what is looked up per series and hour is
      // looked up once per run of them.
      let runSeries = Number.NaN
      let runHour = Number.NaN
      let runGroup = -1
      for (let r = 0; r < blockCount; r++, row++) {
        const o = row * stride
        const series = data[o] as number
        const key = blockKeys?.[r] ?? null
        if (keys !== null) keys.push(key)
        else if (key !== null) {
          keys = new Array<string | null>(row).fill(null)
          keys.push(key)
        }
        if (!covered(series, data[o + READING_FIELDS.seq] as number)) {
          kept.push(row)
          continue
        }
        // A block spans at most an hour of time stamps (backfilled data arrives with new):
        // retention by age deletes whole blocks.
        const hour = Math.floor((data[o + TS] as number) / HOUR_MS)
        if (series !== runSeries || hour !== runHour) {
          runSeries = series
          runHour = hour
          runGroup = groupFor(series, hour, layouts[series] ?? '')
        }
        moving[moves] = row
        groupOf[moves++] = runGroup
      }
    }
    const grouped = groupRows(groupOf.subarray(0, moves), groups.length)
    const rows = grouped.rows.map((k) => moving[k] as number)
    const limits = new Float64Array(limitTotal)
    let at = 0
    for (const part of limitParts) {
      limits.set(part, at)
      at += part.length
    }
    transaction(this.db, () => {
      if (!discard) {
        groups.forEach(({ series, panes }, g) => {
          const from = grouped.starts[g] as number
          const to = grouped.starts[g + 1] as number
          if (kind === 'reading') this.writeReadingBlock(series, data, rows, from, to, keys)
          else
            this.writePointBlock(series, data, rows, from, to, panes, limits, limitOf as Int32Array)
        })
      }
      this.db.prepare(`DELETE FROM recent_${kind} WHERE id <= ?`).run(last)
      if (kept.length > 0) {
        // Readings a replay may still need stay recent (in a block of their own, after the others).
        const rest = new Float64Array(kept.length * stride)
        kept.forEach((r, k) => {
          rest.set(data.subarray(r * stride, (r + 1) * stride), k * stride)
        })
        const keyOf = keys
        this.addReadings(rest, keyOf ? kept.map((r) => keyOf[r] ?? null) : null)
      }
    })
    return moves
  }

  // ---- reading ----

  /** Every reading of the recent blocks (what a replay looks at; a series' readings by `seq`). */
  *recentReadings(): Generator<{ series: number; reading: JournalReading }> {
    for (const b of this.statements.recentReadings.iterate() as Iterable<{
      keys: string | null
      data: Uint8Array
    }>) {
      const block = decodeBlock(b.data)
      const keys = b.keys ? (JSON.parse(b.keys) as (string | null)[]) : null
      for (let r = 0; r < block.count; r++) {
        yield {
          series: block.data[r * block.stride] as number,
          reading: journalReading(block, r, keys?.[r] ?? null),
        }
      }
    }
  }

  /** The latest `limit` readings of a series in [from, to], oldest first. */
  readings(series: number, q: RangeQuery): StoredReading[] {
    const recent: Placed<StoredReading>[] = []
    for (const b of this.statements.recentReadings.iterate() as Iterable<{
      id: number
      data: Uint8Array
    }>) {
      const block = decodeBlock(b.data)
      for (let r = 0; r < block.count; r++) {
        if (block.data[r * block.stride] !== series) continue
        const reading = storedReading(block, r)
        if (reading.ts >= q.from && reading.ts <= q.to)
          recent.push({ row: reading, block: RECENT + b.id, at: r })
      }
    }
    const blocks = this.statements.readingBlocks.iterate(series, q.from, q.to) as Iterable<{
      id: number
      max_ts: number
      data: Uint8Array
    }>
    return latest(recent, blocks, q, (b) => {
      const block = decodeBlock(b.data)
      return Array.from({ length: block.count }, (_, r) => storedReading(block, r))
    })
  }

  /** The latest `limit` chart points of a series in [from, to], oldest first. */
  points(series: number, q: RangeQuery): StoredChartPoint[] {
    const recent: Placed<StoredChartPoint>[] = []
    for (const b of this.statements.recentPoints.iterate() as Iterable<{
      id: number
      panes: string
      data: Uint8Array
      limits: Uint8Array | null
    }>) {
      const layout = (JSON.parse(b.panes) as Record<string, string>)[series]
      if (layout === undefined) continue
      const panes = layout === '' ? [] : layout.split(',')
      const block = decodePointBlock(b.data, b.limits)
      for (let r = 0; r < block.count; r++) {
        if (block.data[r * block.stride] !== series) continue
        const ts = block.data[r * block.stride + POINT_FIELDS.ts] as number
        if (ts >= q.from && ts <= q.to)
          recent.push({ row: storedPoint(block, r, panes), block: RECENT + b.id, at: r })
      }
    }
    const blocks = this.statements.pointBlocks.iterate(series, q.from, q.to) as Iterable<{
      id: number
      max_ts: number
      panes: string
      data: Uint8Array
      limits: Uint8Array | null
    }>
    return latest(recent, blocks, q, (b) => {
      const block = decodePointBlock(b.data, b.limits)
      const panes = b.panes === '' ? [] : b.panes.split(',')
      return Array.from({ length: block.count }, (_, r) => storedPoint(block, r, panes))
    })
  }

  /** The deliveries taken since `since`, in the order taken (a later one of a packet id wins). */
  deliveriesSince(since: number): Delivery[] {
    const out: Delivery[] = []
    for (const b of this.statements.deliveriesSince.all(since) as {
      clients: string
      data: Uint8Array
    }[]) {
      const clients = JSON.parse(b.clients) as string[]
      const { count, stride, data } = decodeBlock(b.data)
      for (let r = 0; r < count; r++) {
        const at = data[r * stride + 3] as number
        if (at < since) continue
        out.push({
          client: clients[data[r * stride] as number] as string,
          messageId: data[r * stride + 1] as number,
          hash: data[r * stride + 2] as number,
          at,
        })
      }
    }
    return out
  }

  // ---- retention ----

  forgetDeliveries(before: number): void {
    this.statements.forgetDeliveries.run(before)
  }

  /**
   * Deletes the oldest blocks (or events) of a table, up to `limit` by arrival, among those
   * whose latest time stamp is before `before`: the blocks and the records they held.
   */
  purgeOldest(
    table: RetainedTable,
    limit: number,
    before: number,
  ): { blocks: number; records: number } {
    const rows = this.purge[table].all(limit, before) as { records: number }[]
    return { blocks: rows.length, records: rows.reduce((sum, r) => sum + r.records, 0) }
  }
}

/**
 * The latest `limit` rows in [from, to] (by time stamp, then arrival), oldest first: the
 * recent rows, and the blocks in the order they come (newest first by their latest time
 * stamp). Once `limit` rows are held, a block whose latest time stamp is older than all of
 * them cannot add one, and the blocks after it neither.
 */
function latest<T extends { ts: number }, B extends { id: number; max_ts: number }>(
  recent: Placed<T>[],
  blocks: Iterable<B>,
  q: RangeQuery,
  rowsOf: (block: B) => T[],
): T[] {
  const newestFirst = (a: Placed<T>, b: Placed<T>) =>
    b.row.ts - a.row.ts || b.block - a.block || b.at - a.at
  let kept = recent
  const trim = () => {
    if (kept.length < q.limit) return Number.NEGATIVE_INFINITY
    kept = kept.sort(newestFirst).slice(0, q.limit)
    return (kept.at(-1) as Placed<T>).row.ts
  }
  let floor = trim()
  for (const block of blocks) {
    if (block.max_ts < floor) break
    rowsOf(block).forEach((row, at) => {
      if (row.ts >= q.from && row.ts <= q.to) kept.push({ row, block: block.id, at })
    })
    floor = trim()
  }
  return kept
    .sort(newestFirst)
    .slice(0, q.limit)
    .reverse()
    .map((k) => k.row)
}
