import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { Worker } from 'node:worker_threads'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import { EventBus } from '../gateway/events.ts'
import { createLogger } from '../gateway/log.ts'
import { createNcService, type NcService } from '../gateway/nonconformance/index.ts'
import { createRuntime } from '../gateway/pipeline/runtime.ts'
import { openRecords } from '../gateway/store/records.ts'
import { createRecordsWriter } from '../gateway/store/records-writer.ts'
import { evaluate } from '../rules/index.ts'
import { tempDir, waitFor } from './helpers/index.ts'
import { watchThreads } from './helpers/threads.ts'

/**
 * The records writer takes the NC service's writes off the ingest thread. What the service
 * promises: `whenDurable` calls back only once what came before it is committed (read here on
 * a connection of its own, as after a crash), reads see every write before them, and a
 * batch whose commit fails is kept and committed later.
 */
const log = createLogger('silent')
const T0 = Date.UTC(2026, 11, 3, 6)
const config = parseConfig(
  `characteristics:
  - id: fill
    name: Fill
    path: p/a/l/c
    source: { mqtt: { topic: fill } }
    limits: { actionHigh: 506 }
    openNcOn: [action-high]
`,
  'test.yaml',
)

function committedNcs(path: string): { cause: string; occurrences: number; rows: number }[] {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return db
      .prepare(
        `SELECT cause, occurrences, (SELECT count(*) FROM nonconformance_occurrence o
           WHERE o.nonconformance = n.id) AS rows FROM nonconformance n ORDER BY id`,
      )
      .all() as never
  } finally {
    db.close()
  }
}

