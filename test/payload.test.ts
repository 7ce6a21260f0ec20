import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { createMqttIngest } from '../gateway/sources/mqtt-ingest.ts'
import { createOpcuaSource, timestampOf } from '../gateway/sources/opcua.ts'
import {
  ParsedReadings,
  parsePayload,
  parseSimple,
  parseTimestamp,
} from '../gateway/sources/payload.ts'
import { startMachineSimulator } from '../simulators/machine.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import { capturedLog, collectingSink, opcuaScenario } from './helpers/opcua.ts'

// The accepted range, written out here rather than taken from the code under test:
// 2000-01-01T00:00:00Z .. receive time + one day, both inclusive.
const Y2000 = 946_684_800_000
const DAY = 86_400_000
const NOW = 1_795_000_000_000 // 2026-11-18T11:06:40Z, a fixed receive time
const inRange = (ms: number, now = NOW) => Number.isFinite(ms) && ms >= Y2000 && ms <= now + DAY

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('MQTT time stamps are range-checked and parsing never throws', () => {
  it.each([
    ['1e16', 1e16],
    ['1e300', 1e300],
    ['-1e16', -1e16],
    ['8.64e15 + 1', 8.64e15 + 1],
    ['the largest double', Number.MAX_VALUE],
    ['-0', -0],
  ])('ts %s is refused as bad-timestamp, not thrown', (_, ts) => {
    // JSON text written by hand: JSON.stringify would turn -0 into 0, which is as refused.
    const text = `{"value": 1, "ts": ${Object.is(ts, -0) ? '-0' : String(ts)}}`
    const [result, ...more] = parsePayload(new TextEncoder().encode(text), NOW)
    expect(more).toEqual([])
    expect(result).toMatchObject({ ok: false, reason: 'bad-timestamp' })
    expect(result?.ok === false && result.detail).toMatch(/^"ts" /)
  })

  it('a ts beyond what a Date holds names the number in the detail', () => {
    expect(parseTimestamp(1e16, NOW)).toBe(
      '"ts" 10000000000000000 ms is more than a day ahead of the gateway clock',
    )
    expect(parseTimestamp(-1e16, NOW)).toMatch(/before 2000-01-01/)
  })

  it('the range ends are inclusive: 2000-01-01 and receive time + 1 day pass, one ms beyond does not', () => {
    expect(parseTimestamp(Y2000, NOW)).toBe(Y2000)
    expect(typeof parseTimestamp(Y2000 - 1, NOW)).toBe('string')
    expect(parseTimestamp(NOW + DAY, NOW)).toBe(NOW + DAY)
    expect(parseTimestamp(NOW + DAY + 1, NOW)).toMatch(/more than a day ahead/)
    expect(parseTimestamp('2000-01-01T00:00:00Z', NOW)).toBe(Y2000)
    expect(parseTimestamp('1999-12-31T23:59:59.999Z', NOW)).toMatch(/before 2000-01-01/)
    expect(parseTimestamp(undefined, NOW)).toBe(NOW)
  })

  it('an ISO time stamp whose zone cannot be applied is refused, not a NaN time', () => {
    for (const ts of ['2026-11-22T08:00:00+99:99', '2026-11-22T08:00:00+24:00']) {
      expect(parseTimestamp(ts, NOW)).toMatch(/not ISO 8601/)
    }
    // A good zone still works: 08:00+01:00 is 07:00Z.
    expect(parseTimestamp('2026-11-01T08:00:00+01:00', NOW)).toBe(Date.UTC(2026, 10, 1, 7))
  })

  it('any double as ts: a reading exactly when it is in range, else a bad-timestamp refusal', () => {
    fc.assert(
      fc.property(fc.double(), (ts) => {
        const [result] = parsePayload(json({ value: 2.5, ts }), NOW)
        // JSON.stringify writes NaN and ±Infinity as null: not a number, refused as well.
        if (inRange(ts)) expect(result).toEqual({ ok: true, ts, value: 2.5 })
        else expect(result).toMatchObject({ ok: false, reason: 'bad-timestamp' })
      }),
      { numRuns: 2000 },
    )
  })

  it('any ISO text from year 0000 to 9999: a reading exactly when it is in range', () => {
    // Every millisecond a 4-digit year can name: 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z.
    const year0 = -62_167_219_200_000
    const year9999End = 253_402_300_799_999
    fc.assert(
      fc.property(fc.integer({ min: year0, max: year9999End }), (ms) => {
        const text = new Date(ms).toISOString() // YYYY-MM-DDTHH:mm:ss.sssZ in this range
        const expected = inRange(ms)
        const result = parseTimestamp(text, NOW)
        if (expected) expect(result).toBe(ms)
        else expect(typeof result).toBe('string')
      }),
      { numRuns: 1000 },
    )
  })

  it('any JSON value as ts never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (ts) => {
        const results = parsePayload(json({ value: 1, ts }), NOW)
        expect(results).toHaveLength(1)
      }),
      { numRuns: 500 },
    )
  })

  it('the MQTT ingest keeps both times: the source time stamp as ts, the receive time as receivedAt', () => {
    const sink = collectingSink()
    const ingest = createMqttIngest({
      source: 'mqtt',
      topics: new Map([['t', 'temp']]),
      sink,
      maxPacketBytes: 65536,
      onMessage: () => {},
    })
    const before = Date.now()
    const stamped = before - 60_000
    ingest('t', Buffer.from(JSON.stringify({ value: 1, ts: stamped })))
    ingest('t', Buffer.from('2'))
    ingest('t', Buffer.from('{"value": 3, "ts": 1e16}'))
    const after = Date.now()
    expect(sink.readings).toHaveLength(2)
    const [a, b] = sink.readings
    expect(a).toMatchObject({ characteristic: 'temp', value: 1, ts: stamped })
    expect(a?.receivedAt).toBeGreaterThanOrEqual(before)
    expect(a?.receivedAt).toBeLessThanOrEqual(after)
    // A bare number has no time stamp of its own: both times are the receive time.
    expect(b?.ts).toBe(b?.receivedAt)
    expect(sink.rejections).toMatchObject([{ reason: 'bad-timestamp', address: 't' }])
  })
})

