import { css, html, LitElement, nothing, type PropertyValues, unsafeCSS } from 'lit'
import { styleMap } from 'lit/directives/style-map.js'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css?inline'
import type {
  AlarmLimits,
  ChartPointView,
  ChartType,
  ControlLimitsView,
} from '../../gateway/contract.ts'
import { labelMarks, paneColumns, paneSeries, shadeBaseline } from './control-chart-draw.ts'
import { timeAt } from './data/chart-range.ts'
import {
  buildChartSeries,
  type ChartSeries,
  latestControl,
  latestSigmas,
  type PaneSeries,
  panesOfRule,
} from './data/chart-series.ts'
import { alarmPane, paneDecimals, paneInfo, sigmaWords } from './data/chart-words.ts'
import { type CusumRange, cusumRange, latestH } from './data/cusum-range.ts'
import { formatQuantity, formatTime, formatValue } from './data/format.ts'
import { scaleStrokes, strokeScale } from './data/screen.ts'
import { type LimitLine, limitLines } from './data/series.ts'
import { describeRuleOn } from './data/status.ts'
import { FrameDrawController } from './frame-draw-controller.ts'
import { lineSwatches } from './styles.ts'
import { axes, type ChartColours, chartColours, fontPx, pointScale } from './uplot-theme.ts'

let chartCount = 0

type Column = (number | null)[]

/** Panes whose values are in the characteristic's unit (the others are proportions, counts or σ units). */
const MEASURED = new Set(['i', 'mr', 'xbar', 'r', 's', 'ewma'])

/**
 * A live control chart of any type, drawn with uPlot: one plot per pane of the chart (primary
 * first and larger), cursor-synchronised. Each point's own centre line and limits are drawn as
 * steps (they vary with n on p, u and X̄ charts, with time on EWMA; a null limit leaves a gap);
 * the alert and action limits only on the pane that plots what they judge. CUSUM plots C⁺ upward
 * and C⁻ downward against ±h. Baseline points are hollow on a shaded band, flagged points ringed
 * and named with their rule. Each pane says the σ its limits use (the latest point's). A CUSUM
 * pane's y-range follows the data but keeps ±h legible (data/cusum-range.ts): a sum beyond it is
 * marked by an arrow at the edge whose title gives its value. Redraws at most once per animation
 * frame however often its inputs change.
 *
 * `zoomable` (chart history): dragging across a pane selects a span of it, and the chart tells
 * its host the times selected with an `lw-zoom` event ({from, to}, UTC ms, interpolated between
 * the points at the selection's edges); the host fetches that range.
 */
export class LwControlChart extends LitElement {
  static override properties = {
    points: { attribute: false },
    type: { type: String },
    panes: { attribute: false },
    alarm: { attribute: false },
    control: { attribute: false },
    decimals: { type: Number },
    unit: { type: String },
    compact: { type: Boolean },
    zoomable: { type: Boolean },
    hover: { state: true },
    offScale: { state: true },
  }

  declare points: readonly ChartPointView[]
  declare type: ChartType
  /** The chart's panes, primary first (CharacteristicView.chart.panes). */
  declare panes: readonly string[]
  declare alarm: AlarmLimits
  declare control: ControlLimitsView | null
  declare decimals: number
  declare unit: string
  /** Leaves room for a chart under it: the primary pane takes a smaller share of the height. */
  declare compact: boolean
  /** Drag across a pane to zoom: an `lw-zoom` event with the times selected. */
  declare zoomable: boolean
  /** Point under the cursor (series position), or null for the latest. */
  declare hover: number | null
  /** Markers of the off-scale points of each CUSUM pane, placed after each draw. */
  declare offScale: Record<string, OffScaleMark[]>

