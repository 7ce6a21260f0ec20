import { initialRuleState, type RuleSettings, type RuleState, stepRules } from '../run-rules.ts'
import { type ChartSpec, type ChartType, ONE_POINT_PER_OBSERVATION } from '../spec.ts'
import {
  addObservation,
  closeDue,
  initialSubgrouperState,
  type Subgroup,
  type SubgrouperState,
  single,
} from '../subgroups.ts'
import type { ChartPoint, Observation, PanePoint, ProcessLimits, Violation } from '../types.ts'
import type { ChartKind, PaneValue } from './kind.ts'

/**
 * The one driver of every chart: observations → subgroups → points. Phase I collects the
 * baseline subgroups (summaries, bounded by the baseline's size) and plots them without
 * limits; when the baseline is complete the kind estimates the parameters (leaving
 * out-of-control subgroups out and estimating again, if asked), the limits freeze, and the
 * baseline is replayed against them: its points are judged (returned with the
 * `limits-established` event), and the recursions (EWMA, CUSUM, moving range) and the run
 * rules run on through it into Phase II, as a stream does. Pure: `now` and time stamps come in.
 */

export interface ChartState {
  type: ChartType
  /** Index the next point gets. */
  count: number
  subgrouper: SubgrouperState
  /** The last closed subgroup (the moving range of a baseline point needs it). */
  previous: Subgroup | null
  /** Baseline subgroups and their point indices, while collecting; empty once frozen. */
  baseline: { sg: Subgroup; index: number }[]
  limits: ProcessLimits | null
  /** The kind's recursion state; null until the limits are frozen. */
  stream: unknown
  /** Run-rule state per pane. */
  rules: Record<string, RuleState>
}

export type ChartEvent =
  | { type: 'limits-established'; ts: number; limits: ProcessLimits; baseline: ChartPoint[] }
  | { type: 'estimate-failed'; ts: number; reason: string }

export interface ChartStep {
  state: ChartState
  points: ChartPoint[]
  events: ChartEvent[]
}

/** The most times Phase I leaves out-of-control subgroups out and estimates again. */
const MAX_EXCLUSION_ROUNDS = 10
/** The most subgroups a baseline holds: it bounds a characteristic's memory (about 100 bytes each). */
export const MAX_BASELINE_SUBGROUPS = 10_000

export function initChartState(kind: ChartKind, spec: ChartSpec): ChartState {
  const limits: ProcessLimits | null = spec.given
    ? { center: spec.given.center, sigma: spec.given.sigma ?? 0, basis: { kind: 'given' } }
    : null
  return {
    type: spec.type,
    count: 0,
    subgrouper: initialSubgrouperState(),
    previous: null,
    baseline: [],
    limits,
    stream: limits ? kind.initStream(spec, limits) : null,
    rules: Object.fromEntries(kind.panes.map((p) => [p, initialRuleState()])),
  }
}

/** Adds one observation; returns the points of the subgroups it closes. */
export function stepChartState(
  kind: ChartKind,
  spec: ChartSpec,
  state: ChartState,
  obs: Observation,
): ChartStep {
  if (ONE_POINT_PER_OBSERVATION.has(spec.type)) return onSubgroups(kind, spec, state, [single(obs)])
  const added = addObservation(spec.subgroup, state.subgrouper, obs)
  return onSubgroups(kind, spec, { ...state, subgrouper: added.state }, added.closed)
}

/** Closes the subgroups time has closed (`force`: any open one, e.g. at the end of a file). */
export function closeChartState(
  kind: ChartKind,
  spec: ChartSpec,
  state: ChartState,
  now: number,
  force = false,
): ChartStep {
  const due = closeDue(spec.subgroup, state.subgrouper, now, force)
  return onSubgroups(kind, spec, { ...state, subgrouper: due.state }, due.closed)
}

/**
 * Ends Phase I now: estimates from the baseline collected so far and freezes the limits (the
 * end of a calibration file, or of a time-range baseline). A chart whose limits are frozen is
 * returned unchanged.
 */
export function freezeChartState(
  kind: ChartKind,
  spec: ChartSpec,
  state: ChartState,
  ts: number,
): ChartStep {
  if (state.limits) return { state, points: [], events: [] }
  return freeze(kind, spec, state, ts)
}

