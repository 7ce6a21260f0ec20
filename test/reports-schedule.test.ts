import { describe, expect, it } from 'vitest'
import {
  dailyFileName,
  dailyRange,
  filesToPrune,
  isTimeZone,
  latestRun,
  nextRun,
  parseDailyAt,
  parseDailyFileName,
  zonedInstant,
} from '../rules/reports/schedule.ts'

/**
 * The daily report's schedule (rules/reports/schedule.ts). Expected instants are written out
 * from the zones' published rules: the EU changes its clocks at 01:00 UTC on the last Sunday of
 * March (CET +1 → CEST +2) and of October (back); the US at 02:00 local on the second Sunday of
 * March and the first Sunday of November; Sydney at 02:00 local on the first Sunday of October
 * (AEST +10 → AEDT +11) and 03:00 on the first Sunday of April.
 */

const utc = (iso: string) => Date.parse(iso)
const H = 3_600_000
const SIX = { hour: 6, minute: 0 }

describe('the time of day', () => {
  it('is HH:MM on a 24-hour clock', () => {
    expect(parseDailyAt('06:00')).toEqual({ hour: 6, minute: 0 })
    expect(parseDailyAt('23:59')).toEqual({ hour: 23, minute: 59 })
    expect(parseDailyAt('00:00')).toEqual({ hour: 0, minute: 0 })
    for (const bad of ['6:00', '24:00', '06:60', '0600', '06:00:00', ''])
      expect(typeof parseDailyAt(bad)).toBe('string')
  })

  it('knows the zones the engine knows', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true)
    expect(isTimeZone('UTC')).toBe(true)
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false)
  })
})

describe('the next run', () => {
  it('in UTC: today at the time if still ahead, else tomorrow', () => {
    expect(nextRun(utc('2026-12-06T05:59:59.999Z'), SIX, 'UTC')).toBe(utc('2026-12-06T06:00:00Z'))
    expect(nextRun(utc('2026-12-06T06:00:00Z'), SIX, 'UTC')).toBe(utc('2026-12-07T06:00:00Z'))
    expect(nextRun(utc('2026-12-31T23:00:00Z'), SIX, 'UTC')).toBe(utc('2027-01-01T06:00:00Z'))
  })

  it('in Berlin: 06:00 CET is 05:00 UTC in winter, 06:00 CEST 04:00 UTC in summer', () => {
    expect(nextRun(utc('2026-12-06T03:00:00Z'), SIX, 'Europe/Berlin')).toBe(
      utc('2026-12-06T05:00:00Z'),
    )
    expect(nextRun(utc('2026-07-01T04:00:00Z'), SIX, 'Europe/Berlin')).toBe(
      utc('2026-07-02T04:00:00Z'),
    )
    // Late evening UTC is already the next day in Berlin.
    expect(nextRun(utc('2026-12-06T23:30:00Z'), SIX, 'Europe/Berlin')).toBe(
      utc('2026-12-07T05:00:00Z'),
    )
  })

  it('in a zone west of UTC, the local date lags', () => {
    // 2026-12-07 02:00 UTC is 2026-12-06 21:00 EST: the next 06:00 EST is 11:00 UTC on the 7th.
    expect(nextRun(utc('2026-12-07T02:00:00Z'), SIX, 'America/New_York')).toBe(
      utc('2026-12-07T11:00:00Z'),
    )
  })

  it('spring forward: a skipped time runs as much later as the gap (Berlin 02:30 → 03:30 CEST)', () => {
    const at = { hour: 2, minute: 30 }
    // 29 March 2026 is the last Sunday of March: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    expect(zonedInstant({ year: 2026, month: 3, day: 29 }, at, 'Europe/Berlin')).toBe(
      utc('2026-03-29T01:30:00Z'),
    )
    expect(nextRun(utc('2026-03-28T23:00:00Z'), at, 'Europe/Berlin')).toBe(
      utc('2026-03-29T01:30:00Z'),
    )
    // The day after, 02:30 CEST exists again.
    expect(nextRun(utc('2026-03-29T01:30:00Z'), at, 'Europe/Berlin')).toBe(
      utc('2026-03-30T00:30:00Z'),
    )
  })

  it('spring forward in New York: 02:15 on 8 March 2026 runs at 03:15 EDT', () => {
    expect(nextRun(utc('2026-03-08T05:00:00Z'), { hour: 2, minute: 15 }, 'America/New_York')).toBe(
      utc('2026-03-08T07:15:00Z'),
    )
  })

  it('fall back: a repeated time runs once, at the first (Berlin 02:30 CEST)', () => {
    const at = { hour: 2, minute: 30 }
    // 25 October 2026: 03:00 CEST goes back to 02:00 CET (01:00 UTC); 02:30 is 00:30 and 01:30 UTC.
    const first = nextRun(utc('2026-10-24T22:00:00Z'), at, 'Europe/Berlin')
    expect(first).toBe(utc('2026-10-25T00:30:00Z'))
    // After it, the next is the next day's, not the second 02:30 of the same night.
    expect(nextRun(first, at, 'Europe/Berlin')).toBe(utc('2026-10-26T01:30:00Z'))
    expect(nextRun(utc('2026-10-25T01:00:00Z'), at, 'Europe/Berlin')).toBe(
      utc('2026-10-26T01:30:00Z'),
    )
  })

  it('in the southern hemisphere (Sydney: clocks forward on 4 October 2026)', () => {
    // 06:00 AEST (+10) on 3 October is 20:00 UTC on the 2nd; 06:00 AEDT (+11) on the 4th 19:00 UTC on the 3rd.
    expect(nextRun(utc('2026-10-02T12:00:00Z'), SIX, 'Australia/Sydney')).toBe(
      utc('2026-10-02T20:00:00Z'),
    )
    expect(nextRun(utc('2026-10-02T20:00:00Z'), SIX, 'Australia/Sydney')).toBe(
      utc('2026-10-03T19:00:00Z'),
    )
  })

  it('the latest run at or before a time', () => {
    expect(latestRun(utc('2026-12-06T05:00:00Z'), SIX, 'Europe/Berlin')).toBe(
      utc('2026-12-06T05:00:00Z'),
    )
    expect(latestRun(utc('2026-12-06T04:59:59Z'), SIX, 'Europe/Berlin')).toBe(
      utc('2026-12-05T05:00:00Z'),
    )
  })
})

