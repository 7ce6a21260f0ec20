import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type {
  ChartPointView,
  ChartType,
  NonconformanceView,
  Subgrouping,
} from '../../gateway/contract.ts'
import { api, isAbort } from './api.ts'
import { estimateWords, paneInfo } from './data/chart-words.ts'
import { decimalsShown, formatDateTime, formatValue } from './data/format.ts'
import {
  isTriggerReading,
  judgesStatistic,
  ncChartPlan,
  ncWindow,
  occurrenceHeading,
  paneValues,
  runSpan,
  runWords,
  triggerLimitWords,
} from './data/nc-chart.ts'
import { NC_STATUS_WORDS, type NcDetail } from './data/quality.ts'
import { routeHash } from './data/route.ts'
import { type LimitLine, limitLines } from './data/series.ts'
import { causeValueText, causeWords, describeRuleOn, statusOfCause } from './data/status.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'
import './lw-nc-workflow.ts'
import './lw-readings-chart.ts'

/** Chart points fetched around a trigger at most (the NC's readings span a few dozen). */
const MAX_NC_POINTS = 2000

/**
 * One nonconformance: what triggered it, the limits in force when it opened, the readings around
 * it (chart and table) and each occurrence. The chart is time-proportional and rings the trigger;
 * a rule that judged another pane than the readings (a moving range, an EWMA's z, a CUSUM sum…)
 * is shown on that pane's statistic, from the chart's points around the trigger, against that
 * pane's limits (data/nc-chart.ts), a CUSUM signal with its run. Its workflow (issue 9:
 * investigation, root cause, disposition, CAPAs, signatures, audit trail) is lw-nc-workflow's,
 * with the actions the signed-in role may do. Refetched when an `nc` event concerns it.
 */
export class LwNcDetail extends LitElement {
  static override properties = {
    ncId: { type: Number, attribute: 'nc-id' },
    live: { attribute: false },
    role: { type: String },
    user: { attribute: false },
    nc: { state: true },
    measure: { state: true },
    panePoints: { state: true },
  }

  declare ncId: number
  declare live: LiveController | undefined
  /** The session's role and signed-in user: what the workflow panel offers. */
  declare role: string | null
  declare user: { name: string; printedName: string } | null
  declare nc: NcDetail | null
  /** Unit, decimals and chart of the characteristic (null until known, or if it left the configuration). */
  declare measure: {
    unit: string
    decimals: number
    type: ChartType
    subgroup: Subgrouping
    primary: string
  } | null
  /** The chart's points around the trigger, when the rule judged a pane's statistic (else null). */
  declare panePoints: readonly ChartPointView[] | null

  private readonly loader: LoadController

  constructor() {
    super()
    this.ncId = 0
    this.role = null
    this.user = null
    this.nc = null
    this.measure = null
    this.panePoints = null
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
      this.panePoints = null
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
    this.panePoints = judgesStatistic(nc.trigger) ? await this.fetchPanePoints(nc, signal) : null
    this.nc = nc
  }

