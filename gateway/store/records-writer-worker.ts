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
import { type ErrorCode, LinewatchError } from '../errors.ts'
import { openRecords } from './records.ts'
import { type FlatRuns, type RecordOp, runsOf } from './records-runs.ts'
import { transaction } from './sqlite-db.ts'

export type ToRecordsWorker = { type: 'write'; seq: number; runs: FlatRuns } | { type: 'stop' }

export type FromRecordsWorker =
  | { type: 'ready' }
  | { type: 'open-failed'; error: string; code?: ErrorCode }
  | { type: 'committed'; seq: number; skipped: SkippedRun[] }
  | { type: 'failed'; seq: number; error: string }

/** A statement run a constraint refused: left out so that the rest of its batch commits. */
export interface SkippedRun {
  statement: string
  error: string
}

export interface RecordsWorkerOptions {
  /** records.db (SQLite), unless `postgresUrl` is given. */
  path: string
  /** The PostgreSQL records (store.records: postgres). */
  postgresUrl?: string | undefined
  /** The statements batches may run, by name. */
  statements: Record<string, string>
  /** PostgreSQL: the audit chain claimed on every connection before it commits (see below). */
  auditChain?: string | undefined
}

/**
 * Commits a batch whole, or throws having committed nothing. A batch a constraint refuses (a
 * row that refers to one never written, say: the queue refused it while full) would fail at
 * every retry and hold every later write, and every acknowledgement waiting on them, for ever:
 * such a batch is committed without the runs the constraints refuse (each in a savepoint),
 * which are returned. Any other failure (I/O, a lost connection) throws: the batch goes again.
 */
interface Backend {
  commit(ops: RecordOp[]): Promise<SkippedRun[]> | SkippedRun[]
  close(): Promise<void> | void
}

/** SQLite's SQLITE_CONSTRAINT (primary result code 19; node:sqlite gives the extended code). */
const sqliteConstraint = (e: unknown) => ((e as { errcode?: number }).errcode ?? 0) % 256 === 19
/** PostgreSQL's class 23, integrity constraint violation. */
const postgresConstraint = (e: unknown) => /^23/.test((e as { code?: string }).code ?? '')

function sqliteBackend(options: RecordsWorkerOptions): Backend {
  const db = openRecords(options.path)
  const prepared = new Map<string, StatementSync>()
  for (const [name, sql] of Object.entries(options.statements)) prepared.set(name, db.prepare(sql))
  const run = (op: RecordOp) => {
    const statement = prepared.get(op.statement)
    if (!statement) throw new Error(`no records statement "${op.statement}"`)
    statement.run(...op.params)
  }
  return {
    commit(ops) {
      try {
        transaction(db, () => {
          for (const op of ops) run(op)
        })
        return []
      } catch (e) {
        if (!sqliteConstraint(e)) throw e
      }
      const skipped: SkippedRun[] = []
      transaction(db, () => {
        for (const op of ops) {
          db.exec('SAVEPOINT run')
          try {
            run(op)
          } catch (e) {
            if (!sqliteConstraint(e)) throw e
            db.exec('ROLLBACK TO run')
            skipped.push({ statement: op.statement, error: (e as Error).message })
          }
          db.exec('RELEASE run')
        }
      })
      return skipped
    },
    close: () => db.close(),
  }
}

