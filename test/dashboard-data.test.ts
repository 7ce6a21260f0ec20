import { describe, expect, it } from 'vitest'
import {
  capabilityIndices,
  capabilityPending,
  formatInterval,
  formatPpm,
  MIN_CAPABILITY_READINGS,
  readingsNeeded,
  type Verdict,
  verdictDisplay,
} from '../dashboard/src/data/capability.ts'
import {
  alarmMarks,
  buildChartSeries,
  latestControl,
  latestSigmas,
  markLabel,
  type PaneSeries,
  panesOfRule,
} from '../dashboard/src/data/chart-series.ts'
import {
  alarmPane,
  CHART_NAMES,
  chartHeader,
  durationWords,
  paneInfo,
  rulesList,
  sigmaDecimals,
  sigmaWords,
  subgroupWords,
} from '../dashboard/src/data/chart-words.ts'
import {
  CUSUM_CLIP_H,
  CUSUM_MARGIN,
  cusumRange,
  latestH,
} from '../dashboard/src/data/cusum-range.ts'
import { pushDeviations } from '../dashboard/src/data/deviations.ts'
import {
  decimalsShown,
  formatAge,
  formatDateTime,
  formatQuantity,
  formatTime,
  formatTimeTick,
  formatValue,
  valueSteps,
} from '../dashboard/src/data/format.ts'
import { groupByHierarchy, hierarchyLabel, panelsBySite } from '../dashboard/src/data/hierarchy.ts'
import {
  binReadings,
  histogramExtent,
  niceStep,
  normalCurve,
  normalPdf,
} from '../dashboard/src/data/histogram.ts'
import {
  baselineActions,
  limitsSummary,
  orderLimitChanges,
  reasonProblem,
} from '../dashboard/src/data/limit-changes.ts'
import { applyNcEvents, openNcCounts, orderNcs } from '../dashboard/src/data/nc.ts'
import {
  cusumSide,
  isTriggerReading,
  judgesStatistic,
  ncChartPlan,
  ncWindow,
  occurrenceHeading,
  paneValues,
  runSpan,
  runWords,
  triggerLimitWords,
} from '../dashboard/src/data/nc-chart.ts'
import { problemText } from '../dashboard/src/data/problem.ts'
import { parseRoute, routeHash } from '../dashboard/src/data/route.ts'
import {
  appendPoints,
  buildReadingsSeries,
  limitLines,
  readingsLines,
  timeRange,
  tsAt,
} from '../dashboard/src/data/series.ts'
import {
  causeLabel,
  causeValueText,
  causeWords,
  countStatuses,
  describeRule,
  describeRuleOn,
  isAbnormal,
  ruleShort,
  rulesShort,
  statusLabel,
  statusOfCause,
  worstStatus,
} from '../dashboard/src/data/status.ts'
import { applyTiles } from '../dashboard/src/data/tiles.ts'
import { bearer, takeTokenFromUrl } from '../dashboard/src/data/token.ts'
import type {
  AlarmLimits,
  CapabilityView,
  CharacteristicView,
  ChartPointView,
  ControlLimitsView,
  DeviationView,
  LimitChangeView,
  LiveState,
  NcEvent,
  NonconformanceSummary,
  NonconformanceView,
  PanePoint,
  Status,
} from '../gateway/contract.ts'
import { MIN_CAPABILITY_N } from '../rules/capability.ts'
import { chartKind } from '../rules/charts/index.ts'
import { CHART_TYPES } from '../rules/spec.ts'
import { NELSON_RULES, type ViolationRule, WESTERN_ELECTRIC_RULES } from '../rules/types.ts'

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
    chart: {
      type: 'imr',
      subgroup: { by: 'count', size: 1 },
      panes: ['i', 'mr'],
      baseline: { count: 25 },
      rules: ['N1', 'N2'],
      control: null,
    },
    specLimits: null,
    capability: null,
    capabilityVerdict: null,
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
    ts: opts.ts ?? 1_700_000_000_000 + index * 1000,
    phase: opts.phase ?? 'monitor',
    n: opts.n ?? 1,
    panes: opts.panes ?? {
      i: { statistic: value, center, lcl, ucl, sigma: center === null ? null : 0.5 },
      mr: {
        statistic: index === 0 ? null : 0.5,
        center: center === null ? null : 0.4,
        lcl: null,
        ucl: center === null ? null : 1.3,
        sigma: center === null ? null : 0.3,
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
    workflow: { status: 'open', severity: null, owner: null, dueAt: null, overdue: false },
    recurrenceOf: null,
    openedAt: lastAt - 1000,
    lastAt,
    occurrences: 1,
    trigger: { ts: lastAt, value: 13, limit: 12.5, rule: null, pane: null, runLength: null },
    ...extra,
  }
}

const control: ControlLimitsView = {
  center: 10,
  sigma: 0.5,
  basis: { kind: 'given' },
  panes: { i: { center: 10, lcl: 8.5, ucl: 11.5 }, mr: { center: 0.56, lcl: null, ucl: 1.84 } },
}

