import { isUtf8 } from 'node:buffer'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { HeldAcks } from './held-acks.ts'

/**
 * Stands between a client's socket and the broker and enforces a maximum MQTT packet size,
 * which aedes does not have: it reads each packet's fixed header (type byte and Remaining
 * Length) as bytes arrive, and when a packet declares more than `maxPacketBytes` it hands the
 * broker only the packets before it and closes the connection, so the broker never buffers
 * the oversized packet. Bodies are skipped by count, not parsed — except a PUBLISH's variable
 * header (topic and packet identifier), which is checked for what aedes lets through: a topic
 * that is not well-formed UTF-8 [MQTT-1.5.3-1] or holds U+0000 [MQTT-4.7.3-2], and packet
 * identifier 0 at QoS 1 or 2 [MQTT-2.3.1-1]. Such a packet is not passed on either: the
 * connection is closed and `onMalformed` told why. What the broker writes back passes
 * `acks` (held-acks.ts), which holds acknowledgements until their messages are stored.
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

const MAX_HEAD = 1024

export class GuardedConnection extends Duplex {
  /** Body bytes of the current packet still to pass. */
  private skip = 0
  /** Fixed-header bytes of the packet being read (type byte + up to 4 length bytes). */
  private header: number[] = []
  private tripped = false
  /** QoS of the PUBLISH whose variable header is being gathered, or -1 when none is. */
  private probeQos = -1
  /** Bytes the check needs: 2 (the topic length) until it is known, then the whole header. */
  private probeNeed = 0
  private probeLengthKnown = false
  /** Body bytes of that PUBLISH (a header longer than this is left to the broker's parser). */
  private probeRemaining = 0
  private probeParts: Buffer[] = []
  private probeLength = 0
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

  private inspect(chunk: Buffer): void {
    if (this.tripped) return
    let pos = 0
    let headerStart = this.header.length > 0 ? 0 : -1
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos)
        if (this.probeQos >= 0) {
          const violation = this.probe(chunk, pos, n)
          if (violation) {
            this.trip(chunk, headerStart, () => this.onMalformed(violation))
            return
          }
        }
        this.skip -= n
        pos += n
        continue
      }
      if (this.header.length === 0) headerStart = pos
      const byte = chunk[pos++] as number
      this.header.push(byte)
      if (this.header.length === 1) continue
      if (byte & 0x80) {
        if (this.header.length === 5) {
          this.trip(chunk, headerStart, () =>
            this.onMalformed({
              reason: 'Remaining Length longer than 4 bytes',
              head: Buffer.from(this.header),
              topic: null,
            }),
          )
          return
        }
        continue
      }
      let remaining = 0
      for (let i = this.header.length - 1; i >= 1; i--)
        remaining = remaining * 128 + ((this.header[i] as number) & 0x7f)
      const declared = this.header.length + remaining
      if (declared > this.maxPacketBytes) {
        const head = chunk.subarray(headerStart, Math.min(chunk.length, headerStart + MAX_HEAD))
        const type = (this.header[0] as number) >> 4
        this.trip(chunk, headerStart, () =>
          this.onOversize({
            declaredBytes: declared,
            type,
            head: Buffer.from(head),
            topic: type === 3 ? publishTopic(head, this.header.length) : null,
          }),
        )
        return
      }
      this.skip = remaining
      const first = this.header[0] as number
      const qos = (first >> 1) & 3
      // A PUBLISH (type 3); one at QoS 3 is left to the broker's parser, which refuses it.
      if (first >> 4 === 3 && qos < 3) {
        if (remaining < 2) {
          this.trip(chunk, headerStart, () =>
            this.onMalformed({
              reason: `PUBLISH of ${remaining} bytes has no room for its topic length`,
              head: Buffer.from(this.header),
              topic: null,
            }),
          )
          return
        }
        this.probeQos = qos
        this.probeNeed = 2
        this.probeLengthKnown = false
        this.probeRemaining = remaining
        this.probeLength = 0
        this.probeParts = []
      }
      this.header = []
    }
    if (!this.push(chunk)) this.socket.pause()
  }

  /**
   * Gathers a PUBLISH's variable header from the `n` body bytes at `pos` and, once it is all
   * in, checks it: the violation found, else null. Usually the header lies within one chunk
   * and is checked in place; only one split across chunks is copied.
   */
  private probe(chunk: Buffer, pos: number, n: number): MalformedPacket | null {
    if (this.probeLength === 0 && n >= 2) {
      const need = this.probeHeaderBytes(chunk.subarray(pos, pos + 2))
      if (typeof need !== 'number') return need
      if (n >= need) {
        const qos = this.probeQos
        this.probeQos = -1
        return publishViolation(chunk.subarray(pos, pos + need), qos)
      }
    }
    let at = pos
    let left = n
    for (;;) {
      const take = Math.min(left, this.probeNeed - this.probeLength)
      if (take > 0) {
        this.probeParts.push(Buffer.from(chunk.subarray(at, at + take)))
        this.probeLength += take
        at += take
        left -= take
      }
      if (this.probeLength < this.probeNeed) return null
      const head =
        this.probeParts.length === 1
          ? (this.probeParts[0] as Buffer)
          : Buffer.concat(this.probeParts, this.probeLength)
      this.probeParts = [head]
      if (this.probeLengthKnown) {
        const qos = this.probeQos
        this.probeQos = -1
        this.probeParts = []
        return publishViolation(head, qos)
      }
      const need = this.probeHeaderBytes(head)
      if (typeof need !== 'number') return need
      this.probeLengthKnown = true
      this.probeNeed = need
    }
  }

  /**
   * Bytes of a PUBLISH's variable header, from its topic length (the first two bytes of
   * `head`); or, when the packet is shorter than that, the violation (the probe ends). The
   * broker's parser would read such a header on into the next packet's bytes, or take a
   * packet id of -1.
   */
  private probeHeaderBytes(head: Buffer): number | MalformedPacket {
    const topicLength = head.readUInt16BE(0)
    const need = 2 + topicLength + (this.probeQos > 0 ? 2 : 0)
    if (need <= this.probeRemaining) return need
    const what = this.probeQos > 0 ? 'topic and packet identifier' : 'topic'
    const violation = {
      reason: `PUBLISH of ${this.probeRemaining} bytes cannot hold its ${topicLength}-byte ${what}`,
      head: Buffer.from(head.subarray(0, 2)),
      topic: null,
    }
    this.probeQos = -1
    this.probeParts = []
    return violation
  }

  /** Passes the packets before the bad one, reports, and closes the connection. */
  private trip(chunk: Buffer, headerStart: number, report: () => void): void {
    this.tripped = true
    if (headerStart > 0) this.push(chunk.subarray(0, headerStart))
    report()
    this.socket.destroy()
  }

  override _read(): void {
    this.socket.resume()
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

/** What is wrong with a PUBLISH's variable header (topic length, topic, packet id), if anything. */
function publishViolation(header: Buffer, qos: number): MalformedPacket | null {
  const length = header.readUInt16BE(0)
  const topicBytes = header.subarray(2, 2 + length)
  let reason: string | null = null
  if (!isUtf8(topicBytes)) reason = 'PUBLISH topic is not well-formed UTF-8 [MQTT-1.5.3-1]'
  else if (topicBytes.includes(0)) reason = 'PUBLISH topic contains U+0000 [MQTT-4.7.3-2]'
  else if (qos > 0 && header.readUInt16BE(2 + length) === 0)
    reason = `PUBLISH at QoS ${qos} with packet identifier 0 [MQTT-2.3.1-1]`
  if (reason === null) return null
  return {
    reason,
    head: Buffer.from(header.subarray(0, MAX_HEAD)),
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
