import type { DatabaseSync } from 'node:sqlite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../gateway/log.ts'
import { createDeadLetters } from '../gateway/pipeline/dead-letters.ts'
import type { Rejection, RejectReason } from '../gateway/sources/types.ts'
import { openRecords } from '../gateway/store/records.ts'
import { tempDir } from './helpers/index.ts'

const log = createLogger('silent')
const KEPT_PAYLOAD = 64 * 1024

/** The i-th refused message of a test: its detail names it, its payload has `size` bytes. */
function letter(i: number, size: number, reason: RejectReason = 'malformed-json'): Rejection {
  return {
    source: 'mqtt',
    reason,
    detail: `letter ${i}`,
    address: `t/${i}`,
    payload: Buffer.alloc(size, i % 251),
    ts: 1_700_000_000_000 + i,
  }
}

/** Which of letters 0..n-1 (with these kept sizes) the caps leave: the newest that fit, oldest first. */
function expectedKept(sizes: number[], maxCount: number, maxBytes: number): number[] {
  const kept: number[] = []
  let bytes = 0
  for (let i = sizes.length - 1; i >= 0; i--) {
    const size = Math.min(sizes[i] as number, KEPT_PAYLOAD, maxBytes)
    if (kept.length + 1 > maxCount || bytes + size > maxBytes) break
    kept.unshift(i)
    bytes += size
  }
  return kept
}

function rows(db: DatabaseSync): { detail: string; size: number; bytes: number }[] {
  return db
    .prepare('SELECT detail, size, length(payload) AS bytes FROM dead_letter ORDER BY id')
    .all() as { detail: string; size: number; bytes: number }[]
}

