import { connectAsync } from 'mqtt'
import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  ClientToServer,
  DeviationView,
  PointsUpdate,
  ServerToClient,
  TileUpdate,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { type RedisServer, startRedis } from './helpers/redis.ts'

const URL_ENV = 'LINEWATCH_TEST_LIVE_REDIS_URL'

const characteristic = (id: string) => `
mqtt: { broker: { port: 0 } }
characteristics:
  - id: ${id}
    name: ${id.toUpperCase()}
    path: plant/line/${id}
    source: { mqtt: { topic: t/${id} } }
    limits: { actionLow: 90, actionHigh: 110 }
`

async function publish(gw: TestGateway, topic: string, value: number, ts: number) {
  const client = await connectAsync(gw.gateway.urls.mqtt as string)
  try {
    await client.publishAsync(topic, JSON.stringify({ value, ts }))
  } finally {
    await client.endAsync()
  }
}

/** The gateway's /metrics text, as Prometheus scrapes it. */
async function scrape(gw: TestGateway): Promise<string> {
  const res = await fetch(`${gw.gateway.urls.http}/metrics`, {
    headers: { authorization: `Bearer ${TOKENS.viewer}` },
  })
  return res.text()
}

describe('live hub across gateways over Redis (socket.io Redis adapter, real redis-server)', () => {
  let redis: RedisServer
  let a: TestGateway & { removeDataDir(): Promise<void> }
  let b: TestGateway & { removeDataDir(): Promise<void> }
  let socket: Socket<ServerToClient, ClientToServer>
  const tiles: TileUpdate[] = []
  const deviations: DeviationView[] = []
  const points: PointsUpdate[] = []
  const hellos: string[] = []

  beforeAll(async () => {
    redis = await startRedis()
    process.env[URL_ENV] = redis.url
    const patch = (config: { live: object }) =>
      Object.assign(config.live, { redis: { urlEnv: URL_ENV, keyPrefix: 'linewatch-test' } })
    a = await startTestGateway(characteristic('a1'), { patch })
    b = await startTestGateway(characteristic('b1'), { patch })
    socket = io(a.gateway.urls.http, { auth: { token: TOKENS.viewer }, transports: ['websocket'] })
    socket.on('hello', (h) => hellos.push(h.bootId))
    socket.on('tiles', (t) => tiles.push(...t))
    socket.on('deviations', (d) => deviations.push(...d))
    socket.on('points', (p) => points.push(p))
    await waitFor('socket.io connection to A', () => socket.connected)
  }, 20_000)

  afterAll(async () => {
    socket?.close()
    await a?.close()
    await b?.close()
    await a?.removeDataDir()
    await b?.removeDataDir()
    await redis?.stop()
    delete process.env[URL_ENV]
  })

  it('parses live.redis with the default key prefix', async () => {
    const { parseConfig } = await import('../gateway/config/index.ts')
    const config = parseConfig(
      `live: { redis: { urlEnv: ${URL_ENV} } }\ncharacteristics: []`,
      't.yaml',
    )
    expect(config.live.redis).toEqual({ urlEnv: URL_ENV, keyPrefix: 'linewatch' })
  })

  it('refuses to start when the environment variable naming the Redis URL is not set', async () => {
    await expect(
      startTestGateway('characteristics: []', {
        patch: (config) =>
          Object.assign(config.live, {
            redis: { urlEnv: 'LINEWATCH_TEST_NO_SUCH_VARIABLE', keyPrefix: 'x' },
          }),
      }),
    ).rejects.toMatchObject({ code: 'LW_ERR_SECRET_MISSING' })
  })

  it("a dashboard on A receives B's tiles, deviations and (when it watches) chart points", async () => {
    // Watching b1, which A does not judge: over Redis, B does.
    expect(await socket.emitWithAck('watch', ['a1', 'b1'])).toEqual({ ok: true })
    // The adapters subscribe and A's announcement of what it watches reaches B within a flush
    // or two: publish until B's events show up on A (bounded).
    let ts = Date.now() - 60_000
    await waitFor(
      "B's deviation, tile and points on A",
      async () => {
        await publish(b, 't/b1', 150, ts++)
        await new Promise((r) => setTimeout(r, 150))
        return (
          deviations.some((d) => d.characteristic === 'b1' && d.kind === 'limit') &&
          tiles.some((t) => t.id === 'b1') &&
          points.some((p) => p.characteristic === 'b1' && p.points.length > 0)
        )
      },
      { timeoutMs: 8_000, intervalMs: 10 },
    )
    // Only B judged b1: A knows nothing of it; hello came from A alone.
    expect(tiles.some((t) => t.id === 'a1')).toBe(false)
    expect(hellos).toEqual([a.gateway.bootId])
    const health = await a.get<{ live: { redis: boolean } }>('/api/health')
    expect(health.body.live.redis).toBe(true)
    expect(await scrape(a)).toMatch(/^linewatch_live_redis_connected 1$/m)
  }, 15_000)

  it('with Redis down, A still pushes its own events to its own dashboards and stays healthy', async () => {
    await redis.stop()
    const before = deviations.length
    let ts = Date.now() - 30_000
    await waitFor(
      "A's own deviation on A",
      async () => {
        await publish(a, 't/a1', 10, ts++)
        await new Promise((r) => setTimeout(r, 100))
        return deviations.slice(before).some((d) => d.characteristic === 'a1')
      },
      { timeoutMs: 5_000, intervalMs: 10 },
    )
    expect(points.some((p) => p.characteristic === 'a1' && p.points.length > 0)).toBe(true)
    expect(socket.connected).toBe(true)
    // Healthy, but degraded while its events are not shared.
    for (const gw of [a, b]) {
      const health = await waitFor('the gateway to know Redis is away', async () => {
        const h = await gw.get<{ status: string; live: { redis: boolean } }>('/api/health')
        return h.body.live.redis === false ? h : undefined
      })
      expect(health.status).toBe(200)
      expect(health.body.status).toBe('degraded')
      expect(await scrape(gw)).toMatch(/^linewatch_live_redis_connected 0$/m)
    }
  }, 10_000)
})
