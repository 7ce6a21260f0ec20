import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { Report } from '../../gateway/contract.ts'
import {
  displayLines,
  type ReportTable,
  reportSubtitle,
  reportTables,
} from '../../rules/reports/tables.ts'
import { ApiFailure, get } from './api.ts'
import { customKpiRange, hasRole, missingRoleText, msToDateInput } from './data/quality.ts'
import {
  AREA_REPORTS,
  AUDIT_ENTITIES,
  REPORT_KINDS,
  REPORT_LABELS,
  REPORT_RANGES,
  REPORT_ROLES,
  REPORT_TITLES,
  type ReportKind,
  type ReportRangeKey,
  reportFileName,
  reportRange,
} from './data/reports.ts'
import { routeHash } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import { LoadController } from './load-controller.ts'
import { downloadLink } from './quality-parts.ts'
import { pageStyles } from './styles.ts'

type Range = { key: ReportRangeKey } | { key: 'custom'; from: number; to: number }

/**
 * The Reports page (issue 11): pick a report (capability summary, NC Pareto, alarm KPIs, CAPA
 * status, audit trail) and a range, see it as tables — the same tables, figures and notes as its
 * CSV and PDF (rules/reports/tables.ts) — print it (a print stylesheet leaves only the report,
 * black on white), or download its CSV or PDF from the gateway.
 */
export class LwReports extends LitElement {
  static override properties = {
    live: { attribute: false },
    role: { type: String },
    kind: { type: String },
    range: { state: true },
    area: { state: true },
    entity: { state: true },
    report: { state: true },
    denied: { state: true },
    rangeProblem: { state: true },
  }

  declare live: LiveController | undefined
  declare role: string | null
  declare kind: ReportKind
  declare range: Range
  declare area: string
  /** The audit trail: what its entries are about ('' for all). */
  declare entity: string
  declare report: Report | null
  declare denied: string | null
  declare rangeProblem: string | null

  private readonly loader: LoadController
  /** The bounds of the report shown (a preset's "now" is the time it was asked for). */
  private bounds: { from: number; to: number } = { from: 0, to: 0 }

