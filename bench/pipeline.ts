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
    const run = await publish(url, o, o.total, 0)
    const end = await waitUntil(() => delivered >= o.total, 300_000)
    await run.done
    const throughput = {
      readingsPerSecond: o.total / ((end - run.started) / 1000),
      seconds: (end - run.started) / 1000,
    }
    sampling = true
    const paced = o.pacedRate * o.pacedSeconds
    const before = delivered
    const pacedRun = await publish(url, o, paced, o.pacedRate)
    await waitUntil(() => delivered >= before + paced, 300_000)
    await pacedRun.done
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

    // Warm-up: every chart collects its baseline and freezes its limits.
    const warm = o.characteristics * 30
    const warmRun = await publish(url, o, warm, 0)
    await waitUntil(async () => (await health()).counters.readings >= warm, 300_000)
    await warmRun.done

    const run = await publish(url, o, o.total, 0)
    const end = await waitUntil(
      async () => (await health()).counters.readings >= warm + o.total,
      300_000,
    )
    await run.done
    const throughput = {
      readingsPerSecond: o.total / ((end - run.started) / 1000),
      seconds: (end - run.started) / 1000,
    }

    sampling = true
    const paced = o.pacedRate * o.pacedSeconds
    const pacedRun = await publish(url, o, paced, o.pacedRate)
    await waitUntil(
      async () => (await health()).counters.readings >= warm + o.total + paced,
      300_000,
    )
    await pacedRun.done
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
