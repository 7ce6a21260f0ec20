import { describe, expect, it } from 'vitest'
import {
  type ChartEvent,
  type ChartState,
  type ChartStep,
  closeChart,
  freezeChart,
  initChart,
  stepChart,
} from '../rules/charts/index.ts'
import type { ChartSpec } from '../rules/spec.ts'
import type { ChartPoint, Observation, ProcessLimits } from '../rules/types.ts'

/*
 * The generic chart driver (rules/charts/driver.ts) through the public API of
 * rules/charts/index.ts, with the I-MR and X̄-R chart kinds. Expected values are computed in
 * the tests by the plain formulas (x̄̄, R̄/d2(n), MR̄/d2(2)).
 */

const imr = (extra: Partial<ChartSpec> = {}): ChartSpec => ({
  type: 'imr',
  subgroup: { by: 'count', size: 1 },
  baseline: { subgroups: 10 },
  excludeOutOfControl: false,
  rules: ['N1', 'N2'],
  ...extra,
})

const xbarR = (extra: Partial<ChartSpec> = {}): ChartSpec => ({
  type: 'xbar-r',
  subgroup: { by: 'count', size: 3 },
  baseline: { subgroups: 5 },
  excludeOutOfControl: false,
  rules: ['N1', 'N2'],
  ...extra,
})

