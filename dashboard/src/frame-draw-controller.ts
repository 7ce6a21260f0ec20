import type { ReactiveController, ReactiveControllerHost } from 'lit'

/**
 * Draws a chart element at most once per animation frame however often its inputs change, and
 * again when it is resized, only while it is connected. The host keeps its plot and `draw()`;
 * `resized` runs first on a resize (to resize or drop the plot on the next draw).
 */
export class FrameDrawController implements ReactiveController {
  private readonly host: ReactiveControllerHost & Element
  private readonly draw: () => void
  private readonly resized: (() => void) | undefined
  private frame = 0
  private resize: ResizeObserver | null = null

  constructor(host: ReactiveControllerHost & Element, draw: () => void, resized?: () => void) {
    this.host = host
    this.draw = draw
    this.resized = resized
    host.addController(this)
  }

  hostConnected(): void {
    this.resize = new ResizeObserver(() => {
      this.resized?.()
      this.schedule()
    })
    this.resize.observe(this.host)
  }

  hostDisconnected(): void {
    this.resize?.disconnect()
    cancelAnimationFrame(this.frame)
    this.frame = 0
  }

  /** Draws on the next animation frame; several calls within one frame draw once. */
  schedule(): void {
    if (this.frame) return
    this.frame = requestAnimationFrame(() => {
      this.frame = 0
      this.draw()
    })
  }
}
