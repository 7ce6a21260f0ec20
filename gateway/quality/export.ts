import { canonicalJson } from '../../rules/quality/canonical.ts'
import { toCsv } from '../../rules/quality/kpis.ts'
import { signatureManifest, utcWords } from '../../rules/quality/signature.ts'
import type { AttachmentView, AuditEntryView, CommentView, SignatureView } from '../contract.ts'
import { type Layout, renderPdf, truncate } from '../pdf/index.ts'
import { pdfOffThread } from '../pdf/off-thread.ts'

/**
 * The full history of one NC or CAPA as it is exported (issue 9): the audit trail as CSV, and
 * the whole record (its fields, signatures, comments, attachments and audit trail) as a PDF.
 * Electronic signatures are printed with the record, each with its manifest (21 CFR Part 11
 * §11.50: printed name, date and time, meaning), and a signature of an earlier version of the
 * record says so.
 */
export interface HistoryDocument {
  /** e.g. "NC-000042 — Fill weight above the action limit" */
  title: string
  /** The plant / gateway title and when it was exported (UTC), printed under the title. */
  subtitle: string
  /** The record's fields in order: [label, value] e.g. ["Status", "closed"], ["Owner", "aweber"], ["Root cause", "…"]. Values may be long and multi-line. */
  fields: [string, string][]
  signatures: SignatureView[]
  comments: CommentView[]
  attachments: AttachmentView[]
  /** The audit trail of this record, oldest first. */
  audit: AuditEntryView[]
}

export interface HistoryPdfOptions {
  /** UTC ms written as the PDF's creation date (default: now), so the same input gives the same bytes. */
  now?: number
}

// ---------------------------------------------------------------------------------------------
// CSV

/** The columns of the CSV export, one row per audit entry. */
export const HISTORY_CSV_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'reason',
  'before',
  'after',
  'hash',
] as const

/**
 * The audit trail as one CSV table (RFC 4180, CRLF line ends), UTF-8 with a byte order mark so
 * that Excel reads accents and symbols: a header line, then one row per audit entry with its
 * time in ISO 8601 UTC and the states before and after as canonical JSON. Cells are written by
 * kpis.ts's csvCell, which guards formula injection (a cell starting with = + - @ tab or CR gets
 * a leading single quote) and quotes what RFC 4180 asks.
 */
export function historyCsv(doc: HistoryDocument): string {
  const rows = doc.audit.map((entry) => ({
    seq: entry.seq,
    at: new Date(entry.at).toISOString(),
    actor: entry.actor,
    action: entry.action,
    reason: entry.reason,
    before: jsonText(entry.before),
    after: jsonText(entry.after),
    hash: entry.hash,
  }))
  return `\uFEFF${toCsv(rows, HISTORY_CSV_COLUMNS)}`
}

/** Canonical JSON, '' for undefined; a value with no canonical form (never from the store) as JSON. */
function jsonText(value: unknown): string {
  if (value === undefined) return ''
  try {
    return canonicalJson(value)
  } catch {
    return JSON.stringify(value) ?? ''
  }
}

// ---------------------------------------------------------------------------------------------
// PDF

/** Per-cell limits in the audit table, so one entry cannot fill pages. */
const MAX_REASON = 400
const MAX_CHANGE_VALUE = 60
const MAX_CHANGE_LINES = 8
const MAX_CHANGES = 600

/**
 * The record's history as a PDF (A4, DejaVu Sans embedded): the title and subtitle, the fields
 * in a two-column table, the signatures with their manifests, the comments, the attachments
 * (name, size, SHA-256) and the audit trail as a table whose header repeats on every page; long
 * content flows onto new pages (a row taller than what is left of a page is split between
 * pages). Every page after the first has the record's title in its header; every page has
 * "Page n of m" in its footer.
 */
export function historyPdf(doc: HistoryDocument, options: HistoryPdfOptions = {}): Promise<Buffer> {
  return renderPdf({ title: doc.title, now: options.now }, (layout) => writeRecord(layout, doc))
}

/** `historyPdf` on a thread of its own (gateway/pdf/off-thread.ts). */
export function historyPdfOffThread(doc: HistoryDocument): Promise<Buffer> {
  return pdfOffThread({ module: import.meta.url, renderer: 'historyPdf', data: doc })
}