describe('records writer and the NC service', () => {
  let dir: { path: string; remove(): Promise<void> }
  let path: string
  let db: DatabaseSync
  let nc: NcService | null = null
  const bus = new EventBus()
  let rt = createRuntime(config, config.characteristics[0] as never)

  /** Judges a reading; one past 506 after one that was not is what an HH alarm's activation raises. */
  let above = false
  function judge(value: number, ts: number): void {
    const reading = { characteristic: 'fill', ts, value }
    rt.last = { ts, value }
    rt.recent.push(ts, value)
    const evaluation = evaluate(rt.spec, rt.state, reading)
    bus.emit('evaluated', { runtime: rt, reading, evaluation })
    if (value > 506 && !above)
      nc?.raise(
        rt,
        [{ condition: 'HH', deviation: null, ts, value, limit: 506 }],
        evaluation.points,
      )
    above = value > 506
  }

  beforeEach(async () => {
    above = false
    rt = createRuntime(config, config.characteristics[0] as never)
    dir = await tempDir()
    path = join(dir.path, 'records.db')
    db = openRecords(path)
  })
  afterEach(async () => {
    await nc?.stop()
    nc = null
    db.close()
    await dir.remove()
  })

  it('calls an acknowledgement back only once the NC its reading opened is committed', async () => {
    nc = createNcService({ db, path, bus, log, readingsAfter: 0 })
    await nc.start()
    judge(507.5, T0)
    // Not yet on disk when the reading is judged: the write waits for the end of the turn.
    expect(committedNcs(path)).toEqual([])
    const seen = await new Promise<ReturnType<typeof committedNcs>>((resolve) =>
      nc?.whenDurable(() => resolve(committedNcs(path))),
    )
    expect(seen.map((n) => [n.cause, n.occurrences, n.rows])).toEqual([['action-high', 1, 1]])
  })

  it('writes a burst of occurrences as the NC they add up to, announced once; reads see them at once', async () => {
    nc = createNcService({ db, path, bus, log, readingsAfter: 0 })
    await nc.start()
    const announced: [string, number][] = []
    const listener = {}
    bus.on('nc', listener, ({ type, nc: summary }) => announced.push([type, summary.occurrences]))
    // Each excursion above 506 is an activation (a reading at 500 in between ends the previous one).
    for (let i = 0; i < 300; i++) {
      judge(507 + (i % 3), T0 + 2 * i * 1000)
      judge(500, T0 + (2 * i + 1) * 1000)
    }
    const listed = await nc.list({ limit: 10 })
    expect(listed.map((n) => [n.cause, n.occurrences, n.openedAt, n.lastAt])).toEqual([
      ['action-high', 300, T0, T0 + 598_000],
    ])
    const view = await nc.get(listed[0]?.id ?? 0)
    // The history keeps the last 100 occurrences, on disk too.
    expect(view?.history).toEqual(
      Array.from({ length: 100 }, (_, k) => {
        const i = 200 + k
        return { ts: T0 + 2 * i * 1000, value: 507 + (i % 3) }
      }),
    )
    expect(committedNcs(path).map((n) => n.rows)).toEqual([100])
    // An occurrence is a repeat: the 299 after the opening, added in one turn, are one update.
    expect(announced).toEqual([
      ['opened', 1],
      ['updated', 300],
    ])
    bus.removeOwner(listener)
  })

  it('keeps between 100 and 150 occurrence rows of an NC that goes on (the oldest deleted 50 at a time); the history shows the latest 100', async () => {
    nc = createNcService({ db, path, bus, log, readingsAfter: 0 })
    await nc.start()
    const rows: number[] = []
    for (let i = 0; i < 260; i++) {
      judge(507, T0 + 2 * i * 1000)
      judge(500, T0 + (2 * i + 1) * 1000)
      // Each occurrence in a turn of its own, committed: what a steady stream does.
      await new Promise<void>((resolve) => nc?.whenDurable(resolve))
      rows.push(committedNcs(path)[0]?.rows ?? 0)
    }
    expect(Math.max(...rows)).toBe(150)
    expect(Math.min(...rows.slice(100))).toBe(100)
    // Deleted down to 100 once past 150: at occurrences 151, 202 and 253.
    expect(rows.filter((n, k) => k > 0 && n < (rows[k - 1] as number))).toEqual([100, 100, 100])
    const view = await nc.get((await nc.list({ limit: 1 }))[0]?.id ?? 0)
    expect(view?.history).toHaveLength(100)
    // Oldest first: occurrences 161 to 260.
    expect(view?.history[0]).toEqual({ ts: T0 + 2 * 160 * 1000, value: 507 })
    expect(view?.history[99]).toEqual({ ts: T0 + 2 * 259 * 1000, value: 507 })
  })

  it('keeps a batch whose commit fails and commits it once the database can be written', async () => {
    const writer = createRecordsWriter({
      path,
      log,
      statements: {
        note: 'INSERT INTO limit_change (characteristic, ts, action, reason) VALUES (?, ?, ?, ?)',
      },
    })
    await writer.start()
    try {
      // Another connection holds the write lock past the writer's busy timeout (5 s).
      const blocker = new DatabaseSync(path)
      blocker.exec('BEGIN IMMEDIATE')
      writer.run('note', ['fill', T0, 'restart', 'first'])
      let durable = false
      writer.whenDurable(() => {
        durable = true
      })
      const failed = async () => {
        while (writer.status().lastError === undefined) await new Promise((r) => setTimeout(r, 50))
      }
      await failed()
      expect(durable).toBe(false)
      blocker.exec('ROLLBACK')
      blocker.close()
      await writer.flush()
      expect(durable).toBe(true)
      const rows = db.prepare('SELECT reason FROM limit_change').all() as { reason: string }[]
      expect(rows.map((r) => r.reason)).toEqual(['first'])
      expect(writer.status()).toMatchObject({ pending: 0, committed: 1, dropped: 0 })
    } finally {
      await writer.stop()
    }
  }, 60_000)
})

