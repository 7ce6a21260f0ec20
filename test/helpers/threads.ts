import { Worker } from 'node:worker_threads'

/**
 * The worker threads this process starts, for tests that end one as a crash of it would (its
 * owner must start another and send again what was not confirmed). Worker.prototype is wrapped
 * until `restore()`: `threads` lists each thread once it listens (in order of start),
 * `posted(type)` resolves with the thread a message of that type is next posted to, and
 * `count(type)` says how many of that type were posted.
 */
export function watchThreads(): {
  threads: Worker[]
  posted(type: string): Promise<Worker>
  count(type: string): number
  restore(): void
} {
  const threads: Worker[] = []
  const counts = new Map<string, number>()
  const waiting: { type: string; resolve: (thread: Worker) => void }[] = []
  const { on, postMessage } = Worker.prototype
  Worker.prototype.on = function (this: Worker, ...args: Parameters<Worker['on']>) {
    if (!threads.includes(this)) threads.push(this)
    return on.apply(this, args)
  }
  Worker.prototype.postMessage = function (
    this: Worker,
    ...args: Parameters<Worker['postMessage']>
  ) {
    postMessage.apply(this, args)
    const type = (args[0] as { type?: string } | null)?.type
    if (type !== undefined) counts.set(type, (counts.get(type) ?? 0) + 1)
    for (const w of waiting.splice(0)) {
      if (w.type === type) w.resolve(this)
      else waiting.push(w)
    }
  }
  return {
    threads,
    posted: (type) => new Promise<Worker>((resolve) => waiting.push({ type, resolve })),
    count: (type) => counts.get(type) ?? 0,
    restore() {
      Worker.prototype.on = on
      Worker.prototype.postMessage = postMessage
    },
  }
}
