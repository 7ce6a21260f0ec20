import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_RUN_LENGTHS,
  initialRuleState,
  lowerLimit,
  type RuleInput,
  type RuleSettings,
  type RuleState,
  stepRules,
  upperLimit,
  zoneWindow,
} from '../rules/run-rules.ts'
import type { RuleId, Violation } from '../rules/types.ts'

const NELSON: RuleId[] = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8']
const ALL: RuleId[] = [...NELSON, 'WE1', 'WE2', 'WE3', 'WE4']

/** Points with one centre and σ (limits at centre ± 3σ), numbered from `first`. */
function points(
  values: readonly number[],
  center = 0,
  sigma: number | null = 1,
  first = 0,
): RuleInput[] {
  return values.map((statistic, i) => ({
    index: first + i,
    statistic,
    center,
    sigma,
    lcl: sigma === null ? null : lowerLimit(center, sigma, 3),
    ucl: sigma === null ? null : upperLimit(center, sigma, 3),
  }))
}

/** Streams the points through the rules; returns each point's violations and the last state. */
function stream(
  settings: RuleSettings,
  inputs: readonly RuleInput[],
  from: RuleState = initialRuleState(),
) {
  let state = from
  const out: (readonly Violation[])[] = []
  for (const p of inputs) {
    const step = stepRules(settings, state, 'x', p)
    state = step.state
    out.push(step.violations)
  }
  return { violations: out, state }
}

/** The indices of the points flagged for `rule`, with only that rule enabled. */
function flagged(
  rule: RuleId,
  inputs: readonly RuleInput[],
  runLengths?: RuleSettings['runLengths'],
) {
  return stream({ rules: [rule], runLengths }, inputs).violations.flatMap((v, i) =>
    v.some((x) => x.rule === rule) ? [inputs[i]?.index as number] : [],
  )
}

/** The pattern (indices) `rule` names at the point at `position`, or undefined. */
function pattern(rule: RuleId, inputs: readonly RuleInput[], position: number) {
  return stream({ rules: [rule] }, inputs).violations[position]?.find((v) => v.rule === rule)
    ?.indices
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)
const repeat = (value: number, n: number) => Array<number>(n).fill(value)
/** 0, 1, 0, 1, …: every difference alternates in sign. */
const zigzag = (n: number, low = 0, high = 1) =>
  range(0, n - 1).map((i) => (i % 2 === 0 ? low : high))

describe('N1 / WE1: one point beyond a control limit', () => {
  it('N1: a point exactly on a control limit is in control; strictly beyond is flagged', () => {
    expect(flagged('N1', points([3, -3, 0, 3.000001, -3.000001]))).toEqual([3, 4])
  })

  it('N1: names the point itself as the pattern', () => {
    expect(pattern('N1', points([0, 4]), 1)).toEqual([1])
  })

  it('N1: judged against the limits as drawn, not centre ± 3σ (EWMA L-sigma limits, truncated p limits)', () => {
    const ewma: RuleInput = { index: 0, statistic: 2.8, center: 0, sigma: 1, lcl: -2.7, ucl: 2.7 }
    expect(flagged('N1', [ewma])).toEqual([0])
    // A p chart whose lower limit is truncated at zero: no lower limit is drawn, so no bound.
    const p: RuleInput = {
      index: 0,
      statistic: 0,
      center: 0.02,
      sigma: 0.014,
      lcl: null,
      ucl: 0.062,
    }
    expect(flagged('N1', [p, { ...p, index: 1, statistic: 0.07 }])).toEqual([1])
  })

  it('N1: needs no σ', () => {
    expect(
      flagged('N1', [{ index: 0, statistic: 5, center: 0, sigma: null, lcl: -1, ucl: 1 }]),
    ).toEqual([0])
  })

  it('WE1: the same test as N1', () => {
    const inputs = points([3, -3, 3.5, -3.5])
    expect(flagged('WE1', inputs)).toEqual([2, 3])
    expect(pattern('WE1', inputs, 2)).toEqual([2])
  })
})

