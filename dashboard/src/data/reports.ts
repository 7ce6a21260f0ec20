import {
  REPORT_KINDS,
  REPORT_ROLES,
  REPORT_TITLES,
  type ReportKind,
} from '../../../rules/reports/shapes.ts'

/**
 * The Reports page's choices (issue 11): the report kinds with their names and the role each
 * needs (rules/reports/shapes.ts, as the gateway applies them), and the preset ranges. Pure: the
 * clock arrives as an argument.
 */

/** What the audit trail's entries may be about, for its picker (all when none is picked). */
export { AUDIT_ENTITIES } from '../../../rules/quality/shapes.ts'
export type { ReportKind }
export { REPORT_KINDS, REPORT_ROLES, REPORT_TITLES }

/** Short names for the report picker. */
export const REPORT_LABELS: Readonly<Record<ReportKind, string>> = {
  capability: 'Capability',
  'nc-pareto': 'NC Pareto',
  'alarm-kpis': 'Alarm KPIs',
  'capa-status': 'CAPA status',
  'audit-trail': 'Audit trail',
}

/** The reports that take an area (a path prefix, or an operator position). */
export const AREA_REPORTS: ReadonlySet<ReportKind> = new Set(['capability', 'alarm-kpis'])

export function isReportKind(text: string | null | undefined): text is ReportKind {
  return REPORT_KINDS.includes(text as ReportKind)
}

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

export const REPORT_RANGES = [
  { key: '24h', label: 'Last 24 hours' },
  { key: 'yesterday', label: 'Yesterday' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
] as const

export type ReportRangeKey = (typeof REPORT_RANGES)[number]['key']

/**
 * [from, to) of a preset: the last 24 hours, 7 or 30 days ending now, or yesterday from local
 * midnight to local midnight (23 or 25 hours on the days the clocks change).
 */
export function reportRange(key: ReportRangeKey, now: number): { from: number; to: number } {
  switch (key) {
    case '24h':
      return { from: now - DAY_MS, to: now }
    case '7d':
      return { from: now - 7 * DAY_MS, to: now }
    case '30d':
      return { from: now - 30 * DAY_MS, to: now }
    case 'yesterday': {
      const midnight = new Date(now)
      midnight.setHours(0, 0, 0, 0)
      const before = new Date(midnight)
      before.setDate(before.getDate() - 1)
      return { from: before.getTime(), to: midnight.getTime() }
    }
  }
}

/** "capability-2026-12-05T0600Z-2026-12-06T0600Z.pdf": a download's file name. */
export function reportFileName(
  kind: ReportKind,
  from: number,
  to: number,
  format: 'csv' | 'pdf',
): string {
  const stamp = (ts: number) => `${new Date(ts).toISOString().slice(0, 16).replace(':', '')}Z`
  return `linewatch-${kind}-${stamp(from)}-${stamp(to)}.${format}`
}
