import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../gateway/api/auth.ts'
import { createLogger } from '../gateway/log.ts'
import {
  AUDIT_STATEMENTS,
  createAuditTrail,
  createUserDirectory,
  USER_STATEMENTS,
  type UserDirectory,
} from '../gateway/quality/index.ts'
import { openRecords } from '../gateway/store/records.ts'
import { createRecordsWriter, type RecordsWriter } from '../gateway/store/records-writer.ts'
import { createSqliteStore } from '../gateway/store/sqlite.ts'
import type { JournaledStore } from '../gateway/store/types.ts'
import { tempDir } from './helpers/index.ts'

/**
 * Users' sessions and lock-out with the clock in the test's hand (issue 9): a session ends
 * after its idle time and at its absolute limit, a password change ends the user's sessions, a
 * disabled user's session ends, and a lock lasts exactly its configured time. Real records
 * database, records writer and time-series store; only the clock is the test's.
 */

const MIN = 60_000

describe('users: sessions and lock-out in time', () => {
  let dir: { path: string; remove(): Promise<void> }
  let writer: RecordsWriter
  let store: JournaledStore
  let users: UserDirectory
  let now = Date.UTC(2026, 11, 6, 8, 0, 0)

  beforeAll(async () => {
    dir = await tempDir('linewatch-users-')
    const log = createLogger('error')
    const path = join(dir.path, 'records.db')
    const db = openRecords(path)
    writer = createRecordsWriter({
      path,
      statements: { ...AUDIT_STATEMENTS, ...USER_STATEMENTS },
      log,
    })
    await writer.start()
    store = createSqliteStore({ path: join(dir.path, 'timeseries.db'), log })
    await store.start()
    const audit = createAuditTrail({
      db,
      run: (statement, params) => writer.run(statement, params),
      whenDurable: (done) => writer.whenDurable(done),
      headPath: join(dir.path, 'audit-head.json'),
      store,
      log,
    })
    audit.start()
    users = createUserDirectory({
      db,
      run: (statement, params) => writer.run(statement, params),
      audit,
      policy: {
        minPasswordLength: 12,
        sessionIdleMinutes: 30,
        sessionMaxHours: 12,
        lockout: { maxFailures: 5, windowMs: 15 * MIN, lockMs: 15 * MIN },
      },
      now: () => now,
    })
    users.start()
    const added = await users.add(
      {
        name: 'ana',
        printedName: 'Ana Lima',
        role: 'operator',
        password: 'a quiet harbour at dawn',
      },
      'test',
      'a new operator',
    )
    expect(Array.isArray(added)).toBe(false)
  })

  afterAll(async () => {
    await writer?.stop()
    await store?.stop()
    await dir?.remove()
  })

  const signIn = async (password = 'a quiet harbour at dawn') => {
    const outcome = await users.signIn('ana', password, '10.0.0.7')
    if (!outcome.ok) throw new Error(outcome.message)
    return sha256Hex(outcome.token)
  }

  it('ends a session after 30 idle minutes, and a request keeps it alive', async () => {
    const session = await signIn()
    now += 29 * MIN
    expect(users.session(session)?.user?.name).toBe('ana')
    now += 29 * MIN // 29 minutes after the last request: still alive
    expect(users.session(session)?.user?.name).toBe('ana')
    now += 30 * MIN + 1
    expect(users.session(session)).toBeNull()
  })

  it('ends a session 12 hours after sign-in however active', async () => {
    const session = await signIn()
    // A request every 29 minutes: 24 of them take 11 h 36 min, each within the idle time.
    for (let k = 0; k < 24; k++) {
      now += 29 * MIN
      expect(users.session(session)).not.toBeNull()
    }
    // 25 minutes more: idle for less than 30, but 12 h 01 min since sign-in.
    now += 25 * MIN
    expect(users.session(session)).toBeNull()
  })

  it('ends every session of a user whose password changes, or who is disabled', async () => {
    const a = await signIn()
    const problems = await users.setPassword('ana', 'a second quiet harbour', 'ana', 'changed')
    expect(problems).toEqual([])
    expect(users.session(a)).toBeNull()
    const b = await signIn('a second quiet harbour')
    users.setDisabled('ana', true, 'admin', 'left the company')
    expect(users.session(b)).toBeNull()
    users.setDisabled('ana', false, 'admin', 'came back')
  })

  it('locks the name for 15 minutes after 5 failures within 15 minutes; then the right password works', async () => {
    for (let k = 0; k < 5; k++) {
      const failed = await users.signIn('ana', `wrong ${k}`, `10.0.1.${k}`)
      expect(failed).toMatchObject({ ok: false, status: 401 })
      now += MIN
    }
    // Locked from the 5th failure (1 minute ago) for 15 minutes: 14 minutes to go.
    const locked = await users.signIn('ana', 'a second quiet harbour', '10.0.2.1')
    expect(locked).toMatchObject({ ok: false, status: 429, retryAfterSeconds: 14 * 60 })
    now += 14 * MIN - 1
    expect(await users.signIn('ana', 'a second quiet harbour', '10.0.2.1')).toMatchObject({
      status: 429,
    })
    now += 1
    expect((await users.signIn('ana', 'a second quiet harbour', '10.0.2.1')).ok).toBe(true)
  })
})
