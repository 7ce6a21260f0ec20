import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RoomClassification } from '../rules/cleanroom.ts'
import { type ProgramRun, runProgram, tempDir } from './helpers/index.ts'

/**
 * `linewatch cleanroom classify`, run as a user runs it: the built CLI (`npm run build` first),
 * spawned with this Node. Limits are ISO 14644-1:2015 Table 1's and EU GMP Annex 1 (2022)
 * Table 1's, the location counts Table A.1's, written out here; the averages are computed by
 * hand in the comments.
 */

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'linewatch.js')

/** Runs `linewatch cleanroom classify …`; never throws on a non-zero exit. */
function classify(args: string[], options: { input?: string } = {}): Promise<ProgramRun> {
  return runProgram(process.execPath, [BIN, 'cleanroom', 'classify', ...args], {
    cwd: ROOT,
    input: options.input,
  })
}

/**
 * Three locations at 0.5 and 5 µm. Averages: L1 (3 000 + 4 000)/2 = 3 500 and (0 + 35)/2 = 17.5;
 * L2 1 100 and 0; L3 320 and 17.5. At 0.5 µm ISO 4 (352) is exceeded by L1 and L2, ISO 5
 * (3 520) is met; ISO 5 has no 5 µm limit, ISO 6's (293) is met: the room is ISO 5.
 */
const ROOM = `location,size,count,sample,volume
L1,0.5,3000,1,28.3
L1,0.5,4000,2,28.3
L1,5,0,1,28.3
L1,5,35,2,28.3
L2,0.5,1000,1,28.3
L2,0.5,1200,2,28.3
L2,5,0,1,28.3
L2,5,0,2,28.3
L3,0.5,300,1,28.3
L3,0.5,340,2,28.3
L3,5,35,1,28.3
L3,5,0,2,28.3
`

let dir: { path: string; remove(): Promise<void> }
let room: string
beforeAll(async () => {
  dir = await tempDir()
  room = await csvFile('room.csv', ROOM)
})
afterAll(() => dir?.remove())

async function csvFile(name: string, text: string): Promise<string> {
  const file = join(dir.path, name)
  await writeFile(file, text)
  return file
}

async function json(
  args: string[],
  input?: string,
): Promise<{ run: ProgramRun; out: RoomClassification }> {
  const run = await classify([...args, '--format', 'json'], { input })
  expect(run.stderr).toBe('')
  return { run, out: JSON.parse(run.stdout) as RoomClassification }
}

