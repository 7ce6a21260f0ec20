import type {
  AlarmCondition,
  AlarmDelay,
  AlarmSettings,
  LimitLevel,
  SpcSignal,
  ThresholdSettings,
} from './types.ts'

/**
 * What one alarm's settings mean, and whether they make sense. Validate once at the edge
 * (configuration, API) with `alarmSettingsProblems`; the evaluators then trust them.
 */

/** How a condition is judged. */
export type ConditionKind = 'above' | 'below' | 'target' | 'rate' | 'stale' | 'comm-loss' | 'signal'

const LIMIT_KIND: Record<LimitLevel, 'above' | 'below'> = {
  HH: 'above',
  H: 'above',
  L: 'below',
  LL: 'below',
}

const SPC_SIGNALS: readonly SpcSignal[] = [
  'N1',
  'N2',
  'N3',
  'N4',
  'N5',
  'N6',
  'N7',
  'N8',
  'WE1',
  'WE2',
  'WE3',
  'WE4',
  'cusum-upper',
  'cusum-lower',
]

export function isSpcSignal(condition: AlarmCondition): condition is SpcSignal {
  return (SPC_SIGNALS as readonly string[]).includes(condition)
}

export function conditionKind(condition: AlarmCondition): ConditionKind {
  if (condition in LIMIT_KIND) return LIMIT_KIND[condition as LimitLevel]
  if (condition === 'target' || condition === 'rate' || condition === 'stale') return condition
  if (condition === 'comm-loss') return 'comm-loss'
  return 'signal'
}

/** The deadband in the measurement's units: `units`, or `percent` of |threshold|; 0 without one. */
export function deadbandUnits(threshold: ThresholdSettings): number {
  const d = threshold.deadband
  if (d === undefined) return 0
  return 'units' in d ? d.units : (Math.abs(threshold.threshold) * d.percent) / 100
}

function delayProblem(name: string, delay: AlarmDelay | undefined): string | null {
  if (delay === undefined) return null
  if ('ms' in delay) {
    return Number.isFinite(delay.ms) && delay.ms >= 0 ? null : `${name}.ms must be a time ≥ 0`
  }
  return Number.isInteger(delay.readings) && delay.readings >= 1
    ? null
    : `${name}.readings must be a whole number ≥ 1`
}

const positive = (x: number | undefined): boolean => x !== undefined && Number.isFinite(x) && x > 0

/** Every reason the settings cannot be evaluated; empty when they can. */
export function alarmSettingsProblems(settings: AlarmSettings): string[] {
  const problems: string[] = []
  const kind = conditionKind(settings.condition)
  const t = settings.threshold
  const needsThreshold =
    kind === 'above' || kind === 'below' || kind === 'target' || kind === 'rate'
  if (needsThreshold && t === undefined) {
    problems.push(`condition ${settings.condition} needs a threshold`)
  }
  if (t !== undefined) {
    if (!Number.isFinite(t.threshold)) problems.push('threshold must be a finite number')
    if ((kind === 'target' || kind === 'rate') && t.threshold < 0) {
      problems.push(`the ${kind} threshold bounds an absolute value: it must be ≥ 0`)
    }
    const d = t.deadband
    if (d !== undefined) {
      const size = 'units' in d ? d.units : d.percent
      if (!Number.isFinite(size) || size < 0) problems.push('deadband must be ≥ 0')
    }
    for (const p of [delayProblem('onDelay', t.onDelay), delayProblem('offDelay', t.offDelay)]) {
      if (p !== null) problems.push(p)
    }
    if (kind === 'stale' && (t.onDelay !== undefined || t.offDelay !== undefined)) {
      problems.push('a stale alarm takes no delays: staleAfterMs is its delay')
    }
  }
  if (kind === 'target' && (settings.target === undefined || !Number.isFinite(settings.target))) {
    problems.push('condition target needs a target')
  }
  if (kind === 'rate' && !positive(settings.rateWindowMs)) {
    problems.push('condition rate needs rateWindowMs > 0')
  }
  if (kind === 'stale' && !positive(settings.staleAfterMs)) {
    problems.push('condition stale needs staleAfterMs > 0')
  }
  if (settings.reAlarmMs !== undefined && !positive(settings.reAlarmMs)) {
    problems.push('reAlarmMs must be > 0 when set')
  }
  return problems
}
