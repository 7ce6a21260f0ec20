import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import {
  initialSparkplugNode,
  parseSparkplugTopic,
  requestRebirth,
  SPARKPLUG_NAMESPACE,
  type SparkplugEvent,
  type SparkplugInput,
  type SparkplugNodeState,
  type SparkplugPolicy,
  sparkplugDeadline,
  stepSparkplugNode,
} from '../../../rules/index.ts'
import type { Config } from '../../config/index.ts'
import type { Logger } from '../../log.ts'
import type { ReadingSink, SourceStatus } from '../types.ts'
import { type RawMessage, SparkplugDelivery, sparkplugBindings } from './bindings.ts'
import { sparkplugNodeViews } from './entries.ts'
import { decodeSparkplugPayload, rebirthRequest } from './payload.ts'
import type { SparkplugNodesView } from './view.ts'

/**
 * The Sparkplug B 3.0 primary host application: an MQTT client (mqtt.js, clean session) of the
 * embedded broker or an external one. Per connection it registers a will on its STATE topic
 * with that connection's time stamp, subscribes, then publishes its birth with the same time
 * stamp; it answers an `online: false` on its own topic by publishing its birth again. Each
 * edge node's messages go through the pure session of rules/sparkplug.ts, whose events become
 * readings (bindings.ts) and rebirth requests (NCMD).
 */

export interface SparkplugHostOptions {
  config: Config
  hostId: string
  url: string
  clientId: string
  username?: string | undefined
  password?: string | undefined
  /** CA, client certificate and key for mqtts (mqtt-client.ts tlsOptions). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; passphrase?: string } | undefined
  /** How long `start` waits for the first connection before it lets the gateway go on. */
  startWaitMs?: number
  /** The source's name in health (default `sparkplug`; a cluster's group host: `sparkplug:<group>`). */
  name?: string
  /**
   * The latest reading time the gateway already has of a characteristic: a new holder of a
   * cluster's group does not take a birth's repeated value again (the old holder took it).
   */
  takenBefore?: (characteristic: string) => number | undefined
}

export interface SparkplugHost {
  start(): Promise<void>
  /**
   * Clean: a STATE death, then DISCONNECT. `abrupt` (a cluster's lease lost): the connection is
   * cut without either, so the broker publishes the will, whose older time stamp edge nodes
   * weigh below the next holder's birth.
   */
  stop(abrupt?: boolean): Promise<void>
  status(): SourceStatus
  nodes(): SparkplugNodesView
}

/** Edge nodes the host keeps at most (a publisher inventing node ids cannot fill memory). */
const MAX_NODES = 10_000

interface NodeEntry {
  group: string
  node: string
  state: SparkplugNodeState<RawMessage>
  timer: NodeJS.Timeout | null
  /** Was online when the connection to the broker was lost: asked for a rebirth after it. */
  askAfterReconnect: boolean
}

