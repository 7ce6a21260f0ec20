import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import type { NcEvent } from '../../gateway/contract.ts'
import { api } from './api.ts'
import { ClockController } from './clock-controller.ts'
import { ChangesDuringRead } from './data/changes-during-read.ts'
import { formatDateTime } from './data/format.ts'
import {
  applyNcListEvents,
  dueText,
  NC_LIST_FILTER,
  NC_STATUS_FILTERS,
  type NcListFilter,
  type NcListItem,
  type NcStatusFilter,
  ncListQuery,
  orderNcList,
  SEVERITY_WORDS,
} from './data/quality.ts'
import { routeHash } from './data/route.ts'
import { causeWords, statusOfCause } from './data/status.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/**
 * The nonconformances, filtered by workflow status (not closed by default), owner and overdue
 * (the gateway filters; data/quality.ts builds the query), and by characteristic when the route
 * names one (`#/nc?characteristic=<id>`: a characteristic's "N open NC" link). Fetched from REST, then kept current
 * by `nc` events. Each row links to `#/nc/<id>`, so the browser's history works; an overdue NC's
 * due date is in the warning colour and says "overdue".
 */
export class LwNcList extends LitElement {
  static override properties = {
    live: { attribute: false },
    characteristic: { attribute: false },
    filter: { state: true },
    ncs: { state: true },
    fresh: { state: true },
  }

  declare live: LiveController | undefined
  /** This characteristic's NCs only (from the route); '' for every characteristic. */
  declare characteristic: string
  declare filter: NcListFilter
  declare ncs: NcListItem[] | null
  /** Ids changed by live events in the last few seconds (highlighted). */
  declare fresh: ReadonlySet<number>

  private readonly loader: LoadController
  /** Live NC events that come while the list is read: merged into the answer. */
  private readonly duringRead = new ChangesDuringRead<NcEvent>()
  /** The characteristic of the latest load ('' every one), null before the first. */
  private loadedFor: string | null = null

  constructor() {
    super()
    this.characteristic = ''
    this.filter = NC_LIST_FILTER
    this.ncs = null
    this.fresh = new Set()
    this.loader = new LoadController(this, async (signal) => {
      this.loadedFor = this.characteristic
      const filter = this.active()
      const merge = (l: NcListItem[], c: readonly NcEvent[]) => applyNcListEvents(l, c, filter)
      this.duringRead.begin()
      let list: NcListItem[]
      try {
        list = await api.ncList(ncListQuery(filter), signal)
      } catch (err) {
        // No answer: what came meanwhile goes into the list shown, if there is one.
        const shown = this.ncs
        const kept = this.duringRead.settle(shown ?? [], merge)
        if (shown) this.ncs = kept
        throw err
      }
      this.ncs = this.duringRead.settle(orderNcList(list), merge)
    })
    new ClockController(this, 30_000)
    new LiveSubscription(this, () => this.live, {
      nc: (events) => {
        if (this.duringRead.take(events) && this.ncs)
          this.ncs = applyNcListEvents(this.ncs, events, this.active())
        const ids = events.map((e) => e.nc.id)
        this.fresh = new Set([...this.fresh, ...ids])
        setTimeout(() => {
          const next = new Set(this.fresh)
          for (const id of ids) next.delete(id)
          this.fresh = next
        }, 4000)
      },
      resync: () => void this.loader.load(),
    })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.loader.load()
  }

  /** The filter of the form with the route's characteristic. */
  private active(): NcListFilter {
    return { ...this.filter, characteristic: this.characteristic }
  }

  /** Another characteristic in the route (the same list page): its NCs. */
  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('characteristic') && this.loadedFor !== null) {
      if (this.loadedFor === this.characteristic) return
      this.ncs = null
      void this.loader.load()
    }
  }

  private setFilter(patch: Partial<NcListFilter>): void {
    const next = { ...this.filter, ...patch }
    if (JSON.stringify(next) === JSON.stringify(this.filter)) return
    this.filter = next
    this.ncs = null
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
        align-items: center;
        justify-content: space-between;
        flex-wrap: wrap;
        gap: 0.6em;
        margin-bottom: 0.8em;
      }
      .filters {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        gap: 0.5em 1em;
      }
      .filters label {
        display: flex;
        flex-direction: column;
        gap: 0.2em;
        font-size: 0.9em;
        color: var(--lw-text-dim);
        font-weight: 600;
      }
      .filters label.check {
        flex-direction: row;
        align-items: center;
        gap: 0.4em;
      }
      select,
      input {
        font: inherit;
        padding: 0.3em 0.5em;
        border-radius: 0.3em;
        border: 1px solid var(--lw-border);
        background: var(--lw-bg);
        color: var(--lw-text);
      }
      .overdue {
        color: var(--lw-alert);
        font-weight: 700;
      }
      tbody tr {
        cursor: pointer;
      }
      tbody tr:hover {
        background: var(--lw-surface);
      }
      tr.fresh {
        background: var(--lw-surface-2);
      }
      td a {
        color: var(--lw-text);
        font-weight: 700;
      }
      .title {
        overflow-wrap: anywhere;
      }
      .sub {
        color: var(--lw-text-dim);
        font-size: 0.9em;
      }
      .scope {
        margin: 0 0 0.8em;
        color: var(--lw-text-dim);
      }
      .scope strong {
        color: var(--lw-text);
      }
    `,
  ]

  protected override render() {
    const problem = this.loader.problem
    return html`
      <div class="head">
        <h1>Nonconformances</h1>
        ${this.filters()}
      </div>
      ${this.characteristicScope()}
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${
        this.ncs === null
          ? problem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : this.ncs.length === 0
            ? html`<p class="muted" data-part="empty">No nonconformances match.</p>`
            : html`<table>
              <thead>
                <tr>
                  <th>Number</th>
                  <th>Characteristic</th>
                  <th>Title</th>
                  <th>Opened</th>
                  <th>Last occurrence</th>
                  <th class="num">Occurrences</th>
                  <th>Status</th>
                  <th>Severity</th>
                  <th>Owner</th>
                  <th>Due</th>
                </tr>
              </thead>
              <tbody>
                ${repeat(
                  this.ncs,
                  (nc) => nc.id,
                  (nc) => this.row(nc),
                )}
              </tbody>
            </table>`
      }
    `
  }

  private filters() {
    const f = this.filter
    return html`<div class="filters" role="group" aria-label="Filter the nonconformances">
      <label>Status
        <select name="status" @change=${(e: Event) => this.setFilter({ status: (e.target as HTMLSelectElement).value as NcStatusFilter })}>
          ${NC_STATUS_FILTERS.map((s) => html`<option value=${s.value} ?selected=${f.status === s.value}>${s.label}</option>`)}
        </select>
      </label>
      <label>Owner
        <input
          name="owner"
          placeholder="any"
          size="14"
          autocomplete="off"
          .value=${f.owner}
          @change=${(e: Event) => this.setFilter({ owner: (e.target as HTMLInputElement).value.trim() })}
        />
      </label>
      <label class="check">
        <input
          type="checkbox"
          name="overdue"
          .checked=${f.overdue}
          @change=${(e: Event) => this.setFilter({ overdue: (e.target as HTMLInputElement).checked })}
        />
        Overdue only
      </label>
    </div>`
  }

  private characteristicScope() {
    if (!this.characteristic) return nothing
    const name =
      this.ncs?.find((nc) => nc.characteristic === this.characteristic)?.characteristicName ??
      this.characteristic
    return html`<p class="scope" data-part="characteristic-filter">
      Characteristic <strong>${name}</strong> only ·
      <a href=${routeHash({ page: 'ncs' })}>every characteristic</a>
    </p>`
  }

  private row(nc: NcListItem) {
    const href = routeHash({ page: 'nc', id: nc.id })
    const w = nc.workflow
    const now = this.live?.now() ?? Date.now()
    return html`<tr
      class=${this.fresh.has(nc.id) ? 'fresh' : ''}
      data-nc=${nc.id}
      data-status=${w.status}
      data-overdue=${String(w.overdue)}
      @click=${(e: Event) => {
        if (!(e.target as Element).closest('a')) location.hash = href
      }}
    >
      <td><a href=${href}>${nc.number}</a></td>
      <td>${nc.characteristicName}<div class="sub">${nc.path}</div></td>
      <td class="title">
        ${nc.causes.map((cause) => html`<span class="chip ${statusOfCause(cause)}">${causeWords(cause)}</span> `)}
        <div>${nc.title}</div>
      </td>
      <td>${formatDateTime(nc.openedAt)}</td>
      <td>${formatDateTime(nc.lastAt)}</td>
      <td class="num">${nc.occurrences}</td>
      <td data-part="status">${w.status}</td>
      <td data-part="severity">${w.severity ? SEVERITY_WORDS[w.severity] : '—'}</td>
      <td data-part="owner">${w.owner ?? '—'}</td>
      <td data-part="due" class=${w.overdue ? 'overdue' : ''}>${dueText(w.dueAt, w.overdue, now)}</td>
    </tr>`
  }
}

customElements.define('lw-nc-list', LwNcList)

declare global {
  interface HTMLElementTagNameMap {
    'lw-nc-list': LwNcList
  }
}
