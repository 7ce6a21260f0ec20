import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import type { DatabaseSync } from 'node:sqlite'
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
import type { TimeSeriesStore } from '../store/types.ts'

/**
 * The audit trail (21 CFR Part 11 §11.10(e), EU GMP Annex 11 §9): every change to NCs, CAPAs,
 * signatures, users, limits, alarm settings and the configuration, append-only and hash-chained
 * (rules/quality/audit.ts), in records.db's `audit` table.
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
}

/** The time-series "characteristic" the head is written under. */
export const AUDIT_SERIES = 'linewatch.audit'
export const AUDIT_HEAD_FILE = 'audit-head.json'

export const AUDIT_STATEMENTS = {
  audit: `INSERT OR IGNORE INTO audit (seq, at, actor, action, entity, entity_id, reason, before, after, prev_hash, hash)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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

/** Writes the head file whole: a crash leaves the old one or the new one, never half of one. */
export function writeHeadFile(path: string, head: AuditHead): void {
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, `${JSON.stringify(head)}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
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
  db: DatabaseSync
  run: (statement: 'audit', params: (string | number)[]) => void
  whenDurable: (done: () => void) => void
  headPath: string
  store: TimeSeriesStore
  log: Logger
}): AuditTrail {
  let head: AuditHead | null = null
  let headScheduled = false

  function publishHead(): void {
    headScheduled = false
    const h = head
    if (!h) return
    try {
      writeHeadFile(ctx.headPath, h)
    } catch (err) {
      ctx.log.error({ err, path: ctx.headPath }, 'the audit head could not be written')
    }
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
      const last = ctx.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
        | AuditHead
        | undefined
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
    },

    append(fields) {
      const entry = auditEntry(head, fields)
      head = { seq: entry.seq, hash: entry.hash }
      ctx.run('audit', [
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
        ctx.whenDurable(publishHead)
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
      const rows = ctx.db
        .prepare(
          `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`,
        )
        .all(...params, limit) as unknown as AuditRow[]
      return rows.map(entryOfRow)
    },

    head: () => head,
  }
}

/**
 * Verifies the whole trail in `db` in chunks (memory stays bounded whatever its length): each
 * chunk with the pure verifier, chained to the one before, and the end against `head` (the
 * head kept outside: a trail shorter than it was truncated).
 */
export function verifyAuditTrail(db: DatabaseSync, head: AuditHead | null): AuditVerdict {
  const CHUNK = 5000
  const page = db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?')
  let prev: AuditEntry | null = null
  let count = 0
  for (;;) {
    const rows = page.all(prev?.seq ?? 0, CHUNK) as unknown as AuditRow[]
    if (rows.length === 0) break
    const entries = rows.map(entryOfRow)
    const verdict = verifyAudit(entries, undefined, prev ?? undefined)
    if (!verdict.ok) return verdict
    count += entries.length
    prev = entries[entries.length - 1] as AuditEntry
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
    const at = db.prepare('SELECT hash FROM audit WHERE seq = ?').get(head.seq) as
      | { hash: string }
      | undefined
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
