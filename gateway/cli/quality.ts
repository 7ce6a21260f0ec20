import { existsSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { type Command, Option } from 'commander'
import type { AuditHead } from '../../rules/quality/audit.ts'
import { USER_ROLES, type UserRole } from '../../rules/quality/roles.ts'
import { type Config, loadConfigFile } from '../config/index.ts'
import { type ErrorCode, LinewatchError } from '../errors.ts'
import { createLogger, humanReadable, type Logger } from '../log.ts'
import {
  AUDIT_HEAD_FILE,
  AUDIT_SERIES,
  AUDIT_STATEMENTS,
  createAuditTrail,
  readHeadFile,
  type TrailVerdict,
  verifyAuditTrail,
} from '../quality/audit-trail.ts'
import { createUserDirectory, USER_STATEMENTS, type UserDirectory } from '../quality/users.ts'
import { openRecordsAt, recordsChain, recordsLocation, writerTarget } from '../store/records.ts'
import type { RecordsDb } from '../store/records-db.ts'
import { createRecordsWriter } from '../store/records-writer.ts'
import { createSqliteStore } from '../store/sqlite.ts'
import { readNewPassword } from './password-input.ts'

/**
 * `linewatch user add|passwd|disable|enable` and `linewatch audit verify` (issue 9: users,
 * e-signatures and the audit trail after 21 CFR Part 11 and EU GMP Annex 11).
 *
 * The user commands change records.db in the configuration's data directory while the gateway
 * is stopped (to recover an installation whose admins are all locked out or disabled, or to
 * script one). They take the data directory's lock the way the gateway does — by opening the
 * embedded time-series file, timeseries.db, exclusively (gateway/store/sqlite-db.ts) — so a
 * running gateway and a user command never write the same records at once: each refuses while
 * the other holds it (LW_ERR_DATA_DIR_LOCKED). The change goes through the same records writer,
 * audit trail and user directory as in the gateway, so its audit entry continues the hash chain
 * and the head kept outside the database moves with it: audit-head.json, and the audit head
 * event in the time-series store. With store.timeseries: sqlite that store is the very file
 * opened for the lock (the real store, started as the gateway starts it); with influxdb the
 * file is the journal only, which keeps no events, so the head in InfluxDB is left behind until
 * the gateway's next audit entry writes it again (the head file is up to date either way). The
 * entry's actor is `cli:<name of the operating-system user>`.
 *
 * `linewatch audit verify` reads records.db read-only and takes no lock: it runs while the
 * gateway runs.
 *
 * With store.records: postgres the records are in the PostgreSQL database whose URL is in the
 * variable store.postgres.urlEnv names; the data directory's lock and head file are still this
 * gateway's, and this gateway's audit chain (cluster.gateway, or `main`) is the one appended
 * to and compared with the heads outside. `audit verify` verifies every chain.
 *
 * Exit status: 0 done (verify: the trail is intact); 1 refused (the reason is printed with its
 * code); 2 (verify only) the trail is broken, the first broken entry is named.
 */

/** Error codes printed by these commands (gateway/errors.ts, docs/errors.md). */
const USER_REFUSED: ErrorCode = 'LW_ERR_USER_REFUSED'
const AUDIT_UNREADABLE: ErrorCode = 'LW_ERR_AUDIT_UNREADABLE'

/** A refusal a user can act on: its code and message, then one line per problem; exit 1. */
class Refusal extends Error {
  readonly code: string
  readonly problems: readonly string[]
  constructor(code: string, message: string, problems: readonly string[] = []) {
    super(message)
    this.code = code
    this.problems = problems
  }
}

/** Runs a command's work; prints a refusal (exit 1). Other errors go to main.ts's handler. */
async function refusable(work: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await work()
  } catch (err) {
    if (!(err instanceof Refusal)) throw err
    process.stderr.write(`linewatch: ${err.code}: ${err.message}\n`)
    for (const problem of err.problems) process.stderr.write(`  - ${problem}\n`)
    process.exitCode = 1
  }
}

/** Who the audit trail names for a change made here. */
function cliActor(): string {
  let name: string
  try {
    name = userInfo().username
  } catch {
    // A container may run under a uid without a name.
    name = process.env.USER || process.env.LOGNAME || `uid-${process.getuid?.() ?? 'unknown'}`
  }
  return `cli:${name}`
}

