import { describe, expect, it } from 'vitest'
import { pushDeviations } from '../dashboard/src/data/deviations.ts'
import {
  decimalsShown,
  formatAge,
  formatDateTime,
  formatQuantity,
  formatTime,
  formatValue,
} from '../dashboard/src/data/format.ts'
import { groupByHierarchy, hierarchyLabel, panelsBySite } from '../dashboard/src/data/hierarchy.ts'
import { applyNcEvents, openNcCounts, orderNcs } from '../dashboard/src/data/nc.ts'
import { problemText } from '../dashboard/src/data/problem.ts'
import { parseRoute, routeHash } from '../dashboard/src/data/route.ts'
import {
  appendPoints,
  buildControlSeries,
  buildReadingsSeries,
  limitLines,
  tsAt,
} from '../dashboard/src/data/series.ts'
import {
  causeLabel,
  causeWords,
  countStatuses,
  describeRule,
  isAbnormal,
  statusLabel,
  statusOfCause,
  worstStatus,
} from '../dashboard/src/data/status.ts'
import { applyTiles } from '../dashboard/src/data/tiles.ts'
import { bearer, takeTokenFromUrl } from '../dashboard/src/data/token.ts'
import type {
  AlarmLimits,
  CharacteristicView,
  ChartPointView,
  ControlLimitsView,
  DeviationView,
  LiveState,
  NcEvent,
  NonconformanceSummary,
  Status,
} from '../gateway/contract.ts'

// ── fixtures ────────────────────────────────────────────────────────────────────────────────

function state(status: Status, extra: Partial<LiveState> = {}): LiveState {
  return { status, rules: [], last: { ts: 1_000, value: 10 }, baseline: null, openNcs: 0, ...extra }
}

function characteristic(
  id: string,
  path: string,
  status: Status = 'normal',
  extra: Partial<CharacteristicView> = {},
): CharacteristicView {
  const [site = '', area = null, line = null, cell = null] = path.split('/')
  return {
    id,
    name: `Name of ${id}`,
    path,
    hierarchy: { site, area, line, cell },
    unit: 'g',
    decimals: 2,
    source: { kind: 'mqtt', topic: `t/${id}` },
    limits: {},
    chart: { type: 'imr', baselineCount: 25, rules: ['N1', 'N2'], control: null },
    state: state(status),
    ...extra,
  }
}

function point(
  index: number,
  value: number,
  opts: Partial<ChartPointView> & { limits?: [number, number, number] } = {},
): ChartPointView {
  const [lcl, center, ucl] = opts.limits ?? [null, null, null]
  return {
    index,
    ts: 1_700_000_000_000 + index * 1000,
    phase: opts.phase ?? 'monitor',
    panes: opts.panes ?? {
      i: { statistic: value, center, lcl, ucl },
      mr: {
        statistic: index === 0 ? null : 0.5,
        center: center === null ? null : 0.4,
        lcl: null,
        ucl: center === null ? null : 1.3,
      },
    },
    rules: opts.rules ?? [],
  }
}

function nc(
  id: number,
  lastAt: number,
  extra: Partial<NonconformanceSummary> = {},
): NonconformanceSummary {
  return {
    id,
    number: `NC-${String(id).padStart(6, '0')}`,
    characteristic: 'fill',
    characteristicName: 'Fill weight',
    path: 'plant/filling/l1',
    cause: 'action-high',
    causes: ['action-high'],
    title: 'Fill weight above the action limit',
    status: 'open',
    openedAt: lastAt - 1000,
    lastAt,
    occurrences: 1,
    trigger: { ts: lastAt, value: 13, limit: 12.5, rule: null },
    ...extra,
  }
}

const control: ControlLimitsView = {
  center: 10,
  sigma: 0.5,
  basis: { kind: 'given' },
  panes: { i: { center: 10, lcl: 8.5, ucl: 11.5 }, mr: { center: 0.56, lcl: null, ucl: 1.84 } },
}

// ── grouping ────────────────────────────────────────────────────────────────────────────────

