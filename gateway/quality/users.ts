import { randomBytes } from 'node:crypto'
import {
  initialThrottle,
  isUserRole,
  passwordProblems,
  recordFailure,
  recordSuccess,
  signInAllowed,
  type ThrottlePolicy,
  type ThrottleState,
  type UserRole,
} from '../../rules/quality/index.ts'
import { type Principal, sha256Hex } from '../api/auth.ts'
import type { Peers } from '../cluster/peers.ts'
import type { UserView } from '../contract.ts'
import { hashPassword, verifyPassword } from '../sources/credentials.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { AuditTrail } from './audit-trail.ts'

/**
 * Local users (issue 9): scrypt-hashed passwords, sign-in with sessions, throttling and lock-out.
 *
 * Users live in records.db (`app_user`) and in memory (a plant has tens or hundreds); every
 * change is written through the records writer with its audit entry, in one transaction.
 * Sessions live in memory only: a restart signs everyone out (a session is a 256-bit random
 * token; only its SHA-256 is kept). A session ends after `idleMinutes` without a request or
 * `maxHours` after sign-in. Failed sign-ins are throttled per user name and per client address
 * (rules/quality/passwords.ts) and each is an audit entry; a locked name answers 429 without
 * checking the password.
 *
 * In a cluster every gateway has the users in memory: a change made on one is announced to the
 * others (`user-changed`) once committed, and they read that user again (`reload`). Sessions
 * stay with the gateway that signed the user in (docs/scale.md).
 */
export interface UserDirectory {
  start(): void
  list(): UserView[]
  get(name: string): UserView | undefined
  /** Adds a user; the problems (password rules, a name taken) when refused. */
  add(
    user: { name: string; printedName: string; role: UserRole; password: string },
    by: string,
    reason: string,
  ): Promise<UserView | string[]>
  setPassword(name: string, password: string, by: string, reason: string): Promise<string[]>
  setDisabled(name: string, disabled: boolean, by: string, reason: string): string[]
  setRole(name: string, role: UserRole, by: string, reason: string): string[]
  signIn(name: string, password: string, address: string): Promise<SignInOutcome>
  signOut(tokenSha256: string): void
  /** The principal of a session token's SHA-256, or null (unknown, expired, user disabled). */
  session(tokenSha256: string): Principal | null
  /**
   * Re-authentication for a signature (Part 11 §11.200(a)(1)): the user's password again.
   * Counted like a sign-in: failures lock the account.
   */
  confirm(name: string, password: string, address: string): Promise<SignInOutcome>
  /**
   * Reads a user again from the records (another gateway of a cluster changed it). A password
   * changed there ends the user's sessions here, as it does there.
   */
  reload(name: string): void
}

export type SignInOutcome =
  | { ok: true; token: string; expiresAt: number; user: UserView }
  | { ok: false; status: 401 | 429; message: string; retryAfterSeconds?: number }

export interface UserPolicy {
  minPasswordLength: number
  sessionIdleMinutes: number
  sessionMaxHours: number
  lockout: ThrottlePolicy
}

/** The statements the records writer runs for users (idempotent). */
export const USER_STATEMENTS = {
  userUpsert: `INSERT INTO app_user (name, printed_name, role, password, disabled, created_at, password_changed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET printed_name = excluded.printed_name, role = excluded.role,
                 password = excluded.password, disabled = excluded.disabled,
                 password_changed_at = excluded.password_changed_at`,
}

interface StoredUser {
  name: string
  printedName: string
  role: UserRole
  password: string
  disabled: boolean
  createdAt: number
  passwordChangedAt: number
}

interface Session {
  user: string
  startedAt: number
  lastAt: number
}

/** User names: what a person types, safe in a URL and a log line. */
export const USER_NAME = /^[a-z0-9][a-z0-9._-]{1,63}$/

const WRONG = 'wrong user name or password'
/** A sign-in's outcome, told to the other gateways of a cluster: its throttle keys. */
interface SignInOutcomeAnnounced {
  keys: string[]
  failed: boolean
  at: number
}
/** A throttle key: a user name or a client address. */
const THROTTLE_KEY = /^(user|address):.{1,200}$/s

/** Throttle states kept before the stale ones are pruned. */
const MAX_THROTTLES = 10_000

/** What a refused sign-in's audit entry keeps besides its reason: where from, and whether it counts. */
interface RefusalAudited {
  address: string
  /** A password tried and refused (a failure towards a lock); false for one refused as locked. */
  counts: boolean
}

