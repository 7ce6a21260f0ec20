import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { CapaView, EffectivenessView } from '../../gateway/contract.ts'
import { ApiFailure, api, failureText } from './api.ts'
import { ClockController } from './clock-controller.ts'
import { formatDateTime } from './data/format.ts'
import {
  actionFailureText,
  buildCapaAction,
  CAPA_ACTION_LABEL,
  CAPA_STATUS_WORDS,
  type CapaActionBody,
  type CapaActionName,
  capaActionsFor,
  capaRoleNote,
  capaSigningLost,
  downloadName,
  dueText,
  effectivenessRows,
  type FormValues,
  hasRole,
  historyPath,
  msToDateTimeInput,
  signerNote,
  versionOf,
} from './data/quality.ts'
import { routeHash, signInRoute } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { ncLink } from './lw-capa-list.ts'
import type { LwSignatureDialog } from './lw-signature-dialog.ts'
import { commentsPart, downloadLink, signaturesPart } from './quality-parts.ts'
import { qualityStyles } from './quality-styles.ts'
import { pageStyles } from './styles.ts'
import './lw-audit-trail.ts'
import './lw-signature-dialog.ts'

const DAY_MS = 86_400_000

const DONE: Record<CapaActionName, string> = {
  implement: 'Implementation recorded',
  verify: 'Verification recorded',
  approve: 'Approved and signed',
  close: 'Closed and signed',
  assign: 'Assigned',
  'link-nc': 'NC linked',
  comment: 'Comment added',
}

/**
 * One CAPA (`#/capa/<id>`): its plan (title, kind, owner, due date), status, the NCs it answers,
 * its implementation and verification, and beside them the evidence of effectiveness from the
 * data per characteristic (the windows before and after the implementation, n, Cpk, Ppk, NCs per
 * day, the verdict and why); the actions the signed-in role may do in its state, approval and
 * closure under signature (the password asked again); signatures, comments, exports and the
 * audit trail.
 */
export class LwCapaPage extends LitElement {
  static override properties = {
    capaId: { type: String, attribute: 'capa-id' },
    live: { attribute: false },
    role: { type: String },
    user: { attribute: false },
    capa: { state: true },
    asking: { state: true },
    formProblem: { state: true },
    busy: { state: true },
    notice: { state: true },
  }

  declare capaId: string
  declare live: LiveController | undefined
  declare role: string | null
  declare user: { name: string; printedName: string } | null
  declare capa: CapaView | null
  declare asking: CapaActionName | null
  declare formProblem: string | null
  declare busy: boolean
  declare notice: { ok: boolean; text: string } | null

  private readonly loader: LoadController

