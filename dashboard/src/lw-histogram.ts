import { css, html, LitElement, nothing, type PropertyValues, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css?inline'
import { formatValue, valueSteps } from './data/format.ts'
import { binReadings, type Histogram, histogramExtent, normalCurve } from './data/histogram.ts'
import { scaleStrokes, strokeScale } from './data/screen.ts'
import { FrameDrawController } from './frame-draw-controller.ts'
import { type ChartColours, chartColours, fontPx } from './uplot-theme.ts'

/** The normal model a histogram is read against: the mean and the two σ of capability. */
export interface NormalModel {
  mean: number
  sigmaWithin: number | null
  sigmaOverall: number | null
}

export interface SpecMarks {
  lsl: number | null
  usl: number | null
  target: number | null
}

/**
 * A histogram of readings with the specification limits and target as vertical lines and the
 * normal curves of the within and overall σ over it; bins outside the specification are filled
 * in the action hue. Drawn with uPlot (axes, curves), the bars and lines in its draw hooks; at
 * most once per animation frame.
 */
export class LwHistogram extends LitElement {
  static override properties = {
    values: { attribute: false },
    model: { attribute: false },
    spec: { attribute: false },
    decimals: { type: Number },
    unit: { type: String },
  }

  declare values: readonly number[]
  declare model: NormalModel | null
  declare spec: SpecMarks
  declare decimals: number
  declare unit: string

  private plot: uPlot | null = null
  private histogram: Histogram | null = null
  private readonly frames: FrameDrawController

  constructor() {
    super()
    this.values = []
    this.model = null
    this.spec = { lsl: null, usl: null, target: null }
    this.decimals = 2
    this.unit = ''
    this.frames = new FrameDrawController(this, () => this.draw())
  }

  static override styles = [
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
      }
      #plot {
        width: 100%;
      }
      ul {
        display: flex;
        flex-wrap: wrap;
        gap: 0.3em 1.2em;
        margin: 0.4em 0 0;
        padding: 0;
        list-style: none;
        color: var(--lw-text-dim);
      }
      li {
        display: flex;
        align-items: center;
        gap: 0.4em;
      }
      .swatch {
        width: 1.8em;
        height: 0;
      }
      .within {
        border-top: 3px solid var(--lw-text);
      }
      .overall {
        border-top: 3px dashed var(--lw-link);
      }
      .spec {
        border-top: 3px dashed var(--lw-text);
      }
      .bar {
        width: 0.9em;
        height: 0.9em;
        background: rgba(164, 170, 178, 0.45);
      }
      .bar.out {
        background: var(--lw-action);
      }
      .empty {
        color: var(--lw-text-faint);
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

  private draw(): void {
    const host = this.renderRoot.querySelector<HTMLElement>('#plot')
    if (!host) return
    const width = host.clientWidth
    if (width < 50) return
    const h = binReadings(this.values, { decimals: this.decimals })
    this.histogram = h
    if (!h) {
      this.plot?.destroy()
      this.plot = null
      return
    }
    const m = this.model
    const [from, to] = histogramExtent(
      h,
      [this.spec.lsl, this.spec.usl, this.spec.target],
      m ? { mean: m.mean, sigmas: [m.sigmaWithin, m.sigmaOverall] } : undefined,
    )
    const scale = { n: h.n, width: h.width }
    const within = m ? normalCurve(m.mean, m.sigmaWithin, scale, from, to, 160) : null
    const overall = m ? normalCurve(m.mean, m.sigmaOverall, scale, from, to, 160) : null
    const x = within?.x.length ? within.x : overall?.x.length ? overall.x : [from, to]
    const column = (c: { y: number[] } | null) =>
      c && c.y.length === x.length ? c.y : x.map(() => null)
    const data: uPlot.AlignedData = [x, column(within), column(overall)]
    const top = Math.max(1, ...h.counts, ...(within?.y ?? []), ...(overall?.y ?? [])) * 1.15
    const height = Math.max(220, Math.round(window.innerHeight * 0.3))
    // Redrawn rarely (new readings every few seconds at most): a new plot fits scales and size.
    this.plot?.destroy()
    this.plot = new uPlot(this.options(width, height, from, to, top), data, host)
    this.dataset.readings = String(h.n)
    this.dataset.bins = String(h.counts.length)
    this.dataset.curves = String([within, overall].filter((c) => c && c.y.length > 0).length)
  }

  private options(
    width: number,
    height: number,
    from: number,
    to: number,
    top: number,
  ): uPlot.Options {
    const c = chartColours(this)
    const px = fontPx(this)
    const font = `${Math.round(px * 0.85)}px system-ui, "Liberation Sans", "DejaVu Sans", sans-serif`
    const common = {
      stroke: c.dim,
      font,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid, width: 1, size: 5 },
    }
    const options: uPlot.Options = {
      width,
      height,
      padding: [px * 1.8, px * 1.5, 0, 0],
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: () => [from, to] },
        y: { range: () => [0, top] },
      },
      axes: [
        {
          ...common,
          size: px * 2.2,
          space: px * 5,
          incrs: valueSteps(this.decimals),
          values: (_u, splits) => splits.map((v) => formatValue(v, this.decimals)),
        },
        {
          ...common,
          size: px * 3.5,
          space: px * 2.5,
          incrs: valueSteps(0),
          values: (_u, splits) => splits.map((v) => String(v)),
        },
      ],
      series: [
        {},
        { label: 'Normal, σ within', stroke: c.text, width: 2.5, points: { show: false } },
        {
          label: 'Normal, σ overall',
          stroke: c.link,
          width: 2.5,
          dash: [8, 5],
          points: { show: false },
        },
      ],
      hooks: {
        drawAxes: [(u) => this.drawBars(u, c)],
        draw: [(u) => this.drawSpec(u, c, px)],
      },
    }
    return scaleStrokes(options, strokeScale(px))
  }

  /** The bins as bars, behind the curves; those outside the specification in the action hue. */
  private drawBars(u: uPlot, c: ChartColours): void {
    const h = this.histogram
    if (!h) return
    const ctx = u.ctx
    const dpr = devicePixelRatio
    const { lsl, usl } = this.spec
    ctx.save()
    const y0 = u.valToPos(0, 'y', true)
    h.counts.forEach((count, k) => {
      if (count === 0) return
      const a = h.edges[k] as number
      const b = h.edges[k + 1] as number
      const mid = (a + b) / 2
      const out = (lsl !== null && mid < lsl) || (usl !== null && mid > usl)
      const x0 = u.valToPos(a, 'x', true) + dpr
      const x1 = u.valToPos(b, 'x', true) - dpr
      const y = u.valToPos(count, 'y', true)
      ctx.fillStyle = out ? c.action : 'rgba(164,170,178,0.45)'
      ctx.fillRect(x0, y, Math.max(dpr, x1 - x0), y0 - y)
    })
    ctx.restore()
  }

  /** LSL, USL and the target as labelled vertical lines. */
  private drawSpec(u: uPlot, c: ChartColours, px: number): void {
    const ctx = u.ctx
    const dpr = devicePixelRatio
    const { top, height, left, width } = u.bbox
    ctx.save()
    ctx.font = `700 ${Math.round(px * 0.9 * dpr)}px system-ui, "Liberation Sans", sans-serif`
    ctx.textAlign = 'center'
    ctx.textBaseline = 'bottom'
    const mark = (value: number | null, name: string, dash: number[], colour: string) => {
      if (value === null) return
      const x = u.valToPos(value, 'x', true)
      if (x < left - 1 || x > left + width + 1) return
      ctx.strokeStyle = colour
      // Device pixels, and thicker with the type on a larger screen (data/screen.ts).
      const line = dpr * strokeScale(px)
      ctx.lineWidth = 3 * line
      ctx.setLineDash(dash.map((d) => d * line))
      ctx.beginPath()
      ctx.moveTo(x, top)
      ctx.lineTo(x, top + height)
      ctx.stroke()
      ctx.fillStyle = colour
      ctx.fillText(`${name} ${formatValue(value, this.decimals)}`, x, top - 4 * dpr)
    }
    mark(this.spec.lsl, 'LSL', [8, 5], c.text)
    mark(this.spec.usl, 'USL', [8, 5], c.text)
    mark(this.spec.target, 'T', [2, 4], c.dim)
    ctx.restore()
  }

  protected override render() {
    const n = this.values.filter((v) => Number.isFinite(v)).length
    return html`<div id="plot"></div>
      ${
        n === 0
          ? html`<p class="empty">No readings yet.</p>`
          : html`<ul aria-label="Histogram legend">
            <li><span class="bar"></span>last ${n} readings</li>
            ${this.spec.lsl !== null || this.spec.usl !== null ? html`<li><span class="bar out"></span>outside the specification</li><li><span class="swatch spec"></span>LSL, USL</li>` : nothing}
            ${this.model ? html`<li><span class="swatch within"></span>normal, σ within</li><li><span class="swatch overall"></span>normal, σ overall</li>` : nothing}
          </ul>`
      }`
  }
}

customElements.define('lw-histogram', LwHistogram)

declare global {
  interface HTMLElementTagNameMap {
    'lw-histogram': LwHistogram
  }
}
