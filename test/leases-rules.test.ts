import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  fnv1a32,
  type LeaseMember,
  type LeaseRow,
  partitionOf,
  planLeases,
  preferredMember,
} from '../rules/index.ts'

// Ownership of partitions by leases (rules/leases.ts). The database is simulated by a Map with
// the conditional statements' semantics written out here: an acquisition takes a row that is
// missing, expired, or already mine; a renewal touches only my rows; a release deletes only mine.

/** FNV-1a 32-bit written from the FNV spec with BigInt arithmetic: the reference. */
function referenceFnv1a32(text: string): number {
  let hash = 0x811c9dc5n
  for (const byte of Buffer.from(text, 'utf8'))
    hash = ((hash ^ BigInt(byte)) * 0x01000193n) % 2n ** 32n
  return Number(hash)
}

describe('partitionOf', () => {
  it('matches the FNV spec test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })

  it('is FNV-1a over the UTF-8 bytes, modulo the partitions', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.integer({ min: 1, max: 4096 }),
        (id, partitions) => {
          expect(partitionOf(id, partitions)).toBe(referenceFnv1a32(id) % partitions)
        },
      ),
    )
  })
})

const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), {
  minLength: 1,
  maxLength: 7,
})

describe('preferredMember', () => {
  it('gives every partition exactly one preferred member, whatever the order of the list', () => {
    fc.assert(
      fc.property(
        names,
        fc.integer({ min: 0, max: 4095 }),
        fc.infiniteStream(fc.nat()),
        (members, partition, randoms) => {
          const preferred = preferredMember(partition, members)
          expect(members).toContain(preferred)
          const shuffled = [...members].sort(() => (randoms.next().value % 3) - 1)
          expect(preferredMember(partition, shuffled)).toBe(preferred)
          expect(preferredMember(partition, [...members].reverse())).toBe(preferred)
        },
      ),
    )
    expect(preferredMember(0, [])).toBeUndefined()
  })

  it('moves about 1/n of the partitions to a member that joins, and none elsewhere', () => {
    const P = 1024
    fc.assert(
      fc.property(names, fc.string({ minLength: 1, maxLength: 12 }), (members, joining) => {
        fc.pre(!members.includes(joining))
        const after = [...members, joining]
        let moved = 0
        for (let p = 0; p < P; p++) {
          const before = preferredMember(p, members)
          const now = preferredMember(p, after)
          if (now !== before) {
            moved++
            expect(now).toBe(joining)
          }
        }
        // 1/n expected; twice that plus a little covers the binomial spread.
        expect(moved).toBeLessThanOrEqual((2 * P) / after.length + 16)
      }),
    )
  })

  it('moves only the partitions of a member that leaves', () => {
    const P = 512
    fc.assert(
      fc.property(names, fc.nat(), (members, pick) => {
        fc.pre(members.length >= 2)
        const leaving = members[pick % members.length] as string
        const remaining = members.filter((m) => m !== leaving)
        for (let p = 0; p < P; p++) {
          const before = preferredMember(p, members)
          if (before !== leaving) expect(preferredMember(p, remaining)).toBe(before)
          else expect(remaining).toContain(preferredMember(p, remaining))
        }
      }),
    )
  })
})

interface SimulatedLease extends LeaseRow {
  epoch: number
}

/** A plant of gateways planning in rounds against a simulated lease table. */
class Plant {
  readonly table = new Map<number, SimulatedLease>()
  readonly members = new Map<string, LeaseMember>()
  now = 1_000_000
  /** Every holder change per partition, in order. */
  readonly history = new Map<number, string[]>()

  readonly partitions: number
  readonly leaseMs: number
  readonly settleMs: number

  constructor(partitions: number, leaseMs: number, settleMs: number) {
    this.partitions = partitions
    this.leaseMs = leaseMs
    this.settleMs = settleMs
  }

  join(name: string) {
    this.members.set(name, { name, joinedAt: this.now })
  }

  /** A crash: it plans no more; its member row and leases simply stop being renewed. */
  crash(name: string) {
    this.members.delete(name)
  }

  /** One round: every live member plans and applies its plan, in the given order; time moves on a third of a lease. */
  /** What `me` would do now, seeing the members and leases as they are. */
  planOf(me: string) {
    return planLeases({
      me,
      partitions: this.partitions,
      members: [...this.members.values()],
      leases: [...this.table.values()],
      now: this.now,
      settleMs: this.settleMs,
    })
  }

  round(order: readonly number[] = []) {
    const planners = [...this.members.keys()]
    for (let i = 0; i < order.length && planners.length > 1; i++) {
      const j = (order[i] as number) % planners.length
      const [moved] = planners.splice(j, 1)
      planners.push(moved as string)
    }
    for (const me of planners) {
      const plan = this.planOf(me)
      for (const p of plan.renew) {
        const row = this.table.get(p)
        if (row?.holder === me) row.expiresAt = this.now + this.leaseMs
      }
      for (const p of plan.acquire) {
        const row = this.table.get(p)
        if (!row || row.expiresAt < this.now || row.holder === me) {
          this.table.set(p, {
            partition: p,
            holder: me,
            epoch: (row?.epoch ?? 0) + 1,
            expiresAt: this.now + this.leaseMs,
          })
          const history = this.history.get(p) ?? []
          if (history.at(-1) !== me) history.push(me)
          this.history.set(p, history)
        }
      }
      for (const p of plan.release) if (this.table.get(p)?.holder === me) this.table.delete(p)
    }
    this.now += Math.floor(this.leaseMs / 3)
  }

