import { DAY_MS } from '../time-text.ts'
import {
  type Actor,
  type FieldChange,
  filled,
  type Refusal,
  reasonRequired,
  refuse,
  roleRefusal,
  type UserRole,
} from './roles.ts'

/**
 * The nonconformance workflow (issue 9) as a pure state machine:
 *
 *   open → investigating → dispositioned → closed,   closed → investigating (reopen, a reason)
 *
 * `applyNcAction(nc, action, actor, at)` gives the new case and the fields it changed (for the
 * audit trail), or a refusal with the HTTP status to answer: 403 when the role may not do it,
 * 409 when the state does not allow it, 400 when the action is incomplete. They are judged in
 * that order: who may act, then whether the record allows it, then what was sent.
 *
 * What each state allows (comment is allowed in every state and changes no state):
 *
 *   open           investigate (→ investigating), assign, set-severity, containment,
 *                  affected-lots, link-capa. Containment starts at once, before an
 *                  investigation does.
 *   investigating  assign, set-severity, containment, root-cause, affected-lots, link-capa,
 *                  disposition (→ dispositioned; needs a root cause and a justification)
 *   dispositioned  the same (a disposition again replaces the earlier one, still dispositioned),
 *                  and close (→ closed)
 *   closed         reopen (→ investigating) only: a closed record is not edited. Its root cause
 *                  and disposition are kept (they happened); a new disposition is needed to close
 *                  it again.
 *
 * Roles: comment needs operator; close and reopen quality-manager; everything else
 * quality-engineer (and admin may do all). The closing signature is checked by the gateway
 * (it binds `signedNcContent` with the meaning `closed`); here only the role is.
 *
 * An action that changes nothing (the same owner and due date again) is applied with no
 * changes. The case is plain JSON and never changed in place.
 */

export type NcStatus = 'open' | 'investigating' | 'dispositioned' | 'closed'
export const NC_STATUSES: readonly NcStatus[] = ['open', 'investigating', 'dispositioned', 'closed']

export type NcSeverity = 'minor' | 'major' | 'critical'
export const NC_SEVERITIES: readonly NcSeverity[] = ['minor', 'major', 'critical']

/** The 6M categories of an Ishikawa (fishbone) diagram. */
export type FishboneCategory =
  | 'man'
  | 'machine'
  | 'method'
  | 'material'
  | 'measurement'
  | 'environment'
export const FISHBONE_CATEGORIES: readonly FishboneCategory[] = [
  'man',
  'machine',
  'method',
  'material',
  'measurement',
  'environment',
]

export type DispositionDecision = 'use-as-is' | 'rework' | 'scrap' | 'return-to-supplier'
export const DISPOSITION_DECISIONS: readonly DispositionDecision[] = [
  'use-as-is',
  'rework',
  'scrap',
  'return-to-supplier',
]

/** The 5 Whys ask at most five times. */
export const MAX_WHYS = 5

export interface RootCause {
  /** The 5 Whys in order, the last the root cause; at most MAX_WHYS. */
  whys: string[]
  /** Causes by 6M category; every category present (empty when nothing was found there). */
  fishbone: Record<FishboneCategory, string[]>
}

export interface NcCase {
  status: NcStatus
  severity: NcSeverity | null
  owner: string | null
  /** UTC milliseconds. */
  dueAt: number | null
  containment: string[]
  rootCause: RootCause | null
  /** Subgroup (lot) ids of the affected readings. */
  affectedLots: string[]
  disposition: { decision: DispositionDecision; justification: string } | null
  /** Ids of the linked CAPAs. */
  capas: string[]
  closedAt: number | null
  /** Times the NC was reopened. */
  reopened: number
}

export type NcAction =
  | { action: 'investigate'; owner: string; dueAt: number; severity?: NcSeverity | undefined }
  | { action: 'assign'; owner: string; dueAt: number }
  | { action: 'set-severity'; severity: NcSeverity }
  | { action: 'containment'; text: string }
  | {
      action: 'root-cause'
      whys: string[]
      /** Categories left out are empty. */
      fishbone: Partial<Record<FishboneCategory, string[]>>
    }
  | { action: 'affected-lots'; lots: string[] }
  | { action: 'disposition'; decision: DispositionDecision; justification: string }
  | { action: 'close' }
  | { action: 'reopen'; reason: string }
  | { action: 'comment'; text: string }
  | { action: 'link-capa'; capa: string }

