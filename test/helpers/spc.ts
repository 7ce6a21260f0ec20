import { type ChartState, type ChartStep, initChart, stepChart } from '../../rules/charts/index.ts'
import type { ChartSpec } from '../../rules/spec.ts'
import type { ChartPoint, Observation } from '../../rules/types.ts'

/** Helpers for the chart engine's tests. */

/**
 * Runs a chart; `cut` round-trips the state through JSON before that observation. The engine
 * updates its state in place, so each step is kept with a copy of the state after it.
 */
export function run(
  s: ChartSpec,
  input: readonly Observation[],
  cut?: number,
): { steps: ChartStep[]; state: ChartState } {
  let state = initChart(s)
  const steps: ChartStep[] = []
  input.forEach((o, k) => {
    if (k === cut) state = JSON.parse(JSON.stringify(state)) as ChartState
    const step = stepChart(s, state, o)
    state = step.state
    steps.push({ ...step, state: structuredClone(step.state) })
  })
  return { steps, state }
}

/** The chart as finally drawn: the judged baseline (from limits-established) and the monitored points. */
export function drawn(steps: readonly ChartStep[]): ChartPoint[] {
  const byIndex = new Map<number, ChartPoint>()
  for (const step of steps) {
    for (const p of step.points) byIndex.set(p.index, p)
    for (const e of step.events)
      if (e.type === 'limits-established') for (const p of e.baseline) byIndex.set(p.index, p)
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index)
}
