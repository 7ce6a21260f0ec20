import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  COMMON_PASSWORDS,
  DEFAULT_MIN_PASSWORD_LENGTH,
  DEFAULT_THROTTLE_POLICY,
  initialThrottle,
  MAX_RETRY_DELAY_MS,
  passwordProblems,
  recordFailure,
  recordSuccess,
  retryDelayMs,
  signInAllowed,
  type ThrottlePolicy,
  type ThrottleState,
} from '../rules/quality/index.ts'

/**
 * Password rules after NIST SP 800-63B(-4) (a minimum length counted in code points, no
 * composition rules, no commonly used or expected values) and sign-in throttling (§5.2.2).
 */

describe('password rules', () => {
  const user = 'aweber'

  it('the default minimum is 15 characters (NIST SP 800-63B-4 §3.1.1.2, a single factor): 14 are refused, 15 accepted', () => {
    expect(DEFAULT_MIN_PASSWORD_LENGTH).toBe(15)
    expect(passwordProblems('tqbfjotld-1234', { user })).toEqual([
      'the password must be at least 15 characters (it has 14)',
    ])
    expect(passwordProblems('tqbfjotld-12345', { user })).toEqual([])
    // A configured minimum of 12 (auth.minPasswordLength) takes 12.
    expect(passwordProblems('tqbfjotld-12', { user, minLength: 12 })).toEqual([])
  })

  it('counts code points, not UTF-16 units: six emoji are six characters, not twelve', () => {
    const six = '😀🎉🚀🌍🔥💡'
    expect(six.length).toBe(12) // UTF-16 units
    expect(passwordProblems(six, { user, minLength: 12 })).toEqual([
      'the password must be at least 12 characters (it has 6)',
    ])
    expect(passwordProblems('😀🎉🚀🌍🔥💡🍕🎸🌈⚽🎲🧩', { user, minLength: 12 })).toEqual([])
    expect(
      passwordProblems('p\u00e4\u00dfw\u00f6rt\u00e7h\u00e9n\u20ac', { user, minLength: 12 }),
    ).toEqual([]) // 12
  })

  it('asks for no composition: one character class is fine', () => {
    expect(passwordProblems('correct horse battery staple', { user })).toEqual([])
    expect(passwordProblems('739164205837461', { user })).toEqual([])
  })

  it('honours a minimum set by the site', () => {
    expect(passwordProblems('shortbutok', { user, minLength: 8 })).toEqual([])
    expect(passwordProblems('tqbfjotld-12', { user, minLength: 15 })).toEqual([
      'the password must be at least 15 characters (it has 12)',
    ])
  })

  it('refuses the most common passwords, whatever their case', () => {
    for (const common of ['password', 'PassWord', 'qwertyuiop', '1q2w3e4r5t', 'iloveyou']) {
      expect(passwordProblems(common, { user, minLength: 1 })).toContain(
        'the password is one of the most common passwords',
      )
    }
    expect(COMMON_PASSWORDS).toHaveLength(20)
    expect(COMMON_PASSWORDS.slice(0, 4)).toEqual(['123456', '123456789', 'qwerty', 'password'])
  })

  it('refuses the user name, and a password containing it, ignoring case', () => {
    expect(passwordProblems('AWeber', { user, minLength: 1 })).toEqual([
      'the password must not be the user name',
    ])
    expect(passwordProblems('my-AWEBER-password-2026', { user })).toEqual([
      'the password must not contain the user name',
    ])
    expect(passwordProblems('aweber', { user: '  AWeber  ', minLength: 1 })).toEqual([
      'the password must not be the user name',
    ])
  })

  it('does not look for a user name of fewer than 3 characters inside the password', () => {
    expect(passwordProblems('totally-long-phrase', { user: 'al' })).toEqual([])
    // Two characters, though four UTF-16 units: not looked for either.
    expect(passwordProblems('totally-🦊🦉-phrase', { user: '🦊🦉' })).toEqual([])
    expect(passwordProblems('al', { user: 'al', minLength: 1 })).toEqual([
      'the password must not be the user name',
    ])
  })

  it('refuses one character repeated, counted in code points too', () => {
    expect(passwordProblems('aaaaaaaaaaaaaaa', { user })).toEqual([
      'the password must not be one character repeated',
    ])
    expect(passwordProblems('😀'.repeat(15), { user })).toEqual([
      'the password must not be one character repeated',
    ])
    expect(passwordProblems('a', { user, minLength: 1 })).toEqual([])
  })

  it('lists every problem at once', () => {
    expect(passwordProblems('qwerty', { user: 'qwerty' })).toEqual([
      'the password must be at least 15 characters (it has 6)',
      'the password must not be the user name',
      'the password is one of the most common passwords',
    ])
  })
})

