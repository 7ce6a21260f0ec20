import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cusum } from '../rules/charts/cusum.ts'
import {
  type ChartEvent,
  type ChartStep,
  type PaneSlots,
  validateChart,
} from '../rules/charts/index.ts'
import type { ChartSpec } from '../rules/spec.ts'
import type { ChartPoint, Observation, Violation } from '../rules/types.ts'
import { drawn, run } from './helpers/spc.ts'

/**
 * EWMA and tabular CUSUM. Textbook figures come from Montgomery, Introduction to Statistical
 * Quality Control (6th ed.), ch. 9: the 30 observations of Table 9.1 (μ₀ = 10, σ = 1; the first
 * 20 from N(10, 1), the last 10 from N(11, 1)), the tabular CUSUM with K = 0.5, H = 5, and the
 * EWMA with λ = 0.10, L = 2.7 on the same data. Everything else is checked against a plain
 * batch formula written here (closed forms, not the engine's recursions), and says so.
 */

const MONTGOMERY_9_1 = [
  9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.2, 10.34, 9.03, 11.47, 10.51, 9.4, 10.08,
  9.37, 10.62, 10.31, 8.52, 10.84, 10.9, 9.33, 12.29, 11.5, 10.6, 11.08, 10.38, 11.62, 11.31, 10.52,
]

const obs = (values: readonly number[], key?: (i: number) => string): Observation[] =>
  values.map((value, i) => ({ ts: 1_000 * (i + 1), value, ...(key ? { key: key(i) } : {}) }))

function spec(over: Partial<ChartSpec> & Pick<ChartSpec, 'type'>): ChartSpec {
  return {
    subgroup: { by: 'count', size: 1 },
    baseline: { subgroups: 20 },
    excludeOutOfControl: false,
    rules: ['N1', 'N2'],
    ...over,
  }
}

const events = (steps: readonly ChartStep[]): ChartEvent[] => steps.flatMap((s) => s.events)

function establishedOf(
  steps: readonly ChartStep[],
): Extract<ChartEvent, { type: 'limits-established' }> {
  for (const e of events(steps)) if (e.type === 'limits-established') return e
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

/** |a − b| within 1e-9 relative (the engine's recursion against a closed form). */
function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))
}

/** Batch EWMA, closed form: zᵢ = (1 − λ)ⁱz₀ + Σⱼ λ(1 − λ)^(i−j) xⱼ. */
function batchEwma(xs: readonly number[], z0: number, lambda: number): number[] {
  return xs.map((_, i) => {
    let z = (1 - lambda) ** (i + 1) * z0
    for (let j = 0; j <= i; j++) z += lambda * (1 - lambda) ** (i - j) * (xs[j] as number)
    return z
  })
}

/** Batch exact σ of zᵢ (i from 1), straight from the variance sum σ²/n · Σⱼ λ²(1 − λ)^(2(i−j)). */
function batchEwmaSigma(sigma: number, n: number, lambda: number, i: number): number {
  let v = 0
  for (let j = 1; j <= i; j++) v += lambda * lambda * (1 - lambda) ** (2 * (i - j))
  return (sigma / Math.sqrt(n)) * Math.sqrt(v)
}

/**
 * Batch tabular CUSUM without resets, as the maximum of partial sums (the solution of the
 * recursion): C⁺ᵢ = max(0, max over 2 ≤ j ≤ i of Σₜ₌ⱼⁱ(yₜ − k), C₀ + Σₜ₌₁ⁱ(yₜ − k)).
 */
function batchCusum(
  ys: readonly number[],
  k: number,
  c0: number,
): { upper: number[]; lower: number[] } {
  const side = (ws: number[]) =>
    ws.map((_, i) => {
      let best = 0
      let tail = 0
      for (let j = i; j >= 0; j--) {
        tail += ws[j] as number
        best = Math.max(best, j === 0 ? c0 + tail : tail)
      }
      return best
    })
  return { upper: side(ys.map((y) => y - k)), lower: side(ys.map((y) => -y - k)) }
}

const signalsOf = (p: ChartPoint | undefined, rule: string): Violation[] =>
  (p?.violations ?? []).filter((v) => v.rule === rule)

