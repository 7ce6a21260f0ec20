/**
 * Plain data shared by every chart and rule. No I/O, no clock: time stamps arrive in the
 * input as UTC milliseconds since the epoch.
 */

/** One measured value of one characteristic. */
export interface Observation {
  ts: number
  value: number
}

/** Identifiers of the run rules (Nelson numbering). */
export type RuleId = 'N1' | 'N2'

/** One pane of a chart point (I-MR has the panes `i` and `mr`). `null` where not yet defined. */
export interface PanePoint {
  statistic: number | null
  center: number | null
  lcl: number | null
  ucl: number | null
}

/** A run rule that a point completes; `indices` are all the chart points forming the pattern. */
export interface Violation {
  rule: RuleId
  pane: string
  indices: number[]
}

/** What a chart emits for each plotted point. */
export interface ChartPoint {
  /** Position of the point in the chart's stream, from 0. */
  index: number
  ts: number
  /** `baseline` while the limits are being estimated (Phase I), `monitor` against frozen limits. */
  phase: 'baseline' | 'monitor'
  panes: Record<string, PanePoint>
  violations: Violation[]
}

/** Limits estimated from a baseline, or given, and then frozen. */
export interface ProcessLimits {
  center: number
  sigma: number
  /** How the limits came to be: estimated from the baseline readings, or given in the configuration. */
  basis: { kind: 'estimated'; count: number; firstTs: number; lastTs: number } | { kind: 'given' }
}
