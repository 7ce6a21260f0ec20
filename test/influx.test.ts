import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import {
  mkdir,
  readdir,
  readFile,
  rmdir,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { Point } from '@influxdata/influxdb-client'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { InfluxConfig } from '../gateway/config/index.ts'
import { LinewatchError } from '../gateway/errors.ts'
import { createLogger } from '../gateway/log.ts'
import { createInfluxStore, type InfluxStore } from '../gateway/store/influx.ts'
import { encodeRecord, UnencodableError } from '../gateway/store/line-protocol.ts'
import { openSpool } from '../gateway/store/spool.ts'
import type { SeriesRecord } from '../gateway/store/types.ts'
import type { ChartPoint, ViolationRule } from '../rules/index.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import { type RunningInfluxd, startInfluxd } from './helpers/influxd.ts'

// ---- helpers -----------------------------------------------------------------------------------

/** A logger whose JSON lines the test can read. */
function capturedLog() {
  const lines: string[] = []
  const log = createLogger('info', { write: (line: string) => void lines.push(line) })
  return {
    log,
    text: () => lines.join(''),
    entries: () =>
      lines.map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown }),
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

let dbCount = 0
const newDatabase = (): string => `lw_test_${process.pid}_${++dbCount}`

async function newStore(
  url: string,
  overrides: Partial<InfluxConfig> = {},
  ctx: {
    spoolDir?: string
    env?: NodeJS.ProcessEnv
    /** `default`: the store's own backoff (1 s doubling to 5 s). */
    retry?: { minMs: number; maxMs: number } | 'default'
    spoolSegmentBytes?: number
    timeoutMs?: number
  } = {},
) {
  let spoolDir = ctx.spoolDir
  if (!spoolDir) {
    const dir = await tempDir('linewatch-spool-')
    cleanups.push(dir.remove)
    spoolDir = dir.path
  }
  const logs = capturedLog()
  const config: InfluxConfig = {
    url,
    database: newDatabase(),
    batchSize: 500,
    flushIntervalMs: 20,
    maxSpoolBytes: 64 * 1024 * 1024,
    ...overrides,
  }
  const store: InfluxStore = createInfluxStore(config, {
    log: logs.log,
    spoolDir,
    ...(ctx.retry === 'default' ? {} : { retry: ctx.retry ?? { minMs: 50, maxMs: 400 } }),
    timeoutMs: ctx.timeoutMs ?? 5000,
    ...(ctx.env ? { env: ctx.env } : {}),
    ...(ctx.spoolSegmentBytes ? { spoolSegmentBytes: ctx.spoolSegmentBytes } : {}),
  })
  cleanups.push(() => store.stop())
  return { store, config, spoolDir, logs }
}

interface QueryResponse {
  results: {
    error?: string
    series?: {
      name: string
      tags?: Record<string, string>
      columns: string[]
      values: unknown[][]
    }[]
  }[]
}

/** A raw InfluxQL query, so the test pins the on-disk schema and not only the store's own round trip. */
async function influxql(url: string, db: string, q: string) {
  const res = await fetch(`${url}/query?${new URLSearchParams({ db, q, epoch: 'ms' })}`, {
    signal: AbortSignal.timeout(5000),
  })
  const body = (await res.json()) as QueryResponse
  const result = body.results[0]
  if (!result || result.error) throw new Error(`${q}: ${result?.error}`)
  return result.series ?? []
}

async function rawWrite(url: string, db: string, lines: string): Promise<Response> {
  return fetch(`${url}/write?${new URLSearchParams({ db, precision: 'ms' })}`, {
    method: 'POST',
    body: lines,
    signal: AbortSignal.timeout(5000),
  })
}

async function countReadings(url: string, db: string): Promise<number> {
  const [series] = await influxql(url, db, 'SELECT COUNT("value") FROM "reading"')
  return (series?.values[0]?.[1] as number | undefined) ?? 0
}

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0)

function reading(characteristic: string, i: number): SeriesRecord {
  return { kind: 'reading', characteristic, ts: T0 + i, value: i }
}

interface SpoolFileEntry {
  records: number
  text: string
  /** Where the entry's payload starts and ends in its file. */
  start: number
  end: number
}

/**
 * The spool's segment files as they are on disk, parsed independently of spool.ts from the
 * documented layout (`<records> <bytes> <crc32 hex>\n<payload>\n`); a torn tail is left out.
 */
function readSpoolFiles(dir: string): { name: string; entries: SpoolFileEntry[] }[] {
  const names = readdirSync(dir)
    .filter((n) => /^\d{12}\.seg$/.test(n) && statSync(join(dir, n)).isFile())
    .sort()
  return names.map((name) => {
    const bytes = readFileSync(join(dir, name))
    const entries: SpoolFileEntry[] = []
    let offset = 0
    for (;;) {
      const eol = bytes.indexOf(0x0a, offset)
      if (eol < 0) break
      const header = /^(\d+) (\d+) [0-9a-f]{8}$/.exec(bytes.toString('latin1', offset, eol))
      if (!header) break
      const start = eol + 1
      const end = start + Number(header[2])
      if (end >= bytes.length) break
      entries.push({
        records: Number(header[1]),
        text: bytes.toString('utf8', start, end),
        start,
        end,
      })
      offset = end + 1
    }
    return { name, entries }
  })
}

