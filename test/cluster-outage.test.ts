import { request } from 'node:http'
import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  ClientToServer,
  NcEvent,
  NonconformanceSummary,
  ServerToClient,
} from '../gateway/contract.ts'
import { partitionOf } from '../rules/leases.ts'
import {
  alarmOn,
  CLUSTER_ADMIN_PASSWORD,
  type ClusterGateway,
  type ClusterPlant,
  callGateway as call,
  connectDevice,
  STAFF_PASSWORDS as PASSWORDS,
  signIn,
  startClusterPlant,
} from './helpers/cluster.ts'
import { waitFor } from './helpers/index.ts'
import { startTcpProxy } from './helpers/tcp-proxy.ts'

/**
 * The gateways of a cluster tell each other of changes over Redis, and an announcement is not
 * kept for a gateway that cannot hear it (docs/scale.md, "When Redis is away"). While Redis is
 * down, one gateway (x) has a pump trip, a plant state set and a user disabled, and the other
 * (y) closes an NC that x raises. Once Redis is back each gateway reads again what it missed:
 * y suppresses its alarm by the pump's trip, holds the plant state and refuses the user; x
 * opens a recurrence for the next excursion rather than add to the NC closed meanwhile, and y
 * counts the wrong passwords x refused meanwhile, locking the user they were tried for. And when
 * only one gateway loses Redis (through a proxy cut), what it changed meanwhile reaches the
 * other, which noticed nothing, once it is back (it announces it again, and `peers-resync`).
 */
const PARTITIONS = 4
const LEASE_MS = 4000
const KS = Array.from({ length: 8 }, (_, c) => `k${c}`)
const line = (c: string) =>
  `  - { id: ${c}, name: ${c.toUpperCase()}, path: plant/outage/${c}, source: { mqtt: { topic: ou/${c} } }, limits: { actionHigh: 10, actionLow: -10 }, chart: { baselineCount: 8 } }`
const yaml = `
alarms:
  states: [{ id: changeover, name: Product changeover }]
  suppression:
    - { when: { alarm: 'pump:HH' }, suppress: ['*:HH'] }
    - { when: { state: changeover }, suppress: ['*:LL'] }
characteristics:
${['pump', ...KS].map(line).join('\n')}
`

/**
 * A sign-in from another loopback address (the gateway throttles per user name and per client
 * address): the status it gets.
 */
