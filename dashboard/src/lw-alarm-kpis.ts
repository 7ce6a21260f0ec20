import { css, html, LitElement, nothing } from 'lit'
import type { AlarmAreaKpis, AlarmKpisView } from '../../gateway/contract.ts'
import { api } from './api.ts'
import {
  type Assessed,
  assessFlood,
  assessMaxRate,
  assessMeanRate,
  assessNone,
  assessPriorities,
  characteristicOfAlarm,
  formatDuration,
  type Judgement,
  KPI_RANGES,
  type KpiRangeKey,
  kpiRange,
  PRIORITIES,
  percentText,
  priorityWords,
} from './data/alarms.ts'
import { formatDateTime } from './data/format.ts'
import { routeHash } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/** The figures are read again this often while the page is open. */
const REFRESH_MS = 60_000

const MARK: Record<Judgement, string> = { good: '✓', fair: '≈', poor: '✗', none: '·' }

/**
 * The alarm system's health (EEMUA 191, ANSI/ISA-18.2 clause 16) per area for the last hour, day
 * or week: alarms, per 10 minutes the mean and the busiest, time in flood, standing and chattering
 * alarms, the top 10 bad actors, the priority distribution and the mean time to acknowledge, each
 * beside its reference value and a word on whether it is over or under it.
 */
export class LwAlarmKpis extends LitElement {
  static override properties = {
    live: { attribute: false },
    range: { state: true },
    area: { state: true },
    kpis: { state: true },
    areas: { state: true },
  }

  declare live: LiveController | undefined
  declare range: KpiRangeKey
  declare area: string
  declare kpis: AlarmKpisView | null
  /** Every area seen unfiltered (the area filter's choices). */
  declare areas: readonly string[]

  private readonly loader: LoadController
  private timer: ReturnType<typeof setInterval> | undefined

  constructor() {
    super()
    this.range = '24h'
    this.area = ''
    this.kpis = null
    this.areas = []
    this.loader = new LoadController(this, async (signal) => {
      const { from, to } = kpiRange(this.range, this.live?.now() ?? Date.now())
      const kpis = await api.alarmKpis(from, to, this.area || undefined, signal)
      this.kpis = kpis
      if (!this.area) this.areas = kpis.areas.map((a) => a.area)
    })
    new LiveSubscription(this, () => this.live, { resync: () => void this.loader.load() })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.loader.load()
    this.timer = setInterval(() => void this.loader.load(), REFRESH_MS)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    clearInterval(this.timer)
  }

  private setRange(range: KpiRangeKey): void {
    this.range = range
    this.kpis = null
    void this.loader.load()
  }

