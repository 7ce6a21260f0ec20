import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Health, ReadingsView } from '../gateway/contract.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'
import { type Mosquitto, mosquittoPub, startMosquitto } from './helpers/mosquitto.ts'

const CHARACTERISTIC = `
characteristics:
  - { id: rh, name: Relative humidity, path: site/cleanroom/suite-1/room-b, unit: '%', source: { mqtt: { topic: site/cleanroom/suite-1/room-b/rh } } }
`

const readingsAt = (gw: { get: <T>(p: string) => Promise<{ body: T }> }, ts: number) =>
  gw
    .get<ReadingsView>(`/api/characteristics/rh/readings?from=${ts}&to=${ts + 60_000}`)
    .then((r) => r.body.readings)

describe('interop with Mosquitto', () => {
  it("Mosquitto's mosquitto_pub publishes to the embedded broker and the reading arrives", async () => {
    const gw = await startTestGateway(`mqtt: { broker: { port: 0 } }\n${CHARACTERISTIC}`)
    try {
      const ts = Date.now()
      await mosquittoPub(
        gw.gateway.urls.mqtt as string,
        'site/cleanroom/suite-1/room-b/rh',
        JSON.stringify({ value: 44.5, ts }),
        { qos: 1 },
      )
      await mosquittoPub(
        gw.gateway.urls.mqtt as string,
        'site/cleanroom/suite-1/room-b/rh',
        '45.25',
      )
      const readings = await waitFor('both readings', async () => {
        const r = await readingsAt(gw, ts)
        return r.length === 2 ? r : undefined
      })
      expect(readings[0]).toEqual({ ts, value: 44.5 })
      expect(readings[1]?.value).toBe(45.25)
      expect(readings[1]?.ts).toBeGreaterThanOrEqual(ts)
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  describe('the gateway consumes from a real mosquitto broker as an external broker', () => {
    let mosquitto: Mosquitto
    let data: { path: string; remove(): Promise<void> }
    const config = (url: string) => `
mqtt:
  broker: { enabled: false }
  external: { url: ${url}, clientId: linewatch-interop-test }
  subscribe: [site/#]
${CHARACTERISTIC}`

    beforeAll(async () => {
      mosquitto = await startMosquitto()
      data = await tempDir()
    })
    afterAll(async () => {
      await mosquitto?.stop()
      await data?.remove()
    })

    it('receives readings, and those published while the gateway was down arrive when it comes back (persistent session, QoS 1)', async () => {
      const ts = Date.now()
      let gw = await startTestGateway(config(mosquitto.url), { dataDir: data.path })
      try {
        await waitFor(
          'the external broker connection',
          async () => (await gw.get<Health>('/api/health', null)).body.sources[0]?.connected,
        )
        await mosquittoPub(
          mosquitto.url,
          'site/cleanroom/suite-1/room-b/rh',
          JSON.stringify({ value: 41, ts }),
          { qos: 1 },
        )
        await waitFor('the first reading', async () => (await readingsAt(gw, ts)).length === 1)
      } finally {
        await gw.close()
      }

      // While the gateway is away, the broker keeps QoS 1 messages for its persistent session.
      await mosquittoPub(
        mosquitto.url,
        'site/cleanroom/suite-1/room-b/rh',
        JSON.stringify({ value: 42, ts: ts + 1 }),
        { qos: 1 },
      )
      await mosquittoPub(mosquitto.url, 'site/cleanroom/suite-1/room-b/unmapped', '1', { qos: 1 })

      gw = await startTestGateway(config(mosquitto.url), { dataDir: data.path })
      try {
        const readings = await waitFor('the reading published while away', async () => {
          const r = await readingsAt(gw, ts)
          return r.length === 2 ? r : undefined
        })
        expect(readings).toEqual([
          { ts, value: 41 },
          { ts: ts + 1, value: 42 },
        ])
        const health = await waitFor('the unknown-topic count', async () => {
          const h = (await gw.get<Health>('/api/health', null)).body
          return h.counters.rejected['unknown-topic'] === 1 ? h : undefined
        })
        expect(health.sources).toMatchObject([
          { name: 'mqtt-external', kind: 'mqtt-client', connected: true },
        ])
      } finally {
        await gw.close()
      }
    })
  })
})
