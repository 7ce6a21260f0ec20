import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { historyPdf, historyPdfOffThread } from '../gateway/quality/index.ts'
import { reportPdf, reportPdfOffThread } from '../gateway/reports/index.ts'
import type { AuditTrailReport } from '../rules/reports/shapes.ts'
import { requireProgram, tempDir, turnsDuring } from './helpers/index.ts'

/**
 * The gateway's PDFs are laid out on a thread of their own (gateway/pdf/off-thread.ts): a report
 * and a record's history are the same documents as made in place, while the calling thread's
 * event loop goes on turning (counted in turns, not timed); several asked for at once all come.
 */

const report = (n: number): AuditTrailReport => ({
  kind: 'audit-trail',
  title: 'Audit trail',
  plant: 'Test plant',
  from: Date.UTC(2026, 11, 1),
  to: Date.UTC(2026, 11, 8),
  generatedAt: Date.UTC(2026, 11, 8),
  notes: [],
  entity: null,
  truncated: false,
  byEntity: [{ entity: 'nc', count: n }],
  entries: Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    at: Date.UTC(2026, 11, 1) + i * 60_000,
    actor: 'engineer',
    action: 'investigate',
    entity: 'nc',
    entityId: `NC-${String(i + 1).padStart(6, '0')}`,
    reason: `entry ${i + 1}: the filler scale drifts`,
    changes: ['owner: null → qe', 'status: open → investigating'],
    hash: 'a'.repeat(64),
  })),
})

describe('PDFs on a thread of their own', () => {
  let work: { path: string; remove(): Promise<void> }
  let pdftotext: string
  const text = (pdf: Buffer, name: string) => {
    const file = join(work.path, name)
    writeFileSync(file, pdf)
    return execFileSync(pdftotext, ['-raw', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })
  }

  beforeAll(async () => {
    pdftotext = await requireProgram('pdftotext', 'poppler-utils')
    work = await tempDir()
  })
  afterAll(async () => {
    await work?.remove()
  })

  it('makes the same report as in place', async () => {
    const r = report(40)
    const [here, there] = [await reportPdf(r), await reportPdfOffThread(r)]
    expect(there.subarray(0, 5).toString()).toBe('%PDF-')
    expect(text(there, 'there.pdf')).toBe(text(here, 'here.pdf'))
    expect(text(there, 'there.pdf')).toContain('entry 40: the filler scale drifts')
  })

  it('makes the same history of a record as in place', async () => {
    const doc = {
      title: 'NC-000042 — Fill weight above the action limit',
      subtitle: 'Test plant — exported 2026-12-08T01:00:00.000Z',
      fields: [
        ['Status', 'closed'],
        ['Root cause', 'the filler scale drifts'],
      ] as [string, string][],
      signatures: [],
      comments: [],
      attachments: [],
      audit: [],
    }
    const there = await historyPdfOffThread(doc)
    expect(text(there, 'history-there.pdf')).toBe(text(await historyPdf(doc), 'history-here.pdf'))
    expect(text(there, 'history-there.pdf')).toContain('the filler scale drifts')
  })

  it('leaves the event loop free while it lays out 3,000 entries', async () => {
    const r = report(3000)
    // In place: the layout holds the loop (a few turns at most, while the bytes are gathered).
    const inPlace = (await turnsDuring(() => reportPdf(r))).turns
    const { value: pdf, turns } = await turnsDuring(() => reportPdfOffThread(r))
    expect(text(pdf, 'big.pdf')).toContain('entry 3000: the filler scale drifts')
    // Off the thread the loop turned on through the layout: far more turns than in place.
    expect(turns).toBeGreaterThan(10 * Math.max(inPlace, 10))
  })

  it('makes every one of several asked for at once, one after the other', async () => {
    const pdfs = await Promise.all([1, 2, 3].map((k) => reportPdfOffThread(report(k * 5))))
    for (const [k, pdf] of pdfs.entries())
      expect(text(pdf, `many-${k}.pdf`)).toContain(`entry ${(k + 1) * 5}: the filler scale drifts`)
  })
})
