import { Redis } from 'ioredis'
import type { Logger } from '../log.ts'

/**
 * The two Redis connections of the socket.io Redis adapter (one publishes, one subscribes),
 * made so that Redis can never hold up or crash the gateway:
 *
 * - they connect at once and, while Redis is away, reconnect for ever with a bounded backoff
 *   (0.2 s doubling up to 5 s);
 * - the publishing connection has no offline queue: while Redis is away a publish fails at once
 *   (and the event still reaches this gateway's own dashboards) rather than pile up in memory;
 * - the adapter calls publish and subscribe without handling their promises: they are handled
 *   here, so a failure is never an unhandled rejection;
 * - errors are logged at a bounded rate: the first of an outage, then a summary at most every
 *   30 s; the return of Redis is logged once.
 */
export interface LiveRedis {
  pub: Redis
  sub: Redis
  /** Both connections are ready. */
  ready(): boolean
  /** Disconnects at once (nothing waits for a Redis that may be away). */
  close(): void
}

const ERROR_LOG_INTERVAL_MS = 30_000

/** Redis URL with the password (if any) left out, for the logs. */
export function redactedRedisUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(not a URL)'
  }
}

export function connectLiveRedis(options: {
  url: string
  log: Logger
  /** Both connections are ready: at first, and again after every outage. */
  onReady?: () => void
}): LiveRedis {
  const { log } = options
  const where = redactedRedisUrl(options.url)
  const common = {
    lazyConnect: false,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(200 * 2 ** Math.min(times - 1, 5), 5_000),
  }
  // No offline queue: an event that cannot be published now is not kept for later.
  const pub = new Redis(options.url, { ...common, enableOfflineQueue: false })
  // The subscriptions wait (however long) for Redis, then are renewed on every reconnection.
  const sub = new Redis(options.url, { ...common, maxRetriesPerRequest: null })

  let failing = false
  let lastLogged = 0
  let suppressed = 0
  const onError = (connection: string) => (err: unknown) => {
    const now = Date.now()
    if (!failing || now - lastLogged >= ERROR_LOG_INTERVAL_MS) {
      log.warn(
        { err, connection, redis: where, suppressed },
        failing
          ? 'Redis still unreachable: live events are pushed to this gateway’s dashboards only'
          : 'Redis unreachable: live events are pushed to this gateway’s dashboards only until it is back',
      )
      failing = true
      lastLogged = now
      suppressed = 0
    } else suppressed++
  }
  for (const [name, client] of [
    ['publish', pub],
    ['subscribe', sub],
  ] as const) {
    client.on('error', onError(name))
    client.on('ready', () => {
      if (pub.status !== 'ready' || sub.status !== 'ready') return
      if (failing)
        log.info({ redis: where, suppressed }, 'Redis reachable again: live events shared')
      else log.info({ redis: where }, 'live hub connected to Redis: live events shared')
      failing = false
      suppressed = 0
      options.onReady?.()
    })
  }
  guard(pub, ['publish'], onError('publish'))
  guard(sub, ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'], (err) => {
    // A manual close rejects what was still queued: not worth a warning.
    if (sub.status !== 'end') onError('subscribe')(err)
  })

  return {
    pub,
    sub,
    ready: () => pub.status === 'ready' && sub.status === 'ready',
    close() {
      pub.disconnect()
      sub.disconnect()
    },
  }
}

/** Handles the promise of each call of these methods (the caller still gets it). */
function guard(client: Redis, methods: string[], onError: (err: unknown) => void): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const method of methods) {
    const original = target[method]
    if (typeof original !== 'function') continue
    target[method] = (...args: unknown[]) => {
      let result: unknown
      try {
        result = original.apply(client, args)
      } catch (err) {
        onError(err)
        return Promise.resolve()
      }
      if (result instanceof Promise) result.catch(onError)
      return result
    }
  }
}
