import { readFileSync } from 'node:fs'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { type Analysis, AnalysisError, type AnalysisPoint, analyse } from '../../rules/analysis.ts'
import {
  type Capability,
  type CapabilityVerdict,
  capabilitySpecProblems,
  DEFAULT_CAPABILITY_POLICY,
} from '../../rules/capability.ts'
import { CUSUM_DEFAULTS } from '../../rules/charts/cusum.ts'
import { EWMA_DEFAULTS } from '../../rules/charts/ewma.ts'
import { checkObservation, validateChart } from '../../rules/charts/index.ts'
import {
  ATTRIBUTES_CHARTS,
  CHART_TYPES,
  type ChartSpec,
  type ChartType,
  type SigmaMethod,
  type Subgrouping,
} from '../../rules/spec.ts'
import {
  NELSON_RULES,
  type Observation,
  type RuleId,
  WESTERN_ELECTRIC_RULES,
} from '../../rules/types.ts'

/**
 * `linewatch spc [FILE|-] --chart …`: the offline analysis of a CSV file (Phase I, or Phase II
 * against a calibration file), printed as a table, JSON or CSV. The numbers come from
 * `rules/analysis.ts`; this file reads the input, checks it row by row, and prints.
 *
 * Rows are numbered as a spreadsheet numbers them: the header is row 1, the first data row is
 * row 2 (a quoted field spanning lines is still one row).
 */

const RULE_SETS: Record<string, readonly RuleId[]> = {
  nelson: NELSON_RULES,
  we: WESTERN_ELECTRIC_RULES,
  all: [...NELSON_RULES, ...WESTERN_ELECTRIC_RULES],
  none: [],
}

const CHART_NAMES: Record<ChartType, string> = {
  imr: 'I-MR',
  'xbar-r': 'X̄-R',
  'xbar-s': 'X̄-S',
  ewma: 'EWMA',
  cusum: 'CUSUM',
  p: 'p',
  np: 'np',
  c: 'c',
  u: 'u',
}

const PANE_NAMES: Record<string, string> = {
  i: 'Individuals',
  mr: 'Moving range',
  xbar: 'Subgroup means (X̄)',
  r: 'Ranges (R)',
  s: 'Standard deviations (S)',
  ewma: 'EWMA',
  cusum: 'CUSUM (C⁺, C⁻ in σ units; limits ±h)',
  p: 'Proportion defective (p)',
  np: 'Number defective (np)',
  c: 'Defects (c)',
  u: 'Defects per unit (u)',
}

/** A problem with the input or the options: printed as is, exit 1. */
class SpcInputError extends Error {}

interface SpcOptions {
  chart: ChartType
  subgroupSize?: number
  calibration?: string
  mean?: number
  sigma?: number
  sigmaMethod?: SigmaMethod
  lambda?: number
  L?: number
  k?: number
  h?: number
  headStart?: number
  resetOnSignal?: boolean
  rules: string
  lsl?: number
  usl?: number
  target?: number
  capabilityThreshold?: number
  minReadings?: number
  format: 'table' | 'json' | 'csv'
}

function numberArg(value: string): number {
  const n = parseNumber(value)
  if (n === null) throw new InvalidArgumentError(`"${value}" is not a number.`)
  return n
}

function countArg(value: string): number {
  const n = parseNumber(value)
  if (n === null || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`"${value}" is not a whole number ≥ 1.`)
  return n
}

function readingsArg(value: string): number {
  const n = parseNumber(value)
  if (n === null || !Number.isInteger(n) || n < 2)
    throw new InvalidArgumentError(`"${value}" is not a whole number ≥ 2.`)
  return n
}

