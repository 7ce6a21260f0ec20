/**
 * The GMP cleanroom profile: EU GMP Annex 1 (2022) total-particle limits and the Annex's
 * expectation for ≥ 5 µm counts in grade A, excursion durations, and the classification of a
 * room after ISO 14644-1:2015. Pure: no I/O, no clock; time stamps (UTC milliseconds) arrive
 * with the readings; every state is plain JSON.
 *
 * Sources (docs/cleanroom.md has the tables):
 * - EU GMP Annex 1 "Manufacture of Sterile Medicinal Products" (EudraLex Vol. 4, 25 August 2022;
 *   the same text, paragraph and table numbers as PIC/S PE 009-17 Annex 1, 25 August 2023).
 *   Table 1 (paragraph 4.27): maximum permitted total particle concentration for
 *   classification. Table 5 (paragraph 9.15): maximum permitted total particle concentration
 *   for monitoring; paragraph 9.9 makes these the maximum action limits.
 * - ISO 14644-1:2015 "Cleanrooms and associated controlled environments — Part 1:
 *   Classification of air cleanliness by particle concentration": Formula (1) and Table 1
 *   (4.3), Table A.1 and Formula (A.1) (A.4.1), Formula (A.2) (A.4.4), A.6.
 */

// ============================================================================ EU GMP Annex 1

export type Annex1Grade = 'A' | 'B' | 'C' | 'D'
export type Annex1State = 'at-rest' | 'in-operation'
/** Particle size threshold in µm: the Annex's tables count particles ≥ 0.5 µm and ≥ 5 µm. */
export type Annex1Size = 0.5 | 5

export const ANNEX1_GRADES: readonly Annex1Grade[] = ['A', 'B', 'C', 'D']
export const ANNEX1_STATES: readonly Annex1State[] = ['at-rest', 'in-operation']
export const ANNEX1_SIZES: readonly Annex1Size[] = [0.5, 5]

/**
 * A cell of an Annex 1 particle table: the maximum particles per m³ at or above the size, or the
 * Annex's words where it gives no number.
 */
export type Annex1Cell = number | 'not specified' | 'not predetermined'

export type Annex1Table = Readonly<
  Record<Annex1Grade, Readonly<Record<Annex1State, Readonly<Record<Annex1Size, Annex1Cell>>>>>
>

/**
 * Annex 1 (2022) Table 1, "Maximum permitted total particle concentration for classification"
 * (paragraph 4.27), particles/m³.
 *
 * Footnote (a) to "not specified": "Classification including 5µm particles may be considered
 * where indicated by the CCS or historical trends." Footnote (b) to "not predetermined": "For
 * grade D, in operation limits are not predetermined. The manufacturer should establish in
 * operation limits based on a risk assessment and routine data where applicable."
 */
export const ANNEX1_TABLE_1: Annex1Table = {
  A: {
    'at-rest': { 0.5: 3_520, 5: 'not specified' },
    'in-operation': { 0.5: 3_520, 5: 'not specified' },
  },
  B: {
    'at-rest': { 0.5: 3_520, 5: 'not specified' },
    'in-operation': { 0.5: 352_000, 5: 2_930 },
  },
  C: {
    'at-rest': { 0.5: 352_000, 5: 2_930 },
    'in-operation': { 0.5: 3_520_000, 5: 29_300 },
  },
  D: {
    'at-rest': { 0.5: 3_520_000, 5: 29_300 },
    'in-operation': { 0.5: 'not predetermined', 5: 'not predetermined' },
  },
}

/**
 * Annex 1 (2022) Table 5, "Maximum permitted total particle concentration for monitoring"
 * (paragraph 9.15), particles/m³. Paragraph 9.9: "The maximum total particle action limits are
 * described in Table 5 […]. However, more stringent action limits may be applied based on data
 * trending, the nature of the process or as determined within the CCS."
 *
 * Unlike Table 1 it gives ≥ 5 µm limits for grade A (29) and grade B at rest (29). Footnote (a)
 * to "not predetermined": "For grade D, in operation limits are not predetermined. The
 * manufacturer should establish in operation limits based on a risk assessment and on routine
 * data, where applicable."
 */
export const ANNEX1_TABLE_5: Annex1Table = {
  A: {
    'at-rest': { 0.5: 3_520, 5: 29 },
    'in-operation': { 0.5: 3_520, 5: 29 },
  },
  B: {
    'at-rest': { 0.5: 3_520, 5: 29 },
    'in-operation': { 0.5: 352_000, 5: 2_930 },
  },
  C: {
    'at-rest': { 0.5: 352_000, 5: 2_930 },
    'in-operation': { 0.5: 3_520_000, 5: 29_300 },
  },
  D: {
    'at-rest': { 0.5: 3_520_000, 5: 29_300 },
    'in-operation': { 0.5: 'not predetermined', 5: 'not predetermined' },
  },
}

