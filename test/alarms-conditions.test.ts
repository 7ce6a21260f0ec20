import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ConditionInput,
  type ConditionState,
  type ConditionStep,
  initialCondition,
  RATE_WINDOW_CAP,
  stepCondition,
} from '../rules/alarms/conditions.ts'
import { alarmSettingsProblems } from '../rules/alarms/settings.ts'
import type { AlarmSettings, ThresholdSettings } from '../rules/alarms/types.ts'

// Each ISA-18.2 condition with its deadband and delays, on hand-built reading sequences. The
// expected outputs are written out from the definitions in rules/alarms/conditions.ts.

const S = 1000
const reading = (at: number, value: number): ConditionInput => ({ kind: 'reading', at, value })
const tick = (at: number): ConditionInput => ({ kind: 'tick', at })

function run(
  settings: AlarmSettings,
  inputs: readonly ConditionInput[],
  from = initialCondition(),
) {
  let state: ConditionState = from
  const steps: ConditionStep[] = []
  for (const input of inputs) {
    const step = stepCondition(settings, state, input)
    steps.push(step)
    state = step.state
  }
  return { state, steps, active: steps.map((s) => s.active) }
}

/** Readings one second apart from t = 0. */
const readings = (values: readonly number[]) => values.map((v, i) => reading(i * S, v))

const limit = (
  condition: AlarmSettings['condition'],
  threshold: ThresholdSettings,
): AlarmSettings => ({ condition, priority: 'high', threshold })

describe('ISA-18.2 limit alarms (HH, H, L, LL) with deadband', () => {
  const H = limit('H', { threshold: 506, deadband: { units: 1 } })

  it('H: active strictly above the limit; clears at limit − deadband (the edge counts as back)', () => {
    const { steps, active } = run(H, readings([505, 506, 506.1, 505.5, 506.5, 505.2, 505, 506]))
    expect(active).toEqual([false, false, true, true, true, true, false, false])
    expect(steps.map((s) => s.changed)).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
      true,
      false,
    ])
    expect(steps[2]).toMatchObject({ value: 506.1, limit: 506 })
    expect(steps[6]).toMatchObject({ value: 505, limit: 506 })
  })

  it('H: a value oscillating inside the deadband does not chatter', () => {
    const values = [507, ...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 505.4 : 506.6))]
    const { steps } = run(H, readings(values))
    expect(steps.filter((s) => s.changed).length).toBe(1)
    expect(steps.at(-1)?.active).toBe(true)
    // Without a deadband the same values toggle on every reading.
    const bare = run(limit('H', { threshold: 506 }), readings(values))
    expect(bare.steps.filter((s) => s.changed).length).toBe(21)
  })

  it('HH: deadband in percent of |threshold| (1 % of 200 = 2)', () => {
    const HH = limit('HH', { threshold: 200, deadband: { percent: 1 } })
    expect(run(HH, readings([201, 198.5, 198, 200])).active).toEqual([true, true, false, false])
  })

  it('L and LL mirror it: active strictly below; clears at limit + deadband', () => {
    const L = limit('L', { threshold: 10, deadband: { units: 0.5 } })
    expect(run(L, readings([10, 9.9, 10.3, 10.5, 9])).active).toEqual([
      false,
      true,
      true,
      false,
      true,
    ])
    const LL = limit('LL', { threshold: -5, deadband: { percent: 10 } })
    expect(run(LL, readings([-5.1, -4.6, -4.5])).active).toEqual([true, true, false])
  })
})

describe('ISA-18.2 on-delay and off-delay, in time and in readings', () => {
  it('on-delay (time): from the first reading that met it, judged at readings and ticks', () => {
    const H = limit('H', { threshold: 506, onDelay: { ms: 10 * S } })
    const { steps } = run(H, [reading(0, 507), tick(5 * S), reading(8 * S, 508), tick(10 * S)])
    expect(steps.map((s) => s.active)).toEqual([false, false, false, true])
    // Activated at the tick: with the latest reading's value.
    expect(steps[3]).toMatchObject({ changed: true, value: 508, limit: 506 })
  })

  it('on-delay (time) cancelled by a return; a new excursion starts it again', () => {
    const H = limit('H', { threshold: 506, deadband: { units: 1 }, onDelay: { ms: 10 * S } })
    const { active } = run(H, [
      reading(0, 507),
      reading(5 * S, 505.8), // back within the limit: cancelled (the deadband is for clearing)
      tick(12 * S),
      reading(13 * S, 507),
      tick(22 * S),
      tick(23 * S),
    ])
    expect(active).toEqual([false, false, false, false, false, true])
  })

  it('on-delay (readings): 3 consecutive readings; a return resets the count; ticks do not count', () => {
    const H = limit('H', { threshold: 506, onDelay: { readings: 3 } })
    const inputs = [
      reading(0, 507),
      reading(S, 507),
      reading(2 * S, 505),
      reading(3 * S, 507),
      tick(4 * S),
      tick(5 * S),
      reading(6 * S, 507),
      reading(7 * S, 507),
    ]
    expect(run(H, inputs).active).toEqual([false, false, false, false, false, false, false, true])
  })

  it('off-delay (time): clears only after the value stayed back for the time', () => {
    const H = limit('H', { threshold: 506, offDelay: { ms: 5 * S } })
    const { active } = run(H, [
      reading(0, 507),
      reading(S, 505),
      tick(S + 4999),
      tick(6 * S),
      tick(7 * S),
    ])
    expect(active).toEqual([true, true, true, false, false])
  })

  it('off-delay cancelled by a new excursion', () => {
    const H = limit('H', { threshold: 506, offDelay: { ms: 5 * S } })
    const { active } = run(H, [
      reading(0, 507),
      reading(S, 505),
      reading(3 * S, 507),
      tick(7 * S),
      reading(8 * S, 505),
      tick(12 * S),
      tick(13 * S),
    ])
    expect(active).toEqual([true, true, true, true, true, true, false])
  })

  it('off-delay (readings) with a deadband: 2 consecutive readings back past the deadband', () => {
    const H = limit('H', { threshold: 506, deadband: { units: 1 }, offDelay: { readings: 2 } })
    expect(run(H, readings([507, 505, 505.5, 505, 504])).active).toEqual([
      true,
      true, // 1st back
      true, // inside the deadband: not back, count reset
      true, // 1st back again
      false, // 2nd
    ])
  })
})

