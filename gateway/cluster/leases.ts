import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { type LeaseMember, type LeaseRow, planLeases } from '../../rules/index.ts'
import type { Logger } from '../log.ts'
import { SCHEMA_LOCK } from '../store/postgres-schema.ts'

/**
 * This gateway's leases on partitions of the characteristics (docs/scale.md): each
 * characteristic is judged by exactly one gateway at a time, the one holding its partition's
 * lease in PostgreSQL. Every leaseMs/3 a round heartbeats the member row, renews the held
 * leases, reads the live members and the leases, plans (rules/leases.ts) and acquires or hands
 * over partitions. Every expiry is on PostgreSQL's clock (now()); the conditional statements
 * decide, so two gateways can never hold one partition at once in the table.
 *
 * Fencing by time: a lease renewed at local monotonic time t (taken before the statement was
 * sent, so before the database's now()) is valid in the database until at least t + leaseMs.
 * At t + leaseMs − margin this gateway declares it lost (onLose) without asking the database,
 * so a gateway cut off from PostgreSQL stops judging before another may take its partitions.
 *
 * Epochs come from the sequence `cluster_lease_epoch` (and are always above the row's
 * previous epoch): a partition released (its row deleted) and taken again still gets a higher
 * epoch than any before, which the journal's fencing needs.
 *
 * Callbacks for one partition: onAcquire is awaited before the partition counts as held and
 * before it is released; onLose may come while onAcquire or onRelease is still pending (a
 * lease is lost when time says so): the owner must then stop, or not start, judging it.
 */
export interface LeaseCallbacks {
  /** Restore the partition's charts and start consuming it. */
  onAcquire(partition: number, epoch: number): Promise<void>
  /** Stop judging the partition at once (lease lost or fenced). */
  onLose(partition: number, epoch: number): void
  /** Hand over: stop consuming, flush and snapshot; the lease is deleted after it settles. */
  onRelease(partition: number, epoch: number): Promise<void>
}

export interface LeasesOptions {
  url: string
  /** This gateway's name (cluster.gateway). */
  gateway: string
  /** cluster.partitions: the same on every gateway. */
  partitions: number
  /** cluster.leaseMs: renewed every third of it. */
  leaseMs: number
  /** A gateway preferred for a partition another holds gets it after being live this long (default leaseMs). */
  settleMs?: number
  log: Logger
}

export interface LeasesStatus {
  gateway: string
  /** Partitions held (onAcquire done), ascending. */
  held: number[]
  /** Live members as last read, by name. */
  members: string[]
  /** Since the last successful heartbeat and renewal (local monotonic clock); null before the first. */
  lastRenewalMsAgo: number | null
  /** Rounds or statements that failed (database unreachable, …). */
  errors: number
  lastError: string | null
  /** Partitions lost (not renewed in time, or taken) since start. */
  lost: number
}

interface Tenure {
  epoch: number
  /** Local monotonic time until which the lease is certainly valid in the database, less the margin. */
  validUntil: number
  phase: 'acquiring' | 'held' | 'releasing'
  /** The callbacks of this tenure, in order. */
  settled: Promise<void>
}

const ERROR_LOG_INTERVAL_MS = 30_000

