import pg from 'pg'
import type { Tenures } from '../cluster/tenures.ts'
import type { Logger } from '../log.ts'
import { DELIVERY_MEMORY_MS } from '../sources/deliveries.ts'
import { migratePostgres } from './postgres-schema.ts'
import type {
  ChartSnapshot,
  Delivery,
  JournaledStore,
  JournalReading,
  SeriesRecord,
  StoreStatus,
} from './types.ts'

/**
 * The charts' journal in PostgreSQL, shared by the gateways of a plant: the readings a snapshot
 * does not cover yet, the latest snapshot of each chart, and the QoS 1/2 deliveries of the last
 * minutes. A gateway that takes a characteristic over restores its chart from here. It is the
 * `journal` of `journaled(series, journal)`; the time series itself lives elsewhere (InfluxDB).
 *
 * Records are batched on this thread as columns (plain number arrays, characteristics numbered
 * per batch) and each batch is one transaction of three multi-row inserts (`unnest` of arrays
 * sent in PostgreSQL's binary format): the per-record work here is a few array pushes, the
 * per-batch work a copy of each column into a Buffer.
 *
 * Group commit as in the SQLite store: `whenDurable` callbacks wait on the batch being formed,
 * which is cut at once when no commit is in flight, else at `flushIntervalMs` or `batchSize`
 * records. Batches commit strictly in order (a snapshot never lands before the readings it
 * covers); a failed commit is retried, the same batch, with a backoff capped at 5 s, and the
 * inserts are idempotent (ON CONFLICT) because a commit whose answer was lost may have happened.
 *
 * Fencing (`fence`): each batch's transaction first takes the leases of the partitions its
 * records touch (FOR SHARE, so no other gateway can take one over until this commit ends) and
 * keeps only the readings and snapshots of the partitions this gateway holds, live; the others
 * are dropped and counted (`status().fenced`): the partition's new holder restored from what
 * was committed before it took the lease, and nothing may land after that. The batch's
 * `whenDurable` callbacks are still called: an acknowledgement for a message of a partition
 * that was lost cannot reach the broker, because the partition's MQTT session is the new
 * holder's now (the gateway closed its connection when it lost the lease, and the broker
 * closes an older connection of a client id when a new one connects with it), so the message
 * goes to the new holder; the other partitions' messages are committed and acknowledged.
 */
export interface PostgresJournalOptions {
  /** `postgres://…` */
  url: string
  log: Logger
  /** Cut a batch at this many records (default 50,000)… */
  batchSize?: number
  /** …or after this long (default 200 ms). */
  flushIntervalMs?: number
  /**
   * Records held in memory, formed or waiting to commit, before further ones are dropped and
   * counted (default 1,000,000; a reading holds about 100 bytes: some 100 MB at most).
   */
  maxPending?: number
  /** A query (a commit included) that takes longer fails and is retried (default 15 s). */
  queryTimeoutMs?: number
  /** How long `stop` waits for what is queued to commit (default 10 s). */
  stopTimeoutMs?: number
  fence?: Fence
}

/**
 * What a batch is fenced with: this gateway's name, each characteristic's partition, and the
 * epoch of each partition it holds (cluster/tenures.ts).
 */
export interface Fence {
  gateway: string
  partitionOf(characteristic: string): number
  tenures: Tenures
}

export interface PostgresJournalStatus extends StoreStatus {
  /** Records in batches refused by the fence (leases not held). */
  fenced: number
}

export interface PostgresJournal extends JournaledStore {
  status(): PostgresJournalStatus
}

const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 5_000
/** Version 1 creates only what is missing: `cluster_lease` may exist already (cluster/leases.ts). */
const JOURNAL_MIGRATIONS = [
  `
CREATE TABLE IF NOT EXISTS journal_reading (
  characteristic TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ts DOUBLE PRECISION NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  size DOUBLE PRECISION NULL,
  key TEXT NULL,
  PRIMARY KEY (characteristic, seq)
);
CREATE TABLE IF NOT EXISTS chart_snapshot (
  characteristic TEXT PRIMARY KEY,
  seq BIGINT NOT NULL,
  spec_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS journal_delivery (
  client TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  hash BIGINT NOT NULL,
  at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (client, message_id, hash, at)
);
CREATE INDEX IF NOT EXISTS journal_delivery_at ON journal_delivery (at);
CREATE TABLE IF NOT EXISTS cluster_lease (
  partition INTEGER PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);`,
]