describe('ISA-18.2 deviation from a target', () => {
  const T = { condition: 'target', priority: 'medium', target: 100 } as const

  it('active when |x − target| > threshold, on either side; the limit is the side crossed', () => {
    const settings: AlarmSettings = { ...T, threshold: { threshold: 5, deadband: { units: 1 } } }
    const { steps } = run(settings, readings([105, 105.5, 95.5, 96, 94]))
    expect(steps.map((s) => s.active)).toEqual([false, true, true, false, true])
    expect(steps[1]).toMatchObject({ value: 105.5, limit: 105 })
    expect(steps[4]).toMatchObject({ value: 94, limit: 95 })
  })

  it('with an on-delay in readings', () => {
    const settings: AlarmSettings = { ...T, threshold: { threshold: 5, onDelay: { readings: 2 } } }
    expect(run(settings, readings([106, 100, 94, 107])).active).toEqual([false, false, false, true])
  })
})

describe('ISA-18.2 rate of change (per minute over a window)', () => {
  const R: AlarmSettings = {
    condition: 'rate',
    priority: 'medium',
    rateWindowMs: 60 * S,
    threshold: { threshold: 10 },
  }

  it('the change from the oldest reading in the window to this one, per minute', () => {
    const { steps } = run(R, [
      reading(0, 100), // alone: no rate
      reading(30 * S, 103), // (103 − 100) / 0.5 min = 6
      reading(60 * S, 112), // oldest in [0, 60 s] is t = 0: 12 / 1 min = 12 > 10
      reading(90 * S, 113), // oldest in [30 s, 90 s] is t = 30 s: 10 / 1 min = 10, not > 10
      reading(120 * S, 100), // oldest in [60 s, 120 s] is t = 60 s: −12
    ])
    expect(steps.map((s) => [s.active, s.value, s.limit])).toEqual([
      [false, null, null],
      [false, 6, 10],
      [true, 12, 10],
      [false, 10, 10],
      [true, -12, -10],
    ])
  })

  it('a deadband on |rate|, and a reading alone in its window leaves the condition as it is', () => {
    const settings: AlarmSettings = { ...R, threshold: { threshold: 10, deadband: { units: 2 } } }
    const { active } = run(settings, [
      reading(0, 0),
      reading(60 * S, 12), // 12/min
      reading(120 * S, 21), // 9/min: inside the deadband, stays
      reading(400 * S, 21), // alone in its window: no rate, stays
      reading(430 * S, 25), // 8/min: clears
    ])
    expect(active).toEqual([false, true, true, true, false])
  })

  it(`bounded: at most ${RATE_WINDOW_CAP} readings kept, whatever the window holds`, () => {
    const values = Array.from({ length: 1500 }, (_, i) => reading(i, i))
    const { state, steps } = run({ ...R, rateWindowMs: 3_600_000 }, values)
    expect(state.window.length).toBe(RATE_WINDOW_CAP)
    expect(state.window[0]?.at).toBe(500)
    // 1 per ms, over the last 1,000 readings: 60,000 per minute.
    expect(steps.at(-1)?.value).toBe(60_000)
  })
})

