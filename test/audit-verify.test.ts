import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  readHeadFile,
  verifyAuditTrail,
  verifyAuditTrailInTurns,
} from '../gateway/quality/index.ts'
import { openAuditRecords } from './helpers/audit.ts'
import { turnsDuring } from './helpers/index.ts'

/**
 * The gateway verifies its own audit trail (GET /api/audit/verify) a chunk of 5,000 entries per
 * turn of the event loop, on the judging thread: the same verdict as the verification at once
 * (the CLI's), intact or broken, while the loop goes on turning (counted in turns, not timed).
 * A real records database and writer.
 */

const ENTRIES = 12_001 // three chunks and one entry

describe('verifying the audit trail in turns', () => {
  let records: Awaited<ReturnType<typeof openAuditRecords>>

  /** The verdict in turns, and how often the loop turned meanwhile. */
  async function inTurns() {
    const { value: verdict, turns } = await turnsDuring(() =>
      verifyAuditTrailInTurns(records.db, readHeadFile(records.headPath)),
    )
    return { verdict, turns }
  }

  beforeAll(async () => {
    records = await openAuditRecords()
    for (let k = 1; k <= ENTRIES; k++)
      records.audit.append({
        at: Date.UTC(2026, 11, 1) + k * 1000,
        actor: 'engineer',
        action: 'investigate',
        entity: 'nc',
        entityId: `NC-${k}`,
        reason: `entry ${k}`,
        before: null,
        after: { owner: 'qe', k },
      })
    await records.durable()
    await records.audit.settled()
  }, 120_000)
  afterAll(async () => {
    await records?.close()
  })

  it('gives the verdict the verification at once gives, the loop turning between its chunks', async () => {
    const head = readHeadFile(records.headPath)
    const atOnce = verifyAuditTrail(records.db, head)
    expect(atOnce).toMatchObject({ ok: true, count: ENTRIES, head: { seq: ENTRIES } })
    const { verdict, turns } = await inTurns()
    expect(verdict).toEqual(atOnce)
    // A turn at least between each of the three chunks and after the last.
    expect(turns).toBeGreaterThanOrEqual(3)
  })

  it('names the same broken entry', async () => {
    // Edited behind the triggers, as someone with the database file could.
    const file = new DatabaseSync(join(records.path, 'records.db'))
    try {
      file.exec('DROP TRIGGER audit_no_update')
      file.prepare('UPDATE audit SET reason = ? WHERE seq = ?').run('edited', 9000)
    } finally {
      file.close()
    }
    const atOnce = verifyAuditTrail(records.db, readHeadFile(records.headPath))
    expect(atOnce).toMatchObject({ ok: false, seq: 9000 })
    expect((await inTurns()).verdict).toEqual(atOnce)
  })
})