const signInFrom = (gw: ClusterGateway, user: string, password: string, localAddress: string) =>
  new Promise<number>((resolve, reject) => {
    const body = JSON.stringify({ user, password })
    const req = request(
      `${gw.url}/api/auth/sign-in`,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })

const changeoverOn = async (gw: ClusterGateway) =>
  (await call<{ id: string; active: boolean }[]>(gw, 'GET', '/api/plant-states', null)).body.find(
    (s) => s.id === 'changeover',
  )?.active

describe('a cluster after Redis was away', () => {
  let plant: ClusterPlant
  let device: Awaited<ReturnType<typeof connectDevice>> | undefined
  let socket: Socket<ServerToClient, ClientToServer> | undefined

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-outage-')
  }, 60_000)

  afterAll(async () => {
    socket?.close()
    device?.client.end(true)
    await plant?.stop()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'outage',
      clientId: 'lwo',
      yaml,
    })

  const ncsOf = async (gw: ClusterGateway, c: string) =>
    (
      await call<NonconformanceSummary[]>(
        gw,
        'GET',
        `/api/nonconformances?characteristic=${c}`,
        null,
      )
    ).body

  it('reads again what each gateway missed: suppression, plant states, users and NC closures', async () => {
    const gateways = new Map([
      ['gw-a', await startGateway('gw-a')],
      ['gw-b', await startGateway('gw-b')],
    ])
    const held = await plant.settled(PARTITIONS, 2)
    const xName = held.get(partitionOf('pump', PARTITIONS)) as string
    const x = gateways.get(xName) as ClusterGateway
    const y = gateways.get(xName === 'gw-a' ? 'gw-b' : 'gw-a') as ClusterGateway
    const onX = KS.find((c) => held.get(partitionOf(c, PARTITIONS)) === x.name) as string
    const onY = KS.find((c) => held.get(partitionOf(c, PARTITIONS)) === y.name) as string
    expect(onX).toBeDefined()
    expect(onY).toBeDefined()
    device = await connectDevice(plant, 'outage-device', 'ou')
    const { publish } = device

    // People, added on x and known on y.
    const admin = (await signIn(x, 'admin', CLUSTER_ADMIN_PASSWORD)).body.token
    for (const [name, role] of [
      ['qe', 'quality-engineer'],
      ['qm', 'quality-manager'],
      ['op', 'operator'],
    ] as const) {
      const added = await call(x, 'POST', '/api/users', admin, {
        name,
        printedName: name.toUpperCase(),
        role,
        password: PASSWORDS[name],
        reason: 'staff of the outage line',
      })
      expect(added.status, JSON.stringify(added.body)).toBe(200)
    }
    const onYAs = { qe: '', qm: '', op: '' }
    for (const name of ['qe', 'qm', 'op'] as const)
      onYAs[name] = (
        await waitFor(`${name} to sign in on y`, async () => {
          const s = await signIn(y, name, PASSWORDS[name])
          return s.status === 200 ? s : undefined
        })
      ).body.token

    // y has heard of the pump: a trip suppresses y's high alarm, its end announces it again.
    await publish(onY, 14)
    await waitFor('the pump’s trip', async () => {
      await publish('pump', 14)
      return (await alarmOn(x, 'pump:HH')).active
    })
    await waitFor('y’s alarm suppressed by the trip', async () => {
      return (await alarmOn(y, `${onY}:HH`)).state === 'suppressed'
    })
    await publish('pump', 5)
    await waitFor('y’s alarm announced once the trip ends', async () => {
      const v = await alarmOn(y, `${onY}:HH`)
      return v.state === 'unack-active' && v.active
    })

    // An NC x raises, taken up to its disposition through y.
    await publish(onX, 12)
    const [nc] = await waitFor('the NC on x', async () => {
      const list = await ncsOf(x, onX)
      return list.length === 1 ? list : undefined
    })
    const ncId = (nc as NonconformanceSummary).id
    const act = (token: string, body: Record<string, unknown>) =>
      call<{ status: string }>(y, 'POST', `/api/nonconformances/${ncId}/actions`, token, body)
    for (const step of [
      { action: 'investigate', owner: 'qe', dueAt: Date.now() + 86_400_000, reason: 'HH alarm' },
      { action: 'root-cause', whys: ['over the limit', 'test'], fishbone: {}, reason: 'test' },
      { action: 'disposition', decision: 'use-as-is', justification: 'tolerance', reason: 'MRB' },
    ]) {
      const res = await act(onYAs.qe, step)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    await publish(onX, 5)
    await waitFor('x’s alarm to clear', async () => !(await alarmOn(x, `${onX}:HH`)).active)
    // A dashboard on x: it hears of the NC once x follows it.
    socket = io(x.url, { transports: ['websocket'] })
    const ncEvents: NcEvent[] = []
    socket.on('nc', (events) => ncEvents.push(...events))
    await waitFor('the dashboard on x', () => socket?.connected)

    // Redis goes away. Meanwhile: the pump trips and a plant state is set on x, a user is
    // disabled through x, and the NC is closed through y.
    const redisBack = await plant.redis.outage()
    await waitFor('the pump’s trip while Redis is away', async () => {
      await publish('pump', 15)
      return (await alarmOn(x, 'pump:HH')).active
    })
    const opOnX = (await signIn(x, 'op', PASSWORDS.op)).body.token
    const set = await call(x, 'PUT', '/api/plant-states/changeover', opOnX, {
      active: true,
      reason: 'changeover to 12 mm',
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    const disabled = await call(x, 'POST', '/api/users/op/actions', admin, {
      action: 'disable',
      reason: 'left the company',
    })
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200)
    const closed = await act(onYAs.qm, {
      action: 'close',
      reason: 'verified',
      signature: { password: PASSWORDS.qm },
    })
    expect(closed.status, JSON.stringify(closed.body)).toBe(200)
    // An act on an alarm x judges, through y, is refused at once, saying why.
    await waitFor('y to know Redis is away', async () => {
      const h = await call<{ live: { redis: boolean } }>(y, 'GET', '/api/health', null)
      return h.body.live.redis === false
    })
    const asked = await call<{ message: string }>(
      y,
      'POST',
      '/api/alarms/pump:HH/acknowledge',
      onYAs.qe,
      {
        comment: 'seen from y',
      },
    )
    expect(asked.status).toBe(503)
    expect(asked.body.message).toMatch(/cannot reach each other now \(Redis is away\)/)
    // Five wrong passwords for qm on x (from an address of their own): x locks qm.
    for (let k = 0; k < 5; k++)
      expect(await signInFrom(x, 'qm', `a guess ${k}`, '127.0.0.2')).toBe(401)
    expect(await signInFrom(x, 'qm', PASSWORDS.qm, '127.0.0.3')).toBe(429)
    // y heard none of it.
    expect(await changeoverOn(y)).toBe(false)
    expect((await alarmOn(y, `${onY}:HH`)).state).toBe('unack-active')
    expect((await signIn(y, 'op', PASSWORDS.op)).status).toBe(200)

    // Redis is back: each gateway reads again what it missed.
    await redisBack()
    await waitFor('y to hold the plant state', () => changeoverOn(y), { timeoutMs: 30_000 })
    await waitFor(
      'y’s alarm suppressed by the pump’s trip',
      async () => (await alarmOn(y, `${onY}:HH`)).state === 'suppressed',
      { timeoutMs: 30_000 },
    )
    const refused = await waitFor(
      'y to refuse the disabled user',
      async () => {
        const s = await signIn(y, 'op', PASSWORDS.op)
        return s.status !== 200 ? s : undefined
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    expect(refused.status).toBe(401)
    // The guesses x refused count on y too, read from the shared audit trail: qm is locked there,
    // though no sign-in was tried on y (waiting reads the users' list, which tries nothing).
    const adminOnY = (await signIn(y, 'admin', CLUSTER_ADMIN_PASSWORD)).body.token
    await waitFor(
      'y to lock qm',
      async () => {
        const users = await call<{ name: string; lockedUntil: number | null }[]>(
          y,
          'GET',
          '/api/users',
          adminOnY,
        )
        return users.body.find((u) => u.name === 'qm')?.lockedUntil != null
      },
      { timeoutMs: 30_000 },
    )
    expect(await signInFrom(y, 'qm', PASSWORDS.qm, '127.0.0.4')).toBe(429)
    await waitFor(
      'x to follow the NC’s closure',
      () => ncEvents.some((e) => e.nc.id === ncId && e.nc.status === 'closed'),
      { timeoutMs: 30_000 },
    )
    // The pump back, x's next excursion opens a recurrence, and the closed NC is left as it was.
    await waitFor('the pump to be back', async () => {
      await publish('pump', 5)
      return !(await alarmOn(x, 'pump:HH')).active
    })
    await publish(onX, 13)
    const list = await waitFor('the recurrence', async () => {
      const l = await ncsOf(x, onX)
      return l.length === 2 ? l : undefined
    })
    expect(list.find((n) => n.id !== ncId)).toMatchObject({ status: 'open', recurrenceOf: ncId })
    expect(list.find((n) => n.id === ncId)).toMatchObject({ status: 'closed', occurrences: 1 })
  }, 180_000)
})

describe('a cluster after one gateway lost Redis', () => {
  let plant: ClusterPlant
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-outage-one-')
    proxy = await startTcpProxy(plant.redis.port)
  }, 60_000)

  afterAll(async () => {
    await plant?.stop()
    await proxy?.close()
  })

  const startGateway = (name: string, redisUrl?: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'outage_one',
      clientId: 'lwo1',
      yaml,
      ...(redisUrl ? { redisUrl } : {}),
    })
  const redisOf = async (gw: ClusterGateway) =>
    (await call<{ live: { redis: boolean } }>(gw, 'GET', '/api/health', null)).body.live.redis

  it('what it changed meanwhile reaches the others once it is back', async () => {
    const alone = await startGateway('gw-a', `redis://127.0.0.1:${proxy?.port}`)
    const other = await startGateway('gw-b')
    await plant.settled(PARTITIONS, 2)
    const admin = (await signIn(alone, 'admin', CLUSTER_ADMIN_PASSWORD)).body.token
    // Only gw-a's connections to Redis go: gw-b hears nothing amiss.
    proxy?.refuse(true)
    proxy?.cut()
    await waitFor('gw-a to know Redis is away', async () => (await redisOf(alone)) === false)
    const set = await call(alone, 'PUT', '/api/plant-states/changeover', admin, {
      active: true,
      reason: 'changeover to 12 mm',
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(await changeoverOn(other)).toBe(false)
    expect(await redisOf(other)).toBe(true)
    proxy?.refuse(false)
    await waitFor('gw-b to hold the plant state', () => changeoverOn(other), { timeoutMs: 30_000 })
  }, 120_000)
})
