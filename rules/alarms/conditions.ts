import { type DelayState, initialDelay, stepDelay } from './delay.ts'
import { alarmSettingsProblems, conditionKind, deadbandUnits } from './settings.ts'
import type { AlarmSettings, ThresholdSettings } from './types.ts'

/**
 * One alarm's condition, evaluated from its inputs with an injected time: whether it holds
 * after its deadband and delays. Pure; the state is plain JSON (a JSON round trip carries on
 * exactly). Inputs are expected in time order (one characteristic's stream).
 *
 * - HH, H: raw condition value > threshold (strictly: a value on the limit is not beyond it,
 *   as `classifyLimits` has it). Once active it clears only when value ≤ threshold − deadband
 *   (on the deadband's edge counts as back). L, LL mirror it: value < threshold, clears when
 *   value ≥ threshold + deadband. A value oscillating inside the deadband neither clears nor
 *   re-triggers: no chattering.
 * - target: the same on |value − target| (> threshold; clears at ≤ threshold − deadband, never
 *   below 0). The limit reported is the side crossed, target ± threshold.
 * - rate: the rate per minute (see `RATE_WINDOW_CAP`), |rate| > threshold, same deadband. A
 *   reading alone in its window gives no rate and leaves the condition as it is.
 * - stale: active when no reading came for `staleAfterMs` (age ≥ staleAfterMs; the age counts
 *   from the first input of any kind until a first reading arrives), judged at ticks and at
 *   any other input; the next reading clears it at once. No delays: staleAfterMs is its delay.
 *   Value: the age (ms) at a tick, the gap the reading closed at a reading; limit staleAfterMs.
 * - comm-loss: active while the latest `source` input says not ok.
 * - SPC signals: active while the latest `signal` input is flagged; value and limit as given.
 *
 * On-delay and off-delay (`threshold.onDelay/offDelay`) apply to all but stale, see
 * `stepDelay`; a count delay counts the inputs that evaluate the condition (readings for
 * limit, target and rate; `source` inputs for comm-loss; `signal` points for SPC signals).
 * For comm-loss and SPC signals only the delays of `threshold` are used.
 */

/**
 * The rate's memory bound: the readings of the window, at most this many (the oldest are
 * dropped first: with more readings than that in `rateWindowMs` the rate is measured over the
 * last 1,000 readings, a shorter span).
 */
export const RATE_WINDOW_CAP = 1000

export interface ConditionState {
  delay: DelayState
  /** The first input's time: a stale alarm counts from here until a first reading. */
  watchingSince: number | null
  lastReadingAt: number | null
  /** The value and limit of the latest evaluation (carried by ticks that end a delay). */
  value: number | null
  limit: number | null
  /** Rate: the readings in the window, oldest first (at most RATE_WINDOW_CAP). */
  window: { at: number; value: number }[]
}

export type ConditionInput =
  | { kind: 'reading'; at: number; value: number }
  | { kind: 'tick'; at: number }
  | { kind: 'source'; at: number; ok: boolean }
  | { kind: 'signal'; at: number; flagged: boolean; value: number | null; limit: number | null }

export interface ConditionStep {
  state: ConditionState
  /** The condition holds, after deadband and delays. */
  active: boolean
  /** `active` differs from the previous step's. */
  changed: boolean
  value: number | null
  limit: number | null
}

export function initialCondition(): ConditionState {
  return {
    delay: initialDelay(),
    watchingSince: null,
    lastReadingAt: null,
    value: null,
    limit: null,
    window: [],
  }
}

/** What a reading (or signal) says: the raw condition after hysteresis, its value and limit. */
interface Evaluation {
  want: boolean | null
  value: number | null
  limit: number | null
}

const NONE: Evaluation = { want: null, value: null, limit: null }

/** Hysteresis on a magnitude that alarms when above `threshold`. */
function aboveWithDeadband(active: boolean, x: number, threshold: number, deadband: number) {
  return active ? x > Math.max(0, threshold - deadband) : x > threshold
}