describe('OPC-UA timestamps are range-checked', () => {
  const at = (ms: number) => new Date(ms)

  it('the source timestamp, else the server timestamp, else the receive time', () => {
    const source = NOW - 5000
    const server = NOW - 1000
    expect(timestampOf({ sourceTimestamp: at(source), serverTimestamp: at(server) }, NOW)).toEqual({
      ok: true,
      ts: source,
    })
    expect(timestampOf({ sourceTimestamp: null, serverTimestamp: at(server) }, NOW)).toEqual({
      ok: true,
      ts: server,
    })
    expect(timestampOf({ sourceTimestamp: null, serverTimestamp: null }, NOW)).toEqual({
      ok: true,
      ts: NOW,
    })
    // DateTime's minimum (1601) and an Invalid Date mean "no timestamp".
    const min = Date.UTC(1601, 0, 1)
    expect(timestampOf({ sourceTimestamp: at(min), serverTimestamp: at(Number.NaN) }, NOW)).toEqual(
      { ok: true, ts: NOW },
    )
  })

  it.each([
    ['before 2000', Date.UTC(1999, 11, 31)],
    ['more than a day ahead', NOW + DAY + 1],
    ['the largest Date', 8.64e15],
  ])('a source timestamp %s is refused as bad-timestamp, not replaced', (_, ms) => {
    const result = timestampOf({ sourceTimestamp: at(ms), serverTimestamp: at(NOW) }, NOW)
    expect(result).toMatchObject({ ok: false, reason: 'bad-timestamp' })
    expect(result.ok === false && result.detail).toMatch(/^source timestamp /)
  })

  it('a server timestamp out of range (no source timestamp) is refused too', () => {
    const result = timestampOf({ sourceTimestamp: null, serverTimestamp: at(NOW + 2 * DAY) }, NOW)
    expect(result).toMatchObject({ ok: false, reason: 'bad-timestamp' })
  })

  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('a real OPC-UA source dead-letters a value stamped before 2000 and keeps receivedAt on a good one', async () => {
    const pki = await tempDir('linewatch-opcua-')
    cleanups.push(pki.remove)
    const nodeId = 'Cell1.BoreDiameter'
    const sim = await startMachineSimulator({
      scenario: opcuaScenario([{ id: 'bore', nodeId }]),
      port: await freePort(),
      pkiDir: pki.path,
      drive: false,
    })
    cleanups.push(() => sim.stop())
    const sink = collectingSink()
    const source = createOpcuaSource(
      {
        id: 'cnc1',
        endpoint: sim.endpoint,
        samplingIntervalMs: 0,
        publishingIntervalMs: 100,
        // The simulator offers only None (docs/opcua.md).
        securityPolicy: 'None',
        securityMode: 'None',
      },
      [{ characteristic: 'bore', nodeId: `nsu=urn:linewatch:sim:machine;s=${nodeId}` }],
      { sink, log: capturedLog().log, pkiDir: pki.path },
    )
    cleanups.push(() => source.stop())
    await source.start()
    await waitFor('connected', () => source.status().connected, { timeoutMs: 10_000 })

    sim.write(nodeId, 11.5, Date.UTC(1999, 5, 1))
    const letter = await waitFor('the dead letter', () =>
      sink.rejections.find((r) => r.reason === 'bad-timestamp'),
    )
    expect(letter).toMatchObject({
      source: 'opcua:cnc1',
      address: `nsu=urn:linewatch:sim:machine;s=${nodeId}`,
    })
    expect(letter.detail).toMatch(/^source timestamp .*before 2000-01-01/)

    const stamped = Date.now() - 7000
    sim.write(nodeId, 12.5, stamped)
    const reading = await waitFor('the good reading', () =>
      sink.readings.find((r) => r.value === 12.5),
    )
    expect(reading.ts).toBe(stamped)
    expect(reading.receivedAt).toBeGreaterThan(stamped)
    expect(sink.readings.some((r) => r.value === 11.5)).toBe(false)
  })
})

