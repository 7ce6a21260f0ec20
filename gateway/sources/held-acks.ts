/**
 * Holds a connection's QoS 1 PUBACKs (QoS 2 PUBRECs) back until the messages they acknowledge
 * are durably stored, and sends them in the order the PUBLISHes came [MQTT-4.6.0-2].
 *
 * The broker is told a message is taken at once, so it reads on while the commit is under way
 * (the commit, the judging and the next socket read overlap; a publisher's whole window is in
 * flight, not one socket read). What it writes back passes through `out`, which frames the
 * bytes into MQTT packets: an acknowledgement of an expected message waits in its place until
 * that message is released; every other byte passes at once.
 */
export class HeldAcks {
  /** QoS 1/2 PUBLISHes in the order they came, from `head` on, until their acknowledgement left. */
  private readonly queue: AckSlot[] = []
  private head = 0
  /** Per packet identifier, the first expected message whose acknowledgement was not written. */
  private readonly unwritten = new Map<number, AckSlot>()
  /** Slots not yet released: what the broker's reading ahead is bounded by. */
  private waitingCount = 0
  /** Bytes of an outgoing packet whose header (or, for an acknowledgement, whole body) is incomplete. */
  private carry: Buffer | null = null
  /** Body bytes of the outgoing packet in progress that pass through as they come. */
  private skip = 0
  /** QoS 2 packet ids received whose PUBCOMP has not been written (the PUBREL not handled). */
  private readonly qos2InFlight = new Set<number>()
  private readonly header = { remaining: 0 }
  private drainScheduled = false
  private closed = false
  private readonly send: (bytes: Buffer, done?: (err?: Error | null) => void) => void

  constructor(send: (bytes: Buffer, done?: (err?: Error | null) => void) => void) {
    this.send = send
  }

  /** Acknowledgements expected and not yet released. */
  get waiting(): number {
    return this.waitingCount
  }

  /**
   * A QoS 1/2 PUBLISH with packet identifier `id` has come: its acknowledgement waits (in
   * order) until the slot returned is released. Called in the order the packets came.
   */
  expect(id: number): AckSlot {
    const slot = new AckSlot(this)
    this.queue.push(slot)
    this.waitingCount++
    // A client may reuse an id before its acknowledgement (it may not, but it can): in order.
    let last = this.unwritten.get(id)
    if (last === undefined) this.unwritten.set(id, slot)
    else {
      while (last.sameId !== null) last = last.sameId
      last.sameId = slot
    }
    return slot
  }

  /**
   * A QoS 1 PUBLISH with packet identifier `id` taken without the broker: its PUBACK
   * (0x40 0x02 id [MQTT-3.4]) is sent from here, in its place in the order, once the slot
   * returned is released.
   */
  expectPuback(id: number): AckSlot {
    const slot = new AckSlot(this)
    slot.bytes = Buffer.from([0x40, 2, id >> 8, id & 0xff])
    this.queue.push(slot)
    this.waitingCount++
    return slot
  }

  /** Called by a slot's `release`. */
  released(slot: AckSlot): void {
    this.waitingCount--
    if (slot.bytes !== null) this.scheduleDrain()
  }

  /**
   * A QoS 2 PUBLISH with packet identifier `id` has come: true when one with this id came on
   * this connection and its exchange is not complete (no PUBCOMP yet). Such a PUBLISH is a
   * retransmission, acknowledged again and never delivered twice [MQTT-4.3.3-2].
   */
  qos2Repeated(id: number): boolean {
    if (this.qos2InFlight.has(id)) return true
    this.qos2InFlight.add(id)
    return false
  }

  /** The connection is gone: nothing more is sent, nothing kept. */
  close(): void {
    this.closed = true
    this.queue.length = 0
    this.head = 0
    this.unwritten.clear()
    this.qos2InFlight.clear()
    this.carry = null
  }

