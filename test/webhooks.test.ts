import { execFileSync } from 'node:child_process'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type WebhookConfig, webhookConfigProblems } from '../gateway/config/webhook-schema.ts'
import {
  QUALITY_EVENT_TYPES,
  type QualityEvent,
  type QualityEventType,
} from '../gateway/contract.ts'
import { createLogger } from '../gateway/log.ts'
import { backoffMs, createWebhooks, type Webhooks } from '../gateway/webhooks/index.ts'
import { freePort, requireProgram, tempDir, waitFor } from './helpers/index.ts'
import { type Received, type Receiver, receiver } from './helpers/webhooks.ts'

const SECRET = 'test-secret-0123456789'
const env = { HOOK_SECRET: SECRET }

function hook(id: string, url: string, overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    id,
    url,
    events: [...QUALITY_EVENT_TYPES],
    secretEnv: 'HOOK_SECRET',
    timeoutMs: 5000,
    retry: { initialMs: 50, maxMs: 200, maxAttempts: 100 },
    maxBacklog: 10_000,
    ...overrides,
  }
}

let n = 0
function event(type: QualityEventType = 'nc.opened'): QualityEvent {
  n++
  return {
    type,
    at: 1_750_000_000_000 + n,
    id: `NC-${String(n).padStart(6, '0')}`,
    status: type === 'nc.closed' ? 'closed' : 'open',
    actor: 'system',
    auditSeq: n,
    action: type === 'nc.opened' ? null : 'investigate',
    title: 'Fill weight above the action limit',
  }
}

/** The signature a receiver computes from the documented formula. */
function expectedSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

function verifies(secret: string, r: Received): boolean {
  const expected = Buffer.from(
    expectedSignature(secret, String(r.headers['x-linewatch-timestamp']), r.body),
  )
  const got = Buffer.from(String(r.headers['x-linewatch-signature']))
  return got.length === expected.length && timingSafeEqual(got, expected)
}

