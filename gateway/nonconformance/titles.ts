import type { NcCause } from '../contract.ts'

const WHAT: Record<NcCause, string> = {
  'action-high': 'above the action limit',
  'action-low': 'below the action limit',
  'alert-high': 'above the alert limit',
  'alert-low': 'below the alert limit',
  N1: 'beyond 3σ of the centre line (N1)',
  N2: 'nine in a row on one side of the centre line (N2)',
  N3: 'six in a row steadily increasing or decreasing (N3)',
  N4: 'fourteen in a row alternating up and down (N4)',
  N5: 'two of three beyond 2σ on one side (N5)',
  N6: 'four of five beyond 1σ on one side (N6)',
  N7: 'fifteen in a row within 1σ of the centre line (N7)',
  N8: 'eight in a row beyond 1σ on either side (N8)',
  WE1: 'beyond 3σ of the centre line (WE1)',
  WE2: 'two of three beyond 2σ on one side (WE2)',
  WE3: 'four of five beyond 1σ on one side (WE3)',
  WE4: 'eight in a row on one side of the centre line (WE4)',
  'cusum-upper': 'shifted up: CUSUM C⁺ beyond h',
  'cusum-lower': 'shifted down: CUSUM C⁻ beyond h',
  target: 'off target',
  rate: 'changing faster than allowed',
  stale: 'not updated',
  'comm-loss': 'communication lost',
  'grade-a-5um': 'counting ≥5 µm particles consecutively or regularly in grade A (Annex 1)',
}

/** A limits test on a pane other than a Shewhart chart's centre pane: what crossed which limit. */
const PANE_LIMIT: Record<string, string> = {
  ewma: 'EWMA z beyond its limit',
  mr: 'moving range beyond its limit',
  r: 'range beyond its limit',
  s: 'standard deviation beyond its limit',
}

/**
 * A nonconformance's title, e.g. "Fill weight above the action limit". A limits test (N1, WE1)
 * on the EWMA, moving range, range or S pane names that pane's statistic: "Spindle temperature
 * EWMA z beyond its limit (N1)", not "beyond 3σ of the centre line".
 */
export function ncTitle(
  characteristicName: string,
  cause: NcCause,
  pane: string | null = null,
): string {
  const on = pane === null ? undefined : PANE_LIMIT[pane]
  if (on && (cause === 'N1' || cause === 'WE1')) return `${characteristicName} ${on} (${cause})`
  return `${characteristicName} ${WHAT[cause]}`
}

/** NC-000042 */
export function ncNumber(id: number): string {
  return `NC-${String(id).padStart(6, '0')}`
}
