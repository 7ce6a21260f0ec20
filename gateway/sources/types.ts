import type { Logger } from '../log.ts'
import type { Delivery } from '../store/types.ts'
import type { RejectReason, SourceStatus } from './status.ts'

export { REJECT_REASONS, type RejectReason, type SourceStatus } from './status.ts'

/** One measured value of one characteristic: everything after a source knows only this. */
export interface Reading {
  characteristic: string
  /** UTC milliseconds since the epoch: the source's time stamp, else the receive time. */
  ts: number
  /** When the gateway received it, UTC ms (the source's time stamp is `ts`). */
  receivedAt?: number | undefined
  /** The measurement, or for attributes charts the count (defectives, defects). */
  value: number
  /** Attributes charts: the sample size or number of inspection units. */
  size?: number | undefined
  /** The subgroup (lot, batch, sample id) the reading belongs to, for subgroups formed by key. */
  key?: string | undefined
}

export interface Rejection {
  /** The source that received it, e.g. `mqtt` or `opcua:cnc1`. */
  source: string
  reason: RejectReason
  /** What was wrong, for a person. */
  detail: string
  /** MQTT topic or OPC-UA NodeId the message came on. */
  address?: string | undefined
  /** The message as received (or its first bytes when it was too large to keep). */
  payload?: Uint8Array | undefined
  /** Size of the whole message when `payload` holds only its first bytes. */
  size?: number | undefined
  /** Receive time, UTC ms. */
  ts: number
}

/**
 * A source lost (or regained) the connection to what feeds these characteristics: an MQTT
 * client gone without a DISCONNECT (its will would be published), an OPC-UA session lost, a
 * value of Bad quality. A reading of a characteristic is proof of communication too.
 */
export interface Communication {
  characteristics: readonly string[]
  lost: boolean
  /** For a person, e.g. `MQTT client "filler-1" gone without DISCONNECT (keep alive timeout)`. */
  why: string
  at: number
}

/** Where a source delivers what it receives. */
export interface ReadingSink {
  reading(reading: Reading): void
  reject(rejection: Rejection): void
  /**
   * Calls `done` once everything delivered so far is durably stored: a source acknowledges a
   * message to its sender (MQTT PUBACK) only then.
   */
  durable(done: () => void): void
  /** Keeps a taken QoS 1/2 message with the readings it gave, to know it when it comes again. */
  remember(delivery: Delivery): void
  communication(update: Communication): void
}

/** One interface for every source adapter: explicit lifecycle, status for /api/health. */
export interface Source {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
  status(): SourceStatus
}

export interface SourceContext {
  sink: ReadingSink
  log: Logger
}
