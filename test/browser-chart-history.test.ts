import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shiftAt } from '../dashboard/src/data/chart-range.ts'
import type { ChartView } from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  launchBrowser,
  requireFreshBuild,
  textOf,
  within,
} from './helpers/browser.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * Chart history in a real Chromium (issue 11): a gateway holding a week of readings, one every
 * 30 s (20,160), with one far out-of-control reading in the middle. The week is drawn from the
 * gateway's M4 points (a few per pixel column), the spike at its value; dragging across the chart
 * asks the gateway for the range selected; ← pans by half the range; Live follows the latest
 * points again; and while the live socket is open the page polls nothing.
 */

const WAIT = 15_000
const WEEK = 7 * 24 * 3600_000
const STEP = 30_000
const COUNT = WEEK / STEP
const SPIKE_AT = COUNT / 2
const SPIKE = 12.5

/** In control (within ±2σ of 10, σ 0.1; moving ranges well below their UCL) but for the spike. */
function valueAt(k: number): number {
  if (k === SPIKE_AT) return SPIKE
  return 10 + 0.12 * Math.sin(k * 0.9) + 0.05 * Math.sin(k * 0.31)
}

const CONFIG = `
title: Chart history test plant
mqtt: { broker: { port: 0 } }
shifts: { starts: ['07:30', '19:30'] }
characteristics:
  - id: weight
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    decimals: 3
    source: { mqtt: { topic: fill/weight } }
    chart: { given: { center: 10, sigma: 0.1 }, rules: [N1] }
    specLimits: { lsl: 9.5, usl: 10.5 }
`

/** The little of the chart element the test reads in the page (the Node-side tsconfig has no DOM types). */
interface ChartElement {
  drawn(): Record<string, { labels: string[]; data: (number | null)[][] }>
  times(): number[]
  plotWidth(): number
  yRange(pane: string): [number, number] | null
}

interface Seen {
  at: number
  url: URL
}

