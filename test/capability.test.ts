import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { capabilityOfRows } from '../rules/analysis.ts'
import {
  addToCapability,
  type Capability,
  type CapabilitySpec,
  type CapabilityState,
  capability,
  capabilityOf,
  capabilitySpecProblems,
  capabilityVerdict,
  cpBounds95,
  cpkBounds95,
  DEFAULT_CAPABILITY_POLICY,
  initialCapabilityState,
  MIN_CAPABILITY_N,
  recordSignal,
  signalsOf,
} from '../rules/capability.ts'
import { chiSquareQuantile, normalCdf, normalQuantile } from '../rules/stats.ts'

/**
 * Process capability. Textbook figures are cited where the source gives them (Montgomery,
 * Introduction to Statistical Quality Control, chapters 6 and 8); every other expectation is
 * computed here, independently, from the definitions.
 */

/** Capability of a process with known μ and σ (within = overall = σ), n values, none out of spec. */
function ofProcess(mean: number, sigma: number, spec: CapabilitySpec, n = 100): Capability {
  return capability({ n, mean, sigmaWithin: sigma, sigmaOverall: sigma, outOfSpec: 0 }, spec)
}

describe('Cp, Cpk, Cpl, Cpu against worked textbook examples', () => {
  it('Montgomery ch. 6, hard-bake flow width: R̄ = 0.32521, n = 5, σ̂ = R̄/d2 = 0.1398, specs 1.00 to 2.00: Cp = 1.192', () => {
    const sigma = 0.32521 / 2.326 // the book's d2(5), as it divides
    expect(sigma).toBeCloseTo(0.1398, 4)
    const c = ofProcess(1.5056, sigma, { lsl: 1, usl: 2 })
    expect(c.cp).toBeCloseTo(1.192, 3)
    // The process uses 1/Cp = 83.9% of the specification band (Montgomery: P = 83.89%).
    expect(100 / (c.cp as number)).toBeCloseTo(83.89, 1)
  })

  it('Montgomery ch. 6, piston rings: R̄ = 0.023, n = 5, specs 74.000 ± 0.05: σ̂ = 0.0099, Cp = 1.68', () => {
    const sigma = 0.023 / 2.326 // the book's d2(5), as it divides
    expect(sigma).toBeCloseTo(0.0099, 4)
    const c = ofProcess(74.001, sigma, { lsl: 73.95, usl: 74.05 })
    // The book divides by the rounded σ̂ = 0.0099 (1.684); unrounded σ̂ gives 1.6855.
    expect(Math.abs((c.cp as number) - 1.68)).toBeLessThan(0.01)
  })

  it('an off-centre process (computed): USL 20, LSL 8, μ 16, σ 2: Cp 1, Cpl 4/3, Cpu 2/3, Cpk 2/3', () => {
    const c = ofProcess(16, 2, { lsl: 8, usl: 20 })
    expect(c.cp).toBeCloseTo(1, 12)
    expect(c.cpl).toBeCloseTo(4 / 3, 12)
    expect(c.cpu).toBeCloseTo(2 / 3, 12)
    expect(c.cpk).toBe(c.cpu)
  })

  it('Pp, Ppk, Ppl, Ppu use the overall σ; Cp, Cpk, Cpl, Cpu the within σ', () => {
    const c = capability(
      { n: 50, mean: 10.2, sigmaWithin: 0.1, sigmaOverall: 0.25, outOfSpec: 0 },
      { lsl: 9.4, usl: 10.6 },
    )
    expect(c.cp).toBeCloseTo(1.2 / 0.6, 12)
    expect(c.cpl).toBeCloseTo(0.8 / 0.3, 12)
    expect(c.cpu).toBeCloseTo(0.4 / 0.3, 12)
    expect(c.cpk).toBeCloseTo(0.4 / 0.3, 12)
    expect(c.pp).toBeCloseTo(1.2 / 1.5, 12)
    expect(c.ppl).toBeCloseTo(0.8 / 0.75, 12)
    expect(c.ppu).toBeCloseTo(0.4 / 0.75, 12)
    expect(c.ppk).toBeCloseTo(0.4 / 0.75, 12)
    expect(c.sigmaWithin).toBe(0.1)
    expect(c.sigmaOverall).toBe(0.25)
  })

  it('a mean outside the specification gives a negative Cpk, as the definition does', () => {
    const c = ofProcess(21, 1, { lsl: 8, usl: 20 })
    expect(c.cpu).toBeCloseTo(-1 / 3, 12)
    expect(c.cpk).toBeCloseTo(-1 / 3, 12)
  })
})

