import { describe, expect, it } from 'vitest'
import {
  type AlarmFilter,
  ANNUNCIATOR_OFF,
  type Annunciator,
  actsFor,
  alarmQueries,
  annunciatorObserve,
  annunciatorOff,
  annunciatorOn,
  annunciatorResync,
  annunciatorSilence,
  areasOf,
  assessFlood,
  assessMaxRate,
  assessMeanRate,
  assessNone,
  assessPriorities,
  bannerRows,
  characteristicOfAlarm,
  formatDuration,
  headlineAlarm,
  kpiRange,
  matchesFilter,
  mayAct,
  mergeAlarms,
  minutesProblem,
  NO_FILTER,
  numberText,
  percentText,
  priorityWords,
  reasonProblem,
  roleNote,
  sortAlarms,
  stateAllows,
  stateWords,
  valueLimitText,
} from '../dashboard/src/data/alarms.ts'
import { ChangesDuringRead } from '../dashboard/src/data/changes-during-read.ts'
import { parseRoute, routeHash } from '../dashboard/src/data/route.ts'
import { causeWords, isRule, statusOfCause } from '../dashboard/src/data/status.ts'
import type { AlarmCounts, AlarmView } from '../gateway/contract.ts'

/** An alarm as the gateway sends it, with what a test changes. */
function alarm(patch: Partial<AlarmView> & { id: string }): AlarmView {
  const [characteristic = 'fill', condition = 'HH'] = patch.id.split(':')
  return {
    characteristic,
    characteristicName: 'Fill weight',
    area: 'Plant/Filling',
    condition: condition as AlarmView['condition'],
    priority: 'high',
    state: 'unack-active',
    active: true,
    acknowledged: false,
    activeSince: 1_000,
    since: 1_000,
    value: 506.5,
    limit: 505,
    unit: 'g',
    decimals: 1,
    shelvedUntil: null,
    shelvedBy: null,
    shelveReason: null,
    message: `${characteristic} ${condition}`,
    ...patch,
  }
}

const ids = (list: readonly AlarmView[]) => list.map((a) => a.id)

