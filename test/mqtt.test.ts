import { connectAsync, type MqttClient } from 'mqtt'
import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  CharacteristicView,
  ClientToServer,
  DeviationView,
  NcEvent,
  NonconformanceSummary,
  NonconformanceView,
  PointsUpdate,
  ReadingsView,
  ServerToClient,
  TileUpdate,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

const TOPIC = 'demo/filling/line-1/filler/fill-weight'

describe('MQTT → pipeline → store, REST, socket.io and nonconformances (embedded aedes broker)', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient
  let socket: Socket<ServerToClient, ClientToServer>
  const tiles: TileUpdate[] = []
  const points: PointsUpdate[] = []
  const deviations: DeviationView[] = []
  const ncEvents: NcEvent[] = []

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill-weight
    name: Fill weight
    path: demo/filling/line-1/filler
    unit: g
    source: { mqtt: { topic: ${TOPIC} } }
    limits: { actionLow: 490, alertLow: 495, alertHigh: 505, actionHigh: 510 }
    chart: { baselineCount: 5 }
`)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    socket = io(gw.gateway.urls.http, { auth: { token: TOKENS.viewer }, transports: ['websocket'] })
    socket.on('tiles', (t) => tiles.push(...t))
    socket.on('points', (p) => points.push(p))
    socket.on('deviations', (d) => deviations.push(...d))
    socket.on('nc', (e) => ncEvents.push(...e))
    await waitFor('socket.io connection', () => socket.connected)
    const ack = await socket.emitWithAck('watch', ['fill-weight'])
    expect(ack).toEqual({ ok: true })
  })

  afterAll(async () => {
    socket?.close()
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  const characteristic = async () =>
    (await gw.get<CharacteristicView[]>('/api/characteristics')).body.find(
      (c) => c.id === 'fill-weight',
    ) as CharacteristicView

  it('stores a published reading, estimates and freezes limits after the baseline, and pushes it live', async () => {
    const t0 = Date.UTC(2026, 10, 22, 8, 0, 0)
    const baseline = [500, 501, 499, 500.5, 499.5]
    for (const [i, value] of baseline.entries()) {
      await mqtt.publishAsync(
        TOPIC,
        JSON.stringify({ value, ts: new Date(t0 + i * 1000).toISOString() }),
      )
    }
    const c = await waitFor('limits to be frozen', async () => {
      const view = await characteristic()
      return view.chart.control ? view : undefined
    })
    expect(c.chart.control?.center).toBeCloseTo(500, 10)
    // MR̄ = (1 + 2 + 1.5 + 1) / 4 = 1.375; σ = MR̄ / d2(2), d2(2) = 2/√π exactly
    expect(c.chart.control?.sigma).toBeCloseTo(1.375 / (2 / Math.sqrt(Math.PI)), 10)
    expect(c.state.last).toEqual({ ts: t0 + 4000, value: 499.5 })
    expect(c.state.status).toBe('normal')

    const stored = await gw.get<ReadingsView>(
      `/api/characteristics/fill-weight/readings?from=${t0}&to=${t0 + 10_000}`,
    )
    expect(stored.status).toBe(200)
    expect(stored.body.readings).toEqual(baseline.map((value, i) => ({ ts: t0 + i * 1000, value })))

    await waitFor('live points of the watched characteristic', () =>
      points.flatMap((p) => p.points).length >= baseline.length ? true : undefined,
    )
    expect(points.flatMap((p) => p.points).map((p) => p.panes.i?.statistic)).toEqual(baseline)
    await waitFor('a tile update', () =>
      tiles.some((t) => t.id === 'fill-weight' && t.state.last?.value === 499.5),
    )
  })

  it('opens exactly one nonconformance for a reading past the action limit, and adds a second excursion to it', async () => {
    const t1 = Date.now()
    await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 512.5, ts: t1 }))
    const opened = await waitFor('an NC', async () => {
      const list = (await gw.get<NonconformanceSummary[]>('/api/nonconformances?status=open')).body
      return list.length > 0 ? list : undefined
    })
    expect(opened).toHaveLength(1)
    expect(opened[0]).toMatchObject({
      characteristic: 'fill-weight',
      // 512.5 is also beyond 3σ: one event, one NC holding both causes.
      cause: 'action-high',
      causes: ['action-high', 'N1'],
      status: 'open',
      occurrences: 1,
      number: 'NC-000001',
      title: 'Fill weight above the action limit',
      trigger: { ts: t1, value: 512.5, limit: 510, rule: null },
    })
    await waitFor('the deviation pushed live', () =>
      deviations.some((d) => d.cause === 'action-high' && d.value === 512.5),
    )
    await waitFor('the NC pushed live', () =>
      ncEvents.some((e) => e.type === 'opened' && e.nc.id === opened[0]?.id),
    )
    expect((await characteristic()).state).toMatchObject({ status: 'action', openNcs: 1 })

    // Back inside, then out again: a second excursion of the same cause adds to the open NC.
    await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 500.2, ts: t1 + 1000 }))
    await mqtt.publishAsync(TOPIC, JSON.stringify({ value: 511, ts: t1 + 2000 }))
    const updated = await waitFor('the second occurrence', async () => {
      const nc = (await gw.get<NonconformanceView>(`/api/nonconformances/${opened[0]?.id}`)).body
      return nc.occurrences === 2 ? nc : undefined
    })
    const all = (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body
    expect(all).toHaveLength(1)
    expect(updated.history).toEqual([
      { ts: t1, value: 512.5 },
      { ts: t1 + 2000, value: 511 },
    ])
    // The data that caused it: the readings before the trigger (and the trigger), then those after it.
    expect(updated.readings.map((r) => r.value)).toEqual([
      500, 501, 499, 500.5, 499.5, 512.5, 500.2, 511,
    ])
    expect(updated.limitsInForce.alarm).toEqual({
      actionLow: 490,
      alertLow: 495,
      alertHigh: 505,
      actionHigh: 510,
    })
    expect(updated.limitsInForce.control?.center).toBeCloseTo(500, 10)
    await waitFor('the NC update pushed live', () =>
      ncEvents.some((e) => e.type === 'updated' && e.nc.occurrences === 2),
    )
  })

  it('refuses the API without a token, and a viewer may not read dead letters', async () => {
    expect((await gw.get('/api/characteristics', null)).status).toBe(401)
    expect((await gw.get('/api/characteristics', 'not-a-token')).status).toBe(401)
    expect((await gw.get('/api/dead-letters')).status).toBe(403)
    expect((await gw.get('/api/dead-letters', TOKENS.engineer)).status).toBe(200)
    expect((await gw.get('/api/health', null)).status).toBe(200)
    const bad = io(gw.gateway.urls.http, {
      auth: { token: 'wrong' },
      transports: ['websocket'],
      reconnection: false,
    })
    const error = await new Promise<Error>((resolve) => bad.on('connect_error', resolve))
    expect(error.message).toMatch(/unauthorized/)
    bad.close()
  })

  it('answers a bad request with 400 and its reason', async () => {
    const r1 = await gw.get<{ message: string }>(
      '/api/characteristics/fill-weight/readings?from=yesterday',
    )
    expect(r1.status).toBe(400)
    expect(r1.body.message).toMatch(/from: "yesterday" is neither epoch milliseconds nor ISO 8601/)
    const r2 = await gw.get<{ message: string }>(
      '/api/characteristics/fill-weight/readings?limit=0',
    )
    expect(r2.status).toBe(400)
    expect(r2.body.message).toMatch(/limit/)
    const r3 = await gw.get<{ message: string }>(
      '/api/characteristics/fill-weight/readings?from=2026-11-22T10:00:00Z&to=2026-11-22T09:00:00Z',
    )
    expect(r3.status).toBe(400)
    expect(r3.body.message).toMatch(/from must not be after to/)
    const r4 = await gw.get<{ message: string }>('/api/characteristics/nope/readings')
    expect(r4.status).toBe(404)
    const r5 = await gw.get<{ message: string }>('/api/nonconformances?status=closed-ish')
    expect(r5.status).toBe(400)
  })
})
