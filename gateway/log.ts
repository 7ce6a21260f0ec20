import { Writable } from 'node:stream'
import { pino } from 'pino'

export type Logger = pino.Logger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** The root logger: JSON lines (or `destination`), one child logger per module. */
export function createLogger(
  level: LogLevel = 'info',
  destination?: pino.DestinationStream,
): Logger {
  return destination
    ? pino({ level, base: undefined }, destination)
    : pino({ level, base: undefined })
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
}

/**
 * For a person at a terminal: `08:00:01 INFO  [module] message key=value …` instead of JSON.
 * Machines (journald, Docker, a log shipper) get the JSON lines.
 */
export function humanReadable(out: NodeJS.WritableStream = process.stdout): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue
        try {
          const { level, time, msg, module, ...rest } = JSON.parse(line) as Record<string, unknown>
          const clock = new Date(Number(time)).toISOString().slice(11, 19)
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
          out.write(
            `${clock} ${LEVELS[Number(level)] ?? level} ${module ? `[${module}] ` : ''}${msg ?? ''}${fields ? ` ${fields}` : ''}\n`,
          )
        } catch {
          out.write(`${line}\n`)
        }
      }
      done()
    },
  })
}