describe.concurrent('linewatch cleanroom classify', () => {
  it('--help documents the CSV columns, the options and the exit status', async () => {
    const { code, stdout } = await classify(['--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: linewatch cleanroom classify \[options\] \[file\]/)
    for (const text of [
      '--class <N>',
      '--area <m2>',
      '--grade <grade>',
      '--state <state>',
      '--format <format>',
      'location',
      'size',
      'count',
      'particles per m³',
      'sample',
      'volume',
      'Exit status',
    ])
      expect(stdout).toContain(text)
  })

  it('ISO 14644-1:2015 A.6: the table of averages and class checks; the room is ISO 5; exit 0 without a requested check', async () => {
    const run = await classify([room])
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    const lines = run.stdout.split('\n')
    expect(lines[0]).toBe(
      "ISO 14644-1:2015 classification: 3 locations, sizes ≥0.5 µm, ≥5 µm (particles/m³, each location's average)",
    )
    expect(lines).toContain('L1              2    3 500   17.5')
    expect(run.stdout).toMatch(
      /ISO 4 +352 +— +fail: L1 ≥0\.5 µm 3 500 > 352; L2 ≥0\.5 µm 1 100 > 352/,
    )
    expect(run.stdout).toMatch(/ISO 5 +3 520 +— +pass/)
    expect(run.stdout).toMatch(/ISO 6 +35 200 +293 +pass/)
    expect(run.stdout).toMatch(/ISO 8 +3 520 000 +29 300 +pass/)
    expect(run.stdout).toContain('Room class: ISO 5')
    expect(run.stdout).not.toContain('Result:')
  })

  it('--format json: the means, each class with its Table 1 limits, the room class', async () => {
    const { run, out } = await json([room])
    expect(run.code).toBe(0)
    expect(out.isoClass).toBe(5)
    expect(out.pass).toBeNull()
    expect(out.means).toContainEqual({ location: 'L2', sizeUm: 0.5, samples: 2, mean: 1_100 })
    expect(out.classes.map((c) => c.limits.map((l) => l.limit))).toEqual([
      [null, null],
      [null, null],
      [35, null],
      [352, null],
      [3_520, null],
      [35_200, 293],
      [352_000, 2_930],
      [3_520_000, 29_300],
      [35_200_000, 293_000],
    ])
  })

  it('--class: the target met exits 0 with the sample volume checked (20/3 520 × 1 000 = 5.68 L ≤ 28.3 L); a stricter class exits 2', async () => {
    const pass = await classify([room, '--class', '5'])
    expect(pass.code).toBe(0)
    expect(pass.stdout).toContain('Target ISO 5: pass')
    expect(pass.stdout).toContain('sample volume: at least 5.7 L')
    expect(pass.stdout).toContain('Result: PASS')
    const fail = await classify([room, '--class', '4'])
    expect(fail.code).toBe(2)
    expect(fail.stdout).toContain('Target ISO 4: fail: L1 ≥0.5 µm 3 500 > 352')
    expect(fail.stdout).toContain('Result: FAIL')
  })

  it('--class with a sample volume below A.4.4 fails', async () => {
    const small = await csvFile('small.csv', ROOM.replaceAll('28.3', '2'))
    const { run, out } = await json([small, '--class', '5'])
    expect(run.code).toBe(2)
    expect(out.target?.pass).toBe(true)
    expect(out.target?.volume?.pass).toBe(false)
    expect(out.target?.volume?.minimumL).toBeCloseTo(20_000 / 3_520, 10)
    expect(out.pass).toBe(false)
  })

  it('--area: Table A.1 needs 3 locations up to 6 m² (pass) and 8 for 30 m² (fail, exit 2)', async () => {
    const ok = await classify([room, '--area', '6'])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(
      'Sampling locations: 3; ISO 14644-1 Table A.1 needs 3 for 6 m²: pass',
    )
    const { run, out } = await json([room, '--area', '30'])
    expect(run.code).toBe(2)
    expect(out.locationCount).toEqual({ areaM2: 30, required: 8, actual: 3, pass: false })
  })

  it('--grade/--state: EU GMP Annex 1 (2022) Table 1, grade B at rest 3 520 at 0.5 µm (5 µm not specified) and grade C in operation: pass; stdin', async () => {
    const b = await classify(['-', '--grade', 'B', '--state', 'at-rest'], { input: ROOM })
    expect(b.code).toBe(0)
    expect(b.stdout).toContain(
      'EU GMP Annex 1 grade B at rest (Table 1: ≥0.5 µm 3 520, ≥5 µm —): pass',
    )
    const { out } = await json(['--grade', 'C', '--state', 'in-operation'], ROOM)
    expect(out.annex1?.limits.map((l) => l.limit)).toEqual([3_520_000, 29_300])
    expect(out.annex1?.pass).toBe(true)
  })

  it('grade A fails when a location averages above 3 520 at 0.5 µm: exit 2', async () => {
    const dirty = await csvFile('dirty.csv', 'location,size,count\nA1,0.5,3521\nA2,0.5,10\n')
    const run = await classify([dirty, '--grade', 'A', '--state', 'in-operation'])
    expect(run.code).toBe(2)
    expect(run.stdout).toContain('fail: A1 ≥0.5 µm 3 521 > 3 520')
  })

  it('a size outside 0.1–5 µm is reported as a note on stderr and not considered', async () => {
    const run = await classify([], {
      input: 'location,size,count\nL1,0.5,100\nL1,10,3\n',
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('linewatch cleanroom: note: ≥10 µm is outside the 0.1–5 µm range')
    expect(run.stdout).toContain('Room class: ISO 4')
  })

  describe.concurrent('bad input: a message naming the file and the row, exit 1', () => {
    const refused = async (args: string[], message: string | RegExp, input?: string) => {
      const run = await classify(args, { input })
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      if (typeof message === 'string') expect(run.stderr).toContain(message)
      else expect(run.stderr).toMatch(message)
      expect(run.stderr).not.toMatch(/\n\s+at /)
    }

    it('a missing column', async () => {
      await refused(
        [],
        'LW_ERR_CLEANROOM_INPUT: <stdin>: no "count" column (the concentration in particles/m³); the header has: location, size',
        'location,size\nL1,0.5\n',
      )
    })

    it('a count that is not a number, a negative count, an empty location, a bad size', async () => {
      await refused(
        [],
        '<stdin>: row 3: count "1,2" is not a number',
        'location,size,count\nL1,0.5,1\nL1,5,"1,2"\n',
      )
      await refused(
        [],
        '<stdin>: row 2: the count must be a concentration ≥ 0',
        'location,size,count\nL1,0.5,-1\n',
      )
      await refused([], '<stdin>: row 2: location is empty', 'location,size,count\n,0.5,1\n')
      await refused(
        [],
        '<stdin>: row 2: size "0.5um" is not a number',
        'location,size,count\nL1,0.5um,1\n',
      )
      await refused(
        [],
        '<stdin>: row 2: 4 fields, but the header has 3 (a decimal comma?',
        'location,size,count\nL1,0,5,1\n',
      )
    })

    it('a location without a size the others have', async () => {
      await refused(
        [],
        '<stdin>: every location needs a count at every size in the file; missing: L2 (≥5 µm)',
        'location,size,count\nL1,0.5,1\nL1,5,0\nL2,0.5,3\n',
      )
    })

    it('a sample label repeated at a location and size', async () => {
      await refused(
        [],
        '<stdin>: row 3: sample "s1" of L1 at ≥0.5 µm is already on row 2',
        'location,size,count,sample\nL1,0.5,1,s1\nL1,0.5,2,s1\n',
      )
    })

    it('an empty file, no data rows, a file that cannot be read', async () => {
      await refused([], '<stdin>: the file is empty', '')
      await refused([], '<stdin>: no data rows', 'location,size,count\n')
      await refused([join(dir.path, 'nope.csv')], /cannot read .*nope\.csv/)
    })

    it.each([
      [['--class', '10'], /option '--class <N>' argument '10' is invalid/],
      [['--class', '4.5'], /argument '4.5' is invalid/],
      [['--area', '0'], /option '--area <m2>' argument '0' is invalid/],
      [['--grade', 'E', '--state', 'at-rest'], /argument 'E' is invalid/],
      [['--grade', 'A'], '--grade and --state are given together'],
      [['--format', 'csv'], /argument 'csv' is invalid/],
    ])('options %j are refused', async (args, message) => {
      await refused(args, message, 'location,size,count\nL1,0.5,1\n')
    })
  })
})