function positiveArg(value: string): number {
  const n = parseNumber(value)
  if (n === null || !(n > 0)) throw new InvalidArgumentError(`"${value}" is not a positive number.`)
  return n
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** A decimal number as a person writes it (no hex, no empty cell, no "Infinity"), or null. */
function parseNumber(text: string): number | null {
  const t = text.trim()
  if (!NUMBER.test(t)) return null
  const n = Number(t)
  return Number.isFinite(n) ? n : null
}

export function registerSpcCommand(program: Command): void {
  program
    .command('spc')
    .description(
      'Analyse a CSV file offline: a control chart with its run rules, and process capability.',
    )
    .argument('[file]', 'CSV file with a header row; "-" or none: standard input')
    .addOption(
      new Option('--chart <type>', 'chart type').choices(CHART_TYPES).makeOptionMandatory(),
    )
    .option(
      '--subgroup-size <n>',
      'form subgroups of n consecutive rows (without a subgroup column)',
      countArg,
    )
    .option(
      '--calibration <file>',
      'Phase II: estimate the limits from this file (same layout); its rows precede the analysed ones',
    )
    .option('--mean <mu>', 'known centre: μ, or p, c̄, ū for attributes charts', numberArg)
    .option(
      '--sigma <sigma>',
      'known σ of one observation (variables charts, with --mean)',
      numberArg,
    )
    .addOption(
      new Option('--sigma-method <method>', 'how σ is estimated (default: per chart type)').choices(
        ['mr', 'rbar', 'sbar', 'pooled'],
      ),
    )
    .option('--lambda <lambda>', `EWMA weight λ (default ${EWMA_DEFAULTS.lambda})`, numberArg)
    .option('--L <L>', `EWMA limit width in σ of z (default ${EWMA_DEFAULTS.L})`, numberArg)
    .option('--k <k>', `CUSUM reference value, σ units (default ${CUSUM_DEFAULTS.k})`, numberArg)
    .option('--h <h>', `CUSUM decision interval, σ units (default ${CUSUM_DEFAULTS.h})`, numberArg)
    .option(
      '--head-start <c0>',
      `CUSUM fast initial response C₀, σ units (default ${CUSUM_DEFAULTS.headStart})`,
      numberArg,
    )
    .option(
      '--reset-on-signal',
      'CUSUM: after a signal the side that signalled restarts from the head start (Minitab\'s "reset after each signal")',
    )
    .addOption(
      new Option('--rules <set>', 'run rules: Nelson N1–N8, Western Electric WE1–WE4, both, none')
        .choices(Object.keys(RULE_SETS))
        .default('nelson'),
    )
    .option('--lsl <x>', 'lower specification limit (capability)', numberArg)
    .option('--usl <x>', 'upper specification limit (capability)', numberArg)
    .option('--target <x>', 'target for Cpm (default: the mid-point of the limits)', numberArg)
    .option(
      '--capability-threshold <x>',
      `Cpk and Ppk must both reach this for the verdict "capable" (default ${DEFAULT_CAPABILITY_POLICY.threshold})`,
      positiveArg,
    )
    .option(
      '--min-readings <n>',
      `readings needed before a capability verdict (default ${DEFAULT_CAPABILITY_POLICY.minReadings})`,
      readingsArg,
    )
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['table', 'json', 'csv'])
        .default('table'),
    )
    .addHelpText(
      'after',
      `
Input (CSV, RFC 4180, with a header row; rows are numbered as in a spreadsheet, the header is row 1):
  xbar-r, xbar-s, ewma, cusum        a "value" column; an optional "subgroup" column (consecutive
                                     rows with the same id form a subgroup), else --subgroup-size N
                                     (X̄-R and X̄-S need one of them; EWMA and CUSUM without either
                                     chart individual values)
  imr                                a "value" column; each row is a point (a "subgroup" column
                                     only labels the points)
  p, np, u                           "count" and "size" columns (u: size = inspection units)
  c                                  a "count" column ("size" optional)
  (attributes charts: an optional "subgroup" column labels the samples)

--rules judges the Shewhart and attributes charts (N1 alone on the MR, R and S panes); an EWMA
chart is judged against its limits only, a CUSUM by C⁺ and C⁻ beyond h.
Every point carries its subgroup id and the σ of its statistic (sigma): its limits are
center ± 3·sigma (EWMA: ± L·sigma; CUSUM: sigma 1, limits ±h), LCL not below 0 for R, S, MR
and the attributes charts.
With --lsl/--usl, capability and its verdict: "capable" needs a chart that did not signal, Cpk
and Ppk ≥ --capability-threshold and at least --min-readings rows; a chart that signalled is
"not in statistical control — capability indices are not a prediction".
--format json prints one object (the process parameters, notes, the charts' panes and points,
the capability and its verdict); --format csv one row per point per pane:
pane,index,subgroup,statistic,center,sigma,lcl,ucl,violations (rule ids separated by spaces;
CUSUM adds upper,lower), then, with capability, a blank line and a second table with the verdict
and the indices; --format table is for people (points numbered from 1).

Without --calibration or --mean/--sigma every row is the baseline (Phase I): the limits are
estimated from all the rows and every point is judged against them. With --calibration the
limits come from that file and only the rows of FILE are printed, indexed from 0 (JSON, CSV).

Examples:
  linewatch spc weights.csv --chart imr --lsl 495 --usl 505
  linewatch spc lots.csv --chart xbar-r --calibration baseline.csv --format json
  cat defects.csv | linewatch spc - --chart u --rules we --format csv`,
    )
    .action((file: string | undefined, opts: SpcOptions) => {
      try {
        const { text, notes } = runSpc(file, opts)
        for (const note of notes) process.stderr.write(`linewatch spc: note: ${note}\n`)
        process.stdout.write(text)
      } catch (err) {
        if (!(err instanceof SpcInputError || err instanceof AnalysisError)) throw err
        // The first line carries the code of the error catalogue (docs/errors.md).
        err.message.split('\n').forEach((line, i) => {
          process.stderr.write(`linewatch spc: ${i === 0 ? 'LW_ERR_SPC_INPUT: ' : ''}${line}\n`)
        })
        process.exitCode = 1
      }
    })
}

