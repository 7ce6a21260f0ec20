import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ANNEX1_GRADES,
  ANNEX1_STATES,
  type Annex1Grade,
  type Annex1State,
  alertLevelFromData,
  annex1ActionLimit,
  annex1ClassificationLimit,
  type CountSample,
  classifyRoom,
  DEFAULT_ALERT_FRACTION,
  type ExcursionEvent,
  type ExcursionReading,
  type ExcursionSettings,
  GRADE_A_5UM_DEFAULTS,
  type GradeA5umEvent,
  type GradeA5umSettings,
  type GradeA5umState,
  gradeA5umSettingsProblems,
  ISO_14644_1_TABLE_1_SIZES,
  initExcursion,
  initGradeA5um,
  iso14644ClassLimit,
  iso14644Concentration,
  iso14644MinimumLocations,
  iso14644MinimumSampleVolumeLitres,
  iso14644Table1Footnote,
  iso14644Table1Limit,
  locationMeans,
  openExcursion,
  type ParticleSample,
  roundClassLimit,
  stepExcursion,
  stepGradeA5um,
  suggestedAlertLevel,
} from '../rules/cleanroom.ts'

/**
 * The GMP cleanroom profile (rules/cleanroom.ts). Expected values are the sources', written out
 * here: EU GMP Annex 1 (2022) Tables 1 and 5 and Table 5 Note 2 (the same text as PIC/S PE 009-17
 * Annex 1); ISO 14644-1:2015 Table 1, Table A.1 with Formula (A.1), Formula (A.2). Where a test
 * builds its own data (classification, the stream rules) the expectation follows from the
 * definition, computed by hand in the comment.
 */

const MIN = 60_000

// Annex 1 (2022), particles/m³; rows A–D; columns ≥0.5 µm at rest, ≥0.5 µm in operation,
// ≥5 µm at rest, ≥5 µm in operation, as the Annex prints them. null: "Not specified" (Table 1
// note a) or "Not predetermined" (grade D in operation).
const ANNEX1_TABLE_1_PRINTED: Record<Annex1Grade, (number | null)[]> = {
  A: [3_520, 3_520, null, null],
  B: [3_520, 352_000, null, 2_930],
  C: [352_000, 3_520_000, 2_930, 29_300],
  D: [3_520_000, null, 29_300, null],
}
const ANNEX1_TABLE_5_PRINTED: Record<Annex1Grade, (number | null)[]> = {
  A: [3_520, 3_520, 29, 29],
  B: [3_520, 352_000, 29, 2_930],
  C: [352_000, 3_520_000, 2_930, 29_300],
  D: [3_520_000, null, 29_300, null],
}
const COLUMNS: [Annex1State, 0.5 | 5][] = [
  ['at-rest', 0.5],
  ['in-operation', 0.5],
  ['at-rest', 5],
  ['in-operation', 5],
]

describe('EU GMP Annex 1 (2022) total particle limits', () => {
  it.each(ANNEX1_GRADES)(
    'Annex 1 Table 5 (monitoring, the maximum action limits of 9.9): grade %s',
    (grade) => {
      const got = COLUMNS.map(([state, size]) => annex1ActionLimit(grade, state, size))
      expect(got).toEqual(ANNEX1_TABLE_5_PRINTED[grade])
    },
  )

  it.each(ANNEX1_GRADES)('Annex 1 Table 1 (classification, 4.27): grade %s', (grade) => {
    const got = COLUMNS.map(([state, size]) => annex1ClassificationLimit(grade, state, size))
    expect(got).toEqual(ANNEX1_TABLE_1_PRINTED[grade])
  })

  it('Annex 1: grade A ≥5 µm is "not specified" for classification (Table 1) but 29/m³ for monitoring (Table 5)', () => {
    expect(annex1ClassificationLimit('A', 'in-operation', 5)).toBeNull()
    expect(annex1ActionLimit('A', 'in-operation', 5)).toBe(29)
  })

  it('Annex 1: grade D in operation is "not predetermined" in both tables', () => {
    for (const size of [0.5, 5] as const) {
      expect(annex1ActionLimit('D', 'in-operation', size)).toBeNull()
      expect(annex1ClassificationLimit('D', 'in-operation', size)).toBeNull()
    }
  })

  it('Annex 1 grade A at 0.5 µm = ISO 14644-1 class 5; grade C in operation = ISO 8 (the Annex takes its numbers from Formula (1))', () => {
    expect(annex1ActionLimit('A', 'in-operation', 0.5)).toBe(iso14644ClassLimit(5, 0.5))
    expect(annex1ActionLimit('A', 'in-operation', 5)).toBe(iso14644ClassLimit(5, 5))
    expect(annex1ActionLimit('C', 'in-operation', 5)).toBe(iso14644ClassLimit(8, 5))
    expect(annex1ActionLimit('D', 'at-rest', 0.5)).toBe(iso14644ClassLimit(8, 0.5))
  })
})

