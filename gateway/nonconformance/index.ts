import type { AlarmCondition, ChartPoint, Deviation } from '../../rules/index.ts'
import { isOverdue, NC_STATUSES, type NcCase, newNcCase } from '../../rules/quality/nc-workflow.ts'
import type { Peers } from '../cluster/peers.ts'
import type {
  ControlLimitsView,
  NcCause,
  NcStatus,
  NonconformanceSummary,
  NonconformanceView,
} from '../contract.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import { type CharacteristicRuntime, controlView } from '../pipeline/runtime.ts'
import type { Reading } from '../sources/types.ts'
import {
  type IdAllocator,
  idAllocator,
  type RecordsDb,
  type RecordsStatement,
} from '../store/records-db.ts'
import { createRecordsWriter, type RecordsWriter } from '../store/records-writer.ts'
import { ncNumber, ncTitle } from './titles.ts'

/**
 * Opens nonconformances by themselves when an alarm confirms a deviation: the alarm service
 * (gateway/alarms) calls `raise` when alarms whose condition is configured to open NCs
 * (nonconformance.openOn: action limits, run rules, …) become active, after their on-delay, so
 * an NC means a confirmed deviation, not every noisy point. While an NC is open, a new
 * activation of any of its causes adds an occurrence to it instead of opening another, so each
 * characteristic has at most one open NC per cause. Causes that become active together (a
 * spike past the action limit is also beyond 3σ) are one event and go to one NC, titled by the
 * most severe. The NC keeps the readings before the trigger, collects those after it, and the
 * limits in force.
 *
 * The open NCs live in memory (the hot path never reads the database); what changes is
 * written by the records writer (records-writer.ts), off the ingest thread, a commit for many
 * occurrences. `whenDurable` lets an acknowledgement wait for the NC its reading opened or
 * added to (and commits it at once). Reads (`list`, `get`) see every write before them.
 */
export interface NcService {
  start(): Promise<void>
  /**
   * In a cluster: these characteristics' open NCs are read again from the shared records (the
   * previous owner may have opened or added to them) and raised here from now on.
   */
  adopt(ids: readonly string[]): void
  /** In a cluster: another gateway raises these characteristics' NCs now. */
  release(ids: readonly string[]): void
  stop(): Promise<void>
  /** Alarms of one characteristic became active together: open an NC, or add to the open one. */
  raise(runtime: CharacteristicRuntime, triggers: NcTrigger[], points: readonly ChartPoint[]): void
  /** Calls `done` once every NC change made so far is committed. */
  whenDurable(done: () => void): void
  openCount(characteristic: string): number
  list(filter: NcFilter): Promise<NonconformanceSummary[]>
  /** NCs per workflow status, every status present (the metrics). */
  statusCounts(): Promise<Record<NcStatus, number>>
  /** An NC with its workflow case (the quality service adds signatures, comments, attachments). */
  get(id: number): Promise<NcRecord | undefined>
  /**
   * The quality loop moved an NC (rules/quality/nc-workflow.ts): queue its new case. Closing it
   * frees its causes, so the next excursion opens a new NC (a recurrence of this one); reopening
   * takes back those no other NC holds meanwhile. In a cluster, a change to an NC of a
   * characteristic another gateway raises is written and announced (`nc-changed`) once
   * committed: that gateway follows it from the records, so that it stops adding occurrences to
   * an NC closed here, or adds them again to one reopened here.
   */
  workflowChanged(id: number, nc: NcCase, characteristic: string): void
}

/** An NC as stored, with its whole workflow case. */
export type NcRecord = Omit<NonconformanceView, 'workflow'> & {
  workflow: NonconformanceSummary['workflow']
  case: NcCase
  /** Subgroup ids (lots, batches) of the trigger and the readings after it. */
  lotsSeen: string[]
}

/** Filters of the NC list: any of several states, an owner, only overdue ones. */
export interface NcFilter {
  status?: NcStatus[] | undefined
  characteristic?: string | undefined
  owner?: string | undefined
  overdue?: boolean | undefined
  limit: number
}

