/**
 * The SQLite time-series writer, on its own thread so that inserts never hold up ingest. It
 * owns the database file (locked for it: one gateway per data directory): it commits each
 * batch it is sent in one transaction (FULL sync: committed means on disk), answers queries
 * in order (so a query sees every batch posted before it), acknowledges every batch so the
 * sender can release the acknowledgements that waited on it, and enforces retention.
 *
 * Readings and chart points are stored in blocks (block-store.ts): a batch is a few rows, the
 * recent blocks are the journal, and at each checkpoint what snapshots cover is compacted into
 * blocks per characteristic. Events and chart snapshots stay rows (they are rare).
 *
 * The journal (see types.ts `Journal`): readings carry their place in their characteristic's
 * stream (`seq`); a chart snapshot is upserted in a batch after the readings it covers, and
 * batches commit in order. Recovery replays the recent readings beyond their chart's snapshot.
 */
import type { DatabaseSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'
import { DELIVERY_MEMORY_MS } from '../sources/deliveries.ts'
import { BLOCK_SCHEMA, BlockStore, RETAINED_TABLES, type RetainedTable } from './block-store.ts'
import { CHART_STRIDE, type ColumnBatch, READING_STRIDE } from './columns.ts'
import { type Migration, openDatabase, transaction } from './sqlite-db.ts'
import { migrateRowsToBlocks } from './sqlite-migrate.ts'
import type {
  ChartSnapshot,
  JournalReading,
  RangeQuery,
  SeriesRecord,
  StoredEvent,
} from './types.ts'

/** A batch: the records, then whether a checkpoint (compaction, retention) follows its commit. */
export type ToWorker =
  | {
      type: 'write'
      seq: number
      /** Snapshots and events; readings, chart points and deliveries come in `columns`. */
      records: SeriesRecord[]
      columns?: ColumnBatch | undefined
      checkpoint: boolean
    }
  | ({ type: 'names' } & Pick<ColumnBatch, 'namesFrom' | 'names' | 'layouts'>)
  | { type: 'query'; id: number; what: 'readings' | 'chartPoints' | 'events'; query: RangeQuery }
  | { type: 'recover'; id: number }
  | { type: 'deliveries'; id: number }
  | { type: 'stop' }

export interface Recovered {
  snapshots: ChartSnapshot[]
  /** Per characteristic, the readings to replay after its snapshot, in order. */
  readings: Record<string, JournalReading[]>
}

export type FromWorker =
  | { type: 'committed'; seq: number }
  | { type: 'failed'; seq: number; error: string }
  | { type: 'answer'; id: number; rows: unknown }
  | { type: 'query-failed'; id: number; error: string }
  | { type: 'retention'; deleted: number; bytes: number }
  | { type: 'retention-failed'; error: string }
  | { type: 'ready' }
  | { type: 'open-failed'; error: string; code: string | undefined }
  | { type: 'stopped' }

export interface WorkerOptions {
  path: string
  /**
   * Journal only (InfluxDB holds the time series): readings are kept until a snapshot covers
   * them, and the snapshots; chart points and events are not written here.
   */
  journalOnly: boolean
  retention: { maxAgeDays: number; maxBytes: number }
  /**
   * The sending store's id, new at each start: the last batch committed is marked with it in
   * the same transaction, so that a batch sent again to the next thread after one died (having
   * committed it, but not said so) is known and not written twice.
   */
  sender?: string | undefined
}

const MIGRATIONS: Migration[] = [
  `CREATE TABLE series (id INTEGER PRIMARY KEY, characteristic TEXT NOT NULL UNIQUE);
   CREATE TABLE reading (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
   CREATE INDEX reading_series_ts ON reading (series, ts);
   CREATE TABLE chart_point (series INTEGER NOT NULL, ts INTEGER NOT NULL, idx INTEGER NOT NULL,
     phase TEXT NOT NULL, panes TEXT NOT NULL, rules TEXT NOT NULL);
   CREATE INDEX chart_point_series_ts ON chart_point (series, ts);
   CREATE TABLE event (series INTEGER NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, detail TEXT NOT NULL);
   CREATE INDEX event_series_ts ON event (series, ts);`,
  // The SPC engine's subgroups: how many observations each chart point stands for.
  'ALTER TABLE chart_point ADD COLUMN n INTEGER NOT NULL DEFAULT 1',
  // The journal: what a reading was (for replay) and when it arrived; chart snapshots; the checkpoint.
  `ALTER TABLE reading ADD COLUMN seq INTEGER;
   ALTER TABLE reading ADD COLUMN size REAL;
   ALTER TABLE reading ADD COLUMN key TEXT;
   ALTER TABLE reading ADD COLUMN received INTEGER;
   CREATE TABLE chart_snapshot (series INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
     spec_hash TEXT NOT NULL, state TEXT NOT NULL);
   CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), reading_rowid INTEGER NOT NULL);
   CREATE TABLE delivery (client TEXT NOT NULL, message_id INTEGER NOT NULL, hash INTEGER NOT NULL,
     at INTEGER NOT NULL, PRIMARY KEY (client, message_id)) WITHOUT ROWID;`,
  // Rows become blocks; the recent blocks are the journal (no checkpoint row is needed).
  (db) => {
    db.exec(BLOCK_SCHEMA)
    migrateRowsToBlocks(db, new BlockStore(db))
    db.exec(
      'DROP TABLE reading; DROP TABLE chart_point; DROP TABLE delivery; DROP TABLE checkpoint',
    )
  },
  // The last batch committed, and by which sender (WorkerOptions.sender).
  'CREATE TABLE batch_mark (id INTEGER PRIMARY KEY CHECK (id = 1), sender TEXT NOT NULL, seq INTEGER NOT NULL)',
  // Chart limits once per change, beside the points (blocks.ts); a file whose blocks were made
  // from rows has the column from BLOCK_SCHEMA already.
  (db) => {
    for (const table of ['recent_point', 'point_block']) {
      const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]
      if (!columns.some((c) => c.name === 'limits'))
        db.exec(`ALTER TABLE ${table} ADD COLUMN limits BLOB`)
    }
  },
]

