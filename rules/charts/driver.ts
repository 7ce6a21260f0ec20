import {
  advanceRules,
  type CompiledRules,
  compileRules,
  initialRuleState,
  type RuleSettings,
  type RuleState,
} from '../run-rules.ts'
import {
  type ChartSpec,
  type ChartType,
  ONE_POINT_PER_OBSERVATION,
  type Subgrouping,
} from '../spec.ts'
import {
  addToSubgroup,
  closeDue,
  initialSubgrouperState,
  recycleScratch,
  recycleSubgroup,
  type Subgroup,
  type SubgrouperState,
} from '../subgroups.ts'
import type { ChartPoint, Observation, PanePoint, ProcessLimits, Violation } from '../types.ts'
import type { ChartKind, PaneSlots } from './kind.ts'

/**
 * The one driver of every chart: observations → subgroups → points. Phase I collects the
 * baseline subgroups (summaries, bounded by the baseline's size) and plots them without
 * limits; when the baseline is complete the kind estimates the parameters (leaving
 * out-of-control subgroups out and estimating again, if asked), the limits freeze, and the
 * baseline is replayed against them: its points are judged (returned with the
 * `limits-established` event), and the recursions (EWMA, CUSUM, moving range) and the run
 * rules run on through it into Phase II, as a stream does. Pure: `now` and time stamps come in.
 *
 * The state is plain JSON and is updated in place: a step makes no copy of it (the returned
 * `state` is the one passed in). To keep a state as it is at some point — to persist it —
 * serialise it (`JSON.stringify`) or copy it (`structuredClone`); a parsed copy carries on
 * exactly as the original would.
 */

export interface ChartState {
  type: ChartType
  /** Index the next point gets. */
  count: number
  subgrouper: SubgrouperState
  /** The last subgroup closed in Phase I (the moving range of a baseline preview needs it). */
  previous: Subgroup | null
  /** Baseline subgroups and their point indices, while collecting; empty once frozen. */
  baseline: { sg: Subgroup; index: number }[]
  limits: ProcessLimits | null
  /** The kind's recursion state; null until the limits are frozen. */
  stream: unknown
  /**
   * Run-rule state per pane, in the kind's pane order; null (or absent) for a pane that has not
   * needed one yet.
   */
  rules: (RuleState | null)[]
}

export type ChartEvent =
  | { type: 'limits-established'; ts: number; limits: ProcessLimits; baseline: ChartPoint[] }
  | { type: 'estimate-failed'; ts: number; reason: string }

/** What a step returns: the state (the one passed in, updated), and the points and events it made. */
export interface ChartStep {
  state: ChartState
  points: readonly ChartPoint[]
  events: readonly ChartEvent[]
}

/** The most times Phase I leaves out-of-control subgroups out and estimates again. */
const MAX_EXCLUSION_ROUNDS = 10
/** The most subgroups a baseline holds: it bounds a characteristic's memory (about 100 bytes each). */
export const MAX_BASELINE_SUBGROUPS = 10_000

const NO_POINTS: readonly ChartPoint[] = Object.freeze([])
const NO_EVENTS: readonly ChartEvent[] = Object.freeze([])

/**
 * What the driver works out once per spec (specs live as long as their chart): the kind,
 * whether each observation is a point, and the compiled run rules of each pane (the primary
 * pane the configured rules, the others — MR, R, S — only the test beyond the limits).
 */
interface Plan {
  spec: ChartSpec
  /** `spec.type` when the plan was made (a spec whose type changed gets a new plan). */
  type: ChartType
  kind: ChartKind
  onePoint: boolean
  rules: CompiledRules[]
}

const plans = new WeakMap<ChartSpec, Plan>()
/**
 * A state keeps, under symbols that are not enumerable (JSON, structuredClone and deep equality
 * do not see them), the plan it was last stepped with and the step that says nothing happened
 * (shared: it is frozen), so that a step needs no lookup and an observation that closes no
 * subgroup allocates nothing. A state restored from JSON gets them again on its first step.
 */
const PLAN = Symbol('plan')
const NOTHING = Symbol('nothing')
type Kept = ChartState & { [PLAN]?: Plan; [NOTHING]?: ChartStep }

function nothingHappened(state: ChartState): ChartStep {
  return Object.freeze({ state, points: NO_POINTS, events: NO_EVENTS })
}