/** Tables and sequence, created under the schema lock every linewatch component takes. */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS cluster_member (
     gateway TEXT PRIMARY KEY,
     started_at TIMESTAMPTZ NOT NULL,
     expires_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS cluster_lease (
     partition INTEGER PRIMARY KEY,
     holder TEXT NOT NULL,
     epoch BIGINT NOT NULL,
     expires_at TIMESTAMPTZ NOT NULL)`,
  'CREATE SEQUENCE IF NOT EXISTS cluster_lease_epoch',
]

const LEASE = `now() + $2::float8 * interval '1 millisecond'`

/** A member that was gone (row expired) and comes back joins again: its settling starts anew. */
const HEARTBEAT = `INSERT INTO cluster_member (gateway, started_at, expires_at) VALUES ($1, now(), ${LEASE})
  ON CONFLICT (gateway) DO UPDATE SET expires_at = EXCLUDED.expires_at,
    started_at = CASE WHEN cluster_member.expires_at < now() THEN now() ELSE cluster_member.started_at END`

const RENEW = `UPDATE cluster_lease SET expires_at = ${LEASE}
  WHERE holder = $1 AND partition = ANY($3::int[]) RETURNING partition, epoch`

/** Taken only if missing, expired, or already mine. */
const ACQUIRE = `INSERT INTO cluster_lease (partition, holder, epoch, expires_at)
  VALUES ($3, $1, nextval('cluster_lease_epoch'), ${LEASE})
  ON CONFLICT (partition) DO UPDATE SET holder = EXCLUDED.holder,
    epoch = GREATEST(cluster_lease.epoch + 1, EXCLUDED.epoch), expires_at = EXCLUDED.expires_at
  WHERE cluster_lease.expires_at < now() OR cluster_lease.holder = $1
  RETURNING epoch`

const READ = `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now,
  (SELECT coalesce(json_agg(json_build_object('name', gateway,
     'joinedAt', extract(epoch FROM started_at) * 1000)), '[]')
   FROM cluster_member WHERE expires_at > now()) AS members,
  (SELECT coalesce(json_agg(json_build_object('partition', partition, 'holder', holder,
     'expiresAt', extract(epoch FROM expires_at) * 1000)), '[]')
   FROM cluster_lease) AS leases`

/** A gateway's leases; `start()` to begin. */
export interface Leases {
  /** Creates the tables if needed, then runs the first round. Throws if PostgreSQL cannot be reached. */
  start(): Promise<void>
  /** The partitions this gateway judges: lease held and onAcquire done (those being handed over included). */
  held(): ReadonlySet<number>
  status(): LeasesStatus
  /** Hands every partition over (onRelease, then the lease deleted), leaves the cluster, closes. */
  stop(): Promise<void>
  /** For tests: stops as kill -9 would, releasing nothing and calling nothing. */
  crash(): Promise<void>
}

export function createLeases(options: LeasesOptions & LeaseCallbacks): Leases {
  return new ClusterLeases(options, options)
}

class ClusterLeases implements Leases {
  private readonly options: LeasesOptions
  private readonly callbacks: LeaseCallbacks
  private readonly pool: pg.Pool
  private readonly settleMs: number
  private readonly marginMs: number
  private readonly tenures = new Map<number, Tenure>()
  private members: string[] = []
  private lastRenewal: number | null = null
  private errors = 0
  private lastError: string | null = null
  private lastErrorLoggedAt = Number.NEGATIVE_INFINITY
  private failing = false
  private lost = 0
  private round: Promise<void> | null = null
  private interval: NodeJS.Timeout | null = null
  private fence: NodeJS.Timeout | null = null
  private stopping = false
  private closed = false

  constructor(options: LeasesOptions, callbacks: LeaseCallbacks) {
    this.options = options
    this.callbacks = callbacks
    const { leaseMs } = options
    this.settleMs = options.settleMs ?? leaseMs
    // Covers a late timer and the time to stop judging; two missed renewals trip it.
    this.marginMs = Math.max(100, Math.floor(leaseMs / 5))
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: 3,
      // A statement that hangs (network cut) fails in time for the next round to try again.
      connectionTimeoutMillis: Math.ceil(leaseMs / 3),
      query_timeout: Math.ceil(leaseMs / 3),
      keepAlive: true,
      application_name: `linewatch leases ${options.gateway}`,
    })
    // An idle connection that breaks is reported here; without a listener it would crash the process.
    this.pool.on('error', (err) => this.noteError('idle connection', err))
    // A connection the server ends while the pool closes it has no pool listener any more.
    this.pool.on('connect', (client) => client.on('error', () => {}))
  }

  async start(): Promise<void> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK])
      for (const statement of SCHEMA) await client.query(statement)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
    await this.runRound()
    this.interval = setInterval(() => void this.runRound(), Math.floor(this.options.leaseMs / 3))
  }

  held(): ReadonlySet<number> {
    const held = new Set<number>()
    for (const [partition, tenure] of this.tenures)
      if (tenure.phase !== 'acquiring') held.add(partition)
    return held
  }

  status(): LeasesStatus {
    return {
      gateway: this.options.gateway,
      held: [...this.held()].sort((a, b) => a - b),
      members: [...this.members],
      lastRenewalMsAgo:
        this.lastRenewal === null ? null : Math.round(performance.now() - this.lastRenewal),
      errors: this.errors,
      lastError: this.lastError,
      lost: this.lost,
    }
  }

  async stop(): Promise<void> {
    if (this.closed || this.stopping) return
    this.stopping = true
    await this.round
    // Rounds go on renewing (nothing else) while the owner flushes.
    await Promise.all(
      [...this.tenures].map(([partition, tenure]) => this.release(partition, tenure)),
    )
    this.clearTimers()
    await this.round
    this.closed = true
    await this.pool
      .query('DELETE FROM cluster_member WHERE gateway = $1', [this.options.gateway])
      .catch((err) => this.noteError('leaving the cluster', err))
    await this.pool.end()
  }

  async crash(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.clearTimers()
    await this.pool.end()
  }

  private clearTimers() {
    if (this.interval) clearInterval(this.interval)
    if (this.fence) clearTimeout(this.fence)
    this.interval = null
    this.fence = null
  }

  /** One round at a time; a round never throws (the timer has no one to throw to). */
  private runRound(): Promise<void> {
    if (this.round || this.closed) return this.round ?? Promise.resolve()
    this.round = this.roundOnce()
      .then(() => {
        if (this.failing) this.options.log.info('cluster leases: PostgreSQL answers again')
        this.failing = false
      })
      .catch((err) => this.noteError('round', err))
      .finally(() => {
        this.round = null
      })
    return this.round
  }

  private async roundOnce(): Promise<void> {
    this.fenceExpired()
    const { gateway, leaseMs } = this.options
    const sentAt = performance.now()
    await this.pool.query(HEARTBEAT, [gateway, leaseMs])
    const renewing = [...this.tenures]
    if (renewing.length > 0) {
      const renewed = await this.pool.query<{ partition: number; epoch: string }>(RENEW, [
        gateway,
        leaseMs,
        renewing.map(([partition]) => partition),
      ])
      const epochs = new Map(renewed.rows.map((r) => [r.partition, Number(r.epoch)]))
      for (const [partition, tenure] of renewing) {
        if (this.tenures.get(partition) !== tenure) continue // released or lost meanwhile
        if (epochs.get(partition) === tenure.epoch)
          tenure.validUntil = sentAt + leaseMs - this.marginMs
        else this.lose(partition, tenure, 'no longer ours in the database')
      }
      this.armFence()
    }
    this.lastRenewal = sentAt
    if (this.stopping || this.closed) return

    const read = await this.pool.query<{ now: number; members: LeaseMember[]; leases: LeaseRow[] }>(
      READ,
    )
    const { now, members, leases } = read.rows[0] as {
      now: number
      members: LeaseMember[]
      leases: LeaseRow[]
    }
    this.members = members.map((m) => m.name).sort()
    const plan = planLeases({
      me: gateway,
      partitions: this.options.partitions,
      members,
      leases,
      now,
      settleMs: this.settleMs,
    })
    const releasing = new Set(plan.release)
    // Rows the database says are mine that this process does not hold (a restart under the
    // same name): taken again with a new epoch, since the owner never restored them.
    const orphans = plan.renew.filter((p) => !this.tenures.has(p) && !releasing.has(p))
    for (const partition of [...plan.acquire, ...orphans]) {
      if (this.closed || this.stopping) return
      if (!this.tenures.has(partition)) await this.acquire(partition)
    }
    for (const partition of plan.release) {
      const tenure = this.tenures.get(partition)
      if (!tenure) {
        await this.pool.query('DELETE FROM cluster_lease WHERE partition = $1 AND holder = $2', [
          partition,
          gateway,
        ])
      } else if (tenure.phase !== 'releasing') {
        void this.release(partition, tenure)
      }
    }
  }

  private async acquire(partition: number): Promise<void> {
    const { gateway, leaseMs, log } = this.options
    const sentAt = performance.now()
    const taken = await this.pool.query<{ epoch: string }>(ACQUIRE, [gateway, leaseMs, partition])
    const row = taken.rows[0]
    if (!row || this.closed) return // another holds it, unexpired
    const epoch = Number(row.epoch)
    const tenure: Tenure = {
      epoch,
      validUntil: sentAt + leaseMs - this.marginMs,
      phase: 'acquiring',
      settled: Promise.resolve(),
    }
    this.tenures.set(partition, tenure)
    this.armFence()
    log.info({ partition, epoch }, 'cluster leases: partition acquired')
    tenure.settled = this.callbacks.onAcquire(partition, epoch).then(
      () => {
        if (this.tenures.get(partition) === tenure) tenure.phase = 'held'
      },
      async (err: unknown) => {
        this.noteError(`taking partition ${partition}`, err)
        if (this.tenures.get(partition) !== tenure) return
        // The owner could not start it: let go so that the next round tries again.
        this.lose(partition, tenure, 'onAcquire failed')
        await this.pool
          .query('DELETE FROM cluster_lease WHERE partition = $1 AND holder = $2 AND epoch = $3', [
            partition,
            gateway,
            epoch,
          ])
          .catch((e) => this.noteError(`releasing partition ${partition}`, e))
      },
    )
  }

  /** Hands a partition over: after its onAcquire, onRelease; then the row deleted. Never throws. */
  private release(partition: number, tenure: Tenure): Promise<void> {
    const { gateway, log } = this.options
    tenure.phase = 'releasing'
    tenure.settled = tenure.settled.then(async () => {
      if (this.tenures.get(partition) !== tenure) return // lost meanwhile: onLose was called
      try {
        await this.callbacks.onRelease(partition, tenure.epoch)
      } catch (err) {
        // Handed over anyway: the next holder recovers from the journal, as after a crash.
        this.noteError(`handing partition ${partition} over`, err)
      }
      if (this.tenures.get(partition) !== tenure) return
      this.tenures.delete(partition)
      log.info({ partition, epoch: tenure.epoch }, 'cluster leases: partition handed over')
      await this.pool
        .query('DELETE FROM cluster_lease WHERE partition = $1 AND holder = $2 AND epoch = $3', [
          partition,
          gateway,
          tenure.epoch,
        ])
        .catch((err) => this.noteError(`releasing partition ${partition}`, err)) // it expires
    })
    return tenure.settled
  }

  private lose(partition: number, tenure: Tenure, why: string) {
    if (this.closed) return // crashed: a dead process calls nothing
    this.tenures.delete(partition)
    this.lost++
    this.options.log.warn({ partition, epoch: tenure.epoch, why }, 'cluster leases: partition lost')
    try {
      this.callbacks.onLose(partition, tenure.epoch)
    } catch (err) {
      this.noteError(`onLose of partition ${partition}`, err)
    }
  }

  /** Declares lost every lease not renewed in time, by the local clock alone. */
  private fenceExpired() {
    if (this.closed) return
    const now = performance.now()
    for (const [partition, tenure] of [...this.tenures])
      if (tenure.validUntil <= now) this.lose(partition, tenure, 'not renewed in time')
    this.armFence()
  }

  private armFence() {
    if (this.fence) clearTimeout(this.fence)
    this.fence = null
    if (this.closed || this.tenures.size === 0) return
    let earliest = Number.POSITIVE_INFINITY
    for (const tenure of this.tenures.values()) earliest = Math.min(earliest, tenure.validUntil)
    this.fence = setTimeout(
      () => this.fenceExpired(),
      Math.max(0, Math.ceil(earliest - performance.now())),
    )
  }

  /** Counted always; logged at the first of an outage, then at most every 30 s. */
  private noteError(what: string, err: unknown) {
    this.errors++
    this.lastError = `${what}: ${err instanceof Error ? err.message : String(err)}`
    const now = performance.now()
    if (!this.failing || now - this.lastErrorLoggedAt >= ERROR_LOG_INTERVAL_MS) {
      this.options.log.error(
        { err: this.lastError, errors: this.errors },
        'cluster leases: PostgreSQL failed; retrying every round',
      )
      this.lastErrorLoggedAt = now
    }
    this.failing = true
  }
}
