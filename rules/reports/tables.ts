import { ALARM_PRIORITIES } from '../alarms/types.ts'
import { csvCell } from '../quality/kpis.ts'
import { isoTime, MAX_TIME_MS, utcSeconds } from '../time-text.ts'
import type {
  AlarmKpisReport,
  AuditTrailReport,
  CapabilityReport,
  CapaStatusReport,
  NcParetoReport,
  Report,
} from './shapes.ts'

/**
 * Every report as tables, once: the CSV writes their columns with the raw figures, the PDF and
 * the dashboard's printable page show their display columns with the figures formatted by
 * `formatCell`. Pure; the dashboard imports it, so the page, the CSV and the PDF cannot differ.
 */

export type CellFormat =
  | 'text'
  | 'int'
  /** A capability index: two decimals. */
  | 'index'
  /** A measured quantity: six significant digits. */
  | 'number'
  | 'ppm'
  /** 0–100 → "12.5 %". */
  | 'percent'
  /** 0–1 → "12.5 %". */
  | 'share'
  /** ms → "3.2 d". */
  | 'days'
  /** ms → "4.5 min". */
  | 'minutes'
  /** UTC ms → "2026-12-06 14:03:11" (UTC). */
  | 'time'

export type Cell = string | number | null

export type Row = Record<string, Cell>

/** A column of the CSV: the row's key, its header, and whether it holds a time (written ISO 8601). */
export interface CsvColumnSpec {
  key: string
  header: string
  time?: boolean
}

/** One line of a display cell: the values of `keys` formatted and joined (e.g. bounds "1.21–1.48"). */
export interface DisplayLine {
  keys: string[]
  format: CellFormat
  join?: string
  /** Printed smaller and grey (a detail). */
  muted?: boolean
}

export interface DisplayColumn {
  header: string
  /** Relative width: the columns share the page's width in these proportions. */
  width: number
  align: 'left' | 'right'
  lines: DisplayLine[]
  /** Its text's lines and indentation kept, in a fixed-width font (a configuration's diff). */
  pre?: boolean
}

export interface ReportTable {
  id: string
  title: string
  /** Shown instead of the table when it has no rows. */
  empty: string
  csv: CsvColumnSpec[]
  display: DisplayColumn[]
  rows: Row[]
}

const DASH = '—'

