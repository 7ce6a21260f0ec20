import { capability, capabilitySpecProblems, outOfSpec } from '../capability.ts'
import { d2 } from '../constants.ts'
import { DAY_MS } from '../time-text.ts'
import { type Actor, type FieldChange, filled, type Refusal, refuse, roleRefusal } from './roles.ts'
import {
  CAPA_ACTION_ROLES,
  CAPA_ACTION_STATES,
  CAPA_ACTIONS,
  CAPA_KINDS,
  CAPA_STATUSES,
  type Capa,
  type CapaAction,
  type CapaActionName,
  type CapaKind,
  type CapaPlan,
  type CapaStatus,
  type CapaVerification,
  type Effectiveness,
  type EffectivenessSide,
  type Signature,
  type SignatureMeaning,
} from './shapes.ts'
import { signatureHolds, signatureProblems } from './signature.ts'

export {
  CAPA_ACTION_ROLES,
  CAPA_ACTION_STATES,
  CAPA_ACTIONS,
  CAPA_KINDS,
  CAPA_STATUSES,
  type Capa,
  type CapaAction,
  type CapaActionName,
  type CapaKind,
  type CapaPlan,
  type CapaStatus,
  type CapaVerification,
  type Effectiveness,
  type EffectivenessSide,
}

/**
 * Corrective and preventive action (issue 9) as a pure state machine:
 *
 *   open → implemented → verified → approved → closed
 *
 * - `planCapa`: a quality engineer opens a CAPA with a title, its kind, an owner, a due date
 *   (later than now) and the NCs it answers (one or more).
 * - `implement` {implementedAt} open → implemented (not later than the action's time: it
 *   records what was done). Also from verified when the verification found the action not
 *   effective: a revised action, to be verified again (the verification is cleared; the audit
 *   trail keeps it).
 * - `verify` {effective, notes} implemented → verified: the verification of effectiveness
 *   (see `effectiveness` for the figures to judge it by).
 * - `approve` {signature} verified → approved, quality manager, a signature meaning
 *   `approved`; refused when the verification found the action not effective.
 * - `close` {signature} approved → closed, quality manager, a signature meaning `closed`.
 * - `assign` {owner, dueAt} and `link-nc` {nc} while open or implemented, quality engineer;
 *   `comment` {text} in every state, operator.
 *
 * A signature must be the actor's, carry the meaning the step needs, pass signatureProblems
 * and hold for `signedCapaContent(capa)` as the CAPA stands (the gateway binds it after
 * re-authenticating the signer). Signatures are kept on the CAPA; the content they attest does
 * not include the status or the approval and closing times, so the approval still holds after
 * the closure.
 *
 * Refusals and their order as for NCs (rules/quality/nc-workflow.ts): 403 the role, 409 the
 * state, 400 what was sent. The CAPA is plain JSON and never changed in place.
 */

export type CapaResult = { capa: Capa; changes: FieldChange[] } | Refusal

const WORDS: Record<CapaActionName | 'plan', { doing: string; verb: string }> = {
  plan: { doing: 'opening a CAPA', verb: 'open' },
  implement: { doing: 'recording the implementation of a CAPA', verb: 'implement' },
  verify: { doing: 'verifying a CAPA', verb: 'verify' },
  approve: { doing: 'approving a CAPA', verb: 'approve' },
  close: { doing: 'closing a CAPA', verb: 'close' },
  assign: { doing: 'assigning a CAPA', verb: 'assign' },
  'link-nc': { doing: 'linking an NC to a CAPA', verb: 'link an NC to' },
  comment: { doing: 'commenting on a CAPA', verb: 'comment on' },
}

/** The step each state waits for, for a 409's hint. */
const NEXT_STEP: Record<CapaStatus, string> = {
  open: 'record its implementation first',
  implemented: 'verify its effectiveness first',
  verified: 'approve it first',
  approved: 'close it',
  closed: 'it is closed',
}

const bad = (why: string): Refusal => refuse(400, why)
const copy = <T>(x: T): T => structuredClone(x)
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

