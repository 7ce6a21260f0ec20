import { startThread } from '../threads.ts'

/**
 * PDFs laid out on a thread of their own, one at a time. Laying out is synchronous work: the
 * audit trail's 20,000 entries took about 7 s, which on the judging thread would hold every
 * reading, acknowledgement and live event that long.
 */

/** A renderer to run there: an export of a module (by URL) that takes `data` (plain data). */
export interface PdfJob {
  module: string
  renderer: string
  data: unknown
}

/** PDFs being made, one after the other: each thread holds its whole document and layout. */
let queue: Promise<unknown> = Promise.resolve()

/** `renderer(data)` of `module` (an import.meta.url) on a thread of its own: its bytes. */
export function pdfOffThread(job: PdfJob): Promise<Buffer> {
  const made = queue.then(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        let settled = false
        const worker = startThread('thread', import.meta.url, { workerData: job })
        worker.once('message', (bytes: Uint8Array) => {
          settled = true
          resolve(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
        })
        worker.once('error', (e) => {
          settled = true
          reject(e)
        })
        worker.once('exit', (code) => {
          if (!settled) reject(new Error(`the PDF thread ended (code ${code}) without a PDF`))
        })
      }),
  )
  queue = made.catch(() => {})
  return made
}
