import {
  ALARM_PRIORITIES,
  type AlarmCondition,
  type AlarmInput,
  type AlarmRecord,
  type AlarmState,
  type AlarmTransition,
  alarmKpis,
  alarmSettingsProblems,
  type ConditionInput,
  type ConditionKind,
  type Deviation,
  type Evaluation,
  GRADE_A_5UM_DEFAULTS,
  initialCondition,
  stepAlarm,
  stepCondition,
  stepGradeA5um,
} from '../../rules/index.ts'
import type { AuditFields } from '../../rules/quality/audit.ts'
import type { Peers } from '../cluster/peers.ts'
import type { Config } from '../config/index.ts'
import type { AlarmView, PlantStateView } from '../contract.ts'
import type { AlarmChange, EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import type { NcService, NcTrigger } from '../nonconformance/index.ts'
import type { CharacteristicRuntime } from '../pipeline/runtime.ts'
import type { Communication, Reading } from '../sources/types.ts'
import { type IdAllocator, idAllocator, type RecordsDb } from '../store/records-db.ts'
import type { RecordsWriter } from '../store/records-writer.ts'
import { areaOf, suppressionMap } from './catalogue.ts'
import type { AlarmAct, AlarmActResult, AlarmService } from './index.ts'
import { createOthersAlarms } from './others.ts'
import {
  AlarmRegistry,
  type AlarmSettingsChange,
  conditionBit,
  type Entry,
  type Slot,
  withChange,
} from './registry.ts'
import { durationText, numberWords } from './words.ts'

/** Statements the records writer runs for alarms (idempotent: a batch may be sent twice). */
export const ALARM_STATEMENTS = {
  alarmSave: `INSERT INTO alarm (id, record, shelved_by, shelve_reason, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET record = excluded.record, shelved_by = excluded.shelved_by,
              shelve_reason = excluded.shelve_reason, updated_at = excluded.updated_at`,
  alarmEvent: `INSERT INTO alarm_event (id, alarm, area, priority, at, from_state, to_state, by, why, value)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  alarmPruneBefore: 'DELETE FROM alarm_event WHERE at < ?',
  alarmPruneUpTo: 'DELETE FROM alarm_event WHERE id <= ?',
  alarmOverride: `INSERT INTO alarm_override (id, settings) VALUES (?, ?)
                  ON CONFLICT (id) DO UPDATE SET settings = excluded.settings`,
  plantStateSave: `INSERT INTO plant_state (id, active, since, by, reason) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET active = excluded.active, since = excluded.since,
                   by = excluded.by, reason = excluded.reason`,
}

const TICK_MS = 1000
const PRUNE_EVERY_MS = 3_600_000
const STANDING_LOOKBACK_MS = 24 * 3_600_000
/** Alarms `list` gives at most (a state filter of `normal` could name every alarm defined). */
const MAX_LISTED = 100_000

/** Conditions on the measured value, whose excursions have a duration and a peak. */
const MEASURED: ReadonlySet<ConditionKind> = new Set(['above', 'below', 'target'])

const LIMIT_KEY = {
  HH: 'actionHigh',
  H: 'alertHigh',
  L: 'alertLow',
  LL: 'actionLow',
} as const

const COMM_LOSS_BIT = conditionBit('comm-loss')
const STALE_BIT = conditionBit('stale')

/** Two numbers (or nulls) that JSON writes alike (NaN and ±Infinity are written null). */
function sameJson(a: number | null, b: number | null): boolean {
  return a === b || ((a === null || !Number.isFinite(a)) && (b === null || !Number.isFinite(b)))
}

/**
 * Whether a lifecycle step changed the record as its JSON (what is saved) would show: field by
 * field, not two JSON.stringify per step (an absent suppressedByDesign made false counts).
 */
function recordChanged(a: AlarmRecord, b: AlarmRecord): boolean {
  return (
    a.state !== b.state ||
    a.active !== b.active ||
    a.acknowledged !== b.acknowledged ||
    !sameJson(a.activeSince, b.activeSince) ||
    !sameJson(a.acknowledgedAt, b.acknowledgedAt) ||
    !sameJson(a.shelvedUntil, b.shelvedUntil) ||
    a.activeWhileShelved !== b.activeWhileShelved ||
    !sameJson(a.value, b.value) ||
    !sameJson(a.limit, b.limit) ||
    !sameJson(a.since, b.since) ||
    a.suppressedByDesign !== b.suppressedByDesign
  )
}

/**
 * The alarms a suppression can name (what suppressionMap is given): those a rule's pattern
 * matches, and the comm-loss and stale alarms of a characteristic that has both (built in).
 * Not every alarm of every characteristic: with 100,000 characteristics that list was
 * 1.1 million objects and ids made at start, for a map that is usually empty.
 */
function suppressible(
  config: Config,
  entries: ReadonlyMap<string, Entry>,
): { id: string; characteristic: string; condition: AlarmCondition }[] {
  const patterns = config.alarms.suppression.flatMap((rule) =>
    rule.suppress.map((pattern) => pattern.split(':') as [string, string]),
  )
  const out: { id: string; characteristic: string; condition: AlarmCondition }[] = []
  for (const c of config.characteristics) {
    const profile = (entries.get(c.id) as Entry).profile
    const builtIn = profile.stale && profile.conditions.includes('comm-loss')
    const named = patterns.some(([ch]) => ch === '*' || ch === c.id)
    if (!builtIn && !named) continue
    for (const condition of profile.conditions) {
      const wanted =
        (builtIn && (condition === 'stale' || condition === 'comm-loss')) ||
        patterns.some(
          ([ch, cond]) => (ch === '*' || ch === c.id) && (cond === '*' || cond === condition),
        )
      if (wanted) out.push({ id: `${c.id}:${condition}`, characteristic: c.id, condition })
    }
  }
  return out
}

/** How long an act on an alarm another gateway judges waits for that gateway's answer. */
const FORWARD_TIMEOUT_MS = 5_000

/** An act and a settings change as asked of the gateway that judges the alarm. */
type ActsAsked = [ids: string[], act: AlarmAct, by: string | null]
type SettingsAsked = [id: string, change: AlarmSettingsChange, by: string | null, reason: string]
/** A plant state's change, announced to the other gateways of a cluster. */
interface StateChange {
  id: string
  active: boolean
  at: number
  by: string | null
  reason: string | null
}
/** A suppressor alarm's change, announced to the other gateways of a cluster. */
interface SuppressorChange {
  id: string
  active: boolean
  at: number
}

interface AlarmRow {
  id: string
  record: string
  shelved_by: string | null
  shelve_reason: string | null
}

export function createAlarmService(ctx: {
  config: Config
  db: RecordsDb
  writer: RecordsWriter
  bus: EventBus
  log: Logger
  nc: NcService
  runtime: (id: string) => CharacteristicRuntime | undefined
  /** The audit trail: settings changes are GMP-relevant changes (Annex 11 §9). */
  audit?: (fields: Omit<AuditFields, 'at'> & { at: number }) => void
  /** The clock (tests inject one); the rules never read it. */
  now?: () => number
  /** In a cluster: a characteristic's alarms are judged only once adopted (gateway/cluster). */
  leased?: boolean
  /** In a cluster: the other gateways, which act on the alarms they judge (gateway/cluster/peers.ts). */
  peers?: Peers
}): AlarmService {
  const { config, db, writer, bus, log, nc } = ctx
  const now = ctx.now ?? Date.now
  const registry = new AlarmRegistry(config, now())
  const { entries, live } = registry
  if (ctx.leased) for (const entry of entries.values()) entry.owned = false
  /** Alarms that need time to pass: a running time delay, a shelve, a re-alarm. */
  const timed = new Set<Slot>()
  /** For each suppressor (`state:ID` or an alarm id): the alarm ids it suppresses, and why. */
  const suppression = new Map<string, { targets: string[]; why: string }>()
  for (const [key, value] of suppressionMap(config, suppressible(config, entries)))
    suppression.set(key, value)
  /** Plant states: active, since, by, reason; derived ones follow a characteristic's readings. */
  const states = new Map<
    string,
    {
      view: PlantStateView
      derived: {
        characteristic: string
        below?: number | undefined
        above?: number | undefined
      } | null
    }
  >()
  const derivedBy = new Map<string, string[]>()
  for (const s of config.alarms.states) {
    states.set(s.id, {
      view: {
        id: s.id,
        name: s.name,
        active: false,
        since: null,
        by: null,
        reason: null,
        manual: !s.when,
      },
      derived: s.when ?? null,
    })
    if (s.when)
      derivedBy.set(s.when.characteristic, [...(derivedBy.get(s.when.characteristic) ?? []), s.id])
  }
  const timers: NodeJS.Timeout[] = []
  const owner = {}
  /** Transition ids (records-db.ts: several gateways may share PostgreSQL's tables). */
  let eventIds: IdAllocator
  let saveScheduled = false
  const dirtySlots = new Set<Slot>()
  const releasable = new Set<Slot>()
  /** Acknowledgements waiting for the alarm changes of their turn. */
  let waiting: (() => void)[] = []
  /** The alarms one evaluation activated (reused: the hot path allocates nothing). */
  const scratch: Slot[] = []
  /** In a cluster: the alarms of the characteristics other gateways judge, from the records. */
  const others = ctx.leased ? createOthersAlarms({ db, registry }) : null
  /** In a cluster: the suppressor alarms other gateways judge, active or not (suppressorHolds). */
  const remoteSuppressors = new Map<string, boolean>()
  // Acts through another gateway (one, or a bulk acknowledgement): this one acts on those it
  // judges, in one answer.
  ctx.peers?.on('alarm-acts', async (p) => {
    const [ids, act, by] = p as ActsAsked
    if (!Array.isArray(ids)) return null
    const mine = ids.filter((id) => typeof id === 'string' && registry.resolve(id) && owns(id))
    if (mine.length === 0) return null
    const results = mine.map((id) => [id, actHere(id, act, by) ?? null])
    await new Promise<void>((resolve) => durable(resolve))
    return { results }
  })
  ctx.peers?.on('plant-state', (p) => {
    const c = p as StateChange
    const since = states.get(c.id)?.view.since ?? null
    // An older change than the one in force here (two gateways at once): the later one stands.
    if (since === null || c.at >= since) applyState(c)
  })
  // A suppressor alarm another gateway judges changed: the alarms it suppresses here follow.
  ctx.peers?.on('alarm-suppressor', (p) => {
    const { id, active, at } = p as SuppressorChange
    if (!suppression.has(id) || owns(id)) return
    if ((remoteSuppressors.get(id) ?? false) === active) return
    remoteSuppressors.set(id, active)
    suppressorChanged(id, active, at)
  })
  // Redis was away, here or on another gateway: announcements may have been missed both ways.
  // What the others judge stands as their records say, and what this gateway judges is
  // announced again (a record may be saved up to a commit later than its announcement).
  ctx.peers?.onResync(() => {
    const at = now()
    for (const [key, heard] of remoteSuppressors) {
      if (owns(key)) continue
      const active = others?.view(key)?.active ?? false
      if (active === heard) continue
      remoteSuppressors.set(key, active)
      suppressorChanged(key, active, at)
    }
    for (const row of savedPlantStates()) {
      const since = states.get(row.id)?.view.since ?? null
      if (since === null || row.at > since) applyState(row)
    }
    for (const key of suppression.keys())
      if (!key.startsWith('state:') && owns(key)) {
        const change: SuppressorChange = {
          id: key,
          active: live.get(key)?.record.active ?? false,
          at,
        }
        ctx.peers?.announce('alarm-suppressor', change)
      }
    for (const [id, { view }] of states)
      if (view.since !== null) {
        const change: StateChange = {
          id,
          active: view.active,
          at: view.since,
          by: view.by,
          reason: view.reason,
        }
        ctx.peers?.announce('plant-state', change)
      }
  })
  ctx.peers?.on('alarm-settings', (p) =>
    answerAsOwner(p, () => changeSettingsHere(...(p as SettingsAsked))),
  )

  // ---- the lifecycle -----------------------------------------------------------------------

  /** Steps an alarm's lifecycle; persists, announces, and tells suppression what changed. */
  function lifecycle(
    slot: Slot,
    input: AlarmInput,
    note = '',
  ): { transitions: AlarmTransition[]; refused: string | null } {
    const before = slot.record
    registry.count(slot, -1)
    const step = stepAlarm({ reAlarmMs: slot.def.settings.reAlarmMs }, before, input)
    slot.record = step.record
    registry.count(slot, 1)
    if (slot.record.state !== 'shelved') {
      slot.shelvedBy = null
      slot.shelveReason = null
    }
    for (const t of step.transitions) {
      writer.run('alarmEvent', [
        eventIds.next(),
        slot.def.id,
        slot.def.area,
        slot.def.priority,
        t.at,
        t.from,
        t.to,
        t.by,
        t.why + note,
        t.value,
      ])
    }
    if (step.transitions.length > 0 || recordChanged(before, step.record)) {
      markDirty(slot)
      bus.emit('alarm', changeOf(slot))
    }
    track(slot)
    if (before.active !== slot.record.active) {
      suppressorChanged(slot.def.id, slot.record.active, input.at)
      // In a cluster, the alarms it suppresses may be judged by other gateways. Told once its
      // record is committed: one that takes the alarm over (this gateway died) reads what they
      // heard.
      const peers = ctx.peers
      if (peers && suppression.has(slot.def.id)) {
        const change: SuppressorChange = {
          id: slot.def.id,
          active: slot.record.active,
          at: input.at,
        }
        durable(() => peers.announce('alarm-suppressor', change))
      }
    }
    releaseLater(slot)
    return { transitions: step.transitions, refused: step.refused }
  }

  /** What the bus says of a changed alarm: its view is made only when a listener asks. */
  function changeOf(slot: Slot): AlarmChange {
    return { id: slot.def.id, view: () => registry.view(slot) }
  }

  function markDirty(slot: Slot): void {
    dirtySlots.add(slot)
    schedule()
  }

  /**
   * An alarm's object goes once it is pristine again: looked at after the turn, so that no code
   * holding it in this turn finds it gone.
   */
  function releaseLater(slot: Slot): void {
    releasable.add(slot)
    schedule()
  }

  function schedule(): void {
    if (saveScheduled) return
    saveScheduled = true
    setImmediate(save)
  }

  function save(): void {
    saveScheduled = false
    for (const slot of releasable) if (!dirtySlots.has(slot)) registry.release(slot)
    releasable.clear()
    const at = now()
    for (const slot of dirtySlots) {
      writer.run('alarmSave', [
        slot.def.id,
        JSON.stringify(slot.record),
        slot.shelvedBy,
        slot.shelveReason,
        at,
      ])
    }
    for (const slot of dirtySlots) registry.release(slot)
    dirtySlots.clear()
    const acks = waiting
    waiting = []
    for (const done of acks) writer.whenDurable(done)
  }

  /** Keeps the set of alarms that need ticks true. */
  function track(slot: Slot): void {
    const r = slot.record
    const t = slot.def.settings.threshold
    const delay = slot.cond.delay.active ? t?.offDelay : t?.onDelay
    const pendingTime =
      slot.cond.delay.pendingSince !== null && delay !== undefined && 'ms' in delay
    const reAlarm = r.state === 'ack-active' && slot.def.settings.reAlarmMs !== undefined
    if (pendingTime || r.state === 'shelved' || reAlarm) timed.add(slot)
    else timed.delete(slot)
  }

  /** Steps a condition; a change goes to the lifecycle. Returns true when the alarm became active. */
  function judge(slot: Slot, input: ConditionInput, note = ''): boolean {
    const step = stepCondition(slot.def.settings, slot.cond, input)
    slot.cond = step.state
    noteBusy(slot)
    if (!step.changed) {
      track(slot)
      releaseLater(slot)
      return false
    }
    const wasActive = slot.record.active
    const excursion = excursionNote(slot, step.active, input.at)
    if (step.active) slot.peak = step.value
    lifecycle(
      slot,
      {
        kind: 'condition',
        at: input.at,
        active: step.active,
        value: step.value,
        limit: step.limit,
      },
      excursion + note,
    )
    return !wasActive && slot.record.active
  }

  /** Keeps the entry's mask of busy alarms (active, or a delay running) true for this slot. */
  function noteBusy(slot: Slot): void {
    const d = slot.cond.delay
    if (d.active || d.pendingSince !== null) slot.entry.busy |= slot.bit
    else slot.entry.busy &= ~slot.bit
  }

  /**
   * An excursion past a limit or off target is recorded with its return: how long it lasted and
   * its farthest value (Annex 1 asks for the duration of a particle excursion).
   */
  function excursionNote(slot: Slot, active: boolean, at: number): string {
    const since = slot.record.activeSince
    if (active || since === null || !MEASURED.has(slot.kind)) return ''
    const unit = slot.entry.c.unit
    const peak =
      slot.peak === null ? '' : `, peak ${numberWords(slot.peak)}${unit ? ` ${unit}` : ''}`
    return `; the excursion lasted ${durationText(at - since)}${peak}`
  }

  /** While a limit or target alarm is active, the farthest value it has seen. */
  function notePeak(slot: Slot, value: number): void {
    if (!slot.record.active || slot.peak === null) return
    const target = slot.def.settings.target as number
    const far =
      slot.kind === 'below'
        ? value < slot.peak
        : slot.kind === 'above'
          ? value > slot.peak
          : Math.abs(value - target) > Math.abs(slot.peak - target)
    if (far) slot.peak = value
  }

  // ---- suppression by design ---------------------------------------------------------------

  function suppressorChanged(
    key: string,
    holds: boolean,
    at: number,
    skip?: ReadonlySet<Entry>,
  ): void {
    const entry = suppression.get(key)
    if (!entry) return
    for (const id of entry.targets) {
      const found = registry.resolve(id)
      // Another gateway's alarm is its to suppress (it hears of the plant state too).
      if (!found?.entry.owned || skip?.has(found.entry)) continue
      const target = registry.slot(found.entry, found.condition)
      const before = target.suppressors
      target.suppressors += holds ? 1 : -1
      if (before === 0 || target.suppressors === 0)
        lifecycle(target, {
          kind: 'suppress',
          at,
          on: target.suppressors > 0,
          why: holds ? entry.why : 'suppression by design ended',
        })
    }
  }

  /** A plant state's change made here: recorded, announced to the other gateways, applied. */
  function setState(c: StateChange): void {
    const s = states.get(c.id)
    if (!s || s.view.active === c.active) return
    writer.run('plantStateSave', [c.id, c.active ? 1 : 0, c.at, c.by, c.reason])
    log.info({ state: c.id, active: c.active, by: c.by, reason: c.reason }, 'plant state changed')
    // In a cluster the other gateways take it too, once it is committed (what they would read
    // again after an outage): they suppress the alarms they judge.
    const peers = ctx.peers
    if (peers) writer.whenDurable(() => peers.announce('plant-state', c))
    applyState(c)
  }

  /** A plant state's change, here (recorded by the gateway it was made on). */
  function applyState({ id, active, at, by, reason }: StateChange): void {
    const s = states.get(id)
    if (!s || s.view.active === active) return
    s.view = { ...s.view, active, since: at, by, reason }
    bus.emit('plant-state', s.view)
    suppressorChanged(`state:${id}`, active, at)
  }

  function judgeState(id: string, value: number, at: number): void {
    const s = states.get(id)
    const when = s?.derived
    if (!s || !when) return
    const holds =
      (when.below !== undefined && value < when.below) ||
      (when.above !== undefined && value > when.above)
    if (holds !== s.view.active)
      setState({
        id,
        active: holds,
        at,
        by: null,
        reason: holds ? 'condition met' : 'condition ended',
      })
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** Opens or adds to nonconformances for the alarms that became active, one call per characteristic. */
  function raiseNcs(
    rt: CharacteristicRuntime,
    activated: readonly Slot[],
    evaluation: Evaluation | null,
    reading: Reading | null,
  ): void {
    const triggers: NcTrigger[] = []
    for (const slot of activated) {
      if (!slot.def.opensNc) continue
      const state = slot.record.state
      if (state === 'suppressed' || state === 'out-of-service') continue
      const deviation = evaluation?.deviations.find(
        (d): d is Deviation => d.kind === 'rule' && d.cause === slot.def.condition,
      )
      triggers.push({
        condition: slot.def.condition,
        deviation: deviation ?? null,
        ts: reading?.ts ?? slot.record.activeSince ?? now(),
        value: MEASURED.has(slot.kind)
          ? (slot.record.value ?? 0)
          : (rt.last?.value ?? slot.record.value ?? 0),
        limit: slot.record.limit,
      })
    }
    if (triggers.length > 0) nc.raise(rt, triggers, evaluation?.points ?? [])
  }

  /**
   * Whether a reading is beyond a clear alarm's threshold, the raw test alone (the deadband only
   * widens an active alarm's band): a reading that is not cannot change a clear limit or target
   * alarm with no delay running.
   */
  function beyond(entry: Entry, condition: AlarmCondition, value: number): boolean {
    const c = entry.c
    switch (condition) {
      case 'HH':
      case 'H':
        return value > (c.limits[LIMIT_KEY[condition]] as number)
      case 'L':
      case 'LL':
        return value < (c.limits[LIMIT_KEY[condition]] as number)
      case 'target': {
        const t = c.alarms?.target as { value: number; maxDeviation: number }
        return Math.abs(value - t.value) > t.maxDeviation
      }
      default:
        return true
    }
  }

  function onEvaluated(
    rt: CharacteristicRuntime,
    reading: Reading | null,
    evaluation: Evaluation,
  ): void {
    const entry = entries.get(rt.config.id)
    if (!entry) return
    const activated = scratch
    if (activated.length !== 0) activated.length = 0
    const profile = entry.profile
    // Which alarms are busy (active, or a delay running) is the entry's mask: a reading looks
    // for no slot of an alarm that is clear and inside its threshold (most readings).
    if (reading && rt.last) {
      const at = reading.receivedAt ?? now()
      const value = rt.last.value
      const conditions = profile.reading
      for (let i = 0; i < conditions.length; i++) {
        const condition = conditions[i] as AlarmCondition
        const busy = (entry.busy & (profile.readingBits[i] as number)) !== 0
        if (!busy && condition !== 'rate' && !beyond(entry, condition, value)) continue
        const slot = registry.slot(entry, condition)
        notePeak(slot, value)
        if (judge(slot, { kind: 'reading', at, value })) activated.push(slot)
      }
      if ((entry.busy & COMM_LOSS_BIT) !== 0) {
        const comm = registry.find(entry, 'comm-loss') as Slot
        if (judge(comm, { kind: 'source', at, ok: true })) activated.push(comm)
      }
      if (profile.stale) {
        entry.lastReadingAt = at
        if ((entry.busy & STALE_BIT) !== 0) {
          const stale = registry.find(entry, 'stale')
          if (stale?.cond.delay.active) feedStale(stale)
        }
      }
      if (entry.gradeA) {
        entry.gradeA = stepGradeA5um(GRADE_A_5UM_DEFAULTS, entry.gradeA, {
          ts: reading.ts,
          count: value,
        }).state
        const flagged = entry.gradeA.active !== null
        const found = registry.find(entry, 'grade-a-5um')
        if (flagged || found) {
          const slot = found ?? registry.slot(entry, 'grade-a-5um')
          const signal = { kind: 'signal', at, flagged, value, limit: GRADE_A_5UM_DEFAULTS.above }
          if (judge(slot, signal as ConditionInput)) activated.push(slot)
        }
      }
      const derived = derivedBy.get(rt.config.id)
      if (derived) for (const id of derived) judgeState(id, value, at)
    }
    if (evaluation.points.length > 0 && profile.signals.size > 0) {
      const at = reading?.receivedAt ?? now()
      // The signals of this evaluation (a rule may come from several panes: once is enough),
      // as a mask of their bits.
      let seen = 0
      const deviations = evaluation.deviations
      for (let i = 0; i < deviations.length; i++) {
        const d = deviations[i] as Deviation
        if (d.kind !== 'rule' || !profile.signals.has(d.cause)) continue
        const bit = conditionBit(d.cause)
        if ((seen & bit) !== 0) continue
        seen |= bit
        const slot = registry.slot(entry, d.cause)
        const input = {
          kind: 'signal',
          at,
          flagged: true,
          value: d.value,
          limit: signalLimit(d, evaluation),
        }
        if (judge(slot, input as ConditionInput)) activated.push(slot)
      }
      // Signals that held and did not come again: clear (after their off-delay). Judging only
      // releases later and creates none here, so the list does not change under the loop.
      // Those to clear: busy signal alarms (grade-a-5um is not in signalBits) not seen now.
      const clear = entry.busy & profile.signalBits & ~seen
      const slots = entry.slots
      if (slots !== null && clear !== 0)
        for (let k = 0; k < slots.length; k++) {
          const slot = slots[k] as Slot
          if ((clear & slot.bit) === 0) continue
          judge(slot, { kind: 'signal', at, flagged: false, value: null, limit: null })
        }
    }
    if (activated.length > 0) raiseNcs(rt, [...activated], evaluation, reading)
  }

  /**
   * A stale alarm hears of readings lazily: the entry keeps the latest reading's time, handed to
   * the condition when it is judged.
   */
  function feedStale(slot: Slot): boolean {
    const at = slot.entry.lastReadingAt
    if (Number.isNaN(at)) return false
    if (slot.cond.lastReadingAt !== null && at <= slot.cond.lastReadingAt) return false
    return judge(slot, { kind: 'reading', at, value: Number.NaN })
  }

  function onCommunication(update: Communication): void {
    for (const id of update.characteristics) {
      const entry = entries.get(id)
      if (!entry?.profile.conditions.includes('comm-loss')) continue
      // Communication back for an alarm that was never lost: nothing to do.
      if (!update.lost && !registry.find(entry, 'comm-loss')) continue
      const slot = registry.slot(entry, 'comm-loss')
      const input = { kind: 'source', at: update.at, ok: !update.lost } as const
      if (judge(slot, input, `: ${update.why}`)) {
        const rt = ctx.runtime(id)
        if (rt) raiseNcs(rt, [slot], null, null)
      }
    }
    if (update.lost)
      log.warn(
        { characteristics: update.characteristics.length, why: update.why },
        'communication lost',
      )
  }

  function tick(): void {
    const at = now()
    const activated = new Map<string, Slot[]>()
    const note = (slot: Slot, became: boolean) => {
      if (!became) return
      const list = activated.get(slot.def.characteristic) ?? []
      list.push(slot)
      activated.set(slot.def.characteristic, list)
    }
    for (const entry of registry.staleEntries) {
      if (!entry.owned) continue
      const found = registry.find(entry, 'stale')
      if (!found?.cond.delay.active) {
        const after = (entry.c.alarms?.staleAfterMs ?? config.alarms.staleAfterMs) as number
        const last = Number.isNaN(entry.lastReadingAt) ? registry.startedAt : entry.lastReadingAt
        if (at - last < after) continue
      }
      const slot = found ?? registry.slot(entry, 'stale')
      note(slot, feedStale(slot))
      note(slot, judge(slot, { kind: 'tick', at }))
    }
    for (const slot of [...timed]) {
      if (slot.cond.delay.pendingSince !== null) note(slot, judge(slot, { kind: 'tick', at }))
      if (slot.record.state === 'shelved' || slot.record.state === 'ack-active')
        lifecycle(slot, { kind: 'tick', at })
    }
    for (const [id, list] of activated) {
      const rt = ctx.runtime(id)
      if (rt) raiseNcs(rt, list, null, null)
    }
  }

  function prune(): void {
    const cut = now() - config.alarms.history.maxAgeDays * 86_400_000
    writer.run('alarmPruneBefore', [cut])
    const upTo = eventIds.last() - config.alarms.history.maxEvents
    if (upTo > 0) writer.run('alarmPruneUpTo', [upTo])
  }

  function flushed(): Promise<void> {
    if (dirtySlots.size > 0) save()
    return writer.flush()
  }

  /** The alarm an act names, with an object to act on. */
  function target(id: string): Slot | undefined {
    const found = registry.resolve(id)
    return found ? registry.slot(found.entry, found.condition) : undefined
  }

  function describe(def: Slot['def']): Record<string, unknown> {
    const t = def.settings.threshold
    return {
      priority: def.priority,
      deadband: t?.deadband ?? null,
      onDelay: t?.onDelay ?? null,
      offDelay: t?.offDelay ?? null,
      reAlarmMinutes: def.settings.reAlarmMs === undefined ? null : def.settings.reAlarmMs / 60_000,
    }
  }

  /** An alarm as the records have it (one that is normal and clear gets no object). */
  function loadAlarm(row: AlarmRow, at: number): void {
    const found = registry.resolve(row.id)
    if (!found?.entry.owned) return
    const record = JSON.parse(row.record) as AlarmRecord
    if (record.state === 'normal' && !record.active && !record.suppressedByDesign) return
    const slot = registry.slot(found.entry, found.condition)
    slot.record = record
    slot.shelvedBy = row.shelved_by
    slot.shelveReason = row.shelve_reason
    // The condition carries on from what the alarm says (a running delay starts again).
    slot.cond = {
      ...initialCondition(),
      watchingSince: slot.kind === 'stale' ? at : null,
      delay: { active: record.active, pendingSince: null, pendingCount: 0 },
    }
    noteBusy(slot)
    registry.count(slot, 1)
    track(slot)
  }

  /** An engineer's change of an alarm's settings, as the records have it. */
  function loadOverride(row: { id: string; settings: string }): void {
    const found = registry.resolve(row.id)
    if (!found) return
    const change = JSON.parse(row.settings) as AlarmSettingsChange
    // A configuration changed since may make an old override meaningless: the file wins.
    const next = withChange(registry.definition(found.entry, found.condition), change)
    if (alarmSettingsProblems(next.settings).length === 0) registry.overrides.set(row.id, change)
  }

  /** The plant states as last changed (on any gateway of a cluster). */
  function savedPlantStates(): StateChange[] {
    const rows = db.prepare('SELECT id, active, since, by, reason FROM plant_state').all() as {
      id: string
      active: number
      since: number
      by: string | null
      reason: string | null
    }[]
    return rows.map((r) => ({
      id: r.id,
      active: r.active === 1,
      at: r.since,
      by: r.by,
      reason: r.reason,
    }))
  }

  function restore(at: number): void {
    eventIds = idAllocator(db, 'alarm_event')
    for (const row of db.prepare('SELECT id, settings FROM alarm_override').all() as {
      id: string
      settings: string
    }[])
      loadOverride(row)
    for (const row of db
      .prepare('SELECT id, record, shelved_by, shelve_reason FROM alarm')
      .all() as unknown as AlarmRow[])
      loadAlarm(row, at)
    for (const row of savedPlantStates()) {
      const s = states.get(row.id)
      if (s)
        s.view = {
          ...s.view,
          active: row.active,
          since: row.at,
          by: row.by,
          reason: row.reason,
        }
    }
    // Suppression as it holds now; an alarm whose suppression ended while the gateway was
    // down leaves F (and one newly suppressed enters it).
    resuppress(new Set([...entries.values()].filter((e) => e.owned)), at)
  }

  /**
   * The suppression that holds now, for the alarms of `judged` (at start, or characteristics
   * taken over from another gateway, whose records may say otherwise): each alarm's count of
   * suppressors, and F entered or left where that changes it.
   */
  function resuppress(judged: ReadonlySet<Entry>, at: number): void {
    const counts = new Map<Slot, number>()
    for (const [key, entry] of suppression) {
      if (!suppressorHolds(key)) continue
      for (const id of entry.targets) {
        const found = registry.resolve(id)
        if (!found || !judged.has(found.entry)) continue
        const slot = registry.slot(found.entry, found.condition)
        counts.set(slot, (counts.get(slot) ?? 0) + 1)
      }
    }
    for (const entry of judged)
      for (const slot of [...(entry.slots ?? [])]) {
        slot.suppressors = counts.get(slot) ?? 0
        const suppressed = slot.suppressors > 0
        if (suppressed !== (slot.record.suppressedByDesign ?? false))
          lifecycle(slot, {
            kind: 'suppress',
            at,
            on: suppressed,
            why: suppressed ? 'suppressed by design' : 'suppression by design ended',
          })
      }
  }

  /**
   * Whether a suppressor holds: a plant state; an alarm judged here, from its record; one
   * another gateway judges, as announced, or its owner's saved record until one is heard (what
   * the counts of the alarms it suppresses here were made from, for the next announcement).
   */
  function suppressorHolds(key: string): boolean {
    if (key.startsWith('state:')) return states.get(key.slice(6))?.view.active ?? false
    if (!others || owns(key)) return live.get(key)?.record.active ?? false
    let active = remoteSuppressors.get(key)
    if (active === undefined) {
      active = others.view(key)?.active ?? false
      remoteSuppressors.set(key, active)
    }
    return active
  }

  /** Whether this gateway judges the alarm's characteristic (an unknown alarm: here, a 404). */
  function owns(id: string): boolean {
    return registry.resolve(id)?.entry.owned ?? true
  }

  /**
   * Another gateway asks this one to act on an alarm: only the gateway that judges it answers,
   * once the act is committed, so that the asking gateway's next read of the records has it.
   */
  async function answerAsOwner(
    asked: unknown,
    act: () => unknown,
  ): Promise<{ result: unknown } | null> {
    const id = Array.isArray(asked) ? asked[0] : undefined
    if (typeof id !== 'string' || !registry.resolve(id) || !owns(id)) return null
    const result = act() ?? null
    await new Promise<void>((resolve) => durable(resolve))
    return { result }
  }

  /** An act on an alarm another gateway judges: that gateway's answer, or why there is none. */
  async function forward<T>(
    event: string,
    asked: SettingsAsked,
  ): Promise<T | { refused: string; unavailable: true } | undefined> {
    const answers = ctx.peers ? await ctx.peers.ask(event, asked, FORWARD_TIMEOUT_MS) : []
    const answer = answers.find(
      (a): a is { result: T | null } => typeof a === 'object' && a !== null && 'result' in a,
    )
    if (answer) return answer.result ?? undefined
    return unanswered(asked[0])
  }

  /** Why an act on an alarm another gateway judges was not done: that gateway did not answer. */
  function unanswered(id: string): { refused: string; unavailable: true } {
    const characteristic = registry.resolve(id)?.entry.c.id ?? id
    const refused = ctx.peers?.reachable()
      ? `the gateway that judges ${characteristic} did not answer (its partition may be being taken over): try again in a few seconds`
      : `the gateways cannot reach each other now (Redis is away): the gateway that judges ${characteristic} cannot be asked; try again once Redis is back`
    return { refused, unavailable: true }
  }

  function durable(done: () => void): void {
    if (dirtySlots.size > 0) waiting.push(done)
    else writer.whenDurable(done)
  }

  /** An act on an alarm this gateway judges (or any alarm, a gateway alone). */
  function actHere(id: string, act: AlarmAct, by: string | null): AlarmActResult | undefined {
    const slot = target(id)
    if (!slot) return undefined
    const at = now()
    const who = by ?? 'anonymous'
    let input: AlarmInput
    switch (act.kind) {
      case 'acknowledge':
        input = { kind: 'acknowledge', at, by: who, comment: act.comment }
        break
      case 'shelve':
        if (act.minutes > config.alarms.maxShelveMinutes) {
          releaseLater(slot)
          return {
            refused: `an alarm may be shelved for at most ${config.alarms.maxShelveMinutes} minutes (alarms.maxShelveMinutes)`,
            invalid: true,
          }
        }
        input = {
          kind: 'shelve',
          at,
          by: who,
          reason: act.reason,
          until: at + act.minutes * 60_000,
        }
        break
      case 'unshelve':
        input = { kind: 'unshelve', at, by: who, reason: act.reason }
        break
      case 'remove-from-service':
        input = { kind: 'remove-from-service', at, by: who, reason: act.reason }
        break
      case 'return-to-service':
        input = { kind: 'return-to-service', at, by: who, reason: act.reason }
        break
    }
    // The shelver is known before the transition is announced.
    const shelving = act.kind === 'shelve'
    const { refused } = lifecycle(slot, input)
    if (refused) return { refused }
    if (shelving && slot.record.state === 'shelved') {
      slot.shelvedBy = who
      slot.shelveReason = act.reason
      markDirty(slot)
      bus.emit('alarm', changeOf(slot))
    }
    log.info({ alarm: id, act: act.kind, by }, 'alarm act')
    return registry.view(slot)
  }

  /** A settings change of an alarm this gateway judges (or any alarm, a gateway alone). */
  function changeSettingsHere(
    id: string,
    change: AlarmSettingsChange,
    by: string | null,
    reason: string,
  ): AlarmView | { refused: string } | undefined {
    const slot = target(id)
    if (!slot) return undefined
    const next = withChange(slot.def, change)
    const refuse = (why: string) => {
      releaseLater(slot)
      return { refused: why }
    }
    const problems = alarmSettingsProblems(next.settings)
    if (problems.length > 0) return refuse(problems.join('; '))
    if (change.deadband != null && !['above', 'below', 'target', 'rate'].includes(slot.kind))
      return refuse(`a ${slot.def.condition} alarm has no deadband`)
    const before = describe(slot.def)
    const after = describe(next)
    const what = Object.keys(after)
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
      .map((k) => `${k} ${JSON.stringify(before[k])} → ${JSON.stringify(after[k])}`)
    if (what.length === 0) return refuse('nothing to change: the settings are already so')
    registry.count(slot, -1)
    slot.def = next
    registry.count(slot, 1)
    track(slot)
    const merged = { ...registry.overrides.get(id), ...change }
    registry.overrides.set(id, merged)
    writer.run('alarmOverride', [id, JSON.stringify(merged)])
    writer.run('alarmEvent', [
      eventIds.next(),
      id,
      slot.def.area,
      slot.def.priority,
      Math.max(now(), slot.record.since),
      slot.record.state,
      slot.record.state,
      by,
      `settings changed: ${what.join('; ')} (${reason})`,
      null,
    ])
    log.info({ alarm: id, by, change: what, reason }, 'alarm settings changed')
    ctx.audit?.({
      at: now(),
      actor: by ?? 'anonymous',
      action: 'alarm settings changed',
      entity: 'alarm',
      entityId: id,
      reason,
      before,
      after,
    })
    bus.emit('alarm', changeOf(slot))
    releaseLater(slot)
    return registry.view(slot)
  }

  const service: AlarmService = {
    adopt(ids) {
      const at = now()
      const adopted = new Set<Entry>()
      const heardOf = new Map<string, boolean>()
      for (const id of ids) {
        const entry = entries.get(id)
        if (!entry) continue
        adopted.add(entry)
        for (const slot of entry.slots ?? []) timed.delete(slot)
        registry.forget(entry)
        entry.owned = true
        for (const condition of entry.profile.conditions) {
          const key = `${id}:${condition}`
          const heard = remoteSuppressors.get(key)
          if (heard === undefined) continue
          remoteSuppressors.delete(key)
          heardOf.set(key, heard)
        }
        // Watched from now: the previous owner's last reading is not known here.
        entry.lastReadingAt = at
        const escaped = id.replace(/[\\%_]/g, (c) => `\\${c}`)
        // Settings changed while another gateway judged it (through that gateway).
        for (const condition of entry.profile.conditions)
          registry.overrides.delete(`${id}:${condition}`)
        for (const row of db
          .prepare("SELECT id, settings FROM alarm_override WHERE id LIKE ? ESCAPE '\\'")
          .all(`${escaped}:%`) as { id: string; settings: string }[])
          if (registry.resolve(row.id)?.entry === entry) loadOverride(row)
        for (const row of db
          .prepare(
            "SELECT id, record, shelved_by, shelve_reason FROM alarm WHERE id LIKE ? ESCAPE '\\'",
          )
          .all(`${escaped}:%`) as unknown as AlarmRow[])
          if (registry.resolve(row.id)?.entry === entry) loadAlarm(row, at)
      }
      // A suppressor taken over stands as its record says: where that is not what was last
      // heard of it (its last owner died between committing a change and announcing it, or
      // the announcement was lost), the alarms it suppresses here follow.
      for (const [key, heard] of heardOf) {
        const holds = suppressorHolds(key)
        if (holds !== heard) suppressorChanged(key, holds, at, adopted)
      }
      // The plant states in force here decide their suppression, not the last owner's records.
      resuppress(adopted, at)
    },

    release(ids) {
      // What changed so far is saved for the next owner first.
      if (dirtySlots.size > 0) save()
      for (const id of ids) {
        const entry = entries.get(id)
        if (!entry) continue
        for (const slot of entry.slots ?? []) {
          timed.delete(slot)
          releasable.delete(slot)
        }
        // Its suppressors are the next owner's to announce, from where they stand now.
        for (const condition of entry.profile.conditions) {
          const key = `${id}:${condition}`
          if (suppression.has(key)) remoteSuppressors.set(key, suppressorHolds(key))
        }
        registry.forget(entry)
        entry.owned = false
      }
    },

    async start() {
      restore(registry.startedAt)
      bus.on('evaluated', owner, ({ runtime, reading, evaluation }) =>
        onEvaluated(runtime, reading, evaluation),
      )
      bus.on('communication', owner, onCommunication)
      timers.push(setInterval(tick, TICK_MS))
      prune()
      timers.push(setInterval(prune, PRUNE_EVERY_MS))
    },

    whenDurable: durable,

    async stop() {
      bus.removeOwner(owner)
      for (const t of timers) clearInterval(t)
      timers.length = 0
      save()
    },

    list({ state: asked, priority, area, characteristic, limit = MAX_LISTED, plant = false }) {
      const out: AlarmView[] = []
      const states = asked === undefined ? null : new Set(Array.isArray(asked) ? asked : [asked])
      // In a cluster, the plant's list has the other gateways' alarms from the records.
      const elsewhere =
        plant && others ? new Map(others.views(!states?.has('normal')).map((v) => [v.id, v])) : null
      const wanted = (v: AlarmView) =>
        (!priority || v.priority === priority) &&
        (!area || v.area === area || v.area.startsWith(`${area}/`)) &&
        (!characteristic || v.characteristic === characteristic)
      if (states?.has('normal')) {
        // Every alarm defined is normal unless it has an object that says otherwise.
        const within = characteristic ? [entries.get(characteristic)] : entries.values()
        for (const entry of within) {
          if (!entry) continue
          for (const condition of entry.profile.conditions) {
            if (out.length >= limit) break
            const slot = registry.find(entry, condition)
            if (slot && slot.record.state !== 'normal') continue
            const there = entry.owned ? undefined : elsewhere?.get(`${entry.c.id}:${condition}`)
            if (there && there.state !== 'normal') continue
            const v = slot ? registry.view(slot) : (there ?? registry.quietView(entry, condition))
            if (wanted(v)) out.push(v)
          }
        }
      }
      if (states === null || [...states].some((x) => x !== 'normal')) {
        for (const slot of live.values()) {
          const st = slot.record.state
          if (st === 'normal' || (states !== null && !states.has(st))) continue
          const v = registry.view(slot)
          if (wanted(v)) out.push(v)
        }
        for (const v of elsewhere?.values() ?? []) {
          if (v.state === 'normal' || (states !== null && !states.has(v.state))) continue
          if (wanted(v)) out.push(v)
        }
      }
      // Highest priority first, then the newest.
      return out
        .sort(
          (a, b) =>
            ALARM_PRIORITIES.indexOf(a.priority) - ALARM_PRIORITIES.indexOf(b.priority) ||
            b.since - a.since,
        )
        .slice(0, limit)
    },

    areas: () => [...new Set(config.characteristics.map((c) => areaOf(config, c)))].sort(),

    get(id) {
      const found = registry.resolve(id)
      if (!found) return undefined
      if (others && !found.entry.owned)
        return others.view(id) ?? registry.quietView(found.entry, found.condition)
      const slot = registry.find(found.entry, found.condition)
      return slot ? registry.view(slot) : registry.quietView(found.entry, found.condition)
    },

    counts(plant = false) {
      const counts = structuredClone(registry.counts)
      if (!plant || !others) return counts
      const theirs = others.counts()
      for (const p of ALARM_PRIORITIES) {
        counts[p].active += theirs[p].active
        counts[p].unacknowledged += theirs[p].unacknowledged
      }
      return counts
    },

    async act(id, act, by) {
      if (!others || owns(id)) return actHere(id, act, by)
      return (await service.actMany([id], act, by)).get(id)
    },

    async actMany(ids, act, by) {
      const results = new Map<string, AlarmActResult | undefined>()
      const elsewhere: string[] = []
      for (const id of ids) {
        if (!others || owns(id)) results.set(id, actHere(id, act, by))
        else elsewhere.push(id)
      }
      if (elsewhere.length === 0) return results
      const asked: ActsAsked = [elsewhere, act, by]
      const answers = ctx.peers ? await ctx.peers.ask('alarm-acts', asked, FORWARD_TIMEOUT_MS) : []
      const wanted = new Set(elsewhere)
      for (const answer of answers) {
        const list = (answer as { results?: unknown } | null)?.results
        if (!Array.isArray(list)) continue
        for (const entry of list as [string, AlarmActResult | null][])
          if (wanted.has(entry[0]) && !results.has(entry[0]))
            results.set(entry[0], entry[1] ?? undefined)
      }
      for (const id of elsewhere) if (!results.has(id)) results.set(id, unanswered(id))
      return results
    },

    async changeSettings(id, change, by, reason) {
      if (!others || owns(id)) return changeSettingsHere(id, change, by, reason)
      return forward('alarm-settings', [id, change, by, reason] satisfies SettingsAsked)
    },

    plantStates: () => [...states.values()].map((s) => s.view),
    async history(id, limit) {
      await flushed()
      const rows = db
        .prepare(
          'SELECT id, alarm, at, from_state, to_state, by, why, value FROM alarm_event WHERE alarm = ? ORDER BY id DESC LIMIT ?',
        )
        .all(id, limit) as {
        id: number
        alarm: string
        at: number
        from_state: AlarmState
        to_state: AlarmState
        by: string | null
        why: string
        value: number | null
      }[]
      return rows.map((r) => ({
        id: r.id,
        alarm: r.alarm,
        at: r.at,
        from: r.from_state,
        to: r.to_state,
        by: r.by,
        why: r.why,
        value: r.value,
      }))
    },

    async kpis({ from, to, area }) {
      await flushed()
      const boundary = from - STANDING_LOOKBACK_MS
      type Row = {
        alarm: string
        at: number
        from_state: AlarmState
        to_state: AlarmState
        by: string | null
        why: string
        value: number | null
      }
      const columns = 'alarm, at, from_state, to_state, by, why, value'
      // Before the look-back, per alarm its latest transition and its latest activation: where
      // each stood, and since when an alarm active all along has been.
      const before = db
        .prepare(
          `SELECT ${columns} FROM alarm_event WHERE id IN (
             SELECT max(id) FROM alarm_event WHERE at < ? GROUP BY alarm
             UNION SELECT max(id) FROM alarm_event WHERE at < ? AND to_state = 'unack-active' GROUP BY alarm)`,
        )
        .all(boundary, boundary) as Row[]
      const rows = db
        .prepare(`SELECT ${columns} FROM alarm_event WHERE at >= ? AND at < ? ORDER BY id`)
        .all(boundary, to) as Row[]
      const inArea = (a: string) => !area || a === area || a.startsWith(`${area}/`)
      // The alarms with a history, and one alarm of each area so that a quiet area is listed.
      const alarms = new Map<
        string,
        { id: string; area: string; priority: AlarmView['priority'] }
      >()
      const areas = new Set<string>()
      for (const r of [...before, ...rows]) {
        if (alarms.has(r.alarm)) continue
        const found = registry.resolve(r.alarm)
        if (!found) continue
        const def = registry.definition(found.entry, found.condition)
        if (!inArea(def.area)) continue
        alarms.set(def.id, { id: def.id, area: def.area, priority: def.priority })
        areas.add(def.area)
      }
      for (const entry of entries.values()) {
        const condition = entry.profile.conditions[0]
        const where = areaOf(config, entry.c)
        if (condition === undefined || !inArea(where) || areas.has(where)) continue
        areas.add(where)
        const id = `${entry.c.id}:${condition}`
        alarms.set(id, { id, area: where, priority: 'low' })
      }
      return alarmKpis({
        from,
        to,
        alarms: [...alarms.values()],
        transitions: [...before, ...rows].map((r) => ({
          alarm: r.alarm,
          at: r.at,
          from: r.from_state,
          to: r.to_state,
          by: r.by,
          why: r.why,
          value: r.value,
        })),
      })
    },

    setPlantState(id, active, by, reason) {
      const s = states.get(id)
      if (!s) return undefined
      if (s.derived)
        return {
          refused: `plant state "${id}" follows ${s.derived.characteristic}: it cannot be set by hand`,
        }
      setState({ id, active, at: now(), by, reason })
      return s.view
    },
  }
  return service
}

/** The limit a signalling pane's point is beyond (N1, WE1, CUSUM), for the alarm's message. */
function signalLimit(d: Deviation, evaluation: Evaluation): number | null {
  if (d.kind !== 'rule') return null
  const pane = evaluation.points.find((p) => p.index === d.index)?.panes[d.pane]
  if (!pane) return null
  if (pane.ucl !== null && d.value > pane.ucl) return pane.ucl
  if (pane.lcl !== null && d.value < pane.lcl) return pane.lcl
  return null
}
