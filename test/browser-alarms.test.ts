import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlarmCounts, AlarmKpisView, AlarmView } from '../gateway/contract.ts'
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
 * Alarm management on the dashboard end to end (issue 8): a real gateway (port 0, temporary data
 * directory) fed over MQTT, a real Chromium at 1080p. The banner counts per priority, the alarm
 * list acknowledges (one, and several together) and shelves, the characteristic page does the
 * same, a viewer is offered neither, the annunciator arms, sounds and is silenced, and the KPI
 * page shows the figures the API computes. Every wait is bounded.
 */

const WAIT = 15_000

const CONFIG = `
title: Alarm test plant
mqtt: { broker: { port: 0 } }
alarms: { maxShelveMinutes: 120 }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    decimals: 1
    source: { mqtt: { topic: alarms/fill } }
    limits: { alertLow: 497, alertHigh: 503, actionLow: 495, actionHigh: 505 }
    chart: { given: { center: 500, sigma: 1 } }
    alarms: { spc: [] }
  - id: dp
    name: Differential pressure
    path: Plant/Cleanroom/Grade B/Fill zone
    unit: Pa
    decimals: 1
    source: { mqtt: { topic: alarms/dp } }
    limits: { actionLow: 10, alertLow: 12 }
    chart: { given: { center: 15, sigma: 0.5 } }
    alarms: { spc: [] }
`

