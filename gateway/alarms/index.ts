import type { AlarmKpisView, AlarmState } from '../../rules/index.ts'
import type { AlarmCounts, AlarmEventView, AlarmView, PlantStateView } from '../contract.ts'
import type { AlarmSettingsChange } from './registry.ts'

export type { AlarmSettingsChange } from './registry.ts'
export { ALARM_STATEMENTS, createAlarmService } from './service.ts'

/**
 * The alarm system (ISA-18.2): one alarm per characteristic and condition, judged by the pure
 * rules (`rules/alarms/`: conditions with deadband and delays, the lifecycle state machine)
 * from what the pipeline judged, what the sources say about communication, and time.
 *
 * Everything runs on the judging thread, in the order the readings were judged, so two
 * readings can never raise one alarm twice. The alarms live in memory (the hot path never
 * reads the database); each change is written by the records writer, in the same transaction
 * as the nonconformance it opened, and an alarm's every transition is a row of its history
 * with who, when and why. On start the records give every alarm back its state.
 *
 * An alarm's condition is judged only when it could change: a reading inside the limits of an
 * alarm that is clear and has no delay running changes nothing, so it costs a comparison, and
 * such an alarm has no object in memory (registry.ts).
 *
 * The service is service.ts; the alarms in memory registry.ts; which alarms a configuration
 * defines catalogue.ts; the words words.ts.
 */
export interface AlarmService {
  start(): Promise<void>
  /**
   * In a cluster: these characteristics' alarms are judged here from now on, as the shared
   * records have them (the previous owner's last states).
   */
  adopt(ids: readonly string[]): void
  /** In a cluster: these characteristics' alarms are judged by another gateway now. */
  release(ids: readonly string[]): void
  stop(): Promise<void>
  /** Calls `done` once every alarm change made so far is committed. */
  whenDurable(done: () => void): void
  list(filter: {
    state?: AlarmState | AlarmState[]
    priority?: string
    area?: string
    characteristic?: string
    limit?: number
    /**
     * In a cluster: the plant's alarms, those other gateways judge included (as the shared
     * records have them). Without it, this gateway's own (its metrics).
     */
    plant?: boolean
  }): AlarmView[]
  /** An alarm; in a cluster, one another gateway judges as the shared records have it. */
  get(id: string): AlarmView | undefined
  /** The operator positions alarms belong to, sorted. */
  areas(): string[]
  /** Active and unacknowledged alarms per priority; `plant`: those other gateways judge too. */
  counts(plant?: boolean): AlarmCounts
  /**
   * An operator's or engineer's act; the alarm after it, or why it was refused. In a cluster an
   * alarm another gateway judges is acted on by that gateway (asked over the peers' bus);
   * `unavailable` when none answered (its partition is being taken over).
   */
  act(id: string, act: AlarmAct, by: string | null): Promise<AlarmActResult | undefined>
  /**
   * The same act on several alarms (a bulk acknowledgement): each one's result, as `act` gives
   * it. In a cluster those other gateways judge are asked of them all at once (one ask, whatever
   * their number), so the answer takes at most one ask's timeout, not one per alarm.
   */
  actMany(
    ids: readonly string[],
    act: AlarmAct,
    by: string | null,
  ): Promise<Map<string, AlarmActResult | undefined>>
  history(id: string, limit: number): Promise<AlarmEventView[]>
  kpis(range: { from: number; to: number; area?: string | undefined }): Promise<AlarmKpisView>
  /** An engineer's change of an alarm's settings, recorded in its history with who and why. */
  changeSettings(
    id: string,
    change: AlarmSettingsChange,
    by: string | null,
    reason: string,
  ): Promise<AlarmView | { refused: string; unavailable?: boolean } | undefined>
  plantStates(): PlantStateView[]
  setPlantState(
    id: string,
    active: boolean,
    by: string | null,
    reason: string,
  ): PlantStateView | { refused: string } | undefined
}

export type AlarmActResult =
  | AlarmView
  | { refused: string; invalid?: boolean | undefined; unavailable?: boolean | undefined }

export type AlarmAct =
  | { kind: 'acknowledge'; comment?: string | undefined }
  | { kind: 'shelve'; reason: string; minutes: number }
  | { kind: 'unshelve'; reason?: string | undefined }
  | { kind: 'remove-from-service'; reason: string }
  | { kind: 'return-to-service'; reason?: string | undefined }
