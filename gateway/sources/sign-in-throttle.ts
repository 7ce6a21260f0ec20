import {
  initialThrottle,
  recordFailure,
  type SignInVerdict,
  signInAllowed,
  type ThrottlePolicy,
  type ThrottleState,
} from '../../rules/quality/passwords.ts'

/**
 * Refused MQTT sign-ins per client address (the rules are the dashboard's: rules/quality/
 * passwords.ts): `maxFailures` within the window lock the address. A success does not unlock
 * it: devices behind one NAT address share it, and one that signs in must not reset an
 * attacker's count. Each failure costs an scrypt hash (tens of milliseconds), so the lock also
 * keeps one address from taking the broker thread's time.
 *
 * Bounded: addresses with nothing to remember are pruned, and past `maxAddresses` the oldest
 * entries go (an attacker with that many addresses is not slowed by a per-address lock anyway).
 */
export class SignInThrottle {
  private readonly states = new Map<string, ThrottleState>()
  private readonly policy: ThrottlePolicy
  private readonly maxAddresses: number
  /** Times an address was locked, since start. */
  locks = 0

  constructor(policy: ThrottlePolicy, maxAddresses = 10_000) {
    this.policy = policy
    this.maxAddresses = maxAddresses
  }

  allowed(address: string, now: number): SignInVerdict {
    const state = this.states.get(address)
    return state ? signInAllowed(state, now, this.policy) : { allowed: true }
  }

  /** A refused sign-in; true when it locked the address. */
  failed(address: string, now: number): boolean {
    const before = this.states.get(address) ?? initialThrottle()
    const after = recordFailure(before, now, this.policy)
    // Re-inserted: the map's order is then least recently failed first.
    this.states.delete(address)
    this.states.set(address, after)
    while (this.states.size > this.maxAddresses) {
      const oldest = this.states.keys().next().value as string
      this.states.delete(oldest)
    }
    const locked = after.lockedUntil !== before.lockedUntil
    if (locked) this.locks++
    return locked
  }

  /** Forgets addresses with no lock in force and no failure within the window. */
  prune(now: number): void {
    for (const [address, s] of this.states) {
      const locked = s.lockedUntil !== null && now < s.lockedUntil
      const recent = s.failures.some((t) => now - t < this.policy.windowMs)
      if (!locked && !recent) this.states.delete(address)
    }
  }
}
