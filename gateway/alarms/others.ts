import type { AlarmRecord } from '../../rules/index.ts'
import type { AlarmCounts, AlarmView } from '../contract.ts'
import type { RecordsDb } from '../store/records-db.ts'
import { type AlarmRegistry, type AlarmSettingsChange, type Slot, withChange } from './registry.ts'

/**
 * In a cluster, the alarms of the characteristics other gateways judge, as their owners last
 * saved them in the shared `alarm` table (an owner saves an alarm's record in the turn after it
 * changed). Read from the records rather than asked of the other gateways: the records answer
 * for every characteristic, also one whose partition is between owners (its last owner died,
 * the next has not taken it yet) and whatever the number of gateways, and a read is one query.
 */
export interface OthersAlarms {
  /** Their views; `active`: only those not normal (what counts and the default list need). */
  views(active: boolean): AlarmView[]
  /** One alarm, or undefined when its characteristic is judged here or it has no record. */
  view(id: string): AlarmView | undefined
  counts(): AlarmCounts
}

interface AlarmRow {
  id: string
  record: string
  shelved_by: string | null
  shelve_reason: string | null
}

const COLUMNS = 'SELECT id, record, shelved_by, shelve_reason FROM alarm'
// JSON.stringify writes a normal record's state so; quotes inside strings are escaped, so a
// comment cannot look like it.
const NOT_NORMAL = `${COLUMNS} WHERE record NOT LIKE '%"state":"normal"%'`
const SHOWN = new Set(['unack-active', 'ack-active'])
const UNACK = new Set(['unack-active', 'unack-rtn'])

export function createOthersAlarms(ctx: { db: RecordsDb; registry: AlarmRegistry }): OthersAlarms {
  const { db, registry } = ctx

  /** Settings engineers changed, as the owners saved them (this gateway's copy may be older). */
  function overrides(): Map<string, AlarmSettingsChange> {
    const rows = db.prepare('SELECT id, settings FROM alarm_override').all() as {
      id: string
      settings: string
    }[]
    return new Map(rows.map((r) => [r.id, JSON.parse(r.settings) as AlarmSettingsChange]))
  }

  function viewOf(row: AlarmRow, changes: Map<string, AlarmSettingsChange>): AlarmView | null {
    const found = registry.resolve(row.id)
    if (!found || found.entry.owned) return null
    let def = registry.definition(found.entry, found.condition)
    const change = changes.get(row.id)
    if (change) def = withChange(def, change)
    // The view needs only these of an alarm's object.
    const shown = {
      def,
      entry: found.entry,
      record: JSON.parse(row.record) as AlarmRecord,
      shelvedBy: row.shelved_by,
      shelveReason: row.shelve_reason,
    }
    return registry.view(shown as Slot)
  }

  function views(active: boolean): AlarmView[] {
    const changes = overrides()
    const out: AlarmView[] = []
    for (const row of db.prepare(active ? NOT_NORMAL : COLUMNS).all() as unknown as AlarmRow[]) {
      const v = viewOf(row, changes)
      if (v) out.push(v)
    }
    return out
  }

  return {
    views,
    view(id) {
      const row = db.prepare(`${COLUMNS} WHERE id = ?`).get(id) as AlarmRow | undefined
      return (row && viewOf(row, overrides())) ?? undefined
    },
    counts() {
      const counts = structuredClone(registry.counts)
      for (const key of Object.keys(counts))
        counts[key as keyof AlarmCounts] = { active: 0, unacknowledged: 0 }
      for (const v of views(true)) {
        if (SHOWN.has(v.state)) counts[v.priority].active++
        if (UNACK.has(v.state)) counts[v.priority].unacknowledged++
      }
      return counts
    },
  }
}
