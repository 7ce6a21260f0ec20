import { existsSync, readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type LabelValues,
  Registry,
} from 'prom-client'
import { ALARM_PRIORITIES, ALARM_STATES } from '../../rules/index.ts'
import type { AlarmService } from '../alarms/index.ts'
import type { NcService } from '../nonconformance/index.ts'
import type { Pipeline } from '../pipeline/index.ts'
import type { Source, SourceStatus } from '../sources/types.ts'
import type { StoreStatus, TimeSeriesStore } from '../store/types.ts'
import { need } from './replies.ts'

/**
 * Prometheus metrics at GET /metrics (docs/metrics.md), in a registry of the gateway's own (not
 * prom-client's global one). Every figure is read when scraped, from what the gateway counts
 * anyway (/api/health's sources, the pipeline's counters, the store's status, the live hub, the
 * NC and alarm services): nothing is added to the path of a reading but one sampled clock
 * read per snapshot tick for the pipeline lag. The process's own metrics (event-loop delay, CPU,
 * memory, GC) come from prom-client's default collectors, once per process.
 */
export interface MetricsContext {
  version: string
  bootId: string
  /** Answer without a token (metrics.anonymous). */
  anonymous: boolean
  pipeline: Pipeline
  nc: NcService
  alarms: AlarmService
  store: TimeSeriesStore
  sources: () => Source[]
  live?: { clients(): number; dropped(): number; redis(): boolean | null } | undefined
  /** The records writer's status (alarms, NCs, the audit trail…). */
  records?: (() => { pending: number; dropped: number }) | undefined
}

/** The process's metrics: one set per process, however many gateways it runs (tests run several). */
let processRegistry: Registry | null = null
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 })
    // Linux only (/proc/self/io): an SSD's endurance is counted in bytes written.
    if (existsSync(PROC_IO))
      new Counter({
        name: 'process_disk_written_bytes_total',
        help: 'Bytes the process (every thread) has caused to be written to storage since it started (/proc/self/io write_bytes).',
        registers: [processRegistry],
        collect() {
          this.reset()
          this.inc(diskWrittenBytes())
        },
      })
  }
  return processRegistry
}

const PROC_IO = '/proc/self/io'

/** write_bytes of /proc/self/io: what reached the storage layer (page cache flushes included). */
function diskWrittenBytes(): number {
  const m = /^write_bytes:\s*(\d+)$/m.exec(readFileSync(PROC_IO, 'utf8'))
  return m ? Number(m[1]) : 0
}

/** Buckets of the pipeline lag, seconds: a reading is judged within a millisecond or two when all is well. */
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** What one scrape reads, once, before the collectors report it. */
interface Scrape {
  sources: SourceStatus[]
  store: StoreStatus
  ncs: Record<string, number>
  alarms: Map<string, number>
}

