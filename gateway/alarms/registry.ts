import {
  ALARM_PRIORITIES,
  type AlarmCondition,
  type AlarmDelay,
  type AlarmPriority,
  type AlarmRecord,
  type ConditionKind,
  type ConditionState,
  conditionKind,
  type GradeA5umState,
  initGradeA5um,
  initialAlarm,
  initialCondition,
  type ThresholdSettings,
} from '../../rules/index.ts'
import type { CharacteristicConfig, Config } from '../config/index.ts'
import type { AlarmCounts, AlarmView } from '../contract.ts'
import { type AlarmDefinition, alarmConditions, alarmDefinitions } from './catalogue.ts'
import { alarmMessage } from './words.ts'

/**
 * Where the alarms live in memory, sized for 100,000 characteristics with a dozen alarms each.
 * An alarm that is normal, clear and waiting for nothing has no object: its characteristic's
 * entry and a profile that characteristics configured alike share say it exists. An alarm
 * gets its object (a Slot) when something happens to it (its condition starts, a person acts,
 * a suppression) and loses it when it is pristine again, so memory follows the alarms that
 * are doing something, not the number defined.
 */

/** What an engineer may change of an alarm at run time (thresholds stay the configuration's limits). */
export interface AlarmSettingsChange {
  priority?: AlarmPriority | undefined
  deadband?: ThresholdSettings['deadband'] | null
  onDelay?: AlarmDelay | null
  offDelay?: AlarmDelay | null
  reAlarmMinutes?: number | null
}

/** What characteristics configured alike share: which alarms they have and how they are judged. */
export interface Profile {
  readonly conditions: readonly AlarmCondition[]
  /** Judged on each reading: HH, H, L, LL, target, rate. */
  readonly reading: readonly AlarmCondition[]
  /** SPC signals that alarm. */
  readonly signals: ReadonlySet<AlarmCondition>
  readonly stale: boolean
  readonly gradeA: boolean
  /** `reading`'s conditions' bits (conditionBit), in the same order. */
  readonly readingBits: readonly number[]
  /** The bits of `signals`. */
  readonly signalBits: number
}

export interface Entry {
  readonly c: CharacteristicConfig
  readonly profile: Profile
  /** The alarms of this characteristic that have objects now (most have none). */
  slots: Slot[] | null
  /** The latest reading's receive time (stale alarms); NaN before the first since start. */
  lastReadingAt: number
  /** The grade A ≥ 5 µm rule's state, for a counter that has that alarm. */
  gradeA: GradeA5umState | null
  /** Judged by this gateway (in a cluster, while it holds the characteristic's partition). */
  owned: boolean
  /**
   * The bits (conditionBit) of its alarms whose condition is active or has a delay running:
   * the service keeps it (noteBusy), so that a reading asks no slot for what it need not judge.
   */
  busy: number
}

export interface Slot {
  /** Its definition: from the configuration, with what an engineer changed over it. */
  def: AlarmDefinition
  readonly entry: Entry
  readonly kind: ConditionKind
  cond: ConditionState
  record: AlarmRecord
  shelvedBy: string | null
  shelveReason: string | null
  /** How many suppressors hold now. */
  suppressors: number
  /** Limit and target alarms: the farthest value of the excursion under way. */
  peak: number | null
  /** conditionBit(def.condition). */
  readonly bit: number
}

/** One bit per condition (23 of them: they fit a 32-bit mask). */
const CONDITION_BITS: Record<AlarmCondition, number> = {
  HH: 1 << 0,
  H: 1 << 1,
  L: 1 << 2,
  LL: 1 << 3,
  target: 1 << 4,
  rate: 1 << 5,
  stale: 1 << 6,
  'comm-loss': 1 << 7,
  'grade-a-5um': 1 << 8,
  N1: 1 << 9,
  N2: 1 << 10,
  N3: 1 << 11,
  N4: 1 << 12,
  N5: 1 << 13,
  N6: 1 << 14,
  N7: 1 << 15,
  N8: 1 << 16,
  WE1: 1 << 17,
  WE2: 1 << 18,
  WE3: 1 << 19,
  WE4: 1 << 20,
  'cusum-upper': 1 << 21,
  'cusum-lower': 1 << 22,
}

