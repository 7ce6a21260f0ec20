/**
 * SPC engine benchmark: readings per second through `stepChart` for 1,000 characteristics
 * (I-MR with all eight Nelson rules; X̄-R with n = 5), and the bytes of JSON state per
 * characteristic. The bar is a plain loop in the same run doing the same arithmetic on flat
 * typed arrays: the subgroup statistics, both panes' centre and limits (written out, as the
 * engine's point holds them), the limits test on both panes, and the eight Nelson rules with
 * counters and a zone window, but no objects and no events. The ratio says what the engine's
 * shape (a pure step over plain-JSON state, returning a point) costs.
 *
 * Both sides keep their state from round to round (Phase I ends in the warm-up), the rounds
 * alternate engine and loop, and the medians are compared, so a noisy neighbour on a shared
 * machine moves both alike.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  type CharacteristicState,
  type ChartSpec,
  type ChartState,
  evaluate,
  initChart,
  initialCharacteristicState,
  NELSON_RULES,
  stepChart,
} from '../rules/index.ts'

export interface RulesBenchResult {
  characteristics: number
  readingsPerRound: number
  rounds: number
  imr: RulesFigure
  xbarR: RulesFigure
  /** Issue 6: the engine at ≥ 0.5 of the plain loop, ≤ 1 KiB of heap per characteristic (both charts). */
  goals: {
    ratio: { goal: number; met: boolean }
    stateHeap: { goalBytes: number; met: boolean }
  }
}

export interface RulesFigure {
  /** Readings per second, the median of the rounds. */
  engine: number
  plain: number
  ratio: number
  /** JSON bytes of the engine's chart state per characteristic, in Phase II. */
  stateBytes: number
  /**
   * Heap bytes of a characteristic's whole engine state (`CharacteristicState`: the chart, the
   * limit zone, the capability window, the excursions) in Phase II, limits estimated: what
   * issue 6's "≤ 1 KiB of engine state per characteristic" is about.
   */
  stateHeapBytes: number
}

/** Issue 6's bound on the engine's state per characteristic, in heap bytes. */
export const ENGINE_STATE_GOAL_BYTES = 1024

/** Characteristics whose engine state the heap measure makes. */
const STATES_MEASURED = 20_000

/** A full garbage collection, whether or not the process was started with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

/**
 * The heap one characteristic's engine state takes: `count` states made as the gateway makes
 * them, each fed 60 subgroups (25 estimate its limits, 35 are judged against them), measured as
 * the heap used after a full collection, before and after, divided by `count`. Everything else
 * the steps made is garbage by then.
 */
