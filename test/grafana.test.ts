import { existsSync, readFileSync } from 'node:fs'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfigFile } from '../gateway/config/index.ts'
import type { NonconformanceSummary } from '../gateway/contract.ts'
import { encodeRecord } from '../gateway/store/line-protocol.ts'
import type { SeriesRecord } from '../gateway/store/types.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { type RunningInfluxd, startInfluxd } from './helpers/influxd.ts'

/**
 * The Grafana that docker-compose.yml ships: its provisioned InfluxDB data source and its
 * dashboard. Every query of the dashboard (panels, annotations, variables) names measurements,
 * fields and tags the gateway writes: the names are taken from the gateway's own line-protocol
 * encoder, by encoding records that carry every field, not from a list written here. Then the
 * queries run, Grafana's macros filled in as Grafana does, against a real InfluxDB the gateway
 * wrote to.
 */

const PROVISIONING = 'docker/grafana/provisioning'
const DASHBOARD = `${PROVISIONING}/dashboards/linewatch.json`
const DATASOURCE = `${PROVISIONING}/datasources/influxdb.yaml`

interface Measurement {
  tags: Set<string>
  fields: Set<string>
}

/** Splits on `sep` outside double quotes and backslash escapes. */
function splitOutside(text: string, sep: string): string[] {
  const parts: string[] = []
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (c === sep && !quoted) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** Measurements with their tag and field keys, read from line protocol. */
function schemaOf(lines: string[]): Map<string, Measurement> {
  const out = new Map<string, Measurement>()
  for (const line of lines) {
    const [series, fields, ts] = splitOutside(line, ' ') as [string, string, string]
    expect(ts, line).toMatch(/^\d+$/)
    const [name, ...tags] = splitOutside(series, ',') as [string, ...string[]]
    const m = out.get(name) ?? { tags: new Set(), fields: new Set() }
    out.set(name, m)
    for (const tag of tags) m.tags.add(tag.split('=')[0] as string)
    for (const field of splitOutside(fields, ',')) m.fields.add(field.split('=')[0] as string)
  }
  return out
}

/** What the gateway writes: records of every kind, with every optional field present. */
function written(): Map<string, Measurement> {
  const records: SeriesRecord[] = [
    {
      kind: 'reading',
      characteristic: 'fill',
      ts: 1_700_000_000_000,
      value: 500.1,
      seq: 1,
      size: 5,
      key: 'lot-1',
      received: 1_700_000_000_001,
    },
    {
      kind: 'chart',
      characteristic: 'fill',
      point: {
        index: 7,
        ts: 1_700_000_000_000,
        n: 5,
        phase: 'monitor',
        panes: {
          xbar: { statistic: 500.2, center: 500, sigma: 0.1, lcl: 499.7, ucl: 500.3 },
          cusum: { statistic: 4.2, center: 0, sigma: 1, lcl: -4, ucl: 4, upper: 4.2, lower: 0 },
        },
        violations: [
          { rule: 'N1', pane: 'xbar', indices: [7] },
          { rule: 'cusum-upper', pane: 'cusum', indices: [7], since: 3 },
        ],
      },
    },
    {
      kind: 'event',
      characteristic: 'fill',
      ts: 1_700_000_000_000,
      type: 'deviation',
      detail: '{"cause":"HH","value":510}',
    },
  ] as SeriesRecord[]
  const lines: string[] = []
  for (const record of records) encodeRecord(record, lines)
  return schemaOf(lines)
}

/** Every string under a key `query` in the dashboard: panel targets, annotations, variables. */
function queriesOf(node: unknown, at = ''): { at: string; query: string }[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => queriesOf(n, `${at}[${i}]`))
  if (!node || typeof node !== 'object') return []
  return Object.entries(node).flatMap(([k, v]) =>
    k === 'query' && typeof v === 'string'
      ? [{ at: `${at}.${k}`, query: v }]
      : queriesOf(v, `${at}.${k}`),
  )
}

