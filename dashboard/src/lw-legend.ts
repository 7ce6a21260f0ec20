import { css, html, LitElement } from 'lit'
import { LEGEND } from './data/status.ts'
import { pageStyles } from './styles.ts'

/** The key to the wall display: each state's swatch and its words. */
export class LwLegend extends LitElement {
  static override styles = [
    pageStyles,
    css`
      ul {
        display: flex;
        flex-wrap: wrap;
        gap: 0.35em 1.1em;
        margin: 0;
        padding: 0;
        list-style: none;
        font-size: 0.95em;
      }
      li {
        display: flex;
        align-items: center;
        gap: 0.4em;
        color: var(--lw-text-dim);
      }
      .chip {
        font-size: 0.85em;
      }
      .chip.normal {
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
      }
      .chip.no-data {
        border-style: solid;
        border-color: var(--lw-surface-2);
        background: var(--lw-surface-dim);
        color: var(--lw-text-faint);
      }
    `,
  ]

  protected override render() {
    return html`<ul aria-label="Legend">
      ${LEGEND.map(
        (e) =>
          html`<li><span class="chip ${e.status}">${e.label}</span><span>${e.meaning}</span></li>`,
      )}
    </ul>`
  }
}

customElements.define('lw-legend', LwLegend)

declare global {
  interface HTMLElementTagNameMap {
    'lw-legend': LwLegend
  }
}
