/**
 * The records writer's thread (see records-writer.ts): it commits each batch of statement runs
 * it is sent in one transaction on its own connection to records.db (WAL, FULL sync) and says
 * so; a batch that fails is rolled back whole and reported, so the sender can send it again.
 */
import type { SQLInputValue, StatementSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'
import { openRecords } from './records.ts'
import { transaction } from './sqlite-db.ts'

/** One run of a named statement. */
export interface RecordOp {
  statement: string
  params: SQLInputValue[]
}

export type ToRecordsWorker = { type: 'write'; seq: number; ops: RecordOp[] } | { type: 'stop' }

export type FromRecordsWorker =
  | { type: 'ready' }
  | { type: 'open-failed'; error: string }
  | { type: 'committed'; seq: number }
  | { type: 'failed'; seq: number; error: string }

export interface RecordsWorkerOptions {
  path: string
  /** The statements batches may run, by name. */
  statements: Record<string, string>
}

if (parentPort) {
  const port = parentPort
  const options = workerData as RecordsWorkerOptions
  const post = (m: FromRecordsWorker) => port.postMessage(m)
  try {
    const db = openRecords(options.path)
    const prepared = new Map<string, StatementSync>()
    for (const [name, sql] of Object.entries(options.statements))
      prepared.set(name, db.prepare(sql))
    post({ type: 'ready' })
    port.on('message', (message: ToRecordsWorker) => {
      if (message.type === 'stop') {
        db.close()
        port.close()
        return
      }
      try {
        transaction(db, () => {
          for (const op of message.ops) {
            const statement = prepared.get(op.statement)
            if (!statement) throw new Error(`no records statement "${op.statement}"`)
            statement.run(...op.params)
          }
        })
        post({ type: 'committed', seq: message.seq })
      } catch (e) {
        post({ type: 'failed', seq: message.seq, error: (e as Error).message })
      }
    })
  } catch (e) {
    post({ type: 'open-failed', error: (e as Error).message })
  }
}
