import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BUCKETS, readPages } from '../gateway/api/charts.ts'
import type { ChartPointView, ChartView, ReadingsView } from '../gateway/contract.ts'
import { createLogger } from '../gateway/log.ts'
import { createSqliteStore } from '../gateway/store/sqlite.ts'
import type { StoredReading } from '../gateway/store/types.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { tempDir, waitFor } from './helpers/index.ts'

/**
 * Chart history over the API (issue 11): `?buckets=N` reads the whole range and answers with M4's
 * points (per bucket the first, last, smallest and largest of each value, and every point that
 * completed a rule). Checked against M4 computed here, from its definition, over every point of
 * the range read without buckets; and the paging that reads a range whole, against a real store.
 */

const WEEK = 7 * 24 * 3600_000
const MINUTE = 60_000
const COUNT = 7 * 24 * 60
/** A week ago, to the minute: one reading a minute since (10,080 of them). */
const T0 = Math.floor((Date.now() - WEEK) / MINUTE) * MINUTE
const SPIKE_AT = 5000
const SPIKE = 12.5

/** In control against centre 10 and σ 0.1 (within ±2σ, moving ranges below their UCL), but for one spike. */
function valueAt(k: number): number {
  if (k === SPIKE_AT) return SPIKE
  return 10 + 0.12 * Math.sin(k * 0.9) + 0.05 * Math.sin(k * 0.31)
}

/**
 * M4 written out from its definition (Jugel et al., VLDB 2014), independently of rules/downsample.ts:
 * bucket k of `buckets` over [from, to] holds the time stamps t with
 * floor((t − from)·buckets/(to − from + 1)) = k; per bucket the first and last row (time order, then
 * the order given) and, per value, the earliest row with the smallest and the earliest with the
 * largest; every row `keep` says. No more rows than buckets: all of them.
 */
function expectedM4<T extends { ts: number }>(
  rows: T[],
  range: { from: number; to: number },
  buckets: number,
  values: (row: T) => [string, number | null | undefined][],
  keep: (row: T) => boolean = () => false,
): T[] {
  if (rows.length <= buckets) return rows
  const chosen = new Set<T>()
  const groups = new Map<number, T[]>()
  for (const row of rows) {
    const k = Math.floor(((row.ts - range.from) * buckets) / (range.to - range.from + 1))
    groups.set(k, [...(groups.get(k) ?? []), row])
  }
  for (const group of groups.values()) {
    const byTime = [...group].sort((a, b) => a.ts - b.ts)
    chosen.add(byTime[0] as T)
    // The last in time, the latest given among equals.
    const lastTs = (byTime.at(-1) as T).ts
    chosen.add(group.filter((r) => r.ts === lastTs).at(-1) as T)
    const names = new Set(group.flatMap((r) => values(r).map(([name]) => name)))
    for (const name of names) {
      const valued = group.flatMap((r) => {
        const v = values(r).find(([n]) => n === name)?.[1]
        return typeof v === 'number' && Number.isFinite(v) ? [{ r, v }] : []
      })
      if (valued.length === 0) continue
      const min = Math.min(...valued.map((x) => x.v))
      const max = Math.max(...valued.map((x) => x.v))
      chosen.add((valued.find((x) => x.v === min) as { r: T }).r)
      chosen.add((valued.find((x) => x.v === max) as { r: T }).r)
    }
  }
  for (const row of rows) if (keep(row)) chosen.add(row)
  return rows.filter((r) => chosen.has(r))
}

const paneValues = (p: ChartPointView): [string, number | null | undefined][] =>
  Object.entries(p.panes).flatMap(([name, pane]) => [
    [name, pane.statistic] as [string, number | null],
    ...(pane.upper !== undefined ? [[`${name}+`, pane.upper] as [string, number]] : []),
    ...(pane.lower !== undefined ? [[`${name}-`, pane.lower] as [string, number]] : []),
  ])

