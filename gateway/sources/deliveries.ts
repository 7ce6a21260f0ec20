import type { Delivery } from '../store/types.ts'

/** How long a taken message is remembered (a client resends what was not acknowledged when it reconnects). */
export const DELIVERY_MEMORY_MS = 10 * 60_000

type Taken = Map<number, { hash: number; at: number }>

/**
 * The QoS 1/2 messages the embedded broker took recently, per client, to know a message sent
 * again. A device resends every unacknowledged message when it reconnects, with its packet id
 * (mqtt.js does not even set DUP): after a crash between the commit and the PUBACK, or a PUBACK
 * lost with the connection, that message is already stored. It is a resend when a message on a
 * *later* connection has the packet id and the checksum (topic + payload) of one taken on an
 * earlier connection; it is then acknowledged and not stored again. A packet id used on the
 * connection it was taken on is new (ids are reused once acknowledged).
 *
 * Bounded: at most 65,535 entries per client (one per packet id), forgotten after
 * DELIVERY_MEMORY_MS. Time arrives as input.
 */
export class RecentDeliveries {
  private readonly current = new Map<string, Taken>()
  private readonly earlier = new Map<string, Taken>()
  resends = 0

  constructor(taken: readonly Delivery[]) {
    for (const d of taken) this.mapOf(this.earlier, d.client).set(d.messageId, d)
  }

  /** A client (re)connected: what it sent so far is from an earlier connection now. */
  connected(client: string): void {
    const current = this.current.get(client)
    if (!current) return
    const earlier = this.mapOf(this.earlier, client)
    for (const [id, taken] of current) earlier.set(id, taken)
    this.current.delete(client)
  }

  /** Records a message; true when it is a resend of one already taken. */
  take(client: string, messageId: number, hash: number, now: number): boolean {
    const earlier = this.earlier.get(client)
    const before = earlier?.get(messageId)
    if (before) earlier?.delete(messageId)
    this.mapOf(this.current, client).set(messageId, { hash, at: now })
    const resend =
      before !== undefined && before.hash === hash && now - before.at < DELIVERY_MEMORY_MS
    if (resend) this.resends++
    return resend
  }

  /** Forgets what is older than DELIVERY_MEMORY_MS. */
  prune(now: number): void {
    for (const maps of [this.current, this.earlier]) {
      for (const [client, taken] of maps) {
        for (const [id, t] of taken) if (now - t.at >= DELIVERY_MEMORY_MS) taken.delete(id)
        if (taken.size === 0) maps.delete(client)
      }
    }
  }

  private mapOf(maps: Map<string, Taken>, client: string): Taken {
    let taken = maps.get(client)
    if (!taken) {
      taken = new Map()
      maps.set(client, taken)
    }
    return taken
  }
}
