import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CapaView, NcWorkflowStatus } from '../../gateway/contract.ts'
import { ApiFailure, api, failureText } from './api.ts'
import { formatDateTime } from './data/format.ts'
import {
  actionFailureText,
  attachmentProblem,
  attachmentText,
  buildCapaPlan,
  buildNcAction,
  CAPA_KINDS,
  DECISION_WORDS,
  DISPOSITION_DECISIONS,
  downloadName,
  dueText,
  FISHBONE_CATEGORIES,
  FISHBONE_WORDS,
  type FormValues,
  hasRole,
  historyPath,
  linkableCapas,
  MAX_WHYS,
  msToDateTimeInput,
  NC_ACTION_LABEL,
  NC_SEVERITIES,
  NC_STATUS_WORDS,
  type NcActionBody,
  type NcActionName,
  type NcDetail,
  ncActionsFor,
  ncRoleNote,
  ncSigningLost,
  ncSignMeaningsFor,
  SEVERITY_WORDS,
  signerNote,
  versionOf,
} from './data/quality.ts'
import { routeHash, signInRoute } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import type { LwSignatureDialog } from './lw-signature-dialog.ts'
import { commentsPart, downloadLink, signaturesPart } from './quality-parts.ts'
import { qualityStyles } from './quality-styles.ts'
import { pageStyles } from './styles.ts'
import './lw-audit-trail.ts'
import './lw-signature-dialog.ts'

type Asking = NcActionName | 'sign-reviewed' | 'sign-approved'

const DAY_MS = 86_400_000

/** What the notice says once an action is done. */
const DONE: Record<Asking, string> = {
  investigate: 'Investigation started',
  assign: 'Assigned',
  'set-severity': 'Severity set',
  containment: 'Containment action recorded',
  'root-cause': 'Root cause recorded',
  'affected-lots': 'Affected lots recorded',
  disposition: 'Dispositioned',
  'link-capa': 'CAPA linked',
  close: 'Closed and signed',
  reopen: 'Reopened',
  comment: 'Comment added',
  'sign-reviewed': 'Signed: reviewed',
  'sign-approved': 'Signed: approved',
}

/**
 * The workflow of one nonconformance (issue 9): status, severity, owner and due date (overdue in
 * the warning colour, and said in words), containment, the root cause (5 Whys in order, the
 * fishbone's 6M categories), affected lots, the disposition, linked CAPAs, comments, attachments,
 * signatures as their manifests print them, the audit trail and the exports. The signed-in role
 * is offered a form for each action it may do in the NC's state (NC_ACTION_ROLES and
 * NC_ACTION_STATES, the gateway's own tables), each with a required reason; closing and signing
 * open the signature dialog, which asks for the password again.
 *
 * @fires lw-nc-changed - `CustomEvent<NcDetail>`: the NC as the gateway answered an action.
 */
export class LwNcWorkflow extends LitElement {
  static override properties = {
    nc: { attribute: false },
    role: { type: String },
    user: { attribute: false },
    live: { attribute: false },
    asking: { state: true },
    formProblem: { state: true },
    busy: { state: true },
    notice: { state: true },
    capas: { state: true },
    newCapa: { state: true },
  }

  declare nc: NcDetail | null
  declare role: string | null
  declare user: { name: string; printedName: string } | null
  declare live: LiveController | undefined
  declare asking: Asking | null
  declare formProblem: string | null
  declare busy: boolean
  declare notice: { ok: boolean; text: string } | null
  /** The CAPAs to offer for linking (read when the form opens). */
  declare capas: readonly CapaView[] | null
  /** "New CAPA…" is chosen in the link form. */
  declare newCapa: boolean

  constructor() {
    super()
    this.nc = null
    this.role = null
    this.user = null
    this.asking = null
    this.formProblem = null
    this.busy = false
    this.notice = null
    this.capas = null
    this.newCapa = false
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    // A form the NC's new state no longer allows is closed.
    if (changed.has('nc') && this.asking && this.nc) {
      const offered = this.offered(this.nc.workflow.status)
      if (!offered.includes(this.asking)) this.asking = null
    }
  }