describe('alarm words', () => {
  it('says priorities and states in words', () => {
    expect(priorityWords('critical')).toBe('CRITICAL')
    expect(priorityWords('low')).toBe('LOW')
    expect(stateWords('unack-active')).toBe('Unacknowledged · active')
    expect(stateWords('ack-active')).toBe('Acknowledged · active')
    expect(stateWords('unack-rtn')).toBe('Unacknowledged · returned to normal')
    expect(stateWords('shelved')).toBe('Shelved')
    expect(stateWords('suppressed')).toBe('Suppressed by design')
    expect(stateWords('out-of-service')).toBe('Out of service')
    expect(stateWords('normal')).toBe('Normal')
  })

  it('formats durations for a person', () => {
    expect(formatDuration(0)).toBe('0 s')
    expect(formatDuration(850)).toBe('0.8 s')
    expect(formatDuration(9_950)).toBe('9.9 s')
    expect(formatDuration(42_000)).toBe('42 s')
    expect(formatDuration(59_999)).toBe('59 s')
    expect(formatDuration(245_000)).toBe('4 min 05 s')
    expect(formatDuration(3 * 3_600_000 + 5 * 60_000 + 30_000)).toBe('3 h 05 min')
    expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2 d 03 h')
    expect(formatDuration(-5_000)).toBe('0 s')
    expect(formatDuration(null)).toBe('—')
    expect(formatDuration(Number.NaN)).toBe('—')
  })

  it('writes numbers without float noise and with a true minus', () => {
    expect(numberText(507.20000000000005)).toBe('507.2')
    expect(numberText(-2.5)).toBe('\u22122.5')
    expect(numberText(0)).toBe('0')
    expect(numberText(null)).toBe('—')
    expect(numberText(Number.POSITIVE_INFINITY)).toBe('—')
  })

  it('gives value and limit with the unit each condition measures in', () => {
    expect(valueLimitText({ condition: 'HH', value: 506.5, limit: 505, unit: 'g' })).toBe(
      '506.5 g · limit 505 g',
    )
    // With the characteristic's decimals: as its tiles show it.
    expect(
      valueLimitText({ condition: 'HH', value: 506.5, limit: 505, unit: 'g', decimals: 2 }),
    ).toBe('506.50 g · limit 505.00 g')
    // A CUSUM sum is in σ, not in the measurement's decimals.
    expect(
      valueLimitText({ condition: 'cusum-upper', value: 5.2, limit: 4, unit: 'g', decimals: 3 }),
    ).toBe('5.2σ · limit 4σ')
    expect(valueLimitText({ condition: 'LL', value: -1.25, limit: 0, unit: '°C' })).toBe(
      '\u22121.25 °C · limit 0 °C',
    )
    expect(valueLimitText({ condition: 'N1', value: 503.4, limit: null, unit: 'g' })).toBe(
      '503.4 g',
    )
    expect(valueLimitText({ condition: 'rate', value: 3, limit: 2, unit: 'bar' })).toBe(
      '3 bar/min · limit 2 bar/min',
    )
    expect(valueLimitText({ condition: 'cusum-upper', value: 5.2, limit: 4, unit: 'g' })).toBe(
      '5.2σ · limit 4σ',
    )
    expect(valueLimitText({ condition: 'stale', value: 95_000, limit: 60_000, unit: 'g' })).toBe(
      'silent 1 min 35 s · limit 1 min 00 s',
    )
    expect(valueLimitText({ condition: 'comm-loss', value: 1, limit: null, unit: 'g' })).toBe('—')
    expect(valueLimitText({ condition: 'H', value: 7.5, limit: 7.4, unit: '' })).toBe(
      '7.5 · limit 7.4',
    )
    expect(valueLimitText({ condition: 'H', value: null, limit: null, unit: 'g' })).toBe('—')
  })

  it('finds the characteristic of an alarm id', () => {
    expect(characteristicOfAlarm('fill:HH')).toBe('fill')
    expect(characteristicOfAlarm('line-1.dp:cusum-upper')).toBe('line-1.dp')
  })

  it('says percentages in whole numbers', () => {
    expect(percentText(0.153)).toBe('15 %')
    expect(percentText(0)).toBe('0 %')
    expect(percentText(1)).toBe('100 %')
  })
})

