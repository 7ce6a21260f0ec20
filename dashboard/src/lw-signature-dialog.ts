import { css, html, LitElement, nothing } from 'lit'
import type { SignatureMeaning } from '../../gateway/contract.ts'
import { ApiFailure, failureText } from './api.ts'
import { actionFailureText } from './data/quality.ts'
import { pageStyles } from './styles.ts'

export interface SignRequest {
  meaning: SignatureMeaning
  /** The record signed, in words: "NC-000042 · Fill weight above the action limit". */
  record: string
  /** Who signs (the signed-in user), or null when the session has no user. */
  signer: { name: string; printedName: string } | null
  /** Sends the signed action with the password; throws when the gateway refuses it. */
  submit(password: string): Promise<void>
}

/**
 * The electronic signature dialog (21 CFR Part 11): it states what the signature means and which
 * record it signs (§11.50), and asks for the signer's password again at each signing (§11.200).
 * A refusal (a wrong password: "not signed") is shown in the dialog, which stays open.
 */
export class LwSignatureDialog extends LitElement {
  static override properties = {
    request: { state: true },
    problem: { state: true },
    busy: { state: true },
  }

  declare request: SignRequest | null
  declare problem: string | null
  declare busy: boolean

  constructor() {
    super()
    this.request = null
    this.problem = null
    this.busy = false
  }

  static override styles = [
    pageStyles,
    css`
      dialog {
        width: min(36em, 92vw);
        background: var(--lw-surface);
        color: var(--lw-text);
        border: 1px solid var(--lw-border);
        border-top: 0.4em solid var(--lw-link);
        border-radius: 0.5em;
        padding: 1.2em 1.5em;
      }
      dialog::backdrop {
        background: rgb(0 0 0 / 0.6);
      }
      form {
        display: flex;
        flex-direction: column;
        gap: 0.7em;
      }
      h2 {
        margin: 0;
        color: var(--lw-text);
      }
      p {
        margin: 0;
      }
      .meaning {
        font-size: 1.3em;
        font-weight: 700;
        text-transform: uppercase;
        letter-spacing: 0.05em;
      }
      label {
        font-weight: 600;
        display: flex;
        flex-direction: column;
        gap: 0.3em;
      }
      input {
        font: inherit;
        padding: 0.45em 0.6em;
        border-radius: 0.3em;
        border: 1px solid var(--lw-border);
        background: var(--lw-bg);
        color: var(--lw-text);
      }
      .buttons {
        display: flex;
        gap: 0.6em;
      }
      button[type='submit'] {
        background: var(--lw-text);
        color: var(--lw-bg);
        font-weight: 700;
      }
      .problem {
        margin: 0;
      }
    `,
  ]

  /** Opens the dialog for one signing. */
  async open(request: SignRequest): Promise<void> {
    this.request = request
    this.problem = null
    this.busy = false
    await this.updateComplete
    const dialog = this.renderRoot.querySelector('dialog')
    if (dialog && !dialog.open) dialog.showModal()
    this.renderRoot.querySelector<HTMLInputElement>('input[name="password"]')?.focus()
  }

  close(): void {
    this.renderRoot.querySelector('dialog')?.close()
  }

  private onClose = () => {
    this.request = null
    this.problem = null
    const input = this.renderRoot.querySelector<HTMLInputElement>('input[name="password"]')
    if (input) input.value = ''
  }

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const request = this.request
    if (!request || this.busy) return
    const input = this.renderRoot.querySelector<HTMLInputElement>('input[name="password"]')
    const password = input?.value ?? ''
    if (password === '') {
      this.problem = 'Enter your password to sign.'
      return
    }
    this.busy = true
    this.problem = null
    try {
      await request.submit(password)
      this.close()
    } catch (err) {
      // A wrong password says so in the gateway's words; the dialog stays open to try again.
      this.problem =
        err instanceof ApiFailure
          ? err.status === 401
            ? err.message
            : actionFailureText(err.status, err.message)
          : failureText(err)
      if (input) {
        input.value = ''
        input.focus()
      }
    } finally {
      this.busy = false
    }
  }

  protected override render() {
    const r = this.request
    return html`<dialog data-part="signature-dialog" aria-labelledby="sig-title" @close=${this.onClose}>
      ${
        r
          ? html`<form method="dialog" @submit=${(e: SubmitEvent) => void this.submit(e)}>
            <h2 id="sig-title">Electronic signature</h2>
            <p>You are signing <b data-part="record">${r.record}</b></p>
            <p>Meaning of this signature: <span class="meaning" data-part="meaning">${r.meaning}</span></p>
            <p>Signer: ${
              r.signer
                ? html`<b data-part="signer">${r.signer.printedName}</b> (${r.signer.name})`
                : html`<b data-part="signer">the signed-in user</b>`
            }</p>
            <p class="muted">
              Your electronic signature is the legally binding equivalent of your handwritten signature.
              Enter your password again to sign.
            </p>
            <label>Password
              <input name="password" type="password" autocomplete="current-password" ?disabled=${this.busy} />
            </label>
            ${this.problem ? html`<p class="problem" role="alert" data-part="signature-problem">${this.problem}</p>` : nothing}
            <div class="buttons">
              <button type="submit" data-part="sign" ?disabled=${this.busy}>Sign: ${r.meaning}</button>
              <button type="button" data-part="cancel" ?disabled=${this.busy} @click=${() => this.close()}>Cancel</button>
            </div>
          </form>`
          : nothing
      }
    </dialog>`
  }
}

customElements.define('lw-signature-dialog', LwSignatureDialog)

declare global {
  interface HTMLElementTagNameMap {
    'lw-signature-dialog': LwSignatureDialog
  }
}
