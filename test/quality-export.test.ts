import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEntryView, SignatureView } from '../gateway/contract.ts'
import {
  changesSummary,
  type HistoryDocument,
  historyCsv,
  historyPdf,
} from '../gateway/quality/export.ts'
import { canonicalJson } from '../rules/quality/canonical.ts'
import { signatureManifest, utcWords } from '../rules/quality/signature.ts'
import { parseCsv } from './helpers/csv.ts'

const BASE = Date.UTC(2026, 11, 6, 14, 3, 11)
const NOW = Date.UTC(2026, 11, 7, 9, 0, 0)
const TITLE = 'NC-000042 — Fill weight above the action limit'

/** Reasons whose CSV cells need the formula guard, the quotes, or both. */
const TRICKY_REASONS: Record<number, string> = {
  5: 'Scale recalibrated, see "WI-12"\nthen re-checked',
  9: "=cmd|' /C calc'!A0",
  13: '+1 spare filler head',
  17: '-0.4 g offset applied',
  21: '@SUM(A1:A9)',
  25: '\tindented',
  29: '\rcarriage return first',
  33: 'ends with a CRLF\r\n',
}

function auditEntry(seq: number): AuditEntryView {
  const at = BASE + (seq - 1) * 61_000
  const prevHash = seq === 1 ? '0'.repeat(64) : hashOf(seq - 1)
  if (seq === 1) {
    return {
      seq,
      at,
      actor: 'system',
      action: 'open',
      entity: 'nc',
      entityId: 'NC-000042',
      reason: 'Opened by the alarm',
      before: null,
      after: { status: 'open', owner: null, severity: 'major' },
      prevHash,
      hash: hashOf(seq),
    }
  }
  if (seq === 60) {
    return {
      seq,
      at,
      actor: 'aweber',
      action: 'close',
      entity: 'nc',
      entityId: 'NC-000042',
      reason: 'Closed after verification',
      before: { status: 'verified' },
      after: { status: 'closed' },
      prevHash,
      hash: hashOf(seq),
    }
  }
  const long = seq % 7 === 0
  return {
    seq,
    at,
    actor: seq % 2 === 0 ? 'jmueller' : 'aweber',
    action: seq % 3 === 0 ? 'comment' : 'investigate',
    entity: 'nc',
    entityId: 'NC-000042',
    reason:
      TRICKY_REASONS[seq] ??
      (long
        ? `Step ${seq}: ${'the filler head was inspected and the nozzle cleaned; '.repeat(4)}`
        : `Step ${seq}`),
    before: { status: 'investigating', notes: `note ${seq - 1}`, cpk: 1.21 },
    after: {
      status: 'investigating',
      notes: long ? `note ${seq} ${'with many words '.repeat(10)}` : `note ${seq}`,
      cpk: seq % 5 === 0 ? 1.4 : 1.21,
      cause: seq % 11 === 0 ? 'σ ≥ 1.33 → ok' : undefined,
    },
    prevHash,
    hash: hashOf(seq),
  }
}

function hashOf(seq: number): string {
  return seq.toString(16).padStart(8, '0').repeat(8)
}

function signature(
  printedName: string,
  user: string,
  meaning: SignatureView['meaning'],
  at: number,
  holds: boolean,
): SignatureView {
  const s = { user, printedName, meaning, at, recordHash: 'ab'.repeat(32) }
  return { ...s, manifest: signatureManifest(s), holds }
}

const ROOT_CAUSE = Array.from(
  { length: 140 },
  (_, i) => `Finding ${i + 1}: nozzle ${i % 6} dripped after the CIP cycle (Größe ±0.2 g).`,
).join('\n')

