import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CapaView, NonconformanceSummary, SignInView } from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { apiCall, tempDir, waitFor } from './helpers/index.ts'
import { type Postgres, startPostgres } from './helpers/postgres.ts'
import { type Receiver, receiver } from './helpers/webhooks.ts'

/**
 * The reminders (a CAPA due soon: capa.due; an NC past its due date: nc.overdue) go once each,
 * through a real webhook receiver: not again after a restart of the gateway (they used to, from
 * memory only), whether the records are in records.db or in PostgreSQL (where every gateway of
 * a cluster would have sent them). A reminder is told at start and every minute; a restart
 * tells the ones due since. Expected: each due item's reminder exactly once.
 */

const ADMIN_PASSWORD = 'first start: reminders password'
const QE_PASSWORD = 'engineer: quiet river stone'
const SECRET = 'webhook secret for the reminders'
const URL_ENV = 'LW_TEST_REMINDERS_POSTGRES_URL'

let postgres: Postgres | null = null
afterAll(async () => {
  await postgres?.stop()
})

describe.each(['sqlite', 'postgres'] as const)('reminders with the records in %s', (dialect) => {
  let hooks: Receiver
  let dataDir: { path: string; remove(): Promise<void> }
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let qe = ''

  const call = <T>(method: string, path: string, token: string | null, body?: unknown) =>
    apiCall<T & { message?: string }>(gw?.gateway.urls.http as string, method, path, token, body)
  const told = (event: string, id: string) =>
    hooks.requests.filter(
      (h) =>
        h.headers['x-linewatch-event'] === event &&
        (JSON.parse(h.body) as { id?: string }).id === id,
    ).length

  async function start(): Promise<void> {
    gw = await startTestGateway(
      `
mqtt: { broker: { port: 0 } }
${dialect === 'postgres' ? `store: { records: postgres, postgres: { urlEnv: ${URL_ENV} } }` : ''}
webhooks:
  - id: tracker
    url: ${hooks.url}
    secretEnv: LINEWATCH_TEST_REMINDERS_SECRET
    retry: { initialMs: 50, maxMs: 200 }
characteristics:
  - id: bore
    name: Bore diameter
    path: Plant/Machining/Line 2/Cell 1
    unit: mm
    source: { mqtt: { topic: r/bore } }
    limits: { actionLow: 5, actionHigh: 15 }
    chart: { type: imr, given: { center: 10, sigma: 2 } }
`,
      { dataDir: dataDir.path },
    )
    const signedIn = await call<SignInView>('POST', '/api/auth/sign-in', null, {
      user: 'qe',
      password: QE_PASSWORD,
    })
    qe = signedIn.status === 200 ? signedIn.body.token : ''
  }
  async function stop(): Promise<void> {
    await gw?.close()
    gw = null
  }

  /** An NC opened by a reading beyond an action limit, taken into investigation due at `dueAt`. */
  async function ncDueAt(value: number, dueAt: number): Promise<{ id: string; dueAt: number }> {
    const known = new Set(
      (await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)).body.map(
        (n) => n.id,
      ),
    )
    const mqtt = await connectAsync(gw?.gateway.urls.mqtt as string)
    await mqtt.publishAsync('r/bore', JSON.stringify({ value }), { qos: 1 })
    await mqtt.endAsync()
    const nc = await waitFor('the new NC', async () =>
      (await call<NonconformanceSummary[]>('GET', '/api/nonconformances', TOKENS.viewer)).body.find(
        (n) => !known.has(n.id),
      ),
    )
    const investigated = await call('POST', `/api/nonconformances/${nc.id}/actions`, qe, {
      action: 'investigate',
      owner: 'qe',
      dueAt,
      severity: 'minor',
      reason: 'reminder test',
    })
    expect(investigated.status, investigated.body.message).toBe(200)
    return { id: `NC-${String(nc.id).padStart(6, '0')}`, dueAt }
  }

  beforeAll(async () => {
    hooks = await receiver()
    dataDir = await tempDir('linewatch-reminders-')
    if (dialect === 'postgres') {
      postgres ??= await startPostgres()
      process.env[URL_ENV] = await postgres.createDatabase('reminders')
    }
    process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
    process.env.LINEWATCH_TEST_REMINDERS_SECRET = SECRET
    await start()
    const admin = await call<SignInView>('POST', '/api/auth/sign-in', null, {
      user: 'admin',
      password: ADMIN_PASSWORD,
    })
    const added = await call('POST', '/api/users', admin.body.token, {
      name: 'qe',
      printedName: 'Dr. Jana Novák',
      role: 'quality-engineer',
      password: QE_PASSWORD,
      reason: 'reminder test',
    })
    expect(added.status).toBe(200)
    await stop()
    await start()
  }, 90_000)
  afterAll(async () => {
    await stop()
    await hooks?.close()
    await dataDir?.remove()
    delete process.env[URL_ENV]
    delete process.env.LINEWATCH_ADMIN_PASSWORD
    delete process.env.LINEWATCH_TEST_REMINDERS_SECRET
  })

  it('tells a due CAPA and an overdue NC once, not again after each restart', async () => {
    // Due while the gateway is stopped: told by the next start.
    const first = await ncDueAt(16, Date.now() + 1500)
    const capa = await call<CapaView>('POST', '/api/capas', qe, {
      title: 'Check the bore gauge',
      kind: 'corrective',
      owner: 'qe',
      dueAt: Date.now() + 3_600_000, // within capaDueNoticeHours (24)
      ncs: [first.id],
      reason: 'reminder test',
    })
    expect(capa.status, capa.body.message).toBe(200)
    await stop()
    await waitFor('the first NC’s due date to pass', () => Date.now() > first.dueAt, {
      timeoutMs: 10_000,
    })
    await start()
    await waitFor('both reminders', () =>
      told('capa.due', capa.body.id) >= 1 && told('nc.overdue', first.id) >= 1 ? true : undefined,
    )

    // Another NC, due while stopped again: the next start tells it, and only it.
    const second = await ncDueAt(4, Date.now() + 1500)
    await stop()
    await waitFor('the second NC’s due date to pass', () => Date.now() > second.dueAt, {
      timeoutMs: 10_000,
    })
    await start()
    await waitFor(
      'the second NC’s reminder',
      () => (told('nc.overdue', second.id) >= 1 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    )
    // Told in one pass, delivered in order: a reminder told again would have come before it.
    expect(told('capa.due', capa.body.id)).toBe(1)
    expect(told('nc.overdue', first.id)).toBe(1)
    expect(told('nc.overdue', second.id)).toBe(1)
  })
})
