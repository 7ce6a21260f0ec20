import { writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import { connectAsync, type MqttClient } from 'mqtt'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlarmEventView,
  AlarmView,
  CapaView,
  DeadLettersView,
  LimitChangeView,
  NonconformanceSummary,
  NonconformanceView,
  SignInView,
} from '../gateway/contract.ts'
import { createLogger } from '../gateway/log.ts'
import {
  AUDIT_STATEMENTS,
  createAuditTrail,
  verifyAuditTrail,
} from '../gateway/quality/audit-trail.ts'
import { openPostgresRecords, toPostgresPlaceholders } from '../gateway/store/postgres-records.ts'
import { POSTGRES_MIGRATIONS } from '../gateway/store/postgres-schema.ts'
import { openRecordsAt, type RecordsLocation, writerTarget } from '../gateway/store/records.ts'
import { ID_BLOCK, idAllocator, type RecordsDb } from '../gateway/store/records-db.ts'
import { createRecordsWriter } from '../gateway/store/records-writer.ts'
import { createSqliteStore } from '../gateway/store/sqlite.ts'
import { auditEntry } from '../rules/quality/audit.ts'
import { startTestGateway, type TestGateway, TOKENS, testConfigYaml } from './helpers/gateway.ts'
import { apiCall, type ProgramRun, runProgram, tempDir, waitFor } from './helpers/index.ts'
import { type Postgres, startPostgres } from './helpers/postgres.ts'
import { watchThreads } from './helpers/threads.ts'

/**
 * The records (NCs, CAPAs, signatures, users, the audit trail, alarms, limit changes, dead
 * letters) behave the same in records.db and in PostgreSQL (store.records: postgres): one suite
 * run against both, through a running gateway and the CLI's `audit verify`, on a real
 * PostgreSQL server. PostgreSQL only: migrations applied once by openers racing, and two
 * gateways' record sets sharing one database — each its own audit chain, no colliding ids.
 * Expected values come from what the test did (the readings it sent, the entries it tampered
 * with), never from a run of the code under test.
 */

const URL_ENV = 'LW_TEST_RECORDS_POSTGRES_URL'
const ADMIN_PASSWORD = 'first start: records password'
const PASSWORDS = { qe: 'engineer: quiet river stone', qm: 'manager: amber lantern hill' }
const MAX_DEAD_LETTERS = 3
const log = createLogger('silent')

const REST = (dialect: string) => `
mqtt: { broker: { port: 0 } }
store: { records: ${dialect}, postgres: { urlEnv: ${URL_ENV} } }
deadLetters: { maxCount: ${MAX_DEAD_LETTERS} }
characteristics:
  - id: bore
    name: Bore diameter
    path: Plant/Machining/Line 2/Cell 1
    unit: mm
    source: { mqtt: { topic: q/bore } }
    limits: { actionLow: 5, actionHigh: 15 }
    chart: { type: imr }
`

let server: Postgres
beforeAll(async () => {
  server = await startPostgres()
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

/** Runs `linewatch …` from source with this Node; never throws on a non-zero exit. */
function linewatch(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<ProgramRun> {
  const root = join(import.meta.dirname, '..')
  return runProgram(process.execPath, [join(root, 'gateway/cli/main.ts'), ...args], {
    cwd: root,
    env,
    input,
  })
}

/** SQL on a connection of the test's own. */
async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text, params)
  } finally {
    await client.end()
  }
}

describe('placeholders for PostgreSQL', () => {
  it('numbers each ? outside strings, quoted names and comments', () => {
    expect(
      toPostgresPlaceholders(
        `SELECT '?', "a?b", x FROM t WHERE a = ? AND b = 'it''s ?' -- c ?\n AND c IN (?, ?) /* ? */`,
      ),
    ).toBe(
      `SELECT '?', "a?b", x FROM t WHERE a = $1 AND b = 'it''s ?' -- c ?\n AND c IN ($2, $3) /* ? */`,
    )
  })
})

