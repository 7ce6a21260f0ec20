import type {
  AlarmAreaKpis,
  AlarmCounts,
  AlarmPriority,
  AlarmState,
  AlarmView,
  Role,
} from '../../../gateway/contract.ts'

/**
 * Alarm management on the dashboard (ISA-18.2), pure: the order and words of priorities and
 * states, merging live `alarms` updates into a list, the list's filters, what a role may do to an
 * alarm, durations and values in words, the banner's summary, the annunciator's state machine and
 * the alarm-system figures against their EEMUA 191 / ISA-18.2 references. No DOM, no clock: the
 * time arrives as an argument.
 */

/** Priorities, most urgent first (the order of the banner and of every list). */
export const PRIORITIES: readonly AlarmPriority[] = ['critical', 'high', 'medium', 'low']

/** A priority in words, for the wall display: never said by colour alone. */
export function priorityWords(p: AlarmPriority): string {
  return p.toUpperCase()
}

/** Larger is more urgent; an unknown priority ranks below low. */
export function priorityRank(p: AlarmPriority): number {
  const i = PRIORITIES.indexOf(p)
  return i < 0 ? 0 : PRIORITIES.length - i
}

/** Every state, in the state model's order (A to G). */
const ALARM_STATE_LIST: readonly AlarmState[] = [
  'normal',
  'unack-active',
  'ack-active',
  'unack-rtn',
  'shelved',
  'suppressed',
  'out-of-service',
]

/** The states of ISA-18.2's state model in words (with the standard's letter). */
const STATE_WORDS: Record<AlarmState, string> = {
  normal: 'Normal',
  'unack-active': 'Unacknowledged · active',
  'ack-active': 'Acknowledged · active',
  'unack-rtn': 'Unacknowledged · returned to normal',
  shelved: 'Shelved',
  suppressed: 'Suppressed by design',
  'out-of-service': 'Out of service',
}

export function stateWords(state: AlarmState): string {
  return STATE_WORDS[state] ?? state
}

/** The states that wait for an acknowledgement (B and D). */
export function isUnacknowledged(state: AlarmState): boolean {
  return state === 'unack-active' || state === 'unack-rtn'
}

/** The states the banner counts as active (B and C: shown to the operator and active). */
export function isShownActive(state: AlarmState): boolean {
  return state === 'unack-active' || state === 'ack-active'
}

// ---- ordering and merging ----------------------------------------------------------------------

/** Highest priority first, then the latest change first, then by id (as GET /api/alarms orders). */
export function compareAlarms(a: AlarmView, b: AlarmView): number {
  return (
    priorityRank(b.priority) - priorityRank(a.priority) ||
    b.since - a.since ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  )
}

export function sortAlarms(list: readonly AlarmView[]): AlarmView[] {
  return [...list].sort(compareAlarms)
}

/**
 * What the alarm list shows: a group of states or one state, a priority, an area (an alarm of a
 * sub-area belongs to it, as the gateway filters), a characteristic. Empty strings: any.
 */
export type StateFilter = 'not-normal' | 'active' | 'unacknowledged' | 'all' | AlarmState

export interface AlarmFilter {
  state: StateFilter
  priority: AlarmPriority | ''
  area: string
  characteristic: string
}

export const NO_FILTER: AlarmFilter = {
  state: 'not-normal',
  priority: '',
  area: '',
  characteristic: '',
}

/** The state filter's choices, in the order the list offers them. */
export const STATE_FILTERS: readonly { value: StateFilter; label: string }[] = [
  { value: 'not-normal', label: 'All not normal' },
  { value: 'active', label: 'Active (acknowledged or not)' },
  { value: 'unacknowledged', label: 'Unacknowledged' },
  { value: 'unack-active', label: stateWords('unack-active') },
  { value: 'ack-active', label: stateWords('ack-active') },
  { value: 'unack-rtn', label: stateWords('unack-rtn') },
  { value: 'shelved', label: stateWords('shelved') },
  { value: 'suppressed', label: stateWords('suppressed') },
  { value: 'out-of-service', label: stateWords('out-of-service') },
  { value: 'normal', label: stateWords('normal') },
  { value: 'all', label: 'All (normal too)' },
]

