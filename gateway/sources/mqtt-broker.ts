import type { Worker } from 'node:worker_threads'
import { type ErrorCode, LinewatchError } from '../errors.ts'
import type { Delivery } from '../store/types.ts'
import { startThread } from '../threads.ts'
import {
  BROKER_READING_STRIDE,
  type BrokerOptions,
  type BrokerThreadData,
  DELIVERY_ROW,
  type FromBroker,
  type ToBroker,
} from './broker-thread.ts'
import type { Source, SourceContext, SourceStatus } from './types.ts'

/**
 * The embedded MQTT broker that devices connect to. It runs on a thread of its own
 * (broker-thread.ts: aedes, the packet guard, authentication, payload parsing), so that the
 * broker and the judging of readings each have a core: at broker speed either one alone fills
 * one. This side hands what the broker thread took to the pipeline once per batch, and tells
 * it when a batch is durably stored, so that the PUBACKs waiting on it go out.
 *
 * A broker thread that dies is started again (its connections are gone: devices reconnect and
 * send again what was not acknowledged; the messages the journal has from the last minutes
 * are handed to the new thread so that a resend is known).
 */
export interface MqttBrokerSource extends Source {
  /** The plain TCP port listened on (useful with port 0); null when plainListener is off. */
  port(): number | null
  /** The TLS port listened on; null without mqtt.broker.tls. */
  tlsPort(): number | null
}

const RESTART_MS = 1000
/**
 * The broker thread's V8 young generation. Uncapped, V8 grows it to 128 MiB under load (64 MiB
 * semi-spaces) and keeps it; 96 MiB (32 MiB semi-spaces) took 64 MiB off the RSS at 100,000
 * characteristics at the same QoS 0 rate; 48 MiB cost its thread about 0.5 µs per reading.
 */
const BROKER_YOUNG_GENERATION_MB = 96

/** Readings the broker thread may post ahead of this side's taking them (the gateway passes an eighth of store.maxPendingRecords). */
const DEFAULT_READINGS_AHEAD = 250_000

/** The share of the writers' memory bound waiting at which the broker stops reading, and reads on. */
const PAUSE_AT_BACKLOG = 0.5
const RESUME_AT_BACKLOG = 0.25
const BACKLOG_POLL_MS = 20
/** A lasting overload pauses often: logged at most this often. */
const PAUSE_LOG_MS = 60_000

