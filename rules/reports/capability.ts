import {
  type CapabilityPolicy,
  type CapabilitySpec,
  capability,
  capabilityVerdict,
  cpBounds95,
  cpkBounds95,
  outOfSpec,
} from '../capability.ts'
import { d2 } from '../constants.ts'
import { sigmaPooled, sigmaRbar, sigmaSbar } from '../estimate.ts'
import type { ChartSpec, SigmaMethod } from '../spec.ts'
import type { Subgroup } from '../subgroups.ts'
import type { CapabilityReportRow, SigmaWithinSource } from './shapes.ts'

/**
 * Capability over a time range, from the stored readings of the range and the chart points
 * judged in it (issue 11's capability summary). Pure.
 *
 * - n, μ, σ overall (sample standard deviation, n − 1) and the observed PPM: the readings of the
 *   range (a value exactly on a specification limit is in specification).
 * - σ within: the chart's own estimator over the range (see `sigmaWithinOf`), else the σ of the
 *   chart's limits in force (the live panel's), else none.
 * - The indices, the expected PPM and the Cp/Cpk bounds: `capability` (rules/capability.ts);
 *   Pp's and Ppk's 95% bounds with the same forms (`cpBounds95`, `cpkBounds95`) and n.
 * - The verdict: `capabilityVerdict`, AIAG/Minitab's rule as the live panel applies it: a chart
 *   point in the range that completed a run rule or a CUSUM signal makes it "not in statistical
 *   control — capability indices are not a prediction"; else too few readings (below the
 *   policy's minReadings), capable (Cpk and Ppk ≥ threshold) or not capable.
 */

export interface RangeReading {
  ts: number
  value: number
}

/** A stored chart point as far as the report needs it. */
export interface RangePoint {
  index: number
  ts: number
  /** Observations in the subgroup. */
  n: number
  panes: Record<string, { statistic: number | null }>
  rules: readonly string[]
}

export interface RangeCapabilityInput {
  chart: Pick<ChartSpec, 'type' | 'subgroup' | 'sigmaMethod'>
  spec: CapabilitySpec
  policy: CapabilityPolicy
  /** The range's readings, oldest first (values that are not finite are left out). */
  readings: readonly RangeReading[]
  /** The range's chart points, oldest first. */
  points: readonly RangePoint[]
  /** σ of one observation of the chart's limits in force now; null while there are none. */
  chartSigma: number | null
}

export type RangeCapability = Pick<
  CapabilityReportRow,
  | 'n'
  | 'firstTs'
  | 'lastTs'
  | 'sigmaWithinSource'
  | 'subgroups'
  | 'capability'
  | 'ppLower95'
  | 'ppUpper95'
  | 'ppkLower95'
  | 'ppkUpper95'
  | 'signals'
  | 'lastSignal'
  | 'verdict'
>

/** The σ method the chart estimates with (the engine's defaults). */
export function chartSigmaMethod(chart: RangeCapabilityInput['chart']): SigmaMethod {
  if (chart.sigmaMethod) return chart.sigmaMethod
  switch (chart.type) {
    case 'imr':
      return 'mr'
    case 'xbar-r':
      return 'rbar'
    case 'xbar-s':
      return 'sbar'
    default:
      return chart.subgroup.by === 'count' && chart.subgroup.size === 1 ? 'mr' : 'pooled'
  }
}

/** A subgroup standing for a stored point's dispersion: its range as max − min, its s as m2. */
function subgroupOf(n: number, range: number | null, sd: number | null): Subgroup {
  return {
    firstTs: 0,
    ts: 0,
    n,
    mean: 0,
    m2: sd === null ? 0 : (n - 1) * sd * sd,
    min: 0,
    max: range ?? 0,
  }
}

/**
 * σ within over the range, by the chart's estimator where the stored data carries what it
 * needs:
 * - `mr` (I-MR, EWMA/CUSUM on individuals): MR̄/d2(2) over consecutive readings of the range;
 * - `rbar` on an X̄-R chart: the weighted Σfᵢ·Rᵢ/d2(nᵢ)/Σfᵢ over the R pane of the points;
 * - `sbar` or `pooled` on an X̄-S chart: from the S pane's sᵢ and nᵢ;
 * otherwise the σ of the chart's limits in force (`chart`), or `none`.
 */