describe('GET …/chart and …/readings with buckets (a week of readings, one a minute)', () => {
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let mqtt: MqttClient | null = null
  let all: ChartPointView[] = []
  let readings: { ts: number; value: number }[] = []
  const range = { from: T0, to: T0 + WEEK - 1 }

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - id: weight
    name: Fill weight
    path: p/a/l/c
    source: { mqtt: { topic: t/weight } }
    chart: { given: { center: 10, sigma: 0.1 }, rules: [N1] }
`)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    // In batches of 1,000 readings (a JSON array per message, below mqtt.maxPacketBytes).
    for (let k = 0; k < COUNT; k += 1000) {
      const batch = Array.from({ length: Math.min(1000, COUNT - k) }, (_, j) => ({
        value: valueAt(k + j),
        ts: T0 + (k + j) * MINUTE,
      }))
      await mqtt.publishAsync('t/weight', JSON.stringify(batch), { qos: 1 })
    }
    const g = gw
    all = await waitFor(
      `${COUNT} chart points`,
      async () => {
        const res = await g.get<ChartView>(
          `/api/characteristics/weight/chart?from=${range.from}&to=${range.to}&limit=100000`,
        )
        return res.body.points.length === COUNT && res.body.points
      },
      { timeoutMs: 30_000 },
    )
    readings = (
      await g.get<ReadingsView>(
        `/api/characteristics/weight/readings?from=${range.from}&to=${range.to}&limit=100000`,
      )
    ).body.readings
    expect(readings).toHaveLength(COUNT)
  })

  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('the data is what the test meant: the spike alone completed a rule (and its moving range after it)', () => {
    const flagged = all.filter((p) => p.rules.length > 0).map((p) => p.index)
    expect(flagged).toEqual([SPIKE_AT, SPIKE_AT + 1])
    expect(all[SPIKE_AT]?.panes.i?.statistic).toBe(SPIKE)
  })

  it('chart: M4 of every pane, and every flagged point, for several widths', async () => {
    for (const buckets of [1, 7, 240, 1000, 1920]) {
      const res = await gw?.get<ChartView>(
        `/api/characteristics/weight/chart?from=${range.from}&to=${range.to}&buckets=${buckets}`,
      )
      expect(res?.status).toBe(200)
      const body = res?.body as ChartView
      const expected = expectedM4(all, range, buckets, paneValues, (p) => p.rules.length > 0)
      expect(body.points.map((p) => p.index)).toEqual(expected.map((p) => p.index))
      expect(body.points).toEqual(expected)
      expect(body).toMatchObject({
        characteristic: 'weight',
        downsampled: true,
        total: COUNT,
        buckets,
        from: range.from,
        to: range.to,
      })
      // Two panes (I and MR): at most 2 + 2·2 points a bucket, and the two flagged ones.
      expect(body.points.length).toBeLessThanOrEqual(6 * buckets + 2)
      expect(body.points.find((p) => p.index === SPIKE_AT)?.panes.i?.statistic).toBe(SPIKE)
    }
  })

  it('readings: M4 of the values over the range asked', async () => {
    for (const buckets of [1, 100, 1920]) {
      const res = await gw?.get<ReadingsView>(
        `/api/characteristics/weight/readings?from=${range.from}&to=${range.to}&buckets=${buckets}`,
      )
      const body = res?.body as ReadingsView
      const expected = expectedM4(readings, range, buckets, (r) => [['value', r.value]])
      expect(body.readings).toEqual(expected)
      expect(body.readings.length).toBeLessThanOrEqual(4 * buckets)
      expect(Math.max(...body.readings.map((r) => r.value))).toBe(SPIKE)
      expect(body).toMatchObject({ downsampled: true, total: COUNT, buckets })
    }
  })

  it('a part of the range: its points only, bucketed over that part', async () => {
    const part = { from: T0 + 4000 * MINUTE, to: T0 + 6000 * MINUTE }
    const inside = all.filter((p) => p.ts >= part.from && p.ts <= part.to)
    const res = await gw?.get<ChartView>(
      `/api/characteristics/weight/chart?from=${part.from}&to=${part.to}&buckets=300`,
    )
    const body = res?.body as ChartView
    expect(body.total).toBe(2001)
    expect(body.points).toEqual(
      expectedM4(inside, part, 300, paneValues, (p) => p.rules.length > 0),
    )
    // A range with fewer points than buckets: every one of them, nothing left out.
    const small = { from: T0 + 100 * MINUTE, to: T0 + 149 * MINUTE }
    const few = (
      await gw?.get<ChartView>(
        `/api/characteristics/weight/chart?from=${small.from}&to=${small.to}&buckets=1920`,
      )
    )?.body as ChartView
    expect(few.points).toEqual(all.slice(100, 150))
    expect(few).toMatchObject({ downsampled: false, total: 50 })
  })

  it('without buckets, as before: the latest `limit` points, no downsampling fields', async () => {
    const res = await gw?.get<ChartView>('/api/characteristics/weight/chart?limit=300')
    expect(res?.body.points).toEqual(all.slice(-300))
    expect(res?.body).not.toHaveProperty('downsampled')
    const r = await gw?.get<ReadingsView>(
      `/api/characteristics/weight/readings?from=${range.from}&to=${range.to}&limit=10`,
    )
    expect(r?.body.readings).toEqual(readings.slice(-10))
    expect(r?.body).not.toHaveProperty('total')
  })

  it('refuses buckets out of 1…10,000, a reversed range, an unknown characteristic', async () => {
    const at = (q: string) => gw?.get(`/api/characteristics/weight/chart?${q}`)
    expect((await at('buckets=0'))?.status).toBe(400)
    expect((await at(`buckets=${MAX_BUCKETS + 1}`))?.status).toBe(400)
    expect((await at('buckets=1.5'))?.status).toBe(400)
    expect((await at('buckets=10&from=2000&to=1000'))?.status).toBe(400)
    expect((await gw?.get('/api/characteristics/nope/readings?buckets=10'))?.status).toBe(404)
    expect((await gw?.get('/api/characteristics/weight/chart?buckets=10', null))?.status).toBe(401)
  })
})

describe('a week of 1 Hz readings (604,800) read whole and downsampled', () => {
  it('every point is counted, the answer is M4-sized and keeps the spike', async () => {
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - id: w
    name: W
    path: p/a/l/c
    source: { mqtt: { topic: t/w } }
    chart: { given: { center: 10, sigma: 0.1 }, rules: [N1] }
`)
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    try {
      const n = 7 * 24 * 3600
      const t0 = Math.floor(Date.now() / 1000) * 1000 - n * 1000
      const spike = 400_000
      for (let k = 0; k < n; k += 1000) {
        const batch = Array.from({ length: Math.min(1000, n - k) }, (_, j) => ({
          value: k + j === spike ? 13 : 10 + 0.1 * Math.sin(k + j),
          ts: t0 + (k + j) * 1000,
        }))
        await mqtt.publishAsync('t/w', JSON.stringify(batch), { qos: 1 })
      }
      await waitFor(
        'every reading judged',
        async () =>
          (await gw.get<ChartView>('/api/characteristics/w/chart?limit=1')).body.points[0]
            ?.index ===
          n - 1,
        { timeoutMs: 45_000 },
      )
      const range = `from=${t0}&to=${t0 + n * 1000 - 1}`
      const chart = (await gw.get<ChartView>(`/api/characteristics/w/chart?${range}&buckets=1900`))
        .body
      expect(chart).toMatchObject({ total: n, downsampled: true, from: t0 })
      const flagged = chart.points.filter((p) => p.rules.length > 0)
      expect(flagged.map((p) => p.index)).toEqual([spike, spike + 1])
      expect(chart.points.length).toBeLessThanOrEqual(6 * 1900 + flagged.length)
      expect(chart.points.find((p) => p.index === spike)?.panes.i?.statistic).toBe(13)
      const raw = (
        await gw.get<ReadingsView>(`/api/characteristics/w/readings?${range}&buckets=1900`)
      ).body
      expect(raw).toMatchObject({ total: n, downsampled: true })
      expect(raw.readings.length).toBeLessThanOrEqual(4 * 1900)
      expect(Math.max(...raw.readings.map((r) => r.value))).toBe(13)
    } finally {
      await mqtt.endAsync()
      await gw.close()
      await gw.removeDataDir()
    }
  })
})