describe('groupByHierarchy (ISA-95 site → area → line → cell)', () => {
  it('nests characteristics by site, area, line and cell in order of first appearance', () => {
    const list = [
      characteristic('b', 'plant/packing/l2/c1'),
      characteristic('a', 'plant/filling/l1/c1'),
      characteristic('c', 'plant/filling/l1/c2'),
      characteristic('d', 'plant/filling/l1/c1'),
    ]
    const [site, ...others] = groupByHierarchy(list)
    expect(others).toEqual([])
    expect(site?.name).toBe('plant')
    expect(site?.children.map((a) => a.name)).toEqual(['packing', 'filling'])
    const filling = site?.children[1]
    expect(filling?.level).toBe('area')
    const l1 = filling?.children[0]
    expect(l1?.key).toBe('plant/filling/l1')
    expect(l1?.children.map((c) => [c.level, c.name, c.items.map((i) => i.id)])).toEqual([
      ['cell', 'c1', ['a', 'd']],
      ['cell', 'c2', ['c']],
    ])
    expect(site?.count).toBe(4)
  })

  it('keeps a characteristic at the level where its path ends (a line-level gauge has no cell)', () => {
    const [site] = groupByHierarchy([
      characteristic('room', 'site'),
      characteristic('line', 'site/area/l1'),
      characteristic('cell', 'site/area/l1/c9'),
    ])
    expect(site?.items.map((i) => i.id)).toEqual(['room'])
    const l1 = site?.children[0]?.children[0]
    expect(l1?.items.map((i) => i.id)).toEqual(['line'])
    expect(l1?.children[0]?.items.map((i) => i.id)).toEqual(['cell'])
  })

  it('does not merge equal names under different parents', () => {
    const roots = groupByHierarchy([
      characteristic('x', 'a/shared/l1'),
      characteristic('y', 'b/shared/l1'),
    ])
    expect(roots.map((r) => r.key)).toEqual(['a', 'b'])
    expect(roots[1]?.children[0]?.children[0]?.key).toBe('b/shared/l1')
  })

  it('gives each group the most severe status found in it or below', () => {
    const [site] = groupByHierarchy([
      characteristic('n', 'p/a/l1/c1', 'normal'),
      characteristic('s', 'p/a/l1/c2', 'spc'),
      characteristic('x', 'p/b/l2/c1', 'action'),
      characteristic('z', 'p/b/l2/c1', 'no-data'),
    ])
    expect(site?.status).toBe('action')
    expect(site?.children.map((a) => a.status)).toEqual(['spc', 'action'])
  })

  it('returns nothing for no characteristics', () => {
    expect(groupByHierarchy([])).toEqual([])
  })

  it('flattens the tree into one panel per line, its cells as clusters, for the wall display', () => {
    const sites = panelsBySite(
      groupByHierarchy([
        characteristic('room', 'north'),
        characteristic('f1', 'north/filling/l1/filler', 'alert'),
        characteristic('l1', 'north/filling/l1'),
        characteristic('c1', 'north/filling/l1/capper'),
        characteristic('f2', 'north/filling/l1/filler'),
        characteristic('tank', 'north/formulation'),
        characteristic('s2', 'south/x/l9/c'),
      ]),
    )
    expect(sites.map((s) => [s.name, s.status])).toEqual([
      ['north', 'alert'],
      ['south', 'normal'],
    ])
    const north = sites[0]?.panels ?? []
    expect(north.map((p) => [p.key, p.level, p.trail, p.count, p.status])).toEqual([
      ['north', 'site', [], 1, 'normal'],
      ['north/filling/l1', 'line', ['filling', 'l1'], 4, 'alert'],
      ['north/formulation', 'area', ['formulation'], 1, 'normal'],
    ])
    expect(north[1]?.clusters.map((c) => [c.name, c.items.map((i) => i.id)])).toEqual([
      [null, ['l1']],
      ['filler', ['f1', 'f2']],
      ['capper', ['c1']],
    ])
  })

  it('labels a hierarchy with the levels that are set', () => {
    expect(hierarchyLabel({ site: 'Plant', area: 'Filling', line: null, cell: null })).toBe(
      'Plant › Filling',
    )
  })
})

