import type { Server as HttpServer } from 'node:http'
import { createAdapter } from '@socket.io/redis-adapter'
import { Server, type Socket } from 'socket.io'
import type { ChartPoint, Deviation, Evaluation } from '../../rules/index.ts'
import type { PeerBus, PeerEnvelope } from '../cluster/peers.ts'
import type {
  AlarmCounts,
  ChartPointView,
  ClientToServer,
  DeviationView,
  NcEvent,
  PlantStateView,
  Role,
  ServerToClient,
  TileUpdate,
} from '../contract.ts'
import type { AlarmChange, EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import { type CharacteristicRuntime, controlView, liveState } from '../pipeline/runtime.ts'
import { ruleMask, rulesOf } from '../store/columns.ts'
import { connectLiveRedis, type LiveRedis } from './redis.ts'

/**
 * The live hub: pushes what dashboards show over socket.io, coalesced. Readings can arrive
 * far faster than a browser draws (and each delivered event costs the gateway ~5 µs), so
 * nothing is sent per reading: every `flushIntervalMs` each dashboard gets at most one
 * `tiles`, one `deviations`, one `nc`, one `alarms` message (the alarms that changed, at most
 * 500, and the counts per priority; beyond that `resync` asks it to read the list again), and
 * one `points` message per characteristic it watches (at most `maxPointsPerFlush` points each;
 * the rest is counted as dropped).
 *
 * Rooms: `plant` (every dashboard: tiles, deviations, NCs, limits) and `c:<id>` (the chart
 * points of one characteristic, for the dashboards that watch it).
 *
 * A dashboard that stops reading (a frozen tab, a stalled network) would make the gateway queue
 * what it is sent without end: before each flush, a socket with more than `maxBufferedBytes`
 * queued (engine.io's write buffer plus, on WebSocket, what the socket has not handed to the
 * kernel) is disconnected at once, logged and counted (`dropped()`); the others are not held up.
 *
 * Several gateways (`live.redis`): socket.io's Redis adapter carries every broadcast to the
 * dashboards of every gateway, so the `plant` and `c:<id>` rooms span the gateways. Each gateway
 * still emits only what it judges itself (its own characteristics' tiles, deviations, NCs,
 * limits, points, alarm changes); `hello` and `plant-states` stay per gateway. In a cluster
 * (`alarms.shared`) the `alarms` message goes to every gateway's dashboards too: its counts are
 * the plant's (the alarm service counts the others' alarms from the shared records), and so is
 * the list a `resync` reads. Otherwise it stays per gateway. Points are buffered only for watched characteristics:
 * the gateways tell each other which ones their dashboards watch (`serverSideEmit`, on every
 * change and every 5 s; an announcement not renewed within 15 s lapses). The adapter publishes
 * without waiting: while Redis is away, `emit` still delivers to this gateway's own dashboards
 * and nothing queues up (see ./redis.ts).
 *
 * The same adapter carries the bus between the gateways (`peers`, gateway/cluster/peers.ts):
 * `linewatch:peer` announcements and `linewatch:ask` requests, whose acknowledgements are the
 * answers.
 */
export interface LiveHub {
  start(): void
  close(): Promise<void>
  /** Connected dashboards. */
  clients(): number
  /** Dashboards disconnected because too much was queued for them unread. */
  dropped(): number
  /** With live.redis: whether both Redis connections are up (events shared); else null. */
  redis(): boolean | null
}

export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/** The parts of engine.io's connection (and the ws socket under it) that hold unsent data. */
interface EngineConnection {
  writeBuffer?: { data?: unknown }[]
  transport?: { name?: string; socket?: { bufferedAmount?: number; terminate?: () => void } }
  close(discard?: boolean): void
}

function byteSize(data: unknown): number {
  if (typeof data === 'string') return data.length
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  return 0
}

/** The underlying ws socket, when the connection is on WebSocket. */
function webSocketOf(conn: EngineConnection) {
  return conn.transport?.name === 'websocket' ? conn.transport.socket : undefined
}

/** Bytes queued for a connection and not yet handed to the kernel (string data counted in UTF-16 units). */
export function queuedBytes(conn: EngineConnection): number {
  let bytes = webSocketOf(conn)?.bufferedAmount ?? 0
  for (const packet of conn.writeBuffer ?? []) bytes += byteSize(packet.data)
  return bytes
}

const MAX_DEVIATIONS_PER_FLUSH = 200
const MAX_ALARMS_PER_FLUSH = 500
const ANNOUNCE_INTERVAL_MS = 5_000
const ANNOUNCEMENT_TTL_MS = 15_000
/** Characteristic ids one gateway may announce as watched. */
const MAX_ANNOUNCED_IDS = 100_000
/** How long the adapter waits for the other gateways' answers to an ask. */
const PEER_ASK_TIMEOUT_MS = 3_000

/** What one gateway's dashboards watch, told to the other gateways. */
interface WatchingAnnouncement {
  server: string
  ids: string[]
}

interface ServerSideEvents {
  'linewatch:watching': (announcement: WatchingAnnouncement) => void
  'linewatch:peer': (envelope: PeerEnvelope) => void
  'linewatch:ask': (envelope: PeerEnvelope, answer: (response: unknown) => void) => void
}

export function createLiveHub(ctx: {
  server: HttpServer
  bus: EventBus
  log: Logger
  bootId: string
  title: string
  flushIntervalMs: number
  maxPointsPerFlush: number
  /** Queued bytes above which a socket is disconnected (default 4 MiB). */
  maxBufferedBytes?: number
  runtime(id: string): CharacteristicRuntime | undefined
  openNcs(characteristic: string): number
  /** The alarm counts for the banner, and the plant states. */
  alarms?: {
    counts(): AlarmCounts
    plantStates(): PlantStateView[]
    /** The counts are the plant's (a cluster): the `alarms` message goes to every gateway's dashboards. */
    shared?: boolean
  }
  /** Resolves a handshake token to a role, or null when it may not connect. */
  authenticate(token: string | undefined): Role | null
  /** Share the live events with the other gateways over this Redis (`live.redis`). */
  redis?: { url: string; keyPrefix: string }
  /** The bus between the gateways, carried over `redis` (gateway/cluster/peers.ts). */
  peers?: PeerBus
}): LiveHub {
  const { bus, log } = ctx
  const io = new Server<ClientToServer, ServerToClient, ServerSideEvents>(ctx.server, {
    serveClient: false,
    path: '/socket.io',
  })
  let redis: LiveRedis | null = null
  /** The bus between the gateways rides on Redis once the hub has started (`peers.attach`). */
  let peersAttached = false
  if (ctx.redis) {
    redis = connectLiveRedis({
      url: ctx.redis.url,
      log,
      // Back after an outage: what was announced meanwhile, here or there, reached no one.
      onReady: () => {
        if (peersAttached) ctx.peers?.connected()
      },
    })
    io.adapter(
      createAdapter(redis.pub, redis.sub, {
        key: ctx.redis.keyPrefix,
        requestsTimeout: PEER_ASK_TIMEOUT_MS,
      }),
    )
  }
  /** The characteristics the dashboards of the other gateways watch, by gateway. */
  const remoteWatching = new Map<string, { ids: Set<string>; until: number }>()
  let announce = false
  let lastAnnounced = 0
  const owner = {}
  /** Number of sockets watching each characteristic: points are only buffered for watched ones. */
  const watchers = new Map<string, number>()
  const tiles = new Set<string>()
  const points = new Map<string, { points: ChartPointView[]; dropped: number }>()
  let deviations: DeviationView[] = []
  let droppedDeviations = 0
  /**
   * NC events of this flush, the latest per NC (an NC opened in the flush stays `opened`, with
   * its latest summary): a dashboard keeps only the latest of each anyway.
   */
  const ncEvents = new Map<number, NcEvent>()
  /** The alarms changed since the last flush: their views are made at the flush, once each. */
  const alarms = new Map<string, AlarmChange>()
  let alarmsResync = false
  let plantStates = false
  let timer: NodeJS.Timeout | null = null
  const maxBufferedBytes = ctx.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  let dropped = 0

  /** Disconnects the sockets that have more queued than the limit. */
  function dropStalled(): void {
    for (const socket of io.of('/').sockets.values()) {
      const conn = socket.conn as unknown as EngineConnection
      const queued = queuedBytes(conn)
      if (queued <= maxBufferedBytes) continue
      dropped++
      log.warn(
        { socket: socket.id, address: socket.handshake.address, queued, maxBufferedBytes },
        'live client is not reading: disconnected',
      )
      const ws = webSocketOf(conn)
      // Discard what is queued (a graceful close would wait for it to drain), and cut the TCP
      // connection rather than wait for a closing handshake the client is not reading.
      conn.close(true)
      ws?.terminate?.()
    }
  }

  function watch(socket: Socket<ClientToServer, ServerToClient>, ids: string[]): void {
    const previous = (socket.data as { watching?: string[] }).watching ?? []
    for (const id of previous) {
      void socket.leave(`c:${id}`)
      const n = (watchers.get(id) ?? 1) - 1
      if (n <= 0) watchers.delete(id)
      else watchers.set(id, n)
    }
    for (const id of ids) {
      void socket.join(`c:${id}`)
      watchers.set(id, (watchers.get(id) ?? 0) + 1)
    }
    ;(socket.data as { watching?: string[] }).watching = ids
    announce = true
  }

  /** Watched by a dashboard of this gateway, or of another (over Redis). */
  function isWatched(id: string): boolean {
    if (watchers.has(id)) return true
    if (remoteWatching.size === 0) return false
    const now = Date.now()
    for (const [server, entry] of remoteWatching) {
      if (entry.until < now) remoteWatching.delete(server)
      else if (entry.ids.has(id)) return true
    }
    return false
  }

  function onAnnouncement(announcement: unknown): void {
    const a = announcement as Partial<WatchingAnnouncement> | null
    if (
      !a ||
      typeof a.server !== 'string' ||
      a.server === ctx.bootId ||
      !Array.isArray(a.ids) ||
      a.ids.length > MAX_ANNOUNCED_IDS ||
      !a.ids.every((id) => typeof id === 'string')
    )
      return
    // A gateway not heard of before (just started) learns at once what this one's watch.
    if (!remoteWatching.has(a.server)) announce = true
    if (a.ids.length === 0) remoteWatching.delete(a.server)
    else
      remoteWatching.set(a.server, { ids: new Set(a.ids), until: Date.now() + ANNOUNCEMENT_TTL_MS })
  }

  function announceWatching(force: boolean): void {
    if (!redis) return
    const now = Date.now()
    if (!force && !announce && now - lastAnnounced < ANNOUNCE_INTERVAL_MS) return
    announce = false
    lastAnnounced = now
    io.serverSideEmit('linewatch:watching', { server: ctx.bootId, ids: [...watchers.keys()] })
  }

  function onEvaluated(rt: CharacteristicRuntime, evaluation: Evaluation): void {
    const id = rt.config.id
    tiles.add(id)
    if (isWatched(id)) {
      let pending = points.get(id)
      if (!pending) {
        pending = { points: [], dropped: 0 }
        points.set(id, pending)
      }
      const evaluated = evaluation.points
      for (let i = 0; i < evaluated.length; i++) {
        const p = evaluated[i] as ChartPoint
        if (pending.points.length < ctx.maxPointsPerFlush) {
          pending.points.push({
            index: p.index,
            ts: p.ts,
            phase: p.phase,
            n: p.n,
            panes: p.panes,
            // Each rule once, in a fixed order: as the store gives the point back.
            rules: rulesOf(ruleMask(p.violations)),
          })
        } else pending.dropped++
      }
    }
    const found = evaluation.deviations
    for (let i = 0; i < found.length; i++) {
      const d = found[i] as Deviation
      if (deviations.length >= MAX_DEVIATIONS_PER_FLUSH) {
        droppedDeviations++
        continue
      }
      deviations.push({
        characteristic: id,
        cause: d.cause,
        kind: d.kind,
        onset: d.onset,
        ts: d.ts,
        value: d.value,
        limit: d.kind === 'limit' ? d.limit : null,
        pane: d.kind === 'rule' ? d.pane : null,
      })
    }
    const established = evaluation.established
    if (established) {
      const control = controlView(established.limits, rt.lastPoint)
      if (control) io.to('plant').emit('limits', { characteristic: id, control })
    }
  }

  function flush(): void {
    dropStalled()
    announceWatching(false)
    if (tiles.size > 0) {
      const update: TileUpdate[] = []
      for (const id of tiles) {
        const rt = ctx.runtime(id)
        if (rt) update.push({ id, state: liveState(rt, ctx.openNcs(id)) })
      }
      tiles.clear()
      io.to('plant').emit('tiles', update)
    }
    if (deviations.length > 0) {
      io.to('plant').emit('deviations', deviations)
      if (droppedDeviations > 0)
        log.debug({ dropped: droppedDeviations }, 'deviations coalesced away this flush')
      deviations = []
      droppedDeviations = 0
    }
    if (ncEvents.size > 0) {
      io.to('plant').emit('nc', [...ncEvents.values()])
      ncEvents.clear()
    }
    if ((alarms.size > 0 || alarmsResync) && ctx.alarms) {
      // This gateway's alarm changes; the counts are the plant's only when shared (see above).
      const to = ctx.alarms.shared ? io.to('plant') : io.local.to('plant')
      to.emit('alarms', {
        changed: Array.from(alarms.values(), (change) => change.view()),
        counts: ctx.alarms.counts(),
        resync: alarmsResync,
      })
      alarms.clear()
      alarmsResync = false
    }
    if (plantStates && ctx.alarms) {
      io.local.to('plant').emit('plant-states', ctx.alarms.plantStates())
      plantStates = false
    }
    for (const [id, pending] of points) {
      io.to(`c:${id}`).emit('points', {
        characteristic: id,
        points: pending.points,
        dropped: pending.dropped,
      })
    }
    points.clear()
  }

  return {
    start() {
      io.use((socket, next) => {
        const token = (socket.handshake.auth as { token?: unknown }).token
        const given = typeof token === 'string' && token !== '' ? token : undefined
        const role = ctx.authenticate(given)
        if (!role) {
          // As the API's 401 says it (api/replies.ts): no token, or one not (or no longer) valid.
          next(
            new Error(
              given === undefined
                ? 'unauthorized: an access token is required'
                : 'unauthorized: the access token is not valid (or the session ended): sign in again',
            ),
          )
          return
        }
        ;(socket.data as { role?: Role }).role = role
        next()
      })
      io.on('connection', (socket) => {
        void socket.join('plant')
        socket.emit('hello', { bootId: ctx.bootId, title: ctx.title, serverTime: Date.now() })
        // The banner at once, not at the next change.
        if (ctx.alarms) {
          socket.emit('alarms', { changed: [], counts: ctx.alarms.counts(), resync: false })
          socket.emit('plant-states', ctx.alarms.plantStates())
        }
        socket.on('watch', (ids, ack) => {
          const reply = typeof ack === 'function' ? ack : () => {}
          if (
            !Array.isArray(ids) ||
            ids.length > 100 ||
            !ids.every((id) => typeof id === 'string')
          ) {
            reply({ ok: false, error: 'watch takes an array of at most 100 characteristic ids' })
            return
          }
          // Over Redis another gateway may judge it: an id unknown here is not an error.
          const unknown = redis ? [] : ids.filter((id) => !ctx.runtime(id))
          if (unknown.length > 0) {
            reply({ ok: false, error: `unknown characteristic: ${unknown.join(', ')}` })
            return
          }
          watch(socket, ids)
          reply({ ok: true })
        })
        socket.on('disconnect', () => watch(socket, []))
      })
      io.of('/').on('linewatch:watching', onAnnouncement)
      const peers = ctx.peers
      if (redis && peers) {
        peers.attach({
          up: () => redis?.ready() === true,
          emit: (envelope) => io.serverSideEmit('linewatch:peer', envelope),
          emitWithAck: (envelope, done) =>
            io.serverSideEmit('linewatch:ask', envelope, (_err: unknown, responses: unknown[]) =>
              done(responses),
            ),
        })
        io.of('/').on('linewatch:peer', (envelope) => void peers.receive(envelope))
        io.of('/').on('linewatch:ask', (envelope, answer) => {
          if (typeof answer === 'function') void peers.receive(envelope).then(answer)
        })
        peersAttached = true
        if (redis.ready()) peers.connected()
      }
      bus.on('evaluated', owner, ({ runtime, evaluation }) => onEvaluated(runtime, evaluation))
      bus.on('nc', owner, (event) => {
        const before = ncEvents.get(event.nc.id)
        ncEvents.set(
          event.nc.id,
          before?.type === 'opened' ? { type: 'opened', nc: event.nc } : event,
        )
        tiles.add(event.nc.characteristic)
      })
      bus.on('alarm', owner, (change) => {
        // A flood sends the counts and asks the dashboards to read the list again, rather
        // than every change.
        if (alarms.size >= MAX_ALARMS_PER_FLUSH && !alarms.has(change.id)) alarmsResync = true
        else alarms.set(change.id, change)
      })
      bus.on('plant-state', owner, () => {
        plantStates = true
      })
      timer = setInterval(flush, ctx.flushIntervalMs)
    },

    async close() {
      if (timer) clearInterval(timer)
      timer = null
      bus.removeOwner(owner)
      // This gateway's dashboards only (over Redis, `io.disconnectSockets` would reach all).
      io.local.disconnectSockets(true)
      if (redis) {
        // The others stop sending points for what this gateway's dashboards watched.
        watchers.clear()
        announceWatching(true)
        ctx.peers?.attach(null)
        peersAttached = false
        redis.close()
        redis = null
      }
      await new Promise<void>((resolve) => {
        // io.close() also closes the HTTP server; the gateway closes it itself.
        io.engine.close()
        resolve()
      })
    },

    clients: () => io.engine.clientsCount,
    dropped: () => dropped,
    redis: () => (ctx.redis ? (redis?.ready() ?? false) : null),
  }
}
