import { describe, expect, it } from 'vitest'
import { latest } from '../gateway/reports/service.ts'
import {
  type RangeCapabilityInput,
  rangeCapability,
  sigmaWithinOf,
} from '../rules/reports/capability.ts'
import type { CapabilityReport } from '../rules/reports/shapes.ts'
import { reportCsv, reportTables } from '../rules/reports/tables.ts'

/**
 * Capability over a range (rules/reports/capability.ts): expected figures from the textbook
 * formulas written out here (Montgomery ch. 8), constants from the printed tables: d2(2) =
 * 1.128379 (2/√π), d2(5) = 2.325929, c4(5) = 0.939986, χ²(0.025; 25) = 13.1197,
 * χ²(0.975; 25) = 40.6465, z(0.975) = 1.959964, c4(17) = 0.9845.
 */

const POLICY = { threshold: 1.33, minReadings: 25 }
const T0 = Date.UTC(2026, 11, 6, 6)
const D2_2 = 2 / Math.sqrt(Math.PI)

/** 26 readings about 500 g, a deterministic wobble. */
const VALUES = Array.from(
  { length: 26 },
  (_, k) => 500 + 0.9 * Math.sin(k * 2.1) + 0.3 * Math.cos(k * 0.7),
)
const readings = VALUES.map((value, k) => ({ ts: T0 + k * 1000, value }))

function imr(overrides: Partial<RangeCapabilityInput> = {}): RangeCapabilityInput {
  return {
    chart: { type: 'imr', subgroup: { by: 'count', size: 1 } },
    spec: { lsl: 495, usl: 505 },
    policy: POLICY,
    readings,
    points: readings.map((r, k) => ({
      index: k,
      ts: r.ts,
      n: 1,
      panes: { i: { statistic: r.value } },
      rules: [],
    })),
    chartSigma: 0.5,
    ...overrides,
  }
}

function byHand(values: number[], lsl: number, usl: number) {
  const n = values.length
  const mean = values.reduce((s, x) => s + x, 0) / n
  let mr = 0
  for (let i = 1; i < n; i++) mr += Math.abs((values[i] as number) - (values[i - 1] as number))
  const sw = mr / (n - 1) / D2_2
  const so = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1))
  return {
    n,
    mean,
    sw,
    so,
    cp: (usl - lsl) / (6 * sw),
    cpk: Math.min(usl - mean, mean - lsl) / (3 * sw),
    pp: (usl - lsl) / (6 * so),
    ppk: Math.min(usl - mean, mean - lsl) / (3 * so),
  }
}

