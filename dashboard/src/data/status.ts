import type {
  AlarmLimits,
  Cause,
  CharacteristicView,
  Status,
  ViolationRule,
} from '../../../gateway/contract.ts'

/** Statuses, most severe first (the order of `Status` in rules/characteristic.ts). */
export const STATUS_ORDER: readonly Status[] = [
  'action',
  'alert',
  'spc',
  'normal',
  'baseline',
  'no-data',
]

/** Larger is more severe. */
export function severity(status: Status): number {
  return STATUS_ORDER.length - STATUS_ORDER.indexOf(status)
}

/** The most severe of some statuses; 'no-data' for none. */
export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'no-data'
  for (const s of statuses) if (severity(s) > severity(worst)) worst = s
  return worst
}

/** Whether a status is abnormal: only these get colour on the wall display (ISA-101). */
export function isAbnormal(status: Status): boolean {
  return status === 'action' || status === 'alert' || status === 'spc'
}

export interface StatusLabel {
  status: Status
  /** Words that say the state without colour, e.g. "ACTION HIGH", "OUT OF CONTROL · N2", "BASELINE 12/25". */
  text: string
}

/**
 * What a tile says about its state. The side (HIGH/LOW) of a limit excursion comes from the last
 * value against the configured limits; the run rules of an out-of-control state from the state.
 */
export function statusLabel(view: Pick<CharacteristicView, 'limits' | 'state'>): StatusLabel {
  const { status, last, baseline } = view.state
  switch (status) {
    case 'action':
      return { status, text: withSide('ACTION', sideOf(view.limits, last?.value, 'action')) }
    case 'alert':
      return { status, text: withSide('ALERT', sideOf(view.limits, last?.value, 'alert')) }
    case 'spc':
      return {
        status,
        text:
          view.state.rules.length > 0
            ? `OUT OF CONTROL · ${view.state.rules.join(' ')}`
            : 'OUT OF CONTROL',
      }
    case 'baseline':
      return { status, text: baseline ? `BASELINE ${baseline.have}/${baseline.need}` : 'BASELINE' }
    case 'no-data':
      return { status, text: 'NO DATA' }
    case 'normal':
      return { status, text: 'NORMAL' }
  }
}

function withSide(word: string, side: 'HIGH' | 'LOW' | null): string {
  return side ? `${word} ${side}` : word
}

function sideOf(
  limits: AlarmLimits,
  value: number | undefined,
  kind: 'action' | 'alert',
): 'HIGH' | 'LOW' | null {
  if (value === undefined) return null
  const high = kind === 'action' ? limits.actionHigh : limits.alertHigh
  const low = kind === 'action' ? limits.actionLow : limits.alertLow
  if (high !== undefined && value > high) return 'HIGH'
  if (low !== undefined && value < low) return 'LOW'
  return null
}

/** The legend of the wall display, in the order it is shown. */
export const LEGEND: readonly { status: Status; label: string; meaning: string }[] = [
  { status: 'action', label: 'ACTION', meaning: 'past an action limit' },
  { status: 'alert', label: 'ALERT', meaning: 'past an alert limit' },
  { status: 'spc', label: 'OUT OF CONTROL', meaning: 'a run rule fired' },
  { status: 'normal', label: 'NORMAL', meaning: 'in control' },
  { status: 'baseline', label: 'BASELINE', meaning: 'limits being estimated' },
  { status: 'no-data', label: 'NO DATA', meaning: 'no reading yet' },
]

const RULES: Record<ViolationRule, string> = {
  N1: 'a point beyond 3σ from the centre line',
  N2: 'nine points in a row on one side of the centre line',
  N3: 'six points in a row steadily increasing or decreasing',
  N4: 'fourteen points in a row alternating up and down',
  N5: 'two of three points beyond 2σ on one side',
  N6: 'four of five points beyond 1σ on one side',
  N7: 'fifteen points in a row within 1σ of the centre line',
  N8: 'eight points in a row beyond 1σ on either side',
  WE1: 'a point beyond 3σ from the centre line',
  WE2: 'two of three points beyond 2σ on one side',
  WE3: 'four of five points beyond 1σ on one side',
  WE4: 'eight points in a row on one side of the centre line',
  'cusum-upper': 'CUSUM C⁺ beyond h: the process shifted up',
  'cusum-lower': 'CUSUM C⁻ beyond h: the process shifted down',
}

/** What a run rule means, for tooltips: "N1: a point beyond 3σ from the centre line". */
export function describeRule(rule: ViolationRule): string {
  return `${rule}: ${RULES[rule] ?? 'run rule'}`
}

const CAUSES: Record<Exclude<Cause, ViolationRule>, string> = {
  'action-high': 'Action high',
  'action-low': 'Action low',
  'alert-high': 'Alert high',
  'alert-low': 'Alert low',
}

/** A cause in words: "Action high", or for a run rule "N2 (out of control)". */
export function causeLabel(cause: Cause): string {
  return isRule(cause) ? `${cause} (out of control)` : CAUSES[cause]
}

/** The status a cause puts a characteristic in. */
export function statusOfCause(cause: Cause): Status {
  if (isRule(cause)) return 'spc'
  return cause.startsWith('action') ? 'action' : 'alert'
}

/** A run rule or a CUSUM signal (out of statistical control), as opposed to a limit excursion. */
export function isRule(cause: Cause): cause is ViolationRule {
  return !(cause in CAUSES)
}

/** A deviation's cause in the words of the tiles: "ACTION HIGH", "ALERT LOW", "OUT OF CONTROL · N1". */
export function causeWords(cause: Cause): string {
  return isRule(cause) ? `OUT OF CONTROL · ${cause}` : cause.replace('-', ' ').toUpperCase()
}

/** How many characteristics are in each status, in STATUS_ORDER, leaving out the statuses with none. */
export function countStatuses(statuses: Iterable<Status>): { status: Status; count: number }[] {
  const counts = new Map<Status, number>()
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1)
  return STATUS_ORDER.filter((s) => counts.has(s)).map((status) => ({
    status,
    count: counts.get(status) ?? 0,
  }))
}
