import { css, html, LitElement, nothing, type PropertyValues, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css?inline'
import type { AlarmLimits, Status } from '../../gateway/contract.ts'
import { timeAt } from './data/chart-range.ts'
import { alarmMarks } from './data/chart-series.ts'
import { formatValue } from './data/format.ts'
import { scaleStrokes, strokeScale } from './data/screen.ts'
import { buildReadingsSeries, type LimitLine, type ReadingsSeries } from './data/series.ts'
import { FrameDrawController } from './frame-draw-controller.ts'
import { lineSwatches } from './styles.ts'
import {
  axes,
  type ChartColours,
  chartColours,
  fontPx,
  line,
  markers,
  pointScale,
  timeAxes,
  timeScale,
} from './uplot-theme.ts'

type Column = (number | null)[]

/**
 * A small chart of values over time with horizontal limit lines: the readings around a
 * nonconformance's trigger (or the statistic of the pane its rule judged), the trigger ringed and
 * named, the occurrences marked and a CUSUM signal's run shaded; or the raw readings under an
 * EWMA chart with the alert and action limits (readings beyond them marked in their hue, given
 * `alarm`). `axis` `time` spaces the values by their time
 * stamps (uPlot's time scale), `index` evenly as on the control chart above it. A legend under it
 * names each line with its value. Static (no live data of its own); drawn once per animation
 * frame. `zoomable`: dragging across it selects a span, told to the host with an `lw-zoom` event
 * ({from, to}, UTC ms), as on the control chart.
 */
export class LwReadingsChart extends LitElement {
  static override properties = {
    readings: { attribute: false },
    trigger: { attribute: false },
    occurrences: { attribute: false },
    lines: { attribute: false },
    decimals: { type: Number },
    tone: { type: String },
    axis: { type: String },
    run: { attribute: false },
    label: { type: String },
    heightShare: { type: Number, attribute: 'height-share' },
    alarm: { attribute: false },
    zoomable: { type: Boolean },
  }

  declare readings: readonly { ts: number; value: number }[]
  /** The value that triggered (ringed and named), or null for none. */
  declare trigger: { ts: number; value: number } | null
  declare occurrences: readonly { ts: number; value: number }[]
  declare lines: readonly LimitLine[]
  declare decimals: number
  /** Status hue of the occurrence markers (the NC's cause). */
  declare tone: Status
  /** `time`: x proportional to time; `index`: evenly spaced, as a control chart. */
  declare axis: 'time' | 'index'
  /** A span of time to shade (a CUSUM signal's run), or null. */
  declare run: { from: number; to: number } | null
  /** What the chart shows, for assistive technology. */
  declare label: string
  /** Share of the viewport's height the plot takes (at least 200 px). */
  declare heightShare: number
  /** Alarm limits whose excursions are marked in their hue (as on the individuals pane), or null. */
  declare alarm: AlarmLimits | null
  /** Drag across the plot to zoom: an `lw-zoom` event with the times selected. */
  declare zoomable: boolean

  private plot: uPlot | null = null
  private series: ReadingsSeries | null = null
  private readonly frames: FrameDrawController
  private layout = ''

  constructor() {
    super()
    this.readings = []
    this.trigger = null
    this.occurrences = []
    this.lines = []
    this.decimals = 2
    this.tone = 'action'
    this.axis = 'index'
    this.run = null
    this.label = 'Readings'
    this.heightShare = 0.3
    this.alarm = null
    this.zoomable = false
    // A resize drops the plot: the next draw makes it anew at the new width.
    this.frames = new FrameDrawController(
      this,
      () => this.draw(),
      () => {
        this.plot?.destroy()
        this.plot = null
      },
    )
  }

  static override styles = [
    lineSwatches,
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
      }
      /* The plot's height before it is drawn too (no layout shift): see draw(). */
      #plot {
        width: 100%;
        min-height: max(200px, var(--plot-vh, 30vh));
      }
      .legend {
        display: flex;
        flex-wrap: wrap;
        gap: 0.3em 1.3em;
        margin: 0.4em 0 0;
        padding: 0;
        list-style: none;
        color: var(--lw-text);
        font-variant-numeric: tabular-nums;
      }
      .legend li {
        display: flex;
        align-items: center;
        gap: 0.4em;
      }
      .ring {
        width: 0.9em;
        height: 0.9em;
        border-radius: 50%;
        border: 3px solid var(--lw-text);
        box-sizing: border-box;
      }
      .dot {
        width: 0.8em;
        height: 0.8em;
        border-radius: 50%;
      }
      .dot.alert {
        background: var(--lw-alert);
      }
      .dot.action {
        background: var(--lw-action);
      }
      .band {
        width: 1.2em;
        height: 0.9em;
        background: rgba(124, 77, 255, 0.35);
      }
    `,
  ]

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.plot?.destroy()
    this.plot = null
  }

  protected override updated(_changed: PropertyValues<this>): void {
    this.frames.schedule()
  }

  /** What the plot was last given: its series' labels and columns (for tests and diagnostics). */
  drawn(): { labels: string[]; data: Column[]; time: boolean } | null {
    const plot = this.plot
    if (!plot) return null
    return {
      labels: plot.series.map((s) => String(s.label ?? '')),
      data: plot.data.map((c) => Array.from(c as ArrayLike<number | null>)),
      time: plot.scales.x?.time === true,
    }
  }

  private draw(): void {
    const host = this.renderRoot.querySelector<HTMLElement>('#plot')
    if (!host || host.clientWidth < 50) return
    const s = buildReadingsSeries(this.readings, this.trigger, this.occurrences, this.axis)
    this.series = s
    const layout = `${this.axis}:${this.tone}:${this.decimals}:${this.alarm !== null}:${this.zoomable}:${this.lines.map((l) => l.key).join(',')}`
    const marks = this.alarm ? alarmMarks(s.value, this.alarm) : null
    const data: uPlot.AlignedData = [
      s.x,
      s.value,
      ...(marks ? [marks.beyondAlert, marks.beyondAction] : []),
      s.occurrence,
      s.triggerMark,
      ...this.lines.map((l) => s.x.map(() => l.value)),
    ]
    this.dataset.points = String(s.x.length)
    this.dataset.axis = this.axis
    this.dataset.trigger = String(s.trigger)
    if (this.plot && layout === this.layout) {
      this.plot.setData(data)
      return
    }
    this.plot?.destroy()
    this.layout = layout
    const c = chartColours(this)
    const px = fontPx(this)
    const time = this.axis === 'time'
    this.plot = new uPlot(
      scaleStrokes(
        {
          width: host.clientWidth,
          height: Math.max(200, Math.round(window.innerHeight * this.heightShare)),
          padding: [px * 1.4, px * 2.5, 0, 0],
          legend: { show: false },
          cursor: { drag: { x: this.zoomable, y: false, setScale: false } },
          ...(time ? { ms: 1 as const } : {}),
          scales: { x: time ? timeScale : pointScale },
          axes: time
            ? timeAxes(c, px, this.decimals)
            : axes(c, px, () => this.series ?? { x: [], ts: [] }, this.decimals, true),
          series: [
            {},
            {
              label: 'Reading',
              stroke: c.dim,
              width: 1.5,
              points: { show: true, size: 5, fill: c.text },
            },
            ...(marks
              ? [
                  markers('Beyond an alert limit', 9, c.alert, c.alert),
                  markers('Beyond an action limit', 9, c.action, c.action),
                ]
              : []),
            markers(
              'Occurrence',
              13,
              c.text,
              this.tone === 'alert' ? c.alert : this.tone === 'spc' ? c.spc : c.action,
            ),
            {
              label: 'Trigger',
              stroke: c.text,
              paths: () => null,
              points: { show: true, size: 25, width: 3, stroke: c.text, fill: 'transparent' },
            },
            ...this.lines.map((l) => lineSeries(l, c)),
          ],
          hooks: {
            drawClear: [(u) => this.shadeRun(u)],
            draw: [(u) => this.nameTrigger(u, c, px)],
            setSelect: [(u) => this.onSelect(u)],
          },
        },
        strokeScale(px),
      ),
      data,
      host,
    )
  }

  /** A span dragged across the plot: its times go to the host, the selection is cleared. */
  private onSelect(u: uPlot): void {
    const { left, width } = u.select
    const s = this.series
    if (!this.zoomable || !s || width < 3) return
    const at = (px: number) => {
      const x = u.posToVal(px, 'x')
      return this.axis === 'time' ? x : timeAt(s.x, s.ts, x)
    }
    const from = at(left)
    const to = at(left + width)
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
    if (from === null || to === null || to <= from) return
    this.dispatchEvent(
      new CustomEvent('lw-zoom', { detail: { from, to }, bubbles: true, composed: true }),
    )
  }

  /** Shades the run (a CUSUM signal's) behind the values and names its length. */
  private shadeRun(u: uPlot): void {
    const run = this.run
    const s = this.series
    if (!run || !s) return
    const { top, height, left, width } = u.bbox
    // On an index axis the run's ends are the positions of its first and last values.
    const at = (ts: number) => {
      if (this.axis === 'time') return ts
      const k = s.ts.findIndex((t) => t >= ts)
      return k < 0 ? (s.x[s.x.length - 1] ?? 0) : (s.x[k] as number)
    }
    const half = this.axis === 'time' ? 0 : 0.5
    const x0 = Math.max(left, u.valToPos(at(run.from) - half, 'x', true))
    const x1 = Math.min(left + width, u.valToPos(at(run.to) + half, 'x', true))
    if (x1 <= x0) return
    const ctx = u.ctx
    ctx.save()
    ctx.fillStyle = 'rgba(124,77,255,0.16)'
    ctx.fillRect(x0, top, x1 - x0, height)
    ctx.restore()
  }

  /** Writes TRIGGER over the trigger's ring. */
  private nameTrigger(u: uPlot, c: ChartColours, px: number): void {
    const s = this.series
    if (!s || s.trigger < 0) return
    const value = s.value[s.trigger]
    if (value === null || value === undefined) return
    const dpr = devicePixelRatio
    const { top } = u.bbox
    const x = u.valToPos(s.x[s.trigger] as number, 'x', true)
    const y = u.valToPos(value, 'y', true)
    const ctx = u.ctx
    ctx.save()
    ctx.font = `700 ${Math.round(px * 0.85 * dpr)}px system-ui, "Liberation Sans", sans-serif`
    ctx.textAlign = 'center'
    ctx.textBaseline = 'bottom'
    const ty = Math.max(top + px * dpr, y - 16 * dpr)
    ctx.lineWidth = 4 * dpr * strokeScale(px)
    ctx.strokeStyle = c.bg
    ctx.strokeText('TRIGGER', x, ty)
    ctx.fillStyle = c.text
    ctx.fillText('TRIGGER', x, ty)
    ctx.restore()
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('heightShare'))
      this.style.setProperty('--plot-vh', `${this.heightShare * 100}vh`)
  }

  protected override render() {
    return html`<div id="plot" role="img" aria-label=${this.label}></div>
      <ul class="legend" aria-label="Lines">
        ${this.lines.map(
          (l) =>
            html`<li data-limit=${l.key}><span class="swatch ${l.key}"></span>${l.label} ${formatValue(l.value, this.decimals)}</li>`,
        )}
        ${
          this.alarm
            ? html`<li><span class="dot alert"></span>beyond alert</li>
              <li><span class="dot action"></span>beyond action</li>`
            : nothing
        }
        ${this.trigger ? html`<li><span class="ring"></span>trigger</li>` : nothing}
        ${this.run ? html`<li><span class="band"></span>run of the signal</li>` : nothing}
      </ul>`
  }
}

function lineSeries(l: LimitLine, c: ChartColours): uPlot.Series {
  switch (l.key) {
    case 'action-high':
    case 'action-low':
      return line(l.label, c.action, 2.5, [4, 4])
    case 'alert-high':
    case 'alert-low':
      return line(l.label, c.alert, 2, [4, 4])
    case 'cl':
      return line(l.label, c.dim, 1.5, [])
    case 'ucl':
    case 'lcl':
      return line(l.label, c.text, 1.5, [10, 5])
  }
}

customElements.define('lw-readings-chart', LwReadingsChart)

declare global {
  interface HTMLElementTagNameMap {
    'lw-readings-chart': LwReadingsChart
  }
}
