import type {
  AlarmLimits,
  Cause,
  CharacteristicView,
  NcCause,
  Status,
  ViolationRule,
} from '../../../gateway/contract.ts'
import { formatQuantity, formatValue } from './format.ts'

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
            ? `OUT OF CONTROL · ${rulesShort(view.state.rules)}`
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
  { status: 'spc', label: 'OUT OF CONTROL', meaning: 'a run rule or CUSUM signal' },
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
  'cusum-upper': 'the upper cumulative sum C⁺ passed h (the mean shifted up)',
  'cusum-lower': 'the lower cumulative sum C⁻ passed h (the mean shifted down)',
}

/** Short names of what a point can be flagged for: the rule id, or "CUSUM up" / "CUSUM down". */
export function ruleShort(rule: ViolationRule): string {
  if (rule === 'cusum-upper') return 'CUSUM up'
  if (rule === 'cusum-lower') return 'CUSUM down'
  return rule
}

/**
 * Several rules in the few words a tile has room for: "N1 N2", "CUSUM up", "CUSUM up/down";
 * beyond three, the first two and how many more ("N1 N2 +3").
 */
export function rulesShort(rules: readonly ViolationRule[]): string {
  const unique = [...new Set(rules)]
  const up = unique.includes('cusum-upper')
  const down = unique.includes('cusum-lower')
  const words = unique.filter((r) => r !== 'cusum-upper' && r !== 'cusum-lower') as string[]
  if (up || down) words.unshift(up && down ? 'CUSUM up/down' : up ? 'CUSUM up' : 'CUSUM down')
  return words.length > 3 ? `${words.slice(0, 2).join(' ')} +${words.length - 2}` : words.join(' ')
}

/**
 * A limits test (N1, WE1) on a pane whose limits are not the centre line ± 3σ of the readings:
 * what crossed which limit (gateway/nonconformance/titles.ts says the same in NC titles).
 */
const PANE_LIMIT: Record<string, string> = {
  ewma: 'the EWMA z beyond its limit',
  mr: 'a moving range beyond its limit',
  r: 'a range beyond its limit',
  s: 'a standard deviation beyond its limit',
}

/** What a run rule means, for tooltips: "N1: a point beyond 3σ from the centre line", "CUSUM up: …". */
export function describeRule(rule: ViolationRule): string {
  return `${ruleShort(rule)}: ${RULES[rule] ?? 'run rule'}`
}

/**
 * What a run rule means on the pane it judged: a limits test on an EWMA, MR, R or S pane names
 * that pane's statistic ("N1: the EWMA z beyond its limit"), anything else as describeRule.
 */
export function describeRuleOn(rule: ViolationRule, pane: string | null): string {
  const on = pane === null ? undefined : PANE_LIMIT[pane]
  if (on && (rule === 'N1' || rule === 'WE1')) return `${rule}: ${on}`
  return describeRule(rule)
}

const CAUSES: Record<Exclude<Cause, ViolationRule>, string> = {
  'action-high': 'Action high',
  'action-low': 'Action low',
  'alert-high': 'Alert high',
  'alert-low': 'Alert low',
}

/**
 * Causes of nonconformances opened by alarms other than limits and rules (target, rate, stale,
 * comm-loss, the grade A ≥5 µm rule): their words and the colour of their chip. Looked up by
 * name, so a cause the gateway adds later reads as its name rather than failing.
 */
const OTHER_CAUSES: Readonly<Record<string, { label: string; words: string; status: Status }>> = {
  target: { label: 'Off target', words: 'OFF TARGET', status: 'alert' },
  rate: { label: 'Rate of change', words: 'RATE OF CHANGE', status: 'alert' },
  stale: { label: 'Not updated', words: 'NOT UPDATED', status: 'alert' },
  'comm-loss': { label: 'Communication lost', words: 'COMMUNICATION LOST', status: 'action' },
  'grade-a-5um': { label: 'Grade A ≥5 µm', words: 'GRADE A ≥5 µm', status: 'action' },
}

/** A cause in words: "Action high", or for a run rule "N2 (out of control)", "CUSUM up (out of control)". */
export function causeLabel(cause: NcCause): string {
  if (isRule(cause)) return `${ruleShort(cause)} (out of control)`
  return CAUSES[cause as keyof typeof CAUSES] ?? OTHER_CAUSES[cause]?.label ?? cause
}

/** The status a cause puts a characteristic in. */
export function statusOfCause(cause: NcCause): Status {
  if (isRule(cause)) return 'spc'
  const other = OTHER_CAUSES[cause]
  if (other) return other.status
  return cause.startsWith('action') ? 'action' : 'alert'
}

/** A run rule or a CUSUM signal (out of statistical control), as opposed to a limit excursion. */
export function isRule(cause: NcCause): cause is ViolationRule {
  return !(cause in CAUSES) && !(cause in OTHER_CAUSES)
}

/** A deviation's cause in the words of the tiles: "ACTION HIGH", "ALERT LOW", "OUT OF CONTROL · N1", "OUT OF CONTROL · CUSUM up". */
export function causeWords(cause: NcCause): string {
  if (isRule(cause)) return `OUT OF CONTROL · ${ruleShort(cause)}`
  return OTHER_CAUSES[cause]?.words ?? cause.replace('-', ' ').toUpperCase()
}

/**
 * The value a deviation or nonconformance reports, in its own terms: a CUSUM signal's is the sum
 * that passed h, in σ units ("C⁺ 4.52σ"), anything else a value in the characteristic's unit.
 */
export function causeValueText(
  cause: NcCause,
  value: number,
  decimals: number,
  unit: string,
  pane: string | null = null,
): string {
  if (cause === 'cusum-upper') return `C⁺ ${formatValue(value, 2)}σ`
  if (cause === 'cusum-lower') return `C⁻ ${formatValue(value, 2)}σ`
  // A rule on a pane that does not plot readings (MR, R, S, X̄, EWMA) names the statistic.
  const symbol = pane && !READING_PANES.has(pane) ? `${STATISTIC[pane] ?? pane} ` : ''
  return `${symbol}${formatQuantity(value, decimals, unit)}`
}

/** Panes whose statistic is the reading itself (or its proportion, count, rate). */
const READING_PANES: ReadonlySet<string> = new Set(['i', 'p', 'np', 'c', 'u'])
const STATISTIC: Record<string, string> = { mr: 'MR', xbar: 'X̄', r: 'R', s: 'S', ewma: 'z' }

/** How many characteristics are in each status, in STATUS_ORDER, leaving out the statuses with none. */
export function countStatuses(statuses: Iterable<Status>): { status: Status; count: number }[] {
  const counts = new Map<Status, number>()
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1)
  return STATUS_ORDER.filter((s) => counts.has(s)).map((status) => ({
    status,
    count: counts.get(status) ?? 0,
  }))
}
