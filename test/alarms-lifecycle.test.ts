import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type AlarmStep,
  initialAlarm,
  type LifecycleSettings,
  stepAlarm,
} from '../rules/alarms/lifecycle.ts'
import type { AlarmInput, AlarmRecord, AlarmTransition } from '../rules/alarms/types.ts'

// The ISA-18.2-2016 alarm state model (figure 5): A normal, B unack-active, C ack-active,
// D unack-rtn, E shelved, F suppressed by design, G out of service. The sequences below are
// built by hand; the expected transitions are written out from the figure's arcs.

const MIN = 60_000
const on = (at: number, value = 507.2, limit = 506): AlarmInput => ({
  kind: 'condition',
  at,
  active: true,
  value,
  limit,
})
const off = (at: number, value = 505, limit = 506): AlarmInput => ({
  kind: 'condition',
  at,
  active: false,
  value,
  limit,
})
const ack = (at: number, comment?: string, by = 'op1'): AlarmInput => ({
  kind: 'acknowledge',
  at,
  by,
  comment,
})
const shelve = (at: number, until: number, reason = 'sensor being cleaned'): AlarmInput => ({
  kind: 'shelve',
  at,
  by: 'op1',
  reason,
  until,
})
const unshelve = (at: number, reason?: string): AlarmInput => ({
  kind: 'unshelve',
  at,
  by: 'op1',
  reason,
})
const suppress = (at: number, isOn: boolean, why = 'line stopped'): AlarmInput => ({
  kind: 'suppress',
  at,
  on: isOn,
  why,
})
const remove = (at: number, reason = 'transmitter replaced'): AlarmInput => ({
  kind: 'remove-from-service',
  at,
  by: 'eng1',
  reason,
})
const restore = (at: number, reason?: string): AlarmInput => ({
  kind: 'return-to-service',
  at,
  by: 'eng1',
  reason,
})
const tick = (at: number): AlarmInput => ({ kind: 'tick', at })

/** Runs the inputs; every step's result, the transitions in order and the last record. */
function run(
  inputs: readonly AlarmInput[],
  settings: LifecycleSettings = {},
  from: AlarmRecord = initialAlarm(0),
) {
  let record = from
  const steps: AlarmStep[] = []
  for (const input of inputs) {
    const step = stepAlarm(settings, record, input)
    steps.push(step)
    record = step.record
  }
  return { record, steps, transitions: steps.flatMap((s) => s.transitions) }
}

/** from → to pairs, in order. */
const arcs = (ts: readonly AlarmTransition[]) => ts.map((t) => `${t.from}→${t.to}`)

