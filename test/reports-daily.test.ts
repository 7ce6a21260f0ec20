import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { QualityEvent } from '../gateway/contract.ts'
import { createLogger } from '../gateway/log.ts'
import { createDailyReports, type DailyReports } from '../gateway/reports/daily.ts'
import type { ReportRequest, ReportService } from '../gateway/reports/service.ts'
import type { Report, ReportKind } from '../rules/reports/shapes.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'

/**
 * The daily report's scheduler (gateway/reports/daily.ts) with an injected clock and a real
 * folder: a run comes due a few hundred milliseconds after the start (no waiting for 06:00),
 * writes each report as PDF and CSV named by the date, prunes older dates, tells the webhooks;
 * a start after a missed run makes it at once; a clock that jumps days makes one run.
 */

const ALL: ReportKind[] = ['capability', 'nc-pareto', 'alarm-kpis', 'capa-status']
const log = createLogger('silent')

function stubReport(kind: ReportKind, r: ReportRequest): Report {
  const base = {
    title: `The ${kind} report`,
    plant: 'Test plant',
    from: r.from,
    to: r.to,
    generatedAt: r.to,
    notes: [],
  }
  switch (kind) {
    case 'capability':
      return { ...base, kind, area: null, rows: [], skipped: [] }
    case 'nc-pareto':
      return {
        ...base,
        kind,
        opened: 3,
        recurrences: 1,
        recurrenceRate: 1 / 3,
        byCause: [{ name: 'action-high', count: 3, percent: 100, cumulativePercent: 100 }],
        byCharacteristic: [],
      }
    case 'alarm-kpis':
      return { ...base, kind, area: null, kpis: { from: r.from, to: r.to, areas: [] } }
    case 'capa-status':
      return {
        ...base,
        kind,
        now: r.to,
        byStatus: [],
        open: 0,
        overdue: 0,
        opened: 0,
        closed: 0,
        meanTimeToCloseMs: null,
        capas: [],
      }
    case 'audit-trail':
      return { ...base, kind, entity: null, entries: [], truncated: false, byEntity: [] }
  }
}

function stubService(fail: ReportKind[] = []) {
  const calls: { kind: ReportKind; from: number; to: number }[] = []
  const service: ReportService = {
    async build(kind, r) {
      calls.push({ kind, from: r.from, to: r.to })
      if (fail.includes(kind)) throw new Error(`the ${kind} report broke`)
      return stubReport(kind, r)
    },
  }
  return { service, calls }
}

/** A clock that starts at `start` and runs at the real pace; `jump` moves it. */
function clockFrom(start: number) {
  const real = Date.now()
  let offset = start - real
  return {
    now: () => Date.now() + offset,
    jump: (ms: number) => {
      offset += ms
    },
  }
}

const files = (folder: string) => readdirSync(folder).sort()