  /** Bytes the broker writes: passed on, except acknowledgements that have to wait. */
  out(chunk: Buffer, done: (err?: Error | null) => void): void {
    let data = chunk
    if (this.carry !== null) {
      data = Buffer.concat([this.carry, chunk])
      this.carry = null
    }
    let pass = 0
    let pos = 0
    while (pos < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - pos)
        this.skip -= n
        pos += n
        continue
      }
      const at = readFixedHeader(data, pos, this.header)
      if (at === TOO_LONG) {
        // A Remaining Length of more than 4 bytes: not MQTT, so nothing is framed any more.
        this.skip = Number.POSITIVE_INFINITY
        break
      }
      if (at === INCOMPLETE) {
        // An incomplete header is one split across writes.
        this.carry = Buffer.from(data.subarray(pos))
        break
      }
      const remaining = this.header.remaining
      const type = (data[pos] as number) >> 4
      const end = at + remaining
      // PUBACK, PUBREC, PUBCOMP: short, with the packet id first.
      if ((type === 4 || type === 5 || type === 7) && remaining >= 2 && remaining <= 256) {
        if (end > data.length) {
          this.carry = Buffer.from(data.subarray(pos))
          break
        }
        const id = data.readUInt16BE(at)
        if (type === 7) this.qos2InFlight.delete(id)
        const entry = type === 7 ? undefined : this.written(id)
        if (entry !== undefined) {
          this.passOn(data, pass, pos)
          entry.bytes = Buffer.from(data.subarray(pos, end))
          pass = end
          if (entry.released) this.scheduleDrain()
        }
        pos = end
        continue
      }
      if (end > data.length) {
        this.skip = end - data.length
        pos = data.length
      } else pos = end
    }
    const stop = data.length - (this.carry?.length ?? 0)
    if (stop > pass)
      this.send(pass === 0 && stop === data.length ? data : data.subarray(pass, stop), done)
    else done()
  }

  private passOn(data: Buffer, from: number, to: number): void {
    if (to > from) this.send(data.subarray(from, to))
  }

  /** The expected message an acknowledgement of `id` answers (the first unanswered), if any. */
  private written(id: number): AckSlot | undefined {
    const entry = this.unwritten.get(id)
    if (entry === undefined) return undefined
    if (entry.sameId === null) this.unwritten.delete(id)
    else this.unwritten.set(id, entry.sameId)
    return entry
  }

  // Releases come in bursts (one commit frees thousands): the acknowledgements that may go
  // leave together, in one write, once the burst is over.
  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return
    this.drainScheduled = true
    queueMicrotask(() => {
      this.drainScheduled = false
      this.drain()
    })
  }

  private drain(): void {
    if (this.closed) return
    const ready: Buffer[] = []
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head] as AckSlot
      if (!entry.released || entry.bytes === null) break
      ready.push(entry.bytes)
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    if (ready.length > 0)
      this.send(ready.length === 1 ? (ready[0] as Buffer) : Buffer.concat(ready))
  }
}

export const INCOMPLETE = -1
export const TOO_LONG = -2

/**
 * Reads the fixed header of the MQTT packet at `start` [MQTT-2.2]: the type byte, then the
 * Remaining Length in 1 to 4 bytes of 7 bits, which goes to `header.remaining`. Returns the
 * offset of the packet's body, INCOMPLETE when the bytes end first, or TOO_LONG when the length
 * runs past 4 bytes (not MQTT).
 */
export function readFixedHeader(
  data: Buffer,
  start: number,
  header: { remaining: number },
): number {
  let remaining = 0
  let multiplier = 1
  let at = start + 1
  while (at < data.length) {
    if (at - start > 4) return TOO_LONG
    const byte = data[at++] as number
    remaining += (byte & 0x7f) * multiplier
    multiplier *= 128
    if ((byte & 0x80) === 0) {
      header.remaining = remaining
      return at
    }
  }
  return at - start > 4 ? TOO_LONG : INCOMPLETE
}

/** One expected acknowledgement (a class, so that holding one allocates a single object). */
export class AckSlot {
  released = false
  /** The acknowledgement the broker wrote, waiting for the release (null until written). */
  bytes: Buffer | null = null
  /** The next expected message with the same id. */
  sameId: AckSlot | null = null
  private readonly owner: HeldAcks

  constructor(owner: HeldAcks) {
    this.owner = owner
  }

  /** The message is stored: its acknowledgement may go, in its turn. */
  release(): void {
    if (this.released) return
    this.released = true
    this.owner.released(this)
  }
}
