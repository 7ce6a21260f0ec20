import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect, type MqttClient } from 'mqtt'
import pg from 'pg'
import { onTestFailed } from 'vitest'
import type { InfluxConfig } from '../../gateway/config/index.ts'
import type { AlarmView } from '../../gateway/contract.ts'
import { createLogger } from '../../gateway/log.ts'
import { createInfluxStore, type InfluxStore } from '../../gateway/store/influx.ts'
import { preferredMember } from '../../rules/leases.ts'
import { apiCall, freePort, tempDir, waitFor } from './index.ts'
import { type RunningInfluxd, startInfluxd } from './influxd.ts'
import { type Mosquitto, startMosquitto } from './mosquitto.ts'
import { type Postgres, startPostgres } from './postgres.ts'
import { type RedisServer, startRedis } from './redis.ts'

/**
 * What a cluster's tests share (issue 12): the servers of one plant (PostgreSQL, Mosquitto,
 * Redis, InfluxDB) on loopback, and gateway processes started on them, each in its own data
 * directory and named on the command line (`--gateway`). `KEEP=1` keeps the directory, with
 * each gateway's output in `<name>/output.log`.
 */
const MAIN = join(import.meta.dirname, '..', '..', 'gateway', 'cli', 'main.ts')
const REDIS_ENV = 'LINEWATCH_TEST_CLUSTER_REDIS'
export const CLUSTER_ADMIN_PASSWORD = 'cluster-test-first-password-0123'

/** Passwords of the quality staff the cluster tests add (quality engineer, manager, operator). */
export const STAFF_PASSWORDS = {
  qe: 'engineer: quiet river stone',
  qm: 'manager: amber lantern hill',
  op: 'operator: seven blue kites',
}

/** A gateway's API as the cluster tests call it. */
export const callGateway = <T>(
  gw: ClusterGateway,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
) => apiCall<T>(gw.url, method, path, token, body)

export const signIn = (gw: ClusterGateway, user: string, password: string) =>
  callGateway<{ token: string }>(gw, 'POST', '/api/auth/sign-in', null, { user, password })

/** An alarm as a gateway shows it (anonymous: the plant's gateways let viewers in). */
export const alarmOn = async (gw: ClusterGateway, id: string) =>
  (await callGateway<AlarmView>(gw, 'GET', `/api/alarms/${id}`, null)).body

/** A device on the plant's broker; `publish(c, value)`: a reading now, at QoS 1, to `<prefix>/<c>`. */
export async function connectDevice(
  plant: ClusterPlant,
  clientId: string,
  prefix: string,
): Promise<{ client: MqttClient; publish(c: string, value: number): Promise<void> }> {
  const client = connect(plant.mosquitto.url, { clientId, reconnectPeriod: 100 })
  client.on('error', () => {})
  await waitFor('the device to connect', () => client.connected)
  return {
    client,
    async publish(c, value) {
      const reading = JSON.stringify({ value, ts: new Date().toISOString() })
      await client.publishAsync(`${prefix}/${c}`, reading, { qos: 1 })
    },
  }
}

export interface ClusterGateway {
  name: string
  url: string
  child: ChildProcess
  output(): string
}

export interface ClusterPlant {
  postgres: Postgres
  mosquitto: Mosquitto
  redis: RedisServer
  influxd: RunningInfluxd
  /** A connection of the test's own to the shared PostgreSQL. */
  db: pg.Client
  /** The gateways started and not killed, by name. */
  gateways: Map<string, ClusterGateway>
  startGateway(name: string, options: GatewayOptions): Promise<ClusterGateway>
  /** SIGKILL, as a machine that dies. */
  kill(name: string): Promise<void>
  /** Live leases by partition (or unit), read with PostgreSQL's clock. */
  leases(): Promise<Map<number, string>>
  /** Waits until every one of `partitions` is leased, by `holders` gateways; the leases then. */
  settled(partitions: number, holders: number): Promise<Map<number, string>>
  /** Waits until `name` holds every one of `partitions` (the others' leases taken over). */
  heldBy(name: string, partitions: number): Promise<void>
  /** Waits until every one of `units` is leased to the gateway rendezvous hashing prefers among `members`. */
  preferred(units: number, members: readonly string[]): Promise<Map<number, string>>
  /** A reader of what the gateways wrote to this InfluxDB database (the gateway's own adapter). */
  reader(database: string): Promise<InfluxStore>
  /** Readings InfluxDB's `database` has of a characteristic, with a time stamp after `since` (ms). */
  stored(database: string, characteristic: string, since: number): Promise<number>
  /** The sources of a `kind` a gateway runs (health), by name, with whether each is connected. */
  sources(gw: ClusterGateway, kind: string): Promise<Map<string, boolean>>
  /** The last lines each running gateway logged, for a failure's message. */
  dump(): string
  /** `waitFor`, whose failure carries the gateways' last log lines. */
  waitFor: typeof waitFor
  stop(): Promise<void>
}