describe('EWMA: Montgomery, Introduction to SQC, ch. 9 (λ = 0.10, L = 2.7, μ₀ = 10, σ = 1, Table 9.1)', () => {
  const s = spec({ type: 'ewma', ewma: { lambda: 0.1, L: 2.7 }, given: { center: 10, sigma: 1 } })
  const points = drawn(run(s, obs(MONTGOMERY_9_1)).steps)

  it('z₁ = 9.945, z₂ = 9.7495 (z₀ = μ₀ = 10)', () => {
    expect(points).toHaveLength(30)
    expect(pane(points[0], 'ewma').statistic).toBeCloseTo(9.945, 12)
    expect(pane(points[1], 'ewma').statistic).toBeCloseTo(9.7495, 12)
  })

  it('exact time-varying limits: 10.27 / 9.73 at i = 1, 10.36 / 9.64 at i = 2', () => {
    // i = 1: λ/(2−λ)·(1 − 0.9²) = 0.01 exactly, so the limits are 10 ± 2.7·0.1.
    expect(pane(points[0], 'ewma').ucl).toBeCloseTo(10.27, 12)
    expect(pane(points[0], 'ewma').lcl).toBeCloseTo(9.73, 12)
    expect(num(pane(points[1], 'ewma').ucl).toFixed(2)).toBe('10.36')
    expect(num(pane(points[1], 'ewma').lcl).toFixed(2)).toBe('9.64')
    expect(pane(points[0], 'ewma').center).toBe(10)
  })

  it('the limits widen to the steady state 10 ± 2.7·√(λ/(2−λ)) = 10.62 / 9.38', () => {
    const steady = 2.7 * Math.sqrt(0.1 / 1.9)
    expect((10 + steady).toFixed(2)).toBe('10.62')
    const ucls = points.map((p) => num(pane(p, 'ewma').ucl))
    for (let i = 1; i < ucls.length; i++) expect(num(ucls[i])).toBeGreaterThan(num(ucls[i - 1]))
    expect(num(ucls[29]).toFixed(2)).toBe('10.62')
    expect(num(pane(points[29], 'ewma').lcl).toFixed(2)).toBe('9.38')
    expect(10 + steady - num(ucls[29])).toBeLessThan(1e-3)
  })

  it('N1 (computed from the closed form): first beyond the UCL at observation 29, z₂₉ = 10.6468 > 10.6187', () => {
    const z = batchEwma(MONTGOMERY_9_1, 10, 0.1)
    points.forEach((p, i) => {
      expect(close(num(pane(p, 'ewma').statistic), z[i] as number)).toBe(true)
      expect(close(num(pane(p, 'ewma').ucl), 10 + 2.7 * batchEwmaSigma(1, 1, 0.1, i + 1))).toBe(
        true,
      )
    })
    const flagged = points.filter((p) => p.violations.length > 0).map((p) => p.index + 1)
    expect(flagged).toEqual([29, 30])
    expect(points[28]?.violations).toEqual([{ rule: 'N1', pane: 'ewma', indices: [28] }])
    expect(num(pane(points[28], 'ewma').statistic).toFixed(4)).toBe('10.6468')
  })

  it('only N1 judges an EWMA (rules "limits"): no N2 although z stays above the centre for 9 points', () => {
    // z₂₀ … z₃₀ (11 points) lie above 10; N2 is configured but not applied to the autocorrelated zᵢ.
    expect(points.slice(19).every((p) => num(pane(p, 'ewma').statistic) > 10)).toBe(true)
    expect(points.flatMap((p) => p.violations).every((v) => v.rule === 'N1')).toBe(true)
  })
})