function stateHeapBytes(type: 'imr' | 'xbar-r', count: number, data: Float64Array): number {
  const charted = { chart: spec(type), limits: { alertHigh: 120, actionHigh: 150 } }
  const subgroup = type === 'imr' ? 1 : 5
  const states: CharacteristicState[] = []
  collectGarbage()
  const before = process.memoryUsage().heapUsed
  let k = 0
  for (let c = 0; c < count; c++) {
    const state = initialCharacteristicState(charted)
    for (let j = 0; j < 60 * subgroup; j++, k++)
      evaluate(charted, state, { ts: j, value: data[k % data.length] as number })
    states.push(state)
  }
  collectGarbage()
  const bytes = (process.memoryUsage().heapUsed - before) / count
  // Read after the measurement, so the states are alive when the heap is measured.
  if (states.length !== count) throw new Error('states lost')
  return bytes
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

/** The engine over `n` characteristics, round-robin as a plant's streams interleave; state kept between calls. */
class Engine {
  private readonly spec: ChartSpec
  private readonly states: ChartState[]
  private readonly n: number
  private k = 0
  constructor(type: 'imr' | 'xbar-r', n: number) {
    this.n = n
    this.spec = spec(type)
    this.states = Array.from({ length: n }, () => initChart(this.spec))
  }
  run(data: Float64Array, count: number): number {
    const { spec: s, states, n } = this
    const started = performance.now()
    for (let j = 0; j < count; j++, this.k++) {
      const c = this.k % n
      const value = data[this.k % data.length] as number
      states[c] = stepChart(s, states[c] as ChartState, { ts: this.k, value }).state
    }
    return count / ((performance.now() - started) / 1000)
  }
  stateBytes(): number {
    return this.states.reduce((sum, st) => sum + Buffer.byteLength(JSON.stringify(st)), 0) / this.n
  }
}

/**
 * The same arithmetic in a plain loop: flat arrays per characteristic, limits from the first
 * 25 points (centre and MR̄ or R̄), then per point what the engine's point holds — both panes'
 * statistic, centre and limits, written to an output array — the limits test on both panes
 * and the eight Nelson rules on the first as counters and windows.
 */
class PlainLoop {
  private readonly d2: number
  private readonly d4: number
  private readonly out = new Float64Array(9) // the point: both panes' lines, and the flags
  private readonly prev: Float64Array
  private readonly sum: Float64Array // baseline sums of the statistic and of the range
  private readonly rsum: Float64Array
  private readonly count: Int32Array
  private readonly center: Float64Array
  private readonly sigma: Float64Array
  private readonly sub: Float64Array // subgroup accumulation
  private readonly subMin: Float64Array
  private readonly subMax: Float64Array
  private readonly subN: Int32Array
  private readonly side: Int8Array
  private readonly sideRun: Int32Array
  private readonly trend: Int32Array
  private readonly alt: Int32Array
  private readonly lastDiff: Int8Array
  private readonly within: Int32Array
  private readonly beyond1: Int32Array
  private readonly zones: Int8Array // last five zone codes per characteristic
  private k = 0
  flagged = 0

  private readonly subgroup: number
  private readonly n: number

  constructor(subgroup: number, n: number) {
    this.subgroup = subgroup
    this.n = n
    this.d2 = subgroup === 1 ? 1.128 : 2.326
    this.d4 = subgroup === 1 ? 3.267 : 2.114
    this.prev = new Float64Array(n)
    this.sum = new Float64Array(n)
    this.rsum = new Float64Array(n)
    this.count = new Int32Array(n)
    this.center = new Float64Array(n)
    this.sigma = new Float64Array(n)
    this.sub = new Float64Array(n)
    this.subMin = new Float64Array(n).fill(Number.POSITIVE_INFINITY)
    this.subMax = new Float64Array(n).fill(Number.NEGATIVE_INFINITY)
    this.subN = new Int32Array(n)
    this.side = new Int8Array(n)
    this.sideRun = new Int32Array(n)
    this.trend = new Int32Array(n)
    this.alt = new Int32Array(n)
    this.lastDiff = new Int8Array(n)
    this.within = new Int32Array(n)
    this.beyond1 = new Int32Array(n)
    this.zones = new Int8Array(n * 5)
  }

  run(data: Float64Array, readings: number): number {
    const { subgroup, n, d2, d4, out, prev, sum, rsum, count, center, sigma } = this
    const { sub, subMin, subMax, subN, side, sideRun, trend, alt, lastDiff, within, beyond1 } = this
    const zones = this.zones
    let flagged = 0
    const started = performance.now()
    for (let j = 0; j < readings; j++, this.k++) {
      const c = this.k % n
      const v = data[this.k % data.length] as number
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
          sigma[c] = rBar / d2 // σ of one observation
        }
        prev[c] = x
        continue
      }
      const s = sigma[c] as number
      const mu = center[c] as number
      const sx = s / Math.sqrt(subgroup)
      const lcl = mu - 3 * sx
      const ucl = mu + 3 * sx
      const rCenter = d2 * s
      const rUcl = d4 * rCenter
      out[0] = x
      out[1] = mu
      out[2] = lcl
      out[3] = ucl
      out[4] = r
      out[5] = rCenter
      out[6] = 0
      out[7] = rUcl
      const z = (x - mu) / sx
      let hit = 0
      if (x > ucl || x < lcl) hit++ // N1
      if (r > rUcl) hit++ // N1 on the MR (R) pane
      const sd = z > 0 ? 1 : z < 0 ? -1 : 0
      sideRun[c] = sd !== 0 && sd === side[c] ? (sideRun[c] as number) + 1 : sd === 0 ? 0 : 1
      side[c] = sd
      if ((sideRun[c] as number) >= 9) hit++ // N2
      const diff = x > (prev[c] as number) ? 1 : x < (prev[c] as number) ? -1 : 0
      trend[c] = diff !== 0 && diff === lastDiff[c] ? (trend[c] as number) + 1 : diff === 0 ? 0 : 1
      if ((trend[c] as number) >= 5) hit++ // N3
      alt[c] =
        diff !== 0 && diff === -(lastDiff[c] as number)
          ? (alt[c] as number) + 1
          : diff === 0
            ? 0
            : 1
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
      out[8] = hit
      flagged += out[8] as number
      prev[c] = x
    }
    const rate = readings / ((performance.now() - started) / 1000)
    this.flagged += flagged // kept, so the loop is not optimised away
    return rate
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

function compare(
  type: 'imr' | 'xbar-r',
  n: number,
  perRound: number,
  rounds: number,
  data: Float64Array,
): Omit<RulesFigure, 'stateHeapBytes'> {
  const subgroup = type === 'imr' ? 1 : 5
  const engine = new Engine(type, n)
  const plain = new PlainLoop(subgroup, n)
  // Warm-up: every chart ends Phase I (25 subgroups), and the JIT settles.
  const warm = n * 25 * subgroup * 2
  engine.run(data, warm)
  plain.run(data, warm)
  const e: number[] = []
  const p: number[] = []
  for (let r = 0; r < rounds; r++) {
    e.push(engine.run(data, perRound))
    p.push(plain.run(data, perRound))
  }
  const figure = { engine: median(e), plain: median(p) }
  return {
    ...figure,
    ratio: figure.engine / figure.plain,
    stateBytes: engine.stateBytes(),
  }
}

export function runRulesBench(options: {
  characteristics: number
  readingsPerRound: number
  rounds: number
}): RulesBenchResult {
  const { characteristics: n, readingsPerRound, rounds } = options
  const data = values(1 << 20, 42)
  // The heap is measured after both rates: the 20,000 states it makes, then drops, would leave
  // a collection to fall in the next rounds.
  const imrRates = compare('imr', n, readingsPerRound, rounds, data)
  const xbarRRates = compare('xbar-r', n, readingsPerRound, rounds, data)
  const imr = { ...imrRates, stateHeapBytes: stateHeapBytes('imr', STATES_MEASURED, data) }
  const xbarR = { ...xbarRRates, stateHeapBytes: stateHeapBytes('xbar-r', STATES_MEASURED, data) }
  return {
    characteristics: n,
    readingsPerRound,
    rounds,
    imr,
    xbarR,
    goals: {
      ratio: { goal: 0.5, met: imr.ratio >= 0.5 && xbarR.ratio >= 0.5 },
      stateHeap: {
        goalBytes: ENGINE_STATE_GOAL_BYTES,
        met: Math.max(imr.stateHeapBytes, xbarR.stateHeapBytes) <= ENGINE_STATE_GOAL_BYTES,
      },
    },
  }
}