function cellLimit(cell: Annex1Cell): number | null {
  return typeof cell === 'number' ? cell : null
}

/**
 * The Annex 1 (2022) maximum total-particle action limit for routine monitoring, particles/m³ at
 * or above `sizeUm`: Table 5 (paragraphs 9.9 and 9.15). Null where the Annex gives no number
 * (grade D in operation, "not predetermined": the manufacturer sets it from a risk assessment
 * and routine data). A site may set stricter action limits (9.9, 9.12).
 */
export function annex1ActionLimit(
  grade: Annex1Grade,
  state: Annex1State,
  sizeUm: Annex1Size,
): number | null {
  return cellLimit(ANNEX1_TABLE_5[grade][state][sizeUm])
}

/**
 * The Annex 1 (2022) limit for cleanroom classification, particles/m³ at or above `sizeUm`:
 * Table 1 (paragraph 4.27). Null where the Annex says "not specified" (≥ 5 µm in grade A, and
 * grade B at rest) or "not predetermined" (grade D in operation).
 */
export function annex1ClassificationLimit(
  grade: Annex1Grade,
  state: Annex1State,
  sizeUm: Annex1Size,
): number | null {
  return cellLimit(ANNEX1_TABLE_1[grade][state][sizeUm])
}

// ------------------------------------------------------------------------------ alert levels

/**
 * linewatch's default alert level as a fraction of the action limit. A default for a new
 * characteristic, not a requirement: Annex 1 gives no number. It asks that alert levels "be
 * established based on results of cleanroom qualification tests and periodically reviewed
 * based on ongoing trend data" (9.9), set "such that adverse trends […] are detected and
 * addressed" (9.10); see `alertLevelFromData`.
 */
export const DEFAULT_ALERT_FRACTION = 0.8

function checkLimit(actionLimit: number): void {
  if (!Number.isFinite(actionLimit) || actionLimit <= 0)
    throw new RangeError(`the action limit must be a positive number, not ${actionLimit}`)
}

function checkFraction(fraction: number): void {
  if (!(fraction > 0 && fraction < 1))
    throw new RangeError(`the alert fraction must be between 0 and 1 (exclusive), not ${fraction}`)
}

/**
 * A suggested alert level below an action limit: `fraction` × the limit, rounded down to a whole
 * number of particles per m³ (rounding makes it stricter, never looser). E.g. 0.8 × 3 520 = 2 816;
 * 0.8 × 29 = 23.2 → 23.
 */
export function suggestedAlertLevel(
  actionLimit: number,
  fraction = DEFAULT_ALERT_FRACTION,
): number {
  checkLimit(actionLimit)
  checkFraction(fraction)
  return Math.floor(actionLimit * fraction)
}

/** linewatch's default quantile of qualification or trend data for a data-based alert level. */
export const DEFAULT_ALERT_QUANTILE = 0.95

export interface DataAlertLevel {
  level: number
  /** `data`: the quantile of the readings; `fraction`: `suggestedAlertLevel`, used instead. */
  basis: 'data' | 'fraction'
  /** Why the fraction was used (no readings, or a quantile not below the action limit). */
  reason?: string
}

/**
 * An alert level from qualification or routine trend data, as Annex 1 9.9 asks: the `quantile`
 * (nearest rank: the smallest reading with at least that share of readings at or below it) of
 * the readings, particles/m³. When there are no readings, or the quantile is not below the action
 * limit (an alert level at or above it warns of nothing), `suggestedAlertLevel(actionLimit,
 * fraction)` instead, with the reason. Non-finite readings are left out. A quantile of 0 (a
 * grade A ≥ 5 µm trend of zeros) means any count alerts.
 */
export function alertLevelFromData(
  readings: readonly number[],
  actionLimit: number,
  options: { quantile?: number; fraction?: number } = {},
): DataAlertLevel {
  checkLimit(actionLimit)
  const quantile = options.quantile ?? DEFAULT_ALERT_QUANTILE
  const fraction = options.fraction ?? DEFAULT_ALERT_FRACTION
  if (!(quantile > 0 && quantile <= 1))
    throw new RangeError(`the quantile must be in (0, 1], not ${quantile}`)
  checkFraction(fraction)
  const sorted = readings.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  const fallback = (reason: string): DataAlertLevel => ({
    level: suggestedAlertLevel(actionLimit, fraction),
    basis: 'fraction',
    reason,
  })
  if (sorted.length === 0) return fallback('no readings')
  const level = sorted[Math.ceil(quantile * sorted.length) - 1] as number
  if (level >= actionLimit)
    return fallback(
      `the ${quantile} quantile of the readings (${level}) is not below the action limit (${actionLimit})`,
    )
  return { level, basis: 'data' }
}