describe('N2 / WE4: a run on one side of the centre line', () => {
  it('N2: nine in a row on one side: the ninth point is flagged, not the eighth, and so is every later one', () => {
    const inputs = points([...repeat(0.5, 10), -0.5], 0)
    expect(flagged('N2', inputs)).toEqual([8, 9])
    expect(pattern('N2', inputs, 8)).toEqual(range(0, 8))
    expect(pattern('N2', inputs, 9)).toEqual(range(1, 9)) // the latest nine
  })

  it('N2: below the centre line too', () => {
    expect(flagged('N2', points(repeat(-0.5, 9)))).toEqual([8])
  })

  it('N2: a point on the centre line breaks the run', () => {
    const values = [...repeat(1, 8), 0, ...repeat(1, 8)]
    expect(flagged('N2', points(values))).toEqual([])
    expect(flagged('N2', points([...values, 1]))).toEqual([17])
  })

  it('N2: a point on the other side starts a new run', () => {
    expect(flagged('N2', points([...repeat(1, 8), -1, ...repeat(1, 8)]))).toEqual([])
    expect(flagged('N2', points([...repeat(1, 8), ...repeat(-1, 9)]))).toEqual([16])
  })

  it('N2: the side does not depend on the zones (far and near points alike), nor on σ', () => {
    expect(flagged('N2', points([0.1, 2.9, 5, 0.01, 1, 2, 1, 0.5, 3]))).toEqual([8])
    expect(flagged('N2', points(repeat(1, 9), 0, null))).toEqual([8])
  })

  it('WE4: eight in a row on one side; a point on the centre line breaks the run', () => {
    expect(flagged('WE4', points(repeat(1, 9)))).toEqual([7, 8])
    expect(pattern('WE4', points(repeat(-1, 8)), 7)).toEqual(range(0, 7))
    expect(flagged('WE4', points([...repeat(1, 7), 0, ...repeat(1, 7)]))).toEqual([])
  })

  it('WE4 and N2 keep their own lengths when both are enabled', () => {
    const { violations } = stream({ rules: ['N2', 'WE4'] }, points(repeat(1, 9)))
    expect(violations[7]).toEqual([{ rule: 'WE4', pane: 'x', indices: range(0, 7) }])
    expect(violations[8]?.map((v) => v.rule)).toEqual(['N2', 'WE4'])
  })
})

describe('N3: a trend', () => {
  it('N3: six points steadily increasing: the sixth is flagged, not the fifth', () => {
    const inputs = points([-2, -1.5, -1, 0, 1, 2, 2.5])
    expect(flagged('N3', inputs)).toEqual([5, 6])
    expect(pattern('N3', inputs, 5)).toEqual(range(0, 5))
    expect(pattern('N3', inputs, 6)).toEqual(range(1, 6))
  })

  it('N3: steadily decreasing too', () => {
    expect(flagged('N3', points([5, 4, 3, 2, 1, 0]))).toEqual([5])
  })

  it('N3: equal neighbours break a trend', () => {
    expect(flagged('N3', points([0, 1, 2, 2, 3, 4, 5]))).toEqual([])
    expect(flagged('N3', points([0, 1, 2, 3, 4, 5, 5]))).toEqual([5]) // a trend ends at an equal neighbour
    const inputs = points([0, 1, 2, 2, 3, 4, 5, 6, 7])
    expect(flagged('N3', inputs)).toEqual([8]) // the second 2 starts the new trend
    expect(pattern('N3', inputs, 8)).toEqual(range(3, 8))
  })

  it('N3: a reversal starts a new trend at the turning point', () => {
    const inputs = points([0, 1, 2, 3, 4, 3, 2, 1, 0, -1])
    expect(flagged('N3', inputs)).toEqual([9])
    expect(pattern('N3', inputs, 9)).toEqual(range(4, 9))
  })
})

describe('N4: alternation', () => {
  it('N4: fourteen points alternating up and down: the fourteenth is flagged, not the thirteenth', () => {
    const inputs = points(zigzag(15))
    expect(flagged('N4', inputs)).toEqual([13, 14])
    expect(pattern('N4', inputs, 13)).toEqual(range(0, 13))
    expect(pattern('N4', inputs, 14)).toEqual(range(1, 14))
  })

  it('N4: the alternation need not cross the centre line', () => {
    expect(flagged('N4', points(zigzag(14, 1, 2.5)))).toEqual([13])
  })

  it('N4: an equal neighbour breaks the alternation', () => {
    const values = [...zigzag(8), 1, ...zigzag(12)] // …0, 1, 1, 0, 1, 0…
    expect(values.slice(6, 10)).toEqual([0, 1, 1, 0])
    expect(flagged('N4', points(values))).toEqual([])
    expect(flagged('N4', points([...values, 0]))).toEqual([21]) // points 8…21
    expect(flagged('N4', points([...zigzag(14), 1]))).toEqual([13]) // an alternation ends at one
  })

  it('N4: two moves the same way break the alternation; the new one starts at the point between them', () => {
    const values = [...zigzag(8), 2, ...zigzag(11, 1, 2)] // …0, 1, 2, 1, 2…
    expect(flagged('N4', points(values))).toEqual([])
    const inputs = points([...values, 2])
    expect(flagged('N4', inputs)).toEqual([20])
    expect(pattern('N4', inputs, 20)).toEqual(range(7, 20))
  })
})