  /** The chart's points over the NC's readings; none when they cannot be had (e.g. the characteristic is gone). */
  private async fetchPanePoints(
    nc: NonconformanceView,
    signal: AbortSignal,
  ): Promise<ChartPointView[]> {
    const { from, to } = ncWindow(nc)
    try {
      return (await api.chartBetween(nc.characteristic, from, to, MAX_NC_POINTS, signal)).points
    } catch (e) {
      if (isAbort(e)) throw e
      return []
    }
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
      .run {
        margin-top: 0.2em;
        font-weight: 600;
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
    const primary = m?.primary ?? 'i'
    const decimals =
      this.measure?.decimals ??
      decimalsShown([nc.trigger.value, ...nc.readings.map((r) => r.value)])
    const unit = this.measure?.unit ?? ''
    const control = nc.limitsInForce.control
    // The chart: the readings against what judges a reading, or the judged pane's statistic.
    const plan = ncChartPlan(nc, m?.type ?? null, decimals)
    const trigger = nc.trigger
    const onPane = plan.source === 'pane' && plan.pane !== null
    const paneSeries = onPane
      ? paneValues(this.panePoints ?? [], plan.pane as string, trigger.rule)
      : []
    const values = onPane ? (paneSeries.length > 0 ? paneSeries : [trigger]) : nc.readings
    const run = onPane ? runSpan(this.panePoints ?? [], trigger) : null
    const runText = runWords(trigger)
    // The table: the lines of the chart's primary pane, and of the judged pane when it is another.
    const prefixed = (pane: string, d: number) =>
      limitLines(pane === primary ? nc.limitsInForce.alarm : {}, control, pane).map((l) => ({
        ...l,
        label: controlLabel(pane, l),
        // CUSUM's lines are in σ units.
        decimals: pane === 'cusum' ? 2 : d,
      }))
    const tableLines = [
      ...prefixed(primary, decimals),
      ...(onPane && plan.pane !== primary ? prefixed(plan.pane as string, plan.decimals) : []),
    ]
    const triggerDecimals = trigger.pane !== null ? plan.decimals : decimals
    const limitWords = triggerLimitWords(trigger, triggerDecimals)
    // Occurrences are recorded as the trigger is: a rule's in the statistic it judged.
    const occurrence = occurrenceHeading(trigger, unit)
    return html`
      <div class="crumbs">${back} · <a href=${routeHash({ page: 'characteristic', id: nc.characteristic })}>${nc.characteristicName}</a> · ${nc.path}</div>
      <h1>${nc.number} · ${nc.title}</h1>
      ${nc.causes.map((cause) => html`<span class="chip ${statusOfCause(cause)}">${causeWords(cause)}</span> `)}
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      <div class="summary">
        <div class="fact"><div class="k">Status</div><div class="v" data-part="status">${NC_STATUS_WORDS[nc.workflow.status]}</div></div>
        <div class="fact"><div class="k">Opened</div><div class="v">${formatDateTime(nc.openedAt)}</div></div>
        <div class="fact"><div class="k">Last occurrence</div><div class="v">${formatDateTime(nc.lastAt)}</div></div>
        <div class="fact"><div class="k">Occurrences</div><div class="v">${nc.occurrences}</div></div>
        <div class="fact">
          <div class="k">Trigger</div>
          <div class="v" data-part="trigger-value">${causeValueText(trigger.rule ?? nc.cause, trigger.value, triggerDecimals, unit, trigger.pane)}${limitWords ? ` ${limitWords}` : nothing}</div>
          ${runText ? html`<div class="run" data-part="run-length">${runText}</div>` : nothing}
          <div class="muted" data-part="trigger-rule">${formatDateTime(trigger.ts)}${trigger.rule ? html` · ${describeRuleOn(trigger.rule, trigger.pane)}` : nothing}</div>
        </div>
      </div>
      <lw-nc-workflow
        .nc=${nc}
        .role=${this.role}
        .user=${this.user}
        .live=${this.live}
        @lw-nc-changed=${(e: CustomEvent<NcDetail>) => {
          if (e.detail.id === this.ncId) this.nc = e.detail
        }}
      ></lw-nc-workflow>
      <div class="cols">
        <div>
          <h2 data-part="chart-heading">${plan.heading}</h2>
          <lw-readings-chart
            .readings=${values}
            .trigger=${trigger}
            .occurrences=${nc.history}
            .lines=${plan.lines}
            .decimals=${plan.decimals}
            .tone=${statusOfCause(nc.cause)}
            .run=${run}
            .label=${plan.heading}
            axis="time"
            data-source=${plan.source}
            data-pane=${plan.pane ?? ''}
          ></lw-readings-chart>
          <h2>Limits in force when it opened</h2>
          ${
            tableLines.length === 0
              ? html`<p class="muted">None.</p>`
              : html`<table>
                <tbody>
                  ${tableLines.map((l) => html`<tr data-limit=${l.key}><th scope="row">${l.label}</th><td class="num">${formatValue(l.value, l.decimals)}</td></tr>`)}
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
              <thead><tr><th>Time</th><th class="num" data-part="history-value">${occurrence.name}${occurrence.unit ? html` <span class="unit">(${occurrence.unit})</span>` : nothing}</th></tr></thead>
              <tbody>
                ${[...nc.history].reverse().map((h) => html`<tr><td>${formatDateTime(h.ts)}</td><td class="num">${formatValue(h.value, triggerDecimals)}</td></tr>`)}
              </tbody>
            </table>
          </div>
          <h2>Readings (${nc.readings.length})</h2>
          <div class="scroll">
            <table>
              <thead><tr><th>Time</th><th class="num">Value${unit ? html` <span class="unit">(${unit})</span>` : nothing}</th></tr></thead>
              <tbody>
                ${nc.readings.map(
                  (r) => html`<tr class=${isTriggerReading(r, trigger) ? 'trigger' : ''}>
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

/** A line's label in the table: the pane's symbol before a control line ("MR UCL"); CUSUM's ±h. */
function controlLabel(pane: string, l: LimitLine): string {
  if (!['ucl', 'cl', 'lcl'].includes(l.key)) return l.label
  if (pane === 'cusum') return l.key === 'ucl' ? '+h' : l.key === 'lcl' ? '−h' : 'Centre'
  return pane === 'i' ? l.label : `${paneInfo(pane).symbol} ${l.label}`
}

customElements.define('lw-nc-detail', LwNcDetail)

declare global {
  interface HTMLElementTagNameMap {
    'lw-nc-detail': LwNcDetail
  }
}
