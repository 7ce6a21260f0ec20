import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import {
  type BrowserContext,
  type ConsoleMessage,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core'
import type { Config } from '../../gateway/config/index.ts'
import { startTestGateway, type TestGateway } from './gateway.ts'
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

const ROOT = join(import.meta.dirname, '..', '..')

/** Where browser suites save their screenshots. */
export const ARTIFACTS = join(ROOT, 'test', 'artifacts')

/** Awaits `promise`, failing after `ms` with what was awaited (every wait in a browser suite is bounded). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Fails early, saying what to do, when the dashboard was not built or is older than its sources. */
export function requireFreshBuild(): void {
  const built = join(ROOT, 'dist', 'dashboard', 'index.html')
  if (!existsSync(built))
    throw new Error('dist/dashboard is missing: run `npm run build` first (`npm test` does it)')
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    )
  const source = Math.max(
    newest(join(ROOT, 'dashboard', 'src')),
    statSync(join(ROOT, 'dashboard', 'index.html')).mtimeMs,
  )
  if (statSync(built).mtimeMs < source) {
    throw new Error(
      'dist/dashboard is older than dashboard/: run `npm run build` first (`npm test` does it)',
    )
  }
}

/** An element's text, whitespace collapsed (locators reach into open shadow roots). */
export async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()
}

/**
 * A gateway with an MQTT client that feeds it, for the browser suites. It keeps its ports across a
 * restart on the same data directory (`restart`), so that an open page reconnects to it.
 */
export class FedGateway {
  private current: TestGateway | null = null
  private client: MqttClient | null = null
  private ports = { http: 0, mqtt: 0 }
  private t = Date.now()

  private readonly dataDir: string

  constructor(dataDir: string) {
    this.dataDir = dataDir
  }

  get test(): TestGateway {
    if (!this.current) throw new Error('the gateway is not running')
    return this.current
  }

  get base(): string {
    return this.test.gateway.urls.http
  }

  /** `patch`: changes to the parsed configuration (before the ports are set). */
  async start(config: string, patch?: (config: Config) => void): Promise<void> {
    const gw = await within(
      20_000,
      'the gateway to start',
      startTestGateway(config, {
        dataDir: this.dataDir,
        patch: (c) => {
          patch?.(c)
          c.http.port = this.ports.http
          c.mqtt.broker.port = this.ports.mqtt
        },
      }),
    )
    this.current = gw
    const mqttUrl = gw.gateway.urls.mqtt as string
    this.ports = {
      http: Number(new URL(gw.gateway.urls.http).port),
      mqtt: Number(new URL(mqttUrl).port),
    }
    this.client = await within(
      10_000,
      'MQTT to connect',
      connectAsync(mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 }),
    )
  }

  /** Publishes `body` at QoS 1, stamped with a time after the previous one (or `{value}` for a number). */
  async publish(topic: string, body: number | Record<string, unknown>): Promise<void> {
    this.t = Math.max(this.t + 1, Date.now())
    const fields = typeof body === 'number' ? { value: body } : body
    const payload = JSON.stringify({ ...fields, ts: new Date(this.t).toISOString() })
    const client = this.client
    if (!client) throw new Error('MQTT is not connected')
    await within(5000, `publish ${topic}`, client.publishAsync(topic, payload, { qos: 1 }))
  }

  /** Disconnects cleanly first (a client gone without DISCONNECT would raise communication loss). */
  async stop(): Promise<void> {
    const client = this.client
    this.client = null
    await within(5000, 'MQTT to disconnect', client?.endAsync() ?? Promise.resolve()).catch(
      () => {},
    )
    const gw = this.current
    this.current = null
    await within(20_000, 'the gateway to close', gw?.close() ?? Promise.resolve())
  }
}
