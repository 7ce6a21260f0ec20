import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { io, type Socket } from 'socket.io-client'
import type {
  AlarmCounts,
  ClientToServer,
  PlantStateView,
  ServerToClient,
} from '../../gateway/contract.ts'
import { currentToken } from './token-store.ts'

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'refused'

type Events = keyof ServerToClient
type Listener<E extends Events> = ServerToClient[E]
/** Why the screen must be refreshed from REST: the link came back, or the gateway restarted. */
export type ResyncReason = 'reconnect' | 'restart'

/**
 * Owns the dashboard's one socket.io connection. Attached to the app element: the socket opens
 * when the host is connected (and `start()` was called once the session is known) and closes when
 * it is disconnected. Elements subscribe through a {@link LiveSubscription}; their listeners and
 * watched characteristics outlive the socket, so a new socket (new token, reconnect) serves them
 * without their knowing. The handshake sends the token in force at each (re)connection.
 *
 * After a reconnect, or a `hello` whose bootId differs from the last one seen, every resync
 * listener is told to refetch, and the watched characteristics are sent again.
 */
export class LiveController implements ReactiveController {
  state: ConnectionState = 'idle'
  /** bootId of the gateway last seen (from the session, then from each `hello`). */
  bootId: string | null = null
  title: string | null = null
  /** Gateway clock minus this browser's clock, from the latest `hello` (ms). */
  clockOffset = 0
  /** Error of the last `watch` request, if it was refused. */
  watchError: string | null = null
  /** The alarm counts of the latest `alarms` event (the gateway sends them on connect), or null. */
  alarmCounts: AlarmCounts | null = null
  /** The plant states of the latest `plant-states` event, or null. */
  plantStates: PlantStateView[] | null = null

  private readonly host: ReactiveControllerHost
  private socket: Socket<ServerToClient, ClientToServer> | null = null
  private wanted = false
  private hostIsConnected = false
  private everConnected = false
  private resyncedThisConnection = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private readonly listeners = new Map<Events, Set<(...args: never[]) => void>>()
  private readonly resyncListeners = new Set<(reason: ResyncReason) => void>()
  private readonly refusedListeners = new Set<() => void>()
  private readonly watches = new Map<object, readonly string[]>()
  private sentWatch = ''

  constructor(host: ReactiveControllerHost) {
    this.host = host
    host.addController(this)
  }

  hostConnected(): void {
    this.hostIsConnected = true
    if (this.wanted) this.open()
  }

  hostDisconnected(): void {
    this.hostIsConnected = false
    this.close()
  }

  /** Opens the connection (now, or when the host is connected). `bootId` is the session's. */
  start(bootId: string | null): void {
    if (bootId && this.bootId === null) this.bootId = bootId
    this.wanted = true
    if (this.hostIsConnected && !this.socket) this.open()
  }

  stop(): void {
    this.wanted = false
    this.close()
  }

  /** Gateway time now (for ages), corrected by the offset measured at `hello`. */
  now(): number {
    return Date.now() + this.clockOffset
  }