/**
 * The whole command: read, check, analyse, format; the text to print and the notes for stderr.
 * Throws SpcInputError on bad input.
 */
function runSpc(file: string | undefined, opts: SpcOptions): { text: string; notes: string[] } {
  const type = opts.chart
  const attributes = ATTRIBUTES_CHARTS.has(type)
  optionProblems(type, opts)

  const input = readTable(file === undefined || file === '-' ? null : file)
  const calibration = opts.calibration === undefined ? null : readTable(opts.calibration)
  const layout = layoutOf(type, input, opts)
  if (calibration) layoutOf(type, calibration, opts) // the same columns must be there

  const spec: ChartSpec = {
    type,
    subgroup: layout.subgroup,
    baseline: { subgroups: Number.POSITIVE_INFINITY },
    excludeOutOfControl: false,
    given:
      opts.mean === undefined
        ? undefined
        : attributes
          ? { center: opts.mean }
          : { center: opts.mean, sigma: opts.sigma },
    sigmaMethod: opts.sigmaMethod,
    rules: RULE_SETS[opts.rules] ?? NELSON_RULES,
    ewma:
      type === 'ewma'
        ? { lambda: opts.lambda ?? EWMA_DEFAULTS.lambda, L: opts.L ?? EWMA_DEFAULTS.L }
        : undefined,
    cusum:
      type === 'cusum'
        ? {
            k: opts.k ?? CUSUM_DEFAULTS.k,
            h: opts.h ?? CUSUM_DEFAULTS.h,
            headStart: opts.headStart ?? CUSUM_DEFAULTS.headStart,
            resetOnSignal: opts.resetOnSignal ?? CUSUM_DEFAULTS.resetOnSignal,
          }
        : undefined,
  }
  const problems = validateChart(spec)
  if (problems.length > 0) throw new SpcInputError(problems.join('\n'))

  const calibrationRows = calibration ? observations(spec, calibration, layout, 0) : []
  const rows = observations(spec, input, layout, calibrationRows.length)
  if (rows.length === 0) throw new SpcInputError(`${input.name}: no data rows`)
  if (calibration && calibrationRows.length === 0)
    throw new SpcInputError(`${calibration.name}: no data rows`)

  let analysis: Analysis
  try {
    analysis = analyse(spec, rows, {
      calibration: calibration ? calibrationRows : undefined,
      lsl: opts.lsl,
      usl: opts.usl,
      target: opts.target,
      capabilityPolicy: {
        threshold: opts.capabilityThreshold ?? DEFAULT_CAPABILITY_POLICY.threshold,
        minReadings: opts.minReadings ?? DEFAULT_CAPABILITY_POLICY.minReadings,
      },
    })
  } catch (err) {
    if (err instanceof AnalysisError)
      throw new SpcInputError(`${(calibration ?? input).name}: ${err.message}`)
    throw err
  }
  const notes = layout.notes
  switch (opts.format) {
    case 'json':
      return { text: `${JSON.stringify(toJson(analysis, notes), null, 2)}\n`, notes }
    case 'csv':
      return { text: toCsv(analysis), notes }
    case 'table':
      return { text: toTable(analysis, opts), notes }
  }
}

