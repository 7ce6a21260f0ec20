import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { analyse } from '../rules/analysis.ts'
import { closeChart, initChart, stepChart } from '../rules/charts/index.ts'
import { c4, chartFactors, d2 } from '../rules/constants.ts'
import type { ChartSpec } from '../rules/spec.ts'
import { type ChartPoint, NELSON_RULES, type Observation } from '../rules/types.ts'
import { type ProgramRun, runProgram, tempDir } from './helpers/index.ts'

/**
 * `linewatch spc`, run as a user runs it: the built CLI (`npm run build` first), spawned with
 * this Node. Textbook data sets live in test/fixtures/spc; the figures cited are the books';
 * every other expectation is computed here from the definitions (with d2(2) = 2/√π and
 * d3(2) = √(2 − 4/π) in closed form; other sizes from rules/constants.ts, which
 * test/spc-variables.test.ts checks against the published tables).
 */

/** d2(2), d3(2) in closed form (issue 7: the engine's constants are exact, not 1.128 and 3.267). */
const D2_2 = 2 / Math.sqrt(Math.PI)
const D3_2 = Math.sqrt(2 - 4 / Math.PI)

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'linewatch.js')
const FIXTURES = join(import.meta.dirname, 'fixtures', 'spc')
const fixture = (name: string) => join(FIXTURES, name)

/** Runs `linewatch spc …`; never throws on a non-zero exit. */
function spc(args: string[], options: { input?: string } = {}): Promise<ProgramRun> {
  return runProgram(process.execPath, [BIN, 'spc', ...args], { cwd: ROOT, input: options.input })
}

interface JsonPoint {
  index: number
  subgroup: string | null
  statistic: number | null
  center: number | null
  sigma: number | null
  lcl: number | null
  ucl: number | null
  violations: string[]
  upper?: number
  lower?: number
}
interface JsonPane {
  center: number | null
  sigma: number | null
  lcl: number | null
  ucl: number | null
  points: JsonPoint[]
}
interface JsonVerdict {
  verdict: string
  words: string
  threshold: number
  minReadings: number
  signalled: boolean
}
interface JsonOutput {
  chart: string
  process: { center: number; sigma: number | null; method: string }
  notes: string[]
  charts: Record<string, JsonPane>
  capability: Record<string, number | null> | null
  capabilityVerdict: JsonVerdict | null
}

/** Runs with --format json, expects success (and no notes unless `notes`), returns the parsed object. */
async function json(
  args: string[],
  options: { input?: string; notes?: boolean } = {},
): Promise<JsonOutput> {
  const run = await spc([...args, '--format', 'json'], options)
  if (!options.notes) expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  return JSON.parse(run.stdout) as JsonOutput
}

const pane = (out: JsonOutput, name: string) => out.charts[name] as JsonPane

/** index → violations of the flagged points of a pane. */
function flagged(p: JsonPane): Record<number, string[]> {
  return Object.fromEntries(
    p.points.filter((x) => x.violations.length > 0).map((x) => [x.index, x.violations]),
  )
}

function values(name: string, column = 'value'): number[] {
  const [header, ...rows] = readFileSync(fixture(name), 'utf8').trim().split('\n')
  const at = (header as string).split(',').indexOf(column)
  return rows.map((r) => Number(r.split(',')[at]))
}

const MORTGAGE = values('mortgage-costs.csv')
const TABLE_9_1 = values('montgomery-table-9-1.csv')

const sampleSd = (xs: readonly number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
}

let dir: { path: string; remove(): Promise<void> }
beforeAll(async () => {
  dir = await tempDir()
})
afterAll(() => dir?.remove())

/** Writes a temporary CSV file and returns its path. */
async function csvFile(name: string, text: string): Promise<string> {
  const file = join(dir.path, name)
  await writeFile(file, text)
  return file
}

