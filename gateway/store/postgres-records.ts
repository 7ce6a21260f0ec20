import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  type Worker,
} from 'node:worker_threads'
import pg from 'pg'
import { startThread } from '../threads.ts'
import type { RecordsDb, RecordsParam, RecordsRow, RecordsStatement } from './records-db.ts'

/**
 * The records in PostgreSQL, synchronous from the caller's view like node:sqlite, so that the
 * services read them the same way whichever adapter is behind (records-db.ts).
 *
 * Why synchronous: the records are read at start and on API requests and quality acts, never
 * on the ingest hot path (alarms and NCs are judged from memory; their writes go through the
 * records writer thread, asynchronously). A read blocks the judging thread for one round trip
 * to the database, as a node:sqlite read blocks it for a page read. Making every service
 * asynchronous for the sake of one adapter would change their shape for no gain at these rates.
 *
 * How: a worker thread (postgres-records-worker.ts) owns a `pg` connection. The caller posts
 * {sql, params} on a MessageChannel and blocks in Atomics.wait on a SharedArrayBuffer until the
 * worker has answered, then takes the answer with receiveMessageOnPort (synckit's pattern). No
 * answer within `timeoutMs` (30 s) throws instead of hanging. A lost connection is reconnected
 * at the next query (one lost inside a transaction fails that transaction's statements until
 * its ROLLBACK). A thread that dies is replaced at the next call, its transaction treated as
 * a lost connection's. The thread beats (a counter it moves every BEAT_MS): a call waiting on a
 * thread whose beat has stood still for STALL_MS gives up then, not at its timeout — the
 * thread died (an answer beyond its memory, `maxMemoryMb`, ends it) or hangs, and the judging
 * thread, which waits for the answer, would otherwise stand still the whole timeout.
 */

export const DEFAULT_QUERY_TIMEOUT_MS = 30_000
/** How often the thread beats. */
export const BEAT_MS = 250
/** A beat standing still this long: the thread has stopped. */
const STALL_MS = 5_000
/** The thread's heap: it holds one answer at a time (records reads are small). */
export const DEFAULT_READER_MEMORY_MB = 256

/** The first key of the session locks on PostgreSQL's audit chains ("audt"). */
export const AUDIT_CHAIN_LOCK = 0x61756474
/**
 * Claims an audit chain (`$1` AUDIT_CHAIN_LOCK, `$2` the chain) for the session: `got` 1 or 0,
 * and, when refused, the server process holding it (`holder`).
 */
export const CLAIM_AUDIT_CHAIN = `
  SELECT pg_try_advisory_lock($1, hashtext($2))::int AS got,
    (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
       AND classid::bigint = $1 AND objid::bigint = (hashtext($2)::bigint & 4294967295)
       AND pid <> pg_backend_pid() LIMIT 1) AS holder`

/** Whether SQL ends (COMMIT, ROLLBACK, END) or begins a transaction. */
export const ends = (sql: string) => /^\s*(COMMIT|ROLLBACK|END)\b/i.test(sql)
export const begins = (sql: string) => /^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(sql)

/** One request to the worker: a query with parameters, or SQL run as it is (`exec`). */
export type ToPostgresWorker =
  | { type: 'query'; id: number; sql: string; params: RecordsParam[] }
  | { type: 'exec'; id: number; sql: string }
  | { type: 'close'; id: number }

export type FromPostgresWorker =
  | { id: number; ok: true; rows: RecordsRow[]; changes: number }
  | { id: number; ok: false; message: string; code: string | undefined }

export interface PostgresWorkerData {
  url: string
  port: MessagePort
  /**
   * Int32 [0]: answers given so far (the worker adds one and notifies after each); [1]: its
   * beats, one every BEAT_MS.
   */
  signal: SharedArrayBuffer
  timeoutMs: number
}

/**
 * `?` placeholders to `$1, $2, …`, leaving alone a `?` in a quoted string or identifier, a
 * comment, or a dollar-quoted body.
 */
export function toPostgresPlaceholders(sql: string): string {
  let out = ''
  let n = 0
  let i = 0
  while (i < sql.length) {
    const c = sql[i] as string
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c)
      out += sql.slice(i, end)
      i = end
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      const stop = end < 0 ? sql.length : end
      out += sql.slice(i, stop)
      i = stop
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      const stop = end < 0 ? sql.length : end + 2
      out += sql.slice(i, stop)
      i = stop
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(sql.slice(i))) {
      const tag = (/^\$[A-Za-z_]*\$/.exec(sql.slice(i)) as RegExpExecArray)[0]
      const end = sql.indexOf(tag, i + tag.length)
      const stop = end < 0 ? sql.length : end + tag.length
      out += sql.slice(i, stop)
      i = stop
    } else if (c === '?') {
      out += `$${++n}`
      i++
    } else {
      out += c
      i++
    }
  }
  return out
}

/** Index after the quote closing the one at `start` (a doubled quote is part of the text). */
function closingQuote(sql: string, start: number, quote: string): number {
  let i = start + 1
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2
      else return i + 1
    } else i++
  }
  return sql.length
}

/**
 * Values as node:sqlite gives them: int8 (counts, sums, BIGINT columns) and numeric as JS
 * numbers (times in ms and ids stay far below 2^53), bytea as bytes (a Buffer, which reaches
 * the caller as a Uint8Array), everything else as pg parses it.
 */
const INT8 = 20
const NUMERIC = 1700
export const RECORDS_TYPES = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8 || oid === NUMERIC) return (text: string) => Number(text)
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads take the format as a literal
    return pg.types.getTypeParser(oid, format as any)
  },
} as pg.CustomTypesConfig

