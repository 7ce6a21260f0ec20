import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import type {
  AlarmEventView,
  AlarmPriority,
  AlarmsUpdate,
  AlarmView,
  PlantStateView,
  Role,
} from '../../gateway/contract.ts'
import { ApiFailure, api, failureText, isAbort } from './api.ts'
import { ClockController } from './clock-controller.ts'
import {
  ACT_LABEL,
  type AlarmAct,
  type AlarmFilter,
  actsFor,
  alarmQueries,
  areasOf,
  formatDuration,
  isUnacknowledged,
  matchesFilter,
  mayAct,
  mergeAlarms,
  minutesProblem,
  NO_FILTER,
  numberText,
  PRIORITIES,
  priorityWords,
  reasonProblem,
  roleNote,
  STATE_FILTERS,
  type StateFilter,
  sortAlarms,
  stateWords,
  valueLimitText,
} from './data/alarms.ts'
import { ChangesDuringRead } from './data/changes-during-read.ts'
import { formatDateTime } from './data/format.ts'
import { routeHash } from './data/route.ts'
import type { LiveController } from './live-controller.ts'
import { LiveSubscription } from './live-subscription.ts'
import { LoadController } from './load-controller.ts'
import { pageStyles } from './styles.ts'

/** The acts that ask for words first (a reason, and minutes for a shelve). */
type Asking = { id: string; act: 'shelve' | 'out-of-service' }

const DONE: Record<AlarmAct, string> = {
  acknowledge: 'Acknowledged',
  shelve: 'Shelved',
  unshelve: 'Unshelved',
  'out-of-service': 'Put out of service',
  'return-to-service': 'Returned to service',
}

const HISTORY_LIMIT = 100
const DEFAULT_SHELVE_MINUTES = 60

/** What a person is told when an act was refused, by the gateway's status. */
function actFailure(e: unknown): string {
  if (e instanceof ApiFailure) {
    if (e.status === 403) return `Not allowed: ${e.message}`
    if (e.status === 409) return `Not done: ${e.message}`
    if (e.status === 400) return `Not accepted: ${e.message}`
    if (e.status === 404) return 'Not done: this alarm is no longer configured.'
  }
  return failureText(e)
}

/**
 * The alarm list (ISA-18.2), as the page `#/alarms` or, with `characteristicId`, as the alarms of
 * one characteristic on its page. Filters by state (or a group of states), priority and area; each
 * row says priority and state in words, the message, the characteristic, since when it is active,
 * the value against its limit, and who shelved it until when and why. Operators acknowledge (one
 * or the selected rows together), shelve (a reason and minutes) and unshelve; engineers put an
 * alarm out of service and back. The acts a role may not do are not offered, and a note says why.
 * Opening a row shows its history. Read from REST, then kept current by the live `alarms` events
 * (read again on `resync` and after a reconnect).
 */
export class LwAlarmList extends LitElement {
  static override properties = {
    live: { attribute: false },
    role: { type: String },
    characteristicId: { type: String, attribute: 'characteristic-id' },
    alarms: { state: true },
    filter: { state: true },
    selected: { state: true },
    opened: { state: true },
    history: { state: true },
    historyProblem: { state: true },
    asking: { state: true },
    formProblem: { state: true },
    busy: { state: true },
    notice: { state: true },
    areas: { state: true },
    plantStates: { state: true },
  }

  declare live: LiveController | undefined
  declare role: Role | null
  /** alarms.maxShelveMinutes, from the session. */
  maxShelveMinutes: number | undefined = undefined
  /** Set: the alarms of this characteristic only (its page); empty: the alarm list page. */
  declare characteristicId: string
  declare alarms: readonly AlarmView[] | null
  declare filter: AlarmFilter
  /** Alarms selected for a bulk acknowledgement. */
  declare selected: ReadonlySet<string>
  /** The alarm whose history is open. */
  declare opened: string | null
  declare history: readonly AlarmEventView[] | null
  declare historyProblem: string | null
  declare asking: Asking | null
  declare formProblem: string | null
  declare busy: boolean
  declare notice: { ok: boolean; text: string } | null
  declare areas: readonly string[]
  declare plantStates: readonly PlantStateView[] | null