function onSubgroups(
  kind: ChartKind,
  spec: ChartSpec,
  state: ChartState,
  closed: Subgroup[],
): ChartStep {
  const points: ChartPoint[] = []
  const events: ChartEvent[] = []
  let s = state
  for (const sg of closed) {
    const step = onSubgroup(kind, spec, s, sg)
    s = step.state
    points.push(...step.points)
    events.push(...step.events)
  }
  return { state: s, points, events }
}

function onSubgroup(kind: ChartKind, spec: ChartSpec, state: ChartState, sg: Subgroup): ChartStep {
  const events: ChartEvent[] = []
  let s = state
  // A time-range baseline ends with the first subgroup after it. If it cannot give limits, it
  // is dropped (it cannot grow any more): one `estimate-failed`, not one per later subgroup.
  if (!s.limits && 'to' in spec.baseline && sg.ts > spec.baseline.to && s.baseline.length > 0) {
    const frozen = freeze(kind, spec, s, sg.ts)
    s = frozen.state.limits ? frozen.state : { ...frozen.state, baseline: [] }
    events.push(...frozen.events)
  }
  if (s.limits) {
    const judged = judge(kind, spec, s.limits, s.stream, s.rules, sg, s.count, 'monitor')
    return {
      state: { ...s, count: s.count + 1, previous: sg, stream: judged.stream, rules: judged.rules },
      points: [judged.point],
      events,
    }
  }

  // Phase I: plot without limits; collect the subgroup when it belongs to the baseline.
  const index = s.count
  const preview = kind.preview(spec, sg, s.previous)
  const panes: Record<string, PanePoint> = {}
  for (const pane of kind.panes)
    panes[pane] = { statistic: preview[pane] ?? null, center: null, lcl: null, ucl: null }
  const point: ChartPoint = {
    index,
    ts: sg.ts,
    n: pointSize(sg),
    phase: 'baseline',
    panes,
    violations: [],
  }
  const inBaseline =
    'subgroups' in spec.baseline || (sg.ts >= spec.baseline.from && sg.ts <= spec.baseline.to)
  let baseline = inBaseline ? [...s.baseline, { sg, index }] : s.baseline
  if ('subgroups' in spec.baseline && baseline.length > spec.baseline.subgroups) {
    baseline = baseline.slice(-spec.baseline.subgroups) // a window that could not give limits slides on
  }
  s = { ...s, count: index + 1, previous: sg, baseline }
  // A count baseline is complete; a time-range baseline that reached the cap ends there too.
  const complete =
    'subgroups' in spec.baseline
      ? baseline.length >= spec.baseline.subgroups
      : baseline.length >= MAX_BASELINE_SUBGROUPS
  if (complete) {
    const frozen = freeze(kind, spec, s, sg.ts)
    s = frozen.state
    events.push(...frozen.events)
  }
  return { state: s, points: [point], events }
}

/** Estimates (with exclusion rounds), freezes, and replays the baseline against the limits. */
function freeze(kind: ChartKind, spec: ChartSpec, state: ChartState, ts: number): ChartStep {
  const sgs = state.baseline.map((b) => b.sg)
  const included = sgs.map(() => true)
  let limits: ProcessLimits | null = null
  const exclude = spec.excludeOutOfControl && kind.rules !== 'none'
  // Estimate; leave out what lies beyond the limits and estimate again, at most
  // MAX_EXCLUSION_ROUNDS times. The last estimate is always from the subgroups left in.
  for (let round = 0; ; round++) {
    const estimate = kind.estimate(spec, sgs, included)
    if (!estimate.ok)
      return {
        state,
        points: [],
        events: [{ type: 'estimate-failed', ts, reason: estimate.reason }],
      }
    const first = state.baseline[0] as { sg: Subgroup }
    const last = state.baseline[state.baseline.length - 1] as { sg: Subgroup }
    limits = {
      center: estimate.center,
      sigma: estimate.sigma,
      basis: {
        kind: 'estimated',
        count: included.filter(Boolean).length,
        excluded: included.filter((x) => !x).length,
        firstTs: first.sg.firstTs,
        lastTs: last.sg.ts,
        method: estimate.method,
      },
    }
    if (!exclude || round === MAX_EXCLUSION_ROUNDS) break
    // Leave out the included subgroups whose point lies beyond a limit on any pane.
    let stream = kind.initStream(spec, limits)
    let excludedNow = 0
    state.baseline.forEach((b, k) => {
      const p = kind.point(spec, limits as ProcessLimits, stream, b.sg, b.index)
      stream = p.stream
      if (included[k] && Object.values(p.panes).some(beyond)) {
        included[k] = false
        excludedNow++
      }
    })
    if (excludedNow === 0) break
    if (included.filter(Boolean).length < 2) {
      return {
        state,
        points: [],
        events: [
          { type: 'estimate-failed', ts, reason: 'fewer than two in-control baseline subgroups' },
        ],
      }
    }
  }
  const frozen = limits as ProcessLimits

  // Replay: the baseline's points judged against the frozen limits; recursions and rules run on.
  let stream = kind.initStream(spec, frozen)
  let rules = state.rules
  const judgedBaseline: ChartPoint[] = []
  state.baseline.forEach((b, k) => {
    const judged = judge(kind, spec, frozen, stream, rules, b.sg, b.index, 'baseline')
    stream = judged.stream
    rules = judged.rules
    if (!included[k]) judged.point.excluded = true
    judgedBaseline.push(judged.point)
  })
  return {
    state: { ...state, baseline: [], limits: frozen, stream, rules },
    points: [],
    events: [{ type: 'limits-established', ts, limits: frozen, baseline: judgedBaseline }],
  }
}

