import { durationMs, type Scenario, type StreamSpec } from './scenario.ts'
import { sampleStream, seededRandom } from './signal.ts'

/**
 * Drives the streams of a scenario in real time: each stream ticks at its own period and
 * `emit` receives its next value. The deviation schedule repeats every `cycle` when one is set.
 */
export interface StreamTicker {
  stop(): void
}

/** A stable 32-bit hash of a string (FNV-1a), so each stream gets its own noise from the seed. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export function startStreams(
  scenario: Scenario,
  streams: readonly StreamSpec[],
  emit: (stream: StreamSpec, value: number, ts: number) => void,
  now: () => number = Date.now,
): StreamTicker {
  const startedAt = now()
  const cycleMs = scenario.cycle ? durationMs(scenario.cycle) : Number.POSITIVE_INFINITY
  const timers = streams.map((stream) => {
    const random = seededRandom(scenario.seed ^ hash(stream.id))
    const tick = () => {
      const ts = now()
      emit(stream, sampleStream(stream, (ts - startedAt) % cycleMs, random), ts)
    }
    return setInterval(tick, durationMs(stream.every))
  })
  return {
    stop() {
      for (const t of timers) clearInterval(t)
    },
  }
}