export function conditionBit(condition: AlarmCondition): number {
  return CONDITION_BITS[condition]
}

const READING_KINDS: ReadonlySet<ConditionKind> = new Set(['above', 'below', 'target', 'rate'])
const SHOWN = new Set(['unack-active', 'ack-active'])
const UNACK = new Set(['unack-active', 'unack-rtn'])

/** A definition with an engineer's change applied (null removes a setting). */
export function withChange(def: AlarmDefinition, change: AlarmSettingsChange): AlarmDefinition {
  const t = def.settings.threshold
  const threshold = t && {
    ...t,
    ...(change.deadband !== undefined ? { deadband: change.deadband ?? undefined } : {}),
    ...(change.onDelay !== undefined ? { onDelay: change.onDelay ?? undefined } : {}),
    ...(change.offDelay !== undefined ? { offDelay: change.offDelay ?? undefined } : {}),
  }
  const priority = change.priority ?? def.priority
  const reAlarmMs =
    change.reAlarmMinutes === undefined
      ? def.settings.reAlarmMs
      : change.reAlarmMinutes === null
        ? undefined
        : change.reAlarmMinutes * 60_000
  return { ...def, priority, settings: { ...def.settings, priority, threshold, reAlarmMs } }
}

export class AlarmRegistry {
  readonly entries = new Map<string, Entry>()
  /** Every alarm that has an object, by id. */
  readonly live = new Map<string, Slot>()
  /** Entries with a stale alarm (looked at once a second). */
  readonly staleEntries: Entry[] = []
  /** Alarms per priority: active and unacknowledged (an alarm without an object is neither). */
  readonly counts: AlarmCounts = Object.fromEntries(
    ALARM_PRIORITIES.map((p) => [p, { active: 0, unacknowledged: 0 }]),
  ) as AlarmCounts
  /** Settings engineers changed, by alarm id. */
  readonly overrides = new Map<string, AlarmSettingsChange>()
  private readonly config: Config
  /** When this gateway started: the `since` of an alarm that has been normal all along. */
  readonly startedAt: number

  constructor(config: Config, startedAt: number) {
    this.config = config
    this.startedAt = startedAt
    const profiles = new Map<string, Profile>()
    for (const c of config.characteristics) {
      const conditions = alarmConditions(config, c)
      const key = conditions.join(',')
      let profile = profiles.get(key)
      if (!profile) {
        const reading = conditions.filter((x) => READING_KINDS.has(conditionKind(x)))
        const signals = conditions.filter(
          (x) => conditionKind(x) === 'signal' && x !== 'grade-a-5um',
        )
        profile = {
          conditions,
          reading,
          signals: new Set(signals),
          stale: conditions.includes('stale'),
          gradeA: conditions.includes('grade-a-5um'),
          readingBits: reading.map(conditionBit),
          signalBits: signals.reduce((mask, x) => mask | conditionBit(x), 0),
        }
        profiles.set(key, profile)
      }
      const entry: Entry = {
        c,
        profile,
        slots: null,
        lastReadingAt: Number.NaN,
        gradeA: profile.gradeA ? initGradeA5um() : null,
        owned: true,
        busy: 0,
      }
      this.entries.set(c.id, entry)
      if (profile.stale) this.staleEntries.push(entry)
    }
  }

  /** The entry and condition of an alarm id (`characteristic:condition`), if it is defined. */
  resolve(id: string): { entry: Entry; condition: AlarmCondition } | undefined {
    const at = id.lastIndexOf(':')
    const entry = this.entries.get(id.slice(0, at))
    const condition = id.slice(at + 1) as AlarmCondition
    return entry?.profile.conditions.includes(condition) ? { entry, condition } : undefined
  }

