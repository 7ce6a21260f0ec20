import { existsSync } from 'node:fs'
import { type BrowserContext, type ConsoleMessage, chromium, type Page } from 'playwright-core'
import { tempDir } from './index.ts'

/** Debian's Chromium; playwright-core drives it (no browser download). */
export const CHROMIUM = process.env.LINEWATCH_CHROMIUM ?? '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  '--force-color-profile=srgb',
  '--hide-scrollbars',
]

export interface Browser {
  context: BrowserContext
  page: Page
  /** Console errors and uncaught page errors seen so far. */
  errors(): string[]
  close(): Promise<void>
}

/**
 * Launches Chromium with a fresh profile (a temporary user-data-dir, removed on close) and opens
 * one page of the given viewport (a 1080p wall display by default).
 */
export async function launchBrowser(
  options: { width?: number; height?: number; deviceScaleFactor?: number } = {},
): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: run \`apt-get install -y chromium\` or set LINEWATCH_CHROMIUM`,
    )
  }
  const profile = await tempDir('linewatch-chromium-')
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: options.width ?? 1920, height: options.height ?? 1080 },
      deviceScaleFactor: options.deviceScaleFactor ?? 1,
      timeout: 30_000,
      colorScheme: 'dark',
      timezoneId: 'UTC',
      locale: 'en-GB',
    })
  } catch (e) {
    await profile.remove()
    throw e
  }
  const errors: string[] = []
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  return {
    context,
    page,
    errors: () => [...errors],
    async close() {
      try {
        await context.close()
      } finally {
        await profile.remove()
      }
    },
  }
}
