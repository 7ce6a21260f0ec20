import { css, html, LitElement, nothing } from 'lit'
import { ApiFailure, api, failureText } from './api.ts'
import { newPasswordProblem } from './data/quality.ts'
import { routeHash } from './data/route.ts'
import { pageStyles } from './styles.ts'

/**
 * Change password (`#/password`): the current password, the new one twice. The gateway's password
 * rules decide (a 400 lists what the new one lacks); a session of a configured token or of
 * anonymous access has no password to change.
 */
export class LwPassword extends LitElement {
  static override properties = {
    user: { attribute: false },
    problem: { state: true },
    done: { state: true },
    busy: { state: true },
  }

  declare user: { name: string; printedName: string } | null
  declare problem: string | null
  declare done: boolean
  declare busy: boolean

  constructor() {
    super()
    this.user = null
    this.problem = null
    this.done = false
    this.busy = false
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      form {
        display: flex;
        flex-direction: column;
        gap: 0.6em;
        max-width: 28em;
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
      button[type='submit'] {
        align-self: flex-start;
        font-weight: 700;
        background: var(--lw-text);
        color: var(--lw-bg);
      }
      .notice {
        padding: 0.6em 0.9em;
        border-left: 0.35em solid var(--lw-link);
        background: var(--lw-surface);
      }
    `,
  ]

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    if (this.busy) return
    const form = e.currentTarget as HTMLFormElement
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value
    const current = value('current')
    const next = value('next')
    const wrong = newPasswordProblem(current, next, value('repeat'))
    this.done = false
    if (wrong) {
      this.problem = wrong
      return
    }
    this.busy = true
    try {
      await api.changePassword(current, next)
      form.reset()
      this.problem = null
      this.done = true
    } catch (err) {
      this.problem =
        err instanceof ApiFailure && (err.status === 400 || err.status === 401)
          ? `Not changed: ${err.message}`
          : failureText(err)
    } finally {
      this.busy = false
    }
  }

  protected override render() {
    if (!this.user) {
      return html`<h1>Change password</h1>
        <p class="problem" data-part="no-user">
          You are not signed in as a user (a wall display's token or anonymous access has no password).
          <a href=${routeHash({ page: 'sign-in', next: '/password' })}>Sign in</a>
        </p>`
    }
    return html`<h1>Change password</h1>
      <p class="muted">${this.user.printedName} (${this.user.name})</p>
      ${this.done ? html`<p class="notice" role="status" data-part="notice">Your password was changed.</p>` : nothing}
      ${this.problem ? html`<p class="problem" role="alert" data-part="password-problem">${this.problem}</p>` : nothing}
      <form data-form="password" @submit=${(e: SubmitEvent) => void this.submit(e)}>
        <label>Current password
          <input name="current" type="password" autocomplete="current-password" required ?disabled=${this.busy} />
        </label>
        <label>New password
          <input name="next" type="password" autocomplete="new-password" required ?disabled=${this.busy} />
        </label>
        <label>New password again
          <input name="repeat" type="password" autocomplete="new-password" required ?disabled=${this.busy} />
        </label>
        <button type="submit" ?disabled=${this.busy}>Change password</button>
      </form>`
  }
}

customElements.define('lw-password', LwPassword)

declare global {
  interface HTMLElementTagNameMap {
    'lw-password': LwPassword
  }
}
