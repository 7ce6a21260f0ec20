import { css, html, LitElement, nothing, type PropertyValues, svg } from 'lit'
import type { NcCause, QualityKpisView } from '../../gateway/contract.ts'
import { ApiFailure, api } from './api.ts'
import { formatDateTime } from './data/format.ts'
import {
  customKpiRange,
  formatDate,
  formatDays,
  formatRate,
  hasRole,
  missingRoleText,
  msToDateInput,
  ncIdOf,
  paretoBars,
  percentWords,
  QUALITY_KPI_RANGES,
  QUALITY_KPI_ROLE,
  type QualityRangeKey,
  qualityKpiRange,
} from './data/quality.ts'
import { routeHash } from './data/route.ts'
import { causeWords } from './data/status.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { downloadLink } from './quality-parts.ts'
import { qualityStyles } from './quality-styles.ts'
import { pageStyles } from './styles.ts'

type Range = { key: QualityRangeKey } | { key: 'custom'; from: number; to: number }

/** The plot of a Pareto chart, in SVG units (the chart scales to its box; the viewBox below says 560 × 200). */
const PLOT = { width: 560, height: 200, left: 44, right: 52, top: 12, bottom: 56 }

/**
 * The quality manager's figures (issue 9) over a range: NCs and CAPAs open and overdue now (with
 * links), opened and closed in the range, the mean time to close in days, the NC recurrence rate,
 * and Pareto charts of the NCs opened by cause and by characteristic (bars with the cumulative
 * percentage), each with its table; "Export CSV" downloads the same figures.
 */
export class LwQualityKpis extends LitElement {
  static override properties = {
    live: { attribute: false },
    role: { type: String },
    range: { state: true },
    kpis: { state: true },
    denied: { state: true },
    rangeProblem: { state: true },
  }

  declare live: LiveController | undefined
  declare role: string | null
  declare range: Range
  declare kpis: QualityKpisView | null
  /** The gateway refused this role (403): what it said. */
  declare denied: string | null
  declare rangeProblem: string | null

  private readonly loader: LoadController

