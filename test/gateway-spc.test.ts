import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { characteristicSpec } from '../gateway/config/index.ts'
import type {
  CharacteristicView,
  ChartView,
  DeadLettersView,
  LimitChangeView,
} from '../gateway/contract.ts'
import { type ChartPoint, initChart, stepChart } from '../rules/index.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

type Gw = TestGateway & { removeDataDir(): Promise<void> }

const open: { gw: Gw; mqtt: MqttClient }[] = []
afterEach(async () => {
  for (const { gw, mqtt } of open.splice(0)) {
    await mqtt.endAsync()
    await gw.close()
    await gw.removeDataDir()
  }
})

async function gatewayWith(
  characteristics: string,
  dataDir?: string,
): Promise<{ gw: Gw; mqtt: MqttClient }> {
  const gw = await startTestGateway(
    `mqtt: { broker: { port: 0 } }\ncharacteristics:\n${characteristics}`,
    dataDir ? { dataDir } : {},
  )
  const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
  const pair = { gw, mqtt }
  open.push(pair)
  return pair
}

async function post<T>(
  gw: Gw,
  path: string,
  body: unknown,
  token: string,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.gateway.urls.http}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as T }
}

const view = async (gw: Gw, id: string) =>
  (await gw.get<CharacteristicView>(`/api/characteristics/${id}`)).body
const chart = async (gw: Gw, id: string) =>
  (await gw.get<ChartView>(`/api/characteristics/${id}/chart?limit=10000`)).body.points

/** Publishes readings one after the other (each awaited, so the order is kept). */
async function publish(mqtt: MqttClient, topic: string, payloads: unknown[]): Promise<void> {
  for (const p of payloads) await mqtt.publishAsync(topic, JSON.stringify(p))
}

