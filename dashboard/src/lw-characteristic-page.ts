import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CharacteristicView, ChartPointView } from '../../gateway/contract.ts'
import { api, failureText, isAbort } from './api.ts'
import { ClockController } from './clock-controller.ts'
import { formatAge, formatDateTime, formatQuantity, formatValue } from './data/format.ts'
import { hierarchyLabel } from './data/hierarchy.ts'
import { routeHash } from './data/route.ts'
import { appendPoints, MAX_CHART_POINTS } from './data/series.ts'
import { describeRule, statusLabel } from './data/status.ts'
import type { ConnectionState, LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { pageStyles } from './styles.ts'
import './lw-control-chart.ts'

/**
 * One characteristic: its live control chart and what it is judged against. Fetches the
 * characteristic and its last points, then watches it for live `points` (refetching when the
 * gateway had to drop some) and `limits`.
 */
export class LwCharacteristicPage extends LitElement {
  static override properties = {
    characteristicId: { type: String, attribute: 'characteristic-id' },
    live: { attribute: false },
    connection: { type: String },
    view: { state: true },
    points: { state: true },
    problem: { state: true },
  }

  declare characteristicId: string
  declare live: LiveController | undefined
  declare connection: ConnectionState
  declare view: CharacteristicView | null
  declare points: readonly ChartPointView[]
  declare problem: string | null

  private abort: AbortController | null = null
  private loading = false
  /** Live points that arrived while the chart was being fetched. */
  private pending: ChartPointView[] = []
  private retry: ReturnType<typeof setTimeout> | undefined

  constructor() {
    super()
    this.characteristicId = ''
    this.connection = 'idle'
    this.view = null
    this.points = []
    this.problem = null
    new ClockController(this, 1000)
    new LiveSubscription(
      this,
      () => this.live,
      {
        points: (update) => {
          if (update.characteristic !== this.characteristicId) return
          if (this.loading) this.pending.push(...update.points)
          else this.points = appendPoints(this.points, update.points, MAX_CHART_POINTS)
          // More arrived than the gateway would send in one flush: fill the gap from REST.
          if (update.dropped > 0) void this.loadChart()
        },
        limits: (update) => {
          if (update.characteristic !== this.characteristicId || !this.view) return
          this.view = { ...this.view, chart: { ...this.view.chart, control: update.control } }
        },
        tiles: (updates) => {
          const mine = updates.filter((u) => u.id === this.characteristicId).pop()
          if (mine && this.view) this.view = { ...this.view, state: mine.state }
        },
        resync: () => void this.load(),
      },
      () => (this.characteristicId ? [this.characteristicId] : []),
    )
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.abort?.abort()
    clearTimeout(this.retry)
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('characteristicId')) {
      this.view = null
      this.points = []
      void this.load()
    }
  }

  private async load(): Promise<void> {
    const id = this.characteristicId
    if (!id) return
    this.abort?.abort()
    clearTimeout(this.retry)
    const abort = new AbortController()
    this.abort = abort
    this.loading = true
    this.pending = []
    try {
      const [view, chart] = await Promise.all([
        api.characteristic(id, abort.signal),
        api.chart(id, MAX_CHART_POINTS, abort.signal),
      ])
      this.view = view
      this.points = appendPoints(appendPoints([], chart.points), this.pending)
      this.problem = null
    } catch (e) {
      if (isAbort(e)) return
      this.problem = failureText(e)
      this.retry = setTimeout(() => void this.load(), 5000)
    } finally {
      if (this.abort === abort) {
        this.loading = false
        this.pending = []
      }
    }
  }

  private async loadChart(): Promise<void> {
    if (this.loading) return
    const id = this.characteristicId
    this.loading = true
    this.pending = []
    try {
      const chart = await api.chart(id, MAX_CHART_POINTS)
      if (id === this.characteristicId)
        this.points = appendPoints(appendPoints([], chart.points), this.pending)
    } catch (e) {
      this.problem = failureText(e)
    } finally {
      this.loading = false
      this.pending = []
    }
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .head {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        justify-content: space-between;
        gap: 0.6em 2em;
        margin-bottom: 0.8em;
      }
      .crumbs {
        color: var(--lw-text-dim);
        margin-bottom: 0.3em;
      }
      .now {
        display: flex;
        align-items: baseline;
        gap: 0.7em;
        flex-wrap: wrap;
        font-variant-numeric: tabular-nums;
      }
      .now .value {
        font-size: 3em;
        font-weight: 650;
        line-height: 1;
      }
      .now .chip {
        font-size: 1.2em;
        align-self: center;
      }
      .facts {
        display: flex;
        flex-wrap: wrap;
        gap: 0.3em 1.5em;
        color: var(--lw-text-dim);
        margin: 0.2em 0 0.8em;
      }
      lw-control-chart {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.6em 0.8em 0.8em;
      }
      .rule {
        font-weight: 700;
      }
    `,
  ]

  protected override render() {
    const v = this.view
    if (!v) {
      return html`<p><a href=${routeHash({ page: 'overview' })}>← Overview</a></p>
        ${this.problem ? html`<p class="problem">${this.problem}</p>` : html`<p class="muted">Loading…</p>`}`
    }
    const label = statusLabel(v)
    const now = this.live?.now() ?? Date.now()
    const control = v.chart.control
    const violations = this.points
      .filter((p) => p.rules.length > 0)
      .slice(-10)
      .reverse()
    return html`
      <div class="crumbs"><a href=${routeHash({ page: 'overview' })}>← Overview</a> · ${hierarchyLabel(v.hierarchy)}</div>
      <div class="head">
        <div>
          <h1>${v.name}</h1>
          <div class="facts">
            <span>${v.id}</span>
            <span>${v.source.kind === 'mqtt' ? `MQTT ${v.source.topic}` : `OPC-UA ${v.source.server} ${v.source.nodeId}`}</span>
            <span>I-MR chart · rules ${v.chart.rules.join(', ') || 'none'}</span>
            ${
              control
                ? html`<span>centre ${formatValue(control.center, v.decimals)} · σ ${formatValue(control.sigma, v.decimals + 1)} ·
                  ${control.basis.kind === 'given' ? 'given' : `estimated from ${control.basis.count} readings`}</span>`
                : v.state.baseline
                  ? html`<span>baseline ${v.state.baseline.have}/${v.state.baseline.need} readings</span>`
                  : nothing
            }
          </div>
        </div>
        <div class="now">
          <span class="chip ${label.status}" data-part="status">${label.text}</span>
          <span class="value">${formatQuantity(v.state.last?.value, v.decimals, v.unit)}</span>
          <span class="muted">${v.state.last ? formatAge(v.state.last.ts, now) : 'no reading yet'}</span>
          ${v.state.openNcs > 0 ? html`<a href=${routeHash({ page: 'ncs' })}>${v.state.openNcs} open NC</a>` : nothing}
        </div>
      </div>
      ${this.problem ? html`<p class="problem">${this.problem}</p>` : nothing}
      ${this.live?.watchError ? html`<p class="problem">Live points refused: ${this.live.watchError}</p>` : nothing}
      <lw-control-chart
        .points=${this.points}
        .alarm=${v.limits}
        .control=${control}
        .decimals=${v.decimals}
        .unit=${v.unit}
      ></lw-control-chart>
      <h2>Latest rule violations</h2>
      ${
        violations.length === 0
          ? html`<p class="muted">None among the points shown.</p>`
          : html`<table>
            <thead><tr><th class="num">Point</th><th>Time</th><th class="num">Value</th><th>Rule</th></tr></thead>
            <tbody>
              ${violations.map(
                (p) => html`<tr>
                  <td class="num">#${p.index}</td>
                  <td>${formatDateTime(p.ts)}</td>
                  <td class="num">${formatQuantity(p.panes.i?.statistic, v.decimals, v.unit)}</td>
                  <td>${p.rules.map((r) => html`<div class="rule">${describeRule(r)}</div>`)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
      }
    `
  }
}

customElements.define('lw-characteristic-page', LwCharacteristicPage)

declare global {
  interface HTMLElementTagNameMap {
    'lw-characteristic-page': LwCharacteristicPage
  }
}