const DOC: HistoryDocument = {
  title: TITLE,
  subtitle: 'Plant Köln — Line 3 filler · exported 2026-12-07 09:00:00 UTC',
  fields: [
    ['Status', 'closed'],
    ['Owner', 'aweber'],
    ['Capability', 'σ ≥ 1.33 → ok'],
    ['Due', ''],
    ['Note', 'a bell\u0007here\tand a tab'],
    ['Root cause', ROOT_CAUSE],
    ['Disposition', 'rework — after the root cause'],
  ],
  signatures: [
    signature('Dr. Anna Weber', 'aweber', 'approved', BASE + 3_600_000, true),
    signature('Jonas Müller', 'jmueller', 'reviewed', BASE + 1_800_000, false),
  ],
  comments: [
    { at: BASE + 120_000, by: 'jmueller', text: "=cmd|' /C calc'!A0" },
    { at: BASE + 240_000, by: 'aweber', text: 'Spare nozzle ordered, ≥ 2 in stock.' },
  ],
  attachments: [
    {
      name: 'scale-calibration.pdf',
      size: 1_234_567,
      sha256: 'c0ffee'.repeat(10).concat('beef'),
      contentType: 'application/pdf',
      at: BASE + 300_000,
      by: 'jmueller',
    },
  ],
  audit: Array.from({ length: 60 }, (_, i) => auditEntry(i + 1)),
}

/** What a cell holds once guarded against formula injection (OWASP). */
function guarded(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
}

describe('historyCsv', () => {
  it('writes the audit trail as one RFC 4180 table with a BOM, every cell as given', () => {
    const csv = historyCsv(DOC)
    expect(csv.startsWith('\uFEFF')).toBe(true)
    expect(csv.endsWith('\r\n')).toBe(true)
    const rows = parseCsv(csv.slice(1))
    expect(rows[0]).toEqual(['seq', 'at', 'actor', 'action', 'reason', 'before', 'after', 'hash'])
    expect(rows).toHaveLength(DOC.audit.length + 1)
    DOC.audit.forEach((entry, i) => {
      expect(rows[i + 1]).toEqual([
        String(entry.seq),
        new Date(entry.at).toISOString(),
        entry.actor,
        entry.action,
        guarded(entry.reason),
        canonicalJson(entry.before),
        canonicalJson(entry.after),
        entry.hash,
      ])
    })
  })

  it('guards cells a spreadsheet would run as formulas, and quotes what needs quoting', () => {
    const rows = parseCsv(historyCsv(DOC).slice(1))
    const reason = (seq: number) => rows[seq]![4]
    expect(reason(9)).toBe("'=cmd|' /C calc'!A0")
    expect(reason(13)).toBe("'+1 spare filler head")
    expect(reason(17)).toBe("'-0.4 g offset applied")
    expect(reason(21)).toBe("'@SUM(A1:A9)")
    expect(reason(25)).toBe("'\tindented")
    expect(reason(29)).toBe("'\rcarriage return first")
    expect(reason(5)).toBe('Scale recalibrated, see "WI-12"\nthen re-checked')
    expect(historyCsv(DOC)).toContain('"Scale recalibrated, see ""WI-12""\nthen re-checked"')
    expect(rows[1]![0]).toBe('1')
    expect(rows[1]![5]).toBe('null')
    expect(rows[60]![1]).toBe('2026-12-06T15:03:10.000Z')
  })

  it('writes only the header for a record without audit entries', () => {
    expect(historyCsv({ ...DOC, audit: [] })).toBe(
      '\uFEFFseq,at,actor,action,reason,before,after,hash\r\n',
    )
  })
})

describe('changesSummary', () => {
  it('writes one "field: before → after" line per changed field', () => {
    expect(changesSummary({ status: 'open', owner: null }, { status: 'closed', owner: null })).toBe(
      'status: open → closed',
    )
    expect(changesSummary(null, { status: 'open' })).toBe('status: — → open')
    expect(changesSummary({ a: 1 }, {})).toBe('a: 1 → —')
    expect(changesSummary('x', 'y')).toBe('x → y')
    expect(changesSummary(null, null)).toBe('')
  })

  it('cuts long values and many lines', () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i]))
    const lines = changesSummary({}, many).split('\n')
    expect(lines).toHaveLength(8)
    expect(lines[7]).toBe('… and 13 more')
    const long = changesSummary({ notes: '' }, { notes: 'x'.repeat(500) })
    expect(long.endsWith('…')).toBe(true)
    expect(long.length).toBeLessThan(80)
  })
})