describe('ordering, filtering and merging alarms', () => {
  const hh = alarm({ id: 'fill:HH', priority: 'high', since: 100 })
  const h = alarm({ id: 'fill:H', priority: 'medium', since: 300 })
  const n1 = alarm({ id: 'fill:N1', priority: 'low', since: 500 })
  const ll = alarm({ id: 'dp:LL', priority: 'high', since: 200, area: 'Plant/Cleanroom' })
  const crit = alarm({ id: 'ph:LL', priority: 'critical', since: 50 })

  it('orders highest priority first, then the newest', () => {
    expect(ids(sortAlarms([n1, h, hh, ll, crit]))).toEqual([
      'ph:LL',
      'dp:LL',
      'fill:HH',
      'fill:H',
      'fill:N1',
    ])
  })

  it('filters by a group of states, a state, a priority, an area and a characteristic', () => {
    const shelved = alarm({ id: 'x:H', state: 'shelved' })
    const acked = alarm({ id: 'x:HH', state: 'ack-active' })
    const returned = alarm({ id: 'x:LL', state: 'unack-rtn' })
    const normal = alarm({ id: 'x:L', state: 'normal' })
    const f = (patch: Partial<AlarmFilter>) => ({ ...NO_FILTER, ...patch })
    const all = [hh, shelved, acked, returned, normal]
    const pick = (filter: AlarmFilter) => ids(all.filter((a) => matchesFilter(a, filter)))
    expect(pick(f({}))).toEqual(['fill:HH', 'x:H', 'x:HH', 'x:LL'])
    expect(pick(f({ state: 'active' }))).toEqual(['fill:HH', 'x:HH'])
    expect(pick(f({ state: 'unacknowledged' }))).toEqual(['fill:HH', 'x:LL'])
    expect(pick(f({ state: 'shelved' }))).toEqual(['x:H'])
    expect(pick(f({ state: 'normal' }))).toEqual(['x:L'])
    expect(pick(f({ state: 'all' }))).toEqual(['fill:HH', 'x:H', 'x:HH', 'x:LL', 'x:L'])
    expect(ids([hh, h, n1].filter((a) => matchesFilter(a, f({ priority: 'medium' }))))).toEqual([
      'fill:H',
    ])
    // An area holds its sub-areas, as the gateway filters; a prefix that is not a level does not.
    const sub = alarm({ id: 'y:HH', area: 'Plant/Filling/Line 1' })
    const other = alarm({ id: 'z:HH', area: 'Plant/Filling2' })
    expect(
      ids([hh, sub, other, ll].filter((a) => matchesFilter(a, f({ area: 'Plant/Filling' })))),
    ).toEqual(['fill:HH', 'y:HH'])
    expect(ids([hh, ll].filter((a) => matchesFilter(a, f({ characteristic: 'dp' }))))).toEqual([
      'dp:LL',
    ])
  })

  it('asks the gateway one state, or none for a group, and two lists for all', () => {
    expect(alarmQueries(NO_FILTER)).toEqual([
      { state: undefined, priority: undefined, area: undefined, characteristic: undefined },
    ])
    expect(
      alarmQueries({ ...NO_FILTER, state: 'shelved', priority: 'high', area: 'Plant' }),
    ).toEqual([{ state: 'shelved', priority: 'high', area: 'Plant', characteristic: undefined }])
    expect(alarmQueries({ ...NO_FILTER, state: 'unacknowledged' })[0]?.state).toBeUndefined()
    expect(alarmQueries({ ...NO_FILTER, state: 'active' })[0]?.state).toBeUndefined()
    expect(alarmQueries({ ...NO_FILTER, state: 'all', characteristic: 'fill' })).toEqual([
      {
        state: 'normal,unack-active,ack-active,unack-rtn,shelved,suppressed,out-of-service',
        priority: undefined,
        area: undefined,
        characteristic: 'fill',
      },
    ])
  })

  it('keeps the live changes that come while the list is read, and merges them into the answer', () => {
    const during = new ChangesDuringRead<AlarmView>()
    const merge = (l: AlarmView[], c: readonly AlarmView[]) => mergeAlarms(l, c, NO_FILTER)
    // No read under way: a change is merged at once.
    expect(during.take([hh])).toBe(true)
    during.begin()
    // An LL raised while the page reads the list; the answer was taken before it.
    const newLl = alarm({ id: 'fill:LL', priority: 'high', since: 1000 })
    const hhAcked = alarm({ id: 'fill:HH', priority: 'high', state: 'ack-active', since: 900 })
    expect(during.take([newLl, hhAcked])).toBe(false)
    const answer = sortAlarms([hh, h])
    const shown = during.settle(answer, merge)
    // (In the list's order, which the merge test below checks.)
    expect(new Map(shown.map((a) => [a.id, a.state]))).toEqual(
      new Map([
        ['fill:HH', 'ack-active'],
        ['fill:LL', 'unack-active'],
        ['fill:H', 'unack-active'],
      ]),
    )
    // A change older than the answer's (it already has a later state) does not undo it.
    during.begin()
    during.take([alarm({ id: 'fill:H', priority: 'medium', state: 'unack-active', since: 1 })])
    const later = alarm({ id: 'fill:H', priority: 'medium', state: 'shelved', since: 5000 })
    expect(during.settle([later], merge)[0]?.state).toBe('shelved')
    // The read is over: changes are merged at once again.
    expect(during.take([hh])).toBe(true)
  })

  it('merges changed alarms by id: replaces, adds, removes what leaves the filter, orders', () => {
    const list = sortAlarms([hh, h])
    const hhAcked = alarm({ id: 'fill:HH', priority: 'high', state: 'ack-active', since: 900 })
    const hShelved = alarm({ id: 'fill:H', priority: 'medium', state: 'shelved', since: 950 })
    const newLl = alarm({ id: 'dp:LL', priority: 'high', since: 1000 })
    const active = { ...NO_FILTER, state: 'active' as const }
    const merged = mergeAlarms(list, [hhAcked, hShelved, newLl], active)
    expect(ids(merged)).toEqual(['dp:LL', 'fill:HH'])
    expect(merged[1]?.state).toBe('ack-active')
    // Not normal: the shelved one stays, shown as shelved.
    const all = mergeAlarms(list, [hShelved], NO_FILTER)
    expect(all.map((a) => [a.id, a.state])).toEqual([
      ['fill:HH', 'unack-active'],
      ['fill:H', 'shelved'],
    ])
    // Back to normal: it leaves a "not normal" list.
    expect(
      ids(mergeAlarms(list, [alarm({ id: 'fill:HH', state: 'normal', since: 2000 })], NO_FILTER)),
    ).toEqual(['fill:H'])
    // The input list is left as it was.
    expect(ids(list)).toEqual(['fill:HH', 'fill:H'])
  })

  it('ignores an update older than the alarm held (a late message after an act)', () => {
    const acked = alarm({ id: 'fill:HH', state: 'ack-active', since: 2000 })
    const late = alarm({ id: 'fill:HH', state: 'unack-active', since: 1500 })
    const merged = mergeAlarms([acked], [late], NO_FILTER)
    expect(merged[0]?.state).toBe('ack-active')
    // The same moment: the update wins (the second message of one act carries more).
    const shelvedBare = alarm({ id: 'fill:H', state: 'shelved', since: 3000 })
    const shelvedBy = alarm({ id: 'fill:H', state: 'shelved', since: 3000, shelvedBy: 'op' })
    expect(mergeAlarms([shelvedBare], [shelvedBy], NO_FILTER)[0]?.shelvedBy).toBe('op')
  })

  it('collects the areas seen, each once, sorted', () => {
    expect(areasOf([hh, ll, h], ['Plant/Packing'])).toEqual([
      'Plant/Cleanroom',
      'Plant/Filling',
      'Plant/Packing',
    ])
  })
})