  on<E extends Events>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event)
    if (!set) {
      set = new Set()
      this.listeners.set(event, set)
    }
    const l = listener as unknown as (...args: never[]) => void
    set.add(l)
    return () => set.delete(l)
  }

  onResync(listener: (reason: ResyncReason) => void): () => void {
    this.resyncListeners.add(listener)
    return () => this.resyncListeners.delete(listener)
  }

  /** Told when the gateway refuses the connection (authentication): the session should be checked. */
  onRefused(listener: () => void): () => void {
    this.refusedListeners.add(listener)
    return () => this.refusedListeners.delete(listener)
  }

  /** Sets the characteristics whose chart points `owner` wants; the gateway gets the union. */
  watch(owner: object, ids: readonly string[]): void {
    if (ids.length === 0) this.watches.delete(owner)
    else this.watches.set(owner, [...ids])
    this.sendWatch(false)
  }

  private watchedIds(): string[] {
    const all = new Set<string>()
    for (const ids of this.watches.values()) for (const id of ids) all.add(id)
    return [...all].sort()
  }

  private sendWatch(force: boolean): void {
    const socket = this.socket
    if (!socket?.connected) return
    const ids = this.watchedIds()
    const key = ids.join('\u0000')
    if (!force && key === this.sentWatch) return
    this.sentWatch = key
    socket.emit('watch', ids, (result) => {
      this.watchError = result.ok ? null : result.error
      if (!result.ok) this.host.requestUpdate()
    })
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return
    this.state = state
    this.host.requestUpdate()
  }

  private open(): void {
    if (this.socket) return
    clearTimeout(this.retryTimer)
    const path = new URL('socket.io', document.baseURI).pathname
    const socket: Socket<ServerToClient, ClientToServer> = io({
      path,
      // A function, so that each (re)connection sends the token in force at that moment.
      auth: (cb) => cb({ token: currentToken() }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      timeout: 8000,
    })
    this.socket = socket
    this.setState(this.everConnected ? 'reconnecting' : 'connecting')

    socket.on('connect', () => {
      const reconnect = this.everConnected
      this.everConnected = true
      this.resyncedThisConnection = false
      this.setState('connected')
      this.sendWatch(true)
      if (reconnect) this.resync('reconnect')
    })
    socket.on('disconnect', (reason) => {
      this.sentWatch = ''
      if (reason === 'io client disconnect') return
      this.setState('reconnecting')
      // The server closed this socket on purpose: socket.io does not retry by itself, we do.
      if (reason === 'io server disconnect') this.retryLater(1500)
    })
    socket.on('connect_error', () => {
      if (socket.active) {
        this.setState('reconnecting')
        return
      }
      // Refused by the gateway's middleware (no or bad token): ask the app to check the session.
      this.setState('refused')
      for (const l of this.refusedListeners) l()
      this.retryLater(5000)
    })
    socket.on('hello', (hello) => {
      this.title = hello.title
      if (Number.isFinite(hello.serverTime)) this.clockOffset = hello.serverTime - Date.now()
      const restarted = this.bootId !== null && hello.bootId !== this.bootId
      this.bootId = hello.bootId
      if (restarted && !this.resyncedThisConnection) this.resync('restart')
      this.host.requestUpdate()
    })
    socket.on('tiles', (payload) => this.dispatch('tiles', payload))
    socket.on('points', (payload) => this.dispatch('points', payload))
    socket.on('deviations', (payload) => this.dispatch('deviations', payload))
    socket.on('nc', (payload) => this.dispatch('nc', payload))
    socket.on('limits', (payload) => this.dispatch('limits', payload))
    socket.on('alarms', (payload) => {
      this.alarmCounts = payload.counts
      this.dispatch('alarms', payload)
    })
    socket.on('plant-states', (payload) => {
      this.plantStates = payload
      this.dispatch('plant-states', payload)
    })
  }

  private retryLater(ms: number): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      if (this.socket && !this.socket.connected && this.wanted) this.socket.connect()
    }, ms)
  }

  private dispatch<E extends Events>(event: E, payload: Parameters<ServerToClient[E]>[0]): void {
    const set = this.listeners.get(event)
    if (!set) return
    for (const l of set) {
      try {
        ;(l as (p: typeof payload) => void)(payload)
      } catch (e) {
        console.error(`linewatch: a ${event} listener failed`, e)
      }
    }
  }

  private resync(reason: ResyncReason): void {
    this.resyncedThisConnection = true
    for (const l of this.resyncListeners) {
      try {
        l(reason)
      } catch (e) {
        console.error('linewatch: a resync listener failed', e)
      }
    }
  }

  private close(): void {
    clearTimeout(this.retryTimer)
    const socket = this.socket
    this.socket = null
    this.sentWatch = ''
    if (socket) {
      socket.removeAllListeners()
      socket.disconnect()
    }
    this.setState('idle')
  }
}