/**
 * The plan of `spec` for `state`: the one the state keeps, or (the first step, or another spec)
 * a new one, with the kind `kindOf` gives.
 */
function planFor(kindOf: KindOf, spec: ChartSpec, state: ChartState): Plan {
  const kept = (state as Kept)[PLAN]
  if (kept !== undefined && kept.spec === spec && kept.type === spec.type) return kept
  return keep(planOf(kindOf(spec.type), spec), state)
}

function keep(plan: Plan, state: ChartState): Plan {
  Object.defineProperty(state, PLAN, { value: plan, enumerable: false, writable: true })
  if (!Object.hasOwn(state, NOTHING))
    Object.defineProperty(state, NOTHING, { value: nothingHappened(state), enumerable: false })
  return plan
}

function planOf(kind: ChartKind, spec: ChartSpec): Plan {
  let plan = plans.get(spec)
  if (plan === undefined || plan.kind !== kind || plan.type !== spec.type) {
    const beyondOnly: RuleSettings = { rules: spec.rules.filter((r) => r === 'N1' || r === 'WE1') }
    const primary: RuleSettings = { rules: spec.rules, runLengths: spec.runLengths }
    plan = {
      spec,
      type: spec.type,
      kind,
      onePoint: ONE_POINT_PER_OBSERVATION.has(spec.type),
      rules: kind.panes.map((pane) => {
        if (kind.rules === 'none') return compileRules({ rules: [] })
        if (kind.rules === 'limits') return compileRules({ rules: ['N1'] })
        return compileRules(pane === kind.primary ? primary : beyondOnly)
      }),
    }
    plans.set(spec, plan)
  }
  return plan
}

export function initChartState(kind: ChartKind, spec: ChartSpec): ChartState {
  const limits: ProcessLimits | null = spec.given
    ? { center: spec.given.center, sigma: spec.given.sigma ?? 0, basis: { kind: 'given' } }
    : null
  const plan = planOf(kind, spec)
  const state: Kept = {
    type: spec.type,
    count: 0,
    subgrouper: initialSubgrouperState(),
    previous: null,
    baseline: [],
    limits,
    stream: limits ? kind.initStream(spec, limits) : null,
    rules: ruleStates(plan),
    // Made now, in the object itself (see PLAN): a step finds them without a lookup.
    [PLAN]: plan,
    [NOTHING]: undefined,
  }
  state[NOTHING] = nothingHappened(state)
  Object.defineProperty(state, PLAN, { enumerable: false })
  Object.defineProperty(state, NOTHING, { enumerable: false })
  return state
}

/**
 * The run-rule state of each pane: made now for a pane with rules to run, null for one judged
 * only against its limits (MR, R, S), made when its first point lies beyond them. About 80 bytes
 * per chart that most never need.
 */
function ruleStates(plan: Plan): (RuleState | null)[] {
  return plan.rules.map((compiled) =>
    compiled.tests.length === 0 || compiled.limitsOnly ? null : initialRuleState(),
  )
}

/** The kind of a chart type (`chartKind`). */
export type KindOf = (type: ChartType) => ChartKind

/**
 * The subgrouping of a chart whose every observation is a point (I-MR, attributes), whatever
 * the spec says: a subgroup of one, closed as it opens. One path for every chart, so that a
 * process running charts of both kinds compiles one step, not two.
 */
const EACH: Subgrouping = { by: 'count', size: 1 }

/**
 * Adds one observation; returns the points of the subgroups it closes. The kind is looked up
 * with `kindOf` only when the state has no plan for `spec` yet: not on every step.
 */
export function stepChartState(
  kindOf: KindOf,
  spec: ChartSpec,
  state: ChartState,
  obs: Observation,
): ChartStep {
  const plan = planFor(kindOf, spec, state)
  // Most observations only join the open subgroup (4 in 5 with subgroups of 5): nothing else.
  const closed = addToSubgroup(plan.onePoint ? EACH : spec.subgroup, state.subgrouper, obs)
  if (closed === null) return (state as Kept)[NOTHING] as ChartStep
  if (!state.limits) return onSubgroups(plan, spec, state, [closed])
  const point = monitor(plan, spec, state, closed)
  // Judged, and nothing keeps it: the next subgroup opens in it (no new object).
  if (plan.onePoint) recycleScratch(closed)
  else recycleSubgroup(state.subgrouper, closed)
  return { state, points: [point], events: NO_EVENTS }
}

