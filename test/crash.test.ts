import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect, connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { characteristicSpec, parseConfig } from '../gateway/config/index.ts'
import type { StoredChartPoint } from '../gateway/store/types.ts'
import {
  evaluate,
  initialCharacteristicState,
  NELSON_RULES,
  type ViolationRule,
  WESTERN_ELECTRIC_RULES,
} from '../rules/index.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import { type RunningInfluxd, startInfluxd } from './helpers/influxd.ts'
import { startMosquitto } from './helpers/mosquitto.ts'
import { storedSeries } from './helpers/timeseries.ts'

/**
 * Nothing acknowledged is lost: the gateway runs as its own process and is killed with
 * SIGKILL three times while a real mqtt.js client publishes QoS 1 readings numbered 1…N. Each
 * time it restarts on the same data directory and the client sends again what was not
 * acknowledged. At the end every reading is stored exactly once, and the chart's points equal
 * an uninterrupted run of the rules over the stored readings.
 */
const MAIN = join(import.meta.dirname, '..', 'gateway', 'cli', 'main.ts')
const TOPIC = 'crash/bore'
const N = 1500
const KILLS_AT = [300, 700, 1100]
const T0 = Date.UTC(2026, 11, 1, 6)
/** A deterministic value with a shift at 900, so rules fire across a kill. */
const valueAt = (seq: number) => 12 + ((seq * 37) % 17) / 100 + (seq > 900 ? 0.3 : 0)

const ALL_RULES: ViolationRule[] = [
  ...NELSON_RULES,
  ...WESTERN_ELECTRIC_RULES,
  'cusum-upper',
  'cusum-lower',
]

const characteristics = `
characteristics:
  - id: bore
    name: Bore
    path: p/a/l/c
    source: { mqtt: { topic: ${TOPIC} } }
    chart: { baselineCount: 25 }
`

interface Run {
  dataDir: string
  httpPort: number
  /** Where the device publishes: the gateway's embedded broker, or an external one. */
  mqttPort: number
  /** The gateway's `mqtt` settings; by default its embedded broker on mqttPort. */
  mqtt?: string
  extra: string
}

/** The start of a gateway's configuration: its data directory, ports and the device's broker. */
function gatewayYaml(run: Run): string {
  return `dataDir: ${JSON.stringify(join(run.dataDir, 'data'))}
log: { level: warn }
auth: { anonymousRole: viewer }
http: { host: 127.0.0.1, port: ${run.httpPort} }
mqtt: ${run.mqtt ?? `{ broker: { host: 127.0.0.1, port: ${run.mqttPort} } }`}
`
}

function startGateway(run: Run): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN, 'start', '--config', join(run.dataDir, 'gw.yaml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d))
  child.stderr?.on('data', (d: Buffer) => (output += d))
  return { child, output: () => output }
}

async function healthy(run: Run, gw: { output(): string }): Promise<void> {
  await waitFor(
    'the gateway to answer',
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${run.httpPort}/api/health`)).ok
      } catch {
        return false
      }
    },
    { timeoutMs: 60_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${gw.output()}`)
  })
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}

/**
 * Publishes 1…N at QoS 1, at most 50 unacknowledged; resolves with the acknowledged set. A
 * publish mqtt.js fails with "Connection closed" was queued behind its replay of the outgoing
 * store when the gateway was killed, and never sent: the device sends it again (mqtt.js itself
 * resends what it had sent).
 */
function publishAll(client: MqttClient, acked: Set<number>): Promise<void> {
  return new Promise((resolve) => {
    let next = 1
    let inFlight = 0
    const again: number[] = []
    const pump = () => {
      while (inFlight < 50 && (again.length > 0 || next <= N)) {
        const seq = again.shift() ?? next++
        inFlight++
        client.publish(
          TOPIC,
          JSON.stringify({ value: valueAt(seq), ts: T0 + seq * 1000 }),
          { qos: 1 },
          (err) => {
            inFlight--
            if (err) {
              again.push(seq)
              setTimeout(pump, 100)
              return
            }
            acked.add(seq)
            if (acked.size === N) resolve()
            else pump()
          },
        )
      }
    }
    pump()
  })
}

