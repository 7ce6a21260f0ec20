import type { DeadLettersView, DeadLetterView } from '../contract.ts'
import type { Logger } from '../log.ts'
import { REJECT_REASONS, type Rejection, type RejectReason } from '../sources/types.ts'
import type { RecordsDb } from '../store/records-db.ts'
import { transaction } from '../store/sqlite-db.ts'

/**
 * Keeps every refused message with its reason: counted at once, logged (rate-limited, so a
 * misbehaving device cannot flood the log), and stored in batches in the records database,
 * where the API shows it. What is stored is capped in count and in payload bytes: when either
 * cap is exceeded the oldest go first, and how many went is counted (`pruned`). The totals per
 * reason are kept for ever.
 */
export interface DeadLetters {
  add(rejection: Rejection): void
  counts(): Record<RejectReason, number>
  /** Refusals since this start, per source (e.g. `mqtt`, `opcua:cnc1`, `pipeline`) and reason. */
  countsBySource(): { source: string; reason: RejectReason; count: number }[]
  list(query: { reason?: RejectReason | undefined; limit: number }): DeadLettersView
  /** Dead letters pruned (or never stored) to keep within the caps, since the database began. */
  pruned(): number
  /** What the database holds now (what is buffered is not yet in it). */
  stored(): { count: number; bytes: number }
  /** Writes what is buffered. */
  flush(): void
  stop(): void
}

export interface DeadLetterCaps {
  /** Dead letters kept at most. */
  maxCount: number
  /** Payload bytes kept at most, over all dead letters. */
  maxBytes: number
}

export const DEFAULT_DEAD_LETTER_CAPS: DeadLetterCaps = {
  maxCount: 10_000,
  maxBytes: 64 * 1024 * 1024,
}

/** A payload is kept up to this many bytes (its full size is recorded). */
export const MAX_KEPT_PAYLOAD = 64 * 1024

/** A dead_letter row: the view's fields, with the payload as stored. */
type DeadLetterRow = Omit<DeadLetterView, 'payloadText' | 'payloadBase64'> & { payload: Uint8Array }
/** A refused message as buffered: its payload already cut to what is kept, its size recorded. */
type Pending = Rejection & { payload: Uint8Array; size: number }
const LOG_EVERY_MS = 10_000