// Characteristic names are numbered per batch (1-based: SQL arrays) and looked up in the insert.
const INSERT_READINGS = `
INSERT INTO journal_reading (characteristic, seq, ts, value, size, key)
SELECT ($1::text[])[r.c], r.seq, r.ts, r.value, r.size, r.key
FROM unnest($2::int[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::text[])
  AS r(c, seq, ts, value, size, key)
ON CONFLICT (characteristic, seq) DO NOTHING`

/** INSERT_READINGS of the characteristics whose partition ($8, by name) is held ($9). */
const INSERT_HELD_READINGS = `
INSERT INTO journal_reading (characteristic, seq, ts, value, size, key)
SELECT ($1::text[])[r.c], r.seq, r.ts, r.value, r.size, r.key
FROM unnest($2::int[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::text[])
  AS r(c, seq, ts, value, size, key)
WHERE ($8::int[])[r.c] = ANY($9::int[])
ON CONFLICT (characteristic, seq) DO NOTHING`

// A batch holds at most one snapshot per characteristic (ON CONFLICT DO UPDATE needs it).
const UPSERT_SNAPSHOTS = `
INSERT INTO chart_snapshot (characteristic, seq, spec_hash, state, at)
SELECT s.characteristic, s.seq, s.spec_hash, s.state, now()
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS s(characteristic, seq, spec_hash, state)
ON CONFLICT (characteristic) DO UPDATE
  SET seq = EXCLUDED.seq, spec_hash = EXCLUDED.spec_hash, state = EXCLUDED.state, at = EXCLUDED.at
  WHERE chart_snapshot.seq < EXCLUDED.seq`

/** UPSERT_SNAPSHOTS of the characteristics whose partition ($5, by snapshot) is held ($6). */
const UPSERT_HELD_SNAPSHOTS = `
INSERT INTO chart_snapshot (characteristic, seq, spec_hash, state, at)
SELECT s.characteristic, s.seq, s.spec_hash, s.state, now()
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[])
  AS s(characteristic, seq, spec_hash, state, part)
WHERE s.part = ANY($6::int[])
ON CONFLICT (characteristic) DO UPDATE
  SET seq = EXCLUDED.seq, spec_hash = EXCLUDED.spec_hash, state = EXCLUDED.state, at = EXCLUDED.at
  WHERE chart_snapshot.seq < EXCLUDED.seq`

const INSERT_DELIVERIES = `
INSERT INTO journal_delivery (client, message_id, hash, at)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::float8[])
ON CONFLICT DO NOTHING`

// FOR SHARE: a takeover (UPDATE or DELETE of a lease row) waits until this batch's commit ends,
// so nothing this gateway commits lands after the new owner has read the journal. The epoch is
// the batch's: a lease this gateway holds again (a later tenure) does not pass a batch formed
// before it lost it.
const HELD_LEASES = `
SELECT l.partition FROM cluster_lease l
JOIN unnest($2::int[], $3::int8[]) AS b (partition, epoch)
  ON l.partition = b.partition AND l.epoch = b.epoch
WHERE l.holder = $1 AND l.expires_at > now()
FOR SHARE OF l`

/** A batch as formed; `cut` turns it into the statements' parameters, kept for retries. */
interface Batch {
  names: Map<string, number>
  nameList: string[]
  rName: number[]
  rSeq: number[]
  rTs: number[]
  rValue: number[]
  rSize: (number | null)[]
  rKey: (string | null)[]
  anySize: boolean
  anyKey: boolean
  snapshots: Map<string, ChartSnapshot>
  dClient: string[]
  dId: number[]
  dHash: number[]
  dAt: number[]
  /** Records of every kind taken into it. */
  size: number
  waiting: (() => void)[]
  /** Called when the batch is done with, committed or fenced (flush). */
  settled: (() => void)[]
  checkpoint: boolean
  cut: CutBatch | null
}

interface CutBatch {
  readings: unknown[] | null
  snapshots: unknown[] | null
  deliveries: unknown[] | null
  partitions: number[]
  /** The epoch this gateway held each of `partitions` at when the batch was cut (-1: none). */
  epochs: number[]
  /** With a fence: the partition of each name (readings) and of each snapshot. */
  namePartitions: number[]
  snapshotPartitions: number[]
  /** Readings and snapshots per partition: what a partition not held drops. */
  records: Map<number, number>
  snapshotted: string[]
}