/** An alarm that became active and opens NCs: its condition, and what it saw. */
export interface NcTrigger {
  condition: AlarmCondition
  /** The run-rule deviation behind an SPC alarm (its pane, run length), when there is one. */
  deviation: Deviation | null
  ts: number
  /** The value judged; for stale and comm-loss, the latest reading. */
  value: number
  limit: number | null
}

const MAX_HISTORY = 100
/**
 * Occurrence rows past MAX_HISTORY an NC may have on disk before the oldest are deleted (down to
 * MAX_HISTORY): one DELETE per 50 occurrences, not one per turn with an occurrence. Reads take the
 * latest MAX_HISTORY.
 */
const FORGET_SLACK = 50

/** The cause an NC records for an alarm condition (the names NCs have always used). */
const CAUSE_OF: Partial<Record<AlarmCondition, NcCause>> = {
  HH: 'action-high',
  H: 'alert-high',
  L: 'alert-low',
  LL: 'action-low',
}

export function ncCauseOf(condition: AlarmCondition): NcCause {
  return CAUSE_OF[condition] ?? (condition as NcCause)
}

/**
 * What triggered an NC: the value judged and, for a rule, the pane it judged, the limit of that
 * pane the point is beyond (N1, WE1, a CUSUM signal: the limit crossed; other run rules: none),
 * and for a CUSUM signal the run length (points since its side left 0, Montgomery's N⁺/N⁻).
 */
function triggerOf(t: NcTrigger, points: readonly ChartPoint[]): NonconformanceSummary['trigger'] {
  const d = t.deviation
  if (!d || d.kind === 'limit') {
    const rule =
      t.condition.startsWith('N') || t.condition.startsWith('WE') || t.condition.startsWith('cusum')
    return {
      ts: t.ts,
      value: t.value,
      limit: t.limit,
      rule: rule ? (t.condition as NonconformanceSummary['trigger']['rule']) : null,
      pane: null,
      runLength: null,
    }
  }
  const pane = points.find((p) => p.index === d.index)?.panes[d.pane]
  let limit: number | null = null
  if (pane && (d.cause === 'N1' || d.cause === 'WE1' || d.cause.startsWith('cusum'))) {
    if (pane.ucl !== null && d.value > pane.ucl) limit = pane.ucl
    else if (pane.lcl !== null && d.value < pane.lcl) limit = pane.lcl
    // A CUSUM side is judged against +h whichever side (C⁻ is plotted as a positive sum).
    else if (d.cause.startsWith('cusum')) limit = pane.ucl
  }
  return {
    ts: d.ts,
    value: d.value,
    limit,
    rule: d.cause,
    pane: d.pane,
    runLength: d.since === undefined ? null : d.index - d.since + 1,
  }
}

/** The statements the records writer runs for the NC service (idempotent: a batch may go twice). */
export const NC_STATEMENTS = {
  insert: `INSERT INTO nonconformance (id, characteristic, characteristic_name, path, cause, title, status,
             opened_at, last_at, occurrences, trigger, limits, readings, history, recurrence_of, lots)
           VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, '[]', ?, ?) ON CONFLICT (id) DO NOTHING`,
  insertCause:
    'INSERT INTO nonconformance_cause (nonconformance, characteristic, cause, open) VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING',
  count: 'UPDATE nonconformance SET last_at = ?, occurrences = ? WHERE id = ?',
  occurrence:
    'INSERT INTO nonconformance_occurrence (nonconformance, number, ts, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  forget: 'DELETE FROM nonconformance_occurrence WHERE nonconformance = ? AND number <= ?',
  readings: 'UPDATE nonconformance SET readings = ?, lots = ? WHERE id = ?',
  workflow:
    'UPDATE nonconformance SET status = ?, workflow = ?, owner = ?, due_at = ?, closed_at = ? WHERE id = ?',
  releaseCauses: 'UPDATE nonconformance_cause SET open = 0 WHERE nonconformance = ?',
  holdCause: 'UPDATE nonconformance_cause SET open = 1 WHERE nonconformance = ? AND cause = ?',
}

