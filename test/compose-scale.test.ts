import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { connect as connectTcp } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfigFile } from '../gateway/config/index.ts'
import { freePort, requireProgram, startProcess, tempDir, waitFor } from './helpers/index.ts'

/**
 * docker-compose.scale.yml (docs/scale.md): several gateways on PostgreSQL, Redis, Mosquitto,
 * InfluxDB and Grafana. No Docker engine here: the file is checked with Debian's docker-compose
 * (`config` needs no engine), its Mosquitto configuration with a real Mosquitto 2, and the
 * gateways' configuration with `linewatch config check`.
 */

const run = promisify(execFile)
const FILE = 'docker-compose.scale.yml'

/** Every secret the file takes from the environment, each with a value no file holds. */
const SECRETS = {
  POSTGRES_PASSWORD: 'pg-5e7c1a0f9b',
  REDIS_PASSWORD: 'redis-0b4d2e8a71',
  MQTT_PASSWORD: 'mqtt-gw-9a3f6c2d',
  MQTT_DEVICE_PASSWORD: 'mqtt-dev-41be07c5',
  LINEWATCH_ADMIN_PASSWORD: 'admin-c28e55d0f3',
  GRAFANA_ADMIN_PASSWORD: 'grafana-7d19b6e4a2',
} as const

type Service = {
  build?: string | { context: string; dockerfile?: string }
  image?: string
  command?: string[] | string
  entrypoint?: string[]
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  healthcheck?: { test: string[] }
  depends_on?: Record<string, { condition: string }>
  tmpfs?: string[]
}
type Compose = { services: Record<string, Service>; volumes: Record<string, unknown> }

const GATEWAYS = ['gw-a', 'gw-b', 'gw-c']

/** `docker-compose -f docker-compose.scale.yml config` with exactly `env` (no .env is read). */
async function composeConfig(
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = await requireProgram('docker-compose', 'docker-compose')
  const dir = await tempDir('linewatch-compose-')
  try {
    const envFile = join(dir.path, 'empty.env')
    await writeFile(envFile, '')
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !(k in SECRETS)),
    ) as Record<string, string>
    const { stdout, stderr } = await run(program, ['--env-file', envFile, '-f', FILE, 'config'], {
      env: { ...clean, ...env },
      timeout: 60_000,
    })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }
  } finally {
    await dir.remove()
  }
}

// `merge`: the gateways share their settings through a YAML merge key (<<: *gateway).
const raw = parse(readFileSync(FILE, 'utf8'), { merge: true }) as Compose