/** A chart fed step by step, keeping every output (each step with a copy of the state after it: the engine updates it in place). */
class Feed {
  readonly spec: ChartSpec
  state: ChartState
  readonly points: ChartPoint[] = []
  readonly events: ChartEvent[] = []
  constructor(spec: ChartSpec) {
    this.spec = spec
    this.state = initChart(spec)
  }
  private take(step: ChartStep): ChartStep {
    this.state = step.state
    this.points.push(...step.points)
    this.events.push(...step.events)
    return { ...step, state: structuredClone(step.state) }
  }
  step(obs: Observation): ChartStep {
    return this.take(stepChart(this.spec, this.state, obs))
  }
  values(values: readonly number[], t0 = 0, dt = 1000): ChartStep[] {
    return values.map((value, i) => this.step({ ts: t0 + i * dt, value }))
  }
  close(now: number, force = false): ChartStep {
    return this.take(closeChart(this.spec, this.state, now, force))
  }
  freeze(ts: number): ChartStep {
    return this.take(freezeChart(this.spec, this.state, ts))
  }
  established(): Extract<ChartEvent, { type: 'limits-established' }> {
    const e = this.events.find((x) => x.type === 'limits-established')
    if (e?.type !== 'limits-established') throw new Error('no limits-established event')
    return e
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const range = (xs: readonly number[]): number => Math.max(...xs) - Math.min(...xs)
/** d2(2) = 2/√π and d2(3) = 3/√π, the closed forms (the sizes these tests use). */
const d2 = (n: number): number => {
  if (n !== 2 && n !== 3) throw new Error(`no closed form of d2(${n}) here`)
  return n / Math.sqrt(Math.PI)
}

/** Triples with variation, centred on 10. */
const TRIPLES = [
  [10, 11, 9],
  [10.5, 9.5, 10],
  [9, 10, 11.5],
  [10.2, 9.7, 10.4],
  [10, 10.6, 9.1],
  [9.8, 10.1, 10.3],
  [10.4, 9.6, 10],
  [11, 9.4, 10.2],
]

describe('subgrouping', () => {
  it('by count: a point each third reading, its statistics those of the three', () => {
    const f = new Feed(xbarR())
    const steps = f.values(TRIPLES.slice(0, 2).flat())
    expect(steps.map((s) => s.points.length)).toEqual([0, 0, 1, 0, 0, 1])
    expect(f.points.map((p) => [p.index, p.n, p.ts])).toEqual([
      [0, 3, 2000],
      [1, 3, 5000],
    ])
    expect(f.points[0]?.panes.xbar?.statistic).toBe(mean(TRIPLES[0] as number[]))
    expect(f.points[0]?.panes.r?.statistic).toBe(range(TRIPLES[0] as number[]))
    expect(f.state.subgrouper.open).toBeNull()
  })

  it('by time window: a window closes on the first reading of the next window, or on closeChart(now) once now reaches its end', () => {
    const f = new Feed(xbarR({ subgroup: { by: 'time', windowMs: 60_000 } }))
    f.step({ ts: 0, value: 10 })
    f.step({ ts: 10_000, value: 11 })
    expect(f.step({ ts: 59_999, value: 9 }).points).toEqual([])
    const next = f.step({ ts: 61_000, value: 12 })
    expect(next.points.map((p) => [p.n, p.ts, p.panes.xbar?.statistic])).toEqual([[3, 59_999, 10]])
    f.step({ ts: 70_000, value: 13 })
    expect(f.close(119_999).points).toEqual([]) // the window [60 s, 120 s) is still open
    const closed = f.close(120_000)
    expect(closed.points.map((p) => [p.index, p.n, p.ts, p.panes.r?.statistic])).toEqual([
      [1, 2, 70_000, 1],
    ])
    expect(f.state.subgrouper).toEqual({ open: null, windowStart: null })
    expect(f.close(1e9).points).toEqual([])
  })

  it('by key: the subgroup closes when the key changes; closeChart(…, force) closes the last, closeChart without force does not', () => {
    const f = new Feed(xbarR({ subgroup: { by: 'key' } }))
    f.step({ ts: 0, value: 10, key: 'lot-1' })
    expect(f.step({ ts: 1, value: 12, key: 'lot-1' }).points).toEqual([])
    const changed = f.step({ ts: 2, value: 20, key: 'lot-2' })
    expect(
      changed.points.map((p) => [p.n, p.ts, p.panes.xbar?.statistic, p.panes.r?.statistic]),
    ).toEqual([[2, 1, 11, 2]])
    f.step({ ts: 3, value: 21, key: 'lot-2' })
    f.step({ ts: 4, value: 25, key: 'lot-2' })
    expect(f.close(1e12).points).toEqual([])
    const forced = f.close(5, true)
    expect(forced.points.map((p) => [p.index, p.n, p.ts, p.panes.r?.statistic])).toEqual([
      [1, 3, 4, 5],
    ])
  })

  it('I-MR takes each reading as its own point, whatever the subgrouping says', () => {
    const f = new Feed(imr({ subgroup: { by: 'key' } }))
    const steps = f.values([1, 2, 3])
    expect(steps.map((s) => s.points.length)).toEqual([1, 1, 1])
    expect(f.points.map((p) => p.panes.mr?.statistic)).toEqual([null, 1, 1])
  })
})

describe('Phase I and Phase II', () => {
  it('Phase I: baseline points without limits; the last baseline subgroup brings limits-established with every baseline point judged; then Phase II', () => {
    const f = new Feed(xbarR())
    const steps = f.values(TRIPLES.slice(0, 6).flat())
    const points = f.points
    expect(
      points.slice(0, 5).every((p) => p.phase === 'baseline' && p.panes.xbar?.ucl === null),
    ).toBe(true)
    // The event comes with the fifth point.
    expect(steps.findIndex((s) => s.events.length > 0)).toBe(14)
    const event = f.established()
    const base = TRIPLES.slice(0, 5)
    const center = mean(base.flat())
    const sigma = mean(base.map(range)) / d2(3)
    expect(event.limits.center).toBeCloseTo(center, 12)
    expect(event.limits.sigma).toBeCloseTo(sigma, 12)
    expect(event.limits.basis).toEqual({
      kind: 'estimated',
      count: 5,
      excluded: 0,
      firstTs: 0,
      lastTs: 14_000,
      method: 'rbar',
    })
    expect(event.ts).toBe(14_000)
    expect(event.baseline.map((p) => [p.index, p.phase])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [i, 'baseline']),
    )
    for (const p of event.baseline) {
      expect(p.panes.xbar?.ucl).toBeCloseTo(center + (3 * sigma) / Math.sqrt(3), 12)
      expect(p.panes.r?.center).toBeCloseTo(d2(3) * sigma, 12)
    }
    expect(points[5]?.phase).toBe('monitor')
    expect(points[5]?.panes.xbar?.ucl).toBe(event.baseline[0]?.panes.xbar?.ucl)
    expect(f.state.baseline).toEqual([]) // the summaries are released once frozen
    expect(f.state.limits).toEqual(event.limits)
  })

  it('the judged baseline carries its violations (N1 on a baseline point beyond the limits it helped set)', () => {
    const values = [10, 10.2, 9.8, 10.1, 9.9, 10, 10.3, 9.7, 10.1, 14]
    const f = new Feed(imr())
    f.values(values)
    const event = f.established()
    expect(event.baseline[9]?.violations).toContainEqual({ rule: 'N1', pane: 'i', indices: [9] })
    expect(f.points[9]?.violations).toEqual([]) // the Phase I point itself was not judged
  })

  it('a count baseline that cannot be estimated (no variation) slides on, an estimate-failed event saying why each time, until it can', () => {
    const f = new Feed(imr({ baseline: { subgroups: 5 } }))
    const steps = f.values([7, 7, 7, 7, 7, 7, 7, 7.5])
    expect(steps.slice(4, 7).map((s) => s.events)).toEqual(
      [4000, 5000, 6000].map((ts) => [
        { type: 'estimate-failed', ts, reason: 'the baseline has no variation (MR̄ = 0)' },
      ]),
    )
    expect(steps[6]?.state.baseline.map((b) => b.index)).toEqual([2, 3, 4, 5, 6])
    const event = f.established()
    expect(event.baseline.map((p) => p.index)).toEqual([3, 4, 5, 6, 7])
    expect(event.limits.center).toBeCloseTo(mean([7, 7, 7, 7, 7.5]), 12)
    expect(event.limits.sigma).toBeCloseTo(0.5 / 4 / d2(2), 12)
  })

  it('an X̄-R count baseline of constant subgroups fails with R̄ = 0, and slides the same way', () => {
    const f = new Feed(xbarR({ baseline: { subgroups: 2 } }))
    f.values([5, 5, 5, 5, 5, 5, 5, 5, 5])
    expect(f.events).toEqual([
      { type: 'estimate-failed', ts: 5000, reason: 'the baseline has no variation (R̄ = 0)' },
      { type: 'estimate-failed', ts: 8000, reason: 'the baseline has no variation (R̄ = 0)' },
    ])
    f.values([5, 6, 5], 9000)
    expect(f.established().baseline.map((p) => p.index)).toEqual([2, 3])
  })

  it('a time-range baseline {from, to} collects the subgroups in it and ends with the first subgroup after `to`, which is judged in Phase II', () => {
    const f = new Feed(imr({ baseline: { from: 2000, to: 6000 } }))
    const values = [50, 1, 2, 4, 3, 5, 2, 9, 1]
    const steps = f.values(values)
    expect(steps.slice(0, 7).every((s) => s.events.length === 0)).toBe(true)
    const event = f.established()
    expect(steps[7]?.events).toEqual([event])
    expect(event.ts).toBe(7000)
    const inRange = values.slice(2, 7) // ts 2000…6000
    expect(event.baseline.map((p) => p.index)).toEqual([2, 3, 4, 5, 6])
    expect(event.limits.center).toBeCloseTo(mean(inRange), 12)
    expect(event.limits.sigma).toBeCloseTo((2 + 1 + 2 + 3) / 4 / d2(2), 12)
    expect(event.limits.basis).toMatchObject({ count: 5, firstTs: 2000, lastTs: 6000 })
    expect(f.points.map((p) => p.phase)).toEqual([
      'baseline',
      'baseline',
      'baseline',
      'baseline',
      'baseline',
      'baseline',
      'baseline',
      'monitor',
      'monitor',
    ])
    // The reading before the range was plotted, but is not in the baseline.
    expect(f.points[0]?.panes.i?.statistic).toBe(50)
  })

  it('a time-range baseline that cannot be estimated says so once, not again with every later subgroup (driver fix)', () => {
    const f = new Feed(imr({ baseline: { from: 0, to: 3000 } }))
    f.values([4, 4, 4, 4, 5, 6, 7, 8])
    expect(f.events).toEqual([
      { type: 'estimate-failed', ts: 4000, reason: 'the baseline has no variation (MR̄ = 0)' },
    ])
    expect(f.state.limits).toBeNull()
    expect(f.points.every((p) => p.phase === 'baseline')).toBe(true)
  })

  it('freezeChart ends Phase I early with the baseline so far; a frozen chart is left unchanged', () => {
    const f = new Feed(xbarR({ baseline: { subgroups: 100 } }))
    f.values(TRIPLES.slice(0, 4).flat())
    f.step({ ts: 12_000, value: 10 }) // an open subgroup is not part of it
    const frozen = f.freeze(12_500)
    expect(frozen.events).toHaveLength(1)
    const event = f.established()
    expect(event.ts).toBe(12_500)
    expect(event.baseline.map((p) => p.index)).toEqual([0, 1, 2, 3])
    expect(event.limits.sigma).toBeCloseTo(mean(TRIPLES.slice(0, 4).map(range)) / d2(3), 12)
    const again = freezeChart(f.spec, f.state, 13_000)
    expect(again).toEqual({ state: f.state, points: [], events: [] })
    f.step({ ts: 13_000, value: 11 })
    expect(f.step({ ts: 14_000, value: 9 }).points[0]?.phase).toBe('monitor')
  })

  it('freezeChart with too little to estimate gives estimate-failed and keeps collecting', () => {
    const f = new Feed(imr({ baseline: { subgroups: 50 } }))
    f.values([3])
    expect(f.freeze(1000).events).toEqual([
      {
        type: 'estimate-failed',
        ts: 1000,
        reason: 'an I-MR baseline needs two consecutive readings',
      },
    ])
    expect(f.state.baseline).toHaveLength(1)
    f.values([4], 1000)
    expect(f.freeze(2000).events[0]?.type).toBe('limits-established')
  })

  it('given limits: no baseline, every point is judged in Phase II from the first, no event', () => {
    const given = { center: 10, sigma: 1 }
    const f = new Feed(xbarR({ given }))
    f.values(TRIPLES.slice(0, 3).flat())
    expect(f.events).toEqual([])
    expect(f.points.map((p) => p.phase)).toEqual(['monitor', 'monitor', 'monitor'])
    expect(f.points[0]?.panes.xbar?.ucl).toBeCloseTo(10 + 3 / Math.sqrt(3), 14)
    expect(f.state.baseline).toEqual([])
    expect(f.state.limits).toEqual({ center: 10, sigma: 1, basis: { kind: 'given' } })
  })
})

describe('run rules look back into the baseline', () => {
  it('N2 (I-MR): a run of nine above the centre that starts in the baseline completes in Phase II, naming the baseline points', () => {
    // Baseline of 10: five low, five high (above its mean); then four more high.
    const f = new Feed(imr())
    f.values([9, 8, 9, 8, 9, 11, 12, 11, 12, 11, 11, 12, 11, 12])
    const event = f.established()
    expect(event.baseline.flatMap((p) => p.violations)).toEqual([])
    const flagged = f.points.filter((p) => p.violations.some((v) => v.rule === 'N2'))
    expect(flagged.map((p) => p.index)).toEqual([13])
    expect(f.points[13]?.violations).toContainEqual({
      rule: 'N2',
      pane: 'i',
      indices: [5, 6, 7, 8, 9, 10, 11, 12, 13],
    })
  })

  it('N2 (X̄-R): the run over subgroup means continues from the judged baseline into Phase II', () => {
    const low = [9, 9.5, 8.5]
    const high = [11, 11.5, 10.5]
    const groups = [low, low, high, high, high, high, high, high, high, high, high]
    const f = new Feed(xbarR({ baseline: { subgroups: 6 } }))
    f.values(groups.flat())
    const n2 = f.points.flatMap((p) => p.violations.filter((v) => v.rule === 'N2'))
    expect(n2[0]).toEqual({ rule: 'N2', pane: 'xbar', indices: [2, 3, 4, 5, 6, 7, 8, 9, 10] })
    expect(n2).toHaveLength(1)
  })

  it('without the look-back (a chart given the same limits from the start has no baseline) the same Phase II points complete no run', () => {
    const f = new Feed(imr({ given: { center: 10, sigma: 0.9 } }))
    f.values([11, 12, 11, 12], 10_000)
    expect(f.points.flatMap((p) => p.violations)).toEqual([])
  })
})

describe('Phase I exclusion rounds', () => {
  /**
   * Twenty subgroups of range 1 and twelve of growing range, each just beyond the R limit once
   * the larger ones are left out: every round leaves out exactly one.
   */
  function cascade(): number[][] {
    const D4 = 1 + (3 * Math.sqrt(2 - 4 / Math.PI)) / (2 / Math.sqrt(Math.PI)) // exact D4(2)
    const groups: number[][] = Array.from({ length: 20 }, () => [-0.5, 0.5])
    let sum = 20
    let count = 20
    const ranges: number[] = []
    for (let j = 0; j < 12; j++) {
      const r = (1.05 * D4 * sum) / (count + 1 - D4)
      ranges.push(r)
      sum += r
      count++
    }
    for (const r of ranges) groups.push([-r / 2, r / 2])
    return groups
  }

  it('after the last round (ten) the limits are estimated from the subgroups left in, not from those before the last exclusion (driver fix)', () => {
    const groups = cascade()
    const f = new Feed(
      xbarR({
        subgroup: { by: 'count', size: 2 },
        baseline: { subgroups: groups.length },
        excludeOutOfControl: true,
      }),
    )
    f.values(groups.flat())
    const event = f.established()
    const excluded = event.baseline.filter((p) => p.excluded).map((p) => p.index)
    expect(excluded).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30, 31])
    const kept = groups.filter((_, i) => !excluded.includes(i))
    expect(event.limits.sigma).toBeCloseTo(mean(kept.map(range)) / d2(2), 12)
    expect(event.limits.basis).toMatchObject({ count: 22, excluded: 10 })
    // The two left in after the last round are still beyond their limits: judged, flagged, not excluded.
    expect(event.baseline[21]?.violations).toContainEqual({ rule: 'N1', pane: 'r', indices: [21] })
  })

