import { createHash } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson } from '../rules/quality/canonical.ts'
import { startTestGateway, type TestGateway, TOKENS, testConfigYaml } from './helpers/gateway.ts'
import { apiCall, type ProgramRun, runProgram, tempDir } from './helpers/index.ts'

/**
 * `linewatch user …` and `linewatch audit verify`, run as a user runs them: the built CLI
 * (`npm run build` first), spawned with this Node, on the data directory of a real gateway
 * (started in this process, stopped before the user commands that write).
 *
 * The tamper cases change a copy of records.db as someone with access to the file would: the
 * triggers that keep the audit table append-only are dropped first, then an entry is edited,
 * deleted, edited and re-hashed, or the last ones removed. What verify must name comes from
 * what the test changed, not from a run of the verifier.
 */

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'linewatch.js')
const ADMIN_PASSWORD = 'first start password for the test'
const REST = `
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: t, name: T, path: p/a/l/c, source: { mqtt: { topic: l/t } } }
`

/** Runs `linewatch …`; never throws on a non-zero exit. */
function linewatch(args: string[], input = ''): Promise<ProgramRun> {
  return runProgram(process.execPath, [BIN, ...args], { cwd: ROOT, input })
}

function call(
  gw: TestGateway,
  method: 'POST' | 'GET',
  path: string,
  body?: unknown,
  token: string | null = TOKENS.admin,
): Promise<{ status: number; body: unknown }> {
  return apiCall(gw.gateway.urls.http as string, method, path, token, body)
}

let dir: { path: string; remove(): Promise<void> }
let dataDir: string
let configFile: string
let savedAdminPassword: string | undefined
let copies = 0

const start = () => startTestGateway(REST, { dataDir })

beforeAll(async () => {
  const source = join(ROOT, 'gateway', 'cli', 'quality.ts')
  const built = join(ROOT, 'dist', 'gateway', 'cli', 'quality.js')
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs)
    throw new Error('dist/ is older than gateway/cli/quality.ts: run `npm run build` first')
  dir = await tempDir()
  dataDir = join(dir.path, 'data')
  configFile = join(dir.path, 'linewatch.yaml')
  await writeFile(configFile, testConfigYaml(dataDir, REST))
  // The first start makes the first admin from it (gateway/index.ts firstAdmin).
  savedAdminPassword = process.env.LINEWATCH_ADMIN_PASSWORD
  process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
})

afterAll(async () => {
  if (savedAdminPassword === undefined) delete process.env.LINEWATCH_ADMIN_PASSWORD
  else process.env.LINEWATCH_ADMIN_PASSWORD = savedAdminPassword
  await dir?.remove()
})

/** What `audit verify` must report for an intact trail of n entries. */
const intact = (n: number) =>
  new RegExp(`^audit trail intact: ${n} entries, head #${n} sha256 [0-9a-f]{64}\\n`)

function auditRows(
  path: string,
): { seq: number; actor: string; action: string; entity_id: string }[] {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return db
      .prepare('SELECT seq, actor, action, entity_id FROM audit ORDER BY seq')
      .all() as unknown as { seq: number; actor: string; action: string; entity_id: string }[]
  } finally {
    db.close()
  }
}