describe('alarm management in a real browser against a real gateway', () => {
  let data: { path: string; remove(): Promise<void> }
  let fed: FedGateway
  let browser: Browser | null = null
  let page: Page
  let base = ''
  const publish = (topic: string, value: number) => fed.publish(topic, value)

  const banner = () => page.locator('lw-alarm-banner')
  /** The banner's counts of one priority, e.g. "1/1" (active/unacknowledged). */
  const counts = async (priority: string) => {
    const el = banner().locator(`[data-priority="${priority}"]`)
    return `${await el.getAttribute('data-active')}/${await el.getAttribute('data-unacknowledged')}`
  }
  const annunciator = () => banner().getAttribute('data-annunciator')
  /** The alarm list page's element (the characteristic page has its own, deeper). */
  const list = () => page.locator('main > lw-alarm-list')
  const row = (id: string, scope: Locator = page.locator('lw-alarm-list')) =>
    scope.locator(`tr[data-alarm="${id}"]`)
  const inState = (id: string, state: string, scope: Locator = page.locator('lw-alarm-list')) =>
    scope.locator(`tr[data-alarm="${id}"][data-state="${state}"]`)
  const nav = (name: string) => page.locator('header nav a', { hasText: new RegExp(`^${name}$`) })

  async function startGateway(): Promise<void> {
    await fed.start(CONFIG)
    base = fed.base
  }
  const stopGateway = () => fed.stop()

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    data = await tempDir('linewatch-browser-alarms-')
    fed = new FedGateway(data.path)
    await startGateway()
    for (const v of [500.2, 499.8, 500.1]) await publish('alarms/fill', v)
    for (const v of [15.1, 14.9]) await publish('alarms/dp', v)
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
  })

  afterAll(async () => {
    const errors: unknown[] = []
    const steps = [() => browser?.close(), () => stopGateway(), () => data?.remove()]
    for (const step of steps) {
      try {
        await step()
      } catch (e) {
        errors.push(e)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  })

  it('shows the alarm banner on every page, all priorities at zero, sound off', async () => {
    await page.goto(`${base}/?token=${TOKENS.operator}#/`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    await banner().locator('[data-priority="critical"]').waitFor()
    for (const p of ['critical', 'high', 'medium', 'low']) expect(await counts(p)).toBe('0/0')
    // Highest priority first, each said in words.
    expect(await text(banner().locator('[data-part="counts"]'))).toMatch(
      /^.?\s*CRITICAL 0 active · 0 unack .?\s*HIGH 0 active · 0 unack .?\s*MEDIUM 0 active · 0 unack .?\s*LOW 0 active · 0 unack$/,
    )
    expect(await text(banner().locator('[data-part="headline"]'))).toBe(
      'No alarm waiting for acknowledgement.',
    )
    expect(await annunciator()).toBe('off')
    await nav('Nonconformances').click()
    await page.locator('lw-nc-list h1').waitFor()
    expect(await banner().count()).toBe(1)
  })

  it('raises HIGH in the banner live when a reading passes the action limit, with its message', async () => {
    await publish('alarms/fill', 506.5)
    await expect.poll(() => counts('high'), { timeout: WAIT }).toBe('1/1')
    // The alert limit (H, medium) is passed too.
    await expect.poll(() => counts('medium'), { timeout: WAIT }).toBe('1/1')
    expect(await counts('critical')).toBe('0/0')
    await expect
      .poll(() => text(banner().locator('[data-part="headline"]')), { timeout: WAIT })
      .toMatch(
        /^HIGH · Fill weight above the action limit \(HH\): 506\.5 g, limit 505 g · Unacknowledged · active/,
      )
    await page.screenshot({ path: join(ARTIFACTS, 'alarm-banner.png') })
  })

  it('lists the alarms and lets the operator acknowledge one; the banner follows', async () => {
    await banner().locator('[data-part="counts"]').click()
    await page.waitForURL(/#\/alarms$/)
    await expect
      .poll(() => nav('Alarms').getAttribute('aria-current'), { timeout: WAIT })
      .toBe('page')
    const hh = row('fill:HH')
    await hh.waitFor()
    expect(await hh.getAttribute('data-state')).toBe('unack-active')
    expect(await text(hh.locator('[data-part="priority"]'))).toBe('HIGH')
    expect(await text(hh.locator('[data-part="state"]'))).toBe('Unacknowledged · active')
    expect(await text(hh.locator('[data-part="message"]'))).toBe(
      'Fill weight above the action limit (HH): 506.5 g, limit 505 g',
    )
    expect(await text(hh.locator('[data-part="value"]'))).toBe('506.5 g · limit 505.0 g')
    expect(await hh.locator('a[data-part="characteristic"]').getAttribute('href')).toBe('#/c/fill')
    expect(await text(hh.locator('[data-part="active-since"]'))).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*for \d/,
    )
    // Highest priority first.
    expect(
      await list()
        .locator('tr[data-alarm]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-alarm'))),
    ).toEqual(['fill:HH', 'fill:H'])
    // An operator is not offered what only an engineer may do, and is told why.
    expect(await hh.locator('button[data-act="out-of-service"]').count()).toBe(0)
    expect(await text(list().locator('[data-part="role-note"]'))).toMatch(
      /^Your role \(operator\) cannot put alarms out of service/,
    )

    await hh.locator('button[data-act="acknowledge"]').click()
    await inState('fill:HH', 'ack-active').waitFor()
    expect(await text(hh.locator('[data-part="state"]'))).toBe('Acknowledged · active')
    await expect.poll(() => counts('high'), { timeout: WAIT }).toBe('1/0')
    expect(await hh.locator('button[data-act="acknowledge"]').count()).toBe(0)
    // The banner now names the medium alarm, the most urgent one still unacknowledged.
    await expect
      .poll(() => text(banner().locator('[data-part="message"]')), { timeout: WAIT })
      .toBe('Fill weight above the alert limit (H): 506.5 g, limit 503 g')
  })

  it('refuses a shelve beyond the maximum, shelves with a reason and minutes, and shows it as shelved', async () => {
    const h = row('fill:H')
    await h.locator('button[data-act="shelve"]').click()
    const form = list().locator('tr[data-detail-for="fill:H"] form[data-act="shelve"]')
    await form.waitFor()
    // Too short a reason is caught before it is sent.
    await form.locator('input[name="reason"]').fill('no')
    await form.locator('button[type="submit"]').click()
    expect(await text(form.locator('[data-part="form-problem"]'))).toMatch(/at least 3 characters/)
    // Beyond alarms.maxShelveMinutes (from the session): said before it is sent.
    await form.locator('input[name="reason"]').fill('Level sensor being recalibrated')
    await form.locator('input[name="minutes"]').fill('500')
    await form.locator('button[type="submit"]').click()
    await expect
      .poll(() => text(form.locator('[data-part="form-problem"]')), { timeout: WAIT })
      .toBe('An alarm may be shelved for at most 120 minutes.')
    expect(await h.getAttribute('data-state')).toBe('unack-active')

    await form.locator('input[name="minutes"]').fill('30')
    await form.locator('button[type="submit"]').click()
    await inState('fill:H', 'shelved').waitFor()
    expect(await form.count()).toBe(0)
    expect(await text(h.locator('[data-part="state"]'))).toBe('Shelved')
    expect(await text(h.locator('[data-part="shelved"]'))).toMatch(
      /^until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \((29|30) min \d\d s left\) · by operator · “Level sensor being recalibrated”$/,
    )
    expect(await h.locator('button[data-act="unshelve"]').count()).toBe(1)
    // It leaves the banner: medium nothing active, nothing unacknowledged.
    await expect.poll(() => counts('medium'), { timeout: WAIT }).toBe('0/0')
    expect(await counts('high')).toBe('1/0')

    // The active list no longer holds it; the shelved list does.
    await list().locator('select[name="state"]').selectOption('active')
    await row('fill:HH').waitFor()
    await row('fill:H').waitFor({ state: 'detached' })
    await list().locator('select[name="state"]').selectOption('shelved')
    await row('fill:H').waitFor()
    expect(await row('fill:HH').count()).toBe(0)
    await list().locator('select[name="state"]').selectOption('not-normal')
    await row('fill:HH').waitFor()
    await row('fill:H').waitFor()
  })

  it('opens an alarm’s history: each transition with who and why', async () => {
    await row('fill:HH').locator('[data-part="message"]').click()
    const history = list().locator('tr[data-detail-for="fill:HH"] [data-part="history"]')
    await history.locator('tr[data-event]').nth(1).waitFor()
    const events = await history
      .locator('tr[data-event]')
      .evaluateAll((rows) =>
        rows.map((r) => `${r.getAttribute('data-from')}→${r.getAttribute('data-to')}`),
      )
    expect(events).toEqual(['unack-active→ack-active', 'normal→unack-active'])
    const ack = history.locator('tr[data-to="ack-active"]')
    expect(await text(ack)).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Unacknowledged · active→Acknowledged · active operator /,
    )
    expect(await text(history.locator('tr[data-to="unack-active"]'))).toMatch(
      /Normal→Unacknowledged · active the process .*506\.5/,
    )
    // Closing it again.
    await row('fill:HH').locator('button[data-act="history"]').click()
    await history.waitFor({ state: 'detached' })
    await page.screenshot({ path: join(ARTIFACTS, 'alarm-list.png') })
  })

  it('arms the horn, sounds it for a new high alarm, and silences it without acknowledging', async () => {
    await banner().locator('button[data-part="sound"]').click()
    await expect.poll(annunciator, { timeout: WAIT }).toBe('armed')
    expect(await banner().locator('button[data-part="sound"]').getAttribute('aria-pressed')).toBe(
      'true',
    )
    expect(await banner().locator('button[data-part="silence"]').isDisabled()).toBe(true)
    await publish('alarms/dp', 9.4)
    await expect.poll(annunciator, { timeout: WAIT }).toBe('sounding')
    expect(await text(banner().locator('[data-part="annunciator"]'))).toMatch(/^SOUNDING/)
    await expect.poll(() => counts('high'), { timeout: WAIT }).toBe('2/1')
    await expect
      .poll(() => text(banner().locator('[data-part="message"]')), { timeout: WAIT })
      .toBe('Differential pressure below the action limit (LL): 9.4 Pa, limit 10 Pa')
    await banner().locator('button[data-part="silence"]').click()
    await expect.poll(annunciator, { timeout: WAIT }).toBe('silenced')
    // Silence is not acknowledgement.
    expect(await counts('high')).toBe('2/1')
    await row('dp:LL').waitFor()
    expect(await row('dp:LL').getAttribute('data-state')).toBe('unack-active')
  })

  it('acknowledges and shelves from the characteristic page; the horn rearms', async () => {
    await row('dp:LL').locator('a[data-part="characteristic"]').click()
    await page.waitForURL(/#\/c\/dp$/)
    const mine = page.locator('lw-characteristic-page lw-alarm-list')
    await row('dp:LL', mine).waitFor()
    await row('dp:L', mine).waitFor()
    expect(await row('fill:HH', mine).count()).toBe(0)
    await row('dp:LL', mine).locator('button[data-act="acknowledge"]').click()
    await inState('dp:LL', 'ack-active', mine).waitFor()
    await expect.poll(annunciator, { timeout: WAIT }).toBe('armed')
    await expect.poll(() => counts('high'), { timeout: WAIT }).toBe('2/0')

    await row('dp:L', mine).locator('button[data-act="shelve"]').click()
    const form = mine.locator('tr[data-detail-for="dp:L"] form[data-act="shelve"]')
    await form.locator('input[name="reason"]').fill('Door held open for a delivery')
    await form.locator('input[name="minutes"]').fill('15')
    await form.locator('button[type="submit"]').click()
    await inState('dp:L', 'shelved', mine).waitFor()
    expect(await text(row('dp:L', mine).locator('[data-part="shelved"]'))).toMatch(
      /by operator · “Door held open for a delivery”$/,
    )
    // Its normal alarms on request: comm-loss is configured for every characteristic.
    await mine.locator('button[data-show="all"]').click()
    await row('dp:comm-loss', mine).waitFor()
    expect(await text(row('dp:comm-loss', mine).locator('[data-part="state"]'))).toBe('Normal')
    await page.screenshot({ path: join(ARTIFACTS, 'alarm-characteristic.png') })
  })

  it('acknowledges several selected alarms together', async () => {
    await nav('Alarms').click()
    await page.waitForURL(/#\/alarms$/)
    // Below both low limits: LL (high) and L (medium) of the fill weight; HH returns to normal.
    await publish('alarms/fill', 494.2)
    await inState('fill:LL', 'unack-active').waitFor()
    await inState('fill:L', 'unack-active').waitFor()
    await row('fill:HH').waitFor({ state: 'detached' })
    await expect.poll(annunciator, { timeout: WAIT }).toBe('sounding')
    const button = list().locator('[data-part="acknowledge-selected"]')
    expect(await text(button)).toBe('Acknowledge selected (0)')
    await row('fill:LL').locator('input[data-part="select"]').check()
    await row('fill:L').locator('input[data-part="select"]').check()
    expect(await text(button)).toBe('Acknowledge selected (2)')
    await list().locator('input[name="comment"]').fill('Filler adjusted')
    await button.click()
    await inState('fill:LL', 'ack-active').waitFor()
    await inState('fill:L', 'ack-active').waitFor()
    await expect
      .poll(() => text(list().locator('[data-part="notice"]')), { timeout: WAIT })
      .toBe('Acknowledged 2 of 2.')
    await expect.poll(annunciator, { timeout: WAIT }).toBe('armed')
    await expect.poll(() => counts('high'), { timeout: WAIT }).toBe('2/0')
    await expect.poll(() => counts('medium'), { timeout: WAIT }).toBe('1/0')
    // The comment is in the history, with who.
    const ll = (
      await fed.test.get<{ to: string; by: string; why: string }[]>('/api/alarms/fill%3ALL/history')
    ).body
    expect(ll[0]).toMatchObject({ to: 'ack-active', by: 'operator' })
    expect(ll[0]?.why).toContain('Filler adjusted')
  })

  it('offers a viewer no acknowledge or shelve, and says why', async () => {
    await page.goto(`${base}/?token=${TOKENS.viewer}#/alarms`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    await row('fill:LL').waitFor()
    expect(await text(list().locator('[data-part="role-note"]'))).toMatch(
      /^Your role \(viewer\) cannot acknowledge, shelve or unshelve alarms/,
    )
    expect(await list().locator('button[data-act="acknowledge"]').count()).toBe(0)
    expect(await list().locator('button[data-act="shelve"]').count()).toBe(0)
    expect(await list().locator('button[data-act="unshelve"]').count()).toBe(0)
    expect(await list().locator('input[type="checkbox"]').count()).toBe(0)
    expect(await list().locator('[data-part="acknowledge-selected"]').count()).toBe(0)
    // A viewer still sees the history, and what is shelved by whom and why.
    expect(await text(row('fill:H').locator('[data-part="shelved"]'))).toMatch(
      /by operator · “Level sensor being recalibrated”$/,
    )
    await row('fill:LL').locator('button[data-act="history"]').click()
    await list().locator('tr[data-detail-for="fill:LL"] tr[data-to="ack-active"]').waitFor()
    // The banner counts for a viewer too.
    expect(await counts('high')).toBe('2/0')
    await page.screenshot({ path: join(ARTIFACTS, 'alarm-list-viewer.png') })
  })

  it('shows the alarm-system figures per area beside their EEMUA 191 references', async () => {
    await nav('Alarm KPIs').click()
    await page.waitForURL(/#\/alarm-kpis$/)
    const kpis = page.locator('lw-alarm-kpis')
    const filling = kpis.locator('section[data-area="Plant/Filling"]')
    await filling.waitFor()
    const api = (
      await fed.test.get<AlarmKpisView>(
        `/api/alarm-kpis?from=${Date.now() - 86_400_000}&to=${Date.now()}`,
      )
    ).body
    const fromApi = api.areas.find((a) => a.area === 'Plant/Filling')
    if (!fromApi) throw new Error('the API should report Plant/Filling')
    // HH, H, LL and L of the fill weight each activated once.
    expect(fromApi.alarms).toBe(4)
    expect(await text(filling.locator('tr[data-kpi="alarms"] td.v'))).toBe('4')
    expect(await text(filling.locator('tr[data-kpi="mean"] td.v'))).toBe(
      fromApi.per10Minutes.mean.toFixed(2),
    )
    expect(await text(filling.locator('tr[data-kpi="mean"]'))).toMatch(
      /≤ 1 very likely acceptable · ≤ 2 manageable .*very likely acceptable/,
    )
    // 4 alarms × 10 min / 24 h = 0.028 per 10 minutes; the busiest 10 minutes hold them all,
    // unless a bucket boundary fell between them.
    expect(await text(filling.locator('tr[data-kpi="mean"] td.v'))).toBe('0.03')
    expect(await text(filling.locator('tr[data-kpi="max"] td.v'))).toMatch(/^[1-4]$/)
    expect(await text(filling.locator('tr[data-kpi="flood"]'))).toMatch(/0\.0 %.*never in flood/)
    // The shares are the API's (critical counted with high), beside the 80/15/5 guide in words.
    const share = (x: number) => `${Math.round(x * 100)} %`
    const p = fromApi.priorities
    // HH and LL are high, H and L medium (the default priorities).
    expect(p).toEqual({ critical: 0, high: 0.5, medium: 0.5, low: 0 })
    expect(await text(filling.locator('tr[data-priority-share="high"]'))).toMatch(
      new RegExp(
        `^HIGH \\(with CRITICAL\\) ${share(p.critical + p.high)} 5 % .(over|near|under) the 5 % guide$`,
      ),
    )
    expect(await text(filling.locator('tr[data-priority-share="medium"]'))).toMatch(
      new RegExp(`^MEDIUM ${share(p.medium)} 15 % .(over|near|under) the 15 % guide$`),
    )
    // No low-priority alarm is configured here: far under the 80 % guide.
    expect(await text(filling.locator('tr[data-priority-share="low"]'))).toMatch(
      new RegExp(`^LOW ${share(p.low)} 80 % .under the 80 % guide$`),
    )
    expect(await filling.locator('tr[data-bad-actor]').count()).toBe(4)
    expect(await text(filling.locator('tr[data-kpi="mtta"] td.v'))).not.toBe('—')
    expect(await text(kpis.locator('[data-part="references"]'))).toMatch(/EEMUA 191/)
    await kpis.locator('section[data-area="Plant/Cleanroom"]').waitFor()
    await kpis.locator('button[data-range="1h"]').click()
    await expect
      .poll(() => kpis.locator('button[data-range="1h"]').getAttribute('aria-pressed'))
      .toBe('true')
    await filling.locator('tr[data-kpi="alarms"]').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'alarm-kpis.png'), fullPage: true })
    const b = browser as Browser
    expect(b.errors().filter((e) => !/Failed to load resource/i.test(e))).toEqual([])
  })

  it('lets an engineer put an alarm out of service with a reason, and return it', async () => {
    await page.goto(`${base}/?token=${TOKENS.engineer}#/alarms`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    await row('fill:L').waitFor()
    expect(await list().locator('[data-part="role-note"]').count()).toBe(0)
    await row('fill:L').locator('button[data-act="out-of-service"]').click()
    const form = list().locator('tr[data-detail-for="fill:L"] form[data-act="out-of-service"]')
    await form.locator('input[name="reason"]').fill('Load cell replaced')
    await form.locator('button[type="submit"]').click()
    await inState('fill:L', 'out-of-service').waitFor()
    expect(await text(row('fill:L').locator('[data-part="state"]'))).toBe('Out of service')
    expect(await row('fill:L').locator('button[data-act="acknowledge"]').count()).toBe(0)
    await row('fill:L').locator('button[data-act="return-to-service"]').click()
    // Still below the alert limit: it returns announced again (G → B).
    await inState('fill:L', 'unack-active').waitFor()
    await expect.poll(() => counts('medium'), { timeout: WAIT }).toBe('1/1')
    const history = (
      await fed.test.get<{ from: string; to: string; by: string; why: string }[]>(
        '/api/alarms/fill%3AL/history',
      )
    ).body
    expect(history.slice(0, 2).map((e) => `${e.from}→${e.to} ${e.by}`)).toEqual([
      'out-of-service→unack-active engineer',
      'ack-active→out-of-service engineer',
    ])
    expect(history[1]?.why).toContain('Load cell replaced')
  })

  it('agrees with the API on what it showed', async () => {
    const alarms = (await fed.test.get<AlarmView[]>('/api/alarms')).body
    expect(alarms.map((a) => `${a.priority} ${a.id} ${a.state}`).sort()).toEqual([
      'high dp:LL ack-active',
      'high fill:LL ack-active',
      'medium dp:L shelved',
      'medium fill:H shelved',
      'medium fill:L unack-active',
    ])
    // Highest priority first.
    expect(alarms.map((a) => a.priority)).toEqual(['high', 'high', 'medium', 'medium', 'medium'])
  })

  it('says when its counts are not live, and reads them again after a reconnect', async () => {
    await nav('Overview').click()
    await page.locator('lw-tile[data-id="fill"]').waitFor()
    expect(await banner().locator('[data-part="stale"]').count()).toBe(0)
    await stopGateway()
    const stale = banner().locator('[data-part="stale"]')
    await stale.waitFor()
    expect(await text(stale)).toMatch(/^Not live: alarms as of \d\d:\d\d:\d\d$/)
    await startGateway()
    await page.locator('lw-connection-status[state="connected"]').waitFor({ timeout: 30_000 })
    await stale.waitFor({ state: 'detached' })
    const api = (await fed.test.get<AlarmCounts>('/api/alarms/counts')).body
    for (const p of ['critical', 'high', 'medium', 'low'] as const)
      await expect
        .poll(() => counts(p), { timeout: WAIT })
        .toBe(`${api[p].active}/${api[p].unacknowledged}`)
    // The states survived the restart: still acknowledged, nothing waits.
    expect(api.high).toEqual({ active: 2, unacknowledged: 0 })
  })
})
