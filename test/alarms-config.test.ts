import { describe, expect, it } from 'vitest'
import { alarmDefinitions, suppressionMap } from '../gateway/alarms/catalogue.ts'
import { parseConfig } from '../gateway/config/index.ts'

/**
 * What a configuration's alarm settings mean: which alarms exist, with which settings (the
 * narrowest setting wins: condition, characteristic, plant), and what the checks refuse.
 */

const BASE = `
alarms:
  deadband: { percent: 1 }
  reAlarmMinutes: 30
  priorities: { spc: medium }
  states: [{ id: stopped, name: Line stopped }]
  suppression:
    - { when: { state: stopped }, suppress: ['*:HH', 'b:*'] }
characteristics:
  - id: a
    name: A
    path: Site/Area/Line/Cell
    source: { mqtt: { topic: a } }
    limits: { actionLow: 1, actionHigh: 9 }
    chart: { rules: [N1, N3] }
    alarms:
      offDelay: { ms: 5000 }
      target: { value: 5, maxDeviation: 3 }
      staleAfterMs: 60000
      conditions:
        LL: { priority: critical, onDelay: { readings: 2 }, deadband: { units: 0.25 } }
        N3: { enabled: false }
  - id: b
    name: B
    path: Site/Other
    source: { mqtt: { topic: b } }
    limits: { alertHigh: 4, actionHigh: 5 }
    chart: { type: cusum }
    alarms: { area: Control room 2, spc: [cusum-upper] }
`

describe('alarm definitions from the configuration', () => {
  const config = parseConfig(BASE, 'alarms.yaml')
  const [a, b] = config.characteristics as [
    (typeof config.characteristics)[number],
    (typeof config.characteristics)[number],
  ]

  it('one alarm per limit, the target, stale, comm-loss and each judged rule not disabled', () => {
    expect(alarmDefinitions(config, a).map((d) => [d.id, d.priority, d.area])).toEqual([
      ['a:HH', 'high', 'Site/Area'],
      ['a:LL', 'critical', 'Site/Area'],
      ['a:target', 'medium', 'Site/Area'],
      ['a:stale', 'medium', 'Site/Area'],
      ['a:comm-loss', 'high', 'Site/Area'],
      ['a:N1', 'medium', 'Site/Area'],
    ])
    expect(alarmDefinitions(config, b).map((d) => [d.id, d.priority, d.area])).toEqual([
      ['b:HH', 'high', 'Control room 2'],
      ['b:H', 'medium', 'Control room 2'],
      ['b:comm-loss', 'high', 'Control room 2'],
      ['b:cusum-upper', 'medium', 'Control room 2'],
    ])
  })

  it('the narrowest setting wins: condition over characteristic over plant', () => {
    const byId = new Map(alarmDefinitions(config, a).map((d) => [d.id, d.settings]))
    expect(byId.get('a:LL')?.threshold).toEqual({
      threshold: 1,
      deadband: { units: 0.25 },
      onDelay: { readings: 2 },
      offDelay: { ms: 5000 },
    })
    expect(byId.get('a:HH')?.threshold).toEqual({
      threshold: 9,
      deadband: { percent: 1 },
      onDelay: undefined,
      offDelay: { ms: 5000 },
    })
    expect(byId.get('a:HH')?.reAlarmMs).toBe(30 * 60_000)
    expect(byId.get('a:target')).toMatchObject({ target: 5, threshold: { threshold: 3 } })
    expect(byId.get('a:stale')).toMatchObject({ staleAfterMs: 60000, threshold: undefined })
  })

  it('NCs: by default HH, LL, N1, N2 and grade A ≥5 µm open one; earlier cause names still work', () => {
    expect(
      alarmDefinitions(config, a)
        .filter((d) => d.opensNc)
        .map((d) => d.id),
    ).toEqual(['a:HH', 'a:LL', 'a:N1'])
    const legacy = parseConfig(
      `${BASE.replace('characteristics:', 'nonconformance: { openOn: [action-high, alert-high] }\ncharacteristics:')}`,
      'legacy.yaml',
    )
    expect(
      alarmDefinitions(legacy, legacy.characteristics[1] as never)
        .filter((d) => d.opensNc)
        .map((d) => d.id),
    ).toEqual(['b:HH', 'b:H'])
  })

  it('suppression patterns name the alarms they cover; comm-loss suppresses its stale alarm', () => {
    const defs = config.characteristics.flatMap((c) => alarmDefinitions(config, c))
    const map = suppressionMap(config, defs)
    expect(map.get('state:stopped')).toEqual({
      why: 'suppressed by design: Line stopped',
      targets: ['a:HH', 'b:HH', 'b:H', 'b:comm-loss', 'b:cusum-upper'],
    })
    expect(map.get('a:comm-loss')?.targets).toEqual(['a:stale'])
  })
})

describe('the configuration check refuses alarm settings that cannot work', () => {
  const refused = (yaml: string) => {
    try {
      parseConfig(yaml, 'bad.yaml')
    } catch (e) {
      return (e as Error).message
    }
    return 'accepted'
  }
  const one = (alarms: string, extra = '') => `${extra}
characteristics:
  - { id: c, name: C, path: P/A, source: { mqtt: { topic: c } }, limits: { actionHigh: 9 }, ${alarms} }
`

  it('an SPC alarm for a rule the chart does not judge', () => {
    expect(refused(one('alarms: { spc: [N5] }'))).toContain(
      'characteristics[0].alarms.spc: N5 is not judged by this chart (its rules: N1, N2)',
    )
  })

  it('a suppression naming a state or characteristic that does not exist', () => {
    expect(
      refused(one('', "alarms: { suppression: [{ when: { state: nope }, suppress: ['x:HH'] }] }")),
    ).toMatch(/no plant state "nope" in alarms.states[\s\S]*no characteristic "x"/)
  })

  it('a plant state following a characteristic with neither below nor above', () => {
    expect(
      refused(one('', 'alarms: { states: [{ id: s, name: S, when: { characteristic: c } }] }')),
    ).toContain('alarms.states[0].when: set below or above')
  })

  it('a grade D counter in operation without its own action limit (Annex 1 sets none)', () => {
    expect(
      refused(`cleanrooms: [{ id: r, name: R, grade: D, state: in-operation, areaM2: 30 }]
characteristics:
  - { id: c, name: C, path: P/A, source: { mqtt: { topic: c } }, cleanroom: { room: r, location: L1, particleSize: 0.5 } }
`),
    ).toContain(
      'EU GMP Annex 1 predetermines no limit for grade D in-operation: set limits.actionHigh',
    )
  })
})
