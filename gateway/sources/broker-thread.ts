/**
 * The embedded MQTT broker's thread: aedes, the packet guard, authentication and the parsing
 * of payloads run here, off the thread that judges the readings (mqtt-broker.ts is the other
 * side). Readings, refusals and the QoS 1/2 messages taken leave for the judging thread once
 * per event-loop turn, in columns; a QoS 1 PUBACK (QoS 2 PUBREC) goes back only when the
 * judging thread says the batch its reading came in is durably stored.
 *
 * A device's reading that nothing else receives (a mapped topic no subscription matches, QoS
 * 0 or 1, not retained) is taken from the packet guard before aedes parses it (`direct`),
 * which is most of the broker's cost saved; everything else goes through aedes, taken in its
 * publish authorisation step, and aedes goes on at once. Either way the acknowledgement waits
 * in the connection's packet guard (held-acks.ts) until the commit, in order. So the broker
 * reads on while the judging and the commit of what it took are under way, and many messages
 * share one commit (group commit). Reading ahead is bounded (`mqtt.broker.maxAcksWaiting`):
 * beyond it the connection waits for the commit too, so a store that falls behind slows its
 * publishers down instead of filling memory. QoS 0 is fire-and-forget, as MQTT defines it:
 * taken at once, lost if the gateway dies before commit.
 *
 * Each connection passes a packet-size guard first. Clients without credentials are accepted
 * from loopback only unless `anonymous: allow` (Mosquitto 2's default, for the same reason).
 * A TLS listener may ask for client certificates, which then sign their client in; refused
 * sign-ins are counted and throttled per client address; permissions (rules/mqtt-acl.ts) decide
 * who publishes and receives where (docs/mqtt-security.md).
 */
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls'
import { parentPort, workerData } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes'
import { pino } from 'pino'
import { type ClientPermissions, permissionsFor } from '../../rules/index.ts'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { releaseFreedMemory } from '../release-memory.ts'
import type { Delivery } from '../store/types.ts'
import {
  authorizationWhy,
  filesVersion,
  loadPermissions,
  loadTls,
  tlsFilesVersion,
} from './broker-security.ts'
import { receiveTime } from './clock.ts'
import { verifyPassword } from './credentials.ts'
import { RecentDeliveries } from './deliveries.ts'
import type { AckSlot, HeldAcks } from './held-acks.ts'
import { consumedTopics, createMqttIngest, filterLevels, topicMatches } from './mqtt-ingest.ts'
import { GuardedConnection } from './packet-guard.ts'
import { SignInThrottle } from './sign-in-throttle.ts'
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
  /**
   * Readings posted to the judging thread and not yet taken there beyond which the broker
   * stops reading (and reads on below half): what waits between the threads is bounded.
   */
  maxReadingsAhead: number
  logLevel: string
}

/**
 * A batch goes at the end of the turn, or as soon as it holds this many readings: the judging
 * thread (and the commit an acknowledgement waits for) starts on the first part of a burst
 * while this thread takes the rest.
 */
const FLUSH_AT = 512

export const DELIVERY_ROW = 4

/** Readings per row: characteristic number, ts, value, size (NaN: none), receive time. */
export const BROKER_READING_STRIDE = 5

export type FromBroker =
  | { type: 'listening'; port: number | null; tlsPort: number | null }
  | { type: 'failed'; error: string; code: string | undefined }
  | {
      type: 'batch'
      readings: Float64Array
      keys: (string | undefined)[] | null
      rejections: Rejection[]
      /** DELIVERY_ROW numbers per QoS 1/2 message taken: client (index into `deliveryClients`), id, hash, at. */
      deliveries: Float64Array
      deliveryClients: string[]
      /** Communication lost, after the readings before it (characteristics by number). */
      communications: Communication[]
      /** Acknowledgements to send once everything in this batch is durable: those up to this number (0: none). */
      ack: number
      /** Totals so far, for status. */
      received: number
      clients: number
      resends: number
      /** Refusals by kind (sign-ins, locks, TLS handshakes, permissions). */
      counts: Record<string, number>
    }
  | { type: 'log'; line: string }
  | { type: 'stopped' }

