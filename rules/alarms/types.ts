/**
 * Alarm management after ANSI/ISA-18.2-2016 (IEC 62682): the types the pure alarm logic
 * (`rules/alarms/`), the gateway's alarm service and the dashboard share. Pure data: time
 * stamps are UTC milliseconds that arrive with the input, never read from a clock.
 */

/**
 * The alarm states of ISA-18.2-2016's state model (figure 5), by the names the API uses:
 * A normal, B unacknowledged active, C acknowledged active, D returned to normal
 * unacknowledged, E shelved, F suppressed by design, G out of service.
 */
export type AlarmState =
  | 'normal'
  | 'unack-active'
  | 'ack-active'
  | 'unack-rtn'
  | 'shelved'
  | 'suppressed'
  | 'out-of-service'

export const ALARM_STATES: readonly AlarmState[] = [
  'normal',
  'unack-active',
  'ack-active',
  'unack-rtn',
  'shelved',
  'suppressed',
  'out-of-service',
]

/** Priorities, most urgent first (ISA-18.2 5.3: three or four levels). */
export type AlarmPriority = 'critical' | 'high' | 'medium' | 'low'
export const ALARM_PRIORITIES: readonly AlarmPriority[] = ['critical', 'high', 'medium', 'low']

/**
 * What an alarm watches on its characteristic: the four limit levels (HH and LL the action
 * limits, H and L the alert limits), deviation from a target, rate of change, no update for a
 * time (stale), communication loss with the source, each SPC signal (a run rule, a CUSUM
 * side; an EWMA chart's signal is N1 on its z), and the grade A ≥ 5 µm rule of a cleanroom's
 * particle counter (a signal like the SPC ones).
 */
export type LimitLevel = 'HH' | 'H' | 'L' | 'LL'
export type SpcSignal =
  | 'N1'
  | 'N2'
  | 'N3'
  | 'N4'
  | 'N5'
  | 'N6'
  | 'N7'
  | 'N8'
  | 'WE1'
  | 'WE2'
  | 'WE3'
  | 'WE4'
  | 'cusum-upper'
  | 'cusum-lower'
export type AlarmCondition =
  | LimitLevel
  | 'target'
  | 'rate'
  | 'stale'
  | 'comm-loss'
  | SpcSignal
  /** EU GMP Annex 1 Table 5 note 2: consecutive or regular ≥ 5 µm counts in grade A (rules/cleanroom.ts). */
  | 'grade-a-5um'

/** A delay counted in time or in readings (ISA-18.2 on-delay and off-delay). */
export type AlarmDelay = { ms: number } | { readings: number }

/**
 * How a limit, target or rate condition turns on and off: the threshold, the deadband it must
 * come back by to clear (in the measurement's units, or a percentage of the threshold), and the
 * delays. A condition with neither delay acts on each reading at once.
 */
export interface ThresholdSettings {
  /** The limit (HH/H/L/LL), the largest allowed |x − target| (target), the rate per minute (rate). */
  threshold: number
  deadband?: { units: number } | { percent: number } | undefined
  onDelay?: AlarmDelay | undefined
  offDelay?: AlarmDelay | undefined
}

/** One configured alarm of a characteristic. */
export interface AlarmSettings {
  condition: AlarmCondition
  priority: AlarmPriority
  /** Limit, target and rate conditions. */
  threshold?: ThresholdSettings | undefined
  /** The target (condition `target`). */
  target?: number | undefined
  /** The window a rate of change is measured over (condition `rate`), ms. */
  rateWindowMs?: number | undefined
  /** No update for this long makes a `stale` alarm active, ms. */
  staleAfterMs?: number | undefined
  /** An alarm still active this long after it was acknowledged is announced again (unack-active), ms. */
  reAlarmMs?: number | undefined
}

/** The lifecycle of one alarm: its state and what the state model needs to move on. */
export interface AlarmRecord {
  state: AlarmState
  /** The condition holds (after its delays), whatever the lifecycle state. */
  active: boolean
  /** The current activation (or return) has been acknowledged. */
  acknowledged: boolean
  /** When the condition last became active (null while it is not). */
  activeSince: number | null
  /** When the alarm was last acknowledged (re-alarm counts from here). */
  acknowledgedAt: number | null
  /** Shelved until (auto-unshelve), when shelved. */
  shelvedUntil: number | null
  /** The condition became active while shelved (an automatic unshelve then returns it unacknowledged). */
  activeWhileShelved: boolean
  /** The value and limit at the latest change of the condition. */
  value: number | null
  limit: number | null
  /** When the state last changed. */
  since: number
  /**
   * Suppression by design holds (whatever the state): remembered while shelved or out of
   * service, so that the alarm goes to `suppressed` when those end while it still holds.
   * Optional for records written before it existed (absent = false).
   */
  suppressedByDesign?: boolean | undefined
}

/**
 * What moves an alarm: the condition (from the readings, or time for stale), a person (with
 * who and why), suppression by design, or time passing (auto-unshelve, re-alarm).
 */
export type AlarmInput =
  | { kind: 'condition'; at: number; active: boolean; value: number | null; limit: number | null }
  | { kind: 'acknowledge'; at: number; by: string; comment?: string | undefined }
  | { kind: 'shelve'; at: number; by: string; reason: string; until: number }
  | { kind: 'unshelve'; at: number; by: string; reason?: string | undefined }
  | { kind: 'remove-from-service'; at: number; by: string; reason: string }
  | { kind: 'return-to-service'; at: number; by: string; reason?: string | undefined }
  | { kind: 'suppress'; at: number; on: boolean; why: string }
  | { kind: 'tick'; at: number }

/** One transition of an alarm's state, as the history keeps it. */
export interface AlarmTransition {
  from: AlarmState
  to: AlarmState
  at: number
  /** Who (a user or token id), or null for the process and time. */
  by: string | null
  /** Why: the condition's words, the operator's comment or reason, "shelve expired", … */
  why: string
  value: number | null
}