describe('outbound webhooks', () => {
  let dir: { path: string; remove(): Promise<void> }
  const cleanup: (() => Promise<void>)[] = []
  let logLines: string[]
  const logger = () =>
    createLogger('info', {
      write: (line: string) => {
        logLines.push(line)
      },
    })

  function open(hooks: WebhookConfig[], file = 'webhooks.db'): Webhooks {
    const w = createWebhooks({ hooks, path: join(dir.path, file), log: logger(), env })
    cleanup.push(() => w.stop())
    return w
  }
  async function serve(...args: Parameters<typeof receiver>): Promise<Receiver> {
    const r = await receiver(...args)
    cleanup.push(() => r.close())
    return r
  }

  beforeEach(async () => {
    dir = await tempDir('linewatch-webhooks-')
    logLines = []
  })
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
    await dir.remove()
  })

  it('delivers a signed event that the receiver verifies with the documented formula; a wrong secret does not verify', async () => {
    const r = await serve()
    const w = open([hook('qms', r.url)])
    await w.start()
    const e = event('nc.opened')
    w.notify(e)
    await waitFor('the delivery', () => r.requests.length === 1)
    const got = r.requests[0] as Received
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers['user-agent']).toBe('linewatch-webhooks')
    expect(got.headers['x-linewatch-event']).toBe('nc.opened')
    expect(got.headers['x-linewatch-delivery']).toMatch(/^[0-9a-f-]{36}$/)
    expect(got.headers['x-linewatch-timestamp']).toMatch(/^\d+$/)
    expect(JSON.parse(got.body)).toEqual(e)
    expect(verifies(SECRET, got)).toBe(true)
    expect(verifies('another-secret', got)).toBe(false)
    // A replayed body under another timestamp does not verify either.
    expect(
      verifies(SECRET, {
        ...got,
        headers: {
          ...got.headers,
          'x-linewatch-timestamp': String(Number(got.headers['x-linewatch-timestamp']) + 1),
        },
      }),
    ).toBe(false)
    const status = await waitFor('delivered in status', () => {
      const s = w.status()[0]
      return s?.delivered === 1 && s
    })
    expect(status).toMatchObject({
      id: 'qms',
      url: r.url,
      pending: 0,
      failed: 0,
      dropped: 0,
      lastError: null,
      nextAttemptAt: null,
    })
    expect(status.lastDeliveredAt).toEqual(expect.any(Number))
  })

  it('sends credentials of the URL as basic authentication and never shows them', async () => {
    const r = await serve()
    const url = new URL(r.url)
    url.username = 'linewatch'
    url.password = 'p@ss word'
    url.search = '?token=abc'
    const w = open([hook('ticket', url.href)])
    await w.start()
    w.notify(event())
    await waitFor('the delivery', () => r.requests.length === 1)
    expect(r.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('linewatch:p@ss word').toString('base64')}`,
    )
    expect(w.status()[0]?.url).toBe(r.url)
  })

  it('retries a failing receiver with the same delivery id until it answers 2xx', async () => {
    const r = await serve((i) => (i <= 2 ? 500 : 200))
    const w = open([hook('qms', r.url)])
    await w.start()
    w.notify(event('capa.due'))
    await waitFor('three attempts', () => r.requests.length === 3)
    const s = await waitFor('delivered', () => {
      const s = w.status()[0]
      return s?.delivered === 1 && s
    })
    const ids = new Set(r.requests.map((q) => q.headers['x-linewatch-delivery']))
    expect(ids.size).toBe(1)
    for (const q of r.requests) expect(verifies(SECRET, q)).toBe(true)
    expect(s).toMatchObject({ pending: 0, failed: 0, nextAttemptAt: null })
    expect(s.lastError).toMatch(/^HTTP 500: receiver says no/)
    expect(r.requests).toHaveLength(3)
  })

  it('a dead receiver: notify returns at once, the backlog stops at maxBacklog and the rest is counted as dropped', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/hook`
    const w = open([hook('dead', dead, { maxBacklog: 5 })])
    await w.start()
    for (let i = 0; i < 1000; i++) w.notify(event())
    // Written on the next microtask, in one transaction.
    await Promise.resolve()
    let s = w.status()[0]
    expect(s?.pending).toBe(5)
    expect(s?.dropped).toBe(995)
    s = await waitFor('a failed attempt', () => {
      const s = w.status()[0]
      return s?.lastError ? s : undefined
    })
    expect(s.lastError).toMatch(/ECONNREFUSED/)
    expect(s.pending).toBe(5)
    expect(s.delivered).toBe(0)
    expect(s.nextAttemptAt).toEqual(expect.any(Number))
    // More events while it is down: still bounded.
    for (let i = 0; i < 10; i++) w.notify(event())
    await Promise.resolve()
    s = w.status()[0]
    expect(s).toMatchObject({ pending: 5, dropped: 1005 })
    expect(logLines.some((l) => l.includes('webhook delivery failed; it is retried'))).toBe(true)
  })

  it('a receiver that never answers delays neither notify nor the other hooks, and stop does not wait for it', async () => {
    const hanging = await serve(() => 'hang')
    const healthy = await serve()
    const w = open([hook('slow', hanging.url, { timeoutMs: 600_000 }), hook('fast', healthy.url)])
    await w.start()
    for (let i = 0; i < 3; i++) w.notify(event())
    await waitFor('the fast hook gets all three', () => healthy.requests.length === 3)
    await waitFor('the slow hook is being attempted', () => hanging.requests.length === 1)
    const [slow, fast] = w.status()
    expect(slow).toMatchObject({ id: 'slow', pending: 3, delivered: 0 })
    expect(fast).toMatchObject({ id: 'fast', pending: 0 })
    await waitFor('fast delivered', () => w.status()[1]?.delivered === 3)
    await w.stop()
    // The abandoned attempt is not counted: the delivery is attempted again at the next start.
    expect(w.status()[0]).toMatchObject({ pending: 3, failed: 0 })
  })

  it('is durable: deliveries pending at stop are sent, in order, by the next instance on the same file', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/hook`
    const first = open([hook('qms', dead)])
    await first.start()
    const events = [event('nc.opened'), event('nc.changed'), event('nc.closed')]
    for (const e of events) first.notify(e)
    await waitFor('an attempt failed', () => first.status()[0]?.lastError ?? undefined)
    await first.stop()
    expect(first.status()[0]?.pending).toBe(3)

    const r = await serve()
    const second = open([hook('qms', r.url)])
    await second.start()
    expect(second.status()[0]?.lastError).toMatch(/ECONNREFUSED/)
    await waitFor('the three deliveries', () => r.requests.length === 3)
    expect(r.requests.map((q) => JSON.parse(q.body).id)).toEqual(events.map((e) => e.id))
    expect(r.requests.map((q) => q.headers['x-linewatch-event'])).toEqual([
      'nc.opened',
      'nc.changed',
      'nc.closed',
    ])
    await waitFor('counted', () => second.status()[0]?.delivered === 3)
    expect(second.status()[0]?.pending).toBe(0)
    expect(logLines.some((l) => l.includes('resuming pending webhook deliveries'))).toBe(true)
  })

  it('sends a hook only the event types it asks for', async () => {
    const a = await serve()
    const b = await serve()
    const w = open([hook('closures', a.url, { events: ['nc.closed'] }), hook('all', b.url)])
    await w.start()
    w.notify(event('nc.opened'))
    w.notify(event('capa.due'))
    w.notify(event('nc.closed'))
    await waitFor('all three at the second hook', () => b.requests.length === 3)
    await waitFor('the first hook delivered', () => w.status()[0]?.delivered === 1)
    expect(a.requests.map((q) => q.headers['x-linewatch-event'])).toEqual(['nc.closed'])
    expect(w.status()[0]).toMatchObject({ pending: 0, delivered: 1 })
  })

  it('gives a delivery up after maxAttempts: counted as failed, kept, logged, never attempted again', async () => {
    const r = await serve(() => 500)
    const w = open([hook('qms', r.url, { retry: { initialMs: 20, maxMs: 50, maxAttempts: 3 } })])
    await w.start()
    w.notify(event('nc.opened'))
    const s = await waitFor('given up', () => {
      const s = w.status()[0]
      return s?.failed === 1 && s
    })
    expect(s).toMatchObject({ pending: 0, delivered: 0, nextAttemptAt: null })
    expect(r.requests).toHaveLength(3)
    const failed = w.failedDeliveries('qms')
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ event: 'nc.opened', attempts: 3 })
    expect(failed[0]?.lastError).toMatch(/^HTTP 500/)
    expect(failed[0]?.id).toBe(r.requests[0]?.headers['x-linewatch-delivery'])
    expect(logLines.some((l) => l.includes('given up after 3 attempts'))).toBe(true)
    // Well past the longest backoff: nothing more.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(r.requests).toHaveLength(3)
    // The next event is delivered (or tried) on its own.
    w.notify(event('nc.changed'))
    await waitFor('the next event tried', () => r.requests.length >= 4)
  })

  it('verifies certificates: a private CA is refused unless the hook trusts it (trustCertificate)', async () => {
    const openssl = await requireProgram('openssl', 'openssl')
    const key = join(dir.path, 'key.pem')
    const cert = join(dir.path, 'cert.pem')
    execFileSync(
      openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    )
    const r = await serve(() => 200, {
      key: readFileSync(key, 'utf8'),
      cert: readFileSync(cert, 'utf8'),
    })
    const w = open([hook('untrusted', r.url), hook('trusted', r.url, { trustCertificate: cert })])
    await w.start()
    w.notify(event())
    await waitFor('the trusted hook delivered', () => w.status()[1]?.delivered === 1)
    const untrusted = await waitFor('the untrusted hook refused the certificate', () => {
      const s = w.status()[0]
      return s?.lastError ? s : undefined
    })
    expect(untrusted.lastError).toMatch(/certificate/i)
    expect(untrusted.delivered).toBe(0)
    expect(r.requests).toHaveLength(1)
    expect(verifies(SECRET, r.requests[0] as Received)).toBe(true)
  })

  it('refuses to start without the secret in the environment', async () => {
    const w = createWebhooks({
      hooks: [hook('qms', 'http://127.0.0.1:1/')],
      path: join(dir.path, 'webhooks.db'),
      log: logger(),
      env: {},
    })
    await expect(w.start()).rejects.toMatchObject({ code: 'LW_ERR_SECRET_MISSING' })
  })
})

describe('webhookConfigProblems', () => {
  it('names a missing environment variable, a URL that is not http(s), a duplicate id', () => {
    expect(webhookConfigProblems([hook('a', 'https://qms.example/hook')], env)).toEqual([])
    const problems = webhookConfigProblems(
      [
        hook('a', 'https://qms.example/hook', { secretEnv: 'QMS_WEBHOOK_SECRET' }),
        hook('b', 'ftp://files.example/x'),
        hook('a', 'not a url'),
        hook('c', 'http://qms.example/', { trustCertificate: '/nonexistent/ca.pem' }),
      ],
      env,
    )
    expect(problems.join('\n')).toMatch(/QMS_WEBHOOK_SECRET/)
    expect(problems.some((p) => p.includes('webhooks[1]') && p.includes('http'))).toBe(true)
    expect(problems.some((p) => p.includes('duplicate id "a"'))).toBe(true)
    expect(problems.some((p) => p.includes('webhooks[2]') && p.includes('not a valid URL'))).toBe(
      true,
    )
    expect(problems.some((p) => p.includes('/nonexistent/ca.pem'))).toBe(true)
    expect(webhookConfigProblems([hook('a', 'https://x.example/')], { HOOK_SECRET: '' })).toEqual([
      expect.stringContaining('HOOK_SECRET'),
    ])
  })

  it('backoff doubles from initialMs, is capped at maxMs and jitters by ±20%', () => {
    const retry = { initialMs: 1000, maxMs: 300_000, maxAttempts: 12 }
    expect(backoffMs(retry, 1, () => 0.5)).toBe(1000)
    expect(backoffMs(retry, 3, () => 0.5)).toBe(4000)
    expect(backoffMs(retry, 3, () => 0)).toBe(3200)
    expect(backoffMs(retry, 3, () => 1)).toBe(4800)
    expect(backoffMs(retry, 20, () => 0.5)).toBe(300_000)
    expect(backoffMs(retry, 1000, () => 1)).toBe(300_000)
  })
})
