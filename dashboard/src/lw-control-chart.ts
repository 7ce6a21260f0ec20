import { css, html, LitElement, nothing, type PropertyValues, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css?inline'
import type { AlarmLimits, ChartPointView, ControlLimitsView } from '../../gateway/contract.ts'
import { formatQuantity, formatTime, formatValue } from './data/format.ts'
import { buildControlSeries, type ControlSeries, limitLines } from './data/series.ts'
import { describeRule } from './data/status.ts'
import { axes, type ChartColours, chartColours, fontPx, line, markers } from './uplot-theme.ts'

let chartCount = 0

/**
 * A live I-MR control chart drawn with uPlot: the individuals pane with CL, UCL, LCL and the alert
 * and action limits, baseline points hollow on a shaded band, rule violations marked and named;
 * the moving-range pane below, cursor-synchronised. Redraws at most once per animation frame
 * however often its inputs change.
 */
export class LwControlChart extends LitElement {
  static override properties = {
    points: { attribute: false },
    alarm: { attribute: false },
    control: { attribute: false },
    decimals: { type: Number },
    unit: { type: String },
    hover: { state: true },
  }

  declare points: readonly ChartPointView[]
  declare alarm: AlarmLimits
  declare control: ControlLimitsView | null
  declare decimals: number
  declare unit: string
  /** Point under the cursor (series position), or null for the latest. */
  declare hover: number | null

  private iPlot: uPlot | null = null
  private mrPlot: uPlot | null = null
  private series: ControlSeries | null = null
  private frame = 0
  private resize: ResizeObserver | null = null
  private readonly syncKey = `lw-chart-${++chartCount}`
  /** Times drawn, for tests and diagnostics. */
  draws = 0

  constructor() {
    super()
    this.points = []
    this.alarm = {}
    this.control = null
    this.decimals = 2
    this.unit = ''
    this.hover = null
  }

  static override styles = [
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
        position: relative;
      }
      .readout {
        display: flex;
        flex-wrap: wrap;
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
      .pane-label {
        font-size: 0.85em;
        color: var(--lw-text-faint);
        text-transform: uppercase;
        letter-spacing: 0.06em;
        margin: 0.4em 0 0.1em;
      }
      .plot {
        width: 100%;
        min-height: 4em;
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
      .swatch {
        width: 1.8em;
        height: 0;
        border-top: 2px dashed var(--lw-text-dim);
      }
      .swatch.cl {
        border-top-style: solid;
      }
      .swatch.action-high,
      .swatch.action-low {
        border-top: 3px dashed var(--lw-action);
      }
      .swatch.alert-high,
      .swatch.alert-low {
        border-top: 3px dashed var(--lw-alert);
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
      .none {
        color: var(--lw-text-faint);
      }
    `,
  ]

  override connectedCallback(): void {
    super.connectedCallback()
    this.resize = new ResizeObserver(() => this.schedule(true))
    this.resize.observe(this)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.resize?.disconnect()
    cancelAnimationFrame(this.frame)
    this.frame = 0
    this.iPlot?.destroy()
    this.mrPlot?.destroy()
    this.iPlot = null
    this.mrPlot = null
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('decimals') || changed.has('unit')) this.destroyPlots()
    if (
      changed.has('points') ||
      changed.has('alarm') ||
      changed.has('control') ||
      changed.has('decimals')
    ) {
      this.schedule(false)
    }
  }

  private resized = false

  /** Draws on the next animation frame; several calls within one frame draw once. */
  private schedule(resized: boolean): void {
    this.resized ||= resized
    if (this.frame) return
    this.frame = requestAnimationFrame(() => {
      this.frame = 0
      this.draw()
    })
  }

  private destroyPlots(): void {
    this.iPlot?.destroy()
    this.mrPlot?.destroy()
    this.iPlot = null
    this.mrPlot = null
  }

  private draw(): void {
    const iHost = this.renderRoot.querySelector<HTMLElement>('#i')
    const mrHost = this.renderRoot.querySelector<HTMLElement>('#mr')
    if (!iHost || !mrHost) return
    const width = iHost.clientWidth
    if (width < 50) return
    const s = buildControlSeries(this.points, this.alarm, this.control)
    this.series = s
    const iData: uPlot.AlignedData = [
      s.x,
      s.i.value,
      s.i.baseline,
      s.i.monitor,
      s.i.beyondAlert,
      s.i.beyondAction,
      s.i.violation,
      s.i.cl,
      s.i.ucl,
      s.i.lcl,
      s.i.actionHigh,
      s.i.alertHigh,
      s.i.alertLow,
      s.i.actionLow,
    ]
    const mrData: uPlot.AlignedData = [s.x, s.mr.value, s.mr.cl, s.mr.ucl]
    const vh = window.innerHeight
    const iHeight = Math.max(240, Math.round(vh * 0.46))
    const mrHeight = Math.max(130, Math.round(vh * 0.2))
    if (!this.iPlot || !this.mrPlot) {
      this.destroyPlots()
      const colours = chartColours(this)
      const px = fontPx(this)
      this.iPlot = new uPlot(this.iOptions(colours, px, width, iHeight), iData, iHost)
      this.mrPlot = new uPlot(this.mrOptions(colours, px, width, mrHeight), mrData, mrHost)
    } else {
      if (this.resized) {
        this.iPlot.setSize({ width, height: iHeight })
        this.mrPlot.setSize({ width, height: mrHeight })
      }
      this.iPlot.setData(iData)
      this.mrPlot.setData(mrData)
    }
    this.resized = false
    this.draws++
    this.dataset.points = String(s.x.length)
    this.dataset.draws = String(this.draws)
  }

  private cursor(): uPlot.Cursor {
    return {
      sync: { key: this.syncKey },
      drag: { x: false, y: false },
      points: { size: 9 },
    }
  }

  private iOptions(c: ChartColours, px: number, width: number, height: number): uPlot.Options {
    const timeline = () => this.series ?? { x: [], ts: [] }
    return {
      width,
      height,
      // Equal paddings keep the two panes' x positions aligned.
      padding: [px * 1.2, px * 2.5, 0, 0],
      legend: { show: false },
      cursor: this.cursor(),
      scales: { x: { time: false } },
      axes: axes(c, px, timeline, this.decimals, false),
      series: [
        {},
        { label: 'Individual', stroke: c.dim, width: 1.5, points: { show: false } },
        markers('Baseline', 8, c.dim, c.bg),
        markers('Monitor', 5, c.text, c.text, false),
        markers('Beyond an alert limit', 9, c.alert, c.alert),
        markers('Beyond an action limit', 9, c.action, c.action),
        // A ring around the point: its alarm colour, if any, stays visible inside.
        {
          label: 'Violation',
          stroke: c.spc,
          paths: () => null,
          points: { show: true, size: 21, width: 3.5, stroke: c.spc, fill: 'transparent' },
        },
        line('CL', c.dim, 1.5, []),
        line('UCL', c.text, 1.5, [10, 5]),
        line('LCL', c.text, 1.5, [10, 5]),
        line('Action high', c.action, 2.5, [4, 4]),
        line('Alert high', c.alert, 2, [4, 4]),
        line('Alert low', c.alert, 2, [4, 4]),
        line('Action low', c.action, 2.5, [4, 4]),
      ],
      hooks: {
        drawClear: [(u) => this.shadeBaseline(u, c, px)],
        draw: [(u) => this.labelViolations(u, c, px)],
        setCursor: [(u) => this.onCursor(u)],
      },
    }
  }

  private mrOptions(c: ChartColours, px: number, width: number, height: number): uPlot.Options {
    const timeline = () => this.series ?? { x: [], ts: [] }
    return {
      width,
      height,
      padding: [px * 0.6, px * 2.5, 0, 0],
      legend: { show: false },
      cursor: this.cursor(),
      scales: { x: { time: false } },
      axes: axes(c, px, timeline, this.decimals, true),
      series: [
        {},
        { label: 'Moving range', stroke: c.dim, width: 1.5, points: { show: false } },
        line('MR CL', c.dim, 1.5, []),
        line('MR UCL', c.text, 1.5, [10, 5]),
      ],
      hooks: { setCursor: [(u) => this.onCursor(u)] },
    }
  }

  private onCursor(u: uPlot): void {
    const idx = u.cursor.idx
    this.hover = idx === null || idx === undefined ? null : idx
  }

  /** A faint band behind the baseline (Phase I) points, labelled. */
  private shadeBaseline(u: uPlot, c: ChartColours, px: number): void {
    const s = this.series
    if (!s) return
    let first = -1
    let last = -1
    s.i.baseline.forEach((v, k) => {
      if (v !== null) {
        if (first < 0) first = k
        last = k
      }
    })
    if (first < 0) return
    const x0 = u.valToPos((s.x[first] as number) - 0.5, 'x', true)
    const x1 = u.valToPos((s.x[last] as number) + 0.5, 'x', true)
    const { top, height, left, width } = u.bbox
    const a = Math.max(left, x0)
    const b = Math.min(left + width, x1)
    if (b <= a) return
    const ctx = u.ctx
    ctx.save()
    ctx.fillStyle = 'rgba(255,255,255,0.045)'
    ctx.fillRect(a, top, b - a, height)
    ctx.fillStyle = c.faint
    ctx.font = `600 ${Math.round(px * 0.8 * devicePixelRatio)}px system-ui, "Liberation Sans", sans-serif`
    ctx.textBaseline = 'top'
    ctx.fillText('BASELINE', a + 6 * devicePixelRatio, top + 6 * devicePixelRatio)
    ctx.restore()
  }

  /** Names the rules above each violation marker. */
  private labelViolations(u: uPlot, c: ChartColours, px: number): void {
    const s = this.series
    if (!s || s.violations.length === 0) return
    const ctx = u.ctx
    const dpr = devicePixelRatio
    ctx.save()
    ctx.font = `700 ${Math.round(px * 0.85 * dpr)}px system-ui, "Liberation Sans", sans-serif`
    ctx.textAlign = 'center'
    ctx.textBaseline = 'bottom'
    const { left, width, top } = u.bbox
    let lastX = Number.NEGATIVE_INFINITY
    for (const v of s.violations) {
      if (!v.onset) continue
      const x = u.valToPos(s.x[v.at] as number, 'x', true)
      if (x < left || x > left + width) continue
      // Skip labels that would overlap the previous one; every marker is still drawn.
      if (x - lastX < px * 2.5 * dpr) continue
      lastX = x
      const y = Math.max(top + px * dpr, u.valToPos(v.value, 'y', true) - 11 * dpr)
      const text = v.rules.join(' ')
      ctx.lineWidth = 4 * dpr
      ctx.strokeStyle = c.bg
      ctx.strokeText(text, x, y)
      ctx.fillStyle = c.text
      ctx.fillText(text, x, y)
    }
    ctx.restore()
  }

  protected override render() {
    const s = buildReadoutPoint(this.points, this.hover)
    const lines = limitLines(this.alarm, this.control)
    return html`
      <div class="readout" aria-live="off">
        ${
          s
            ? html`<span>#${s.index}</span><span>${formatTime(s.ts)}</span>
                <span>x <b>${formatQuantity(s.panes.i?.statistic, this.decimals, this.unit)}</b></span>
                <span>MR ${formatValue(s.panes.mr?.statistic, this.decimals)}</span>
                <span>${s.phase === 'baseline' ? 'baseline' : 'monitoring'}</span>
                ${s.rules.map((r) => html`<span class="rule" title=${describeRule(r)}>${describeRule(r)}</span>`)}`
            : html`<span class="none">No points yet.</span>`
        }
      </div>
      <div class="pane-label">Individuals</div>
      <div class="plot" id="i"></div>
      <div class="pane-label">Moving range</div>
      <div class="plot" id="mr"></div>
      <ul class="limits" aria-label="Limits">
        ${lines.map(
          (l) => html`<li data-limit=${l.key}>
            <span class="swatch ${l.key}"></span>${l.label} ${formatValue(l.value, this.decimals)}
          </li>`,
        )}
        <li><span class="dot baseline"></span>baseline point</li>
        <li><span class="dot violation"></span>rule violation</li>
        <li><span class="dot alert"></span>beyond alert</li>
        <li><span class="dot action"></span>beyond action</li>
        ${lines.length === 0 ? html`<li class="none">No limits yet.</li>` : nothing}
      </ul>
    `
  }
}

function buildReadoutPoint(
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
