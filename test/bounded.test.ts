import { readdir, stat } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { connectAsync, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Health, ReadingsView } from '../gateway/contract.ts'
import { LinewatchError } from '../gateway/errors.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

const DAY = 86_400_000

/**
 * The bytes the data directory's databases hold: every file's pages less the free pages SQLite
 * keeps for reuse (which come and go with deletions, not with what was stored).
 */
async function usedBytes(dir: string): Promise<number> {
  let total = 0
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.db'))) {
    const db = new DatabaseSync(join(dir, name), { readOnly: true })
    try {
      const pragma = (p: string) =>
        Object.values(db.prepare(`PRAGMA ${p}`).get() as Record<string, number>)[0] as number
      total += (pragma('page_count') - pragma('freelist_count')) * pragma('page_size')
    } finally {
      db.close()
    }
  }
  return total
}

/** Publishes at QoS 1 in order, 100 unacknowledged at most. */
async function publishMany(mqtt: MqttClient, topic: string, payloads: string[]): Promise<void> {
  for (let i = 0; i < payloads.length; i += 100) {
    await Promise.all(
      payloads.slice(i, i + 100).map((p) => mqtt.publishAsync(topic, p, { qos: 1 })),
    )
  }
}

/** A deterministic noise in [-0.5, 0.5). */
const noise = (i: number) => (((i * 7919) % 1000) / 1000 - 0.5) * 1

describe('records do not grow with the length of a violation', () => {
  let dir: { path: string; remove(): Promise<void> }
  beforeAll(async () => {
    dir = await tempDir()
  })
  afterAll(() => dir?.remove())

  it('a 1σ CUSUM shift over 20,000 readings: the databases grow by the same bytes per reading; one onset, one record', async () => {
    const config = `
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: p/a/l/c
    source: { mqtt: { topic: b/fill } }
    chart: { type: cusum, given: { center: 10, sigma: 1 } }
`
    const t0 = Date.now() - 30 * DAY
    const phases = [4000, 8000, 8000]
    const sizes: number[] = []
    let seq = 0
    for (const n of phases) {
      const gw = await startTestGateway(config, { dataDir: dir.path })
      try {
        const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
        const payloads = Array.from({ length: n }, () => {
          seq++
          return JSON.stringify({ value: 11 + noise(seq), ts: t0 + seq * 1000 })
        })
        await publishMany(mqtt, 'b/fill', payloads)
        await mqtt.endAsync()
      } finally {
        await gw.close()
      }
      sizes.push(await usedBytes(dir.path))
    }
    const first = ((sizes[1] as number) - (sizes[0] as number)) / 8000
    const second = ((sizes[2] as number) - (sizes[1] as number)) / 8000
    // Linear growth: the second 8,000 readings cost what the first did (pages round it a little).
    expect(second / first).toBeGreaterThan(0.8)
    expect(second / first).toBeLessThan(1.25)
    const db = new DatabaseSync(join(dir.path, 'timeseries.db'), { readOnly: true })
    try {
      const events = db
        .prepare("SELECT type, length(detail) AS bytes FROM event WHERE type LIKE 'deviation%'")
        .all() as { type: string; bytes: number }[]
      // C⁺ leaves 0 with the shift and never returns: one onset, written once, of bounded size.
      expect(events.filter((e) => e.type === 'deviation')).toHaveLength(1)
      expect(Math.max(...events.map((e) => e.bytes))).toBeLessThan(1000)
      const readings = db.prepare('SELECT sum(count) AS n FROM reading_block').get() as {
        n: number
      }
      expect(readings.n).toBe(20_000)
    } finally {
      db.close()
    }
  }, 240_000)
})

