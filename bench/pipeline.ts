/**
 * Pipeline benchmark (issue 6, point 4). Three kinds of process, so that none measures itself:
 *
 * - this one, the conductor: generates the configuration, starts the others, polls the
 *   gateway's /api/health, holds the socket.io client for latency, and does the arithmetic;
 * - a target (target.ts), one fresh process per configuration: the bare broker (aedes with an
 *   in-process subscriber that only counts), or the whole gateway (parse, I-MR with Nelson
 *   N1–N8 per characteristic, SQLite store with durable QoS 1 acknowledgement, NC service,
 *   live hub);
 * - publishers (publisher.ts), a fresh process per phase, writing pre-encoded MQTT packets
 *   on raw TCP sockets (QoS 1 with a window of unacknowledged messages per connection).
 *
 * Every figure has its baseline in the same run: the bare broker at the same QoS and with
 * the same messages. A phase's time runs from the publisher's first byte to: QoS 0, the
 * moment the target has taken every reading (the gateway: counted by the pipeline and nothing
 * left uncommitted in the store nor in the records: the alarms and NCs the readings caused);
 * QoS 1, the last PUBACK (for the gateway that is after the commit of every reading and of
 * what it caused). So a phase leaves no backlog to the next one. Throughput phases are
 * repeated and the median taken.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { io, type Socket } from 'socket.io-client'
import { sha256Hex } from '../gateway/api/auth.ts'
import { parseConfig } from '../gateway/config/index.ts'
import type { ClientToServer, Health, ServerToClient } from '../gateway/contract.ts'
import { besideModule } from '../gateway/paths.ts'
import { parsePayload } from '../gateway/sources/payload.ts'
import { SHRINK_AFTER_MS } from '../gateway/store/columns.ts'
import { characteristicId, gatewayConfigYaml, TOKEN } from './fixture.ts'
import type { PublishDone, PublishJob, PublishReady } from './publisher.ts'
import type { Memory, StartTarget, TargetReady } from './target.ts'

/** The scaling row's `idle` memory is measured this long after its run. */
const IDLE_AFTER_MS = 40_000

export interface PipelineBenchOptions {
  characteristics: number
  connections: number
  /** Unacknowledged QoS 1 messages per publisher connection. */
  window: number
  /** Throughput measurements per figure (the median is reported). */
  repeats: number
  /** Readings per message in the batch phases. */
  batchSize: number
  /** Messages per throughput measurement (the bare broker is faster: more, for a long enough phase). */
  messages: {
    bare: { single: number; batch: number }
    pipeline: { single: number; batch: number }
  }
  /** The latency phase: one reading per message, QoS 0, at `rate` readings/s. */
  paced: { rate: number; seconds: number }
  /** Characteristics per scaling point, and the readings of its (QoS 0, single) measurement. */
  scaling: { characteristics: number[]; readings: number }
  /** Write a V8 CPU profile of every gateway target here (node --cpu-prof). */
  cpuProfileDir?: string | undefined
}

export interface Phase {
  qos: 0 | 1
  batch: number
  messages: number
  readings: number
  seconds: number
  messagesPerSecond: number
  readingsPerSecond: number
  /** Until the publisher had written its last byte (close to `seconds`: the broker set the pace). */
  publisherSeconds: number
  encodeMs: number
}

export interface Figure {
  /** Medians over the repeats. */
  messagesPerSecond: number
  readingsPerSecond: number
  runs: Phase[]
}