describe('EWMA: Phase I and Phase II', () => {
  it('defaults λ = 0.2, L = 3 when the spec leaves ewma out (checked against the closed form)', () => {
    const s = spec({ type: 'ewma', given: { center: 0, sigma: 2 } })
    const xs = [1, -2, 3, 0.5, 4]
    const points = drawn(run(s, obs(xs)).steps)
    const z = batchEwma(xs, 0, 0.2)
    points.forEach((p, i) => {
      expect(close(num(pane(p, 'ewma').statistic), z[i] as number)).toBe(true)
      expect(close(num(pane(p, 'ewma').ucl), 3 * batchEwmaSigma(2, 1, 0.2, i + 1))).toBe(true)
      expect(close(num(pane(p, 'ewma').lcl), -3 * batchEwmaSigma(2, 1, 0.2, i + 1))).toBe(true)
    })
  })

  it('the recursion runs on through the replayed baseline: z₂₁ = closed form over baseline + monitored data, i = 21', () => {
    const s = spec({ type: 'ewma', ewma: { lambda: 0.1, L: 2.7 } })
    const steps = run(s, obs(MONTGOMERY_9_1)).steps
    const established = establishedOf(steps)
    // Batch estimate: μ̂ = mean of the 20 baseline values, σ̂ = MR̄/d2(2) (d2(2) = 2/√π exactly).
    const base = MONTGOMERY_9_1.slice(0, 20)
    const mu = base.reduce((a, b) => a + b, 0) / 20
    let mr = 0
    for (let i = 1; i < 20; i++) mr += Math.abs((base[i] as number) - (base[i - 1] as number))
    const sigma = mr / 19 / (2 / Math.sqrt(Math.PI))
    expect(close(established.limits.center, mu)).toBe(true)
    expect(close(established.limits.sigma, sigma)).toBe(true)
    expect(established.limits.basis).toMatchObject({
      kind: 'estimated',
      count: 20,
      excluded: 0,
      method: 'mr',
    })
    expect(established.baseline).toHaveLength(20)

    const points = drawn(steps)
    const z = batchEwma(MONTGOMERY_9_1, mu, 0.1)
    expect(points[20]?.phase).toBe('monitor')
    expect(close(num(pane(points[20], 'ewma').statistic), z[20] as number)).toBe(true)
    expect(
      close(num(pane(points[20], 'ewma').ucl), mu + 2.7 * batchEwmaSigma(sigma, 1, 0.1, 21)),
    ).toBe(true)
    points.forEach((p, i) => {
      expect(close(num(pane(p, 'ewma').statistic), z[i] as number)).toBe(true)
    })
  })

  it('Phase I plots no EWMA (z needs μ): the preview is null', () => {
    const s = spec({ type: 'ewma' })
    const first = run(s, obs([1, 2, 3])).steps[0]?.points[0]
    expect(first?.phase).toBe('baseline')
    expect(pane(first, 'ewma')).toEqual({
      statistic: null,
      center: null,
      sigma: null,
      lcl: null,
      ucl: null,
    })
  })

  describe('subgroup means (n = 3), σ per sigmaMethod (batch estimates written out here)', () => {
    // 4 baseline subgroups of 3, then 2 monitored.
    const groups = [
      [10, 12, 11],
      [9, 11, 13],
      [12, 12, 9],
      [10, 8, 11],
      [13, 12, 14],
      [11, 10, 12],
    ]
    const means = groups.map((g) => g.reduce((a, b) => a + b, 0) / 3)
    const base = groups.slice(0, 4)
    const mu = means.slice(0, 4).reduce((a, b) => a + b, 0) / 4
    const sd = (g: number[]) => {
      const m = g.reduce((a, b) => a + b, 0) / g.length
      return Math.sqrt(g.reduce((a, x) => a + (x - m) ** 2, 0) / (g.length - 1))
    }
    const sqrtPi = Math.sqrt(Math.PI)
    const sigmas = {
      // R̄/d2(3), d2(3) = 3/√π (one subgroup size: the weights are equal)
      rbar:
        base.map((g) => Math.max(...g) - Math.min(...g)).reduce((a, b) => a + b, 0) /
        4 /
        (3 / sqrtPi),
      // s̄/c4(3), c4(3) = Γ(3/2)/Γ(1) = √π/2
      sbar: base.map(sd).reduce((a, b) => a + b, 0) / 4 / (sqrtPi / 2),
      // s_p/c4(d + 1), d = 8: c4(9) = √(2/8)·Γ(9/2)/Γ(4) = 105√π/192
      pooled:
        Math.sqrt(base.map((g) => sd(g) ** 2).reduce((a, b) => a + b, 0) / 4) /
        ((105 * sqrtPi) / 192),
    }

    for (const method of ['rbar', 'sbar', 'pooled'] as const) {
      it(`${method}${method === 'pooled' ? ' (the default for subgroups)' : ''}: σ̂ and limits μ̂ ± L·σ̂/√3·√(…)`, () => {
        const s = spec({
          type: 'ewma',
          subgroup: { by: 'count', size: 3 },
          baseline: { subgroups: 4 },
          ...(method === 'pooled' ? {} : { sigmaMethod: method }),
        })
        const steps = run(s, obs(groups.flat())).steps
        const established = establishedOf(steps)
        expect(established.limits.basis).toMatchObject({ method })
        expect(close(established.limits.center, mu)).toBe(true)
        expect(close(established.limits.sigma, sigmas[method])).toBe(true)
        const points = drawn(steps)
        expect(points).toHaveLength(6)
        const z = batchEwma(means, mu, 0.2)
        points.forEach((p, i) => {
          expect(p.n).toBe(3)
          expect(close(num(pane(p, 'ewma').statistic), z[i] as number)).toBe(true)
          expect(
            close(num(pane(p, 'ewma').ucl), mu + 3 * batchEwmaSigma(sigmas[method], 3, 0.2, i + 1)),
          ).toBe(true)
        })
      })
    }
  })

  it('varying n (subgroups by key): each point uses σ/√nᵢ in the exact formula', () => {
    const sizes = [2, 5, 3, 1, 4]
    const values: number[] = []
    const keys: string[] = []
    sizes.forEach((n, g) => {
      for (let j = 0; j < n; j++) {
        values.push(10 + ((g * 7 + j * 3) % 5) - 2)
        keys.push(`lot-${g}`)
      }
    })
    values.push(0)
    keys.push('end') // closes the last lot
    const s = spec({
      type: 'ewma',
      subgroup: { by: 'key' },
      given: { center: 10, sigma: 2 },
      ewma: { lambda: 0.3, L: 3 },
    })
    const points = drawn(
      run(
        s,
        obs(values, (i) => keys[i] as string),
      ).steps,
    )
    expect(points.map((p) => p.n)).toEqual(sizes)
    let start = 0
    const means = sizes.map((n) => {
      const m = values.slice(start, start + n).reduce((a, b) => a + b, 0) / n
      start += n
      return m
    })
    const z = batchEwma(means, 10, 0.3)
    points.forEach((p, i) => {
      const n = sizes[i] as number
      const steady = (2 / Math.sqrt(n)) * Math.sqrt((0.3 / 1.7) * (1 - 0.7 ** (2 * (i + 1))))
      expect(close(num(pane(p, 'ewma').statistic), z[i] as number)).toBe(true)
      expect(close(num(pane(p, 'ewma').ucl), 10 + 3 * steady)).toBe(true)
    })
  })

  it('estimate-failed when the baseline has no variation (σ̂ = 0); the chart keeps waiting', () => {
    const s = spec({ type: 'ewma', baseline: { subgroups: 5 } })
    const steps = run(s, obs([5, 5, 5, 5, 5])).steps
    const failed = events(steps).find((e) => e.type === 'estimate-failed')
    expect(failed).toMatchObject({ type: 'estimate-failed' })
    expect(failed?.type === 'estimate-failed' && failed.reason).toMatch(/no variation/)
  })

  it('validate: 0 < λ ≤ 1, L > 0, given σ > 0, σ method fits the subgrouping', () => {
    expect(validateChart(spec({ type: 'ewma' }))).toEqual([])
    expect(validateChart(spec({ type: 'ewma', ewma: { lambda: 1, L: 3 } }))).toEqual([])
    expect(validateChart(spec({ type: 'ewma', ewma: { lambda: 0, L: 3 } })).join()).toMatch(
      /λ must be in \(0, 1\]/,
    )
    expect(validateChart(spec({ type: 'ewma', ewma: { lambda: 1.2, L: 3 } })).join()).toMatch(/λ/)
    expect(validateChart(spec({ type: 'ewma', ewma: { lambda: 0.2, L: 0 } })).join()).toMatch(
      /L must be a positive/,
    )
    expect(validateChart(spec({ type: 'ewma', given: { center: 10 } })).join()).toMatch(
      /given\.sigma/,
    )
    expect(validateChart(spec({ type: 'ewma', sigmaMethod: 'rbar' })).join()).toMatch(
      /needs subgroups of 2/,
    )
    expect(
      validateChart(
        spec({ type: 'ewma', subgroup: { by: 'count', size: 5 }, sigmaMethod: 'mr' }),
      ).join(),
    ).toMatch(/needs individuals/)
  })
})

