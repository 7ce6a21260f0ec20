import Fastify, { type FastifyInstance } from 'fastify'
import { connectAsync } from 'mqtt'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAuth } from '../gateway/api/auth.ts'
import { type ApiContext, registerApi } from '../gateway/api/index.ts'
import { parseConfig } from '../gateway/config/index.ts'
import type { Health } from '../gateway/contract.ts'
import type { Pipeline } from '../gateway/pipeline/index.ts'
import { RecentCounter } from '../gateway/recent-errors.ts'
import type { TimeSeriesStore } from '../gateway/store/types.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

const T = Date.UTC(2026, 0, 1, 8, 0, 0)
const WINDOW = 5 * 60_000

/** An API over stand-ins for the pipeline, store and sources: only what /api/health reads. */
async function api(
  extra: Partial<ApiContext> & { errors: () => number },
): Promise<{ app: FastifyInstance; health(): Promise<Health> }> {
  const app = Fastify()
  const pipeline = {
    counters: () => ({ readings: 7, rejected: {}, errors: extra.errors() }),
    deadLetters: { pruned: () => 3 },
  } as unknown as Pipeline
  const store = {
    status: () => ({ kind: 'sqlite', healthy: true, pending: 0, spooled: 0, written: 0 }),
  } as unknown as TimeSeriesStore
  await registerApi(app, {
    config: parseConfig('', 'empty.yaml'),
    title: 't',
    version: '0',
    bootId: 'b',
    startedAt: T,
    auth: createAuth(parseConfig('', 'empty.yaml').auth),
    pipeline,
    nc: {} as ApiContext['nc'],
    alarms: {} as ApiContext['alarms'],
    store,
    sources: () => [],
    dashboardDir: '/nonexistent',
    ...extra,
  })
  return {
    app,
    health: async () => (await app.inject({ method: 'GET', url: '/api/health' })).json<Health>(),
  }
}

describe('/api/health: degraded while errors are recent, not for ever after one', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('with the errors timed where they happen: degraded within the window, ok after it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T)
    const recentErrors = new RecentCounter({ windowMs: WINDOW, bucketMs: 5_000 })
    const { app, health } = await api({ errors: () => recentErrors.total(), recentErrors })
    try {
      let h = await health()
      expect(h.status).toBe('ok')
      expect(h.errors).toEqual({ total: 0, recent: 0, windowMs: WINDOW })
      expect(h.counters.prunedDeadLetters).toBe(3)

      recentErrors.add(T + 1000)
      recentErrors.add(T + 2000)
      vi.setSystemTime(T + 2000)
      h = await health()
      expect(h.status).toBe('degraded')
      expect(h.errors).toEqual({ total: 2, recent: 2, windowMs: WINDOW })

      // Four minutes on: still within the window.
      vi.setSystemTime(T + 2000 + 4 * 60_000)
      expect((await health()).status).toBe('degraded')

      // An hour on: ok again, and the total still says what happened.
      vi.setSystemTime(T + 3600_000)
      h = await health()
      expect(h.status).toBe('ok')
      expect(h.errors).toEqual({ total: 2, recent: 0, windowMs: WINDOW })
    } finally {
      await app.close()
    }
  })

  it('without a timed counter, health times the pipeline error counter when it sees it rise', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T)
    let errors = 0
    const { app, health } = await api({ errors: () => errors })
    try {
      expect((await health()).status).toBe('ok')
      errors = 3
      vi.setSystemTime(T + 10_000)
      let h = await health()
      expect(h.status).toBe('degraded')
      expect(h.errors).toMatchObject({ total: 3, recent: 3 })
      vi.setSystemTime(T + 10_000 + 2 * WINDOW)
      h = await health()
      expect(h.status).toBe('ok')
      expect(h.errors).toMatchObject({ total: 3, recent: 0 })
      errors = 4
      h = await health()
      expect(h.status).toBe('degraded')
      expect(h.errors).toMatchObject({ total: 4, recent: 1 })
    } finally {
      await app.close()
    }
  })

  it('shows the live hub’s clients and drops when it has them, and Redis when it shares over it', async () => {
    let redis: boolean | null = null
    const { app, health } = await api({
      errors: () => 0,
      live: { clients: () => 2, dropped: () => 5, redis: () => redis },
    })
    try {
      expect(await health()).toMatchObject({ status: 'ok', live: { clients: 2, dropped: 5 } })
      expect((await health()).live).toEqual({ clients: 2, dropped: 5 })
      redis = true
      expect(await health()).toMatchObject({ status: 'ok', live: { redis: true } })
      redis = false
      expect(await health()).toMatchObject({ status: 'degraded', live: { redis: false } })
    } finally {
      await app.close()
    }
  })

  it('a real gateway reports errors and pruned dead letters, ok when there are none', async () => {
    const gw = await startTestGateway('characteristics: []')
    try {
      const { status, body } = await gw.get<Health>('/api/health', null)
      expect(status).toBe(200)
      expect(body.status).toBe('ok')
      expect(body.errors).toEqual({ total: 0, recent: 0, windowMs: WINDOW })
      expect(body.counters.prunedDeadLetters).toBe(0)
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('a gateway run in a program’s own process tells that program what GET /api/health tells', async () => {
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill-weight
    name: Fill weight
    path: demo/filling/line-1/filler
    source: { mqtt: { topic: plant/fill } }
    limits: { actionLow: 490, actionHigh: 510 }
`)
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    try {
      for (let i = 0; i < 3; i++)
        await mqtt.publishAsync('plant/fill', JSON.stringify({ value: 500 + i }), { qos: 1 })
      await mqtt.publishAsync('plant/fill', '{"value": 5', { qos: 1 })
      // Three readings taken and committed (QoS 1 is acknowledged once durable), one refused
      // (the broker thread's counts come with its next batch: waited for).
      const inProcess = await waitFor('the readings and the refusal counted', () => {
        const h = gw.gateway.health()
        const counted = h.counters.readings === 3 && h.counters.rejected['malformed-json'] === 1
        return counted && h.store.pending === 0 && h
      })
      const { body } = await gw.get<Health>('/api/health', null)
      // The same report but for what the writers move by themselves (the dead letter is
      // committed within 250 ms, and counted then).
      expect(body.counters).toEqual(inProcess.counters)
      expect({ ...body, store: null, records: null }).toEqual({
        ...inProcess,
        store: null,
        records: null,
      })
      expect(body.store.pending).toBe(0)
    } finally {
      await mqtt.endAsync()
      await gw.close()
      await gw.removeDataDir()
    }
  })
})
