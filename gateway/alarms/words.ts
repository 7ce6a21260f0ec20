import type { AlarmCondition } from '../../rules/index.ts'

/** What each condition says about a characteristic, for a person. */
const WHAT: Record<AlarmCondition, string> = {
  HH: 'above the action limit (HH)',
  H: 'above the alert limit (H)',
  L: 'below the alert limit (L)',
  LL: 'below the action limit (LL)',
  target: 'off target',
  rate: 'changing too fast',
  stale: 'not updated',
  'comm-loss': 'communication lost',
  N1: 'beyond 3σ (N1)',
  N2: 'nine in a row on one side (N2)',
  N3: 'six in a row trending (N3)',
  N4: 'fourteen in a row alternating (N4)',
  N5: 'two of three beyond 2σ (N5)',
  N6: 'four of five beyond 1σ (N6)',
  N7: 'fifteen in a row within 1σ (N7)',
  N8: 'eight in a row beyond 1σ (N8)',
  WE1: 'beyond 3σ (WE1)',
  WE2: 'two of three beyond 2σ (WE2)',
  WE3: 'four of five beyond 1σ (WE3)',
  WE4: 'eight in a row on one side (WE4)',
  'cusum-upper': 'shifted up (CUSUM C⁺ beyond h)',
  'cusum-lower': 'shifted down (CUSUM C⁻ beyond h)',
  'grade-a-5um': '≥5 µm particles counted again and again (grade A, Annex 1)',
}

/** A number as a person writes it: no float noise (507.20000000000005 → 507.2). */
export function numberWords(x: number): string {
  return String(Number(x.toPrecision(6)))
}
const num = numberWords

/** A duration in its two largest units: "2 h 5 min", "4 min 10 s", "12 s", "800 ms". */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.round(ms / 1000)
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor(s / 3600) % 24, 'h'],
    [Math.floor(s / 60) % 60, 'min'],
    [s % 60, 's'],
  ]
  const first = parts.findIndex(([n]) => n > 0)
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ')
}

/** e.g. "Fill weight above the action limit (HH): 506.4 g, limit 506 g". */
export function alarmMessage(
  name: string,
  condition: AlarmCondition,
  value: number | null,
  limit: number | null,
  unit: string,
): string {
  // A CUSUM sum is in σ units, not the measurement's.
  const u = unit && !condition.startsWith('cusum') ? ` ${unit}` : ''
  const text = `${name} ${WHAT[condition]}`
  if (condition === 'stale')
    return limit === null ? text : `${text} for ${Math.round(limit / 1000)} s or more`
  if (condition === 'rate')
    return value === null
      ? text
      : `${text}: ${num(value)}${u}/min, limit ${num(limit ?? 0)}${u}/min`
  if (value === null || !Number.isFinite(value) || condition === 'comm-loss') return text
  return limit === null
    ? `${text}: ${num(value)}${u}`
    : `${text}: ${num(value)}${u}, limit ${num(limit)}${u}`
}
