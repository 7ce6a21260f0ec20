import {
  type Capability,
  type CapabilityPolicy,
  type CapabilitySpec,
  type CapabilityVerdict,
  capability,
  capabilityVerdict,
  DEFAULT_CAPABILITY_POLICY,
  outOfSpec,
} from './capability.ts'
import {
  type ChartState,
  type ChartStep,
  chartKind,
  closeChart,
  freezeChart,
  initChart,
  stepChart,
} from './charts/index.ts'
import {
  ATTRIBUTES_CHARTS,
  type ChartSpec,
  type ChartType,
  ONE_POINT_PER_OBSERVATION,
} from './spec.ts'
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
 * Pane summaries: `center`, `sigma`, `lcl` and `ucl` are numbers when they are exactly the same
 * (===) on every output point of the pane, and null when they vary (EWMA's exact limits, p and
 * u charts or X̄ with varying sizes) or are undefined. A point's `sigma` is the σ of its
 * statistic that its limits use (PanePoint); the process σ (of one observation) is
 * `limits.sigma`.
 *
 * Each point carries the id of its subgroup (`subgroup`): the `key` of its observations (a
 * subgroup by key; the observation itself for I-MR and attributes charts), null without keys.
 *
 * Capability (variables charts, when a specification limit is given): σ within = the chart's σ;
 * μ, σ overall (sample standard deviation) and the out-of-spec count from the individual values
 * of the output rows. Its verdict (`capabilityVerdict`) takes the output points as the
 * capability window: a point that completed a rule or a CUSUM signal makes it "not in
 * statistical control". Attributes charts have no capability here (null): their "capability"
 * is the defect rate itself, which the chart's centre line already gives (p̄, c̄, ū).
 */

export interface AnalysisOptions extends CapabilitySpec {
  /** Phase II: the limits come from these rows, which precede the analysed ones as in a stream. */
  calibration?: readonly Observation[] | undefined
  /** The capability verdict's threshold and minimum of readings (default DEFAULT_CAPABILITY_POLICY). */
  capabilityPolicy?: CapabilityPolicy | undefined
}

export interface AnalysisPoint {
  /** Index among the output points, from 0. */
  index: number
  /** The id of the point's subgroup (its observations' key), or null. */
  subgroup: string | null
  statistic: number | null
  center: number | null
  /** σ of the statistic, which the limits use (see PanePoint). */
  sigma: number | null
  lcl: number | null
  ucl: number | null
  /** Rules the point completes on this pane (CUSUM: `upper`, `lower`). */
  violations: string[]
  /** CUSUM: C⁺ and C⁻. */
  upper?: number | undefined
  lower?: number | undefined
}

/** A pane's points, and its lines where every point has the same (see the module comment). */
export interface PaneAnalysis {
  center: number | null
  /** The pane's σ (of its statistic), not the process σ (`Analysis.limits.sigma`). */
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
  /** The verdict on `capability` (null with it). */
  verdict: CapabilityVerdict | null
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
  const labels = subgroupIds(spec, rows)
  for (const pane of kind.panes) {
    const out: AnalysisPoint[] = points.map((p) => {
      const drawn = p.panes[pane]
      const index = p.index - offset
      const point: AnalysisPoint = {
        index,
        subgroup: labels[index] ?? null,
        statistic: drawn?.statistic ?? null,
        center: drawn?.center ?? null,
        sigma: drawn?.sigma ?? null,
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
      sigma: constant(out, 'sigma'),
      lcl: constant(out, 'lcl'),
      ucl: constant(out, 'ucl'),
      points: out,
    }
  }

  const wantCapability = variables && (options.lsl !== undefined || options.usl !== undefined)
  const capabilityFound = wantCapability ? capabilityOfRows(rows, limits.sigma, options) : null
  const verdict =
    capabilityFound === null
      ? null
      : capabilityVerdict(
          capabilityFound,
          { signalled: points.some((p) => p.violations.length > 0), n: capabilityFound.n },
          options.capabilityPolicy ?? DEFAULT_CAPABILITY_POLICY,
        )
  return { chart: spec.type, limits, charts, capability: capabilityFound, verdict }
}

/**
 * The subgroup id of each output point, in order: the key of each observation of a chart with
 * a point per observation, the key of each run of equal keys when subgroups are formed by key;
 * none otherwise (null ids).
 */
function subgroupIds(spec: ChartSpec, rows: readonly Observation[]): (string | null)[] {
  if (ONE_POINT_PER_OBSERVATION.has(spec.type)) return rows.map((r) => r.key ?? null)
  if (spec.subgroup.by !== 'key') return []
  const ids: (string | null)[] = []
  rows.forEach((r, i) => {
    if (i === 0 || r.key !== rows[i - 1]?.key) ids.push(r.key ?? null)
  })
  return ids
}

/** The value every point has, or null when it varies or is undefined somewhere. */
function constant(
  points: readonly AnalysisPoint[],
  key: 'center' | 'sigma' | 'lcl' | 'ucl',
): number | null {
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
