/**
 * A development aid, not part of `npm run bench`: one gateway target (1,000 characteristics),
 * warmed up, then one kind of phase once unmeasured and three times measured, and the CPU time
 * (user + system, from /proc/<pid>/task/<tid>/stat) each of the gateway's threads spent per
 * reading over the three. CPU time is steadier than a rate on a shared machine.
 * `node dist/bench/thread-cpu.js qos1` (qos0 | qos1 | qos0Batch | qos1Batch). Threads are named
 * as Linux names them: MainThread (judging, HTTP, socket.io), WorkerThread (broker, time-series
 * writer, records writer; by creation order), V8Worker (V8's helpers: garbage collection,
 * compilation), libuv-worker (file I/O). Node flags after the kind go to the gateway's process
 * (`thread-cpu.js qos0 --minor-ms`).
 */

import { readdirSync, readFileSync } from 'node:fs'
import { onWarmGateway } from './pipeline.ts'

const [kind = 'qos1', ...nodeFlags] = process.argv.slice(2)
/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100

/** CPU ticks by thread id, with the thread's name. */
function threads(pid: number): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
    // Fields after the name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out.set(tid, { name, ticks: Number(fields[11]) + Number(fields[12]) })
  }
  return out
}

await onWarmGateway(kind, nodeFlags, async (target, phase) => {
  const pid = target.pid as number
  // One phase first, not counted: V8 was still compiling in the first phase after the warm-up
  // (about 260 ms of optimising compilation in its helper threads at QoS 0, 0.9 µs per reading;
  // 6–82 ms in each phase after it).
  await phase()
  const before = threads(pid)
  let readings = 0
  for (let r = 0; r < 3; r++) {
    const p = await phase()
    readings += p.readings
    console.log(`${kind}: ${Math.round(p.readingsPerSecond)} readings/s`)
  }
  const after = threads(pid)
  const perThread = new Map<string, number>()
  for (const [tid, { name, ticks }] of after) {
    const key = name === 'WorkerThread' ? `${name} ${tid}` : name
    perThread.set(key, (perThread.get(key) ?? 0) + ticks - (before.get(tid)?.ticks ?? 0))
  }
  const micros = (ticks: number) => ((ticks / TICKS_PER_SECOND) * 1e6) / readings
  let total = 0
  for (const [key, ticks] of perThread) {
    if (ticks <= 0) continue
    total += ticks
    console.log(`  ${key}: ${micros(ticks).toFixed(2)} µs of CPU per reading`)
  }
  console.log(`  the whole gateway: ${micros(total).toFixed(2)} µs of CPU per reading`)
})
