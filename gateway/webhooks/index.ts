import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { WebhookConfig } from '../config/webhook-schema.ts'
import type { QualityEvent } from '../contract.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { Backlog, type DeliveryRow } from './backlog.ts'
import { createSender, displayUrl, type Sender, webhookSignature } from './send.ts'

/**
 * Outbound webhooks of the quality loop (docs/webhooks.md). `notify` writes one delivery per
 * matching hook to a durable backlog (SQLite) and returns; a worker per hook POSTs its
 * deliveries in order of creation, signed (HMAC-SHA256), retrying with exponential backoff and
 * giving up after `retry.maxAttempts`. A slow or dead receiver delays only its own hook: the
 * backlog of each hook is bounded (`maxBacklog`, the oldest waiting delivery dropped and
 * counted), and `status()` shows it all.
 */

export { FAILED_KEPT } from './backlog.ts'
export { displayUrl, webhookSignature } from './send.ts'

export interface WebhookStatus {
  id: string
  /** The URL without credentials, query or fragment. */
  url: string
  /** Deliveries waiting (including the one being attempted). */
  pending: number
  /** Counted since the backlog file began (they survive restarts). */
  delivered: number
  /** Given up after retry.maxAttempts attempts. */
  failed: number
  /** Dropped (the oldest waiting) because the backlog was full. */
  dropped: number
  /** The last failure ("HTTP 503: …", "connect ECONNREFUSED …", "timed out after 10000 ms"). */
  lastError: string | null
  /** UTC ms of the last delivery answered 2xx. */
  lastDeliveredAt: number | null
  /** UTC ms when the oldest waiting delivery is attempted (again); null when none waits. */
  nextAttemptAt: number | null
}

/** A delivery given up: kept (the latest FAILED_KEPT per hook) to be looked at. */
export interface FailedDelivery {
  /** The delivery id (x-linewatch-delivery). */
  id: string
  event: string
  /** The JSON body that was sent. */
  body: string
  attempts: number
  lastError: string | null
  createdAt: number
  failedAt: number
}

export interface Webhooks {
  /** Opens the backlog and starts a worker per hook; pending deliveries of an earlier run resume. */
  start(): Promise<void>
  /** Stops the workers (an attempt under way is abandoned and made again at the next start). */
  stop(): Promise<void>
  /** Enqueues the event for every hook that wants its type; never blocks, never throws. */
  notify(event: QualityEvent): void
  status(): WebhookStatus[]
  /** The latest failed deliveries of a hook, newest first. */
  failedDeliveries(hook: string, limit?: number): FailedDelivery[]
}

export interface WebhooksOptions {
  hooks: readonly WebhookConfig[]
  /** The SQLite file of the durable backlog (dataDir/webhooks.db). */
  path: string
  log: Logger
  env?: NodeJS.ProcessEnv
  now?: () => number
  /** Math.random by default: the jitter of the backoff. */
  random?: () => number
}

/** A failure of a hook is logged at most this often (how many were not logged is said). */
const LOG_EVERY_MS = 60_000
/** A backoff is slept in steps of at most this (a changed clock is noticed). */
const MAX_SLEEP_MS = 60_000
/** After an error of the backlog itself (disk full), the worker waits this long. */
const STORE_RETRY_MS = 5_000

/** The wait before attempt `attempt + 1`: initialMs·2^(attempt−1), ±20% jitter, at most maxMs. */
export function backoffMs(
  retry: WebhookConfig['retry'],
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = retry.initialMs * 2 ** Math.min(attempt - 1, 40)
  const jittered = base * (0.8 + 0.4 * random())
  return Math.max(1, Math.round(Math.min(retry.maxMs, jittered)))
}