describe('capability over a range', () => {
  it('an I-MR chart: σ within MR̄/d2(2) of the range, σ overall the sample s, indices and bounds', () => {
    const want = byHand(VALUES, 495, 505)
    const got = rangeCapability(imr())
    expect(got.n).toBe(26)
    expect(got.sigmaWithinSource).toBe('mr')
    const c = got.capability!
    expect(c.mean).toBeCloseTo(want.mean, 10)
    expect(c.sigmaWithin).toBeCloseTo(want.sw, 10)
    expect(c.sigmaOverall).toBeCloseTo(want.so, 10)
    expect(c.cp).toBeCloseTo(want.cp, 9)
    expect(c.cpk).toBeCloseTo(want.cpk, 9)
    expect(c.pp).toBeCloseTo(want.pp, 9)
    expect(c.ppk).toBeCloseTo(want.ppk, 9)
    // χ² bounds with ν = n − 1 = 25, from the printed table (4 significant digits).
    expect(got.ppLower95! / (want.pp * Math.sqrt(13.1197 / 25))).toBeCloseTo(1, 4)
    expect(got.ppUpper95! / (want.pp * Math.sqrt(40.6465 / 25))).toBeCloseTo(1, 4)
    expect(c.cpLower95! / (want.cp * Math.sqrt(13.1197 / 25))).toBeCloseTo(1, 4)
    // Bissell: Ppk ∓ z·√(1/(9n) + Ppk²/(2(n−1))).
    const half = 1.959964 * Math.sqrt(1 / (9 * 26) + want.ppk ** 2 / (2 * 25))
    expect(got.ppkLower95).toBeCloseTo(want.ppk - half, 5)
    expect(got.ppkUpper95).toBeCloseTo(want.ppk + half, 5)
    expect(c.observedPpm).toBe(0)
    expect(got.signals).toBe(0)
    expect(got.verdict.verdict).toBe(
      want.cpk >= 1.33 && want.ppk >= 1.33 ? 'capable' : 'not-capable',
    )
    expect(got.firstTs).toBe(T0)
    expect(got.lastTs).toBe(T0 + 25_000)
  })

  it('a point of the range that signalled: not in statistical control, indices still reported', () => {
    const input = imr()
    const points = input.points.map((p) => (p.index === 7 ? { ...p, rules: ['N1', 'N5'] } : p))
    const got = rangeCapability({ ...input, points })
    expect(got.signals).toBe(1)
    expect(got.lastSignal).toEqual({ ts: T0 + 7000, index: 7, rules: ['N1', 'N5'] })
    expect(got.verdict.verdict).toBe('not-in-control')
    expect(got.verdict.words).toBe(
      'not in statistical control — capability indices are not a prediction',
    )
    expect(got.capability?.cpk).toBeCloseTo(byHand(VALUES, 495, 505).cpk, 9)
  })

  it('fewer readings than the policy asks: too few for a verdict, indices from two on', () => {
    const few = readings.slice(0, 10)
    const got = rangeCapability(imr({ readings: few, points: [] }))
    expect(got.verdict.verdict).toBe('too-few-readings')
    expect(got.verdict.words).toBe('too few readings for a verdict: 10 of 25')
    expect(got.capability?.cpk).toBeCloseTo(
      byHand(
        few.map((r) => r.value),
        495,
        505,
      ).cpk,
      9,
    )
    const one = rangeCapability(imr({ readings: few.slice(0, 1), points: [] }))
    expect(one.capability).toBeNull()
    expect(one.verdict.verdict).toBe('too-few-readings')
  })

  it('observed PPM counts values strictly outside; a value on a limit is in', () => {
    const values = [495, 505, 494.9, 500, 505.1, 500, 501, 499]
    const got = rangeCapability(
      imr({ readings: values.map((value, k) => ({ ts: T0 + k, value })), points: [] }),
    )
    expect(got.capability?.observedPpm).toBe((2 / 8) * 1e6)
  })

  it('an X̄-R chart: R̄/d2(n) over the R pane of the range’s points', () => {
    const ranges = [1.2, 0.8, 1.5, 0.9, 1.1, 1.3]
    const points = ranges.map((r, k) => ({
      index: k,
      ts: T0 + k * 5000,
      n: 5,
      panes: { xbar: { statistic: 500 }, r: { statistic: r } },
      rules: [],
    }))
    const want = ranges.reduce((s, r) => s + r, 0) / ranges.length / 2.325929
    const got = sigmaWithinOf(
      imr({ chart: { type: 'xbar-r', subgroup: { by: 'count', size: 5 } }, points }),
    )
    expect(got.source).toBe('rbar')
    expect(got.subgroups).toBe(6)
    expect(got.sigma! / want).toBeCloseTo(1, 6)
  })

  it('an X̄-S chart: s̄/c4(n) (sbar), or the pooled s/c4(d + 1)', () => {
    const sds = [0.5, 0.4, 0.6, 0.45]
    const points = sds.map((s, k) => ({
      index: k,
      ts: T0 + k,
      n: 5,
      panes: { xbar: { statistic: 500 }, s: { statistic: s } },
      rules: [],
    }))
    const chart = { type: 'xbar-s' as const, subgroup: { by: 'count' as const, size: 5 } }
    const sbar = sigmaWithinOf(imr({ chart, points }))
    expect(sbar.source).toBe('sbar')
    expect(sbar.sigma! / (sds.reduce((a, b) => a + b, 0) / 4 / 0.939986)).toBeCloseTo(1, 6)
    const pooled = sigmaWithinOf(imr({ chart: { ...chart, sigmaMethod: 'pooled' }, points }))
    expect(pooled.source).toBe('pooled')
    // s_p = √(Σ4sᵢ²/16); c4(17) = 0.9845 (Montgomery, Appendix VI, 4 decimals).
    const sp = Math.sqrt(sds.reduce((a, s) => a + 4 * s * s, 0) / 16)
    expect(pooled.sigma! / (sp / 0.9845)).toBeCloseTo(1, 4)
  })

  it('EWMA on subgroups has no dispersion in its points: the σ of the chart’s limits, else none', () => {
    const chart = { type: 'ewma' as const, subgroup: { by: 'count' as const, size: 4 } }
    expect(sigmaWithinOf(imr({ chart, chartSigma: 0.42 }))).toEqual({
      sigma: 0.42,
      source: 'chart',
      subgroups: null,
    })
    const none = rangeCapability(imr({ chart, chartSigma: null }))
    expect(none.sigmaWithinSource).toBe('none')
    expect(none.capability?.cp).toBeNull()
    expect(none.capability?.pp).not.toBeNull()
  })
})

