import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import type {
  AlarmEventView,
  AlarmView,
  CleanroomClassificationView,
  CleanroomView,
  NonconformanceSummary,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * The GMP cleanroom profile in a running gateway: particle counters take their action limits
 * from EU GMP Annex 1 (2022) Table 5, the grade A ≥ 5 µm rule raises an alarm and an NC, an
 * excursion is recorded with its duration and peak, and a room is classified after ISO
 * 14644-1:2015 from what its locations measured. Expected values are the standards', written
 * here.
 */

const ROOMS = `
mqtt: { broker: { port: 0 } }
cleanrooms:
  - { id: room-b, name: Filling room, grade: B, state: at-rest, areaM2: 4 }
  - { id: isolator, name: Isolator, grade: A, state: in-operation, areaM2: 1.5 }
characteristics:
  - { id: b-l1-05, name: L1 ≥0.5 µm, path: P/Aseptic/Room B, unit: /m³, source: { mqtt: { topic: p/b-l1-05 } }, cleanroom: { room: room-b, location: L1, particleSize: 0.5 } }
  - { id: b-l1-5, name: L1 ≥5 µm, path: P/Aseptic/Room B, unit: /m³, source: { mqtt: { topic: p/b-l1-5 } }, cleanroom: { room: room-b, location: L1, particleSize: 5 } }
  - { id: b-l2-05, name: L2 ≥0.5 µm, path: P/Aseptic/Room B, unit: /m³, source: { mqtt: { topic: p/b-l2-05 } }, cleanroom: { room: room-b, location: L2, particleSize: 0.5 } }
  - { id: b-l2-5, name: L2 ≥5 µm, path: P/Aseptic/Room B, unit: /m³, source: { mqtt: { topic: p/b-l2-5 } }, cleanroom: { room: room-b, location: L2, particleSize: 5 } }
  - { id: a-5, name: Isolator ≥5 µm, path: P/Aseptic/Isolator, unit: /m³, source: { mqtt: { topic: p/a-5 } }, cleanroom: { room: isolator, location: I1, particleSize: 5 } }
`

describe('the GMP cleanroom profile', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient
  const publish = async (topic: string, ...values: number[]) => {
    for (const v of values) await mqtt.publishAsync(topic, String(v), { qos: 1 })
  }
  const alarm = async (id: string) =>
    (await gw.get<AlarmView>(`/api/alarms/${encodeURIComponent(id)}`)).body
  const stateIs = (id: string, state: string) =>
    waitFor(`${id} ${state}`, async () => ((await alarm(id)).state === state ? true : undefined))

  beforeAll(async () => {
    gw = await startTestGateway(ROOMS)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
  })
  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('takes each counter’s action limit from Annex 1 Table 5 (grade B at rest: 3 520 and 29 /m³; grade A: 29)', async () => {
    const rooms = (await gw.get<CleanroomView[]>('/api/cleanrooms')).body
    const limits = rooms.flatMap((r) =>
      r.counters.map((c) => [r.id, c.location, c.particleSize, c.actionLimit]),
    )
    expect(limits).toEqual([
      ['room-b', 'L1', 0.5, 3520],
      ['room-b', 'L1', 5, 29],
      ['room-b', 'L2', 0.5, 3520],
      ['room-b', 'L2', 5, 29],
      ['isolator', 'I1', 5, 29],
    ])
  })

  it('refuses an action limit looser than the Annex', () => {
    expect(() =>
      parseConfig(
        `cleanrooms: [{ id: r, name: R, grade: B, state: at-rest, areaM2: 10 }]
characteristics:
  - { id: c, name: C, path: P/R, source: { mqtt: { topic: c } }, limits: { actionHigh: 4000 }, cleanroom: { room: r, location: L1, particleSize: 0.5 } }
`,
        'loose.yaml',
      ),
    ).toThrow(
      /4000 is looser than EU GMP Annex 1 Table 5 for grade B at-rest at ≥0.5 µm \(3520 \/m³\)/,
    )
  })

  it('records an excursion past the action limit with its duration and peak', async () => {
    await publish('p/b-l1-05', 4000, 4800)
    await stateIs('b-l1-05:HH', 'unack-active')
    await publish('p/b-l1-05', 1000)
    await stateIs('b-l1-05:HH', 'unack-rtn')
    const h = (
      await gw.get<AlarmEventView[]>(`/api/alarms/${encodeURIComponent('b-l1-05:HH')}/history`)
    ).body
    expect(h[0]?.why).toMatch(/^returned to normal: value 1000; the excursion lasted \d+ (ms|s)/)
    expect(h[0]?.why).toContain('peak 4800 /m³')
  })

  it('Annex 1 Table 5 note 2: one ≥5 µm count in grade A is tolerated, two in a row raise an alarm and an NC', async () => {
    await publish('p/a-5', 0, 1, 0)
    // A single count: nothing.
    await waitFor('the readings', async () => {
      const c = (
        await gw.get<{ state: { last: { value: number } | null } }>('/api/characteristics/a-5')
      ).body
      return c.state.last?.value === 0
    })
    expect((await alarm('a-5:grade-a-5um')).state).toBe('normal')
    await publish('p/a-5', 1, 1)
    await stateIs('a-5:grade-a-5um', 'unack-active')
    const a = await alarm('a-5:grade-a-5um')
    expect(a.priority).toBe('high')
    // Under the 29 /m³ action limit all along: no HH.
    expect((await alarm('a-5:HH')).state).toBe('normal')
    const ncs = (await gw.get<NonconformanceSummary[]>('/api/nonconformances?characteristic=a-5'))
      .body
    expect(ncs.map((n) => [n.cause, n.title])).toEqual([
      [
        'grade-a-5um',
        'Isolator ≥5 µm counting ≥5 µm particles consecutively or regularly in grade A (Annex 1)',
      ],
    ])
  })

  it('classifies the room after ISO 14644-1 from its locations’ means', async () => {
    const from = Date.now()
    // L1 ≥0.5 µm has 4000, 4800, 1000 from above; here its own range starts after them.
    await publish('p/b-l1-05', 1000, 2000)
    await publish('p/b-l2-05', 3000)
    await publish('p/b-l1-5', 10, 20)
    await publish('p/b-l2-5', 20)
    const to = Date.now() + 1000
    const view = await waitFor('six readings in range', async () => {
      const v = (
        await gw.get<CleanroomClassificationView>(
          `/api/cleanrooms/room-b/classification?from=${from}&to=${to}&class=5`,
        )
      ).body
      return v.samples === 6 ? v : undefined
    })
    // ISO 14644-1 formula (1): Cn = 10^N × (0.1/D)^2.08, rounded to three significant figures.
    const limit = (n: number, d: number) => {
      const c = 10 ** n * (0.1 / d) ** 2.08
      const p = 10 ** (Math.floor(Math.log10(c)) - 2)
      return Math.round(c / p) * p
    }
    expect(limit(5, 0.5)).toBe(3520)
    expect(limit(4, 0.5)).toBe(352)
    const c = view.classification
    expect(c.means.map((m) => [m.location, m.sizeUm, m.mean])).toEqual([
      ['L1', 0.5, 1500],
      ['L1', 5, 15],
      ['L2', 0.5, 3000],
      ['L2', 5, 20],
    ])
    // 3000 ≤ 3520 (ISO 5 at 0.5 µm; ISO 5 sets no 5 µm limit) but > 352 (ISO 4): ISO 5.
    expect(c.isoClass).toBe(5)
    expect(c.target?.pass).toBe(true)
    // Table A.1: a room of 4 m² needs 2 sampling locations.
    expect(c.locationCount).toEqual({ areaM2: 4, required: 2, actual: 2, pass: true })
    // Annex 1 Table 1, grade B at rest: 3 520 at 0.5 µm, 5 µm not specified.
    expect(c.annex1?.pass).toBe(true)
  })

  it('the classification is the viewer’s to read, and says which room is unknown', async () => {
    expect((await gw.get('/api/cleanrooms/room-b/classification', null)).status).toBe(401)
    const missing = await gw.get<{ message: string }>(
      '/api/cleanrooms/nope/classification',
      TOKENS.viewer,
    )
    expect(missing.status).toBe(404)
    expect(missing.body.message).toBe('no cleanroom "nope"')
  })
})
