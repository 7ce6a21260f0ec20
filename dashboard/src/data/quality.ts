import type {
  AttachmentView,
  AuditEntryView,
  CapaStatus,
  CapaView,
  DispositionDecision,
  Effectiveness,
  FishboneCategory,
  NcEvent,
  NcSeverity,
  NcWorkflowStatus,
  NcWorkflowView,
  NonconformanceSummary,
  NonconformanceView,
  SignatureMeaning,
  SignatureView,
} from '../../../gateway/contract.ts'
import { auditChangeLines } from '../../../rules/quality/audit-changes.ts'
import {
  DISPOSITION_DECISIONS,
  FISHBONE_CATEGORIES,
  MAX_WHYS,
  NC_ACTION_ROLES,
  NC_ACTION_STATES,
  NC_SEVERITIES,
  NC_STATUSES,
  type NcActionName,
} from '../../../rules/quality/nc-workflow.ts'
import {
  reasonRequired,
  roleAtLeast,
  USER_ROLES,
  type UserRole,
} from '../../../rules/quality/roles.ts'
import {
  CAPA_ACTION_ROLES,
  CAPA_ACTION_STATES,
  CAPA_KINDS,
  CAPA_STATUSES,
  type CapaActionName,
  NC_SIGN_ROLES,
} from '../../../rules/quality/shapes.ts'
import { formatDateTime } from './format.ts'

/**
 * The quality loop's display logic (issue 9), pure: which NC and CAPA actions a role may do in a
 * record's state (the NC's from rules/quality/nc-workflow.ts itself, so the dashboard offers
 * exactly what the gateway allows), what to say when a role lacks one, the bodies the forms send
 * and what is wrong with them before they are sent, the NC list's filter and its query, and the
 * words and figures of the NC, CAPA and KPI pages. The clock and the time zone arrive as
 * arguments.
 */

export type { CapaActionName, NcActionName, UserRole }
export {
  CAPA_KINDS,
  CAPA_STATUSES,
  DISPOSITION_DECISIONS,
  FISHBONE_CATEGORIES,
  MAX_WHYS,
  NC_SEVERITIES,
  NC_STATUSES,
}

const DAY_MS = 86_400_000

// ---- roles -------------------------------------------------------------------------------------

/**
 * The role of a session as the dashboard reasons about it: a quality role, or null (no session).
 * `engineer` (the name before issue 9) is a quality engineer; anything unknown may do nothing.
 */
export function userRole(role: string | null | undefined): UserRole | null {
  if (role === 'engineer') return 'quality-engineer'
  return USER_ROLES.includes(role as UserRole) ? (role as UserRole) : null
}

/** Whether a (possibly absent) role may do what `needed` may. */
export function hasRole(role: string | null | undefined, needed: UserRole): boolean {
  const r = userRole(role)
  return r !== null && roleAtLeast(r, needed)
}

/** "quality engineer" for quality-engineer. */
export function roleWords(role: string | null | undefined): string {
  return role ? role.replaceAll('-', ' ') : 'none'
}

/**
 * What a page says when the principal lacks the role it needs: "This needs the quality-manager
 * role; you are signed in as a viewer." (null when the role suffices).
 */
export function missingRoleText(
  role: string | null | undefined,
  needed: UserRole,
  what = 'This page',
): string | null {
  if (hasRole(role, needed)) return null
  const who = role ? `your role is ${role}` : 'you are not signed in'
  return `${what} needs the ${needed} role (or higher); ${who}. Sign in as someone who has it.`
}

// ---- NC actions ---------------------------------------------------------------------------------

/** The NC actions in the order the page offers them. */
export const NC_ACTION_ORDER: readonly NcActionName[] = [
  'investigate',
  'assign',
  'set-severity',
  'containment',
  'root-cause',
  'affected-lots',
  'disposition',
  'link-capa',
  'close',
  'reopen',
  'comment',
]

export const NC_ACTION_LABEL: Record<NcActionName, string> = {
  investigate: 'Investigate',
  assign: 'Assign',
  'set-severity': 'Set severity',
  containment: 'Containment action',
  'root-cause': 'Root cause',
  'affected-lots': 'Affected lots',
  disposition: 'Disposition',
  'link-capa': 'Link CAPA',
  close: 'Close with signature…',
  reopen: 'Reopen',
  comment: 'Comment',
}

const NC_DOING: Record<NcActionName, string> = {
  investigate: 'investigating',
  assign: 'assigning',
  'set-severity': 'setting the severity',
  containment: 'recording containment',
  'root-cause': 'recording the root cause',
  'affected-lots': 'recording affected lots',
  disposition: 'dispositioning',
  'link-capa': 'linking a CAPA',
  close: 'closing under signature',
  reopen: 'reopening',
  comment: 'commenting',
}

/** Whether the NC's state allows the action (NC_ACTION_STATES). */
export function ncStateAllows(status: NcWorkflowStatus, action: NcActionName): boolean {
  return NC_ACTION_STATES[action].includes(status)
}