describe('N5 / WE2: two of three beyond 2σ on the same side', () => {
  it('N5: flags the point that makes two of three; names the two points beyond, not the one between', () => {
    const inputs = points([0, 2.5, 0, 2.5])
    expect(flagged('N5', inputs)).toEqual([3])
    expect(pattern('N5', inputs, 3)).toEqual([1, 3])
  })

  it('N5: no flag before the window is full (two points are not two of three)', () => {
    expect(flagged('N5', points([2.5, 2.5]))).toEqual([])
    expect(flagged('N5', points([2.5, 2.5, 2.5]))).toEqual([2])
  })

  it('N5: three of three names all three points', () => {
    expect(pattern('N5', points([2.5, 2.6, 2.7]), 2)).toEqual([0, 1, 2])
  })

  it('N5: a point not itself beyond 2σ is not flagged, though its window holds two beyond', () => {
    expect(flagged('N5', points([0, 2.5, 2.5, 1.5]))).toEqual([2])
    expect(flagged('N5', points([2.5, 2.5, -2]))).toEqual([])
  })

  it('N5: the points beyond must be on the same side', () => {
    expect(flagged('N5', points([0, 2.5, -2.5]))).toEqual([])
    const inputs = points([0, 2.5, -2.5, -2.5])
    expect(flagged('N5', inputs)).toEqual([3])
    expect(pattern('N5', inputs, 3)).toEqual([2, 3])
  })

  it('N5: a point exactly on 2σ is not beyond 2σ; a point beyond 3σ is', () => {
    expect(flagged('N5', points([2, 2, 2, -2, -2, -2]))).toEqual([])
    expect(flagged('N5', points([2, 2.0001, 2.0001]))).toEqual([2])
    expect(pattern('N5', points([3.5, 0, 2.5]), 2)).toEqual([0, 2])
  })

  it('N5: a statistic drawn exactly on centre ± 2σ is on the line (no floating-point drift from dividing by σ)', () => {
    const [center, sigma] = [0.1, 0.1]
    const upper = upperLimit(center, sigma, 2)
    expect((upper - center) / sigma).toBeGreaterThan(2) // dividing would call it beyond
    expect(flagged('N5', points([upper, upper, upper], center, sigma))).toEqual([])
    const lower = lowerLimit(0.3, 0.01, 2)
    expect((lower - 0.3) / 0.01).toBeLessThan(-2)
    expect(flagged('N5', points([lower, lower, lower], 0.3, 0.01))).toEqual([])
  })

  it('WE2: the same test as N5', () => {
    const inputs = points([0, -2.5, 0, -2.5, 2, 2.5])
    expect(flagged('WE2', inputs)).toEqual([3])
    expect(pattern('WE2', inputs, 3)).toEqual([1, 3])
  })
})