interface OpenNc {
  readonly summary: Omit<NonconformanceSummary, 'number' | 'causes' | 'status' | 'workflow'>
  /** Where the quality staff have taken it (open, investigating, dispositioned). */
  workflow: NonconformanceSummary['workflow']
  readonly limits: string
  causes: NcCause[]
  /** Occurrences not written yet, numbered from 1 (the trigger). */
  unsaved: { number: number; ts: number; value: number }[]
  readings: { ts: number; value: number }[]
  /** Subgroup ids (lots, batches) of the trigger and the readings after it. */
  lots: Set<string>
  /** Readings still to be added after the trigger. */
  awaiting: number
  /** What the database has of it: whether the row is there, how many causes, and what is stale. */
  inserted: boolean
  causesSaved: number
  readingsStale: boolean
  /** Occurrence rows up to this number were deleted (0: none known to be; see FORGET_SLACK). */
  forgotten: number
}

interface Row {
  id: number
  characteristic: string
  characteristic_name: string
  path: string
  cause: NcCause
  title: string
  status: NcStatus
  opened_at: number
  last_at: number
  occurrences: number
  trigger: string
  limits: string
  readings: string
  history: string
  workflow: string | null
  recurrence_of: number | null
  lots: string
}

/** The workflow part of a summary, from the whole case (overdue judged at `now`). */
export function workflowSummary(nc: NcCase, now: number): NonconformanceSummary['workflow'] {
  return {
    status: nc.status,
    severity: nc.severity,
    owner: nc.owner,
    dueAt: nc.dueAt,
    overdue: isOverdue(nc, now),
  }
}

function caseOf(row: Pick<Row, 'workflow'>): NcCase {
  return row.workflow === null ? newNcCase() : (JSON.parse(row.workflow) as NcCase)
}

