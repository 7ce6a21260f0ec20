import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { Cause, Deviation } from '../../rules/index.ts'
import type {
  ControlLimitsView,
  NcStatus,
  NonconformanceSummary,
  NonconformanceView,
} from '../contract.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import { type CharacteristicRuntime, controlView } from '../pipeline/runtime.ts'
import type { Reading } from '../sources/types.ts'
import { ncNumber, ncTitle } from './titles.ts'

/**
 * Opens nonconformances by themselves: the onset of a configured cause (an action-limit
 * excursion, a run rule) opens an NC; while it is open, a repeat of any of its causes adds an
 * occurrence to it instead of opening another, so each characteristic has at most one open NC
 * per cause. Causes one reading triggers together (a spike past the action limit is also
 * beyond 3σ) are one event and go to one NC, titled by the most severe. The NC keeps the
 * readings before the trigger, collects those after it, and the limits in force.
 */
export interface NcService {
  start(): void
  stop(): void
  openCount(characteristic: string): number
  list(filter: {
    status?: NcStatus | undefined
    characteristic?: string | undefined
    limit: number
  }): NonconformanceSummary[]
  get(id: number): NonconformanceView | undefined
}

const MAX_HISTORY = 100

interface OpenNc {
  id: number
  causes: Cause[]
  occurrences: number
  history: { ts: number; value: number }[]
  readings: { ts: number; value: number }[]
  /** Readings still to be added after the trigger. */
  awaiting: number
}

interface Row {
  id: number
  characteristic: string
  characteristic_name: string
  path: string
  cause: Cause
  title: string
  status: NcStatus
  opened_at: number
  last_at: number
  occurrences: number
  trigger: string
  limits: string
  readings: string
  history: string
}