// ── statuses and labels ─────────────────────────────────────────────────────────────────────

describe('status labels (never colour alone)', () => {
  const limits: AlarmLimits = { actionLow: 8, alertLow: 9, alertHigh: 11, actionHigh: 12 }

  it('says which side an action or alert excursion is on', () => {
    expect(
      statusLabel({ limits, state: state('action', { last: { ts: 0, value: 12.01 } }) }).text,
    ).toBe('ACTION HIGH')
    expect(
      statusLabel({ limits, state: state('action', { last: { ts: 0, value: 7.9 } }) }).text,
    ).toBe('ACTION LOW')
    expect(
      statusLabel({ limits, state: state('alert', { last: { ts: 0, value: 11.5 } }) }).text,
    ).toBe('ALERT HIGH')
    expect(
      statusLabel({ limits, state: state('alert', { last: { ts: 0, value: 8.5 } }) }).text,
    ).toBe('ALERT LOW')
  })

  it('a value exactly on the limit is not past it (no side), so the label stays generic', () => {
    expect(
      statusLabel({ limits, state: state('action', { last: { ts: 0, value: 12 } }) }).text,
    ).toBe('ACTION')
    expect(statusLabel({ limits: {}, state: state('alert', { last: null }) }).text).toBe('ALERT')
  })

  it('names the run rule of an out-of-control state when one was reported', () => {
    expect(statusLabel({ limits, state: state('spc', { rules: ['N2'] }) }).text).toBe(
      'OUT OF CONTROL · N2',
    )
    expect(statusLabel({ limits, state: state('spc', { rules: ['N1', 'N2'] }) }).text).toBe(
      'OUT OF CONTROL · N1 N2',
    )
    expect(statusLabel({ limits, state: state('spc') }).text).toBe('OUT OF CONTROL')
  })

  it('counts the baseline and says when there is no data', () => {
    expect(
      statusLabel({ limits, state: state('baseline', { baseline: { have: 12, need: 25 } }) }).text,
    ).toBe('BASELINE 12/25')
    expect(statusLabel({ limits, state: state('no-data', { last: null }) }).text).toBe('NO DATA')
    expect(statusLabel({ limits, state: state('normal') }).text).toBe('NORMAL')
  })

  it('orders severity as rules/characteristic.ts does, and only three states are abnormal', () => {
    expect(worstStatus(['baseline', 'normal', 'no-data'])).toBe('normal')
    expect(worstStatus(['spc', 'alert'])).toBe('alert')
    expect(worstStatus([])).toBe('no-data')
    expect(
      (['action', 'alert', 'spc', 'normal', 'baseline', 'no-data'] as Status[]).filter(isAbnormal),
    ).toEqual(['action', 'alert', 'spc'])
  })

  it('counts statuses most severe first, leaving out the absent ones', () => {
    expect(countStatuses(['normal', 'action', 'normal', 'baseline'])).toEqual([
      { status: 'action', count: 1 },
      { status: 'normal', count: 2 },
      { status: 'baseline', count: 1 },
    ])
  })

  it('words causes and rules', () => {
    expect(causeWords('action-high')).toBe('ACTION HIGH')
    expect(causeWords('alert-low')).toBe('ALERT LOW')
    expect(causeWords('N1')).toBe('OUT OF CONTROL · N1')
    expect(causeLabel('action-low')).toBe('Action low')
    expect(causeLabel('N2')).toBe('N2 (out of control)')
    expect(statusOfCause('alert-high')).toBe('alert')
    expect(statusOfCause('action-low')).toBe('action')
    expect(statusOfCause('N2')).toBe('spc')
    expect(describeRule('N1')).toMatch(/^N1: .*3σ/)
    expect(describeRule('N2')).toMatch(/^N2: nine/)
  })
})

// ── formatting ──────────────────────────────────────────────────────────────────────────────

