import type {
  CapabilityVerdict,
  CapabilityView,
  CharacteristicView,
} from '../../../gateway/contract.ts'
import { ATTRIBUTES_CHARTS } from './chart-words.ts'
import { formatValue } from './format.ts'

/**
 * Readings against frozen limits before the gateway reports capability when it has not said
 * (no verdict yet): rules/capability.ts MIN_CAPABILITY_N (a test keeps the two equal). The
 * gateway's verdict carries the configured minimum, which wins.
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

/** The gateway's verdict on capability (rules/capability.ts), as the contract carries it. */
export type Verdict = CapabilityVerdict

/** How the panel shows a verdict. */
export interface VerdictDisplay {
  verdict: Verdict['verdict']
  /** The gateway's words, e.g. "capable", "not in statistical control — capability indices are not a prediction". */
  words: string
  /** Colour of the words: capable (plain), not capable (alert), or a caveat (dim, with the reason). */
  tone: 'capable' | 'not-capable' | 'caveat'
  /** The indices are shown de-emphasised: they describe the readings but predict nothing. */
  greyed: boolean
  /**
   * Why the indices are greyed, for the eye and for assistive technology (the indices point to
   * it); null when they are not.
   */
  hint: string | null
  /** What "capable" takes, with the gateway's threshold and minimum of readings. */
  criteria: string
}

/**
 * What the panel says about the gateway's verdict: its words, whether the indices are greyed
 * and why, and the criteria with the gateway's threshold (never one computed here). `n` is the
 * readings capability has so far (null when it has none). Null without a verdict.
 */
export function verdictDisplay(verdict: Verdict | null, n: number | null): VerdictDisplay | null {
  if (!verdict) return null
  const criteria = `Capable needs a chart in statistical control, Cpk and Ppk ≥ ${formatIndex(verdict.threshold)} and at least ${verdict.minReadings} readings.`
  switch (verdict.verdict) {
    case 'capable':
      return {
        verdict: 'capable',
        words: verdict.words,
        tone: 'capable',
        greyed: false,
        hint: null,
        criteria,
      }
    case 'not-capable':
      return {
        verdict: 'not-capable',
        words: verdict.words,
        tone: 'not-capable',
        greyed: false,
        hint: null,
        criteria,
      }
    case 'not-in-control':
      return {
        verdict: 'not-in-control',
        words: verdict.words,
        tone: 'caveat',
        greyed: true,
        hint: 'Greyed: the chart signalled while these readings were taken, so the indices describe them but predict nothing.',
        criteria,
      }
    case 'too-few-readings':
      return {
        verdict: 'too-few-readings',
        words: verdict.words,
        tone: 'caveat',
        greyed: true,
        hint: `Greyed: ${readingsNeeded(verdict.minReadings, n)}`,
        criteria,
      }
  }
}

/** "25 readings against the frozen limits are needed, 12 so far." */
export function readingsNeeded(minReadings: number, n: number | null): string {
  const need =
    minReadings === 1
      ? '1 reading against the frozen limits is needed'
      : `${minReadings} readings against the frozen limits are needed`
  return n === null ? `${need}.` : `${need}, ${n} so far.`
}

/**
 * What to say in place of capability that is not there yet; null when capability is shown or
 * there is no specification to compute it against.
 */
export function capabilityPending(
  view: Pick<CharacteristicView, 'chart' | 'specLimits' | 'capability' | 'capabilityVerdict'>,
): string | null {
  if (!view.specLimits || view.capability) return null
  if (ATTRIBUTES_CHARTS.has(view.chart.type)) {
    return 'Capability is computed for measured values, not for an attributes chart.'
  }
  if (view.specLimits.lsl === null && view.specLimits.usl === null) {
    return 'Capability needs a lower or an upper specification limit.'
  }
  const need = view.capabilityVerdict?.minReadings ?? MIN_CAPABILITY_READINGS
  return view.chart.control
    ? `Capability after ${need} readings against the frozen limits.`
    : `Capability after the baseline, once ${need} readings are judged against the frozen limits.`
}