/** Actions that sign (Part 11): only a signed-in user may, never an access token. */
const SIGNING: ReadonlySet<string> = new Set(['close', 'approve'])

/**
 * The NC actions offered: allowed by the NC's state and by the role (NC_ACTION_ROLES); closing
 * signs, so it needs a signed-in user (`signer`), not an access token.
 */
export function ncActionsFor(
  status: NcWorkflowStatus,
  role: string | null | undefined,
  signer = true,
): NcActionName[] {
  return NC_ACTION_ORDER.filter(
    (a) =>
      ncStateAllows(status, a) && hasRole(role, NC_ACTION_ROLES[a]) && (signer || !SIGNING.has(a)),
  )
}

/**
 * What a session without a user may not do that its role otherwise could (the signing steps),
 * in one sentence; null when nothing is lost.
 */
export function signerNote(lost: readonly string[]): string | null {
  if (lost.length === 0) return null
  return `${capitalised(listWords(lost))} ${lost.length === 1 ? 'needs' : 'need'} a signed-in user: an access token is not a person. Sign in with your user name and password to sign.`
}

const capitalised = (s: string) => (s === '' ? s : `${s[0]?.toUpperCase()}${s.slice(1)}`)

/** The signing steps of an NC a role could do in its state but not without a signed-in user. */
export function ncSigningLost(
  status: NcWorkflowStatus,
  role: string | null | undefined,
  signer: boolean,
): string[] {
  if (signer) return []
  return [
    ...(ncActionsFor(status, role).includes('close') ? ['closing under signature'] : []),
    ...ncSignMeaningsFor(status, role).map((m) => `signing as ${m}`),
  ]
}

/**
 * Why some actions the state allows are not offered to this role, grouped by the role they need,
 * lowest first: "Your role (viewer) may not act on this NC as it stands: commenting needs the
 * operator role; investigating, assigning … need the quality-engineer role." Null when the role
 * may do everything the state allows.
 */
export function ncRoleNote(
  status: NcWorkflowStatus,
  role: string | null | undefined,
): string | null {
  const lacking = NC_ACTION_ORDER.filter(
    (a) => ncStateAllows(status, a) && !hasRole(role, NC_ACTION_ROLES[a]),
  )
  return lackingNote(
    lacking.map((a) => ({ doing: NC_DOING[a], needs: NC_ACTION_ROLES[a] })),
    role,
    'this NC',
  )
}

function lackingNote(
  lacking: readonly { doing: string; needs: UserRole }[],
  role: string | null | undefined,
  record: string,
): string | null {
  if (lacking.length === 0) return null
  const parts = USER_ROLES.flatMap((needed) => {
    const doings = lacking.filter((l) => l.needs === needed).map((l) => l.doing)
    if (doings.length === 0) return []
    return [`${listWords(doings)} ${doings.length === 1 ? 'needs' : 'need'} the ${needed} role`]
  })
  return `Your role (${role ?? 'none'}) may not act on ${record} as it stands: ${parts.join('; ')}.`
}

/** "a", "a and b", "a, b and c". */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

/**
 * Signatures besides the closing one (`sign {meaning}`), on an NC that is not closed: the
 * gateway lets anyone who may act on an NC (an operator and above) sign as reviewed or approved.
 */
/** Who may sign an NC outside its closing (the gateway's rule). */
export { NC_SIGN_ROLES }

export function ncSignMeaningsFor(
  status: NcWorkflowStatus,
  role: string | null | undefined,
  signer = true,
): ('reviewed' | 'approved')[] {
  if (status === 'closed' || !signer) return []
  return (['reviewed', 'approved'] as const).filter((m) => hasRole(role, NC_SIGN_ROLES[m]))
}

// ---- CAPA actions -------------------------------------------------------------------------------

/** The role each CAPA action needs, and the states it is allowed in (the gateway's rule). */
export { CAPA_ACTION_ROLES, CAPA_ACTION_STATES }

export const CAPA_ACTION_ORDER: readonly CapaActionName[] = [
  'implement',
  'verify',
  'approve',
  'close',
  'assign',
  'link-nc',
  'comment',
]

export const CAPA_ACTION_LABEL: Record<CapaActionName, string> = {
  implement: 'Record implementation',
  verify: 'Verify effectiveness',
  approve: 'Approve with signature…',
  close: 'Close with signature…',
  assign: 'Assign',
  'link-nc': 'Link NC',
  comment: 'Comment',
}

const CAPA_DOING: Record<CapaActionName, string> = {
  implement: 'recording the implementation',
  verify: 'verifying effectiveness',
  approve: 'approving under signature',
  close: 'closing under signature',
  assign: 'assigning',
  'link-nc': 'linking an NC',
  comment: 'commenting',
}

