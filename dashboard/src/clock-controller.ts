import type { ReactiveController, ReactiveControllerHost } from 'lit'

/** Re-renders its host every `intervalMs` while it is connected (reading ages on tiles). */
export class ClockController implements ReactiveController {
  private readonly host: ReactiveControllerHost
  private readonly intervalMs: number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(host: ReactiveControllerHost, intervalMs = 1000) {
    this.host = host
    this.intervalMs = intervalMs
    host.addController(this)
  }

  hostConnected(): void {
    this.timer = setInterval(() => this.host.requestUpdate(), this.intervalMs)
  }

  hostDisconnected(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
