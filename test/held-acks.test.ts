import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ReadingsView } from '../gateway/contract.ts'
import { HeldAcks } from '../gateway/sources/held-acks.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * HeldAcks between a real loopback socket and what a broker writes: the far end parses what
 * arrives with mqtt-packet (an independent MQTT codec), so the expected packets are MQTT's
 * own encodings (PUBACK = 0x40 0x02 id, PUBREC = 0x50 0x02 id [MQTT-3.4, 3.5]).
 */
describe('acknowledgements held until their messages are stored (HeldAcks)', () => {
  let server: Server
  let near: Socket
  let received: { cmd: string; messageId?: number; topic?: string; payload?: Buffer }[]
  let held: HeldAcks

  beforeEach(async () => {
    received = []
    const accepted = new Promise<Socket>((resolve) => {
      server = createServer(resolve)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address() as { port: number }
    const far = tcpConnect(address.port, '127.0.0.1')
    const parser = mqttPacket.parser()
    parser.on('packet', (p) => received.push(p as (typeof received)[number]))
    far.on('data', (chunk) => parser.parse(chunk))
    near = await accepted
    held = new HeldAcks((bytes, done) => near.write(bytes, done))
  })

  afterEach(async () => {
    near.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  const bytes = (packet: object) => mqttPacket.generate(packet as mqttPacket.Packet)
  const out = (chunk: Buffer) => new Promise<void>((resolve) => held.out(chunk, () => resolve()))
  const puback = (messageId: number) => bytes({ cmd: 'puback', messageId })
  const arrived = (n: number) => waitFor(`${n} packets`, () => received.length >= n)
  const cmds = () =>
    received.map((p) => `${p.cmd}${p.messageId !== undefined ? ` ${p.messageId}` : ''}`)

  it('a PUBACK waits for its release while other packets pass; then it follows', async () => {
    const slot = held.expect(1)
    await out(puback(1))
    await out(bytes({ cmd: 'pingresp' }))
    await arrived(1)
    expect(cmds()).toEqual(['pingresp'])
    expect(held.waiting).toBe(1)
    slot.release()
    expect(held.waiting).toBe(0)
    await arrived(2)
    expect(cmds()).toEqual(['pingresp', 'puback 1'])
  })

  it('acknowledgements leave in the order the PUBLISHes came, whatever order they are released or written in [MQTT-4.6.0-2]', async () => {
    const r1 = held.expect(1)
    const r2 = held.expect(2)
    const r3 = held.expect(3)
    await out(Buffer.concat([puback(3), puback(2)]))
    r3.release()
    r2.release()
    await out(puback(1))
    // 2 and 3 are released but wait behind 1, which is not.
    await out(bytes({ cmd: 'pingresp' }))
    await arrived(1)
    expect(cmds()).toEqual(['pingresp'])
    r1.release()
    await arrived(4)
    expect(cmds()).toEqual(['pingresp', 'puback 1', 'puback 2', 'puback 3'])
  })

  it('released before the broker wrote it: the acknowledgement passes when written', async () => {
    const slot = held.expect(9)
    slot.release()
    await out(bytes({ cmd: 'pubrec', messageId: 9 }))
    await arrived(1)
    expect(cmds()).toEqual(['pubrec 9'])
  })

  it('an acknowledgement split across writes, byte by byte, is framed and held all the same', async () => {
    const slot = held.expect(0x1234)
    const ack = puback(0x1234)
    const publish = bytes({
      cmd: 'publish',
      topic: 'a/b',
      qos: 0,
      // A body holding a PUBACK's bytes is not taken for one.
      payload: Buffer.concat([puback(0x1234), Buffer.alloc(300, 0x40)]),
    })
    const stream = Buffer.concat([ack, publish])
    for (let k = 0; k < stream.length; k++) await out(stream.subarray(k, k + 1))
    await arrived(1)
    expect(received[0]?.cmd).toBe('publish')
    expect(received[0]?.payload?.length).toBe(304)
    slot.release()
    await arrived(2)
    expect(cmds()).toEqual(['publish', 'puback 4660'])
  })

  it('an acknowledgement of a message not expected passes at once', async () => {
    held.expect(1)
    await out(puback(2))
    await arrived(1)
    expect(cmds()).toEqual(['puback 2'])
  })

  it('an id used again before its acknowledgement: each acknowledgement answers one message, in order', async () => {
    const first = held.expect(7)
    const second = held.expect(7)
    await out(Buffer.concat([puback(7), puback(7)]))
    second.release()
    await out(bytes({ cmd: 'pingresp' }))
    await arrived(1)
    first.release()
    await arrived(3)
    expect(cmds()).toEqual(['pingresp', 'puback 7', 'puback 7'])
  })

  it('thousands released in one burst leave together, all of them, in order', async () => {
    const releases = Array.from({ length: 5000 }, (_, k) => held.expect((k % 65535) + 1))
    await out(Buffer.concat(Array.from({ length: 5000 }, (_, k) => puback((k % 65535) + 1))))
    for (const slot of releases) slot.release()
    await arrived(5000)
    expect(received.map((p) => p.messageId)).toEqual(
      Array.from({ length: 5000 }, (_, k) => (k % 65535) + 1),
    )
  })

  it('bytes that are not MQTT (a Remaining Length of 5 bytes) end the framing: from then on everything passes', async () => {
    const sent: Buffer[] = []
    const raw = new HeldAcks((bytes, done) => {
      sent.push(bytes)
      done?.()
    })
    raw.expect(1)
    const garbage = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])
    await new Promise<void>((resolve) =>
      raw.out(Buffer.concat([garbage, puback(1)]), () => resolve()),
    )
    expect(Buffer.concat(sent)).toEqual(Buffer.concat([garbage, puback(1)]))
  })

  it('once the connection is gone, nothing is sent', async () => {
    const slot = held.expect(1)
    await out(puback(1))
    held.close()
    slot.release()
    await out(bytes({ cmd: 'pingresp' }))
    await arrived(1)
    expect(cmds()).toEqual(['pingresp'])
  })
})

describe('the embedded broker reads ahead of the commit, bounded, and acknowledges in order', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  beforeAll(async () => {
    gw = await startTestGateway(`
# A small read-ahead, so that the broker also waits for commits (beyond it).
mqtt: { broker: { port: 0, maxAcksWaiting: 500 } }
characteristics:
  - { id: ra, name: RA, path: s/a/l/ra, source: { mqtt: { topic: ra/x } } }
`)
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('30,000 QoS 1 messages written at once on one connection, far beyond the 500 it reads ahead: every PUBACK in order, only after its reading is stored, every reading stored once', async () => {
    const { hostname, port } = new URL(gw.gateway.urls.mqtt as string)
    const socket = tcpConnect(Number(port), hostname)
    const parser = mqttPacket.parser()
    const acked: number[] = []
    let connacked = false
    parser.on('packet', (p) => {
      if (p.cmd === 'puback') acked.push(p.messageId as number)
      if (p.cmd === 'connack') connacked = true
    })
    socket.on('data', (chunk) => parser.parse(chunk))
    const t0 = Date.now() - 3_600_000
    const n = 30_000
    // Packet ids 1…30,000: none is used twice while in flight.
    const publishes = Array.from({ length: n }, (_, k) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: 'ra/x',
        qos: 1,
        messageId: k + 1,
        dup: false,
        retain: false,
        payload: Buffer.from(JSON.stringify({ value: k, ts: t0 + k })),
      }),
    )
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: 'read-ahead',
        clean: true,
        keepalive: 60,
        protocolId: 'MQTT',
        protocolVersion: 4,
      }),
    )
    // Before its CONNACK a client's packets are queued (aedes keeps 42): it waits, as devices do.
    await waitFor('the CONNACK', () => connacked)
    socket.write(Buffer.concat(publishes))
    // Whenever PUBACKs have come, the readings they acknowledge are already readable.
    let checkedAt = 0
    await waitFor(
      'every PUBACK',
      async () => {
        const upTo = acked.length
        if (upTo > checkedAt) {
          const { body } = await gw.get<ReadingsView>(
            `/api/characteristics/ra/readings?from=${t0}&to=${t0 + n}&limit=100000`,
          )
          expect(body.readings.length).toBeGreaterThanOrEqual(upTo)
          checkedAt = upTo
        }
        return acked.length === n
      },
      { timeoutMs: 120_000 },
    )
    expect(acked).toEqual(Array.from({ length: n }, (_, k) => k + 1))
    const { body } = await gw.get<ReadingsView>(
      `/api/characteristics/ra/readings?from=${t0}&to=${t0 + n}&limit=100000`,
    )
    expect(body.readings).toEqual(Array.from({ length: n }, (_, k) => ({ ts: t0 + k, value: k })))
    socket.destroy()
  }, 180_000)

  it('a QoS 2 PUBLISH sent again before its PUBREL is acknowledged again and stored once; the id is new after PUBCOMP [MQTT-4.3.3-2]', async () => {
    const { hostname, port } = new URL(gw.gateway.urls.mqtt as string)
    const socket = tcpConnect(Number(port), hostname)
    const parser = mqttPacket.parser()
    const got: string[] = []
    parser.on('packet', (p) => got.push(`${p.cmd}${'messageId' in p ? ` ${p.messageId}` : ''}`))
    socket.on('data', (chunk) => parser.parse(chunk))
    const send = (packet: object) => socket.write(mqttPacket.generate(packet as mqttPacket.Packet))
    const t1 = Date.now() - 7_200_000
    const publish = (value: number, ts: number, dup: boolean) =>
      send({
        cmd: 'publish',
        topic: 'ra/x',
        qos: 2,
        messageId: 9,
        dup,
        retain: false,
        payload: Buffer.from(JSON.stringify({ value, ts })),
      })
    send({
      cmd: 'connect',
      clientId: 'qos2-again',
      clean: true,
      keepalive: 60,
      protocolId: 'MQTT',
      protocolVersion: 4,
    })
    await waitFor('the CONNACK', () => got.includes('connack'))
    publish(1, t1, false)
    publish(1, t1, true) // the same message again, its PUBREC not yet come
    await waitFor('two PUBRECs', () => got.filter((g) => g === 'pubrec 9').length === 2)
    send({ cmd: 'pubrel', messageId: 9 })
    await waitFor('the PUBCOMP', () => got.includes('pubcomp 9'))
    publish(2, t1 + 1, false) // id 9 again after PUBCOMP: a new message
    await waitFor('a third PUBREC', () => got.filter((g) => g === 'pubrec 9').length === 3)
    send({ cmd: 'pubrel', messageId: 9 })
    await waitFor('the second PUBCOMP', () => got.filter((g) => g === 'pubcomp 9').length === 2)
    const { body } = await gw.get<ReadingsView>(
      `/api/characteristics/ra/readings?from=${t1 - 1}&to=${t1 + 2}`,
    )
    expect(body.readings).toEqual([
      { ts: t1, value: 1 },
      { ts: t1 + 1, value: 2 },
    ])
    socket.destroy()
  })
})
