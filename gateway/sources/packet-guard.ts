import { isUtf8 } from 'node:buffer'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { HeldAcks, INCOMPLETE, readFixedHeader, TOO_LONG } from './held-acks.ts'

/**
 * Stands between a client's socket and the broker. It enforces a maximum MQTT packet size,
 * which aedes does not have: it reads each packet's fixed header (type byte and Remaining
 * Length) as bytes arrive, and when a packet declares more than `maxPacketBytes` it hands the
 * broker only the packets before it and closes the connection, so the broker never buffers
 * the oversized packet. Other packets' bodies pass by count, unparsed. A PUBLISH is gathered
 * whole (it is within the limit; the broker would buffer it too) and checked for what aedes
 * lets through: a topic that is not well-formed UTF-8 [MQTT-1.5.3-1] or holds U+0000
 * [MQTT-4.7.3-2], packet identifier 0 at QoS 1 or 2 [MQTT-2.3.1-1], a topic longer than the
 * packet. Such a packet is not passed on: the connection is closed and `onMalformed` told why.
 *
 * A well-formed PUBLISH is offered to `direct` first (broker-thread.ts takes a device's
 * reading there, without aedes's parsing and routing, when nothing else would receive it):
 * what it takes never reaches the broker. It is offered only while no PUBLISH or SUBSCRIBE
 * this connection passed to the broker is still waiting there, so the messages of a
 * connection are taken in the order they came whichever way they go. What the broker writes
 * back passes `acks` (held-acks.ts), which holds acknowledgements until their messages are
 * stored.
 */
export interface MalformedPacket {
  reason: string
  /** The bytes that showed the violation (at most 1 KiB). */
  head: Buffer
  /** A PUBLISH's topic, decoded leniently (ill-formed bytes as U+FFFD), when it had arrived. */
  topic: string | null
}

export interface OversizedPacket {
  /** Whole packet size the header declared (fixed header + Remaining Length). */
  declaredBytes: number
  /** MQTT control packet type (3 = PUBLISH). */
  type: number
  /** The packet's first bytes that had arrived (at most 1 KiB). */
  head: Buffer
  /** The topic, when it is a PUBLISH whose topic had arrived. */
  topic: string | null
}

/**
 * A whole, well-formed PUBLISH offered before the broker: true when it was taken (the broker
 * never sees it, and its acknowledgement is the taker's to arrange), false to pass it on.
 * `payload` is a view of the bytes that came.
 */
export type DirectPublish = (
  qos: number,
  retain: boolean,
  topic: string,
  messageId: number,
  payload: Buffer,
) => boolean

const MAX_HEAD = 1024
const PUBLISH = 3
const CONNECT = 1
const SUBSCRIBE = 8
const DISCONNECT = 14

export class GuardedConnection extends Duplex {
  /** Body bytes of the current packet (not a PUBLISH) still to pass. */
  private skip = 0
  /** The start of a packet that has not all come, withheld from the broker until it has. */
  private partial: Buffer[] = []
  private partialLength = 0
  /** The whole size of that packet, once its fixed header is in (0 before). */
  private partialNeed = 0
  private readonly header = { remaining: 0 }
  private tripped = false
  private connectSeen = false
  /** The broker's buffer is full: it has not asked for more since. */
  private brokerFull = false
  /** Messages taken directly whose commit the connection waits for before it reads on. */
  private holds = 0
  /** Not read while the store is behind (broker-thread.ts). */
  private throttled = false
  private inspecting = false
  /**
   * PUBLISHes and SUBSCRIBEs passed to the broker that it has not handled yet (its
   * authorisation of the PUBLISH, its `subscribe` event): while any is, nothing is taken
   * directly. Counted down by broker-thread.ts.
   */
  brokerPending = 0
  /** Takes PUBLISHes before the broker; null: everything goes to the broker. */
  direct: DirectPublish | null = null
  private readonly socket: Socket
  /** The connection's QoS 1/2 acknowledgements, held until their messages are stored. */
  readonly acks: HeldAcks
  private readonly maxPacketBytes: number
  private readonly onOversize: (packet: OversizedPacket) => void
  private readonly onMalformed: (packet: MalformedPacket) => void

