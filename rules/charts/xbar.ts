import { c4, hasRangeConstants, RANGE_SIZES, rangeConstants } from '../constants.ts'
import { estimateSigma, grandMean } from '../estimate.ts'
import { lowerLimit, upperLimit } from '../run-rules.ts'
import type { ChartSpec, SigmaMethod } from '../spec.ts'
import { rangeOf, type Subgroup, sdOf } from '../subgroups.ts'
import type { PanePoint, ProcessLimits } from '../types.ts'
import { type ChartKind, type Estimate, NO_SIGNALS } from './kind.ts'

/**
 * X̄-R and X̄-S charts (Montgomery, Introduction to SQC, ch. 6), for a fixed or a varying
 * subgroup size: every point gets the lines of its own nᵢ from the frozen μ and σ (σ of one
 * observation, estimated by whichever method, or given), as Minitab draws them ("Methods and
 * formulas" for the Xbar, R and S charts):
 *
 *   X̄: μ ± 3σ/√nᵢ (zones from σ/√nᵢ)
 *   R: centre d2(nᵢ)σ, σ_R = d3(nᵢ)σ, limits d2σ ∓ 3·d3σ (LCL ≥ 0): D1(nᵢ)σ and D2(nᵢ)σ
 *   S: centre c4(nᵢ)σ, σ_S = σ√(1 − c4²), limits c4σ ∓ 3σ√(1 − c4²) (LCL ≥ 0): B5(nᵢ)σ, B6(nᵢ)σ
 *
 * So the centre lines follow from σ̂ too: with σ̂ = R̄/d2 (one n) the R centre is R̄, with
 * σ̂ = s̄/c4 the S centre is s̄, and with the pooled σ̂ they are d2σ̂ and c4σ̂, not R̄ or s̄. For a
 * constant n and the default estimator these are the textbook x̄̄ ± A2·R̄, D3·R̄, D4·R̄ and
 * x̄̄ ± A3·s̄, B3·s̄, B4·s̄ with exact constants (constants.ts).
 *
 * A subgroup of one observation (a time window or a key that saw a single reading) has no
 * range and no s: it is plotted on X̄, its R or S point is null (no statistic, no limits, so
 * no rule judges it), and it adds nothing to R̄, s̄ or s_p (it does count in x̄̄). On an X̄-R
 * chart a subgroup of more than 100 (by time or key) has a range but no d2 and d3: its R point
 * is drawn without limits and it adds nothing to R̄.
 */

type Dispersion = 'r' | 's'

/** Centre line, σ and limits of the dispersion pane for nᵢ and σ, or null where they are not defined. */
export function dispersionLimits(
  pane: Dispersion,
  n: number,
  sigma: number,
): { center: number; sigma: number; lcl: number; ucl: number } | null {
  const p = dispersionPoint(pane, n, null, sigma)
  return p.center === null
    ? null
    : { center: p.center, sigma: p.sigma as number, lcl: p.lcl as number, ucl: p.ucl as number }
}

/**
 * The point of the dispersion pane: `statistic` with the lines for nᵢ and σ, or null lines where
 * they are not defined. R: d2σ ∓ 3·d3σ; S: c4σ ∓ 3σ√(1 − c4²); LCL ≥ 0. The constants are
 * cached per n (constants.ts): a lookup per point.
 */
function dispersionPoint(
  pane: Dispersion,
  n: number,
  statistic: number | null,
  sigma: number,
): PanePoint {
  let center: number
  let spread: number
  if (pane === 'r') {
    if (!hasRangeConstants(n)) return { statistic, center: null, sigma: null, lcl: null, ucl: null }
    const f = rangeConstants(n)
    center = f.d2 * sigma
    spread = f.d3 * sigma
  } else {
    if (n < 2) return { statistic, center: null, sigma: null, lcl: null, ucl: null }
    const c = c4(n)
    center = c * sigma
    spread = Math.sqrt(1 - c * c) * sigma
  }
  return {
    statistic,
    center,
    sigma: spread,
    lcl: Math.max(0, lowerLimit(center, spread, 3)),
    ucl: upperLimit(center, spread, 3),
  }
}