  private readonly plots = new Map<string, uPlot>()
  /** The structure the plots were made for; another one makes them anew. */
  private layout = ''
  private series: ChartSeries | null = null
  /** The limits in force at the latest point, for the legend. */
  private current: ControlLimitsView | null = null
  /** The σ each pane's limits use at the latest point, for the legend. */
  private sigmas: Record<string, number | null> = {}
  /** The y-range of each CUSUM pane for the data drawn. */
  private readonly ranges = new Map<string, CusumRange>()
  private readonly frames: FrameDrawController
  /** A resize since the last draw: the plots are given the new size. */
  private resized = false
  private readonly syncKey = `lw-chart-${++chartCount}`
  /** Times drawn, for tests and diagnostics. */
  draws = 0

  constructor() {
    super()
    this.points = []
    this.type = 'imr'
    this.panes = ['i', 'mr']
    this.alarm = {}
    this.control = null
    this.decimals = 2
    this.unit = ''
    this.compact = false
    this.zoomable = false
    this.hover = null
    this.offScale = {}
    this.frames = new FrameDrawController(
      this,
      () => this.draw(),
      () => {
        this.resized = true
      },
    )
  }

  static override styles = [
    lineSwatches,
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
        position: relative;
      }
      .readout {
        display: flex;
        flex-wrap: wrap;
        align-items: baseline;
        gap: 0.3em 1.2em;
        min-height: 1.6em;
        font-variant-numeric: tabular-nums;
        color: var(--lw-text-dim);
        margin-bottom: 0.3em;
      }
      .readout b {
        color: var(--lw-text);
        font-size: 1.15em;
      }
      .readout .rule {
        background: var(--lw-spc);
        color: var(--lw-spc-ink);
        padding: 0 0.45em;
        border-radius: 0.25em;
        font-weight: 700;
      }
      .pane-head {
        display: flex;
        flex-wrap: wrap;
        align-items: baseline;
        gap: 0.2em 1.2em;
        margin: 0.5em 0 0.1em;
      }
      .pane-label {
        color: var(--lw-text-dim);
        font-weight: 700;
      }
      .pane-lines {
        font-size: 0.9em;
        color: var(--lw-text-dim);
        font-variant-numeric: tabular-nums;
      }
      .plot {
        width: 100%;
        min-height: 4em;
      }
      .plot-box {
        position: relative;
      }
      /* Arrows at the edge of a CUSUM pane for sums beyond its range; the title gives the value. */
      .off {
        position: absolute;
        width: 0;
        height: 0;
        margin-left: -0.55em;
        border-left: 0.55em solid transparent;
        border-right: 0.55em solid transparent;
        cursor: default;
      }
      .off.up {
        border-bottom: 0.8em solid var(--lw-spc);
      }
      .off.down {
        border-top: 0.8em solid var(--lw-spc);
        margin-top: -0.8em;
      }
      /* Written under the arrow (over it for C⁻), ending at it: the latest points are at the right edge. */
      .off .value {
        position: absolute;
        right: -0.6em;
        white-space: nowrap;
        font-weight: 700;
        font-variant-numeric: tabular-nums;
        color: var(--lw-text);
        text-shadow: 0 0 3px var(--lw-bg), 0 0 3px var(--lw-bg);
        pointer-events: none;
      }
      .off.up .value {
        top: 1em;
      }
      .off.down .value {
        bottom: 1em;
      }
      .arrow {
        width: 0;
        height: 0;
        border-left: 0.45em solid transparent;
        border-right: 0.45em solid transparent;
        border-bottom: 0.65em solid var(--lw-spc);
      }
      .limits {
        display: flex;
        flex-wrap: wrap;
        gap: 0.4em 1.3em;
        margin: 0.6em 0 0;
        padding: 0;
        list-style: none;
        font-variant-numeric: tabular-nums;
      }
      .limits li {
        display: flex;
        align-items: center;
        gap: 0.4em;
      }
      .swatch.c-plus {
        border-top: 3px solid var(--lw-text);
      }
      .swatch.c-minus {
        border-top: 3px dashed var(--lw-text-dim);
      }
      .dot {
        width: 0.8em;
        height: 0.8em;
        border-radius: 50%;
        box-sizing: border-box;
      }
      .dot.baseline {
        border: 2px solid var(--lw-text-dim);
      }
      .dot.violation {
        border: 3px solid var(--lw-spc);
      }
      .dot.action {
        background: var(--lw-action);
      }
      .dot.alert {
        background: var(--lw-alert);
      }
      .none,
      .note {
        color: var(--lw-text-faint);
      }
    `,
  ]

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.destroyPlots()
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (
      changed.has('points') ||
      changed.has('alarm') ||
      changed.has('control') ||
      changed.has('type') ||
      changed.has('panes') ||
      !this.series
    ) {
      this.series = buildChartSeries(this.points, {
        type: this.type,
        panes: this.panes,
        alarm: this.alarm,
        control: this.control,
      })
      this.current = latestControl(this.control, this.points)
      this.sigmas = latestSigmas(this.points, this.panes)
      this.ranges.clear()
      for (const ps of this.series.panes) {
        if (ps.kind === 'cusum')
          this.ranges.set(ps.pane, cusumRange(ps.value, ps.lower, latestH(ps.ucl)))
      }
    }
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (
      changed.has('points') ||
      changed.has('alarm') ||
      changed.has('control') ||
      changed.has('decimals') ||
      changed.has('type') ||
      changed.has('panes') ||
      changed.has('unit') ||
      changed.has('compact') ||
      changed.has('zoomable')
    ) {
      this.frames.schedule()
    }
  }

  private destroyPlots(): void {
    for (const plot of this.plots.values()) plot.destroy()
    this.plots.clear()
    this.layout = ''
  }

  /** The off-scale points of a CUSUM pane as drawn (for tests and diagnostics). */
  offScalePoints(pane: string): { index: number; value: number; side: 'up' | 'down' }[] {
    const range = this.ranges.get(pane)
    if (!range) return []
    return range.offScale.map((o) => ({
      index: this.points[o.at]?.index ?? o.at,
      value: o.value,
      side: o.side,
    }))
  }

  /** The y-range a pane was last drawn with (for tests and diagnostics). */
  yRange(pane: string): [number, number] | null {
    const scale = this.plots.get(pane)?.scales.y
    return scale && scale.min !== undefined && scale.max !== undefined
      ? [scale.min, scale.max]
      : null
  }

  /** The time of each point drawn, in x order (for tests and diagnostics). */
  times(): number[] {
    return [...(this.series?.ts ?? [])]
  }

  /** The width of the plotting area in CSS pixels (its pixel columns), or of the element before a draw. */
  plotWidth(): number {
    const plot = this.plots.get(this.panes[0] ?? '')
    return plot ? plot.over.clientWidth : this.clientWidth
  }

  /** What each pane's plot was last given: its series' labels and columns (for tests and diagnostics). */
  drawn(): Record<string, { labels: string[]; data: Column[] }> {
    const out: Record<string, { labels: string[]; data: Column[] }> = {}
    for (const [pane, plot] of this.plots) {
      out[pane] = {
        labels: plot.series.map((s) => String(s.label ?? '')),
        data: plot.data.map((c) => Array.from(c as ArrayLike<number | null>)),
      }
    }
    return out
  }

  private draw(): void {
    const hosts = this.panes.map((pane) =>
      this.renderRoot.querySelector<HTMLElement>(`.plot[data-pane="${pane}"]`),
    )
    if (hosts.length === 0 || hosts.some((h) => !h)) return
    const width = (hosts[0] as HTMLElement).clientWidth
    if (width < 50) return
    const s = this.series
    if (!s) return
    const layout = [
      this.type,
      this.panes.join(','),
      alarmPane(this.type),
      this.decimals,
      this.unit,
      this.compact,
      this.zoomable,
    ].join('|')
    if (layout !== this.layout) {
      this.destroyPlots()
      this.layout = layout
    }
    const colours = chartColours(this)
    const px = fontPx(this)
    s.panes.forEach((ps, k) => {
      const host = hosts[k] as HTMLElement
      const height = this.paneHeight(k)
      const data = [s.x, ...paneColumns(ps)] as uPlot.AlignedData
      const plot = this.plots.get(ps.pane)
      if (!plot) {
        const options = this.options(ps, k, colours, px, width, height)
        this.plots.set(ps.pane, new uPlot(scaleStrokes(options, strokeScale(px)), data, host))
      } else {
        if (this.resized) plot.setSize({ width, height })
        plot.setData(data)
      }
    })
    this.resized = false
    this.draws++
    this.dataset.points = String(s.x.length)
    this.dataset.draws = String(this.draws)
    this.dataset.panes = this.panes.join(' ')
  }

  private paneHeight(k: number): number {
    const vh = window.innerHeight
    if (k > 0) return Math.max(130, Math.round(vh * 0.2))
    if (this.compact) return Math.max(240, Math.round(vh * 0.34))
    return this.panes.length > 1
      ? Math.max(240, Math.round(vh * 0.42))
      : Math.max(280, Math.round(vh * 0.52))
  }

  private options(
    ps: PaneSeries,
    k: number,
    c: ChartColours,
    px: number,
    width: number,
    height: number,
  ): uPlot.Options {
    const timeline = () => this.series ?? { x: [], ts: [] }
    const last = k === this.panes.length - 1
    const decimals = paneDecimals(this.type, ps.pane, this.decimals)
    return {
      width,
      height,
      // Equal side paddings and y-axis sizes keep the panes' x positions aligned.
      padding: [px * (k === 0 ? 1.4 : 0.7), px * 2.5, 0, 0],
      legend: { show: false },
      cursor: {
        sync: { key: this.syncKey },
        drag: { x: this.zoomable, y: false, setScale: false },
        points: { size: 9 },
      },
      scales:
        ps.kind === 'cusum'
          ? {
              x: pointScale,
              y: {
                range: (_u, min, max) => {
                  const r = this.ranges.get(ps.pane)
                  return r ? [r.min, r.max] : [min ?? -1, max ?? 1]
                },
              },
            }
          : { x: pointScale },
      axes: axes(c, px, timeline, decimals, last),
      series: [{}, ...paneSeries(ps, c, paneInfo(ps.pane).label)],
      hooks: {
        drawClear: [(u) => this.series && shadeBaseline(u, this.series, c, px, k === 0)],
        draw: [
          (u) => this.series && labelMarks(u, this.series, ps.pane, c, px),
          ...(ps.kind === 'cusum' ? [(u: uPlot) => this.placeOffScale(u, ps.pane)] : []),
        ],
        setCursor: [(u) => this.onCursor(u)],
        setSelect: [(u) => this.onSelect(u)],
      },
    }
  }

  /** A span dragged across a pane: the times at its edges go to the host, the selection is cleared. */
  private onSelect(u: uPlot): void {
    const { left, width } = u.select
    const s = this.series
    if (!this.zoomable || !s || width < 3) return
    const from = timeAt(s.x, s.ts, u.posToVal(left, 'x'))
    const to = timeAt(s.x, s.ts, u.posToVal(left + width, 'x'))
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
    if (from === null || to === null || to <= from) return
    this.dispatchEvent(
      new CustomEvent<ZoomDetail>('lw-zoom', {
        detail: { from, to },
        bubbles: true,
        composed: true,
      }),
    )
  }

  /**
   * Places an arrow at the edge of a CUSUM pane over each point beyond its range, in CSS pixels
   * from the pane's box; the latest on each side also shows its value.
   */
  private placeOffScale(u: uPlot, pane: string): void {
    const s = this.series
    const range = this.ranges.get(pane)
    const box = this.renderRoot.querySelector<HTMLElement>(`.plot-box[data-pane="${pane}"]`)
    if (!s || !range || !box) return
    const over = u.over.getBoundingClientRect()
    const origin = box.getBoundingClientRect()
    const left = over.left - origin.left
    const top = over.top - origin.top
    const lastOf = { up: -1, down: -1 }
    for (const o of range.offScale) lastOf[o.side] = o.at
    const marks: OffScaleMark[] = []
    for (const o of range.offScale) {
      const x = u.valToPos(s.x[o.at] as number, 'x')
      if (x < 0 || x > over.width) continue
      const sum = o.side === 'up' ? 'C⁺' : 'C⁻'
      const value = `${sum} ${formatValue(Math.abs(o.value), 2)}σ`
      const edge = formatValue(o.side === 'up' ? range.max : -range.min, 2)
      marks.push({
        at: o.at,
        index: this.points[o.at]?.index ?? o.at,
        side: o.side,
        left: Math.round(left + x),
        top: Math.round(o.side === 'up' ? top : top + over.height),
        title: `#${this.points[o.at]?.index ?? o.at} ${value}: off scale (the scale stops at ${edge}σ)`,
        label: lastOf[o.side] === o.at ? value : null,
      })
    }
    // Only a change re-renders the arrows (a draw that moved nothing costs no update).
    if (JSON.stringify(this.offScale[pane] ?? []) !== JSON.stringify(marks)) {
      this.offScale = { ...this.offScale, [pane]: marks }
    }
    this.dataset.offScale = String(marks.length)
  }

  private onCursor(u: uPlot): void {
    const idx = u.cursor.idx
    this.hover = idx === null || idx === undefined ? null : idx
  }

  protected override render() {
    const point = readoutPoint(this.points, this.hover)
    const primary = this.panes[0] ?? 'i'
    const onPrimary = alarmPane(this.type) === primary
    const lines = limitLines(onPrimary ? this.alarm : {}, this.current, primary)
    const primaryDecimals = paneDecimals(this.type, primary, this.decimals)
    const varies = this.series?.panes.some((p) => varying(p.ucl) || varying(p.lcl)) ?? false
    const cusum = this.panes.includes('cusum')
    return html`
      <div class="readout" aria-live="off">${point ? this.readout(point) : html`<span class="none">No points yet.</span>`}</div>
      ${this.panes.map(
        (pane, k) => html`
          <div class="pane-head">
            <span class="pane-label">${paneInfo(pane).label}</span>
            ${k > 0 ? html`<span class="pane-lines" data-pane-lines=${pane}>${this.paneLines(pane)}</span>` : nothing}
          </div>
          <div class="plot-box" data-pane=${pane}>
            <div class="plot" data-pane=${pane} id=${pane}></div>
            ${(this.offScale[pane] ?? []).map(
              (m) => html`<span
                class="off ${m.side}"
                style=${styleMap({ left: `${m.left}px`, top: `${m.top}px` })}
                title=${m.title}
                role="img"
                aria-label=${m.title}
                data-off-scale=${m.index}
              >${m.label ? html`<span class="value">${m.label}</span>` : nothing}</span>`,
            )}
          </div>
        `,
      )}
      <ul class="limits" aria-label="Limits">
        ${lines.map(
          (l) => html`<li data-limit=${l.key}>
            <span class="swatch ${l.key}"></span>${limitName(l, cusum)} ${formatValue(l.value, primaryDecimals)}
          </li>`,
        )}
        ${lines.length === 0 ? html`<li class="none">No limits yet.</li>` : nothing}
        ${this.sigmaItem(primary)}
        ${varies ? html`<li class="note" data-note="varying">limits vary point by point: the latest are listed</li>` : nothing}
        ${
          cusum
            ? html`<li><span class="swatch c-plus"></span>C⁺ upper sum</li>
              <li><span class="swatch c-minus"></span>C⁻ lower sum, drawn downward</li>
              <li data-note="off-scale"><span class="arrow"></span>sum beyond the scale (its value in the tooltip)</li>`
            : html`<li><span class="dot baseline"></span>baseline point</li>`
        }
        <li><span class="dot violation"></span>${cusum ? 'CUSUM signal' : 'rule violation'}</li>
        ${
          alarmPane(this.type) !== null
            ? html`<li><span class="dot alert"></span>beyond alert</li>
              <li><span class="dot action"></span>beyond action</li>`
            : nothing
        }
      </ul>
    `
  }

  /** The lines of a secondary pane in words, and the σ they use: "UCL 10.6 · CL 5.0 · LCL 0.0 · σ 1.76". */
  private paneLines(pane: string): string {
    const d = paneDecimals(this.type, pane, this.decimals)
    const words = limitLines({}, this.current, pane).map(
      (l) => `${l.label} ${formatValue(l.value, d)}`,
    )
    const sigma = sigmaWords(this.type, pane, this.sigmas[pane], this.decimals)
    if (sigma) words.push(sigma)
    return words.join(' · ')
  }

  /** The legend's entry for the σ the primary pane's limits use (none while there is none). */
  private sigmaItem(pane: string) {
    const n = this.points[this.points.length - 1]?.n ?? 1
    const scale = this.control ? { sigma: this.control.sigma, n, unit: this.unit } : undefined
    const words = sigmaWords(this.type, pane, this.sigmas[pane], this.decimals, scale)
    if (!words) return nothing
    const limits =
      pane === 'cusum' ? 'the pane is in σ units, ±h are h·σ' : 'the limits are CL ± L·σ'
    return html`<li data-sigma=${pane} title=${`σ of the plotted statistic: ${limits}`}>${words}</li>`
  }

  private readout(p: ChartPointView) {
    const showN = this.type !== 'imr'
    return html`<span>#${p.index}</span><span>${formatTime(p.ts)}</span>
      ${showN ? html`<span data-part="n">n ${p.n}</span>` : nothing}
      ${this.panes.map((pane, k) => {
        const pp = p.panes[pane]
        const d = paneDecimals(this.type, pane, this.decimals)
        if (pane === 'cusum') {
          return html`<span>standardized ${formatValue(pp?.statistic, 2)}</span>
            <span>C⁺ <b>${formatValue(pp?.upper, 2)}</b></span>
            <span>C⁻ <b>${formatValue(pp?.lower, 2)}</b></span>`
        }
        const symbol = paneInfo(pane).symbol
        const value = MEASURED.has(pane)
          ? formatQuantity(pp?.statistic, d, this.unit)
          : formatValue(pp?.statistic, d)
        return k === 0
          ? html`<span>${symbol} <b>${value}</b></span>`
          : html`<span>${symbol} ${value}</span>`
      })}
      <span>${p.phase === 'baseline' ? 'baseline' : 'monitoring'}</span>
      ${[...new Set(p.rules)].map((r) => {
        const words = describeRuleOn(r, panesOfRule(p, r, this.panes)[0] ?? null)
        return html`<span class="rule" title=${words}>${words}</span>`
      })}`
  }
}

