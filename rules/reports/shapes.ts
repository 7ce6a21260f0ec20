/**
 * The shapes of the reports (issue 11): plain data, no logic, so that the dashboard (a browser
 * bundle) can name them too. Every report covers a range [from, to) of UTC milliseconds and
 * says when it was made; its figures come from the gateway's own services (docs/reports.md).
 */

import type { AlarmKpisView } from '../alarms/kpis.ts'
import type { Capability, CapabilityVerdict } from '../capability.ts'
import type { ParetoRow } from '../quality/kpis.ts'
import type { UserRole } from '../quality/roles.ts'
import type { AuditEntryShown, CapaKind, CapaStatus, Effectiveness } from '../quality/shapes.ts'
import type { ChartType, SigmaMethod } from '../spec.ts'

export type ReportKind = 'capability' | 'nc-pareto' | 'alarm-kpis' | 'capa-status' | 'audit-trail'

export const REPORT_KINDS: readonly ReportKind[] = [
  'capability',
  'nc-pareto',
  'alarm-kpis',
  'capa-status',
  'audit-trail',
]

export type ReportFormat = 'json' | 'csv' | 'pdf'

export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'csv', 'pdf']

export const REPORT_TITLES: Readonly<Record<ReportKind, string>> = {
  capability: 'Capability summary',
  'nc-pareto': 'Nonconformances: Pareto by cause and characteristic',
  'alarm-kpis': 'Alarm-system health (EEMUA 191)',
  'capa-status': 'CAPA status',
  'audit-trail': 'Audit trail',
}

/**
 * Who may read each report: the capability summary and the alarm KPIs a viewer (the live
 * capability and GET /api/alarm-kpis are a viewer's), the NC Pareto, the CAPA status and the
 * audit trail a quality engineer (as GET /api/quality/kpis and GET /api/audit). The daily
 * files hold both: a quality engineer's.
 */
export const REPORT_ROLES: Readonly<Record<ReportKind, UserRole>> = {
  capability: 'viewer',
  'alarm-kpis': 'viewer',
  'nc-pareto': 'quality-engineer',
  'capa-status': 'quality-engineer',
  'audit-trail': 'quality-engineer',
}

interface ReportBase {
  kind: ReportKind
  /** What the report is, e.g. "Capability summary". */
  title: string
  /** The plant (the configuration's `title`). */
  plant: string
  /** The range, [from, to), UTC ms. */
  from: number
  to: number
  /** When it was made, UTC ms. */
  generatedAt: number
  /** Caveats: truncated data, what was left out and why. */
  notes: string[]
}

/**
 * How σ within was found for a characteristic over the range:
 * - `mr`: MR̄/d2(2), the moving ranges of the range's readings in time order (I-MR, and EWMA or
 *   CUSUM on individuals);
 * - `rbar`, `sbar`, `pooled`: the chart's estimator (rules/estimate.ts) over the subgroups whose
 *   chart points fall in the range, from their R or S pane and size (X̄-R, X̄-S);
 * - `chart`: the σ of the chart's limits in force now (the live panel's σ), where the range's
 *   stored points carry no dispersion (EWMA or CUSUM on subgroups, X̄-R with sbar or pooled);
 * - `none`: no σ within (limits not established, or no variation): Cp and Cpk are null.
 */
export type SigmaWithinSource = SigmaMethod | 'chart' | 'none'

