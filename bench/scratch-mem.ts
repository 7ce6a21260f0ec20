import { execSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type PipelineBenchOptions, runPhase, Target, warmUp, writeConfig } from './pipeline.ts'

const n = Number(process.argv[2] ?? 100000)
const o: PipelineBenchOptions = {
  characteristics: n,
  connections: 4,
  window: 1000,
  repeats: 1,
  batchSize: 50,
  messages: { bare: { single: 0, batch: 0 }, pipeline: { single: 0, batch: 0 } },
  paced: { rate: 0, seconds: 0 },
  scaling: { characteristics: [], readings: 0 },
}
const { file } = writeConfig(n, mkdtempSync(join(tmpdir(), 'linewatch-bench-')), 'given')
const target = new Target('gateway', (process.env.FLAGS ?? '').split(' ').filter(Boolean))
await target.start({ kind: 'gateway', configFile: file })
await warmUp(target, o, n, 2)
await runPhase(target, o, { qos: 0, batch: 1, messages: Math.max(100000, n) }, n)
const m = await target.memory()
const pid = (target as unknown as { child: { pid: number } }).child.pid
console.log(
  'memory',
  JSON.stringify(
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round((v as number) / 2 ** 20)])),
  ),
)
console.log(
  readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    .split('\n')
    .filter((l) => /Rss|Anon|Private/.test(l))
    .join(' | '),
)
console.log(execSync(`pmap -x ${pid} | sort -k3 -n -r | head -15`).toString())
await target.stop()