describe.concurrent('linewatch spc', () => {
  it('--help lists every option and the input layout', async () => {
    const { code, stdout } = await spc(['--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: linewatch spc \[options\] \[file\]/)
    for (const option of [
      '--chart',
      '--subgroup-size',
      '--calibration',
      '--mean',
      '--sigma',
      '--sigma-method',
      '--lambda',
      '--L ',
      '--k ',
      '--h ',
      '--head-start',
      '--reset-on-signal',
      '--rules',
      '--lsl',
      '--usl',
      '--target',
      '--capability-threshold',
      '--min-readings',
      '--format',
    ]) {
      expect(stdout).toContain(option)
    }
    expect(stdout).toContain('"count" and "size" columns')
  })

  describe.concurrent('I-MR', () => {
    it('NIST/SEMATECH e-Handbook 6.3.2.2: x̄ = 50.81, MR̄ = 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13; the JSON contract', async () => {
      const out = await json([fixture('nist-individuals.csv'), '--chart', 'imr'])
      expect(Object.keys(out)).toEqual([
        'chart',
        'process',
        'notes',
        'charts',
        'capability',
        'capabilityVerdict',
      ])
      expect(out.chart).toBe('imr')
      expect(Object.keys(out.charts)).toEqual(['i', 'mr'])
      expect(out.capability).toBeNull()
      expect(out.capabilityVerdict).toBeNull()
      expect(out.notes).toEqual([])
      const i = pane(out, 'i')
      const mr = pane(out, 'mr')
      expect(Object.keys(i)).toEqual(['center', 'sigma', 'lcl', 'ucl', 'points'])
      expect(i.center).toBeCloseTo(50.81, 10)
      expect(i.ucl).toBeCloseTo(55.8, 2)
      expect(i.lcl).toBeCloseTo(45.82, 2)
      expect(mr.center).toBeCloseTo(1.8778, 4)
      // MR UCL = (1 + 3·d3/d2)·MR̄ with the exact constants: 6.1339; NIST prints 6.13 (D4 = 3.267).
      expect(mr.ucl).toBeCloseTo((1 + (3 * D3_2) / D2_2) * (mr.center as number), 12)
      expect(Math.abs((mr.ucl as number) - 6.13)).toBeLessThanOrEqual(0.005 + 0.0005 * (16.9 / 9))
      expect(mr.lcl).toBe(0)
      // σ̂ = MR̄/d2(2), the process σ; the I pane's σ is it, the MR pane's d3(2)·σ̂ (issue 7).
      const sigma = 16.9 / 9 / D2_2
      expect(out.process).toEqual({
        center: i.center,
        sigma: expect.closeTo(sigma, 12),
        method: 'mr',
      })
      expect(i.sigma).toBeCloseTo(sigma, 12)
      expect(mr.sigma).toBeCloseTo(D3_2 * sigma, 12)
      expect(i.points).toHaveLength(10)
      expect(Object.keys(i.points[0] as object)).toEqual([
        'index',
        'subgroup',
        'statistic',
        'center',
        'sigma',
        'lcl',
        'ucl',
        'violations',
      ])
      expect(i.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(i.points[8]).toEqual({
        index: 8,
        subgroup: null,
        statistic: 53.6,
        center: i.center,
        sigma: i.sigma,
        lcl: i.lcl,
        ucl: i.ucl,
        violations: [],
      })
      // The MR pane's first point has no moving range.
      expect(mr.points[0]?.statistic).toBeNull()
      expect(mr.points[1]?.statistic).toBeCloseTo(2, 12)
    })

    it('Montgomery, mortgage loan costs: x̄ = 300.5, MR̄ = 7.79, UCL 321.22, LCL 279.78; capability from the chart σ and the sample SD', async () => {
      const out = await json([
        fixture('mortgage-costs.csv'),
        '--chart',
        'imr',
        '--lsl',
        '290',
        '--usl',
        '320',
      ])
      const i = pane(out, 'i')
      expect(i.center).toBeCloseTo(300.5, 10)
      expect(pane(out, 'mr').center).toBeCloseTo(148 / 19, 10)
      // The book's 321.22, 279.78 and 25.45 come from d2 = 1.128 and D4 = 3.267 rounded to three
      // decimals: the exact constants give 321.21, 279.79 and 25.44, within half a unit of the
      // print plus what that rounding (±0.0005) moves them (see test/spc-variables.test.ts).
      const mrBar = 148 / 19
      const iTolerance = 0.005 + (3 * mrBar * 0.0005) / (1.128 * 1.1275)
      expect(Math.abs((i.ucl as number) - 321.22)).toBeLessThanOrEqual(iTolerance)
      expect(Math.abs((i.lcl as number) - 279.78)).toBeLessThanOrEqual(iTolerance)
      expect(Math.abs((pane(out, 'mr').ucl as number) - 25.45)).toBeLessThanOrEqual(
        0.005 + 0.0005 * mrBar,
      )
      expect(flagged(i)).toEqual({})

      const c = out.capability as Record<string, number | null>
      for (const key of [
        'cp',
        'cpk',
        'cpl',
        'cpu',
        'cpm',
        'pp',
        'ppk',
        'ppl',
        'ppu',
        'sigmaWithin',
        'sigmaOverall',
        'expectedPpm',
        'observedPpm',
      ]) {
        expect(c, key).toHaveProperty(key)
      }
      const sw = 148 / 19 / D2_2
      const so = sampleSd(MORTGAGE)
      expect(c.sigmaWithin).toBeCloseTo(sw, 12)
      expect(c.sigmaOverall).toBeCloseTo(so, 12)
      expect(c.cp).toBeCloseTo(30 / (6 * sw), 12)
      expect(c.cpl).toBeCloseTo(10.5 / (3 * sw), 12)
      expect(c.cpu).toBeCloseTo(19.5 / (3 * sw), 12)
      expect(c.cpk).toBe(c.cpl)
      expect(c.cpm).toBeCloseTo(30 / (6 * Math.sqrt(sw * sw + 4.5 ** 2)), 12) // T = 305, the mid-point
      expect(c.pp).toBeCloseTo(30 / (6 * so), 12)
      expect(c.ppk).toBeCloseTo(10.5 / (3 * so), 12)
      expect(c.observedPpm).toBe(50_000) // 288 of 20 values is below 290
      expect(c.expectedPpm).toBeGreaterThan(0)
      // 20 readings, fewer than the default 25: no verdict on the indices yet.
      expect(out.capabilityVerdict).toEqual({
        verdict: 'too-few-readings',
        words: 'too few readings for a verdict: 20 of 25',
        threshold: 1.33,
        minReadings: 25,
        signalled: false,
      })
    })

    it('issue 7: the capability verdict, --min-readings and --capability-threshold (JSON, table, CSV)', async () => {
      const args = [fixture('mortgage-costs.csv'), '--chart', 'imr', '--lsl', '290', '--usl', '320']
      // 20 readings are enough with --min-readings 20; Cpk = 10.5/(3σw) = 0.51 < 1.33.
      const out = await json([...args, '--min-readings', '20'])
      expect(out.capabilityVerdict).toMatchObject({
        verdict: 'not-capable',
        minReadings: 20,
        threshold: 1.33,
        signalled: false,
      })
      // A threshold the indices reach (Cpk 0.507, Ppk 0.531): capable.
      const low = await json([...args, '--min-readings', '20', '--capability-threshold', '0.5'])
      expect(low.capabilityVerdict).toMatchObject({ verdict: 'capable', threshold: 0.5 })
      const table = await spc([...args, '--min-readings', '20', '--capability-threshold', '0.5'])
      expect(table.stdout).toContain('Verdict: capable (Cpk and Ppk ≥ 0.5)')
      const csv = await spc([...args, '--format', 'csv'])
      const blocks = csv.stdout.split('\r\n\r\n')
      expect(blocks).toHaveLength(2)
      const [head, row] = (blocks[1] as string).split('\r\n')
      expect(head?.split(',').slice(0, 7)).toEqual([
        'verdict',
        'words',
        'threshold',
        'minReadings',
        'signalled',
        'cp',
        'cpk',
      ])
      expect(row?.split(',').slice(0, 5)).toEqual([
        'too-few-readings',
        'too few readings for a verdict: 20 of 25',
        '1.33',
        '25',
        'false',
      ])
      // Without a specification limit the options have nothing to judge.
      const refused = await spc([
        fixture('mortgage-costs.csv'),
        '--chart',
        'imr',
        '--min-readings',
        '5',
      ])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/--min-readings needs a specification limit/)
    })

    it('issue 7: a chart that signalled is "not in statistical control — capability indices are not a prediction", in every format', async () => {
      // Known μ 10, σ 1: the fifth reading (6) is beyond the LCL 7; 30 readings, all in spec.
      const values = [
        10,
        10.5,
        9.6,
        10.2,
        6,
        ...Array.from({ length: 25 }, (_, k) => 10 + ((k % 5) - 2) / 10),
      ]
      const input = `value\n${values.join('\n')}\n`
      const args = ['--chart', 'imr', '--mean', '10', '--sigma', '1', '--lsl', '4', '--usl', '16']
      const words = 'not in statistical control — capability indices are not a prediction'
      const out = await json(args, { input })
      expect(out.capabilityVerdict).toEqual({
        verdict: 'not-in-control',
        words,
        threshold: 1.33,
        minReadings: 25,
        signalled: true,
      })
      // The indices are still given: Cpk = min(16 − x̄, x̄ − 4)/3 with σw = 1.
      const m = values.reduce((a, b) => a + b, 0) / values.length
      expect(out.capability?.cpk).toBeCloseTo(Math.min(16 - m, m - 4) / 3, 12)
      const table = await spc(args, { input })
      expect(table.stdout).toContain(`Verdict: ${words}`)
      // Numbered from 1: the fifth reading (N1 on I and MR), the MR of the sixth, and more
      // (the calm readings hug the centre: N7).
      expect(table.stdout).toMatch(/the chart signalled at \d+ points: #5, 6, /)
      const csv = await spc([...args, '--format', 'csv'], { input })
      expect(csv.stdout).toContain(`\r\nnot-in-control,${words},1.33,25,true,`)
    })

    it('known mean and sigma: limits from them, beyond-limit points flagged on both panes', async () => {
      const out = await json(['-', '--chart', 'imr', '--mean', '10', '--sigma', '1'], {
        input: 'value\n10\n12.5\n12.6\n10\n6\n',
      })
      const i = pane(out, 'i')
      const mr = pane(out, 'mr')
      expect([i.center, i.lcl, i.ucl, i.sigma]).toEqual([10, 7, 13, 1])
      expect(out.process).toEqual({ center: 10, sigma: 1, method: 'given' })
      expect(mr.center).toBeCloseTo(D2_2, 12)
      expect(mr.sigma).toBeCloseTo(D3_2, 12)
      expect(mr.ucl).toBeCloseTo(D2_2 + 3 * D3_2, 12)
      expect(flagged(i)).toEqual({ 2: ['N5'], 4: ['N1'] })
      expect(flagged(mr)).toEqual({ 4: ['N1'] })
    })

    it.each([
      ['nelson', { 2: ['N5'], 4: ['N1'] }, { 4: ['N1'] }],
      ['we', { 2: ['WE2'], 4: ['WE1'] }, { 4: ['WE1'] }],
      ['all', { 2: ['N5', 'WE2'], 4: ['N1', 'WE1'] }, { 4: ['N1', 'WE1'] }],
      ['none', {}, {}],
    ])('--rules %s', async (rules, onI, onMr) => {
      const out = await json(['--chart', 'imr', '--mean', '10', '--sigma', '1', '--rules', rules], {
        input: 'value\n10\n12.5\n12.6\n10\n6\n',
      })
      const sorted = (r: Record<number, string[]>) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v].sort()]))
      expect(sorted(flagged(pane(out, 'i')))).toEqual(onI)
      expect(sorted(flagged(pane(out, 'mr')))).toEqual(onMr)
    })

    it('--calibration: limits from the calibration file, output indexed from 0, a run started in the calibration completes in the monitored rows', async () => {
      // The calibration (Montgomery's mortgage costs, centre 300.5) ends with three points above
      // the centre; six more above it complete Nelson's nine in a row at the sixth monitored point.
      const monitored = await csvFile('monitored.csv', 'value\n302\n303\n302\n304\n302\n303\n')
      const out = await json([
        monitored,
        '--chart',
        'imr',
        '--calibration',
        fixture('mortgage-costs.csv'),
      ])
      const i = pane(out, 'i')
      expect(i.center).toBeCloseTo(300.5, 10)
      expect(i.ucl).toBeCloseTo(300.5 + (3 * 148) / 19 / D2_2, 10) // the book's 321.22 with d2 = 1.128
      expect(i.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5])
      expect(i.points.map((p) => p.statistic)).toEqual([302, 303, 302, 304, 302, 303])
      expect(flagged(i)).toEqual({ 5: ['N2'] })
      // The moving range runs on from the calibration's last value (304).
      expect(pane(out, 'mr').points[0]?.statistic).toBe(2)

      // The same rows as Phase I on their own: no run of nine.
      const alone = await json([monitored, '--chart', 'imr'])
      expect(flagged(pane(alone, 'i'))).toEqual({})
    })

    it('reads standard input with "-" and with no file, as from the file', async () => {
      const input = readFileSync(fixture('nist-individuals.csv'), 'utf8')
      const fromFile = await spc([
        fixture('nist-individuals.csv'),
        '--chart',
        'imr',
        '--format',
        'json',
      ])
      const dash = await spc(['-', '--chart', 'imr', '--format', 'json'], { input })
      const none = await spc(['--chart', 'imr', '--format', 'json'], { input })
      expect(dash.stdout).toBe(fromFile.stdout)
      expect(none.stdout).toBe(fromFile.stdout)
    })

    it('--format csv: one row per point per pane, RFC 4180', async () => {
      const run = await spc(['--chart', 'imr', '--mean', '10', '--sigma', '1', '--format', 'csv'], {
        input: 'value\n10\n12.5\n12.6\n10\n6\n',
      })
      expect(run.code).toBe(0)
      const lines = run.stdout.split('\r\n')
      expect(lines[0]).toBe('pane,index,subgroup,statistic,center,sigma,lcl,ucl,violations')
      expect(lines.at(-1)).toBe('')
      expect(lines).toHaveLength(1 + 2 * 5 + 1)
      expect(lines[1]).toBe('i,0,,10,10,1,7,13,')
      expect(lines[3]).toBe('i,2,,12.6,10,1,7,13,N5')
      expect(lines[5]).toBe('i,4,,6,10,1,7,13,N1')
      const [pane0, index0, id0, statistic0, ...lines0] = (lines[6] as string).split(',')
      expect([pane0, index0, id0, statistic0]).toEqual(['mr', '0', '', ''])
      const [center, sigma, lcl, ucl, violations] = lines0.map((x) => (x === '' ? x : Number(x)))
      expect(center).toBeCloseTo(D2_2, 12)
      expect(sigma).toBeCloseTo(D3_2, 12)
      expect(lcl).toBe(0)
      expect(ucl).toBeCloseTo(D2_2 + 3 * D3_2, 12)
      expect(violations).toBe('')
      expect(lines[10]).toMatch(/^mr,4,,4,[^,]+,[^,]+,0,[^,]+,N1$/)
    })

    it('--format table: aligned columns, flagged points marked, a summary line per pane, capability', async () => {
      const run = await spc(
        ['--chart', 'imr', '--mean', '10', '--sigma', '1', '--lsl', '6.5', '--usl', '13.5'],
        {
          input: 'value\n10\n12.5\n12.6\n10\n6\n',
        },
      )
      expect(run.code).toBe(0)
      const lines = run.stdout.split('\n')
      expect(lines[0]).toBe(
        'I-MR chart: 5 points; limits from the given parameters: μ 10, σ 1; rules: nelson',
      )
      expect(run.stdout).toContain('i: center 10, LCL 7, UCL 13, σ 1; 2 of 5 points flagged')
      // MR: centre d2(2), UCL d2 + 3d3, σ d3(2), to six significant digits.
      const six = (x: number) => String(Number(x.toPrecision(6)))
      expect(run.stdout).toContain(
        `mr: center ${six(D2_2)}, LCL 0, UCL ${six(D2_2 + 3 * D3_2)}, σ ${six(D3_2)}; 1 of 5 points flagged`,
      )
      // Points numbered from 1, as textbooks number them: the third (12.6) completes N5.
      expect(lines.find((l) => l.trim().startsWith('#'))).toMatch(/^\s+#\s+statistic/)
      const row = (number: number) =>
        lines.find((l) => new RegExp(`^\\s+${number}\\s+\\d`).test(l)) as string
      expect(row(3)).toMatch(/^\s+3\s+12\.6\s/)
      expect(row(3)).toMatch(/\*\s+N5$/)
      expect(row(5)).toMatch(/\*\s+N1$/)
      expect(row(1)).not.toContain('*')
      expect(lines.some((l) => /^\s+0\s+\d/.test(l))).toBe(false)
      // Columns line up: every row of the i pane has the same width up to the marks.
      const iRows = lines.slice(
        lines.indexOf('i: Individuals') + 1,
        lines.indexOf('i: Individuals') + 7,
      )
      const ucl = (iRows[0] as string).indexOf('ucl') + 3
      for (const l of iRows.slice(1)) expect(l.slice(ucl - 2, ucl)).toBe('13')
      expect(run.stdout).toMatch(/Capability: n 5, mean 10\.22; LSL 6\.5, USL 13\.5, target 10/)
      expect(run.stdout).toContain('Cp 1.16667')
      expect(run.stdout).toMatch(/observed 200000/)
      expect(run.stdout).toContain(
        'Verdict: not in statistical control — capability indices are not a prediction',
      )
      expect(run.stdout).toContain('the chart signalled at 2 points: #3, 5')
    })

    it('issue 7: with a subgroup column, imr says on stderr (and in the JSON notes) that it charts each row; the ids label the points in every format', async () => {
      const input = 'subgroup,value\nA,10\nB,11\nC,14\nD,10.5\nE,10.2\n'
      const note =
        '<stdin>: an I-MR chart takes each row as a point: the "subgroup" column does not form subgroups (its ids only label the points); for subgroups use --chart xbar-r or xbar-s'
      const out = await json(['--chart', 'imr'], { input, notes: true })
      expect(out.notes).toEqual([note])
      expect(pane(out, 'i').points.map((p) => p.subgroup)).toEqual(['A', 'B', 'C', 'D', 'E'])
      expect(pane(out, 'mr').points.map((p) => p.subgroup)).toEqual(['A', 'B', 'C', 'D', 'E'])
      const text = await spc(['--chart', 'imr'], { input })
      expect(text.code).toBe(0)
      expect(text.stderr).toBe(`linewatch spc: note: ${note}\n`)
      expect(text.stdout).toMatch(/^\s+#\s+subgroup\s+statistic/m)
      expect(text.stdout).toMatch(/^\s+3\s+C\s+14\s/m)
      const csv = await spc(['--chart', 'imr', '--format', 'csv'], { input })
      expect(csv.stderr).toBe(`linewatch spc: note: ${note}\n`)
      expect(csv.stdout.split('\r\n')[3]).toMatch(/^i,2,C,14,/)
      // Without the column: no note, null ids.
      const plain = await json(['--chart', 'imr'], { input: 'value\n10\n11\n12\n' })
      expect(plain.notes).toEqual([])
      expect(pane(plain, 'i').points.map((p) => p.subgroup)).toEqual([null, null, null])
    })
  })

  describe.concurrent('every chart type (JSON)', () => {
    /** The subgroups of subgroups.csv (eight of four), computed here. */
    const SUBGROUPS = (() => {
      const [, ...rows] = readFileSync(fixture('subgroups.csv'), 'utf8').trim().split('\n')
      const groups = new Map<string, number[]>()
      for (const r of rows) {
        const [key, v] = r.split(',') as [string, string]
        groups.set(key, [...(groups.get(key) ?? []), Number(v)])
      }
      return [...groups.values()]
    })()
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const all = SUBGROUPS.flat()

    it('X̄-R (subgroup column): x̄̄, σ = R̄/d2(4), X̄ limits x̄̄ ± 3σ/√4, R limits d2σ ± 3·d3σ; capability', async () => {
      const out = await json([
        fixture('subgroups.csv'),
        '--chart',
        'xbar-r',
        '--lsl',
        '9',
        '--usl',
        '11',
      ])
      expect(out.chart).toBe('xbar-r')
      expect(Object.keys(out.charts)).toEqual(['xbar', 'r'])
      const xbar = pane(out, 'xbar')
      const r = pane(out, 'r')
      const rBar = mean(SUBGROUPS.map((g) => Math.max(...g) - Math.min(...g)))
      const sigma = rBar / d2(4)
      expect(xbar.center).toBeCloseTo(mean(all), 12)
      expect(out.process.sigma).toBeCloseTo(sigma, 12)
      expect(out.process.method).toBe('rbar')
      expect(xbar.sigma).toBeCloseTo(sigma / 2, 12) // σ/√4, the X̄ pane's σ
      expect(xbar.ucl).toBeCloseTo(mean(all) + (3 * sigma) / 2, 12)
      expect(xbar.lcl).toBeCloseTo(mean(all) - (3 * sigma) / 2, 12)
      // The textbook factors give the same lines: x̄̄ ± A2·R̄, D4·R̄.
      expect(xbar.ucl).toBeCloseTo(mean(all) + chartFactors(4).A2 * rBar, 12)
      expect(r.center).toBeCloseTo(rBar, 12)
      expect(r.ucl).toBeCloseTo(chartFactors(4).D4 * rBar, 12)
      expect(r.sigma).toBeCloseTo(chartFactors(4).d3 * sigma, 12)
      expect(r.lcl).toBe(0)
      // Each point carries its subgroup id (the CSV's subgroup column).
      const ids = [
        ...new Set(
          readFileSync(fixture('subgroups.csv'), 'utf8')
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.split(',')[0]),
        ),
      ]
      expect(xbar.points.map((p) => p.subgroup)).toEqual(ids)
      expect(r.points.map((p) => p.subgroup)).toEqual(ids)
      expect(xbar.points.map((p) => p.statistic)).toEqual(
        SUBGROUPS.map(mean).map((m) => expect.closeTo(m, 12)),
      )
      expect(r.points[0]?.statistic).toBeCloseTo(0.6, 12)
      const c = out.capability as Record<string, number>
      expect(c.n).toBe(32)
      expect(c.sigmaWithin).toBeCloseTo(sigma, 12)
      expect(c.sigmaOverall).toBeCloseTo(sampleSd(all), 12)
      expect(c.cp).toBeCloseTo(2 / (6 * sigma), 12)
      expect(c.ppk).toBeCloseTo(Math.min(11 - mean(all), mean(all) - 9) / (3 * sampleSd(all)), 12)
    })

    it('X̄-R with --subgroup-size gives the same chart as the subgroup column', async () => {
      const input = `value\n${all.join('\n')}\n`
      const bySize = await json(['--chart', 'xbar-r', '--subgroup-size', '4'], { input })
      const byKey = await json([fixture('subgroups.csv'), '--chart', 'xbar-r'])
      // The same chart; only the ids differ (by size there are none).
      const withoutIds = (o: JsonOutput) =>
        JSON.parse(JSON.stringify(o, (k, v) => (k === 'subgroup' ? undefined : v)))
      expect(withoutIds(bySize)).toEqual(withoutIds(byKey))
      expect(pane(bySize, 'xbar').points.every((p) => p.subgroup === null)).toBe(true)
    })

    it('X̄-S: σ = s̄/c4(4), S limits c4σ ± 3σ√(1 − c4²); --sigma-method pooled', async () => {
      const out = await json([fixture('subgroups.csv'), '--chart', 'xbar-s'])
      expect(Object.keys(out.charts)).toEqual(['xbar', 's'])
      const sBar = mean(SUBGROUPS.map(sampleSd))
      const sigma = sBar / c4(4)
      const s = pane(out, 's')
      expect(out.process.sigma).toBeCloseTo(sigma, 12)
      expect(pane(out, 'xbar').ucl).toBeCloseTo(mean(all) + chartFactors(4).A3 * sBar, 12)
      expect(s.center).toBeCloseTo(sBar, 12)
      expect(s.ucl).toBeCloseTo(chartFactors(4).B4 * sBar, 12)
      expect(s.lcl).toBe(0)
      expect(s.points[7]?.statistic).toBeCloseTo(sampleSd(SUBGROUPS[7] as number[]), 12)

      const pooled = await json([
        fixture('subgroups.csv'),
        '--chart',
        'xbar-s',
        '--sigma-method',
        'pooled',
      ])
      const ss = SUBGROUPS.reduce((a, g) => a + (g.length - 1) * sampleSd(g) ** 2, 0)
      const sp = Math.sqrt(ss / 24) / c4(25)
      expect(pooled.process).toMatchObject({ sigma: expect.closeTo(sp, 12), method: 'pooled' })
      // Minitab (issue 7): the S chart's centre and limits follow from the pooled σ̂, not s̄.
      const ps = pane(pooled, 's')
      expect(ps.center).toBeCloseTo(c4(4) * sp, 12)
      expect(ps.sigma).toBeCloseTo(sp * Math.sqrt(1 - c4(4) ** 2), 12)
      expect(ps.ucl).toBeCloseTo(c4(4) * sp + 3 * sp * Math.sqrt(1 - c4(4) ** 2), 12)
    })

    it('X̄-R with known μ and σ and --calibration', async () => {
      const known = await json([
        fixture('subgroups.csv'),
        '--chart',
        'xbar-r',
        '--mean',
        '10',
        '--sigma',
        '0.3',
      ])
      expect(pane(known, 'xbar').ucl).toBeCloseTo(10.45, 12)
      expect(pane(known, 'r').center).toBeCloseTo(0.3 * d2(4), 12)
      const cal = await json(
        ['-', '--chart', 'xbar-r', '--calibration', fixture('subgroups.csv')],
        {
          input: 'subgroup,value\nX,10.9\nX,11.1\nX,10.8\nX,11\nY,10\nY,10.1\nY,9.9\nY,10.2\n',
        },
      )
      const xbar = pane(cal, 'xbar')
      expect(xbar.center).toBeCloseTo(mean(all), 12)
      expect(xbar.points.map((p) => p.index)).toEqual([0, 1])
      expect(xbar.points[0]?.violations).toEqual(['N1'])
    })

    it('EWMA on subgroup means (--subgroup-size)', async () => {
      const input = `value\n${all.join('\n')}\n`
      const out = await json(
        ['--chart', 'ewma', '--subgroup-size', '4', '--mean', '10', '--sigma', '0.3'],
        { input },
      )
      const e = pane(out, 'ewma')
      expect(e.points).toHaveLength(8)
      expect(e.points[0]?.statistic).toBeCloseTo(
        0.2 * mean(SUBGROUPS[0] as number[]) + 0.8 * 10,
        12,
      )
      expect(e.points[0]?.ucl).toBeCloseTo(
        10 + 3 * (0.3 / 2) * Math.sqrt((0.2 / 1.8) * (1 - 0.8 ** 2)),
        12,
      )
    })

    it('EWMA (λ 0.1, L 2.7, μ₀ 10, σ 1 on Montgomery Table 9.1): zᵢ and the exact time-varying limits', async () => {
      const out = await json([
        fixture('montgomery-table-9-1.csv'),
        '--chart',
        'ewma',
        '--mean',
        '10',
        '--sigma',
        '1',
        '--lambda',
        '0.1',
        '--L',
        '2.7',
      ])
      expect(Object.keys(out.charts)).toEqual(['ewma'])
      const e = pane(out, 'ewma')
      expect([e.center, e.sigma, e.lcl, e.ucl]).toEqual([10, null, null, null]) // σ_z and the limits vary
      expect(out.process.sigma).toBe(1)
      let z = 10
      const flags: number[] = []
      TABLE_9_1.forEach((x, i) => {
        z = 0.1 * x + 0.9 * z
        const w = 2.7 * Math.sqrt((0.1 / 1.9) * (1 - 0.9 ** (2 * (i + 1))))
        const p = e.points[i] as JsonPoint
        expect(p.statistic).toBeCloseTo(z, 12)
        expect(p.sigma).toBeCloseTo(w / 2.7, 12)
        expect(p.ucl).toBeCloseTo(10 + w, 12)
        expect(p.lcl).toBeCloseTo(10 - w, 12)
        if (z > 10 + w || z < 10 - w) flags.push(i)
      })
      expect(flags.length).toBeGreaterThan(0)
      expect(Object.keys(flagged(e)).map(Number)).toEqual(flags)
      expect(Object.values(flagged(e)).every((v) => v.join() === 'N1')).toBe(true)
    })

    it('EWMA Phase I on individuals: μ = x̄, σ = MR̄/d2', async () => {
      const out = await json([fixture('mortgage-costs.csv'), '--chart', 'ewma'])
      const e = pane(out, 'ewma')
      expect(e.center).toBeCloseTo(300.5, 10)
      expect(out.process.sigma).toBeCloseTo(148 / 19 / D2_2, 12)
      expect(e.points[0]?.statistic).toBeCloseTo(0.2 * 310 + 0.8 * 300.5, 12) // λ 0.2 by default
    })

    it('CUSUM (Montgomery Example 9.1: μ₀ 10, σ 1, k 0.5, h 5): C⁺₂₉ = 5.28 signals, with C⁺ and C⁻ on every point', async () => {
      const out = await json([
        fixture('montgomery-table-9-1.csv'),
        '--chart',
        'cusum',
        '--mean',
        '10',
        '--sigma',
        '1',
        '--k',
        '0.5',
        '--h',
        '5',
      ])
      expect(Object.keys(out.charts)).toEqual(['cusum'])
      const c = pane(out, 'cusum')
      expect([c.center, c.lcl, c.ucl, c.sigma]).toEqual([0, -5, 5, 1])
      let hi = 0
      let lo = 0
      TABLE_9_1.forEach((x, i) => {
        hi = Math.max(0, x - 10.5 + hi)
        lo = Math.max(0, 9.5 - x + lo)
        const p = c.points[i] as JsonPoint
        expect(p.upper).toBeCloseTo(hi, 10)
        expect(p.lower).toBeCloseTo(lo, 10)
        expect(p.statistic).toBeCloseTo(x - 10, 10)
      })
      expect(c.points[28]?.upper).toBeCloseTo(5.28, 10)
      expect(flagged(c)).toEqual({ 28: ['upper'], 29: ['upper'] })
      expect(Object.keys(c.points[0] as object).sort()).toEqual([
        'center',
        'index',
        'lcl',
        'lower',
        'sigma',
        'statistic',
        'subgroup',
        'ucl',
        'upper',
        'violations',
      ])
    })

    it('CUSUM --reset-on-signal (Minitab’s "reset after each signal"): C⁺ back to 0 after period 29, so period 30 does not signal', async () => {
      const args = [fixture('montgomery-table-9-1.csv'), '--chart', 'cusum', '--mean', '10']
      const out = await json([...args, '--sigma', '1', '--h', '5', '--reset-on-signal'])
      const c = pane(out, 'cusum')
      expect(c.points[28]?.upper).toBeCloseTo(5.28, 10)
      // Period 30 after the reset: max(0, 0 + (10.52 − 10) − 0.5) = 0.02.
      expect(c.points[29]?.upper).toBeCloseTo(0.02, 10)
      expect(flagged(c)).toEqual({ 28: ['upper'] })
    })

    it('CUSUM default h (4) and a head start', async () => {
      const out = await json([
        fixture('montgomery-table-9-1.csv'),
        '--chart',
        'cusum',
        '--mean',
        '10',
        '--sigma',
        '1',
        '--head-start',
        '2',
      ])
      const c = pane(out, 'cusum')
      expect(c.ucl).toBe(4)
      expect(c.points[0]?.upper).toBeCloseTo(Math.max(0, 9.45 - 10.5 + 2), 12)
      expect(c.points[0]?.lower).toBeCloseTo(Math.max(0, 9.5 - 9.45 + 2), 12)
    })

    it('p chart, Montgomery orange juice cans (30 samples of 50): p̄ = 0.2313, UCL 0.4102, LCL 0.0524; samples 15 and 23 beyond', async () => {
      const out = await json([fixture('orange-juice-cans.csv'), '--chart', 'p'])
      const p = pane(out, 'p')
      expect(p.center).toBeCloseTo(347 / 1500, 12)
      expect(p.ucl).toBeCloseTo(0.4102, 4)
      expect(p.lcl).toBeCloseTo(0.0524, 4)
      // Every sample has 50 units: one σ, √(p̄(1 − p̄)/50); no process σ of a measurement.
      expect(p.sigma).toBeCloseTo(Math.sqrt(((347 / 1500) * (1 - 347 / 1500)) / 50), 12)
      expect(out.process).toEqual({ center: p.center, sigma: null, method: 'pbar' })
      expect(out.capability).toBeNull()
      const n1 = Object.entries(flagged(p))
        .filter(([, v]) => v.includes('N1'))
        .map(([k]) => Number(k))
      expect(n1).toEqual([14, 22])
    })

    it('np chart, the same samples: n·p̄ = 11.57, UCL 20.51, LCL 2.62', async () => {
      const out = await json([fixture('orange-juice-cans.csv'), '--chart', 'np'])
      const np = pane(out, 'np')
      expect(np.center).toBeCloseTo(347 / 30, 10)
      expect(np.ucl).toBeCloseTo(20.51, 2)
      expect(np.lcl).toBeCloseTo(2.62, 2)
      expect(np.sigma).toBeCloseTo(Math.sqrt(50 * (347 / 1500) * (1 - 347 / 1500)), 12)
      expect(np.points[14]?.violations).toContain('N1')
      expect(np.points[22]?.violations).toContain('N1')
    })

    it('c chart, Montgomery printed circuit boards (26 samples): c̄ = 19.85, UCL 33.21, LCL 6.48; samples 6 and 20 beyond', async () => {
      const out = await json([fixture('circuit-boards.csv'), '--chart', 'c'])
      const c = pane(out, 'c')
      expect(c.center).toBeCloseTo(516 / 26, 12)
      expect(c.ucl).toBeCloseTo(516 / 26 + 3 * Math.sqrt(516 / 26), 12)
      expect(Math.abs((c.ucl as number) - 33.22)).toBeLessThan(0.015) // the book rounds c̄ to 19.85
      expect(c.lcl).toBeCloseTo(6.48, 2)
      expect(c.sigma).toBeCloseTo(Math.sqrt(516 / 26), 12)
      const n1 = Object.entries(flagged(c))
        .filter(([, v]) => v.includes('N1'))
        .map(([k]) => Number(k))
      expect(n1).toEqual([5, 19])
    })

    it('u chart, Montgomery personal computers (20 samples of 5): ū = 1.93, UCL 3.79, LCL 0.07', async () => {
      const out = await json([fixture('personal-computers.csv'), '--chart', 'u'])
      const u = pane(out, 'u')
      expect(u.center).toBeCloseTo(1.93, 12)
      expect(u.ucl).toBeCloseTo(3.79, 2)
      expect(u.lcl).toBeCloseTo(0.07, 2)
      expect(u.points[0]?.statistic).toBe(2)
      expect(flagged(u)).toEqual({})
    })

    it('u chart with varying inspection units: per-point limits, pane limits null', async () => {
      const out = await json(['--chart', 'u'], {
        input: 'count,size\n4,2\n9,3\n3,1.5\n12,4\n5,2.5\n',
      })
      const u = pane(out, 'u')
      const ubar = 33 / 13
      expect(u.center).toBeCloseTo(ubar, 12)
      expect([u.lcl, u.ucl, u.sigma]).toEqual([null, null, null])
      expect(u.points[1]?.sigma).toBeCloseTo(Math.sqrt(ubar / 3), 12)
      expect(u.points[1]?.ucl).toBeCloseTo(ubar + 3 * Math.sqrt(ubar / 3), 12)
    })

    it('attributes charts with a known centre (--mean): p', async () => {
      const out = await json([fixture('orange-juice-cans.csv'), '--chart', 'p', '--mean', '0.2'])
      const p = pane(out, 'p')
      expect(p.center).toBe(0.2)
      expect(p.ucl).toBeCloseTo(0.2 + 3 * Math.sqrt(0.16 / 50), 12)
    })
  })

  describe.concurrent('bad input: a message naming the file and the row, exit 1', () => {
    const refused = async (args: string[], message: string | RegExp, input?: string) => {
      const run = await spc(args, { input })
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      if (typeof message === 'string') expect(run.stderr).toContain(message)
      else expect(run.stderr).toMatch(message)
      expect(run.stderr).not.toMatch(/\n\s+at /) // a message for a person, not a stack trace
    }

    it('a value that is not a number', async () => {
      const file = await csvFile('comma.csv', 'id,value\na,12.5\nb,"12,3"\nc,12\n')
      await refused([file, '--chart', 'imr'], `${file}: row 3: value "12,3" is not a number`)
      await refused(
        ['--chart', 'imr'],
        '<stdin>: row 3: 2 fields, but the header has 1 (a decimal comma?',
        'value\n12.5\n12,3\n',
      )
    })

    it('an empty cell, and a row counted past a blank line and a quoted line break', async () => {
      const file = await csvFile('empty.csv', 'note,value\r\n"two\r\nlines",1\r\n\r\nx,\r\n')
      await refused([file, '--chart', 'imr'], `${file}: row 4: value is empty`)
    })

    it('a missing column', async () => {
      const file = await csvFile('nocol.csv', 'x\n1\n2\n')
      await refused([file, '--chart', 'imr'], `${file}: no "value" column`)
      await refused([file, '--chart', 'p'], `${file}: no "count" column`)
      const noSize = await csvFile('nosize.csv', 'count\n1\n2\n')
      await refused([noSize, '--chart', 'np'], `${noSize}: no "size" column`)
    })

    it('a count above the sample size (p chart), a fractional count', async () => {
      const file = await csvFile('count.csv', 'count,size\n1,5\n6,5\n')
      await refused(
        [file, '--chart', 'p'],
        `${file}: row 3: the count (6) exceeds the sample size (5)`,
      )
      await refused(
        ['--chart', 'c'],
        '<stdin>: row 2: the count must be a whole number ≥ 0, not 1.5',
        'count\n1.5\n',
      )
    })

    it('a subgroup of one value on an X̄-R or X̄-S chart', async () => {
      const file = await csvFile('single.csv', 'subgroup,value\nA,1\nA,2\nB,3\nC,4\nC,5\n')
      await refused(
        [file, '--chart', 'xbar-r'],
        `${file}: row 4: subgroup "B" has a single value; X̄-R charts need subgroups of 2 or more`,
      )
      await refused(
        ['--chart', 'xbar-s', '--subgroup-size', '2'],
        '<stdin>: row 6: the last subgroup has a single value',
        'value\n1\n2\n3\n4\n5\n',
      )
      await refused(
        ['--chart', 'xbar-r'],
        'X̄-R charts need subgroups: a "subgroup" column, or --subgroup-size N',
        'value\n1\n2\n',
      )
      await refused(
        [file, '--chart', 'xbar-r', '--subgroup-size', '2'],
        'has a "subgroup" column and --subgroup-size is given',
      )
    })

    it('a bad row in the calibration file names that file', async () => {
      const file = await csvFile('cal-bad.csv', 'value\n1\n2\nthree\n')
      await refused(
        [fixture('nist-individuals.csv'), '--chart', 'imr', '--calibration', file],
        `${file}: row 4: value "three" is not a number`,
      )
    })

    it('a quoted field that is not closed, a file that cannot be read, an empty file', async () => {
      await refused(
        ['--chart', 'imr'],
        '<stdin>: row 3: a quoted field is not closed',
        'value\n1\n"2\n',
      )
      await refused([join(dir.path, 'nope.csv'), '--chart', 'imr'], /cannot read .*nope\.csv/)
      await refused(['--chart', 'imr'], '<stdin>: the file is empty', '')
      await refused(['--chart', 'imr'], '<stdin>: no data rows', 'value\n')
    })

    it('limits that cannot be estimated', async () => {
      await refused(
        ['--chart', 'imr'],
        /<stdin>: the limits cannot be estimated: .*no variation/,
        'value\n5\n5\n5\n',
      )
    })

    it.each([
      [['--chart', 'xbar'], /option '--chart <type>' argument 'xbar' is invalid/],
      [['--chart', 'imr', '--rules', 'nelsen'], /argument 'nelsen' is invalid/],
      [['--chart', 'imr', '--format', 'xml'], /argument 'xml' is invalid/],
      [['--chart', 'imr', '--sigma-method', 'median'], /argument 'median' is invalid/],
      [['--chart', 'imr', '--lsl', 'low'], /option '--lsl <x>' argument 'low' is invalid/],
      [['--chart', 'imr', '--subgroup-size', '0'], /argument '0' is invalid/],
      [[], /required option '--chart <type>' not specified/],
      [
        ['--chart', 'imr', '--lsl', '5', '--usl', '4'],
        'the lower specification limit (5) must be below the upper one (4)',
      ],
      [
        ['--chart', 'imr', '--mean', '5'],
        'known parameters are given together: --mean and --sigma',
      ],
      [['--chart', 'imr', '--lambda', '0.3'], '--lambda applies to ewma charts only'],
      [
        ['--chart', 'imr', '--sigma-method', 'rbar'],
        'an I-MR chart estimates σ from the moving range',
      ],
      [['--chart', 'ewma', '--lambda', '1.5'], 'EWMA: λ must be in (0, 1], not 1.5'],
      [['--chart', 'cusum', '--head-start', '9'], 'the head start must be ≥ 0 and below h (4)'],
      [['--chart', 'p', '--usl', '0.1'], '--usl applies to variables charts only'],
      [['--chart', 'imr', '--target', '3'], '--target needs a specification limit'],
    ])('options %j are refused', async (args, message) => {
      await refused(args, message, 'value,count,size\n1,1,2\n2,1,2\n')
    })
  })
})

