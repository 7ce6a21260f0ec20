import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import type {
  CharacteristicView,
  ChartView,
  LimitChangeView,
  NonconformanceSummary,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

/**
 * Issue 7 in the running gateway: NC titles and triggers that name what the rule judged, a
 * CUSUM that restarts after a signal, a chart identity that does not depend on how the YAML is
 * written, capability that restarts with its specification and is only "capable" for a stable
 * chart, and the σ every pane's limits use. Expected values are computed here from the
 * textbook formulas (Montgomery, Introduction to SQC, ch. 9), not taken from the engine.
 */
type Gw = TestGateway & { removeDataDir(): Promise<void> }

const running: { gw: Gw; mqtt: MqttClient }[] = []
afterEach(async () => {
  for (const { gw, mqtt } of running.splice(0)) {
    await mqtt.endAsync()
    await gw.close()
    await gw.removeDataDir()
  }
})

async function gatewayWith(characteristics: string, dataDir?: string) {
  const gw = await startTestGateway(
    `mqtt: { broker: { port: 0 } }\ncharacteristics:\n${characteristics}`,
    dataDir ? { dataDir } : {},
  )
  const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
  const pair = { gw, mqtt }
  running.push(pair)
  return pair
}

/** Stops a gateway started by gatewayWith, keeping its data directory. */
async function stop(pair: { gw: Gw; mqtt: MqttClient }): Promise<void> {
  running.splice(running.indexOf(pair), 1)
  await pair.mqtt.endAsync()
  await pair.gw.close()
}

/** QoS 1, one after the other: when it resolves, the readings are stored and judged. */
async function publish(mqtt: MqttClient, topic: string, values: number[], t0: number) {
  for (const [i, value] of values.entries())
    await mqtt.publishAsync(topic, JSON.stringify({ value, ts: t0 + i * 1000 }), { qos: 1 })
}

const view = async (gw: Gw, id: string) =>
  (await gw.get<CharacteristicView>(`/api/characteristics/${id}`)).body
const ncs = async (gw: Gw) => (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body

describe('nonconformances say what the rule judged', () => {
  it('EWMA: the NC names the EWMA z, and its trigger is the z and the limit it crossed', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - id: temp
    name: Spindle temperature
    path: p/a/l/c
    source: { mqtt: { topic: t/temp } }
    chart: { type: ewma, given: { center: 40, sigma: 2 }, ewma: { lambda: 0.2, L: 3 } }
    openNcOn: [N1]
`)
    // zᵢ = λxᵢ + (1−λ)zᵢ₋₁, z₀ = μ; UCLᵢ = μ + Lσ√(λ/(2−λ)·(1 − (1−λ)^2i)) (Montgomery 9.2).
    const values = [40, 40, 40, 44, 44, 44, 44, 44, 44]
    const lambda = 0.2
    let z = 40
    let expected: { z: number; ucl: number } | null = null
    values.forEach((x, k) => {
      z = lambda * x + (1 - lambda) * z
      const i = k + 1
      const ucl = 40 + 3 * 2 * Math.sqrt((lambda / (2 - lambda)) * (1 - (1 - lambda) ** (2 * i)))
      if (!expected && z > ucl) expected = { z, ucl }
    })
    expect(expected).not.toBeNull()
    await publish(mqtt, 't/temp', values, Date.now() - 60_000)
    const [nc] = await waitFor('the NC', async () => {
      const list = await ncs(gw)
      return list.length > 0 ? list : undefined
    })
    const want = expected as unknown as { z: number; ucl: number }
    expect(nc?.title).toBe('Spindle temperature EWMA z beyond its limit (N1)')
    expect(nc?.trigger.rule).toBe('N1')
    expect(nc?.trigger.pane).toBe('ewma')
    expect(nc?.trigger.value).toBeCloseTo(want.z, 9)
    expect(nc?.trigger.limit).toBeCloseTo(want.ucl, 9)
  })

  it('CUSUM reset after each signal: every signal is an occurrence of one NC, with its run length', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - id: bore
    name: Bore
    path: p/a/l/c
    source: { mqtt: { topic: t/bore } }
    chart: { type: cusum, given: { center: 0, sigma: 1 }, cusum: { k: 0.5, h: 4, resetOnSignal: true } }
    openNcOn: [cusum-upper]
`)
    // yᵢ = 2: C⁺ = 1.5, 3, 4.5 > h = 4 (a signal after 3 points), reset to 0, again: two signals.
    await publish(mqtt, 't/bore', [0, 0, 2, 2, 2, 2, 2, 2], Date.now() - 60_000)
    const [nc] = await waitFor('the NC and its second occurrence', async () => {
      const list = await ncs(gw)
      return list[0]?.occurrences === 2 ? list : undefined
    })
    expect(nc?.cause).toBe('cusum-upper')
    expect(nc?.trigger.runLength).toBe(3)
    expect(nc?.trigger.value).toBeCloseTo(4.5, 12)
    expect(nc?.trigger.limit).toBe(4)
    expect(await ncs(gw)).toHaveLength(1)
  })
})