export function openPostgresRecords(options: {
  url: string
  timeoutMs?: number
  /** The reader thread's heap (old generation), MiB; DEFAULT_READER_MEMORY_MB. */
  maxMemoryMb?: number
}): RecordsDb {
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  /** The thread and the channel to it; another one once a thread died. */
  let thread: { worker: Worker; port: MessagePort; answered: Int32Array; dead: boolean }
  function startReader(): void {
    const signal = new SharedArrayBuffer(8)
    const { port1, port2 } = new MessageChannel()
    const workerData: PostgresWorkerData = { url: options.url, port: port2, signal, timeoutMs }
    const worker = startThread('postgres-records-worker', import.meta.url, {
      workerData,
      transferList: [port2 as never],
      resourceLimits: {
        maxYoungGenerationSizeMb: 8,
        maxOldGenerationSizeMb: options.maxMemoryMb ?? DEFAULT_READER_MEMORY_MB,
      },
    })
    const started = { worker, port: port1, answered: new Int32Array(signal), dead: false }
    // Seen between calls (the caller blocks in Atomics.wait, not on the event loop): the next
    // call starts another thread. One that dies while a call waits stops beating (ask).
    worker.on('exit', () => {
      started.dead = true
    })
    // Out of memory, or a fault: the call waiting saw it stop beating; unheard, the error would
    // end the process.
    worker.on('error', () => {
      started.dead = true
    })
    // Neither keeps the process alive.
    worker.unref()
    port1.unref()
    thread = started
  }
  startReader()
  let nextId = 0
  let closed = false
  /** A transaction began (its BEGIN answered) and has not ended. */
  let inTransaction = false
  /** Its thread died inside a transaction: refused until its ROLLBACK, as a lost connection. */
  let transactionLost = false

  function call(message: ToPostgresWorker, what: string): FromPostgresWorker {
    if (closed) throw new Error('the PostgreSQL records connection is closed')
    if (thread.dead) {
      thread.port.close()
      startReader()
      if (inTransaction) transactionLost = true
      inTransaction = false
    }
    const sql = message.type === 'close' ? '' : message.sql
    if (transactionLost) {
      if (ends(sql)) {
        transactionLost = false
        return { id: message.id, ok: true, rows: [], changes: 0 }
      }
      return {
        id: message.id,
        ok: false,
        message: 'the PostgreSQL connection was lost inside a transaction: it was rolled back',
        code: undefined,
      }
    }
    const answer = ask(message, what)
    if (answer.ok && begins(sql)) inTransaction = true
    else if (ends(sql)) inTransaction = false
    return answer
  }

  function ask(message: ToPostgresWorker, what: string): FromPostgresWorker {
    const { port, answered } = thread
    let seen = Atomics.load(answered, 0)
    port.postMessage(message)
    const deadline = Date.now() + timeoutMs
    let beat = Atomics.load(answered, 1)
    let beatSeenAt = Date.now()
    for (;;) {
      // Answers to calls that timed out earlier may come first: skip them.
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const answer = m.message as FromPostgresWorker
        if (answer.id === message.id) return answer
      }
      const at = Date.now()
      if (at >= deadline)
        throw new Error(
          `PostgreSQL (records) did not answer within ${timeoutMs / 1000} s: ${what.slice(0, 120)}`,
        )
      if (Atomics.load(answered, 1) !== beat) {
        beat = Atomics.load(answered, 1)
        beatSeenAt = at
      } else if (at - beatSeenAt >= STALL_MS) {
        // Dead or hung: the next call starts another thread (and ends this one, if it hangs).
        thread.dead = true
        void thread.worker.terminate()
        throw new Error(
          `the PostgreSQL records thread stopped while answering (out of memory, or a fault): ${what.slice(0, 120)}`,
        )
      }
      // Woken by an answer, or after a beat's time to look at the beat again.
      if (Atomics.wait(answered, 0, seen, Math.min(deadline - at, 2 * BEAT_MS)) !== 'timed-out')
        seen = Atomics.load(answered, 0)
    }
  }

  function rowsOf(answer: FromPostgresWorker): { rows: RecordsRow[]; changes: number } {
    if (answer.ok) return answer
    // pg's own timeout (the worker's) and ours have the same length: whichever came first,
    // the same words.
    const message =
      answer.message === 'Query read timeout'
        ? `PostgreSQL (records) did not answer within ${timeoutMs / 1000} s`
        : answer.message
    const err = new Error(message) as Error & { code?: string }
    if (answer.code) err.code = answer.code
    throw err
  }

  function query(sql: string, params: RecordsParam[]) {
    return rowsOf(call({ type: 'query', id: ++nextId, sql, params }, sql))
  }

  return {
    dialect: 'postgres',
    prepare(sql): RecordsStatement {
      const text = toPostgresPlaceholders(sql)
      return {
        get: (...params) => query(text, params).rows[0],
        all: (...params) => query(text, params).rows,
        run: (...params) => ({ changes: query(text, params).changes }),
        iterate: (...params) => query(text, params).rows,
      }
    },
    exec(sql) {
      rowsOf(call({ type: 'exec', id: ++nextId, sql }, sql))
    },
    close() {
      if (closed) return
      try {
        if (!thread.dead) ask({ type: 'close', id: ++nextId }, 'close')
      } catch {}
      closed = true
      thread.port.close()
      void thread.worker.terminate()
    },
  }
}