function applied(capa: Capa, set: Partial<Capa>): { capa: Capa; changes: FieldChange[] } {
  const next = copy(capa)
  const changes: FieldChange[] = []
  for (const [field, after] of Object.entries(set) as [keyof Capa, unknown][]) {
    if (same(capa[field], after)) continue
    changes.push({ field, before: copy(capa[field]), after: copy(after) })
    ;(next as unknown as Record<string, unknown>)[field] = copy(after)
  }
  return { capa: next, changes }
}

function ownerProblem(owner: unknown, dueAt: unknown, at: number): Refusal | null {
  if (!filled(owner)) return bad('an owner is required')
  if (typeof dueAt !== 'number' || !Number.isFinite(dueAt)) {
    return bad('a due date (UTC milliseconds) is required')
  }
  if (dueAt <= at) return bad('the due date must be later than the time of the action')
  return null
}

/**
 * A new CAPA, open, as planned by `actor` at `at`. Refused (403) below quality-engineer, and
 * (400) without a title, a kind, an owner, a due date later than `at` or at least one NC.
 */
export function planCapa(
  id: string,
  plan: CapaPlan,
  actor: Actor,
  at: number,
): { capa: Capa; changes: FieldChange[] } | Refusal {
  const denied = roleRefusal(actor, CAPA_ACTION_ROLES.plan, WORDS.plan.doing)
  if (denied !== null) return denied
  if (!filled(id)) return bad('a CAPA needs an id')
  if (!filled(plan.title)) return bad('a CAPA needs a title')
  if (!CAPA_KINDS.includes(plan.kind)) {
    return bad(`the kind must be one of ${CAPA_KINDS.join(', ')} (not ${String(plan.kind)})`)
  }
  const problem = ownerProblem(plan.owner, plan.dueAt, at)
  if (problem !== null) return problem
  if (!Array.isArray(plan.ncs) || !plan.ncs.every(filled) || plan.ncs.length === 0) {
    return bad('a CAPA must be linked to at least one NC')
  }
  const capa: Capa = {
    id: id.trim(),
    status: 'open',
    title: plan.title.trim(),
    kind: plan.kind,
    owner: plan.owner.trim(),
    dueAt: plan.dueAt,
    ncs: [...new Set(plan.ncs.map((nc) => nc.trim()))],
    openedAt: at,
    implementedAt: null,
    verification: null,
    approvedAt: null,
    closedAt: null,
    signatures: [],
  }
  const changes = (Object.keys(capa) as (keyof Capa)[]).map((field) => ({
    field,
    before: null,
    after: copy(capa[field]),
  }))
  return { capa, changes }
}

/**
 * The content a signature on a CAPA attests (Part 11 §11.70): its id, plan, implementation and
 * verification; not its status, approval and closing times or signatures, which signing
 * changes.
 */
export function signedCapaContent(capa: Capa): unknown {
  const { id, title, kind, owner, dueAt, ncs, openedAt, implementedAt, verification } = capa
  return {
    record: 'capa',
    id,
    title,
    kind,
    owner,
    dueAt,
    ncs,
    openedAt,
    implementedAt,
    verification,
  }
}

/** A signature given for a step: the actor's, with the step's meaning, valid, bound to this CAPA. */
function signatureRefusal(
  capa: Capa,
  signature: Signature | undefined,
  meaning: SignatureMeaning,
  actor: Actor,
): Refusal | null {
  if (signature === undefined || signature === null || typeof signature !== 'object') {
    return bad(`a signature with the meaning ${meaning} is required`)
  }
  if (signature.meaning !== meaning) {
    return bad(
      `this step needs a signature with the meaning ${meaning} (not ${String(signature.meaning)})`,
    )
  }
  if (signature.user !== actor.user) {
    return bad(`the signature is ${String(signature.user)}'s, not ${actor.user}'s`)
  }
  // A malformed signature is a bad request (400); a repeat of one the CAPA holds is its state (409).
  const malformed = signatureProblems([], signature)
  if (malformed.length > 0) return bad(malformed.join('; '))
  const repeated = signatureProblems(capa.signatures, signature)
  if (repeated.length > 0) return refuse(409, repeated.join('; '))
  if (!signatureHolds(signature, signedCapaContent(capa))) {
    return refuse(409, 'the signature is bound to another record or another version of this CAPA')
  }
  return null
}

