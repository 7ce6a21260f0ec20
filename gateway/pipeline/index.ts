import type { DatabaseSync } from 'node:sqlite'
import { evaluate } from '../../rules/index.ts'
import type { Config } from '../config/index.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import type { Reading, ReadingSink, RejectReason } from '../sources/types.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import { type ChartStates, createChartStates } from './chart-states.ts'
import { createDeadLetters, type DeadLetters } from './dead-letters.ts'
import { type CharacteristicRuntime, createRuntime } from './runtime.ts'

/**
 * The pipeline: every reading from every source is judged by the pure rules, written to the
 * time-series store with its chart point and deviations, and announced on the event bus (the
 * NC service and the live hub listen). Refused messages go to the dead letters.
 */
export interface Pipeline {
  readonly sink: ReadingSink
  readonly deadLetters: DeadLetters
  runtimes(): IterableIterator<CharacteristicRuntime>
  runtime(id: string): CharacteristicRuntime | undefined
  counters(): { readings: number; rejected: Record<RejectReason, number>; errors: number }
  start(): void
  /** Persists chart state and flushes the dead letters. */
  stop(): void
}

const PERSIST_EVERY_MS = 5000

export function createPipeline(ctx: {
  config: Config
  db: DatabaseSync
  store: TimeSeriesStore
  bus: EventBus
  /** The root logger: the pipeline and its dead letters each take a child. */
  log: Logger
}): Pipeline {
  const { config, store, bus } = ctx
  const log = ctx.log.child({ module: 'pipeline' })
  const runtimes = new Map<string, CharacteristicRuntime>()
  for (const c of config.characteristics) runtimes.set(c.id, createRuntime(config, c))
  const deadLetters = createDeadLetters(ctx.db, ctx.log.child({ module: 'dead-letters' }))
  const chartStates: ChartStates = createChartStates(ctx.db)
  let readings = 0
  let errors = 0
  let timer: NodeJS.Timeout | null = null

  /** A fault in a service must not take a source (and the broker in it) down: it is logged and counted. */
  function guardedIngest(reading: Reading): void {
    try {
      ingest(reading)
    } catch (err) {
      errors++
      log.error({ err, reading }, 'reading could not be processed')
    }
  }

  function ingest(reading: Reading): void {
    const rt = runtimes.get(reading.characteristic)
    if (!rt)
      throw new Error(
        `no characteristic ${reading.characteristic}: sources deliver mapped readings only`,
      )
    readings++
    const evaluation = evaluate(rt.spec, rt.state, reading)
    rt.state = evaluation.state
    rt.status = evaluation.status
    rt.last = { ts: reading.ts, value: reading.value }
    rt.recent.push(reading.ts, reading.value)
    rt.dirty = true

    store.write({
      kind: 'reading',
      characteristic: reading.characteristic,
      ts: reading.ts,
      value: reading.value,
    })
    store.write({ kind: 'chart', characteristic: reading.characteristic, point: evaluation.point })
    for (const deviation of evaluation.deviations) {
      store.write({
        kind: 'event',
        characteristic: reading.characteristic,
        ts: reading.ts,
        type: 'deviation',
        detail: JSON.stringify(deviation),
      })
    }
    if (evaluation.established) {
      // Frozen limits are persisted at once, not at the next periodic save.
      chartStates.save([rt])
      store.write({
        kind: 'event',
        characteristic: reading.characteristic,
        ts: reading.ts,
        type: 'limits-established',
        detail: JSON.stringify(evaluation.established),
      })
      log.info(
        { characteristic: rt.config.id, limits: evaluation.established },
        'control limits established and frozen',
      )
    }
    bus.emit('evaluated', { runtime: rt, reading, evaluation })
  }

  return {
    sink: { reading: guardedIngest, reject: (r) => deadLetters.add(r) },
    deadLetters,
    runtimes: () => runtimes.values(),
    runtime: (id) => runtimes.get(id),
    counters: () => ({ readings, rejected: deadLetters.counts(), errors }),

    start() {
      for (const rt of runtimes.values()) {
        const restored = chartStates.restore(rt)
        if (restored === 'spec-changed') {
          log.warn(
            { characteristic: rt.config.id },
            'chart configuration changed: limits are estimated anew',
          )
          store.write({
            kind: 'event',
            characteristic: rt.config.id,
            ts: Date.now(),
            type: 'chart-reset',
            detail: JSON.stringify({ reason: 'chart configuration changed' }),
          })
          rt.dirty = true
        }
      }
      timer = setInterval(() => chartStates.save(runtimes.values()), PERSIST_EVERY_MS)
    },

    stop() {
      if (timer) clearInterval(timer)
      timer = null
      chartStates.save(runtimes.values())
      deadLetters.stop()
    },
  }
}
