import type { ChartPoint, PanePoint, ViolationRule } from '../../rules/index.ts'

/** What the pipeline writes to the time-series store: every reading, chart statistic and event. */
export type SeriesRecord =
  | { kind: 'reading'; characteristic: string; ts: number; value: number }
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

export interface StoredEvent {
  ts: number
  characteristic: string
  type: string
  detail: string
}

export interface StoreStatus {
  kind: 'sqlite' | 'influxdb'
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
  /** Resolves when everything written before the call is stored (or spooled during an outage). */
  flush(): Promise<void>
  readings(query: RangeQuery): Promise<StoredReading[]>
  chartPoints(query: RangeQuery): Promise<StoredChartPoint[]>
  events(query: RangeQuery): Promise<StoredEvent[]>
  status(): StoreStatus
  stop(): Promise<void>
}
