import { readFileSync } from 'node:fs'
import { type Command, InvalidArgumentError, Option } from 'commander'
import {
  ANNEX1_GRADES,
  ANNEX1_STATES,
  type Annex1Grade,
  type Annex1State,
  classifyRoom,
  type LimitCheck,
  type ParticleSample,
  type RoomClassification,
  type VolumeCheck,
} from '../../rules/cleanroom.ts'
import { parseCsv } from './spc.ts'

/**
 * `linewatch cleanroom classify [FILE|-]`: the ISO 14644-1:2015 classification of a room from a
 * CSV of particle concentrations per location, optionally checked against a target class, an EU
 * GMP Annex 1 grade and the number of locations for the room's area. The numbers come from
 * `rules/cleanroom.ts`; this file reads the input, checks it row by row, and prints.
 *
 * Exit status: 0 when every requested check passes (or none was requested), 1 when the input or
 * the options are refused, 2 when the room fails a requested check.
 */

/** The error code printed with a refused input (to be added to the catalogue, docs/errors.md). */
const INPUT_ERROR_CODE = 'LW_ERR_CLEANROOM_INPUT'

/** A problem with the input or the options: printed as is, exit 1. */
class CleanroomInputError extends Error {}

interface ClassifyOptions {
  class?: number
  area?: number
  grade?: Annex1Grade
  state?: Annex1State
  format: 'table' | 'json'
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** A decimal number as a person writes it (no hex, no empty cell, no "Infinity"), or null. */
function parseNumber(text: string): number | null {
  const t = text.trim()
  if (!NUMBER.test(t)) return null
  const n = Number(t)
  return Number.isFinite(n) ? n : null
}

function classArg(value: string): number {
  const n = parseNumber(value)
  if (n === null || !Number.isInteger(n) || n < 1 || n > 9)
    throw new InvalidArgumentError(`"${value}" is not an ISO class (a whole number from 1 to 9).`)
  return n
}

function areaArg(value: string): number {
  const n = parseNumber(value)
  if (n === null || !(n > 0)) throw new InvalidArgumentError(`"${value}" is not a positive area.`)
  return n
}

export function registerCleanroomCommand(program: Command): void {
  const cleanroom = program
    .command('cleanroom')
    .description('Cleanrooms: ISO 14644-1:2015 classification, EU GMP Annex 1 grades.')
  cleanroom
    .command('classify')
    .description(
      "Classify a room after ISO 14644-1:2015 from its locations' particle concentrations (CSV).",
    )
    .argument('[file]', 'CSV file with a header row; "-" or none: standard input')
    .option('--class <N>', 'check against ISO class N (1–9)', classArg)
    .option(
      '--area <m2>',
      'the room area in m²: check the number of locations against ISO 14644-1 Table A.1',
      areaArg,
    )
    .addOption(
      new Option(
        '--grade <grade>',
        'check against an EU GMP Annex 1 (2022) grade (Table 1, with --state)',
      ).choices(ANNEX1_GRADES),
    )
    .addOption(
      new Option('--state <state>', 'the occupancy state for --grade').choices(ANNEX1_STATES),
    )
    .addOption(
      new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .addHelpText(
      'after',
      `
Input (CSV, RFC 4180, with a header row; rows are numbered as in a spreadsheet, the header is row 1):
  location   the sampling location's name
  size       the particle size threshold in µm (0.5 counts particles ≥ 0.5 µm)
  count      the concentration at or above that size, in particles per m³
  sample     (optional) a label of the sample; a location may have several samples per size
  volume     (optional) the litres sampled, checked against the minimum sample volume
Other columns are ignored. Every location needs a row at every size in the file.

Each location's average per size (the mean of its samples) is checked against the limits of
each ISO class, 1 to 9, at each size that has a limit at that class (Table 1 of ISO
14644-1:2015, or Formula (1) for sizes from 0.1 to 5 µm that are not its columns; an average
equal to the limit passes). The room's class is the lowest class that every location meets.
--class N checks that class; --grade and --state check EU GMP Annex 1 (2022) Table 1 (sizes
0.5 and 5 µm; "not specified" cells are not considered). With a "volume" column both also check
the minimum sample volume 20/Cn,m × 1 000 L, at least 2 L (ISO 14644-1 A.4.4; Cn,m the limit
at the largest size that has one). --area checks the number of locations against ISO 14644-1
Table A.1.

--format json prints one object: sizes, locations, means, every class's check, the room's
class, the target, Annex 1 and location-count checks, the overall verdict (pass: null when no
check was requested) and the notes.

Exit status: 0 when every requested check passes (or none was requested), 1 when the input or
the options are refused, 2 when the room fails a requested check.

Examples:
  linewatch cleanroom classify counts.csv
  linewatch cleanroom classify counts.csv --class 7 --area 30
  cat counts.csv | linewatch cleanroom classify - --grade B --state at-rest --format json`,
    )
    .action((file: string | undefined, opts: ClassifyOptions) => {
      try {
        const result = runClassify(file, opts)
        for (const note of result.notes)
          process.stderr.write(`linewatch cleanroom: note: ${note}\n`)
        process.stdout.write(
          opts.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : toTable(result),
        )
        if (result.pass === false) process.exitCode = 2
      } catch (err) {
        if (!(err instanceof CleanroomInputError)) throw err
        err.message.split('\n').forEach((line, i) => {
          process.stderr.write(
            `linewatch cleanroom: ${i === 0 ? `${INPUT_ERROR_CODE}: ` : ''}${line}\n`,
          )
        })
        process.exitCode = 1
      }
    })
}

function runClassify(file: string | undefined, opts: ClassifyOptions): RoomClassification {
  if ((opts.grade === undefined) !== (opts.state === undefined))
    throw new CleanroomInputError(
      '--grade and --state are given together (Annex 1 limits depend on the occupancy state)',
    )
  const samples = readSamples(file === undefined || file === '-' ? null : file)
  return classifyRoom(samples, {
    targetClass: opts.class,
    areaM2: opts.area,
    annex1: opts.grade && opts.state ? { grade: opts.grade, state: opts.state } : undefined,
  })
}

// ---------------------------------------------------------------- input

function readSamples(path: string | null): ParticleSample[] {
  const name = path ?? '<stdin>'
  let text: string
  try {
    text = readFileSync(path ?? 0, 'utf8')
  } catch (err) {
    throw new CleanroomInputError(`cannot read ${name}: ${(err as Error).message}`)
  }
  let records: { row: number; cells: string[] }[]
  try {
    records = parseCsv(text, name)
  } catch (err) {
    throw new CleanroomInputError((err as Error).message)
  }
  const first = records[0]
  if (!first) throw new CleanroomInputError(`${name}: the file is empty (a header row is needed)`)
  const header = first.cells.map((c) => c.trim().toLowerCase())
  const column = (c: string) => {
    const i = header.indexOf(c)
    return i < 0 ? null : i
  }
  const need = (c: string, what: string) => {
    const i = column(c)
    if (i === null)
      throw new CleanroomInputError(
        `${name}: no "${c}" column (${what}); the header has: ${header.join(', ')}`,
      )
    return i
  }
  const at = {
    location: need('location', 'the sampling location'),
    size: need('size', 'the particle size in µm'),
    count: need('count', 'the concentration in particles/m³'),
    sample: column('sample'),
    volume: column('volume'),
  }
  const samples: ParticleSample[] = []
  const seen = new Map<string, number>()
  for (const { row, cells } of records.slice(1)) {
    const where = `${name}: row ${row}`
    if (cells.length > header.length)
      throw new CleanroomInputError(
        `${where}: ${cells.length} fields, but the header has ${header.length} (a decimal comma? quote the field, or write a decimal point)`,
      )
    const text = (i: number) => (cells[i] ?? '').trim()
    const number = (i: number, what: string) => {
      const t = text(i)
      if (t === '') throw new CleanroomInputError(`${where}: ${what} is empty`)
      const n = parseNumber(t)
      if (n === null) throw new CleanroomInputError(`${where}: ${what} "${t}" is not a number`)
      return n
    }
    const location = text(at.location)
    if (location === '') throw new CleanroomInputError(`${where}: location is empty`)
    const sizeUm = number(at.size, 'size')
    if (!(sizeUm > 0))
      throw new CleanroomInputError(
        `${where}: the size must be a positive number of µm, not ${sizeUm}`,
      )
    const concentration = number(at.count, 'count')
    if (concentration < 0)
      throw new CleanroomInputError(
        `${where}: the count must be a concentration ≥ 0 (particles/m³), not ${concentration}`,
      )
    let volumeL: number | undefined
    if (at.volume !== null && text(at.volume) !== '') {
      volumeL = number(at.volume, 'volume')
      if (!(volumeL > 0))
        throw new CleanroomInputError(
          `${where}: the volume must be a positive number of litres, not ${volumeL}`,
        )
    }
    if (at.sample !== null && text(at.sample) !== '') {
      const key = JSON.stringify([location, sizeUm, text(at.sample)])
      const before = seen.get(key)
      if (before !== undefined)
        throw new CleanroomInputError(
          `${where}: sample "${text(at.sample)}" of ${location} at ≥${sizeUm} µm is already on row ${before}`,
        )
      seen.set(key, row)
    }
    samples.push({ location, sizeUm, concentration, volumeL })
  }
  if (samples.length === 0) throw new CleanroomInputError(`${name}: no data rows`)
  // Every location needs every size: an average cannot be compared with a limit it lacks.
  const sizes = [...new Set(samples.map((s) => s.sizeUm))].sort((a, b) => a - b)
  const locations = [...new Set(samples.map((s) => s.location))]
  const gaps = locations.flatMap((location) => {
    const missing = sizes.filter(
      (size) => !samples.some((s) => s.location === location && s.sizeUm === size),
    )
    return missing.length === 0 ? [] : [`${location} (≥${missing.join(', ≥')} µm)`]
  })
  if (gaps.length > 0)
    throw new CleanroomInputError(
      `${name}: every location needs a count at every size in the file; missing: ${gaps.join('; ')}`,
    )
  return samples
}

// ---------------------------------------------------------------- output

/** A concentration for people: digits grouped by thousands, at most one decimal. */
function fmt(x: number): string {
  const rounded = Math.round(x * 10) / 10
  const [whole, decimals] = String(Math.abs(rounded)).split('.')
  const grouped = (whole ?? '').replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
  return `${rounded < 0 ? '−' : ''}${grouped}${decimals ? `.${decimals}` : ''}`
}

function alignTable(rows: string[][], right: boolean[]): string[] {
  const widths =
    rows[0]?.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length))) ?? []
  return rows.map((r) =>
    r
      .map((cell, c) => {
        const pad = ' '.repeat((widths[c] ?? 0) - [...cell].length)
        return right[c] ? pad + cell : cell + pad
      })
      .join('  ')
      .trimEnd(),
  )
}

