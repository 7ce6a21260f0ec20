import type { SparkplugNodeCounters } from '../../rules/sparkplug.ts'
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
  /** MQTT: a publish (or will) or a subscription the permissions refuse (docs/mqtt-security.md). */
  | 'not-permitted'
  /** MQTT: a CONNECT refused for its credentials (wrong password, unknown user, none, a locked address). */
  | 'bad-credentials'
  /** MQTT: a TLS handshake refused (no, untrusted or revoked certificate, not TLS at all). */
  | 'tls-handshake'
  /** Sparkplug B: a payload that cannot be decoded, or lacks its seq (docs/sparkplug.md). */
  | 'malformed-sparkplug'
  /** Sparkplug B: DATA from a node or device whose birth the host has not seen. */
  | 'before-birth'
  /** Sparkplug B: DATA naming an alias or metric its birth did not announce. */
  | 'unknown-metric'
  /** Sparkplug B: a message whose seq is behind the node's, or came twice. */
  | 'out-of-order'

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
  'not-permitted',
  'bad-credentials',
  'tls-handshake',
  'malformed-sparkplug',
  'before-birth',
  'unknown-metric',
  'out-of-order',
]

export interface SourceStatus {
  name: string
  kind: 'mqtt-broker' | 'mqtt-client' | 'opcua' | 'sparkplug'
  connected: boolean
  detail?: string | undefined
  /** Messages received since start, accepted or not. */
  received: number
  /** Refusals since start by kind, e.g. an OPC-UA server's `identity-refused`. */
  counts?: Record<string, number> | undefined
  /** The Sparkplug host: its edge nodes with their counts (rebirths asked for, gaps, refusals). */
  sparkplug?: SparkplugHostStatus | undefined
}

/** One edge node as the host sees it, with its counters (rules/sparkplug.ts). */
export interface SparkplugNodeStatus extends SparkplugNodeCounters {
  group: string
  node: string
  online: boolean
}

export interface SparkplugHostStatus {
  hostId: string
  nodes: SparkplugNodeStatus[]
}