interface Hook {
  config: WebhookConfig
  events: ReadonlySet<string>
  secret: string
  sender: Sender
  /** The seq of the delivery being attempted. */
  inFlight: number | undefined
  /** Ends the worker's current wait (a new delivery, or stop). */
  wake: (() => void) | undefined
  worker: Promise<void> | undefined
  /** Failures since the hook last delivered, and since the last failure logged. */
  failuresInARow: number
  unlogged: number
  lastLoggedAt: number
  givenUpUnlogged: number
  lastGivenUpLoggedAt: number
}

interface Queued {
  id: string
  event: string
  body: string
  createdAt: number
}

export function createWebhooks(options: WebhooksOptions): Webhooks {
  const { hooks: configs, path } = options
  const log = options.log.child({ module: 'webhooks' })
  const env = options.env ?? process.env
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random

  const hooks = new Map<string, Hook>()
  /** Deliveries not yet written (notify writes on the next microtask, in one transaction). */
  const queued = new Map<string, Queued[]>()
  /** Dropped from `queued` before they were written (the backlog was full, or not open). */
  const droppedQueued = new Map<string, number>()
  let backlog: Backlog | undefined
  let state: 'new' | 'started' | 'stopped' = 'new'
  let flushScheduled = false
  let flushRetry: NodeJS.Timeout | undefined
  let lastFlushErrorLoggedAt = 0
  const stopping = new AbortController()
  let final: WebhookStatus[] | undefined
  let warnedStopped = false

  for (const config of configs) {
    queued.set(config.id, [])
  }

  function flush(): void {
    flushScheduled = false
    if (!backlog || state !== 'started') return
    const batch: (Queued & { hook: string })[] = []
    for (const [hook, list] of queued) for (const d of list) batch.push({ ...d, hook })
    if (batch.length === 0 && droppedQueued.size === 0) return
    try {
      backlog.enqueue(
        batch,
        (hook) => hooks.get(hook)?.config.maxBacklog ?? Number.MAX_SAFE_INTEGER,
        (hook) => hooks.get(hook)?.inFlight,
        droppedQueued,
      )
    } catch (e) {
      // The backlog cannot be written (disk full?): keep what is queued (bounded) and try again.
      if (now() - lastFlushErrorLoggedAt >= LOG_EVERY_MS) {
        lastFlushErrorLoggedAt = now()
        log.error({ err: e, queued: batch.length }, 'cannot write the webhook backlog; retrying')
      }
      flushRetry ??= setTimeout(() => {
        flushRetry = undefined
        flush()
      }, STORE_RETRY_MS).unref()
      return
    }
    for (const list of queued.values()) list.length = 0
    droppedQueued.clear()
    const touched = new Set(batch.map((d) => d.hook))
    for (const hook of touched) hooks.get(hook)?.wake?.()
  }

  function schedule(): void {
    if (flushScheduled || state !== 'started') return
    flushScheduled = true
    queueMicrotask(flush)
  }

  /** Waits `ms` (or until woken: a new delivery, or stop). */
  function pause(hook: Hook, ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms).unref()
      function done(): void {
        if (timer) clearTimeout(timer)
        hook.wake = undefined
        resolve()
      }
      hook.wake = done
    })
  }

  function logFailure(hook: Hook, row: DeliveryRow, attempts: number, error: string): void {
    hook.unlogged++
    const t = now()
    if (t - hook.lastLoggedAt < LOG_EVERY_MS) return
    log.warn(
      {
        hook: hook.config.id,
        url: displayUrl(hook.config.url),
        delivery: row.id,
        event: row.event,
        attempt: attempts,
        failures: hook.unlogged,
        err: error,
      },
      'webhook delivery failed; it is retried',
    )
    hook.lastLoggedAt = t
    hook.unlogged = 0
  }

  function logGivenUp(hook: Hook, row: DeliveryRow, attempts: number, error: string): void {
    hook.givenUpUnlogged++
    const t = now()
    if (t - hook.lastGivenUpLoggedAt < LOG_EVERY_MS) return
    log.error(
      {
        hook: hook.config.id,
        url: displayUrl(hook.config.url),
        delivery: row.id,
        event: row.event,
        attempts,
        givenUp: hook.givenUpUnlogged,
        err: error,
      },
      `webhook delivery given up after ${attempts} attempts (kept as failed)`,
    )
    hook.lastGivenUpLoggedAt = t
    hook.givenUpUnlogged = 0
  }

  async function attempt(hook: Hook, row: DeliveryRow): Promise<string | null | 'stopped'> {
    const timestamp = Math.floor(now() / 1000)
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'linewatch-webhooks',
      'x-linewatch-event': row.event,
      'x-linewatch-delivery': row.id,
      'x-linewatch-timestamp': String(timestamp),
      'x-linewatch-signature': webhookSignature(hook.secret, timestamp, row.body),
    }
    const { timeoutMs } = hook.config
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal])
      const answer = await hook.sender.post(headers, row.body, signal)
      if (answer.status >= 200 && answer.status < 300) return null
      const text = answer.text.replace(/\s+/g, ' ').trim()
      return `HTTP ${answer.status}${text ? `: ${text}` : ''}`
    } catch (e) {
      if (stopping.signal.aborted) return 'stopped'
      return describe(e, timeoutMs)
    }
  }

  async function work(hook: Hook): Promise<void> {
    while (state === 'started' && backlog) {
      let row: DeliveryRow | undefined
      try {
        row = backlog.head(hook.config.id)
      } catch (e) {
        log.error({ err: e, hook: hook.config.id }, 'cannot read the webhook backlog')
        await pause(hook, STORE_RETRY_MS)
        continue
      }
      if (!row) {
        await pause(hook, undefined)
        continue
      }
      const wait = row.next_at - now()
      if (wait > 0) {
        await pause(hook, Math.min(wait, MAX_SLEEP_MS))
        continue
      }
      hook.inFlight = row.seq
      const error = await attempt(hook, row)
      hook.inFlight = undefined
      if (error === 'stopped' || state !== 'started') return
      const attempts = row.attempts + 1
      try {
        if (error === null) {
          backlog.delivered(row, now())
          if (hook.failuresInARow > 0) {
            log.info(
              { hook: hook.config.id, failures: hook.failuresInARow },
              'webhook receiver answers again',
            )
          }
          hook.failuresInARow = 0
        } else if (attempts >= hook.config.retry.maxAttempts) {
          hook.failuresInARow++
          backlog.giveUp(row, attempts, error, now())
          logGivenUp(hook, row, attempts, error)
        } else {
          hook.failuresInARow++
          backlog.retryLater(
            row,
            attempts,
            now() + backoffMs(hook.config.retry, attempts, random),
            error,
          )
          logFailure(hook, row, attempts, error)
        }
      } catch (e) {
        log.error({ err: e, hook: hook.config.id }, 'cannot write the webhook backlog')
        await pause(hook, STORE_RETRY_MS)
      }
    }
  }

  function statusOf(config: WebhookConfig): WebhookStatus {
    const c = backlog?.counters(config.id)
    const inMemory = queued.get(config.id)?.length ?? 0
    return {
      id: config.id,
      url: displayUrl(config.url),
      pending: (c?.pending ?? 0) + inMemory,
      delivered: c?.delivered ?? 0,
      failed: c?.failed ?? 0,
      dropped: (c?.dropped ?? 0) + (droppedQueued.get(config.id) ?? 0),
      lastError: c?.lastError ?? null,
      lastDeliveredAt: c?.lastDeliveredAt ?? null,
      nextAttemptAt: c?.nextAttemptAt ?? null,
    }
  }

  return {
    async start() {
      if (state !== 'new') throw new Error('webhooks: start() once')
      if (configs.length === 0) {
        state = 'started'
        return
      }
      const senders: Sender[] = []
      try {
        for (const config of configs) {
          const secret = env[config.secretEnv]
          if (!secret) {
            throw new LinewatchError(
              'LW_ERR_SECRET_MISSING',
              `webhook ${config.id}: set the environment variable ${config.secretEnv} (its HMAC secret)`,
            )
          }
          const ca =
            config.trustCertificate === undefined
              ? undefined
              : readFileSync(config.trustCertificate, 'utf8')
          const sender = createSender(config.url, ca)
          senders.push(sender)
          hooks.set(config.id, {
            config,
            events: new Set(config.events),
            secret,
            sender,
            inFlight: undefined,
            wake: undefined,
            worker: undefined,
            failuresInARow: 0,
            unlogged: 0,
            lastLoggedAt: Number.NEGATIVE_INFINITY,
            givenUpUnlogged: 0,
            lastGivenUpLoggedAt: Number.NEGATIVE_INFINITY,
          })
        }
        backlog = new Backlog(path)
        backlog.hooks(configs.map((c) => c.id))
        for (const config of configs) {
          const n = backlog.trimAndCount(config.id, config.maxBacklog)
          if (n > 0) {
            log.warn(
              { hook: config.id, dropped: n, maxBacklog: config.maxBacklog },
              'webhook backlog above maxBacklog: the oldest deliveries dropped',
            )
          }
        }
        for (const [hook, n] of backlog.pendingByHook()) {
          if (!hooks.has(hook)) {
            log.warn(
              { hook, pending: n },
              'pending deliveries of a webhook no longer configured: kept, not sent',
            )
          } else log.info({ hook, pending: n }, 'resuming pending webhook deliveries')
        }
      } catch (e) {
        for (const s of senders) s.close()
        hooks.clear()
        backlog?.close()
        backlog = undefined
        throw e
      }
      state = 'started'
      flush()
      for (const hook of hooks.values()) {
        hook.worker = work(hook).catch((e: unknown) =>
          log.error({ err: e, hook: hook.config.id }, 'webhook worker stopped'),
        )
      }
    },

    async stop() {
      if (state !== 'started') {
        state = 'stopped'
        return
      }
      flush()
      state = 'stopped'
      if (flushRetry) clearTimeout(flushRetry)
      stopping.abort()
      for (const hook of hooks.values()) hook.wake?.()
      await Promise.all([...hooks.values()].map((h) => h.worker))
      final = configs.map(statusOf)
      for (const hook of hooks.values()) hook.sender.close()
      backlog?.close()
      backlog = undefined
    },

    notify(event) {
      try {
        if (state === 'stopped') {
          if (!warnedStopped)
            log.warn({ event: event.type, id: event.id }, 'webhooks stopped: events not sent')
          warnedStopped = true
          return
        }
        let body: string | undefined
        for (const config of configs) {
          if (!config.events.includes(event.type)) continue
          body ??= JSON.stringify(event)
          const list = queued.get(config.id)
          if (!list) continue
          list.push({ id: randomUUID(), event: event.type, body, createdAt: now() })
          // Bounded before it is written too (notify before start, or the backlog failing).
          if (list.length > config.maxBacklog) {
            const over = list.splice(0, list.length - config.maxBacklog).length
            droppedQueued.set(config.id, (droppedQueued.get(config.id) ?? 0) + over)
          }
        }
        schedule()
      } catch (e) {
        log.error({ err: e, event: event?.type }, 'webhook event not queued')
      }
    },

    status() {
      if (!backlog) return final ?? configs.map(statusOf)
      try {
        return configs.map(statusOf)
      } catch (e) {
        log.error({ err: e }, 'cannot read the webhook backlog')
        return []
      }
    },

    failedDeliveries(hook, limit = 100) {
      return backlog?.failed(hook, Math.max(1, Math.min(limit, 1000))) ?? []
    },
  }
}

/** What went wrong, for lastError and the log: the network error of fetch is in its cause. */
function describe(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return `timed out after ${timeoutMs} ms`
  }
  const cause =
    e instanceof Error ? (e.cause as { message?: string; code?: string } | undefined) : undefined
  if (cause?.message) return cause.message
  return e instanceof Error ? e.message : String(e)
}
