import { describe, expect, expectTypeOf, it } from 'vitest'
import type {
  AlarmAreaKpis as ContractAreaKpis,
  AlarmKpisView as ContractKpisView,
} from '../gateway/contract.ts'
import {
  type AlarmAreaKpis,
  type AlarmKpisInput,
  type AlarmKpisView,
  alarmKpis,
  floodMs,
} from '../rules/alarms/kpis.ts'
import { initialAlarm, stepAlarm } from '../rules/alarms/lifecycle.ts'
import type { AlarmInput, AlarmPriority, AlarmState } from '../rules/alarms/types.ts'

// Alarm-system health (EEMUA 191, ISA-18.2 clause 16) against the hand-built
// sequences: 500 alarms in 10 minutes, a tag toggling 5 times a minute, a standing alarm, known
// priorities and acknowledgement times. Expected figures are worked out in the comments.

const S = 1000
const MIN = 60 * S
const H = 60 * MIN

type Tr = AlarmKpisInput['transitions'][number]
const tr = (
  alarm: string,
  at: number,
  from: AlarmState,
  to: AlarmState,
  by: string | null = null,
): Tr => ({
  alarm,
  at,
  from,
  to,
  by,
  why: '',
  value: null,
})
/** A → B: one activation. */
const activation = (alarm: string, at: number) => tr(alarm, at, 'normal', 'unack-active')

const alarmsOf = (ids: readonly string[], area = 'packing', priority: AlarmPriority = 'high') =>
  ids.map((id) => ({ id, area, priority }))