/**
 * Whether the CAPA's state allows the action: as CAPA_ACTION_STATES, except that a CAPA verified
 * as effective is approved, not implemented again, and one verified as not effective is
 * implemented again (a revised action), not approved.
 */
export function capaStateAllows(
  capa: Pick<CapaView, 'status' | 'verification'>,
  action: CapaActionName,
): boolean {
  const notEffective = capa.status === 'verified' && capa.verification?.effective === false
  if (capa.status === 'verified') {
    if (action === 'implement') return notEffective
    if (action === 'approve') return !notEffective
  }
  return CAPA_ACTION_STATES[action].includes(capa.status)
}

/** The CAPA actions offered; approving and closing sign, so they need a signed-in user. */
export function capaActionsFor(
  capa: Pick<CapaView, 'status' | 'verification'>,
  role: string | null | undefined,
  signer = true,
): CapaActionName[] {
  return CAPA_ACTION_ORDER.filter(
    (a) =>
      capaStateAllows(capa, a) &&
      hasRole(role, CAPA_ACTION_ROLES[a]) &&
      (signer || !SIGNING.has(a)),
  )
}

/** The signing steps of a CAPA a role could do in its state but not without a signed-in user. */
export function capaSigningLost(
  capa: Pick<CapaView, 'status' | 'verification'>,
  role: string | null | undefined,
  signer: boolean,
): string[] {
  if (signer) return []
  return capaActionsFor(capa, role)
    .filter((a) => SIGNING.has(a))
    .map((a) => CAPA_DOING[a])
}

export function capaRoleNote(
  capa: Pick<CapaView, 'status' | 'verification'>,
  role: string | null | undefined,
): string | null {
  const lacking = CAPA_ACTION_ORDER.filter(
    (a) => capaStateAllows(capa, a) && !hasRole(role, CAPA_ACTION_ROLES[a]),
  )
  return lackingNote(
    lacking.map((a) => ({ doing: CAPA_DOING[a], needs: CAPA_ACTION_ROLES[a] })),
    role,
    'this CAPA',
  )
}

// ---- words --------------------------------------------------------------------------------------

export const NC_STATUS_WORDS: Record<NcWorkflowStatus, string> = {
  open: 'Open',
  investigating: 'Investigating',
  dispositioned: 'Dispositioned',
  closed: 'Closed',
}

export const CAPA_STATUS_WORDS: Record<CapaStatus, string> = {
  open: 'Open',
  implemented: 'Implemented',
  verified: 'Verified',
  approved: 'Approved',
  closed: 'Closed',
}

export const SEVERITY_WORDS: Record<NcSeverity, string> = {
  minor: 'Minor',
  major: 'Major',
  critical: 'Critical',
}

export const DECISION_WORDS: Record<DispositionDecision, string> = {
  'use-as-is': 'Use as is',
  rework: 'Rework',
  scrap: 'Scrap',
  'return-to-supplier': 'Return to supplier',
}

/** The 6M categories as an Ishikawa diagram names them. */
export const FISHBONE_WORDS: Record<FishboneCategory, string> = {
  man: 'Man (people)',
  machine: 'Machine',
  method: 'Method',
  material: 'Material',
  measurement: 'Measurement',
  environment: 'Environment (mother nature)',
}

export const MEANING_WORDS: Record<SignatureMeaning, string> = {
  reviewed: 'reviewed',
  approved: 'approved',
  closed: 'closed',
}

// ---- numbers, times -----------------------------------------------------------------------------

/** "NC-000042" for 42 (the gateway's human number). */
export function ncNumber(id: number): string {
  return `NC-${String(id).padStart(6, '0')}`
}

/** The numeric id of "NC-000042" (or "42"), or null when it is not one. */
export function ncIdOf(text: string): number | null {
  const m = /^\s*(?:NC-)?0*([1-9][0-9]{0,15})\s*$/i.exec(text)
  return m ? Number(m[1]) : null
}

/** "CAPA-000007" for 7, "CAPA-000007" as it is; null for anything else. */
export function capaNumber(text: string | number): string | null {
  const m = /^\s*(?:CAPA-)?0*([1-9][0-9]{0,15})\s*$/i.exec(String(text))
  return m ? `CAPA-${String(m[1]).padStart(6, '0')}` : null
}

/** A duration in days with one decimal ("3.5 days", "1.0 day"); "—" for none. */
export function formatDays(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  const days = (ms / DAY_MS).toFixed(1)
  return `${days} ${days === '1.0' ? 'day' : 'days'}`
}

/** A share 0–1 as "12.5 %"; "—" for none. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—'
  return `${(rate * 100).toFixed(1)} %`
}

/** An index (Cpk, Ppk) with two decimals; "—" when it could not be computed. */
export function formatIndex(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  return x < 0 ? `\u2212${(-x).toFixed(2)}` : x.toFixed(2)
}