// --------------------------------------------------------- grade A ≥ 5 µm: Table 5, Note 2

/**
 * Settings of the grade A ≥ 5 µm rule. Annex 1 (2022) Table 5, Note 2: "The occasional
 * indication of macro particle counts, especially ≥ 5 µm, within grade A may be considered to be
 * false counts due to electronic noise, stray light, coincidence loss etc. However, consecutive
 * or regular counting of low levels may be indicative of a possible contamination event and
 * should be investigated."
 *
 * The Annex gives no numbers; the defaults (`GRADE_A_5UM_DEFAULTS`) are linewatch's reading of
 * those words, to be set from the site's qualification data and CCS.
 */
export interface GradeA5umSettings {
  /** A sample "counts" when its ≥ 5 µm count (or concentration) is above this. */
  above: number
  /** Counting samples in a row that signal ("consecutive … counting"). */
  consecutive: number
  /** Counting samples within `windowMs` that signal ("regular counting"). */
  regular: { count: number; windowMs: number }
}

/**
 * Defaults: any particle counts (`above: 0`: at a grade A limit of 29 /m³ one particle in a
 * 28.3 L sample, 35 /m³, is already above it, so the rule works on raw counts); a single counting
 * sample never signals ("occasional" is tolerated); two in a row, the least that is
 * "consecutive", signal; three within 30 minutes (three of about thirty one-minute samples of a
 * counter at 28.3 L/min, paragraph 9.17) signal as "regular".
 */
export const GRADE_A_5UM_DEFAULTS: GradeA5umSettings = {
  above: 0,
  consecutive: 2,
  regular: { count: 3, windowMs: 30 * 60_000 },
}

/** Problems with settings (empty when valid). */
export function gradeA5umSettingsProblems(s: GradeA5umSettings): string[] {
  const problems: string[] = []
  if (!Number.isFinite(s.above) || s.above < 0)
    problems.push(`above must be a number ≥ 0, not ${s.above}`)
  if (!Number.isInteger(s.consecutive) || s.consecutive < 1)
    problems.push(`consecutive must be a whole number ≥ 1, not ${s.consecutive}`)
  if (!Number.isInteger(s.regular.count) || s.regular.count < 1)
    problems.push(`regular.count must be a whole number ≥ 1, not ${s.regular.count}`)
  if (!Number.isFinite(s.regular.windowMs) || s.regular.windowMs <= 0)
    problems.push(`regular.windowMs must be a positive number, not ${s.regular.windowMs}`)
  return problems
}

export interface GradeA5umState {
  /** Counting samples in a row, up to the last sample. */
  run: number
  /** Time of the first sample of that run (null when run is 0). */
  runStart: number | null
  /** Times of the counting samples within the window, oldest first. */
  hits: number[]
  /** Time of the last sample taken in. */
  lastTs: number | null
  /** The signal, while it holds. */
  active: { since: number; reason: 'consecutive' | 'regular' } | null
}

/** One sample of a grade A particle counter: its ≥ 5 µm count (raw, or per m³). */
export interface CountSample {
  ts: number
  count: number
}

export type GradeA5umEvent =
  | {
      type: 'grade-a-5um-raised'
      ts: number
      reason: 'consecutive' | 'regular'
      /** The first counting sample of the run (consecutive) or of the window (regular). */
      firstTs: number
      /** Counting samples in a row, and within the window, at this sample. */
      consecutive: number
      inWindow: number
    }
  | { type: 'grade-a-5um-cleared'; ts: number; since: number; durationMs: number }

export function initGradeA5um(): GradeA5umState {
  return { run: 0, runStart: null, hits: [], lastTs: null, active: null }
}

/**
 * Takes in one sample. The signal is raised when `consecutive` counting samples come in a row,
 * or `regular.count` counting samples fall within `regular.windowMs` (the window ends at the
 * sample and is open at its start); it holds, without repeating, while either is true, and
 * clears at the first sample where neither is. A sample not later than the last one, or whose
 * count is not a finite number ≥ 0, is ignored (no state change). O(regular.count) per sample.
 */
