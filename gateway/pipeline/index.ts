import {
  type ChartPoint,
  checkObservation,
  type Deviation,
  type Evaluation,
  type Excursion,
  endBaseline,
  evaluate,
  initialCharacteristicState,
  measureOf,
  tick,
} from '../../rules/index.ts'
import type { Config } from '../config/index.ts'
import type { LimitChangeView } from '../contract.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../log.ts'
import type { RecentCounter } from '../recent-errors.ts'
import type { Reading, ReadingSink, RejectReason } from '../sources/types.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { ChartSnapshot, JournaledStore, SeriesRecord } from '../store/types.ts'
import { legacyChartStates, persist, restoreSnapshot } from './chart-states.ts'
import { createDeadLetters, type DeadLetters } from './dead-letters.ts'
import { createLimitChanges, type LimitChanges } from './limit-changes.ts'
import { type CharacteristicRuntime, controlView, createRuntimes } from './runtime.ts'

/**
 * The pipeline: every reading from every source is judged by the pure rules, written to the
 * time-series store with its chart points and deviations, and announced on the event bus (the
 * NC service and the live hub listen). Refused messages go to the dead letters. Limits
 * change only by an explicit, recorded act (`changeBaseline`, or a changed configuration).
 */
export interface Pipeline {
  readonly sink: ReadingSink
  readonly deadLetters: DeadLetters
  readonly limitChanges: LimitChanges
  runtimes(): IterableIterator<CharacteristicRuntime>
  runtime(id: string): CharacteristicRuntime | undefined
  counters(): {
    readings: number
    rejected: Record<RejectReason, number>
    errors: number
    /** Readings replayed from the journal at the last start (the chart state they produced). */
    replayed: number
    /** Readings of a characteristic another gateway judges (cluster), not taken. */
    notOwned: number
  }
  /**
   * Pipeline lag samples (ms from a reading's receipt by its source to its judgement, store
   * writes and events included) taken since the last call, and the latest. One reading per
   * snapshot tick (250 ms) is timed, so the hot path reads no clock for the others.
   */
  takeLags(): { samples: number[]; latest: number | null }
  /**
   * restart: Phase I anew (the next subgroups estimate new limits); end-baseline: freeze the
   * limits now from the baseline collected so far. Recorded with who and why.
   */
  changeBaseline(
    id: string,
    action: 'restart' | 'end-baseline',
    reason: string,
    actor: string | null,
  ): LimitChangeView | string
  /**
   * Restores every chart from the journal (snapshot, then the readings after it), then runs. In
   * a cluster (`leased`), no chart is judged until its partition is adopted.
   */
  start(): Promise<void>
  /**
   * A cluster took these characteristics' partition over: their charts are restored from the
   * shared journal (the previous owner's last snapshot and its committed readings after it),
   * and judged from now on.
   */
  adopt(ids: readonly string[]): Promise<void>
  /**
   * These characteristics are no longer judged here. `handover`: the lease is given up
   * gracefully, so their charts are snapshotted first (the caller flushes the store); else the
   * lease was lost and nothing more is written for them (the journal would refuse it).
   */
  release(ids: readonly string[], handover: boolean): void
  /** Snapshots chart state and flushes the dead letters. */
  stop(): void
}

/**
 * A chart that changed is snapshotted about this long after it changed (once, however many
 * readings it took meanwhile): what a restart replays. At most SNAPSHOTS_PER_SECOND are
 * written (a plant of 100,000 charts is snapshotted over 20 s, not in one burst); beyond that
 * the delay grows.
 */
const SNAPSHOT_AFTER_MS = 5000
const SNAPSHOTS_PER_SECOND = 5000
const SNAPSHOT_TICK_MS = 250
/** The journal's covered readings are compacted this often. */
const CHECKPOINT_EVERY_MS = 5000
/** Time-window subgroups close on a tick as well as on the next reading. */
const TICK_MS = 1000
/** Lag samples kept unread at most (one per snapshot tick: over 4 minutes without a scrape). */
const MAX_LAG_SAMPLES = 1024

