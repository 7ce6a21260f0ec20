import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { closeChart, initChart, stepChart } from '../rules/charts/index.ts'
import { CHART_TYPES, type ChartSpec, type ChartType } from '../rules/spec.ts'
import type { ChartPoint, Observation } from '../rules/types.ts'
import { drawn, run } from './helpers/spc.ts'

/**
 * Issue 7: every pane reports the σ of its statistic (`PanePoint.sigma`), and its limits are
 * centre ∓ L·σ of it (L = 3, EWMA's L, CUSUM's h with σ 1 in σ units), LCL not below 0 for a
 * statistic that cannot be negative, UCL not above 1 (p) or nᵢ (np). The σ of each pane is
 * checked against its formula (Montgomery, Introduction to SQC, ch. 6, 7, 9; Minitab's
 * "Methods and formulas") with given parameters and the closed forms of d2, d3 and c4 for n = 2
 * and 3; the property checks the relation for every chart type on random data.
 */

/** Panes whose statistic cannot be negative: LCL max(0, …). */
const NON_NEGATIVE = new Set(['mr', 'r', 's', 'p', 'np', 'c', 'u'])

function spec(type: ChartType, over: Partial<ChartSpec> = {}): ChartSpec {
  return {
    type,
    subgroup: { by: 'count', size: 1 },
    baseline: { subgroups: 5 },
    excludeOutOfControl: false,
    rules: ['N1', 'N2', 'N5'],
    ...over,
  }
}

const obs = (values: readonly number[], sizes?: readonly number[]): Observation[] =>
  values.map((value, i) => ({
    ts: 1000 * (i + 1),
    value,
    ...(sizes ? { size: sizes[i % sizes.length] } : {}),
  }))

/** The points of a run with every subgroup closed at the end. */
function points(s: ChartSpec, input: readonly Observation[]): ChartPoint[] {
  const { steps, state } = run(s, input)
  const end = closeChart(s, state, Number.POSITIVE_INFINITY, true)
  return drawn([...steps, end])
}

const close = (a: number | null | undefined, b: number): boolean =>
  typeof a === 'number' && Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b))

describe('the σ each pane reports (given parameters, closed-form constants)', () => {
  const d3of2 = Math.sqrt(2 - 4 / Math.PI)
  const d3of3 = Math.sqrt(2 + (3 * Math.sqrt(3) - 9) / Math.PI)

  it('I: σ; MR: d3(2)·σ', () => {
    const [, p] = points(spec('imr', { given: { center: 10, sigma: 2 } }), obs([10, 11]))
    expect(p?.panes.i?.sigma).toBe(2)
    expect(close(p?.panes.mr?.sigma, 2 * d3of2)).toBe(true)
  })

  it('X̄: σ/√nᵢ; R: d3(nᵢ)·σ; S: σ√(1 − c4(nᵢ)²) (c4(3)² = π/4)', () => {
    const given = { center: 10, sigma: 2 }
    const subgroup = { by: 'count', size: 3 } as const
    const [r] = points(spec('xbar-r', { given, subgroup }), obs([9, 10, 12]))
    expect(close(r?.panes.xbar?.sigma, 2 / Math.sqrt(3))).toBe(true)
    expect(close(r?.panes.r?.sigma, 2 * d3of3)).toBe(true)
    const [s] = points(spec('xbar-s', { given, subgroup }), obs([9, 10, 12]))
    expect(close(s?.panes.s?.sigma, 2 * Math.sqrt(1 - Math.PI / 4))).toBe(true)
  })

  it('EWMA: σ_z,i = σ/√n·√(λ/(2 − λ)·(1 − (1 − λ)^2i)): λσ at i = 1, λσ√(1 + (1 − λ)²) at i = 2', () => {
    const s = spec('ewma', { given: { center: 0, sigma: 2 }, ewma: { lambda: 0.2, L: 2.7 } })
    const [a, b] = points(s, obs([1, -1]))
    expect(close(a?.panes.ewma?.sigma, 0.4)).toBe(true)
    expect(close(b?.panes.ewma?.sigma, 0.4 * Math.sqrt(1 + 0.64))).toBe(true)
    expect(close(a?.panes.ewma?.ucl, 2.7 * 0.4)).toBe(true)
  })

  it('p: √(p̄(1 − p̄)/nᵢ); np: √(nᵢp̄(1 − p̄)); c: √c̄; u: √(ū/nᵢ)', () => {
    const [p] = points(spec('p', { given: { center: 0.1 } }), obs([3], [100]))
    expect(close(p?.panes.p?.sigma, 0.03)).toBe(true)
    const [np] = points(spec('np', { given: { center: 0.1 } }), obs([3], [100]))
    expect(close(np?.panes.np?.sigma, 3)).toBe(true)
    const [c] = points(spec('c', { given: { center: 4 } }), obs([3]))
    expect(close(c?.panes.c?.sigma, 2)).toBe(true)
    const [u] = points(spec('u', { given: { center: 2 } }), obs([3], [8]))
    expect(close(u?.panes.u?.sigma, 0.5)).toBe(true)
  })

  it('CUSUM: 1 (the pane is in σ units; its limits ±h are 0 ± h·1)', () => {
    const s = spec('cusum', {
      given: { center: 0, sigma: 3 },
      cusum: { k: 0.5, h: 4, headStart: 0, resetOnSignal: false },
    })
    const [p] = points(s, obs([1]))
    expect(p?.panes.cusum).toMatchObject({ center: 0, sigma: 1, lcl: -4, ucl: 4 })
  })

  it('Phase I previews have no σ and no limits', () => {
    for (const type of CHART_TYPES) {
      const s = spec(type, { subgroup: { by: 'count', size: type.startsWith('xbar') ? 2 : 1 } })
      const state = initChart(s)
      const step = stepChart(s, state, { ts: 1, value: 1, size: 4 })
      const more = stepChart(s, state, { ts: 2, value: 2, size: 4 })
      const preview = [...step.points, ...more.points][0]
      expect(preview?.phase).toBe('baseline')
      for (const pane of Object.values(preview?.panes ?? {}))
        expect([pane.sigma, pane.lcl, pane.ucl]).toEqual([null, null, null])
    }
  })
})