export function stepGradeA5um(
  settings: GradeA5umSettings,
  state: GradeA5umState,
  sample: CountSample,
): { state: GradeA5umState; events: GradeA5umEvent[] } {
  const { ts, count } = sample
  if (!Number.isFinite(ts) || !Number.isFinite(count) || count < 0) return { state, events: [] }
  if (state.lastTs !== null && ts <= state.lastTs) return { state, events: [] }
  const counting = count > settings.above
  const run = counting ? state.run + 1 : 0
  const runStart = counting ? (state.runStart ?? ts) : null
  const from = ts - settings.regular.windowMs
  const hits = state.hits.filter((t) => t > from)
  if (counting) hits.push(ts)
  // Only the latest `count` hits can matter.
  if (hits.length > settings.regular.count) hits.splice(0, hits.length - settings.regular.count)
  const consecutiveMet = run >= settings.consecutive
  const regularMet = hits.length >= settings.regular.count
  const events: GradeA5umEvent[] = []
  let active = state.active
  if (active === null && (consecutiveMet || regularMet)) {
    const reason = consecutiveMet ? 'consecutive' : 'regular'
    active = { since: ts, reason }
    events.push({
      type: 'grade-a-5um-raised',
      ts,
      reason,
      firstTs: consecutiveMet ? (runStart as number) : (hits[0] as number),
      consecutive: run,
      inWindow: hits.length,
    })
  } else if (active !== null && !consecutiveMet && !regularMet) {
    events.push({
      type: 'grade-a-5um-cleared',
      ts,
      since: active.since,
      durationMs: ts - active.since,
    })
    active = null
  }
  return { state: { run, runStart, hits, lastTs: ts, active }, events }
}

// ------------------------------------------------------------------------------ excursions

/** A limit that readings must not pass: `above` (particles, the default) or `below` (e.g. a pressure). */
export interface ExcursionSettings {
  limit: number
  direction?: 'above' | 'below' | undefined
}

export interface ExcursionState {
  open: {
    /** The first reading beyond the limit. */
    start: number
    /** The latest reading beyond the limit. */
    lastBeyond: number
    /** The value furthest beyond the limit. */
    peak: number
    /** Readings beyond the limit so far. */
    readings: number
  } | null
  lastTs: number | null
}

export interface ExcursionReading {
  ts: number
  value: number
}

export type ExcursionEvent =
  | { type: 'excursion-start'; ts: number; value: number; limit: number }
  | {
      type: 'excursion-end'
      start: number
      /** The first reading back within the limit. */
      end: number
      /** end − start: the excursion as observed, to the resolution of the sampling. */
      durationMs: number
      lastBeyond: number
      peak: number
      readings: number
      limit: number
    }

export function initExcursion(): ExcursionState {
  return { open: null, lastTs: null }
}

/**
 * Takes in one reading against a limit. A reading strictly beyond the limit (a reading on it is
 * within, as `classifyLimits` judges) opens an excursion, if none is open; the first reading back
 * within closes it with its start, end and duration. A reading not later than the last one, or
 * whose value is not finite, is ignored (no state change).
 */
export function stepExcursion(
  settings: ExcursionSettings,
  state: ExcursionState,
  reading: ExcursionReading,
): { state: ExcursionState; events: ExcursionEvent[] } {
  const { ts, value } = reading
  if (!Number.isFinite(ts) || !Number.isFinite(value)) return { state, events: [] }
  if (state.lastTs !== null && ts <= state.lastTs) return { state, events: [] }
  const below = settings.direction === 'below'
  const beyond = below ? value < settings.limit : value > settings.limit
  const open = state.open
  if (beyond) {
    if (open === null)
      return {
        state: { open: { start: ts, lastBeyond: ts, peak: value, readings: 1 }, lastTs: ts },
        events: [{ type: 'excursion-start', ts, value, limit: settings.limit }],
      }
    const peak = below ? Math.min(open.peak, value) : Math.max(open.peak, value)
    return {
      state: { open: { ...open, lastBeyond: ts, peak, readings: open.readings + 1 }, lastTs: ts },
      events: [],
    }
  }
  if (open === null) return { state: { open: null, lastTs: ts }, events: [] }
  return {
    state: { open: null, lastTs: ts },
    events: [
      {
        type: 'excursion-end',
        start: open.start,
        end: ts,
        durationMs: ts - open.start,
        lastBeyond: open.lastBeyond,
        peak: open.peak,
        readings: open.readings,
        limit: settings.limit,
      },
    ],
  }
}

/** The open excursion at `now` (its duration so far), or null. */
export function openExcursion(
  state: ExcursionState,
  now: number,
): { start: number; durationMs: number; peak: number; readings: number } | null {
  const open = state.open
  if (open === null) return null
  return {
    start: open.start,
    durationMs: Math.max(0, now - open.start),
    peak: open.peak,
    readings: open.readings,
  }
}

// ======================================================================= ISO 14644-1:2015

/** The particle sizes (µm) of ISO 14644-1:2015 Table 1's columns. */
export const ISO_14644_1_TABLE_1_SIZES = [0.1, 0.2, 0.3, 0.5, 1, 5] as const
export type IsoTable1Size = (typeof ISO_14644_1_TABLE_1_SIZES)[number]
/** The integer ISO classes of Table 1. */
export const ISO_CLASSES = [1, 2, 3, 4, 5, 6, 7, 8, 9] as const