  constructor() {
    super()
    this.role = null
    this.kind = 'capability'
    this.range = { key: '24h' }
    this.area = ''
    this.entity = ''
    this.report = null
    this.denied = null
    this.rangeProblem = null
    this.loader = new LoadController(
      this,
      async (signal) => {
        const kind = this.kind
        this.bounds = this.resolve()
        try {
          this.report = await get<Report>(
            `reports/${kind}`,
            { ...this.bounds, ...this.filters(kind) },
            signal,
          )
          this.denied = null
        } catch (e) {
          if (e instanceof ApiFailure && e.status === 403) {
            this.denied = e.message
            this.report = null
            return
          }
          throw e
        }
      },
      { ready: () => hasRole(this.role, REPORT_ROLES[this.kind]), retryMs: null },
    )
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('role') || changed.has('kind')) {
      this.report = null
      void this.loader.load()
    }
  }

  /** The area, or what the audit trail's entries are about, as the report's query has them. */
  private filters(kind: ReportKind): { area?: string; entity?: string } {
    if (AREA_REPORTS.has(kind) && this.area.trim() !== '') return { area: this.area.trim() }
    if (kind === 'audit-trail' && this.entity !== '') return { entity: this.entity }
    return {}
  }

  private setEntity(e: Event): void {
    this.entity = (e.currentTarget as HTMLSelectElement).value
    void this.loader.load()
  }

  private resolve(): { from: number; to: number } {
    const r = this.range
    return r.key === 'custom' ? { from: r.from, to: r.to } : reportRange(r.key, Date.now())
  }

  private setRange(range: Range): void {
    this.range = range
    this.rangeProblem = null
    void this.loader.load()
  }

  private applyCustom(e: SubmitEvent): void {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value
    const r = customKpiRange(value('from'), value('to'))
    if ('problem' in r) {
      this.rangeProblem = r.problem
      return
    }
    this.setRange({ key: 'custom', ...r })
  }

  private applyArea(e: SubmitEvent): void {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    this.area = (form.elements.namedItem('area') as HTMLInputElement).value
    void this.loader.load()
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .controls {
        display: flex;
        flex-wrap: wrap;
        gap: 0.6em 1.2em;
        align-items: flex-end;
        margin-bottom: 0.8em;
      }
      a.button[aria-current='page'] {
        background: var(--lw-text);
        color: var(--lw-bg);
      }
      .group {
        display: flex;
        flex-wrap: wrap;
        gap: 0.4em;
        align-items: flex-end;
      }
      form {
        display: flex;
        gap: 0.4em;
        align-items: flex-end;
      }
      label.field {
        display: flex;
        flex-direction: column;
        font-size: 0.85em;
        color: var(--lw-text-dim);
      }
      input {
        font: inherit;
        color: var(--lw-text);
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
        border-radius: 0.3em;
        padding: 0.3em 0.5em;
      }
      .subtitle {
        margin: 0 0 0.6em;
      }
      .subtitle div,
      .notes li {
        color: var(--lw-text-dim);
      }
      .notes {
        margin: 0.4em 0 0;
        padding-left: 1.2em;
        font-size: 0.9em;
      }
      td .line {
        display: block;
      }
      /* A configuration's diff: its lines and indentation as they are. */
      td.pre {
        white-space: pre-wrap;
        font-family: ui-monospace, 'DejaVu Sans Mono', monospace;
        font-size: 0.85em;
        overflow-wrap: anywhere;
      }
      td .detail {
        display: block;
        font-size: 0.85em;
        color: var(--lw-text-dim);
      }
      th {
        /* σ, Cpk and PPM keep their case. */
        text-transform: none;
        letter-spacing: 0;
      }
      th.num,
      td.num {
        text-align: right;
      }
      .actions {
        display: flex;
        gap: 0.8em;
        align-items: center;
      }
      @media print {
        /* Black on white, only the report: the controls and links stay on the screen. */
        :host {
          --lw-text: #000;
          --lw-text-dim: #444;
          --lw-border: #999;
          --lw-surface: #fff;
          padding: 0;
          font-size: 10pt;
        }
        .controls,
        .actions,
        .problem {
          display: none;
        }
        h1 {
          font-size: 16pt;
        }
        h2 {
          font-size: 12pt;
          break-after: avoid;
        }
        tr {
          break-inside: avoid;
        }
        thead {
          display: table-header-group;
        }
        th,
        td {
          padding: 0.25em 0.4em;
        }
      }
    `,
  ]

  protected override render() {
    const missing = missingRoleText(
      this.role,
      REPORT_ROLES[this.kind],
      `The ${REPORT_LABELS[this.kind]} report`,
    )
    return html`<div class="controls">
        <div class="group" role="group" aria-label="Report">
          ${REPORT_KINDS.map(
            (k) =>
              html`<a class="button" data-report=${k} href=${routeHash({ page: 'reports', kind: k })} aria-current=${this.kind === k ? 'page' : 'false'}
                >${REPORT_LABELS[k]}</a
              >`,
          )}
        </div>
        <div class="group" role="group" aria-label="Range">
          ${REPORT_RANGES.map(
            (r) =>
              html`<button type="button" data-range=${r.key} aria-pressed=${String(this.range.key === r.key)} @click=${() => this.setRange({ key: r.key })}>${r.label}</button>`,
          )}
          <form data-form="range" @submit=${this.applyCustom}>
            <label class="field">From <input type="date" name="from" value=${msToDateInput(this.resolve().from)} /></label>
            <label class="field">To <input type="date" name="to" value=${msToDateInput(this.resolve().to - 1)} /></label>
            <button type="submit" data-range="custom" aria-pressed=${String(this.range.key === 'custom')}>Apply</button>
          </form>
        </div>
        ${
          AREA_REPORTS.has(this.kind)
            ? html`<form data-form="area" @submit=${this.applyArea}>
                <label class="field">Area (path prefix) <input name="area" .value=${this.area} placeholder="all" /></label>
                <button type="submit">Apply</button>
              </form>`
            : this.kind === 'audit-trail'
              ? html`<label class="field">About
                  <select data-part="entity" @change=${this.setEntity}>
                    <option value="">everything</option>
                    ${AUDIT_ENTITIES.map((e) => html`<option value=${e} ?selected=${this.entity === e}>${e}</option>`)}
                  </select></label>`
              : nothing
        }
      </div>
      ${this.rangeProblem ? html`<p class="problem" role="alert">${this.rangeProblem}</p>` : nothing}
      ${
        missing
          ? html`<h1>${REPORT_TITLES[this.kind]}</h1>
              <p class="problem" data-part="missing-role">${missing}
                <a href=${routeHash({ page: 'sign-in', next: `/reports/${this.kind}` })}>Sign in</a></p>`
          : this.body()
      }`
  }

  private body() {
    const problem = this.loader.problem
    if (this.denied)
      return html`<p class="problem" data-part="missing-role">Not allowed: ${this.denied}</p>`
    if (problem) return html`<p class="problem">${problem}</p>`
    const r = this.report
    if (r === null || r.kind !== this.kind) return html`<p class="muted">Loading…</p>`
    const { from, to } = this.bounds
    const query = { from, to, ...this.filters(r.kind) }
    const onProblem = (text: string) => {
      this.loader.problem = text
    }
    return html`<div class="head">
        <h1 data-part="title">${r.title}</h1>
        <div class="subtitle" data-part="subtitle">${reportSubtitle(r).map((line) => html`<div>${line}</div>`)}</div>
        <div class="actions">
          <button type="button" data-part="print" @click=${() => window.print()}>Print</button>
          ${downloadLink(`reports/${r.kind}`, reportFileName(r.kind, from, to, 'csv'), 'Download CSV', 'download-csv', onProblem, { ...query, format: 'csv' })}
          ${downloadLink(`reports/${r.kind}`, reportFileName(r.kind, from, to, 'pdf'), 'Download PDF', 'download-pdf', onProblem, { ...query, format: 'pdf' })}
        </div>
        ${r.notes.length > 0 ? html`<ul class="notes" data-part="notes">${r.notes.map((n) => html`<li>${n}</li>`)}</ul>` : nothing}
      </div>
      ${reportTables(r).map((t) => this.table(t))}`
  }

  private table(t: ReportTable) {
    return html`<section data-table=${t.id}>
      <h2>${t.title}</h2>
      ${
        t.rows.length === 0
          ? html`<p class="muted">${t.empty}</p>`
          : html`<table>
              <thead><tr>${t.display.map((c) => html`<th class=${c.align === 'right' ? 'num' : ''}>${c.header}</th>`)}</tr></thead>
              <tbody>
                ${t.rows.map(
                  (row) => html`<tr>
                    ${t.display.map((c) => {
                      const [first, ...rest] = displayLines(row, c)
                      return html`<td class=${c.align === 'right' ? 'num' : c.pre ? 'pre' : ''}>${first?.text}${rest.map(
                        (l) => html`<span class=${l.muted ? 'detail' : 'line'}>${l.text}</span>`,
                      )}</td>`
                    })}
                  </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>`
  }
}

customElements.define('lw-reports', LwReports)

declare global {
  interface HTMLElementTagNameMap {
    'lw-reports': LwReports
  }
}
