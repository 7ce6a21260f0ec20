import type { SQLInputValue } from 'node:sqlite'
import type { Worker } from 'node:worker_threads'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { startThread } from '../threads.ts'
import { addRun, type FlatRuns } from './records-runs.ts'
import type {
  FromRecordsWorker,
  RecordsWorkerOptions,
  ToRecordsWorker,
} from './records-writer-worker.ts'

/**
 * Writes to the records database (SQLite or PostgreSQL) that the ingest path causes (a nonconformance opened, an
 * occurrence added) leave the ingest thread: `run` queues a statement, and a writer thread
 * (records-writer-worker.ts) commits what is queued in one transaction (FULL sync). Group
 * commit: one batch is in flight at a time; what is queued meanwhile goes in the next, so at a
 * high rate many writes share one fsync, and at a low one each waits a single commit. Once
 * someone waits (`whenDurable`, `flush`: a QoS 1 acknowledgement, an API answer) what is queued
 * goes at once; writes nobody waits for go within `unwaitedCommitMs`.
 *
 * A batch is kept until its commit is confirmed: a failed commit, or a writer that dies, gets
 * it sent again (statements must be idempotent: absolute values, inserts that ignore a row
 * already there). Queued writes are bounded (`maxPending`, then refused, counted, logged).
 * Readers on other connections see a write once committed: `flush()` first to read your own.
 */
export interface RecordsWriter {
  start(): Promise<void>
  /** Queues one run of a named statement; runs are committed in the order they were queued. */
  run(statement: string, params: SQLInputValue[]): void
  /** Calls `done` once everything queued so far is committed: what is queued is committed at once. */
  whenDurable(done: () => void): void
  /**
   * Calls `done` once everything queued so far is committed, without hurrying the commit: it
   * rides the next one (within `unwaitedCommitMs`). For what follows a commit but waits on
   * nobody's behalf (the audit trail's head file): a commit at once per call would write every
   * page it changed again, as often as that is called.
   */
  whenCommitted(done: () => void): void
  /** Resolves once everything queued so far is committed. */
  flush(): Promise<void>
  /** `committed`: statement runs; `commits`: the transactions they took. */
  status(): {
    pending: number
    committed: number
    commits: number
    dropped: number
    skipped: number
    lastError: string | undefined
  }
  /** How full the queue is, 0 to 1 (past 1 writes are refused). */
  backlog(): number
  /** Commits what is queued (waiting at most `timeoutMs`), then stops the thread. */
  stop(timeoutMs?: number): Promise<void>
}

export const DEFAULT_MAX_PENDING_RECORDS = 100_000
/**
 * Writes nobody waits for (those of QoS 0 readings, say) are committed within this by default:
 * what the time series' batches wait too (both follow store.commitIntervalMs). A commit writes every
 * page it changed to the WAL, and at a high rate of NCs and alarms a commit per turn wrote about
 * twice the bytes (bench/disk-writes.ts).
 */
export const UNWAITED_COMMIT_MS = 200
const RETRY_MS = 1000

interface Batch {
  runs: FlatRuns
  /** Statement runs in `runs`. */
  count: number
  /** Called once committed; someone waits: the batch is committed at once. */
  waiting: (() => void)[]
  /** Called once committed; nobody waits: the batch goes by the deadline. */
  following: (() => void)[]
}

const emptyBatch = (): Batch => ({ runs: [], count: 0, waiting: [], following: [] })

