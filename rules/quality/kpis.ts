/**
 * The quality manager's figures (issue 9) from the NCs and CAPAs, at a time `now` and over a
 * range [from, to). Pure; the lists are the records as they stand.
 *
 * - Open at `now`: opened at or before `now` and not closed by then (closedAt null or later).
 *   Overdue: open and `dueAt < now` (as isOverdue in nc-workflow.ts).
 * - Mean time to close: over those closed in [from, to), the mean of closedAt − openedAt (ms);
 *   null when none closed in the range. A reopened NC counts with its last closure.
 * - Recurrence rate: of the NCs opened in [from, to), the share (0–1) that are recurrences
 *   (`recurrenceOf` set); null when none opened in the range.
 * - Pareto by cause and by characteristic: the NCs opened in [from, to) counted by each, most
 *   first (ties by name, in code-unit order), each with its percentage of the total and the
 *   cumulative percentage (cumulative count ÷ total × 100: the last is exactly 100).
 */

export interface KpiNc {
  id: string
  characteristic: string
  cause: string
  openedAt: number
  closedAt: number | null
  dueAt: number | null
  /** The id of the earlier NC this one is a recurrence of. */
  recurrenceOf: string | null
}

export interface KpiCapa {
  id: string
  openedAt: number
  closedAt: number | null
  dueAt: number | null
}

export interface QualityKpisInput {
  ncs: readonly KpiNc[]
  capas: readonly KpiCapa[]
  /** The range of the closing, recurrence and Pareto figures, [from, to), UTC milliseconds. */
  from: number
  to: number
  /** The time open and overdue are judged at. */
  now: number
}

export interface ParetoRow {
  name: string
  count: number
  /** Of the total, 0–100. */
  percent: number
  /** Of the total, this row and those before it, 0–100. */
  cumulativePercent: number
}

export interface RecordKpis {
  /** Open at `now`, and of those, overdue; with their ids (oldest first). */
  open: number
  overdue: number
  openIds: string[]
  overdueIds: string[]
  /** Opened and closed in [from, to). */
  opened: number
  closed: number
  meanTimeToCloseMs: number | null
}

export interface QualityKpis {
  from: number
  to: number
  now: number
  ncs: RecordKpis & {
    /** NCs opened in [from, to) that are recurrences, and their share of those opened. */
    recurrences: number
    recurrenceRate: number | null
  }
  capas: RecordKpis
  paretoByCause: ParetoRow[]
  paretoByCharacteristic: ParetoRow[]
}

type Tracked = Pick<KpiNc, 'id' | 'openedAt' | 'closedAt' | 'dueAt'>

const inRange = (t: number | null, from: number, to: number): t is number =>
  t !== null && t >= from && t < to

function recordKpis(
  records: readonly Tracked[],
  from: number,
  to: number,
  now: number,
): RecordKpis {
  const open = records
    .filter((r) => r.openedAt <= now && (r.closedAt === null || r.closedAt > now))
    .sort((a, b) => a.openedAt - b.openedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const overdue = open.filter((r) => r.dueAt !== null && r.dueAt < now)
  const closed = records.filter((r) => inRange(r.closedAt, from, to))
  const total = closed.reduce((s, r) => s + ((r.closedAt as number) - r.openedAt), 0)
  return {
    open: open.length,
    overdue: overdue.length,
    openIds: open.map((r) => r.id),
    overdueIds: overdue.map((r) => r.id),
    opened: records.filter((r) => inRange(r.openedAt, from, to)).length,
    closed: closed.length,
    meanTimeToCloseMs: closed.length === 0 ? null : total / closed.length,
  }
}

/** Counts by name, most first (ties by name), with percentages of the total. */
export function pareto(names: readonly string[]): ParetoRow[] {
  const counts = new Map<string, number>()
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1)
  const total = names.length
  let cumulative = 0
  return [...counts]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, count]) => {
      cumulative += count
      return {
        name,
        count,
        percent: (count / total) * 100,
        cumulativePercent: (cumulative / total) * 100,
      }
    })
}

/** The figures described in the module comment. */
export function qualityKpis(input: QualityKpisInput): QualityKpis {
  const { from, to, now } = input
  const opened = input.ncs.filter((nc) => inRange(nc.openedAt, from, to))
  const recurrences = opened.filter((nc) => nc.recurrenceOf !== null).length
  return {
    from,
    to,
    now,
    ncs: {
      ...recordKpis(input.ncs, from, to, now),
      recurrences,
      recurrenceRate: opened.length === 0 ? null : recurrences / opened.length,
    },
    capas: recordKpis(input.capas, from, to, now),
    paretoByCause: pareto(opened.map((nc) => nc.cause)),
    paretoByCharacteristic: pareto(opened.map((nc) => nc.characteristic)),
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

export type CsvColumn = string | { key: string; header: string }

/**
 * Characters a spreadsheet may take as the start of a formula: OWASP "CSV Injection" names
 * = + - @ tab and CR; OWASP ASVS 5.0 V1.2.10 adds NUL.
 */
const FORMULA_START = /^[=+\-@\t\r\0]/

/**
 * One cell: a string starting with = + - @ tab, CR or NUL gets a single quote in front, so a
 * spreadsheet shows it as text instead of running it (OWASP); then, as RFC 4180 §2 asks, a
 * cell holding a double quote, a comma, CR or LF is put in double quotes, with its double
 * quotes doubled. Numbers are written as numbers (a negative number is not a formula); a
 * number that is not finite and null are empty cells.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  const text = FORMULA_START.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/**
 * The rows as CSV (RFC 4180): a header line of the columns (a column is a key, or a key with
 * its header), then one line per row in the columns' order (a key a row lacks is an empty
 * cell); every line ends with CRLF.
 */
export function toCsv(
  rows: readonly Record<string, string | number | null>[],
  columns: readonly CsvColumn[],
): string {
  const keys = columns.map((c) => (typeof c === 'string' ? c : c.key))
  const headers = columns.map((c) => (typeof c === 'string' ? c : c.header))
  // Own members only: a key such as "constructor" would otherwise read Object.prototype's.
  const cell = (row: Record<string, string | number | null>, key: string) =>
    csvCell(Object.hasOwn(row, key) ? row[key] : null)
  const lines = [headers.map(csvCell), ...rows.map((row) => keys.map((k) => cell(row, k)))]
  return lines.map((cells) => `${cells.join(',')}\r\n`).join('')
}
