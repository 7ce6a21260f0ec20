import { createHash } from 'node:crypto'
import {
  type CharacteristicSpec,
  type CharacteristicState,
  type ChartPoint,
  canonicalChartSpec,
  capabilityVerdict,
  characteristicCapability,
  chartKind,
  DEFAULT_CAPABILITY_POLICY,
  initialCharacteristicState,
  type ProcessLimits,
  type Status,
  signalsOf,
} from '../../rules/index.ts'
import { type CharacteristicConfig, type Config, characteristicSpec } from '../config/index.ts'
import type { CharacteristicView, ControlLimitsView, Hierarchy, LiveState } from '../contract.ts'

/**
 * A fixed-size ring of the latest readings (kept with an NC as the data before it). The rings
 * of a pipeline share one buffer (`RingSlab`): a Float64Array per ring would cost several
 * hundred bytes of object and allocation overhead per characteristic.
 */
export class ReadingRing {
  /** [ts, value] pairs from `at`, `capacity` of them. */
  private readonly data: Float64Array
  private readonly at: number
  private next = 0
  private size = 0
  readonly capacity: number

  constructor(capacity: number, slab?: { data: Float64Array; at: number }) {
    this.capacity = capacity
    this.data = slab?.data ?? new Float64Array(2 * capacity)
    this.at = slab?.at ?? 0
  }

  push(ts: number, value: number): void {
    if (this.capacity === 0) return
    const o = this.at + 2 * this.next
    this.data[o] = ts
    this.data[o + 1] = value
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
  }

  /** Forgets every reading (a chart taken over from another gateway starts from its snapshot). */
  clear(): void {
    this.next = 0
    this.size = 0
  }

  /** Oldest first. */
  toArray(): { ts: number; value: number }[] {
    const out: { ts: number; value: number }[] = []
    const start = (this.next - this.size + this.capacity) % Math.max(this.capacity, 1)
    for (let k = 0; k < this.size; k++) {
      const o = this.at + 2 * ((start + k) % this.capacity)
      out.push({ ts: this.data[o] as number, value: this.data[o + 1] as number })
    }
    return out
  }
}

/** Everything the gateway holds about one characteristic while it runs. */
export interface CharacteristicRuntime {
  readonly config: CharacteristicConfig
  readonly spec: CharacteristicSpec
  /**
   * The chart's identity: a hash of its canonical specification (reordering YAML keys or rule
   * lists does not change it). A stored state with another hash is not restored.
   */
  readonly specHash: string
  /** The hash an earlier version stored (of the specification as written): still recognised. */
  readonly legacySpecHash: string
  state: CharacteristicState
  status: Status
  /** The latest reading's time and measure (updated in place: copy it to keep it). */
  last: { ts: number; value: number } | null
  /** The latest chart point: the limits in force are its panes' (they may vary with n). */
  lastPoint: ChartPoint | null
  readonly recent: ReadingRing
  /** Readings taken so far: the last one's place in the stream (the journal's `seq`). */
  seq: number
  /** The state changed since it was last snapshotted (and since when, to a snapshot tick). */
  dirty: boolean
  changedAt: number
  /**
   * Judged by this gateway. Always, for a gateway alone; in a cluster, while it holds the lease
   * of the characteristic's partition (gateway/cluster).
   */
  owned: boolean
}

/**
 * The runtimes of a configuration. What characteristics have alike is one object for all of
 * them: a chart specification (and so the rules engine's compiled plan), its hash; the reading rings
 * share one buffer. With 100,000 characteristics this is most of the difference between a few hundred bytes per characteristic and a few kilobytes.
 */
export function createRuntimes(config: Config): Map<string, CharacteristicRuntime> {
  const shared = sharing(config)
  const runtimes = new Map<string, CharacteristicRuntime>()
  for (const c of config.characteristics) runtimes.set(c.id, createRuntime(config, c, shared))
  return runtimes
}

interface Shared {
  chart(chart: CharacteristicSpec['chart']): {
    chart: CharacteristicSpec['chart']
    hash: string
    legacyHash: string
  }
  ring(): ReadingRing
}

