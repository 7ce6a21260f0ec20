import { lowerLimit, upperLimit } from '../run-rules.ts'
import type { ChartSpec } from '../spec.ts'
import type { Subgroup } from '../subgroups.ts'
import type { Observation, PanePoint, ProcessLimits } from '../types.ts'
import { type ChartKind, type Estimate, NO_SIGNALS, type PaneSlots } from './kind.ts'

/**
 * The attributes charts (Montgomery, Introduction to SQC, ch. 7; NIST/SEMATECH e-Handbook
 * 6.3.3). Each observation is one point: `value` is the count, `size` the sample size (p, np)
 * or the inspection units (u; c ignores it). Three-sigma limits, each point with its own:
 *
 *   p:  p̂ᵢ = Dᵢ/nᵢ,  centre p̄,    σᵢ = √(p̄(1 − p̄)/nᵢ),  limits in [0, 1]
 *   np: Dᵢ,          centre nᵢp̄,  σᵢ = √(nᵢp̄(1 − p̄)),   limits in [0, nᵢ]
 *   c:  cᵢ,          centre c̄,    σ = √c̄,               LCL ≥ 0
 *   u:  uᵢ = cᵢ/nᵢ,  centre ū,    σᵢ = √(ū/nᵢ),          LCL ≥ 0
 *
 * Phase I: p̄ = ΣD/Σn and ū = Σc/Σn over the included baseline (weighted by size), c̄ the mean
 * count; `given.center` is p, c̄ or ū. The limits' `center` is p̄ (for np too), c̄ or ū, and
 * `sigma` 0 (the centre defines σ). Each point's pane carries σᵢ (`sigma`), so the zone rules
 * judge every point against its own zones. The np chart takes varying sample sizes too (its centre and
 * limits then vary per point, as Minitab draws them); a constant n is the textbook case.
 * Counts are whole numbers ≥ 0; p and np need a whole sample size ≥ the count, u a positive
 * number of inspection units (it may be fractional: 2.5 m² of cloth).
 */

type AttributeType = 'p' | 'np' | 'c' | 'u'

/** The count of an observation (its value, when it came without a size). */
function countOf(sg: Subgroup): number {
  return sg.count ?? sg.mean
}

/** The size a point is judged with (1 for c); null when missing or not positive. */
function sizeOf(type: AttributeType, sg: Subgroup): number | null {
  if (type === 'c') return 1
  const size = sg.size
  return size !== undefined && Number.isFinite(size) && size > 0 ? size : null
}

/** Centre, σ and limits of a point of size n, for the frozen centre (p̄, c̄ or ū). */
function lines(
  type: AttributeType,
  center: number,
  n: number,
): { center: number; sigma: number; lcl: number; ucl: number } {
  let mid: number
  let sigma: number
  let ceiling = Number.POSITIVE_INFINITY
  switch (type) {
    case 'p':
      mid = center
      sigma = Math.sqrt((center * (1 - center)) / n)
      ceiling = 1
      break
    case 'np':
      mid = n * center
      sigma = Math.sqrt(n * center * (1 - center))
      ceiling = n
      break
    case 'c':
      mid = center
      sigma = Math.sqrt(center)
      break
    case 'u':
      mid = center
      sigma = Math.sqrt(center / n)
      break
  }
  return {
    center: mid,
    sigma,
    lcl: Math.max(0, lowerLimit(mid, sigma, 3)),
    ucl: Math.min(ceiling, upperLimit(mid, sigma, 3)),
  }
}

/** The plotted statistic: a proportion or rate for p and u, the count for np and c. */
function statisticOf(type: AttributeType, count: number, size: number): number {
  return type === 'p' || type === 'u' ? count / size : count
}

const NAMES: Record<AttributeType, string> = {
  p: 'p chart',
  np: 'np chart',
  c: 'c chart',
  u: 'u chart',
}

function validate(type: AttributeType, spec: ChartSpec): string[] {
  const problems: string[] = []
  const name = NAMES[type]
  if (spec.sigmaMethod !== undefined)
    problems.push(`${name}: σ follows from the centre; sigmaMethod does not apply`)
  if (spec.given) {
    const { center, sigma } = spec.given
    if (sigma !== undefined)
      problems.push(`${name}: σ follows from the centre; leave given.sigma out`)
    if (type === 'p' || type === 'np') {
      if (!(Number.isFinite(center) && center > 0 && center < 1))
        problems.push(`${name}: the given p must be between 0 and 1 (exclusive), not ${center}`)
    } else if (!(Number.isFinite(center) && center > 0)) {
      problems.push(
        `${name}: the given ${type === 'c' ? 'c̄' : 'ū'} must be a positive number, not ${center}`,
      )
    }
  }
  return problems
}