describe('ISA-18.2 figure 5: condition and acknowledgement', () => {
  it('A→B: the condition becomes active (by the process, with the value and limit)', () => {
    const { record, transitions } = run([on(1000)])
    expect(transitions).toEqual([
      {
        from: 'normal',
        to: 'unack-active',
        at: 1000,
        by: null,
        why: 'condition active: value 507.2 above limit 506',
        value: 507.2,
      },
    ])
    expect(record).toMatchObject({
      state: 'unack-active',
      active: true,
      acknowledged: false,
      activeSince: 1000,
      value: 507.2,
      limit: 506,
      since: 1000,
    })
  })

  it('a low-limit activation says below', () => {
    const { transitions } = run([on(1000, 3.1, 4)])
    expect(transitions[0]?.why).toBe('condition active: value 3.1 below limit 4')
  })

  it('names any value and limit to twelve significant digits, without float noise (fast-check)', () => {
    // The text the test expects: each number rounded to 12 significant digits and written in
    // its shortest form (507.20000000000005 → 507.2, 1/3 → 0.333333333333).
    const words = (x: number) => String(Number(x.toPrecision(12)))
    const number = fc.oneof(
      fc.double({ noNaN: true }),
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map((k) => k / 1000),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => x + 0.1),
      // Thirteen significant digits, in 13 and in 14 characters: rounded, not written as they are.
      fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 }),
      fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 }).map((k) => k / 1000),
    )
    fc.assert(
      fc.property(number, number, (value, limit) => {
        const { transitions } = run([on(1000, value, limit)])
        const side = value > limit ? 'above' : value < limit ? 'below' : 'at'
        expect(transitions[0]?.why).toBe(
          `condition active: value ${words(value)} ${side} limit ${words(limit)}`,
        )
      }),
      { numRuns: 2000 },
    )
    expect(run([on(1000, 507.20000000000005, 1 / 3)]).transitions[0]?.why).toBe(
      'condition active: value 507.2 above limit 0.333333333333',
    )
  })

  it('a repeat activation while active (B or C) is no transition: one alarm', () => {
    const { record, transitions } = run([on(1000), on(2000, 508), ack(3000), on(4000, 509)])
    expect(arcs(transitions)).toEqual(['normal→unack-active', 'unack-active→ack-active'])
    // The value at the latest change of the condition: the activation's.
    expect(record.value).toBe(507.2)
    expect(record.activeSince).toBe(1000)
  })

  it('B→C on acknowledge, with who and the comment; C→A when the condition clears', () => {
    const { record, transitions } = run([on(1000), ack(5000, 'adjusting the filler'), off(9000)])
    expect(transitions.slice(1)).toEqual([
      {
        from: 'unack-active',
        to: 'ack-active',
        at: 5000,
        by: 'op1',
        why: 'adjusting the filler',
        value: 507.2,
      },
      {
        from: 'ack-active',
        to: 'normal',
        at: 9000,
        by: null,
        why: 'returned to normal: value 505',
        value: 505,
      },
    ])
    expect(record).toMatchObject({
      state: 'normal',
      active: false,
      acknowledged: true,
      acknowledgedAt: 5000,
      activeSince: null,
    })
  })

  it('B→D when it clears unacknowledged; D→A on acknowledge; D→B when active again', () => {
    const a = run([on(1000), off(2000), ack(3000)])
    expect(a.transitions.map((t) => [t.from, t.to, t.at, t.by, t.why])).toEqual([
      ['normal', 'unack-active', 1000, null, 'condition active: value 507.2 above limit 506'],
      ['unack-active', 'unack-rtn', 2000, null, 'returned to normal: value 505'],
      ['unack-rtn', 'normal', 3000, 'op1', 'acknowledged'],
    ])
    expect(a.record).toMatchObject({ state: 'normal', acknowledged: true, acknowledgedAt: 3000 })

    const b = run([on(1000), off(2000), on(3000, 508)])
    expect(arcs(b.transitions)).toEqual([
      'normal→unack-active',
      'unack-active→unack-rtn',
      'unack-rtn→unack-active',
    ])
    expect(b.record).toMatchObject({ state: 'unack-active', activeSince: 3000, value: 508 })
  })

  it('acknowledge is refused in A, C, E, F and G with a reason, and changes nothing', () => {
    const cases: [AlarmInput[], string][] = [
      [[], 'nothing to acknowledge: the alarm is normal'],
      [[on(1), ack(2)], 'already acknowledged'],
      [[shelve(1, 10 * MIN)], 'the alarm is shelved: unshelve it to acknowledge'],
      [[suppress(1, true)], 'the alarm is suppressed by design: nothing to acknowledge'],
      [[remove(1)], 'the alarm is out of service: nothing to acknowledge'],
    ]
    for (const [before, reason] of cases) {
      const { record } = run(before)
      const step = stepAlarm({}, record, ack(100))
      expect(step).toEqual({ record, transitions: [], refused: reason })
    }
  })

  it('a reading stamped before the last transition is dated at it: times never go back', () => {
    const { transitions } = run([on(1000), ack(5000), off(4000)])
    expect(transitions.map((t) => t.at)).toEqual([1000, 5000, 5000])
  })
})