export function createRecordsWriter(options: {
  /** records.db (SQLite), unless `postgresUrl` is given. */
  path: string
  /** The records in PostgreSQL (store.records: postgres): the statements' `?` become `$n`. */
  postgresUrl?: string | undefined
  statements: Record<string, string>
  /**
   * The audit chain this writer appends to. PostgreSQL: claimed on each of its connections
   * before anything is committed on it (records-writer-worker.ts); SQLite: the data
   * directory's lock does that.
   */
  auditChain?: string | undefined
  log: Logger
  maxPending?: number
  /** Writes nobody waits for are committed within this many ms (UNWAITED_COMMIT_MS). */
  unwaitedCommitMs?: number
  /** Told of each failed commit (the gateway counts them in its health's recent errors). */
  onFailure?: (error: string) => void
}): RecordsWriter {
  const { log } = options
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_RECORDS
  const unwaitedCommitMs = options.unwaitedCommitMs ?? UNWAITED_COMMIT_MS
  const workerData: RecordsWorkerOptions = {
    path: options.path,
    postgresUrl: options.postgresUrl,
    statements: options.statements,
    auditChain: options.auditChain,
  }
  let worker: Worker | null = null
  let stopping = false
  let queued: Batch = emptyBatch()
  let inFlight: { seq: number; batch: Batch } | null = null
  let seq = 0
  let committed = 0
  let commits = 0
  let dropped = 0
  /** Statement runs a constraint refused at commit (left out of their batch). */
  let skipped = 0
  let lastError: string | undefined
  let cutScheduled = false
  /** Writes nobody waits for are committed by this timer; `due`: it went off. */
  let deadline: NodeJS.Timeout | null = null
  let due = false
  /** A writer that died is started again after RETRY_MS: pending until then. */
  let restart: NodeJS.Timeout | null = null

  function post(message: ToRecordsWorker): void {
    worker?.postMessage(message)
  }

  function send(): void {
    if (inFlight || !worker || (queued.count === 0 && queued.waiting.length === 0)) return
    // Writes nobody waits for go by the deadline, many commits' pages in one.
    if (queued.waiting.length === 0 && !due) {
      armDeadline()
      return
    }
    due = false
    if (deadline) clearTimeout(deadline)
    deadline = null
    const batch = queued
    queued = emptyBatch()
    inFlight = { seq: ++seq, batch }
    post({ type: 'write', seq: inFlight.seq, runs: batch.runs })
  }

  function armDeadline(): void {
    if (deadline) return
    deadline = setTimeout(() => {
      deadline = null
      due = true
      send()
    }, unwaitedCommitMs)
  }

  function scheduleCut(): void {
    if (cutScheduled) return
    cutScheduled = true
    setImmediate(() => {
      cutScheduled = false
      send()
    })
  }

  /** `done` once what is queued so far is committed; `waiting` hurries that commit, `following` does not. */
  function afterCommit(list: 'waiting' | 'following', done: () => void): void {
    if (queued.count > 0) {
      queued[list].push(done)
      scheduleCut()
    } else if (inFlight) inFlight.batch[list].push(done)
    else done()
  }

  function resend(): void {
    if (inFlight && worker) post({ type: 'write', seq: inFlight.seq, runs: inFlight.batch.runs })
  }

  function onMessage(message: FromRecordsWorker): void {
    if (message.type === 'committed' && inFlight?.seq === message.seq) {
      const { batch } = inFlight
      inFlight = null
      committed += batch.count - message.skipped.length
      commits++
      lastError = undefined
      if (message.skipped.length > 0) {
        // Runs a constraint refused (one referring to a write the full queue refused, say):
        // left out so that the rest, and every later write, commits.
        skipped += message.skipped.length
        lastError = `${message.skipped.length} record writes refused by the database: ${message.skipped[0]?.error}`
        options.onFailure?.(lastError)
        log.error(
          { skipped: message.skipped.length, first: message.skipped.slice(0, 3) },
          'records batch committed without the writes the database refused',
        )
      }
      for (const done of batch.waiting) done()
      for (const done of batch.following) done()
      send()
    } else if (message.type === 'failed' && inFlight?.seq === message.seq) {
      lastError = message.error
      options.onFailure?.(message.error)
      log.error(
        { error: message.error, ops: inFlight.batch.count },
        'records commit failed; the batch is kept and sent again',
      )
      setTimeout(resend, RETRY_MS).unref()
    }
  }

  function startWorker(): Promise<void> {
    // Few and small allocations: a small young generation keeps its memory down at no cost.
    const w = startThread('records-writer-worker', import.meta.url, {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    })
    worker = w
    const ready = new Promise<void>((resolve, reject) => {
      const first = (message: FromRecordsWorker) => {
        if (message.type === 'ready') resolve()
        else if (message.type === 'open-failed')
          reject(
            message.code
              ? new LinewatchError(message.code, message.error)
              : new Error(message.error),
          )
        else return
        w.off('message', first)
      }
      w.on('message', first)
      w.once('error', reject)
    })
    w.on('message', onMessage)
    w.on('error', (err) => {
      lastError = err.message
      log.error({ err }, 'records writer failed')
    })
    w.on('exit', (code) => {
      if (worker !== w) return
      worker = null
      if (stopping) return
      log.error({ code }, 'records writer exited; starting a new one')
      restart = setTimeout(() => {
        restart = null
        // Stopped meanwhile: no writer is started behind the caller's back (it would claim the
        // audit chain for a gateway that has stopped).
        if (stopping) return
        // The batch in flight goes again; what was queued meanwhile (waited for or not) after it.
        startWorker().then(
          () => {
            resend()
            send()
          },
          (err: unknown) => log.error({ err }, 'records writer could not restart'),
        )
      }, RETRY_MS)
      restart.unref()
    })
    return ready
  }

  const pending = () => queued.count + (inFlight?.batch.count ?? 0)

  const writer: RecordsWriter = {
    async start() {
      stopping = false
      try {
        await startWorker()
      } catch (e) {
        // A writer that could not start is not started again behind the caller's back (one
        // that dies later is: the gateway runs on). Left running, it would claim the audit chain
        // once free, for a gateway that never started.
        stopping = true
        const w = worker
        worker = null
        await w?.terminate()
        throw e
      }
    },

    run(statement, params) {
      if (pending() >= maxPending) {
        dropped++
        if (dropped === 1 || dropped % 10_000 === 0)
          log.error(
            { dropped },
            'records queue full (the records database is failing, or slower than what comes in): refusing',
          )
        lastError = `queue full: ${dropped} record writes refused`
        return
      }
      addRun(queued.runs, statement, params)
      queued.count++
      scheduleCut()
    },

    whenDurable: (done) => afterCommit('waiting', done),
    whenCommitted: (done) => afterCommit('following', done),

    flush: () => new Promise<void>((resolve) => writer.whenDurable(resolve)),

    status: () => ({ pending: pending(), committed, commits, dropped, skipped, lastError }),

    backlog: () => pending() / maxPending,

    async stop(timeoutMs = 10_000) {
      const w = worker
      if (!w) {
        // Between a writer that died and the next (or after a start that failed).
        stopping = true
        if (restart) clearTimeout(restart)
        restart = null
        return
      }
      await Promise.race([writer.flush(), new Promise((r) => setTimeout(r, timeoutMs))])
      stopping = true
      if (deadline) clearTimeout(deadline)
      if (pending() > 0)
        log.error({ lost: pending() }, 'records writes could not be committed before stopping')
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
      post({ type: 'stop' })
      await exited
      worker = null
    },
  }
  return writer
}

/** Calls `done` once every one of `waits` has called back. */
export function whenAll(waits: ((done: () => void) => void)[], done: () => void): void {
  let left = waits.length
  if (left === 0) {
    done()
    return
  }
  for (const wait of waits)
    wait(() => {
      if (--left === 0) done()
    })
}
