import type { ChartSpec } from '../spec.ts'
import type { Subgroup } from '../subgroups.ts'
import type { Observation, PanePoint, ProcessLimits, Violation } from '../types.ts'

/**
 * What makes one chart type: its panes, its statistics and its estimator. Everything else
 * (subgrouping, Phase I and II, exclusion, replay, run rules) is the driver's, the same for
 * every chart.
 */

export type Estimate =
  | { ok: true; center: number; sigma: number; method: string }
  | { ok: false; reason: string }

export interface ChartKind<S = unknown> {
  readonly panes: readonly string[]
  /** The pane the configured run rules judge. */
  readonly primary: string
  /**
   * Which run rules judge the panes. `all`: the configured rules on the primary pane and N1 on
   * the others (Minitab's tests for special causes); `limits`: N1 on every pane (EWMA);
   * `none`: only the kind's own signals (CUSUM).
   */
  readonly rules: 'all' | 'limits' | 'none'
  /**
   * The panes of a point as a record keyed by pane name, from the slots in `panes` order. Each
   * kind writes its literal, so that every point of a kind has the same shape (the hot path).
   */
  record(panes: readonly PanePoint[]): Record<string, PanePoint>
  /** Problems with a spec for this chart (e.g. X̄-R needs subgroups of 2 to 25); empty when fine. */
  validate(spec: ChartSpec): string[]
  /**
   * Why an observation cannot go into this chart (e.g. a p chart needs a size ≥ the count), or
   * null. The gateway dead-letters such a reading; the offline command reports its row.
   */
  checkObservation(spec: ChartSpec, obs: Observation): string | null
  /** The statistics of a subgroup before any limits exist (null where they need the parameters). */
  preview(spec: ChartSpec, sg: Subgroup, previous: Subgroup | null): Record<string, number | null>
  /** Phase I: the parameters from the baseline subgroups marked included. */
  estimate(spec: ChartSpec, baseline: readonly Subgroup[], included: readonly boolean[]): Estimate
  /** Recursion state at the start of a stream (the previous value of I-MR, EWMA z₀, CUSUM C₀). */
  initStream(spec: ChartSpec, limits: ProcessLimits): S
  /**
   * The judged point of a subgroup against frozen parameters. Updates `stream` in place (the
   * recursion: the previous value of I-MR, EWMA's z, CUSUM's sums), writes each pane, in the
   * order of `panes`, to `out.panes[k]` (with the σ of its statistic, which its limits use and
   * the zone rules read: see PanePoint), and returns the kind's own signals (CUSUM).
   */
  point(
    spec: ChartSpec,
    limits: ProcessLimits,
    stream: S,
    sg: Subgroup,
    index: number,
    out: PaneSlots,
  ): readonly Violation[]
}

/** Where `ChartKind.point` writes a point's panes; owned by the caller. */
export interface PaneSlots {
  panes: PanePoint[]
}

export const NO_SIGNALS: readonly Violation[] = Object.freeze([])
