/**
 * The roles of the quality loop (issue 9), lowest first: each may do what the ones below it
 * may. `viewer` watches (wall displays), `operator` acknowledges and comments,
 * `quality-engineer` investigates, dispositions and runs CAPAs, `quality-manager` approves and
 * closes under signature, `admin` may do everything.
 */
export type UserRole = 'viewer' | 'operator' | 'quality-engineer' | 'quality-manager' | 'admin'

export const USER_ROLES: readonly UserRole[] = [
  'viewer',
  'operator',
  'quality-engineer',
  'quality-manager',
  'admin',
]

export function isUserRole(x: unknown): x is UserRole {
  return typeof x === 'string' && (USER_ROLES as readonly string[]).includes(x)
}

/** Whether `role` may do what `needed` may (an unknown role may do nothing). */
export function roleAtLeast(role: UserRole, needed: UserRole): boolean {
  const rank = USER_ROLES.indexOf(role)
  return rank >= 0 && rank >= USER_ROLES.indexOf(needed)
}

/** Who acts on a record. */
export interface Actor {
  user: string
  role: UserRole
}

/**
 * An action that was not applied, and the HTTP status the gateway answers with: 403 the role
 * may not do it, 409 the record's state does not allow it, 400 the action is incomplete or
 * malformed.
 */
export interface Refusal {
  refused: string
  status: 403 | 409 | 400
}

/** One field an action changed, with its value before and after (for the audit trail). */
export interface FieldChange {
  field: string
  before: unknown
  after: unknown
}

export function refuse(status: Refusal['status'], refused: string): Refusal {
  return { refused, status }
}

/** `doing` needs `needed`: the 403 naming both roles, or null when the actor has it. */
export function roleRefusal(actor: Actor, needed: UserRole, doing: string): Refusal | null {
  if (roleAtLeast(actor.role, needed)) return null
  return refuse(403, `${doing} needs the ${needed} role; you have ${String(actor.role)}`)
}

/**
 * A string with something in it besides white space, and well-formed: a lone surrogate could
 * not be hashed into the audit trail or a signature (canonicalJson refuses it), so such a text
 * is refused here, as a bad request, rather than failing later.
 */
export function filled(x: unknown): x is string {
  return typeof x === 'string' && x.trim() !== '' && x.isWellFormed()
}

/**
 * Why a reason is not acceptable, or null when it is: every change needs one (Annex 11 §9),
 * and "x" is not one: at least 3 characters besides white space at its ends.
 */
export function reasonRequired(reason: string | null | undefined): string | null {
  if (typeof reason !== 'string' || reason.trim() === '') return 'a reason is required'
  if (!reason.isWellFormed()) return 'the reason is not well-formed text (a lone surrogate)'
  const length = [...reason.trim()].length
  if (length < 3) return `the reason must be at least 3 characters (it has ${length})`
  return null
}