async function crashRun(run: Run): Promise<void> {
  await writeFile(
    join(run.dataDir, 'gw.yaml'),
    `${gatewayYaml(run)}${run.extra}
${characteristics}`,
  )
  let gw = startGateway(run)
  await healthy(run, gw).catch(async (err: unknown) => {
    await kill(gw.child)
    throw err
  })
  // Through an external broker, what is published before the gateway's first subscription has
  // nobody to go to and the broker drops it (after that the session keeps it): the device starts
  // once the broker has granted it.
  if (run.mqtt) await subscribed(run, gw)
  const client = connect(`mqtt://127.0.0.1:${run.mqttPort}`, {
    clientId: 'seq-publisher',
    reconnectPeriod: 100,
    connectTimeout: 5000,
  })
  client.on('error', () => {}) // refused while the gateway is down: mqtt.js reconnects
  const acked = new Set<number>()
  const done = publishAll(client, acked)
  try {
    for (const at of KILLS_AT) {
      await waitFor('acknowledgements', () => acked.size >= at, { timeoutMs: 60_000 })
      await kill(gw.child)
      gw = startGateway(run)
      await healthy(run, gw)
    }
    await done
    if (run.mqtt) await allTaken(run, gw)
  } catch (err) {
    // A failed run leaves no gateway behind.
    await kill(gw.child)
    throw err
  } finally {
    await client.endAsync()
  }
  // A clean stop: everything is committed and the file unlocked for reading.
  const exited = new Promise((r) => gw.child.once('exit', r))
  gw.child.kill('SIGTERM')
  await exited
}

async function subscribed(run: Run, gw: { child: ChildProcess; output(): string }): Promise<void> {
  await waitFor(
    'the gateway to subscribe on the external broker',
    async () => {
      const h = (await (await fetch(`http://127.0.0.1:${run.httpPort}/api/health`)).json()) as {
        sources: { name: string; connected: boolean }[]
      }
      return h.sources.some((s) => s.name === 'mqtt-external' && s.connected)
    },
    { timeoutMs: 30_000 },
  ).catch(async (err: Error) => {
    await kill(gw.child)
    throw new Error(`${err.message}\n${gw.output()}`)
  })
}

async function allTaken(run: Run, gw: { output(): string }): Promise<void> {
  // Through an external broker the device's acknowledgements are the broker's: wait until
  // the gateway has taken every reading before stopping it.
  let health: unknown = null
  await waitFor(
    'the gateway to take every reading',
    async () => {
      const h = (await (await fetch(`http://127.0.0.1:${run.httpPort}/api/health`)).json()) as {
        store: { pending: number }
        counters: { readings: number }
      }
      health = h
      // (The last gateway may have nothing left to take: the ones before it took it all.)
      return h.store.pending === 0
    },
    { timeoutMs: 60_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; health: ${JSON.stringify(health)}\n${gw.output()}`)
  })
  let seen = 0
  await waitFor(
    'every reading',
    async () => {
      seen = await readingCount(run)
      return seen >= N
    },
    { timeoutMs: 60_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${seen} of ${N} distinct readings stored\n${gw.output()}`)
  })
}

/** Distinct readings the gateway serves (the test gateway lets anonymous viewers read). */
async function readingCount(run: Run): Promise<number> {
  const q = new URLSearchParams({
    from: String(T0),
    to: String(T0 + (N + 1) * 1000),
    limit: '10000',
  })
  const res = await fetch(`http://127.0.0.1:${run.httpPort}/api/characteristics/bore/readings?${q}`)
  const body = (await res.json()) as { readings: { ts: number }[] }
  return new Set(body.readings.map((r) => r.ts)).size
}

/** What the journal holds: the readings (in arrival order) and chart points of `bore`. */
const stored = (dataDir: string) => storedSeries(join(dataDir, 'data'), 'bore')

/** The chart points an uninterrupted run of the rules gives over these readings. */
function uninterrupted(readings: { ts: number; value: number }[]) {
  const config = parseConfig(characteristics, 'test.yaml')
  const spec = characteristicSpec(config, config.characteristics[0] as never)
  const state = initialCharacteristicState(spec)
  const points: StoredChartPoint[] = []
  for (const r of readings) {
    for (const p of evaluate(spec, state, { ts: r.ts, value: r.value }).points) {
      points.push({
        index: p.index,
        ts: p.ts,
        phase: p.phase,
        n: p.n,
        panes: p.panes,
        // Each rule once, in the order N1…N8, WE1…WE4 (a rule judged on two panes is one).
        rules: ALL_RULES.filter((rule) => p.violations.some((v) => v.rule === rule)),
      })
    }
  }
  return points
}

