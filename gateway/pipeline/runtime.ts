import { createHash } from 'node:crypto'
import {
  type Cause,
  type CharacteristicSpec,
  type CharacteristicState,
  type ChartPoint,
  characteristicCapability,
  chartKind,
  initialCharacteristicState,
  type ProcessLimits,
  type Status,
} from '../../rules/index.ts'
import {
  type CharacteristicConfig,
  type Config,
  characteristicSpec,
  ncCauses,
} from '../config/index.ts'
import type { CharacteristicView, ControlLimitsView, Hierarchy, LiveState } from '../contract.ts'

/** A fixed-size ring of the latest readings (kept with an NC as the data before it). */
export class ReadingRing {
  private readonly ts: Float64Array
  private readonly values: Float64Array
  private next = 0
  private size = 0
  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
    this.ts = new Float64Array(capacity)
    this.values = new Float64Array(capacity)
  }

  push(ts: number, value: number): void {
    if (this.capacity === 0) return
    this.ts[this.next] = ts
    this.values[this.next] = value
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
  }

  /** Oldest first. */
  toArray(): { ts: number; value: number }[] {
    const out: { ts: number; value: number }[] = []
    const start = (this.next - this.size + this.capacity) % Math.max(this.capacity, 1)
    for (let k = 0; k < this.size; k++) {
      const i = (start + k) % this.capacity
      out.push({ ts: this.ts[i] as number, value: this.values[i] as number })
    }
    return out
  }
}

/** Everything the gateway holds about one characteristic while it runs. */
export interface CharacteristicRuntime {
  readonly config: CharacteristicConfig
  readonly spec: CharacteristicSpec
  /** Changes when the chart's configuration changes; a stored state with another hash is not restored. */
  readonly specHash: string
  readonly hierarchy: Hierarchy
  /** Causes that open a nonconformance. */
  readonly ncCauses: ReadonlySet<Cause>
  state: CharacteristicState
  status: Status
  /** The latest reading's time and measure (updated in place: copy it to keep it). */
  last: { ts: number; value: number } | null
  /** The latest chart point: the limits in force are its panes' (they may vary with n). */
  lastPoint: ChartPoint | null
  readonly recent: ReadingRing
  /** Readings taken so far: the last one's place in the stream (the journal's `seq`). */
  seq: number
  /** The state changed since it was last snapshotted. */
  dirty: boolean
}

export function createRuntime(config: Config, c: CharacteristicConfig): CharacteristicRuntime {
  const spec = characteristicSpec(config, c)
  const [site = c.path, area = null, line = null, cell = null] = c.path.split('/')
  return {
    config: c,
    spec,
    specHash: createHash('sha256').update(JSON.stringify(spec.chart)).digest('hex').slice(0, 16),
    hierarchy: { site, area, line, cell },
    ncCauses: ncCauses(config, c),
    state: initialCharacteristicState(spec),
    status: 'no-data',
    last: null,
    lastPoint: null,
    recent: new ReadingRing(config.nonconformance.readingsBefore),
    seq: 0,
    dirty: false,
  }
}

/** Control limits of the chart as the dashboard draws them: the parameters and the lines at the latest point. */
export function controlView(
  limits: ProcessLimits | null,
  lastPoint: ChartPoint | null,
): ControlLimitsView | null {
  if (!limits) return null
  const panes: ControlLimitsView['panes'] = {}
  for (const [name, pane] of Object.entries(lastPoint?.panes ?? {})) {
    if (pane.center !== null) panes[name] = { center: pane.center, lcl: pane.lcl, ucl: pane.ucl }
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

export function characteristicView(rt: CharacteristicRuntime, openNcs: number): CharacteristicView {
  const c = rt.config
  const spec = rt.spec.chart
  return {
    id: c.id,
    name: c.name,
    path: c.path,
    hierarchy: rt.hierarchy,
    unit: c.unit,
    decimals: c.decimals,
    source: c.source.mqtt
      ? { kind: 'mqtt', topic: c.source.mqtt.topic }
      : {
          kind: 'opcua',
          server: c.source.opcua?.server ?? '',
          nodeId: c.source.opcua?.nodeId ?? '',
        },
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
    capability: characteristicCapability(rt.spec, rt.state),
    state: liveState(rt, openNcs),
  }
}