const newBatch = (): Batch => ({
  names: new Map(),
  nameList: [],
  rName: [],
  rSeq: [],
  rTs: [],
  rValue: [],
  rSize: [],
  rKey: [],
  anySize: false,
  anyKey: false,
  snapshots: new Map(),
  dClient: [],
  dId: [],
  dHash: [],
  dAt: [],
  size: 0,
  waiting: [],
  settled: [],
  checkpoint: false,
  cut: null,
})

const ELEMENT = { int4: 23, int8: 20, float8: 701 } as const

/**
 * An array of numbers in PostgreSQL's binary array format (what `array_recv` reads): node-postgres
 * sends a Buffer parameter as binary, so no number is turned into text on this thread, and every
 * double (−0 and NaN included) arrives bit for bit. `null` is SQL NULL.
 */
export function binaryArray(
  type: keyof typeof ELEMENT,
  values: readonly (number | null)[],
): Buffer {
  const n = values.length
  const width = type === 'int4' ? 4 : 8
  const buf = Buffer.alloc(n === 0 ? 12 : 20 + n * (4 + width))
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  v.setInt32(0, n === 0 ? 0 : 1) // dimensions
  v.setInt32(8, ELEMENT[type])
  if (n === 0) return buf
  v.setInt32(12, n) // length
  v.setInt32(16, 1) // lower bound
  let at = 20
  let nulls = 0
  for (const x of values) {
    if (x === null) {
      v.setInt32(at, -1)
      at += 4
      nulls = 1
      continue
    }
    v.setInt32(at, width)
    if (type === 'float8') v.setFloat64(at + 4, x)
    else if (type === 'int4') v.setInt32(at + 4, x)
    else {
      // A safe integer as two 32-bit halves (two's complement): no BigInt per value.
      const high = Math.floor(x / 0x1_0000_0000)
      v.setInt32(at + 4, high)
      v.setUint32(at + 8, x - high * 0x1_0000_0000)
    }
    at += 4 + width
  }
  v.setInt32(4, nulls) // has nulls
  return buf.subarray(0, at)
}

/** PostgreSQL text cannot hold NUL; such a record could never commit and would block the rest. */
const storable = (s: string) => !s.includes('\0')

function cutBatch(b: Batch, fence: Fence | undefined): CutBatch {
  const partitionOf = fence?.partitionOf
  const readings =
    b.rSeq.length === 0
      ? null
      : [
          b.nameList,
          binaryArray('int4', b.rName),
          binaryArray('int8', b.rSeq),
          binaryArray('float8', b.rTs),
          binaryArray('float8', b.rValue),
          // unnest pads a shorter array with NULLs: none of them, no column to send.
          binaryArray('float8', b.anySize ? b.rSize : []),
          b.anyKey ? b.rKey : [],
        ]
  const snaps = [...b.snapshots.values()]
  const snapshots =
    snaps.length === 0
      ? null
      : [
          snaps.map((s) => s.characteristic),
          binaryArray(
            'int8',
            snaps.map((s) => s.seq),
          ),
          snaps.map((s) => s.specHash),
          snaps.map((s) => s.state),
        ]
  const deliveries =
    b.dClient.length === 0
      ? null
      : [
          b.dClient,
          binaryArray('int4', b.dId),
          binaryArray('int8', b.dHash),
          binaryArray('float8', b.dAt),
        ]
  const records = new Map<number, number>()
  const part = (name: string): number => {
    let p: number
    try {
      p = (partitionOf as (c: string) => number)(name)
    } catch {
      p = -1 // no partition: never held, so its records are fenced rather than lost silently
    }
    return Number.isSafeInteger(p) ? p : -1
  }
  const namePartitions = partitionOf ? b.nameList.map(part) : []
  const snapshotPartitions = partitionOf ? snaps.map((s) => part(s.characteristic)) : []
  if (partitionOf) {
    for (const c of b.rName) {
      // Names are numbered from 1, as PostgreSQL's arrays are.
      const p = namePartitions[c - 1] as number
      records.set(p, (records.get(p) ?? 0) + 1)
    }
    for (const p of snapshotPartitions) records.set(p, (records.get(p) ?? 0) + 1)
  }
  const partitions = [...records.keys()]
  return {
    readings,
    snapshots,
    deliveries,
    partitions,
    epochs: partitions.map((p) => fence?.tenures.epochOf(p) ?? -1),
    namePartitions,
    snapshotPartitions,
    records,
    snapshotted: [...b.snapshots.keys()],
  }
}

