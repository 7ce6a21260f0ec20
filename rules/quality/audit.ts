import { canonicalJson, sha256Hex } from './canonical.ts'
import type { FieldChange } from './roles.ts'

/**
 * The audit trail: append-only and hash-chained, after 21 CFR Part 11 §11.10(e) ("secure,
 * computer-generated, time-stamped audit trails to independently record the date and time of
 * operator entries and actions that create, modify, or delete electronic records. Record
 * changes shall not obscure previously recorded information") and EU GMP Annex 11 §9 (a record
 * of all GMP-relevant changes and deletions, with the reason).
 *
 * Each entry carries the hash of the one before (`prevHash`; the first, 64 zeros) and its own
 * hash over everything else it holds: `hash = SHA-256(canonicalJson(entry without hash))`. An
 * edited entry no longer matches its hash; an entry re-hashed after an edit no longer matches
 * the next entry's `prevHash`; a deleted or moved entry leaves a gap in `seq`. Deleting entries
 * at the end leaves a chain that is intact as far as it goes: only the head (seq and hash of the
 * last entry) kept outside the records database shows it, hence `verifyAudit`'s `head`.
 *
 * Entries are plain JSON, and their hash survives a JSON round trip (see canonicalJson).
 */

/** The hash the first entry links to. */
export const GENESIS_HASH = '0'.repeat(64)

/** The entity kinds the gateway records (others may be added: `entity` is any string). */
export type AuditEntity =
  | 'nc'
  | 'capa'
  | 'user'
  | 'signature'
  | 'limits'
  | 'alarm'
  | 'config'
  | (string & {})

export interface AuditEntry {
  /** 1, 2, 3, … without gaps. */
  seq: number
  /** UTC milliseconds. */
  at: number
  /** Who: a user name, or the process ("system") for what the gateway does by itself. */
  actor: string
  /** What, in a word or two: "investigate", "close", "password changed", … */
  action: string
  entity: AuditEntity
  entityId: string
  /** Why (required for every change: `reasonRequired`). */
  reason: string
  /** The old and the new values (null for a creation or a deletion). */
  before: unknown
  after: unknown
  /** The previous entry's hash; GENESIS_HASH for the first. */
  prevHash: string
  hash: string
}

/** The last entry of a trail, as kept outside it to detect a truncation. */
export interface AuditHead {
  seq: number
  hash: string
}

/** What an entry says, given by whoever appends it. */
export type AuditFields = Pick<
  AuditEntry,
  'at' | 'actor' | 'action' | 'entity' | 'entityId' | 'reason' | 'before' | 'after'
>

export type AuditVerdict =
  | { ok: true; count: number; head: AuditHead }
  | { ok: false; seq: number; why: string }

/** The hash an entry must carry: over every field but `hash`. */
export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  const { seq, at, actor, action, entity, entityId, reason, before, after, prevHash } = entry
  return sha256Hex(
    canonicalJson({ seq, at, actor, action, entity, entityId, reason, before, after, prevHash }),
  )
}

/** The value as it will read back from JSON (undefined → null; undefined members dropped). */
function asStored(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(canonicalJson(value))
}

/**
 * The entry that follows `prev` (null: the first of the trail). Throws an Error when a value
 * has no JSON form (see canonicalJson) or `at` is not a finite number. `before` and `after` are
 * copied as JSON will read them back (undefined → null), so the entry verifies after a store.
 */
export function auditEntry(prev: AuditHead | null, fields: AuditFields): AuditEntry {
  if (!Number.isFinite(fields.at)) throw new Error(`an audit entry needs a time: at = ${fields.at}`)
  const entry: Omit<AuditEntry, 'hash'> = {
    seq: prev === null ? 1 : prev.seq + 1,
    at: fields.at,
    actor: fields.actor,
    action: fields.action,
    entity: fields.entity,
    entityId: fields.entityId,
    reason: fields.reason,
    before: asStored(fields.before),
    after: asStored(fields.after),
    prevHash: prev === null ? GENESIS_HASH : prev.hash,
  }
  return { ...entry, hash: auditHash(entry) }
}

/** The hash an entry should carry, or null when its content cannot be hashed at all. */
function expectedHash(entry: AuditEntry): string | null {
  try {
    return auditHash(entry)
  } catch {
    return null
  }
}

const isSeq = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1