/** Options that do not fit the chart, or each other. */
function optionProblems(type: ChartType, opts: SpcOptions): void {
  const attributes = ATTRIBUTES_CHARTS.has(type)
  const problems: string[] = []
  const only = (flags: [keyof SpcOptions, string][], charts: ChartType[]) => {
    for (const [key, flag] of flags) {
      if (opts[key] !== undefined && !charts.includes(type))
        problems.push(`${flag} applies to ${charts.join(', ')} charts only`)
    }
  }
  only(
    [
      ['lambda', '--lambda'],
      ['L', '--L'],
    ],
    ['ewma'],
  )
  only(
    [
      ['k', '--k'],
      ['h', '--h'],
      ['headStart', '--head-start'],
      ['resetOnSignal', '--reset-on-signal'],
    ],
    ['cusum'],
  )
  only([['subgroupSize', '--subgroup-size']], ['xbar-r', 'xbar-s', 'ewma', 'cusum'])
  if (attributes) {
    if (opts.sigma !== undefined)
      problems.push(`--sigma does not apply to ${type} charts: the centre (--mean) defines σ`)
    for (const key of ['lsl', 'usl', 'target'] as const) {
      if (opts[key] !== undefined)
        problems.push(`--${key} applies to variables charts only (capability of measured values)`)
    }
  } else if ((opts.mean === undefined) !== (opts.sigma === undefined)) {
    problems.push('known parameters are given together: --mean and --sigma')
  }
  if (!attributes && opts.sigma !== undefined && !(opts.sigma > 0))
    problems.push(`--sigma must be positive, not ${opts.sigma}`)
  if (opts.target !== undefined && opts.lsl === undefined && opts.usl === undefined)
    problems.push('--target needs a specification limit (--lsl, --usl or both)')
  for (const [key, flag] of [
    ['capabilityThreshold', '--capability-threshold'],
    ['minReadings', '--min-readings'],
  ] as const) {
    if (opts[key] !== undefined && opts.lsl === undefined && opts.usl === undefined)
      problems.push(`${flag} needs a specification limit (--lsl, --usl or both)`)
  }
  problems.push(...capabilitySpecProblems({ lsl: opts.lsl, usl: opts.usl, target: opts.target }))
  if (problems.length > 0) throw new SpcInputError(problems.join('\n'))
}

// ---------------------------------------------------------------- input

interface Table {
  /** How messages name the input: the path, or <stdin>. */
  name: string
  header: string[]
  rows: { row: number; cells: string[] }[]
}

function readTable(path: string | null): Table {
  const name = path ?? '<stdin>'
  let text: string
  try {
    text = readFileSync(path ?? 0, 'utf8')
  } catch (err) {
    throw new SpcInputError(`cannot read ${name}: ${(err as Error).message}`)
  }
  const records = parseCsv(text, name)
  const first = records[0]
  if (!first) throw new SpcInputError(`${name}: the file is empty (a header row is needed)`)
  return {
    name,
    header: first.cells.map((c) => c.trim().toLowerCase()),
    rows: records.slice(1),
  }
}

/**
 * RFC 4180: fields separated by commas, records by CRLF (or LF, or CR); a field in double
 * quotes may hold commas, line breaks and "" for a quote. Blank records are skipped but keep
 * their number. A UTF-8 byte-order mark is dropped.
 */
