import { css, html, LitElement, type PropertyValues, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css?inline'
import type { Status } from '../../gateway/contract.ts'
import { buildReadingsSeries, type LimitLine, type ReadingsSeries } from './data/series.ts'
import { FrameDrawController } from './frame-draw-controller.ts'
import { axes, type ChartColours, chartColours, fontPx, line, markers } from './uplot-theme.ts'

/**
 * A small chart of readings with horizontal limit lines and the occurrences marked: the readings
 * around a nonconformance's trigger. Static (no live data); drawn once per animation frame.
 */
export class LwReadingsChart extends LitElement {
  static override properties = {
    readings: { attribute: false },
    trigger: { attribute: false },
    occurrences: { attribute: false },
    lines: { attribute: false },
    decimals: { type: Number },
    tone: { type: String },
  }

  declare readings: readonly { ts: number; value: number }[]
  declare trigger: { ts: number; value: number }
  declare occurrences: readonly { ts: number; value: number }[]
  declare lines: readonly LimitLine[]
  declare decimals: number
  /** Status hue of the occurrence markers (the NC's cause). */
  declare tone: Status

  private plot: uPlot | null = null
  private series: ReadingsSeries | null = null
  private readonly frames: FrameDrawController
  private lineKeys = ''

  constructor() {
    super()
    this.readings = []
    this.trigger = { ts: 0, value: 0 }
    this.occurrences = []
    this.lines = []
    this.decimals = 2
    this.tone = 'action'
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
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
      }
      #plot {
        width: 100%;
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
    if (!host || host.clientWidth < 50) return
    const s = buildReadingsSeries(this.readings, this.trigger, this.occurrences)
    this.series = s
    const lineKeys = `${this.tone}:${this.lines.map((l) => l.key).join(',')}`
    const data: uPlot.AlignedData = [
      s.x,
      s.value,
      s.occurrence,
      ...this.lines.map((l) => s.x.map(() => l.value)),
    ]
    if (this.plot && lineKeys === this.lineKeys) {
      this.plot.setData(data)
      return
    }
    this.plot?.destroy()
    this.lineKeys = lineKeys
    const c = chartColours(this)
    const px = fontPx(this)
    this.plot = new uPlot(
      {
        width: host.clientWidth,
        height: Math.max(200, Math.round(window.innerHeight * 0.3)),
        padding: [px, px * 2.5, 0, 0],
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: axes(c, px, () => this.series ?? { x: [], ts: [] }, this.decimals, true),
        series: [
          {},
          {
            label: 'Reading',
            stroke: c.dim,
            width: 1.5,
            points: { show: true, size: 5, fill: c.text },
          },
          markers(
            'Occurrence',
            13,
            c.text,
            this.tone === 'alert' ? c.alert : this.tone === 'spc' ? c.spc : c.action,
          ),
          ...this.lines.map((l) => lineSeries(l, c)),
        ],
      },
      data,
      host,
    )
    this.dataset.points = String(s.x.length)
  }

  protected override render() {
    return html`<div id="plot"></div>`
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
