/**
 * The records writer's thread (see records-writer.ts): it commits each batch of statement runs
 * it is sent in one transaction on its own connection and says so; a batch that fails is
 * rolled back whole and reported, so the sender can send it again. SQLite: records.db (WAL,
 * FULL sync). PostgreSQL: BEGIN, the statements, COMMIT on a `pg` connection, reopened at the
 * next batch when lost; the statements' `?` become `$n`.
 */
import type { StatementSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'
import type { Client } from 'pg'
import { openRecords } from './records.ts'
import { type FlatRuns, type RecordOp, runsOf } from './records-runs.ts'
import { transaction } from './sqlite-db.ts'

export type ToRecordsWorker = { type: 'write'; seq: number; runs: FlatRuns } | { type: 'stop' }

export type FromRecordsWorker =
  | { type: 'ready' }
  | { type: 'open-failed'; error: string }
  | { type: 'committed'; seq: number }
  | { type: 'failed'; seq: number; error: string }

export interface RecordsWorkerOptions {
  /** records.db (SQLite), unless `postgresUrl` is given. */
  path: string
  /** The PostgreSQL records (store.records: postgres). */
  postgresUrl?: string | undefined
  /** The statements batches may run, by name. */
  statements: Record<string, string>
}

/** Commits a batch whole, or throws having committed nothing. */
interface Backend {
  commit(ops: RecordOp[]): Promise<void> | void
  close(): Promise<void> | void
}

function sqliteBackend(options: RecordsWorkerOptions): Backend {
  const db = openRecords(options.path)
  const prepared = new Map<string, StatementSync>()
  for (const [name, sql] of Object.entries(options.statements)) prepared.set(name, db.prepare(sql))
  return {
    commit(ops) {
      transaction(db, () => {
        for (const op of ops) {
          const statement = prepared.get(op.statement)
          if (!statement) throw new Error(`no records statement "${op.statement}"`)
          statement.run(...op.params)
        }
      })
    },
    close: () => db.close(),
  }
}

async function postgresBackend(url: string, options: RecordsWorkerOptions): Promise<Backend> {
  // Loaded only here: a gateway with its records in SQLite does not load pg in this thread.
  const { default: pg } = await import('pg')
  const { RECORDS_TYPES, toPostgresPlaceholders } = await import('./postgres-records.ts')
  const texts = new Map<string, string>()
  for (const [name, sql] of Object.entries(options.statements))
    texts.set(name, toPostgresPlaceholders(sql))
  let client: Client | null = null
  async function connection(): Promise<Client> {
    if (client) return client
    const c = new pg.Client({ connectionString: url, types: RECORDS_TYPES })
    // A lost connection is opened again at the next batch (the failed one is sent again).
    const lost = () => {
      if (client === c) client = null
    }
    c.on('error', lost)
    c.on('end', lost)
    await c.connect()
    client = c
    return c
  }
  await connection()
  return {
    async commit(ops) {
      const c = await connection()
      await c.query('BEGIN')
      try {
        for (const op of ops) {
          const text = texts.get(op.statement)
          if (text === undefined) throw new Error(`no records statement "${op.statement}"`)
          await c.query(text, op.params as unknown[])
        }
        await c.query('COMMIT')
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {})
        throw e
      }
    },
    async close() {
      const c = client
      client = null
      await c?.end()
    },
  }
}

if (parentPort) {
  const port = parentPort
  const options = workerData as RecordsWorkerOptions
  const post = (m: FromRecordsWorker) => port.postMessage(m)
  const opened = options.postgresUrl
    ? postgresBackend(options.postgresUrl, options)
    : Promise.resolve().then(() => sqliteBackend(options))
  opened.then(
    (backend) => {
      post({ type: 'ready' })
      // One batch at a time, in the order sent (the sender keeps one in flight anyway).
      let queue = Promise.resolve()
      port.on('message', (message: ToRecordsWorker) => {
        queue = queue.then(async () => {
          if (message.type === 'stop') {
            await Promise.resolve(backend.close()).catch(() => {})
            port.close()
            return
          }
          try {
            await backend.commit(runsOf(message.runs))
            post({ type: 'committed', seq: message.seq })
          } catch (e) {
            post({ type: 'failed', seq: message.seq, error: (e as Error).message })
          }
        })
      })
    },
    (e: unknown) => post({ type: 'open-failed', error: (e as Error).message }),
  )
}
