import { type AlarmLimits, classifyLimits, type LimitZone, limitOfZone } from './alarm-limits.ts'
import {
  addToCapability,
  type Capability,
  type CapabilitySpec,
  type CapabilityState,
  capabilityOf,
  initialCapabilityState,
} from './capability.ts'
import {
  type ChartEvent,
  type ChartState,
  closeChart,
  freezeChart,
  initChart,
  stepChart,
} from './charts/index.ts'
import { ATTRIBUTES_CHARTS, type ChartSpec, type ChartType } from './spec.ts'
import type { ChartPoint, Observation, PanePoint, ProcessLimits, ViolationRule } from './types.ts'

/**
 * Everything judged about one characteristic: its control chart and its alert/action limits.
 * Pure: `evaluate(spec, state, observation)` returns the next state and what happened;
 * `tick(spec, state, now)` closes the subgroups whose time window has ended.
 */
export interface CharacteristicSpec {
  chart: ChartSpec
  limits: AlarmLimits
  /** Specification limits: capability is computed against them (variables charts). */
  specLimits?: CapabilitySpec | undefined
}

export interface CharacteristicState {
  chart: ChartState
  zone: LimitZone
  /** Rules the latest chart point completed: the onset of a violation is a rule not flagged before. */
  flagged: ViolationRule[]
  /** Readings since the limits froze, for process capability against the chart's σ. */
  capability: CapabilityState
}

/**
 * Process capability so far: the readings since the chart's limits froze against the chart's
 * within σ; null without specification limits, for attributes charts, or until enough data.
 */
export function characteristicCapability(
  spec: CharacteristicSpec,
  state: CharacteristicState,
): Capability | null {
  if (!spec.specLimits || ATTRIBUTES_CHARTS.has(spec.chart.type)) return null
  return capabilityOf(state.capability, state.chart.limits?.sigma ?? null, spec.specLimits)
}

/** Tile colour of a characteristic, most severe first. */
export type Status = 'action' | 'alert' | 'spc' | 'normal' | 'baseline' | 'no-data'

export type LimitCause = Exclude<LimitZone, 'normal'>
export type Cause = LimitCause | ViolationRule

/** A reading past an alarm limit, or a chart point completing a run rule (or a CUSUM signal). */
export type Deviation =
  | {
      kind: 'limit'
      cause: LimitCause
      /** true for the first reading of an excursion, false while it continues. */
      onset: boolean
      ts: number
      value: number
      limit: number
    }
  | {
      kind: 'rule'
      cause: ViolationRule
      onset: boolean
      ts: number
      /** The statistic of the pane the rule judged. */
      value: number
      index: number
      pane: string
      /** Chart points that form the pattern. */
      indices: number[]
    }

export interface Evaluation {
  state: CharacteristicState
  /** The chart points this reading completed (none while a subgroup is forming). */
  points: ChartPoint[]
  deviations: Deviation[]
  status: Status
  /** Set when the chart froze its limits (Phase I ended): the limits and the judged baseline. */
  established: Extract<ChartEvent, { type: 'limits-established' }> | null
  /** Why Phase I could not end yet (e.g. no variation in the baseline), when it tried. */
  estimateFailed: string | null
}

export function initialCharacteristicState(spec: CharacteristicSpec): CharacteristicState {
  return {
    chart: initChart(spec.chart),
    zone: 'normal',
    flagged: [],
    capability: initialCapabilityState(),
  }
}

/** What alarm limits judge: the value itself, or the proportion / rate of an attributes reading. */
export function measureOf(type: ChartType, obs: Observation): number {
  return (type === 'p' || type === 'u') && obs.size ? obs.value / obs.size : obs.value
}

/** Zones that continue an excursion into `zone` rather than start one. */
const CONTINUES: Record<LimitCause, readonly LimitZone[]> = {
  'action-high': ['action-high'],
  'action-low': ['action-low'],
  'alert-high': ['alert-high', 'action-high'],
  'alert-low': ['alert-low', 'action-low'],
}

export function evaluate(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  obs: Observation,
): Evaluation {
  const charted = stepChart(spec.chart, state.chart, obs)
  const measure = measureOf(spec.chart.type, obs)
  const zone = classifyLimits(spec.limits, measure)
  const deviations: Deviation[] = []
  if (zone !== 'normal') {
    deviations.push({
      kind: 'limit',
      cause: zone,
      onset: !CONTINUES[zone].includes(state.zone),
      ts: obs.ts,
      value: measure,
      limit: limitOfZone(spec.limits, zone),
    })
  }
  const judged = judgePoints(charted.points, state.flagged)
  deviations.push(...judged.deviations)
  // Readings after the limits froze: the one that completed the baseline belongs to the baseline.
  const capability =
    spec.specLimits && state.chart.limits && !ATTRIBUTES_CHARTS.has(spec.chart.type)
      ? addToCapability(state.capability, obs.value, spec.specLimits)
      : state.capability
  return finish(
    { chart: charted.state, zone, flagged: judged.flagged, capability },
    charted.points,
    deviations,
    charted.events,
  )
}

/** Closes subgroups whose time window ended before `now` (or, with `force`, any open one). */
export function tick(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  now: number,
  force = false,
): Evaluation {
  const closed = closeChart(spec.chart, state.chart, now, force)
  const judged = judgePoints(closed.points, state.flagged)
  return finish(
    { ...state, chart: closed.state, flagged: judged.flagged },
    closed.points,
    judged.deviations,
    closed.events,
  )
}

/** Ends Phase I now (an explicit act: the baseline collected so far gives the limits). */
export function endBaseline(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  ts: number,
): Evaluation {
  const frozen = freezeChart(spec.chart, state.chart, ts)
  return finish({ ...state, chart: frozen.state }, [], [], frozen.events)
}

function judgePoints(points: readonly ChartPoint[], flaggedBefore: ViolationRule[]) {
  const deviations: Deviation[] = []
  let flagged = flaggedBefore
  for (const point of points) {
    for (const v of point.violations) {
      deviations.push({
        kind: 'rule',
        cause: v.rule,
        onset: !flagged.includes(v.rule),
        ts: point.ts,
        value: judgedValue(point.panes[v.pane]),
        index: point.index,
        pane: v.pane,
        indices: v.indices,
      })
    }
    // A rule judged on two panes (N1 on I and MR) is flagged once.
    flagged = [...new Set(point.violations.map((v) => v.rule))]
  }
  return { deviations, flagged }
}

/** The value a rule judged: the pane's statistic, or for CUSUM the larger of C⁺ and C⁻. */
function judgedValue(pane: PanePoint | undefined): number {
  if (!pane) return Number.NaN
  if (pane.upper !== undefined || pane.lower !== undefined)
    return Math.max(pane.upper ?? 0, pane.lower ?? 0)
  return pane.statistic ?? Number.NaN
}

function finish(
  state: CharacteristicState,
  points: ChartPoint[],
  deviations: Deviation[],
  events: ChartEvent[],
): Evaluation {
  const established = events.find((e) => e.type === 'limits-established') ?? null
  const failed = events.find((e) => e.type === 'estimate-failed')
  return {
    state,
    points,
    deviations,
    status: statusOf(state.zone, state.flagged, state.chart.limits),
    established,
    estimateFailed: failed ? failed.reason : null,
  }
}

function statusOf(zone: LimitZone, flagged: ViolationRule[], limits: ProcessLimits | null): Status {
  if (zone === 'action-high' || zone === 'action-low') return 'action'
  if (zone === 'alert-high' || zone === 'alert-low') return 'alert'
  if (flagged.length > 0) return 'spc'
  return limits ? 'normal' : 'baseline'
}