describe('chart history: time range, downsampling, zoom, pan and Live in a real browser', () => {
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let mqtt: MqttClient | null = null
  let browser: Browser | null = null
  let page: Page
  let t0 = 0
  let lastTs = 0
  const requests: Seen[] = []

  const chart = () => page.locator('lw-control-chart')
  const times = () => chart().evaluate((el) => (el as unknown as ChartElement).times())
  const drawnI = async () => {
    const plots = await chart().evaluate((el) => (el as unknown as ChartElement).drawn())
    const plot = plots.i
    if (!plot) throw new Error('the individuals pane is not drawn')
    const k = plot.labels.indexOf('Individuals')
    return { x: plot.data[0] as number[], value: plot.data[k] as (number | null)[] }
  }
  const mode = () => page.locator('[data-part="range"]').getAttribute('data-mode')
  /** Requests for the chart since `since` (ms), by path and query. */
  const chartRequests = (since: number) =>
    requests.filter((r) => r.at >= since && r.url.pathname.endsWith('/weight/chart'))

  async function publishNow(value: number): Promise<number> {
    lastTs = Math.max(lastTs + 1, Date.now())
    await within(
      5000,
      'publish',
      (mqtt as MqttClient).publishAsync('fill/weight', JSON.stringify({ value, ts: lastTs }), {
        qos: 1,
      }),
    )
    return lastTs
  }

  /** Waits for the next /chart request with a range (and its answer), after `action`. */
  async function rangeRequest(action: () => Promise<unknown>): Promise<{
    from: number
    to: number
    buckets: number
    body: ChartView
  }> {
    const answered = page.waitForResponse(
      (r) => r.url().includes('/weight/chart?') && r.url().includes('buckets='),
      { timeout: WAIT },
    )
    await action()
    const response = await answered
    const url = new URL(response.url())
    return {
      from: Number(url.searchParams.get('from')),
      to: Number(url.searchParams.get('to')),
      buckets: Number(url.searchParams.get('buckets')),
      body: (await response.json()) as ChartView,
    }
  }

  /** Waits until the chart draws the points of an answer (the first and last time of them). */
  async function drawnAnswer(body: ChartView): Promise<void> {
    const first = body.points[0]?.ts
    const last = body.points.at(-1)?.ts
    await waitFor(
      'the chart to draw the range',
      async () => {
        const ts = await times()
        return ts.length === body.points.length && ts[0] === first && ts.at(-1) === last
      },
      { timeoutMs: WAIT },
    )
  }

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    gw = await within(20_000, 'the gateway to start', startTestGateway(CONFIG))
    mqtt = await within(
      10_000,
      'MQTT to connect',
      connectAsync(gw.gateway.urls.mqtt as string, { reconnectPeriod: 0, connectTimeout: 5000 }),
    )
    // A week of readings, one every 30 s up to 30 s ago, in messages of 1,000.
    t0 = Date.now() - WEEK
    for (let k = 0; k < COUNT; k += 1000) {
      const batch = Array.from({ length: Math.min(1000, COUNT - k) }, (_, j) => ({
        value: valueAt(k + j),
        ts: t0 + (k + j) * STEP,
      }))
      await within(
        5000,
        'publish',
        mqtt.publishAsync('fill/weight', JSON.stringify(batch), { qos: 1 }),
      )
    }
    lastTs = t0 + (COUNT - 1) * STEP
    const g = gw
    await waitFor(
      `${COUNT} chart points`,
      async () =>
        (await g.get<ChartView>('/api/characteristics/weight/chart?limit=1')).body.points[0]
          ?.index ===
        COUNT - 1,
      { timeoutMs: 30_000 },
    )
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
    page.on('request', (r: Request) => {
      const url = new URL(r.url())
      if (url.pathname.includes('/api/')) requests.push({ at: Date.now(), url })
    })
    await page.goto(`${gw.gateway.urls.http}/?token=${TOKENS.viewer}#/c/weight`)
    await page.locator('lw-characteristic-page h1').waitFor()
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

  it('live by default; while connected it polls nothing, and live points arrive', async () => {
    await waitFor('the latest 500 points drawn', async () => (await times()).length === 500, {
      timeoutMs: WAIT,
    })
    expect(await mode()).toBe('live')
    expect(await textOf(page.locator('[data-part="range-words"]'))).toBe(
      'Live: the latest 500 points',
    )
    // A bounded window of 7 s (more than the 5 s the page used to poll at) with a reading every
    // second: the chart follows the socket, and no request goes out for the chart or the view.
    const since = Date.now()
    let ts = 0
    for (let k = 0; k < 7; k++) {
      ts = await publishNow(10 + 0.01 * k)
      await new Promise((r) => setTimeout(r, 1000))
    }
    await waitFor('the last live point drawn', async () => (await times()).at(-1) === ts, {
      timeoutMs: WAIT,
    })
    const polled = requests.filter(
      (r) =>
        r.at >= since &&
        (r.url.pathname.endsWith('/weight/chart') ||
          r.url.pathname.endsWith('/characteristics/weight') ||
          r.url.pathname.endsWith('/weight/readings')),
    )
    expect(polled.map((r) => `${r.url.pathname}${r.url.search}`)).toEqual([])
  })

  it('week: drawn at once from M4 points (≤ 2 + 2·panes per pixel column), the spike at its value', async () => {
    const started = Date.now()
    const asked = await rangeRequest(() => page.locator('button[data-range="week"]').click())
    // The range is the last week, in as many buckets as the plot has pixel columns.
    expect(asked.to - asked.from).toBe(WEEK)
    expect(Math.abs(asked.to - Date.now())).toBeLessThan(WAIT)
    const width = await chart().evaluate((el) => (el as unknown as ChartElement).plotWidth())
    expect(asked.buckets).toBe(Math.round(width))
    expect(width).toBeGreaterThan(1000)
    const body = asked.body
    expect(body.downsampled).toBe(true)
    expect(body.total).toBeGreaterThanOrEqual(COUNT - 1)
    await drawnAnswer(body)
    expect(Date.now() - started).toBeLessThan(WAIT)
    expect(await mode()).toBe('history')
    expect(await page.locator('button[data-range="week"]').getAttribute('aria-pressed')).toBe(
      'true',
    )
    // What is drawn is the answer: I-MR has two panes, so at most 6 points per pixel column,
    // and the points that completed a rule (the spike's I and the moving range after it).
    const flagged = body.points.filter((p) => p.rules.length > 0)
    expect(flagged.map((p) => p.ts)).toEqual([t0 + SPIKE_AT * STEP, t0 + (SPIKE_AT + 1) * STEP])
    const drawn = await drawnI()
    expect(drawn.value).toEqual(body.points.map((p) => p.panes.i?.statistic))
    expect(drawn.value.length).toBeLessThanOrEqual(6 * width + flagged.length)
    expect(drawn.value.length).toBeLessThan(COUNT / 2)
    // The spike is drawn at its value and within the pane's scale.
    expect(drawn.value).toContain(SPIKE)
    const y = await chart().evaluate((el) => (el as unknown as ChartElement).yRange('i'))
    expect(y?.[1]).toBeGreaterThanOrEqual(SPIKE)
    // Every pixel column's lowest and highest are there: the band drawn is the week's.
    const values = drawn.value.filter((v): v is number => v !== null && v !== SPIKE)
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (let k = 0; k < COUNT; k++) {
      if (k === SPIKE_AT) continue
      lo = Math.min(lo, valueAt(k))
      hi = Math.max(hi, valueAt(k))
    }
    expect(Math.min(...values)).toBe(lo)
    expect(Math.max(...values)).toBe(hi)
    expect(await textOf(page.locator('[data-part="range-words"]'))).toMatch(
      /\(7 d\) · [\d,]+ of [\d,]+ points: each pixel's first, last, lowest and highest, and every rule violation/,
    )
    await page.screenshot({ path: join(ARTIFACTS, 'chart-history-week.png') })
  })

  it('while viewing history, live points are not appended (the page stays connected)', async () => {
    const before = await times()
    const ts = await publishNow(10.077)
    const g = gw as TestGateway
    await waitFor(
      'the gateway to judge the reading',
      async () =>
        (await g.get<ChartView>('/api/characteristics/weight/chart?limit=1')).body.points[0]?.ts ===
        ts,
      { timeoutMs: WAIT },
    )
    // The header follows the socket: the reading is shown there…
    await page
      .locator('lw-characteristic-page .now .value', { hasText: '10.077' })
      .waitFor({ timeout: WAIT })
    // …but the chart keeps the week it shows.
    expect(await times()).toEqual(before)
    expect(await mode()).toBe('history')
  })

  it('dragging across the chart asks the gateway for the range selected', async () => {
    const over = page.locator('lw-control-chart .plot[data-pane="i"] .u-over')
    const box = await over.boundingBox()
    if (!box) throw new Error('no plotting area')
    const ts = await times()
    const span = (ts.at(-1) as number) - (ts[0] as number)
    const y = box.y + box.height / 2
    const asked = await rangeRequest(async () => {
      await page.mouse.move(box.x + box.width * 0.4, y)
      await page.mouse.down()
      await page.mouse.move(box.x + box.width * 0.6, y, { steps: 8 })
      await page.mouse.up()
    })
    // Points are evenly spaced in time, so 40 % and 60 % of the width are 40 % and 60 % of the
    // week (within 1 %: the scale's half-point margins and whole pixels).
    expect(Math.abs(asked.from - ((ts[0] as number) + 0.4 * span))).toBeLessThan(0.01 * span)
    expect(Math.abs(asked.to - ((ts[0] as number) + 0.6 * span))).toBeLessThan(0.01 * span)
    await drawnAnswer(asked.body)
    const zoomed = await times()
    expect(zoomed.every((t) => t >= asked.from && t <= asked.to)).toBe(true)
    // The spike (in the middle of the week) is in the range, at its value.
    expect((await drawnI()).value).toContain(SPIKE)
    expect(await page.locator('button[data-range="custom"]').getAttribute('aria-pressed')).toBe(
      'true',
    )
  })

  it('← pans by half the range; Shift and a custom range ask for theirs', async () => {
    const before = chartRequests(0).at(-1)?.url.searchParams
    const from = Number(before?.get('from'))
    const to = Number(before?.get('to'))
    const step = Math.round((to - from) / 2)
    const panned = await rangeRequest(() => page.locator('button[data-pan="earlier"]').click())
    expect([panned.from, panned.to]).toEqual([from - step, to - step])
    await drawnAnswer(panned.body)

    const shift = await rangeRequest(() => page.locator('button[data-range="shift"]').click())
    // The browser runs in UTC: the configured shifts start at 07:30 and 19:30 UTC.
    expect(shift.from).toBe(shiftAt(shift.to, [7.5, 19.5], () => 0).from)
    await drawnAnswer(shift.body)

    await page.locator('button[data-range="custom"]').click()
    const form = page.locator('[data-part="custom-range"]')
    const day = new Date(t0 + 2 * 24 * 3600_000).toISOString().slice(0, 10)
    await form.locator('input[name="from"]').fill(`${day}T06:00`)
    await form.locator('input[name="to"]').fill(`${day}T14:00`)
    const custom = await rangeRequest(() => form.locator('button[type="submit"]').click())
    expect([custom.from, custom.to]).toEqual([
      Date.parse(`${day}T06:00:00Z`),
      Date.parse(`${day}T14:00:00Z`),
    ])
    // 8 h of one reading every 30 s: 960 (or 961) points, fewer than the plot's pixel columns:
    // every one of them, nothing left out.
    expect(custom.body.downsampled).toBe(false)
    expect(custom.body.points.length).toBeGreaterThanOrEqual(960)
    await drawnAnswer(custom.body)
    expect(await textOf(page.locator('[data-part="range-words"]'))).toMatch(
      /\(8 h\) · 96\d points$/,
    )
  })

  it('without its live socket the page reloads the live view every 5 s', async () => {
    const other = await (browser as Browser).context.newPage()
    try {
      // socket.io cannot connect (its HTTP long-polling and its WebSocket refused); REST works.
      await other.route('**/socket.io/**', (route) => route.abort())
      await other.routeWebSocket(/socket\.io/, (ws) => ws.close())
      const seen: string[] = []
      other.on('request', (r) => {
        const url = new URL(r.url())
        if (url.pathname.endsWith('/weight/chart')) seen.push(url.search)
      })
      await other.goto(`${gw?.gateway.urls.http}/?token=${TOKENS.viewer}#/c/weight`)
      await other.locator('lw-characteristic-page h1').waitFor()
      // The first load and two reloads: 10 s and more, bounded.
      await waitFor('two reloads of the chart', () => seen.length >= 3, { timeoutMs: 20_000 })
      expect(seen.every((q) => q === '?limit=500')).toBe(true)
      expect(await other.locator('lw-connection-status').getAttribute('state')).not.toBe(
        'connected',
      )
    } finally {
      await other.close()
    }
  })

  it('Live returns to following the latest points', async () => {
    const since = Date.now()
    await page.locator('button[data-range="live"]').click()
    await waitFor('live again', async () => (await mode()) === 'live', { timeoutMs: WAIT })
    await waitFor('the latest 500 points drawn', async () => (await times()).length === 500, {
      timeoutMs: WAIT,
    })
    const asked = chartRequests(since).map((r) => r.url.search)
    expect(asked).toEqual(['?limit=500'])
    const ts = await publishNow(10.033)
    await waitFor('the new point drawn', async () => (await times()).at(-1) === ts, {
      timeoutMs: WAIT,
    })
    expect(browser?.errors() ?? []).toEqual([])
  })
})
