import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { ServerToClient } from '../../gateway/contract.ts'
import type { LiveController, ResyncReason } from './live-controller.ts'

export type LiveHandlers = { [E in keyof ServerToClient]?: ServerToClient[E] } & {
  /** Refetch from REST: the connection came back or the gateway restarted. */
  resync?: (reason: ResyncReason) => void
}

/**
 * An element's subscription to live events: listeners are added when the element is connected
 * and removed when it is disconnected, and the characteristics it watches (chart points) are
 * registered with the connection only while it is connected. `live` is read at each update, so a
 * late or replaced connection is picked up.
 */
export class LiveSubscription implements ReactiveController {
  private readonly getLive: () => LiveController | undefined
  private readonly handlers: LiveHandlers
  private readonly getWatch: () => readonly string[]
  private live: LiveController | undefined
  private off: (() => void)[] = []
  private watching = ''
  private connected = false

  constructor(
    host: ReactiveControllerHost,
    getLive: () => LiveController | undefined,
    handlers: LiveHandlers,
    watch: () => readonly string[] = () => [],
  ) {
    this.getLive = getLive
    this.handlers = handlers
    this.getWatch = watch
    host.addController(this)
  }

  hostConnected(): void {
    this.connected = true
    this.sync()
  }

  hostUpdate(): void {
    if (this.connected) this.sync()
  }

  hostDisconnected(): void {
    this.connected = false
    this.unsubscribe()
  }

  private sync(): void {
    const live = this.getLive()
    if (live !== this.live) {
      this.unsubscribe()
      this.live = live
      if (live) this.subscribe(live)
    }
    if (!this.live) return
    const ids = this.getWatch()
    const key = ids.join('\u0000')
    if (key !== this.watching) {
      this.watching = key
      this.live.watch(this, ids)
    }
  }

  private subscribe(live: LiveController): void {
    const { resync, ...events } = this.handlers
    for (const [event, listener] of Object.entries(events) as [keyof ServerToClient, never][]) {
      if (listener) this.off.push(live.on(event, listener))
    }
    if (resync) this.off.push(live.onResync(resync))
  }

  private unsubscribe(): void {
    for (const off of this.off) off()
    this.off = []
    if (this.live && this.watching !== '') this.live.watch(this, [])
    this.watching = ''
    this.live = undefined
  }
}
