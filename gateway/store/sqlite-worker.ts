/**
 * The SQLite time-series writer, on its own thread so that inserts (about 13 µs a reading with
 * its chart point) never hold up ingest. It owns the database: it commits each batch it is
 * sent in one transaction, answers queries in order (so a query sees every batch posted
 * before it), and acknowledges every batch so the sender can resend what was not committed.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'
import type { PanePoint, ViolationRule } from '../../rules/index.ts'
import { openDatabase, transaction } from './sqlite-db.ts'
import type { RangeQuery, SeriesRecord, StoredChartPoint } from './types.ts'

export type ToWorker =
  | { type: 'write'; seq: number; records: SeriesRecord[] }
  | { type: 'query'; id: number; what: 'readings' | 'chartPoints' | 'events'; query: RangeQuery }
  | { type: 'stop' }

export type FromWorker =
  | { type: 'committed'; seq: number }
  | { type: 'failed'; seq: number; error: string }
  | { type: 'answer'; id: number; rows: unknown[] }
  | { type: 'query-failed'; id: number; error: string }
  | { type: 'stopped' }

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
]

function serve(
  db: DatabaseSync,
  post: (message: FromWorker) => void,
): (message: ToWorker) => boolean {
  const seriesIds = new Map<string, number>()
  const insert = {
    reading: db.prepare('INSERT INTO reading (series, ts, value) VALUES (?, ?, ?)'),
    chart: db.prepare(
      'INSERT INTO chart_point (series, ts, idx, phase, panes, rules, n) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare('INSERT INTO event (series, ts, type, detail) VALUES (?, ?, ?, ?)'),
    series: db.prepare(
      'INSERT INTO series (characteristic) VALUES (?) ON CONFLICT (characteristic) DO UPDATE SET characteristic = excluded.characteristic RETURNING id',
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

  const seriesId = (characteristic: string): number => {
    let id = seriesIds.get(characteristic)
    if (id === undefined) {
      id = (insert.series.get(characteristic) as { id: number }).id
      seriesIds.set(characteristic, id)
    }
    return id
  }

  const write = (records: SeriesRecord[]): void => {
    transaction(db, () => {
      for (const r of records) {
        switch (r.kind) {
          case 'reading':
            insert.reading.run(seriesId(r.characteristic), r.ts, r.value)
            break
          case 'chart': {
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
            insert.event.run(seriesId(r.characteristic), r.ts, r.type, r.detail)
            break
        }
      }
    })
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

  return (message) => {
    switch (message.type) {
      case 'write':
        try {
          write(message.records)
          post({ type: 'committed', seq: message.seq })
        } catch (e) {
          seriesIds.clear() // ids inserted in the rolled-back transaction are gone
          post({ type: 'failed', seq: message.seq, error: (e as Error).message })
        }
        return true
      case 'query':
        try {
          post({ type: 'answer', id: message.id, rows: query(message.what, message.query) })
        } catch (e) {
          post({ type: 'query-failed', id: message.id, error: (e as Error).message })
        }
        return true
      case 'stop':
        db.close()
        post({ type: 'stopped' })
        return false
    }
  }
}

if (parentPort) {
  const port = parentPort
  const db = openDatabase((workerData as { path: string }).path, MIGRATIONS)
  const handle = serve(db, (m) => port.postMessage(m))
  port.on('message', (message: ToWorker) => {
    if (!handle(message)) port.close()
  })
}