describe('docker-compose.scale.yml', () => {
  let resolved: Compose

  beforeAll(async () => {
    const { code, stdout, stderr } = await composeConfig({ ...SECRETS })
    expect(stderr).not.toMatch(/error/i)
    expect(code).toBe(0)
    resolved = parse(stdout) as Compose
  })

  it('is a valid Compose file with every secret set: three gateways, PostgreSQL 15, Redis 7, Mosquitto 2, InfluxDB 1.8, Grafana', () => {
    expect(Object.keys(resolved.services).sort()).toEqual(
      [...GATEWAYS, 'grafana', 'influxdb', 'mosquitto', 'postgres', 'redis', 'simulators'].sort(),
    )
    const image = (name: string) => resolved.services[name]?.image ?? ''
    expect(image('postgres')).toMatch(/^postgres:15(\.|-|$)/)
    expect(image('redis')).toMatch(/^redis:7(\.|-|$)/)
    expect(image('mosquitto')).toMatch(/^eclipse-mosquitto:2(\.|-|$)/)
    expect(image('influxdb')).toMatch(/^influxdb:1\.8(\.|-|$)/)
    expect(image('grafana')).toBe(
      (parse(readFileSync('docker-compose.yml', 'utf8')) as Compose).services.grafana?.image,
    )
  })

  it.each(Object.keys(SECRETS))('refuses to run without %s, naming it', async (name) => {
    const env: Record<string, string> = { ...SECRETS }
    delete env[name]
    const { code, stderr } = await composeConfig(env)
    expect(code).not.toBe(0)
    expect(stderr).toContain(`set ${name} (in .env or the environment)`)
  })

  it('runs three gateways from the repository image, each with its own name, port and data volume, checked as docker-compose.yml checks its gateway', async () => {
    const single = (parse(readFileSync('docker-compose.yml', 'utf8')) as Compose).services.gateway
    const config = await loadConfigFile('config/scale.yaml')
    const names: string[] = []
    const volumes: string[] = []
    const ports: string[] = []
    for (const name of GATEWAYS) {
      const s = resolved.services[name] as Service
      // Built from the repository's Dockerfile, as docker-compose.yml's gateway.
      expect(raw.services[name]?.build).toBe(single?.build)
      expect(s.image).toBe(single?.image)
      expect(s.healthcheck?.test).toEqual(single?.healthcheck?.test)
      const command = s.command as string[]
      expect(command.slice(0, 3)).toEqual(['start', '--config', 'config/scale.yaml'])
      const at = command.indexOf('--gateway')
      expect(at).toBeGreaterThan(0)
      names.push(command[at + 1] as string)
      const data = (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : '')).filter(Boolean)
      const dataVolume = data.find(
        (v) => v.endsWith(`:${config.dataDir}`) || v.includes(`:${config.dataDir}:`),
      )
      expect(dataVolume, `${name} mounts a volume at ${config.dataDir}`).toBeDefined()
      volumes.push((dataVolume as string).split(':')[0] as string)
      const port = (s.ports ?? [])[0] as unknown
      const published =
        typeof port === 'string'
          ? port
          : `${(port as { published: number }).published}:${(port as { target: number }).target}`
      expect(published.endsWith(`:${config.http.port}`)).toBe(true)
      ports.push(published)
      for (const dep of ['postgres', 'redis', 'mosquitto', 'influxdb'])
        expect(s.depends_on?.[dep]?.condition).toBe('service_healthy')
    }
    expect(names).toEqual(GATEWAYS)
    expect(new Set(volumes).size).toBe(3)
    expect(new Set(ports).size).toBe(3)
    for (const v of volumes) expect(Object.keys(raw.volumes)).toContain(v)
  })

  it('takes every secret from the environment and hands each gateway what config/scale.yaml names', async () => {
    const text = readFileSync(FILE, 'utf8')
    // No secret value in the file; every password-like setting is a required variable.
    for (const value of Object.values(SECRETS)) expect(text).not.toContain(value)
    for (const [service, s] of Object.entries(raw.services))
      for (const [key, value] of Object.entries(s.environment ?? {}))
        if (/(PASSWORD|_URL|_AUTH|TOKEN|SECRET)$/.test(key))
          expect(String(value), `${service}: ${key}`).toMatch(/\$\{[A-Z_]+:\?[^}]+\}/)
    // Resolved: the secrets arrive where they are needed.
    const env = (name: string) => resolved.services[name]?.environment ?? {}
    expect(env('postgres').POSTGRES_PASSWORD).toBe(SECRETS.POSTGRES_PASSWORD)
    expect(env('redis').REDISCLI_AUTH).toBe(SECRETS.REDIS_PASSWORD)
    expect(env('mosquitto').MQTT_PASSWORD).toBe(SECRETS.MQTT_PASSWORD)
    expect(env('mosquitto').MQTT_DEVICE_PASSWORD).toBe(SECRETS.MQTT_DEVICE_PASSWORD)
    expect(env('grafana').GF_SECURITY_ADMIN_PASSWORD).toBe(SECRETS.GRAFANA_ADMIN_PASSWORD)

    const config = await loadConfigFile('config/scale.yaml')
    const postgresEnv = (config.store as { postgres?: { urlEnv?: string } }).postgres?.urlEnv
    const redisEnv = config.live.redis?.urlEnv
    const mqttEnv = config.mqtt.external?.passwordEnv
    expect([postgresEnv, redisEnv, mqttEnv]).toEqual([
      'LINEWATCH_POSTGRES_URL',
      'LINEWATCH_REDIS_URL',
      'MQTT_PASSWORD',
    ])
    for (const name of GATEWAYS) {
      const e = env(name)
      const pg = new URL(e[postgresEnv as string] as string)
      expect([pg.protocol, pg.username, pg.password, pg.hostname, pg.pathname]).toEqual([
        'postgres:',
        env('postgres').POSTGRES_USER,
        SECRETS.POSTGRES_PASSWORD,
        'postgres',
        `/${env('postgres').POSTGRES_DB}`,
      ])
      const redis = new URL(e[redisEnv as string] as string)
      expect([redis.protocol, redis.password, redis.hostname]).toEqual([
        'redis:',
        SECRETS.REDIS_PASSWORD,
        'redis',
      ])
      expect(e[mqttEnv as string]).toBe(SECRETS.MQTT_PASSWORD)
      expect(e.LINEWATCH_ADMIN_PASSWORD).toBe(SECRETS.LINEWATCH_ADMIN_PASSWORD)
    }
    // The services by the host names the configuration uses.
    expect(new URL(config.mqtt.external?.url ?? '').hostname).toBe('mosquitto')
    expect(new URL(config.store.influxdb?.url ?? '').hostname).toBe('influxdb')
    expect(config.mqtt.external?.username).toBe('linewatch')
    const datasource = parse(
      readFileSync('docker/grafana/provisioning/datasources/influxdb.yaml', 'utf8'),
    ) as { datasources: { url: string; jsonData: { dbName: string } }[] }
    expect(new URL(datasource.datasources[0]?.url ?? '').hostname).toBe('influxdb')
    expect(datasource.datasources[0]?.jsonData.dbName).toBe(config.store.influxdb?.database)
    expect(resolved.services.grafana?.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/docker\/grafana\/provisioning:\/etc\/grafana\/provisioning:ro$/),
      ]),
    )
  })

  it('config/scale.yaml passes `linewatch config check` with a cluster on PostgreSQL, InfluxDB and the external broker', async () => {
    // The CLI from the sources (bin/linewatch.js runs the build, which `npm run build` refreshes).
    const { stdout } = await run(
      process.execPath,
      ['gateway/cli/main.ts', 'config', 'check', 'config/scale.yaml'],
      { timeout: 60_000 },
    )
    expect(stdout).toMatch(/^config\/scale\.yaml: valid — \d+ characteristics/)
    const config = await loadConfigFile('config/scale.yaml')
    const c = config as typeof config & {
      cluster?: { gateway: string; partitions: number; leaseMs: number }
      store: { records?: string }
    }
    expect(c.cluster).toMatchObject({ partitions: 32, leaseMs: 10_000 })
    expect(c.store.records).toBe('postgres')
    expect(config.store.timeseries).toBe('influxdb')
    expect(config.mqtt.broker.enabled).toBe(false)
    expect(config.characteristics.every((ch) => ch.source.mqtt !== undefined)).toBe(true)
  })
})