describe('N6 / WE3: four of five beyond 1σ on the same side', () => {
  it('N6: flags the point that makes four of five; names the four points beyond', () => {
    const inputs = points([0, 1.5, 1.5, 0, 1.5, 1.5])
    expect(flagged('N6', inputs)).toEqual([5])
    expect(pattern('N6', inputs, 5)).toEqual([1, 2, 4, 5])
  })

  it('N6: no flag before the window is full (four points are not four of five)', () => {
    expect(flagged('N6', points(repeat(1.5, 4)))).toEqual([])
    expect(pattern('N6', points(repeat(1.5, 5)), 4)).toEqual([0, 1, 2, 3, 4])
  })

  it('N6: a point not itself beyond 1σ is not flagged, though its window holds four beyond', () => {
    expect(flagged('N6', points([1.5, 1.5, 1.5, 1.5, 0.5]))).toEqual([])
    expect(flagged('N6', points([0, 1.5, 1.5, 1.5, 1.5, 0.5]))).toEqual([4])
  })

  it('N6: the points beyond must be on the same side', () => {
    expect(flagged('N6', points([1.5, 1.5, -1.5, -1.5, 1.5]))).toEqual([])
    expect(flagged('N6', points([-1.5, -1.5, 1.5, -1.5, -2.5]))).toEqual([4])
  })

  it('N6: a point exactly on 1σ is not beyond 1σ', () => {
    expect(flagged('N6', points([1, 1, 1, 1, 1, -1, -1, -1, -1, -1]))).toEqual([])
    expect(flagged('N6', points([1, 1.01, 1.01, 1.01, 1.01]))).toEqual([4])
  })

  it('WE3: the same test as N6', () => {
    const inputs = points([0, -1.5, -1.5, 0, -1.5, -1.5])
    expect(flagged('WE3', inputs)).toEqual([5])
    expect(pattern('WE3', inputs, 5)).toEqual([1, 2, 4, 5])
  })
})

describe('N7: stratification', () => {
  it('N7: fifteen in a row within 1σ, either side: the fifteenth is flagged, not the fourteenth', () => {
    const inputs = points([...zigzag(16, -0.5, 0.5)])
    expect(flagged('N7', inputs)).toEqual([14, 15])
    expect(pattern('N7', inputs, 14)).toEqual(range(0, 14))
  })

  it('N7: a point exactly on 1σ counts as within', () => {
    expect(flagged('N7', points(zigzag(15, -1, 1)))).toEqual([14])
    // also when the line is centre + σ as drawn, which dividing by σ would put beyond
    const edge = upperLimit(0.1, 0.2, 1)
    expect((edge - 0.1) / 0.2).toBeGreaterThan(1)
    expect(flagged('N7', points(repeat(edge, 15), 0.1, 0.2))).toEqual([14])
  })

  it('N7: a point beyond 1σ breaks the run', () => {
    expect(flagged('N7', points([...repeat(0, 14), 1.01, ...repeat(0, 14)]))).toEqual([])
  })
})

describe('N8: mixture', () => {
  it('N8: eight in a row beyond 1σ, either side: the eighth is flagged, not the seventh', () => {
    const inputs = points(zigzag(9, -1.5, 1.5))
    expect(flagged('N8', inputs)).toEqual([7, 8])
    expect(pattern('N8', inputs, 7)).toEqual(range(0, 7))
  })

  it('N8: the points need not straddle the centre line', () => {
    expect(flagged('N8', points(repeat(1.5, 8)))).toEqual([7])
    expect(flagged('N8', points(repeat(-2.5, 8)))).toEqual([7])
  })

  it('N8: a point exactly on 1σ is not beyond 1σ and breaks the run', () => {
    expect(flagged('N8', points([...repeat(1.5, 7), 1, ...repeat(-1.5, 7)]))).toEqual([])
    const edge = upperLimit(0.1, 0.2, 1)
    expect(flagged('N8', points([...repeat(1.5, 7), edge], 0.1, 0.2))).toEqual([])
  })
})

describe('zones per point', () => {
  it('N5: each point is judged against its own σ (varying limits)', () => {
    // p chart, p̄ = 0.1: the middle sample is larger, so its σ is smaller and 0.16 is beyond its 2σ.
    const p = (index: number, statistic: number, sigma: number): RuleInput => ({
      index,
      statistic,
      center: 0.1,
      sigma,
      lcl: null,
      ucl: upperLimit(0.1, sigma, 3),
    })
    expect(flagged('N5', [p(0, 0.16, 0.025), p(1, 0.16, 0.04), p(2, 0.16, 0.025)])).toEqual([2])
    expect(pattern('N5', [p(0, 0.16, 0.025), p(1, 0.16, 0.04), p(2, 0.16, 0.025)], 2)).toEqual([
      0, 2,
    ])
    expect(flagged('N5', [p(0, 0.16, 0.04), p(1, 0.16, 0.025), p(2, 0.16, 0.04)])).toEqual([])
  })

  it('N7, N8: a run goes on across points with different σ and centre', () => {
    const inputs = range(0, 14).map((i) => {
      const sigma = 1 + (i % 3)
      return { index: i, statistic: 10 + sigma, center: 10, sigma, lcl: null, ucl: null }
    })
    expect(flagged('N7', inputs)).toEqual([14]) // every point on its own +1σ line
    const beyond = inputs.map((p) => ({ ...p, statistic: p.center + 1.5 * (p.sigma as number) }))
    expect(flagged('N8', beyond)).toEqual(range(7, 14))
    const shifted = inputs.map((p, i) => ({ ...p, center: i, statistic: i - 0.5 }))
    expect(flagged('N7', shifted)).toEqual([14])
  })
})

