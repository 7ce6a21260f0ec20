/**
 * The shapes of the quality records (issue 9): plain data, no logic and no hashing, so that the
 * dashboard (a browser bundle) can name them too. The rules that act on them are in
 * nc-workflow.ts, capa.ts, signature.ts and audit.ts.
 */

import type { UserRole } from './roles.ts'

export type SignatureMeaning = 'reviewed' | 'approved' | 'closed'

export const SIGNATURE_MEANINGS: readonly SignatureMeaning[] = ['reviewed', 'approved', 'closed']

export interface Signature {
  /** The signer's user name. */
  user: string
  /** The signer's full name as printed with the record. */
  printedName: string
  meaning: SignatureMeaning
  /** UTC milliseconds. */
  at: number
  /** SHA-256 of the signed record's canonical JSON. */
  recordHash: string
}

export type CapaStatus = 'open' | 'implemented' | 'verified' | 'approved' | 'closed'
export const CAPA_STATUSES: readonly CapaStatus[] = [
  'open',
  'implemented',
  'verified',
  'approved',
  'closed',
]

export type CapaKind = 'corrective' | 'preventive'
export const CAPA_KINDS: readonly CapaKind[] = ['corrective', 'preventive']

export interface CapaPlan {
  title: string
  kind: CapaKind
  owner: string
  /** UTC milliseconds. */
  dueAt: number
  /** Ids of the NCs the action answers: one or more. */
  ncs: string[]
}

export interface CapaVerification {
  effective: boolean
  notes: string
  /** When, and by whom, it was verified. */
  at: number
  by: string
}

export interface Capa extends CapaPlan {
  id: string
  status: CapaStatus
  openedAt: number
  implementedAt: number | null
  verification: CapaVerification | null
  approvedAt: number | null
  closedAt: number | null
  signatures: Signature[]
}

export type CapaAction =
  | { action: 'implement'; implementedAt: number }
  | { action: 'verify'; effective: boolean; notes: string }
  | { action: 'approve'; signature: Signature }
  | { action: 'close'; signature: Signature }
  | { action: 'assign'; owner: string; dueAt: number }
  | { action: 'link-nc'; nc: string }
  | { action: 'comment'; text: string }

export type CapaActionName = CapaAction['action']

export const CAPA_ACTIONS: readonly CapaActionName[] = [
  'implement',
  'verify',
  'approve',
  'close',
  'assign',
  'link-nc',
  'comment',
]

export interface EffectivenessSide {
  n: number
  /** null without readings. */
  mean: number | null
  /** From σ within = MR̄/d2(2); null with fewer than 2 readings or no variation. */
  cpk: number | null
  /** From the sample standard deviation (n − 1); null as Cpk. */
  ppk: number | null
  /** NCs opened in the window, and per day of the window. */
  ncs: number
  ncsPerDay: number
}

export interface Effectiveness {
  /** [from, to) of each side, UTC milliseconds. */
  window: { before: { from: number; to: number }; after: { from: number; to: number } }
  before: EffectivenessSide
  after: EffectivenessSide
  verdict: 'improved' | 'not improved' | 'not enough data'
  /** The verdict in words, with what it was judged by. */
  why: string
}

/** Who may sign an NC outside its closing: reviewing is the engineer's, approving the manager's. */
export const NC_SIGN_ROLES: Readonly<Record<'reviewed' | 'approved', UserRole>> = {
  reviewed: 'quality-engineer',
  approved: 'quality-manager',
}

/** The role each CAPA action needs, and the states it is allowed in (rules/quality/capa.ts applies them). */
export const CAPA_ACTION_ROLES: Readonly<Record<CapaActionName | 'plan', UserRole>> = {
  plan: 'quality-engineer',
  implement: 'quality-engineer',
  verify: 'quality-engineer',
  approve: 'quality-manager',
  close: 'quality-manager',
  assign: 'quality-engineer',
  'link-nc': 'quality-engineer',
  comment: 'operator',
}

export const CAPA_ACTION_STATES: Readonly<Record<CapaActionName, readonly CapaStatus[]>> = {
  implement: ['open', 'verified'],
  verify: ['implemented'],
  approve: ['verified'],
  close: ['approved'],
  assign: ['open', 'implemented'],
  'link-nc': ['open', 'implemented'],
  comment: ['open', 'implemented', 'verified', 'approved', 'closed'],
}

/** What audit entries are about (`entity`), in the order the audit-trail report offers them. */
export const AUDIT_ENTITIES = [
  'config',
  'user',
  'limits',
  'alarm',
  'nc',
  'capa',
  'signature',
] as const

/**
 * An audit entry as it is shown (the API's view, the audit-trail report's row): who, when, what
 * and why, and the entry's hash in the chain. The entry itself is rules/quality/audit.ts's,
 * which hashes and so stays out of the dashboard's bundle.
 */
export interface AuditEntryShown {
  seq: number
  at: number
  actor: string
  action: string
  entity: string
  entityId: string
  reason: string
  hash: string
}
