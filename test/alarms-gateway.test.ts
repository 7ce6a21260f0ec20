import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { connectAsync, type MqttClient } from 'mqtt'
import { io as connectSocket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlarmEventView,
  AlarmKpisView,
  AlarmsUpdate,
  AlarmView,
  NonconformanceSummary,
  PlantStateView,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { apiCall, waitFor } from './helpers/index.ts'

/**
 * Alarm management end to end (issue 8): a real gateway, readings over MQTT, the REST API with
 * tokens of every role, the live socket. The pure state machines are tested against the
 * standard in alarms-*.test.ts; here: that the gateway runs them as the standard says.
 */

const PLANT = `
alarms:
  maxShelveMinutes: 60
  states:
    - { id: line-stopped, name: Line stopped }
  suppression:
    - { when: { state: line-stopped }, suppress: ['fill:*'] }
    - { when: { alarm: 'pressure:LL' }, suppress: ['torque:HH'] }
nonconformance: { openOn: [HH, LL] }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    source: { mqtt: { topic: t/fill } }
    limits: { alertHigh: 503, actionHigh: 505 }
    chart: { given: { center: 500, sigma: 1 }, rules: [N1] }
    alarms: { deadband: { units: 1 } }
  - id: torque
    name: Cap torque
    path: Plant/Filling/Line 1/Capper
    source: { mqtt: { topic: t/torque } }
    limits: { actionHigh: 2.5 }
    chart: { given: { center: 2.2, sigma: 0.05 }, rules: [] }
    alarms:
      conditions: { HH: { onDelay: { readings: 3 }, priority: critical } }
  - id: pressure
    name: Differential pressure
    path: Plant/Aseptic/Room 1
    unit: Pa
    source: { mqtt: { topic: t/pressure } }
    limits: { actionLow: 10 }
    chart: { given: { center: 15, sigma: 1 }, rules: [] }
`

describe('alarms in the gateway', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient

  const call = <T>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    token: string | null,
    body?: unknown,
  ) => apiCall<T>(gw.gateway.urls.http as string, method, path, token, body)
  const alarm = async (id: string) =>
    (await call<AlarmView>('GET', `/api/alarms/${encodeURIComponent(id)}`, TOKENS.viewer)).body
  const history = async (id: string) =>
    (
      await call<AlarmEventView[]>(
        'GET',
        `/api/alarms/${encodeURIComponent(id)}/history`,
        TOKENS.viewer,
      )
    ).body.reverse()
  const publish = async (topic: string, ...values: number[]) => {
    for (const v of values) await mqtt.publishAsync(topic, String(v), { qos: 1 })
  }
  const stateIs = (id: string, state: string) =>
    waitFor(`${id} ${state}`, async () => {
      const a = await alarm(id)
      return a.state === state ? a : undefined
    })

  beforeAll(async () => {
    gw = await startTestGateway(`mqtt: { broker: { port: 0 } }\n${PLANT}`)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string, { clientId: 'alarm-test' })
  })
  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('defines the alarms the configuration implies, each with its priority and area', async () => {
    const all = [
      ...(await call<AlarmView[]>('GET', '/api/alarms?state=normal', TOKENS.viewer)).body,
    ].map((a) => [a.id, a.priority, a.area])
    expect(all.sort()).toEqual(
      [
        ['fill:HH', 'high', 'Plant/Filling'],
        ['fill:H', 'medium', 'Plant/Filling'],
        ['fill:comm-loss', 'high', 'Plant/Filling'],
        ['fill:N1', 'low', 'Plant/Filling'],
        ['torque:HH', 'critical', 'Plant/Filling'],
        ['torque:comm-loss', 'high', 'Plant/Filling'],
        ['pressure:LL', 'high', 'Plant/Aseptic'],
        ['pressure:comm-loss', 'high', 'Plant/Aseptic'],
      ].sort(),
    )
  })

  it('lists areas, takes several states at once, and tells the dashboard the shelve limit', async () => {
    expect((await call<string[]>('GET', '/api/alarms/areas', TOKENS.viewer)).body).toEqual([
      'Plant/Aseptic',
      'Plant/Filling',
    ])
    const all = (
      await call<AlarmView[]>('GET', '/api/alarms?state=normal,unack-active', TOKENS.viewer)
    ).body
    expect(all.length).toBe(8)
    expect(all.find((a) => a.id === 'fill:HH')?.decimals).toBe(2)
    const bad = await call('GET', '/api/alarms?state=normal,nope', TOKENS.viewer)
    expect(bad.status).toBe(400)
    const session = (await call<{ maxShelveMinutes: number }>('GET', '/api/session', TOKENS.viewer))
      .body
    expect(session.maxShelveMinutes).toBe(60)
  })

  it('a reading past HH raises it (and H); acknowledged, then cleared past the deadband, with the excursion recorded', async () => {
    await publish('t/fill', 507.2)
    const hh = await stateIs('fill:HH', 'unack-active')
    expect(hh).toMatchObject({ active: true, value: 507.2, limit: 505, unit: 'g' })
    expect(hh.message).toBe('Fill weight above the action limit (HH): 507.2 g, limit 505 g')
    await stateIs('fill:H', 'unack-active')
    const list = (await call<AlarmView[]>('GET', '/api/alarms', TOKENS.viewer)).body
    // Highest priority first.
    expect(list.map((a) => a.id).slice(0, 2)).toEqual(['fill:HH', 'fill:H'])

    const ack = await call<AlarmView>(
      'POST',
      '/api/alarms/fill%3AHH/acknowledge',
      TOKENS.operator,
      {
        comment: 'checking the filler head',
      },
    )
    expect(ack.status).toBe(200)
    expect(ack.body).toMatchObject({ state: 'ack-active', acknowledged: true })
    // Inside the deadband (505 − 1 < 504.5): still active. At 504 (= 505 − 1): back.
    await publish('t/fill', 508.1, 504.5)
    await publish('t/fill', 504)
    await stateIs('fill:HH', 'normal')
    // H (503, deadband 1) is still beyond 502: active, not acknowledged.
    expect((await alarm('fill:H')).state).toBe('unack-active')
    await publish('t/fill', 500)
    await stateIs('fill:H', 'unack-rtn')

    const h = await history('fill:HH')
    expect(h.map((e) => [e.from, e.to, e.by])).toEqual([
      ['normal', 'unack-active', null],
      ['unack-active', 'ack-active', 'operator'],
      ['ack-active', 'normal', null],
    ])
    expect(h[1]?.why).toBe('checking the filler head')
    expect(h[2]?.why).toMatch(/the excursion lasted \d+ (ms|s)/)
    // The farthest reading of the excursion, 508.1 g.
    expect(h[2]?.why).toContain('peak 508.1 g')
  })

  it('opens one NC for an HH alarm, and none for a condition not configured to (H)', async () => {
    const ncs = (
      await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)
    ).body.filter((n) => n.characteristic === 'fill')
    expect(ncs.map((n) => [n.cause, n.occurrences, n.trigger.value, n.trigger.limit])).toEqual([
      ['action-high', 1, 507.2, 505],
    ])
  })

  it('an on-delay of 3 readings: two readings past HH raise nothing, the third does', async () => {
    await publish('t/torque', 2.6, 2.7)
    await publish('t/torque', 2.2)
    // The third reading, back inside, reset the count: still normal.
    expect((await alarm('torque:HH')).state).toBe('normal')
    await publish('t/torque', 2.6, 2.61, 2.62)
    const a = await stateIs('torque:HH', 'unack-active')
    expect(a.value).toBe(2.62)
  })

  it('no duplicate under 1,000 concurrent readings from 10 clients: one alarm, one activation, one NC', async () => {
    const clients = await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        connectAsync(gw.gateway.urls.mqtt as string, { clientId: `burst-${k}` }),
      ),
    )
    try {
      await Promise.all(
        clients.map((c, k) =>
          Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              c.publishAsync('t/pressure', String(5 + ((k + i) % 4)), { qos: 1 }),
            ),
          ),
        ),
      )
    } finally {
      await Promise.all(clients.map((c) => c.endAsync()))
    }
    await stateIs('pressure:LL', 'unack-active')
    const h = await history('pressure:LL')
    expect(h.map((e) => [e.from, e.to])).toEqual([['normal', 'unack-active']])
    const ncs = (
      await call<NonconformanceSummary[]>(
        'GET',
        '/api/nonconformances?characteristic=pressure',
        TOKENS.viewer,
      )
    ).body
    expect(ncs.map((n) => [n.cause, n.occurrences])).toEqual([['action-low', 1]])
    const counts = (
      await call<Record<string, { active: number }>>('GET', '/api/alarms/counts', TOKENS.viewer)
    ).body
    expect(counts.high?.active).toBeGreaterThanOrEqual(1)
  })

  it('suppression by design: an active pressure LL suppresses torque HH; it comes back when LL clears', async () => {
    // pressure:LL is active (previous test): torque:HH, active too, is suppressed.
    await stateIs('torque:HH', 'suppressed')
    await publish('t/pressure', 15)
    const back = await stateIs('torque:HH', 'unack-active')
    expect(back.active).toBe(true)
    const h = await history('torque:HH')
    expect(h.at(-2)?.why).toBe('suppressed by design: pressure:LL is active')
    expect(h.at(-1)?.why).toBe('suppression by design ended')
  })

  it('a plant state suppresses by design: no alarm and no NC while the line is stopped', async () => {
    const set = await call<PlantStateView>(
      'PUT',
      '/api/plant-states/line-stopped',
      TOKENS.operator,
      {
        active: true,
        reason: 'planned changeover',
      },
    )
    expect(set.body).toMatchObject({ active: true, by: 'operator', reason: 'planned changeover' })
    await stateIs('fill:HH', 'suppressed')
    const before = (
      await call<NonconformanceSummary[]>(
        'GET',
        '/api/nonconformances?characteristic=fill',
        TOKENS.viewer,
      )
    ).body.length
    await publish('t/fill', 509)
    await waitFor('fill:HH active while suppressed', async () => (await alarm('fill:HH')).active)
    expect((await alarm('fill:HH')).state).toBe('suppressed')
    const after = (
      await call<NonconformanceSummary[]>(
        'GET',
        '/api/nonconformances?characteristic=fill',
        TOKENS.viewer,
      )
    ).body
    expect(after.length).toBe(before)
    expect(after[0]?.occurrences).toBe(1)
    await call('PUT', '/api/plant-states/line-stopped', TOKENS.operator, {
      active: false,
      reason: 'line running again',
    })
    // Still past HH when the suppression ends: announced, unacknowledged.
    await stateIs('fill:HH', 'unack-active')
    await publish('t/fill', 500)
    await stateIs('fill:HH', 'unack-rtn')
  })

  it('shelving needs a reason and at most alarms.maxShelveMinutes; it ends by itself, unacknowledged', async () => {
    const tooLong = await call<{ message: string }>(
      'POST',
      '/api/alarms/fill%3AH/shelve',
      TOKENS.operator,
      {
        reason: 'nuisance during cleaning',
        minutes: 61,
      },
    )
    expect(tooLong.status).toBe(400)
    expect(tooLong.body.message).toContain('at most 60 minutes')
    await publish('t/fill', 503.5)
    await stateIs('fill:H', 'unack-active')
    const shelved = await call<AlarmView>('POST', '/api/alarms/fill%3AH/shelve', TOKENS.operator, {
      reason: 'nuisance during cleaning',
      minutes: 0.05, // 3 s
    })
    expect(shelved.body).toMatchObject({
      state: 'shelved',
      shelvedBy: 'operator',
      shelveReason: 'nuisance during cleaning',
    })
    const counts = (
      await call<Record<string, { active: number; unacknowledged: number }>>(
        'GET',
        '/api/alarms/counts',
        TOKENS.viewer,
      )
    ).body
    expect(counts.medium).toEqual({ active: 0, unacknowledged: 0 })
    // Still active when the shelve expires: back unacknowledged (ISA-18.2 figure 5, E → B).
    const back = await stateIs('fill:H', 'unack-active')
    expect(back.shelvedBy).toBeNull()
    const last = (await history('fill:H')).at(-1)
    expect(last).toMatchObject({
      from: 'shelved',
      to: 'unack-active',
      by: null,
      why: 'shelve expired',
    })
    // A manual unshelve returns it acknowledged.
    await call('POST', '/api/alarms/fill%3AH/shelve', TOKENS.operator, {
      reason: 'again',
      minutes: 30,
    })
    const un = await call<AlarmView>('POST', '/api/alarms/fill%3AH/unshelve', TOKENS.operator, {})
    expect(un.body).toMatchObject({ state: 'ack-active', acknowledged: true })
    await publish('t/fill', 500)
    await stateIs('fill:H', 'normal')
  })

  it('out of service needs an engineer; the operator is told why', async () => {
    const refused = await call<{ message: string }>(
      'POST',
      '/api/alarms/fill%3AN1/out-of-service',
      TOKENS.operator,
      {
        reason: 'gauge under calibration',
      },
    )
    expect(refused.status).toBe(403)
    expect(refused.body.message).toBe(
      'putting an alarm out of service needs the quality-engineer role; the token has operator',
    )
    const oos = await call<AlarmView>(
      'POST',
      '/api/alarms/fill%3AN1/out-of-service',
      TOKENS.engineer,
      {
        reason: 'gauge under calibration',
      },
    )
    expect(oos.body.state).toBe('out-of-service')
    const again = await call<{ message: string }>(
      'POST',
      '/api/alarms/fill%3AN1/acknowledge',
      TOKENS.operator,
      {},
    )
    expect(again.status).toBe(409)
    expect(again.body.message).toContain('out of service')
    const back = await call<AlarmView>(
      'POST',
      '/api/alarms/fill%3AN1/return-to-service',
      TOKENS.engineer,
      {},
    )
    expect(back.body.state).toBe('normal')
  })

  it('an engineer changes a priority; the history says who, what and why', async () => {
    const res = await call<AlarmView>('PUT', '/api/alarms/fill%3AH/settings', TOKENS.engineer, {
      priority: 'high',
      reason: 'rationalisation review 12',
    })
    expect(res.body.priority).toBe('high')
    expect((await history('fill:H')).at(-1)).toMatchObject({
      by: 'engineer',
      why: 'settings changed: priority "medium" → "high" (rationalisation review 12)',
    })
    const bad = await call<{ message: string }>(
      'PUT',
      '/api/alarms/fill%3Acomm-loss/settings',
      TOKENS.engineer,
      {
        deadband: { units: 1 },
        reason: 'nonsense',
      },
    )
    expect(bad.status).toBe(400)
  })

  it('bulk acknowledgement: each alarm acknowledged or refused with its reason', async () => {
    await publish('t/fill', 507)
    await stateIs('fill:HH', 'unack-active')
    const res = await call<{
      acknowledged: AlarmView[]
      refused: { id: string; reason: string }[]
    }>('POST', '/api/alarms/acknowledge', TOKENS.operator, {
      ids: ['fill:HH', 'fill:comm-loss', 'nope:HH'],
      comment: 'seen',
    })
    expect(res.body.acknowledged.map((a) => [a.id, a.state])).toEqual([['fill:HH', 'ack-active']])
    expect(res.body.refused).toEqual([
      { id: 'fill:comm-loss', reason: 'nothing to acknowledge: the alarm is normal' },
      { id: 'nope:HH', reason: 'no such alarm' },
    ])
    // Answered once on disk: another connection reads the acknowledgement at once, with its
    // comment (what a crash right after the answer would leave).
    const records = new DatabaseSync(join(gw.dataDir, 'records.db'), { readOnly: true })
    try {
      const last = records
        .prepare(
          "SELECT to_state, by, why FROM alarm_event WHERE alarm = 'fill:HH' ORDER BY id DESC LIMIT 1",
        )
        .get() as { to_state: string; by: string; why: string }
      expect(last.to_state).toBe('ack-active')
      expect(last.why).toContain('seen')
    } finally {
      records.close()
    }
    await publish('t/fill', 500)
    await stateIs('fill:HH', 'normal')
  })

  it('KPIs: an alarm toggling three times within a minute is chattering, and a bad actor', async () => {
    const from = Date.now()
    for (let k = 0; k < 3; k++) {
      await publish('t/pressure', 5)
      await stateIs('pressure:LL', 'unack-active')
      await publish('t/pressure', 15)
      await stateIs('pressure:LL', 'unack-rtn')
    }
    const kpis = (
      await call<AlarmKpisView>(
        'GET',
        `/api/alarm-kpis?from=${from}&to=${Date.now() + 1}&area=Plant/Aseptic`,
        TOKENS.viewer,
      )
    ).body
    expect(kpis.areas.map((a) => a.area)).toEqual(['Plant/Aseptic'])
    const area = kpis.areas[0]
    expect(area?.alarms).toBe(3)
    expect(area?.chattering).toEqual(['pressure:LL'])
    expect(area?.badActors).toEqual([{ alarm: 'pressure:LL', activations: 3 }])
    expect(area?.priorities.high).toBe(1)
    expect(area?.meanTimeToAcknowledgeMs).toBeNull()
  })

  it('pushes changes live: the counts and the alarm that changed', async () => {
    const socket = connectSocket(gw.gateway.urls.http, {
      auth: { token: TOKENS.viewer },
      transports: ['websocket'],
    })
    try {
      const updates: AlarmsUpdate[] = []
      socket.on('alarms', (u: AlarmsUpdate) => updates.push(u))
      await waitFor('the first counts', () => updates.length > 0)
      await publish('t/fill', 507)
      const seen = await waitFor('fill:HH pushed', () =>
        updates.find((u) =>
          u.changed.some((a) => a.id === 'fill:HH' && a.state === 'unack-active'),
        ),
      )
      expect(seen.counts.high.unacknowledged).toBeGreaterThanOrEqual(1)
      await publish('t/fill', 500)
      await stateIs('fill:HH', 'unack-rtn')
    } finally {
      socket.disconnect()
    }
  })
})