describe('Cpm (Taguchi), from the within σ', () => {
  // Montgomery §8.3: two processes with Cpk = 1.0, LSL 35, USL 65, T = 50 (the mid-point).
  it('Montgomery §8.3, process A (μ 50, σ 5): Cp = Cpk = Cpm = 1.0', () => {
    const a = ofProcess(50, 5, { lsl: 35, usl: 65, target: 50 })
    expect(a.cp).toBeCloseTo(1, 12)
    expect(a.cpk).toBeCloseTo(1, 12)
    expect(a.cpm).toBeCloseTo(1, 12)
  })

  it('Montgomery §8.3, process B (μ 57.5, σ 2.5): Cp = 2.0, Cpk = 1.0, Cpm = 2/√(1 + 3²) = 0.63', () => {
    const b = ofProcess(57.5, 2.5, { lsl: 35, usl: 65, target: 50 })
    expect(b.cp).toBeCloseTo(2, 12)
    expect(b.cpk).toBeCloseTo(1, 12)
    expect(b.cpm).toBeCloseTo(0.63, 2)
    expect(b.cpm).toBeCloseTo(2 / Math.sqrt(10), 12)
  })

  it('the target defaults to the mid-point of the limits', () => {
    const implicit = ofProcess(57.5, 2.5, { lsl: 35, usl: 65 })
    expect(implicit.target).toBe(50)
    expect(implicit.cpm).toBe(ofProcess(57.5, 2.5, { lsl: 35, usl: 65, target: 50 }).cpm)
  })

  it('an off-centre target: min(T − LSL, USL − T) / 3√(σ² + (μ − T)²) (Minitab)', () => {
    const c = ofProcess(52, 2, { lsl: 40, usl: 70, target: 55 })
    expect(c.cpm).toBeCloseTo(Math.min(15, 15) / (3 * Math.sqrt(4 + 9)), 12)
    const d = ofProcess(52, 2, { lsl: 40, usl: 70, target: 50 })
    expect(d.cpm).toBeCloseTo(10 / (3 * Math.sqrt(4 + 4)), 12)
  })

  it('Cpm uses the within σ, not the overall one', () => {
    const c = capability(
      { n: 30, mean: 51, sigmaWithin: 1, sigmaOverall: 3, outOfSpec: 0 },
      { lsl: 44, usl: 56 },
    )
    expect(c.cpm).toBeCloseTo(12 / (6 * Math.sqrt(1 + 1)), 12)
  })
})

describe('one-sided specifications', () => {
  it('USL only: Cpu and Ppu; Cpk = Cpu, Ppk = Ppu; no Cp, Pp, Cpl, Ppl', () => {
    const c = capability(
      { n: 40, mean: 10, sigmaWithin: 0.5, sigmaOverall: 0.8, outOfSpec: 0 },
      { usl: 12 },
    )
    expect(c.cpu).toBeCloseTo(2 / 1.5, 12)
    expect(c.cpk).toBe(c.cpu)
    expect(c.ppu).toBeCloseTo(2 / 2.4, 12)
    expect(c.ppk).toBe(c.ppu)
    expect([c.cp, c.cpl, c.pp, c.ppl, c.cpLower95, c.cpUpper95]).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ])
    expect(c.cpkLower95).not.toBeNull()
  })

  it('LSL only: Cpl and Ppl; Cpk = Cpl, Ppk = Ppl', () => {
    const c = capability(
      { n: 40, mean: 10, sigmaWithin: 0.5, sigmaOverall: 0.8, outOfSpec: 0 },
      { lsl: 9 },
    )
    expect(c.cpl).toBeCloseTo(1 / 1.5, 12)
    expect(c.cpk).toBe(c.cpl)
    expect(c.ppk).toBe(c.ppl)
    expect([c.cp, c.cpu, c.pp, c.ppu]).toEqual([null, null, null, null])
  })

  it('one limit: Cpm only with a target (Minitab): (USL − T) or (T − LSL) over 3τ', () => {
    expect(ofProcess(10, 0.5, { usl: 12 }).cpm).toBeNull()
    expect(ofProcess(10, 0.5, { usl: 12 }).target).toBeNull()
    expect(ofProcess(10, 0.5, { usl: 12, target: 10.5 }).cpm).toBeCloseTo(
      1.5 / (3 * Math.sqrt(0.25 + 0.25)),
      12,
    )
    expect(ofProcess(10, 0.5, { lsl: 8, target: 10.5 }).cpm).toBeCloseTo(
      2.5 / (3 * Math.sqrt(0.25 + 0.25)),
      12,
    )
  })

  it('expected PPM of a one-sided spec counts its one tail', () => {
    const c = ofProcess(0, 1, { usl: 3 })
    expect(c.expectedPpm).toBeCloseTo(1e6 * (1 - normalCdf(3)), 9)
  })
})