describe('alert levels (a linewatch default; Annex 1 9.9: from qualification and trend data)', () => {
  it(`suggestedAlertLevel: ${DEFAULT_ALERT_FRACTION} × the action limit, rounded down`, () => {
    expect(suggestedAlertLevel(3_520)).toBe(2_816)
    expect(suggestedAlertLevel(29)).toBe(23) // 23.2
    expect(suggestedAlertLevel(352_000, 0.5)).toBe(176_000)
    expect(() => suggestedAlertLevel(29, 1)).toThrow(RangeError)
    expect(() => suggestedAlertLevel(29, 0)).toThrow(RangeError)
    expect(() => suggestedAlertLevel(0)).toThrow(RangeError)
  })

  it('alertLevelFromData: the nearest-rank quantile of the readings', () => {
    const readings = Array.from({ length: 20 }, (_, i) => (i + 1) * 100) // 100 … 2 000
    // 0.95 × 20 = 19: the 19th smallest.
    expect(alertLevelFromData(readings, 3_520)).toEqual({ level: 1_900, basis: 'data' })
    // 0.9 × 20 = 18.
    expect(alertLevelFromData(readings, 3_520, { quantile: 0.9 }).level).toBe(1_800)
    // 0.5 × 3 = 1.5 → rank 2; non-finite readings left out.
    expect(alertLevelFromData([30, Number.NaN, 10, 20], 3_520, { quantile: 0.5 }).level).toBe(20)
  })

  it('alertLevelFromData falls back to the fraction without readings, or when the quantile reaches the action limit', () => {
    expect(alertLevelFromData([], 3_520)).toEqual({
      level: 2_816,
      basis: 'fraction',
      reason: 'no readings',
    })
    const high = alertLevelFromData([3_000, 3_600], 3_520, { quantile: 1 })
    expect(high.basis).toBe('fraction')
    expect(high.level).toBe(2_816)
    expect(high.reason).toContain('not below the action limit')
  })
})

/** Streams samples through the grade A rule; the events with the index of their sample. */
function runGradeA(
  samples: readonly CountSample[],
  settings: GradeA5umSettings = GRADE_A_5UM_DEFAULTS,
  from: GradeA5umState = initGradeA5um(),
) {
  let state = from
  const events: (GradeA5umEvent & { at: number })[] = []
  samples.forEach((s, at) => {
    const step = stepGradeA5um(settings, state, s)
    state = step.state
    events.push(...step.events.map((e) => ({ ...e, at })))
  })
  return { events, state }
}

/** One-minute samples from t = 0 with these counts. */
const perMinute = (counts: readonly number[]): CountSample[] =>
  counts.map((count, i) => ({ ts: i * MIN, count }))

