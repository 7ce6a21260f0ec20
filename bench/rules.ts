/**
 * SPC engine benchmark: readings per second through `stepChart` for 1,000 characteristics
 * (I-MR with all eight Nelson rules; X̄-R with n = 5), and the bytes of JSON state per
 * characteristic. The bar is a plain loop in the same run doing the same arithmetic on flat
 * typed arrays: the moving range (or the subgroup mean and range), the limits test, and the
 * eight Nelson rules with counters and small windows, but no objects, no state copies, no
 * events. The ratio says what the engine's shape (pure steps, JSON state) costs.
 */
import {
  type ChartSpec,
  type ChartState,
  initChart,
  NELSON_RULES,
  stepChart,
} from '../rules/index.ts'

export interface RulesBenchResult {
  characteristics: number
  readingsPerCharacteristic: number
  imr: { engine: number; plain: number; ratio: number; stateBytes: number }
  xbarR: { engine: number; plain: number; ratio: number; stateBytes: number }
}

/** A deterministic noise source (no Math.random: the same numbers in every run). */
function values(count: number, seed: number): Float64Array {
  const out = new Float64Array(count)
  let a = seed >>> 0
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = 100 + (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 6
  }
  return out
}

function spec(type: 'imr' | 'xbar-r'): ChartSpec {
  return {
    type,
    subgroup: { by: 'count', size: type === 'imr' ? 1 : 5 },
    baseline: { subgroups: 25 },
    excludeOutOfControl: false,
    rules: NELSON_RULES,
  }
}

/** Readings/s through the engine: round-robin over the characteristics, as a plant's streams interleave. */
function engine(
  type: 'imr' | 'xbar-r',
  n: number,
  perChar: number,
  data: Float64Array,
): { rate: number; stateBytes: number } {
  const s = spec(type)
  const states: ChartState[] = Array.from({ length: n }, () => initChart(s))
  const total = n * perChar
  const started = performance.now()
  for (let k = 0; k < total; k++) {
    const c = k % n
    states[c] = stepChart(s, states[c] as ChartState, { ts: k, value: data[k] as number }).state
  }
  const seconds = (performance.now() - started) / 1000
  const stateBytes = states.reduce((sum, st) => sum + Buffer.byteLength(JSON.stringify(st)), 0) / n
  return { rate: total / seconds, stateBytes }
}

/**
 * The same arithmetic in a plain loop: flat arrays per characteristic, limits from the first
 * 25 points (centre and MR̄ or R̄), then per point the statistic, the limits test and the eight
 * Nelson rules as counters and windows.
 */
