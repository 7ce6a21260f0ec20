import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { shortestEdit } from '../rules/quality/shortest-edit.ts'

/** Myers' shortest edit script, against a plain LCS and against the edits it claims. */

/** The length of a longest common subsequence, by the textbook table. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      (t[i] as number[])[j] =
        a[i] === b[j]
          ? ((t[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((t[i + 1] as number[])[j] as number, (t[i] as number[])[j + 1] as number)
  return (t[0] as number[])[0] as number
}

const unlimited = { maxEdits: 10_000, maxSteps: 10_000_000 }
const edit = (a: string[], b: string[], limits = unlimited) =>
  shortestEdit(a.length, b.length, (i, j) => a[i] === b[j], limits)

describe('shortestEdit (Myers)', () => {
  it('hand-written: equal, empty, one change, a moved item', () => {
    expect(edit([], [])).toEqual([])
    expect(edit(['a', 'b'], ['a', 'b'])).toEqual([])
    expect(edit([], ['a', 'b'])).toEqual([{ aFrom: 0, aTo: 0, bFrom: 0, bTo: 2 }])
    expect(edit(['a', 'b'], [])).toEqual([{ aFrom: 0, aTo: 2, bFrom: 0, bTo: 0 }])
    expect(edit(['a', 'x', 'c'], ['a', 'y', 'c'])).toEqual([{ aFrom: 1, aTo: 2, bFrom: 1, bTo: 2 }])
    // A, B, C → B, C, A: A deleted at the start, inserted at the end (2 edits, not 4).
    expect(edit(['A', 'B', 'C'], ['B', 'C', 'A'])).toEqual([
      { aFrom: 0, aTo: 1, bFrom: 0, bTo: 0 },
      { aFrom: 3, aTo: 3, bFrom: 2, bTo: 3 },
    ])
  })

  it('makes the second from the first with as few edits as the lines outside a longest common subsequence', () => {
    const items = fc.array(fc.constantFrom('a', 'b', 'c', ''), { maxLength: 24 })
    fc.assert(
      fc.property(items, items, (a, b) => {
        const blocks = edit(a, b)
        expect(blocks).not.toBeNull()
        let edits = 0
        const made: string[] = []
        let at = 0
        let previousEnd = -1
        for (const block of blocks ?? []) {
          // In order, each a real change, and something common between two of them.
          expect(block.aFrom).toBeGreaterThan(previousEnd)
          expect(block.aTo - block.aFrom + block.bTo - block.bFrom).toBeGreaterThan(0)
          made.push(...a.slice(at, block.aFrom), ...b.slice(block.bFrom, block.bTo))
          at = block.aTo
          previousEnd = block.aTo
          edits += block.aTo - block.aFrom + block.bTo - block.bFrom
        }
        made.push(...a.slice(at))
        expect(made).toEqual(b)
        expect(edits).toBe(a.length + b.length - 2 * lcsLength(a, b))
      }),
    )
  })

  it('gives up past its limits: more edits than allowed, or too many steps', () => {
    const a = ['1', '2', '3', '4']
    const b = ['5', '6', '7', '8']
    expect(edit(a, b, { maxEdits: 7, maxSteps: 1000 })).toBeNull()
    expect(edit(a, b, { maxEdits: 8, maxSteps: 1000 })).toHaveLength(1)
    const long = Array.from({ length: 1000 }, (_, i) => String(i))
    expect(edit(long, long.with(500, 'x'), { maxEdits: 10, maxSteps: 100 })).toBeNull()
    expect(edit(long, long.with(500, 'x'), { maxEdits: 10, maxSteps: 10_000 })).toEqual([
      { aFrom: 500, aTo: 501, bFrom: 500, bTo: 501 },
    ])
  })
})
