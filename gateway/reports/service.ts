import { ATTRIBUTES_CHARTS, DEFAULT_CAPABILITY_POLICY } from '../../rules/index.ts'
import { auditChangeLines } from '../../rules/quality/audit-changes.ts'
import { CAPA_STATUSES } from '../../rules/quality/shapes.ts'
import { rangeCapability } from '../../rules/reports/capability.ts'
import {
  type AlarmKpisReport,
  type AuditTrailReport,
  type CapabilityReport,
  type CapabilityReportRow,
  type CapaStatusReport,
  MAX_AUDIT_REPORT_ENTRIES,
  type NcParetoReport,
  REPORT_TITLES,
  type Report,
  type ReportKind,
} from '../../rules/reports/shapes.ts'
import type { AlarmService } from '../alarms/index.ts'
import type { CharacteristicRuntime } from '../pipeline/runtime.ts'
import type { AuditTrail, QualityService } from '../quality/index.ts'
import type { RangeQuery, TimeSeriesStore } from '../store/types.ts'

/**
 * The reports' figures from the gateway's services (issue 11, docs/reports.md): capability from
 * the stored readings and chart points of the range, the NC Pareto and the CAPA figures from
 * the quality service, the alarm KPIs from the alarm service. One report is computed at a time
 * (the others wait), and a characteristic's readings are read up to `maxReadings` (the latest
 * of the range), so a report's memory is bounded by what one characteristic holds.
 */

export interface ReportSources {
  /** The plant's name (the configuration's title). */
  title: string
  pipeline: {
    runtimes(): IterableIterator<CharacteristicRuntime>
    runtime(id: string): CharacteristicRuntime | undefined
  }
  store: Pick<TimeSeriesStore, 'readings' | 'chartPoints'>
  alarms: Pick<AlarmService, 'kpis'>
  /** Absent when the quality loop does not run: the NC and CAPA reports are then refused. */
  quality?: Pick<QualityService, 'kpis' | 'capas'> | undefined
  /** Absent with the quality loop: the audit-trail report is then refused. */
  audit?: Pick<AuditTrail, 'list'> | undefined
  now?: () => number
  /** Readings (and chart points) read per characteristic; default MAX_REPORT_READINGS. */
  maxReadings?: number
}

export interface ReportRequest {
  from: number
  to: number
  /** Capability and alarm KPIs: an ISA-95 path prefix ("Plant/Filling"); absent for all. */
  area?: string | undefined
  /** The audit trail: only the entries about this entity ("config", "nc"…); absent for all. */
  entity?: string | undefined
}

export interface ReportService {
  build(kind: ReportKind, request: ReportRequest): Promise<Report>
}

/** Readings a report reads per characteristic: a week at 1 Hz is 604,800. */
export const MAX_REPORT_READINGS = 1_000_000

/** The report of a kind asked for that cannot be made here (no quality loop). */
export class ReportUnavailable extends Error {}

/** Rows a store query aims at: about 60 ms of the time-series writer's time (it also commits). */
const ROWS_PER_QUERY = 20_000
const MIN_WINDOW_MS = 60_000
const MAX_WINDOW_MS = 30 * 86_400_000

/**
 * The latest `cap` rows of [from, to), read newest first in time windows sized to hold about
 * ROWS_PER_QUERY rows each: the store's queries run on its writer thread, and one query of a
 * week at 1 Hz (~2 s) would hold its commits (and with them the acknowledgements) that long;
 * between windows they go on. `truncated` when the range held more than `cap`.
 */
export async function latest<K extends 'readings' | 'chartPoints'>(
  store: Pick<TimeSeriesStore, K>,
  kind: K,
  characteristic: string,
  from: number,
  to: number,
  cap: number,
): Promise<{ rows: Awaited<ReturnType<TimeSeriesStore[K]>>; truncated: boolean }> {
  type Row = Awaited<ReturnType<TimeSeriesStore[K]>>[number]
  const query = store[kind] as unknown as (q: RangeQuery) => Promise<Row[]>
  const parts: Row[][] = []
  let total = 0
  let end = to
  let window = 6 * 3_600_000
  while (end > from && total <= cap) {
    const start = Math.max(from, end - window)
    // The store's bounds are inclusive; the range is [from, to).
    const rows = await query.call(store, {
      characteristic,
      from: start,
      to: end - 1,
      limit: cap + 1 - total,
    })
    parts.unshift(rows)
    total += rows.length
    end = start
    const scale = ROWS_PER_QUERY / Math.max(rows.length, 1)
    window = Math.min(
      MAX_WINDOW_MS,
      Math.max(MIN_WINDOW_MS, Math.round(window * Math.min(scale, 8))),
    )
  }
  const rows = parts.flat()
  const truncated = total > cap
  return {
    rows: (truncated ? rows.slice(rows.length - cap) : rows) as Awaited<
      ReturnType<TimeSeriesStore[K]>
    >,
    truncated,
  }
}

