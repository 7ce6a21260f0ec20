import { join } from 'node:path'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import { openPostgresRecords } from './postgres-records.ts'
import { migratePostgresRecords } from './postgres-schema.ts'
import { type RecordsDb, type SqliteRecordsDb, sqliteRecordsDb } from './records-db.ts'
import { openDatabase } from './sqlite-db.ts'

/**
 * The records database (SQLite, `records.db` under dataDir): what must survive a restart
 * transactionally — chart state with its frozen limits, nonconformances, alarms, dead letters,
 * users, CAPAs, signatures and the audit trail.
 * Every schema change is a new migration at the end of this list (and its PostgreSQL form in
 * postgres-schema.ts).
 */
const MIGRATIONS = [
  `CREATE TABLE chart_state (
     characteristic TEXT PRIMARY KEY,
     spec_hash TEXT NOT NULL,
     state TEXT NOT NULL,
     updated_at INTEGER NOT NULL);

   CREATE TABLE nonconformance (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     characteristic TEXT NOT NULL,
     characteristic_name TEXT NOT NULL,
     path TEXT NOT NULL,
     cause TEXT NOT NULL,
     title TEXT NOT NULL,
     status TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     last_at INTEGER NOT NULL,
     occurrences INTEGER NOT NULL,
     trigger TEXT NOT NULL,
     limits TEXT NOT NULL,
     readings TEXT NOT NULL,
     history TEXT NOT NULL);
   CREATE INDEX nonconformance_opened ON nonconformance (opened_at);
   -- Every cause an NC holds (a reading can trigger several at once: one event, one NC).
   CREATE TABLE nonconformance_cause (
     nonconformance INTEGER NOT NULL REFERENCES nonconformance (id),
     characteristic TEXT NOT NULL,
     cause TEXT NOT NULL,
     open INTEGER NOT NULL);
   -- One open NC per characteristic and cause, enforced by the database itself.
   CREATE UNIQUE INDEX nonconformance_cause_open ON nonconformance_cause (characteristic, cause) WHERE open = 1;

   CREATE TABLE dead_letter (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     ts INTEGER NOT NULL,
     source TEXT NOT NULL,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     address TEXT,
     size INTEGER NOT NULL,
     payload BLOB NOT NULL);
   CREATE INDEX dead_letter_reason ON dead_letter (reason, id);
   -- Totals survive the pruning of old dead letters.
   CREATE TABLE dead_letter_count (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);`,

  // Limits change only by an explicit, recorded act: who, when, why, before and after.
  `CREATE TABLE limit_change (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     characteristic TEXT NOT NULL,
     ts INTEGER NOT NULL,
     action TEXT NOT NULL,
     reason TEXT NOT NULL,
     actor TEXT,
     before TEXT,
     after TEXT);
   CREATE INDEX limit_change_characteristic ON limit_change (characteristic, id);`,

  // An NC's occurrences as rows (numbered from 1, the trigger), not a JSON history written
  // again at every occurrence; the latest 100 are kept.
  `CREATE TABLE nonconformance_occurrence (
     nonconformance INTEGER NOT NULL REFERENCES nonconformance (id),
     number INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     value REAL NOT NULL,
     PRIMARY KEY (nonconformance, number)) WITHOUT ROWID;
   INSERT INTO nonconformance_occurrence (nonconformance, number, ts, value)
     SELECT n.id, n.occurrences - json_array_length(n.history) + 1 + h.key,
            json_extract(h.value, '$.ts'), json_extract(h.value, '$.value')
     FROM nonconformance n, json_each(n.history) h;
   UPDATE nonconformance SET history = '[]';`,

  // Alarms (ISA-18.2): each alarm's lifecycle record, every transition with who, when and why,
  // and the plant states an operator sets.
  `CREATE TABLE alarm (
     id TEXT PRIMARY KEY,
     record TEXT NOT NULL,
     shelved_by TEXT,
     shelve_reason TEXT,
     updated_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE alarm_event (
     id INTEGER PRIMARY KEY,
     alarm TEXT NOT NULL,
     area TEXT NOT NULL,
     priority TEXT NOT NULL,
     at INTEGER NOT NULL,
     from_state TEXT NOT NULL,
     to_state TEXT NOT NULL,
     by TEXT,
     why TEXT NOT NULL,
     value REAL);
   CREATE INDEX alarm_event_alarm ON alarm_event (alarm, id);
   CREATE INDEX alarm_event_at ON alarm_event (at);
   -- Settings an engineer changed (priority, deadband, delays, re-alarm) over the configured ones.
   CREATE TABLE alarm_override (
     id TEXT PRIMARY KEY,
     settings TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE plant_state (
     id TEXT PRIMARY KEY,
     active INTEGER NOT NULL,
     since INTEGER NOT NULL,
     by TEXT,
     reason TEXT) WITHOUT ROWID;`,

  // The quality loop (issue 9): users, the NC workflow, CAPAs, comments, attachments,
  // signatures, and the audit trail (append-only, hash-chained: rules/quality/audit.ts).
  `CREATE TABLE app_user (
     name TEXT PRIMARY KEY,
     printed_name TEXT NOT NULL,
     role TEXT NOT NULL,
     password TEXT NOT NULL,
     disabled INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     password_changed_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE audit (
     seq INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     entity TEXT NOT NULL,
     entity_id TEXT NOT NULL,
     reason TEXT NOT NULL,
     before TEXT NOT NULL,
     after TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL);
   CREATE INDEX audit_entity ON audit (entity, entity_id, seq);
   CREATE INDEX audit_at ON audit (at);
   -- Append-only in the database too: changing or removing an entry needs these dropped first,
   -- and then the chain (and the head kept outside) shows it.
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
     BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
     BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
   ALTER TABLE nonconformance ADD COLUMN workflow TEXT;
   ALTER TABLE nonconformance ADD COLUMN recurrence_of INTEGER;
   ALTER TABLE nonconformance ADD COLUMN owner TEXT;
   ALTER TABLE nonconformance ADD COLUMN due_at INTEGER;
   ALTER TABLE nonconformance ADD COLUMN closed_at INTEGER;
   CREATE INDEX nonconformance_status ON nonconformance (status, id);
   CREATE TABLE capa (
     id INTEGER PRIMARY KEY,
     record TEXT NOT NULL,
     status TEXT NOT NULL,
     owner TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     opened_at INTEGER NOT NULL,
     closed_at INTEGER);
   CREATE TABLE record_comment (
     id INTEGER PRIMARY KEY,
     entity_id TEXT NOT NULL,
     at INTEGER NOT NULL,
     by TEXT NOT NULL,
     text TEXT NOT NULL);
   CREATE INDEX record_comment_entity ON record_comment (entity_id, id);
   CREATE TABLE attachment (
     entity_id TEXT NOT NULL,
     name TEXT NOT NULL,
     size INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     content_type TEXT NOT NULL,
     at INTEGER NOT NULL,
     by TEXT NOT NULL,
     PRIMARY KEY (entity_id, name)) WITHOUT ROWID;
   CREATE TABLE signature (
     id INTEGER PRIMARY KEY,
     entity_id TEXT NOT NULL,
     user TEXT NOT NULL,
     printed_name TEXT NOT NULL,
     meaning TEXT NOT NULL,
     at INTEGER NOT NULL,
     record_hash TEXT NOT NULL,
     UNIQUE (entity_id, user, meaning, record_hash));
   CREATE TABLE config_snapshot (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     text TEXT NOT NULL,
     sha256 TEXT NOT NULL);`,

  // The subgroup ids (lots, batches) of the readings an NC saw: its affected lots' evidence.
  `ALTER TABLE nonconformance ADD COLUMN lots TEXT NOT NULL DEFAULT '[]';`,

  // The audit chain an entry belongs to: one here (`main`); in PostgreSQL one per gateway.
  `ALTER TABLE audit ADD COLUMN chain TEXT NOT NULL DEFAULT 'main';`,

  // Reminders told (a CAPA due, an NC overdue, each for its due date): once, across restarts
  // and across the gateways sharing the records.
  `CREATE TABLE reminder (key TEXT PRIMARY KEY, at INTEGER NOT NULL);`,
]

