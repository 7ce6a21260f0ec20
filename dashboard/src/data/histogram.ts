/**
 * Histogram of readings and the normal curves drawn over it, for the capability panel. Pure.
 */

export interface Histogram {
  /** Bin edges, ascending: bins + 1 of them. */
  edges: number[]
  /** Readings in each bin [edges[k], edges[k + 1]). */
  counts: number[]
  width: number
  /** Readings binned (the finite ones). */
  n: number
}

/** A "nice" step near `raw`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1
  const power = 10 ** Math.floor(Math.log10(raw))
  const f = raw / power
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
  return nice * power
}

/**
 * Bins readings: about √n bins (5 to 25) of a nice width. With the readings' resolution
 * (`decimals`) the width is a whole number of resolution steps and the edges lie half a step off
 * the values, so that no value falls on an edge and no bin is empty for want of a representable
 * value. Null for no finite reading.
 */
export function binReadings(
  values: readonly number[],
  options: { decimals?: number; bins?: number } = {},
): Histogram | null {
  const finite = values.filter((v) => Number.isFinite(v))
  const n = finite.length
  if (n === 0) return null
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const v of finite) {
    if (v < min) min = v
    if (v > max) max = v
  }
  const target = options.bins ?? Math.min(25, Math.max(5, Math.round(Math.sqrt(n))))
  const resolution =
    options.decimals !== undefined
      ? 10 ** -Math.min(9, Math.max(0, Math.trunc(options.decimals)))
      : null
  let width = niceStep((max - min) / target)
  let start: number
  if (resolution !== null) {
    width = Math.max(1, Math.round(width / resolution)) * resolution
    start = min - resolution / 2
  } else {
    start = Math.floor(min / width) * width
  }
  const bins = Math.max(1, Math.floor((max - start) / width + 1e-9) + 1)
  const edges = Array.from({ length: bins + 1 }, (_, k) => start + k * width)
  const counts = new Array<number>(bins).fill(0)
  for (const v of finite) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor((v - start) / width + 1e-9)))
    counts[k] = (counts[k] as number) + 1
  }
  return { edges, counts, width, n }
}

/** The standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI)
}

/**
 * A normal curve N(mean, sigma) over [from, to] in `steps` segments, scaled to a histogram:
 * the height is the count expected in a bin of `width` around x out of `n` readings
 * (n · width · density). Empty for a σ that is not positive.
 */
export function normalCurve(
  mean: number,
  sigma: number | null,
  scale: { n: number; width: number },
  from: number,
  to: number,
  steps = 120,
): { x: number[]; y: number[] } {
  const out = { x: [] as number[], y: [] as number[] }
  if (sigma === null || !(sigma > 0) || !Number.isFinite(sigma) || !(to > from)) return out
  const factor = (scale.n * scale.width) / sigma
  for (let k = 0; k <= steps; k++) {
    const x = from + ((to - from) * k) / steps
    out.x.push(x)
    out.y.push(factor * normalPdf((x - mean) / sigma))
  }
  return out
}

/**
 * What the histogram's x axis shows: the bins, the specification limits and target, and the
 * normal curves to ±3.5σ around the mean, with a small margin.
 */
export function histogramExtent(
  h: Histogram,
  marks: readonly (number | null | undefined)[],
  curve?: { mean: number; sigmas: readonly (number | null)[] },
): [number, number] {
  let lo = h.edges[0] as number
  let hi = h.edges[h.edges.length - 1] as number
  const take = (v: number | null | undefined) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  for (const m of marks) take(m)
  if (curve) {
    for (const s of curve.sigmas) {
      if (s === null || !(s > 0)) continue
      take(curve.mean - 3.5 * s)
      take(curve.mean + 3.5 * s)
    }
  }
  const margin = (hi - lo) * 0.04 || h.width
  return [lo - margin, hi + margin]
}