describe('ISA-18.2 re-alarm: C still active after reAlarmMs goes back to B', () => {
  const settings = { reAlarmMs: 30 * MIN }

  it('not before the time; at a tick after it, dated when it fell due', () => {
    const early = run([on(0), ack(1000), tick(1000 + 30 * MIN - 1)], settings)
    expect(early.record.state).toBe('ack-active')

    const late = run([on(0), ack(1000), tick(1000 + 31 * MIN)], settings)
    expect(late.transitions.at(-1)).toEqual({
      from: 'ack-active',
      to: 'unack-active',
      at: 1000 + 30 * MIN,
      by: null,
      why: 're-alarm: still active 30 min after acknowledgement',
      value: 507.2,
    })
    expect(late.record).toMatchObject({ state: 'unack-active', acknowledged: false })
  })

  it('at exactly the time, on any input: a clear after it re-alarms first, then returns', () => {
    const exact = run([on(0), ack(0), tick(30 * MIN)], settings)
    expect(exact.record.state).toBe('unack-active')

    const { transitions } = run([on(0), ack(0), off(40 * MIN)], settings)
    expect(transitions.slice(2).map((t) => [t.from, t.to, t.at])).toEqual([
      ['ack-active', 'unack-active', 30 * MIN],
      ['unack-active', 'unack-rtn', 40 * MIN],
    ])
  })

  it('no re-alarm without reAlarmMs, nor after the alarm cleared', () => {
    expect(run([on(0), ack(0), tick(100 * MIN)]).record.state).toBe('ack-active')
    expect(run([on(0), ack(0), off(MIN), tick(100 * MIN)], settings).record.state).toBe('normal')
  })
})

describe('ISA-18.2 shelving (E)', () => {
  it('A, B, C, D → E with the reason and until; the condition is tracked while shelved', () => {
    for (const before of [[], [on(1)], [on(1), ack(2)], [on(1), off(2)]]) {
      const { record, transitions } = run([...before, shelve(10, 10 + 60 * MIN, 'cleaning')])
      expect(transitions.at(-1)).toMatchObject({
        to: 'shelved',
        at: 10,
        by: 'op1',
        why: 'cleaning',
      })
      expect(record.shelvedUntil).toBe(10 + 60 * MIN)
    }
    const { record, transitions } = run([shelve(10, 60 * MIN), on(20), off(30), on(40, 510)])
    expect(arcs(transitions)).toEqual(['normal→shelved'])
    expect(record).toMatchObject({
      state: 'shelved',
      active: true,
      activeWhileShelved: true,
      value: 510,
    })
  })

  it('manual unshelve → C when active (returned acknowledged), → A when clear', () => {
    const active = run([shelve(10, 60 * MIN), on(20), unshelve(30, 'cleaning done')])
    expect(active.transitions.at(-1)).toEqual({
      from: 'shelved',
      to: 'ack-active',
      at: 30,
      by: 'op1',
      why: 'cleaning done',
      value: 507.2,
    })
    // Re-alarm counts from the unshelve.
    expect(active.record).toMatchObject({ acknowledged: true, acknowledgedAt: 30 })

    const clear = run([on(5), shelve(10, 60 * MIN), off(20), unshelve(30)])
    expect(clear.transitions.at(-1)).toMatchObject({
      from: 'shelved',
      to: 'normal',
      why: 'unshelved',
    })
  })

  it('automatic unshelve → B when active, at the tick after until, dated until', () => {
    const { record, transitions } = run([shelve(10, 60 * MIN), on(20), tick(61 * MIN)])
    expect(transitions.at(-1)).toEqual({
      from: 'shelved',
      to: 'unack-active',
      at: 60 * MIN,
      by: null,
      why: 'shelve expired',
      value: 507.2,
    })
    expect(record).toMatchObject({
      acknowledged: false,
      shelvedUntil: null,
      activeWhileShelved: false,
    })
  })

  it('automatic unshelve → D when it was active while shelved and is clear now', () => {
    const { record, transitions } = run([shelve(10, 60 * MIN), on(20), off(30), tick(60 * MIN)])
    expect(transitions.at(-1)).toMatchObject({ from: 'shelved', to: 'unack-rtn', at: 60 * MIN })
    expect(record.acknowledged).toBe(false)
    // An alarm active when shelved was active while shelved, too.
    const b = run([on(5), shelve(10, 60 * MIN), off(30), tick(60 * MIN)])
    expect(b.record.state).toBe('unack-rtn')
  })

  it('automatic unshelve → A when the condition never held while shelved', () => {
    const { transitions } = run([on(1), off(2), shelve(10, 60 * MIN), tick(60 * MIN)])
    expect(transitions.at(-1)).toMatchObject({
      from: 'shelved',
      to: 'normal',
      why: 'shelve expired',
    })
  })

  it('any input after until unshelves first: an acknowledge then acts on B', () => {
    const { transitions, steps } = run([shelve(10, 60 * MIN), on(20), ack(70 * MIN)])
    expect(arcs(transitions)).toEqual([
      'normal→shelved',
      'shelved→unack-active',
      'unack-active→ack-active',
    ])
    expect(steps.at(-1)?.refused).toBeNull()
  })

  it('refused: no reason, an end not after the start, outside A–D; unshelve when not shelved', () => {
    const refusal = (before: AlarmInput[], input: AlarmInput) =>
      stepAlarm({}, run(before).record, input).refused
    expect(refusal([], shelve(10, 20, '  '))).toBe('shelving needs a reason')
    expect(refusal([], shelve(10, 10))).toBe('shelving needs an end after its start')
    expect(refusal([shelve(1, MIN)], shelve(10, MIN))).toBe(
      'cannot shelve an alarm that is shelved',
    )
    expect(refusal([suppress(1, true)], shelve(10, MIN))).toBe(
      'cannot shelve an alarm that is suppressed',
    )
    expect(refusal([remove(1)], shelve(10, MIN))).toBe(
      'cannot shelve an alarm that is out-of-service',
    )
    expect(refusal([], unshelve(10))).toBe('the alarm is not shelved')
    // A manual unshelve after the shelve expired: time unshelved it first.
    const late = stepAlarm({}, run([shelve(1, MIN)]).record, unshelve(2 * MIN))
    expect(arcs(late.transitions)).toEqual(['shelved→normal'])
    expect(late.refused).toBe('the alarm is not shelved')
  })
})