describe('sign-in throttling', () => {
  const policy: ThrottlePolicy = { maxFailures: 3, windowMs: 60_000, lockMs: 300_000 }
  const T = Date.UTC(2026, 5, 1, 7, 0, 0)

  const fail = (state: ThrottleState, ...times: number[]) =>
    times.reduce((s, at) => recordFailure(s, at, policy), state)

  it('locks after maxFailures within the window, until lockMs after the last', () => {
    const two = fail(initialThrottle(), T, T + 10_000)
    expect(signInAllowed(two, T + 10_001, policy)).toEqual({ allowed: true })
    const three = fail(two, T + 20_000)
    expect(three.lockedUntil).toBe(T + 20_000 + 300_000)
    const verdict = signInAllowed(three, T + 20_001, policy)
    expect(verdict).toEqual({
      allowed: false,
      until: T + 320_000,
      why: 'too many failed sign-ins (3 within 1 min): locked until 2026-06-01T07:05:20.000Z',
    })
  })

  it('unlocks once lockMs has passed (the end of the lock excluded)', () => {
    const locked = fail(initialThrottle(), T, T + 1, T + 2)
    expect(signInAllowed(locked, T + 2 + 300_000 - 1, policy).allowed).toBe(false)
    expect(signInAllowed(locked, T + 2 + 300_000, policy).allowed).toBe(true)
  })

  it('forgets failures older than the window: a failure at t counts while at − t < windowMs', () => {
    // Failures at 0 and 30 s; the third at exactly 60 s no longer counts the first.
    const spread = fail(initialThrottle(), T, T + 30_000, T + 60_000)
    expect(spread.lockedUntil).toBeNull()
    expect(spread.failures).toEqual([T + 30_000, T + 60_000])
    // At 59.999 s the first still counts: locked.
    expect(fail(initialThrottle(), T, T + 30_000, T + 59_999).lockedUntil).toBe(T + 359_999)
  })

  it('a success forgets every failure', () => {
    const two = fail(initialThrottle(), T, T + 1)
    const reset = recordSuccess(two)
    expect(reset).toEqual(initialThrottle())
    expect(fail(reset, T + 2, T + 3).lockedUntil).toBeNull() // two again, not four
  })

  it('starts counting again after a lock', () => {
    const locked = fail(initialThrottle(), T, T + 1, T + 2)
    expect(locked.failures).toEqual([])
    const after = T + 2 + 300_000
    const oneMore = fail(locked, after)
    expect(oneMore.lockedUntil).toBe(T + 2 + 300_000) // the old lock, expired: not locked again
    expect(signInAllowed(oneMore, after, policy).allowed).toBe(true)
    expect(fail(oneMore, after + 1, after + 2).lockedUntil).toBe(after + 2 + 300_000)
  })

  it('keeps consecutive failures across a lock, for the retry delay', () => {
    const state = fail(initialThrottle(), T, T + 1, T + 2, T + 400_000)
    expect(state.consecutive).toBe(4)
  })

  it('keeps fewer than maxFailures failure times, whatever the sequence (bounded state)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(200_000), { maxLength: 40 }), (gaps) => {
        let state = initialThrottle()
        let at = T
        for (const gap of gaps) {
          at += gap
          state = recordFailure(state, at, policy)
          expect(state.failures.length).toBeLessThan(policy.maxFailures)
          expect(JSON.parse(JSON.stringify(state))).toEqual(state)
        }
      }),
    )
  })

  it('the default policy: 5 failures within 15 minutes lock for 15 minutes', () => {
    expect(DEFAULT_THROTTLE_POLICY).toEqual({
      maxFailures: 5,
      windowMs: 900_000,
      lockMs: 900_000,
    })
    let state = initialThrottle()
    for (let i = 0; i < 4; i++) state = recordFailure(state, T + i * 60_000)
    expect(state.lockedUntil).toBeNull()
    state = recordFailure(state, T + 4 * 60_000)
    expect(state.lockedUntil).toBe(T + 4 * 60_000 + 900_000)
    expect(signInAllowed(state, T + 5 * 60_000).allowed).toBe(false)
  })
})

describe('retryDelayMs', () => {
  it('none for the first failure, then 1 s doubling to at most 30 s', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map(retryDelayMs)
    expect(delays).toEqual([0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
    expect(MAX_RETRY_DELAY_MS).toBe(30_000)
  })

  it('is 0 for nonsense and capped for huge counts', () => {
    expect(retryDelayMs(Number.NaN)).toBe(0)
    expect(retryDelayMs(-3)).toBe(0)
    expect(retryDelayMs(Number.POSITIVE_INFINITY)).toBe(30_000)
    expect(retryDelayMs(1e9)).toBe(30_000)
  })
})