describe('what a role may do to an alarm', () => {
  it('offers the acts the state allows and the role may do', () => {
    expect(actsFor('unack-active', 'viewer')).toEqual([])
    expect(actsFor('unack-active', 'operator')).toEqual(['acknowledge', 'shelve'])
    expect(actsFor('unack-active', 'quality-engineer')).toEqual([
      'acknowledge',
      'shelve',
      'out-of-service',
    ])
    expect(actsFor('ack-active', 'operator')).toEqual(['shelve'])
    expect(actsFor('unack-rtn', 'operator')).toEqual(['acknowledge', 'shelve'])
    expect(actsFor('normal', 'operator')).toEqual(['shelve'])
    expect(actsFor('shelved', 'operator')).toEqual(['unshelve'])
    expect(actsFor('shelved', 'admin')).toEqual(['unshelve', 'out-of-service'])
    expect(actsFor('suppressed', 'operator')).toEqual([])
    expect(actsFor('out-of-service', 'quality-engineer')).toEqual(['return-to-service'])
    expect(actsFor('out-of-service', 'operator')).toEqual([])
    expect(actsFor('unack-active', null)).toEqual([])
  })

  it('knows which states allow which act (ISA-18.2)', () => {
    expect(stateAllows('ack-active', 'acknowledge')).toBe(false)
    expect(stateAllows('suppressed', 'shelve')).toBe(false)
    expect(stateAllows('out-of-service', 'shelve')).toBe(false)
    expect(stateAllows('suppressed', 'out-of-service')).toBe(true)
    expect(mayAct('operator', 'out-of-service')).toBe(false)
    expect(mayAct('admin', 'return-to-service')).toBe(true)
  })

  it('says why acts are not offered to a role', () => {
    expect(roleNote('viewer')).toBe(
      'Your role (viewer) cannot acknowledge, shelve or unshelve alarms, nor put them out of service: an operator acknowledges and shelves, a quality engineer puts out of service.',
    )
    expect(roleNote('operator')).toBe(
      'Your role (operator) cannot put alarms out of service or return them to service: a quality engineer can.',
    )
    expect(roleNote('quality-engineer')).toBeNull()
    expect(roleNote('admin')).toBeNull()
  })

  it('wants a reason of 3 characters and minutes above 0 before sending a shelve', () => {
    expect(reasonProblem('  ab ')).toMatch(/at least 3 characters/)
    expect(reasonProblem('calibration')).toBeNull()
    expect(minutesProblem(0)).toMatch(/above 0/)
    expect(minutesProblem(Number.NaN)).toMatch(/above 0/)
    expect(minutesProblem(30)).toBeNull()
    expect(minutesProblem(121, 120)).toBe('An alarm may be shelved for at most 120 minutes.')
    expect(minutesProblem(120, 120)).toBeNull()
  })
})