describe('Annex 1 Table 5 Note 2: grade A ≥5 µm counts, "consecutive or regular counting … should be investigated"', () => {
  it('Note 2: "occasional" single counts never signal', () => {
    const counts = Array.from({ length: 120 }, (_, i) => (i % 40 === 5 ? 1 : 0))
    expect(runGradeA(perMinute(counts)).events).toEqual([])
  })

  it('Note 2 "consecutive": two counting samples in a row raise the signal at the second, once; the first sample without both conditions clears it', () => {
    const { events, state } = runGradeA(perMinute([0, 1, 2, 1, 0, 0]))
    expect(events).toEqual([
      {
        type: 'grade-a-5um-raised',
        ts: 2 * MIN,
        reason: 'consecutive',
        firstTs: 1 * MIN,
        consecutive: 2,
        inWindow: 2,
        at: 2,
      },
      // At 4 min: no run, and 3 counting samples (1, 2, 3 min) within 30 min: still "regular".
      // The default regular rule holds it until the first count leaves the window.
    ])
    expect(state.active).toEqual({ since: 2 * MIN, reason: 'consecutive' })
  })

  it('Note 2 "consecutive": cleared at the first sample without a count once the window holds fewer than three', () => {
    const { events } = runGradeA(perMinute([1, 1, 0]))
    expect(events.map((e) => [e.type, e.at])).toEqual([
      ['grade-a-5um-raised', 1],
      ['grade-a-5um-cleared', 2],
    ])
    expect(events[1]).toMatchObject({ since: MIN, durationMs: MIN })
  })

  it('Note 2 "regular": three counting samples within 30 minutes, none in a row, raise the signal; it clears when the first leaves the window (open at its start)', () => {
    const counts = Array.from({ length: 40 }, (_, i) => (i === 0 || i === 10 || i === 20 ? 1 : 0))
    const { events } = runGradeA(perMinute(counts))
    expect(events).toEqual([
      {
        type: 'grade-a-5um-raised',
        ts: 20 * MIN,
        reason: 'regular',
        firstTs: 0,
        consecutive: 1,
        inWindow: 3,
        at: 20,
      },
      // At 30 min the window is (0, 30 min]: the count at 0 has left it.
      {
        type: 'grade-a-5um-cleared',
        ts: 30 * MIN,
        since: 20 * MIN,
        durationMs: 10 * MIN,
        at: 30,
      },
    ])
  })

  it('three counts spread over more than 30 minutes are "occasional"', () => {
    const counts = Array.from({ length: 70 }, (_, i) => (i === 0 || i === 16 || i === 32 ? 1 : 0))
    expect(runGradeA(perMinute(counts)).events).toEqual([])
  })

  it('settings: a threshold above zero, other run and window lengths', () => {
    const settings: GradeA5umSettings = {
      above: 1,
      consecutive: 3,
      regular: { count: 10, windowMs: 60 * MIN },
    }
    // Counts of 1 do not count; 2, 2, 2 in a row do.
    const { events } = runGradeA(perMinute([1, 1, 1, 2, 2, 0, 2, 2, 2]), settings)
    expect(events.map((e) => [e.type, e.at])).toEqual([['grade-a-5um-raised', 8]])
    expect(events[0]).toMatchObject({ reason: 'consecutive', firstTs: 6 * MIN })
  })

  it('a sample not later than the last, or with a count that is not a number ≥ 0, is ignored', () => {
    const first = runGradeA(perMinute([0, 1]))
    for (const bad of [
      { ts: MIN, count: 1 },
      { ts: 0, count: 5 },
      { ts: 2 * MIN, count: Number.NaN },
      { ts: 2 * MIN, count: -1 },
    ])
      expect(stepGradeA5um(GRADE_A_5UM_DEFAULTS, first.state, bad)).toEqual({
        state: first.state,
        events: [],
      })
  })

  it('settings problems are named', () => {
    expect(gradeA5umSettingsProblems(GRADE_A_5UM_DEFAULTS)).toEqual([])
    expect(
      gradeA5umSettingsProblems({
        above: -1,
        consecutive: 0,
        regular: { count: 1.5, windowMs: 0 },
      }),
    ).toHaveLength(4)
  })

  const countStream = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 10 * MIN }), fc.nat({ max: 3 })), {
      maxLength: 200,
    })
    .map((steps) => {
      let ts = 0
      return steps.map(([dt, count]) => {
        ts += dt
        return { ts, count }
      })
    })

  it('property: the state survives a JSON round trip at any sample', () => {
    fc.assert(
      fc.property(countStream, fc.nat(), (samples, k) => {
        const cut = samples.length === 0 ? 0 : k % samples.length
        const whole = runGradeA(samples)
        const head = runGradeA(samples.slice(0, cut))
        const revived = JSON.parse(JSON.stringify(head.state)) as GradeA5umState
        const tail = runGradeA(samples.slice(cut), GRADE_A_5UM_DEFAULTS, revived)
        expect([...head.events, ...tail.events.map((e) => ({ ...e, at: e.at + cut }))]).toEqual(
          whole.events,
        )
        expect(tail.state).toEqual(whole.state)
      }),
    )
  })

  it('property: raised and cleared alternate, starting with raised; no signal on zeros; the state stays bounded', () => {
    fc.assert(
      fc.property(countStream, (samples) => {
        const { events, state } = runGradeA(samples)
        events.forEach((e, i) => {
          expect(e.type).toBe(i % 2 === 0 ? 'grade-a-5um-raised' : 'grade-a-5um-cleared')
        })
        expect(state.hits.length).toBeLessThanOrEqual(GRADE_A_5UM_DEFAULTS.regular.count)
        const zeros = samples.map((s) => ({ ...s, count: 0 }))
        expect(runGradeA(zeros).events).toEqual([])
      }),
    )
  })
})