  rounds(n: number, orders: readonly number[][] = []) {
    for (let i = 0; i < n; i++) this.round(orders[i % Math.max(1, orders.length)] ?? [])
  }

  /** Each partition's holder if it is held, unexpired, by a live member. */
  holders(): Map<number, string> {
    const held = new Map<number, string>()
    for (const [p, row] of this.table)
      if (row.expiresAt > this.now && this.members.has(row.holder)) held.set(p, row.holder)
    return held
  }

  expectSettled() {
    const holders = this.holders()
    const live = [...this.members.keys()]
    for (let p = 0; p < this.partitions; p++) {
      expect(holders.get(p), `partition ${p}`).toBe(preferredMember(p, live))
    }
    // And nobody would change anything.
    for (const me of live) {
      const plan = this.planOf(me)
      expect(plan.acquire).toEqual([])
      expect(plan.release).toEqual([])
    }
  }
}

const LEASE_MS = 9000
/** Rounds enough for expiries and settling (a round is a third of a lease). */
const SETTLE_ROUNDS = 3 * 2 + 6

const orders = fc.array(fc.array(fc.nat(), { maxLength: 8 }), { maxLength: 5 })

describe('planLeases', () => {
  it('a lone member takes everything', () => {
    const plan = planLeases({
      me: 'a',
      partitions: 6,
      members: [{ name: 'a', joinedAt: 0 }],
      leases: [
        { partition: 1, holder: 'dead', expiresAt: 10_000 },
        { partition: 2, holder: 'a', expiresAt: 10_000 },
        { partition: 3, holder: 'gone', expiresAt: 10 },
      ],
      now: 5_000,
      settleMs: 1_000,
    })
    expect(plan).toEqual({ acquire: [0, 1, 3, 4, 5], renew: [2], release: [] })
  })

  it('ends with every partition held by exactly one live member, its preferred one', () => {
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 48 }), orders, (members, partitions, order) => {
        const plant = new Plant(partitions, LEASE_MS, LEASE_MS)
        for (const m of members) plant.join(m)
        plant.rounds(SETTLE_ROUNDS, order)
        plant.expectSettled()
      }),
    )
  })

  it('gateways starting one after another within settleMs move each partition at most once', () => {
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 48 }), orders, (members, partitions, order) => {
        // One joins per round (a third of a lease apart): the whole span stays under settleMs.
        const settleMs = LEASE_MS * members.length
        const staggered = new Plant(partitions, LEASE_MS, settleMs)
        for (const m of members) {
          staggered.join(m)
          staggered.round(order[0] ?? [])
        }
        staggered.rounds(3 * members.length + SETTLE_ROUNDS, order)
        staggered.expectSettled()
        for (const [p, holders] of staggered.history) {
          expect(holders.length, `partition ${p}: ${holders.join(' → ')}`).toBeLessThanOrEqual(2)
        }
      }),
    )
  })

  it('after a crash, only the crashed member’s partitions move, once its leases expire', () => {
    fc.assert(
      fc.property(
        names,
        fc.integer({ min: 1, max: 48 }),
        fc.nat(),
        orders,
        (members, partitions, pick, order) => {
          fc.pre(members.length >= 2)
          const plant = new Plant(partitions, LEASE_MS, LEASE_MS)
          for (const m of members) plant.join(m)
          plant.rounds(SETTLE_ROUNDS, order)
          const before = plant.holders()
          const crashed = members[pick % members.length] as string
          const crashedAt = plant.now
          const crashedRows = new Map(
            [...plant.table]
              .filter(([, row]) => row.holder === crashed)
              .map(([p, row]) => [p, { ...row }]),
          )
          plant.crash(crashed)
          plant.rounds(SETTLE_ROUNDS, order)
          plant.expectSettled()
          const after = plant.holders()
          for (const [p, holder] of before) {
            if (holder !== crashed) expect(after.get(p)).toBe(holder)
            else {
              const row = plant.table.get(p) as SimulatedLease
              expect(row.epoch).toBeGreaterThan((crashedRows.get(p) as SimulatedLease).epoch)
              expect(crashedAt).toBeLessThanOrEqual(
                (crashedRows.get(p) as SimulatedLease).expiresAt,
              )
            }
          }
        },
      ),
    )
  })

  it('a member that joins gets its share only after settleMs, then about 1/n of the partitions', () => {
    fc.assert(
      fc.property(
        names,
        fc.string({ minLength: 1, maxLength: 12 }),
        orders,
        (members, joining, order) => {
          fc.pre(!members.includes(joining))
          const partitions = 64
          const settleMs = 2 * LEASE_MS
          const plant = new Plant(partitions, LEASE_MS, settleMs)
          for (const m of members) plant.join(m)
          plant.rounds(SETTLE_ROUNDS + 6, order)
          const before = plant.holders()
          plant.join(joining)
          // Before settleMs has passed: nothing moves (every partition is held by a live member).
          plant.rounds(Math.floor(settleMs / Math.floor(LEASE_MS / 3)) - 1, order)
          expect(plant.holders()).toEqual(before)
          plant.rounds(SETTLE_ROUNDS, order)
          plant.expectSettled()
          const after = plant.holders()
          let moved = 0
          for (const [p, holder] of after) {
            if (holder !== before.get(p)) {
              moved++
              expect(holder).toBe(joining)
            }
          }
          const n = members.length + 1
          expect(moved).toBeLessThanOrEqual((2 * partitions) / n + 8)
        },
      ),
    )
  })
})
