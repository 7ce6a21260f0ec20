import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  chartM4Options,
  downsample,
  downsampleChart,
  downsampleReadings,
  M4,
  readingValues,
} from '../rules/downsample.ts'

interface Reading {
  ts: number
  value: number
}

interface Point {
  index: number
  ts: number
  panes: Record<string, { statistic: number | null; upper?: number; lower?: number }>
  rules: string[]
}

/** Bucket of a time stamp, written out here from the definition (not taken from the code). */
function bucket(ts: number, from: number, to: number, buckets: number): number {
  const k = Math.floor(((ts - from) * buckets) / (to - from + 1))
  return Math.min(buckets - 1, Math.max(0, k))
}

/** A steady series with a few-per-mille wiggle, one reading a second. */
function steady(count: number, t0 = 1_700_000_000_000): Reading[] {
  return Array.from({ length: count }, (_, k) => ({
    ts: t0 + k * 1000,
    value: 10 + 0.01 * Math.sin(k * 0.7) + 0.005 * Math.cos(k * 1.3),
  }))
}

/** I-MR points over readings (MR from the previous reading), rules given by position. */
function imr(readings: Reading[], rules: Record<number, string[]> = {}): Point[] {
  return readings.map((r, k) => ({
    index: k,
    ts: r.ts,
    panes: {
      i: { statistic: r.value },
      mr: { statistic: k === 0 ? null : Math.abs(r.value - (readings[k - 1] as Reading).value) },
    },
    rules: rules[k] ?? [],
  }))
}

