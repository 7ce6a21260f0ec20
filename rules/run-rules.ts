import type { RuleId, Violation } from './types.ts'

/**
 * Run rules over a stream of points judged against a centre line and σ, with O(1) state.
 *
 * Conventions (Minitab's "tests for special causes"):
 * - N1: a point strictly beyond 3σ; a point exactly on a control limit is in control.
 * - N2: nine points in a row on one side of the centre line; a point exactly on the centre
 *   line belongs to neither side and breaks the run. Every point that still completes a run
 *   of nine is flagged.
 */

export interface RunRuleState {
  /** Side of the centre line of the current run: 1 above, -1 below, 0 none. */
  side: -1 | 0 | 1
  /** Length of the current run on `side`. */
  length: number
}

export const N2_RUN_LENGTH = 9

export function initialRunRuleState(): RunRuleState {
  return { side: 0, length: 0 }
}

export interface RuleInput {
  index: number
  statistic: number
  center: number
  sigma: number
}

/** Advances the rule state by one point and returns the rules that point completes. */
export function stepRunRules(
  enabled: readonly RuleId[],
  state: RunRuleState,
  pane: string,
  point: RuleInput,
): { state: RunRuleState; violations: Violation[] } {
  const deviation = point.statistic - point.center
  const side: -1 | 0 | 1 = deviation > 0 ? 1 : deviation < 0 ? -1 : 0
  const next: RunRuleState =
    side === 0
      ? { side: 0, length: 0 }
      : side === state.side
        ? { side, length: state.length + 1 }
        : { side, length: 1 }

  const violations: Violation[] = []
  for (const rule of enabled) {
    switch (rule) {
      case 'N1':
        // The same arithmetic as the chart's UCL and LCL, so a point drawn on a limit is on it.
        if (
          point.statistic > upperLimit(point.center, point.sigma, 3) ||
          point.statistic < lowerLimit(point.center, point.sigma, 3)
        ) {
          violations.push({ rule, pane, indices: [point.index] })
        }
        break
      case 'N2':
        if (next.length >= N2_RUN_LENGTH) {
          violations.push({
            rule,
            pane,
            indices: range(point.index - N2_RUN_LENGTH + 1, point.index),
          })
        }
        break
    }
  }
  return { state: next, violations }
}

/** centre + k·σ: the one place an upper k-sigma line is computed. */
export function upperLimit(center: number, sigma: number, k: number): number {
  return center + k * sigma
}

/** centre − k·σ: the one place a lower k-sigma line is computed. */
export function lowerLimit(center: number, sigma: number, k: number): number {
  return center - k * sigma
}

function range(from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i <= to; i++) out.push(i)
  return out
}
