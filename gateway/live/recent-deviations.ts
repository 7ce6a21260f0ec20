import type { Deviation, Evaluation, Excursion } from '../../rules/index.ts'
import type { RecentDeviationView } from '../contract.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import type { CharacteristicRuntime } from '../pipeline/runtime.ts'
import type { TimeSeriesStore } from '../store/types.ts'

/** The plant's latest deviations kept for `GET /api/deviations` (the wall display's strip). */
export const RECENT_DEVIATIONS = 500
/** After a restart the ring is filled again from the store's events of this long back. */
export const SEED_WINDOW_MS = 24 * 3600_000
/** ... for plants of at most this many characteristics (one store query each); larger start empty. */
export const SEED_MAX_CHARACTERISTICS = 5000
/** Store events read per characteristic when seeding (deviations, their ends, NC and limit events). */
const SEED_EVENTS_PER_CHARACTERISTIC = 200
const SEED_CONCURRENCY = 8

export interface RecentDeviations {
  /** Deviations whose onset is within [from, to], newest onset first, at most `limit`. */
  list(query: { from: number; to: number; limit: number }): RecentDeviationView[]
  /** Entries held (≤ capacity). */
  size(): number
  /**
   * Reads the deviations of the last SEED_WINDOW_MS back from the store's `deviation` and
   * `deviation-end` events, and the excursions under way from the restored charts: a gateway
   * that restarted shows what it showed before. Live deviations taken meanwhile are kept.
   */
  seed(): Promise<void>
  /** Resolves when the seed is done, or after `maxMs` (a store that does not answer). */
  seeded(maxMs: number): Promise<void>
  stop(): void
}

type Entry = RecentDeviationView

const keyOf = (characteristic: string, cause: string, ts: number) =>
  `${characteristic}\u0000${cause}\u0000${ts}`
const ongoingKey = (characteristic: string, cause: string) => `${characteristic}\u0000${cause}`

/**
 * A bounded ring of the plant's latest deviations, one entry per deviation from its onset (with
 * its count and latest reading, and its end), fed by the pipeline's `evaluated` events. It
 * holds RECENT_DEVIATIONS entries, the oldest onsets dropped first: memory does not grow with
 * the plant's size or a deviation's length. Nothing is written: the store already keeps each
 * deviation's onset and end (`deviation`, `deviation-end` events), which `seed` reads back.
 */