describe('points without σ, and gaps', () => {
  it('N7, N8: a point without σ breaks their runs; N2 and N3 go on through it', () => {
    const inputs = points(repeat(0, 15))
    inputs[7] = { ...(inputs[7] as RuleInput), sigma: null }
    expect(flagged('N7', inputs)).toEqual([])
    const beyond = points(repeat(1.5, 8))
    beyond[3] = { ...(beyond[3] as RuleInput), sigma: null }
    expect(flagged('N8', beyond)).toEqual([])
    expect(flagged('N2', beyond)).toEqual([])
    expect(flagged('N2', [...beyond, ...points([1.5], 0, 1, 8)])).toEqual([8])
    const trend = points([0, 1, 2, 3, 4, 5])
    trend[2] = { ...(trend[2] as RuleInput), sigma: null }
    expect(flagged('N3', trend)).toEqual([5])
  })

  it('N5, N6: a window holding a point without σ is not full', () => {
    const inputs = points([2.5, 2.5, 2.5, 2.5])
    inputs[1] = { ...(inputs[1] as RuleInput), sigma: null }
    expect(flagged('N5', inputs)).toEqual([])
    expect(flagged('N5', [...inputs, ...points([2.5], 0, 1, 4)])).toEqual([4])
    const six = points(repeat(1.5, 10))
    six[4] = { ...(six[4] as RuleInput), sigma: 0 } // σ = 0 (p̄ = 0): no zones either
    expect(flagged('N6', six)).toEqual([9])
  })

  it('N2–N8, WE2–WE4: a point whose index does not follow the previous one starts every pattern afresh', () => {
    const inputs = [...points(repeat(1.5, 8)), ...points(repeat(1.5, 8), 0, 1, 20)]
    expect(flagged('N2', inputs)).toEqual([])
    expect(flagged('N8', inputs)).toEqual([7, 27])
    expect(flagged('WE4', inputs)).toEqual([7, 27])
    expect(flagged('N6', [...points([1.5, 1.5, 1.5]), ...points([1.5, 1.5], 0, 1, 4)])).toEqual([])
  })
})

describe('statistics that are not finite', () => {
  it('N1, N2, N3, N7: NaN or ±Infinity breaks the patterns that need it, and the state stays JSON', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const trend = points([0, 0.1, 0.2, bad, 0.3, 0.4, 0.5, 0.6, 0.7])
      expect(flagged('N3', trend)).toEqual([])
      expect(flagged('N7', points([...repeat(0, 7), bad, ...repeat(0, 7)]))).toEqual([])
      const { state } = stream({ rules: ALL }, trend.slice(0, 4))
      expect(JSON.parse(JSON.stringify(state))).toEqual(state)
      const resumed = stream(
        { rules: ALL },
        trend.slice(4),
        JSON.parse(JSON.stringify(state)) as RuleState,
      )
      expect(resumed.violations).toEqual(stream({ rules: ALL }, trend).violations.slice(4))
    }
    expect(flagged('N2', points([...repeat(1, 4), Number.NaN, ...repeat(1, 8)]))).toEqual([])
    expect(flagged('N1', points([Number.NaN, Number.POSITIVE_INFINITY]))).toEqual([1])
  })
})