describe('retention of the embedded time series', () => {
  /** Well below what 20,000 readings with their chart points take (about 1 MiB in blocks). */
  const CAP = 262_144
  it('rows older than maxAgeDays go at the next checkpoint; above maxBytes the oldest go, the newest stay', async () => {
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store: { sqlite: { retention: { maxAgeDays: 30, maxBytes: ${CAP} } } }
characteristics:
  - { id: t, name: T, path: p/a/l/c, source: { mqtt: { topic: r/t } } }
`)
    try {
      const now = Date.now()
      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      const old = Array.from({ length: 200 }, (_, i) =>
        JSON.stringify({ value: 1, ts: now - 40 * DAY + i * 1000 }),
      )
      const recent = Array.from({ length: 200 }, (_, i) =>
        JSON.stringify({ value: 2, ts: now - DAY + i * 1000 }),
      )
      await publishMany(mqtt, 'r/t', [...old, ...recent])
      const range = (from: number, to: number) =>
        gw.get<ReadingsView>(`/api/characteristics/t/readings?from=${from}&to=${to}&limit=10000`)
      // Checkpoints come every 5 s: wait for one.
      await waitFor(
        'the old readings to go',
        async () => (await range(now - 41 * DAY, now - 39 * DAY)).body.readings.length === 0,
        { timeoutMs: 30_000 },
      )
      expect((await range(now - 2 * DAY, now)).body.readings).toHaveLength(200)

      // Far more than CAP of readings, chart points and events.
      const many = Array.from({ length: 20_000 }, (_, i) =>
        JSON.stringify({ value: 2 + noise(i), ts: now - DAY / 2 + i * 1000 }),
      )
      await publishMany(mqtt, 'r/t', many)
      await mqtt.endAsync()
      const health = await waitFor(
        'retention by size',
        async () => {
          const h = (await gw.get<Health>('/api/health')).body
          return (h.store.retentionDeleted ?? 0) > 400 ? h : undefined
        },
        { timeoutMs: 30_000 },
      )
      expect(health.store.retentionDeleted).toBeGreaterThan(400)
      // The newest reading is there; the first recent ones (the oldest) are gone.
      const last = now - DAY / 2 + 19_999 * 1000
      expect((await range(last, last)).body.readings).toEqual([
        { ts: last, value: 2 + noise(19_999) },
      ])
      expect((await range(now - 2 * DAY, now - DAY + 200_000)).body.readings).toHaveLength(0)
    } finally {
      await gw.close()
    }
    const file = await stat(join(gw.dataDir, 'timeseries.db'))
    // The cap, and what one retention round may leave above it until the next checkpoint.
    expect(file.size).toBeLessThan(3 * CAP)
    await gw.removeDataDir()
  }, 120_000)
})

describe('store.commitIntervalMs: how often what nobody waits for is committed', () => {
  it('a QoS 0 reading waits for the interval (a minute here); a QoS 1 acknowledgement commits it with its own', async () => {
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store: { commitIntervalMs: 60000 }
characteristics:
  - { id: t, name: T, path: p/a/l/c, source: { mqtt: { topic: c/t } } }
`)
    try {
      const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
      const ts = Date.now()
      await mqtt.publishAsync('c/t', JSON.stringify({ value: 1, ts }), { qos: 0 })
      const health = () => gw.get<Health>('/api/health').then((r) => r.body)
      await waitFor(
        'the QoS 0 reading judged',
        async () => (await health()).counters.readings === 1,
      )
      // Longer than the default interval (200 ms), which would have committed it by now; a
      // minute does not (a slow machine could only make a broken setting pass, not this fail).
      await new Promise((r) => setTimeout(r, 1500))
      // Nothing committed: the reading and its chart point (I-MR: a point per reading) wait.
      expect((await health()).store).toMatchObject({ written: 0, pending: 2 })
      // Someone waits: the acknowledgement comes once both readings are committed, with their
      // points and the QoS 1 message's delivery (what tells a resend after a crash): 5 records.
      await mqtt.publishAsync('c/t', JSON.stringify({ value: 2, ts: ts + 1 }), { qos: 1 })
      expect((await health()).store.written).toBe(5)
      await mqtt.endAsync()
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  }, 60_000)
})

