/**
 * InfluxDB time-series store. Writes line protocol (precision ms) to `/write`, the endpoint
 * InfluxDB 1.x, 2.x (v1 compatibility API) and 3 Core all accept, and reads with InfluxQL on
 * `/query`. The client library gives the HTTP transport and auth; durability is ours:
 *
 * - records are encoded as they arrive and batched (`batchSize` lines or `flushIntervalMs`),
 *   one request in flight at a time;
 * - a batch that fails for a network error, a timeout, a 5xx or a configuration problem
 *   (401/403/404…) goes to the disk spool and the store turns unhealthy; it retries with
 *   exponential backoff (1 s doubling to 30 s). While the spool holds anything, new batches
 *   are appended to it too, and it drains oldest first: order is kept and memory stays bounded;
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
import { encodeRecord, influxqlIdent, influxqlString, MEASUREMENT } from './line-protocol.ts'
import { openSpool, type Spool } from './spool.ts'
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
  /** Backoff while InfluxDB cannot be written to (default 1 s, doubling up to 30 s). */
  retry?: { minMs: number; maxMs: number }
  /** Per HTTP request (default 10 s). */
  timeoutMs?: number
}

export interface InfluxStoreStatus extends StoreStatus {
  kind: 'influxdb'
  /** Records InfluxDB refused for their content (kept in rejected.lp), or that line protocol cannot carry. */
  rejected: number
  /** Records dropped because the spool was full (`maxSpoolBytes`). */
  dropped: number
}

export interface InfluxStore extends TimeSeriesStore {
  status(): InfluxStoreStatus
}

/** Batches waiting in memory while one is in flight; past this, they go to the spool. */
const MAX_OUTBOX = 4
/** Repeated error logs (unencodable records, drops) are written at most this often. */
const LOG_EVERY_MS = 10_000

interface Batch {
  text: string
  records: number
  /** Resolves once the batch is written, spooled, rejected or dropped: what `flush` waits for. */
  settled: Promise<void>
  settle(): void
}

/** The batch being sent, and whether a copy of it went to the spool while it was in flight. */
interface Flight {
  batch: Batch
  copy: 'none' | 'refused' | { id: Promise<number> }
}

type Outcome = { ok: true } | { ok: false; retry: boolean; status?: number; error: string }

