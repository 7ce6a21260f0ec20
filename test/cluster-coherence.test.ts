import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlarmEventView,
  AlarmView,
  ClientToServer,
  NonconformanceSummary,
  ServerToClient,
} from '../gateway/contract.ts'
import { partitionOf } from '../rules/leases.ts'
import {
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

/**
 * Two gateway processes of one cluster (docs/scale.md, "What is shared, what stays per
 * gateway"): what one gateway's API and dashboards show and do about the alarms, NCs and users
 * of characteristics the other judges. An alarm raised on gw-a is listed and counted on gw-b,
 * acknowledged through gw-b by gw-a (which judges it); an NC opened on gw-a and closed through
 * gw-b is not added to by gw-a afterwards; a user added on gw-a signs in on gw-b.
 */
const C = 8
const PARTITIONS = 4
const LEASE_MS = 4000
const id = (c: number) => `k${c}`

const characteristicsYaml = `
alarms:
  states: [{ id: changeover, name: Product changeover }]
  suppression: [{ when: { state: changeover }, suppress: ['*:HH'] }]
characteristics:
${Array.from(
  { length: C },
  (_, c) =>
    `  - { id: ${id(c)}, name: ${id(c).toUpperCase()}, path: plant/coherence/${id(c)}, source: { mqtt: { topic: co/${id(c)} } }, limits: { actionHigh: 10 }, chart: { baselineCount: 8 } }`,
).join('\n')}
`

type Running = ClusterGateway

describe('a cluster’s alarms, NCs and users are the same on every gateway', () => {
  let plant: ClusterPlant
  let db: ClusterPlant['db']
  let device: Awaited<ReturnType<typeof connectDevice>> | undefined

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-coherence-')
    db = plant.db
  }, 60_000)

  afterAll(async () => {
    device?.client.end(true)
    await plant?.stop()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'coherence',
      clientId: 'lwc',
      yaml: characteristicsYaml,
    })

  it('lists, counts and acts on the alarms, follows NC closures and knows the users of the other gateway', async () => {
    const a = await startGateway('gw-a')
    const b = await startGateway('gw-b')
    // Settled: every partition leased, each gateway holding some.
    const held = await plant.settled(PARTITIONS, 2)
    const target = Array.from({ length: C }, (_, c) => id(c)).find(
      (x) => held.get(partitionOf(x, PARTITIONS)) === 'gw-a',
    ) as string
    expect(target).toBeDefined()
    const alarm = `${target}:HH`
    device = await connectDevice(plant, 'coherence-device', 'co')
    const { publish } = device

    // Users added on gw-a sign in on gw-b.
    const admin = await signIn(a, 'admin', CLUSTER_ADMIN_PASSWORD)
    expect(admin.status).toBe(200)
    const people = [
      ['qe', 'Dr. Jana Novák', 'quality-engineer'],
      ['qm', 'Anna Weber', 'quality-manager'],
      ['op', 'Luis Ortega', 'operator'],
    ] as const
    for (const [name, printedName, role] of people) {
      const added = await call(a, 'POST', '/api/users', admin.body.token, {
        name,
        printedName,
        role,
        password: PASSWORDS[name],
        reason: 'staff of the coherence line',
      })
      expect(added.status).toBe(200)
    }
    const onB = { qe: '', qm: '', op: '' }
    for (const [name] of people) {
      const session = await waitFor(`${name} to sign in on gw-b`, async () => {
        const s = await signIn(b, name, PASSWORDS[name])
        return s.status === 200 ? s : undefined
      })
      onB[name] = session.body.token
    }

    // A dashboard on gw-b.
    const socket: Socket<ServerToClient, ClientToServer> = io(b.url, { transports: ['websocket'] })
    const seenOnB: AlarmView[] = []
    socket.on('alarms', (m) => seenOnB.push(...m.changed))
    await waitFor('the dashboard socket on gw-b', () => socket.connected)

    // A reading over the limit, judged by gw-a: listed and counted on gw-b.
    await publish(target, 12)
    const listed = await waitFor('gw-b to list the alarm', async () => {
      const list = (await call<AlarmView[]>(b, 'GET', '/api/alarms', null)).body
      return list.find((v) => v.id === alarm)
    })
    expect(listed).toMatchObject({ state: 'unack-active', active: true, acknowledged: false })
    const counts = (
      await call<Record<string, { active: number; unacknowledged: number }>>(
        b,
        'GET',
        '/api/alarms/counts',
        null,
      )
    ).body
    expect(counts[listed.priority]).toEqual({ active: 1, unacknowledged: 1 })
    expect((await call<AlarmView>(b, 'GET', `/api/alarms/${alarm}`, null)).body.state).toBe(
      'unack-active',
    )
    // gw-a's change reaches gw-b's dashboard over Redis.
    await waitFor('gw-b’s dashboard to hear of the alarm', () =>
      seenOnB.some((v) => v.id === alarm && v.state === 'unack-active'),
    )

    // Acknowledged through gw-b: gw-a, which judges it, acts and records who.
    const acked = await call<AlarmView>(b, 'POST', `/api/alarms/${alarm}/acknowledge`, onB.op, {
      comment: 'seen from line 2',
    })
    expect(acked.status, JSON.stringify(acked.body)).toBe(200)
    expect(acked.body).toMatchObject({ state: 'ack-active', acknowledged: true })
    expect((await call<AlarmView>(a, 'GET', `/api/alarms/${alarm}`, null)).body.state).toBe(
      'ack-active',
    )
    const history = (await call<AlarmEventView[]>(a, 'GET', `/api/alarms/${alarm}/history`, null))
      .body
    expect(history[0]).toMatchObject({ from: 'unack-active', to: 'ack-active', by: 'op' })
    const { rows } = await db.query<{ record: string }>('SELECT record FROM alarm WHERE id = $1', [
      alarm,
    ])
    expect(JSON.parse(rows[0]?.record as string)).toMatchObject({
      state: 'ack-active',
      acknowledged: true,
    })
    const listedAfter = (await call<AlarmView[]>(b, 'GET', '/api/alarms', null)).body
    expect(listedAfter.find((v) => v.id === alarm)?.state).toBe('ack-active')
    // Acknowledged once: a second acknowledgement through gw-b is refused by gw-a.
    const again = await call<{ message: string }>(
      b,
      'POST',
      `/api/alarms/${alarm}/acknowledge`,
      onB.op,
      {},
    )
    expect(again.status).toBe(409)

    // A bulk acknowledgement through gw-b of alarms each gateway judges: every one acknowledged
    // by the gateway that judges it, in the order asked.
    const judgedBy = (name: string) =>
      Array.from({ length: C }, (_, c) => id(c)).filter(
        (x) => held.get(partitionOf(x, PARTITIONS)) === name,
      )
    // Every partition has two of the characteristics: each gateway judges at least two.
    const bulkA = judgedBy('gw-a').find((x) => x !== target) as string
    const bulkB = judgedBy('gw-b').at(-1) as string
    const bulk = [`${bulkA}:HH`, `${bulkB}:HH`]
    for (const x of [bulkA, bulkB]) await publish(x, 12)
    await waitFor('both alarms active', async () => {
      const list = (await call<AlarmView[]>(b, 'GET', '/api/alarms', null)).body
      return bulk.every((x) => list.some((v) => v.id === x && v.state === 'unack-active'))
    })
    const bulkAcked = await call<{ acknowledged: AlarmView[]; refused: unknown[] }>(
      b,
      'POST',
      '/api/alarms/acknowledge',
      onB.op,
      { ids: bulk, comment: 'both seen' },
    )
    expect(bulkAcked.status, JSON.stringify(bulkAcked.body)).toBe(200)
    expect(bulkAcked.body.refused).toEqual([])
    expect(bulkAcked.body.acknowledged.map((v) => [v.id, v.state])).toEqual(
      bulk.map((x) => [x, 'ack-active']),
    )
    expect((await call<AlarmView>(a, 'GET', `/api/alarms/${bulk[0]}`, null)).body.state).toBe(
      'ack-active',
    )

    // The NC gw-a opened, closed through gw-b.
    const ncsOf = async (gw: Running) =>
      (
        await call<NonconformanceSummary[]>(
          gw,
          'GET',
          `/api/nonconformances?characteristic=${target}`,
          null,
        )
      ).body
    const [first] = await waitFor('the NC', async () => {
      const list = await ncsOf(a)
      return list.length === 1 ? list : undefined
    })
    const ncId = (first as NonconformanceSummary).id
    const act = (token: string, body: Record<string, unknown>) =>
      call<{ status: string; message: string }>(
        b,
        'POST',
        `/api/nonconformances/${ncId}/actions`,
        token,
        body,
      )
    const steps: [string, Record<string, unknown>][] = [
      [
        onB.qe,
        {
          action: 'investigate',
          owner: 'qe',
          dueAt: Date.now() + 86_400_000,
          reason: 'HH on the coherence line',
        },
      ],
      [
        onB.qe,
        {
          action: 'root-cause',
          whys: ['reading over the action limit', 'test excursion'],
          fishbone: {},
          reason: 'the test published it',
        },
      ],
      [
        onB.qe,
        {
          action: 'disposition',
          decision: 'use-as-is',
          justification: 'within the customer tolerance',
          reason: 'MRB',
        },
      ],
      [onB.qm, { action: 'close', reason: 'verified', signature: { password: PASSWORDS.qm } }],
    ]
    for (const [token, step] of steps) {
      const res = await act(token, step)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    expect((await ncsOf(a))[0]?.status).toBe('closed')

    // The next excursion on gw-a opens a new NC, a recurrence of the closed one, rather than
    // adding an occurrence to it. gw-a hears of the closure once it is committed.
    await publish(target, 5)
    await waitFor('the alarm to clear', async () => {
      const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${alarm}`, null)).body
      return v.state === 'normal'
    })
    await publish(target, 13)
    const list = await waitFor('the recurrence', async () => {
      const l = await ncsOf(b)
      return l.length === 2 ? l : undefined
    })
    const recurrence = list.find((n) => n.id !== ncId) as NonconformanceSummary
    expect(recurrence).toMatchObject({ status: 'open', recurrenceOf: ncId, occurrences: 1 })
    expect(list.find((n) => n.id === ncId)).toMatchObject({ status: 'closed', occurrences: 1 })

    // Sign-in throttles are the plant's: five wrong passwords for qe on gw-b lock qe on gw-a
    // too (the address as well: op signs in on gw-a first, for the acts below).
    const opOnA = await signIn(a, 'op', PASSWORDS.op)
    expect(opOnA.status).toBe(200)
    for (let k = 0; k < 5; k++) expect((await signIn(b, 'qe', `wrong guess ${k}`)).status).toBe(401)
    await waitFor('gw-a to count gw-b’s failures', async () => {
      const list = (
        await call<{ name: string; lockedUntil: number | null }[]>(
          a,
          'GET',
          '/api/users',
          admin.body.token,
        )
      ).body
      return list.find((u) => u.name === 'qe')?.lockedUntil ?? undefined
    })
    expect((await signIn(a, 'qe', PASSWORDS.qe)).status).toBe(429)

    // A plant state set through gw-b holds on gw-a too: the alarms gw-a judges are suppressed
    // by design while it holds, as gw-b's are, and announced when it ends.
    const onGwB = Array.from({ length: C }, (_, c) => id(c)).find(
      (x) => held.get(partitionOf(x, PARTITIONS)) === 'gw-b',
    ) as string
    await publish(target, 5)
    await waitFor('gw-a’s alarm to clear', async () => {
      const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${alarm}`, null)).body
      return !v.active
    })
    const cleared = await call(b, 'POST', `/api/alarms/${alarm}/acknowledge`, onB.op, {
      comment: 'back in tolerance',
    })
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200)
    await waitFor('gw-a’s alarm to be normal', async () => {
      const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${alarm}`, null)).body
      return v.state === 'normal'
    })
    const set = await call(b, 'PUT', '/api/plant-states/changeover', onB.op, {
      active: true,
      reason: 'changeover to 12 mm',
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    await waitFor('gw-a to hold the plant state', async () => {
      const states = (
        await call<{ id: string; active: boolean }[]>(a, 'GET', '/api/plant-states', null)
      ).body
      return states.find((x) => x.id === 'changeover')?.active
    })
    await publish(target, 14)
    await waitFor('gw-a’s alarm suppressed while the state holds', async () => {
      const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${alarm}`, null)).body
      return v.state === 'suppressed' && v.active ? v : undefined
    })
    // gw-b hangs: an act on an alarm it judges, asked through gw-a, gets no answer. It is
    // refused as unavailable, to be asked again (503, Retry-After); so is each alarm of a bulk
    // acknowledgement. Both are asked at once, while gw-b's leases still hold: each waits 5 s
    // for an answer, longer than a lease (LEASE_MS), after which gw-a may have taken gw-b's
    // partitions over and act on their alarms itself (asked one after the other, the second
    // was sometimes answered so).
    socket.close()
    b.child.kill('SIGSTOP')
    const [hung, bulkHung] = await Promise.all([
      call<{ message: string }>(
        a,
        'POST',
        `/api/alarms/${onGwB}:HH/acknowledge`,
        opOnA.body.token,
        { comment: 'nobody answers' },
      ),
      call<{
        acknowledged: unknown[]
        refused: { id: string; reason: string }[]
      }>(a, 'POST', '/api/alarms/acknowledge', opOnA.body.token, {
        ids: [`${onGwB}:HH`, `${bulkB}:HH`],
        comment: 'nobody answers',
      }),
    ])
    expect(hung.status, JSON.stringify(hung.body)).toBe(503)
    expect(Number(hung.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(bulkHung.body.acknowledged).toEqual([])
    expect(bulkHung.body.refused.map((r) => r.id)).toEqual([`${onGwB}:HH`, `${bulkB}:HH`])
    for (const r of bulkHung.body.refused) expect(r.reason).toMatch(/did not answer/)
    // Then gw-b dies: gw-a takes its characteristics over while the state holds, and
    // suppresses their alarms too (the state in force here decides, not the records it takes
    // over).
    await plant.kill('gw-b')
    await plant.heldBy('gw-a', PARTITIONS)
    const takenOver = `${onGwB}:HH`
    await waitFor('gw-a to judge the characteristic taken over', async () => {
      await publish(onGwB, 14)
      const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${takenOver}`, null)).body
      return v.active ? v : undefined
    })
    expect((await call<AlarmView>(a, 'GET', `/api/alarms/${takenOver}`, null)).body.state).toBe(
      'suppressed',
    )
    // Ended through gw-a: both alarms, still active, are announced.
    const ended = await call(a, 'PUT', '/api/plant-states/changeover', opOnA.body.token, {
      active: false,
      reason: 'changeover done',
    })
    expect(ended.status, JSON.stringify(ended.body)).toBe(200)
    for (const alarmId of [alarm, takenOver])
      await waitFor(`${alarmId} announced once the state ends`, async () => {
        const v = (await call<AlarmView>(a, 'GET', `/api/alarms/${alarmId}`, null)).body
        return v.state === 'unack-active' ? v : undefined
      })
  }, 120_000)

  it('refuses a cluster without live.redis', async () => {
    const { parseConfig } = await import('../gateway/config/index.ts')
    const problems = (() => {
      try {
        parseConfig(`
store: { timeseries: influxdb, influxdb: { url: 'http://127.0.0.1:1', database: x }, records: postgres }
mqtt: { broker: { enabled: false }, external: { url: 'mqtt://127.0.0.1:1' } }
cluster: { gateway: gw-a }
characteristics: []
`)
        return ''
      } catch (err) {
        return String(err)
      }
    })()
    expect(problems).toMatch(/a cluster needs live\.redis/)
  })
})