export function parseCsv(text: string, name = 'input'): { row: number; cells: string[] }[] {
  const records: { row: number; cells: string[] }[] = []
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let row = 1
  let cells: string[] = []
  let field = ''
  /** The current field has begun (a character, or an opening quote: "" is an empty field). */
  let begun = false
  const endField = () => {
    cells.push(field)
    field = ''
    begun = false
  }
  const endRecord = () => {
    const blank = cells.length === 0 && !begun
    endField()
    if (!blank) records.push({ row, cells })
    cells = []
    row++
  }
  let i = 0
  while (i < s.length) {
    const ch = s[i] as string
    if (ch === '"' && !begun) {
      // A quoted field: up to the closing quote; "" inside is a quote.
      const opened = row
      begun = true
      i++
      for (;;) {
        if (i >= s.length) {
          throw new SpcInputError(`${name}: row ${opened}: a quoted field is not closed`)
        }
        const q = s[i] as string
        i++
        if (q !== '"') field += q
        else if (s[i] === '"') {
          field += '"'
          i++
        } else break
      }
      const next = s[i]
      if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
        throw new SpcInputError(
          `${name}: row ${row}: text after a closing quote (a quote inside a quoted field is written "")`,
        )
      }
    } else if (ch === ',') {
      endField()
      i++
    } else if (ch === '\r' || ch === '\n') {
      endRecord()
      i += ch === '\r' && s[i + 1] === '\n' ? 2 : 1
    } else {
      field += ch
      begun = true
      i++
    }
  }
  if (begun || cells.length > 0) endRecord()
  return records
}

interface Layout {
  subgroup: Subgrouping
  value: number | null
  count: number | null
  size: number | null
  /** The "subgroup" column: it forms the subgroups, or (I-MR, attributes) only labels the points. */
  key: number | null
  /** What the user should know about how the columns are read (printed on stderr, and in JSON). */
  notes: string[]
}

/** Which columns the chart reads, and how rows form subgroups. */
function layoutOf(type: ChartType, table: Table, opts: SpcOptions): Layout {
  const column = (name: string) => {
    const i = table.header.indexOf(name)
    return i < 0 ? null : i
  }
  const need = (name: string, why: string) => {
    const i = column(name)
    if (i === null) {
      throw new SpcInputError(
        `${table.name}: no "${name}" column (${why}); the header has: ${table.header.join(', ')}`,
      )
    }
    return i
  }
  if (ATTRIBUTES_CHARTS.has(type)) {
    const count = need('count', `a ${type} chart reads counts`)
    const size =
      type === 'c'
        ? column('size')
        : need(
            'size',
            type === 'u'
              ? 'a u chart needs the inspection units'
              : `a ${type} chart needs sample sizes`,
          )
    // Each row is one sample: a subgroup column only names it.
    const key = column('subgroup')
    return { subgroup: { by: 'count', size: 1 }, value: null, count, size, key, notes: [] }
  }
  const value = need('value', `${CHART_NAMES[type]} charts read measured values`)
  const key = column('subgroup')
  if (type === 'imr') {
    const notes =
      key === null
        ? []
        : [
            `${table.name}: an I-MR chart takes each row as a point: the "subgroup" column does not form subgroups (its ids only label the points); for subgroups use --chart xbar-r or xbar-s`,
          ]
    return { subgroup: { by: 'count', size: 1 }, value, count: null, size: null, key, notes }
  }
  if (key !== null && opts.subgroupSize !== undefined) {
    throw new SpcInputError(
      `${table.name}: has a "subgroup" column and --subgroup-size is given: use one of them`,
    )
  }
  if (key !== null)
    return { subgroup: { by: 'key' }, value, count: null, size: null, key, notes: [] }
  if (opts.subgroupSize !== undefined) {
    return {
      subgroup: { by: 'count', size: opts.subgroupSize },
      value,
      count: null,
      size: null,
      key: null,
      notes: [],
    }
  }
  if (type === 'xbar-r' || type === 'xbar-s') {
    throw new SpcInputError(
      `${table.name}: ${CHART_NAMES[type]} charts need subgroups: a "subgroup" column, or --subgroup-size N`,
    )
  }
  return {
    subgroup: { by: 'count', size: 1 },
    value,
    count: null,
    size: null,
    key: null,
    notes: [],
  }
}

