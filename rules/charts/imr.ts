import { rangeConstants } from '../constants.ts'
import { grandMean, sigmaMr } from '../estimate.ts'
import { lowerLimit, upperLimit } from '../run-rules.ts'
import type { ChartSpec } from '../spec.ts'
import type { Subgroup } from '../subgroups.ts'
import type { PanePoint, ProcessLimits } from '../types.ts'
import { type ChartKind, type Estimate, NO_SIGNALS } from './kind.ts'

/**
 * Individuals and moving range (I-MR). Each observation is a point. Phase I: centre = x̄ of the
 * baseline, σ = MR̄/d2(2) over the moving ranges between consecutive included readings.
 */

/**
 * Centre line, σ and limits of each pane for frozen parameters: I μ ± 3σ; MR centre MR̄ = d2(2)·σ,
 * σ_MR = d3(2)·σ, UCL d2σ + 3·d3σ (= D2(2)·σ = D4(2)·MR̄), LCL 0 (d2 − 3·d3 < 0). A given σ
 * draws the MR pane too.
 */
export function imrPaneLimits(
  limits: Pick<ProcessLimits, 'center' | 'sigma'>,
): Record<'i' | 'mr', { center: number; sigma: number; lcl: number; ucl: number }> {
  const { d2, d3 } = rangeConstants(2)
  const mrBar = limits.sigma * d2
  const mrSigma = limits.sigma * d3
  return {
    i: {
      center: limits.center,
      sigma: limits.sigma,
      lcl: lowerLimit(limits.center, limits.sigma, 3),
      ucl: upperLimit(limits.center, limits.sigma, 3),
    },
    mr: {
      center: mrBar,
      sigma: mrSigma,
      lcl: Math.max(0, lowerLimit(mrBar, mrSigma, 3)),
      ucl: upperLimit(mrBar, mrSigma, 3),
    },
  }
}

/** Phase I estimate of an I-MR chart from individual values (all included). */
export function estimateImr(values: readonly number[]): Estimate {
  return imr.estimate(
    {
      type: 'imr',
      subgroup: { by: 'count', size: 1 },
      baseline: { subgroups: values.length },
      excludeOutOfControl: false,
      rules: [],
    },
    values.map((v, i) => ({ firstTs: i, ts: i, n: 1, mean: v, m2: 0, min: v, max: v })),
    values.map(() => true),
  )
}

/** The moving range's memory: the previous value, when there is one (a number always: an unboxed field). */
interface ImrStream {
  previous: number
  hasPrevious: boolean
}

export const imr: ChartKind<ImrStream> = {
  panes: ['i', 'mr'],
  primary: 'i',
  rules: 'all',

  record: (p) => ({ i: p[0] as PanePoint, mr: p[1] as PanePoint }),

  validate(spec: ChartSpec) {
    return spec.sigmaMethod === undefined || spec.sigmaMethod === 'mr'
      ? []
      : [
          `an I-MR chart estimates σ from the moving range (sigmaMethod mr), not ${spec.sigmaMethod}`,
        ]
  },

  checkObservation() {
    return null
  },

  preview(_spec, sg, previous) {
    return { i: sg.mean, mr: previous ? Math.abs(sg.mean - previous.mean) : null }
  },

  estimate(_spec, baseline: readonly Subgroup[], included) {
    const sigma = sigmaMr(baseline, included)
    if (!sigma.ok) return sigma
    return {
      ok: true,
      center: grandMean(baseline, included) as number,
      sigma: sigma.sigma,
      method: 'mr',
    }
  },

  initStream() {
    return { previous: 0, hasPrevious: false }
  },

  point(_spec, limits, stream, sg, _index, out) {
    // The lines of imrPaneLimits, computed here without its objects (the hot path).
    const { center, sigma } = limits
    const { d2, d3 } = rangeConstants(2)
    const mrBar = sigma * d2
    const mrSigma = sigma * d3
    // A stream saved by an earlier version said "none" with previous: null.
    const has = stream.hasPrevious ?? (stream.previous as number | null) !== null
    const mr = has ? Math.abs(sg.mean - stream.previous) : null
    stream.previous = sg.mean
    stream.hasPrevious = true
    out.panes[0] = {
      statistic: sg.mean,
      center,
      sigma,
      lcl: lowerLimit(center, sigma, 3),
      ucl: upperLimit(center, sigma, 3),
    }
    out.panes[1] = {
      statistic: mr,
      center: mrBar,
      sigma: mrSigma,
      lcl: Math.max(0, lowerLimit(mrBar, mrSigma, 3)),
      ucl: upperLimit(mrBar, mrSigma, 3),
    }
    return NO_SIGNALS
  },
}