/** Applies one action to the CAPA (see the module comment); `at` is its time, UTC milliseconds. */
export function applyCapaAction(
  capa: Capa,
  action: CapaAction,
  actor: Actor,
  at: number,
): CapaResult {
  const name = action.action
  if (!CAPA_ACTIONS.includes(name)) {
    return bad(`unknown action ${String(name)}; the actions are ${CAPA_ACTIONS.join(', ')}`)
  }
  const { doing, verb } = WORDS[name]
  const denied = roleRefusal(actor, CAPA_ACTION_ROLES[name], doing)
  if (denied !== null) return denied
  const notEffective = capa.status === 'verified' && capa.verification?.effective === false
  if (name === 'implement' && capa.status === 'verified' && !notEffective) {
    return refuse(409, 'cannot implement a CAPA verified as effective: approve it')
  }
  if (!CAPA_ACTION_STATES[name].includes(capa.status)) {
    return refuse(409, `cannot ${verb} a CAPA that is ${capa.status}: ${NEXT_STEP[capa.status]}`)
  }

  switch (action.action) {
    case 'implement': {
      const t = action.implementedAt
      if (typeof t !== 'number' || !Number.isFinite(t)) {
        return bad('the time of implementation (UTC milliseconds) is required')
      }
      if (t > at) return bad('the time of implementation cannot be later than now')
      return applied(capa, { status: 'implemented', implementedAt: t, verification: null })
    }
    case 'verify':
      if (typeof action.effective !== 'boolean') {
        return bad('the verification must say whether the action was effective (true or false)')
      }
      if (!filled(action.notes)) return bad('a verification needs its notes')
      return applied(capa, {
        status: 'verified',
        verification: {
          effective: action.effective,
          notes: action.notes.trim(),
          at,
          by: actor.user,
        },
      })
    case 'approve': {
      if (notEffective) {
        return refuse(
          409,
          'cannot approve a CAPA verified as not effective: implement a revised action and verify it again',
        )
      }
      const refused = signatureRefusal(capa, action.signature, 'approved', actor)
      if (refused !== null) return refused
      return applied(capa, {
        status: 'approved',
        approvedAt: at,
        signatures: [...capa.signatures, action.signature],
      })
    }
    case 'close': {
      const refused = signatureRefusal(capa, action.signature, 'closed', actor)
      if (refused !== null) return refused
      return applied(capa, {
        status: 'closed',
        closedAt: at,
        signatures: [...capa.signatures, action.signature],
      })
    }
    case 'assign': {
      const problem = ownerProblem(action.owner, action.dueAt, at)
      if (problem !== null) return problem
      return applied(capa, { owner: action.owner.trim(), dueAt: action.dueAt })
    }
    case 'link-nc':
      if (!filled(action.nc)) return bad('the NC to link is required')
      if (capa.ncs.includes(action.nc.trim())) {
        return refuse(409, `${action.nc.trim()} is already linked to this CAPA`)
      }
      return applied(capa, { ncs: [...capa.ncs, action.nc.trim()] })
    case 'comment':
      if (!filled(action.text)) return bad('a comment needs its text')
      return {
        capa: copy(capa),
        changes: [{ field: 'comment', before: null, after: action.text.trim() }],
      }
  }
}

// ---------------------------------------------------------------------------------------------
// Verification of effectiveness

export interface EffectivenessInput {
  /** The characteristic's readings (any order; values that are not finite are left out). */
  readings: readonly { ts: number; value: number }[]
  /** When each of the characteristic's NCs opened. */
  ncOpenedAt: readonly number[]
  implementedAt: number
  /** The length of each window, before and after the implementation. */
  windowMs: number
  spec: { lsl?: number | undefined; usl?: number | undefined }
  /** The within σ: MR̄/d2(2) (the only one for individual readings). */
  sigmaWithin: 'mr'
}

/** Readings a side needs for a verdict: the usual baseline of individuals (capability.ts). */
export const EFFECTIVENESS_MIN_READINGS = 25