describe('M4 downsampling (rules/downsample.ts)', () => {
  it('keeps, per bucket, the first, the last, the smallest and the largest: a hand-worked case', () => {
    // Two buckets over [0, 7]: bucket 0 holds ts 0..3, bucket 1 ts 4..7.
    const r = [5, 1, 9, 4, 3, 3, 8, 6].map((value, ts) => ({ ts, value }))
    const out = downsampleReadings(r, 2, { from: 0, to: 7 })
    // Bucket 0: first ts 0 (5), min ts 1 (1), max ts 2 (9), last ts 3 (4): all four.
    // Bucket 1: first ts 4 (3), min ts 4 (3, the earlier of the two 3s), max ts 6 (8), last ts 7 (6).
    expect(out.map((p) => p.ts)).toEqual([0, 1, 2, 3, 4, 6, 7])
    // Real points, the very objects given.
    for (const p of out) expect(r).toContain(p)
  })

  it('an out-of-control spike survives every bucket count, with its value', () => {
    const readings = steady(3600)
    readings[1789] = { ts: readings[1789]?.ts as number, value: 14.2 }
    const points = imr(readings, { 1789: ['N1'] })
    for (const buckets of [1, 2, 3, 7, 10, 64, 100, 333, 1000, 3599]) {
      const chart = downsampleChart(points, buckets)
      const spike = chart.find((p) => p.index === 1789)
      expect(spike?.panes.i?.statistic, `buckets ${buckets}`).toBe(14.2)
      const raw = downsampleReadings(readings, buckets)
      expect(Math.max(...raw.map((p) => p.value)), `buckets ${buckets}`).toBe(14.2)
    }
  })

  it('a flagged point that is no extreme is kept too (a run rule at an ordinary value)', () => {
    const readings = steady(1000)
    // The point completing N2 sits in the middle of the band: M4 alone would not keep it.
    const points = imr(readings, { 500: ['N2'], 501: ['N2'] })
    const out = downsampleChart(points, 5)
    expect(out.some((p) => p.index === 500)).toBe(true)
    expect(out.some((p) => p.index === 501)).toBe(true)
    // And without the flag it is not kept: the test above is not vacuous.
    expect(downsampleChart(imr(readings), 5).some((p) => p.index === 500)).toBe(false)
  })

  it('at most 4·buckets points for one value, 2 + 2·values per bucket for several, plus the flagged ones', () => {
    const readings = steady(20_000)
    const flaggedAt = [10, 4000, 4001, 12_345, 19_999]
    const rules = Object.fromEntries(flaggedAt.map((k) => [k, ['N1']]))
    for (const buckets of [1, 10, 333, 1920, 4999]) {
      expect(downsampleReadings(readings, buckets).length).toBeLessThanOrEqual(4 * buckets)
      const one = imr(readings, rules).map((p) => ({
        ...p,
        panes: { i: p.panes.i as Point['panes'][string] },
      }))
      expect(downsampleChart(one, buckets).length).toBeLessThanOrEqual(
        4 * buckets + flaggedAt.length,
      )
      expect(downsampleChart(imr(readings, rules), buckets).length).toBeLessThanOrEqual(
        6 * buckets + flaggedAt.length,
      )
    }
  })

  it('a series no longer than the bucket count is returned unchanged', () => {
    const readings = steady(50)
    const points = imr(readings, { 7: ['N1'] })
    for (const buckets of [50, 51, 1000]) {
      const r = downsampleReadings(readings, buckets)
      expect(r).toEqual(readings)
      r.forEach((p, k) => {
        expect(p).toBe(readings[k])
      })
      expect(downsampleChart(points, buckets)).toEqual(points)
    }
    expect(downsampleReadings([], 10)).toEqual([])
    // One fewer bucket than points: now it is downsampled (a bucket of 2 readings keeps both,
    // but fewer buckets than points is the other branch: still only real points, in order).
    const fewer = downsampleReadings(readings, 49)
    expect(fewer.every((p, k) => k === 0 || (fewer[k - 1] as Reading).ts < p.ts)).toBe(true)
  })

  it('CUSUM: the extremes of C⁺ and C⁻ are kept, not only those of the standardized value', () => {
    const points: Point[] = Array.from({ length: 400 }, (_, k) => ({
      index: k,
      ts: k * 10,
      panes: { cusum: { statistic: 0, upper: k === 123 ? 9 : 0.1, lower: k === 321 ? 7 : 0.2 } },
      rules: [],
    }))
    const out = downsampleChart(points, 3)
    expect(out.some((p) => p.index === 123)).toBe(true)
    expect(out.some((p) => p.index === 321)).toBe(true)
  })

  it('fed page by page, newest page first (as the API reads a range), the same as all at once', () => {
    const readings = steady(10_000)
    readings[7777] = { ts: readings[7777]?.ts as number, value: 3 }
    const points = imr(readings, { 7777: ['N1'], 42: ['N5'] })
    const range = { from: points[0]?.ts as number, to: points.at(-1)?.ts as number }
    const whole = downsampleChart(points, 640, range)
    const m4 = new M4(chartM4Options(640, range))
    for (let end = points.length; end > 0; end -= 1500) {
      for (const p of points.slice(Math.max(0, end - 1500), end)) m4.add(p)
    }
    expect(m4.count).toBe(points.length)
    expect(m4.result()).toEqual(whole)
  })

  it('refuses a bucket count below one and a reversed range', () => {
    expect(() => new M4<Reading>({ buckets: 0, from: 0, to: 1, values: readingValues })).toThrow(
      RangeError,
    )
    expect(() => new M4<Reading>({ buckets: 2.5, from: 0, to: 1, values: readingValues })).toThrow(
      RangeError,
    )
    expect(() => new M4<Reading>({ buckets: 2, from: 5, to: 1, values: readingValues })).toThrow(
      RangeError,
    )
  })

  it('property: real points in time order, each once; per bucket the input’s first, last, min and max', () => {
    const series = fc.array(
      fc.record({
        ts: fc.integer({ min: 0, max: 5000 }),
        value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      }),
      { minLength: 1, maxLength: 400 },
    )
    fc.assert(
      fc.property(series, fc.integer({ min: 1, max: 60 }), (input, buckets) => {
        const from = Math.min(...input.map((r) => r.ts))
        const to = Math.max(...input.map((r) => r.ts))
        const out = downsample(input, { buckets, values: readingValues })
        if (input.length <= buckets) {
          // Unchanged, in the order given.
          expect(out).toEqual(input)
          out.forEach((p, k) => {
            expect(p).toBe(input[k])
          })
          return
        }
        // Real points (the very objects), each once, in time order.
        expect(new Set(out).size).toBe(out.length)
        for (const p of out) expect(input.includes(p)).toBe(true)
        for (let k = 1; k < out.length; k++)
          expect((out[k] as Reading).ts).toBeGreaterThanOrEqual((out[k - 1] as Reading).ts)
        expect(out.length).toBeLessThanOrEqual(4 * buckets)
        const per = (list: Reading[]) => {
          const m = new Map<number, { min: number; max: number; first: number; last: number }>()
          for (const r of list) {
            const k = bucket(r.ts, from, to, buckets)
            const b = m.get(k)
            if (!b) m.set(k, { min: r.value, max: r.value, first: r.ts, last: r.ts })
            else {
              b.min = Math.min(b.min, r.value)
              b.max = Math.max(b.max, r.value)
              b.first = Math.min(b.first, r.ts)
              b.last = Math.max(b.last, r.ts)
            }
          }
          return m
        }
        // Every bucket with input has output, with the same extremes of value and of time.
        expect(per(out)).toEqual(per(input))
      }),
      { numRuns: 300 },
    )
  })

  it('property: every flagged chart point is kept; per bucket each pane’s min and max are the input’s', () => {
    const points = fc
      .array(
        fc.record({
          dt: fc.integer({ min: 0, max: 50 }),
          i: fc.double({ min: -100, max: 100, noNaN: true }),
          mr: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }),
          flag: fc.boolean(),
        }),
        { minLength: 1, maxLength: 300 },
      )
      .map((rows) => {
        let ts = 1000
        return rows.map((r, index): Point => {
          ts += r.dt
          return {
            index,
            ts,
            panes: { i: { statistic: r.i }, mr: { statistic: r.mr } },
            rules: r.flag && index % 7 === 0 ? ['N1'] : [],
          }
        })
      })
    fc.assert(
      fc.property(points, fc.integer({ min: 1, max: 40 }), (input, buckets) => {
        const from = input[0]?.ts as number
        const to = input.at(-1)?.ts as number
        const out = downsampleChart(input, buckets)
        for (const p of input) if (p.rules.length > 0) expect(out.includes(p)).toBe(true)
        if (input.length > buckets) {
          const flaggedCount = input.filter((p) => p.rules.length > 0).length
          expect(out.length).toBeLessThanOrEqual(6 * buckets + flaggedCount)
        }
        for (const pane of ['i', 'mr']) {
          const per = (list: Point[]) => {
            const m = new Map<number, [number, number]>()
            for (const p of list) {
              const v = p.panes[pane]?.statistic
              if (v === null || v === undefined) continue
              const k = bucket(p.ts, from, to, buckets)
              const b = m.get(k)
              m.set(k, b ? [Math.min(b[0], v), Math.max(b[1], v)] : [v, v])
            }
            return m
          }
          expect(per(out)).toEqual(per(input))
        }
      }),
      { numRuns: 300 },
    )
  })
})