describe('run lengths', () => {
  const cases: { rule: RuleId; n: number; values: (n: number) => number[] }[] = [
    { rule: 'N2', n: 7, values: (n) => repeat(0.5, n) },
    { rule: 'N3', n: 4, values: (n) => range(0, n - 1) },
    { rule: 'N4', n: 5, values: (n) => zigzag(n) },
    { rule: 'N7', n: 3, values: (n) => repeat(0, n) },
    { rule: 'N8', n: 3, values: (n) => repeat(-1.5, n) },
    { rule: 'WE4', n: 5, values: (n) => repeat(-0.5, n) },
    { rule: 'N2', n: 20, values: (n) => repeat(0.5, n) },
    { rule: 'N4', n: 3, values: (n) => zigzag(n) },
  ]
  it.each(cases)(
    '$rule: a configured run length of $n flags the point that makes $n, not the one before',
    ({ rule, n, values }) => {
      const inputs = points(values(n + 1))
      expect(flagged(rule, inputs, { [rule]: n })).toEqual([n - 1, n])
      expect(
        stream({ rules: [rule], runLengths: { [rule]: n } }, inputs).violations[n - 1],
      ).toEqual([{ rule, pane: 'x', indices: range(0, n - 1) }])
    },
  )

  it('N2, N3, N4: a length that is not an integer ≥ 2 (≥ 3 for N4) falls back to the canonical one', () => {
    for (const bad of [0, 1, -4, 2.5, Number.NaN]) {
      expect(flagged('N2', points(repeat(1, 9)), { N2: bad })).toEqual([8])
    }
    expect(flagged('N4', points(zigzag(14)), { N4: 2 })).toEqual([13])
    expect(DEFAULT_RUN_LENGTHS).toEqual({ N2: 9, N3: 6, N4: 14, N7: 15, N8: 8, WE4: 8 })
  })

  it('N5, N6: the k-of-m rules keep their windows whatever runLengths says', () => {
    expect(flagged('N5', points([2.5, 2.5, 2.5]), { N5: 5 })).toEqual([2])
    expect(flagged('N6', points(repeat(1.5, 5)), { N6: 2 })).toEqual([4])
  })
})

describe('violations and state', () => {
  it('N1, N2, N6, N8: an event names the rule, the pane and its points, in the order the rules are enabled', () => {
    const { violations } = stream(
      { rules: ['N6', 'N2', 'N8', 'N1'] },
      points([...repeat(1.5, 8), 3.5]),
    )
    expect(violations[8]).toEqual([
      { rule: 'N6', pane: 'x', indices: [4, 5, 6, 7, 8] },
      { rule: 'N2', pane: 'x', indices: range(0, 8) },
      { rule: 'N8', pane: 'x', indices: range(1, 8) },
      { rule: 'N1', pane: 'x', indices: [8] },
    ])
  })

  it('N1–N8, WE1–WE4: the state is small and bounded: it does not grow with the stream', () => {
    const values = range(0, 4999).map((i) => Math.sin(i) * 2)
    const { state } = stream({ rules: ALL }, points(values))
    expect(JSON.stringify(state).length).toBeLessThan(250)
    expect(zoneWindow(state)).toHaveLength(5)
  })

  it('N2: a state saved before the other rules existed ({ side, length }) keeps its run', () => {
    const saved = { side: 1, length: 8 } as unknown as RuleState
    const step = stepRules({ rules: ALL }, saved, 'x', points([1], 0, 1, 8)[0] as RuleInput)
    expect(step.violations).toEqual([
      { rule: 'N2', pane: 'x', indices: range(0, 8) },
      { rule: 'WE4', pane: 'x', indices: range(1, 8) },
    ])
    expect(zoneWindow(step.state)).toEqual([null, null, null, null, 0])
  })
})

// ---------------------------------------------------------------------------------------------
// Properties

/**
 * The rules computed from their definitions over the whole sequence: for each point, scan the
 * window of points ending there. A window is made of points with consecutive indices; a zone
 * rule needs σ on every point of its window; z = (x − centre)/σ.
 */
