import type { DatabaseSync } from 'node:sqlite'
import {
  type CharacteristicState,
  type ChartPoint,
  initialCapabilityState,
  type ProcessLimits,
  type Status,
} from '../../rules/index.ts'
import { transaction } from '../store/sqlite-db.ts'
import type { CharacteristicRuntime } from './runtime.ts'

/** What is persisted per characteristic: the chart state (with its frozen limits) and the last reading. */
interface Persisted {
  state: CharacteristicState
  status: Status
  last: { ts: number; value: number } | null
  lastPoint: ChartPoint | null
}

export interface ChartStates {
  /** Restores a runtime from the database, unless there is nothing or the chart's configuration changed (then the old limits come back for the record). */
  restore(rt: CharacteristicRuntime):
    | { result: 'restored' | 'none' }
    | {
        result: 'spec-changed'
        previous: { limits: ProcessLimits | null; lastPoint: ChartPoint | null }
      }
  save(runtimes: Iterable<CharacteristicRuntime>): number
}

export function createChartStates(db: DatabaseSync): ChartStates {
  const select = db.prepare('SELECT spec_hash, state FROM chart_state WHERE characteristic = ?')
  const upsert = db.prepare(
    `INSERT INTO chart_state (characteristic, spec_hash, state, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (characteristic) DO UPDATE SET spec_hash = excluded.spec_hash, state = excluded.state, updated_at = excluded.updated_at`,
  )
  return {
    restore(rt) {
      const row = select.get(rt.config.id) as { spec_hash: string; state: string } | undefined
      if (!row) return { result: 'none' }
      const saved = JSON.parse(row.state) as Persisted
      if (row.spec_hash !== rt.specHash) {
        // An older state may have another shape: take only what the record of the change needs.
        return {
          result: 'spec-changed',
          previous: {
            limits: saved.state?.chart?.limits ?? null,
            lastPoint: saved.lastPoint ?? null,
          },
        }
      }
      // A state saved before capability was accumulated starts its accumulator now.
      rt.state = { ...saved.state, capability: saved.state.capability ?? initialCapabilityState() }
      rt.status = saved.status
      rt.last = saved.last
      rt.lastPoint = saved.lastPoint ?? null
      return { result: 'restored' }
    },
    save(runtimes) {
      let n = 0
      const now = Date.now()
      transaction(db, () => {
        for (const rt of runtimes) {
          if (!rt.dirty) continue
          const saved: Persisted = {
            state: rt.state,
            status: rt.status,
            last: rt.last,
            lastPoint: rt.lastPoint,
          }
          upsert.run(rt.config.id, rt.specHash, JSON.stringify(saved), now)
          rt.dirty = false
          n++
        }
      })
      return n
    },
  }
}