describe('the daily report scheduler', () => {
  const cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  async function setUp(options: {
    start: string
    at?: string
    timeZone?: string
    keepDays?: number
    kinds?: ReportKind[]
    fail?: ReportKind[]
    existing?: string[]
    maxWaitMs?: number
  }) {
    const dir = await tempDir()
    cleanup.push(() => dir.remove())
    const folder = join(dir.path, 'reports')
    const stub = stubService(options.fail)
    const events: QualityEvent[] = []
    const clock = clockFrom(Date.parse(options.start))
    if (options.existing) {
      mkdirSync(folder, { recursive: true })
      for (const name of options.existing) writeFileSync(join(folder, name), 'old')
    }
    const daily: DailyReports = createDailyReports({
      daily: {
        at: options.at ?? '06:00',
        timeZone: options.timeZone ?? 'UTC',
        kinds: options.kinds ?? ALL,
        keepDays: options.keepDays ?? 90,
      },
      dataDir: dir.path,
      reports: stub.service,
      log,
      notify: (e) => events.push(e),
      now: clock.now,
      maxWaitMs: options.maxWaitMs,
    })
    cleanup.push(() => daily.stop())
    return { daily, folder, stub, events, clock }
  }

  const dayFiles = (date: string, kinds = ALL) =>
    kinds.flatMap((k) => [`daily-${date}-${k}.csv`, `daily-${date}-${k}.pdf`]).sort()

  it('runs at 06:00 of the injected clock: PDF and CSV per report, old dates pruned, webhooks told', async () => {
    const pdftotext = await requireProgram('pdftotext', 'poppler-utils')
    const { daily, folder, stub, events } = await setUp({
      start: '2026-12-06T05:59:59.600Z',
      existing: [
        ...dayFiles('2026-12-05'),
        'daily-2026-09-07-capability.pdf',
        'daily-2026-09-08-capability.pdf',
        'notes.txt',
      ],
    })
    daily.start()
    // Yesterday's files are all there: nothing to catch up; the next run is today's.
    expect(daily.running()).toBeNull()
    expect(daily.nextRunAt()).toBe(Date.parse('2026-12-06T06:00:00Z'))
    await waitFor('the run of 2026-12-06', () => events.length === 1, { timeoutMs: 10_000 })
    await daily.running()
    expect(stub.calls).toEqual(
      ALL.map((kind) => ({
        kind,
        from: Date.parse('2026-12-05T06:00:00Z'),
        to: Date.parse('2026-12-06T06:00:00Z'),
      })),
    )
    // 90 dates kept, 2026-12-06 included: 2026-09-08 is the oldest kept.
    expect(files(folder)).toEqual(
      [
        ...dayFiles('2026-12-05'),
        ...dayFiles('2026-12-06'),
        'daily-2026-09-08-capability.pdf',
        'notes.txt',
      ].sort(),
    )
    const pdf = join(folder, 'daily-2026-12-06-nc-pareto.pdf')
    const text = execFileSync(pdftotext, ['-raw', pdf, '-'], { encoding: 'utf8' })
    expect(text).toContain('The nc-pareto report')
    expect(text).toContain('action-high')
    expect(text).toContain('33.3 %')
    const csv = readFileSync(join(folder, 'daily-2026-12-06-nc-pareto.csv'), 'utf8')
    expect(csv).toContain('from,2026-12-05T06:00:00.000Z\r\n')
    expect(csv).toContain('action-high,3,100,100\r\n')
    const event = events[0] as QualityEvent
    expect(event).toMatchObject({
      type: 'report.daily',
      id: 'daily-2026-12-06',
      status: 'written',
      actor: 'system',
    })
    expect(event.files?.map((f) => f.name).sort()).toEqual(dayFiles('2026-12-06'))
    for (const f of event.files ?? []) {
      expect(f.bytes).toBe(readFileSync(join(folder, f.name)).length)
      expect(f.path).toBe(`/api/reports/daily/${f.name}`)
    }
    expect(daily.nextRunAt()).toBe(Date.parse('2026-12-07T06:00:00Z'))
  })

  it('a start after a missed run makes it at once (the latest only)', async () => {
    const { daily, folder, stub, events } = await setUp({
      start: '2026-12-06T09:00:00Z',
      kinds: ['capability'],
    })
    daily.start()
    await daily.running()
    expect(stub.calls).toEqual([
      {
        kind: 'capability',
        from: Date.parse('2026-12-05T06:00:00Z'),
        to: Date.parse('2026-12-06T06:00:00Z'),
      },
    ])
    expect(files(folder)).toEqual(dayFiles('2026-12-06', ['capability']))
    expect(events).toHaveLength(1)
    expect(daily.nextRunAt()).toBe(Date.parse('2026-12-07T06:00:00Z'))
  })

  it('a report that fails is logged and the others are written', async () => {
    const { daily, folder, events } = await setUp({
      start: '2026-12-06T09:00:00Z',
      fail: ['nc-pareto'],
    })
    daily.start()
    await daily.running()
    expect(files(folder)).toEqual(
      dayFiles('2026-12-06', ['capability', 'alarm-kpis', 'capa-status']),
    )
    expect(events[0]?.status).toBe('written without nc-pareto')
  })

  it('a clock that jumps three days makes one run, for the latest day', async () => {
    const { daily, folder, stub, clock } = await setUp({
      start: '2026-12-06T07:00:00Z',
      kinds: ['alarm-kpis'],
      existing: dayFiles('2026-12-06', ['alarm-kpis']),
      maxWaitMs: 50,
    })
    daily.start()
    expect(daily.running()).toBeNull()
    clock.jump(3 * 86_400_000)
    await waitFor('the run after the jump', () => stub.calls.length === 1, { timeoutMs: 5000 })
    await daily.running()
    expect(stub.calls[0]).toEqual({
      kind: 'alarm-kpis',
      from: Date.parse('2026-12-08T06:00:00Z'),
      to: Date.parse('2026-12-09T06:00:00Z'),
    })
    expect(existsSync(join(folder, 'daily-2026-12-09-alarm-kpis.pdf'))).toBe(true)
    await new Promise((r) => setTimeout(r, 200))
    expect(stub.calls).toHaveLength(1)
    expect(daily.nextRunAt()).toBe(Date.parse('2026-12-10T06:00:00Z'))
  })

  it('in Berlin on the night the clocks go forward: 06:00 CEST, over 23 hours', async () => {
    const { daily, stub } = await setUp({
      start: '2026-03-29T03:59:59.700Z',
      timeZone: 'Europe/Berlin',
      kinds: ['capability'],
      existing: dayFiles('2026-03-28', ['capability']),
    })
    daily.start()
    expect(daily.nextRunAt()).toBe(Date.parse('2026-03-29T04:00:00Z'))
    await waitFor('the run', () => stub.calls.length === 1, { timeoutMs: 10_000 })
    await daily.running()
    expect(stub.calls[0]).toEqual({
      kind: 'capability',
      from: Date.parse('2026-03-28T05:00:00Z'),
      to: Date.parse('2026-03-29T04:00:00Z'),
    })
  })

  it('stop ends the schedule', async () => {
    const { daily } = await setUp({
      start: '2026-12-06T05:00:00Z',
      existing: dayFiles('2026-12-05'),
    })
    daily.start()
    await daily.stop()
    expect(daily.nextRunAt()).toBeNull()
  })
})
