/**
 * A development aid, not part of `npm run bench`: one gateway target (1,000 characteristics),
 * warmed up, then one kind of phase repeated, with a V8 CPU profile of every thread of the
 * gateway. `node bench/profile-phase.ts qos1 DIR` (qos0 | qos1 | qos0Batch | qos1Batch).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type PipelineBenchOptions, runPhase, Target, warmUp, writeConfig } from './pipeline.ts'

const [kind = 'qos1', dir = join(tmpdir(), 'linewatch-profile')] = process.argv.slice(2)
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
const spec = {
  qos0: { qos: 0, batch: 1, messages: 300_000 },
  qos1: { qos: 1, batch: 1, messages: 200_000 },
  qos0Batch: { qos: 0, batch: 50, messages: 20_000 },
  qos1Batch: { qos: 1, batch: 50, messages: 20_000 },
}[kind] as { qos: 0 | 1; batch: number; messages: number }
const { file } = writeConfig(o.characteristics, mkdtempSync(join(tmpdir(), 'linewatch-bench-')))
const target = new Target('gateway', ['--cpu-prof', `--cpu-prof-dir=${dir}`])
try {
  await target.start({ kind: 'gateway', configFile: file })
  await warmUp(target, o, o.characteristics)
  for (let r = 0; r < 3; r++) {
    const phase = await runPhase(target, o, spec, o.characteristics)
    console.log(`${kind}: ${Math.round(phase.readingsPerSecond)} readings/s (${phase.seconds} s)`)
  }
} finally {
  await target.stop()
}
console.log(`profiles in ${dir}`)