describe('analyse (the pure analysis behind the command)', () => {
  const imr = (rules = NELSON_RULES): ChartSpec => ({
    type: 'imr',
    subgroup: { by: 'count', size: 1 },
    baseline: { subgroups: Number.POSITIVE_INFINITY },
    excludeOutOfControl: false,
    rules,
  })
  const obs = (xs: readonly number[], t0 = 0): Observation[] =>
    xs.map((value, i) => ({ ts: t0 + i, value }))

  it('with a calibration equals one stream whose baseline is the calibration, re-indexed from 0', () => {
    const calibration = obs(MORTGAGE)
    const monitored = obs(
      [302, 303, 299, 330, 302, 301, 280, 305, 306, 307, 308, 309, 310],
      MORTGAGE.length,
    )
    const analysis = analyse(imr(), monitored, { calibration })

    // The same data through the engine as a gateway would stream it.
    const spec: ChartSpec = { ...imr(), baseline: { subgroups: MORTGAGE.length } }
    let state = initChart(spec)
    const points: ChartPoint[] = []
    for (const o of [...calibration, ...monitored]) {
      const step = stepChart(spec, state, o)
      state = step.state
      points.push(...step.points.filter((p) => p.phase === 'monitor'))
    }
    points.push(...closeChart(spec, state, 1e9, true).points)
    expect(points).toHaveLength(monitored.length)
    for (const name of ['i', 'mr']) {
      const got = analysis.charts[name]?.points
      expect(got?.map((p) => p.index)).toEqual(points.map((p) => p.index - MORTGAGE.length))
      expect(got?.map((p) => p.statistic)).toEqual(points.map((p) => p.panes[name]?.statistic))
      expect(got?.map((p) => p.violations)).toEqual(
        points.map((p) => [
          ...new Set(p.violations.filter((v) => v.pane === name).map((v) => v.rule)),
        ]),
      )
    }
    expect(analysis.limits).toEqual(state.limits)
  })

  it('capability: σ within is the chart σ; μ, σ overall and out-of-spec come from the output rows only', () => {
    const monitored = obs([302, 303, 299, 330, 302], MORTGAGE.length)
    const a = analyse(imr(), monitored, { calibration: obs(MORTGAGE), usl: 320 })
    const c = a.capability
    expect(c?.n).toBe(5)
    expect(c?.mean).toBeCloseTo(307.2, 12)
    expect(c?.sigmaWithin).toBe(a.limits.sigma)
    expect(c?.sigmaOverall).toBeCloseTo(sampleSd([302, 303, 299, 330, 302]), 12)
    expect(c?.observedPpm).toBe(200_000)
    expect(analyse(imr(), monitored).capability).toBeNull() // no specification limit
  })
})
