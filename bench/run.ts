/**
 * `npm run bench`: measurements, not tests. Each figure is reported with a baseline measured in
 * the same run (these machines are shared and noisy), prints a table, and writes JSON under
 * bench/results/. `--quick` for a short run; `--only rules`, `--only pipeline` or `--only cluster` for one part;
 * `--cpu-prof-dir DIR` writes a V8 CPU profile of every gateway process the pipeline part starts.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../gateway/paths.ts'
import { type ClusterBenchResult, runClusterBench } from './cluster.ts'
import { type PipelineBenchResult, runPipelineBench } from './pipeline.ts'
import { type RulesBenchResult, runRulesBench } from './rules.ts'

const quick = process.argv.includes('--quick')
/** The machine is shared: its load is recorded with the figures. */
const loadAtStart = loadavg()
const only = process.argv[process.argv.indexOf('--only') + 1]
const wants = (part: string) => !process.argv.includes('--only') || only === part
const met = (ok: boolean) => (ok ? 'met' : 'not met')
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function table(title: string, rows: string[][], note?: string): void {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? []
  console.log(`\n${title}`)
  for (const r of rows) {
    console.log(
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  '),
    )
  }
  if (note) console.log(note)
}

let rules: RulesBenchResult | undefined
if (wants('rules')) {
  rules = runRulesBench({
    characteristics: 1000,
    // Rounds of 0.1 s or more: at 20 million readings/s a round of 200,000 lasted 10 ms, and a
    // collection of the heap the gateway's modules left (with them loaded, as in a gateway) took
    // a third of it off the X̄-R engine's median (0.28–0.39 of the plain loop, 0.53 with longer
    // rounds).
    readingsPerRound: quick ? 200_000 : 2_000_000,
    rounds: quick ? 3 : 7,
  })
  table(
    `SPC engine: stepChart over ${fmt(rules.characteristics)} characteristics (readings/s, one core)`,
    [
      ['', 'engine', 'plain loop', 'ratio', 'state heap B/char', 'state JSON B/char'],
      [
        'I-MR, Nelson N1–N8',
        fmt(rules.imr.engine),
        fmt(rules.imr.plain),
        fmt(rules.imr.ratio, 2),
        fmt(rules.imr.stateHeapBytes),
        fmt(rules.imr.stateBytes),
      ],
      [
        'X̄-R, n = 5, Nelson N1–N8',
        fmt(rules.xbarR.engine),
        fmt(rules.xbarR.plain),
        fmt(rules.xbarR.ratio, 2),
        fmt(rules.xbarR.stateHeapBytes),
        fmt(rules.xbarR.stateBytes),
      ],
    ],
    `(plain loop: the same arithmetic on flat typed arrays, no objects, no events. State heap: a characteristic's whole engine state in Phase II, heap used after a full GC over 20,000 of them; goals ≥ ${rules.goals.ratio.goal}: ${met(rules.goals.ratio.met)}, ≤ ${fmt(rules.goals.stateHeap.goalBytes)} B: ${met(rules.goals.stateHeap.met)})`,
  )
}

