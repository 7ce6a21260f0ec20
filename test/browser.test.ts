import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NonconformanceView } from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  FedGateway,
  launchBrowser,
  requireFreshBuild,
  textOf as text,
} from './helpers/browser.ts'
import { TOKENS } from './helpers/gateway.ts'
import { tempDir } from './helpers/index.ts'

/**
 * The dashboard end to end: a real gateway (port 0, temporary data directory), a real Chromium,
 * readings published over MQTT. Every wait is bounded; the browser and the gateway are closed in
 * afterAll whatever happened.
 */

const XSS_NAME = '<img src=x onerror=window.__xss=1>'
const WAIT = 10_000

const CONFIG = `
title: Browser test plant
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    decimals: 1
    source: { mqtt: { topic: test/fill } }
    limits: { alertLow: 497, alertHigh: 503, actionLow: 495, actionHigh: 505 }
    chart: { given: { center: 500, sigma: 1 } }
  - id: torque
    name: Cap torque
    path: Plant/Filling/Line 1/Capper
    unit: N·m
    decimals: 2
    source: { mqtt: { topic: test/torque } }
    chart: { baselineCount: 5 }
  - id: dp
    name: Differential pressure
    path: Plant/Cleanroom/Grade B/Fill zone
    unit: Pa
    decimals: 1
    source: { mqtt: { topic: test/dp } }
    limits: { actionLow: 10, alertLow: 12 }
    chart: { given: { center: 15, sigma: 0.5 } }
  - id: ph
    name: Buffer pH
    path: Plant/Formulation/Tank 3
    unit: pH
    decimals: 2
    source: { mqtt: { topic: test/ph } }
    limits: { alertLow: 6.8, alertHigh: 7.4 }
    chart: { given: { center: 7.1, sigma: 0.1 } }
  - id: skew
    name: Label skew
    path: Plant/Filling/Line 2/Labeller
    unit: mm
    source: { mqtt: { topic: test/skew } }
    chart: { baselineCount: 25 }
  - id: rh
    name: Relative humidity
    path: Plant/Cleanroom/Grade B/Gowning
    unit: "%"
    decimals: 0
    source: { mqtt: { topic: test/rh } }
  - id: xss
    name: ${JSON.stringify(XSS_NAME)}
    path: Plant/Cleanroom/Grade B/Gowning
    unit: "<b>u</b>"
    source: { mqtt: { topic: test/xss } }
    chart: { baselineCount: 5 }
`

/** The same plant after an edit: a characteristic renamed, one added. */
const CONFIG_CHANGED = `${CONFIG.replace('name: Cap torque', 'name: Cap torque, capper 2')}
  - id: vibration
    name: Capper vibration
    path: Plant/Filling/Line 1/Capper
    unit: mm/s
    source: { mqtt: { topic: test/vibration } }
`

/** The little of a canvas the test reads in the page (the Node-side tsconfig has no DOM types). */
interface CanvasLike {
  width: number
  height: number
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> }
  } | null
}