/**
 * The cells of ISO 14644-1:2015 Table 1 that have no concentration limit, with their footnotes
 * (the limits themselves come from Formula (1), rounded; the tests check them against the
 * table). Footnotes, in short: c — not applicable, very high particle concentration; d —
 * sampling and statistical limitations for particles in low concentrations make classification
 * inappropriate; e — sample collection limitations for particles in low concentrations and sizes
 * above 1 µm make classification at this size inappropriate (particle losses in the sampling
 * system); f — for this size with ISO Class 5, the macroparticle descriptor M may be used with at
 * least one other size (Annex C). Columns as `ISO_14644_1_TABLE_1_SIZES`.
 */
const TABLE_1_NO_LIMIT: Readonly<Record<number, readonly (string | null)[]>> = {
  1: [null, 'd', 'd', 'd', 'd', 'e'],
  2: [null, null, null, 'd', 'd', 'e'],
  3: [null, null, null, null, 'd', 'e'],
  4: [null, null, null, null, null, 'e'],
  5: [null, null, null, null, null, 'd, e, f'],
  6: [null, null, null, null, null, null],
  7: ['c', 'c', 'c', null, null, null],
  8: ['c', 'c', 'c', null, null, null],
  9: ['c', 'c', 'c', null, null, null],
}

function checkClass(n: number): void {
  if (!Number.isFinite(n) || n < 1 || n > 9 || Math.abs(n * 10 - Math.round(n * 10)) > 1e-9)
    throw new RangeError(`an ISO class is 1 to 9 in steps of 0.1, not ${n}`)
}

function checkSize(d: number): void {
  if (!Number.isFinite(d) || d < 0.1 || d > 5)
    throw new RangeError(`ISO 14644-1 classifies particle sizes from 0.1 to 5 µm, not ${d}`)
}

/**
 * ISO 14644-1:2015 Formula (1) (and (E.1)), unrounded: Cn = 10^N × (0.1/D)^2.08 particles/m³ at
 * or above D µm, for ISO class N (1 to 9, steps of 0.1) and D from 0.1 to 5 µm.
 */
export function iso14644Concentration(isoClass: number, sizeUm: number): number {
  checkClass(isoClass)
  checkSize(sizeUm)
  return 10 ** isoClass * (0.1 / sizeUm) ** 2.08
}

/**
 * Rounds a concentration as ISO 14644-1:2015 rounds Cn: to the nearest whole number, with no more
 * than three significant figures (3 516.8 → 3 520; 23.65 → 24; 292.5 → 293).
 */
export function roundClassLimit(x: number): number {
  if (x < 1000) return Math.round(x)
  const scale = 10 ** (Math.floor(Math.log10(x)) - 2)
  return Math.round(x / scale) * scale
}

/** The class limit Cn of ISO class N at size D, rounded as the standard rounds it. */
export function iso14644ClassLimit(isoClass: number, sizeUm: number): number {
  return roundClassLimit(iso14644Concentration(isoClass, sizeUm))
}

function table1Column(sizeUm: number): number {
  return ISO_14644_1_TABLE_1_SIZES.indexOf(sizeUm as IsoTable1Size)
}

/**
 * The footnote(s) of Table 1 where it gives no limit for integer class N at a Table 1 size, or
 * null where it gives one (also for sizes and classes not in Table 1).
 */
export function iso14644Table1Footnote(isoClass: number, sizeUm: number): string | null {
  const column = table1Column(sizeUm)
  if (column < 0) return null
  return TABLE_1_NO_LIMIT[isoClass]?.[column] ?? null
}

/**
 * ISO 14644-1:2015 Table 1: the limit of integer class N (1–9) at a Table 1 size (0.1, 0.2,
 * 0.3, 0.5, 1, 5 µm), particles/m³; null where the table has no limit (footnotes c, d, e).
 */
export function iso14644Table1Limit(isoClass: number, sizeUm: IsoTable1Size): number | null {
  if (!Number.isInteger(isoClass) || isoClass < 1 || isoClass > 9)
    throw new RangeError(`Table 1 has the classes 1 to 9, not ${isoClass}`)
  if (table1Column(sizeUm) < 0) throw new RangeError(`Table 1 has no column for ${sizeUm} µm`)
  return iso14644Table1Footnote(isoClass, sizeUm) === null
    ? iso14644ClassLimit(isoClass, sizeUm)
    : null
}

/**
 * The limit a classification to integer ISO class N uses at a considered size: Table 1's where
 * the size is one of its columns (null, with the footnote, where Table 1 has none), else
 * Formula (1) rounded. Sizes outside 0.1–5 µm have none.
 */