describe('the banner', () => {
  const counts: AlarmCounts = {
    critical: { active: 0, unacknowledged: 0 },
    high: { active: 2, unacknowledged: 1 },
    medium: { active: 1, unacknowledged: 1 },
    low: { active: 0, unacknowledged: 3 },
  }

  it('shows every priority, highest first, with active and unacknowledged counts', () => {
    expect(bannerRows(counts)).toEqual([
      { priority: 'critical', words: 'CRITICAL', active: 0, unacknowledged: 0 },
      { priority: 'high', words: 'HIGH', active: 2, unacknowledged: 1 },
      { priority: 'medium', words: 'MEDIUM', active: 1, unacknowledged: 1 },
      { priority: 'low', words: 'LOW', active: 0, unacknowledged: 3 },
    ])
    expect(bannerRows(null).map((r) => [r.words, r.active, r.unacknowledged])).toEqual([
      ['CRITICAL', 0, 0],
      ['HIGH', 0, 0],
      ['MEDIUM', 0, 0],
      ['LOW', 0, 0],
    ])
  })

  it('names the newest unacknowledged alarm of the highest priority, an active one first', () => {
    const oldHigh = alarm({ id: 'a:HH', priority: 'high', since: 100 })
    const newHigh = alarm({ id: 'b:HH', priority: 'high', since: 200 })
    const newerMedium = alarm({ id: 'c:H', priority: 'medium', since: 900 })
    const returnedHigh = alarm({ id: 'd:HH', priority: 'high', state: 'unack-rtn', since: 800 })
    const ackedCritical = alarm({
      id: 'e:LL',
      priority: 'critical',
      state: 'ack-active',
      since: 50,
    })
    expect(headlineAlarm([oldHigh, newerMedium, newHigh, returnedHigh, ackedCritical])?.id).toBe(
      'b:HH',
    )
    expect(headlineAlarm([returnedHigh, newerMedium])?.id).toBe('d:HH')
    expect(headlineAlarm([ackedCritical])).toBeNull()
    expect(headlineAlarm([])).toBeNull()
  })
})