/** Observations a point stands for: the sample size of an attributes reading, else the subgroup's count. */
function pointSize(sg: Subgroup): number {
  return sg.size ?? sg.n
}

function beyond(p: PaneValue): boolean {
  return (
    p.statistic !== null &&
    ((p.ucl !== null && p.statistic > p.ucl) || (p.lcl !== null && p.statistic < p.lcl))
  )
}

/** A subgroup's point against frozen limits, with the run rules of every pane. */
function judge(
  kind: ChartKind,
  spec: ChartSpec,
  limits: ProcessLimits,
  stream: unknown,
  rules: Record<string, RuleState>,
  sg: Subgroup,
  index: number,
  phase: ChartPoint['phase'],
): { point: ChartPoint; stream: unknown; rules: Record<string, RuleState> } {
  const computed = kind.point(spec, limits, stream, sg, index)
  const violations: Violation[] = computed.signals.length > 0 ? [...computed.signals] : []
  const nextRules: Record<string, RuleState> = { ...rules }
  const panes: Record<string, PanePoint> = {}
  const settingsByPane = ruleSettings(kind, spec)
  for (const pane of kind.panes) {
    const p = computed.panes[pane] as PaneValue
    // The drawn values, without the σ the zone rules use (plain properties: the hot path).
    panes[pane] =
      p.upper === undefined && p.lower === undefined
        ? { statistic: p.statistic, center: p.center, lcl: p.lcl, ucl: p.ucl }
        : {
            statistic: p.statistic,
            center: p.center,
            lcl: p.lcl,
            ucl: p.ucl,
            upper: p.upper,
            lower: p.lower,
          }
    const settings = settingsByPane[pane] ?? NONE
    if (settings.rules.length === 0 || p.statistic === null || p.center === null) continue
    const judged = stepRules(settings, rules[pane] ?? initialRuleState(), pane, {
      index,
      statistic: p.statistic,
      center: p.center,
      sigma: p.sigma,
      lcl: p.lcl,
      ucl: p.ucl,
    })
    nextRules[pane] = judged.state
    for (const v of judged.violations) violations.push(v)
  }
  return {
    point: { index, ts: sg.ts, n: pointSize(sg), phase, panes, violations },
    stream: computed.stream,
    rules: nextRules,
  }
}

const N1_ONLY: RuleSettings = { rules: ['N1'] }
const NONE: RuleSettings = { rules: [] }
/** The settings per pane of a spec, worked out once (specs live as long as their characteristic). */
const settingsCache = new WeakMap<ChartSpec, Record<string, RuleSettings>>()

/** The primary pane gets the configured rules; the others (MR, R, S) only the test beyond the limits, if configured. */
function ruleSettings(kind: ChartKind, spec: ChartSpec): Record<string, RuleSettings> {
  let cached = settingsCache.get(spec)
  if (!cached) {
    const beyondOnly: RuleSettings = { rules: spec.rules.filter((r) => r === 'N1' || r === 'WE1') }
    const primary: RuleSettings = { rules: spec.rules, runLengths: spec.runLengths }
    cached = {}
    for (const pane of kind.panes) {
      if (kind.rules === 'none') cached[pane] = NONE
      else if (kind.rules === 'limits') cached[pane] = N1_ONLY
      else cached[pane] = pane === kind.primary ? primary : beyondOnly
    }
    settingsCache.set(spec, cached)
  }
  return cached
}