function plain(subgroup: number, n: number, perChar: number, data: Float64Array): number {
  const d2 = subgroup === 1 ? 1.128 : 2.326
  const prev = new Float64Array(n)
  const sum = new Float64Array(n) // baseline sums of the statistic and of the range
  const rsum = new Float64Array(n)
  const count = new Int32Array(n)
  const center = new Float64Array(n)
  const sigma = new Float64Array(n)
  const sub = new Float64Array(n) // subgroup accumulation
  const subMin = new Float64Array(n).fill(Number.POSITIVE_INFINITY)
  const subMax = new Float64Array(n).fill(Number.NEGATIVE_INFINITY)
  const subN = new Int32Array(n)
  const side = new Int8Array(n)
  const sideRun = new Int32Array(n)
  const trend = new Int32Array(n)
  const alt = new Int32Array(n)
  const lastDiff = new Int8Array(n)
  const within = new Int32Array(n)
  const beyond1 = new Int32Array(n)
  const zones = new Int8Array(n * 5) // last five zone codes per characteristic
  let flagged = 0
  const total = n * perChar
  const started = performance.now()
  for (let k = 0; k < total; k++) {
    const c = k % n
    const v = data[k] as number
    // Subgroup the readings (n = 1: every reading is a point).
    sub[c] = (sub[c] as number) + v
    if (v < (subMin[c] as number)) subMin[c] = v
    if (v > (subMax[c] as number)) subMax[c] = v
    subN[c] = (subN[c] as number) + 1
    if ((subN[c] as number) < subgroup) continue
    const x = (sub[c] as number) / subgroup
    const r =
      subgroup === 1
        ? Math.abs(x - (prev[c] as number))
        : (subMax[c] as number) - (subMin[c] as number)
    sub[c] = 0
    subN[c] = 0
    subMin[c] = Number.POSITIVE_INFINITY
    subMax[c] = Number.NEGATIVE_INFINITY
    const i = count[c] as number
    count[c] = i + 1
    if (i < 25) {
      sum[c] = (sum[c] as number) + x
      if (subgroup > 1 || i > 0) rsum[c] = (rsum[c] as number) + r
      if (i === 24) {
        center[c] = (sum[c] as number) / 25
        const rBar = (rsum[c] as number) / (subgroup === 1 ? 24 : 25)
        sigma[c] = rBar / d2 / Math.sqrt(subgroup)
      }
      prev[c] = x
      continue
    }
    const s = sigma[c] as number
    const z = (x - (center[c] as number)) / s
    let hit = 0
    if (z > 3 || z < -3) hit++ // N1
    const sd = z > 0 ? 1 : z < 0 ? -1 : 0
    sideRun[c] = sd !== 0 && sd === side[c] ? (sideRun[c] as number) + 1 : sd === 0 ? 0 : 1
    side[c] = sd
    if ((sideRun[c] as number) >= 9) hit++ // N2
    const diff = x > (prev[c] as number) ? 1 : x < (prev[c] as number) ? -1 : 0
    trend[c] = diff !== 0 && diff === lastDiff[c] ? (trend[c] as number) + 1 : diff === 0 ? 0 : 1
    if ((trend[c] as number) >= 5) hit++ // N3
    alt[c] =
      diff !== 0 && diff === -(lastDiff[c] as number) ? (alt[c] as number) + 1 : diff === 0 ? 0 : 1
    if ((alt[c] as number) >= 13) hit++ // N4
    lastDiff[c] = diff
    const zone = z > 2 ? 3 : z > 1 ? 2 : z >= -1 ? 0 : z >= -2 ? -2 : -3
    const base = c * 5
    for (let w = 0; w < 4; w++) zones[base + w] = zones[base + w + 1] as number
    zones[base + 4] = zone
    let up2 = 0
    let down2 = 0
    let up1 = 0
    let down1 = 0
    for (let w = 0; w < 5; w++) {
      const q = zones[base + w] as number
      if (w >= 2 && q >= 3) up2++
      if (w >= 2 && q <= -3) down2++
      if (q >= 2) up1++
      if (q <= -2) down1++
    }
    if ((zone >= 3 && up2 >= 2) || (zone <= -3 && down2 >= 2)) hit++ // N5
    if ((zone >= 2 && up1 >= 4) || (zone <= -2 && down1 >= 4)) hit++ // N6
    within[c] = zone === 0 ? (within[c] as number) + 1 : 0
    if ((within[c] as number) >= 15) hit++ // N7
    beyond1[c] = zone !== 0 ? (beyond1[c] as number) + 1 : 0
    if ((beyond1[c] as number) >= 8) hit++ // N8
    flagged += hit
    prev[c] = x
  }
  const seconds = (performance.now() - started) / 1000
  if (flagged < 0) throw new Error('unreachable: keeps the loop from being optimised away')
  return total / seconds
}

export function runRulesBench(options: {
  characteristics: number
  readingsPerCharacteristic: number
}): RulesBenchResult {
  const { characteristics: n, readingsPerCharacteristic: perChar } = options
  const data = values(n * perChar, 42)
  // Warm both once (JIT), then measure.
  engine('imr', n, 40, data)
  plain(1, n, 40, data)
  const imrEngine = engine('imr', n, perChar, data)
  const imrPlain = plain(1, n, perChar, data)
  engine('xbar-r', n, 200, data)
  plain(5, n, 200, data)
  const xbarEngine = engine('xbar-r', n, perChar, data)
  const xbarPlain = plain(5, n, perChar, data)
  return {
    characteristics: n,
    readingsPerCharacteristic: perChar,
    imr: {
      engine: imrEngine.rate,
      plain: imrPlain,
      ratio: imrEngine.rate / imrPlain,
      stateBytes: imrEngine.stateBytes,
    },
    xbarR: {
      engine: xbarEngine.rate,
      plain: xbarPlain,
      ratio: xbarEngine.rate / xbarPlain,
      stateBytes: xbarEngine.stateBytes,
    },
  }
}