/** The double-quoted identifiers of an InfluxQL clause, aliases (`AS "…"`) left out. */
const identifiers = (clause: string): string[] =>
  [...clause.replace(/\bAS\s+"[^"]*"/gi, '').matchAll(/"([^"]+)"/g)].map((m) => m[1] as string)

/**
 * What an InfluxQL query of the dashboard names: its measurement, the fields and tags it
 * selects, filters and groups by. Problems are returned for the test to show.
 */
function problemsOf(query: string, schema: Map<string, Measurement>): string[] {
  const show = /^SHOW TAG VALUES FROM "([^"]+)" WITH KEY = "([^"]+)"(?: WHERE (.*))?$/.exec(query)
  const select =
    /^SELECT (.+?) FROM "([^"]+)"(?: WHERE (.+?))?(?: GROUP BY (.+?))?(?: ORDER BY .*)?$/.exec(
      query,
    )
  if (!show && !select) return [`not a query this test reads: ${query}`]
  const name = (show ? show[1] : select?.[2]) as string
  const m = schema.get(name)
  if (!m) return [`no measurement "${name}" is written`]
  const problems: string[] = []
  const known = (id: string, what: string, allowed: Set<string>) => {
    if (!allowed.has(id)) problems.push(`${what} "${id}" is not one of ${name}'s`)
  }
  const both = new Set([...m.tags, ...m.fields])
  if (show) {
    known(show[2] as string, 'tag', m.tags)
    for (const id of identifiers(show[3] ?? '')) known(id, 'tag or field', both)
    return problems
  }
  const selected = identifiers(select?.[1] as string)
  if (!selected.some((id) => m.fields.has(id))) problems.push(`selects no field of ${name}`)
  for (const id of selected) known(id, 'field or tag', both)
  for (const id of identifiers(select?.[3] ?? '')) known(id, 'field or tag', both)
  for (const id of identifiers((select?.[4] ?? '').replace(/time\([^)]*\)/g, '')))
    known(id, 'tag', m.tags)
  return problems
}

const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Record<string, unknown>

describe('what the gateway writes to InfluxDB, read from its encoder', () => {
  it('reading, chart and event with their tags and fields', () => {
    const schema = written()
    expect([...schema.keys()].sort()).toEqual(['chart', 'event', 'reading'])
    expect(schema.get('reading')).toEqual({
      tags: new Set(['characteristic']),
      fields: new Set(['value']),
    })
    expect(schema.get('chart')?.tags).toEqual(new Set(['characteristic', 'pane']))
    expect(schema.get('chart')?.fields).toEqual(
      new Set([
        'center',
        'index',
        'lcl',
        'lower',
        'n',
        'phase',
        'rules',
        'sigma',
        'statistic',
        'ucl',
        'upper',
      ]),
    )
    expect(schema.get('event')).toEqual({
      tags: new Set(['characteristic', 'type']),
      fields: new Set(['detail']),
    })
  })
})

