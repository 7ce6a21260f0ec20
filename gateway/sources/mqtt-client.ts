import { crc32 } from 'node:zlib'
import { connect, type MqttClient } from 'mqtt'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Delivery } from '../store/types.ts'
import { RecentDeliveries } from './deliveries.ts'
import { consumedTopics, createMqttIngest } from './mqtt-ingest.ts'
import { keyPassphrase, readTlsFile } from './tls-files.ts'
import type { Source, SourceContext, SourceStatus } from './types.ts'

/**
 * Consumes from an external broker (Mosquitto, EMQX, HiveMQ…) with mqtt.js. A persistent
 * session (clean: false, fixed client id) and QoS 1 subscriptions let the broker keep what
 * arrives while the gateway is away; mqtt.js reconnects by itself.
 *
 * Durable acknowledgement: mqtt.js acknowledges a QoS 1 message as soon as its handler
 * returns, and takes the next message only after that. The gateway lets it go on at once
 * but holds the PUBACK itself until the store has committed the message; an acknowledgement
 * held when the connection drops is not sent on the next one (the broker sends the message
 * again: at least once, as QoS 1 promises).
 *
 * Over TLS (mqtts://) the broker's certificate is always verified, its host name included,
 * against `caFile` or else the system's CAs; there is no setting to skip that. A refused
 * handshake is counted (tls-handshake) once per outage and named in the status.
 */
export function createMqttClientSource(
  options: NonNullable<Config['mqtt']['external']> & {
    subscribe: string[]
    maxPacketBytes: number
    /** The source's name in health (a cluster's partition consumers are named apart). */
    name?: string
    /**
     * stop() closes the connection at once, sending no acknowledgement held back: what was
     * taken and not yet acknowledged goes again to the session's next holder (a cluster's
     * partition changing hands), which knows a message already stored by `deliveries`.
     */
    abruptStop?: boolean
  },
  topics: ReadonlyMap<string, string>,
  ctx: SourceContext & {
    env: NodeJS.ProcessEnv
    /**
     * The messages taken on this session before, as the journal has them: with it, a message
     * the broker sends again (same packet id, same topic and payload) after the connection
     * that took it ended is acknowledged and not stored twice — as the embedded broker does.
     * A cluster's partition session needs it: the gateway that took a message may have
     * committed it and died before its PUBACK left, and the next holder gets it again.
     */
    deliveries?: () => Promise<Delivery[]>
  },
): Source {
  const name = options.name ?? 'mqtt-external'
  const { log } = ctx
  let client: MqttClient | null = null
  let received = 0
  let lastError: string | undefined
  /**
   * The broker granted this connection's subscriptions. Connected means this, not the CONNACK:
   * a message published before the broker has the subscription (a session's first connection)
   * has nobody to go to, and the broker drops it.
   */
  let subscribed = false
  // No filters configured: exactly the mapped topics. Filters are subscribed as written, shared
  // subscriptions ($share/<group>/<filter>) too; a message's topic is matched by the filter part.
  const filters = options.subscribe.length > 0 ? options.subscribe : [...topics.keys()]
  const wanted = consumedTopics(topics, options.subscribe)
  const mapped = [...new Set(topics.values())]
  const ingest = createMqttIngest({
    source: 'mqtt-external',
    topics,
    sink: ctx.sink,
    maxPacketBytes: options.maxPacketBytes,
    onMessage: () => received++,
  })

  return {
    name,

    async start() {
      let password: string | undefined
      if (options.passwordEnv) {
        password = ctx.env[options.passwordEnv]
        if (password === undefined) {
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `mqtt.external.passwordEnv names ${options.passwordEnv}, which is not set in the environment`,
          )
        }
      }
      const clientId = options.clientId ?? 'linewatch-gateway'
      // Read before connecting: nothing may await between connect() and the listeners below
      // (a CONNACK in between would find no 'connect' listener, and nothing is subscribed).
      const taken = ctx.deliveries ? new RecentDeliveries(await ctx.deliveries()) : null
      const c = connect(options.url, {
        clientId,
        clean: false,
        username: options.username,
        password,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        ...(await tlsOptions(options, ctx.env)),
      })
      client = c
      holdAcknowledgements(c, ctx.sink.durable)
      if (taken) {
        c.on('connect', () => taken.connected(clientId))
        const pruner = setInterval(() => taken.prune(Date.now()), 60_000)
        pruner.unref()
        c.once('end', () => clearInterval(pruner))
      }
      // Communication with every mapped characteristic goes with the broker (once per outage).
      let lost = false
      const communication = (isLost: boolean, why: string) => {
        if (lost === isLost || client !== c) return
        lost = isLost
        ctx.sink.communication({ characteristics: mapped, lost: isLost, why, at: Date.now() })
      }
      let connections = 0
      c.on('connect', (connack) => {
        const on = ++connections
        lastError = undefined
        subscribed = false
        communication(false, `connected to ${options.url}`)
        log.info(
          { url: options.url, sessionPresent: connack.sessionPresent },
          'connected to the external MQTT broker',
        )
        // A resumed session keeps its subscriptions; subscribing again is harmless and covers a broker that lost it.
        c.subscribe(
          Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }])),
          (err, granted) => {
            // An answer for a connection gone (mqtt.js fails its pending subscriptions) says nothing now.
            if (client !== c || on !== connections || !c.connected) return
            // A refused filter comes back with a failure code (0x80 and up, e.g. an ACL's
            // denial; mqtt.js then also reports an error): those are named.
            const failed = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic)
            const refused = failed.length > 0 || !err ? failed : filters
            if (refused.length === 0) {
              subscribed = true
              return
            }
            lastError = `subscription refused by the broker: ${refused.join(', ')}`
            log.error(
              { url: options.url, refused, err: err?.message },
              'the external MQTT broker refused subscriptions',
            )
          },
        )
      })
      c.on('message', (topic, payload, packet) => {
        if (!wanted(topic)) return
        const id = packet.messageId
        if (taken && packet.qos > 0 && id !== undefined) {
          const now = Date.now()
          const hash = crc32(payload, crc32(topic))
          // Already stored: acknowledged (held like any other) and not ingested again.
          if (taken.take(clientId, id, hash, now)) return
          ctx.sink.remember({ client: clientId, messageId: id, hash, at: now })
        }
        ingest(topic, payload)
      })
      // Refused handshakes repeat with every reconnection: one count and log line per outage
      // and reason (the status keeps the latest).
      let refusedTls: string | undefined
      c.on('connect', () => {
        refusedTls = undefined
      })
      c.on('error', (err: Error & { code?: string | number }) => {
        const tls = isTlsRefusal(err)
        lastError = tls
          ? `TLS handshake refused: ${err.message} (is the broker's CA in mqtt.external.caFile?)`
          : err.message
        if (tls && refusedTls === err.message) return
        log.warn({ err: err.message, url: options.url }, 'external MQTT broker error')
        if (!tls) return
        refusedTls = err.message
        ctx.sink.reject({
          source: 'mqtt-external',
          reason: 'tls-handshake',
          detail: `TLS handshake with ${options.url} refused: ${err.message}${err.code ? ` (${err.code})` : ''}`,
          address: options.url,
          ts: Date.now(),
        })
      })
      c.on('close', () => {
        subscribed = false
        communication(true, `connection to ${options.url} lost`)
      })
      c.on('offline', () =>
        log.warn({ url: options.url }, 'external MQTT broker unreachable; reconnecting'),
      )
    },

    status(): SourceStatus {
      return {
        name,
        kind: 'mqtt-client',
        connected: (client?.connected ?? false) && subscribed,
        detail: lastError ?? options.url,
        received,
      }
    },

    async stop() {
      const c = client
      client = null
      if (c) await c.endAsync(options.abruptStop === true)
    },
  }
}

