import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import PDFDocument from 'pdfkit'

/**
 * The gateway's PDF documents (records' histories, reports): A4 pages with DejaVu Sans embedded,
 * laid out top to bottom by `Layout` (paragraphs, headings, tables whose header repeats on
 * every page, rows split across pages), with a running title in the header of every page after
 * the first and "Page n of m" in every footer. pdfkit never breaks a page by itself: everything
 * is measured before it is drawn.
 */

type Pdf = PDFKit.PDFDocument
export type FontName = 'sans' | 'bold' | 'mono'

/** A page's size and where content, header and footer go (PDF points). */
export interface PageGeometry {
  width: number
  height: number
  left: number
  right: number
  /** Where content starts and must end on every page; the header and footer lie outside. */
  top: number
  bottom: number
  headerY: number
  footerY: number
}

function a4(width: number, height: number): PageGeometry {
  return {
    width,
    height,
    left: 50,
    right: width - 50,
    top: 58,
    bottom: height - 58,
    headerY: 32,
    footerY: height - 42,
  }
}

export const A4_PORTRAIT: PageGeometry = a4(595.28, 841.89)
export const A4_LANDSCAPE: PageGeometry = a4(841.89, 595.28)

/** Padding inside a table cell, and the gap between lines of text. */
const PAD_X = 3
const PAD_Y = 2.5
const LINE_GAP = 1

export interface Cell {
  text: string
  width: number
  font?: FontName
  size?: number
  color?: string
  /** Shown in the continuation of a row split across pages when nothing of this cell is left. */
  continued?: string
  align?: 'left' | 'right'
}

export interface RowStyle {
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

export interface PdfOptions {
  /** The document's title (its metadata, and the running header after the first page). */
  title: string
  /** UTC ms written as the PDF's creation date (default: now), so the same input gives the same bytes. */
  now?: number | undefined
  page?: PageGeometry
}

/** A PDF of what `write` lays out, with the page furniture, as bytes. */
export function renderPdf(options: PdfOptions, write: (layout: Layout) => void): Promise<Buffer> {
  const page = options.page ?? A4_PORTRAIT
  return new Promise<Buffer>((resolve, reject) => {
    try {
      const { sans, bold, mono } = loadFonts()
      const created = new Date(options.now ?? Date.now())
      const pdf: Pdf = new PDFDocument({
        size: [page.width, page.height],
        // pdfkit's own margins only matter to its page breaks, which the layout never leaves to it.
        margins: { top: 20, bottom: 20, left: page.left, right: page.width - page.right },
        bufferPages: true,
        font: sans,
        displayTitle: true,
        info: {
          Title: options.title,
          Creator: 'linewatch',
          CreationDate: created,
          ModDate: created,
        },
      })
      pdf.registerFont('bold', bold)
      pdf.registerFont('mono', mono)
      const chunks: Buffer[] = []
      pdf.on('data', (chunk: Buffer) => chunks.push(chunk))
      pdf.on('end', () => resolve(Buffer.concat(chunks)))
      pdf.on('error', reject)
      write(new Layout(pdf, { sans, bold: 'bold', mono: 'mono' }, page))
      writePageFurniture(pdf, sans, options.title, page)
      pdf.end()
    } catch (error) {
      reject(error)
    }
  })
}

/** "Page n of m" on every page, and the title at the top of every page after the first. */
function writePageFurniture(pdf: Pdf, font: string, title: string, page: PageGeometry): void {
  const { start, count } = pdf.bufferedPageRange()
  for (let i = 0; i < count; i++) {
    pdf.switchToPage(start + i)
    pdf.font(font).fontSize(8).fillColor('#555555')
    const words = `Page ${i + 1} of ${count}`
    pdf.text(words, (page.width - pdf.widthOfString(words)) / 2, page.footerY, {
      lineBreak: false,
    })
    if (i > 0) {
      pdf.text(fitLine(pdf, title, page.right - page.left), page.left, page.headerY, {
        lineBreak: false,
      })
      pdf
        .moveTo(page.left, page.headerY + 13)
        .lineTo(page.right, page.headerY + 13)
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
 * Places text top to bottom between the page's top and bottom, measuring before drawing
 * (heightOfString) so that nothing overlaps and pdfkit never breaks a page by itself.
 */
export class Layout {
  private y: number
  /** Drawn at the top of each new page while a table is being written: its header row. */
  private repeat: { cells: Cell[]; style: RowStyle; height: number } | null = null

  private readonly pdf: Pdf

  private readonly fonts: Record<FontName, string>

  private readonly page: PageGeometry

  /** The width of the content, between the margins. */
  readonly width: number

  constructor(pdf: Pdf, fonts: Record<FontName, string>, page: PageGeometry = A4_PORTRAIT) {
    this.pdf = pdf
    this.fonts = fonts
    this.page = page
    this.width = page.right - page.left
    this.y = page.top - 8
  }

  gap(height: number): void {
    this.y = Math.min(this.y + height, this.page.bottom)
  }

  private room(): number {
    return this.page.bottom - this.y
  }

  private newPage(): void {
    this.pdf.addPage()
    this.y = this.page.top
    if (this.repeat !== null) this.draw(this.repeat.cells, this.repeat.height, this.repeat.style)
  }

  paragraph(text: string, style: Omit<Cell, 'text' | 'width'> = {}): void {
    this.row([{ ...style, text, width: this.width }])
  }

  /** A section's heading, kept with at least a few lines of what follows it. */
  heading(text: string): void {
    this.gap(10)
    const cell: Cell = { text: printable(text), width: this.width, font: 'bold', size: 12 }
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
      const freshRoom = this.page.bottom - this.page.top - (this.repeat?.height ?? 0)
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
    return this.measure({ text: 'Xg', width: this.width, size })
  }

  private rowHeight(cells: Cell[]): number {
    return Math.max(0, ...cells.map((cell) => this.measure(cell))) + 2 * PAD_Y
  }

  private draw(cells: Cell[], height: number, style: RowStyle): void {
    const left = this.page.left
    const width = cells.reduce((sum, cell) => sum + cell.width, 0)
    if (style.fill !== undefined) this.pdf.rect(left, this.y, width, height).fill(style.fill)
    let x = left
    for (const cell of cells) {
      if (cell.text !== '') {
        this.use(cell)
        // The height keeps pdfkit from breaking the page itself: everything has been measured.
        this.pdf.text(cell.text, x + PAD_X, this.y + PAD_Y, {
          width: cell.width - 2 * PAD_X,
          height: height + 1,
          lineGap: LINE_GAP,
          ...(cell.align === 'right' ? { align: 'right' as const } : {}),
        })
      }
      x += cell.width
    }
    this.y += height
    if (style.rule === true) this.line(this.y)
  }

  private line(y: number): void {
    this.pdf
      .moveTo(this.page.left, y)
      .lineTo(this.page.right, y)
      .lineWidth(0.5)
      .strokeColor('#bbbbbb')
      .stroke()
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
export function printable(text: string): string {
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
export function truncate(text: string, max: number): string {
  const chars = Array.from(text)
  if (chars.length <= max) return text
  return `${chars
    .slice(0, max - 1)
    .join('')
    .trimEnd()}…`
}
