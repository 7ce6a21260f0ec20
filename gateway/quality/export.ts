import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import PDFDocument from 'pdfkit'
import { canonicalJson } from '../../rules/quality/canonical.ts'
import { toCsv } from '../../rules/quality/kpis.ts'
import { signatureManifest, utcWords } from '../../rules/quality/signature.ts'
import type { AttachmentView, AuditEntryView, CommentView, SignatureView } from '../contract.ts'

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

type Pdf = PDFKit.PDFDocument
type FontName = 'sans' | 'bold' | 'mono'

const A4_WIDTH = 595.28
const A4_HEIGHT = 841.89
const LEFT = 50
const RIGHT = A4_WIDTH - 50
const WIDTH = RIGHT - LEFT
/** Where content starts and must end on every page; the header and footer lie outside. */
const TOP = 58
const BOTTOM = A4_HEIGHT - 58
const HEADER_Y = 32
const FOOTER_Y = A4_HEIGHT - 42
/** Padding inside a table cell, and the gap between lines of text. */
const PAD_X = 3
const PAD_Y = 2.5
const LINE_GAP = 1

/** Per-cell limits in the audit table, so one entry cannot fill pages. */
const MAX_REASON = 400
const MAX_CHANGE_VALUE = 60
const MAX_CHANGE_LINES = 8
const MAX_CHANGES = 600

interface Cell {
  text: string
  width: number
  font?: FontName
  size?: number
  color?: string
  /** Shown in the continuation of a row split across pages when nothing of this cell is left. */
  continued?: string
}

interface RowStyle {
  fill?: string
  rule?: boolean
}

interface Fonts {
  /**
   * The regular font's path: the document's default font (so no standard font is embedded),
   * and the name it is selected by: registering it again under another name would have pdfkit
   * parse the font file anew at every selection (it finds it equal to the default and returns
   * before caching it under the name).
   */
  sans: string
  bold: Buffer
  mono: Buffer
}

let fonts: Fonts | undefined

function loadFonts(): Fonts {
  if (fonts === undefined) {
    const require = createRequire(import.meta.url)
    const path = (file: string) => require.resolve(`dejavu-fonts-ttf/ttf/${file}`)
    fonts = {
      sans: path('DejaVuSans.ttf'),
      bold: readFileSync(path('DejaVuSans-Bold.ttf')),
      mono: readFileSync(path('DejaVuSansMono.ttf')),
    }
  }
  return fonts
}

/**
 * The record's history as a PDF (A4, DejaVu Sans embedded): the title and subtitle, the fields
 * in a two-column table, the signatures with their manifests, the comments, the attachments
 * (name, size, SHA-256) and the audit trail as a table whose header repeats on every page; long
 * content flows onto new pages (a row taller than what is left of a page is split between
 * pages). Every page after the first has the record's title in its header; every page has
 * "Page n of m" in its footer.
 */
export function historyPdf(doc: HistoryDocument, options: HistoryPdfOptions = {}): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    try {
      const { sans, bold, mono } = loadFonts()
      const created = new Date(options.now ?? Date.now())
      const pdf: Pdf = new PDFDocument({
        size: [A4_WIDTH, A4_HEIGHT],
        // pdfkit's own margins only matter to its page breaks, which the layout never leaves to it.
        margins: { top: 20, bottom: 20, left: LEFT, right: A4_WIDTH - RIGHT },
        bufferPages: true,
        font: sans,
        displayTitle: true,
        info: { Title: doc.title, Creator: 'linewatch', CreationDate: created, ModDate: created },
      })
      pdf.registerFont('bold', bold)
      pdf.registerFont('mono', mono)
      const chunks: Buffer[] = []
      pdf.on('data', (chunk: Buffer) => chunks.push(chunk))
      pdf.on('end', () => resolve(Buffer.concat(chunks)))
      pdf.on('error', reject)
      writeRecord(new Layout(pdf, { sans, bold: 'bold', mono: 'mono' }), doc)
      writePageFurniture(pdf, sans, doc.title)
      pdf.end()
    } catch (error) {
      reject(error)
    }
  })
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
        { text: value === '' ? '—' : value, width: WIDTH - 140, size: 9 },
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
    layout.row([{ text, width: WIDTH, size: 9 }], { rule: true })
  }

  layout.heading('Comments')
  if (doc.comments.length === 0) layout.paragraph('No comments.', { size: 9, color: '#555555' })
  layout.rule()
  for (const comment of doc.comments) {
    layout.row(
      [
        { text: `${utcWords(comment.at)}\n${comment.by}`, width: 150, font: 'bold', size: 8.5 },
        { text: comment.text, width: WIDTH - 150, size: 9 },
      ],
      { rule: true },
    )
  }

  layout.heading('Attachments')
  if (doc.attachments.length === 0) {
    layout.paragraph('No attachments.', { size: 9, color: '#555555' })
  } else {
    const widths = [120, 85, 125, WIDTH - 330]
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
  const widths = [30, 64, 62, 62, 122, WIDTH - 340]
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

/** "Page n of m" on every page, and the record's title at the top of every page after the first. */
function writePageFurniture(pdf: Pdf, font: string, title: string): void {
  const { start, count } = pdf.bufferedPageRange()
  for (let i = 0; i < count; i++) {
    pdf.switchToPage(start + i)
    pdf.font(font).fontSize(8).fillColor('#555555')
    const page = `Page ${i + 1} of ${count}`
    pdf.text(page, (A4_WIDTH - pdf.widthOfString(page)) / 2, FOOTER_Y, { lineBreak: false })
    if (i > 0) {
      pdf.text(fitLine(pdf, title, WIDTH), LEFT, HEADER_Y, { lineBreak: false })
      pdf
        .moveTo(LEFT, HEADER_Y + 13)
        .lineTo(RIGHT, HEADER_Y + 13)
        .lineWidth(0.5)
        .strokeColor('#999999')
        .stroke()
    }
  }
}

/** The text cut with "…" to fit one line of the width in the current font. */
function fitLine(pdf: Pdf, text: string, width: number): string {
  const flat = printable(text).replace(/\s+/g, ' ')
  if (pdf.widthOfString(flat) <= width) return flat
  const chars = Array.from(flat)
  let lo = 0
  let hi = chars.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (pdf.widthOfString(`${chars.slice(0, mid).join('')}…`) <= width) lo = mid
    else hi = mid - 1
  }
  return `${chars.slice(0, lo).join('').trimEnd()}…`
}

