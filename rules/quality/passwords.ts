import { durationWords } from '../alarms/lifecycle.ts'
import { isoTime } from '../time-text.ts'

/**
 * Password rules and sign-in throttling (issue 9), pure.
 *
 * The rules follow NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules (a
 * password of one character class is fine), and no value that is commonly used or expected: the
 * 20 most common passwords of the breached accounts in Have I Been Pwned (the NCSC's list of
 * April 2019), the user name, and one character repeated. Hashing (scrypt) and storing are the
 * gateway's.
 *
 * Throttling (800-63B §5.2.2, "rate limiting"): one state per key, kept by the gateway for each
 * user name and, separately, for each client address. `maxFailures` failed sign-ins within
 * `windowMs` lock the key for `lockMs`; a success resets it. Record a failure only for an
 * attempt that was allowed and whose password was wrong: an attempt refused while locked does
 * not reach the password check. `retryDelayMs` grows with consecutive failures, for the pause
 * before answering a failed attempt.
 */

/** The 20 most common passwords (NCSC, Pwned Passwords top 100,000, 2019), in their order. */
export const COMMON_PASSWORDS: readonly string[] = [
  '123456',
  '123456789',
  'qwerty',
  'password',
  '111111',
  '12345678',
  'abc123',
  '1234567',
  'password1',
  '12345',
  '1234567890',
  '123123',
  '000000',
  'iloveyou',
  '1234',
  '1q2w3e4r5t',
  'qwertyuiop',
  '123',
  'monkey',
  'dragon',
]

/**
 * NIST SP 800-63B-4 §3.1.1.2 (August 2025): a password that is the only authentication factor
 * (as linewatch's are, at sign-in and when signing) is at least 15 characters long.
 */
export const DEFAULT_MIN_PASSWORD_LENGTH = 15

/** A user name shorter than this is not looked for inside the password ("al" is in too many). */
const MIN_NAME_IN_PASSWORD = 3

/**
 * Why the password is not acceptable; empty when it is. Lengths count characters (code
 * points), not UTF-16 units; comparisons with the user name and the common passwords ignore
 * case.
 */
export function passwordProblems(
  password: string,
  options: { user: string; minLength?: number | undefined },
): string[] {
  const minLength = options.minLength ?? DEFAULT_MIN_PASSWORD_LENGTH
  const problems: string[] = []
  const length = [...password].length
  if (length < minLength) {
    problems.push(`the password must be at least ${minLength} characters (it has ${length})`)
  }
  const lower = password.toLowerCase()
  const user = options.user.trim().toLowerCase()
  if (user !== '' && lower === user) problems.push('the password must not be the user name')
  else if ([...user].length >= MIN_NAME_IN_PASSWORD && lower.includes(user)) {
    problems.push('the password must not contain the user name')
  }
  if (COMMON_PASSWORDS.includes(lower)) {
    problems.push('the password is one of the most common passwords')
  }
  if (length > 1 && new Set(password).size === 1) {
    problems.push('the password must not be one character repeated')
  }
  return problems
}

export interface ThrottlePolicy {
  /** Failures within `windowMs` that lock the key. */
  maxFailures: number
  windowMs: number
  /** How long the key stays locked. */
  lockMs: number
}

export const DEFAULT_THROTTLE_POLICY: Readonly<ThrottlePolicy> = Object.freeze({
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
})

/** One key's sign-in failures; plain JSON, bounded (at most maxFailures times are kept). */
export interface ThrottleState {
  /** Times of the failures counted towards a lock: within the window, since the last lock. */
  failures: number[]
  /** Locked until then (UTC milliseconds); null when not locked. */
  lockedUntil: number | null
  /** Failures since the last success, for retryDelayMs. */
  consecutive: number
}

export function initialThrottle(): ThrottleState {
  return { failures: [], lockedUntil: null, consecutive: 0 }
}

/**
 * A failed sign-in at `at`: the failures more than `windowMs` old are forgotten (a failure at t
 * counts while at − t < windowMs); when this one makes `maxFailures`, the key is locked until
 * at + lockMs and the count starts again.
 */
export function recordFailure(
  state: ThrottleState,
  at: number,
  policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
): ThrottleState {
  const failures = [...state.failures.filter((t) => at - t < policy.windowMs), at]
  const consecutive = state.consecutive + 1
  if (failures.length >= policy.maxFailures) {
    const lockedUntil = Math.max(state.lockedUntil ?? -Infinity, at + policy.lockMs)
    return { failures: [], lockedUntil, consecutive }
  }
  return { failures, lockedUntil: state.lockedUntil, consecutive }
}

/** A successful sign-in: everything forgotten. */
export function recordSuccess(_state: ThrottleState): ThrottleState {
  return initialThrottle()
}

export type SignInVerdict = { allowed: true } | { allowed: false; until: number; why: string }

/** Whether a sign-in may be tried at `at`: not while the key is locked (until lockedUntil, excluded). */
export function signInAllowed(
  state: ThrottleState,
  at: number,
  policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
): SignInVerdict {
  const until = state.lockedUntil
  if (until === null || at >= until) return { allowed: true }
  return {
    allowed: false,
    until,
    why: `too many failed sign-ins (${policy.maxFailures} within ${durationWords(policy.windowMs)}): locked until ${isoTime(until)}`,
  }
}

/** The longest pause retryDelayMs gives. */
export const MAX_RETRY_DELAY_MS = 30_000

/**
 * The pause before answering after `failures` consecutive failures: none for the first
 * (a typo), then 1 s, doubling, at most 30 s: 0, 0, 1 s, 2 s, 4 s, 8 s, 16 s, 30 s, 30 s, …
 * for failures = 0, 1, 2, 3, …
 */
export function retryDelayMs(failures: number): number {
  const n = Number.isNaN(failures) ? 0 : Math.floor(failures)
  if (n < 2) return 0
  return Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(n - 2, 30))
}