describe('the fast path reads what devices send most, and agrees with the full parser', () => {
  const enc = (text: string) => new TextEncoder().encode(text)
  const simple = (text: string) => {
    const out = new ParsedReadings()
    if (!parseSimple(enc(text), NOW, out)) return null
    return Array.from({ length: out.count }, (_, i) => ({
      ts: out.ts[i],
      value: out.value[i],
      size: Number.isNaN(out.size[i]) ? undefined : out.size[i],
      key: out.key[i],
    }))
  }
  /** What parsePayload makes of it, when every reading in it is good. */
  const full = (text: string) => {
    const parsed = parsePayload(enc(text), NOW)
    if (!parsed.every((p) => p.ok)) return null
    return parsed.map((p) => (p.ok ? { ts: p.ts, value: p.value, size: p.size, key: p.key } : p))
  }

  it.each([
    ['{"value":101.234,"ts":1795000000000}', [{ ts: 1795000000000, value: 101.234 }]],
    [
      ' { "value" : -0.5 , "ts" : "2026-11-18T10:00:00.250Z" } ',
      [{ ts: Date.UTC(2026, 10, 18, 10, 0, 0, 250), value: -0.5 }],
    ],
    [
      '{"count":3,"size":200,"subgroup":"LOT-4711"}',
      [{ ts: NOW, value: 3, size: 200, key: 'LOT-4711' }],
    ],
    ['{"value":1e2,"subgroup":4711}', [{ ts: NOW, value: 100, key: '4711' }]],
    // More digits than one step converts exactly: the full conversion, still the fast path.
    ['{"value":0.1234567890123456789}', [{ ts: NOW, value: Number('0.1234567890123456789') }]],
    [
      '[{"value":1},{"value":2.5e-3,"ts":1795000000001}]',
      [
        { ts: NOW, value: 1 },
        { ts: 1795000000001, value: 0.0025 },
      ],
    ],
  ])('%s', (text, expected) => {
    expect(simple(text)).toEqual(expected.map((r) => ({ size: undefined, key: undefined, ...r })))
  })

  it.each([
    '{"value":"12.3"}',
    '{"value":1,"count":2}',
    '{"value":1,"ts":1e16}',
    '{"value":1,"unit":"g"}',
    '{"value":1,"value":2}',
    '{"value":1,"subgroup":"L\\u0031"}',
    '{"value":01}',
    '[]',
    '[{"value":1},{"value":"x"}]',
    '12.5',
    '\ufeff{"value":1}',
  ])('%s is left to the full parser', (text) => {
    expect(simple(text)).toBeNull()
  })

  /** A JSON number written any way JSON allows. */
  const numberText = fc
    .tuple(
      fc.boolean(),
      fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,20}$/)),
      fc.option(fc.stringMatching(/^[0-9]{1,20}$/), { nil: undefined }),
      fc.option(
        fc.tuple(
          fc.constantFrom('e', 'E'),
          fc.constantFrom('', '+', '-'),
          fc.stringMatching(/^[0-9]{1,3}$/),
        ),
        { nil: undefined },
      ),
    )
    .map(
      ([neg, int, frac, exp]) =>
        `${neg ? '-' : ''}${int}${frac === undefined ? '' : `.${frac}`}${exp ? exp.join('') : ''}`,
    )
  const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n')
  const tsText = fc.oneof(
    fc.integer({ min: Y2000 - 5, max: NOW + DAY + 5 }).map(String),
    numberText,
    fc
      .date({
        min: new Date('1999-12-31T23:00:00Z'),
        max: new Date(NOW + 2 * DAY),
        noInvalidDate: true,
      })
      .map((d) => JSON.stringify(d.toISOString())),
    fc.constantFrom(
      '"2026-02-30T00:00:00Z"',
      '"2026-11-18T10:00:00+01:00"',
      '"2026-11-18T10:00:00"',
      'null',
      'true',
    ),
  )
  const field = fc.oneof(
    numberText.map((n) => `"value":${n}`),
    numberText.map((n) => `"count":${n}`),
    numberText.map((n) => `"size":${n}`),
    tsText.map((t) => `"ts":${t}`),
    fc
      .oneof(
        numberText,
        fc.string().map((s) => JSON.stringify(s)),
      )
      .map((v) => `"subgroup":${v}`),
    fc.constantFrom('"unit":"g"', '"value":"1"', '"ts":{}'),
  )
  const object = fc
    .tuple(fc.array(fc.tuple(space, field, space), { minLength: 0, maxLength: 5 }), space)
    .map(([fields, s]) => `{${s}${fields.map(([a, f, b]) => `${a}${f}${b}`).join(',')}}`)
  const payload = fc.oneof(
    object,
    fc.array(object, { minLength: 0, maxLength: 4 }).map((os) => `[${os.join(', ')}]`),
    fc.tuple(space, object, space).map((parts) => parts.join('')),
  )

  it('whatever it reads, it reads as parsePayload does (values bit for bit); it reads the common forms', () => {
    let taken = 0
    fc.assert(
      fc.property(payload, (text) => {
        const fast = simple(text)
        if (fast === null) return
        taken++
        const slow = full(text)
        expect(slow).not.toBeNull()
        expect(fast.length).toBe(slow?.length)
        fast.forEach((r, i) => {
          const s = slow?.[i] as typeof r
          expect(
            Object.is(r.ts, s.ts) && Object.is(r.value, s.value) && Object.is(r.size, s.size),
          ).toBe(true)
          expect(r.key).toBe(s.key)
        })
      }),
      { numRuns: 5000 },
    )
    // The generator makes good readings often enough for the fast path to be exercised.
    expect(taken).toBeGreaterThan(100)
  })

  it('never throws, and never reads arbitrary bytes as readings parsePayload would not give', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const out = new ParsedReadings()
        if (!parseSimple(bytes, NOW, out)) return
        const slow = parsePayload(bytes, NOW)
        expect(slow.every((p) => p.ok)).toBe(true)
        expect(slow.map((p) => (p.ok ? p.value : null))).toEqual(
          Array.from(out.value.subarray(0, out.count)),
        )
      }),
    )
  })
})