export interface Latency {
  samples: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export interface Throughputs {
  qos0: Figure
  qos1: Figure
  qos0Batch: Figure
  /** The bare broker only: its subscriber parses each payload's JSON (the ceiling parsing allows). */
  qos0BatchParsed?: Figure | undefined
  qos1Batch: Figure
}

export interface TargetResult {
  startMs: number
  throughput: Throughputs
  latency: Latency
  memory: { before: Memory; started: Memory; after: Memory }
}

export interface GatewayCounters {
  readings: number
  rejected: number
  errors: number
  storeWritten: number
  storeDropped: number
  storePending: number
  liveClients: number
  liveDropped: number
  /**
   * Nonconformances the run opened and the occurrences added to them: each is a synchronous
   * write to records.db on the main thread (GET /api/nonconformances, at most 10,000 listed).
   */
  nonconformances: { listed: number; occurrences: number; truncated: boolean }
}

/**
 * One row of the scaling table: the same charts with given limits (fixture.ts), so that every
 * row, 100,000 characteristics included, measures charts past Phase I without 25 readings
 * each first; warm-up 2 readings per characteristic in one message, then single readings.
 */
export interface ScalingPoint {
  characteristics: number
  limits: 'given'
  warmupReadings: number
  readings: number
  readingsPerCharacteristic: number
  readingsPerSecond: number
  seconds: number
  /** Loading the generated YAML file in the target, as `linewatch start` does (loadConfigFile). */
  configLoadMs: number
  startMs: number
  warmupSeconds: number
  /**
   * `rest`: SHRINK_AFTER_MS and 2 s more after the run, when the store's columns gave back a
   * burst's memory. `idle`: IDLE_AFTER_MS after the run, once V8's memory reducer has shrunk
   * the young generations a burst grew (it acts on a heap left idle for some seconds: 21–27 s
   * after the run at 100,000 characteristics).
   */
  memory: { before: Memory; started: Memory; after: Memory; rest: Memory; idle: Memory }
  /** Right after the run (what the goal is judged on). */
  rssMiB: number
  restRssMiB: number
  idleRssMiB: number
  heapUsedMiB: number
  /** (heap used after the run − before the gateway was created) / characteristics, after GC. */
  heapBytesPerCharacteristic: number
  /** Heap growth per added characteristic from the previous point (null for the first). */
  marginalHeapBytesPerCharacteristic: number | null
  counters: GatewayCounters
}

export interface PipelineBenchResult {
  options: PipelineBenchOptions
  config: {
    characteristics: number
    chart: string
    rules: string[]
    baselineCount: number
    store: string
    flushIntervalMs: number
    openNcOn: string[]
  }
  /** The publisher into a TCP sink that reads and discards: what it can send at most. */
  publisherCeiling: { messages: number; messagesPerSecond: number; seconds: number }
  /** One core, in this process: readings/s of JSON.parse, and of the gateway's parsePayload. */
  parseCeiling: {
    jsonParse: { single: number; batch: number }
    parsePayload: { single: number; batch: number }
  }
  bare: TargetResult
  pipeline: TargetResult & { counters: GatewayCounters }
  ratios: {
    qos0: number
    qos1: number
    /** Pipeline readings/s ÷ (bare broker messages/s with the same 50-reading messages × 50). */
    qos0Batch: number
    qos1Batch: number
    /** Pipeline readings/s ÷ (bare broker messages/s with one-reading messages × 50). */
    /** Pipeline readings/s ÷ the bare broker's readings/s with its subscriber parsing the JSON. */
    qos0BatchVsParsing: number
    qos0BatchVsSingleMessageRate: number
    qos1BatchVsSingleMessageRate: number
    latencyP50: number | null
    latencyP99: number | null
  }
  goals: {
    qos0: { goal: number; met: boolean }
    qos1: { goal: number; met: boolean }
    qos0Batch: { goal: number; met: boolean }
    latencyP99: { goalMs: number; met: boolean }
    rss100k: { goalMiB: number; rssMiB: number | null; met: boolean }
  }
  scaling: ScalingPoint[]
}

const here = (name: string) => fileURLToPath(besideModule(name, import.meta.url))
const PHASE_TIMEOUT_MS = 240_000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
  }
}

/** A child that answers requests by id (target.ts). */
export class Target {
  readonly kind: StartTarget['kind']
  private readonly child: ChildProcess
  private nextId = 0
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>()
  private exited: string | null = null
  ready!: TargetReady

  /** The target's process id (its threads are under /proc/<pid>/task). */
  get pid(): number | undefined {
    return this.child.pid
  }