describe('dashboard in a real browser against a real gateway', () => {
  let data: { path: string; remove(): Promise<void> }
  let fed: FedGateway
  let browser: Browser | null = null
  let page: Page
  let base = ''
  const publish = (topic: string, value: number) => fed.publish(topic, value)

  async function startGateway(config = CONFIG): Promise<void> {
    await fed.start(config)
    base = fed.base
  }
  const stopGateway = () => fed.stop()

  const tile = (id: string) => page.locator(`lw-tile[data-id="${id}"]`)
  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    data = await tempDir('linewatch-browser-')
    fed = new FedGateway(data.path)
    await startGateway()
    for (const [i, v] of [500.2, 499.6, 500.4, 499.9].entries())
      await publish('test/fill', v + i * 0.01)
    for (const v of [2.01, 1.98, 2.03, 1.99, 2.02, 2.0]) await publish('test/torque', v)
    for (const v of [15.1, 14.8, 15.3]) await publish('test/dp', v)
    for (const v of [3.1, 2.9, 3.3, 3.0, 3.2, 3.1]) await publish('test/xss', v)
    for (const v of [7.1, 7.0, 7.45]) await publish('test/ph', v)
    for (const v of [0.41, 0.38, 0.44]) await publish('test/skew', v)
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
  })

  afterAll(async () => {
    const errors: unknown[] = []
    for (const step of [() => browser?.close(), () => stopGateway(), () => data?.remove()]) {
      try {
        await step()
      } catch (e) {
        errors.push(e)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  })

  it('asks for a sign-in (or an access token) when the gateway needs one, and refuses a wrong token', async () => {
    await page.goto(`${base}/#/`)
    await page.locator('lw-sign-in form[data-form="sign-in"]').waitFor()
    await page.locator('lw-sign-in details summary').click()
    const form = page.locator('lw-sign-in form[data-form="token"]')
    await form.locator('input').fill('not-a-valid-token')
    await form.locator('button[type="submit"]').click()
    await expect
      .poll(() => text(page.locator('lw-sign-in [data-part="sign-in-problem"]')), { timeout: WAIT })
      .toMatch(/refused/)
    await form.locator('input').fill(TOKENS.viewer)
    await form.locator('button[type="submit"]').click()
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    await tile('fill').waitFor()
    await page.locator('header button', { hasText: 'Sign out' }).click()
    await page.locator('lw-sign-in form[data-form="sign-in"]').waitFor()
    expect(await page.evaluate(() => localStorage.getItem('linewatch.token'))).toBeNull()
  })

  it('takes the token from the address, stores it and removes it from the address bar', async () => {
    await page.goto(`${base}/?token=${TOKENS.viewer}#/`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    expect(page.url()).toBe(`${base}/#/`)
    expect(await page.evaluate(() => localStorage.getItem('linewatch.token'))).toBe(TOKENS.viewer)
    await page.evaluate(() => {
      ;(globalThis as unknown as { __noReload: boolean }).__noReload = true
    })
  })

  it('shows the plant overview, its tiles grouped by site, area, line and cell', async () => {
    await tile('fill').waitFor()
    const line1 = page.locator('section.panel[data-key="Plant/Filling/Line 1"]')
    await expect(text(line1.locator('h3'))).resolves.toMatch(/Filling\s*›\s*Line 1/)
    await line1
      .locator('[data-key="Plant/Filling/Line 1/Filler"] lw-tile[data-id="fill"]')
      .waitFor()
    await line1
      .locator('[data-key="Plant/Filling/Line 1/Capper"] lw-tile[data-id="torque"]')
      .waitFor()
    const cleanroom = page.locator('section.panel[data-key="Plant/Cleanroom/Grade B"]')
    await cleanroom
      .locator('[data-key="Plant/Cleanroom/Grade B/Fill zone"] lw-tile[data-id="dp"]')
      .waitFor()
    await expect(text(page.locator('section.site[data-key="Plant"] h2'))).resolves.toMatch(/plant/i)
    // Latest value with the configured decimals and unit; normal tiles carry no colour and no state word.
    await expect
      .poll(() => text(tile('dp').locator('.value')), { timeout: WAIT })
      .toMatch(/^15\.3\s*Pa$/)
    expect(await tile('dp').getAttribute('data-status')).toBe('normal')
    expect(await tile('torque').getAttribute('data-status')).toBe('normal')
    expect(await text(tile('dp').locator('.state'))).toBe('')
  })

  it('says each abnormal or incomplete state in words, not only in colour', async () => {
    const says = async (id: string, status: string, words: string) => {
      await page.locator(`lw-tile[data-id="${id}"][data-status="${status}"]`).waitFor()
      expect(await text(tile(id).locator('.state'))).toBe(words)
    }
    await says('ph', 'alert', 'ALERT HIGH')
    await says('skew', 'baseline', 'BASELINE 3/25')
    await says('rh', 'no-data', 'NO DATA')
    expect(await text(page.locator('lw-legend ul'))).toMatch(
      /ACTION[\s\S]*ALERT[\s\S]*OUT OF CONTROL[\s\S]*BASELINE[\s\S]*NO DATA/,
    )
  })

  it('shows an untrusted name as literal text and runs nothing from it', async () => {
    await tile('xss').locator('.name').waitFor()
    expect(await text(tile('xss').locator('.name'))).toBe(XSS_NAME)
    expect(await text(tile('xss').locator('.unit'))).toBe('<b>u</b>')
    expect(await page.locator('img').count()).toBe(0)
    expect(
      await page.evaluate(() => (globalThis as unknown as { __xss?: unknown }).__xss),
    ).toBeUndefined()
  })

  it('turns a tile to ACTION live when a reading passes the action limit, and lists the deviation', async () => {
    expect(await tile('fill').getAttribute('data-status')).toBe('normal')
    await publish('test/fill', 506.5)
    await page.locator('lw-tile[data-id="fill"][data-status="action"]').waitFor()
    expect(await text(tile('fill').locator('.state'))).toBe('ACTION HIGH')
    expect(await text(tile('fill').locator('.value'))).toMatch(/^506\.5\s*g$/)
    const deviation = page.locator(
      'lw-deviation-strip li[data-characteristic="fill"][data-cause="action-high"]',
    )
    await deviation.waitFor()
    expect(await text(deviation)).toMatch(
      /ACTION HIGH[\s\S]*Fill weight[\s\S]*506\.5 g[\s\S]*limit 505\.0/,
    )
    await expect
      .poll(() => tile('fill').locator('.nc').textContent(), { timeout: WAIT })
      .toBe('1 NC')
    expect(
      await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload),
    ).toBe(true)
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png') })
  })

  it('lists the new nonconformance, adds another one live, and opens its detail', async () => {
    await page.locator('header nav a', { hasText: 'Nonconformances' }).click()
    const fill = page.locator('lw-nc-list tr[data-nc]', { hasText: 'Fill weight' })
    await fill.waitFor()
    const row = await text(fill)
    expect(row).toMatch(/NC-\d+/)
    expect(row).toContain('ACTION HIGH')
    expect(row).toContain('open')
    // A second excursion while the list is on screen: its NC arrives by the live `nc` event, on top.
    await publish('test/dp', 9.4)
    const dp = page.locator('lw-nc-list tr[data-nc]', { hasText: 'Differential pressure' })
    await dp.waitFor()
    expect(await text(dp)).toContain('ACTION LOW')
    expect(await text(page.locator('lw-nc-list tbody tr').first())).toContain(
      'Differential pressure',
    )
    await fill.locator('a').first().click()
    await page.waitForURL(/#\/nc\/\d+$/)
    await page.locator('lw-nc-detail h1', { hasText: 'Fill weight' }).waitFor()
    await page.locator('lw-nc-detail lw-readings-chart canvas').first().waitFor()
    expect(await text(page.locator('lw-nc-detail tr[data-limit="action-high"]'))).toMatch(
      /Action high\s*505\.0/,
    )
    // Issue 7 §7: the readings at their times (a time-proportional axis), the trigger ringed.
    const id = Number(page.url().split('/').pop())
    const nc = (await fed.test.get<NonconformanceView>(`/api/nonconformances/${id}`)).body
    const chart = page.locator('lw-nc-detail lw-readings-chart')
    expect(await chart.getAttribute('data-axis')).toBe('time')
    expect(await chart.getAttribute('data-source')).toBe('readings')
    const plot = await chart.evaluate((el) =>
      (
        el as unknown as {
          drawn(): { labels: string[]; data: (number | null)[][]; time: boolean } | null
        }
      ).drawn(),
    )
    if (!plot) throw new Error('the NC chart should be drawn')
    expect(plot.time).toBe(true)
    const readings = [...nc.readings].sort((a, b) => a.ts - b.ts)
    expect(plot.data[0]).toEqual(readings.map((r) => r.ts))
    const ring = plot.data[plot.labels.indexOf('Trigger')] as (number | null)[]
    expect(ring.filter((v) => v !== null)).toEqual([506.5])
    expect(plot.data[0]?.[ring.indexOf(506.5)]).toBe(nc.trigger.ts)
    expect(plot.labels).toEqual(expect.arrayContaining(['Action high', 'Alert high', 'UCL']))
    expect(await text(page.locator('lw-nc-detail [data-part="chart-heading"]'))).toBe(
      'Readings around the trigger',
    )
    await page.screenshot({ path: join(ARTIFACTS, 'nc-detail.png') })
  })

  it('opens a characteristic from its tile and draws its live control chart with its limits', async () => {
    await page.locator('header nav a', { hasText: 'Overview' }).click()
    await tile('fill').locator('a').click()
    await page.waitForURL(/#\/c\/fill$/)
    const chart = page.locator('lw-control-chart')
    await chart.locator('#i canvas').waitFor()
    await chart.locator('#mr canvas').waitFor()
    for (const [key, expected] of [
      ['action-high', 'Action high 505.0'],
      ['alert-high', 'Alert high 503.0'],
      ['ucl', 'UCL 503.0'],
      ['cl', 'CL 500.0'],
      ['lcl', 'LCL 497.0'],
      ['action-low', 'Action low 495.0'],
    ]) {
      expect(await text(chart.locator(`li[data-limit="${key}"]`))).toBe(expected)
    }
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: WAIT })
      .toBe(5)
    // The violation is named (N1: beyond 3σ) and the action limit is drawn in its colour.
    await page.locator('lw-characteristic-page td', { hasText: 'N1: a point beyond 3σ' }).waitFor()
    const red = await chart.evaluate((el) => {
      const root = (el as unknown as { shadowRoot: { querySelector(s: string): unknown } | null })
        .shadowRoot
      const canvas = root?.querySelector('#i canvas') as CanvasLike | null
      const ctx = canvas?.getContext('2d')
      if (!canvas || !ctx) return -1
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height)
      let n = 0
      for (let i = 0; i < data.length; i += 4) {
        if (
          (data[i] as number) > 190 &&
          (data[i + 1] as number) < 80 &&
          (data[i + 2] as number) < 80
        )
          n++
      }
      return n
    })
    expect(red).toBeGreaterThan(100)
    // Live points, without reloading.
    await publish('test/fill', 500.3)
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: WAIT })
      .toBe(6)
    await page.screenshot({ path: join(ARTIFACTS, 'chart.png') })
  })

  it('opens the characteristic\'s own NCs from its "N open NC" link', async () => {
    // On the fill page (the test before): the fill NC is open, and the dp one besides.
    const link = page.locator('lw-characteristic-page a[data-part="open-ncs"]')
    await expect.poll(() => text(link), { timeout: WAIT }).toMatch(/^\d+ open NC$/)
    const open = Number.parseInt(await text(link), 10)
    await link.click()
    await page.waitForURL(/#\/nc\?characteristic=fill$/)
    const rows = page.locator('lw-nc-list tr[data-nc]')
    await rows.first().waitFor()
    await expect.poll(() => rows.count(), { timeout: WAIT }).toBe(open)
    for (const row of await rows.all()) expect(await text(row)).toContain('Fill weight')
    expect(await text(page.locator('lw-nc-list [data-part="characteristic-filter"]'))).toMatch(
      /Characteristic\s+Fill weight\s+only/,
    )
    // Every characteristic again: the dp NC is back.
    await page.locator('lw-nc-list [data-part="characteristic-filter"] a').click()
    await page.waitForURL(/#\/nc$/)
    await page.locator('lw-nc-list tr[data-nc]', { hasText: 'Differential pressure' }).waitFor()
    expect(await page.locator('lw-nc-list [data-part="characteristic-filter"]').count()).toBe(0)
  })

  it('resynchronises by itself when the gateway restarts on the same port and data', async () => {
    const b = browser as Browser
    await page.locator('header nav a', { hasText: 'Overview' }).click()
    await tile('fill').waitFor()
    // A second tab on the fill chart: its watch must be renewed after the restart.
    const tab = await b.context.newPage()
    tab.setDefaultTimeout(WAIT)
    await tab.goto(`${base}/#/c/fill`)
    const chart = tab.locator('lw-control-chart')
    await chart.locator('#i canvas').waitFor({ timeout: WAIT })
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: WAIT })
      .toBeGreaterThan(0)
    const pointsBefore = Number(await chart.getAttribute('data-points'))

    // The gateway comes back with a changed configuration (a renamed and a new characteristic):
    // no live event carries names or new characteristics, only a refetch after reconnecting does.
    await stopGateway()
    await page.locator('lw-connection-status:not([state="connected"])').waitFor()
    await page.locator('lw-overview .stale').waitFor()
    await startGateway(CONFIG_CHANGED)
    await page.locator('lw-connection-status[state="connected"]').waitFor({ timeout: 20_000 })
    await page.locator('lw-overview .stale').waitFor({ state: 'detached' })
    await expect
      .poll(() => text(tile('torque').locator('.name')), { timeout: WAIT })
      .toBe('Cap torque, capper 2')
    await page
      .locator(
        'section.panel[data-key="Plant/Filling/Line 1"] lw-tile[data-id="vibration"][data-status="no-data"]',
      )
      .waitFor()
    // And new readings keep coming live, to the overview and to the chart it watches again.
    await tab.locator('lw-connection-status[state="connected"]').waitFor({ timeout: 20_000 })
    await publish('test/torque', 2.04)
    await publish('test/fill', 500.6)
    await expect
      .poll(() => text(tile('torque').locator('.value')), { timeout: WAIT })
      .toMatch(/^2\.04\s*N·m$/)
    await expect
      .poll(() => text(tile('fill').locator('.value')), { timeout: WAIT })
      .toMatch(/^500\.6\s*g$/)
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: WAIT })
      .toBe(pointsBefore + 1)
    expect(
      await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload),
    ).toBe(true)
    await tab.close()
    // Refused connections while the gateway was away are expected; nothing else may have failed.
    expect(
      b.errors().filter((e) => !/Failed to load resource|WebSocket|socket\.io|ERR_FAILED/i.test(e)),
    ).toEqual([])
  })
})
