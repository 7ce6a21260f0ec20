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

export function initialSubgrouperState(): SubgrouperState {
  return { open: null, windowStart: null }
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

/** Adds an observation to an open subgroup, in place. */
function add(s: Subgroup, obs: Observation): void {
  const n = s.n + 1
  const delta = obs.value - s.mean
  const mean = s.mean + delta / n
  s.ts = obs.ts
  s.n = n
  s.mean = mean
  s.m2 += delta * (obs.value - mean)
  if (obs.value < s.min) s.min = obs.value
  if (obs.value > s.max) s.max = obs.value
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

function pushTo(list: Subgroup[] | null, sg: Subgroup): Subgroup[] {
  if (list === null) return [sg]
  list.push(sg)
  return list
}

/**
 * Adds an observation, updating `state` in place; returns the subgroups it closes (none, or
 * the previous one when a key or time window changes, and the new one too when it completes a
 * count). A closed subgroup is handed over and never touched again.
 */
export function addObservation(
  by: Subgrouping,
  state: SubgrouperState,
  obs: Observation,
): readonly Subgroup[] {
  let closed: Subgroup[] | null = null
  switch (by.by) {
    case 'count':
      if (state.open) add(state.open, obs)
      else state.open = start(obs)
      if (state.open.n >= by.size) {
        closed = pushTo(closed, state.open)
        state.open = null
      }
      break
    case 'time': {
      const window = Math.floor(obs.ts / by.windowMs) * by.windowMs
      if (state.open && window !== state.windowStart) {
        closed = pushTo(closed, state.open)
        state.open = null
      }
      if (state.open) add(state.open, obs)
      else state.open = start(obs)
      state.windowStart = window
      break
    }
    case 'key':
      if (state.open && obs.key !== state.open.key) {
        closed = pushTo(closed, state.open)
        state.open = null
      }
      if (state.open) add(state.open, obs)
      else state.open = start(obs)
      break
  }
  if (!state.open) state.windowStart = null
  return closed ?? NONE_CLOSED
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