describe('formatting', () => {
  it('shows the configured decimals with a true minus sign', () => {
    expect(formatValue(12.345, 2)).toBe('12.35')
    expect(formatValue(12, 0)).toBe('12')
    expect(formatValue(-3.5, 1)).toBe('\u22123.5')
    expect(formatValue(0.5, 3)).toBe('0.500')
  })

  it('never shows a negative zero, and shows a dash for missing or non-finite values', () => {
    expect(formatValue(-0.001, 2)).toBe('0.00')
    expect(formatValue(-0, 0)).toBe('0')
    expect(formatValue(null, 2)).toBe('—')
    expect(formatValue(undefined, 2)).toBe('—')
    expect(formatValue(Number.NaN, 2)).toBe('—')
    expect(formatValue(Number.POSITIVE_INFINITY, 2)).toBe('—')
  })

  it('clamps absurd decimals rather than throwing', () => {
    expect(formatValue(1, -1)).toBe('1')
    expect(formatValue(1, 20)).toBe('1.000000000')
  })

  it('joins value and unit, and leaves the unit out when the value is missing', () => {
    expect(formatQuantity(1013.25, 1, 'hPa')).toBe('1013.3 hPa')
    expect(formatQuantity(5, 0, '')).toBe('5')
    expect(formatQuantity(null, 2, 'g')).toBe('—')
  })

  it('says how old a reading is, compactly', () => {
    const now = 10_000_000
    expect(formatAge(now, now)).toBe('now')
    expect(formatAge(now + 5000, now)).toBe('now') // clock skew: in the future
    expect(formatAge(now - 42_000, now)).toBe('42 s')
    expect(formatAge(now - 7 * 60_000 - 59_000, now)).toBe('7 min')
    expect(formatAge(now - (3 * 60 + 5) * 60_000, now)).toBe('3 h 05 min')
    expect(formatAge(now - 50 * 3_600_000, now)).toBe('2 d')
  })

  it('formats times in ISO order, 24 h, in a given zone', () => {
    const ts = Date.UTC(2025, 2, 14, 9, 26, 53)
    expect(formatDateTime(ts, 'UTC')).toBe('2025-03-14 09:26:53')
    expect(formatTime(ts, 'UTC')).toBe('09:26:53')
    expect(formatTime(ts, 'Asia/Kolkata')).toBe('14:56:53')
    expect(formatTime(Number.NaN, 'UTC')).toBe('—')
  })

  it('finds the decimals a set of values needs', () => {
    expect(decimalsShown([12.5, 12.25, 13])).toBe(2)
    expect(decimalsShown([1, 2])).toBe(0)
    expect(decimalsShown([1.123456789])).toBe(4)
    expect(decimalsShown([1e-7])).toBe(4)
  })
})

// ── chart series ────────────────────────────────────────────────────────────────────────────

