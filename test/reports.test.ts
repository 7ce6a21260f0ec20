import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlarmKpisReport,
  CapabilityReport,
  CapaStatusReport,
  NcParetoReport,
  NonconformanceSummary,
  QualityEvent,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'

/**
 * The reports in a running gateway (issue 11): readings of three characteristics with
 * specification limits go in over MQTT (one of them signals), then each report is asked for as
 * JSON, CSV and PDF; the PDF is read back with pdftotext and its figures checked against the
 * JSON, and the capability figures against Cp and Cpk computed here from the readings sent.
 * The daily report, configured at 00:00 UTC, is written at start (the run of today was missed)
 * and announced to a real webhook receiver.
 *
 * Constants from the printed tables: d2(2) = 2/√π = 1.128379, d2(5) = 2.325929,
 * D4-style MR limit for n = 2: (d2 + 3d3)σ = 3.686σ.
 */

const SECRET = 'report webhook secret'
const D2_2 = 2 / Math.sqrt(Math.PI)
const D2_5 = 2.325929
const MR_UCL_FACTOR = 3.686

/** A deterministic wobble in [−1, 1]. */
const wobble = (k: number) => Math.sin(k * 2.3) * 0.7 + Math.cos(k * 1.1) * 0.3

const FILL = Array.from({ length: 30 }, (_, k) => (k === 15 ? 509 : 500 + 0.6 * wobble(k)))
const TORQUE = Array.from({ length: 30 }, (_, k) => 20 + 0.3 * wobble(k + 7))
const DIAMETER = Array.from({ length: 40 }, (_, k) => 25 + 0.005 * wobble(k + 3))

function individuals(values: number[], lsl: number, usl: number) {
  const n = values.length
  const mean = values.reduce((s, x) => s + x, 0) / n
  let mr = 0
  for (let i = 1; i < n; i++) mr += Math.abs((values[i] as number) - (values[i - 1] as number))
  const sw = mr / (n - 1) / D2_2
  return indices(values, mean, sw, lsl, usl)
}

function subgroupsOf5(values: number[], lsl: number, usl: number) {
  const mean = values.reduce((s, x) => s + x, 0) / values.length
  let sumR = 0
  for (let k = 0; k < values.length; k += 5) {
    const g = values.slice(k, k + 5)
    sumR += Math.max(...g) - Math.min(...g)
  }
  const sw = sumR / (values.length / 5) / D2_5
  return indices(values, mean, sw, lsl, usl)
}

function indices(values: number[], mean: number, sw: number, lsl: number, usl: number) {
  const n = values.length
  const so = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1))
  return {
    n,
    mean,
    cp: (usl - lsl) / (6 * sw),
    cpk: Math.min(usl - mean, mean - lsl) / (3 * sw),
    pp: (usl - lsl) / (6 * so),
    ppk: Math.min(usl - mean, mean - lsl) / (3 * so),
  }
}

const ratio = (a: number | null | undefined, b: number) => (a as number) / b

