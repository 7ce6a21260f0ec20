import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CharacteristicView } from '../../gateway/contract.ts'
import { formatAge, formatValue } from './data/format.ts'
import { routeHash } from './data/route.ts'
import { describeRule, statusLabel } from './data/status.ts'

/**
 * One characteristic on the wall display: name, latest value with its unit, age of the reading,
 * open nonconformances, and its state in words. Neutral grey while normal; filled with its hue
 * only when abnormal (action, alert, out of control). The whole tile links to its chart page.
 *
 * Reflects `data-status` and `data-id` for styling hooks and tests.
 */
export class LwTile extends LitElement {
  static override properties = {
    characteristic: { attribute: false },
    now: { type: Number },
    stale: { type: Boolean, reflect: true },
  }

  declare characteristic: CharacteristicView | undefined
  /** Current time (gateway clock), for the age of the reading. */
  declare now: number
  /** Latest run rule reported for this characteristic, named when it is out of control. */
  /** The connection is down: what is shown may be out of date. */
  declare stale: boolean

  constructor() {
    super()
    this.now = Date.now()
    this.stale = false
  }

  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    a {
      display: flex;
      flex-direction: column;
      gap: 0.3em;
      height: 100%;
      box-sizing: border-box;
      padding: 0.75em 0.95em 0.7em;
      border-radius: 0.45em;
      background: var(--lw-surface);
      /* Lines in em: as thick for the type on a 4K wall as on a 1080p one. */
      border: 0.125em solid transparent;
      color: var(--lw-text);
      text-decoration: none;
    }
    a:hover {
      border-color: var(--lw-text-faint);
    }
    a:focus-visible {
      outline: 3px solid var(--lw-link);
      outline-offset: 2px;
    }
    .top {
      display: flex;
      align-items: flex-start;
      gap: 0.5em;
    }
    .name {
      flex: 1;
      font-size: 1.3em;
      font-weight: 600;
      line-height: 1.2;
      overflow-wrap: anywhere;
      min-height: 2.4em;
      display: -webkit-box;
      -webkit-line-clamp: 2;
      -webkit-box-orient: vertical;
      overflow: hidden;
    }
    .nc {
      flex: none;
      font-size: 1.05em;
      font-weight: 700;
      padding: 0.08em 0.45em;
      border-radius: 0.3em;
      border: 0.125em solid currentColor;
      white-space: nowrap;
    }
    .state {
      font-size: 1.2em;
      font-weight: 800;
      letter-spacing: 0.03em;
      line-height: 1.1;
      min-height: 1.1em;
      /* A long state (a rule or CUSUM signal) wraps after "OUT OF CONTROL ·" rather than being cut. */
      display: -webkit-box;
      -webkit-line-clamp: 2;
      -webkit-box-orient: vertical;
      overflow: hidden;
    }
    .state .part {
      white-space: nowrap;
    }
    .value {
      margin-top: auto;
      display: flex;
      align-items: baseline;
      gap: 0.25em;
      white-space: nowrap;
      overflow: hidden;
      font-variant-numeric: tabular-nums;
      line-height: 1;
    }
    .num {
      font-size: 3.6em;
      font-weight: 650;
      letter-spacing: -0.01em;
    }
    .num.long {
      font-size: 2.8em;
    }
    .unit {
      font-size: 1.6em;
      color: var(--lw-text-dim);
    }
    .foot {
      display: flex;
      justify-content: space-between;
      gap: 0.6em;
      font-size: 1.05em;
      color: var(--lw-text-dim);
    }
    .age {
      font-variant-numeric: tabular-nums;
      white-space: nowrap;
    }

    /* Abnormal states: the hue fills the tile; the words say the same for those who cannot see it. */
    a.action {
      background: var(--lw-action);
      color: var(--lw-action-ink);
    }
    a.alert {
      background: var(--lw-alert);
      color: var(--lw-alert-ink);
    }
    a.spc {
      background: var(--lw-spc);
      color: var(--lw-spc-ink);
    }
    a.action .unit,
    a.action .foot,
    a.alert .unit,
    a.alert .foot,
    a.spc .unit,
    a.spc .foot {
      color: inherit;
      opacity: 0.85;
    }
    a.baseline {
      border: 0.125em dashed var(--lw-border);
    }
    a.baseline .state {
      color: var(--lw-text-dim);
      font-weight: 700;
    }
    a.no-data {
      background: var(--lw-surface-dim);
      color: var(--lw-text-faint);
    }
    a.no-data .unit,
    a.no-data .foot {
      color: var(--lw-text-faint);
    }
    :host([stale]) a {
      opacity: 0.55;
    }
  `

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('characteristic') && this.characteristic) {
      this.dataset.id = this.characteristic.id
      this.dataset.status = this.characteristic.state.status
    }
  }

  protected override render() {
    const c = this.characteristic
    if (!c) return nothing
    const label = statusLabel(c)
    const value = formatValue(c.state.last?.value, c.decimals)
    const age = c.state.last ? formatAge(c.state.last.ts, this.now) : null
    return html`<a class=${label.status} href=${routeHash({ page: 'characteristic', id: c.id })} title=${c.path}>
      <div class="top">
        <span class="name">${c.name}</span>
        ${
          c.state.openNcs > 0
            ? html`<span class="nc" title="Open nonconformances">${c.state.openNcs} NC</span>`
            : nothing
        }
      </div>
      <div class="state" data-part="state" title=${label.status === 'spc' ? c.state.rules.map(describeRule).join('\n') : nothing}>${
        label.status === 'normal'
          ? nothing
          : label.text
              .split(' · ')
              .map((part, k) => html`${k > 0 ? ' · ' : ''}<span class="part">${part}</span>`)
      }</div>
      <div class="value">
        <span class="num ${value.length > 8 ? 'long' : ''}">${value}</span>
        ${c.unit && c.state.last ? html`<span class="unit">${c.unit}</span>` : nothing}
      </div>
      <div class="foot">
        <span class="age" data-part="age">${age === null ? 'no reading yet' : age === 'now' ? 'just now' : `${age} ago`}</span>
      </div>
    </a>`
  }
}

customElements.define('lw-tile', LwTile)

declare global {
  interface HTMLElementTagNameMap {
    'lw-tile': LwTile
  }
}