describe('ISA-18.2 suppression by design (F)', () => {
  it('A, B, C, D → F; off → B when active (unacknowledged), else A', () => {
    for (const before of [[], [on(1)], [on(1), ack(2)], [on(1), off(2)]]) {
      const { transitions } = run([...before, suppress(10, true)])
      expect(transitions.at(-1)).toMatchObject({ to: 'suppressed', by: null, why: 'line stopped' })
    }
    const active = run([on(1), ack(2), suppress(10, true), suppress(20, false, 'line running')])
    expect(active.transitions.at(-1)).toEqual({
      from: 'suppressed',
      to: 'unack-active',
      at: 20,
      by: null,
      why: 'line running',
      value: 507.2,
    })
    expect(active.record.acknowledged).toBe(false)
    // D suppressed and back while clear: no acknowledgement owed for it.
    const rtn = run([on(1), off(2), suppress(10, true), suppress(20, false)])
    expect(rtn.transitions.at(-1)).toMatchObject({ from: 'suppressed', to: 'normal' })
  })

  it('the condition is tracked while suppressed, with no transition', () => {
    const { transitions, record } = run([suppress(1, true), on(2), off(3), on(4)])
    expect(arcs(transitions)).toEqual(['normal→suppressed'])
    expect(record.active).toBe(true)
  })

  it('during shelving: E stays, and an expiry while it holds goes to F, then off → B', () => {
    const { transitions, record } = run([
      shelve(10, 60 * MIN),
      on(20),
      suppress(30, true),
      tick(60 * MIN),
      suppress(70 * MIN, false),
    ])
    expect(transitions.map((t) => [t.from, t.to, t.at, t.why])).toEqual([
      ['normal', 'shelved', 10, 'sensor being cleaned'],
      ['shelved', 'suppressed', 60 * MIN, 'shelve expired; suppressed by design'],
      ['suppressed', 'unack-active', 70 * MIN, 'line stopped'],
    ])
    expect(record.suppressedByDesign).toBe(false)
  })

  it('suppression that ends during shelving is forgotten: the shelve ends normally', () => {
    const { transitions } = run([
      shelve(10, 60 * MIN),
      suppress(20, true),
      suppress(30, false),
      on(40),
      unshelve(50),
    ])
    expect(arcs(transitions)).toEqual(['normal→shelved', 'shelved→ack-active'])
  })
})