describe('records writer commits', () => {
  let dir: { path: string; remove(): Promise<void> }
  beforeEach(async () => {
    dir = await tempDir()
  })
  afterEach(() => dir.remove())

  const turn = () => new Promise<void>((r) => setImmediate(r))
  const note = 'INSERT INTO limit_change (characteristic, ts, action, reason) VALUES (?, ?, ?, ?)'
  const occurrence =
    'INSERT INTO nonconformance_occurrence (nonconformance, number, ts, value) VALUES (?, ?, ?, ?)'
  /** A started writer on a fresh records.db; by default with a deadline no test reaches (only a waiter makes a commit). */
  async function startWriter(unwaitedCommitMs = 3_600_000) {
    const path = join(dir.path, 'records.db')
    openRecords(path).close()
    const writer = createRecordsWriter({
      path,
      log,
      statements: { note, occurrence },
      unwaitedCommitMs,
    })
    await writer.start()
    return { path, writer }
  }

  it('writes nobody waits for share a commit; one that waits commits what is queued at once', async () => {
    const { path, writer } = await startWriter()
    try {
      for (let i = 0; i < 20; i++) {
        writer.run('note', ['fill', T0 + i, 'restart', `r${i}`])
        await turn()
      }
      // Twenty turns, each with a write, and nobody waiting: nothing committed yet.
      expect(writer.status()).toMatchObject({ pending: 20, committed: 0, commits: 0 })
      await writer.flush()
      expect(writer.status()).toMatchObject({ pending: 0, committed: 20, commits: 1 })
      const read = new DatabaseSync(path, { readOnly: true })
      try {
        expect(
          (read.prepare('SELECT count(*) AS n FROM limit_change').get() as { n: number }).n,
        ).toBe(20)
      } finally {
        read.close()
      }
    } finally {
      await writer.stop()
    }
  })

  it('a wait that follows the commits (whenCommitted) hurries none: it is called with the next one', async () => {
    const { writer } = await startWriter()
    try {
      writer.run('note', ['fill', T0, 'restart', 'first'])
      let followed = false
      writer.whenCommitted(() => {
        followed = true
      })
      // Turns in which a waiter's cut would have sent the first write on its own.
      for (let i = 0; i < 5; i++) await turn()
      writer.run('note', ['fill', T0 + 1, 'restart', 'second'])
      expect(writer.status()).toMatchObject({ pending: 2, committed: 0, commits: 0 })
      expect(followed).toBe(false)
      // A waiter's commit takes both writes, and calls the follower too.
      await writer.flush()
      expect(followed).toBe(true)
      expect(writer.status()).toMatchObject({ pending: 0, committed: 2, commits: 1 })
      // Nothing queued: called at once.
      let now = false
      writer.whenCommitted(() => {
        now = true
      })
      expect(now).toBe(true)
    } finally {
      await writer.stop()
    }
  })

  it('a write a constraint refuses is left out, counted and logged; the rest of its batch and the waiter go on', async () => {
    const { path, writer } = await startWriter()
    try {
      writer.run('note', ['fill', T0, 'restart', 'before'])
      // An occurrence of NC 9, never written (as when a full queue refused its insert): the
      // foreign key refuses it, at every retry of the batch.
      writer.run('occurrence', [9, 1, T0, 507])
      writer.run('note', ['fill', T0 + 1, 'restart', 'after'])
      await writer.flush()
      expect(writer.status()).toMatchObject({ pending: 0, committed: 2, skipped: 1 })
      expect(writer.status().lastError).toMatch(/FOREIGN KEY constraint failed/)
      // Later writes are not held by it.
      writer.run('note', ['fill', T0 + 2, 'restart', 'later'])
      await writer.flush()
      const read = new DatabaseSync(path, { readOnly: true })
      try {
        expect(read.prepare('SELECT reason FROM limit_change ORDER BY ts').all()).toEqual([
          { reason: 'before' },
          { reason: 'after' },
          { reason: 'later' },
        ])
        expect(
          (
            read.prepare('SELECT count(*) AS n FROM nonconformance_occurrence').get() as {
              n: number
            }
          ).n,
        ).toBe(0)
      } finally {
        read.close()
      }
    } finally {
      await writer.stop()
    }
  })

  it('commits writes nobody waits for by the deadline', async () => {
    const { writer } = await startWriter(50)
    try {
      for (let i = 0; i < 5; i++) writer.run('note', ['fill', T0 + i, 'restart', `r${i}`])
      await waitFor('the writes to be committed with nobody waiting', () =>
        writer.status().committed === 5 ? true : undefined,
      )
      expect(writer.status().commits).toBe(1)
    } finally {
      await writer.stop()
    }
  })
})