describe('control chart series', () => {
  it('puts every individual on one line and splits baseline, monitor and violation markers', () => {
    const points = [
      point(0, 10, { phase: 'baseline' }),
      point(1, 11, { phase: 'baseline' }),
      point(2, 12, { limits: [8.5, 10, 11.5], rules: ['N1'] }),
      point(3, 10.2, { limits: [8.5, 10, 11.5] }),
    ]
    const s = buildControlSeries(points, {}, null)
    expect(s.x).toEqual([0, 1, 2, 3])
    expect(s.i.value).toEqual([10, 11, 12, 10.2])
    expect(s.i.baseline).toEqual([10, 11, null, null])
    expect(s.i.monitor).toEqual([null, null, 12, 10.2])
    expect(s.i.violation).toEqual([null, null, 12, null])
    expect(s.violations).toEqual([
      { at: 2, index: 2, ts: points[2]?.ts, value: 12, rules: ['N1'], onset: true },
    ])
  })

  it('names a rule once per run of flagged points (N2 flags every point while the run lasts)', () => {
    const lim: [number, number, number] = [8.5, 10, 11.5]
    const points = [
      point(0, 10.5, { limits: lim, rules: ['N2'] }),
      point(1, 10.6, { limits: lim, rules: ['N2'] }),
      point(2, 11.9, { limits: lim, rules: ['N1', 'N2'] }),
      point(3, 10.4, { limits: lim, rules: ['N2'] }),
      point(4, 10.0, { limits: lim }),
      point(5, 10.2, { limits: lim, rules: ['N2'] }),
      point(7, 10.2, { limits: lim, rules: ['N2'] }), // a gap in the indices starts a new run
    ]
    const s = buildControlSeries(points, {}, null)
    expect(s.violations.map((v) => [v.index, v.onset])).toEqual([
      [0, true],
      [1, false],
      [2, true],
      [3, true],
      [5, true],
      [7, true],
    ])
  })

  it('draws each point’s own control limits, and the current ones where a point has none', () => {
    const points = [
      point(0, 10, { phase: 'baseline' }),
      point(1, 10.4, { limits: [9, 10.1, 11.2] }),
    ]
    const without = buildControlSeries(points, {}, null)
    expect(without.i.ucl).toEqual([null, 11.2])
    expect(without.i.cl).toEqual([null, 10.1])
    const withControl = buildControlSeries(points, {}, control)
    expect(withControl.i.ucl).toEqual([11.5, 11.2])
    expect(withControl.i.lcl).toEqual([8.5, 9])
    expect(withControl.i.cl).toEqual([10, 10.1])
    expect(withControl.mr.ucl).toEqual([1.84, 1.3])
  })

  it('draws the configured alert and action limits as constant lines, and nothing for unset ones', () => {
    const s = buildControlSeries(
      [point(0, 1), point(1, 2)],
      { actionHigh: 12.5, alertHigh: 12 },
      null,
    )
    expect(s.i.actionHigh).toEqual([12.5, 12.5])
    expect(s.i.alertHigh).toEqual([12, 12])
    expect(s.i.alertLow).toEqual([null, null])
    expect(s.i.actionLow).toEqual([null, null])
  })

  it('marks the points strictly beyond an action or alert limit, as the rules classify them', () => {
    const limits: AlarmLimits = { actionLow: 7, alertLow: 8, alertHigh: 12, actionHigh: 13 }
    const s = buildControlSeries(
      [point(0, 13.01), point(1, 13), point(2, 12.5), point(3, 12), point(4, 7.5), point(5, 6.9)],
      limits,
      null,
    )
    expect(s.i.beyondAction).toEqual([13.01, null, null, null, null, 6.9])
    expect(s.i.beyondAlert).toEqual([null, 13, 12.5, null, 7.5, null])
  })

  it('takes the moving range pane, null for the first point', () => {
    const s = buildControlSeries([point(0, 1), point(1, 2)], {}, null)
    expect(s.mr.value).toEqual([null, 0.5])
  })

  it('leaves an empty chart empty', () => {
    const s = buildControlSeries([], { actionHigh: 1 }, control)
    expect(s.x).toEqual([])
    expect(s.i.actionHigh).toEqual([])
  })

  it('lists the lines in force highest first, with the control limits between the alarm limits', () => {
    const lines = limitLines({ actionLow: 7, alertLow: 8, alertHigh: 12, actionHigh: 13 }, control)
    expect(lines.map((l) => `${l.key}=${l.value}`)).toEqual([
      'action-high=13',
      'alert-high=12',
      'ucl=11.5',
      'cl=10',
      'lcl=8.5',
      'alert-low=8',
      'action-low=7',
    ])
    expect(limitLines({}, null)).toEqual([])
  })

  it('maps an x position back to the time of the nearest point', () => {
    const s = buildControlSeries([point(5, 1), point(6, 1), point(9, 1)], {}, null)
    expect(tsAt(s, 6.2)).toBe(s.ts[1])
    expect(tsAt(s, 8)).toBe(s.ts[2])
    expect(tsAt(s, 4.6)).toBe(s.ts[0])
    expect(tsAt(s, 3)).toBeNull()
    expect(tsAt({ x: [], ts: [] }, 0)).toBeNull()
  })

  it('builds the readings around an NC in time order with the trigger and occurrences marked', () => {
    const r = buildReadingsSeries(
      [
        { ts: 30, value: 13 },
        { ts: 10, value: 10 },
        { ts: 20, value: 12.9 },
        { ts: 40, value: 10.1 },
      ],
      { ts: 20, value: 12.9 },
      [{ ts: 30, value: 13 }],
    )
    expect(r.ts).toEqual([10, 20, 30, 40])
    expect(r.occurrence).toEqual([null, 12.9, 13, null])
    expect(r.trigger).toBe(1)
  })
})