export function matchesState(state: AlarmState, filter: StateFilter): boolean {
  switch (filter) {
    case 'not-normal':
      return state !== 'normal'
    case 'active':
      return isShownActive(state)
    case 'unacknowledged':
      return isUnacknowledged(state)
    case 'all':
      return true
    default:
      return state === filter
  }
}

export function matchesFilter(alarm: AlarmView, filter: AlarmFilter): boolean {
  if (!matchesState(alarm.state, filter.state)) return false
  if (filter.priority && alarm.priority !== filter.priority) return false
  if (filter.area && alarm.area !== filter.area && !alarm.area.startsWith(`${filter.area}/`))
    return false
  if (filter.characteristic && alarm.characteristic !== filter.characteristic) return false
  return true
}

/**
 * The queries of GET /api/alarms for a filter. The gateway takes one state (without it: every
 * alarm not normal), so a group of states is asked as "not normal" and narrowed here, and "all"
 * takes two queries: not normal, and normal.
 */
export function alarmQueries(filter: AlarmFilter): Record<string, string | undefined>[] {
  const group = ['not-normal', 'active', 'unacknowledged', 'all'].includes(filter.state)
  const state = group ? undefined : filter.state
  const query = {
    state,
    priority: filter.priority || undefined,
    area: filter.area || undefined,
    characteristic: filter.characteristic || undefined,
  }
  // `all`: every state in one query (the gateway takes a comma-separated list).
  return [filter.state === 'all' ? { ...query, state: ALARM_STATE_LIST.join(',') } : query]
}

/**
 * Applies the alarms of a live update (or of an act's answer) to a list, by id: a changed alarm
 * replaces the one held, joins the list when it now matches the filter, leaves it when it no
 * longer does. An update older than the alarm held (an earlier state change) is ignored, so a
 * late message cannot undo an act already shown. The result is ordered.
 */
export function mergeAlarms(
  list: readonly AlarmView[],
  changed: readonly AlarmView[],
  filter: AlarmFilter,
): AlarmView[] {
  const byId = new Map(list.map((a) => [a.id, a]))
  for (const a of changed) {
    const held = byId.get(a.id)
    if (held && held.since > a.since) continue
    if (matchesFilter(a, filter)) byId.set(a.id, a)
    else byId.delete(a.id)
  }
  return sortAlarms([...byId.values()])
}

/** The areas some alarms belong to, sorted, each once. */
export function areasOf(alarms: Iterable<Pick<AlarmView, 'area'>>, known: Iterable<string> = []) {
  const all = new Set(known)
  for (const a of alarms) all.add(a.area)
  return [...all].sort()
}

/** The characteristic an alarm id (`characteristic:condition`) belongs to. */
export function characteristicOfAlarm(id: string): string {
  const i = id.lastIndexOf(':')
  return i < 0 ? id : id.slice(0, i)
}

// ---- what a role may do ------------------------------------------------------------------------

export type AlarmAct =
  | 'acknowledge'
  | 'shelve'
  | 'unshelve'
  | 'out-of-service'
  | 'return-to-service'

const RANK: Record<Role, number> = {
  viewer: 1,
  operator: 2,
  'quality-engineer': 3,
  'quality-manager': 4,
  admin: 5,
}

/** The role each act needs (the gateway's routes say the same). */
export const ACT_ROLE: Record<AlarmAct, Role> = {
  acknowledge: 'operator',
  shelve: 'operator',
  unshelve: 'operator',
  'out-of-service': 'quality-engineer',
  'return-to-service': 'quality-engineer',
}

export const ACT_LABEL: Record<AlarmAct, string> = {
  acknowledge: 'Acknowledge',
  shelve: 'Shelve',
  unshelve: 'Unshelve',
  'out-of-service': 'Out of service',
  'return-to-service': 'Return to service',
}