function reasonOf(text: string): string {
  const reason = text.trim()
  if (reason.length < 3)
    throw new Refusal(USER_REFUSED, 'a reason is required (--reason "…", at least 3 characters)')
  return reason
}

/** The password typed twice at a terminal, or on standard input, like hash-password. */
const readPassword = (what: string): Promise<string> =>
  readNewPassword({ what, code: USER_REFUSED })

const dataDirOf = (config: Config) => resolve(config.dataDir)

/**
 * Opens what a user change needs — the lock, the records, the writer, the audit trail and the
 * user directory, as the gateway wires them (gateway/index.ts) — runs `change`, waits until its
 * records and the audit head are written, and closes everything again.
 */
async function withUserDirectory(
  configFile: string,
  change: (users: UserDirectory, by: string, lastSeq: () => number) => Promise<string>,
): Promise<number> {
  const config = await loadConfigFile(configFile)
  const dataDir = dataDirOf(config)
  const log: Logger = createLogger('warn', humanReadable(process.stderr))
  // The lock first (nothing is opened for writing before it): the time-series file, opened as
  // the gateway opens it. It is the real store, so the audit head event is written to it too.
  const store = createSqliteStore({
    path: join(dataDir, 'timeseries.db'),
    log: log.child({ module: 'store' }),
    journalOnly: config.store.timeseries === 'influxdb',
    retention: config.store.sqlite.retention,
  })
  try {
    await store.start()
  } catch (err) {
    if (err instanceof LinewatchError && err.code === 'LW_ERR_DATA_DIR_LOCKED') {
      throw new LinewatchError(
        'LW_ERR_DATA_DIR_LOCKED',
        `a linewatch gateway is running on ${dataDir}: stop it first, or make this change in the dashboard (Users, as an admin) while it runs`,
      )
    }
    throw err
  }
  const stops: (() => Promise<void> | void)[] = [() => store.stop()]
  try {
    const records = recordsLocation(config, dataDir)
    const chain = recordsChain(config)
    const db = await openRecordsAt(records)
    stops.push(() => db.close())
    const headPath = join(dataDir, AUDIT_HEAD_FILE)
    refuseTruncatedTrail(db, headPath, chain)

    const writer = createRecordsWriter({
      ...writerTarget(records),
      auditChain: chain,
      statements: { ...AUDIT_STATEMENTS, ...USER_STATEMENTS },
      log: log.child({ module: 'records-writer' }),
    })
    await writer.start()
    // Flushed below before it stops: no wait is needed, and none keeps the process alive.
    stops.push(() => writer.stop(0))
    const audit = createAuditTrail({
      db,
      chain,
      run: (statement, params) => writer.run(statement, params),
      whenDurable: (done) => writer.whenDurable(done),
      headPath,
      store,
      log: log.child({ module: 'audit' }),
    })
    audit.start()
    const users = createUserDirectory({
      db,
      run: (statement, params) => writer.run(statement, params),
      audit,
      reserved: new Set(config.auth.tokens.map((t) => t.id)),
      policy: {
        minPasswordLength: config.auth.minPasswordLength,
        sessionIdleMinutes: config.auth.sessionIdleMinutes,
        sessionMaxHours: config.auth.sessionMaxHours,
        lockout: {
          maxFailures: config.auth.lockout.maxFailures,
          windowMs: config.auth.lockout.windowMinutes * 60_000,
          lockMs: config.auth.lockout.lockMinutes * 60_000,
        },
      },
    })
    users.start()
    const done = await change(users, cliActor(), () => audit.head()?.seq ?? 0)
    // The commit, then the head (the audit trail writes it once the entry is durable).
    const committed = await Promise.race([
      writer.flush().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 30_000).unref()),
    ])
    if (!committed) {
      throw new Error(
        `the records could not be written within 30 s: ${writer.status().lastError ?? 'no error reported'}`,
      )
    }
    await audit.settled()
    process.stdout.write(`${done}\n`)
    return 0
  } finally {
    for (const stop of stops.reverse()) await stop()
  }
}

/**
 * No entry is appended to a trail that lost entries at its end: the new entry would take a
 * removed entry's number and the head outside would move on to it, hiding the removal.
 */