describe('CUSUM: Montgomery, Introduction to SQC, ch. 9, tabular CUSUM (K = 0.5, H = 5, μ₀ = 10, σ = 1, Table 9.1)', () => {
  const s = spec({
    type: 'cusum',
    cusum: { k: 0.5, h: 5, headStart: 0, resetOnSignal: false },
    given: { center: 10, sigma: 1 },
  })
  const points = drawn(run(s, obs(MONTGOMERY_9_1)).steps)

  it('C⁺ and C⁻ of the first periods: C⁻ = 0.05, 1.56, 1.77; C⁺ = 0, 0, 0, 1.16, 2.82', () => {
    const up = points.map((p) => num(pane(p, 'cusum').upper).toFixed(2))
    const down = points.map((p) => num(pane(p, 'cusum').lower).toFixed(2))
    expect(up.slice(0, 5)).toEqual(['0.00', '0.00', '0.00', '1.16', '2.82'])
    expect(down.slice(0, 4)).toEqual(['0.05', '1.56', '1.77', '0.00'])
  })

  it('cusum-upper first at period 29 (C⁺₂₉ = 5.28 > 5), N⁺ = 7: the shift followed period 22; μ̂ = μ₀ + K + C⁺/N⁺ = 11.25', () => {
    const first = points.findIndex((p) => p.violations.length > 0)
    expect(first + 1).toBe(29)
    expect(num(pane(points[27], 'cusum').upper).toFixed(2)).toBe('4.47')
    expect(num(pane(points[28], 'cusum').upper).toFixed(2)).toBe('5.28')
    const [signal] = signalsOf(points[28], 'cusum-upper')
    expect(signal).toEqual({ rule: 'cusum-upper', pane: 'cusum', indices: [28], since: 22 })
    // index 22 = period 23, the first after the shift; N⁺ = 28 − 22 + 1 = 7
    const nPlus = 28 - (signal?.since ?? Number.NaN) + 1
    expect(nPlus).toBe(7)
    const muHat = 10 + 0.5 + num(pane(points[28], 'cusum').upper) / nPlus
    expect(muHat.toFixed(2)).toBe('11.25')
    expect(points.flatMap((p) => signalsOf(p, 'cusum-lower'))).toEqual([])
  })

  it('never reset by a signal: period 30 still signals (C⁺₃₀ = 5.30), its excursion still dating from period 23', () => {
    expect(num(pane(points[29], 'cusum').upper).toFixed(2)).toBe('5.30')
    expect(signalsOf(points[29], 'cusum-upper')[0]).toMatchObject({ indices: [29], since: 22 })
  })

  it('matches the batch maximum-of-partial-sums form at every period; the pane is y, centre 0, limits ∓h', () => {
    const ys = MONTGOMERY_9_1.map((x) => x - 10)
    const batch = batchCusum(ys, 0.5, 0)
    points.forEach((p, i) => {
      const c = pane(p, 'cusum')
      expect(close(num(c.statistic), ys[i] as number)).toBe(true)
      expect(close(num(c.upper), batch.upper[i] as number)).toBe(true)
      expect(close(num(c.lower), batch.lower[i] as number)).toBe(true)
      expect([c.center, c.lcl, c.ucl]).toEqual([0, -5, 5])
    })
  })
})

