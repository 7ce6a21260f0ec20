import { css, html, LitElement, nothing } from 'lit'
import { pageStyles } from './styles.ts'

export interface SignInDetail {
  token: string
}

/**
 * Asks for an access token (from `linewatch token`, given by an administrator).
 *
 * @fires lw-sign-in - `CustomEvent<SignInDetail>` when a token is submitted.
 */
export class LwSignIn extends LitElement {
  static override properties = {
    title: { type: String },
    message: { type: String },
  }

  declare title: string
  /** Why sign-in is asked again, e.g. the stored token was refused. */
  declare message: string

  constructor() {
    super()
    this.title = 'linewatch'
    this.message = ''
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
      form {
        width: min(32em, 100%);
        background: var(--lw-surface);
        border: 1px solid var(--lw-border);
        border-radius: 0.6em;
        padding: 1.6em 1.8em;
        display: flex;
        flex-direction: column;
        gap: 0.8em;
      }
      label {
        font-weight: 600;
      }
      input {
        font: inherit;
        font-family: var(--lw-mono);
        padding: 0.5em 0.6em;
        border-radius: 0.3em;
        border: 1px solid var(--lw-border);
        background: var(--lw-bg);
        color: var(--lw-text);
      }
      input:focus-visible {
        outline: 3px solid var(--lw-link);
      }
      .problem {
        margin: 0;
      }
      button {
        align-self: flex-start;
        font-weight: 600;
      }
    `,
  ]

  private submit(e: SubmitEvent): void {
    e.preventDefault()
    const input = this.renderRoot.querySelector('input')
    const token = input?.value.trim() ?? ''
    if (!token) return
    this.dispatchEvent(
      new CustomEvent<SignInDetail>('lw-sign-in', {
        detail: { token },
        bubbles: true,
        composed: true,
      }),
    )
  }

  protected override render() {
    return html`<form @submit=${this.submit}>
      <h1>${this.title}</h1>
      <p class="muted">This gateway needs an access token. Ask your administrator for one.</p>
      ${this.message ? html`<p class="problem" role="alert">${this.message}</p>` : nothing}
      <label for="token">Access token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required autofocus />
      <button type="submit">Sign in</button>
      <p class="muted">The token is kept in this browser until you sign out.</p>
    </form>`
  }
}

customElements.define('lw-sign-in', LwSignIn)

declare global {
  interface HTMLElementTagNameMap {
    'lw-sign-in': LwSignIn
  }
  interface HTMLElementEventMap {
    'lw-sign-in': CustomEvent<SignInDetail>
  }
}
