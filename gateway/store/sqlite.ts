import { randomUUID } from 'node:crypto'
import type { Worker } from 'node:worker_threads'
import { type ErrorCode, LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { startThread } from '../threads.ts'
import { type ColumnBatch, ColumnBuilder, Names } from './columns.ts'
import type { FromWorker, Recovered, ToWorker, WorkerOptions } from './sqlite-worker.ts'
import type {
  ChartSnapshot,
  Delivery,
  JournaledStore,
  RangeQuery,
  SeriesRecord,
  StoredChartPoint,
  StoredEvent,
  StoredReading,
  StoreStatus,
} from './types.ts'

/**
 * The embedded time-series store: one SQLite file, so `npm start` needs no server. Records are
 * batched on the ingest thread and committed by a writer thread (sqlite-worker.ts). A batch is
 * kept until the writer confirms its commit: a failed commit, or a writer that dies, gets it
 * sent again, so nothing is lost while memory lasts (`maxPending`, then refused and counted).
 *
 * Group commit: `whenDurable` callbacks wait on the batch being formed; while one waits, the
 * batch is cut as soon as the writer is idle (not at the next interval), so at a high rate
 * many acknowledgements share one fsync, and at a low one each waits a single commit.
 */
export interface SqliteStoreOptions {
  path: string
  log: Logger
  /** Post a batch when this many records wait, or every `flushIntervalMs`. */
  batchSize?: number
  flushIntervalMs?: number
  maxPending?: number
  journalOnly?: boolean
  retention?: { maxAgeDays: number; maxBytes: number }
}

export type SqliteStore = JournaledStore

const RETRY_MS = 1000

interface Batch {
  /** Snapshots and events (readings, chart points and deliveries go to the column builder). */
  records: SeriesRecord[]
  waiting: (() => void)[]
  checkpoint: boolean
  /** How many records (of every kind). */
  size: number
  /** The columns, built when the batch is cut: sent again as they are after a failed commit. */
  posted: ColumnBatch | null
}

export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { log } = options
  const flushIntervalMs = options.flushIntervalMs ?? 200
  const maxPending = options.maxPending ?? 2_000_000
  // A batch is a few rows whatever its size (block-store.ts): large ones cost the writer little.
  // It is cut well before the bound: a small bound still leaves room for several.
  const batchSize = Math.min(options.batchSize ?? 50_000, Math.ceil(maxPending / 8))
  const workerOptions: WorkerOptions = {
    path: options.path,
    journalOnly: options.journalOnly ?? false,
    retention: options.retention ?? { maxAgeDays: 90, maxBytes: 10 * 1024 ** 3 },
    // Batches are numbered from 1 at each start: this tells this start's numbers apart.
    sender: randomUUID(),
  }

  let worker: Worker | null = null
  const names = new Names()
  /** One builder for every batch: a batch's columns are built (copied out) when it is cut. */
  const columns = new ColumnBuilder(names)
  const newBatch = (): Batch => ({
    records: [],
    waiting: [],
    checkpoint: false,
    size: 0,
    posted: null,
  })
  let buffer: Batch = newBatch()
  /** Batches posted and not yet committed, by sequence number (oldest first). */
  const unconfirmed = new Map<number, Batch>()
  let unconfirmedRecords = 0
  let seq = 0
  let written = 0
  let dropped = 0
  let retentionDeleted = 0
  let lastError: string | undefined
  let timer: NodeJS.Timeout | null = null
  let cutScheduled = false
  /** Batches whose commit failed, until they commit. */
  const failing = new Set<number>()
  let stopping = false
  let nextQuery = 0
  /** Queries asked and not answered, with what was asked (asked again of a writer that replaces one that died). */
  const queries = new Map<
    number,
    { resolve: (rows: unknown) => void; reject: (e: Error) => void; message: ToWorker }
  >()
  /** While a writer that died is being replaced: queries wait for the next one. */
  let replacing: Promise<void> | null = null
  /** Resolved when no batch is unconfirmed. */
  let drained: { promise: Promise<void>; resolve: () => void } | null = null

  function post(message: ToWorker): void {
    worker?.postMessage(message)
  }

  function postBatch(s: number, batch: Batch): void {
    post({
      type: 'write',
      seq: s,
      records: batch.records,
      columns: batch.posted ?? undefined,
      checkpoint: batch.checkpoint,
    })
  }

  function sendBuffer(checkpoint = false): void {
    // Batches commit in order: none goes while one that failed waits to be sent again (a
    // snapshot must never be on disk before the readings it covers).
    if ((buffer.size === 0 && !checkpoint) || !worker || failing.size > 0) return
    const batch = buffer
    batch.checkpoint ||= checkpoint
    batch.posted = columns.build()
    buffer = newBatch()
    seq++
    unconfirmed.set(seq, batch)
    unconfirmedRecords += batch.size
    postBatch(seq, batch)
  }

  /**
   * A full batch is cut once the writes of this turn are in, not in the middle of them: what one
   * message wrote (its reading and its delivery) is never split over two commits, one of which a
   * crash could lose (a resend would then be taken for a message already stored).
   */
  let fullCutScheduled = false
  function scheduleFullCut(): void {
    if (fullCutScheduled) return
    fullCutScheduled = true
    setImmediate(() => {
      fullCutScheduled = false
      if (buffer.size >= batchSize) sendBuffer()
    })
  }

  /** Acknowledgements wait: cut the batch once the writer has nothing in flight. */
  function scheduleCut(): void {
    if (cutScheduled) return
    cutScheduled = true
    setImmediate(() => {
      cutScheduled = false
      if (unconfirmed.size === 0) sendBuffer()
    })
  }

  function settleDrained(): void {
    if (unconfirmed.size === 0 && buffer.size === 0 && drained) {
      drained.resolve()
      drained = null
    }
  }

  function onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'committed': {
        failing.delete(message.seq)
        const batch = unconfirmed.get(message.seq)
        unconfirmed.delete(message.seq)
        if (batch) {
          unconfirmedRecords -= batch.size
          written += batch.size
          for (const done of batch.waiting) done()
        }
        lastError = undefined
        if (unconfirmed.size === 0 && buffer.waiting.length > 0) sendBuffer()
        settleDrained()
        break
      }
      case 'failed': {
        lastError = message.error
        log.error(
          { error: message.error, unconfirmed: unconfirmedRecords },
          'time-series commit failed; the batch is kept and sent again',
        )
        if (unconfirmed.has(message.seq)) {
          failing.add(message.seq)
          setTimeout(() => resend(message.seq), RETRY_MS).unref()
        }
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
      case 'retention':
        retentionDeleted += message.deleted
        log.info(
          { deleted: message.deleted, bytes: message.bytes },
          'time-series retention deleted old rows',
        )
        break
      case 'retention-failed':
        log.error({ error: message.error }, 'time-series retention failed; it runs again later')
        break
      case 'ready':
      case 'open-failed':
      case 'stopped':
        break
    }
  }

  function resend(s: number): void {
    const batch = unconfirmed.get(s)
    if (batch && worker) postBatch(s, batch)
  }

  function startWorker(): Promise<void> {
    // Its allocations are typed arrays (off the heap) and short-lived blocks: a small young
    // generation (V8 would grow it to 64 MiB per semi-space) keeps its memory down at no cost.
    const w = startThread('sqlite-worker', import.meta.url, {
      workerData: workerOptions,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    })
    worker = w
    const opened = new Promise<void>((resolve, reject) => {
      const first = (message: FromWorker) => {
        if (message.type === 'ready') resolve()
        else if (message.type === 'open-failed') {
          const code = message.code as ErrorCode | undefined
          reject(code ? new LinewatchError(code, message.error) : new Error(message.error))
        } else return
        w.off('message', first)
      }
      w.on('message', first)
      w.once('error', reject)
    })
    w.on('message', onMessage)
    w.on('error', (err) => {
      lastError = err.message
      log.error({ err }, 'time-series writer failed')
    })
    w.on('exit', (code) => {
      if (worker !== w) return
      worker = null
      const refuseQueries = (why: string) => {
        for (const q of queries.values()) q.reject(new Error(why))
        queries.clear()
      }
      if (stopping) {
        refuseQueries('the time-series writer stopped')
        return
      }
      // An unexpected exit: a new writer takes over and every unconfirmed batch goes again.
      // Queries, which only read, wait for it: those in flight are asked again.
      log.error(
        { code, unconfirmed: unconfirmedRecords },
        'time-series writer exited; starting a new one',
      )
      replacing = new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          if (stopping) {
            replacing = null
            refuseQueries('the time-series writer stopped')
            reject(new Error('the time-series store stopped'))
            return
          }
          startWorker().then(
            () => {
              // A new writer knows no characteristic names: all of them go before the batches.
              post({ type: 'names', ...names.all() })
              for (const s of unconfirmed.keys()) resend(s)
              for (const q of queries.values()) post(q.message)
              replacing = null
              resolve()
            },
            (err: unknown) => {
              log.error({ err }, 'time-series writer could not restart')
              replacing = null
              refuseQueries('the time-series writer could not restart')
              reject(err)
            },
          )
        }, RETRY_MS).unref()
      })
      // Whoever waits on it hears of a failure; nobody waiting is no unhandled rejection.
      replacing.catch(() => {})
    })
    return opened.then(
      () => undefined,
      async (err: unknown) => {
        stopping = true
        await w.terminate()
        throw err
      },
    )
  }

  function ask<T>(message: (id: number) => ToWorker): Promise<T> {
    sendBuffer() // a query sees everything written before it
    if (!worker) {
      if (replacing && !stopping) return replacing.then(() => ask<T>(message))
      return Promise.reject(new Error('the time-series store is not running'))
    }
    const id = ++nextQuery
    const asked = message(id)
    return new Promise<T>((resolve, reject) => {
      queries.set(id, { resolve: resolve as (rows: unknown) => void, reject, message: asked })
      post(asked)
    })
  }
  const range = <T>(what: 'readings' | 'chartPoints' | 'events', query: RangeQuery) =>
    ask<T[]>((id) => ({ type: 'query', id, what, query }))
  let recovered: Promise<Recovered> | null = null
  const recover = () => {
    recovered ??= ask<Recovered>((id) => ({ type: 'recover', id }))
    return recovered
  }

  return {
    async start() {
      await startWorker()
      timer = setInterval(() => {
        if (buffer.size > 0) sendBuffer()
        // A burst long over: the columns give back what it grew them to.
        columns.settle(Date.now())
      }, flushIntervalMs)
    },

    write(record) {
      if (buffer.size + unconfirmedRecords >= maxPending) {
        dropped++
        if (dropped === 1 || dropped % 10_000 === 0) {
          log.error(
            { dropped },
            'time-series store buffer full (the store is failing, or slower than what comes in): records are being refused',
          )
        }
        lastError = `buffer full: ${dropped} records refused`
        return
      }
      const b = buffer
      if (record.kind === 'reading') {
        columns.reading(
          record.characteristic,
          record.ts,
          record.value,
          record.seq,
          record.size,
          record.key,
          record.received,
        )
      } else if (record.kind === 'chart') columns.chart(record.characteristic, record.point)
      else if (record.kind === 'delivery') columns.delivery(record.delivery)
      else b.records.push(record)
      if (++b.size >= batchSize) scheduleFullCut()
    },

    whenDurable(done) {
      if (buffer.size > 0) {
        buffer.waiting.push(done)
        scheduleCut()
        return
      }
      // Nothing is being formed: wait on the latest batch in flight, or nothing at all.
      let last: Batch | undefined
      for (const b of unconfirmed.values()) last = b
      if (last) last.waiting.push(done)
      else done()
    },

    checkpoint() {
      sendBuffer(true)
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

    readings: (q) => range<StoredReading>('readings', q),
    chartPoints: (q) => range<StoredChartPoint>('chartPoints', q),
    events: (q) => range<StoredEvent>('events', q),

    async snapshots(): Promise<ChartSnapshot[]> {
      return (await recover()).snapshots
    },
    deliveries: () => ask<Delivery[]>((id) => ({ type: 'deliveries', id })),
    async readingsAfter(characteristic, after) {
      const list = (await recover()).readings[characteristic] ?? []
      return list.filter((r) => r.seq > after)
    },

    backlog: () => (buffer.size + unconfirmedRecords) / maxPending,

    status(): StoreStatus {
      return {
        kind: 'sqlite',
        healthy: lastError === undefined,
        pending: buffer.size + unconfirmedRecords,
        spooled: 0,
        written,
        dropped,
        retentionDeleted,
        lastError,
      }
    },

    async stop() {
      if (timer) clearInterval(timer)
      timer = null
      const w = worker
      if (!w) {
        // None started, or one that died is being replaced: none is started after this.
        stopping = true
        return
      }
      // Give the writer a bounded time to commit what is left; report what could not be.
      // Unref'd: a short-lived process (the CLI) does not wait out the bound once flushed.
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 10_000).unref())])
      stopping = true
      if (unconfirmedRecords + buffer.size > 0) {
        log.error(
          { lost: unconfirmedRecords + buffer.size },
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