describe('the Grafana dashboard (docker/grafana)', () => {
  it('names in every query a measurement and fields the gateway writes', () => {
    const schema = written()
    const queries = queriesOf(dashboard())
    // 7 panels (one with two queries), 3 annotations, 2 variables.
    expect(queries.length).toBeGreaterThanOrEqual(12)
    const problems = queries.flatMap(({ at, query }) =>
      problemsOf(query, schema).map((p) => `${at}: ${p}`),
    )
    expect(problems).toEqual([])
    // Together they show every field the gateway writes.
    const used = new Set(queries.flatMap(({ query }) => identifiers(query)))
    for (const [name, m] of schema)
      for (const field of m.fields) expect(used.has(field), `${name}.${field}`).toBe(true)
  })

  it('a reader that knows InfluxQL refuses what the gateway does not write', () => {
    const schema = written()
    expect(problemsOf('SELECT mean("value") FROM "readings" WHERE $timeFilter', schema)).toEqual([
      'no measurement "readings" is written',
    ])
    expect(problemsOf('SELECT last("stat") AS "s" FROM "chart"', schema)).toEqual([
      'selects no field of chart',
      `field or tag "stat" is not one of chart's`,
    ])
    expect(problemsOf('SELECT "value" FROM "reading" GROUP BY time(1m), "value"', schema)).toEqual([
      `tag "value" is not one of reading's`,
    ])
    expect(problemsOf('SHOW TAG VALUES FROM "chart" WITH KEY = "phase"', schema)).toEqual([
      `tag "phase" is not one of chart's`,
    ])
  })

  it('uses only the provisioned data source and defines the variables its queries use', () => {
    const source = parse(readFileSync(DATASOURCE, 'utf8')) as {
      datasources: { uid: string; type: string }[]
    }
    const uids = new Set(source.datasources.map((d) => d.uid))
    const refs: { type: string; uid: string }[] = []
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk)
      else if (node && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) {
          if (k === 'datasource' && v && typeof v === 'object') refs.push(v as never)
          else walk(v)
        }
    }
    const d = dashboard()
    walk(d)
    expect(refs.length).toBeGreaterThan(10)
    for (const ref of refs)
      expect(ref.type === 'grafana' || (ref.type === 'influxdb' && uids.has(ref.uid))).toBe(true)
    const variables = new Set(
      (d.templating as { list: { name: string }[] }).list.map((v) => v.name),
    )
    const builtIn = new Set(['timeFilter', '__interval', 'col'])
    for (const { query } of queriesOf(d))
      for (const [, name] of query.matchAll(/\$(\w+)/g))
        expect(variables.has(name as string) || builtIn.has(name as string), name).toBe(true)
  })
})

describe('docker-compose.yml: Grafana', () => {
  it('provisions the data source and the dashboard from docker/grafana, against the InfluxDB the gateway writes to', async () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<
        string,
        { image?: string; volumes?: string[]; ports?: string[]; depends_on?: object }
      >
    }
    const grafana = compose.services.grafana
    expect(grafana?.image).toMatch(/^grafana\/grafana(-oss)?:\d+\.\d+\.\d+$/)
    expect(grafana?.ports).toContain('3000:3000')
    expect(Object.keys(grafana?.depends_on ?? {})).toEqual(['influxdb'])
    const mounts = Object.fromEntries(
      (grafana?.volumes ?? []).map((v) => {
        const [from, to] = v.split(':') as [string, string]
        return [to, from]
      }),
    )
    expect(mounts['/etc/grafana/provisioning']).toBe(`./${PROVISIONING}`)

    // The provider reads the dashboards where the mount puts them.
    const providers = parse(readFileSync(`${PROVISIONING}/dashboards/linewatch.yaml`, 'utf8')) as {
      providers: { type: string; options: { path: string } }[]
    }
    const path = providers.providers[0]?.options.path as string
    expect(path.startsWith('/etc/grafana/provisioning/')).toBe(true)
    expect(
      existsSync(
        `${PROVISIONING}/${path.slice('/etc/grafana/provisioning/'.length)}/linewatch.json`,
      ),
    ).toBe(true)

    // The data source is the InfluxDB service and the gateway's database.
    const config = await loadConfigFile('docker/linewatch.yaml')
    const source = (
      parse(readFileSync(DATASOURCE, 'utf8')) as {
        datasources: { type: string; url: string; jsonData: { dbName: string } }[]
      }
    ).datasources[0]
    expect(source?.type).toBe('influxdb')
    expect(source?.url).toBe(config.store.influxdb?.url)
    expect(new URL(source?.url ?? '').hostname).toBe('influxdb')
    expect(Object.keys(compose.services)).toContain('influxdb')
    expect(source?.jsonData.dbName).toBe(config.store.influxdb?.database)
  })
})