/** A time in UTC to the second, "2026-12-06 14:03:11 UTC" (as signature manifests print it). */
export function formatUtc(ts: number): string {
  if (!Number.isFinite(ts)) return '—'
  const iso = new Date(ts).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`
}

/** A date ("2026-12-06"), local unless a time zone is given. */
export function formatDate(ts: number, timeZone?: string): string {
  return formatDateTime(ts, timeZone).slice(0, 10)
}

/** A date and time to the minute ("2026-12-06 14:03"), local unless a time zone is given. */
export function formatMinute(ts: number, timeZone?: string): string {
  return formatDateTime(ts, timeZone).slice(0, 16)
}

/**
 * A due date with what it means now: "2026-12-13 17:00 · in 3 days", "… · overdue by 2 days",
 * "… · overdue" within the first day; "—" without one. `overdue` is the gateway's word.
 */
export function dueText(
  dueAt: number | null | undefined,
  overdue: boolean,
  now: number,
  timeZone?: string,
): string {
  if (dueAt === null || dueAt === undefined) return '—'
  const when = formatMinute(dueAt, timeZone)
  const days = Math.floor(Math.abs(now - dueAt) / DAY_MS)
  const plural = (n: number) => `${n} ${n === 1 ? 'day' : 'days'}`
  if (overdue) return days === 0 ? `${when} · overdue` : `${when} · overdue by ${plural(days)}`
  if (dueAt <= now) return when
  return days === 0 ? `${when} · due today` : `${when} · in ${plural(days)}`
}

/**
 * The value of an `<input type="datetime-local">` ("2026-12-13T17:00", seconds optional) as UTC
 * milliseconds, read in the browser's zone or in UTC; null when it is not one.
 */
export function dateTimeInputToMs(value: string, zone: 'local' | 'utc' = 'local'): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim())
  if (!m) return null
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as number[]
  if (
    (mo as number) < 1 ||
    (mo as number) > 12 ||
    (d as number) < 1 ||
    (d as number) > 31 ||
    (h as number) > 23 ||
    (mi as number) > 59 ||
    (s as number) > 59
  )
    return null
  const args = [y, (mo as number) - 1, d, h, mi, s] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const ms = zone === 'utc' ? Date.UTC(...args) : new Date(...args).getTime()
  return Number.isFinite(ms) ? ms : null
}

/** The `datetime-local` value of a time ("2026-12-13T17:00"), in the browser's zone or in UTC. */
export function msToDateTimeInput(ms: number, zone: 'local' | 'utc' = 'local'): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  if (zone === 'utc') {
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`
  }
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

/** The value of an `<input type="date">` ("2026-12-13") as the start of that day, or null. */
export function dateInputToMs(value: string, zone: 'local' | 'utc' = 'local'): number | null {
  return /^\d{4}-\d{2}-\d{2}$/.test(value.trim())
    ? dateTimeInputToMs(`${value.trim()}T00:00`, zone)
    : null
}

export function msToDateInput(ms: number, zone: 'local' | 'utc' = 'local'): string {
  return msToDateTimeInput(ms, zone).slice(0, 10)
}

