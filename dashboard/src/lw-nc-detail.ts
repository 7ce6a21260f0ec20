import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { ChartType, NonconformanceView, Subgrouping } from '../../gateway/contract.ts'
import { api, isAbort } from './api.ts'
import { estimateWords, paneInfo } from './data/chart-words.ts'
import { decimalsShown, formatDateTime, formatValue } from './data/format.ts'
import { routeHash } from './data/route.ts'
import { limitLines, readingsLines } from './data/series.ts'
import { causeValueText, causeWords, describeRule, statusOfCause } from './data/status.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'
import './lw-readings-chart.ts'

/**
 * One nonconformance: what triggered it, the limits in force when it opened, the readings around
 * it (chart and table) and each occurrence. Refetched when an `nc` event concerns it.
 */
export class LwNcDetail extends LitElement {
  static override properties = {
    ncId: { type: Number, attribute: 'nc-id' },
    live: { attribute: false },
    nc: { state: true },
    measure: { state: true },
  }

  declare ncId: number
  declare live: LiveController | undefined
  declare nc: NonconformanceView | null
  /** Unit, decimals and chart of the characteristic (null until known, or if it left the configuration). */
  declare measure: {
    unit: string
    decimals: number
    type: ChartType
    subgroup: Subgrouping
    primary: string
  } | null

  private readonly loader: LoadController