async function postgresBackend(url: string, options: RecordsWorkerOptions): Promise<Backend> {
  // Loaded only here: a gateway with its records in SQLite does not load pg in this thread.
  const { default: pg } = await import('pg')
  const { AUDIT_CHAIN_LOCK, CLAIM_AUDIT_CHAIN, RECORDS_TYPES, toPostgresPlaceholders } =
    await import('./postgres-records.ts')
  const texts = new Map<string, string>()
  for (const [name, sql] of Object.entries(options.statements))
    texts.set(name, toPostgresPlaceholders(sql))
  let client: Client | null = null
  /** The server's process of the last connection: after a loss it may still hold the claim. */
  let lastBackend: number | null = null
  async function connection(): Promise<Client> {
    if (client) return client
    // Keep-alive: a connection lost without a word is noticed (and its claim freed) in minutes.
    const c = new pg.Client({ connectionString: url, types: RECORDS_TYPES, keepAlive: true })
    // A lost connection is opened again at the next batch (the failed one is sent again).
    const lost = () => {
      if (client === c) client = null
    }
    c.on('error', lost)
    c.on('end', lost)
    await c.connect()
    try {
      if (options.auditChain !== undefined) await claimChain(c, options.auditChain)
    } catch (e) {
      await c.end().catch(() => {})
      throw e
    }
    lastBackend = ((await c.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid
    client = c
    return c
  }
  /**
   * One appender per audit chain: two gateways appending to one chain would number their
   * entries alike, and the second insert of a number is dropped as a repeat (the statements
   * are idempotent): a lost entry. So every connection that commits claims the chain with a
   * session lock, held while it lives, before its first batch: a connection opened again after
   * a loss claims it again, and while another gateway holds it this writer commits nothing (its
   * batches wait and are sent again, the error in its status). Our own earlier connection that
   * the server still counts as alive (lost on our side only) is ended first.
   */
  async function claimChain(c: Client, chain: string): Promise<void> {
    const claim = async () =>
      (await c.query(CLAIM_AUDIT_CHAIN, [AUDIT_CHAIN_LOCK, chain])).rows[0] as {
        got: number
        holder: number | null
      }
    let answer = await claim()
    // A session that has just closed (a gateway or CLI that stopped a moment ago) keeps its
    // locks until the server has ended it: a few tries over up to 3 s.
    const ours = () => lastBackend !== null && answer.holder === lastBackend
    for (let tries = 0; answer.got !== 1 && !ours() && tries < 30; tries++) {
      await new Promise((r) => setTimeout(r, 100))
      answer = await claim()
    }
    if (answer.got !== 1 && ours()) {
      // Waits (up to 5 s) until it is gone and its locks with it.
      await c.query('SELECT pg_terminate_backend($1, 5000)', [lastBackend])
      answer = await claim()
    }
    if (answer.got !== 1)
      throw new LinewatchError(
        'LW_ERR_DATA_DIR_LOCKED',
        `another linewatch gateway appends to the audit chain "${chain}" in this PostgreSQL database: give each gateway sharing the database its own cluster.gateway`,
      )
  }
  await connection()
  return {
    async commit(ops) {
      const c = await connection()
      const run = (op: RecordOp) => {
        const text = texts.get(op.statement)
        if (text === undefined) throw new Error(`no records statement "${op.statement}"`)
        return c.query(text, op.params as unknown[])
      }
      /** One transaction; `skipping`: each run in a savepoint, those a constraint refuses left out. */
      const attempt = async (skipping: SkippedRun[] | null) => {
        await c.query('BEGIN')
        try {
          for (const op of ops) {
            if (skipping === null) {
              await run(op)
              continue
            }
            await c.query('SAVEPOINT run')
            try {
              await run(op)
            } catch (e) {
              if (!postgresConstraint(e)) throw e
              await c.query('ROLLBACK TO SAVEPOINT run')
              skipping.push({ statement: op.statement, error: (e as Error).message })
            }
            await c.query('RELEASE SAVEPOINT run')
          }
          await c.query('COMMIT')
        } catch (e) {
          await c.query('ROLLBACK').catch(() => {})
          throw e
        }
      }
      try {
        await attempt(null)
        return []
      } catch (e) {
        if (!postgresConstraint(e)) throw e
      }
      const skipped: SkippedRun[] = []
      await attempt(skipped)
      return skipped
    },
    async close() {
      const c = client
      client = null
      // The chain's claim goes before the connection does: the server frees a closed
      // session's locks a moment later, and the next gateway (or CLI) may be starting now.
      await c?.query('SELECT pg_advisory_unlock_all()').catch(() => {})
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
            const skipped = await backend.commit(runsOf(message.runs))
            post({ type: 'committed', seq: message.seq, skipped })
          } catch (e) {
            post({ type: 'failed', seq: message.seq, error: (e as Error).message })
          }
        })
      })
    },
    (e: unknown) =>
      post({
        type: 'open-failed',
        error: (e as Error).message,
        ...(e instanceof LinewatchError ? { code: e.code } : {}),
      }),
  )
}