describe('the dashboard’s queries against a real InfluxDB the gateway wrote to', () => {
  let influxd: RunningInfluxd
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  const t0 = Date.now() - 120_000

  beforeAll(async () => {
    influxd = await startInfluxd()
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
store:
  timeseries: influxdb
  influxdb: { url: '${influxd.url}', database: linewatch, flushIntervalMs: 50 }
characteristics:
  - { id: dp, name: Differential pressure, path: p/aseptic/cr-b/room-1, unit: Pa, source: { mqtt: { topic: cr/dp } }, limits: { actionLow: 10 }, chart: { baselineCount: 4 } }
  - { id: cs, name: Shifted, path: p/aseptic/cr-b/room-1, source: { mqtt: { topic: cr/cs } }, chart: { type: cusum, given: { center: 10, sigma: 1 } } }
`)
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    const dp = [15.1, 14.8, 15.3, 14.9, 15.0, 8.5]
    for (const [i, value] of dp.entries())
      await mqtt.publishAsync('cr/dp', JSON.stringify({ value, ts: t0 + i * 1000 }), { qos: 1 })
    for (let i = 0; i < 12; i++)
      await mqtt.publishAsync('cr/cs', JSON.stringify({ value: 12, ts: t0 + i * 1000 }), {
        qos: 1,
      })
    await mqtt.endAsync()
    await waitFor('the NC', async () => {
      const ncs = (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body
      return ncs.length === 1
    })
    await waitFor('InfluxDB to hold the NC event', async () => {
      const rows = await influxql(`SELECT "detail" FROM "event" WHERE "type" = 'nc-opened'`)
      return rows.series.length > 0
    })
  }, 60_000)
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
    await influxd?.remove()
  })

  async function influxql(
    q: string,
  ): Promise<{ error?: string; series: { name: string; values: unknown[][] }[] }> {
    const res = await fetch(`${influxd.url}/query?db=linewatch&epoch=ms&q=${encodeURIComponent(q)}`)
    const body = (await res.json()) as {
      error?: string
      results: { error?: string; series?: { name: string; values: unknown[][] }[] }[]
    }
    const r = body.results?.[0]
    return { error: body.error ?? r?.error, series: r?.series ?? [] }
  }

  /** Grafana's macros and variables, filled in as Grafana fills them for InfluxQL. */
  const fill = (query: string, characteristic: string, pane: string) =>
    query
      .replaceAll('$timeFilter', `time >= ${t0 - 60_000}ms and time <= ${Date.now() + 60_000}ms`)
      .replaceAll('$__interval', '1s')
      .replaceAll('$characteristic', characteristic)
      .replaceAll('$pane', pane)

  it('every query runs, and each panel and annotation shows data', async () => {
    const d = dashboard()
    const panels = d.panels as { title: string; targets: { query: string }[] }[]
    const annotations = (d.annotations as { list: { name: string; query?: string }[] }).list
    const variables = (d.templating as { list: { name: string; query: string }[] }).list
    const shown: Record<string, number> = {}
    const run = async (what: string, query: string) => {
      let rows = 0
      for (const [c, pane] of [
        ['dp', 'i'],
        ['cs', 'cusum'],
      ] as const) {
        const result = await influxql(fill(query, c, pane))
        expect(result.error, `${what}: ${query}`).toBeUndefined()
        rows += result.series.reduce((n, s) => n + s.values.length, 0)
      }
      shown[what] = rows
    }
    for (const p of panels) for (const t of p.targets) await run(`panel ${p.title}`, t.query)
    for (const a of annotations) if (a.query) await run(`annotation ${a.name}`, a.query)
    for (const v of variables) await run(`variable ${v.name}`, v.query)
    const empty = Object.entries(shown)
      .filter(([, rows]) => rows === 0)
      .map(([what]) => what)
    expect(empty).toEqual([])
    // The variable lists the characteristics; the rule table has dp's N1 and cs's CUSUM signal.
    const ids = await influxql(fill(variables[0]?.query as string, '', ''))
    expect(ids.series[0]?.values.map((v) => v[1])).toEqual(['cs', 'dp'])
  })
})
