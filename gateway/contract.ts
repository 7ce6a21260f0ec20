/**
 * Everything that crosses the wire between the gateway and a dashboard, declared once.
 * The dashboard imports these types (types only, never server code).
 *
 * REST (JSON; auth: `Authorization: Bearer <token>` unless anonymous access is configured):
 *   GET /api/health                                  → Health           (no auth)
 *   GET /api/session                                 → Session
 *   GET /api/characteristics                         → CharacteristicView[]
 *   GET /api/characteristics/:id                     → CharacteristicView
 *   GET /api/characteristics/:id/readings?from&to&limit&buckets → ReadingsView
 *   GET /api/characteristics/:id/chart?from&to&limit&buckets    → ChartView (buckets: DownsampledView)
 *   GET /api/characteristics/:id/limit-changes       → LimitChangeView[]
 *   POST /api/characteristics/:id/baseline {action, reason} → LimitChangeView  (role engineer)
 *   GET /api/nonconformances?status&characteristic&limit → NonconformanceSummary[]
 *   GET /api/nonconformances/:id                     → NonconformanceView
 *   GET /api/dead-letters?reason&limit               → DeadLettersView  (role engineer)
 * Errors: ApiError with the HTTP status (400 bad request, 401, 403, 404).
 * `from`/`to` take ISO 8601 (with a zone) or epoch milliseconds.
 *
 * socket.io (same port, path /socket.io; auth: `{ token }` in the handshake):
 *   ServerToClient / ClientToServer below. Live updates are coalesced per flush interval.
 */
import type { AlarmAreaKpis, AlarmKpisView } from '../rules/alarms/kpis.ts'
import type { AlarmCondition, AlarmPriority, AlarmState } from '../rules/alarms/types.ts'
import type { Annex1Grade, Annex1State, RoomClassification } from '../rules/cleanroom.ts'
import type {
  AlarmLimits,
  Capability,
  CapabilityVerdict,
  Cause,
  ChartType,
  PanePoint,
  ProcessLimits,
  RuleId,
  Status,
  Subgrouping,
  ViolationRule,
} from '../rules/index.ts'
import type { UserRole } from '../rules/quality/roles.ts'
import type { RejectReason, SourceStatus } from './sources/status.ts'
import type { StoreStatus } from './store/types.ts'

export type {
  SparkplugCharacteristicEntry,
  SparkplugDeviceView,
  SparkplugMetricView,
  SparkplugNodesView,
  SparkplugNodeView,
} from './sources/sparkplug/view.ts'

export type {
  AlarmAreaKpis,
  AlarmCondition,
  AlarmKpisView,
  AlarmLimits,
  AlarmPriority,
  AlarmState,
  CapabilityVerdict,
  Cause,
  ChartType,
  PanePoint,
  ProcessLimits,
  RejectReason,
  RoomClassification,
  RuleId,
  SourceStatus,
  Status,
  StoreStatus,
  Subgrouping,
  ViolationRule,
}

/** viewer < operator < quality-engineer < quality-manager < admin (rules/quality/roles.ts). */
export type Role = UserRole

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
  /**
   * The records writer (alarms, NCs, the audit trail, dead letters…): statements queued and not
   * yet committed, committed and the transactions they took, refused because the queue was full
   * (`dropped`), left out because the database's constraints refused them (`skipped`).
   */
  records?: {
    pending: number
    committed: number
    commits: number
    dropped: number
    skipped: number
    lastError?: string | undefined
  }
  counters: {
    readings: number
    rejected: Record<RejectReason, number>
    /** Dead letters dropped, oldest first, to keep within the caps (deadLetters in the config). */
    prunedDeadLetters: number
  }
  /**
   * Internal errors (a reading or an event listener that failed): the total since start, and
   * how many in the last `windowMs`. Only recent errors make the status degraded.
   */
  errors: { total: number; recent: number; windowMs: number }
  /**
   * Live dashboards connected, and those disconnected for not reading (live.maxBufferedBytes).
   * With live.redis, `redis`: whether it is reachable (events shared with the other gateways;
   * in a cluster, the bus between them). Away, the status is degraded.
   */
  live?: { clients: number; dropped: number; redis?: boolean }
  /**
   * A gateway among several (docs/scale.md): its name, the partitions it holds the leases of,
   * and how many characteristics it judges; readings of others' characteristics it was given.
   */
  cluster?: {
    gateway: string
    partitions: number
    held: number[]
    characteristics: number
    notOwned: number
  }
}

