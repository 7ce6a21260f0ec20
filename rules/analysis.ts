import { type Capability, type CapabilitySpec, capability, outOfSpec } from './capability.ts'
import {
  type ChartState,
  type ChartStep,
  chartKind,
  closeChart,
  freezeChart,
  initChart,
  stepChart,
} from './charts/index.ts'
import { ATTRIBUTES_CHARTS, type ChartSpec, type ChartType } from './spec.ts'
import type { ChartPoint, Observation, ProcessLimits, ViolationRule } from './types.ts'

/**
 * The offline analysis of a data set: what `linewatch spc` prints, and what the tests check.
 * Pure: the observations arrive as arrays, the result is plain data.
 *
 * - Phase I (no calibration, no given parameters): every row is the baseline. The rows are
 *   streamed, the last subgroup is closed (`closeChart(…, force)`), the limits are estimated and
 *   frozen (`freezeChart`), and the output is the baseline judged against them (the points of
 *   the `limits-established` event).
 * - Phase II (`calibration`): the calibration rows are streamed, closed and frozen; then the
 *   monitored rows are streamed and the last subgroup closed. The recursions (moving range,
 *   EWMA, CUSUM) and the run rules run on through the calibration rows into the monitored ones,
 *   as in a stream; the output covers the monitored rows only, re-indexed from 0 (a pattern that
 *   started in the calibration and completes in a monitored point flags that point).
 * - Given parameters (`spec.given`): no estimate; every point is judged as it comes (after any
 *   calibration rows, which then only warm up the recursions and rules).
 *
 * Pane summaries: `center`, `lcl` and `ucl` are numbers when they are exactly the same (===) on
 * every output point of the pane, and null when they vary (EWMA's exact limits, p and u charts
 * with varying sizes) or are undefined. `sigma` is the process σ (σ of one observation) of a
 * variables chart; null for the attributes charts, whose σ follows from the centre and the size.
 *
 * Capability (variables charts, when a specification limit is given): σ within = the chart's σ;
 * μ, σ overall (sample standard deviation) and the out-of-spec count from the individual values
 * of the output rows. Attributes charts have no capability here (null): their "capability" is
 * the defect rate itself, which the chart's centre line already gives (p̄, c̄, ū).
 */

export interface AnalysisOptions extends CapabilitySpec {
  /** Phase II: the limits come from these rows, which precede the analysed ones as in a stream. */
  calibration?: readonly Observation[] | undefined
}

export interface AnalysisPoint {
  /** Index among the output points, from 0. */
  index: number
  statistic: number | null
  center: number | null
  lcl: number | null
  ucl: number | null
  /** Rules the point completes on this pane (CUSUM: `upper`, `lower`). */
  violations: string[]
  /** CUSUM: C⁺ and C⁻. */
  upper?: number | undefined
  lower?: number | undefined
}

export interface PaneAnalysis {
  center: number | null
  sigma: number | null
  lcl: number | null
  ucl: number | null
  points: AnalysisPoint[]
}

export interface Analysis {
  chart: ChartType
  /** The frozen parameters (estimated from the baseline or the calibration, or given). */
  limits: ProcessLimits
  /** Output points per pane, in the chart's pane order. */
  charts: Record<string, PaneAnalysis>
  capability: Capability | null
}

/** Why the analysis cannot be made (no data, limits that cannot be estimated). */
export class AnalysisError extends Error {
  override readonly name = 'AnalysisError'
}

/** The name a violation has in the output: the rule id, or `upper`/`lower` for a CUSUM signal. */
export function violationName(rule: ViolationRule): string {
  if (rule === 'cusum-upper') return 'upper'
  if (rule === 'cusum-lower') return 'lower'
  return rule
}

/** Streams observations through a chart; keeps the judged points, and the limits when they freeze. */
class Run {
  readonly spec: ChartSpec
  state: ChartState
  /** Judged points, in order (the baseline's arrive when the limits freeze). */
  readonly judged: ChartPoint[] = []
  failure: string | null = null

  constructor(spec: ChartSpec) {
    this.spec = spec
    this.state = initChart(spec)
  }