export function createNcService(ctx: {
  db: RecordsDb
  /** records.db, for the writer's own connection (SQLite only: give PostgreSQL's a writer). */
  path: string
  bus: EventBus
  log: Logger
  readingsAfter: number
  /**
   * The records writer to share (its statements include NC_STATEMENTS; the caller starts and
   * stops it). Without one the service has its own.
   */
  writer?: RecordsWriter
  /** In a cluster: whether this gateway raises a characteristic's NCs now, and the other gateways. */
  cluster?: { owns(characteristic: string): boolean; peers: Peers }
}): NcService {
  const { db, bus, log } = ctx
  const ownWriter = ctx.writer === undefined
  const writer: RecordsWriter =
    ctx.writer ??
    createRecordsWriter({
      path: ctx.path,
      statements: NC_STATEMENTS,
      log: log.child({ module: 'records-writer' }),
    })
  const run = (statement: keyof typeof NC_STATEMENTS, ...params: (string | number | null)[]) =>
    writer.run(statement, params)
  /** Open NCs by `characteristic \0 cause`: the hot path looks here, not in the database. */
  const open = new Map<string, OpenNc>()
  const openPerCharacteristic = new Map<string, number>()
  /** Characteristics with an open NC still collecting readings after its trigger. */
  const collecting = new Map<string, Set<OpenNc>>()
  /** NCs changed since they were last handed to the writer, and acknowledgements waiting on them. */
  const stale = new Set<OpenNc>()
  let waiting: (() => void)[] = []
  let saveScheduled = false
  /** NCs with occurrences not announced yet (announceLater). */
  const unannounced = new Set<OpenNc>()
  let announceScheduled = false
  /** NC ids (records-db.ts: several gateways may share PostgreSQL's tables). */
  let ids: IdAllocator
  /** The subgroup id of each keyed characteristic's latest reading: the lot of a trigger. */
  const lastKey = new Map<string, string>()
  /** The latest closed NC per `characteristic \0 cause`: a new NC of that cause recurs it. */
  const lastClosed = new Map<string, number>()
  let causesOfRow: RecordsStatement | null = null
  let heldCauses: RecordsStatement | null = null
  let historyOf: RecordsStatement | null = null
  const owner = {}

  const key = (characteristic: string, cause: NcCause) => `${characteristic}\u0000${cause}`

  ctx.cluster?.peers.on('nc-changed', (announced) => {
    const { characteristic, nc: id } = (announced ?? {}) as {
      characteristic?: unknown
      nc?: unknown
    }
    if (typeof characteristic === 'string' && typeof id === 'number')
      void follow(characteristic, id).catch((err) =>
        log.warn(
          { err, characteristic, nc: id },
          'an NC changed by another gateway was not followed',
        ),
      )
  })

  // Redis was away: an NC this gateway raises may have been taken further (closed, reopened)
  // through another gateway meanwhile, unheard of. Left so, the next excursion would add to an
  // NC closed already rather than open a recurrence.
  ctx.cluster?.peers.onResync(
    () =>
      void resync().catch((err) =>
        log.warn({ err }, 'the NCs changed by other gateways were not read again'),
      ),
  )

  /** The NCs this gateway raises whose workflow the records have otherwise than it does. */
  async function resync(): Promise<void> {
    await flushed()
    const owned = (characteristic: string) => ctx.cluster?.owns(characteristic) === true
    // Open here: closed or taken further there.
    for (const nc of new Set(open.values())) {
      const { id, characteristic } = nc.summary
      const row = db.prepare('SELECT workflow FROM nonconformance WHERE id = ?').get(id) as
        | Pick<Row, 'workflow'>
        | undefined
      if (!row || !owned(characteristic)) continue
      const there = caseOf(row)
      const here = nc.workflow
      if (
        here.status !== there.status ||
        here.owner !== there.owner ||
        here.dueAt !== there.dueAt ||
        here.severity !== there.severity
      )
        moved(id, there, characteristic)
    }
    // Closed as far as this gateway knows (the latest closed NC of its cause), reopened there.
    const held = new Set([...open.values()].map((nc) => nc.summary.id))
    for (const row of db
      .prepare("SELECT id, characteristic, workflow FROM nonconformance WHERE status <> 'closed'")
      .all() as Pick<Row, 'id' | 'characteristic' | 'workflow'>[]) {
      const closedHere = causesOf(row.id).some(
        (cause) => lastClosed.get(key(row.characteristic, cause)) === row.id,
      )
      if (closedHere && !held.has(row.id) && owned(row.characteristic))
        moved(row.id, caseOf(row), row.characteristic)
    }
  }

  /** Another gateway changed an NC this one raises: its workflow as the records have it now. */
  async function follow(characteristic: string, id: number): Promise<void> {
    await flushed()
    if (!ctx.cluster?.owns(characteristic)) return
    const row = db.prepare('SELECT * FROM nonconformance WHERE id = ?').get(id) as Row | undefined
    if (row?.characteristic === characteristic) moved(id, caseOf(row), characteristic)
  }

  /** What a workflow change does to the open NCs in memory (closing frees its causes, …). */
  function moved(id: number, nc: NcCase, characteristic: string): void {
    const held = [...open.values()].find((o) => o.summary.id === id)
    if (nc.status === 'closed') {
      if (!held) return
      run('releaseCauses', id)
      for (const cause of held.causes) {
        if (open.get(key(characteristic, cause)) === held) open.delete(key(characteristic, cause))
        lastClosed.set(key(characteristic, cause), id)
      }
      for (const set of collecting.values()) set.delete(held)
      const left = (openPerCharacteristic.get(characteristic) ?? 1) - 1
      if (left > 0) openPerCharacteristic.set(characteristic, left)
      else openPerCharacteristic.delete(characteristic)
      held.workflow = workflowSummary(nc, Date.now())
      bus.emit('nc', { type: 'updated', nc: summary(held) })
      return
    }
    if (held) {
      held.workflow = workflowSummary(nc, Date.now())
      emit('updated', held)
      return
    }
    // Reopened: it takes back the causes no other NC took meanwhile.
    const row = db.prepare('SELECT * FROM nonconformance WHERE id = ?').get(id) as Row | undefined
    if (!row) return
    const back = load({ ...row, status: nc.status, workflow: JSON.stringify(nc) }, true)
    for (const cause of back.causes)
      if (open.get(key(characteristic, cause)) === back) run('holdCause', id, cause)
    emit('updated', back)
  }

  function causesOf(id: number): NcCause[] {
    return ((causesOfRow?.all(id) ?? []) as { cause: NcCause }[]).map((r) => r.cause)
  }

  function rowSummary(row: Row): NonconformanceSummary {
    const workflow = workflowSummary(caseOf(row), Date.now())
    return {
      workflow,
      recurrenceOf: row.recurrence_of,
      id: row.id,
      number: ncNumber(row.id),
      characteristic: row.characteristic,
      characteristicName: row.characteristic_name,
      path: row.path,
      cause: row.cause,
      causes: causesOf(row.id),
      title: row.title,
      status: workflow.status,
      openedAt: row.opened_at,
      lastAt: row.last_at,
      occurrences: row.occurrences,
      // An NC opened before triggers named their pane and run length has neither.
      trigger: {
        pane: null,
        runLength: null,
        ...(JSON.parse(row.trigger) as Partial<NonconformanceSummary['trigger']>),
      } as NonconformanceSummary['trigger'],
    }
  }

  function summary(nc: OpenNc): NonconformanceSummary {
    const workflow = { ...nc.workflow, overdue: isOverdue(nc.workflow, Date.now()) }
    return {
      ...nc.summary,
      number: ncNumber(nc.summary.id),
      causes: [...nc.causes],
      status: workflow.status,
      workflow,
    }
  }

  /** Hands what changed to the writer: once per turn, however many occurrences the turn had. */
  function save(): void {
    saveScheduled = false
    for (const nc of stale) {
      const s = nc.summary
      if (!nc.inserted) {
        run(
          'insert',
          s.id,
          s.characteristic,
          s.characteristicName,
          s.path,
          s.cause,
          s.title,
          s.openedAt,
          s.lastAt,
          s.occurrences,
          JSON.stringify(s.trigger),
          nc.limits,
          JSON.stringify(nc.readings),
          s.recurrenceOf,
          JSON.stringify([...nc.lots]),
        )
        nc.inserted = true
      } else {
        if (nc.unsaved.length > 0) run('count', s.lastAt, s.occurrences, s.id)
        if (nc.readingsStale)
          run('readings', JSON.stringify(nc.readings), JSON.stringify([...nc.lots]), s.id)
      }
      // Each occurrence is a row (what is written does not grow with the number before it).
      for (const o of nc.unsaved) run('occurrence', s.id, o.number, o.ts, o.value)
      if (s.occurrences - nc.forgotten > MAX_HISTORY + FORGET_SLACK) {
        nc.forgotten = s.occurrences - MAX_HISTORY
        run('forget', s.id, nc.forgotten)
      }
      nc.unsaved.length = 0
      for (; nc.causesSaved < nc.causes.length; nc.causesSaved++)
        run('insertCause', s.id, s.characteristic, nc.causes[nc.causesSaved] as NcCause)
      nc.readingsStale = false
    }
    stale.clear()
    const acks = waiting
    waiting = []
    for (const done of acks) writer.whenDurable(done)
  }

  function changed(nc: OpenNc, what: 'readings' | null): void {
    if (what === 'readings') nc.readingsStale = true
    stale.add(nc)
    if (saveScheduled) return
    saveScheduled = true
    setImmediate(save)
  }

  function emit(type: 'opened' | 'updated', nc: OpenNc): void {
    bus.emit('nc', { type, nc: summary(nc) })
  }

  function openNc(
    rt: CharacteristicRuntime,
    t: NcTrigger,
    causes: NcCause[],
    points: readonly ChartPoint[],
  ): void {
    const d = { cause: ncCauseOf(t.condition), ts: t.ts, value: t.value }
    const pane = t.deviation?.kind === 'rule' ? t.deviation.pane : null
    const c = rt.config
    const control: ControlLimitsView | null = controlView(rt.state.chart.limits, rt.lastPoint)
    const recurs = causes
      .map((cause) => lastClosed.get(key(c.id, cause)))
      .filter((id): id is number => id !== undefined)
    const nc: OpenNc = {
      workflow: workflowSummary(newNcCase(), d.ts),
      summary: {
        recurrenceOf: recurs.length > 0 ? Math.max(...recurs) : null,
        id: ids.next(),
        characteristic: c.id,
        characteristicName: c.name,
        path: c.path,
        cause: d.cause,
        title: ncTitle(c.name, d.cause, pane),
        openedAt: d.ts,
        lastAt: d.ts,
        occurrences: 1,
        trigger: triggerOf(t, points),
      },
      limits: JSON.stringify({ alarm: c.limits, control }),
      causes: [],
      unsaved: [{ number: 1, ts: d.ts, value: d.value }],
      readings: rt.recent.toArray(),
      lots: new Set(lastKey.has(c.id) ? [lastKey.get(c.id) as string] : []),
      awaiting: ctx.readingsAfter,
      inserted: false,
      causesSaved: 0,
      readingsStale: false,
      forgotten: 0,
    }
    for (const cause of causes) attachCause(c.id, nc, cause)
    openPerCharacteristic.set(c.id, (openPerCharacteristic.get(c.id) ?? 0) + 1)
    if (nc.awaiting > 0) addCollecting(c.id, nc)
    changed(nc, null)
    log.info(
      { nc: ncNumber(nc.summary.id), characteristic: c.id, cause: d.cause, value: d.value },
      'nonconformance opened',
    )
    emit('opened', nc)
  }

  function attachCause(characteristic: string, nc: OpenNc, cause: NcCause): void {
    nc.causes.push(cause)
    open.set(key(characteristic, cause), nc)
    changed(nc, null)
  }

  function addOccurrence(nc: OpenNc, d: { ts: number; value: number }): void {
    nc.summary.occurrences++
    nc.summary.lastAt = d.ts
    nc.unsaved.push({ number: nc.summary.occurrences, ts: d.ts, value: d.value })
    // Bounded while the writer cannot keep up: only the latest MAX_HISTORY are kept anyway.
    if (nc.unsaved.length > MAX_HISTORY) nc.unsaved.splice(0, nc.unsaved.length - MAX_HISTORY)
    changed(nc, null)
    announceLater(nc)
  }

  /**
   * An occurrence is a repeat: announced (`updated`, with the count) once per NC at the end of
   * the work at hand, however many occurrences it added, not once each (a batch of readings can
   * add hundreds). A microtask runs before the turn ends, so the time-series event the
   * announcement writes joins the batch of the readings that caused it (an acknowledgement waits
   * for that batch).
   */
  function announceLater(nc: OpenNc): void {
    unannounced.add(nc)
    if (announceScheduled) return
    announceScheduled = true
    queueMicrotask(announce)
  }

  function announce(): void {
    announceScheduled = false
    const ncs = [...unannounced]
    unannounced.clear()
    for (const nc of ncs) emit('updated', nc)
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
      if (reading.key !== undefined) nc.lots.add(reading.key)
      nc.awaiting--
      // Written once complete (or at stop), not at every reading.
      if (nc.awaiting <= 0) {
        changed(nc, 'readings')
        set.delete(nc)
      }
    }
    if (set.size === 0) collecting.delete(reading.characteristic)
  }

  /**
   * An NC that is not closed, into memory: it takes the causes it holds (`reopened`: those no
   * other NC holds now) so that their next activations add to it.
   */
  function load(row: Row, reopened = false): OpenNc {
    const { number: _, causes, status: __, workflow, ...rest } = rowSummary(row)
    const nc: OpenNc = {
      workflow,
      summary: rest,
      limits: row.limits,
      causes,
      unsaved: [],
      readings: JSON.parse(row.readings),
      lots: new Set(JSON.parse(row.lots) as string[]),
      awaiting: 0, // readings after a restart would not follow the trigger: collection ends
      inserted: true,
      causesSaved: causes.length,
      readingsStale: false,
      forgotten: 0,
    }
    const held = reopened
      ? causes.filter((cause) => !open.has(key(row.characteristic, cause)))
      : ((heldCauses as RecordsStatement).all(row.id) as { cause: NcCause }[]).map((r) => r.cause)
    for (const cause of held) open.set(key(row.characteristic, cause), nc)
    openPerCharacteristic.set(
      row.characteristic,
      (openPerCharacteristic.get(row.characteristic) ?? 0) + 1,
    )
    return nc
  }

  /** Forgets a characteristic's open NCs in memory (what changed is handed to the writer first). */
  function forget(characteristic: string): void {
    if (stale.size > 0) save()
    for (const [k, nc] of open) if (nc.summary.characteristic === characteristic) open.delete(k)
    openPerCharacteristic.delete(characteristic)
    collecting.delete(characteristic)
    for (const k of lastClosed.keys())
      if (k.startsWith(`${characteristic}\u0000`)) lastClosed.delete(k)
  }

  return {
    adopt(ids) {
      for (const characteristic of ids) {
        forget(characteristic)
        for (const row of db
          .prepare("SELECT * FROM nonconformance WHERE status != 'closed' AND characteristic = ?")
          .all(characteristic) as unknown as Row[])
          load(row)
        for (const r of db
          .prepare(
            `SELECT c.cause, max(n.id) AS id FROM nonconformance_cause c
             JOIN nonconformance n ON n.id = c.nonconformance
             WHERE n.status = 'closed' AND c.characteristic = ? GROUP BY c.cause`,
          )
          .all(characteristic) as { cause: NcCause; id: number }[])
          lastClosed.set(key(characteristic, r.cause), r.id)
      }
    },

    release(ids) {
      for (const characteristic of ids) forget(characteristic)
    },

    async start() {
      causesOfRow = db.prepare(
        'SELECT cause FROM nonconformance_cause WHERE nonconformance = ? ORDER BY rowid',
      )
      historyOf = db.prepare(
        `SELECT ts, value FROM nonconformance_occurrence WHERE nonconformance = ?
         ORDER BY number DESC LIMIT ${MAX_HISTORY}`,
      )
      ids = idAllocator(db, 'nonconformance')
      heldCauses = db.prepare(
        'SELECT cause FROM nonconformance_cause WHERE nonconformance = ? AND open = 1',
      )
      for (const row of db
        .prepare("SELECT * FROM nonconformance WHERE status != 'closed'")
        .all() as unknown as Row[]) {
        load(row)
      }
      for (const r of db
        .prepare(
          `SELECT c.characteristic, c.cause, max(n.id) AS id FROM nonconformance_cause c
           JOIN nonconformance n ON n.id = c.nonconformance WHERE n.status = 'closed' GROUP BY 1, 2`,
        )
        .all() as { characteristic: string; cause: NcCause; id: number }[]) {
        lastClosed.set(key(r.characteristic, r.cause), r.id)
      }
      if (ownWriter) await writer.start()

      bus.on('evaluated', owner, ({ runtime, reading }) => {
        const id = runtime.config.id
        if (reading?.key !== undefined) lastKey.set(id, reading.key)
        const set = reading ? collecting.get(id) : undefined
        // runtime.last holds the measure the limits judge (a p chart's proportion), as the readings before it.
        if (reading && set && runtime.last)
          collectAfter({ ...reading, value: runtime.last.value }, set)
      })
    },

    raise(runtime, triggers, points) {
      const id = runtime.config.id
      const first = triggers[0]
      if (!first) return
      // The usual case, a repeat: one trigger whose cause has its NC open already.
      if (triggers.length === 1) {
        const held = open.get(key(id, ncCauseOf(first.condition)))
        if (held) {
          addOccurrence(held, first)
          return
        }
      }
      const causes = triggers.map((t) => ncCauseOf(t.condition))
      const existing = new Set(causes.flatMap((cause) => open.get(key(id, cause)) ?? []))
      const fresh = [...new Set(causes.filter((cause) => !open.has(key(id, cause))))]
      if (existing.size === 0) {
        openNc(runtime, first, fresh, points)
        return
      }
      // A cause new to this event joins the open NC it came with.
      const joined = [...existing][0] as OpenNc
      for (const cause of fresh) attachCause(id, joined, cause)
      for (const nc of existing) addOccurrence(nc, first)
    },

    workflowChanged(id, nc, characteristic) {
      run(
        'workflow',
        nc.status,
        JSON.stringify(nc),
        nc.owner ?? '',
        nc.dueAt ?? 0,
        nc.closedAt ?? 0,
        id,
      )
      const cluster = ctx.cluster
      if (cluster && !cluster.owns(characteristic)) {
        // The gateway that raises its NCs holds which causes it has: it follows once committed.
        if (nc.status === 'closed') run('releaseCauses', id)
        forget(characteristic)
        writer.whenDurable(() => cluster.peers.announce('nc-changed', { characteristic, nc: id }))
        return
      }
      moved(id, nc, characteristic)
    },

    async stop() {
      bus.removeOwner(owner)
      // What was collected after a trigger is kept, even if fewer than asked for.
      for (const set of collecting.values()) for (const nc of set) changed(nc, 'readings')
      collecting.clear()
      save()
      if (ownWriter) await writer.stop()
    },

    whenDurable(done) {
      if (stale.size > 0) waiting.push(done)
      else writer.whenDurable(done)
    },

    openCount: (characteristic) => openPerCharacteristic.get(characteristic) ?? 0,

    async list({ status, characteristic, owner, overdue, limit }) {
      await flushed()
      const where: string[] = []
      const params: (string | number)[] = []
      if (status && status.length > 0) {
        where.push(`status IN (${status.map(() => '?').join(', ')})`)
        params.push(...status)
      }
      if (characteristic) {
        where.push('characteristic = ?')
        params.push(characteristic)
      }
      if (owner) {
        where.push('owner = ?')
        params.push(owner)
      }
      if (overdue !== undefined) {
        // due_at 0: no due date (stored so, to keep the statement's parameters plain numbers).
        where.push(
          overdue
            ? "status != 'closed' AND due_at > 0 AND due_at < ?"
            : "NOT (status != 'closed' AND coalesce(due_at, 0) > 0 AND due_at < ?)",
        )
        params.push(Date.now())
      }
      const rows = db
        .prepare(
          `SELECT * FROM nonconformance ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        )
        .all(...params, limit) as unknown as Row[]
      return rows.map(rowSummary)
    },

    async statusCounts() {
      await flushed()
      const counts = Object.fromEntries(NC_STATUSES.map((st) => [st, 0])) as Record<
        NcStatus,
        number
      >
      for (const row of db
        .prepare('SELECT status, COUNT(*) AS n FROM nonconformance GROUP BY status')
        .all() as { status: NcStatus; n: number }[])
        counts[row.status] = row.n
      return counts
    },

    async get(id) {
      await flushed()
      const row = db.prepare('SELECT * FROM nonconformance WHERE id = ?').get(id) as Row | undefined
      if (!row) return undefined
      const limits = JSON.parse(row.limits) as NonconformanceView['limitsInForce']
      // Readings after the trigger are written once complete: while collecting, memory has them.
      const live = collecting.get(row.characteristic)
      const held = live ? [...live].find((nc) => nc.summary.id === id) : undefined
      const collected = held?.readings
      return {
        ...rowSummary(row),
        case: caseOf(row),
        lotsSeen: held ? [...held.lots] : (JSON.parse(row.lots) as string[]),
        limitsInForce: limits,
        readings: collected ? [...collected] : JSON.parse(row.readings),
        history: (
          (historyOf as RecordsStatement).all(id) as { ts: number; value: number }[]
        ).reverse(),
      }
    },
  }

  /** Resolves once every change made so far is committed: a read sees what came before it. */
  function flushed(): Promise<void> {
    return new Promise((resolve) => {
      if (stale.size > 0) save()
      writer.whenDurable(resolve)
    })
  }
}
