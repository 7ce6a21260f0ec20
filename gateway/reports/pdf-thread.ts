import { parentPort, workerData } from 'node:worker_threads'
import type { Report } from '../../rules/reports/shapes.ts'
import { reportPdf } from './render.ts'

/** A report's PDF made on its own thread (render.ts, reportPdfOffThread): its bytes, handed over. */
const pdf = await reportPdf(workerData as Report)
// A copy in a buffer of its own: a small Buffer may share Node's pool, which must not be moved.
const bytes = new Uint8Array(pdf)
parentPort?.postMessage(bytes, [bytes.buffer])