export function mayAct(role: Role | null | undefined, act: AlarmAct): boolean {
  return role != null && (RANK[role] ?? 0) >= (RANK[ACT_ROLE[act]] ?? Number.POSITIVE_INFINITY)
}

/** Whether the alarm's state allows the act (ISA-18.2's state model, rules/alarms/lifecycle.ts). */
export function stateAllows(state: AlarmState, act: AlarmAct): boolean {
  switch (act) {
    case 'acknowledge':
      return isUnacknowledged(state)
    case 'shelve':
      return state === 'normal' || isShownActive(state) || state === 'unack-rtn'
    case 'unshelve':
      return state === 'shelved'
    case 'out-of-service':
      return state !== 'out-of-service'
    case 'return-to-service':
      return state === 'out-of-service'
  }
}

/** The acts offered on an alarm: allowed by its state and by the role. */
export function actsFor(state: AlarmState, role: Role | null | undefined): AlarmAct[] {
  return (Object.keys(ACT_ROLE) as AlarmAct[]).filter(
    (act) => stateAllows(state, act) && mayAct(role, act),
  )
}

/**
 * Why some acts are not offered to this role, in one sentence, or null when the role may do them
 * all: "Your role (viewer) cannot acknowledge, shelve or unshelve alarms, nor put them out of
 * service: an operator acknowledges and shelves, an engineer puts out of service."
 */
export function roleNote(role: Role | null | undefined): string | null {
  const who = role ?? 'none'
  if (mayAct(role, 'out-of-service')) return null
  if (mayAct(role, 'acknowledge'))
    return `Your role (${who}) cannot put alarms out of service or return them to service: a quality engineer can.`
  return `Your role (${who}) cannot acknowledge, shelve or unshelve alarms, nor put them out of service: an operator acknowledges and shelves, a quality engineer puts out of service.`
}

/** A reason a person types: why it cannot be sent, or null. The gateway wants 3 characters. */
export function reasonProblem(reason: string): string | null {
  return reason.trim().length < 3
    ? 'Give a reason of at least 3 characters: it is kept in the alarm’s history.'
    : null
}

/**
 * A shelve's duration: why it cannot be sent, or null. `max` is the gateway's
 * alarms.maxShelveMinutes (from the session); the gateway checks it again.
 */
export function minutesProblem(minutes: number, max?: number): string | null {
  if (!Number.isFinite(minutes) || minutes <= 0) return 'Shelve for a number of minutes above 0.'
  if (max !== undefined && minutes > max)
    return `An alarm may be shelved for at most ${max} minutes.`
  return null
}

// ---- words for values and times ----------------------------------------------------------------

const MINUS = '\u2212'

/**
 * A number as a person writes it: with the characteristic's decimals when given, else six
 * significant digits at most, no float noise; a true minus.
 */
export function numberText(x: number | null | undefined, decimals?: number): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  const text = decimals === undefined ? String(Number(x.toPrecision(6))) : x.toFixed(decimals)
  return text.startsWith('-') ? `${MINUS}${text.slice(1)}` : text
}

/**
 * A duration for a person: "0.8 s", "42 s", "4 min 05 s", "3 h 05 min", "2 d 03 h". Negative
 * (clock skew) reads as 0 s; not finite as a dash.
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  const t = Math.max(0, ms)
  if (t < 10_000) return `${Math.floor(t / 100) / 10} s`
  const s = Math.floor(t / 1000)
  if (s < 60) return `${s} s`
  const pad = (n: number) => String(n).padStart(2, '0')
  const min = Math.floor(s / 60)
  if (min < 60) return `${min} min ${pad(s % 60)} s`
  const h = Math.floor(min / 60)
  if (h < 24) return `${h} h ${pad(min % 60)} min`
  return `${Math.floor(h / 24)} d ${pad(h % 24)} h`
}

/**
 * An alarm's value and limit with the unit, as its condition measures them: "506.5 g · limit
 * 505 g"; a rate per minute; a stale alarm's age and its allowed silence; a CUSUM sum in σ; a
 * communication loss has none ("—").
 */