describe('linewatch user and audit verify on a gateway data directory', () => {
  // Entries the trail holds once the gateway and the CLI below have run (read from the table).
  let entries = 0

  it('the gateway audits its first start and the API changes; verify reads while it runs; user add is refused while it runs', async () => {
    const gw = await start()
    try {
      const added = await call(gw, 'POST', '/api/users', {
        name: 'qe1',
        printedName: 'Quinn Engineer',
        role: 'quality-engineer',
        password: 'a long enough password',
        reason: 'joined the quality team',
      })
      expect(added.status).toBe(200)
      for (const [action, reason] of [
        ['disable', 'on leave'],
        ['enable', 'back from leave'],
      ]) {
        expect((await call(gw, 'POST', '/api/users/qe1/actions', { action, reason })).status).toBe(
          200,
        )
      }

      // Committed once listed (the list waits for the records writer): the CLI reads the file.
      const listed = await call(gw, 'GET', '/api/audit')
      expect(listed.status).toBe(200)
      expect(listed.body).toHaveLength(5)

      const refused = await linewatch(
        [
          'user',
          'add',
          '--config',
          configFile,
          '--name',
          'late',
          '--printed-name',
          'Too Late',
          '--role',
          'operator',
          '--reason',
          'while it runs',
        ],
        'a long enough password',
      )
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('LW_ERR_DATA_DIR_LOCKED')
      expect(refused.stderr).toContain(
        `a linewatch gateway is running on ${dataDir}: stop it first`,
      )

      // Read-only, no lock: it runs beside the gateway (which holds the time-series file).
      const verify = await linewatch(['audit', 'verify', '--config', configFile])
      expect(verify.stderr).toContain('the time-series store is held by the running gateway')
      expect(verify.stdout).toMatch(intact(5))
      expect(verify.code).toBe(0)
    } finally {
      await gw.close()
    }
    // configuration recorded, admin added (first start), qe1 added, disabled, enabled.
    expect(
      auditRows(join(dataDir, 'records.db')).map((r) => [r.seq, r.action, r.entity_id]),
    ).toEqual([
      [1, 'configuration recorded', 'configuration'],
      [2, 'user added', 'admin'],
      [3, 'user added', 'qe1'],
      [4, 'user disabled', 'qe1'],
      [5, 'user enabled', 'qe1'],
    ])
  })

  it('user add refuses a weak password with the rule, adds a user who then signs in on the restarted gateway', async () => {
    const add = (name: string, password: string) =>
      linewatch(
        [
          'user',
          'add',
          '--config',
          configFile,
          '--name',
          name,
          '--printed-name',
          'Casey Line',
          '--role',
          'operator',
          '--reason',
          'new operator on line 2',
        ],
        `${password}\n`,
      )
    const weak = await add('casey', 'password')
    expect(weak.code).toBe(1)
    expect(weak.stderr).toContain('LW_ERR_USER_REFUSED')
    expect(weak.stderr).toContain('the password must be at least 15 characters (it has 8)')
    expect(weak.stderr).toContain('the password is one of the most common passwords')

    const ok = await add('casey', 'night shift on line two')
    expect(ok.stderr).toBe('')
    expect(ok.stdout).toBe('user casey added (operator): audit entry #6\n')
    expect(ok.code).toBe(0)

    const disabled = await linewatch([
      'user',
      'disable',
      '-c',
      configFile,
      '--name',
      'qe1',
      '--reason',
      'left the company',
    ])
    expect(disabled.stdout).toBe('user qe1 disabled: audit entry #7\n')
    expect(disabled.code).toBe(0)

    const rows = auditRows(join(dataDir, 'records.db'))
    expect(rows.slice(5).map((r) => [r.seq, r.actor, r.action, r.entity_id])).toEqual([
      [6, `cli:${userInfo().username}`, 'user added', 'casey'],
      [7, `cli:${userInfo().username}`, 'user disabled', 'qe1'],
    ])

    // Stopped gateway: the head in the time-series store is read too.
    const verify = await linewatch(['audit', 'verify', '--config', configFile, '--json'])
    expect(verify.code).toBe(0)
    const verdict = JSON.parse(verify.stdout) as {
      intact: boolean
      entries: number
      head: { seq: number }
      outside: { file: { seq: number } | null; store: { seq: number } | null }
      warnings: string[]
    }
    expect(verdict).toMatchObject({
      intact: true,
      entries: 7,
      head: { seq: 7 },
      outside: { file: { seq: 7 }, store: { seq: 7 } },
      warnings: [],
    })

    const gw = await start()
    try {
      const signIn = await call(
        gw,
        'POST',
        '/api/auth/sign-in',
        { user: 'casey', password: 'night shift on line two' },
        null,
      )
      expect(signIn.status).toBe(200)
      expect(signIn.body).toMatchObject({ token: expect.any(String) })
      const refused = await call(
        gw,
        'POST',
        '/api/auth/sign-in',
        { user: 'qe1', password: 'a long enough password' },
        null,
      )
      expect(refused.status).toBe(401)
    } finally {
      await gw.close()
    }
    entries = auditRows(join(dataDir, 'records.db')).length
    // The sign-in and the refused one are entries too.
    expect(entries).toBeGreaterThanOrEqual(9)
    const after = await linewatch(['audit', 'verify', '--config', configFile])
    expect(after.stdout).toMatch(intact(entries))
    expect(after.code).toBe(0)
  })

  describe('tampering with a copy of records.db', () => {
    /**
     * A fresh copy of the stopped gateway's data directory (records.db with its -wal and -shm
     * if any, the head file, and the time-series store only when asked), with a configuration
     * pointing at it.
     */
    async function copy(options: { store?: boolean } = {}) {
      const to = join(dir.path, `copy-${++copies}`)
      await mkdir(to)
      const files = ['records.db', 'records.db-wal', 'records.db-shm', 'audit-head.json']
      if (options.store) files.push('timeseries.db', 'timeseries.db-wal', 'timeseries.db-shm')
      for (const f of files)
        if (existsSync(join(dataDir, f))) await copyFile(join(dataDir, f), join(to, f))
      const config = join(to, 'linewatch.yaml')
      await writeFile(config, testConfigYaml(to, REST))
      return { dir: to, config, records: join(to, 'records.db') }
    }

    /** Opens the copy for writing, shows the triggers refuse, and drops them. */
    function openTampered(path: string): DatabaseSync {
      const db = new DatabaseSync(path)
      expect(() => db.exec("UPDATE audit SET reason = 'nothing happened' WHERE seq = 3")).toThrow(
        /the audit trail is append-only/,
      )
      expect(() => db.exec('DELETE FROM audit WHERE seq = 3')).toThrow(
        /the audit trail is append-only/,
      )
      db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete')
      return db
    }

    it('the untouched copy is intact', async () => {
      const c = await copy()
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toMatch(intact(entries))
      expect(run.code).toBe(0)
    })

    it('an edited reason: the entry is named, edited', async () => {
      const c = await copy()
      const db = openTampered(c.records)
      db.exec("UPDATE audit SET reason = 'a better reason' WHERE seq = 4")
      db.close()
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toBe(
        'audit trail BROKEN at entry #4: entry 4: its content does not match its hash (edited)\n',
      )
      expect(run.code).toBe(2)
    })

    it('a deleted entry in the middle: the missing sequence number is named', async () => {
      const c = await copy()
      const db = openTampered(c.records)
      db.exec('DELETE FROM audit WHERE seq = 4')
      db.close()
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toBe(
        'audit trail BROKEN at entry #4: entry 4 is missing: seq 3 is followed by 5\n',
      )
      expect(run.code).toBe(2)
    })

    it('an entry edited and re-hashed: the next entry is named (its prevHash no longer matches)', async () => {
      const c = await copy()
      const db = openTampered(c.records)
      const row = db.prepare('SELECT * FROM audit WHERE seq = 4').get() as Record<
        string,
        string | number
      >
      // rules/quality/audit.ts auditHash: SHA-256 of the canonical JSON of every field but hash.
      const edited = {
        seq: row.seq,
        at: row.at,
        actor: row.actor,
        action: row.action,
        entity: row.entity,
        entityId: row.entity_id,
        reason: 'a better reason',
        before: JSON.parse(String(row.before)),
        after: JSON.parse(String(row.after)),
        prevHash: row.prev_hash,
      }
      const hash = createHash('sha256').update(canonicalJson(edited), 'utf8').digest('hex')
      expect(hash).not.toBe(row.hash)
      db.prepare('UPDATE audit SET reason = ?, hash = ? WHERE seq = 4').run(edited.reason, hash)
      db.close()
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toBe(
        "audit trail BROKEN at entry #5: entry 5: prevHash does not match entry 4's hash\n",
      )
      expect(run.code).toBe(2)
    })

    it('the last two entries removed: the chain holds, the head file names the first one removed', async () => {
      const c = await copy()
      const db = openTampered(c.records)
      db.prepare('DELETE FROM audit WHERE seq >= ?').run(entries - 1)
      db.close()
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toMatch(
        new RegExp(
          `^audit trail BROKEN at entry #${entries - 1}: the trail ends at entry ${entries - 2} but its head outside the database is entry ${entries}: entries ${entries - 1}–${entries} were removed \\(the head in .*audit-head\\.json\\)\\n$`,
        ),
      )
      expect(run.code).toBe(2)
    })

    it('the last two entries removed and the head file deleted: it passes, with the warning', async () => {
      const c = await copy()
      const db = openTampered(c.records)
      db.prepare('DELETE FROM audit WHERE seq >= ?').run(entries - 1)
      db.close()
      await rm(join(c.dir, 'audit-head.json'))
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stdout).toMatch(intact(entries - 2))
      expect(run.stderr).toContain(
        'warning: no head outside the database: a truncation cannot be detected',
      )
      expect(run.code).toBe(0)
    })

    it('… but with the time-series store at hand, its head still names the first one removed', async () => {
      const c = await copy({ store: true })
      const db = openTampered(c.records)
      db.prepare('DELETE FROM audit WHERE seq >= ?').run(entries - 1)
      db.close()
      await rm(join(c.dir, 'audit-head.json'))
      const run = await linewatch(['audit', 'verify', '--config', c.config])
      expect(run.stderr).toContain('warning: no head file')
      expect(run.stdout).toMatch(
        new RegExp(
          `^audit trail BROKEN at entry #${entries - 1}: .*entries ${entries - 1}–${entries} were removed \\(the head in the time-series store, .*timeseries\\.db\\)\\n$`,
        ),
      )
      expect(run.code).toBe(2)
    })

    it('a user command refuses to append to a trail that lost its last entries', async () => {
      const c = await copy({ store: true })
      const db = openTampered(c.records)
      db.prepare('DELETE FROM audit WHERE seq >= ?').run(entries - 1)
      db.close()
      const run = await linewatch([
        'user',
        'enable',
        '-c',
        c.config,
        '--name',
        'qe1',
        '--reason',
        'would hide the removal',
      ])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('LW_ERR_USER_REFUSED: the audit trail does not reach its head')
      expect(auditRows(c.records)).toHaveLength(entries - 2)
    })
  })
})
