import { css, html, LitElement, nothing } from 'lit'
import type { CharacteristicView } from '../../gateway/contract.ts'
import {
  capabilityIndices,
  capabilityPending,
  formatPpm,
  verdictDisplay,
} from './data/capability.ts'
import { formatQuantity, formatValue } from './data/format.ts'
import { pageStyles } from './styles.ts'
import './lw-histogram.ts'

/**
 * Process capability of a characteristic against its specification limits: Cp and Cpk with their
 * 95% intervals, the other indices, σ within and overall, expected and observed parts per
 * million, and a histogram of the recent readings with the limits and normal curves. The verdict
 * is the gateway's (capable, not capable, not in statistical control, too few readings) with the
 * gateway's threshold; when the chart is not in control, or too few readings are in, the indices
 * stay shown but greyed, with the reason given in words (and to assistive technology). Until the
 * gateway reports capability it says when it will.
 */
export class LwCapabilityPanel extends LitElement {
  static override properties = {
    characteristic: { attribute: false },
    readings: { attribute: false },
  }

  declare characteristic: CharacteristicView | null
  /** Recent readings for the histogram, oldest first. */
  declare readings: readonly { ts: number; value: number }[]

  constructor() {
    super()
    this.characteristic = null
    this.readings = []
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        display: block;
      }
      .cols {
        display: grid;
        grid-template-columns: minmax(0, 5fr) minmax(0, 6fr);
        gap: 1.2em 2em;
        align-items: start;
      }
      @media (max-width: 1100px) {
        .cols {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      .headline {
        display: grid;
        grid-template-columns: repeat(2, minmax(0, 1fr));
        gap: 0.7em;
      }
      .big {
        background: var(--lw-surface);
        border-radius: 0.45em;
        padding: 0.6em 0.9em;
      }
      .big .k {
        font-size: 1.1em;
        font-weight: 700;
        color: var(--lw-text-dim);
      }
      .big .v {
        font-size: 3em;
        font-weight: 650;
        line-height: 1.1;
        font-variant-numeric: tabular-nums;
      }
      .big .ci {
        color: var(--lw-text-dim);
        font-variant-numeric: tabular-nums;
      }
      .verdict {
        margin: 0.6em 0 0;
        font-size: 1.15em;
        font-weight: 600;
      }
      .verdict.not-capable {
        color: var(--lw-alert);
      }
      /* Not in control: the words of the out-of-control state, with its hue as a bar beside them. */
      .verdict.caveat {
        border-left: 0.3em solid var(--lw-spc);
        padding-left: 0.5em;
      }
      .verdict[data-verdict='too-few-readings'] {
        border-left-color: var(--lw-text-faint);
        color: var(--lw-text-dim);
      }
      .hint,
      .criteria {
        margin: 0.25em 0 0;
        color: var(--lw-text-dim);
      }
      .criteria {
        font-size: 0.9em;
        margin-bottom: 0.7em;
      }
      /* Greyed indices: still legible, visibly not the thing to read (faint figures, dashed boxes). */
      .greyed .v,
      .greyed .ci,
      .greyed td.num {
        color: var(--lw-text-faint);
      }
      .greyed .big,
      .greyed .cell {
        background: transparent;
        border: 1px dashed var(--lw-border);
      }
      .small {
        display: grid;
        grid-template-columns: repeat(4, minmax(0, 1fr));
        gap: 0.5em;
        margin: 0.8em 0;
      }
      /* Within (Cpl, Cpu, Cpm) on one row, overall (Pp, Ppk, Ppl, Ppu) on the next. */
      .cell[data-index='pp'] {
        grid-column: 1;
      }
      th[scope='row'] {
        text-transform: none;
        letter-spacing: 0;
        font-size: 1em;
        font-weight: 600;
      }
      .cell {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.35em;
        padding: 0.35em 0.6em;
      }
      .cell .k {
        color: var(--lw-text-dim);
        font-weight: 600;
      }
      .cell .v {
        font-size: 1.5em;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
      }
      .cell .why {
        color: var(--lw-text-faint);
        font-size: 0.85em;
      }
      table {
        margin-top: 0.4em;
      }
      td.num {
        font-size: 1.1em;
      }
      lw-histogram {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.5em 0.8em;
      }
    `,
  ]

  protected override render() {
    const v = this.characteristic
    if (!v?.specLimits) return nothing
    const spec = v.specLimits
    const cap = v.capability
    const pending = capabilityPending(v)
    const values = this.readings.map((r) => r.value)
    const histogram = html`<lw-histogram
      .values=${values}
      .model=${cap ? { mean: cap.mean, sigmaWithin: cap.sigmaWithin, sigmaOverall: cap.sigmaOverall } : null}
      .spec=${{ lsl: cap?.lsl ?? spec.lsl, usl: cap?.usl ?? spec.usl, target: cap?.target ?? spec.target }}
      .decimals=${v.decimals}
      .unit=${v.unit}
    ></lw-histogram>`
    const specWords = [
      spec.lsl !== null ? `LSL ${formatValue(spec.lsl, v.decimals)}` : null,
      (cap?.target ?? spec.target) !== null
        ? `target ${formatValue(cap?.target ?? spec.target, v.decimals)}`
        : null,
      spec.usl !== null ? `USL ${formatValue(spec.usl, v.decimals)}` : null,
    ]
      .filter((w) => w !== null)
      .join(' · ')
    if (!cap) {
      return html`<h2>Process capability</h2>
        <p class="muted" data-part="spec">${specWords}${v.unit ? ` (${v.unit})` : ''}</p>
        <p data-part="pending">${pending}</p>
        ${
          v.capabilityVerdict
            ? html`<p class="verdict caveat" data-part="verdict" data-verdict=${v.capabilityVerdict.verdict}>${v.capabilityVerdict.words}</p>`
            : nothing
        }
        ${values.length > 0 ? histogram : nothing}`
    }
    const cells = capabilityIndices(cap)
    const headline = cells.filter((c) => c.key === 'cp' || c.key === 'cpk')
    const others = cells.filter((c) => c.key !== 'cp' && c.key !== 'cpk')
    const verdict = verdictDisplay(v.capabilityVerdict, cap.n)
    const greyed = verdict?.greyed ?? false
    /** The reason the indices are greyed: shown, given as their description, and as a tooltip. */
    const described = greyed ? 'verdict-hint' : nothing
    const hint = greyed && verdict?.hint ? verdict.hint : nothing
    return html`<h2>Process capability</h2>
      <p class="muted" data-part="spec">${specWords}${v.unit ? ` (${v.unit})` : ''} · ${cap.n} readings against the frozen limits</p>
      <div class="cols">
        <div>
          ${
            verdict
              ? html`<p class="verdict ${verdict.tone}" data-part="verdict" data-verdict=${verdict.verdict}>${verdict.words}</p>
                ${verdict.hint ? html`<p class="hint" id="verdict-hint" data-part="verdict-hint">${verdict.hint}</p>` : nothing}
                <p class="criteria" data-part="criteria">${verdict.criteria}</p>`
              : nothing
          }
          <div
            class="indices ${greyed ? 'greyed' : ''}"
            role="group"
            aria-label="Capability indices"
            aria-describedby=${described}
            title=${hint}
            data-part="indices"
            data-greyed=${greyed ? 'true' : 'false'}
          >
            <div class="headline">
              ${headline.map(
                (c) => html`<div class="big" data-index=${c.key}>
                  <div class="k">${c.label}</div>
                  <div class="v">${c.value}</div>
                  <div class="ci">${c.interval ? `95%: ${c.interval}` : (c.missing ?? '')}</div>
                </div>`,
              )}
            </div>
            <div class="small">
              ${others.map(
                (c) => html`<div class="cell" data-index=${c.key}>
                  <div class="k">${c.label}</div>
                  <div class="v">${c.value}</div>
                  ${c.missing ? html`<div class="why">${c.missing}</div>` : nothing}
                </div>`,
              )}
            </div>
          </div>
          <table>
            <tbody>
              <tr><th scope="row">Mean</th><td class="num" data-part="mean">${formatQuantity(cap.mean, v.decimals + 1, v.unit)}</td></tr>
              <tr><th scope="row">σ within (chart)</th><td class="num" data-part="sigma-within">${formatQuantity(cap.sigmaWithin, v.decimals + 1, v.unit)}</td></tr>
              <tr><th scope="row">σ overall</th><td class="num" data-part="sigma-overall">${formatQuantity(cap.sigmaOverall, v.decimals + 1, v.unit)}</td></tr>
            </tbody>
            <tbody class=${greyed ? 'greyed' : ''}>
              <tr><th scope="row">Expected PPM, overall</th><td class="num" data-part="ppm-expected">${formatPpm(cap.expectedPpm)}</td></tr>
              <tr><th scope="row">Expected PPM, within</th><td class="num" data-part="ppm-within">${formatPpm(cap.expectedPpmWithin)}</td></tr>
            </tbody>
            <tbody>
              <tr><th scope="row">Observed PPM</th><td class="num" data-part="ppm-observed">${formatPpm(cap.observedPpm)}</td></tr>
            </tbody>
          </table>
        </div>
        ${histogram}
      </div>`
  }
}

customElements.define('lw-capability-panel', LwCapabilityPanel)

declare global {
  interface HTMLElementTagNameMap {
    'lw-capability-panel': LwCapabilityPanel
  }
}