describe('the capability table and CSV', () => {
  it('carry every figure, the CSV in full precision', () => {
    const found = rangeCapability(imr())
    const report: CapabilityReport = {
      kind: 'capability',
      title: 'Capability summary',
      plant: 'Test plant, "A"',
      from: T0,
      to: T0 + 86_400_000,
      generatedAt: T0 + 86_400_000,
      notes: ['a note'],
      area: null,
      rows: [
        {
          id: 'fill-weight',
          name: '=Fill weight',
          path: 'Plant/Filling',
          unit: 'g',
          chart: 'imr',
          lsl: 495,
          usl: 505,
          target: 500,
          truncated: false,
          ...found,
        },
      ],
      skipped: [],
    }
    const [table] = reportTables(report)
    expect(table?.rows[0]?.cpk).toBe(found.capability?.cpk)
    const csv = reportCsv(report)
    expect(csv.startsWith('\uFEFF')).toBe(true)
    const lines = csv.slice(1).split('\r\n')
    expect(lines).toContain('plant,"Test plant, ""A"""')
    const header = lines.indexOf('Capability per characteristic') + 1
    const columns = (lines[header] as string).split(',')
    const cells = (lines[header + 1] as string).split(',')
    expect(cells[columns.indexOf('cpk')]).toBe(String(found.capability?.cpk))
    // A name starting with "=" is guarded against spreadsheet formulas.
    expect(cells[columns.indexOf('name')]).toBe("'=Fill weight")
    expect(cells[columns.indexOf('first reading')]).toBe(new Date(T0).toISOString())
  })
})

describe('reading a range from the store', () => {
  /** A store over an array of readings one second apart, recording each query. */
  function fakeStore(count: number, start: number) {
    const all = Array.from({ length: count }, (_, k) => ({ ts: start + k * 1000, value: k }))
    const queries: { from: number; to: number; limit: number; rows: number }[] = []
    return {
      queries,
      store: {
        async readings(q: { characteristic: string; from: number; to: number; limit: number }) {
          const rows = all.filter((r) => r.ts >= q.from && r.ts <= q.to).slice(-q.limit)
          queries.push({ from: q.from, to: q.to, limit: q.limit, rows: rows.length })
          return rows
        },
      },
    }
  }

  it('gives every reading of [from, to) in order, in windows of bounded size', async () => {
    const { store, queries } = fakeStore(100_000, T0)
    const from = T0 + 5000
    const to = T0 + 90_000_000
    const got = await latest(store, 'readings', 'x', from, to, 1_000_000)
    expect(got.truncated).toBe(false)
    expect(got.rows.length).toBe(90_000 - 5)
    expect(got.rows[0]?.ts).toBe(from)
    expect(got.rows.at(-1)?.ts).toBe(to - 1000)
    expect(got.rows.every((r, k) => k === 0 || r.ts > (got.rows[k - 1] as { ts: number }).ts)).toBe(
      true,
    )
    expect(queries.length).toBeGreaterThan(3)
    expect(Math.max(...queries.map((q) => q.rows))).toBeLessThanOrEqual(8 * 20_000)
  })

  it('keeps the latest `cap` when the range holds more, and says so', async () => {
    const { store } = fakeStore(100_000, T0)
    const got = await latest(store, 'readings', 'x', T0, T0 + 100_000_000, 30_000)
    expect(got.truncated).toBe(true)
    expect(got.rows.length).toBe(30_000)
    expect(got.rows[0]?.value).toBe(70_000)
    expect(got.rows.at(-1)?.value).toBe(99_999)
    const exact = await latest(store, 'readings', 'x', T0, T0 + 100_000_000, 100_000)
    expect(exact.truncated).toBe(false)
  })
})
