import { once } from 'node:events'
import { type Socket, connect as tcpConnect } from 'node:net'
import fc from 'fast-check'
import { connectAsync, type MqttClient } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeadLettersView, Health, ReadingsView } from '../gateway/contract.ts'
import { REJECT_REASONS, type RejectReason } from '../gateway/sources/status.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { varint, waitFor } from './helpers/index.ts'

/**
 * Fuzzing the running gateway (in this process, embedded aedes broker, real sockets): payloads
 * published with mqtt.js and raw MQTT packets written on TCP sockets. After every batch the
 * gateway must be up (no uncaught exception or unhandled rejection in this process, the HTTP
 * API answers), a canary client's QoS 1 reading must arrive and be stored, and what was
 * refused must be counted under its reason — exactly, where the outcome is known in advance.
 */

const TOPIC = 'plant/fuzz/cell/value'
const CANARY = 'plant/fuzz/cell/canary'
const MAX_PACKET = 1024 * 1024

// The documented range of a time stamp, written out here: 2000-01-01Z .. receive time + 1 day.
const Y2000 = 946_684_800_000
const DAY = 86_400_000
const MINUTE = 60_000
/** When the generators were built: readings are received within minutes of it. */
const T0 = Date.now()
/** Time stamps within this much of the "day ahead" edge are not generated: its verdict depends on the exact receive time. */
const EDGE = 10 * MINUTE
const nearEdge = (ms: number) => Math.abs(ms - (T0 + DAY)) < EDGE

type Outcome = 'reading' | RejectReason
type Counts = { readings: number; rejected: Record<RejectReason, number> }

// --- What each payload must give, computed from the documented format -----------------------

/** ISO text as Date#toISOString writes it: the only valid string form the generators make. */
const TO_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function timestampOk(ts: unknown): boolean {
  if (ts === undefined) return true
  let ms: number
  if (typeof ts === 'number') ms = ts
  else if (typeof ts === 'string' && TO_ISO.test(ts)) ms = new Date(ts).getTime()
  else return false
  return Number.isFinite(ms) && ms >= Y2000 && ms <= T0 + DAY
}

/** One JSON object (or array element) → a reading or the reason it is refused. */
function expectElement(element: unknown): Outcome {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return 'bad-shape'
  const { value, ts } = element as { value?: unknown; ts?: unknown }
  if (value === undefined) return 'bad-shape'
  if (typeof value !== 'number') return 'not-a-number'
  return timestampOk(ts) ? 'reading' : 'bad-timestamp'
}

/** A payload that is JSON text → what each of its readings gives. */
function expectJson(text: string): Outcome[] {
  const json: unknown = JSON.parse(text)
  if (typeof json === 'number') return ['reading'] // a bare number, at the receive time
  if (json === null || typeof json !== 'object') return ['not-a-number'] // "x", true, null
  if (!Array.isArray(json)) return [expectElement(json)]
  return json.length === 0 ? ['bad-shape'] : json.map(expectElement)
}

/** How many outcomes (readings or refusals) any bytes give: one per array element, else one. */
function outcomeCount(bytes: Uint8Array): number {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).trim()
  } catch {
    return 1
  }
  if (!text.startsWith('[')) return 1
  try {
    const json: unknown = JSON.parse(text)
    return Array.isArray(json) && json.length > 0 ? json.length : 1
  } catch {
    return 1
  }
}

function tally(outcomes: Outcome[]): Counts {
  const counts: Counts = {
    readings: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  }
  for (const o of outcomes) {
    if (o === 'reading') counts.readings++
    else counts.rejected[o]++
  }
  return counts
}

function delta(after: Counts, before: Counts): Counts {
  return {
    readings: after.readings - before.readings,
    rejected: Object.fromEntries(
      REJECT_REASONS.map((r) => [r, (after.rejected[r] ?? 0) - (before.rejected[r] ?? 0)]),
    ) as Record<RejectReason, number>,
  }
}

const totalRejected = (c: Counts) => REJECT_REASONS.reduce((sum, r) => sum + c.rejected[r], 0)

// --- Generators -------------------------------------------------------------------------------

/** Keys that change how a reading is read; the generators leave them to the tests that mean them. */
const RESERVED = new Set(['value', 'count', 'ts', 'size', 'subgroup'])
const usesReserved = (v: unknown): boolean => {
  const elements = Array.isArray(v) ? v : [v]
  return elements.some(
    (e) =>
      e !== null &&
      typeof e === 'object' &&
      !Array.isArray(e) &&
      Object.keys(e).some((k) => RESERVED.has(k) && k !== 'value' && k !== 'ts'),
  )
}