describe('out of specification, parts per million', () => {
  it('expected (normal): Cp = 1 centred gives 2 × Φ(−3) = 2700 PPM; one side 1350 (Montgomery Table 8.2)', () => {
    const c = ofProcess(0, 1, { lsl: -3, usl: 3 })
    expect(c.expectedPpm).toBeCloseTo(2 * 1e6 * 0.0013498980316301, 6)
    expect(Math.round(c.expectedPpm as number)).toBe(2700)
    expect(Math.round(ofProcess(0, 1, { usl: 3 }).expectedPpm as number)).toBe(1350)
  })

  it('expected far in the tail: a centred 6σ process gives 2 × Φ(−6) = 0.00197 PPM', () => {
    const c = ofProcess(0, 1, { lsl: -6, usl: 6 })
    expect((c.expectedPpm as number) / (2 * 1e6 * 9.86587645037698e-10)).toBeCloseTo(1, 9)
  })

  it('expected: each tail with its own σ, overall and within', () => {
    const c = capability(
      { n: 100, mean: 10.3, sigmaWithin: 0.4, sigmaOverall: 0.6, outOfSpec: 0 },
      { lsl: 9, usl: 11.5 },
    )
    const tails = (s: number) =>
      1e6 * (normalCdf((9 - 10.3) / s) + 1 - normalCdf((11.5 - 10.3) / s))
    expect(c.expectedPpm).toBeCloseTo(tails(0.6), 6)
    expect(c.expectedPpmWithin).toBeCloseTo(tails(0.4), 6)
  })

  it('observed: 10⁶ × out-of-spec / n (a value on a limit is in spec, see the accumulator)', () => {
    const c = capability(
      { n: 250, mean: 10, sigmaWithin: 1, sigmaOverall: 1, outOfSpec: 3 },
      { lsl: 7, usl: 13 },
    )
    expect(c.observedPpm).toBe(12000)
    let s = initialCapabilityState()
    for (const v of [7, 13, 6.999, 13.001, 10]) s = addToCapability(s, v, { lsl: 7, usl: 13 })
    expect([s.below, s.above]).toEqual([1, 1])
  })
})

describe('95% confidence bounds (Montgomery §8.3.5)', () => {
  it('Montgomery: USL 62, LSL 38, n = 20, s = 1.75, centred: Ĉp = 2.29 and 1.57 ≤ Cp ≤ 3.01', () => {
    const c = ofProcess(50, 1.75, { lsl: 38, usl: 62 }, 20)
    expect(c.cp).toBeCloseTo(2.29, 2)
    // The book works with Ĉp rounded to 2.29 and χ² to 8.91 and 32.85.
    expect(chiSquareQuantile(0.025, 19)).toBeCloseTo(8.91, 2)
    expect(chiSquareQuantile(0.975, 19)).toBeCloseTo(32.85, 2)
    expect(Math.abs((c.cpLower95 as number) - 1.57)).toBeLessThan(0.01)
    expect(Math.abs((c.cpUpper95 as number) - 3.01)).toBeLessThan(0.01)
  })

  it('Montgomery: Ĉpk = 1.33 from n = 20 gives 0.88 ≤ Cpk ≤ 1.78', () => {
    const c = ofProcess(0, 1, { usl: 3.99 }, 20)
    expect(c.cpk).toBeCloseTo(1.33, 12)
    expect(c.cpkLower95).toBeCloseTo(0.88, 2)
    expect(c.cpkUpper95).toBeCloseTo(1.78, 2)
  })

  it('Cp: Ĉp · √(χ²(α/2; n − 1)/(n − 1)) and Ĉp · √(χ²(1 − α/2; n − 1)/(n − 1))', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.2, max: 4, noNaN: true }),
        fc.integer({ min: 2, max: 500 }),
        (cp, n) => {
          const b = cpBounds95(cp, n) as { lower: number; upper: number }
          expect(b.lower).toBeCloseTo(cp * Math.sqrt(chiSquareQuantile(0.025, n - 1) / (n - 1)), 12)
          expect(b.upper).toBeCloseTo(cp * Math.sqrt(chiSquareQuantile(0.975, n - 1) / (n - 1)), 12)
          expect(b.lower).toBeLessThan(cp)
          expect(b.upper).toBeGreaterThan(cp)
        },
      ),
    )
  })

  it('Cpk: Ĉpk ∓ z(0.975) · √(1/(9n) + Ĉpk²/(2(n − 1))), i.e. Ĉpk[1 ∓ z√(1/(9nĈpk²) + 1/(2(n − 1)))]', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.2, max: 4, noNaN: true }),
        fc.integer({ min: 2, max: 500 }),
        (cpk, n) => {
          const b = cpkBounds95(cpk, n) as { lower: number; upper: number }
          const z = normalQuantile(0.975)
          const rel = z * Math.sqrt(1 / (9 * n * cpk * cpk) + 1 / (2 * (n - 1)))
          expect(b.lower).toBeCloseTo(cpk * (1 - rel), 12)
          expect(b.upper).toBeCloseTo(cpk * (1 + rel), 12)
        },
      ),
    )
  })

  it('no bounds from a single value', () => {
    const c = ofProcess(50, 1, { lsl: 40, usl: 60 }, 1)
    expect([c.cpLower95, c.cpUpper95, c.cpkLower95, c.cpkUpper95]).toEqual([null, null, null, null])
  })
})

