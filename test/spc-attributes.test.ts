import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { np as npKind, p as pKind } from '../rules/charts/attributes.ts'
import {
  type ChartEvent,
  type ChartStep,
  checkObservation,
  type PaneSlots,
  validateChart,
} from '../rules/charts/index.ts'
import type { ChartSpec, ChartType } from '../rules/spec.ts'
import type { ChartPoint, Observation, ProcessLimits } from '../rules/types.ts'
import { drawn, run } from './helpers/spc.ts'

/**
 * The attributes charts p, np, c and u. Textbook figures come from Montgomery, Introduction to
 * Statistical Quality Control (6th ed.), ch. 7: the orange-juice cans (30 samples of n = 50,
 * 347 nonconforming cans, p̄ = 0.2313), the printed circuit boards (26 samples of 100 boards,
 * 516 nonconformities, c̄ = 19.85) and the personal computers (20 samples of 5, 193
 * nonconformities, ū = 1.93). Everything else is checked against the plain batch formula
 * written here, and says so.
 */

const ORANGE_JUICE = [
  12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7,
  13, 9, 6,
]
const CIRCUIT_BOARDS = [
  21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17,
  15,
]
const COMPUTERS = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]

type Attr = Extract<ChartType, 'p' | 'np' | 'c' | 'u'>

function spec(type: Attr, over: Partial<ChartSpec> = {}): ChartSpec {
  return {
    type,
    subgroup: { by: 'count', size: 1 },
    baseline: { subgroups: 20 },
    excludeOutOfControl: false,
    rules: ['N1', 'N2'],
    ...over,
  }
}

const samples = (
  counts: readonly number[],
  size: number | readonly number[] | undefined,
): Observation[] =>
  counts.map((value, i) => ({
    ts: 60_000 * (i + 1),
    value,
    ...(size === undefined ? {} : { size: typeof size === 'number' ? size : (size[i] as number) }),
  }))

function established(
  steps: readonly ChartStep[],
): Extract<ChartEvent, { type: 'limits-established' }> {
  for (const step of steps)
    for (const e of step.events) if (e.type === 'limits-established') return e
  throw new Error('no limits established')
}

function pane(p: ChartPoint | undefined, name: string) {
  const value = p?.panes[name]
  if (!value) throw new Error(`no pane ${name}`)
  return value
}

const num = (x: number | null | undefined): number => {
  if (x === null || x === undefined) throw new Error('expected a number')
  return x
}

function close(a: number | null | undefined, b: number): boolean {
  return a !== null && a !== undefined && Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b))
}

/** Samples (1-based) flagged by a rule. */
const flagged = (points: readonly ChartPoint[], rule = 'N1') =>
  points.filter((p) => p.violations.some((v) => v.rule === rule)).map((p) => p.index + 1)

/** Batch three-sigma lines, written out per chart (Montgomery ch. 7). */
function batchLines(
  type: Attr,
  center: number,
  n: number,
): { center: number; lcl: number; ucl: number; sigma: number } {
  switch (type) {
    case 'p': {
      const sigma = Math.sqrt((center * (1 - center)) / n)
      return {
        center,
        sigma,
        lcl: Math.max(0, center - 3 * sigma),
        ucl: Math.min(1, center + 3 * sigma),
      }
    }
    case 'np': {
      const sigma = Math.sqrt(n * center * (1 - center))
      return {
        center: n * center,
        sigma,
        lcl: Math.max(0, n * center - 3 * sigma),
        ucl: Math.min(n, n * center + 3 * sigma),
      }
    }
    case 'c': {
      const sigma = Math.sqrt(center)
      return { center, sigma, lcl: Math.max(0, center - 3 * sigma), ucl: center + 3 * sigma }
    }
    case 'u': {
      const sigma = Math.sqrt(center / n)
      return { center, sigma, lcl: Math.max(0, center - 3 * sigma), ucl: center + 3 * sigma }
    }
  }
}