const hugeString = fc
  .tuple(fc.integer({ min: 1_000, max: 60_000 }), fc.constantFrom('x', 'é', '€', '\u0000', '"'))
  .map(([n, c]) => c.repeat(n))
const nestedArray = fc.integer({ min: 1, max: 500 }).map((n) => {
  let v: unknown = [1]
  for (let i = 0; i < n; i++) v = [v]
  return v
})
const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 50 }), hugeString)

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.double(), // NaN and ±Infinity become null in JSON: not a number
  fc.integer(),
  fc.constantFrom(1e16, 1e300, -1e300, -0, 5e-324, Number.MAX_VALUE, 0),
  anyString,
  fc.constantFrom(null, true, false),
  nestedArray,
  fc.jsonValue({ maxDepth: 3 }),
)

const inRangeMs = fc.integer({ min: Y2000, max: T0 })
const tsArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.double().filter((d) => !nearEdge(d)),
  fc.constantFrom(1e16, 1e300, -1e16, -0, 8.64e15, 8.64e15 + 1, Y2000, Y2000 - 1, 1_795_000_000),
  inRangeMs,
  fc.integer({ min: T0 + DAY + EDGE, max: 8.64e15 }),
  // ISO text of any instant with a 4-digit year, in range or not.
  fc
    .integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 })
    .filter((ms) => !nearEdge(ms))
    .map((ms) => new Date(ms).toISOString()),
  fc.constantFrom(
    '2026-11-22T08:00:00',
    'yesterday',
    '',
    '2026-02-30T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
  ),
  anyString,
  fc.constantFrom(null, true, false),
  nestedArray,
  fc.jsonValue({ maxDepth: 2 }),
)

const extraKeys = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => !RESERVED.has(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
)

/** A JSON object in the reading format, value and ts each present or not, of any type. */
const readingObject = fc
  .record({ value: valueArb, ts: tsArb, extra: extraKeys }, { requiredKeys: ['extra'] })
  .map(({ extra, ...fields }) => ({ ...extra, ...fields }))

/** Payload texts: reading objects, arrays of them, and arbitrary JSON. */
const jsonPayload = fc
  .oneof(
    { arbitrary: readingObject, weight: 4 },
    { arbitrary: fc.array(fc.oneof(readingObject, fc.jsonValue()), { maxLength: 6 }), weight: 2 },
    { arbitrary: fc.jsonValue(), weight: 2 },
  )
  .map((v) => JSON.stringify(v))
  .filter((text) => !usesReserved(JSON.parse(text)) && Buffer.byteLength(text) < MAX_PACKET / 2)

/** Payload bytes: anything at all, text or not. */
const bytePayload = fc.oneof(
  fc.uint8Array({ maxLength: 2_000 }),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc.constantFrom(
    ...['', ' ', 'NaN', '-Infinity', '1e999', '{', '[]', '[{}]', '\u0000', '\ufeff12', '0x10'].map(
      (s) => new Uint8Array(Buffer.from(s)),
    ),
  ),
  fc.constant(new Uint8Array([0xef, 0xbb, 0xbf, 0x31])), // a BOM, then "1"
  fc.constant(new Uint8Array([0xc0, 0x80])), // an overlong NUL
)

// --- Raw MQTT ---------------------------------------------------------------------------------

const { generate } = mqttPacket

/** A raw TCP connection to the broker that keeps every packet the broker sends back. */
interface Raw {
  socket: Socket
  received: Packet[]
  closed: boolean
  write(bytes: Uint8Array): void
}

let brokerPort = 0

async function openRaw(): Promise<Raw> {
  const socket = tcpConnect(brokerPort, '127.0.0.1')
  const raw: Raw = {
    socket,
    received: [],
    closed: false,
    write: (bytes) => void socket.write(bytes),
  }
  const parser = mqttPacket.parser()
  parser.on('packet', (p) => raw.received.push(p))
  parser.on('error', () => {})
  socket.on('data', (d: Buffer) => parser.parse(d))
  socket.on('error', () => {}) // a reset when the broker drops the connection
  socket.on('close', () => {
    raw.closed = true
  })
  await once(socket, 'connect')
  return raw
}

const connectPacket = (clientId: string) =>
  generate({ cmd: 'connect', clientId, protocolVersion: 4, clean: true, keepalive: 60 })

/** Opens a connection and completes CONNECT / CONNACK (return code 0). */
async function connectedRaw(clientId: string): Promise<Raw> {
  const raw = await openRaw()
  raw.write(connectPacket(clientId))
  await waitFor(`CONNACK for ${clientId}`, () => {
    const [first] = raw.received
    return first?.cmd === 'connack' && first.returnCode === 0
  })
  return raw
}

