import type { Subgrouping } from './spec.ts'
import type { Observation } from './types.ts'

/**
 * A closed (or forming) subgroup, summarised in O(1) space: n, mean and the sum of squared
 * deviations (Welford), min and max. Attributes observations carry their count and size.
 */
export interface Subgroup {
  /** Time of the first and of the last observation. */
  firstTs: number
  ts: number
  n: number
  mean: number
  /** Σ(x − mean)², for the subgroup standard deviation. */
  m2: number
  min: number
  max: number
  key?: string | undefined
  /** Attributes: the count and the sample size (or inspection units) of the observation. */
  count?: number | undefined
  size?: number | undefined
}

export interface SubgrouperState {
  open: Subgroup | null
  /** Start of the open subgroup's time window (by time). */
  windowStart: number | null
}

/**
 * A closed subgroup nothing keeps any more, handed back with `recycleSubgroup`: the next
 * subgroup opens in it instead of in a new object. No allocation per subgroup, and V8 does not
 * see the subgroups of one allocation site first survive (Phase I keeps them) then die young,
 * which made it recompile the step. Under a symbol that is not enumerable (JSON, structuredClone
 * and deep equality do not see it; a copy without it opens new objects).
 *
 * A chart whose every observation is a subgroup (I-MR, attributes) opens and closes it in the
 * same step: it hands it back to one spare for the module (`recycleScratch`), not to its own
 * state, where it would take about 150 bytes of every such chart for the length of a step. A
 * step is synchronous and hands it back before it returns, and what it returns never refers to
 * it, so no two charts hold it at once. A subgrouped chart keeps its own (its open subgroup is
 * that object most of the time anyway): charts closing their subgroups one after another in
 * turn would each drop the module's spare for their own.
 */
const SPARE = Symbol('spare')
type Spared = SubgrouperState & { [SPARE]?: Subgroup | undefined }
let scratch: Subgroup | undefined

export function initialSubgrouperState(): SubgrouperState {
  const state: Spared = { open: null, windowStart: null, [SPARE]: undefined }
  Object.defineProperty(state, SPARE, { enumerable: false })
  return state
}

/** Hands back a closed subgroup that nothing keeps (a point judged in Phase II) for the state's next one. */
export function recycleSubgroup(state: SubgrouperState, sg: Subgroup): void {
  // A state restored from JSON has no place for it yet.
  if (SPARE in state) (state as Spared)[SPARE] = sg
  else Object.defineProperty(state, SPARE, { value: sg, enumerable: false, writable: true })
}

/** Hands back a closed subgroup that nothing keeps for the next subgroup of any chart (see SPARE). */
export function recycleScratch(sg: Subgroup): void {
  scratch = sg
}

/** A new open subgroup of `obs`: in the state's spare one, or the module's, if there is one. */
function open(state: SubgrouperState, obs: Observation): Subgroup {
  const own = (state as Spared)[SPARE]
  if (own !== undefined) {
    ;(state as Spared)[SPARE] = undefined
    return singleInto(own, obs)
  }
  const sg = scratch
  if (sg === undefined) return start(obs)
  scratch = undefined
  return singleInto(sg, obs)
}

/** Range of a subgroup. */
export function rangeOf(s: Subgroup): number {
  return s.max - s.min
}

/** Sample standard deviation of a subgroup (0 for a subgroup of one). */
export function sdOf(s: Subgroup): number {
  return s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0
}

function start(obs: Observation): Subgroup {
  return {
    firstTs: obs.ts,
    ts: obs.ts,
    n: 1,
    mean: obs.value,
    m2: 0,
    min: obs.value,
    max: obs.value,
    key: obs.key,
    count: obs.size === undefined ? undefined : obs.value,
    size: obs.size,
  }
}

/** Adds an observation to an open subgroup, in place (each field read once: the hot path). */
function add(s: Subgroup, obs: Observation): void {
  const x = obs.value
  const n = s.n + 1
  const previous = s.mean
  const delta = x - previous
  const mean = previous + delta / n
  s.ts = obs.ts
  s.n = n
  s.mean = mean
  s.m2 += delta * (x - mean)
  if (x < s.min) s.min = x
  if (x > s.max) s.max = x
}

/** A single observation as its own subgroup (I-MR and the attributes charts). */
export function single(obs: Observation): Subgroup {
  return start(obs)
}

/** `single`, written into `sg` (a scratch subgroup nothing keeps: Phase II of a one-point chart). */
export function singleInto(sg: Subgroup, obs: Observation): Subgroup {
  sg.firstTs = obs.ts
  sg.ts = obs.ts
  sg.n = 1
  sg.mean = obs.value
  sg.m2 = 0
  sg.min = obs.value
  sg.max = obs.value
  sg.key = obs.key
  sg.count = obs.size === undefined ? undefined : obs.value
  sg.size = obs.size
  return sg
}

const NONE_CLOSED: readonly Subgroup[] = Object.freeze([])

/**
 * Adds an observation, updating `state` in place; returns the subgroups it closes (none, or
 * one: the previous one when a key or time window changes, or the open one when it completes
 * a count). A closed subgroup is handed over and never touched again.
 */
export function addObservation(
  by: Subgrouping,
  state: SubgrouperState,
  obs: Observation,
): readonly Subgroup[] {
  const closed = addToSubgroup(by, state, obs)
  return closed === null ? NONE_CLOSED : [closed]
}

/** `addObservation` without the array (the driver's hot path): the subgroup it closes, or null. */
export function addToSubgroup(
  by: Subgrouping,
  state: SubgrouperState,
  obs: Observation,
): Subgroup | null {
  // By count, the usual case, first and short: it is compiled into the caller.
  if (by.by !== 'count') return addToWindowOrKey(by, state, obs)
  let sg = state.open
  if (sg) add(sg, obs)
  else {
    sg = open(state, obs)
    state.open = sg
  }
  if (!(sg.n >= by.size)) return null
  state.open = null
  state.windowStart = null
  return sg
}

function addToWindowOrKey(
  by: Exclude<Subgrouping, { by: 'count' }>,
  state: SubgrouperState,
  obs: Observation,
): Subgroup | null {
  let closed: Subgroup | null = null
  if (by.by === 'time') {
    const window = Math.floor(obs.ts / by.windowMs) * by.windowMs
    if (state.open && window !== state.windowStart) {
      closed = state.open
      state.open = null
    }
    if (state.open) add(state.open, obs)
    else state.open = open(state, obs)
    state.windowStart = window
  } else if (by.by === 'key') {
    if (state.open && obs.key !== state.open.key) {
      closed = state.open
      state.open = null
    }
    if (state.open) add(state.open, obs)
    else state.open = open(state, obs)
  }
  if (!state.open) state.windowStart = null
  return closed
}

/**
 * Closes what time has closed, in place: a time window that ended before `now`. With `force`,
 * closes any open subgroup (the end of a file, or a key-based subgroup nothing will follow).
 */
export function closeDue(
  by: Subgrouping,
  state: SubgrouperState,
  now: number,
  force = false,
): readonly Subgroup[] {
  const { open, windowStart } = state
  if (!open) return NONE_CLOSED
  const due =
    force || (by.by === 'time' && windowStart !== null && now >= windowStart + by.windowMs)
  if (!due) return NONE_CLOSED
  state.open = null
  state.windowStart = null
  return [open]
}