describe('appendPoints (bounded live buffer)', () => {
  it('appends new points in index order and skips those already held', () => {
    const held = [point(0, 1), point(1, 1)]
    const next = appendPoints(held, [point(3, 1), point(1, 9), point(2, 1)])
    expect(next.map((p) => p.index)).toEqual([0, 1, 2, 3])
    expect(next[1]?.panes.i?.statistic).toBe(1) // the held point, not the repeat
    expect(held.map((p) => p.index)).toEqual([0, 1]) // input untouched
  })

  it('keeps only the newest points past the bound', () => {
    const many = Array.from({ length: 30 }, (_, i) => point(i, i))
    const next = appendPoints(many.slice(0, 20), many.slice(20), 25)
    expect(next).toHaveLength(25)
    expect(next[0]?.index).toBe(5)
    expect(next[24]?.index).toBe(29)
    expect(appendPoints(many, [], 10)).toHaveLength(10)
  })
})

// ── nonconformances ─────────────────────────────────────────────────────────────────────────

describe('nonconformance ordering and live events', () => {
  it('orders open first, then the most recently active, then the highest number', () => {
    const list = [nc(1, 100), nc(2, 300), nc(3, 300), nc(4, 200, { status: 'closed' as 'open' })]
    expect(orderNcs(list).map((n) => n.id)).toEqual([3, 2, 1, 4])
  })

  it('adds opened NCs and replaces updated ones, re-ordering', () => {
    const list = [nc(1, 100), nc(2, 200)]
    const events: NcEvent[] = [
      { type: 'opened', nc: nc(3, 250) },
      { type: 'updated', nc: nc(1, 400, { occurrences: 5 }) },
    ]
    const next = applyNcEvents(list, events, 'open')
    expect(next.map((n) => [n.id, n.occurrences])).toEqual([
      [1, 5],
      [3, 1],
      [2, 1],
    ])
  })

  it('does not let a late event overwrite a newer state from a refetch', () => {
    const next = applyNcEvents(
      [nc(1, 500, { occurrences: 7 })],
      [{ type: 'updated', nc: nc(1, 400, { occurrences: 6 }) }],
      'all',
    )
    expect(next[0]?.occurrences).toBe(7)
  })

  it('drops an NC that is no longer open from the open list, keeps it in all', () => {
    const closed = nc(1, 600, { status: 'closed' as 'open' })
    expect(applyNcEvents([nc(1, 500)], [{ type: 'updated', nc: closed }], 'open')).toEqual([])
    expect(applyNcEvents([nc(1, 500)], [{ type: 'updated', nc: closed }], 'all')).toHaveLength(1)
  })

  it('counts open NCs per characteristic', () => {
    const counts = openNcCounts([nc(1, 1), nc(2, 2), nc(3, 3, { characteristic: 'other' })])
    expect(Object.fromEntries(counts)).toEqual({ fill: 2, other: 1 })
  })
})

// ── deviations and tiles ────────────────────────────────────────────────────────────────────

describe('deviation strip', () => {
  const dev = (
    characteristic: string,
    cause: DeviationView['cause'],
    ts: number,
    onset: boolean,
    value = 13,
  ): DeviationView => ({
    characteristic,
    cause,
    kind: cause.startsWith('N') ? 'rule' : 'limit',
    onset,
    ts,
    value,
    limit: cause.startsWith('N') ? null : 12.5,
  })

  it('starts an entry at each onset, newest first', () => {
    const list = pushDeviations([], [dev('a', 'action-high', 1, true), dev('b', 'N1', 2, true)])
    expect(list.map((e) => `${e.characteristic}:${e.cause}`)).toEqual(['b:N1', 'a:action-high'])
  })

  it('folds continuing readings into the latest entry instead of flooding the strip', () => {
    let list = pushDeviations([], [dev('a', 'action-high', 1, true, 13)])
    list = pushDeviations(list, [
      dev('a', 'action-high', 2, false, 13.4),
      dev('a', 'action-high', 3, false, 13.1),
    ])
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ count: 3, ts: 1, lastTs: 3, lastValue: 13.1, value: 13 })
  })

  it('starts an entry for a continuation seen without its onset (screen opened mid-excursion)', () => {
    expect(pushDeviations([], [dev('a', 'alert-high', 5, false)])).toHaveLength(1)
  })

  it('keeps a bounded number of entries', () => {
    const incoming = Array.from({ length: 60 }, (_, i) => dev(`c${i}`, 'action-high', i, true))
    const list = pushDeviations([], incoming, 40)
    expect(list).toHaveLength(40)
    expect(list[0]?.characteristic).toBe('c59')
  })
})

