import { css, html, LitElement, nothing } from 'lit'
import type { CapaStatus, CapaView } from '../../gateway/contract.ts'
import { api } from './api.ts'
import { ClockController } from './clock-controller.ts'
import {
  CAPA_STATUS_WORDS,
  CAPA_STATUSES,
  capaListQuery,
  dueText,
  ncIdOf,
  orderCapas,
} from './data/quality.ts'
import { routeHash } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { qualityStyles } from './quality-styles.ts'
import { pageStyles } from './styles.ts'

/**
 * The CAPAs (corrective and preventive actions), by status: title, kind, status, owner, due date
 * (overdue in the warning colour, in words too) and the NCs each answers. A CAPA is opened from
 * its NC's page (Link CAPA → New CAPA…).
 */
export class LwCapaList extends LitElement {
  static override properties = {
    live: { attribute: false },
    role: { type: String },
    status: { state: true },
    capas: { state: true },
  }

  declare live: LiveController | undefined
  declare role: string | null
  declare status: CapaStatus | ''
  declare capas: readonly CapaView[] | null

  private readonly loader: LoadController

  constructor() {
    super()
    this.role = null
    this.status = ''
    this.capas = null
    this.loader = new LoadController(this, async (signal) => {
      this.capas = orderCapas(await api.capas(capaListQuery(this.status), signal))
    })
    new ClockController(this, 30_000)
    new LiveSubscription(this, () => this.live, { resync: () => void this.loader.load() })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.loader.load()
  }

  private setStatus(status: CapaStatus | ''): void {
    this.status = status
    this.capas = null
    void this.loader.load()
  }

  static override styles = [
    pageStyles,
    qualityStyles,
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
      td a.id {
        color: var(--lw-text);
        font-weight: 700;
      }
      .title {
        overflow-wrap: anywhere;
      }
    `,
  ]

  protected override render() {
    const problem = this.loader.problem
    const now = this.live?.now() ?? Date.now()
    return html`<div class="head">
        <h1>CAPA</h1>
        <label class="field">Status
          <select name="status" @change=${(e: Event) => this.setStatus((e.target as HTMLSelectElement).value as CapaStatus | '')}>
            <option value="" ?selected=${this.status === ''}>All</option>
            ${CAPA_STATUSES.map((s) => html`<option value=${s} ?selected=${this.status === s}>${CAPA_STATUS_WORDS[s]}</option>`)}
          </select>
        </label>
      </div>
      <p class="muted">A CAPA is opened from the page of the nonconformance it answers: Link CAPA → New CAPA….</p>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${
        this.capas === null
          ? problem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : this.capas.length === 0
            ? html`<p class="muted" data-part="empty">No CAPAs${this.status ? ` ${this.status}` : ''}.</p>`
            : html`<table>
              <thead><tr><th>CAPA</th><th>Title</th><th>Kind</th><th>Status</th><th>Owner</th><th>Due</th><th>NCs</th></tr></thead>
              <tbody>
                ${this.capas.map(
                  (
                    c,
                  ) => html`<tr data-capa=${c.id} data-status=${c.status} data-overdue=${String(c.overdue)}>
                    <td><a class="id" href=${routeHash({ page: 'capa', id: c.id })}>${c.id}</a></td>
                    <td class="title">${c.title}</td>
                    <td>${c.kind}</td>
                    <td data-part="status">${CAPA_STATUS_WORDS[c.status]}</td>
                    <td>${c.owner}</td>
                    <td class=${c.overdue ? 'overdue' : ''} data-part="due">${dueText(c.dueAt, c.overdue, now)}</td>
                    <td>${c.ncs.map((nc) => ncLink(nc))}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
      }`
  }
}

/** A link to an NC named "NC-000042" (its text when it is not one). */
export function ncLink(nc: string) {
  const id = ncIdOf(nc)
  return id === null
    ? html`<span>${nc}</span> `
    : html`<a data-nc=${nc} href=${routeHash({ page: 'nc', id })}>${nc}</a> `
}

customElements.define('lw-capa-list', LwCapaList)

declare global {
  interface HTMLElementTagNameMap {
    'lw-capa-list': LwCapaList
  }
}
