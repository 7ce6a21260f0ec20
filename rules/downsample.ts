/**
 * Downsampling that keeps what a chart must show: the M4 aggregation of Jugel, Jerzak,
 * Hackenbroich and Markl, "M4: A Visualization-Oriented Time Series Data Aggregation", Proc. VLDB
 * Endowment 7(10), 2014, pp. 797–808. A time range drawn `buckets` pixels wide is cut into that
 * many equal spans of time; of each span the first and the last point and the points with the
 * smallest and the largest value are kept. A line through them draws, pixel column by pixel
 * column, the same as a line through every point (the paper's error-free line rasterisation),
 * so a week of 1 Hz data draws from a few thousand points and a spike is never averaged away:
 * only real points are kept, never means.
 *
 * Here a point may have several values (a chart's panes: I and MR, X̄ and R, CUSUM's C⁺ and C⁻):
 * the smallest and largest of each are kept, so a bucket keeps at most 2 + 2·values points
 * (4 with one value). Besides, every point a rule flagged is kept whatever its value (a run
 * rule's point need not be an extreme). The result is in time order without duplicates.
 *
 * Bucket k of `buckets` over [from, to] (inclusive, UTC ms) holds the time stamps t with
 * floor((t − from)·buckets / (to − from + 1)) = k; a time stamp outside the range counts in the
 * first or the last bucket. Pure: no I/O, no clock.
 */

/** What M4 keeps the extremes of: a point's values by channel (a pane's statistic, …). */
export interface M4Options<P> {
  /** Pixel columns: how many spans of time the range is cut into (≥ 1). */
  buckets: number
  /** The range the buckets divide, inclusive (UTC ms). */
  from: number
  to: number
  /** Calls `emit` with each value of a point and its channel; null, NaN and ±∞ are skipped. */
  values: (point: P, emit: (channel: string, value: number | null | undefined) => void) => void
  /** Points kept whatever their value (those that completed a rule). */
  keep?: ((point: P) => boolean) | undefined
}

interface Entry<P> {
  point: P
  ts: number
  /** Order of arrival: among equal time stamps, the earlier added comes first. */
  seq: number
}

interface Channel<P> {
  min: Float64Array
  max: Float64Array
  minAt: (Entry<P> | undefined)[]
  maxAt: (Entry<P> | undefined)[]
}

const before = <P>(a: Entry<P>, b: Entry<P>) => a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq)

/**
 * M4 fed point by point, in any order (so a range read newest page first is fine): memory is a
 * few entries per bucket and channel, and the flagged points. Among points with equal time
 * stamps, those added earlier count as earlier. While no more than `buckets` points have been
 * added, every one is kept and returned as it is.
 */
export class M4<P extends { ts: number }> {
  private readonly options: M4Options<P>
  private readonly buckets: number
  private readonly span: number
  private readonly first: (Entry<P> | undefined)[]
  private readonly last: (Entry<P> | undefined)[]
  private readonly channels = new Map<string, Channel<P>>()
  private readonly kept: Entry<P>[] = []
  /** Every point while there are at most `buckets` of them; null after. */
  private all: Entry<P>[] | null = []
  private seq = 0

  constructor(options: M4Options<P>) {
    if (!Number.isInteger(options.buckets) || options.buckets < 1)
      throw new RangeError(`buckets must be a positive integer, got ${options.buckets}`)
    if (!(options.to >= options.from))
      throw new RangeError(`the range must not end before it starts: ${options.from}…${options.to}`)
    this.options = options
    this.buckets = options.buckets
    this.span = options.to - options.from + 1
    this.first = new Array(this.buckets)
    this.last = new Array(this.buckets)
  }

  /** Points added so far. */
  get count(): number {
    return this.seq
  }

  /** The bucket of a time stamp (clamped to the first and the last). */
  bucketOf(ts: number): number {
    const k = Math.floor(((ts - this.options.from) * this.buckets) / this.span)
    return k < 0 ? 0 : k >= this.buckets ? this.buckets - 1 : k
  }

