import { type Socket, connect as tcpConnect } from 'node:net'
import { connect, connectAsync, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChartView, ReadingsView } from '../gateway/contract.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * The embedded broker takes a device's reading before aedes parses and routes it when nothing
 * else would receive it (sources/packet-guard.ts, `direct` in sources/broker-thread.ts). What
 * MQTT asks of a broker must still hold: the client stays alive while it publishes, a
 * subscriber (online, or offline with a persistent session) still gets what it subscribed
 * to, retained messages are retained, and one connection's messages are taken and
 * acknowledged in the order they came, whichever way each goes. Raw packets are encoded and
 * decoded with mqtt-packet (an independent MQTT codec).
 */
describe('readings taken before the broker routes them: MQTT as a broker owes it', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  const clients: MqttClient[] = []
  const sockets: Socket[] = []
  const t0 = Date.now() - 3_600_000

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: ka, name: KA, path: s/a/l/ka, source: { mqtt: { topic: k/ka } } }
  - { id: sub, name: SUB, path: s/a/l/sub, source: { mqtt: { topic: d/sub } } }
  - { id: off, name: OFF, path: s/a/l/off, source: { mqtt: { topic: p/off } } }
  - { id: ord, name: ORD, path: s/a/l/ord, source: { mqtt: { topic: o/ord } } }
  - { id: self, name: SELF, path: s/a/l/self, source: { mqtt: { topic: s/self } } }
