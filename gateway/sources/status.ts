/** What the outside sees of the sources: reject reasons and status. No imports, so the dashboard can use them. */

/** Why a message was refused. Each reason is counted and the message is kept (dead-letter). */
export type RejectReason =
  | 'malformed-json'
  | 'bad-shape'
  | 'not-a-number'
  | 'non-finite'
  | 'bad-timestamp'
  | 'unknown-topic'
  | 'oversize'
  | 'bad-quality'
  /** An MQTT protocol violation (malformed packet, second CONNECT, …): the connection is closed. */
  | 'protocol'

export const REJECT_REASONS: readonly RejectReason[] = [
  'malformed-json',
  'bad-shape',
  'not-a-number',
  'non-finite',
  'bad-timestamp',
  'unknown-topic',
  'oversize',
  'bad-quality',
  'protocol',
]

export interface SourceStatus {
  name: string
  kind: 'mqtt-broker' | 'mqtt-client' | 'opcua'
  connected: boolean
  detail?: string | undefined
  /** Messages received since start, accepted or not. */
  received: number
}
