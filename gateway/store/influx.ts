/**
 * InfluxDB time-series store. Writes line protocol (precision ms) to `/write`, the endpoint
 * InfluxDB 1.x, 2.x (v1 compatibility API) and 3 Core all accept, and reads with InfluxQL on
 * `/query`. The client library gives the HTTP transport and auth; durability is ours:
 *
 * - records are encoded as they arrive and batched (`batchSize` lines or `flushIntervalMs`),
 *   one request in flight at a time;
 * - `whenDurable` (group commit): a callback waits on the batch being gathered, which is then
 *   cut at once (on `setImmediate`) rather than at the interval, or, while a request (or a spool
 *   write) is in flight, as soon as it ends, so that every message arriving meanwhile shares the
 *   next write. Callbacks are called in order once their batch and every earlier one is durable:
 *   answered 2xx by InfluxDB, appended to the spool and fsync'd, or refused for its content
 *   (kept in rejected.lp). A request slower than SLOW_FLIGHT_MS with callbacks waiting is copied
 *   to the spool so that the acknowledgements need not wait for its timeout. The callbacks of
 *   records that are dropped (spool full or unwritable) are never called: those records are not
 *   stored, so their senders keep them and send them again;
 * - a batch that fails for a network error, a timeout, a 5xx or a configuration problem
 *   (401/403/404…) goes to the disk spool at once and the store turns unhealthy. While it is
 *   unreachable, each retry is a `/ping` probe (no body sent again) with exponential backoff,
 *   1 s doubling to 5 s: delivery resumes within seconds of InfluxDB's return. While the spool
 *   holds anything, new batches are appended to it too, and it drains oldest first: order is
 *   kept and memory stays bounded;
 * - spool read errors never stop the store: what can no longer be read (a segment removed or cut
 *   short under the running gateway, a corrupt entry) is skipped and counted as `lost`; any
 *   other read error is counted (`spoolErrors`), logged and retried with the same backoff;
 * - a batch refused for its content (400, 413, 422) is not retried: it is appended to
 *   `<spoolDir>/rejected.lp` with the server's error text, counted and logged;
 * - when the spool would pass `maxSpoolBytes`, batches are dropped, counted and logged as errors.
 */
