import { DataType, StatusCodes, VariantArrayType } from 'node-opcua'
import { afterEach, describe, expect, it } from 'vitest'
import type { OpcuaServerConfig } from '../gateway/config/index.ts'
import { createOpcuaSource, type OpcuaBinding, resolveNsuNodeId } from '../gateway/sources/opcua.ts'
import type { Source } from '../gateway/sources/types.ts'
import { type MachineSimulator, startMachineSimulator } from '../simulators/machine.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import {
  capturedLog,
  collectingSink,
  opcuaScenario,
  startSilentLink,
  startTestServer,
  type TestServer,
} from './helpers/opcua.ts'

// Real node-opcua servers and clients on 127.0.0.1; nothing mocked.

const NS = 'urn:linewatch:sim:machine'
const BORE = 'Cell1.BoreDiameter'

/** Stopped in reverse order after each test, even a failed one: sources, then servers, then dirs. */
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  const failures: unknown[] = []
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e) => failures.push(e))
  if (failures.length > 0) throw failures[0]
})

async function pkiDir(): Promise<string> {
  const dir = await tempDir('linewatch-opcua-')
  cleanups.push(dir.remove)
  return dir.path
}

async function simulator(
  options: Parameters<typeof startMachineSimulator>[0],
): Promise<MachineSimulator> {
  const sim = await startMachineSimulator(options)
  cleanups.push(() => sim.stop())
  return sim
}

async function testServer(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(options)
  cleanups.push(() => server.stop())
  return server
}

async function startSource(
  endpoint: string,
  bindings: OpcuaBinding[],
  timing: Partial<OpcuaServerConfig> = {},
) {
  const server: OpcuaServerConfig = {
    id: 'cnc1',
    endpoint,
    samplingIntervalMs: 0,
    publishingIntervalMs: 100,
    // The simulator and the bare test server offer only None (docs/opcua.md).
    securityPolicy: 'None',
    securityMode: 'None',
    ...timing,
  }
  const sink = collectingSink()
  const { log, lines } = capturedLog()
  const source: Source = createOpcuaSource(server, bindings, { sink, log, pkiDir: await pkiDir() })
  cleanups.push(() => source.stop())
  await source.start()
  return { source, sink, lines }
}

const connected = (source: Source) => () => source.status().connected