export function isoLimitAt(
  isoClass: number,
  sizeUm: number,
): { limit: number | null; why?: string } {
  if (!(sizeUm >= 0.1 && sizeUm <= 5))
    return { limit: null, why: 'outside the 0.1–5 µm range of ISO 14644-1 classification' }
  const footnote = iso14644Table1Footnote(isoClass, sizeUm)
  if (footnote !== null)
    return { limit: null, why: `ISO 14644-1:2015 Table 1 has no limit (footnote ${footnote})` }
  return { limit: iso14644ClassLimit(isoClass, sizeUm) }
}

/**
 * ISO 14644-1:2015 Table A.1, "Sampling locations related to cleanroom area": the largest area
 * (m²) of each row and its minimum number of sampling locations NL. An area between two rows
 * takes the larger row (Note 1 of the table).
 */
export const ISO_14644_1_TABLE_A1: readonly (readonly [maxAreaM2: number, locations: number])[] = [
  [2, 1],
  [4, 2],
  [6, 3],
  [8, 4],
  [10, 5],
  [24, 6],
  [28, 7],
  [32, 8],
  [36, 9],
  [52, 10],
  [56, 11],
  [64, 12],
  [68, 13],
  [72, 14],
  [76, 15],
  [104, 16],
  [108, 17],
  [116, 18],
  [148, 19],
  [156, 20],
  [192, 21],
  [232, 22],
  [276, 23],
  [352, 24],
  [436, 25],
  [636, 26],
  [1000, 27],
]

/**
 * The minimum number of sampling locations for a cleanroom or clean zone of `areaM2` m²
 * (ISO 14644-1:2015 A.4.1): Table A.1 up to 1 000 m², above it Formula (A.1),
 * NL = 27 × (A/1 000), rounded up to the next whole number. (For unidirectional airflow the
 * area may be the cross-section of the moving air, Note 2 of Table A.1.)
 */
export function iso14644MinimumLocations(areaM2: number): number {
  if (!Number.isFinite(areaM2) || areaM2 <= 0)
    throw new RangeError(`the area must be a positive number of m², not ${areaM2}`)
  for (const [maxArea, locations] of ISO_14644_1_TABLE_A1) if (areaM2 <= maxArea) return locations
  return Math.ceil((27 * areaM2) / 1000)
}

/**
 * The minimum single sample volume per location, litres (ISO 14644-1:2015 A.4.4, Formula (A.2)):
 * Vs = 20/Cn,m × 1 000, enough to count 20 particles if the concentration at the largest
 * considered size were at its class limit Cn,m (particles/m³), and at least 2 litres. (The
 * standard also asks for at least one minute of sampling per location.)
 */
export function iso14644MinimumSampleVolumeLitres(limitAtLargestSize: number): number {
  checkLimit(limitAtLargestSize)
  return Math.max(2, (20 / limitAtLargestSize) * 1000)
}

// ------------------------------------------------------------------- room classification

/** One sample's concentration at one location and size. */
export interface ParticleSample {
  location: string
  /** The threshold size, µm (the concentration counts particles at or above it). */
  sizeUm: number
  /** Particles per m³ at or above `sizeUm`. */
  concentration: number
  /** Litres sampled, when known (checked against the minimum sample volume). */
  volumeL?: number | undefined
}

/** A location's average at one size (ISO 14644-1:2015 A.6.1.1). */
export interface LocationMean {
  location: string
  sizeUm: number
  samples: number
  /** Arithmetic mean of the samples' concentrations, particles/m³. */
  mean: number
}

/** A size considered by a check: its limit, or why it has none (and is not considered). */
export interface SizeLimit {
  sizeUm: number
  limit: number | null
  why?: string
}

/** Locations and sizes checked against limits: the A.6.2.1 rule. */
export interface LimitCheck {
  limits: SizeLimit[]
  /** At least one size has a limit: the check says something. */
  evaluable: boolean
  /** Evaluable, every location measured at every size with a limit, and no average above it. */
  pass: boolean
  /** Averages above their limit. */
  failures: { location: string; sizeUm: number; mean: number; limit: number }[]
  /** Locations without a sample at a size that has a limit. */
  missing: { location: string; sizeUm: number }[]
}

export interface ClassCheck extends LimitCheck {
  isoClass: number
}

export interface VolumeCheck {
  /** The limit at the largest size with a limit, and the minimum volume it needs. */
  sizeUm: number
  limit: number
  minimumL: number
  /** Samples with a known volume below the minimum (one per location and volume). */
  short: { location: string; volumeL: number }[]
  /** Samples without a volume (the check could not judge them). */
  unknown: number
  pass: boolean
}