describe('reports in the gateway', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient
  let receiver: Server
  let pdftotext: string
  const hooks: { headers: IncomingMessage['headers']; body: string }[] = []
  const T0 = Date.now() - 20 * 60_000
  let range = ''
  let work: { path: string; remove(): Promise<void> }

  async function fetchReport(path: string, token: string | null = TOKENS.viewer) {
    const res = await fetch(`${gw.gateway.urls.http}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) }
  }
  async function json<T>(path: string, token: string = TOKENS.viewer): Promise<T> {
    const res = await fetchReport(path, token)
    expect(res.status, res.bytes.toString()).toBe(200)
    return JSON.parse(res.bytes.toString()) as T
  }
  /** The PDF's text as pdftotext reads it (content order), whitespace folded to single spaces. */
  async function pdfText(path: string, token: string = TOKENS.viewer): Promise<string> {
    const res = await fetchReport(path, token)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.bytes.subarray(0, 5).toString()).toBe('%PDF-')
    const file = join(work.path, `report-${Date.now()}-${Math.random()}.pdf`)
    writeFileSync(file, res.bytes)
    return execFileSync(pdftotext, ['-raw', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })
      .replace(/\s+/g, ' ')
      .trim()
  }
  /** The CSV's table titled `title`: its rows as objects by header. */
  async function csvTable(path: string, title: string, token: string = TOKENS.viewer) {
    const res = await fetchReport(path, token)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/)
    const lines = res.bytes
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .split('\r\n')
    const at = lines.indexOf(title)
    expect(at, `a table "${title}" in the CSV`).toBeGreaterThan(0)
    const header = (lines[at + 1] as string).split(',')
    const rows: Record<string, string>[] = []
    for (let i = at + 2; i < lines.length && lines[i] !== ''; i++) {
      const cells = (lines[i] as string).split(',')
      rows.push(Object.fromEntries(header.map((h, k) => [h, cells[k] ?? ''])))
    }
    return rows
  }

  beforeAll(async () => {
    pdftotext = await requireProgram('pdftotext', 'poppler-utils')
    work = await tempDir()
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        hooks.push({ headers: req.headers, body })
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    process.env.LINEWATCH_TEST_REPORT_SECRET = SECRET
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
webhooks:
  - id: reports
    url: http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook
    secretEnv: LINEWATCH_TEST_REPORT_SECRET
    events: [report.daily]
    retry: { initialMs: 50, maxMs: 200 }
reports:
  daily: { at: "00:00", timeZone: UTC, keepDays: 30 }
characteristics:
  - id: fill-weight
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    source: { mqtt: { topic: r/fill } }
    specLimits: { lsl: 490, usl: 510 }
    chart: { type: imr, given: { center: 500, sigma: 1 }, rules: [N1] }
  - id: cap-torque
    name: Cap torque
    path: Plant/Filling/Line 1/Capper
    unit: N·m
    source: { mqtt: { topic: r/torque } }
    specLimits: { lsl: 18, usl: 22 }
    chart: { type: imr, given: { center: 20, sigma: 0.5 }, rules: [N1] }
  - id: bore-diameter
    name: Bore diameter
    path: Plant/Machining/Lathe 2/Spindle
    unit: mm
    source: { mqtt: { topic: r/bore } }
    specLimits: { lsl: 24.95, usl: 25.05 }
    chart: { type: xbar-r, subgroup: { size: 5 }, given: { center: 25, sigma: 0.01 }, rules: [N1] }
  - id: label-defects
    name: Label defectives
    path: Plant/Packing/Line 1/Labeller
    source: { mqtt: { topic: r/labels } }
    chart: { type: p, rules: [N1] }
`)
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    // In order per topic (QoS 1: stored before acknowledged).
    for (const [topic, values] of [
      ['r/fill', FILL],
      ['r/torque', TORQUE],
      ['r/bore', DIAMETER],
    ] as const) {
      for (const [k, value] of values.entries()) {
        await mqtt.publishAsync(
          topic,
          JSON.stringify({ value, ts: new Date(T0 + k * 1000).toISOString() }),
          { qos: 1 },
        )
      }
    }
    // The spike past 3σ opened an NC (N1).
    await waitFor('the NC of the spike', async () => {
      const ncs = await gw.get<NonconformanceSummary[]>('/api/nonconformances')
      return ncs.body.length === 1
    })
    range = `from=${T0 - 1000}&to=${Date.now() + 60_000}`
  })

  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
    await work?.remove()
    await new Promise((resolve) => receiver?.close(resolve))
    delete process.env.LINEWATCH_TEST_REPORT_SECRET
  })

  it('capability: Cp, Cpk, Pp, Ppk from the readings sent, with bounds, verdicts and PPM', async () => {
    const report = await json<CapabilityReport>(`/api/reports/capability?${range}`)
    expect(report.kind).toBe('capability')
    expect(report.rows.map((r) => r.id)).toEqual(['fill-weight', 'cap-torque', 'bore-diameter'])
    expect(report.skipped).toEqual([
      {
        id: 'label-defects',
        name: 'Label defectives',
        reason: 'an attributes chart (p): capability needs measured values',
      },
    ])
    const expected = {
      'fill-weight': individuals(FILL, 490, 510),
      'cap-torque': individuals(TORQUE, 18, 22),
      'bore-diameter': subgroupsOf5(DIAMETER, 24.95, 25.05),
    }
    for (const row of report.rows) {
      const want = expected[row.id as keyof typeof expected]
      const c = row.capability
      expect(row.n).toBe(want.n)
      expect(ratio(c?.mean, want.mean)).toBeCloseTo(1, 12)
      expect(ratio(c?.cp, want.cp)).toBeCloseTo(1, 6)
      expect(ratio(c?.cpk, want.cpk)).toBeCloseTo(1, 6)
      expect(ratio(c?.pp, want.pp)).toBeCloseTo(1, 9)
      expect(ratio(c?.ppk, want.ppk)).toBeCloseTo(1, 9)
      expect(c?.cpLower95).toBeLessThan(c?.cp as number)
      expect(row.ppkUpper95).toBeGreaterThan(c?.ppk as number)
      expect(c?.observedPpm).toBe(0)
    }
    const [fill, torque, bore] = report.rows
    expect(fill?.sigmaWithinSource).toBe('mr')
    expect(bore?.sigmaWithinSource).toBe('rbar')
    expect(bore?.subgroups).toBe(8)
    // The spike: I beyond 500 ± 3 at 15; the moving ranges into and out of it beyond 3.686.
    const signalling = FILL.filter(
      (x, k) =>
        Math.abs(x - 500) > 3 || (k > 0 && Math.abs(x - (FILL[k - 1] as number)) > MR_UCL_FACTOR),
    ).length
    expect(signalling).toBe(2)
    expect(fill?.signals).toBe(signalling)
    expect(fill?.lastSignal).toMatchObject({ ts: T0 + 16_000, index: 16 })
    expect(fill?.verdict.verdict).toBe('not-in-control')
    expect(fill?.verdict.words).toBe(
      'not in statistical control — capability indices are not a prediction',
    )
    const t = expected['cap-torque']
    expect(torque?.signals).toBe(0)
    expect(torque?.verdict.verdict).toBe(t.cpk >= 1.33 && t.ppk >= 1.33 ? 'capable' : 'not-capable')
    expect(bore?.signals).toBe(0)

    // The PDF says what the JSON says.
    const text = await pdfText(`/api/reports/capability?${range}&format=pdf`)
    expect(text).toContain('Capability summary')
    expect(text).toContain('Label defectives')
    expect(text).toContain('not in statistical control — capability indices are not a prediction')
    for (const row of report.rows) {
      const c = row.capability!
      expect(text).toContain(row.name)
      expect(text).toContain(row.verdict.words)
      expect(text).toContain(`${c.cpLower95!.toFixed(2)}–${c.cpUpper95!.toFixed(2)}`)
      expect(text).toContain(`${c.cpkLower95!.toFixed(2)}–${c.cpkUpper95!.toFixed(2)}`)
      expect(text).toContain(`${row.ppLower95!.toFixed(2)}–${row.ppUpper95!.toFixed(2)}`)
      expect(text).toContain(`${row.ppkLower95!.toFixed(2)}–${row.ppkUpper95!.toFixed(2)}`)
      for (const index of [c.cp, c.cpk, c.pp, c.ppk]) expect(text).toContain(index!.toFixed(2))
      expect(text).toContain(String(Number(c.mean.toPrecision(6))))
    }

    // The CSV has every figure in full precision.
    const csv = await csvTable(
      `/api/reports/capability?${range}&format=csv`,
      'Capability per characteristic',
    )
    expect(csv.map((r) => r.characteristic)).toEqual(report.rows.map((r) => r.id))
    for (const [k, row] of report.rows.entries()) {
      const line = csv[k] as Record<string, string>
      expect(Number(line.cpk)).toBe(row.capability?.cpk)
      expect(Number(line['ppk lower 95%'])).toBe(row.ppkLower95)
      expect(line.verdict).toBe(row.verdict.verdict)
      expect(Number(line.signals)).toBe(row.signals)
    }
  })

  it('capability of one area only', async () => {
    const report = await json<CapabilityReport>(
      `/api/reports/capability?${range}&area=${encodeURIComponent('Plant/Machining')}`,
    )
    expect(report.area).toBe('Plant/Machining')
    expect(report.rows.map((r) => r.id)).toEqual(['bore-diameter'])
  })

  it('NC Pareto by cause and characteristic (quality engineer)', async () => {
    const viewer = await fetchReport(`/api/reports/nc-pareto?${range}`, TOKENS.viewer)
    expect(viewer.status).toBe(403)
    expect(JSON.parse(viewer.bytes.toString()).message).toMatch(/quality-engineer/)
    const report = await json<NcParetoReport>(`/api/reports/nc-pareto?${range}`, TOKENS.engineer)
    expect(report.opened).toBe(1)
    expect(report.byCause).toEqual([{ name: 'N1', count: 1, percent: 100, cumulativePercent: 100 }])
    expect(report.byCharacteristic).toEqual([
      {
        name: 'fill-weight',
        characteristicName: 'Fill weight',
        count: 1,
        percent: 100,
        cumulativePercent: 100,
      },
    ])
    const text = await pdfText(`/api/reports/nc-pareto?${range}&format=pdf`, TOKENS.engineer)
    expect(text).toContain('NCs by cause Cause Count Share Cumulative N1 1 100.0 % 100.0 %')
    expect(text).toContain('Fill weight fill-weight 1 100.0 % 100.0 %')
    expect(text).toContain(`NCs opened in the range ${report.opened}`)
    const rows = await csvTable(
      `/api/reports/nc-pareto?${range}&format=csv`,
      'NCs by characteristic',
      TOKENS.engineer,
    )
    expect(rows).toEqual([
      {
        characteristic: 'fill-weight',
        name: 'Fill weight',
        count: '1',
        percent: '100',
        'cumulative percent': '100',
      },
    ])
  })

  it('alarm KPIs per area (viewer): the PDF shows the JSON’s figures', async () => {
    const report = await json<AlarmKpisReport>(`/api/reports/alarm-kpis?${range}`)
    const busy = report.kpis.areas.filter((a) => a.alarms > 0)
    expect(busy.length).toBeGreaterThan(0)
    const actors = busy.flatMap((a) => a.badActors.map((b) => b.alarm))
    expect(actors).toContain('fill-weight:N1')
    const text = await pdfText(`/api/reports/alarm-kpis?${range}&format=pdf`)
    expect(text).toContain('Alarm-system health (EEMUA 191)')
    for (const a of report.kpis.areas) {
      expect(text).toContain(
        `${a.area} ${a.alarms} ${a.per10Minutes.mean.toFixed(2)} / ${a.per10Minutes.max} ${a.floodPercent.toFixed(1)} %`,
      )
      for (const b of a.badActors) expect(text).toContain(`${b.alarm} ${b.activations}`)
    }
  })

  it('CAPA status: counts per status, overdue, the list (quality engineer)', async () => {
    const opened = await fetch(`${gw.gateway.urls.http}/api/capas`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.engineer}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'Recalibrate the filler scale',
        kind: 'corrective',
        owner: 'qe',
        dueAt: Date.now() + 7 * 86_400_000,
        ncs: ['NC-000001'],
        reason: 'the spike',
      }),
    })
    expect(opened.status).toBe(200)
    const report = await json<CapaStatusReport>(
      `/api/reports/capa-status?${range}`,
      TOKENS.engineer,
    )
    expect(report.byStatus).toEqual([
      { status: 'open', count: 1 },
      { status: 'implemented', count: 0 },
      { status: 'verified', count: 0 },
      { status: 'approved', count: 0 },
      { status: 'closed', count: 0 },
    ])
    expect(report.open).toBe(1)
    expect(report.overdue).toBe(0)
    expect(report.opened).toBe(1)
    expect(report.capas.map((c) => [c.id, c.status, c.overdue])).toEqual([
      ['CAPA-000001', 'open', false],
    ])
    const text = await pdfText(`/api/reports/capa-status?${range}&format=pdf`, TOKENS.engineer)
    expect(text).toContain('CAPAs open now 1')
    expect(text).toContain('open 1 implemented 0 verified 0 approved 0 closed 0')
    expect(text).toContain('CAPA-000001 Recalibrate the filler scale corrective qe open')
  })

  it('refuses what it cannot answer', async () => {
    expect((await fetchReport(`/api/reports/capability?${range}`, null)).status).toBe(401)
    expect((await fetchReport('/api/reports/nothing')).status).toBe(400)
    // A name Object.prototype has is no report either (the role is looked up before validation).
    expect((await fetchReport('/api/reports/constructor')).status).toBe(400)
    expect((await fetchReport(`/api/reports/capability?${range}&format=docx`)).status).toBe(400)
    const reversed = await fetchReport('/api/reports/capability?from=2000&to=1000')
    expect(reversed.status).toBe(400)
    expect(JSON.parse(reversed.bytes.toString()).message).toMatch(/from must not be after to/)
  })

  it('the daily report was written at start and announced to the webhook', async () => {
    const today = new Date().toISOString().slice(0, 10)
    const hook = await waitFor('the report.daily webhook', () =>
      hooks.find((h) => h.headers['x-linewatch-event'] === 'report.daily'),
    )
    const event = JSON.parse(hook.body) as QualityEvent
    expect(event).toMatchObject({ type: 'report.daily', id: `daily-${today}`, status: 'written' })
    const names = ['capability', 'nc-pareto', 'alarm-kpis', 'capa-status'].flatMap((k) => [
      `daily-${today}-${k}.pdf`,
      `daily-${today}-${k}.csv`,
    ])
    expect(event.files?.map((f) => f.name).sort()).toEqual(names.sort())
    expect((await fetchReport('/api/reports/daily')).status).toBe(403)
    const listed = await json<{ name: string; bytes: number; path: string }[]>(
      '/api/reports/daily',
      TOKENS.engineer,
    )
    expect(listed.map((f) => f.name).sort()).toEqual(names.sort())
    for (const file of event.files ?? []) {
      const got = await fetchReport(file.path, TOKENS.engineer)
      expect(got.status).toBe(200)
      const onDisk = readFileSync(join(gw.dataDir, 'reports', file.name))
      expect(got.bytes.equals(onDisk)).toBe(true)
      expect(got.bytes.length).toBe(file.bytes)
    }
    expect(
      (await fetchReport('/api/reports/daily/daily-2000-01-01-capability.pdf', TOKENS.engineer))
        .status,
    ).toBe(404)
    expect((await fetchReport('/api/reports/daily/..%2Frecords.db', TOKENS.engineer)).status).toBe(
      400,
    )
  })
})