function refuseTruncatedTrail(db: RecordsDb, headPath: string, chain: string): void {
  const outside = readHeadFile(headPath)
  if (!outside || outside.seq === 0) return
  const at = db
    .prepare('SELECT hash FROM audit WHERE chain = ? AND seq = ?')
    .get(chain, outside.seq) as { hash: string } | undefined
  if (at?.hash === outside.hash) return
  throw new Refusal(
    USER_REFUSED,
    `the audit trail does not reach its head outside the database (${headPath}: entry ${outside.seq}): run \`linewatch audit verify\`; nothing is appended to a trail that lost entries`,
  )
}

function orNot(problems: string[]): void {
  if (problems.length > 0) throw new Refusal(USER_REFUSED, 'refused:', problems)
}

interface UserOptions {
  config: string
  name: string
  reason: string
}

export function registerQualityCommands(program: Command): void {
  const user = program
    .command('user')
    .description(
      'Add users, set a password, disable or enable a user, while the gateway is stopped (audited).',
    )
    .addHelpText(
      'after',
      `
These commands change records.db in the configuration's data directory and refuse while a
gateway runs on it (LW_ERR_DATA_DIR_LOCKED): a running gateway's users are changed in the
dashboard or with the API. Every change is an audit entry, made by cli:<your OS user name>,
with the reason given. Passwords are typed twice at a terminal (not shown) or read from
standard input (a pipe or a file), and must meet the password rules
(auth.minPasswordLength; not a common password, not the user name).

Exit status: 0 done, 1 refused (the reason, or each problem, is printed).

Examples:
  printf '%s' "$PASSWORD" | linewatch user add -c linewatch.yaml --name jdoe \\
      --printed-name "Jane Doe" --role quality-manager --reason "joined QA"
  linewatch user passwd -c linewatch.yaml --name admin --reason "forgotten" < new-password
  linewatch user disable -c linewatch.yaml --name jdoe --reason "left the company"`,
    )

  const common = (command: Command) =>
    command
      .option(
        '-c, --config <file>',
        'configuration file (its dataDir holds records.db)',
        'linewatch.yaml',
      )
      .requiredOption('--name <name>', 'the user name')
      .requiredOption('--reason <text>', 'why: kept in the audit trail')

  common(
    user
      .command('add')
      .description(
        'Add a user; the password is typed twice at a terminal, or read from standard input.',
      ),
  )
    .requiredOption('--printed-name <text>', 'the name printed with signatures ("Jane Doe")')
    .addOption(new Option('--role <role>', 'role').choices(USER_ROLES).makeOptionMandatory())
    .action((opts: UserOptions & { printedName: string; role: UserRole }) =>
      refusable(async () => {
        const reason = reasonOf(opts.reason)
        const password = await readPassword('password')
        return withUserDirectory(opts.config, async (users, by, lastSeq) => {
          if (users.list().length === 0 && opts.role !== 'admin')
            throw new Refusal(
              USER_REFUSED,
              'there is no user yet: the first user must be an admin (with none, the gateway makes the first admin at its start)',
            )
          const added = await users.add(
            { name: opts.name, printedName: opts.printedName, role: opts.role, password },
            by,
            reason,
          )
          if (Array.isArray(added)) throw new Refusal(USER_REFUSED, 'user not added:', added)
          return `user ${added.name} added (${added.role}): audit entry #${lastSeq()}`
        })
      }),
    )

  common(
    user
      .command('passwd')
      .description(
        "Set a user's password; the new password is typed twice at a terminal, or read from standard input.",
      ),
  ).action((opts: UserOptions) =>
    refusable(async () => {
      const reason = reasonOf(opts.reason)
      const password = await readPassword('new password')
      return withUserDirectory(opts.config, async (users, by, lastSeq) => {
        orNot(await users.setPassword(opts.name, password, by, reason))
        return `password of ${opts.name} changed: audit entry #${lastSeq()}`
      })
    }),
  )

  for (const [command, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    common(
      user
        .command(command)
        .description(
          disabled
            ? 'Disable a user: no sign-in, no signature; the records keep the name.'
            : 'Enable a disabled user again.',
        ),
    ).action((opts: UserOptions) =>
      refusable(async () => {
        const reason = reasonOf(opts.reason)
        return withUserDirectory(opts.config, async (users, by, lastSeq) => {
          const now = users.get(opts.name)
          if (now && now.disabled === disabled)
            return `user ${opts.name} is already ${command}d: nothing changed`
          orNot(users.setDisabled(opts.name, disabled, by, reason))
          return `user ${opts.name} ${command}d: audit entry #${lastSeq()}`
        })
      }),
    )
  }

  program
    .command('audit')
    .description('Work with the audit trail.')
    .command('verify')
    .description(
      'Verify the audit trail: its hash chain, and its end against the head kept outside the database.',
    )
    .option(
      '-c, --config <file>',
      'configuration file (its dataDir holds records.db)',
      'linewatch.yaml',
    )
    .option('--json', 'print the verdict as one JSON object')
    .addHelpText(
      'after',
      `
Reads records.db read-only and takes no lock: it may run while the gateway runs. Every entry's
hash is recomputed (SHA-256 of the canonical JSON of its fields), each entry must link to the
one before (prevHash) and the sequence numbers must have no gap. The trail's end is compared
with the head (sequence number and hash of the last entry) the gateway keeps outside the
database: ${AUDIT_HEAD_FILE} in the data directory, and, with store.timeseries: sqlite, the
highest head among the "${AUDIT_SERIES}" events of the time-series store (readable only while
the gateway is stopped: it holds that file exclusively). A trail shorter than a head lost
entries at its end.

Prints "audit trail intact: N entries, head #SEQ sha256 HASH", or "audit trail BROKEN at entry
#K: WHY". Warnings (no head outside the database: a truncation cannot be detected) go to
standard error.

Exit status: 0 intact, 1 the trail cannot be read (no records.db, …), 2 broken.`,
    )
    .action((opts: { config: string; json?: boolean }) =>
      refusable(() => verifyCommand(opts.config, opts.json === true)),
    )
}

interface OutsideHead {
  head: AuditHead
  /** Where it is kept, for the messages. */
  source: string
}

/** The highest audit head in the embedded time-series store, or why none is compared. */
function storeHead(config: Config, dataDir: string): OutsideHead | string {
  if (config.store.timeseries !== 'sqlite')
    return 'the time series are in InfluxDB: the audit head kept there is not compared (only the head file)'
  const path = join(dataDir, 'timeseries.db')
  if (!existsSync(path)) return `no time-series store (${path}): its audit head is not compared`
  let ts: DatabaseSync | null = null
  try {
    ts = new DatabaseSync(path, { readOnly: true })
    // The highest head ever written, not merely the latest: a trail cut back and appended to
    // again has a latest head that fits it, but not the highest.
    const row = ts
      .prepare(
        `SELECT e.detail FROM event e JOIN series s ON s.id = e.series
         WHERE s.characteristic = ? AND e.type = 'audit-head'
         ORDER BY json_extract(e.detail, '$.seq') DESC, e.ts DESC LIMIT 1`,
      )
      .get(AUDIT_SERIES) as { detail: string } | undefined
    if (!row)
      return 'the time-series store holds no audit head (none written yet, or removed by its retention)'
    const head = JSON.parse(row.detail) as AuditHead
    if (!Number.isInteger(head.seq) || head.seq < 1 || typeof head.hash !== 'string')
      return `the audit head in the time-series store is not a head: ${row.detail}`
    return { head: { seq: head.seq, hash: head.hash }, source: `the time-series store, ${path}` }
  } catch (err) {
    const message = (err as Error).message
    return /locked|busy/i.test(message)
      ? 'the time-series store is held by the running gateway: its audit head is not compared (only the head file)'
      : `the time-series store cannot be read (${message}): its audit head is not compared`
  } finally {
    ts?.close()
  }
}

async function verifyCommand(configFile: string, json: boolean): Promise<number> {
  const config = await loadConfigFile(configFile)
  const dataDir = dataDirOf(config)
  const records = recordsLocation(config, dataDir)
  const chain = recordsChain(config)
  const recordsPath =
    records.dialect === 'sqlite'
      ? records.path
      : `the PostgreSQL records (${config.store.postgres.urlEnv})`
  if (records.dialect === 'sqlite' && !existsSync(recordsPath))
    throw new Refusal(
      AUDIT_UNREADABLE,
      `no records database at ${recordsPath}: no gateway has run on this data directory (dataDir in ${configFile})`,
    )
  const warnings: string[] = []
  const notes: string[] = []

  // The heads outside first, the trail after: a head is written after its entries commit, so a
  // trail read later reaches at least as far (read the other way round, a gateway appending
  // meanwhile would look like a truncation).
  const headPath = join(dataDir, AUDIT_HEAD_FILE)
  const read = readHeadFile(headPath)
  // The gateway writes a head once the trail has an entry: seq 1 or more.
  const fileHead = read && read.seq >= 1 ? read : null
  if (!fileHead && existsSync(headPath))
    warnings.push(`${headPath} is not a valid audit head: it is not compared`)
  const fromStore = storeHead(config, dataDir)
  if (typeof fromStore === 'string') notes.push(fromStore)
  const heads: OutsideHead[] = []
  if (fileHead) heads.push({ head: fileHead, source: headPath })
  if (typeof fromStore !== 'string') heads.push(fromStore)
  if (heads.length === 0)
    warnings.push('no head outside the database: a truncation cannot be detected')
  else if (!fileHead)
    warnings.push(`no head file (${headPath}): only ${heads[0]?.source} is compared`)
  // The highest head decides how far the trail must reach; any other must match its entry.
  heads.sort((a, b) => b.head.seq - a.head.seq)

  let db: RecordsDb
  try {
    db =
      records.dialect === 'sqlite'
        ? new DatabaseSync(recordsPath, { readOnly: true })
        : await openRecordsAt(records, { migrate: false })
  } catch (err) {
    throw new Refusal(
      AUDIT_UNREADABLE,
      `${recordsPath} cannot be opened: ${(err as Error).message}`,
    )
  }
  let verdict: TrailVerdict
  const postgres = records.dialect === 'postgres'
  try {
    if (!postgres) db.exec('PRAGMA busy_timeout = 5000')
    const table = postgres
      ? (db.prepare("SELECT to_regclass('audit') AS t").get() as { t: string | null }).t
      : db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").get()
    if (!table)
      throw new Refusal(
        AUDIT_UNREADABLE,
        `${recordsPath} has no audit trail (written by a linewatch before the audit trail, or not a records database)`,
      )
    // One snapshot for the whole check, while a gateway may be appending.
    db.exec(postgres ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN')
    try {
      verdict = checkTrail(db, heads, chain)
    } finally {
      db.exec('COMMIT')
    }
  } catch (err) {
    if (err instanceof Refusal) throw err
    throw new Refusal(AUDIT_UNREADABLE, `${recordsPath} cannot be read: ${(err as Error).message}`)
  } finally {
    db.close()
  }

  const outside = {
    file: fileHead,
    store: typeof fromStore === 'string' ? null : fromStore.head,
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        verdict.ok
          ? { intact: true, entries: verdict.count, head: verdict.head, outside, warnings, notes }
          : {
              intact: false,
              brokenAt: verdict.seq,
              ...(postgres ? { chain: verdict.chain } : {}),
              why: verdict.why,
              outside,
              warnings,
              notes,
            },
        null,
        2,
      )}\n`,
    )
  } else {
    for (const w of warnings) process.stderr.write(`linewatch audit: warning: ${w}\n`)
    for (const n of notes) process.stderr.write(`linewatch audit: note: ${n}\n`)
    process.stdout.write(
      verdict.ok
        ? verdict.head.seq === 0
          ? 'audit trail intact: 0 entries (the trail is empty)\n'
          : `audit trail intact: ${verdict.count} entries, head #${verdict.head.seq} sha256 ${verdict.head.hash}\n`
        : `audit trail BROKEN at entry #${verdict.seq}: ${verdict.why}\n`,
    )
  }
  return verdict.ok ? 0 : 2
}

/** The chain against the highest head, then every other head against its entry. */
function checkTrail(db: RecordsDb, heads: readonly OutsideHead[], chain: string): TrailVerdict {
  const [highest, ...others] = heads
  const verdict = verifyAuditTrail(db, highest?.head ?? null, chain)
  if (!verdict.ok) {
    // Name the head that showed it when a head did.
    const why =
      highest && /head outside/.test(verdict.why)
        ? `${verdict.why} (the head in ${highest.source})`
        : verdict.why
    return { ...verdict, why }
  }
  for (const other of others) {
    const at = db
      .prepare('SELECT hash FROM audit WHERE chain = ? AND seq = ?')
      .get(chain, other.head.seq) as { hash: string } | undefined
    if (at?.hash !== other.head.hash)
      return {
        ok: false,
        chain,
        seq: other.head.seq,
        why: `entry ${other.head.seq} does not have the hash its head in ${other.source} records`,
      }
  }
  return verdict
}
