import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CharacteristicView, ChartPointView, Role } from '../../gateway/contract.ts'
import { api, failureText } from './api.ts'
import { ClockController } from './clock-controller.ts'
import { panesOfRule } from './data/chart-series.ts'
import { chartHeader, paneDecimals, paneInfo } from './data/chart-words.ts'
import { formatAge, formatDateTime, formatQuantity, formatValue } from './data/format.ts'
import { hierarchyLabel } from './data/hierarchy.ts'
import { routeHash } from './data/route.ts'
import { appendPoints, type LimitLine, MAX_CHART_POINTS, readingsLines } from './data/series.ts'
import { sourceText } from './data/source.ts'
import { describeRuleOn, statusLabel } from './data/status.ts'
import type { ConnectionState, LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'
import './lw-alarm-list.ts'
import './lw-capability-panel.ts'
import './lw-control-chart.ts'
import './lw-limit-changes.ts'
import './lw-readings-chart.ts'

/** Readings in the capability histogram. */
const HISTOGRAM_READINGS = 500
/** Capability, the histogram and the EWMA's readings are refetched at most this often while points arrive. */
const READINGS_REFRESH_MS = 5000
/** Readings under an EWMA chart at most (those since its first point shown). */
const MAX_RAW_READINGS = 20_000

/**
 * One characteristic: its live control chart (every pane of its chart type) and what it is judged
 * against, its process capability with a histogram of the recent readings, and the record of its
 * limit changes (with the acts that change them, for engineers), and its alarms (acknowledged and
 * shelved from here by an operator). An EWMA chart has the raw
 * readings under it, with the alert and action limits (the z chart judges neither). Fetches the
 * characteristic and its last points, then watches it for live `points` (refetching when the
 * gateway had to drop some) and `limits`; capability and the readings are refetched while points
 * arrive, at most every few seconds.
 */
export class LwCharacteristicPage extends LitElement {
  static override properties = {
    characteristicId: { type: String, attribute: 'characteristic-id' },
    live: { attribute: false },
    connection: { type: String },
    role: { type: String },
    view: { state: true },
    points: { state: true },
    readings: { state: true },
    rawReadings: { state: true },
    revision: { state: true },
  }

  declare characteristicId: string
  declare live: LiveController | undefined
  declare connection: ConnectionState
  /** Role of the session: engineers and admins may change the limits, operators act on alarms. */
  declare role: Role | null
  declare view: CharacteristicView | null
  declare points: readonly ChartPointView[]
  /** Recent readings for the capability histogram (fetched only with specification limits). */
  declare readings: readonly { ts: number; value: number }[]
  /** The readings over the chart's span, drawn under an EWMA chart (empty for other charts). */
  declare rawReadings: readonly { ts: number; value: number }[]
  /** Bumped when the limits may have changed: the record of changes reloads. */
  declare revision: number

  private readonly loader: LoadController
  private loading = false
  /** Live points that arrived while the chart was being fetched. */
  private pending: ChartPointView[] = []
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  /** The lines over the EWMA's readings: a new array only when they change (the page re-renders every second). */
  private rawLines: LimitLine[] = []

  constructor() {
    super()
    this.characteristicId = ''
    this.connection = 'idle'
    this.role = null
    this.view = null
    this.points = []
    this.readings = []
    this.rawReadings = []
    this.revision = 0
    this.loader = new LoadController(this, (signal) => this.fetch(signal), {
      ready: () => Boolean(this.characteristicId),
    })
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
          if (update.points.length > 0) this.scheduleRefresh()
        },
        limits: (update) => {
          if (update.characteristic !== this.characteristicId || !this.view) return
          this.view = { ...this.view, chart: { ...this.view.chart, control: update.control } }
          this.revision++
        },
        tiles: (updates) => {
          const mine = updates.filter((u) => u.id === this.characteristicId).pop()
          if (!mine || !this.view) return
          const dropped = mine.state.baseline !== null && this.view.chart.control !== null
          this.view = { ...this.view, state: mine.state }
          // The limits were dropped (estimated anew, here or elsewhere): fetch the new state.
          if (dropped) {
            this.revision++
            void this.loader.load()
          }
        },
        resync: () => {
          this.revision++
          void this.loader.load()
        },
      },
      () => (this.characteristicId ? [this.characteristicId] : []),
    )
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('characteristicId')) {
      this.view = null
      this.points = []
      this.readings = []
      this.rawReadings = []
      void this.loader.load()
    }
    if (changed.has('view') && this.view) {
      const v = this.view
      const lines = readingsLines(v.chart.type, v.limits, v.chart.control)
      if (JSON.stringify(lines) !== JSON.stringify(this.rawLines)) this.rawLines = lines
    }
  }

  /** The characteristic and its chart, then the histogram's and the EWMA's readings; live points meanwhile wait. */
  private async fetch(signal: AbortSignal): Promise<void> {
    const id = this.characteristicId
    this.loading = true
    this.pending = []
    try {
      const [view, chart] = await Promise.all([
        api.characteristic(id, signal),
        api.chart(id, MAX_CHART_POINTS, signal),
      ])
      this.view = view
      this.points = appendPoints(appendPoints([], chart.points), this.pending)
      this.loader.problem = null
      const [readings, raw] = await Promise.all([
        view.specLimits ? api.readings(id, HISTOGRAM_READINGS, signal) : null,
        this.fetchRaw(view, signal),
      ])
      if (id === this.characteristicId) {
        if (readings) this.readings = readings.readings
        if (raw) this.rawReadings = raw
      }
    } finally {
      if (this.loader.isLatest(signal)) {
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
      this.loader.problem = failureText(e)
    } finally {
      this.loading = false
      this.pending = []
    }
  }

  /** The readings over the chart's span for an EWMA chart (null for another chart). */
  private async fetchRaw(
    view: CharacteristicView,
    signal?: AbortSignal,
  ): Promise<{ ts: number; value: number }[] | null> {
    if (view.chart.type !== 'ewma') return null
    const from = this.points[0]?.ts ?? 0
    return (await api.readingsSince(view.id, from, MAX_RAW_READINGS, signal)).readings
  }

  /** Refetches capability, the histogram's and the EWMA's readings soon, at most once per interval. */
  private scheduleRefresh(): void {
    const v = this.view
    if (!v || (!v.specLimits && v.chart.type !== 'ewma') || this.refreshTimer !== undefined) return
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined
      void this.loadReadings()
    }, READINGS_REFRESH_MS)
  }

  private async loadReadings(): Promise<void> {
    const id = this.characteristicId
    const held = this.view
    if (!id || this.loading || !held) return
    try {
      const [view, readings, raw] = await Promise.all([
        held.specLimits ? api.characteristic(id) : null,
        held.specLimits ? api.readings(id, HISTOGRAM_READINGS) : null,
        this.fetchRaw(held),
      ])
      if (id !== this.characteristicId || !this.view) return
      if (view) {
        this.view = {
          ...this.view,
          specLimits: view.specLimits,
          capability: view.capability,
          capabilityVerdict: view.capabilityVerdict,
        }
      }
      if (readings) this.readings = readings.readings
      if (raw) this.rawReadings = raw
    } catch (e) {
      this.loader.problem = failureText(e)
    }
  }

  /** After a limit change here: the chart, its header and the limits start anew. */
  private onLimitsChanged(): void {
    void this.loader.load()
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
      th.symbol {
        text-transform: none;
      }
      .chart-type {
        font-size: 1.15em;
        font-weight: 600;
        color: var(--lw-text);
        margin: 0.1em 0 0.2em;
      }
      .lower {
        display: grid;
        grid-template-columns: minmax(0, 2fr) minmax(0, 3fr);
        gap: 0 2em;
      }
      @media (max-width: 1100px) {
        .lower {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      lw-capability-panel {
        margin-top: 0.4em;
      }
      lw-readings-chart {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.6em 0.8em 0.8em;
      }
      .raw-head {
        display: flex;
        flex-wrap: wrap;
        align-items: baseline;
        gap: 0.2em 1.2em;
      }
    `,
  ]

  protected override render() {
    const v = this.view
    const problem = this.loader.problem
    if (!v) {
      return html`<p><a href=${routeHash({ page: 'overview' })}>← Overview</a></p>
        ${problem ? html`<p class="problem">${problem}</p>` : html`<p class="muted">Loading…</p>`}`
    }
    const label = statusLabel(v)
    const now = this.live?.now() ?? Date.now()
    const primary = v.chart.panes[0] ?? 'i'
    const violations = this.points
      .filter((p) => p.rules.length > 0)
      .slice(-10)
      .reverse()
    return html`
      <div class="crumbs"><a href=${routeHash({ page: 'overview' })}>← Overview</a> · ${hierarchyLabel(v.hierarchy)}</div>
      <div class="head">
        <div>
          <h1>${v.name}</h1>
          <div class="chart-type" data-part="chart-header">${chartHeader(v)}</div>
          <div class="facts">
            <span>${v.id}</span>
            <span>${sourceText(v.source)}</span>
          </div>
        </div>
        <div class="now">
          <span class="chip ${label.status}" data-part="status">${label.text}</span>
          <span class="value">${formatQuantity(v.state.last?.value, v.decimals, v.unit)}</span>
          <span class="muted">${v.state.last ? formatAge(v.state.last.ts, now) : 'no reading yet'}</span>
          ${v.state.openNcs > 0 ? html`<a href=${routeHash({ page: 'ncs' })}>${v.state.openNcs} open NC</a>` : nothing}
        </div>
      </div>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${this.live?.watchError ? html`<p class="problem">Live points refused: ${this.live.watchError}</p>` : nothing}
      <lw-control-chart
        .points=${this.points}
        .type=${v.chart.type}
        .panes=${v.chart.panes}
        .alarm=${v.limits}
        .control=${v.chart.control}
        .decimals=${v.decimals}
        .unit=${v.unit}
        ?compact=${v.chart.type === 'ewma'}
      ></lw-control-chart>
      ${v.chart.type === 'ewma' ? this.rawChart(v) : nothing}
      <lw-alarm-list
        characteristic-id=${v.id}
        .live=${this.live}
        .role=${this.role}
      ></lw-alarm-list>
      ${v.specLimits ? html`<lw-capability-panel .characteristic=${v} .readings=${this.readings}></lw-capability-panel>` : nothing}
      <div class="lower">
        <section>
          <h2>Latest rule violations</h2>
          ${
            violations.length === 0
              ? html`<p class="muted">None among the points shown.</p>`
              : html`<table>
                <thead><tr><th class="num">Point</th><th>Time</th><th class="num symbol">${primary === 'cusum' ? 'C⁺ · C⁻' : paneInfo(primary).symbol}</th><th>Rule</th></tr></thead>
                <tbody>
                  ${violations.map(
                    (p) => html`<tr>
                      <td class="num">#${p.index}</td>
                      <td>${formatDateTime(p.ts)}</td>
                      <td class="num">${this.primaryValue(p, primary)}</td>
                      <td>${[...new Set(p.rules)].map((r) => {
                        const words = describeRuleOn(r, panesOfRule(p, r, v.chart.panes)[0] ?? null)
                        return html`<div class="rule" title=${words}>${words}</div>`
                      })}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>`
          }
        </section>
        <section>
          <lw-limit-changes
            .characteristic=${v}
            .role=${this.role}
            .revision=${this.revision}
            @lw-limits-changed=${() => this.onLimitsChanged()}
          ></lw-limit-changes>
        </section>
      </div>
    `
  }

  /**
   * The raw readings under an EWMA chart, against the alert and action limits that judge each
   * reading (the z chart above judges their weighted average), evenly spaced as the chart is.
   */
  private rawChart(v: CharacteristicView) {
    const lines = this.rawLines
    return html`<section data-part="raw-readings">
      <div class="raw-head">
        <h2>Readings${v.unit ? ` (${v.unit})` : ''}</h2>
        <span class="muted">${lines.length > 0 ? 'with the alert and action limits' : 'no alert or action limits configured'}</span>
      </div>
      <lw-readings-chart
        .readings=${this.rawReadings}
        .lines=${lines}
        .decimals=${v.decimals}
        .label=${'Readings with the alert and action limits'}
        .heightShare=${0.24}
        .alarm=${v.limits}
        axis="index"
      ></lw-readings-chart>
    </section>`
  }

  /** A flagged point's value on the primary pane: the statistic, or CUSUM's two sums. */
  private primaryValue(p: ChartPointView, pane: string): string {
    const v = this.view as CharacteristicView
    const pp = p.panes[pane]
    if (pane === 'cusum') return `C⁺ ${formatValue(pp?.upper, 2)} · C⁻ ${formatValue(pp?.lower, 2)}`
    const d = paneDecimals(v.chart.type, pane, v.decimals)
    return ['i', 'xbar', 'ewma'].includes(pane)
      ? formatQuantity(pp?.statistic, d, v.unit)
      : formatValue(pp?.statistic, d)
  }
}

customElements.define('lw-characteristic-page', LwCharacteristicPage)

declare global {
  interface HTMLElementTagNameMap {
    'lw-characteristic-page': LwCharacteristicPage
  }
}
