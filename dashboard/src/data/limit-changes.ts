import type {
  CharacteristicView,
  ControlLimitsView,
  LimitChangeView,
  Role,
} from '../../../gateway/contract.ts'
import { formatValue } from './format.ts'

/** The record of limit changes, and the two acts that change them. Pure. */

export type BaselineAction = 'restart' | 'end-baseline'

export const ACTION_WORDS: Record<LimitChangeView['action'], string> = {
  restart: 'Limits estimated anew',
  'end-baseline': 'Baseline ended early',
  configuration: 'Chart configuration changed',
}

/** Only quality managers and admins change limits (the API refuses others with 403). */
export function mayChangeLimits(role: Role | null | undefined): boolean {
  return role === 'quality-manager' || role === 'admin'
}

export interface ActionButton {
  action: BaselineAction
  label: string
  /** What it does, for the confirmation. */
  explain: string
}

/**
 * The acts offered to this role on this chart: ending the baseline while it collects, and
 * estimating the limits anew unless they are given in the configuration (then there is nothing
 * to estimate: the API would refuse it).
 */
export function baselineActions(
  view: Pick<CharacteristicView, 'chart' | 'state'>,
  role: Role | null | undefined,
): ActionButton[] {
  if (!mayChangeLimits(role)) return []
  if (view.chart.control?.basis.kind === 'given') return []
  const actions: ActionButton[] = []
  if (view.chart.control === null) {
    actions.push({
      action: 'end-baseline',
      label: 'End the baseline now',
      explain: 'Freeze the limits now from the baseline collected so far.',
    })
  }
  actions.push({
    action: 'restart',
    label: 'Estimate the limits anew',
    explain: 'Drop the current limits and collect a new baseline from the next readings.',
  })
  return actions
}

/** Why a reason cannot be sent, or null: it is kept in the record, so it must say something. */
export function reasonProblem(reason: string): string | null {
  const text = reason.trim()
  if (text.length < 3) return 'Give a reason of at least 3 characters: it is kept in the record.'
  if (text.length > 2000) return 'Keep the reason under 2000 characters.'
  return null
}

/**
 * The limits of one side of a change, e.g. "CL 500.0 · UCL 503.0 · LCL 497.0 · σ 1.00" (the
 * primary pane's lines), or "none (baseline)" when there were none.
 */
export function limitsSummary(
  control: ControlLimitsView | null,
  pane: string,
  decimals: number,
): string {
  if (!control) return 'none (baseline)'
  const lines = control.panes[pane]
  const parts: string[] = []
  parts.push(`CL ${formatValue(lines?.center ?? control.center, decimals)}`)
  if (lines?.ucl !== null && lines?.ucl !== undefined)
    parts.push(`UCL ${formatValue(lines.ucl, decimals)}`)
  if (lines?.lcl !== null && lines?.lcl !== undefined)
    parts.push(`LCL ${formatValue(lines.lcl, decimals)}`)
  if (control.sigma > 0) parts.push(`σ ${formatValue(control.sigma, decimals + 1)}`)
  return parts.join(' · ')
}

/** Newest first. */
export function orderLimitChanges(changes: readonly LimitChangeView[]): LimitChangeView[] {
  return [...changes].sort((a, b) => b.ts - a.ts || b.id - a.id)
}