describe('undefined indices are null, never infinite', () => {
  it('no within σ: the C indices are null; the P indices stand', () => {
    const c = capability(
      { n: 30, mean: 5, sigmaWithin: null, sigmaOverall: 1, outOfSpec: 0 },
      { lsl: 2, usl: 8 },
    )
    expect([c.cp, c.cpk, c.cpl, c.cpu, c.cpm, c.expectedPpmWithin]).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ])
    expect(c.pp).toBeCloseTo(1, 12)
  })

  it('σ = 0 or not finite: null', () => {
    const c = capability(
      { n: 30, mean: 5, sigmaWithin: 0, sigmaOverall: Number.NaN, outOfSpec: 0 },
      { lsl: 2, usl: 8 },
    )
    expect([c.cp, c.pp, c.expectedPpm, c.expectedPpmWithin, c.sigmaOverall]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ])
  })

  it('no specification limit: every index and PPM is null', () => {
    const c = ofProcess(5, 1, {})
    expect([c.cp, c.cpk, c.cpm, c.pp, c.ppk, c.expectedPpm, c.observedPpm]).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ])
  })

  it('an invalid specification is refused with its reasons', () => {
    expect(capabilitySpecProblems({ lsl: 10, usl: 10 })).toEqual([
      'the lower specification limit (10) must be below the upper one (10)',
    ])
    expect(capabilitySpecProblems({ lsl: 0, usl: 10, target: 11 })).toEqual([
      'the target (11) is above the upper specification limit (10)',
    ])
    expect(capabilitySpecProblems({ usl: Number.NaN })).toEqual(['usl must be a finite number'])
    expect(capabilitySpecProblems({ lsl: 0, usl: 10, target: 5 })).toEqual([])
    expect(() => ofProcess(5, 1, { lsl: 9, usl: 1 })).toThrow(RangeError)
  })
})

