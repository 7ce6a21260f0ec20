import { Worker, type WorkerOptions } from 'node:worker_threads'
import { besideModule } from './paths.ts'

/**
 * A worker thread running the module `name` next to the module at `from` (besideModule).
 *
 * The thread starts from a line of code that imports the module, not from the module's file: a
 * thread takes the process's flags, and `--input-type` (a script run as
 * `node --input-type=module -e …`) is refused for a file ("can only be used with string
 * input"), so none of a gateway's threads started there. Giving the thread the flags without
 * it does not do: a thread refuses flags given explicitly that it takes when inherited
 * (`--max-old-space-size`, `--expose-gc`).
 */
export function startThread(name: string, from: string, options: WorkerOptions): Worker {
  const url = besideModule(name, from).href
  return new Worker(`import(${JSON.stringify(url)})`, { ...options, eval: true })
}
