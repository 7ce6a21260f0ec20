import { type ChartSpec, type ChartType, ONE_POINT_PER_OBSERVATION } from '../spec.ts'
import type { Observation } from '../types.ts'
import { c, np, p, u } from './attributes.ts'
import { cusum } from './cusum.ts'
import {
  type ChartState,
  type ChartStep,
  closeChartState,
  freezeChartState,
  initChartState,
  stepChartState,
} from './driver.ts'
import { ewma } from './ewma.ts'
import { imr } from './imr.ts'
import type { ChartKind } from './kind.ts'
import { xbarR, xbarS } from './xbar.ts'

/**
 * The public face of the charts: one set of functions for every chart type.
 *   initChart(spec) → state;  stepChart(spec, state, observation) → { state, points, events }
 *   closeChart(spec, state, now[, force]) closes the subgroups time (or the end of data) closed;
 *   freezeChart(spec, state, ts) ends Phase I now.
 * State is plain JSON: persist it, restore it, carry on exactly.
 */
const KINDS: Partial<Record<ChartType, ChartKind>> = Object.fromEntries(
  Object.entries({ imr, 'xbar-r': xbarR, 'xbar-s': xbarS, ewma, cusum, p, np, c, u }).filter(
    ([, kind]) => kind !== null,
  ),
) as Partial<Record<ChartType, ChartKind>>

export function chartKind(type: ChartType): ChartKind {
  const kind = KINDS[type]
  if (!kind) throw new Error(`chart type ${type} is not available`)
  return kind
}

/** Problems that make a spec unusable; empty when it is fine. */
export function validateChart(spec: ChartSpec): string[] {
  const kind = KINDS[spec.type]
  if (!kind) return [`chart type ${spec.type} is not available`]
  const problems = kind.validate(spec)
  // Leaving out-of-control baseline points out is Shewhart practice; EWMA and CUSUM points carry history.
  if (spec.excludeOutOfControl && kind.rules !== 'all')
    problems.push(`${spec.type} charts cannot leave baseline points out`)
  if ('subgroups' in spec.baseline && spec.baseline.subgroups < 1)
    problems.push('the baseline needs at least one subgroup')
  return problems
}

/** Why an observation cannot go into this chart, or null (see ChartKind.checkObservation). */
export function checkObservation(spec: ChartSpec, obs: Observation): string | null {
  if (!Number.isFinite(obs.value)) return 'the value is not a finite number'
  if (spec.subgroup.by === 'key' && !ONE_POINT_PER_OBSERVATION.has(spec.type) && !obs.key) {
    return 'subgroups are formed by key, and this reading has none'
  }
  return chartKind(spec.type).checkObservation(spec, obs)
}

export function initChart(spec: ChartSpec): ChartState {
  return initChartState(chartKind(spec.type), spec)
}

export function stepChart(spec: ChartSpec, state: ChartState, obs: Observation): ChartStep {
  return stepChartState(chartKind, spec, state, obs)
}

export function closeChart(
  spec: ChartSpec,
  state: ChartState,
  now: number,
  force = false,
): ChartStep {
  return closeChartState(chartKind(spec.type), spec, state, now, force)
}

export function freezeChart(spec: ChartSpec, state: ChartState, ts: number): ChartStep {
  return freezeChartState(chartKind(spec.type), spec, state, ts)
}

export type { ChartEvent, ChartState, ChartStep } from './driver.ts'
export { MAX_BASELINE_SUBGROUPS } from './driver.ts'
export type { ChartKind, Estimate, PaneSlots } from './kind.ts'
