import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../gateway/api/auth.ts'
import { type Config, parseConfig } from '../gateway/config/index.ts'
import type { AlarmCounts } from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  FedGateway,
  launchBrowser,
  requireFreshBuild,
  textOf as text,
} from './helpers/browser.ts'
import { TOKENS } from './helpers/gateway.ts'
import { freePort, tempDir } from './helpers/index.ts'

/**
 * Kiosk mode on a wall display (issue 11), in a real Chromium against a gateway configured like
 * the demo (config/demo.yaml's characteristics, cleanroom and alarms; its OPC-UA machine is not
 * running, so the CNC cell's tiles show no data but are there). At 1280×720, 1920×1080 and
 * 3840×2160: nothing scrolls, every tile is on the screen, the type and lines grow with the
 * screen; areas rotate; a display token carries the settings; the deviation strip and the alarm
 * banner read their history, so a reload shows the same; a gateway restart is survived.
 */

const WAIT = 10_000
const ROOT = join(import.meta.dirname, '..')
const DEMO = parseConfig(readFileSync(join(ROOT, 'config', 'demo.yaml'), 'utf8'), 'demo.yaml')
const WALL = 'test-kiosk-wall-token-0123456789abcdefghijklm'

/** The demo's characteristics by area ("Site/Area"), from their configured paths. */
const BY_AREA = new Map<string, string[]>()
for (const c of DEMO.characteristics) {
  const [site, area] = c.path.split('/')
  const key = `${site}/${area}`
  BY_AREA.set(key, [...(BY_AREA.get(key) ?? []), c.id])
}
const ALL_IDS = DEMO.characteristics.map((c) => c.id)

/** Which topic feeds a demo characteristic over MQTT. */
function topicOf(id: string): string {
  const source = DEMO.characteristics.find((c) => c.id === id)?.source as {
    mqtt?: { topic: string }
  }
  if (!source.mqtt) throw new Error(`${id} is not read over MQTT`)
  return source.mqtt.topic
}

/** What the tile of a screen measures: type, a line, and what lies outside what is seen. */
interface Geometry {
  viewport: { width: number; height: number }
  document: { width: number; height: number }
  tiles: number
  /** Tiles not wholly inside the viewport and the overview's visible box. */
  outside: string[]
  /** The value's font size and the tile's border width, of the first tile (CSS px). */
  valuePx: number
  borderPx: number
  fit: string | null
  fits: string | null
  area: string | null
}

interface BoxLike {
  left: number
  top: number
  right: number
  bottom: number
}
interface ElementLike {
  shadowRoot: {
    querySelector(s: string): ElementLike | null
    querySelectorAll(s: string): ElementLike[]
  } | null
  getBoundingClientRect(): BoxLike
  getAttribute(name: string): string | null
  closest(selector: string): ElementLike | null
}

/**
 * Reads the geometry in the page once the overview's scale was found for the area it shows (a
 * rotation may have just changed it), in one go (the Node-side tsconfig has no DOM types).
 */
async function geometry(page: Page): Promise<Geometry> {
  const handle = await page.waitForFunction(
    () => {
      const g = globalThis as unknown as {
        innerWidth: number
        innerHeight: number
        document: {
          documentElement: { scrollWidth: number; scrollHeight: number }
          querySelector(s: string): ElementLike | null
        }
        getComputedStyle(e: unknown): { fontSize: string; borderTopWidth: string }
      }
      const app = g.document.querySelector('lw-app') as ElementLike
      const overview = app.shadowRoot?.querySelector('lw-overview') as ElementLike
      if (overview.getAttribute('data-fitted') !== overview.getAttribute('data-area')) return null
      const plant = overview.shadowRoot?.querySelector('.plant') as ElementLike
      const clip = plant.getBoundingClientRect()
      const tiles = overview.shadowRoot?.querySelectorAll('lw-tile') ?? []
      const outside: string[] = []
      for (const t of tiles) {
        const r = t.getBoundingClientRect()
        const inside = (b: BoxLike) =>
          r.left >= b.left - 0.5 &&
          r.top >= b.top - 0.5 &&
          r.right <= b.right + 0.5 &&
          r.bottom <= b.bottom + 0.5
        const screen = { left: 0, top: 0, right: g.innerWidth, bottom: g.innerHeight }
        // On the screen, within the overview's visible box, and within its panel's frame.
        const panel = t.closest('section.panel')?.getBoundingClientRect()
        if (!inside(screen) || !inside(clip) || !panel || !inside(panel))
          outside.push(t.getAttribute('data-id') ?? '?')
      }
      const first = tiles[0]
      const num = first?.shadowRoot?.querySelector('.num')
      const a = first?.shadowRoot?.querySelector('a')
      return {
        viewport: { width: g.innerWidth, height: g.innerHeight },
        document: {
          width: g.document.documentElement.scrollWidth,
          height: g.document.documentElement.scrollHeight,
        },
        tiles: tiles.length,
        outside,
        valuePx: num ? Number.parseFloat(g.getComputedStyle(num).fontSize) : 0,
        borderPx: a ? Number.parseFloat(g.getComputedStyle(a).borderTopWidth) : 0,
        fit: overview.getAttribute('data-fit'),
        fits: overview.getAttribute('data-fits'),
        area: overview.getAttribute('data-area'),
      }
    },
    undefined,
    { timeout: WAIT },
  )
  return (await handle.jsonValue()) as Geometry
}

