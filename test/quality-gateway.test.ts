import { execFileSync } from 'node:child_process'
import { createHash, createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AttachmentView,
  AuditEntryView,
  CapaView,
  NonconformanceSummary,
  NonconformanceView,
  QualityKpisView,
  SignInView,
} from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { apiCall, tempDir, waitFor } from './helpers/index.ts'
import { type Receiver, receiver } from './helpers/webhooks.ts'

/**
 * The quality loop in a running gateway (issue 9): users who sign in, an NC the gateway opened
 * taken through investigation, disposition and a signed closure; a CAPA whose effectiveness is
 * computed from the readings; signatures that re-authenticate and stay with their record; the
 * audit trail of every step; exports; throttled sign-in; webhooks to a real HTTP receiver.
 * Expected figures are computed here from their definitions.
 */

const ADMIN_PASSWORD = 'first start: correct horse battery'
const PASSWORDS = {
  qe: 'engineer: quiet river stone',
  qm: 'manager: amber lantern hill',
  op: 'operator: seven blue kites',
}
const SECRET = 'webhook secret for the test'

/** d2(2) = 2/√π, the mean range of two standard normal values. */
const D2_2 = 2 / Math.sqrt(Math.PI)
/** Cpk from σ within = MR̄/d2(2), as a textbook writes it (Montgomery §8.2). */
function cpkByHand(values: number[], lsl: number, usl: number): number {
  const mean = values.reduce((s, x) => s + x, 0) / values.length
  let mr = 0
  for (let i = 1; i < values.length; i++)
    mr += Math.abs((values[i] as number) - (values[i - 1] as number))
  const sigma = mr / (values.length - 1) / D2_2
  return Math.min(usl - mean, mean - lsl) / (3 * sigma)
}

