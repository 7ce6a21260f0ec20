import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CharacteristicSpec,
  type CharacteristicState,
  classifyLimits,
  estimateImrLimits,
  evaluate,
  type ImrSpec,
  imrPaneLimits,
  initialCharacteristicState,
  initialImrState,
  stepImr,
} from '../rules/index.ts'

const obs = (values: number[], t0 = 0) => values.map((value, i) => ({ ts: t0 + i * 1000, value }))

/** Runs a chart over values and returns the points. */
function run(spec: ImrSpec, values: number[]) {
  let state = initialImrState(spec)
  return obs(values).map((o) => {
    const step = stepImr(spec, state, o)
    state = step.state
    return step
  })
}

describe('I-MR limits against worked textbook values', () => {
  it('Montgomery, Introduction to SQC: cost of processing mortgage loans (x̄ = 300.5, MR̄ = 7.79, UCL 321.22, LCL 279.78)', () => {
    const costs = [
      310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301,
      304,
    ]
    const limits = estimateImrLimits(obs(costs))
    expect(limits).not.toBeNull()
    const lines = imrPaneLimits(limits as NonNullable<typeof limits>)
    expect(lines.i.center).toBeCloseTo(300.5, 10)
    expect(lines.mr.center).toBeCloseTo(148 / 19, 10) // MR̄ = 7.79
    expect(lines.i.ucl).toBeCloseTo(321.22, 2)
    expect(lines.i.lcl).toBeCloseTo(279.78, 2)
    expect(lines.mr.ucl).toBeCloseTo(25.45, 2)
    expect(lines.mr.lcl).toBe(0)
  })

  it('NIST/SEMATECH e-Handbook 6.3.2.2: individuals chart (x̄ = 50.81, MR̄ = 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13)', () => {
    const values = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]
    const lines = imrPaneLimits(
      estimateImrLimits(obs(values)) as NonNullable<ReturnType<typeof estimateImrLimits>>,
    )
    expect(lines.i.center).toBeCloseTo(50.81, 10)
    expect(lines.mr.center).toBeCloseTo(1.8778, 4)
    expect(lines.i.ucl).toBeCloseTo(55.8, 2)
    expect(lines.i.lcl).toBeCloseTo(45.82, 2)
    expect(lines.mr.ucl).toBeCloseTo(6.13, 2)
  })

  it('freezes the limits after the first N readings (default 25) and never moves them after', () => {
    const spec: ImrSpec = { type: 'imr', baselineCount: 25, rules: ['N1', 'N2'] }
    const values = Array.from({ length: 60 }, (_, i) => 100 + Math.sin(i) * 2)
    const steps = run(spec, values)
    expect(
      steps
        .slice(0, 24)
        .every((s) => s.point.panes.i?.ucl === null && s.point.phase === 'baseline'),
    ).toBe(true)
    expect(steps[24]?.events).toHaveLength(1)
    const expected = estimateImrLimits(obs(values.slice(0, 25)))
    expect(steps[24]?.state.limits).toEqual(expected)
    const ucls = new Set(steps.slice(24).map((s) => s.point.panes.i?.ucl))
    expect(ucls.size).toBe(1)
    expect(steps[59]?.state.baseline).toEqual([]) // memory is released once frozen
  })

  it('a baseline without any variation cannot give limits: the chart waits for variation, keeping N readings', () => {
    const spec: ImrSpec = { type: 'imr', baselineCount: 5, rules: ['N1'] }
    const steps = run(spec, [7, 7, 7, 7, 7, 7, 7, 7.5])
    expect(steps[6]?.state.limits).toBeNull()
    expect(steps[6]?.state.baseline).toHaveLength(5)
    expect(steps[7]?.state.limits).not.toBeNull()
  })

  it('given μ and σ: no baseline, limits from the start', () => {
    const spec: ImrSpec = {
      type: 'imr',
      baselineCount: 25,
      rules: ['N1'],
      given: { center: 10, sigma: 0.5 },
    }
    const [first] = run(spec, [10.2])
    expect(first?.point.phase).toBe('monitor')
    expect(first?.point.panes.i).toEqual({ statistic: 10.2, center: 10, lcl: 8.5, ucl: 11.5 })
    expect(first?.point.panes.mr?.statistic).toBeNull() // the first point has no moving range
  })
})

