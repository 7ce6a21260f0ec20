/**
 * A development aid, not part of `npm run bench`: one gateway target (1,000 characteristics),
 * warmed up, then one kind of phase repeated, with a V8 CPU profile of every thread of the
 * gateway. `node bench/profile-phase.ts qos1 DIR` (qos0 | qos1 | qos0Batch | qos1Batch).
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onWarmGateway } from './pipeline.ts'

const [kind = 'qos1', dir = join(tmpdir(), 'linewatch-profile')] = process.argv.slice(2)
await onWarmGateway(kind, ['--cpu-prof', `--cpu-prof-dir=${dir}`], async (_target, phase) => {
  for (let r = 0; r < 3; r++) {
    const p = await phase()
    console.log(`${kind}: ${Math.round(p.readingsPerSecond)} readings/s (${p.seconds} s)`)
  }
})
console.log(`profiles in ${dir}`)
