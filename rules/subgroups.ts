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

function add(s: Subgroup, obs: Observation): Subgroup {
  const n = s.n + 1
  const delta = obs.value - s.mean
  const mean = s.mean + delta / n
  return {
    ...s,
    ts: obs.ts,
    n,
    mean,
    m2: s.m2 + delta * (obs.value - mean),
    min: Math.min(s.min, obs.value),
    max: Math.max(s.max, obs.value),
  }
}

/** A single observation as its own subgroup (I-MR and the attributes charts). */
export function single(obs: Observation): Subgroup {
  return start(obs)
}

/**
 * Adds an observation; returns the subgroups it closes (none, or the previous one when a key
 * or time window changes, and the new one too when it completes a count).
 */
export function addObservation(
  by: Subgrouping,
  state: SubgrouperState,
  obs: Observation,
): { state: SubgrouperState; closed: Subgroup[] } {
  const closed: Subgroup[] = []
  let { open, windowStart } = state
  switch (by.by) {
    case 'count':
      open = open ? add(open, obs) : start(obs)
      if (open.n >= by.size) {
        closed.push(open)
        open = null
      }
      break
    case 'time': {
      const window = Math.floor(obs.ts / by.windowMs) * by.windowMs
      if (open && window !== windowStart) {
        closed.push(open)
        open = null
      }
      open = open ? add(open, obs) : start(obs)
      windowStart = window
      break
    }
    case 'key':
      if (open && obs.key !== open.key) {
        closed.push(open)
        open = null
      }
      open = open ? add(open, obs) : start(obs)
      break
  }
  return { state: { open, windowStart: open ? windowStart : null }, closed }
}

/**
 * Closes what time has closed: a time window that ended before `now`. With `force`, closes
 * any open subgroup (the end of a file, or a key-based subgroup nothing will follow).
 */
export function closeDue(
  by: Subgrouping,
  state: SubgrouperState,
  now: number,
  force = false,
): { state: SubgrouperState; closed: Subgroup[] } {
  const { open, windowStart } = state
  if (!open) return { state, closed: [] }
  const due =
    force || (by.by === 'time' && windowStart !== null && now >= windowStart + by.windowMs)
  return due ? { state: initialSubgrouperState(), closed: [open] } : { state, closed: [] }
}
