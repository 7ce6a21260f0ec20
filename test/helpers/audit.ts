import { join } from 'node:path'
import { createLogger } from '../../gateway/log.ts'
import { AUDIT_STATEMENTS, createAuditTrail, USER_STATEMENTS } from '../../gateway/quality/index.ts'
import { openRecords } from '../../gateway/store/records.ts'
import { createRecordsWriter } from '../../gateway/store/records-writer.ts'
import { createSqliteStore } from '../../gateway/store/sqlite.ts'
import { tempDir } from './index.ts'

/**
 * A gateway's records as the quality loop has them, without the rest of it: the SQLite records
 * database, its writer thread (the audit trail's and the users' statements), the time-series
 * store the audit head also goes to, and the audit trail, started. `again`: the directory of
 * records opened before (a restart), kept when these close.
 */
export async function openAuditRecords(again?: string) {
  const dir = again ? { path: again, remove: async () => {} } : await tempDir('linewatch-records-')
  const log = createLogger('error')
  const path = join(dir.path, 'records.db')
  const db = openRecords(path)
  const writer = createRecordsWriter({
    path,
    statements: { ...AUDIT_STATEMENTS, ...USER_STATEMENTS },
    log,
  })
  await writer.start()
  const store = createSqliteStore({ path: join(dir.path, 'timeseries.db'), log })
  await store.start()
  const headPath = join(dir.path, 'audit-head.json')
  const audit = createAuditTrail({
    db,
    run: (statement, params) => writer.run(statement, params),
    whenDurable: (done) => writer.whenDurable(done),
    headPath,
    store,
    log,
  })
  audit.start()
  return {
    db,
    audit,
    writer,
    path: dir.path,
    headPath,
    /** Resolves once what was recorded so far is committed. */
    durable: () => new Promise<void>((resolve) => writer.whenDurable(resolve)),
    /** Stops its writers; `keep`: the records stay (a restart follows). */
    async close(keep = false) {
      await writer.stop()
      await store.stop()
      if (!keep) await dir.remove()
    },
  }
}