export function createInfluxStore(config: InfluxConfig, ctx: InfluxStoreContext): InfluxStore {
  const log = ctx.log.child({ module: 'store-influxdb' })
  const retry = ctx.retry ?? { minMs: 1000, maxMs: 30_000 }
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

  // Records being gathered into the next batch.
  let lines: string[] = []
  let batchRecords = 0
  let flushTimer: NodeJS.Timeout | undefined
  const outbox: Batch[] = []
  const unsettled = new Set<Batch>()
  let flight: Flight | undefined

  let healthy = false
  let databaseReady = false
  let failures = 0
  let retryTimer: NodeJS.Timeout | undefined
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

  function newBatch(text: string, records: number): Batch {
    let settle = () => {}
    const settled = new Promise<void>((resolve) => {
      settle = resolve
    })
    const batch: Batch = {
      text,
      records,
      settled,
      settle: () => {
        unsettled.delete(batch)
        settle()
      },
    }
    unsettled.add(batch)
    return batch
  }

  // ---- batching ------------------------------------------------------------------------------

  function write(record: SeriesRecord): void {
    if (!accepting) {
      logThrottled(
        'after-stop',
        { characteristic: record.characteristic },
        'write after stop: record ignored',
      )
      return
    }
    try {
      encodeRecord(record, lines)
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

  /** Closes the batch being gathered and queues it. */
  function cut(): void {
    clearTimeout(flushTimer)
    flushTimer = undefined
    if (batchRecords === 0 || state === 'new') return
    const batch = newBatch(lines.join('\n'), batchRecords)
    lines = []
    batchRecords = 0
    outbox.push(batch)
    // The spool is older than the outbox: once it holds anything, everything goes through it.
    if (!healthy || spool!.entries > 0 || outbox.length > MAX_OUTBOX) spill()
    void pump()
  }

  /** Moves the outbox to the spool, after a copy of the batch in flight (it is older). */
  function spill(): void {
    if (flight && flight.copy === 'none') {
      const id = spool!.append(flight.batch.text, flight.batch.records)
      if (id) {
        flight.copy = { id }
        const batch = flight.batch
        id.then(batch.settle, () => {}) // a failed copy is handled when the flight ends
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
    id.then(batch.settle, (e: unknown) => drop(batch, `the spool cannot be written: ${String(e)}`))
  }

  function drop(batch: Batch, why: string): void {
    dropped += batch.records
    dropReason = why
    logThrottled(
      'drop',
      { records: batch.records, spoolDir: ctx.spoolDir },
      `records dropped: ${why}`,
    )
    batch.settle()
  }

  // ---- delivery ------------------------------------------------------------------------------

  /** Runs the delivery loop unless it is running or waiting out a backoff. */
  function pump(): Promise<void> {
    if (!pumping && retryTimer === undefined && state === 'started') {
      pumping = deliver().finally(() => {
        pumping = undefined
      })
    }
    return pumping ?? Promise.resolve()
  }

  async function deliver(): Promise<void> {
    // `stop` ends the loop after the request in flight.
    while (state === 'started') {
      if (!databaseReady && !(await ensureDatabase())) return backoff()
      if (spool!.entries > 0) {
        const entry = await spool!.head()
        if (!entry) {
          if (spool!.entries === 0) continue // corrupt entries were skipped
          log.error({ entries: spool!.entries }, 'spool count and contents disagree')
          return backoff()
        }
        const outcome = await send(entry.text)
        if (!outcome.ok && outcome.retry) return backoff()
        if (outcome.ok) written += entry.records
        else await reject(entry.text, entry.records, outcome)
        await spool!.ack(entry.id)
        progress()
      } else if (outbox.length > 0) {
        const current: Flight = { batch: outbox.shift()!, copy: 'none' }
        flight = current
        const outcome = await send(current.batch.text)
        flight = undefined
        const { batch, copy } = current
        if (!outcome.ok && outcome.retry) {
          // The spool is empty unless a copy was spooled, so the batch still goes first.
          if (copy === 'none') toSpool(batch)
          else if (copy === 'refused')
            drop(batch, `the spool is full (maxSpoolBytes ${config.maxSpoolBytes})`)
          spill()
          if (typeof copy === 'object' && (await copy.id.catch(() => undefined)) === undefined) {
            drop(batch, 'the spool cannot be written')
          }
          return backoff()
        }
        if (outcome.ok) written += batch.records
        else await reject(batch.text, batch.records, outcome)
        if (typeof copy === 'object') {
          const id = await copy.id.catch(() => undefined)
          if (id !== undefined) await spool!.ack(id) // the copy is the head of the spool
        }
        batch.settle()
      } else if (!healthy) {
        // Nothing to deliver: probe, so that the status recovers.
        const outcome = await request('/ping', '', 'GET')
        if (!outcome.ok) return backoff()
      } else {
        return
      }
    }
  }

  function backoff(): void {
    if (state !== 'started') return
    failures += 1
    const delay =
      Math.min(retry.maxMs, retry.minMs * 2 ** (failures - 1)) * (1 + Math.random() * 0.1)
    progress() // unhealthy: a flush need not wait for the spool to drain
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void pump()
    }, delay)
  }

  async function send(text: string): Promise<Outcome> {
    const query = new URLSearchParams({ db: config.database, precision: 'ms' })
    if (config.retentionPolicy) query.set('rp', config.retentionPolicy)
    const outcome = await request(`/write?${query}`, text, 'POST')
    // The database was dropped, or could not be created at start: create it before the retry.
    if (!outcome.ok && outcome.status === 404) databaseReady = false
    return outcome
  }

  /** One HTTP request; records the outcome in the health status. */
  async function request(path: string, body: string, method: 'GET' | 'POST'): Promise<Outcome> {
    try {
      await transport!.request(path, body, {
        method,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      })
      if (!healthy) {
        log.info({ spooled: spool!.records }, 'InfluxDB is reachable: delivering')
        healthy = true
      }
      failures = 0
      return { ok: true }
    } catch (e) {
      const outcome = classify(e)
      if (outcome.retry) {
        if (healthy || lastError !== outcome.error) {
          log.warn(
            { error: outcome.error, spooled: spool!.records },
            'InfluxDB cannot be written to: spooling',
          )
        }
        healthy = false
        lastError = outcome.error
      }
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
      const unreachable =
        !(e instanceof HttpError) || [429, 500, 502, 503, 504].includes(e.statusCode)
      if (unreachable) {
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
    if (!healthy) log.info({ spooled: spool!.records }, 'InfluxDB is reachable: delivering')
    healthy = true
    failures = 0
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
      '"index","phase","statistic","center","lcl","ucl","rules","n","upper","lower"',
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
        const [ts, index, phase, statistic, center, lcl, ucl, rules, n, upper, lower] = row as [
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
        rules: [...p.rules].sort(),
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
      spool = await openSpool({ dir: ctx.spoolDir, maxBytes: config.maxSpoolBytes, log })
      rejectedBytes = (await stat(rejectedFile).catch(() => undefined))?.size ?? 0
      state = 'started'
      // Down at start is not an error: the store starts unhealthy and buffers.
      if (!(await ensureDatabase())) backoff()
      cut() // records written before start
      void pump() // drains a spool left by a previous run
    },

    write,

    async flush() {
      cut()
      const target = spool?.appended ?? 0
      await Promise.all([...unsettled].map((b) => b.settled))
      // What went through the spool while InfluxDB is up is delivered before flush resolves;
      // during an outage, spooled is enough.
      while (healthy && state === 'started' && spool!.removed < target) {
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
      }
    },

    async stop() {
      if (state !== 'started') return
      accepting = false
      cut()
      await Promise.all([...unsettled].map((b) => b.settled))
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
