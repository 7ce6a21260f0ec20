import { css, html, LitElement, type PropertyValues } from 'lit'
import type { ConnectionState } from './live-controller.ts'

const WORDS: Record<ConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Connection lost · reconnecting…',
  refused: 'Connection refused',
}

/**
 * The state of the live connection, in words and a shape (a filled dot when live, a hollow one
 * otherwise). Amber only when it is lost. Reflects `state`.
 */
export class LwConnectionStatus extends LitElement {
  static override properties = {
    state: { type: String, reflect: true },
  }

  declare state: ConnectionState

  constructor() {
    super()
    this.state = 'idle'
  }

  static override styles = css`
    :host {
      display: inline-flex;
    }
    span {
      display: inline-flex;
      align-items: center;
      gap: 0.45em;
      padding: 0.2em 0.7em;
      border-radius: 1em;
      font-weight: 600;
      white-space: nowrap;
      color: var(--lw-text-dim);
    }
    i {
      width: 0.7em;
      height: 0.7em;
      border-radius: 50%;
      border: 2px solid currentColor;
      box-sizing: border-box;
    }
    :host([state='connected']) i {
      background: currentColor;
    }
    :host([state='reconnecting']) span,
    :host([state='refused']) span {
      background: var(--lw-alert);
      color: var(--lw-alert-ink);
    }
    :host([state='connecting']) i,
    :host([state='reconnecting']) i {
      animation: pulse 1.2s ease-in-out infinite;
    }
    @keyframes pulse {
      50% {
        opacity: 0.2;
      }
    }
    @media (prefers-reduced-motion: reduce) {
      i {
        animation: none !important;
      }
    }
  `

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('state')) this.title = WORDS[this.state]
  }

  protected override render() {
    return html`<span role="status" aria-live="polite"><i></i>${WORDS[this.state]}</span>`
  }
}

customElements.define('lw-connection-status', LwConnectionStatus)

declare global {
  interface HTMLElementTagNameMap {
    'lw-connection-status': LwConnectionStatus
  }
}