/** An I-MR chart's columns, the individuals pane's alarm columns alongside its own (as the chart draws them). */
function imr(
  points: readonly ChartPointView[],
  alarm: AlarmLimits = {},
  limits: ControlLimitsView | null = null,
) {
  const s = buildChartSeries(points, { type: 'imr', panes: ['i', 'mr'], alarm, control: limits })
  const [i, mr] = s.panes as [PaneSeries, PaneSeries]
  if (!i.alarm) throw new Error('the individuals pane must carry the alarm limits')
  return { ...s, i: { ...i, ...i.alarm }, mr, violations: i.violations }
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
    const s = imr(points)
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
    const s = imr(points)
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
    const without = imr(points)
    expect(without.i.ucl).toEqual([null, 11.2])
    expect(without.i.cl).toEqual([null, 10.1])
    const withControl = imr(points, {}, control)
    expect(withControl.i.ucl).toEqual([11.5, 11.2])
    expect(withControl.i.lcl).toEqual([8.5, 9])
    expect(withControl.i.cl).toEqual([10, 10.1])
    expect(withControl.mr.ucl).toEqual([1.84, 1.3])
  })

  it('draws the configured alert and action limits as constant lines, and nothing for unset ones', () => {
    const s = imr([point(0, 1), point(1, 2)], { actionHigh: 12.5, alertHigh: 12 })
    expect(s.i.actionHigh).toEqual([12.5, 12.5])
    expect(s.i.alertHigh).toEqual([12, 12])
    expect(s.i.alertLow).toEqual([null, null])
    expect(s.i.actionLow).toEqual([null, null])
  })

  it('marks the points strictly beyond an action or alert limit, as the rules classify them', () => {
    const limits: AlarmLimits = { actionLow: 7, alertLow: 8, alertHigh: 12, actionHigh: 13 }
    const s = imr(
      [point(0, 13.01), point(1, 13), point(2, 12.5), point(3, 12), point(4, 7.5), point(5, 6.9)],
      limits,
    )
    expect(s.i.beyondAction).toEqual([13.01, null, null, null, null, 6.9])
    expect(s.i.beyondAlert).toEqual([null, 13, 12.5, null, 7.5, null])
  })

  it('takes the moving range pane, null for the first point', () => {
    const s = imr([point(0, 1), point(1, 2)])
    expect(s.mr.value).toEqual([null, 0.5])
  })

  it('leaves an empty chart empty', () => {
    const s = imr([], { actionHigh: 1 }, control)
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
    const s = imr([point(5, 1), point(6, 1), point(9, 1)])
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
    expect(r.x).toEqual([0, 1, 2, 3])
    expect(r.occurrence).toEqual([null, 12.9, 13, null])
    expect(r.trigger).toBe(1)
    expect(r.triggerMark).toEqual([null, 12.9, null, null])
  })

  it('puts the readings at their times on a time axis (an NC chart is time-proportional)', () => {
    const readings = [
      { ts: 1000, value: 1 },
      { ts: 1010, value: 2 },
      { ts: 5000, value: 3 },
    ]
    const r = buildReadingsSeries(readings, { ts: 5000, value: 3 }, [], 'time')
    expect(r.x).toEqual([1000, 1010, 5000])
    expect(r.trigger).toBe(2)
    // A rule's trigger value is the statistic it judged: the reading of its time is the trigger.
    const rule = buildReadingsSeries(readings, { ts: 1010, value: 4.8 }, [], 'time')
    expect(rule.trigger).toBe(1)
    expect(rule.triggerMark).toEqual([null, 2, null])
    // No trigger (the readings under an EWMA chart): nothing ringed.
    const none = buildReadingsSeries(readings, null)
    expect(none.trigger).toBe(-1)
    expect(none.triggerMark).toEqual([null, null, null])
  })

  it('gives a time axis its data’s span with a little room, and a single time two seconds', () => {
    expect(timeRange(1000, 2000)).toEqual([970, 2030])
    // Whole milliseconds: uPlot's time ticks fall a millisecond early from a fractional minimum.
    expect(timeRange(1_765_033_500_000, 1_765_033_503_003)).toEqual([
      1_765_033_499_909, 1_765_033_503_094,
    ])
    expect(timeRange(5000, 5000)).toEqual([4000, 6000])
    expect(timeRange(null, null)).toEqual([0, 1000])
  })

  it('labels time ticks with milliseconds when closer than a second, the date when a day apart', () => {
    const ts = Date.UTC(2025, 2, 14, 9, 26, 53, 250)
    expect(formatTimeTick(ts, 5000, 'UTC')).toBe('09:26:53')
    expect(formatTimeTick(ts, 200, 'UTC')).toBe('09:26:53.250')
    expect(formatTimeTick(ts, 86_400_000, 'UTC')).toBe('2025-03-14')
    expect(formatTimeTick(Number.NaN, 200)).toBe('—')
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
    pane: cause.startsWith('N') ? 'i' : null,
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

  it('the NC list of one characteristic (its "N open NC" link): #/nc?characteristic=<id>', () => {
    expect(parseRoute('#/nc?characteristic=fill-weight')).toEqual({
      page: 'ncs',
      characteristic: 'fill-weight',
    })
    expect(routeHash({ page: 'ncs', characteristic: 'fill-weight' })).toBe(
      '#/nc?characteristic=fill-weight',
    )
    expect(routeHash({ page: 'ncs' })).toBe('#/nc')
    for (const characteristic of ['fill.weight_1', 'a b&c=d', 'ü/?#']) {
      expect(parseRoute(routeHash({ page: 'ncs', characteristic }))).toEqual({
        page: 'ncs',
        characteristic,
      })
    }
    // Empty or absurd: the whole list.
    expect(parseRoute('#/nc?characteristic=')).toEqual({ page: 'ncs' })
    expect(parseRoute(`#/nc?characteristic=${'x'.repeat(129)}`)).toEqual({ page: 'ncs' })
    expect(parseRoute('#/nc?other=1')).toEqual({ page: 'ncs' })
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

// ── charts of every type ────────────────────────────────────────────────────────────────────

/** A pane of a point: [statistic, lcl, center, ucl]. */
function pane(
  statistic: number | null,
  limits: [number | null, number | null, number | null] = [null, null, null],
  extra: Partial<PanePoint> = {},
): PanePoint {
  const [lcl, center, ucl] = limits
  return { statistic, lcl, center, ucl, sigma: null, ...extra }
}

function chartPoint(
  index: number,
  panes: Record<string, PanePoint>,
  opts: Partial<ChartPointView> = {},
): ChartPointView {
  return {
    index,
    ts: 1_700_000_000_000 + index * 1000,
    phase: 'monitor',
    n: 5,
    panes,
    rules: [],
    ...opts,
  }
}

const XBAR_CONTROL: ControlLimitsView = {
  center: 10,
  sigma: 0.5,
  basis: { kind: 'estimated', count: 24, excluded: 1, firstTs: 0, lastTs: 1, method: 'rbar' },
  panes: { xbar: { center: 10, lcl: 9.33, ucl: 10.67 }, r: { center: 1.16, lcl: null, ucl: 2.46 } },
}

describe('multi-pane chart series', () => {
  it('X̄-R: two panes of their own statistics and limits, no alarm limits on either', () => {
    const points = [
      chartPoint(0, { xbar: pane(10.1), r: pane(1.2) }, { phase: 'baseline' }),
      chartPoint(1, { xbar: pane(9.9, [9.33, 10, 10.67]), r: pane(0.8, [null, 1.16, 2.46]) }),
      chartPoint(
        2,
        { xbar: pane(10.3, [9.33, 10, 10.67]), r: pane(2.9, [null, 1.16, 2.46]) },
        { rules: ['N1'] },
      ),
    ]
    const s = buildChartSeries(points, {
      type: 'xbar-r',
      panes: ['xbar', 'r'],
      alarm: { actionHigh: 12 },
      control: XBAR_CONTROL,
    })
    expect(s.panes.map((p) => p.pane)).toEqual(['xbar', 'r'])
    const [xbar, r] = s.panes as [PaneSeries, PaneSeries]
    expect(xbar.value).toEqual([10.1, 9.9, 10.3])
    expect(r.value).toEqual([1.2, 0.8, 2.9])
    // A baseline point of the latest n is read against the current limits; monitor points carry their own.
    expect(xbar.ucl).toEqual([10.67, 10.67, 10.67])
    expect(r.lcl).toEqual([null, null, null]) // R's LCL is 0-truncated away for n < 7: no line
    expect(r.ucl).toEqual([2.46, 2.46, 2.46])
    expect(xbar.alarm).toBeNull()
    expect(r.alarm).toBeNull()
    // N1 at point 2 is the range beyond its UCL: the ring is on R, not on X̄.
    expect(r.violation).toEqual([null, null, 2.9])
    expect(xbar.violation).toEqual([null, null, null])
    expect(r.violations.map((v) => [v.index, markLabel(v)])).toEqual([[2, 'N1']])
  })

  it('puts a limits test on every pane beyond its limits, and the other rules on the primary pane', () => {
    const p = chartPoint(
      4,
      { xbar: pane(10.9, [9.33, 10, 10.67]), r: pane(2.9, [null, 1.16, 2.46]) },
      { rules: ['N1', 'N5'] },
    )
    expect(panesOfRule(p, 'N1', ['xbar', 'r'])).toEqual(['xbar', 'r'])
    expect(panesOfRule(p, 'N5', ['xbar', 'r'])).toEqual(['xbar'])
    // A limits test with no pane beyond (limits not known to the view) falls back to the primary pane.
    const q = chartPoint(5, { xbar: pane(10), r: pane(1) }, { rules: ['WE1'] })
    expect(panesOfRule(q, 'WE1', ['xbar', 'r'])).toEqual(['xbar'])
    expect(panesOfRule(q, 'cusum-upper', ['cusum'])).toEqual(['cusum'])
    // Both panes completed N1: the point lists it twice; each pane names it once.
    const both = point(3, 14, { limits: [8.5, 10, 11.5], rules: ['N1', 'N1'] })
    const mr = both.panes.mr as PanePoint
    both.panes.mr = { ...mr, statistic: 3.9 }
    const s = imr([both])
    expect(s.violations.map(markLabel)).toEqual(['N1'])
    expect(s.mr.violations.map(markLabel)).toEqual(['N1'])
  })

  it('p chart: limits that vary with the sample size are drawn point by point, a truncated LCL as no line', () => {
    const points = [
      chartPoint(0, { p: pane(0.05) }, { phase: 'baseline', n: 210 }),
      chartPoint(1, { p: pane(0.04) }, { phase: 'baseline', n: 200 }),
      chartPoint(2, { p: pane(0.06, [null, 0.05, 0.123]) }, { n: 80 }),
      chartPoint(3, { p: pane(0.02, [0.004, 0.05, 0.096]) }, { n: 200 }),
      chartPoint(4, { p: pane(0.09, [0.0038, 0.05, 0.0962]) }, { n: 210 }),
    ]
    const control: ControlLimitsView = {
      center: 0.05,
      sigma: 0,
      basis: { kind: 'estimated', count: 2, excluded: 0, firstTs: 0, lastTs: 1, method: 'pbar' },
      panes: { p: { center: 0.05, lcl: 0.0038, ucl: 0.0962 } },
    }
    const s = buildChartSeries(points, {
      type: 'p',
      panes: ['p'],
      alarm: { alertHigh: 0.08, actionHigh: 0.1 },
      control,
    })
    const p = s.panes[0] as PaneSeries
    // Baseline points get no borrowed limits where the judged points' limits vary: theirs would differ.
    expect(p.ucl).toEqual([null, null, 0.123, 0.096, 0.0962])
    expect(p.lcl).toEqual([null, null, null, 0.004, 0.0038])
    expect(p.cl).toEqual([null, null, 0.05, 0.05, 0.05])
    expect(s.n).toEqual([210, 200, 80, 200, 210])
    // The alarm limits judge the proportion: they are on the p pane, and 0.09 is beyond the alert limit.
    expect(p.alarm?.alertHigh).toEqual([0.08, 0.08, 0.08, 0.08, 0.08])
    expect(p.alarm?.beyondAlert).toEqual([null, null, null, null, 0.09])
    expect(p.alarm?.beyondAction).toEqual([null, null, null, null, null])
  })

  it('CUSUM: C⁺ upward and C⁻ downward against ±h, signals ringed on the sum that passed h', () => {
    const cusum = (y: number, upper: number, lower: number) => pane(y, [-4, 0, 4], { upper, lower })
    const points = [
      chartPoint(0, { cusum: cusum(0.2, 0, 0) }),
      chartPoint(1, { cusum: cusum(1.5, 1, 0) }),
      chartPoint(2, { cusum: cusum(2.5, 4.5, 0) }, { rules: ['cusum-upper'] }),
      chartPoint(3, { cusum: cusum(-3, 1, 2.5) }),
      chartPoint(4, { cusum: cusum(-2.5, 0, 4.5) }, { rules: ['cusum-lower'] }),
    ]
    const s = buildChartSeries(points, {
      type: 'cusum',
      panes: ['cusum'],
      alarm: { actionHigh: 1 },
      control: null,
    })
    const c = s.panes[0] as PaneSeries
    expect(c.kind).toBe('cusum')
    expect(c.value).toEqual([0, 1, 4.5, 1, 0])
    expect(c.lower).toEqual([0, 0, 0, -2.5, -4.5])
    expect(c.ucl).toEqual([4, 4, 4, 4, 4])
    expect(c.lcl).toEqual([-4, -4, -4, -4, -4])
    expect(c.cl).toEqual([0, 0, 0, 0, 0])
    expect(c.violation).toEqual([null, null, 4.5, null, null])
    expect(c.lowerViolation).toEqual([null, null, null, null, -4.5])
    expect(c.violations.map((v) => [v.index, v.value, markLabel(v)])).toEqual([
      [2, 4.5, 'CUSUM up'],
      [4, -4.5, 'CUSUM down'],
    ])
    // Alarm limits judge readings, not standardized sums: none on the CUSUM pane.
    expect(c.alarm).toBeNull()
    expect(c.baseline.every((v) => v === null)).toBe(true)
  })

  it('gives the alarm limits to the pane that plots what they judge, and to no X̄, EWMA or CUSUM pane', () => {
    expect(alarmPane('imr')).toBe('i')
    for (const t of ['p', 'np', 'c', 'u'] as const) expect(alarmPane(t)).toBe(t)
    for (const t of ['xbar-r', 'xbar-s', 'ewma', 'cusum'] as const) expect(alarmPane(t)).toBeNull()
    const ewma = buildChartSeries([chartPoint(0, { ewma: pane(10, [9, 10, 11]) })], {
      type: 'ewma',
      panes: ['ewma'],
      alarm: { actionHigh: 10.5 },
      control: null,
    })
    expect(ewma.panes[0]?.alarm).toBeNull()
  })

  it('knows every pane of every chart kind the engine has, and the alarm pane is one of them', () => {
    let checked = 0
    for (const type of CHART_TYPES) {
      let panes: readonly string[]
      try {
        panes = chartKind(type).panes
      } catch {
        continue // a kind not written yet
      }
      checked++
      for (const p of panes) expect(paneInfo(p).label, `${type} pane ${p}`).not.toBe(p)
      const on = alarmPane(type)
      if (on !== null) expect(panes).toContain(on)
      expect(CHART_NAMES[type]).toMatch(/chart$/)
    }
    expect(checked).toBeGreaterThan(0)
  })

  it('moves on by one where the indices start again (limits estimated anew), with a baseline band of its own', () => {
    const points = [
      point(7, 10, { phase: 'baseline' }),
      point(8, 10.1, { limits: [8.5, 10, 11.5] }),
      point(10, 10.2, { limits: [8.5, 10, 11.5] }),
      point(0, 11, { phase: 'baseline', ts: 1_700_000_100_000 }),
      point(1, 11.2, { phase: 'baseline', ts: 1_700_000_101_000 }),
    ]
    const s = imr(points)
    expect(s.x).toEqual([7, 8, 10, 11, 12])
    expect(s.restarts).toEqual([3])
    // The current limits are lent to the new baseline only: the old one was read against others.
    const lent = imr(points, {}, { ...control, panes: { i: { center: 11, lcl: 10, ucl: 12 } } })
    expect(lent.i.ucl).toEqual([null, 11.5, 11.5, 12, 12])
    expect(s.baselineRuns).toEqual([
      [0, 0],
      [3, 4],
    ])
  })

  it('takes the lines in force from the latest judged point of each pane', () => {
    const points = [
      chartPoint(0, { p: pane(0.05, [0.01, 0.05, 0.09]) }, { n: 300 }),
      chartPoint(1, { p: pane(0.06, [null, 0.05, 0.123]) }, { n: 80 }),
    ]
    const base: ControlLimitsView = {
      ...XBAR_CONTROL,
      panes: { p: { center: 0.05, lcl: 0.02, ucl: 0.08 } },
    }
    expect(latestControl(base, points)?.panes.p).toEqual({ center: 0.05, lcl: null, ucl: 0.123 })
    expect(latestControl(base, [])?.panes.p).toEqual({ center: 0.05, lcl: 0.02, ucl: 0.08 })
    expect(latestControl(null, points)).toBeNull()
    // A subgroup of one has no range: R's lines come from the point before, X̄'s from the latest.
    const xr = [
      chartPoint(0, { xbar: pane(10, [9.3, 10, 10.7]), r: pane(1, [null, 1.16, 2.46]) }),
      chartPoint(1, { xbar: pane(10, [8.5, 10, 11.5]), r: pane(null) }, { n: 1 }),
    ]
    expect(latestControl(XBAR_CONTROL, xr)?.panes).toEqual({
      xbar: { center: 10, lcl: 8.5, ucl: 11.5 },
      r: { center: 1.16, lcl: null, ucl: 2.46 },
    })
    // After a restart the old stream's limits are no longer in force: the current ones stand.
    const restarted = [
      ...points,
      chartPoint(0, { p: pane(0.05) }, { phase: 'baseline', ts: 1_800_000_000_000 }),
    ]
    expect(latestControl(base, restarted)?.panes.p).toEqual({ center: 0.05, lcl: 0.02, ucl: 0.08 })
  })

  it('appends a restarted stream (indices from 0 again, later times) but not a repeat', () => {
    const held = [point(40, 1), point(41, 1)]
    const restarted = point(0, 5, { ts: 1_700_000_500_000 })
    const next = appendPoints(held, [point(41, 9), restarted])
    expect(next.map((p) => p.index)).toEqual([40, 41, 0])
    expect(next[1]?.panes.i?.statistic).toBe(1)
    // A refetch after the restart returns both streams in time order: nothing is lost or doubled.
    expect(appendPoints([], [restarted, ...held]).map((p) => p.index)).toEqual([40, 41, 0])
  })

  it('draws over raw readings only what judges a reading', () => {
    const alarm = { actionHigh: 13 }
    expect(readingsLines('imr', alarm, control).map((l) => l.key)).toEqual([
      'action-high',
      'ucl',
      'cl',
      'lcl',
    ])
    expect(readingsLines('xbar-r', alarm, XBAR_CONTROL).map((l) => l.key)).toEqual(['action-high'])
    expect(readingsLines('cusum', alarm, XBAR_CONTROL).map((l) => l.key)).toEqual(['action-high'])
    // p and u: readings are counts, the limits judge a proportion; nothing fits them.
    expect(readingsLines('p', { actionHigh: 0.1 }, null)).toEqual([])
    const c: ControlLimitsView = {
      ...XBAR_CONTROL,
      panes: { c: { center: 4, lcl: null, ucl: 10 } },
    }
    expect(readingsLines('c', alarm, c).map((l) => `${l.key}=${l.value}`)).toEqual([
      'action-high=13',
      'ucl=10',
      'cl=4',
    ])
    expect(limitLines({}, XBAR_CONTROL, 'r').map((l) => l.key)).toEqual(['ucl', 'cl'])
  })
})

// ── chart header ────────────────────────────────────────────────────────────────────────────

describe('chart header in words', () => {
  const view = (chart: Partial<CharacteristicView['chart']>, st: Partial<LiveState> = {}) =>
    characteristic('x', 'Plant', 'normal', {
      decimals: 1,
      chart: { ...characteristic('x', 'Plant').chart, ...chart },
      state: state('normal', st),
    })

  it('names an X̄-R chart, its subgroups, baseline, rules and σ estimate', () => {
    const v = view({
      type: 'xbar-r',
      subgroup: { by: 'count', size: 5 },
      panes: ['xbar', 'r'],
      rules: ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8'],
      control: {
        ...XBAR_CONTROL,
        basis: { ...XBAR_CONTROL.basis, count: 25 } as ControlLimitsView['basis'],
      },
    })
    expect(chartHeader(v)).toBe(
      'X̄-R chart · subgroups of 5 · baseline 25 subgroups · rules N1–N8 · σ from R̄, estimated from 25 subgroups, 1 left out',
    )
  })

  it('counts the baseline while it is collected', () => {
    const v = view(
      {
        type: 'xbar-s',
        subgroup: { by: 'count', size: 4 },
        panes: ['xbar', 's'],
        rules: ['N1', 'N2'],
      },
      { status: 'baseline', baseline: { have: 12, need: 25 } },
    )
    expect(chartHeader(v)).toBe(
      'X̄-S chart · subgroups of 4 · baseline 12 of 25 subgroups · rules N1, N2',
    )
  })

  it('words given parameters, attributes, EWMA and CUSUM', () => {
    const given: ControlLimitsView = { center: 500, sigma: 1, basis: { kind: 'given' }, panes: {} }
    expect(chartHeader(view({ control: given }))).toBe(
      'I-MR chart · individuals · rules N1, N2 · μ 500.0 and σ 1.00 given',
    )
    const p: ControlLimitsView = {
      center: 0.05,
      sigma: 0,
      basis: { kind: 'estimated', count: 50, excluded: 0, firstTs: 0, lastTs: 1, method: 'pbar' },
      panes: {},
    }
    expect(
      chartHeader(view({ type: 'p', panes: ['p'], baseline: { count: 50 }, control: p })),
    ).toBe(
      'p chart · one point per sample · baseline 50 samples · rules N1, N2 · p̄ estimated from 50 samples',
    )
    const cusum: ControlLimitsView = {
      center: 10,
      sigma: 0.2,
      basis: { kind: 'estimated', count: 25, excluded: 0, firstTs: 0, lastTs: 1, method: 'mr' },
      panes: { cusum: { center: 0, lcl: -4, ucl: 4 } },
    }
    expect(chartHeader(view({ type: 'cusum', panes: ['cusum'], control: cusum }))).toBe(
      'CUSUM chart · individuals · baseline 25 readings · signals when C⁺ or C⁻ passes h = 4σ · σ from M̄R, estimated from 25 readings',
    )
    expect(
      chartHeader(
        view({ type: 'ewma', panes: ['ewma'], subgroup: { by: 'time', windowMs: 30_000 } }),
      ),
    ).toBe(
      'EWMA chart · a subgroup per 30 s · baseline 25 subgroups · points beyond the limits (N1)',
    )
  })

  it('ticks a value axis only where its labels are exact at the decimals shown', () => {
    const steps = valueSteps(2)
    expect(steps.slice(0, 4)).toEqual([0.01, 0.02, 0.05, 0.1])
    expect(steps).not.toContain(0.025)
    expect(valueSteps(0)[0]).toBe(1)
  })

  it('lists rules with runs of three or more joined by a dash', () => {
    expect(rulesList(['N1', 'N2'])).toBe('N1, N2')
    expect(rulesList(['N5', 'N1', 'N3', 'N2', 'WE4', 'WE1', 'WE2', 'WE3'])).toBe(
      'N1–N3, N5, WE1–WE4',
    )
    expect(rulesList([])).toBe('')
  })

  it('words subgroups and durations', () => {
    expect(subgroupWords('xbar-r', { by: 'key' })).toMatch(/lot/)
    expect(subgroupWords('imr', { by: 'count', size: 1 })).toBe('individuals')
    expect(subgroupWords('c', { by: 'count', size: 1 })).toBe('one point per inspection')
    expect(durationWords(500)).toBe('500 ms')
    expect(durationWords(300_000)).toBe('5 min')
    expect(durationWords(5_400_000)).toBe('1 h 30 min')
  })
})

// ── rules in words ──────────────────────────────────────────────────────────────────────────

describe('rules and CUSUM signals in words', () => {
  const ALL: ViolationRule[] = [
    ...NELSON_RULES,
    ...WESTERN_ELECTRIC_RULES,
    'cusum-upper',
    'cusum-lower',
  ]

  it('reads "CUSUM up/down" for the signals, and the rule id otherwise', () => {
    expect(ruleShort('cusum-upper')).toBe('CUSUM up')
    expect(ruleShort('cusum-lower')).toBe('CUSUM down')
    expect(ruleShort('WE3')).toBe('WE3')
    expect(causeWords('cusum-lower')).toBe('OUT OF CONTROL · CUSUM down')
    expect(causeLabel('cusum-upper')).toBe('CUSUM up (out of control)')
    // A CUSUM signal's value is the sum that passed h, in σ units, not a reading.
    expect(causeValueText('cusum-upper', 4.518, 1, '°C')).toBe('C⁺ 4.52σ')
    expect(causeValueText('cusum-lower', 17.04, 1, '°C')).toBe('C⁻ 17.04σ')
    expect(causeValueText('action-high', 506.51, 1, 'g')).toBe('506.5 g')
    // A rule on a pane that plots no reading says which statistic the value is.
    expect(causeValueText('N1', 6.6, 1, 'g', 'mr')).toBe('MR 6.6 g')
    expect(causeValueText('N1', 500.4, 1, 'g', 'xbar')).toBe('X̄ 500.4 g')
    expect(causeValueText('N2', 500.4, 1, 'g', 'i')).toBe('500.4 g')
  })

  it('names the statistic a limits test judged on an EWMA, MR, R or S pane (issue 7 §7)', () => {
    expect(describeRuleOn('N1', 'ewma')).toBe('N1: the EWMA z beyond its limit')
    expect(describeRuleOn('WE1', 'mr')).toBe('WE1: a moving range beyond its limit')
    expect(describeRuleOn('N1', 'i')).toBe('N1: a point beyond 3σ from the centre line')
    expect(describeRuleOn('N2', 'ewma')).toBe(describeRule('N2'))
    expect(describeRuleOn('cusum-upper', 'cusum')).toMatch(/^CUSUM up: /)
    expect(describeRuleOn('N1', null)).toBe(describeRule('N1'))
  })

  it('says what every rule and signal means', () => {
    const meanings = ALL.map(describeRule)
    for (const [k, m] of meanings.entries()) {
      expect(m.startsWith(`${ruleShort(ALL[k] as ViolationRule)}: `)).toBe(true)
      expect(m).not.toMatch(/: run rule$/)
    }
    expect(describeRule('cusum-upper')).toMatch(/C⁺.*h.*up/)
  })

  it('keeps an out-of-control tile label short for any mix of rules', () => {
    expect(statusLabel({ limits: {}, state: state('spc', { rules: ['cusum-upper'] }) }).text).toBe(
      'OUT OF CONTROL · CUSUM up',
    )
    expect(rulesShort(['cusum-lower', 'cusum-upper'])).toBe('CUSUM up/down')
    expect(rulesShort(['N1', 'N2', 'N5'])).toBe('N1 N2 N5')
    expect(rulesShort(['N1', 'N2', 'N5', 'N6', 'WE4'])).toBe('N1 N2 +3')
    expect(rulesShort(['N2', 'N2'])).toBe('N2')
    for (const r of ALL) {
      expect(statusLabel({ limits: {}, state: state('spc', { rules: [r] }) }).text).toBe(
        `OUT OF CONTROL · ${ruleShort(r)}`,
      )
    }
  })
})

// ── histogram ───────────────────────────────────────────────────────────────────────────────

describe('capability histogram', () => {
  it('bins readings of a known resolution with no value on an edge', () => {
    // 0.1 resolution: 9.5 … 10.5
    const values = Array.from(
      { length: 200 },
      (_, k) => Math.round((10 + Math.sin(k * 1.7) * 0.5) * 10) / 10,
    )
    const h = binReadings(values, { decimals: 1 }) as NonNullable<ReturnType<typeof binReadings>>
    expect(h.n).toBe(200)
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(200)
    expect(h.edges).toHaveLength(h.counts.length + 1)
    // The width is a whole number of 0.1 steps; edges lie half a step off the values.
    expect(Math.abs(h.width / 0.1 - Math.round(h.width / 0.1))).toBeLessThan(1e-9)
    for (const e of h.edges)
      expect(Math.abs(((e * 10) % 1) - 0.5) < 1e-6 || Math.abs(((e * 10) % 1) + 0.5) < 1e-6).toBe(
        true,
      )
    // Each value counted in the bin around it.
    for (const v of [9.5, 10, 10.5]) {
      const k = h.edges.findIndex((e, i) => v >= e && v < (h.edges[i + 1] as number))
      expect(k).toBeGreaterThanOrEqual(0)
    }
    const expected = h.counts.map(
      (_, k) =>
        values.filter((v) => v >= (h.edges[k] as number) && v < (h.edges[k + 1] as number)).length,
    )
    expect(h.counts).toEqual(expected)
  })

  it('bins continuous values into about √n nice bins, skipping non-finite ones', () => {
    const values = [
      ...Array.from({ length: 100 }, (_, k) => 3 + k * 0.0101),
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]
    const h = binReadings(values) as NonNullable<ReturnType<typeof binReadings>>
    expect(h.n).toBe(100)
    expect(h.counts.length).toBeGreaterThanOrEqual(5)
    expect(h.counts.length).toBeLessThanOrEqual(15)
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(100)
    expect(h.edges[0]).toBeLessThanOrEqual(3)
    expect(h.edges.at(-1)).toBeGreaterThan(3 + 99 * 0.0101)
    expect(binReadings([])).toBeNull()
    expect(binReadings([Number.NaN])).toBeNull()
    expect(binReadings([5, 5, 5])?.counts).toEqual([3])
    expect([0.013, 0.18, 0.24, 0.7, 4].map(niceStep)).toEqual([0.02, 0.2, 0.25, 1, 5])
  })

  it('scales a normal curve to the histogram: its area is the number of readings', () => {
    const n = 400
    const width = 0.05
    const curve = normalCurve(10, 0.2, { n, width }, 10 - 1.6, 10 + 1.6, 640)
    const dx = (curve.x[1] as number) - (curve.x[0] as number)
    const area = curve.y.reduce((a, b) => a + b, 0) * dx
    expect(area / width).toBeCloseTo(n, 0)
    // The peak is at the mean: n · width · φ(0) / σ.
    const peak = Math.max(...curve.y)
    expect(curve.x[curve.y.indexOf(peak)]).toBeCloseTo(10, 6)
    expect(peak).toBeCloseTo((n * width * normalPdf(0)) / 0.2, 9)
    expect(normalCurve(10, null, { n, width }, 9, 11).x).toEqual([])
    expect(normalCurve(10, 0, { n, width }, 9, 11).x).toEqual([])
  })

  it('shows the specification limits and ±3.5σ even when the data lie far inside them', () => {
    const h = binReadings([10, 10.1, 10.2], { decimals: 1 }) as NonNullable<
      ReturnType<typeof binReadings>
    >
    const [lo, hi] = histogramExtent(h, [9, 11.5, null], { mean: 10.1, sigmas: [0.1, 0.5] })
    expect(lo).toBeLessThan(9)
    expect(hi).toBeGreaterThan(11.5)
    expect(lo).toBeLessThanOrEqual(10.1 - 3.5 * 0.5)
  })
})

// ── capability ──────────────────────────────────────────────────────────────────────────────

function capabilityView(extra: Partial<CapabilityView> = {}): CapabilityView {
  return {
    n: 120,
    mean: 10.02,
    sigmaWithin: 0.1,
    sigmaOverall: 0.12,
    lsl: 9.7,
    usl: 10.3,
    target: 10,
    cp: 1,
    cpk: 0.9333,
    cpl: 1.0667,
    cpu: 0.9333,
    cpm: 0.9,
    pp: 0.8333,
    ppk: 0.7778,
    ppl: 0.8889,
    ppu: 0.7778,
    cpLower95: 0.8731,
    cpUpper95: 1.1266,
    cpkLower95: 0.8047,
    cpkUpper95: 1.062,
    expectedPpm: 12_345.6,
    expectedPpmWithin: 2_700.4,
    observedPpm: 8333.33,
    ...extra,
  }
}

describe('capability formatting', () => {
  it('shows parts per million legibly at every size', () => {
    expect(formatPpm(0)).toBe('0')
    expect(formatPpm(0.0034)).toBe('< 0.01')
    expect(formatPpm(3.417)).toBe('3.42')
    expect(formatPpm(63.42)).toBe('63.4')
    expect(formatPpm(1350.2)).toBe('1\u2009350')
    expect(formatPpm(66_807.2)).toBe('66\u2009807')
    expect(formatPpm(1_000_000)).toBe('1\u2009000\u2009000')
    expect(formatPpm(null)).toBe('—')
    expect(formatPpm(Number.NaN)).toBe('—')
  })

  it('gives Cp and Cpk their 95% intervals and every index two decimals', () => {
    const cells = capabilityIndices(capabilityView())
    expect(cells.map((c) => c.label)).toEqual([
      'Cp',
      'Cpk',
      'Cpl',
      'Cpu',
      'Cpm',
      'Pp',
      'Ppk',
      'Ppl',
      'Ppu',
    ])
    expect(cells.find((c) => c.key === 'cpk')).toMatchObject({
      value: '0.93',
      interval: '0.80 to 1.06',
      missing: null,
    })
    expect(cells.find((c) => c.key === 'cp')?.interval).toBe('0.87 to 1.13')
    expect(cells.find((c) => c.key === 'ppk')).toMatchObject({ value: '0.78', interval: null })
    expect(formatInterval(null, 1)).toBeNull()
  })

  it('says why an index the specification does not define is missing', () => {
    const oneSided = capabilityView({
      lsl: null,
      cp: null,
      cpl: null,
      pp: null,
      ppl: null,
      cpm: null,
      target: null,
      cpLower95: null,
      cpUpper95: null,
    })
    const cells = Object.fromEntries(capabilityIndices(oneSided).map((c) => [c.key, c]))
    expect(cells.cp).toMatchObject({ value: '—', missing: 'needs LSL and USL', interval: null })
    expect(cells.cpl?.missing).toBe('no LSL')
    expect(cells.ppl?.missing).toBe('no LSL')
    expect(cells.cpm?.missing).toBe('needs a target')
    expect(cells.cpu?.missing).toBeNull()
    const noWithin = capabilityIndices(capabilityView({ sigmaWithin: null, cpk: null }))
    expect(noWithin.find((c) => c.key === 'cpk')?.missing).toBe('no within σ')
  })

  const verdict = (
    v: Verdict['verdict'],
    words: string,
    extra: Partial<Verdict> = {},
  ): Verdict => ({
    verdict: v,
    words,
    threshold: 1.33,
    minReadings: 25,
    signalled: false,
    ...extra,
  })

  it('shows the gateway’s verdict and threshold, never one of its own from Cpk', () => {
    // Cpk 0.93 in the view, yet the gateway says capable (against its threshold of 0.9): its word counts.
    const capable = verdictDisplay(verdict('capable', 'capable', { threshold: 0.9 }), 120)
    expect(capable).toMatchObject({
      verdict: 'capable',
      words: 'capable',
      tone: 'capable',
      greyed: false,
      hint: null,
    })
    expect(capable?.criteria).toBe(
      'Capable needs a chart in statistical control, Cpk and Ppk ≥ 0.90 and at least 25 readings.',
    )
    const not = verdictDisplay(verdict('not-capable', 'not capable', { threshold: 1.67 }), 120)
    expect(not).toMatchObject({ tone: 'not-capable', greyed: false })
    expect(not?.criteria).toContain('≥ 1.67')
    expect(verdictDisplay(null, 120)).toBeNull()
  })

  it('AIAG/Minitab: a chart that signalled greys the indices and says they are not a prediction', () => {
    const words = 'not in statistical control — capability indices are not a prediction'
    const d = verdictDisplay(verdict('not-in-control', words, { signalled: true }), 120)
    expect(d).toMatchObject({ verdict: 'not-in-control', words, tone: 'caveat', greyed: true })
    expect(d?.hint).toMatch(/^Greyed: the chart signalled .*predict nothing\.$/)
  })

  it('too few readings: greyed, saying how many are needed and how many are in', () => {
    const d = verdictDisplay(
      verdict('too-few-readings', 'too few readings', { minReadings: 50 }),
      30,
    )
    expect(d).toMatchObject({ tone: 'caveat', greyed: true })
    expect(d?.hint).toBe('Greyed: 50 readings against the frozen limits are needed, 30 so far.')
    expect(readingsNeeded(1, null)).toBe('1 reading against the frozen limits is needed.')
  })

  it('says when capability will come, and nothing without a specification', () => {
    const base = characteristic('x', 'Plant')
    const spec = { lsl: 9.7, usl: 10.3, target: null }
    expect(capabilityPending(base)).toBeNull()
    expect(capabilityPending({ ...base, specLimits: spec })).toBe(
      'Capability after the baseline, once 25 readings are judged against the frozen limits.',
    )
    const frozen = { ...base.chart, control }
    expect(capabilityPending({ ...base, chart: frozen, specLimits: spec })).toBe(
      'Capability after 25 readings against the frozen limits.',
    )
    expect(
      capabilityPending({ ...base, chart: frozen, specLimits: spec, capability: capabilityView() }),
    ).toBeNull()
    expect(
      capabilityPending({ ...base, chart: { ...base.chart, type: 'p' }, specLimits: spec }),
    ).toMatch(/attributes/)
  })

  it('waits for as many readings as the gateway does, its configured minimum first', () => {
    expect(MIN_CAPABILITY_READINGS).toBe(MIN_CAPABILITY_N)
    const base = characteristic('x', 'Plant')
    const frozen = { ...base.chart, control }
    const v = {
      ...base,
      chart: frozen,
      specLimits: { lsl: 9.7, usl: 10.3, target: null },
      capabilityVerdict: {
        verdict: 'too-few-readings' as const,
        words: 'too few readings',
        threshold: 1.33,
        minReadings: 60,
        signalled: false,
      },
    }
    expect(capabilityPending(v)).toBe('Capability after 60 readings against the frozen limits.')
  })
})

// ── limit changes ───────────────────────────────────────────────────────────────────────────

describe('limit changes', () => {
  const collecting = characteristic('x', 'Plant', 'baseline')
  const frozen = {
    ...collecting,
    chart: { ...collecting.chart, control: { ...control, basis: XBAR_CONTROL.basis } },
  }
  const given = { ...collecting, chart: { ...collecting.chart, control } }

  it('offers the acts to quality managers and admins only', () => {
    expect(baselineActions(collecting, 'viewer')).toEqual([])
    expect(baselineActions(collecting, 'operator')).toEqual([])
    expect(baselineActions(collecting, 'quality-engineer')).toEqual([])
    expect(baselineActions(collecting, null)).toEqual([])
    expect(baselineActions(collecting, 'quality-manager').map((a) => a.label)).toEqual([
      'End the baseline now',
      'Estimate the limits anew',
    ])
    expect(baselineActions(frozen, 'admin').map((a) => a.action)).toEqual(['restart'])
    // Given limits are changed in the configuration, not here.
    expect(baselineActions(given, 'admin')).toEqual([])
  })

  it('asks for a reason of at least three characters', () => {
    expect(reasonProblem('  ab  ')).toMatch(/at least 3/)
    expect(reasonProblem('')).toMatch(/at least 3/)
    expect(reasonProblem('new gauge')).toBeNull()
    expect(reasonProblem('x'.repeat(2001))).toMatch(/2000/)
  })

  it('sums up the limits before and after, newest change first', () => {
    expect(limitsSummary(null, 'i', 1)).toBe('none (baseline)')
    expect(limitsSummary(control, 'i', 1)).toBe('CL 10.0 · UCL 11.5 · LCL 8.5 · σ 0.50')
    expect(limitsSummary(XBAR_CONTROL, 'r', 2)).toBe('CL 1.16 · UCL 2.46 · σ 0.500')
    const change = (id: number, ts: number): LimitChangeView => ({
      id,
      characteristic: 'x',
      ts,
      action: 'restart',
      reason: 'r',
      actor: 'engineer',
      before: null,
      after: null,
    })
    expect(
      orderLimitChanges([change(1, 10), change(3, 30), change(2, 30)]).map((c) => c.id),
    ).toEqual([3, 2, 1])
  })
})

// ── issue 7: σ per pane, CUSUM range, NC chart ──────────────────────────────────────────────

describe('σ of each pane (issue 7 §4: every pane reports the σ its limits use)', () => {
  it('takes each pane’s σ from the latest judged point of the latest stream', () => {
    const points = [
      chartPoint(0, { xbar: pane(10.1, [9, 10, 11], { sigma: 0.9 }), r: pane(1) }),
      chartPoint(1, {
        xbar: pane(10, [9.4, 10, 10.6], { sigma: 0.2 }),
        r: pane(1.2, [null, 1.16, 2.46], { sigma: 0.43 }),
      }),
      chartPoint(2, { xbar: pane(10.2), r: pane(0.9) }, { phase: 'baseline' }),
    ]
    expect(latestSigmas(points, ['xbar', 'r'])).toEqual({ xbar: 0.2, r: 0.43 })
    // Limits estimated anew: the σ before the restart is no longer in force.
    const restarted = [
      ...points.slice(0, 2),
      chartPoint(0, { xbar: pane(10), r: pane(1) }, { phase: 'baseline' }),
    ]
    expect(latestSigmas(restarted, ['xbar', 'r'])).toEqual({ xbar: null, r: null })
    expect(latestSigmas([], ['i', 'mr'])).toEqual({ i: null, mr: null })
  })

  it('limits are centre ± L·σ: a p chart’s σ varies with n like its limits, the latest is shown', () => {
    // p̄ = 0.05: σ = √(p̄(1 − p̄)/n), limits p̄ ± 3σ.
    const sigma = (n: number) => Math.sqrt((0.05 * 0.95) / n)
    const at = (index: number, n: number) =>
      chartPoint(
        index,
        {
          p: pane(0.04, [Math.max(0, 0.05 - 3 * sigma(n)), 0.05, 0.05 + 3 * sigma(n)], {
            sigma: sigma(n),
          }),
        },
        { n },
      )
    const points = [at(0, 80), at(1, 200)]
    const got = latestSigmas(points, ['p'])
    expect(got.p).toBeCloseTo(0.015411, 6)
    const last = points[1]?.panes.p as PanePoint
    expect((last.ucl as number) - (last.center as number)).toBeCloseTo(3 * (got.p as number), 12)
    expect(sigmaWords('p', 'p', got.p, 2)).toBe('σ 0.015')
  })

  it('words a σ with the pane’s decimals, and at least two significant digits', () => {
    expect(sigmaWords('xbar-r', 'xbar', 0.0213, 3)).toBe('σ 0.021')
    expect(sigmaWords('xbar-r', 'r', 0.0042, 3)).toBe('σ 0.0042')
    expect(sigmaWords('imr', 'i', 1.234, 1)).toBe('σ 1.2')
    expect(sigmaWords('cusum', 'cusum', 1, 1)).toBe('σ 1.00')
    // CUSUM is in σ units: its σ is 1, said with what one σ (of a mean of n) is in the unit.
    expect(sigmaWords('cusum', 'cusum', 1, 2, { sigma: 0.2, n: 1, unit: '°C' })).toBe(
      'σ 1.00 = 0.200 °C',
    )
    expect(sigmaWords('cusum', 'cusum', 1, 1, { sigma: 2, n: 4, unit: '' })).toBe('σ 1.00 = 1.00')
    expect(sigmaWords('imr', 'i', null, 2)).toBeNull()
    expect(sigmaDecimals('imr', 'i', 1e-12, 2)).toBe(9)
  })
})

describe('readings against the alarm limits (issue 7 §7: the EWMA page)', () => {
  it('marks readings strictly beyond an alert or an action limit, as the rules classify them', () => {
    const alarm: AlarmLimits = { alertHigh: 404, actionHigh: 406, alertLow: 396 }
    expect(alarmMarks([400, 404, 404.1, 406, 406.5, 395, null], alarm)).toEqual({
      beyondAlert: [null, null, 404.1, 406, null, 395, null],
      beyondAction: [null, null, null, null, 406.5, null, null],
    })
    expect(alarmMarks([1, 2], {})).toEqual({
      beyondAlert: [null, null],
      beyondAction: [null, null],
    })
  })
})

describe('CUSUM y-range (issue 7 §6: ±h stays legible, off-scale points marked)', () => {
  const margin = (lo: number, hi: number) => CUSUM_MARGIN * (hi - lo)

  it('always holds 0 and ±h, with a margin, when the sums are small', () => {
    const r = cusumRange([0, 0.5, 1.2, 0], [0, -0.3, 0, -2], 4)
    expect(r.max).toBeCloseTo(4 + margin(-4, 4), 12)
    expect(r.min).toBeCloseTo(-4 - margin(-4, 4), 12)
    expect(r.clipped).toBe(false)
    expect(r.offScale).toEqual([])
  })

  it('follows the data beyond h up to the clip', () => {
    const r = cusumRange([0, 5, 9.5], [0, 0, -1], 4)
    expect(r.max).toBeCloseTo(9.5 + margin(-4, 9.5), 12)
    expect(r.min).toBeCloseTo(-4 - margin(-4, 9.5), 12)
    expect(r.offScale).toEqual([])
  })

  it('clips a sum that climbs after a lasting shift (C⁺ to 285σ) and lists each point off scale', () => {
    const upper = [0, 3, 8, 20, 60, 285]
    const lower = [0, 0, 0, 0, 0, 0]
    const r = cusumRange(upper, lower, 4)
    const hi = CUSUM_CLIP_H * 4
    expect(r.max).toBeCloseTo(hi + margin(-4, hi), 12)
    // ±h keeps at least a third of the height drawn.
    expect(8 / (r.max - r.min)).toBeGreaterThan(1 / 3)
    expect(r.clipped).toBe(true)
    expect(r.offScale).toEqual([
      { at: 3, value: 20, side: 'up' },
      { at: 4, value: 60, side: 'up' },
      { at: 5, value: 285, side: 'up' },
    ])
  })

  it('clips C⁻ drawn downward the same way, each side on its own', () => {
    const r = cusumRange([0, 1, 2], [0, -30, -7], 5)
    expect(r.min).toBeCloseTo(-15 - margin(-15, 5), 12)
    expect(r.max).toBeCloseTo(5 + margin(-15, 5), 12)
    expect(r.offScale).toEqual([{ at: 1, value: -30, side: 'down' }])
  })

  it('without h (no limits yet) the range is the data’s and nothing is clipped', () => {
    const r = cusumRange([0, 50], [0, -1], null)
    expect(r.max).toBeCloseTo(50 + margin(-1, 50), 12)
    expect(r.offScale).toEqual([])
    expect(cusumRange([], [], null)).toMatchObject({ min: -1 - 0.16, max: 1 + 0.16 })
    expect(latestH([4, 4, null])).toBe(4)
    expect(latestH([null])).toBeNull()
  })
})

describe('nonconformance chart (issue 7 §7: the judged pane, its trigger, time-proportional)', () => {
  const T = 1_700_000_000_000
  const imrControl: ControlLimitsView = {
    center: 500,
    sigma: 1,
    basis: { kind: 'given' },
    panes: { i: { center: 500, lcl: 497, ucl: 503 }, mr: { center: 1.128, lcl: null, ucl: 3.686 } },
  }
  const alarm: AlarmLimits = { alertHigh: 503, actionHigh: 505 }
  function view(
    trigger: Partial<NonconformanceView['trigger']>,
    control: ControlLimitsView | null = imrControl,
  ): NonconformanceView {
    return {
      ...nc(1, T),
      trigger: {
        ts: T,
        value: 506,
        limit: 505,
        rule: null,
        pane: null,
        runLength: null,
        ...trigger,
      },
      limitsInForce: { alarm, control },
      readings: [
        { ts: T - 2000, value: 500 },
        { ts: T, value: 506 },
        { ts: T + 5000, value: 501 },
      ],
      history: [],
      workflow: {
        status: 'open',
        severity: null,
        owner: null,
        dueAt: null,
        overdue: false,
        containment: [],
        rootCause: null,
        affectedLots: [],
        disposition: null,
        capas: [],
        closedAt: null,
        reopened: 0,
        recurrenceOf: null,
        lotsSeen: [],
        signatures: [],
        comments: [],
        attachments: [],
      },
    }
  }

  it('an alarm-limit trigger is read on the readings, against the lines that judge a reading', () => {
    const plan = ncChartPlan(view({}), 'imr', 1)
    expect(plan.source).toBe('readings')
    expect(plan.heading).toBe('Readings around the trigger')
    expect(plan.lines.map((l) => l.key)).toEqual(['action-high', 'alert-high', 'ucl', 'cl', 'lcl'])
    expect(judgesStatistic(view({}).trigger)).toBe(false)
    // N2 on the individuals judged the readings themselves.
    expect(ncChartPlan(view({ rule: 'N2', pane: 'i', limit: null }), 'imr', 1).source).toBe(
      'readings',
    )
  })

  it('a rule on the moving range draws the moving ranges against the MR limits', () => {
    const v = view({ rule: 'N1', pane: 'mr', value: 4.8, limit: 3.686 })
    const plan = ncChartPlan(v, 'imr', 1)
    expect(plan).toMatchObject({
      source: 'pane',
      pane: 'mr',
      heading: 'Moving range around the trigger',
    })
    expect(plan.lines).toEqual([
      { key: 'ucl', label: 'UCL', value: 3.686 },
      { key: 'cl', label: 'CL', value: 1.128 },
    ])
    expect(triggerLimitWords(v.trigger, 1)).toBe('past 3.7')
  })

  it('an EWMA trigger without the pane’s limits in force falls back to the trigger’s limit', () => {
    const v = view({ rule: 'N1', pane: 'ewma', value: 402.9, limit: 402.4 }, null)
    const plan = ncChartPlan(v, 'ewma', 1)
    expect(plan.source).toBe('pane')
    expect(plan.heading).toBe('Exponentially weighted moving average (EWMA) around the trigger')
    expect(plan.lines).toEqual([{ key: 'ucl', label: 'UCL', value: 402.4 }])
    const below = ncChartPlan(
      view({ rule: 'N1', pane: 'ewma', value: 397, limit: 397.6 }, null),
      'ewma',
      1,
    )
    expect(below.lines).toEqual([{ key: 'lcl', label: 'LCL', value: 397.6 }])
  })

  it('a CUSUM signal plots its side’s sum against h, with its run', () => {
    const control: ControlLimitsView = {
      center: 50,
      sigma: 1,
      basis: { kind: 'given' },
      panes: { cusum: { center: 0, lcl: -4, ucl: 4 } },
    }
    const v = view(
      { rule: 'cusum-lower', pane: 'cusum', value: 4.6, limit: 4, runLength: 3 },
      control,
    )
    const plan = ncChartPlan(v, 'cusum', 1)
    expect(plan).toMatchObject({ source: 'pane', pane: 'cusum', decimals: 2 })
    expect(plan.heading).toBe('C⁻ (in σ) around the signal')
    expect(plan.lines).toEqual([{ key: 'ucl', label: 'h', value: 4 }])
    expect(cusumSide('cusum-upper')).toBe('C⁺')
    expect(triggerLimitWords(v.trigger, 1)).toBe('past h = 4.00σ')
    expect(runWords(v.trigger)).toBe('run of 3 points since C⁻ left 0')
    expect(runWords(view({}).trigger)).toBeNull()
    const points = [0, 1, 2, 3, 4].map((k) =>
      chartPoint(
        10 + k,
        { cusum: pane(-1.5, [-4, 0, 4], { upper: 0, lower: [0, 0.8, 2.1, 3.2, 4.6][k] }) },
        { ts: T - 4000 + k * 1000 },
      ),
    )
    expect(paneValues(points, 'cusum', 'cusum-lower').map((p) => p.value)).toEqual([
      0, 0.8, 2.1, 3.2, 4.6,
    ])
    expect(paneValues(points, 'cusum', 'cusum-upper').map((p) => p.value)).toEqual([0, 0, 0, 0, 0])
    // Three points ending at the trigger's: from index 12 to 14.
    expect(runSpan(points, v.trigger)).toEqual({ from: T - 2000, to: T })
    expect(runSpan(points, { ts: T, runLength: null })).toBeNull()
  })

  it('heads the occurrences with what the trigger judged', () => {
    expect(occurrenceHeading({ rule: null, pane: null }, 'g')).toEqual({ name: 'Value', unit: 'g' })
    expect(occurrenceHeading({ rule: 'N2', pane: 'i' }, 'g')).toEqual({ name: 'Value', unit: 'g' })
    expect(occurrenceHeading({ rule: 'N1', pane: 'ewma' }, 'L')).toEqual({ name: 'z', unit: 'L' })
    expect(occurrenceHeading({ rule: 'N1', pane: 'mr' }, 'mm')).toEqual({ name: 'MR', unit: 'mm' })
    expect(occurrenceHeading({ rule: 'N1', pane: 'p' }, '')).toEqual({ name: 'p', unit: '' })
    expect(occurrenceHeading({ rule: 'cusum-lower', pane: 'cusum' }, 'N')).toEqual({
      name: 'C⁻',
      unit: 'σ',
    })
  })

  it('fetches the chart over the readings’ span and rings the reading that completed the point', () => {
    expect(ncWindow(view({}))).toEqual({ from: T - 2000, to: T + 5000 })
    const rule = view({ rule: 'N1', pane: 'mr', value: 4.8 }).trigger
    expect(isTriggerReading({ ts: T, value: 506 }, rule)).toBe(true)
    expect(isTriggerReading({ ts: T + 1, value: 506 }, rule)).toBe(false)
    const limit = view({}).trigger
    expect(isTriggerReading({ ts: T, value: 506 }, limit)).toBe(true)
    expect(isTriggerReading({ ts: T, value: 505.9 }, limit)).toBe(false)
    // Statistics without a value (the first moving range) are left out.
    expect(paneValues([point(0, 500), point(1, 503)], 'mr', 'N1')).toEqual([
      { ts: 1_700_000_001_000, value: 0.5 },
    ])
  })
})