describe('p chart: Montgomery, Introduction to SQC, ch. 7, orange-juice cans (30 samples of n = 50)', () => {
  const s = spec('p', { baseline: { subgroups: 30 } })
  const steps = run(s, samples(ORANGE_JUICE, 50)).steps
  const points = drawn(steps)

  it('p̄ = 347/1500 = 0.2313, UCL = 0.4102, LCL = 0.0524', () => {
    const { limits } = established(steps)
    expect(limits.center).toBe(347 / 1500)
    expect(limits.sigma).toBe(0)
    expect(limits.basis).toMatchObject({
      kind: 'estimated',
      count: 30,
      excluded: 0,
      method: 'pbar',
    })
    const p1 = pane(points[0], 'p')
    expect(num(p1.center).toFixed(4)).toBe('0.2313')
    expect(num(p1.ucl).toFixed(4)).toBe('0.4102')
    expect(num(p1.lcl).toFixed(4)).toBe('0.0524')
    expect(points.every((p) => pane(p, 'p').ucl === p1.ucl && pane(p, 'p').lcl === p1.lcl)).toBe(
      true,
    )
    expect(pane(points[14], 'p').statistic).toBe(22 / 50)
  })

  it('N1: samples 15 and 23 plot above the UCL', () => {
    expect(flagged(points)).toEqual([15, 23])
    expect(points[14]?.violations).toEqual([{ rule: 'N1', pane: 'p', indices: [14] }])
  })

  it('revised limits with the textbook p̄ = 301/1400 = 0.2150 given: UCL 0.3893, LCL 0.0407; sample 21 (p̂ = 0.40) now exceeds the UCL', () => {
    const revised = drawn(
      run(spec('p', { given: { center: 301 / 1400 } }), samples(ORANGE_JUICE, 50)).steps,
    )
    expect(num(pane(revised[0], 'p').ucl).toFixed(4)).toBe('0.3893')
    expect(num(pane(revised[0], 'p').lcl).toFixed(4)).toBe('0.0407')
    expect(revised.every((p) => p.phase === 'monitor')).toBe(true)
    expect(flagged(revised)).toEqual([15, 21, 23])
  })

  it('excludeOutOfControl (computed): rounds leave out 15 and 23, then 21; p̄ = 281/1350, and the excluded points are marked', () => {
    const excl = run(
      spec('p', { baseline: { subgroups: 30 }, excludeOutOfControl: true }),
      samples(ORANGE_JUICE, 50),
    ).steps
    const { limits, baseline } = established(excl)
    expect(close(limits.center, 281 / 1350)).toBe(true)
    expect(limits.basis).toMatchObject({ count: 27, excluded: 3 })
    expect(baseline.filter((p) => p.excluded).map((p) => p.index + 1)).toEqual([15, 21, 23])
  })
})

describe('np chart', () => {
  it('the orange-juice cans on an np chart (computed): centre 50·p̄ = 11.57, limits 50 × the p chart’s = 20.51 / 2.62, N1 at 15 and 23', () => {
    const pPoints = drawn(
      run(spec('p', { baseline: { subgroups: 30 } }), samples(ORANGE_JUICE, 50)).steps,
    )
    const steps = run(spec('np', { baseline: { subgroups: 30 } }), samples(ORANGE_JUICE, 50)).steps
    const points = drawn(steps)
    expect(established(steps).limits.center).toBe(347 / 1500) // the limits' centre is p̄, not n·p̄
    const first = pane(points[0], 'np')
    expect(num(first.center).toFixed(2)).toBe('11.57')
    expect(num(first.ucl).toFixed(2)).toBe('20.51')
    expect(num(first.lcl).toFixed(2)).toBe('2.62')
    expect(Math.abs(num(first.ucl) - 50 * num(pane(pPoints[0], 'p').ucl))).toBeLessThan(1e-12)
    expect(Math.abs(num(first.lcl) - 50 * num(pane(pPoints[0], 'p').lcl))).toBeLessThan(1e-12)
    expect(pane(points[14], 'np').statistic).toBe(22)
    expect(flagged(points)).toEqual([15, 23])
  })

  it('varying n (batch formula): centre nᵢp̄ and limits per point; N2 judges each point against its own centre', () => {
    // Given p = 0.1: samples of 100 (centre 10) with 11 defectives, of 10 (centre 1) with 2.
    // Every point is above its own centre: N2 (nine in a row) at the ninth. Against one centre
    // (e.g. n̄p = 5.5) the samples of 10 would lie below it.
    const sizes = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 100 : 10))
    const counts = sizes.map((n) => (n === 100 ? 11 : 2))
    const points = drawn(run(spec('np', { given: { center: 0.1 } }), samples(counts, sizes)).steps)
    points.forEach((p, i) => {
      const b = batchLines('np', 0.1, sizes[i] as number)
      const got = pane(p, 'np')
      expect(close(got.center, b.center) && close(got.ucl, b.ucl) && close(got.lcl, b.lcl)).toBe(
        true,
      )
    })
    expect(flagged(points, 'N1')).toEqual([])
    expect(flagged(points, 'N2')).toEqual([9, 10])
    expect(points[8]?.violations).toEqual([
      { rule: 'N2', pane: 'np', indices: [0, 1, 2, 3, 4, 5, 6, 7, 8] },
    ])
  })
})

