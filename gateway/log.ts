import { pino } from 'pino'

export type Logger = pino.Logger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** The root logger: JSON lines on stdout (or `destination`), one child per module. */
export function createLogger(level: LogLevel = 'info', destination?: pino.DestinationStream): Logger {
  return destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined })
}