describe('the live accumulator', () => {
  const fold = (values: readonly number[], spec: CapabilitySpec, from = initialCapabilityState()) =>
    values.reduce<CapabilityState>((s, v) => addToCapability(s, v, spec), from)

  /** Values on a 0.001 grid with at least two distinct ones, and a valid spec around them. */
  const dataAndSpec = fc
    .tuple(
      fc.array(fc.integer({ min: -200_000, max: 200_000 }), {
        minLength: MIN_CAPABILITY_N,
        maxLength: 300,
      }),
      fc.integer({ min: -250_000, max: 0 }),
      fc.integer({ min: 1, max: 250_000 }),
      fc.constantFrom('both', 'lsl', 'usl'),
      fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
      fc.double({ min: 0.01, max: 500, noNaN: true }),
    )
    .filter(([xs]) => new Set(xs).size > 1)
    .map(([xs, lo, hi, sides, t, sigmaWithin]) => {
      const lsl = lo / 1000
      const usl = hi / 1000
      const spec: CapabilitySpec = {
        lsl: sides === 'usl' ? undefined : lsl,
        usl: sides === 'lsl' ? undefined : usl,
        // Clamped: lsl + 1 · (usl − lsl) can round above usl, which a specification refuses.
        target:
          t === undefined || sides !== 'both' ? undefined : Math.min(usl, lsl + t * (usl - lsl)),
      }
      return { values: xs.map((x) => x / 1000), spec, sigmaWithin }
    })

  function expectClose(actual: Capability, expected: Capability) {
    for (const [key, want] of Object.entries(expected)) {
      const got = actual[key as keyof Capability]
      if (want === null) expect(got, key).toBeNull()
      else
        expect(Math.abs((got as number) - want), key).toBeLessThanOrEqual(
          1e-9 * Math.max(1, Math.abs(want)),
        )
    }
  }

  it('equals the batch computation (two-pass mean and standard deviation) for any data (fast-check)', () => {
    fc.assert(
      fc.property(dataAndSpec, ({ values, spec, sigmaWithin }) => {
        const live = capabilityOf(fold(values, spec), sigmaWithin, spec) as Capability
        const batch = capabilityOfRows(
          values.map((value, ts) => ({ ts, value })),
          sigmaWithin,
          spec,
        )
        expectClose(live, batch)
        // And the batch against sums computed here.
        const mean = values.reduce((a, b) => a + b, 0) / values.length
        const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
        expect(live.mean).toBeCloseTo(mean, 9)
        expect(live.sigmaOverall).toBeCloseTo(sd, 9)
        const out = values.filter(
          (v) =>
            (spec.lsl !== undefined && v < spec.lsl) || (spec.usl !== undefined && v > spec.usl),
        ).length
        expect(live.observedPpm).toBeCloseTo((1e6 * out) / values.length, 6)
      }),
    )
  })

  it('survives a JSON round trip at any point and carries on exactly', () => {
    fc.assert(
      fc.property(dataAndSpec, fc.nat(), ({ values, spec }, cut) => {
        const k = cut % (values.length + 1)
        const restored = JSON.parse(
          JSON.stringify(fold(values.slice(0, k), spec)),
        ) as CapabilityState
        expect(fold(values.slice(k), spec, restored)).toEqual(fold(values, spec))
      }),
    )
  })

  it(`is null until ${MIN_CAPABILITY_N} values, a within σ and a specification limit exist`, () => {
    const spec = { lsl: 0, usl: 10 }
    const values = Array.from({ length: MIN_CAPABILITY_N }, (_, i) => 5 + Math.sin(i))
    expect(capabilityOf(fold(values.slice(1), spec), 1, spec)).toBeNull()
    expect(capabilityOf(fold(values, spec), 1, spec)).not.toBeNull()
    expect(capabilityOf(fold(values, spec), null, spec)).toBeNull()
    expect(capabilityOf(fold(values, spec), 0, spec)).toBeNull()
    expect(capabilityOf(fold(values, {}), 1, {})).toBeNull()
  })

  it('leaves a value that is not a finite number out', () => {
    const s = fold([1, 2, 3], { lsl: 0 })
    expect(addToCapability(s, Number.NaN, { lsl: 0 })).toBe(s)
    expect(addToCapability(s, Number.POSITIVE_INFINITY, { lsl: 0 })).toBe(s)
  })
})