describe('docker/mosquitto-scale.conf', () => {
  const conf = readFileSync('docker/mosquitto-scale.conf', 'utf8')
  const setting = (name: string) =>
    conf
      .split('\n')
      .filter((l) => l.startsWith(`${name} `))
      .map((l) => l.slice(name.length + 1).trim())

  it('keeps sessions on a volume, sized for a gateway outage, with password sign-in on 1883', () => {
    expect(setting('listener')).toEqual(['1883'])
    expect(setting('allow_anonymous')).toEqual(['false'])
    expect(setting('persistence')).toEqual(['true'])
    const location = setting('persistence_location')[0] as string
    const mosquitto = raw.services.mosquitto as Service
    expect(mosquitto.volumes).toEqual(
      expect.arrayContaining([
        './docker/mosquitto-scale.conf:/mosquitto/config/mosquitto.conf:ro',
        `mosquitto-data:${location.replace(/\/$/, '')}`,
      ]),
    )
    // The password file lives in the tmpfs the entrypoint writes it to.
    const passwordFile = setting('password_file')[0] as string
    expect(mosquitto.tmpfs?.some((t) => passwordFile.startsWith(`${t}/`))).toBe(true)
    // 10 minutes of a partition at 10,000 readings/s over 32 partitions (docs/scale.md).
    expect(Number(setting('max_queued_messages')[0])).toBeGreaterThanOrEqual(
      Math.ceil((10_000 / 32) * 600),
    )
    expect(Number(setting('max_inflight_messages')[0])).toBeGreaterThanOrEqual(100)
  })

  describe('run by a real Mosquitto 2 (paths moved to a temporary directory)', () => {
    let dir: { path: string; remove(): Promise<void> }
    let broker: ReturnType<typeof startProcess>
    let port: number

    beforeAll(async () => {
      const program = await requireProgram('mosquitto', 'mosquitto')
      const passwd = await requireProgram('mosquitto_passwd', 'mosquitto')
      dir = await tempDir('linewatch-mosquitto-scale-')
      port = await freePort()
      await mkdir(join(dir.path, 'run'))
      await mkdir(join(dir.path, 'data'))
      const file = join(dir.path, 'run', 'passwd')
      await writeFile(file, '', { mode: 0o600 })
      await run(passwd, ['-b', file, 'linewatch', SECRETS.MQTT_PASSWORD])
      const { userInfo } = await import('node:os')
      const moved = conf
        .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
        .replace(/^password_file .*$/m, `password_file ${file}`)
        .replace(/^persistence_location .*$/m, `persistence_location ${join(dir.path, 'data')}/`)
      await writeFile(join(dir.path, 'mosquitto.conf'), `user ${userInfo().username}\n${moved}`)
      broker = startProcess(program, ['-c', join(dir.path, 'mosquitto.conf')])
      await waitFor(
        'mosquitto to listen',
        () =>
          new Promise<boolean>((resolve) => {
            const s = connectTcp(port, '127.0.0.1')
            s.once('connect', () => {
              s.destroy()
              resolve(true)
            })
            s.once('error', () => resolve(false))
          }),
        { timeoutMs: 15_000 },
      )
    })
    afterAll(async () => {
      await broker?.stop()
      await dir?.remove()
    })

    it('accepts the configuration, signs the gateway in and refuses anonymous clients', async () => {
      const url = `mqtt://127.0.0.1:${port}`
      const c = await connectAsync(url, {
        username: 'linewatch',
        password: SECRETS.MQTT_PASSWORD,
        clientId: 'linewatch-p0',
        clean: false,
        reconnectPeriod: 0,
      })
      await c.endAsync()
      await expect(
        connectAsync(url, { clientId: 'anonymous', reconnectPeriod: 0 }),
      ).rejects.toThrow(/Not authorized|Bad User Name or Password/i)
      expect(broker.output()).not.toMatch(/Error/)
    })
  })
})