/**
 * Checks a whole trail, given in seq order, and names the first broken entry and why:
 *
 * - a gap or a reorder: the first seq that is not the one expected (`entry 7 is missing: seq 6
 *   is followed by 8`; `entry 1 is missing: the trail begins at seq 2`; a seq that does not
 *   grow: `entry 7: seq 6 is followed by 5 (duplicated or out of order)`);
 * - an edit: `entry 5: its content does not match its hash (edited)`;
 * - a broken link: `entry 6: prevHash does not match entry 5's hash` (entry 5 edited and
 *   re-hashed, or an entry put in from elsewhere); the first entry must link to GENESIS_HASH;
 * - with `head` (kept outside the trail): the trail's entry at the head's seq must carry its
 *   hash (`entry 12's hash differs from the head kept outside`), and the trail must reach it
 *   (`the trail ends at entry 9 but the head kept outside names entry 12 (truncated)`, naming
 *   entry 10, the first one missing). A trail longer than the head is fine: the head is written
 *   after the entries, so a crash between the two leaves it behind. A head of seq 0 (an empty
 *   trail) names nothing.
 *
 * The entries are checked in order: the first problem found is the first broken entry. `seq`
 * in a failure is the number of the entry named first in `why`.
 */
export function verifyAudit(
  entries: readonly AuditEntry[],
  head?: AuditHead,
  /** The entry before `entries`, already verified: to verify a long trail chunk by chunk. */
  after?: AuditHead,
): AuditVerdict {
  let prev: AuditHead | null = after ?? null
  for (const [position, entry] of entries.entries()) {
    const expected = prev === null ? 1 : prev.seq + 1
    if (!isSeq(entry.seq)) {
      return {
        ok: false,
        seq: expected,
        why: `entry ${expected}: the row in position ${position + 1} has no valid seq (${String(entry.seq)})`,
      }
    }
    if (entry.seq > expected) {
      const why =
        prev === null
          ? `entry 1 is missing: the trail begins at seq ${entry.seq}`
          : `entry ${expected} is missing: seq ${prev.seq} is followed by ${entry.seq}`
      return { ok: false, seq: expected, why }
    }
    if (prev !== null && entry.seq < expected) {
      return {
        ok: false,
        seq: expected,
        why: `entry ${expected}: seq ${prev.seq} is followed by ${entry.seq} (duplicated or out of order)`,
      }
    }
    const seq = entry.seq
    if (expectedHash(entry) !== entry.hash) {
      return { ok: false, seq, why: `entry ${seq}: its content does not match its hash (edited)` }
    }
    if (prev === null && entry.prevHash !== GENESIS_HASH) {
      return { ok: false, seq, why: `entry ${seq}: prevHash is not the genesis hash (64 zeros)` }
    }
    if (prev !== null && entry.prevHash !== prev.hash) {
      return {
        ok: false,
        seq,
        why: `entry ${seq}: prevHash does not match entry ${prev.seq}'s hash`,
      }
    }
    if (head !== undefined && head.seq === seq && head.hash !== entry.hash) {
      return { ok: false, seq, why: `entry ${seq}'s hash differs from the head kept outside` }
    }
    prev = entry
  }
  const last: AuditHead = prev === null ? { seq: 0, hash: GENESIS_HASH } : prev
  if (head !== undefined && head.seq > last.seq) {
    const ends = last.seq === 0 ? 'the trail is empty' : `the trail ends at entry ${last.seq}`
    return {
      ok: false,
      seq: last.seq + 1,
      why: `${ends} but the head kept outside names entry ${head.seq} (truncated)`,
    }
  }
  if (head !== undefined && head.seq === 0 && head.hash !== GENESIS_HASH) {
    return {
      ok: false,
      seq: 0,
      why: 'the head kept outside names entry 0 with a hash that is not the genesis hash',
    }
  }
  return { ok: true, count: entries.length, head: { seq: last.seq, hash: last.hash } }
}

export { reasonRequired } from './roles.ts'

/** An action's changes as the before and after values of one audit entry, by field. */
export function auditValues(changes: readonly FieldChange[]): {
  before: Record<string, unknown>
  after: Record<string, unknown>
} {
  const before: Record<string, unknown> = {}
  const after: Record<string, unknown> = {}
  for (const c of changes) {
    before[c.field] = c.before
    after[c.field] = c.after
  }
  return { before, after }
}
