import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../log.ts'
import type { FromWorker, ToWorker } from './sqlite-worker.ts'
import type {
  RangeQuery,
  SeriesRecord,
  StoredChartPoint,
  StoredEvent,
  StoredReading,
  StoreStatus,
  TimeSeriesStore,
} from './types.ts'

/**
 * The embedded time-series store: one SQLite file, so `npm start` needs no server. Records are
 * batched on the ingest thread and committed by a writer thread (sqlite-worker.ts). A batch is
 * kept until the writer confirms its commit: a failed commit, or a writer that dies, gets it
 * sent again, so nothing is lost while memory lasts (`maxPending`, then refused and counted).
 */
export interface SqliteStoreOptions {
  path: string
  log: Logger
  /** Post a batch when this many records wait, or every `flushIntervalMs`. */
  batchSize?: number
  flushIntervalMs?: number
  maxPending?: number
}

const RETRY_MS = 1000

export function createSqliteStore(options: SqliteStoreOptions): TimeSeriesStore {
  const { log } = options
  const batchSize = options.batchSize ?? 5000
  const flushIntervalMs = options.flushIntervalMs ?? 200
  const maxPending = options.maxPending ?? 2_000_000
  // The writer runs from the same place as this module: .ts from source (Node strips the types), .js from dist/.
  const workerUrl = new URL(
    `./sqlite-worker${extname(fileURLToPath(import.meta.url))}`,
    import.meta.url,
  )

  let worker: Worker | null = null
  let buffer: SeriesRecord[] = []
  /** Batches posted and not yet committed, by sequence number (oldest first). */
  const unconfirmed = new Map<number, SeriesRecord[]>()
  let unconfirmedRecords = 0
  let seq = 0
  let written = 0
  let dropped = 0
  let lastError: string | undefined
  let timer: NodeJS.Timeout | null = null
  let stopping = false
  let nextQuery = 0
  const queries = new Map<
    number,
    { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }
  >()
  /** Resolved when no batch is unconfirmed. */
  let drained: { promise: Promise<void>; resolve: () => void } | null = null

  function post(message: ToWorker): void {
    worker?.postMessage(message)
  }

  function sendBuffer(): void {
    if (buffer.length === 0 || !worker) return
    const records = buffer
    buffer = []
    seq++
    unconfirmed.set(seq, records)
    unconfirmedRecords += records.length
    post({ type: 'write', seq, records })
  }

  function settleDrained(): void {
    if (unconfirmed.size === 0 && buffer.length === 0 && drained) {
      drained.resolve()
      drained = null
    }
  }

  function onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'committed': {
        const records = unconfirmed.get(message.seq)
        unconfirmed.delete(message.seq)
        unconfirmedRecords -= records?.length ?? 0
        written += records?.length ?? 0
        lastError = undefined
        settleDrained()
        break
      }
      case 'failed': {
        lastError = message.error
        log.error(
          { error: message.error, unconfirmed: unconfirmedRecords },
          'time-series commit failed; the batch is kept and sent again',
        )
        const records = unconfirmed.get(message.seq)
        if (records) setTimeout(() => resend(message.seq), RETRY_MS).unref()
        break
      }
      case 'answer':
      case 'query-failed': {
        const q = queries.get(message.id)
        queries.delete(message.id)
        if (message.type === 'answer') q?.resolve(message.rows)
        else q?.reject(new Error(message.error))
        break
      }
      case 'stopped':
        break
    }
  }

  function resend(s: number): void {
    const records = unconfirmed.get(s)
    if (records && worker) post({ type: 'write', seq: s, records })
  }

  function startWorker(): Promise<void> {
    const w = new Worker(workerUrl, { workerData: { path: options.path } })
    worker = w
    w.on('message', onMessage)
    w.on('error', (err) => {
      lastError = err.message
      log.error({ err }, 'time-series writer failed')
    })
    w.on('exit', (code) => {
      if (worker !== w) return
      worker = null
      for (const q of queries.values()) q.reject(new Error('the time-series writer stopped'))
      queries.clear()
      if (stopping) return
      // An unexpected exit: a new writer takes over and every unconfirmed batch goes again.
      log.error(
        { code, unconfirmed: unconfirmedRecords },
        'time-series writer exited; starting a new one',
      )
      setTimeout(() => {
        startWorker().then(
          () => {
            for (const s of unconfirmed.keys()) resend(s)
          },
          (err: unknown) => log.error({ err }, 'time-series writer could not restart'),
        )
      }, RETRY_MS).unref()
    })
    return new Promise((resolve, reject) => {
      w.once('online', () => resolve())
      w.once('error', reject)
    })
  }

  function ask<T>(what: 'readings' | 'chartPoints' | 'events', query: RangeQuery): Promise<T[]> {
    sendBuffer() // a query sees everything written before it
    if (!worker) return Promise.reject(new Error('the time-series store is not running'))
    const id = ++nextQuery
    return new Promise<T[]>((resolve, reject) => {
      queries.set(id, { resolve: resolve as (rows: unknown[]) => void, reject })
      post({ type: 'query', id, what, query })
    })
  }

  return {
    async start() {
      await startWorker()
      timer = setInterval(sendBuffer, flushIntervalMs)
    },

    write(record) {
      if (buffer.length + unconfirmedRecords >= maxPending) {
        dropped++
        if (dropped === 1 || dropped % 10_000 === 0) {
          log.error(
            { dropped },
            'time-series store is failing and its buffer is full: records are being refused',
          )
        }
        lastError = `buffer full: ${dropped} records refused`
        return
      }
      buffer.push(record)
      if (buffer.length >= batchSize) sendBuffer()
    },

    flush() {
      sendBuffer()
      if (unconfirmed.size === 0) return Promise.resolve()
      if (!drained) {
        let resolve = () => {}
        const promise = new Promise<void>((r) => {
          resolve = r
        })
        drained = { promise, resolve }
      }
      return drained.promise
    },

    readings: (q) => ask<StoredReading>('readings', q),
    chartPoints: (q) => ask<StoredChartPoint>('chartPoints', q),
    events: (q) => ask<StoredEvent>('events', q),

    status(): StoreStatus {
      return {
        kind: 'sqlite',
        healthy: lastError === undefined,
        pending: buffer.length + unconfirmedRecords,
        spooled: 0,
        written,
        dropped,
        lastError,
      }
    },

    async stop() {
      if (timer) clearInterval(timer)
      timer = null
      const w = worker
      if (!w) return
      // Give the writer a bounded time to commit what is left; report what could not be.
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 10_000))])
      stopping = true
      if (unconfirmedRecords + buffer.length > 0) {
        log.error(
          { lost: unconfirmedRecords + buffer.length },
          'time-series records could not be written before stopping',
        )
      }
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
      post({ type: 'stop' })
      await exited
      worker = null
    },
  }
}