export function createPipeline(ctx: {
  config: Config
  db: RecordsDb
  store: JournaledStore
  bus: EventBus
  /** The root logger: the pipeline and its dead letters each take a child. */
  log: Logger
  /** Where failures are counted for health (over a recent window). */
  recentErrors: RecentCounter
  /** In a cluster: characteristics are judged only once adopted (their partition leased). */
  leased?: boolean
}): Pipeline {
  const { config, store, bus } = ctx
  const log = ctx.log.child({ module: 'pipeline' })
  const runtimes = createRuntimes(config)
  if (ctx.leased) for (const rt of runtimes.values()) rt.owned = false
  const timed = [...runtimes.values()].filter((rt) => rt.spec.chart.subgroup.by === 'time')
  const deadLetters = createDeadLetters(ctx.db, ctx.log.child({ module: 'dead-letters' }), {
    maxCount: config.deadLetters.maxCount,
    maxBytes: config.deadLetters.maxBytes,
  })
  const chartStates = legacyChartStates(ctx.db)
  const limitChanges = createLimitChanges(ctx.db)
  /** The last reason Phase I could not end, per characteristic (logged once per reason). */
  const estimateFailures = new Map<string, string>()
  let readings = 0
  let errors = 0
  let replayed = 0
  /** Readings for a characteristic judged elsewhere (a message arriving as its lease went). */
  let notOwned = 0
  const timers: NodeJS.Timeout[] = []
  /** Charts that changed, in the order they did (a chart snapshotted since is skipped). */
  let changed: CharacteristicRuntime[] = []
  let changedHead = 0
  /** The time of the last snapshot tick: when a chart changed, to a tick (no clock per reading). */
  let clock = Date.now()
  /** Set on each snapshot tick: the next reading with a receive time is timed (takeLags). */
  let lagDue = true
  let lags: number[] = []
  let latestLag: number | null = null

  /** A fault in a service must not take a source (and the broker in it) down: it is logged and counted. */
  function failed(err: unknown, what: object): void {
    errors++
    ctx.recentErrors.add(Date.now())
    log.error({ err, ...what }, 'reading could not be processed')
  }
  function guarded(work: () => void, what: object): void {
    try {
      work()
    } catch (err) {
      failed(err, what)
    }
  }

  function ingest(reading: Reading): void {
    const rt = runtimes.get(reading.characteristic)
    if (!rt)
      throw new Error(
        `no characteristic ${reading.characteristic}: sources deliver mapped readings only`,
      )
    // Not acknowledged either: the broker gives it to the gateway that holds the lease now.
    if (!rt.owned) {
      notOwned++
      return
    }
    const problem = checkObservation(rt.spec.chart, reading)
    if (problem) {
      // The payload was well formed, but this chart cannot take it (e.g. a p chart without a size).
      deadLetters.add({
        source: 'pipeline',
        reason: 'bad-shape',
        detail: `${rt.config.id} (${rt.spec.chart.type} chart): ${problem}`,
        address: rt.config.id,
        payload: Buffer.from(JSON.stringify(reading)),
        ts: Date.now(),
      })
      return
    }
    readings++
    rt.seq++
    store.write({
      kind: 'reading',
      characteristic: rt.config.id,
      ts: reading.ts,
      value: reading.value,
      seq: rt.seq,
      size: reading.size,
      key: reading.key,
      received: reading.receivedAt,
    })
    apply(rt, judge(rt, reading), reading)
    if (lagDue && reading.receivedAt !== undefined) {
      lagDue = false
      latestLag = Date.now() - reading.receivedAt
      // Kept until read (at a scrape): bounded when nothing reads them.
      if (lags.length < MAX_LAG_SAMPLES) lags.push(latestLag)
    }
  }

  /** The rules' verdict on a reading, with what the runtime keeps of it. */
  function judge(rt: CharacteristicRuntime, reading: Reading): Evaluation {
    // What the alarm limits judge: the value, or for p and u readings the proportion or rate.
    const measure = measureOf(rt.spec.chart.type, reading)
    // In place: nothing keeps it (the live hub and snapshots copy it when they send it).
    if (rt.last) {
      rt.last.ts = reading.ts
      rt.last.value = measure
    } else rt.last = { ts: reading.ts, value: measure }
    rt.recent.push(reading.ts, measure)
    return evaluate(rt.spec, rt.state, reading)
  }

  /** Takes an evaluation's result into the runtime (also on replay, where nothing is written). */
  function adopt(rt: CharacteristicRuntime, evaluation: Evaluation): void {
    rt.state = evaluation.state
    rt.status = evaluation.status
    if (!rt.dirty) {
      rt.dirty = true
      rt.changedAt = clock
      changed.push(rt)
    }
    rt.lastPoint = evaluation.points.at(-1) ?? rt.lastPoint
    if (evaluation.established)
      rt.lastPoint = evaluation.established.baseline.at(-1) ?? rt.lastPoint
  }

  /**
   * Writes the chart state after the runtime's latest reading, in that reading's batch: the
   * state a restart starts from before it replays the readings after it.
   */
  function snapshot(rt: CharacteristicRuntime): void {
    store.write({
      kind: 'snapshot',
      characteristic: rt.config.id,
      seq: rt.seq,
      specHash: rt.specHash,
      state: persist(rt),
    })
    rt.dirty = false
  }

  /** Snapshots the charts that changed SNAPSHOT_AFTER_MS ago or earlier, oldest first, within the tick's share. */
  function snapshotDue(): void {
    clock = Date.now()
    lagDue = true
    let budget = (SNAPSHOTS_PER_SECOND * SNAPSHOT_TICK_MS) / 1000
    while (changedHead < changed.length && budget > 0) {
      const rt = changed[changedHead] as CharacteristicRuntime
      if (rt.changedAt > clock - SNAPSHOT_AFTER_MS) break
      changedHead++
      if (rt.dirty && rt.owned) {
        snapshot(rt)
        budget--
      }
    }
    if (changedHead > 1024 && changedHead * 2 > changed.length) {
      changed = changed.slice(changedHead)
      changedHead = 0
    }
  }

  function snapshotAll(): void {
    for (const rt of runtimes.values()) if (rt.dirty && rt.owned) snapshot(rt)
    changed = []
    changedHead = 0
    store.checkpoint()
  }

  /** The store's write, made once (a default parameter's arrow would be a new closure per call). */
  const toStore = (record: SeriesRecord) => store.write(record)

  /** An evaluation's chart points and the starts and ends of its deviations, to the store. */
  function writeSeries(
    id: string,
    evaluation: Evaluation,
    write: (record: SeriesRecord) => void = toStore,
  ): void {
    // Indexed loops: an evaluation's arrays are often frozen empty ones, and an iterator over
    // arrays of several shapes is an object made per loop.
    const { points, deviations, ended } = evaluation
    for (let i = 0; i < points.length; i++)
      write({ kind: 'chart', characteristic: id, point: points[i] as ChartPoint })
    // An excursion is written when it starts and when it ends (with its span and count), not
    // once per reading it lasts: the record's size does not grow with the violation's length.
    for (let i = 0; i < deviations.length; i++) {
      const deviation = deviations[i] as Deviation
      if (!deviation.onset) continue
      write({
        kind: 'event',
        characteristic: id,
        ts: deviation.ts,
        type: 'deviation',
        detail: JSON.stringify(deviation),
      })
    }
    for (let i = 0; i < ended.length; i++) {
      const excursion = ended[i] as Excursion
      write({
        kind: 'event',
        characteristic: id,
        ts: excursion.last,
        type: 'deviation-end',
        detail: JSON.stringify(excursion),
      })
    }
  }

  /** Takes an evaluation's result: state, store, events. */
  function apply(rt: CharacteristicRuntime, evaluation: Evaluation, reading: Reading | null): void {
    const id = rt.config.id
    adopt(rt, evaluation)
    writeSeries(id, evaluation)
    const established = evaluation.established
    // Limits frozen, or a subgroup closed by time (not by a reading a replay would see): the
    // state is snapshotted at once, not at the next periodic snapshot.
    if (established || reading === null) snapshot(rt)
    if (established) {
      estimateFailures.delete(id)
      const flagged = established.baseline.filter((p) => p.violations.length > 0 || p.excluded)
      store.write({
        kind: 'event',
        characteristic: id,
        ts: established.ts,
        type: 'limits-established',
        detail: JSON.stringify({
          limits: established.limits,
          // The baseline judged against its own limits: what a Phase I review looks at.
          flagged: flagged.map((p) => ({
            index: p.index,
            rules: p.violations.map((v) => v.rule),
            excluded: p.excluded === true,
          })),
        }),
      })
      log.info(
        { characteristic: id, limits: established.limits, flagged: flagged.length },
        'control limits established and frozen',
      )
    }
    if (evaluation.estimateFailed && estimateFailures.get(id) !== evaluation.estimateFailed) {
      estimateFailures.set(id, evaluation.estimateFailed)
      log.warn(
        { characteristic: id, reason: evaluation.estimateFailed },
        'limits cannot be estimated yet; collecting more baseline',
      )
    }
    bus.emit('evaluated', { runtime: rt, reading, evaluation })
  }

  function record(
    rt: CharacteristicRuntime,
    action: LimitChangeView['action'],
    reason: string,
    actor: string | null,
    before: ReturnType<typeof controlView>,
  ) {
    const change = limitChanges.record({
      characteristic: rt.config.id,
      ts: Date.now(),
      action,
      reason,
      actor,
      before,
      after: controlView(rt.state.chart.limits, rt.lastPoint),
    })
    store.write({
      kind: 'event',
      characteristic: rt.config.id,
      ts: change.ts,
      type: 'limit-change',
      detail: JSON.stringify(change),
    })
    log.info({ characteristic: rt.config.id, action, reason, actor }, 'chart limits changed')
    return change
  }

  /**
   * Restores charts from the journal: each from its snapshot (or, for a data directory from
   * before the journal, the records database), then the committed readings after it judged
   * again, so the chart continues as an uninterrupted run would. Their points and events were
   * stored the first time.
   */
  async function restore(
    rts: readonly CharacteristicRuntime[],
    saved: readonly ChartSnapshot[],
  ): Promise<void> {
    const snapshots = new Map(saved.map((s) => [s.characteristic, s]))
    const before = replayed
    for (const rt of rts) {
      rt.owned = true
      const saved = snapshots.get(rt.config.id)
      const restored = saved ? restoreSnapshot(rt, saved) : chartStates.restore(rt)
      rt.seq = saved?.seq ?? 0
      if (restored.result === 'spec-changed') {
        log.warn(
          { characteristic: rt.config.id },
          'chart configuration changed: limits are estimated anew',
        )
        const { limits, lastPoint } = restored.previous
        record(
          rt,
          'configuration',
          'the chart configuration changed',
          null,
          controlView(limits, lastPoint),
        )
        // The new chart starts here: the readings after the old snapshot are not replayed.
        snapshot(rt)
        continue
      }
      for (const r of await store.readingsAfter(rt.config.id, saved?.seq ?? 0)) {
        const reading: Reading = {
          characteristic: rt.config.id,
          ts: r.ts,
          value: r.value,
          size: r.size ?? undefined,
          key: r.key ?? undefined,
        }
        rt.seq = r.seq
        replayed++
        guarded(
          () => {
            const evaluation = judge(rt, reading)
            adopt(rt, evaluation)
            if (store.rewrite) rewrite(rt, r, evaluation)
          },
          { replay: reading },
        )
      }
    }
    if (replayed > before)
      log.info({ replayed: replayed - before }, 'chart states recovered from the journal')
  }

  /**
   * A replayed reading's series written again (store.rewrite): the journal may have committed
   * a batch whose time series write (InfluxDB) had not completed when the gateway died. Writing
   * the same reading, points and events again overwrites them with the same values there; the
   * journal, which has the reading, is not written again (a second copy would be replayed twice).
   */
  function rewrite(
    rt: CharacteristicRuntime,
    r: { seq: number; ts: number; value: number },
    evaluation: Evaluation,
  ): void {
    const characteristic = rt.config.id
    const again = (record: SeriesRecord) => store.rewrite?.(record)
    again({ kind: 'reading', characteristic, ts: r.ts, value: r.value, seq: r.seq })
    writeSeries(characteristic, evaluation, again)
  }

  /** A runtime as configured, before any reading: what a chart taken over is restored onto. */
  function reset(rt: CharacteristicRuntime): void {
    rt.state = initialCharacteristicState(rt.spec)
    rt.status = 'no-data'
    rt.last = null
    rt.lastPoint = null
    rt.recent.clear()
    rt.seq = 0
    rt.dirty = false
  }

  return {
    sink: {
      // The hot path: no closure per reading.
      reading(reading) {
        try {
          ingest(reading)
        } catch (err) {
          failed(err, { reading })
        }
      },
      reject: (r) => deadLetters.add(r),
      durable: (done) => store.whenDurable(done),
      remember: (delivery) => store.write({ kind: 'delivery', delivery }),
      communication: (update) => bus.emit('communication', update),
    },
    deadLetters,
    limitChanges,
    runtimes: () => runtimes.values(),
    runtime: (id) => runtimes.get(id),
    counters: () => ({ readings, rejected: deadLetters.counts(), errors, replayed, notOwned }),
    takeLags() {
      const samples = lags
      lags = []
      return { samples, latest: latestLag }
    },

    changeBaseline(id, action, reason, actor) {
      const rt = runtimes.get(id)
      if (!rt) return `no characteristic "${id}"`
      const before = controlView(rt.state.chart.limits, rt.lastPoint)
      if (action === 'restart') {
        if (rt.spec.chart.given)
          return 'this chart has given limits: change them in the configuration'
        rt.state = initialCharacteristicState(rt.spec)
        rt.status = rt.last ? 'baseline' : 'no-data'
        rt.lastPoint = null
        snapshot(rt)
      } else {
        if (rt.state.chart.limits) return 'the limits are already frozen'
        const evaluation = endBaseline(rt.spec, rt.state, Date.now())
        if (!evaluation.established) return evaluation.estimateFailed ?? 'no baseline collected yet'
        apply(rt, evaluation, null)
      }
      return record(rt, action, reason, actor, before)
    },

    async start() {
      if (!ctx.leased) await restore([...runtimes.values()], await store.snapshots())
      timers.push(setInterval(snapshotDue, SNAPSHOT_TICK_MS))
      timers.push(setInterval(() => store.checkpoint(), CHECKPOINT_EVERY_MS))
      if (timed.length > 0) {
        timers.push(
          setInterval(() => {
            const now = Date.now()
            for (const rt of timed) {
              if (!rt.owned) continue
              guarded(
                () => {
                  const evaluation = tick(rt.spec, rt.state, now)
                  if (evaluation.points.length > 0 || evaluation.established)
                    apply(rt, evaluation, null)
                },
                { characteristic: rt.config.id },
              )
            }
          }, TICK_MS),
        )
      }
    },

    async adopt(ids) {
      const rts = ids.flatMap((id) => runtimes.get(id) ?? [])
      for (const rt of rts) reset(rt)
      await restore(rts, await store.snapshots(ids))
    },

    release(ids, handover) {
      for (const id of ids) {
        const rt = runtimes.get(id)
        if (!rt?.owned) continue
        if (handover && rt.dirty) snapshot(rt)
        rt.owned = false
        reset(rt)
      }
    },

    stop() {
      for (const t of timers) clearInterval(t)
      timers.length = 0
      snapshotAll()
      deadLetters.stop()
    },
  }
}
