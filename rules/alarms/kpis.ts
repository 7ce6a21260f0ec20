import {
  ALARM_PRIORITIES,
  type AlarmPriority,
  type AlarmState,
  type AlarmTransition,
} from './types.ts'

/**
 * Alarm-system health after EEMUA 191 and ANSI/ISA-18.2-2016 clause 16, per area (operator
 * position), from a history of transitions over [from, to). Pure. The figures:
 *
 * - An alarm (activation) is a transition into unack-active from normal, unack-rtn, shelved,
 *   suppressed or out-of-service: an annunciation of a new (or newly visible) occurrence. A
 *   re-alarm (ack-active → unack-active) announces the same occurrence again: it is not a new
 *   alarm and is not counted.
 * - Per 10 minutes: activations counted in consecutive 10-minute buckets from `from` (the last
 *   one may be shorter). `max` is the busiest bucket; `mean` the average rate per 10 minutes,
 *   alarms × 10 min / (to − from) (EEMUA 191's average alarm rate: equal to the mean over the
 *   buckets when the range is whole buckets, and not diluted by a short last bucket).
 * - Flood: begins at the activation that brings the trailing 10-minute window (t − 10 min, t]
 *   to more than 10 alarms, and ends when that window holds fewer than 5 (when enough
 *   activations have left it). Activations before `from` in the history count in the window,
 *   so a flood already under way at `from` is seen. floodPercent = flood time within
 *   [from, to) / (to − from) × 100.
 * - Standing: in unack-active or ack-active at `to` for more than 24 h without a break (time
 *   in B and C together; a re-alarm does not restart it).
 * - Chattering: 3 or more condition changes of one alarm (activations, and returns:
 *   unack-active → unack-rtn, ack-active → normal) within 60 s (the third less than 60 s
 *   after the first). Operator acts (acknowledge, shelve) are not counted: an alarm
 *   acknowledged and shelved within a minute of its activation does not chatter.
 * - Bad actors: the 10 alarms with the most activations, most first (ties by id).
 * - Priorities: each priority's share (0–1) of the activations; all 0 without any.
 * - Mean time to acknowledge: over the activations in the range that were acknowledged
 *   (unack-active → ack-active, or unack-rtn → normal) before the next activation and before
 *   the alarm left B/D otherwise (shelved, suppressed, out of service): acknowledgement time −
 *   activation time. A re-alarm's acknowledgement is not counted again. Null without any.
 *
 * States: `initial` gives the states at `from`. Transitions before `from`, if given, are
 * replayed to date the onset of an alarm active at `from` (for standing alarms and flood);
 * without them an alarm active at `from` counts as active since `from`. Transitions of alarms
 * not listed in `alarms` are ignored. Areas are listed by name, each alarm's lists by id.
 */

/** The figures' thresholds (EEMUA 191, ISA-18.2). */
export const ALARM_KPI_LIMITS = {
  bucketMs: 10 * 60_000,
  floodAbove: 10,
  floodEndsBelow: 5,
  standingMs: 24 * 3_600_000,
  chatterTransitions: 3,
  chatterWindowMs: 60_000,
  badActors: 10,
} as const

export interface AlarmAreaKpis {
  area: string
  /** Alarms (activations) in the range, and per 10 minutes: the mean and the busiest. */
  alarms: number
  per10Minutes: { mean: number; max: number }
  /** Share of the range in flood: more than 10 alarms in 10 minutes, until fewer than 5. */
  floodPercent: number
  /** Alarms active for more than 24 hours (at the end of the range). */
  standing: string[]
  /** Alarms with 3 or more transitions within a minute. */
  chattering: string[]
  /** The 10 alarms with the most activations, most first. */
  badActors: { alarm: string; activations: number }[]
  /** Activations per priority, as a share (0–1). */
  priorities: Record<AlarmPriority, number>
  /** Mean time from activation to acknowledgement, ms; null without any acknowledgement. */
  meanTimeToAcknowledgeMs: number | null
}

