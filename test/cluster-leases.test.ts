import { connect, createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLeases, type Leases } from '../gateway/cluster/index.ts'
import { createLogger } from '../gateway/log.ts'
import { waitFor } from './helpers/index.ts'
import { type Postgres, startPostgres } from './helpers/postgres.ts'

// Leases on partitions in a real PostgreSQL (gateway/cluster/leases.ts). Times of the table's
// changes are recorded by a trigger with PostgreSQL's clock (clock_timestamp()), so takeovers
// are compared with expiries on the database's clock, never the test's.

const PARTITIONS = 12
const LEASE_MS = 1500
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p)

let server: Postgres
let databases = 0
const opened: { leases: Leases; closed: boolean }[] = []
const pools: pg.Pool[] = []

beforeAll(async () => {
  server = await startPostgres()
})

afterAll(async () => {
  for (const m of opened) if (!m.closed) await m.leases.crash()
  for (const pool of pools) await pool.end()
  await new Promise((r) => setTimeout(r, 200)) // the closed connections' last words
  await server?.stop()
})

interface Event {
  kind: 'acquire' | 'lose' | 'release'
  member: string
  partition: number
  epoch: number
  /** performance.now(): one process, one monotonic clock. */
  at: number
}

/** A fresh database with the lease table created as the journal creates it, and a log of its changes. */
async function plant() {
  const url = await server.createDatabase(`leases_${++databases}`)
  const db = new pg.Pool({ connectionString: url, max: 2 })
  db.on('connect', (client) => client.on('error', () => {}))
  pools.push(db)
  await db.query(`CREATE TABLE IF NOT EXISTS cluster_lease (
      partition INTEGER PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL,
      expires_at TIMESTAMPTZ NOT NULL);
    CREATE TABLE lease_log (id BIGSERIAL PRIMARY KEY, op TEXT NOT NULL, partition INTEGER NOT NULL,
      holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
      at TIMESTAMPTZ NOT NULL);
    CREATE FUNCTION log_lease() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO lease_log (op, partition, holder, epoch, expires_at, at)
          VALUES (TG_OP, OLD.partition, OLD.holder, OLD.epoch, OLD.expires_at, clock_timestamp());
        RETURN OLD;
      END IF;
      INSERT INTO lease_log (op, partition, holder, epoch, expires_at, at)
        VALUES (TG_OP, NEW.partition, NEW.holder, NEW.epoch, NEW.expires_at, clock_timestamp());
      RETURN NEW;
    END $$;
    CREATE TRIGGER cluster_lease_log AFTER INSERT OR UPDATE OR DELETE ON cluster_lease
      FOR EACH ROW EXECUTE FUNCTION log_lease();`)
  const events: Event[] = []
  const log = createLogger((process.env.LEASES_LOG as 'info' | undefined) ?? 'silent')

  async function member(
    name: string,
    options: { leaseMs?: number; settleMs?: number; url?: string } = {},
  ) {
    const record = (kind: Event['kind'], partition: number, epoch: number) =>
      events.push({ kind, member: name, partition, epoch, at: performance.now() })
    const entry = {
      closed: false,
      leases: createLeases({
        url: options.url ?? url,
        gateway: name,
        partitions: PARTITIONS,
        leaseMs: options.leaseMs ?? LEASE_MS,
        settleMs: options.settleMs,
        log,
        async onAcquire(partition, epoch) {
          record('acquire', partition, epoch)
        },
        onLose(partition, epoch) {
          record('lose', partition, epoch)
        },
        async onRelease(partition, epoch) {
          record('release', partition, epoch)
        },
      }),
    }
    opened.push(entry)
    await entry.leases.start()
    return {
      name,
      leases: entry.leases,
      async stop() {
        entry.closed = true
        await entry.leases.stop()
      },
      async crash() {
        entry.closed = true
        await entry.leases.crash()
      },
    }
  }

  /** Unexpired leases by partition, on the database's clock. */
  async function holders(): Promise<Map<number, string>> {
    const { rows } = await db.query<{ partition: number; holder: string }>(
      'SELECT partition, holder FROM cluster_lease WHERE expires_at > now()',
    )
    return new Map(rows.map((r) => [r.partition, r.holder]))
  }

  /**
   * Settled: `settledNow` holds and the table has not changed for `quietMs` (long enough for
   * every hand-over a settling member would get: settleMs plus a round).
   */
  async function settled(
    members: { name: string; leases: Leases }[],
    quietMs = 2 * LEASE_MS,
  ): Promise<boolean> {
    await waitFor('every partition held by exactly one gateway', () => settledNow(members), {
      timeoutMs: 20_000,
    })
    let snapshot = JSON.stringify([...(await holders())].sort((a, b) => a[0] - b[0]))
    let since = performance.now()
    while (performance.now() - since < quietMs) {
      await new Promise((r) => setTimeout(r, 100))
      const now = JSON.stringify([...(await holders())].sort((a, b) => a[0] - b[0]))
      if (now !== snapshot || !(await settledNow(members))) {
        snapshot = now
        since = performance.now()
      }
    }
    return settledNow(members)
  }

  /** Every partition held in the table by exactly one of `members`, each holding in memory exactly what the table says. */
  async function settledNow(members: { name: string; leases: Leases }[]): Promise<boolean> {
    const table = await holders()
    if (table.size !== PARTITIONS) return false
    const names = new Set(members.map((m) => m.name))
    if ([...table.values()].some((holder) => !names.has(holder))) return false
    for (const m of members) {
      const fromTable = ALL.filter((p) => table.get(p) === m.name)
      if (JSON.stringify([...m.leases.held()].sort((a, b) => a - b)) !== JSON.stringify(fromTable))
        return false
    }
    return true
  }

  interface LogRow {
    id: number
    op: string
    partition: number
    holder: string
    epoch: number
    expiresAt: number
    at: number
  }
  async function history(): Promise<LogRow[]> {
    const { rows } = await db.query<LogRow>(
      `SELECT id::float8 AS id, op, partition, holder, epoch::float8 AS epoch,
         (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt",
         (extract(epoch FROM at) * 1000)::float8 AS at
       FROM lease_log ORDER BY id`,
    )
    return rows
  }

  async function databaseNow(): Promise<number> {
    const { rows } = await db.query<{ now: number }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now',
    )
    return (rows[0] as { now: number }).now
  }

  return { url, db, events, member, holders, settled, settledNow, history, databaseNow }
}