describe('the annunciator', () => {
  const high = (id: string, since: number, state: AlarmView['state'] = 'unack-active') =>
    alarm({ id, priority: 'high', since, state })

  it('is off until turned on, and hears nothing while off', () => {
    expect(annunciatorObserve(ANNUNCIATOR_OFF, [high('a:HH', 10)]).mode).toBe('off')
  })

  it('arms quiet, taking the alarms already waiting as heard', () => {
    const on = annunciatorOn([high('a:HH', 10), alarm({ id: 'b:H', priority: 'medium' })])
    expect(on.mode).toBe('armed')
    // The same activation again (a value update) does not sound.
    expect(annunciatorObserve(on, [high('a:HH', 10)]).mode).toBe('armed')
  })

  it('sounds for a new high or critical alarm, not for medium or low', () => {
    const on = annunciatorOn([])
    expect(annunciatorObserve(on, [alarm({ id: 'x:H', priority: 'medium', since: 5 })]).mode).toBe(
      'armed',
    )
    expect(annunciatorObserve(on, [alarm({ id: 'x:N1', priority: 'low', since: 5 })]).mode).toBe(
      'armed',
    )
    expect(annunciatorObserve(on, [high('x:HH', 5)]).mode).toBe('sounding')
    expect(
      annunciatorObserve(on, [alarm({ id: 'x:LL', priority: 'critical', since: 5 })]).mode,
    ).toBe('sounding')
  })

  it('goes armed → sounding → silenced → armed when acknowledged; silence is not acknowledgement', () => {
    let a: Annunciator = annunciatorOn([])
    a = annunciatorObserve(a, [high('x:HH', 5)])
    expect(a.mode).toBe('sounding')
    expect([...a.waiting]).toEqual(['x:HH'])
    a = annunciatorSilence(a)
    expect(a.mode).toBe('silenced')
    expect([...a.waiting]).toEqual(['x:HH'])
    // Still the same activation: stays silenced.
    a = annunciatorObserve(a, [high('x:HH', 5)])
    expect(a.mode).toBe('silenced')
    // Returned to normal, still unacknowledged: still waiting.
    a = annunciatorObserve(a, [high('x:HH', 8, 'unack-rtn')])
    expect(a.mode).toBe('silenced')
    a = annunciatorObserve(a, [high('x:HH', 9, 'normal')])
    expect(a.mode).toBe('armed')
    expect(a.waiting.size).toBe(0)
  })

  it('stops sounding when every alarm that sounded is acknowledged (or shelved)', () => {
    let a: Annunciator = annunciatorOn([])
    a = annunciatorObserve(a, [high('x:HH', 5), high('y:LL', 6)])
    expect(a.mode).toBe('sounding')
    a = annunciatorObserve(a, [high('x:HH', 7, 'ack-active')])
    expect(a.mode).toBe('sounding')
    a = annunciatorObserve(a, [high('y:LL', 8, 'shelved')])
    expect(a.mode).toBe('armed')
  })

  it('sounds again when silenced and a new loud alarm comes, or a re-alarm (a new since)', () => {
    let a: Annunciator = annunciatorOn([])
    a = annunciatorSilence(annunciatorObserve(a, [high('x:HH', 5)]))
    a = annunciatorObserve(a, [high('y:LL', 6)])
    expect(a.mode).toBe('sounding')
    expect([...a.waiting].sort()).toEqual(['x:HH', 'y:LL'])
    // Acknowledged, then re-alarmed (ack-active → unack-active at a later time).
    let b: Annunciator = annunciatorObserve(annunciatorOn([]), [high('x:HH', 5)])
    b = annunciatorObserve(b, [high('x:HH', 6, 'ack-active')])
    expect(b.mode).toBe('armed')
    b = annunciatorObserve(b, [high('x:HH', 60_006)])
    expect(b.mode).toBe('sounding')
  })

  it('silences only a sounding horn, and turns off from any state', () => {
    const on = annunciatorOn([])
    expect(annunciatorSilence(on)).toBe(on)
    expect(annunciatorSilence(ANNUNCIATOR_OFF)).toBe(ANNUNCIATOR_OFF)
    expect(annunciatorOff().mode).toBe('off')
  })

  it('after a fresh read, forgets the alarms no longer unacknowledged and sounds for new ones', () => {
    let a: Annunciator = annunciatorObserve(annunciatorOn([]), [high('x:HH', 5)])
    expect(annunciatorResync(a, []).mode).toBe('armed')
    a = annunciatorResync(a, [high('x:HH', 5)])
    expect(a.mode).toBe('sounding')
    const silenced = annunciatorSilence(a)
    expect(annunciatorResync(silenced, [high('x:HH', 5)]).mode).toBe('silenced')
    expect(annunciatorResync(silenced, [high('x:HH', 5), high('z:LL', 9)]).mode).toBe('sounding')
    expect(annunciatorResync(ANNUNCIATOR_OFF, [high('z:LL', 9)]).mode).toBe('off')
  })
})