  private readonly loader: LoadController
  /** Live changes that come while the list is read: merged into the answer. */
  private readonly duringRead = new ChangesDuringRead<AlarmView>()
  private historyAbort: AbortController | null = null

  constructor() {
    super()
    this.role = null
    this.characteristicId = ''
    this.alarms = null
    this.filter = NO_FILTER
    this.selected = new Set()
    this.opened = null
    this.history = null
    this.historyProblem = null
    this.asking = null
    this.formProblem = null
    this.busy = false
    this.notice = null
    this.areas = []
    this.plantStates = null
    this.loader = new LoadController(this, (signal) => this.fetch(signal))
    new ClockController(this, 5000)
    new LiveSubscription(this, () => this.live, {
      alarms: (update) => this.onAlarms(update),
      'plant-states': (states) => {
        this.plantStates = states
      },
      resync: () => {
        void this.loader.load()
        if (this.opened) void this.loadHistory(this.opened)
      },
    })
  }

  override connectedCallback(): void {
    super.connectedCallback()
    if (!this.characteristicId) this.plantStates ??= this.live?.plantStates ?? null
    void this.loader.load()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.historyAbort?.abort()
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('characteristicId') && changed.get('characteristicId') !== undefined) {
      this.filter = { ...this.filter, characteristic: this.characteristicId }
      this.alarms = null
      this.opened = null
      this.asking = null
      this.selected = new Set()
      void this.loader.load()
    }
  }

  private async fetch(signal: AbortSignal): Promise<void> {
    const filter = { ...this.filter, characteristic: this.characteristicId }
    this.duringRead.begin()
    let all: AlarmView[]
    try {
      all = (await Promise.all(alarmQueries(filter).map((q) => api.alarms(q, signal)))).flat()
    } catch (err) {
      // No answer: what came meanwhile goes into the list shown, if there is one.
      const shown = this.alarms
      const kept = this.duringRead.settle(shown ?? [], (l, c) => mergeAlarms(l, c, filter))
      if (shown) this.alarms = kept
      throw err
    }
    this.alarms = this.duringRead.settle(
      sortAlarms(all.filter((a) => matchesFilter(a, filter))),
      (l, c) => mergeAlarms(l, c, filter),
    )
    this.keepSelection()
    // Every area the gateway knows (not only those of alarms seen), and the shelve limit: once.
    if (this.maxShelveMinutes === undefined) {
      const [areas, session] = await Promise.all([api.alarmAreas(signal), api.session(signal)])
      this.areas = areasOf([], areas)
      this.maxShelveMinutes = session.maxShelveMinutes
    }
    this.areas = areasOf(all, this.areas)
    // The plant states are a footnote: the list stands without them (live events bring them).
    if (!this.characteristicId && this.plantStates === null)
      this.plantStates = await api.plantStates(signal).catch(() => null)
  }

  private onAlarms(update: AlarmsUpdate): void {
    if (update.resync) {
      void this.loader.load()
      return
    }
    if (update.changed.length > 0) this.apply(update.changed)
  }

  /** Alarms changed (live, or the answer to an act here): merged into the list by id. */
  private apply(changed: readonly AlarmView[]): void {
    this.areas = areasOf(changed, this.areas)
    if (this.duringRead.take(changed) && this.alarms) {
      this.alarms = mergeAlarms(this.alarms, changed, {
        ...this.filter,
        characteristic: this.characteristicId,
      })
      this.keepSelection()
    }
    const opened = this.opened
    if (opened && changed.some((a) => a.id === opened)) void this.loadHistory(opened)
  }

  /** The selection keeps only the alarms shown that still wait for an acknowledgement. */
  private keepSelection(): void {
    if (this.selected.size === 0) return
    const ok = new Set(
      (this.alarms ?? []).filter((a) => isUnacknowledged(a.state)).map((a) => a.id),
    )
    const kept = [...this.selected].filter((id) => ok.has(id))
    if (kept.length !== this.selected.size) this.selected = new Set(kept)
  }

  private setFilter(patch: Partial<AlarmFilter>): void {
    this.filter = { ...this.filter, ...patch }
    this.alarms = null
    this.selected = new Set()
    void this.loader.load()
  }

  // ---- history -------------------------------------------------------------------------------

  private toggleHistory(id: string): void {
    if (this.opened === id) {
      this.opened = null
      this.historyAbort?.abort()
      return
    }
    this.opened = id
    this.history = null
    void this.loadHistory(id)
  }

  private async loadHistory(id: string): Promise<void> {
    this.historyAbort?.abort()
    const abort = new AbortController()
    this.historyAbort = abort
    try {
      const history = await api.alarmHistory(id, HISTORY_LIMIT, abort.signal)
      if (this.opened !== id) return
      this.history = history
      this.historyProblem = null
    } catch (e) {
      if (isAbort(e)) return
      if (this.opened === id) this.historyProblem = failureText(e)
    }
  }

  // ---- acts ----------------------------------------------------------------------------------

  private ask(id: string, act: Asking['act']): void {
    this.asking = { id, act }
    this.formProblem = null
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLInputElement>('form.act input[name="reason"]')?.focus(),
    )
  }

  private async act(id: string, act: AlarmAct, reason?: string, minutes?: number): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      let view: AlarmView
      switch (act) {
        case 'acknowledge':
          view = await api.acknowledgeAlarm(id)
          break
        case 'shelve':
          view = await api.shelveAlarm(id, reason ?? '', minutes ?? DEFAULT_SHELVE_MINUTES)
          break
        case 'unshelve':
          view = await api.unshelveAlarm(id)
          break
        case 'out-of-service':
          view = await api.removeAlarmFromService(id, reason ?? '')
          break
        case 'return-to-service':
          view = await api.returnAlarmToService(id)
          break
      }
      this.apply([view])
      this.asking = null
      this.formProblem = null
      this.notice = { ok: true, text: `${DONE[act]}: ${view.message}` }
    } catch (e) {
      const text = actFailure(e)
      if (this.asking?.id === id) this.formProblem = text
      else this.notice = { ok: false, text }
    } finally {
      this.busy = false
    }
  }

  private async submitForm(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const asking = this.asking
    if (!asking) return
    const form = e.currentTarget as HTMLFormElement
    const reason = (
      (form.elements.namedItem('reason') as HTMLInputElement | null)?.value ?? ''
    ).trim()
    const problem = reasonProblem(reason)
    if (problem) {
      this.formProblem = problem
      return
    }
    if (asking.act === 'shelve') {
      const minutes = Number(
        (form.elements.namedItem('minutes') as HTMLInputElement | null)?.value ?? '',
      )
      const wrong = minutesProblem(minutes, this.maxShelveMinutes)
      if (wrong) {
        this.formProblem = wrong
        return
      }
      await this.act(asking.id, 'shelve', reason, minutes)
    } else {
      await this.act(asking.id, 'out-of-service', reason)
    }
  }

  private async acknowledgeSelected(): Promise<void> {
    const ids = [...this.selected]
    if (ids.length === 0 || this.busy) return
    const comment =
      this.renderRoot.querySelector<HTMLInputElement>('input[name="comment"]')?.value.trim() ?? ''
    this.busy = true
    try {
      const result = await api.acknowledgeAlarms(ids, comment || undefined)
      this.apply(result.acknowledged)
      this.selected = new Set()
      const refused = result.refused.map((r) => `${r.id} (${r.reason})`).join('; ')
      this.notice = {
        ok: result.refused.length === 0,
        text: `Acknowledged ${result.acknowledged.length} of ${ids.length}.${refused ? ` Not acknowledged: ${refused}.` : ''}`,
      }
    } catch (e) {
      this.notice = { ok: false, text: actFailure(e) }
    } finally {
      this.busy = false
    }
  }

  private toggleSelected(id: string, on: boolean): void {
    const next = new Set(this.selected)
    if (on) next.add(id)
    else next.delete(id)
    this.selected = next
  }

  private selectAll(on: boolean): void {
    this.selected = on
      ? new Set((this.alarms ?? []).filter((a) => isUnacknowledged(a.state)).map((a) => a.id))
      : new Set()
  }

  static override styles = [
    pageStyles,
    css`
      :host {
        padding: 1em 1.4em 2em;
      }
      :host([characteristic-id]) {
        padding: 0;
      }
      .head {
        display: flex;
        align-items: flex-end;
        justify-content: space-between;
        flex-wrap: wrap;
        gap: 0.6em 1.5em;
        margin-bottom: 0.6em;
      }
      .filters,
      .bulk {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        gap: 0.5em 1em;
      }
      label.field {
        display: flex;
        flex-direction: column;
        gap: 0.2em;
        font-size: 0.9em;
        color: var(--lw-text-dim);
        font-weight: 600;
      }
      select,
      input {
        font: inherit;
        color: var(--lw-text);
        background: var(--lw-bg);
        border: 1px solid var(--lw-border);
        border-radius: 0.3em;
        padding: 0.3em 0.5em;
      }
      input[type='checkbox'] {
        width: 1.3em;
        height: 1.3em;
        accent-color: var(--lw-link);
      }
      .bulk {
        margin: 0.4em 0 0.8em;
      }
      .note {
        color: var(--lw-text-dim);
        margin: 0.3em 0 0.6em;
      }
      .notice {
        margin: 0.4em 0 0.8em;
        padding: 0.5em 0.8em;
        border-left: 0.35em solid var(--lw-link);
        background: var(--lw-surface);
      }
      .notice.problem-notice {
        border-left-color: var(--lw-alert);
      }
      tbody tr.alarm {
        cursor: pointer;
      }
      tbody tr.alarm:hover {
        background: var(--lw-surface);
      }
      tr.alarm[aria-expanded='true'] {
        background: var(--lw-surface-2);
      }
      .prio {
        display: inline-block;
        min-width: 5.5em;
        padding: 0.1em 0.45em;
        border: 2px solid var(--lw-border);
        border-radius: 0.25em;
        font-weight: 800;
        letter-spacing: 0.04em;
        text-align: center;
      }
      .prio.p-critical,
      .prio.p-high {
        border-color: var(--lw-action);
      }
      .prio.p-medium {
        border-color: var(--lw-alert);
      }
      tr.unack .prio.p-critical,
      tr.unack .prio.p-high {
        background: var(--lw-action);
        color: var(--lw-action-ink);
      }
      tr.unack .prio.p-medium {
        background: var(--lw-alert);
        color: var(--lw-alert-ink);
      }
      tr.unack .prio.p-low {
        background: var(--lw-text);
        color: var(--lw-bg);
      }
      .state {
        font-weight: 700;
      }
      tr.unack .state {
        text-decoration: underline;
        text-decoration-thickness: 2px;
      }
      .message {
        overflow-wrap: anywhere;
        font-weight: 600;
      }
      .sub {
        color: var(--lw-text-dim);
        font-size: 0.9em;
        font-weight: 400;
      }
      .acts {
        display: flex;
        flex-wrap: wrap;
        gap: 0.35em;
      }
      .acts button {
        font-size: 0.9em;
        padding: 0.25em 0.6em;
      }
      button:disabled {
        opacity: 0.6;
        cursor: progress;
      }
      tr.detail > td {
        background: var(--lw-surface-dim);
        padding: 0.6em 1em 1em;
      }
      form.act {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-end;
        gap: 0.5em 1em;
        border-left: 0.35em solid var(--lw-link);
        padding: 0.4em 0.8em;
        margin-bottom: 0.6em;
        background: var(--lw-surface);
      }
      form.act .reason {
        flex: 1 1 20em;
      }
      form.act .reason input {
        width: 100%;
        box-sizing: border-box;
      }
      form.act input[name='minutes'] {
        width: 6em;
      }
      button[type='submit'] {
        background: var(--lw-text);
        color: var(--lw-bg);
        font-weight: 700;
      }
      .form-problem {
        flex-basis: 100%;
        margin: 0;
        padding: 0.4em 0.7em;
        border-left: 0.35em solid var(--lw-alert);
        background: var(--lw-surface-2);
      }
      .history h3 {
        margin: 0.2em 0 0.4em;
        font-size: 1em;
        color: var(--lw-text-dim);
      }
      .arrow {
        color: var(--lw-text-dim);
        padding: 0 0.3em;
      }
      .why {
        overflow-wrap: anywhere;
      }
      td[data-part='value'] {
        white-space: nowrap;
      }
    `,
  ]

  protected override render() {
    const embedded = Boolean(this.characteristicId)
    const problem = this.loader.problem
    const note = roleNote(this.role)
    const mayAck = mayAct(this.role, 'acknowledge')
    const list = this.alarms
    return html`
      <div class="head">
        ${embedded ? html`<h2>Alarms</h2>` : html`<h1>Alarms</h1>`}
        ${embedded ? this.embeddedFilter() : this.filters()}
      </div>
      ${note ? html`<p class="note" data-part="role-note">${note}</p>` : nothing}
      ${mayAck && list?.some((a) => isUnacknowledged(a.state)) ? this.bulkBar() : nothing}
      ${
        this.notice
          ? html`<p class="notice ${this.notice.ok ? '' : 'problem-notice'}" role="status" data-part="notice">${this.notice.text}</p>`
          : nothing
      }
      ${problem ? html`<p class="problem">${problem}</p>` : nothing}
      ${
        list === null
          ? problem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : list.length === 0
            ? html`<p class="muted" data-part="empty">${
                embedded
                  ? this.filter.state === 'all'
                    ? 'This characteristic has no alarms configured.'
                    : 'No alarm of this characteristic is standing: all are normal.'
                  : 'No alarms match.'
              }</p>`
            : this.table(list, embedded, mayAck)
      }
      ${embedded ? nothing : this.plantStatesSection()}
    `
  }

  private filters() {
    const f = this.filter
    return html`<div class="filters" role="group" aria-label="Filter the alarms">
      <label class="field">State
        <select name="state" @change=${(e: Event) => this.setFilter({ state: (e.target as HTMLSelectElement).value as StateFilter })}>
          ${STATE_FILTERS.map((s) => html`<option value=${s.value} ?selected=${f.state === s.value}>${s.label}</option>`)}
        </select>
      </label>
      <label class="field">Priority
        <select name="priority" @change=${(e: Event) => this.setFilter({ priority: (e.target as HTMLSelectElement).value as AlarmPriority | '' })}>
          <option value="" ?selected=${f.priority === ''}>All priorities</option>
          ${PRIORITIES.map((p) => html`<option value=${p} ?selected=${f.priority === p}>${priorityWords(p)}</option>`)}
        </select>
      </label>
      <label class="field">Area
        <select name="area" @change=${(e: Event) => this.setFilter({ area: (e.target as HTMLSelectElement).value })}>
          <option value="" ?selected=${f.area === ''}>All areas</option>
          ${this.areas.map((a) => html`<option value=${a} ?selected=${f.area === a}>${a}</option>`)}
        </select>
      </label>
    </div>`
  }

  private embeddedFilter() {
    const all = this.filter.state === 'all'
    return html`<div class="filters" role="group" aria-label="Show">
      <button type="button" data-show="not-normal" aria-pressed=${String(!all)} @click=${() => this.setFilter({ state: 'not-normal' })}>Standing</button>
      <button type="button" data-show="all" aria-pressed=${String(all)} @click=${() => this.setFilter({ state: 'all' })}>All, normal too</button>
      <a href=${routeHash({ page: 'alarms' })}>All alarms →</a>
    </div>`
  }

  private bulkBar() {
    const n = this.selected.size
    return html`<div class="bulk" role="group" aria-label="Acknowledge the selected alarms">
      <label class="field">Comment (optional)
        <input name="comment" maxlength="2000" size="30" ?disabled=${this.busy} />
      </label>
      <button type="button" data-part="acknowledge-selected" ?disabled=${n === 0 || this.busy} @click=${() => void this.acknowledgeSelected()}>
        Acknowledge selected (${n})
      </button>
    </div>`
  }

  private table(list: readonly AlarmView[], embedded: boolean, mayAck: boolean) {
    const unack = list.filter((a) => isUnacknowledged(a.state))
    const allSelected = unack.length > 0 && unack.every((a) => this.selected.has(a.id))
    const columns = (mayAck ? 1 : 0) + (embedded ? 6 : 7)
    return html`<table>
      <thead>
        <tr>
          ${
            mayAck
              ? html`<th><input
                  type="checkbox"
                  aria-label="Select every unacknowledged alarm shown"
                  data-part="select-all"
                  .checked=${allSelected}
                  ?disabled=${unack.length === 0}
                  @change=${(e: Event) => this.selectAll((e.target as HTMLInputElement).checked)}
                /></th>`
              : nothing
          }
          <th>Priority</th>
          <th>State</th>
          <th>Alarm</th>
          ${embedded ? nothing : html`<th>Characteristic</th>`}
          <th>Active since</th>
          <th class="num">Value · limit</th>
          <th>Acts</th>
        </tr>
      </thead>
      <tbody>
        ${repeat(
          list,
          (a) => a.id,
          (a) => this.row(a, embedded, mayAck, columns),
        )}
      </tbody>
    </table>`
  }

  private row(a: AlarmView, embedded: boolean, mayAck: boolean, columns: number) {
    const now = this.live?.now() ?? Date.now()
    const open = this.opened === a.id
    const asking = this.asking?.id === a.id ? this.asking : null
    const acts = actsFor(a.state, this.role)
    const unack = isUnacknowledged(a.state)
    const main = html`<tr
      class="alarm ${unack ? 'unack' : ''}"
      data-alarm=${a.id}
      data-state=${a.state}
      data-priority=${a.priority}
      aria-expanded=${open ? 'true' : 'false'}
      @click=${(e: Event) => {
        if (!(e.target as Element).closest('a, button, input, select, label, form'))
          this.toggleHistory(a.id)
      }}
    >
      ${
        mayAck
          ? html`<td>${
              unack
                ? html`<input
                  type="checkbox"
                  data-part="select"
                  aria-label=${`Select ${a.message}`}
                  .checked=${this.selected.has(a.id)}
                  @change=${(e: Event) => this.toggleSelected(a.id, (e.target as HTMLInputElement).checked)}
                />`
                : nothing
            }</td>`
          : nothing
      }
      <td><span class="prio p-${a.priority}" data-part="priority">${priorityWords(a.priority)}</span></td>
      <td>
        <div class="state" data-part="state">${stateWords(a.state)}</div>
        ${a.state === 'shelved' ? this.shelvedText(a, now) : nothing}
      </td>
      <td class="message">
        <div data-part="message">${a.message}</div>
        <div class="sub">${a.condition}</div>
      </td>
      ${
        embedded
          ? nothing
          : html`<td>
            <a href=${routeHash({ page: 'characteristic', id: a.characteristic })} data-part="characteristic">${a.characteristicName}</a>
            <div class="sub">${a.area}</div>
          </td>`
      }
      <td data-part="active-since">${
        a.activeSince === null
          ? html`<span class="muted">not active</span>`
          : html`${formatDateTime(a.activeSince)}<div class="sub">for ${formatDuration(now - a.activeSince)}</div>`
      }</td>
      <td class="num" data-part="value">${valueLimitText(a)}</td>
      <td>
        <div class="acts">
          ${acts.map((act) => this.actButton(a, act))}
          <button type="button" data-act="history" aria-expanded=${open ? 'true' : 'false'} @click=${() => this.toggleHistory(a.id)}>History</button>
        </div>
      </td>
    </tr>`
    if (!open && !asking) return main
    return html`${main}<tr class="detail" data-detail-for=${a.id}>
      <td colspan=${columns}>
        ${asking ? this.form(a, asking) : nothing}
        ${open ? this.historyTable() : nothing}
      </td>
    </tr>`
  }

  private shelvedText(a: AlarmView, now: number) {
    return html`<div class="sub" data-part="shelved">
      ${a.shelvedUntil !== null ? html`until ${formatDateTime(a.shelvedUntil)} (${formatDuration(a.shelvedUntil - now)} left)` : nothing}
      ${a.shelvedBy ? html`· by ${a.shelvedBy}` : nothing}
      ${a.shelveReason ? html`· “${a.shelveReason}”` : nothing}
    </div>`
  }

  private actButton(a: AlarmView, act: AlarmAct) {
    const asks = act === 'shelve' || act === 'out-of-service'
    return html`<button
      type="button"
      data-act=${act}
      ?disabled=${this.busy}
      aria-expanded=${asks ? (this.asking?.id === a.id && this.asking.act === act ? 'true' : 'false') : nothing}
      @click=${() => {
        if (act === 'shelve' || act === 'out-of-service') this.ask(a.id, act)
        else void this.act(a.id, act)
      }}
    >${ACT_LABEL[act]}</button>`
  }

  private form(a: AlarmView, asking: Asking) {
    const shelve = asking.act === 'shelve'
    return html`<form class="act" data-act=${asking.act} @submit=${(e: SubmitEvent) => void this.submitForm(e)}>
      <label class="field reason">${shelve ? 'Why shelve it' : 'Why take it out of service'} (kept in its history, at least 3 characters)
        <input name="reason" maxlength="2000" autocomplete="off" ?disabled=${this.busy} />
      </label>
      ${
        shelve
          ? html`<label class="field">Minutes (it returns by itself)
            <input name="minutes" type="number" min="0" step="any" value=${DEFAULT_SHELVE_MINUTES} ?disabled=${this.busy} />
          </label>`
          : nothing
      }
      <button type="submit" ?disabled=${this.busy}>${shelve ? 'Shelve' : 'Put out of service'}</button>
      <button type="button" ?disabled=${this.busy} @click=${() => {
        this.asking = null
        this.formProblem = null
      }}>Cancel</button>
      ${this.formProblem ? html`<p class="form-problem" role="alert" data-part="form-problem">${this.formProblem}</p>` : nothing}
      <span class="sub">${a.message}</span>
    </form>`
  }

  private historyTable() {
    const h = this.history
    return html`<section class="history" data-part="history">
      <h3>History (newest first)</h3>
      ${this.historyProblem ? html`<p class="problem">${this.historyProblem}</p>` : nothing}
      ${
        h === null
          ? this.historyProblem
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : h.length === 0
            ? html`<p class="muted">No transitions recorded.</p>`
            : html`<table>
              <thead><tr><th>Time</th><th>From → to</th><th>By</th><th>Why</th><th class="num">Value</th></tr></thead>
              <tbody>
                ${h.map(
                  (e) => html`<tr data-event=${e.id} data-from=${e.from} data-to=${e.to}>
                    <td>${formatDateTime(e.at)}</td>
                    <td>${stateWords(e.from)}<span class="arrow">→</span>${stateWords(e.to)}</td>
                    <td>${e.by ?? html`<span class="muted">the process</span>`}</td>
                    <td class="why">${e.why}</td>
                    <td class="num">${numberText(e.value)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>`
  }

  private plantStatesSection() {
    const states = this.plantStates
    if (!states || states.length === 0) return nothing
    return html`<section data-part="plant-states">
      <h2>Plant states (suppress alarms by design while they hold)</h2>
      <table>
        <thead><tr><th>State</th><th>Now</th><th>Since</th><th>By</th><th>Why</th></tr></thead>
        <tbody>
          ${states.map(
            (s) => html`<tr data-plant-state=${s.id}>
              <td>${s.name}<div class="sub">${s.manual ? 'set by an operator' : 'follows a characteristic'}</div></td>
              <td><b>${s.active ? 'HOLDS' : 'does not hold'}</b></td>
              <td>${s.since === null ? '—' : formatDateTime(s.since)}</td>
              <td>${s.by ?? '—'}</td>
              <td class="why">${s.reason ?? '—'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>`
  }
}

customElements.define('lw-alarm-list', LwAlarmList)

declare global {
  interface HTMLElementTagNameMap {
    'lw-alarm-list': LwAlarmList
  }
}