export interface CapabilityReportRow {
  id: string
  name: string
  path: string
  unit: string
  chart: ChartType
  lsl: number | null
  usl: number | null
  target: number | null
  /** Readings in the range (individual values; every index's n). */
  n: number
  /**
   * More readings than a report reads per characteristic were in the range: the latest
   * `n` were used, from `firstTs`.
   */
  truncated: boolean
  /** The first and last reading used, UTC ms (null without readings). */
  firstTs: number | null
  lastTs: number | null
  sigmaWithinSource: SigmaWithinSource
  /** Subgroups (chart points) σ within came from (rbar, sbar, pooled); else null. */
  subgroups: number | null
  /** Null with fewer than two readings. */
  capability: Capability | null
  /** 95% bounds of Pp (χ², ν = n − 1) and Ppk (Bissell), the same forms as Cp and Cpk's. */
  ppLower95: number | null
  ppUpper95: number | null
  ppkLower95: number | null
  ppkUpper95: number | null
  /** Chart points in the range that completed a run rule or a CUSUM signal. */
  signals: number
  /** The latest of them, or null. */
  lastSignal: { ts: number; index: number; rules: string[] } | null
  verdict: CapabilityVerdict
}

export interface CapabilityReport extends ReportBase {
  kind: 'capability'
  /** The characteristics' path prefix asked for, or null for all. */
  area: string | null
  rows: CapabilityReportRow[]
  /** Characteristics left out (no specification limits, an attributes chart), and why. */
  skipped: { id: string; name: string; reason: string }[]
}

export interface NcParetoReport extends ReportBase {
  kind: 'nc-pareto'
  /** NCs opened in the range, and of those, recurrences of a closed NC. */
  opened: number
  recurrences: number
  recurrenceRate: number | null
  byCause: ParetoRow[]
  /** By characteristic, each with its name (the id when it is no longer configured). */
  byCharacteristic: (ParetoRow & { characteristicName: string })[]
}

export interface AlarmKpisReport extends ReportBase {
  kind: 'alarm-kpis'
  area: string | null
  kpis: AlarmKpisView
}

export interface CapaStatusRow {
  id: string
  title: string
  kind: CapaKind
  owner: string
  status: CapaStatus
  openedAt: number
  dueAt: number
  closedAt: number | null
  overdue: boolean
  /** The verification of effectiveness from the data, per characteristic (once implemented). */
  effectiveness: { characteristic: string; verdict: Effectiveness['verdict'] }[]
}

export interface CapaStatusReport extends ReportBase {
  kind: 'capa-status'
  /** The time the statuses are judged at (the report's generation). */
  now: number
  /** Every CAPA by status now, in workflow order (zeros included). */
  byStatus: { status: CapaStatus; count: number }[]
  /** Not closed now, and of those, past their due date. */
  open: number
  overdue: number
  /** Opened and closed in the range; mean time to close over those closed in it (ms). */
  opened: number
  closed: number
  meanTimeToCloseMs: number | null
  /** The CAPAs not closed now, and those closed in the range: oldest first. */
  capas: CapaStatusRow[]
}

/** One entry of the audit trail as the report lists it, and what it changed. */
export interface AuditTrailRow extends AuditEntryShown {
  /** One line each (rules/quality/audit-changes.ts), nothing cut. */
  changes: string[]
}

/**
 * The audit trail's entries of the range, oldest first, for its periodic review (EU GMP Annex
 * 11 §9): at most MAX_AUDIT_REPORT_ENTRIES; `truncated` when the range held more.
 */
export interface AuditTrailReport extends ReportBase {
  kind: 'audit-trail'
  /** Only the entries about this (`config`, `user`, `nc`…), or null for all. */
  entity: string | null
  entries: AuditTrailRow[]
  truncated: boolean
  /** Entries listed per entity ("nc", "capa", "config", "user"…), most first. */
  byEntity: { entity: string; count: number }[]
}

/** The most entries an audit-trail report lists: a month of a busy plant's trail. */
export const MAX_AUDIT_REPORT_ENTRIES = 20_000

export type Report =
  | CapabilityReport
  | NcParetoReport
  | AlarmKpisReport
  | CapaStatusReport
  | AuditTrailReport

/** The files of one daily report run, as the webhook `report.daily` names them. */
export interface DailyReportFile {
  /** e.g. "daily-2026-12-06-capability.pdf" */
  name: string
  kind: ReportKind
  format: 'pdf' | 'csv'
  bytes: number
  /** The API path that serves it (GET, role quality-engineer). */
  path: string
}
