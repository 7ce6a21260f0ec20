import type { Logger } from '../log.ts'

/**
 * The bus between the gateways of a cluster (docs/scale.md, "What is shared"): the socket.io
 * Redis adapter they share for the live events carries it (`serverSideEmit`), so a cluster needs
 * no other channel. A gateway alone, or one whose Redis is away, has no peers: `announce` sends
 * nothing and `ask` answers no one.
 *
 * - `announce(event, payload)`: tells every other gateway, without waiting.
 * - `ask(event, payload, timeoutMs)`: asks every other gateway; the answers of those that
 *   answered (the adapter gives them once every gateway answered, or after its own 3 s),
 *   `[]` when none did within `timeoutMs`.
 * - `on(event, handler)`: what this gateway does when another announces or asks; the handler's
 *   value (or promise) is the answer to an ask.
 * - `onResync(handler)`: what this gateway does when what it heard may be incomplete. An
 *   announcement is not kept for a gateway that is away: while Redis is away from one gateway
 *   (or all), what it announces reaches no one and what the others announce does not reach it.
 *   So once its Redis is back, it reads again from the records what the others may have changed
 *   meanwhile, and tells them to do the same (`RESYNC`).
 */
export interface Peers {
  /** Whether the other gateways can be reached now (Redis is up): an ask now would be answered. */
  reachable(): boolean
  announce(event: string, payload: unknown): void
  ask(event: string, payload: unknown, timeoutMs: number): Promise<unknown[]>
  on(event: string, handler: (payload: unknown) => unknown): void
  onResync(handler: () => void): void
}

/** The announcement of a gateway whose Redis is back: every other gateway resyncs too. */
export const RESYNC = 'peers-resync'

/** What travels between the gateways. */
export interface PeerEnvelope {
  event: string
  payload: unknown
}

/** How the live hub sends, once its socket.io server shares Redis. */
export interface PeerTransport {
  /** Redis is up. */
  up(): boolean
  emit(envelope: PeerEnvelope): void
  emitWithAck(envelope: PeerEnvelope, done: (responses: unknown[]) => void): void
}

/** The bus, made before the live hub (the services register their handlers at start). */
export interface PeerBus extends Peers {
  /** The live hub attaches its transport (null: detached, at close). */
  attach(transport: PeerTransport | null): void
  /** An envelope from another gateway: its handler's answer (null when there is none). */
  receive(envelope: unknown): Promise<unknown>
  /** The bus is up (at start, and after every outage): resync here and on every other gateway. */
  connected(): void
}

export function createPeerBus(log: Logger): PeerBus {
  let transport: PeerTransport | null = null
  const handlers = new Map<string, (payload: unknown) => unknown>()
  const resyncs: (() => void)[] = []

  function resync(): void {
    for (const handler of resyncs)
      try {
        handler()
      } catch (err) {
        log.warn({ err }, 'reading again what the other gateways changed failed here')
      }
  }

  return {
    attach(t) {
      transport = t
    },

    reachable: () => transport?.up() === true,

    announce(event, payload) {
      transport?.emit({ event, payload })
    },

    ask(event, payload, timeoutMs) {
      const t = transport
      // Redis away: nobody would hear it; no need to wait for the timeout.
      if (!t?.up()) return Promise.resolve([])
      return new Promise((resolve) => {
        let settled = false
        const finish = (responses: unknown[]) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve(responses)
        }
        // A backstop: while Redis is away the adapter may never call back.
        const timer = setTimeout(() => finish([]), timeoutMs)
        t.emitWithAck({ event, payload }, (responses) => finish(responses ?? []))
      })
    },

    on(event, handler) {
      handlers.set(event, handler)
    },

    onResync(handler) {
      resyncs.push(handler)
    },

    connected() {
      resync()
      transport?.emit({ event: RESYNC, payload: null })
    },

    async receive(envelope) {
      const e = envelope as Partial<PeerEnvelope> | null
      if (!e || typeof e.event !== 'string') return null
      if (e.event === RESYNC) {
        resync()
        return null
      }
      const handler = handlers.get(e.event)
      if (!handler) return null
      try {
        return (await handler(e.payload)) ?? null
      } catch (err) {
        log.warn({ err, event: e.event }, 'a message from another gateway failed here')
        return null
      }
    },
  }
}
