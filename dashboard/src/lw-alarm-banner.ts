import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import type { AlarmCounts, AlarmsUpdate, AlarmView } from '../../gateway/contract.ts'
import { AlarmHorn } from './annunciator-audio.ts'
import { api } from './api.ts'
import { ClockController } from './clock-controller.ts'
import {
  type AlarmFilter,
  ANNUNCIATOR_OFF,
  type Annunciator,
  type AnnunciatorMode,
  annunciatorObserve,
  annunciatorOff,
  annunciatorOn,
  annunciatorResync,
  annunciatorSilence,
  bannerRows,
  formatDuration,
  headlineAlarm,
  mergeAlarms,
  NO_FILTER,
  priorityWords,
  sortAlarms,
  stateWords,
} from './data/alarms.ts'
import { formatTime } from './data/format.ts'
import { routeHash } from './data/route.ts'
import type { ConnectionState, LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/** The banner keeps the alarms that wait for an acknowledgement (to name the most urgent). */
const UNACKNOWLEDGED: AlarmFilter = { ...NO_FILTER, state: 'unacknowledged' }

const MODE_WORDS: Record<AnnunciatorMode, string> = {
  off: 'Sound off',
  armed: 'Sound on · quiet',
  sounding: 'SOUNDING · new high-priority alarm',
  silenced: 'Silenced · alarms still unacknowledged',
}

/** A shape per priority, beside its word: the priority is never told by colour alone. */
const SHAPE: Record<string, string> = { critical: '◆', high: '▲', medium: '■', low: '●' }

/**
 * The alarm banner at the top of every page (the wall display's alarm summary, ISA-18.2 / ISA-101):
 * per priority, most urgent first, the alarms active and those waiting for an acknowledgement, in
 * words and numbers; the newest of the most urgent unacknowledged alarms in words; a link to the
 * alarm list. Counts come with every live `alarms` event (and on connect); the unacknowledged
 * alarms are read from REST and kept current by the same events (read again on `resync` and
 * after a reconnect).
 *
 * The optional horn (off by default: a browser sounds only after a click) sounds for a new high or
 * critical alarm until it is acknowledged or silenced; silence is not acknowledgement. Its state is
 * on the element as `data-annunciator="off|armed|sounding|silenced"`.
 */
export class LwAlarmBanner extends LitElement {
  static override properties = {
    live: { attribute: false },
    connection: { type: String },
    counts: { state: true },
    unacknowledged: { state: true },
    annunciator: { state: true },
  }

  declare live: LiveController | undefined
  /** The live connection: while it is not live, the banner says its counts may be out of date. */
  declare connection: ConnectionState
  declare counts: AlarmCounts | null
  declare unacknowledged: readonly AlarmView[]
  declare annunciator: Annunciator

  private readonly loader: LoadController
  private readonly horn = new AlarmHorn()
  /** Bumped by each live `alarms` event: counts read from REST before one are older than it. */
  private liveEpoch = 0
  /** When the counts were last known current (gateway time). */
  private countsAt: number | null = null

  constructor() {
    super()
    this.connection = 'idle'
    this.counts = null
    this.unacknowledged = []
    this.annunciator = ANNUNCIATOR_OFF
    this.loader = new LoadController(this, async (signal) => {
      const epoch = this.liveEpoch
      const [list, counts] = await Promise.all([api.alarms({}, signal), api.alarmCounts(signal)])
      const unack = sortAlarms(
        list.filter((a) => a.state === 'unack-active' || a.state === 'unack-rtn'),
      )
      this.unacknowledged = unack
      if (epoch === this.liveEpoch) {
        this.counts = counts
        this.countsAt = this.now()
      }
      this.annunciator = annunciatorResync(this.annunciator, unack)
    })
    new ClockController(this, 1000)
    new LiveSubscription(this, () => this.live, {
      alarms: (update) => this.onAlarms(update),
      resync: () => void this.loader.load(),
    })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    this.counts ??= this.live?.alarmCounts ?? null
    void this.loader.load()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.horn.close()
  }

  private onAlarms(update: AlarmsUpdate): void {
    this.liveEpoch++
    this.counts = update.counts
    this.countsAt = this.now()
    if (update.resync) {
      void this.loader.load()
      return
    }
    if (update.changed.length === 0) return
    this.unacknowledged = mergeAlarms(this.unacknowledged, update.changed, UNACKNOWLEDGED)
    this.annunciator = annunciatorObserve(this.annunciator, update.changed)
  }

  private now(): number {
    return this.live?.now() ?? Date.now()
  }

  private toggleSound(): void {
    if (this.annunciator.mode === 'off') {
      // From the click: the one moment a browser lets a page start audio.
      this.horn.unlock()
      this.annunciator = annunciatorOn(this.unacknowledged)
    } else {
      this.annunciator = annunciatorOff()
    }
  }

  private silence(): void {
    this.annunciator = annunciatorSilence(this.annunciator)
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('annunciator')) this.dataset.annunciator = this.annunciator.mode
  }

  protected override updated(): void {
    if (this.annunciator.mode === 'sounding') this.horn.start()
    else this.horn.stop()
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        display: block;
        background: var(--lw-surface);
        border-bottom: 1px solid var(--lw-border);
        font-size: 1.2em;
      }
      /* Counts and the horn on the first line, the most urgent alarm in words across the second. */
      .bar {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        grid-template-areas: 'counts sound' 'headline headline';
        align-items: center;
        gap: 0.35em 1.2em;
        padding: 0.45em 1.2em 0.5em;
      }
      .counts {
        grid-area: counts;
        display: flex;
        gap: 0.5em;
        flex-wrap: wrap;
        text-decoration: none;
        color: var(--lw-text);
      }
      .prio {
        display: inline-flex;
        align-items: baseline;
        gap: 0.4em;
        padding: 0.15em 0.6em;
        border: 2px solid var(--lw-border);
        border-radius: 0.3em;
        font-variant-numeric: tabular-nums;
        white-space: nowrap;
        color: var(--lw-text-dim);
      }
      .prio .word {
        font-weight: 800;
        letter-spacing: 0.04em;
      }
      .prio .n {
        font-weight: 800;
        font-size: 1.15em;
      }
      .prio.has-active {
        color: var(--lw-text);
      }
      /* Waiting for an acknowledgement: filled (the colour repeats what the word says). */
      .prio.has-unack.p-critical,
      .prio.has-unack.p-high {
        background: var(--lw-action);
        border-color: var(--lw-action);
        color: var(--lw-action-ink);
      }
      .prio.has-unack.p-medium {
        background: var(--lw-alert);
        border-color: var(--lw-alert);
        color: var(--lw-alert-ink);
      }
      .prio.has-unack.p-low {
        background: var(--lw-text);
        border-color: var(--lw-text);
        color: var(--lw-bg);
      }
      /* Active but acknowledged: outlined. */
      .prio.has-active.p-critical,
      .prio.has-active.p-high {
        border-color: var(--lw-action);
      }
      .prio.has-active.p-medium {
        border-color: var(--lw-alert);
      }
      .stale .counts,
      .stale .headline > :not(.stale-note) {
        opacity: 0.55;
      }
      .stale-note {
        font-weight: 700;
        color: var(--lw-alert-ink);
        background: var(--lw-alert);
        padding: 0.1em 0.5em;
        border-radius: 0.25em;
        margin-right: 0.6em;
      }
      .headline {
        grid-area: headline;
        min-width: 0;
        font-weight: 600;
        overflow-wrap: anywhere;
      }
      .headline .what {
        font-weight: 800;
      }
      .sound {
        grid-area: sound;
        justify-self: end;
        display: flex;
        align-items: center;
        gap: 0.5em;
        flex-wrap: wrap;
      }
      .mode {
        font-weight: 700;
        color: var(--lw-text-dim);
      }
      .mode[data-annunciator='sounding'] {
        color: var(--lw-action-ink);
        background: var(--lw-action);
        padding: 0.1em 0.5em;
        border-radius: 0.25em;
      }
      button:disabled {
        opacity: 0.5;
        cursor: default;
      }
    `,
  ]

  protected override render() {
    const rows = bannerRows(this.counts)
    const top = headlineAlarm(this.unacknowledged)
    const now = this.now()
    const mode = this.annunciator.mode
    // The link was lost (or refused) after the counts came: they may be out of date.
    const stale = this.connection === 'reconnecting' || this.connection === 'refused'
    return html`<section class="bar ${stale ? 'stale' : ''}" aria-label="Alarm summary">
      <a class="counts" href=${routeHash({ page: 'alarms' })} title="Open the alarm list" data-part="counts">
        ${rows.map(
          (r) => html`<span
            class="prio p-${r.priority} ${r.active > 0 ? 'has-active' : ''} ${r.unacknowledged > 0 ? 'has-unack' : ''}"
            data-priority=${r.priority}
            data-active=${r.active}
            data-unacknowledged=${r.unacknowledged}
          >
            <span aria-hidden="true">${SHAPE[r.priority] ?? ''}</span>
            <span class="word">${r.words}</span>
            <span class="n" data-count="active">${r.active}</span> active
            · <span class="n" data-count="unacknowledged">${r.unacknowledged}</span> unack
          </span>`,
        )}
      </a>
      <div class="headline" data-part="headline">
        ${
          stale
            ? html`<span class="stale-note" data-part="stale">Not live: alarms as of ${
                this.countsAt === null ? '—' : formatTime(this.countsAt)
              }</span>`
            : nothing
        }<span role="status">${
          top
            ? html`<span class="what">${priorityWords(top.priority)}</span> ·
                <span data-part="message">${top.message}</span> ·`
            : html`<span class="muted">No alarm waiting for acknowledgement.</span>`
        }</span>
        ${top ? html`<span class="muted">${stateWords(top.state)}, ${formatDuration(now - top.since)}</span>` : nothing}
      </div>
      <div class="sound" data-annunciator=${mode}>
        <button
          type="button"
          data-part="sound"
          aria-pressed=${mode === 'off' ? 'false' : 'true'}
          title="Sound a horn for new high and critical alarms (this display)"
          @click=${() => this.toggleSound()}
        >Sound</button>
        <button
          type="button"
          data-part="silence"
          ?disabled=${mode !== 'sounding'}
          title="Stop the horn; the alarms stay unacknowledged"
          @click=${() => this.silence()}
        >Silence</button>
        <span class="mode" data-part="annunciator" data-annunciator=${mode}>${MODE_WORDS[mode]}${
          mode !== 'off' && !this.horn.available
            ? html` <span class="muted">(no audio here)</span>`
            : nothing
        }</span>
      </div>
    </section>`
  }
}

customElements.define('lw-alarm-banner', LwAlarmBanner)

declare global {
  interface HTMLElementTagNameMap {
    'lw-alarm-banner': LwAlarmBanner
  }
}
