import type { Report } from '../../rules/reports/shapes.ts'
import { displayLines, reportSubtitle, reportTables, utcText } from '../../rules/reports/tables.ts'
import { A4_LANDSCAPE, A4_PORTRAIT, type Cell, renderPdf } from '../pdf/index.ts'
import { pdfOffThread } from '../pdf/off-thread.ts'

/**
 * A report as a PDF (A4, DejaVu Sans embedded; the capability summary, the CAPA status and the
 * audit trail in landscape): its title, plant, range and time of making, its notes, then each of
 * its tables (rules/reports/tables.ts) with a header that repeats on every page, figures
 * formatted as the dashboard's printable page shows them, a column of lines kept as they are
 * (`pre`) in DejaVu Sans Mono. The layout is the records' histories' (gateway/pdf).
 */
export function reportPdf(report: Report, options: { now?: number } = {}): Promise<Buffer> {
  const wide =
    report.kind === 'capability' || report.kind === 'capa-status' || report.kind === 'audit-trail'
  const title = `${report.title} — ${report.plant} — ${utcText(report.from)} to ${utcText(report.to)} UTC`
  return renderPdf(
    { title, now: options.now ?? report.generatedAt, page: wide ? A4_LANDSCAPE : A4_PORTRAIT },
    (layout) => {
      layout.paragraph(report.title, { font: 'bold', size: 16 })
      layout.paragraph(reportSubtitle(report).join('\n'), { size: 9, color: '#555555' })
      for (const note of report.notes)
        layout.paragraph(`Note: ${note}`, { size: 8, color: '#555555' })
      for (const table of reportTables(report)) {
        layout.heading(table.title)
        if (table.rows.length === 0) {
          layout.paragraph(table.empty, { size: 9, color: '#555555' })
          continue
        }
        const total = table.display.reduce((sum, c) => sum + c.width, 0)
        const widths = table.display.map((c) => (c.width / total) * layout.width)
        const header: Cell[] = table.display.map((c, i) => ({
          text: c.header,
          width: widths[i] as number,
          align: c.align,
        }))
        const rows: Cell[][] = table.rows.map((row) =>
          table.display.map((c, i) => ({
            text: displayLines(row, c)
              .map((l) => l.text)
              .join('\n'),
            width: widths[i] as number,
            align: c.align,
            ...(c.pre ? { font: 'mono' as const } : {}),
          })),
        )
        layout.table(header, rows, wide ? 7 : 8)
      }
    },
  )
}

/** `reportPdf` on a thread of its own (gateway/pdf/off-thread.ts). */
export function reportPdfOffThread(report: Report): Promise<Buffer> {
  return pdfOffThread({ module: import.meta.url, renderer: 'reportPdf', data: report })
}