  private setArea(area: string): void {
    this.area = area
    this.kpis = null
    void this.loader.load()
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .head {
        display: flex;
        align-items: flex-end;
        justify-content: space-between;
        flex-wrap: wrap;
        gap: 0.6em 1.5em;
      }
      .controls {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        gap: 0.5em 1em;
      }
      .ranges {
        display: flex;
        gap: 0.3em;
      }
      label.field {
        display: flex;
        flex-direction: column;
        gap: 0.2em;
        font-size: 0.9em;
        color: var(--lw-text-dim);
        font-weight: 600;
      }
      select {
        font: inherit;
        color: var(--lw-text);
        background: var(--lw-bg);
        border: 1px solid var(--lw-border);
        border-radius: 0.3em;
        padding: 0.3em 0.5em;
      }
      .refs {
        color: var(--lw-text-dim);
        margin: 0.4em 0 0.8em;
        max-width: 70em;
      }
      section.area {
        background: var(--lw-surface-dim);
        border: 1px solid var(--lw-border);
        border-radius: 0.5em;
        padding: 0.4em 1em 1em;
        margin-bottom: 1.2em;
      }
      section.area h2 {
        color: var(--lw-text);
        margin-top: 0.4em;
      }
      .cols {
        display: grid;
        grid-template-columns: minmax(0, 3fr) minmax(0, 2fr);
        gap: 0 2em;
      }
      @media (max-width: 1100px) {
        .cols {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      td.v {
        font-weight: 700;
        font-size: 1.1em;
        white-space: nowrap;
      }
      .ref {
        color: var(--lw-text-dim);
      }
      .judge {
        font-weight: 600;
      }
      .judge .mark {
        display: inline-block;
        width: 1.2em;
        font-weight: 800;
      }
      .judge[data-judgement='poor'] {
        color: var(--lw-text);
        border-left: 0.3em solid var(--lw-alert);
        padding-left: 0.4em;
      }
      .ids {
        color: var(--lw-text-dim);
        font-size: 0.9em;
        overflow-wrap: anywhere;
      }
      h3 {
        font-size: 1.05em;
        color: var(--lw-text-dim);
        margin: 1em 0 0.4em;
      }
    `,
  ]

  protected override render() {
    const k = this.kpis
    const problem = this.loader.problem
    return html`
      <div class="head">
        <div>
          <h1>Alarm system health</h1>
          ${k ? html`<div class="muted" data-part="range">${formatDateTime(k.from)} – ${formatDateTime(k.to)}</div>` : nothing}
        </div>
        <div class="controls">
          <div class="ranges" role="group" aria-label="Range">
            ${KPI_RANGES.map(
              (r) =>
                html`<button type="button" data-range=${r.key} aria-pressed=${String(this.range === r.key)} @click=${() => this.setRange(r.key)}>${r.label}</button>`,
            )}
          </div>
          <label class="field">Area
            <select name="area" @change=${(e: Event) => this.setArea((e.target as HTMLSelectElement).value)}>
              <option value="" ?selected=${this.area === ''}>All areas</option>
              ${this.areas.map((a) => html`<option value=${a} ?selected=${this.area === a}>${a}</option>`)}
            </select>
          </label>
          <button type="button" @click=${() => void this.loader.load()}>Refresh</button>
        </div>
      </div>
      <p class="refs" data-part="references">
        References (EEMUA 191; ANSI/ISA-18.2): an average of at most 1 alarm per 10 minutes is very
        likely acceptable, at most 2 manageable; more than 10 in 10 minutes is a flood, and less
        than 1 % of the time should be in flood; no standing or chattering alarms; about 80 % of
        the alarms low priority, 15 % medium and 5 % high (critical with high).
      </p>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${
        k === null
          ? problem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : k.areas.length === 0
            ? html`<p class="muted">No alarms are configured${this.area ? ' in this area' : ''}.</p>`
            : k.areas.map((a) => this.areaSection(a))
      }
    `
  }

  private judge(a: Assessed) {
    return html`<span class="judge" data-judgement=${a.judgement}><span class="mark" aria-hidden="true">${MARK[a.judgement]}</span>${a.words}</span>`
  }

  private areaSection(a: AlarmAreaKpis) {
    const priorities = assessPriorities(a.priorities, a.alarms)
    return html`<section class="area" data-area=${a.area}>
      <h2>${a.area}</h2>
      <div class="cols">
        <div>
          <table>
            <thead><tr><th>Figure</th><th class="num">Value</th><th>Reference</th><th>Against it</th></tr></thead>
            <tbody>
              <tr data-kpi="alarms">
                <td>Alarms (activations)</td>
                <td class="num v">${a.alarms}</td>
                <td class="ref">—</td>
                <td></td>
              </tr>
              <tr data-kpi="mean">
                <td>Alarms per 10 minutes, average</td>
                <td class="num v">${a.per10Minutes.mean.toFixed(2)}</td>
                <td class="ref">≤ 1 very likely acceptable · ≤ 2 manageable</td>
                <td>${this.judge(assessMeanRate(a.per10Minutes.mean, a.alarms))}</td>
              </tr>
              <tr data-kpi="max">
                <td>Alarms per 10 minutes, busiest</td>
                <td class="num v">${a.per10Minutes.max}</td>
                <td class="ref">a flood: more than 10</td>
                <td>${this.judge(assessMaxRate(a.per10Minutes.max))}</td>
              </tr>
              <tr data-kpi="flood">
                <td>Time in flood</td>
                <td class="num v">${a.floodPercent.toFixed(1)} %</td>
                <td class="ref">under 1 %</td>
                <td>${this.judge(assessFlood(a.floodPercent))}</td>
              </tr>
              <tr data-kpi="standing">
                <td>Standing alarms (active over 24 h)${this.ids(a.standing)}</td>
                <td class="num v">${a.standing.length}</td>
                <td class="ref">none</td>
                <td>${this.judge(assessNone(a.standing.length, 'standing'))}</td>
              </tr>
              <tr data-kpi="chattering">
                <td>Chattering alarms (3 or more changes in a minute)${this.ids(a.chattering)}</td>
                <td class="num v">${a.chattering.length}</td>
                <td class="ref">none</td>
                <td>${this.judge(assessNone(a.chattering.length, 'chattering'))}</td>
              </tr>
              <tr data-kpi="mtta">
                <td>Mean time to acknowledge</td>
                <td class="num v">${a.meanTimeToAcknowledgeMs === null ? '—' : formatDuration(a.meanTimeToAcknowledgeMs)}</td>
                <td class="ref">—</td>
                <td class="muted">${a.meanTimeToAcknowledgeMs === null ? 'no acknowledgement in the range' : ''}</td>
              </tr>
            </tbody>
          </table>
          <h3>Priority distribution</h3>
          <table>
            <thead><tr><th>Priority</th><th class="num">Share</th><th class="num">Guide</th><th>Against it</th></tr></thead>
            <tbody>
              ${priorities.map(
                (p) => html`<tr data-priority-share=${p.level}>
                  <td>${p.level === 'high' ? 'HIGH (with CRITICAL)' : priorityWords(p.level)}</td>
                  <td class="num v">${percentText(p.share)}</td>
                  <td class="num ref">${percentText(p.guide)}</td>
                  <td>${this.judge({ judgement: p.judgement, words: p.words })}</td>
                </tr>`,
              )}
            </tbody>
          </table>
          <div class="muted">${PRIORITIES.map((p) => `${priorityWords(p)} ${percentText(a.priorities[p] ?? 0)}`).join(' · ')}</div>
        </div>
        <div>
          <h3>Top 10 bad actors (most activations)</h3>
          ${
            a.badActors.length === 0
              ? html`<p class="muted">None in the range.</p>`
              : html`<table>
                <thead><tr><th>#</th><th>Alarm</th><th class="num">Activations</th><th class="num">Share</th></tr></thead>
                <tbody>
                  ${a.badActors.map(
                    (b, i) => html`<tr data-bad-actor=${b.alarm}>
                      <td>${i + 1}</td>
                      <td><a href=${routeHash({ page: 'characteristic', id: characteristicOfAlarm(b.alarm) })}>${b.alarm}</a></td>
                      <td class="num">${b.activations}</td>
                      <td class="num">${a.alarms > 0 ? percentText(b.activations / a.alarms) : '—'}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>`
          }
        </div>
      </div>
    </section>`
  }

  private ids(ids: readonly string[]) {
    return ids.length === 0 ? nothing : html`<div class="ids">${ids.join(', ')}</div>`
  }
}

customElements.define('lw-alarm-kpis', LwAlarmKpis)

declare global {
  interface HTMLElementTagNameMap {
    'lw-alarm-kpis': LwAlarmKpis
  }
}