/** Frees a cut batch's columns: only its statements' parameters are kept for a retry. */
function release(b: Batch): void {
  b.names = new Map()
  b.nameList = []
  b.rName = b.rSeq = b.rTs = b.rValue = b.dId = b.dHash = b.dAt = []
  b.rSize = []
  b.rKey = []
  b.dClient = []
  b.snapshots = new Map()
}

const notTheSeries = () =>
  Promise.reject(new Error('the PostgreSQL journal is not the time series: query the series store'))

export function createPostgresJournal(options: PostgresJournalOptions): PostgresJournal {
  const { log, fence } = options
  const flushIntervalMs = options.flushIntervalMs ?? 200
  const maxPending = options.maxPending ?? 1_000_000
  // A batch is cut well before the bound: a small bound still leaves room for several.
  const batchSize = Math.min(options.batchSize ?? 50_000, Math.ceil(maxPending / 8))
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 4,
    connectionTimeoutMillis: 5_000,
    query_timeout: options.queryTimeoutMs ?? 15_000,
    keepAlive: true,
    application_name: 'linewatch-journal',
  })
  // An idle connection the server drops: the pool forgets it; the next query opens another.
  pool.on('error', (err) => log.warn({ err }, 'journal connection lost'))

  let buffer = newBatch()
  /** Cut batches, oldest first; the head is the one committing. */
  const queue: Batch[] = []
  let queuedRecords = 0
  let written = 0
  let dropped = 0
  let rejected = 0
  let fenced = 0
  let lastError: string | undefined
  /** A record was dropped since the last `whenDurable`: that callback must never be called. */
  let droppedSinceWait = false
  let timer: NodeJS.Timeout | null = null
  let cutScheduled = false
  let pumping = false
  let closed = false
  let ended = false
  let wakeRetry: (() => void) | null = null
  /** Characteristics snapshotted since the last cleanup; null: clean all (first checkpoint). */
  let toClean: Set<string> | null = null
  // A batch holds one tenure of each partition: the one being formed is cut before a change.
  fence?.tenures.beforeChange(() => cut())

  function cut(checkpoint = false): void {
    if (closed || (buffer.size === 0 && !checkpoint)) return
    const b = buffer
    buffer = newBatch()
    b.checkpoint ||= checkpoint
    b.cut = cutBatch(b, fence)
    release(b)
    queue.push(b)
    queuedRecords += b.size
    void pump()
  }

  let fullCutScheduled = false

  /** Acknowledgements wait: cut the batch once no commit is in flight. */
  function scheduleCut(): void {
    if (cutScheduled) return
    cutScheduled = true
    setImmediate(() => {
      cutScheduled = false
      if (queue.length === 0) cut()
    })
  }

  async function withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    // A checked-out client that loses its server emits 'error': the failed query reports it.
    const ignore = () => {}
    client.on('error', ignore)
    let failure: unknown
    try {
      return await work(client)
    } catch (err) {
      failure = err
      throw err
    } finally {
      client.off('error', ignore)
      // After a failure the connection's state is unknown (a commit may be in flight): drop it.
      client.release(failure === undefined ? undefined : true)
    }
  }

  /**
   * One transaction; resolves with the records fenced (of partitions not held, not written);
   * throws when it failed.
   */
  function commit(c: CutBatch): Promise<{ fenced: number; partitions: number[] }> {
    return withClient(async (client) => {
      await client.query('BEGIN')
      let held: number[] | null = null
      if (fence && c.partitions.length > 0) {
        const rows = (
          await client.query<{ partition: number }>(HELD_LEASES, [
            fence.gateway,
            c.partitions,
            c.epochs,
          ])
        ).rows
        if (rows.length !== c.partitions.length) held = rows.map((r) => r.partition)
      }
      if (held === null) {
        if (c.readings) await client.query(INSERT_READINGS, c.readings)
        if (c.snapshots) await client.query(UPSERT_SNAPSHOTS, c.snapshots)
      } else {
        if (c.readings)
          await client.query(INSERT_HELD_READINGS, [
            ...c.readings,
            binaryArray('int4', c.namePartitions),
            binaryArray('int4', held),
          ])
        if (c.snapshots)
          await client.query(UPSERT_HELD_SNAPSHOTS, [
            ...c.snapshots,
            binaryArray('int4', c.snapshotPartitions),
            binaryArray('int4', held),
          ])
      }
      if (c.deliveries) await client.query(INSERT_DELIVERIES, c.deliveries)
      await client.query('COMMIT')
      if (held === null) return { fenced: 0, partitions: [] }
      const lost = c.partitions.filter((p) => !(held as number[]).includes(p))
      return { fenced: lost.reduce((n, p) => n + (c.records.get(p) ?? 0), 0), partitions: lost }
    })
  }

  /** After a checkpoint's commit: drop the readings snapshots cover, and old deliveries. */
  async function cleanUp(): Promise<void> {
    const only = toClean === null ? null : [...toClean]
    try {
      await withClient(async (client) => {
        await client.query(
          `DELETE FROM journal_reading r USING chart_snapshot s
           WHERE r.characteristic = s.characteristic AND r.seq <= s.seq
             AND ($1::text[] IS NULL OR s.characteristic = ANY($1::text[]))`,
          [only],
        )
        await client.query('DELETE FROM journal_delivery WHERE at < $1', [
          Date.now() - DELIVERY_MEMORY_MS,
        ])
      })
      if (only === null) toClean = new Set()
      else for (const c of only) toClean?.delete(c)
    } catch (err) {
      // Harmless: what is covered is deleted at a later checkpoint.
      log.warn({ err }, 'journal clean-up failed; it runs again at the next checkpoint')
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms)
      function done() {
        clearTimeout(t)
        wakeRetry = null
        resolve()
      }
      wakeRetry = done
    })
  }

  async function pump(): Promise<void> {
    if (pumping) return
    pumping = true
    let backoff = RETRY_FIRST_MS
    try {
      for (let head = queue[0]; head && !closed; head = queue[0]) {
        let outcome: { fenced: number; partitions: number[] }
        try {
          outcome = await commit(head.cut as CutBatch)
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err)
          log.error(
            { error: lastError, pending: queuedRecords + buffer.size, retryInMs: backoff },
            'journal commit failed; the batch is kept and committed again',
          )
          await sleep(backoff)
          backoff = Math.min(backoff * 2, RETRY_MAX_MS)
          continue
        }
        backoff = RETRY_FIRST_MS
        lastError = undefined
        queue.shift()
        queuedRecords -= head.size
        if (outcome.fenced > 0) {
          fenced += outcome.fenced
          log.warn(
            { records: outcome.fenced, partitions: outcome.partitions },
            'journal records fenced: this gateway no longer holds the leases of their partitions',
          )
        }
        written += head.size - outcome.fenced
        if (toClean) for (const c of head.cut?.snapshotted ?? []) toClean.add(c)
        for (const done of head.waiting) done()
        if (head.checkpoint) await cleanUp()
        for (const done of head.settled) done()
        if (queue.length === 0 && buffer.waiting.length > 0) cut()
      }
    } finally {
      pumping = false
    }
  }

  function drop(): void {
    dropped++
    droppedSinceWait = true
    if (dropped === 1 || dropped % 10_000 === 0) {
      log.error(
        { dropped },
        'journal buffer full (the journal is failing, or slower than what comes in): records are dropped',
      )
    }
  }

  function take(record: SeriesRecord): void {
    const b = buffer
    switch (record.kind) {
      case 'reading': {
        const { seq } = record
        if (seq === undefined) return // not replayed: nothing to journal
        if (
          !Number.isSafeInteger(seq) ||
          seq < 0 ||
          (record.key != null && !storable(record.key))
        ) {
          rejected++
          return
        }
        let c = b.names.get(record.characteristic)
        if (c === undefined) {
          if (!storable(record.characteristic)) {
            rejected++
            return
          }
          c = b.nameList.push(record.characteristic)
          b.names.set(record.characteristic, c)
        }
        b.rName.push(c)
        b.rSeq.push(seq)
        b.rTs.push(record.ts)
        b.rValue.push(record.value)
        if (record.size == null) b.rSize.push(null)
        else {
          b.rSize.push(record.size)
          b.anySize = true
        }
        b.rKey.push(record.key ?? null)
        if (record.key != null) b.anyKey = true
        break
      }
      case 'snapshot': {
        const { characteristic, seq, specHash, state } = record
        if (
          !Number.isSafeInteger(seq) ||
          !storable(characteristic) ||
          !storable(specHash) ||
          !storable(state)
        ) {
          rejected++
          return
        }
        const before = b.snapshots.get(characteristic)
        if (!before || before.seq < seq)
          b.snapshots.set(characteristic, { characteristic, seq, specHash, state })
        break
      }
      case 'delivery': {
        const d = record.delivery
        if (
          !storable(d.client) ||
          !Number.isInteger(d.messageId) ||
          d.messageId < 0 ||
          d.messageId > 0x7fffffff ||
          !Number.isSafeInteger(d.hash) ||
          !Number.isFinite(d.at)
        ) {
          rejected++
          return
        }
        b.dClient.push(d.client)
        b.dId.push(d.messageId)
        b.dHash.push(d.hash)
        b.dAt.push(d.at)
        break
      }
      default:
        return // chart points and events are the time series'
    }
    // Cut once this turn's writes are in: one message's reading and delivery share a commit.
    if (++b.size >= batchSize && !fullCutScheduled) {
      fullCutScheduled = true
      setImmediate(() => {
        fullCutScheduled = false
        if (buffer.size >= batchSize) cut()
      })
    }
  }

  function flush(): Promise<void> {
    cut()
    const last = queue.at(-1)
    if (!last) return Promise.resolve()
    return new Promise((resolve) => last.settled.push(resolve))
  }

  return {
    async start() {
      // Under the lock every linewatch component takes for its schema: gateways starting
      // together create the tables once (cluster_lease too, whichever module comes first).
      await withClient((client) => migratePostgres(client, 'journal', JOURNAL_MIGRATIONS))
      timer = setInterval(() => cut(), flushIntervalMs)
      timer.unref()
    },

    write(record) {
      if (closed) return
      if (buffer.size + queuedRecords >= maxPending) {
        if (record.kind === 'reading' || record.kind === 'snapshot' || record.kind === 'delivery')
          drop()
        return
      }
      try {
        take(record)
      } catch (err) {
        // Never throws to the judging thread; a record it cannot take is counted.
        rejected++
        log.error({ err }, 'journal could not take a record')
      }
    },

    whenDurable(done) {
      if (droppedSinceWait) {
        // What came before this callback was not all kept: it is never acknowledged.
        droppedSinceWait = false
        return
      }
      if (buffer.size > 0) {
        buffer.waiting.push(done)
        scheduleCut()
        return
      }
      // Nothing is being formed: wait on the latest batch queued, or nothing at all.
      const last = queue.at(-1)
      if (last) last.waiting.push(done)
      else done()
    },

    checkpoint() {
      cut(true)
    },

    flush,

    readings: notTheSeries,
    chartPoints: notTheSeries,
    events: notTheSeries,

    async snapshots(characteristics) {
      const { rows } = await pool.query<ChartSnapshot>(
        `SELECT characteristic, seq::float8 AS seq, spec_hash AS "specHash", state
         FROM chart_snapshot WHERE $1::text[] IS NULL OR characteristic = ANY($1::text[])
         ORDER BY characteristic`,
        [characteristics ?? null],
      )
      return rows
    },

    async deliveries(clients): Promise<Delivery[]> {
      const { rows } = await pool.query<Delivery>(
        `SELECT client, message_id AS "messageId", hash::float8 AS hash, at
         FROM journal_delivery
         WHERE at >= $1 AND ($2::text[] IS NULL OR client = ANY($2::text[]))
         ORDER BY at`,
        [Date.now() - DELIVERY_MEMORY_MS, clients ?? null],
      )
      return rows
    },

    async readingsAfter(characteristic, seq): Promise<JournalReading[]> {
      const { rows } = await pool.query<JournalReading>(
        `SELECT seq::float8 AS seq, ts, value, size, key FROM journal_reading
         WHERE characteristic = $1 AND seq > $2 ORDER BY seq`,
        [characteristic, seq],
      )
      return rows
    },

    backlog: () => (buffer.size + queuedRecords) / maxPending,

    status(): PostgresJournalStatus {
      return {
        kind: 'postgres',
        healthy: lastError === undefined,
        pending: buffer.size + queuedRecords,
        spooled: 0,
        written,
        rejected,
        dropped,
        fenced,
        lastError,
      }
    },

    async stop() {
      if (timer) clearInterval(timer)
      timer = null
      if (!closed) {
        const bound = new Promise<void>((r) => setTimeout(r, stopTimeoutMs).unref())
        // A retry waiting out its backoff goes at once.
        const flushed = flush()
        wakeRetry?.()
        await Promise.race([flushed, bound])
        closed = true
        wakeRetry?.()
        const lost = buffer.size + queuedRecords
        if (lost > 0) log.error({ lost }, 'journal records could not be committed before stopping')
      }
      if (ended) return
      ended = true
      // A commit hanging on an unreachable server ends at its query timeout; not waited for.
      await Promise.race([pool.end(), new Promise((r) => setTimeout(r, 5_000).unref())])
    },
  }
}
