import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'

/**
 * Stands between a client's socket and the broker and enforces a maximum MQTT packet size,
 * which aedes does not have: it reads each packet's fixed header (type byte and Remaining
 * Length) as bytes arrive, and when a packet declares more than `maxPacketBytes` it hands the
 * broker only the packets before it and closes the connection, so the broker never buffers
 * the oversized packet. Bodies are skipped by count, not parsed.
 */
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
  private readonly socket: Socket
  private readonly maxPacketBytes: number
  private readonly onOversize: (packet: OversizedPacket) => void
  private readonly onMalformed: (reason: string) => void

  constructor(
    socket: Socket,
    maxPacketBytes: number,
    onOversize: (packet: OversizedPacket) => void,
    onMalformed: (reason: string) => void,
  ) {
    super({ allowHalfOpen: false })
    this.socket = socket
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
            this.onMalformed('Remaining Length longer than 4 bytes'),
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
      this.header = []
    }
    if (!this.push(chunk)) this.socket.pause()
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
    this.socket.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy()
    callback(error)
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
