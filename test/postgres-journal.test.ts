import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Tenures } from '../gateway/cluster/tenures.ts'
import { createLogger } from '../gateway/log.ts'
import { DELIVERY_MEMORY_MS } from '../gateway/sources/deliveries.ts'
import {
  createPostgresJournal,
  type PostgresJournal,
  type PostgresJournalOptions,
} from '../gateway/store/postgres-journal.ts'
import type { JournalReading, SeriesRecord } from '../gateway/store/types.ts'
import { waitFor } from './helpers/index.ts'
import { type Postgres, startPostgres } from './helpers/postgres.ts'

/**
 * The charts' journal in a real PostgreSQL: what a gateway taking a characteristic over restores
 * the chart from. Durability is checked the way a takeover sees it: on a connection of its own.
 */
const log = createLogger('silent')
const T0 = Date.UTC(2026, 11, 3, 6)

let server: Postgres
let databases = 0
const opened: { end(): Promise<void> }[] = []

beforeAll(async () => {
  server = await startPostgres()
}, 60_000)

afterAll(async () => {
  for (const o of opened) await o.end().catch(() => {})
  await server?.stop()
})

/** A fresh database, a journal started on it, and a connection of the test's own. */
async function setup(options: Partial<PostgresJournalOptions> = {}) {
  const url = await server.createDatabase(`journal_${++databases}`)
  const journal = createPostgresJournal({ url, log, ...options })
  await journal.start()
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  opened.push({ end: () => journal.stop() }, db)
  return { url, journal, db }
}

const reading = (
  characteristic: string,
  seq: number,
  value: number,
  extra: { size?: number; key?: string } = {},
): SeriesRecord => ({ kind: 'reading', characteristic, seq, ts: T0 + seq * 1000, value, ...extra })

/** A connection of the test's own, closed after the suite. */
async function connection(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  opened.push(client)
  return client
}

/** Until the journal's commit waits on a lock a transaction of the test holds. */
const journalWaitsOnLock = (db: pg.Client) =>
  waitFor('the journal commit to wait on a lock', async () => {
    const { rows } = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'linewatch-journal'
       AND wait_event_type = 'Lock'`,
    )
    return rows.length > 0
  })

/** This gateway holding `partitions`, each at epoch 1. */
function held(partitions: number[]): Tenures {
  const tenures = new Tenures()
  for (const p of partitions) tenures.hold(p, 1)
  return tenures
}

const durable = (journal: PostgresJournal) =>
  new Promise<void>((resolve) => journal.whenDurable(resolve))

async function count(db: pg.Client, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT (${sql})::int AS n`, values)
  return rows[0]?.n ?? -1
}