/**
 * `taken`: the judging thread has taken a batch of this many readings. `pause`: stop reading
 * every connection (the store is behind) until `resume`.
 */
export type ToBroker =
  | { type: 'durable'; ack: number }
  | { type: 'taken'; readings: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }

/** Distinct subscribed filters beyond which every message goes through aedes's routing. */
const MAX_ROUTED_FILTERS = 1000

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

type Totals = Pick<
  Extract<FromBroker, { type: 'batch' }>,
  'received' | 'clients' | 'resends' | 'counts'
>

/**
 * What the broker hands over, gathered in a turn of the event loop and posted at its end.
 * Characteristics are numbered here (their ids stay with the judging thread).
 */
class Outbox {
  private readings = new Float64Array(1024 * BROKER_READING_STRIDE)
  private count = 0
  private keys: (string | undefined)[] | null = null
  private rejections: Rejection[] = []
  /** DELIVERY_ROW numbers per QoS 1/2 message taken: client (index into `clients`), id, hash, at. */
  private deliveries = new Float64Array(256 * DELIVERY_ROW)
  private deliveryCount = 0
  private clients: string[] = []
  private clientIndex = new Map<string, number>()
  private communications: Communication[] = []
  private ack = 0
  private scheduled = false
  /** Readings posted since start. */
  posted = 0
  private readonly post: (batch: Extract<FromBroker, { type: 'batch' }>) => void
  private readonly totals: () => Totals
  /** Where each batch's acknowledgements wait, numbered. */
  private readonly acks: WaitingAcks

  private readonly afterPost: () => void

  constructor(
    post: (batch: Extract<FromBroker, { type: 'batch' }>) => void,
    totals: () => Totals,
    acks: WaitingAcks,
    afterPost: () => void,
  ) {
    this.post = post
    this.totals = totals
    this.acks = acks
    this.afterPost = afterPost
  }

  /** The sink the ingest and the broker deliver to. `durable` marks acknowledgement `ack` as waiting on this batch. */
  sink(): ReadingSink {
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
      remember: (d) => this.remember(d.client, d.messageId, d.hash, d.at),
      durable: (done) => this.waitFor({ release: done }),
      communication: (update) => {
        this.communications.push(update)
        this.schedule()
      },
    }
  }

  /** `r` is released once this batch is durable. */
  waitFor(r: Releasable): void {
    this.ack = this.acks.next(r)
    this.schedule()
  }

  /** A QoS 1/2 message taken: remembered with this batch (a resend after a crash is known). */
  remember(client: string, messageId: number, hash: number, at: number): void {
    let c = this.clientIndex.get(client)
    if (c === undefined) {
      c = this.clients.length
      this.clients.push(client)
      this.clientIndex.set(client, c)
    }
    if (this.deliveryCount * DELIVERY_ROW === this.deliveries.length) {
      const grown = new Float64Array(this.deliveries.length * 2)
      grown.set(this.deliveries)
      this.deliveries = grown
    }
    const o = this.deliveryCount++ * DELIVERY_ROW
    this.deliveries[o] = c
    this.deliveries[o + 1] = messageId
    this.deliveries[o + 2] = hash
    this.deliveries[o + 3] = at
    this.schedule()
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
      this.deliveryCount === 0 &&
      this.communications.length === 0 &&
      this.ack === 0
    )
      return
    this.post({
      type: 'batch',
      readings: this.readings.slice(0, this.count * BROKER_READING_STRIDE),
      keys: this.keys,
      rejections: this.rejections,
      deliveries: this.deliveries.slice(0, this.deliveryCount * DELIVERY_ROW),
      deliveryClients: this.clients,
      communications: this.communications,
      ack: this.ack,
      ...this.totals(),
    })
    this.posted += this.count
    this.afterPost()
    this.count = 0
    this.keys = null
    this.rejections = []
    this.deliveryCount = 0
    if (this.clients.length > 0) {
      this.clients = []
      this.clientIndex.clear()
    }
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