function batch(settings: RuleSettings, inputs: readonly RuleInput[]): Violation[][] {
  const len = (rule: RuleId) => settings.runLengths?.[rule] ?? (DEFAULT_RUN_LENGTHS[rule] as number)
  const at = (i: number) => inputs[i] as RuleInput
  const z = (i: number) => {
    const p = at(i)
    return p.sigma === null || p.sigma <= 0 ? null : (p.statistic - p.center) / p.sigma
  }
  const window = (t: number, n: number): number[] | null => {
    if (t - n + 1 < 0) return null
    for (let j = t - n + 1; j < t; j++) if (at(j + 1).index !== at(j).index + 1) return null
    return range(t - n + 1, t)
  }
  const indices = (w: number[]) => w.map((j) => at(j).index)
  const diffs = (w: number[]) => w.slice(1).map((j) => at(j).statistic - at(j - 1).statistic)
  const zones = (w: number[]) => {
    const zs = w.map(z)
    return zs.every((v) => v !== null) ? (zs as number[]) : null
  }
  const kOfM = (t: number, k: number, m: number, level: number): number[] | null => {
    const w = window(t, m)
    const zs = w && zones(w)
    const zt = z(t)
    if (!w || !zs || zt === null || Math.abs(zt) <= level) return null
    const beyond = w.filter((_, i) => (zs[i] as number) * Math.sign(zt) > level)
    return beyond.length >= k ? indices(beyond) : null
  }
  return inputs.map((p, t) => {
    const out: Violation[] = []
    for (const rule of settings.rules) {
      let found: number[] | null = null
      switch (rule) {
        case 'N1':
        case 'WE1':
          if ((p.ucl !== null && p.statistic > p.ucl) || (p.lcl !== null && p.statistic < p.lcl))
            found = [p.index]
          break
        case 'N2':
        case 'WE4': {
          const w = window(t, len(rule))
          if (
            w &&
            (w.every((j) => at(j).statistic > at(j).center) ||
              w.every((j) => at(j).statistic < at(j).center))
          ) {
            found = indices(w)
          }
          break
        }
        case 'N3': {
          const w = window(t, len(rule))
          if (w && (diffs(w).every((d) => d > 0) || diffs(w).every((d) => d < 0)))
            found = indices(w)
          break
        }
        case 'N4': {
          const w = window(t, len(rule))
          const d = w ? diffs(w) : []
          if (w && d.every((x, i) => x !== 0 && (i === 0 || x * (d[i - 1] as number) < 0)))
            found = indices(w)
          break
        }
        case 'N5':
        case 'WE2':
          found = kOfM(t, 2, 3, 2)
          break
        case 'N6':
        case 'WE3':
          found = kOfM(t, 4, 5, 1)
          break
        case 'N7': {
          const w = window(t, len(rule))
          const zs = w && zones(w)
          if (w && zs?.every((v) => Math.abs(v) <= 1)) found = indices(w)
          break
        }
        case 'N8': {
          const w = window(t, len(rule))
          const zs = w && zones(w)
          if (w && zs?.every((v) => Math.abs(v) > 1)) found = indices(w)
          break
        }
      }
      if (found) out.push({ rule, pane: 'x', indices: found })
    }
    return out
  })
}

/**
 * Random streams built from segments that make patterns likely (runs on one side, trends,
 * zigzags, points hugging the centre or far out) between noise. Statistics are multiples of ½
 * and σ a power of two, so many points lie exactly on the zone lines and z is exact.
 */
const segment = fc.oneof(
  fc.array(fc.integer({ min: -8, max: 8 }), { minLength: 1, maxLength: 12 }),
  fc
    .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 18 }), fc.boolean())
    .map(([step, n, up]) => range(0, n - 1).map((i) => (up ? 1 : -1) * (i * step - 8))),
  fc
    .tuple(
      fc.integer({ min: -8, max: 8 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 2, max: 18 }),
    )
    .map(([low, jump, n]) => zigzag(n, low, low + jump)),
  fc
    .tuple(
      fc.constantFrom(-1, 1),
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 18 }),
    )
    .map(([s, xs]) => xs.map((x) => s * x)),
  fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 1, maxLength: 18 }),
)

/** `shifts`: the centre moves now and then (per-point centres); without, one centre line. */
const streamOf = (shifts: boolean) =>
  fc
    .record({
      segments: fc.array(segment, { minLength: 1, maxLength: 8 }),
      center: fc.constantFrom(0, 1, -2),
      sigma: fc.constantFrom(1, 2, 0.5),
      varying: fc.boolean(),
      seed: fc.array(fc.nat({ max: 99 }), { minLength: 200, maxLength: 200 }),
    })
    .map(({ segments, center, sigma, varying, seed }) => {
      const values = segments.flat().slice(0, 160)
      let index = 0
      return values.map((v, i): RuleInput => {
        const r = seed[i % seed.length] as number
        const s = r < 3 ? null : varying ? ([1, 2, 0.5][r % 3] as number) : sigma
        const c = shifts && varying && r % 7 === 0 ? center + 1 : center
        index += r === 99 ? 2 : 1 // now and then a gap
        const limits =
          r % 11 === 0
            ? { lcl: null, ucl: c + 3 }
            : { lcl: c - 3 * (s ?? 1), ucl: c + 3 * (s ?? 1) }
        return { index, statistic: c + v / 2, center: c, sigma: s, ...limits }
      })
    })

