import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CharacteristicView, ChartPointView, Role } from '../../gateway/contract.ts'
import { api, failureText } from './api.ts'
import { ClockController } from './clock-controller.ts'
import {
  bucketsFor,
  customRange,
  panRange,
  presetRange,
  RANGE_PRESETS,
  type RangePreset,
  SHIFT_STARTS,
  spanWords,
  type TimeRange,
  toDateTimeLocal,
  zoomRange,
} from './data/chart-range.ts'
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
/** The EWMA's raw readings (those since the last one held) are fetched at most this often while points arrive. */
const READINGS_REFRESH_MS = 5000
/**
 * Capability and the histogram's readings, which the live socket does not carry, are refetched at
 * most this often while points arrive (the chart itself follows the socket).
 */
const CAPABILITY_REFRESH_MS = 60_000
/** While the live socket is not open, the live view is reloaded from REST this often. */
const POLL_MS = 5000
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
 *
 * Chart history (issue 11): a time-range bar (Live, the last hour, this shift, the last day and
 * week, a custom range, ← → by half the range) and zoom by dragging across a chart. A range is
 * fetched whole, downsampled by the gateway for the chart's width in pixels (M4: every pixel
 * column's first, last, lowest and highest point, and every point that completed a rule), and
 * live points are not appended to it (the page stays connected: header, status and alarms stay
 * live); Live returns to following the latest points. While the live socket is open nothing is
 * polled but capability (once a minute while points arrive); without it the live view is
 * reloaded every few seconds.
 */
export class LwCharacteristicPage extends LitElement {
  static override properties = {
    characteristicId: { type: String, attribute: 'characteristic-id' },
    live: { attribute: false },
    connection: { type: String },
    role: { type: String },
    shiftStarts: { attribute: false },
    view: { state: true },
    points: { state: true },
    readings: { state: true },
    rawReadings: { state: true },
    revision: { state: true },
    range: { state: true },
    preset: { state: true },
    history: { state: true },
    custom: { state: true },
    rangeProblem: { state: true },
  }

  declare characteristicId: string
  declare live: LiveController | undefined
  declare connection: ConnectionState
  /** Role of the session: engineers and admins may change the limits, operators act on alarms. */
  declare role: Role | null
  /** Local hours at which shifts start (the session's, from shifts.starts). */
  declare shiftStarts: readonly number[]
  declare view: CharacteristicView | null
  declare points: readonly ChartPointView[]
  /** Recent readings for the capability histogram (fetched only with specification limits). */
  declare readings: readonly { ts: number; value: number }[]
  /** The readings over the chart's span, drawn under an EWMA chart (empty for other charts). */
  declare rawReadings: readonly { ts: number; value: number }[]
  /** Bumped when the limits may have changed: the record of changes reloads. */
  declare revision: number
  /** The time range shown (chart history), or null to follow the latest points live. */
  declare range: TimeRange | null
  /** The button the range came from (`custom`: typed, zoomed or panned). */
  declare preset: RangePreset | 'live' | 'custom'
  /** What the gateway said of the range's points: how many it held, how many it sent. */
  declare history: { total: number; shown: number; from: number } | null
  /** The custom range's form, open with the range it started from; null when closed. */
  declare custom: TimeRange | null
  declare rangeProblem: string | null

  private readonly loader: LoadController
  private loading = false
  /** Live points that arrived while the chart was being fetched. */
  private pending: ChartPointView[] = []
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  private rawTimer: ReturnType<typeof setTimeout> | undefined
  /** Reloads the live view while the live socket is not open. */
  private pollTimer: ReturnType<typeof setInterval> | undefined
  /** The lines over the EWMA's readings: a new array only when they change (the page re-renders every second). */
  private rawLines: LimitLine[] = []

