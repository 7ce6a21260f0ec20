import { css, html, LitElement, nothing } from 'lit'
import type { CharacteristicView, LimitChangeView, Role } from '../../gateway/contract.ts'
import { ApiFailure, api, failureText } from './api.ts'
import { paneDecimals } from './data/chart-words.ts'
import { formatDateTime } from './data/format.ts'
import {
  ACTION_WORDS,
  type ActionButton,
  baselineActions,
  limitsSummary,
  orderLimitChanges,
  reasonProblem,
} from './data/limit-changes.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/**
 * The record of a chart's limit changes (when, what, why, who, limits before and after) and, for
 * an engineer or admin, the two acts that change them: ending the baseline now, and estimating
 * the limits anew. Each asks for a reason, which goes into the record. Reloads the record when
 * `revision` changes (the page bumps it on live `limits` events and resyncs).
 *
 * @fires lw-limits-changed - after the gateway accepted a change (detail: the LimitChangeView):
 *   the page refetches the chart.
 */
export class LwLimitChanges extends LitElement {
  static override properties = {
    characteristic: { attribute: false },
    role: { type: String },
    revision: { type: Number },
    changes: { state: true },
    asking: { state: true },
    formProblem: { state: true },
    busy: { state: true },
  }

  declare characteristic: CharacteristicView | null
  declare role: Role | null
  declare revision: number
  declare changes: readonly LimitChangeView[] | null
  /** The act whose reason is being asked for. */
  declare asking: ActionButton | null
  declare formProblem: string | null
  declare busy: boolean

  /** Not retried: the page bumps `revision` on its next resync or `limits` event. */
  private readonly loader: LoadController
  private loadedFor = ''

  constructor() {
    super()
    this.characteristic = null
    this.role = null
    this.revision = 0
    this.changes = null
    this.asking = null
    this.formProblem = null
    this.busy = false
    this.loader = new LoadController(
      this,
      async (signal) => {
        const id = this.characteristic?.id ?? ''
        const changes = await api.limitChanges(id, signal)
        if (this.characteristic?.id !== id) return
        this.changes = orderLimitChanges(changes)
      },
      { retryMs: null },
    )
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.loadedFor = ''
  }

  override connectedCallback(): void {
    super.connectedCallback()
    // Back in the page after a disconnect: willUpdate loads the record again.
    this.requestUpdate()
  }

  protected override willUpdate(): void {
    const id = this.characteristic?.id ?? ''
    const key = `${id}#${this.revision}`
    if (!id || key === this.loadedFor) return
    if (!this.loadedFor.startsWith(`${id}#`)) {
      this.changes = null
      this.asking = null
    }
    this.loadedFor = key
    void this.loader.load()
  }

