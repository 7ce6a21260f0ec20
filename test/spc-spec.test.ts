import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type ChartSpec, canonicalChartSpec } from '../rules/spec.ts'
import { NELSON_RULES, type RuleId, WESTERN_ELECTRIC_RULES } from '../rules/types.ts'

/**
 * Issue 7: the identity of a chart spec (rules/spec.ts canonicalChartSpec), what the gateway
 * persists frozen limits under: reordering YAML keys or rule lists gives the same identity, a
 * change of any value another. The expected texts are written out here.
 */

const base: ChartSpec = {
  type: 'xbar-r',
  subgroup: { by: 'count', size: 5 },
  baseline: { subgroups: 25 },
  excludeOutOfControl: false,
  rules: ['N1', 'N2'],
}

/** The same object with its keys in reverse order, recursively (what a reordered YAML gives). */
function reversed<T>(value: T): T {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversed(v)]),
  ) as T
}

describe('canonicalChartSpec', () => {
  it('is JSON with every object’s keys sorted and no undefined fields', () => {
    const spec: ChartSpec = {
      ...base,
      sigmaMethod: undefined,
      given: undefined,
      cusum: { resetOnSignal: true, k: 0.5, headStart: 0, h: 4 },
      runLengths: { N3: 7, N2: 8 },
    }
    expect(canonicalChartSpec(spec)).toBe(
      '{"baseline":{"subgroups":25},"cusum":{"h":4,"headStart":0,"k":0.5,"resetOnSignal":true},' +
        '"excludeOutOfControl":false,"rules":["N1","N2"],"runLengths":{"N2":8,"N3":7},' +
        '"subgroup":{"by":"count","size":5},"type":"xbar-r"}',
    )
  })

  it('rules in the order N1…N8, WE1…WE4 (each once), whatever order they were written in', () => {
    const spec: ChartSpec = { ...base, rules: ['WE2', 'N5', 'N1', 'WE1', 'N8', 'N2', 'N1'] }
    expect(JSON.parse(canonicalChartSpec(spec)).rules).toEqual([
      'N1',
      'N2',
      'N5',
      'N8',
      'WE1',
      'WE2',
    ])
  })

  it('reordering keys (at any depth) or rules gives the same identity; a changed value another (fast-check)', () => {
    const all: RuleId[] = [...NELSON_RULES, ...WESTERN_ELECTRIC_RULES]
    fc.assert(
      fc.property(
        fc.subarray(all, { minLength: 1 }),
        fc.integer({ min: 2, max: 25 }),
        fc.boolean(),
        fc.nat(),
        (rules, size, exclude, seed) => {
          const spec: ChartSpec = {
            ...base,
            subgroup: { by: 'count', size },
            excludeOutOfControl: exclude,
            rules,
            ewma: { lambda: 0.2, L: 3 },
          }
          const shuffled = [...rules].sort(
            (a, b) => ((a.charCodeAt(1) * seed) % 7) - ((b.charCodeAt(1) * seed) % 7),
          )
          const same = reversed({ ...spec, rules: shuffled.reverse() })
          expect(canonicalChartSpec(same)).toBe(canonicalChartSpec(spec))
          const other = { ...spec, subgroup: { by: 'count' as const, size: size + 1 } }
          expect(canonicalChartSpec(other)).not.toBe(canonicalChartSpec(spec))
          const fewer = { ...spec, rules: rules.length > 1 ? rules.slice(1) : [...all] }
          expect(canonicalChartSpec(fewer)).not.toBe(canonicalChartSpec(spec))
        },
      ),
    )
  })

  it('does not change the spec it is given', () => {
    const spec: ChartSpec = { ...base, rules: ['N2', 'N1'] }
    canonicalChartSpec(spec)
    expect(spec.rules).toEqual(['N2', 'N1'])
  })
})