import { Buffer } from 'node:buffer'
import { appendFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client'
import type { PanePoint, ViolationRule } from '../../rules/index.ts'
import type { InfluxConfig } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { ruleMask, rulesOf } from './columns.ts'
import { encodeRecord, influxqlIdent, influxqlString, MEASUREMENT } from './line-protocol.ts'
import { openSpool, type Spool, type SpoolEntry } from './spool.ts'
import type {
  RangeQuery,
  SeriesRecord,
  StoredChartPoint,
  StoredEvent,
  StoredReading,
  StoreStatus,
  TimeSeriesStore,
} from './types.ts'

export interface InfluxStoreContext {
  log: Logger
  /** Directory of the disk spool and of `rejected.lp`; one store per directory. */
  spoolDir: string
  /** Where `tokenEnv` is looked up (default `process.env`). */
  env?: NodeJS.ProcessEnv
  /** Backoff while InfluxDB cannot be written to (default 1 s, doubling up to 5 s). */
  retry?: { minMs: number; maxMs: number }
  /** Per HTTP request (default 10 s). */
  timeoutMs?: number
  /** Size past which the spool begins a new segment file (default 8 MiB). */
  spoolSegmentBytes?: number
}

export interface InfluxStoreStatus extends StoreStatus {
  kind: 'influxdb'
  /** Records InfluxDB refused for their content (kept in rejected.lp), or that line protocol cannot carry. */
  rejected: number
  /** Records dropped because the spool was full or could not be written (`maxSpoolBytes`). */
  dropped: number
  /** Spooled records that could not be read back (a segment removed or cut short, a corrupt entry). */
  lost: number
  /** Spool read errors since start (each retried with backoff). */
  spoolErrors: number
  /** Failed attempts (writes, probes, spool reads) since the last success. */
  failures: number
  /** When the next attempt is due, while one is waited for; never more than the backoff cap. */
  nextRetryInMs: number | undefined
  /** `whenDurable` callbacks waiting: acknowledgements held back. */
  waiting: number
}

export interface InfluxStore extends TimeSeriesStore {
  status(): InfluxStoreStatus
}

/** Batches waiting in memory while one is in flight; past this, they go to the spool. */
const MAX_OUTBOX = 4
/** Repeated error logs (unencodable records, drops) are written at most this often. */
const LOG_EVERY_MS = 10_000
/** A request in flight this long, with `whenDurable` callbacks waiting, is copied to the spool. */
const SLOW_FLIGHT_MS = 2000
/** HTTP statuses that say the server behind a proxy is down, not that InfluxDB answered. */
const GATEWAY_DOWN = [502, 503, 504]

interface Batch {
  text: string
  records: number
  /** `whenDurable` callbacks to call once this batch and every earlier one are durable. */
  waiters: (() => void)[]
  /** `done`: written, spooled or rejected; `lost`: dropped. */
  fate: 'pending' | 'done' | 'lost'
  /** Resolves once the batch is written, spooled, rejected or dropped: what `flush` waits for. */
  settled: Promise<void>
  resolve(): void
}

/** The batch being sent, and whether a copy of it went to the spool while it was in flight. */
interface Flight {
  batch: Batch
  copy: 'none' | 'refused' | { id: Promise<number> }
  /** In flight longer than SLOW_FLIGHT_MS. */
  slow: boolean
}

type Outcome = { ok: true } | { ok: false; retry: boolean; status?: number; error: string }

export function createInfluxStore(config: InfluxConfig, ctx: InfluxStoreContext): InfluxStore {
  const log = ctx.log.child({ module: 'store-influxdb' })
  const retry = ctx.retry ?? { minMs: 1000, maxMs: 5000 }
  const rejectedFile = join(ctx.spoolDir, 'rejected.lp')
  const from = (measurement: string): string =>
    config.retentionPolicy
      ? `${influxqlIdent(config.database)}.${influxqlIdent(config.retentionPolicy)}.${influxqlIdent(measurement)}`
      : influxqlIdent(measurement)

  let transport: Transport | undefined
  let spool: Spool | undefined
  let state: 'new' | 'started' | 'stopping' | 'stopped' = 'new'
  /** Cleared when `stop` begins: later writes are refused. */
  let accepting = true

  // Records being gathered into the next batch, and the callbacks waiting on them.
  let lines: string[] = []
  let batchRecords = 0
  let waiting: (() => void)[] = []
  let flushTimer: NodeJS.Timeout | undefined
  /** A cut for waiting callbacks is scheduled (setImmediate), or due when the store is idle. */
  let commitScheduled = false
  let commitWhenIdle = false
  const outbox: Batch[] = []
  /** Batches whose callbacks are not released yet, oldest first (they release in order). */
  const order: Batch[] = []
  let releasing = false
  let flight: Flight | undefined
  /** Spool appends of batches (and flight copies) not yet on disk. */
  let spoolWrites = 0

  let healthy = false
  let databaseReady = false
  let failures = 0
  let retryTimer: NodeJS.Timeout | undefined
  let retryAt = 0
  let pumping: Promise<void> | undefined

  /** Woken when the spool drains a batch or the health changes: what `flush` waits on. */
  const progressWaiters = new Set<() => void>()
  const progress = (): void => {
    for (const wake of progressWaiters) wake()
    progressWaiters.clear()
  }

  let written = 0
  let rejected = 0
  let dropped = 0
  let dropReason = ''
  let spoolErrors = 0
  let lastError: string | undefined
  let rejectedBytes = 0
  const lastLogged = new Map<string, number>()

  /** Logs an error at most every LOG_EVERY_MS per key, so a flood of bad records cannot flood the log. */
  function logThrottled(key: string, fields: object, message: string): void {
    const now = Date.now()
    if (now - (lastLogged.get(key) ?? 0) < LOG_EVERY_MS) return
    lastLogged.set(key, now)
    log.error({ ...fields, rejected, dropped }, message)
  }

  function newBatch(text: string, records: number, waiters: (() => void)[]): Batch {
    let resolve = () => {}
    const settled = new Promise<void>((r) => {
      resolve = r
    })
    const batch: Batch = { text, records, waiters, fate: 'pending', settled, resolve }
    order.push(batch)
    return batch
  }

  /** Records a batch's fate (the first one counts) and releases the callbacks now due. */
  function settle(batch: Batch, fate: 'done' | 'lost'): void {
    if (batch.fate !== 'pending') return
    batch.fate = fate
    batch.resolve()
    release()
  }

  /** Calls the callbacks of the settled batches at the head of `order`, oldest first. */
  function release(): void {
    if (releasing) return // a callback that wrote: the loop below goes on
    releasing = true
    try {
      while (order[0] !== undefined && order[0].fate !== 'pending') {
        const batch = order.shift() as Batch
        // A dropped batch's records are not stored: its callbacks are not called.
        if (batch.fate === 'done') for (const done of batch.waiters) call(done)
        batch.waiters = []
      }
    } finally {
      releasing = false
    }
  }

  function call(done: () => void): void {
    try {
      done()
    } catch (e) {
      logThrottled('callback', { err: e }, 'a whenDurable callback threw')
    }
  }

  // ---- batching ------------------------------------------------------------------------------

  function write(record: SeriesRecord): void {
    if (!accepting) {
      logThrottled('after-stop', { kind: record.kind }, 'write after stop: record ignored')
      return
    }
    try {
      if (encodeRecord(record, lines) === 0) return // not a time series: the journal's
    } catch (e) {
      rejected += 1
      logThrottled(
        'unencodable',
        { err: e, record },
        'record cannot be written as line protocol: not stored',
      )
      return
    }
    batchRecords += 1
    if (lines.length >= config.batchSize) cut()
    else if (flushTimer === undefined && state === 'started') {
      flushTimer = setTimeout(cut, config.flushIntervalMs)
    }
  }

  function whenDurable(done: () => void): void {
    if (batchRecords > 0) {
      waiting.push(done)
      groupCommit()
      return
    }
    // Nothing gathered: the newest batch not yet released covers every earlier record.
    const newest = order.at(-1)
    if (newest) {
      newest.waiters.push(done)
      if (flight?.slow) spill() // it is the request in flight, or queued behind it
      return
    }
    queueMicrotask(() => call(done))
  }

  /** Where the next batch goes: the spool (InfluxDB down, or the spool not empty) or a request. */
  const spooling = (): boolean => !healthy || (spool?.entries ?? 0) > 0

  /** A write that the next batch should wait for, so that it gathers more (group commit). */
  function busy(): boolean {
    return spooling() ? spoolWrites > 0 : flight !== undefined && !flight.slow
  }

  /** Cuts the batch with waiting callbacks on the next turn, or when the write in flight ends. */
  function groupCommit(): void {
    if (commitScheduled || state !== 'started') return // before start: `start` cuts
    if (flight?.slow) spill()
    if (busy()) {
      commitWhenIdle = true
      return
    }
    commitScheduled = true
    setImmediate(() => {
      commitScheduled = false
      if (waiting.length === 0) return
      if (busy()) commitWhenIdle = true
      else cut()
    })
  }

  /** A write ended: cuts the batch whose callbacks waited for it. */
  function idle(): void {
    if (!commitWhenIdle || busy()) return
    commitWhenIdle = false
    if (waiting.length > 0) cut()
  }

  /** Closes the batch being gathered and queues it. */
  function cut(): void {
    clearTimeout(flushTimer)
    flushTimer = undefined
    if (batchRecords === 0 || state === 'new') return
    const batch = newBatch(lines.join('\n'), batchRecords, waiting)
    lines = []
    batchRecords = 0
    waiting = []
    commitWhenIdle = false
    outbox.push(batch)
    // The spool is older than the outbox: once it holds anything, everything goes through it.
    if (spooling() || outbox.length > MAX_OUTBOX || (flight?.slow && batch.waiters.length > 0)) {
      spill()
    }
    void pump()
  }

  /** Moves the outbox to the spool, after a copy of the batch in flight (it is older). */
  function spill(): void {
    if (flight && flight.copy === 'none') {
      const batch = flight.batch
      const id = spool!.append(batch.text, batch.records)
      if (id) {
        flight.copy = { id }
        spoolWrites += 1
        id.then(
          () => settle(batch, 'done'),
          () => {}, // a failed copy is handled when the flight ends
        ).finally(() => {
          spoolWrites -= 1
          idle()
        })
      } else {
        flight.copy = 'refused'
      }
    }
    for (const batch of outbox.splice(0)) toSpool(batch)
  }

  function toSpool(batch: Batch): void {
    const id = spool!.append(batch.text, batch.records)
    if (!id) {
      drop(batch, `the spool is full (maxSpoolBytes ${config.maxSpoolBytes})`)
      return
    }
    spoolWrites += 1
    id.then(
      () => settle(batch, 'done'),
      (e: unknown) => drop(batch, `the spool cannot be written: ${String(e)}`),
    ).finally(() => {
      spoolWrites -= 1
      idle()
    })
  }

  function drop(batch: Batch, why: string): void {
    if (batch.fate !== 'pending') return
    dropped += batch.records
    dropReason = why
    logThrottled(
      'drop',
      { records: batch.records, spoolDir: ctx.spoolDir },
      `records dropped: ${why}`,
    )
    settle(batch, 'lost')
  }

  // ---- delivery ------------------------------------------------------------------------------

  /** Runs the delivery loop unless it is running or waiting out a backoff. */
  function pump(): Promise<void> {
    if (!pumping && retryTimer === undefined && state === 'started') {
      pumping = deliver()
        .catch((e: unknown) => {
          // Nothing should get here; if anything does, the store goes on after a backoff.
          logThrottled('deliver', { err: e }, 'delivery failed unexpectedly: retrying')
          backoff()
        })
        .finally(() => {
          pumping = undefined
          // Work queued while the loop was ending (after its last look) would wait otherwise.
          if (outbox.length > 0 || spool!.entries > 0) void pump()
        })
    }
    return pumping ?? Promise.resolve()
  }

  async function deliver(): Promise<void> {
    // `stop` ends the loop after the request in flight.
    while (state === 'started') {
      const work = spool!.entries > 0 || outbox.length > 0
      // Down: a cheap probe before any body is sent again.
      if (!healthy && work && !(await probe())) return backoff()
      if (!databaseReady && !(await ensureDatabase())) return backoff()
      if (spool!.entries > 0) {
        let entry: SpoolEntry | undefined
        try {
          entry = await spool!.head()
        } catch (e) {
          spoolError(e)
          return backoff()
        } finally {
          progress() // entries that could not be read were skipped
        }
        if (!entry) {
          if (spool!.entries === 0) continue // what was left could not be read: skipped
          log.error({ entries: spool!.entries }, 'spool count and contents disagree')
          return backoff()
        }
        const outcome = await send(entry.text)
        if (!outcome.ok && outcome.retry) return backoff()
        if (outcome.ok) written += entry.records
        else await reject(entry.text, entry.records, outcome)
        try {
          await spool!.ack(entry.id)
        } catch (e) {
          spoolError(e)
          return backoff()
        }
        progress()
      } else if (outbox.length > 0) {
        const current: Flight = { batch: outbox.shift()!, copy: 'none', slow: false }
        flight = current
        const slowTimer = setTimeout(() => {
          current.slow = true
          if (flight !== current) return
          const waited =
            waiting.length > 0 ||
            current.batch.waiters.length > 0 ||
            outbox.some((b) => b.waiters.length > 0)
          if (waited) {
            spill()
            if (waiting.length > 0) cut()
          }
        }, SLOW_FLIGHT_MS)
        const outcome = await send(current.batch.text)
        clearTimeout(slowTimer)
        flight = undefined
        const { batch, copy } = current
        if (!outcome.ok && outcome.retry) {
          // The spool is empty unless a copy was spooled, so the batch still goes first.
          if (copy === 'none') toSpool(batch)
          else if (copy === 'refused')
            drop(batch, `the spool is full (maxSpoolBytes ${config.maxSpoolBytes})`)
          spill()
          idle()
          if (typeof copy === 'object' && (await copy.id.catch(() => undefined)) === undefined) {
            drop(batch, 'the spool cannot be written')
          }
          return backoff()
        }
        if (outcome.ok) written += batch.records
        else await reject(batch.text, batch.records, outcome)
        settle(batch, 'done')
        idle() // the batch gathered meanwhile goes next
        if (typeof copy === 'object') {
          const id = await copy.id.catch(() => undefined)
          try {
            if (id !== undefined) await spool!.ack(id) // the copy is the head of the spool
          } catch (e) {
            spoolError(e)
            return backoff()
          }
        }
      } else if (!healthy) {
        // Nothing to deliver: probe, so that the status recovers.
        if (!(await probe())) return backoff()
        reachable()
      } else {
        return
      }
    }
  }

  function spoolError(e: unknown): void {
    spoolErrors += 1
    lastError = `the spool cannot be read: ${String(e)}`
    logThrottled(
      'spool-read',
      { err: e, spoolDir: ctx.spoolDir, spoolErrors },
      'the spool cannot be read: retrying',
    )
  }

  function backoff(): void {
    if (state !== 'started') return
    failures += 1
    const base = retry.minMs * 2 ** Math.min(failures - 1, 30)
    const delay = Math.min(retry.maxMs, base * (1 + Math.random() * 0.1))
    progress() // unhealthy: a flush need not wait for the spool to drain
    retryAt = Date.now() + delay
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void pump()
    }, delay)
  }

  function reachable(): void {
    if (!healthy) log.info({ spooled: spool!.records }, 'InfluxDB is reachable: delivering')
    healthy = true
    failures = 0
  }

  function unreachable(error: string): void {
    if (healthy || lastError !== error) {
      log.warn({ error, spooled: spool!.records }, 'InfluxDB cannot be written to: spooling')
    }
    healthy = false
    lastError = error
  }

  /**
   * `GET /ping`: whether the server answers at all. Any answer but a proxy's 502/503/504 counts
   * (a server that wants auth for `/ping` is up); the write that follows tells the rest.
   */
  async function probe(): Promise<boolean> {
    try {
      await transport!.request('/ping', '', { method: 'GET' })
      return true
    } catch (e) {
      if (e instanceof HttpError && !GATEWAY_DOWN.includes(e.statusCode)) return true
      unreachable(classify(e).error)
      return false
    }
  }

  async function send(text: string): Promise<Outcome> {
    const query = new URLSearchParams({ db: config.database, precision: 'ms' })
    if (config.retentionPolicy) query.set('rp', config.retentionPolicy)
    try {
      await transport!.request(`/write?${query}`, text, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      })
      reachable()
      return { ok: true }
    } catch (e) {
      const outcome = classify(e)
      if (outcome.retry) unreachable(outcome.error)
      // The database was dropped, or could not be created at start: create it before the retry.
      if (outcome.status === 404) databaseReady = false
      return outcome
    }
  }

  async function reject(
    text: string,
    records: number,
    outcome: Outcome & { ok: false },
  ): Promise<void> {
    rejected += records
    lastError = `InfluxDB rejected ${records} records: ${outcome.error}`
    const entry = `# ${new Date().toISOString()} ${outcome.error.replace(/\n/g, ' ')} (${records} records)\n${text}\n`
    const keep = rejectedBytes + Buffer.byteLength(entry) <= config.maxSpoolBytes
    log.error(
      {
        status: outcome.status,
        error: outcome.error,
        records,
        file: keep ? rejectedFile : undefined,
      },
      'InfluxDB rejected a batch (not retried)',
    )
    if (!keep) return
    try {
      await appendFile(rejectedFile, entry)
      rejectedBytes += Buffer.byteLength(entry)
    } catch (e) {
      log.error({ err: e, file: rejectedFile }, 'rejected batch cannot be kept')
    }
  }

  /** `CREATE DATABASE` (idempotent); a refusal (no admin rights, 2.x, 3) is logged and ignored. */
  async function ensureDatabase(): Promise<boolean> {
    const q = `CREATE DATABASE ${influxqlIdent(config.database)}`
    try {
      const res: unknown = await transport!.request(
        '/query',
        new URLSearchParams({ q }).toString(),
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      )
      const error = resultOf(res).error
      if (error)
        log.warn(
          { database: config.database, error },
          'database not created; it must exist already',
        )
    } catch (e) {
      const outcome = classify(e)
      const down = !(e instanceof HttpError) || [429, 500, 502, 503, 504].includes(e.statusCode)
      if (down) {
        if (healthy || lastError !== outcome.error)
          log.warn({ error: outcome.error }, 'InfluxDB is not reachable')
        healthy = false
        lastError = outcome.error
        return false
      }
      log.warn(
        { database: config.database, error: outcome.error },
        'database not created; it must exist already',
      )
    }
    databaseReady = true
    reachable()
    return true
  }

  // ---- queries -------------------------------------------------------------------------------

  async function select(
    q: RangeQuery,
    fields: string,
    measurement: string,
    groupBy = '',
  ): Promise<Series[]> {
    if (!transport) throw new Error('the InfluxDB store is not started')
    const bound = (n: number, what: string): number => {
      if (!Number.isFinite(n)) throw new RangeError(`${what} must be a finite number, got ${n}`)
      return Math.trunc(n)
    }
    const limit = bound(q.limit, 'limit')
    if (limit <= 0) return []
    const statement =
      `SELECT ${fields} FROM ${from(measurement)} WHERE "characteristic" = ${influxqlString(q.characteristic)}` +
      ` AND time >= ${bound(q.from, 'from')}ms AND time <= ${bound(q.to, 'to')}ms${groupBy}` +
      ` ORDER BY time DESC LIMIT ${limit}`
    const params = new URLSearchParams({ db: config.database, epoch: 'ms', q: statement })
    let res: unknown
    try {
      res = await transport.request(`/query?${params}`, '', { method: 'GET' })
    } catch (e) {
      throw new Error(`InfluxDB query failed: ${classify(e).error}`, { cause: e })
    }
    const result = resultOf(res)
    if (result.error) throw new Error(`InfluxDB query failed: ${result.error}`)
    return result.series
  }

  async function readings(q: RangeQuery): Promise<StoredReading[]> {
    const [series] = await select(q, '"value"', MEASUREMENT.reading)
    return (series?.values ?? [])
      .map(([ts, value]) => ({ ts: ts as number, value: value as number }))
      .reverse()
  }

  async function chartPoints(q: RangeQuery): Promise<StoredChartPoint[]> {
    // One series per pane; the latest `limit` lines of each hold the latest `limit` points.
    const series = await select(
      q,
      '"index","phase","statistic","center","lcl","ucl","rules","n","upper","lower","sigma"',
      MEASUREMENT.chart,
      ' GROUP BY "pane"',
    )
    type Gathering = Omit<StoredChartPoint, 'panes' | 'rules'> & {
      panes: [string, PanePoint][]
      rules: Set<ViolationRule>
    }
    const points = new Map<string, Gathering>()
    for (const s of series) {
      const pane = s.tags?.pane ?? ''
      for (const row of s.values) {
        const [ts, index, phase, statistic, center, lcl, ucl, rules, n, upper, lower, sigma] =
          row as [
            number,
            number,
            StoredChartPoint['phase'],
            number | null,
            number | null,
            number | null,
            number | null,
            string | null,
            number | null,
            number | null,
            number | null,
            number | null | undefined,
          ]
        const key = `${ts}/${index}`
        let point = points.get(key)
        if (!point) {
          point = { index, ts, phase, n: n ?? 1, panes: [], rules: new Set() }
          points.set(key, point)
        }
        point.panes.push([
          pane,
          {
            statistic,
            center,
            lcl,
            ucl,
            sigma: sigma ?? null,
            ...(upper === null ? {} : { upper }),
            ...(lower === null ? {} : { lower }),
          },
        ])
        for (const rule of rules ? rules.split(',') : []) point.rules.add(rule as ViolationRule)
      }
    }
    return [...points.values()]
      .sort((a, b) => a.ts - b.ts || a.index - b.index)
      .slice(-Math.trunc(q.limit))
      .map((p) => ({
        ...p,
        panes: Object.fromEntries(p.panes), // own properties, whatever the pane is called
        // Each rule once, in the order N1…N8, WE1…WE4, CUSUM: as the embedded store gives them.
        rules: rulesOf(ruleMask([...p.rules].map((rule) => ({ rule })))),
      }))
  }

  async function events(q: RangeQuery): Promise<StoredEvent[]> {
    const [series] = await select(q, '"type","detail"', MEASUREMENT.event)
    return (series?.values ?? [])
      .map(([ts, type, detail]) => ({
        ts: ts as number,
        characteristic: q.characteristic,
        type: type as string,
        detail: detail as string,
      }))
      .reverse()
      .sort((a, b) => a.ts - b.ts || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)) // ties: by type
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  return {
    async start() {
      if (state !== 'new') throw new Error('the InfluxDB store can be started once')
      let token: string | undefined
      if (config.tokenEnv) {
        token = (ctx.env ?? process.env)[config.tokenEnv]
        if (!token) {
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `store.influxdb.tokenEnv names the environment variable ${config.tokenEnv}, which is not set: set it to the InfluxDB token (1.x with auth: "username:password")`,
          )
        }
      }
      transport = new InfluxDB({ url: config.url, token, timeout: ctx.timeoutMs ?? 10_000 })
        .transport
      spool = await openSpool({
        dir: ctx.spoolDir,
        maxBytes: config.maxSpoolBytes,
        log,
        ...(ctx.spoolSegmentBytes ? { segmentBytes: ctx.spoolSegmentBytes } : {}),
      })
      rejectedBytes = (await stat(rejectedFile).catch(() => undefined))?.size ?? 0
      state = 'started'
      // Down at start is not an error: the store starts unhealthy and buffers.
      if (!(await ensureDatabase())) backoff()
      cut() // records written before start
      void pump() // drains a spool left by a previous run
    },

    write,
    whenDurable,

    async flush() {
      cut()
      const target = spool?.appended ?? 0
      await Promise.all(order.map((b) => b.settled))
      // What went through the spool while InfluxDB is up is delivered before flush resolves;
      // during an outage (or while the spool cannot be read), spooled is enough.
      while (
        healthy &&
        retryTimer === undefined &&
        state === 'started' &&
        spool!.removed < target
      ) {
        await new Promise<void>((wake) => progressWaiters.add(wake))
      }
    },

    readings,
    chartPoints,
    events,

    status() {
      const inMemory =
        batchRecords +
        outbox.reduce((n, b) => n + b.records, 0) +
        (flight && typeof flight.copy !== 'object' ? flight.batch.records : 0)
      const notes = [
        lastError,
        rejected > 0 ? `${rejected} records rejected (see ${rejectedFile})` : undefined,
        dropped > 0 ? `${dropped} records dropped: ${dropReason}` : undefined,
        (spool?.lost ?? 0) > 0
          ? `${spool?.lost} spooled records lost (their spool file was removed, cut short or corrupt)`
          : undefined,
      ].filter((n) => n !== undefined)
      return {
        kind: 'influxdb',
        healthy,
        pending: inMemory,
        spooled: spool?.records ?? 0,
        written,
        lastError: notes.length > 0 ? notes.join('; ') : undefined,
        rejected,
        dropped,
        lost: spool?.lost ?? 0,
        spoolErrors,
        failures,
        nextRetryInMs: retryTimer === undefined ? undefined : Math.max(0, retryAt - Date.now()),
        waiting: waiting.length + order.reduce((n, b) => n + b.waiters.length, 0),
      }
    },

    async stop() {
      if (state !== 'started') return
      accepting = false
      cut()
      await Promise.all(order.map((b) => b.settled))
      state = 'stopping'
      progress()
      clearTimeout(retryTimer)
      retryTimer = undefined
      await pumping // the request in flight, if any, ends
      state = 'stopped'
      await spool?.close()
      if ((spool?.records ?? 0) > 0) {
        log.info(
          { spooled: spool?.records, spoolDir: ctx.spoolDir },
          'records left in the spool for the next start',
        )
      }
    },
  }
}

interface Series {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}

/** The first statement's result of an InfluxQL response. */
function resultOf(res: unknown): { series: Series[]; error?: string } {
  const result = (res as { results?: { series?: Series[]; error?: string }[] } | undefined)
    ?.results?.[0]
  return { series: result?.series ?? [], ...(result?.error ? { error: result.error } : {}) }
}

/** Data problems are rejected; server and configuration problems are retried (the data is kept). */
function classify(e: unknown): Outcome & { ok: false } {
  if (e instanceof HttpError) {
    let text = e.body || e.statusMessage || ''
    try {
      text = (JSON.parse(text) as { error?: string }).error ?? text
    } catch {}
    const error = `HTTP ${e.statusCode}: ${text}`.trim()
    return {
      ok: false,
      retry: ![400, 413, 422].includes(e.statusCode),
      status: e.statusCode,
      error,
    }
  }
  const { message, code } = (e ?? {}) as Partial<NodeJS.ErrnoException>
  return { ok: false, retry: true, error: message || code || String(e) }
}