describe('what a run covers', () => {
  it('the day up to the run: 24 hours', () => {
    expect(dailyRange(utc('2026-12-06T05:00:00Z'), SIX, 'Europe/Berlin')).toEqual({
      from: utc('2026-12-05T05:00:00Z'),
      to: utc('2026-12-06T05:00:00Z'),
      date: '2026-12-06',
    })
  })

  it('23 hours on the day the clocks go forward, 25 on the day they go back', () => {
    const spring = dailyRange(utc('2026-03-29T04:00:00Z'), SIX, 'Europe/Berlin')
    expect(spring).toEqual({
      from: utc('2026-03-28T05:00:00Z'),
      to: utc('2026-03-29T04:00:00Z'),
      date: '2026-03-29',
    })
    expect(spring.to - spring.from).toBe(23 * H)
    const autumn = dailyRange(utc('2026-10-25T05:00:00Z'), SIX, 'Europe/Berlin')
    expect(autumn.from).toBe(utc('2026-10-24T04:00:00Z'))
    expect(autumn.to - autumn.from).toBe(25 * H)
    expect(autumn.date).toBe('2026-10-25')
  })

  it('is named by the run’s local date, not the UTC one', () => {
    // 00:30 in Tokyo (+9) on 7 December is 15:30 UTC on the 6th.
    const run = nextRun(utc('2026-12-06T12:00:00Z'), { hour: 0, minute: 30 }, 'Asia/Tokyo')
    expect(run).toBe(utc('2026-12-06T15:30:00Z'))
    expect(dailyRange(run, { hour: 0, minute: 30 }, 'Asia/Tokyo').date).toBe('2026-12-07')
  })
})

describe('the files', () => {
  it('are named by date, kind and format, and only those names are recognised', () => {
    expect(dailyFileName('2026-12-06', 'capability', 'pdf')).toBe('daily-2026-12-06-capability.pdf')
    expect(parseDailyFileName('daily-2026-12-06-nc-pareto.csv')).toEqual({
      date: '2026-12-06',
      kind: 'nc-pareto',
      format: 'csv',
    })
    for (const other of [
      'daily-2026-12-06-capability.json',
      'daily-2026-02-30-capability.pdf',
      'daily-2026-12-06-unknown.pdf',
      'notes.txt',
      '.daily-2026-12-06-capability.pdf.tmp',
    ])
      expect(parseDailyFileName(other)).toBeNull()
  })

  it('the last keepDays dates are kept, the run’s included; nothing else is touched', () => {
    const names = [
      'daily-2026-12-06-capability.pdf',
      'daily-2026-12-06-capability.csv',
      'daily-2026-12-04-alarm-kpis.pdf',
      'daily-2026-12-03-alarm-kpis.pdf',
      'daily-2026-11-30-capa-status.csv',
      'daily-2026-12-07-capability.pdf',
      'readme.txt',
      'daily-2025-01-01-nope.pdf',
    ]
    expect(filesToPrune(names, '2026-12-06', 3).sort()).toEqual([
      'daily-2026-11-30-capa-status.csv',
      'daily-2026-12-03-alarm-kpis.pdf',
    ])
    expect(filesToPrune(names, '2026-12-06', 1).sort()).toEqual([
      'daily-2026-11-30-capa-status.csv',
      'daily-2026-12-03-alarm-kpis.pdf',
      'daily-2026-12-04-alarm-kpis.pdf',
    ])
  })

  it('across the end of a year', () => {
    const names = ['daily-2026-12-28-capability.pdf', 'daily-2026-12-29-capability.pdf']
    expect(filesToPrune(names, '2027-01-02', 5)).toEqual(['daily-2026-12-28-capability.pdf'])
  })
})
