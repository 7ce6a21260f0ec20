/**
 * Issue 12's benchmark: readings per second through one, two and three gateways sharing a
 * plant (Mosquitto, PostgreSQL, Redis, InfluxDB, all on this machine), against one gateway
 * alone on the same broker and time series (records in SQLite, no leases, no Redis): the
 * baseline measured in the same run.
 *
 * How a rate is taken: the gateways are stopped (SIGSTOP) while the device publishes the
 * readings to the broker, which queues them on the gateways' persistent sessions; then they
 * are continued (SIGCONT) and the time until every reading is taken (the sum of the gateways'
 * reading counters) gives the rate. The publisher's own speed is out of the figure. The leases
 * outlast the pause (leaseMs 30 s here; the publishing takes a few seconds).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { packageRoot } from '../gateway/paths.ts'
import { freePort, tempDir } from '../test/helpers/index.ts'
import { startInfluxd } from '../test/helpers/influxd.ts'
import { startMosquitto } from '../test/helpers/mosquitto.ts'
import { startPostgres } from '../test/helpers/postgres.ts'
import { startRedis } from '../test/helpers/redis.ts'

export interface ClusterBenchOptions {
  characteristics: number
  /** Readings per characteristic in the measured phase. */
  readings: number
  partitions: number
  gateways: number[]
}

export interface ClusterRun {
  gateways: number
  cluster: boolean
  readings: number
  seconds: number
  readingsPerSecond: number
  /** Readings each gateway took. */
  perGateway: number[]
}

export interface ClusterBenchResult {
  options: ClusterBenchOptions
  single: ClusterRun
  clusters: ClusterRun[]
  /** A cluster of one against the single gateway: what the coordination costs one gateway. */
  coordinationRatio: number
  /** Gateways a 100,000-characteristic plant at 1 Hz needs, from these figures (see README). */
  estimate: { readingsPerSecond: number; perGateway: number; headroom: number; gateways: number }
}

const MAIN = join(packageRoot(), 'dist', 'gateway', 'cli', 'main.js')
const id = (i: number) => `c${String(i).padStart(5, '0')}`

export async function runClusterBench(
  o: ClusterBenchOptions,
  log: (line: string) => void,
): Promise<ClusterBenchResult> {
  const dir = await tempDir('linewatch-bench-cluster-')
  const [postgres, mosquitto, redis, influxd] = await Promise.all([
    startPostgres(),
    startMosquitto(),
    startRedis(),
    startInfluxd(),
  ])
  let run = 0
  try {
    const measure = async (gateways: number, cluster: boolean): Promise<ClusterRun> => {
      run++
      const database = `bench${run}`
      const url = cluster ? await postgres.createDatabase(database) : ''
      const children: { child: ChildProcess; http: string }[] = []
      try {
        for (let g = 0; g < gateways; g++)
          children.push(
            await startGateway({
              dir: join(dir.path, `${database}-${g}`),
              name: `gw-${g}`,
              cluster,
              o,
              mqtt: mosquitto.url,
              influx: influxd.url,
              database,
              env: { LINEWATCH_POSTGRES_URL: url, LINEWATCH_BENCH_REDIS: redis.url },
            }),
          )
        const taken = async () => {
          const counts = await Promise.all(
            children.map(async (c) => {
              const h = (await (await fetch(`${c.http}/api/health`)).json()) as {
                counters: { readings: number }
                cluster?: { held: number[] }
              }
              return { readings: h.counters.readings, held: h.cluster?.held.length ?? 0 }
            }),
          )
          return counts
        }
        // Every partition held before anything is measured.
        if (cluster)
          await until(
            async () =>
              (await taken()).reduce((s, c) => s + c.held, 0) === o.partitions &&
              (await taken()).every((c) => c.held > 0),
            120_000,
          )
        const device = await connectAsync(mosquitto.url, { clientId: `bench-device-${run}` })
        try {
          // Warm-up: two readings per characteristic, taken.
          await publish(device, o.characteristics, 1, 2)
          await until(
            async () =>
              (await taken()).reduce((s, c) => s + c.readings, 0) >= 2 * o.characteristics,
            120_000,
          )
          const start = (await taken()).map((c) => c.readings)
          const before = start.reduce((a, b) => a + b, 0)
          for (const c of children) c.child.kill('SIGSTOP')
          await publish(device, o.characteristics, 3, o.readings + 2)
          const t0 = performance.now()
          for (const c of children) c.child.kill('SIGCONT')
          const total = o.characteristics * o.readings
          let last: { readings: number }[] = []
          await until(async () => {
            last = await taken()
            return last.reduce((s, c) => s + c.readings, 0) - before >= total
          }, 600_000)
          const seconds = (performance.now() - t0) / 1000
          const result: ClusterRun = {
            gateways,
            cluster,
            readings: total,
            seconds: Math.round(seconds * 1000) / 1000,
            readingsPerSecond: total / seconds,
            perGateway: last.map((c, i) => c.readings - (start[i] ?? 0)),
          }
          log(
            `  ${cluster ? `cluster of ${gateways}` : 'single gateway'}: ${Math.round(result.readingsPerSecond).toLocaleString('en-US')} readings/s (${result.perGateway.join(' + ')})`,
          )
          return result
        } finally {
          await device.endAsync()
        }
      } finally {
        for (const c of children) {
          c.child.kill('SIGCONT')
          c.child.kill('SIGTERM')
          await new Promise((r) => (c.child.exitCode !== null ? r(null) : c.child.once('exit', r)))
        }
      }
    }

    const single = await measure(1, false)
    const clusters: ClusterRun[] = []
    for (const n of o.gateways) clusters.push(await measure(n, true))
    const one = clusters.find((c) => c.gateways === 1) ?? (clusters[0] as ClusterRun)
    const coordinationRatio = one.readingsPerSecond / single.readingsPerSecond
    // On a machine per gateway (these two cores each), a gateway of a cluster takes what one
    // alone does times the coordination ratio; half of it is kept for bursts and takeovers
    // (a takeover adds a dead gateway's load to the others).
    const headroom = 0.5
    const perGateway = single.readingsPerSecond * coordinationRatio * headroom
    const readingsPerSecond = 100_000
    return {
      options: o,
      single,
      clusters,
      coordinationRatio,
      estimate: {
        readingsPerSecond,
        perGateway,
        headroom,
        gateways: Math.ceil(readingsPerSecond / perGateway) + 1,
      },
    }
  } finally {
    await Promise.all([postgres.stop(), mosquitto.stop(), redis.stop(), influxd.remove()])
    await dir.remove()
  }
}