/** The times a chart's selection spans (UTC ms): what `lw-zoom` carries. */
export interface ZoomDetail {
  from: number
  to: number
}

/** A limit's name in the legend: CUSUM's are ±h. */
function limitName(l: LimitLine, cusum: boolean): string {
  if (!cusum) return l.label
  return l.key === 'ucl' ? '+h' : l.key === 'lcl' ? '−h' : l.key === 'cl' ? 'Centre' : l.label
}

function varying(column: Column): boolean {
  let seen: number | null = null
  for (const v of column) {
    if (v === null) continue
    if (seen === null) seen = v
    else if (Math.abs(v - seen) > 1e-12 * Math.max(1, Math.abs(seen))) return true
  }
  return false
}

/** An arrow at the edge of a CUSUM pane for a point beyond its range. */
interface OffScaleMark {
  /** Position in the series. */
  at: number
  /** The point's index in its stream. */
  index: number
  side: 'up' | 'down'
  /** CSS pixels from the pane's box. */
  left: number
  top: number
  title: string
  /** The value written beside the arrow (the latest on each side), or null. */
  label: string | null
}

function readoutPoint(
  points: readonly ChartPointView[],
  hover: number | null,
): ChartPointView | undefined {
  if (hover !== null && hover >= 0 && hover < points.length) return points[hover]
  return points[points.length - 1]
}

customElements.define('lw-control-chart', LwControlChart)

declare global {
  interface HTMLElementTagNameMap {
    'lw-control-chart': LwControlChart
  }
}