export interface GatewayOptions {
  partitions: number
  leaseMs: number
  /** The InfluxDB database, and the prefix of the Redis channels. */
  database: string
  /** mqtt.external.clientId (the partitions' sessions are `<clientId>-p<n>`). */
  clientId: string
  /** Further top-level YAML, and the characteristics. */
  yaml: string
  /** Redis for this gateway (a proxy, say); the plant's by default. */
  redisUrl?: string
}

/** Starts of a gateway tried when its port was taken meanwhile (see startGateway). */
const PORT_ATTEMPTS = 5

export async function startClusterPlant(prefix: string): Promise<ClusterPlant> {
  const dir = await tempDir(prefix)
  const [postgres, mosquitto, redis, influxd] = await Promise.all([
    startPostgres(),
    startMosquitto(),
    startRedis(),
    startInfluxd(),
  ])
  const db = new pg.Client({ connectionString: postgres.url })
  await db.connect()
  const gateways = new Map<string, ClusterGateway>()

  async function kill(name: string): Promise<void> {
    const child = gateways.get(name)?.child
    gateways.delete(name)
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }

  async function leases(): Promise<Map<number, string>> {
    const { rows } = await db.query<{ partition: number; holder: string }>(
      'SELECT partition, holder FROM cluster_lease WHERE expires_at > now()',
    )
    return new Map(rows.map((r) => [r.partition, r.holder]))
  }

  const dump = () =>
    [...gateways.values()].map((g) => `--- ${g.name}\n${g.output().slice(-4000)}`).join('\n')
  const waitOrDump: typeof waitFor = (what, check, options) =>
    waitFor(what, check, options).catch((err: Error) => {
      throw new Error(`${err.message}\n${dump()}`)
    })

  /** One start of a gateway on a port chosen now: the gateway once it answers as itself, or why not. */
  async function spawnGateway(
    name: string,
    o: GatewayOptions,
    dataDir: string,
  ): Promise<{ running: ClusterGateway } | { running: null; portTaken: boolean; error: Error }> {
    const httpPort = await freePort()
    const file = join(dataDir, 'gw.yaml')
    await writeFile(
      file,
      `dataDir: ${JSON.stringify(join(dataDir, 'data'))}
log: { level: ${process.env.LINEWATCH_TEST_LOG ?? 'warn'} }
auth: { anonymousRole: viewer }
http: { host: 127.0.0.1, port: ${httpPort} }
mqtt: { broker: { enabled: false }, external: { url: '${mosquitto.url}', clientId: ${o.clientId} } }
store:
  timeseries: influxdb
  influxdb: { url: '${influxd.url}', database: ${o.database}, flushIntervalMs: 50 }
  records: postgres
cluster: { gateway: placeholder, partitions: ${o.partitions}, leaseMs: ${o.leaseMs} }
live: { flushIntervalMs: 50, redis: { urlEnv: ${REDIS_ENV}, keyPrefix: ${o.database} } }
${o.yaml}`,
    )
    // One file per gateway (each has its own data directory and port); the name comes from --gateway.
    const child = spawn(
      process.execPath,
      [MAIN, 'start', '--config', file, '--gateway', name, '--json-logs'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          LINEWATCH_POSTGRES_URL: postgres.url,
          [REDIS_ENV]: o.redisUrl ?? redis.url,
          LINEWATCH_ADMIN_PASSWORD: CLUSTER_ADMIN_PASSWORD,
        },
      },
    )
    let output = ''
    child.stdout?.on('data', (d: Buffer) => (output += d))
    child.stderr?.on('data', (d: Buffer) => (output += d))
    if (process.env.KEEP)
      child.once('exit', () => void writeFile(join(dataDir, 'output.log'), output).catch(() => {}))
    const url = `http://127.0.0.1:${httpPort}`
    const answered = await waitFor(
      `${name} to answer`,
      async () => {
        if (child.exitCode !== null) return 'exited'
        try {
          const res = await fetch(`${url}/api/health`)
          const health = (await res.json()) as { cluster?: { gateway?: string } }
          return res.ok && health.cluster?.gateway === name && 'up'
        } catch {
          return false
        }
      },
      { timeoutMs: 60_000 },
    ).catch((err: Error) => err)
    if (answered !== 'up') {
      child.kill('SIGKILL')
      // What it wrote before it exited may still be on its way (its output closes after the exit).
      await new Promise((resolve) => {
        if (child.stdout?.readableEnded && child.stderr?.readableEnded) resolve(null)
        child.once('close', resolve)
        setTimeout(resolve, 2000).unref()
      })
      const why = answered === 'exited' ? `${name} exited (${child.exitCode})` : answered.message
      return {
        running: null,
        portTaken: output.includes('LW_ERR_PORT_IN_USE'),
        error: new Error(`${why}\n${output}`),
      }
    }
    // A test that fails shows what each of its gateways logged (warnings and errors).
    try {
      onTestFailed(() => {
        console.error(`--- ${name}, its last lines:\n${output.split('\n').slice(-40).join('\n')}`)
      })
    } catch {
      // Started outside a test (in a hook): nothing to report to.
    }
    const running: ClusterGateway = { name, url, child, output: () => output }
    gateways.set(name, running)
    return { running }
  }

  return {
    postgres,
    mosquitto,
    redis,
    influxd,
    db,
    gateways,
    kill,

    waitFor: waitOrDump,

    async startGateway(name, o) {
      const dataDir = join(dir.path, name)
      await mkdir(dataDir, { recursive: true })
      // The port is free when chosen, not always when the gateway, seconds later, listens: a
      // test running beside this one may have taken it (listening on port 0). Such a start ends
      // with LW_ERR_PORT_IN_USE and is tried again on another port; and a gateway counts as
      // up only when the one answering on its port says it is this one (another test's could).
      for (let attempt = 1; ; attempt++) {
        const started = await spawnGateway(name, o, dataDir)
        if (started.running) return started.running
        if (!started.portTaken || attempt >= PORT_ATTEMPTS) throw started.error
      }
    },

    async reader(database) {
      const store = createInfluxStore(
        { url: influxd.url, database, flushIntervalMs: 50 } as InfluxConfig,
        { log: createLogger('silent'), spoolDir: join(dir.path, `reader-${database}`), env: {} },
      )
      await store.start()
      return store
    },

    leases,

    settled(partitions, holders) {
      return waitFor(
        `every partition to be leased by ${holders} gateways`,
        async () => {
          const held = await leases()
          return held.size === partitions && new Set(held.values()).size === holders
            ? held
            : undefined
        },
        { timeoutMs: 60_000 },
      )
    },

    preferred(units, members) {
      return waitOrDump(
        'every unit leased to its preferred gateway',
        async () => {
          const held = await leases()
          return held.size === units &&
            [...held].every(([unit, h]) => h === preferredMember(unit, members))
            ? held
            : undefined
        },
        { timeoutMs: 60_000 },
      )
    },

    async stored(database, characteristic, since) {
      const q = new URLSearchParams({
        db: database,
        q: `SELECT count(value) FROM reading WHERE characteristic = '${characteristic}' AND time > ${since}ms`,
      })
      const body = (await (await fetch(`${influxd.url}/query?${q}`)).json()) as {
        results: { series?: { values: [string, number][] }[] }[]
      }
      return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0
    },

    async sources(gw, kind) {
      const health = (await (await fetch(`${gw.url}/api/health`)).json()) as {
        sources: { name: string; kind: string; connected: boolean }[]
      }
      return new Map(
        health.sources.filter((s) => s.kind === kind).map((s) => [s.name, s.connected]),
      )
    },

    dump,

    async heldBy(name, partitions) {
      await waitFor(
        `${name} to hold every partition`,
        async () => {
          const held = await leases()
          return held.size === partitions && [...held.values()].every((h) => h === name)
        },
        { timeoutMs: 30_000 },
      )
    },

    async stop() {
      for (const name of [...gateways.keys()]) await kill(name)
      await db.end()
      await Promise.all([postgres.stop(), mosquitto.stop(), redis.stop(), influxd.remove()])
      if (!process.env.KEEP) await dir.remove()
      else console.log(`kept ${dir.path}`)
    },
  }
}
