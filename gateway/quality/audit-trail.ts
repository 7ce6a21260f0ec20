import { readFileSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import {
  type AuditEntry,
  type AuditFields,
  type AuditHead,
  type AuditVerdict,
  auditEntry,
  verifyAudit,
} from '../../rules/quality/index.ts'
import type { AuditEntryView } from '../contract.ts'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { TimeSeriesStore } from '../store/types.ts'

/**
 * The audit trail (21 CFR Part 11 §11.10(e), EU GMP Annex 11 §9): every change to NCs, CAPAs,
 * signatures, users, limits, alarm settings and the configuration, append-only and hash-chained
 * (rules/quality/audit.ts), in the records' `audit` table. Each entry belongs to a chain: SQLite
 * has one (`main`); in PostgreSQL, which several gateways share, each gateway appends to its own
 * (cluster.gateway), numbered and hashed independently, so no two gateways ever contend for the
 * next number. `linewatch audit verify` verifies every chain.
 *
 * `append` makes the entry at once (its sequence number and hash follow the head kept here), and
 * queues its insert on the records writer: it commits in the same transaction as the change it
 * records when both are queued in the same turn. After each commit the head (sequence number
 * and hash of the latest entry) is also written outside the database — to `audit-head.json` in
 * the data directory (written whole, fsync'd, renamed) and to the time-series store as an
 * event of `AUDIT_SERIES` — so that removing entries at the end of the trail, which leaves a
 * chain intact as far as it goes, is still detected (`linewatch audit verify`), and the gateway
 * refuses to start on such a trail (LW_ERR_AUDIT_TRUNCATED).
 */
export interface AuditTrail {
  start(): void
  append(fields: AuditFields): AuditEntry
  /** Entries of one record, or of a time range, oldest first. */
  list(query: {
    entity?: string | undefined
    entityId?: string | undefined
    from?: number | undefined
    to?: number | undefined
    limit: number
  }): Promise<AuditEntryView[]>
  head(): AuditHead | null
  /** Resolves once the head outside the database is written (it follows each commit). */
  settled(): Promise<void>
  /** Stops writing the head again (`republishMs`); resolves as `settled`. */
  stop(): Promise<void>
  /** The chain this trail appends to. */
  readonly chain: string
}

/** The time-series "characteristic" the head is written under. */
export const AUDIT_SERIES = 'linewatch.audit'
export const AUDIT_HEAD_FILE = 'audit-head.json'

export const AUDIT_STATEMENTS = {
  audit: `INSERT INTO audit (chain, seq, at, actor, action, entity, entity_id, reason, before, after, prev_hash, hash)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
}

interface AuditRow {
  seq: number
  at: number
  actor: string
  action: string
  entity: string
  entity_id: string
  reason: string
  before: string
  after: string
  prev_hash: string
  hash: string
}

export function entryOfRow(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    entity: r.entity,
    entityId: r.entity_id,
    reason: r.reason,
    before: JSON.parse(r.before),
    after: JSON.parse(r.after),
    prevHash: r.prev_hash,
    hash: r.hash,
  }
}

/**
 * Writes the head file whole: a crash leaves the old one or the new one, never half of one. Off
 * the calling thread (the fsync takes milliseconds).
 */
async function writeHeadFileAsync(path: string, head: AuditHead): Promise<void> {
  const tmp = `${path}.tmp`
  const file = await open(tmp, 'w', 0o600)
  try {
    await file.writeFile(`${JSON.stringify(head)}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(tmp, path)
}

export function readHeadFile(path: string): AuditHead | null {
  try {
    const head = JSON.parse(readFileSync(path, 'utf8')) as AuditHead
    return Number.isInteger(head.seq) && typeof head.hash === 'string' ? head : null
  } catch {
    return null
  }
}

export function createAuditTrail(ctx: {
  db: RecordsDb
  /** The chain appended to (default `main`). */
  chain?: string
  run: (statement: 'audit', params: (string | number)[]) => void
  whenDurable: (done: () => void) => void
  /**
   * Calls `done` once what was written is committed, without hurrying the commit (the head file
   * follows it: a commit at once per entry rewrote the pages of everything queued with it, as
   * often as NCs open). By default `whenDurable`.
   */
  whenCommitted?: ((done: () => void) => void) | undefined
  headPath: string
  store: TimeSeriesStore
  log: Logger
  /**
   * Writes the head again at start and at this interval, however quiet the trail: the
   * time-series store's retention deletes old events, and a trail without entries for longer
   * would otherwise leave no head there to compare (`linewatch audit verify`). Off when left out.
   */
  republishMs?: number | undefined
}): AuditTrail {
  let head: AuditHead | null = null
  let republisher: NodeJS.Timeout | null = null
  let headScheduled = false
  const chain = ctx.chain ?? 'main'
  /** The head file's writing, one at a time, of the latest head (null: none under way). */
  let headWriting: Promise<void> | null = null
  let headToWrite: AuditHead | null = null

  async function writeHeads(): Promise<void> {
    while (headToWrite) {
      const h = headToWrite
      headToWrite = null
      try {
        await writeHeadFileAsync(ctx.headPath, h)
      } catch (err) {
        ctx.log.error({ err, path: ctx.headPath }, 'the audit head could not be written')
      }
    }
    headWriting = null
  }

  function publishHead(): void {
    headScheduled = false
    const h = head
    if (!h) return
    // The file is written off the judging thread; it never runs ahead of the committed trail.
    headToWrite = h
    headWriting ??= writeHeads()
    ctx.store.write({
      kind: 'event',
      characteristic: AUDIT_SERIES,
      ts: Date.now(),
      type: 'audit-head',
      detail: JSON.stringify(h),
    })
  }

  return {
    start() {
      const last = ctx.db
        .prepare('SELECT seq, hash FROM audit WHERE chain = ? ORDER BY seq DESC LIMIT 1')
        .get(chain) as AuditHead | undefined
      head = last ? { seq: last.seq, hash: last.hash } : null
      const outside = readHeadFile(ctx.headPath)
      if (outside && (head === null || outside.seq > head.seq)) {
        // Entries the head outside says existed are gone: appending now would reuse their numbers
        // and overwrite the head that shows it. A regulated record refuses instead.
        throw new LinewatchError(
          'LW_ERR_AUDIT_TRUNCATED',
          `the audit trail ends at entry ${head?.seq ?? 0} but its head in ${ctx.headPath} is entry ${outside.seq}: entries were removed (run \`linewatch audit verify\`; docs/errors.md says what to do)`,
        )
      }
      if (ctx.republishMs !== undefined) {
        publishHead()
        republisher = setInterval(publishHead, ctx.republishMs)
        republisher.unref()
      }
    },

    append(fields) {
      const entry = auditEntry(head, fields)
      head = { seq: entry.seq, hash: entry.hash }
      ctx.run('audit', [
        chain,
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.entity,
        entry.entityId,
        entry.reason,
        JSON.stringify(entry.before),
        JSON.stringify(entry.after),
        entry.prevHash,
        entry.hash,
      ])
      if (!headScheduled) {
        headScheduled = true
        const afterCommit = ctx.whenCommitted ?? ctx.whenDurable
        afterCommit(publishHead)
      }
      return entry
    },

    async list({ entity, entityId, from, to, limit }) {
      await new Promise<void>((resolve) => ctx.whenDurable(resolve))
      const where: string[] = []
      const params: (string | number)[] = []
      if (entity) {
        where.push('entity = ?')
        params.push(entity)
      }
      if (entityId) {
        where.push('entity_id = ?')
        params.push(entityId)
      }
      if (from !== undefined) {
        where.push('at >= ?')
        params.push(from)
      }
      if (to !== undefined) {
        where.push('at < ?')
        params.push(to)
      }
      // One chain: in its order. Several (PostgreSQL): in time, each chain in its order.
      const order = ctx.db.dialect === 'postgres' ? 'at, chain, seq' : 'seq'
      const rows = ctx.db
        .prepare(
          `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`,
        )
        .all(...params, limit) as unknown as AuditRow[]
      return rows.map(entryOfRow)
    },

    head: () => head,

    settled: () => headWriting ?? Promise.resolve(),
    stop() {
      if (republisher) clearInterval(republisher)
      republisher = null
      return headWriting ?? Promise.resolve()
    },
    chain,
  }
}

/** A verdict on the records' audit trail: on a failure, the chain the broken entry is in. */
export type TrailVerdict =
  | { ok: true; count: number; head: AuditHead; chains: number }
  | { ok: false; seq: number; why: string; chain: string }

/**
 * Verifies every chain of the trail in `db` in chunks (memory stays bounded whatever its
 * length): each chunk with the pure verifier, chained to the one before; then the end of
 * `chain` (this gateway's) against `head` (the head kept outside: a trail shorter than it was
 * truncated). The first broken entry is named with its chain when the records hold chains of
 * several gateways (PostgreSQL). `head` in the verdict is `chain`'s. At once (the CLI).
 */
export function verifyAuditTrail(
  db: RecordsDb,
  head: AuditHead | null,
  chain = 'main',
): TrailVerdict {
  const steps = trailSteps(db, head, chain)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/**
 * `verifyAuditTrail` a chunk (5,000 entries, some 50 ms) per turn of the event loop: the
 * gateway's API verifies its own trail on the judging thread, which a trail of a million
 * entries would otherwise hold for seconds. Entries appended meanwhile are verified too.
 */
export async function verifyAuditTrailInTurns(
  db: RecordsDb,
  head: AuditHead | null,
  chain = 'main',
): Promise<TrailVerdict> {
  const steps = trailSteps(db, head, chain)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** The verification, a chunk per step. */
function* trailSteps(
  db: RecordsDb,
  head: AuditHead | null,
  chain: string,
): Generator<void, TrailVerdict> {
  const chains = (
    db.prepare('SELECT DISTINCT chain FROM audit ORDER BY chain').all() as { chain: string }[]
  ).map((r) => r.chain)
  if (!chains.includes(chain)) chains.push(chain)
  // SQLite's single chain keeps its messages as they were; PostgreSQL's name the chain.
  const named = (c: string, why: string) =>
    db.dialect === 'postgres' ? `chain "${c}": ${why}` : why
  let count = 0
  let own: AuditHead = { seq: 0, hash: '' }
  for (const c of chains) {
    const verdict = yield* chainSteps(db, c, c === chain ? head : null)
    if (!verdict.ok) return { ...verdict, why: named(c, verdict.why), chain: c }
    count += verdict.count
    if (c === chain) own = verdict.head
  }
  return { ok: true, count, head: own, chains: chains.length }
}

function* chainSteps(
  db: RecordsDb,
  chain: string,
  head: AuditHead | null,
): Generator<void, AuditVerdict> {
  const CHUNK = 5000
  const page = db.prepare('SELECT * FROM audit WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?')
  let prev: AuditEntry | null = null
  let count = 0
  for (;;) {
    const rows = page.all(chain, prev?.seq ?? 0, CHUNK) as unknown as AuditRow[]
    if (rows.length === 0) break
    const entries = rows.map(entryOfRow)
    const verdict = verifyAudit(entries, undefined, prev ?? undefined)
    if (!verdict.ok) return verdict
    count += entries.length
    prev = entries[entries.length - 1] as AuditEntry
    yield
  }
  const last: AuditHead | null = prev ? { seq: prev.seq, hash: prev.hash } : null
  if (head) {
    if (!last || last.seq < head.seq) {
      return {
        ok: false,
        seq: (last?.seq ?? 0) + 1,
        why: `the trail ends at entry ${last?.seq ?? 0} but its head outside the database is entry ${head.seq}: entries ${(last?.seq ?? 0) + 1}–${head.seq} were removed`,
      }
    }
    const at = db
      .prepare('SELECT hash FROM audit WHERE chain = ? AND seq = ?')
      .get(chain, head.seq) as { hash: string } | undefined
    if (at?.hash !== head.hash) {
      return {
        ok: false,
        seq: head.seq,
        why: `entry ${head.seq} does not have the hash its head outside the database records`,
      }
    }
  }
  return { ok: true, count, head: last ?? { seq: 0, hash: '' } }
}
