import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CharacteristicView, Health, ReadingsView } from '../gateway/contract.ts'
import { type MachineSimulator, startMachineSimulator } from '../simulators/machine.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import { opcuaScenario } from './helpers/opcua.ts'

const NS = 'urn:linewatch:test:cnc'

describe('OPC-UA machine → gateway (node-opcua server and the gateway client)', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let sim: MachineSimulator
  let pki: { path: string; remove(): Promise<void> }
  let port: number
  const scenario = opcuaScenario([{ id: 'bore', nodeId: 'Cell1.BoreDiameter' }], NS)
  const startSim = () => startMachineSimulator({ scenario, port, pkiDir: pki.path, drive: false })

  beforeAll(async () => {
    pki = await tempDir()
    port = await freePort()
    sim = await startSim()
    gw = await startTestGateway(`
mqtt: { broker: { enabled: false } }
opcua: { servers: [{ id: cnc-1, endpoint: 'opc.tcp://127.0.0.1:${port}', samplingIntervalMs: 0, publishingIntervalMs: 100, securityPolicy: None, securityMode: None }] }
characteristics:
  - id: bore
    name: Bore diameter
    path: plant/machining/cnc-1/spindle
    unit: mm
    source: { opcua: { server: cnc-1, nodeId: 'nsu=${NS};s=Cell1.BoreDiameter' } }
    limits: { actionHigh: 12.01 }
`)
  })
  afterAll(async () => {
    await gw?.close()
    await sim?.stop()
    await gw?.removeDataDir()
    await pki?.remove()
  })

  const readingsSince = async (ts: number) =>
    (await gw.get<ReadingsView>(`/api/characteristics/bore/readings?from=${ts}&to=${ts + 600_000}`))
      .body.readings

  it('a variable change on the machine reaches the gateway: stored, in the chart state, and judged', async () => {
    await waitFor(
      'the OPC-UA connection',
      async () => (await gw.get<Health>('/api/health', null)).body.sources[0]?.connected,
    )
    const ts = Date.now() - 1000
    sim.write('Cell1.BoreDiameter', 12.0003, ts)
    await waitFor('the reading in the store', async () =>
      (await readingsSince(ts)).some((r) => r.value === 12.0003 && r.ts === ts),
    )
    sim.write('Cell1.BoreDiameter', 12.02, ts + 10)
    const view = await waitFor('the action state', async () => {
      const c = (await gw.get<CharacteristicView>('/api/characteristics/bore')).body
      return c.state.status === 'action' ? c : undefined
    })
    expect(view.state.last).toEqual({ ts: ts + 10, value: 12.02 })
    expect(view.state.openNcs).toBe(1)
  })

  it('the machine stopped and started again: the gateway reconnects by itself and readings flow again', async () => {
    await sim.stop()
    await waitFor(
      'the gateway to notice',
      async () => (await gw.get<Health>('/api/health', null)).body.sources[0]?.connected === false,
      {
        timeoutMs: 20_000,
      },
    )
    expect((await gw.get<Health>('/api/health', null)).body.status).toBe('degraded')
    sim = await startSim()
    await waitFor(
      'the reconnection',
      async () => (await gw.get<Health>('/api/health', null)).body.sources[0]?.connected,
      { timeoutMs: 30_000 },
    )
    const ts = Date.now()
    sim.write('Cell1.BoreDiameter', 11.9991, ts)
    await waitFor('a reading after the restart', async () =>
      (await readingsSince(ts)).some((r) => r.value === 11.9991),
    )
    expect((await gw.get<Health>('/api/health', null)).body.status).toBe('ok')
  })
})
