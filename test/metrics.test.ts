import { readFileSync } from 'node:fs'
import { connectAsync, type MqttClient } from 'mqtt'
import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlarmView,
  DeadLettersView,
  Health,
  NonconformanceSummary,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * GET /metrics scraped as Prometheus would, its text parsed by the parser below (prom-client
 * has none: it only writes the format), and every figure compared with what was sent.
 */

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
interface Family {
  name: string
  type: string
  help: string
  samples: Sample[]
}

/**
 * The Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then samples
 * `name{label="value",…} value [timestamp]`, label values escaped (\\, \", \n). Throws on a
 * line it cannot read, on a sample of no declared family, and on a family declared twice.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] }
      families.set(name, f)
    }
    return f
  }
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line)
    if (meta) {
      const f = family(meta[2] as string)
      if (meta[1] === 'TYPE') {
        if (f.type !== 'untyped') throw new Error(`TYPE of ${f.name} given twice`)
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3])
        f.type = meta[3] as string
      } else f.help = (meta[3] as string).replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      continue
    }
    if (line.startsWith('#')) continue
    const name = NAME.exec(line)?.[0]
    if (!name) throw new Error(`not a sample: ${line}`)
    let rest = line.slice(name.length)
    const labels: Record<string, string> = {}
    if (rest.startsWith('{')) {
      rest = rest.slice(1)
      while (!rest.startsWith('}')) {
        const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest)
        if (!m) throw new Error(`bad labels in: ${line}`)
        labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) =>
          c === 'n' ? '\n' : c,
        )
        rest = rest.slice(m[0].length)
      }
      rest = rest.slice(1)
    }
    const fields = rest.trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2) throw new Error(`bad sample: ${line}`)
    const raw = fields[0] as string
    // As Prometheus reads them (Go's ParseFloat): NaN in any case, ±Inf.
    const nan = /^nan$/i.test(raw)
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : nan ? NaN : Number(raw)
    if (raw === '' || (Number.isNaN(value) && !nan)) throw new Error(`bad value: ${line}`)
    // A histogram's or summary's samples belong to the family without their suffix.
    const base = name.replace(/_(bucket|sum|count)$/, '')
    const owner =
      families.get(name) ??
      (['histogram', 'summary'].includes(families.get(base)?.type ?? '')
        ? families.get(base)
        : undefined)
    if (!owner) throw new Error(`sample of no declared family: ${line}`)
    owner.samples.push({ name, labels, value })
  }
  return families
}

/** The value of the one sample of `name` with these labels (all of them given). */
function sampleOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const base = name.replace(/_(bucket|sum|count)$/, '')
  const f = families.get(name) ?? families.get(base)
  const found = f?.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  if (found && found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} twice`)
  return found?.[0]?.value
}

describe('the exposition parser of this test', () => {
  it('reads labels with escapes, histograms and special values, and refuses what is not the format', () => {
    const f = parseExposition(
      [
        '# HELP a_total A counter.',
        '# TYPE a_total counter',
        'a_total{x="say \\"hi\\"",y="a\\\\b\\nc"} 3',
        '# TYPE h histogram',
        'h_bucket{le="0.1"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.5',
        'h_count 2',
        '# TYPE g gauge',
        'g NaN 1700000000000',
        '# TYPE n gauge',
        'n Nan',
        '',
      ].join('\n'),
    )
    expect(f.get('a_total')?.samples[0]).toEqual({
      name: 'a_total',
      labels: { x: 'say "hi"', y: 'a\\b\nc' },
      value: 3,
    })
    expect(sampleOf(f, 'h_bucket', { le: '+Inf' })).toBe(2)
    expect(sampleOf(f, 'h_count')).toBe(2)
    expect(sampleOf(f, 'g')).toBeNaN()
    expect(sampleOf(f, 'n')).toBeNaN()
    expect(() => parseExposition('x 1\n')).toThrow(/no declared family/)
    expect(() => parseExposition('# TYPE x gauge\nx{a=1} 1\n')).toThrow(/bad labels/)
    expect(() => parseExposition('# TYPE x gauge\nx one\n')).toThrow(/bad value/)
  })
})

describe('GET /metrics', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient
  let socket: Socket
  const sent = { fill: 30, torque: 12 }

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 }, subscribe: [t/#] }
characteristics:
  - id: fill
    name: Fill weight
    path: s/filling/l/c
    source: { mqtt: { topic: t/fill } }
    limits: { actionHigh: 505 }
  - id: torque
    name: Torque
    path: s/assembly/l/c
    source: { mqtt: { topic: t/torque } }
    limits: { actionHigh: 2.5 }
`)
    socket = io(gw.gateway.urls.http, {
      auth: { token: TOKENS.viewer },
      transports: ['websocket'],
    })
    await waitFor('the live socket', () => socket.connected)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    const t0 = Date.now() - 60_000
    for (let i = 0; i < sent.fill; i++) {
      // The last reading is past HH: an alarm, and an NC.
      const value = i === sent.fill - 1 ? 510 : 500 + (i % 5) / 10
      await mqtt.publishAsync('t/fill', JSON.stringify({ ts: t0 + i * 1000, value }), { qos: 1 })
    }
    for (let i = 0; i < sent.torque; i++)
      await mqtt.publishAsync('t/torque', JSON.stringify({ ts: t0 + i, value: 2 + i / 100 }), {
        qos: 1,
      })
    // One refused message: not JSON.
    await mqtt.publishAsync('t/fill', '{"value": 5', { qos: 1 })
    await waitFor('the readings and the refusal', async () => {
      const h = (await gw.get<Health>('/api/health')).body
      return (
        h.counters.readings === sent.fill + sent.torque &&
        h.counters.rejected['malformed-json'] === 1
      )
    })
    await waitFor('the NC', async () => {
      const ncs = (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body
      return ncs.length === 1
    })
  })
  afterAll(async () => {
    socket?.disconnect()
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  const scrape = async (token: string | null = TOKENS.viewer) => {
    const res = await fetch(`${gw.gateway.urls.http}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
  }

  it('needs a token of at least the viewer role (as Prometheus sends it); a wrong one is refused', async () => {
    expect((await scrape(null)).status).toBe(401)
    expect((await scrape('not-a-token')).status).toBe(401)
    const ok = await scrape(TOKENS.viewer)
    expect(ok.status).toBe(200)
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/)
  })

  it('counts readings in and refused, per source and reason, as sent', async () => {
    const m = parseExposition((await scrape()).text)
    expect(m.get('linewatch_readings_total')?.type).toBe('counter')
    expect(sampleOf(m, 'linewatch_readings_total')).toBe(sent.fill + sent.torque)
    // Every message the broker took: the readings and the refused one.
    expect(
      sampleOf(m, 'linewatch_source_messages_total', { source: 'mqtt', kind: 'mqtt-broker' }),
    ).toBe(sent.fill + sent.torque + 1)
    expect(sampleOf(m, 'linewatch_source_connected', { source: 'mqtt', kind: 'mqtt-broker' })).toBe(
      1,
    )
    const refused = m.get('linewatch_refused_total')
    expect(refused?.type).toBe('counter')
    expect(refused?.samples).toEqual([
      {
        name: 'linewatch_refused_total',
        labels: { source: 'mqtt', reason: 'malformed-json' },
        value: 1,
      },
    ])
    // The same as the dead letters say.
    const dl = (await gw.get<DeadLettersView>('/api/dead-letters', TOKENS.engineer)).body
    expect(dl.items.map((d) => [d.source, d.reason])).toEqual([['mqtt', 'malformed-json']])
    expect(sampleOf(m, 'linewatch_processing_errors_total')).toBe(0)
  })

  it('times the pipeline lag (a histogram, and the latest) and reports the event-loop delay', async () => {
    const m = parseExposition((await scrape()).text)
    const lag = m.get('linewatch_pipeline_lag_seconds')
    expect(lag?.type).toBe('histogram')
    const count = sampleOf(m, 'linewatch_pipeline_lag_seconds_count') as number
    expect(count).toBeGreaterThanOrEqual(1)
    expect(count).toBeLessThanOrEqual(sent.fill + sent.torque)
    const buckets = (lag?.samples ?? []).filter((s) => s.name.endsWith('_bucket'))
    const cumulative = buckets.map((b) => b.value)
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b))
    expect(sampleOf(m, 'linewatch_pipeline_lag_seconds_bucket', { le: '+Inf' })).toBe(count)
    const sum = sampleOf(m, 'linewatch_pipeline_lag_seconds_sum') as number
    expect(sum).toBeGreaterThanOrEqual(0)
    // Readings on loopback are judged within a second.
    expect(sum / count).toBeLessThan(1)
    expect(sampleOf(m, 'linewatch_pipeline_lag_latest_seconds')).toBeGreaterThanOrEqual(0)
    // The samples were taken: a second scrape has no more unless readings came.
    const again = parseExposition((await scrape()).text)
    expect(sampleOf(again, 'linewatch_pipeline_lag_seconds_count')).toBe(count)
    // The process: event-loop delay (monitorEventLoopDelay), memory, CPU.
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ])
      expect(m.get(name)?.samples.length, name).toBe(1)
  })

  it('reports the store, the live clients, the NCs by status and the alarms by state and priority as the API does', async () => {
    // What the NC and the alarms wrote to the records is committed within 200 ms.
    await waitFor(
      'the records committed',
      async () => (await gw.get<Health>('/api/health')).body.records?.pending === 0,
    )
    const m = parseExposition((await scrape()).text)
    const health = (await gw.get<Health>('/api/health')).body
    // The records writer: the NC, its occurrence and the two alarms' states at least, none refused.
    expect(health.records).toMatchObject({ pending: 0, dropped: 0, skipped: 0 })
    expect(health.records?.committed).toBeGreaterThanOrEqual(4)
    expect(sampleOf(m, 'linewatch_records_pending')).toBe(0)
    expect(sampleOf(m, 'linewatch_records_dropped_total')).toBe(0)
    expect(sampleOf(m, 'linewatch_store_pending', { store: 'sqlite' })).toBeGreaterThanOrEqual(0)
    expect(sampleOf(m, 'linewatch_store_spooled', { store: 'sqlite' })).toBe(health.store.spooled)
    expect(sampleOf(m, 'linewatch_store_healthy', { store: 'sqlite' })).toBe(1)
    expect(sampleOf(m, 'linewatch_store_written_total', { store: 'sqlite' })).toBeGreaterThan(0)
    expect(sampleOf(m, 'linewatch_live_clients')).toBe(1)
    expect(sampleOf(m, 'linewatch_live_clients')).toBe(health.live?.clients)

    const ncs = m.get('linewatch_nonconformances')
    expect(ncs?.samples.map((s) => [s.labels.status, s.value])).toEqual([
      ['open', 1],
      ['investigating', 0],
      ['dispositioned', 0],
      ['closed', 0],
    ])

    const alarms = (await gw.get<AlarmView[]>('/api/alarms')).body
    // The reading past HH is beyond the control limits too (N1): two alarms, one NC.
    expect(alarms.map((a) => [a.id, a.state]).sort()).toEqual([
      ['fill:HH', 'unack-active'],
      ['fill:N1', 'unack-active'],
    ])
    const family = m.get('linewatch_alarms')
    // Every state but normal, for every priority: 6 × 4.
    expect(family?.samples).toHaveLength(24)
    for (const s of family?.samples ?? []) {
      const expected = alarms.filter(
        (a) => a.state === s.labels.state && a.priority === s.labels.priority,
      ).length
      expect(s.value, JSON.stringify(s.labels)).toBe(expected)
    }
    expect(family?.samples.reduce((n, s) => n + s.value, 0)).toBe(2)
  })

  it('names the gateway: version and boot id', async () => {
    const m = parseExposition((await scrape()).text)
    const health = (await gw.get<Health>('/api/health')).body
    expect(m.get('linewatch_info')?.samples).toEqual([
      {
        name: 'linewatch_info',
        labels: { version: health.version, boot_id: health.bootId },
        value: 1,
      },
    ])
  })

  it('counts the bytes the process wrote to storage, as /proc/self/io says, and they grow with committed readings', async () => {
    // The gateway runs in this process: its threads' writes are this process's.
    const written = () =>
      Number(/write_bytes:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1])
    const before = written()
    const first = sampleOf(
      parseExposition((await scrape()).text),
      'process_disk_written_bytes_total',
    )
    expect(first).toBeGreaterThanOrEqual(before)
    expect(first).toBeLessThanOrEqual(written())
    // QoS 1: each PUBACK comes after the commit (fsync'd), so the bytes are written by then.
    // (Last of the tests on this gateway: these readings change its charts.)
    const t0 = Date.now() - 30_000
    for (let i = 0; i < 50; i++)
      await mqtt.publishAsync('t/torque', JSON.stringify({ ts: t0 + i, value: 2.1 }), { qos: 1 })
    const second = sampleOf(
      parseExposition((await scrape()).text),
      'process_disk_written_bytes_total',
    ) as number
    expect(second).toBeGreaterThan(first as number)
  })

  it('answers without a token only with metrics.anonymous: true', async () => {
    const open = await startTestGateway('metrics: { anonymous: true }')
    try {
      const res = await fetch(`${open.gateway.urls.http}/metrics`)
      expect(res.status).toBe(200)
      const m = parseExposition(await res.text())
      expect(sampleOf(m, 'linewatch_readings_total')).toBe(0)
      // Other routes stay closed.
      expect((await open.get('/api/characteristics', null)).status).toBe(401)
    } finally {
      await open.close()
      await open.removeDataDir()
    }
  })
})