describe('the SPC engine in the gateway', () => {
  it('capability: shown once enough readings follow the frozen limits, equal to an independent computation', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - id: bore
    name: Bore
    path: p/a/l/c
    source: { mqtt: { topic: t/bore } }
    chart: { baselineCount: 5 }
    specLimits: { lsl: 11.99, usl: 12.01 }
`)
    const t0 = Date.now() - 100_000
    const baseline = [12.0, 12.002, 11.999, 12.001, 11.998]
    const after = Array.from({ length: 25 }, (_, i) => 12 + ((i * 7) % 11) / 2000 - 0.0025)
    await publish(
      mqtt,
      't/bore',
      [...baseline, ...after].map((value, i) => ({ value, ts: t0 + i * 1000 })),
    )
    const c = await waitFor('capability', async () => {
      const v = await view(gw, 'bore')
      return v.capability ? v : undefined
    })
    // Within σ: MR̄/d2(2) of the baseline, d2(2) = 2/√π exactly (the mean range of two
    // standard normals); overall σ and mean: the 25 readings after it.
    const mrBar =
      baseline.slice(1).reduce((s, x, i) => s + Math.abs(x - (baseline[i] as number)), 0) / 4
    const sigmaWithin = mrBar / (2 / Math.sqrt(Math.PI))
    const mean = after.reduce((s, x) => s + x, 0) / after.length
    const sdOverall = Math.sqrt(after.reduce((s, x) => s + (x - mean) ** 2, 0) / (after.length - 1))
    expect(c.capability?.n).toBe(25)
    expect(c.capability?.sigmaWithin).toBeCloseTo(sigmaWithin, 12)
    expect(c.capability?.sigmaOverall).toBeCloseTo(sdOverall, 12)
    expect(c.capability?.cp).toBeCloseTo(0.02 / (6 * sigmaWithin), 10)
    expect(c.capability?.cpk).toBeCloseTo(
      Math.min(12.01 - mean, mean - 11.99) / (3 * sigmaWithin),
      10,
    )
    expect(c.capability?.ppk).toBeCloseTo(
      Math.min(12.01 - mean, mean - 11.99) / (3 * sdOverall),
      10,
    )
    expect(c.capability?.observedPpm).toBe(0)
    expect(c.specLimits).toEqual({ lsl: 11.99, usl: 12.01, target: null })
  })

  it('limits change only by an explicit, recorded act: who, when, why, before and after', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - { id: w, name: Weight, path: p/a/l/c, source: { mqtt: { topic: t/w } }, chart: { baselineCount: 20 } }
`)
    const t0 = Date.now() - 100_000
    await publish(
      mqtt,
      't/w',
      [10, 11, 10.5, 9.8, 10.2].map((value, i) => ({ value, ts: t0 + i * 1000 })),
    )
    await waitFor('the baseline', async () => (await view(gw, 'w')).state.baseline?.have === 5)

    // A viewer may not, nor a quality engineer; a reason is required; a quality manager may.
    expect(
      (
        await post(
          gw,
          '/api/characteristics/w/baseline',
          { action: 'end-baseline', reason: 'enough data' },
          TOKENS.viewer,
        )
      ).status,
    ).toBe(403)
    expect(
      (
        await post(
          gw,
          '/api/characteristics/w/baseline',
          { action: 'end-baseline', reason: 'enough data' },
          TOKENS.engineer,
        )
      ).status,
    ).toBe(403)
    expect(
      (
        await post(
          gw,
          '/api/characteristics/w/baseline',
          { action: 'end-baseline', reason: '' },
          TOKENS.manager,
        )
      ).status,
    ).toBe(400)
    const ended = await post<LimitChangeView>(
      gw,
      '/api/characteristics/w/baseline',
      { action: 'end-baseline', reason: 'five readings are enough for this trial' },
      TOKENS.manager,
    )
    expect(ended.status).toBe(200)
    expect(ended.body).toMatchObject({
      characteristic: 'w',
      action: 'end-baseline',
      reason: 'five readings are enough for this trial',
      actor: 'manager',
      before: null,
    })
    expect(ended.body.after?.center).toBeCloseTo(10.3, 10)
    expect((await view(gw, 'w')).chart.control?.basis).toMatchObject({
      kind: 'estimated',
      count: 5,
    })

    const again = await post<{ message: string }>(
      gw,
      '/api/characteristics/w/baseline',
      { action: 'end-baseline', reason: 'again' },
      TOKENS.manager,
    )
    expect(again).toMatchObject({ status: 409, body: { message: 'the limits are already frozen' } })

    const restarted = await post<LimitChangeView>(
      gw,
      '/api/characteristics/w/baseline',
      { action: 'restart', reason: 'new tooling fitted' },
      TOKENS.manager,
    )
    expect(restarted.body).toMatchObject({ action: 'restart', after: null })
    expect(restarted.body.before?.center).toBeCloseTo(10.3, 10)
    expect((await view(gw, 'w')).chart.control).toBeNull()

    const record = (await gw.get<LimitChangeView[]>('/api/characteristics/w/limit-changes')).body
    expect(record.map((r) => r.action)).toEqual(['restart', 'end-baseline'])
  })

  it('attributes: a p chart takes {"count", "size"} readings, judges each against its own limits, and refuses one without a size', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - { id: defects, name: Defectives, path: p/a/l/c, source: { mqtt: { topic: t/p } }, chart: { type: p, given: { center: 0.1 } } }
`)
    const t0 = Date.now() - 100_000
    await publish(mqtt, 't/p', [
      { count: 5, size: 50, ts: t0 },
      { count: 30, size: 200, ts: t0 + 1000 },
      { count: 40, size: 100, ts: t0 + 2000 },
      { value: 3, ts: t0 + 3000 },
    ])
    const points = await waitFor('three points', async () => {
      const p = await chart(gw, 'defects')
      return p.length === 3 ? p : undefined
    })
    expect(points.map((p) => p.n)).toEqual([50, 200, 100])
    expect(points.map((p) => p.panes.p?.statistic)).toEqual([0.1, 0.15, 0.4])
    expect(points[0]?.panes.p?.ucl).toBeCloseTo(0.1 + 3 * Math.sqrt((0.1 * 0.9) / 50), 12)
    expect(points[1]?.panes.p?.ucl).toBeCloseTo(0.1 + 3 * Math.sqrt((0.1 * 0.9) / 200), 12)
    expect(points[0]?.panes.p?.lcl).toBe(0) // 0.1 − 3·0.0424 < 0: truncated
    expect(points[2]?.rules).toContain('N1')
    const letters = await waitFor('the dead letter', async () => {
      const d = (await gw.get<DeadLettersView>('/api/dead-letters', TOKENS.engineer)).body
      return d.items.find((i) => i.source === 'pipeline')
    })
    expect(letters).toMatchObject({ reason: 'bad-shape', address: 'defects' })
    expect(letters.detail).toMatch(/^defects \(p chart\): .*size/)
  })

  it('subgroups: X̄-R by count over MQTT gives one point per five readings, and time windows close on the tick', async () => {
    const { gw, mqtt } = await gatewayWith(`
  - { id: xr, name: Diameter, path: p/a/l/c, source: { mqtt: { topic: t/xr } }, chart: { type: xbar-r, subgroup: { size: 5 }, given: { center: 10, sigma: 1 } } }
  - { id: xt, name: Temperature, path: p/a/l/c, source: { mqtt: { topic: t/xt } }, chart: { type: xbar-s, subgroup: { windowMs: 1000 }, given: { center: 20, sigma: 1 } } }
`)
    const t0 = Date.now() - 100_000
    await publish(
      mqtt,
      't/xr',
      [9, 10, 11, 10, 10, 12, 12, 12, 12, 12, 10].map((value, i) => ({ value, ts: t0 + i })),
    )
    const points = await waitFor('two subgroups', async () => {
      const p = await chart(gw, 'xr')
      return p.length === 2 ? p : undefined
    })
    expect(points.map((p) => [p.n, p.panes.xbar?.statistic, p.panes.r?.statistic])).toEqual([
      [5, 10, 2],
      [5, 12, 0],
    ])
    expect(points[1]?.rules).toContain('N1') // 12 > 10 + 3/√5

    // Readings in the current window: the subgroup closes on the tick after the window ends.
    const now = Date.now()
    await publish(
      mqtt,
      't/xt',
      [20, 21, 19].map((value) => ({ value, ts: now })),
    )
    const timed = await waitFor(
      'the window to close',
      async () => {
        const p = await chart(gw, 'xt')
        return p.length === 1 ? p : undefined
      },
      { timeoutMs: 5000 },
    )
    expect(timed[0]).toMatchObject({ n: 3, panes: { xbar: { statistic: 20 } } })
  })

  it('restores the chart state after a restart and carries on exactly (EWMA recursion, rules, subgroup in progress)', async () => {
    const data = await tempDir()
    const yaml = `
  - { id: e, name: EWMA, path: p/a/l/c, source: { mqtt: { topic: t/e } }, chart: { type: ewma, subgroup: { size: 2 }, baselineCount: 5, rules: [N1], ewma: { lambda: 0.3, L: 2.5 } } }
`
    const t0 = Date.now() - 100_000
    const values = Array.from(
      { length: 41 },
      (_, i) => 50 + Math.sin(i * 1.7) * 2 + (i > 25 ? 3 : 0),
    )
    const readings = values.map((value, i) => ({ value, ts: t0 + i * 1000 }))
    try {
      let { gw, mqtt } = await gatewayWith(yaml, data.path)
      await publish(mqtt, 't/e', readings.slice(0, 23)) // 11 subgroups and one reading of the 12th
      await waitFor('11 points', async () => (await chart(gw, 'e')).length === 11)
      await mqtt.endAsync()
      await gw.close()
      open.length = 0
      ;({ gw, mqtt } = await gatewayWith(yaml, data.path))
      await publish(mqtt, 't/e', readings.slice(23))
      const stored = await waitFor('20 points', async () => {
        const p = await chart(gw, 'e')
        return p.length === 20 ? p : undefined
      })

      // The same readings through the pure engine without a restart.
      const spec = characteristicSpec(
        gw.config,
        gw.config.characteristics[0] as (typeof gw.config.characteristics)[number],
      ).chart
      let state = initChart(spec)
      const expected: ChartPoint[] = []
      for (const r of readings) {
        const step = stepChart(spec, state, r)
        state = step.state
        expected.push(...step.points)
      }
      expect(stored.map((p) => [p.index, p.n, p.panes.ewma, p.rules])).toEqual(
        expected.map((p) => [p.index, p.n, p.panes.ewma, p.violations.map((v) => v.rule)]),
      )
      expect(stored.some((p) => p.rules.includes('N1'))).toBe(true)
    } finally {
      await data.remove()
    }
  })
})