export function valueLimitText(
  a: Pick<AlarmView, 'condition' | 'value' | 'limit' | 'unit'> & { decimals?: number },
): string {
  const cond = a.condition as string
  if (cond === 'comm-loss') return '—'
  if (cond === 'stale') {
    if (a.value === null && a.limit === null) return '—'
    const age = a.value === null ? '—' : formatDuration(a.value)
    return a.limit === null ? `silent ${age}` : `silent ${age} · limit ${formatDuration(a.limit)}`
  }
  const cusum = cond.startsWith('cusum')
  const unit = cusum ? 'σ' : cond === 'rate' ? `${a.unit}/min` : a.unit
  // A CUSUM sum (σ units) and a rate are not in the characteristic's decimals.
  const decimals = cusum || cond === 'rate' ? undefined : a.decimals
  const q = (x: number | null) => {
    const n = numberText(x, decimals)
    return n === '—' || unit === '' ? n : cusum ? `${n}${unit}` : `${n} ${unit}`
  }
  if (a.value === null && a.limit === null) return '—'
  return a.limit === null ? q(a.value) : `${q(a.value)} · limit ${q(a.limit)}`
}

// ---- the banner ----------------------------------------------------------------------------------

export interface BannerRow {
  priority: AlarmPriority
  words: string
  active: number
  unacknowledged: number
}

/** The banner's counts, highest priority first, every priority shown (a zero says all is quiet). */
export function bannerRows(counts: AlarmCounts | null): BannerRow[] {
  return PRIORITIES.map((priority) => ({
    priority,
    words: priorityWords(priority),
    active: counts?.[priority]?.active ?? 0,
    unacknowledged: counts?.[priority]?.unacknowledged ?? 0,
  }))
}

/**
 * The alarm the banner names: of those waiting for an acknowledgement, the highest priority; of
 * those, one still active before one returned to normal; then the newest (latest state change).
 */
export function headlineAlarm(alarms: Iterable<AlarmView>): AlarmView | null {
  let best: AlarmView | null = null
  for (const a of alarms) {
    if (!isUnacknowledged(a.state)) continue
    if (
      best === null ||
      priorityRank(a.priority) > priorityRank(best.priority) ||
      (priorityRank(a.priority) === priorityRank(best.priority) &&
        (Number(a.state === 'unack-active') - Number(best.state === 'unack-active') ||
          a.since - best.since) > 0)
    )
      best = a
  }
  return best
}

// ---- the annunciator ------------------------------------------------------------------------------

/**
 * Audible annunciation (ISA-18.2 11.4, the wall display's horn), a state machine:
 *
 * - `off`: the person has not turned the sound on (the default; a browser plays sound only
 *   after a click). Turning it on → `armed`, with the alarms already waiting taken as heard.
 * - `armed`: quiet. An alarm of a loud priority (high, critical) entering unack-active (a new
 *   activation, a re-alarm, an automatic unshelve: each a new `since`) → `sounding`.
 * - `sounding`: the horn repeats until the alarms that sounded it are all acknowledged (or have
 *   left the unacknowledged states otherwise: shelved, suppressed, out of service) → `armed`,
 *   or the person presses Silence → `silenced`.
 * - `silenced`: quiet, the alarms still unacknowledged (silence is not acknowledgement); a new
 *   loud alarm sounds again; when the last is acknowledged → `armed`.
 *
 * Turning the sound off from any state → `off`.
 */
export type AnnunciatorMode = 'off' | 'armed' | 'sounding' | 'silenced'

export interface Annunciator {
  mode: AnnunciatorMode
  /** Per alarm id, the `since` of the activation already announced (or taken as heard). */
  heard: ReadonlyMap<string, number>
  /** Alarms that sounded the horn and still wait for an acknowledgement. */
  waiting: ReadonlySet<string>
}

export const LOUD_PRIORITIES: ReadonlySet<AlarmPriority> = new Set(['critical', 'high'])

