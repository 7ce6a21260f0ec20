import type { Config } from '../config/index.ts'
import { reportConfigProblems } from '../config/report-schema.ts'
import type { QualityEvent } from '../contract.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { createDailyReports, type DailyReports } from './daily.ts'
import { createReportService, type ReportSources } from './service.ts'

/**
 * Reports (issue 11, docs/reports.md): the capability summary, the NC Pareto, the alarm KPIs and
 * the CAPA status over a range, as JSON, CSV (rules/reports/tables.ts) and PDF (render.ts);
 * served by gateway/api/reports.ts and written daily to a folder (daily.ts).
 */

export type { DailyReports } from './daily.ts'
export { createDailyReports, dailyFilePath, dailyFolder } from './daily.ts'
export { reportPdf, reportPdfOffThread } from './render.ts'
export {
  createReportService,
  MAX_REPORT_READINGS,
  type ReportRequest,
  type ReportService,
  type ReportSources,
  ReportUnavailable,
} from './service.ts'

/**
 * The daily report of the configuration started, or null when `reports.daily` is not set.
 * Throws LW_ERR_CONFIG_INVALID for a time zone the system does not know.
 */
export function startDailyReports(
  config: Config,
  ctx: Omit<ReportSources, 'title'> & {
    dataDir: string
    log: Logger
    notify?: (event: QualityEvent) => void
  },
): DailyReports | null {
  const problems = reportConfigProblems(config.reports)
  if (problems.length > 0) throw new LinewatchError('LW_ERR_CONFIG_INVALID', problems.join('; '))
  const daily = config.reports?.daily
  if (!daily) return null
  const scheduler = createDailyReports({
    daily,
    dataDir: ctx.dataDir,
    reports: createReportService({ ...ctx, title: config.title }),
    log: ctx.log,
    notify: ctx.notify,
    now: ctx.now,
  })
  scheduler.start()
  return scheduler
}
