import { format } from 'node:util'
import {
  AttributeIds,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  type DataValue,
  DeadbandType,
  type NodeId,
  StatusCodes,
  setErrorLogger,
  setWarningLogger,
  TimestampsToReturn,
} from 'node-opcua'
import type { Config, OpcuaServerConfig } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import {
  CLOSE_TIMEOUT_MS,
  createClient,
  identityOf,
  type Security,
  step,
  verifiedServerCertificate,
} from './opcua-connect.ts'
import { acquireClientPki, type ClientPki, clientPkiDir, readCertificateFile } from './opcua-pki.ts'
import { type RefusalKind, refusalOf, retryDelayMs } from './opcua-refusals.ts'
import { numberFromVariant, resolveNsuNodeId, timestampOf } from './opcua-values.ts'
import type { RejectReason, Source, SourceContext, SourceStatus } from './types.ts'

export { clientPkiDir } from './opcua-pki.ts'
export { numberFromVariant, resolveNsuNodeId, timestampOf } from './opcua-values.ts'

/**
 * OPC-UA source: one client per configured server, one subscription with a monitored item per
 * binding. It supervises its own connection (see `supervise`): the first connection happens in
 * the background, and a lost one is torn down and rebuilt from scratch, namespaces included.
 * Security (docs/opcua.md): under a secure policy the server's certificate is verified against
 * the PKI folder before anything else is sent; a refusal (untrusted certificate, wrong
 * password…) is counted, shown in the status with what to do, and retried slowly.
 */

export interface OpcuaBinding {
  characteristic: string
  /** Namespace-URI form, e.g. `nsu=urn:linewatch:sim:machine;s=Cell1.BoreDiameter` (also i=, g=, b=). */
  nodeId: string
}

/** A short, bounded text of what arrived, kept with a rejection (dead-letter). */
function payloadOf(dv: DataValue): Uint8Array {
  let value: string
  try {
    value = JSON.stringify(dv.value.value) ?? 'null'
  } catch {
    value = JSON.stringify(String(dv.value.value)) // e.g. a structure that does not serialise
  }
  const text = `{"status":"${dv.statusCode.name}","dataType":"${DataType[dv.value.dataType]}","value":${value}}`
  return Buffer.from(text.length > 512 ? `${text.slice(0, 512)}…` : text)
}

// --- node-opcua's own log lines ---------------------------------------------------------------

let libraryLog: Logger | undefined
/**
 * node-opcua prints warnings and errors straight to the console, process-wide. Send them to the
 * most recently started source's logger instead (warnings at debug: they are chatty).
 */
function routeLibraryLogs(log: Logger): void {
  if (!libraryLog) {
    // The first argument node-opcua passes is its caller context ({ filename, callerline }).
    setWarningLogger((context, ...args) => libraryLog?.debug({ at: context }, format(...args)))
    setErrorLogger((context, ...args) => libraryLog?.warn({ at: context }, format(...args)))
  }
  libraryLog = log.child({ lib: 'node-opcua' })
}

// --- One connection ---------------------------------------------------------------------------

interface Resolved {
  binding: OpcuaBinding
  nodeId: NodeId
  /** The first notification after subscribing repeats the current value: maybe one we already have. */
  first: boolean
}

interface Connection {
  /** Resolves with the reason once the connection is lost; never rejects. */
  lost: Promise<string>
  /** Bindings that could not be monitored, each with its reason. */
  problems: string[]
  close(): Promise<void>
}

interface ConnectionContext {
  server: OpcuaServerConfig
  bindings: readonly OpcuaBinding[]
  security: Security
  pki: ClientPki
  log: Logger
  signal: AbortSignal
  deliver(item: Resolved, dv: DataValue): void
}

const KEEPALIVE_COUNT = 10