function runExcursion(settings: ExcursionSettings, readings: readonly ExcursionReading[]) {
  let state = initExcursion()
  const events: ExcursionEvent[] = []
  for (const r of readings) {
    const step = stepExcursion(settings, state, r)
    state = step.state
    events.push(...step.events)
  }
  return { events, state }
}

describe('excursion duration (Annex 1 9.13: excursions are investigated; their start, end and duration recorded)', () => {
  it('an excursion above the action limit: from the first reading beyond to the first back within', () => {
    const readings = [2_000, 3_600, 5_000, 3_520, 3_000].map((value, i) => ({
      ts: i * MIN,
      value,
    }))
    const { events, state } = runExcursion({ limit: 3_520 }, readings)
    expect(events).toEqual([
      { type: 'excursion-start', ts: MIN, value: 3_600, limit: 3_520 },
      // A reading on the limit (3 520 at 3 min) is within it: the excursion ends there.
      {
        type: 'excursion-end',
        start: MIN,
        end: 3 * MIN,
        durationMs: 2 * MIN,
        lastBeyond: 2 * MIN,
        peak: 5_000,
        readings: 2,
        limit: 3_520,
      },
    ])
    expect(state.open).toBeNull()
  })

  it('an open excursion reports its duration so far; a low limit (direction below)', () => {
    const { state, events } = runExcursion({ limit: 10, direction: 'below' }, [
      { ts: 0, value: 12 },
      { ts: 5_000, value: 9 },
      { ts: 6_000, value: 7 },
    ])
    expect(events).toEqual([{ type: 'excursion-start', ts: 5_000, value: 9, limit: 10 }])
    expect(openExcursion(state, 65_000)).toEqual({
      start: 5_000,
      durationMs: 60_000,
      peak: 7,
      readings: 2,
    })
    expect(openExcursion(initExcursion(), 1)).toBeNull()
  })

  it('a reading not later than the last, or not finite, is ignored', () => {
    const { state } = runExcursion({ limit: 1 }, [{ ts: 10, value: 5 }])
    for (const r of [
      { ts: 10, value: 0 },
      { ts: 20, value: Number.NaN },
    ])
      expect(stepExcursion({ limit: 1 }, state, r)).toEqual({ state, events: [] })
  })
})

// ISO 14644-1:2015 Table 1, "Selected ISO classes of air cleanliness by particle concentration",
// particles/m³ at or above 0.1, 0.2, 0.3, 0.5, 1, 5 µm; null where the table has a footnote
// instead of a number (c, d, e; ISO 5 at 5 µm: d, e, f).
const ISO_TABLE_1_PRINTED: Record<number, (number | null)[]> = {
  1: [10, null, null, null, null, null],
  2: [100, 24, 10, null, null, null],
  3: [1_000, 237, 102, 35, null, null],
  4: [10_000, 2_370, 1_020, 352, 83, null],
  5: [100_000, 23_700, 10_200, 3_520, 832, null],
  6: [1_000_000, 237_000, 102_000, 35_200, 8_320, 293],
  7: [null, null, null, 352_000, 83_200, 2_930],
  8: [null, null, null, 3_520_000, 832_000, 29_300],
  9: [null, null, null, 35_200_000, 8_320_000, 293_000],
}

