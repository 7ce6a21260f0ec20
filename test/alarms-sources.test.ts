import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlarmEventView, AlarmView } from '../gateway/contract.ts'
import { type MachineSimulator, startMachineSimulator } from '../simulators/machine.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { freePort, type RunningProcess, tempDir, waitFor } from './helpers/index.ts'
import { opcuaScenario } from './helpers/opcua.ts'

/**
 * Stale and comm-loss alarms from real sources going away: the simulator's process stopped
 * (cleanly: a stale alarm; killed: its MQTT connection gone without DISCONNECT, comm-loss),
 * and a node-opcua server stopped and started again. And a restart of the gateway keeps every
 * alarm's state.
 */

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'linewatch.js')
const NS = 'urn:linewatch:test:alarms'

function simulator(scenarioFile: string): RunningProcess {
  const child = spawn(process.execPath, [BIN, 'simulate', 'sensors', '--scenario', scenarioFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

async function api<T>(
  gw: TestGateway,
  method: 'GET' | 'POST',
  path: string,
  token: string = TOKENS.viewer,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${gw.gateway.urls.http}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return (await res.json()) as T
}
const alarmOf = (gw: TestGateway, id: string) =>
  api<AlarmView>(gw, 'GET', `/api/alarms/${encodeURIComponent(id)}`)
const waitState = (gw: TestGateway, id: string, state: string, timeoutMs = 20_000) =>
  waitFor(
    `${id} ${state}`,
    async () => {
      const a = await alarmOf(gw, id)
      return a.state === state ? a : undefined
    },
    { timeoutMs },
  )

describe('stale and comm-loss from a real simulator process', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let dir: { path: string; remove(): Promise<void> }
  let scenario: string
  let sim: RunningProcess | null = null

  beforeAll(async () => {
    dir = await tempDir()
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - id: temp
    name: Room temperature
    path: Plant/Aseptic/Room 1
    unit: °C
    source: { mqtt: { topic: sim/temp } }
    limits: { actionHigh: 25 }
    chart: { given: { center: 20, sigma: 0.5 }, rules: [] }
    alarms: { staleAfterMs: 2000 }
`)
    scenario = join(dir.path, 'scenario.yaml')
    await writeFile(
      scenario,
      `seed: 3
mqtt: { url: '${gw.gateway.urls.mqtt}' }
streams:
  - { id: temp, mqtt: { topic: sim/temp, format: number }, every: 200ms, mean: 20, sigma: 0.1, decimals: 2 }
`,
    )
  })
  afterAll(async () => {
    await sim?.stop()
    await gw?.close()
    await gw?.removeDataDir()
    await dir?.remove()
  })

  it('stopped cleanly: no reading for 2 s raises stale; the simulator back clears it', async () => {
    sim = simulator(scenario)
    await waitFor(
      'a reading',
      async () =>
        (await api<{ state: { last: unknown } }>(gw, 'GET', '/api/characteristics/temp')).state
          .last !== null,
      { timeoutMs: 20_000 },
    )
    await sim.stop()
    const stale = await waitState(gw, 'temp:stale', 'unack-active')
    expect(stale.limit).toBe(2000)
    expect(stale.message).toBe('Room temperature not updated for 2 s or more')
    // A clean stop sends DISCONNECT: that is no loss of communication.
    expect((await alarmOf(gw, 'temp:comm-loss')).state).toBe('normal')
    sim = simulator(scenario)
    await waitState(gw, 'temp:stale', 'unack-rtn')
  })

  it('killed: its connection gone without DISCONNECT raises comm-loss, which suppresses stale', async () => {
    await waitFor(
      'readings again',
      async () => {
        const last = (
          await api<{ state: { last: { ts: number } | null } }>(
            gw,
            'GET',
            '/api/characteristics/temp',
          )
        ).state.last
        return last !== null && Date.now() - last.ts < 1000
      },
      { timeoutMs: 20_000 },
    )
    sim?.child.kill('SIGKILL')
    await sim?.stop()
    const lost = await waitState(gw, 'temp:comm-loss', 'unack-active')
    expect(lost.message).toBe('Room temperature communication lost')
    const h = await api<AlarmEventView[]>(gw, 'GET', '/api/alarms/temp%3Acomm-loss/history')
    expect(h[0]?.why).toMatch(/^condition active: MQTT client "[^"]+" gone without DISCONNECT$/)
    // The silence has a known cause: stale is suppressed by design while comm-loss holds.
    await waitState(gw, 'temp:stale', 'suppressed')
    sim = simulator(scenario)
    // The first reading is proof of communication.
    await waitState(gw, 'temp:comm-loss', 'unack-rtn')
    await waitFor(
      'stale out of suppression',
      async () => (await alarmOf(gw, 'temp:stale')).state !== 'suppressed',
    )
  })
})

describe('comm-loss from a node-opcua server stopped and started again', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let machine: MachineSimulator
  let pki: { path: string; remove(): Promise<void> }
  let port: number
  const scenario = opcuaScenario([{ id: 'bore', nodeId: 'Cell1.BoreDiameter' }], NS)
  const startMachine = () =>
    startMachineSimulator({ scenario, port, pkiDir: pki.path, drive: false })

  beforeAll(async () => {
    pki = await tempDir()
    port = await freePort()
    machine = await startMachine()
    gw = await startTestGateway(`
mqtt: { broker: { enabled: false } }
opcua: { servers: [{ id: cnc-1, endpoint: 'opc.tcp://127.0.0.1:${port}', samplingIntervalMs: 0, publishingIntervalMs: 100, securityPolicy: None, securityMode: None }] }
characteristics:
  - id: bore
    name: Bore diameter
    path: Plant/Machining/CNC 1
    unit: mm
    source: { opcua: { server: cnc-1, nodeId: 'nsu=${NS};s=Cell1.BoreDiameter' } }
    limits: { actionHigh: 12.01 }
`)
  })
  afterAll(async () => {
    await gw?.close()
    await machine?.stop()
    await gw?.removeDataDir()
    await pki?.remove()
  })

  it('the session lost raises comm-loss; the session back clears it', async () => {
    await waitFor(
      'the OPC-UA connection',
      async () =>
        (await api<{ sources: { connected: boolean }[] }>(gw, 'GET', '/api/health')).sources[0]
          ?.connected,
      { timeoutMs: 30_000 },
    )
    expect((await alarmOf(gw, 'bore:comm-loss')).state).toBe('normal')
    await machine.stop()
    await waitState(gw, 'bore:comm-loss', 'unack-active', 30_000)
    const why = (await api<AlarmEventView[]>(gw, 'GET', '/api/alarms/bore%3Acomm-loss/history'))[0]
      ?.why
    expect(why).toMatch(
      new RegExp(`^condition active: OPC-UA session to opc\\.tcp://127\\.0\\.0\\.1:${port} lost: `),
    )
    machine = await startMachine()
    await waitState(gw, 'bore:comm-loss', 'unack-rtn', 40_000)
  })
})

describe('a restart keeps every alarm state', () => {
  it('acknowledged, shelved and unacknowledged alarms come back as they were, with their history', async () => {
    const dir = await tempDir()
    const config = `
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: a, name: A, path: P/X, source: { mqtt: { topic: r/a } }, limits: { actionHigh: 10 }, chart: { given: { center: 5, sigma: 1 }, rules: [] } }
  - { id: b, name: B, path: P/X, source: { mqtt: { topic: r/b } }, limits: { actionHigh: 10 }, chart: { given: { center: 5, sigma: 1 }, rules: [] } }
  - { id: c, name: C, path: P/Y, source: { mqtt: { topic: r/c } }, limits: { actionHigh: 10 }, chart: { given: { center: 5, sigma: 1 }, rules: [] } }
`
    let gw = await startTestGateway(config, { dataDir: dir.path })
    try {
      const client = await connectAsync(gw.gateway.urls.mqtt as string)
      for (const t of ['r/a', 'r/b', 'r/c']) await client.publishAsync(t, '12', { qos: 1 })
      await client.endAsync()
      for (const id of ['a:HH', 'b:HH', 'c:HH']) await waitState(gw, id, 'unack-active')
      await api(gw, 'POST', '/api/alarms/a%3AHH/acknowledge', TOKENS.operator, { comment: 'on it' })
      await api(gw, 'POST', '/api/alarms/b%3AHH/shelve', TOKENS.operator, {
        reason: 'sensor swap',
        minutes: 45,
      })
      const before = await Promise.all(['a:HH', 'b:HH', 'c:HH'].map((id) => alarmOf(gw, id)))
      const counts = await api(gw, 'GET', '/api/alarms/counts')
      await gw.close()

      gw = await startTestGateway(config, { dataDir: dir.path })
      const after = await Promise.all(['a:HH', 'b:HH', 'c:HH'].map((id) => alarmOf(gw, id)))
      expect(
        after.map((a) => [
          a.id,
          a.state,
          a.active,
          a.activeSince,
          a.shelvedBy,
          a.shelveReason,
          a.shelvedUntil,
        ]),
      ).toEqual(
        before.map((a) => [
          a.id,
          a.state,
          a.active,
          a.activeSince,
          a.shelvedBy,
          a.shelveReason,
          a.shelvedUntil,
        ]),
      )
      expect(after.map((a) => a.state)).toEqual(['ack-active', 'shelved', 'unack-active'])
      expect(await api(gw, 'GET', '/api/alarms/counts')).toEqual(counts)
      const h = await api<AlarmEventView[]>(gw, 'GET', '/api/alarms/a%3AHH/history')
      expect(h.map((e) => [e.from, e.to, e.by]).reverse()).toEqual([
        ['normal', 'unack-active', null],
        ['unack-active', 'ack-active', 'operator'],
      ])
      // Still active after the restart: a reading back inside clears it (the condition carried on).
      const again = await connectAsync(gw.gateway.urls.mqtt as string)
      await again.publishAsync('r/a', '5', { qos: 1 })
      await again.endAsync()
      await waitState(gw, 'a:HH', 'normal')
    } finally {
      await gw.close()
      await dir.remove()
    }
  })
})