  private take(step: ChartStep): void {
    this.state = step.state
    for (const event of step.events) {
      if (event.type === 'limits-established') this.judged.push(...event.baseline)
      else this.failure = event.reason
    }
    // Baseline points before the limits freeze are previews (no limits): the event replaces them.
    for (const point of step.points) if (point.phase === 'monitor') this.judged.push(point)
  }

  stream(rows: readonly Observation[]): void {
    for (const row of rows) this.take(stepChart(this.spec, this.state, row))
  }

  /** Closes the open subgroup (the end of a file). */
  end(ts: number): void {
    this.take(closeChart(this.spec, this.state, ts, true))
  }

  /** Ends Phase I: estimates from everything streamed so far. */
  freeze(ts: number): ProcessLimits {
    this.take(freezeChart(this.spec, this.state, ts))
    if (!this.state.limits) {
      throw new AnalysisError(
        `the limits cannot be estimated: ${this.failure ?? 'no baseline subgroups'}`,
      )
    }
    return this.state.limits
  }
}

/** The chart and capability of `rows` (see the module comment). */
export function analyse(
  spec: ChartSpec,
  rows: readonly Observation[],
  options: AnalysisOptions = {},
): Analysis {
  if (rows.length === 0) throw new AnalysisError('there are no observations to analyse')
  const kind = chartKind(spec.type)
  const run = new Run(spec)
  const calibration = options.calibration ?? []
  let offset = 0
  if (calibration.length > 0) {
    run.stream(calibration)
    const lastTs = (calibration[calibration.length - 1] as Observation).ts
    run.end(lastTs)
    run.freeze(lastTs)
    offset = run.state.count
    run.judged.length = 0
  }
  run.stream(rows)
  const lastTs = (rows[rows.length - 1] as Observation).ts
  run.end(lastTs)
  const limits = run.freeze(lastTs)
  const points = run.judged.filter((p) => p.index >= offset)

  const charts: Record<string, PaneAnalysis> = {}
  const variables = !ATTRIBUTES_CHARTS.has(spec.type)
  for (const pane of kind.panes) {
    const out: AnalysisPoint[] = points.map((p) => {
      const drawn = p.panes[pane]
      const point: AnalysisPoint = {
        index: p.index - offset,
        statistic: drawn?.statistic ?? null,
        center: drawn?.center ?? null,
        lcl: drawn?.lcl ?? null,
        ucl: drawn?.ucl ?? null,
        violations: [
          ...new Set(p.violations.filter((v) => v.pane === pane).map((v) => violationName(v.rule))),
        ],
      }
      if (drawn?.upper !== undefined) point.upper = drawn.upper
      if (drawn?.lower !== undefined) point.lower = drawn.lower
      return point
    })
    charts[pane] = {
      center: constant(out, 'center'),
      sigma: variables ? limits.sigma : null,
      lcl: constant(out, 'lcl'),
      ucl: constant(out, 'ucl'),
      points: out,
    }
  }

  const wantCapability = variables && (options.lsl !== undefined || options.usl !== undefined)
  return {
    chart: spec.type,
    limits,
    charts,
    capability: wantCapability ? capabilityOfRows(rows, limits.sigma, options) : null,
  }
}

/** The value every point has, or null when it varies or is undefined somewhere. */
function constant(points: readonly AnalysisPoint[], key: 'center' | 'lcl' | 'ucl'): number | null {
  const first = points[0]?.[key] ?? null
  if (first === null) return null
  return points.every((p) => p[key] === first) ? first : null
}

/** Capability of individual values (two passes: mean, then squared deviations). */
export function capabilityOfRows(
  rows: readonly Observation[],
  sigmaWithin: number | null,
  spec: CapabilitySpec,
): Capability {
  const n = rows.length
  let sum = 0
  for (const r of rows) sum += r.value
  const mean = n > 0 ? sum / n : Number.NaN
  let ss = 0
  let out = 0
  for (const r of rows) {
    ss += (r.value - mean) ** 2
    if (outOfSpec(r.value, spec)) out++
  }
  return capability(
    {
      n,
      mean,
      sigmaWithin,
      sigmaOverall: n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN,
      outOfSpec: out,
    },
    spec,
  )
}
