import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { ALARM_STATEMENTS, createAlarmService } from './alarms/index.ts'
import { createAuth } from './api/auth.ts'
import { registerApi } from './api/index.ts'
import type { Cluster } from './cluster/index.ts'
import { createPeerBus } from './cluster/peers.ts'
import { Tenures } from './cluster/tenures.ts'
import type { Config } from './config/index.ts'
import { webhookConfigProblems } from './config/webhook-schema.ts'
import type { Health } from './contract.ts'
import { LinewatchError } from './errors.ts'
import { EventBus } from './events.ts'
import { createLiveHub, type LiveHub } from './live/index.ts'
import { createRecentDeviations } from './live/recent-deviations.ts'
import { createLogger, type Logger } from './log.ts'
import { createNcService, NC_STATEMENTS } from './nonconformance/index.ts'
import { dashboardDir, packageVersion } from './paths.ts'
import { createPipeline } from './pipeline/index.ts'
import {
  AUDIT_HEAD_FILE,
  AUDIT_STATEMENTS,
  CONFIG_STATEMENTS,
  createAuditTrail,
  createQualityService,
  createUserDirectory,
  QUALITY_STATEMENTS,
  recordConfiguration,
  USER_STATEMENTS,
  type UserDirectory,
} from './quality/index.ts'
import { RecentCounter } from './recent-errors.ts'
import { releaseFreedMemory } from './release-memory.ts'
import { startDailyReports } from './reports/index.ts'
import { createMqttBrokerSource } from './sources/mqtt-broker.ts'
import { createSparkplugSource, sparkplugEnabled } from './sources/sparkplug/index.ts'
import type { ReadingSink, Source, SourceStatus } from './sources/types.ts'
import {
  openRecordsAt,
  postgresUrl,
  recordsChain,
  recordsLocation,
  writerTarget,
} from './store/records.ts'
import { createRecordsWriter, whenAll } from './store/records-writer.ts'
import { createSqliteStore } from './store/sqlite.ts'
import type { Delivery, JournaledStore } from './store/types.ts'
import { createWebhooks } from './webhooks/index.ts'

const DAY_MS = 86_400_000

/**
 * The gateway: `await createGateway(config)` starts every part, `await gateway.close()` stops
 * them in reverse (inputs first, so nothing arrives at a closed store). A part that fails to
 * start stops the ones already started before the error is thrown.
 */
export interface Gateway {
  readonly config: Config
  readonly bootId: string
  readonly urls: { http: string; mqtt: string | null; mqtts: string | null }
  /** What GET /api/health answers, for a program that runs the gateway in its own process. */
  health(): Health
  close(): Promise<void>
}

export interface GatewayOptions {
  log?: Logger
  env?: NodeJS.ProcessEnv
  /** The configuration file's path, named in the audit entry of a changed configuration. */
  configFile?: string
}

/**
 * The first admin, at the first start (no user yet): `admin` with the password in
 * LINEWATCH_ADMIN_PASSWORD, or else a random one written once to dataDir/initial-admin-password
 * (mode 0600) for the person who installed the gateway to read, use, change and delete.
 */
async function firstAdmin(
  users: UserDirectory,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<void> {
  if (users.list().length > 0) return
  const given = env.LINEWATCH_ADMIN_PASSWORD
  const password = given ?? randomBytes(18).toString('base64url')
  const added = await users.add(
    { name: 'admin', printedName: 'Administrator', role: 'admin', password },
    'system',
    given ? 'first start: LINEWATCH_ADMIN_PASSWORD' : 'first start: a random password',
  )
  if (Array.isArray(added)) {
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `the first admin (user admin) cannot be made: ${added.join('; ')}`,
    )
  }
  if (given) {
    log.info({ user: 'admin' }, 'the first admin was made from LINEWATCH_ADMIN_PASSWORD')
    return
  }
  const file = join(dataDir, 'initial-admin-password')
  writeFileSync(file, `${password}\n`, { mode: 0o600 })
  log.warn(
    { user: 'admin', file },
    'the first admin was made with a random password, written to this file: sign in, change it, delete the file',
  )
}

