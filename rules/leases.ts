/**
 * Which gateway judges which characteristic when several share one plant (docs/scale.md).
 *
 * The characteristics are hashed into a fixed number of partitions (`partitionOf`); each
 * partition is judged by the gateway holding its lease in PostgreSQL. Every gateway computes
 * the same preferred holder for a partition from the list of live gateways (`preferredMember`,
 * rendezvous hashing), so adding or removing a gateway moves only about 1/n of the partitions.
 * `planLeases` says what one gateway should do in one round given what it read from the
 * database; the database's conditional statements have the final word (two gateways that
 * disagree for a moment cannot both hold a partition).
 *
 * Pure: no I/O, no clock. Times are milliseconds on PostgreSQL's clock, read by the caller.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5
const FNV_PRIME = 0x01000193
const utf8 = new TextEncoder()

/** FNV-1a, 32 bits, continued from `hash` over `bytes` (the FNV spec's definition). */
function fnv1aUpdate(hash: number, bytes: Iterable<number>): number {
  let h = hash
  for (const byte of bytes) h = Math.imul(h ^ byte, FNV_PRIME) >>> 0
  return h
}

/** FNV-1a 32-bit of the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  return fnv1aUpdate(FNV_OFFSET_BASIS, utf8.encode(text))
}

/**
 * The partition of a characteristic: FNV-1a 32-bit over the UTF-8 bytes of its id, modulo
 * `partitions`. Part of the cluster's contract: every gateway (whatever its version) must
 * compute the same, so this must never change while a cluster's data exists.
 */
export function partitionOf(characteristicId: string, partitions: number): number {
  return fnv1a32(characteristicId) % partitions
}

/**
 * MurmurHash3's finaliser: FNV-1a alone barely changes its high bits for a change in the last
 * byte, and rendezvous hashing compares whole weights, so the weights are mixed once more.
 */
function fmix32(value: number): number {
  let h = value >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** A member's weight for a partition: FNV-1a over its name's UTF-8 then the partition's 4 bytes (little-endian), mixed. */
function weight(member: string, partition: number): number {
  const p = partition >>> 0
  return fmix32(
    fnv1aUpdate(fnv1a32(member), [p & 255, (p >>> 8) & 255, (p >>> 16) & 255, p >>> 24]),
  )
}

/**
 * The member that should hold `partition`: rendezvous (highest random weight) hashing, the
 * member with the highest weight, a tie going to the name first in code-unit order. The answer
 * does not depend on the order of `members`; undefined when there is none.
 */
export function preferredMember(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined
  let bestWeight = -1
  for (const member of members) {
    const w = weight(member, partition)
    if (w > bestWeight || (w === bestWeight && best !== undefined && member < best)) {
      best = member
      bestWeight = w
    }
  }
  return best
}

/** A live gateway as the member table says: its name and when it joined (ms, database clock). */
export interface LeaseMember {
  name: string
  joinedAt: number
}

/** A lease row as read from the database (ms, database clock). */
export interface LeaseRow {
  partition: number
  holder: string
  expiresAt: number
}

export interface LeasePlanInput {
  /** This gateway's name; counted live even if the member list read lacks it (it is planning). */
  me: string
  partitions: number
  /** The live members (member rows not expired). */
  members: readonly LeaseMember[]
  leases: readonly LeaseRow[]
  /** The database's now, in the same milliseconds as the rows. */
  now: number
  /** A member preferred for a partition another holds gets it only once it has been live this long. */
  settleMs: number
}

/** Partition numbers, each list ascending. */
export interface LeasePlan {
  /** Free, expired, or held by a member no longer live, and preferred for me. */
  acquire: number[]
  /** Every partition whose unexpired lease I hold, including those released this round (the lease must stay valid while the owner flushes). */
  renew: number[]
  /** Held by me, preferred for another live member that has settled: handed over gracefully. */
  release: number[]
}

/** What `me` should do with the leases in one round. */
export function planLeases(input: LeasePlanInput): LeasePlan {
  const { me, partitions, members, leases, now, settleMs } = input
  const joinedAt = new Map<string, number>()
  for (const m of members) joinedAt.set(m.name, m.joinedAt)
  if (!joinedAt.has(me)) joinedAt.set(me, now)
  const live = [...joinedAt.keys()]
  const leaseOf = new Map<number, LeaseRow>()
  for (const lease of leases) leaseOf.set(lease.partition, lease)

  const plan: LeasePlan = { acquire: [], renew: [], release: [] }
  for (let partition = 0; partition < partitions; partition++) {
    const preferred = preferredMember(partition, live) as string
    const lease = leaseOf.get(partition)
    const unexpired = lease !== undefined && lease.expiresAt > now
    if (unexpired && lease.holder === me) {
      plan.renew.push(partition)
      const settledSince = joinedAt.get(preferred) as number
      if (preferred !== me && now - settledSince >= settleMs) plan.release.push(partition)
    } else if (preferred === me && (!unexpired || !joinedAt.has(lease.holder))) {
      plan.acquire.push(partition)
    }
  }
  return plan
}
