import { type Socket, connect as tcpConnect } from 'node:net'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeadLettersView, Health, ReadingsView } from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { varint, waitFor } from './helpers/index.ts'

const TOPIC = 'plant/area/line/cell/temperature'
const MAX_PACKET = 2048

function str(text: string): Buffer {
  const b = Buffer.from(text)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}

function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(clientId)])
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body])
}

function publishPacket(topic: string, payload: Buffer): Buffer {
  const body = Buffer.concat([str(topic), payload])
  return Buffer.concat([Buffer.from([0x30, ...varint(body.length)]), body])
}

/** A raw MQTT 3.1.1 client over TCP, connected (CONNACK received). */
async function rawClient(url: string, clientId: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = tcpConnect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('data', (d: Buffer) =>
      d[0] === 0x20 && d[3] === 0
        ? resolve()
        : reject(new Error(`no CONNACK: ${d.toString('hex')}`)),
    )
    socket.write(connectPacket(clientId))
  })
  return socket
}

describe('bad input is refused with its reason, kept, and the gateway stays healthy', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 }, maxPacketBytes: ${MAX_PACKET}, subscribe: [plant/#] }
characteristics:
  - { id: temp, name: Temperature, path: plant/area/line/cell, source: { mqtt: { topic: ${TOPIC} } }, chart: { baselineCount: 3 } }
`)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
  })
  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  const deadLetters = async () =>
    (await gw.get<DeadLettersView>('/api/dead-letters?limit=1000', TOKENS.engineer)).body

  async function expectRefused(topic: string, payload: string, reason: string, detail: RegExp) {
    const before = (await deadLetters()).counts[reason as keyof DeadLettersView['counts']]
    await mqtt.publishAsync(topic, payload)
    const letter = await waitFor(`a ${reason} dead letter`, async () => {
      const view = await deadLetters()
      return view.counts[reason as keyof DeadLettersView['counts']] === before + 1
        ? view.items.find((i) => i.reason === reason && i.payloadText === payload)
        : undefined
    })
    expect(letter).toMatchObject({
      source: 'mqtt',
      reason,
      address: topic,
      size: Buffer.byteLength(payload),
    })
    expect(letter.detail).toMatch(detail)
    expect(Buffer.from(letter.payloadBase64, 'base64').toString()).toBe(payload)
  }

  it('malformed JSON', () =>
    expectRefused(TOPIC, '{"value": 21.5,', 'malformed-json', /not valid JSON/))
  it('a non-numeric value', () =>
    expectRefused(
      TOPIC,
      '{"value": "21.5"}',
      'not-a-number',
      /"value" must be a JSON number, got string "21.5"/,
    ))
  it('a payload that is no number at all', () =>
    expectRefused(TOPIC, 'hot', 'not-a-number', /neither a number nor a JSON/))
  it('NaN', () => expectRefused(TOPIC, 'NaN', 'non-finite', /NaN is not a finite number/))
  it('Infinity', () => expectRefused(TOPIC, '-Infinity', 'non-finite', /not a finite number/))
  it('a number beyond the range of a double', () =>
    expectRefused(TOPIC, '{"value": 1e999}', 'non-finite', /out of the range/))
  it('an unknown topic', () =>
    expectRefused(
      'plant/area/line/cell/nobody',
      '21.5',
      'unknown-topic',
      /no characteristic is mapped to topic "plant\/area\/line\/cell\/nobody"/,
    ))
  it('a time stamp without a zone', () =>
    expectRefused(
      TOPIC,
      '{"value": 21.5, "ts": "2026-11-22T08:00:00"}',
      'bad-timestamp',
      /not ISO 8601 with a time zone/,
    ))
  it('a time stamp in epoch seconds', () =>
    expectRefused(
      TOPIC,
      '{"value": 21.5, "ts": 1795000000}',
      'bad-timestamp',
      /before 2000-01-01 .*seconds\?/,
    ))
  it('an object without a value', () =>
    expectRefused(TOPIC, '{"temperature": 21.5}', 'bad-shape', /"value" is missing/))

  it("[MQTT-4.7.2-1] the broker's own $SYS topics are not taken for unknown device topics", async () => {
    const client = await connectAsync(gw.gateway.urls.mqtt as string, { clientId: 'sys-probe' })
    await client.endAsync()
    await new Promise((r) => setTimeout(r, 300))
    expect((await deadLetters()).items.filter((i) => i.address?.startsWith('$'))).toEqual([])
  })

  it('an array keeps its good readings and refuses its bad element', async () => {
    const ts = Date.now()
    await mqtt.publishAsync(
      TOPIC,
      JSON.stringify([
        { value: 20.1, ts },
        { value: 'x', ts: ts + 1 },
        { value: 20.3, ts: ts + 2 },
      ]),
    )
    const stored = await waitFor('the two good readings', async () => {
      const r = (
        await gw.get<ReadingsView>(`/api/characteristics/temp/readings?from=${ts}&to=${ts + 10}`)
      ).body.readings
      return r.length === 2 ? r : undefined
    })
    expect(stored).toEqual([
      { ts, value: 20.1 },
      { ts: ts + 2, value: 20.3 },
    ])
    const letter = (await deadLetters()).items.find((i) => i.detail.startsWith('[1] '))
    expect(letter).toMatchObject({ reason: 'not-a-number' })
  })

  it('an oversize packet is cut off at its header, before the broker buffers it; packets before it still count', async () => {
    const socket = await rawClient(gw.gateway.urls.mqtt as string, 'big-sender')
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const ts = Date.now()
    // A good PUBLISH, then the header of a 100 MB PUBLISH whose body never comes: a broker that
    // buffered packets would wait for the body; the guard closes the connection at once.
    const declared = 100_000_000
    const header = Buffer.concat([
      Buffer.from([0x30, ...varint(declared)]),
      str(TOPIC),
      Buffer.from('{"value": 1'),
    ])
    socket.write(
      Buffer.concat([
        publishPacket(TOPIC, Buffer.from(JSON.stringify({ value: 19.9, ts }))),
        header,
      ]),
    )
    await closed
    const letter = await waitFor('the oversize dead letter', async () =>
      (await deadLetters()).items.find((i) => i.reason === 'oversize'),
    )
    expect(letter.address).toBe(TOPIC)
    expect(letter.size).toBe(1 + varint(declared).length + declared - 0)
    expect(letter.detail).toMatch(
      /from client "big-sender" exceeds mqtt.maxPacketBytes \(2048\); connection closed/,
    )
    await waitFor('the good reading sent before it', async () => {
      const r = (
        await gw.get<ReadingsView>(`/api/characteristics/temp/readings?from=${ts}&to=${ts}`)
      ).body.readings
      return r.length === 1 && r[0]?.value === 19.9
    })
  })

  it('a payload just under the limit is accepted; one just over is refused', async () => {
    const ts = Date.now()
    const pad = (n: number) => JSON.stringify({ value: 18.8, ts, pad: 'x'.repeat(n) })
    const topicBytes = 2 + Buffer.byteLength(TOPIC)
    const fits = pad(MAX_PACKET - 1 - 2 - topicBytes - pad(0).length) // 1 type byte + 2 length bytes
    expect(publishPacket(TOPIC, Buffer.from(fits)).length).toBe(MAX_PACKET)
    await mqtt.publishAsync(TOPIC, fits)
    await waitFor('the reading that fits', async () => {
      const r = (
        await gw.get<ReadingsView>(`/api/characteristics/temp/readings?from=${ts}&to=${ts}`)
      ).body.readings
      return r.some((x) => x.value === 18.8)
    })
    const before = (await deadLetters()).counts.oversize
    const client = await connectAsync(gw.gateway.urls.mqtt as string, { reconnectPeriod: 0 })
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.publish(TOPIC, `${fits} `)
    await gone
    await client.endAsync(true)
    await waitFor(
      'one more oversize',
      async () => (await deadLetters()).counts.oversize === before + 1,
    )
  })

  it('after all that the gateway is healthy and still takes readings; the counts per reason are in /api/health', async () => {
    const ts = Date.now()
    await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 21, ts }))
    await waitFor('a good reading', async () => {
      const r = (
        await gw.get<ReadingsView>(`/api/characteristics/temp/readings?from=${ts}&to=${ts}`)
      ).body.readings
      return r.length === 1
    })
    const health = await gw.get<Health>('/api/health', null)
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')
    expect(health.body.counters.rejected).toMatchObject({
      'malformed-json': 1,
      'not-a-number': 3,
      'non-finite': 3,
      'unknown-topic': 1,
      'bad-timestamp': 2,
      'bad-shape': 1,
      oversize: 2,
    })
  })
})