/** Centre line and limits of the X̄ pane for nᵢ: μ ± 3σ/√nᵢ, and σ/√nᵢ for the zones. */
export function xbarLimits(
  limits: Pick<ProcessLimits, 'center' | 'sigma'>,
  n: number,
): { center: number; lcl: number; ucl: number; sigma: number } {
  const sigma = limits.sigma / Math.sqrt(n)
  return {
    center: limits.center,
    lcl: lowerLimit(limits.center, sigma, 3),
    ucl: upperLimit(limits.center, sigma, 3),
    sigma,
  }
}

/** The dispersion statistic of a subgroup (R or s), null for a subgroup of one. */
function dispersionOf(pane: Dispersion, sg: Subgroup): number | null {
  if (sg.n < 2) return null
  return pane === 'r' ? rangeOf(sg) : sdOf(sg)
}

function xbarKind(pane: Dispersion): ChartKind<null> {
  const chart = pane === 'r' ? 'X̄-R' : 'X̄-S'
  const defaultMethod: SigmaMethod = pane === 'r' ? 'rbar' : 'sbar'
  return {
    panes: ['xbar', pane],
    primary: 'xbar',
    rules: 'all',
    record:
      pane === 'r'
        ? (p) => ({ xbar: p[0] as PanePoint, r: p[1] as PanePoint })
        : (p) => ({ xbar: p[0] as PanePoint, s: p[1] as PanePoint }),

    validate(spec: ChartSpec) {
      const problems: string[] = []
      if (spec.sigmaMethod === 'mr') {
        problems.push(
          `an ${chart} chart estimates σ within subgroups (rbar, sbar or pooled), not from the moving range (mr); use an I-MR chart for individuals`,
        )
      }
      if (spec.subgroup.by === 'count') {
        const { size } = spec.subgroup
        if (!(Number.isInteger(size) && size >= 2)) {
          problems.push(
            `an ${chart} chart needs subgroups of 2 or more observations, not ${size}; use an I-MR chart for individuals`,
          )
        } else if (pane === 'r' && size > RANGE_SIZES.max) {
          problems.push(
            `an X̄-R chart takes subgroups of 2 to ${RANGE_SIZES.max} (d2 and d3 are computed that far), not ${size}; use an X̄-S chart`,
          )
        }
      }
      if (spec.given) {
        if (!Number.isFinite(spec.given.center))
          problems.push(`${chart}: the given centre must be a finite number`)
        const sigma = spec.given.sigma
        if (!(sigma !== undefined && Number.isFinite(sigma) && sigma > 0)) {
          problems.push(`${chart}: given parameters need σ > 0 (given.sigma) as well as the centre`)
        }
      }
      return problems
    },

    checkObservation(_spec, obs) {
      return Number.isFinite(obs.value) ? null : 'the value is not a finite number'
    },

    preview(_spec, sg) {
      return { xbar: sg.mean, [pane]: dispersionOf(pane, sg) }
    },

    estimate(spec, baseline, included): Estimate {
      const center = grandMean(baseline, included)
      if (center === null) return { ok: false, reason: 'the baseline has no observations' }
      const method = spec.sigmaMethod ?? defaultMethod
      const sigma = estimateSigma(method, baseline, included)
      if (!sigma.ok) return sigma
      return { ok: true, center, sigma: sigma.sigma, method }
    },

    initStream() {
      return null
    },

    point(_spec, limits, _stream, sg, _index, out) {
      // The lines of xbarLimits, computed here without its object (the hot path).
      const { center } = limits
      const sigma = limits.sigma / Math.sqrt(sg.n)
      out.panes[0] = {
        statistic: sg.mean,
        center,
        sigma,
        lcl: lowerLimit(center, sigma, 3),
        ucl: upperLimit(center, sigma, 3),
      }
      // R and S are skewed: only the limits test judges them (N1 alone). No statistic, no lines.
      const statistic = dispersionOf(pane, sg)
      out.panes[1] =
        statistic === null
          ? { statistic, center: null, sigma: null, lcl: null, ucl: null }
          : dispersionPoint(pane, sg.n, statistic, limits.sigma)
      return NO_SIGNALS
    },
  }
}

/** X̄-R: panes `xbar` and `r`; σ from R̄ by default. */
export const xbarR: ChartKind<null> = xbarKind('r')

/** X̄-S: panes `xbar` and `s`; σ from s̄ by default. */
export const xbarS: ChartKind<null> = xbarKind('s')
