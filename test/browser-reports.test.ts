import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditTrailReport, CapabilityReport } from '../gateway/contract.ts'
import {
  ARTIFACTS,
  type Browser,
  FedGateway,
  launchBrowser,
  requireFreshBuild,
  textOf as text,
  within,
} from './helpers/browser.ts'
import { TOKENS } from './helpers/gateway.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'

/**
 * The Reports page on the dashboard (issue 11), a real gateway and a real Chromium at 1080p:
 * the capability summary shows the figures of GET /api/reports/capability as tables; printed
 * (print media, and Chromium's own PDF of the page) it shows the report and not the header,
 * banner or controls; "Download CSV" hands over the gateway's CSV; a viewer is told that the
 * NC Pareto needs a quality engineer; after a restart with a changed configuration, the audit
 * trail lists the change with its diff line by line. Every wait is bounded.
 */

const WAIT = 15_000

const CONFIG = `
title: Reports test plant
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1/Filler
    unit: g
    source: { mqtt: { topic: reports/fill } }
    specLimits: { lsl: 490, usl: 510 }
    chart: { given: { center: 500, sigma: 1 }, rules: [N1] }
  - id: torque
    name: Cap torque
    path: Plant/Filling/Line 1/Capper
    source: { mqtt: { topic: reports/torque } }
    specLimits: { lsl: 18, usl: 22 }
    chart: { given: { center: 20, sigma: 0.5 }, rules: [N1] }
`