export type NcActionName = NcAction['action']

export const NC_ACTIONS: readonly NcActionName[] = [
  'investigate',
  'assign',
  'set-severity',
  'containment',
  'root-cause',
  'affected-lots',
  'disposition',
  'close',
  'reopen',
  'comment',
  'link-capa',
]

export type NcActionResult = { nc: NcCase; changes: FieldChange[] } | Refusal

/** The role each action needs. */
export const NC_ACTION_ROLES: Readonly<Record<NcActionName, UserRole>> = {
  investigate: 'quality-engineer',
  assign: 'quality-engineer',
  'set-severity': 'quality-engineer',
  containment: 'quality-engineer',
  'root-cause': 'quality-engineer',
  'affected-lots': 'quality-engineer',
  disposition: 'quality-engineer',
  close: 'quality-manager',
  reopen: 'quality-manager',
  comment: 'operator',
  'link-capa': 'quality-engineer',
}

/** The states each action is allowed in. */
export const NC_ACTION_STATES: Readonly<Record<NcActionName, readonly NcStatus[]>> = {
  investigate: ['open'],
  assign: ['open', 'investigating', 'dispositioned'],
  'set-severity': ['open', 'investigating', 'dispositioned'],
  containment: ['open', 'investigating', 'dispositioned'],
  'root-cause': ['investigating', 'dispositioned'],
  'affected-lots': ['open', 'investigating', 'dispositioned'],
  disposition: ['investigating', 'dispositioned'],
  close: ['dispositioned'],
  reopen: ['closed'],
  comment: ['open', 'investigating', 'dispositioned', 'closed'],
  'link-capa': ['open', 'investigating', 'dispositioned'],
}

/** The act in words: for "closing an NC needs …" and "cannot close an NC that is …". */
const WORDS: Record<NcActionName, { doing: string; verb: string }> = {
  investigate: { doing: 'investigating an NC', verb: 'investigate' },
  assign: { doing: 'assigning an NC', verb: 'assign' },
  'set-severity': { doing: 'setting the severity of an NC', verb: 'set the severity of' },
  containment: { doing: 'recording containment on an NC', verb: 'record containment on' },
  'root-cause': { doing: 'recording the root cause of an NC', verb: 'record the root cause of' },
  'affected-lots': { doing: 'recording the lots an NC affects', verb: 'record the lots of' },
  disposition: { doing: 'dispositioning an NC', verb: 'disposition' },
  close: { doing: 'closing an NC', verb: 'close' },
  reopen: { doing: 'reopening an NC', verb: 'reopen' },
  comment: { doing: 'commenting on an NC', verb: 'comment on' },
  'link-capa': { doing: 'linking a CAPA to an NC', verb: 'link a CAPA to' },
}

/** What to do instead, for an action the state does not allow. */
function stateHint(action: NcActionName, status: NcStatus): string {
  if (action === 'reopen') return 'only a closed NC can be reopened'
  if (status === 'closed') return action === 'investigate' ? 'reopen it instead' : 'reopen it first'
  if (action === 'investigate') {
    return status === 'investigating'
      ? 'it is already being investigated'
      : 'it has already been investigated'
  }
  if (action === 'close') {
    return status === 'open' ? 'investigate and disposition it first' : 'disposition it first'
  }
  return 'investigate it first' // root-cause, disposition on an open NC
}

/** The case a new NC starts with. */
export function newNcCase(): NcCase {
  return {
    status: 'open',
    severity: null,
    owner: null,
    dueAt: null,
    containment: [],
    rootCause: null,
    affectedLots: [],
    disposition: null,
    capas: [],
    closedAt: null,
    reopened: 0,
  }
}

const copy = <T>(x: T): T => structuredClone(x)