describe.each(['sqlite', 'postgres'] as const)('the records in %s', (dialect) => {
  let url = ''
  let dataDir: { path: string; remove(): Promise<void> }
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let mqtt: MqttClient | null = null
  const sessions = { admin: '', qe: '', qm: '' }
  let ncId = 0
  let capaId = ''

  const call = <T>(method: string, path: string, token: string | null, body?: unknown) =>
    apiCall<T & { message?: string }>(gw?.gateway.urls.http as string, method, path, token, body)
  const act = (token: string, body: Record<string, unknown>) =>
    call<NonconformanceView>('POST', `/api/nonconformances/${ncId}/actions`, token, body)
  const signIn = (user: string, password: string) =>
    call<SignInView>('POST', '/api/auth/sign-in', null, { user, password })

  async function start(): Promise<void> {
    gw = await startTestGateway(REST(dialect), { dataDir: dataDir.path })
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
  }
  async function stop(): Promise<void> {
    await mqtt?.endAsync()
    mqtt = null
    await gw?.close()
    gw = null
  }

  beforeAll(async () => {
    dataDir = await tempDir('linewatch-records-')
    url = await server.createDatabase(`records_${dialect}`)
    process.env[URL_ENV] = url
    process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
    await start()
  }, 60_000)
  afterAll(async () => {
    await stop()
    await dataDir?.remove()
    delete process.env[URL_ENV]
    delete process.env.LINEWATCH_ADMIN_PASSWORD
  })

  it('adds users who sign in', async () => {
    const admin = await signIn('admin', ADMIN_PASSWORD)
    expect(admin.status).toBe(200)
    sessions.admin = admin.body.token
    for (const [name, printedName, role] of [
      ['qe', 'Dr. Jana Novák', 'quality-engineer'],
      ['qm', 'Anna Weber', 'quality-manager'],
    ] as const) {
      const added = await call('POST', '/api/users', sessions.admin, {
        name,
        printedName,
        role,
        password: PASSWORDS[name],
        reason: 'staff of line 2',
      })
      expect(added.status).toBe(200)
      const session = await signIn(name, PASSWORDS[name])
      expect(session.status).toBe(200)
      sessions[name] = session.body.token
    }
  })

  it('refuses a second gateway that would write the same records', async () => {
    // PostgreSQL: another data directory, the same database: its audit chain is taken.
    // SQLite: the records are the data directory's, which the running gateway holds.
    const other = await tempDir('linewatch-records-other-')
    try {
      await expect(
        startTestGateway(REST(dialect), {
          dataDir: dialect === 'postgres' ? other.path : dataDir.path,
        }),
      ).rejects.toThrow(dialect === 'postgres' ? /audit chain "main"/ : /data directory/)
    } finally {
      await other.remove()
    }
  })

  it('opens an NC from a reading, takes it through its workflow with a CAPA and a signed closure', async () => {
    await mqtt?.publishAsync('q/bore', JSON.stringify({ value: 16.2, subgroup: 'L-7' }), { qos: 1 })
    const [nc] = await waitFor('the NC', async () => {
      const list = (
        await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)
      ).body
      return list.length > 0 ? list : undefined
    })
    ncId = (nc as NonconformanceSummary).id
    expect(nc).toMatchObject({ characteristic: 'bore', status: 'open', cause: 'action-high' })
    const due = Date.now() + 7 * 86_400_000
    for (const step of [
      { action: 'investigate', owner: 'qe', dueAt: due, severity: 'major', reason: 'HH on bore' },
      { action: 'comment', text: 'parts tagged red' },
      {
        action: 'root-cause',
        whys: ['bore oversize', 'worn insert'],
        fishbone: { machine: ['worn insert'] },
        reason: '5 whys',
      },
      { action: 'disposition', decision: 'rework', justification: 'rebore', reason: 'MRB' },
    ]) {
      const res = await act(sessions.qe, step)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    const capa = await call<CapaView>('POST', '/api/capas', sessions.qe, {
      title: 'Track insert life',
      kind: 'corrective',
      owner: 'qe',
      dueAt: Date.now() + 30 * 86_400_000,
      ncs: [String(ncId)],
      reason: 'recurring bore oversize',
    })
    expect(capa.status, JSON.stringify(capa.body)).toBe(200)
    capaId = capa.body.id
    expect(capaId).toMatch(/^CAPA-\d{6}$/)
    const closed = await act(sessions.qm, {
      action: 'close',
      reason: 'rework verified',
      signature: { password: PASSWORDS.qm },
    })
    expect(closed.status, JSON.stringify(closed.body)).toBe(200)
    const view = (
      await call<NonconformanceView>('GET', `/api/nonconformances/${ncId}`, TOKENS.viewer)
    ).body
    expect(view.status).toBe('closed')
    expect(view.workflow.capas).toEqual([capaId])
    expect(view.workflow.lotsSeen).toEqual(['L-7'])
    expect(view.workflow.comments).toEqual([
      expect.objectContaining({ by: 'qe', text: 'parts tagged red' }),
    ])
    expect(
      view.workflow.signatures.map((s) => [s.user, s.printedName, s.meaning, s.holds]),
    ).toEqual([['qm', 'Anna Weber', 'closed', true]])
    const listed = (await call<CapaView>('GET', `/api/capas/${capaId}`, TOKENS.viewer)).body
    expect(listed.ncs).toEqual([`NC-${String(ncId).padStart(6, '0')}`])
  })

  it('keeps the alarm raised and acknowledged, records a limit change, caps the dead letters', async () => {
    const acked = await call<AlarmView>(
      'POST',
      '/api/alarms/bore%3AHH/acknowledge',
      TOKENS.operator,
      {
        comment: 'seen',
      },
    )
    expect(acked.status, JSON.stringify(acked.body)).toBe(200)
    expect(acked.body.state).toBe('ack-active')

    const change = await call<LimitChangeView>(
      'POST',
      '/api/characteristics/bore/baseline',
      TOKENS.manager,
      { action: 'restart', reason: 'new insert fitted' },
    )
    expect(change.status, JSON.stringify(change.body)).toBe(200)
    const changes = (
      await call<LimitChangeView[]>('GET', '/api/characteristics/bore/limit-changes', TOKENS.viewer)
    ).body
    expect(changes.map((c) => [c.id, c.action, c.reason, c.actor])).toEqual([
      [change.body.id, 'restart', 'new insert fitted', 'manager'],
    ])

    const sent = 5
    for (let i = 0; i < sent; i++) await mqtt?.publishAsync('q/bore', `{broken ${i}`, { qos: 1 })
    const letters = await waitFor('the dead letters', async () => {
      const d = (await call<DeadLettersView>('GET', '/api/dead-letters', TOKENS.engineer)).body
      return d.stored.count + d.pruned >= sent ? d : undefined
    })
    expect(letters.stored.count).toBe(MAX_DEAD_LETTERS)
    expect(letters.pruned).toBe(sent - MAX_DEAD_LETTERS)
    // The newest kept, newest first, payloads as sent.
    expect(letters.items.map((l) => l.payloadText)).toEqual(['{broken 4', '{broken 3', '{broken 2'])
  })

  it('has it all again after a restart: users, the closed NC, the alarm and its history', async () => {
    await stop()
    await start()
    expect((await signIn('qe', PASSWORDS.qe)).status).toBe(200)
    const view = (
      await call<NonconformanceView>('GET', `/api/nonconformances/${ncId}`, TOKENS.viewer)
    ).body
    expect(view.status).toBe('closed')
    expect(view.workflow.signatures.map((s) => s.meaning)).toEqual(['closed'])
    const alarm = (await call<AlarmView>('GET', '/api/alarms/bore%3AHH', TOKENS.viewer)).body
    expect(alarm.state).toBe('ack-active')
    const history = (
      await call<AlarmEventView[]>('GET', '/api/alarms/bore%3AHH/history', TOKENS.viewer)
    ).body.reverse()
    expect(history.map((e) => [e.from, e.to, e.by])).toEqual([
      ['normal', 'unack-active', null],
      ['unack-active', 'ack-active', 'operator'],
    ])
    // A new NC after the restart takes a new id: the next excursion recurs on the closed one.
    await mqtt?.publishAsync('q/bore', '10', { qos: 1 })
    await mqtt?.publishAsync('q/bore', '16.5', { qos: 1 })
    const recurrence = await waitFor('the recurrence', async () => {
      const list = (
        await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)
      ).body
      return list.find((n) => n.id !== ncId)
    })
    expect(recurrence.id).toBeGreaterThan(ncId)
    expect(recurrence.recurrenceOf).toBe(ncId)
  })

  it('audit verify passes, then names the entry changed behind the triggers', async () => {
    await stop()
    const configFile = join(dataDir.path, 'linewatch.yaml')
    writeFileSync(configFile, testConfigYaml(dataDir.path, REST(dialect)))
    const env = { [URL_ENV]: url }
    // A user added by the CLI continues this gateway's chain, in the same records.
    const added = await linewatch(
      [
        'user',
        'add',
        '-c',
        configFile,
        '--name',
        'jdoe',
        '--printed-name',
        'Jane Doe',
        '--role',
        'operator',
        '--reason',
        'joined line 2',
      ],
      env,
      'operator: seven blue kites',
    )
    expect(added.code, added.stderr).toBe(0)
    const intact = await linewatch(['audit', 'verify', '-c', configFile, '--json'], env)
    expect(intact.code, intact.stderr).toBe(0)
    const verdict = JSON.parse(intact.stdout) as { intact: boolean; entries: number }
    expect(verdict.intact).toBe(true)
    // At least: the configuration, 3 users, 4 NC steps, the CAPA, the signature and the
    // closure, the limit change.
    expect(verdict.entries).toBeGreaterThanOrEqual(12)
    if (dialect === 'postgres') {
      const { rows } = await sql(url, "SELECT chain, actor FROM audit WHERE entity_id = 'jdoe'")
      expect(rows).toEqual([{ chain: 'main', actor: expect.stringMatching(/^cli:/) }])
    }

    if (dialect === 'postgres') {
      await sql(
        url,
        `ALTER TABLE audit DISABLE TRIGGER audit_no_update;
         UPDATE audit SET reason = 'nothing happened' WHERE chain = 'main' AND seq = 3;`,
      )
    } else {
      const { DatabaseSync } = await import('node:sqlite')
      const db = new DatabaseSync(join(dataDir.path, 'records.db'))
      db.exec('DROP TRIGGER audit_no_update')
      db.exec("UPDATE audit SET reason = 'nothing happened' WHERE seq = 3")
      db.close()
    }
    const broken = await linewatch(['audit', 'verify', '-c', configFile, '--json'], env)
    expect(broken.code, broken.stderr).toBe(2)
    const named = JSON.parse(broken.stdout) as { brokenAt: number; why: string; chain?: string }
    expect(named.brokenAt).toBe(3)
    expect(named.why).toMatch(/entry 3: its content does not match its hash/)
    if (dialect === 'postgres') {
      expect(named.chain).toBe('main')
      expect(named.why).toMatch(/^chain "main": /)
    }
  })
})

