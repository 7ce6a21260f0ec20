import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatPpm } from '../dashboard/src/data/capability.ts'
import { sigmaWords } from '../dashboard/src/data/chart-words.ts'
import { cusumRange } from '../dashboard/src/data/cusum-range.ts'
import { formatValue } from '../dashboard/src/data/format.ts'
import type {
  CharacteristicView,
  ChartView,
  LimitChangeView,
  NonconformanceSummary,
  NonconformanceView,
  ReadingsView,
} from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  launchBrowser,
  requireFreshBuild,
  textOf as text,
  within,
} from './helpers/browser.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * The dashboard's charts of every type, capability and limit changes, end to end: a real gateway
 * (port 0) fed over MQTT, a real Chromium at 1080p. What is drawn is compared with what the API
 * reports; screenshots go to test/artifacts/.
 */

const WAIT = 15_000

const CONFIG = `
title: SPC test plant
mqtt: { broker: { port: 0 } }
characteristics:
  - id: bore
    name: Bore diameter
    path: Plant/Machining/Line 3/Boring
    unit: mm
    decimals: 3
    source: { mqtt: { topic: spc/bore } }
    chart: { type: xbar-r, subgroup: { size: 5 }, baselineCount: 8, rules: [N1, N2, N3, N4, N5, N6, N7, N8] }
    specLimits: { lsl: 9.95, usl: 10.05, target: 10 }
  - id: spindle
    name: Spindle load
    path: Plant/Machining/Line 3/Boring
    unit: "%"
    decimals: 1
    source: { mqtt: { topic: spc/spindle } }
    chart: { type: cusum, given: { center: 50, sigma: 1 } }
  - id: coolant
    name: Coolant temperature
    path: Plant/Machining/Line 3/Coolant
    unit: °C
    decimals: 2
    source: { mqtt: { topic: spc/coolant } }
    chart: { type: cusum, given: { center: 20, sigma: 0.2 } }
  - id: level
    name: Tank level
    path: Plant/Machining/Line 3/Coolant
    unit: L
    decimals: 1
    source: { mqtt: { topic: spc/level } }
    limits: { alertHigh: 404, actionHigh: 406 }
    chart: { type: ewma, given: { center: 400, sigma: 2 } }
  - id: rejects
    name: Label rejects
    path: Plant/Packing/Line 5/Inspection
    source: { mqtt: { topic: spc/rejects } }
    limits: { alertHigh: 0.08, actionHigh: 0.12 }
    chart: { type: p, baselineCount: 10 }
  - id: torque
    name: Cap torque
    path: Plant/Packing/Line 5/Capper
    unit: N·m
    decimals: 2
    source: { mqtt: { topic: spc/torque } }
    chart: { baselineCount: 5 }
    specLimits: { lsl: 1.8, usl: 2.2 }
  - id: feed
    name: Feed force
    path: Plant/Machining/Line 3/Boring
    unit: N
    decimals: 1
    source: { mqtt: { topic: spc/feed } }
    chart: { type: cusum, given: { center: 100, sigma: 2 }, cusum: { k: 0.5, h: 4, resetOnSignal: false } }
    openNcOn: [cusum-upper]
  - id: shaft
    name: Shaft diameter
    path: Plant/Machining/Line 3/Turning
    unit: mm
    decimals: 3
    source: { mqtt: { topic: spc/shaft } }
    chart: { given: { center: 20, sigma: 0.01 } }
    specLimits: { lsl: 19.95, usl: 20.05 }
  - id: bush
    name: Bushing bore
    path: Plant/Machining/Line 3/Turning
    unit: mm
    decimals: 3
    source: { mqtt: { topic: spc/bush } }
    chart: { given: { center: 8, sigma: 0.01 } }
    specLimits: { lsl: 7.95, usl: 8.05 }
    capability: { threshold: 1.5, minReadings: 40 }
  - id: gap
    name: Seal gap
    path: Plant/Machining/Line 3/Turning
    unit: mm
    decimals: 2
    source: { mqtt: { topic: spc/gap } }
    chart: { given: { center: 10, sigma: 0.1 } }
`

/** A deterministic N(0, 1) stream (mulberry32 and Box-Muller): the same data at every run. */
function normals(seed: number): () => number {
  let a = seed >>> 0
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
}

/** The little of the chart element the test reads in the page (the Node-side tsconfig has no DOM types). */
interface ChartElement {
  drawn(): Record<string, { labels: string[]; data: (number | null)[][] }>
  offScalePoints(pane: string): { index: number; value: number; side: 'up' | 'down' }[]
  yRange(pane: string): [number, number] | null
}

/** The same of a readings chart. */
interface ReadingsChartElement {
  drawn(): { labels: string[]; data: (number | null)[][]; time: boolean } | null
}

type Plot = { labels: string[]; data: (number | null)[][] }