  private now(): number {
    return this.live?.now() ?? Date.now()
  }

  private offered(status: NcWorkflowStatus): Asking[] {
    const signer = this.user !== null
    return [
      ...ncActionsFor(status, this.role, signer),
      ...ncSignMeaningsFor(status, this.role, signer).map((m) => `sign-${m}` as const),
    ]
  }

  private ask(asking: Asking): void {
    this.asking = this.asking === asking ? null : asking
    this.formProblem = null
    this.newCapa = false
    if (asking === 'link-capa' && this.asking) void this.loadCapas()
    void this.updateComplete.then(() =>
      this.renderRoot
        .querySelector<HTMLElement>(
          'form.act input:not([type="hidden"]), form.act textarea, form.act select',
        )
        ?.focus(),
    )
  }

  private async loadCapas(): Promise<void> {
    try {
      const capas = await api.capas({})
      this.capas = capas
      // Nothing to link yet: the form opens on "New CAPA…".
      if (this.nc && linkableCapas(capas, this.nc.workflow.capas).length === 0) this.newCapa = true
    } catch (e) {
      this.newCapa = true
      this.capas = []
      this.formProblem = `The CAPAs could not be read: ${failureText(e)}`
    }
  }

  private changed(nc: NcDetail): void {
    this.dispatchEvent(
      new CustomEvent<NcDetail>('lw-nc-changed', { detail: nc, bubbles: true, composed: true }),
    )
  }

  /** Sends an action; the NC the gateway answers replaces the one shown. Throws when refused. */
  private async send(asking: Asking, body: NcActionBody): Promise<void> {
    const nc = this.nc
    if (!nc) return
    const after = await api.ncAction(nc.id, body)
    this.asking = null
    this.formProblem = null
    this.notice = { ok: true, text: `${DONE[asking]}: ${nc.number}` }
    this.changed(after)
  }

  private async submit(e: SubmitEvent, asking: Asking): Promise<void> {
    e.preventDefault()
    const nc = this.nc
    if (!nc || this.busy) return
    const form = e.currentTarget as HTMLFormElement
    const values = Object.fromEntries(
      [...new FormData(form)].map(([k, v]) => [k, typeof v === 'string' ? v : '']),
    ) as FormValues
    if (asking === 'link-capa' && values.capa === 'new') {
      await this.createCapa(values)
      return
    }
    const action = asking.startsWith('sign-') ? 'sign' : (asking as NcActionName)
    const built = buildNcAction(
      action,
      asking.startsWith('sign-') ? { ...values, meaning: asking.slice(5) } : values,
      this.now(),
    )
    if ('problem' in built) {
      this.formProblem = built.problem
      return
    }
    if (action === 'close' || action === 'sign') {
      this.formProblem = null
      const meaning = action === 'close' ? 'closed' : (asking.slice(5) as 'reviewed' | 'approved')
      const dialog = this.renderRoot.querySelector<LwSignatureDialog>('lw-signature-dialog')
      await dialog?.open({
        meaning,
        record: `${nc.number} · ${nc.title}`,
        signer: this.user,
        submit: (password) => this.send(asking, { ...built.body, signature: { password } }),
      })
      return
    }
    this.busy = true
    try {
      await this.send(asking, built.body)
    } catch (err) {
      this.formProblem = failure(err)
    } finally {
      this.busy = false
    }
  }

  /** "New CAPA…": opens a CAPA answering this NC, and links it here if the gateway did not. */
  private async createCapa(values: FormValues): Promise<void> {
    const nc = this.nc
    if (!nc) return
    const built = buildCapaPlan(values, nc.number, this.now())
    if ('problem' in built) {
      this.formProblem = built.problem
      return
    }
    this.busy = true
    try {
      const capa = await api.createCapa(built.body)
      let after = await api.ncDetail(nc.id)
      if (!after.workflow.capas.includes(capa.id)) {
        after = await api.ncAction(nc.id, {
          action: 'link-capa',
          capa: capa.id,
          reason: built.body.reason,
        })
      }
      this.asking = null
      this.formProblem = null
      this.notice = { ok: true, text: `${capa.id} opened and linked to ${nc.number}` }
      this.changed(after)
    } catch (err) {
      this.formProblem = failure(err)
    } finally {
      this.busy = false
    }
  }