const inArea = (path: string, area: string | undefined) =>
  !area || path === area || path.startsWith(`${area}/`)

export function createReportService(sources: ReportSources): ReportService {
  const now = sources.now ?? Date.now
  const maxReadings = sources.maxReadings ?? MAX_REPORT_READINGS
  let queue: Promise<unknown> = Promise.resolve()

  const base = <K extends ReportKind>(kind: K, r: ReportRequest) => ({
    kind,
    title: REPORT_TITLES[kind],
    plant: sources.title,
    from: r.from,
    to: r.to,
    generatedAt: now(),
    notes: [] as string[],
  })

  function quality(): NonNullable<ReportSources['quality']> {
    if (!sources.quality) throw new ReportUnavailable('the quality loop does not run here')
    return sources.quality
  }

  async function capabilityRow(
    rt: CharacteristicRuntime,
    r: ReportRequest,
  ): Promise<CapabilityReportRow> {
    const c = rt.config
    const read = await latest(sources.store, 'readings', c.id, r.from, r.to, maxReadings)
    const readings = read.rows
    const truncated = read.truncated
    // The points of the readings used: from the first of them when the readings were cut.
    const pointsFrom = truncated ? (readings[0]?.ts ?? r.from) : r.from
    const points = (await latest(sources.store, 'chartPoints', c.id, pointsFrom, r.to, maxReadings))
      .rows
    const spec = rt.spec.specLimits ?? {}
    const found = rangeCapability({
      chart: rt.spec.chart,
      spec,
      policy: rt.spec.capability ?? DEFAULT_CAPABILITY_POLICY,
      readings,
      points,
      chartSigma: rt.state.chart.limits?.sigma ?? null,
    })
    return {
      id: c.id,
      name: c.name,
      path: c.path,
      unit: c.unit,
      chart: rt.spec.chart.type,
      lsl: spec.lsl ?? null,
      usl: spec.usl ?? null,
      target: spec.target ?? null,
      truncated,
      ...found,
    }
  }

  async function capabilityReport(r: ReportRequest): Promise<CapabilityReport> {
    const report: CapabilityReport = {
      ...base('capability', r),
      area: r.area ?? null,
      rows: [],
      skipped: [],
    }
    for (const rt of sources.pipeline.runtimes()) {
      const c = rt.config
      if (!inArea(c.path, r.area)) continue
      if (ATTRIBUTES_CHARTS.has(rt.spec.chart.type)) {
        const reason = `an attributes chart (${rt.spec.chart.type}): capability needs measured values`
        report.skipped.push({ id: c.id, name: c.name, reason })
        continue
      }
      if (
        !rt.spec.specLimits ||
        (rt.spec.specLimits.lsl === undefined && rt.spec.specLimits.usl === undefined)
      ) {
        report.skipped.push({ id: c.id, name: c.name, reason: 'no specification limits' })
        continue
      }
      report.rows.push(await capabilityRow(rt, r))
    }
    const cut = report.rows.filter((row) => row.truncated)
    if (cut.length > 0)
      report.notes.push(
        `more than ${maxReadings.toLocaleString('en-US')} readings in the range for ${cut.map((row) => row.id).join(', ')}: the latest ${maxReadings.toLocaleString('en-US')} were used (see each one's first reading)`,
      )
    report.notes.push(
      'σ within: the chart’s estimator over the range (mr: MR̄/d2(2) of consecutive readings; rbar, sbar, pooled: the subgroups of the range’s chart points), else the σ of the chart’s limits in force (chart). Verdict: a chart point of the range that signalled makes it "not in statistical control — capability indices are not a prediction".',
    )
    return report
  }

  async function paretoReport(r: ReportRequest): Promise<NcParetoReport> {
    const k = await quality().kpis(r.from, r.to)
    const names = (id: string) => sources.pipeline.runtime(id)?.config.name ?? id
    return {
      ...base('nc-pareto', r),
      opened: k.ncs.opened,
      recurrences: k.ncs.recurrences,
      recurrenceRate: k.ncs.recurrenceRate,
      byCause: k.paretoByCause,
      byCharacteristic: k.paretoByCharacteristic.map((p) => ({
        ...p,
        characteristicName: names(p.name),
      })),
    }
  }

  async function alarmReport(r: ReportRequest): Promise<AlarmKpisReport> {
    const kpis = await sources.alarms.kpis({ from: r.from, to: r.to, area: r.area })
    return { ...base('alarm-kpis', r), area: r.area ?? null, kpis }
  }

  async function capaReport(r: ReportRequest): Promise<CapaStatusReport> {
    const q = quality()
    const [capas, k] = [await q.capas(), await q.kpis(r.from, r.to)]
    const at = now()
    const counts = new Map(CAPA_STATUSES.map((s) => [s, 0]))
    for (const capa of capas) counts.set(capa.status, (counts.get(capa.status) ?? 0) + 1)
    const listed = capas
      .filter(
        (c) =>
          c.status !== 'closed' ||
          (c.closedAt !== null && c.closedAt >= r.from && c.closedAt < r.to),
      )
      .sort((a, b) => a.openedAt - b.openedAt || (a.id < b.id ? -1 : 1))
    return {
      ...base('capa-status', r),
      now: at,
      byStatus: CAPA_STATUSES.map((status) => ({ status, count: counts.get(status) ?? 0 })),
      open: capas.filter((c) => c.status !== 'closed').length,
      overdue: capas.filter((c) => c.overdue).length,
      opened: k.capas.opened,
      closed: k.capas.closed,
      meanTimeToCloseMs: k.capas.meanTimeToCloseMs,
      capas: listed.map((c) => ({
        id: c.id,
        title: c.title,
        kind: c.kind,
        owner: c.owner,
        status: c.status,
        openedAt: c.openedAt,
        dueAt: c.dueAt,
        closedAt: c.closedAt,
        overdue: c.overdue,
        effectiveness: c.effectiveness.map((e) => ({
          characteristic: e.characteristic,
          verdict: e.verdict,
        })),
      })),
    }
  }

  async function auditReport(r: ReportRequest): Promise<AuditTrailReport> {
    if (!sources.audit) throw new ReportUnavailable('the quality loop does not run here')
    const listed = await sources.audit.list({
      entity: r.entity,
      from: r.from,
      to: r.to,
      limit: MAX_AUDIT_REPORT_ENTRIES + 1,
    })
    const truncated = listed.length > MAX_AUDIT_REPORT_ENTRIES
    const entries = truncated ? listed.slice(0, MAX_AUDIT_REPORT_ENTRIES) : listed
    const counts = new Map<string, number>()
    for (const e of entries) counts.set(e.entity, (counts.get(e.entity) ?? 0) + 1)
    const report: AuditTrailReport = {
      ...base('audit-trail', r),
      entity: r.entity ?? null,
      entries: entries.map(({ before, after, prevHash: _, ...shown }) => ({
        ...shown,
        changes: auditChangeLines({ before, after }),
      })),
      truncated,
      byEntity: [...counts]
        .map(([entity, count]) => ({ entity, count }))
        .sort((a, b) => b.count - a.count || (a.entity < b.entity ? -1 : 1)),
    }
    if (truncated)
      report.notes.push(
        `More than ${MAX_AUDIT_REPORT_ENTRIES.toLocaleString('en')} entries in the range: the first ${MAX_AUDIT_REPORT_ENTRIES.toLocaleString('en')} are listed; ask for the rest with a range from the last one's time.`,
      )
    report.notes.push(
      'The entries as recorded, oldest first. Whether the chain of hashes holds (nothing edited, removed or cut off) is what `linewatch audit verify` and GET /api/audit/verify (admin) check; each entry’s hash is in the CSV.',
    )
    return report
  }

  function make(kind: ReportKind, r: ReportRequest): Promise<Report> {
    switch (kind) {
      case 'capability':
        return capabilityReport(r)
      case 'nc-pareto':
        return paretoReport(r)
      case 'alarm-kpis':
        return alarmReport(r)
      case 'capa-status':
        return capaReport(r)
      case 'audit-trail':
        return auditReport(r)
    }
  }

  return {
    build(kind, request) {
      const run = queue.then(() => make(kind, request))
      queue = run.catch(() => {})
      return run
    },
  }
}
