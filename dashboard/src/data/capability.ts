import type { CapabilityView, CharacteristicView } from '../../../gateway/contract.ts'
import { ATTRIBUTES_CHARTS } from './chart-words.ts'
import { formatValue } from './format.ts'

/**
 * Readings against frozen limits before the gateway reports capability: rules/capability.ts
 * MIN_CAPABILITY_N (a test keeps the two equal).
 */
export const MIN_CAPABILITY_READINGS = 25

/** A capability index with two decimals; a dash where the specification does not define it. */
export function formatIndex(value: number | null | undefined): string {
  return formatValue(value, 2)
}

/**
 * Parts per million, as legible as the size allows: "0", "< 0.01", "3.42", "63.4", "1 350",
 * "66 807" (thin-space groups); a dash for none.
 */
export function formatPpm(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value) || value < 0) return '—'
  if (value === 0) return '0'
  if (value < 0.01) return '< 0.01'
  if (value < 10) return value.toFixed(2)
  if (value < 100) return value.toFixed(1)
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009')
}

/** A 95% interval, "1.12 to 1.56", or null when a bound is missing. */
export function formatInterval(lower: number | null, upper: number | null): string | null {
  if (lower === null || upper === null || !Number.isFinite(lower) || !Number.isFinite(upper))
    return null
  return `${formatIndex(lower)} to ${formatIndex(upper)}`
}

export interface IndexCell {
  key: 'cp' | 'cpk' | 'cpl' | 'cpu' | 'cpm' | 'pp' | 'ppk' | 'ppl' | 'ppu'
  label: string
  value: string
  /** The 95% confidence interval (Cp and Cpk), when known. */
  interval: string | null
  /** Why the index is missing, when it is. */
  missing: string | null
}

/** Why an index is null: the specification does not define it (or no within σ). */
function missingReason(key: IndexCell['key'], cap: CapabilityView): string {
  const within = key.startsWith('c')
  if (within && cap.sigmaWithin === null) return 'no within σ'
  if (key === 'cp' || key === 'pp') return 'needs LSL and USL'
  if (key === 'cpl' || key === 'ppl') return 'no LSL'
  if (key === 'cpu' || key === 'ppu') return 'no USL'
  if (key === 'cpm') return 'needs a target'
  return 'not defined'
}

/** The indices in reading order: within (C) first, then overall (P). */
export function capabilityIndices(cap: CapabilityView): IndexCell[] {
  const cells: [IndexCell['key'], string][] = [
    ['cp', 'Cp'],
    ['cpk', 'Cpk'],
    ['cpl', 'Cpl'],
    ['cpu', 'Cpu'],
    ['cpm', 'Cpm'],
    ['pp', 'Pp'],
    ['ppk', 'Ppk'],
    ['ppl', 'Ppl'],
    ['ppu', 'Ppu'],
  ]
  return cells.map(([key, label]) => {
    const value = cap[key]
    return {
      key,
      label,
      value: formatIndex(value),
      interval:
        key === 'cp'
          ? formatInterval(cap.cpLower95, cap.cpUpper95)
          : key === 'cpk'
            ? formatInterval(cap.cpkLower95, cap.cpkUpper95)
            : null,
      missing: value === null ? missingReason(key, cap) : null,
    }
  })
}

/**
 * The usual reading of Cpk: 1.33 or more capable, 1.00 to 1.33 marginal, below 1.00 not capable
 * (some parts out of specification are to be expected). Null without Cpk.
 */
export function capabilityVerdict(cpk: number | null): { words: string; capable: boolean } | null {
  if (cpk === null || !Number.isFinite(cpk)) return null
  if (cpk >= 1.33) return { words: 'capable (Cpk ≥ 1.33)', capable: true }
  if (cpk >= 1) return { words: 'marginal (Cpk 1.00 to 1.33)', capable: false }
  return { words: 'not capable (Cpk < 1.00)', capable: false }
}

/**
 * What to say in place of capability that is not there yet; null when capability is shown or
 * there is no specification to compute it against.
 */
export function capabilityPending(
  view: Pick<CharacteristicView, 'chart' | 'specLimits' | 'capability'>,
): string | null {
  if (!view.specLimits || view.capability) return null
  if (ATTRIBUTES_CHARTS.has(view.chart.type)) {
    return 'Capability is computed for measured values, not for an attributes chart.'
  }
  if (view.specLimits.lsl === null && view.specLimits.usl === null) {
    return 'Capability needs a lower or an upper specification limit.'
  }
  return view.chart.control
    ? `Capability after ${MIN_CAPABILITY_READINGS} readings against the frozen limits.`
    : `Capability after the baseline, once ${MIN_CAPABILITY_READINGS} readings are judged against the frozen limits.`
}