  private async upload(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const nc = this.nc
    if (!nc || this.busy) return
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem(
      'file',
    ) as HTMLInputElement
    const file = input.files?.[0] ?? null
    const wrong = attachmentProblem(file)
    if (wrong || !file) {
      this.notice = { ok: false, text: wrong ?? 'Choose a file first.' }
      return
    }
    this.busy = true
    try {
      const attached = await api.uploadAttachment(nc.id, file)
      input.value = ''
      this.notice = { ok: true, text: `Attached: ${attached.name}` }
      this.changed(await api.ncDetail(nc.id))
    } catch (err) {
      this.notice = { ok: false, text: failure(err) }
    } finally {
      this.busy = false
    }
  }

  static override styles = [
    pageStyles,
    qualityStyles,
    css`
      :host {
        display: block;
        margin-top: 1em;
      }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(24em, 1fr));
        gap: 0 1.6em;
      }
      .problem-notice {
        border-left-color: var(--lw-alert);
      }
    `,
  ]

  protected override render() {
    const nc = this.nc
    if (!nc) return nothing
    const w = nc.workflow
    const now = this.now()
    const offered = this.offered(w.status)
    const note = ncRoleNote(w.status, this.role)
    const unsigned = signerNote(ncSigningLost(w.status, this.role, this.user !== null))
    const exports = hasRole(this.role, 'quality-engineer')
    const problem = (text: string) => {
      this.notice = { ok: false, text }
    }
    return html`<section data-part="workflow" data-status=${w.status}>
      <h2>Workflow</h2>
      <div class="facts">
        <div class="fact"><div class="k">Status</div><div class="v" data-part="wf-status">${NC_STATUS_WORDS[w.status]}</div></div>
        <div class="fact"><div class="k">Severity</div><div class="v" data-part="severity">${w.severity ? SEVERITY_WORDS[w.severity] : '—'}</div></div>
        <div class="fact"><div class="k">Owner</div><div class="v" data-part="owner">${w.owner ?? '—'}</div></div>
        <div class="fact ${w.overdue ? 'overdue-fact' : ''}">
          <div class="k">Due</div>
          <div class="v ${w.overdue ? 'overdue' : ''}" data-part="due" data-overdue=${String(w.overdue)}>${dueText(w.dueAt, w.overdue, now)}</div>
        </div>
        ${
          w.closedAt !== null
            ? html`<div class="fact"><div class="k">Closed</div><div class="v" data-part="closed-at">${formatDateTime(w.closedAt)}</div></div>`
            : nothing
        }
        ${
          w.recurrenceOf !== null
            ? html`<div class="fact"><div class="k">Recurrence of</div><div class="v"><a data-part="recurrence-of" href=${routeHash({ page: 'nc', id: w.recurrenceOf })}>NC ${w.recurrenceOf}</a></div></div>`
            : nothing
        }
        ${w.reopened > 0 ? html`<div class="fact"><div class="k">Reopened</div><div class="v">${w.reopened}×</div></div>` : nothing}
      </div>
      ${note ? html`<p class="note" data-part="role-note">${note}</p>` : nothing}
      ${unsigned ? html`<p class="note" data-part="signer-note">${unsigned} <a href=${routeHash(signInRoute(location.hash))}>Sign in</a></p>` : nothing}
      ${
        this.notice
          ? html`<p class="notice ${this.notice.ok ? '' : 'problem-notice'}" role="status" data-part="notice">${this.notice.text}</p>`
          : nothing
      }
      ${
        offered.length > 0
          ? html`<div class="acts" role="group" aria-label="Actions on this NC">
            ${offered.map(
              (a) => html`<button
                type="button"
                data-act=${a}
                aria-expanded=${String(this.asking === a)}
                ?disabled=${this.busy}
                @click=${() => this.ask(a)}
              >${label(a)}</button>`,
            )}
          </div>`
          : nothing
      }
      ${this.asking ? this.form(this.asking, nc) : nothing}
      <div class="grid">
        <div>
          <h3>Containment</h3>
          ${
            w.containment.length === 0
              ? html`<p class="muted">None recorded.</p>`
              : html`<ol data-part="containment">${w.containment.map((c) => html`<li class="pre">${c}</li>`)}</ol>`
          }
          <h3>Root cause</h3>
          ${this.rootCause(nc)}
          <h3>Affected lots</h3>
          ${
            w.affectedLots.length === 0
              ? html`<p class="muted">None recorded.</p>`
              : html`<p data-part="lots">${w.affectedLots.join(', ')}</p>`
          }
          <h3>Disposition</h3>
          ${
            w.disposition
              ? html`<p data-part="disposition" data-decision=${w.disposition.decision}>
                <b>${DECISION_WORDS[w.disposition.decision]}</b>
                <span class="pre"> — ${w.disposition.justification}</span>
              </p>`
              : html`<p class="muted">Not dispositioned.</p>`
          }
          <h3>Linked CAPAs</h3>
          ${
            w.capas.length === 0
              ? html`<p class="muted">None.</p>`
              : html`<ul class="plain" data-part="capas">${w.capas.map(
                  (id) =>
                    html`<li><a data-capa=${id} href=${routeHash({ page: 'capa', id })}>${id}</a></li>`,
                )}</ul>`
          }
        </div>
        <div>
          <h3>Signatures</h3>
          <div data-part="signatures">${signaturesPart(w.signatures)}</div>
          <h3>Comments</h3>
          ${commentsPart(w.comments)}
          <h3>Attachments</h3>
          ${this.attachments(nc)}
          <h3>Export</h3>
          ${
            exports
              ? html`<div class="exports">
                ${downloadLink(historyPath('nc', nc.id, 'csv'), downloadName('nc', nc.id, 'csv'), 'History (CSV)', 'export-csv', problem)}
                ${downloadLink(historyPath('nc', nc.id, 'pdf'), downloadName('nc', nc.id, 'pdf'), 'History (PDF)', 'export-pdf', problem)}
              </div>`
              : html`<p class="note" data-part="export-missing-role">The history exports need the quality-engineer role (or higher).</p>`
          }
        </div>
      </div>
      <lw-audit-trail entity="nc" .entityId=${nc.number} .role=${this.role} .version=${versionOf(nc.workflow)}></lw-audit-trail>
      <lw-signature-dialog></lw-signature-dialog>
    </section>`
  }