export async function createGateway(
  config: Config,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const log = options.log ?? createLogger(config.log.level)
  const env = options.env ?? process.env
  // Before anything starts: a live.redis whose URL is missing is a configuration error.
  let liveRedis: { url: string; keyPrefix: string } | undefined
  if (config.live.redis) {
    const url = env[config.live.redis.urlEnv]
    if (!url) {
      throw new LinewatchError(
        'LW_ERR_SECRET_MISSING',
        `live.redis.urlEnv names the environment variable ${config.live.redis.urlEnv}, which is not set: set it to the Redis URL (e.g. redis://127.0.0.1:6379)`,
      )
    }
    liveRedis = { url, keyPrefix: config.live.redis.keyPrefix }
  }
  // store.records: sqlite (records.db) or postgres (its URL's variable must be set).
  const records = recordsLocation(config, resolve(config.dataDir), env)
  const bootId = randomUUID()
  const startedAt = Date.now()
  const dataDir = resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const stops: (() => Promise<void> | void)[] = []
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop()
      } catch (err) {
        log.error({ err }, 'error while stopping')
      }
    }
    stops.length = 0
  }

  try {
    const recordsPath = join(dataDir, 'records.db')
    const db = await openRecordsAt(records)
    stops.push(() => db.close())

    // A cluster's partitions held and their epochs: the leases keep it, the journal fences by it.
    const tenures = new Tenures()
    const store = await createStore(config, {
      log: log.child({ module: 'store' }),
      dataDir,
      env,
      tenures,
    })
    await store.start()
    stops.push(() => store.stop())

    const recentErrors = new RecentCounter()
    // A listener that fails does not stop the others; it is logged and counted for health.
    const bus = new EventBus({
      onError: (err, event) => {
        recentErrors.add(Date.now())
        log.error({ err, event }, 'an event listener failed')
      },
    })
    const leased = config.cluster !== undefined
    const pipeline = createPipeline({
      config,
      db,
      store,
      bus,
      log,
      recentErrors,
      leased,
    })
    // What the ingest path causes in the records (an alarm's transition, the NC it opened) is
    // committed off this thread, one transaction for both.
    const writer = createRecordsWriter({
      ...writerTarget(records),
      // PostgreSQL: one gateway appends to a chain; the writer claims it on every connection.
      auditChain: recordsChain(config),
      statements: {
        ...NC_STATEMENTS,
        ...ALARM_STATEMENTS,
        ...AUDIT_STATEMENTS,
        ...USER_STATEMENTS,
        ...QUALITY_STATEMENTS,
        ...CONFIG_STATEMENTS,
      },
      log: log.child({ module: 'records-writer' }),
      unwaitedCommitMs: config.store.commitIntervalMs,
      onFailure: () => recentErrors.add(Date.now()),
    })
    await writer.start()
    // The records committed, then the audit head that follows them (written off this thread).
    let auditSettled = () => Promise.resolve()
    stops.push(async () => {
      await writer.stop()
      await auditSettled()
    })
    const flushed = () => writer.flush()
    const auditHeadPath = join(dataDir, AUDIT_HEAD_FILE)
    const audit = createAuditTrail({
      db,
      chain: recordsChain(config),
      run: (statement, params) => writer.run(statement, params),
      whenDurable: (done) => writer.whenDurable(done),
      whenCommitted: (done) => writer.whenCommitted(done),
      headPath: auditHeadPath,
      store,
      log: log.child({ module: 'audit' }),
      // Daily, or four times within the time series' retention if that is shorter.
      republishMs: Math.min(DAY_MS, (config.store.sqlite.retention.maxAgeDays * DAY_MS) / 4),
    })
    audit.start()
    auditSettled = () => audit.stop()
    recordConfiguration({
      db,
      run: (statement, params) => writer.run(statement, params),
      audit,
      config,
      file: options.configFile ?? null,
      at: startedAt,
    })
    // A cluster's gateways tell each other of alarm acts, NC and user changes over the live
    // hub's Redis (cluster/peers.ts); the hub attaches it once it shares Redis.
    const peers = leased ? createPeerBus(log.child({ module: 'peers' })) : undefined
    const users = createUserDirectory({
      db,
      run: (statement, params) => writer.run(statement, params),
      audit,
      reserved: new Set(config.auth.tokens.map((t) => t.id)),
      policy: {
        minPasswordLength: config.auth.minPasswordLength,
        sessionIdleMinutes: config.auth.sessionIdleMinutes,
        sessionMaxHours: config.auth.sessionMaxHours,
        lockout: {
          maxFailures: config.auth.lockout.maxFailures,
          windowMs: config.auth.lockout.windowMinutes * 60_000,
          lockMs: config.auth.lockout.lockMinutes * 60_000,
        },
      },
      peers: peers && { bus: peers, whenDurable: (done) => writer.whenDurable(done) },
    })
    users.start()
    await firstAdmin(users, dataDir, env, log)
    const webhookProblems = webhookConfigProblems(config.webhooks, env)
    if (webhookProblems.length > 0)
      throw new LinewatchError('LW_ERR_CONFIG_INVALID', webhookProblems.join('; '))
    const webhooks = createWebhooks({
      hooks: config.webhooks,
      path: join(dataDir, 'webhooks.db'),
      log: log.child({ module: 'webhooks' }),
      env,
    })
    await webhooks.start()
    stops.push(() => webhooks.stop())
    const nc = createNcService({
      db,
      path: recordsPath,
      bus,
      log: log.child({ module: 'nonconformance' }),
      readingsAfter: config.nonconformance.readingsAfter,
      writer,
      cluster: peers && { owns: (id) => pipeline.runtime(id)?.owned === true, peers },
    })
    await nc.start()
    stops.push(() => nc.stop())
    const alarms = createAlarmService({
      config,
      db,
      writer,
      bus,
      log: log.child({ module: 'alarms' }),
      nc,
      runtime: (id) => pipeline.runtime(id),
      audit: (fields) => audit.append(fields),
      leased,
      peers,
    })
    await alarms.start()
    const quality = createQualityService({
      db,
      run: (statement, params) => writer.run(statement, params),
      flushed,
      nc,
      audit,
      users,
      store,
      runtime: (id) => pipeline.runtime(id),
      policy: {
        effectivenessWindowDays: config.quality.effectivenessWindowDays,
        capaDueNoticeHours: config.quality.capaDueNoticeHours,
        maxAttachmentBytes: config.quality.attachments.maxBytes,
        maxAttachmentsPerRecord: config.quality.attachments.maxPerRecord,
      },
      attachmentsDir: join(dataDir, 'attachments'),
      notify: (event) => webhooks.notify(event),
      log: log.child({ module: 'quality' }),
    })
    quality.start()
    stops.push(() => quality.stop())
    stops.push(() => alarms.stop())
    await pipeline.start()
    stops.push(() => pipeline.stop())
    // The daily report (reports.daily): files in its folder, then news for the webhooks.
    const daily = startDailyReports(config, {
      dataDir,
      pipeline,
      store,
      alarms,
      quality,
      audit,
      notify: (event) => webhooks.notify(event),
      log: log.child({ module: 'reports' }),
    })
    if (daily) stops.push(() => daily.stop())
    // The wall display's latest deviations (GET /api/deviations): live, and read back from the store.
    const recentDeviations = createRecentDeviations({
      bus,
      store,
      runtimes: () => pipeline.runtimes(),
      log: log.child({ module: 'deviations' }),
    })
    stops.push(() => recentDeviations.stop())
    void recentDeviations.seed()
    // NC events join the readings, chart points and deviations in the time series.
    const ncEvents = {}
    // An NC the gateway opens is a record created: an audit entry, and news for the webhooks.
    bus.on('nc', ncEvents, ({ type, nc: summary }) => {
      if (type !== 'opened') return
      const entry = audit.append({
        at: summary.openedAt,
        actor: 'system',
        action: 'open',
        entity: 'nc',
        entityId: summary.number,
        reason: `opened by the gateway: ${summary.title}`,
        before: null,
        after: {
          characteristic: summary.characteristic,
          causes: summary.causes,
          trigger: summary.trigger,
          recurrenceOf: summary.recurrenceOf,
        },
      })
      webhooks.notify({
        type: 'nc.opened',
        at: summary.openedAt,
        id: summary.number,
        status: summary.status,
        title: summary.title,
        actor: 'system',
        action: null,
        auditSeq: entry.seq,
      })
    })
    bus.on('nc', ncEvents, ({ type, nc: summary }) =>
      store.write({
        kind: 'event',
        characteristic: summary.characteristic,
        ts: summary.lastAt,
        type: `nc-${type}`,
        detail: JSON.stringify({
          id: summary.id,
          number: summary.number,
          causes: summary.causes,
          occurrences: summary.occurrences,
        }),
      }),
    )
    stops.push(() => bus.removeOwner(ncEvents))

    // An acknowledgement waits for what its reading produced in the records too (an NC it opened).
    const sink: ReadingSink = {
      ...pipeline.sink,
      durable: (done) => whenAll([pipeline.sink.durable, nc.whenDurable, alarms.whenDurable], done),
    }
    const sources = createSources(
      config,
      sink,
      log,
      dataDir,
      env,
      () => store.deliveries(),
      (id) => pipeline.runtime(id)?.last?.ts,
      () => recentErrors.add(Date.now()),
      () => Math.max(store.backlog?.() ?? 0, writer.backlog()),
    )
    let cluster: Cluster | null = null
    const auth = createAuth(config.auth, (hash) => users.session(hash))
    if (config.auth.anonymousRole !== 'none') {
      log.warn(
        { role: config.auth.anonymousRole },
        'anonymous access is on: anyone who reaches the HTTP port gets this role',
      )
    }

    const app: FastifyInstance = Fastify({
      loggerInstance: log.child({ module: 'http' }) as FastifyBaseLogger,
      // close() must not wait on a browser's idle keep-alive or a long-poll arriving while closing.
      forceCloseConnections: true,
      logController: new LogController({ disableRequestLogging: true }),
      ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    })
    const { health } = await registerApi(app, {
      config,
      title: config.title,
      version: packageVersion(),
      bootId,
      startedAt,
      auth,
      pipeline,
      nc,
      alarms,
      store,
      sources: () => [...sources, ...(cluster?.sources() ?? [])],
      dashboardDir: dashboardDir(),
      recentErrors,
      records: () => writer.status(),
      // The hub is created next: read when health is asked.
      live: {
        clients: () => hub.clients(),
        dropped: () => hub.dropped(),
        redis: () => hub.redis(),
      },
      quality: { quality, users, audit, records: db, auditHeadPath },
      webhooks: () => webhooks.status(),
      deviations: recentDeviations,
      cluster: () => cluster?.status() ?? null,
    })
    const hub: LiveHub = createLiveHub({
      server: app.server,
      bus,
      log: log.child({ module: 'live' }),
      bootId,
      title: config.title,
      flushIntervalMs: config.live.flushIntervalMs,
      maxPointsPerFlush: config.live.maxPointsPerFlush,
      maxBufferedBytes: config.live.maxBufferedBytes,
      runtime: (id) => pipeline.runtime(id),
      openNcs: (id) => nc.openCount(id),
      // In a cluster the banner counts the plant's alarms (the others' from the records).
      alarms: {
        counts: () => alarms.counts(true),
        plantStates: () => alarms.plantStates(),
        shared: leased,
      },
      authenticate: (token) => auth.resolve(token)?.role ?? null,
      redis: liveRedis,
      peers,
    })
    hub.start()
    stops.push(() => app.close())
    stops.push(() => hub.close())
    // What the start took for a moment goes back to the system before readings come.
    releaseFreedMemory()
    // The sources first: a gateway that answers /api/health takes readings.
    for (const source of sources) {
      await source.start()
      stops.push(() => source.stop())
    }
    if (config.cluster) {
      const { createCluster } = await import('./cluster/index.ts')
      const c = createCluster({
        config: { ...config, cluster: config.cluster },
        url: postgresUrl(config, env),
        pipeline,
        alarms,
        nc,
        store,
        tenures,
        sink,
        log: log.child({ module: 'cluster' }),
        env,
        dataDir,
      })
      cluster = c
      await c.start()
      stops.push(() => c.stop())
    }
    try {
      await app.listen({ host: config.http.host, port: config.http.port })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new LinewatchError(
          'LW_ERR_PORT_IN_USE',
          `HTTP port ${config.http.port} is in use by another program: stop it or set http.port`,
        )
      }
      throw err
    }

    const httpPort = (app.server.address() as AddressInfo).port
    const broker = sources.find((s) => s.name === 'mqtt') as
      | (Source & { port(): number | null; tlsPort(): number | null })
      | undefined
    const plainPort = broker?.port() ?? null
    const tlsPort = broker?.tlsPort() ?? null
    const urls = {
      http: `http://${urlHost(config.http.host)}:${httpPort}`,
      mqtt: plainPort !== null ? `mqtt://${urlHost(config.mqtt.broker.host)}:${plainPort}` : null,
      mqtts:
        tlsPort !== null && config.mqtt.broker.tls
          ? `mqtts://${urlHost(config.mqtt.broker.tls.host)}:${tlsPort}`
          : null,
    }
    log.info(
      { urls, characteristics: config.characteristics.length, store: config.store.timeseries },
      'linewatch gateway ready',
    )
    return { config, bootId, urls, health, close: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}