  constructor() {
    super()
    this.role = null
    this.range = { key: '30d' }
    this.kpis = null
    this.denied = null
    this.rangeProblem = null
    this.loader = new LoadController(
      this,
      async (signal) => {
        const { from, to } = this.bounds()
        try {
          this.kpis = await api.qualityKpis(from, to, signal)
          this.denied = null
        } catch (e) {
          if (e instanceof ApiFailure && e.status === 403) {
            this.denied = e.message
            this.kpis = null
            return
          }
          throw e
        }
      },
      { ready: () => hasRole(this.role, QUALITY_KPI_ROLE) },
    )
    new LiveSubscription(this, () => this.live, { resync: () => void this.loader.load() })
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('role')) void this.loader.load()
  }

  private bounds(): { from: number; to: number } {
    const r = this.range
    return r.key === 'custom'
      ? { from: r.from, to: r.to }
      : qualityKpiRange(r.key, this.live?.now() ?? Date.now())
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

  static override styles = [
    pageStyles,
    qualityStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .head {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        justify-content: space-between;
        gap: 0.6em 1.4em;
      }
      .ranges {
        display: flex;
        flex-wrap: wrap;
        gap: 0.4em;
        align-items: flex-end;
      }
      form.custom {
        display: flex;
        gap: 0.4em;
        align-items: flex-end;
      }
      .cards {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(26em, 1fr));
        gap: 1.2em;
      }
      .card {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.6em 1em 1em;
      }
      .card h2 {
        margin-top: 0.3em;
      }
      td.v {
        text-align: right;
        font-size: 1.2em;
        font-weight: 700;
      }
      svg {
        width: 100%;
        height: auto;
        display: block;
      }
      svg .bar {
        fill: var(--lw-text-dim);
      }
      svg .line {
        fill: none;
        stroke: var(--lw-link);
        stroke-width: 2;
      }
      svg .dot {
        fill: var(--lw-link);
      }
      svg .axis {
        stroke: var(--lw-border);
      }
      svg text {
        fill: var(--lw-text-dim);
        font-size: 11px;
        font-family: var(--lw-font);
      }
      svg text.count {
        fill: var(--lw-text);
        font-weight: 700;
      }
      .ids a {
        margin-right: 0.5em;
      }
    `,
  ]

  protected override render() {
    const missing = missingRoleText(this.role, QUALITY_KPI_ROLE, 'The quality KPI page')
    if (missing) {
      return html`<h1>Quality KPIs</h1>
        <p class="problem" data-part="missing-role">${missing}
          <a href=${routeHash({ page: 'sign-in', next: '/quality-kpis' })}>Sign in</a></p>`
    }
    const k = this.kpis
    const problem = this.loader.problem
    const { from, to } = this.bounds()
    const onProblem = (text: string) => {
      this.loader.problem = text
    }
    const custom = this.range.key === 'custom'
    return html`<div class="head">
        <div>
          <h1>Quality KPIs</h1>
          ${k ? html`<div class="muted" data-part="range">${formatDateTime(k.from)} – ${formatDateTime(k.to)} · open and overdue as of ${formatDateTime(k.now)}</div>` : nothing}
        </div>
        <div class="ranges" role="group" aria-label="Range">
          ${QUALITY_KPI_RANGES.map(
            (r) =>
              html`<button type="button" data-range=${r.key} aria-pressed=${String(this.range.key === r.key)} @click=${() => this.setRange({ key: r.key })}>${r.label}</button>`,
          )}
          <form class="custom" data-form="range" @submit=${this.applyCustom}>
            <label class="field">From <input type="date" name="from" value=${msToDateInput(from)} /></label>
            <label class="field">To <input type="date" name="to" value=${msToDateInput(to - 1)} /></label>
            <button type="submit" data-range="custom" aria-pressed=${String(custom)}>Apply</button>
          </form>
          ${
            this.denied
              ? nothing
              : downloadLink(
                  'quality/kpis.csv',
                  `quality-kpis-${formatDate(from)}-${formatDate(to - 1)}.csv`,
                  'Export CSV',
                  'export-csv',
                  onProblem,
                  { from, to },
                )
          }
        </div>
      </div>
      ${this.rangeProblem ? html`<p class="problem" role="alert">${this.rangeProblem}</p>` : nothing}
      ${
        this.denied
          ? html`<p class="problem" data-part="missing-role">Not allowed: ${this.denied}
              <a href=${routeHash({ page: 'sign-in', next: '/quality-kpis' })}>Sign in</a></p>`
          : nothing
      }
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${k === null ? (problem || this.denied ? nothing : html`<p class="muted">Loading…</p>`) : this.figures(k)}`
  }

  private figures(k: QualityKpisView) {
    return html`<div class="cards">
      <section class="card" data-part="ncs">
        <h2>Nonconformances</h2>
        <table><tbody>
          <tr data-kpi="nc-open"><th scope="row">Open now</th><td class="v">${k.ncs.open}</td></tr>
          <tr data-kpi="nc-overdue"><th scope="row">Overdue now</th><td class="v ${k.ncs.overdue > 0 ? 'overdue' : ''}">${k.ncs.overdue}</td></tr>
          <tr data-kpi="nc-opened"><th scope="row">Opened in the range</th><td class="v">${k.ncs.opened}</td></tr>
          <tr data-kpi="nc-closed"><th scope="row">Closed in the range</th><td class="v">${k.ncs.closed}</td></tr>
          <tr data-kpi="nc-mttc"><th scope="row">Mean time to close</th><td class="v">${formatDays(k.ncs.meanTimeToCloseMs)}</td></tr>
          <tr data-kpi="nc-recurrence"><th scope="row">Recurrence rate (${k.ncs.recurrences} of ${k.ncs.opened} opened)</th><td class="v">${formatRate(k.ncs.recurrenceRate)}</td></tr>
        </tbody></table>
        ${this.ids('Overdue', k.ncs.overdueIds, 'nc')}
      </section>
      <section class="card" data-part="capas">
        <h2>CAPAs</h2>
        <table><tbody>
          <tr data-kpi="capa-open"><th scope="row">Open now</th><td class="v">${k.capas.open}</td></tr>
          <tr data-kpi="capa-overdue"><th scope="row">Overdue now</th><td class="v ${k.capas.overdue > 0 ? 'overdue' : ''}">${k.capas.overdue}</td></tr>
          <tr data-kpi="capa-opened"><th scope="row">Opened in the range</th><td class="v">${k.capas.opened}</td></tr>
          <tr data-kpi="capa-closed"><th scope="row">Closed in the range</th><td class="v">${k.capas.closed}</td></tr>
          <tr data-kpi="capa-mttc"><th scope="row">Mean time to close</th><td class="v">${formatDays(k.capas.meanTimeToCloseMs)}</td></tr>
        </tbody></table>
        ${this.ids('Overdue', k.capas.overdueIds, 'capa')}
      </section>
      <section class="card" data-part="pareto-cause">
        <h2>Pareto of NCs by cause</h2>
        ${this.pareto(k.paretoByCause, (name) => causeWords(name as NcCause))}
      </section>
      <section class="card" data-part="pareto-characteristic">
        <h2>Pareto of NCs by characteristic</h2>
        ${this.pareto(k.paretoByCharacteristic, (name) => name)}
      </section>
    </div>`
  }

  private ids(label: string, ids: readonly string[], kind: 'nc' | 'capa') {
    if (ids.length === 0) return nothing
    return html`<p class="ids" data-part=${`${kind}-overdue-ids`}>${label}:
      ${ids.map((id) => {
        const nc = kind === 'nc' ? ncIdOf(id) : null
        const href =
          kind === 'capa'
            ? routeHash({ page: 'capa', id })
            : nc === null
              ? null
              : routeHash({ page: 'nc', id: nc })
        return href ? html`<a href=${href}>${id}</a>` : html`<span>${id}</span> `
      })}</p>`
  }

  private pareto(rows: QualityKpisView['paretoByCause'], words: (name: string) => string) {
    if (rows.length === 0) return html`<p class="muted">No NC opened in the range.</p>`
    const w = PLOT.width - PLOT.left - PLOT.right
    const h = PLOT.height - PLOT.top - PLOT.bottom
    const bars = paretoBars(rows, w, h)
    const total = rows.reduce((s, r) => s + r.count, 0)
    const line = bars.map((b) => `${b.cx},${b.cy}`).join(' ')
    const cut = (s: string) => (s.length > 16 ? `${s.slice(0, 15)}…` : s)
    return html`<svg viewBox="0 0 560 200" role="img" aria-label="Pareto chart: counts as bars, cumulative percentage as a line">
        <g transform="translate(${PLOT.left} ${PLOT.top})">
          <line class="axis" x1="0" y1=${h} x2=${w} y2=${h}></line>
          <line class="axis" x1="0" y1="0" x2="0" y2=${h}></line>
          <line class="axis" x1=${w} y1="0" x2=${w} y2=${h}></line>
          ${svg`<text x="-6" y=${h} text-anchor="end" dominant-baseline="middle">0</text>
            <text x="-6" y="0" text-anchor="end" dominant-baseline="middle">${total}</text>
            <text x=${w + 6} y=${h} dominant-baseline="middle">0 %</text>
            <text x=${w + 6} y="0" dominant-baseline="middle">100 %</text>`}
          ${bars.map(
            (
              b,
            ) => svg`<rect class="bar" x=${b.x} y=${b.y} width=${b.width} height=${b.height}><title>${words(b.name)}: ${b.count}</title></rect>
              <text class="count" x=${b.cx} y=${b.y - 3} text-anchor="middle">${b.count}</text>
              <text x=${b.cx} y=${h + 14} text-anchor="middle">${cut(words(b.name))}</text>`,
          )}
          <polyline class="line" points=${line}></polyline>
          ${bars.map((b) => svg`<circle class="dot" cx=${b.cx} cy=${b.cy} r="3"><title>${percentWords(b.cumulativePercent)}</title></circle>`)}
        </g>
      </svg>
      <table>
        <thead><tr><th>Name</th><th class="num">Count</th><th class="num">Share</th><th class="num">Cumulative</th></tr></thead>
        <tbody>
          ${rows.map(
            (r) => html`<tr data-pareto=${r.name}>
              <td>${words(r.name)}</td>
              <td class="num">${r.count}</td>
              <td class="num">${percentWords(r.percent)}</td>
              <td class="num" data-part="cumulative">${percentWords(r.cumulativePercent)}</td>
            </tr>`,
          )}
        </tbody>
      </table>`
  }
}

customElements.define('lw-quality-kpis', LwQualityKpis)

declare global {
  interface HTMLElementTagNameMap {
    'lw-quality-kpis': LwQualityKpis
  }
}
