import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  csvCell,
  type KpiCapa,
  type KpiNc,
  pareto,
  qualityKpis,
  toCsv,
} from '../rules/quality/index.ts'

/**
 * The quality manager's figures on a hand-built set of NCs and CAPAs (every expected figure
 * counted by hand in the comments), and the CSV export against RFC 4180 and OWASP's advice on
 * formula injection, checked with a small RFC 4180 reader written here.
 */

const DAY = 86_400_000
const D0 = Date.UTC(2026, 4, 1)
const day = (n: number) => D0 + n * DAY

function nc(
  id: string,
  opened: number,
  closed: number | null,
  due: number | null,
  cause: string,
  characteristic: string,
  recurrenceOf: string | null = null,
): KpiNc {
  return {
    id,
    openedAt: day(opened),
    closedAt: closed === null ? null : day(closed),
    dueAt: due === null ? null : day(due),
    cause,
    characteristic,
    recurrenceOf,
  }
}

// The range is days [0, 30); `now` is day 30.
const NCS: KpiNc[] = [
  nc('NC-1', 1, 3, 5, 'tool wear', 'bore Ø'), // closed in range after 2 days
  nc('NC-2', 2, 8, 4, 'tool wear', 'bore Ø', 'NC-1'), // closed after 6 days; a recurrence
  nc('NC-3', 5, null, 20, 'operator error', 'length'), // open, overdue at day 30
  nc('NC-4', 10, null, 40, 'tool wear', 'bore Ø', 'NC-2'), // open, not yet due; a recurrence
  nc('NC-5', -5, 4, 0, 'material', 'length'), // opened before the range, closed in it: 9 days
  nc('NC-6', 12, 40, 25, 'material', 'hardness'), // closed only after now: open and overdue
  nc('NC-7', 35, null, 50, 'fixture', 'length'), // opened after now: counted nowhere
  nc('NC-8', 20, 21, null, 'operator error', 'length', 'NC-3'), // closed after 1 day; recurrence
]

const CAPAS: KpiCapa[] = [
  { id: 'CAPA-1', openedAt: day(3), closedAt: day(13), dueAt: day(20) }, // closed after 10 days
  { id: 'CAPA-2', openedAt: day(6), closedAt: null, dueAt: day(28) }, // open, overdue
  { id: 'CAPA-3', openedAt: day(25), closedAt: null, dueAt: day(60) }, // open
]

describe('qualityKpis on a hand-built set', () => {
  const kpis = qualityKpis({ ncs: NCS, capas: CAPAS, from: day(0), to: day(30), now: day(30) })

  it('open and overdue NCs at `now`, oldest first', () => {
    // Open at day 30: NC-3, NC-4 (never closed), NC-6 (closes on day 40). Overdue: NC-3 (due
    // day 20) and NC-6 (due day 25); NC-4 is due on day 40.
    expect(kpis.ncs).toMatchObject({
      open: 3,
      openIds: ['NC-3', 'NC-4', 'NC-6'],
      overdue: 2,
      overdueIds: ['NC-3', 'NC-6'],
    })
  })

  it('mean time to close over the NCs closed in the range', () => {
    // Closed in [0, 30): NC-1 (2 d), NC-2 (6 d), NC-5 (9 d), NC-8 (1 d): 18 d / 4 = 4.5 d.
    expect(kpis.ncs.closed).toBe(4)
    expect(kpis.ncs.meanTimeToCloseMs).toBe(4.5 * DAY)
  })

  it('recurrence rate over the NCs opened in the range', () => {
    // Opened in [0, 30): NC-1, 2, 3, 4, 6, 8 (6); recurrences NC-2, NC-4, NC-8 (3): 0.5.
    expect(kpis.ncs.opened).toBe(6)
    expect(kpis.ncs.recurrences).toBe(3)
    expect(kpis.ncs.recurrenceRate).toBe(0.5)
  })

  it('Pareto by cause: tool wear 3, operator error 2, material 1, cumulative to exactly 100', () => {
    expect(kpis.paretoByCause.map(({ name, count }) => [name, count])).toEqual([
      ['tool wear', 3],
      ['operator error', 2],
      ['material', 1],
    ])
    const percents = kpis.paretoByCause.map((r) => r.percent)
    const cumulative = kpis.paretoByCause.map((r) => r.cumulativePercent)
    expect(percents[0]).toBe(50)
    expect(percents[1]).toBeCloseTo(200 / 6, 12)
    expect(percents[2]).toBeCloseTo(100 / 6, 12)
    expect(cumulative[0]).toBe(50)
    expect(cumulative[1]).toBeCloseTo(500 / 6, 12)
    expect(cumulative[2]).toBe(100) // exactly, not 99.99999999999999
  })

  it('Pareto by characteristic', () => {
    expect(kpis.paretoByCharacteristic.map(({ name, count }) => [name, count])).toEqual([
      ['bore Ø', 3],
      ['length', 2],
      ['hardness', 1],
    ])
  })

  it('the same figures for the CAPAs', () => {
    expect(kpis.capas).toEqual({
      open: 2,
      overdue: 1,
      openIds: ['CAPA-2', 'CAPA-3'],
      overdueIds: ['CAPA-2'],
      opened: 3,
      closed: 1,
      meanTimeToCloseMs: 10 * DAY,
    })
  })

  it('a range with nothing in it has no mean time to close and no recurrence rate', () => {
    const empty = qualityKpis({
      ncs: NCS,
      capas: CAPAS,
      from: day(100),
      to: day(110),
      now: day(30),
    })
    expect(empty.ncs.meanTimeToCloseMs).toBeNull()
    expect(empty.ncs.recurrenceRate).toBeNull()
    expect(empty.paretoByCause).toEqual([])
    expect(empty.ncs.open).toBe(3) // judged at `now`, not over the range
  })

  it('an NC is open at the instant it opens and no longer at the instant it closes', () => {
    const one = [nc('NC-1', 1, 3, 2, 'x', 'y')]
    const at = (now: number) => qualityKpis({ ncs: one, capas: [], from: 0, to: day(30), now })
    expect(at(day(1)).ncs.open).toBe(1)
    expect(at(day(1) - 1).ncs.open).toBe(0)
    expect(at(day(3)).ncs.open).toBe(0)
    expect(at(day(2)).ncs.overdue).toBe(0) // due day 2: not overdue at day 2
    expect(at(day(2) + 1).ncs.overdue).toBe(1)
  })
})