describe('readPages: a range read whole, a page at a time, from a real SQLite store', () => {
  it('every row once, in pages no larger than asked, rows of one millisecond never split', async () => {
    const dir = await tempDir()
    const store = createSqliteStore({
      path: join(dir.path, 'timeseries.db'),
      log: createLogger('silent'),
    })
    try {
      await store.start()
      // 5,000 readings of the last hour (older ones would go by retention, 90 days); runs of
      // up to 5 readings share a time stamp.
      const rows: StoredReading[] = []
      let ts = Date.now() - 3600_000
      for (let k = 0; k < 5000; k++) {
        if (k % 7 !== 3) ts += 1 + (k % 5)
        rows.push({ ts, value: k })
        store.write({ kind: 'reading', characteristic: 'a', ts, value: k })
        if (k === 2500) store.checkpoint()
      }
      // Another characteristic in the same range: not read.
      for (let k = 0; k < 100; k++)
        store.write({ kind: 'reading', characteristic: 'b', ts: ts - k, value: -1 })
      await store.flush()
      const range = { from: rows[0]?.ts as number, to: ts }
      for (const pageRows of [1, 2, 5, 6, 333, 700, 4999, 5000, 10_000]) {
        const pages: (readonly StoredReading[])[] = []
        const got = await readPages(
          (q) => store.readings({ characteristic: 'a', ...q }),
          range,
          (page) => pages.push(page),
          { pageRows: Math.max(pageRows, 6) },
        )
        const read = pages.flatMap((p) => [...p]).sort((a, b) => a.ts - b.ts || a.value - b.value)
        expect(read, `pages of ${pageRows}`).toEqual(rows)
        expect(got).toEqual({ rows: 5000, from: range.from })
        for (const page of pages) expect(page.length).toBeLessThanOrEqual(Math.max(pageRows, 6))
        // No time stamp in two pages.
        const seen = new Map<number, number>()
        pages.forEach((page, k) => {
          for (const r of page) {
            expect(seen.get(r.ts) ?? k, `ts ${r.ts}`).toBe(k)
            seen.set(r.ts, k)
          }
        })
      }
      // A part of the range, and a bound on the rows read: the newest ones, and where it stopped.
      const part = { from: rows[1000]?.ts as number, to: rows[3999]?.ts as number }
      const inPart = rows.filter((r) => r.ts >= part.from && r.ts <= part.to)
      let count = 0
      const bounded = await readPages(
        (q) => store.readings({ characteristic: 'a', ...q }),
        part,
        (page) => {
          count += page.length
        },
        { pageRows: 400, maxRows: 1000 },
      )
      expect(bounded.rows).toBe(count)
      expect(count).toBeGreaterThanOrEqual(1000)
      expect(count).toBeLessThan(1400)
      // What was read is exactly the rows from `from` on.
      expect(inPart.filter((r) => r.ts >= bounded.from)).toHaveLength(count)
      const all = await readPages(
        (q) => store.readings({ characteristic: 'a', ...q }),
        part,
        () => {},
        { pageRows: 400 },
      )
      expect(all).toEqual({ rows: inPart.length, from: part.from })
    } finally {
      await store.stop()
      await dir.remove()
    }
  })

  it('a page of one millisecond is taken whole and reading goes on before it', async () => {
    // A fake store with 10 rows at ts 5 and 3 before: pages of 4 cannot hold the millisecond.
    const rows = [
      ...[1, 2, 3].map((ts) => ({ ts, v: ts })),
      ...Array.from({ length: 10 }, (_, k) => ({ ts: 5, v: 10 + k })),
    ]
    const read = async (q: { from: number; to: number; limit: number }) =>
      rows.filter((r) => r.ts >= q.from && r.ts <= q.to).slice(-q.limit)
    const got: { ts: number; v: number }[] = []
    const out = await readPages(read, { from: 0, to: 10 }, (p) => got.push(...p), { pageRows: 4 })
    // The latest 4 of ts 5 (the other 6 of that millisecond are skipped), then 1, 2, 3.
    expect(got.map((r) => r.v).sort((a, b) => a - b)).toEqual([1, 2, 3, 16, 17, 18, 19])
    expect(out).toEqual({ rows: 7, from: 0 })
  })
})