export const ANNUNCIATOR_OFF: Annunciator = { mode: 'off', heard: new Map(), waiting: new Set() }

/** Sound on: armed, the loud alarms already unacknowledged and active taken as heard. */
export function annunciatorOn(current: Iterable<AlarmView>): Annunciator {
  const heard = new Map<string, number>()
  for (const a of current)
    if (a.state === 'unack-active' && LOUD_PRIORITIES.has(a.priority)) heard.set(a.id, a.since)
  return { mode: 'armed', heard, waiting: new Set() }
}

export function annunciatorOff(): Annunciator {
  return ANNUNCIATOR_OFF
}

/** Silence: the horn stops; the alarms stay unacknowledged. Only a sounding horn is silenced. */
export function annunciatorSilence(a: Annunciator): Annunciator {
  return a.mode === 'sounding' ? { ...a, mode: 'silenced' } : a
}

/**
 * The unacknowledged alarms read afresh (after a reconnect or a flood): those that sounded and
 * are no longer among them were acknowledged meanwhile; new loud ones sound.
 */
export function annunciatorResync(
  a: Annunciator,
  unacknowledged: readonly AlarmView[],
): Annunciator {
  if (a.mode === 'off') return a
  const present = new Set(unacknowledged.map((x) => x.id))
  const waiting = new Set([...a.waiting].filter((id) => present.has(id)))
  const heard = new Map([...a.heard].filter(([id]) => present.has(id)))
  const mode = waiting.size === 0 && a.mode !== 'armed' ? 'armed' : a.mode
  return annunciatorObserve({ mode, heard, waiting }, unacknowledged)
}

/** Alarms changed (a live update, an act's answer): the horn follows. */
export function annunciatorObserve(a: Annunciator, changed: Iterable<AlarmView>): Annunciator {
  if (a.mode === 'off') return a
  let heard: Map<string, number> | null = null
  let waiting: Set<string> | null = null
  let fresh = false
  for (const alarm of changed) {
    if (
      alarm.state === 'unack-active' &&
      LOUD_PRIORITIES.has(alarm.priority) &&
      a.heard.get(alarm.id) !== alarm.since
    ) {
      heard ??= new Map(a.heard)
      waiting ??= new Set(a.waiting)
      heard.set(alarm.id, alarm.since)
      waiting.add(alarm.id)
      fresh = true
    } else if (!isUnacknowledged(alarm.state)) {
      if (a.waiting.has(alarm.id) || waiting?.has(alarm.id)) {
        waiting ??= new Set(a.waiting)
        waiting.delete(alarm.id)
      }
      if (a.heard.has(alarm.id) || heard?.has(alarm.id)) {
        heard ??= new Map(a.heard)
        heard.delete(alarm.id)
      }
    }
  }
  if (!heard && !waiting) return a
  const nextWaiting = waiting ?? a.waiting
  const mode: AnnunciatorMode = fresh ? 'sounding' : nextWaiting.size === 0 ? 'armed' : a.mode
  return { mode, heard: heard ?? a.heard, waiting: nextWaiting }
}

// ---- alarm-system figures against their references ----------------------------------------------

/** The references (EEMUA 191, 3rd edition; ANSI/ISA-18.2-2016 table 7) the KPI page shows. */
export const KPI_REFERENCES = {
  /** Average alarms per 10 minutes: ≤ 1 very likely acceptable, ≤ 2 manageable (EEMUA 191). */
  acceptablePer10Min: 1,
  manageablePer10Min: 2,
  /** A flood: more than 10 alarms in 10 minutes (EEMUA 191, ISA-18.2). */
  floodPer10Min: 10,
  /** Time in flood: under 1 % (ISA-18.2 target). */
  floodPercentTarget: 1,
  /** Priority distribution of the activations (EEMUA 191): about 80 % low, 15 % medium, 5 % high. */
  priorities: { low: 0.8, medium: 0.15, high: 0.05 },
} as const

export type Judgement = 'good' | 'fair' | 'poor' | 'none'