describe('pareto', () => {
  it('breaks ties by name in code-unit order', () => {
    expect(pareto(['b', 'a', 'b', 'a', 'c', 'Z', 'é']).map((r) => r.name)).toEqual([
      'a',
      'b',
      'Z',
      'c',
      'é',
    ])
  })

  it('is empty for no names', () => {
    expect(pareto([])).toEqual([])
  })

  it('for any names: counts add up, most first, cumulative rises to exactly 100', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { minLength: 1 }),
        (names) => {
          const rows = pareto(names)
          expect(rows.reduce((s, r) => s + r.count, 0)).toBe(names.length)
          for (const [i, row] of rows.entries()) {
            expect(row.count).toBe(names.filter((n) => n === row.name).length)
            expect(row.percent).toBeCloseTo((row.count / names.length) * 100, 12)
            if (i > 0) {
              expect(row.count).toBeLessThanOrEqual(rows[i - 1]!.count)
              expect(row.cumulativePercent).toBeGreaterThan(rows[i - 1]!.cumulativePercent)
            }
          }
          expect(rows.at(-1)!.cumulativePercent).toBe(100)
        },
      ),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// CSV

/** An RFC 4180 reader: records of fields, CRLF between records, "" inside quotes for ". */
function readCsv(text: string): string[][] {
  const records: string[][] = []
  let record: string[] = []
  let field = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === '"' && field === '') {
      // A quoted field: up to the lone closing quote.
      i++
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') {
          field += '"'
          i += 2
        } else if (text[i] === '"') {
          i++
          break
        } else {
          field += text[i]
          i++
        }
      }
    } else if (c === ',') {
      record.push(field)
      field = ''
      i++
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field)
      records.push(record)
      record = []
      field = ''
      i += 2
    } else {
      field += c
      i++
    }
  }
  return records
}

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line 1\nline 2', '"line 1\nline 2"'],
    ['line 1\r\nline 2', '"line 1\r\nline 2"'],
    ['', ''],
  ])('RFC 4180: %j is written %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell)
  })

  it.each([
    ['=SUM(A1:A9)', "'=SUM(A1:A9)"],
    ['+41 61 000 00 00', "'+41 61 000 00 00"],
    ['-2+3', "'-2+3"],
    ['@SUM(1)', "'@SUM(1)"],
    ['\t=1+1', "'\t=1+1"],
    ['\0=1', "'\0=1"],
    ['=1,2', `"'=1,2"`],
    ['\r=1', `"'\r=1"`],
    [
      '=HYPERLINK("http://evil.example","click")',
      `"'=HYPERLINK(""http://evil.example"",""click"")"`,
    ],
  ])('OWASP: a text starting a formula, %j, gets a single quote in front: %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell)
  })

  it('leaves a formula character that is not the first alone', () => {
    expect(csvCell('a=b')).toBe('a=b')
    expect(csvCell(' =1')).toBe(' =1')
  })

  it('writes numbers as numbers (a negative number is no formula); NaN, ±∞ and null are empty', () => {
    expect(csvCell(-5)).toBe('-5')
    expect(csvCell(1.5)).toBe('1.5')
    expect(csvCell(0)).toBe('0')
    expect(csvCell(Number.NaN)).toBe('')
    expect(csvCell(Number.POSITIVE_INFINITY)).toBe('')
    expect(csvCell(null)).toBe('')
    expect(csvCell(undefined)).toBe('')
  })
})

describe('toCsv', () => {
  it('a header line, then a line per row, every line ending with CRLF', () => {
    const csv = toCsv(
      [
        { id: 'NC-1', cause: 'tool wear, worn insert', days: 2 },
        { id: 'NC-2', cause: '=cmd', days: null },
      ],
      ['id', { key: 'cause', header: 'Root cause' }, { key: 'days', header: 'Days open' }],
    )
    expect(csv).toBe(
      'id,Root cause,Days open\r\nNC-1,"tool wear, worn insert",2\r\nNC-2,\'=cmd,\r\n',
    )
  })

  it('a key a row lacks is an empty cell, even one named like an Object member', () => {
    const csv = toCsv([{ id: 'NC-1' }], ['id', 'owner', 'constructor', 'toString', '__proto__'])
    expect(csv).toBe('id,owner,constructor,toString,__proto__\r\nNC-1,,,,\r\n')
  })

  it('no rows: the header line alone', () => {
    expect(toCsv([], ['a', 'b'])).toBe('a,b\r\n')
  })

  it('any texts read back from the CSV as written (a formula start behind a single quote)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 })
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text, text), { maxLength: 6 }), (tuples) => {
        const rows = tuples.map(([a, b, c]) => ({ a, b, c }))
        const read = readCsv(toCsv(rows, ['a', 'b', 'c']))
        const guarded = (s: string) => (/^[=+\-@\t\r\0]/.test(s) ? `'${s}` : s)
        expect(read).toEqual([['a', 'b', 'c'], ...tuples.map((t) => t.map(guarded))])
      }),
    )
  })
})