  private rootCause(nc: NcDetail) {
    const rc = nc.workflow.rootCause
    if (!rc) return html`<p class="muted">Not recorded.</p>`
    return html`<h4 class="sub">5 Whys</h4>
      ${
        rc.whys.length === 0
          ? html`<p class="muted">None.</p>`
          : html`<ol class="whys" data-part="whys">${rc.whys.map((why) => html`<li>${why}</li>`)}</ol>`
      }
      <h4 class="sub">Fishbone (6M)</h4>
      <div class="fishbone" data-part="fishbone">
        ${FISHBONE_CATEGORIES.map(
          (c) => html`<section data-category=${c}>
            <h4>${FISHBONE_WORDS[c]}</h4>
            ${
              rc.fishbone[c].length === 0
                ? html`<span class="muted">—</span>`
                : html`<ul>${rc.fishbone[c].map((cause) => html`<li>${cause}</li>`)}</ul>`
            }
          </section>`,
        )}
      </div>`
  }

  private attachments(nc: NcDetail) {
    const list = nc.workflow.attachments
    const problem = (text: string) => {
      this.notice = { ok: false, text }
    }
    return html`${
      list.length === 0
        ? html`<p class="muted">None.</p>`
        : html`<ul class="plain" data-part="attachments">
          ${list.map(
            (a) => html`<li data-attachment=${a.name}>
              ${downloadLink(
                `nonconformances/${nc.id}/attachments/${encodeURIComponent(a.name)}`,
                a.name,
                attachmentText(a),
                'attachment-link',
                problem,
              )}
              <div class="sub">${formatDateTime(a.at)} · ${a.by} · SHA-256 ${a.sha256.slice(0, 16)}…</div>
            </li>`,
          )}
        </ul>`
    }
    ${
      hasRole(this.role, 'operator')
        ? html`<form class="upload" data-form="upload" @submit=${(e: SubmitEvent) => void this.upload(e)}>
          <input type="file" name="file" aria-label="File to attach (at most 10 MiB)" ?disabled=${this.busy} />
          <button type="submit" data-part="upload" ?disabled=${this.busy}>Upload</button>
        </form>`
        : nothing
    }`
  }