/** A host to put in a URL: a wildcard address is reached on loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

/**
 * The time series with its journal. SQLite: one file is both. InfluxDB: the time series goes
 * there, and the embedded file keeps only the journal the charts recover from.
 */
async function createStore(
  config: Config,
  ctx: { log: Logger; dataDir: string; env: NodeJS.ProcessEnv; tenures: Tenures },
): Promise<JournaledStore> {
  const path = join(ctx.dataDir, 'timeseries.db')
  const retention = config.store.sqlite.retention
  const flushIntervalMs = config.store.commitIntervalMs
  const maxPending = config.store.maxPendingRecords
  if (config.cluster && config.store.influxdb) {
    // A cluster's journal is shared (a takeover restores from it), and fenced by the leases.
    const { createInfluxStore } = await import('./store/influx.ts')
    const { journaled } = await import('./store/journaled.ts')
    const { createPostgresJournal } = await import('./store/postgres-journal.ts')
    const { clusterUnits } = await import('./cluster/units.ts')
    const { gateway } = config.cluster
    // The leases' units: a Sparkplug characteristic is fenced by its group's lease.
    const { unitOf } = clusterUnits({ ...config, cluster: config.cluster })
    return journaled(
      createInfluxStore(config.store.influxdb, {
        log: ctx.log,
        spoolDir: join(ctx.dataDir, 'spool', 'influxdb'),
        env: ctx.env,
      }),
      createPostgresJournal({
        url: postgresUrl(config, ctx.env),
        flushIntervalMs,
        maxPending,
        log: ctx.log.child({ module: 'journal' }),
        fence: { gateway, partitionOf: unitOf, tenures: ctx.tenures },
      }),
    )
  }
  if (config.store.timeseries === 'influxdb' && config.store.influxdb) {
    const { createInfluxStore } = await import('./store/influx.ts')
    const { journaled } = await import('./store/journaled.ts')
    const influx = createInfluxStore(config.store.influxdb, {
      log: ctx.log,
      spoolDir: join(ctx.dataDir, 'spool', 'influxdb'),
      env: ctx.env,
    })
    return journaled(
      influx,
      createSqliteStore({
        path,
        log: ctx.log,
        journalOnly: true,
        retention,
        flushIntervalMs,
        maxPending,
      }),
    )
  }
  return createSqliteStore({ path, log: ctx.log, retention, flushIntervalMs, maxPending })
}

