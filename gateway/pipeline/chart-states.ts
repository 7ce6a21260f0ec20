import {
  type CharacteristicState,
  type ChartPoint,
  initialCapabilityState,
  type ProcessLimits,
  type Status,
} from '../../rules/index.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { ChartSnapshot } from '../store/types.ts'
import type { CharacteristicRuntime } from './runtime.ts'

/**
 * What is snapshotted per characteristic: the chart state (with its frozen limits), the last
 * reading and point, and the recent readings an NC keeps as the data before it.
 */
interface Persisted {
  state: CharacteristicState
  status: Status
  last: { ts: number; value: number } | null
  lastPoint: ChartPoint | null
  recent?: { ts: number; value: number }[]
  /** The specification limits capability was counted against (JSON; absent: before they were kept). */
  specLimits?: string
}

export type Restored =
  | { result: 'restored' | 'none' }
  | {
      result: 'spec-changed'
      previous: { limits: ProcessLimits | null; lastPoint: ChartPoint | null }
    }

/** The runtime's state as JSON text, for a snapshot. */
export function persist(rt: CharacteristicRuntime): string {
  const saved: Persisted = {
    state: rt.state,
    status: rt.status,
    last: rt.last,
    lastPoint: rt.lastPoint,
    recent: rt.recent.toArray(),
    specLimits: specLimitsKey(rt),
  }
  return JSON.stringify(saved)
}

/**
 * Restores a runtime from a snapshot, unless the chart's configuration changed since (then the
 * old limits come back for the record of the change).
 */
export function restoreSnapshot(rt: CharacteristicRuntime, snapshot: ChartSnapshot): Restored {
  return restore(rt, snapshot.specHash, snapshot.state)
}

/** The specification limits as compared across restarts (key order does not matter). */
function specLimitsKey(rt: CharacteristicRuntime): string {
  const s = rt.spec.specLimits
  return JSON.stringify(s ? [s.lsl ?? null, s.usl ?? null, s.target ?? null] : null)
}

function restore(rt: CharacteristicRuntime, specHash: string, text: string): Restored {
  const saved = JSON.parse(text) as Persisted
  // The chart's identity is its canonical form; a state saved under the earlier, key-order
  // dependent hash is the same chart when that hash matches too.
  if (specHash !== rt.specHash && specHash !== rt.legacySpecHash) {
    // An older state may have another shape: take only what the record of the change needs.
    return {
      result: 'spec-changed',
      previous: { limits: saved.state?.chart?.limits ?? null, lastPoint: saved.lastPoint ?? null },
    }
  }
  // Capability counts restart when the specification limits changed (and start for a state
  // saved before capability was accumulated).
  const sameSpec = saved.specLimits === undefined || saved.specLimits === specLimitsKey(rt)
  rt.state = {
    ...saved.state,
    capability: (sameSpec && saved.state.capability) || initialCapabilityState(),
    excursions: saved.state.excursions ?? [],
  }
  rt.status = saved.status
  rt.last = saved.last
  rt.lastPoint = saved.lastPoint ?? null
  for (const r of saved.recent ?? []) rt.recent.push(r.ts, r.value)
  return { result: 'restored' }
}

/**
 * Chart states as data directories from before the journal kept them (the records database's
 * chart_state table): read once, when the journal has no snapshot of the characteristic yet.
 */
export interface LegacyChartStates {
  restore(rt: CharacteristicRuntime): Restored
}

export function legacyChartStates(db: RecordsDb): LegacyChartStates {
  const select = db.prepare('SELECT spec_hash, state FROM chart_state WHERE characteristic = ?')
  // Nothing writes the table any more: when it is empty (always, in PostgreSQL), no read per
  // characteristic (a round trip each to PostgreSQL, on the judging thread).
  let empty: boolean | undefined
  return {
    restore(rt) {
      empty ??= db.prepare('SELECT 1 AS one FROM chart_state LIMIT 1').get() === undefined
      if (empty) return { result: 'none' }
      const row = select.get(rt.config.id) as { spec_hash: string; state: string } | undefined
      return row ? restore(rt, row.spec_hash, row.state) : { result: 'none' }
    },
  }
}
