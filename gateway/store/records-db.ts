import type { DatabaseSync, SQLInputValue, SQLOutputValue } from 'node:sqlite'

/**
 * The records database as the services see it: the part of node:sqlite's DatabaseSync they use
 * (prepare → get/all/run/iterate, exec, close), and which SQL it speaks. Two adapters: SQLite
 * (records.db under dataDir: the DatabaseSync itself, `openRecords`) and PostgreSQL (shared by
 * several gateways: postgres-records.ts, synchronous from the caller's view like node:sqlite).
 *
 * The SQL the services write is the subset both speak: `?` placeholders (PostgreSQL's are
 * translated), `INSERT … ON CONFLICT … DO NOTHING / DO UPDATE SET x = excluded.x`, lower-case
 * column names and aliases, `"user"` quoted.
 */
export type RecordsDialect = 'sqlite' | 'postgres'
export type RecordsParam = SQLInputValue
export type RecordsRow = Record<string, SQLOutputValue>

export interface RecordsStatement {
  get(...params: RecordsParam[]): RecordsRow | undefined
  all(...params: RecordsParam[]): RecordsRow[]
  run(...params: RecordsParam[]): { changes: number | bigint }
  iterate(...params: RecordsParam[]): Iterable<RecordsRow>
}

export interface RecordsDb {
  /** Absent: SQLite (a bare node:sqlite DatabaseSync is a RecordsDb). */
  readonly dialect?: RecordsDialect
  prepare(sql: string): RecordsStatement
  /** Runs SQL without parameters (several statements allowed; BEGIN/COMMIT/ROLLBACK too). */
  exec(sql: string): void
  close(): void
}

/** The SQLite adapter: the connection itself, marked with its dialect. */
export type SqliteRecordsDb = DatabaseSync & { readonly dialect: 'sqlite' }

export function sqliteRecordsDb(db: DatabaseSync): SqliteRecordsDb {
  return Object.assign(db, { dialect: 'sqlite' as const })
}

/** The tables whose ids the gateway allocates itself (and the PostgreSQL sequence of each). */
export type AllocatedTable =
  | 'nonconformance'
  | 'alarm_event'
  | 'capa'
  | 'record_comment'
  | 'signature'

/** Ids a PostgreSQL sequence hands out at a time (its INCREMENT BY in postgres-schema.ts). */
export const ID_BLOCK = 100

export interface IdAllocator {
  next(): number
  /** The id `next` will give. */
  peek(): number
  /** The highest id handed out, or in the table when the allocator was made. */
  last(): number
}

/**
 * Ids for new rows, allocated in memory so that writes can be queued without a read. SQLite:
 * one gateway owns the file, so max(id) + 1 onwards. PostgreSQL: several gateways may share
 * the tables, so each takes blocks of ID_BLOCK ids from the table's sequence (one round trip
 * per block); a block left unused at a stop is a gap in the numbers, never a collision.
 */
export function idAllocator(db: RecordsDb, table: AllocatedTable): IdAllocator {
  const row = db.prepare(`SELECT coalesce(max(id), 0) AS id FROM ${table}`).get() as { id: number }
  let last = row.id
  if (db.dialect !== 'postgres') {
    let next = row.id + 1
    return {
      next: () => {
        last = next++
        return last
      },
      peek: () => next,
      last: () => last,
    }
  }
  let next = 0
  let end = 0
  const fill = () => {
    if (next < end) return
    const row = db.prepare(`SELECT nextval('${table}_id_block') AS n`).get() as { n: number }
    next = row.n
    end = row.n + ID_BLOCK
  }
  return {
    next() {
      fill()
      const id = next++
      last = Math.max(last, id)
      return id
    },
    peek() {
      fill()
      return next
    },
    last: () => last,
  }
}
