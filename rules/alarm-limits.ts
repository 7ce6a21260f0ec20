/**
 * Alert and action limits: fixed limits from the configuration (for example a filling
 * tolerance, or the GMP Annex 1 alert and action levels of a cleanroom), as opposed to the
 * statistical control limits a chart estimates. A value strictly beyond a limit is past it.
 */

export interface AlarmLimits {
  actionLow?: number | undefined
  alertLow?: number | undefined
  alertHigh?: number | undefined
  actionHigh?: number | undefined
}

export type LimitZone = 'normal' | 'alert-low' | 'alert-high' | 'action-low' | 'action-high'

export function classifyLimits(limits: AlarmLimits, value: number): LimitZone {
  if (limits.actionHigh !== undefined && value > limits.actionHigh) return 'action-high'
  if (limits.actionLow !== undefined && value < limits.actionLow) return 'action-low'
  if (limits.alertHigh !== undefined && value > limits.alertHigh) return 'alert-high'
  if (limits.alertLow !== undefined && value < limits.alertLow) return 'alert-low'
  return 'normal'
}

/** The limit a zone lies beyond. */
export function limitOfZone(limits: AlarmLimits, zone: Exclude<LimitZone, 'normal'>): number {
  const limit = {
    'action-high': limits.actionHigh,
    'action-low': limits.actionLow,
    'alert-high': limits.alertHigh,
    'alert-low': limits.alertLow,
  }[zone]
  if (limit === undefined) throw new Error(`no limit defines zone ${zone}`)
  return limit
}

/**
 * Checks the ordering actionLow ≤ alertLow < alertHigh ≤ actionHigh for the limits that are
 * set. Returns a reason for each pair out of order.
 */
export function alarmLimitProblems(limits: AlarmLimits): string[] {
  const order: (keyof AlarmLimits)[] = ['actionLow', 'alertLow', 'alertHigh', 'actionHigh']
  const problems: string[] = []
  for (let i = 0; i < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) {
      const a = order[i] as keyof AlarmLimits
      const b = order[j] as keyof AlarmLimits
      const lo = limits[a]
      const hi = limits[b]
      if (lo !== undefined && hi !== undefined && lo > hi) {
        problems.push(`${a} (${lo}) must not be above ${b} (${hi})`)
      }
    }
  }
  return problems
}
