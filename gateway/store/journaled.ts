import type { JournaledStore, SeriesRecord, TimeSeriesStore } from './types.ts'

/**
 * InfluxDB keeps the time series; the embedded SQLite journal keeps what the charts recover
 * from (the readings a snapshot does not cover yet, and the snapshots). A record is durable when
 * both have it: an acknowledgement waits for the journal's commit and InfluxDB's acceptance
 * (or its spool's fsync). Queries go to InfluxDB.
 */
export function journaled(series: TimeSeriesStore, journal: JournaledStore): JournaledStore {
  const forJournal = (r: SeriesRecord) =>
    r.kind === 'reading' || r.kind === 'snapshot' || r.kind === 'delivery'
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
      if (forJournal(record)) journal.write(record)
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
    async stop() {
      try {
        await series.stop()
      } finally {
        await journal.stop()
      }
    },
  }
}