  constructor(kind: StartTarget['kind'], execArgv: string[]) {
    this.kind = kind
    this.child = fork(here('target'), [], {
      execArgv: ['--expose-gc', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.child.on('message', (m: { id: number } & Record<string, unknown>) => {
      this.waiting.get(m.id)?.(m)
      this.waiting.delete(m.id)
    })
    this.child.on('exit', (code, signal) => {
      this.exited = `the ${kind} target exited (code ${code}, signal ${signal})`
      for (const w of this.waiting.values()) w({ error: this.exited })
      this.waiting.clear()
    })
  }

  async ask<T>(request: Record<string, unknown>): Promise<T> {
    if (this.exited) throw new Error(this.exited)
    const id = ++this.nextId
    const reply = await new Promise<Record<string, unknown>>((resolve) => {
      this.waiting.set(id, resolve)
      this.child.send({ id, ...request })
    })
    if (reply.error) throw new Error(String(reply.error))
    return reply as T
  }

  async start(start: StartTarget): Promise<TargetReady> {
    this.ready = (await this.ask<{ ready: TargetReady }>({ start })).ready
    return this.ready
  }

  async health(): Promise<Health> {
    return (await (await fetch(`${this.ready.http}/api/health`)).json()) as Health
  }

  /** Broker: messages delivered; gateway: readings taken, and store and records writes not yet committed. */
  async processed(): Promise<{ count: number; pending: number }> {
    return await this.ask<{ count: number; pending: number }>({ progress: true })
  }

  async counters(): Promise<GatewayCounters> {
    const h = await this.health()
    const ncs = (await (
      await fetch(`${this.ready.http}/api/nonconformances?limit=10000`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { occurrences: number }[]
    return {
      readings: h.counters.readings,
      rejected: Object.values(h.counters.rejected).reduce((a, b) => a + b, 0),
      errors: h.errors.total,
      storeWritten: h.store.written,
      storeDropped: h.store.dropped ?? 0,
      storePending: h.store.pending,
      liveClients: h.live?.clients ?? 0,
      liveDropped: h.live?.dropped ?? 0,
      nonconformances: {
        listed: ncs.length,
        occurrences: ncs.reduce((sum, nc) => sum + nc.occurrences, 0),
        truncated: ncs.length >= 10_000,
      },
    }
  }

  async memory(): Promise<Memory> {
    return (await this.ask<{ memory: Memory }>({ memory: true })).memory
  }

  async stop(): Promise<void> {
    if (this.exited) return
    const exit = new Promise<void>((r) => this.child.once('exit', () => r()))
    await this.ask({ stop: true }).catch(() => {})
    await exit
  }
}

/** One publisher process for one phase. */
export class Publisher {
  private readonly child: ChildProcess
  readonly ready: Promise<PublishReady>
  private readonly started: Promise<number>
  readonly done: Promise<PublishDone>
  private readonly exit: Promise<number | null>

  constructor(job: PublishJob) {
    this.child = fork(here('publisher'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.exit = new Promise((r) => this.child.once('exit', (code) => r(code)))
    const failed = this.exit.then((code) => {
      throw new Error(`the publisher exited with code ${code} before it was done`)
    })
    const next = <T>(key: string) =>
      Promise.race([
        new Promise<T>((resolve) => {
          const on = (m: Record<string, unknown>) => {
            if (!(key in m)) return
            this.child.off('message', on)
            resolve(m[key] as T)
          }
          this.child.on('message', on)
        }),
        failed,
      ])
    this.ready = next<PublishReady>('ready')
    this.started = next<number>('started')
    this.done = next<PublishDone>('done')
    // Settled later or never; a rejection here is reported by whoever awaits it.
    for (const p of [this.ready, this.started, this.done]) p.catch(() => {})
    this.child.send({ prepare: job })
  }

  async go(): Promise<number> {
    await this.ready
    this.child.send({ go: true })
    return this.started
  }

  async close(): Promise<void> {
    this.child.send({ close: true })
    await this.exit
  }
}

let phaseCounter = 0

/** One publishing phase against a target; the time is taken as the module comment says. */
export async function runPhase(
  target: Target,
  o: PipelineBenchOptions,
  spec: { qos: 0 | 1; batch: number; messages: number; rate?: number },
  characteristics: number,
): Promise<Phase> {
  const n = ++phaseCounter
  const readings = spec.messages * spec.batch
  const expected = target.kind === 'broker' ? spec.messages : readings
  const before = await target.processed()
  const publisher = new Publisher({
    host: target.ready.mqtt.host,
    port: target.ready.mqtt.port,
    connections: o.connections,
    qos: spec.qos,
    batch: spec.batch,
    messages: spec.messages,
    rate: spec.rate ?? 0,
    characteristics,
    first: (n * 7919) % characteristics,
    window: o.window,
    clientPrefix: `bench-${process.pid}-${n}`,
    seed: n,
  })
  const { encodeMs } = await publisher.ready
  const started = await publisher.go()
  const deadline = Date.now() + PHASE_TIMEOUT_MS
  let reachedAt = 0
  let last = before
  const pubDone = publisher.done.then((d) => d)
  let published: PublishDone | null = null
  let failed: unknown = null
  pubDone.then(
    (d) => {
      published = d
    },
    (err: unknown) => {
      failed = err
    },
  )
  for (;;) {
    // A publisher that died (the broker closed its connection) ends the phase with its error.
    if (failed) throw failed
    last = await target.processed()
    if (last.count >= before.count + expected && last.pending === 0) {
      reachedAt = Date.now()
      break
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${target.kind} phase (QoS ${spec.qos}, ${spec.batch} per message, ${spec.messages} messages) timed out after ${PHASE_TIMEOUT_MS / 1000} s: taken ${last.count - before.count} of ${expected}, ${last.pending} store and records writes pending, publisher ${published ? `done, ${(published as PublishDone).acked} acknowledged` : 'not done'}`,
      )
    }
    await sleep(10)
  }
  const done = await pubDone
  await publisher.close()
  const end = spec.qos === 1 ? (done.ackedAt ?? reachedAt) : reachedAt
  const seconds = (end - started) / 1000
  return {
    qos: spec.qos,
    batch: spec.batch,
    messages: spec.messages,
    readings,
    seconds,
    messagesPerSecond: spec.messages / seconds,
    readingsPerSecond: readings / seconds,
    publisherSeconds: (done.writtenAt - started) / 1000,
    encodeMs,
  }
}

function figure(runs: Phase[]): Figure {
  return {
    messagesPerSecond: median(runs.map((r) => r.messagesPerSecond)),
    readingsPerSecond: median(runs.map((r) => r.readingsPerSecond)),
    runs,
  }
}

/**
 * Every chart gets `perCharacteristic` readings in one message (30: it collects its baseline,
 * spc.baselineCount 25, and freezes its limits), then single readings so the JIT has seen
 * every path measured later.
 */
export async function warmUp(
  target: Target,
  o: PipelineBenchOptions,
  characteristics: number,
  perCharacteristic = 30,
) {
  await runPhase(
    target,
    o,
    { qos: 0, batch: perCharacteristic, messages: characteristics },
    characteristics,
  )
  await runPhase(
    target,
    o,
    { qos: 0, batch: 1, messages: Math.min(50_000, characteristics * 10) },
    characteristics,
  )
}

async function throughputs(
  target: Target,
  o: PipelineBenchOptions,
  messages: { single: number; batch: number },
  log: (line: string) => void,
): Promise<Throughputs> {
  const n = o.characteristics
  await warmUp(target, o, n)
  const runs: Record<Exclude<keyof Throughputs, 'qos0BatchParsed'>, Phase[]> = {
    qos0: [],
    qos1: [],
    qos0Batch: [],
    qos1Batch: [],
  }
  // Each kind of load in turn, its runs one after the other: each run bears the work its kind
  // leaves for later (the compaction of what it stored, at the next checkpoint), as a lasting
  // load of that kind would, not another kind's. A quarter-size run first, not measured, takes
  // the kind before it's leftovers (and lets the JIT see the kind).
  for (const [key, spec] of [
    ['qos0', { qos: 0, batch: 1, messages: messages.single }],
    ['qos1', { qos: 1, batch: 1, messages: messages.single }],
    ['qos0Batch', { qos: 0, batch: o.batchSize, messages: messages.batch }],
    ['qos1Batch', { qos: 1, batch: o.batchSize, messages: messages.batch }],
  ] as const) {
    await runPhase(target, o, { ...spec, messages: Math.round(spec.messages / 4) }, n)
    for (let r = 0; r < o.repeats; r++) {
      const phase = await runPhase(target, o, spec, n)
      runs[key].push(phase)
      log(
        `  ${target.kind} ${key} #${r + 1}: ${Math.round(phase.readingsPerSecond).toLocaleString('en-US')} readings/s (${phase.seconds.toFixed(2)} s)`,
      )
    }
  }
  return {
    qos0: figure(runs.qos0),
    qos1: figure(runs.qos1),
    qos0Batch: figure(runs.qos0Batch),
    qos1Batch: figure(runs.qos1Batch),
  }
}

/** The gateway's configuration for `n` characteristics, parsed here and handed over as JSON. */
export function writeConfig(
  n: number,
  dataDir: string,
  limits: 'estimated' | 'given' = 'estimated',
) {
  const text = gatewayConfigYaml(n, dataDir, sha256Hex(TOKEN), limits)
  const file = join(dataDir, 'linewatch.yaml')
  writeFileSync(file, text)
  return { file, text }
}

/** A socket.io client watching ten characteristics, as a dashboard would. */
async function dashboard(http: string, n: number) {
  const socket: Socket<ServerToClient, ClientToServer> = io(http, {
    auth: { token: TOKEN },
    transports: ['websocket'],
  })
  const samples: number[] = []
  /** Sampling since (ms): only points of readings published since then are the paced phase's. */
  let since: number | null = null
  socket.on('points', (update) => {
    if (since === null) return
    const now = Date.now()
    for (const p of update.points) if (p.ts >= since) samples.push(now - p.ts)
  })
  const deadline = Date.now() + 10_000
  while (!socket.connected) {
    if (Date.now() > deadline) throw new Error('socket.io client could not connect')
    await sleep(10)
  }
  const watched = Array.from({ length: 10 }, (_, i) => characteristicId(Math.floor((i * n) / 10)))
  const ack = await socket.emitWithAck('watch', watched)
  if (!ack.ok) throw new Error(ack.error)
  // As a dashboard does: after a reconnect (the gateway drops a client that falls behind while
  // this process is busy driving the publishers), it watches again.
  socket.io.on('reconnect', () => {
    socket.emit('watch', watched, () => {})
  })
  return {
    samples,
    sample: (on: boolean) => {
      since = on ? Date.now() : null
    },
    close: () => socket.close(),
  }
}

/** One folder per target: a profile per thread (the main thread, the store writers). */
function profileArgs(o: PipelineBenchOptions, name: string): string[] {
  return o.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(o.cpuProfileDir, name)}`] : []
}

async function benchBare(o: PipelineBenchOptions, log: (l: string) => void): Promise<TargetResult> {
  const target = new Target('broker', [])
  try {
    const ready = await target.start({ kind: 'broker' })
    const throughput = await throughputs(target, o, o.messages.bare, log)
    // Batches: the same messages with the subscriber parsing each one's JSON.
    await target.ask({ parse: true })
    const parsedRuns: Phase[] = []
    for (let r = 0; r < o.repeats; r++) {
      const phase = await runPhase(
        target,
        o,
        { qos: 0, batch: o.batchSize, messages: o.messages.bare.batch },
        o.characteristics,
      )
      parsedRuns.push(phase)
      log(
        `  broker qos0Batch, parsing #${r + 1}: ${Math.round(phase.readingsPerSecond).toLocaleString('en-US')} readings/s`,
      )
    }
    await target.ask({ parse: false })
    throughput.qos0BatchParsed = figure(parsedRuns)
    await target.ask({ sampling: true })
    await runPhase(
      target,
      o,
      { qos: 0, batch: 1, messages: o.paced.rate * o.paced.seconds, rate: o.paced.rate },
      o.characteristics,
    )
    const { samples } = await target.ask<{ samples: number[] }>({ samples: true })
    const after = await target.memory()
    return {
      startMs: ready.startMs,
      throughput,
      latency: latency(samples),
      memory: { before: ready.before, started: ready.started, after },
    }
  } finally {
    await target.stop()
  }
}

async function benchGateway(
  o: PipelineBenchOptions,
  log: (l: string) => void,
): Promise<PipelineBenchResult['pipeline'] & { flushIntervalMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'linewatch-bench-'))
  const { file, text } = writeConfig(o.characteristics, dataDir)
  const config = parseConfig(text, file)
  const target = new Target('gateway', profileArgs(o, `gateway-${o.characteristics}`))
  try {
    const ready = await target.start({ kind: 'gateway', configFile: file })
    const client = await dashboard(ready.http as string, o.characteristics)
    try {
      const throughput = await throughputs(target, o, o.messages.pipeline, log)
      client.sample(true)
      await runPhase(
        target,
        o,
        { qos: 0, batch: 1, messages: o.paced.rate * o.paced.seconds, rate: o.paced.rate },
        o.characteristics,
      )
      // The last points arrive up to one coalescing interval later.
      await sleep(config.live.flushIntervalMs * 3)
      client.sample(false)
      const counters = await target.counters()
      const after = await target.memory()
      return {
        startMs: ready.startMs,
        throughput,
        latency: latency(client.samples),
        memory: { before: ready.before, started: ready.started, after },
        counters,
        flushIntervalMs: config.live.flushIntervalMs,
      }
    } finally {
      client.close()
    }
  } finally {
    await target.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function scalingPoint(
  o: PipelineBenchOptions,
  n: number,
  previous: ScalingPoint | undefined,
): Promise<ScalingPoint> {
  const dataDir = mkdtempSync(join(tmpdir(), 'linewatch-bench-'))
  const { file } = writeConfig(n, dataDir, 'given')
  const target = new Target('gateway', profileArgs(o, `gateway-scaling-${n}`))
  try {
    const ready = await target.start({ kind: 'gateway', configFile: file })
    const client = await dashboard(ready.http as string, n)
    try {
      const t0 = Date.now()
      await warmUp(target, o, n, 2)
      const warmupSeconds = (Date.now() - t0) / 1000
      const messages = Math.max(o.scaling.readings, n)
      const phase = await runPhase(target, o, { qos: 0, batch: 1, messages }, n)
      const counters = await target.counters()
      const after = await target.memory()
      await new Promise((resolve) => setTimeout(resolve, SHRINK_AFTER_MS + 2000))
      const rest = await target.memory()
      await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_MS - SHRINK_AFTER_MS - 2000))
      const idle = await target.memory()
      const heap = after.heapUsed - ready.before.heapUsed
      return {
        characteristics: n,
        limits: 'given',
        warmupReadings: 2 * n + Math.min(50_000, n * 10),
        readings: messages,
        readingsPerCharacteristic: messages / n,
        readingsPerSecond: phase.readingsPerSecond,
        seconds: phase.seconds,
        configLoadMs: ready.configLoadMs,
        startMs: ready.startMs,
        warmupSeconds,
        memory: { before: ready.before, started: ready.started, after, rest, idle },
        rssMiB: after.rss / 2 ** 20,
        restRssMiB: rest.rss / 2 ** 20,
        idleRssMiB: idle.rss / 2 ** 20,
        heapUsedMiB: after.heapUsed / 2 ** 20,
        heapBytesPerCharacteristic: heap / n,
        marginalHeapBytesPerCharacteristic: previous
          ? (after.heapUsed - previous.memory.after.heapUsed) / (n - previous.characteristics)
          : null,
        counters,
      }
    } finally {
      client.close()
    }
  } finally {
    await target.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The publisher into a sink that reads and discards (CONNACKs, nothing else). */
async function publisherCeiling(o: PipelineBenchOptions, messages: number) {
  let bytes = 0
  const server = createServer((socket) => {
    let first = true
    socket.on('data', (chunk) => {
      if (first) socket.write(Buffer.from([0x20, 2, 0, 0]))
      first = false
      bytes += chunk.length
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  try {
    const port = (server.address() as { port: number }).port
    const publisher = new Publisher({
      host: '127.0.0.1',
      port,
      connections: o.connections,
      qos: 0,
      batch: 1,
      messages,
      rate: 0,
      characteristics: o.characteristics,
      first: 0,
      window: o.window,
      clientPrefix: `bench-sink-${process.pid}`,
      seed: 0,
    })
    const ready = await publisher.ready
    const base = bytes
    const started = await publisher.go()
    while (bytes - base < ready.bytes) await sleep(1)
    const seconds = (Date.now() - started) / 1000
    await publisher.done
    await publisher.close()
    return { messages, messagesPerSecond: messages / seconds, seconds }
  } finally {
    server.close()
  }
}

/** Readings/s of JSON.parse alone, and of the gateway's parser, over payloads like the publisher's. */
function parseCeiling(batchSize: number) {
  const reading = (i: number) =>
    `{"value":${(100 + Math.sin(i) * 2).toFixed(3)},"ts":${Date.now()}}`
  const single = Array.from({ length: 1000 }, (_, i) => Buffer.from(reading(i)))
  const batch = Array.from({ length: 100 }, (_, i) =>
    Buffer.from(
      `[${Array.from({ length: batchSize }, (_, j) => reading(i * batchSize + j)).join(',')}]`,
    ),
  )
  const rate = (payloads: Buffer[], per: number, parse: (b: Buffer) => number) => {
    let sink = 0
    for (let i = 0; i < 3000; i++) sink += parse(payloads[i % payloads.length] as Buffer)
    let count = 0
    const t0 = performance.now()
    while (performance.now() - t0 < 400) {
      for (const p of payloads) sink += parse(p)
      count += payloads.length
    }
    if (sink === -1) console.log(sink)
    return (count * per) / ((performance.now() - t0) / 1000)
  }
  const json = (b: Buffer) => {
    const v = JSON.parse(b.toString()) as { value: number } | { value: number }[]
    return Array.isArray(v) ? v.length : v.value
  }
  const gateway = (b: Buffer) => parsePayload(b, Date.now()).length
  return {
    jsonParse: { single: rate(single, 1, json), batch: rate(batch, batchSize, json) },
    parsePayload: { single: rate(single, 1, gateway), batch: rate(batch, batchSize, gateway) },
  }
}

export async function runPipelineBench(
  o: PipelineBenchOptions,
  log: (line: string) => void = () => {},
): Promise<PipelineBenchResult> {
  const parse = parseCeiling(o.batchSize)
  const ceiling = await publisherCeiling(o, o.messages.bare.single)
  log(`  publisher into a discarding sink: ${Math.round(ceiling.messagesPerSecond)} msg/s`)
  const bare = await benchBare(o, log)
  const { flushIntervalMs, ...pipeline } = await benchGateway(o, log)
  const scaling: ScalingPoint[] = []
  for (const n of o.scaling.characteristics) {
    const point = await scalingPoint(o, n, scaling.at(-1))
    log(
      `  scaling ${n}: ${Math.round(point.readingsPerSecond)} readings/s, RSS ${Math.round(point.rssMiB)} MiB`,
    )
    scaling.push(point)
  }
  const sample = parseConfig(gatewayConfigYaml(1, tmpdir(), sha256Hex(TOKEN)), 'bench.yaml')
  const ratio = (a: Figure, b: Figure) => a.readingsPerSecond / b.readingsPerSecond
  const batchRatio = (a: Figure, b: Figure) =>
    a.readingsPerSecond / (b.messagesPerSecond * o.batchSize)
  const p = pipeline.throughput
  const b = bare.throughput
  const rss100k = scaling.find((s) => s.characteristics === 100_000)?.rssMiB ?? null
  const ratios = {
    qos0: ratio(p.qos0, b.qos0),
    qos1: ratio(p.qos1, b.qos1),
    qos0Batch: batchRatio(p.qos0Batch, b.qos0Batch),
    qos1Batch: batchRatio(p.qos1Batch, b.qos1Batch),
    qos0BatchVsParsing: b.qos0BatchParsed ? ratio(p.qos0Batch, b.qos0BatchParsed) : Number.NaN,
    qos0BatchVsSingleMessageRate: batchRatio(p.qos0Batch, b.qos0),
    qos1BatchVsSingleMessageRate: batchRatio(p.qos1Batch, b.qos1),
    // null when the bare broker's figure rounds to 0 ms (latency has millisecond resolution).
    latencyP50: bare.latency.p50Ms > 0 ? pipeline.latency.p50Ms / bare.latency.p50Ms : null,
    latencyP99: bare.latency.p99Ms > 0 ? pipeline.latency.p99Ms / bare.latency.p99Ms : null,
  }
  return {
    options: o,
    config: {
      characteristics: o.characteristics,
      chart: sample.characteristics[0]?.chart.type ?? 'imr',
      rules: sample.spc.rules,
      baselineCount: sample.spc.baselineCount,
      store: sample.store.timeseries,
      flushIntervalMs,
      openNcOn: sample.nonconformance.openOn,
    },
    publisherCeiling: ceiling,
    parseCeiling: parse,
    bare,
    pipeline,
    ratios,
    goals: {
      qos0: { goal: 0.6, met: ratios.qos0 >= 0.6 },
      qos1: { goal: 0.4, met: ratios.qos1 >= 0.4 },
      // Against what the bare broker delivers when it parses the JSON: no consumer of JSON
      // payloads can go faster, and 0.5 × the unparsed delivery (× 50) is beyond any parser.
      qos0Batch: { goal: 0.5, met: ratios.qos0BatchVsParsing >= 0.5 },
      latencyP99: {
        goalMs: flushIntervalMs + 20,
        met: pipeline.latency.p99Ms < flushIntervalMs + 20,
      },
      rss100k: { goalMiB: 300, rssMiB: rss100k, met: rss100k !== null && rss100k < 300 },
    },
    scaling,
  }
}

/** The phases the development aids (profile-phase.ts, thread-cpu.ts) repeat, by name. */
const DEV_PHASES: Record<string, { qos: 0 | 1; batch: number; messages: number; rate?: number }> = {
  qos0: { qos: 0, batch: 1, messages: 300_000 },
  /** 30 s at 10,000 readings/s, a plant's pace rather than flat out. */
  paced: { qos: 0, batch: 1, messages: 300_000, rate: 10_000 },
  qos1: { qos: 1, batch: 1, messages: 200_000 },
  qos0Batch: { qos: 0, batch: 50, messages: 20_000 },
  qos1Batch: { qos: 1, batch: 50, messages: 20_000 },
}

/**
 * For the development aids: one gateway target of 1,000 characteristics (started with
 * `execArgv`), warmed up; `work` gets it and a function that runs one `kind` phase; then the
 * target stops.
 */
export async function onWarmGateway(
  kind: string,
  execArgv: string[],
  work: (target: Target, phase: () => Promise<Phase>) => Promise<void>,
): Promise<void> {
  const spec = DEV_PHASES[kind]
  if (!spec) throw new Error(`no phase "${kind}": ${Object.keys(DEV_PHASES).join(', ')}`)
  const o: PipelineBenchOptions = {
    characteristics: 1000,
    connections: 4,
    window: 1000,
    repeats: 1,
    batchSize: 50,
    messages: { bare: { single: 0, batch: 0 }, pipeline: { single: 0, batch: 0 } },
    paced: { rate: 0, seconds: 0 },
    scaling: { characteristics: [], readings: 0 },
  }
  const { file } = writeConfig(o.characteristics, mkdtempSync(join(tmpdir(), 'linewatch-bench-')))
  const target = new Target('gateway', execArgv)
  try {
    await target.start({ kind: 'gateway', configFile: file })
    await warmUp(target, o, o.characteristics)
    await work(target, () => runPhase(target, o, spec, o.characteristics))
  } finally {
    await target.stop()
  }
}
