import { css, html, LitElement, nothing } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import type { CharacteristicView } from '../../gateway/contract.ts'
import type { DeviationEntry } from './data/deviations.ts'
import { formatTime, formatValue } from './data/format.ts'
import { routeHash } from './data/route.ts'
import { causeValueText, causeWords, statusOfCause } from './data/status.ts'
import { pageStyles } from './styles.ts'

/**
 * The latest deviations (limit excursions and run-rule onsets), newest first: the gateway's recent
 * ones (read at start, so a reload shows the same) and the live ones.
 */
export class LwDeviationStrip extends LitElement {
  static override properties = {
    deviations: { attribute: false },
    characteristics: { attribute: false },
  }

  declare deviations: readonly DeviationEntry[]
  /** Names, units and decimals by id. */
  declare characteristics: ReadonlyMap<string, CharacteristicView>

  constructor() {
    super()
    this.deviations = []
    this.characteristics = new Map()
  }

  static override styles = [
    pageStyles,
    css`
      h2 {
        margin: 0 0 0.5em;
        font-size: 1.05em;
        text-transform: uppercase;
        letter-spacing: 0.06em;
      }
      ol {
        list-style: none;
        margin: 0;
        padding: 0;
        display: flex;
        flex-direction: column;
        gap: 0.45em;
      }
      li {
        display: grid;
        grid-template-columns: 1fr auto;
        gap: 0.15em 0.6em;
        padding: 0.55em 0.7em;
        background: var(--lw-surface);
        border-radius: 0.35em;
        border-left: 0.35em solid var(--lw-border);
      }
      li.action {
        border-left-color: var(--lw-action);
      }
      li.alert {
        border-left-color: var(--lw-alert);
      }
      li.spc {
        border-left-color: var(--lw-spc);
      }
      .chip {
        justify-self: start;
        font-size: 0.9em;
      }
      time {
        color: var(--lw-text-dim);
        font-variant-numeric: tabular-nums;
        text-align: right;
      }
      a {
        color: var(--lw-text);
        text-decoration: none;
        font-weight: 600;
        overflow-wrap: anywhere;
        grid-column: 1 / -1;
        font-size: 1.1em;
      }
      a:hover {
        text-decoration: underline;
      }
      .where {
        font-weight: 400;
        font-size: 0.85em;
        color: var(--lw-text-dim);
      }
      .what {
        grid-column: 1 / -1;
        color: var(--lw-text-dim);
        font-variant-numeric: tabular-nums;
      }
      .what b {
        color: var(--lw-text);
        font-size: 1.1em;
      }
      .empty {
        color: var(--lw-text-faint);
      }
    `,
  ]

  protected override render() {
    return html`<h2>Latest deviations</h2>
      ${
        this.deviations.length === 0
          ? html`<p class="empty">None recently.</p>`
          : html`<ol>
            ${repeat(
              this.deviations,
              (d) => d.key,
              (d) => this.entry(d),
            )}
          </ol>`
      }`
  }

  private entry(d: DeviationEntry) {
    const c = this.characteristics.get(d.characteristic)
    const decimals = c?.decimals ?? 2
    const unit = c?.unit ?? ''
    return html`<li class=${statusOfCause(d.cause)} data-characteristic=${d.characteristic} data-cause=${d.cause}>
      <span class="chip ${statusOfCause(d.cause)}">${causeWords(d.cause)}</span>
      <time datetime=${new Date(d.ts).toISOString()}>${formatTime(d.ts)}</time>
      <a href=${routeHash({ page: 'characteristic', id: d.characteristic })}
        >${c?.name ?? d.characteristic}${
          c
            ? html` <span class="where">${c.hierarchy.line ?? c.hierarchy.area ?? c.hierarchy.site}</span>`
            : nothing
        }</a
      >
      <span class="what"
        ><b>${causeValueText(d.cause, d.value, decimals, unit, d.pane)}</b>${
          d.limit !== null ? html` · limit ${formatValue(d.limit, decimals)}` : nothing
        }${
          d.count > 1
            ? html` · ${d.count} readings${d.lastValue !== null ? html`, last ${formatValue(d.lastValue, decimals)}` : nothing}`
            : nothing
        }</span
      >
    </li>`
  }
}

customElements.define('lw-deviation-strip', LwDeviationStrip)

declare global {
  interface HTMLElementTagNameMap {
    'lw-deviation-strip': LwDeviationStrip
  }
}
