/**
 * The SQLite time-series writer, on its own thread so that inserts never hold up ingest. It
 * owns the database file (locked for it: one gateway per data directory): it commits each
 * batch it is sent in one transaction (FULL sync: committed means on disk), answers queries
 * in order (so a query sees every batch posted before it), acknowledges every batch so the
 * sender can release the acknowledgements that waited on it, and enforces retention.
 *
 * The journal (see types.ts `Journal`): readings carry their place in their characteristic's
 * stream (`seq`); chart snapshots are upserted in the transaction of their last reading; a
 * checkpoint record says "every chart state is snapshotted up to here" and stores the last
 * reading rowid. Recovery replays the readings after the checkpoint that come after their
 * chart's snapshot.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'
import type { PanePoint, ViolationRule } from '../../rules/index.ts'
import { DELIVERY_MEMORY_MS } from '../sources/deliveries.ts'
import { CHART_STRIDE, type ColumnBatch, nullable, READING_STRIDE } from './columns.ts'
import { openDatabase, transaction } from './sqlite-db.ts'
import type {
  ChartSnapshot,
  Delivery,
  JournalReading,
  RangeQuery,
  SeriesRecord,
  StoredChartPoint,
} from './types.ts'

/** A batch: the records, then whether a checkpoint follows them. */
export type ToWorker =
  | {
      type: 'write'
      seq: number
      records: SeriesRecord[]
      columns?: ColumnBatch | undefined
      checkpoint: boolean
    }
  | { type: 'names'; from: number; names: string[] }
  | { type: 'query'; id: number; what: 'readings' | 'chartPoints' | 'events'; query: RangeQuery }
  | { type: 'recover'; id: number }
  | { type: 'stop' }

export interface Recovered {
  snapshots: ChartSnapshot[]
  deliveries: Delivery[]
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
   * Journal only (InfluxDB holds the time series): readings and snapshots are kept until a
   * checkpoint covers them; chart points and events are not written here.
   */
  journalOnly: boolean
  retention: { maxAgeDays: number; maxBytes: number }
}

const MIGRATIONS = [
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
]

/** Rows deleted per retention statement: short transactions, so a batch never waits long. */
const RETENTION_CHUNK = 5000
const DAY_MS = 86_400_000
const TABLES = ['reading', 'chart_point', 'event'] as const

