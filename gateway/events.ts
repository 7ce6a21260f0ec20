import type { Evaluation } from '../rules/index.ts'
import type { AlarmView, NcEvent, PlantStateView } from './contract.ts'
import type { CharacteristicRuntime } from './pipeline/runtime.ts'
import type { Communication, Reading } from './sources/types.ts'

/** What happens inside the gateway, for the services that react to it. */
export interface GatewayEvents {
  /** A reading was judged (or, with reading null, time closed a subgroup or the baseline ended). */
  evaluated: { runtime: CharacteristicRuntime; reading: Reading | null; evaluation: Evaluation }
  /** A nonconformance opened or changed. */
  nc: NcEvent
  /** A source lost or regained communication with what feeds some characteristics. */
  communication: Communication
  /**
   * An alarm changed: its state, or its condition (active, value) while its state held. Its view
   * is made when asked for, as it is then: an alarm can change many times before a listener
   * (the live hub, at its next flush) needs it once.
   */
  alarm: AlarmChange
  /** A plant state that suppresses alarms by design began or ended. */
  'plant-state': PlantStateView
}

/** An alarm that changed (GatewayEvents.alarm). */
export interface AlarmChange {
  readonly id: string
  view(): AlarmView
}

type Listener<T> = (payload: T) => void

/** Told of each listener that threw: the error and the event it was handling. */
export type ListenerErrorHandler = (err: unknown, event: keyof GatewayEvents) => void

/**
 * A small typed, synchronous event bus. A listener is registered for an owner and all of an
 * owner's listeners go when it stops, so no service leaves a listener behind. A listener that
 * throws does not stop the others: its error is counted (`errors()`) and passed to `onError`.
 */
export class EventBus {
  private readonly listeners = new Map<
    keyof GatewayEvents,
    Set<{ owner: object; fn: Listener<never> }>
  >()
  private readonly onError: ListenerErrorHandler | undefined
  private failures = 0

  constructor(options: { onError?: ListenerErrorHandler } = {}) {
    this.onError = options.onError
  }

  on<K extends keyof GatewayEvents>(event: K, owner: object, fn: Listener<GatewayEvents[K]>): void {
    let set = this.listeners.get(event)
    if (!set) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add({ owner, fn: fn as Listener<never> })
  }

  emit<K extends keyof GatewayEvents>(event: K, payload: GatewayEvents[K]): void {
    const set = this.listeners.get(event)
    if (!set) return
    for (const l of set) {
      try {
        ;(l.fn as Listener<GatewayEvents[K]>)(payload)
      } catch (err) {
        this.failures++
        try {
          this.onError?.(err, event)
        } catch {}
      }
    }
  }

  /** Listener calls that threw, since the bus was made. */
  errors(): number {
    return this.failures
  }

  removeOwner(owner: object): void {
    for (const set of this.listeners.values()) {
      for (const l of set) if (l.owner === owner) set.delete(l)
    }
  }
}