describe('applyTiles', () => {
  it('replaces only the updated characteristics, keeping order and identity of the rest', () => {
    const list = [characteristic('a', 'p'), characteristic('b', 'p')]
    const { list: next, unknown } = applyTiles(list, [
      { id: 'b', state: state('alert') },
      { id: 'b', state: state('action') },
      { id: 'zzz', state: state('normal') },
    ])
    expect(next[0]).toBe(list[0])
    expect(next[1]?.state.status).toBe('action')
    expect(next[1]).not.toBe(list[1])
    expect(unknown).toEqual(['zzz'])
  })
})

// ── routes, tokens, problems ────────────────────────────────────────────────────────────────

describe('hash routes', () => {
  it('parses the four pages', () => {
    expect(parseRoute('')).toEqual({ page: 'overview' })
    expect(parseRoute('#/')).toEqual({ page: 'overview' })
    expect(parseRoute('#/c/fill-weight')).toEqual({ page: 'characteristic', id: 'fill-weight' })
    expect(parseRoute('#/nc')).toEqual({ page: 'ncs' })
    expect(parseRoute('#/nc/42')).toEqual({ page: 'nc', id: 42 })
  })

  it('refuses what is not a page', () => {
    expect(parseRoute('#/nc/abc').page).toBe('not-found')
    expect(parseRoute('#/nc/0').page).toBe('not-found')
    expect(parseRoute('#/c/a/b').page).toBe('not-found')
    expect(parseRoute('#/c/%E0%A4%A').page).toBe('not-found')
    expect(parseRoute('#/elsewhere').page).toBe('not-found')
  })

  it('round-trips ids through the hash', () => {
    for (const id of ['fill.weight_1', 'a-b']) {
      expect(parseRoute(routeHash({ page: 'characteristic', id }))).toEqual({
        page: 'characteristic',
        id,
      })
    }
    expect(parseRoute(routeHash({ page: 'nc', id: 7 }))).toEqual({ page: 'nc', id: 7 })
  })
})

describe('tokens in the address (kiosk)', () => {
  it('takes the token and removes it, keeping other parameters and the hash', () => {
    const r = takeTokenFromUrl('http://wall:8080/?kiosk=1&token=s3cr3t#/nc')
    expect(r.token).toBe('s3cr3t')
    expect(r.url).toBe('http://wall:8080/?kiosk=1#/nc')
  })

  it('leaves an address without a token as it is', () => {
    expect(takeTokenFromUrl('http://wall:8080/#/c/x')).toEqual({
      token: null,
      url: 'http://wall:8080/#/c/x',
    })
  })

  it('removes an empty token parameter without storing it', () => {
    expect(takeTokenFromUrl('http://wall/?token=')).toEqual({ token: null, url: 'http://wall/' })
  })

  it('makes a bearer header only for a token', () => {
    expect(bearer('abc')).toBe('Bearer abc')
    expect(bearer(null)).toBeUndefined()
  })
})

describe('problem texts', () => {
  it('tells a viewer whose role may not see a page', () => {
    expect(problemText(403)).toBe('Your role may not see this.')
    expect(problemText(401)).toMatch(/access token/)
    expect(problemText(0)).toMatch(/cannot be reached/)
    expect(problemText(400, 'limit must be ≤ 5000')).toBe(
      'Request refused (400): limit must be ≤ 5000',
    )
  })
})
