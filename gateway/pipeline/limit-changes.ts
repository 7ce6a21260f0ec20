import type { ControlLimitsView, LimitChangeView } from '../contract.ts'
import type { RecordsDb } from '../store/records-db.ts'

/**
 * The record of every change of a chart's limits (regulated plants: 21 CFR Part 11, EU GMP
 * Annex 11 want who, when, why, and the values before and after). Rows are only added.
 */
export interface LimitChanges {
  record(change: Omit<LimitChangeView, 'id'>): LimitChangeView
  list(characteristic: string, limit: number): LimitChangeView[]
}

interface Row {
  id: number
  characteristic: string
  ts: number
  action: LimitChangeView['action']
  reason: string
  actor: string | null
  before: string | null
  after: string | null
}

export function createLimitChanges(db: RecordsDb): LimitChanges {
  const insert = db.prepare(
    'INSERT INTO limit_change (characteristic, ts, action, reason, actor, before, after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
  )
  const select = db.prepare(
    'SELECT * FROM limit_change WHERE characteristic = ? ORDER BY id DESC LIMIT ?',
  )
  const json = (v: ControlLimitsView | null) => (v ? JSON.stringify(v) : null)
  const parse = (v: string | null) => (v ? (JSON.parse(v) as ControlLimitsView) : null)
  return {
    record(change) {
      const { id } = insert.get(
        change.characteristic,
        change.ts,
        change.action,
        change.reason,
        change.actor,
        json(change.before),
        json(change.after),
      ) as { id: number }
      return { id, ...change }
    },
    list(characteristic, limit) {
      return (select.all(characteristic, limit) as unknown as Row[]).map((r) => ({
        ...r,
        before: parse(r.before),
        after: parse(r.after),
      }))
    },
  }
}