/**
 * Places text top to bottom between TOP and BOTTOM, measuring before drawing (heightOfString)
 * so that nothing overlaps and pdfkit never breaks a page by itself.
 */
class Layout {
  private y = TOP - 8
  /** Drawn at the top of each new page while a table is being written: its header row. */
  private repeat: { cells: Cell[]; style: RowStyle; height: number } | null = null

  private readonly pdf: Pdf

  private readonly fonts: Record<FontName, string>

  constructor(pdf: Pdf, fonts: Record<FontName, string>) {
    this.pdf = pdf
    this.fonts = fonts
  }

  gap(height: number): void {
    this.y = Math.min(this.y + height, BOTTOM)
  }

  private room(): number {
    return BOTTOM - this.y
  }

  private newPage(): void {
    this.pdf.addPage()
    this.y = TOP
    if (this.repeat !== null) this.draw(this.repeat.cells, this.repeat.height, this.repeat.style)
  }

  paragraph(text: string, style: Omit<Cell, 'text' | 'width'> = {}): void {
    this.row([{ ...style, text, width: WIDTH }])
  }

  /** A section's heading, kept with at least a few lines of what follows it. */
  heading(text: string): void {
    this.gap(10)
    const cell: Cell = { text: printable(text), width: WIDTH, font: 'bold', size: 12 }
    const height = this.rowHeight([cell])
    if (height + 40 > this.room()) this.newPage()
    this.draw([cell], height, {})
    this.gap(2)
  }

  /** A thin line across the page at the current position (the top of a table). */
  rule(): void {
    this.line(this.y)
  }

  /** A table whose header row repeats at the top of each page it continues onto. */
  table(header: Cell[], rows: Cell[][], size: number): void {
    const headerCells = header.map((cell) => ({ ...cell, font: 'bold' as const, size }))
    const style: RowStyle = { fill: '#e6e6e6', rule: true }
    const height = this.rowHeight(headerCells)
    const firstRow = rows[0] === undefined ? 0 : this.lineHeight(size) * 2 + 2 * PAD_Y
    if (height + firstRow > this.room()) this.newPage()
    this.draw(headerCells, height, style)
    this.repeat = { cells: headerCells, style, height }
    try {
      for (const cells of rows) {
        this.row(
          cells.map((cell) => ({ ...cell, size: cell.size ?? size })),
          { rule: true },
        )
      }
    } finally {
      this.repeat = null
    }
  }

