import type { Cause, DeviationView } from '../../../gateway/contract.ts'

/** The strip of latest deviations keeps this many entries. */
export const MAX_DEVIATIONS = 40

/** One excursion or rule violation in the strip: its onset and, while it lasts, its latest reading. */
export interface DeviationEntry {
  /** Stable key for rendering. */
  key: string
  characteristic: string
  cause: Cause
  kind: 'limit' | 'rule'
  ts: number
  value: number
  limit: number | null
  /** The pane a rule judged (null: a limit excursion, judged on the reading). */
  pane: string | null
  /** Readings in this deviation so far (1 at onset). */
  count: number
  lastTs: number
  lastValue: number
}

/**
 * Adds deviations to the strip, newest first. An onset starts an entry; a continuing reading of
 * the same characteristic and cause updates the latest entry instead of flooding the strip (a
 * continuation without an entry, seen after the page opened mid-excursion, starts one).
 */
export function pushDeviations(
  list: readonly DeviationEntry[],
  incoming: readonly DeviationView[],
  max = MAX_DEVIATIONS,
): DeviationEntry[] {
  const out = [...list]
  for (const d of incoming) {
    const held = d.onset
      ? -1
      : out.findIndex((e) => e.characteristic === d.characteristic && e.cause === d.cause)
    if (held >= 0) {
      const e = out[held] as DeviationEntry
      out[held] = {
        ...e,
        count: e.count + 1,
        lastTs: Math.max(e.lastTs, d.ts),
        lastValue: d.ts >= e.lastTs ? d.value : e.lastValue,
      }
      continue
    }
    out.unshift({
      key: `${d.characteristic}\u0000${d.cause}\u0000${d.ts}`,
      characteristic: d.characteristic,
      cause: d.cause,
      kind: d.kind,
      ts: d.ts,
      value: d.value,
      limit: d.limit,
      pane: d.pane,
      count: 1,
      lastTs: d.ts,
      lastValue: d.value,
    })
  }
  out.sort((a, b) => b.ts - a.ts)
  return out.slice(0, max)
}