const settingsArb: fc.Arbitrary<RuleSettings> = fc.oneof(
  fc.constant<RuleSettings>({ rules: ALL }),
  fc
    .record({
      N2: fc.integer({ min: 2, max: 10 }),
      N3: fc.integer({ min: 2, max: 8 }),
      N4: fc.integer({ min: 3, max: 15 }),
      N7: fc.integer({ min: 2, max: 16 }),
      N8: fc.integer({ min: 2, max: 9 }),
      WE4: fc.integer({ min: 2, max: 9 }),
    })
    .map((runLengths) => ({ rules: ALL, runLengths })),
)

const mirror = (p: RuleInput): RuleInput => ({
  ...p,
  statistic: 2 * p.center - p.statistic,
  lcl: p.ucl === null ? null : 2 * p.center - p.ucl,
  ucl: p.lcl === null ? null : 2 * p.center - p.lcl,
})

describe('properties', () => {
  it('N1–N8, WE1–WE4: streaming equals the batch computation from the definitions (flags and indices)', () => {
    const fired = new Map<string, number>()
    fc.assert(
      fc.property(streamOf(true), settingsArb, (inputs, settings) => {
        const streamed = stream(settings, inputs).violations
        expect(streamed).toEqual(batch(settings, inputs))
        for (const v of streamed.flat()) fired.set(v.rule, (fired.get(v.rule) ?? 0) + 1)
      }),
      { numRuns: 5000 },
    )
    // Every rule was exercised, many times.
    for (const rule of ALL) expect(fired.get(rule) ?? 0).toBeGreaterThan(100)
  })

  it('N1–N8, WE1–WE4: the state survives a JSON round trip mid-stream: nothing changes', () => {
    fc.assert(
      fc.property(streamOf(true), settingsArb, fc.nat(), (inputs, settings, cut) => {
        const whole = stream(settings, inputs)
        const at = inputs.length === 0 ? 0 : cut % inputs.length
        const head = stream(settings, inputs.slice(0, at))
        const revived = JSON.parse(JSON.stringify(head.state)) as RuleState
        expect(revived).toEqual(head.state)
        const tail = stream(settings, inputs.slice(at), revived)
        expect([...head.violations, ...tail.violations]).toEqual(whole.violations)
        expect(tail.state).toEqual(whole.state)
        // and at every step
        let state = initialRuleState()
        inputs.forEach((p, i) => {
          const step = stepRules(settings, JSON.parse(JSON.stringify(state)) as RuleState, 'x', p)
          expect(step.violations).toEqual(whole.violations[i])
          state = step.state
        })
      }),
      { numRuns: 1000 },
    )
  })

  it('N1–N6, N8, WE1–WE4: no rule fires on constant data at the centre (N7 does: that is its pattern)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e3, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        settingsArb,
        (center, sigma, n, settings) => {
          const inputs = points(repeat(center, n), center, sigma)
          const fired = stream(settings, inputs).violations.flat()
          expect(fired.filter((v) => v.rule !== 'N7')).toEqual([])
          const n7 = settings.runLengths?.N7 ?? 15
          expect(fired.filter((v) => v.rule === 'N7').length).toBe(Math.max(0, n - n7 + 1))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('N1–N8, WE1–WE4: mirrored data (x → 2·centre − x) flags the same points; sides and directions swap', () => {
    fc.assert(
      fc.property(streamOf(false), settingsArb, (inputs, settings) => {
        const straight = stream(settings, inputs)
        const mirrored = stream(settings, inputs.map(mirror))
        expect(mirrored.violations).toEqual(straight.violations)
        const s = straight.state
        const m = mirrored.state
        expect(m.side).toBe(-s.side || 0)
        expect(m.move).toBe(-s.move || 0) // N3 up ↔ down, N4 the other phase
        expect(zoneWindow(m)).toEqual(zoneWindow(s).map((z) => (z === null ? null : -z || 0)))
        expect([m.length, m.trendLength, m.alternating, m.within, m.beyond]).toEqual([
          s.length,
          s.trendLength,
          s.alternating,
          s.within,
          s.beyond,
        ])
      }),
      { numRuns: 2000 },
    )
  })
})
