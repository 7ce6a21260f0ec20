/**
 * The receive time of what arrives in one turn of the event loop. A broker hands over the
 * messages of a socket read together; reading the system clock for each costs ~50 ns, a large
 * part of the work per message at broker speed. The clock is read once per turn instead: the
 * messages of a turn share its receive time (a turn lasts well under a millisecond to a few
 * milliseconds under load, and receive times are kept to the millisecond).
 */
let cached: number | null = null

function expire(): void {
  cached = null
}

/** UTC milliseconds, read at most once per event-loop turn. */
export function receiveTime(): number {
  if (cached === null) {
    cached = Date.now()
    setImmediate(expire)
  }
  return cached
}
