import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { failureText, isAbort } from './api.ts'

export interface LoadOptions {
  /** Retry a failed load after this long; null never retries (the host reloads on its own events). */
  retryMs?: number | null
  /** While false, `load()` does nothing and leaves a request in flight alone: nothing to load yet. */
  ready?: () => boolean
}

/**
 * A page's REST load: each load aborts the one before it, a failure becomes `problem` (shown by
 * the host) and is retried after a while, and disconnecting aborts the request and the retry.
 * The host decides when to load (connect, resync, a changed property) and what the loader keeps.
 */
export class LoadController implements ReactiveController {
  private readonly host: ReactiveControllerHost
  private readonly loader: (signal: AbortSignal) => Promise<void>
  private readonly retryMs: number | null
  private readonly ready: () => boolean
  private abort: AbortController | null = null
  private retry: ReturnType<typeof setTimeout> | undefined
  private text: string | null = null

  constructor(
    host: ReactiveControllerHost,
    loader: (signal: AbortSignal) => Promise<void>,
    { retryMs = 5000, ready = () => true }: LoadOptions = {},
  ) {
    this.host = host
    this.loader = loader
    this.retryMs = retryMs
    this.ready = ready
    host.addController(this)
  }

  /** Why the last load failed, or null; side loads of the host may set it too. */
  get problem(): string | null {
    return this.text
  }

  set problem(text: string | null) {
    if (text === this.text) return
    this.text = text
    this.host.requestUpdate()
  }

  /** Whether `signal` is the latest load's, which no newer load has replaced (a loader's cleanup). */
  isLatest(signal: AbortSignal): boolean {
    return this.abort?.signal === signal
  }

  async load(): Promise<void> {
    if (!this.ready()) return
    this.abort?.abort()
    clearTimeout(this.retry)
    const abort = new AbortController()
    this.abort = abort
    try {
      await this.loader(abort.signal)
      this.problem = null
    } catch (e) {
      if (isAbort(e)) return
      this.problem = failureText(e)
      if (this.retryMs !== null) this.retry = setTimeout(() => void this.load(), this.retryMs)
    }
  }

  hostDisconnected(): void {
    this.abort?.abort()
    clearTimeout(this.retry)
  }
}
