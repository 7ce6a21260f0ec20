import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import { styleMap } from 'lit/directives/style-map.js'
import type { CharacteristicView } from '../../gateway/contract.ts'
import { api } from './api.ts'
import { ClockController } from './clock-controller.ts'
import type { DeviationEntry } from './data/deviations.ts'
import {
  type Cluster,
  groupByHierarchy,
  type Panel,
  panelsBySite,
  type SitePanels,
} from './data/hierarchy.ts'
import {
  findArea,
  inArea,
  type KioskArea,
  type KioskSettings,
  kioskAreas,
  largestFitting,
  rotationIndex,
} from './data/kiosk.ts'
import { countStatuses, isAbnormal, LEGEND } from './data/status.ts'
import { applyTiles } from './data/tiles.ts'
import type { ConnectionState, LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'
import './lw-deviation-strip.ts'
import './lw-legend.ts'
import './lw-tile.ts'

/** Kiosk mode scales the overview's type (and with it tiles, lines and gaps) within these. */
const MIN_FIT = 0.25
const MAX_FIT = 2.5

/**
 * The plant overview for a wall display: a tile per characteristic, grouped site → area → line →
 * cell, a legend, and the latest deviations. Fetches `GET /api/characteristics`, then follows
 * `tiles` events; refetches when the connection resynchronises.
 *
 * In kiosk mode (`kiosk` set) it shows the whole plant, one area, or each area in turn, and fits
 * what it shows into its box: the largest type size (everything is sized in em) at which nothing
 * overflows, found again when the box is resized or what is shown changes. It says what it shows
 * and at what scale in `data-area` and `data-fit` (`data-fitted`: the area the scale was found
 * for), and `data-fits="no"` when even the smallest size overflows (show fewer tiles per display:
 * an area, or rotation).
 */
export class LwOverview extends LitElement {
  static override properties = {
    live: { attribute: false },
    connection: { type: String },
    deviations: { attribute: false },
    kiosk: { attribute: false },
    characteristics: { state: true },
  }

  declare live: LiveController | undefined
  declare connection: ConnectionState
  declare deviations: readonly DeviationEntry[]
  declare characteristics: CharacteristicView[] | null
  /** Kiosk mode's settings, or null for the ordinary overview. */
  declare kiosk: KioskSettings | null

  private readonly loader: LoadController
  /** What was last fitted (kiosk mode): the area and the tiles shown. */
  private fitted = ''
  private fitFrame = 0
  private resizeObserver: ResizeObserver | null = null
  /** Kiosk mode: what is shown (set before each render). */
  private shown: ReturnType<LwOverview['shownArea']> = { area: null, position: null, problem: null }

  constructor() {
    super()
    this.connection = 'idle'
    this.deviations = []
    this.characteristics = null
    this.kiosk = null
    this.loader = new LoadController(this, async (signal) => {
      this.characteristics = await api.characteristics(signal)
    })
    new ClockController(this, 1000)
    new LiveSubscription(this, () => this.live, {
      tiles: (updates) => {
        if (!this.characteristics) return
        const { list, unknown } = applyTiles(this.characteristics, updates)
        this.characteristics = list
        if (unknown.length > 0) void this.loader.load()
      },
      resync: () => void this.loader.load(),
    })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.loader.load()
    this.resizeObserver = new ResizeObserver(() => {
      if (this.kiosk) this.scheduleFit()
    })
    this.resizeObserver.observe(this)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.resizeObserver?.disconnect()
    this.resizeObserver = null
    cancelAnimationFrame(this.fitFrame)
  }

  /** Kiosk mode: the area shown now (null: the whole plant), and a problem with the setting. */
  private shownArea(all: readonly CharacteristicView[]): {
    area: KioskArea | null
    position: { index: number; count: number } | null
    problem: string | null
  } {
    const k = this.kiosk
    const areas = kioskAreas(all)
    if (!k || areas.length === 0) return { area: null, position: null, problem: null }
    if (k.area !== null) {
      const area = findArea(areas, k.area)
      return area
        ? { area, position: null, problem: null }
        : {
            area: null,
            position: null,
            problem: `No area is called "${k.area}": the whole plant is shown.`,
          }
    }
    if (k.rotateSeconds !== null && areas.length > 1) {
      const index = rotationIndex(this.live?.now() ?? Date.now(), k.rotateSeconds, areas.length)
      return { area: areas[index] ?? null, position: { index, count: areas.length }, problem: null }
    }
    return { area: null, position: null, problem: null }
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    this.shown = this.shownArea(this.characteristics ?? [])
    if (this.kiosk) this.dataset.area = this.shown.area?.key ?? ''
    if (changed.has('kiosk')) {
      if (this.kiosk) this.dataset.kiosk = ''
      else {
        delete this.dataset.kiosk
        delete this.dataset.fit
        delete this.dataset.fits
        delete this.dataset.area
        delete this.dataset.fitted
        this.style.removeProperty('font-size')
        this.fitted = ''
      }
    }
  }

  protected override updated(): void {
    if (!this.kiosk || !this.characteristics) return
    const key = `${this.dataset.area ?? ''}\u0000${this.characteristics.length}`
    // What is shown changed, or a tile grew (a longer state): fit again (not when even the
    // smallest size did not fit: that stays so until the box or what is shown changes).
    if (key !== this.fitted || (this.dataset.fits === 'yes' && this.overflows())) this.scheduleFit()
  }

  /** Fits on the next frame: the tiles (elements of their own) have rendered by then. */
  private scheduleFit(): void {
    cancelAnimationFrame(this.fitFrame)
    this.fitFrame = requestAnimationFrame(() => this.fit())
  }

  private fit(): void {
    if (!this.kiosk || !this.characteristics) return
    this.fitted = `${this.dataset.area ?? ''}\u0000${this.characteristics.length}`
    const result = largestFitting(
      (scale) => {
        this.style.fontSize = `${scale}em`
        return !this.overflows()
      },
      MIN_FIT,
      MAX_FIT,
    )
    this.style.fontSize = `${result.scale}em`
    this.dataset.fit = result.scale.toFixed(3)
    this.dataset.fits = result.fits ? 'yes' : 'no'
    this.dataset.fitted = this.dataset.area ?? ''
  }

  /**
   * Whether what is shown is larger than its box (reads the layout): the page scrolls, a panel
   * reaches out of the plant's box, or a tile out of its panel's content box (by more than half a
   * pixel).
   */
  private overflows(): boolean {
    const plant = this.renderRoot.querySelector<HTMLElement>('.plant')
    if (!plant) return false
    if (this.scrollHeight > this.clientHeight || this.scrollWidth > this.clientWidth) return true
    // Layout is in 1/64 px, a border's width in whole pixels: half a pixel is no overflow.
    const outside = (r: DOMRect, b: { left: number; top: number; right: number; bottom: number }) =>
      r.left < b.left - 0.5 ||
      r.top < b.top - 0.5 ||
      r.right > b.right + 0.5 ||
      r.bottom > b.bottom + 0.5
    const box = plant.getBoundingClientRect()
    for (const panel of this.renderRoot.querySelectorAll<HTMLElement>('section.panel')) {
      const r = panel.getBoundingClientRect()
      if (outside(r, box)) return true
      const style = getComputedStyle(panel)
      const inner = {
        left: r.left + panel.clientLeft + Number.parseFloat(style.paddingLeft),
        top: r.top + panel.clientTop,
        right: r.right - panel.clientLeft - Number.parseFloat(style.paddingRight),
        bottom: r.bottom - panel.clientTop - Number.parseFloat(style.paddingBottom),
      }
      for (const tile of panel.querySelectorAll('lw-tile'))
        if (outside(tile.getBoundingClientRect(), inner)) return true
    }
    return false
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 0.8em 1.2em 1.5em;
        --tile-w: 18.5em;
        --gap: 0.65em;
      }
      .bar {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        justify-content: space-between;
        gap: 0.5em 2em;
        margin-bottom: 0.8em;
      }
      .counts {
        display: flex;
        gap: 0.45em;
        flex-wrap: wrap;
        font-size: 1.2em;
      }
      .counts .chip.normal {
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
      }
      lw-legend {
        font-size: 0.85em;
      }
      .layout {
        display: grid;
        grid-template-columns: minmax(0, 1fr) 22em;
        gap: 1.2em;
        align-items: start;
      }
      @media (max-width: 900px) {
        .layout {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      lw-deviation-strip {
        position: sticky;
        top: 0.5em;
        /*
         * On a wall the strip never scrolls the page: the oldest entries fall off the bottom.
         * The viewport less the header and the alarm banner (two lines) above the page.
         */
        max-height: calc(100vh - 14em);
        overflow: hidden;
      }
      .stale {
        margin: 0 0 0.8em;
        padding: 0.6em 1em;
        background: var(--lw-alert);
        color: var(--lw-alert-ink);
        font-weight: 700;
        font-size: 1.15em;
        border-radius: 0.35em;
      }
      section.site + section.site {
        margin-top: 1.2em;
      }
      section.site > h2 {
        margin: 0 0 0.45em;
        font-size: 1em;
        text-transform: uppercase;
        letter-spacing: 0.1em;
        color: var(--lw-text-faint);
      }
      .panels {
        display: flex;
        flex-wrap: wrap;
        gap: 0.9em;
        align-items: flex-start;
      }
      section.panel {
        flex: 1 1 var(--basis);
        border: max(1px, 0.0625em) solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.5em 0.7em 0.7em;
        max-width: 100%;
        box-sizing: border-box;
      }
      section.panel > h3 {
        margin: 0 0 0.4em;
        font-size: 1.2em;
        font-weight: 650;
        display: flex;
        align-items: center;
        gap: 0.4em;
      }
      h3 .up {
        color: var(--lw-text-dim);
        font-weight: 500;
      }
      .clusters {
        display: flex;
        flex-wrap: wrap;
        gap: var(--gap);
        align-items: flex-start;
      }
      .cluster {
        flex: 1 1 calc(var(--n) * var(--tile-w) + (var(--n) - 1) * var(--gap));
      }
      .cluster > h4 {
        margin: 0 0 0.3em;
        font-size: 0.9em;
        font-weight: 600;
        color: var(--lw-text-dim);
        text-transform: uppercase;
        letter-spacing: 0.06em;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
        max-width: calc(var(--tile-w) * var(--n) + var(--gap) * (var(--n) - 1));
      }
      .tiles {
        display: grid;
        /* Tiles grow with the space a row leaves, up to half as wide again: no lone giant tile. */
        grid-template-columns: repeat(var(--n), minmax(var(--tile-w), calc(var(--tile-w) * 1.5)));
        gap: var(--gap);
        max-width: 100%;
      }
      .mark {
        display: inline-block;
        width: 0.6em;
        height: 0.6em;
        border-radius: 50%;
      }
      .mark.action {
        background: var(--lw-action);
      }
      .mark.alert {
        background: var(--lw-alert);
      }
      .mark.spc {
        background: var(--lw-spc);
      }
      .empty {
        font-size: 1.3em;
        color: var(--lw-text-dim);
      }

      /* Kiosk mode: the overview is its box (the screen below the banner), never scrolled. */
      :host([data-kiosk]) {
        display: flex;
        flex-direction: column;
        height: 100%;
        box-sizing: border-box;
        overflow: hidden;
        padding: 0.5em 0.9em 0.6em;
      }
      :host([data-kiosk]) .layout {
        flex: 1;
        min-height: 0;
        grid-template-rows: minmax(0, 1fr);
        align-items: stretch;
      }
      :host([data-kiosk]) .plant {
        min-height: 0;
        overflow: hidden;
      }
      :host([data-kiosk]) lw-deviation-strip {
        position: static;
        max-height: none;
        min-height: 0;
      }
      h2.area {
        margin: 0;
        font-size: 1.6em;
        font-weight: 700;
        color: var(--lw-text);
      }
      .position {
        font-size: 0.65em;
        font-weight: 500;
        color: var(--lw-text-dim);
        font-variant-numeric: tabular-nums;
      }
    `,
  ]

  protected override render() {
    const all = this.characteristics
    const { area, position } = this.shown
    const list = all && area ? all.filter((c) => inArea(c, area)) : all
    const problem = this.loader.problem ?? this.shown.problem
    // Lost, not merely not yet made: no alarm while the first connection is being opened.
    const stale = this.connection === 'reconnecting' || this.connection === 'refused'
    const byId = new Map((all ?? []).map((c) => [c.id, c]))
    return html`
      <div class="bar">
        ${
          area
            ? html`<h2 class="area" data-part="area">${area.name}${
                position
                  ? html` <span class="position" title="Areas shown in turn">${position.index + 1} / ${position.count}</span>`
                  : nothing
              }</h2>`
            : nothing
        }
        <div class="counts" aria-label="Characteristics by state">
          ${countStatuses((list ?? []).map((c) => c.state.status)).map(
            ({ status, count }) =>
              html`<span class="chip ${status}">${count} ${LEGEND.find((l) => l.status === status)?.label}</span>`,
          )}
        </div>
        <lw-legend></lw-legend>
      </div>
      ${
        stale && list
          ? html`<div class="stale" role="alert">Live connection lost: values may be out of date. Reconnecting…</div>`
          : nothing
      }
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      <div class="layout">
        <div class="plant">
          ${
            list === null
              ? html`<p class="empty">${problem ? nothing : 'Loading…'}</p>`
              : list.length === 0
                ? html`<p class="empty">No characteristics are configured.</p>`
                : repeat(
                    panelsBySite(groupByHierarchy(list)),
                    (site) => site.key,
                    (site) => this.site(site, stale),
                  )
          }
        </div>
        <lw-deviation-strip .deviations=${this.deviations} .characteristics=${byId}></lw-deviation-strip>
      </div>
    `
  }

  private site(site: SitePanels<CharacteristicView>, stale: boolean) {
    return html`<section class="site" data-level="site" data-key=${site.key}>
      <h2>${site.name}</h2>
      <div class="panels">
        ${repeat(
          site.panels,
          (p) => p.key,
          (p) => this.panel(p, stale),
        )}
      </div>
    </section>`
  }

  private panel(p: Panel<CharacteristicView>, stale: boolean) {
    const up = p.trail.slice(0, -1)
    const own = p.trail[p.trail.length - 1]
    const abnormal = isAbnormal(p.status)
    // The panel's natural width: its tiles side by side (four at most per cell); rows then stretch to fill.
    const cols = p.clusters.reduce((sum, c) => sum + Math.min(c.items.length, 4), 0)
    const basis = `calc(${cols} * var(--tile-w) + ${cols - 1} * var(--gap) + 1.6em)`
    return html`<section class="panel" data-level=${p.level} data-key=${p.key} style=${styleMap({ '--basis': basis })}>
      <h3>
        ${up.map((name) => html`<span class="up">${name} ›</span>`)}<span>${own ?? 'Site'}</span>
        ${abnormal ? html`<span class="mark ${p.status}" title=${p.status} aria-hidden="true"></span>` : nothing}
      </h3>
      <div class="clusters">
        ${repeat(
          p.clusters,
          (c) => c.key,
          (c) => this.cluster(c, stale),
        )}
      </div>
    </section>`
  }

  private cluster(c: Cluster<CharacteristicView>, stale: boolean) {
    const now = this.live?.now() ?? Date.now()
    const n = Math.min(c.items.length, 4)
    return html`<div class="cluster" data-level=${c.name === null ? 'items' : 'cell'} data-key=${c.key} style=${styleMap({ '--n': String(n) })}>
      ${c.name !== null ? html`<h4>${c.name}</h4>` : nothing}
      <div class="tiles">
        ${repeat(
          c.items,
          (item) => item.id,
          (item) =>
            html`<lw-tile
              .characteristic=${item}
              .now=${now}
              ?stale=${stale}
            ></lw-tile>`,
        )}
      </div>
    </div>`
  }
}

customElements.define('lw-overview', LwOverview)

declare global {
  interface HTMLElementTagNameMap {
    'lw-overview': LwOverview
  }
}