describe('PostgreSQL records shared by several gateways', () => {
  it('applies each migration once when gateways open the database at the same time', async () => {
    const url = await server.createDatabase('records_race')
    const opened = await Promise.all(
      [1, 2, 3].map(() => openRecordsAt({ dialect: 'postgres', url })),
    )
    for (const db of opened) db.close()
    const { rows } = await sql(
      url,
      "SELECT version FROM schema_migrations WHERE component = 'records' ORDER BY version",
    )
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1))
  })

  it('answers synchronously, gives up on a query after its timeout, reconnects a lost connection', async () => {
    const url = await server.createDatabase('records_sync')
    const db = openPostgresRecords({ url, timeoutMs: 500 })
    try {
      expect(
        db.prepare('SELECT ?::int + 1 AS n, ?::bytea AS b').get(41, new Uint8Array([7])),
      ).toEqual({
        n: 42,
        b: new Uint8Array([7]),
      })
      expect(() => db.prepare('SELECT pg_sleep(3)').get()).toThrow(/did not answer within 0.5 s/)
      // Later queries are answered again once the slow one is over.
      await waitFor(
        'an answer after the timeout',
        () => db.prepare('SELECT 1 AS one').get()?.one === 1,
      )
      const pid = (db.prepare('SELECT pg_backend_pid() AS pid').get() as { pid: number }).pid
      await sql(url, 'SELECT pg_terminate_backend($1)', [pid])
      const answered = await waitFor('a new connection', () => {
        try {
          return db.prepare('SELECT pg_backend_pid() AS pid').get() as { pid: number }
        } catch {
          return undefined
        }
      })
      expect(answered.pid).not.toBe(pid)
    } finally {
      db.close()
    }
  })

  it('a thread that dies is replaced at the next call; in a transaction, the calls up to its ROLLBACK are refused', async () => {
    const url = await server.createDatabase('records_thread')
    const watched = watchThreads()
    const db = openPostgresRecords({ url, timeoutMs: 5_000 })
    const values = () =>
      (db.prepare('SELECT n FROM t ORDER BY n').all() as { n: number }[]).map((r) => r.n)
    const die = () => (watched.threads.at(-1) as Worker).terminate()
    try {
      db.exec('CREATE TABLE t (n INTEGER)')
      await die()
      db.prepare('INSERT INTO t VALUES (?)').run(1)
      expect(values()).toEqual([1])
      // Dies inside a transaction: its connection goes, and the transaction with it.
      db.exec('BEGIN')
      db.prepare('INSERT INTO t VALUES (?)').run(2)
      await die()
      expect(() => db.prepare('INSERT INTO t VALUES (?)').run(3)).toThrow(
        /lost inside a transaction: it was rolled back/,
      )
      db.exec('ROLLBACK')
      db.prepare('INSERT INTO t VALUES (?)').run(4)
      expect(values()).toEqual([1, 4])
      expect(watched.threads).toHaveLength(3)
    } finally {
      watched.restore()
      db.close()
    }
  })

  it('a thread that dies in a call (an answer beyond its memory): the call says so, not at its timeout; the next is answered', async () => {
    const url = await server.createDatabase('records_oom')
    const watched = watchThreads()
    // A call left to its timeout would say so instead (and after a minute, not five seconds).
    const db = openPostgresRecords({ url, timeoutMs: 60_000, maxMemoryMb: 32 })
    try {
      expect(db.prepare('SELECT 1 AS one').get()).toEqual({ one: 1 })
      // Three million rows: more objects than the thread's 32 MiB heap holds.
      expect(() => db.prepare('SELECT generate_series(1, 3000000) AS n').all()).toThrow(
        /records thread stopped while answering/,
      )
      expect(db.prepare('SELECT 2 AS two').get()).toEqual({ two: 2 })
      expect(watched.threads).toHaveLength(2)
    } finally {
      watched.restore()
      db.close()
    }
  })

  it('a records batch a constraint refuses commits without that write (savepoints), so later writes and waiters go on', async () => {
    const url = await server.createDatabase('records_constraint')
    ;(await openRecordsAt({ dialect: 'postgres', url })).close()
    const writer = createRecordsWriter({
      ...writerTarget({ dialect: 'postgres', url }),
      statements: {
        note: 'INSERT INTO limit_change (characteristic, ts, action, reason) VALUES (?, ?, ?, ?)',
        occurrence:
          'INSERT INTO nonconformance_occurrence (nonconformance, number, ts, value) VALUES (?, ?, ?, ?)',
      },
      log,
      unwaitedCommitMs: 3_600_000,
    })
    await writer.start()
    try {
      writer.run('note', ['fill', 1, 'restart', 'before'])
      // NC 9 was never written: the foreign key refuses this at every retry of the batch.
      writer.run('occurrence', [9, 1, 1, 507])
      writer.run('note', ['fill', 2, 'restart', 'after'])
      await writer.flush()
      expect(writer.status()).toMatchObject({ pending: 0, committed: 2, skipped: 1 })
      writer.run('note', ['fill', 3, 'restart', 'later'])
      await writer.flush()
      const rows = (await sql(url, 'SELECT reason FROM limit_change ORDER BY ts', [])).rows
      expect(rows.map((r) => r.reason)).toEqual(['before', 'after', 'later'])
    } finally {
      await writer.stop()
    }
  })

  it('refuses to start when the URL variable is not set, naming it', async () => {
    await expect(
      startTestGateway(REST('postgres').replace(URL_ENV, 'LW_TEST_RECORDS_UNSET_URL')),
    ).rejects.toThrow(/LW_TEST_RECORDS_UNSET_URL/)
  })

  it('two gateways append to their own audit chains and allocate ids that never collide', async () => {
    const url = await server.createDatabase('records_two')
    const location: RecordsLocation = { dialect: 'postgres', url }
    const dir = await tempDir('linewatch-two-')
    const sets: {
      db: RecordsDb
      stop: () => Promise<void>
      append: (n: number) => void
      flush: () => Promise<void>
    }[] = []
    try {
      for (const chain of ['gw-a', 'gw-b']) {
        const db = await openRecordsAt(location)
        const writer = createRecordsWriter({
          ...writerTarget(location),
          auditChain: chain,
          statements: AUDIT_STATEMENTS,
          log,
        })
        await writer.start()
        const store = createSqliteStore({ path: join(dir.path, `${chain}.db`), log })
        await store.start()
        const audit = createAuditTrail({
          db,
          chain,
          run: (statement, params) => writer.run(statement, params),
          whenDurable: (done) => writer.whenDurable(done),
          headPath: join(dir.path, `${chain}-head.json`),
          store,
          log,
        })
        audit.start()
        sets.push({
          db,
          append: (n) =>
            audit.append({
              at: Date.now(),
              actor: chain,
              action: 'note',
              entity: 'test',
              entityId: `${chain}-${n}`,
              reason: 'two chains',
              before: null,
              after: { n },
            }),
          flush: () => writer.flush(),
          stop: async () => {
            await writer.stop()
            await store.stop()
            db.close()
          },
        })
      }
      const [a, b] = sets as [(typeof sets)[0], (typeof sets)[0]]
      // Interleaved appends, each set committing in its own batches.
      for (let n = 1; n <= 5; n++) {
        a.append(n)
        b.append(n)
        if (n % 2 === 0) await Promise.all([a.flush(), b.flush()])
      }
      await Promise.all([a.flush(), b.flush()])
      const { rows } = await sql(url, 'SELECT chain, seq FROM audit ORDER BY chain, seq')
      expect(rows.map((r) => `${r.chain}:${r.seq}`)).toEqual([
        ...[1, 2, 3, 4, 5].map((s) => `gw-a:${s}`),
        ...[1, 2, 3, 4, 5].map((s) => `gw-b:${s}`),
      ])
      const ok = verifyAuditTrail(a.db, null, 'gw-a')
      expect(ok).toMatchObject({ ok: true, count: 10, chains: 2, head: { seq: 5 } })

      // Ids from both, more than a block each, interleaved: all distinct.
      const ids: number[] = []
      const fromA = idAllocator(a.db, 'nonconformance')
      const fromB = idAllocator(b.db, 'nonconformance')
      for (let i = 0; i < ID_BLOCK + 50; i++) ids.push(fromA.next(), fromB.next())
      expect(new Set(ids).size).toBe(ids.length)

      // An entry of gw-b changed, re-hashed so that only its link shows it: named with its chain.
      const { rows: second } = await sql(
        url,
        "SELECT * FROM audit WHERE chain = 'gw-b' AND seq = 2",
      )
      const row = second[0] as Record<string, string>
      const forged = auditEntry(
        { seq: 1, hash: '0'.repeat(64) },
        {
          at: Number(row.at),
          actor: row.actor as string,
          action: row.action as string,
          entity: row.entity as string,
          entityId: row.entity_id as string,
          reason: 'forged',
          before: null,
          after: JSON.parse(row.after as string),
        },
      )
      await sql(
        url,
        `ALTER TABLE audit DISABLE TRIGGER audit_no_update;
         UPDATE audit SET reason = 'forged', prev_hash = '${forged.prevHash}', hash = '${forged.hash}'
         WHERE chain = 'gw-b' AND seq = 2;`,
      )
      const broken = verifyAuditTrail(a.db, null, 'gw-a')
      expect(broken).toMatchObject({ ok: false, chain: 'gw-b', seq: 2 })
      expect(!broken.ok && broken.why).toMatch(/^chain "gw-b": entry 2: prevHash/)
    } finally {
      for (const s of sets) await s.stop()
      await dir.remove()
    }
  })

  it('a records writer claims its audit chain on every connection: its own lost one is ended, another gateway holding it stops the appends until it goes', async () => {
    const url = await server.createDatabase('records_claim')
    const dir = await tempDir('linewatch-claim-')
    // The writer reaches the server through a proxy that can drop the writer's side of a
    // connection while the server's side lives on (a connection lost on one side only).
    const target = new URL(url)
    const pairs: { client: Socket; upstream: Socket }[] = []
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname)
      client.pipe(upstream).pipe(client)
      client.on('error', () => {})
      upstream.on('error', () => client.destroy())
      pairs.push({ client, upstream })
    })
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
    const proxied = new URL(url)
    proxied.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`
    const CHAIN = 'gw-claim'
    const failures: string[] = []
    const db = await openRecordsAt({ dialect: 'postgres', url })
    const writer = createRecordsWriter({
      ...writerTarget({ dialect: 'postgres', url: proxied.href }),
      auditChain: CHAIN,
      statements: AUDIT_STATEMENTS,
      log,
      onFailure: (error) => failures.push(error),
    })
    const store = createSqliteStore({ path: join(dir.path, 'ts.db'), log })
    const other = new pg.Client({ connectionString: url })
    try {
      await writer.start()
      await store.start()
      const audit = createAuditTrail({
        db,
        chain: CHAIN,
        run: (statement, params) => writer.run(statement, params),
        whenDurable: (done) => writer.whenDurable(done),
        headPath: join(dir.path, 'head.json'),
        store,
        log,
      })
      audit.start()
      const append = (n: number) =>
        audit.append({
          at: Date.now(),
          actor: 'qe',
          action: 'note',
          entity: 'test',
          entityId: String(n),
          reason: 'claims',
          before: null,
          after: { n },
        })
      const stored = async () =>
        (await sql(url, 'SELECT seq FROM audit WHERE chain = $1 ORDER BY seq', [CHAIN])).rows.map(
          (r) => Number(r.seq),
        )
      /** The server process holding the chain's session lock (key as in postgres-records.ts). */
      const holders = async () =>
        (
          await sql(
            url,
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND classid::bigint = $1 AND objid::bigint = (hashtext($2)::bigint & 4294967295)`,
            [0x61756474, CHAIN],
          )
        ).rows.map((r) => Number(r.pid))
      append(1)
      await writer.flush()
      expect(await stored()).toEqual([1])
      const [first] = await holders()
      expect(first).toBeTypeOf('number')

      // Lost on the writer's side only: the server still holds the claim for that connection.
      for (const { client } of pairs) client.destroy()
      append(2)
      await writer.flush()
      expect(await stored()).toEqual([1, 2])
      const [second] = await holders()
      expect(second).not.toBe(first)
      const alive = await sql(
        url,
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
        [first],
      )
      expect(alive.rows[0].n).toBe(0)

      // The server ends the writer's connection, and another gateway claims the chain first.
      await sql(url, 'SELECT pg_terminate_backend($1, 5000)', [second])
      await other.connect()
      const claimed = await other.query(
        'SELECT pg_try_advisory_lock($1, hashtext($2))::int AS got',
        [0x61756474, CHAIN],
      )
      expect(claimed.rows[0].got).toBe(1)
      append(3)
      const flushed = writer.flush()
      const error = await waitFor('the writer saying the chain is taken', () =>
        writer.status().lastError?.match(/audit chain "gw-claim"/),
      )
      expect(error).toBeTruthy()
      expect(failures.at(-1)).toMatch(/audit chain "gw-claim"/)
      expect(await stored()).toEqual([1, 2])
      // The other gateway goes: the writer claims the chain at its next try and appends, once.
      await other.end()
      await flushed
      expect(await stored()).toEqual([1, 2, 3])
      expect(verifyAuditTrail(db, null, CHAIN)).toMatchObject({ ok: true, count: 3 })
    } finally {
      await other.end().catch(() => {})
      await writer.stop()
      await store.stop()
      db.close()
      for (const { client, upstream } of pairs) {
        client.destroy()
        upstream.destroy()
      }
      await new Promise((r) => proxy.close(r))
      await dir.remove()
    }
  })
})