function checkObservation(type: AttributeType, obs: Observation): string | null {
  if (!(Number.isInteger(obs.value) && obs.value >= 0))
    return `the count must be a whole number ≥ 0, not ${obs.value}`
  if (type === 'c') return null
  if (obs.size === undefined)
    return type === 'u'
      ? 'a u chart needs the inspection units (size)'
      : `a ${type} chart needs the sample size (size)`
  if (!(Number.isFinite(obs.size) && obs.size > 0))
    return `the size must be a positive number, not ${obs.size}`
  if (type === 'u') return null
  if (!Number.isInteger(obs.size))
    return `the sample size must be a whole number of units, not ${obs.size}`
  if (obs.value > obs.size) return `the count (${obs.value}) exceeds the sample size (${obs.size})`
  return null
}

function estimate(
  type: AttributeType,
  baseline: readonly Subgroup[],
  included: readonly boolean[],
): Estimate {
  let counts = 0
  let sizes = 0
  baseline.forEach((sg, k) => {
    const size = sizeOf(type, sg)
    if (!included[k] || size === null) return
    counts += countOf(sg)
    sizes += size
  })
  if (sizes === 0) return { ok: false, reason: 'the baseline has no sample with a size' }
  const center = counts / sizes
  switch (type) {
    case 'p':
    case 'np':
      if (center === 0)
        return {
          ok: false,
          reason: 'no defectives in the baseline (p̄ = 0): the limits would collapse onto 0',
        }
      if (center >= 1)
        return {
          ok: false,
          reason:
            'every unit in the baseline is defective (p̄ = 1): the limits would collapse onto n',
        }
      return { ok: true, center, sigma: 0, method: 'pbar' }
    case 'c':
      if (center === 0)
        return {
          ok: false,
          reason: 'no nonconformities in the baseline (c̄ = 0): the limits would collapse onto 0',
        }
      return { ok: true, center, sigma: 0, method: 'cbar' }
    case 'u':
      if (center === 0)
        return {
          ok: false,
          reason: 'no nonconformities in the baseline (ū = 0): the limits would collapse onto 0',
        }
      return { ok: true, center, sigma: 0, method: 'ubar' }
  }
}

function point(type: AttributeType, limits: ProcessLimits, sg: Subgroup, out: PaneSlots): void {
  const size = sizeOf(type, sg)
  if (size === null) {
    out.panes[0] = { statistic: null, center: null, sigma: null, lcl: null, ucl: null }
    return
  }
  const l = lines(type, limits.center, size)
  out.panes[0] = {
    statistic: statisticOf(type, countOf(sg), size),
    center: l.center,
    sigma: l.sigma,
    lcl: l.lcl,
    ucl: l.ucl,
  }
}

const RECORDS: Record<AttributeType, ChartKind['record']> = {
  p: (p) => ({ p: p[0] as PanePoint }),
  np: (p) => ({ np: p[0] as PanePoint }),
  c: (p) => ({ c: p[0] as PanePoint }),
  u: (p) => ({ u: p[0] as PanePoint }),
}

function attributeKind(type: AttributeType): ChartKind<null> {
  return {
    panes: [type],
    primary: type,
    rules: 'all',
    record: RECORDS[type],
    validate: (spec) => validate(type, spec),
    checkObservation: (_spec, obs) => checkObservation(type, obs),
    preview(_spec, sg) {
      const size = sizeOf(type, sg)
      return { [type]: size === null ? null : statisticOf(type, countOf(sg), size) }
    },
    estimate: (_spec, baseline, included) => estimate(type, baseline, included),
    initStream: () => null,
    point(_spec, limits, _stream, sg, _index, out) {
      point(type, limits, sg, out)
      return NO_SIGNALS
    },
  }
}

export const p = attributeKind('p')
export const np = attributeKind('np')
export const c = attributeKind('c')
export const u = attributeKind('u')
