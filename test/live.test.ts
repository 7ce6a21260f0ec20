import { connectAsync } from 'mqtt'
import { io } from 'socket.io-client'
import { describe, expect, it } from 'vitest'
import type { Hello, NcEvent, PointsUpdate, TileUpdate } from '../gateway/contract.ts'
import { startTestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

describe('live push over socket.io', () => {
  it('coalesces a burst: at most one points message per flush, capped, with what was left out counted', async () => {
    const gw = await startTestGateway(
      `
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: a, name: A, path: s/a/l/c, source: { mqtt: { topic: t/a } }, chart: { given: { center: 0, sigma: 1 } } }
  - { id: b, name: B, path: s/a/l/c, source: { mqtt: { topic: t/b } } }
`,
      {
        patch: (config) =>
          Object.assign(config.live, { flushIntervalMs: 100, maxPointsPerFlush: 200 }),
      },
    )
    const socket = io(gw.gateway.urls.http, {
      auth: { token: TOKENS.viewer },
      transports: ['websocket'],
    })
    try {
      const points: { at: number; update: PointsUpdate }[] = []
      const tiles: TileUpdate[][] = []
      socket.on('points', (update) => points.push({ at: Date.now(), update }))
      socket.on('tiles', (t) => tiles.push(t))
      await waitFor('connection', () => socket.connected)
      expect(await socket.emitWithAck('watch', ['a'])).toEqual({ ok: true })
      expect(await socket.emitWithAck('watch', ['nope'])).toEqual({
        ok: false,
        error: 'unknown characteristic: nope',
      })

      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      const N = 3000
      const ts0 = Date.now() - N
      // One JSON array per 500 readings: a burst far faster than any screen redraws.
      for (let k = 0; k < N; k += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => ({
          value: Math.sin(k + i),
          ts: ts0 + k + i,
        }))
        await mqtt.publishAsync('t/a', JSON.stringify(batch))
        await mqtt.publishAsync('t/b', JSON.stringify(batch))
      }
      await mqtt.endAsync()
      await waitFor('every point delivered or counted', () => {
        const total = points.reduce((n, p) => n + p.update.points.length + p.update.dropped, 0)
        return total === N ? true : undefined
      })
      // Only the watched characteristic's points were sent, never more than the cap per message.
      expect(
        points.every((p) => p.update.characteristic === 'a' && p.update.points.length <= 200),
      ).toBe(true)
      expect(points.some((p) => p.update.dropped > 0)).toBe(true)
      // Messages arrive no faster than the flush interval allows (one per flush, with timer slack).
      const span = (points.at(-1)?.at ?? 0) - (points[0]?.at ?? 0)
      expect(points.length).toBeLessThanOrEqual(Math.floor(span / 100) + 2)
      // Delivered points keep their order and indices.
      const indices = points.flatMap((p) => p.update.points.map((x) => x.index))
      expect(indices).toEqual([...indices].sort((x, y) => x - y))
      // Tiles are coalesced too: each tile message holds one update per characteristic at most.
      expect(tiles.every((t) => new Set(t.map((u) => u.id)).size === t.length)).toBe(true)
      expect(tiles.length).toBeLessThan(40)
    } finally {
      socket.close()
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('an NC that adds many occurrences in a flush is one event in it, with its latest count (issue 6: repeats counted, not announced each)', async () => {
    const gw = await startTestGateway(
      `
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: a, name: A, path: s/a/l/c, source: { mqtt: { topic: t/a } }, limits: { actionHigh: 510 } }
`,
      { patch: (config) => Object.assign(config.live, { flushIntervalMs: 100 }) },
    )
    const socket = io(gw.gateway.urls.http, {
      auth: { token: TOKENS.viewer },
      transports: ['websocket'],
    })
    try {
      const messages: NcEvent[][] = []
      socket.on('nc', (events) => messages.push(events))
      await waitFor('connection', () => socket.connected)
      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      const ts0 = Date.now() - 10_000
      // 20 messages of 10 readings, 500 and 511 in turn: each 511 is an HH activation, one
      // occurrence of the NC the first opened (200 readings, 100 occurrences).
      const sends: Promise<unknown>[] = []
      for (let m = 0; m < 20; m++) {
        const batch = Array.from({ length: 10 }, (_, i) => ({
          value: i % 2 === 0 ? 500 : 511,
          ts: ts0 + m * 10 + i,
        }))
        sends.push(mqtt.publishAsync('t/a', JSON.stringify(batch)))
      }
      await Promise.all(sends)
      await mqtt.endAsync()
      const hh = (events: NcEvent[]) => events.filter((e) => e.nc.causes.includes('action-high'))
      await waitFor('the NC with all its occurrences pushed live', () =>
        messages.some((events) => hh(events).some((e) => e.nc.occurrences === 100)),
      )
      // One event per NC in a message, whatever it took in the flush.
      for (const events of messages)
        expect(new Set(events.map((e) => e.nc.id)).size).toBe(events.length)
      const seen = messages.flatMap(hh)
      expect(seen[0]?.type).toBe('opened')
      expect(new Set(seen.map((e) => e.nc.id)).size).toBe(1)
      // Fewer events than occurrences (one NC, at most one event per message as checked above).
      expect(seen.length).toBeLessThan(100)
    } finally {
      socket.close()
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('says hello with the boot id, so a dashboard knows when the gateway restarted', async () => {
    const gw = await startTestGateway('characteristics: []')
    const socket = io(gw.gateway.urls.http, {
      auth: { token: TOKENS.viewer },
      transports: ['websocket'],
    })
    try {
      const hello = await new Promise<Hello>((resolve) => socket.on('hello', resolve))
      expect(hello.bootId).toBe(gw.gateway.bootId)
      expect(hello.title).toBe('linewatch')
    } finally {
      socket.close()
      await gw.close()
      await gw.removeDataDir()
    }
  })
})
