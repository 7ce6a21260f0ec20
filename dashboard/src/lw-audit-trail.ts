import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { AuditEntryView } from '../../gateway/contract.ts'
import { api, failureText, isAbort } from './api.ts'
import { formatDateTime } from './data/format.ts'
import { auditChanges, missingRoleText } from './data/quality.ts'
import { qualityStyles } from './quality-styles.ts'
import { pageStyles } from './styles.ts'

/**
 * A record's audit trail (GET /api/audit?entity&id, quality engineers and above), collapsed until
 * opened: each entry's time, who, what, why and the fields it changed, its signatures' entries
 * among them (in order of the trail). Read when opened, and again
 * when `version` changes while open (the record changed).
 */
export class LwAuditTrail extends LitElement {
  static override properties = {
    entity: { type: String },
    entityId: { type: String, attribute: 'entity-id' },
    role: { type: String },
    version: { type: Number },
    opened: { state: true },
    entries: { state: true },
    problem: { state: true },
  }

  declare entity: 'nc' | 'capa'
  declare entityId: string
  declare role: string | null
  /** Changes when the record does (e.g. its last change's time): an open trail is read again. */
  declare version: number
  declare opened: boolean
  declare entries: readonly AuditEntryView[] | null
  declare problem: string | null

  private abort: AbortController | null = null

  constructor() {
    super()
    this.entity = 'nc'
    this.entityId = ''
    this.role = null
    this.version = 0
    this.opened = false
    this.entries = null
    this.problem = null
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.abort?.abort()
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if ((changed.has('version') || changed.has('entityId')) && this.opened) void this.load()
  }

  private async load(): Promise<void> {
    if (!this.entityId || missingRoleText(this.role, 'quality-engineer') !== null) return
    this.abort?.abort()
    const abort = new AbortController()
    this.abort = abort
    try {
      // Signatures are entries of their own (entity "signature", the record's id).
      const [own, signatures] = await Promise.all([
        api.audit(this.entity, this.entityId, abort.signal),
        api.audit('signature', this.entityId, abort.signal),
      ])
      this.entries = [...own, ...signatures].sort((a, b) => a.seq - b.seq)
      this.problem = null
    } catch (e) {
      if (!isAbort(e)) this.problem = failureText(e)
    }
  }

  private toggle(e: Event): void {
    this.opened = (e.currentTarget as HTMLDetailsElement).open
    if (this.opened) void this.load()
  }

  static override styles = [
    pageStyles,
    qualityStyles,
    css`
      td.why {
        overflow-wrap: anywhere;
      }
    `,
  ]

  protected override render() {
    const missing = missingRoleText(this.role, 'quality-engineer', 'The audit trail')
    return html`<details class="audit" data-part="audit-trail" @toggle=${this.toggle}>
      <summary>Audit trail</summary>
      ${
        missing
          ? html`<p class="note" data-part="audit-missing-role">${missing}</p>`
          : this.problem
            ? html`<p class="problem">${this.problem}</p>`
            : this.entries === null
              ? html`<p class="muted">Loading…</p>`
              : this.entries.length === 0
                ? html`<p class="muted">No entries.</p>`
                : html`<table>
                  <thead><tr><th>#</th><th>Time</th><th>Who</th><th>Action</th><th>Reason</th><th>Changes</th></tr></thead>
                  <tbody>
                    ${this.entries.map(
                      (e) => html`<tr data-audit=${e.seq} data-action=${e.action}>
                        <td class="num">${e.seq}</td>
                        <td>${formatDateTime(e.at)}</td>
                        <td>${e.actor}</td>
                        <td>${e.action}</td>
                        <td class="why">${e.reason}</td>
                        <td>${
                          auditChanges(e).length === 0
                            ? nothing
                            : html`<ul class="changes">${auditChanges(e).map((c) => html`<li>${c}</li>`)}</ul>`
                        }</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>`
      }
    </details>`
  }
}

customElements.define('lw-audit-trail', LwAuditTrail)

declare global {
  interface HTMLElementTagNameMap {
    'lw-audit-trail': LwAuditTrail
  }
}
