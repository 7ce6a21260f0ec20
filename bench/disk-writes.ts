/**
 * A development aid, not part of `npm run bench`: one gateway target (1,000 characteristics),
 * warmed up, then one kind of phase (default `paced`: 300,000 readings at 10,000/s), and the
 * bytes each of the gateway's threads wrote to storage over it, per reading (`write_bytes` of
 * /proc/<pid>/task/<tid>/io, Linux). What an edge box's SSD endurance is sized by. Threads are
 * named as Linux names them (see thread-cpu.ts): the WorkerThreads are, by creation order, the
 * time-series writer, the records writer and the broker.
 * `node dist/bench/disk-writes.js [paced | qos0 | qos1 | qos0Batch | qos1Batch]`.
 */

import { readdirSync, readFileSync } from 'node:fs'
import { onWarmGateway } from './pipeline.ts'

const [kind = 'paced'] = process.argv.slice(2)

/** Bytes written by thread id, with the thread's name. */
function written(pid: number): Map<string, { name: string; bytes: number }> {
  const out = new Map<string, { name: string; bytes: number }>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const io = readFileSync(`/proc/${pid}/task/${tid}/io`, 'utf8')
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      out.set(tid, { name, bytes: Number(/^write_bytes:\s*(\d+)$/m.exec(io)?.[1] ?? 0) })
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out
}

await onWarmGateway(kind, [], async (target, phase) => {
  const pid = target.pid as number
  const before = written(pid)
  const p = await phase()
  console.log(`${kind}: ${Math.round(p.readingsPerSecond)} readings/s`)
  const after = written(pid)
  let total = 0
  for (const [tid, { name, bytes }] of after) {
    const d = bytes - (before.get(tid)?.bytes ?? 0)
    if (d <= 0) continue
    total += d
    console.log(`  ${name} ${tid}: ${Math.round(d / p.readings)} bytes per reading`)
  }
  console.log(`  the whole gateway: ${Math.round(total / p.readings)} bytes per reading`)
})