function grouped(n: number): string {
  const sign = n < 0 ? '-' : ''
  return sign + String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** A figure as the PDF and the page print it (null and non-finite numbers as "—"). */
export function formatCell(value: Cell | undefined, format: CellFormat): string {
  if (value === null || value === undefined) return DASH
  if (typeof value === 'string') return value === '' ? DASH : value
  if (!Number.isFinite(value)) return DASH
  switch (format) {
    case 'text':
      return String(value)
    case 'int':
      return grouped(Math.round(value))
    case 'index':
      return value.toFixed(2)
    case 'number':
      return String(Number(value.toPrecision(6)))
    case 'ppm':
      if (value >= 100) return grouped(Math.round(value))
      if (value === 0 || value >= 0.1) return value.toFixed(1)
      return '< 0.1'
    case 'percent':
      return `${value.toFixed(1)} %`
    case 'share':
      return `${(value * 100).toFixed(1)} %`
    case 'days':
      return `${(value / 86_400_000).toFixed(1)} d`
    case 'minutes':
      return `${(value / 60_000).toFixed(1)} min`
    case 'time':
      return utcText(value)
  }
}

/** "2026-12-06 14:03:11" (UTC). */
export function utcText(ts: number): string {
  if (!Number.isFinite(ts) || Math.abs(ts) > MAX_TIME_MS) return DASH
  return utcSeconds(ts)
}

/** The lines of a display cell; a line whose values are all missing is left out (one "—" if none is left). */
export function displayLines(row: Row, column: DisplayColumn): { text: string; muted: boolean }[] {
  const lines = column.lines.flatMap((line) => {
    const values = line.keys.map((k) => (Object.hasOwn(row, k) ? row[k] : null))
    if (values.every((v) => v === null || v === undefined || v === '')) return []
    return [
      {
        text: values.map((v) => formatCell(v, line.format)).join(line.join ?? ' '),
        muted: line.muted === true,
      },
    ]
  })
  return lines.length > 0 ? lines : [{ text: DASH, muted: false }]
}

const line = (keys: string | string[], format: CellFormat, more: Partial<DisplayLine> = {}) => ({
  keys: typeof keys === 'string' ? [keys] : keys,
  format,
  ...more,
})
const bounds = (lower: string, upper: string) =>
  line([lower, upper], 'index', { join: '–', muted: true })
const col = (
  header: string,
  width: number,
  lines: DisplayLine[],
  align: 'left' | 'right' = 'right',
): DisplayColumn => ({ header, width, align, lines })
const csv = (key: string, header = key, time = false): CsvColumnSpec =>
  time ? { key, header, time } : { key, header }
const yesNo = (b: boolean) => (b ? 'yes' : 'no')

function capabilityTables(r: CapabilityReport): ReportTable[] {
  const rows: Row[] = r.rows.map((c) => {
    const k = c.capability
    const spec = [
      c.lsl === null ? null : `LSL ${c.lsl}`,
      c.usl === null ? null : `USL ${c.usl}`,
      c.target === null ? null : `T ${c.target}`,
    ]
      .filter((s) => s !== null)
      .join(' · ')
    return {
      characteristic: c.id,
      name: c.name,
      path: c.path,
      unit: c.unit,
      chart: c.chart,
      spec,
      lsl: c.lsl,
      usl: c.usl,
      target: c.target,
      n: c.n,
      truncated: yesNo(c.truncated),
      truncatedNote: c.truncated ? 'latest only' : null,
      firstTs: c.firstTs,
      lastTs: c.lastTs,
      mean: k?.mean ?? null,
      sigmaWithin: k?.sigmaWithin ?? null,
      sigmaWithinSource: c.sigmaWithinSource,
      sigmaWithinNote:
        c.subgroups === null
          ? c.sigmaWithinSource
          : `${c.sigmaWithinSource}, ${c.subgroups} subgroups`,
      subgroups: c.subgroups,
      sigmaOverall: k?.sigmaOverall ?? null,
      cp: k?.cp ?? null,
      cpLower95: k?.cpLower95 ?? null,
      cpUpper95: k?.cpUpper95 ?? null,
      cpk: k?.cpk ?? null,
      cpkLower95: k?.cpkLower95 ?? null,
      cpkUpper95: k?.cpkUpper95 ?? null,
      pp: k?.pp ?? null,
      ppLower95: c.ppLower95,
      ppUpper95: c.ppUpper95,
      ppk: k?.ppk ?? null,
      ppkLower95: c.ppkLower95,
      ppkUpper95: c.ppkUpper95,
      cpm: k?.cpm ?? null,
      expectedPpm: k?.expectedPpm ?? null,
      expectedPpmWithin: k?.expectedPpmWithin ?? null,
      observedPpm: k?.observedPpm ?? null,
      signals: c.signals,
      lastSignalTs: c.lastSignal?.ts ?? null,
      lastSignalRules: c.lastSignal?.rules.join(' ') ?? null,
      verdict: c.verdict.verdict,
      verdictWords: c.verdict.words,
    }
  })
  const table: ReportTable = {
    id: 'capability',
    title: 'Capability per characteristic',
    empty: 'No characteristic with specification limits.',
    csv: [
      csv('characteristic'),
      csv('name'),
      csv('path'),
      csv('unit'),
      csv('chart'),
      csv('lsl'),
      csv('usl'),
      csv('target'),
      csv('n'),
      csv('truncated'),
      csv('firstTs', 'first reading', true),
      csv('lastTs', 'last reading', true),
      csv('mean'),
      csv('sigmaWithin', 'sigma within'),
      csv('sigmaWithinSource', 'sigma within from'),
      csv('subgroups'),
      csv('sigmaOverall', 'sigma overall'),
      csv('cp'),
      csv('cpLower95', 'cp lower 95%'),
      csv('cpUpper95', 'cp upper 95%'),
      csv('cpk'),
      csv('cpkLower95', 'cpk lower 95%'),
      csv('cpkUpper95', 'cpk upper 95%'),
      csv('pp'),
      csv('ppLower95', 'pp lower 95%'),
      csv('ppUpper95', 'pp upper 95%'),
      csv('ppk'),
      csv('ppkLower95', 'ppk lower 95%'),
      csv('ppkUpper95', 'ppk upper 95%'),
      csv('cpm'),
      csv('expectedPpm', 'expected ppm'),
      csv('expectedPpmWithin', 'expected ppm within'),
      csv('observedPpm', 'observed ppm'),
      csv('signals'),
      csv('lastSignalTs', 'last signal', true),
      csv('lastSignalRules', 'last signal rules'),
      csv('verdict'),
      csv('verdictWords', 'verdict words'),
    ],
    display: [
      col(
        'Characteristic',
        17,
        [
          line('name', 'text'),
          line('characteristic', 'text', { muted: true }),
          line('spec', 'text', { muted: true }),
        ],
        'left',
      ),
      col('n', 6, [line('n', 'int'), line('truncatedNote', 'text', { muted: true })]),
      col('Mean', 8, [line('mean', 'number'), line('unit', 'text', { muted: true })]),
      col('σ within', 8, [
        line('sigmaWithin', 'number'),
        line('sigmaWithinNote', 'text', { muted: true }),
      ]),
      col('σ overall', 7, [line('sigmaOverall', 'number')]),
      col('Cp (95%)', 7, [line('cp', 'index'), bounds('cpLower95', 'cpUpper95')]),
      col('Cpk (95%)', 7, [line('cpk', 'index'), bounds('cpkLower95', 'cpkUpper95')]),
      col('Pp (95%)', 7, [line('pp', 'index'), bounds('ppLower95', 'ppUpper95')]),
      col('Ppk (95%)', 7, [line('ppk', 'index'), bounds('ppkLower95', 'ppkUpper95')]),
      col('PPM exp. / obs.', 8, [line('expectedPpm', 'ppm'), line('observedPpm', 'ppm')]),
      col('Signals', 6, [line('signals', 'int'), line('lastSignalRules', 'text', { muted: true })]),
      col('Verdict', 16, [line('verdictWords', 'text')], 'left'),
    ],
    rows,
  }
  const skipped: ReportTable = {
    id: 'skipped',
    title: 'Left out',
    empty: 'None.',
    csv: [csv('characteristic'), csv('name'), csv('reason')],
    display: [
      col(
        'Characteristic',
        1,
        [line('name', 'text'), line('characteristic', 'text', { muted: true })],
        'left',
      ),
      col('Why', 2, [line('reason', 'text')], 'left'),
    ],
    rows: r.skipped.map((s) => ({ characteristic: s.id, name: s.name, reason: s.reason })),
  }
  return r.skipped.length > 0 ? [table, skipped] : [table]
}

function summary(id: string, figures: [string, Cell, CellFormat][]): ReportTable {
  return {
    id,
    title: 'Summary',
    empty: '',
    csv: [csv('figure'), csv('value')],
    display: [
      col('Figure', 3, [line('figure', 'text')], 'left'),
      col('Value', 1, [line('shown', 'text')]),
    ],
    rows: figures.map(([figure, value, format]) => ({
      figure,
      value,
      shown: formatCell(value, format),
    })),
  }
}

/** A table of counts: a name (`key`, shown under `header`) and its count. */
function counts<K extends string>(
  id: string,
  title: string,
  empty: string,
  [key, header, countHeader]: [K, string, string],
  rows: readonly (Record<K, string> & { count: number })[],
): ReportTable {
  return {
    id,
    title,
    empty,
    csv: [csv(key), csv('count')],
    display: [
      col(header, 3, [line(key, 'text')], 'left'),
      col(countHeader, 1, [line('count', 'int')]),
    ],
    rows: rows.map((r) => ({ [key]: r[key], count: r.count })),
  }
}

const paretoDisplay = (first: DisplayColumn): DisplayColumn[] => [
  first,
  col('Count', 1, [line('count', 'int')]),
  col('Share', 1, [line('percent', 'percent')]),
  col('Cumulative', 1, [line('cumulativePercent', 'percent')]),
]

function paretoTables(r: NcParetoReport): ReportTable[] {
  return [
    summary('summary', [
      ['NCs opened in the range', r.opened, 'int'],
      ['of them recurrences of a closed NC', r.recurrences, 'int'],
      ['recurrence rate', r.recurrenceRate, 'share'],
    ]),
    {
      id: 'by-cause',
      title: 'NCs by cause',
      empty: 'No NC opened in the range.',
      csv: [
        csv('cause'),
        csv('count'),
        csv('percent'),
        csv('cumulativePercent', 'cumulative percent'),
      ],
      display: paretoDisplay(col('Cause', 3, [line('cause', 'text')], 'left')),
      rows: r.byCause.map((p) => ({
        cause: p.name,
        count: p.count,
        percent: p.percent,
        cumulativePercent: p.cumulativePercent,
      })),
    },
    {
      id: 'by-characteristic',
      title: 'NCs by characteristic',
      empty: 'No NC opened in the range.',
      csv: [
        csv('characteristic'),
        csv('name'),
        csv('count'),
        csv('percent'),
        csv('cumulativePercent', 'cumulative percent'),
      ],
      display: paretoDisplay(
        col(
          'Characteristic',
          3,
          [line('name', 'text'), line('characteristic', 'text', { muted: true })],
          'left',
        ),
      ),
      rows: r.byCharacteristic.map((p) => ({
        characteristic: p.name,
        name: p.characteristicName,
        count: p.count,
        percent: p.percent,
        cumulativePercent: p.cumulativePercent,
      })),
    },
  ]
}

function alarmTables(r: AlarmKpisReport): ReportTable[] {
  const areas = r.kpis.areas
  const priorityKeys = ALARM_PRIORITIES.map((p) => `priority ${p}`)
  return [
    {
      id: 'areas',
      title: 'Per area',
      empty: 'No alarms are configured in the range asked for.',
      csv: [
        csv('area'),
        csv('alarms'),
        csv('per10Mean', 'per 10 min mean'),
        csv('per10Max', 'per 10 min max'),
        csv('floodPercent', 'flood percent'),
        csv('standing'),
        csv('chattering'),
        csv('meanTimeToAcknowledgeMs', 'mean time to acknowledge ms'),
        ...ALARM_PRIORITIES.map((p, i) => csv(priorityKeys[i] as string, `share ${p}`)),
      ],
      display: [
        col('Area', 4, [line('area', 'text')], 'left'),
        col('Alarms', 1.3, [line('alarms', 'int')]),
        col('Per 10 min (mean / max)', 2, [
          line(['per10MeanShown', 'per10Max'], 'text', { join: ' / ' }),
        ]),
        col('Flood', 1.3, [line('floodPercent', 'percent')]),
        col('Standing', 1.3, [line('standing', 'int')]),
        col('Chattering', 1.5, [line('chattering', 'int')]),
        col('Mean time to ack.', 1.8, [line('meanTimeToAcknowledgeMs', 'minutes')]),
        col('Priorities', 2.6, [line('prioritiesShown', 'text')], 'left'),
      ],
      rows: areas.map((a) => {
        const row: Row = {
          area: a.area,
          alarms: a.alarms,
          per10Mean: a.per10Minutes.mean,
          per10MeanShown: a.per10Minutes.mean.toFixed(2),
          per10Max: a.per10Minutes.max,
          floodPercent: a.floodPercent,
          standing: a.standing.length,
          chattering: a.chattering.length,
          meanTimeToAcknowledgeMs: a.meanTimeToAcknowledgeMs,
          prioritiesShown:
            a.alarms === 0
              ? null
              : ALARM_PRIORITIES.filter((p) => a.priorities[p] > 0)
                  .map((p) => `${p} ${formatCell(a.priorities[p], 'share')}`)
                  .join(', '),
        }
        ALARM_PRIORITIES.forEach((p, i) => {
          row[priorityKeys[i] as string] = a.priorities[p]
        })
        return row
      }),
    },
    {
      id: 'bad-actors',
      title: 'Bad actors (most activations)',
      empty: 'No alarm activated in the range.',
      csv: [csv('area'), csv('alarm'), csv('activations')],
      display: [
        col('Area', 2, [line('area', 'text')], 'left'),
        col('Alarm', 3, [line('alarm', 'text')], 'left'),
        col('Activations', 1, [line('activations', 'int')]),
      ],
      rows: areas.flatMap((a) =>
        a.badActors.map((b) => ({ area: a.area, alarm: b.alarm, activations: b.activations })),
      ),
    },
    {
      id: 'standing-chattering',
      title: 'Standing and chattering alarms',
      empty: 'None.',
      csv: [csv('area'), csv('alarm'), csv('kind')],
      display: [
        col('Area', 2, [line('area', 'text')], 'left'),
        col('Alarm', 3, [line('alarm', 'text')], 'left'),
        col('Kind', 1, [line('kind', 'text')], 'left'),
      ],
      rows: areas.flatMap((a) => [
        ...a.standing.map((alarm) => ({ area: a.area, alarm, kind: 'standing' })),
        ...a.chattering.map((alarm) => ({ area: a.area, alarm, kind: 'chattering' })),
      ]),
    },
  ]
}

function capaTables(r: CapaStatusReport): ReportTable[] {
  return [
    summary('summary', [
      ['CAPAs open now', r.open, 'int'],
      ['of them overdue', r.overdue, 'int'],
      ['opened in the range', r.opened, 'int'],
      ['closed in the range', r.closed, 'int'],
      ['mean time to close (closed in the range)', r.meanTimeToCloseMs, 'days'],
    ]),
    counts('by-status', 'By status now', '', ['status', 'Status', 'Count'], r.byStatus),
    {
      id: 'capas',
      title: 'CAPAs not closed, and closed in the range',
      empty: 'None.',
      csv: [
        csv('capa'),
        csv('title'),
        csv('kind'),
        csv('owner'),
        csv('status'),
        csv('openedAt', 'opened', true),
        csv('dueAt', 'due', true),
        csv('closedAt', 'closed', true),
        csv('overdue'),
        csv('effectiveness'),
      ],
      display: [
        col('CAPA', 3.2, [line('capa', 'text'), line('title', 'text', { muted: true })], 'left'),
        col('Kind', 1.3, [line('kind', 'text')], 'left'),
        col('Owner', 1.3, [line('owner', 'text')], 'left'),
        col('Status', 1.4, [line('status', 'text'), line('overdueNote', 'text')], 'left'),
        col('Opened (UTC)', 1.7, [line('openedAt', 'time')], 'left'),
        col('Due (UTC)', 1.7, [line('dueAt', 'time')], 'left'),
        col('Closed (UTC)', 1.7, [line('closedAt', 'time')], 'left'),
        col('Effectiveness', 2.4, [line('effectiveness', 'text')], 'left'),
      ],
      rows: r.capas.map((c) => ({
        capa: c.id,
        title: c.title,
        kind: c.kind,
        owner: c.owner,
        status: c.status,
        openedAt: c.openedAt,
        dueAt: c.dueAt,
        closedAt: c.closedAt,
        overdue: yesNo(c.overdue),
        overdueNote: c.overdue ? 'overdue' : null,
        effectiveness: c.effectiveness.map((e) => `${e.characteristic}: ${e.verdict}`).join('; '),
      })),
    },
  ]
}

function auditTables(r: AuditTrailReport): ReportTable[] {
  return [
    summary('summary', [
      ['entries listed', r.entries.length, 'int'],
      ['more entries in the range than listed', yesNo(r.truncated), 'text'],
    ]),
    counts(
      'by-entity',
      'Entries by what they are about',
      'None.',
      ['entity', 'Entity', 'Entries'],
      r.byEntity,
    ),
    {
      id: 'entries',
      title: 'Entries, oldest first',
      empty: 'No entries in the range.',
      csv: [
        csv('seq'),
        csv('at', 'at', true),
        csv('actor'),
        csv('action'),
        csv('entity'),
        csv('entityId'),
        csv('reason'),
        csv('changes'),
        csv('hash'),
      ],
      display: [
        col('#', 0.7, [line('seq', 'text')]),
        col('Time (UTC)', 1.6, [line('at', 'time')], 'left'),
        col('Who', 1.2, [line('actor', 'text')], 'left'),
        col('What', 2, [line('action', 'text'), line('record', 'text', { muted: true })], 'left'),
        col('Reason', 2.2, [line('reason', 'text')], 'left'),
        { ...col('Changes', 4.3, [line('changes', 'text')], 'left'), pre: true },
      ],
      rows: r.entries.map((e) => ({
        seq: String(e.seq),
        at: e.at,
        actor: e.actor,
        action: e.action,
        entity: e.entity,
        entityId: e.entityId,
        record: `${e.entity} ${e.entityId}`,
        reason: e.reason,
        changes: e.changes.join('\n'),
        hash: e.hash,
      })),
    },
  ]
}

/** The report's tables, in the order they are printed. */
export function reportTables(report: Report): ReportTable[] {
  switch (report.kind) {
    case 'capability':
      return capabilityTables(report)
    case 'nc-pareto':
      return paretoTables(report)
    case 'alarm-kpis':
      return alarmTables(report)
    case 'capa-status':
      return capaTables(report)
    case 'audit-trail':
      return auditTables(report)
  }
}

/**
 * The lines under a report's title: the plant, the range, the area or what the entries are about,
 * and when it was made (UTC).
 */
export function reportSubtitle(report: Report): string[] {
  const area = 'area' in report && report.area ? [`Area: ${report.area}`] : []
  const entity = 'entity' in report && report.entity ? [`About: ${report.entity}`] : []
  return [
    report.plant,
    `${utcText(report.from)} to ${utcText(report.to)} UTC`,
    ...area,
    ...entity,
    `Made ${utcText(report.generatedAt)} UTC by linewatch`,
  ]
}

/**
 * The report as CSV (RFC 4180, CRLF, UTF-8 with a byte order mark for spreadsheets): a first
 * table of what the report is (report, plant, from, to, generated, area, notes), then each of
 * its tables after a blank line, as a line with the table's title and its header line and
 * rows. Figures are written in full precision, times in ISO 8601 UTC; cells are guarded against
 * formula injection (csvCell).
 */
export function reportCsv(report: Report): string {
  const iso = isoTime
  const head: [string, string][] = [
    ['report', report.kind],
    ['title', report.title],
    ['plant', report.plant],
    ['from', iso(report.from)],
    ['to', iso(report.to)],
    ['generated', iso(report.generatedAt)],
  ]
  if ('area' in report) head.push(['area', report.area ?? ''])
  if ('entity' in report) head.push(['entity', report.entity ?? ''])
  for (const note of report.notes) head.push(['note', note])
  const lines: string[] = [
    ['field', 'value'].join(','),
    ...head.map(([k, v]) => `${csvCell(k)},${csvCell(v)}`),
  ]
  for (const table of reportTables(report)) {
    lines.push('', csvCell(table.title), table.csv.map((c) => csvCell(c.header)).join(','))
    for (const row of table.rows) {
      lines.push(
        table.csv
          .map((c) => {
            const v = Object.hasOwn(row, c.key) ? row[c.key] : null
            return csvCell(c.time && typeof v === 'number' ? iso(v) : (v ?? null))
          })
          .join(','),
      )
    }
  }
  return `\uFEFF${lines.map((l) => `${l}\r\n`).join('')}`
}
