/**
 * The embedded MQTT broker's thread: aedes, the packet guard, authentication and the parsing
 * of payloads run here, off the thread that judges the readings (mqtt-broker.ts is the other
 * side). Readings, refusals and the QoS 1/2 messages taken leave for the judging thread once
 * per event-loop turn, in columns; a QoS 1 PUBACK (QoS 2 PUBREC) goes back only when the
 * judging thread says the batch its reading came in is durably stored.
 *
 * The gateway takes each message in aedes's publish authorisation step, before the broker
 * acknowledges it. aedes handles the packets of one socket read together and waits for all of
 * them before reading on, so many messages share one commit (group commit) and a store that
 * falls behind slows its publishers down instead of filling memory. QoS 0 is fire-and-forget,
 * as MQTT defines it: taken at once, lost if the gateway dies before commit.
 *
 * Each connection passes a packet-size guard first. Clients without credentials are accepted
 * from loopback only unless `anonymous: allow` (Mosquitto 2's default, for the same reason).
 */
import { createServer, type Server, type Socket } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { Aedes, type AuthenticateError, type Client } from 'aedes'
import { pino } from 'pino'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Delivery } from '../store/types.ts'
import { receiveTime } from './clock.ts'
import { verifyPassword } from './credentials.ts'
import { RecentDeliveries } from './deliveries.ts'
import { consumedTopics, createMqttIngest } from './mqtt-ingest.ts'
import { GuardedConnection } from './packet-guard.ts'
import type { Communication, ReadingSink, Rejection } from './types.ts'

export type BrokerOptions = Config['mqtt']['broker'] & {
  subscribe: string[]
  maxPacketBytes: number
}

export interface BrokerThreadData {
  options: BrokerOptions
  /** Mapped topics and the number of their characteristic (the judging thread has the ids). */
  topics: [string, number][]
  /** The QoS 1/2 messages taken in the last minutes (a resend after a crash is known). */
  deliveries: Delivery[]
  logLevel: string
}

/**
 * A batch goes at the end of the turn, or as soon as it holds this many readings: the judging
 * thread (and the commit an acknowledgement waits for) starts on the first part of a burst
 * while this thread takes the rest.
 */
const FLUSH_AT = 512

/** Readings per row: characteristic number, ts, value, size (NaN: none), receive time. */
export const BROKER_READING_STRIDE = 5

export type FromBroker =
  | { type: 'listening'; port: number }
  | { type: 'failed'; error: string; code: string | undefined }
  | {
      type: 'batch'
      readings: Float64Array
      keys: (string | undefined)[] | null
      rejections: Rejection[]
      deliveries: Delivery[]
      /** Communication lost, after the readings before it (characteristics by number). */
      communications: Communication[]
      /** Acknowledgements to send once everything in this batch is durable: those up to this number (0: none). */
      ack: number
      /** Totals so far, for status. */
      received: number
      clients: number
      resends: number
    }
  | { type: 'log'; line: string }
  | { type: 'stopped' }

export type ToBroker = { type: 'durable'; ack: number } | { type: 'stop' }

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

/**
 * What the broker hands over, gathered in a turn of the event loop and posted at its end.
 * Characteristics are numbered here (their ids stay with the judging thread).
 */
class Outbox {
  private readings = new Float64Array(1024 * BROKER_READING_STRIDE)
  private count = 0
  private keys: (string | undefined)[] | null = null
  private rejections: Rejection[] = []
  private deliveries: Delivery[] = []
  private communications: Communication[] = []
  private ack = 0
  private scheduled = false
  private readonly post: (batch: Extract<FromBroker, { type: 'batch' }>) => void
  private readonly totals: () => { received: number; clients: number; resends: number }

  constructor(
    post: (batch: Extract<FromBroker, { type: 'batch' }>) => void,
    totals: () => { received: number; clients: number; resends: number },
  ) {
    this.post = post
    this.totals = totals
  }