describe('CUSUM: head start, reset, signals, Phase I and II', () => {
  const given = { center: 0, sigma: 1 }

  it('exactly h is in control, strictly beyond signals; defaults k = 0.5, h = 4', () => {
    const s = spec({ type: 'cusum', given })
    const points = drawn(run(s, obs([1.5, 1.5, 1.5, 1.5, 1.5])).steps)
    expect(points.map((p) => pane(p, 'cusum').upper)).toEqual([1, 2, 3, 4, 5])
    expect(points[3]?.violations).toEqual([])
    expect(points[4]?.violations).toEqual([
      { rule: 'cusum-upper', pane: 'cusum', indices: [4], since: 0 },
    ])
  })

  it('fast initial response: C⁺₀ = C⁻₀ = headStart signals two points sooner, the excursion dating from the first point', () => {
    const s = spec({
      type: 'cusum',
      given,
      cusum: { k: 0.5, h: 4, headStart: 2, resetOnSignal: false },
    })
    const points = drawn(run(s, obs([1.5, 1.5, 1.5])).steps)
    expect(points.map((p) => pane(p, 'cusum').upper)).toEqual([3, 4, 5])
    expect(points.map((p) => pane(p, 'cusum').lower)).toEqual([0, 0, 0])
    expect(points[2]?.violations).toEqual([
      { rule: 'cusum-upper', pane: 'cusum', indices: [2], since: 0 },
    ])
    // In control, the head start decays away: C⁻ from 2 with y = 0 loses k each point.
    const calm = drawn(run(s, obs([0, 0, 0, 0, 0])).steps)
    expect(calm.map((p) => pane(p, 'cusum').lower)).toEqual([1.5, 1, 0.5, 0, 0])
  })

  it('resetOnSignal: the signalling side restarts from the head start after the point; without it, it signals on', () => {
    const xs = [3, 3, 3, 0.5, 3]
    const on = drawn(
      run(
        spec({ type: 'cusum', given, cusum: { k: 0.5, h: 4, headStart: 1, resetOnSignal: true } }),
        obs(xs),
      ).steps,
    )
    // Reset to C⁺ = 1 after period 2: 1 + 2.5 = 3.5, + 0 = 3.5, + 2.5 = 6 > 4, a new excursion from period 3.
    expect(on.map((p) => pane(p, 'cusum').upper)).toEqual([3.5, 6, 3.5, 3.5, 6])
    expect(on.map((p) => p.violations.map((v) => v.since))).toEqual([[], [0], [], [], [2]])
    const off = drawn(
      run(
        spec({ type: 'cusum', given, cusum: { k: 0.5, h: 4, headStart: 1, resetOnSignal: false } }),
        obs(xs),
      ).steps,
    )
    expect(off.map((p) => pane(p, 'cusum').upper)).toEqual([3.5, 6, 8.5, 8.5, 11])
    expect(off.map((p) => p.violations.length)).toEqual([0, 1, 1, 1, 1])
    expect(off[4]?.violations[0]).toMatchObject({ indices: [4], since: 0 })
  })

  it('issue 7, Minitab’s "Reset after each signal" (the CUSUMs go back to their initial values): a lasting 2σ shift signals every third point, each signal with its run length index − since + 1 = 3', () => {
    // By hand, k = 0.5, h = 4, C₀ = 0, yᵢ = 2: C⁺ = 1.5, 3, 4.5 > 4 (signal), reset to 0; again.
    const xs = [2, 2, 2, 2, 2, 2, 2, 2, 2]
    const reset = drawn(
      run(
        spec({ type: 'cusum', given, cusum: { k: 0.5, h: 4, headStart: 0, resetOnSignal: true } }),
        obs(xs),
      ).steps,
    )
    expect(reset.map((p) => pane(p, 'cusum').upper)).toEqual([
      1.5, 3, 4.5, 1.5, 3, 4.5, 1.5, 3, 4.5,
    ])
    const signals = reset.flatMap((p) => signalsOf(p, 'cusum-upper'))
    expect(signals).toEqual([
      { rule: 'cusum-upper', pane: 'cusum', indices: [2], since: 0 },
      { rule: 'cusum-upper', pane: 'cusum', indices: [5], since: 3 },
      { rule: 'cusum-upper', pane: 'cusum', indices: [8], since: 6 },
    ])
    expect(signals.map((v) => (v.indices[0] as number) - (v.since as number) + 1)).toEqual([
      3, 3, 3,
    ])
    // Without the reset the sum climbs (1.5 a point) and every point from the third signals, the
    // run length growing with the shift.
    const kept = drawn(
      run(
        spec({ type: 'cusum', given, cusum: { k: 0.5, h: 4, headStart: 0, resetOnSignal: false } }),
        obs(xs),
      ).steps,
    )
    expect(kept.map((p) => pane(p, 'cusum').upper)).toEqual([
      1.5, 3, 4.5, 6, 7.5, 9, 10.5, 12, 13.5,
    ])
    const runLengths = kept
      .flatMap((p) => signalsOf(p, 'cusum-upper'))
      .map((v) => (v.indices[0] as number) - (v.since as number) + 1)
    expect(runLengths).toEqual([3, 4, 5, 6, 7, 8, 9])
  })

  it('issue 7, reset with a head start (FIR, C₀ = 2): back to 2 after each signal, the run length counted from the first point after the reset', () => {
    // By hand: C⁺ = 2 + 1.5 = 3.5, 5 > 4 (signal, since 0), reset to 2: 3.5, 5 (signal, since 2).
    const points = drawn(
      run(
        spec({ type: 'cusum', given, cusum: { k: 0.5, h: 4, headStart: 2, resetOnSignal: true } }),
        obs([2, 2, 2, 2, 0]),
      ).steps,
    )
    expect(points.map((p) => pane(p, 'cusum').upper)).toEqual([3.5, 5, 3.5, 5, 1.5])
    expect(points.map((p) => p.violations)).toEqual([
      [],
      [{ rule: 'cusum-upper', pane: 'cusum', indices: [1], since: 0 }],
      [],
      [{ rule: 'cusum-upper', pane: 'cusum', indices: [3], since: 2 }],
      [],
    ])
    // The other side is not reset by the upper side's signal: C⁻ from 2 loses 2.5 a point.
    expect(points.map((p) => pane(p, 'cusum').lower)).toEqual([0, 0, 0, 0, 0])
  })

  it('issue 7, Montgomery’s Table 9.1 with the reset: the signal at period 29 (C⁺ = 5.28, run length 7) is followed by C⁺₃₀ = 0.02, no signal', () => {
    const points = drawn(
      run(
        spec({
          type: 'cusum',
          given: { center: 10, sigma: 1 },
          cusum: { k: 0.5, h: 5, headStart: 0, resetOnSignal: true },
        }),
        obs(MONTGOMERY_9_1),
      ).steps,
    )
    expect(num(pane(points[28], 'cusum').upper).toFixed(2)).toBe('5.28')
    expect(signalsOf(points[28], 'cusum-upper')).toEqual([
      { rule: 'cusum-upper', pane: 'cusum', indices: [28], since: 22 },
    ])
    // Period 30: y = 10.52 − 10 = 0.52, C⁺ = max(0, 0 + 0.52 − 0.5) = 0.02.
    expect(num(pane(points[29], 'cusum').upper)).toBeCloseTo(0.02, 12)
    expect(points[29]?.violations).toEqual([])
  })

  it('cusum-lower: a downward shift, dated by the first point since C⁻ last stood at 0', () => {
    const s = spec({ type: 'cusum', given })
    const points = drawn(run(s, obs([-1, 1, -2, -2, -2])).steps)
    expect(points.map((p) => pane(p, 'cusum').lower)).toEqual([0.5, 0, 1.5, 3, 4.5])
    expect(points[4]?.violations).toEqual([
      { rule: 'cusum-lower', pane: 'cusum', indices: [4], since: 2 },
    ])
  })

  it('no run rules on a CUSUM (rules "none"): nine points above the centre raise no N2', () => {
    const s = spec({ type: 'cusum', given, rules: ['N1', 'N2'] })
    const points = drawn(run(s, obs(Array.from({ length: 12 }, () => 0.4))).steps)
    expect(points.flatMap((p) => p.violations)).toEqual([])
  })

  it('subgroup means (n = 4): yᵢ = (x̄ᵢ − μ₀)/(σ/√4)', () => {
    const s = spec({
      type: 'cusum',
      subgroup: { by: 'count', size: 4 },
      given: { center: 10, sigma: 2 },
    })
    const points = drawn(run(s, obs([10, 11, 12, 11, 9, 9, 10, 8])).steps)
    expect(points.map((p) => pane(p, 'cusum').statistic)).toEqual([1, -1])
    expect(points.map((p) => [pane(p, 'cusum').upper, pane(p, 'cusum').lower])).toEqual([
      [0.5, 0],
      [0, 0.5],
    ])
  })

  it('the sums run on through the replayed baseline: C at period 21 equals the batch form over baseline + monitored data', () => {
    const s = spec({ type: 'cusum', cusum: { k: 0.5, h: 5, headStart: 0, resetOnSignal: false } })
    const steps = run(s, obs(MONTGOMERY_9_1)).steps
    const base = MONTGOMERY_9_1.slice(0, 20)
    const mu = base.reduce((a, b) => a + b, 0) / 20
    let mr = 0
    for (let i = 1; i < 20; i++) mr += Math.abs((base[i] as number) - (base[i - 1] as number))
    const sigma = mr / 19 / (2 / Math.sqrt(Math.PI))
    const batch = batchCusum(
      MONTGOMERY_9_1.map((x) => (x - mu) / sigma),
      0.5,
      0,
    )
    const points = drawn(steps)
    expect(points[20]?.phase).toBe('monitor')
    points.forEach((p, i) => {
      expect(close(num(pane(p, 'cusum').upper), batch.upper[i] as number)).toBe(true)
      expect(close(num(pane(p, 'cusum').lower), batch.lower[i] as number)).toBe(true)
    })
    expect(pane(points[19], 'cusum').upper).not.toBe(0) // the baseline's sums carry into Phase II
  })

  it('cannot leave baseline points out; validate k ≥ 0, h > 0, 0 ≤ headStart < h, given σ', () => {
    expect(validateChart(spec({ type: 'cusum' }))).toEqual([])
    expect(validateChart(spec({ type: 'cusum', excludeOutOfControl: true })).join()).toMatch(
      /cannot leave baseline points out/,
    )
    const c = (k: number, h: number, headStart: number) =>
      validateChart(
        spec({ type: 'cusum', cusum: { k, h, headStart, resetOnSignal: false } }),
      ).join()
    expect(c(0, 4, 0)).toBe('')
    expect(c(-0.1, 4, 0)).toMatch(/k must be/)
    expect(c(0.5, 0, 0)).toMatch(/h must be/)
    expect(c(0.5, 4, 4)).toMatch(/head start/)
    expect(c(0.5, 4, -1)).toMatch(/head start/)
    expect(validateChart(spec({ type: 'cusum', given: { center: 1, sigma: 0 } })).join()).toMatch(
      /σ > 0/,
    )
  })

  it('the kind point: statistic y, centre 0, σ 1 (the pane is in σ units), lcl −h, ucl h, C⁺ as upper, C⁻ as lower', () => {
    const s = spec({ type: 'cusum', given })
    const limits = { center: 0, sigma: 1, basis: { kind: 'given' as const } }
    const out: PaneSlots = { panes: [] }
    const signals = cusum.point(
      s,
      limits,
      cusum.initStream(s, limits),
      { firstTs: 0, ts: 0, n: 1, mean: -2, m2: 0, min: -2, max: -2 },
      0,
      out,
    )
    expect(signals).toEqual([])
    expect(out.panes[0]).toEqual({
      statistic: -2,
      center: 0,
      sigma: 1,
      lcl: -4,
      ucl: 4,
      upper: 0,
      lower: 1.5,
    })
  })
})