/** Alarm-system health after EEMUA 191 and ISA-18.2 (clause 16), per area, for a time range. */
export interface AlarmKpisView {
  from: number
  to: number
  areas: AlarmAreaKpis[]
}

export interface AlarmKpisInput {
  from: number
  to: number
  alarms: { id: string; area: string; priority: AlarmPriority }[]
  transitions: (AlarmTransition & { alarm: string })[]
  /** States at `from` (absent: the state the earlier transitions leave, else normal). */
  initial?: Record<string, AlarmState> | undefined
}

type Move = Pick<AlarmTransition, 'from' | 'to'>

const ACTIVATION_FROM: readonly AlarmState[] = [
  'normal',
  'unack-rtn',
  'shelved',
  'suppressed',
  'out-of-service',
]

export function isActivation(t: Move): boolean {
  return t.to === 'unack-active' && ACTIVATION_FROM.includes(t.from)
}

/** The condition cleared: B → D or C → A. */
export function isReturn(t: Move): boolean {
  return (
    (t.from === 'unack-active' && t.to === 'unack-rtn') ||
    (t.from === 'ack-active' && t.to === 'normal')
  )
}

/** B → C or D → A: only an acknowledgement makes these. */
export function isAcknowledgement(t: Move): boolean {
  return (
    (t.from === 'unack-active' && t.to === 'ack-active') ||
    (t.from === 'unack-rtn' && t.to === 'normal')
  )
}

const isActiveState = (s: AlarmState): boolean => s === 'unack-active' || s === 'ack-active'

/** What one alarm's history says. */
interface AlarmFigures {
  /** Activations in [from, to), and all activations before `to` (for the flood window). */
  activations: number[]
  allActivations: number[]
  standing: boolean
  chattering: boolean
  acknowledgeTimes: number[]
}

function figuresOf(
  transitions: readonly AlarmTransition[],
  from: number,
  to: number,
  initial: AlarmState | undefined,
): AlarmFigures {
  const L = ALARM_KPI_LIMITS
  let state: AlarmState = 'normal'
  let onset: number | null = null
  const allActivations: number[] = []
  const enter = (t: AlarmTransition) => {
    if (isActiveState(t.to) && !isActiveState(t.from)) onset = t.at
    if (!isActiveState(t.to)) onset = null
    state = t.to
    if (isActivation(t)) allActivations.push(t.at)
  }
  const before = transitions.filter((t) => t.at < from)
  for (const t of before) enter(t)
  // The state at `from`: as given, dated by the history when it agrees that it was active.
  if (initial !== undefined && initial !== state) {
    onset = isActiveState(initial) && isActiveState(state) ? onset : from
    state = initial
  }
  if (!isActiveState(state)) onset = null
  else onset ??= from

  const activations: number[] = []
  const changes: number[] = []
  const acknowledgeTimes: number[] = []
  let pending: number | null = null
  for (const t of transitions) {
    if (t.at < from || t.at >= to) continue
    if (isActivation(t)) {
      activations.push(t.at)
      pending = t.at
    } else if (isAcknowledgement(t)) {
      if (pending !== null) acknowledgeTimes.push(t.at - pending)
      pending = null
    } else if (t.to !== 'unack-active' && t.to !== 'unack-rtn') pending = null
    if (isActivation(t) || isReturn(t)) changes.push(t.at)
    enter(t)
  }
  const standing = isActiveState(state) && onset !== null && to - onset > L.standingMs
  const n = L.chatterTransitions
  const chattering = changes.some(
    (at, i) =>
      i + n - 1 < changes.length && (changes[i + n - 1] as number) - at < L.chatterWindowMs,
  )
  return { activations, allActivations, standing, chattering, acknowledgeTimes }
}