/** Closes the subgroups time has closed (`force`: any open one, e.g. at the end of a file). */
export function closeChartState(
  kind: ChartKind,
  spec: ChartSpec,
  state: ChartState,
  now: number,
  force = false,
): ChartStep {
  return onSubgroups(
    planOf(kind, spec),
    spec,
    state,
    closeDue(spec.subgroup, state.subgrouper, now, force),
  )
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
  if (state.limits) return { state, points: NO_POINTS, events: NO_EVENTS }
  return { state, points: NO_POINTS, events: freeze(planOf(kind, spec), spec, state, ts) }
}

function onSubgroups(
  plan: Plan,
  spec: ChartSpec,
  state: ChartState,
  closed: readonly Subgroup[],
): ChartStep {
  if (closed.length === 0) return { state, points: NO_POINTS, events: NO_EVENTS }
  const points: ChartPoint[] = []
  let events: ChartEvent[] | null = null
  for (const sg of closed) {
    // A time-range baseline ends with the first subgroup after it. If it cannot give limits,
    // it is dropped (it cannot grow any more): one `estimate-failed`, not one per later subgroup.
    if (
      !state.limits &&
      'to' in spec.baseline &&
      sg.ts > spec.baseline.to &&
      state.baseline.length > 0
    ) {
      events = [...(events ?? []), ...freeze(plan, spec, state, sg.ts)] // rare: a baseline ends
      if (!state.limits) state.baseline = []
    }
    if (state.limits) {
      points.push(monitor(plan, spec, state, sg))
      continue
    }
    const collected = collect(plan, spec, state, sg)
    points.push(collected.point)
    if (collected.events.length > 0) events = [...(events ?? []), ...collected.events]
  }
  return { state, points, events: events ?? NO_EVENTS }
}

/** Phase II: the subgroup's point against the frozen limits. */
function monitor(plan: Plan, spec: ChartSpec, state: ChartState, sg: Subgroup): ChartPoint {
  const index = state.count
  const point = judge(
    plan,
    spec,
    state.limits as ProcessLimits,
    state.stream,
    state.rules,
    sg,
    index,
    'monitor',
  )
  state.count = index + 1
  // `previous` only serves Phase I's previews: it is not kept (nor copied) in Phase II.
  return point
}

/** Phase I: plots the subgroup without limits and collects it when it belongs to the baseline. */
function collect(
  plan: Plan,
  spec: ChartSpec,
  state: ChartState,
  sg: Subgroup,
): { point: ChartPoint; events: readonly ChartEvent[] } {
  const { kind } = plan
  const index = state.count
  const preview = kind.preview(spec, sg, state.previous)
  const panes: Record<string, PanePoint> = {}
  for (const pane of kind.panes)
    panes[pane] = {
      statistic: preview[pane] ?? null,
      center: null,
      sigma: null,
      lcl: null,
      ucl: null,
    }
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
  if (inBaseline) {
    state.baseline.push({ sg, index })
    // A window that could not give limits slides on.
    if ('subgroups' in spec.baseline && state.baseline.length > spec.baseline.subgroups)
      state.baseline.splice(0, state.baseline.length - spec.baseline.subgroups)
  }
  state.count = index + 1
  state.previous = sg
  // A count baseline is complete; a time-range baseline that reached the cap ends there too.
  const complete =
    'subgroups' in spec.baseline
      ? state.baseline.length >= spec.baseline.subgroups
      : state.baseline.length >= MAX_BASELINE_SUBGROUPS
  return { point, events: complete ? freeze(plan, spec, state, sg.ts) : NO_EVENTS }
}

/**
 * Estimates (with exclusion rounds), freezes, and replays the baseline against the limits, in
 * place. Returns the `limits-established` event, or `estimate-failed` (the state unchanged).
 */
