/**
 * Counts events (errors) over a sliding time window, in constant memory: a ring of per-bucket
 * counts. Time is an input (`now`, epoch ms), never read from a clock, so it is tested with
 * explicit times.
 *
 * Every event of the last `windowMs` is counted; an event is forgotten at most `bucketMs` after
 * that (the window is whole buckets: an event in bucket b counts while the current bucket is at
 * most b + ceil(windowMs / bucketMs)). An event older than what the ring holds still counts in
 * the total.
 */
export class RecentCounter {
  readonly windowMs: number
  readonly bucketMs: number
  private readonly span: number
  private readonly buckets: Float64Array
  private readonly counts: Float64Array
  private all = 0

  constructor(options: { windowMs?: number; bucketMs?: number } = {}) {
    this.windowMs = options.windowMs ?? 5 * 60_000
    this.bucketMs = options.bucketMs ?? 5_000
    if (!(this.windowMs > 0) || !(this.bucketMs > 0)) {
      throw new RangeError('RecentCounter: windowMs and bucketMs must be positive')
    }
    this.span = Math.ceil(this.windowMs / this.bucketMs)
    this.buckets = new Float64Array(this.span + 1).fill(Number.NEGATIVE_INFINITY)
    this.counts = new Float64Array(this.span + 1)
  }

  /** Records `n` events at time `now`. */
  add(now: number, n = 1): void {
    this.all += n
    const b = Math.floor(now / this.bucketMs)
    const slot = mod(b, this.buckets.length)
    const held = this.buckets[slot] as number
    if (held > b) return // the slot already holds a newer bucket: this one is out of the window
    if (held < b) {
      this.buckets[slot] = b
      this.counts[slot] = 0
    }
    this.counts[slot] = (this.counts[slot] as number) + n
  }

  /** Events within the window ending at `now`. */
  count(now: number): number {
    const oldest = Math.floor(now / this.bucketMs) - this.span
    let sum = 0
    for (let i = 0; i < this.buckets.length; i++) {
      if ((this.buckets[i] as number) >= oldest) sum += this.counts[i] as number
    }
    return sum
  }

  /** Every event ever added. */
  total(): number {
    return this.all
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n
}