/** The rows as observations (time stamps continue from `t0`), each checked by the chart. */
function observations(spec: ChartSpec, table: Table, layout: Layout, t0: number): Observation[] {
  const out: Observation[] = []
  const rowOf: number[] = []
  for (const { row, cells } of table.rows) {
    const at = `${table.name}: row ${row}`
    if (cells.length > table.header.length) {
      throw new SpcInputError(
        `${at}: ${cells.length} fields, but the header has ${table.header.length} (a decimal comma? quote the field, or write a decimal point)`,
      )
    }
    const cell = (index: number, name: string): number => {
      const text = cells[index]
      if (text === undefined || text.trim() === '')
        throw new SpcInputError(`${at}: ${name} is empty`)
      const n = parseNumber(text)
      if (n === null) throw new SpcInputError(`${at}: ${name} "${text}" is not a number`)
      return n
    }
    const obs: Observation =
      layout.value !== null
        ? { ts: t0 + out.length, value: cell(layout.value, 'value') }
        : {
            ts: t0 + out.length,
            value: cell(layout.count as number, 'count'),
            size:
              layout.size === null ||
              (spec.type === 'c' && (cells[layout.size] ?? '').trim() === '')
                ? undefined
                : cell(layout.size, 'size'),
          }
    if (layout.key !== null) {
      const key = (cells[layout.key] ?? '').trim()
      // A label may be missing; an id that forms subgroups may not.
      if (key !== '') obs.key = key
      else if (layout.subgroup.by === 'key') throw new SpcInputError(`${at}: subgroup is empty`)
    }
    const problem = checkObservation(spec, obs)
    if (problem) throw new SpcInputError(`${at}: ${problem}`)
    out.push(obs)
    rowOf.push(row)
  }
  if (spec.type === 'xbar-r' || spec.type === 'xbar-s')
    singleValueSubgroups(spec, table.name, out, rowOf)
  return out
}

/** X̄-R and X̄-S need a range or standard deviation in every subgroup: no subgroup of one value. */
function singleValueSubgroups(
  spec: ChartSpec,
  name: string,
  rows: Observation[],
  rowOf: number[],
): void {
  let start = 0
  while (start < rows.length) {
    let end = start + 1
    if (spec.subgroup.by === 'key') {
      while (end < rows.length && rows[end]?.key === rows[start]?.key) end++
    } else if (spec.subgroup.by === 'count') {
      end = Math.min(rows.length, start + spec.subgroup.size)
    }
    if (end - start === 1) {
      const which =
        spec.subgroup.by === 'key' ? `subgroup "${rows[start]?.key}"` : 'the last subgroup'
      throw new SpcInputError(
        `${name}: row ${rowOf[start]}: ${which} has a single value; ${CHART_NAMES[spec.type]} charts need subgroups of 2 or more`,
      )
    }
    start = end
  }
}

// ---------------------------------------------------------------- output

/**
 * `--format json`: the chart, the process parameters the limits follow from, the notes, every
 * pane with its points (each with its subgroup id and σ), the capability (the contract's fields
 * first, then the rest) and its verdict.
 */
function toJson(a: Analysis, notes: readonly string[]) {
  const charts: Record<string, unknown> = {}
  for (const [pane, p] of Object.entries(a.charts)) {
    charts[pane] = {
      center: p.center,
      sigma: p.sigma,
      lcl: p.lcl,
      ucl: p.ucl,
      points: p.points.map((pt) => ({
        index: pt.index,
        subgroup: pt.subgroup,
        statistic: pt.statistic,
        center: pt.center,
        sigma: pt.sigma,
        lcl: pt.lcl,
        ucl: pt.ucl,
        ...(pt.upper === undefined ? {} : { upper: pt.upper }),
        ...(pt.lower === undefined ? {} : { lower: pt.lower }),
        violations: pt.violations,
      })),
    }
  }
  return {
    chart: a.chart,
    process: processJson(a),
    notes,
    charts,
    capability: a.capability ? capabilityJson(a.capability) : null,
    capabilityVerdict: a.verdict,
  }
}

