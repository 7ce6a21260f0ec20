import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEntryView, AuditTrailReport } from '../gateway/contract.ts'
import { parseCsv } from './helpers/csv.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { requireProgram, tempDir } from './helpers/index.ts'

/**
 * What the audit trail records beside NCs and CAPAs (issue 9): a changed configuration at start
 * (with its diff), an alarm's settings changed, control limits changed; and a gateway that
 * refuses to start on a trail cut short at its end.
 */

const config = (actionHigh: number) => `
mqtt: { broker: { port: 0 } }
characteristics:
  - id: fill
    name: Fill weight
    path: Plant/Filling/Line 1
    unit: g
    source: { mqtt: { topic: a/fill } }
    limits: { actionLow: 495, actionHigh: ${actionHigh} }
`

describe('the audit trail of settings and configuration', () => {
  let data: { path: string; remove(): Promise<void> }
  let gw: TestGateway | null = null
  const start = async (actionHigh: number) => {
    gw = await startTestGateway(config(actionHigh), { dataDir: data.path })
    return gw
  }
  const stop = async () => {
    await gw?.close()
    gw = null
  }
  const trail = async (g: TestGateway, query = '') =>
    (await g.get<AuditEntryView[]>(`/api/audit?limit=100000${query}`, TOKENS.engineer)).body

  beforeAll(async () => {
    process.env.LINEWATCH_ADMIN_PASSWORD = 'the first start: amber tide'
    data = await tempDir('linewatch-audit-')
  })
  afterAll(async () => {
    await stop()
    await data.remove()
    delete process.env.LINEWATCH_ADMIN_PASSWORD
  })

  it('records the configuration at the first start, and nothing when it starts again unchanged', async () => {
    const g = await start(505)
    const first = (await trail(g)).filter((a) => a.entity === 'config')
    expect(first.map((a) => [a.action, a.actor])).toEqual([['configuration recorded', 'system']])
    await stop()
    const again = await start(505)
    expect((await trail(again)).filter((a) => a.entity === 'config')).toHaveLength(1)
  })

  it('records an alarm settings change and a control-limit change with who, why, before and after', async () => {
    const g = gw as TestGateway
    const mqtt = await connectAsync(g.gateway.urls.mqtt as string)
    for (const [k, value] of [500, 501, 499, 500.5, 499.5].entries())
      await mqtt.publishAsync('a/fill', JSON.stringify({ value, ts: Date.now() - 10_000 + k }), {
        qos: 1,
      })
    await mqtt.endAsync()
    const put = await fetch(`${g.gateway.urls.http}/api/alarms/fill%3AHH/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKENS.engineer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ priority: 'low', reason: 'rationalisation review 12' }),
    })
    expect(put.status).toBe(200)
    const post = await fetch(`${g.gateway.urls.http}/api/characteristics/fill/baseline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.manager}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'end-baseline', reason: 'enough for the trial' }),
    })
    expect(post.status).toBe(200)
    const alarm = (await trail(g, '&entity=alarm&id=fill:HH'))[0] as AuditEntryView
    expect(alarm).toMatchObject({
      action: 'alarm settings changed',
      actor: 'engineer',
      reason: 'rationalisation review 12',
    })
    // HH is high by default (docs/alarms.md, priorities per condition).
    expect((alarm.before as { priority: string }).priority).toBe('high')
    expect((alarm.after as { priority: string }).priority).toBe('low')
    const limits = (await trail(g, '&entity=limits&id=fill'))[0]
    // Frozen from the five readings: centre = their mean, written here.
    expect(limits).toMatchObject({
      action: 'limits: end-baseline',
      actor: 'manager',
      reason: 'enough for the trial',
      before: null,
      after: { center: (500 + 501 + 499 + 500.5 + 499.5) / 5 },
    })
  })

  it('records a changed configuration at the next start, with the lines that changed', async () => {
    await stop()
    const g = await start(506)
    const changed = (await trail(g)).filter((a) => a.entity === 'config')
    const [recorded, change] = changed as [AuditEntryView, AuditEntryView]
    expect(changed.map((a) => a.action)).toEqual([
      'configuration recorded',
      'configuration changed',
    ])
    const diff = (change.after as { diff: string }).diff
    // Headed by where the change is: the limits of the characteristic "fill".
    expect(diff.split('\n')[0]).toBe('@ characteristics[id="fill"].limits')
    const lines = diff.split('\n').filter((l) => l.startsWith('- ') || l.startsWith('+ '))
    expect(lines.map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      '- "actionHigh": 505,',
      '+ "actionHigh": 506,',
    ])
    expect((change.before as { sha256: string }).sha256).toBe(
      (recorded.after as { sha256: string }).sha256,
    )
  })

  it('lists the range as the audit-trail report: JSON, CSV and PDF, a diff line by line (quality engineer)', async () => {
    const g = gw as TestGateway
    const entries = await trail(g)
    const range = `from=${(entries[0] as AuditEntryView).at}&to=${Date.now() + 60_000}`
    const path = `/api/reports/audit-trail?${range}`
    expect((await g.get(path, TOKENS.viewer)).status).toBe(403)
    const report = (await g.get<AuditTrailReport>(path, TOKENS.engineer)).body
    expect(report.entries.map((e) => [e.seq, e.at, e.actor, e.action, e.hash])).toEqual(
      entries.map((e) => [e.seq, e.at, e.actor, e.action, e.hash]),
    )
    expect(report.truncated).toBe(false)
    const counted = new Map<string, number>()
    for (const e of entries) counted.set(e.entity, (counted.get(e.entity) ?? 0) + 1)
    expect(Object.fromEntries(report.byEntity.map((b) => [b.entity, b.count]))).toEqual(
      Object.fromEntries(counted),
    )
    // The configuration's change: both hashes, then its diff's lines as they are.
    const change = entries.find((e) => e.action === 'configuration changed') as AuditEntryView
    const before = change.before as { sha256: string }
    const after = change.after as { sha256: string; diff: string }
    const listed = report.entries.find((e) => e.seq === change.seq)
    expect(listed?.changes).toEqual([
      `sha256: ${before.sha256} → ${after.sha256}`,
      'diff:',
      ...after.diff.split('\n'),
    ])
    const alarm = report.entries.find((e) => e.action === 'alarm settings changed')
    expect(alarm?.changes).toContain('priority: high → low')
    // Only what the entries are about, when asked: the configuration's two.
    const configOnly = (await g.get<AuditTrailReport>(`${path}&entity=config`, TOKENS.engineer))
      .body
    expect(configOnly.entity).toBe('config')
    expect(configOnly.entries.map((e) => e.seq)).toEqual(
      entries.filter((e) => e.entity === 'config').map((e) => e.seq),
    )
    expect(configOnly.entries.map((e) => e.action)).toEqual([
      'configuration recorded',
      'configuration changed',
    ])
    expect(
      (await g.get(`${path}&entity=${encodeURIComponent('No such!')}`, TOKENS.engineer)).status,
    ).toBe(400)

    const csv = await fetch(`${g.gateway.urls.http}${path}&format=csv`, {
      headers: { authorization: `Bearer ${TOKENS.engineer}` },
    })
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/)
    const rows = parseCsv((await csv.text()).replace(/^\uFEFF/, ''))
    const title = rows.findIndex((r) => r[0] === 'Entries, oldest first')
    const header = rows[title + 1] as string[]
    expect(header).toEqual([
      'seq',
      'at',
      'actor',
      'action',
      'entity',
      'entityId',
      'reason',
      'changes',
      'hash',
    ])
    const row = rows.slice(title + 2).find((r) => r[0] === String(change.seq)) as string[]
    expect(row[1]).toBe(new Date(change.at).toISOString())
    expect(row[7]).toBe(listed?.changes.join('\n'))
    expect(row[8]).toBe(change.hash)

    const pdf = await fetch(`${g.gateway.urls.http}${path}&format=pdf`, {
      headers: { authorization: `Bearer ${TOKENS.engineer}` },
    })
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    const file = join(data.path, 'audit-trail.pdf')
    writeFileSync(file, Buffer.from(await pdf.arrayBuffer()))
    const pdftotext = await requireProgram('pdftotext', 'poppler-utils')
    const text = execFileSync(pdftotext, ['-raw', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })
    expect(text).toContain('@ characteristics[id="fill"].limits')
    expect(text.replace(/\s+/g, ' ')).toContain('- "actionHigh": 505, + "actionHigh": 506,')
  })

  it('refuses to start on a trail cut short at its end (the head outside says so)', async () => {
    await stop()
    const db = new DatabaseSync(join(data.path, 'records.db'))
    expect(() => db.exec('DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)')).toThrow(
      /append-only/,
    )
    db.exec('DROP TRIGGER audit_no_delete')
    db.exec('DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)')
    db.close()
    await expect(start(506)).rejects.toMatchObject({ code: 'LW_ERR_AUDIT_TRUNCATED' })
  })
})