  constructor() {
    super()
    this.capaId = ''
    this.role = null
    this.user = null
    this.capa = null
    this.asking = null
    this.formProblem = null
    this.busy = false
    this.notice = null
    this.loader = new LoadController(
      this,
      async (signal) => {
        this.capa = await api.capa(this.capaId, signal)
      },
      { ready: () => this.capaId !== '' },
    )
    new ClockController(this, 30_000)
    new LiveSubscription(this, () => this.live, { resync: () => void this.loader.load() })
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('capaId')) {
      this.capa = null
      this.asking = null
      this.notice = null
      void this.loader.load()
    }
  }

  private now(): number {
    return this.live?.now() ?? Date.now()
  }

  private ask(action: CapaActionName): void {
    this.asking = this.asking === action ? null : action
    this.formProblem = null
  }

  private async send(action: CapaActionName, body: CapaActionBody): Promise<void> {
    const capa = this.capa
    if (!capa) return
    this.capa = await api.capaAction(capa.id, body)
    this.asking = null
    this.formProblem = null
    this.notice = { ok: true, text: `${DONE[action]}: ${capa.id}` }
  }

  private async submit(e: SubmitEvent, action: CapaActionName): Promise<void> {
    e.preventDefault()
    const capa = this.capa
    if (!capa || this.busy) return
    const form = e.currentTarget as HTMLFormElement
    const values = Object.fromEntries(
      [...new FormData(form)].map(([k, v]) => [k, typeof v === 'string' ? v : '']),
    ) as FormValues
    const built = buildCapaAction(action, values, this.now())
    if ('problem' in built) {
      this.formProblem = built.problem
      return
    }
    const body = built.body
    if (action === 'approve' || action === 'close') {
      this.formProblem = null
      const dialog = this.renderRoot.querySelector<LwSignatureDialog>('lw-signature-dialog')
      await dialog?.open({
        meaning: action === 'approve' ? 'approved' : 'closed',
        record: `${capa.id} · ${capa.title}`,
        signer: this.user,
        submit: (password) => this.send(action, { ...body, signature: { password } }),
      })
      return
    }
    this.busy = true
    try {
      await this.send(action, body)
    } catch (err) {
      this.formProblem =
        err instanceof ApiFailure ? actionFailureText(err.status, err.message) : failureText(err)
    } finally {
      this.busy = false
    }
  }

  static override styles = [
    pageStyles,
    qualityStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      .crumbs {
        color: var(--lw-text-dim);
        margin-bottom: 0.3em;
      }
      .cols {
        display: grid;
        grid-template-columns: minmax(0, 1fr) minmax(0, 1.2fr);
        gap: 1.6em;
      }
      @media (max-width: 1100px) {
        .cols {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      .verdict {
        font-weight: 700;
      }
      .verdict.improved {
        color: var(--lw-text);
      }
      .verdict.not-improved {
        color: var(--lw-alert);
      }
      .effectiveness {
        margin-bottom: 1em;
      }
      .problem-notice {
        border-left-color: var(--lw-alert);
      }
    `,
  ]

  protected override render() {
    const capa = this.capa
    const problem = this.loader.problem
    const back = html`<a href=${routeHash({ page: 'capas' })}>← CAPA</a>`
    if (!capa) {
      return html`<div class="crumbs">${back}</div>
        ${problem ? html`<p class="problem">${problem}</p>` : html`<p class="muted">Loading…</p>`}`
    }
    const now = this.now()
    const actions = capaActionsFor(capa, this.role, this.user !== null)
    const note = capaRoleNote(capa, this.role)
    const unsigned = signerNote(capaSigningLost(capa, this.role, this.user !== null))
    const onProblem = (text: string) => {
      this.notice = { ok: false, text }
    }
    return html`<div class="crumbs">${back}</div>
      <h1>${capa.id} · ${capa.title}</h1>
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      <div class="facts" data-part="plan">
        <div class="fact"><div class="k">Status</div><div class="v" data-part="status">${CAPA_STATUS_WORDS[capa.status]}</div></div>
        <div class="fact"><div class="k">Kind</div><div class="v" data-part="kind">${capa.kind}</div></div>
        <div class="fact"><div class="k">Owner</div><div class="v" data-part="owner">${capa.owner}</div></div>
        <div class="fact ${capa.overdue ? 'overdue-fact' : ''}"><div class="k">Due</div>
          <div class="v ${capa.overdue ? 'overdue' : ''}" data-part="due" data-overdue=${String(capa.overdue)}>${dueText(capa.dueAt, capa.overdue, now)}</div></div>
        <div class="fact"><div class="k">Opened</div><div class="v">${formatDateTime(capa.openedAt)}</div></div>
        <div class="fact"><div class="k">NCs</div><div class="v" data-part="ncs">${capa.ncs.map((nc) => ncLink(nc))}</div></div>
      </div>
      ${note ? html`<p class="note" data-part="role-note">${note}</p>` : nothing}
      ${unsigned ? html`<p class="note" data-part="signer-note">${unsigned} <a href=${routeHash(signInRoute(location.hash))}>Sign in</a></p>` : nothing}
      ${
        this.notice
          ? html`<p class="notice ${this.notice.ok ? '' : 'problem-notice'}" role="status" data-part="notice">${this.notice.text}</p>`
          : nothing
      }
      ${
        actions.length > 0
          ? html`<div class="acts" role="group" aria-label="Actions on this CAPA">
            ${actions.map(
              (a) =>
                html`<button type="button" data-act=${a} aria-expanded=${String(this.asking === a)} ?disabled=${this.busy} @click=${() => this.ask(a)}>${CAPA_ACTION_LABEL[a]}</button>`,
            )}
          </div>`
          : nothing
      }
      ${this.asking ? this.form(this.asking, capa) : nothing}
      <div class="cols">
        <div>
          <h2>Progress</h2>
          <table data-part="progress"><tbody>
            <tr><th scope="row">Implemented</th><td data-part="implemented-at">${capa.implementedAt === null ? '—' : formatDateTime(capa.implementedAt)}</td></tr>
            <tr><th scope="row">Verification</th><td data-part="verification">${
              capa.verification
                ? html`<b>${capa.verification.effective ? 'effective' : 'not effective'}</b> · ${formatDateTime(capa.verification.at)} · ${capa.verification.by}<div class="pre">${capa.verification.notes}</div>`
                : '—'
            }</td></tr>
            <tr><th scope="row">Approved</th><td>${capa.approvedAt === null ? '—' : formatDateTime(capa.approvedAt)}</td></tr>
            <tr><th scope="row">Closed</th><td>${capa.closedAt === null ? '—' : formatDateTime(capa.closedAt)}</td></tr>
          </tbody></table>
          <h2>Signatures</h2>
          <div data-part="signatures">${signaturesPart(capa.signatureViews)}</div>
          <h2>Comments</h2>
          ${commentsPart(capa.comments)}
          <h2>Export</h2>
          ${
            hasRole(this.role, 'quality-engineer')
              ? html`<div class="exports">
                ${downloadLink(historyPath('capa', capa.id, 'csv'), downloadName('capa', capa.id, 'csv'), 'History (CSV)', 'export-csv', onProblem)}
                ${downloadLink(historyPath('capa', capa.id, 'pdf'), downloadName('capa', capa.id, 'pdf'), 'History (PDF)', 'export-pdf', onProblem)}
              </div>`
              : html`<p class="note">The history exports need the quality-engineer role (or higher).</p>`
          }
        </div>
        <div>
          <h2>Effectiveness from the data</h2>
          ${
            capa.effectiveness.length === 0
              ? html`<p class="muted" data-part="no-effectiveness">${
                  capa.implementedAt === null
                    ? 'Shown once the implementation is recorded: the windows before and after it are compared.'
                    : 'No characteristic to judge it by.'
                }</p>`
              : capa.effectiveness.map((e) => this.effectiveness(e))
          }
        </div>
      </div>
      <lw-audit-trail entity="capa" .entityId=${capa.id} .role=${this.role} .version=${versionOf(capa)}></lw-audit-trail>
      <lw-signature-dialog></lw-signature-dialog>`
  }

  private effectiveness(e: EffectivenessView) {
    const verdictClass = e.verdict.replaceAll(' ', '-')
    return html`<section class="effectiveness" data-effectiveness=${e.characteristic} data-verdict=${e.verdict}>
      <h3><a href=${routeHash({ page: 'characteristic', id: e.characteristic })}>${e.characteristicName}</a></h3>
      <table>
        <thead><tr><th></th><th>Before</th><th>After</th></tr></thead>
        <tbody>
          ${effectivenessRows(e).map(
            (r) =>
              html`<tr data-row=${r.key}><th scope="row">${r.label}</th><td class="num">${r.before}</td><td class="num">${r.after}</td></tr>`,
          )}
        </tbody>
      </table>
      <p class="verdict ${verdictClass}" data-part="why">${e.why}</p>
    </section>`
  }

  private form(action: CapaActionName, capa: CapaView) {
    const now = this.now()
    const reason = html`<label class="field wide">Reason (kept in the audit trail, at least 3 characters)
      <input name="reason" maxlength="2000" autocomplete="off" ?disabled=${this.busy} />
    </label>`
    let fields: unknown
    let submit = 'Save'
    switch (action) {
      case 'implement':
        fields = html`<label class="field">Implemented at
            <input name="implementedAt" type="datetime-local" value=${msToDateTimeInput(now)} ?disabled=${this.busy} />
          </label>${reason}`
        submit = 'Record implementation'
        break
      case 'verify':
        fields = html`<label class="field">Effective?
            <select name="effective" ?disabled=${this.busy}>
              <option value="">— choose —</option>
              <option value="yes">Effective</option>
              <option value="no">Not effective</option>
            </select>
          </label>
          <label class="field wide">Notes (what the verification found; see the figures beside)
            <textarea name="notes" maxlength="4000" ?disabled=${this.busy}></textarea>
          </label>${reason}`
        submit = 'Record verification'
        break
      case 'approve':
      case 'close':
        fields = html`<p class="wide">This step needs your electronic signature with the meaning
            <b>${action === 'approve' ? 'approved' : 'closed'}</b>: the dialog that opens asks for your password again.</p>${reason}`
        submit = action === 'approve' ? 'Sign and approve…' : 'Sign and close…'
        break
      case 'assign':
        fields = html`<label class="field">Owner (user name)
            <input name="owner" value=${capa.owner} autocomplete="off" ?disabled=${this.busy} />
          </label>
          <label class="field">Due
            <input name="dueAt" type="datetime-local" value=${msToDateTimeInput(capa.dueAt > now ? capa.dueAt : now + 7 * DAY_MS)} ?disabled=${this.busy} />
          </label>${reason}`
        submit = 'Assign'
        break
      case 'link-nc':
        fields = html`<label class="field">NC (e.g. NC-000042)
            <input name="nc" autocomplete="off" ?disabled=${this.busy} />
          </label>${reason}`
        submit = 'Link NC'
        break
      case 'comment':
        fields = html`<label class="field wide">Comment
          <textarea name="text" maxlength="4000" ?disabled=${this.busy}></textarea>
        </label>`
        submit = 'Add comment'
        break
    }
    return html`<form class="act" data-form=${action} @submit=${(e: SubmitEvent) => void this.submit(e, action)}>
      <h3>${CAPA_ACTION_LABEL[action].replace(/…$/, '')}</h3>
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
}

customElements.define('lw-capa-page', LwCapaPage)

declare global {
  interface HTMLElementTagNameMap {
    'lw-capa-page': LwCapaPage
  }
}