describe('ISO 14644-1:2015 class limits', () => {
  it.each(Object.keys(ISO_TABLE_1_PRINTED).map(Number))('Table 1: ISO Class %i', (n) => {
    expect(ISO_14644_1_TABLE_1_SIZES.map((d) => iso14644Table1Limit(n, d))).toEqual(
      ISO_TABLE_1_PRINTED[n],
    )
  })

  it('Table 1 values named in issue 8: ISO 5 at 0.5 µm = 3 520, ISO 7 at 5 µm = 2 930, ISO 8 at 0.5 µm = 3 520 000', () => {
    expect(iso14644ClassLimit(5, 0.5)).toBe(3_520)
    expect(iso14644ClassLimit(7, 5)).toBe(2_930)
    expect(iso14644ClassLimit(8, 0.5)).toBe(3_520_000)
  })

  it('Formula (1): Cn = 10^N × (0.1/D)^2.08, rounded to the nearest whole number with no more than three significant figures', () => {
    expect(iso14644Concentration(5, 0.5)).toBeCloseTo(3_516.76, 2) // 10⁵ × 0.2^2.08
    expect(iso14644Concentration(2, 0.2)).toBeCloseTo(23.65, 2)
    expect(iso14644Concentration(4, 0.1)).toBeCloseTo(10_000, 9) // D = 0.1 µm: 10^N
    expect(iso14644Concentration(6, 5)).toBeCloseTo(292.51, 2) // 10⁶ × 0.02^2.08
    expect(roundClassLimit(3_516.76)).toBe(3_520)
    expect(roundClassLimit(23.65)).toBe(24)
    expect(roundClassLimit(292.51)).toBe(293)
    expect(roundClassLimit(8_317_638)).toBe(8_320_000)
    // Intermediate classes in steps of 0.1 (4.5, Annex E): ISO 4.8 at 0.1 µm = 10^4.8 = 63 096 → 63 100.
    expect(iso14644ClassLimit(4.8, 0.1)).toBe(63_100)
    expect(() => iso14644ClassLimit(4.85, 0.5)).toThrow(RangeError)
    expect(() => iso14644ClassLimit(10, 0.5)).toThrow(RangeError)
    expect(() => iso14644ClassLimit(5, 10)).toThrow(RangeError)
  })

  it('Table 1 footnotes where it gives no limit', () => {
    expect(iso14644Table1Footnote(5, 5)).toBe('d, e, f')
    expect(iso14644Table1Footnote(7, 0.3)).toBe('c')
    expect(iso14644Table1Footnote(2, 0.5)).toBe('d')
    expect(iso14644Table1Footnote(4, 5)).toBe('e')
    expect(iso14644Table1Footnote(6, 5)).toBeNull()
  })
})

describe('ISO 14644-1:2015 sampling (Annex A)', () => {
  // Table A.1: area (m²) less than or equal to → minimum number of sampling locations NL.
  const TABLE_A1: [number, number][] = [
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
    [1_000, 27],
  ]

  it.each(TABLE_A1)(
    'Table A.1: up to %d m² → %d locations; just above, the next row',
    (area, n) => {
      expect(iso14644MinimumLocations(area)).toBe(n)
      if (area < 1_000) expect(iso14644MinimumLocations(area + 0.1)).toBe(n + 1) // Note 1: the greater
    },
  )

  it('Table A.1: areas below the first row need one location', () => {
    expect(iso14644MinimumLocations(0.5)).toBe(1)
    expect(() => iso14644MinimumLocations(0)).toThrow(RangeError)
  })

  it('Formula (A.1) above 1 000 m²: NL = 27 × (A/1 000), rounded up', () => {
    expect(iso14644MinimumLocations(1_000.5)).toBe(28) // 27.0135
    expect(iso14644MinimumLocations(1_100)).toBe(30) // 29.7
    expect(iso14644MinimumLocations(1_500)).toBe(41) // 40.5
    expect(iso14644MinimumLocations(2_000)).toBe(54) // exactly 54
  })

  it('Formula (A.2): Vs = 20/Cn,m × 1 000 litres, at least 2 litres', () => {
    expect(iso14644MinimumSampleVolumeLitres(3_520)).toBeCloseTo(5.68, 2) // ISO 5 at 0.5 µm
    expect(iso14644MinimumSampleVolumeLitres(2_930)).toBeCloseTo(6.83, 2) // ISO 7 at 5 µm
    expect(iso14644MinimumSampleVolumeLitres(3_520_000)).toBe(2) // ISO 8 at 0.5 µm: 0.0057 L
    expect(iso14644MinimumSampleVolumeLitres(29)).toBeCloseTo(689.66, 2) // Annex 1 grade A, 5 µm
  })
})

const sample = (location: string, sizeUm: number, concentration: number, volumeL?: number) => ({
  location,
  sizeUm,
  concentration,
  volumeL,
})