export function createMetrics(ctx: MetricsContext): {
  registry: Registry
  /** The exposition text of the gateway's and the process's metrics. */
  scrape(): Promise<string>
} {
  const registry = new Registry()
  const registers = [registry]
  let now: Scrape | null = null
  const scraped = (): Scrape => {
    if (!now) throw new Error('metrics are collected only within scrape()')
    return now
  }
  /** A counter whose value is read, not counted here: reset and set at each scrape. */
  const setCounter = <T extends string>(
    counter: Counter<T>,
    values: Iterable<[LabelValues<T>, number]>,
  ) => {
    counter.reset()
    for (const [labels, value] of values) counter.inc(labels, Math.max(0, value))
  }
  const setGauge = <T extends string>(
    gauge: Gauge<T>,
    values: Iterable<[LabelValues<T>, number]>,
  ) => {
    gauge.reset()
    for (const [labels, value] of values) gauge.set(labels, value)
  }

  new Gauge({
    name: 'linewatch_info',
    help: 'The gateway: its version and boot id (new at every start); always 1.',
    labelNames: ['version', 'boot_id'],
    registers,
    collect() {
      this.set({ version: ctx.version, boot_id: ctx.bootId }, 1)
    },
  })

  // ——— ingest ———
  new Counter({
    name: 'linewatch_readings_total',
    help: 'Readings accepted and judged (every source), since start.',
    registers,
    collect() {
      setCounter(this, [[{}, ctx.pipeline.counters().readings]])
    },
  })
  new Counter({
    name: 'linewatch_source_messages_total',
    help: 'Messages each source received since start, accepted or refused (an MQTT publish, an OPC-UA value change, a Sparkplug payload).',
    labelNames: ['source', 'kind'],
    registers,
    collect() {
      setCounter(
        this,
        scraped().sources.map((s) => [{ source: s.name, kind: s.kind }, s.received]),
      )
    },
  })
  new Gauge({
    name: 'linewatch_source_connected',
    help: 'Whether each source is connected (1) or not (0): a broker listening, a client connected to its server.',
    labelNames: ['source', 'kind'],
    registers,
    collect() {
      setGauge(
        this,
        scraped().sources.map((s) => [{ source: s.name, kind: s.kind }, s.connected ? 1 : 0]),
      )
    },
  })
  new Counter({
    name: 'linewatch_refused_total',
    help: 'Messages refused and dead-lettered since start, per source (`pipeline`: a reading its chart cannot take) and reason.',
    labelNames: ['source', 'reason'],
    registers,
    collect() {
      setCounter(
        this,
        ctx.pipeline.deadLetters
          .countsBySource()
          .map((c) => [{ source: c.source, reason: c.reason }, c.count]),
      )
    },
  })
  new Counter({
    name: 'linewatch_processing_errors_total',
    help: 'Readings the pipeline failed to process (an internal error, logged), since start.',
    registers,
    collect() {
      setCounter(this, [[{}, ctx.pipeline.counters().errors]])
    },
  })
  let latestLag: number | null = null
  new Histogram({
    name: 'linewatch_pipeline_lag_seconds',
    help: 'From a reading received by its source to judged (rules run, store write queued, events sent); one reading per 250 ms is timed.',
    buckets: LAG_BUCKETS,
    registers,
    collect() {
      const { samples, latest } = ctx.pipeline.takeLags()
      for (const ms of samples) this.observe(Math.max(0, ms) / 1000)
      latestLag = latest
    },
  })
  // Registered after the histogram: its collector runs after the one that takes the samples.
  new Gauge({
    name: 'linewatch_pipeline_lag_latest_seconds',
    help: 'The latest timed pipeline lag (see linewatch_pipeline_lag_seconds); 0 before the first reading.',
    registers,
    collect() {
      this.reset()
      if (latestLag !== null) this.set(Math.max(0, latestLag) / 1000)
    },
  })

  // ——— store ———
  const storeGauge = (name: string, help: string, read: (s: StoreStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['store'],
      registers,
      collect() {
        const s = scraped().store
        setGauge(this, [[{ store: s.kind }, read(s)]])
      },
    })
  storeGauge(
    'linewatch_store_healthy',
    'Whether the time-series store takes writes (1) or refuses them, an outage (0).',
    (s) => (s.healthy ? 1 : 0),
  )
  storeGauge(
    'linewatch_store_pending',
    'Records held in memory, not yet written.',
    (s) => s.pending,
  )
  storeGauge(
    'linewatch_store_spooled',
    'Records held in the on-disk spool, not yet written (InfluxDB while it is unreachable).',
    (s) => s.spooled,
  )
  new Counter({
    name: 'linewatch_store_written_total',
    help: 'Records written to the time-series store since start.',
    labelNames: ['store'],
    registers,
    collect() {
      const s = scraped().store
      setCounter(this, [[{ store: s.kind }, s.written]])
    },
  })
  new Counter({
    name: 'linewatch_store_dropped_total',
    help: 'Records lost since start because the buffer and spool were full.',
    labelNames: ['store'],
    registers,
    collect() {
      const s = scraped().store
      setCounter(this, [[{ store: s.kind }, s.dropped ?? 0]])
    },
  })

  new Gauge({
    name: 'linewatch_records_pending',
    help: 'Record statements (alarms, NCs, the audit trail…) queued and not yet committed.',
    registers,
    collect() {
      setGauge(this, ctx.records ? [[{}, ctx.records().pending]] : [])
    },
  })
  new Counter({
    name: 'linewatch_records_dropped_total',
    help: 'Record statements refused since start because the records writer’s queue was full.',
    registers,
    collect() {
      setCounter(this, ctx.records ? [[{}, ctx.records().dropped]] : [])
    },
  })

  // ——— live dashboards ———
  new Gauge({
    name: 'linewatch_live_clients',
    help: 'Dashboards connected to the live socket.',
    registers,
    collect() {
      setGauge(this, [[{}, ctx.live?.clients() ?? 0]])
    },
  })
  new Gauge({
    name: 'linewatch_live_redis_connected',
    help: 'With live.redis: 1 while Redis is reachable (events shared; in a cluster, the bus between the gateways), 0 while it is away.',
    registers,
    collect() {
      const redis = ctx.live?.redis() ?? null
      setGauge(this, redis === null ? [] : [[{}, redis ? 1 : 0]])
    },
  })
  new Counter({
    name: 'linewatch_live_dropped_total',
    help: 'Dashboards disconnected for not reading (live.maxBufferedBytes), since start.',
    registers,
    collect() {
      setCounter(this, [[{}, ctx.live?.dropped() ?? 0]])
    },
  })

  // ——— quality ———
  new Gauge({
    name: 'linewatch_nonconformances',
    help: 'Nonconformances per workflow status (open, investigating, dispositioned: not closed yet; closed).',
    labelNames: ['status'],
    registers,
    collect() {
      setGauge(
        this,
        Object.entries(scraped().ncs).map(([status, n]) => [{ status }, n]),
      )
    },
  })
  new Gauge({
    name: 'linewatch_alarms',
    help: 'Alarms per state and priority, every state but normal (unack-active, ack-active, unack-rtn, shelved, suppressed, out-of-service).',
    labelNames: ['state', 'priority'],
    registers,
    collect() {
      const counts = scraped().alarms
      const values: [LabelValues<'state' | 'priority'>, number][] = []
      for (const state of ALARM_STATES) {
        if (state === 'normal') continue
        for (const priority of ALARM_PRIORITIES)
          values.push([{ state, priority }, counts.get(`${state} ${priority}`) ?? 0])
      }
      setGauge(this, values)
    },
  })

  let running: Promise<string> | null = null
  async function scrapeOnce(): Promise<string> {
    const alarms = new Map<string, number>()
    for (const a of ctx.alarms.list({ limit: Number.MAX_SAFE_INTEGER })) {
      const key = `${a.state} ${a.priority}`
      alarms.set(key, (alarms.get(key) ?? 0) + 1)
    }
    now = {
      sources: ctx.sources().map((s) => s.status()),
      store: ctx.store.status(),
      ncs: await ctx.nc.statusCounts(),
      alarms,
    }
    try {
      const own = await registry.metrics()
      return own + (await processMetrics().metrics())
    } finally {
      now = null
    }
  }

  return {
    registry,
    // Two scrapes at once share one collection (the collectors read one snapshot).
    scrape() {
      running ??= scrapeOnce().finally(() => {
        running = null
      })
      return running
    },
  }
}

/** GET /metrics: a bearer token of at least the viewer role, unless metrics.anonymous. */
export function registerMetricsRoute(app: FastifyInstance, ctx: MetricsContext): void {
  const metrics = createMetrics(ctx)
  // Now, not at the first scrape: the event-loop delay is measured from the start.
  processMetrics()
  app.get(
    '/metrics',
    {
      ...(ctx.anonymous ? {} : { preValidation: need('viewer') }),
      schema: {
        response: {
          200: {
            description: 'The Prometheus text exposition format (version 0.0.4).',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.scrape()),
  )
}