`)
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await gw?.close()
    await gw?.removeDataDir()
  })

  const url = () => gw.gateway.urls.mqtt as string
  const client = async (options: object = {}) => {
    const c = await connectAsync(url(), { reconnectPeriod: 0, ...options })
    clients.push(c)
    return c
  }
  const readings = async (id: string) =>
    (
      await gw.get<ReadingsView>(
        `/api/characteristics/${id}/readings?from=${t0 - 1}&to=${t0 + 100_000}&limit=100000`,
      )
    ).body.readings
  const json = (value: number, ts: number) => Buffer.from(JSON.stringify({ value, ts }))

  /** A raw MQTT connection: what it receives, parsed; `send` encodes a packet. */
  const raw = async (clientId: string, keepalive: number) => {
    const { hostname, port } = new URL(url())
    const socket = tcpConnect(Number(port), hostname)
    sockets.push(socket)
    const parser = mqttPacket.parser()
    const got: mqttPacket.Packet[] = []
    parser.on('packet', (p) => got.push(p))
    socket.on('data', (chunk) => parser.parse(chunk))
    let closed = false
    socket.on('close', () => {
      closed = true
    })
    const encode = (packet: object) => mqttPacket.generate(packet as mqttPacket.Packet)
    socket.write(
      encode({
        cmd: 'connect',
        clientId,
        clean: true,
        keepalive,
        protocolId: 'MQTT',
        protocolVersion: 4,
      }),
    )
    await waitFor('the CONNACK', () => got.some((p) => p.cmd === 'connack'))
    return { socket, got, encode, closed: () => closed }
  }

  it('a client that publishes and never pings is alive: its keep-alive counts the readings taken before the broker [MQTT-3.1.2-24]', async () => {
    // Keep-alive 2 s: the broker closes a connection silent for 1.5 times that, 3 s.
    const c = await raw('no-pings', 2)
    const n = 28
    for (let k = 0; k < n; k++) {
      c.socket.write(
        c.encode({
          cmd: 'publish',
          topic: 'k/ka',
          qos: 0,
          retain: false,
          dup: false,
          payload: json(k, t0 + k),
        }),
      )
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    // 7 s of publishing, more than twice the keep-alive's grace, and no PINGREQ.
    await waitFor('every reading stored', async () => (await readings('ka')).length === n)
    expect(c.closed()).toBe(false)
    expect(await readings('ka')).toEqual(
      Array.from({ length: n }, (_, k) => ({ ts: t0 + k, value: k })),
    )
  }, 30_000)

  it('a subscriber to a mapped topic gets every message published after its subscription; all are stored', async () => {
    const device = await client({ clientId: 'device-sub' })
    const before = [0, 1, 2]
    for (const k of before) await device.publishAsync('d/sub', json(k, t0 + k), { qos: 1 })
    const listener = await client({ clientId: 'listener' })
    const heard: { topic: string; value: number }[] = []
    listener.on('message', (topic, payload) =>
      heard.push({ topic, value: (JSON.parse(payload.toString()) as { value: number }).value }),
    )
    await listener.subscribeAsync('d/+', { qos: 1 })
    for (let k = 3; k < 8; k++)
      await device.publishAsync('d/sub', json(k, t0 + k), { qos: (k % 2) as 0 | 1 })
    await waitFor('five messages heard', () => heard.length >= 5)
    expect(heard).toEqual([3, 4, 5, 6, 7].map((value) => ({ topic: 'd/sub', value })))
    await waitFor('eight readings stored', async () => (await readings('sub')).length === 8)
  })

  it('a persistent session offline gets the QoS 1 messages published meanwhile on a mapped topic, when it returns', async () => {
    const first = await client({ clientId: 'offline-listener', clean: false })
    await first.subscribeAsync('p/#', { qos: 1 })
    await first.endAsync()
    const device = await client({ clientId: 'device-off' })
    for (let k = 0; k < 3; k++) await device.publishAsync('p/off', json(k, t0 + k), { qos: 1 })
    const heard: number[] = []
    // Listening before the connection is made: the queued messages follow its CONNACK.
    const back = connect(url(), { clientId: 'offline-listener', clean: false, reconnectPeriod: 0 })
    clients.push(back)
    back.on('message', (_topic, payload) =>
      heard.push((JSON.parse(payload.toString()) as { value: number }).value),
    )
    await waitFor('three queued messages', () => heard.length >= 3)
    expect(heard).toEqual([0, 1, 2])
    await waitFor('three readings stored', async () => (await readings('off')).length === 3)
  })

  it('one write of 300 QoS 1 PUBLISHes, every third retained (those go through the broker): charted and acknowledged in the order sent, the last retained one kept', async () => {
    const c = await raw('order', 60)
    const n = 300
    c.socket.write(
      Buffer.concat(
        Array.from({ length: n }, (_, k) =>
          c.encode({
            cmd: 'publish',
            topic: 'o/ord',
            qos: 1,
            messageId: k + 1,
            retain: k % 3 === 0,
            dup: false,
            payload: json(k, t0 + k),
          }),
        ),
      ),
    )
    const acks = () => c.got.filter((p) => p.cmd === 'puback').map((p) => p.messageId)
    await waitFor('every PUBACK', () => acks().length === n, { timeoutMs: 60_000 })
    expect(acks()).toEqual(Array.from({ length: n }, (_, k) => k + 1))
    const { body } = await gw.get<ChartView>(
      `/api/characteristics/ord/chart?from=${t0 - 1}&to=${t0 + n}&limit=1000`,
    )
    // Taken in order: the chart's points follow the readings' times one for one.
    expect(body.points.map((p) => p.ts)).toEqual(Array.from({ length: n }, (_, k) => t0 + k))
    const indices = body.points.map((p) => p.index)
    expect(indices).toEqual(Array.from({ length: n }, (_, k) => (indices[0] as number) + k))
    // The broker kept the last retained message, k = 297, for a new subscriber.
    const late = await client({ clientId: 'late' })
    const retained: number[] = []
    late.on('message', (_topic, payload, packet) => {
      if (packet.retain) retained.push((JSON.parse(payload.toString()) as { value: number }).value)
    })
    await late.subscribeAsync('o/ord', { qos: 0 })
    await waitFor('the retained message', () => retained.length === 1)
    expect(retained).toEqual([297])
  })
  it('a SUBSCRIBE and a PUBLISH it matches, in one write: the client receives its own message, which is stored', async () => {
    const c = await raw('self', 60)
    c.socket.write(
      Buffer.concat([
        c.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 's/+', qos: 0 }] }),
        c.encode({
          cmd: 'publish',
          topic: 's/self',
          qos: 1,
          messageId: 2,
          retain: false,
          dup: false,
          payload: json(1, t0 + 1),
        }),
      ]),
    )
    await waitFor('its own message back', () => c.got.some((p) => p.cmd === 'publish'))
    expect(
      c.got.filter((p) => p.cmd === 'publish').map((p) => (p as { topic: string }).topic),
    ).toEqual(['s/self'])
    await waitFor('the PUBACK', () => c.got.some((p) => p.cmd === 'puback'))
    expect(await readings('self')).toEqual([{ ts: t0 + 1, value: 1 }])
  })
})