describe('historyPdf', () => {
  let dir: string
  let file: string
  let pdf: Buffer
  let text: string
  let pages: number

  const run = (command: string, args: string[]) =>
    execFileSync(command, args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'linewatch-export-'))
    file = join(dir, 'history.pdf')
    pdf = await historyPdf(DOC, { now: NOW })
    writeFileSync(file, pdf)
    text = run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'])
    const info = run('pdfinfo', [file])
    pages = Number(/^Pages:\s+(\d+)$/m.exec(info)?.[1])
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('is a PDF of several pages, numbered "Page n of m"', () => {
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-')
    expect(pages).toBeGreaterThan(1)
    for (let n = 1; n <= pages; n++) expect(text).toContain(`Page ${n} of ${pages}`)
    expect(text).not.toContain(`Page ${pages + 1} of`)
  })

  it('prints the title, the subtitle and the fields, symbols and accents included', () => {
    expect(text).toContain(TITLE)
    expect(text).toContain(DOC.subtitle)
    expect(text).toContain('σ ≥ 1.33 → ok')
    expect(text).toContain('Finding 1: nozzle 0 dripped after the CIP cycle (Größe ±0.2 g).')
    expect(text).toContain('Finding 140: nozzle 1 dripped after the CIP cycle (Größe ±0.2 g).')
    expect(text).toContain('Root cause (continued)')
    expect(text).toContain('rework — after the root cause')
    expect(text).toMatch(/a bell\uFFFDhere {2,}and a tab/)
  })

  it('prints every signature with its printed name, time and meaning (§11.50)', () => {
    for (const s of DOC.signatures) {
      expect(text).toContain(s.printedName)
      expect(text).toContain(utcWords(s.at))
      expect(utcWords(s.at)).toMatch(/^2026-12-06 \d\d:\d\d:\d\d UTC$/)
      expect(text).toContain(`meaning: ${s.meaning}`)
      expect(text).toContain(s.manifest[0])
    }
    expect(text.split('(signed an earlier version of this record)')).toHaveLength(2)
    const earlier = text.indexOf('(signed an earlier version of this record)')
    expect(text.lastIndexOf('Jonas Müller', earlier)).toBeGreaterThan(
      text.lastIndexOf('Dr. Anna Weber', earlier),
    )
  })

  it('prints comments as written and attachments with size and SHA-256', () => {
    expect(text).toContain("=cmd|' /C calc'!A0")
    expect(text).not.toContain("'=cmd")
    expect(text).toContain('Spare nozzle ordered, ≥ 2 in stock.')
    const a = DOC.attachments[0]!
    expect(text).toContain(a.name)
    expect(text).toMatch(/1,234,567 bytes\s.*\n.*\(1\.2 MiB\)/)
    expect(text).toContain(a.sha256.slice(0, 32))
    expect(text).toContain(a.sha256.slice(32))
  })

  it('prints the audit trail from the first entry to the last', () => {
    expect(text).toMatch(/^\s*1\s+2026-12-06\s+system\s+open\s+Opened by the alarm\s/m)
    expect(text).toMatch(/^\s*60\s+2026-12-06\s+aweber\s+close\s+Closed after verification\s/m)
    expect(text).toContain('status: verified → closed')
    expect(text).toContain(`hash of the last: ${hashOf(60)}`)
    for (let seq = 1; seq <= 60; seq++) expect(text).toMatch(new RegExp(`^\\s*${seq}\\s+2026`, 'm'))
  })

  it('repeats the record title at the top of every page after the first', () => {
    for (let page = 2; page <= pages; page++) {
      const pageText = run('pdftotext', ['-layout', '-f', `${page}`, '-l', `${page}`, file, '-'])
      expect(pageText.trimStart().startsWith(TITLE)).toBe(true)
    }
  })

  it('lays out text without overlaps', () => {
    const xml = run('pdftotext', ['-bbox', file, '-'])
    let page = 0
    const boxes: { page: number; x0: number; y0: number; x1: number; y1: number; w: string }[] = []
    for (const line of xml.split('\n')) {
      if (line.includes('<page ')) page++
      const m =
        /<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)<\/word>/.exec(
          line,
        )
      if (m) boxes.push({ page, x0: +m[1]!, y0: +m[2]!, x1: +m[3]!, y1: +m[4]!, w: m[5]! })
    }
    expect(boxes.length).toBeGreaterThan(1000)
    const overlaps: string[] = []
    for (let i = 0; i < boxes.length; i++) {
      const a = boxes[i]!
      for (let j = i + 1; j < boxes.length; j++) {
        const b = boxes[j]!
        if (a.page !== b.page) break
        const dx = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)
        const dy = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0)
        if (dx > 0.5 && dy > 1.5) overlaps.push(`page ${a.page}: "${a.w}" and "${b.w}"`)
      }
    }
    expect(overlaps).toEqual([])
    const height = 841.89
    for (const box of boxes) {
      expect(box.y0).toBeGreaterThanOrEqual(0)
      expect(box.y1).toBeLessThanOrEqual(height)
    }
  })

  it('embeds DejaVu fonts only, and carries the title, creator and the given date', () => {
    const fonts = run('pdffonts', [file]).trim().split('\n').slice(2)
    expect(fonts.length).toBeGreaterThan(0)
    for (const line of fonts) {
      expect(line).toContain('DejaVu')
      expect(line).toMatch(/\byes\s+yes\s+(yes|no)\s+\d+\s+\d+$/)
    }
    const info = run('pdfinfo', ['-isodates', file])
    expect(info).toMatch(/^Title:\s+NC-000042 — Fill weight above the action limit$/m)
    expect(info).toMatch(/^Creator:\s+linewatch$/m)
    expect(info).toMatch(/^CreationDate:\s+2026-12-07T09:00:00(Z|\+00)/m)
  })

  it('gives the same bytes for the same record and date', async () => {
    expect((await historyPdf(DOC, { now: NOW })).equals(pdf)).toBe(true)
  })

  it('breaks a long run without spaces across lines and pages, whole', async () => {
    // 12,000 characters without a space: pdfkit alone lays such a run out in tens of seconds;
    // broken every 20 characters it takes well under one (a regression shows as a slow test).
    const blob = Array.from({ length: 12_000 }, (_, i) => 'ABCDEFGHIJ'[i % 10]).join('')
    const out = await historyPdf({ ...DOC, fields: [['Blob', blob]], audit: [] }, { now: NOW })
    const path = join(dir, 'blob.pdf')
    writeFileSync(path, out)
    const pageCount = Number(/^Pages:\s+(\d+)$/m.exec(run('pdfinfo', [path]))?.[1])
    expect(pageCount).toBeGreaterThan(1)
    const printed = run('pdftotext', ['-raw', path, '-'])
    const runs = printed.match(/[A-J\u200B]{10,}/g) ?? []
    expect(runs.join('').replaceAll('\u200B', '')).toBe(blob)
  })

  it('writes a record with nothing but a title', async () => {
    const empty = await historyPdf(
      {
        title: 'CAPA-000007 — Nothing yet',
        subtitle: '',
        fields: [],
        signatures: [],
        comments: [],
        attachments: [],
        audit: [],
      },
      { now: NOW },
    )
    const path = join(dir, 'empty.pdf')
    writeFileSync(path, empty)
    const emptyText = run('pdftotext', ['-layout', path, '-'])
    expect(emptyText).toContain('CAPA-000007 — Nothing yet')
    expect(emptyText).toContain('No signatures.')
    expect(emptyText).toContain('No audit entries.')
    expect(emptyText).toContain('Page 1 of 1')
  })
})
