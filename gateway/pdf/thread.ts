import { parentPort, workerData } from 'node:worker_threads'
import type { PdfJob } from './off-thread.ts'

/**
 * A PDF laid out on a thread of its own (off-thread.ts): the job's module imported here, its
 * renderer called with the job's data, the bytes handed over.
 */
const { module, renderer, data } = workerData as PdfJob
const render = (await import(module))[renderer] as (data: unknown) => Promise<Uint8Array>
const pdf = await render(data)
// A copy in a buffer of its own: a small Buffer may share Node's pool, which must not be moved.
const bytes = new Uint8Array(pdf)
parentPort?.postMessage(bytes, [bytes.buffer])