/** A TCP relay to PostgreSQL that can be cut as a network cut would: nothing passes, nothing is closed. */
async function relay(port: number) {
  let cut = false
  const pairs: [Socket, Socket][] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    client.on('error', () => {})
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    if (cut) return // accepted, never answered
    const upstream = connect(port, '127.0.0.1')
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
    pairs.push([client, upstream])
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const relayPort = typeof address === 'object' && address ? address.port : 0
  return {
    port: relayPort,
    cut() {
      cut = true
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
    restore() {
      cut = false
      for (const [client, upstream] of pairs.splice(0)) {
        client.destroy()
        upstream.destroy()
      }
      for (const socket of sockets) socket.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}

describe('cluster leases', () => {
  it('three gateways: every partition held by exactly one; a crashed one’s are taken over after its leases expire, with a higher epoch', async () => {
    const p = await plant()
    const members = [await p.member('gw-a'), await p.member('gw-b'), await p.member('gw-c')]
    expect(await p.settled(members)).toBe(true)
    const crashed = members.find((m) => m.leases.held().size > 0) as (typeof members)[number]
    const survivors = members.filter((m) => m !== crashed)
    const hadBeforeCrash = [...crashed.leases.held()]

    const crashedAt = await p.databaseNow()
    const crashedLocally = performance.now()
    await crashed.crash()
    await waitFor('the crashed gateway’s partitions taken over', () => p.settledNow(survivors), {
      timeoutMs: 20_000,
    })

    const log = await p.history()
    for (const partition of hadBeforeCrash) {
      const rows = log.filter((r) => r.partition === partition)
      const lastOfCrashed = rows.findLast((r) => r.holder === crashed.name) as (typeof rows)[0]
      expect(lastOfCrashed.op).not.toBe('DELETE')
      const takeover = rows.find((r) => r.id > lastOfCrashed.id && r.holder !== crashed.name)
      expect(takeover, `partition ${partition} taken over`).toBeDefined()
      if (!takeover) continue
      expect(takeover.at).toBeGreaterThan(lastOfCrashed.expiresAt)
      expect(takeover.at - crashedAt).toBeLessThanOrEqual(LEASE_MS + 5000)
      expect(takeover.epoch).toBeGreaterThan(lastOfCrashed.epoch)
      // The new holder was told the epoch the database gave it.
      expect(
        p.events.some(
          (e) =>
            e.kind === 'acquire' &&
            e.member === takeover.holder &&
            e.partition === partition &&
            e.epoch === takeover.epoch,
        ),
      ).toBe(true)
    }
    // A crash calls nothing.
    expect(p.events.filter((e) => e.member === crashed.name && e.at > crashedLocally)).toEqual([])
    for (const m of survivors) await m.stop()
  })

  it('a graceful stop hands over at once: onRelease first, then the others take the partitions before the leases would have expired', async () => {
    const p = await plant()
    const leaseMs = 3000
    const members = [
      await p.member('gw-a', { leaseMs }),
      await p.member('gw-b', { leaseMs }),
      await p.member('gw-c', { leaseMs }),
    ]
    expect(await p.settled(members, 2 * leaseMs)).toBe(true)
    const leaving = members.find((m) => m.leases.held().size > 0) as (typeof members)[number]
    const staying = members.filter((m) => m !== leaving)
    const had = [...leaving.leases.held()]
    await leaving.stop()
    await waitFor('the partitions taken by the others', () => p.settledNow(staying))

    const log = await p.history()
    for (const partition of had) {
      const released = p.events.find(
        (e) => e.kind === 'release' && e.member === leaving.name && e.partition === partition,
      )
      const taken = p.events.find(
        (e) =>
          e.kind === 'acquire' &&
          e.member !== leaving.name &&
          e.partition === partition &&
          e.at > (released?.at ?? Number.POSITIVE_INFINITY),
      )
      expect(released, `partition ${partition} released`).toBeDefined()
      expect(taken, `partition ${partition} taken`).toBeDefined()
      const rows = log.filter((r) => r.partition === partition)
      const deleted = rows.findLast((r) => r.op === 'DELETE' && r.holder === leaving.name)
      expect(deleted, `partition ${partition}: lease deleted`).toBeDefined()
      if (!deleted) continue
      const takeover = rows.find((r) => r.id > deleted.id) as (typeof rows)[0]
      expect(takeover.holder).not.toBe(leaving.name)
      // Not waiting for the expiry: taken while the released lease would still have been valid.
      expect(takeover.at).toBeLessThan(deleted.expiresAt)
      expect(takeover.epoch).toBeGreaterThan(deleted.epoch)
    }
    const { rows } = await p.db.query('SELECT gateway FROM cluster_member WHERE gateway = $1', [
      leaving.name,
    ])
    expect(rows).toEqual([])
    for (const m of staying) await m.stop()
  })

  it('a gateway joining later gets its share once it has been live settleMs, and takes only from the others what it is given', async () => {
    const p = await plant()
    const early = [await p.member('gw-a'), await p.member('gw-b')]
    expect(await p.settled(early)).toBe(true)
    const before = await p.holders()
    const late = await p.member('gw-late')
    const { rows } = await p.db.query<{ joined: number }>(
      `SELECT (extract(epoch FROM started_at) * 1000)::float8 AS joined FROM cluster_member WHERE gateway = 'gw-late'`,
    )
    const joinedAt = (rows[0] as { joined: number }).joined
    const all = [...early, late]
    expect(await p.settled(all)).toBe(true)
    expect(late.leases.held().size).toBeGreaterThan(0)
    const after = await p.holders()
    for (const [partition, holder] of after)
      if (holder !== before.get(partition)) expect(holder).toBe('gw-late')
    const firstTaken = (await p.history()).find((r) => r.holder === 'gw-late') as { at: number }
    expect(firstTaken.at - joinedAt).toBeGreaterThanOrEqual(LEASE_MS) // settleMs defaults to leaseMs
    for (const m of all) await m.stop()
  })

  it('a gateway cut off from PostgreSQL declares its partitions lost within leaseMs, before anyone takes them, and comes back', async () => {
    const p = await plant()
    const network = await relay(server.port)
    const relayed = new URL(p.url)
    relayed.port = String(network.port)
    const members = [
      await p.member('gw-a'),
      await p.member('gw-b'),
      await p.member('gw-cut', { url: relayed.toString() }),
    ]
    expect(await p.settled(members)).toBe(true)
    const cutOff = members[2] as (typeof members)[number]
    const had = [...cutOff.leases.held()]
    expect(had.length).toBeGreaterThan(0)

    const cutAt = performance.now()
    network.cut()
    await waitFor('the cut-off gateway to let go', () => cutOff.leases.held().size === 0)
    for (const partition of had) {
      const lost = p.events.find(
        (e) =>
          e.kind === 'lose' && e.member === 'gw-cut' && e.partition === partition && e.at > cutAt,
      )
      expect(lost, `partition ${partition} lost`).toBeDefined()
      expect((lost as Event).at - cutAt).toBeLessThanOrEqual(LEASE_MS)
    }
    await waitFor('its partitions taken by the others', () => p.settledNow(members.slice(0, 2)), {
      timeoutMs: 20_000,
    })
    for (const partition of had) {
      const lost = p.events.find(
        (e) =>
          e.kind === 'lose' && e.member === 'gw-cut' && e.partition === partition && e.at > cutAt,
      ) as Event
      const taken = p.events.find(
        (e) =>
          e.kind === 'acquire' &&
          e.member !== 'gw-cut' &&
          e.partition === partition &&
          e.at > cutAt,
      ) as Event
      expect(lost.at).toBeLessThan(taken.at)
    }
    expect(cutOff.leases.status().errors).toBeGreaterThan(0)

    network.restore()
    // Back: it joins again, and gets its share once it has settled.
    expect(await p.settled(members)).toBe(true)
    expect(cutOff.leases.held().size).toBeGreaterThan(0)
    for (const m of members) await m.stop()
    await network.close()
  })
})
