import Type, { type Static } from 'typebox'
import { isTimeZone } from '../../rules/reports/schedule.ts'
import { REPORT_KINDS, type ReportKind } from '../../rules/reports/shapes.ts'

/**
 * The `reports` section of the configuration (schema.ts assembles it): the daily report written
 * to a folder (docs/reports.md). Without `daily`, no report is scheduled; the reports are still
 * served on demand (GET /api/reports/:kind).
 */

// Unsafe: the literals come from a runtime list, whose element type TypeBox cannot map.
const Kind = Type.Unsafe<ReportKind>(
  Type.Union(
    REPORT_KINDS.map((k) => Type.Literal(k)),
    { description: 'capability, nc-pareto, alarm-kpis, capa-status or audit-trail.' },
  ),
)

export const DailyReportSchema = Type.Object(
  {
    at: Type.String({
      pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
      default: '06:00',
      description:
        'The time of day (HH:MM, 24 h) the report runs, in `timeZone`. It covers the day up to then: from the same time the day before (23 or 25 hours across a change of the clocks).',
    }),
    timeZone: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'An IANA time zone ("Europe/Berlin", "UTC"); default the gateway machine\'s zone (TZ). A time the clocks skip runs as much later as the gap; a time they repeat runs at the first.',
      }),
    ),
    folder: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description:
          'Where the files go (made if missing); relative to dataDir. Default dataDir/reports.',
      }),
    ),
    kinds: Type.Array(Kind, {
      minItems: 1,
      uniqueItems: true,
      default: ['capability', 'nc-pareto', 'alarm-kpis', 'capa-status'],
      description:
        'The reports written, each as PDF and CSV: daily-YYYY-MM-DD-<kind>.pdf and .csv, named by the date of the run.',
    }),
    keepDays: Type.Integer({
      minimum: 1,
      maximum: 36_500,
      default: 90,
      description:
        'Daily report files of older dates are deleted after each run (the folder keeps this many dates, the run’s included). Other files in the folder are never touched.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'A report written every day at `at` to `folder`, and announced to webhooks that take `report.daily` (with the files’ names and API paths).',
  },
)

export const ReportsConfig = Type.Object(
  { daily: Type.Optional(DailyReportSchema) },
  {
    additionalProperties: false,
    default: {},
    description:
      'Reports (docs/reports.md): capability, NC Pareto, alarm KPIs and CAPA status as JSON, CSV and PDF, on demand and daily.',
  },
)

export type DailyReportConfig = Static<typeof DailyReportSchema>
export type ReportsConfigType = Static<typeof ReportsConfig>

/** The problems of `reportConfigProblems` where `config check` names them. */
export function reportConfigIssues(config: {
  reports?: ReportsConfigType | undefined
}): { path: (string | number)[]; message: string }[] {
  return reportConfigProblems(config.reports).map((problem) => ({
    path: ['reports', 'daily', 'timeZone'],
    message: problem.replace(/^reports\.daily\.timeZone: /, ''),
  }))
}

/** What is wrong with the reports section that the schema cannot say (an unknown time zone). */
export function reportConfigProblems(reports: ReportsConfigType | undefined): string[] {
  const zone = reports?.daily?.timeZone
  if (zone !== undefined && !isTimeZone(zone))
    return [
      `reports.daily.timeZone: "${zone}" is not a time zone this system knows (an IANA name such as Europe/Berlin)`,
    ]
  return []
}