  constructor(
    socket: Socket,
    maxPacketBytes: number,
    onOversize: (packet: OversizedPacket) => void,
    onMalformed: (packet: MalformedPacket) => void,
  ) {
    super({ allowHalfOpen: false })
    this.socket = socket
    this.acks = new HeldAcks((bytes, done) => socket.write(bytes, done))
    this.maxPacketBytes = maxPacketBytes
    this.onOversize = onOversize
    this.onMalformed = onMalformed
    socket.on('data', (chunk: Buffer) => this.inspect(chunk))
    socket.on('end', () => this.push(null))
    socket.on('close', () => this.destroy())
    socket.on('error', (err) => this.destroy(err))
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress
  }

  /** A message taken directly waits for its commit: the socket is not read meanwhile. */
  hold(): void {
    this.holds++
  }

  /** The commit a `hold` waited for is done. */
  unhold(): void {
    this.holds--
    if (!this.inspecting) this.flow()
  }

  /** Stops reading the socket (`on`), or reads on, whatever else holds it. */
  throttle(on: boolean): void {
    this.throttled = on
    if (!this.inspecting) this.flow()
  }

  private flow(): void {
    if (this.brokerFull || this.holds > 0 || this.throttled) this.socket.pause()
    else this.socket.resume()
  }

  private inspect(chunk: Buffer): void {
    if (this.tripped) return
    let data = chunk
    if (this.partialLength > 0) {
      this.partial.push(chunk)
      this.partialLength += chunk.length
      if (this.partialNeed > 0 && this.partialLength < this.partialNeed) return
      data = Buffer.concat(this.partial, this.partialLength)
      this.partial = []
      this.partialLength = 0
      this.partialNeed = 0
    }
    this.inspecting = true
    let pos = 0
    let passFrom = 0
    let passTo = data.length
    while (pos < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - pos)
        this.skip -= n
        pos += n
        continue
      }
      const start = pos
      const at = readFixedHeader(data, pos, this.header)
      if (at === TOO_LONG) {
        const head = Buffer.from(data.subarray(start, start + 5))
        this.trip(data, passFrom, start, () =>
          this.onMalformed({ reason: 'Remaining Length longer than 4 bytes', head, topic: null }),
        )
        return
      }
      if (at === INCOMPLETE) {
        this.withhold(data, start, 0)
        passTo = start
        break
      }
      const remaining = this.header.remaining
      const declared = at - start + remaining
      const first = data[start] as number
      const type = first >> 4
      if (declared > this.maxPacketBytes) {
        const head = Buffer.from(data.subarray(start, Math.min(data.length, start + MAX_HEAD)))
        this.trip(data, passFrom, start, () =>
          this.onOversize({
            declaredBytes: declared,
            type,
            head,
            topic: type === PUBLISH ? publishTopic(head, at - start) : null,
          }),
        )
        return
      }
      const qos = (first >> 1) & 3
      // A PUBLISH at QoS 3 is left to the broker's parser, which refuses it.
      if (type !== PUBLISH || qos === 3) {
        if (type === SUBSCRIBE) this.brokerPending++
        // After a DISCONNECT or a second CONNECT the broker closes the connection.
        if (type === DISCONNECT || (type === CONNECT && this.connectSeen)) this.direct = null
        if (type === CONNECT) this.connectSeen = true
        this.skip = remaining
        pos = at
        continue
      }
      if (start + declared > data.length) {
        this.withhold(data, start, declared)
        passTo = start
        break
      }
      const violation = publishViolation(data, at, remaining, qos)
      if (violation !== null) {
        this.trip(data, passFrom, start, () => this.onMalformed(violation))
        return
      }
      pos = start + declared
      if (this.takeDirectly(data, at, pos, first, qos)) {
        if (start > passFrom) this.pass(data.subarray(passFrom, start))
        passFrom = pos
      } else this.brokerPending++
    }
    if (passTo > passFrom) this.pass(data.subarray(passFrom, passTo))
    this.inspecting = false
    this.flow()
  }

  /** Offers the PUBLISH whose variable header starts at `at` (it ends at `end`) to `direct`. */
  private takeDirectly(data: Buffer, at: number, end: number, first: number, qos: number): boolean {
    if (this.direct === null || this.brokerPending > 0) return false
    const topicEnd = at + 2 + data.readUInt16BE(at)
    const payloadStart = qos > 0 ? topicEnd + 2 : topicEnd
    return this.direct(
      qos,
      (first & 1) === 1,
      data.toString('utf8', at + 2, topicEnd),
      qos > 0 ? data.readUInt16BE(topicEnd) : 0,
      data.subarray(payloadStart, end),
    )
  }

  /** Keeps the packet from `start` (of `need` bytes, 0: not known yet) until the rest comes. */
  private withhold(data: Buffer, start: number, need: number): void {
    const part = data.subarray(start)
    // A view of the socket's chunk would keep all of it: a short tail is copied.
    this.partial = [part.length < 4096 ? Buffer.from(part) : part]
    this.partialLength = part.length
    this.partialNeed = need
  }

  private pass(bytes: Buffer): void {
    if (!this.push(bytes)) this.brokerFull = true
  }

  /** Passes the packets before the bad one, reports, and closes the connection. */
  private trip(data: Buffer, passFrom: number, start: number, report: () => void): void {
    this.tripped = true
    this.inspecting = false
    if (start > passFrom) this.pass(data.subarray(passFrom, start))
    report()
    this.socket.destroy()
  }

  override _read(): void {
    this.brokerFull = false
    if (!this.inspecting) this.flow()
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.acks.out(chunk, callback)
  }

  // What the broker wrote while corked (mqtt-packet corks for each packet; a commit releases
  // thousands of PUBACKs in one turn) goes to the socket as one write, not one per packet.
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.acks.out(
      chunks.length === 1
        ? (chunks[0] as { chunk: Buffer }).chunk
        : Buffer.concat(chunks.map((c) => c.chunk)),
      callback,
    )
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.acks.close()
    this.socket.destroy()
    callback(error)
  }
}