describe('ISO 14644-1:2015 classification of a room (A.6)', () => {
  // Three locations, two samples each, at 0.5 and 5 µm.
  const ROOM: ParticleSample[] = [
    sample('L1', 0.5, 3_000),
    sample('L1', 0.5, 4_000), // mean 3 500
    sample('L1', 5, 0),
    sample('L1', 5, 35),
    sample('L2', 0.5, 1_000),
    sample('L2', 0.5, 1_200),
    sample('L2', 5, 0),
    sample('L2', 5, 0),
    sample('L3', 0.5, 300),
    sample('L3', 0.5, 340),
    sample('L3', 5, 35),
    sample('L3', 5, 0),
  ]

  it('A.6.1.1: each location averages its samples per size', () => {
    expect(locationMeans(ROOM)).toEqual([
      { location: 'L1', sizeUm: 0.5, samples: 2, mean: 3_500 },
      { location: 'L1', sizeUm: 5, samples: 2, mean: 17.5 },
      { location: 'L2', sizeUm: 0.5, samples: 2, mean: 1_100 },
      { location: 'L2', sizeUm: 5, samples: 2, mean: 0 },
      { location: 'L3', sizeUm: 0.5, samples: 2, mean: 320 },
      { location: 'L3', sizeUm: 5, samples: 2, mean: 17.5 },
    ])
  })

  it('A.6.2.1: the room class is the lowest class every location meets; ISO 5 judges 0.5 µm only (Table 1 has no 5 µm limit for it)', () => {
    const r = classifyRoom(ROOM)
    expect(r.isoClass).toBe(5)
    expect(r.sizes).toEqual([0.5, 5])
    expect(r.locations).toEqual(['L1', 'L2', 'L3'])
    const iso5 = r.classes[4]
    expect(iso5?.limits).toEqual([
      { sizeUm: 0.5, limit: 3_520 },
      { sizeUm: 5, limit: null, why: 'ISO 14644-1:2015 Table 1 has no limit (footnote d, e, f)' },
    ])
    // ISO 4: 352 at 0.5 µm; L1 (3 500) and L2 (1 100) above it, L3 (320) within.
    expect(r.classes[3]?.pass).toBe(false)
    expect(r.classes[3]?.failures).toEqual([
      { location: 'L1', sizeUm: 0.5, mean: 3_500, limit: 352 },
      { location: 'L2', sizeUm: 0.5, mean: 1_100, limit: 352 },
    ])
    // ISO 1 and 2 have no limit at 0.5 or 5 µm: they cannot be shown with these sizes.
    expect(r.classes[0]?.evaluable).toBe(false)
    expect(r.classes[1]?.evaluable).toBe(false)
    expect(r.classes.slice(4).every((c) => c.pass)).toBe(true)
    expect(r.pass).toBeNull()
    expect(r.notes).toEqual([])
  })

  it('A.6.2.1: an average equal to the limit passes; one above fails', () => {
    const at = (mean: number) => classifyRoom([sample('L1', 0.5, mean)]).isoClass
    expect(at(3_520)).toBe(5)
    expect(at(3_520.5)).toBe(6)
  })

  it('a target class, with the minimum sample volume where samples carry one (A.4.4)', () => {
    const withVolumes = ROOM.map((s) => ({ ...s, volumeL: s.location === 'L3' ? 5 : 28.3 }))
    const r = classifyRoom(withVolumes, { targetClass: 5 })
    // Largest considered size at ISO 5 is 0.5 µm (5 µm has no limit): 20/3 520 × 1 000 = 5.68 L.
    expect(r.target?.volume).toMatchObject({
      sizeUm: 0.5,
      limit: 3_520,
      short: [{ location: 'L3', volumeL: 5 }],
      unknown: 0,
      pass: false,
    })
    expect(r.target?.pass).toBe(true)
    expect(r.pass).toBe(false)
    expect(classifyRoom(ROOM, { targetClass: 5 }).pass).toBe(true) // no volumes: not judged
    expect(classifyRoom(ROOM, { targetClass: 4 }).pass).toBe(false)
    expect(() => classifyRoom(ROOM, { targetClass: 4.5 })).toThrow(RangeError)
  })

  it('Table A.1: the number of locations against the area', () => {
    expect(classifyRoom(ROOM, { areaM2: 6 }).locationCount).toEqual({
      areaM2: 6,
      required: 3,
      actual: 3,
      pass: true,
    })
    const big = classifyRoom(ROOM, { areaM2: 30, targetClass: 5 })
    expect(big.locationCount).toMatchObject({ required: 8, pass: false }) // 30 m² ≤ 32 m²
    expect(big.pass).toBe(false)
  })

  it('Annex 1 (2022) Table 1: grade B at rest judges 0.5 µm (3 520); its 5 µm is "not specified"', () => {
    const r = classifyRoom(ROOM, { annex1: { grade: 'B', state: 'at-rest' } })
    expect(r.annex1).toMatchObject({
      grade: 'B',
      state: 'at-rest',
      limits: [
        { sizeUm: 0.5, limit: 3_520 },
        { sizeUm: 5, limit: null, why: 'Annex 1 (2022) Table 1: not specified' },
      ],
      pass: true,
    })
    expect(r.pass).toBe(true)
    const c = classifyRoom(ROOM, { annex1: { grade: 'C', state: 'at-rest' } })
    expect(c.annex1?.limits.map((l) => l.limit)).toEqual([352_000, 2_930])
  })

  it('a location without a size that has a limit cannot pass; sizes outside 0.1–5 µm are not considered', () => {
    const r = classifyRoom([
      sample('L1', 0.5, 100),
      sample('L1', 10, 5),
      sample('L2', 0.5, 100),
      sample('L2', 5, 0),
    ])
    expect(r.classes[5]?.missing).toEqual([{ location: 'L1', sizeUm: 5 }])
    expect(r.classes[5]?.pass).toBe(false)
    // ISO 5 has no 5 µm limit, so L1's gap does not matter there.
    expect(r.isoClass).toBe(4) // 100 ≤ 352 at 0.5 µm; ISO 3 (35) fails
    expect(r.notes[0]).toContain('≥10 µm is outside the 0.1–5 µm range')
    expect(r.notes).toContain(
      'ISO 6 fails at ≥5 µm, which ISO 4 does not consider (no limit there at that class)',
    )
  })

  it('a size that is not a Table 1 column takes Formula (1), with a note', () => {
    const r = classifyRoom([sample('L1', 0.7, 1_000)])
    expect(r.classes[4]?.limits).toEqual([{ sizeUm: 0.7, limit: iso14644ClassLimit(5, 0.7) }])
    expect(r.notes).toEqual([expect.stringContaining('not a column of ISO 14644-1:2015 Table 1')])
  })

  it('a negative or non-finite concentration is refused', () => {
    expect(() => classifyRoom([sample('L1', 0.5, -1)])).toThrow(RangeError)
    expect(() => classifyRoom([sample('L1', 0.5, Number.POSITIVE_INFINITY)])).toThrow(RangeError)
  })

  it('Table 1 leaves 5 µm out of ISO 5: a room can meet ISO 5 (0.5 µm) and fail ISO 6 at 5 µm; a note says so', () => {
    const r = classifyRoom([sample('L1', 0.5, 3_000), sample('L1', 5, 1_000)])
    expect(r.isoClass).toBe(5)
    expect(r.classes[5]?.failures).toEqual([{ location: 'L1', sizeUm: 5, mean: 1_000, limit: 293 }])
    expect(r.classes[6]?.pass).toBe(true) // ISO 7: 2 930 at 5 µm
    expect(r.notes).toEqual([
      'ISO 6 fails at ≥5 µm, which ISO 5 does not consider (no limit there at that class)',
    ])
  })

  it('property: with every location measured at every size, a room meeting class N fails a higher class only at sizes N does not consider', () => {
    const SIZES = [0.3, 0.5, 1, 5]
    const arb = fc
      .array(fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 4, maxLength: 4 }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((locations) =>
        locations.flatMap((row, i) =>
          row.map((c, k) => sample(`L${i + 1}`, SIZES[k] as number, c)),
        ),
      )
    fc.assert(
      fc.property(arb, (samples) => {
        const r = classifyRoom(samples)
        const first = r.classes.findIndex((c) => c.pass)
        expect(r.isoClass).toBe(first >= 0 ? first + 1 : null)
        if (first < 0) return
        const considered = (r.classes[first]?.limits ?? [])
          .filter((l) => l.limit !== null)
          .map((l) => l.sizeUm)
        for (const c of r.classes.slice(first)) {
          expect(c.missing).toEqual([])
          for (const f of c.failures) expect(considered).not.toContain(f.sizeUm)
        }
      }),
    )
  })
})

describe('Annex 1 states and grades are complete', () => {
  it('every grade and state has both sizes in both tables', () => {
    for (const grade of ANNEX1_GRADES)
      for (const state of ANNEX1_STATES)
        for (const size of [0.5, 5] as const) {
          expect(annex1ActionLimit(grade, state, size)).not.toBeUndefined()
          expect(annex1ClassificationLimit(grade, state, size)).not.toBeUndefined()
        }
  })
})