describe('run rules', () => {
  const given: ImrSpec = {
    type: 'imr',
    baselineCount: 25,
    rules: ['N1', 'N2'],
    given: { center: 10, sigma: 1 },
  }
  const flagged = (values: number[], rule: string) =>
    run(given, values).flatMap((s) =>
      s.point.violations.some((v) => v.rule === rule) ? [s.point.index] : [],
    )

  it('N1: a point exactly on a control limit is in control; just beyond is not', () => {
    expect(flagged([13, 7], 'N1')).toEqual([])
    expect(flagged([13.000001, 6.999999], 'N1')).toEqual([0, 1])
  })

  it('N1: names the point itself as the pattern', () => {
    const [step] = run(given, [14])
    expect(step?.point.violations).toEqual([{ rule: 'N1', pane: 'i', indices: [0] }])
  })

  it('N2: nine in a row on one side; the ninth and every later point that continues the run are flagged', () => {
    const values = [11, 11, 11, 11, 11, 11, 11, 11, 11, 11.5, 9]
    expect(flagged(values, 'N2')).toEqual([8, 9])
    const ninth = run(given, values)[8]?.point.violations.find((v) => v.rule === 'N2')
    expect(ninth?.indices).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('N2: below the centre line too', () => {
    expect(flagged(Array(9).fill(9.5), 'N2')).toEqual([8])
  })

  it('N2: a point on the centre line breaks the run', () => {
    const values = [...Array(8).fill(11), 10, ...Array(8).fill(11)]
    expect(flagged(values, 'N2')).toEqual([])
    expect(flagged([...values, 11], 'N2')).toEqual([17])
  })

  it('N2: a point on the other side starts a new run', () => {
    expect(flagged([...Array(8).fill(11), 9, ...Array(8).fill(11)], 'N2')).toEqual([])
  })

  it('N2: the run looks back into the baseline, as a stream does', () => {
    // Baseline of 10 (centre 10): its last four points are above the centre line.
    const spec: ImrSpec = { type: 'imr', baselineCount: 10, rules: ['N2'] }
    const baseline = [9, 9.2, 8.8, 9.4, 9.6, 9.8, 10.5, 10.6, 10.4, 10.7]
    const steps = run(spec, [...baseline, 10.3, 10.2, 10.4, 10.1, 10.5])
    const n2 = steps.flatMap((s) =>
      s.point.violations.filter((v) => v.rule === 'N2').map((v) => [s.point.index, v.indices]),
    )
    expect(steps[9]?.state.limits?.center).toBeCloseTo(9.8, 10)
    // The 9th point above 9.8 is index 14 (indices 6..14): it completes the run.
    expect(n2).toEqual([[14, [6, 7, 8, 9, 10, 11, 12, 13, 14]]])
  })

  it('only the enabled rules are judged', () => {
    const only1: ImrSpec = { ...given, rules: ['N1'] }
    expect(run(only1, Array(12).fill(11)).some((s) => s.point.violations.length > 0)).toBe(false)
  })
})

describe('alert and action limits', () => {
  const limits = { actionLow: 490, alertLow: 495, alertHigh: 505, actionHigh: 510 }

  it('a value strictly beyond a limit is past it; one on it is not', () => {
    expect(classifyLimits(limits, 510)).toBe('alert-high')
    expect(classifyLimits(limits, 510.01)).toBe('action-high')
    expect(classifyLimits(limits, 505)).toBe('normal')
    expect(classifyLimits(limits, 490)).toBe('alert-low')
    expect(classifyLimits(limits, 489.9)).toBe('action-low')
    expect(classifyLimits({}, 1e9)).toBe('normal')
  })

  it('an excursion has one onset; going from action back to alert is not a new alert', () => {
    const spec: CharacteristicSpec = {
      chart: { type: 'imr', baselineCount: 25, rules: [] },
      limits,
    }
    let state: CharacteristicState = initialCharacteristicState(spec)
    const seen: string[] = []
    for (const o of obs([500, 506, 511, 512, 507, 500, 511])) {
      const e = evaluate(spec, state, o)
      state = e.state
      seen.push(e.deviations.map((d) => `${d.cause}${d.onset ? '!' : ''}`).join(' ') || e.status)
    }
    expect(seen).toEqual([
      'baseline',
      'alert-high!',
      'action-high!',
      'action-high',
      'alert-high',
      'baseline',
      'action-high!',
    ])
  })
})

describe('invariants', () => {
  it('state survives a JSON round trip mid-stream: the results are the same', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.nat(80),
        (values, cut) => {
          const spec: CharacteristicSpec = {
            chart: { type: 'imr', baselineCount: 5, rules: ['N1', 'N2'] },
            limits: { alertHigh: 100, actionHigh: 500 },
          }
          let a = initialCharacteristicState(spec)
          let b = initialCharacteristicState(spec)
          obs(values).forEach((o, i) => {
            const ea = evaluate(spec, a, o)
            const eb = evaluate(spec, b, o)
            expect(eb).toEqual(ea)
            a = ea.state
            b = i === cut ? (JSON.parse(JSON.stringify(eb.state)) as CharacteristicState) : eb.state
          })
        },
      ),
    )
  })

  it('no rule fires on constant data at the centre line', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3 }),
        fc.nat(200),
        (center, sigma, n) => {
          const spec: ImrSpec = {
            type: 'imr',
            baselineCount: 25,
            rules: ['N1', 'N2'],
            given: { center, sigma },
          }
          expect(
            run(spec, Array(n).fill(center)).every((s) => s.point.violations.length === 0),
          ).toBe(true)
        },
      ),
    )
  })

  it('mirrored data flags the mirrored points', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -40, max: 40 }), { maxLength: 100 }), (offsets) => {
        const spec: ImrSpec = {
          type: 'imr',
          baselineCount: 25,
          rules: ['N1', 'N2'],
          given: { center: 0, sigma: 10 },
        }
        const up = run(spec, offsets).map((s) => s.point.violations)
        const down = run(
          spec,
          offsets.map((x) => -x),
        ).map((s) => s.point.violations)
        expect(down).toEqual(up)
      }),
    )
  })
})