/**
 * What is wrong with a whole PUBLISH whose variable header starts at `at` and whose body is
 * `remaining` bytes, if anything: a topic (and packet identifier) longer than the packet (the
 * broker's parser would read on into the next packet's bytes, or take a packet id of -1), a
 * topic that is not UTF-8 or holds U+0000, packet identifier 0 at QoS 1 or 2.
 */
function publishViolation(
  data: Buffer,
  at: number,
  remaining: number,
  qos: number,
): MalformedPacket | null {
  if (remaining < 2)
    return {
      reason: `PUBLISH of ${remaining} bytes has no room for its topic length`,
      head: Buffer.from(data.subarray(at, at + remaining)),
      topic: null,
    }
  const length = data.readUInt16BE(at)
  if (2 + length + (qos > 0 ? 2 : 0) > remaining) {
    const what = qos > 0 ? 'topic and packet identifier' : 'topic'
    return {
      reason: `PUBLISH of ${remaining} bytes cannot hold its ${length}-byte ${what}`,
      head: Buffer.from(data.subarray(at, at + 2)),
      topic: null,
    }
  }
  // Most topics are printable ASCII: well-formed UTF-8 with no U+0000, known without a view.
  let plain = true
  for (let k = at + 2; k < at + 2 + length; k++) {
    const c = data[k] as number
    if (c === 0 || c >= 0x80) {
      plain = false
      break
    }
  }
  const packetIdZero = qos > 0 && data.readUInt16BE(at + 2 + length) === 0
  if (plain && !packetIdZero) return null
  const topicBytes = data.subarray(at + 2, at + 2 + length)
  let reason: string | null = null
  if (!isUtf8(topicBytes)) reason = 'PUBLISH topic is not well-formed UTF-8 [MQTT-1.5.3-1]'
  else if (topicBytes.includes(0)) reason = 'PUBLISH topic contains U+0000 [MQTT-4.7.3-2]'
  else if (packetIdZero) reason = `PUBLISH at QoS ${qos} with packet identifier 0 [MQTT-2.3.1-1]`
  if (reason === null) return null
  return {
    reason,
    head: Buffer.from(data.subarray(at, Math.min(at + remaining, at + MAX_HEAD))),
    topic: topicBytes.toString('utf8'),
  }
}

/** The topic of a PUBLISH packet from its first bytes, when they hold it. */
function publishTopic(head: Buffer, headerLength: number): string | null {
  if (head.length < headerLength + 2) return null
  const length = head.readUInt16BE(headerLength)
  const start = headerLength + 2
  if (head.length < start + length) return null
  return head.subarray(start, start + length).toString('utf8')
}