function freeze(plan: Plan, spec: ChartSpec, state: ChartState, ts: number): readonly ChartEvent[] {
  const { kind } = plan
  const sgs = state.baseline.map((b) => b.sg)
  const included = sgs.map(() => true)
  let limits: ProcessLimits | null = null
  const exclude = spec.excludeOutOfControl && kind.rules !== 'none'
  const slots = newSlots(kind.panes.length)
  // Estimate; leave out what lies beyond the limits and estimate again, at most
  // MAX_EXCLUSION_ROUNDS times. The last estimate is always from the subgroups left in.
  for (let round = 0; ; round++) {
    const estimate = kind.estimate(spec, sgs, included)
    if (!estimate.ok) return [{ type: 'estimate-failed', ts, reason: estimate.reason }]
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
    const stream = kind.initStream(spec, limits)
    let excludedNow = 0
    state.baseline.forEach((b, k) => {
      kind.point(spec, limits as ProcessLimits, stream, b.sg, b.index, slots)
      if (included[k] && slots.panes.some(beyond)) {
        included[k] = false
        excludedNow++
      }
    })
    if (excludedNow === 0) break
    if (included.filter(Boolean).length < 2) {
      return [
        { type: 'estimate-failed', ts, reason: 'fewer than two in-control baseline subgroups' },
      ]
    }
  }
  const frozen = limits as ProcessLimits

  // Replay: the baseline's points judged against the frozen limits; recursions and rules run on.
  const stream = kind.initStream(spec, frozen)
  const judgedBaseline: ChartPoint[] = []
  state.baseline.forEach((b, k) => {
    const point = judge(plan, spec, frozen, stream, state.rules, b.sg, b.index, 'baseline')
    if (!included[k]) point.excluded = true
    judgedBaseline.push(point)
  })
  state.baseline = []
  state.limits = frozen
  state.stream = stream
  // Only Phase I's previews read it: a frozen chart keeps no subgroup of its baseline.
  state.previous = null
  return [{ type: 'limits-established', ts, limits: frozen, baseline: judgedBaseline }]
}

/** Observations a point stands for: the sample size of an attributes reading, else the subgroup's count. */
function pointSize(sg: Subgroup): number {
  return sg.size ?? sg.n
}

function beyond(p: PanePoint): boolean {
  return (
    p.statistic !== null &&
    ((p.ucl !== null && p.statistic > p.ucl) || (p.lcl !== null && p.statistic < p.lcl))
  )
}

/**
 * Scratch for a kind's point, made for each point: young like the panes written to it, so the
 * writes need no write barrier (a scratch kept for good lives in the old generation, and each
 * store of a new pane into it costs a call).
 */
function newSlots(size: number): PaneSlots {
  return { panes: new Array(size) }
}

/** A subgroup's point against frozen limits, with the run rules of every pane; `stream` and `rules` advance in place. */
function judge(
  plan: Plan,
  spec: ChartSpec,
  limits: ProcessLimits,
  stream: unknown,
  rules: (RuleState | null)[],
  sg: Subgroup,
  index: number,
  phase: ChartPoint['phase'],
): ChartPoint {
  const { kind } = plan
  const slots = newSlots(kind.panes.length)
  const signals = kind.point(spec, limits, stream, sg, index, slots)
  let violations: Violation[] | null = signals.length > 0 ? [...signals] : null
  const settingsByPane = plan.rules
  const names = kind.panes
  for (let k = 0; k < names.length; k++) {
    const pane = names[k] as string
    const p = slots.panes[k] as PanePoint
    const settings = settingsByPane[k] as CompiledRules
    if (settings.tests.length === 0 || p.statistic === null || p.center === null) continue
    // A pane judged only against its limits (MR, R, S) flags nothing while within them: no call,
    // and no state until its first point beyond them.
    if (settings.limitsOnly && !beyond(p)) continue
    let state = rules[k]
    if (state === undefined || state === null) {
      state = initialRuleState()
      rules[k] = state
    }
    // Zones from the pane's σ: only a primary pane has zone rules (the others only N1).
    const found = advanceRules(
      settings,
      state,
      pane,
      index,
      p.statistic,
      p.center,
      p.sigma,
      p.lcl,
      p.ucl,
    )
    if (found.length > 0) {
      violations ??= []
      for (let i = 0; i < found.length; i++) violations.push(found[i] as Violation)
    }
  }
  const panes = kind.record(slots.panes)
  return {
    index,
    ts: sg.ts,
    n: pointSize(sg),
    phase,
    panes,
    violations: violations ?? NO_VIOLATIONS,
  }
}

const NO_VIOLATIONS: readonly Violation[] = Object.freeze([])
