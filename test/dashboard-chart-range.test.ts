import { describe, expect, it } from 'vitest'
import {
  bucketsFor,
  customRange,
  fromDateTimeLocal,
  fromLocal,
  MIN_SPAN_MS,
  panRange,
  pointTickLabel,
  presetRange,
  shiftAt,
  spanWords,
  timeAt,
  toDateTimeLocal,
  type ZoneOffset,
  zoomRange,
} from '../dashboard/src/data/chart-range.ts'

const at = (iso: string) => Date.parse(iso)
const HOUR = 3_600_000
const DAY = 24 * HOUR

const utc: ZoneOffset = () => 0
const cet: ZoneOffset = () => 60
const newYorkWinter: ZoneOffset = () => -300
/** Central Europe in 2025: CEST from 30 March 01:00 UTC to 26 October 01:00 UTC. */
const berlin2025: ZoneOffset = (ms) =>
  ms >= at('2025-03-30T01:00:00Z') && ms < at('2025-10-26T01:00:00Z') ? 120 : 60

describe('chart history: the time range (dashboard/src/data/chart-range.ts)', () => {
  it('shifts of 8 h from 06:00, 14:00 and 22:00: the one now falls in, to the next start − 1 ms', () => {
    expect(shiftAt(at('2025-03-14T09:26:00Z'), undefined, utc)).toEqual({
      from: at('2025-03-14T06:00:00Z'),
      to: at('2025-03-14T14:00:00Z') - 1,
    })
    // Exactly at a start: that shift.
    expect(shiftAt(at('2025-03-14T14:00:00Z'), undefined, utc).from).toBe(
      at('2025-03-14T14:00:00Z'),
    )
    // Just before: the one before.
    expect(shiftAt(at('2025-03-14T13:59:59.999Z'), undefined, utc).from).toBe(
      at('2025-03-14T06:00:00Z'),
    )
    // The night shift runs over midnight, seen from either side of it.
    const night = { from: at('2025-03-13T22:00:00Z'), to: at('2025-03-14T06:00:00Z') - 1 }
    expect(shiftAt(at('2025-03-13T23:30:00Z'), undefined, utc)).toEqual(night)
    expect(shiftAt(at('2025-03-14T05:59:00Z'), undefined, utc)).toEqual(night)
  })

  it('shift starts are local hours: CET and New York', () => {
    // 07:00 CET is 06:00 UTC: the early shift began at 05:00 UTC.
    expect(shiftAt(at('2025-01-10T06:00:00Z'), undefined, cet)).toEqual({
      from: at('2025-01-10T05:00:00Z'),
      to: at('2025-01-10T13:00:00Z') - 1,
    })
    // 03:00 UTC is 22:00 the day before in New York: the night shift starts then.
    expect(shiftAt(at('2025-01-10T03:00:00Z'), undefined, newYorkWinter)).toEqual({
      from: at('2025-01-10T03:00:00Z'),
      to: at('2025-01-10T11:00:00Z') - 1,
    })
  })

  it('a night shift over a clock change lasts 9 h (autumn) or 7 h (spring)', () => {
    const autumn = shiftAt(at('2025-10-26T03:00:00Z'), undefined, berlin2025)
    // 22:00 CEST on the 25th is 20:00 UTC; 06:00 CET on the 26th is 05:00 UTC.
    expect(autumn).toEqual({
      from: at('2025-10-25T20:00:00Z'),
      to: at('2025-10-26T05:00:00Z') - 1,
    })
    expect(autumn.to + 1 - autumn.from).toBe(9 * HOUR)
    const spring = shiftAt(at('2025-03-30T02:00:00Z'), undefined, berlin2025)
    // 22:00 CET on the 29th is 21:00 UTC; 06:00 CEST on the 30th is 04:00 UTC.
    expect(spring).toEqual({
      from: at('2025-03-29T21:00:00Z'),
      to: at('2025-03-30T04:00:00Z') - 1,
    })
  })

  it('other shift patterns: two shifts of 12 h from 07:00 and 19:00', () => {
    expect(shiftAt(at('2025-03-14T20:00:00Z'), [7, 19], utc)).toEqual({
      from: at('2025-03-14T19:00:00Z'),
      to: at('2025-03-15T07:00:00Z') - 1,
    })
    expect(shiftAt(at('2025-03-14T06:59:00Z'), [19, 7], utc).from).toBe(at('2025-03-13T19:00:00Z'))
    expect(() => shiftAt(0, [], utc)).toThrow(RangeError)
  })

  it('the presets end now: the last hour, this shift so far, the last 24 h, the last 7 days', () => {
    const now = at('2025-03-14T09:26:00Z')
    expect(presetRange('hour', now)).toEqual({ from: at('2025-03-14T08:26:00Z'), to: now })
    expect(presetRange('shift', now, { offset: utc })).toEqual({
      from: at('2025-03-14T06:00:00Z'),
      to: now,
    })
    expect(presetRange('shift', now, { offset: utc, starts: [0, 12] })).toEqual({
      from: at('2025-03-14T00:00:00Z'),
      to: now,
    })
    expect(presetRange('day', now)).toEqual({ from: at('2025-03-13T09:26:00Z'), to: now })
    expect(presetRange('week', now)).toEqual({ from: at('2025-03-07T09:26:00Z'), to: now })
  })

  it('pans by half the range, and not past now', () => {
    const now = at('2025-03-14T12:00:00Z')
    const r = { from: at('2025-03-14T06:00:00Z'), to: at('2025-03-14T10:00:00Z') }
    expect(panRange(r, -1, now)).toEqual({
      from: at('2025-03-14T04:00:00Z'),
      to: at('2025-03-14T08:00:00Z'),
    })
    expect(panRange(r, 1, now)).toEqual({
      from: at('2025-03-14T08:00:00Z'),
      to: at('2025-03-14T12:00:00Z'),
    })
    // One more step would pass now: it stops with the range ending now, the span kept.
    const later = panRange(
      { from: at('2025-03-14T09:00:00Z'), to: at('2025-03-14T11:00:00Z') },
      1,
      now,
    )
    expect(later).toEqual({ from: at('2025-03-14T10:00:00Z'), to: now })
    // A week back and forth returns where it was.
    const week = presetRange('week', now)
    expect(panRange(panRange(week, -1, now), 1, now)).toEqual(week)
  })

  it('zooms to the instants selected, in either order, at least MIN_SPAN_MS wide', () => {
    expect(zoomRange(5000_000, 1000_000)).toEqual({ from: 1000_000, to: 5000_000 })
    expect(zoomRange(1000, 1000)).toEqual({
      from: 1000 - MIN_SPAN_MS / 2,
      to: 1000 + MIN_SPAN_MS / 2,
    })
    expect(zoomRange(1000.4, 90_000.6)).toEqual({ from: 1000, to: 90_001 })
  })

  it('the time under an x position: interpolated between points, clamped at the ends', () => {
    // Positions by point index, as the control chart spaces them; a gap of downsampled points.
    const xs = [0, 1, 2, 10, 11]
    const ts = [1000, 2000, 3000, 11_000, 12_000]
    expect(timeAt(xs, ts, 1)).toBe(2000)
    expect(timeAt(xs, ts, 6)).toBe(7000)
    expect(timeAt(xs, ts, 2.5)).toBe(3500)
    expect(timeAt(xs, ts, -3)).toBe(1000)
    expect(timeAt(xs, ts, 99)).toBe(12_000)
    expect(timeAt([], [], 1)).toBeNull()
    expect(timeAt([4], [40], 9)).toBe(40)
  })

  it('buckets: the plot width in pixels, 1 … 10,000', () => {
    expect(bucketsFor(1840.4)).toBe(1840)
    expect(bucketsFor(0)).toBe(1)
    expect(bucketsFor(30_000)).toBe(10_000)
    expect(bucketsFor(Number.NaN)).toBe(1000)
  })

  it('datetime-local values in the local zone, both ways; impossible dates refused', () => {
    expect(toDateTimeLocal(at('2025-03-14T09:26:40Z'), cet)).toBe('2025-03-14T10:26')
    expect(fromDateTimeLocal('2025-03-14T10:26', cet)).toBe(at('2025-03-14T09:26:00Z'))
    expect(fromDateTimeLocal('2025-03-14T10:26:30', utc)).toBe(at('2025-03-14T10:26:30Z'))
    expect(fromDateTimeLocal('2025-02-31T10:00', utc)).toBeNull()
    expect(fromDateTimeLocal('2025-03-14T25:00', utc)).toBeNull()
    expect(fromDateTimeLocal('yesterday', utc)).toBeNull()
    // Clocks going back: 02:30 happens twice, the earlier is taken (CEST, 00:30 UTC).
    expect(fromDateTimeLocal('2025-10-26T02:30', berlin2025)).toBe(at('2025-10-26T00:30:00Z'))
    // Clocks going forward: 02:30 does not exist; read with the offset before, as Date does.
    expect(fromLocal(Date.UTC(2025, 2, 30, 2, 30), berlin2025)).toBe(at('2025-03-30T01:30:00Z'))
  })

  it('a custom range, or why it is refused', () => {
    expect(customRange('2025-03-14T06:00', '2025-03-14T14:00', utc)).toEqual({
      from: at('2025-03-14T06:00:00Z'),
      to: at('2025-03-14T14:00:00Z'),
    })
    expect(customRange('', '2025-03-14T14:00', utc)).toBe('Give the start as a date and time.')
    expect(customRange('2025-03-14T06:00', 'x', utc)).toBe('Give the end as a date and time.')
    expect(customRange('2025-03-14T14:00', '2025-03-14T06:00', utc)).toBe(
      'The end must be after the start.',
    )
  })

  it('spans in words', () => {
    expect(spanWords(45_000)).toBe('45 s')
    expect(spanWords(30 * 60_000)).toBe('30 min')
    expect(spanWords(8 * HOUR)).toBe('8 h')
    expect(spanWords(2.5 * HOUR)).toBe('2 h 30 min')
    expect(spanWords(7 * DAY)).toBe('7 d')
    expect(spanWords(2 * DAY + 12 * HOUR)).toBe('2 d 12 h')
  })

  it('point-axis ticks carry the date once the points span a day', () => {
    const t = at('2025-03-14T09:26:53Z')
    expect(pointTickLabel(t, 8 * HOUR, 'UTC')).toBe('09:26:53')
    expect(pointTickLabel(t, DAY, 'UTC')).toBe('03-14 09:26')
    expect(pointTickLabel(t, 7 * DAY, 'Europe/Berlin')).toBe('03-14 10:26')
  })
})
