import { type DeviationSpec, durationMs, type StreamSpec } from './scenario.ts'

/**
 * The value a simulated stream takes at a moment: mean + noise + the deviations in force.
 * Pure and deterministic: the time since the scenario started and a seeded generator go in.
 */

/** mulberry32: a small seeded PRNG, good enough for test signals. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal variate (Box–Muller). */
export function gaussian(random: () => number): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Offset the deviations add at `elapsedMs` (time into the cycle), and a forced value for a spike. */
export function deviationAt(
  deviations: readonly DeviationSpec[],
  elapsedMs: number,
  periodMs: number,
): { offset: number; forced: number | null } {
  let offset = 0
  let forced: number | null = null
  for (const d of deviations) {
    const at = durationMs(d.at)
    switch (d.kind) {
      case 'shift':
        if (elapsedMs >= at && elapsedMs < at + durationMs(d.for)) offset += d.by
        break
      case 'trend': {
        const length = durationMs(d.for)
        if (elapsedMs >= at && elapsedMs < at + length) offset += (d.by * (elapsedMs - at)) / length
        break
      }
      case 'spike':
        // The one tick that contains `at` carries the spike.
        if (elapsedMs >= at && elapsedMs < at + periodMs) forced = d.to
        break
    }
  }
  return { offset, forced }
}

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

/** The next value of a stream. `elapsedMs` is the time into the scenario's cycle. */
export function sampleStream(stream: StreamSpec, elapsedMs: number, random: () => number): number {
  const periodMs = durationMs(stream.every)
  const { offset, forced } = deviationAt(stream.deviations, elapsedMs, periodMs)
  let value = forced ?? stream.mean + offset + stream.sigma * gaussian(random)
  if (stream.min !== undefined) value = Math.max(stream.min, value)
  return round(value, stream.decimals)
}