async function startGateway(g: {
  dir: string
  name: string
  cluster: boolean
  o: ClusterBenchOptions
  mqtt: string
  influx: string
  database: string
  env: Record<string, string>
}): Promise<{ child: ChildProcess; http: string }> {
  mkdirSync(g.dir, { recursive: true })
  const port = await freePort()
  const lines = [
    `dataDir: ${JSON.stringify(join(g.dir, 'data'))}`,
    'log: { level: warn }',
    'auth: { anonymousRole: viewer }',
    `http: { host: 127.0.0.1, port: ${port} }`,
    `mqtt: { broker: { enabled: false }, external: { url: '${g.mqtt}', clientId: ${g.cluster ? 'lw' : `lw-single-${g.database}`} } }`,
    'store:',
    '  timeseries: influxdb',
    `  influxdb: { url: '${g.influx}', database: ${g.database} }`,
    ...(g.cluster
      ? [
          '  records: postgres',
          `cluster: { gateway: ${g.name}, partitions: ${g.o.partitions}, leaseMs: 30000 }`,
          'live: { redis: { urlEnv: LINEWATCH_BENCH_REDIS } }',
        ]
      : []),
    'spc: { rules: [N1, N2, N3, N4, N5, N6, N7, N8] }',
    'characteristics:',
  ]
  for (let i = 0; i < g.o.characteristics; i++)
    lines.push(
      `  - { id: ${id(i)}, name: C${i}, path: bench/a${i % 10}/l${i % 50}/c${i}, source: { mqtt: { topic: bc/${id(i)} } }, chart: { type: imr, given: { center: 100, sigma: 2 } } }`,
    )
  const file = join(g.dir, 'gw.yaml')
  writeFileSync(file, lines.join('\n'))
  const child = spawn(process.execPath, [MAIN, 'start', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...g.env, LINEWATCH_ADMIN_PASSWORD: 'bench-first-password-0123456' },
  })
  const http = `http://127.0.0.1:${port}`
  await until(async () => {
    try {
      return (await fetch(`${http}/api/health`)).ok
    } catch {
      return false
    }
  }, 60_000)
  return { child, http }
}

/** Readings from..to of every characteristic at QoS 1 (values about μ 100, σ 2). */
async function publish(client: MqttClient, n: number, from: number, to: number): Promise<void> {
  const t0 = Date.UTC(2026, 0, 1)
  let inFlight: Promise<unknown>[] = []
  for (let seq = from; seq <= to; seq++) {
    for (let i = 0; i < n; i++) {
      const value = 100 + 2 * Math.sin(seq * 1.7 + i)
      inFlight.push(
        client.publishAsync(`bc/${id(i)}`, `{"value":${value},"ts":${t0 + seq * 1000}}`, {
          qos: 1,
        }),
      )
      if (inFlight.length >= 1000) {
        await Promise.all(inFlight)
        inFlight = []
      }
    }
  }
  await Promise.all(inFlight)
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`benchmark: timed out after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