describe('charts of every type, capability and limit changes in a real browser', () => {
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let mqtt: MqttClient | null = null
  let browser: Browser | null = null
  let page: Page
  let base = ''
  let t = Date.now() - 60_000
  /** Responses of the pages that failed: only the refusals a test provokes are expected. */
  const failed: string[] = []

  async function publish(topic: string, payload: Record<string, number>): Promise<void> {
    t = Math.max(t + 1, Date.now() - 30_000)
    const body = JSON.stringify({ ...payload, ts: new Date(t).toISOString() })
    await within(
      5000,
      `publish ${topic}`,
      (mqtt as MqttClient).publishAsync(topic, body, { qos: 1 }),
    )
  }

  async function api<T>(path: string): Promise<T> {
    const res = await (gw as TestGateway).get<T>(`/api/${path}`)
    if (res.status !== 200) throw new Error(`GET /api/${path}: ${res.status}`)
    return res.body
  }

  /** Waits until the gateway has judged `count` chart points of a characteristic; returns them. */
  async function points(id: string, count: number): Promise<ChartView['points']> {
    return waitFor(
      `${count} chart points of ${id}`,
      async () => {
        const got = (await api<ChartView>(`characteristics/${id}/chart?limit=5000`)).points
        return got.length === count && got
      },
      { timeoutMs: WAIT },
    )
  }

  const tile = (id: string) => page.locator(`lw-tile[data-id="${id}"]`)
  const chart = () => page.locator('lw-control-chart')
  const drawn = (): Promise<ReturnType<ChartElement['drawn']>> =>
    chart().evaluate((el) => (el as unknown as ChartElement).drawn())

  async function open(id: string): Promise<void> {
    await page.goto(`${base}/#/c/${id}`)
    await page.locator('lw-characteristic-page h1').waitFor()
    await page.locator('lw-connection-status[state="connected"]').waitFor()
  }

  /** The column of a drawn series, by its label. */
  function column(plot: { labels: string[]; data: (number | null)[][] }, label: string) {
    const k = plot.labels.indexOf(label)
    if (k < 0) throw new Error(`no series "${label}" among ${plot.labels.join(', ')}`)
    return plot.data[k] as (number | null)[]
  }

  /** Whether an element's text is cut (wider or taller than its box). */
  async function clipped(locator: Locator): Promise<boolean> {
    return locator.evaluate((el) => {
      const e = el as unknown as {
        scrollWidth: number
        clientWidth: number
        scrollHeight: number
        clientHeight: number
      }
      return e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1
    })
  }

  /** The NC of a characteristic that `pick` chooses, once the gateway has opened it. */
  async function ncOf(
    id: string,
    pick: (nc: NonconformanceSummary) => boolean,
  ): Promise<NonconformanceSummary> {
    return waitFor(
      `an NC of ${id}`,
      async () =>
        (await api<NonconformanceSummary[]>(`nonconformances?characteristic=${id}`)).find(pick),
      { timeoutMs: WAIT },
    )
  }

  async function openNc(nc: { id: number; number: string }): Promise<void> {
    await page.goto(`${base}/#/nc/${nc.id}`)
    await page.locator('lw-nc-detail h1', { hasText: nc.number }).waitFor()
    await page.locator('lw-nc-detail lw-readings-chart canvas').waitFor()
  }

  /** The chart's points over an NC's readings (what its chart plots when the rule judged a pane). */
  async function chartAround(nc: NonconformanceView): Promise<ChartView['points']> {
    const ts = [nc.trigger.ts, ...nc.readings.map((r) => r.ts)]
    const from = Math.min(...ts)
    const to = Math.max(...ts)
    return (
      await api<ChartView>(
        `characteristics/${nc.characteristic}/chart?from=${from}&to=${to}&limit=2000`,
      )
    ).points
  }

  /** What the NC's chart drew, once it drew. */
  async function ncPlot(): Promise<Plot & { time: boolean }> {
    const el = page.locator('lw-nc-detail lw-readings-chart')
    expect(await el.getAttribute('data-axis')).toBe('time')
    const plot = await el.evaluate((e) => (e as unknown as ReadingsChartElement).drawn())
    if (!plot) throw new Error('the NC chart should be drawn')
    return plot
  }

  /** The x (time) and value of the one ringed trigger of a readings chart. */
  function triggerAt(plot: Plot): [number, number] | null {
    const ring = column(plot, 'Trigger')
    const at = ring.flatMap((v, k) => (v === null ? [] : [k]))
    if (at.length !== 1) return null
    return [plot.data[0]?.[at[0] as number] as number, ring[at[0] as number] as number]
  }

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    gw = await within(20_000, 'the gateway to start', startTestGateway(CONFIG))
    base = gw.gateway.urls.http
    mqtt = await within(
      10_000,
      'MQTT to connect',
      connectAsync(gw.gateway.urls.mqtt as string, { reconnectPeriod: 0, connectTimeout: 5000 }),
    )
    const z = normals(7)
    // X̄-R: 8 baseline subgroups of 5, then 30 more judged against the frozen limits.
    for (let k = 0; k < 38 * 5; k++) await publish('spc/bore', { value: 10.002 + 0.01 * z() })
    // CUSUM: in control, then a shift of +2.5σ (up) and of −2.5σ (down).
    for (let k = 0; k < 12; k++) await publish('spc/spindle', { value: 50 + 0.6 * z() })
    for (let k = 0; k < 8; k++) await publish('spc/spindle', { value: 52.5 + 0.3 * z() })
    for (let k = 0; k < 10; k++) await publish('spc/coolant', { value: 20 + 0.1 * z() })
    for (let k = 0; k < 8; k++) await publish('spc/coolant', { value: 19.5 + 0.05 * z() })
    // EWMA: its limits widen over the first points (time-varying), then settle.
    for (let k = 0; k < 30; k++) await publish('spc/level', { value: 400 + 2 * z() })
    // p chart: samples of varying size, then one with a high proportion.
    const sizes = [120, 300, 80, 250, 400, 150, 90, 320, 200, 60, 180, 350, 100, 270, 140]
    for (const [k, size] of [...sizes, ...sizes].entries()) {
      await publish('spc/rejects', { count: Math.round(size * (0.04 + 0.01 * Math.sin(k))), size })
    }
    await publish('spc/rejects', { count: 30, size: 150 })
    for (const v of [2.01, 1.98, 2.03, 1.99, 2.02, 2.0]) await publish('spc/torque', { value: v })
    // CUSUM that keeps accumulating: in control, then a lasting shift of +3σ (C⁺ climbs to ~75σ).
    for (let k = 0; k < 10; k++) await publish('spc/feed', { value: 100 + 1.2 * z() })
    for (let k = 0; k < 30; k++) await publish('spc/feed', { value: 106 + 0.6 * z() })
    // Capability of a chart that signalled: 30 readings in control, then one beyond 3σ (N1), in spec.
    for (let k = 0; k < 30; k++) await publish('spc/shaft', { value: 20 + 0.006 * z() })
    await publish('spc/shaft', { value: 20.045 })
    // Capability with a configured minimum of 40 readings and threshold 1.5: 30 readings, in control
    // (alternating sides within 0.6σ: neither N1 nor N2, nor the moving range's N1).
    for (let k = 0; k < 30; k++)
      await publish('spc/bush', { value: 8 + (k % 2 ? 1 : -1) * 0.002 * (1 + (k % 3)) })
    // A moving range beyond its limit (D4·d2·σ = 0.369) with every reading inside the individuals' limits.
    for (const v of [10.0, 9.98, 10.02, 9.99, 9.78, 10.2]) await publish('spc/gap', { value: v })
    await points('bore', 38)
    await points('rejects', 31)
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`)
    })
    await page.goto(`${base}/?token=${TOKENS.viewer}#/`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
  })

  afterAll(async () => {
    const errors: unknown[] = []
    const client = mqtt
    const g = gw
    for (const step of [
      () => browser?.close(),
      () => client?.endAsync(true),
      () => g?.close(),
      () => g?.removeDataDir(),
    ]) {
      try {
        await step()
      } catch (e) {
        errors.push(e)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  })

  it('says a CUSUM signal on the wall display in words that fit the tile', async () => {
    await page.locator('lw-tile[data-id="spindle"][data-status="spc"]').waitFor()
    await page.locator('lw-tile[data-id="coolant"][data-status="spc"]').waitFor()
    expect(await text(tile('spindle').locator('.state'))).toBe('OUT OF CONTROL · CUSUM up')
    expect(await text(tile('coolant').locator('.state'))).toBe('OUT OF CONTROL · CUSUM down')
    for (const id of ['spindle', 'coolant'])
      expect(await clipped(tile(id).locator('.state'))).toBe(false)
    await page.screenshot({ path: join(ARTIFACTS, 'overview-spc.png') })
  })

  it('draws an X̄-R chart as two panes, each with its own limits, and names it in the header', async () => {
    const view = await api<CharacteristicView>('characteristics/bore')
    const control = view.chart.control
    if (!control) throw new Error('the X̄-R limits should be frozen')
    await open('bore')
    await chart().locator('#xbar canvas').waitFor()
    await chart().locator('#r canvas').waitFor()
    expect(await chart().getAttribute('data-panes')).toBe('xbar r')
    expect(await text(page.locator('[data-part="chart-header"]'))).toBe(
      'X̄-R chart · subgroups of 5 · baseline 8 subgroups · rules N1–N8 · σ from R̄, estimated from 8 subgroups',
    )
    const xbar = control.panes.xbar as { center: number; lcl: number; ucl: number }
    const r = control.panes.r as { center: number; lcl: number; ucl: number }
    expect(await text(chart().locator('li[data-limit="ucl"]'))).toBe(`UCL ${xbar.ucl.toFixed(3)}`)
    expect(await text(chart().locator('li[data-limit="lcl"]'))).toBe(`LCL ${xbar.lcl.toFixed(3)}`)
    await expect.poll(async () => Number(await chart().getAttribute('data-points'))).toBe(38)
    // What uPlot draws is the API's: each point's X̄ and its limits, the ranges on their own pane.
    const api_ = await points('bore', 38)
    const plots = await drawn()
    expect(Object.keys(plots)).toEqual(['xbar', 'r'])
    const monitor = api_.map((p, k) => [p, k] as const).filter(([p]) => p.phase === 'monitor')
    for (const [p, k] of monitor) {
      expect(column(plots.xbar as never, 'UCL')[k]).toBeCloseTo(p.panes.xbar?.ucl as number, 12)
      expect(column(plots.r as never, 'UCL')[k]).toBeCloseTo(p.panes.r?.ucl as number, 12)
    }
    expect(column(plots.r as never, 'Subgroup ranges (R)')).toEqual(
      api_.map((p) => p.panes.r?.statistic),
    )
    // Alarm limits judge single readings: not drawn on X̄ or R.
    expect((plots.xbar as { labels: string[] }).labels).not.toContain('Action high')
    expect(await text(chart().locator('.readout'))).toMatch(/n 5.*X̄ [\d.]+ mm.*R [\d.]+ mm/)
    // Issue 7 §4: each pane says the σ its limits use, the latest point's, and the limits are CL ± 3σ.
    const last = api_.at(-1)
    const sx = last?.panes.xbar?.sigma
    const sr = last?.panes.r?.sigma
    if (typeof sx !== 'number' || typeof sr !== 'number')
      throw new Error('each pane should report σ')
    expect(await text(chart().locator('li[data-sigma="xbar"]'))).toBe(
      sigmaWords('xbar-r', 'xbar', sx, 3),
    )
    expect(await text(chart().locator('[data-pane-lines="r"]'))).toBe(
      `UCL ${r.ucl.toFixed(3)} · CL ${r.center.toFixed(3)} · LCL ${r.lcl.toFixed(3)} · ${sigmaWords('xbar-r', 'r', sr, 3)}`,
    )
    expect(xbar.ucl - xbar.center).toBeCloseTo(3 * sx, 9)
    expect(r.ucl - r.center).toBeCloseTo(3 * sr, 9)
    await page.screenshot({ path: join(ARTIFACTS, 'chart-xbar-r.png') })
  })

  it('shows capability with the API’s Cpk and a histogram of the recent readings', async () => {
    await expect
      .poll(
        async () => (await api<CharacteristicView>('characteristics/bore')).capability?.n ?? 0,
        {
          timeout: WAIT,
        },
      )
      .toBeGreaterThanOrEqual(25)
    await open('bore')
    const panel = page.locator('lw-capability-panel')
    await panel.locator('[data-index="cpk"]').waitFor()
    const cap = (await api<CharacteristicView>('characteristics/bore')).capability
    if (!cap || cap.cpk === null || cap.cpkLower95 === null || cap.cpkUpper95 === null)
      throw new Error('capability should be known')
    expect(await text(panel.locator('[data-index="cpk"] .v'))).toBe(cap.cpk.toFixed(2))
    expect(await text(panel.locator('[data-index="cpk"] .ci'))).toBe(
      `95%: ${cap.cpkLower95.toFixed(2)} to ${cap.cpkUpper95.toFixed(2)}`,
    )
    expect(await text(panel.locator('[data-index="cp"] .v'))).toBe((cap.cp as number).toFixed(2))
    expect(await text(panel.locator('[data-index="ppk"] .v'))).toBe((cap.ppk as number).toFixed(2))
    expect(await text(panel.locator('[data-part="ppm-observed"]'))).toBe(formatPpm(cap.observedPpm))
    expect(await text(panel.locator('[data-part="ppm-expected"]'))).toBe(formatPpm(cap.expectedPpm))
    // The verdict is the gateway's, with its threshold (issue 7 §5), whatever Cpk alone would say.
    const verdict = (await api<CharacteristicView>('characteristics/bore')).capabilityVerdict
    if (!verdict)
      throw new Error('a characteristic with specification limits should have a verdict')
    expect(await text(panel.locator('[data-part="verdict"]'))).toBe(verdict.words)
    expect(await text(panel.locator('[data-part="criteria"]'))).toContain(
      `Cpk and Ppk ≥ ${verdict.threshold.toFixed(2)}`,
    )
    const caveat = verdict.verdict === 'not-in-control' || verdict.verdict === 'too-few-readings'
    expect(await panel.locator('[data-part="indices"]').getAttribute('data-greyed')).toBe(
      String(caveat),
    )
    const readings = await api<ReadingsView>('characteristics/bore/readings?from=0&limit=500')
    const histogram = panel.locator('lw-histogram')
    await histogram.locator('canvas').waitFor()
    await expect
      .poll(async () => Number(await histogram.getAttribute('data-readings')))
      .toBe(readings.readings.length)
    expect(Number(await histogram.getAttribute('data-bins'))).toBeGreaterThanOrEqual(5)
    expect(await histogram.getAttribute('data-curves')).toBe('2')
    await panel.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'capability.png') })
  })

  it('AIAG/Minitab: a chart that signalled gets "not in statistical control", its indices greyed but shown', async () => {
    const view = await waitFor(
      'the verdict on shaft',
      async () => {
        const v = await api<CharacteristicView>('characteristics/shaft')
        return v.capability !== null && v.capabilityVerdict?.verdict === 'not-in-control'
          ? v
          : undefined
      },
      { timeoutMs: WAIT },
    )
    const cap = view.capability as NonNullable<CharacteristicView['capability']>
    const verdict = view.capabilityVerdict as NonNullable<CharacteristicView['capabilityVerdict']>
    expect(verdict.words).toBe(
      'not in statistical control — capability indices are not a prediction',
    )
    await open('shaft')
    const panel = page.locator('lw-capability-panel')
    await panel.locator('[data-index="cpk"]').waitFor()
    expect(await text(panel.locator('[data-part="verdict"]'))).toBe(verdict.words)
    const indices = panel.locator('[data-part="indices"]')
    expect(await indices.getAttribute('data-greyed')).toBe('true')
    // Still shown, visibly de-emphasised, and the reason is their accessible description and tooltip.
    expect(await text(panel.locator('[data-index="cpk"] .v'))).toBe((cap.cpk as number).toFixed(2))
    expect(await indices.getAttribute('aria-describedby')).toBe('verdict-hint')
    const hint = await text(panel.locator('#verdict-hint'))
    expect(hint).toMatch(/^Greyed: the chart signalled/)
    expect(await indices.getAttribute('title')).toBe(hint)
    const colour = (sel: string) =>
      panel
        .locator(sel)
        .evaluate(
          (el) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }
            ).getComputedStyle(el).color,
        )
    expect(await colour('[data-index="cpk"] .v')).toBe('rgb(111, 118, 127)') // --lw-text-faint
    expect(await colour('[data-part="mean"]')).toBe('rgb(236, 238, 241)') // facts are not greyed
    await panel.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'capability-not-in-control.png') })
  })

  it('too few readings for the configured minimum: says how many are needed, the gateway’s words', async () => {
    const view = await waitFor(
      'the verdict on bush',
      async () => {
        const v = await api<CharacteristicView>('characteristics/bush')
        return v.state.last !== null && v.capabilityVerdict?.words.includes('30 of') ? v : undefined
      },
      { timeoutMs: WAIT },
    )
    expect(view.capabilityVerdict).toMatchObject({
      verdict: 'too-few-readings',
      threshold: 1.5,
      minReadings: 40,
    })
    await open('bush')
    const panel = page.locator('lw-capability-panel')
    expect(await text(panel.locator('[data-part="pending"]'))).toBe(
      'Capability after 40 readings against the frozen limits.',
    )
    expect(await text(panel.locator('[data-part="verdict"]'))).toBe(view.capabilityVerdict?.words)
  })

  it('draws a CUSUM chart: C⁺ upward, C⁻ downward, ±h, and marks the signal', async () => {
    await open('spindle')
    await chart().locator('#cusum canvas').waitFor()
    expect(await text(chart().locator('li[data-limit="ucl"]'))).toBe('+h 4.00')
    expect(await text(chart().locator('li[data-limit="lcl"]'))).toBe('−h −4.00')
    const api_ = await points('spindle', 20)
    await expect.poll(async () => Number(await chart().getAttribute('data-points'))).toBe(20)
    const plot = (await drawn()).cusum as { labels: string[]; data: (number | null)[][] }
    expect(column(plot, 'C⁺')).toEqual(api_.map((p) => p.panes.cusum?.upper))
    expect(column(plot, 'C⁻ (downward)')).toEqual(
      api_.map((p) => -(p.panes.cusum?.lower as number) || 0),
    )
    expect(column(plot, '+h').every((v) => v === 4)).toBe(true)
    expect(column(plot, '−h').every((v) => v === -4)).toBe(true)
    const signals = api_.map((p) => p.rules.includes('cusum-upper'))
    expect(signals.some(Boolean)).toBe(true)
    expect(column(plot, 'Signal up').map((v) => v !== null)).toEqual(signals)
    await page
      .locator('lw-characteristic-page td .rule', {
        hasText: 'CUSUM up: the upper cumulative sum C⁺ passed h',
      })
      .first()
      .waitFor()
    expect(await text(page.locator('[data-part="chart-header"]'))).toBe(
      'CUSUM chart · individuals · signals when C⁺ or C⁻ passes h = 4σ · μ 50.0 and σ 1.00 given',
    )
    await page.screenshot({ path: join(ARTIFACTS, 'chart-cusum.png') })
    await open('coolant')
    await chart().locator('#cusum canvas').waitFor()
    await page
      .locator('lw-characteristic-page td .rule', { hasText: 'CUSUM down' })
      .first()
      .waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'chart-cusum-down.png') })
  })

  it('keeps ±h legible when C⁺ climbs after a lasting shift: off-scale points marked at the edge', async () => {
    await open('feed')
    await chart().locator('#cusum canvas').waitFor()
    const api_ = await points('feed', 40)
    await expect.poll(async () => Number(await chart().getAttribute('data-points'))).toBe(40)
    const upper = api_.map((p) => p.panes.cusum?.upper ?? null)
    const lower = api_.map((p) => (p.panes.cusum?.lower ? -p.panes.cusum.lower : 0))
    const top = Math.max(...upper.map((v) => v ?? 0))
    expect(top).toBeGreaterThan(40) // the sum kept accumulating (no reset)
    // The range drawn is the pure function's: ±h and 0 in view, the far sums beyond it listed.
    const expected = cusumRange(upper, lower, 4)
    const range = await chart().evaluate((el) => (el as unknown as ChartElement).yRange('cusum'))
    expect(range?.[0]).toBeCloseTo(expected.min, 9)
    expect(range?.[1]).toBeCloseTo(expected.max, 9)
    expect(8 / (expected.max - expected.min)).toBeGreaterThan(1 / 3)
    const off = await chart().evaluate((el) =>
      (el as unknown as ChartElement).offScalePoints('cusum'),
    )
    expect(off.map((o) => o.index)).toEqual(expected.offScale.map((o) => api_[o.at]?.index))
    expect(off.every((o) => o.side === 'up')).toBe(true)
    // One arrow per off-scale point, at the top edge, its value in the title; the latest one written.
    const arrows = chart().locator('.off.up')
    await expect.poll(() => arrows.count()).toBe(off.length)
    const lastTitle = await arrows.last().getAttribute('title')
    expect(lastTitle).toBe(
      `#${api_.at(-1)?.index} C⁺ ${formatValue(top, 2)}σ: off scale (the scale stops at ${formatValue(expected.max, 2)}σ)`,
    )
    expect(await text(arrows.last())).toBe(`C⁺ ${formatValue(top, 2)}σ`)
    expect(await chart().getAttribute('data-off-scale')).toBe(String(off.length))
    // The data drawn are still the API's (only the scale is clipped).
    const plot = (await drawn()).cusum as Plot
    expect(column(plot, 'C⁺')).toEqual(upper)
    await page.screenshot({ path: join(ARTIFACTS, 'chart-cusum-off-scale.png') })
  })

  it('draws the per-point limits of a p chart with varying sample sizes, and its alarm limits', async () => {
    await open('rejects')
    await chart().locator('#p canvas').waitFor()
    const api_ = await points('rejects', 31)
    await expect.poll(async () => Number(await chart().getAttribute('data-points'))).toBe(31)
    const plot = (await drawn()).p as { labels: string[]; data: (number | null)[][] }
    const ucl = column(plot, 'UCL')
    api_.forEach((p, k) => {
      if (p.phase === 'monitor') expect(ucl[k]).toBeCloseTo(p.panes.p?.ucl as number, 12)
    })
    expect(new Set(ucl.filter((v) => v !== null)).size).toBeGreaterThan(5)
    expect(column(plot, 'Action high').every((v) => v === 0.12)).toBe(true)
    // The high proportion is beyond the action limit and N1.
    expect(column(plot, 'Beyond an action limit').at(-1)).toBe(0.2)
    expect(column(plot, 'Violation').at(-1)).toBe(0.2)
    await chart().locator('[data-note="varying"]').waitFor()
    expect(await text(chart().locator('.readout'))).toMatch(/n 150.*p 0\.200/)
    await page.screenshot({ path: join(ARTIFACTS, 'chart-p.png') })
    // A live sample of another size brings its own limits.
    await publish('spc/rejects', { count: 12, size: 500 })
    await expect.poll(async () => Number(await chart().getAttribute('data-points'))).toBe(32)
    const live = (await points('rejects', 32)).at(-1)
    const after = (await drawn()).p as { labels: string[]; data: (number | null)[][] }
    expect(column(after, 'UCL').at(-1)).toBeCloseTo(live?.panes.p?.ucl as number, 12)
    expect(column(after, 'UCL').at(-1)).not.toBeCloseTo(column(after, 'UCL').at(-2) as number, 6)
  })

  it('draws an EWMA chart with its time-varying limits and without the alarm limits', async () => {
    await open('level')
    await chart().locator('#ewma canvas').waitFor()
    const api_ = await points('level', 30)
    const plot = (await drawn()).ewma as { labels: string[]; data: (number | null)[][] }
    expect(column(plot, 'UCL')).toEqual(api_.map((p) => p.panes.ewma?.ucl))
    expect((column(plot, 'UCL')[0] as number) < (column(plot, 'UCL')[29] as number)).toBe(true)
    expect(plot.labels).not.toContain('Action high')
    await chart().locator('[data-note="varying"]').waitFor()
    // Issue 7 §7: under the z chart, the raw readings against the alert and action limits.
    const raw = page.locator('[data-part="raw-readings"] lw-readings-chart')
    await raw.locator('canvas').waitFor()
    const readings = (
      await api<ReadingsView>(`characteristics/level/readings?from=${api_[0]?.ts}&limit=5000`)
    ).readings
    expect(readings.length).toBe(30)
    await expect.poll(async () => Number(await raw.getAttribute('data-points'))).toBe(30)
    const under = await raw.evaluate((el) => (el as unknown as ReadingsChartElement).drawn())
    if (!under) throw new Error('the readings under the EWMA chart should be drawn')
    expect(under.time).toBe(false) // evenly spaced, as the z chart above
    expect(column(under, 'Reading')).toEqual(readings.map((r) => r.value))
    expect(column(under, 'Action high').every((v) => v === 406)).toBe(true)
    expect(column(under, 'Alert high').every((v) => v === 404)).toBe(true)
    expect(under.labels).not.toContain('UCL') // the EWMA's limits judge z, not a reading
    // Readings past an alarm limit are marked in its hue, as on an individuals chart.
    expect(column(under, 'Beyond an alert limit')).toEqual(
      readings.map((r) => (r.value > 404 && r.value <= 406 ? r.value : null)),
    )
    expect(column(under, 'Beyond an action limit')).toEqual(
      readings.map((r) => (r.value > 406 ? r.value : null)),
    )
    expect(await text(raw.locator('li[data-limit="action-high"]'))).toBe('Action high 406.0')
    expect(await text(raw.locator('li[data-limit="alert-high"]'))).toBe('Alert high 404.0')
    await page.screenshot({ path: join(ARTIFACTS, 'chart-ewma.png') })
  })

  it('an NC of a rule on the moving range is drawn on the moving ranges, time-proportional, its trigger ringed', async () => {
    const summary = await ncOf('gap', (n) => n.trigger.pane === 'mr')
    const nc = await api<NonconformanceView>(`nonconformances/${summary.id}`)
    expect(nc.trigger).toMatchObject({ rule: 'N1', pane: 'mr' })
    expect(nc.trigger.value).toBeCloseTo(0.42, 9)
    const mr = nc.limitsInForce.control?.panes.mr
    if (!mr?.ucl) throw new Error('the MR limits should be in force')
    await openNc(nc)
    const detail = page.locator('lw-nc-detail')
    expect(await text(detail.locator('[data-part="chart-heading"]'))).toBe(
      'Moving range around the trigger',
    )
    expect(await text(detail.locator('[data-part="trigger-value"]'))).toBe(
      `MR 0.42 mm past ${formatValue(mr.ucl, 2)}`,
    )
    const points = await chartAround(nc)
    const plot = await ncPlot()
    expect(plot.time).toBe(true)
    // x is each point's time: time-proportional, not the point's position.
    const withMr = points.filter((p) => typeof p.panes.mr?.statistic === 'number')
    expect(plot.data[0]).toEqual(withMr.map((p) => p.ts))
    expect(column(plot, 'Reading')).toEqual(withMr.map((p) => p.panes.mr?.statistic))
    expect(column(plot, 'UCL').every((v) => v === mr.ucl)).toBe(true)
    expect(plot.labels).not.toContain('Action high')
    expect(triggerAt(plot)).toEqual([nc.trigger.ts, nc.trigger.value])
    const row = detail.locator('tr[data-limit="ucl"]', { hasText: 'MR' })
    expect(await text(row.locator('th'))).toBe('MR UCL')
    expect(await text(row.locator('td'))).toBe(formatValue(mr.ucl, 2))
    await page.screenshot({ path: join(ARTIFACTS, 'nc-mr.png') })
  })

  it('an EWMA NC: titled by its z, drawn on z against the EWMA’s limits, the trigger ringed', async () => {
    for (let k = 0; k < 8; k++) await publish('spc/level', { value: 403.5 })
    const summary = await ncOf('level', (n) => n.trigger.pane === 'ewma')
    const nc = await api<NonconformanceView>(`nonconformances/${summary.id}`)
    expect(nc.title).toBe('Tank level EWMA z beyond its limit (N1)')
    const ewma = nc.limitsInForce.control?.panes.ewma
    if (!ewma?.ucl) throw new Error('the EWMA limits should be in force')
    expect(nc.trigger.limit).toBeCloseTo(ewma.ucl, 9)
    await openNc(nc)
    const detail = page.locator('lw-nc-detail')
    expect(await text(detail.locator('[data-part="chart-heading"]'))).toBe(
      'Exponentially weighted moving average (EWMA) around the trigger',
    )
    expect(await text(detail.locator('[data-part="trigger-value"]'))).toBe(
      `z ${formatValue(nc.trigger.value, 1)} L past ${formatValue(ewma.ucl, 1)}`,
    )
    // Not "beyond 3σ of the centre line": the rule is named on the EWMA's z.
    expect(await text(detail.locator('[data-part="trigger-rule"]'))).toMatch(
      /· N1: the EWMA z beyond its limit$/,
    )
    const points = await chartAround(nc)
    const plot = await ncPlot()
    expect(plot.time).toBe(true)
    expect(column(plot, 'Reading')).toEqual(points.map((p) => p.panes.ewma?.statistic))
    expect(column(plot, 'UCL').every((v) => v === ewma.ucl)).toBe(true)
    expect(column(plot, 'LCL').every((v) => v === ewma.lcl)).toBe(true)
    expect(triggerAt(plot)).toEqual([nc.trigger.ts, nc.trigger.value])
    await page.screenshot({ path: join(ARTIFACTS, 'nc-ewma.png') })
  })

  it('a CUSUM NC says its run length and draws its side’s sum against h', async () => {
    const summary = await ncOf('feed', (n) => n.cause === 'cusum-upper')
    const nc = await api<NonconformanceView>(`nonconformances/${summary.id}`)
    const run = nc.trigger.runLength
    expect(nc.trigger.pane).toBe('cusum')
    if (run === null) throw new Error('a CUSUM trigger should carry its run length')
    await openNc(nc)
    const detail = page.locator('lw-nc-detail')
    expect(await text(detail.locator('[data-part="run-length"]'))).toBe(
      `run of ${run} ${run === 1 ? 'point' : 'points'} since C⁺ left 0`,
    )
    expect(await text(detail.locator('[data-part="trigger-value"]'))).toBe(
      `C⁺ ${formatValue(nc.trigger.value, 2)}σ past h = 4.00σ`,
    )
    expect(await text(detail.locator('[data-part="chart-heading"]'))).toBe(
      'C⁺ (in σ) around the signal',
    )
    expect(await text(detail.locator('[data-part="history-value"]'))).toBe('C⁺ (σ)')
    const points = await chartAround(nc)
    const plot = await ncPlot()
    expect(column(plot, 'Reading')).toEqual(points.map((p) => p.panes.cusum?.upper))
    expect(column(plot, 'h').every((v) => v === 4)).toBe(true)
    expect(triggerAt(plot)).toEqual([nc.trigger.ts, nc.trigger.value])
    await page.screenshot({ path: join(ARTIFACTS, 'nc-cusum.png') })
  })

  it('keeps the chart pages legible on a 1280×720 display', async () => {
    await page.setViewportSize({ width: 1280, height: 720 })
    try {
      const overflow = () =>
        page.evaluate(() => {
          const d = (
            globalThis as unknown as {
              document: { scrollingElement: { scrollWidth: number; clientWidth: number } }
            }
          ).document.scrollingElement
          return d.scrollWidth - d.clientWidth
        })
      await open('bore')
      await chart().locator('#r canvas').waitFor()
      expect(await overflow()).toBeLessThanOrEqual(0)
      expect(await clipped(chart().locator('li[data-sigma="xbar"]'))).toBe(false)
      expect(await clipped(chart().locator('[data-pane-lines="r"]'))).toBe(false)
      await page.screenshot({ path: join(ARTIFACTS, 'chart-xbar-r-720p.png') })
      await open('feed')
      await chart().locator('.off.up').first().waitFor()
      expect(await overflow()).toBeLessThanOrEqual(0)
      await page.screenshot({ path: join(ARTIFACTS, 'chart-cusum-off-scale-720p.png') })
      await open('level')
      await page.locator('[data-part="raw-readings"] lw-readings-chart canvas').waitFor()
      expect(await overflow()).toBeLessThanOrEqual(0)
      await page.screenshot({ path: join(ARTIFACTS, 'chart-ewma-720p.png'), fullPage: true })
      const summary = await ncOf('feed', (n) => n.cause === 'cusum-upper')
      await openNc(summary)
      expect(await overflow()).toBeLessThanOrEqual(0)
      await page.screenshot({ path: join(ARTIFACTS, 'nc-cusum-720p.png') })
    } finally {
      await page.setViewportSize({ width: 1920, height: 1080 })
    }
  })

  it('says when capability will come while there are too few readings, with the gateway’s minimum', async () => {
    const view = await api<CharacteristicView>('characteristics/torque')
    await open('torque')
    expect(await text(page.locator('lw-capability-panel [data-part="pending"]'))).toBe(
      `Capability after ${view.capabilityVerdict?.minReadings ?? 25} readings against the frozen limits.`,
    )
  })

  it('lets a quality manager estimate the limits anew with a reason, and records it', async () => {
    await page.goto(`${base}/?token=${TOKENS.manager}#/c/torque`)
    const changes = page.locator('lw-limit-changes')
    await changes.locator('[data-part="no-changes"]').waitFor()
    // Frozen limits: only "estimate anew" is offered.
    expect(await changes.locator('button[data-action]').allTextContents()).toEqual([
      'Estimate the limits anew',
    ])
    await changes.locator('button[data-action="restart"]').click()
    await changes.locator('form textarea').fill('ab')
    await changes.locator('form button[type="submit"]').click()
    expect(await text(changes.locator('.form-problem'))).toMatch(/at least 3 characters/)
    await changes.locator('form textarea').fill('New torque head fitted')
    await changes.locator('form button[type="submit"]').click()
    const row = changes.locator('tr[data-action="restart"]')
    await row.waitFor()
    expect(await text(row)).toMatch(
      /Limits estimated anew New torque head fitted manager CL 2\.01 · UCL [\d.]+ · LCL [\d.]+ · σ [\d.]+\s*→\s*none \(baseline\)/,
    )
    const recorded = await api<LimitChangeView[]>('characteristics/torque/limit-changes')
    expect(recorded.map((c) => [c.action, c.reason, c.actor])).toEqual([
      ['restart', 'New torque head fitted', 'manager'],
    ])
    // Collecting again: the baseline can be ended now; with nothing collected the gateway says why not.
    await expect
      .poll(() => text(page.locator('[data-part="chart-header"]')))
      .toBe('I-MR chart · individuals · baseline 0 of 5 readings · rules N1, N2')
    await changes.locator('button[data-action="end-baseline"]').click()
    await changes.locator('form textarea').fill('Enough data from the trial')
    await changes.locator('form button[type="submit"]').click()
    expect(await text(changes.locator('.form-problem'))).toMatch(/^Not done: .+/)
    // Three readings, then the baseline ends on request and the limits come from them.
    for (const v of [2.05, 2.07, 2.06]) await publish('spc/torque', { value: v })
    await expect
      .poll(() => text(page.locator('[data-part="chart-header"]')))
      .toBe('I-MR chart · individuals · baseline 3 of 5 readings · rules N1, N2')
    await changes.locator('form button[type="submit"]').click()
    await changes.locator('tr[data-action="end-baseline"]').waitFor()
    await expect
      .poll(() => text(page.locator('[data-part="chart-header"]')))
      .toBe(
        'I-MR chart · individuals · baseline 5 readings · rules N1, N2 · σ from M̄R, estimated from 3 readings',
      )
    expect(await changes.locator('button[data-action]').allTextContents()).toEqual([
      'Estimate the limits anew',
    ])
    await changes.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'limit-changes.png') })
    // The chart shows where the limits were estimated anew, and the new baseline read against them.
    await page.locator('lw-characteristic-page h1').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'chart-restarted.png') })
  })

  it('shows a viewer the record without the buttons (and the API refuses a viewer: 403)', async () => {
    await page.goto(`${base}/?token=${TOKENS.viewer}#/c/torque`)
    const changes = page.locator('lw-limit-changes')
    await changes.locator('tr[data-action="restart"]').waitFor()
    expect(await changes.locator('button').count()).toBe(0)
    const res = await fetch(`${base}/api/characteristics/torque/baseline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.viewer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'restart', reason: 'not allowed' }),
    })
    expect(res.status).toBe(403)
    // The one refusal provoked (end the baseline with none collected); nothing else failed.
    expect(failed).toEqual(['409 /api/characteristics/torque/baseline'])
    expect(
      (browser as Browser).errors().filter((e) => !/Failed to load resource.*409/i.test(e)),
    ).toEqual([])
  })
})