  it('exclusion stops as soon as a round leaves nothing out, and is off when not asked for', () => {
    const groups = [...TRIPLES, [20, 21, 19]]
    const on = new Feed(xbarR({ baseline: { subgroups: 9 }, excludeOutOfControl: true }))
    on.values(groups.flat())
    expect(on.established().limits.basis).toMatchObject({ count: 8, excluded: 1 })
    expect(on.established().limits.center).toBeCloseTo(mean(TRIPLES.flat()), 12)
    const off = new Feed(xbarR({ baseline: { subgroups: 9 } }))
    off.values(groups.flat())
    expect(off.established().limits.basis).toMatchObject({ count: 9, excluded: 0 })
    expect(off.established().baseline.some((p) => p.excluded)).toBe(false)
  })
})

describe('limits', () => {
  it('the limits never move after freezing (every Phase II point shares the frozen centre and σ)', () => {
    const f = new Feed(imr({ baseline: { subgroups: 5 } }))
    f.values(Array.from({ length: 40 }, (_, i) => 100 + Math.sin(i) * 3))
    const limits = f.state.limits as ProcessLimits
    const monitor = f.points.filter((p) => p.phase === 'monitor')
    expect(monitor).toHaveLength(35)
    expect(new Set(monitor.map((p) => p.panes.i?.ucl)).size).toBe(1)
    expect(monitor[0]?.panes.i?.ucl).toBeCloseTo(limits.center + 3 * limits.sigma, 12)
  })
})