describe('dead letters are capped in count and in payload bytes, oldest first, and the pruned are counted', () => {
  let dir: { path: string; remove(): Promise<void> }
  let db: DatabaseSync
  beforeEach(async () => {
    dir = await tempDir()
    db = openRecords(`${dir.path}/records.db`)
  })
  afterEach(async () => {
    db.close()
    await dir.remove()
  })

  it('keeps the newest maxCount, whatever the batches', () => {
    const maxCount = 50
    const dl = createDeadLetters(db, log, { maxCount, maxBytes: 1 << 30, flushIntervalMs: 60_000 })
    const n = 437
    const sizes = Array.from({ length: n }, (_, i) => 10 + (i % 7))
    // Flushes at uneven points: single letters, small batches, and a batch larger than the cap.
    const flushAt = new Set([0, 1, 2, 10, 11, 49, 50, 51, 120, 300, 301])
    for (let i = 0; i < n; i++) {
      dl.add(letter(i, sizes[i] as number, i % 3 === 0 ? 'bad-shape' : 'malformed-json'))
      if (flushAt.has(i)) dl.flush()
    }
    dl.flush()
    const kept = expectedKept(sizes, maxCount, 1 << 30)
    expect(kept.length).toBe(maxCount)
    expect(rows(db).map((r) => r.detail)).toEqual(kept.map((i) => `letter ${i}`))
    expect(dl.pruned()).toBe(n - maxCount)
    expect(dl.stored()).toEqual({
      count: maxCount,
      bytes: kept.reduce((s, i) => s + (sizes[i] as number), 0),
    })
    // Totals per reason count every letter, pruned or not.
    let shapes = 0
    for (let i = 0; i < n; i++) if (i % 3 === 0) shapes++
    expect(dl.counts()['bad-shape']).toBe(shapes)
    expect(dl.counts()['malformed-json']).toBe(n - shapes)
    dl.stop()
  })

  it('keeps at most maxBytes of payload, a payload cut to 64 KiB, and counts what went', () => {
    const maxBytes = 200_000
    const dl = createDeadLetters(db, log, { maxCount: 100_000, maxBytes, flushIntervalMs: 60_000 })
    const n = 300
    // Sizes spread from a few bytes to past the 64 KiB kept per payload.
    const sizes = Array.from({ length: n }, (_, i) =>
      i % 50 === 7 ? 100_000 : ((i * 7919) % 9000) + 1,
    )
    for (let i = 0; i < n; i++) {
      dl.add(letter(i, sizes[i] as number))
      if (i % 17 === 0) dl.flush()
    }
    dl.flush()
    const kept = expectedKept(sizes, 100_000, maxBytes)
    const stored = rows(db)
    expect(stored.map((r) => r.detail)).toEqual(kept.map((i) => `letter ${i}`))
    const bytes = stored.reduce((s, r) => s + r.bytes, 0)
    expect(bytes).toBeLessThanOrEqual(maxBytes)
    expect(dl.stored()).toEqual({ count: kept.length, bytes })
    expect(dl.pruned()).toBe(n - kept.length)
    // The whole size is recorded even where only the first 64 KiB are kept.
    for (const [k, i] of kept.entries()) {
      expect(stored[k]?.size).toBe(sizes[i])
      expect(stored[k]?.bytes).toBe(Math.min(sizes[i] as number, KEPT_PAYLOAD))
    }
    dl.stop()
  })

  it('a flood between flushes is written at once rather than held beyond the caps', () => {
    const maxCount = 100
    const dl = createDeadLetters(db, log, { maxCount, maxBytes: 1 << 30, flushIntervalMs: 60_000 })
    for (let i = 0; i < 1000; i++) dl.add(letter(i, 20))
    // No flush called: the table is already within its cap and holds the newest it was given.
    const stored = rows(db)
    expect(stored.length).toBeLessThanOrEqual(maxCount)
    expect(stored.length).toBeGreaterThan(0)
    dl.flush()
    expect(rows(db).map((r) => r.detail)).toEqual(
      Array.from({ length: maxCount }, (_, k) => `letter ${900 + k}`),
    )
    expect(dl.pruned()).toBe(900)
    dl.stop()
  })

  it('the API view shows the pruned count, what is kept and the caps; a restart keeps the counts', () => {
    const maxCount = 30
    const maxBytes = 5000
    let dl = createDeadLetters(db, log, { maxCount, maxBytes, flushIntervalMs: 60_000 })
    const n = 120
    const sizes = Array.from({ length: n }, (_, i) => (i * 31) % 400)
    for (let i = 0; i < n; i++) {
      dl.add(letter(i, sizes[i] as number, i % 2 ? 'oversize' : 'unknown-topic'))
      if (i % 25 === 0) dl.flush()
    }
    const kept = expectedKept(sizes, maxCount, maxBytes)
    const keptBytes = kept.reduce((s, i) => s + (sizes[i] as number), 0)
    const view = dl.list({ limit: 1000 })
    expect(view.pruned).toBe(n - kept.length)
    expect(view.stored).toEqual({ count: kept.length, bytes: keptBytes })
    expect(view.caps).toEqual({ maxCount, maxBytes })
    // Newest first.
    expect(view.items.map((d) => d.detail)).toEqual(kept.map((i) => `letter ${i}`).reverse())
    expect(view.counts.oversize + view.counts['unknown-topic']).toBe(n)
    dl.stop()

    // Reopened: the totals and the pruned count survive (the pruned are what was counted but is gone).
    db.close()
    db = openRecords(`${dir.path}/records.db`)
    dl = createDeadLetters(db, log, { maxCount, maxBytes, flushIntervalMs: 60_000 })
    expect(dl.pruned()).toBe(n - kept.length)
    expect(dl.stored()).toEqual({ count: kept.length, bytes: keptBytes })
    expect(dl.counts().oversize).toBe(n / 2)
    // Tighter caps on restart prune at the next write.
    dl.stop()
    dl = createDeadLetters(db, log, { maxCount: 5, maxBytes, flushIntervalMs: 60_000 })
    dl.add(letter(n, 1))
    dl.flush()
    const tighter = expectedKept([...sizes, 1], 5, maxBytes)
    expect(rows(db).map((r) => r.detail)).toEqual(tighter.map((i) => `letter ${i}`))
    expect(dl.pruned()).toBe(n + 1 - tighter.length)
    dl.stop()
  })
})
