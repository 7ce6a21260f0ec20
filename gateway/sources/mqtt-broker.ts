import { createServer, type Server, type Socket } from 'node:net'
import { Aedes, type AuthenticateError } from 'aedes'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import { verifyPassword } from './credentials.ts'
import { createMqttIngest } from './mqtt-ingest.ts'
import { GuardedConnection } from './packet-guard.ts'
import type { Source, SourceContext, SourceStatus } from './types.ts'

/**
 * The embedded MQTT broker (aedes) that devices connect to. The gateway consumes in-process
 * through aedes's own subscribe API (2.7× the rate of an mqtt.js client connecting back in).
 * Each connection passes a packet-size guard first. Clients without credentials are accepted
 * from loopback only unless `anonymous: allow` (Mosquitto 2's default, for the same reason).
 */
export interface MqttBrokerSource extends Source {
  /** The port listened on (useful with port 0). */
  port(): number
}

const BAD_USERNAME_OR_PASSWORD = 4
const NOT_AUTHORIZED = 5

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
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
  ctx: SourceContext,
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
  type Packet = { topic: string; payload: Buffer | string }
  const deliver = (packet: Packet, done: () => void) => {
    ingest(
      packet.topic,
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
    )
    done()
  }
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with $;
  // aedes's in-process subscriptions do match them (its own $SYS events), so filter here.
  const deliverUnlessSys = (packet: Packet, done: () => void) => {
    if (packet.topic.startsWith('$')) done()
    else deliver(packet, done)
  }

  return {
    name: 'mqtt',

    async start() {
      broker = await Aedes.createBroker({
        id: 'linewatch',
        authenticate: (client, username, password, done) => {
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
      b.on('clientError', (client, err) =>
        log.debug({ client: client.id, err: err.message }, 'MQTT client error'),
      )
      for (const filter of options.subscribe) {
        const wildcardFirst = filter.startsWith('#') || filter.startsWith('+')
        await new Promise<void>((resolve) =>
          b.subscribe(filter, wildcardFirst ? deliverUnlessSys : deliver, resolve),
        )
      }

      server = createServer((socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        let clientId = '?'
        const connection = new GuardedConnection(
          socket,
          options.maxPacketBytes,
          (packet) => {
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
          (reason) =>
            log.warn({ client: clientId, reason }, 'malformed MQTT packet: connection closed'),
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
        detail: broker ? `${broker.connectedClients} clients connected` : 'not started',
        received,
      }
    },

    async stop() {
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
