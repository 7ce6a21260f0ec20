/**
 * `npm run bench`: measurements, not tests. Each figure is reported with a baseline measured in
 * the same run (these machines are shared and noisy), prints a table, and writes JSON under
 * bench/results/. `--quick` for a short run; `--only rules` or `--only pipeline` for one part.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../gateway/paths.ts'
import { type PipelineBenchResult, runPipelineBench } from './pipeline.ts'
import { type RulesBenchResult, runRulesBench } from './rules.ts'

const quick = process.argv.includes('--quick')
const only = process.argv[process.argv.indexOf('--only') + 1]
const wants = (part: string) => !process.argv.includes('--only') || only === part
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
    readingsPerRound: quick ? 50_000 : 200_000,
    rounds: quick ? 3 : 7,
  })
  table(
    `SPC engine: stepChart over ${fmt(rules.characteristics)} characteristics (readings/s, one core)`,
    [
      ['', 'engine', 'plain loop', 'ratio', 'state bytes/char'],
      [
        'I-MR, Nelson N1–N8',
        fmt(rules.imr.engine),
        fmt(rules.imr.plain),
        fmt(rules.imr.ratio, 2),
        fmt(rules.imr.stateBytes),
      ],
      [
        'X̄-R, n = 5, Nelson N1–N8',
        fmt(rules.xbarR.engine),
        fmt(rules.xbarR.plain),
        fmt(rules.xbarR.ratio, 2),
        fmt(rules.xbarR.stateBytes),
      ],
    ],
    '(plain loop: the same arithmetic on flat typed arrays, no objects, no events; state: JSON bytes)',
  )
}

let pipeline: PipelineBenchResult | undefined
if (wants('pipeline')) {
  pipeline = await runPipelineBench({
    characteristics: 1000,
    total: quick ? 50_000 : 300_000,
    pacedRate: 5000,
    pacedSeconds: quick ? 4 : 10,
    connections: 4,
  })
  const p = pipeline
  table(
    `Pipeline: MQTT publishers → embedded broker → SPC, SQLite store, live push; ${p.options.characteristics} characteristics`,
    [
      ['', 'bare broker', 'full pipeline', 'ratio'],
      [
        'readings/s (flat out)',
        fmt(p.broker.throughput.readingsPerSecond),
        fmt(p.pipeline.throughput.readingsPerSecond),
        fmt(p.ratios.throughput, 2),
      ],
      [
        `latency p50, ms (${fmt(p.options.pacedRate)}/s)`,
        fmt(p.broker.latency.p50Ms, 1),
        fmt(p.pipeline.latency.p50Ms, 1),
        fmt(p.ratios.latencyP50, 1),
      ],
      [
        `latency p99, ms (${fmt(p.options.pacedRate)}/s)`,
        fmt(p.broker.latency.p99Ms, 1),
        fmt(p.pipeline.latency.p99Ms, 1),
        fmt(p.ratios.latencyP99, 1),
      ],
    ],
    `(latency: publish → socket.io event, which includes the live hub's ${p.pipeline.flushIntervalMs} ms coalescing; the bare broker's is publish → in-process subscriber)`,
  )
}

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.versions.node },
  quick,
  rules,
  pipeline,
}
const dir = join(packageRoot(), 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `bench-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nwritten: ${file}`)
