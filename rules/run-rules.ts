import type { RuleId, Violation } from './types.ts'

/**
 * The run rules over one pane's stream of points, with bounded state (JSON), O(1) per point.
 *
 * Conventions (Minitab's "tests for special causes"):
 * - N1 / WE1: a point strictly beyond a control limit as drawn (`lcl`, `ucl`); a point exactly
 *   on a limit is in control.
 * - N2: nine in a row on one side of the centre line; a point exactly on the centre line
 *   belongs to neither side and breaks the run. WE4: the same with eight.
 * - A flagged point is one that completes a pattern, and each later point that still
 *   completes one. k-of-m rules need a full window and flag only a point itself beyond.
 * - Zones are centre ± k·σ of the point (`sigma`), so limits that vary per point (p, u,
 *   varying-n X̄) give each point its own zones.
 */

export interface RuleSettings {
  rules: readonly RuleId[]
  /** Run lengths that differ from the canonical ones. */
  runLengths?: Partial<Record<RuleId, number>> | undefined
}

/** One point as the rules see it. `sigma` null: no zones (only N1/WE1 apply). */
export interface RuleInput {
  index: number
  statistic: number
  center: number
  sigma: number | null
  lcl: number | null
  ucl: number | null
}

export interface RuleState {
  /** Side of the centre line of the current run: 1 above, -1 below, 0 none. */
  side: -1 | 0 | 1
  /** Length of the current run on `side`. */
  length: number
}

export const DEFAULT_RUN_LENGTHS: Readonly<Partial<Record<RuleId, number>>> = {
  N2: 9,
  N3: 6,
  N4: 14,
  N7: 15,
  N8: 8,
  WE4: 8,
}

export function initialRuleState(): RuleState {
  return { side: 0, length: 0 }
}

/** centre + k·σ: the one place an upper k-sigma line is computed. */
export function upperLimit(center: number, sigma: number, k: number): number {
  return center + k * sigma
}

/** centre − k·σ: the one place a lower k-sigma line is computed. */
export function lowerLimit(center: number, sigma: number, k: number): number {
  return center - k * sigma
}

function runLength(settings: RuleSettings, rule: RuleId): number {
  return settings.runLengths?.[rule] ?? (DEFAULT_RUN_LENGTHS[rule] as number)
}

/** Advances the rule state by one point and returns the rules that point completes. */
export function stepRules(
  settings: RuleSettings,
  state: RuleState,
  pane: string,
  point: RuleInput,
): { state: RuleState; violations: Violation[] } {
  const deviation = point.statistic - point.center
  const side: -1 | 0 | 1 = deviation > 0 ? 1 : deviation < 0 ? -1 : 0
  const next: RuleState =
    side === 0 ? { side: 0, length: 0 } : side === state.side ? { side, length: state.length + 1 } : { side, length: 1 }

  const violations: Violation[] = []
  for (const rule of settings.rules) {
    switch (rule) {
      case 'N1':
      case 'WE1':
        if ((point.ucl !== null && point.statistic > point.ucl) || (point.lcl !== null && point.statistic < point.lcl)) {
          violations.push({ rule, pane, indices: [point.index] })
        }
        break
      case 'N2':
      case 'WE4': {
        const length = runLength(settings, rule)
        if (next.length >= length) violations.push({ rule, pane, indices: range(point.index - length + 1, point.index) })
        break
      }
      default:
        // N3–N8 and WE2–WE3: not yet implemented in this engine.
        break
    }
  }
  return { state: next, violations }
}

function range(from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i <= to; i++) out.push(i)
  return out
}
