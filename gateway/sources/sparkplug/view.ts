/**
 * What `GET /api/sparkplug/nodes` answers: the edge nodes and devices as their births announced
 * them. Declared once here (contract.ts re-exports it); no imports, so the dashboard can use it.
 */

/** A characteristic entry for the configuration, ready to paste under `characteristics:`. */
export interface SparkplugCharacteristicEntry {
  id: string
  name: string
  path: string
  unit?: string
  source: { sparkplug: { group: string; node: string; device?: string; metric: string } }
}

export interface SparkplugMetricView {
  name: string
  alias: number | null
  /** The Sparkplug data type's name (Int32, Double, Boolean…). */
  datatype: string
  /** The engineering unit its properties announce, or null. */
  unit: string | null
  /** Since when (ISO 8601) its value is stale: its node or device died. null: current. */
  staleSince: string | null
  /** The characteristic that reads it, or null. */
  characteristic: string | null
  /** For a numeric metric no characteristic reads: an entry to paste. */
  entry: SparkplugCharacteristicEntry | null
}

export interface SparkplugDeviceView {
  device: string
  online: boolean
  birthAt: string | null
  deathAt: string | null
  metrics: SparkplugMetricView[]
}

export interface SparkplugNodeView {
  group: string
  node: string
  online: boolean
  /** The bdSeq of the current (or last) birth. */
  bdSeq: number | null
  birthAt: string | null
  deathAt: string | null
  rebirths: number
  metrics: SparkplugMetricView[]
  devices: SparkplugDeviceView[]
}

export interface SparkplugNodesView {
  /** Whether the gateway runs the Sparkplug host. */
  enabled: boolean
  hostId: string | null
  /** Connected to its broker, subscribed and its STATE published. */
  connected: boolean
  nodes: SparkplugNodeView[]
}