describe('stale: not updated for staleAfterMs', () => {
  const STALE: AlarmSettings = { condition: 'stale', priority: 'high', staleAfterMs: 60 * S }

  it('active at the tick when no reading came for the time; clears on the next reading', () => {
    const { steps } = run(STALE, [
      reading(0, 1),
      tick(59_999),
      tick(60 * S),
      tick(90 * S),
      reading(95 * S, 2),
      tick(100 * S),
    ])
    expect(steps.map((s) => [s.active, s.changed, s.value])).toEqual([
      [false, false, 0],
      [false, false, 59_999],
      [true, true, 60_000],
      [true, false, 90_000],
      [false, true, 95_000], // the gap the reading closed
      [false, false, 5000],
    ])
    expect(steps[2]?.limit).toBe(60 * S)
  })

  it('a source that never sends: counted from the first input', () => {
    expect(run(STALE, [tick(1000), tick(60 * S), tick(61 * S)]).active).toEqual([
      false,
      false,
      true,
    ])
  })
})

describe('comm-loss and SPC signals', () => {
  it('comm-loss: active while the source says not ok; an on-delay rides out a short drop', () => {
    const CL: AlarmSettings = { condition: 'comm-loss', priority: 'high' }
    const source = (at: number, ok: boolean): ConditionInput => ({ kind: 'source', at, ok })
    expect(run(CL, [source(0, false), source(S, false), source(2 * S, true)]).active).toEqual([
      true,
      true,
      false,
    ])
    const delayed: AlarmSettings = { ...CL, threshold: { threshold: 0, onDelay: { ms: 10 * S } } }
    const { active } = run(delayed, [
      source(0, false),
      source(3 * S, true),
      tick(20 * S),
      source(30 * S, false),
      tick(40 * S),
    ])
    expect(active).toEqual([false, false, false, false, true])
  })

  it('Nelson rule N1 as an alarm: active while flagged, value and limit as given', () => {
    const N1: AlarmSettings = { condition: 'N1', priority: 'high' }
    const signal = (at: number, flagged: boolean): ConditionInput => ({
      kind: 'signal',
      at,
      flagged,
      value: flagged ? 12.5 : 10,
      limit: 12,
    })
    const { steps } = run(N1, [signal(0, true), signal(S, false)])
    expect(steps.map((s) => [s.active, s.value, s.limit])).toEqual([
      [true, 12.5, 12],
      [false, 10, 12],
    ])
  })

  it('cusum-upper with an on-delay of 2 points (readings = points)', () => {
    const C: AlarmSettings = {
      condition: 'cusum-upper',
      priority: 'medium',
      threshold: { threshold: 0, onDelay: { readings: 2 } },
    }
    const signal = (at: number, flagged: boolean): ConditionInput => ({
      kind: 'signal',
      at,
      flagged,
      value: null,
      limit: null,
    })
    const inputs = [signal(0, true), signal(S, false), signal(2 * S, true), signal(3 * S, true)]
    expect(run(C, inputs).active).toEqual([false, false, false, true])
  })
})

describe('settings and state', () => {
  it('alarmSettingsProblems names what is missing or wrong', () => {
    expect(alarmSettingsProblems({ condition: 'H', priority: 'high' })).toEqual([
      'condition H needs a threshold',
    ])
    expect(
      alarmSettingsProblems({
        condition: 'rate',
        priority: 'low',
        threshold: { threshold: -1, onDelay: { readings: 0 }, deadband: { units: -2 } },
      }),
    ).toEqual([
      'the rate threshold bounds an absolute value: it must be ≥ 0',
      'deadband must be ≥ 0',
      'onDelay.readings must be a whole number ≥ 1',
      'condition rate needs rateWindowMs > 0',
    ])
    expect(
      alarmSettingsProblems({ condition: 'target', priority: 'low', threshold: { threshold: 1 } }),
    ).toEqual(['condition target needs a target'])
    expect(alarmSettingsProblems({ condition: 'stale', priority: 'low', reAlarmMs: 0 })).toEqual([
      'condition stale needs staleAfterMs > 0',
      'reAlarmMs must be > 0 when set',
    ])
    expect(alarmSettingsProblems({ condition: 'WE2', priority: 'low' })).toEqual([])
  })

  it('stepCondition refuses settings it cannot evaluate', () => {
    expect(() =>
      stepCondition({ condition: 'HH', priority: 'high' }, initialCondition(), tick(0)),
    ).toThrow('alarm settings not valid: condition HH needs a threshold')
  })

  it('the state survives a JSON round trip at every step with identical results (fast-check)', () => {
    const settings: AlarmSettings = {
      condition: 'rate',
      priority: 'low',
      rateWindowMs: 30 * S,
      threshold: { threshold: 5, deadband: { units: 1 }, offDelay: { ms: 3 * S } },
    }
    const input = fc.oneof(
      fc.record({
        kind: fc.constant('reading' as const),
        value: fc.integer({ min: -50, max: 50 }),
      }),
      fc.record({ kind: fc.constant('tick' as const) }),
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10 * S }), input)), (raw) => {
        let at = 0
        const inputs = raw.map(([dt, i]) => {
          at += dt
          return { ...i, at } as ConditionInput
        })
        const straight = run(settings, inputs).steps
        let state = initialCondition()
        for (const [k, i] of inputs.entries()) {
          const step = stepCondition(settings, JSON.parse(JSON.stringify(state)), i)
          expect(step).toEqual(straight[k])
          state = step.state
        }
      }),
    )
  })
})
