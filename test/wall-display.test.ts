import { connectAsync, type MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../gateway/api/auth.ts'
import { parseConfig } from '../gateway/config/index.ts'
import type { RecentDeviationView, Session } from '../gateway/contract.ts'
import { EventBus } from '../gateway/events.ts'
import { createRecentDeviations } from '../gateway/live/recent-deviations.ts'
import { createLogger } from '../gateway/log.ts'
import type { CharacteristicRuntime } from '../gateway/pipeline/runtime.ts'
import type { StoredEvent } from '../gateway/store/types.ts'
import type { Deviation, Evaluation, Excursion } from '../rules/index.ts'
import { startTestGateway, TOKENS } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

/**
 * The wall display's gateway side (issue 11): GET /api/deviations (the strip's history, from a
 * bounded ring read back from the store after a restart) and the kiosk settings of a display
 * token in GET /api/session.
 */

const log = createLogger('silent')

/** A limit deviation of `id` as the rules report it. */
const limitDev = (ts: number, value: number, onset: boolean, limit = 505): Deviation => ({
  kind: 'limit',
  cause: 'action-high',
  onset,
  ts,
  value,
  limit,
})

function evaluation(deviations: Deviation[], ended: Excursion[] = []): Evaluation {
  return { deviations, ended, points: [] } as unknown as Evaluation
}

function runtime(id: string, excursions: Excursion[] = []): CharacteristicRuntime {
  return { config: { id }, state: { excursions } } as unknown as CharacteristicRuntime
}

describe('the ring of recent deviations', () => {
  function ring(capacity: number, events: StoredEvent[] = [], runtimes = [runtime('a')]) {
    const bus = new EventBus()
    const recent = createRecentDeviations({
      bus,
      store: { events: async (q) => events.filter((e) => e.characteristic === q.characteristic) },
      runtimes: () => runtimes.values(),
      log,
      capacity,
      now: () => 10_000,
    })
    const feed = (id: string, ev: Evaluation) =>
      bus.emit('evaluated', { runtime: runtime(id), reading: null, evaluation: ev })
    return { recent, feed }
  }

  it('keeps one entry per deviation, counts its readings, marks its end, newest onset first', () => {
    const { recent, feed } = ring(10)
    feed('a', evaluation([limitDev(100, 507, true)]))
    feed('a', evaluation([limitDev(101, 508, false)]))
    feed('a', evaluation([limitDev(102, 506, false)]))
    feed('a', evaluation([], [{ cause: 'action-high', since: 100, last: 102, count: 3 }]))
    feed('b', evaluation([limitDev(150, 9, true, 10)]))
    const list = recent.list({ from: 0, to: Number.MAX_SAFE_INTEGER, limit: 10 })
    expect(list).toEqual([
      {
        characteristic: 'b',
        cause: 'action-high',
        kind: 'limit',
        ts: 150,
        value: 9,
        limit: 10,
        pane: null,
        count: 1,
        lastTs: 150,
        lastValue: 9,
        endedAt: null,
      },
      {
        characteristic: 'a',
        cause: 'action-high',
        kind: 'limit',
        ts: 100,
        value: 507,
        limit: 505,
        pane: null,
        count: 3,
        lastTs: 102,
        lastValue: 506,
        endedAt: 102,
      },
    ])
    // The range is of onsets, the limit counts from the newest.
    expect(recent.list({ from: 0, to: 149, limit: 10 }).map((d) => d.ts)).toEqual([100])
    expect(recent.list({ from: 120, to: 1000, limit: 10 }).map((d) => d.ts)).toEqual([150])
    expect(recent.list({ from: 0, to: 1000, limit: 1 }).map((d) => d.ts)).toEqual([150])
  })

  it('is bounded: the oldest onsets go first, also when they arrive out of order', () => {
    const { recent, feed } = ring(3)
    for (const ts of [5, 1, 4, 2, 3, 7, 6]) feed(`c${ts}`, evaluation([limitDev(ts, 510, true)]))
    expect(recent.size()).toBe(3)
    expect(recent.list({ from: 0, to: 100, limit: 10 }).map((d) => d.ts)).toEqual([7, 6, 5])
    // A continuation of a deviation that fell off starts an entry of its own (as the strip does).
    feed('c1', evaluation([limitDev(8, 511, false)]))
    expect(
      recent.list({ from: 0, to: 100, limit: 10 }).map((d) => [d.characteristic, d.ts]),
    ).toEqual([
      ['c1', 8],
      ['c7', 7],
      ['c6', 6],
    ])
  })

  it('is read back from the store: onsets, their ends, and the excursions under way', async () => {
    const stored: StoredEvent[] = [
      {
        ts: 100,
        characteristic: 'a',
        type: 'deviation',
        detail: JSON.stringify(limitDev(100, 507, true)),
      },
      {
        ts: 102,
        characteristic: 'a',
        type: 'deviation-end',
        detail: JSON.stringify({ cause: 'action-high', since: 100, last: 102, count: 3 }),
      },
      { ts: 103, characteristic: 'a', type: 'nc-opened', detail: '{}' },
      {
        ts: 200,
        characteristic: 'a',
        type: 'deviation',
        detail: JSON.stringify(limitDev(200, 509, true)),
      },
      { ts: 201, characteristic: 'a', type: 'deviation', detail: 'not json' },
    ]
    const under = [{ cause: 'action-high' as const, since: 200, last: 204, count: 5 }]
    const { recent, feed } = ring(10, stored, [runtime('a', under)])
    // A continuation taken before the seed read its onset: folded into it.
    feed('a', evaluation([limitDev(205, 512, false)]))
    under[0] = { cause: 'action-high', since: 200, last: 205, count: 6 }
    await recent.seed()
    expect(recent.list({ from: 0, to: 1000, limit: 10 })).toEqual([
      expect.objectContaining({ ts: 200, count: 6, lastTs: 205, lastValue: 512, endedAt: null }),
      // Its last value is not stored: unknown.
      expect.objectContaining({ ts: 100, count: 3, lastTs: 102, lastValue: null, endedAt: 102 }),
    ])
    // The excursion under way goes on in the entry read back.
    feed('a', evaluation([limitDev(206, 513, false)]))
    expect(recent.list({ from: 0, to: 1000, limit: 1 })[0]).toMatchObject({
      ts: 200,
      count: 7,
      lastValue: 513,
    })
  })
})

const CONFIG = `
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    source: { mqtt: { topic: t/fill } }
    limits: { alertHigh: 503, actionHigh: 505 }
    chart: { given: { center: 500, sigma: 10 } }
`

const WALL = 'test-wall-token-0123456789abcdefghijklmnopqrs'

describe('GET /api/deviations and the kiosk session', () => {
  it('answers the latest deviations, and the same after a restart', async () => {
    const dir = await tempDir()
    const t0 = Date.now() - 60_000
    const ts = (k: number) => t0 + k * 1000
    let gw = await startTestGateway(CONFIG, { dataDir: dir.path })
    let mqtt: MqttClient | null = null
    const publish = async (k: number, value: number) =>
      mqtt?.publishAsync('t/fill', JSON.stringify({ value, ts: ts(k) }), { qos: 1 })
    const deviations = async (query = '') => {
      const res = await gw.get<RecentDeviationView[]>(`/api/deviations${query}`)
      expect(res.status).toBe(200)
      return res.body
    }
    try {
      mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      for (const [k, v] of [500, 507, 508, 506, 500, 504, 499, 510, 511].entries())
        await publish(k, v)
      const actionHigh = {
        characteristic: 'fill',
        cause: 'action-high',
        kind: 'limit',
        ts: ts(1),
        value: 507,
        limit: 505,
        pane: null,
        count: 3,
        lastTs: ts(3),
        lastValue: 506,
        endedAt: ts(3),
      }
      const alertHigh = {
        ...actionHigh,
        cause: 'alert-high',
        ts: ts(5),
        value: 504,
        limit: 503,
        count: 1,
        lastTs: ts(5),
        lastValue: 504,
        endedAt: ts(5),
      }
      const underWay = {
        ...actionHigh,
        ts: ts(7),
        value: 510,
        count: 2,
        lastTs: ts(8),
        lastValue: 511,
        endedAt: null,
      }
      await waitFor('three deviations', async () => (await deviations()).length === 3)
      expect(await deviations()).toEqual([underWay, alertHigh, actionHigh])
      expect(await deviations('?limit=1')).toEqual([underWay])
      expect(await deviations(`?from=${ts(2)}&to=${new Date(ts(6)).toISOString()}`)).toEqual([
        alertHigh,
      ])
      expect((await gw.get('/api/deviations', null)).status).toBe(401)
      expect((await gw.get('/api/deviations?from=yesterday')).status).toBe(400)
      expect((await gw.get('/api/deviations?limit=501')).status).toBe(400)

      // After a restart: read back from the store (a last value after the onset is not stored).
      await mqtt.endAsync()
      mqtt = null
      await gw.close()
      gw = await startTestGateway(CONFIG, { dataDir: dir.path })
      expect(await deviations()).toEqual([
        { ...underWay, lastValue: null },
        alertHigh,
        { ...actionHigh, lastValue: null },
      ])
      // The excursion under way goes on in the same entry.
      mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      await publish(9, 512)
      await waitFor('the continuation', async () => (await deviations())[0]?.count === 3)
      expect((await deviations())[0]).toEqual({
        ...underWay,
        count: 3,
        lastTs: ts(9),
        lastValue: 512,
      })
    } finally {
      await mqtt?.endAsync()
      await gw.close()
      await dir.remove()
    }
  })

  it('gives a display token its kiosk settings; other principals none', async () => {
    const gw = await startTestGateway('characteristics: []', {
      patch: (config) => {
        const parsed = parseConfig(
          `auth:
  tokens:
    - { id: wall-machining, role: viewer, sha256: ${sha256Hex(WALL)}, kiosk: true, area: Dortmund/Machining, rotateSeconds: 30 }`,
          'wall.yaml',
        )
        config.auth.tokens.push(...parsed.auth.tokens)
      },
    })
    try {
      const wall = await gw.get<Session>('/api/session', WALL)
      expect(wall.body).toMatchObject({
        tokenId: 'wall-machining',
        role: 'viewer',
        kiosk: { area: 'Dortmund/Machining', rotateSeconds: 30 },
      })
      expect((await gw.get<Session>('/api/session', TOKENS.viewer)).body.kiosk).toBeNull()
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('validates the kiosk settings of a token', () => {
    const yaml = (extra: string) =>
      `auth:\n  tokens:\n    - { id: w, role: viewer, sha256: ${sha256Hex(WALL)}, ${extra} }`
    expect(parseConfig(yaml('area: Filling'), 'a.yaml').auth.tokens[0]).toMatchObject({
      area: 'Filling',
    })
    expect(() => parseConfig(yaml('rotateSeconds: 2'), 'a.yaml')).toThrow(/rotateSeconds/)
    expect(() => parseConfig(yaml('kiosk: yes-please'), 'a.yaml')).toThrow(/kiosk/)
  })
})
