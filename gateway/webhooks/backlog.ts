import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { type Migration, openDatabase, transaction } from '../store/sqlite-db.ts'

/**
 * The durable backlog of the webhooks (webhooks.db in the data directory): one row per delivery
 * (an event for a hook), pending until the receiver answers 2xx (then deleted) or given up after
 * the last attempt (then kept as failed, the latest FAILED_KEPT per hook). The counters of each
 * hook survive restarts.
 */

/** Failed deliveries kept per hook (the oldest go first). */
export const FAILED_KEPT = 1000

const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE deliveries (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     hook TEXT NOT NULL,
     event TEXT NOT NULL,
     body TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     failed_at INTEGER
   );
   CREATE INDEX deliveries_by_hook ON deliveries (hook, state, seq);
   CREATE TABLE hooks (
     id TEXT PRIMARY KEY,
     delivered INTEGER NOT NULL DEFAULT 0,
     failed INTEGER NOT NULL DEFAULT 0,
     dropped INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     last_delivered_at INTEGER
   );`,
]

export interface DeliveryRow {
  seq: number
  id: string
  hook: string
  event: string
  body: string
  attempts: number
  next_at: number
  last_error: string | null
  created_at: number
}

export interface FailedDeliveryRow {
  id: string
  event: string
  body: string
  attempts: number
  lastError: string | null
  createdAt: number
  failedAt: number
}

export interface HookCounters {
  pending: number
  delivered: number
  failed: number
  dropped: number
  lastError: string | null
  lastDeliveredAt: number | null
  nextAttemptAt: number | null
}

export interface NewDelivery {
  id: string
  hook: string
  event: string
  body: string
  createdAt: number
}

export class Backlog {
  readonly #db: DatabaseSync
  readonly #insert: StatementSync
  readonly #ensureHook: StatementSync
  readonly #count: StatementSync
  readonly #trimPending: StatementSync
  readonly #addDropped: StatementSync
  readonly #head: StatementSync
  readonly #delete: StatementSync
  readonly #addDelivered: StatementSync
  readonly #retry: StatementSync
  readonly #setLastError: StatementSync
  readonly #giveUp: StatementSync
  readonly #addFailed: StatementSync
  readonly #trimFailed: StatementSync
  readonly #counters: StatementSync
  readonly #failedList: StatementSync

  constructor(path: string) {
    this.#db = openDatabase(path, MIGRATIONS)
    const db = this.#db
    this.#insert = db.prepare(
      `INSERT INTO deliveries (id, hook, event, body, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    )
    this.#ensureHook = db.prepare('INSERT OR IGNORE INTO hooks (id) VALUES (?)')
    this.#count = db.prepare(
      `SELECT COUNT(*) AS n FROM deliveries WHERE hook = ? AND state = 'pending'`,
    )
    // The delivery being attempted (`seq <> ?`) is never dropped under the feet of its attempt.
    this.#trimPending = db.prepare(
      `DELETE FROM deliveries WHERE seq IN (
         SELECT seq FROM deliveries WHERE hook = ? AND state = 'pending' AND seq <> ?
         ORDER BY seq LIMIT ?)`,
    )
    this.#addDropped = db.prepare('UPDATE hooks SET dropped = dropped + ? WHERE id = ?')
    this.#head = db.prepare(
      `SELECT seq, id, hook, event, body, attempts, next_at, last_error, created_at
         FROM deliveries WHERE hook = ? AND state = 'pending' ORDER BY seq LIMIT 1`,
    )
    this.#delete = db.prepare('DELETE FROM deliveries WHERE seq = ?')
    this.#addDelivered = db.prepare(
      'UPDATE hooks SET delivered = delivered + 1, last_delivered_at = ? WHERE id = ?',
    )
    this.#retry = db.prepare(
      'UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ? WHERE seq = ?',
    )
    this.#setLastError = db.prepare('UPDATE hooks SET last_error = ? WHERE id = ?')
    this.#giveUp = db.prepare(
      `UPDATE deliveries SET state = 'failed', attempts = ?, next_at = NULL, last_error = ?,
         failed_at = ? WHERE seq = ?`,
    )
    this.#addFailed = db.prepare('UPDATE hooks SET failed = failed + 1 WHERE id = ?')
    this.#trimFailed = db.prepare(
      `DELETE FROM deliveries WHERE seq IN (
         SELECT seq FROM deliveries WHERE hook = ? AND state = 'failed'
         ORDER BY seq DESC LIMIT -1 OFFSET ${FAILED_KEPT})`,
    )
    this.#counters = db.prepare(
      `SELECT h.delivered, h.failed, h.dropped, h.last_error, h.last_delivered_at,
         (SELECT COUNT(*) FROM deliveries d WHERE d.hook = h.id AND d.state = 'pending') AS pending,
         (SELECT d.next_at FROM deliveries d WHERE d.hook = h.id AND d.state = 'pending'
           ORDER BY d.seq LIMIT 1) AS next_at
       FROM hooks h WHERE h.id = ?`,
    )
    this.#failedList = db.prepare(
      `SELECT id, event, body, attempts, last_error, created_at, failed_at FROM deliveries
         WHERE hook = ? AND state = 'failed' ORDER BY seq DESC LIMIT ?`,
    )
  }

  /** Makes sure each hook has its counters row. */
  hooks(ids: readonly string[]): void {
    transaction(this.#db, () => {
      for (const id of ids) this.#ensureHook.run(id)
    })
  }

  /** Hooks with pending deliveries, and how many. */
  pendingByHook(): Map<string, number> {
    const rows = this.#db
      .prepare(
        `SELECT hook, COUNT(*) AS n FROM deliveries WHERE state = 'pending' GROUP BY hook ORDER BY hook`,
      )
      .all() as { hook: string; n: number }[]
    return new Map(rows.map((r) => [r.hook, r.n]))
  }

  /**
   * Adds deliveries, and drops the oldest pending ones of a hook beyond its `maxBacklog`
   * (`dropped` more, counted), in one transaction. `inFlight`: the delivery each hook is
   * attempting, never dropped. Returns how many were dropped per hook.
   */
  enqueue(
    deliveries: readonly NewDelivery[],
    maxBacklog: (hook: string) => number,
    inFlight: (hook: string) => number | undefined,
    droppedBefore: ReadonlyMap<string, number> = new Map(),
  ): Map<string, number> {
    const dropped = new Map<string, number>()
    transaction(this.#db, () => {
      const hooks = new Set(droppedBefore.keys())
      for (const d of deliveries) {
        this.#insert.run(d.id, d.hook, d.event, d.body, d.createdAt, d.createdAt)
        hooks.add(d.hook)
      }
      for (const hook of hooks) {
        this.#ensureHook.run(hook)
        const n = this.trim(hook, maxBacklog(hook), inFlight(hook)) + (droppedBefore.get(hook) ?? 0)
        if (n > 0) {
          this.#addDropped.run(n, hook)
          dropped.set(hook, n)
        }
      }
    })
    return dropped
  }

  /** Drops the oldest pending deliveries of `hook` beyond `max` (not counted here). */
  trim(hook: string, max: number, inFlight: number | undefined): number {
    const { n } = this.#count.get(hook) as { n: number }
    if (n <= max) return 0
    return Number(this.#trimPending.run(hook, inFlight ?? -1, n - max).changes)
  }

  /** `trim` and count what went as dropped. */
  trimAndCount(hook: string, max: number): number {
    return transaction(this.#db, () => {
      this.#ensureHook.run(hook)
      const n = this.trim(hook, max, undefined)
      if (n > 0) this.#addDropped.run(n, hook)
      return n
    })
  }

  /** The oldest pending delivery of the hook: the next to attempt (deliveries go in order). */
  head(hook: string): DeliveryRow | undefined {
    return this.#head.get(hook) as DeliveryRow | undefined
  }

  delivered(row: DeliveryRow, at: number): void {
    transaction(this.#db, () => {
      this.#delete.run(row.seq)
      this.#addDelivered.run(at, row.hook)
    })
  }

  retryLater(row: DeliveryRow, attempts: number, nextAt: number, error: string): void {
    transaction(this.#db, () => {
      this.#retry.run(attempts, nextAt, error, row.seq)
      this.#setLastError.run(error, row.hook)
    })
  }

  giveUp(row: DeliveryRow, attempts: number, error: string, at: number): void {
    transaction(this.#db, () => {
      this.#giveUp.run(attempts, error, at, row.seq)
      this.#addFailed.run(row.hook)
      this.#setLastError.run(error, row.hook)
      this.#trimFailed.run(row.hook)
    })
  }

  counters(hook: string): HookCounters {
    const row = this.#counters.get(hook) as
      | {
          delivered: number
          failed: number
          dropped: number
          last_error: string | null
          last_delivered_at: number | null
          pending: number
          next_at: number | null
        }
      | undefined
    if (!row) {
      return {
        pending: 0,
        delivered: 0,
        failed: 0,
        dropped: 0,
        lastError: null,
        lastDeliveredAt: null,
        nextAttemptAt: null,
      }
    }
    return {
      pending: row.pending,
      delivered: row.delivered,
      failed: row.failed,
      dropped: row.dropped,
      lastError: row.last_error,
      lastDeliveredAt: row.last_delivered_at,
      nextAttemptAt: row.next_at,
    }
  }

  /** The latest failed (given up) deliveries of a hook, newest first. */
  failed(hook: string, limit: number): FailedDeliveryRow[] {
    const rows = this.#failedList.all(hook, limit) as {
      id: string
      event: string
      body: string
      attempts: number
      last_error: string | null
      created_at: number
      failed_at: number
    }[]
    return rows.map((r) => ({
      id: r.id,
      event: r.event,
      body: r.body,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at,
      failedAt: r.failed_at,
    }))
  }

  close(): void {
    this.#db.close()
  }
}