  find(entry: Entry, condition: AlarmCondition): Slot | undefined {
    const slots = entry.slots
    if (slots === null) return undefined
    for (const s of slots) if (s.def.condition === condition) return s
    return undefined
  }

  definition(entry: Entry, condition: AlarmCondition): AlarmDefinition {
    const def = alarmDefinitions(this.config, entry.c, condition)[0] as AlarmDefinition
    const change = this.overrides.get(def.id)
    return change ? withChange(def, change) : def
  }

  /** The alarm's object, made when it has none (normal, clear, as a fresh start leaves it). */
  slot(entry: Entry, condition: AlarmCondition): Slot {
    const found = this.find(entry, condition)
    if (found) return found
    const def = this.definition(entry, condition)
    const kind = conditionKind(condition)
    const cond = initialCondition()
    // A stale alarm counts from the start until a first reading.
    if (kind === 'stale') cond.watchingSince = this.startedAt
    const slot: Slot = {
      def,
      entry,
      kind,
      cond,
      record: initialAlarm(this.startedAt),
      shelvedBy: null,
      shelveReason: null,
      suppressors: 0,
      peak: null,
      bit: conditionBit(condition),
    }
    entry.slots ??= []
    entry.slots.push(slot)
    this.live.set(def.id, slot)
    return slot
  }

  /** Drops an alarm's object once it is as if nothing had happened to it. */
  release(slot: Slot): void {
    const r = slot.record
    const d = slot.cond.delay
    if (
      r.state !== 'normal' ||
      r.active ||
      r.suppressedByDesign ||
      slot.suppressors > 0 ||
      d.active ||
      d.pendingSince !== null ||
      slot.kind === 'rate' // its window is state
    )
      return
    const slots = slot.entry.slots as Slot[]
    const i = slots.indexOf(slot)
    if (i < 0) return
    slots.splice(i, 1)
    if (slots.length === 0) slot.entry.slots = null
    this.live.delete(slot.def.id)
  }

  /**
   * Drops every alarm object of a characteristic, whatever its state: in a cluster, another
   * gateway judges it now (or its alarms are read again from the shared records).
   */
  forget(entry: Entry): void {
    for (const slot of entry.slots ?? []) {
      this.count(slot, -1)
      this.live.delete(slot.def.id)
    }
    entry.slots = null
    entry.busy = 0
    entry.lastReadingAt = Number.NaN
    entry.gradeA = entry.profile.gradeA ? initGradeA5um() : null
  }

  count(slot: Slot, sign: 1 | -1): void {
    const c = this.counts[slot.def.priority]
    if (SHOWN.has(slot.record.state)) c.active += sign
    if (UNACK.has(slot.record.state)) c.unacknowledged += sign
  }

  view(slot: Slot): AlarmView {
    return this.viewOf(slot.def, slot.entry.c, slot.record, slot.shelvedBy, slot.shelveReason)
  }

  /** The view of an alarm without an object: normal since the start. */
  quietView(entry: Entry, condition: AlarmCondition): AlarmView {
    return this.viewOf(
      this.definition(entry, condition),
      entry.c,
      initialAlarm(this.startedAt),
      null,
      null,
    )
  }

  private viewOf(
    d: AlarmDefinition,
    c: CharacteristicConfig,
    r: AlarmRecord,
    shelvedBy: string | null,
    shelveReason: string | null,
  ): AlarmView {
    return {
      id: d.id,
      characteristic: d.characteristic,
      characteristicName: c.name,
      area: d.area,
      condition: d.condition,
      priority: d.priority,
      state: r.state,
      active: r.active,
      acknowledged: r.acknowledged,
      activeSince: r.activeSince,
      since: r.since,
      value: r.value,
      limit: r.limit,
      unit: c.unit,
      decimals: c.decimals,
      shelvedUntil: r.shelvedUntil,
      shelvedBy: r.state === 'shelved' ? shelvedBy : null,
      shelveReason: r.state === 'shelved' ? shelveReason : null,
      message: alarmMessage(c.name, d.condition, r.value, r.limit, c.unit),
    }
  }
}