describe('the Reports page in a real browser', () => {
  let data: { path: string; remove(): Promise<void> }
  let fed: FedGateway
  let browser: Browser | null = null
  let page: Page
  let base = ''

  const table = (id: string) => page.locator(`lw-reports section[data-table="${id}"]`)

  beforeAll(async () => {
    requireFreshBuild()
    mkdirSync(ARTIFACTS, { recursive: true })
    data = await tempDir('linewatch-browser-reports-')
    fed = new FedGateway(data.path)
    await fed.start(CONFIG)
    base = fed.base
    for (let k = 0; k < 30; k++) {
      await fed.publish('reports/fill', k === 12 ? 506 : 500 + 0.5 * Math.sin(k * 2.3))
      await fed.publish('reports/torque', 20 + 0.2 * Math.cos(k * 1.7))
    }
    browser = await launchBrowser()
    page = browser.page
  })

  afterAll(async () => {
    await browser?.close()
    await fed?.stop()
    await data?.remove()
  })

  it('shows the capability summary with the API’s figures', async () => {
    await page.goto(`${base}/?token=${TOKENS.engineer}#/reports`)
    const rows = table('capability').locator('tbody tr')
    await rows.nth(1).waitFor({ timeout: WAIT })
    const api = (await (
      await fetch(`${base}/api/reports/capability?from=${Date.now() - 86_400_000}`, {
        headers: { authorization: `Bearer ${TOKENS.viewer}` },
      })
    ).json()) as CapabilityReport
    expect(await rows.count()).toBe(api.rows.length)
    const headers = await table('capability').locator('thead th').allTextContents()
    const at = (name: string) => headers.indexOf(name)
    for (const [k, row] of api.rows.entries()) {
      const cells = rows.nth(k).locator('td')
      expect(await text(cells.nth(at('Characteristic')))).toContain(row.name)
      expect(await text(cells.nth(at('n')))).toBe(String(row.n))
      const c = row.capability!
      expect(await text(cells.nth(at('Cpk (95%)')))).toBe(
        `${c.cpk!.toFixed(2)}${c.cpkLower95!.toFixed(2)}–${c.cpkUpper95!.toFixed(2)}`,
      )
      expect(await text(cells.nth(at('Verdict')))).toBe(row.verdict.words)
    }
    expect(api.rows[0]?.verdict.verdict).toBe('not-in-control')
    expect(await text(page.locator('lw-reports [data-part="subtitle"]'))).toContain(
      'Reports test plant',
    )
    await page.screenshot({ path: join(ARTIFACTS, 'reports.png') })
    expect(browser?.errors()).toEqual([])
  })

  it('prints the report only: no header, banner or controls', async () => {
    await page.emulateMedia({ media: 'print' })
    try {
      expect(await page.locator('lw-app header').isVisible()).toBe(false)
      expect(await page.locator('lw-alarm-banner').isVisible()).toBe(false)
      expect(await page.locator('lw-reports .controls').isVisible()).toBe(false)
      expect(await page.locator('lw-reports [data-part="print"]').isVisible()).toBe(false)
      expect(await table('capability').isVisible()).toBe(true)
      await page.screenshot({ path: join(ARTIFACTS, 'reports-print.png'), fullPage: true })
      const pdftotext = await requireProgram('pdftotext', 'poppler-utils')
      const file = join(ARTIFACTS, 'reports-page.pdf')
      writeFileSync(
        file,
        await within(WAIT, 'the page as PDF', page.pdf({ format: 'A4', landscape: true })),
      )
      const printed = execFileSync(pdftotext, ['-raw', file, '-'], { encoding: 'utf8' }).replace(
        /\s+/g,
        ' ',
      )
      expect(printed).toContain('Capability summary')
      expect(printed).toContain('Fill weight')
      expect(printed).not.toContain('Download CSV')
      expect(printed).not.toContain('Nonconformances')
    } finally {
      await page.emulateMedia({ media: 'screen' })
    }
  })

  it('"Download CSV" hands over the gateway’s CSV', async () => {
    const [download] = await within(
      WAIT,
      'the download',
      Promise.all([
        page.waitForEvent('download', { timeout: WAIT }),
        page.locator('lw-reports [data-part="download-csv"]').click(),
      ]),
    )
    expect(download.suggestedFilename()).toMatch(
      /^linewatch-capability-\d{4}-\d\d-\d\dT\d{4}Z-.*\.csv$/,
    )
    const path = join(data.path, 'download.csv')
    await download.saveAs(path)
    const csv = readFileSync(path, 'utf8')
    expect(csv).toContain('Capability per characteristic\r\n')
    expect(csv).toContain('\r\nfill,Fill weight,')
  })

  it('a viewer sees the capability summary; the NC Pareto needs a quality engineer', async () => {
    await page.goto(`${base}/?token=${TOKENS.viewer}#/reports/nc-pareto`)
    await page.reload()
    const missing = page.locator('lw-reports [data-part="missing-role"]')
    await missing.waitFor({ timeout: WAIT })
    expect(await text(missing)).toContain('needs the quality-engineer role')
    await page.locator('lw-reports a[data-report="capability"]').click()
    await waitFor(
      'the capability table',
      async () => (await table('capability').locator('tbody tr').count()) === 2,
      {
        timeoutMs: WAIT,
      },
    )
  })

  it('the audit trail: a changed configuration with its diff, line by line and where it is', async () => {
    // The torque's upper specification limit moved: the next start records the change.
    await fed.stop()
    await fed.start(CONFIG.replace('{ lsl: 18, usl: 22 }', '{ lsl: 18, usl: 22.5 }'))
    base = fed.base
    await page.goto(`${base}/?token=${TOKENS.engineer}#/reports/audit-trail`)
    await page.reload()
    const rows = table('entries').locator('tbody tr')
    const change = rows.filter({ hasText: 'configuration changed' })
    await change.first().waitFor({ timeout: WAIT })
    const api = (await (
      await fetch(`${base}/api/reports/audit-trail?from=${Date.now() - 86_400_000}`, {
        headers: { authorization: `Bearer ${TOKENS.engineer}` },
      })
    ).json()) as AuditTrailReport
    const changed = api.entries.find((e) => e.action === 'configuration changed')
    expect(changed?.changes).toContain('@ characteristics[id="torque"].specLimits')
    expect(await rows.count()).toBe(api.entries.length)
    const cell = change.first().locator('td.pre')
    // Its lines as they are: a browser that folded the white space would give one line.
    expect(await cell.innerText()).toBe(changed?.changes.join('\n'))
    type Styled = { getComputedStyle(e: unknown): { whiteSpace: string } }
    expect(
      await cell.evaluate(
        (td) => (globalThis as unknown as Styled).getComputedStyle(td).whiteSpace,
      ),
    ).toBe('pre-wrap')
    // About the configuration only: its two entries.
    await page.locator('lw-reports select[data-part="entity"]').selectOption('config')
    await waitFor(
      'only the configuration’s entries',
      async () =>
        (await text(page.locator('lw-reports [data-part="subtitle"]'))).includes('About: config') &&
        (await rows.count()) === api.entries.filter((e) => e.entity === 'config').length,
      { timeoutMs: WAIT },
    )
    expect(await rows.allTextContents()).toEqual([
      expect.stringContaining('configuration recorded'),
      expect.stringContaining('configuration changed'),
    ])
    await page.screenshot({ path: join(ARTIFACTS, 'reports-audit-trail.png') })
    expect(browser?.errors()).toEqual([])
  })
})