/** Non-blank lines (or comma-separated items when `commas`), trimmed. */
export function lines(text: string, commas = false): string[] {
  return text
    .split(commas ? /[\n,]/ : /\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

// ---- forms --------------------------------------------------------------------------------------

/** The values of a form's fields by name (strings as the inputs hold them). */
export type FormValues = Readonly<Record<string, string | undefined>>

export type Built<T> = { body: T } | { problem: string }

/** What is wrong with a reason (every change needs one: at least 3 characters), or null. */
export function reasonProblem(reason: string | undefined): string | null {
  const problem = reasonRequired(reason ?? '')
  return problem === null ? null : `${problem[0]?.toUpperCase()}${problem.slice(1)}.`
}

const v = (values: FormValues, name: string) => (values[name] ?? '').trim()

function ownerAndDue(
  values: FormValues,
  now: number,
  zone: 'local' | 'utc',
): { owner: string; dueAt: number } | { problem: string } {
  const owner = v(values, 'owner')
  if (owner === '') return { problem: 'An owner is required.' }
  const dueAt = dateTimeInputToMs(v(values, 'dueAt'), zone)
  if (dueAt === null) return { problem: 'A due date is required.' }
  if (dueAt <= now) return { problem: 'The due date must be in the future.' }
  return { owner, dueAt }
}

export type NcActionBody = { action: NcActionName | 'sign'; reason?: string } & Record<
  string,
  unknown
>

/**
 * The body of an NC action from its form, or what is wrong with the form (caught before it is
 * sent; the gateway judges again). The signature of `close` is added by the signature dialog.
 */
export function buildNcAction(
  action: NcActionName | 'sign',
  values: FormValues,
  now: number,
  zone: 'local' | 'utc' = 'local',
): Built<NcActionBody> {
  if (action === 'comment') {
    const text = v(values, 'text')
    return text === '' ? { problem: 'A comment needs its text.' } : { body: { action, text } }
  }
  const reason = v(values, 'reason')
  const wrong = reasonProblem(reason)
  if (wrong !== null) return { problem: wrong }
  switch (action) {
    case 'investigate':
    case 'assign': {
      const od = ownerAndDue(values, now, zone)
      if ('problem' in od) return od
      const severity = v(values, 'severity')
      if (severity !== '' && !NC_SEVERITIES.includes(severity as NcSeverity))
        return { problem: `Choose a severity: ${NC_SEVERITIES.join(', ')}.` }
      return {
        body: {
          action,
          reason,
          owner: od.owner,
          dueAt: od.dueAt,
          ...(action === 'investigate' && severity !== '' ? { severity } : {}),
        },
      }
    }
    case 'set-severity': {
      const severity = v(values, 'severity')
      if (!NC_SEVERITIES.includes(severity as NcSeverity))
        return { problem: `Choose a severity: ${NC_SEVERITIES.join(', ')}.` }
      return { body: { action, reason, severity } }
    }
    case 'containment': {
      const text = v(values, 'text')
      if (text === '') return { problem: 'Describe the containment action.' }
      return { body: { action, reason, text } }
    }
    case 'root-cause': {
      const whys = Array.from({ length: MAX_WHYS }, (_, i) => v(values, `why${i + 1}`)).filter(
        (w) => w !== '',
      )
      const fishbone: Partial<Record<FishboneCategory, string[]>> = {}
      for (const c of FISHBONE_CATEGORIES) {
        const causes = lines(values[`fishbone-${c}`] ?? '')
        if (causes.length > 0) fishbone[c] = causes
      }
      if (whys.length === 0 && Object.keys(fishbone).length === 0)
        return { problem: 'A root cause needs at least one why or one fishbone cause.' }
      return { body: { action, reason, whys, fishbone } }
    }
    case 'affected-lots': {
      const lots = [...new Set(lines(values.lots ?? '', true))]
      return { body: { action, reason, lots } }
    }
    case 'disposition': {
      const decision = v(values, 'decision')
      if (!DISPOSITION_DECISIONS.includes(decision as DispositionDecision))
        return { problem: 'Choose a decision.' }
      const justification = v(values, 'justification')
      if (justification === '') return { problem: 'A disposition needs a justification.' }
      return { body: { action, reason, decision, justification } }
    }
    case 'link-capa': {
      const capa = capaNumber(v(values, 'capa'))
      if (capa === null) return { problem: 'Choose the CAPA to link.' }
      return { body: { action, reason, capa } }
    }
    case 'close':
    case 'reopen':
      return { body: { action, reason } }
    case 'sign': {
      const meaning = v(values, 'meaning')
      if (meaning !== 'reviewed' && meaning !== 'approved')
        return { problem: 'Choose what the signature means: reviewed or approved.' }
      return { body: { action, reason, meaning } }
    }
  }
}

export type CapaActionBody = { action: CapaActionName; reason?: string } & Record<string, unknown>

/** The body of a CAPA action from its form, or what is wrong with it. */
export function buildCapaAction(
  action: CapaActionName,
  values: FormValues,
  now: number,
  zone: 'local' | 'utc' = 'local',
): Built<CapaActionBody> {
  if (action === 'comment') {
    const text = v(values, 'text')
    return text === '' ? { problem: 'A comment needs its text.' } : { body: { action, text } }
  }
  const reason = v(values, 'reason')
  const wrong = reasonProblem(reason)
  if (wrong !== null) return { problem: wrong }
  switch (action) {
    case 'implement': {
      const implementedAt = dateTimeInputToMs(v(values, 'implementedAt'), zone)
      if (implementedAt === null) return { problem: 'When was it implemented?' }
      // The input holds minutes: "now" typed in is up to a minute ahead of the clock's seconds.
      if (implementedAt > now) return { problem: 'The implementation cannot be in the future.' }
      return { body: { action, reason, implementedAt } }
    }
    case 'verify': {
      const effective = v(values, 'effective')
      if (effective !== 'yes' && effective !== 'no')
        return { problem: 'Say whether the action was effective.' }
      const notes = v(values, 'notes')
      if (notes === '') return { problem: 'A verification needs its notes.' }
      return { body: { action, reason, effective: effective === 'yes', notes } }
    }
    case 'assign': {
      const od = ownerAndDue(values, now, zone)
      if ('problem' in od) return od
      return { body: { action, reason, owner: od.owner, dueAt: od.dueAt } }
    }
    case 'link-nc': {
      const id = ncIdOf(v(values, 'nc'))
      if (id === null) return { problem: 'Give the NC to link (e.g. NC-000042).' }
      return { body: { action, reason, nc: ncNumber(id) } }
    }
    case 'approve':
    case 'close':
      return { body: { action, reason } }
  }
}

export interface CapaPlanBody {
  title: string
  kind: 'corrective' | 'preventive'
  owner: string
  dueAt: number
  ncs: string[]
  reason: string
}

/** A new CAPA answering `nc` (its number), from the "New CAPA…" form. */
export function buildCapaPlan(
  values: FormValues,
  nc: string,
  now: number,
  zone: 'local' | 'utc' = 'local',
): Built<CapaPlanBody> {
  const title = v(values, 'title')
  if (title === '') return { problem: 'A CAPA needs a title.' }
  const kind = v(values, 'kind')
  if (kind !== 'corrective' && kind !== 'preventive')
    return { problem: 'Choose corrective or preventive.' }
  const od = ownerAndDue(values, now, zone)
  if ('problem' in od) return od
  const reason = v(values, 'reason')
  const wrong = reasonProblem(reason)
  if (wrong !== null) return { problem: wrong }
  return { body: { title, kind, owner: od.owner, dueAt: od.dueAt, ncs: [nc], reason } }
}

/** What the person is told when an action was refused, by the gateway's status. */
export function actionFailureText(status: number, message: string): string {
  if (status === 401) return `Not signed: ${message}`
  if (status === 403) return `Not allowed: ${message}`
  if (status === 409) return `Not done: ${message}`
  if (status === 400) return `Not accepted: ${message}`
  if (status === 404) return 'Not done: the record was not found.'
  if (status === 413) return 'Not accepted: the file is larger than 10 MiB.'
  if (status === 0) return 'The gateway cannot be reached: nothing was changed.'
  return `Failed (${status}): ${message}`
}

// ---- the NC list --------------------------------------------------------------------------------

export type NcStatusFilter = 'not-closed' | 'all' | NcWorkflowStatus

export interface NcListFilter {
  status: NcStatusFilter
  /** Exactly this owner ('' for any). */
  owner: string
  overdue: boolean
  /** This characteristic's NCs only (its id; absent or '' for every characteristic). */
  characteristic?: string
}

export const NC_LIST_FILTER: NcListFilter = { status: 'not-closed', owner: '', overdue: false }

export const NC_STATUS_FILTERS: readonly { value: NcStatusFilter; label: string }[] = [
  { value: 'not-closed', label: 'Not closed' },
  { value: 'open', label: 'Open' },
  { value: 'investigating', label: 'Investigating' },
  { value: 'dispositioned', label: 'Dispositioned' },
  { value: 'closed', label: 'Closed' },
  { value: 'all', label: 'All' },
]

function statusesOf(filter: NcStatusFilter): readonly NcWorkflowStatus[] | null {
  if (filter === 'all') return null
  if (filter === 'not-closed') return NC_STATUSES.filter((s) => s !== 'closed')
  return [filter]
}

/** The query of GET /api/nonconformances for a filter (absent keys are not sent). */
export function ncListQuery(
  filter: NcListFilter,
  limit = 500,
): Record<string, string | number | undefined> {
  const statuses = statusesOf(filter.status)
  const owner = filter.owner.trim()
  return {
    status: statuses === null ? undefined : statuses.join(','),
    owner: owner === '' ? undefined : owner,
    overdue: filter.overdue ? 'true' : undefined,
    characteristic: filter.characteristic || undefined,
    limit,
  }
}

/** An NC summary with its workflow (status, severity, owner, due date, overdue). */
export type NcListItem = NonconformanceSummary

/** The NC's workflow status. */
export function ncStatusOf(nc: Pick<NcListItem, 'workflow'>): NcWorkflowStatus {
  return nc.workflow.status
}

export function matchesNcFilter(nc: NcListItem, filter: NcListFilter): boolean {
  const statuses = statusesOf(filter.status)
  if (statuses !== null && !statuses.includes(ncStatusOf(nc))) return false
  const owner = filter.owner.trim()
  if (owner !== '' && (nc.workflow.owner ?? '') !== owner) return false
  if (filter.overdue && !nc.workflow.overdue) return false
  if (filter.characteristic && nc.characteristic !== filter.characteristic) return false
  return true
}

/** Not closed first, then overdue first, then the most recently active (last occurrence, number). */
export function orderNcList(list: readonly NcListItem[]): NcListItem[] {
  return [...list].sort(
    (a, b) =>
      Number(ncStatusOf(a) === 'closed') - Number(ncStatusOf(b) === 'closed') ||
      Number(b.workflow.overdue) - Number(a.workflow.overdue) ||
      b.lastAt - a.lastAt ||
      b.id - a.id,
  )
}

/**
 * Live `nc` events applied to the list: an NC that matches the filter replaces the one with its
 * id or is added; one that no longer matches leaves. An event older than what is held (by its
 * last occurrence) is ignored only when it would undo a workflow change.
 */
export function applyNcListEvents(
  list: readonly NcListItem[],
  events: readonly NcEvent[],
  filter: NcListFilter,
): NcListItem[] {
  const byId = new Map(list.map((nc) => [nc.id, nc]))
  for (const { nc } of events) {
    const held = byId.get(nc.id)
    if (held && held.lastAt > nc.lastAt) continue
    if (matchesNcFilter(nc, filter)) byId.set(nc.id, nc)
    else byId.delete(nc.id)
  }
  return orderNcList([...byId.values()])
}

// ---- the NC page --------------------------------------------------------------------------------

/** An NC as GET /api/nonconformances/:id sends it: with its whole workflow. */
export type NcDetail = NonconformanceView
export type { NcWorkflowView }

/** The note shown with a signature that no longer holds (§11.70). */
export function signatureNote(s: Pick<SignatureView, 'holds' | 'meaning'>): string | null {
  return s.holds
    ? null
    : `This signature (${s.meaning}) does not hold: the record changed after it was signed; it signed an earlier version.`
}

/** "report.pdf · 1.2 MiB · application/pdf". */
export function attachmentText(a: Pick<AttachmentView, 'name' | 'size' | 'contentType'>): string {
  return `${a.name} · ${formatBytes(a.size)} · ${a.contentType}`
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** Attachments are at most this large (the gateway's limit). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

/** What is wrong with a file to attach, or null. */
export function attachmentProblem(file: { name: string; size: number } | null): string | null {
  if (file === null) return 'Choose a file first.'
  if (!/^[A-Za-z0-9][A-Za-z0-9._ ()-]{0,127}$/.test(file.name))
    return `The file name "${file.name}" cannot be kept: rename it to 1–128 letters, digits, spaces, . _ - ( ), starting with a letter or digit.`
  if (file.size > MAX_ATTACHMENT_BYTES)
    return `The file is ${formatBytes(file.size)}: at most 10 MiB may be attached.`
  return null
}

/** The path of a record's history export ("nonconformances/42/history.csv"). */
export function historyPath(
  kind: 'nc' | 'capa',
  id: number | string,
  format: 'csv' | 'pdf',
): string {
  const base = kind === 'nc' ? 'nonconformances' : 'capas'
  return `${base}/${encodeURIComponent(String(id))}/history.${format}`
}

/** The file name of a download from its path ("history.csv" of NC 42 → "NC-000042-history.csv"). */
export function downloadName(kind: 'nc' | 'capa', id: number | string, format: string): string {
  const label = kind === 'nc' ? ncNumber(Number(id)) : (capaNumber(id) ?? String(id))
  return `${label}-history.${format}`
}

// ---- audit trail --------------------------------------------------------------------------------

/**
 * What an audit entry changed, one line per field (rules/quality/audit-changes.ts), values longer
 * than 160 characters cut.
 */
export function auditChanges(entry: Pick<AuditEntryView, 'before' | 'after'>): string[] {
  return auditChangeLines(entry, { maxLength: 160 })
}

// ---- CAPA ---------------------------------------------------------------------------------------

export interface EffectivenessRow {
  key: 'window' | 'n' | 'cpk' | 'ppk' | 'ncs'
  label: string
  before: string
  after: string
}

/** The figures of an effectiveness check, before beside after. */
export function effectivenessRows(e: Effectiveness, timeZone?: string): EffectivenessRow[] {
  const window = (w: { from: number; to: number }) =>
    `${formatMinute(w.from, timeZone)} – ${formatMinute(w.to, timeZone)}`
  return [
    {
      key: 'window',
      label: 'Window',
      before: window(e.window.before),
      after: window(e.window.after),
    },
    { key: 'n', label: 'Readings (n)', before: String(e.before.n), after: String(e.after.n) },
    {
      key: 'cpk',
      label: 'Cpk',
      before: formatIndex(e.before.cpk),
      after: formatIndex(e.after.cpk),
    },
    {
      key: 'ppk',
      label: 'Ppk',
      before: formatIndex(e.before.ppk),
      after: formatIndex(e.after.ppk),
    },
    {
      key: 'ncs',
      label: 'NCs per day',
      before: `${e.before.ncsPerDay.toFixed(2)} (${e.before.ncs})`,
      after: `${e.after.ncsPerDay.toFixed(2)} (${e.after.ncs})`,
    },
  ]
}

/** The CAPA list's query (status '' for every status). */
export function capaListQuery(status: CapaStatus | ''): Record<string, string | undefined> {
  return { status: status === '' ? undefined : status }
}

/** Open CAPAs first (by due date, soonest first), then the rest, newest first. */
export function orderCapas(list: readonly CapaView[]): CapaView[] {
  return [...list].sort((a, b) => {
    const ca = Number(a.status === 'closed')
    const cb = Number(b.status === 'closed')
    if (ca !== cb) return ca - cb
    if (ca === 0 && a.dueAt !== b.dueAt) return a.dueAt - b.dueAt
    return b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  })
}

/** CAPAs a NC may still be linked to: not closed and not linked already. */
export function linkableCapas(list: readonly CapaView[], linked: readonly string[]): CapaView[] {
  return orderCapas(list.filter((c) => c.status !== 'closed' && !linked.includes(c.id)))
}

// ---- quality KPIs -------------------------------------------------------------------------------

/** The role GET /api/quality/kpis needs (the gateway's route). */
export const QUALITY_KPI_ROLE: UserRole = 'quality-engineer'

export const QUALITY_KPI_RANGES = [
  { key: '7d', label: 'Last 7 days', ms: 7 * DAY_MS },
  { key: '30d', label: 'Last 30 days', ms: 30 * DAY_MS },
  { key: '90d', label: 'Last 90 days', ms: 90 * DAY_MS },
  { key: '365d', label: 'Last 365 days', ms: 365 * DAY_MS },
] as const

export type QualityRangeKey = (typeof QUALITY_KPI_RANGES)[number]['key']

/** [from, to) of a preset range ending now. */
export function qualityKpiRange(key: QualityRangeKey, now: number): { from: number; to: number } {
  const r = QUALITY_KPI_RANGES.find((x) => x.key === key) ?? QUALITY_KPI_RANGES[1]
  return { from: now - r.ms, to: now }
}

/**
 * [from, to) of a range given by two dates ("2026-11-01", "2026-11-30": the last day included),
 * or what is wrong with them.
 */
export function customKpiRange(
  fromDate: string,
  toDate: string,
  zone: 'local' | 'utc' = 'local',
): { from: number; to: number } | { problem: string } {
  const from = dateInputToMs(fromDate, zone)
  const toStart = dateInputToMs(toDate, zone)
  if (from === null || toStart === null) return { problem: 'Give both dates.' }
  // The end of the last day: the start of the next (a day is 23 or 25 hours at a DST change).
  const next = new Date(toStart)
  if (zone === 'utc') next.setUTCDate(next.getUTCDate() + 1)
  else next.setDate(next.getDate() + 1)
  const to = next.getTime()
  if (to <= from) return { problem: 'The first date must not be after the last.' }
  return { from, to }
}

export interface ParetoBar {
  name: string
  count: number
  x: number
  width: number
  y: number
  height: number
  /** The cumulative line's point above the bar's centre. */
  cx: number
  cy: number
  cumulativePercent: number
}

/**
 * The geometry of a Pareto chart in a plot `width` × `height` (y down): one band per row, its
 * bar 70 % of the band wide and as tall as its share of the total (so the left axis runs from 0
 * to the total and the right one from 0 to 100 %), and the cumulative line's point at the
 * band's centre.
 */
export function paretoBars(
  rows: readonly { name: string; count: number; cumulativePercent: number }[],
  width: number,
  height: number,
): ParetoBar[] {
  const total = rows.reduce((s, r) => s + r.count, 0)
  if (rows.length === 0 || total <= 0) return []
  const band = width / rows.length
  return rows.map((r, i) => {
    const h = (r.count / total) * height
    return {
      name: r.name,
      count: r.count,
      x: i * band + band * 0.15,
      width: band * 0.7,
      y: height - h,
      height: h,
      cx: i * band + band / 2,
      cy: height - (r.cumulativePercent / 100) * height,
      cumulativePercent: r.cumulativePercent,
    }
  })
}

/** A percentage 0–100 as "62.5 %". */
export function percentWords(p: number): string {
  return Number.isFinite(p) ? `${p.toFixed(1)} %` : '—'
}

// ---- sign-in ------------------------------------------------------------------------------------

/** "45 s", "3 min": how long to wait, from a Retry-After in seconds. */
export function waitWords(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`
  return `${Math.round(seconds / 60)} min`
}

/**
 * What a refused sign-in says: the gateway's own words (a wrong name or password, never which of
 * the two; a lock says until when), with the wait of a 429's Retry-After.
 */
export function signInFailureText(
  status: number,
  message: string,
  retryAfter: number | null,
): string {
  if (status === 401) return message || 'Wrong user name or password.'
  if (status === 429) {
    const retry = retryAfter === null ? '' : ` (try again in ${waitWords(retryAfter)})`
    return `${message || 'Sign-in is locked after repeated failures.'}${retry}`
  }
  if (status === 400) return message
  if (status === 0) return 'The gateway cannot be reached.'
  return `Sign-in failed (${status}): ${message}`
}

/** What is wrong with a new password before it is sent (the gateway checks its own rules too). */
export function newPasswordProblem(current: string, next: string, repeated: string): string | null {
  if (current === '') return 'Give your current password.'
  if (next === '') return 'Give the new password.'
  if (next !== repeated) return 'The new password and its repetition differ.'
  if (next === current) return 'The new password must differ from the current one.'
  return null
}

/** A number that changes whenever a record's JSON does (a 32-bit string hash, not a digest). */
export function versionOf(record: unknown): number {
  const text = JSON.stringify(record) ?? ''
  let h = 0
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0
  return h
}