/** Something to do once a message is durable: a held acknowledgement, or aedes's callback. */
interface Releasable {
  release(): void
}

/** Acknowledgements waiting for durability, numbered 1, 2, … in the order they were taken. */
class WaitingAcks {
  private readonly waiting: Releasable[] = []
  private head = 0
  /** The number of the last one released. */
  private releasedUpTo = 0
  private last = 0

  next(r: Releasable): number {
    this.waiting.push(r)
    return ++this.last
  }

  /** Acknowledgements waiting. */
  get pending(): number {
    return this.last - this.releasedUpTo
  }

  /** Sends every acknowledgement up to `n`. */
  release(n: number): void {
    while (this.releasedUpTo < n && this.head < this.waiting.length) {
      ;(this.waiting[this.head++] as Releasable).release()
      this.releasedUpTo++
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
): Promise<{
  port: number | null
  tlsPort: number | null
  release(ack: number): void
  /** The store is behind (`on`), or has caught up. */
  storeBehind(on: boolean): void
  /** The judging thread has taken this many more readings. */
  taken(readings: number): void
  stop(): Promise<void>
}> {
  const { options } = data
  let received = 0
  /** Refusals since start, for the source's status (addresses-locked is the throttle's). */
  const counts = { 'sign-ins-refused': 0, 'tls-handshakes-refused': 0, 'not-permitted': 0 }
  const acks = new WaitingAcks()
  // How far the broker reads ahead of the commit: acknowledgements waiting on one connection,
  // and on all; beyond, aedes waits for the commit before it reads on.
  const readAhead = { connection: options.maxAcksWaiting, all: 8 * options.maxAcksWaiting }
  const deliveries = new RecentDeliveries(data.deliveries)
  let broker: Aedes | null = null
  const throttlePolicy = {
    maxFailures: options.signInThrottle.maxFailures,
    windowMs: options.signInThrottle.windowSeconds * 1000,
    lockMs: options.signInThrottle.lockSeconds * 1000,
  }
  const throttle = new SignInThrottle(throttlePolicy)
  const outbox = new Outbox(
    post,
    () => ({
      received,
      clients: broker?.connectedClients ?? 0,
      resends: deliveries.resends,
      counts: { ...counts, 'addresses-locked': throttle.locks },
    }),
    acks,
    () => aheadChanged(),
  )
  const sink = outbox.sink()
  // The topics map to the numbers of their characteristics (the judging thread has the ids).
  const topics = new Map(data.topics.map(([topic, n]) => [topic, String(n)]))
  const ingest = createMqttIngest({
    source: 'mqtt',
    topics,
    sink,
    maxPacketBytes: options.maxPacketBytes,
    onMessage: () => received++,
  })
  let permissions = await loadPermissions(options)
  const tls = options.tls
  const tlsContext = tls ? await loadTls(tls) : null
  const servers: (Server | TlsServer)[] = []
  const sockets = new Set<Socket>()
  const connections = new Set<GuardedConnection>()
  // No connection is read while the store is behind (the judging thread says), or while the
  // judging thread has too many readings still to take.
  let storeBehind = false
  let taken = 0
  let judgingBehind = false
  let throttled = false
  const applyThrottle = () => {
    const on = storeBehind || judgingBehind
    if (on === throttled) return
    throttled = on
    for (const connection of connections) connection.throttle(on)
  }
  const aheadChanged = () => {
    const ahead = outbox.posted - taken
    const behind = judgingBehind
      ? ahead > data.maxReadingsAhead / 2
      : ahead >= data.maxReadingsAhead
    if (behind === judgingBehind) return
    judgingBehind = behind
    applyThrottle()
  }
  const users = new Map(options.users.map((u) => [u.username, u.passwordHash]))
  const wanted = consumedTopics(topics, options.subscribe)
  let pruner: NodeJS.Timeout | null = null
  let reloader: NodeJS.Timeout | null = null
  let aclReloader: NodeJS.Timeout | null = null
  let closing = false
  const publishers = new Publishers(topics)
  type Packet = { topic: string; payload: Buffer | string; qos: number; messageId?: number }
  /** The connection's held acknowledgements, when this message will be acknowledged. */
  const heldAcks = (client: Client | null, packet: Packet): HeldAcks | null =>
    client && packet.qos > 0 && packet.messageId !== undefined
      ? (client.conn as GuardedConnection).acks
      : null
  /**
   * Lets aedes route the message and write its acknowledgement, which waits in `slot` for the
   * commit; aedes is told at once and reads on, unless too many acknowledgements wait
   * already: then it waits with them, and reads no further on that connection.
   */
  const whenDurable = (held: HeldAcks | null, slot: AckSlot | null, done: (err: null) => void) => {
    if (
      held !== null &&
      slot !== null &&
      held.waiting < readAhead.connection &&
      acks.pending < readAhead.all
    ) {
      outbox.waitFor(slot)
      return done(null)
    }
    outbox.waitFor({
      release() {
        slot?.release()
        done(null)
      },
    })
  }
  /**
   * Takes a device's message, whose acknowledgement (if any) waits in `slot`; `done` lets
   * aedes (or the connection, for a message taken before aedes) read on.
   */
  const take = (
    client: Client | null,
    packet: Packet,
    held: HeldAcks | null,
    slot: AckSlot | null,
    done: (err: null) => void,
  ) => {
    if (!wanted(packet.topic)) {
      slot?.release()
      return done(null)
    }
    if (client && publishers.get(packet.topic) !== client)
      publishers.published(client, packet.topic)
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (packet.qos === 0) {
      ingest(packet.topic, payload)
      return done(null)
    }
    const id = packet.messageId
    // A QoS 2 PUBLISH sent again before its exchange completed: already taken.
    if (packet.qos === 2 && held && id !== undefined && held.qos2Repeated(id))
      return whenDurable(held, slot, done)
    if (client && id !== undefined) {
      const now = receiveTime()
      const hash = crc32(payload, crc32(packet.topic))
      // Already stored: acknowledged again once what it was stored with is durable.
      if (deliveries.take(client.id, id, hash, now)) return whenDurable(held, slot, done)
      outbox.remember(client.id, id, hash, now)
    }
    ingest(packet.topic, payload)
    whenDurable(held, slot, done)
  }
  /** The client id each connection's CONNECT gave (aedes replaces an empty one). */
  const connectIds = new WeakMap<object, string>()
  /** Connections whose CONNECT has an empty client id they may not have. */
  const emptyIdRefused = new WeakSet<object>()
  /** The TLS socket under each connection that came over TLS. */
  const tlsSockets = new WeakMap<object, TLSSocket>()
  /** Who each signed-in client is: its user name, null when anonymous. */
  const identities = new WeakMap<Client, string | null>()
  /** Its permissions, when permissions are configured. */
  const granted = new WeakMap<Client, ClientPermissions>()
  /** Messages refused by the permissions: acknowledged as MQTT 3.1.1 allows, never routed. */
  const dropped = new WeakSet<object>()
  const who = (client: Client | null) => {
    if (!client) return 'a client gone'
    const user = identities.get(client)
    return `client "${client.id}" (${user == null ? 'anonymous' : `user "${user}"`})`
  }
  // Locks are logged at most every 10 s (each refused sign-in is counted and dead-lettered).
  let lockLoggedAt = 0
  let locksUnlogged = 0
  const logLock = (address: string, now: number) => {
    if (now - lockLoggedAt < 10_000) {
      locksUnlogged++
      return
    }
    log.warn(
      {
        address,
        lockSeconds: options.signInThrottle.lockSeconds,
        otherLocksSinceLastLog: locksUnlogged,
      },
      'MQTT client address locked after refused sign-ins',
    )
    lockLoggedAt = now
    locksUnlogged = 0
  }
  /** A CONNECT refused for its credentials: counted, dead-lettered, and towards the address's lock. */
  const refuseSignIn = (
    client: Client,
    address: string,
    username: string | undefined,
    why: string,
    returnCode: number,
    done: (err: AuthenticateError, ok: false) => void,
    { throttled = false } = {},
  ) => {
    const now = Date.now()
    // A refusal of a locked address is not another failure: the lock does not grow.
    const locked = !throttled && throttle.failed(address, now)
    counts['sign-ins-refused']++
    const user = username === undefined ? 'no user name' : `user "${username}"`
    sink.reject({
      source: 'mqtt',
      reason: 'bad-credentials',
      detail: `MQTT client "${client.id}" (${address}, ${user}) refused: ${why}${
        locked
          ? `; ${address} is locked for ${options.signInThrottle.lockSeconds} s after ${options.signInThrottle.maxFailures} refused sign-ins`
          : ''
      }`,
      ts: now,
    })
    log.debug({ client: client.id, address, username, why }, 'MQTT sign-in refused')
    if (locked) logLock(address, now)
    done(authError(why, returnCode), false)
  }
  const signedIn = (client: Client, user: string | null, done: (e: null, ok: true) => void) => {
    identities.set(client, user)
    if (permissions)
      granted.set(client, permissionsFor(permissions, { username: user, clientId: client.id }))
    done(null, true)
  }
  const refusePublish = (client: Client | null, packet: Packet) => {
    counts['not-permitted']++
    const will = client !== null && packet === (client as unknown as { will?: unknown }).will
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    sink.reject({
      source: 'mqtt',
      reason: 'not-permitted',
      detail: `${will ? 'the will of' : 'a publish by'} ${who(client)} to "${packet.topic}" is not permitted: acknowledged and dropped`,
      address: packet.topic,
      payload,
      ts: Date.now(),
    })
  }
  const hooks: AedesOptions = {
    id: 'linewatch',
    authorizePublish: (client, packet, done) => {
      if (permissions) {
        const allowed = client ? granted.get(client) : undefined
        if (!allowed?.canPublish(packet.topic)) {
          refusePublish(client, packet)
          dropped.add(packet)
          // Acknowledged in its place among the others (none waits on it).
          const held = heldAcks(client, packet)
          if (held && packet.messageId !== undefined) held.expect(packet.messageId).release()
          return done(null)
        }
      }
      if (client && packet !== (client as unknown as { will?: unknown }).will) {
        const conn = client.conn as GuardedConnection
        if (conn.brokerPending > 0) conn.brokerPending--
      }
      const held = heldAcks(client, packet)
      const slot = held && packet.messageId !== undefined ? held.expect(packet.messageId) : null
      take(client, packet, held, slot, done)
    },
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
      const conn = client.conn as GuardedConnection
      const address = conn.remoteAddress ?? 'unknown address'
      // A verified client certificate signs its client in: it cannot be guessed, so it is
      // neither throttled nor locked out with its address.
      const secure = tlsSockets.get(conn)
      if (secure && tls) {
        const cert = secure.getPeerCertificate()
        const presented = cert !== null && Object.keys(cert).length > 0
        if (presented && !secure.authorized)
          return refuseSignIn(
            client,
            address,
            username,
            `client certificate refused: ${authorizationWhy(secure)}`,
            NOT_AUTHORIZED,
            done,
          )
        if (presented && tls.userFromCertificate === 'cn') {
          const cn = cert.subject?.CN as unknown
          if (typeof cn !== 'string' || cn === '')
            return refuseSignIn(
              client,
              address,
              username,
              'the client certificate has no single common name (CN) to sign in as',
              NOT_AUTHORIZED,
              done,
            )
          return signedIn(client, cn, done)
        }
      }
      const verdict = throttle.allowed(address, Date.now())
      if (!verdict.allowed)
        return refuseSignIn(client, address, username, verdict.why, NOT_AUTHORIZED, done, {
          throttled: true,
        })
      if (username === undefined) {
        const ok =
          options.anonymous === 'allow' || (options.anonymous === 'loopback' && isLoopback(address))
        if (ok) signedIn(client, null, done)
        else refuseSignIn(client, address, username, 'credentials required', NOT_AUTHORIZED, done)
        return
      }
      const hash = users.get(username)
      verifyPassword(password ?? Buffer.alloc(0), hash ?? 'scrypt$16384$8$1$AA==$AA==').then(
        (ok) => {
          if (ok && hash) signedIn(client, username, done)
          else
            refuseSignIn(
              client,
              address,
              username,
              'bad username or password',
              BAD_USERNAME_OR_PASSWORD,
              done,
            )
        },
        (err: Error) =>
          refuseSignIn(client, address, username, err.message, BAD_USERNAME_OR_PASSWORD, done),
      )
    },
  }
  if (permissions) {
    hooks.authorizeSubscribe = (client, subscription, done) => {
      if (granted.get(client)?.canSubscribe(subscription.topic)) return done(null, subscription)
      counts['not-permitted']++
      sink.reject({
        source: 'mqtt',
        reason: 'not-permitted',
        detail: `the subscription of ${who(client)} to "${subscription.topic}" is refused (SUBACK 0x80): no topic it matches may be received`,
        address: subscription.topic,
        ts: Date.now(),
      })
      done(null, null)
    }
    // Each delivery (retained messages too) is checked: a granted subscription may be wider
    // than what the client may receive.
    hooks.authorizeForward = (client, packet) =>
      granted.get(client)?.canReceive(packet.topic) ? packet : null
  }
  const running = await Aedes.createBroker(hooks)
  broker = running
  // A changed acl_file is taken without a restart (Mosquitto: on SIGHUP): the grants of every
  // connected client are worked out again; an invalid file leaves the permissions in force.
  const aclFile = options.permissions ? undefined : options.aclFile
  if (aclFile !== undefined) {
    let version = await filesVersion([aclFile])
    let reloading = false
    aclReloader = setInterval(() => {
      if (reloading) return
      reloading = true
      filesVersion([aclFile])
        .then(async (now) => {
          if (now === version) return
          version = now
          const entries = await loadPermissions(options)
          permissions = entries
          // aedes keeps its connected clients by id (not in its types).
          const connected = (running as unknown as { clients: Record<string, Client> }).clients
          for (const client of Object.values(connected)) {
            const username = identities.get(client) ?? null
            if (entries)
              granted.set(client, permissionsFor(entries, { username, clientId: client.id }))
          }
          log.info(
            { file: aclFile, entries: entries?.length },
            'acl_file changed: permissions loaded',
          )
        })
        .catch((err: unknown) =>
          log.error(
            { err, file: aclFile },
            'the changed acl_file could not be loaded; the permissions in force stay',
          ),
        )
        .finally(() => {
          reloading = false
        })
    }, options.aclReloadSeconds * 1000)
    aclReloader.unref()
  }
  const b = broker
  // A refused message was acknowledged (authorizePublish let aedes go on); it stops here, not
  // routed nor retained. aedes calls publish(packet, client, done) for a client's message.
  type Publish = (packet: object, client?: unknown, done?: (err?: Error) => void) => void
  const publish = (b.publish as unknown as Publish).bind(b)
  ;(b as unknown as { publish: Publish }).publish = (packet, client, done) => {
    if (!dropped.has(packet)) return publish(packet, client, done)
    const callback = typeof client === 'function' ? (client as () => void) : done
    callback?.()
  }
  b.on('client', (client) => deliveries.connected(client.id))
  // Topic filters subscribed to since start (granted ones): a message on a topic one of them
  // matches goes through aedes, which routes it. Never forgotten (a persistent session keeps
  // its subscriptions while offline, and aedes queues its messages); past MAX_ROUTED_FILTERS
  // distinct ones, every message goes through aedes.
  const routedFilters = new Map<string, string[]>()
  const routedTopics = new Map<string, boolean>()
  const routed = (topic: string) => {
    if (routedFilters.size > MAX_ROUTED_FILTERS) return true
    let r = routedTopics.get(topic)
    if (r === undefined) {
      r = false
      for (const levels of routedFilters.values()) if (topicMatches(levels, topic)) r = true
      routedTopics.set(topic, r)
    }
    return r
  }
  b.on('subscribe', (subscriptions, client) => {
    for (const { topic, qos } of subscriptions)
      if ((qos as number) !== 128 && !routedFilters.has(topic)) {
        routedFilters.set(topic, filterLevels(topic))
        routedTopics.clear()
      }
    const conn = client.conn as GuardedConnection
    if (conn.brokerPending > 0) conn.brokerPending--
  })
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
  pruner = setInterval(() => {
    deliveries.prune(Date.now())
    throttle.prune(Date.now())
  }, 60_000)
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

  /** A new connection (over TLS: `secure` is its TLS socket): the packet guard, then aedes. */
  const handle = (socket: Socket, secure: TLSSocket | null) => {
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
    if (secure) tlsSockets.set(connection, secure)
    connections.add(connection)
    connection.on('close', () => connections.delete(connection))
    if (throttled) connection.throttle(true)
    const c = b.handle(connection)
    client = c
    // A device's reading, on a mapped topic no subscription routes, not retained, at QoS 0
    // or 1: taken here, before aedes parses and routes it, and acknowledged from here (the
    // packet guard keeps the order). Everything else goes through aedes.
    const unhold = () => connection.unhold()
    connection.direct = (qos, retain, topic, messageId, payload) => {
      if (retain || qos === 2 || !c.connected || !topics.has(topic) || routed(topic)) return false
      if (permissions && !granted.get(c)?.canPublish(topic)) return false
      // What aedes does for every packet it handles: the client is alive.
      const alive = c as unknown as {
        _keepaliveInterval: number
        _keepaliveTimer: NodeJS.Timeout | null
      }
      if (alive._keepaliveInterval > 0) alive._keepaliveTimer?.refresh()
      const held = qos === 1 ? connection.acks : null
      const slot = held ? held.expectPuback(messageId) : null
      connection.hold()
      take(c, { topic, payload, qos, messageId: held ? messageId : undefined }, held, slot, unhold)
      return true
    }
  }

  const listen = (server: Server | TlsServer, port: number, host: string, what: string) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new LinewatchError(
                'LW_ERR_PORT_IN_USE',
                `${what} port ${port} is in use by another program: stop it or set ${what === 'MQTT' ? 'mqtt.broker.port' : 'mqtt.broker.tls.port'}`,
              )
            : err,
        ),
      )
      server.listen(port, host, () => {
        const address = server.address()
        resolve(typeof address === 'object' && address ? address.port : port)
      })
    })

  let port: number | null = null
  if (options.plainListener) {
    const server = createServer((socket) => handle(socket, null))
    servers.push(server)
    port = await listen(server, options.port, options.host, 'MQTT')
  }
  let tlsPort: number | null = null
  if (tls && tlsContext) {
    const server = createTlsServer(
      {
        ...tlsContext,
        // Asked for when there is a CA to verify it against; required only when configured.
        requestCert: tls.caFile !== undefined,
        rejectUnauthorized: tls.requireClientCertificate,
        minVersion: 'TLSv1.2',
        handshakeTimeout: 10_000,
      },
      (socket) => handle(socket, socket),
    )
    // A refused handshake never reaches aedes: counted here, the log's rate bounded by the dead letters'.
    // A refused handshake's socket is closed before the refusal is reported, and a closed
    // socket answers its address only if it was asked before: ask the TCP socket under it at
    // once (Node keeps it as the TLS socket's _parent).
    server.prependListener('connection', (raw: Socket) => void raw.remoteAddress)
    server.on('tlsClientError', (err, socket) => {
      counts['tls-handshakes-refused']++
      const address =
        socket.remoteAddress ??
        (socket as unknown as { _parent?: Socket })._parent?.remoteAddress ??
        'unknown address'
      // A client certificate refused by the verification closes the socket with a mere "socket
      // hang up"; the verification's own reason (CERT_REVOKED, …) is on the socket.
      const why = socket.authorizationError
        ? `client certificate not accepted (${authorizationWhy(socket)})`
        : err.message
      log.debug({ address, why }, 'TLS handshake refused')
      sink.reject({
        source: 'mqtt',
        reason: 'tls-handshake',
        detail: `TLS handshake with ${address} refused: ${why}`,
        ts: Date.now(),
      })
    })
    servers.push(server)
    tlsPort = await listen(server, tls.port, tls.host, 'MQTT TLS')
    // Renewed certificates and a new CRL are taken without a restart.
    let version = await tlsFilesVersion(tls)
    let reloading = false
    reloader = setInterval(() => {
      if (reloading) return
      reloading = true
      tlsFilesVersion(tls)
        .then(async (now) => {
          if (now === version) return
          server.setSecureContext(await loadTls(tls))
          version = now
          log.info('TLS certificate, key, CA or CRL file changed: loaded')
        })
        .catch((err: unknown) =>
          log.error(
            { err },
            'changed TLS files could not be loaded; the previous ones stay in use',
          ),
        )
        .finally(() => {
          reloading = false
        })
    }, tls.reloadSeconds * 1000)
    reloader.unref()
  }
  log.info(
    {
      host: options.host,
      port,
      tlsPort,
      anonymous: options.anonymous,
      permissions: permissions ? permissions.length : 'none (everything allowed)',
    },
    'embedded MQTT broker listening',
  )
  return {
    port,
    tlsPort,
    release: (ack) => acks.release(ack),
    storeBehind(on) {
      storeBehind = on
      applyThrottle()
    },
    taken(readings) {
      taken += readings
      aheadChanged()
    },
    async stop() {
      closing = true
      if (pruner) clearInterval(pruner)
      if (reloader) clearInterval(reloader)
      if (aclReloader) clearInterval(aclReloader)
      const closed = servers
        .splice(0)
        .map((srv) => new Promise<void>((resolve) => srv.close(() => resolve())))
      for (const s of sockets) s.destroy()
      await Promise.all(closed)
      const b = broker
      broker = null
      if (b) await new Promise<void>((resolve) => b.close(() => resolve()))
    },
  }
}

/** A logger whose lines go to the judging thread's logger (one log, whatever the thread). */
function forwardingLogger(level: string, post: (message: FromBroker) => void): Logger {
  // Errors come over whatever the level (they count for health); the judging thread's logger
  // decides what is written.
  const value = pino.levels.values[level]
  const forwarded =
    value !== undefined && value <= (pino.levels.values.error ?? 50) ? level : 'error'
  return pino(
    { level: forwarded, base: undefined },
    { write: (line: string) => post({ type: 'log', line }) },
  )
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
        else if (message.type === 'taken') broker.taken(message.readings)
        else if (message.type === 'pause') broker.storeBehind(true)
        else if (message.type === 'resume') broker.storeBehind(false)
        else
          void broker.stop().finally(() => {
            post({ type: 'stopped' })
            port.close()
          })
      })
      // What its start took for a moment (the topics of every characteristic, aedes) goes back.
      releaseFreedMemory()
      post({ type: 'listening', port: broker.port, tlsPort: broker.tlsPort })
    },
    (e: unknown) => {
      const err = e as Error & { code?: string }
      post({ type: 'failed', error: err.message, code: err.code })
    },
  )
}