export function createUserDirectory(ctx: {
  db: RecordsDb
  run: (statement: keyof typeof USER_STATEMENTS, params: (string | number)[]) => void
  audit: AuditTrail
  /** Names users cannot take: the configured tokens' ids (records name both the same way). */
  reserved?: ReadonlySet<string>
  policy: UserPolicy
  now?: () => number
  /** In a cluster: the other gateways, told of each change once `whenDurable` says it is committed. */
  peers?: { bus: Peers; whenDurable(done: () => void): void }
}): UserDirectory {
  const now = ctx.now ?? Date.now
  const { policy, audit } = ctx
  const users = new Map<string, StoredUser>()
  const sessions = new Map<string, Session>()
  const throttles = new Map<string, ThrottleState>()
  /**
   * Per throttle key, the failures counted and the latest success: a failure read again from the
   * records after an outage counts once, and not when a success came after it. A failure is
   * known by its time and all its keys (a user's two failures in one millisecond from two
   * addresses are two).
   */
  const heard = new Map<string, { failures: Map<string, number>; success: number }>()

  const view = (u: StoredUser): UserView => {
    const lock = throttles.get(`user:${u.name}`)?.lockedUntil ?? null
    return {
      name: u.name,
      printedName: u.printedName,
      role: u.role,
      disabled: u.disabled,
      createdAt: u.createdAt,
      passwordChangedAt: u.passwordChangedAt,
      lockedUntil: lock !== null && lock > now() ? lock : null,
    }
  }
  /** What the audit trail keeps of a user: never the password hash. */
  const audited = (u: StoredUser | undefined) =>
    u ? { printedName: u.printedName, role: u.role, disabled: u.disabled } : null

  function save(u: StoredUser): void {
    users.set(u.name, u)
    ctx.run('userUpsert', [
      u.name,
      u.printedName,
      u.role,
      u.password,
      u.disabled ? 1 : 0,
      u.createdAt,
      u.passwordChangedAt,
    ])
    const peers = ctx.peers
    if (peers) peers.whenDurable(() => peers.bus.announce('user-changed', { name: u.name }))
  }

  interface UserRow {
    name: string
    printed_name: string
    role: string
    password: string
    disabled: number
    created_at: number
    password_changed_at: number
  }

  function stored(r: UserRow): StoredUser {
    return {
      name: r.name,
      printedName: r.printed_name,
      role: isUserRole(r.role) ? r.role : 'viewer',
      password: r.password,
      disabled: r.disabled === 1,
      createdAt: r.created_at,
      passwordChangedAt: r.password_changed_at,
    }
  }

  function reload(name: string): void {
    const row = ctx.db.prepare('SELECT * FROM app_user WHERE name = ?').get(name) as
      | UserRow
      | undefined
    const before = users.get(name)
    if (!row) {
      users.delete(name)
      return
    }
    const u = stored(row)
    users.set(name, u)
    if (before && before.password !== u.password)
      for (const [key, s] of sessions) if (s.user === name) sessions.delete(key)
  }

  ctx.peers?.bus.on('user-changed', (announced) => {
    const name = (announced as { name?: unknown } | null)?.name
    if (typeof name === 'string' && USER_NAME.test(name)) reload(name)
  })
  // Redis was away: a user changed on another gateway meanwhile (disabled, a new password) was
  // not heard of. Every user as the records have them.
  ctx.peers?.bus.onResync(() => {
    const names = ctx.db.prepare('SELECT name FROM app_user').all() as { name: string }[]
    for (const name of new Set([...users.keys(), ...names.map((r) => r.name)])) reload(name)
  })
  // In a cluster the throttles are the plant's: a failed sign-in on any gateway counts on every
  // one, so spreading guesses over the gateways gains nothing (and a success clears them all).
  ctx.peers?.bus.on('sign-in-outcome', (announced) => {
    const o = announced as Partial<SignInOutcomeAnnounced> | null
    if (!o || !Array.isArray(o.keys) || typeof o.at !== 'number') return
    for (const key of o.keys)
      if (typeof key === 'string' && THROTTLE_KEY.test(key))
        countOutcome(key, o.failed === true, o.at, o.keys)
  })

  /** Counts an outcome for `key`, one of the outcome's `keys`. */
  function countOutcome(key: string, failed: boolean, at: number, keys: readonly string[]): void {
    let h = heard.get(key)
    if (!h) {
      h = { failures: new Map(), success: Number.NEGATIVE_INFINITY }
      heard.set(key, h)
    }
    if (failed) {
      const failure = `${at} ${[...keys].sort().join(' ')}`
      if (h.failures.has(failure) || at < h.success) return
      // Only the window's are read again: older ones need not be remembered.
      for (const [f, t] of h.failures) if (at - t >= policy.lockout.windowMs) h.failures.delete(f)
      h.failures.set(failure, at)
    } else h.success = Math.max(h.success, at)
    throttles.set(
      key,
      failed ? recordFailure(throttle(key), at, policy.lockout) : recordSuccess(throttle(key)),
    )
  }

  // Redis was away: the sign-ins refused on the other gateways meanwhile were not heard of, and
  // guesses spread over the gateways would have gained that much. The refusals of the lockout
  // window as the shared records have them (each gateway's audit trail), each counted once.
  ctx.peers?.bus.onResync(() => {
    const at = now()
    const rows = ctx.db
      .prepare(
        `SELECT at, entity_id, after FROM audit WHERE entity = 'user' AND at >= ?
           AND action IN ('sign-in refused', 'signature refused') ORDER BY at`,
      )
      .all(at - policy.lockout.windowMs) as { at: number; entity_id: string; after: string }[]
    for (const row of rows) {
      const refusal = JSON.parse(row.after) as Partial<RefusalAudited> | null
      if (refusal?.counts !== true || typeof refusal.address !== 'string') continue
      const keys = [`user:${row.entity_id}`, `address:${refusal.address}`]
      for (const key of keys) countOutcome(key, true, row.at, keys)
    }
  })

  /** Counts a sign-in's outcome here and tells the other gateways of a cluster. */
  function outcome(keys: string[], failed: boolean, at: number): void {
    for (const key of keys) countOutcome(key, failed, at, keys)
    ctx.peers?.bus.announce('sign-in-outcome', {
      keys,
      failed,
      at,
    } satisfies SignInOutcomeAnnounced)
  }

  function change(
    name: string,
    set: Partial<StoredUser>,
    action: string,
    by: string,
    reason: string,
  ): string[] {
    const u = users.get(name)
    if (!u) return [`no user "${name}"`]
    const next = { ...u, ...set }
    save(next)
    audit.append({
      at: now(),
      actor: by,
      action,
      entity: 'user',
      entityId: name,
      reason,
      before: audited(u),
      after: audited(next),
    })
    return []
  }

  function throttle(key: string): ThrottleState {
    return throttles.get(key) ?? initialThrottle()
  }

  /**
   * Bounded: past MAX_THROTTLES names and addresses, those neither locked nor with a failure in
   * the window are forgotten (they would count nothing anyway).
   */
  function prune(at: number): void {
    if (throttles.size <= MAX_THROTTLES) return
    for (const [key, t] of throttles) {
      const locked = t.lockedUntil !== null && t.lockedUntil > at
      if (!locked && t.failures.every((f) => at - f >= policy.lockout.windowMs)) {
        throttles.delete(key)
        heard.delete(key)
      }
    }
  }

  /** Checks a password against the throttles; records the outcome either way. */
  async function check(
    name: string,
    password: string,
    address: string,
    what: 'sign-in' | 'signature',
  ): Promise<{ ok: true; user: StoredUser } | Extract<SignInOutcome, { ok: false }>> {
    const at = now()
    prune(at)
    const keys = [`user:${name}`, `address:${address}`]
    for (const key of keys) {
      const verdict = signInAllowed(throttle(key), at, policy.lockout)
      if (!verdict.allowed) {
        refused(name, address, what, 'locked', at)
        return {
          ok: false,
          status: 429,
          message: verdict.why,
          retryAfterSeconds: Math.ceil((verdict.until - at) / 1000),
        }
      }
    }
    const u = users.get(name)
    const good = u !== undefined && !u.disabled && (await verifyPassword(password, u.password))
    if (!good) {
      // Counted and recorded at one time (after the password's check): the audit entry is what
      // another gateway counts again after an outage, as this same failure.
      const failedAt = now()
      outcome(keys, true, failedAt)
      refused(
        name,
        address,
        what,
        u === undefined ? 'unknown user' : u.disabled ? 'disabled' : WRONG,
        failedAt,
      )
      return {
        ok: false,
        status: 401,
        message: what === 'signature' ? 'the password does not match: not signed' : WRONG,
      }
    }
    outcome(keys, false, at)
    return { ok: true, user: u }
  }

  /** The audit entry of a refusal, at the time its outcome was counted (`at`). */
  function refused(name: string, address: string, what: string, why: string, at: number): void {
    audit.append({
      at,
      actor: name,
      action: `${what} refused`,
      entity: 'user',
      entityId: name,
      reason: `${why} (from ${address})`,
      before: null,
      after: { address, counts: why !== 'locked' } satisfies RefusalAudited,
    })
  }

  function live(hash: string): Session | null {
    const s = sessions.get(hash)
    if (!s) return null
    const at = now()
    const u = users.get(s.user)
    if (
      !u ||
      u.disabled ||
      at - s.lastAt > policy.sessionIdleMinutes * 60_000 ||
      at - s.startedAt > policy.sessionMaxHours * 3_600_000
    ) {
      sessions.delete(hash)
      return null
    }
    return s
  }

  function expiry(s: Session): number {
    return Math.min(
      s.lastAt + policy.sessionIdleMinutes * 60_000,
      s.startedAt + policy.sessionMaxHours * 3_600_000,
    )
  }

  return {
    start() {
      for (const r of ctx.db.prepare('SELECT * FROM app_user').all() as unknown as UserRow[])
        users.set(r.name, stored(r))
    },

    reload,

    list: () => [...users.values()].map(view),
    get: (name) => {
      const u = users.get(name)
      return u ? view(u) : undefined
    },

    async add(user, by, reason) {
      const problems: string[] = []
      if (!USER_NAME.test(user.name))
        problems.push(
          'a user name is 2 to 64 lower-case letters, digits, dot, underscore or hyphen, starting with a letter or digit',
        )
      if (users.has(user.name)) problems.push(`the user "${user.name}" exists`)
      if (ctx.reserved?.has(user.name))
        problems.push(`"${user.name}" is the id of a configured access token: choose another name`)
      if (user.printedName.trim() === '') problems.push('a printed name is required')
      problems.push(
        ...passwordProblems(user.password, {
          user: user.name,
          minLength: policy.minPasswordLength,
        }),
      )
      if (problems.length > 0) return problems
      const at = now()
      const u: StoredUser = {
        name: user.name,
        printedName: user.printedName.trim(),
        role: user.role,
        password: await hashPassword(user.password),
        disabled: false,
        createdAt: at,
        passwordChangedAt: at,
      }
      // Checked again: another request may have added the name while the hash was computed.
      if (users.has(user.name)) return [`the user "${user.name}" exists`]
      save(u)
      audit.append({
        at,
        actor: by,
        action: 'user added',
        entity: 'user',
        entityId: u.name,
        reason,
        before: null,
        after: audited(u),
      })
      return view(u)
    },

    async setPassword(name, password, by, reason) {
      const u = users.get(name)
      if (!u) return [`no user "${name}"`]
      const problems = passwordProblems(password, {
        user: name,
        minLength: policy.minPasswordLength,
      })
      if (problems.length > 0) return problems
      const hash = await hashPassword(password)
      // Every session of the user ends with the old password.
      for (const [key, s] of sessions) if (s.user === name) sessions.delete(key)
      return change(
        name,
        { password: hash, passwordChangedAt: now() },
        'password changed',
        by,
        reason,
      )
    },

    setDisabled(name, disabled, by, reason) {
      return change(name, { disabled }, disabled ? 'user disabled' : 'user enabled', by, reason)
    },

    setRole(name, role, by, reason) {
      return change(name, { role }, 'role changed', by, reason)
    },

    async signIn(name, password, address) {
      const checked = await check(name, password, address, 'sign-in')
      if (!checked.ok) return checked
      const token = randomBytes(32).toString('base64url')
      const at = now()
      const s: Session = { user: name, startedAt: at, lastAt: at }
      sessions.set(sha256Hex(token), s)
      audit.append({
        at,
        actor: name,
        action: 'signed in',
        entity: 'user',
        entityId: name,
        reason: `from ${address}`,
        before: null,
        after: null,
      })
      return { ok: true, token, expiresAt: expiry(s), user: view(checked.user) }
    },

    signOut(hash) {
      sessions.delete(hash)
    },

    session(hash) {
      const s = live(hash)
      if (!s) return null
      s.lastAt = now()
      const u = users.get(s.user) as StoredUser
      return {
        role: u.role,
        tokenId: null,
        user: { name: u.name, printedName: u.printedName },
      }
    },

    async confirm(name, password, address) {
      const checked = await check(name, password, address, 'signature')
      if (!checked.ok) return checked
      return { ok: true, token: '', expiresAt: 0, user: view(checked.user) }
    },
  }
}