let pipeline: PipelineBenchResult | undefined
if (wants('pipeline')) {
  const profileAt = process.argv.indexOf('--cpu-prof-dir')
  pipeline = await runPipelineBench(
    {
      characteristics: 1000,
      connections: 4,
      window: 1000,
      repeats: quick ? 1 : 5,
      batchSize: 50,
      messages: quick
        ? { bare: { single: 300_000, batch: 200_000 }, pipeline: { single: 100_000, batch: 6_000 } }
        : {
            bare: { single: 600_000, batch: 400_000 },
            pipeline: { single: 600_000, batch: 24_000 },
          },
      paced: { rate: 10_000, seconds: quick ? 4 : 10 },
      scaling: { characteristics: [1000, 10_000, 100_000], readings: quick ? 100_000 : 300_000 },
      cpuProfileDir: profileAt > 0 ? process.argv[profileAt + 1] : undefined,
    },
    (line) => console.error(line),
  )
  const p = pipeline
  const pt = p.pipeline.throughput
  const bt = p.bare.throughput
  const runs = p.options.repeats > 1 ? `median of ${p.options.repeats} runs` : 'one run'
  table(
    `Pipeline throughput, one reading per message: publishers → embedded broker → parse, I-MR + Nelson N1–N8, SQLite, NC service, live hub; ${fmt(p.config.characteristics)} characteristics (${runs})`,
    [
      ['', 'bare broker msg/s', 'full pipeline readings/s', 'ratio', 'goal'],
      [
        'QoS 0 (fire-and-forget)',
        fmt(bt.qos0.messagesPerSecond),
        fmt(pt.qos0.readingsPerSecond),
        fmt(p.ratios.qos0, 2),
        `≥ ${p.goals.qos0.goal} ${met(p.goals.qos0.met)}`,
      ],
      [
        'QoS 1 (PUBACK after commit)',
        fmt(bt.qos1.messagesPerSecond),
        fmt(pt.qos1.readingsPerSecond),
        fmt(p.ratios.qos1, 2),
        `≥ ${p.goals.qos1.goal} ${met(p.goals.qos1.met)}`,
      ],
    ],
    [
      `(bare broker: aedes, an in-process subscriber that only counts, QoS 1 acknowledged at once; ${p.options.connections} publisher connections from a separate process writing pre-encoded packets,`,
      ` QoS 1 with ≤ ${fmt(p.options.window)} unacknowledged per connection; that publisher into a discarding TCP sink: ${fmt(p.publisherCeiling.messagesPerSecond)} msg/s.`,
      ` The gateway after all its phases: RSS ${fmt(p.pipeline.memory.after.rss / 2 ** 20)} MiB; ${fmt(p.pipeline.counters.readings)} readings, ${fmt(p.pipeline.counters.nonconformances.listed)} NCs opened with ${fmt(p.pipeline.counters.nonconformances.occurrences)} occurrences (written by the records writer thread; a PUBACK waits for their commit too), ${fmt(p.pipeline.counters.rejected)} rejected, ${fmt(p.pipeline.counters.errors)} errors)`,
    ].join('\n'),
  )
  table(
    `Pipeline throughput, ${p.options.batchSize} readings per message (a JSON array); ${fmt(p.config.characteristics)} characteristics (${runs})`,
    [
      [
        '',
        'bare broker msg/s',
        `bare msg/s × ${p.options.batchSize}`,
        'bare, parsing readings/s',
        'full pipeline readings/s',
        'ratio to bare, parsing',
        'goal',
      ],
      [
        'QoS 0',
        fmt(bt.qos0Batch.messagesPerSecond),
        fmt(bt.qos0Batch.messagesPerSecond * p.options.batchSize),
        fmt(bt.qos0BatchParsed?.readingsPerSecond ?? Number.NaN),
        fmt(pt.qos0Batch.readingsPerSecond),
        fmt(p.ratios.qos0BatchVsParsing, 2),
        `≥ ${p.goals.qos0Batch.goal} ${met(p.goals.qos0Batch.met)}`,
      ],
      [
        'QoS 1',
        fmt(bt.qos1Batch.messagesPerSecond),
        fmt(bt.qos1Batch.messagesPerSecond * p.options.batchSize),
        '',
        fmt(pt.qos1Batch.readingsPerSecond),
        '',
        '',
      ],
    ],
    [
      `(bare, parsing: the bare broker's subscriber parses each message's JSON, the least any consumer of JSON payloads does; against the bare broker's`,
      ` delivery × ${p.options.batchSize} (no parsing) the ratio is QoS 0 ${fmt(p.ratios.qos0Batch, 3)}, QoS 1 ${fmt(p.ratios.qos1Batch, 3)}; against its one-reading message rate × ${p.options.batchSize}: QoS 0 ${fmt(p.ratios.qos0BatchVsSingleMessageRate, 3)}, QoS 1 ${fmt(p.ratios.qos1BatchVsSingleMessageRate, 3)}.`,
      ` Parsing alone, one core: JSON.parse ${fmt(p.parseCeiling.jsonParse.batch)} readings/s in ${p.options.batchSize}-arrays (${fmt(p.parseCeiling.jsonParse.single)} single), the gateway's parsePayload ${fmt(p.parseCeiling.parsePayload.batch)} (${fmt(p.parseCeiling.parsePayload.single)} single))`,
    ].join('\n'),
  )
  table(
    `Latency, publish → socket.io event, one reading per message, QoS 0, paced at ${fmt(p.options.paced.rate)} readings/s for ${p.options.paced.seconds} s; ${fmt(p.config.characteristics)} characteristics`,
    [
      ['', 'bare broker', 'full pipeline', 'ratio', 'goal'],
      [
        'p50, ms',
        fmt(p.bare.latency.p50Ms, 1),
        fmt(p.pipeline.latency.p50Ms, 1),
        p.ratios.latencyP50 === null ? '–' : fmt(p.ratios.latencyP50, 1),
        '',
      ],
      [
        'p99, ms',
        fmt(p.bare.latency.p99Ms, 1),
        fmt(p.pipeline.latency.p99Ms, 1),
        p.ratios.latencyP99 === null ? '–' : fmt(p.ratios.latencyP99, 1),
        `< ${p.goals.latencyP99.goalMs} ${met(p.goals.latencyP99.met)}`,
      ],
      ['max, ms', fmt(p.bare.latency.maxMs, 1), fmt(p.pipeline.latency.maxMs, 1), '', ''],
      ['samples', fmt(p.bare.latency.samples), fmt(p.pipeline.latency.samples), '', ''],
    ],
    `(goal: p99 below the live hub's ${p.config.flushIntervalMs} ms coalescing interval + 20 ms; the dashboard watches 10 characteristics; the bare broker's latency is publish → its in-process subscriber; ms resolution)`,
  )
  table(
    'Scaling: full pipeline, QoS 0, one reading per message, given limits; a fresh gateway process per row, memory after a full GC',
    [
      [
        'characteristics',
        'readings',
        'per char.',
        'readings/s',
        'RSS MiB',
        'at rest',
        'idle',
        'heap used MiB',
        'heap total MiB',
        'heap B/char.',
        'marginal B/char.',
        'config load s',
        'start s',
      ],
      ...p.scaling.map((s) => [
        fmt(s.characteristics),
        fmt(s.readings),
        fmt(s.readingsPerCharacteristic),
        fmt(s.readingsPerSecond),
        fmt(s.rssMiB),
        fmt(s.restRssMiB),
        fmt(s.idleRssMiB),
        fmt(s.heapUsedMiB),
        fmt(s.memory.after.heapTotal / 2 ** 20),
        fmt(s.heapBytesPerCharacteristic),
        s.marginalHeapBytesPerCharacteristic === null
          ? '–'
          : fmt(s.marginalHeapBytesPerCharacteristic),
        fmt(s.configLoadMs / 1000, 1),
        fmt(s.startMs / 1000, 1),
      ]),
    ],
    [
      '(given limits μ 100, σ 2 (no Phase I, so 100,000 charts need no 25 readings each before measuring); warm-up: 2 readings per characteristic in one message, then single readings.',
      ' heap B/char.: heap used after the run minus before the gateway was created, over the characteristics; marginal: heap growth per characteristic added since the previous row —',
      " all of the gateway's per-characteristic memory (configuration, runtime, recent readings, chart state, alarms, live hub, store buffers): an upper bound on the engine's state, which the SPC engine's table measures alone.",
      ' RSS includes the writer threads; at rest: measured again 7 s later, once the store has given back what the run grew its columns to; idle: 40 s after the run, once V8 has shrunk the young generations the run grew.',
      ` Goal for 100,000 characteristics: RSS < ${p.goals.rss100k.goalMiB} MiB: ${met(p.goals.rss100k.met)}. Config load: the generated YAML file, loaded in the gateway's process as linewatch start loads it, a large file parsed in a child process)`,
    ].join('\n'),
  )
}

