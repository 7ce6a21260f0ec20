import { Writable } from 'node:stream'
import { connectAsync } from 'mqtt'
import { io, type Socket } from 'socket.io-client'
import { describe, expect, it } from 'vitest'
import type { PointsUpdate } from '../gateway/contract.ts'
import { createLogger } from '../gateway/log.ts'
import { startTestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

const IDS = Array.from({ length: 8 }, (_, i) => `c${i}`)
const LIMIT = 1024 * 1024

/** The TCP socket under a socket.io-client connection on WebSocket (engine.io-client → ws → net). */
function tcpOf(socket: Socket): { pause(): void; resume(): void } {
  const engine = socket.io.engine as unknown as {
    transport: { name: string; ws?: { _socket?: { pause(): void; resume(): void } } }
  }
  const tcp = engine.transport.name === 'websocket' ? engine.transport.ws?._socket : undefined
  if (!tcp) throw new Error('no TCP socket under the socket.io client')
  return tcp
}

describe('live: a dashboard that stops reading is dropped at its byte limit', () => {
  it('the paused client is disconnected by the gateway, the other keeps receiving', async () => {
    // The gateway's warnings, to see the drop on the server side.
    const warnings: { msg: string; socket?: string; queued?: number }[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) warnings.push(JSON.parse(line))
        done()
      },
    })
    const gw = await startTestGateway(
      `
mqtt: { broker: { port: 0 } }
characteristics:
${IDS.map((id) => `  - { id: ${id}, name: ${id}, path: s/a/l/c, source: { mqtt: { topic: t/${id} } }, chart: { given: { center: 0, sigma: 1 } } }`).join('\n')}
`,
      {
        log: createLogger('warn', sink),
        patch: (config) =>
          Object.assign(config.live, {
            flushIntervalMs: 50,
            maxPointsPerFlush: 200,
            maxBufferedBytes: LIMIT,
          }),
      },
    )
    const connect = () =>
      io(gw.gateway.urls.http, {
        auth: { token: TOKENS.viewer },
        transports: ['websocket'],
        reconnection: false,
      })
    const reader = connect()
    const stalled = connect()
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    try {
      let readerPoints = 0
      reader.on('points', (u: PointsUpdate) => {
        readerPoints += u.points.length
      })
      let stalledGone = false
      stalled.on('disconnect', () => {
        stalledGone = true
      })
      await waitFor('both connected', () => reader.connected && stalled.connected)
      expect(await reader.emitWithAck('watch', IDS)).toEqual({ ok: true })
      expect(await stalled.emitWithAck('watch', IDS)).toEqual({ ok: true })
      const stalledId = stalled.id
      // The stalled dashboard stops reading: its TCP socket is paused, so the kernel's buffers
      // fill and the gateway's queue for it grows.
      const tcp = tcpOf(stalled)
      tcp.pause()

      let ts = Date.now() - 3600_000
      const publishRound = async () => {
        for (const id of IDS) {
          const batch = Array.from({ length: 200 }, (_, i) => ({
            value: Math.sin(ts + i),
            ts: ts + i,
          }))
          await mqtt.publishAsync(`t/${id}`, JSON.stringify(batch))
        }
        ts += 200
        // Let a flush go out between rounds (pacing, not a measurement).
        await new Promise((r) => setTimeout(r, 25))
      }
      const dropLog = () =>
        warnings.find((w) => w.msg === 'live client is not reading: disconnected')
      const deadline = Date.now() + 90_000
      while (!dropLog() && Date.now() < deadline) await publishRound()

      const drop = await waitFor('the gateway to drop the stalled client', dropLog)
      expect(drop.socket).toBe(stalledId)
      expect(drop.queued).toBeGreaterThan(LIMIT)
      // Only that one went: the reader was never dropped.
      expect(
        warnings.filter((w) => w.msg === 'live client is not reading: disconnected'),
      ).toHaveLength(1)

      // The reader keeps receiving after the drop.
      const before = readerPoints
      await waitFor(
        'points for the reader after the drop',
        async () => {
          await publishRound()
          return readerPoints > before
        },
        { timeoutMs: 30_000 },
      )
      expect(reader.connected).toBe(true)

      // Reading again, the stalled client finds its connection closed by the gateway.
      tcp.resume()
      await waitFor('the stalled client to see the disconnect', () => stalledGone, {
        timeoutMs: 60_000,
      })
      expect(reader.connected).toBe(true)
    } finally {
      reader.close()
      stalled.close()
      await mqtt.endAsync()
      await gw.close()
      await gw.removeDataDir()
    }
  }, 180_000)
})