export function createMqttBrokerSource(
  options: BrokerOptions,
  topics: ReadonlyMap<string, string>,
  /** `deliveries`: the QoS 1/2 messages the journal has from the last minutes (a resend is known). */
  ctx: SourceContext & {
    deliveries(): Promise<Delivery[]>
    /** An error the broker thread logged (a changed acl_file refused, say): counted for health. */
    onError?: () => void
    /** How full the memory of what waits to be committed is, 0 to 1 (the store's or the records'). */
    backlog?: () => number
    /** Readings the broker thread may have posted and this side not yet taken (then it waits). */
    maxReadingsAhead?: number
  },
): MqttBrokerSource {
  const { log, sink } = ctx
  // Characteristics go to the broker thread as numbers; their ids stay here.
  const ids = [...new Set(topics.values())]
  const numberOf = new Map(ids.map((id, n) => [id, n]))
  const numbered: [string, number][] = [...topics].map(([topic, id]) => [
    topic,
    numberOf.get(id) as number,
  ])
  let worker: Worker | null = null
  let stopping = false
  let listeningOn: number | null = options.plainListener ? options.port : null
  let tlsListeningOn: number | null = options.tls ? options.tls.port : null
  let listening = false
  let totals: Pick<
    Extract<FromBroker, { type: 'batch' }>,
    'received' | 'clients' | 'resends' | 'counts'
  > = { received: 0, clients: 0, resends: 0, counts: {} }

  function post(message: ToBroker): void {
    worker?.postMessage(message)
  }

  // The readings taken are told in lots, not after every batch: each message wakes the broker
  // thread (a batch of 50-reading messages is a few hundred readings). A sixteenth of the bound
  // untold never holds the broker: it waits at the bound and reads on below half of it.
  const readingsAhead = ctx.maxReadingsAhead ?? DEFAULT_READINGS_AHEAD
  const tellTakenEvery = Math.max(1, Math.floor(readingsAhead / 16))
  let untold = 0

  // A burst beyond what the writers commit would fill their memory and be refused there; the
  // broker stops reading its connections instead (TCP slows the publishers down), from when
  // half of that memory waits until a quarter does.
  let paused = false
  let pauses = 0
  let pausesLogged = 0
  let lastPauseLog = Number.NEGATIVE_INFINITY
  let backlogPoll: NodeJS.Timeout | null = null
  function checkBacklog(): void {
    if (paused || ctx.backlog === undefined) return
    const backlog = ctx.backlog()
    if (backlog < PAUSE_AT_BACKLOG) return
    paused = true
    pauses++
    post({ type: 'pause' })
    const now = Date.now()
    if (now - lastPauseLog >= PAUSE_LOG_MS) {
      log.warn(
        { backlog: Math.round(backlog * 100) / 100, pausesSinceLastLog: pauses - pausesLogged },
        'the store is behind: the embedded broker stops reading its connections until it catches up',
      )
      lastPauseLog = now
      pausesLogged = pauses
    }
    backlogPoll = setInterval(() => {
      if ((ctx.backlog?.() ?? 0) > RESUME_AT_BACKLOG) return
      endPause()
      post({ type: 'resume' })
    }, BACKLOG_POLL_MS)
    backlogPoll.unref()
  }
  function endPause(): void {
    paused = false
    if (backlogPoll) clearInterval(backlogPoll)
    backlogPoll = null
  }

  function take(batch: Extract<FromBroker, { type: 'batch' }>): void {
    const r = batch.readings
    for (let o = 0, k = 0; o < r.length; o += BROKER_READING_STRIDE, k++) {
      const size = r[o + 3] as number
      const receivedAt = r[o + 4] as number
      sink.reading({
        characteristic: ids[r[o] as number] as string,
        ts: r[o + 1] as number,
        value: r[o + 2] as number,
        size: Number.isNaN(size) ? undefined : size,
        key: batch.keys?.[k],
        receivedAt: Number.isNaN(receivedAt) ? undefined : receivedAt,
      })
    }
    for (const rejection of batch.rejections) sink.reject(rejection)
    const d = batch.deliveries
    for (let o = 0; o < d.length; o += DELIVERY_ROW)
      sink.remember({
        client: batch.deliveryClients[d[o] as number] as string,
        messageId: d[o + 1] as number,
        hash: d[o + 2] as number,
        at: d[o + 3] as number,
      })
    for (const c of batch.communications)
      sink.communication({
        ...c,
        characteristics: c.characteristics.map((n) => ids[Number(n)] as string),
      })
    if (batch.ack > 0) {
      const ack = batch.ack
      sink.durable(() => post({ type: 'durable', ack }))
    }
    untold += r.length / BROKER_READING_STRIDE
    if (untold >= tellTakenEvery) {
      post({ type: 'taken', readings: untold })
      untold = 0
    }
    checkBacklog()
    totals = {
      received: batch.received,
      clients: batch.clients,
      resends: batch.resends,
      counts: batch.counts,
    }
  }

  /** A line the broker thread logged, into this side's logger. */
  function relog(line: string): void {
    try {
      const { level, msg, time: _, ...fields } = JSON.parse(line) as Record<string, unknown>
      const method = (log.levels.labels[Number(level)] ?? 'info') as 'info'
      log[method](fields, String(msg ?? ''))
      // pino: 50 is error, 60 fatal.
      if (Number(level) >= 50) ctx.onError?.()
    } catch {
      log.info({ line }, 'broker thread log line')
    }
  }

  async function startWorker(): Promise<void> {
    // Started again after a thread died: on the ports it listened on (the ones devices know,
    // also where port 0 let the system choose).
    const tls =
      options.tls && tlsListeningOn !== null
        ? { ...options.tls, port: tlsListeningOn }
        : options.tls
    const data: BrokerThreadData = {
      options: { ...options, port: listeningOn ?? options.port, tls },
      topics: numbered,
      deliveries: await ctx.deliveries(),
      maxReadingsAhead: readingsAhead,
      logLevel: log.level,
    }
    const w = startThread('broker-thread', import.meta.url, {
      workerData: data,
      // A young generation V8 would otherwise grow and keep at 128 MiB (see the constant).
      resourceLimits: { maxYoungGenerationSizeMb: BROKER_YOUNG_GENERATION_MB },
    })
    worker = w
    untold = 0
    const started = new Promise<void>((resolve, reject) => {
      const first = (message: FromBroker) => {
        if (message.type === 'listening') {
          listeningOn = message.port
          tlsListeningOn = message.tlsPort
          listening = true
          if (paused) post({ type: 'pause' })
          resolve()
        } else if (message.type === 'failed') {
          const code = message.code as ErrorCode | undefined
          reject(
            code?.startsWith('LW_ERR_')
              ? new LinewatchError(code, message.error)
              : new Error(message.error),
          )
        } else return
        w.off('message', first)
      }
      w.on('message', first)
      w.once('error', reject)
    })
    w.on('message', (message: FromBroker) => {
      if (message.type === 'batch') take(message)
      else if (message.type === 'log') relog(message.line)
    })
    w.on('error', (err) => log.error({ err }, 'MQTT broker thread failed'))
    w.on('exit', (code) => {
      if (worker !== w) return
      worker = null
      listening = false
      if (stopping) return
      log.error({ code }, 'MQTT broker thread exited; starting a new one')
      setTimeout(() => {
        if (!stopping)
          startWorker().catch((err: unknown) =>
            log.error({ err }, 'MQTT broker thread could not restart'),
          )
      }, RESTART_MS).unref()
    })
    return started.catch(async (err: unknown) => {
      stopping = true
      await w.terminate()
      throw err
    })
  }

  return {
    name: 'mqtt',

    start: () => startWorker(),

    port: () => listeningOn,

    tlsPort: () => tlsListeningOn,

    status(): SourceStatus {
      return {
        name: 'mqtt',
        kind: 'mqtt-broker',
        connected: listening,
        detail: worker
          ? `${totals.clients} clients connected, ${totals.resends} resent messages recognised${paused ? '; not reading its connections until the store catches up' : ''}`
          : 'not started',
        received: totals.received,
        // Refused sign-ins, address locks, TLS handshakes and permissions since start, and the
        // times it stopped reading for the store.
        counts: { ...totals.counts, 'paused-for-store': pauses },
      }
    },

    async stop() {
      stopping = true
      endPause()
      const w = worker
      if (!w) return
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
      post({ type: 'stop' })
      // A thread that does not stop in time is ended.
      const timer = setTimeout(() => void w.terminate(), 10_000)
      await exited
      clearTimeout(timer)
      worker = null
      listening = false
    },
  }
}