  constructor() {
    super()
    this.characteristicId = ''
    this.connection = 'idle'
    this.role = null
    this.shiftStarts = SHIFT_STARTS
    this.view = null
    this.points = []
    this.readings = []
    this.rawReadings = []
    this.revision = 0
    this.range = null
    this.preset = 'live'
    this.history = null
    this.custom = null
    this.rangeProblem = null
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
          // Viewing history: live points are not appended (Live returns to them).
          if (this.range) return
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

  override connectedCallback(): void {
    super.connectedCallback()
    this.syncPolling()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
    clearTimeout(this.rawTimer)
    this.rawTimer = undefined
    this.syncPolling()
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('connection')) this.syncPolling()
  }

  /**
   * While the live socket is open the chart follows it and nothing is polled; without it (not yet
   * connected, reconnecting, refused) the live view is reloaded from REST every POLL_MS.
   */
  private syncPolling(): void {
    const poll = this.isConnected && this.connection !== 'connected'
    if (poll && this.pollTimer === undefined) {
      this.pollTimer = setInterval(() => {
        if (!this.range && !this.loading) void this.loader.load()
      }, POLL_MS)
    } else if (!poll && this.pollTimer !== undefined) {
      clearInterval(this.pollTimer)
      this.pollTimer = undefined
    }
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('characteristicId')) {
      this.view = null
      this.points = []
      this.readings = []
      this.rawReadings = []
      this.range = null
      this.preset = 'live'
      this.history = null
      this.custom = null
      void this.loader.load()
    }
    if (changed.has('view') && this.view) {
      const v = this.view
      const lines = readingsLines(v.chart.type, v.limits, v.chart.control)
      if (JSON.stringify(lines) !== JSON.stringify(this.rawLines)) this.rawLines = lines
    }
  }

  /**
   * The characteristic and its chart (the latest points, or the range shown, downsampled), then the
   * histogram's and the EWMA's readings; live points meanwhile wait.
   */
  private async fetch(signal: AbortSignal): Promise<void> {
    const id = this.characteristicId
    const range = this.range
    this.loading = true
    this.pending = []
    try {
      const [view, chart] = await Promise.all([
        api.characteristic(id, signal),
        range
          ? api.chartHistory(id, range, this.buckets(), signal)
          : api.chart(id, MAX_CHART_POINTS, signal),
      ])
      this.view = view
      if (range) {
        this.points = chart.points
        this.history = {
          total: chart.total ?? chart.points.length,
          shown: chart.points.length,
          from: chart.from ?? range.from,
        }
      } else {
        this.points = appendPoints(appendPoints([], chart.points), this.pending)
        this.history = null
      }
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
    if (this.loading || this.range) return
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

  /** The readings over the chart's span for an EWMA chart (null for another chart); a range's downsampled. */
  private async fetchRaw(
    view: CharacteristicView,
    signal?: AbortSignal,
  ): Promise<{ ts: number; value: number }[] | null> {
    if (view.chart.type !== 'ewma') return null
    if (this.range)
      return (await api.readingsHistory(view.id, this.range, this.buckets(), signal)).readings
    const from = this.points[0]?.ts ?? 0
    return (await api.readingsSince(view.id, from, MAX_RAW_READINGS, signal)).readings
  }

  /**
   * While live points arrive: the EWMA's new raw readings soon (every READINGS_REFRESH_MS at most),
   * capability and the histogram once a minute at most (the live socket carries neither).
   */
  private scheduleRefresh(): void {
    const v = this.view
    if (!v || this.range) return
    if (v.chart.type === 'ewma' && this.rawTimer === undefined) {
      this.rawTimer = setTimeout(() => {
        this.rawTimer = undefined
        void this.loadNewRaw()
      }, READINGS_REFRESH_MS)
    }
    if (v.specLimits && this.refreshTimer === undefined) {
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined
        void this.loadCapability()
      }, CAPABILITY_REFRESH_MS)
    }
  }

  private async loadCapability(): Promise<void> {
    const id = this.characteristicId
    if (!id || this.loading || this.range || !this.view?.specLimits) return
    try {
      const [view, readings] = await Promise.all([
        api.characteristic(id),
        api.readings(id, HISTOGRAM_READINGS),
      ])
      if (id !== this.characteristicId || !this.view) return
      this.view = {
        ...this.view,
        specLimits: view.specLimits,
        capability: view.capability,
        capabilityVerdict: view.capabilityVerdict,
      }
      this.readings = readings.readings
    } catch (e) {
      this.loader.problem = failureText(e)
    }
  }

  /** The EWMA's raw readings since the last one held, appended (those before the chart's first point dropped). */
  private async loadNewRaw(): Promise<void> {
    const id = this.characteristicId
    if (!id || this.loading || this.range || this.view?.chart.type !== 'ewma') return
    const held = this.rawReadings
    const last = held[held.length - 1]
    try {
      const from = last?.ts ?? this.points[0]?.ts ?? 0
      const got = (await api.readingsSince(id, from, MAX_RAW_READINGS)).readings
      if (id !== this.characteristicId || this.range || this.rawReadings !== held) return
      // The readings at the last time stamp held come again: skip as many as are held.
      let again = last ? held.filter((r) => r.ts === last.ts).length : 0
      const fresh = got.filter((r) => !(r.ts === last?.ts && again-- > 0))
      if (fresh.length === 0) return
      const start = this.points[0]?.ts ?? 0
      const all = held.concat(fresh).filter((r) => r.ts >= start)
      this.rawReadings = all.length > MAX_RAW_READINGS ? all.slice(-MAX_RAW_READINGS) : all
    } catch (e) {
      this.loader.problem = failureText(e)
    }
  }

  // ---- chart history: the time range ----

  /** Buckets for the gateway's downsampling: the control chart's plotting width in pixels. */
  private buckets(): number {
    const chart = this.renderRoot.querySelector('lw-control-chart')
    return bucketsFor(chart ? chart.plotWidth() : window.innerWidth)
  }

  private now(): number {
    return this.live?.now() ?? Date.now()
  }

  /** Shows a range (fetched whole, downsampled), or follows the latest points again (null). */
  private showRange(range: TimeRange | null, preset: LwCharacteristicPage['preset']): void {
    this.range = range
    this.preset = range ? preset : 'live'
    this.rangeProblem = null
    this.history = null
    if (!range) this.custom = null
    clearTimeout(this.rawTimer)
    this.rawTimer = undefined
    void this.loader.load()
  }

  /** The span shown: the range, or from the first live point to now. */
  private shownRange(): TimeRange {
    if (this.range) return this.range
    const now = this.now()
    const first = this.points[0]?.ts
    return { from: first !== undefined && first < now ? first : now - 3_600_000, to: now }
  }

  private pan(direction: -1 | 1): void {
    this.showRange(panRange(this.shownRange(), direction, this.now()), 'custom')
  }

  private onZoom(e: CustomEvent<TimeRange>): void {
    this.custom = null
    this.showRange(zoomRange(e.detail.from, e.detail.to), 'custom')
  }

  private toggleCustom(): void {
    this.custom = this.custom ? null : this.shownRange()
    this.rangeProblem = null
  }

  private applyCustom(e: SubmitEvent): void {
    e.preventDefault()
    const data = new FormData(e.target as HTMLFormElement)
    const range = customRange(String(data.get('from') ?? ''), String(data.get('to') ?? ''))
    if (typeof range === 'string') {
      this.rangeProblem = range
      return
    }
    this.showRange(range, 'custom')
  }

  /** What is shown, in words: live, or the range with how many of its points were drawn. */
  private rangeWords(): string {
    const r = this.range
    if (!r) return `Live: the latest ${this.points.length} points`
    const h = this.history
    const span = `${formatDateTime(r.from)} – ${formatDateTime(r.to)} (${spanWords(r.to - r.from)})`
    if (!h) return `${span} · loading…`
    const count =
      h.shown < h.total
        ? `${h.shown.toLocaleString('en')} of ${h.total.toLocaleString('en')} points: each pixel's first, last, lowest and highest, and every rule violation`
        : `${h.total.toLocaleString('en')} points`
    const cut = h.from > r.from ? ` · from ${formatDateTime(h.from)} only (too many points)` : ''
    return `${span} · ${count}${cut}`
  }

  private rangeBar() {
    const custom = this.custom
    return html`<div class="range-bar" role="toolbar" aria-label="Time range" data-part="range" data-mode=${this.range ? 'history' : 'live'}>
        <button type="button" data-range="live" aria-pressed=${String(this.range === null)} title="Follow the latest points live" @click=${() => this.showRange(null, 'live')}>Live</button>
        ${RANGE_PRESETS.map(
          (
            p,
          ) => html`<button type="button" data-range=${p.preset} aria-pressed=${String(this.preset === p.preset)} title=${p.title}
            @click=${() => this.showRange(presetRange(p.preset, this.now(), { starts: this.shiftStarts }), p.preset)}>${p.label}</button>`,
        )}
        <button type="button" data-range="custom" aria-pressed=${String(this.preset === 'custom')} aria-expanded=${String(custom !== null)}
          title="A range of your own (or drag across a chart to zoom)" @click=${() => this.toggleCustom()}>Custom…</button>
        <span class="pan">
          <button type="button" data-pan="earlier" title="Earlier by half the range" aria-label="Earlier by half the range" @click=${() => this.pan(-1)}>←</button>
          <button type="button" data-pan="later" title="Later by half the range" aria-label="Later by half the range" ?disabled=${this.range === null} @click=${() => this.pan(1)}>→</button>
        </span>
        <span class="range-words muted" data-part="range-words">${this.rangeWords()}</span>
      </div>
      ${
        custom
          ? html`<form class="custom-range" data-part="custom-range" @submit=${(e: SubmitEvent) => this.applyCustom(e)}>
            <label>From <input type="datetime-local" name="from" required value=${toDateTimeLocal(custom.from)} /></label>
            <label>To <input type="datetime-local" name="to" required value=${toDateTimeLocal(custom.to)} /></label>
            <button type="submit">Show</button>
            ${this.rangeProblem ? html`<span class="problem" role="alert">${this.rangeProblem}</span>` : nothing}
          </form>`
          : nothing
      }`
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
      .range-bar {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.4em;
        margin: 0 0 0.6em;
      }
      .range-bar .pan {
        display: inline-flex;
        gap: 0.3em;
        margin-left: 0.6em;
      }
      .range-bar button:disabled {
        opacity: 0.45;
        cursor: default;
      }
      .range-words {
        margin-left: 0.6em;
        font-variant-numeric: tabular-nums;
      }
      .custom-range {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.4em 1em;
        margin: 0 0 0.6em;
      }
      .custom-range input {
        font: inherit;
        color: var(--lw-text);
        background: var(--lw-surface-2);
        border: 1px solid var(--lw-border);
        border-radius: 0.3em;
        padding: 0.2em 0.4em;
        color-scheme: dark;
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
          ${v.state.openNcs > 0 ? html`<a data-part="open-ncs" href=${routeHash({ page: 'ncs', characteristic: v.id })}>${v.state.openNcs} open NC</a>` : nothing}
        </div>
      </div>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${this.live?.watchError ? html`<p class="problem">Live points refused: ${this.live.watchError}</p>` : nothing}
      ${this.rangeBar()}
      <lw-control-chart
        zoomable
        @lw-zoom=${(e: CustomEvent<TimeRange>) => this.onZoom(e)}
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
        axis=${this.range ? 'time' : 'index'}
        zoomable
        @lw-zoom=${(e: CustomEvent<TimeRange>) => this.onZoom(e)}
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
