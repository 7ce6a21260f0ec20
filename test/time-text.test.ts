import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays, zoneOffsetMs } from '../rules/reports/schedule.ts'
import { civilFromDays, daysFromCivil, isoTime, utcMs, utcSeconds } from '../rules/time-text.ts'

/**
 * rules/ does its own calendar arithmetic (no Date object, no clock). The reference here is
 * the JavaScript engine's Date, an independent implementation of the same proleptic Gregorian
 * calendar [ECMA-262 21.4.1].
 */
const MAX = 8.64e15
const DAY = 86_400_000

describe('calendar arithmetic in rules/ (time-text.ts)', () => {
  it('isoTime writes what Date.toISOString writes, over the whole range of times', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX, max: MAX }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString())
      }),
      { numRuns: 5000 },
    )
    for (const ms of [
      0,
      -1,
      MAX,
      -MAX,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(1900, 1, 28, 12),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1,
      -62_167_219_200_000, // 0000-01-01
      -62_167_219_200_001, // the last millisecond of year -1
    ])
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    expect(isoTime(1.5)).toBe(new Date(1.5).toISOString())
  })

  it('a time that is not one is a RangeError, as for Date', () => {
    for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, MAX + 1, -MAX - 1, 1e16]) {
      expect(() => new Date(ms).toISOString()).toThrow(RangeError)
      expect(() => isoTime(ms)).toThrow(RangeError)
    }
  })

  it('utcSeconds is the ISO text to the second', () => {
    expect(utcSeconds(Date.UTC(2026, 11, 6, 14, 3, 11, 999))).toBe('2026-12-06 14:03:11')
  })

  it('days and dates agree with Date.UTC both ways, days and months carrying over', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000_000, max: 100_000_000 }), (days) => {
        const d = new Date(days * DAY)
        expect(civilFromDays(days)).toEqual({
          year: d.getUTCFullYear(),
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
        })
      }),
      { numRuns: 5000 },
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 20_000 }),
        fc.integer({ min: -30, max: 30 }),
        fc.integer({ min: -400, max: 400 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        (year, month, day, hour, minute, second) => {
          expect(daysFromCivil(year, month, day) * DAY).toBe(Date.UTC(year, month - 1, day))
          expect(utcMs(year, month, day, hour, minute, second)).toBe(
            Date.UTC(year, month - 1, day, hour, minute, second),
          )
        },
      ),
      { numRuns: 5000 },
    )
  })

  it('addDays and zoneOffsetMs (reports/schedule.ts) by the calendar', () => {
    expect(addDays({ year: 2024, month: 2, day: 28 }, 1)).toEqual({ year: 2024, month: 2, day: 29 })
    expect(addDays({ year: 2023, month: 2, day: 28 }, 1)).toEqual({ year: 2023, month: 3, day: 1 })
    expect(addDays({ year: 2027, month: 1, day: 1 }, -1)).toEqual({
      year: 2026,
      month: 12,
      day: 31,
    })
    expect(addDays({ year: 2026, month: 12, day: 6 }, 400)).toEqual({
      year: 2028,
      month: 1,
      day: 10,
    })
    // Berlin: CET (+1 h) in winter, CEST (+2 h) in summer [IANA tzdb].
    expect(zoneOffsetMs(Date.UTC(2026, 0, 15, 12), 'Europe/Berlin')).toBe(3_600_000)
    expect(zoneOffsetMs(Date.UTC(2026, 6, 15, 12), 'Europe/Berlin')).toBe(7_200_000)
    expect(zoneOffsetMs(Date.UTC(2026, 6, 15, 12), 'America/New_York')).toBe(-14_400_000)
  })

  it('rules/ reads no clock and makes no Date: time arrives as input', () => {
    const files: string[] = []
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (entry.name.endsWith('.ts')) files.push(path)
      }
    }
    walk(join(import.meta.dirname, '..', 'rules'))
    expect(files.length).toBeGreaterThan(20)
    const offending = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ file, line: i + 1, text: line }))
        .filter(
          ({ text }) =>
            !/^\s*(\/\*|\*|\/\/)/.test(text) &&
            /\bnew Date\b|\bDate\.(now|UTC|parse)\b|performance\.now|process\.hrtime/.test(text),
        ),
    )
    expect(offending).toEqual([])
  })
})