describe('PostgreSQL journal', () => {
  it('calls whenDurable only once the batch is committed (group commit)', async () => {
    // No interval cut: only a waiting acknowledgement cuts the batch.
    const { journal, db } = await setup({ flushIntervalMs: 60_000 })
    for (let i = 1; i <= 1_000; i++) journal.write(reading(`c${i % 3}`, i, i / 10))
    let seen = -1
    const called = new Promise<void>((resolve) =>
      journal.whenDurable(() => {
        // The query leaves in the callback, before anything else can commit.
        void count(db, 'SELECT count(*) FROM journal_reading').then((n) => {
          seen = n
          resolve()
        })
      }),
    )
    let synchronous = true
    journal.whenDurable(() => {
      expect(synchronous).toBe(false)
    })
    synchronous = false
    await called
    expect(seen).toBe(1_000)

    // Written while a commit is in flight: its own batch, its callback after its own commit.
    journal.write(reading('c0', 1_001, 1))
    const first = durable(journal)
    journal.write(reading('c0', 1_002, 2))
    let secondSeen = -1
    const second = new Promise<void>((resolve) =>
      journal.whenDurable(() => {
        void count(db, 'SELECT count(*) FROM journal_reading WHERE seq > 1000').then((n) => {
          secondSeen = n
          resolve()
        })
      }),
    )
    await Promise.all([first, second])
    expect(secondSeen).toBe(2)
    expect(journal.status()).toMatchObject({ kind: 'postgres', healthy: true, written: 1_002 })
  })

  it('gives back a characteristic’s readings after a seq, in order, as written', async () => {
    const { journal } = await setup()
    // Values that a text round trip could bend: −0, NaN, extremes, a size, a key with quotes.
    const values = [0.1, -0, Number.NaN, 1e300, -5e-324, 2 ** 53 + 2, 1 / 3, -12.5]
    const written: (JournalReading & { characteristic: string })[] = []
    for (let seq = 1; seq <= 240; seq++) {
      for (const characteristic of ['fill', 'torque']) {
        const value = (values[seq % values.length] as number) * (characteristic === 'fill' ? 1 : -1)
        const size = seq % 4 === 0 ? 5 : null
        const key = seq % 5 === 0 ? `lot "${seq}" \\ {a,b}` : null
        written.push({ characteristic, seq, ts: T0 + seq * 1000, value, size, key })
      }
    }
    // Out of order across batches: each third goes in its own batch, the last one first.
    const thirds = [written.slice(320), written.slice(0, 160), written.slice(160, 320)]
    for (const part of thirds) {
      for (const r of part) {
        journal.write({
          kind: 'reading',
          characteristic: r.characteristic,
          seq: r.seq,
          ts: r.ts,
          value: r.value,
          ...(r.size === null ? {} : { size: r.size }),
          ...(r.key === null ? {} : { key: r.key }),
        })
      }
      await durable(journal)
    }
    // Sent again (as after a commit whose answer was lost): no second row, the first kept.
    journal.write(reading('fill', 7, 999))
    await journal.flush()

    const expected = written
      .filter((r) => r.characteristic === 'fill' && r.seq > 100)
      .sort((a, b) => a.seq - b.seq)
      .map(({ characteristic: _, ...r }) => r)
    const got = await journal.readingsAfter('fill', 100)
    expect(got).toEqual(expected)
    expect(Object.is(got.find((r) => r.seq === 105)?.value, -0)).toBe(true)
    expect((await journal.readingsAfter('fill', 0)).find((r) => r.seq === 7)?.value).toBe(
      written.find((r) => r.characteristic === 'fill' && r.seq === 7)?.value,
    )
    expect(await journal.readingsAfter('torque', 240)).toEqual([])
    expect(await journal.readingsAfter('unknown', 0)).toEqual([])
  })

  it('keeps the newest snapshot of each chart', async () => {
    const { journal } = await setup()
    const snap = (characteristic: string, seq: number): SeriesRecord => ({
      kind: 'snapshot',
      characteristic,
      seq,
      specHash: `h${seq}`,
      state: JSON.stringify({ seq, note: 'a "quoted" \\ state' }),
    })
    journal.write(snap('a', 10))
    journal.write(snap('b', 3))
    await durable(journal)
    journal.write(snap('a', 5)) // older: ignored
    await durable(journal)
    expect(await journal.snapshots(['a'])).toEqual([
      {
        characteristic: 'a',
        seq: 10,
        specHash: 'h10',
        state: JSON.stringify({ seq: 10, note: 'a "quoted" \\ state' }),
      },
    ])
    journal.write(snap('a', 30))
    journal.write(snap('a', 25)) // same batch, older: the batch keeps 30
    journal.write(snap('b', 4))
    await durable(journal)
    const all = await journal.snapshots()
    expect(all.map((s) => [s.characteristic, s.seq, s.specHash])).toEqual([
      ['a', 30, 'h30'],
      ['b', 4, 'h4'],
    ])
    expect((await journal.snapshots(['b', 'zzz'])).map((s) => s.seq)).toEqual([4])
    expect(await journal.snapshots([])).toEqual([])
  })

  it('checkpoint deletes exactly the readings their snapshot covers, and old deliveries', async () => {
    const { url, journal, db } = await setup()
    const covered: Record<string, number> = { a: 40, b: 100 } // c has no snapshot
    for (const characteristic of ['a', 'b', 'c']) {
      for (let seq = 1; seq <= 100; seq++) journal.write(reading(characteristic, seq, seq))
    }
    await durable(journal)
    for (const [characteristic, seq] of Object.entries(covered)) {
      journal.write({ kind: 'snapshot', characteristic, seq, specHash: 'h', state: '{}' })
    }
    const now = Date.now()
    journal.write({
      kind: 'delivery',
      delivery: { client: 'old', messageId: 1, hash: 7, at: now - DELIVERY_MEMORY_MS - 60_000 },
    })
    journal.write({ kind: 'delivery', delivery: { client: 'new', messageId: 2, hash: 8, at: now } })
    journal.checkpoint()
    await journal.flush()

    const expected: string[] = []
    for (const characteristic of ['a', 'b', 'c']) {
      for (let seq = 1; seq <= 100; seq++) {
        if (seq > (covered[characteristic] ?? 0)) expected.push(`${characteristic}:${seq}`)
      }
    }
    const rows = await db.query<{ id: string }>(
      `SELECT characteristic || ':' || seq AS id FROM journal_reading ORDER BY characteristic, seq`,
    )
    expect(rows.rows.map((r) => r.id)).toEqual(expected)
    const deliveries = await db.query('SELECT client FROM journal_delivery')
    expect(deliveries.rows).toEqual([{ client: 'new' }])

    // A gateway started later cleans what an earlier one left covered (its first checkpoint).
    await db.query(
      `INSERT INTO journal_reading (characteristic, seq, ts, value) VALUES ('c', 101, 0, 0), ('c', 102, 0, 0)`,
    )
    await db.query(
      `INSERT INTO chart_snapshot (characteristic, seq, spec_hash, state) VALUES ('c', 101, 'h', '{}')`,
    )
    const other = createPostgresJournal({ url, log })
    await other.start()
    other.checkpoint()
    await other.flush()
    await other.stop()
    expect(await count(db, `SELECT count(*) FROM journal_reading WHERE characteristic = 'c'`)).toBe(
      1,
    )
  })

  it('gives back the deliveries of the last minutes, of the clients named', async () => {
    const { journal } = await setup()
    const now = Date.now()
    const deliveries = [
      { client: 'x', messageId: 1, hash: 4_294_967_295, at: now - DELIVERY_MEMORY_MS - 5_000 },
      { client: 'x', messageId: 2, hash: 11, at: now - 5 * 60_000 },
      { client: 'y', messageId: 2, hash: 12, at: now - 60_000 },
      { client: 'x', messageId: 65_535, hash: 4_294_967_295, at: now },
    ]
    for (const delivery of deliveries) journal.write({ kind: 'delivery', delivery })
    journal.write({ kind: 'delivery', delivery: deliveries[1] as (typeof deliveries)[number] }) // again
    await durable(journal)
    expect(await journal.deliveries()).toEqual(deliveries.slice(1))
    expect(await journal.deliveries(['x'])).toEqual([deliveries[1], deliveries[3]])
    expect(await journal.deliveries(['nobody'])).toEqual([])
  })

  it('holds acknowledgements while PostgreSQL does not answer, and stores each record once', async () => {
    const { journal, db } = await setup({ queryTimeoutMs: 1_000 })
    const acknowledged: number[] = []
    let seq = 0
    const writeSome = (n: number) => {
      for (let i = 0; i < n; i++) {
        seq++
        journal.write(reading(`m${seq % 7}`, seq, seq))
        if (seq % 25 === 0) {
          const upTo = seq
          journal.whenDurable(() => acknowledged.push(upTo))
        }
      }
    }
    const tick = () => new Promise((r) => setTimeout(r, 20))
    for (let i = 0; i < 20; i++) {
      writeSome(50)
      await tick()
    }
    await waitFor('the first acknowledgements', () => acknowledged.length > 0)
    await server.pause()
    try {
      const writtenBeforeOutage = seq
      for (let i = 0; i < 40; i++) {
        writeSome(50)
        await tick()
      }
      await waitFor('the journal to report the outage', () => !journal.status().healthy, {
        timeoutMs: 20_000,
      })
      // Nothing written during the outage is acknowledged while it lasts.
      const held = Math.max(...acknowledged)
      expect(held).toBeLessThanOrEqual(writtenBeforeOutage)
      expect(journal.status().pending).toBeGreaterThan(0)
    } finally {
      await server.resume()
    }
    writeSome(500)
    await waitFor('every acknowledgement', () => acknowledged.at(-1) === seq, {
      timeoutMs: 45_000,
      intervalMs: 100,
    })
    expect(acknowledged).toEqual([...acknowledged].sort((a, b) => a - b))
    const { rows } = await db.query<{ seq: string; n: string }>(
      'SELECT seq, count(*) AS n FROM journal_reading GROUP BY seq HAVING count(*) > 1',
    )
    expect(rows).toEqual([])
    // Every acknowledged record is there (and, nothing dropped, every record at all).
    expect(await count(db, 'SELECT count(*) FROM journal_reading')).toBe(seq)
    expect(
      await count(db, 'SELECT count(*) FROM journal_reading WHERE seq <= $1', [
        Math.max(...acknowledged),
      ]),
    ).toBe(Math.max(...acknowledged))
    expect(journal.status()).toMatchObject({ healthy: true, pending: 0, dropped: 0, written: seq })
  }, 80_000)

  it('commits again over new connections when the server drops them mid-writing', async () => {
    const { journal, db } = await setup()
    const acknowledged: number[] = []
    let seq = 0
    let kills = 0
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 200; i++) {
        seq++
        journal.write(reading(`k${seq % 5}`, seq, seq))
      }
      const upTo = seq
      journal.whenDurable(() => acknowledged.push(upTo))
      if (round % 3 === 0) {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE application_name = 'linewatch-journal'`,
        )
        kills += rows[0]?.n ?? 0
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    await waitFor('every acknowledgement', () => acknowledged.at(-1) === seq, { timeoutMs: 30_000 })
    expect(kills).toBeGreaterThan(0)
    expect(await count(db, 'SELECT count(*) FROM journal_reading')).toBe(seq)
    expect(await count(db, 'SELECT count(DISTINCT seq) FROM journal_reading')).toBe(seq)
    expect(journal.status()).toMatchObject({ healthy: true, written: seq, dropped: 0 })
  })

  it('starts several at once on an empty database, and stop commits what is queued', async () => {
    const url = await server.createDatabase(`journal_${++databases}`)
    const journals = Array.from({ length: 4 }, () => createPostgresJournal({ url, log }))
    await Promise.all(journals.map((j) => j.start()))
    journals.forEach((j, i) => {
      for (let seq = 1; seq <= 100; seq++) j.write(reading(`s${i}`, seq, seq))
    })
    await Promise.all(journals.map((j) => j.stop()))
    const db = new pg.Client({ connectionString: url })
    await db.connect()
    opened.push(db)
    expect(await count(db, 'SELECT count(*) FROM journal_reading')).toBe(400)
  })

  it('drops what exceeds its memory during an outage and never acknowledges it', async () => {
    const { journal, db } = await setup({ queryTimeoutMs: 1_000, maxPending: 100 })
    await server.pause()
    let lateAck = false
    let laterAck = false
    try {
      for (let seq = 1; seq <= 150; seq++) journal.write(reading('d', seq, seq))
      journal.whenDurable(() => {
        lateAck = true
      })
      expect(journal.status()).toMatchObject({ pending: 100, dropped: 50 })
    } finally {
      await server.resume()
    }
    await journal.flush()
    journal.write(reading('d', 151, 151))
    journal.whenDurable(() => {
      laterAck = true
    })
    await waitFor('the acknowledgement after the outage', () => laterAck, { timeoutMs: 30_000 })
    expect(lateAck).toBe(false)
    const { rows } = await db.query<{ seq: number }>(
      'SELECT seq::int AS seq FROM journal_reading ORDER BY seq',
    )
    const expected = [...Array.from({ length: 100 }, (_, i) => i + 1), 151]
    expect(rows.map((r) => r.seq)).toEqual(expected)
  }, 60_000)

  it('drops the records of partitions whose lease this gateway does not hold, and commits the rest', async () => {
    const partitions: Record<string, number> = { a: 1, b: 2, c: 3, d: 4 }
    const { journal, db } = await setup({
      // This gateway believes it holds all four, at epoch 1; the lease rows say otherwise.
      fence: {
        gateway: 'g1',
        partitionOf: (c) => partitions[c] ?? -1,
        tenures: held([1, 2, 3, 4]),
      },
    })
    await db.query(`INSERT INTO cluster_lease (partition, holder, epoch, expires_at) VALUES
      (1, 'g1', 1, now() + interval '1 minute'),
      (2, 'g2', 1, now() + interval '1 minute'),
      (3, 'g1', 1, now() - interval '1 second')`) // 4: no lease at all
    let acks = 0
    const ack = () => acks++

    journal.write(reading('a', 1, 1))
    journal.write({ kind: 'snapshot', characteristic: 'a', seq: 1, specHash: 'h', state: '{}' })
    await durable(journal)

    for (const [i, other] of ['b', 'c', 'd'].entries()) {
      journal.write(reading('a', 10 + i, 1))
      journal.write(reading(other, 1, 1))
      journal.write({ kind: 'snapshot', characteristic: other, seq: 1, specHash: 'h', state: '{}' })
      journal.whenDurable(ack)
      await waitFor(
        `the records of ${other} to be fenced`,
        () => journal.status().fenced === 2 * (i + 1),
      )
    }
    // A delivery touches no partition; the store goes on with later batches.
    journal.write(reading('a', 2, 2))
    journal.write({
      kind: 'delivery',
      delivery: { client: 'k', messageId: 1, hash: 1, at: Date.now() },
    })
    await durable(journal)
    // Each batch was committed for partition 1 (held) and acknowledged: a message of a lost
    // partition cannot be acknowledged (its MQTT session is the new holder's).
    expect(acks).toBe(3)
    const { rows } = await db.query<{ id: string }>(
      `SELECT characteristic || ':' || seq AS id FROM journal_reading ORDER BY characteristic, seq`,
    )
    expect(rows.map((r) => r.id)).toEqual(['a:1', 'a:2', 'a:10', 'a:11', 'a:12'])
    expect(await count(db, 'SELECT count(*) FROM chart_snapshot')).toBe(1)
    expect(await count(db, 'SELECT count(*) FROM journal_delivery')).toBe(1)
    // 1 + 1 (a:1 and its snapshot), 3 of a, a:2 and the delivery; b, c, d and their snapshots fenced.
    expect(journal.status()).toMatchObject({ fenced: 6, written: 7, healthy: true })
  })

  it('makes a takeover of a lease wait for the batch that checked it', async () => {
    const { journal, db, url } = await setup({
      fence: { gateway: 'g1', partitionOf: () => 7, tenures: held([7]) },
    })
    await db.query(`INSERT INTO cluster_lease VALUES (7, 'g1', 1, now() + interval '1 minute')`)
    // A transaction of the test's own holds the journal's insert: the fence has checked by then.
    const blocker = await connection(url)
    await blocker.query('BEGIN')
    await blocker.query(
      `INSERT INTO journal_reading (characteristic, seq, ts, value) VALUES ('t', 1, 0, 0)`,
    )
    let acked = false
    journal.write(reading('t', 1, 1))
    journal.whenDurable(() => {
      acked = true
    })
    await journalWaitsOnLock(db)
    // Another gateway takes the lease over: it must wait until the batch's transaction ends.
    const taker = await connection(url)
    const takerPid = (await taker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      ?.pid
    let takenOver = false
    const takeover = taker
      .query(`UPDATE cluster_lease SET holder = 'g2', epoch = 2 WHERE partition = 7`)
      .then(() => {
        takenOver = true
      })
    await waitFor('the takeover to wait on the lease row', async () => {
      const { rows } = await db.query(
        `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
        [takerPid],
      )
      return rows.length > 0
    })
    expect(takenOver).toBe(false)
    await blocker.query('ROLLBACK')
    await takeover
    await waitFor('the acknowledgement', () => acked)
    expect(await count(db, `SELECT count(*) FROM journal_reading WHERE characteristic = 't'`)).toBe(
      1,
    )
  })

  it('drops a batch formed before this gateway lost a partition that it holds again since (a later epoch)', async () => {
    const tenures = held([5])
    const { journal, db, url } = await setup({
      fence: { gateway: 'g1', partitionOf: () => 5, tenures },
    })
    await db.query(`INSERT INTO cluster_lease VALUES (5, 'g1', 1, now() + interval '1 minute')`)
    // The lease row is held by a transaction of the test's own while the batch commits: its
    // fence waits; meanwhile the lease is lost and taken again by the same gateway (epoch 3).
    const leases = await connection(url)
    await leases.query('BEGIN')
    await leases.query('SELECT * FROM cluster_lease WHERE partition = 5 FOR UPDATE')
    let acked = false
    journal.write(reading('p', 1, 1))
    journal.whenDurable(() => {
      acked = true
    })
    await journalWaitsOnLock(db)
    tenures.drop(5)
    await leases.query(`UPDATE cluster_lease SET epoch = 3 WHERE partition = 5`)
    await leases.query('COMMIT')
    tenures.hold(5, 3)
    await waitFor('the stale batch to be fenced', () => journal.status().fenced === 1)
    expect(await count(db, `SELECT count(*) FROM journal_reading WHERE characteristic = 'p'`)).toBe(
      0,
    )
    // Formed under the new tenure: committed.
    journal.write(reading('p', 2, 2))
    await durable(journal)
    expect(acked).toBe(true)
    const { rows } = await db.query<{ seq: string }>(
      `SELECT seq FROM journal_reading WHERE characteristic = 'p' ORDER BY seq`,
    )
    expect(rows.map((r) => Number(r.seq))).toEqual([2])
  })

  it('cuts the batch it is forming when a tenure changes: one batch never holds two tenures of a partition', async () => {
    const tenures = held([6])
    const { journal, db } = await setup({
      fence: { gateway: 'g1', partitionOf: () => 6, tenures },
      flushIntervalMs: 60_000,
    })
    await db.query(`INSERT INTO cluster_lease VALUES (6, 'g1', 1, now() + interval '1 minute')`)
    // Formed under epoch 1 (no one waits on it, so it would wait for the interval)…
    journal.write(reading('q', 1, 1))
    // …then the lease is taken again at epoch 2: that reading must go with epoch 1, fenced.
    await db.query(`UPDATE cluster_lease SET epoch = 2 WHERE partition = 6`)
    tenures.drop(6)
    tenures.hold(6, 2)
    journal.write(reading('q', 2, 2))
    await durable(journal)
    await waitFor('the first reading to be fenced', () => journal.status().fenced === 1)
    const { rows } = await db.query<{ seq: string }>(
      `SELECT seq FROM journal_reading WHERE characteristic = 'q' ORDER BY seq`,
    )
    expect(rows.map((r) => Number(r.seq))).toEqual([2])
  })

  it('commits many readings per transaction (throughput, measured not asserted)', async () => {
    const { journal, db } = await setup()
    const n = 300_000
    const characteristics = 1_000
    const elu = performance.eventLoopUtilization()
    const started = performance.now()
    let writing = 0
    for (let i = 0; i < n; i += 10_000) {
      const t = performance.now()
      for (let j = i; j < i + 10_000; j++) {
        journal.write(
          reading(`ch${j % characteristics}`, Math.floor(j / characteristics) + 1, j * 0.5),
        )
      }
      writing += performance.now() - t
      await new Promise((r) => setImmediate(r))
    }
    await journal.flush()
    const seconds = (performance.now() - started) / 1000
    const busy = performance.eventLoopUtilization(elu)
    expect(await count(db, 'SELECT count(*) FROM journal_reading')).toBe(n)
    console.log(
      `journal: ${n} readings in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} readings/s; ` +
        `write() ${((writing * 1e6) / n).toFixed(0)} ns per reading; ` +
        `this thread busy ${(busy.utilization * 100).toFixed(0)}% of the time`,
    )
  }, 60_000)
})