  add(point: P): void {
    const e: Entry<P> = { point, ts: point.ts, seq: this.seq++ }
    if (this.all) {
      this.all.push(e)
      if (this.all.length > this.buckets) this.all = null
    }
    const k = this.bucketOf(e.ts)
    const first = this.first[k]
    if (!first || before(e, first)) this.first[k] = e
    const last = this.last[k]
    if (!last || before(last, e)) this.last[k] = e
    if (this.options.keep?.(point)) this.kept.push(e)
    this.options.values(point, (name, value) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return
      let c = this.channels.get(name)
      if (!c) {
        c = {
          min: new Float64Array(this.buckets).fill(Number.POSITIVE_INFINITY),
          max: new Float64Array(this.buckets).fill(Number.NEGATIVE_INFINITY),
          minAt: new Array(this.buckets),
          maxAt: new Array(this.buckets),
        }
        this.channels.set(name, c)
      }
      const min = c.min[k] as number
      const minAt = c.minAt[k]
      // Equal values: the earliest point stands for them (the result does not depend on order).
      if (value < min || (value === min && minAt && before(e, minAt))) {
        c.min[k] = value
        c.minAt[k] = e
      }
      const max = c.max[k] as number
      const maxAt = c.maxAt[k]
      if (value > max || (value === max && maxAt && before(e, maxAt))) {
        c.max[k] = value
        c.maxAt[k] = e
      }
    })
  }

  /** The points kept, in time order (then order of arrival), each once. */
  result(): P[] {
    const chosen = new Set<Entry<P>>()
    if (this.all) for (const e of this.all) chosen.add(e)
    else {
      const put = (e: Entry<P> | undefined) => {
        if (e) chosen.add(e)
      }
      for (let k = 0; k < this.buckets; k++) {
        put(this.first[k])
        put(this.last[k])
      }
      for (const c of this.channels.values()) {
        for (let k = 0; k < this.buckets; k++) {
          put(c.minAt[k])
          put(c.maxAt[k])
        }
      }
      for (const e of this.kept) chosen.add(e)
    }
    return [...chosen].sort((a, b) => a.ts - b.ts || a.seq - b.seq).map((e) => e.point)
  }
}

/** The range of points' time stamps (their first and last), or null for none. */
function spanOf(points: readonly { ts: number }[]): { from: number; to: number } | null {
  if (points.length === 0) return null
  let from = Number.POSITIVE_INFINITY
  let to = Number.NEGATIVE_INFINITY
  for (const p of points) {
    if (p.ts < from) from = p.ts
    if (p.ts > to) to = p.ts
  }
  return { from, to }
}

/**
 * M4 over a list of points (see M4). `from`/`to` default to the points' own first and last time
 * stamps. No more points than buckets: returned unchanged (a copy).
 */
export function downsample<P extends { ts: number }>(
  points: readonly P[],
  options: Omit<M4Options<P>, 'from' | 'to'> & { from?: number; to?: number },
): P[] {
  if (points.length <= options.buckets) return [...points]
  const span = spanOf(points) as { from: number; to: number }
  const m4 = new M4<P>({ ...options, from: options.from ?? span.from, to: options.to ?? span.to })
  for (const p of points) m4.add(p)
  return m4.result()
}

/** A pane's values as chart points carry them (rules' PanePoint, the store's, the API's). */
export interface PaneValues {
  statistic: number | null
  /** CUSUM: C⁺ and C⁻. */
  upper?: number | undefined
  lower?: number | undefined
}

/** A chart point as rules emit it (`violations`) or as it is stored and served (`rules`). */
export interface ChartPointLike {
  ts: number
  panes: Readonly<Record<string, PaneValues>>
  rules?: readonly unknown[] | undefined
  violations?: readonly unknown[] | undefined
}

/** The values M4 keeps the extremes of on a chart: each pane's statistic, and CUSUM's C⁺ and C⁻. */
export function chartValues(
  point: ChartPointLike,
  emit: (channel: string, value: number | null | undefined) => void,
): void {
  for (const [name, pane] of Object.entries(point.panes)) {
    emit(name, pane.statistic)
    if (pane.upper !== undefined) emit(`${name}+`, pane.upper)
    if (pane.lower !== undefined) emit(`${name}-`, pane.lower)
  }
}

/** Whether a chart point completed a rule (a run rule or a CUSUM signal). */
export function flagged(point: ChartPointLike): boolean {
  return (point.rules?.length ?? 0) > 0 || (point.violations?.length ?? 0) > 0
}

/** The options of M4 for chart points: every pane's extremes, and every flagged point. */
export function chartM4Options<P extends ChartPointLike>(
  buckets: number,
  range: { from: number; to: number },
): M4Options<P> {
  return { buckets, ...range, values: chartValues, keep: flagged }
}

/**
 * Chart points for a chart `buckets` pixels wide: per bucket the first, the last and each pane's
 * smallest and largest statistic (C⁺ and C⁻ too), and every point that completed a rule.
 */
export function downsampleChart<P extends ChartPointLike>(
  points: readonly P[],
  buckets: number,
  range?: { from: number; to: number },
): P[] {
  return downsample<P>(points, {
    buckets,
    ...range,
    values: chartValues,
    keep: flagged,
  })
}

/** The values M4 keeps the extremes of in raw readings: the value. */
export function readingValues(
  reading: { value: number },
  emit: (channel: string, value: number) => void,
): void {
  emit('value', reading.value)
}

/** Readings for a chart `buckets` pixels wide: per bucket the first, the last, the smallest and the largest. */
export function downsampleReadings<R extends { ts: number; value: number }>(
  readings: readonly R[],
  buckets: number,
  range?: { from: number; to: number },
): R[] {
  return downsample<R>(readings, { buckets, ...range, values: readingValues })
}