/** μ (or p̄, c̄, ū) and the σ of one observation the limits follow from (null for attributes), and how they came. */
function processJson(a: Analysis) {
  const { limits } = a
  return {
    center: limits.center,
    sigma: ATTRIBUTES_CHARTS.has(a.chart) ? null : limits.sigma,
    method: limits.basis.kind === 'given' ? 'given' : limits.basis.method,
  }
}

/** The keys of the JSON contract first, in its order, then the rest of the analysis. */
const CAPABILITY_KEYS = [
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
  'n',
  'mean',
  'lsl',
  'usl',
  'target',
  'expectedPpmWithin',
  'cpLower95',
  'cpUpper95',
  'cpkLower95',
  'cpkUpper95',
] as const satisfies readonly (keyof Capability)[]

function capabilityJson(c: Capability) {
  return Object.fromEntries(CAPABILITY_KEYS.map((k) => [k, c[k]]))
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/**
 * `--format csv`: one row per point per pane (CUSUM adds C⁺ and C⁻; violations separated by
 * spaces); with capability, a blank line and a second table: the verdict and the indices.
 */
function toCsv(a: Analysis): string {
  const cusum = a.chart === 'cusum'
  const cell = (x: number | null | undefined) => (x === null || x === undefined ? '' : String(x))
  const lines = [
    `pane,index,subgroup,statistic,center,sigma,lcl,ucl,violations${cusum ? ',upper,lower' : ''}`,
  ]
  for (const [pane, p] of Object.entries(a.charts)) {
    for (const pt of p.points) {
      const fields = [
        pane,
        String(pt.index),
        csvField(pt.subgroup ?? ''),
        cell(pt.statistic),
        cell(pt.center),
        cell(pt.sigma),
        cell(pt.lcl),
        cell(pt.ucl),
        pt.violations.join(' '),
      ]
      if (cusum) fields.push(cell(pt.upper), cell(pt.lower))
      lines.push(fields.join(','))
    }
  }
  if (a.capability && a.verdict) {
    const v = a.verdict
    lines.push(
      '',
      ['verdict', 'words', 'threshold', 'minReadings', 'signalled', ...CAPABILITY_KEYS].join(','),
      [
        v.verdict,
        csvField(v.words),
        String(v.threshold),
        String(v.minReadings),
        String(v.signalled),
        ...CAPABILITY_KEYS.map((k) => cell(a.capability?.[k])),
      ].join(','),
    )
  }
  return `${lines.join('\r\n')}\r\n`
}

/** A number for people: six significant digits, no trailing zeros. */
function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—'
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞'
  if (x === 0) return '0'
  const abs = Math.abs(x)
  if (abs >= 1e-4 && abs < 1e9) return String(Number(x.toPrecision(6)))
  return x.toExponential(4)
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

/**
 * `--format table`: each pane's points, numbered from 1 as textbooks number them (with their
 * subgroup ids when there are any; flagged ones marked *), a summary line per pane, capability
 * and its verdict.
 */
function toTable(a: Analysis, opts: SpcOptions): string {
  const out: string[] = []
  const basis = a.limits.basis
  const how =
    basis.kind === 'given'
      ? 'limits from the given parameters'
      : `limits estimated from ${basis.count} ${basis.count === 1 ? 'point' : 'points'}${opts.calibration ? ` of ${opts.calibration}` : ''} (${basis.method})`
  // The parameters every line follows from (attributes: the centre defines σ).
  const process = ATTRIBUTES_CHARTS.has(a.chart)
    ? `: centre ${fmt(a.limits.center)}`
    : `: μ ${fmt(a.limits.center)}, σ ${fmt(a.limits.sigma)}`
  const n = Object.values(a.charts)[0]?.points.length ?? 0
  const judged =
    a.chart === 'cusum'
      ? `signals: C⁺ or C⁻ beyond h`
      : a.chart === 'ewma'
        ? 'rules: beyond the limits'
        : `rules: ${opts.rules}`
  out.push(
    `${CHART_NAMES[a.chart]} chart: ${n} ${n === 1 ? 'point' : 'points'}; ${how}${process}; ${judged}`,
  )
  const cusum = a.chart === 'cusum'
  for (const [pane, p] of Object.entries(a.charts)) {
    out.push('', `${pane}: ${PANE_NAMES[pane] ?? pane}`)
    const labelled = p.points.some((pt) => pt.subgroup !== null)
    const head = [
      '#',
      ...(labelled ? ['subgroup'] : []),
      'statistic',
      ...(cusum ? ['C⁺', 'C⁻'] : []),
      'lcl',
      'center',
      'ucl',
      'σ',
      '',
      'violations',
    ]
    const rows: string[][] = [head]
    for (const pt of p.points) {
      rows.push([
        String(pt.index + 1),
        ...(labelled ? [pt.subgroup ?? ''] : []),
        fmt(pt.statistic),
        ...(cusum ? [fmt(pt.upper), fmt(pt.lower)] : []),
        fmt(pt.lcl),
        fmt(pt.center),
        fmt(pt.ucl),
        fmt(pt.sigma),
        pt.violations.length > 0 ? '*' : '',
        pt.violations.join(' '),
      ])
    }
    out.push(
      ...alignTable(
        rows,
        head.map((h) => h !== 'violations' && h !== '' && h !== 'subgroup'),
      ).map((l) => `  ${l}`),
    )
    out.push(paneSummary(pane, p.points, p))
  }
  if (a.capability) out.push('', ...capabilityLines(a.capability, a.verdict))
  if (a.verdict?.verdict === 'not-in-control') {
    // Which points, numbered as in the table above (from 1).
    const signalled = [
      ...new Set(
        Object.values(a.charts).flatMap((p) =>
          p.points.filter((pt) => pt.violations.length > 0).map((pt) => pt.index + 1),
        ),
      ),
    ].sort((x, y) => x - y)
    const shown = signalled.slice(0, 10).join(', ')
    out.push(
      `  the chart signalled at ${signalled.length} ${signalled.length === 1 ? 'point' : 'points'}: #${shown}${signalled.length > 10 ? ', …' : ''}`,
    )
  }
  return `${out.join('\n')}\n`
}

function paneSummary(
  pane: string,
  points: readonly AnalysisPoint[],
  p: { center: number | null; sigma: number | null; lcl: number | null; ucl: number | null },
): string {
  const flagged = points.filter((pt) => pt.violations.length > 0).length
  const line = (label: string, x: number | null) => `${label} ${x === null ? 'varies' : fmt(x)}`
  const parts = [
    line('center', p.center),
    line('LCL', p.lcl),
    line('UCL', p.ucl),
    line('σ', p.sigma),
  ]
  return `${pane}: ${parts.join(', ')}; ${flagged} of ${points.length} points flagged`
}

function capabilityLines(c: Capability, verdict: CapabilityVerdict | null): string[] {
  const spec = [
    c.lsl === null ? null : `LSL ${fmt(c.lsl)}`,
    c.usl === null ? null : `USL ${fmt(c.usl)}`,
    c.target === null ? null : `target ${fmt(c.target)}`,
  ]
    .filter((x) => x !== null)
    .join(', ')
  const range = (lo: number | null, hi: number | null) =>
    lo === null || hi === null ? '—' : `${fmt(lo)} to ${fmt(hi)}`
  const lines = [
    `Capability: n ${c.n}, mean ${fmt(c.mean)}; ${spec}`,
    `  within  (σ ${fmt(c.sigmaWithin)}):  Cp ${fmt(c.cp)}  Cpk ${fmt(c.cpk)}  Cpl ${fmt(c.cpl)}  Cpu ${fmt(c.cpu)}  Cpm ${fmt(c.cpm)}`,
    `  overall (σ ${fmt(c.sigmaOverall)}):  Pp ${fmt(c.pp)}  Ppk ${fmt(c.ppk)}  Ppl ${fmt(c.ppl)}  Ppu ${fmt(c.ppu)}`,
    `  95% confidence: Cp ${range(c.cpLower95, c.cpUpper95)}, Cpk ${range(c.cpkLower95, c.cpkUpper95)}`,
    `  out of spec (PPM): observed ${fmt(c.observedPpm)}, expected overall ${fmt(c.expectedPpm)}, expected within ${fmt(c.expectedPpmWithin)}`,
  ]
  if (verdict) lines.push(`Verdict: ${verdict.words}`)
  return lines
}