  /**
   * One row of cells side by side. A row that does not fit what is left of the page goes to
   * the next page if it fits a page; one taller than a page is split, as much of each cell as
   * fits here and the rest on the next page.
   */
  row(cells: Cell[], style: RowStyle = {}): void {
    let pending = cells.map((cell) => ({ ...cell, text: printable(cell.text) }))
    for (;;) {
      const height = this.rowHeight(pending)
      if (height <= this.room()) {
        this.draw(pending, height, style)
        return
      }
      const freshRoom = BOTTOM - TOP - (this.repeat?.height ?? 0)
      const smallest = Math.max(...pending.map((cell) => this.lineHeight(cell.size ?? 9))) * 3
      if (height <= freshRoom || this.room() - 2 * PAD_Y < smallest) {
        this.newPage()
        if (height <= freshRoom) continue
      }
      const available = this.room() - 2 * PAD_Y
      const parts = pending.map((cell) => this.split(cell, available))
      const heads = pending.map((cell, i) => ({ ...cell, text: parts[i]![0] }))
      this.draw(heads, this.rowHeight(heads), style)
      this.newPage()
      pending = pending.map((cell, i) => {
        const rest = parts[i]![1]
        return { ...cell, text: rest === '' ? (cell.continued ?? '') : rest }
      })
    }
  }

  /** The longest head of the cell's text that fits the height, cut at a space when one is near. */
  private split(cell: Cell, height: number): [string, string] {
    if (this.measure(cell) <= height) return [cell.text, '']
    const chars = Array.from(cell.text)
    let lo = 0
    let hi = chars.length
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      if (this.measure({ ...cell, text: chars.slice(0, mid).join('') }) <= height) lo = mid
      else hi = mid - 1
    }
    let cut = Math.max(lo, 1)
    let skip = 0
    for (let i = cut; i > cut / 2; i--) {
      if (/[\s\u200B]/.test(chars[i] ?? '')) {
        cut = i
        skip = 1
        break
      }
    }
    return [chars.slice(0, cut).join(''), chars.slice(cut + skip).join('')]
  }

  private use(cell: Cell): void {
    this.pdf
      .font(this.fonts[cell.font ?? 'sans'])
      .fontSize(cell.size ?? 9)
      .fillColor(cell.color ?? '#000000')
  }

  private measure(cell: Cell): number {
    if (cell.text === '') return 0
    this.use(cell)
    return this.pdf.heightOfString(cell.text, { width: cell.width - 2 * PAD_X, lineGap: LINE_GAP })
  }

  private lineHeight(size: number): number {
    return this.measure({ text: 'Xg', width: WIDTH, size })
  }

  private rowHeight(cells: Cell[]): number {
    return Math.max(0, ...cells.map((cell) => this.measure(cell))) + 2 * PAD_Y
  }

  private draw(cells: Cell[], height: number, style: RowStyle): void {
    const width = cells.reduce((sum, cell) => sum + cell.width, 0)
    if (style.fill !== undefined) this.pdf.rect(LEFT, this.y, width, height).fill(style.fill)
    let x = LEFT
    for (const cell of cells) {
      if (cell.text !== '') {
        this.use(cell)
        // The height keeps pdfkit from breaking the page itself: everything has been measured.
        this.pdf.text(cell.text, x + PAD_X, this.y + PAD_Y, {
          width: cell.width - 2 * PAD_X,
          height: height + 1,
          lineGap: LINE_GAP,
        })
      }
      x += cell.width
    }
    this.y += height
    if (style.rule === true) this.line(this.y)
  }

  private line(y: number): void {
    this.pdf.moveTo(LEFT, y).lineTo(RIGHT, y).lineWidth(0.5).strokeColor('#bbbbbb').stroke()
  }
}

// ---------------------------------------------------------------------------------------------
// Text

/** Runs of more characters than this without a space get a zero-width space every CHUNK characters. */
const LONG_RUN = 80
const CHUNK = 20

/**
 * The text as it can be printed: line breaks as LF, a tab as spaces, and any other control
 * character (which a font has no glyph for) as U+FFFD, so that what was there shows. A run
 * longer than LONG_RUN characters without a space (a pasted blob: 64-hex hashes are shorter)
 * gets a zero-width space (U+200B, a break opportunity) every CHUNK characters, because pdfkit
 * breaks a word wider than its line in time quadratic in the word's length.
 */
function printable(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replaceAll('\t', '    ')
    .replace(/\p{Cc}/gu, (c) => (c === '\n' ? c : '\uFFFD'))
    .replace(new RegExp(`\\S{${LONG_RUN + 1},}`, 'gu'), (run) => {
      const chars = Array.from(run)
      const chunks: string[] = []
      for (let i = 0; i < chars.length; i += CHUNK) chunks.push(chars.slice(i, i + CHUNK).join(''))
      return chunks.join('\u200B')
    })
}

/** At most `max` characters (code points), the last of them "…" when cut. */
function truncate(text: string, max: number): string {
  const chars = Array.from(text)
  if (chars.length <= max) return text
  return `${chars
    .slice(0, max - 1)
    .join('')
    .trimEnd()}…`
}

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
