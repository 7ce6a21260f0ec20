import type { DatabaseSync } from 'node:sqlite'
import type { DeadLettersView, DeadLetterView } from '../contract.ts'
import type { Logger } from '../log.ts'
import { REJECT_REASONS, type Rejection, type RejectReason } from '../sources/types.ts'
import { transaction } from '../store/sqlite-db.ts'

/**
 * Keeps every refused message with its reason: counted at once, logged (rate-limited, so a
 * misbehaving device cannot flood the log), and stored in batches in the records database,
 * where the API shows it. The newest `keep` dead letters are kept; totals are kept for ever.
 */
export interface DeadLetters {
  add(rejection: Rejection): void
  counts(): Record<RejectReason, number>
  list(query: { reason?: RejectReason | undefined; limit: number }): DeadLettersView
  /** Writes what is buffered. */
  flush(): void
  stop(): void
}

const MAX_KEPT_PAYLOAD = 64 * 1024

/** A dead_letter row: the view's fields, with the payload as stored. */
type DeadLetterRow = Omit<DeadLetterView, 'payloadText' | 'payloadBase64'> & { payload: Uint8Array }
const LOG_EVERY_MS = 10_000

export function createDeadLetters(
  db: DatabaseSync,
  log: Logger,
  options: { keep?: number; flushIntervalMs?: number } = {},
): DeadLetters {
  const keep = options.keep ?? 100_000
  const counts = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
    RejectReason,
    number
  >
  for (const row of db.prepare('SELECT reason, count FROM dead_letter_count').all() as {
    reason: RejectReason
    count: number
  }[]) {
    counts[row.reason] = row.count
  }
  let buffer: Rejection[] = []
  const insert = db.prepare(
    'INSERT INTO dead_letter (ts, source, reason, detail, address, size, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const count = db.prepare(
    'INSERT INTO dead_letter_count (reason, count) VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count',
  )
  const prune = db.prepare(
    'DELETE FROM dead_letter WHERE id <= (SELECT MAX(id) FROM dead_letter) - ?',
  )
  // Per reason: when it was last logged and how many went unlogged since.
  const logged = new Map<RejectReason, { at: number; suppressed: number }>()

  function flush(): void {
    if (buffer.length === 0) return
    const batch = buffer
    buffer = []
    const added = new Map<RejectReason, number>()
    transaction(db, () => {
      for (const r of batch) {
        const payload = r.payload ?? new Uint8Array()
        insert.run(
          r.ts,
          r.source,
          r.reason,
          r.detail,
          r.address ?? null,
          r.size ?? payload.length,
          payload.subarray(0, MAX_KEPT_PAYLOAD),
        )
        added.set(r.reason, (added.get(r.reason) ?? 0) + 1)
      }
      for (const [reason, n] of added) count.run(reason, n)
      prune.run(keep)
    })
  }

  const timer = setInterval(flush, options.flushIntervalMs ?? 250)

  return {
    add(rejection) {
      counts[rejection.reason]++
      // Copy: a payload may be a view into a larger network buffer.
      buffer.push({
        ...rejection,
        payload: rejection.payload ? Buffer.from(rejection.payload) : undefined,
      })
      const state = logged.get(rejection.reason)
      if (!state || rejection.ts - state.at >= LOG_EVERY_MS) {
        log.warn(
          {
            reason: rejection.reason,
            source: rejection.source,
            address: rejection.address,
            detail: rejection.detail,
            suppressed: state?.suppressed ?? 0,
          },
          'message refused and dead-lettered',
        )
        logged.set(rejection.reason, { at: rejection.ts, suppressed: 0 })
      } else {
        state.suppressed++
      }
    },

    counts: () => ({ ...counts }),

    list({ reason, limit }) {
      flush()
      const rows = (
        reason
          ? db
              .prepare('SELECT * FROM dead_letter WHERE reason = ? ORDER BY id DESC LIMIT ?')
              .all(reason, limit)
          : db.prepare('SELECT * FROM dead_letter ORDER BY id DESC LIMIT ?').all(limit)
      ) as DeadLetterRow[]
      return { counts: { ...counts }, items: rows.map(toView) }
    },

    flush,

    stop() {
      clearInterval(timer)
      flush()
    },
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function toView(row: DeadLetterRow): DeadLetterView {
  let payloadText: string | null = null
  try {
    payloadText = strictUtf8.decode(row.payload)
  } catch {}
  return {
    id: row.id,
    ts: row.ts,
    source: row.source,
    reason: row.reason,
    detail: row.detail,
    address: row.address,
    size: row.size,
    payloadText,
    payloadBase64: Buffer.from(row.payload).toString('base64'),
  }
}