  constructor() {
    super()
    this.ncId = 0
    this.nc = null
    this.measure = null
    this.loader = new LoadController(this, (signal) => this.fetch(signal), {
      ready: () => Boolean(this.ncId),
    })
    new LiveSubscription(this, () => this.live, {
      nc: (events) => {
        if (events.some((e) => e.nc.id === this.ncId)) void this.loader.load()
      },
      resync: () => void this.loader.load(),
    })
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('ncId')) {
      this.nc = null
      this.measure = null
      void this.loader.load()
    }
  }

  /** The nonconformance and, once, its characteristic's measure: a characteristic gone is no failure. */
  private async fetch(signal: AbortSignal): Promise<void> {
    const nc = await api.nonconformance(this.ncId, signal)
    if (!this.measure) {
      const c = await api.characteristic(nc.characteristic, signal).catch((e: unknown) => {
        if (isAbort(e)) throw e
        return null
      })
      this.measure = c
        ? {
            unit: c.unit,
            decimals: c.decimals,
            type: c.chart.type,
            subgroup: c.chart.subgroup,
            primary: c.chart.panes[0] ?? 'i',
          }
        : null
    }
    this.nc = nc
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .crumbs {
        color: var(--lw-text-dim);
        margin-bottom: 0.3em;
      }
      .summary {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(14em, 1fr));
        gap: 0.6em;
        margin: 0.8em 0;
      }
      .fact {
        background: var(--lw-surface);
        border-radius: 0.4em;
        padding: 0.55em 0.8em;
      }
      .fact .k {
        color: var(--lw-text-dim);
        font-size: 0.85em;
        text-transform: uppercase;
        letter-spacing: 0.05em;
      }
      .fact .v {
        font-size: 1.35em;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
        overflow-wrap: anywhere;
      }
      .cols {
        display: grid;
        grid-template-columns: minmax(0, 2fr) minmax(0, 1fr);
        gap: 1.4em;
      }
      @media (max-width: 1000px) {
        .cols {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      lw-readings-chart {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.5em;
      }
      th .unit {
        text-transform: none;
      }
      th[scope='row'] {
        text-transform: none;
        letter-spacing: 0;
        font-size: 1em;
      }
      tr.trigger td {
        font-weight: 700;
        background: var(--lw-surface-2);
      }
      .scroll {
        max-height: 28em;
        overflow: auto;
      }
    `,
  ]

  protected override render() {
    const nc = this.nc
    const problem = this.loader.problem
    const back = html`<a href=${routeHash({ page: 'ncs' })}>← Nonconformances</a>`
    if (!nc) {
      return html`<div class="crumbs">${back}</div>
        ${problem ? html`<p class="problem">${problem}</p>` : html`<p class="muted">Loading…</p>`}`
    }
    const m = this.measure
    // Over the readings: what judges a reading. In the table: those and the chart's primary pane.
    const lines = readingsLines(m?.type ?? null, nc.limitsInForce.alarm, nc.limitsInForce.control)
    const primary = m?.primary ?? 'i'
    const symbol = primary === 'i' ? '' : `${paneInfo(primary).symbol} `
    const tableLines = limitLines(nc.limitsInForce.alarm, nc.limitsInForce.control, primary).map(
      (l) => (['ucl', 'cl', 'lcl'].includes(l.key) ? { ...l, label: `${symbol}${l.label}` } : l),
    )
    const decimals =
      this.measure?.decimals ??
      decimalsShown([nc.trigger.value, ...nc.readings.map((r) => r.value)])
    const unit = this.measure?.unit ?? ''
    const control = nc.limitsInForce.control
    return html`
      <div class="crumbs">${back} · <a href=${routeHash({ page: 'characteristic', id: nc.characteristic })}>${nc.characteristicName}</a> · ${nc.path}</div>
      <h1>${nc.number} · ${nc.title}</h1>
      ${nc.causes.map((cause) => html`<span class="chip ${statusOfCause(cause)}">${causeWords(cause)}</span> `)}
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      <div class="summary">
        <div class="fact"><div class="k">Status</div><div class="v">${nc.status}</div></div>
        <div class="fact"><div class="k">Opened</div><div class="v">${formatDateTime(nc.openedAt)}</div></div>
        <div class="fact"><div class="k">Last occurrence</div><div class="v">${formatDateTime(nc.lastAt)}</div></div>
        <div class="fact"><div class="k">Occurrences</div><div class="v">${nc.occurrences}</div></div>
        <div class="fact">
          <div class="k">Trigger</div>
          <div class="v">${causeValueText(nc.trigger.rule ?? nc.cause, nc.trigger.value, decimals, unit)}${
            nc.trigger.limit !== null
              ? html` past ${formatValue(nc.trigger.limit, decimals)}`
              : nothing
          }</div>
          <div class="muted">${formatDateTime(nc.trigger.ts)}${nc.trigger.rule ? html` · ${describeRule(nc.trigger.rule)}` : nothing}</div>
        </div>
      </div>
      <div class="cols">
        <div>
          <h2>Readings around the trigger</h2>
          <lw-readings-chart
            .readings=${nc.readings}
            .trigger=${nc.trigger}
            .occurrences=${nc.history}
            .lines=${lines}
            .decimals=${decimals}
            .tone=${statusOfCause(nc.cause)}
          ></lw-readings-chart>
          <h2>Limits in force when it opened</h2>
          ${
            tableLines.length === 0
              ? html`<p class="muted">None.</p>`
              : html`<table>
                <tbody>
                  ${tableLines.map((l) => html`<tr data-limit=${l.key}><th scope="row">${l.label}</th><td class="num">${formatValue(l.value, decimals)}</td></tr>`)}
                  ${
                    control
                      ? html`<tr><th scope="row">σ</th><td class="num">${formatValue(control.sigma, decimals + 1)}</td></tr>
                        <tr><th scope="row">Basis</th><td class="num">${
                          m
                            ? estimateWords(m.type, m.subgroup, control, decimals)
                            : control.basis.kind === 'given'
                              ? 'given'
                              : `estimated from ${control.basis.count}`
                        }</td></tr>`
                      : nothing
                  }
                </tbody>
              </table>`
          }
        </div>
        <div>
          <h2>History (${nc.history.length})</h2>
          <div class="scroll">
            <table>
              <thead><tr><th>Time</th><th class="num">Value${unit ? html` <span class="unit">(${unit})</span>` : nothing}</th></tr></thead>
              <tbody>
                ${[...nc.history].reverse().map((h) => html`<tr><td>${formatDateTime(h.ts)}</td><td class="num">${formatValue(h.value, decimals)}</td></tr>`)}
              </tbody>
            </table>
          </div>
          <h2>Readings (${nc.readings.length})</h2>
          <div class="scroll">
            <table>
              <thead><tr><th>Time</th><th class="num">Value${unit ? html` <span class="unit">(${unit})</span>` : nothing}</th></tr></thead>
              <tbody>
                ${nc.readings.map(
                  (
                    r,
                  ) => html`<tr class=${r.ts === nc.trigger.ts && r.value === nc.trigger.value ? 'trigger' : ''}>
                    <td>${formatDateTime(r.ts)}</td><td class="num">${formatValue(r.value, decimals)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>
        </div>
      </div>
    `
  }
}

customElements.define('lw-nc-detail', LwNcDetail)

declare global {
  interface HTMLElementTagNameMap {
    'lw-nc-detail': LwNcDetail
  }
}