/** The values of the reading lines in spool entries (line protocol `value=<v>`). */
function readingValues(entries: SpoolFileEntry[]): number[] {
  return entries.flatMap((e) =>
    e.text
      .split('\n')
      .filter((l) => l.startsWith('reading,'))
      .map((l) => Number(/ value=(\S+) /.exec(l)?.[1])),
  )
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

/**
 * A TCP proxy in front of influxd that can stall: while stalled, what clients send is held
 * (a network that stopped moving), and it is passed on when the stall ends.
 */
async function stallingProxy(port: number) {
  let stalled = false
  const held: (() => void)[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (chunk) => {
      if (stalled) held.push(() => upstream.write(chunk))
      else upstream.write(chunk)
    })
    upstream.on('data', (chunk) => client.write(chunk))
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    stall: () => {
      stalled = true
    },
    resume: () => {
      stalled = false
      for (const send of held.splice(0)) send()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

// ---- line protocol: the hand-written encoder against the client library's Point --------------

/** The schema written with the client library's Point: the reference the encoder must equal. */
function withPoint(record: SeriesRecord): string[] {
  const settings = { convertTime: (t: unknown) => (t === undefined ? undefined : String(t)) }
  switch (record.kind) {
    case 'reading':
      return [
        new Point('reading')
          .tag('characteristic', record.characteristic)
          .floatField('value', record.value)
          .timestamp(String(Math.floor(record.ts)))
          .toLineProtocol(settings) as string,
      ]
    case 'event':
      return [
        new Point('event')
          .tag('characteristic', record.characteristic)
          .tag('type', record.type)
          .stringField('detail', record.detail)
          .timestamp(String(Math.floor(record.ts)))
          .toLineProtocol(settings) as string,
      ]
    case 'snapshot':
    case 'delivery':
      return [] // the journal's, not InfluxDB's
    case 'chart': {
      const { point } = record
      const panes = new Set(Object.keys(point.panes))
      for (const v of point.violations) panes.add(v.pane)
      return [...panes].sort().map((pane) => {
        const p = new Point('chart')
          .tag('characteristic', record.characteristic)
          .tag('pane', pane)
          .intField('index', point.index)
          .intField('n', point.n)
          .stringField('phase', point.phase)
        const values = point.panes[pane]
        for (const key of [
          'statistic',
          'center',
          'lcl',
          'ucl',
          'sigma',
          'upper',
          'lower',
        ] as const) {
          const v = values?.[key]
          if (v !== null && v !== undefined) p.floatField(key, v)
        }
        const rules = [
          ...new Set(point.violations.filter((v) => v.pane === pane).map((v) => v.rule)),
        ]
        if (rules.length > 0) p.stringField('rules', rules.join(','))
        return p.timestamp(String(Math.floor(point.ts))).toLineProtocol(settings) as string
      })
    }
  }
}

/** What line protocol cannot carry faithfully: the encoder refuses it, Point would mangle it. */
const representable = (tag: string): boolean =>
  tag !== '' && !tag.endsWith('\\') && !/[\n\r\t]/.test(tag)

const tagsOf = (record: SeriesRecord): string[] => {
  switch (record.kind) {
    case 'reading':
      return [record.characteristic]
    case 'event':
      return [record.characteristic, record.type]
    case 'chart':
      return [
        record.characteristic,
        ...Object.keys(record.point.panes),
        ...record.point.violations.map((v) => v.pane),
      ]
    case 'snapshot':
    case 'delivery':
      return []
  }
}

const specials = [
  ' ',
  ',',
  '=',
  '"',
  "'",
  '\\',
  '\n',
  '\r',
  '\t',
  'é',
  '☃',
  '😀',
  'a',
  'Z',
  '0',
  '|',
  '#',
]
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom(...specials), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ maxLength: 12 }),
)
const finite = fc.double({ noNaN: true, noDefaultInfinity: true })
const nullable = fc.option(finite, { nil: null })
const ts = fc.integer({ min: 0, max: 4_102_444_800_000 })
const pane = fc.record(
  {
    statistic: nullable,
    center: nullable,
    lcl: nullable,
    ucl: nullable,
    sigma: nullable,
    upper: finite,
    lower: finite,
  },
  { requiredKeys: ['statistic', 'center', 'lcl', 'ucl', 'sigma'] },
)
const recordArb: fc.Arbitrary<SeriesRecord> = fc.oneof(
  fc.record({ kind: fc.constant('reading' as const), characteristic: text, ts, value: finite }),
  fc.record({
    kind: fc.constant('event' as const),
    characteristic: text,
    ts,
    type: text,
    detail: text,
  }),
  fc.record({
    kind: fc.constant('chart' as const),
    characteristic: text,
    point: fc.record({
      index: fc.nat(),
      ts,
      n: fc.integer({ min: 1, max: 1000 }),
      phase: fc.constantFrom('baseline' as const, 'monitor' as const),
      panes: fc.dictionary(fc.oneof(fc.constantFrom('i', 'mr', 'toString'), text), pane, {
        minKeys: 1,
        maxKeys: 3,
      }),
      violations: fc.array(
        fc.record({
          rule: fc.constantFrom<ViolationRule>(
            'N1',
            'N2',
            'N7',
            'WE3',
            'cusum-upper',
            'cusum-lower',
          ),
          pane: fc.oneof(fc.constantFrom('i', 'mr', 'toString', '__proto__'), text),
          indices: fc.array(fc.nat(), { maxLength: 3 }),
        }),
        { maxLength: 3 },
      ),
    }),
  }),
)

describe('line protocol encoder', () => {
  test('produces exactly what Point.toLineProtocol() produces, or refuses what Point would mangle', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const out: string[] = []
        if (tagsOf(record).every(representable)) {
          const n = encodeRecord(record, out)
          expect(out).toEqual(withPoint(record))
          expect(n).toBe(out.length)
        } else {
          expect(() => encodeRecord(record, out)).toThrow(UnencodableError)
          expect(out).toEqual([])
        }
      }),
      { numRuns: 3000 },
    )
  })

  test('escapes spaces, commas, equals signs, quotes and backslashes as Point does', () => {
    const out: string[] = []
    encodeRecord(
      {
        kind: 'event',
        characteristic: 'a b,c=d"e\\f',
        ts: 5,
        type: 'x=y',
        detail: 'say "hi" \\ ok',
      },
      out,
    )
    expect(out).toEqual([
      'event,characteristic=a\\ b\\,c\\=d"e\\f,type=x\\=y detail="say \\"hi\\" \\\\ ok" 5',
    ])
  })

  test('a chart snapshot and a delivery record (the journal) encode to no line', () => {
    const out: string[] = []
    expect(
      encodeRecord(
        { kind: 'snapshot', characteristic: 'c', seq: 3, specHash: 'h', state: '{}' },
        out,
      ),
    ).toBe(0)
    expect(
      encodeRecord(
        { kind: 'delivery', delivery: { client: 'c', messageId: 1, hash: 2, at: T0 } },
        out,
      ),
    ).toBe(0)
    expect(out).toEqual([])
  })

  test('a non-finite reading, and a tag ending with a backslash, are refused, not mangled', () => {
    expect(() =>
      encodeRecord({ kind: 'reading', characteristic: 'c', ts: 1, value: Number.NaN }, []),
    ).toThrow(UnencodableError)
    expect(() =>
      encodeRecord({ kind: 'reading', characteristic: 'c\\', ts: 1, value: 1 }, []),
    ).toThrow(/backslash/)
  })
})

