import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * A worker thread running the module `name` next to the module at `from` (its import.meta.url):
 * `.ts` from source (Node strips the types), `.js` from dist/. The thread takes the process's
 * flags but `--input-type`, which only a string input takes: a script run as
 * `node --input-type=module -e …` that creates a gateway would otherwise have none of its
 * threads start ("--input-type can only be used with string input").
 */
export function startThread(name: string, from: string, options: WorkerOptions): Worker {
  const url = new URL(`./${name}${extname(fileURLToPath(from))}`, from)
  return new Worker(url, { ...options, execArgv: threadFlags(process.execArgv) })
}

/** `flags` without `--input-type` (as `--input-type=module` or `--input-type module`). */
export function threadFlags(flags: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i] as string
    if (flag === '--input-type') i++
    else if (!flag.startsWith('--input-type=')) kept.push(flag)
  }
  return kept
}
