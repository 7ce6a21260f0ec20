import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  dailyFileName,
  dailyRange,
  filesToPrune,
  latestRun,
  nextRun,
  parseDailyAt,
  type WallTime,
} from '../../rules/reports/schedule.ts'
import type { DailyReportFile, ReportKind } from '../../rules/reports/shapes.ts'
import { reportCsv } from '../../rules/reports/tables.ts'
import type { DailyReportConfig } from '../config/report-schema.ts'
import type { QualityEvent } from '../contract.ts'
import type { Logger } from '../log.ts'
import { reportPdfOffThread } from './render.ts'
import type { ReportService } from './service.ts'

/**
 * The daily report (docs/reports.md): at `at` in `timeZone` every day, each configured report
 * over the day up to then, as PDF and CSV in the folder (`daily-<date>-<kind>.pdf|csv`, the
 * date the run's local date), then the files of dates older than `keepDays` deleted, then the
 * webhooks told (`report.daily`). When the gateway starts after a run time whose files are
 * missing (it was stopped at 06:00), that run is made at once — the latest only.
 *
 * The next run is computed from the injected clock (rules/reports/schedule.ts) and waited for
 * in steps of at most a minute, so a clock that is set or jumps is noticed within one; a run
 * that comes due late (a machine suspended) covers the latest scheduled day, not every one
 * missed. A report that fails is logged and the others are still written.
 */

export interface DailyReports {
  /** The folder the files go to. */
  readonly folder: string
  readonly timeZone: string
  start(): void
  /** Stops the timer; a run under way finishes the report it is on, then stops. */
  stop(): Promise<void>
  /** The next scheduled run (UTC ms), or null when stopped. */
  nextRunAt(): number | null
  /** The run under way, if any (tests wait on it). */
  running(): Promise<void> | null
}

export interface DailyReportsOptions {
  daily: DailyReportConfig
  dataDir: string
  reports: ReportService
  log: Logger
  notify?: ((event: QualityEvent) => void) | undefined
  now?: () => number
  /** The zone when the configuration names none: the machine's (TZ). */
  localTimeZone?: string
  /** The longest wait before the clock is looked at again (default a minute). */
  maxWaitMs?: number
}

const MAX_WAIT_MS = 60_000
const FORMATS = ['pdf', 'csv'] as const

/** The API path that serves a daily file. */
export const dailyFilePath = (name: string) => `/api/reports/daily/${encodeURIComponent(name)}`

/** The folder of the daily files: `folder` relative to the data directory, default dataDir/reports. */
export function dailyFolder(dataDir: string, daily: Pick<DailyReportConfig, 'folder'> | undefined) {
  return resolve(dataDir, daily?.folder ?? 'reports')
}

export function createDailyReports(options: DailyReportsOptions): DailyReports {
  const { daily, log, reports } = options
  const now = options.now ?? Date.now
  const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS
  const timeZone =
    daily.timeZone ?? options.localTimeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone
  const parsed = parseDailyAt(daily.at)
  if (typeof parsed === 'string') throw new RangeError(`reports.daily.at: ${parsed}`)
  const at: WallTime = parsed
  const folder = dailyFolder(options.dataDir, daily)
  let timer: NodeJS.Timeout | undefined
  let next: number | null = null
  let stopped = true
  let current: Promise<void> | null = null

  function write(name: string, data: string | Buffer): number {
    const tmp = join(folder, `.${name}.tmp`)
    writeFileSync(tmp, data)
    renameSync(tmp, join(folder, name))
    return typeof data === 'string' ? Buffer.byteLength(data) : data.length
  }

  function missing(date: string): boolean {
    let names: Set<string>
    try {
      names = new Set(readdirSync(folder))
    } catch {
      return true
    }
    return daily.kinds.some((kind) =>
      FORMATS.some((format) => !names.has(dailyFileName(date, kind, format))),
    )
  }

  async function run(runAt: number): Promise<void> {
    const { from, to, date } = dailyRange(runAt, at, timeZone)
    mkdirSync(folder, { recursive: true })
    const files: DailyReportFile[] = []
    const failed: ReportKind[] = []
    for (const kind of daily.kinds) {
      if (stopped) break
      try {
        const report = await reports.build(kind, { from, to })
        const outputs = { csv: reportCsv(report), pdf: await reportPdfOffThread(report) }
        for (const format of FORMATS) {
          const name = dailyFileName(date, kind, format)
          const bytes = write(name, outputs[format])
          files.push({ name, kind, format, bytes, path: dailyFilePath(name) })
        }
      } catch (err) {
        failed.push(kind)
        log.error({ err, kind, date }, 'a daily report could not be made')
      }
    }
    try {
      for (const name of filesToPrune(readdirSync(folder), date, daily.keepDays))
        unlinkSync(join(folder, name))
    } catch (err) {
      log.error({ err, folder }, 'old daily reports could not be deleted')
    }
    if (files.length === 0) return
    log.info({ date, folder, files: files.length, failed }, 'daily report written')
    options.notify?.({
      type: 'report.daily',
      at: now(),
      id: `daily-${date}`,
      status: failed.length === 0 ? 'written' : `written without ${failed.join(', ')}`,
      actor: 'system',
      auditSeq: null,
      action: null,
      title: `Daily report ${date}: ${new Date(from).toISOString()} to ${new Date(to).toISOString()} (${timeZone})`,
      files,
    })
  }

  function launch(runAt: number): void {
    if (current) return
    current = run(runAt)
      .catch((err: unknown) => log.error({ err }, 'the daily report failed'))
      .finally(() => {
        current = null
      })
  }

  function arm(): void {
    if (stopped) return
    const t = now()
    next ??= nextRun(t, at, timeZone)
    // A clock set back by more than a day: the run before the set-back time is found again.
    if (next - t > 2 * 86_400_000) next = nextRun(t, at, timeZone)
    timer = setTimeout(tick, Math.max(0, Math.min(next - t, maxWaitMs)))
    timer.unref()
  }

  function tick(): void {
    timer = undefined
    if (stopped) return
    const t = now()
    if (next !== null && t >= next) {
      // Late (suspended, the clock moved on): the latest scheduled day, not every one missed.
      launch(latestRun(t, at, timeZone))
      next = nextRun(t, at, timeZone)
    }
    arm()
  }

  return {
    folder,
    timeZone,
    start() {
      if (!stopped) return
      stopped = false
      const t = now()
      const latest = latestRun(t, at, timeZone)
      if (missing(dailyRange(latest, at, timeZone).date)) launch(latest)
      next = nextRun(t, at, timeZone)
      arm()
      log.info(
        { folder, timeZone, at: daily.at, next: new Date(next).toISOString() },
        'daily report scheduled',
      )
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      timer = undefined
      next = null
      await current
    },
    nextRunAt: () => next,
    running: () => current,
  }
}
