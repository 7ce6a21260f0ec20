import type { AlarmInput, AlarmRecord, AlarmState, AlarmTransition } from './types.ts'

/**
 * The life of one alarm after ANSI/ISA-18.2-2016's state model (figure 5), pure:
 * `stepAlarm(settings, record, input) → { record, transitions, refused }`. Time arrives with
 * the input; the record is plain JSON (a JSON round trip carries on exactly).
 *
 * States: A normal, B unack-active, C ack-active, D unack-rtn, E shelved, F suppressed (by
 * design), G out-of-service. Each step first applies what time has made due (automatic
 * unshelve, re-alarm), dated when it fell due, then the input:
 *
 * - A → B when the condition becomes active. A repeat activation while active (B, C) is no
 *   transition: one alarm per characteristic and condition.
 * - B → C on acknowledge. B → D when the condition clears before an acknowledgement.
 *   D → A on acknowledge; D → B when the condition is active again. C → A when it clears.
 * - Re-alarm: C still active `reAlarmMs` after its acknowledgement → B, at the first input at
 *   or after that time (dated acknowledgedAt + reAlarmMs).
 * - Shelve (an operator, a non-empty reason, `until > at`) A, B, C or D → E. While shelved
 *   the condition is tracked (`active`, `activeWhileShelved`) with no state change. Shelving
 *   an active alarm counts as active while shelved; shelving D (returned, not acknowledged)
 *   does not: the operator who shelves it has seen it.
 *   - Manual unshelve E → C if active (returned acknowledged, as the issue asks: the unshelve
 *     acknowledges, and re-alarm counts from it), else → A.
 *   - Automatic unshelve (any input at or after `shelvedUntil`, dated `shelvedUntil`) E → B if
 *     active; → D if it was active at some time while shelved and is clear now; else → A.
 * - Suppression by design on: A–D → F; off: F → B if active, else A. An alarm suppressed by
 *   design is not owed an acknowledgement for what happened while suppressed (nor for a D it
 *   was in: the design said the alarm does not matter then). E and G stay as they are, with
 *   the suppression remembered (`suppressedByDesign`): when they end while it still holds,
 *   the alarm goes to F.
 * - Remove from service (an engineer, a non-empty reason) from any state but G → G (a shelve
 *   ends there); return to service G → B if active, else A.
 * - Acknowledge in A, C, E, F, G is refused with the reason, no transition. So are shelving
 *   outside A–D, unshelving outside E, returning to service outside G, and missing reasons.
 *   `refused` concerns the input only: the transitions time made due are still applied.
 *
 * `acknowledged` is false from an annunciation (entering B or D) until an acknowledgement (or
 * a manual unshelve into C); in A, E, F and G it keeps its last value. Every transition
 * carries who (`by`, null for the process and time), why and the value. A transition is
 * never dated before the state it leaves began (`since`): an input stamped earlier (a reading
 * after an operator's act) is dated at `since`, so transition times never decrease.
 */

export interface LifecycleSettings {
  /** C still active this long after its acknowledgement goes back to B; none when unset. */
  reAlarmMs?: number | undefined
}

export interface AlarmStep {
  record: AlarmRecord
  transitions: AlarmTransition[]
  /** Why the input was refused (nothing changed because of it); null when it was applied. */
  refused: string | null
}

export function initialAlarm(at: number): AlarmRecord {
  return {
    state: 'normal',
    active: false,
    acknowledged: false,
    activeSince: null,
    acknowledgedAt: null,
    shelvedUntil: null,
    activeWhileShelved: false,
    value: null,
    limit: null,
    since: at,
    suppressedByDesign: false,
  }
}

/** A number in words: no float noise (507.20000000000005 → 507.2). */
function num(x: number): string {
  // Twelve characters or fewer have at most twelve significant digits, which toPrecision(12)
  // keeps as they are: the shortest form is the answer, without the two conversions (most
  // readings come as short decimals; a transition's text names one or two numbers).
  const shortest = String(x)
  return shortest.length <= 12 ? shortest : String(Number(x.toPrecision(12)))
}

/** A duration in the largest whole unit: "30 min", "2 h", "45 s", "1500 ms". */
export function durationWords(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000} min`
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000} s`
  return `${ms} ms`
}

function activeWords(value: number | null, limit: number | null): string {
  if (value === null) return 'condition active'
  if (limit === null) return `condition active: value ${num(value)}`
  const side = value > limit ? 'above' : value < limit ? 'below' : 'at'
  return `condition active: value ${num(value)} ${side} limit ${num(limit)}`
}

function clearWords(value: number | null): string {
  return value === null ? 'returned to normal' : `returned to normal: value ${num(value)}`
}

const blank = (s: string | undefined): boolean => s === undefined || s.trim() === ''

/** A working copy and the transitions of one step. */
class Step {
  readonly r: AlarmRecord
  readonly out: AlarmTransition[] = []
  constructor(record: AlarmRecord) {
    this.r = { ...record, suppressedByDesign: record.suppressedByDesign ?? false }
  }

  move(to: AlarmState, at: number, by: string | null, why: string): void {
    const from = this.r.state
    if (from === to) return
    const when = Math.max(at, this.r.since)
    this.out.push({ from, to, at: when, by, why, value: this.r.value })
    this.r.state = to
    this.r.since = when
  }

  /** Into B or D: an annunciation that waits for an acknowledgement. */
  annunciate(to: 'unack-active' | 'unack-rtn', at: number, by: string | null, why: string) {
    this.r.acknowledged = false
    this.move(to, at, by, why)
  }

  acknowledge(to: 'ack-active' | 'normal', at: number, by: string | null, why: string): void {
    this.r.acknowledged = true
    this.r.acknowledgedAt = Math.max(at, this.r.since)
    this.move(to, at, by, why)
  }