describe('alarm routes: each needs its role', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  beforeAll(async () => {
    gw = await startTestGateway(`mqtt: { broker: { port: 0 } }\n${PLANT}`)
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
  })

  const ROUTES: {
    method: 'GET' | 'POST' | 'PUT'
    path: string
    role: keyof typeof TOKENS
    body?: unknown
  }[] = [
    { method: 'GET', path: '/api/alarms', role: 'viewer' },
    { method: 'GET', path: '/api/alarms/counts', role: 'viewer' },
    { method: 'GET', path: '/api/alarms/areas', role: 'viewer' },
    { method: 'GET', path: '/api/alarms/fill%3AHH', role: 'viewer' },
    { method: 'GET', path: '/api/alarms/fill%3AHH/history', role: 'viewer' },
    { method: 'GET', path: '/api/alarm-kpis', role: 'viewer' },
    { method: 'GET', path: '/api/plant-states', role: 'viewer' },
    { method: 'GET', path: '/api/cleanrooms', role: 'viewer' },
    { method: 'POST', path: '/api/alarms/fill%3AHH/acknowledge', role: 'operator', body: {} },
    {
      method: 'POST',
      path: '/api/alarms/acknowledge',
      role: 'operator',
      body: { ids: ['fill:HH'] },
    },
    {
      method: 'POST',
      path: '/api/alarms/fill%3AHH/shelve',
      role: 'operator',
      body: { reason: 'why not', minutes: 5 },
    },
    { method: 'POST', path: '/api/alarms/fill%3AHH/unshelve', role: 'operator', body: {} },
    {
      method: 'PUT',
      path: '/api/plant-states/line-stopped',
      role: 'operator',
      body: { active: false, reason: 'a test' },
    },
    {
      method: 'POST',
      path: '/api/alarms/fill%3AHH/out-of-service',
      role: 'engineer',
      body: { reason: 'a test' },
    },
    { method: 'POST', path: '/api/alarms/fill%3AHH/return-to-service', role: 'engineer', body: {} },
    {
      method: 'PUT',
      path: '/api/alarms/fill%3AHH/settings',
      role: 'engineer',
      body: { priority: 'low', reason: 'a test' },
    },
  ]
  const RANK = ['viewer', 'operator', 'engineer'] as const
  /** The test tokens are named after roles; `engineer` is configured as the legacy alias. */
  const ROLE_OF = { viewer: 'viewer', operator: 'operator', engineer: 'quality-engineer' }

  it.each(ROUTES)('$method $path needs $role', async ({ method, path, role, body }) => {
    const send = async (token: string | null) => {
      const res = await fetch(`${gw.gateway.urls.http}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as { message?: string } }
    }
    expect((await send(null)).status).toBe(401)
    for (const lower of RANK.slice(0, RANK.indexOf(role as 'viewer'))) {
      const r = await send(TOKENS[lower])
      expect(r.status).toBe(403)
      expect(r.body.message).toContain(
        `the ${ROLE_OF[role as 'viewer']} role; the token has ${ROLE_OF[lower]}`,
      )
    }
    const ok = await send(TOKENS[role])
    expect([401, 403]).not.toContain(ok.status)
  })
})
