import type { Cause, DeviationView, RecentDeviationView } from '../../../gateway/contract.ts'

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
  /** null when not known (a deviation the gateway read back from its store after a restart). */
  lastValue: number | null
  /** Begun by a continuation whose onset this screen did not see (it opened mid-deviation). */
  partial?: boolean
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
      key: keyOf(d.characteristic, d.cause, d.ts),
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
      ...(d.onset ? {} : { partial: true }),
    })
  }
  out.sort((a, b) => b.ts - a.ts)
  return out.slice(0, max)
}

const keyOf = (characteristic: string, cause: string, ts: number) =>
  `${characteristic}\u0000${cause}\u0000${ts}`

/**
 * Merges the gateway's recent deviations (GET /api/deviations, read at start and after each
 * resync) into the strip: each deviation once, by its onset. An entry this screen already holds
 * keeps the larger count and the later last reading; one this screen began from a continuation
 * (it opened mid-deviation) is folded into the deviation it belongs to.
 */
export function mergeDeviationHistory(
  list: readonly DeviationEntry[],
  history: readonly RecentDeviationView[],
  max = MAX_DEVIATIONS,
): DeviationEntry[] {
  let out = [...list]
  for (const h of history) {
    let entry: DeviationEntry = {
      key: keyOf(h.characteristic, h.cause, h.ts),
      characteristic: h.characteristic,
      cause: h.cause,
      kind: h.kind,
      ts: h.ts,
      value: h.value,
      limit: h.limit,
      pane: h.pane,
      count: h.count,
      lastTs: h.lastTs,
      lastValue: h.lastValue,
    }
    const same = (e: DeviationEntry) =>
      e.key === entry.key ||
      (e.partial === true &&
        e.characteristic === h.characteristic &&
        e.cause === h.cause &&
        e.ts >= h.ts &&
        (h.endedAt === null || e.ts <= h.endedAt))
    for (const e of out.filter(same)) entry = combine(entry, e)
    out = out.filter((e) => !same(e))
    out.push(entry)
  }
  out.sort((a, b) => b.ts - a.ts)
  return out.slice(0, max)
}

/** One deviation seen twice: the onset's entry with the larger count and the later last reading. */
function combine(onset: DeviationEntry, other: DeviationEntry): DeviationEntry {
  const later =
    other.lastTs > onset.lastTs || (other.lastTs === onset.lastTs && onset.lastValue === null)
  return {
    ...onset,
    count: Math.max(onset.count, other.count),
    lastTs: later ? other.lastTs : onset.lastTs,
    lastValue: later ? other.lastValue : onset.lastValue,
  }
}