describe('what a chart keeps (issue 6: engine state bounded per characteristic)', () => {
  it('a frozen chart keeps no subgroup of its baseline, and its state does not grow with the points it judged', () => {
    const f = new Feed(imr({ baseline: { subgroups: 10 } }))
    f.values(Array.from({ length: 11 }, (_, i) => 100 + (i % 3)))
    expect(f.state.limits).not.toBeNull()
    expect(f.state.baseline).toEqual([])
    expect(f.state.previous).toBeNull()
    f.values(
      Array.from({ length: 1000 }, (_, i) => 100 + (i % 3)),
      20_000,
    )
    const after1000 = JSON.stringify(f.state).length
    f.values(
      Array.from({ length: 2000 }, (_, i) => 100 + (i % 3)),
      2_000_000,
    )
    // Counters and the zone window's code may gain a digit or two; nothing is listed.
    expect(JSON.stringify(f.state).length).toBeLessThanOrEqual(after1000 + 10)
  })

  it('the MR pane has no run-rule state until a moving range lies beyond its UCL, which it flags (N1) from there, also after a JSON round trip', () => {
    // Baseline 10, 11, 10, 11, …: MR̄ = 1, σ = MR̄/d2(2) with d2(2) = 2/√π (E|X₁ − X₂| for two
    // standard normals); the MR pane's UCL is d2·σ + 3·d3·σ with d3(2) = √(2 − 4/π) (the SD of
    // |X₁ − X₂|): 1 + 3·0.8525·0.8862 ≈ 3.267, the tables' D4·MR̄.
    const sigma = Math.sqrt(Math.PI) / 2
    const d3 = Math.sqrt(2 - 4 / Math.PI)
    const mrUcl = (2 / Math.sqrt(Math.PI)) * sigma + 3 * d3 * sigma
    expect(mrUcl).toBeGreaterThan(3.26)
    expect(mrUcl).toBeLessThan(3.27)
    const spec = imr({ rules: ['N1'] })
    const f = new Feed(spec)
    f.values(Array.from({ length: 10 }, (_, i) => 10 + (i % 2)))
    // Within the I pane's limits (10.5 ± 3σ = 7.84 … 13.16), moving ranges 2 and 2.5.
    f.values([12, 12 - 2 + 0.5, 13], 20_000)
    expect(f.state.rules[1]).toBeNull()
    expect(f.points.flatMap((p) => p.violations)).toEqual([])
    // A copy through JSON carries on as the original.
    const copy = new Feed(spec)
    copy.state = JSON.parse(JSON.stringify(f.state)) as ChartState
    for (const feed of [f, copy]) {
      // 13 → 9.5: MR 3.5 > UCL, the I value within its limits.
      const step = feed.step({ ts: 30_000, value: 9.5 })
      expect(step.points[0]?.violations).toEqual([{ rule: 'N1', pane: 'mr', indices: [13] }])
      expect(step.points[0]?.panes.mr?.ucl).toBeCloseTo(mrUcl, 12)
      expect(feed.state.rules[1]).not.toBeNull()
    }
  })

  it('charts stepped in turn give the points each gives alone (a one-point chart’s subgroup is scratch shared by all charts)', () => {
    const values = (k: number) => Array.from({ length: 90 }, (_, i) => 10 + Math.sin(i * 0.7 + k))
    const specs = [
      imr(),
      xbarR(),
      imr({ baseline: { subgroups: 5 } }),
      xbarR({ subgroup: { by: 'key' } }),
    ]
    const keyed = (spec: ChartSpec, i: number) =>
      spec.subgroup.by === 'key' ? { key: `lot-${Math.floor(i / 4)}` } : {}
    const alone = specs.map((spec, k) => {
      const f = new Feed(spec)
      for (const [i, value] of values(k).entries())
        f.step({ ts: i * 1000, value, ...keyed(spec, i) })
      return f.points
    })
    const feeds = specs.map((spec) => new Feed(spec))
    for (let i = 0; i < 90; i++)
      for (const [k, f] of feeds.entries())
        f.step({ ts: i * 1000, value: values(k)[i] as number, ...keyed(f.spec, i) })
    expect(alone.map((points) => points.length)).toEqual([90, 30, 90, 22])
    for (const [k, f] of feeds.entries()) expect(f.points).toEqual(alone[k])
  })
})