describe('a chart is the same chart however its YAML is written', () => {
  it('reordered keys and rule lists keep the frozen limits across a restart; capability restarts with new specification limits', async () => {
    const dir = await tempDir()
    const t0 = Date.now() - 3_600_000
    const baseline = [10.1, 9.9, 10.0, 10.2, 9.8, 10.05, 9.95]
    const first = await gatewayWith(
      `
  - id: fill
    name: Fill
    path: p/a/l/c
    source: { mqtt: { topic: t/fill } }
    chart: { type: imr, rules: [N1, N2, N5], baselineCount: 7 }
    specLimits: { lsl: 9, usl: 11 }
    capability: { minReadings: 10 }
`,
      dir.path,
    )
    await publish(first.mqtt, 't/fill', [...baseline, ...baseline, ...baseline, ...baseline], t0)
    const before = await view(first.gw, 'fill')
    expect(before.chart.control).not.toBeNull()
    expect(before.capability?.n).toBe(21)
    await stop(first)

    const again = await gatewayWith(
      `
  - id: fill
    name: Fill
    path: p/a/l/c
    source: { mqtt: { topic: t/fill } }
    chart: { baselineCount: 7, rules: [N5, N1, N2], type: imr }
    specLimits: { usl: 11.5, lsl: 9 }
    capability: { minReadings: 10 }
`,
      dir.path,
    )
    const after = await view(again.gw, 'fill')
    // The same chart: the limits frozen before, no change recorded.
    expect(after.chart.control).toEqual(before.chart.control)
    const changes = await again.gw.get<LimitChangeView[]>('/api/characteristics/fill/limit-changes')
    expect(changes.body).toEqual([])
    // Other specification limits: capability counts from the next reading.
    expect(after.capability).toBeNull()
    await publish(
      again.mqtt,
      't/fill',
      [...baseline, ...baseline, ...baseline, ...baseline],
      t0 + 100_000,
    )
    expect((await view(again.gw, 'fill')).capability?.n).toBe(28)
    await dir.remove()
  })
})

describe('capability is "capable" only for a stable chart', () => {
  it('a chart that signalled since its limits froze is not in statistical control; a stable one with Cpk and Ppk ≥ 1.33 is capable', async () => {
    // Within ±1σ, moving ranges under the MR chart's UCL (d2 + 3d3)·σ ≈ 0.369: no rule fires.
    const stable = [10.05, 9.95, 10.0, 10.1, 9.9, 10.02, 9.98, 10.0, 10.05, 9.95]
    const { gw, mqtt } = await gatewayWith(`
  - id: steady
    name: Steady
    path: p/a/l/c
    source: { mqtt: { topic: t/steady } }
    chart: { type: imr, given: { center: 10, sigma: 0.1 } }
    specLimits: { lsl: 9, usl: 11 }
    capability: { minReadings: 30 }
  - id: spiked
    name: Spiked
    path: p/a/l/c
    source: { mqtt: { topic: t/spiked } }
    chart: { type: imr, given: { center: 10, sigma: 0.1 } }
    specLimits: { lsl: 9, usl: 11 }
    capability: { minReadings: 30 }
`)
    const t0 = Date.now() - 3_600_000
    const readings = [...stable, ...stable, ...stable]
    await publish(mqtt, 't/steady', readings, t0)
    // 10.5 is inside the specification but beyond 3σ = 10.3: N1, the chart has signalled.
    await publish(mqtt, 't/spiked', [...readings.slice(0, 20), 10.5, ...readings.slice(21)], t0)
    const steady = await view(gw, 'steady')
    const spiked = await view(gw, 'spiked')
    // σ within 0.1 given: Cpk = min(11 − x̄, x̄ − 9)/(3·0.1) ≈ 3.3; Ppk from the sample s ≈ 0.06.
    expect(steady.capability?.cpk).toBeGreaterThan(1.33)
    expect(steady.capability?.ppk).toBeGreaterThan(1.33)
    expect(steady.capabilityVerdict).toMatchObject({
      verdict: 'capable',
      threshold: 1.33,
      minReadings: 30,
      signalled: false,
    })
    expect(spiked.capability?.cpk).toBeGreaterThan(1.33)
    expect(spiked.capabilityVerdict).toMatchObject({
      verdict: 'not-in-control',
      words: 'not in statistical control — capability indices are not a prediction',
      signalled: true,
    })
  })
})

describe('every pane reports the σ its limits use', () => {
  it('I-MR with σ = 2: the I pane 2, the MR pane d3(2)·σ = √(2 − 4/π)·2; limits are centre ± 3σ_pane', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - id: x
    name: X
    path: p/a/l/c
    source: { mqtt: { topic: t/x } }
    chart: { type: imr, given: { center: 10, sigma: 2 } }
`)
    await publish(mqtt, 't/x', [10, 11, 9], Date.now() - 60_000)
    const points = (await gw.get<ChartView>('/api/characteristics/x/chart?limit=10')).body.points
    const last = points.at(-1)
    // Range of two normal observations: E[W] = d2 = 2/√π, E[W²] = 2, so d3 = √(2 − 4/π).
    const d2 = 2 / Math.sqrt(Math.PI)
    const d3 = Math.sqrt(2 - 4 / Math.PI)
    expect(last?.panes.i?.sigma).toBeCloseTo(2, 12)
    expect(last?.panes.mr?.sigma).toBeCloseTo(d3 * 2, 9)
    expect(last?.panes.mr?.center).toBeCloseTo(d2 * 2, 9)
    expect(last?.panes.mr?.ucl).toBeCloseTo(d2 * 2 + 3 * d3 * 2, 9)
    expect(last?.panes.i?.ucl).toBeCloseTo(10 + 3 * 2, 12)
  })
})