describe('a QoS 0 burst beyond what the store commits', () => {
  it('slows its publisher down (the broker stops reading) instead of refusing readings: every one stored, none refused', async () => {
    // A small bound: past half of 20,000 records waiting, the broker stops reading; without
    // that, 200,000 records (100,000 readings and their chart points) taken in well under a
    // second would overflow it many times over.
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store: { maxPendingRecords: 20000 }
characteristics:
${Array.from({ length: 20 }, (_, i) => `  - { id: b${i}, name: B${i}, path: p/a/l/b${i}, source: { mqtt: { topic: burst/${i} } }, chart: { given: { center: 100, sigma: 2 } } }`).join('\n')}
`)
    try {
      const { hostname, port } = new URL(gw.gateway.urls.mqtt as string)
      const socket = tcpConnect(Number(port), hostname)
      const parser = mqttPacket.parser()
      let connacked = false
      parser.on('packet', (p) => {
        if (p.cmd === 'connack') connacked = true
      })
      socket.on('data', (chunk) => parser.parse(chunk))
      const encode = (packet: object) => mqttPacket.generate(packet as mqttPacket.Packet)
      socket.write(
        encode({
          cmd: 'connect',
          clientId: 'burst',
          clean: true,
          keepalive: 60,
          protocolId: 'MQTT',
          protocolVersion: 4,
        }),
      )
      await waitFor('the CONNACK', () => connacked)
      const t0 = Date.now() - 3_600_000
      const perMessage = 50
      const messages = 2000
      // 2,000 messages of 50 readings, 100 messages per characteristic, written at once.
      socket.write(
        Buffer.concat(
          Array.from({ length: messages }, (_, m) => {
            const c = m % 20
            const k0 = Math.floor(m / 20) * perMessage
            const readings = Array.from({ length: perMessage }, (_, j) => ({
              value: 100 + noise(k0 + j),
              ts: t0 + k0 + j,
            }))
            return encode({
              cmd: 'publish',
              topic: `burst/${c}`,
              qos: 0,
              retain: false,
              dup: false,
              payload: Buffer.from(JSON.stringify(readings)),
            })
          }),
        ),
      )
      const total = messages * perMessage
      const health = () => gw.get<Health>('/api/health').then((r) => r.body)
      await waitFor(
        'every reading judged',
        async () => (await health()).counters.readings === total,
        {
          timeoutMs: 120_000,
        },
      )
      await waitFor('everything committed', async () => (await health()).store.pending === 0, {
        timeoutMs: 60_000,
      })
      const h = await health()
      expect(h.store.dropped ?? 0).toBe(0)
      expect(h.records?.dropped).toBe(0)
      // It did stop reading, at least once.
      const broker = h.sources.find((s) => s.name === 'mqtt')
      expect(broker?.counts?.['paused-for-store']).toBeGreaterThan(0)
      // Every reading is in the store: 5,000 per characteristic.
      for (const c of [0, 7, 19]) {
        const { body } = await gw.get<ReadingsView>(
          `/api/characteristics/b${c}/readings?from=${t0 - 1}&to=${t0 + 10_000}&limit=100000`,
        )
        expect(body.readings.length).toBe(total / 20)
      }
      socket.destroy()
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  }, 240_000)
})

describe('the audit head in the time series', () => {
  it('stays however quiet the trail: written again within the retention, so a verify always has one to compare', async () => {
    // 4.32 s of retention: the head is written again every 1.08 s (a quarter of it).
    const MAX_AGE_MS = 0.00005 * DAY
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store: { sqlite: { retention: { maxAgeDays: 0.00005 } } }
characteristics: []
`)
    const started = Date.now()
    const deleted = async () =>
      (await gw.get<Health>('/api/health')).body.store.retentionDeleted ?? 0
    try {
      // Once the first start's heads (the configuration and the first admin) are older than
      // the retention, a retention pass that deletes anything deletes them.
      await waitFor('the start-up heads to age out', () => Date.now() > started + MAX_AGE_MS + 1500)
      const before = await deleted()
      await waitFor('a retention pass after that', async () => (await deleted()) > before, {
        timeoutMs: 30_000,
      })
    } finally {
      await gw.close()
    }
    const closedAt = Date.now()
    const records = new DatabaseSync(join(gw.dataDir, 'records.db'), { readOnly: true })
    const trail = records.prepare('SELECT max(seq) AS seq, count(*) AS n FROM audit').get() as {
      seq: number
      n: number
    }
    records.close()
    expect(trail.n).toBeGreaterThanOrEqual(2)
    const ts = new DatabaseSync(join(gw.dataDir, 'timeseries.db'), { readOnly: true })
    const heads = ts
      .prepare(
        `SELECT e.ts, e.detail FROM event e JOIN series s ON s.id = e.series
         WHERE s.characteristic = 'linewatch.audit' AND e.type = 'audit-head'`,
      )
      .all() as { ts: number; detail: string }[]
    ts.close()
    expect(heads.length).toBeGreaterThan(0)
    // Every head left is the trail's last entry, and one was written within the retention of
    // the moment the gateway stopped (not only those of its start, which aged out meanwhile).
    for (const h of heads) expect(JSON.parse(h.detail).seq).toBe(trail.seq)
    expect(Math.max(...heads.map((h) => h.ts))).toBeGreaterThan(closedAt - MAX_AGE_MS)
    await gw.removeDataDir()
  }, 60_000)
})

describe('one gateway per data directory', () => {
  it('a second gateway on the same data directory is refused with LW_ERR_DATA_DIR_LOCKED; after the first stops it starts', async () => {
    const config = `
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: t, name: T, path: p/a/l/c, source: { mqtt: { topic: l/t } } }
`
    const first = await startTestGateway(config)
    try {
      const refused = await startTestGateway(config, { dataDir: first.dataDir }).then(
        async (gw) => {
          await gw.close()
          return null
        },
        (err: unknown) => err,
      )
      expect(refused).toBeInstanceOf(LinewatchError)
      expect((refused as LinewatchError).code).toBe('LW_ERR_DATA_DIR_LOCKED')
      expect((await first.get<Health>('/api/health')).status).toBe(200)
    } finally {
      await first.close()
    }
    const again = await startTestGateway(config, { dataDir: first.dataDir })
    await again.close()
    await first.removeDataDir()
  }, 60_000)
})