export function createNcService(ctx: {
  db: DatabaseSync
  bus: EventBus
  log: Logger
  readingsAfter: number
}): NcService {
  const { db, bus, log } = ctx
  /** Open NCs by `characteristic \0 cause`: the hot path looks here, not in the database. */
  const open = new Map<string, OpenNc>()
  const openPerCharacteristic = new Map<string, number>()
  /** Characteristics with an open NC still collecting readings after its trigger. */
  const collecting = new Map<string, Set<OpenNc>>()
  let sql: Record<
    'insert' | 'insertCause' | 'occurrence' | 'readings' | 'byId' | 'causesOf',
    StatementSync
  > | null = null
  const owner = {}

  const key = (characteristic: string, cause: Cause) => `${characteristic}\u0000${cause}`

  function causesOf(id: number): Cause[] {
    return ((sql?.causesOf.all(id) ?? []) as { cause: Cause }[]).map((r) => r.cause)
  }

  function summary(row: Row): NonconformanceSummary {
    const trigger = JSON.parse(row.trigger) as NonconformanceSummary['trigger']
    return {
      id: row.id,
      number: ncNumber(row.id),
      characteristic: row.characteristic,
      characteristicName: row.characteristic_name,
      path: row.path,
      cause: row.cause,
      causes: causesOf(row.id),
      title: row.title,
      status: row.status,
      openedAt: row.opened_at,
      lastAt: row.last_at,
      occurrences: row.occurrences,
      trigger,
    }
  }

  function emit(type: 'opened' | 'updated', id: number): void {
    const row = sql?.byId.get(id) as Row | undefined
    if (row) bus.emit('nc', { type, nc: summary(row) })
  }

  function openNc(rt: CharacteristicRuntime, d: Deviation, causes: Cause[]): void {
    const c = rt.config
    const readings = rt.recent.toArray()
    const control: ControlLimitsView | null = controlView(rt.state.chart.limits, rt.lastPoint)
    const trigger = {
      ts: d.ts,
      value: d.value,
      limit: d.kind === 'limit' ? d.limit : null,
      rule: d.kind === 'rule' ? d.cause : null,
    }
    const history = [{ ts: d.ts, value: d.value }]
    const result = sql?.insert.get(
      c.id,
      c.name,
      c.path,
      d.cause,
      ncTitle(c.name, d.cause),
      d.ts,
      d.ts,
      JSON.stringify(trigger),
      JSON.stringify({ alarm: c.limits, control }),
      JSON.stringify(readings),
      JSON.stringify(history),
    ) as { id: number }
    const nc: OpenNc = {
      id: result.id,
      causes: [],
      occurrences: 1,
      history,
      readings,
      awaiting: ctx.readingsAfter,
    }
    for (const cause of causes) attachCause(c.id, nc, cause)
    openPerCharacteristic.set(c.id, (openPerCharacteristic.get(c.id) ?? 0) + 1)
    if (nc.awaiting > 0) addCollecting(c.id, nc)
    log.info(
      { nc: ncNumber(nc.id), characteristic: c.id, cause: d.cause, value: d.value },
      'nonconformance opened',
    )
    emit('opened', nc.id)
  }

  function attachCause(characteristic: string, nc: OpenNc, cause: Cause): void {
    sql?.insertCause.run(nc.id, characteristic, cause)
    nc.causes.push(cause)
    open.set(key(characteristic, cause), nc)
  }

  function addOccurrence(nc: OpenNc, d: Deviation): void {
    nc.occurrences++
    nc.history.push({ ts: d.ts, value: d.value })
    if (nc.history.length > MAX_HISTORY) nc.history.splice(0, nc.history.length - MAX_HISTORY)
    sql?.occurrence.run(d.ts, nc.occurrences, JSON.stringify(nc.history), nc.id)
    emit('updated', nc.id)
  }

  function addCollecting(characteristic: string, nc: OpenNc): void {
    let set = collecting.get(characteristic)
    if (!set) {
      set = new Set()
      collecting.set(characteristic, set)
    }
    set.add(nc)
  }

  function collectAfter(reading: Reading, set: Set<OpenNc>): void {
    for (const nc of set) {
      nc.readings.push({ ts: reading.ts, value: reading.value })
      nc.awaiting--
      // Written once complete (or at stop), not at every reading.
      if (nc.awaiting <= 0) {
        saveReadings(nc)
        set.delete(nc)
      }
    }
    if (set.size === 0) collecting.delete(reading.characteristic)
  }

  function saveReadings(nc: OpenNc): void {
    sql?.readings.run(JSON.stringify(nc.readings), nc.id)
  }

  return {
    start() {
      sql = {
        insert: db.prepare(
          `INSERT INTO nonconformance (characteristic, characteristic_name, path, cause, title, status, opened_at, last_at,
             occurrences, trigger, limits, readings, history)
           VALUES (?, ?, ?, ?, ?, 'open', ?, ?, 1, ?, ?, ?, ?) RETURNING id`,
        ),
        occurrence: db.prepare(
          'UPDATE nonconformance SET last_at = ?, occurrences = ?, history = ? WHERE id = ?',
        ),
        readings: db.prepare('UPDATE nonconformance SET readings = ? WHERE id = ?'),
        byId: db.prepare('SELECT * FROM nonconformance WHERE id = ?'),
        insertCause: db.prepare(
          'INSERT INTO nonconformance_cause (nonconformance, characteristic, cause, open) VALUES (?, ?, ?, 1)',
        ),
        causesOf: db.prepare(
          'SELECT cause FROM nonconformance_cause WHERE nonconformance = ? ORDER BY rowid',
        ),
      }
      for (const row of db
        .prepare("SELECT * FROM nonconformance WHERE status = 'open'")
        .all() as unknown as Row[]) {
        const nc: OpenNc = {
          id: row.id,
          causes: causesOf(row.id),
          occurrences: row.occurrences,
          history: JSON.parse(row.history),
          readings: JSON.parse(row.readings),
          awaiting: 0, // readings after a restart would not follow the trigger: collection ends
        }
        for (const cause of nc.causes) open.set(key(row.characteristic, cause), nc)
        openPerCharacteristic.set(
          row.characteristic,
          (openPerCharacteristic.get(row.characteristic) ?? 0) + 1,
        )
      }

      bus.on('evaluated', owner, ({ runtime, reading, evaluation }) => {
        const id = runtime.config.id
        const set = reading ? collecting.get(id) : undefined
        // runtime.last holds the measure the limits judge (a p chart's proportion), as the readings before it.
        if (reading && set && runtime.last)
          collectAfter({ ...reading, value: runtime.last.value }, set)
        if (evaluation.deviations.length === 0) return
        const triggered = evaluation.deviations.filter(
          (d) => d.onset && runtime.ncCauses.has(d.cause),
        )
        const first = triggered[0]
        if (!first) return
        const existing = new Set(triggered.flatMap((d) => open.get(key(id, d.cause)) ?? []))
        // One cause may come from several panes at once (N1 on the I and MR panes): once is enough.
        const fresh = [
          ...new Set(triggered.filter((d) => !open.has(key(id, d.cause))).map((d) => d.cause)),
        ]
        if (existing.size === 0) {
          openNc(runtime, first, fresh)
          return
        }
        // A cause new to this event joins the open NC it came with.
        const joined = [...existing][0] as OpenNc
        for (const cause of fresh) attachCause(id, joined, cause)
        for (const nc of existing) addOccurrence(nc, first)
      })
    },

    stop() {
      bus.removeOwner(owner)
      for (const set of collecting.values()) for (const nc of set) saveReadings(nc)
      collecting.clear()
      sql = null
    },

    openCount: (characteristic) => openPerCharacteristic.get(characteristic) ?? 0,

    list({ status, characteristic, limit }) {
      const where: string[] = []
      const params: (string | number)[] = []
      if (status) {
        where.push('status = ?')
        params.push(status)
      }
      if (characteristic) {
        where.push('characteristic = ?')
        params.push(characteristic)
      }
      const rows = db
        .prepare(
          `SELECT * FROM nonconformance ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        )
        .all(...params, limit) as unknown as Row[]
      return rows.map(summary)
    },

    get(id) {
      const row = db.prepare('SELECT * FROM nonconformance WHERE id = ?').get(id) as Row | undefined
      if (!row) return undefined
      const limits = JSON.parse(row.limits) as NonconformanceView['limitsInForce']
      // Readings after the trigger are written once complete: while collecting, memory has them.
      const live = collecting.get(row.characteristic)
      const collected = live ? [...live].find((nc) => nc.id === id)?.readings : undefined
      return {
        ...summary(row),
        limitsInForce: limits,
        readings: collected ? [...collected] : JSON.parse(row.readings),
        history: JSON.parse(row.history),
      }
    },
  }
}
