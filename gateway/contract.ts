/**
 * Everything that crosses the wire between the gateway and a dashboard, declared once.
 * The dashboard imports these types (types only, never server code).
 *
 * REST (JSON; auth: `Authorization: Bearer <token>` unless anonymous access is configured):
 *   GET /api/health                                  → Health           (no auth)
 *   GET /api/session                                 → Session
 *   GET /api/characteristics                         → CharacteristicView[]
 *   GET /api/characteristics/:id                     → CharacteristicView
 *   GET /api/characteristics/:id/readings?from&to&limit → ReadingsView
 *   GET /api/characteristics/:id/chart?from&to&limit    → ChartView
 *   GET /api/nonconformances?status&characteristic&limit → NonconformanceSummary[]
 *   GET /api/nonconformances/:id                     → NonconformanceView
 *   GET /api/dead-letters?reason&limit               → DeadLettersView  (role engineer)
 * Errors: ApiError with the HTTP status (400 bad request, 401, 403, 404).
 * `from`/`to` take ISO 8601 (with a zone) or epoch milliseconds.
 *
 * socket.io (same port, path /socket.io; auth: `{ token }` in the handshake):
 *   ServerToClient / ClientToServer below. Live updates are coalesced per flush interval.
 */
import type {
  AlarmLimits,
  Cause,
  PanePoint,
  ProcessLimits,
  RuleId,
  Status,
} from '../rules/index.ts'
import type { RejectReason, SourceStatus } from './sources/status.ts'
import type { StoreStatus } from './store/types.ts'

export type {
  AlarmLimits,
  Cause,
  PanePoint,
  ProcessLimits,
  RejectReason,
  RuleId,
  SourceStatus,
  Status,
  StoreStatus,
}

export type Role = 'viewer' | 'operator' | 'engineer' | 'admin'

export interface ApiError {
  statusCode: number
  error: string
  message: string
}

export interface Health {
  status: 'ok' | 'degraded'
  version: string
  bootId: string
  startedAt: string
  sources: SourceStatus[]
  store: StoreStatus
  counters: { readings: number; rejected: Record<RejectReason, number> }
}

export interface Session {
  title: string
  bootId: string
  role: Role
  /** Id of the token used, or null for anonymous access. */
  tokenId: string | null
}

/** ISA-95 location of a characteristic, from its configured path `site/area/line/cell`. */
export interface Hierarchy {
  site: string
  area: string | null
  line: string | null
  cell: string | null
}

export type SourceBinding =
  | { kind: 'mqtt'; topic: string }
  | { kind: 'opcua'; server: string; nodeId: string }

/** Control limits of the chart, per pane, once estimated (or given). */
export interface ControlLimitsView {
  center: number
  sigma: number
  basis: ProcessLimits['basis']
  panes: Record<string, { center: number; lcl: number | null; ucl: number | null }>
}

export interface LiveState {
  status: Status
  /** Run rules the latest point completed (why the status is spc); empty otherwise. */
  rules: RuleId[]
  last: { ts: number; value: number } | null
  /** Readings collected toward the baseline, while limits are being estimated. */
  baseline: { have: number; need: number } | null
  openNcs: number
}

export interface CharacteristicView {
  id: string
  name: string
  path: string
  hierarchy: Hierarchy
  unit: string
  decimals: number
  source: SourceBinding
  limits: AlarmLimits
  chart: { type: 'imr'; baselineCount: number; rules: RuleId[]; control: ControlLimitsView | null }
  state: LiveState
}

export interface ReadingsView {
  characteristic: string
  from: number
  to: number
  readings: { ts: number; value: number }[]
}

/** One point of a control chart: each pane's statistic and limits, and the rules it completed. */
export interface ChartPointView {
  index: number
  ts: number
  phase: 'baseline' | 'monitor'
  panes: Record<string, PanePoint>
  rules: RuleId[]
}

export interface ChartView {
  characteristic: string
  points: ChartPointView[]
}

export type NcStatus = 'open'

export interface NonconformanceSummary {
  id: number
  /** Human number, e.g. NC-000042. */
  number: string
  characteristic: string
  characteristicName: string
  path: string
  /** The most severe cause, the one in the title. */
  cause: Cause
  /** Every cause this NC holds, `cause` first: causes one reading triggers together belong to one NC. */
  causes: Cause[]
  /** e.g. "Fill weight above the action limit". */
  title: string
  status: NcStatus
  openedAt: number
  lastAt: number
  /** Excursions or rule onsets recorded in this NC; a repeat adds to the open NC. */
  occurrences: number
  trigger: { ts: number; value: number; limit: number | null; rule: RuleId | null }
}

export interface NonconformanceView extends NonconformanceSummary {
  /** Limits in force when it opened. */
  limitsInForce: { alarm: AlarmLimits; control: ControlLimitsView | null }
  /** Readings around the trigger: some before it, then those that followed. */
  readings: { ts: number; value: number }[]
  /** Each occurrence (capped at the latest 100). */
  history: { ts: number; value: number }[]
}

export interface DeadLetterView {
  id: number
  ts: number
  source: string
  reason: RejectReason
  detail: string
  address: string | null
  size: number
  /** The payload as UTF-8 text when it is text, else null. */
  payloadText: string | null
  payloadBase64: string
}

export interface DeadLettersView {
  counts: Record<RejectReason, number>
  items: DeadLetterView[]
}

/** A reading past an alarm limit or completing a run rule. */
export interface DeviationView {
  characteristic: string
  cause: Cause
  kind: 'limit' | 'rule'
  onset: boolean
  ts: number
  value: number
  limit: number | null
}

export interface TileUpdate {
  id: string
  state: LiveState
}

export interface PointsUpdate {
  characteristic: string
  points: ChartPointView[]
  /** Points left out of this flush because more arrived than a browser can draw; refetch /chart to fill in. */
  dropped: number
}

export interface NcEvent {
  type: 'opened' | 'updated'
  nc: NonconformanceSummary
}

export interface Hello {
  /** A new id at every gateway start: a different one means the gateway restarted. */
  bootId: string
  title: string
  serverTime: number
}

export interface ServerToClient {
  hello: (hello: Hello) => void
  tiles: (tiles: TileUpdate[]) => void
  points: (update: PointsUpdate) => void
  deviations: (deviations: DeviationView[]) => void
  nc: (events: NcEvent[]) => void
  limits: (update: { characteristic: string; control: ControlLimitsView }) => void
}

export interface ClientToServer {
  /** Replaces the set of characteristics whose chart points this client receives. */
  watch: (ids: string[], ack: (result: { ok: true } | { ok: false; error: string }) => void) => void
}