/** mqtt.js hands these to tls.connect (the passphrase too, though its types leave it out). */
type TlsFiles = { ca?: Buffer; cert?: Buffer; key?: Buffer; passphrase?: string }

/** The TLS files as mqtt.js options (mqtt.js verifies the broker's certificate by default). */
/** The external broker's TLS files (CA, client certificate and key), read once at start. */
export async function tlsOptions(
  options: { caFile?: string; certFile?: string; keyFile?: string; keyPassphraseEnv?: string },
  env: NodeJS.ProcessEnv,
): Promise<TlsFiles> {
  const read = (setting: string, file: string | undefined) =>
    readTlsFile('mqtt.external', setting, file)
  const passphrase = keyPassphrase('mqtt.external', options.keyPassphraseEnv, env)
  const out: TlsFiles = {}
  const ca = await read('caFile', options.caFile)
  const cert = await read('certFile', options.certFile)
  const key = await read('keyFile', options.keyFile)
  if (ca) out.ca = ca
  if (cert) out.cert = cert
  if (key) out.key = key
  if (passphrase !== undefined) out.passphrase = passphrase
  return out
}

/** Whether a connection error is the TLS handshake refusing (certificate, host name, protocol). */
function isTlsRefusal(err: Error & { code?: string | number }): boolean {
  const code = String(err.code ?? '')
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.includes('CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT'
  )
}

type SendPacket = (packet: { cmd: string }, cb?: (err?: Error) => void, ...rest: unknown[]) => void

/** Holds mqtt.js's PUBACK / PUBREC until `durable` says the message is stored (see the module comment). */
function holdAcknowledgements(client: MqttClient, durable: (done: () => void) => void): void {
  const internal = client as unknown as { _sendPacket: SendPacket }
  const send = internal._sendPacket.bind(client)
  let connection = 0
  client.on('connect', () => connection++)
  internal._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd !== 'puback' && packet.cmd !== 'pubrec') return send(packet, cb, ...rest)
    const on = connection
    durable(() => {
      if (on === connection && client.connected) send(packet, undefined, ...rest)
    })
    // mqtt.js takes the next message when this returns: the acknowledgement is ours to send.
    cb?.()
  }
}