export function serve(
  db: DatabaseSync,
  options: WorkerOptions,
  post: (message: FromWorker) => void,
): { handle(message: ToWorker): boolean; retain(): void } {
  const seriesIds = new Map<string, number>()
  const insert = {
    reading: db.prepare(
      'INSERT INTO reading (series, ts, value, seq, size, key, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    chart: db.prepare(
      'INSERT INTO chart_point (series, ts, idx, phase, panes, rules, n) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare('INSERT INTO event (series, ts, type, detail) VALUES (?, ?, ?, ?)'),
    series: db.prepare(
      'INSERT INTO series (characteristic) VALUES (?) ON CONFLICT (characteristic) DO UPDATE SET characteristic = excluded.characteristic RETURNING id',
    ),
    snapshot: db.prepare(
      `INSERT INTO chart_snapshot (series, seq, spec_hash, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (series) DO UPDATE SET seq = excluded.seq, spec_hash = excluded.spec_hash, state = excluded.state`,
    ),
    delivery: db.prepare(
      `INSERT INTO delivery (client, message_id, hash, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (client, message_id) DO UPDATE SET hash = excluded.hash, at = excluded.at`,
    ),
    checkpoint: db.prepare(
      `INSERT INTO checkpoint (id, reading_rowid) VALUES (1, (SELECT coalesce(max(rowid), 0) FROM reading))
       ON CONFLICT (id) DO UPDATE SET reading_rowid = excluded.reading_rowid`,
    ),
  }
  const findSeries = db.prepare('SELECT id FROM series WHERE characteristic = ?')
  const select: Record<'readings' | 'chartPoints' | 'events', StatementSync> = {
    readings: db.prepare(
      'SELECT ts, value FROM reading WHERE series = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, rowid DESC LIMIT ?',
    ),
    chartPoints: db.prepare(
      'SELECT idx, ts, phase, panes, rules, n FROM chart_point WHERE series = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, rowid DESC LIMIT ?',
    ),
    events: db.prepare(
      'SELECT ts, type, detail FROM event WHERE series = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, rowid DESC LIMIT ?',
    ),
  }
  const checkpointRowid = db.prepare('SELECT reading_rowid FROM checkpoint WHERE id = 1')
  /**
   * Deletes the oldest rows of a table (up to RETENTION_CHUNK, by arrival) that are at or below a
   * rowid and older than a time stamp. Readings are bounded by the checkpoint: those no checkpoint
   * covers yet are kept whatever their age or the size (replay needs them).
   */
  const deleteOldest = Object.fromEntries(
    TABLES.map((t) => [
      t,
      db.prepare(
        `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE rowid <= ? ORDER BY rowid LIMIT ${RETENTION_CHUNK}) AND ts < ?`,
      ),
    ]),
  ) as Record<(typeof TABLES)[number], StatementSync>
  const forgetDeliveries = db.prepare('DELETE FROM delivery WHERE at < ?')
  const pageCounts = ['page_count', 'freelist_count', 'page_size'].map((name) =>
    db.prepare(`PRAGMA ${name}`),
  )
  const coveredReadings = db.prepare('DELETE FROM reading WHERE rowid <= ?')

  const seriesId = (characteristic: string): number => {
    let id = seriesIds.get(characteristic)
    if (id === undefined) {
      id = (insert.series.get(characteristic) as { id: number }).id
      seriesIds.set(characteristic, id)
    }
    return id
  }

  /** The sender's numbering of characteristics (see columns.ts). */
  const names: string[] = []
  const setNames = (from: number, list: readonly string[]): void => {
    for (let k = 0; k < list.length; k++) names[from + k] = list[k] as string
  }
  const nameOf = (i: number): string => {
    const name = names[i]
    if (name === undefined) throw new Error(`column batch names characteristic #${i}, not sent`)
    return name
  }

  const writeColumns = (c: ColumnBatch): void => {
    setNames(c.namesFrom, c.names)
    const r = c.readings
    for (let i = 0; i < r.length; i += READING_STRIDE) {
      insert.reading.run(
        seriesId(nameOf(r[i] as number)),
        r[i + 1] as number,
        r[i + 2] as number,
        nullable(r[i + 3] as number),
        nullable(r[i + 4] as number),
        c.keys?.[i / READING_STRIDE] ?? null,
        nullable(r[i + 5] as number),
      )
    }
    if (options.journalOnly) return
    const p = c.charts
    for (let i = 0, k = 0; i < p.length; i += CHART_STRIDE, k++) {
      insert.chart.run(
        seriesId(nameOf(p[i] as number)),
        p[i + 1] as number,
        p[i + 2] as number,
        p[i + 4] === 1 ? 'monitor' : 'baseline',
        c.panes[k] as string,
        c.rules[k] as string,
        p[i + 3] as number,
      )
    }
  }

  const write = (
    records: SeriesRecord[],
    columns: ColumnBatch | undefined,
    checkpoint: boolean,
  ): void => {
    transaction(db, () => {
      if (columns) writeColumns(columns)
      for (const r of records) {
        switch (r.kind) {
          case 'reading':
            insert.reading.run(
              seriesId(r.characteristic),
              r.ts,
              r.value,
              r.seq ?? null,
              r.size ?? null,
              r.key ?? null,
              r.received ?? null,
            )
            break
          case 'snapshot':
            insert.snapshot.run(seriesId(r.characteristic), r.seq, r.specHash, r.state)
            break
          case 'delivery': {
            const d = r.delivery
            insert.delivery.run(d.client, d.messageId, d.hash, d.at)
            break
          }
          case 'chart': {
            if (options.journalOnly) break
            const p = r.point
            const rules = p.violations.map((v) => v.rule).join(',')
            insert.chart.run(
              seriesId(r.characteristic),
              p.ts,
              p.index,
              p.phase,
              JSON.stringify(p.panes),
              rules,
              p.n,
            )
            break
          }
          case 'event':
            if (options.journalOnly) break
            insert.event.run(seriesId(r.characteristic), r.ts, r.type, r.detail)
            break
        }
      }
      if (checkpoint) {
        insert.checkpoint.run()
        // InfluxDB keeps the time series: the journal needs nothing a checkpoint covers.
        if (options.journalOnly) coveredReadings.run(covered())
      }
    })
  }

  /** The last reading rowid every chart snapshot covers (0: none yet). */
  const covered = (): number =>
    (checkpointRowid.get() as { reading_rowid: number } | undefined)?.reading_rowid ?? 0

  const recover = (): Recovered => {
    const names = new Map<number, string>()
    for (const row of db.prepare('SELECT id, characteristic FROM series').all() as {
      id: number
      characteristic: string
    }[])
      names.set(row.id, row.characteristic)
    const snapshots: ChartSnapshot[] = []
    const after = new Map<number, number>()
    for (const row of db
      .prepare('SELECT series, seq, spec_hash, state FROM chart_snapshot')
      .all() as { series: number; seq: number; spec_hash: string; state: string }[]) {
      const characteristic = names.get(row.series)
      if (characteristic === undefined) continue
      snapshots.push({ characteristic, seq: row.seq, specHash: row.spec_hash, state: row.state })
      after.set(row.series, row.seq)
    }
    const readings: Record<string, JournalReading[]> = {}
    const rows = db
      .prepare(
        'SELECT series, seq, ts, value, size, key FROM reading WHERE rowid > ? AND seq IS NOT NULL ORDER BY rowid',
      )
      .iterate(covered()) as Iterable<JournalReading & { series: number }>
    for (const row of rows) {
      const characteristic = names.get(row.series)
      if (characteristic === undefined || row.seq <= (after.get(row.series) ?? 0)) continue
      const list = readings[characteristic] ?? []
      readings[characteristic] = list
      list.push({ seq: row.seq, ts: row.ts, value: row.value, size: row.size, key: row.key })
    }
    const deliveries = db
      .prepare(
        'SELECT client, message_id AS messageId, hash, at FROM delivery WHERE at >= ? ORDER BY at',
      )
      .all(Date.now() - DELIVERY_MEMORY_MS) as unknown as Delivery[]
    return { snapshots, deliveries, readings }
  }

  const bytes = (): number => {
    const [pages, free, size] = pageCounts.map(
      (p) => Object.values(p.get() as Record<string, number>)[0] as number,
    ) as [number, number, number]
    return (pages - free) * size
  }

  /**
   * Retention: rows older than maxAgeDays go, oldest first by arrival; while the file holds
   * more than maxBytes, the oldest rows go regardless of age. Readings no checkpoint covers yet
   * are never deleted (a restart replays them). Returns the rows deleted.
   */
  const retain = (now: number): number => {
    let deleted = 0
    forgetDeliveries.run(now - DELIVERY_MEMORY_MS)
    const covers = covered()
    const bound = (t: (typeof TABLES)[number]) =>
      t === 'reading' ? covers : Number.MAX_SAFE_INTEGER
    const cutoff = now - options.retention.maxAgeDays * DAY_MS
    for (const t of TABLES) {
      for (;;) {
        const n = Number(deleteOldest[t].run(bound(t), cutoff).changes)
        deleted += n
        if (n < RETENTION_CHUNK) break
      }
    }
    // Above the size, the oldest go whatever their age.
    for (let round = 0; bytes() > options.retention.maxBytes && round < 1000; round++) {
      let n = 0
      for (const t of TABLES) n += Number(deleteOldest[t].run(bound(t), Number.MAX_VALUE).changes)
      deleted += n
      if (n === 0) break
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
    if (id === undefined) return []
    const rows = select[what].all(id, q.from, q.to, q.limit).reverse()
    if (what === 'events') return rows.map((e) => ({ ...e, characteristic: q.characteristic }))
    if (what === 'chartPoints') {
      return (
        rows as unknown as {
          idx: number
          ts: number
          phase: string
          n: number
          panes: string
          rules: string
        }[]
      ).map(
        (r): StoredChartPoint => ({
          index: r.idx,
          ts: r.ts,
          phase: r.phase as StoredChartPoint['phase'],
          n: r.n,
          panes: JSON.parse(r.panes) as Record<string, PanePoint>,
          rules: r.rules === '' ? [] : (r.rules.split(',') as ViolationRule[]),
        }),
      )
    }
    return rows
  }

  const answer = (id: number, work: () => unknown): void => {
    try {
      post({ type: 'answer', id, rows: work() })
    } catch (e) {
      post({ type: 'query-failed', id, error: (e as Error).message })
    }
  }

  const handle = (message: ToWorker): boolean => {
    switch (message.type) {
      case 'write':
        try {
          write(message.records, message.columns, message.checkpoint)
          post({ type: 'committed', seq: message.seq })
          // After the commit (its acknowledgements are out): retention runs with each checkpoint.
          if (message.checkpoint) runRetention()
        } catch (e) {
          seriesIds.clear() // ids inserted in the rolled-back transaction are gone
          post({ type: 'failed', seq: message.seq, error: (e as Error).message })
        }
        return true
      case 'names':
        setNames(message.from, message.names)
        return true
      case 'query':
        answer(message.id, () => query(message.what, message.query))
        return true
      case 'recover':
        answer(message.id, recover)
        return true
      case 'stop':
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
  // The WAL is truncated back to this after a checkpoint: it does not keep a peak's size.
  db.exec('PRAGMA journal_size_limit = 67108864')
  // Every batch touches an index leaf per characteristic: a page cache that holds them (32 MiB,
  // a bound on the writer's memory) keeps a commit from reading them back from disk.
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