const publish = (topic: string | Buffer, payload: string, qos: 0 | 1 | 2 = 0, messageId = 1) =>
  generate({
    cmd: 'publish',
    topic: topic as string, // mqtt-packet writes a Buffer topic as it is (invalid UTF-8 included)
    payload,
    qos,
    messageId: qos > 0 ? messageId : undefined,
    dup: false,
    retain: false,
  })

/** The same packet with another Remaining Length (the body is kept as it was). */
function withRemainingLength(packet: Buffer, length: number): Buffer {
  let i = 1
  while ((packet[i] as number) & 0x80) i++
  return Buffer.concat([packet.subarray(0, 1), Buffer.from(varint(length)), packet.subarray(i + 1)])
}

// --- The test ---------------------------------------------------------------------------------

describe('fuzzing the running gateway: no message crashes it, every refusal is counted', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let fuzzer: MqttClient
  let canary: MqttClient
  let canarySeq = 0
  let rawSeq = 0
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown) => void uncaught.push(err)

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught)
    process.on('unhandledRejection', onUncaught)
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 }, maxPacketBytes: ${MAX_PACKET} }
characteristics:
  - { id: fuzz, name: Fuzz, path: plant/fuzz/cell, source: { mqtt: { topic: ${TOPIC} } }, chart: { baselineCount: 3 } }
  - { id: canary, name: Canary, path: plant/fuzz/cell, source: { mqtt: { topic: ${CANARY} } }, chart: { baselineCount: 3 } }