async function openConnection(c: ConnectionContext): Promise<Connection> {
  // Under a secure policy the server's certificate is verified first, before any password.
  const serverCertificate =
    c.security.securityPolicy === 'None'
      ? undefined
      : await verifiedServerCertificate({
          endpoint: c.server.endpoint,
          security: c.security,
          pki: c.pki,
          signal: c.signal,
          trustCommand: (thumbprint) =>
            `linewatch opcua trust --config FILE --server ${c.server.id} --thumbprint ${thumbprint}`,
        })
  const client = createClient({
    security: c.security,
    pki: c.pki,
    clientName: `linewatch ${c.server.id}`,
    serverCertificate,
  })

  let reportLoss: (reason: string) => void = () => {}
  const lost = new Promise<string>((resolve) => {
    reportLoss = resolve
  })
  /** False once the channel is known dead: nothing more is sent on it. */
  let channelAlive = true
  const channelDied = (reason: string) => {
    channelAlive = false
    reportLoss(reason)
  }
  client.on('connection_lost', () => channelDied('connection lost'))
  client.on('close', (err) => channelDied(`connection closed${err ? `: ${err.message}` : ''}`))

  let session: ClientSession | undefined
  let watchdog: NodeJS.Timeout | undefined
  const close = async (): Promise<void> => {
    clearTimeout(watchdog)
    const never = new AbortController().signal
    // Closing the session deletes its subscription on the server at once. On a dead channel
    // it could only wait for a time-out, so it is skipped (the server expires it by itself).
    if (session && channelAlive) {
      await step('close session', session.close(true), never, CLOSE_TIMEOUT_MS).catch(
        (err: Error) => c.log.debug({ err: err.message }, 'session did not close cleanly'),
      )
    }
    await step('disconnect', client.disconnect(), never, CLOSE_TIMEOUT_MS).catch((err: Error) =>
      c.log.warn({ err: err.message }, 'OPC-UA client did not disconnect cleanly'),
    )
  }

  try {
    await step('connect', client.connect(c.server.endpoint), c.signal)
    session = await step('create session', client.createSession(identityOf(c.security)), c.signal)
    session.on('session_closed', () => reportLoss('session closed'))

    const namespaceArray = await step('read NamespaceArray', session.readNamespaceArray(), c.signal)
    const problems: string[] = []
    const items: Resolved[] = []
    for (const binding of c.bindings) {
      try {
        items.push({
          binding,
          nodeId: resolveNsuNodeId(binding.nodeId, namespaceArray),
          first: true,
        })
      } catch (err) {
        problems.push(`${binding.nodeId}: ${(err as Error).message}`)
      }
    }

    const subscription: ClientSubscription = await step(
      'create subscription',
      session.createSubscription2({
        requestedPublishingInterval: c.server.publishingIntervalMs,
        requestedMaxKeepAliveCount: KEEPALIVE_COUNT,
        requestedLifetimeCount: KEEPALIVE_COUNT * 6,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      }),
      c.signal,
    )
    subscription.on('terminated', () => reportLoss('subscription terminated'))
    subscription.on('internal_error', (err: Error) =>
      reportLoss(`subscription failed: ${err.message}`),
    )

    // A server that stops answering without closing the socket sends no keep-alives: give it
    // three keep-alive periods, then start over.
    const silenceMs = 3 * subscription.publishingInterval * subscription.maxKeepAliveCount + 2000
    watchdog = setTimeout(() => channelDied(`no publish response for ${silenceMs} ms`), silenceMs)
    subscription.on('raw_notification', () => watchdog?.refresh())

    if (items.length > 0) {
      const group = await step(
        'create monitored items',
        subscription.monitorItems(
          items.map((i) => ({ nodeId: i.nodeId, attributeId: AttributeIds.Value })),
          {
            samplingInterval: c.server.samplingIntervalMs,
            // Room for every sample taken between two publishes, with margin.
            queueSize: Math.max(
              10,
              4 *
                Math.ceil(
                  c.server.publishingIntervalMs / Math.max(c.server.samplingIntervalMs, 10),
                ),
            ),
            discardOldest: true,
            // StatusValueTimestamp: a repeated equal measurement is still a new reading.
            filter: new DataChangeFilter({
              trigger: DataChangeTrigger.StatusValueTimestamp,
              deadbandType: DeadbandType.None,
            }),
          },
          TimestampsToReturn.Both,
        ),
        c.signal,
      )
      group.monitoredItems.forEach((monitored, index) => {
        const item = items[index]
        if (item && monitored.statusCode.isNotGood()) {
          problems.push(`${item.binding.nodeId}: ${monitored.statusCode.name}`)
        }
      })
      group.on('changed', (_monitored, dv, index) => {
        const item = items[index]
        if (item) c.deliver(item, dv)
      })
    }
    return { lost, problems, close }
  } catch (err) {
    await close()
    throw err
  }
}

