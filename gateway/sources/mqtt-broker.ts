import { createServer, type Server, type Socket } from 'node:net'
import { crc32 } from 'node:zlib'
import { Aedes, type AuthenticateError, type Client } from 'aedes'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Delivery } from '../store/types.ts'
import { receiveTime } from './clock.ts'
import { verifyPassword } from './credentials.ts'
import { RecentDeliveries } from './deliveries.ts'
import { consumedTopics, createMqttIngest } from './mqtt-ingest.ts'
import { GuardedConnection } from './packet-guard.ts'
import type { Source, SourceContext, SourceStatus } from './types.ts'

/**
 * The embedded MQTT broker (aedes) that devices connect to. The gateway takes each message in
 * aedes's publish authorisation step, before the broker acknowledges it: a QoS 1 PUBACK (QoS 2
 * PUBREC) goes back only once the reading is durably in the store, so what a device was told
 * is delivered survives a crash. aedes handles the packets of one socket read together and
 * waits for all of them before reading on, so many messages share one commit (group commit)
 * and a store that falls behind slows its publishers down instead of filling memory. QoS 0 is
 * fire-and-forget, as MQTT defines it: taken at once, lost if the gateway dies before commit.
 *
 * Each connection passes a packet-size guard first. Clients without credentials are accepted
 * from loopback only unless `anonymous: allow` (Mosquitto 2's default, for the same reason).
 */
export interface MqttBrokerSource extends Source {
  /** The port listened on (useful with port 0). */
  port(): number
}

const IDENTIFIER_REJECTED = 2
const BAD_USERNAME_OR_PASSWORD = 4
const NOT_AUTHORIZED = 5

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

/** What aedes closes a connection for that is not the client breaking the protocol. */
const NOT_VIOLATIONS = new Set([
  'keep alive timeout',
  'connect did not arrive in time',
  'drain timeout',
  'connection closed',
])

/**
 * Whether an error aedes reports on a connection (it has closed it) is a protocol violation:
 * everything except the network (errors with a `code`: ECONNRESET, EPIPE, ERR_STREAM_…),
 * time-outs, and refused credentials (CONNACK 4 and 5, logged where they are refused). So a
 * malformed packet (QoS 3, bad flags, a cut-short field), a second CONNECT, a packet before
 * CONNECT, a refused client id (CONNACK 2), an unacceptable protocol version (CONNACK 1), a
 * PUBLISH topic aedes refuses (wildcards, empty, over 100 levels) are. An error the gateway's
 * own hooks hand aedes must carry a `code` (as LinewatchError does) not to be counted.
 */
function isProtocolViolation(err: Error & { code?: unknown; errorCode?: unknown }): boolean {
  if (typeof err.code === 'string') return false
  if (err.errorCode === BAD_USERNAME_OR_PASSWORD || err.errorCode === NOT_AUTHORIZED) return false
  return !NOT_VIOLATIONS.has(err.message)
}

function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'))
  )
}