`)
    brokerPort = Number(new URL(gw.gateway.urls.mqtt as string).port)
    fuzzer = await connectAsync(gw.gateway.urls.mqtt as string, { clientId: 'fuzzer' })
    canary = await connectAsync(gw.gateway.urls.mqtt as string, { clientId: 'canary' })
  })
  afterAll(async () => {
    await fuzzer?.endAsync()
    await canary?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onUncaught)
  })

  async function counts(): Promise<Counts> {
    const health = await gw.get<Health>('/api/health', null)
    expect(health.status).toBe(200)
    return health.body.counters
  }

  /** Waits until the counts have grown by `expected` exactly; on time-out shows the difference. */
  async function expectGrowth(before: Counts, expected: Counts): Promise<void> {
    let last: Counts | undefined
    try {
      await waitFor(
        'the counts to grow as expected',
        async () => {
          last = delta(await counts(), before)
          return JSON.stringify(last) === JSON.stringify(expected)
        },
        { timeoutMs: 20_000 },
      )
    } catch {
      expect(last).toEqual(expected)
    }
  }

  /** The gateway is up and still takes readings: a canary QoS 1 reading arrives and is stored. */
  async function expectAlive(): Promise<void> {
    expect(uncaught).toEqual([])
    const ts = T0 + ++canarySeq
    const value = 1000 + canarySeq
    await canary.publishAsync(CANARY, JSON.stringify({ value, ts }), { qos: 1 })
    await waitFor(
      `canary reading ${canarySeq} stored`,
      async () => {
        const { body } = await gw.get<ReadingsView>(
          `/api/characteristics/canary/readings?from=${ts}&to=${ts}`,
        )
        return body.readings.length === 1 && body.readings[0]?.value === value
      },
      { timeoutMs: 20_000 },
    )
    expect(uncaught).toEqual([])
  }

  it('{"value": 1, "ts": 1e16} is a bad-timestamp dead letter, and the gateway stays up', async () => {
    for (const ts of ['1e16', '1e300', '-1e16']) {
      const before = await counts()
      const payload = `{"value": 1, "ts": ${ts}}`
      await fuzzer.publishAsync(TOPIC, payload, { qos: 1 })
      await expectGrowth(before, tally(['bad-timestamp']))
      const letters = await gw.get<DeadLettersView>(
        '/api/dead-letters?reason=bad-timestamp&limit=10',
        TOKENS.engineer,
      )
      const letter = letters.body.items.find((i) => i.payloadText === payload)
      expect(letter).toMatchObject({ source: 'mqtt', reason: 'bad-timestamp', address: TOPIC })
      expect(letter?.detail).toMatch(/^"ts" .*(more than a day ahead|before 2000-01-01)/)
      await expectAlive()
    }
  })

  it('JSON payloads of every shape: each reading or refusal exactly as the format says', async () => {
    const seen = new Set<Outcome>()
    await fc.assert(
      fc.asyncProperty(fc.array(jsonPayload, { minLength: 1, maxLength: 50 }), async (batch) => {
        const before = await counts()
        await Promise.all(batch.map((text) => fuzzer.publishAsync(TOPIC, text, { qos: 1 })))
        const outcomes = batch.flatMap(expectJson)
        for (const o of outcomes) seen.add(o)
        await expectGrowth(before, tally(outcomes))
        await expectAlive()
      }),
      // 20 runs: in 10, about one time in 200 no payload was a reading (sampled).
      { numRuns: 20, endOnFailure: true },
    )
    // The generators reach every outcome (a generator that only made refusals would prove little).
    expect([...seen].sort()).toEqual(['bad-shape', 'bad-timestamp', 'not-a-number', 'reading'])
  })

  it('arbitrary bytes: every message is a reading or a counted refusal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bytePayload, { minLength: 1, maxLength: 40 }), async (batch) => {
        const before = await counts()
        const messages = batch.map((b) => Buffer.from(b))
        await Promise.all(messages.map((m) => fuzzer.publishAsync(TOPIC, m, { qos: 1 })))
        const outcomes = messages.reduce((sum, m) => sum + outcomeCount(m), 0)
        await waitFor(
          'every message counted',
          async () => {
            const d = delta(await counts(), before)
            return d.readings + totalRejected(d) === outcomes
          },
          { timeoutMs: 20_000 },
        )
        const d = delta(await counts(), before)
        expect(d.readings + totalRejected(d)).toBe(outcomes)
        expect(d.rejected.protocol).toBe(0)
        await expectAlive()
      }),
      { numRuns: 8, endOnFailure: true },
    )
  })

  /** Protocol violations: each closes its connection and is counted once under `protocol`. */
  const violations: Array<{ name: string; send(raw: Raw): void; connect?: false }> = [
    {
      name: 'a Remaining Length of five bytes',
      send: (raw) => raw.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])),
    },
    {
      name: 'a Remaining Length too short for the topic length',
      send: (raw) => raw.write(Buffer.from([0x30, 0x01, 0x00])),
    },
    {
      name: 'a Remaining Length that ends a QoS 1 PUBLISH before its packet id',
      send: (raw) =>
        raw.write(withRemainingLength(publish(TOPIC, '', 1, 7), 2 + Buffer.byteLength(TOPIC))),
    },
    {
      name: 'a PUBLISH at QoS 3',
      send: (raw) => {
        const packet = publish(TOPIC, '{"value": 3}', 1, 9)
        packet[0] = (packet[0] as number) | 0x06
        raw.write(packet)
      },
    },
    {
      name: 'a topic that is not UTF-8',
      send: (raw) =>
        raw.write(publish(Buffer.concat([Buffer.from(TOPIC), Buffer.from([0xff, 0xfe])]), '1')),
    },
    {
      name: 'a topic with an encoded lone surrogate',
      send: (raw) =>
        raw.write(
          publish(Buffer.concat([Buffer.from(TOPIC), Buffer.from([0xed, 0xa0, 0x80])]), '1'),
        ),
    },
    { name: 'a topic with NUL', send: (raw) => raw.write(publish(`${TOPIC}\u0000`, '1')) },
    {
      name: 'packet identifier 0 at QoS 1',
      send: (raw) => raw.write(publish(TOPIC, JSON.stringify({ value: 4242, ts: T0 }), 1, 0)),
    },
    {
      name: 'packet identifier 0 at QoS 2, the header split over two writes',
      send: (raw) => {
        const packet = publish(TOPIC, JSON.stringify({ value: 4243, ts: T0 }), 2, 0)
        raw.write(packet.subarray(0, 5))
        setTimeout(() => raw.write(packet.subarray(5)), 20)
      },
    },
    { name: 'a second CONNECT', send: (raw) => raw.write(connectPacket('second')) },
    {
      name: 'a topic of 200 levels',
      send: (raw) =>
        raw.write(publish(Array.from({ length: 200 }, (_, i) => `l${i}`).join('/'), '1')),
    },
    {
      name: 'a SUBSCRIBE with wrong header flags',
      send: (raw) => {
        const packet = generate({
          cmd: 'subscribe',
          messageId: 3,
          subscriptions: [{ topic: 'plant/#', qos: 0 }],
        })
        packet[0] = 0x80
        raw.write(packet)
      },
    },
    { name: 'a reserved packet type (0)', send: (raw) => raw.write(Buffer.from([0x00, 0x00])) },
    { name: 'a wildcard in a PUBLISH topic', send: (raw) => raw.write(publish('plant/+/x', '1')) },
    {
      name: 'a PUBLISH before CONNECT',
      connect: false,
      send: (raw) => raw.write(publish(TOPIC, '{"value": 5}')),
    },
    {
      name: 'a CONNECT with protocol level 9',
      connect: false,
      send: (raw) => {
        const packet = connectPacket('level9')
        packet[8] = 9 // fixed header (2) + protocol name (6) → the level byte
        raw.write(packet)
      },
    },
  ]

  it.each(violations)('$name: the connection is closed and counted as protocol', async (v) => {
    const before = await counts()
    const raw = v.connect === false ? await openRaw() : await connectedRaw(`raw-${++rawSeq}`)
    v.send(raw)
    await waitFor('the gateway to close the connection', () => raw.closed)
    await expectGrowth(before, { ...tally([]), rejected: { ...tally([]).rejected, protocol: 1 } })
    const letters = await gw.get<DeadLettersView>(
      '/api/dead-letters?reason=protocol&limit=1',
      TOKENS.engineer,
    )
    expect(letters.body.items[0]?.detail).toMatch(
      /^MQTT protocol violation by client .*; connection closed$/,
    )
    await expectAlive()
  })

  it('[MQTT-3.1.3-8] an empty client id with a persistent session gets CONNACK 0x02 and is closed', async () => {
    // Written by hand: mqtt-packet refuses to generate it. Level 4, flags 0 (clean session 0).
    const connect = (flags: number) => {
      const body = Buffer.from([0, 4, ...Buffer.from('MQTT'), 4, flags, 0, 60, 0, 0])
      return Buffer.concat([Buffer.from([0x10, body.length]), body])
    }
    const before = await counts()
    const persistent = await openRaw()
    persistent.write(connect(0x00))
    await waitFor('the connection closed', () => persistent.closed)
    expect(persistent.received).toMatchObject([{ cmd: 'connack', returnCode: 2 }])
    await expectGrowth(before, { ...tally([]), rejected: { ...tally([]).rejected, protocol: 1 } })

    // The same with a clean session is allowed: the broker assigns an id.
    const clean = await openRaw()
    clean.write(connect(0x02))
    await waitFor('CONNACK', () => clean.received.length > 0)
    expect(clean.received).toMatchObject([{ cmd: 'connack', returnCode: 0 }])
    clean.write(generate({ cmd: 'pingreq' }))
    await waitFor('PINGRESP', () => clean.received.some((p) => p.cmd === 'pingresp'))
    expect(clean.closed).toBe(false)
    clean.socket.destroy()
    await expectAlive()
  })

  it('the refused packet identifier 0 reading was never taken', async () => {
    const { body } = await gw.get<ReadingsView>(
      `/api/characteristics/fuzz/readings?from=${T0}&to=${T0}`,
    )
    expect(body.readings.filter((r) => r.value === 4242 || r.value === 4243)).toEqual([])
  })

  it('random bytes after CONNECT, and PUBLISH packets with any Remaining Length: the gateway stays up', async () => {
    const afterConnect = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      // A PUBLISH to the mapped topic with its Remaining Length replaced by any other value.
      fc
        .tuple(fc.integer({ min: 0, max: 2 ** 21 - 1 }), fc.constantFrom<0 | 1 | 2>(0, 1, 2))
        .map(([length, qos]) =>
          withRemainingLength(publish(TOPIC, JSON.stringify({ value: 7, ts: T0 }), qos, 5), length),
        ),
      // A packet of any type with any flags and a short random body.
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }))
        .map(([first, body]) => Buffer.from([first, body.length, ...body])),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(afterConnect, { minLength: 1, maxLength: 20 }), async (batch) => {
        const before = await counts()
        const connections = await Promise.all(
          batch.map(async (bytes, i) => {
            const raw = await connectedRaw(`random-${++rawSeq}-${i}`)
            raw.write(bytes)
            raw.socket.end() // a connection still waiting for bytes closes too
            return raw
          }),
        )
        await waitFor('every connection closed', () => connections.every((c) => c.closed))
        const d = delta(await counts(), before)
        // At most one protocol or oversize refusal per connection (each is closed once).
        expect(d.rejected.protocol + d.rejected.oversize).toBeLessThanOrEqual(batch.length)
        await expectAlive()
      }),
      { numRuns: 10, endOnFailure: true },
    )
  })

  it('after all that the HTTP API still answers and the protocol count is in /api/health', async () => {
    const health = await gw.get<Health>('/api/health', null)
    expect(health.status).toBe(200)
    expect(health.body.counters.rejected.protocol).toBeGreaterThanOrEqual(violations.length + 1)
    await expectAlive()
  })
})
