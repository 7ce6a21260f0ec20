import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AuditEntryView,
  CapaView,
  NonconformanceSummary,
  NonconformanceView,
  QualityKpisView,
  SignInView,
  UserView,
} from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  FedGateway,
  launchBrowser,
  requireFreshBuild,
  textOf as text,
} from './helpers/browser.ts'
import { TOKENS } from './helpers/gateway.ts'
import { apiCall, tempDir, waitFor } from './helpers/index.ts'

/**
 * The quality loop on the dashboard end to end (issue 9): a real gateway (port 0, temporary data
 * directory) whose first admin comes from LINEWATCH_ADMIN_PASSWORD and who adds the users through
 * the API, an NC opened by an action-limit excursion published over MQTT, and a real Chromium at
 * 1080p. A quality engineer signs in, investigates the NC, records a root cause, attaches a file
 * and dispositions it, opens and links a CAPA; a quality manager signs in, is refused with a wrong
 * password in the signature dialog (the NC stays dispositioned), then closes it with a signature
 * whose manifest the page shows as the API does. The NC list filters, the CAPA page, the KPI page
 * and a viewer's page (no action offered) follow. Every wait is bounded.
 */

const WAIT = 15_000

const ADMIN_PASSWORD = 'first start: correct horse battery'
const USERS = {
  eva: {
    name: 'eva',
    printedName: 'Eva Engel',
    role: 'quality-engineer',
    password: 'engineer: quiet river stone',
  },
  max: {
    name: 'max',
    printedName: 'Dr. Max Mustermann',
    role: 'quality-manager',
    password: 'manager: amber lantern hill',
  },
} as const

const CONFIG = `
title: Quality test plant
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    decimals: 1
    source: { mqtt: { topic: quality/fill } }
    limits: { alertLow: 497, alertHigh: 503, actionLow: 495, actionHigh: 505 }
    specLimits: { lsl: 494, usl: 506 }
    chart: { given: { center: 500, sigma: 1 } }
    alarms: { spc: [] }
`