  private form(asking: Asking, nc: NcDetail) {
    const w = nc.workflow
    const now = this.now()
    const defaultDue = msToDateTimeInput(
      w.dueAt !== null && w.dueAt > now ? w.dueAt : now + 7 * DAY_MS,
    )
    const reason = html`<label class="field wide">Reason (kept in the audit trail, at least 3 characters)
      <input name="reason" maxlength="2000" autocomplete="off" ?disabled=${this.busy} />
    </label>`
    const owner = (value: string) => html`<label class="field">Owner (user name)
        <input name="owner" value=${value} autocomplete="off" ?disabled=${this.busy} />
      </label>
      <label class="field">Due
        <input name="dueAt" type="datetime-local" value=${defaultDue} ?disabled=${this.busy} />
      </label>`
    const severity = (optional: boolean) => html`<label class="field">Severity
      <select name="severity" ?disabled=${this.busy}>
        ${optional ? html`<option value="">— not yet —</option>` : nothing}
        ${NC_SEVERITIES.map((s) => html`<option value=${s} ?selected=${w.severity === s}>${SEVERITY_WORDS[s]}</option>`)}
      </select>
    </label>`
    let fields: unknown
    let submit = 'Save'
    switch (asking) {
      case 'investigate':
        fields = html`${owner(w.owner ?? this.user?.name ?? '')}${severity(true)}${reason}`
        submit = 'Start investigation'
        break
      case 'assign':
        fields = html`${owner(w.owner ?? '')}${reason}`
        submit = 'Assign'
        break
      case 'set-severity':
        fields = html`${severity(false)}${reason}`
        submit = 'Set severity'
        break
      case 'containment':
        fields = html`<label class="field wide">Containment action
            <textarea name="text" maxlength="4000" ?disabled=${this.busy}></textarea>
          </label>${reason}`
        submit = 'Record containment'
        break
      case 'root-cause': {
        const rc = w.rootCause
        fields = html`<h3>5 Whys (in order; the last is the root cause)</h3>
          ${Array.from(
            { length: MAX_WHYS },
            (_, i) => html`<label class="field">Why ${i + 1}
              <input name=${`why${i + 1}`} value=${rc?.whys[i] ?? ''} autocomplete="off" ?disabled=${this.busy} />
            </label>`,
          )}
          <h3>Fishbone: causes by 6M category (one per line)</h3>
          ${FISHBONE_CATEGORIES.map(
            (c) => html`<label class="field">${FISHBONE_WORDS[c]}
              <textarea name=${`fishbone-${c}`} .value=${rc?.fishbone[c].join('\n') ?? ''} ?disabled=${this.busy}></textarea>
            </label>`,
          )}
          ${reason}`
        submit = 'Record root cause'
        break
      }
      case 'affected-lots':
        fields = html`<label class="field wide">Lots (one per line, or separated by commas)
            <textarea name="lots" .value=${(w.affectedLots.length > 0 ? w.affectedLots : w.lotsSeen).join('\n')} ?disabled=${this.busy}></textarea>
          </label>${reason}`
        submit = 'Record lots'
        break
      case 'disposition':
        fields = html`<label class="field">Decision
            <select name="decision" ?disabled=${this.busy}>
              <option value="">— choose —</option>
              ${DISPOSITION_DECISIONS.map((d) => html`<option value=${d} ?selected=${w.disposition?.decision === d}>${DECISION_WORDS[d]}</option>`)}
            </select>
          </label>
          <label class="field wide">Justification
            <textarea name="justification" maxlength="4000" ?disabled=${this.busy}></textarea>
          </label>${reason}`
        submit = 'Disposition'
        break
      case 'link-capa':
        fields = this.linkCapaFields(nc, reason, owner)
        submit = this.newCapa ? 'Open CAPA and link it' : 'Link CAPA'
        break
      case 'close':
        fields = html`<p class="wide">Closing ${nc.number} needs your electronic signature with the meaning
            <b>closed</b>: the dialog that opens asks for your password again.</p>${reason}`
        submit = 'Sign and close…'
        break
      case 'reopen':
        fields = reason
        submit = 'Reopen'
        break
      case 'comment':
        fields = html`<label class="field wide">Comment
          <textarea name="text" maxlength="4000" ?disabled=${this.busy}></textarea>
        </label>`
        submit = 'Add comment'
        break
      case 'sign-reviewed':
      case 'sign-approved':
        fields = html`<p class="wide">Sign ${nc.number} with the meaning <b>${asking.slice(5)}</b>:
            the dialog that opens asks for your password again.</p>${reason}`
        submit = 'Sign…'
        break
    }
    return html`<form class="act" data-form=${asking} @submit=${(e: SubmitEvent) => void this.submit(e, asking)}>
      <h3>${label(asking).replace(/…$/, '')}</h3>
      ${fields}
      <div class="buttons wide">
        <button type="submit" data-part="submit" ?disabled=${this.busy}>${submit}</button>
        <button type="button" ?disabled=${this.busy} @click=${() => {
          this.asking = null
          this.formProblem = null
        }}>Cancel</button>
      </div>
      ${this.formProblem ? html`<p class="form-problem" role="alert" data-part="form-problem">${this.formProblem}</p>` : nothing}
    </form>`
  }

