import type { Delivery } from '../store/types.ts'

/** How long a taken message is remembered (a client resends what was not acknowledged when it reconnects). */
export const DELIVERY_MEMORY_MS = 10 * 60_000

/** Packet ids per page: a client at 1 Hz for DELIVERY_MEMORY_MS uses one page. */
const PAGE = 1024

/** What a client sent under the ids of one page; `connection[k]` 0: nothing. */
interface Page {
  hash: Uint32Array
  at: Float64Array
  /** The connection (numbered per client) each was taken on: 1 is before this start. */
  connection: Uint32Array
  used: number
}

interface ClientTaken {
  /** The current connection's number (2 on, 1 being what the journal had at start). */
  connection: number
  pages: (Page | undefined)[]
}

/**
 * The QoS 1/2 messages the embedded broker took recently, per client, to know a message sent
 * again. A device resends every unacknowledged message when it reconnects, with its packet id
 * (mqtt.js does not even set DUP): after a crash between the commit and the PUBACK, or a PUBACK
 * lost with the connection, that message is already stored. It is a resend when a message on a
 * *later* connection has the packet id and the checksum (topic + payload) of one taken on an
 * earlier connection; it is then acknowledged and not stored again. A packet id used on the
 * connection it was taken on is new (ids are reused once acknowledged).
 *
 * Bounded: one slot per packet id and client (16 bytes, in pages of 1,024 ids made as they are
 * used: at most 1 MiB for a client that used every id), forgotten after DELIVERY_MEMORY_MS.
 * Flat arrays, not an object per message: at broker speed these would all live long enough to
 * burden the collector. Time arrives as input.
 */
export class RecentDeliveries {
  private readonly clients = new Map<string, ClientTaken>()
  resends = 0

  constructor(taken: readonly Delivery[]) {
    for (const d of taken) this.put(this.of(d.client), d.messageId, d.hash, d.at, 1)
  }

  /** A client (re)connected: what it sent so far is from an earlier connection now. */
  connected(client: string): void {
    const c = this.clients.get(client)
    if (c) c.connection++
  }

  /** Records a message; true when it is a resend of one already taken. */
  take(client: string, messageId: number, hash: number, now: number): boolean {
    const c = this.of(client)
    const page = c.pages[Math.floor(messageId / PAGE)]
    const k = messageId % PAGE
    const before = page?.connection[k] ?? 0
    const resend =
      page !== undefined &&
      before !== 0 &&
      before < c.connection &&
      page.hash[k] === hash >>> 0 &&
      now - (page.at[k] as number) < DELIVERY_MEMORY_MS
    if (resend) this.resends++
    this.put(c, messageId, hash, now, c.connection)
    return resend
  }

  /** Forgets what is older than DELIVERY_MEMORY_MS. */
  prune(now: number): void {
    for (const [client, c] of this.clients) {
      let pages = 0
      for (let p = 0; p < c.pages.length; p++) {
        const page = c.pages[p]
        if (!page) continue
        for (let k = 0; k < PAGE; k++) {
          if (page.connection[k] !== 0 && now - (page.at[k] as number) >= DELIVERY_MEMORY_MS) {
            page.connection[k] = 0
            page.used--
          }
        }
        if (page.used === 0) c.pages[p] = undefined
        else pages++
      }
      if (pages === 0) this.clients.delete(client)
    }
  }

  private of(client: string): ClientTaken {
    let c = this.clients.get(client)
    if (!c) {
      c = { connection: 2, pages: [] }
      this.clients.set(client, c)
    }
    return c
  }

  private put(
    c: ClientTaken,
    messageId: number,
    hash: number,
    at: number,
    connection: number,
  ): void {
    const p = Math.floor(messageId / PAGE)
    let page = c.pages[p]
    if (!page) {
      page = {
        hash: new Uint32Array(PAGE),
        at: new Float64Array(PAGE),
        connection: new Uint32Array(PAGE),
        used: 0,
      }
      c.pages[p] = page
    }
    const k = messageId % PAGE
    if (page.connection[k] === 0) page.used++
    page.hash[k] = hash >>> 0
    page.at[k] = at
    page.connection[k] = connection
  }
}