// ---- the disk spool, on its own ----------------------------------------------------------------

describe('disk spool', () => {
  test('keeps entries in order across segments and across a reopen; acknowledged ones do not come back', async () => {
    const dir = await tempDir('linewatch-spool-')
    cleanups.push(dir.remove)
    const log = createLogger('silent')
    const spool = await openSpool({ dir: dir.path, maxBytes: 1 << 20, log, segmentBytes: 100 })
    for (let i = 0; i < 10; i++) await spool.append(`batch ${i}\nline é`, i + 1)
    expect(spool.records).toBe(55)
    expect((await readdir(dir.path)).filter((n) => n.endsWith('.seg')).length).toBeGreaterThan(1)
    for (let i = 0; i < 4; i++) {
      const entry = await spool.head()
      expect(entry?.text).toBe(`batch ${i}\nline é`)
      await spool.ack(entry!.id)
    }
    await spool.close()

    const again = await openSpool({ dir: dir.path, maxBytes: 1 << 20, log, segmentBytes: 100 })
    expect(again.records).toBe(5 + 6 + 7 + 8 + 9 + 10)
    const texts: string[] = []
    for (let entry = await again.head(); entry; entry = await again.head()) {
      texts.push(entry.text)
      await again.ack(entry.id)
    }
    expect(texts).toEqual([4, 5, 6, 7, 8, 9].map((i) => `batch ${i}\nline é`))
    expect(again.records).toBe(0)
    await again.close()
    expect((await readdir(dir.path)).filter((n) => n.endsWith('.seg'))).toEqual([])
  })

  test('a torn entry at the end (a crash while appending) is ignored with a warning; a second opener is refused', async () => {
    const dir = await tempDir('linewatch-spool-')
    cleanups.push(dir.remove)
    const logs = capturedLog()
    const spool = await openSpool({ dir: dir.path, maxBytes: 1 << 20, log: logs.log })
    await spool.append('first', 1)
    await spool.append('second', 1)
    await expect(openSpool({ dir: dir.path, maxBytes: 1 << 20, log: logs.log })).rejects.toThrow(
      /in use/,
    )
    await spool.close()
    const [segment] = (await readdir(dir.path)).filter((n) => n.endsWith('.seg'))
    const path = join(dir.path, segment!)
    const bytes = await readFile(path)
    await writeFile(path, bytes.subarray(0, bytes.length - 3)) // cut into the second entry

    const again = await openSpool({ dir: dir.path, maxBytes: 1 << 20, log: logs.log })
    expect(again.records).toBe(1)
    expect((await again.head())?.text).toBe('first')
    expect(logs.text()).toContain('torn')
    await again.close()
  })

  test('a lock naming this very process (a previous run with the same pid: PID 1 in a container) or a dead one is taken over; a live one, or a second open in this process, is refused', async () => {
    const dir = await tempDir('linewatch-spool-')
    cleanups.push(dir.remove)
    const log = createLogger('silent')
    const lock = join(dir.path, 'lock')
    const open = () => openSpool({ dir: dir.path, maxBytes: 1 << 20, log })

    await writeFile(lock, String(process.pid))
    const spool = await open()
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid))
    await expect(open()).rejects.toThrow(/in use/)
    await spool.append('kept', 1)
    await spool.close()

    // A process that has exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(lock, String(dead))
    const again = await open()
    expect(again.records).toBe(1)
    await again.close()

    // A live process that is not this one still holds it.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    cleanups.push(async () => {
      live.kill('SIGKILL')
    })
    await writeFile(lock, String(live.pid))
    await expect(open()).rejects.toThrow(new RegExp(`in use by process ${live.pid}`))
    expect(await readFile(lock, 'utf8')).toBe(String(live.pid)) // left alone
  })

  test('refuses an append that would pass maxBytes', async () => {
    const dir = await tempDir('linewatch-spool-')
    cleanups.push(dir.remove)
    const spool = await openSpool({ dir: dir.path, maxBytes: 100, log: createLogger('silent') })
    expect(spool.append('x'.repeat(50), 1)).toBeDefined()
    expect(spool.append('x'.repeat(50), 1)).toBeUndefined()
    expect(spool.records).toBe(1)
    await spool.close()
  })
})

// ---- against a real influxd --------------------------------------------------------------------