export function createDeadLetters(
  db: RecordsDb,
  log: Logger,
  options: Partial<DeadLetterCaps> & { flushIntervalMs?: number } = {},
): DeadLetters {
  const maxCount = options.maxCount ?? DEFAULT_DEAD_LETTER_CAPS.maxCount
  const maxBytes = options.maxBytes ?? DEFAULT_DEAD_LETTER_CAPS.maxBytes
  // A single payload never exceeds the byte cap on its own.
  const keptPayload = Math.min(MAX_KEPT_PAYLOAD, maxBytes)
  const counts = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
    RejectReason,
    number
  >
  let counted = 0
  for (const row of db.prepare('SELECT reason, count FROM dead_letter_count').all() as {
    reason: RejectReason
    count: number
  }[]) {
    counts[row.reason] = row.count
    counted += row.count
  }
  const stored = db
    .prepare(
      'SELECT COUNT(*) AS count, COALESCE(SUM(length(payload)), 0) AS bytes FROM dead_letter',
    )
    .get() as { count: number; bytes: number }
  // Every dead letter counted was stored in the same transaction: the ones missing were pruned.
  let pruned = Math.max(0, counted - stored.count)

  let buffer: Pending[] = []
  let bufferedBytes = 0
  const insert = db.prepare(
    'INSERT INTO dead_letter (ts, source, reason, detail, address, size, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const count = db.prepare(
    'INSERT INTO dead_letter_count (reason, count) VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET count = dead_letter_count.count + excluded.count',
  )
  const oldest = db.prepare('SELECT id, length(payload) AS bytes FROM dead_letter ORDER BY id')
  const deleteUpTo = db.prepare('DELETE FROM dead_letter WHERE id <= ?')
  // Since this start, per source and reason (the metrics' labels).
  const bySource = new Map<string, Map<RejectReason, number>>()
  // Per reason: when it was last logged and how many went unlogged since.
  const logged = new Map<RejectReason, { at: number; suppressed: number }>()

  /** Deletes the oldest rows until the table is within both caps. */
  function prune(): void {
    if (stored.count <= maxCount && stored.bytes <= maxBytes) return
    let n = 0
    let bytes = 0
    let upTo = -1
    for (const row of oldest.iterate() as Iterable<{ id: number; bytes: number }>) {
      if (stored.count - n <= maxCount && stored.bytes - bytes <= maxBytes) break
      n++
      bytes += row.bytes
      upTo = row.id
    }
    if (n === 0) return
    deleteUpTo.run(upTo)
    stored.count -= n
    stored.bytes -= bytes
    pruned += n
  }

  function flush(): void {
    if (buffer.length === 0) return
    const batch = buffer
    buffer = []
    bufferedBytes = 0
    // The newest of the batch that fit the caps; the older ones would be pruned at once.
    let first = batch.length
    let fitCount = 0
    let fitBytes = 0
    while (first > 0) {
      const size = (batch[first - 1] as Pending).payload.length
      if (fitCount + 1 > maxCount || fitBytes + size > maxBytes) break
      fitCount++
      fitBytes += size
      first--
    }
    const added = new Map<RejectReason, number>()
    transaction(db, () => {
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i] as Pending
        added.set(r.reason, (added.get(r.reason) ?? 0) + 1)
        if (i < first) continue
        insert.run(r.ts, r.source, r.reason, r.detail, r.address ?? null, r.size, r.payload)
      }
      for (const [reason, n] of added) count.run(reason, n)
      stored.count += fitCount
      stored.bytes += fitBytes
      pruned += first
      prune()
    })
  }

  /** Writing dead letters must not take their source down: a failed batch is logged and lost. */
  function flushGuarded(): void {
    try {
      flush()
    } catch (err) {
      log.error({ err }, 'dead letters could not be stored')
    }
  }

  const timer = setInterval(flushGuarded, options.flushIntervalMs ?? 250)

  return {
    add(rejection) {
      counts[rejection.reason]++
      let ofSource = bySource.get(rejection.source)
      if (!ofSource) {
        ofSource = new Map()
        bySource.set(rejection.source, ofSource)
      }
      ofSource.set(rejection.reason, (ofSource.get(rejection.reason) ?? 0) + 1)
      const payload = rejection.payload ?? new Uint8Array()
      // Copy what is kept: a payload may be a view into a larger network buffer.
      const kept = Buffer.from(payload.subarray(0, keptPayload))
      buffer.push({ ...rejection, payload: kept, size: rejection.size ?? payload.length })
      bufferedBytes += kept.length
      // A flood is written at once rather than held in memory beyond the caps.
      if (buffer.length > maxCount || bufferedBytes > maxBytes) flushGuarded()
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

    countsBySource: () =>
      [...bySource].flatMap(([source, reasons]) =>
        [...reasons].map(([reason, count]) => ({ source, reason, count })),
      ),

    list({ reason, limit }) {
      flush()
      const rows = (
        reason
          ? db
              .prepare('SELECT * FROM dead_letter WHERE reason = ? ORDER BY id DESC LIMIT ?')
              .all(reason, limit)
          : db.prepare('SELECT * FROM dead_letter ORDER BY id DESC LIMIT ?').all(limit)
      ) as DeadLetterRow[]
      return {
        counts: { ...counts },
        pruned,
        stored: { ...stored },
        caps: { maxCount, maxBytes },
        items: rows.map(toView),
      }
    },

    pruned: () => pruned,
    stored: () => ({ ...stored }),

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