export function createRecentDeviations(ctx: {
  bus: EventBus
  store: Pick<TimeSeriesStore, 'events'>
  runtimes: () => Iterable<CharacteristicRuntime>
  log: Logger
  capacity?: number
  now?: () => number
}): RecentDeviations {
  const capacity = ctx.capacity ?? RECENT_DEVIATIONS
  const now = ctx.now ?? Date.now
  /** Newest onset first. */
  const entries: Entry[] = []
  const byKey = new Map<string, Entry>()
  /** The entry each deviation under way adds its readings to. */
  const ongoing = new Map<string, Entry>()
  const owner = {}
  let seeding: Promise<void> = Promise.resolve()

  /** Index at which an onset at `ts` goes (after the entries at the same or a later time). */
  function place(ts: number): number {
    let lo = 0
    let hi = entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((entries[mid] as Entry).ts >= ts) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  function insert(entry: Entry): Entry | null {
    const key = keyOf(entry.characteristic, entry.cause, entry.ts)
    const held = byKey.get(key)
    if (held) return held
    const at = place(entry.ts)
    if (at >= capacity) return null // older than everything kept
    entries.splice(at, 0, entry)
    byKey.set(key, entry)
    while (entries.length > capacity) {
      const gone = entries.pop() as Entry
      byKey.delete(keyOf(gone.characteristic, gone.cause, gone.ts))
      const k = ongoingKey(gone.characteristic, gone.cause)
      if (ongoing.get(k) === gone) ongoing.delete(k)
    }
    return entry
  }

  function remove(entry: Entry): void {
    const at = entries.indexOf(entry)
    if (at >= 0) entries.splice(at, 1)
    byKey.delete(keyOf(entry.characteristic, entry.cause, entry.ts))
    const k = ongoingKey(entry.characteristic, entry.cause)
    if (ongoing.get(k) === entry) ongoing.delete(k)
  }

  function fromDeviation(characteristic: string, d: Deviation): Entry {
    return {
      characteristic,
      cause: d.cause,
      kind: d.kind,
      ts: d.ts,
      value: d.value,
      limit: d.kind === 'limit' ? d.limit : null,
      pane: d.kind === 'rule' ? d.pane : null,
      count: 1,
      lastTs: d.ts,
      lastValue: d.value,
      endedAt: null,
    }
  }

  function onEvaluated(id: string, evaluation: Evaluation): void {
    const deviations = evaluation.deviations
    for (let i = 0; i < deviations.length; i++) {
      const d = deviations[i] as Deviation
      const k = ongoingKey(id, d.cause)
      const open = d.onset ? undefined : ongoing.get(k)
      if (open) {
        open.count++
        if (d.ts >= open.lastTs) {
          open.lastTs = d.ts
          open.lastValue = d.value
        }
        continue
      }
      // An onset, or a continuation whose onset is not held (it fell off, or came before a
      // restart the seed has not read yet): an entry of its own, as the dashboard's strip does.
      const entry = insert(fromDeviation(id, d))
      if (entry) ongoing.set(k, entry)
    }
    const ended = evaluation.ended
    for (let i = 0; i < ended.length; i++) end(id, ended[i] as Excursion)
  }

  function end(id: string, e: Excursion): void {
    const k = ongoingKey(id, e.cause)
    const entry = ongoing.get(k) ?? byKey.get(keyOf(id, e.cause, e.since))
    if (!entry) return
    ongoing.delete(k)
    entry.endedAt = e.last
    // The chart's own count (it survives restarts) where this entry is the excursion's onset.
    if (entry.ts === e.since) entry.count = Math.max(entry.count, e.count)
    entry.lastTs = Math.max(entry.lastTs, e.last)
  }

  ctx.bus.on('evaluated', owner, ({ runtime, evaluation }) =>
    onEvaluated(runtime.config.id, evaluation),
  )

  /** Takes a stored excursion's count and last time; its last value is not stored (unknown). */
  function stretch(entry: Entry, e: Excursion): void {
    if (e.count > entry.count) entry.count = e.count
    if (e.last > entry.lastTs) {
      entry.lastTs = e.last
      entry.lastValue = null
    }
  }

  async function seedOne(rt: CharacteristicRuntime, from: number, to: number): Promise<void> {
    const id = rt.config.id
    const events = await ctx.store.events({
      characteristic: id,
      from,
      to,
      limit: SEED_EVENTS_PER_CHARACTERISTIC,
    })
    const ends: Excursion[] = []
    for (const ev of events) {
      try {
        if (ev.type === 'deviation') {
          const d = JSON.parse(ev.detail) as Deviation
          if (typeof d.ts !== 'number' || typeof d.cause !== 'string') continue
          insert(fromDeviation(id, d))
        } else if (ev.type === 'deviation-end') {
          ends.push(JSON.parse(ev.detail) as Excursion)
        }
      } catch {
        // A record that does not parse is skipped: the strip shows the others.
      }
    }
    for (const e of ends) {
      const entry = byKey.get(keyOf(id, e.cause, e.since))
      if (!entry || entry.endedAt !== null) continue
      entry.endedAt = e.last
      stretch(entry, e)
    }
    // Excursions under way, as the restored chart counts them.
    for (const e of rt.state.excursions) {
      const entry = byKey.get(keyOf(id, e.cause, e.since))
      if (!entry || entry.endedAt !== null) continue
      stretch(entry, e)
      const k = ongoingKey(id, e.cause)
      const held = ongoing.get(k)
      if (held && held !== entry && held.ts > entry.ts) {
        // Its readings since the start began an entry of their own (the onset was not read back
        // yet): the same excursion, which the chart's count already includes.
        remove(held)
        if (held.lastTs >= entry.lastTs) {
          entry.lastTs = held.lastTs
          entry.lastValue = held.lastValue
        }
      }
      ongoing.set(k, entry)
    }
  }

  async function seedAll(): Promise<void> {
    const all = [...ctx.runtimes()]
    if (all.length > SEED_MAX_CHARACTERISTICS) {
      ctx.log.info(
        { characteristics: all.length, max: SEED_MAX_CHARACTERISTICS },
        'recent deviations are not read back from the store for a plant this large: the strip fills as deviations come',
      )
      return
    }
    const to = now()
    const from = to - SEED_WINDOW_MS
    let next = 0
    let failed = 0
    const worker = async () => {
      while (next < all.length) {
        const rt = all[next++] as CharacteristicRuntime
        try {
          await seedOne(rt, from, to)
        } catch {
          failed++
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(SEED_CONCURRENCY, all.length) }, worker))
    if (failed > 0)
      ctx.log.warn({ failed }, 'recent deviations of some characteristics could not be read back')
  }

  return {
    list({ from, to, limit }) {
      const out: RecentDeviationView[] = []
      for (const e of entries) {
        if (e.ts > to) continue
        if (e.ts < from || out.length >= limit) break
        out.push({ ...e })
      }
      return out
    },
    size: () => entries.length,
    seed() {
      seeding = seedAll()
      return seeding
    },
    async seeded(maxMs) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        seeding,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, maxMs)
        }),
      ])
      clearTimeout(timer)
    },
    stop: () => ctx.bus.removeOwner(owner),
  }
}
