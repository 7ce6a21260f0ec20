import type { AlarmDelay } from './types.ts'

/**
 * ISA-18.2 on-delay and off-delay: the raw condition must differ from the alarm's output
 * continuously for a time, or for a number of consecutive evaluations, before the output
 * follows it. One engine for every condition: the caller says what it wants the output to be
 * (`want`, with its hysteresis already applied) at each evaluation, or `null` when an input
 * brings no new evaluation (a tick), which only lets a time delay run out.
 *
 * - A time delay is measured from the first evaluation that differed (not from the tick that
 *   notices it) and is met when `at − pendingSince ≥ ms`, judged at evaluations and ticks.
 * - A count delay is met at the `readings`-th consecutive differing evaluation (1 = at once).
 * - An evaluation that agrees with the output again cancels what was pending (an on-delay
 *   cancelled by a return; an off-delay cancelled by a new excursion).
 * - Without a delay the output follows the first differing evaluation.
 */
export interface DelayState {
  /** The output: the condition after its delays. */
  active: boolean
  /** When the raw condition started to differ from the output; null when it does not. */
  pendingSince: number | null
  /** Consecutive evaluations that differed. */
  pendingCount: number
}

export interface Delays {
  onDelay?: AlarmDelay | undefined
  offDelay?: AlarmDelay | undefined
}

export function initialDelay(): DelayState {
  return { active: false, pendingSince: null, pendingCount: 0 }
}

function met(delay: AlarmDelay | undefined, state: DelayState, at: number): boolean {
  if (state.pendingSince === null) return false
  if (delay === undefined) return true
  if ('ms' in delay) return at - state.pendingSince >= delay.ms
  return state.pendingCount >= delay.readings
}

export function stepDelay(
  delays: Delays,
  state: DelayState,
  at: number,
  want: boolean | null,
): { state: DelayState; changed: boolean } {
  let next = state
  if (want !== null) {
    next =
      want === state.active
        ? { active: state.active, pendingSince: null, pendingCount: 0 }
        : {
            active: state.active,
            pendingSince: state.pendingSince ?? at,
            pendingCount: state.pendingCount + 1,
          }
  }
  const delay = next.active ? delays.offDelay : delays.onDelay
  if (!met(delay, next, at)) return { state: next, changed: false }
  return { state: { active: !next.active, pendingSince: null, pendingCount: 0 }, changed: true }
}