  /** The sink the ingest and the broker deliver to. `durable` marks acknowledgement `ack` as waiting on this batch. */
  sink(acks: { next(done: () => void): number }): ReadingSink {
    return {
      reading: (r) => {
        if (this.count * BROKER_READING_STRIDE === this.readings.length) {
          const grown = new Float64Array(this.readings.length * 2)
          grown.set(this.readings)
          this.readings = grown
        }
        const o = this.count * BROKER_READING_STRIDE
        this.readings[o] = Number(r.characteristic)
        this.readings[o + 1] = r.ts
        this.readings[o + 2] = r.value
        this.readings[o + 3] = r.size ?? Number.NaN
        this.readings[o + 4] = r.receivedAt ?? Number.NaN
        if (r.key !== undefined) {
          this.keys ??= []
          this.keys[this.count] = r.key
        }
        this.count++
        if (this.count >= FLUSH_AT) this.flush()
        else this.schedule()
      },
      reject: (rejection) => {
        this.rejections.push(rejection)
        this.schedule()
      },
      remember: (delivery) => {
        this.deliveries.push(delivery)
        this.schedule()
      },
      durable: (done) => {
        this.ack = acks.next(done)
        this.schedule()
      },
      communication: (update) => {
        this.communications.push(update)
        this.schedule()
      },
    }
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    if (
      this.count === 0 &&
      this.rejections.length === 0 &&
      this.deliveries.length === 0 &&
      this.communications.length === 0 &&
      this.ack === 0
    )
      return
    this.post({
      type: 'batch',
      readings: this.readings.slice(0, this.count * BROKER_READING_STRIDE),
      keys: this.keys,
      rejections: this.rejections,
      deliveries: this.deliveries,
      communications: this.communications,
      ack: this.ack,
      ...this.totals(),
    })
    this.count = 0
    this.keys = null
    this.rejections = []
    this.deliveries = []
    this.communications = []
    this.ack = 0
  }
}

/** Which client last published each mapped topic: whose loss is a loss of communication. */
class Publishers {
  private readonly byTopic = new Map<string, Client>()
  private readonly byClient = new Map<Client, Set<string>>()
  private readonly topics: ReadonlyMap<string, string>

  constructor(topics: ReadonlyMap<string, string>) {
    this.topics = topics
  }

  get(topic: string): Client | undefined {
    return this.byTopic.get(topic)
  }

  published(client: Client, topic: string): void {
    if (!this.topics.has(topic)) return
    const previous = this.byTopic.get(topic)
    if (previous) this.byClient.get(previous)?.delete(topic)
    this.byTopic.set(topic, client)
    let set = this.byClient.get(client)
    if (!set) {
      set = new Set()
      this.byClient.set(client, set)
    }
    set.add(topic)
  }

  /** Forgets a client; the characteristics (by number) it was the last publisher of. */
  gone(client: Client): string[] {
    const set = this.byClient.get(client)
    if (!set) return []
    this.byClient.delete(client)
    const out: string[] = []
    for (const topic of set) {
      this.byTopic.delete(topic)
      out.push(this.topics.get(topic) as string)
    }
    return out
  }
}

/** Acknowledgements waiting for durability, numbered in the order they were taken. */
class WaitingAcks {
  private readonly waiting: { n: number; done: () => void }[] = []
  private head = 0
  private last = 0

  next(done: () => void): number {
    this.waiting.push({ n: ++this.last, done })
    return this.last
  }

  /** Sends every acknowledgement up to `n`. */
  release(n: number): void {
    while (this.head < this.waiting.length && (this.waiting[this.head] as { n: number }).n <= n) {
      ;(this.waiting[this.head++] as { done: () => void }).done()
    }
    if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head)
      this.head = 0
    }
  }
}