export function createMqttBrokerSource(
  options: Config['mqtt']['broker'] & { subscribe: string[]; maxPacketBytes: number },
  topics: ReadonlyMap<string, string>,
  ctx: SourceContext & { deliveries: readonly Delivery[] },
): MqttBrokerSource {
  const log = ctx.log
  let received = 0
  const ingest = createMqttIngest({
    source: 'mqtt',
    topics,
    sink: ctx.sink,
    maxPacketBytes: options.maxPacketBytes,
    onMessage: () => received++,
  })
  let broker: Aedes | null = null
  let server: Server | null = null
  const sockets = new Set<Socket>()
  const users = new Map(options.users.map((u) => [u.username, u.passwordHash]))
  const wanted = consumedTopics(topics, options.subscribe)
  const deliveries = new RecentDeliveries(ctx.deliveries)
  let pruner: NodeJS.Timeout | null = null
  type Packet = { topic: string; payload: Buffer | string; qos: number; messageId?: number }
  /** Takes a device's message; `done` lets aedes acknowledge and route it. */
  const take = (client: Client | null, packet: Packet, done: (err: null) => void) => {
    if (!wanted(packet.topic)) return done(null)
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (packet.qos === 0) {
      ingest(packet.topic, payload)
      return done(null)
    }
    const id = packet.messageId
    if (client && id !== undefined) {
      const now = receiveTime()
      const hash = crc32(payload, crc32(packet.topic))
      // Already stored: acknowledged again once what it was stored with is durable.
      if (deliveries.take(client.id, id, hash, now)) return ctx.sink.durable(() => done(null))
      ctx.sink.remember({ client: client.id, messageId: id, hash, at: now })
    }
    ingest(packet.topic, payload)
    ctx.sink.durable(() => done(null))
  }

  return {
    name: 'mqtt',

    async start() {
      /** The client id each connection's CONNECT gave (aedes replaces an empty one). */
      const connectIds = new WeakMap<object, string>()
      /** Connections whose CONNECT has an empty client id they may not have. */
      const emptyIdRefused = new WeakSet<object>()
      broker = await Aedes.createBroker({
        id: 'linewatch',
        authorizePublish: (client, packet, done) => take(client, packet, done),
        preConnect: (client, packet, done) => {
          connectIds.set(client, packet.clientId)
          // [MQTT-3.1.3-8] an empty client id asks the server for one, which only a clean
          // session may (MQTT 3.1 has no empty id at all); aedes would make one up for a
          // persistent session too. Refused in `authenticate`: aedes answers the return code
          // given there with a CONNACK and closes the connection.
          if (packet.clientId === '' && (!packet.clean || packet.protocolVersion === 3))
            emptyIdRefused.add(client)
          done(null, true)
        },
        authenticate: (client, username, password, done) => {
          if (emptyIdRefused.has(client)) {
            done(
              authError(
                'identifier rejected: an empty client id needs a clean session [MQTT-3.1.3-8]',
                IDENTIFIER_REJECTED,
              ),
              false,
            )
            return
          }
          if (username === undefined) {
            const address = (client.conn as GuardedConnection).remoteAddress
            const ok =
              options.anonymous === 'allow' ||
              (options.anonymous === 'loopback' && isLoopback(address))
            if (ok) done(null, true)
            else {
              log.warn({ client: client.id, address }, 'anonymous MQTT client refused')
              done(authError('credentials required', NOT_AUTHORIZED), false)
            }
            return
          }
          const hash = users.get(username)
          verifyPassword(password ?? Buffer.alloc(0), hash ?? 'scrypt$16384$8$1$AA==$AA==').then(
            (ok) => {
              if (ok && hash) done(null, true)
              else {
                log.warn(
                  { client: client.id, username },
                  'MQTT client refused: bad username or password',
                )
                done(authError('bad username or password', BAD_USERNAME_OR_PASSWORD), false)
              }
            },
            (err: Error) => done(authError(err.message, BAD_USERNAME_OR_PASSWORD), false),
          )
        },
      })
      const b = broker
      b.on('client', (client) => deliveries.connected(client.id))
      pruner = setInterval(() => deliveries.prune(Date.now()), 60_000)
      pruner.unref()
      // aedes has closed the connection; a protocol violation is also dead-lettered under
      // `protocol`. Before a CONNECT is accepted aedes calls it a connectionError, after a
      // clientError. One refusal per connection (by its GuardedConnection): the first violation
      // closes it, and what aedes reports while it closes, or about packets that reached it
      // in the same read as one the guard cut off, is not counted again.
      const violated = new WeakSet<object>()
      const onClientError = (client: Client, err: Error) => {
        log.debug({ client: client.id, err: err.message }, 'MQTT client error')
        if (!isProtocolViolation(err) || violated.has(client.conn)) return
        violated.add(client.conn)
        const address = (client.conn as GuardedConnection).remoteAddress ?? 'unknown address'
        ctx.sink.reject({
          source: 'mqtt',
          reason: 'protocol',
          detail: `MQTT protocol violation by client "${connectIds.get(client) ?? '?'}" (${address}): ${err.message}; connection closed`,
          ts: Date.now(),
        })
      }
      b.on('clientError', onClientError)
      b.on('connectionError', onClientError)

      server = createServer((socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        let clientId = '?'
        const connection = new GuardedConnection(
          socket,
          options.maxPacketBytes,
          (packet) => {
            violated.add(connection)
            log.warn(
              { client: clientId, declaredBytes: packet.declaredBytes, topic: packet.topic },
              'oversize MQTT packet cut off',
            )
            ctx.sink.reject({
              source: 'mqtt',
              reason: 'oversize',
              detail: `packet of ${packet.declaredBytes} bytes (type ${packet.type}) from client "${clientId}" exceeds mqtt.maxPacketBytes (${options.maxPacketBytes}); connection closed`,
              address: packet.topic ?? undefined,
              payload: packet.head,
              size: packet.declaredBytes,
              ts: Date.now(),
            })
          },
          (packet) => {
            violated.add(connection)
            log.warn(
              { client: clientId, reason: packet.reason },
              'malformed MQTT packet: connection closed',
            )
            ctx.sink.reject({
              source: 'mqtt',
              reason: 'protocol',
              detail: `MQTT protocol violation by client "${clientId}" (${connection.remoteAddress ?? 'unknown address'}): ${packet.reason}; connection closed`,
              address: packet.topic ?? undefined,
              payload: packet.head,
              ts: Date.now(),
            })
          },
        )
        const client = b.handle(connection)
        client.on('connected', () => {
          clientId = client.id
        })
      })
      const srv = server
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'EADDRINUSE'
              ? new LinewatchError(
                  'LW_ERR_PORT_IN_USE',
                  `MQTT port ${options.port} is in use by another program: stop it or set mqtt.broker.port`,
                )
              : err,
          ),
        )
        srv.listen(options.port, options.host, () => resolve())
      })
      log.info(
        { host: options.host, port: this.port(), anonymous: options.anonymous },
        'embedded MQTT broker listening',
      )
    },

    port() {
      const address = server?.address()
      return typeof address === 'object' && address ? address.port : options.port
    },

    status(): SourceStatus {
      return {
        name: 'mqtt',
        kind: 'mqtt-broker',
        connected: server?.listening ?? false,
        detail: broker
          ? `${broker.connectedClients} clients connected, ${deliveries.resends} resent messages recognised`
          : 'not started',
        received,
      }
    },

    async stop() {
      if (pruner) clearInterval(pruner)
      const srv = server
      server = null
      if (srv)
        await new Promise<void>((resolve) => {
          srv.close(() => resolve())
          for (const s of sockets) s.destroy()
        })
      const b = broker
      broker = null
      if (b) await new Promise<void>((resolve) => b.close(() => resolve()))
    },
  }
}