let cluster: ClusterBenchResult | undefined
if (wants('cluster')) {
  console.log('\nScale-out (issue 12): gateways sharing Mosquitto, PostgreSQL, Redis and InfluxDB')
  cluster = await runClusterBench(
    {
      characteristics: 1000,
      readings: quick ? 20 : 60,
      partitions: 12,
      gateways: [1, 2, 3],
    },
    (line) => console.log(line),
  )
  const c = cluster
  table(
    `Gateways on this ${cpus().length}-core machine, ${fmt(c.options.characteristics)} characteristics (I-MR, Nelson N1–N8), QoS 1 from Mosquitto (readings/s)`,
    [
      ['', 'readings/s', 'per gateway', 'vs one gateway alone'],
      [
        'one gateway alone (SQLite records)',
        fmt(c.single.readingsPerSecond),
        c.single.perGateway.map((n) => fmt(n)).join(' + '),
        '1.00',
      ],
      ...c.clusters.map((r) => [
        `cluster of ${r.gateways}`,
        fmt(r.readingsPerSecond),
        r.perGateway.map((n) => fmt(n)).join(' + '),
        fmt(r.readingsPerSecond / c.single.readingsPerSecond, 2),
      ]),
    ],
    [
      `(the gateways paused while the readings are queued at the broker, then the time to take them all; every process on the same ${cpus().length} cores, so more gateways contend rather than add.`,
      ` Coordination cost: a cluster of one (PostgreSQL records and journal, leases, Redis fan-out) takes ${fmt(c.coordinationRatio, 2)} of what the gateway alone does.`,
      ` Estimate: a 100,000-characteristic plant at 1 Hz with a machine like this per gateway, half of each kept for bursts and takeovers: ${c.estimate.gateways} gateways (one spare).)`,
    ].join('\n'),
  )
}

const result = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.versions.node,
    loadAverage: { start: loadAtStart, end: loadavg() },
  },
  quick,
  rules,
  pipeline,
  cluster,
}
const dir = join(packageRoot(), 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `bench-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
console.log(
  `\nload average (1, 5, 15 min) at start ${loadAtStart.map((l) => l.toFixed(2)).join(', ')}, at end ${result.machine.loadAverage.end.map((l) => l.toFixed(2)).join(', ')}`,
)
console.log(`written: ${file}`)