function writeRecord(layout: Layout, doc: HistoryDocument): void {
  layout.paragraph(doc.title, { font: 'bold', size: 16 })
  layout.paragraph(doc.subtitle, { size: 9, color: '#555555' })
  layout.gap(8)

  // The fields
  layout.rule()
  for (const [label, value] of doc.fields) {
    layout.row(
      [
        { text: label, width: 140, font: 'bold', size: 9, continued: `${label} (continued)` },
        { text: value === '' ? '—' : value, width: layout.width - 140, size: 9 },
      ],
      { rule: true },
    )
  }

  layout.heading('Signatures')
  if (doc.signatures.length === 0) layout.paragraph('No signatures.', { size: 9, color: '#555555' })
  layout.rule()
  for (const signature of doc.signatures) {
    const lines = signature.manifest.length > 0 ? signature.manifest : signatureManifest(signature)
    const text = signature.holds
      ? lines.join('\n')
      : `${lines.join('\n')}\n(signed an earlier version of this record)`
    layout.row([{ text, width: layout.width, size: 9 }], { rule: true })
  }

  layout.heading('Comments')
  if (doc.comments.length === 0) layout.paragraph('No comments.', { size: 9, color: '#555555' })
  layout.rule()
  for (const comment of doc.comments) {
    layout.row(
      [
        { text: `${utcWords(comment.at)}\n${comment.by}`, width: 150, font: 'bold', size: 8.5 },
        { text: comment.text, width: layout.width - 150, size: 9 },
      ],
      { rule: true },
    )
  }

  layout.heading('Attachments')
  if (doc.attachments.length === 0) {
    layout.paragraph('No attachments.', { size: 9, color: '#555555' })
  } else {
    const widths = [120, 85, 125, layout.width - 330]
    layout.table(
      ['Name', 'Size', 'Added (UTC)', 'SHA-256'].map((text, i) => ({ text, width: widths[i]! })),
      doc.attachments.map((a) => [
        { text: `${a.name}\n${a.contentType}`, width: widths[0]! },
        { text: sizeWords(a.size), width: widths[1]! },
        { text: `${utcWords(a.at)}\n${a.by}`, width: widths[2]! },
        {
          text: `${a.sha256.slice(0, 32)}\n${a.sha256.slice(32)}`,
          width: widths[3]!,
          font: 'mono',
          size: 7.5,
        },
      ]),
      8.5,
    )
  }

  layout.heading('Audit trail')
  if (doc.audit.length === 0) {
    layout.paragraph('No audit entries.', { size: 9, color: '#555555' })
    return
  }
  const first = doc.audit[0]!
  const last = doc.audit[doc.audit.length - 1]!
  layout.paragraph(
    `${doc.audit.length} ${doc.audit.length === 1 ? 'entry' : 'entries'}, seq ${first.seq}–${last.seq}; ` +
      `hash of the last: ${last.hash}`,
    { size: 8, color: '#555555' },
  )
  layout.gap(2)
  const widths = [30, 64, 62, 62, 122, layout.width - 340]
  layout.table(
    ['Seq', 'Time (UTC)', 'Actor', 'Action', 'Reason', 'Changes'].map((text, i) => ({
      text,
      width: widths[i]!,
    })),
    doc.audit.map((entry) => {
      const iso = new Date(entry.at).toISOString()
      return [
        { text: String(entry.seq), width: widths[0]! },
        { text: `${iso.slice(0, 10)}\n${iso.slice(11, 19)} UTC`, width: widths[1]! },
        { text: truncate(entry.actor, 80), width: widths[2]! },
        { text: truncate(entry.action, 80), width: widths[3]! },
        { text: truncate(entry.reason, MAX_REASON), width: widths[4]! },
        { text: changesSummary(entry.before, entry.after), width: widths[5]! },
      ]
    }),
    7.5,
  )
}

// ---------------------------------------------------------------------------------------------
// Text

/** "12,345 bytes", and on a second line "(12.1 KiB)" from 1 KiB. */
function sizeWords(size: number): string {
  const bytes = `${String(size).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} ${size === 1 ? 'byte' : 'bytes'}`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = size
  let unit = ''
  for (const next of units) {
    if (value < 1024) break
    value /= 1024
    unit = next
  }
  return unit === '' ? bytes : `${bytes}\n(${value.toFixed(1)} ${unit})`
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A value in a change line: a string as itself, anything else as JSON; absent as "—". */
function changeValue(value: unknown): string {
  if (value === undefined) return '—'
  const text = typeof value === 'string' ? (value === '' ? '""' : value) : jsonText(value)
  return truncate(text.replace(/\s+/g, ' '), MAX_CHANGE_VALUE)
}

function same(a: unknown, b: unknown): boolean {
  return (a === undefined && b === undefined) || jsonText(a) === jsonText(b)
}

/**
 * What an audit entry changed, one "field: before → after" line per field whose value differs
 * (a field absent on one side is "—"); values and lines are cut to a sane length.
 */
export function changesSummary(before: unknown, after: unknown): string {
  let lines: string[]
  if (isPlainObject(before) || isPlainObject(after)) {
    const b = isPlainObject(before) ? before : {}
    const a = isPlainObject(after) ? after : {}
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    lines = keys
      .filter((key) => !same(b[key], a[key]))
      .map((key) => `${key}: ${changeValue(b[key])} → ${changeValue(a[key])}`)
  } else if (same(before, after) || (before == null && after == null)) {
    lines = []
  } else {
    lines = [`${changeValue(before ?? undefined)} → ${changeValue(after ?? undefined)}`]
  }
  if (lines.length > MAX_CHANGE_LINES) {
    const more = lines.length - (MAX_CHANGE_LINES - 1)
    lines = [...lines.slice(0, MAX_CHANGE_LINES - 1), `… and ${more} more`]
  }
  return truncate(lines.join('\n'), MAX_CHANGES)
}