describe('the quality loop in the gateway', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let mqtt: MqttClient
  let hooks: Receiver
  const sessions = { admin: '', qe: '', qm: '', op: '' }
  const T0 = Date.now() - 10 * 60_000
  const before = Array.from({ length: 30 }, (_, k) => 10 + 1.2 * Math.sin(k * 1.7))
  const after = Array.from({ length: 30 }, (_, k) => 10 + 0.3 * Math.sin(k * 1.7))
  const implementedAt = T0 + 45_000

  const call = <T>(method: string, path: string, token: string | null, body?: unknown) =>
    apiCall<T>(gw.gateway.urls.http as string, method, path, token, body)
  const signIn = (user: string, password: string) =>
    call<SignInView & { message: string }>('POST', '/api/auth/sign-in', null, { user, password })
  const act = (id: number, token: string, body: Record<string, unknown>) =>
    call<NonconformanceView & { message: string }>(
      'POST',
      `/api/nonconformances/${id}/actions`,
      token,
      body,
    )
  const publish = async (topic: string, value: number, ts: number, subgroup?: string) =>
    mqtt.publishAsync(topic, JSON.stringify({ value, ts: new Date(ts).toISOString(), subgroup }), {
      qos: 1,
    })
  const ncsOf = async (characteristic: string) =>
    (
      await call<NonconformanceSummary[]>(
        'GET',
        `/api/nonconformances?characteristic=${characteristic}`,
        TOKENS.viewer,
      )
    ).body

  beforeAll(async () => {
    hooks = await receiver()
    process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
    process.env.LINEWATCH_TEST_WEBHOOK_SECRET = SECRET
    gw = await startTestGateway(
      `
mqtt: { broker: { port: 0 } }
quality: { effectivenessWindowDays: 0.001 }
webhooks:
  - id: tracker
    url: ${hooks.url}
    secretEnv: LINEWATCH_TEST_WEBHOOK_SECRET
    retry: { initialMs: 50, maxMs: 200 }
characteristics:
  - id: bore
    name: Bore diameter
    path: Plant/Machining/Line 2/Cell 1
    unit: mm
    source: { mqtt: { topic: q/bore } }
    limits: { actionLow: 5, actionHigh: 15 }
    specLimits: { lsl: 6, usl: 14 }
    chart: { type: imr, given: { center: 10, sigma: 2 } }
`,
      {
        patch: (config) => {
          config.auth.lockout = { maxFailures: 3, windowMinutes: 5, lockMinutes: 5 }
        },
      },
    )
    mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    // Readings of the past: spread before the CAPA's action, tight after it.
    for (const [k, v] of before.entries()) await publish('q/bore', v, T0 + k * 1000)
    for (const [k, v] of after.entries()) await publish('q/bore', v, T0 + 60_000 + k * 1000)
    // Then an excursion past the action limit (HH opens an NC by default), in lot L2-4711.
    await publish('q/bore', 16.2, Date.now(), 'L2-4711')
  })

  afterAll(async () => {
    await mqtt?.endAsync()
    await gw?.close()
    await gw?.removeDataDir()
    await hooks?.close()
    delete process.env.LINEWATCH_ADMIN_PASSWORD
    delete process.env.LINEWATCH_TEST_WEBHOOK_SECRET
  })

  it('makes the first admin from LINEWATCH_ADMIN_PASSWORD; the admin adds users under the password rules', async () => {
    const admin = await signIn('admin', ADMIN_PASSWORD)
    expect(admin.status).toBe(200)
    expect(admin.body.user).toMatchObject({
      name: 'admin',
      role: 'admin',
      printedName: 'Administrator',
    })
    sessions.admin = admin.body.token
    const weak = await call<{ message: string }>('POST', '/api/users', sessions.admin, {
      name: 'weak',
      printedName: 'Weak Password',
      role: 'operator',
      password: 'password',
      reason: 'a new operator',
    })
    expect(weak.status).toBe(400)
    expect(weak.body.message).toMatch(/at least 15 characters/)
    const people = [
      ['qe', 'Dr. Jana Novák', 'quality-engineer'],
      ['qm', 'Anna Weber', 'quality-manager'],
      ['op', 'Luis Ortega', 'operator'],
    ] as const
    for (const [name, printedName, role] of people) {
      const added = await call('POST', '/api/users', sessions.admin, {
        name,
        printedName,
        role,
        password: PASSWORDS[name],
        reason: 'staff of line 2',
      })
      expect(added.status).toBe(200)
      const session = await signIn(name, PASSWORDS[name])
      expect(session.status).toBe(200)
      sessions[name] = session.body.token
    }
    // A viewer's token cannot list users; the admin can, and no password hash is shown.
    expect((await call('GET', '/api/users', TOKENS.viewer)).status).toBe(403)
    const users = await call<Record<string, unknown>[]>('GET', '/api/users', sessions.admin)
    expect(users.body.map((u) => u.name).sort()).toEqual(['admin', 'op', 'qe', 'qm'])
    expect(JSON.stringify(users.body)).not.toMatch(/scrypt/)
    const session = await call<{ user: unknown; role: string }>('GET', '/api/session', sessions.qe)
    expect(session.body).toMatchObject({
      role: 'quality-engineer',
      user: { name: 'qe', printedName: 'Dr. Jana Novák' },
    })
  })

  it('takes the NC the gateway opened through investigation and disposition, each step by its role with a reason', async () => {
    const [nc] = await waitFor('the NC', async () => {
      const list = await ncsOf('bore')
      return list.length > 0 ? list : undefined
    })
    const id = (nc as NonconformanceSummary).id
    expect(nc?.status).toBe('open')
    // An operator may not investigate; a viewer's token may not even comment; a reason is required.
    const due = Date.now() + 7 * 86_400_000
    const investigate = { action: 'investigate', owner: 'qe', dueAt: due, severity: 'major' }
    expect((await act(id, sessions.op, { ...investigate, reason: 'start' })).status).toBe(403)
    expect((await act(id, TOKENS.viewer, { action: 'comment', text: 'seen' })).status).toBe(403)
    const noReason = await act(id, sessions.qe, investigate)
    expect(noReason.status).toBe(400)
    expect(noReason.body.message).toMatch(/reason/)
    expect(
      (await act(id, sessions.op, { action: 'comment', text: 'saw it at 10:02' })).status,
    ).toBe(200)

    const steps: Record<string, unknown>[] = [
      { ...investigate, reason: 'HH on bore diameter' },
      {
        action: 'containment',
        text: 'parts since 09:00 quarantined',
        reason: 'protect the customer',
      },
      {
        action: 'root-cause',
        whys: ['bore oversize', 'tool offset drifted', 'worn insert', 'insert life not tracked'],
        fishbone: { machine: ['worn insert'], method: ['no tool-life counter'] },
        reason: '5 Whys with the cell team',
      },
      {
        action: 'affected-lots',
        lots: ['L2-4711', 'L2-4712'],
        reason: 'lots made since the drift',
      },
      {
        action: 'disposition',
        decision: 'rework',
        justification: 'rebore within tolerance',
        reason: 'MRB decision',
      },
    ]
    for (const step of steps) {
      const res = await act(id, sessions.qe, step)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    const view = (
      await call<NonconformanceView>('GET', `/api/nonconformances/${id}`, TOKENS.viewer)
    ).body
    expect(view.status).toBe('dispositioned')
    expect(view.workflow).toMatchObject({
      owner: 'qe',
      dueAt: due,
      severity: 'major',
      containment: ['parts since 09:00 quarantined'],
      affectedLots: ['L2-4711', 'L2-4712'],
      disposition: { decision: 'rework', justification: 'rebore within tolerance' },
      overdue: false,
    })
    expect(view.workflow.rootCause?.whys).toHaveLength(4)
    // The lot of the reading that triggered it, from the reading's subgroup id.
    expect(view.workflow.lotsSeen).toEqual(['L2-4711'])
    expect(view.workflow.rootCause?.fishbone.machine).toEqual(['worn insert'])
    expect(view.workflow.comments).toEqual([
      expect.objectContaining({ by: 'op', text: 'saw it at 10:02' }),
    ])
    // The list filters by state (several at once) and owner.
    const filtered = await call<NonconformanceSummary[]>(
      'GET',
      '/api/nonconformances?status=investigating,dispositioned&owner=qe',
      TOKENS.viewer,
    )
    expect(filtered.body.map((n) => n.id)).toEqual([id])
    expect(
      (
        await call<NonconformanceSummary[]>(
          'GET',
          '/api/nonconformances?status=closed',
          TOKENS.viewer,
        )
      ).body,
    ).toEqual([])
    expect((await call('GET', '/api/nonconformances?status=bogus', TOKENS.viewer)).status).toBe(400)
  })

  it('signs with the password again: a token cannot sign, a wrong password does not, the same meaning twice is refused', async () => {
    const id = (await ncsOf('bore'))[0]?.id as number
    // An engineer may not close; a manager's configured token is not a person.
    expect(
      (
        await act(id, sessions.qe, {
          action: 'close',
          reason: 'done',
          signature: { password: PASSWORDS.qe },
        })
      ).status,
    ).toBe(403)
    const token = await act(id, TOKENS.manager, {
      action: 'close',
      reason: 'done',
      signature: { password: 'x' },
    })
    expect(token.status).toBe(403)
    expect(token.body.message).toMatch(/signed-in user/)
    const unsigned = await act(id, sessions.qm, { action: 'close', reason: 'done' })
    expect(unsigned.status).toBe(400)
    const wrong = await act(id, sessions.qm, {
      action: 'close',
      reason: 'done',
      signature: { password: 'not my password' },
    })
    expect(wrong.status).toBe(401)
    expect(wrong.body.message).toBe('the password does not match: not signed')
    expect(
      (await call<NonconformanceView>('GET', `/api/nonconformances/${id}`, TOKENS.viewer)).body
        .status,
    ).toBe('dispositioned')

    const review = { action: 'sign', meaning: 'reviewed', reason: 'reviewed the investigation' }
    expect(
      (await act(id, sessions.qm, { ...review, signature: { password: PASSWORDS.qm } })).status,
    ).toBe(200)
    const again = await act(id, sessions.qm, {
      ...review,
      signature: { password: PASSWORDS.qm },
    })
    expect(again.status).toBe(409)
    expect(again.body.message).toMatch(/already signed/)

    const closed = await act(id, sessions.qm, {
      action: 'close',
      reason: 'rework verified',
      signature: { password: PASSWORDS.qm },
    })
    expect(closed.status).toBe(200)
    expect(closed.body.status).toBe('closed')
    const sigs = closed.body.workflow.signatures
    expect(sigs.map((s) => [s.user, s.printedName, s.meaning, s.holds])).toEqual([
      ['qm', 'Anna Weber', 'reviewed', true],
      ['qm', 'Anna Weber', 'closed', true],
    ])
    const closing = sigs[1]
    expect(closing?.manifest[0]).toMatch(
      /^Signed by Anna Weber \(qm\) on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC — meaning: closed$/,
    )
    expect(closing?.recordHash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('opens a new NC for the next excursion, as a recurrence of the closed one', async () => {
    const first = (await ncsOf('bore'))[0] as NonconformanceSummary
    await publish('q/bore', 10, Date.now())
    await publish('q/bore', 16.4, Date.now() + 1)
    const list = await waitFor('the recurrence', async () => {
      const l = await ncsOf('bore')
      return l.length === 2 ? l : undefined
    })
    const recurrence = list.find((n) => n.id !== first.id) as NonconformanceSummary
    expect(recurrence.status).toBe('open')
    expect(recurrence.recurrenceOf).toBe(first.id)
  })

  it('links a CAPA, computes its effectiveness from the readings before and after the action, and closes it under signature', async () => {
    const first = Math.min(...(await ncsOf('bore')).map((n) => n.id))
    const opened = await call<CapaView & { message: string }>('POST', '/api/capas', sessions.qe, {
      title: 'Track insert life on cell 1',
      kind: 'corrective',
      owner: 'qe',
      dueAt: Date.now() + 30 * 86_400_000,
      ncs: [`NC-${String(first).padStart(6, '0')}`],
      reason: 'recurring bore oversize',
    })
    // The first NC is closed: a closed NC is not changed, so it cannot be linked.
    expect(opened.status).toBe(409)
    const open = Math.max(...(await ncsOf('bore')).map((n) => n.id))
    const capa = await call<CapaView>('POST', '/api/capas', sessions.qe, {
      title: 'Track insert life on cell 1',
      kind: 'corrective',
      owner: 'qe',
      dueAt: Date.now() + 30 * 86_400_000,
      ncs: [String(open)],
      reason: 'recurring bore oversize',
    })
    expect(capa.status).toBe(200)
    expect(capa.body.id).toBe('CAPA-000001')
    const nc = (
      await call<NonconformanceView>('GET', `/api/nonconformances/${open}`, TOKENS.viewer)
    ).body
    expect(nc.workflow.capas).toEqual(['CAPA-000001'])

    const capaAct = (token: string, body: Record<string, unknown>) =>
      call<CapaView & { message: string }>('POST', '/api/capas/CAPA-000001/actions', token, body)
    const implemented = await capaAct(sessions.qe, {
      action: 'implement',
      implementedAt,
      reason: 'tool-life counter installed',
    })
    expect(implemented.status).toBe(200)
    const [e] = implemented.body.effectiveness
    expect(e?.characteristic).toBe('bore')
    expect(e?.before.n).toBe(30)
    expect(e?.after.n).toBe(30)
    expect(e?.before.cpk).toBeCloseTo(cpkByHand(before, 6, 14), 9)
    expect(e?.after.cpk).toBeCloseTo(cpkByHand(after, 6, 14), 9)
    expect(e?.verdict).toBe('improved')
    expect(e?.window.before).toEqual({ from: implementedAt - 86_400, to: implementedAt })

    expect(
      (
        await capaAct(sessions.qe, {
          action: 'verify',
          effective: true,
          notes: 'Cpk up',
          reason: 'data',
        })
      ).status,
    ).toBe(200)
    const qeApproves = await capaAct(sessions.qe, {
      action: 'approve',
      reason: 'looks good',
      signature: { password: PASSWORDS.qe },
    })
    expect(qeApproves.status, qeApproves.body.message).toBe(403)
    const approved = await capaAct(sessions.qm, {
      action: 'approve',
      reason: 'effective',
      signature: { password: PASSWORDS.qm },
    })
    expect(approved.status).toBe(200)
    const closed = await capaAct(sessions.qm, {
      action: 'close',
      reason: 'done',
      signature: { password: PASSWORDS.qm },
    })
    expect(closed.status).toBe(200)
    expect(closed.body.status).toBe('closed')
    expect(closed.body.signatureViews.map((s) => [s.meaning, s.holds])).toEqual([
      ['approved', true],
      ['closed', true],
    ])
  })

  it('keeps every step in a verifiable audit trail, and exports the history as CSV and PDF', async () => {
    const first = Math.min(...(await ncsOf('bore')).map((n) => n.id))
    const number = `NC-${String(first).padStart(6, '0')}`
    const trail = await call<AuditEntryView[]>(
      'GET',
      `/api/audit?entity=nc&id=${number}`,
      sessions.qe,
    )
    expect(trail.body.map((a) => a.action)).toEqual([
      'open',
      'comment',
      'investigate',
      'containment',
      'root-cause',
      'affected-lots',
      'disposition',
      'close',
    ])
    expect(trail.body.map((a) => a.actor)).toEqual([
      'system',
      'op',
      'qe',
      'qe',
      'qe',
      'qe',
      'qe',
      'qm',
    ])
    expect(trail.body[2]?.reason).toBe('HH on bore diameter')
    expect(trail.body[2]?.before).toMatchObject({ status: 'open', owner: null })
    expect(trail.body[2]?.after).toMatchObject({ status: 'investigating', owner: 'qe' })
    // Each entry links to the one before it in the whole trail.
    const all = (await call<AuditEntryView[]>('GET', '/api/audit?limit=100000', sessions.qe)).body
    for (let k = 1; k < all.length; k++) expect(all[k]?.prevHash).toBe(all[k - 1]?.hash)
    expect(all.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'configuration recorded',
        'user added',
        'signed in',
        'signed (closed)',
      ]),
    )
    expect((await call('GET', '/api/audit', TOKENS.operator)).status).toBe(403)
    const verdict = await call<{ ok: boolean; count: number }>(
      'GET',
      '/api/audit/verify',
      TOKENS.admin,
    )
    expect(verdict.body).toMatchObject({ ok: true, count: all.length })

    const csv = await call<string>('GET', `/api/nonconformances/${first}/history.csv`, sessions.qe)
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/)
    expect(csv.body).toContain('HH on bore diameter')
    const pdf = await fetch(`${gw.gateway.urls.http}/api/nonconformances/${first}/history.pdf`, {
      headers: { authorization: `Bearer ${sessions.qe}` },
    })
    expect(pdf.status).toBe(200)
    const dir = await tempDir('linewatch-pdf-')
    try {
      const file = join(dir.path, 'nc.pdf')
      writeFileSync(file, Buffer.from(await pdf.arrayBuffer()))
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
      expect(text).toContain(number)
      expect(text).toMatch(/Signed by Anna Weber \(qm\) on .* UTC — meaning: closed/)
      expect(text).toContain('rebore within tolerance')
    } finally {
      await dir.remove()
    }
  })

  it('keeps attachments as downloads with their SHA-256', async () => {
    const id = Math.max(...(await ncsOf('bore')).map((n) => n.id))
    const bytes = Buffer.from('<html><script>alert(1)</script></html>')
    const put = await fetch(
      `${gw.gateway.urls.http}/api/nonconformances/${id}/attachments/gauge.html`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${sessions.op}`, 'content-type': 'text/html' },
        body: bytes,
      },
    )
    expect(put.status).toBe(200)
    const view = (await put.json()) as AttachmentView
    expect(view.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    const got = await fetch(
      `${gw.gateway.urls.http}/api/nonconformances/${id}/attachments/gauge.html`,
      {
        headers: { authorization: `Bearer ${TOKENS.viewer}` },
      },
    )
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes)
    expect(got.headers.get('content-disposition')).toMatch(/^attachment/)
    expect(got.headers.get('content-security-policy')).toMatch(/sandbox/)
  })

  it('reports the KPIs for the quality manager, also as CSV', async () => {
    const k = (await call<QualityKpisView>('GET', '/api/quality/kpis', sessions.qm)).body

    // Two NCs in range, the second a recurrence of the first; the first closed.
    expect(k.ncs).toMatchObject({
      open: 1,
      opened: 2,
      closed: 1,
      recurrences: 1,
      recurrenceRate: 0.5,
    })
    expect(k.capas).toMatchObject({ open: 0, closed: 1 })
    expect(k.paretoByCharacteristic).toEqual([
      { name: 'bore', count: 2, percent: 100, cumulativePercent: 100 },
    ])
    const csv = await call<string>('GET', '/api/quality/kpis.csv', sessions.qm)
    expect(csv.body.split('\r\n')[0]).toBe('figure,value,percent,cumulative percent')
    expect(csv.body).toContain('NC recurrence rate,0.5')
  })

  it('throttles sign-in: after 3 failures the name is locked, even for the right password, and each failure is recorded', async () => {
    for (let k = 0; k < 3; k++) expect((await signIn('op', `wrong ${k}`)).status).toBe(401)
    const locked = await signIn('op', PASSWORDS.op)
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(locked.body.message).toMatch(/locked until/)
    const refused = (
      await call<AuditEntryView[]>('GET', '/api/audit?entity=user&id=op', sessions.qe)
    ).body.filter((a) => a.action === 'sign-in refused')
    expect(refused).toHaveLength(4)
    // Where from, and whether each counts towards a lock (the one refused as locked does not):
    // what a gateway of a cluster reads again after Redis was away.
    const after = refused.map((a) => a.after as { address: string; counts: boolean })
    expect(after.map((a) => a.counts)).toEqual([true, true, true, false])
    expect(
      after.every((a) => a.address !== '' && refused[0]?.reason.endsWith(`(from ${a.address})`)),
    ).toBe(true)
  })

  it('tells the webhook receiver, signed with HMAC-SHA256 over the timestamp and body', async () => {
    await waitFor('the closing webhooks', () =>
      hooks.requests.some((h) => h.headers['x-linewatch-event'] === 'capa.closed')
        ? true
        : undefined,
    )
    const events = hooks.requests.map((h) => h.headers['x-linewatch-event'])
    expect(events).toEqual(
      expect.arrayContaining([
        'nc.opened',
        'nc.changed',
        'nc.closed',
        'capa.opened',
        'capa.closed',
      ]),
    )
    for (const h of hooks.requests) {
      const expected = createHmac('sha256', SECRET)
        .update(`${h.headers['x-linewatch-timestamp']}.${h.body}`)
        .digest('hex')
      expect(h.headers['x-linewatch-signature']).toBe(`sha256=${expected}`)
    }
  })

  it('lets every quality route through only from its role: 401 without a token, 403 below it', async () => {
    const RANKED = ['viewer', 'operator', 'engineer', 'manager', 'admin'] as const
    const ROUTES: [string, string, (typeof RANKED)[number], unknown?][] = [
      ['GET', '/api/users', 'admin'],
      [
        'POST',
        '/api/users',
        'admin',
        {
          name: 'x1',
          printedName: 'X',
          role: 'viewer',
          password: 'a long enough password',
          reason: 'a test',
        },
      ],
      ['POST', '/api/users/op/actions', 'admin', { action: 'enable', reason: 'a test' }],
      ['POST', '/api/nonconformances/1/actions', 'operator', { action: 'comment', text: 'a test' }],
      ['GET', '/api/nonconformances/1/history.csv', 'engineer'],
      ['GET', '/api/nonconformances/1/history.pdf', 'engineer'],
      [
        'POST',
        '/api/capas',
        'engineer',
        {
          title: 't',
          kind: 'corrective',
          owner: 'qe',
          dueAt: Date.now() + 1e9,
          ncs: ['2'],
          reason: 'a test',
        },
      ],
      ['POST', '/api/capas/1/actions', 'operator', { action: 'comment', text: 'a test' }],
      ['GET', '/api/capas/1/history.csv', 'engineer'],
      ['GET', '/api/quality/kpis', 'engineer'],
      ['GET', '/api/quality/kpis.csv', 'engineer'],
      ['GET', '/api/audit', 'engineer'],
      ['GET', '/api/audit/verify', 'admin'],
      [
        'POST',
        '/api/characteristics/bore/baseline',
        'manager',
        { action: 'restart', reason: 'a test' },
      ],
    ]
    for (const [method, path, role, body] of ROUTES) {
      expect(
        (await call(method, path, null, body)).status,
        `${method} ${path} without a token`,
      ).toBe(401)
      for (const lower of RANKED.slice(0, RANKED.indexOf(role))) {
        const res = await call<{ message: string }>(method, path, TOKENS[lower], body)
        expect(res.status, `${method} ${path} as ${lower}`).toBe(403)
      }
      const allowed = await call(method, path, TOKENS[role], body)
      expect(allowed.status, `${method} ${path} as ${role}`).not.toBe(403)
      expect(allowed.status).not.toBe(401)
    }
  })
})
