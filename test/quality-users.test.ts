import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../gateway/api/auth.ts'
import { createPeerBus } from '../gateway/cluster/peers.ts'
import { createLogger } from '../gateway/log.ts'
import { createUserDirectory, type UserDirectory } from '../gateway/quality/index.ts'
import { openAuditRecords } from './helpers/audit.ts'

/**
 * Users' sessions and lock-out with the clock in the test's hand (issue 9): a session ends
 * after its idle time and at its absolute limit, a password change ends the user's sessions, a
 * disabled user's session ends, and a lock lasts exactly its configured time; in a cluster, the
 * refusals read again from the audit trail after Redis was away count once each, and not when a
 * success came after them. Real records database, records writer, time-series store and peer
 * bus (with no Redis behind it); only the clock is the test's.
 */

const MIN = 60_000

/**
 * A user directory on fresh records, with `ana` added; `peers` for one of a cluster; `again`,
 * the records of one closed before (a restart: `ana` is there), kept when this one closes.
 */
async function openDirectory(
  clock: () => number,
  peers?: ReturnType<typeof createPeerBus>,
  again?: string,
) {
  const records = await openAuditRecords(again)
  const { db, audit, writer } = records
  const users = createUserDirectory({
    db,
    run: (statement, params) => writer.run(statement, params),
    audit,
    policy: {
      minPasswordLength: 12,
      sessionIdleMinutes: 30,
      sessionMaxHours: 12,
      lockout: { maxFailures: 5, windowMs: 15 * MIN, lockMs: 15 * MIN },
    },
    now: clock,
    ...(peers ? { peers: { bus: peers, whenDurable: (done) => writer.whenDurable(done) } } : {}),
  })
  users.start()
  const added = again
    ? null
    : await users.add(
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
  return { users, path: records.path, durable: records.durable, close: records.close }
}

describe('users: sessions and lock-out in time', () => {
  let opened: Awaited<ReturnType<typeof openDirectory>>
  let users: UserDirectory
  let now = Date.UTC(2026, 11, 6, 8, 0, 0)

  beforeAll(async () => {
    opened = await openDirectory(() => now)
    users = opened.users
  })

  afterAll(async () => {
    await opened?.close()
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

describe('users of a cluster: the refusals read again after Redis was away', () => {
  let opened: Awaited<ReturnType<typeof openDirectory>>
  let bus = createPeerBus(createLogger('error'))
  let now = Date.UTC(2026, 11, 6, 8, 0, 0)
  const locked = () => opened.users.get('ana')?.lockedUntil !== null
  /** A wrong password for ana (from `address`: the address is throttled too). */
  const wrong = async (k: number, address = '10.0.3.1') => {
    expect(await opened.users.signIn('ana', `a guess ${k}`, address)).toMatchObject({
      status: 401,
    })
    now += 1000
  }
  /** Redis back (or the gateway started): the bus resyncs, as it does each time it connects. */
  const redisBack = async () => {
    await opened.durable()
    bus.connected()
  }

  beforeAll(async () => {
    opened = await openDirectory(() => now, bus)
  })
  afterAll(async () => {
    await opened?.close()
  })

  it('counts each refusal once, however often it is read again', async () => {
    for (let k = 0; k < 3; k++) await wrong(k)
    await redisBack()
    await redisBack()
    // Still three, not nine: two more make the lock, and not one sooner.
    await wrong(3)
    expect(locked()).toBe(false)
    await wrong(4)
    expect(locked()).toBe(true)
  })

  it('after a restart, reads the window’s refusals again, but not those a success came after', async () => {
    now += 16 * MIN // the lock is over
    for (let k = 5; k < 8; k++) await wrong(k)
    await opened.durable()
    // A restart: the directory stops, its records kept, and another starts on them.
    await opened.close(true)
    bus = createPeerBus(createLogger('error'))
    opened = await openDirectory(() => now, bus, opened.path)
    // A success before the bus is up: the three refusals before it are not counted again.
    expect((await opened.users.signIn('ana', 'a quiet harbour at dawn', '10.0.3.2')).ok).toBe(true)
    now += 1000
    await redisBack()
    // Four more (from another address, whose count the three are not in) are not yet a lock;
    // the fifth is.
    for (let k = 8; k < 12; k++) await wrong(k, '10.0.3.3')
    expect(locked()).toBe(false)
    await wrong(12, '10.0.3.3')
    expect(locked()).toBe(true)
  })

  it('after a restart, the window’s refusals count again', async () => {
    now += 16 * MIN
    for (let k = 13; k < 16; k++) await wrong(k, '10.0.3.4')
    await opened.durable()
    await opened.close(true)
    bus = createPeerBus(createLogger('error'))
    opened = await openDirectory(() => now, bus, opened.path)
    expect(locked()).toBe(false)
    await redisBack()
    // The three of before the restart, and two more here.
    await wrong(16, '10.0.3.5')
    expect(locked()).toBe(false)
    await wrong(17, '10.0.3.5')
    expect(locked()).toBe(true)
  })
})