export function openRecords(path: string): SqliteRecordsDb {
  return sqliteRecordsDb(openDatabase(path, MIGRATIONS))
}

/** Where the records are: records.db, or a PostgreSQL database several gateways may share. */
export type RecordsLocation =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'postgres'; url: string }

/**
 * The records' location the configuration says (store.records). PostgreSQL's URL is in the
 * environment variable store.postgres.urlEnv names: unset, a LinewatchError names it.
 */
export function recordsLocation(
  config: Pick<Config, 'store'>,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): RecordsLocation {
  if (config.store.records !== 'postgres')
    return { dialect: 'sqlite', path: join(dataDir, 'records.db') }
  return { dialect: 'postgres', url: postgresUrl(config, env) }
}

/**
 * The PostgreSQL URL (records, and in a cluster the journal and leases), from the environment
 * variable store.postgres.urlEnv names.
 */
export function postgresUrl(
  config: Pick<Config, 'store'>,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const name = config.store.postgres.urlEnv
  const url = env[name]
  if (!url)
    throw new LinewatchError(
      'LW_ERR_SECRET_MISSING',
      `store.records is postgres and store.postgres.urlEnv names the environment variable ${name}, which is not set: set it to the PostgreSQL URL (e.g. postgres://linewatch@127.0.0.1:5432/linewatch)`,
    )
  return url
}

/** This gateway's audit chain: cluster.gateway, or `main` (SQLite's only chain). */
export const recordsChain = (config: Pick<Config, 'cluster'>): string =>
  config.cluster?.gateway ?? 'main'

/** Opens the records (PostgreSQL: the schema brought up to date first, unless `migrate` is false). */
export async function openRecordsAt(
  location: RecordsLocation,
  options: { migrate?: boolean } = {},
): Promise<RecordsDb> {
  if (location.dialect === 'sqlite') return openRecords(location.path)
  if (options.migrate !== false) await migratePostgresRecords(location.url)
  return openPostgresRecords({ url: location.url })
}

/** The records writer's options for a location (createRecordsWriter). */
export const writerTarget = (location: RecordsLocation) =>
  location.dialect === 'sqlite' ? { path: location.path } : { path: '', postgresUrl: location.url }
