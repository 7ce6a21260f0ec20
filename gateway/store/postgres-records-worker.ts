/**
 * The thread behind the synchronous PostgreSQL records (postgres-records.ts): it owns one `pg`
 * connection, runs each request in the order received, posts the answer and wakes the caller
 * (Atomics.notify). The connection is opened at the first request and again after it is lost;
 * one lost inside a transaction makes the statements up to its ROLLBACK fail, rather than run
 * outside the transaction on the new connection.
 */
import { workerData } from 'node:worker_threads'
import pg from 'pg'
import {
  BEAT_MS,
  begins,
  ends,
  type FromPostgresWorker,
  type PostgresWorkerData,
  RECORDS_TYPES,
  type ToPostgresWorker,
} from './postgres-records.ts'

const { url, port, signal, timeoutMs } = workerData as PostgresWorkerData
const answered = new Int32Array(signal)
let client: pg.Client | null = null
/** A transaction began on the connection (BEGIN … COMMIT/ROLLBACK). */
let inTransaction = false
/** The connection was lost inside a transaction: refuse until its ROLLBACK. */
let transactionLost = false
let queue = Promise.resolve()

// Alive: the caller waiting on an answer watches this move (postgres-records.ts, ask).
setInterval(() => Atomics.add(answered, 1, 1), BEAT_MS).unref()

async function connection(): Promise<pg.Client> {
  if (client) return client
  const c = new pg.Client({
    connectionString: url,
    types: RECORDS_TYPES,
    query_timeout: timeoutMs,
    connectionTimeoutMillis: timeoutMs,
  })
  const lost = () => {
    if (client !== c) return
    client = null
    if (inTransaction) transactionLost = true
    inTransaction = false
    c.end().catch(() => {})
  }
  c.on('error', lost)
  c.on('end', lost)
  await c.connect()
  client = c
  return c
}

async function answer(message: ToPostgresWorker): Promise<FromPostgresWorker> {
  const { id } = message
  try {
    if (message.type === 'close') {
      const c = client
      client = null
      await c?.end()
      return { id, ok: true, rows: [], changes: 0 }
    }
    if (transactionLost) {
      if (ends(message.sql)) {
        transactionLost = false
        return { id, ok: true, rows: [], changes: 0 }
      }
      throw new Error('the PostgreSQL connection was lost inside a transaction: it was rolled back')
    }
    const c = await connection()
    const result =
      message.type === 'exec'
        ? await c.query(message.sql)
        : await c.query(message.sql, message.params as unknown[])
    if (begins(message.sql)) inTransaction = true
    else if (ends(message.sql)) inTransaction = false
    // exec with several statements gives one result per statement: the last one stands.
    const last = Array.isArray(result) ? result[result.length - 1] : result
    return { id, ok: true, rows: last?.rows ?? [], changes: last?.rowCount ?? 0 }
  } catch (e) {
    if (message.type !== 'close' && ends(message.sql)) inTransaction = false
    const err = e as Error & { code?: string }
    return { id, ok: false, message: err.message, code: err.code }
  }
}

port.on('message', (message: ToPostgresWorker) => {
  queue = queue.then(async () => {
    port.postMessage(await answer(message))
    Atomics.add(answered, 0, 1)
    Atomics.notify(answered, 0)
    if (message.type === 'close') port.close()
  })
})
