import type { Cause } from '../../rules/index.ts'

const WHAT: Record<Cause, string> = {
  'action-high': 'above the action limit',
  'action-low': 'below the action limit',
  'alert-high': 'above the alert limit',
  'alert-low': 'below the alert limit',
  N1: 'beyond 3σ of the centre line (N1)',
  N2: 'nine in a row on one side of the centre line (N2)',
}

/** A nonconformance's title, e.g. "Fill weight above the action limit". */
export function ncTitle(characteristicName: string, cause: Cause): string {
  return `${characteristicName} ${WHAT[cause]}`
}

/** NC-000042 */
export function ncNumber(id: number): string {
  return `NC-${String(id).padStart(6, '0')}`
}
