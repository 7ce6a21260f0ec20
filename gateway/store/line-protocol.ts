/**
 * The InfluxDB schema of linewatch, as line protocol (precision ms).
 *
 * - `reading,characteristic=<id> value=<float> <ts>`
 * - `chart,characteristic=<id>,pane=<pane> center=…,index=<i>i,lcl=…,lower=…,n=<n>i,phase="…",rules="N1,N2",sigma=…,statistic=…,ucl=…,upper=… <ts>`
 *   one line per pane; a null is omitted; `rules` only on the pane whose rules the point completed.
 * - `event,characteristic=<id>,type=<type> detail="<json>" <ts>`
 *
 * A chart snapshot and a delivery record are not time series: they belong to the journal,
 * which InfluxDB does not keep, so they encode to no line. A reading's journal fields (`seq`, `size`, `key`, `received`)
 * are not written either: the schema above is what InfluxDB holds.
 *
 * Hand-written rather than built with the client's `Point` because it is several times faster
 * on the hot path; test/influx.test.ts proves that it produces exactly what
 * `Point.toLineProtocol()` produces (keys sorted, same escaping).
 */
import type { ChartPoint } from '../../rules/index.ts'
import type { SeriesRecord } from './types.ts'

export const MEASUREMENT = { reading: 'reading', chart: 'chart', event: 'event' } as const

/** A record that line protocol cannot carry faithfully. */
export class UnencodableError extends Error {
  override name = 'UnencodableError'
}

const TAG_SPECIAL = /[,= ]/g
const TAG_UNSAFE = /[\n\r\t]/

/**
 * A tag value escaped as line protocol wants it (`,` `=` and space get a backslash). Empty,
 * ending with a backslash (it would escape the separator after it) or holding a newline, CR or
 * tab (the client library turns those into two characters, so they would not read back) is
 * refused rather than mangled.
 */
export function escapeTag(value: string): string {
  if (value === '') throw new UnencodableError('an empty tag value cannot be written')
  if (value.endsWith('\\')) {
    throw new UnencodableError(`a tag value cannot end with a backslash: ${JSON.stringify(value)}`)
  }
  if (TAG_UNSAFE.test(value)) {
    throw new UnencodableError(
      `a tag value cannot hold a newline, CR or tab: ${JSON.stringify(value)}`,
    )
  }
  TAG_SPECIAL.lastIndex = 0
  return TAG_SPECIAL.test(value) ? value.replace(TAG_SPECIAL, '\\$&') : value
}

const STRING_SPECIAL = /["\\]/g

/** A string field value: in double quotes, `"` and `\` escaped (newlines may stay). */
export function quoteString(value: string): string {
  STRING_SPECIAL.lastIndex = 0
  return STRING_SPECIAL.test(value) ? `"${value.replace(STRING_SPECIAL, '\\$&')}"` : `"${value}"`
}

function timestamp(ts: number): string {
  if (!Number.isFinite(ts)) throw new UnencodableError(`invalid time stamp: ${ts}`)
  return String(Math.floor(ts))
}

/** `,name=value` for a float that is finite, nothing for null (or NaN/±Infinity, which line protocol cannot carry). */
function floatField(name: string, value: number | null, first: boolean): string {
  if (value === null || !Number.isFinite(value)) return ''
  return first ? `${name}=${value}` : `,${name}=${value}`
}

/** The rule ids a chart point completed on each pane, comma-joined, in the order they came. */
const NO_RULES: ReadonlyMap<string, string> = new Map()

function rulesByPane(point: ChartPoint): ReadonlyMap<string, string> {
  if (point.violations.length === 0) return NO_RULES
  const byPane = new Map<string, string>()
  for (const v of point.violations) {
    const known = byPane.get(v.pane)
    if (known === undefined) byPane.set(v.pane, v.rule)
    else if (!known.split(',').includes(v.rule)) byPane.set(v.pane, `${known},${v.rule}`)
  }
  return byPane
}

/**
 * Appends the lines of one record to `out` and returns how many (one per pane for a chart
 * point, none for a snapshot or a delivery). Throws UnencodableError, appending nothing, for a record that cannot be written
 * faithfully (a non-finite reading, a bad tag value, a bad time stamp).
 */
export function encodeRecord(record: SeriesRecord, out: string[]): number {
  switch (record.kind) {
    case 'reading': {
      if (!Number.isFinite(record.value)) {
        throw new UnencodableError(`a reading must be a finite number, got ${record.value}`)
      }
      out.push(
        `reading,characteristic=${escapeTag(record.characteristic)} value=${record.value} ${timestamp(record.ts)}`,
      )
      return 1
    }
    case 'chart':
      return encodeChart(record.characteristic, record.point, out)
    case 'event':
      out.push(
        `event,characteristic=${escapeTag(record.characteristic)},type=${escapeTag(record.type)} ` +
          `detail=${quoteString(record.detail)} ${timestamp(record.ts)}`,
      )
      return 1
    case 'snapshot':
    case 'delivery':
      // The gateway's journal, not the time series.
      return 0
  }
}

function encodeChart(characteristic: string, point: ChartPoint, out: string[]): number {
  const prefix = `chart,characteristic=${escapeTag(characteristic)},pane=`
  const ts = timestamp(point.ts)
  const index = `index=${Math.floor(point.index)}i`
  const n = `,n=${Math.floor(point.n)}i`
  const phase = `,phase=${quoteString(point.phase)}`
  const rules = rulesByPane(point)
  const panes = Object.keys(point.panes)
  // A violation on a pane the point does not draw still gets a line, so the rule is kept.
  for (const pane of rules.keys()) if (!Object.hasOwn(point.panes, pane)) panes.push(pane)
  if (panes.length === 0) throw new UnencodableError('a chart point without panes')
  panes.sort()
  const lines: string[] = []
  for (const pane of panes) {
    const p = Object.hasOwn(point.panes, pane) ? point.panes[pane] : undefined
    const paneRules = rules.get(pane)
    // Field keys in sorted order, as Point writes them:
    // center, index, lcl, lower, n, phase, rules, sigma, statistic, ucl, upper (lower/upper:
    // CUSUM's C⁻, C⁺; sigma: the σ the pane's limits use).
    const center = p ? floatField('center', p.center, true) : ''
    lines.push(
      `${prefix}${escapeTag(pane)} ${center}${center ? ',' : ''}${index}` +
        `${p ? floatField('lcl', p.lcl, false) + floatField('lower', p.lower ?? null, false) : ''}${n}${phase}` +
        `${paneRules ? `,rules=${quoteString(paneRules)}` : ''}` +
        `${p ? floatField('sigma', p.sigma ?? null, false) + floatField('statistic', p.statistic, false) + floatField('ucl', p.ucl, false) + floatField('upper', p.upper ?? null, false) : ''} ${ts}`,
    )
  }
  for (const line of lines) out.push(line)
  return lines.length
}

/** An InfluxQL string literal: single quotes, with `\`, `'` and newline escaped. */
export function influxqlString(value: string): string {
  return `'${value.replace(/[\\'\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}'`
}

/** An InfluxQL identifier: double quotes, with `\` and `"` escaped. */
export function influxqlIdent(name: string): string {
  return `"${name.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`
}