describe('alarm-system figures against EEMUA 191 and ISA-18.2', () => {
  it('judges the average rate per 10 minutes', () => {
    expect(assessMeanRate(0, 0)).toEqual({ judgement: 'none', words: 'no alarms in the range' })
    expect(assessMeanRate(0.8, 12).judgement).toBe('good')
    expect(assessMeanRate(1, 12).words).toBe('very likely acceptable (≤ 1 per 10 min)')
    expect(assessMeanRate(1.5, 12).words).toBe('manageable (≤ 2 per 10 min)')
    expect(assessMeanRate(2, 12).words).toBe('manageable (≤ 2 per 10 min)')
    expect(assessMeanRate(2.1, 12)).toEqual({
      judgement: 'poor',
      words: 'over the manageable rate of 2 per 10 min: likely over-demanding',
    })
    expect(assessMeanRate(12, 500).words).toBe(
      'a flood rate (> 10 per 10 min): very likely unacceptable',
    )
  })

  it('judges the busiest 10 minutes and the time in flood', () => {
    expect(assessMaxRate(10).words).toBe('under the flood threshold of 10 per 10 min')
    expect(assessMaxRate(11).words).toBe('over 10 per 10 min: a flood')
    expect(assessMaxRate(0).judgement).toBe('none')
    expect(assessFlood(0).words).toBe('never in flood')
    expect(assessFlood(0.5).words).toBe('under the 1 % target (ISA-18.2)')
    expect(assessFlood(4.2)).toEqual({ judgement: 'poor', words: 'over the 1 % target (ISA-18.2)' })
    expect(assessNone(0, 'chattering').words).toBe('no chattering alarms (target: none)')
    expect(assessNone(2, 'standing').judgement).toBe('poor')
  })

  it('judges the priority distribution against 80/15/5, critical counting with high', () => {
    const guide = assessPriorities({ critical: 0.01, high: 0.04, medium: 0.15, low: 0.8 }, 100)
    expect(guide.map((p) => [p.level, Math.round(p.share * 100), p.words])).toEqual([
      ['high', 5, 'near the 5 % guide'],
      ['medium', 15, 'near the 15 % guide'],
      ['low', 80, 'near the 80 % guide'],
    ])
    const skewed = assessPriorities({ critical: 0, high: 0.5, medium: 0.3, low: 0.2 }, 10)
    expect(skewed.map((p) => [p.level, p.words, p.judgement])).toEqual([
      ['high', 'over the 5 % guide', 'poor'],
      ['medium', 'over the 15 % guide', 'poor'],
      ['low', 'under the 80 % guide', 'fair'],
    ])
    // A quarter of the guide (at least 2 points) reads near it: 18 % medium is near, 19 % over.
    expect(
      assessPriorities({ critical: 0, high: 0.05, medium: 0.18, low: 0.77 }, 100)[1]?.words,
    ).toBe('near the 15 % guide')
    expect(
      assessPriorities({ critical: 0, high: 0.05, medium: 0.19, low: 0.76 }, 100)[1]?.words,
    ).toBe('over the 15 % guide')
    expect(assessPriorities({ critical: 0, high: 0, medium: 0, low: 0 }, 0)[2]?.words).toBe(
      'no alarms in the range',
    )
  })

  it('ends each range now', () => {
    expect(kpiRange('1h', 10_000_000)).toEqual({ from: 6_400_000, to: 10_000_000 })
    expect(kpiRange('24h', 100_000_000)).toEqual({ from: 13_600_000, to: 100_000_000 })
    expect(kpiRange('7d', 700_000_000)).toEqual({ from: 95_200_000, to: 700_000_000 })
  })
})

describe('routes and causes the alarm pages add', () => {
  it('routes #/alarms and #/alarm-kpis both ways', () => {
    expect(parseRoute('#/alarms')).toEqual({ page: 'alarms' })
    expect(parseRoute('#/alarm-kpis')).toEqual({ page: 'alarm-kpis' })
    expect(parseRoute('#/alarms/x')).toEqual({ page: 'not-found', hash: '#/alarms/x' })
    expect(routeHash({ page: 'alarms' })).toBe('#/alarms')
    expect(routeHash({ page: 'alarm-kpis' })).toBe('#/alarm-kpis')
  })

  it('says the causes of NCs that alarms open in words, not as run rules', () => {
    expect(causeWords('comm-loss')).toBe('COMMUNICATION LOST')
    expect(statusOfCause('comm-loss')).toBe('action')
    expect(isRule('comm-loss')).toBe(false)
    expect(causeWords('target')).toBe('OFF TARGET')
    expect(statusOfCause('stale')).toBe('alert')
    expect(causeWords('N2')).toBe('OUT OF CONTROL · N2')
    expect(causeWords('action-high')).toBe('ACTION HIGH')
  })
})