// --- The source -------------------------------------------------------------------------------

/** A connection that lasted this long resets the back-off. */
const STABLE_MS = 10_000

export interface OpcuaSourceContext extends SourceContext {
  /** The client's PKI folder (opcua.pkiDir, by default dataDir/pki/opcua-client). */
  pkiDir: string
  /** opcua.applicationName and applicationUri. */
  pki?: { applicationName?: string | undefined; applicationUri?: string | undefined } | undefined
  /** Where passwordEnv is looked up (default process.env). */
  env?: NodeJS.ProcessEnv | undefined
  /**
   * The latest source time a chart has taken: a new subscription's first notification repeating
   * it is not new (after a restart, or a cluster's OPC-UA server taken over by another gateway).
   */
  takenBefore?: ((characteristic: string) => number | undefined) | undefined
}

/** The source of one configured OPC-UA server (`opcua.servers[].id`), with its characteristics' bindings. */
export function createOpcuaServerSource(
  config: Pick<Config, 'opcua' | 'characteristics'>,
  serverId: string,
  ctx: SourceContext & {
    dataDir: string
    env: NodeJS.ProcessEnv
    takenBefore: (characteristic: string) => number | undefined
  },
): Source {
  const server = config.opcua.servers.find((s) => s.id === serverId)
  if (!server) throw new Error(`no OPC-UA server "${serverId}" in opcua.servers`)
  const bindings = config.characteristics.flatMap((c) =>
    c.source.opcua?.server === serverId
      ? [{ characteristic: c.id, nodeId: c.source.opcua.nodeId }]
      : [],
  )
  return createOpcuaSource(server, bindings, {
    sink: ctx.sink,
    log: ctx.log,
    pkiDir: clientPkiDir(config.opcua, ctx.dataDir),
    pki: config.opcua,
    env: ctx.env,
    takenBefore: ctx.takenBefore,
  })
}

