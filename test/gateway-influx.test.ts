import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChartView, Health, ReadingsView } from '../gateway/contract.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { type RunningInfluxd, startInfluxd } from './helpers/influxd.ts'

/** InfluxQL over the real influxd's HTTP API. */
async function influxql(url: string, q: string): Promise<unknown[][]> {
  const res = await fetch(`${url}/query?db=linewatch&epoch=ms&q=${encodeURIComponent(q)}`)
  const body = (await res.json()) as { results: { series?: { values: unknown[][] }[] }[] }
  return body.results[0]?.series?.[0]?.values ?? []
}

describe('the gateway with InfluxDB as its time-series store (a real influxd)', () => {
  let influxd: RunningInfluxd
  let gw: TestGateway & { removeDataDir(): Promise<void> }

  beforeAll(async () => {
    influxd = await startInfluxd()
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store:
  timeseries: influxdb
  influxdb: { url: '${influxd.url}', database: linewatch, flushIntervalMs: 50 }
characteristics:
  - { id: dp, name: Differential pressure, path: plant/aseptic/cr-b/room-1, unit: Pa, source: { mqtt: { topic: cr/dp } }, limits: { actionLow: 10 }, chart: { baselineCount: 4 } }
`)
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
    await influxd?.remove()
  })

  it('writes every reading, chart statistic and event, and serves them back through the API', async () => {
    const t0 = Date.now() - 60_000
    const values = [15.1, 14.8, 15.3, 14.9, 15.0, 8.5]
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    for (const [i, value] of values.entries())
      await mqtt.publishAsync('cr/dp', JSON.stringify({ value, ts: t0 + i * 1000 }))
    await mqtt.endAsync()

    const readings = await waitFor('the readings from InfluxDB', async () => {
      const r = (
        await gw.get<ReadingsView>(`/api/characteristics/dp/readings?from=${t0}&to=${t0 + 10_000}`)
      ).body.readings
      return r.length === values.length ? r : undefined
    })
    expect(readings).toEqual(values.map((value, i) => ({ ts: t0 + i * 1000, value })))

    const chart = (await gw.get<ChartView>('/api/characteristics/dp/chart')).body.points
    expect(chart.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5])
    expect(chart[0]?.panes.mr?.statistic).toBeNull()
    expect(chart[5]?.panes.i?.statistic).toBe(8.5)
    expect(chart[5]?.rules).toEqual(['N1'])
    expect(chart[5]?.phase).toBe('monitor')

    // The same data as InfluxDB holds it.
    expect(
      await influxql(influxd.url, `SELECT value FROM reading WHERE characteristic = 'dp'`),
    ).toEqual(values.map((value, i) => [t0 + i * 1000, value]))
    const events = await influxql(
      influxd.url,
      `SELECT "type", detail FROM event WHERE characteristic = 'dp'`,
    )
    expect(events.map((e) => e[1])).toEqual(
      expect.arrayContaining(['limits-established', 'deviation']),
    )
    const health = (await gw.get<Health>('/api/health', null)).body
    expect(health.store).toMatchObject({ kind: 'influxdb', healthy: true, spooled: 0 })
  })
})
