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
  MessageSecurityMode,
  type NodeId,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  setErrorLogger,
  setWarningLogger,
  TimestampsToReturn,
} from 'node-opcua'
import type { OpcuaServerConfig } from '../config/index.ts'
import type { Logger } from '../log.ts'
import { numberFromVariant, resolveNsuNodeId, timestampOf } from './opcua-values.ts'
import type { RejectReason, Source, SourceContext, SourceStatus } from './types.ts'

export { numberFromVariant, resolveNsuNodeId, timestampOf } from './opcua-values.ts'

/**
 * OPC-UA source: one client per configured server, one subscription with a monitored item per
 * binding. It supervises its own connection (see `supervise`): the first connection happens in
 * the background, and a lost one is torn down and rebuilt from scratch, namespaces included.
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
  pkiDir: string
  log: Logger
  signal: AbortSignal
  deliver(item: Resolved, dv: DataValue): void
}

const STEP_TIMEOUT_MS = 10_000
const CLOSE_TIMEOUT_MS = 3_000
const KEEPALIVE_COUNT = 10

/** Awaits `promise`, but gives up on abort or after `timeoutMs`, saying which step it was. */
async function step<T>(
  what: string,
  promise: Promise<T>,
  signal: AbortSignal,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    onAbort = () => reject(new Error('stopped'))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, giveUp])
  } catch (cause) {
    throw new Error(`${what}: ${(cause as Error).message}`, { cause })
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
    promise.catch(() => {}) // a step given up on may still fail later: not an unhandled rejection
  }
}

async function openConnection(c: ConnectionContext): Promise<Connection> {
  const client = OPCUAClient.create({
    applicationName: 'linewatch',
    clientName: `linewatch ${c.server.id}`,
    endpointMustExist: false,
    // No certificates yet (a later issue adds them): SecurityMode None, policy None.
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    // The client's own certificate lives under pkiDir, never ~/.config. A fresh manager per
    // client: disconnect() disposes the one it was given.
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: c.pkiDir,
      automaticallyAcceptUnknownCertificate: true, // nothing is verified under policy None
    }),
    // We supervise reconnection ourselves (see `supervise`), so the client must not retry.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
    requestedSessionTimeout: 60_000,
    keepPendingSessionsOnDisconnect: true, // `close` decides whether the session can be closed
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
    session = await step('create session', client.createSession(), c.signal)
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

/** Reconnection back-off: 250 ms, doubling, capped at 3 s. */
const BACKOFF_FIRST_MS = 250
const BACKOFF_MAX_MS = 3_000
/** A connection that lasted this long resets the back-off. */
const STABLE_MS = 10_000

export function createOpcuaSource(
  server: OpcuaServerConfig,
  bindings: OpcuaBinding[],
  ctx: SourceContext & { pkiDir: string },
): Source {
  const name = `opcua:${server.id}`
  const log = ctx.log.child({ source: name, endpoint: server.endpoint })
  let connected = false
  let detail: string | undefined = 'not started'
  let received = 0
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
      if (first && previous?.ts === ts && previous.value === converted.value) {
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
  const supervise = async (signal: AbortSignal): Promise<void> => {
    const stopped = new Promise<undefined>((resolve) =>
      signal.addEventListener('abort', () => resolve(undefined)),
    )
    let failures = 0
    let lastFailure = ''
    // Communication with the machine, as the alarms see it: lost once per outage, not per retry.
    let lost = false
    const communication = (isLost: boolean, why: string) => {
      if (lost === isLost || signal.aborted) return
      lost = isLost
      ctx.sink.communication({ characteristics, lost: isLost, why, at: Date.now() })
    }
    while (!signal.aborted) {
      let connection: Connection | undefined
      try {
        connection = await openConnection({
          server,
          bindings,
          pkiDir: ctx.pkiDir,
          log,
          signal,
          deliver,
        })
        connected = true
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
        const message = oneLine((err as Error).message)
        detail = message
        // Log the first failure of a kind; repeats every few seconds would only be noise.
        if (message !== lastFailure)
          log.warn({ err: message, attempt: failures + 1 }, 'cannot connect; retrying')
        else log.debug({ err: message, attempt: failures + 1 }, 'cannot connect; retrying')
        lastFailure = message
        communication(true, `cannot connect to ${server.endpoint}: ${message}`)
        failures++
      } finally {
        connected = false
        await connection?.close()
      }
      if (signal.aborted) break
      await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures), signal)
    }
  }

  return {
    name,
    async start() {
      if (running) return
      routeLibraryLogs(ctx.log)
      const abort = new AbortController()
      detail = 'connecting'
      // Not awaited: the gateway starts whether or not the machine is on.
      running = { abort, done: supervise(abort.signal) }
    },
    async stop() {
      if (!running) return
      running.abort.abort()
      await running.done
      running = undefined
      detail = 'stopped'
    },
    status(): SourceStatus {
      return { name, kind: 'opcua', connected, detail, received }
    },
  }
}

/** node-opcua's messages span lines and indent them; status and logs want one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/** Waits `ms`, or less if the signal aborts first; leaves no timer or listener behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
