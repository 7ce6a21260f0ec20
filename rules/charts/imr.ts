import { D2, D4_MR } from '../constants.ts'
import {
  initialRunRuleState,
  lowerLimit,
  type RunRuleState,
  stepRunRules,
  upperLimit,
} from '../run-rules.ts'
import type { ChartPoint, Observation, PanePoint, ProcessLimits, RuleId } from '../types.ts'

/**
 * Individuals and moving range (I-MR) chart. Phase I collects the first `baselineCount`
 * readings and estimates centre = x̄ and σ = MR̄/d2(2); the limits are then frozen (Phase II).
 * A baseline with no variation at all (MR̄ = 0) cannot give limits: the chart keeps the last
 * `baselineCount` readings and waits for variation.
 */
export interface ImrSpec {
  type: 'imr'
  baselineCount: number
  rules: readonly RuleId[]
  /** Known process parameters: no baseline is collected. */
  given?: { center: number; sigma: number } | undefined
}

export interface ImrState {
  type: 'imr'
  /** Index the next point will get. */
  count: number
  previous: number | null
  /** Readings of the baseline while it is being collected; emptied once limits are frozen. */
  baseline: Observation[]
  limits: ProcessLimits | null
  rules: RunRuleState
}

export type ImrEvent = { type: 'limits-established'; limits: ProcessLimits; ts: number }

export interface ImrStep {
  state: ImrState
  point: ChartPoint
  events: ImrEvent[]
}

export function initialImrState(spec: ImrSpec): ImrState {
  return {
    type: 'imr',
    count: 0,
    previous: null,
    baseline: [],
    limits: spec.given ? { ...spec.given, basis: { kind: 'given' } } : null,
    rules: initialRunRuleState(),
  }
}

/** Centre line and limits of each pane for frozen process limits (MR̄ = d2(2)·σ, so a given σ draws the MR pane too). */
export function imrPaneLimits(
  limits: ProcessLimits,
): Record<'i' | 'mr', { center: number; lcl: number; ucl: number }> {
  const mrBar = limits.sigma * (D2[2] as number)
  return {
    i: {
      center: limits.center,
      lcl: lowerLimit(limits.center, limits.sigma, 3),
      ucl: upperLimit(limits.center, limits.sigma, 3),
    },
    mr: { center: mrBar, lcl: 0, ucl: D4_MR * mrBar },
  }
}

export function estimateImrLimits(baseline: readonly Observation[]): ProcessLimits | null {
  const first = baseline[0]
  const last = baseline[baseline.length - 1]
  if (!first || !last || baseline.length < 2) return null
  let sum = 0
  let mrSum = 0
  for (let i = 0; i < baseline.length; i++) {
    const x = (baseline[i] as Observation).value
    sum += x
    if (i > 0) mrSum += Math.abs(x - (baseline[i - 1] as Observation).value)
  }
  const mrBar = mrSum / (baseline.length - 1)
  if (mrBar === 0) return null
  return {
    center: sum / baseline.length,
    sigma: mrBar / (D2[2] as number),
    basis: { kind: 'estimated', count: baseline.length, firstTs: first.ts, lastTs: last.ts },
  }
}

function panes(
  limits: ProcessLimits | null,
  value: number,
  mr: number | null,
): Record<string, PanePoint> {
  if (!limits) {
    return {
      i: { statistic: value, center: null, lcl: null, ucl: null },
      mr: { statistic: mr, center: null, lcl: null, ucl: null },
    }
  }
  const lines = imrPaneLimits(limits)
  return { i: { statistic: value, ...lines.i }, mr: { statistic: mr, ...lines.mr } }
}

export function stepImr(spec: ImrSpec, state: ImrState, obs: Observation): ImrStep {
  const index = state.count
  const mr = state.previous === null ? null : Math.abs(obs.value - state.previous)
  const events: ImrEvent[] = []
  let { limits, rules, baseline } = state
  let phase: ChartPoint['phase'] = 'monitor'
  let violations: ChartPoint['violations'] = []

  if (limits === null) {
    phase = 'baseline'
    baseline = [...baseline, obs]
    if (baseline.length > spec.baselineCount) baseline = baseline.slice(-spec.baselineCount)
    if (baseline.length === spec.baselineCount) {
      limits = estimateImrLimits(baseline)
      if (limits) {
        // The rules look back into the baseline, as a stream does: replay it against the new
        // limits so a run that began there completes in Phase II. Baseline points raise nothing.
        const firstIndex = index - baseline.length + 1
        baseline.forEach((b, k) => {
          rules = stepRunRules(spec.rules, rules, 'i', {
            index: firstIndex + k,
            statistic: b.value,
            center: (limits as ProcessLimits).center,
            sigma: (limits as ProcessLimits).sigma,
          }).state
        })
        baseline = []
        events.push({ type: 'limits-established', limits, ts: obs.ts })
      }
    }
  } else {
    const judged = stepRunRules(spec.rules, rules, 'i', {
      index,
      statistic: obs.value,
      center: limits.center,
      sigma: limits.sigma,
    })
    rules = judged.state
    violations = judged.violations
  }

  return {
    state: { type: 'imr', count: index + 1, previous: obs.value, baseline, limits, rules },
    point: { index, ts: obs.ts, phase, panes: panes(limits, obs.value, mr), violations },
    events,
  }
}