/** Two frames: a fit scheduled by the last render has run. */
const settle = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const g = globalThis as unknown as { requestAnimationFrame(f: () => void): void }
        g.requestAnimationFrame(() => g.requestAnimationFrame(() => resolve()))
      }),
  )

describe('kiosk mode on a wall display', () => {
  let data: { path: string; remove(): Promise<void> }
  let fed: FedGateway
  let browser: Browser | null = null
  let page: Page
  let closedPort = 0

  const demoLike = (c: Config) => {
    c.title = DEMO.title
    c.characteristics = DEMO.characteristics
    c.cleanrooms = DEMO.cleanrooms
    c.spc = DEMO.spc
    c.alarms = DEMO.alarms
    c.nonconformance = DEMO.nonconformance
    // The CNC cell's machine is not running: a port nothing listens on.
    c.opcua = {
      ...DEMO.opcua,
      servers: DEMO.opcua.servers.map((s) => ({
        ...s,
        endpoint: `opc.tcp://127.0.0.1:${closedPort}`,
      })),
    }
    c.auth.tokens.push(
      ...parseConfig(
        `auth: { tokens: [ { id: wall-machining, role: viewer, sha256: ${sha256Hex(WALL)}, kiosk: true, area: Machining } ] }`,
        'wall.yaml',
      ).auth.tokens,
    )
  }
  const startGateway = () => fed.start('mqtt: { broker: { port: 0 } }\n', demoLike)
  const strip = () => page.locator('lw-deviation-strip')

  /** Opens the dashboard at `query` and waits until the overview has fitted `count` tiles. */
  async function open(query: string, count: number): Promise<Geometry> {
    // With the viewer token each time: a test that failed with another leaves none behind.
    await page.goto(`${fed.base}/?token=${TOKENS.viewer}&${query}`)
    try {
      await expect.poll(() => page.locator('lw-tile').count(), { timeout: WAIT }).toBe(count)
    } catch (e) {
      await page.screenshot({ path: join(ARTIFACTS, 'kiosk-failed.png') })
      throw e
    }
    await page.locator('lw-overview[data-fits]').waitFor()
    await settle(page)
    return geometry(page)
  }

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    closedPort = await freePort()
    data = await tempDir('linewatch-kiosk-')
    fed = new FedGateway(data.path)
    await startGateway()
    // Readings, and deviations before any page is open: an action excursion of the fill weight
    // (it opens an alarm and an NC), a warm room, a pressure cascade lost.
    for (const v of [500.2, 499.8, 507.1]) await fed.publish(topicOf('fill-weight'), v)
    for (const v of [2.21, 2.19, 2.2, 2.22, 2.18]) await fed.publish(topicOf('cap-torque'), v)
    await fed.publish(topicOf('label-defectives'), { count: 2, size: 100 })
    for (const v of [20.1, 22.6]) await fed.publish(topicOf('room-temperature'), v)
    await fed.publish(topicOf('room-humidity'), 44)
    for (const v of [14.8, 9.2]) await fed.publish(topicOf('differential-pressure'), v)
    await fed.publish(topicOf('particles-05'), 310)
    await fed.publish(topicOf('particles-5'), 2)
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
    // The viewer token, kept by the browser as a wall display keeps it.
    await page.goto(`${fed.base}/?token=${TOKENS.viewer}`)
    await page.locator('lw-tile').first().waitFor()
  })

  afterAll(async () => {
    const errors: unknown[] = []
    for (const step of [() => browser?.close(), () => fed?.stop(), () => data?.remove()]) {
      try {
        await step()
      } catch (e) {
        errors.push(e)
      }
    }
    if (errors.length > 0) throw errors[0]
  })

  it('fits the whole plant on the screen from 1280×720 to 3840×2160, type and lines growing with it', async () => {
    const seen = new Map<number, Geometry>()
    for (const [width, height] of [
      [1280, 720],
      [1920, 1080],
      [3840, 2160],
    ] as const) {
      await page.setViewportSize({ width, height })
      const g = await open('kiosk=1', ALL_IDS.length)
      await page.screenshot({ path: join(ARTIFACTS, `kiosk-${width}x${height}.png`) })
      expect(g.viewport).toEqual({ width, height })
      expect(g.fits, `${width}×${height}`).toBe('yes')
      expect(g.document.height, `${width}×${height}: document height`).toBeLessThanOrEqual(height)
      expect(g.document.width, `${width}×${height}: document width`).toBeLessThanOrEqual(width)
      expect(g.outside, `${width}×${height}: tiles cut off`).toEqual([])
      expect(g.area).toBe('')
      seen.set(width, g)
    }
    const hd = seen.get(1920) as Geometry
    const uhd = seen.get(3840) as Geometry
    expect(uhd.valuePx).toBeGreaterThanOrEqual(1.8 * hd.valuePx)
    expect(uhd.borderPx).toBeGreaterThanOrEqual(1.8 * hd.borderPx)
    // No navigation and nobody signed in on a wall: the kiosk's header only.
    expect(await page.locator('lw-app nav').count()).toBe(0)
    expect(await page.locator('[data-part="sign-out"]').count()).toBe(0)
    await page.locator('[data-part="kiosk-header"]').waitFor()
    // The strip shows the deviations that happened before the page was opened.
    await strip()
      .locator('li[data-characteristic="fill-weight"][data-cause="action-high"]')
      .waitFor()
    await strip()
      .locator('li[data-characteristic="differential-pressure"][data-cause="action-low"]')
      .waitFor()
    await strip()
      .locator('li[data-characteristic="room-temperature"][data-cause="action-high"]')
      .waitFor()
  })

  it('rotates between the areas, fitting each', async () => {
    await page.setViewportSize({ width: 1920, height: 1080 })
    await page.goto(`${fed.base}/?token=${TOKENS.viewer}&kiosk=1&rotate=2`)
    // Each area in turn (the demo has three), its tiles alone, its name above them.
    const first = await waitArea(page, null)
    const second = await waitArea(page, first.area)
    const third = await waitArea(page, second.area)
    expect(new Set([first.area, second.area, third.area])).toEqual(new Set(BY_AREA.keys()))
    for (const shown of [first, second, third]) {
      expect(shown.ids).toEqual([...(BY_AREA.get(shown.area) ?? [])].sort())
      expect(shown.name).toContain(shown.area.split('/')[1] as string)
    }
    await page.locator('lw-overview[data-fits="yes"]').waitFor()
    await settle(page)
    const g = await geometry(page)
    expect(g.outside).toEqual([])
    expect(g.document.height).toBeLessThanOrEqual(1080)
  })

  it('takes kiosk mode and its area from a display token', async () => {
    await page.goto(`${fed.base}/?token=${WALL}`)
    await expect
      .poll(
        async () =>
          (
            await page
              .locator('lw-tile')
              .evaluateAll((ts) => ts.map((t) => t.getAttribute('data-id')))
          ).sort(),
        {
          timeout: WAIT,
        },
      )
      .toEqual([...(BY_AREA.get('Dortmund/Machining') ?? [])].sort())
    await page.locator('lw-overview[data-area="Dortmund/Machining"][data-fits="yes"]').waitFor()
    expect(await page.locator('lw-app nav').count()).toBe(0)
    // The OPC-UA machine is away: its tiles are there, without data.
    await page.locator('lw-tile[data-id="bore-diameter"][data-status="no-data"]').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-area-1920x1080.png') })
    // Back to the viewer token for the rest.
    await page.goto(`${fed.base}/?token=${TOKENS.viewer}&kiosk=1`)
    await page.locator('lw-overview[data-area=""]').waitFor()
  })

  it('shows the same deviations and alarm counts after a reload', async () => {
    await open('kiosk=1', ALL_IDS.length)
    // A deviation while the page is open: it comes live, and is still there after the reload.
    await fed.publish(topicOf('room-humidity'), 61)
    const humid = strip().locator(
      'li[data-characteristic="room-humidity"][data-cause="action-high"]',
    )
    await humid.waitFor()
    const entries = () =>
      strip()
        .locator('li')
        .evaluateAll((lis) =>
          lis.map(
            (li) => `${li.getAttribute('data-characteristic')} ${li.getAttribute('data-cause')}`,
          ),
        )
    const counts = () =>
      page
        .locator('lw-alarm-banner .prio')
        .evaluateAll((ps) =>
          ps.map(
            (p) =>
              `${p.getAttribute('data-priority')} ${p.getAttribute('data-active')} ${p.getAttribute('data-unacknowledged')}`,
          ),
        )
    // The banner shows the gateway's counts, before the reload and after it (alarms with
    // on-delays may change meanwhile: each is compared with the gateway at that moment).
    const gateway = async () => {
      const { body } = await fed.test.get<AlarmCounts>('/api/alarms/counts')
      return (['critical', 'high', 'medium', 'low'] as const).map(
        (p) => `${p} ${body[p]?.active ?? 0} ${body[p]?.unacknowledged ?? 0}`,
      )
    }
    await expect
      .poll(async () => (await counts()).join() === (await gateway()).join(), { timeout: WAIT })
      .toBe(true)
    const before = { entries: await entries(), counts: await counts() }
    // The fill weight's HH alarm at least is active and waits for an acknowledgement.
    expect(before.counts.some((c) => /^high [1-9]\d* [1-9]/.test(c))).toBe(true)
    expect(before.entries.length).toBeGreaterThanOrEqual(4)
    await page.reload()
    await humid.waitFor()
    await expect.poll(entries, { timeout: WAIT }).toEqual(before.entries)
    await expect
      .poll(async () => (await counts()).join() === (await gateway()).join(), { timeout: WAIT })
      .toBe(true)
  })

  it('survives a gateway restart: reconnects, and goes on fitted and live', async () => {
    await open('kiosk=1', ALL_IDS.length)
    await fed.stop()
    await page.locator('lw-connection-status:not([state="connected"])').waitFor()
    await startGateway()
    await page.locator('lw-connection-status[state="connected"]').waitFor({ timeout: 20_000 })
    await fed.publish(topicOf('fill-weight'), 500.4)
    await expect
      .poll(() => text(page.locator('lw-tile[data-id="fill-weight"] .value')), { timeout: WAIT })
      .toMatch(/^500\.4\s*g$/)
    await settle(page)
    const g = await geometry(page)
    expect(g.fits).toBe('yes')
    expect(g.outside).toEqual([])
    expect(g.document.height).toBeLessThanOrEqual(g.viewport.height)
    const b = browser as Browser
    expect(
      b
        .errors()
        .filter(
          (e) => !/Failed to load resource|WebSocket|socket\.io|ERR_FAILED|ERR_CONNECTION/i.test(e),
        ),
    ).toEqual([])
  })
})

/**
 * The area shown once it is set and differs from `other` (bounded by WAIT), with the tiles and
 * the name shown with it: read at one moment, between two renders.
 */
async function waitArea(
  page: Page,
  other: string | null,
): Promise<{ area: string; ids: string[]; name: string }> {
  const handle = await page.waitForFunction(
    (previous) => {
      const d = (
        globalThis as unknown as { document: { querySelector(s: string): ElementLike | null } }
      ).document
      const overview = d.querySelector('lw-app')?.shadowRoot?.querySelector('lw-overview')
      const area = overview?.getAttribute('data-area')
      if (!overview || !area || area === previous) return null
      const root = overview.shadowRoot
      const ids = [...(root?.querySelectorAll('lw-tile') ?? [])].map(
        (t) => t.getAttribute('data-id') ?? '?',
      )
      const name =
        (root?.querySelector('[data-part="area"]') as { textContent?: string } | null)
          ?.textContent ?? ''
      return { area, ids: ids.sort(), name }
    },
    other,
    { timeout: WAIT },
  )
  return (await handle.jsonValue()) as { area: string; ids: string[]; name: string }
}