describe('c chart: Montgomery, Introduction to SQC, ch. 7, nonconformities on 26 samples of 100 printed circuit boards', () => {
  it('c̄ = 516/26 = 19.85, UCL = 33.21 (the book, rounding c̄ first: 33.22), LCL = 6.48; N1 at samples 6 and 20', () => {
    const steps = run(
      spec('c', { baseline: { subgroups: 26 } }),
      samples(CIRCUIT_BOARDS, undefined),
    ).steps
    const points = drawn(steps)
    expect(established(steps).limits.center).toBe(516 / 26)
    const first = pane(points[0], 'c')
    expect(num(first.center).toFixed(2)).toBe('19.85')
    expect(num(first.ucl).toFixed(2)).toBe('33.21') // 19.846 + 3·√19.846; the book's 33.22 is 19.85 + 3·√19.85
    expect(Math.abs(num(first.ucl) - 33.22)).toBeLessThan(0.01)
    expect(num(first.lcl).toFixed(2)).toBe('6.48')
    expect(flagged(points)).toEqual([6, 20])
  })

  it('revised (excludeOutOfControl, as the book revises): samples 6 and 20 left out, c̄ = 472/24 = 19.67, UCL 32.97, LCL 6.36', () => {
    const steps = run(
      spec('c', { baseline: { subgroups: 26 }, excludeOutOfControl: true }),
      samples(CIRCUIT_BOARDS, undefined),
    ).steps
    const { limits, baseline } = established(steps)
    expect(close(limits.center, 472 / 24)).toBe(true)
    expect(limits.basis).toMatchObject({ count: 24, excluded: 2, method: 'cbar' })
    expect(baseline.filter((p) => p.excluded).map((p) => p.index + 1)).toEqual([6, 20])
    const first = pane(baseline[0], 'c')
    expect(num(first.center).toFixed(2)).toBe('19.67')
    expect(num(first.ucl).toFixed(2)).toBe('32.97')
    expect(num(first.lcl).toFixed(2)).toBe('6.36')
    expect(flagged(baseline)).toEqual([6, 20])
  })
})

describe('u chart', () => {
  it('Montgomery, Introduction to SQC, ch. 7, personal computers (20 samples of 5): ū = 1.93, UCL 3.79, LCL 0.07, in control', () => {
    const steps = run(spec('u'), samples(COMPUTERS, 5)).steps
    const points = drawn(steps)
    expect(established(steps).limits).toMatchObject({
      center: 193 / 100,
      sigma: 0,
      basis: { method: 'ubar' },
    })
    const first = pane(points[0], 'u')
    expect(num(first.center).toFixed(2)).toBe('1.93')
    expect(num(first.ucl).toFixed(2)).toBe('3.79')
    expect(num(first.lcl).toFixed(2)).toBe('0.07')
    expect(pane(points[5], 'u').statistic).toBe(16 / 5)
    expect(points.flatMap((p) => p.violations)).toEqual([])
  })

  it('varying inspection units (batch formula): ū = Σc/Σn, limits ū ± 3√(ū/nᵢ) per point, fractional units allowed', () => {
    const units = [2, 0.5, 4, 1.5, 3, 2.5, 1, 2]
    const counts = [5, 1, 7, 4, 6, 3, 2, 14]
    const steps = run(spec('u', { baseline: { subgroups: 7 } }), samples(counts, units)).steps
    const points = drawn(steps)
    const ubar =
      counts.slice(0, 7).reduce((a, b) => a + b, 0) / units.slice(0, 7).reduce((a, b) => a + b, 0)
    expect(close(established(steps).limits.center, ubar)).toBe(true)
    points.forEach((p, i) => {
      const b = batchLines('u', ubar, units[i] as number)
      const got = pane(p, 'u')
      expect(close(got.statistic, (counts[i] as number) / (units[i] as number))).toBe(true)
      expect(close(got.ucl, b.ucl) && close(got.lcl, b.lcl) && close(got.center, b.center)).toBe(
        true,
      )
    })
    expect(flagged(points)).toEqual([8]) // u₈ = 7 > ū + 3√(ū/2)
  })
})