  private ask(action: ActionButton): void {
    this.asking = action
    this.formProblem = null
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLTextAreaElement>('textarea')?.focus(),
    )
  }

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const asking = this.asking
    const id = this.characteristic?.id
    if (!asking || !id || this.busy) return
    const field = this.renderRoot.querySelector<HTMLTextAreaElement>('textarea')
    const reason = (field?.value ?? '').trim()
    const problem = reasonProblem(reason)
    if (problem) {
      this.formProblem = problem
      return
    }
    this.busy = true
    try {
      const change = await api.changeBaseline(id, asking.action, reason)
      this.asking = null
      this.formProblem = null
      this.dispatchEvent(
        new CustomEvent('lw-limits-changed', { detail: change, bubbles: true, composed: true }),
      )
      await this.loader.load()
    } catch (err) {
      this.formProblem =
        err instanceof ApiFailure && err.status === 409
          ? `Not done: ${err.message}`
          : err instanceof ApiFailure && err.status === 403
            ? 'Your role may not change the limits.'
            : failureText(err)
    } finally {
      this.busy = false
    }
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        display: block;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.6em;
        margin: 0.3em 0 0.8em;
      }
      .actions button {
        font-weight: 600;
      }
      form {
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
        border-left: 0.35em solid var(--lw-link);
        border-radius: 0.4em;
        padding: 0.8em 1em;
        margin: 0 0 1em;
        max-width: 50em;
      }
      form p {
        margin: 0 0 0.6em;
      }
      label {
        display: block;
        font-weight: 600;
        margin-bottom: 0.3em;
      }
      textarea {
        font: inherit;
        width: 100%;
        box-sizing: border-box;
        min-height: 4.5em;
        color: var(--lw-text);
        background: var(--lw-bg);
        border: 1px solid var(--lw-border);
        border-radius: 0.3em;
        padding: 0.4em 0.6em;
      }
      textarea:focus-visible {
        outline: 3px solid var(--lw-link);
        outline-offset: 1px;
      }
      .buttons {
        display: flex;
        gap: 0.6em;
        margin-top: 0.6em;
      }
      button[type='submit'] {
        background: var(--lw-text);
        color: var(--lw-bg);
        font-weight: 700;
      }
      button:disabled {
        opacity: 0.6;
        cursor: progress;
      }
      .form-problem {
        margin: 0.6em 0 0;
        padding: 0.5em 0.8em;
        border-left: 0.35em solid var(--lw-alert);
        background: var(--lw-surface-2);
      }
      td.limits {
        font-variant-numeric: tabular-nums;
      }
      .arrow {
        color: var(--lw-text-dim);
        padding: 0 0.3em;
      }
    `,
  ]

  protected override render() {
    const v = this.characteristic
    if (!v) return nothing
    const actions = baselineActions(v, this.role)
    const pane = v.chart.panes[0] ?? 'i'
    const decimals = paneDecimals(v.chart.type, pane, v.decimals)
    return html`<h2>Limit changes</h2>
      ${
        actions.length > 0
          ? html`<div class="actions">
            ${actions.map(
              (a) => html`<button
                type="button"
                data-action=${a.action}
                aria-expanded=${this.asking?.action === a.action ? 'true' : 'false'}
                @click=${() => this.ask(a)}
              >${a.label}</button>`,
            )}
          </div>`
          : nothing
      }
      ${this.asking ? this.form(this.asking) : nothing}
      ${this.loader.problem ? html`<p class="problem">${this.loader.problem}</p>` : nothing}
      ${
        this.changes === null
          ? html`<p class="muted">Loading…</p>`
          : this.changes.length === 0
            ? html`<p class="muted" data-part="no-changes">No limit changes recorded.</p>`
            : html`<table>
              <thead>
                <tr><th>When</th><th>Change</th><th>Reason</th><th>Who</th><th>Limits before → after</th></tr>
              </thead>
              <tbody>
                ${this.changes.map(
                  (c) => html`<tr data-change=${c.id} data-action=${c.action}>
                    <td>${formatDateTime(c.ts)}</td>
                    <td>${ACTION_WORDS[c.action] ?? c.action}</td>
                    <td class="reason">${c.reason}</td>
                    <td>${c.actor ?? (c.action === 'configuration' ? 'configuration' : 'anonymous')}</td>
                    <td class="limits">${limitsSummary(c.before, pane, decimals)}<span class="arrow">→</span>${limitsSummary(c.after, pane, decimals)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
      }`
  }

  private form(a: ActionButton) {
    return html`<form data-action=${a.action} @submit=${(e: SubmitEvent) => void this.submit(e)}>
      <p><b>${a.label}.</b> ${a.explain}</p>
      <label for="reason">Reason (kept in the record, at least 3 characters)</label>
      <textarea id="reason" name="reason" maxlength="2000" ?disabled=${this.busy}></textarea>
      ${this.formProblem ? html`<p class="form-problem" role="alert">${this.formProblem}</p>` : nothing}
      <div class="buttons">
        <button type="submit" ?disabled=${this.busy}>${a.label}</button>
        <button type="button" ?disabled=${this.busy} @click=${() => {
          this.asking = null
          this.formProblem = null
        }}>Cancel</button>
      </div>
    </form>`
  }
}

customElements.define('lw-limit-changes', LwLimitChanges)

declare global {
  interface HTMLElementTagNameMap {
    'lw-limit-changes': LwLimitChanges
  }
}
