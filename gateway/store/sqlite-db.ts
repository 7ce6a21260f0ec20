import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

/**
 * Opens a SQLite file for a gateway store: WAL (readers don't block the writer), NORMAL sync
 * (a crash may lose the last transaction, never corrupt), and schema migrations by
 * `user_version`: migration i brings the file from version i to i + 1.
 */
export function openDatabase(path: string, migrations: readonly string[]): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new DatabaseSync(path)
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON',
  )
  const { user_version: version } = db.prepare('PRAGMA user_version').get() as {
    user_version: number
  }
  if (version > migrations.length) {
    throw new Error(
      `${path} was written by a newer linewatch (schema ${version}, this one knows ${migrations.length})`,
    )
  }
  for (let v = version; v < migrations.length; v++) {
    transaction(db, () => {
      db.exec(migrations[v] as string)
      db.exec(`PRAGMA user_version = ${v + 1}`)
    })
  }
  return db
}

/** Runs `work` in one transaction; rolls back and rethrows on error. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN')
  try {
    const result = work()
    db.exec('COMMIT')
    return result
  } catch (e) {
    db.exec('ROLLBACK')
    throw e
  }
}