describe('property: every pane’s limits are centre ∓ L·σ for the σ it reports (fast-check, every chart type)', () => {
  /** A chart spec and data for it. */
  const chartAndData = fc.constantFrom(...CHART_TYPES).chain((type) => {
    const attributes = type === 'p' || type === 'np' || type === 'c' || type === 'u'
    const size = fc.integer({ min: type === 'xbar-r' || type === 'xbar-s' ? 2 : 1, max: 6 })
    const given = fc.option(
      attributes
        ? fc.record({
            center: fc.double({
              min: 0.01,
              max: type === 'c' || type === 'u' ? 20 : 0.99,
              noNaN: true,
            }),
          })
        : fc.record({
            center: fc.double({ min: -50, max: 50, noNaN: true }),
            sigma: fc.double({ min: 0.01, max: 20, noNaN: true }),
          }),
      { nil: undefined },
    )
    const data: fc.Arbitrary<{ size: number | undefined; count: number }[]> = attributes
      ? fc.array(
          fc
            .integer({ min: 1, max: 300 })
            .chain((n) =>
              fc.record({ size: fc.constant(n), count: fc.integer({ min: 0, max: n }) }),
            ),
          { minLength: 1, maxLength: 60 },
        )
      : fc.array(
          fc.integer({ min: -2000, max: 2000 }).map((v) => ({ size: undefined, count: v / 37 })),
          { minLength: 1, maxLength: 60 },
        )
    return fc.record({
      type: fc.constant(type),
      size,
      given,
      baseline: fc.integer({ min: 2, max: 8 }),
      lambda: fc.double({ min: 0.05, max: 1, noNaN: true }),
      L: fc.double({ min: 0.5, max: 4, noNaN: true }),
      h: fc.double({ min: 0.5, max: 8, noNaN: true }),
      data,
    })
  })

  it('lcl = max(floor, centre − L·σ), ucl = min(ceiling, centre + L·σ); no σ, no limits', () => {
    fc.assert(
      fc.property(chartAndData, ({ type, size, given, baseline, lambda, L, h, data }) => {
        const one = type === 'imr' || type === 'p' || type === 'np' || type === 'c' || type === 'u'
        const s = spec(type, {
          subgroup: { by: 'count', size: one ? 1 : size },
          baseline: { subgroups: baseline },
          given,
          ewma: type === 'ewma' ? { lambda, L } : undefined,
          cusum:
            type === 'cusum' ? { k: 0.5, h, headStart: h / 2, resetOnSignal: false } : undefined,
        })
        const input: Observation[] = data.map((d, i) => ({
          ts: 1000 * (i + 1),
          value: d.count,
          ...(d.size === undefined ? {} : { size: d.size }),
        }))
        for (const p of points(s, input)) {
          for (const [name, pane] of Object.entries(p.panes)) {
            if (pane.sigma === null) {
              expect([pane.lcl, pane.ucl], `${type} ${name}`).toEqual([null, null])
              continue
            }
            expect(pane.sigma).toBeGreaterThanOrEqual(0)
            const width = type === 'ewma' ? L : type === 'cusum' ? h : 3
            const center = pane.center as number
            const floor = NON_NEGATIVE.has(name) ? 0 : Number.NEGATIVE_INFINITY
            const ceiling = name === 'p' ? 1 : name === 'np' ? p.n : Number.POSITIVE_INFINITY
            const lcl = Math.max(floor, center - width * pane.sigma)
            const ucl = Math.min(ceiling, center + width * pane.sigma)
            expect(close(pane.lcl, lcl), `${type} ${name} lcl ${pane.lcl} vs ${lcl}`).toBe(true)
            expect(close(pane.ucl, ucl), `${type} ${name} ucl ${pane.ucl} vs ${ucl}`).toBe(true)
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})
