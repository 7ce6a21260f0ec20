/**
 * Pipeline benchmark: publishers (a child process) → embedded broker → the full pipeline
 * (SPC, SQLite store, live push) for 1,000 characteristics, against the bare broker (aedes
 * with an in-process subscriber that does nothing) measured in the same run. Throughput is
 * taken with the publishers going flat out; latency (publish → socket.io event, or → the bare
 * subscriber) at a fixed paced rate, so it measures the path rather than a queue.
 */
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { io } from 'socket.io-client'
import { sha256Hex } from '../gateway/api/auth.ts'
import { parseConfig } from '../gateway/config/index.ts'
import type { ClientToServer, Health, ServerToClient } from '../gateway/contract.ts'
import { createGateway } from '../gateway/index.ts'
import { createLogger } from '../gateway/log.ts'

export interface PipelineBenchOptions {
  characteristics: number
  /** Readings per throughput phase. */
  total: number
  /** Readings per second in the latency phase, and its length. */
  pacedRate: number
  pacedSeconds: number
  connections: number
}

export interface Rate {
  readingsPerSecond: number
  seconds: number
}

export interface Latency {
  samples: number
  p50Ms: number
  p99Ms: number
}

export interface PipelineBenchResult {
  options: PipelineBenchOptions
  broker: { throughput: Rate; latency: Latency }
  pipeline: {
    throughput: Rate
    latency: Latency
    storeWritten: number
    rssMiB: number
    flushIntervalMs: number
  }
  ratios: { throughput: number; latencyP50: number; latencyP99: number }
}

const PREFIX = 'bench'
const TOKEN = 'benchmark-viewer-token-0123456789abcdefghijkl'

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b)
  return { samples: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) }
}

/** Runs the publisher child for one phase; resolves with the epoch ms at which it started publishing. */
function publish(
  url: string,
  o: PipelineBenchOptions,
  total: number,
  rate: number,
): Promise<{ started: number; done: Promise<void> }> {
  const child = fork(join(import.meta.dirname, 'publisher.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    const done = new Promise<void>((ok, fail) =>
      child.on('exit', (code) =>
        code === 0 ? ok() : fail(new Error(`publisher exited with ${code}`)),
      ),
    )
    child.on('message', (m: { started?: number }) => {
      if (m.started) resolve({ started: m.started, done })
    })
    child.on('error', reject)
    child.send({
      start: {
        url,
        connections: o.connections,
        total,
        rate,
        characteristics: o.characteristics,
        topicPrefix: PREFIX,
      },
    })
  })
}

async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark phase timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
  return Date.now()
}

/**
 * The three phases, the same for the bare broker and the pipeline: a warm-up (every chart
 * collects its baseline and freezes its limits; the JIT warms up), flat out for throughput,
 * then paced for latency. `processed` counts the readings taken so far.
 */
async function phases(
  url: string,
  o: PipelineBenchOptions,
  processed: () => number | Promise<number>,
  startSampling: () => void,
  /** Resolves when the work behind `processed` has caught up (e.g. the store's writer). */
  settle: () => Promise<void> = async () => {},
): Promise<Rate> {
  const run = async (count: number, rate: number): Promise<number> => {
    const target = (await processed()) + count
    const started = await publish(url, o, count, rate)
    await waitUntil(async () => (await processed()) >= target, 300_000)
    // Sustained means everything stored too, not a backlog left behind.
    await settle()
    const end = Date.now()
    await started.done
    return (end - started.started) / 1000
  }
  await run(o.characteristics * 30, 0)
  const seconds = await run(o.total, 0)
  startSampling()
  await run(o.pacedRate * o.pacedSeconds, o.pacedRate)
  return { readingsPerSecond: o.total / seconds, seconds }
}

async function benchBroker(
  o: PipelineBenchOptions,
): Promise<{ throughput: Rate; latency: Latency }> {
  const broker = await Aedes.createBroker()
  let delivered = 0
  let sampling = false
  const samples: number[] = []
  broker.subscribe(
    `${PREFIX}/#`,
    (packet, done) => {
      delivered++
      if (sampling) {
        const ts = Number(/"ts":(\d+)/.exec(packet.payload.toString())?.[1])
        samples.push(Date.now() - ts)
      }
      done()
    },
    () => {},
  )
  const server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`
  try {
    const throughput = await phases(
      url,
      o,
      () => delivered,
      () => {
        sampling = true
      },
    )
    return { throughput, latency: latency(samples) }
  } finally {
    await new Promise<void>((r) => server.close(() => r()))
    await new Promise<void>((r) => broker.close(() => r()))
  }
}

function benchConfigYaml(o: PipelineBenchOptions, dataDir: string): string {
  const lines = [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'log: { level: silent }',
    'http: { host: 127.0.0.1, port: 0 }',
    `auth: { tokens: [{ id: bench, role: viewer, sha256: ${sha256Hex(TOKEN)} }] }`,
    'mqtt: { broker: { host: 127.0.0.1, port: 0 } }',
    'characteristics:',
  ]
  for (let i = 0; i < o.characteristics; i++) {
    const id = `c${String(i).padStart(4, '0')}`
    lines.push(
      `  - { id: ${id}, name: Characteristic ${i}, path: bench/area-${i % 10}/line-${i % 50}/cell-${i}, source: { mqtt: { topic: ${PREFIX}/${id} } }, limits: { alertHigh: 120, actionHigh: 150 } }`,
    )
  }
  return lines.join('\n')
}

async function benchPipeline(o: PipelineBenchOptions) {
  const dataDir = await mkdtemp(join(tmpdir(), 'linewatch-bench-'))
  const config = parseConfig(benchConfigYaml(o, dataDir), 'bench.yaml')
  const gateway = await createGateway(config, { log: createLogger('silent') })
  const url = gateway.urls.mqtt as string
  const health = async () =>
    (await (await fetch(`${gateway.urls.http}/api/health`)).json()) as Health
  const socket = io(gateway.urls.http, { auth: { token: TOKEN }, transports: ['websocket'] })
  const samples: number[] = []
  let sampling = false
  socket.on('points', (update) => {
    if (!sampling) return
    const now = Date.now()
    for (const p of update.points) samples.push(now - p.ts)
  })
  try {
    await waitUntil(() => socket.connected, 10_000)
    const watched = Array.from({ length: 10 }, (_, i) => `c${String(i * 100).padStart(4, '0')}`)
    const ack = await (
      socket as unknown as import('socket.io-client').Socket<ServerToClient, ClientToServer>
    ).emitWithAck('watch', watched)
    if (!ack.ok) throw new Error(ack.error)

    const throughput = await phases(
      url,
      o,
      async () => (await health()).counters.readings,
      () => {
        sampling = true
      },
      () => waitUntil(async () => (await health()).store.pending === 0, 300_000).then(() => {}),
    )
    await new Promise((r) => setTimeout(r, config.live.flushIntervalMs * 3))
    const h = await health()
    return {
      throughput,
      latency: latency(samples),
      storeWritten: h.store.written,
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      flushIntervalMs: config.live.flushIntervalMs,
    }
  } finally {
    socket.close()
    await gateway.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runPipelineBench(o: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const broker = await benchBroker(o)
  const pipeline = await benchPipeline(o)
  return {
    options: o,
    broker,
    pipeline,
    ratios: {
      throughput: pipeline.throughput.readingsPerSecond / broker.throughput.readingsPerSecond,
      latencyP50: pipeline.latency.p50Ms / broker.latency.p50Ms,
      latencyP99: pipeline.latency.p99Ms / broker.latency.p99Ms,
    },
  }
}