function createSources(
  config: Config,
  sink: ReadingSink,
  log: Logger,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  deliveries: () => Promise<Delivery[]>,
  /** The latest reading time a chart has taken: a Sparkplug birth or an OPC-UA subscription's first value repeating it is not new. */
  takenBefore: (characteristic: string) => number | undefined,
  /** An error a source logged outside a reading's path: counted for health. */
  onError: () => void,
  /** How full the writers' memory is (0 to 1): the embedded broker stops reading while it is high. */
  backlog: () => number,
): Source[] {
  const sources: Source[] = []
  const topics = new Map<string, string>()
  for (const c of config.characteristics) if (c.source.mqtt) topics.set(c.source.mqtt.topic, c.id)
  const mqtt = { subscribe: config.mqtt.subscribe, maxPacketBytes: config.mqtt.maxPacketBytes }
  if (config.mqtt.broker.enabled) {
    sources.push(
      createMqttBrokerSource({ ...config.mqtt.broker, ...mqtt }, topics, {
        sink,
        log: log.child({ module: 'mqtt-broker' }),
        deliveries,
        onError,
        backlog,
        // What waits between the broker thread and this one stays well within the store's bound.
        maxReadingsAhead: Math.max(1000, Math.floor(config.store.maxPendingRecords / 8)),
      }),
    )
  }
  const external = config.mqtt.external
  // In a cluster the partitions' sessions consume from it (gateway/cluster).
  if (external && !config.cluster) {
    sources.push(
      lazySource('mqtt-external', 'mqtt-client', async () => {
        const { createMqttClientSource } = await import('./sources/mqtt-client.ts')
        return createMqttClientSource({ ...external, ...mqtt }, topics, {
          sink,
          log: log.child({ module: 'mqtt-client' }),
          env,
        })
      }),
    )
  }
  // In a cluster each OPC-UA server's session runs on its unit's holder (gateway/cluster).
  if (!config.cluster)
    for (const server of config.opcua.servers)
      sources.push(
        lazySource(`opcua:${server.id}`, 'opcua', async () => {
          const { createOpcuaServerSource } = await import('./sources/opcua.ts')
          return createOpcuaServerSource(config, server.id, {
            sink,
            log: log.child({ module: 'opcua', server: server.id }),
            dataDir,
            env,
            takenBefore,
          })
        }),
      )
  // In a cluster each Sparkplug group's host runs on the group's lease holder (gateway/cluster).
  if (sparkplugEnabled(config) && !config.cluster) {
    sources.push(
      createSparkplugSource(config, {
        sink,
        log: log.child({ module: 'sparkplug' }),
        env,
        takenBefore,
        // Known once the embedded broker listens (port 0 in tests); sources start in order.
        embeddedPort: () =>
          (
            sources.find((s) => s.name === 'mqtt') as
              | (Source & { port(): number | null })
              | undefined
          )?.port() ?? null,
      }),
    )
  }
  return sources
}

/**
 * A source whose library is loaded when it starts: node-opcua takes a second or two and tens
 * of MiB, mqtt.js tens of MiB; a gateway that does not use them does not load them.
 */
function lazySource(name: string, kind: SourceStatus['kind'], load: () => Promise<Source>): Source {
  let inner: Source | null = null
  return {
    name,
    async start() {
      inner = await load()
      await inner.start()
    },
    status: () =>
      inner?.status() ?? { name, kind, connected: false, detail: 'not started', received: 0 },
    async stop() {
      await inner?.stop()
    },
  }
}