describe('issue 7: the capability verdict, only for a stable process (AIAG, Minitab)', () => {
  /** A capability with the given Cpk and Ppk (σ within 1, σ overall `so`, spec 0…12). */
  function withIndices(mean: number, so: number, n = 50): Capability {
    return capability(
      { n, mean, sigmaWithin: 1, sigmaOverall: so, outOfSpec: 0 },
      { lsl: 0, usl: 12 },
    )
  }
  const policy = { threshold: 1.33, minReadings: 25 }
  const NOT_IN_CONTROL = 'not in statistical control — capability indices are not a prediction'

  it('defaults: threshold 1.33, 25 readings (MIN_CAPABILITY_N the same)', () => {
    expect(DEFAULT_CAPABILITY_POLICY).toEqual({ threshold: 1.33, minReadings: 25 })
    expect(MIN_CAPABILITY_N).toBe(25)
  })

  it('a chart that signalled in the window: "not in statistical control", whatever the indices (the demo’s bore: Cpk ≥ 1.33, Ppk 0.67, CUSUM signalling)', () => {
    // μ 6, σw 1: Cpk = 6/3 = 2; σo 3: Ppk = 6/9 = 0.67.
    const c = withIndices(6, 3)
    expect(c.cpk).toBeCloseTo(2, 12)
    expect(c.ppk).toBeCloseTo(2 / 3, 12)
    expect(capabilityVerdict(c, { signalled: true, n: 50 }, policy)).toEqual({
      verdict: 'not-in-control',
      words: NOT_IN_CONTROL,
      threshold: 1.33,
      minReadings: 25,
      signalled: true,
    })
    // Even with indices that would pass, and with too few readings: the signal comes first.
    const good = withIndices(6, 1)
    expect(capabilityVerdict(good, { signalled: true, n: 50 }, policy).verdict).toBe(
      'not-in-control',
    )
    expect(capabilityVerdict(null, { signalled: true, n: 3 }, policy).verdict).toBe(
      'not-in-control',
    )
  })

  it('stable but fewer than minReadings, or no capability yet: too-few-readings', () => {
    const c = withIndices(6, 1, 24)
    const v = capabilityVerdict(c, { signalled: false, n: 24 }, policy)
    expect(v).toMatchObject({ verdict: 'too-few-readings', signalled: false, minReadings: 25 })
    expect(v.words).toContain('24 of 25')
    expect(capabilityVerdict(null, { signalled: false, n: 0 }, policy).verdict).toBe(
      'too-few-readings',
    )
  })

  it('stable, enough readings: capable only if Cpk ≥ threshold and Ppk ≥ threshold', () => {
    // Cpk = Ppk = 2 (μ 6, σ 1).
    expect(capabilityVerdict(withIndices(6, 1), { signalled: false, n: 50 }, policy)).toMatchObject(
      { verdict: 'capable', signalled: false, threshold: 1.33 },
    )
    // Exactly at the threshold is capable: μ 3.99, σ 1 → Cpk = 1.33; σo 1 → Ppk = 1.33.
    const edge = withIndices(3.99, 1)
    expect(edge.cpk).toBeCloseTo(1.33, 12)
    expect(
      capabilityVerdict(
        edge,
        { signalled: false, n: 50 },
        { threshold: edge.cpk as number, minReadings: 25 },
      ).verdict,
    ).toBe('capable')
    // Cpk 2 but Ppk 0.67: not capable (the overall spread does not fit); and Cpk 1 (μ 3).
    const wide = capabilityVerdict(withIndices(6, 3), { signalled: false, n: 50 }, policy)
    expect(wide.verdict).toBe('not-capable')
    expect(wide.words).toContain('0.67')
    expect(capabilityVerdict(withIndices(3, 1), { signalled: false, n: 50 }, policy).verdict).toBe(
      'not-capable',
    )
    // A higher threshold (1.67, PPAP's preliminary) turns Cpk = Ppk = 1.5 into not capable.
    const c15 = withIndices(4.5, 1)
    expect(capabilityVerdict(c15, { signalled: false, n: 50 }, policy).verdict).toBe('capable')
    expect(
      capabilityVerdict(c15, { signalled: false, n: 50 }, { threshold: 1.67, minReadings: 25 })
        .verdict,
    ).toBe('not-capable')
  })

  it('an undefined index (no within σ) never reaches the threshold', () => {
    const c = capability(
      { n: 50, mean: 6, sigmaWithin: null, sigmaOverall: 1, outOfSpec: 0 },
      { lsl: 0, usl: 12 },
    )
    expect(c.cpk).toBeNull()
    expect(capabilityVerdict(c, { signalled: false, n: 50 }, policy).verdict).toBe('not-capable')
  })

  it('the window’s signals: a count and the latest (time, index); a state saved without them reads 0', () => {
    const state = initialCapabilityState()
    expect(signalsOf(state)).toBe(0)
    expect(state.lastSignal).toBeNull()
    recordSignal(state, 5000, 12)
    recordSignal(state, 9000, 20)
    expect(signalsOf(state)).toBe(2)
    expect(state.lastSignal).toEqual({ ts: 9000, index: 20 })
    const old = { n: 30, mean: 5, m2: 12, below: 0, above: 1 } as CapabilityState
    expect(signalsOf(old)).toBe(0)
    recordSignal(old, 1, 2)
    expect(signalsOf(old)).toBe(1)
  })

  it('capabilityOf takes the minimum of readings (characteristic’s policy) instead of MIN_CAPABILITY_N', () => {
    const spec = { lsl: 0, usl: 10 }
    const values = Array.from({ length: 10 }, (_, i) => 5 + Math.sin(i))
    const state = values.reduce((s, v) => addToCapability(s, v, spec), initialCapabilityState())
    expect(capabilityOf(state, 1, spec)).toBeNull()
    expect(capabilityOf(state, 1, spec, 10)?.n).toBe(10)
    expect(capabilityOf(state, 1, spec, 11)).toBeNull()
  })
})