  /** Leaving E or G while suppression by design still holds goes to F. */
  leaveTo(to: AlarmState, at: number, by: string | null, why: string): void {
    if (this.r.suppressedByDesign) this.move('suppressed', at, by, `${why}; suppressed by design`)
    else if (to === 'unack-active') this.annunciate(to, at, by, why)
    else this.move(to, at, by, why)
  }

  endShelve(manual: boolean, at: number, by: string | null, why: string): void {
    const wasActive = this.r.activeWhileShelved
    this.r.shelvedUntil = null
    this.r.activeWhileShelved = false
    if (this.r.suppressedByDesign) this.move('suppressed', at, by, `${why}; suppressed by design`)
    else if (manual && this.r.active) this.acknowledge('ack-active', at, by, why)
    else if (this.r.active) this.annunciate('unack-active', at, by, why)
    else if (!manual && wasActive) this.annunciate('unack-rtn', at, by, why)
    else this.move('normal', at, by, why)
  }

  /** What time has made due before the input: automatic unshelve, re-alarm. */
  due(settings: LifecycleSettings, at: number): void {
    const r = this.r
    if (r.state === 'shelved' && r.shelvedUntil !== null && at >= r.shelvedUntil) {
      this.endShelve(false, r.shelvedUntil, null, 'shelve expired')
    }
    const reAlarm = settings.reAlarmMs
    if (
      r.state === 'ack-active' &&
      reAlarm !== undefined &&
      reAlarm > 0 &&
      r.acknowledgedAt !== null &&
      at >= r.acknowledgedAt + reAlarm
    ) {
      const why = `re-alarm: still active ${durationWords(reAlarm)} after acknowledgement`
      this.annunciate('unack-active', r.acknowledgedAt + reAlarm, null, why)
    }
  }

  condition(input: Extract<AlarmInput, { kind: 'condition' }>): void {
    const r = this.r
    if (input.active === r.active) return // a repeat: the same alarm, no transition
    r.active = input.active
    r.value = input.value
    r.limit = input.limit
    r.activeSince = input.active ? input.at : null
    if (r.state === 'shelved' && input.active) r.activeWhileShelved = true
    const why = input.active ? activeWords(input.value, input.limit) : clearWords(input.value)
    if (input.active && (r.state === 'normal' || r.state === 'unack-rtn')) {
      this.annunciate('unack-active', input.at, null, why)
    } else if (!input.active && r.state === 'unack-active') {
      this.annunciate('unack-rtn', input.at, null, why)
    } else if (!input.active && r.state === 'ack-active') {
      this.move('normal', input.at, null, why)
    }
    // E, F, G: tracked above, no state change.
  }
}

const ACK_REFUSED: Partial<Record<AlarmState, string>> = {
  normal: 'nothing to acknowledge: the alarm is normal',
  'ack-active': 'already acknowledged',
  shelved: 'the alarm is shelved: unshelve it to acknowledge',
  suppressed: 'the alarm is suppressed by design: nothing to acknowledge',
  'out-of-service': 'the alarm is out of service: nothing to acknowledge',
}

const SHELVABLE: readonly AlarmState[] = ['normal', 'unack-active', 'ack-active', 'unack-rtn']

export function stepAlarm(
  settings: LifecycleSettings,
  record: AlarmRecord,
  input: AlarmInput,
): AlarmStep {
  const s = new Step(record)
  s.due(settings, input.at)
  const r = s.r
  let refused: string | null = null
  switch (input.kind) {
    case 'condition':
      s.condition(input)
      break
    case 'tick':
      break
    case 'acknowledge': {
      const why = blank(input.comment) ? 'acknowledged' : (input.comment as string)
      if (r.state === 'unack-active') s.acknowledge('ack-active', input.at, input.by, why)
      else if (r.state === 'unack-rtn') s.acknowledge('normal', input.at, input.by, why)
      else refused = ACK_REFUSED[r.state] ?? `cannot acknowledge in state ${r.state}`
      break
    }
    case 'shelve':
      if (!SHELVABLE.includes(r.state)) refused = `cannot shelve an alarm that is ${r.state}`
      else if (blank(input.reason)) refused = 'shelving needs a reason'
      else if (!(input.until > input.at)) refused = 'shelving needs an end after its start'
      else {
        r.shelvedUntil = input.until
        r.activeWhileShelved = r.active
        s.move('shelved', input.at, input.by, input.reason)
      }
      break
    case 'unshelve':
      if (r.state !== 'shelved') refused = 'the alarm is not shelved'
      else {
        const why = blank(input.reason) ? 'unshelved' : (input.reason as string)
        s.endShelve(true, input.at, input.by, why)
      }
      break
    case 'remove-from-service':
      if (r.state === 'out-of-service') refused = 'the alarm is already out of service'
      else if (blank(input.reason)) refused = 'removing from service needs a reason'
      else {
        r.shelvedUntil = null
        r.activeWhileShelved = false
        s.move('out-of-service', input.at, input.by, input.reason)
      }
      break
    case 'return-to-service':
      if (r.state !== 'out-of-service') refused = 'the alarm is not out of service'
      else {
        const why = blank(input.reason) ? 'returned to service' : (input.reason as string)
        s.leaveTo(r.active ? 'unack-active' : 'normal', input.at, input.by, why)
      }
      break
    case 'suppress':
      r.suppressedByDesign = input.on
      if (input.on && SHELVABLE.includes(r.state)) s.move('suppressed', input.at, null, input.why)
      else if (!input.on && r.state === 'suppressed') {
        if (r.active) s.annunciate('unack-active', input.at, null, input.why)
        else s.move('normal', input.at, null, input.why)
      }
      break
  }
  return { record: s.r, transitions: s.out, refused }
}