describe('properties (fast-check)', () => {
  const values = fc.array(
    fc.integer({ min: -500, max: 500 }).map((x) => x / 10),
    { minLength: 1, maxLength: 60 },
  )
  const lambda = fc.integer({ min: 1, max: 100 }).map((x) => x / 100)

  it('EWMA streaming equals the batch closed form (given μ, σ; any λ, L)', () => {
    fc.assert(
      fc.property(
        values,
        lambda,
        fc.integer({ min: 1, max: 40 }).map((x) => x / 10),
        (xs, lam, L) => {
          const s = spec({ type: 'ewma', ewma: { lambda: lam, L }, given: { center: 1, sigma: 2 } })
          const points = drawn(run(s, obs(xs)).steps)
          const z = batchEwma(xs, 1, lam)
          return points.every((p, i) => {
            const e = pane(p, 'ewma')
            const sz = batchEwmaSigma(2, 1, lam, i + 1)
            return (
              close(num(e.statistic), z[i] as number) &&
              close(num(e.ucl), 1 + L * sz) &&
              close(num(e.lcl), 1 - L * sz)
            )
          })
        },
      ),
    )
  })

  it('EWMA with an estimated baseline equals the batch: μ̂, σ̂ = MR̄/d2(2) = MR̄·√π/2, closed-form z through baseline and Phase II', () => {
    fc.assert(
      fc.property(values, fc.integer({ min: 2, max: 10 }), lambda, (xs, m, lam) => {
        fc.pre(xs.length >= m && new Set(xs.slice(0, m)).size > 1)
        const s = spec({ type: 'ewma', baseline: { subgroups: m }, ewma: { lambda: lam, L: 3 } })
        const points = drawn(run(s, obs(xs)).steps)
        const base = xs.slice(0, m)
        const mu = base.reduce((a, b) => a + b, 0) / m
        let mr = 0
        for (let i = 1; i < m; i++) mr += Math.abs((base[i] as number) - (base[i - 1] as number))
        const sigma = mr / (m - 1) / (2 / Math.sqrt(Math.PI))
        const z = batchEwma(xs, mu, lam)
        return (
          points.length === xs.length &&
          points.every(
            (p, i) =>
              close(num(pane(p, 'ewma').statistic), z[i] as number) &&
              close(num(pane(p, 'ewma').ucl), mu + 3 * batchEwmaSigma(sigma, 1, lam, i + 1)),
          )
        )
      }),
    )
  })

  it('CUSUM streaming equals the batch maximum of partial sums, and signals exactly where C > h, dated by N⁺/N⁻', () => {
    fc.assert(
      fc.property(
        values,
        fc.integer({ min: 0, max: 10 }).map((x) => x / 10),
        fc.integer({ min: 1, max: 60 }).map((x) => x / 10),
        fc.integer({ min: 0, max: 99 }).map((x) => x / 100),
        (xs, k, h, frac) => {
          const headStart = frac * h
          const s = spec({
            type: 'cusum',
            cusum: { k, h, headStart, resetOnSignal: false },
            given: { center: 0.5, sigma: 1.5 },
          })
          const points = drawn(run(s, obs(xs)).steps)
          const ys = xs.map((x) => (x - 0.5) / 1.5)
          const batch = batchCusum(ys, k, headStart)
          const since = (sums: number[], i: number) => {
            let j = i
            while (j > 0 && (sums[j - 1] as number) > 0) j--
            return j
          }
          return points.every((p, i) => {
            const c = pane(p, 'cusum')
            const up = batch.upper[i] as number
            const down = batch.lower[i] as number
            if (!close(num(c.upper), up) || !close(num(c.lower), down)) return false
            // Away from the boundary (rounding could put the recursion on the other side of h).
            const sigUp = signalsOf(p, 'cusum-upper')[0]
            const sigDown = signalsOf(p, 'cusum-lower')[0]
            if (Math.abs(up - h) > 1e-9 && up > h !== (sigUp !== undefined)) return false
            if (Math.abs(down - h) > 1e-9 && down > h !== (sigDown !== undefined)) return false
            if (sigUp && sigUp.since !== since(batch.upper, i)) return false
            if (sigDown && sigDown.since !== since(batch.lower, i)) return false
            return true
          })
        },
      ),
    )
  })

  it('state survives a JSON round trip mid-stream (EWMA and CUSUM, individuals or subgroups, Phase I or II)', () => {
    fc.assert(
      fc.property(
        values,
        fc.constantFrom<'ewma' | 'cusum'>('ewma', 'cusum'),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 6 }),
        fc.nat(),
        fc.boolean(),
        (xs, type, size, m, cutSeed, reset) => {
          const s = spec({
            type,
            subgroup: { by: 'count', size },
            baseline: { subgroups: m },
            cusum: { k: 0.25, h: 2, headStart: 1, resetOnSignal: reset },
            ewma: { lambda: 0.3, L: 2.5 },
          })
          const cut = cutSeed % xs.length
          const whole = run(s, obs(xs))
          const resumed = run(s, obs(xs), cut)
          expect(resumed.steps).toEqual(whole.steps)
          expect(resumed.state).toEqual(whole.state)
        },
      ),
    )
  })
})