export interface RoomClassification {
  /** The sizes seen, ascending, and the locations in the order first seen. */
  sizes: number[]
  locations: string[]
  means: LocationMean[]
  /** Each integer ISO class, 1 to 9. */
  classes: ClassCheck[]
  /**
   * The room's class: the lowest integer N whose check passes (every location's average within
   * the limit at every considered size that has one); null when none does.
   */
  isoClass: number | null
  target: (ClassCheck & { volume: VolumeCheck | null }) | null
  annex1:
    | (LimitCheck & { grade: Annex1Grade; state: Annex1State; volume: VolumeCheck | null })
    | null
  /** The number of locations against Table A.1 for the area. */
  locationCount: { areaM2: number; required: number; actual: number; pass: boolean } | null
  /**
   * Null without a target class, Annex 1 grade or area; else every requested check passed (the
   * target class and Annex 1 grade, with sample volumes where given, and the location count).
   */
  pass: boolean | null
  notes: string[]
}

export interface ClassifyOptions {
  /** Check against this integer ISO class. */
  targetClass?: number | undefined
  /** Check against an Annex 1 grade's classification limits (Table 1). */
  annex1?: { grade: Annex1Grade; state: Annex1State } | undefined
  /** Check the number of locations against Table A.1. */
  areaM2?: number | undefined
}

/**
 * Each location's average concentration at each size (ISO 14644-1:2015 A.6.1.1: with more than
 * one sample at a location, the arithmetic mean of their concentrations). Locations in the order
 * first seen, then sizes ascending.
 */
export function locationMeans(samples: readonly ParticleSample[]): LocationMean[] {
  const order: string[] = []
  const sums = new Map<string, Map<number, { n: number; sum: number }>>()
  for (const s of samples) {
    if (!Number.isFinite(s.concentration) || s.concentration < 0)
      throw new RangeError(
        `${s.location}: a concentration must be a number ≥ 0, not ${s.concentration}`,
      )
    if (!Number.isFinite(s.sizeUm) || s.sizeUm <= 0)
      throw new RangeError(`${s.location}: a particle size must be positive, not ${s.sizeUm}`)
    let bySize = sums.get(s.location)
    if (!bySize) {
      bySize = new Map()
      sums.set(s.location, bySize)
      order.push(s.location)
    }
    const acc = bySize.get(s.sizeUm) ?? { n: 0, sum: 0 }
    acc.n++
    acc.sum += s.concentration
    bySize.set(s.sizeUm, acc)
  }
  return order.flatMap((location) =>
    [...(sums.get(location) as Map<number, { n: number; sum: number }>)]
      .sort(([a], [b]) => a - b)
      .map(([sizeUm, { n, sum }]) => ({ location, sizeUm, samples: n, mean: sum / n })),
  )
}

/**
 * Checks location averages against limits per size (ISO 14644-1:2015 A.6.2.1: the room meets the
 * limits when the averages at every location do not exceed them; an average equal to the limit
 * passes). Sizes whose limit is null are not considered.
 */
export function checkLocationMeans(
  means: readonly LocationMean[],
  limits: readonly SizeLimit[],
): LimitCheck {
  const locations = [...new Set(means.map((m) => m.location))]
  const failures: LimitCheck['failures'] = []
  const missing: LimitCheck['missing'] = []
  for (const { sizeUm, limit } of limits) {
    if (limit === null) continue
    for (const location of locations) {
      const m = means.find((x) => x.location === location && x.sizeUm === sizeUm)
      if (!m) missing.push({ location, sizeUm })
      else if (m.mean > limit) failures.push({ location, sizeUm, mean: m.mean, limit })
    }
  }
  const evaluable = locations.length > 0 && limits.some((l) => l.limit !== null)
  return {
    limits: [...limits],
    evaluable,
    pass: evaluable && failures.length === 0 && missing.length === 0,
    failures,
    missing,
  }
}

function volumeCheck(
  samples: readonly ParticleSample[],
  limits: readonly SizeLimit[],
): VolumeCheck | null {
  const withLimit = limits.filter((l): l is SizeLimit & { limit: number } => l.limit !== null)
  const largest = withLimit.reduce<(SizeLimit & { limit: number }) | null>(
    (best, l) => (best === null || l.sizeUm > best.sizeUm ? l : best),
    null,
  )
  if (largest === null || samples.every((s) => s.volumeL === undefined)) return null
  const minimumL = iso14644MinimumSampleVolumeLitres(largest.limit)
  const short = new Map<string, { location: string; volumeL: number }>()
  let unknown = 0
  for (const s of samples) {
    if (s.volumeL === undefined) unknown++
    else if (s.volumeL < minimumL)
      short.set(`${s.location}\u0000${s.volumeL}`, { location: s.location, volumeL: s.volumeL })
  }
  return {
    sizeUm: largest.sizeUm,
    limit: largest.limit,
    minimumL,
    short: [...short.values()],
    unknown,
    pass: short.size === 0,
  }
}

