import type { JournaledStore, SeriesRecord, TimeSeriesStore } from './types.ts'

/**
 * How long a snapshot waits for InfluxDB to have the readings it covers, at most: while the
 * spool is full records are dropped and never durable, and the journal would keep every reading.
 */
export const SNAPSHOT_WAIT_MS = 60_000

/**
 * InfluxDB keeps the time series; the embedded SQLite journal keeps what the charts recover
 * from (the readings a snapshot does not cover yet, and the snapshots). A record is durable when
 * both have it: an acknowledgement waits for the journal's commit and InfluxDB's acceptance
 * (or its spool's fsync). Queries go to InfluxDB.
 *
 * A snapshot goes to the journal once InfluxDB has every record written before it (or after
 * SNAPSHOT_WAIT_MS): the journal drops the readings a snapshot covers, and a QoS 0 reading's
 * InfluxDB batch may still be in memory when the gateway dies. The readings no snapshot covers
 * are replayed at the next start and written to InfluxDB again (`rewrite`).
 */
export function journaled(series: TimeSeriesStore, journal: JournaledStore): JournaledStore {
  const forJournal = (r: SeriesRecord) => r.kind === 'reading' || r.kind === 'delivery'
  /** The snapshots of this turn: one wait on InfluxDB for all of them. */
  let held: SeriesRecord[] | null = null
  function holdSnapshot(snapshot: SeriesRecord): void {
    if (held) {
      held.push(snapshot)
      return
    }
    const group = [snapshot]
    held = group
    let released = false
    const release = () => {
      if (released) return
      released = true
      clearTimeout(timer)
      for (const r of group) journal.write(r)
    }
    const timer = setTimeout(release, SNAPSHOT_WAIT_MS)
    timer.unref()
    setImmediate(() => {
      held = null
      series.whenDurable(release)
    })
  }
  return {
    async start() {
      await journal.start()
      try {
        await series.start()
      } catch (err) {
        await journal.stop()
        throw err
      }
    },
    write(record) {
      if (record.kind === 'snapshot') holdSnapshot(record)
      else if (forJournal(record)) journal.write(record)
      if (record.kind !== 'snapshot' && record.kind !== 'delivery') series.write(record)
    },
    rewrite(record) {
      if (record.kind !== 'snapshot' && record.kind !== 'delivery') series.write(record)
    },
    whenDurable(done) {
      let left = 2
      const one = () => {
        if (--left === 0) done()
      }
      journal.whenDurable(one)
      series.whenDurable(one)
    },
    checkpoint: () => journal.checkpoint(),
    snapshots: (characteristics) => journal.snapshots(characteristics),
    deliveries: (clients) => journal.deliveries(clients),
    readingsAfter: (characteristic, seq) => journal.readingsAfter(characteristic, seq),
    async flush() {
      await Promise.all([journal.flush(), series.flush()])
    },
    readings: (q) => series.readings(q),
    chartPoints: (q) => series.chartPoints(q),
    events: (q) => series.events(q),
    status: () => series.status(),
    backlog: () => Math.max(journal.backlog?.() ?? 0, series.backlog?.() ?? 0),
    async stop() {
      try {
        await series.stop()
      } finally {
        await journal.stop()
      }
    },
  }
}