describe('ISA-18.2 out of service (G)', () => {
  it('any state but G → G with the engineer and reason; back → B when active, else A', () => {
    for (const before of [
      [],
      [on(1)],
      [on(1), ack(2)],
      [on(1), off(2)],
      [shelve(1, MIN)],
      [suppress(1, true)],
    ]) {
      const { transitions } = run([...before, remove(10)])
      expect(transitions.at(-1)).toMatchObject({
        to: 'out-of-service',
        by: 'eng1',
        why: 'transmitter replaced',
      })
    }
    const active = run([remove(10), on(20), restore(30)])
    expect(active.transitions.at(-1)).toEqual({
      from: 'out-of-service',
      to: 'unack-active',
      at: 30,
      by: 'eng1',
      why: 'returned to service',
      value: 507.2,
    })
    const clear = run([on(5), remove(10), off(20), restore(30, 'calibrated')])
    expect(clear.transitions.at(-1)).toMatchObject({ to: 'normal', why: 'calibrated' })
  })

  it('removing a shelved alarm ends the shelve: no automatic unshelve later', () => {
    const { record, transitions } = run([shelve(1, MIN), remove(10), tick(2 * MIN)])
    expect(arcs(transitions)).toEqual(['normal→shelved', 'shelved→out-of-service'])
    expect(record.shelvedUntil).toBeNull()
  })

  it('returning while suppression by design holds goes to F', () => {
    const { transitions } = run([remove(10), suppress(20, true), on(30), restore(40)])
    expect(transitions.at(-1)).toMatchObject({
      from: 'out-of-service',
      to: 'suppressed',
      why: 'returned to service; suppressed by design',
    })
  })

  it('refused: no reason, already out of service, return when in service', () => {
    const { record } = run([remove(1)])
    expect(stepAlarm({}, initialAlarm(0), remove(1, '')).refused).toBe(
      'removing from service needs a reason',
    )
    expect(stepAlarm({}, record, remove(2)).refused).toBe('the alarm is already out of service')
    expect(stepAlarm({}, initialAlarm(0), restore(2)).refused).toBe(
      'the alarm is not out of service',
    )
  })
})