function classCheck(
  means: readonly LocationMean[],
  sizes: readonly number[],
  n: number,
): ClassCheck {
  const limits = sizes.map((sizeUm) => ({ sizeUm, ...isoLimitAt(n, sizeUm) }))
  return { isoClass: n, ...checkLocationMeans(means, limits) }
}

/**
 * Classifies a room from its locations' samples after ISO 14644-1:2015: each location's average
 * per size (A.6.1.1), checked against the limits of every integer class at every considered size
 * (the sizes in the samples that have a limit at that class: Table 1, or Formula (1) for other
 * sizes from 0.1 to 5 µm); the room's class is the lowest that passes (A.6.2.1). Optionally also
 * against a target class and an Annex 1 grade (Table 1 of the Annex, with its sizes 0.5 and 5 µm),
 * with the minimum sample volume (A.4.4) where the samples carry volumes, and the number of
 * locations against Table A.1 for an area. Throws RangeError on a negative or non-finite
 * concentration or option.
 */
export function classifyRoom(
  samples: readonly ParticleSample[],
  options: ClassifyOptions = {},
): RoomClassification {
  const means = locationMeans(samples)
  const locations = [...new Set(means.map((m) => m.location))]
  const sizes = [...new Set(means.map((m) => m.sizeUm))].sort((a, b) => a - b)
  const notes: string[] = []
  for (const size of sizes) {
    if (size < 0.1 || size > 5)
      notes.push(
        `≥${size} µm is outside the 0.1–5 µm range of ISO 14644-1 classification and is not considered (macroparticles: Annex C, M descriptor)`,
      )
    else if (table1Column(size) < 0)
      notes.push(
        `≥${size} µm is not a column of ISO 14644-1:2015 Table 1: its limits come from Formula (1), without the table's applicability footnotes`,
      )
  }
  const classes = ISO_CLASSES.map((n) => classCheck(means, sizes, n))
  const isoClass = classes.find((c) => c.pass)?.isoClass ?? null
  // Table 1 leaves sizes out of some classes (ISO 5 has no 5 µm limit, ISO 6 has 293): a room
  // can meet a class and fail a higher one at a size the lower class does not consider.
  if (isoClass !== null)
    for (const c of classes.slice(isoClass)) {
      if (c.pass || !c.evaluable) continue
      const where = [...new Set([...c.failures, ...c.missing].map((f) => f.sizeUm))]
      notes.push(
        `ISO ${c.isoClass} fails at ${where.map((s) => `≥${s} µm`).join(', ')}, which ISO ${isoClass} does not consider (no limit there at that class)`,
      )
    }

  let target: RoomClassification['target'] = null
  if (options.targetClass !== undefined) {
    const n = options.targetClass
    if (!ISO_CLASSES.includes(n as (typeof ISO_CLASSES)[number]))
      throw new RangeError(`the target class must be a whole number from 1 to 9, not ${n}`)
    const check = classes[n - 1] as ClassCheck
    const volume = volumeCheck(samples, check.limits)
    target = { ...check, volume }
    if (!check.evaluable)
      notes.push(`ISO ${n}: none of the sizes has a limit at this class, so it cannot be shown`)
  }

  let annex1: RoomClassification['annex1'] = null
  if (options.annex1) {
    const { grade, state } = options.annex1
    const limits: SizeLimit[] = sizes.map((sizeUm) => {
      if (sizeUm !== 0.5 && sizeUm !== 5)
        return { sizeUm, limit: null, why: 'Annex 1 Table 1 has the sizes 0.5 and 5 µm only' }
      const cell = ANNEX1_TABLE_1[grade][state][sizeUm]
      return typeof cell === 'number'
        ? { sizeUm, limit: cell }
        : { sizeUm, limit: null, why: `Annex 1 (2022) Table 1: ${cell}` }
    })
    const check = checkLocationMeans(means, limits)
    annex1 = { grade, state, ...check, volume: volumeCheck(samples, limits) }
  }

  let locationCount: RoomClassification['locationCount'] = null
  if (options.areaM2 !== undefined) {
    const required = iso14644MinimumLocations(options.areaM2)
    locationCount = {
      areaM2: options.areaM2,
      required,
      actual: locations.length,
      pass: locations.length >= required,
    }
  }

  const verdicts: boolean[] = []
  if (target) verdicts.push(target.pass && (target.volume?.pass ?? true))
  if (annex1) verdicts.push(annex1.pass && (annex1.volume?.pass ?? true))
  if (locationCount) verdicts.push(locationCount.pass)
  const pass = verdicts.length === 0 ? null : verdicts.every(Boolean)
  return { sizes, locations, means, classes, isoClass, target, annex1, locationCount, pass, notes }
}