export interface Assessed {
  judgement: Judgement
  words: string
}

/** The average rate per 10 minutes against EEMUA 191. */
export function assessMeanRate(mean: number, alarms: number): Assessed {
  const r = KPI_REFERENCES
  if (alarms === 0) return { judgement: 'none', words: 'no alarms in the range' }
  if (mean <= r.acceptablePer10Min)
    return { judgement: 'good', words: 'very likely acceptable (≤ 1 per 10 min)' }
  if (mean <= r.manageablePer10Min)
    return { judgement: 'fair', words: 'manageable (≤ 2 per 10 min)' }
  if (mean <= r.floodPer10Min)
    return {
      judgement: 'poor',
      words: 'over the manageable rate of 2 per 10 min: likely over-demanding',
    }
  return { judgement: 'poor', words: 'a flood rate (> 10 per 10 min): very likely unacceptable' }
}

/** The busiest 10 minutes against the flood threshold. */
export function assessMaxRate(max: number): Assessed {
  if (max === 0) return { judgement: 'none', words: 'no alarms in the range' }
  if (max > KPI_REFERENCES.floodPer10Min)
    return { judgement: 'poor', words: 'over 10 per 10 min: a flood' }
  return { judgement: 'good', words: 'under the flood threshold of 10 per 10 min' }
}

export function assessFlood(percent: number): Assessed {
  if (percent === 0) return { judgement: 'good', words: 'never in flood' }
  if (percent < KPI_REFERENCES.floodPercentTarget)
    return { judgement: 'fair', words: 'under the 1 % target (ISA-18.2)' }
  return { judgement: 'poor', words: 'over the 1 % target (ISA-18.2)' }
}

/** Standing and chattering alarms: the target is none (ISA-18.2). */
export function assessNone(count: number, what: string): Assessed {
  return count === 0
    ? { judgement: 'good', words: `no ${what} alarms (target: none)` }
    : { judgement: 'poor', words: 'over the target of none' }
}

export interface PriorityShare {
  /** high includes critical: the guide has three levels. */
  level: 'high' | 'medium' | 'low'
  share: number
  guide: number
  words: string
  judgement: Judgement
}

/** A share in whole percent: 0.153 → "15 %". */
export function percentText(share: number): string {
  return `${Math.round(share * 100)} %`
}

/**
 * The priority distribution against EEMUA 191's guide (about 80 % low, 15 % medium, 5 % high;
 * critical counts with high). Within a quarter of the guide (at least 2 points) reads "near the
 * guide", else "over" or "under" it.
 */
export function assessPriorities(
  priorities: AlarmAreaKpis['priorities'],
  alarms: number,
): PriorityShare[] {
  const g = KPI_REFERENCES.priorities
  const shares = {
    high: (priorities.critical ?? 0) + (priorities.high ?? 0),
    medium: priorities.medium ?? 0,
    low: priorities.low ?? 0,
  }
  return (['high', 'medium', 'low'] as const).map((level) => {
    const share = shares[level]
    const guide = g[level]
    const base = { level, share, guide }
    if (alarms === 0)
      return { ...base, judgement: 'none' as const, words: 'no alarms in the range' }
    const tolerance = Math.max(0.02, guide * 0.25)
    const guideText = `the ${percentText(guide)} guide`
    if (share > guide + tolerance)
      return { ...base, judgement: 'poor' as const, words: `over ${guideText}` }
    if (share < guide - tolerance)
      return { ...base, judgement: 'fair' as const, words: `under ${guideText}` }
    return { ...base, judgement: 'good' as const, words: `near ${guideText}` }
  })
}

/** The KPI page's ranges, and the range one of them ends at `now` (UTC ms). */
export const KPI_RANGES = [
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
] as const

export type KpiRangeKey = (typeof KPI_RANGES)[number]['key']

export function kpiRange(key: KpiRangeKey, now: number): { from: number; to: number } {
  const r = KPI_RANGES.find((x) => x.key === key) ?? KPI_RANGES[1]
  return { from: now - r.ms, to: now }
}
