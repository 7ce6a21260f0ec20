import { css, html, LitElement, nothing } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import type { NonconformanceSummary } from '../../gateway/contract.ts'
import { api } from './api.ts'
import { formatDateTime } from './data/format.ts'
import { applyNcEvents, type NcFilter, orderNcs } from './data/nc.ts'
import { routeHash } from './data/route.ts'
import { causeWords, statusOfCause } from './data/status.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/**
 * The nonconformances: open ones, or all. Fetched from REST, then kept current by `nc` events.
 * Each row links to `#/nc/<id>`, so the browser's history works.
 */
export class LwNcList extends LitElement {
  static override properties = {
    live: { attribute: false },
    filter: { type: String },
    ncs: { state: true },
    fresh: { state: true },
  }

  declare live: LiveController | undefined
  declare filter: NcFilter
  declare ncs: NonconformanceSummary[] | null
  /** Ids changed by live events in the last few seconds (highlighted). */
  declare fresh: ReadonlySet<number>

  private readonly loader: LoadController

  constructor() {
    super()
    this.filter = 'open'
    this.ncs = null
    this.fresh = new Set()
    this.loader = new LoadController(this, async (signal) => {
      const list = await api.nonconformances(this.filter === 'open' ? 'open' : undefined, signal)
      this.ncs = orderNcs(list)
    })
    new LiveSubscription(this, () => this.live, {
      nc: (events) => {
        if (!this.ncs) return
        this.ncs = applyNcEvents(this.ncs, events, this.filter)
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

  private setFilter(filter: NcFilter): void {
    if (filter === this.filter) return
    this.filter = filter
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
        gap: 0.4em;
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
    `,
  ]

  protected override render() {
    const problem = this.loader.problem
    return html`
      <div class="head">
        <h1>Nonconformances</h1>
        <div class="filters" role="group" aria-label="Show">
          <button aria-pressed=${String(this.filter === 'open')} @click=${() => this.setFilter('open')}>Open</button>
          <button aria-pressed=${String(this.filter === 'all')} @click=${() => this.setFilter('all')}>All</button>
        </div>
      </div>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${
        this.ncs === null
          ? problem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : this.ncs.length === 0
            ? html`<p class="muted">No ${this.filter === 'open' ? 'open ' : ''}nonconformances.</p>`
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

  private row(nc: NonconformanceSummary) {
    const href = routeHash({ page: 'nc', id: nc.id })
    return html`<tr
      class=${this.fresh.has(nc.id) ? 'fresh' : ''}
      data-nc=${nc.id}
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
      <td>${nc.status}</td>
    </tr>`
  }
}

customElements.define('lw-nc-list', LwNcList)

declare global {
  interface HTMLElementTagNameMap {
    'lw-nc-list': LwNcList
  }
}