export interface Session {
  title: string
  bootId: string
  role: Role
  /** Id of the configured token used, or null for a signed-in user or anonymous access. */
  tokenId: string | null
  /** The signed-in user, or null for a configured token or anonymous access. */
  user: { name: string; printedName: string } | null
  /** The longest an alarm may be shelved (alarms.maxShelveMinutes). */
  maxShelveMinutes: number
  /** Local hours at which shifts start (shifts.starts; 6.5 is 06:30). */
  shiftStarts: number[]
  /**
   * A wall display's token configured with `kiosk: true`: the dashboard shows the overview in
   * kiosk mode, of one area or rotating between areas (README "Wall displays"); null otherwise.
   */
  kiosk?: KioskView | null
}

/** Kiosk settings of a display token (auth.tokens[].kiosk, area, rotateSeconds). */
export interface KioskView {
  /** The area shown ("Machining" or "Dortmund/Machining"), or null for the whole plant. */
  area: string | null
  /** Seconds each area is shown before the next (null: no rotation). */
  rotateSeconds: number | null
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
  | { kind: 'sparkplug'; group: string; node: string; device: string | null; metric: string }

/**
 * Control limits of the chart once estimated (or given): the parameters, and per pane the lines
 * in force at the latest point (limits that vary with the subgroup size differ point by point).
 */
export interface ControlLimitsView {
  center: number
  sigma: number
  basis: ProcessLimits['basis']
  /**
   * Each pane's lines at the latest point, and the σ they use (null: none; absent in the
   * limits an NC recorded before panes reported it).
   */
  panes: Record<
    string,
    { center: number; lcl: number | null; ucl: number | null; sigma?: number | null }
  >
}

export interface LiveState {
  status: Status
  /** Run rules (or CUSUM signals) the latest point completed (why the status is spc); empty otherwise. */
  rules: ViolationRule[]
  last: { ts: number; value: number } | null
  /** Subgroups collected toward the baseline while limits are being estimated (`need` null: a time-range baseline). */
  baseline: { have: number; need: number | null } | null
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
  chart: {
    type: ChartType
    subgroup: Subgrouping
    /** The panes of each point, primary first (e.g. ["xbar", "r"], ["cusum"]). */
    panes: string[]
    /** Baseline: `count` subgroups, or the time range `from`–`to` (UTC ms). */
    baseline: { count: number } | { from: number; to: number }
    rules: RuleId[]
    control: ControlLimitsView | null
  }
  /** Specification limits, when configured: capability is computed against them. */
  specLimits: { lsl: number | null; usl: number | null; target: number | null } | null
  /** Process capability once enough data exists (see CapabilityView), else null. */
  capability: CapabilityView | null
  /**
   * Whether the indices may be read as a prediction (with specification limits; else null):
   * "capable" needs a chart that has not signalled since its limits froze, Cpk and Ppk ≥ the
   * threshold and enough readings; a chart that signalled is "not in statistical control —
   * capability indices are not a prediction".
   */
  capabilityVerdict: CapabilityVerdict | null
  state: LiveState
}

/**
 * Process capability: Cp, Cpk, Cpl, Cpu, Cpm from the chart's within σ; Pp, Ppk, Ppl, Ppu from
 * the overall standard deviation; expected (normal) and observed parts per million out of
 * specification; 95% confidence bounds for Cp and Cpk. An index that the specification does
 * not define (e.g. Cp with one limit) is null. The engine's own type, so the two cannot drift.
 */
export type CapabilityView = Capability

/** An explicit, recorded change of a chart's limits. */
export interface LimitChangeView {
  id: number
  characteristic: string
  ts: number
  /** restart: estimate anew from new data; end-baseline: freeze now from the baseline so far; configuration: the chart's settings changed. */
  action: 'restart' | 'end-baseline' | 'configuration'
  reason: string
  /** Token id of who did it (null: the configuration, or anonymous). */
  actor: string | null
  before: ControlLimitsView | null
  after: ControlLimitsView | null
}

export interface ReadingsView extends Partial<DownsampledView> {
  characteristic: string
  from: number
  to: number
  readings: { ts: number; value: number }[]
}

/**
 * What a `?buckets=N` request adds (readings and chart, chart history): the whole range was read
 * and downsampled with M4 for a chart N pixels wide (rules/downsample.ts), every point that
 * completed a rule kept.
 */
export interface DownsampledView {
  /** Whether points were left out (false: the range held no more than were kept). */
  downsampled: boolean
  /** Readings or chart points in the range (read, when `from` was raised). */
  total: number
  buckets: number
  /**
   * The range read, UTC ms: `from` is later than asked when the range held more than the
   * gateway reads for one answer (3,000,000 rows: the oldest part is left out).
   */
  from: number
  to: number
}

/** One point of a control chart: each pane's statistic and limits, and the rules it completed. */
export interface ChartPointView {
  index: number
  ts: number
  phase: 'baseline' | 'monitor'
  /** Observations in the subgroup (the sample size for attributes). */
  n: number
  panes: Record<string, PanePoint>
  rules: ViolationRule[]
}

export interface ChartView extends Partial<DownsampledView> {
  characteristic: string
  points: ChartPointView[]
}

/** open → investigating → dispositioned → closed (rules/quality/nc-workflow.ts); reopen goes back to investigating. */
export type NcStatus = NcWorkflowStatus

/**
 * What an NC was opened for: the alarm condition, named as NCs always have (action-high for
 * HH, alert-low for L, …, a run rule, a CUSUM side), or target, rate, stale, comm-loss.
 */
export type NcCause = Cause | 'target' | 'rate' | 'stale' | 'comm-loss' | 'grade-a-5um'

export interface NonconformanceSummary {
  id: number
  /** Human number, e.g. NC-000042. */
  number: string
  characteristic: string
  characteristicName: string
  path: string
  /** The most severe cause, the one in the title. */
  cause: NcCause
  /** Every cause this NC holds, `cause` first: causes one reading triggers together belong to one NC. */
  causes: NcCause[]
  /** e.g. "Fill weight above the action limit". */
  title: string
  status: NcStatus
  /** Where the quality staff have taken it. */
  workflow: {
    status: NcStatus
    severity: NcSeverity | null
    owner: string | null
    dueAt: number | null
    /** Its due date has passed and it is not closed. */
    overdue: boolean
  }
  /** The closed NC of the same characteristic and cause this one recurs, or null. */
  recurrenceOf: number | null
  openedAt: number
  lastAt: number
  /** Excursions or rule onsets recorded in this NC; a repeat adds to the open NC. */
  occurrences: number
  /**
   * What opened it: the value judged (a rule's: the statistic of the pane it judged, e.g. an
   * EWMA's z), the limit it was beyond (alarm limit; for N1/WE1 and CUSUM the pane's control
   * limit), the rule and pane, and a CUSUM signal's run length (points since its side left 0).
   */
  trigger: {
    ts: number
    value: number
    limit: number | null
    rule: ViolationRule | null
    pane: string | null
    runLength: number | null
  }
}

export interface NonconformanceView extends NonconformanceSummary {
  /** The whole workflow: investigation, root cause, disposition, CAPAs, signatures, comments, attachments. */
  workflow: NcWorkflowView
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
  /** Totals per reason, for ever (pruning does not lower them). */
  counts: Record<RejectReason, number>
  /** Dead letters dropped, oldest first, to keep within the caps. */
  pruned: number
  /** What is kept now: dead letters and their payload bytes. */
  stored: { count: number; bytes: number }
  /** The caps (config deadLetters). */
  caps: { maxCount: number; maxBytes: number }
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
  /** The chart pane a rule judged (e.g. `mr`: the value is a moving range, not a reading); null for a limit excursion. */
  pane: string | null
}

/**
 * `GET /api/deviations?from&to&limit`: one deviation (a limit excursion or a rule's signal) from its
 * onset, with the readings or points it has lasted so far; newest onset first.
 */
export interface RecentDeviationView {
  characteristic: string
  cause: Cause
  kind: 'limit' | 'rule'
  /** The onset's time, value, limit (null for a rule) and pane (null for a limit excursion). */
  ts: number
  value: number
  limit: number | null
  pane: string | null
  /** Readings (limit) or chart points (rule) in the deviation so far (1 at its onset). */
  count: number
  /** The latest of them. */
  lastTs: number
  /** Its value; null when not known (a deviation read back from the store after a restart). */
  lastValue: number | null
  /** The last reading or point of a deviation that has ended; null while it lasts (or not known). */
  endedAt: number | null
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

/**
 * One alarm: a characteristic and a condition (at most one alarm each: a repeat while active is
 * the same alarm). Its `id` is `characteristic:condition` (URL-encode it in paths).
 */
export interface AlarmView {
  id: string
  characteristic: string
  characteristicName: string
  /** The operator position it belongs to: the ISA-95 area of the characteristic (alarms.areaLevel). */
  area: string
  condition: AlarmCondition
  priority: AlarmPriority
  state: AlarmState
  /** The condition holds now (it may be active while shelved or suppressed). */
  active: boolean
  acknowledged: boolean
  /** When the condition last became active; null while it is not. */
  activeSince: number | null
  /** When the state last changed. */
  since: number
  /** The value and limit at the latest change of the condition. */
  value: number | null
  limit: number | null
  unit: string
  /** Decimals the characteristic is shown with. */
  decimals: number
  /** Shelved: until when, by whom and why. */
  shelvedUntil: number | null
  shelvedBy: string | null
  shelveReason: string | null
  /** e.g. "Fill weight above HH (506 g)". */
  message: string
}

/** One transition of an alarm, with who, when and why. */
export interface AlarmEventView {
  id: number
  alarm: string
  at: number
  from: AlarmState
  to: AlarmState
  /** A user or token id; null for the process and time. */
  by: string | null
  why: string
  value: number | null
}

/** Alarms per priority: how many are active, and how many wait for an acknowledgement. */
export type AlarmCounts = Record<AlarmPriority, { active: number; unacknowledged: number }>

/** Pushed to every dashboard (coalesced): the alarms that changed and the counts for the banner. */
export interface AlarmsUpdate {
  changed: AlarmView[]
  counts: AlarmCounts
  /** More changed than one message carries (an alarm flood): read GET /api/alarms again. */
  resync: boolean
}

/**
 * A plant state that suppresses alarms by design (alarms.states): set by an operator, or
 * following a characteristic's readings (`manual: false`).
 */
export interface PlantStateView {
  id: string
  name: string
  active: boolean
  since: number | null
  by: string | null
  reason: string | null
  manual: boolean
}

/** A cleanroom of the GMP profile and its particle counters (GET /api/cleanrooms). */
export interface CleanroomView {
  id: string
  name: string
  grade: Annex1Grade
  state: Annex1State
  areaM2: number
  counters: {
    characteristic: string
    location: string
    particleSize: 0.5 | 5
    /** The action limit in force (HH); Annex 1 Table 5's, unless a stricter one is configured. */
    actionLimit: number | null
    annex1ActionLimit: number | null
  }[]
}

/** A room's ISO 14644-1 classification from its counters' readings in a range. */
export interface CleanroomClassificationView {
  room: CleanroomView
  from: number
  to: number
  /** Readings taken into the location means. */
  samples: number
  classification: RoomClassification
}

export interface ServerToClient {
  hello: (hello: Hello) => void
  alarms: (update: AlarmsUpdate) => void
  'plant-states': (states: PlantStateView[]) => void
  tiles: (tiles: TileUpdate[]) => void
  points: (update: PointsUpdate) => void
  deviations: (deviations: DeviationView[]) => void
  /** The NCs opened or changed since the last message: one event each, with its latest summary. */
  nc: (events: NcEvent[]) => void
  limits: (update: { characteristic: string; control: ControlLimitsView }) => void
}

export interface ClientToServer {
  /** Replaces the set of characteristics whose chart points this client receives. */
  watch: (ids: string[], ack: (result: { ok: true } | { ok: false; error: string }) => void) => void
}

// ——— The quality loop (issue 9): users, NC workflow, CAPA, signatures, audit trail ———
//
//   POST /api/auth/sign-in {user, password}          → SignInView (no auth; 401, 429 locked)
//   POST /api/auth/sign-out                           → 204
//   POST /api/auth/password {current, next}           → 204 (a signed-in user)
//   GET  /api/users                                   → UserView[]            (admin)
//   POST /api/users {name, printedName, role, password, reason} → UserView    (admin)
//   POST /api/users/:name/actions {action, reason, …} → UserView            (admin)
//   GET  /api/nonconformances?status=a,b&owner&overdue&characteristic&limit → NonconformanceSummary[]
//   GET  /api/nonconformances/:id                     → NonconformanceView (with its workflow)
//   POST /api/nonconformances/:id/actions {action, reason, …, signature?} → NonconformanceView
//   PUT  /api/nonconformances/:id/attachments/:name (raw body) → AttachmentView (operator)
//   GET  /api/nonconformances/:id/attachments/:name   → the file
//   GET  /api/nonconformances/:id/history.csv | history.pdf → the full history (quality-engineer)
//   GET  /api/capas?status                            → CapaView[]
//   POST /api/capas {title, kind, owner, dueAt, ncs, reason} → CapaView     (quality-engineer)
//   GET  /api/capas/:id                               → CapaView (with its effectiveness)
//   POST /api/capas/:id/actions {action, reason, …, signature?} → CapaView
//   GET  /api/capas/:id/history.csv | history.pdf
//   GET  /api/quality/kpis?from&to                    → QualityKpisView; kpis.csv → text/csv
//   GET  /api/audit?entity&id&from&to&limit           → AuditEntryView[]     (quality-engineer)
//   GET  /api/audit/verify                            → AuditVerdictView     (admin)

import type { QualityKpis } from '../rules/quality/kpis.ts'
import type {
  DispositionDecision,
  FishboneCategory,
  NcCase,
  NcSeverity,
  NcStatus as NcWorkflowStatus,
} from '../rules/quality/nc-workflow.ts'
import type {
  AuditEntryShown,
  Capa,
  CapaKind,
  CapaStatus,
  Effectiveness,
  Signature,
  SignatureMeaning,
} from '../rules/quality/shapes.ts'

export type {
  Capa,
  CapaKind,
  CapaStatus,
  DispositionDecision,
  Effectiveness,
  FishboneCategory,
  NcCase,
  NcSeverity,
  NcWorkflowStatus,
  QualityKpis,
  Signature,
  SignatureMeaning,
}

/** A signed-in user's session: its token is used as a bearer token until it expires. */
export interface SignInView {
  token: string
  /** UTC ms: the session ends after this much idleness or at the absolute limit. */
  expiresAt: number
  user: UserView
}

export interface UserView {
  name: string
  printedName: string
  role: import('../rules/quality/roles.ts').UserRole
  disabled: boolean
  createdAt: number
  passwordChangedAt: number
  /** Until when sign-in is locked after repeated failures (UTC ms), or null. */
  lockedUntil: number | null
}

/** A signature as shown with its record (§11.50): who, when, what it means, and whether it still holds. */
export interface SignatureView extends Signature {
  /** The manifest's lines, as printed with the record. */
  manifest: string[]
  /** Whether the record still hashes to what was signed (false after a later change: it signed an earlier version). */
  holds: boolean
}

export interface CommentView {
  at: number
  by: string
  text: string
}

export interface AttachmentView {
  name: string
  size: number
  sha256: string
  contentType: string
  at: number
  by: string
}

/** The workflow of an NC beside what opened it. */
export interface NcWorkflowView extends NcCase {
  /** Whether its due date has passed while it is not closed. */
  overdue: boolean
  /** The NC this one recurs (a closed NC of the same characteristic and cause), or null. */
  recurrenceOf: number | null
  /** Subgroup ids (lots, batches) of the trigger and the readings after it: the affected lots' evidence. */
  lotsSeen: string[]
  signatures: SignatureView[]
  comments: CommentView[]
  attachments: AttachmentView[]
}

/**
 * Evidence of effectiveness from the data, per characteristic of the CAPA's NCs: Cpk, Ppk and
 * NCs per day over the window before the implementation and the one after (rules/quality/capa.ts).
 */
export interface EffectivenessView extends Effectiveness {
  characteristic: string
  characteristicName: string
}

export interface CapaView extends Capa {
  overdue: boolean
  signatureViews: SignatureView[]
  comments: CommentView[]
  /** One per characteristic of the linked NCs, once implemented. */
  effectiveness: EffectivenessView[]
}

export interface AuditEntryView extends AuditEntryShown {
  before: unknown
  after: unknown
  prevHash: string
}

export type AuditVerdictView =
  | { ok: true; count: number; head: { seq: number; hash: string }; outside: string[] }
  | { ok: false; seq: number; why: string }

export type QualityKpisView = QualityKpis

/** What the quality loop tells the outside (webhooks) and the live dashboards. */
export type QualityEventType =
  | 'nc.opened'
  | 'nc.changed'
  | 'nc.closed'
  | 'nc.overdue'
  | 'capa.opened'
  | 'capa.changed'
  | 'capa.closed'
  | 'capa.due'
  | 'report.daily'

export const QUALITY_EVENT_TYPES: readonly QualityEventType[] = [
  'nc.opened',
  'nc.changed',
  'nc.closed',
  'nc.overdue',
  'capa.opened',
  'capa.changed',
  'capa.closed',
  'capa.due',
  'report.daily',
]

export interface QualityEvent {
  type: QualityEventType
  /** UTC ms of the change. */
  at: number
  /** The record: "NC-000042" or "CAPA-000007". */
  id: string
  /** Its status after the change. */
  status: string
  /** Who made the change ("system" for what the gateway did by itself), and the audit entry's sequence number. */
  actor: string
  auditSeq: number | null
  /** The action ("investigate", "close", …) for a change; null when opened. */
  action: string | null
  /** A short title ("Fill weight above the action limit"). */
  title: string
  /** `report.daily`: the files written (id "daily-2026-12-06", status "written"). */
  files?: DailyReportFile[] | undefined
}

// ——— Reports (issue 11): GET /api/reports/:kind?from&to&area&format=json|csv|pdf → Report;
//     GET /api/reports/daily → the daily files; GET /api/reports/daily/:name → one (docs/reports.md)

import type { DailyReportFile, Report, ReportKind } from '../rules/reports/shapes.ts'

export type {
  AlarmKpisReport,
  AuditTrailReport,
  AuditTrailRow,
  CapabilityReport,
  CapabilityReportRow,
  CapaStatusReport,
  NcParetoReport,
} from '../rules/reports/shapes.ts'
export type { DailyReportFile, Report, ReportKind }
