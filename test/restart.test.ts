import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CharacteristicView, NonconformanceSummary } from '../gateway/contract.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

const TOPIC = 'demo/cnc/cell-1/spindle/temperature'
const CONFIG = `
mqtt: { broker: { port: 0 } }
characteristics:
  - id: spindle-temp
    name: Spindle temperature
    path: demo/cnc/cell-1/spindle
    source: { mqtt: { topic: ${TOPIC} } }
    limits: { actionHigh: 45 }
    chart: { baselineCount: 4 }
`

describe('restart on the same data directory', () => {
  let data: { path: string; remove(): Promise<void> }
  beforeAll(async () => {
    data = await tempDir()
  })
  afterAll(() => data?.remove())

  it('keeps its nonconformances and frozen limits, and the chart carries on where it stopped', async () => {
    const t0 = Date.UTC(2026, 10, 22, 6)
    let gw = await startTestGateway(CONFIG, { dataDir: data.path })
    let frozen: CharacteristicView
    let ncs: NonconformanceSummary[]
    try {
      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      for (const [i, value] of [38, 38.4, 37.8, 38.2, 46].entries()) {
        await mqtt.publishAsync(TOPIC, JSON.stringify({ value, ts: t0 + i * 1000 }))
      }
      await mqtt.endAsync()
      ncs = await waitFor('the NC', async () => {
        const list = (await gw.get<NonconformanceSummary[]>('/api/nonconformances?status=open'))
          .body
        return list.length === 1 ? list : undefined
      })
      frozen = (await gw.get<CharacteristicView>('/api/characteristics/spindle-temp')).body
      expect(frozen.chart.control).not.toBeNull()
    } finally {
      await gw.close()
    }

    gw = await startTestGateway(CONFIG, { dataDir: data.path })
    try {
      const after = (await gw.get<CharacteristicView>('/api/characteristics/spindle-temp')).body
      expect(after.chart.control).toEqual(frozen.chart.control)
      expect(after.state).toEqual(frozen.state)
      expect(
        (await gw.get<NonconformanceSummary[]>('/api/nonconformances?status=open')).body,
      ).toEqual(ncs)

      // The next point continues the chart's numbering, and a repeat adds to the NC opened before the restart.
      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 38.1, ts: t0 + 5000 }))
      await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 47, ts: t0 + 6000 }))
      await mqtt.endAsync()
      const nc = await waitFor('the repeat on the old NC', async () => {
        const list = (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body
        return list.length === 1 && list[0]?.occurrences === 2 ? list[0] : undefined
      })
      expect(nc.id).toBe(ncs[0]?.id)
      const chart = (
        await gw.get<{ points: { index: number; ts: number }[] }>(
          '/api/characteristics/spindle-temp/chart',
        )
      ).body
      expect(chart.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6])
    } finally {
      await gw.close()
    }
  })

  it('estimates the limits anew, saying so, when the chart configuration changed', async () => {
    const gw = await startTestGateway(CONFIG.replace('baselineCount: 4', 'baselineCount: 6'), {
      dataDir: data.path,
    })
    try {
      const view = (await gw.get<CharacteristicView>('/api/characteristics/spindle-temp')).body
      expect(view.chart.control).toBeNull()
      expect(view.state.baseline).toEqual({ have: 0, need: 6 })
    } finally {
      await gw.close()
    }
  })
})