function sharing(config: Config): Shared {
  const charts = new Map<
    string,
    { chart: CharacteristicSpec['chart']; hash: string; legacyHash: string }
  >()
  const capacity = config.nonconformance.readingsBefore
  const slab = new Float64Array(2 * capacity * Math.max(config.characteristics.length, 1))
  let rings = 0
  return {
    chart(chart) {
      const canonical = canonicalChartSpec(chart)
      let entry = charts.get(canonical)
      if (!entry) {
        entry = {
          chart,
          hash: shortHash(canonical),
          legacyHash: shortHash(JSON.stringify(chart)),
        }
        charts.set(canonical, entry)
      }
      return entry
    },
    ring() {
      const at = 2 * capacity * rings++
      return at + 2 * capacity <= slab.length
        ? new ReadingRing(capacity, { data: slab, at })
        : new ReadingRing(capacity)
    },
  }
}

export function createRuntime(
  config: Config,
  c: CharacteristicConfig,
  shared: Shared = sharing({ ...config, characteristics: [c] }),
): CharacteristicRuntime {
  const own = characteristicSpec(config, c)
  const { chart, hash, legacyHash } = shared.chart(own.chart)
  const spec: CharacteristicSpec = { ...own, chart }
  return {
    config: c,
    spec,
    specHash: hash,
    legacySpecHash: legacyHash,
    state: initialCharacteristicState(spec),
    status: 'no-data',
    last: null,
    lastPoint: null,
    recent: shared.ring(),
    seq: 0,
    dirty: false,
    changedAt: 0,
    owned: true,
  }
}

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16)

/** Where a characteristic sits in the ISA-95 hierarchy (site/area/line/cell), from its path. */
export function hierarchyOf(path: string): Hierarchy {
  const [site = path, area = null, line = null, cell = null] = path.split('/')
  return { site, area, line, cell }
}

/** Control limits of the chart as the dashboard draws them: the parameters and the lines at the latest point. */
export function controlView(
  limits: ProcessLimits | null,
  lastPoint: ChartPoint | null,
): ControlLimitsView | null {
  if (!limits) return null
  const panes: ControlLimitsView['panes'] = {}
  for (const [name, pane] of Object.entries(lastPoint?.panes ?? {})) {
    if (pane.center !== null)
      panes[name] = { center: pane.center, lcl: pane.lcl, ucl: pane.ucl, sigma: pane.sigma ?? null }
  }
  return { center: limits.center, sigma: limits.sigma, basis: limits.basis, panes }
}

export function liveState(rt: CharacteristicRuntime, openNcs: number): LiveState {
  const chart = rt.state.chart
  return {
    status: rt.status,
    rules: [...rt.state.flagged],
    last: rt.last ? { ts: rt.last.ts, value: rt.last.value } : null, // updated in place
    baseline: chart.limits
      ? null
      : {
          have: chart.baseline.length,
          need: 'subgroups' in rt.spec.chart.baseline ? rt.spec.chart.baseline.subgroups : null,
        },
    openNcs,
  }
}

function sourceBinding(c: CharacteristicConfig): CharacteristicView['source'] {
  const { mqtt, sparkplug, opcua } = c.source
  if (mqtt) return { kind: 'mqtt', topic: mqtt.topic }
  if (sparkplug) return { kind: 'sparkplug', ...sparkplug, device: sparkplug.device ?? null }
  return { kind: 'opcua', server: opcua?.server ?? '', nodeId: opcua?.nodeId ?? '' }
}

export function characteristicView(rt: CharacteristicRuntime, openNcs: number): CharacteristicView {
  const c = rt.config
  const capability = characteristicCapability(rt.spec, rt.state)
  const spec = rt.spec.chart
  return {
    id: c.id,
    name: c.name,
    path: c.path,
    hierarchy: hierarchyOf(c.path),
    unit: c.unit,
    decimals: c.decimals,
    source: sourceBinding(c),
    limits: c.limits,
    chart: {
      type: spec.type,
      subgroup: spec.subgroup,
      panes: [...chartKind(spec.type).panes],
      baseline:
        'subgroups' in spec.baseline ? { count: spec.baseline.subgroups } : { ...spec.baseline },
      rules: [...spec.rules],
      control: controlView(rt.state.chart.limits, rt.lastPoint),
    },
    specLimits: c.specLimits
      ? {
          lsl: c.specLimits.lsl ?? null,
          usl: c.specLimits.usl ?? null,
          target: c.specLimits.target ?? null,
        }
      : null,
    capability,
    capabilityVerdict: c.specLimits
      ? capabilityVerdict(
          capability,
          { signalled: signalsOf(rt.state.capability) > 0, n: rt.state.capability.n },
          rt.spec.capability ?? DEFAULT_CAPABILITY_POLICY,
        )
      : null,
    state: liveState(rt, openNcs),
  }
}
