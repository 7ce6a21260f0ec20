import { css, html, LitElement, nothing } from 'lit'
import type { Session, SignInView } from '../../gateway/contract.ts'
import { ApiFailure, api, failureText, onUnauthorised } from './api.ts'
import { ClockController } from './clock-controller.ts'
import { SHIFT_STARTS } from './data/chart-range.ts'
import {
  type DeviationEntry,
  MAX_DEVIATIONS,
  mergeDeviationHistory,
  pushDeviations,
} from './data/deviations.ts'
import { formatTime } from './data/format.ts'
import { type KioskSettings, kioskSettings } from './data/kiosk.ts'
import { parseRoute, type Route, routeHash, signInRoute } from './data/route.ts'
import { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { pageStyles } from './styles.ts'
import { currentToken, loadSessionToken, saveSessionToken, saveToken } from './token-store.ts'
import './lw-alarm-banner.ts'
import './lw-alarm-kpis.ts'
import './lw-alarm-list.ts'
import './lw-capa-list.ts'
import './lw-capa-page.ts'
import './lw-characteristic-page.ts'
import './lw-connection-status.ts'
import './lw-nc-detail.ts'
import './lw-nc-list.ts'
import './lw-overview.ts'
import './lw-password.ts'
import './lw-quality-kpis.ts'
import './lw-reports.ts'
import './lw-sign-in.ts'

/** `signed-out`: the gateway wants a session or a token (the sign-in page is shown). */
type Phase = 'checking' | 'signed-out' | 'ready' | 'forbidden' | 'unreachable'

/**
 * The dashboard: checks the session (sending to the sign-in page when the gateway needs one), owns
 * the live connection, keeps the latest deviations, and shows the page of the address's hash:
 * `#/` overview, `#/c/<id>` chart, `#/nc` nonconformances, `#/nc/<id>` one of them with its
 * workflow, `#/capa` and `#/capa/<id>` CAPAs, `#/quality-kpis` the quality manager's figures, `#/reports/<kind>` the reports,
 * `#/alarms` the alarm list, `#/alarm-kpis` the alarm system's health, `#/sign-in` and
 * `#/password`. The alarm banner is on every page; the header says who is signed in.
 */
export class LwApp extends LitElement {
  static override properties = {
    phase: { state: true },
    session: { state: true },
    route: { state: true },
    problem: { state: true },
    deviations: { state: true },
  }

  declare phase: Phase
  declare session: Session | null
  declare route: Route
  declare problem: string
  declare deviations: readonly DeviationEntry[]

  private readonly live = new LiveController(this)
  private retry: ReturnType<typeof setTimeout> | undefined
  private checking: Promise<void> | null = null
  private readonly cleanup: (() => void)[] = []
  private kioskSeen: { key: string; value: KioskSettings | null } | null = null

  constructor() {
    super()
    this.phase = 'checking'
    this.session = null
    this.route = parseRoute(location.hash)
    this.problem = ''
    this.deviations = []
    new ClockController(this, 1000)
    new LiveSubscription(this, () => this.live, {
      deviations: (incoming) => {
        this.deviations = pushDeviations(this.deviations, incoming)
      },
      // The gateway restarted or the link came back: the session may have changed too.
      resync: () => void this.checkSession(),
    })
  }

  private readonly onHashChange = () => {
    this.route = parseRoute(location.hash)
    if (this.phase === 'signed-out') this.toSignIn()
  }

  /** Shows the sign-in page, to come back to the page now shown (the address says which). */
  private toSignIn(): void {
    if (this.route.page === 'sign-in') return
    const route = signInRoute(location.hash)
    history.replaceState(history.state, '', routeHash(route))
    this.route = route
  }

  /** Goes to a hash path ("/nc/3") once signed in (the overview when none). */
  private goTo(next: string | null): void {
    location.hash = `#${next ?? '/'}`
    this.route = parseRoute(location.hash)
  }

  override connectedCallback(): void {
    super.connectedCallback()
    window.addEventListener('hashchange', this.onHashChange)
    this.cleanup.push(
      onUnauthorised(() => void this.checkSession()),
      this.live.onRefused(() => void this.checkSession()),
    )
    void this.checkSession()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    window.removeEventListener('hashchange', this.onHashChange)
    for (const off of this.cleanup.splice(0)) off()
    clearTimeout(this.retry)
  }

  /** Asks the gateway who we are; starts the live connection, or asks for a token. */
  private checkSession(): Promise<void> {
    this.checking ??= this.doCheckSession().finally(() => {
      this.checking = null
    })
    return this.checking
  }

  private async doCheckSession(): Promise<void> {
    clearTimeout(this.retry)
    try {
      const session = await api.session()
      this.session = session
      this.phase = 'ready'
      if (this.route.page !== 'sign-in') this.problem = ''
      this.live.start(session.bootId)
      void this.loadDeviations()
    } catch (e) {
      const status = e instanceof ApiFailure ? e.status : -1
      if (status === 401) {
        this.live.stop()
        this.session = null
        if (loadSessionToken()) {
          // A user's session ended (idle, its limit, or signed out elsewhere). A wall display's
          // token (or anonymous access) may still be in force: the page stays if so, its header
          // saying who looks now; else sign in again.
          saveSessionToken(null)
          await this.doCheckSession()
          if (this.phase === 'signed-out') this.problem = 'Your session has ended: sign in again.'
          return
        }
        this.problem = currentToken()
          ? 'The stored access token was refused: it may have been revoked.'
          : ''
        this.phase = 'signed-out'
        this.toSignIn()
      } else if (status === 403) {
        this.live.stop()
        this.phase = 'forbidden'
        this.problem = failureText(e)
      } else {
        // Unreachable or failing: keep what is on screen if there is something, and try again.
        if (this.phase !== 'ready') this.phase = 'unreachable'
        this.problem = failureText(e)
        this.retry = setTimeout(() => void this.checkSession(), 3000)
      }
    }
  }

  /**
   * The gateway's recent deviations into the strip (at start and after each resync: a reload or a
   * restarted gateway shows what was shown before). A failure leaves the strip to the live ones.
   */
  private async loadDeviations(): Promise<void> {
    try {
      const history = await api.recentDeviations(MAX_DEVIATIONS)
      this.deviations = mergeDeviationHistory(this.deviations, history)
    } catch {}
  }

  /** Kiosk mode (`?kiosk=1`, `area=`, `rotate=`, or the display token's settings), or null. */
  private kiosk(): KioskSettings | null {
    const value = kioskSettings(location.search, this.session?.kiosk)
    const key = JSON.stringify(value)
    // The same object while the settings are the same: the overview is not told of a change.
    if (this.kioskSeen?.key !== key) this.kioskSeen = { key, value }
    return this.kioskSeen.value
  }

  /** Signed in with a user name and password: the session's token from now on, live anew. */
  private async signedIn(e: CustomEvent<SignInView>): Promise<void> {
    saveSessionToken(e.detail.token)
    await this.restart()
    if (this.phase === 'ready') this.goTo(this.nextPage())
  }

  /** An access token typed in (a wall display): kept in this browser. */
  private async tokenGiven(e: CustomEvent<{ token: string }>): Promise<void> {
    saveSessionToken(null)
    saveToken(e.detail.token)
    await this.restart()
    if (this.phase === 'ready') this.goTo(this.nextPage())
    else if (this.phase === 'signed-out') this.problem = 'That access token was refused.'
  }

  private nextPage(): string | null {
    return this.route.page === 'sign-in' ? this.route.next : null
  }

  /** The credentials changed: the live connection's handshake must send the new token. */
  private async restart(): Promise<void> {
    this.live.stop()
    this.problem = ''
    await this.checkSession()
  }

  /**
   * Ends a user's session at the gateway, or forgets the access token. When something is still in
   * force afterwards (a wall display's stored access token, anonymous access) the page stays, as
   * that principal sees it; otherwise the sign-in page is shown.
   */
  private async signOut(): Promise<void> {
    if (this.session?.user && loadSessionToken()) {
      await api.signOut().catch(() => {})
      saveSessionToken(null)
    } else {
      saveSessionToken(null)
      saveToken(null)
    }
    this.session = null
    await this.restart()
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        display: flex;
        flex-direction: column;
        min-height: 100vh;
      }
      header {
        display: flex;
        align-items: center;
        gap: 0.5em 1.6em;
        flex-wrap: wrap;
        padding: 0.5em 1.2em;
        background: var(--lw-surface-dim);
        border-bottom: 1px solid var(--lw-border);
      }
      .brand {
        font-size: 1.35em;
        font-weight: 700;
        color: var(--lw-text);
        text-decoration: none;
        overflow-wrap: anywhere;
      }
      nav {
        display: flex;
        gap: 0.3em;
      }
      nav a {
        color: var(--lw-text-dim);
        text-decoration: none;
        padding: 0.3em 0.7em;
        border-radius: 0.3em;
        font-weight: 600;
      }
      nav a[aria-current='page'] {
        color: var(--lw-text);
        background: var(--lw-surface-2);
      }
      .spacer {
        flex: 1;
      }
      .clock {
        font-size: 1.35em;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
      }
      .who {
        color: var(--lw-text-dim);
      }
      main {
        flex: 1;
      }
      .center {
        padding: 2em;
        font-size: 1.2em;
      }
      /* Printing (the Reports page's Print): the page only, without the header and the banner. */
      @media print {
        :host {
          --lw-bg: #fff;
          --lw-text: #000;
          --lw-text-dim: #444;
          --lw-border: #999;
          --lw-surface: #fff;
          --lw-surface-dim: #fff;
          background: #fff;
          min-height: 0;
        }
        header,
        lw-alarm-banner {
          display: none;
        }
      }
      /*
       * Kiosk mode on the overview: exactly the screen, never scrolled. The type unit follows the
       * screen's height too (a wide or a small screen: the banner leaves the tiles their room).
       */
      :host([data-kiosk='fit']) {
        height: 100vh;
        min-height: 0;
        overflow: hidden;
        font-size: clamp(10px, min(0.833vw, 1.481vh), 48px);
      }
      :host([data-kiosk='fit']) main {
        min-height: 0;
        display: flex;
        flex-direction: column;
      }
      :host([data-kiosk='fit']) lw-overview {
        flex: 1;
        min-height: 0;
      }
      header.kiosk-header {
        padding: 0.3em 1.2em;
        flex-wrap: nowrap;
      }
      header.kiosk-header .brand {
        font-size: 1.2em;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      header.kiosk-header .clock {
        font-size: 1.2em;
      }
      .back {
        color: var(--lw-link);
        font-weight: 600;
        white-space: nowrap;
      }
    `,
  ]

  protected override updated(): void {
    const title = this.live.title ?? this.session?.title ?? 'linewatch'
    if (document.title !== title) document.title = title
    // Kiosk mode on the overview: the page is exactly the screen (the overview fits its tiles in).
    const kiosk = this.phase === 'ready' && this.route.page !== 'sign-in' ? this.kiosk() : null
    const mode = kiosk ? (this.route.page === 'overview' ? 'fit' : 'page') : null
    if ((this.dataset.kiosk ?? null) !== mode) {
      if (mode) this.dataset.kiosk = mode
      else delete this.dataset.kiosk
    }
  }

  protected override render() {
    const title = this.live.title ?? this.session?.title ?? 'linewatch'
    switch (this.phase) {
      case 'checking':
        return html`<p class="center muted">Connecting to the gateway…</p>`
      case 'signed-out':
        return this.signInPage(title)
      case 'forbidden':
        return html`<p class="center problem">${this.problem}</p>`
      case 'unreachable':
        return html`<div class="center">
          <h1>${title}</h1>
          <p class="problem">${this.problem}</p>
        </div>`
      case 'ready': {
        if (this.route.page === 'sign-in') return this.signInPage(title)
        const kiosk = this.kiosk()
        if (kiosk) return this.kioskPage(title, kiosk)
        return html`${this.header(title)}<lw-alarm-banner .live=${this.live} .connection=${this.live.state}></lw-alarm-banner
          ><main>${this.page()}</main>`
      }
    }
  }

  /**
   * A wall display: no navigation and nobody signed in shown, the title, the connection and the
   * clock above the alarm banner; the overview fits the screen (one area, or rotating).
   */
  private kioskPage(title: string, kiosk: KioskSettings) {
    const overview = this.route.page === 'overview'
    return html`<header class="kiosk-header" data-part="kiosk-header">
        <span class="brand">${title}</span>
        ${overview ? nothing : html`<a class="back" href=${routeHash({ page: 'overview' })}>‹ Overview</a>`}
        <span class="spacer"></span>
        <lw-connection-status .state=${this.live.state}></lw-connection-status>
        <span class="clock" title="Gateway time">${formatTime(this.live.now())}</span>
      </header>
      <lw-alarm-banner .live=${this.live} .connection=${this.live.state}></lw-alarm-banner>
      <main>${
        overview
          ? html`<lw-overview
              .live=${this.live}
              .connection=${this.live.state}
              .deviations=${this.deviations}
              .kiosk=${kiosk}
            ></lw-overview>`
          : this.page()
      }</main>`
  }

  private signInPage(title: string) {
    const route = this.route
    const next = route.page === 'sign-in' ? route.next : null
    return html`<lw-sign-in
      .title=${title}
      .message=${this.problem}
      .back=${this.phase === 'ready' ? `#${next ?? '/'}` : ''}
      @lw-signed-in=${this.signedIn}
      @lw-token=${this.tokenGiven}
    ></lw-sign-in>`
  }

  private header(title: string) {
    const page = this.route.page
    const current = (p: boolean) => (p ? 'page' : 'false')
    return html`<header>
      <a class="brand" href=${routeHash({ page: 'overview' })}>${title}</a>
      <nav>
        <a href=${routeHash({ page: 'overview' })} aria-current=${current(page === 'overview' || page === 'characteristic')}>Overview</a>
        <a href=${routeHash({ page: 'ncs' })} aria-current=${current(page === 'ncs' || page === 'nc')}>Nonconformances</a>
        <a href=${routeHash({ page: 'capas' })} aria-current=${current(page === 'capas' || page === 'capa')}>CAPA</a>
        <a href=${routeHash({ page: 'quality-kpis' })} aria-current=${current(page === 'quality-kpis')}>Quality KPIs</a>
        <a href=${routeHash({ page: 'alarms' })} aria-current=${current(page === 'alarms')}>Alarms</a>
        <a href=${routeHash({ page: 'alarm-kpis' })} aria-current=${current(page === 'alarm-kpis')}>Alarm KPIs</a>
        <a href=${routeHash({ page: 'reports', kind: 'capability' })} aria-current=${current(page === 'reports')}>Reports</a>
      </nav>
      <span class="spacer"></span>
      <lw-connection-status .state=${this.live.state}></lw-connection-status>
      <span class="clock" title="Gateway time">${formatTime(this.live.now())}</span>
      ${this.who()}
    </header>`
  }

  /** Who is looking: a signed-in user (printed name, role), a configured token, or anonymous access. */
  private who() {
    const s = this.session
    if (!s) return nothing
    const signIn = html`<a class="button" data-part="sign-in" href=${routeHash(signInRoute(location.hash))}>Sign in</a>`
    if (s.user) {
      return html`<span class="who" data-part="who" data-user=${s.user.name} data-role=${s.role}
          ><b data-part="printed-name">${s.user.printedName}</b> · <span data-part="role">${s.role}</span></span
        >
        <a href=${routeHash({ page: 'password' })} data-part="change-password">Change password</a>
        <button data-part="sign-out" @click=${() => void this.signOut()}>Sign out</button>`
    }
    if (s.tokenId) {
      return html`<span class="who" data-part="who" data-role=${s.role}>${s.tokenId} · <span data-part="role">${s.role}</span></span>
        ${signIn}
        <button data-part="sign-out" @click=${() => void this.signOut()}>Sign out</button>`
    }
    return html`<span class="who" data-part="who" data-role=${s.role}>anonymous · <span data-part="role">${s.role}</span></span>${signIn}`
  }

  private page() {
    const r = this.route
    switch (r.page) {
      case 'overview':
        return html`<lw-overview
          .live=${this.live}
          .connection=${this.live.state}
          .deviations=${this.deviations}
        ></lw-overview>`
      case 'characteristic':
        return html`<lw-characteristic-page
          .characteristicId=${r.id}
          .live=${this.live}
          .connection=${this.live.state}
          .role=${this.session?.role ?? null}
          .shiftStarts=${this.session?.shiftStarts ?? SHIFT_STARTS}
        ></lw-characteristic-page>`
      case 'ncs':
        return html`<lw-nc-list .live=${this.live} .characteristic=${r.characteristic ?? ''}></lw-nc-list>`
      case 'nc':
        return html`<lw-nc-detail
          .ncId=${r.id}
          .live=${this.live}
          .role=${this.session?.role ?? null}
          .user=${this.session?.user ?? null}
        ></lw-nc-detail>`
      case 'capas':
        return html`<lw-capa-list .live=${this.live} .role=${this.session?.role ?? null}></lw-capa-list>`
      case 'capa':
        return html`<lw-capa-page
          .capaId=${r.id}
          .live=${this.live}
          .role=${this.session?.role ?? null}
          .user=${this.session?.user ?? null}
        ></lw-capa-page>`
      case 'quality-kpis':
        return html`<lw-quality-kpis .live=${this.live} .role=${this.session?.role ?? null}></lw-quality-kpis>`
      case 'reports':
        return html`<lw-reports .live=${this.live} .role=${this.session?.role ?? null} .kind=${r.kind}></lw-reports>`
      case 'password':
        return html`<lw-password .user=${this.session?.user ?? null}></lw-password>`
      case 'sign-in':
        return nothing
      case 'alarms':
        return html`<lw-alarm-list .live=${this.live} .role=${this.session?.role ?? null}></lw-alarm-list>`
      case 'alarm-kpis':
        return html`<lw-alarm-kpis .live=${this.live}></lw-alarm-kpis>`
      case 'not-found':
        return html`<p class="center problem">
          Nothing here. <a href=${routeHash({ page: 'overview' })}>Back to the overview</a>
        </p>`
    }
  }
}

customElements.define('lw-app', LwApp)

declare global {
  interface HTMLElementTagNameMap {
    'lw-app': LwApp
  }
}
