import { css, html, LitElement, nothing } from 'lit'
import type { SignInView } from '../../gateway/contract.ts'
import { ApiFailure, api, failureText } from './api.ts'
import { signInFailureText } from './data/quality.ts'
import { pageStyles } from './styles.ts'

export interface TokenDetail {
  token: string
}

/**
 * The sign-in page (`#/sign-in`): a user name and password (a person's session, kept in this tab),
 * or an access token (from `linewatch token`, for wall displays that cannot type one each time).
 * A refusal shows the gateway's own words: a wrong name or password, or a lock after repeated
 * failures with until when.
 *
 * @fires lw-signed-in - `CustomEvent<SignInView>` once the gateway accepted the user and password.
 * @fires lw-token - `CustomEvent<TokenDetail>` when an access token is submitted.
 */
export class LwSignIn extends LitElement {
  static override properties = {
    title: { type: String },
    message: { type: String },
    back: { type: String },
    problem: { state: true },
    busy: { state: true },
  }

  declare title: string
  /** Why sign-in is asked, e.g. the session ended or the stored token was refused. */
  declare message: string
  /** Where "Cancel" leads (a hash), when there is a page to go back to; '' for none. */
  declare back: string
  declare problem: string | null
  declare busy: boolean

  constructor() {
    super()
    this.title = 'linewatch'
    this.message = ''
    this.back = ''
    this.problem = null
    this.busy = false
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        display: grid;
        place-items: center;
        min-height: 80vh;
        padding: 1em;
      }
      .card {
        width: min(32em, 100%);
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
        border-radius: 0.6em;
        padding: 1.6em 1.8em;
      }
      form {
        display: flex;
        flex-direction: column;
        gap: 0.8em;
      }
      label {
        font-weight: 600;
      }
      input {
        font: inherit;
        padding: 0.5em 0.6em;
        border-radius: 0.3em;
        border: 1px solid var(--lw-border);
        background: var(--lw-bg);
        color: var(--lw-text);
      }
      input[name='token'] {
        font-family: var(--lw-mono);
      }
      input:focus-visible {
        outline: 3px solid var(--lw-link);
      }
      .problem {
        margin: 0;
      }
      .row {
        display: flex;
        gap: 1em;
        align-items: center;
      }
      button[type='submit'] {
        font-weight: 700;
        background: var(--lw-text);
        color: var(--lw-bg);
      }
      details {
        margin-top: 1.4em;
        border-top: 1px solid var(--lw-border);
        padding-top: 0.8em;
      }
      summary {
        cursor: pointer;
        color: var(--lw-text-dim);
      }
      details form {
        margin-top: 0.8em;
      }
    `,
  ]

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    if (this.busy) return
    const form = e.currentTarget as HTMLFormElement
    const user = (form.elements.namedItem('user') as HTMLInputElement).value.trim()
    const passwordInput = form.elements.namedItem('password') as HTMLInputElement
    const password = passwordInput.value
    if (!user || !password) {
      this.problem = 'Give your user name and your password.'
      return
    }
    this.busy = true
    this.problem = null
    try {
      const view = await api.signIn(user, password)
      passwordInput.value = ''
      this.dispatchEvent(
        new CustomEvent<SignInView>('lw-signed-in', {
          detail: view,
          bubbles: true,
          composed: true,
        }),
      )
    } catch (err) {
      passwordInput.value = ''
      this.problem = signInFailure(err)
    } finally {
      this.busy = false
    }
  }

  private submitToken(e: SubmitEvent): void {
    e.preventDefault()
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem(
      'token',
    ) as HTMLInputElement
    const token = input.value.trim()
    if (!token) return
    this.problem = null
    this.dispatchEvent(
      new CustomEvent<TokenDetail>('lw-token', {
        detail: { token },
        bubbles: true,
        composed: true,
      }),
    )
  }

  protected override render() {
    const problem = this.problem ?? (this.message || null)
    return html`<div class="card">
      <form data-form="sign-in" @submit=${(e: SubmitEvent) => void this.submit(e)}>
        <h1>${this.title}</h1>
        <p class="muted">Sign in with your user name and password.</p>
        ${problem ? html`<p class="problem" role="alert" data-part="sign-in-problem">${problem}</p>` : nothing}
        <label for="user">User name</label>
        <input id="user" name="user" autocomplete="username" autocapitalize="off" spellcheck="false" required autofocus ?disabled=${this.busy} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required ?disabled=${this.busy} />
        <div class="row">
          <button type="submit" ?disabled=${this.busy}>Sign in</button>
          ${this.back ? html`<a href=${this.back} data-part="cancel">Cancel</a>` : nothing}
        </div>
        <p class="muted">Your session lasts while this tab is open and you are active.</p>
      </form>
      <details>
        <summary>Use an access token instead (wall displays)</summary>
        <form data-form="token" @submit=${this.submitToken}>
          <label for="token">Access token</label>
          <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required />
          <button type="submit">Use the token</button>
          <p class="muted">The token is kept in this browser until you sign out.</p>
        </form>
      </details>
    </div>`
  }
}

/** What a refused sign-in says: the gateway's words (a lock says until when). */
function signInFailure(e: unknown): string {
  return e instanceof ApiFailure
    ? signInFailureText(e.status, e.message, e.retryAfter)
    : failureText(e)
}

customElements.define('lw-sign-in', LwSignIn)

declare global {
  interface HTMLElementTagNameMap {
    'lw-sign-in': LwSignIn
  }
  interface HTMLElementEventMap {
    'lw-signed-in': CustomEvent<SignInView>
    'lw-token': CustomEvent<TokenDetail>
  }
}