describe('p chart with varying n: each point against its own limits and zones', () => {
  it('N1 per point (batch formula): p̂ = 0.15 with n = 400 is beyond (UCL 0.145), p̂ = 0.16 with n = 25 is not (UCL 0.28)', () => {
    const points = drawn(
      run(spec('p', { given: { center: 0.1 } }), samples([60, 4, 10], [400, 25, 100])).steps,
    )
    expect(points.map((p) => num(pane(p, 'p').ucl).toFixed(3))).toEqual(['0.145', '0.280', '0.190'])
    expect(points.map((p) => num(pane(p, 'p').lcl).toFixed(3))).toEqual(['0.055', '0.000', '0.010'])
    expect(flagged(points)).toEqual([1])
  })

  it('N5 (2 of 3 beyond 2σ) on each point’s own zones: p̂ = 0.135 with n = 400 is 2.33σᵢ out, with n = 200 only 1.65σᵢ', () => {
    // Given p = 0.1: σᵢ = 0.015 for n = 400 (2σ line 0.13, UCL 0.145), 0.06 for n = 25.
    const s = spec('p', { given: { center: 0.1 }, rules: ['N1', 'N5'] })
    const mixed = drawn(run(s, samples([54, 3, 54], [400, 25, 400])).steps)
    expect(flagged(mixed, 'N1')).toEqual([])
    expect(flagged(mixed, 'N5')).toEqual([3])
    expect(mixed[2]?.violations[0]?.indices).toEqual(expect.arrayContaining([0, 2]))
    // The same p̂ = 0.135 in samples of 200 is 1.65σᵢ out (σᵢ = 0.0212): inside the 2σ zone.
    const wider = drawn(run(s, samples([27, 3, 27], [200, 25, 200])).steps)
    expect(wider.flatMap((p) => p.violations)).toEqual([])
  })

  it('the pane carries σᵢ = √(p̄(1−p̄)/nᵢ) (np: √(nᵢp̄(1−p̄))), so the zone rules use each point’s own zones', () => {
    const s = spec('p', { given: { center: 0.1 } })
    const limits: ProcessLimits = { center: 0.1, sigma: 0, basis: { kind: 'given' } }
    const sg = (count: number, size: number) => ({
      firstTs: 0,
      ts: 0,
      n: 1,
      mean: count,
      m2: 0,
      min: count,
      max: count,
      count,
      size,
    })
    const zoneSigma = (kind: typeof pKind, n: number) => {
      const out: PaneSlots = { panes: [] }
      kind.point(s, limits, null, sg(3, n), 0, out)
      return out.panes[0]?.sigma ?? undefined
    }
    for (const n of [25, 100, 400]) {
      expect(close(zoneSigma(pKind, n), Math.sqrt(0.09 / n))).toBe(true)
      expect(close(zoneSigma(npKind, n), Math.sqrt(0.09 * n))).toBe(true)
    }
  })

  it('streaming equals the batch formula, and the state survives a JSON round trip mid-stream (fast-check, p and np)', () => {
    const sample = fc
      .integer({ min: 1, max: 200 })
      .chain((n) => fc.record({ size: fc.constant(n), count: fc.integer({ min: 0, max: n }) }))
    fc.assert(
      fc.property(
        fc.array(sample, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom<Attr>('p', 'np'),
        fc.nat(),
        (xs, m, type, cutSeed) => {
          const input = xs.map((x, i) => ({ ts: i, value: x.count, size: x.size }))
          const s = spec(type, { baseline: { subgroups: m }, rules: ['N1', 'N2', 'WE4'] })
          const whole = run(s, input)
          const resumed = run(s, input, cutSeed % input.length)
          expect(resumed.steps).toEqual(whole.steps)
          expect(resumed.state).toEqual(whole.state)
          const base = xs.slice(0, m)
          const pbar = base.reduce((a, x) => a + x.count, 0) / base.reduce((a, x) => a + x.size, 0)
          if (xs.length < m || pbar === 0 || pbar === 1) return
          const points = drawn(whole.steps)
          expect(points).toHaveLength(xs.length)
          points.forEach((p, i) => {
            const x = xs[i] as { size: number; count: number }
            const b = batchLines(type, pbar, x.size)
            const got = pane(p, type)
            const stat = type === 'p' ? x.count / x.size : x.count
            expect(
              close(got.statistic, stat) &&
                close(got.center, b.center) &&
                close(got.ucl, b.ucl) &&
                close(got.lcl, b.lcl),
            ).toBe(true)
            expect(p.violations.some((v) => v.rule === 'N1')).toBe(
              stat > num(got.ucl) || stat < num(got.lcl),
            )
          })
        },
      ),
    )
  })
})

describe('c and u charts: streaming equals batch, JSON round trip (fast-check)', () => {
  it('c (any size ignored) and u (fractional inspection units)', () => {
    const sample = fc.record({
      count: fc.integer({ min: 0, max: 40 }),
      size: fc.integer({ min: 1, max: 20 }).map((x) => x / 4),
    })
    fc.assert(
      fc.property(
        fc.array(sample, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom<Attr>('c', 'u'),
        fc.nat(),
        (xs, m, type, cutSeed) => {
          const input = xs.map((x, i) => ({ ts: i, value: x.count, size: x.size }))
          const s = spec(type, { baseline: { subgroups: m } })
          const whole = run(s, input)
          const resumed = run(s, input, cutSeed % input.length)
          expect(resumed.steps).toEqual(whole.steps)
          expect(resumed.state).toEqual(whole.state)
          const base = xs.slice(0, m)
          const total = base.reduce((a, x) => a + x.count, 0)
          const center =
            type === 'c' ? total / base.length : total / base.reduce((a, x) => a + x.size, 0)
          if (xs.length < m || center === 0) return
          drawn(whole.steps).forEach((p, i) => {
            const x = xs[i] as { size: number; count: number }
            const n = type === 'c' ? 1 : x.size
            const b = batchLines(type, center, n)
            const got = pane(p, type)
            expect(
              close(got.statistic, x.count / n) &&
                close(got.center, b.center) &&
                close(got.ucl, b.ucl) &&
                close(got.lcl, b.lcl),
            ).toBe(true)
          })
        },
      ),
    )
  })
})

describe('truncation of the limits', () => {
  it('LCL at 0 (p, np, c, u): a point at 0 is in control', () => {
    for (const [type, center, size] of [
      ['p', 0.1, 25],
      ['np', 0.1, 25],
      ['c', 4, undefined],
      ['u', 1, 2],
    ] as const) {
      const points = drawn(run(spec(type, { given: { center } }), samples([0], size)).steps)
      expect(pane(points[0], type).lcl).toBe(0)
      expect(points[0]?.violations).toEqual([])
    }
  })

  it('UCL of p at 1 and of np at n (p = 0.5, n = 2: p̄ + 3σ = 1.56): all units defective is in control', () => {
    const p = drawn(run(spec('p', { given: { center: 0.5 } }), samples([2], 2)).steps)
    expect([pane(p[0], 'p').lcl, pane(p[0], 'p').ucl, pane(p[0], 'p').statistic]).toEqual([0, 1, 1])
    expect(p[0]?.violations).toEqual([])
    const np = drawn(run(spec('np', { given: { center: 0.5 } }), samples([2], 2)).steps)
    expect([pane(np[0], 'np').lcl, pane(np[0], 'np').ucl, pane(np[0], 'np').statistic]).toEqual([
      0, 2, 2,
    ])
    expect(np[0]?.violations).toEqual([])
  })
})

describe('Phase I, observations and validation', () => {
  it('Phase I shows p̂, the count or u without limits (the preview)', () => {
    const first = (type: Attr) => run(spec(type), samples([3], 4)).steps[0]?.points[0]
    expect(pane(first('p'), 'p')).toEqual({
      statistic: 0.75,
      center: null,
      sigma: null,
      lcl: null,
      ucl: null,
    })
    expect(pane(first('np'), 'np').statistic).toBe(3)
    expect(pane(first('c'), 'c').statistic).toBe(3)
    expect(pane(first('u'), 'u').statistic).toBe(0.75)
    expect(first('p')?.phase).toBe('baseline')
  })

  it('estimate-failed: no defectives (p̄ = 0), all defective (p̄ = 1), no nonconformities (c̄ = 0, ū = 0)', () => {
    const reason = (type: Attr, counts: number[], size: number) => {
      const e = run(
        spec(type, { baseline: { subgroups: counts.length } }),
        samples(counts, size),
      ).steps.flatMap((s) => s.events)[0]
      return e?.type === 'estimate-failed' ? e.reason : ''
    }
    expect(reason('p', [0, 0, 0], 10)).toMatch(/no defectives in the baseline \(p̄ = 0\)/)
    expect(reason('np', [10, 10], 10)).toMatch(/p̄ = 1/)
    expect(reason('c', [0, 0], 1)).toMatch(/c̄ = 0/)
    expect(reason('u', [0, 0], 2)).toMatch(/ū = 0/)
  })

  it('checkObservation: whole counts ≥ 0; p/np a whole size ≥ the count; u positive units; c needs no size', () => {
    const check = (type: Attr, value: number, size?: number) =>
      checkObservation(spec(type), { ts: 0, value, size })
    expect(check('p', 3, 10)).toBeNull()
    expect(check('p', Number.NaN, 10)).toMatch(/not a finite number/)
    expect(check('p', -1, 10)).toMatch(/whole number ≥ 0/)
    expect(check('c', 2.5)).toMatch(/whole number ≥ 0/)
    expect(check('p', 3)).toMatch(/needs the sample size/)
    expect(check('np', 3)).toMatch(/needs the sample size/)
    expect(check('u', 3)).toMatch(/inspection units/)
    expect(check('p', 0, 0)).toMatch(/positive number/)
    expect(check('u', 1, -2)).toMatch(/positive number/)
    expect(check('p', 11, 10)).toMatch(/exceeds the sample size/)
    expect(check('np', 2, 7.5)).toMatch(/whole number of units/)
    expect(check('u', 11, 2.5)).toBeNull()
    expect(check('c', 4)).toBeNull()
    expect(check('c', 4, 0)).toBeNull()
  })

  it('validate: given p in (0, 1), given c̄/ū > 0, no σ method or given σ', () => {
    expect(validateChart(spec('p'))).toEqual([])
    expect(validateChart(spec('np', { given: { center: 0.02 } }))).toEqual([])
    expect(validateChart(spec('p', { given: { center: 1 } })).join()).toMatch(/between 0 and 1/)
    expect(validateChart(spec('np', { given: { center: 0 } })).join()).toMatch(/between 0 and 1/)
    expect(validateChart(spec('c', { given: { center: 0 } })).join()).toMatch(
      /c̄ must be a positive/,
    )
    expect(validateChart(spec('u', { given: { center: -1 } })).join()).toMatch(
      /ū must be a positive/,
    )
    expect(validateChart(spec('u', { given: { center: 2, sigma: 1 } })).join()).toMatch(
      /leave given\.sigma out/,
    )
    expect(validateChart(spec('c', { sigmaMethod: 'mr' })).join()).toMatch(
      /sigmaMethod does not apply/,
    )
  })
})