const sizeLabel = (sizeUm: number) => `≥${sizeUm} µm`

function failureWords(check: LimitCheck): string {
  const parts = [
    ...check.failures.map(
      (f) => `${f.location} ${sizeLabel(f.sizeUm)} ${fmt(f.mean)} > ${fmt(f.limit)}`,
    ),
    ...check.missing.map((m) => `${m.location} has no ${sizeLabel(m.sizeUm)} count`),
  ]
  return parts.join('; ')
}

function verdict(check: LimitCheck): string {
  if (!check.evaluable) return 'no limit at these sizes'
  return check.pass ? 'pass' : `fail: ${failureWords(check)}`
}

function volumeLine(v: VolumeCheck | null): string[] {
  if (v === null) return []
  const short = v.short.map((s) => `${s.location} ${fmt(s.volumeL)} L`).join(', ')
  const unknown = v.unknown > 0 ? ` (${v.unknown} samples without a volume not judged)` : ''
  return [
    `  sample volume: at least ${fmt(v.minimumL)} L (20/${fmt(v.limit)} × 1 000 at ${sizeLabel(v.sizeUm)}, ISO 14644-1 A.4.4): ${v.pass ? 'pass' : `fail: ${short}`}${unknown}`,
  ]
}

function toTable(r: RoomClassification): string {
  const out: string[] = []
  const sizes = r.sizes
  out.push(
    `ISO 14644-1:2015 classification: ${r.locations.length} ${r.locations.length === 1 ? 'location' : 'locations'}, sizes ${sizes.map(sizeLabel).join(', ')} (particles/m³, each location's average)`,
    '',
  )
  const meanRows = r.locations.map((location) => {
    const at = (size: number) => r.means.find((m) => m.location === location && m.sizeUm === size)
    const samples = Math.max(...sizes.map((s) => at(s)?.samples ?? 0))
    return [location, String(samples), ...sizes.map((s) => fmt(at(s)?.mean ?? Number.NaN))]
  })
  out.push(
    ...alignTable(
      [['location', 'samples', ...sizes.map(sizeLabel)], ...meanRows],
      [false, true, ...sizes.map(() => true)],
    ),
    '',
  )
  const classRows = r.classes.map((c) => [
    `ISO ${c.isoClass}`,
    ...c.limits.map((l) => (l.limit === null ? '—' : fmt(l.limit))),
    verdict(c),
  ])
  out.push(
    ...alignTable(
      [['class', ...sizes.map(sizeLabel), 'result'], ...classRows],
      [false, ...sizes.map(() => true), false],
    ),
    '—: ISO 14644-1:2015 Table 1 gives no limit at this class and size (footnotes c, d, e): not considered',
    '',
  )
  out.push(
    r.isoClass === null
      ? 'Room class: none of ISO 1 to 9 is met'
      : `Room class: ISO ${r.isoClass} (the lowest class whose limits every location's average meets)`,
  )
  if (r.target) {
    out.push(
      `Target ISO ${r.target.isoClass}: ${verdict(r.target)}`,
      ...volumeLine(r.target.volume),
    )
  }
  if (r.annex1) {
    const state = r.annex1.state === 'at-rest' ? 'at rest' : 'in operation'
    const limits = r.annex1.limits
      .map((l) => `${sizeLabel(l.sizeUm)} ${l.limit === null ? '—' : fmt(l.limit)}`)
      .join(', ')
    out.push(
      `EU GMP Annex 1 grade ${r.annex1.grade} ${state} (Table 1: ${limits}): ${verdict(r.annex1)}`,
      ...volumeLine(r.annex1.volume),
    )
  }
  if (r.locationCount) {
    const c = r.locationCount
    out.push(
      `Sampling locations: ${c.actual}; ISO 14644-1 Table A.1 needs ${c.required} for ${fmt(c.areaM2)} m²: ${c.pass ? 'pass' : 'fail'}`,
    )
  }
  if (r.pass !== null) out.push(`Result: ${r.pass ? 'PASS' : 'FAIL'}`)
  return `${out.join('\n')}\n`
}
