import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partitionOf } from '../rules/leases.ts'
import {
  alarmOn,
  type ClusterGateway,
  type ClusterPlant,
  connectDevice,
  startClusterPlant,
} from './helpers/cluster.ts'
import { waitFor } from './helpers/index.ts'

/**
 * Suppression by design (ISA-18.2 §11) by an alarm, across the gateways of one cluster: a pump's
 * trip alarm, judged by one gateway, suppresses the high alarms of characteristics the other
 * judges while it is active; and still does, and ends, once the survivor has taken the pump over
 * from a gateway that died.
 */
const PARTITIONS = 4
const LEASE_MS = 4000
const KS = Array.from({ length: 8 }, (_, c) => `k${c}`)
const line = (c: string) =>
  `  - { id: ${c}, name: ${c.toUpperCase()}, path: plant/suppression/${c}, source: { mqtt: { topic: su/${c} } }, limits: { actionHigh: 10 }, chart: { baselineCount: 8 } }`
const yaml = `
alarms:
  suppression: [{ when: { alarm: 'pump:HH' }, suppress: ['*:HH'] }]
characteristics:
${['pump', ...KS].map(line).join('\n')}
`

describe('suppression by an alarm another gateway judges', () => {
  let plant: ClusterPlant
  let device: Awaited<ReturnType<typeof connectDevice>> | undefined

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-suppression-')
  }, 60_000)

  afterAll(async () => {
    device?.client.end(true)
    await plant?.stop()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'suppression',
      clientId: 'lws',
      yaml,
    })

  it('suppresses the alarms of the other gateway while the pump trip is active, also after a takeover', async () => {
    const gateways = new Map([
      ['gw-a', await startGateway('gw-a')],
      ['gw-b', await startGateway('gw-b')],
    ])
    const held = await plant.settled(PARTITIONS, 2)
    const pumpOwner = held.get(partitionOf('pump', PARTITIONS)) as string
    const survivorName = pumpOwner === 'gw-a' ? 'gw-b' : 'gw-a'
    const survivor = gateways.get(survivorName) as ClusterGateway
    const target = KS.find((c) => held.get(partitionOf(c, PARTITIONS)) === survivorName) as string
    expect(target).toBeDefined()
    device = await connectDevice(plant, 'suppression-device', 'su')
    const { publish } = device

    // The pump trips on its gateway.
    await waitFor('the pump’s trip alarm on its gateway', async () => {
      await publish('pump', 14)
      const v = await alarmOn(gateways.get(pumpOwner) as ClusterGateway, 'pump:HH')
      return v.active && v.state === 'unack-active' ? v : undefined
    })
    // The target, judged by the other gateway, goes high: its alarm is suppressed by design
    // (at once, or once the trip's announcement comes: it follows the trip's commit).
    await waitFor('the target’s alarm to be active and suppressed', async () => {
      await publish(target, 14)
      const v = await alarmOn(survivor, `${target}:HH`)
      return v.active && v.state === 'suppressed'
    })

    // The pump's gateway dies while the trip is active: the survivor takes the pump over, and
    // the trip still suppresses.
    await plant.kill(pumpOwner)
    await plant.heldBy(survivorName, PARTITIONS)
    await publish(target, 15)
    expect((await alarmOn(survivor, `${target}:HH`)).state).toBe('suppressed')

    // The pump is back: its alarm clears on the survivor, which judges it now, and the target's
    // alarm, still active, is announced.
    await waitFor('the pump’s alarm to clear on the survivor', async () => {
      await publish('pump', 5)
      return !(await alarmOn(survivor, 'pump:HH')).active
    })
    const announced = await waitFor('the target’s alarm to be announced', async () => {
      const v = await alarmOn(survivor, `${target}:HH`)
      return v.state === 'unack-active' ? v : undefined
    })
    expect(announced.active).toBe(true)
  }, 120_000)
})