/** Equal as JSON (the values here are plain JSON). */
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The new case from `nc` and the fields set, with a change for each that differs. */
function applied(nc: NcCase, set: Partial<NcCase>): { nc: NcCase; changes: FieldChange[] } {
  const next = copy(nc)
  const changes: FieldChange[] = []
  for (const [field, after] of Object.entries(set) as [keyof NcCase, unknown][]) {
    if (same(nc[field], after)) continue
    changes.push({ field, before: copy(nc[field]), after: copy(after) })
    ;(next as unknown as Record<string, unknown>)[field] = copy(after)
  }
  return { nc: next, changes }
}

const bad = (why: string): Refusal => refuse(400, why)

/** The owner and due date of an investigation or an assignment: the problem, or null. */
function ownerProblem(owner: unknown, dueAt: unknown, at: number): Refusal | null {
  if (!filled(owner)) return bad('an owner is required')
  if (typeof dueAt !== 'number' || !Number.isFinite(dueAt)) {
    return bad('a due date (UTC milliseconds) is required')
  }
  if (dueAt <= at) return bad('the due date must be later than the time of the action')
  return null
}

function isSeverity(x: unknown): x is NcSeverity {
  return NC_SEVERITIES.includes(x as NcSeverity)
}

function severityProblem(x: unknown): Refusal {
  return bad(`the severity must be one of ${NC_SEVERITIES.join(', ')} (not ${String(x)})`)
}

/** Trimmed non-blank strings, or null when the value is not an array of them. */
function texts(x: unknown): string[] | null {
  if (!Array.isArray(x) || !x.every(filled)) return null
  return x.map((s) => s.trim())
}

function rootCauseOf(action: {
  whys?: unknown
  fishbone?: unknown
}): { rootCause: RootCause } | Refusal {
  const whys = texts(action.whys ?? [])
  if (whys === null) return bad('each why must be a non-empty text')
  if (whys.length > MAX_WHYS) {
    return bad(`the 5 Whys have at most ${MAX_WHYS} whys (not ${whys.length})`)
  }
  const given = action.fishbone ?? {}
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    return bad('the fishbone must be an object of causes by category')
  }
  const fishbone = Object.fromEntries(
    FISHBONE_CATEGORIES.map((c) => [c, [] as string[]]),
  ) as Record<FishboneCategory, string[]>
  for (const [category, causes] of Object.entries(given)) {
    if (!FISHBONE_CATEGORIES.includes(category as FishboneCategory)) {
      return bad(`${category} is not one of the 6M categories (${FISHBONE_CATEGORIES.join(', ')})`)
    }
    const list = texts(causes)
    if (list === null) return bad(`the ${category} causes must be non-empty texts`)
    fishbone[category as FishboneCategory] = list
  }
  const found = whys.length + FISHBONE_CATEGORIES.reduce((n, c) => n + fishbone[c].length, 0)
  if (found === 0) return bad('a root cause needs at least one why or one fishbone cause')
  return { rootCause: { whys, fishbone } }
}

/**
 * Applies one action to the case (see the module comment). `at` is the time of the action (UTC
 * milliseconds), used for the due-date check and `closedAt`.
 */