describe('OPC-UA source against the machine simulator', () => {
  it('delivers a written value as a Reading with its characteristic, value and source timestamp', async () => {
    const port = await freePort()
    const sim = await simulator({
      scenario: opcuaScenario([{ id: 'bore', nodeId: BORE }]),
      port,
      pkiDir: await pkiDir(),
      drive: false,
    })
    expect(sim.endpoint).toBe(`opc.tcp://127.0.0.1:${port}`)
    // The configuration's default timing: sampled every 250 ms, published every 250 ms.
    const { source, sink } = await startSource(
      sim.endpoint,
      [{ characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` }],
      { samplingIntervalMs: 250, publishingIntervalMs: 250 },
    )
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })

    const ts = Date.now() - 12_345 // a source time clearly apart from the receive time
    sim.write(BORE, 42.4242, ts)
    const reading = await waitFor(
      'the written reading',
      () => sink.readings.find((r) => r.value === 42.4242),
      { timeoutMs: 5000 },
    )
    expect(reading).toEqual({
      characteristic: 'bore',
      value: 42.4242,
      ts,
      receivedAt: expect.any(Number),
    })

    // DataChangeTrigger StatusValueTimestamp: the same value measured again is a new reading.
    sim.write(BORE, 42.4242, ts + 1000)
    await waitFor('the repeated value', () => sink.readings.length === 2, { timeoutMs: 5000 })
    expect(sink.readings[1]).toEqual({
      characteristic: 'bore',
      value: 42.4242,
      ts: ts + 1000,
      receivedAt: expect.any(Number),
    })

    // Before the first write the simulator has no value (BadWaitingForInitialData): that is
    // neither a reading nor bad data from the machine, so it is received but not passed on.
    expect(sink.readings).toHaveLength(2)
    expect(sink.rejections).toEqual([])
    expect(source.status()).toMatchObject({
      name: 'opcua:cnc1',
      kind: 'opcua',
      connected: true,
      received: 3,
    })
  })

  it('refuses a port that is taken with LW_ERR_PORT_IN_USE, and frees a port it stops on at once', async () => {
    const port = await freePort()
    const scenario = opcuaScenario([{ id: 'bore', nodeId: BORE }])
    const sim = await simulator({ scenario, port, pkiDir: await pkiDir(), drive: false })
    await expect(
      startMachineSimulator({ scenario, port, pkiDir: await pkiDir() }),
    ).rejects.toMatchObject({
      code: 'LW_ERR_PORT_IN_USE',
    })
    await sim.stop()
    const again = await simulator({ scenario, port, pkiDir: await pkiDir(), drive: false })
    expect(again.port).toBe(port)
  })

  it('starts while no server is running, then connects once the server appears', async () => {
    const port = await freePort()
    const scenario = opcuaScenario([{ id: 'bore', nodeId: BORE }])
    const startedAt = Date.now()
    const { source, sink } = await startSource(`opc.tcp://127.0.0.1:${port}`, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    expect(Date.now() - startedAt).toBeLessThan(1000)
    await waitFor(
      'a failed connection attempt',
      () => /connect/.test(source.status().detail ?? ''),
      { timeoutMs: 5000 },
    )
    expect(source.status().connected).toBe(false)

    await new Promise((r) => setTimeout(r, 1500)) // let it retry a few times
    const sim = await simulator({ scenario, port, pkiDir: await pkiDir(), drive: false })
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    sim.write(BORE, 7.5)
    await waitFor('a reading', () => sink.readings.find((r) => r.value === 7.5), {
      timeoutMs: 5000,
    })
  })

  it('reconnects by itself when the server is stopped and a fresh one starts on the same port', async () => {
    const port = await freePort()
    const scenario = opcuaScenario([{ id: 'bore', nodeId: BORE }])
    const first = await simulator({ scenario, port, pkiDir: await pkiDir(), drive: false })
    const { source, sink, lines } = await startSource(first.endpoint, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    first.write(BORE, 1.25)
    await waitFor(
      'a reading from the first server',
      () => sink.readings.find((r) => r.value === 1.25),
      { timeoutMs: 5000 },
    )

    await first.stop()
    await waitFor('the loss to be noticed', () => !source.status().connected, { timeoutMs: 10_000 })
    expect(source.status().detail).toBeTruthy()

    const second = await simulator({ scenario, port, pkiDir: await pkiDir(), drive: false })
    await waitFor('reconnected', connected(source), { timeoutMs: 15_000 })
    second.write(BORE, 2.5)
    await waitFor(
      'a reading from the second server',
      () => sink.readings.find((r) => r.value === 2.5),
      { timeoutMs: 5000 },
    )
    expect(lines.some((l) => l.msg === 'connection lost; reconnecting')).toBe(true)
  })

  it('drives the scenario: every 100ms gives about ten readings a second around the mean', async () => {
    const port = await freePort()
    const scenario = opcuaScenario([
      { id: 'bore', nodeId: BORE, every: '100ms', mean: 50, sigma: 0.2 },
    ])
    const sim = await simulator({ scenario, port, pkiDir: await pkiDir() })
    const { source, sink } = await startSource(sim.endpoint, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    await waitFor('the first reading', () => sink.readings.length > 0, { timeoutMs: 5000 })

    const from = Date.now()
    await new Promise((r) => setTimeout(r, 2300)) // the last of the window may still be in flight at 2000

    const window = sink.readings.filter((r) => r.ts >= from && r.ts < from + 2000)
    expect(window.length).toBeGreaterThanOrEqual(12) // 20 expected; slack for a busy 2-core machine
    expect(window.length).toBeLessThanOrEqual(25)
    const mean = window.reduce((sum, r) => sum + r.value, 0) / window.length
    expect(mean).toBeGreaterThan(49.7)
    expect(mean).toBeLessThan(50.3)
    const gaps = window.slice(1).map((r, i) => r.ts - (window[i]?.ts ?? 0))
    const median = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? 0
    expect(median).toBeGreaterThanOrEqual(80)
    expect(median).toBeLessThanOrEqual(120)
    expect(sink.rejections.filter((r) => r.reason !== 'bad-quality')).toEqual([])
  })
})

describe('OPC-UA source against a test server with other namespaces and types', () => {
  it('resolves nsu= to the index the server gives (not 1); unknown namespaces and NodeIds are reported, the rest works', async () => {
    const target = 'urn:test:target'
    const server = await testServer({
      port: await freePort(),
      pkiDir: await pkiDir(),
      namespaces: ['urn:test:first', 'urn:test:second', target],
    })
    expect(server.namespaceIndex(target)).toBe(4) // 0: OPC UA, 1: the server's own, then ours
    const setTemp = server.addVariable(target, 'Cell9.Temp', DataType.Double)
    setTemp({ dataType: DataType.Double, value: 20 })

    const { source, sink, lines } = await startSource(server.endpoint, [
      { characteristic: 'temp', nodeId: `nsu=${target};s=Cell9.Temp` },
      { characteristic: 'lost', nodeId: 'nsu=urn:test:nowhere;s=Cell9.Temp' },
      { characteristic: 'missing', nodeId: `nsu=${target};s=Cell9.Missing` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    setTemp({ dataType: DataType.Double, value: 21.5 })
    await waitFor('the reading', () => sink.readings.find((r) => r.value === 21.5), {
      timeoutMs: 5000,
    })
    expect(sink.readings.every((r) => r.characteristic === 'temp')).toBe(true)

    const detail = source.status().detail ?? ''
    expect(detail).toContain('urn:test:nowhere is not in the server')
    expect(detail).toMatch(/Cell9\.Missing: BadNodeIdUnknown/)
    const problems = lines
      .filter((l) => l.msg === 'binding not monitored')
      .map((l) => String(l.problem))
    expect(problems).toHaveLength(2)
  })

  it('resolves nsu= again after a restart that renumbers the namespaces', async () => {
    const target = 'urn:test:target'
    const newcomer = 'urn:test:newcomer'
    const port = await freePort()
    const first = await testServer({ port, pkiDir: await pkiDir(), namespaces: [target] })
    const indexBefore = first.namespaceIndex(target)
    const setFirst = first.addVariable(target, 'Cell9.Temp', DataType.Double)
    const { source, sink } = await startSource(first.endpoint, [
      { characteristic: 'temp', nodeId: `nsu=${target};s=Cell9.Temp` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    setFirst({ dataType: DataType.Double, value: 1 })
    await waitFor(
      'a reading from the first server',
      () => sink.readings.find((r) => r.value === 1),
      { timeoutMs: 5000 },
    )

    await first.stop()
    await waitFor('the loss to be noticed', () => !source.status().connected, { timeoutMs: 10_000 })
    // The restarted server registers another namespace first: the target moves up one index,
    // and a decoy with the same identifier now sits at the old index.
    const second = await testServer({
      port,
      pkiDir: await pkiDir(),
      namespaces: [newcomer, target],
    })
    expect(second.namespaceIndex(newcomer)).toBe(indexBefore)
    expect(second.namespaceIndex(target)).toBe(indexBefore + 1)
    second.addVariable(
      newcomer,
      'Cell9.Temp',
      DataType.Double,
    )({ dataType: DataType.Double, value: 666 })
    const setSecond = second.addVariable(target, 'Cell9.Temp', DataType.Double)
    await waitFor('reconnected', connected(source), { timeoutMs: 15_000 })
    setSecond({ dataType: DataType.Double, value: 2 })
    await waitFor(
      'a reading from the second server',
      () => sink.readings.find((r) => r.value === 2),
      { timeoutMs: 5000 },
    )
    expect(sink.readings.map((r) => r.value)).not.toContain(666)
  })

  it('resolveNsuNodeId maps each identifier form to the namespace index', () => {
    const namespaces = ['http://opcfoundation.org/UA/', 'urn:own', 'urn:a', 'urn:m']
    expect(resolveNsuNodeId('nsu=urn:m;s=Cell1.Bore;x', namespaces).toString()).toBe(
      'ns=3;s=Cell1.Bore;x',
    )
    expect(resolveNsuNodeId('nsu=urn:a;i=42', namespaces).toString()).toBe('ns=2;i=42')
    expect(
      resolveNsuNodeId('nsu=urn:m;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63', namespaces).toString(),
    ).toBe('ns=3;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63')
    expect(resolveNsuNodeId('nsu=urn:m;b=AQID', namespaces).toString()).toBe('ns=3;b=AQID')
    expect(() => resolveNsuNodeId('nsu=urn:zz;i=1', namespaces)).toThrow(/urn:zz is not in/)
    expect(() => resolveNsuNodeId('ns=2;i=1', namespaces)).toThrow(/not a NodeId in nsu= form/)
  })

  it('rejects Bad status, non-numeric and non-finite values with their reasons; numeric types are readings', async () => {
    const ns = 'urn:test:types'
    const server = await testServer({
      port: await freePort(),
      pkiDir: await pkiDir(),
      namespaces: [ns],
    })
    const ts = Date.now() - 60_000
    const cases = [
      {
        id: 'Bad',
        type: DataType.Double,
        value: { dataType: DataType.Double, value: 1 },
        status: StatusCodes.BadSensorFailure,
      },
      { id: 'Text', type: DataType.String, value: { dataType: DataType.String, value: '12.5' } },
      { id: 'Flag', type: DataType.Boolean, value: { dataType: DataType.Boolean, value: true } },
      {
        id: 'Array',
        type: DataType.Double,
        rank: 1,
        value: { dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] },
      },
      { id: 'NaN', type: DataType.Double, value: { dataType: DataType.Double, value: Number.NaN } },
      {
        id: 'Inf',
        type: DataType.Double,
        value: { dataType: DataType.Double, value: Number.NEGATIVE_INFINITY },
      },
      {
        id: 'Huge',
        type: DataType.UInt64,
        value: {
          dataType: DataType.UInt64,
          arrayType: VariantArrayType.Scalar,
          value: [0xffffffff, 0xffffffff],
        },
      },
      {
        id: 'Count',
        type: DataType.Int64,
        value: { dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0x1, 0x2] },
      },
      {
        id: 'Minus',
        type: DataType.Int64,
        value: {
          dataType: DataType.Int64,
          arrayType: VariantArrayType.Scalar,
          value: [0xffffffff, 0xfffffffb],
        },
      },
      { id: 'Float', type: DataType.Float, value: { dataType: DataType.Float, value: 1.5 } },
      { id: 'Word', type: DataType.UInt16, value: { dataType: DataType.UInt16, value: 65535 } },
    ]
    for (const c of cases) server.addVariable(ns, c.id, c.type, c.rank)(c.value, c.status, ts)
    const { source, sink } = await startSource(
      server.endpoint,
      cases.map((c) => ({ characteristic: c.id, nodeId: `nsu=${ns};s=${c.id}` })),
    )
    await waitFor('a notification per variable', () => source.status().received >= cases.length, {
      timeoutMs: 10_000,
    })

    const reasons = Object.fromEntries(
      sink.rejections.map((r) => [r.address?.replace(`nsu=${ns};s=`, ''), r.reason]),
    )
    expect(reasons).toEqual({
      Bad: 'bad-quality',
      Text: 'not-a-number',
      Flag: 'not-a-number',
      Array: 'not-a-number',
      NaN: 'non-finite',
      Inf: 'non-finite',
      Huge: 'not-a-number',
    })
    expect(sink.rejections.find((r) => r.reason === 'bad-quality')?.detail).toContain(
      'BadSensorFailure',
    )
    expect(
      Buffer.from(
        sink.rejections.find((r) => r.address?.endsWith('Text'))?.payload ?? [],
      ).toString(),
    ).toContain('12.5')
    const values = Object.fromEntries(sink.readings.map((r) => [r.characteristic, r.value]))
    expect(values).toEqual({ Count: 2 ** 32 + 2, Minus: -5, Float: 1.5, Word: 65535 })
    expect(sink.readings.every((r) => r.ts === ts)).toBe(true)
    expect(source.status().connected).toBe(true)
  })
})

describe('OPC-UA source supervision', () => {
  it('notices a server that goes silent without closing the socket, and recovers', async () => {
    const port = await freePort()
    const scenario = opcuaScenario([{ id: 'bore', nodeId: BORE, every: '100ms' }])
    await simulator({ scenario, port, pkiDir: await pkiDir() })
    const link = await startSilentLink(port)
    cleanups.push(() => link.stop())
    const { source, sink, lines } = await startSource(`opc.tcp://127.0.0.1:${link.port}`, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    await waitFor('readings', () => sink.readings.length > 0, { timeoutMs: 5000 })

    link.freeze()
    await waitFor('the silence to be noticed', () => !source.status().connected, {
      timeoutMs: 10_000,
    })
    expect(source.status().detail).toMatch(/no publish response/)
    link.thaw()
    const count = sink.readings.length
    await waitFor('reconnected', connected(source), { timeoutMs: 15_000 })
    await waitFor('readings again', () => sink.readings.length > count, { timeoutMs: 5000 })
    // The first notification of the new subscription repeats the current value: not delivered twice.
    const keys = sink.readings.map((r) => `${r.ts}:${r.value}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(lines.filter((l) => l.msg === 'connected')).toHaveLength(2)
  })

  it('stops promptly, even while retrying, and leaves no socket or timer behind', async () => {
    const handles = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].includes(r)).length
    const before = handles()

    const idle = await startSource(`opc.tcp://127.0.0.1:${await freePort()}`, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    await new Promise((r) => setTimeout(r, 600)) // a few failed attempts and a back-off in progress
    let t = Date.now()
    await idle.source.stop()
    expect(Date.now() - t).toBeLessThan(500)

    const port = await freePort()
    const sim = await simulator({
      scenario: opcuaScenario([{ id: 'bore', nodeId: BORE, every: '100ms' }]),
      port,
      pkiDir: await pkiDir(),
    })
    const { source } = await startSource(sim.endpoint, [
      { characteristic: 'bore', nodeId: `nsu=${NS};s=${BORE}` },
    ])
    await waitFor('connected', connected(source), { timeoutMs: 10_000 })
    t = Date.now()
    await source.stop()
    expect(Date.now() - t).toBeLessThan(1000)
    expect(source.status()).toMatchObject({ connected: false, detail: 'stopped' })
    await sim.stop()
    await waitFor('sockets and timers to be gone', () => handles() <= before, { timeoutMs: 3000 })
  })
})