describe('a records writer that dies', () => {
  let dir: { path: string; remove(): Promise<void> }
  beforeEach(async () => {
    dir = await tempDir()
  })
  afterEach(() => dir.remove())

  it('has its batch in flight committed by the next one, and the waiter called back', async () => {
    const path = join(dir.path, 'records.db')
    openRecords(path).close()
    // Statements are idempotent (absolute values): a batch the dead writer may have committed
    // before dying is committed again by the next one, not lost.
    const remind =
      'INSERT INTO reminder (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at'
    const writer = createRecordsWriter({ path, log, statements: { remind } })
    const stored = () => {
      const read = new DatabaseSync(path, { readOnly: true })
      try {
        return read.prepare('SELECT count(*) AS n, sum(at) AS s FROM reminder').get() as {
          n: number
          s: number | null
        }
      } finally {
        read.close()
      }
    }
    const watched = watchThreads()
    try {
      await writer.start()
      // The thread dies as the batch is posted to it, a turn later (while it commits), and once
      // the batch is on disk: whichever side of the commit it dies on, every write is there.
      const deaths = [
        async () => {},
        () => new Promise<void>((r) => setImmediate(r)),
        (round: number) =>
          waitFor('the batch on disk', () => stored().n === 10 * (round + 1) || undefined),
      ]
      for (const [round, die] of deaths.entries()) {
        const post = watched.posted('write')
        for (let i = 0; i < 10; i++) writer.run('remind', [`r${round}-${i}`, i])
        const flushed = writer.flush()
        await post
        await die(round)
        await (watched.threads.at(-1) as Worker).terminate()
        await flushed
        expect(stored()).toEqual({ n: 10 * (round + 1), s: 45 * (round + 1) })
      }
      // Written while the last thread is dead: committed by the next one.
      writer.run('remind', ['after', 100])
      await writer.flush()
      expect(stored()).toEqual({ n: 31, s: 235 })
      expect(watched.threads).toHaveLength(4)
    } finally {
      watched.restore()
      await writer.stop()
    }
  }, 30_000)
})

describe('records written before occurrences were rows', () => {
  it('an NC history kept as JSON becomes numbered occurrence rows', async () => {
    const dir = await tempDir()
    try {
      const path = join(dir.path, 'records.db')
      const old = new DatabaseSync(path)
      // The first two migrations, as an older linewatch left them.
      old.exec(`CREATE TABLE chart_state (characteristic TEXT PRIMARY KEY, spec_hash TEXT NOT NULL,
          state TEXT NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE nonconformance (id INTEGER PRIMARY KEY AUTOINCREMENT, characteristic TEXT NOT NULL,
          characteristic_name TEXT NOT NULL, path TEXT NOT NULL, cause TEXT NOT NULL, title TEXT NOT NULL,
          status TEXT NOT NULL, opened_at INTEGER NOT NULL, last_at INTEGER NOT NULL,
          occurrences INTEGER NOT NULL, trigger TEXT NOT NULL, limits TEXT NOT NULL,
          readings TEXT NOT NULL, history TEXT NOT NULL);
        CREATE TABLE nonconformance_cause (nonconformance INTEGER NOT NULL REFERENCES nonconformance (id),
          characteristic TEXT NOT NULL, cause TEXT NOT NULL, open INTEGER NOT NULL);
        CREATE TABLE dead_letter (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
          source TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, address TEXT,
          size INTEGER NOT NULL, payload BLOB NOT NULL);
        CREATE TABLE dead_letter_count (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
        CREATE TABLE limit_change (id INTEGER PRIMARY KEY AUTOINCREMENT, characteristic TEXT NOT NULL,
          ts INTEGER NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT, before TEXT, after TEXT);
        PRAGMA user_version = 2;`)
      // 150 occurrences, of which the JSON kept the last 100 (numbers 51 to 150).
      const history = Array.from({ length: 100 }, (_, k) => ({
        ts: T0 + (50 + k) * 1000,
        value: k,
      }))
      old
        .prepare(
          `INSERT INTO nonconformance VALUES (1, 'fill', 'Fill', 'p/a/l/c', 'action-high', 't', 'open',
            ?, ?, 150, '{}', '{}', '[]', ?)`,
        )
        .run(T0, T0 + 149_000, JSON.stringify(history))
      old.close()
      const db = openRecords(path)
      try {
        const rows = db
          .prepare('SELECT number, ts, value FROM nonconformance_occurrence ORDER BY number')
          .all() as { number: number; ts: number; value: number }[]
        expect(rows).toEqual(history.map((h, k) => ({ number: 51 + k, ...h })))
      } finally {
        db.close()
      }
    } finally {
      await dir.remove()
    }
  })
})