/** Flood time within [from, to) from sorted activation times (see the module's definition). */
export function floodMs(activations: readonly number[], from: number, to: number): number {
  const L = ALARM_KPI_LIMITS
  let total = 0
  let count = 0
  let start: number | null = null
  let i = 0 // next activation to enter the window
  let j = 0 // next activation to leave it (at its time + 10 min)
  const clip = (a: number, b: number) => Math.max(0, Math.min(b, to) - Math.max(a, from))
  while (i < activations.length || j < activations.length) {
    const enterAt = activations[i] ?? Number.POSITIVE_INFINITY
    const leaveAt = (activations[j] as number) + L.bucketMs
    const t = Math.min(enterAt, leaveAt)
    if (t >= to) break
    while (i < activations.length && activations[i] === t) {
      count++
      i++
    }
    while (j < i && (activations[j] as number) + L.bucketMs === t) {
      count--
      j++
    }
    if (start === null && count > L.floodAbove) start = t
    else if (start !== null && count < L.floodEndsBelow) {
      total += clip(start, t)
      start = null
    }
  }
  if (start !== null) total += clip(start, to)
  return total
}

function areaKpis(
  area: string,
  alarms: readonly { id: string; priority: AlarmPriority }[],
  figures: ReadonlyMap<string, AlarmFigures>,
  from: number,
  to: number,
): AlarmAreaKpis {
  const L = ALARM_KPI_LIMITS
  const span = Math.max(0, to - from)
  const buckets = new Array<number>(Math.ceil(span / L.bucketMs)).fill(0)
  const priorityCounts: Record<AlarmPriority, number> = { critical: 0, high: 0, medium: 0, low: 0 }
  const all: number[] = []
  const actors: { alarm: string; activations: number }[] = []
  const acks: number[] = []
  const standing: string[] = []
  const chattering: string[] = []
  let total = 0
  for (const a of alarms) {
    const f = figures.get(a.id) as AlarmFigures
    for (const at of f.activations) {
      const k = Math.floor((at - from) / L.bucketMs)
      buckets[k] = (buckets[k] ?? 0) + 1
    }
    total += f.activations.length
    priorityCounts[a.priority] += f.activations.length
    all.push(...f.allActivations)
    if (f.activations.length > 0) actors.push({ alarm: a.id, activations: f.activations.length })
    acks.push(...f.acknowledgeTimes)
    if (f.standing) standing.push(a.id)
    if (f.chattering) chattering.push(a.id)
  }
  all.sort((x, y) => x - y)
  actors.sort((x, y) => y.activations - x.activations || x.alarm.localeCompare(y.alarm))
  const priorities = { ...priorityCounts }
  for (const p of ALARM_PRIORITIES) priorities[p] = total === 0 ? 0 : priorityCounts[p] / total
  return {
    area,
    alarms: total,
    per10Minutes: {
      mean: span === 0 ? 0 : (total * L.bucketMs) / span,
      max: buckets.reduce((m, x) => Math.max(m, x), 0),
    },
    floodPercent: span === 0 ? 0 : (floodMs(all, from, to) / span) * 100,
    standing: standing.sort(),
    chattering: chattering.sort(),
    badActors: actors.slice(0, L.badActors),
    priorities,
    meanTimeToAcknowledgeMs:
      acks.length === 0 ? null : acks.reduce((sum, x) => sum + x, 0) / acks.length,
  }
}

export function alarmKpis(input: AlarmKpisInput): AlarmKpisView {
  const { from, to } = input
  const byAlarm = new Map<string, AlarmTransition[]>(input.alarms.map((a) => [a.id, []]))
  for (const t of input.transitions) byAlarm.get(t.alarm)?.push(t)
  const figures = new Map<string, AlarmFigures>()
  for (const [id, ts] of byAlarm) {
    const sorted = ts.toSorted((x, y) => x.at - y.at) // stable: equal times keep their order
    figures.set(id, figuresOf(sorted, from, to, input.initial?.[id]))
  }
  const areas = [...new Set(input.alarms.map((a) => a.area))].sort()
  return {
    from,
    to,
    areas: areas.map((area) =>
      areaKpis(
        area,
        input.alarms.filter((a) => a.area === area),
        figures,
        from,
        to,
      ),
    ),
  }
}
