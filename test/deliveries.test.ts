import { connect as tcpConnect } from 'node:net'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReadingsView } from '../gateway/contract.ts'
import { DELIVERY_MEMORY_MS, RecentDeliveries } from '../gateway/sources/deliveries.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { watchThreads } from './helpers/threads.ts'

describe('a message sent again after a reconnect is known (RecentDeliveries)', () => {
  it('same packet id and checksum on a later connection: a resend; on the same connection: new', () => {
    const d = new RecentDeliveries([])
    d.connected('dev')
    expect(d.take('dev', 7, 111, 0)).toBe(false)
    // Ids are reused once acknowledged: on the same connection the same id and payload is new.
    expect(d.take('dev', 7, 111, 10)).toBe(false)
    d.connected('dev')
    expect(d.take('dev', 7, 111, 20)).toBe(true)
    // Once seen again on the new connection, the id is free for new messages.
    expect(d.take('dev', 7, 111, 30)).toBe(false)
    d.connected('dev')
    expect(d.take('dev', 7, 222, 40)).toBe(false) // another payload under the id: new
    expect(d.take('other', 7, 222, 50)).toBe(false) // another client
    expect(d.resends).toBe(1)
  })

  it('what the journal kept before a restart counts as an earlier connection; it is forgotten in time', () => {
    const d = new RecentDeliveries([{ client: 'dev', messageId: 3, hash: 9, at: 1000 }])
    expect(d.take('dev', 3, 9, 2000)).toBe(true)
    const late = new RecentDeliveries([{ client: 'dev', messageId: 3, hash: 9, at: 1000 }])
    expect(late.take('dev', 3, 9, 1000 + DELIVERY_MEMORY_MS)).toBe(false)
    const pruned = new RecentDeliveries([{ client: 'dev', messageId: 3, hash: 9, at: 0 }])
    pruned.prune(DELIVERY_MEMORY_MS)
    expect(pruned.take('dev', 3, 9, 1)).toBe(false)
  })
})

/** A raw QoS 1 PUBLISH (MQTT 3.1.1), so the test chooses the packet id. */
function publishQos1(topic: string, id: number, payload: string): Buffer {
  const t = Buffer.from(topic)
  const body = Buffer.concat([
    Buffer.from([t.length >> 8, t.length & 0xff]),
    t,
    Buffer.from([id >> 8, id & 0xff]),
    Buffer.from(payload),
  ])
  return Buffer.concat([Buffer.from([0x32, body.length]), body])
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId)
  const body = Buffer.concat([
    Buffer.from([0, 4]),
    Buffer.from('MQTT'),
    Buffer.from([4, 0x02, 0, 60, id.length >> 8, id.length & 0xff]),
    id,
  ])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

/** Connects, publishes, waits for the PUBACK of `id`, and closes: one connection per call. */
async function sendOnce(url: string, id: number, payload: string): Promise<void> {
  const { hostname, port } = new URL(url)
  const socket = tcpConnect(Number(port), hostname)
  let received = Buffer.alloc(0)
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d])
      // CONNACK (20 02 00 00), then PUBACK (40 02 id).
      if (received.length === 4) socket.write(publishQos1('dd/x', id, payload))
      if (received.length >= 8 && received[4] === 0x40 && received.readUInt16BE(6) === id) resolve()
    })
    socket.write(connectPacket('resender'))
  })
  socket.destroy()
}

describe('the embedded broker stores a resent QoS 1 message once', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: x, name: X, path: s/a/l/c, source: { mqtt: { topic: dd/x } } }
`)
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('a PUBACK lost with the connection: the same id and payload again is acknowledged, not stored twice', async () => {
    const t0 = Date.now() - 10_000
    const url = gw.gateway.urls.mqtt as string
    await sendOnce(url, 7, JSON.stringify({ value: 1, ts: t0 }))
    await sendOnce(url, 7, JSON.stringify({ value: 1, ts: t0 })) // the resend
    await sendOnce(url, 7, JSON.stringify({ value: 2, ts: t0 + 1 })) // id reused for a new one
    const readings = await waitFor('the readings', async () => {
      const body = (
        await gw.get<ReadingsView>(`/api/characteristics/x/readings?from=${t0 - 1}&to=${t0 + 2}`)
      ).body
      return body.readings.length >= 2 ? body.readings : undefined
    })
    expect(readings).toEqual([
      { ts: t0, value: 1 },
      { ts: t0 + 1, value: 2 },
    ])
  })
})

describe('a broker thread that dies', () => {
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | undefined
  let device: MqttClient | undefined
  const watched = watchThreads()
  afterAll(async () => {
    watched.restore()
    device?.end(true)
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('is started again on its port; every reading a device published at QoS 1 is stored once', async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: x, name: X, path: s/a/l/c, source: { mqtt: { topic: dd/x } } }
`)
    const gateway = gw
    const url = gateway.gateway.urls.mqtt as string
    // A device with a session: what it has not had acknowledged it sends again on reconnecting.
    device = await connectAsync(url, { clientId: 'line-3', clean: false, reconnectPeriod: 100 })
    device.on('error', () => {})
    let connections = 1
    device.on('connect', () => connections++)
    const t0 = Date.now() - 60_000
    const N = 400
    const acked: number[] = []
    const sent: Promise<void>[] = []
    // The thread the gateway tells that batches are durable: the broker's.
    const broker = watched.posted('durable')
    for (let k = 1; k <= N; k++) {
      const payload = JSON.stringify({ value: k, ts: t0 + k })
      sent.push(
        (device as MqttClient).publishAsync('dd/x', payload, { qos: 1 }).then(() => {
          acked.push(k)
        }),
      )
      // It dies as the first batch is committed: those stored, their acknowledgements not
      // sent (to be recognised when sent again); the rest in flight or not sent yet.
      if (k === N / 2) await (await broker).terminate()
    }
    await waitFor('the device to be connected again', () => connections > 1 || undefined, {
      timeoutMs: 30_000,
    })
    await Promise.all(sent)
    expect(acked).toHaveLength(N)
    expect(gateway.gateway.urls.mqtt).toBe(url)
    const readings = await waitFor('every reading', async () => {
      const body = (
        await gateway.get<ReadingsView>(
          `/api/characteristics/x/readings?from=${t0}&to=${t0 + N}&limit=10000`,
        )
      ).body
      return body.readings.length >= N ? body.readings : undefined
    })
    expect(readings.map((r) => r.value).sort((a, b) => a - b)).toEqual(
      Array.from({ length: N }, (_, k) => k + 1),
    )
  }, 60_000)
})