describe('ISA-18.2 state model: invariants over random input sequences (fast-check)', () => {
  const by = fc.constantFrom('op1', 'op2')
  const reason = fc.constantFrom('', 'maintenance', 'maintenance')
  const value = fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: null })
  /** An input without its time (`at` comes from the running clock); shelve has a duration. */
  const input = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('condition'),
        active: fc.boolean(),
        value,
        limit: value,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('acknowledge'),
        by,
        comment: fc.option(reason, { nil: undefined }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('shelve'),
        by,
        reason,
        duration: fc.integer({ min: -MIN, max: 60 * MIN }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unshelve'), by }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove-from-service'), by, reason }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('return-to-service'), by }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('suppress'),
        on: fc.boolean(),
        why: fc.constant('design'),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick') }) },
  )
  const sequence = fc.array(fc.tuple(fc.integer({ min: 0, max: 10 * MIN }), input), {
    minLength: 10,
    maxLength: 80,
  })
  const settings = fc.record({
    reAlarmMs: fc.option(fc.integer({ min: 1, max: 60 * MIN }), { nil: undefined }),
  })

  function timed(steps: [number, Record<string, unknown>][]): AlarmInput[] {
    let at = 0
    return steps.map(([dt, raw]) => {
      at += dt
      const { duration, ...rest } = raw as { duration?: number }
      return (
        duration === undefined ? { ...rest, at } : { ...rest, at, until: at + duration }
      ) as AlarmInput
    })
  }

  function consistent(r: AlarmRecord): void {
    if (r.state === 'unack-active') expect(r.active && !r.acknowledged).toBe(true)
    if (r.state === 'ack-active') expect(r.active && r.acknowledged).toBe(true)
    if (r.state === 'unack-rtn') expect(!r.active && !r.acknowledged).toBe(true)
    if (r.state === 'normal') expect(r.active).toBe(false)
    expect(r.shelvedUntil !== null).toBe(r.state === 'shelved')
    if (r.state === 'suppressed') expect(r.suppressedByDesign).toBe(true)
    expect(r.activeSince !== null).toBe(r.active)
  }

  /** Figure 5's arcs, by whom: a person (operator, engineer) or the process and time. */
  const FIGURE_5 = [
    'normal→unack-active process',
    'normal→shelved person',
    'normal→suppressed process',
    'normal→out-of-service person',
    'unack-active→ack-active person',
    'unack-active→unack-rtn process',
    'unack-active→shelved person',
    'unack-active→suppressed process',
    'unack-active→out-of-service person',
    'ack-active→normal process',
    'ack-active→unack-active process', // re-alarm
    'ack-active→shelved person',
    'ack-active→suppressed process',
    'ack-active→out-of-service person',
    'unack-rtn→normal person',
    'unack-rtn→unack-active process',
    'unack-rtn→shelved person',
    'unack-rtn→suppressed process',
    'unack-rtn→out-of-service person',
    'shelved→ack-active person', // manual unshelve, active
    'shelved→normal person', // manual unshelve, clear
    'shelved→suppressed person', // manual unshelve while suppression holds
    'shelved→unack-active process', // automatic unshelve, active
    'shelved→unack-rtn process', // automatic unshelve, was active while shelved
    'shelved→normal process', // automatic unshelve, never active
    'shelved→suppressed process', // automatic unshelve while suppression holds
    'shelved→out-of-service person',
    'suppressed→normal process',
    'suppressed→unack-active process',
    'suppressed→out-of-service person',
    'out-of-service→normal person',
    'out-of-service→unack-active person',
    'out-of-service→suppressed person',
  ].sort()

  it("state agrees with active/acknowledged; transitions chain, never stay, never go back, and are the figure's arcs (all of them reached)", () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(settings, sequence, (s, raw) => {
        let record = initialAlarm(0)
        let last = Number.NEGATIVE_INFINITY
        for (const input of timed(raw)) {
          const step = stepAlarm(s, Object.freeze({ ...record }), input)
          let state = record.state
          for (const t of step.transitions) {
            expect(t.from).not.toBe(t.to)
            expect(t.from).toBe(state)
            expect(t.at).toBeGreaterThanOrEqual(last)
            expect(t.at).toBeLessThanOrEqual(input.at)
            seen.add(`${t.from}→${t.to} ${t.by === null ? 'process' : 'person'}`)
            state = t.to
            last = t.at
          }
          expect(step.record.state).toBe(state)
          consistent(step.record)
          // A refused input changes nothing but what time did: as a tick at its time.
          if (step.refused !== null) {
            const asTick = stepAlarm(s, record, { kind: 'tick', at: input.at })
            expect(step).toEqual({ ...asTick, refused: step.refused })
          }
          record = step.record
        }
      }),
      { numRuns: 1000 },
    )
    expect([...seen].sort()).toEqual(FIGURE_5)
  })

  it('the record survives a JSON round trip mid-sequence with identical results', () => {
    fc.assert(
      fc.property(settings, sequence, fc.nat(), (s, raw, cut) => {
        const inputs = timed(raw)
        const k = cut % (inputs.length + 1)
        const straight = run(inputs, s)
        const head = run(inputs.slice(0, k), s)
        const revived = JSON.parse(JSON.stringify(head.record)) as AlarmRecord
        const tail = run(inputs.slice(k), s, revived)
        expect([...head.steps, ...tail.steps]).toEqual(straight.steps)
      }),
      { numRuns: 300 },
    )
  })
})