const ids = (n: number, prefix = 'a') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`)

function onlyArea(input: AlarmKpisInput): AlarmAreaKpis {
  const view = alarmKpis(input)
  expect(view.areas.length).toBe(1)
  return view.areas[0] as AlarmAreaKpis
}

/** Drives the real lifecycle and labels its transitions with the alarm's id. */
function lifecycle(alarm: string, inputs: readonly AlarmInput[], reAlarmMs?: number): Tr[] {
  let record = initialAlarm(0)
  const out: Tr[] = []
  for (const input of inputs) {
    const step = stepAlarm({ reAlarmMs }, record, input)
    out.push(...step.transitions.map((t) => ({ ...t, alarm })))
    record = step.record
  }
  return out
}
const cond = (at: number, active: boolean): AlarmInput => ({
  kind: 'condition',
  at,
  active,
  value: null,
  limit: null,
})
const ack = (at: number): AlarmInput => ({ kind: 'acknowledge', at, by: 'op1' })

describe('EEMUA 191 alarm rate and flood', () => {
  it('500 alarms in 10 minutes: 500 per 10 minutes, flood from the 11th alarm to the end', () => {
    // One alarm every 1.2 s from t = 0: the 11th (t = 12 s) brings the trailing window to 11.
    // The window never falls below 5 before t = 10 min: flood 588 s of 600 s = 98 %.
    const a = ids(500)
    const k = onlyArea({
      from: 0,
      to: 10 * MIN,
      alarms: alarmsOf(a),
      transitions: a.map((id, i) => activation(id, i * 1200)),
    })
    expect(k.alarms).toBe(500)
    expect(k.per10Minutes).toEqual({ mean: 500, max: 500 })
    expect(k.floodPercent).toBeCloseTo(98, 10)
    expect(k.badActors).toEqual(a.slice(0, 10).map((alarm) => ({ alarm, activations: 1 })))
    expect(k.priorities).toEqual({ critical: 0, high: 1, medium: 0, low: 0 })
    expect(k.standing).toEqual([])
    expect(k.chattering).toEqual([])
    expect(k.meanTimeToAcknowledgeMs).toBeNull()
  })

  it('a flood under way at `from` (seen in the earlier history) covers the whole window', () => {
    // 1,000 alarms 1.2 s apart over 20 minutes; the range is the second 10 minutes: the
    // trailing window holds 500 at its start. Only the range's 500 are counted.
    const a = ids(1000)
    const k = onlyArea({
      from: 10 * MIN,
      to: 20 * MIN,
      alarms: alarmsOf(a),
      transitions: a.map((id, i) => activation(id, i * 1200)),
    })
    expect(k.alarms).toBe(500)
    expect(k.floodPercent).toBe(100)
  })

  it('a flood ends when the trailing 10 minutes hold fewer than 5 alarms', () => {
    // 12 alarms at 0, 1, …, 11 s. Flood begins at 10 s (11 in the window). They leave the window
    // 10 min after each: at 607 s 8 have left and 4 remain. Flood 10 s → 607 s = 597 s of 1,200 s.
    const a = ids(12)
    const k = onlyArea({
      from: 0,
      to: 20 * MIN,
      alarms: alarmsOf(a),
      transitions: a.map((id, i) => activation(id, i * S)),
    })
    expect(k.floodPercent).toBeCloseTo((597 / 1200) * 100, 10)
    expect(
      floodMs(
        a.map((_, i) => i * S),
        0,
        20 * MIN,
      ),
    ).toBe(597 * S)
    // Buckets [0, 10 min) and [10, 20 min): 12 and 0.
    expect(k.per10Minutes).toEqual({ mean: 6, max: 12 })
  })

  it('exactly 10 alarms in 10 minutes is not a flood (more than 10)', () => {
    expect(
      floodMs(
        Array.from({ length: 10 }, (_, i) => i * S),
        0,
        20 * MIN,
      ),
    ).toBe(0)
    // 11 at 0…10 s: flood from 10 s; at 606 s 7 have left and 4 remain: 596 s.
    expect(
      floodMs(
        Array.from({ length: 11 }, (_, i) => i * S),
        0,
        20 * MIN,
      ),
    ).toBe(596 * S)
  })

  it('per 10 minutes with a short last bucket: the mean is the rate, the max the busiest bucket', () => {
    // 15 minutes: 12 alarms in [0, 10 min), 3 in [10, 15 min). 15 per 15 min = 10 per 10 min.
    const a = ids(15)
    const k = onlyArea({
      from: 0,
      to: 15 * MIN,
      alarms: alarmsOf(a),
      transitions: a.map((id, i) =>
        activation(id, i < 12 ? i * 40 * S : 10 * MIN + (i - 12) * MIN),
      ),
    })
    expect(k.per10Minutes).toEqual({ mean: 10, max: 12 })
  })
})

describe('ISA-18.2 chattering: 3 or more condition changes within 60 s', () => {
  it('a tag toggling 5 times a minute chatters; a slow one and an operator-handled one do not', () => {
    // On at 0, 12, 24, 36, 48 s; off 6 s after each: 10 changes in a minute.
    const toggling = lifecycle(
      'fill-weight:H',
      Array.from({ length: 5 }, (_, i) => [
        cond(i * 12 * S, true),
        cond(i * 12 * S + 6 * S, false),
      ]).flat(),
    )
    // One change a minute: on at 0, off at 60 s, on at 120 s: the third is 120 s after the first.
    const slow = lifecycle('temp:H', [cond(0, true), cond(MIN, false), cond(2 * MIN, true)])
    // Activation, acknowledgement and shelving within 20 s: 3 transitions, 1 condition change.
    const handled = [
      ...lifecycle('dp:L', [cond(0, true), ack(10 * S)]),
      tr('dp:L', 20 * S, 'ack-active', 'shelved', 'op1'),
    ]
    const k = onlyArea({
      from: 0,
      to: 10 * MIN,
      alarms: alarmsOf(['fill-weight:H', 'temp:H', 'dp:L']),
      transitions: [...toggling, ...slow, ...handled],
    })
    expect(toggling.length).toBe(10)
    expect(k.chattering).toEqual(['fill-weight:H'])
    // The toggling tag's activations: A→B once, then D→B four times.
    expect(k.badActors).toEqual([
      { alarm: 'fill-weight:H', activations: 5 },
      { alarm: 'temp:H', activations: 2 },
      { alarm: 'dp:L', activations: 1 },
    ])
  })

  it('the third change within 60 s: at 59.999 s it chatters, at 60 s it does not', () => {
    const three = (alarm: string, last: number) => [
      tr(alarm, 0, 'normal', 'unack-active'),
      tr(alarm, 1000, 'unack-active', 'unack-rtn'),
      tr(alarm, last, 'unack-rtn', 'unack-active'),
    ]
    const k = onlyArea({
      from: 0,
      to: 10 * MIN,
      alarms: alarmsOf(['x', 'y']),
      transitions: [...three('x', 59_999), ...three('y', 60_000)],
    })
    expect(k.chattering).toEqual(['x'])
  })
})

describe('ISA-18.2 standing alarms: active more than 24 h at the end of the range', () => {
  it('B or C for more than 24 h without a break; a re-alarm does not restart it', () => {
    const t = [
      activation('long', 0), // 25 h in B
      activation('acked', 0),
      tr('acked', H, 'unack-active', 'ack-active', 'op1'), // 25 h in B then C
      activation('realarmed', 0),
      tr('realarmed', H, 'unack-active', 'ack-active', 'op1'),
      tr('realarmed', 2 * H, 'ack-active', 'unack-active'), // re-alarm
      activation('short', 2 * H), // 23 h
      activation('cleared', 0),
      tr('cleared', 24.5 * H, 'unack-active', 'unack-rtn'),
      activation('exactly', H), // exactly 24 h: not more
    ]
    const k = onlyArea({
      from: 0,
      to: 25 * H,
      alarms: alarmsOf(['long', 'acked', 'realarmed', 'short', 'cleared', 'exactly']),
      transitions: t,
    })
    expect(k.standing).toEqual(['acked', 'long', 'realarmed'])
  })

  it('active at `from`: dated by the earlier history when given, else from `from`', () => {
    // Range: the last hour of 25 h. 'old' became active at 0 (history before the range);
    // 'given' is only said to be ack-active at `from`: counted from `from`, 1 h.
    const k = onlyArea({
      from: 24 * H,
      to: 25 * H,
      alarms: alarmsOf(['old', 'given']),
      transitions: [activation('old', 0)],
      initial: { old: 'unack-active', given: 'ack-active' },
    })
    expect(k.standing).toEqual(['old'])
    expect(k.alarms).toBe(0)
  })
})

describe('priority distribution and mean time to acknowledge', () => {
  it('each priority’s share of the activations', () => {
    const alarms = [
      ...alarmsOf(ids(2, 'c'), 'packing', 'critical'),
      ...alarmsOf(ids(3, 'h'), 'packing', 'high'),
      ...alarmsOf(ids(5, 'm'), 'packing', 'medium'),
      ...alarmsOf(['l'], 'packing', 'low'), // never activates
    ]
    const k = onlyArea({
      from: 0,
      to: H,
      alarms,
      transitions: alarms.filter((a) => a.id !== 'l').map((a, i) => activation(a.id, i * MIN)),
    })
    expect(k.priorities).toEqual({ critical: 0.2, high: 0.3, medium: 0.5, low: 0 })
  })

  it('MTTA over the acknowledged activations (B→C and D→A), from known ack times', () => {
    const t = [
      activation('x', 0),
      tr('x', 30 * S, 'unack-active', 'ack-active', 'op1'), // 30 s
      tr('x', 50 * S, 'ack-active', 'normal'),
      activation('x', 100 * S),
      tr('x', 110 * S, 'unack-active', 'unack-rtn'),
      tr('x', 160 * S, 'unack-rtn', 'normal', 'op1'), // 60 s
      activation('y', 200 * S), // never acknowledged
      activation('z', 300 * S),
      tr('z', 310 * S, 'unack-active', 'shelved', 'op1'),
      tr('z', 320 * S, 'shelved', 'ack-active', 'op1'), // manual unshelve: not an ack
      tr('z', 400 * S, 'ack-active', 'unack-active'), // re-alarm: no new activation
      tr('z', 420 * S, 'unack-active', 'ack-active', 'op1'), // its ack is not counted again
    ]
    const k = onlyArea({ from: 0, to: H, alarms: alarmsOf(['x', 'y', 'z']), transitions: t })
    expect(k.meanTimeToAcknowledgeMs).toBe(45 * S)
    expect(k.alarms).toBe(4)
  })

  it('activations from D, shelved, suppressed and out-of-service count; a re-alarm does not', () => {
    const t = [
      activation('x', 0),
      tr('x', 1 * S, 'unack-active', 'unack-rtn'),
      tr('x', 2 * S, 'unack-rtn', 'unack-active'), // 2
      tr('x', 3 * S, 'unack-active', 'shelved', 'op1'),
      tr('x', 4 * S, 'shelved', 'unack-active'), // 3
      tr('x', 5 * S, 'unack-active', 'suppressed'),
      tr('x', 6 * S, 'suppressed', 'unack-active'), // 4
      tr('x', 7 * S, 'unack-active', 'out-of-service', 'eng1'),
      tr('x', 8 * S, 'out-of-service', 'unack-active', 'eng1'), // 5
      tr('x', 9 * S, 'unack-active', 'ack-active', 'op1'),
      tr('x', 10 * S, 'ack-active', 'unack-active'), // re-alarm
    ]
    expect(onlyArea({ from: 0, to: H, alarms: alarmsOf(['x']), transitions: t }).alarms).toBe(5)
  })
})

describe('areas and bad actors', () => {
  it('areas are kept apart, listed by name; an area without alarms has zero figures', () => {
    const a = ids(20)
    const view = alarmKpis({
      from: 0,
      to: 10 * MIN,
      alarms: [
        ...alarmsOf(a, 'packing'),
        ...alarmsOf(['cr-1'], 'cleanroom', 'critical'),
        ...alarmsOf(['quiet'], 'warehouse'),
      ],
      transitions: [
        ...a.map((id, i) => activation(id, i * S)),
        activation('cr-1', 5 * S),
        tr('cr-1', 35 * S, 'unack-active', 'ack-active', 'op2'),
        tr('unknown', 0, 'normal', 'unack-active'), // not a listed alarm: ignored
      ],
    })
    expect(view.areas.map((x) => [x.area, x.alarms, x.floodPercent > 0])).toEqual([
      ['cleanroom', 1, false],
      ['packing', 20, true],
      ['warehouse', 0, false],
    ])
    expect(view.areas[0]?.meanTimeToAcknowledgeMs).toBe(30 * S)
    expect(view.areas[1]?.meanTimeToAcknowledgeMs).toBeNull()
    expect(view.areas[2]).toEqual({
      area: 'warehouse',
      alarms: 0,
      per10Minutes: { mean: 0, max: 0 },
      floodPercent: 0,
      standing: [],
      chattering: [],
      badActors: [],
      priorities: { critical: 0, high: 0, medium: 0, low: 0 },
      meanTimeToAcknowledgeMs: null,
    })
  })

  it('the top 10 by activations, most first, ties by id', () => {
    // Alarm i activates i + 1 times (A→B, then D→B), except two ties at 3.
    const a = ids(12)
    const counts = [1, 2, 3, 3, 5, 6, 7, 8, 9, 10, 11, 12]
    const t = a.flatMap((id, i) =>
      Array.from({ length: counts[i] as number }, (_, k) => [
        tr(id, k * MIN, k === 0 ? 'normal' : 'unack-rtn', 'unack-active'),
        tr(id, k * MIN + 30 * S, 'unack-active', 'unack-rtn'),
      ]).flat(),
    )
    const k = onlyArea({ from: 0, to: H, alarms: alarmsOf(a), transitions: t })
    expect(k.badActors.map((b) => [b.alarm, b.activations])).toEqual([
      ['a011', 12],
      ['a010', 11],
      ['a009', 10],
      ['a008', 9],
      ['a007', 8],
      ['a006', 7],
      ['a005', 6],
      ['a004', 5],
      ['a002', 3],
      ['a003', 3],
    ])
  })

  it('the result has exactly the gateway contract’s shape (AlarmKpisView, AlarmAreaKpis)', () => {
    expectTypeOf<AlarmKpisView>().toEqualTypeOf<ContractKpisView>()
    expectTypeOf<AlarmAreaKpis>().toEqualTypeOf<ContractAreaKpis>()
  })
})