export function sigmaWithinOf(input: RangeCapabilityInput): {
  sigma: number | null
  source: SigmaWithinSource
  subgroups: number | null
} {
  const method = chartSigmaMethod(input.chart)
  const fallback = () =>
    input.chartSigma !== null && Number.isFinite(input.chartSigma) && input.chartSigma > 0
      ? { sigma: input.chartSigma, source: 'chart' as const, subgroups: null }
      : { sigma: null, source: 'none' as const, subgroups: null }

  if (method === 'mr') {
    let sum = 0
    let count = 0
    let previous: number | null = null
    for (const r of input.readings) {
      if (!Number.isFinite(r.value)) continue
      if (previous !== null) {
        sum += Math.abs(r.value - previous)
        count++
      }
      previous = r.value
    }
    if (count === 0 || sum === 0) return fallback()
    return { sigma: sum / count / d2(2), source: 'mr', subgroups: null }
  }

  const pane = input.chart.type === 'xbar-r' ? 'r' : input.chart.type === 'xbar-s' ? 's' : null
  const usable = (pane === 'r' && method === 'rbar') || (pane === 's' && method !== 'rbar')
  if (pane === null || !usable) return fallback()
  const subgroups: Subgroup[] = []
  for (const p of input.points) {
    const statistic = p.panes[pane]?.statistic
    if (p.n < 2 || statistic === null || statistic === undefined || !Number.isFinite(statistic))
      continue
    subgroups.push(
      pane === 'r' ? subgroupOf(p.n, statistic, null) : subgroupOf(p.n, null, statistic),
    )
  }
  const included = subgroups.map(() => true)
  const estimate =
    method === 'rbar'
      ? sigmaRbar(subgroups, included)
      : method === 'sbar'
        ? sigmaSbar(subgroups, included)
        : sigmaPooled(subgroups, included)
  if (!estimate.ok) return fallback()
  return { sigma: estimate.sigma, source: method, subgroups: subgroups.length }
}

/** The capability over the range (see the module comment). */
export function rangeCapability(input: RangeCapabilityInput): RangeCapability {
  let n = 0
  let sum = 0
  let firstTs: number | null = null
  let lastTs: number | null = null
  for (const r of input.readings) {
    if (!Number.isFinite(r.value)) continue
    n++
    sum += r.value
    firstTs ??= r.ts
    lastTs = r.ts
  }
  const mean = n > 0 ? sum / n : Number.NaN
  let ss = 0
  let out = 0
  for (const r of input.readings) {
    if (!Number.isFinite(r.value)) continue
    ss += (r.value - mean) ** 2
    if (outOfSpec(r.value, input.spec)) out++
  }

  let signals = 0
  let lastSignal: RangeCapability['lastSignal'] = null
  for (const p of input.points) {
    if (p.rules.length === 0) continue
    signals++
    lastSignal = { ts: p.ts, index: p.index, rules: [...p.rules] }
  }

  const within = sigmaWithinOf(input)
  const found =
    n >= 2
      ? capability(
          {
            n,
            mean,
            sigmaWithin: within.sigma,
            sigmaOverall: Math.sqrt(ss / (n - 1)),
            outOfSpec: out,
          },
          input.spec,
        )
      : null
  const pp = found?.pp == null ? null : cpBounds95(found.pp, n)
  const ppk = found?.ppk == null ? null : cpkBounds95(found.ppk, n)
  return {
    n,
    firstTs,
    lastTs,
    sigmaWithinSource: within.source,
    subgroups: within.subgroups,
    capability: found,
    ppLower95: pp?.lower ?? null,
    ppUpper95: pp?.upper ?? null,
    ppkLower95: ppk?.lower ?? null,
    ppkUpper95: ppk?.upper ?? null,
    signals,
    lastSignal,
    verdict: capabilityVerdict(found, { signalled: signals > 0, n }, input.policy),
  }
}