describe('InfluxDB store against a real influxd', () => {
  let influxd: RunningInfluxd
  beforeAll(async () => {
    influxd = await startInfluxd()
  })
  afterAll(async () => {
    await influxd?.remove()
  })
  // An outage test that failed halfway must not leave the server down for the next one.
  afterEach(async () => {
    const up = await fetch(`${influxd.url}/ping`, { signal: AbortSignal.timeout(1000) }).catch(
      () => undefined,
    )
    if (up?.status !== 204) await influxd.restart()
  })

  test('readings, chart points (both panes, a null MR statistic, rules) and events round-trip, and the schema is pinned', async () => {
    const { store, config } = await newStore(influxd.url)
    await store.start()
    expect(store.status()).toMatchObject({
      kind: 'influxdb',
      healthy: true,
      pending: 0,
      spooled: 0,
    })

    for (let i = 0; i < 5; i++)
      store.write({
        kind: 'reading',
        characteristic: 'line1.diameter',
        ts: T0 + i * 1000,
        value: 10 + i / 10,
      })
    store.write({ kind: 'reading', characteristic: 'line1.other', ts: T0, value: 99 })
    const points: ChartPoint[] = [
      {
        index: 0,
        ts: T0,
        phase: 'baseline',
        n: 1,
        panes: {
          i: { statistic: 10, center: null, lcl: null, ucl: null, sigma: null },
          mr: { statistic: null, center: null, lcl: null, ucl: null, sigma: null },
        },
        violations: [],
      },
      {
        index: 1,
        ts: T0 + 1000,
        phase: 'monitor',
        n: 1,
        panes: {
          i: { statistic: 12.5, center: 10, lcl: 7, ucl: 13, sigma: 1 },
          mr: { statistic: 2.5, center: 1.128, lcl: 0, ucl: 3.686, sigma: 0.8525 },
        },
        violations: [
          { rule: 'N2', pane: 'i', indices: [1] },
          { rule: 'N1', pane: 'i', indices: [1] },
        ],
      },
      {
        index: 2,
        ts: T0 + 2000,
        phase: 'monitor',
        n: 1,
        panes: {
          i: { statistic: null, center: 10, lcl: 7, ucl: 13, sigma: 1 }, // no statistic, still written: it has limits
          mr: { statistic: 4, center: 1.128, lcl: 0, ucl: 3.686, sigma: 0.8525 },
        },
        violations: [{ rule: 'N1', pane: 'mr', indices: [2] }],
      },
    ]
    for (const point of points)
      store.write({ kind: 'chart', characteristic: 'line1.diameter', point })
    store.write({
      kind: 'event',
      characteristic: 'line1.diameter',
      ts: T0 + 1000,
      type: 'deviation',
      detail: '{"rule":"N1"}',
    })
    store.write({
      kind: 'event',
      characteristic: 'line1.diameter',
      ts: T0 + 1000,
      type: 'nc-opened',
      detail: '{"id":7}',
    })
    await store.flush()
    expect(store.status()).toMatchObject({ healthy: true, pending: 0, spooled: 0, written: 11 })

    const all = { characteristic: 'line1.diameter', from: T0, to: T0 + 10_000, limit: 100 }
    expect(await store.readings(all)).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ ts: T0 + i * 1000, value: 10 + i / 10 })),
    )
    // The latest `limit` rows, oldest first; bounds inclusive.
    expect(await store.readings({ ...all, limit: 2 })).toEqual([
      { ts: T0 + 3000, value: 10.3 },
      { ts: T0 + 4000, value: 10.4 },
    ])
    expect(await store.readings({ ...all, from: T0 + 1000, to: T0 + 2000 })).toHaveLength(2)
    expect(await store.chartPoints(all)).toEqual([
      { index: 0, ts: T0, phase: 'baseline', n: 1, panes: points[0]!.panes, rules: [] },
      {
        index: 1,
        ts: T0 + 1000,
        phase: 'monitor',
        n: 1,
        panes: points[1]!.panes,
        rules: ['N1', 'N2'],
      },
      { index: 2, ts: T0 + 2000, phase: 'monitor', n: 1, panes: points[2]!.panes, rules: ['N1'] },
    ])
    expect((await store.chartPoints({ ...all, limit: 1 })).map((p) => p.index)).toEqual([2])
    expect(await store.events(all)).toEqual([
      {
        ts: T0 + 1000,
        characteristic: 'line1.diameter',
        type: 'deviation',
        detail: '{"rule":"N1"}',
      },
      { ts: T0 + 1000, characteristic: 'line1.diameter', type: 'nc-opened', detail: '{"id":7}' },
    ])

    // The schema, as another InfluxDB client sees it.
    const db = config.database
    const fieldKeys = async (m: string) =>
      Object.fromEntries(
        (await influxql(influxd.url, db, `SHOW FIELD KEYS FROM "${m}"`))[0]!.values as [
          string,
          string,
        ][],
      )
    const tagKeys = async (m: string) =>
      (await influxql(influxd.url, db, `SHOW TAG KEYS FROM "${m}"`))[0]!.values.map((v) => v[0])
    expect(await fieldKeys('reading')).toEqual({ value: 'float' })
    expect(await tagKeys('reading')).toEqual(['characteristic'])
    expect(await fieldKeys('chart')).toEqual({
      center: 'float',
      index: 'integer',
      lcl: 'float',
      n: 'integer',
      phase: 'string',
      rules: 'string',
      sigma: 'float',
      statistic: 'float',
      ucl: 'float',
    })
    expect(await tagKeys('chart')).toEqual(['characteristic', 'pane'])
    expect(await fieldKeys('event')).toEqual({ detail: 'string' })
    expect(await tagKeys('event')).toEqual(['characteristic', 'type'])

    const [readings] = await influxql(
      influxd.url,
      db,
      `SELECT * FROM "reading" WHERE "characteristic" = 'line1.other'`,
    )
    expect(readings).toMatchObject({
      columns: ['time', 'characteristic', 'value'],
      values: [[T0, 'line1.other', 99]],
    })
    const chart = await influxql(
      influxd.url,
      db,
      `SELECT "index", "phase", "statistic", "center", "lcl", "ucl", "rules" FROM "chart" GROUP BY "pane"`,
    )
    expect(chart.map((s) => [s.tags, s.values])).toEqual([
      [
        { pane: 'i' },
        [
          [T0, 0, 'baseline', 10, null, null, null, null],
          [T0 + 1000, 1, 'monitor', 12.5, 10, 7, 13, 'N2,N1'],
          [T0 + 2000, 2, 'monitor', null, 10, 7, 13, null],
        ],
      ],
      [
        { pane: 'mr' },
        [
          [T0, 0, 'baseline', null, null, null, null, null],
          [T0 + 1000, 1, 'monitor', 2.5, 1.128, 0, 3.686, null],
          [T0 + 2000, 2, 'monitor', 4, 1.128, 0, 3.686, 'N1'],
        ],
      ],
    ])
    const [events] = await influxql(
      influxd.url,
      db,
      `SELECT "characteristic", "type", "detail" FROM "event"`,
    )
    expect(events?.values.sort()).toEqual([
      [T0 + 1000, 'line1.diameter', 'deviation', '{"rule":"N1"}'],
      [T0 + 1000, 'line1.diameter', 'nc-opened', '{"id":7}'],
    ])
  })

  test('escaping: spaces, commas, =, quotes, backslashes and unicode in tags and fields survive; queries cannot be injected', async () => {
    const { store, config } = await newStore(influxd.url, { batchSize: 5000 })
    await store.start()
    const ids = [
      'a b',
      'a,b',
      'a=b',
      "it's",
      'say "hi"',
      'back\\slash',
      '\\leading',
      'x\\ y',
      "q\\'uote",
      'mixed \\, = "\' é☃😀',
      '°C Ø 温度',
    ]
    // And random ones (a fixed seed, so a failure can be replayed).
    const random = fc
      .sample(
        fc.string({
          unit: fc.oneof(fc.constantFrom(...specials), fc.constantFrom('b', 'c')),
          minLength: 1,
          maxLength: 10,
        }),
        {
          seed: 42,
          numRuns: 200,
        },
      )
      .filter(representable)
    const all = [...new Set([...ids, ...random])]
    all.forEach((id, k) => {
      store.write({ kind: 'reading', characteristic: id, ts: T0 + k, value: k })
      store.write({
        kind: 'event',
        characteristic: id,
        ts: T0 + k,
        type: `t ${id}`,
        detail: `{"v":"${id}\n"}`,
      })
    })
    store.write({ kind: 'reading', characteristic: 'victim', ts: T0, value: -1 })
    const oddPanes: ChartPoint = {
      index: 3,
      ts: T0,
      phase: 'monitor',
      n: 1,
      panes: {
        'pane, with = "odd" \\ name': {
          statistic: 1e-7,
          center: 1e21,
          lcl: -0.5,
          ucl: null,
          sigma: 2.5e-8,
        },
        toString: {
          statistic: Number.MAX_VALUE,
          center: null,
          lcl: Number.MIN_VALUE,
          ucl: 3,
          sigma: null,
        },
      },
      violations: [{ rule: 'N1', pane: 'toString', indices: [3] }],
    }
    store.write({ kind: 'chart', characteristic: 'mixed \\, = "\' é☃😀', point: oddPanes })
    await store.flush()
    expect(store.status()).toMatchObject({ written: all.length * 2 + 2, rejected: 0 })
    expect(
      await store.chartPoints({
        characteristic: 'mixed \\, = "\' é☃😀',
        from: T0,
        to: T0,
        limit: 5,
      }),
    ).toEqual([{ index: 3, ts: T0, phase: 'monitor', n: 1, panes: oddPanes.panes, rules: ['N1'] }])

    const [tagValues] = await influxql(
      influxd.url,
      config.database,
      `SHOW TAG VALUES FROM "reading" WITH KEY = "characteristic"`,
    )
    expect(new Set(tagValues?.values.map((v) => v[1]))).toEqual(new Set([...all, 'victim']))
    const range = { from: T0, to: T0 + 10_000, limit: 10 }
    for (const [k, id] of all.entries()) {
      expect(await store.readings({ characteristic: id, ...range })).toEqual([
        { ts: T0 + k, value: k },
      ])
      expect(await store.events({ characteristic: id, ...range })).toEqual([
        { ts: T0 + k, characteristic: id, type: `t ${id}`, detail: `{"v":"${id}\n"}` },
      ])
    }
    for (const attack of [
      `x' OR "characteristic" = 'victim`,
      `x\\' OR "characteristic" = 'victim`,
      "x'; DROP DATABASE x; '",
    ]) {
      expect(await store.readings({ characteristic: attack, ...range })).toEqual([])
    }
    expect(await store.readings({ characteristic: 'victim', ...range })).toEqual([
      { ts: T0, value: -1 },
    ])
  })

  test('outage: influxd stopped mid-stream → unhealthy, spooled; restarted → every record arrives exactly once', async () => {
    const { store, config } = await newStore(influxd.url)
    await store.start()
    const total = 20_000
    let sent = 0
    const writeSome = async (n: number) => {
      for (const end = sent + n; sent < end; sent++) {
        store.write(reading('line1.outage', sent))
        if (sent % 250 === 0) await new Promise((r) => setImmediate(r)) // a stream, not one burst
      }
    }
    await writeSome(6000)
    await waitFor('some records written', () => store.status().written > 0, { timeoutMs: 10_000 })

    await influxd.stop() // mid-stream: a batch may be in flight
    await writeSome(6000)
    const down = await waitFor(
      'the store to notice the outage',
      () => {
        const s = store.status()
        return !s.healthy && s.spooled > 0 && s
      },
      { timeoutMs: 10_000 },
    )
    expect(down.lastError).toBeTruthy()
    await writeSome(total - sent)
    await store.flush() // everything written is stored or spooled
    const spooled = store.status()
    expect(spooled).toMatchObject({ healthy: false, pending: 0 })
    expect(spooled.spooled).toBeGreaterThan(0)

    await influxd.restart()
    const up = await waitFor(
      'the spool to drain',
      () => {
        const s = store.status()
        return s.healthy && s.spooled === 0 && s.pending === 0 && s.written >= total && s
      },
      { timeoutMs: 20_000 },
    )
    expect(up.rejected).toBe(0)
    expect(up.dropped).toBe(0)
    // At least once on the wire (a batch whose answer was lost to the kill is sent again, and
    // InfluxDB overwrites the identical points), exactly once in the database:
    expect(up.written).toBeLessThanOrEqual(total + config.batchSize)
    expect(await countReadings(influxd.url, config.database)).toBe(total)
    const [sum] = await influxql(influxd.url, config.database, 'SELECT SUM("value") FROM "reading"')
    expect(sum?.values[0]?.[1]).toBe((total * (total - 1)) / 2)
  })

  test('a store stopped during an outage leaves its spool; a new store on the same spoolDir delivers it', async () => {
    const first = await newStore(influxd.url)
    await first.store.start()
    for (let i = 0; i < 3000; i++) first.store.write(reading('line1.handover', i))
    await first.store.flush()
    expect(first.store.status(), first.logs.text()).toMatchObject({ written: 3000 })

    await influxd.stop()
    for (let i = 3000; i < 5000; i++) first.store.write(reading('line1.handover', i))
    await first.store.stop()
    expect(first.store.status()).toMatchObject({
      healthy: false,
      spooled: 2000,
      pending: 0,
      written: 3000,
    })
    expect(first.logs.text()).toContain('records left in the spool for the next start')

    const second = await newStore(
      influxd.url,
      { database: first.config.database },
      { spoolDir: first.spoolDir },
    )
    await second.store.start() // influxd still down: starts unhealthy with the spool
    expect(second.store.status()).toMatchObject({ healthy: false, spooled: 2000 })
    await influxd.restart()
    await waitFor(
      'the second store to deliver the spool',
      () => second.store.status().spooled === 0,
      {
        timeoutMs: 20_000,
      },
    )
    expect(second.store.status()).toMatchObject({ healthy: true, written: 2000 })
    expect(await countReadings(influxd.url, first.config.database)).toBe(5000)
    await second.store.stop()
    expect((await readdir(first.spoolDir)).filter((n) => n.endsWith('.seg'))).toEqual([])
  })

  test('start with influxd down: start() resolves, the store buffers, and delivers when influxd comes up', async () => {
    await influxd.stop()
    const { store, config } = await newStore(influxd.url)
    await store.start()
    expect(store.status()).toMatchObject({ healthy: false })
    for (let i = 0; i < 1200; i++) store.write(reading('line1.late', i))
    await store.flush()
    expect(store.status()).toMatchObject({ healthy: false, spooled: 1200, pending: 0 })
    await influxd.restart()
    // CREATE DATABASE could not run at start: it runs before the first delivery.
    await waitFor('delivery after influxd came up', () => store.status().written === 1200, {
      timeoutMs: 20_000,
    })
    expect(store.status()).toMatchObject({ healthy: true, spooled: 0 })
    expect(await countReadings(influxd.url, config.database)).toBe(1200)
  })

  test('whenDurable with influxd down: each callback fires once the spool files hold every record written before it, at once rather than at the interval, with many messages per write', async () => {
    await influxd.stop()
    const { store, spoolDir } = await newStore(influxd.url, {
      flushIntervalMs: 60_000, // the interval never cuts here: the callbacks do
      batchSize: 1_000_000,
    })
    await store.start()
    const onDisk = () =>
      sum(readSpoolFiles(spoolDir).map((f) => sum(f.entries.map((e) => e.records))))

    let written = 0
    const seen: number[] = []
    const expected: number[] = []
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 37 * (round + 1); k++) store.write(reading('line1.ack-down', written++))
      expected.push(written)
      store.whenDurable(() => seen.push(onDisk())) // what the files hold when it fires
      await waitFor(`round ${round} acknowledged`, () => seen.length === round + 1, {
        timeoutMs: 10_000,
      })
    }
    expect(seen).toEqual(expected)

    // Group commit: bursts of messages, one record and one callback each. A batch is only cut
    // between bursts (a burst runs without yielding), so no burst is split over two writes.
    const entriesBefore = sum(readSpoolFiles(spoolDir).map((f) => f.entries.length))
    const bursts = 6
    const perBurst = 50
    const acked: { message: number; onDisk: number }[] = []
    for (let b = 0; b < bursts; b++) {
      for (let k = 0; k < perBurst; k++) {
        store.write(reading('line1.ack-down', written++))
        const message = b * perBurst + k
        const mustHold = written
        store.whenDurable(() => {
          const held = onDisk()
          acked.push({ message, onDisk: held >= mustHold ? mustHold : held })
        })
      }
      await new Promise((r) => setImmediate(r))
    }
    await waitFor('every message acknowledged', () => acked.length === bursts * perBurst, {
      timeoutMs: 10_000,
    })
    const firstOfBurst = expected.at(-1) ?? 0
    expect(acked).toEqual(
      Array.from({ length: bursts * perBurst }, (_, m) => ({
        message: m,
        onDisk: firstOfBurst + m + 1,
      })),
    )
    const writes = sum(readSpoolFiles(spoolDir).map((f) => f.entries.length)) - entriesBefore
    expect(writes).toBeGreaterThan(0)
    expect(writes).toBeLessThanOrEqual(bursts)
    expect(store.status()).toMatchObject({
      healthy: false,
      written: 0,
      spooled: written,
      waiting: 0,
    })

    // And they arrive once influxd is back.
    await influxd.restart()
    await waitFor('the spool to drain', () => store.status().written === written, {
      timeoutMs: 20_000,
    })
  })

  test('whenDurable with influxd up: each callback fires once the points are queryable, without waiting for the interval, and nothing goes through the spool', async () => {
    const { store, config, spoolDir } = await newStore(influxd.url, {
      flushIntervalMs: 60_000,
      batchSize: 1_000_000,
    })
    await store.start()
    let written = 0
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 25 * (round + 1); k++) store.write(reading('line1.ack-up', written++))
      let fired = false
      store.whenDurable(() => {
        fired = true
      })
      await waitFor(`round ${round} acknowledged`, () => fired, { timeoutMs: 10_000 })
      // Nothing was written since the callback fired: the count is what it vouched for.
      expect(await countReadings(influxd.url, config.database)).toBe(written)
    }

    // Messages arriving while a write is in flight share the next one.
    const acked: number[] = []
    for (let b = 0; b < 5; b++) {
      for (let k = 0; k < 40; k++) {
        store.write(reading('line1.ack-up', written++))
        const message = b * 40 + k
        store.whenDurable(() => acked.push(message))
      }
      await new Promise((r) => setImmediate(r))
    }
    await waitFor('every message acknowledged', () => acked.length === 200, { timeoutMs: 10_000 })
    expect(acked).toEqual(Array.from({ length: 200 }, (_, m) => m))
    expect(await countReadings(influxd.url, config.database)).toBe(written)
    expect(store.status()).toMatchObject({ healthy: true, written, spooled: 0, waiting: 0 })
    expect(readSpoolFiles(spoolDir).flatMap((f) => f.entries)).toEqual([])

    // With nothing pending, a callback still fires.
    let idle = false
    store.whenDurable(() => {
      idle = true
    })
    await waitFor('the idle callback', () => idle, { timeoutMs: 5000 })
  })

  test('whenDurable while a write hangs (the network to influxd stalls): the acknowledgements come from the spool within seconds, not at the request timeout, and nothing arrives twice', async () => {
    const proxy = await stallingProxy(influxd.port)
    cleanups.push(proxy.close)
    const { store, config } = await newStore(proxy.url, {}, { timeoutMs: 30_000 })
    await store.start()
    proxy.stall()
    const acked: number[] = []
    let written = 0
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 30; k++) {
        store.write(reading('line1.stall', written++))
        const message = written - 1
        store.whenDurable(() => acked.push(message))
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    await waitFor('the acknowledgements, from the spool', () => acked.length === written, {
      timeoutMs: 15_000, // well under the request timeout: they did not wait for it
    })
    expect(acked).toEqual(Array.from({ length: written }, (_, m) => m))
    expect(store.status()).toMatchObject({ written: 0, spooled: written, dropped: 0 })

    proxy.resume() // the held request reaches influxd and is answered
    await waitFor('the spool to drain', () => store.status().spooled === 0, {
      timeoutMs: 20_000,
    })
    expect(store.status()).toMatchObject({ healthy: true, written, dropped: 0, lost: 0 })
    expect(await countReadings(influxd.url, config.database)).toBe(written)
  })

  test('spool read errors under the running store: a removed segment and a cut one are skipped and counted as lost, an unreadable one is retried; the store keeps running and delivers the rest', async () => {
    const rejections: unknown[] = []
    const onRejection = (e: unknown) => rejections.push(e)
    process.on('unhandledRejection', onRejection)
    cleanups.push(async () => {
      process.off('unhandledRejection', onRejection)
    })
    await influxd.stop()
    const { store, config, spoolDir, logs } = await newStore(
      influxd.url,
      { flushIntervalMs: 60_000, batchSize: 1_000_000 },
      { spoolSegmentBytes: 1500 },
    )
    await store.start()
    let written = 0
    const writeRound = async () => {
      for (let k = 0; k < 20; k++) store.write(reading('line1.spool-errors', written++))
      await new Promise<void>((r) => store.whenDurable(r))
    }
    for (let round = 0; round < 9; round++) await writeRound() // the last segment not full: still appended to
    const files = readSpoolFiles(spoolDir)
    expect(files.length).toBeGreaterThanOrEqual(5)
    const [first, removed, unreadable, cut, active] = files as [
      (typeof files)[0],
      (typeof files)[0],
      (typeof files)[0],
      (typeof files)[0],
      (typeof files)[0],
    ]
    expect(cut.entries.length).toBeGreaterThanOrEqual(2)
    const later = files.slice(5)
    const all = readingValues(files.flatMap((f) => f.entries))
    expect(all.length).toBe(written)

    // Surgery while the store runs (influxd down, so it is not reading).
    await unlink(join(spoolDir, removed.name))
    await unlink(join(spoolDir, unreadable.name))
    await mkdir(join(spoolDir, unreadable.name)) // open succeeds, read fails (EISDIR)
    const cutEntry = cut.entries[1]!
    await truncate(join(spoolDir, cut.name), cutEntry.start + 5) // into its second entry
    await unlink(join(spoolDir, active.name)) // the segment being appended to

    // Appends after that go to a new file, which exists: they are durable again.
    const before = written
    await writeRound()
    const fresh = readSpoolFiles(spoolDir).filter((f) => f.name > active.name)
    expect(readingValues(fresh.flatMap((f) => f.entries))).toEqual(
      Array.from({ length: written - before }, (_, k) => before + k),
    )

    await influxd.restart()
    const lostFirst = removed.entries.concat(active.entries)
    const stuck = await waitFor(
      'the first segment delivered and the unreadable one retried',
      () => {
        const s = store.status()
        return s.written === sum(first.entries.map((e) => e.records)) && s.spoolErrors >= 2 && s
      },
      { timeoutMs: 20_000 },
    )
    expect(stuck.lost).toBe(sum(lostFirst.map((e) => e.records)))
    expect(stuck.spooled).toBeGreaterThan(0)

    await rmdir(join(spoolDir, unreadable.name)) // the operator gives up on it: now it is gone
    const lostEntries = [...lostFirst, ...unreadable.entries, ...cut.entries.slice(1)]
    const lost = sum(lostEntries.map((e) => e.records))
    const done = await waitFor(
      'the rest delivered',
      () => {
        const s = store.status()
        return s.spooled === 0 && s.written + s.lost === written && s
      },
      { timeoutMs: 20_000 },
    )
    expect(done).toMatchObject({ healthy: true, lost, written: written - lost, dropped: 0 })
    expect(done.lastError).toMatch(new RegExp(`${lost} spooled records lost`))
    const kept = readingValues([
      ...first.entries,
      cut.entries[0]!,
      ...later.flatMap((f) => f.entries),
      ...fresh.flatMap((f) => f.entries),
    ])
    expect(kept.length).toBe(written - lost)
    expect(await countReadings(influxd.url, config.database)).toBe(kept.length)
    const [total] = await influxql(
      influxd.url,
      config.database,
      'SELECT SUM("value") FROM "reading"',
    )
    expect(total?.values[0]?.[1]).toBe(sum(kept))
    expect(rejections).toEqual([])
    const errors = logs
      .entries()
      .filter((e) => e.level === 50)
      .map((e) => e.msg)
    for (const what of [
      /gone .*appends go to a new segment/,
      /gone/,
      /cut short/,
      /cannot be read/,
    ]) {
      expect(errors.some((m) => what.test(m))).toBe(true)
    }
  })

  test('while influxd is down the retry backoff stops growing at 5 s (probing /ping), so delivery resumes within seconds of its return', async () => {
    await influxd.stop()
    const { store, config } = await newStore(influxd.url, {}, { retry: 'default' })
    await store.start()
    for (let i = 0; i < 100; i++) store.write(reading('line1.backoff', i))
    await store.flush()
    // Attempts at about 0, 1, 3 and 7 s: after the fourth, an uncapped doubling would wait 8 s.
    const down = await waitFor(
      'four failed attempts',
      () => {
        const s = store.status()
        return s.failures >= 4 && s.nextRetryInMs !== undefined && s
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    )
    expect(down).toMatchObject({ healthy: false, spooled: 100, written: 0 })
    expect(down.nextRetryInMs).toBeLessThanOrEqual(5000)

    await influxd.restart()
    const up = await waitFor(
      'delivery after influxd came back',
      () => {
        const s = store.status()
        return s.written === 100 && s
      },
      { timeoutMs: 20_000 },
    )
    expect(up).toMatchObject({ healthy: true, spooled: 0, failures: 0, nextRetryInMs: undefined })
    expect(await countReadings(influxd.url, config.database)).toBe(100)
  })

  test('a 400 (field type conflict) is kept as rejected, not retried, and does not block later batches', async () => {
    const { store, config, spoolDir, logs } = await newStore(influxd.url)
    await store.start()
    // Another writer made `value` a string in this shard (2001): our float there is refused.
    const old = Date.UTC(2001, 0, 1)
    expect(
      (
        await rawWrite(
          influxd.url,
          config.database,
          `reading,characteristic=other value="text" ${old}`,
        )
      ).status,
    ).toBe(204)
    store.write({ kind: 'reading', characteristic: 'line1.conflict', ts: old + 1, value: 1.5 })
    // A refused record is dealt with (kept aside): the acknowledgement waiting on it is released.
    let released: { rejected: number } | undefined
    store.whenDurable(() => {
      released = store.status()
    })
    await waitFor('the callback of the refused batch', () => released, { timeoutMs: 10_000 })
    expect(released).toMatchObject({ rejected: 1, written: 0 })
    await store.flush()
    for (let i = 0; i < 100; i++) store.write(reading('line1.good', i))
    await store.flush()

    const status = store.status()
    expect(status).toMatchObject({
      healthy: true,
      rejected: 1,
      written: 100,
      spooled: 0,
      dropped: 0,
    })
    expect(status.lastError).toMatch(/rejected 1 records: HTTP 400: .*field type conflict/)
    const kept = await readFile(join(spoolDir, 'rejected.lp'), 'utf8')
    expect(kept).toMatch(/^# \S+ HTTP 400: partial write: field type conflict.*\(1 records\)\n/)
    expect(kept).toContain(`reading,characteristic=line1.conflict value=1.5 ${old + 1}\n`)
    const error = logs.entries().find((e) => e.msg === 'InfluxDB rejected a batch (not retried)')
    expect(error).toMatchObject({ level: 50, status: 400, records: 1 })
    // Not retried: still one rejection a while later.
    await new Promise((r) => setTimeout(r, 300))
    expect(store.status().rejected).toBe(1)
    const [counts] = await influxql(
      influxd.url,
      config.database,
      `SELECT COUNT("value") FROM "reading" WHERE time > '2020-01-01T00:00:00Z' GROUP BY "characteristic"`,
    )
    expect(counts?.tags).toEqual({ characteristic: 'line1.good' })
    expect(counts?.values[0]?.[1]).toBe(100)
  })

  test('a missing retention policy is a configuration problem: retried with the data kept, delivered once it exists', async () => {
    const { store, config } = await newStore(influxd.url, { retentionPolicy: 'quality "rp"' })
    await store.start()
    for (let i = 0; i < 10; i++) store.write(reading('line1.rp', i))
    await store.flush()
    await waitFor('the store to give up on the write', () => !store.status().healthy, {
      timeoutMs: 5000,
    })
    expect(store.status()).toMatchObject({ spooled: 10, rejected: 0 })
    expect(store.status().lastError).toMatch(/HTTP 500: retention policy not found/)

    const db = config.database
    await influxql(
      influxd.url,
      db,
      `CREATE RETENTION POLICY "quality \\"rp\\"" ON "${db}" DURATION INF REPLICATION 1`,
    )
    await waitFor('delivery into the retention policy', () => store.status().written === 10, {
      timeoutMs: 10_000,
    })
    expect(store.status()).toMatchObject({ healthy: true, spooled: 0 })
    const range = { characteristic: 'line1.rp', from: T0, to: T0 + 100, limit: 3 }
    expect((await store.readings(range)).map((r) => r.value)).toEqual([7, 8, 9])
    const [rp] = await influxql(
      influxd.url,
      db,
      `SELECT COUNT("value") FROM "${db}"."quality \\"rp\\""."reading"`,
    )
    expect(rp?.values[0]?.[1]).toBe(10)
    expect(await countReadings(influxd.url, db)).toBe(0) // nothing in the default policy
  })

  test('the spool full: records are dropped with an error, counted in status, never silently', async () => {
    // Nothing listens on this port: an outage from the start.
    const { store, logs } = await newStore(`http://127.0.0.1:${await freePort()}`, {
      batchSize: 100,
      maxSpoolBytes: 20_000,
    })
    await store.start()
    for (let i = 0; i < 2000; i++) store.write(reading('line1.full', i))
    await store.flush()
    const status = store.status()
    expect(status.healthy).toBe(false)
    expect(status.spooled).toBeGreaterThan(0)
    expect(status.dropped).toBeGreaterThan(0)
    expect(status.spooled + status.dropped).toBe(2000)
    expect(status.lastError).toMatch(/records dropped: the spool is full \(maxSpoolBytes 20000\)/)
    expect(logs.entries().some((e) => e.level === 50 && e.msg.startsWith('records dropped'))).toBe(
      true,
    )
  })

  test('a token comes from the named environment variable and is never logged; a missing one is LW_ERR_SECRET_MISSING', async () => {
    const missing = await newStore(influxd.url, { tokenEnv: 'LW_TEST_INFLUX_TOKEN' }, { env: {} })
    const error = await missing.store.start().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LinewatchError)
    expect(error).toMatchObject({
      code: 'LW_ERR_SECRET_MISSING',
      message: expect.stringContaining('LW_TEST_INFLUX_TOKEN'),
    })

    const secret = 'sup3r-s3cret-t0ken'
    const withToken = await newStore(
      influxd.url,
      { tokenEnv: 'LW_TEST_INFLUX_TOKEN' },
      { env: { LW_TEST_INFLUX_TOKEN: secret } },
    )
    await withToken.store.start() // influxd here runs without auth: the header is ignored
    withToken.store.write(reading('line1.token', 0))
    await withToken.store.stop() // stop flushes
    expect(withToken.store.status()).toMatchObject({ written: 1, pending: 0, spooled: 0 })
    expect(withToken.logs.text()).not.toContain(secret)
    expect((await stat(withToken.spoolDir)).isDirectory()).toBe(true)
  })
})
