import { type AlarmLimits, classifyLimits, type LimitZone, limitOfZone } from './alarm-limits.ts'
import {
  addToCapability,
  type Capability,
  type CapabilityPolicy,
  type CapabilitySpec,
  type CapabilityState,
  type CapabilityVerdict,
  capabilityOf,
  capabilityVerdict,
  DEFAULT_CAPABILITY_POLICY,
  initialCapabilityState,
  recordSignal,
  signalsOf,
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
import type {
  ChartPoint,
  Observation,
  PanePoint,
  ProcessLimits,
  Violation,
  ViolationRule,
} from './types.ts'

/**
 * Everything judged about one characteristic: its control chart and its alert/action limits.
 * Pure (no I/O, no clock): `evaluate(spec, state, observation)` updates the state in place and
 * returns what happened; `tick(spec, state, now)` closes the subgroups whose time window has
 * ended. The state is plain JSON: serialise it to keep it, parse it to carry on exactly.
 */
export interface CharacteristicSpec {
  chart: ChartSpec
  limits: AlarmLimits
  /** Specification limits: capability is computed against them (variables charts). */
  specLimits?: CapabilitySpec | undefined
  /**
   * When capability is reported and called capable (default DEFAULT_CAPABILITY_POLICY):
   * `minReadings` readings in the window before any index, Cpk and Ppk ≥ `threshold`.
   */
  capability?: CapabilityPolicy | undefined
}

export interface CharacteristicState {
  chart: ChartState
  zone: LimitZone
  /** Rules the latest chart point completed: the onset of a violation is a rule not flagged before. */
  flagged: ViolationRule[]
  /**
   * The capability window: the readings since the limits froze, for process capability against
   * the chart's σ, and the points in it that signalled (see CapabilityState).
   */
  capability: CapabilityState
  /** Deviations under way, one per cause (bounded by the number of causes). */
  excursions: Excursion[]
}

/**
 * A deviation under way: its cause, the time of its onset and of its latest repeat, and how
 * many readings (limits) or points (rules) showed it. Onsets are events; repeats are counted
 * here, so what a long violation leaves behind does not grow with its length.
 */
export interface Excursion {
  cause: Cause
  since: number
  last: number
  count: number
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
  return capabilityOf(
    state.capability,
    state.chart.limits?.sigma ?? null,
    spec.specLimits,
    (spec.capability ?? DEFAULT_CAPABILITY_POLICY).minReadings,
  )
}

/**
 * The verdict on the characteristic's capability (see `capabilityVerdict`): `not-in-control`
 * when the chart signalled in the capability window. Null where there is no capability (no
 * specification limits, an attributes chart).
 */
export function characteristicVerdict(
  spec: CharacteristicSpec,
  state: CharacteristicState,
): CapabilityVerdict | null {
  if (!spec.specLimits || ATTRIBUTES_CHARTS.has(spec.chart.type)) return null
  return capabilityVerdict(
    characteristicCapability(spec, state),
    { signalled: signalsOf(state.capability) > 0, n: state.capability.n },
    spec.capability ?? DEFAULT_CAPABILITY_POLICY,
  )
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
      /** Chart points that form the pattern (bounded: see Violation). */
      indices: number[]
      /** CUSUM: the first point of the excursion. */
      since?: number | undefined
    }

export interface Evaluation {
  /** The state passed in, updated in place. */
  state: CharacteristicState
  /** The chart points this reading completed (none while a subgroup is forming). */
  points: readonly ChartPoint[]
  deviations: readonly Deviation[]
  /** Excursions that ended with this reading (or point): their cause, span and count. */
  ended: readonly Excursion[]
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
    excursions: [],
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
const LIMIT_CAUSES: ReadonlySet<Cause> = new Set(Object.keys(CONTINUES) as LimitCause[])

const NONE: readonly never[] = Object.freeze([])

/** Judges one reading, updating `state` in place (see the module comment). */
export function evaluate(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  obs: Observation,
): Evaluation {
  // Captured before the step: the reading that completes the baseline belongs to the baseline.
  const frozenBefore = state.chart.limits !== null
  const charted = stepChart(spec.chart, state.chart, obs)
  const measure = measureOf(spec.chart.type, obs)
  const zone = classifyLimits(spec.limits, measure)
  let limit: Deviation[] | null = null
  if (zone !== 'normal') {
    limit = [
      {
        kind: 'limit',
        cause: zone,
        onset: !CONTINUES[zone].includes(state.zone),
        ts: obs.ts,
        value: measure,
        limit: limitOfZone(spec.limits, zone),
      },
    ]
  }
  state.zone = zone
  const deviations = judgePoints(charted.points, state, limit)
  if (spec.specLimits && frozenBefore && !ATTRIBUTES_CHARTS.has(spec.chart.type))
    addToCapability(state.capability, obs.value, spec.specLimits)
  const ended = track(state, deviations, charted.points.length > 0)
  return finish(state, charted.points, deviations, ended, charted.events)
}

/** Closes subgroups whose time window ended before `now` (or, with `force`, any open one). */
export function tick(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  now: number,
  force = false,
): Evaluation {
  const closed = closeChart(spec.chart, state.chart, now, force)
  const deviations = judgePoints(closed.points, state, null)
  const ended = closed.points.length > 0 ? track(state, deviations, true) : NONE
  return finish(state, closed.points, deviations, ended, closed.events)
}

/** Ends Phase I now (an explicit act: the baseline collected so far gives the limits). */
export function endBaseline(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  ts: number,
): Evaluation {
  const frozen = freezeChart(spec.chart, state.chart, ts)
  return finish(state, NONE, NONE, NONE, frozen.events)
}

/**
 * The rule deviations of the points, appended to `deviations`; `state.flagged` becomes the rules
 * of the last point, in place, and a point judged against the frozen limits that signals is
 * counted into the capability window. A rule judged on two panes (N1 on I and MR) is flagged
 * once.
 */
function judgePoints(
  points: readonly ChartPoint[],
  state: CharacteristicState,
  deviations: Deviation[] | null,
): readonly Deviation[] {
  const flagged = state.flagged
  let out = deviations
  // Indexed loops, and no write to `flagged` when it is empty: the common case (a point that
  // completes nothing, or no point) stays cheap whatever arrays come in (frozen empty ones too).
  for (let i = 0; i < points.length; i++) {
    const point = points[i] as ChartPoint
    if (point.violations.length === 0) {
      if (flagged.length > 0) flagged.length = 0
      continue
    }
    // Baseline points are judged only when the limits freeze (the event), never here.
    if (point.phase === 'monitor') recordSignal(state.capability, point.ts, point.index)
    out ??= []
    const violations = point.violations
    for (let k = 0; k < violations.length; k++) {
      const v = violations[k] as Violation
      const deviation: Deviation = {
        kind: 'rule',
        cause: v.rule,
        onset: !flagged.includes(v.rule),
        ts: point.ts,
        value: judgedValue(point.panes[v.pane]),
        index: point.index,
        pane: v.pane,
        indices: v.indices,
      }
      if (v.since !== undefined) deviation.since = v.since
      out.push(deviation)
    }
    flagged.length = 0
    for (let k = 0; k < violations.length; k++) {
      const rule = (violations[k] as Violation).rule
      if (!flagged.includes(rule)) flagged.push(rule)
    }
  }
  return out ?? NONE
}

/**
 * Counts the deviations into the excursions under way and ends those that stopped: a limit
 * excursion when a reading no longer continues it, a rule's when a point no longer completes
 * it (`pointed`: this step judged a point). Returns the ended ones.
 */
function track(
  state: CharacteristicState,
  deviations: readonly Deviation[],
  pointed: boolean,
): readonly Excursion[] {
  const excursions = state.excursions
  if (excursions.length === 0 && deviations.length === 0) return NONE
  for (let i = 0; i < deviations.length; i++) {
    const d = deviations[i] as Deviation
    let open: Excursion | undefined
    for (let k = 0; k < excursions.length && !open; k++)
      if ((excursions[k] as Excursion).cause === d.cause) open = excursions[k]
    if (open && !d.onset) {
      open.count++
      open.last = d.ts
    } else if (!open) {
      excursions.push({ cause: d.cause, since: d.ts, last: d.ts, count: 1 })
    } else {
      // An onset while one is recorded under way (a restored or restarted chart): a new one.
      open.since = d.ts
      open.last = d.ts
      open.count = 1
    }
  }
  let ended: Excursion[] | null = null
  for (let k = excursions.length - 1; k >= 0; k--) {
    const e = excursions[k] as Excursion
    const stopped = LIMIT_CAUSES.has(e.cause)
      ? !CONTINUES[e.cause as LimitCause].includes(state.zone)
      : pointed && !state.flagged.includes(e.cause as ViolationRule)
    if (stopped) {
      ended ??= []
      ended.unshift(e)
      excursions.splice(k, 1)
    }
  }
  return ended ?? NONE
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
  points: readonly ChartPoint[],
  deviations: readonly Deviation[],
  ended: readonly Excursion[],
  events: readonly ChartEvent[],
): Evaluation {
  let established: Evaluation['established'] = null
  let estimateFailed: string | null = null
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ChartEvent
    if (e.type === 'limits-established') established = e
    else estimateFailed = e.reason
  }
  return {
    state,
    points,
    deviations,
    ended,
    status: statusOf(state.zone, state.flagged, state.chart.limits),
    established,
    estimateFailed,
  }
}

function statusOf(zone: LimitZone, flagged: ViolationRule[], limits: ProcessLimits | null): Status {
  if (zone === 'action-high' || zone === 'action-low') return 'action'
  if (zone === 'alert-high' || zone === 'alert-low') return 'alert'
  if (flagged.length > 0) return 'spc'
  return limits ? 'normal' : 'baseline'
}