function side(input: EffectivenessInput, from: number, to: number): EffectivenessSide {
  const values = input.readings
    .filter((r) => r.ts >= from && r.ts < to && Number.isFinite(r.value))
    .sort((a, b) => a.ts - b.ts)
    .map((r) => r.value)
  const ncs = input.ncOpenedAt.filter((t) => t >= from && t < to).length
  const base = { n: values.length, ncs, ncsPerDay: ncs / ((to - from) / DAY_MS) }
  if (values.length === 0) return { ...base, mean: null, cpk: null, ppk: null }
  const n = values.length
  const mean = values.reduce((s, x) => s + x, 0) / n
  if (n < 2) return { ...base, mean, cpk: null, ppk: null }
  let movingRanges = 0
  for (let i = 1; i < n; i++)
    movingRanges += Math.abs((values[i] as number) - (values[i - 1] as number))
  const sigmaWithin = movingRanges / (n - 1) / d2(2)
  const sigmaOverall = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1))
  const c = capability(
    {
      n,
      mean,
      sigmaWithin,
      sigmaOverall,
      outOfSpec: values.filter((x) => outOfSpec(x, input.spec)).length,
    },
    { lsl: input.spec.lsl, usl: input.spec.usl },
  )
  return { ...base, mean, cpk: c.cpk, ppk: c.ppk }
}

const fixed2 = (x: number | null): string => (x === null ? '—' : x.toFixed(2))

/**
 * The verification of a CAPA's effectiveness from the characteristic's data: Cpk, Ppk and the
 * NC rate over the window before the implementation, [implementedAt − windowMs, implementedAt),
 * and the one after, [implementedAt, implementedAt + windowMs).
 *
 * Cpk from σ within = MR̄/d2(2), the mean moving range of consecutive readings (in time order)
 * over d2(2) = 2/√π ≈ 1.128 (the exact value, as the control charts use it); Ppk from the
 * sample standard deviation (n − 1); both by capability.ts (one-sided specifications give the
 * index of their side). The NC rate is per day of the window.
 *
 * Verdict: 'not enough data' with fewer than 25 readings on a side or a Cpk that cannot be
 * computed (no specification limit, no variation); else 'improved' when Cpk after > Cpk before
 * and the NC rate did not rise; else 'not improved'.
 *
 * Throws a RangeError on an invalid specification (see capabilitySpecProblems) or a window
 * that is not a positive finite length.
 */
export function effectiveness(input: EffectivenessInput): Effectiveness {
  const problems = capabilitySpecProblems(input.spec)
  if (problems.length > 0) throw new RangeError(problems.join('; '))
  if (!(Number.isFinite(input.windowMs) && input.windowMs > 0)) {
    throw new RangeError(`the window must be a positive length (not ${input.windowMs} ms)`)
  }
  if (!Number.isFinite(input.implementedAt)) {
    throw new RangeError('the time of implementation must be a finite number')
  }
  const t = input.implementedAt
  const window = {
    before: { from: t - input.windowMs, to: t },
    after: { from: t, to: t + input.windowMs },
  }
  const before = side(input, window.before.from, window.before.to)
  const after = side(input, window.after.from, window.after.to)
  const min = EFFECTIVENESS_MIN_READINGS
  let verdict: Effectiveness['verdict']
  let why: string
  if (before.n < min || after.n < min) {
    verdict = 'not enough data'
    why = `too few readings: ${before.n} before and ${after.n} after (${min} needed on each side)`
  } else if (before.cpk === null || after.cpk === null) {
    verdict = 'not enough data'
    why = 'Cpk cannot be computed (no specification limit, or no variation)'
  } else {
    const figures = `Cpk ${fixed2(before.cpk)} → ${fixed2(after.cpk)}, NCs per day ${before.ncsPerDay.toFixed(2)} → ${after.ncsPerDay.toFixed(2)}`
    const better = after.cpk > before.cpk && after.ncsPerDay <= before.ncsPerDay
    verdict = better ? 'improved' : 'not improved'
    why = better
      ? `improved: ${figures}`
      : `not improved (Cpk must rise and the NC rate must not): ${figures}`
  }
  return { window, before, after, verdict, why }
}
