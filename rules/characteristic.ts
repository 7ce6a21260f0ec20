import { type AlarmLimits, classifyLimits, type LimitZone, limitOfZone } from './alarm-limits.ts'
import { type ImrSpec, type ImrState, initialImrState, stepImr } from './charts/imr.ts'
import type { ChartPoint, Observation, ProcessLimits, RuleId } from './types.ts'

/**
 * Everything judged about one characteristic at each reading: its control chart and its
 * alert/action limits. Pure: `evaluate(spec, state, observation)` returns the next state and
 * what happened.
 */
export interface CharacteristicSpec {
  chart: ImrSpec
  limits: AlarmLimits
}

export interface CharacteristicState {
  chart: ImrState
  zone: LimitZone
  /** Rules the previous point was flagged for, to tell the onset of a violation from its continuation. */
  flagged: RuleId[]
}

/** Tile colour of a characteristic, most severe first. */
export type Status = 'action' | 'alert' | 'spc' | 'normal' | 'baseline' | 'no-data'

export type LimitCause = Exclude<LimitZone, 'normal'>
export type Cause = LimitCause | RuleId

/** A reading that is past an alarm limit or completes a run rule. */
export type Deviation =
  | {
      kind: 'limit'
      cause: LimitCause
      /** true for the first reading of an excursion, false while it continues. */
      onset: boolean
      ts: number
      value: number
      index: number
      limit: number
    }
  | {
      kind: 'rule'
      cause: RuleId
      onset: boolean
      ts: number
      value: number
      index: number
      pane: string
      /** Chart points that form the pattern. */
      indices: number[]
    }

export interface Evaluation {
  state: CharacteristicState
  point: ChartPoint
  deviations: Deviation[]
  status: Status
  /** Set when this reading completed the baseline and the chart froze its limits. */
  established: ProcessLimits | null
}

export function initialCharacteristicState(spec: CharacteristicSpec): CharacteristicState {
  return { chart: initialImrState(spec.chart), zone: 'normal', flagged: [] }
}

/** Zones that continue an excursion into `zone` rather than start one. */
const CONTINUES: Record<LimitCause, readonly LimitZone[]> = {
  'action-high': ['action-high'],
  'action-low': ['action-low'],
  'alert-high': ['alert-high', 'action-high'],
  'alert-low': ['alert-low', 'action-low'],
}

export function evaluate(
  spec: CharacteristicSpec,
  state: CharacteristicState,
  obs: Observation,
): Evaluation {
  const charted = stepImr(spec.chart, state.chart, obs)
  const { point } = charted
  const zone = classifyLimits(spec.limits, obs.value)
  const deviations: Deviation[] = []

  if (zone !== 'normal') {
    deviations.push({
      kind: 'limit',
      cause: zone,
      onset: !CONTINUES[zone].includes(state.zone),
      ts: obs.ts,
      value: obs.value,
      index: point.index,
      limit: limitOfZone(spec.limits, zone),
    })
  }
  for (const v of point.violations) {
    deviations.push({
      kind: 'rule',
      cause: v.rule,
      onset: !state.flagged.includes(v.rule),
      ts: obs.ts,
      value: obs.value,
      index: point.index,
      pane: v.pane,
      indices: v.indices,
    })
  }

  const established = charted.events.find((e) => e.type === 'limits-established')?.limits ?? null
  return {
    state: { chart: charted.state, zone, flagged: point.violations.map((v) => v.rule) },
    point,
    deviations,
    status: statusOf(zone, point),
    established,
  }
}

function statusOf(zone: LimitZone, point: ChartPoint): Status {
  if (zone === 'action-high' || zone === 'action-low') return 'action'
  if (zone === 'alert-high' || zone === 'alert-low') return 'alert'
  if (point.violations.length > 0) return 'spc'
  return point.phase === 'baseline' && point.panes.i?.center === null ? 'baseline' : 'normal'
}