async function startBroker(
  data: BrokerThreadData,
  log: Logger,
  post: (message: FromBroker) => void,
): Promise<{ port: number; release(ack: number): void; stop(): Promise<void> }> {
  const { options } = data
  let received = 0
  const acks = new WaitingAcks()
  const deliveries = new RecentDeliveries(data.deliveries)
  let broker: Aedes | null = null
  const outbox = new Outbox(post, () => ({
    received,
    clients: broker?.connectedClients ?? 0,
    resends: deliveries.resends,
  }))
  const sink = outbox.sink(acks)
  // The topics map to the numbers of their characteristics (the judging thread has the ids).
  const topics = new Map(data.topics.map(([topic, n]) => [topic, String(n)]))
  const ingest = createMqttIngest({
    source: 'mqtt',
    topics,
    sink,
    maxPacketBytes: options.maxPacketBytes,
    onMessage: () => received++,
  })
  let server: Server | null = null
  const sockets = new Set<Socket>()
  const users = new Map(options.users.map((u) => [u.username, u.passwordHash]))
  const wanted = consumedTopics(topics, options.subscribe)
  let pruner: NodeJS.Timeout | null = null
  let closing = false
  const publishers = new Publishers(topics)
  type Packet = { topic: string; payload: Buffer | string; qos: number; messageId?: number }
  /** Takes a device's message; `done` lets aedes acknowledge and route it. */
  const take = (client: Client | null, packet: Packet, done: (err: null) => void) => {
    if (!wanted(packet.topic)) return done(null)
    if (client && publishers.get(packet.topic) !== client)
      publishers.published(client, packet.topic)
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
      if (deliveries.take(client.id, id, hash, now)) return sink.durable(() => done(null))
      sink.remember({ client: client.id, messageId: id, hash, at: now })
    }
    ingest(packet.topic, payload)
    sink.durable(() => done(null))
  }
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
          options.anonymous === 'allow' || (options.anonymous === 'loopback' && isLoopback(address))
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
  // A client gone without DISCONNECT (its will would go out: keep-alive timeout, a broken
  // socket) is communication lost for what it published last; a clean DISCONNECT is a person's
  // or a device's intent, and a stale alarm covers the silence after it.
  b.on('clientDisconnect', (client) => {
    const gone = publishers.gone(client)
    if (
      gone.length === 0 ||
      closing ||
      (client as unknown as { _disconnected?: boolean })._disconnected
    )
      return
    sink.communication({
      characteristics: gone,
      lost: true,
      why: `MQTT client "${client.id}" gone without DISCONNECT`,
      at: Date.now(),
    })
  })
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
    sink.reject({
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
    // The id its CONNECT gave, once aedes has read it (a CONNACK has gone back by then).
    let client: Client | null = null
    const id = () => (client ? (connectIds.get(client) ?? client.id) : '?')
    const connection = new GuardedConnection(
      socket,
      options.maxPacketBytes,
      (packet) => {
        violated.add(connection)
        log.warn(
          { client: id(), declaredBytes: packet.declaredBytes, topic: packet.topic },
          'oversize MQTT packet cut off',
        )
        sink.reject({
          source: 'mqtt',
          reason: 'oversize',
          detail: `packet of ${packet.declaredBytes} bytes (type ${packet.type}) from client "${id()}" exceeds mqtt.maxPacketBytes (${options.maxPacketBytes}); connection closed`,
          address: packet.topic ?? undefined,
          payload: packet.head,
          size: packet.declaredBytes,
          ts: Date.now(),
        })
      },
      (packet) => {
        violated.add(connection)
        log.warn(
          { client: id(), reason: packet.reason },
          'malformed MQTT packet: connection closed',
        )
        sink.reject({
          source: 'mqtt',
          reason: 'protocol',
          detail: `MQTT protocol violation by client "${id()}" (${connection.remoteAddress ?? 'unknown address'}): ${packet.reason}; connection closed`,
          address: packet.topic ?? undefined,
          payload: packet.head,
          ts: Date.now(),
        })
      },
    )
    client = b.handle(connection)
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
  const address = server?.address()
  const port = typeof address === 'object' && address ? address.port : options.port
  log.info(
    { host: options.host, port, anonymous: options.anonymous },
    'embedded MQTT broker listening',
  )
  return {
    port,
    release: (ack) => acks.release(ack),
    async stop() {
      closing = true
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

/** A logger whose lines go to the judging thread's logger (one log, whatever the thread). */
function forwardingLogger(level: string, post: (message: FromBroker) => void): Logger {
  return pino({ level, base: undefined }, { write: (line: string) => post({ type: 'log', line }) })
}

if (parentPort) {
  const port = parentPort
  const data = workerData as BrokerThreadData
  const post = (message: FromBroker) => port.postMessage(message)
  const log = forwardingLogger(data.logLevel, post)
  startBroker(data, log, post).then(
    (broker) => {
      port.on('message', (message: ToBroker) => {
        if (message.type === 'durable') broker.release(message.ack)
        else
          void broker.stop().finally(() => {
            post({ type: 'stopped' })
            port.close()
          })
      })
      post({ type: 'listening', port: broker.port })
    },
    (e: unknown) => {
      const err = e as Error & { code?: string }
      post({ type: 'failed', error: err.message, code: err.code })
    },
  )
}