function limitLevel(kind: 'above' | 'below', t: ThresholdSettings, active: boolean, x: number) {
  const db = deadbandUnits(t)
  const T = t.threshold
  if (kind === 'above') return active ? x > T - db : x > T
  return active ? x < T + db : x < T
}

/** Keeps the readings in [at − windowMs, at], at most RATE_WINDOW_CAP; the rate per minute. */
function rateOf(window: ConditionState['window'], at: number, value: number, windowMs: number) {
  const kept = [...window.filter((r) => r.at >= at - windowMs), { at, value }]
  const bounded = kept.length > RATE_WINDOW_CAP ? kept.slice(kept.length - RATE_WINDOW_CAP) : kept
  const oldest = bounded[0] as { at: number; value: number }
  const dt = at - oldest.at
  return { window: bounded, rate: dt > 0 ? ((value - oldest.value) / dt) * 60_000 : null }
}

function required<T>(x: T | undefined, settings: AlarmSettings): T {
  if (x === undefined) {
    throw new Error(`alarm settings not valid: ${alarmSettingsProblems(settings).join('; ')}`)
  }
  return x
}

export function stepCondition(
  settings: AlarmSettings,
  state: ConditionState,
  input: ConditionInput,
): ConditionStep {
  const kind = conditionKind(settings.condition)
  const active = state.delay.active
  const watchingSince = state.watchingSince ?? input.at
  let { lastReadingAt, window } = state
  let evaluation: Evaluation = NONE

  switch (kind) {
    case 'above':
    case 'below': {
      const t = required(settings.threshold, settings)
      if (input.kind === 'reading') {
        evaluation = {
          want: limitLevel(kind, t, active, input.value),
          value: input.value,
          limit: t.threshold,
        }
      }
      break
    }
    case 'target': {
      const t = required(settings.threshold, settings)
      const target = required(settings.target, settings)
      if (input.kind === 'reading') {
        const deviation = Math.abs(input.value - target)
        evaluation = {
          want: aboveWithDeadband(active, deviation, t.threshold, deadbandUnits(t)),
          value: input.value,
          limit: input.value >= target ? target + t.threshold : target - t.threshold,
        }
      }
      break
    }
    case 'rate': {
      const t = required(settings.threshold, settings)
      const windowMs = required(settings.rateWindowMs, settings)
      if (input.kind === 'reading') {
        const r = rateOf(window, input.at, input.value, windowMs)
        window = r.window
        if (r.rate !== null) {
          evaluation = {
            want: aboveWithDeadband(active, Math.abs(r.rate), t.threshold, deadbandUnits(t)),
            value: r.rate,
            limit: r.rate < 0 ? -t.threshold : t.threshold,
          }
        }
      }
      break
    }
    case 'stale': {
      const after = required(settings.staleAfterMs, settings)
      const age = input.at - (lastReadingAt ?? watchingSince)
      evaluation = {
        want: input.kind === 'reading' ? false : age >= after,
        value: age,
        limit: after,
      }
      break
    }
    case 'comm-loss':
      if (input.kind === 'source') evaluation = { want: !input.ok, value: null, limit: null }
      break
    case 'signal':
      if (input.kind === 'signal') {
        evaluation = { want: input.flagged, value: input.value, limit: input.limit }
      }
      break
  }
  if (input.kind === 'reading') lastReadingAt = input.at

  const delays = kind === 'stale' ? {} : (settings.threshold ?? {})
  const d = stepDelay(delays, state.delay, input.at, evaluation.want)
  const evaluated = evaluation.want !== null
  const value = evaluated ? evaluation.value : state.value
  const limit = evaluated ? evaluation.limit : state.limit
  return {
    state: { delay: d.state, watchingSince, lastReadingAt, value, limit, window },
    active: d.state.active,
    changed: d.changed,
    value,
    limit,
  }
}