export function createSparkplugHost(
  options: SparkplugHostOptions,
  ctx: { sink: ReadingSink; log: Logger },
): SparkplugHost {
  const { config, hostId, url } = options
  const { log } = ctx
  const sp = config.sparkplug
  const policy: SparkplugPolicy = {
    reorderTimeoutMs: sp.reorderTimeoutMs,
    rebirth: { ...sp.rebirth },
  }
  const stateTopic = `${SPARKPLUG_NAMESPACE}/STATE/${hostId}`
  const filters =
    sp.groups.length > 0
      ? sp.groups.map((g) => `${SPARKPLUG_NAMESPACE}/${g}/#`)
      : [`${SPARKPLUG_NAMESPACE}/#`]
  const bindings = sparkplugBindings(config)
  const delivery = new SparkplugDelivery(config, bindings, ctx.sink, log, options.takenBefore)
  const nodes = new Map<string, NodeEntry>()
  let client: MqttClient | null = null
  let stopping = false
  let received = 0
  let lastError: string | undefined
  /** The time stamp of the current connection's will and birth (UTC ms). */
  let stamp = 0
  /** The birth of this connection is out: the host may publish anything else. */
  let born = false
  let connections = 0
  let tooManyNodesLogged = false

  const nextStamp = () => {
    stamp = Math.max(Date.now(), stamp + 1)
    return stamp
  }
  const statePayload = (online: boolean, timestamp: number) => JSON.stringify({ online, timestamp })
  // [tck-id-host-topic-phid-death-qos] [tck-id-host-topic-phid-death-retain]
  const will = (timestamp: number): NonNullable<IClientOptions['will']> => ({
    topic: stateTopic,
    payload: Buffer.from(statePayload(false, timestamp)),
    qos: 1,
    retain: true,
  })

  function publishBirth(c: MqttClient): void {
    // [tck-id-host-topic-phid-birth-payload-timestamp] the same time stamp as the will of this connection.
    c.publish(stateTopic, statePayload(true, stamp), { qos: 1, retain: true }, (err) => {
      if (err) log.warn({ err: err.message }, 'the Sparkplug host STATE birth was not published')
    })
    born = true
  }

  function nodeEntry(group: string, node: string): NodeEntry | null {
    const key = `${group}/${node}`
    let entry = nodes.get(key)
    if (entry) return entry
    if (nodes.size >= MAX_NODES) {
      if (!tooManyNodesLogged)
        log.warn({ max: MAX_NODES }, 'too many Sparkplug edge nodes: new ones are ignored')
      tooManyNodesLogged = true
      return null
    }
    entry = { group, node, state: initialSparkplugNode(), timer: null, askAfterReconnect: false }
    nodes.set(key, entry)
    return entry
  }

  function handle(entry: NodeEntry, events: SparkplugEvent<RawMessage>[]): void {
    for (const event of events) {
      if (event.type === 'rebirth') sendRebirth(entry, event.reason)
      else if (event.type === 'ignored-death')
        log.info(
          { group: entry.group, node: entry.node, bdSeq: event.bdSeq, current: entry.state.bdSeq },
          'Sparkplug NDEATH of an earlier session ignored',
        )
      else {
        const scope =
          event.type === 'birth'
            ? event.device === null
              ? entry.state
              : entry.state.devices.get(event.device)
            : undefined
        delivery.take(entry.group, entry.node, event, scope)
      }
    }
    schedule(entry)
  }

  function step(entry: NodeEntry, input: SparkplugInput<RawMessage>): void {
    handle(entry, stepSparkplugNode(policy, entry.state, input))
  }

  /** A tick at the node's next deadline (reorder timeout, a rebirth held back). */
  function schedule(entry: NodeEntry): void {
    if (entry.timer) clearTimeout(entry.timer)
    entry.timer = null
    const deadline = sparkplugDeadline(policy, entry.state)
    if (deadline === null || stopping) return
    entry.timer = setTimeout(
      () => {
        entry.timer = null
        step(entry, { kind: 'tick', at: Date.now() })
      },
      Math.max(0, deadline - Date.now()),
    )
    entry.timer.unref()
  }

  function sendRebirth(entry: NodeEntry, reason: string): void {
    const c = client
    // [tck-id-host-topic-phid-birth-message] nothing goes out before this connection's birth.
    if (!c?.connected || !born) return
    const topic = `${SPARKPLUG_NAMESPACE}/${entry.group}/NCMD/${entry.node}`
    // [tck-id-payloads-ncmd-qos] QoS 0, not retained.
    c.publish(topic, Buffer.from(rebirthRequest(Date.now())), { qos: 0, retain: false })
    log.info({ group: entry.group, node: entry.node, reason }, 'Sparkplug rebirth requested')
  }

  function onOwnState(payload: Buffer, c: MqttClient): void {
    let online: unknown
    try {
      online = (JSON.parse(payload.toString('utf8')) as { online?: unknown }).online
    } catch {
      return
    }
    // An offline STATE on its own topic (an earlier connection's will arriving late, another
    // client): edge nodes would think their primary host gone. Answered at once.
    if (online === false && born && c.connected && !stopping) {
      log.info({ topic: stateTopic }, 'offline STATE on its own topic: birth published again')
      publishBirth(c)
    }
  }

  function onMessage(topic: string, payload: Buffer, c: MqttClient): void {
    received++
    const t = parseSparkplugTopic(topic)
    if (t === null) return
    if (t.kind === 'state') {
      if (t.hostId === hostId) onOwnState(payload, c)
      return
    }
    // Commands go to nodes (this host's own come back through spBv1.0/#).
    if (t.type === 'NCMD' || t.type === 'DCMD') return
    const entry = nodeEntry(t.group, t.node)
    if (!entry) return
    const at = Date.now()
    const decoded = decodeSparkplugPayload(payload)
    const ref = { topic, payload }
    step(
      entry,
      'error' in decoded
        ? { kind: 'malformed', type: t.type, device: t.device, detail: decoded.error, at, ref }
        : { kind: 'message', type: t.type, device: t.device, payload: decoded, at, ref },
    )
  }

  /** The session with the broker is gone: what the host knew of every node is void. */
  function connectionLost(): void {
    born = false
    const at = Date.now()
    for (const entry of nodes.values()) {
      if (entry.state.online) entry.askAfterReconnect = true
      step(entry, { kind: 'reset', at })
    }
    delivery.connectionLost(`connection of the Sparkplug host to ${url} lost`, at)
  }

  /** Nodes that were online before the host's connection was lost may have changed since. */
  function askAfterReconnect(): void {
    const at = Date.now()
    for (const entry of nodes.values()) {
      if (!entry.askAfterReconnect) continue
      entry.askAfterReconnect = false
      const events: SparkplugEvent<RawMessage>[] = []
      requestRebirth(policy, entry.state, at, 'reconnected', true, events)
      handle(entry, events)
    }
  }

  return {
    async start() {
      const c = connect(url, {
        clientId: options.clientId,
        // [tck-id-message-flow-phid-sparkplug-clean-session-311]
        clean: true,
        protocolVersion: 4,
        username: options.username,
        password: options.password,
        ...options.tls,
        keepalive: 30,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        resubscribe: false,
        // [tck-id-operational-behavior-host-application-connect-will]
        will: will(nextStamp()),
      })
      client = c
      // mqtt.js sends the CONNECT of a reconnection right after 'reconnect', reading
      // `options.will` again: each connection gets a will with its own time stamp.
      c.on('reconnect', () => {
        c.options.will = will(nextStamp())
      })
      const ready = new Promise<void>((resolve) => {
        c.on('connect', () => {
          lastError = undefined
          connections++
          const reconnected = connections > 1
          const subscriptions = Object.fromEntries(
            [stateTopic, ...filters].map((f) => [f, { qos: sp.qos as 0 | 1 }]),
          )
          // [tck-id-host-topic-phid-birth-sub-required], then [tck-id-host-topic-phid-birth-required].
          c.subscribe(subscriptions, (err, granted) => {
            if (err || client !== c) {
              if (err) log.error({ err: err.message }, 'the Sparkplug host could not subscribe')
              return
            }
            const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic)
            if (refused.length > 0)
              log.error({ refused }, 'the broker refused subscriptions of the Sparkplug host')
            publishBirth(c)
            log.info({ url, hostId, stamp, filters }, 'Sparkplug host online')
            if (reconnected) askAfterReconnect()
            resolve()
          })
        })
      })
      c.on('message', (topic, payload) => onMessage(topic, payload, c))
      c.on('error', (err) => {
        lastError = err.message
        log.warn({ err: err.message, url }, 'Sparkplug host: MQTT error')
      })
      c.on('close', () => {
        if (client === c && !stopping) connectionLost()
      })
      // Waits a little for the first connection, so that a gateway that answers health has its
      // host online; a broker that is away does not hold the gateway's start.
      const wait = options.startWaitMs ?? 3000
      await Promise.race([ready, new Promise((r) => setTimeout(r, wait).unref())])
    },

    status(): SourceStatus {
      const list = [...nodes.values()]
      const online = list.filter((n) => n.state.online).length
      return {
        name: options.name ?? 'sparkplug',
        kind: 'sparkplug',
        connected: (client?.connected ?? false) && born,
        detail: `${lastError ?? url}; host ${hostId}; ${online} of ${list.length} edge nodes online`,
        received,
        sparkplug: {
          hostId,
          nodes: list.map(({ group, node, state }) => ({
            group,
            node,
            online: state.online,
            ...state.counters,
          })),
        },
      }
    },

    nodes(): SparkplugNodesView {
      return {
        enabled: true,
        hostId,
        connected: (client?.connected ?? false) && born,
        nodes: sparkplugNodeViews(
          nodes.values(),
          bindings.bound,
          config.characteristics.map((c) => c.id),
        ),
      }
    },

    async stop(abrupt = false) {
      stopping = true
      for (const entry of nodes.values()) if (entry.timer) clearTimeout(entry.timer)
      const c = client
      if (!c) return
      if (abrupt) {
        client = null
        await c.endAsync(true)
        return
      }
      if (c.connected && born) {
        born = false
        // [tck-id-host-topic-phid-death-payload-timestamp-disconnect-clean] a death with the
        // current time before DISCONNECT (which withholds the will).
        const death = statePayload(false, Math.max(Date.now(), stamp))
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000)
          c.publish(stateTopic, death, { qos: 1, retain: true }, () => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
      await c.endAsync(!c.connected)
      client = null
    },
  }
}