const DAY_MS = 86_400_000

/**
 * The writer's logic. `later` runs a compaction step once the messages already waiting have
 * been handled (setImmediate in the thread; tests may run it at once).
 */
export function serve(
  db: DatabaseSync,
  options: WorkerOptions,
  post: (message: FromWorker) => void,
  later: (work: () => void) => void = setImmediate,
): { handle(message: ToWorker): boolean; retain(): void } {
  const blocks = new BlockStore(db)
  const insert = {
    event: db.prepare('INSERT INTO event (series, ts, type, detail) VALUES (?, ?, ?, ?)'),
    series: db.prepare(
      'INSERT INTO series (characteristic) VALUES (?) ON CONFLICT (characteristic) DO UPDATE SET characteristic = excluded.characteristic RETURNING id',
    ),
    snapshot: db.prepare(
      `INSERT INTO chart_snapshot (series, seq, spec_hash, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (series) DO UPDATE SET seq = excluded.seq, spec_hash = excluded.spec_hash, state = excluded.state`,
    ),
  }
  const marked = db.prepare('SELECT sender, seq FROM batch_mark').get() as
    | { sender: string; seq: number }
    | undefined
  /** The last batch of this sender committed (by this thread or one before it). */
  let committedUpTo =
    options.sender !== undefined && marked?.sender === options.sender ? marked.seq : 0
  const mark = db.prepare(
    'INSERT INTO batch_mark (id, sender, seq) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET sender = excluded.sender, seq = excluded.seq',
  )
  const findSeries = db.prepare('SELECT id FROM series WHERE characteristic = ?')
  const selectEvents = db.prepare(
    'SELECT ts, type, detail FROM event WHERE series = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, rowid DESC LIMIT ?',
  )
  const pageCounts = ['page_count', 'freelist_count', 'page_size'].map((name) =>
    db.prepare(`PRAGMA ${name}`),
  )

  const seriesIds = new Map<string, number>()
  const seriesId = (characteristic: string): number => {
    let id = seriesIds.get(characteristic)
    if (id === undefined) {
      id = (insert.series.get(characteristic) as { id: number }).id
      seriesIds.set(characteristic, id)
    }
    return id
  }

  /** The sender's numbering of characteristics, and their charts' panes (see columns.ts). */
  const names: string[] = []
  const layouts: string[] = []
  /** The series id of each name number (looked up once). */
  let seriesOfName: number[] = []
  const setNames = (batch: Pick<ColumnBatch, 'namesFrom' | 'names' | 'layouts'>): void => {
    for (let k = 0; k < batch.names.length; k++)
      names[batch.namesFrom + k] = batch.names[k] as string
    for (const [i, panes] of batch.layouts) layouts[i] = panes.join(',')
  }
  const seriesOf = (name: number): number => {
    let id = seriesOfName[name]
    if (id === undefined) {
      const characteristic = names[name]
      if (characteristic === undefined)
        throw new Error(`column batch names characteristic #${name}, not sent`)
      id = seriesId(characteristic)
      seriesOfName[name] = id
    }
    return id
  }
  /** A copy of column rows with the series id in place of the sender's name number. */
  const bySeries = (data: Float64Array, stride: number): Float64Array => {
    const out = data.slice()
    for (let o = 0; o < out.length; o += stride) out[o] = seriesOf(out[o] as number)
    return out
  }

  const writeColumns = (c: ColumnBatch): void => {
    setNames(c)
    blocks.addReadings(bySeries(c.readings, READING_STRIDE), c.keys)
    if (!options.journalOnly && c.charts.length > 0) {
      const panes: Record<number, string> = {}
      for (let o = 0; o < c.charts.length; o += CHART_STRIDE) {
        const name = c.charts[o] as number
        const layout = layouts[name]
        if (layout === undefined)
          throw new Error(`column batch has points of characteristic #${name}, no panes`)
        panes[seriesOf(name)] = layout
      }
      blocks.addPoints(bySeries(c.charts, CHART_STRIDE), c.limits, panes)
    }
    blocks.addDeliveries(c.deliveries, c.clients)
  }

  /** Each series' latest snapshot: the readings it covers are needed by no replay. */
  const snapshotSeq = new Map<number, number>()
  for (const row of db.prepare('SELECT series, seq FROM chart_snapshot').all() as {
    series: number
    seq: number
  }[])
    snapshotSeq.set(row.series, row.seq)
  /** A reading without a place in a stream (NaN) is never replayed. Asked per row, in runs of a series. */
  let coveredSeries = Number.NaN
  let coveredUpTo = 0
  const covered = (series: number, seq: number): boolean => {
    if (series !== coveredSeries) {
      coveredSeries = series
      coveredUpTo = snapshotSeq.get(series) ?? 0
    }
    return !(seq > coveredUpTo)
  }

  const write = (seq: number, records: SeriesRecord[], columns: ColumnBatch | undefined): void => {
    const snapshotted: [number, number][] = []
    transaction(db, () => {
      if (options.sender !== undefined) mark.run(options.sender, seq)
      if (columns) writeColumns(columns)
      for (const r of records) {
        switch (r.kind) {
          case 'snapshot': {
            const series = seriesId(r.characteristic)
            insert.snapshot.run(series, r.seq, r.specHash, r.state)
            snapshotted.push([series, r.seq])
            break
          }
          case 'event':
            if (options.journalOnly) break
            insert.event.run(seriesId(r.characteristic), r.ts, r.type, r.detail)
            break
          default:
            throw new Error(`a ${r.kind} record is posted in columns`)
        }
      }
    })
    for (const [series, seq] of snapshotted) snapshotSeq.set(series, seq)
    coveredSeries = Number.NaN
  }

  const recover = (): Recovered => {
    const seriesNames = new Map<number, string>()
    for (const row of db.prepare('SELECT id, characteristic FROM series').all() as {
      id: number
      characteristic: string
    }[])
      seriesNames.set(row.id, row.characteristic)
    const snapshots: ChartSnapshot[] = []
    const after = new Map<number, number>()
    for (const row of db
      .prepare('SELECT series, seq, spec_hash, state FROM chart_snapshot')
      .all() as { series: number; seq: number; spec_hash: string; state: string }[]) {
      const characteristic = seriesNames.get(row.series)
      if (characteristic === undefined) continue
      snapshots.push({ characteristic, seq: row.seq, specHash: row.spec_hash, state: row.state })
      after.set(row.series, row.seq)
    }
    const readings: Record<string, JournalReading[]> = {}
    for (const { series, reading } of blocks.recentReadings()) {
      const characteristic = seriesNames.get(series)
      // A reading its chart's snapshot covers, or one without a place in a stream, is not replayed.
      if (characteristic === undefined || !(reading.seq > (after.get(series) ?? 0))) continue
      const list = readings[characteristic] ?? []
      readings[characteristic] = list
      list.push(reading)
    }
    // Compaction writes the readings it keeps after the others: the stream order is `seq`.
    for (const list of Object.values(readings)) list.sort((a, b) => a.seq - b.seq)
    return { snapshots, readings }
  }

  const bytes = (): number => {
    const [pages, free, size] = pageCounts.map(
      (p) => Object.values(p.get() as Record<string, number>)[0] as number,
    ) as [number, number, number]
    return (pages - free) * size
  }

  /**
   * Retention: blocks and events older than maxAgeDays go, oldest first by arrival; while the
   * file holds more than maxBytes, the oldest go regardless of age. The recent blocks (the
   * journal) are never deleted. Returns the records deleted.
   */
  const retain = (now: number): number => {
    let deleted = 0
    blocks.forgetDeliveries(now - DELIVERY_MEMORY_MS)
    const cutoff = now - options.retention.maxAgeDays * DAY_MS
    const purge = (t: RetainedTable, limit: number, before: number) => {
      const gone = blocks.purgeOldest(t, limit, before)
      deleted += gone.records
      return gone.blocks
    }
    // Short statements (a batch waiting behind retention does not wait long).
    for (const t of RETAINED_TABLES) while (purge(t, 500, cutoff) > 0);
    // Above the size, the oldest go whatever their age, a few blocks (or 100 events) at a time.
    for (let round = 0; bytes() > options.retention.maxBytes && round < 1000; round++) {
      let gone = 0
      for (const t of RETAINED_TABLES) gone += purge(t, t === 'event' ? 100 : 4, Number.MAX_VALUE)
      if (gone === 0) break
      db.exec('PRAGMA incremental_vacuum')
    }
    if (deleted > 0) {
      db.exec('PRAGMA incremental_vacuum')
      post({ type: 'retention', deleted, bytes: bytes() })
    }
    return deleted
  }

  const query = (what: 'readings' | 'chartPoints' | 'events', q: RangeQuery): unknown[] => {
    const id =
      seriesIds.get(q.characteristic) ??
      (findSeries.get(q.characteristic) as { id: number } | undefined)?.id
    if (id === undefined || q.limit <= 0) return []
    if (what === 'readings') return blocks.readings(id, q)
    if (what === 'chartPoints') return blocks.points(id, q)
    const events = selectEvents.all(id, q.from, q.to, q.limit) as unknown as Omit<
      StoredEvent,
      'characteristic'
    >[]
    return events.reverse().map((e): StoredEvent => ({ ...e, characteristic: q.characteristic }))
  }

  const answer = (id: number, work: () => unknown): void => {
    try {
      post({ type: 'answer', id, rows: work() })
    } catch (e) {
      post({ type: 'query-failed', id, error: (e as Error).message })
    }
  }

  /** The first batch whose commit failed, until it commits. */
  let blocked: number | null = null

  /**
   * Compaction goes a chunk (one transaction) at a time, the batches that came meanwhile
   * committed between chunks: an acknowledgement waits for at most one chunk (tens of ms), not
   * for a whole compaction (hundreds of ms after a burst). A checkpoint during one starts it
   * again with the blocks there are now (each chunk takes the oldest).
   */
  let compaction: { step(): number | null } | null = null
  const startCompaction = (): void => {
    const running = compaction !== null
    compaction = blocks.compaction(covered, options.journalOnly)
    if (!running) later(compactSome)
  }
  const compactSome = (): void => {
    if (compaction === null) return
    let done: boolean
    try {
      done = compaction.step() === null
    } catch (e) {
      done = true
      post({ type: 'retention-failed', error: `compaction: ${(e as Error).message}` })
    }
    if (!done) {
      later(compactSome)
      return
    }
    compaction = null
    runRetention()
  }
  const handle = (message: ToWorker): boolean => {
    switch (message.type) {
      case 'write':
        try {
          // In order: after a batch failed, none after it commits before it does.
          if (message.seq <= committedUpTo) {
            // Committed before the thread that took it died: not written twice.
            post({ type: 'committed', seq: message.seq })
            return true
          }
          if (blocked !== null && message.seq > blocked)
            throw new Error(`batch ${blocked} has to be committed first`)
          write(message.seq, message.records, message.columns)
          committedUpTo = message.seq
          if (blocked === message.seq) blocked = null
          post({ type: 'committed', seq: message.seq })
        } catch (e) {
          // Ids inserted in a rolled-back transaction are gone.
          seriesIds.clear()
          seriesOfName = []
          if (blocked === null || message.seq < blocked) blocked = message.seq
          post({ type: 'failed', seq: message.seq, error: (e as Error).message })
          return true
        }
        // After the commit (its acknowledgements are out): the recent readings their charts'
        // snapshots cover are compacted, then retention runs.
        if (message.checkpoint) startCompaction()
        return true
      case 'names':
        setNames(message)
        return true
      case 'query':
        answer(message.id, () => query(message.what, message.query))
        return true
      case 'recover':
        answer(message.id, recover)
        return true
      case 'deliveries':
        answer(message.id, () => blocks.deliveriesSince(Date.now() - DELIVERY_MEMORY_MS))
        return true
      case 'stop':
        // The compaction under way (the stop's own checkpoint, say) is finished: a clean stop
        // leaves what the snapshots cover compacted, whatever the timing of the messages.
        try {
          while (compaction?.step() != null);
        } catch (e) {
          post({ type: 'retention-failed', error: `compaction: ${(e as Error).message}` })
        }
        compaction = null
        db.close()
        post({ type: 'stopped' })
        return false
    }
  }
  const runRetention = (): void => {
    try {
      retain(Date.now())
    } catch (e) {
      post({ type: 'retention-failed', error: (e as Error).message })
    }
  }

  return { handle, retain: runRetention }
}

export function openTimeSeries(path: string): DatabaseSync {
  const db = openDatabase(path, MIGRATIONS, { exclusive: true, autoVacuum: true })
  // A page cache that holds the index pages compaction touches (32 MiB, a bound on the
  // writer's memory) keeps it from reading them back from disk.
  db.exec('PRAGMA cache_size = -32768')
  return db
}

if (parentPort) {
  const port = parentPort
  const options = workerData as WorkerOptions
  try {
    const db = openTimeSeries(options.path)
    const server = serve(db, options, (m) => port.postMessage(m))
    port.postMessage({ type: 'ready' } satisfies FromWorker)
    port.on('message', (message: ToWorker) => {
      if (!server.handle(message)) port.close()
    })
    server.retain()
  } catch (e) {
    const err = e as Error & { code?: string }
    port.postMessage({
      type: 'open-failed',
      error: err.message,
      code: err.code,
    } satisfies FromWorker)
  }
}
