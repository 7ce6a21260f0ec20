import type { ChartPoint, PanePoint, ViolationRule } from '../../rules/index.ts'

/** What the pipeline writes to the time-series store: every reading, chart statistic and event. */
export type SeriesRecord =
  | {
      kind: 'reading'
      characteristic: string
      /** Source time, UTC ms. */
      ts: number
      value: number
      /**
       * The reading's place in its characteristic's stream (1, 2, …): what replay starts
       * after. A reading without one is not replayed.
       */
      seq?: number | undefined
      /** Attributes charts: the sample size. */
      size?: number | undefined
      /** The subgroup key, for subgroups formed by key. */
      key?: string | undefined
      /** When the gateway received it, UTC ms. */
      received?: number | undefined
    }
  | {
      /**
       * A QoS 1/2 message the embedded broker took, kept for a few minutes with the readings
       * it gave: a message sent again after a crash or a lost PUBACK is known (see Delivery).
       */
      kind: 'delivery'
      delivery: Delivery
    }
  | {
      /** The chart state after reading `seq` (JSON), stored in a batch after that reading's. */
      kind: 'snapshot'
      characteristic: string
      seq: number
      specHash: string
      state: string
    }
  | { kind: 'chart'; characteristic: string; point: ChartPoint }
  | {
      kind: 'event'
      characteristic: string
      ts: number
      /** e.g. `deviation`, `limits-established`, `nc-opened`. */
      type: string
      /** JSON text of the event. */
      detail: string
    }

export interface RangeQuery {
  characteristic: string
  /** Inclusive bounds, UTC ms. */
  from: number
  to: number
  /** At most this many rows, the latest ones when there are more; returned oldest first. */
  limit: number
}

export interface StoredReading {
  ts: number
  value: number
}

/** A chart point as stored: panes with their limits, and the rules the point completed. */
export interface StoredChartPoint {
  index: number
  ts: number
  phase: ChartPoint['phase']
  /** Observations in the subgroup. */
  n: number
  panes: Record<string, PanePoint>
  rules: ViolationRule[]
}

/** An MQTT client's message, by its packet id and a checksum of its topic and payload. */
export interface Delivery {
  client: string
  messageId: number
  hash: number
  /** When it was taken, UTC ms. */
  at: number
}

/** A reading as the journal keeps it for replay after a restart. */
export interface JournalReading {
  seq: number
  ts: number
  value: number
  size: number | null
  key: string | null
}

export interface ChartSnapshot {
  characteristic: string
  seq: number
  specHash: string
  state: string
}

/**
 * The journal: where the chart state that committed readings produced is recovered from. A
 * snapshot is stored now and then (after the readings it covers); after a restart the
 * readings after it are replayed, so the chart continues as an uninterrupted run would.
 */
export interface Journal {
  /** The latest snapshot of each characteristic (of these only, when named). */
  snapshots(characteristics?: readonly string[]): Promise<ChartSnapshot[]>
  /** The QoS 1/2 messages taken in the last minutes (DELIVERY_MEMORY_MS), as stored now. */
  deliveries(clients?: readonly string[]): Promise<Delivery[]>
  /** The readings of a characteristic after `seq`, in order. */
  readingsAfter(characteristic: string, seq: number): Promise<JournalReading[]>
}

export interface StoredEvent {
  ts: number
  characteristic: string
  type: string
  detail: string
}

export interface StoreStatus {
  /** 'postgres': the shared charts' journal (store/postgres-journal.ts). */
  kind: 'sqlite' | 'influxdb' | 'postgres'
  /** false while the store refuses writes (outage); records are then buffered. */
  healthy: boolean
  /** Records held in memory, not yet written. */
  pending: number
  /** Records held in the on-disk spool, not yet written. */
  spooled: number
  /** Records written since start. */
  written: number
  /** Records the store refused because they cannot be stored as they are (kept aside, counted). */
  rejected?: number | undefined
  /** Records lost because the buffer and spool were full (an outage outlasted the disk kept for it). */
  dropped?: number | undefined
  /** Rows deleted by retention (age or size) since start. */
  retentionDeleted?: number | undefined
  lastError?: string | undefined
}

/**
 * One interface for every time-series store. `write` never blocks and never throws for an
 * outage: the store buffers (memory, then disk) and retries. `stop` flushes what it can and
 * keeps the rest on disk for the next start.
 */
export interface TimeSeriesStore {
  start(): Promise<void>
  write(record: SeriesRecord): void
  /**
   * Calls `done` once every record written before the call is durable: committed (SQLite), or
   * accepted by InfluxDB or written to the disk spool with fsync (InfluxDB). Cheap to call per
   * message: callbacks wait on the batch they belong to, and a waiting callback makes the store
   * cut its batch at once (group commit) instead of at the next interval. Never throws; while
   * the store can do neither, `done` waits (the caller holds an acknowledgement back).
   */
  whenDurable(done: () => void): void
  /** Resolves when everything written before the call is stored (or spooled during an outage). */
  flush(): Promise<void>
  readings(query: RangeQuery): Promise<StoredReading[]>
  chartPoints(query: RangeQuery): Promise<StoredChartPoint[]>
  events(query: RangeQuery): Promise<StoredEvent[]>
  status(): StoreStatus
  /**
   * How full the memory holding records not yet committed is, 0 to 1 (past 1 they are
   * refused); absent for a store that spills to disk instead. The embedded broker stops
   * reading its devices while it is high (sources/mqtt-broker.ts).
   */
  backlog?(): number
  stop(): Promise<void>
}

/** The store the pipeline writes to: the time series, with the journal its charts recover from. */
export interface JournaledStore extends TimeSeriesStore, Journal {
  /**
   * Where the time series is another store than the journal (InfluxDB): a record replayed from
   * the journal written to the time series again, not to the journal. The journal may have
   * committed a batch the time series never received (it died with the gateway, in memory);
   * InfluxDB overwrites a record written again at the same time stamp with the same values.
   */
  rewrite?(record: SeriesRecord): void
  /**
   * Cuts the batch now; after its commit the journal drops (or, SQLite, compacts) the readings
   * the snapshots written so far cover, and retention runs.
   */
  checkpoint(): void
}
