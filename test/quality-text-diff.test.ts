import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { configText } from '../gateway/quality/config-record.ts'
import {
  canonicalJson,
  DIFF_CONTEXT_LINES,
  jsonPlaces,
  lineDiff,
  MAX_DIFF_LINES,
} from '../rules/quality/index.ts'

/** The line diff of configuration files: hand-written cases, then properties against a plain LCS. */

/** Lines joined with "\n" and a final newline, as a file holds them. */
const file = (...lines: string[]) => (lines.length === 0 ? '' : `${lines.join('\n')}\n`)
const numbered = (n: number, prefix = 'line') =>
  Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`)

describe('lineDiff: hand-written cases', () => {
  it('equal texts give an empty diff', () => {
    expect(lineDiff('', '')).toBe('')
    expect(lineDiff(file('a', 'b'), file('a', 'b'))).toBe('')
  })

  it('one changed line in the middle: the old line, the new one, 2 lines of context each side', () => {
    const before = numbered(10)
    const after = before.with(4, 'LINE 5')
    expect(lineDiff(file(...before), file(...after))).toBe(
      ['  line 3', '  line 4', '- line 5', '+ LINE 5', '  line 6', '  line 7'].join('\n'),
    )
    expect(DIFF_CONTEXT_LINES).toBe(2)
  })

  it('a change on the first or the last line has context on one side only', () => {
    const before = numbered(6)
    expect(lineDiff(file(...before), file(...before.with(0, 'first')))).toBe(
      ['- line 1', '+ first', '  line 2', '  line 3'].join('\n'),
    )
    expect(lineDiff(file(...before), file(...before.with(5, 'last')))).toBe(
      ['  line 4', '  line 5', '- line 6', '+ last'].join('\n'),
    )
  })

  it('changes far apart make two hunks separated by a line "…"', () => {
    const before = numbered(10)
    const after = before.with(1, 'LINE 2').with(8, 'LINE 9')
    expect(lineDiff(file(...before), file(...after))).toBe(
      [
        '  line 1',
        '- line 2',
        '+ LINE 2',
        '  line 3',
        '  line 4',
        '…',
        '  line 7',
        '  line 8',
        '- line 9',
        '+ LINE 9',
        '  line 10',
      ].join('\n'),
    )
  })

  it('changes 4 unchanged lines apart share a hunk; 5 apart, one line is left out', () => {
    const before = numbered(10)
    // Lines 3 and 8 changed: 4, 5, 6, 7 between them are all context.
    expect(lineDiff(file(...before), file(...before.with(2, 'X').with(7, 'Y')))).toBe(
      [
        '  line 1',
        '  line 2',
        '- line 3',
        '+ X',
        '  line 4',
        '  line 5',
        '  line 6',
        '  line 7',
        '- line 8',
        '+ Y',
        '  line 9',
        '  line 10',
      ].join('\n'),
    )
    // Lines 2 and 8 changed: line 5 is more than 2 lines from either.
    expect(lineDiff(file(...before), file(...before.with(1, 'X').with(7, 'Y')))).toBe(
      [
        '  line 1',
        '- line 2',
        '+ X',
        '  line 3',
        '  line 4',
        '…',
        '  line 6',
        '  line 7',
        '- line 8',
        '+ Y',
        '  line 9',
        '  line 10',
      ].join('\n'),
    )
  })

  it('an added line and a removed line', () => {
    expect(lineDiff(file('a', 'b', 'c'), file('a', 'b', 'new', 'c'))).toBe(
      ['  a', '  b', '+ new', '  c'].join('\n'),
    )
    expect(lineDiff(file('a', 'b', 'c', 'd'), file('a', 'c', 'd'))).toBe(
      ['  a', '- b', '  c', '  d'].join('\n'),
    )
  })

  it('a block replaced: all its removed lines, then all its added lines', () => {
    expect(lineDiff(file('keep', 'x1', 'x2', 'x3', 'end'), file('keep', 'y1', 'y2', 'end'))).toBe(
      ['  keep', '- x1', '- x2', '- x3', '+ y1', '+ y2', '  end'].join('\n'),
    )
  })

  it('a moved line is removed where it was and added where it is', () => {
    expect(lineDiff(file('A', 'B', 'C'), file('B', 'C', 'A'))).toBe(
      ['- A', '  B', '  C', '+ A'].join('\n'),
    )
  })

  it('from nothing, and to nothing', () => {
    expect(lineDiff('', file('a', 'b'))).toBe('+ a\n+ b')
    expect(lineDiff(file('a', 'b'), '')).toBe('- a\n- b')
  })

  it('a change to a limit in a YAML configuration', () => {
    const before = file(
      'characteristics:',
      '  - id: bore-diameter',
      '    unit: mm',
      '    spec:',
      '      lsl: 11.95',
      '      usl: 12.05',
      '    chart: imr',
      '  - id: length',
    )
    const after = before.replace('usl: 12.05', 'usl: 12.04')
    // Each line of the diff is its two-character mark, then the line as the file holds it.
    expect(lineDiff(before, after)).toBe(
      [
        '  ' + '    spec:',
        '  ' + '      lsl: 11.95',
        '- ' + '      usl: 12.05',
        '+ ' + '      usl: 12.04',
        '  ' + '    chart: imr',
        '  ' + '  - id: length',
      ].join('\n'),
    )
  })

  it('a final newline ends the last line: its absence is no difference', () => {
    expect(lineDiff('a\nb\n', 'a\nb')).toBe('')
    expect(lineDiff('a\n', 'a\n\n')).toBe('  a\n+ ') // an empty line added
  })

  it('a CR stays part of its line: CRLF to LF shows every line changed', () => {
    expect(lineDiff('a\r\nb\r\n', 'a\nb\n')).toBe('- a\r\n- b\r\n+ a\n+ b')
  })
})

describe('lineDiff on large files', () => {
  const sha = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex')

  it(`compares ${MAX_DIFF_LINES} lines line by line, even when every line differs`, () => {
    expect(MAX_DIFF_LINES).toBe(5000)
    const before = file(...numbered(5000, 'old'))
    const after = file(...numbered(5000, 'new'))
    const diff = lineDiff(before, after).split('\n')
    expect(diff).toHaveLength(10_000)
    expect(diff[0]).toBe('- old 1')
    expect(diff[5000]).toBe('+ new 1')
  })

  it('more than 5,000 differing lines on a side: the line counts and both texts’ SHA-256', () => {
    const before = file(...numbered(5001, 'old'))
    const after = file(...numbered(4000, 'new'))
    expect(lineDiff(before, after)).toBe(
      `- 5001 lines, SHA-256 ${sha(before)}\n+ 4000 lines, SHA-256 ${sha(after)}`,
    )
    expect(lineDiff(before, before)).toBe('') // equal is equal, however long
    // Without a final newline the last line still counts.
    expect(lineDiff(before, after.slice(0, -1)).split('\n')[1]).toMatch(/^\+ 4000 lines, /)
  })

  it('a few changed lines in a file of any length are shown line by line (a plant of 100,000 characteristics)', () => {
    const lines = numbered(100_000)
    const before = file(...lines)
    expect(lineDiff(before, file(...lines.with(49_999, 'changed')))).toBe(
      [
        '  line 49998',
        '  line 49999',
        '- line 50000',
        '+ changed',
        '  line 50001',
        '  line 50002',
      ].join('\n'),
    )
    // The last line removed: context before it only.
    expect(lineDiff(before, file(...lines.slice(0, -1)))).toBe(
      ['  line 99998', '  line 99999', '- line 100000'].join('\n'),
    )
    // Changes far apart (more than 5,000 lines between them): each in its hunk.
    const apart = file(...lines.with(1, 'two').slice(0, -1))
    expect(lineDiff(before, apart)).toBe(
      [
        '  line 1',
        '- line 2',
        '+ two',
        '  line 3',
        '  line 4',
        '…',
        '  line 99998',
        '  line 99999',
        '- line 100000',
      ].join('\n'),
    )
    // 1,001 lines cut from the end of 5,001: each of them, after two lines of context.
    const cut = lineDiff(file(...numbered(5001)), file(...numbered(4000))).split('\n')
    expect(cut).toHaveLength(2 + 1001)
    expect(cut.slice(0, 3)).toEqual(['  line 3999', '  line 4000', '- line 4001'])
    expect(cut.at(-1)).toBe('- line 5001')
  })

  it('edits scattered over a long file: each removed and added line shown, none other changed (fast-check)', () => {
    // Lines all different, edits far apart: the fewest edits are exactly those made.
    const base = numbered(12_000)
    const edits = fc.uniqueArray(
      fc.record({ at: fc.integer({ min: 0, max: 11_999 }), kind: fc.constantFrom('-', '+', '~') }),
      { minLength: 1, maxLength: 6, selector: (e) => Math.floor(e.at / 10) },
    )
    fc.assert(
      fc.property(edits, (list) => {
        const removed: string[] = []
        const added: string[] = []
        const after: string[] = []
        const at = new Map(list.map((e) => [e.at, e.kind]))
        base.forEach((line, i) => {
          const kind = at.get(i)
          if (kind === '-' || kind === '~') removed.push(line)
          if (kind === '+' || kind === '~') added.push(`new ${i}`)
          if (kind === '+') after.push(`new ${i}`, line)
          else if (kind === '~') after.push(`new ${i}`)
          else if (kind !== '-') after.push(line)
        })
        const body = lineDiff(file(...base), file(...after)).split('\n')
        expect(body.filter((l) => l.startsWith('- ')).map((l) => l.slice(2))).toEqual(removed)
        expect(body.filter((l) => l.startsWith('+ ')).map((l) => l.slice(2))).toEqual(added)
        // The whole body, as the format above describes it, from the edits made.
        const ops: [string, string][] = []
        base.forEach((line, i) => {
          const kind = at.get(i)
          if (kind === '-' || kind === '~') ops.push(['-', line])
          if (kind === '+' || kind === '~') ops.push(['+', `new ${i}`])
          if (kind === '+' || kind === undefined) ops.push([' ', line])
        })
        expect(body).toEqual(render(ops))
      }),
      { numRuns: 25 },
    )
  })

  it('more than 1,000 changed lines, more than 5,000 lines apart: the line counts and hashes', () => {
    const base = numbered(12_000)
    const after = base.map((line, i) => (i % 11 === 0 ? `changed ${i}` : line))
    const text = file(...after)
    expect(lineDiff(file(...base), text)).toBe(
      `- 12000 lines, SHA-256 ${sha(file(...base))}\n+ 12000 lines, SHA-256 ${sha(text)}`,
    )
    // 500 changed lines (1,000 removed and added) are still shown.
    const fewer = base.map((line, i) => (i % 24 === 0 ? `changed ${i}` : line))
    const body = lineDiff(file(...base), file(...fewer)).split('\n')
    expect(body.filter((l) => l.startsWith('- '))).toHaveLength(500)
    expect(body.filter((l) => l.startsWith('+ '))).toHaveLength(500)
  })

  it('in a long file too, a missing final newline is no difference', () => {
    const lines = numbered(12_000)
    const changed = lines.with(1, 'two')
    const expected = ['  line 1', '- line 2', '+ two', '  line 3', '  line 4'].join('\n')
    expect(lineDiff(lines.join('\n'), `${changed.join('\n')}\n`)).toBe(expected)
    expect(lineDiff(`${lines.join('\n')}\n`, changed.join('\n'))).toBe(expected)
  })

  it('empty lines at the start, and a change right after them', () => {
    expect(lineDiff('\nx\n', 'y\nx\n')).toBe('- \n+ y\n  x')
    expect(lineDiff('\n\nA\n', '\n\nB\n')).toBe('  \n  \n- A\n+ B')
    expect(lineDiff('\n\n\nA\n', '\n\n\nB\n')).toBe('  \n  \n- A\n+ B')
  })
})

/** The length of a longest common subsequence, by the textbook recursion (memoised). */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  const memo = new Map<string, number>()
  const go = (i: number, j: number): number => {
    if (i === a.length || j === b.length) return 0
    const key = `${i},${j}`
    const known = memo.get(key)
    if (known !== undefined) return known
    const value = a[i] === b[j] ? 1 + go(i + 1, j + 1) : Math.max(go(i + 1, j), go(i, j + 1))
    memo.set(key, value)
    return value
  }
  return go(0, 0)
}

const isSubsequence = (part: readonly string[], whole: readonly string[]) => {
  let k = 0
  for (const line of whole) if (k < part.length && part[k] === line) k++
  return k === part.length
}

describe('lineDiff properties', () => {
  const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 14 })

  it('removes and adds the fewest lines: as many as the lines outside a longest common subsequence', () => {
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const diff = lineDiff(file(...a), file(...b))
        const body = diff === '' ? [] : diff.split('\n')
        const common = lcsLength(a, b)
        expect(body.filter((l) => l.startsWith('- '))).toHaveLength(a.length - common)
        expect(body.filter((l) => l.startsWith('+ '))).toHaveLength(b.length - common)
      }),
    )
  })

  it('the old and context lines appear in the old text in order; the new and context lines in the new', () => {
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const body = lineDiff(file(...a), file(...b))
          .split('\n')
          .filter((l) => l !== '' && l !== '…')
        expect(body.every((l) => /^[ +-] /.test(l))).toBe(true)
        const old = body.filter((l) => !l.startsWith('+')).map((l) => l.slice(2))
        const fresh = body.filter((l) => !l.startsWith('-')).map((l) => l.slice(2))
        expect(isSubsequence(old, a)).toBe(true)
        expect(isSubsequence(fresh, b)).toBe(true)
      }),
    )
  })

  it('with or without a final newline, and lines long alike at either end: the fewest lines still', () => {
    // Lines that are not empty, so that a text without a final newline has the same lines.
    const words = fc.array(fc.constantFrom('a', 'b', 'ab', 'ba'), { maxLength: 14 })
    const text = (ls: string[], newline: boolean) =>
      ls.length === 0 ? '' : `${ls.join('\n')}${newline ? '\n' : ''}`
    fc.assert(
      fc.property(
        words,
        words,
        words,
        words,
        fc.boolean(),
        fc.boolean(),
        (pre, a, b, post, nlA, nlB) => {
          const x = [...pre, ...a, ...post]
          const y = [...pre, ...b, ...post]
          const diff = lineDiff(text(x, nlA), text(y, nlB))
          const body = diff === '' ? [] : diff.split('\n')
          const common = lcsLength(x, y)
          expect(body.filter((l) => l.startsWith('- '))).toHaveLength(x.length - common)
          expect(body.filter((l) => l.startsWith('+ '))).toHaveLength(y.length - common)
          // Each shown line is a change or within two lines of one.
          const marks = body.filter((l) => l !== '…').map((l) => l[0])
          marks.forEach((m, k) => {
            if (m !== ' ') return
            const near = marks.slice(Math.max(0, k - 2), k + 3).some((n) => n !== ' ')
            expect(near).toBe(true)
          })
        },
      ),
    )
  })

  it('is empty exactly when the lines are equal', () => {
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const same = a.length === b.length && a.every((l, i) => l === b[i])
        expect(lineDiff(file(...a), file(...b)) === '').toBe(same)
      }),
    )
  })
})

describe("the configuration's recorded text (what the diff compares)", () => {
  // As it was defined: the RFC 8785 form (rules/quality/canonical.ts, tested against the RFC's
  // examples) parsed and written again with two spaces, and a final newline.
  const reference = (value: unknown) =>
    `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`

  it('is the canonical form written with two spaces: members sorted, index-like names first', () => {
    const value = {
      zeta: [3, { b: 1, a: [true, null, 'x'] }, []],
      '10': 'ten',
      '2': 'two',
      Alpha: { ö: 1, o: 2, '€': 3, '😀': 4, z: -0, big: 1e21, small: 1.5e-7 },
      empty: {},
      skipped: undefined,
    }
    expect(configText(value)).toBe(reference(value))
    expect(configText(value).split('\n').slice(0, 4)).toEqual([
      '{',
      '  "2": "two",',
      '  "10": "ten",',
      '  "Alpha": {',
    ])
  })

  it('is the same text for any plain data (fast-check)', () => {
    const json = fc.jsonValue({ noUnicodeString: false }).filter((v) => !Object.is(v, -0))
    fc.assert(
      fc.property(json, (value) => {
        expect(configText(value)).toBe(reference(value))
      }),
    )
  })

  it('refuses a number that is not finite, as the canonical form does', () => {
    expect(() => configText({ a: Number.POSITIVE_INFINITY })).toThrow(/not a finite number/)
  })
})

describe('where a change is: hunks headed by its place in the configuration (jsonPlaces)', () => {
  const characteristic = (id: string, sigma: number) => ({
    id,
    chart: { limits: { center: 10, sigma }, type: 'imr' },
    name: `Weight ${id}`,
  })
  const config = (...characteristics: object[]) =>
    `${JSON.stringify({ characteristics, store: { timeseries: 'sqlite' } }, null, 2)}\n`

  it("names the characteristic by its id, though the id comes after the change's context", () => {
    const before = config(characteristic('a', 1), characteristic('b', 2))
    const after = config(characteristic('a', 1), characteristic('b', 3))
    // Lines of JSON.stringify(…, null, 2): the limits' members 10 spaces in, after the diff's two.
    const at = (spaces: number, text: string) => `${' '.repeat(spaces)}${text}`
    expect(lineDiff(before, after, { places: jsonPlaces })).toBe(
      [
        '@ characteristics[id="b"].chart.limits',
        at(2 + 8, '"limits": {'),
        at(2 + 10, '"center": 10,'),
        `- ${at(10, '"sigma": 2')}`,
        `+ ${at(10, '"sigma": 3')}`,
        at(2 + 8, '},'),
        at(2 + 8, '"type": "imr"'),
      ].join('\n'),
    )
    // Without a namer, the same body without its heading.
    expect(lineDiff(before, after)).toBe(
      lineDiff(before, after, { places: jsonPlaces }).split('\n').slice(1).join('\n'),
    )
  })

  it('heads each hunk; a hunk of changes in several places names each; a removed element is named, not the one before it', () => {
    const before = config(characteristic('a', 1), characteristic('b', 2), characteristic('c', 3))
    const renamed = { ...characteristic('a', 1), name: 'Weight A' }
    const withUnit = { ...characteristic('c', 3), unit: 'g' }
    const after = config(renamed, characteristic('b', 2), withUnit)
    const heads = lineDiff(before, after, { places: jsonPlaces })
      .split('\n')
      .filter((l) => l.startsWith('@ ') || l === '…')
    expect(heads).toEqual(['@ characteristics[id="a"]', '…', '@ characteristics[id="c"]'])
    // Changes within four lines share a hunk: the name of a, b's limits taken out of its chart,
    // c removed (its first removed line closes b: c is named by the next, its opening).
    const twice = config(renamed, { ...characteristic('b', 2), chart: { type: 'xbar-r' } })
    expect(
      lineDiff(before, twice, { places: jsonPlaces })
        .split('\n')
        .filter((l) => l.startsWith('@ ') || l === '…'),
    ).toEqual([
      '@ characteristics[id="a"] · characteristics[id="b"].chart.limits · characteristics[id="c"]',
    ])
  })

  it('in a long file (Myers’ script), each far-apart change is named', () => {
    const many = (changed: Record<number, number>) =>
      config(
        ...Array.from({ length: 2000 }, (_, i) => characteristic(`c${i + 1}`, changed[i + 1] ?? 1)),
      )
    const before = many({})
    expect(before.split('\n').length).toBeGreaterThan(MAX_DIFF_LINES)
    const heads = lineDiff(before, many({ 7: 2, 1990: 3 }), { places: jsonPlaces })
      .split('\n')
      .filter((l) => l.startsWith('@ '))
    expect(heads).toEqual([
      '@ characteristics[id="c7"].chart.limits',
      '@ characteristics[id="c1990"].chart.limits',
    ])
  })

  it('names any line of pretty-printed JSON by the containers it is in (fast-check)', () => {
    fc.assert(
      fc.property(jsonWithIds, (value) => {
        const { lines, places } = printedWithPlaces(value)
        const text = `${lines.join('\n')}\n`
        expect(text).toBe(`${JSON.stringify(value, null, 2)}\n`)
        // Each line a block of its own; closers too, being the only line of theirs.
        const blocks: { from: number; to: number }[] = []
        let at = 0
        for (const line of lines) {
          blocks.push({ from: at, to: at + line.length + 1 })
          at += line.length + 1
        }
        expect(jsonPlaces(text, blocks)).toEqual(places)
      }),
    )
  })
})

/** JSON values whose objects often have an `id` (a string, a number, or something else). */
const jsonWithIds = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 0 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('id', 'chart', 'we ird', 'a-b', '2', '$x'), fc.string()),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value

/**
 * JSON written as JSON.stringify(value, null, 2) writes it, each line with the path of the
 * containers it is in: written recursively from the value, not from the text.
 */
function printedWithPlaces(value: unknown): { lines: string[]; places: string[] } {
  const lines: string[] = []
  const places: string[] = []
  const plain = /^[A-Za-z_$][\w$-]*$/
  const key = (path: string, k: string) =>
    plain.test(k) ? (path === '' ? k : `${path}.${k}`) : `${path}[${JSON.stringify(k)}]`
  const element = (path: string, i: number, x: unknown) => {
    const id =
      x !== null && typeof x === 'object' && !Array.isArray(x) && Object.hasOwn(x, 'id')
        ? (x as { id: unknown }).id
        : undefined
    return typeof id === 'string' || typeof id === 'number'
      ? `${path}[id=${JSON.stringify(id)}]`
      : `${path}[${i}]`
  }
  /**
   * Writes x after `prefix` on a line at `indent`: a value in `outer`; a container's lines (its
   * opening and closing ones too) in `inner`.
   */
  const write = (
    x: unknown,
    indent: string,
    prefix: string,
    suffix: string,
    outer: string,
    inner: string,
  ) => {
    const entries =
      x !== null && typeof x === 'object'
        ? Array.isArray(x)
          ? x.map((v, i) => [element(inner, i, v), '', v] as const)
          : Object.entries(x).map(([k, v]) => [key(inner, k), `${JSON.stringify(k)}: `, v] as const)
        : null
    if (entries === null || entries.length === 0) {
      lines.push(`${indent}${prefix}${JSON.stringify(x)}${suffix}`)
      places.push(outer)
      return
    }
    const [open, close] = Array.isArray(x) ? ['[', ']'] : ['{', '}']
    lines.push(`${indent}${prefix}${open}`)
    places.push(inner)
    for (const [i, [path, name, v]] of entries.entries()) {
      write(v, `${indent}  `, name, i < entries.length - 1 ? ',' : '', inner, path)
    }

    lines.push(`${indent}${close}${suffix}`)
    places.push(inner)
  }
  write(value, '', '', '', '', '')
  return { lines, places }
}

/**
 * The diff body written from an edit script, as lineDiff's comment describes it: each run of
 * changes its removed lines then its added ones, 2 unchanged lines of context either side, '…'
 * between lines not next to each other.
 */
function render(ops: [string, string][]): string[] {
  const near = ops.map((_, k) =>
    ops.slice(Math.max(0, k - 2), k + 3).some(([kind]) => kind !== ' '),
  )
  const out: string[] = []
  let last = -1
  let run: [string, string][] = []
  const flush = () => {
    for (const [kind, line] of run) if (kind === '-') out.push(`- ${line}`)
    for (const [kind, line] of run) if (kind === '+') out.push(`+ ${line}`)
    run = []
  }
  ops.forEach((op, k) => {
    if (!near[k]) return
    if (last >= 0 && k > last + 1) {
      flush()
      out.push('…')
    }
    last = k
    if (op[0] === ' ') {
      flush()
      out.push(`  ${op[1]}`)
    } else run.push(op)
  })
  flush()
  return out
}