describe('kill -9 while a device publishes at QoS 1', () => {
  let dir: { path: string; remove(): Promise<void> }
  beforeAll(async () => {
    dir = await tempDir()
  })
  afterAll(() => (process.env.KEEP ? undefined : dir?.remove()))

  it('SQLite: three kills; every reading stored exactly once, the chart as if never interrupted', async () => {
    const run: Run = {
      dataDir: join(dir.path, 'sqlite'),
      httpPort: await freePort(),
      mqttPort: await freePort(),
      extra: '',
    }
    await mkdir(run.dataDir, { recursive: true })
    await crashRun(run)
    const { readings, points } = stored(run.dataDir)
    // Every published reading, once each (its time stamp names it), in the order sent.
    expect(readings.map((r) => (r.ts - T0) / 1000)).toEqual(
      Array.from({ length: N }, (_, i) => i + 1),
    )
    expect(readings.map((r) => r.value)).toEqual(
      Array.from({ length: N }, (_, i) => valueAt(i + 1)),
    )
    // The stream numbering carried on across the kills.
    expect(readings.map((r) => r.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
    expect(points).toEqual(uninterrupted(readings))
  }, 240_000)

  it('a nonconformance its reading opened survives a kill right after the PUBACK', async () => {
    const run: Run = {
      dataDir: join(dir.path, 'nc'),
      httpPort: await freePort(),
      mqttPort: await freePort(),
      extra: '',
    }
    await mkdir(run.dataDir, { recursive: true })
    await writeFile(
      join(run.dataDir, 'gw.yaml'),
      `${gatewayYaml(run)}characteristics:
  - id: fill
    name: Fill
    path: p/a/l/c
    source: { mqtt: { topic: crash/fill } }
    limits: { actionHigh: 506 }
    openNcOn: [action-high]
`,
    )
    let gw = startGateway(run)
    await healthy(run, gw)
    const client = await connectAsync(`mqtt://127.0.0.1:${run.mqttPort}`, { reconnectPeriod: 0 })
    client.on('error', () => {})
    // The PUBACK says the reading, and the NC it opened, are on disk: killed at once, both stay.
    await client.publishAsync('crash/fill', JSON.stringify({ value: 507.5, ts: T0 }), { qos: 1 })
    await kill(gw.child)
    await client.endAsync(true)
    gw = startGateway(run)
    try {
      await healthy(run, gw)
      const res = await fetch(`http://127.0.0.1:${run.httpPort}/api/nonconformances`)
      const ncs = (await res.json()) as { cause: string; trigger: { value: number; ts: number } }[]
      expect(ncs.map((n) => [n.cause, n.trigger.value, n.trigger.ts])).toEqual([
        ['action-high', 507.5, T0],
      ])
    } finally {
      await kill(gw.child)
    }
  }, 120_000)

  it('external broker (Mosquitto): the PUBACK waits for the commit, so a kill loses nothing the broker was told', async () => {
    const mosquitto = await startMosquitto()
    try {
      const run: Run = {
        dataDir: join(dir.path, 'external'),
        httpPort: await freePort(),
        mqttPort: mosquitto.port,
        mqtt: `{ broker: { enabled: false }, external: { url: '${mosquitto.url}', clientId: lw-crash } }`,
        extra: '',
      }
      await mkdir(run.dataDir, { recursive: true })
      await crashRun(run)
      const { readings, points } = stored(run.dataDir)
      // At least once (QoS 1 from a broker): every reading is there; one taken but not yet
      // acknowledged when the gateway died comes again.
      const seen = new Set(readings.map((r) => (r.ts - T0) / 1000))
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      expect(readings.map((r) => r.seq)).toEqual(readings.map((_, i) => i + 1))
      expect(points).toEqual(uninterrupted(readings))
    } finally {
      await mosquitto.stop()
    }
  }, 240_000)
})

describe('kill -9 with InfluxDB as the time series', () => {
  let influxd: RunningInfluxd
  let dir: { path: string; remove(): Promise<void> }
  beforeAll(async () => {
    influxd = await startInfluxd()
    dir = await tempDir('linewatch-crash-influx-')
  }, 60_000)
  afterAll(async () => {
    await influxd?.remove()
    await dir?.remove()
  })

  /** InfluxQL over the real influxd's HTTP API: the values of one series. */
  async function influxql(q: string): Promise<unknown[][]> {
    const res = await fetch(`${influxd.url}/query?db=crash&epoch=ms&q=${encodeURIComponent(q)}`)
    const body = (await res.json()) as { results: { series?: { values: unknown[][] }[] }[] }
    return body.results[0]?.series?.[0]?.values ?? []
  }

  it('QoS 0 readings the journal committed while their InfluxDB batch was in memory reach InfluxDB through the replay', async () => {
    const run: Run = {
      dataDir: dir.path,
      httpPort: await freePort(),
      mqttPort: await freePort(),
      extra: '',
    }
    const configure = (flushIntervalMs: number) =>
      writeFile(
        join(run.dataDir, 'gw.yaml'),
        `${gatewayYaml(run)}store:
  timeseries: influxdb
  influxdb: { url: '${influxd.url}', database: crash, flushIntervalMs: ${flushIntervalMs}, batchSize: 100000 }
${characteristics}`,
      )
    // InfluxDB's batch waits a minute: the readings stay in the gateway's memory.
    await configure(60_000)
    let gw = startGateway(run)
    const M = 60
    try {
      await healthy(run, gw)
      const device = await connectAsync(`mqtt://127.0.0.1:${run.mqttPort}`, {
        clientId: 'qos0-device',
      })
      const publish = async (from: number, to: number) => {
        for (let seq = from; seq <= to; seq++)
          await device.publishAsync(
            TOPIC,
            JSON.stringify({ value: valueAt(seq), ts: T0 + seq * 1000 }),
            { qos: 0 },
          )
        await waitFor('the readings judged', async () => {
          const h = (await (await fetch(`http://127.0.0.1:${run.httpPort}/api/health`)).json()) as {
            counters: { readings: number }
          }
          return h.counters.readings === to
        })
      }
      const inInflux = async () =>
        Number(
          (
            await influxql("SELECT count(value) FROM reading WHERE characteristic = 'bore'")
          )[0]?.[1] ?? 0,
        )
      // The 25 readings of the baseline: the limits are established and the chart snapshotted
      // at once. The snapshot goes to the journal once InfluxDB has the readings it covers.
      await publish(1, 25)
      await waitFor('InfluxDB to have the baseline', async () => (await inInflux()) === 25)
      // Then readings no snapshot covers: the journal commits them within 200 ms, InfluxDB's
      // batch keeps them in memory (a chart is snapshotted again 5 s after it changed: 2 s
      // after the last reading none covers them).
      await publish(26, M)
      await device.endAsync()
      await new Promise((r) => setTimeout(r, 2000))
      expect(await inInflux()).toBe(25)
      await kill(gw.child)

      await configure(50)
      gw = startGateway(run)
      await healthy(run, gw)
      // InfluxDB has each of the M readings with its point, as the chart (replayed from the
      // journal) counts them.
      const readings = await waitFor('InfluxDB to have the readings', async () => {
        const rows = await influxql("SELECT value FROM reading WHERE characteristic = 'bore'")
        return rows.length >= M ? rows : undefined
      })
      expect(readings).toEqual(
        Array.from({ length: M }, (_, k) => [T0 + (k + 1) * 1000, valueAt(k + 1)]),
      )
      // The chart counted all M (its last point is the M-th reading's, index M - 1) and InfluxDB
      // has its points up to that one.
      const chart = (await (
        await fetch(`http://127.0.0.1:${run.httpPort}/api/characteristics/bore/chart`)
      ).json()) as { points: { index: number; ts: number }[] }
      expect(chart.points.at(-1)).toMatchObject({ index: M - 1, ts: T0 + M * 1000 })
      const points = await influxql(
        "SELECT \"index\" FROM chart WHERE characteristic = 'bore' AND pane = 'i'",
      )
      expect(points.at(-1)).toEqual([T0 + M * 1000, M - 1])
    } finally {
      await kill(gw.child)
    }
  }, 120_000)
})
