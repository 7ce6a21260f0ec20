/**
 * The system under test, a child process of its own for every configuration (so one run's
 * memory does not show in the next one's RSS), started with --expose-gc:
 *
 * - `broker`: the bare broker, aedes on a TCP port with an in-process subscriber to
 *   `bench/#` that counts messages and, while sampling, takes publish → delivery latencies
 *   from their `ts`. Its QoS 1 PUBACK goes as soon as aedes has delivered the message.
 * - `gateway`: the whole gateway (createGateway) from a YAML configuration file, loaded as
 *   `linewatch start` loads it (loadConfigFile: a large file in a child process), so that its
 *   RSS holds what a gateway started from such a file holds.
 *
 * Requests from the parent carry an `id`; the answer has the same `id`:
 *   {start: StartTarget} → {ready: TargetReady}; {progress} → {count, pending}: the broker's
 *   messages delivered, or the gateway's readings taken and its store and records writes not
 *   yet committed (from `gateway.health()` in this process: polled every 10 ms, an HTTP
 *   request to /api/health would cost the gateway's thread and the machine's cores more than
 *   asking the bare broker costs it);
 *   {sampling: boolean}; {samples} → {samples: ms[]} (broker); {parse: boolean} → the
 *   broker's subscriber parses each payload's JSON, or not; {memory} → {memory} after a
 *   full GC; {stop} → closes and exits.
 */
import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'
import { loadConfigFile } from '../gateway/config/index.ts'
import { createGateway, type Gateway } from '../gateway/index.ts'
import { createLogger } from '../gateway/log.ts'
import { PREFIX } from './fixture.ts'

export type StartTarget = { kind: 'broker' } | { kind: 'gateway'; configFile: string }

export interface Memory {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
}

export interface TargetReady {
  mqtt: { host: string; port: number }
  http: string | null
  /** After a full GC: before the gateway (or broker) is created, and once it runs. */
  before: Memory
  started: Memory
  /** Time to create and start it (for the gateway: runtimes, store, recovery, listeners). */
  startMs: number
  /** The gateway's configuration file loaded (before startMs); 0 for the broker. */
  configLoadMs: number
}

type Request = { id: number } & (
  | { start: StartTarget }
  | { progress: true }
  | { sampling: boolean }
  | { parse: boolean }
  | { samples: true }
  | { memory: true }
  | { stop: true }
)

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  }
}

let delivered = 0
/** Sampling since (ms): only messages published since then are the paced phase's. */
let since: number | null = null
const samples: number[] = []
/** The subscriber parses each payload's JSON (the baseline for batches: what any consumer must do). */
let parse = false
/** Kept, so that the parse is not optimised away. */
let parsed = 0
let stop: () => Promise<void> = async () => {}
let gateway: Gateway | null = null

async function startBroker(): Promise<Omit<TargetReady, 'before' | 'started' | 'startMs'>> {
  const broker = await Aedes.createBroker()
  broker.subscribe(
    `${PREFIX}/#`,
    (packet, done) => {
      delivered++
      if (parse) parsed += (JSON.parse(packet.payload.toString()) as unknown[]).length
      if (since !== null) {
        const ts = Number(/"ts":(\d+)/.exec(packet.payload.toString())?.[1])
        if (ts >= since) samples.push(Date.now() - ts)
      }
      done()
    },
    () => {},
  )
  const server: Server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  stop = async () => {
    await new Promise<void>((r) => server.close(() => r()))
    await new Promise<void>((r) => broker.close(() => r()))
  }
  const port = (server.address() as { port: number }).port
  return { mqtt: { host: '127.0.0.1', port }, http: null, configLoadMs: 0 }
}

async function startGateway(
  configFile: string,
): Promise<Omit<TargetReady, 'before' | 'started' | 'startMs'>> {
  const t0 = performance.now()
  const config = await loadConfigFile(configFile)
  const configLoadMs = performance.now() - t0
  const g = await createGateway(config, { log: createLogger('silent') })
  gateway = g
  stop = () => g.close()
  const mqtt = new URL(g.urls.mqtt as string)
  return {
    mqtt: { host: mqtt.hostname, port: Number(mqtt.port) },
    http: g.urls.http,
    configLoadMs,
  }
}

async function answer(req: Request): Promise<Record<string, unknown>> {
  if ('start' in req) {
    const before = memory()
    const t0 = performance.now()
    const urls =
      req.start.kind === 'broker' ? await startBroker() : await startGateway(req.start.configFile)
    // Creating and starting it: the configuration's loading is apart.
    const startMs = performance.now() - t0 - urls.configLoadMs
    return { ready: { ...urls, before, started: memory(), startMs } satisfies TargetReady }
  }
  if ('progress' in req) {
    if (!gateway) return { count: delivered, pending: 0 }
    const h = gateway.health()
    return { count: h.counters.readings, pending: h.store.pending + (h.records?.pending ?? 0) }
  }
  if ('sampling' in req) {
    since = req.sampling ? Date.now() : null
    return {}
  }
  if ('samples' in req) return { samples }
  if ('parse' in req) {
    parse = req.parse
    return { parsed }
  }
  if ('memory' in req) return { memory: memory() }
  await stop()
  return { stopped: true }
}

process.on('message', (req: Request) => {
  answer(req).then(
    (reply) => {
      process.send?.({ id: req.id, ...reply }, () => {
        if ('stop' in req) process.exit(0)
      })
    },
    (err: unknown) => {
      process.send?.({ id: req.id, error: (err as Error).stack ?? String(err) })
    },
  )
})