/** A signature manifest's first line, as signatureManifest prints it. */
const MANIFEST =
  /^Signed by Dr\. Max Mustermann \(max\) on (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC — meaning: closed$/

describe('the quality loop in a real browser against a real gateway', () => {
  let data: { path: string; remove(): Promise<void> }
  let fed: FedGateway
  let browser: Browser | null = null
  let page: Page
  let base = ''
  let ncId = 0
  const savedAdminPassword = process.env.LINEWATCH_ADMIN_PASSWORD

  const call = <T>(method: string, path: string, token: string | null, body?: unknown) =>
    apiCall<T>(base, method, path, token, body)
  const ncApi = async () =>
    (await call<NonconformanceView>('GET', `/api/nonconformances/${ncId}`, TOKENS.viewer)).body

  const workflow = () => page.locator('lw-nc-workflow')
  const form = (action: string) => workflow().locator(`form[data-form="${action}"]`)
  const act = (action: string) => workflow().locator(`button[data-act="${action}"]`)
  const dialog = () => workflow().locator('lw-signature-dialog dialog[open]')
  const header = () => page.locator('lw-app header')
  const nav = (name: string) => page.locator('header nav a', { hasText: new RegExp(`^${name}$`) })

  /** Signs in on the sign-in page shown now. */
  async function signIn(user: string, password: string): Promise<void> {
    const f = page.locator('lw-sign-in form[data-form="sign-in"]')
    await f.waitFor()
    await f.locator('input[name="user"]').fill(user)
    await f.locator('input[name="password"]').fill(password)
    await f.locator('button[type="submit"]').click()
  }

  /** Opens an action's form, fills its fields and submits it. */
  async function perform(action: string, fields: Record<string, string>): Promise<void> {
    await act(action).click()
    const f = form(action)
    await f.waitFor()
    for (const [name, value] of Object.entries(fields)) {
      const field = f.locator(`[name="${name}"]`)
      if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value)
      else await field.fill(value)
    }
    await f.locator('button[type="submit"]').click()
  }

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
    data = await tempDir('linewatch-browser-quality-')
    fed = new FedGateway(data.path)
    await fed.start(CONFIG)
    base = fed.base
    // The first admin signs in and adds the quality staff.
    const admin = await call<SignInView>('POST', '/api/auth/sign-in', null, {
      user: 'admin',
      password: ADMIN_PASSWORD,
    })
    expect(admin.status).toBe(200)
    expect(admin.body.user.printedName).toBe('Administrator')
    for (const u of Object.values(USERS)) {
      const added = await call<UserView>('POST', '/api/users', admin.body.token, {
        ...u,
        reason: 'quality staff for the test',
      })
      expect(added.status, JSON.stringify(added.body)).toBe(200)
    }
    // An action-limit excursion opens an NC.
    for (const v of [500.2, 499.8, 500.1, 499.9]) await fed.publish('quality/fill', v)
    await fed.publish('quality/fill', 506.5)
    const nc = await waitFor('the excursion to open an NC', async () => {
      const list = (
        await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)
      ).body
      return list.length > 0 ? list[0] : undefined
    })
    expect(
      (await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)).body,
    ).toHaveLength(1)
    ncId = (nc as NonconformanceSummary).id
    expect(nc.workflow.status).toBe('open')
    browser = await launchBrowser({ width: 1920, height: 1080 })
    page = browser.page
    page.setDefaultTimeout(WAIT)
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
    if (savedAdminPassword === undefined) delete process.env.LINEWATCH_ADMIN_PASSWORD
    else process.env.LINEWATCH_ADMIN_PASSWORD = savedAdminPassword
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  })

  it('asks a visitor to sign in, shows the gateway’s refusal, and returns to the page asked for', async () => {
    await page.goto(`${base}/#/nc/${ncId}`)
    await page.waitForURL(new RegExp(`#/sign-in\\?next=%2Fnc%2F${ncId}$`))
    await signIn('eva', 'not the password at all')
    const problem = page.locator('lw-sign-in [data-part="sign-in-problem"]')
    await expect.poll(() => text(problem), { timeout: WAIT }).toBe('wrong user name or password')
    // The password field is emptied after a refusal.
    expect(await page.locator('lw-sign-in input[name="password"]').inputValue()).toBe('')
    await signIn('eva', USERS.eva.password)
    await page.waitForURL(new RegExp(`#/nc/${ncId}$`))
    await workflow().locator('[data-part="wf-status"]').waitFor()
    expect(await text(header().locator('[data-part="printed-name"]'))).toBe('Eva Engel')
    expect(await text(header().locator('[data-part="role"]'))).toBe('quality-engineer')
    await header().locator('[data-part="sign-out"]').waitFor()
    await header().locator('[data-part="change-password"]').waitFor()
    // The session is this tab's, not the browser's.
    expect(await page.evaluate(() => sessionStorage.getItem('linewatch.session'))).toBeTruthy()
    expect(await page.evaluate(() => localStorage.getItem('linewatch.token'))).toBeNull()
  })

  it('offers the quality engineer what the open NC allows, and investigates it', async () => {
    expect(await text(workflow().locator('[data-part="wf-status"]'))).toBe('Open')
    const offered = await workflow()
      .locator('.acts button[data-act]')
      .evaluateAll((bs) => bs.map((b) => b.getAttribute('data-act')))
    expect(offered).toEqual([
      'investigate',
      'assign',
      'set-severity',
      'containment',
      'affected-lots',
      'link-capa',
      'comment',
      // Approving is the quality manager's.
      'sign-reviewed',
    ])
    // A reason is asked before anything is sent.
    await act('investigate').click()
    await form('investigate').locator('button[type="submit"]').click()
    expect(await text(form('investigate').locator('[data-part="form-problem"]'))).toBe(
      'A reason is required.',
    )
    // The owner defaults to the signed-in user; the due date to a week ahead.
    expect(await form('investigate').locator('input[name="owner"]').inputValue()).toBe('eva')
    const due = Date.now() + 3 * 86_400_000
    const dueInput = new Date(due).toISOString().slice(0, 16)
    await form('investigate').locator('input[name="dueAt"]').fill(dueInput)
    await form('investigate').locator('select[name="severity"]').selectOption('major')
    await form('investigate')
      .locator('input[name="reason"]')
      .fill('Fill weight above the action limit on line 1')
    await form('investigate').locator('button[type="submit"]').click()
    await workflow().locator('section[data-status="investigating"]').waitFor()
    expect(await text(workflow().locator('[data-part="wf-status"]'))).toBe('Investigating')
    expect(await text(workflow().locator('[data-part="owner"]'))).toBe('eva')
    expect(await text(workflow().locator('[data-part="severity"]'))).toBe('Major')
    // The browser runs in UTC: the due date reads as typed, with how far it is.
    expect(await text(workflow().locator('[data-part="due"]'))).toMatch(
      new RegExp(`^${dueInput.replace('T', ' ')} · in (2|3) days$`),
    )
    expect(await workflow().locator('[data-part="due"]').getAttribute('data-overdue')).toBe('false')
    await expect
      .poll(() => text(workflow().locator('[data-part="notice"]')), { timeout: WAIT })
      .toBe('Investigation started: NC-000001')
    const api = await ncApi()
    expect(api.workflow).toMatchObject({ status: 'investigating', owner: 'eva', severity: 'major' })
    expect(api.workflow.dueAt).toBe(Date.parse(`${dueInput}:00Z`))
  })

  it('records containment, a root cause (5 Whys, fishbone) and an attachment', async () => {
    await perform('containment', {
      text: 'Lots L-0815 and L-0816 quarantined',
      reason: 'Stop the affected lots',
    })
    await workflow().locator('[data-part="containment"] li').waitFor()
    await perform('root-cause', {
      why1: 'The fill weight rose above 505 g',
      why2: 'Nozzle 3 dispensed too long',
      why3: 'Its seal was worn',
      'fishbone-machine': 'worn nozzle seal\nvalve timing drift',
      'fishbone-method': 'seal replacement interval too long',
      reason: 'Investigation on the line',
    })
    await workflow().locator('[data-part="whys"]').waitFor()
    expect(
      await workflow()
        .locator('[data-part="whys"] li')
        .evaluateAll((lis) => lis.map((li) => li.textContent?.trim())),
    ).toEqual([
      'The fill weight rose above 505 g',
      'Nozzle 3 dispensed too long',
      'Its seal was worn',
    ])
    const machine = workflow().locator('[data-part="fishbone"] [data-category="machine"] li')
    expect(await machine.evaluateAll((lis) => lis.map((li) => li.textContent?.trim()))).toEqual([
      'worn nozzle seal',
      'valve timing drift',
    ])
    expect(
      await workflow().locator('[data-part="fishbone"] [data-category="material"] li').count(),
    ).toBe(0)
    // A file attached, listed with a link that downloads it with the session's token.
    await workflow()
      .locator('form[data-form="upload"] input[type="file"]')
      .setInputFiles({
        name: 'seal inspection.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('Seal of nozzle 3: worn through on one side.\n'),
      })
    await workflow().locator('button[data-part="upload"]').click()
    const attachment = workflow().locator('li[data-attachment="seal inspection.txt"]')
    await attachment.waitFor()
    expect(await text(attachment.locator('a'))).toBe('seal inspection.txt · 44 B · text/plain')
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      attachment.locator('a').click(),
    ])
    expect(download.suggestedFilename()).toBe('seal inspection.txt')
    expect(readFileSync(await download.path(), 'utf8')).toBe(
      'Seal of nozzle 3: worn through on one side.\n',
    )
  })

  it('dispositions the NC, opens a CAPA from it and links it', async () => {
    await perform('disposition', {
      decision: 'rework',
      justification: 'Re-weigh and top up or empty the affected containers',
      reason: 'Root cause known',
    })
    await workflow().locator('section[data-status="dispositioned"]').waitFor()
    expect(await text(workflow().locator('[data-part="disposition"]'))).toBe(
      'Rework — Re-weigh and top up or empty the affected containers',
    )
    // A quality engineer may not close it: the page says who may.
    expect(await act('close').count()).toBe(0)
    expect(await text(workflow().locator('[data-part="role-note"]'))).toBe(
      'Your role (quality-engineer) may not act on this NC as it stands: closing under signature needs the quality-manager role.',
    )

    // No CAPA exists yet: the link form opens on "New CAPA…".
    await act('link-capa').click()
    const f = form('link-capa')
    await f.locator('input[name="title"]').waitFor()
    expect(await f.locator('select[name="capa"]').inputValue()).toBe('new')
    await f.locator('input[name="title"]').fill('Replace nozzle seals every 500 operating hours')
    await f.locator('select[name="kind"]').selectOption('corrective')
    await f.locator('input[name="reason"]').fill('Prevent the worn seal from recurring')
    await f.locator('button[type="submit"]').click()
    const link = workflow().locator('[data-part="capas"] a[data-capa="CAPA-000001"]')
    await link.waitFor()
    // The notice follows the link's render: wait for it rather than read it at once.
    await expect
      .poll(() => text(workflow().locator('[data-part="notice"]')), { timeout: WAIT })
      .toBe('CAPA-000001 opened and linked to NC-000001')
    expect((await ncApi()).workflow.capas).toEqual(['CAPA-000001'])
    await page.screenshot({ path: join(ARTIFACTS, 'quality-nc-dispositioned.png'), fullPage: true })

    // The CAPA's page: its plan and the NC it answers.
    await link.click()
    await page.waitForURL(/#\/capa\/CAPA-000001$/)
    const capa = page.locator('lw-capa-page')
    await capa.locator('[data-part="status"]').waitFor()
    expect(await text(capa.locator('h1'))).toBe(
      'CAPA-000001 · Replace nozzle seals every 500 operating hours',
    )
    expect(await text(capa.locator('[data-part="status"]'))).toBe('Open')
    expect(await text(capa.locator('[data-part="owner"]'))).toBe('eva')
    expect(
      await capa.locator('[data-part="ncs"] a[data-nc="NC-000001"]').getAttribute('href'),
    ).toBe(`#/nc/${ncId}`)
    // The implementation recorded: the effectiveness from the data appears beside the plan.
    await capa.locator('button[data-act="implement"]').click()
    await capa.locator('form[data-form="implement"] input[name="reason"]').fill('Seals replaced')
    await capa.locator('form[data-form="implement"] button[type="submit"]').click()
    await expect
      .poll(() => text(capa.locator('[data-part="status"]')), { timeout: WAIT })
      .toBe('Implemented')
    const effect = capa.locator('section[data-effectiveness="fill"]')
    await effect.waitFor()
    const fromApi = (await call<CapaView>('GET', '/api/capas/CAPA-000001', TOKENS.viewer)).body
    const e = fromApi.effectiveness[0]
    if (!e) throw new Error('the API should report the effectiveness of CAPA-000001')
    expect(await effect.getAttribute('data-verdict')).toBe(e.verdict)
    expect(await text(effect.locator('[data-part="why"]'))).toBe(e.why)
    const cells = (row: string) =>
      effect
        .locator(`tr[data-row="${row}"] > *`)
        .evaluateAll((tds) => tds.map((td) => td.textContent?.trim()))
    expect(await cells('n')).toEqual(['Readings (n)', String(e.before.n), String(e.after.n)])
    // The windows in dates (the browser runs in UTC), before and after the implementation.
    const minute = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ')
    expect(await cells('window')).toEqual([
      'Window',
      `${minute(e.window.before.from)} – ${minute(e.window.before.to)}`,
      `${minute(e.window.after.from)} – ${minute(e.window.after.to)}`,
    ])
    await page.screenshot({ path: join(ARTIFACTS, 'quality-capa.png'), fullPage: true })
    // And the CAPA list.
    await nav('CAPA').click()
    await page.locator('lw-capa-list tr[data-capa="CAPA-000001"]').waitFor()
    expect(
      await text(page.locator('lw-capa-list tr[data-capa="CAPA-000001"] [data-part="status"]')),
    ).toBe('Implemented')
  })

  it('signs out, and the quality manager signs in and is offered the closure', async () => {
    await page.goto(`${base}/#/nc/${ncId}`)
    await workflow().locator('section[data-status="dispositioned"]').waitFor()
    await header().locator('[data-part="sign-out"]').click()
    await page.locator('lw-sign-in form[data-form="sign-in"]').waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('linewatch.session'))).toBeNull()
    expect(page.url()).toMatch(new RegExp(`#/sign-in\\?next=%2Fnc%2F${ncId}$`))
    await signIn('max', USERS.max.password)
    await page.waitForURL(new RegExp(`#/nc/${ncId}$`))
    await act('close').waitFor()
    expect(await text(header().locator('[data-part="printed-name"]'))).toBe('Dr. Max Mustermann')
    expect(await text(header().locator('[data-part="role"]'))).toBe('quality-manager')
    expect(await workflow().locator('[data-part="role-note"]').count()).toBe(0)
  })

  it('keeps the NC dispositioned when the signature password is wrong, and says so', async () => {
    await act('close').click()
    await form('close').locator('input[name="reason"]').fill('Disposition carried out and checked')
    await form('close').locator('button[type="submit"]').click()
    // The dialog states the meaning and the record, and who signs.
    await dialog().waitFor()
    expect(await text(dialog().locator('[data-part="meaning"]'))).toBe('closed')
    expect(await text(dialog().locator('[data-part="record"]'))).toBe(
      'NC-000001 · Fill weight above the action limit',
    )
    expect(await text(dialog().locator('[data-part="signer"]'))).toBe('Dr. Max Mustermann')
    await dialog().locator('input[name="password"]').fill('not my password')
    await dialog().locator('button[data-part="sign"]').click()
    const problem = dialog().locator('[data-part="signature-problem"]')
    await problem.waitFor()
    expect(await text(problem)).toBe('the password does not match: not signed')
    // Still open, the password emptied, and nothing changed.
    expect(await dialog().count()).toBe(1)
    expect(await dialog().locator('input[name="password"]').inputValue()).toBe('')
    const api = await ncApi()
    expect(api.workflow.status).toBe('dispositioned')
    expect(api.workflow.signatures).toEqual([])
    expect(await text(workflow().locator('[data-part="wf-status"]'))).toBe('Dispositioned')
    await page.screenshot({ path: join(ARTIFACTS, 'quality-signature-refused.png') })
  })

  it('closes the NC with the signature; the page shows its manifest as the API does', async () => {
    await dialog().locator('input[name="password"]').fill(USERS.max.password)
    await dialog().locator('button[data-part="sign"]').click()
    await workflow().locator('section[data-status="closed"]').waitFor()
    await dialog().waitFor({ state: 'detached' })
    expect(await text(workflow().locator('[data-part="wf-status"]'))).toBe('Closed')
    const signature = workflow().locator('[data-part="signature"]')
    expect(await signature.count()).toBe(1)
    expect(await signature.getAttribute('data-meaning')).toBe('closed')
    expect(await signature.getAttribute('data-holds')).toBe('true')
    expect(await workflow().locator('[data-part="signature-note"]').count()).toBe(0)
    const lines = await signature
      .locator('[data-part="manifest-line"]')
      .evaluateAll((lis) => lis.map((li) => li.textContent?.trim() ?? ''))
    const first = MANIFEST.exec(lines[0] ?? '')
    expect(first, lines[0]).not.toBeNull()
    // What the API says of the same NC.
    const api = await ncApi()
    expect(api.workflow.status).toBe('closed')
    expect(api.status).toBe('closed')
    expect(api.workflow.signatures).toHaveLength(1)
    const s = api.workflow.signatures[0]
    if (!s) throw new Error('the API should hold one signature')
    expect(s).toMatchObject({
      user: 'max',
      printedName: 'Dr. Max Mustermann',
      meaning: 'closed',
      holds: true,
    })
    expect(first?.[1]).toBe(new Date(s.at).toISOString().slice(0, 19).replace('T', ' '))
    expect(lines).toEqual(s.manifest)
    // A closed NC: only reopening (and comments) remain.
    expect(
      await workflow()
        .locator('.acts button[data-act]')
        .evaluateAll((bs) => bs.map((b) => b.getAttribute('data-act'))),
    ).toEqual(['reopen', 'comment'])
    // The audit trail, opened: every step with who and why, the signature among them.
    await workflow().locator('[data-part="audit-trail"] summary').click()
    const rows = workflow().locator('[data-part="audit-trail"] tr[data-audit]')
    await rows.first().waitFor()
    const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))
    expect(actions).toEqual(
      expect.arrayContaining([
        'investigate',
        'containment',
        'root-cause',
        'attach',
        'disposition',
        'link-capa',
        'close',
        'signed (closed)',
      ]),
    )
    const trail = (
      await call<AuditEntryView[]>('GET', '/api/audit?entity=nc&id=NC-000001', TOKENS.engineer)
    ).body
    expect(actions.filter((a) => a !== 'signed (closed)')).toEqual(trail.map((e) => e.action))
    expect(
      await text(workflow().locator('[data-part="audit-trail"] tr[data-action="close"]')),
    ).toContain('Disposition carried out and checked')
    await page.screenshot({ path: join(ARTIFACTS, 'quality-nc-closed.png'), fullPage: true })
  })

  it('filters the NC list by status, owner and overdue', async () => {
    await nav('Nonconformances').click()
    const list = page.locator('lw-nc-list')
    // Not closed by default: the closed NC is not listed.
    await list.locator('[data-part="empty"]').waitFor()
    await list.locator('select[name="status"]').selectOption('closed')
    const row = list.locator(`tr[data-nc="${ncId}"]`)
    await row.waitFor()
    expect(await text(row.locator('[data-part="status"]'))).toBe('closed')
    expect(await text(row.locator('[data-part="owner"]'))).toBe('eva')
    expect(await text(row.locator('[data-part="severity"]'))).toBe('Major')
    await list.locator('select[name="status"]').selectOption('all')
    await list.locator('input[name="owner"]').fill('max')
    await list.locator('input[name="owner"]').press('Enter')
    await list.locator('[data-part="empty"]').waitFor()
    await list.locator('input[name="owner"]').fill('eva')
    await list.locator('input[name="owner"]').press('Enter')
    await row.waitFor()
    await list.locator('input[name="overdue"]').check()
    await list.locator('[data-part="empty"]').waitFor()
    await list.locator('input[name="overdue"]').uncheck()
    await row.waitFor()
  })

  it('shows the quality KPIs as the API computes them, and exports them as CSV', async () => {
    await nav('Quality KPIs').click()
    const kpis = page.locator('lw-quality-kpis')
    await kpis.locator('tr[data-kpi="nc-closed"]').waitFor()
    const { from, to } = await kpis.evaluate((el) => {
      const k = (el as unknown as { kpis: QualityKpisView }).kpis
      return { from: k.from, to: k.to }
    })
    const api = (
      await call<QualityKpisView>('GET', `/api/quality/kpis?from=${from}&to=${to}`, TOKENS.engineer)
    ).body
    expect(api.ncs).toMatchObject({ open: 0, overdue: 0, opened: 1, closed: 1 })
    expect(await text(kpis.locator('tr[data-kpi="nc-open"] td'))).toBe('0')
    expect(await text(kpis.locator('tr[data-kpi="nc-closed"] td'))).toBe('1')
    expect(await text(kpis.locator('tr[data-kpi="capa-open"] td'))).toBe('1')
    expect(await text(kpis.locator('tr[data-kpi="nc-mttc"] td'))).toBe(
      `${((api.ncs.meanTimeToCloseMs as number) / 86_400_000).toFixed(1)} days`,
    )
    expect(await text(kpis.locator('tr[data-kpi="nc-recurrence"] td'))).toBe('0.0 %')
    const cause = kpis.locator('[data-part="pareto-cause"] tr[data-pareto="action-high"]')
    expect(await text(cause)).toBe('ACTION HIGH 1 100.0 % 100.0 %')
    await kpis.locator('[data-part="pareto-cause"] svg rect.bar').waitFor()
    const csv = kpis.locator('a[data-part="export-csv"]')
    expect(await csv.getAttribute('href')).toMatch(/\/api\/quality\/kpis\.csv\?from=\d+&to=\d+$/)
    const [download] = await Promise.all([page.waitForEvent('download'), csv.click()])
    expect(download.suggestedFilename()).toMatch(
      /^quality-kpis-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/,
    )
    const body = readFileSync(await download.path(), 'utf8')
    expect(body).toContain('\r\nNCs closed in range,1,,\r\n')
    expect(body).toContain('\r\nNCs by cause: action-high,1,100,100\r\n')
    await kpis.locator('button[data-range="7d"]').click()
    await expect
      .poll(() => kpis.locator('button[data-range="7d"]').getAttribute('aria-pressed'))
      .toBe('true')
    await kpis.locator('tr[data-kpi="nc-closed"]').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'quality-kpis.png'), fullPage: true })
  })

  it('offers a viewer with a bearer token no action form, but shows the signature', async () => {
    await page.goto(`${base}/?token=${TOKENS.viewer}#/nc/${ncId}`)
    await page.locator('lw-connection-status[state="connected"]').waitFor()
    await workflow().locator('section[data-status="closed"]').waitFor()
    // The wall display's token replaces the signed-in session of this tab.
    expect(await page.evaluate(() => sessionStorage.getItem('linewatch.session'))).toBeNull()
    expect(await text(header().locator('[data-part="who"]'))).toBe('viewer · viewer')
    expect(await workflow().locator('button[data-act]').count()).toBe(0)
    expect(await workflow().locator('form.act').count()).toBe(0)
    expect(await workflow().locator('form[data-form="upload"]').count()).toBe(0)
    expect(await text(workflow().locator('[data-part="role-note"]'))).toBe(
      'Your role (viewer) may not act on this NC as it stands: commenting needs the operator role; reopening needs the quality-manager role.',
    )
    // The signature is shown wherever the record is.
    expect(await text(workflow().locator('[data-part="manifest-line"]').first())).toMatch(MANIFEST)
    // The audit trail and the KPIs say which role they need.
    await workflow().locator('[data-part="audit-trail"] summary').click()
    expect(await text(workflow().locator('[data-part="audit-missing-role"]'))).toBe(
      'The audit trail needs the quality-engineer role (or higher); your role is viewer. Sign in as someone who has it.',
    )
    await page.screenshot({ path: join(ARTIFACTS, 'quality-nc-viewer.png'), fullPage: true })
    await nav('Quality KPIs').click()
    expect(await text(page.locator('lw-quality-kpis [data-part="missing-role"]'))).toMatch(
      /^The quality KPI page needs the quality-engineer role \(or higher\); your role is viewer\./,
    )
    const b = browser as Browser
    expect(b.errors().filter((e) => !/Failed to load resource/i.test(e))).toEqual([])
  })

  it('signs a user in over a wall display’s token, changes the password, and returns to the token on sign-out', async () => {
    await header().locator('a[data-part="sign-in"]').click()
    await page.waitForURL(/#\/sign-in\?next=%2Fquality-kpis$/)
    await signIn('eva', USERS.eva.password)
    await page.waitForURL(/#\/quality-kpis$/)
    await page.locator('lw-quality-kpis tr[data-kpi="nc-closed"]').waitFor()
    expect(await text(header().locator('[data-part="printed-name"]'))).toBe('Eva Engel')
    await header().locator('[data-part="change-password"]').click()
    await page.waitForURL(/#\/password$/)
    const f = page.locator('lw-password form[data-form="password"]')
    const problem = page.locator('lw-password [data-part="password-problem"]')
    const change = async (current: string, next: string, again = next) => {
      await f.locator('input[name="current"]').fill(current)
      await f.locator('input[name="next"]').fill(next)
      await f.locator('input[name="repeat"]').fill(again)
      await f.locator('button[type="submit"]').click()
    }
    // Caught before it is sent.
    await change(USERS.eva.password, 'a new one for eva', 'a new one for Eva')
    expect(await text(problem)).toBe('The new password and its repetition differ.')
    // The gateway's words.
    await change('not my password', 'long enough new password')
    await expect
      .poll(() => text(problem), { timeout: WAIT })
      .toBe('Not changed: the current password does not match')
    await change(USERS.eva.password, 'short')
    await expect
      .poll(() => text(problem), { timeout: WAIT })
      .toBe('Not changed: the password must be at least 15 characters (it has 5)')
    const next = 'engineer: seven green bridges'
    await change(USERS.eva.password, next)
    await expect
      .poll(() => text(page.locator('lw-password [data-part="notice"]')), { timeout: WAIT })
      .toBe('Your password was changed.')
    expect(
      (await call('POST', '/api/auth/sign-in', null, { user: 'eva', password: next })).status,
    ).toBe(200)
    // Signing out leaves the wall display's token in force, on the page it was on.
    await header().locator('[data-part="sign-out"]').click()
    await expect
      .poll(() => text(header().locator('[data-part="who"]')), { timeout: WAIT })
      .toBe('viewer · viewer')
    expect(page.url()).toMatch(/#\/password$/)
    await page.locator('lw-password [data-part="no-user"]').waitFor()
  })
})