export function createOpcuaSource(
  server: OpcuaServerConfig,
  bindings: OpcuaBinding[],
  ctx: OpcuaSourceContext,
): Source {
  const name = `opcua:${server.id}`
  const log = ctx.log.child({ source: name, endpoint: server.endpoint })
  let connected = false
  let detail: string | undefined = 'not started'
  let received = 0
  /** Refusals by kind since start (a wrong password, an untrusted certificate…). */
  const counts: Partial<Record<RefusalKind, number>> = {}
  let running: { abort: AbortController; done: Promise<void> } | undefined
  const characteristics = bindings.map((b) => b.characteristic)
  /** Last delivered reading per characteristic, to drop the repeat a new subscription sends first. */
  const last = new Map<string, { ts: number; value: number }>()

  const reject = (
    reason: RejectReason,
    detailText: string,
    item: Resolved,
    dv: DataValue,
    ts: number,
  ) => {
    log.debug({ reason, nodeId: item.binding.nodeId, detail: detailText }, 'rejected')
    ctx.sink.reject({
      source: name,
      reason,
      detail: detailText,
      address: item.binding.nodeId,
      payload: payloadOf(dv),
      ts,
    })
  }

  const deliver = (item: Resolved, dv: DataValue): void => {
    received++
    const receivedAt = Date.now()
    const first = item.first
    item.first = false
    try {
      const status = dv.statusCode
      // Not a measurement at all: the server has no value yet (e.g. the machine just started).
      if (status.value === StatusCodes.BadWaitingForInitialData.value) {
        log.debug({ nodeId: item.binding.nodeId }, 'no value yet (BadWaitingForInitialData)')
        return
      }
      // Severity is the top two bits: Good 0, Uncertain 1, Bad 2. Uncertain is refused too: it
      // is how a server marks a stale or out-of-calibration value, which a chart must not see.
      if (status.value >>> 30 !== 0) {
        reject('bad-quality', `status ${status.name}`, item, dv, receivedAt)
        // Bad (not Uncertain) says the server has lost the device behind the value.
        if (status.value >>> 30 === 2)
          ctx.sink.communication({
            characteristics: [item.binding.characteristic],
            lost: true,
            why: `OPC-UA value of Bad quality (${status.name})`,
            at: receivedAt,
          })
        return
      }
      if (status.hasOverflowBit) {
        log.warn(
          { nodeId: item.binding.nodeId },
          'server queue overflowed: samples were lost between publishes',
        )
      }
      const converted = numberFromVariant(dv.value)
      if (!converted.ok) {
        reject(converted.reason, converted.detail, item, dv, receivedAt)
        return
      }
      // Source time out of range (before 2000, over a day ahead): a dead letter, see timestampOf.
      const time = timestampOf(dv, receivedAt)
      if (!time.ok) {
        reject(time.reason, time.detail, item, dv, receivedAt)
        return
      }
      const ts = time.ts
      const previous = last.get(item.binding.characteristic)
      const repeat =
        previous === undefined
          ? ctx.takenBefore?.(item.binding.characteristic) === ts
          : previous.ts === ts && previous.value === converted.value
      if (first && repeat) {
        log.debug(
          { nodeId: item.binding.nodeId, ts },
          'skipped the value already delivered before reconnecting',
        )
        return
      }
      last.set(item.binding.characteristic, { ts, value: converted.value })
      ctx.sink.reading({
        characteristic: item.binding.characteristic,
        ts,
        value: converted.value,
        receivedAt,
      })
    } catch (err) {
      log.error({ err, nodeId: item.binding.nodeId }, 'sink failed on an OPC-UA value')
    }
  }

  /** Connect, wait for the loss, tear down, back off, again: until stopped. */
  const supervise = async (signal: AbortSignal, security: Security): Promise<void> => {
    const stopped = new Promise<undefined>((resolve) =>
      signal.addEventListener('abort', () => resolve(undefined)),
    )
    let failures = 0
    /** Refusals in a row: their back-off grows on its own, from 5 s. */
    let refusals = 0
    let lastFailure = ''
    // Communication with the machine, as the alarms see it: lost once per outage, not per retry.
    let lost = false
    const communication = (isLost: boolean, why: string) => {
      if (lost === isLost || signal.aborted) return
      lost = isLost
      ctx.sink.communication({ characteristics, lost: isLost, why, at: Date.now() })
    }
    let pki: ClientPki | undefined
    try {
      while (!signal.aborted) {
        let connection: Connection | undefined
        let refused = false
        try {
          pki ??= await acquireClientPki({
            dir: ctx.pkiDir,
            applicationName: ctx.pki?.applicationName,
            applicationUri: ctx.pki?.applicationUri,
            log,
            watch: true,
          })
          connection = await openConnection({
            server,
            bindings,
            security,
            pki,
            log,
            signal,
            deliver,
          })
          connected = true
          refusals = 0
          communication(false, `OPC-UA session to ${server.endpoint} established`)
          const connectedAt = Date.now()
          lastFailure = ''
          detail = connection.problems.length > 0 ? connection.problems.join('; ') : undefined
          for (const problem of connection.problems) log.warn({ problem }, 'binding not monitored')
          log.info(
            { monitored: bindings.length - connection.problems.length, of: bindings.length },
            'connected',
          )
          const reason = await Promise.race([connection.lost, stopped])
          if (reason !== undefined) {
            detail = reason
            log.warn({ reason }, 'connection lost; reconnecting')
            communication(true, `OPC-UA session to ${server.endpoint} lost: ${reason}`)
            // A connection that held is a fresh start; one that keeps dropping backs off further.
            failures = Date.now() - connectedAt > STABLE_MS ? 0 : failures + 1
          }
        } catch (err) {
          if (signal.aborted) break
          const refusal = refusalOf(err, {
            user: server.user,
            passwordEnv: server.passwordEnv,
            own: pki?.own,
          })
          refused = refusal !== undefined
          refusals = refused ? refusals + 1 : 0
          if (refusal) counts[refusal.kind] = (counts[refusal.kind] ?? 0) + 1
          const message = oneLine(refusal ? `refused: ${refusal.message}` : (err as Error).message)
          detail = message
          // Log the first failure of a kind; repeats would only be noise.
          if (message !== lastFailure)
            log.warn(
              { err: message, attempt: failures + 1, refusal: refusal?.kind },
              'cannot connect; retrying',
            )
          else log.debug({ err: message, attempt: failures + 1 }, 'cannot connect; retrying')
          lastFailure = message
          communication(true, `cannot connect to ${server.endpoint}: ${message}`)
          failures++
        } finally {
          connected = false
          await connection?.close()
        }
        if (signal.aborted) break
        // A refusal waits longer (no storm of sign-ins with a wrong password), but a
        // certificate trusted meanwhile (`linewatch opcua trust`) is tried at once.
        const changes = refused ? pki : undefined
        await sleep(retryDelayMs(refused ? refusals : failures, refused), signal, (wake) =>
          changes?.onChange(() => {
            log.info('a certificate was added to the PKI folder: trying again now')
            wake()
          }),
        )
      }
    } finally {
      await pki?.release()
    }
  }

  return {
    name,
    async start() {
      if (running) return
      routeLibraryLogs(ctx.log)
      // A secret or pinned certificate that is missing is a configuration error: the gateway
      // does not start (as with mqtt.external.passwordEnv).
      const security: Security = {
        securityPolicy: server.securityPolicy,
        securityMode: server.securityMode,
        user: server.user,
      }
      if (server.passwordEnv !== undefined) {
        security.password = (ctx.env ?? process.env)[server.passwordEnv]
        if (security.password === undefined) {
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `opcua.servers ${server.id}: passwordEnv names ${server.passwordEnv}, which is not set in the environment`,
          )
        }
      }
      if (server.serverCertificate !== undefined) {
        security.pinned = {
          file: server.serverCertificate,
          der: await readCertificateFile(server.serverCertificate),
        }
      }
      const abort = new AbortController()
      detail = 'connecting'
      // Not awaited: the gateway starts whether or not the machine is on.
      running = { abort, done: supervise(abort.signal, security) }
    },
    async stop() {
      if (!running) return
      running.abort.abort()
      await running.done
      running = undefined
      detail = 'stopped'
    },
    status(): SourceStatus {
      return { name, kind: 'opcua', connected, detail, received, counts: { ...counts } }
    },
  }
}

/** node-opcua's messages span lines and indent them; status and logs want one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/**
 * Waits `ms`, or less if the signal aborts first or `wake` calls back; leaves no timer or
 * listener behind.
 */
function sleep(
  ms: number,
  signal: AbortSignal,
  wake?: (listener: () => void) => (() => void) | undefined,
): Promise<void> {
  return new Promise((resolve) => {
    let unsubscribe: (() => void) | undefined
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      unsubscribe?.()
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    unsubscribe = wake?.(done)
  })
}