export function applyNcAction(
  nc: NcCase,
  action: NcAction,
  actor: Actor,
  at: number,
): NcActionResult {
  const name = action.action
  if (!NC_ACTIONS.includes(name)) {
    return bad(`unknown action ${String(name)}; the actions are ${NC_ACTIONS.join(', ')}`)
  }
  const { doing, verb } = WORDS[name]
  const denied = roleRefusal(actor, NC_ACTION_ROLES[name], doing)
  if (denied !== null) return denied
  if (!NC_ACTION_STATES[name].includes(nc.status)) {
    return refuse(409, `cannot ${verb} an NC that is ${nc.status}: ${stateHint(name, nc.status)}`)
  }

  switch (action.action) {
    case 'investigate': {
      const problem = ownerProblem(action.owner, action.dueAt, at)
      if (problem !== null) return problem
      if (action.severity !== undefined && !isSeverity(action.severity)) {
        return severityProblem(action.severity)
      }
      return applied(nc, {
        status: 'investigating',
        owner: action.owner.trim(),
        dueAt: action.dueAt,
        ...(action.severity === undefined ? {} : { severity: action.severity }),
      })
    }
    case 'assign': {
      const problem = ownerProblem(action.owner, action.dueAt, at)
      if (problem !== null) return problem
      return applied(nc, { owner: action.owner.trim(), dueAt: action.dueAt })
    }
    case 'set-severity':
      if (!isSeverity(action.severity)) return severityProblem(action.severity)
      return applied(nc, { severity: action.severity })
    case 'containment':
      if (!filled(action.text)) return bad('a containment action needs its text')
      return applied(nc, { containment: [...nc.containment, action.text.trim()] })
    case 'root-cause': {
      const result = rootCauseOf(action)
      if ('refused' in result) return result
      return applied(nc, { rootCause: result.rootCause })
    }
    case 'affected-lots': {
      const lots = texts(action.lots)
      if (lots === null) return bad('the affected lots must be a list of lot ids')
      return applied(nc, { affectedLots: [...new Set(lots)] })
    }
    case 'disposition':
      if (nc.rootCause === null) {
        return refuse(409, 'cannot disposition an NC without a root cause: record it first')
      }
      if (!DISPOSITION_DECISIONS.includes(action.decision)) {
        return bad(
          `the disposition must be one of ${DISPOSITION_DECISIONS.join(', ')} (not ${String(action.decision)})`,
        )
      }
      if (!filled(action.justification)) return bad('a disposition needs a justification')
      return applied(nc, {
        status: 'dispositioned',
        disposition: { decision: action.decision, justification: action.justification.trim() },
      })
    case 'close':
      return applied(nc, { status: 'closed', closedAt: at })
    case 'reopen': {
      const problem = reasonRequired(action.reason)
      if (problem !== null) return bad(`reopening an NC: ${problem}`)
      return applied(nc, { status: 'investigating', closedAt: null, reopened: nc.reopened + 1 })
    }
    case 'comment':
      if (!filled(action.text)) return bad('a comment needs its text')
      // The case keeps no comments: the change is for the audit trail (and the gateway's list).
      return {
        nc: copy(nc),
        changes: [{ field: 'comment', before: null, after: action.text.trim() }],
      }
    case 'link-capa':
      if (!filled(action.capa)) return bad('the CAPA to link is required')
      if (nc.capas.includes(action.capa.trim())) {
        return refuse(409, `${action.capa.trim()} is already linked to this NC`)
      }
      return applied(nc, { capas: [...nc.capas, action.capa.trim()] })
  }
}

/** Not closed, and its due date has passed (`dueAt < now`). */
export function isOverdue(nc: Pick<NcCase, 'status' | 'dueAt'>, now: number): boolean {
  return nc.status !== 'closed' && nc.dueAt !== null && nc.dueAt < now
}

/**
 * How long an overdue NC is past its due date, for an escalation: the milliseconds and the
 * whole days (rounded down: 0 in the first day past due); null when it is not overdue.
 */
export function escalation(
  nc: Pick<NcCase, 'status' | 'dueAt'>,
  now: number,
): { overdueMs: number; days: number } | null {
  if (!isOverdue(nc, now) || nc.dueAt === null) return null
  const overdueMs = now - nc.dueAt
  return { overdueMs, days: Math.floor(overdueMs / DAY_MS) }
}

/**
 * The content a signature on an NC attests (Part 11 §11.70): its id and findings, not its
 * status or closing time, which the signing itself changes. `reopened` is in it, so a closing
 * signature of an earlier round does not hold for the next one.
 */
export function signedNcContent(id: string, nc: NcCase): unknown {
  const { severity, owner, dueAt, containment, rootCause, affectedLots, disposition } = nc
  return {
    record: 'nc',
    id,
    severity,
    owner,
    dueAt,
    containment,
    rootCause,
    affectedLots,
    disposition,
    capas: nc.capas,
    reopened: nc.reopened,
  }
}
