/**
 * `npm run bench`: measurements, not tests. Each figure is reported with a baseline measured in
 * the same run (these machines are shared and noisy), prints a table, and writes JSON under
 * bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../gateway/paths.ts'
import { runPipelineBench } from './pipeline.ts'

const quick = process.argv.includes('--quick')
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const pipeline = await runPipelineBench({
  characteristics: 1000,
  total: quick ? 50_000 : 300_000,
  pacedRate: 5000,
  pacedSeconds: quick ? 4 : 10,
  connections: 4,
})

const rows = [
  ['', 'bare broker', 'full pipeline', 'ratio'],
  [
    'readings/s (flat out)',
    fmt(pipeline.broker.throughput.readingsPerSecond),
    fmt(pipeline.pipeline.throughput.readingsPerSecond),
    fmt(pipeline.ratios.throughput, 2),
  ],
  [
    `latency p50, ms (${fmt(pipeline.options.pacedRate)}/s)`,
    fmt(pipeline.broker.latency.p50Ms, 1),
    fmt(pipeline.pipeline.latency.p50Ms, 1),
    fmt(pipeline.ratios.latencyP50, 1),
  ],
  [
    `latency p99, ms (${fmt(pipeline.options.pacedRate)}/s)`,
    fmt(pipeline.broker.latency.p99Ms, 1),
    fmt(pipeline.pipeline.latency.p99Ms, 1),
    fmt(pipeline.ratios.latencyP99, 1),
  ],
]
const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? []
console.log(
  `\nPipeline: MQTT publishers → embedded broker → SPC, SQLite store, live push; ${pipeline.options.characteristics} characteristics`,
)
for (const r of rows)
  console.log(
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  '),
  )
console.log(
  `(latency: publish → socket.io event, which includes the live hub's ${pipeline.pipeline.flushIntervalMs} ms coalescing; the bare broker's is publish → in-process subscriber)`,
)

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.versions.node },
  quick,
  pipeline,
}
const dir = join(packageRoot(), 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `bench-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nwritten: ${file}`)