  private linkCapaFields(nc: NcDetail, reason: unknown, owner: (value: string) => unknown) {
    const capas = this.capas
    const choices = capas ? linkableCapas(capas, nc.workflow.capas) : []
    return html`<label class="field wide">CAPA
        <select name="capa" ?disabled=${this.busy || capas === null} @change=${(e: Event) => {
          this.newCapa = (e.target as HTMLSelectElement).value === 'new'
        }}>
          ${capas === null ? html`<option value="">Loading…</option>` : nothing}
          ${choices.map((c) => html`<option value=${c.id}>${c.id} · ${c.title} (${c.status})</option>`)}
          <option value="new" ?selected=${this.newCapa}>New CAPA…</option>
        </select>
      </label>
      ${
        this.newCapa
          ? html`<label class="field wide">Title
              <input name="title" maxlength="300" autocomplete="off" ?disabled=${this.busy} />
            </label>
            <label class="field">Kind
              <select name="kind" ?disabled=${this.busy}>
                ${CAPA_KINDS.map((k) => html`<option value=${k}>${k}</option>`)}
              </select>
            </label>
            ${owner(this.user?.name ?? '')}`
          : nothing
      }
      ${reason}`
  }
}

function label(a: Asking): string {
  if (a === 'sign-reviewed') return 'Sign as reviewed…'
  if (a === 'sign-approved') return 'Sign as approved…'
  return NC_ACTION_LABEL[a]
}

function failure(e: unknown): string {
  return e instanceof ApiFailure ? actionFailureText(e.status, e.message) : failureText(e)
}

customElements.define('lw-nc-workflow', LwNcWorkflow)

declare global {
  interface HTMLElementTagNameMap {
    'lw-nc-workflow': LwNcWorkflow
  }
  interface HTMLElementEventMap {
    'lw-nc-changed': CustomEvent<import('./data/quality.ts').NcDetail>
  }
}
