import { type ChildProcess, fork } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import {
  alarmLimitProblems,
  annex1ActionLimit,
  type CharacteristicSpec,
  CUSUM_DEFAULTS,
  type SigmaMethod,
  type Subgrouping,
  validateChart,
} from '../../rules/index.ts'
import { alarmConfigProblems } from '../alarms/catalogue.ts'
import { type ErrorCode, type FileIssue, FileIssuesError, LinewatchError } from '../errors.ts'
import { besideModule } from '../paths.ts'
import { topicMatches } from '../sources/mqtt-ingest.ts'
import { mqttSecurityIssues } from './mqtt-security-schema.ts'
import { opcuaSecurityProblems } from './opcua-security-schema.ts'
import { reportConfigIssues } from './report-schema.ts'
import { type CharacteristicConfig, type Config, ConfigSchema } from './schema.ts'
import { sparkplugConfigProblems } from './sparkplug-schema.ts'
import { createYamlValidator, type SemanticContext, type SemanticIssue } from './yaml-schema.ts'

const validator = createYamlValidator<Config>({
  schema: ConfigSchema,
  code: 'LW_ERR_CONFIG_INVALID',
  semantic: semanticIssues,
})

/** Parses and validates configuration text; throws FileIssuesError with file:line of each problem. */
export function parseConfig(text: string, file = '<config>'): Config {
  return validator.parse(text, file)
}

/**
 * A configuration file at least this large is parsed in a child process. V8 keeps the pages of
 * a heap it has grown, after a full collection and after a worker thread's exit alike, so what
 * a parse took stayed in the gateway's RSS for good: 39 MiB for 250 characteristics (a file of
 * 57 KB) or 1,000, 430 MiB for 10,000, 2.5 GiB for 100,000 (3.5 GiB idle instead of 0.4). A
 * child's memory goes back to the system when it exits; starting it costs about 0.5 s. From 32
 * KiB (about 140 characteristics) memory weighs more than half a second at start; below, a
 * parse in the process keeps less (7.5 MiB for the demo's 10).
 */
export const CHILD_PARSE_BYTES = 32 * 1024

const EMPTY_FILE =
  'the file is empty: no settings in it (a configuration of defaults only is written {}; `linewatch config reference` lists the settings)'

/**
 * Reads, parses and validates a configuration file (`start`, `config check`, the CLI's other
 * commands). A file with nothing in it — no text, only comments, or a null document — is
 * refused: most likely the wrong file, or one cut short (parseConfig takes empty text as every
 * default). `childAboveBytes`: CHILD_PARSE_BYTES unless given (tests).
 */
export async function loadConfigFile(
  file: string,
  options: { childAboveBytes?: number } = {},
): Promise<Config> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (cause) {
    throw notReadable(file, cause)
  }
  if (size >= (options.childAboveBytes ?? CHILD_PARSE_BYTES)) return parseInChild(file)
  return readConfigFile(file)
}

/** loadConfigFile in this process (parse-child.ts runs it in the child). */
export async function readConfigFile(file: string): Promise<Config> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw notReadable(file, cause)
  }
  return validator.parse(text, file, { refuseEmpty: EMPTY_FILE })
}

function notReadable(file: string, cause: unknown): LinewatchError {
  return new LinewatchError(
    'LW_ERR_CONFIG_NOT_FOUND',
    `cannot read ${file}: ${(cause as Error).message}`,
    { cause },
  )
}

/** What parse-child.ts answers: the configuration, or the error it met, as data. */
export type ChildAnswer =
  | { config: Config }
  | { error: { code?: ErrorCode; message: string; issues?: FileIssue[] } }

const childUrl = besideModule('parse-child', import.meta.url)

/**
 * readConfigFile in a child process; its answer crosses as a structured clone. A child that
 * cannot be started leaves the parse to this process; one that ends without answering (out of
 * memory, killed) is an error naming how it ended.
 */
function parseInChild(file: string): Promise<Config> {
  return new Promise<Config>((resolve, reject) => {
    let child: ChildProcess
    try {
      child = fork(fileURLToPath(childUrl), [file], {
        // Only a memory limit given to this process carries over (no inspector, no loaders).
        execArgv: process.execArgv.filter((a) => a.startsWith('--max-old-space-size')),
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      })
    } catch {
      readConfigFile(file).then(resolve, reject)
      return
    }
    let answered = false
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000)
    })
    child.once('message', (answer: ChildAnswer) => {
      answered = true
      if ('config' in answer) resolve(answer.config)
      else reject(childError(file, answer.error))
    })
    child.once('error', () => {
      if (answered) return
      answered = true
      // Not started (no process to fork): parsed here instead.
      readConfigFile(file).then(resolve, reject)
    })
    // 'close', not 'exit': after the IPC channel too, so an answer sent is never taken for none.
    child.once('close', (code, signal) => {
      if (answered) return
      answered = true
      const how = signal ? `signal ${signal}` : `code ${code}`
      reject(
        new LinewatchError(
          'LW_ERR_CONFIG_NOT_FOUND',
          `cannot read ${file}: the process parsing it ended (${how}) without an answer${stderr ? `: ${stderr.trim()}` : ''}`,
        ),
      )
    })
  })
}

function childError(file: string, e: Extract<ChildAnswer, { error: unknown }>['error']): Error {
  if (e.code && e.issues) return new FileIssuesError(e.code, file, e.issues)
  if (e.code) return new LinewatchError(e.code, e.message)
  return new Error(e.message)
}

/**
 * A cluster (docs/scale.md) shares its records, journal and leases in PostgreSQL, its time
 * series in InfluxDB, and takes its readings from an external broker on one persistent session
 * per partition. Sources that cannot be handed from gateway to gateway are refused: an OPC-UA
 * session or the Sparkplug host would feed one gateway whatever it owns.
 */
function clusterProblems(config: Config): SemanticIssue[] {
  if (!config.cluster) return []
  const issues: SemanticIssue[] = []
  const need = (path: (string | number)[], ok: boolean, message: string) => {
    if (!ok) issues.push({ path, message })
  }
  need(
    ['store', 'records'],
    config.store.records === 'postgres',
    'a cluster needs store.records: postgres',
  )
  need(
    ['store', 'timeseries'],
    config.store.timeseries === 'influxdb',
    'a cluster needs store.timeseries: influxdb (one time series for every gateway)',
  )
  need(
    ['mqtt', 'external'],
    config.mqtt.external !== undefined,
    'a cluster consumes from mqtt.external',
  )
  need(
    ['mqtt', 'broker', 'enabled'],
    !config.mqtt.broker.enabled,
    'a cluster consumes from mqtt.external: set mqtt.broker.enabled to false',
  )
  need(
    ['mqtt', 'subscribe'],
    config.mqtt.subscribe.length === 0,
    "a cluster subscribes to each partition's mapped topics: leave mqtt.subscribe empty",
  )
  need(
    ['live', 'redis'],
    config.live.redis !== undefined,
    'a cluster needs live.redis: the gateways share live events, alarm acts and user and NC changes over it',
  )
  // Sparkplug B groups and OPC-UA servers are allowed: each is a unit leased like a partition
  // (gateway/cluster/units.ts).
  return issues
}

/**
 * What the schema cannot check. When it refused parts of the file these run on the rest
 * (yaml-schema.ts), so a reference is looked up among the ids the file names (`inFile`): an
 * entry the schema refused is reported once, by the schema, not again as missing.
 */
function semanticIssues(config: Config, context?: SemanticContext): SemanticIssue[] {
  const whole = context?.whole ?? config
  const issues: SemanticIssue[] = [...cleanroomLimits(config, whole), ...clusterProblems(config)]
  const firstIndex = new Map<string, number>()
  const servers = idsInFile(whole, 'opcua', 'servers')

  unique(
    config.opcua.servers.map((s) => s.id),
    (i, id) =>
      issues.push({
        path: ['opcua', 'servers', i, 'id'],
        message: `duplicate OPC-UA server id "${id}"`,
      }),
  )
  unique(
    config.auth.tokens.map((t) => t.id),
    (i, id) =>
      issues.push({ path: ['auth', 'tokens', i, 'id'], message: `duplicate token id "${id}"` }),
  )
  config.characteristics.forEach((c, i) => {
    const seen = firstIndex.get(c.id)
    if (seen !== undefined) {
      issues.push({
        path: ['characteristics', i, 'id'],
        message: `duplicate id "${c.id}" (first at characteristics[${seen}])`,
      })
    } else firstIndex.set(c.id, i)
    for (const problem of alarmLimitProblems(c.limits)) {
      issues.push({ path: ['characteristics', i, 'limits'], message: problem })
    }
    for (const problem of validateChart(characteristicSpec(config, c).chart)) {
      issues.push({ path: ['characteristics', i, 'chart'], message: problem })
    }
    const window = c.chart.baselineWindow
    if (window && Date.parse(window.from) >= Date.parse(window.to)) {
      issues.push({
        path: ['characteristics', i, 'chart', 'baselineWindow'],
        message: 'from must be before to',
      })
    }
    const spec = c.specLimits
    if (spec?.lsl !== undefined && spec.usl !== undefined && spec.lsl >= spec.usl) {
      issues.push({
        path: ['characteristics', i, 'specLimits'],
        message: `lsl (${spec.lsl}) must be below usl (${spec.usl})`,
      })
    }
    for (const problem of alarmConfigProblems(config, c)) {
      issues.push({ path: ['characteristics', i, ...problem.path], message: problem.message })
    }
    if (c.source.opcua && !servers.has(c.source.opcua.server)) {
      issues.push({
        path: ['characteristics', i, 'source', 'opcua', 'server'],
        message: `no OPC-UA server "${c.source.opcua.server}" in opcua.servers`,
      })
    }
  })
  unique(
    config.characteristics.map((c) => c.source.mqtt?.topic),
    (i, topic) =>
      issues.push({
        path: ['characteristics', i, 'source', 'mqtt', 'topic'],
        message: `topic "${topic}" is mapped twice`,
      }),
  )
  unique(
    config.characteristics.map((c) =>
      c.source.opcua ? `${c.source.opcua.server} ${c.source.opcua.nodeId}` : undefined,
    ),
    (i) =>
      issues.push({
        path: ['characteristics', i, 'source', 'opcua', 'nodeId'],
        message: 'this node is mapped twice',
      }),
  )
  issues.push(...subscribedTopics(config, whole))
  issues.push(...alarmReferences(config, whole))
  issues.push(...mqttSecurityIssues(config))
  issues.push(...sparkplugConfigProblems(config))
  issues.push(...opcuaSecurityProblems(config))
  issues.push(...reportConfigIssues(config))
  if (
    config.store.timeseries === 'influxdb' &&
    !config.store.influxdb &&
    at(whole, 'store', 'influxdb') === undefined
  ) {
    issues.push({
      path: ['store', 'timeseries'],
      message: 'timeseries is influxdb but store.influxdb is not set',
    })
  }
  if (
    !config.mqtt.broker.enabled &&
    !config.mqtt.external &&
    config.characteristics.some((c) => c.source.mqtt)
  ) {
    issues.push({
      path: ['mqtt'],
      message: 'characteristics read MQTT but neither the embedded broker nor mqtt.external is on',
    })
  }
  return issues
}

/**
 * A particle counter of a cleanroom takes the room's action limit from EU GMP Annex 1 Table 5
 * (its grade, the monitored state, the particle size) as its actionHigh, unless the file sets a
 * stricter one; a looser one is refused. Filled in here, before the other checks see the limits.
 */
function cleanroomLimits(config: Config, whole: unknown): SemanticIssue[] {
  const issues: SemanticIssue[] = []
  const rooms = new Map(config.cleanrooms.map((r) => [r.id, r]))
  const roomsInFile = idsInFile(whole, 'cleanrooms')
  unique(
    config.cleanrooms.map((r) => r.id),
    (i, id) =>
      issues.push({ path: ['cleanrooms', i, 'id'], message: `duplicate cleanroom id "${id}"` }),
  )
  config.characteristics.forEach((c, i) => {
    if (!c.cleanroom) return
    const room = rooms.get(c.cleanroom.room)
    if (!room) {
      if (roomsInFile.has(c.cleanroom.room)) return // refused by the schema: reported there
      issues.push({
        path: ['characteristics', i, 'cleanroom', 'room'],
        message: `no cleanroom "${c.cleanroom.room}" in cleanrooms`,
      })
      return
    }
    const grade = room.grade as 'A' | 'B' | 'C' | 'D'
    const annex = annex1ActionLimit(grade, room.state, c.cleanroom.particleSize)
    const set = c.limits.actionHigh
    if (annex === null) {
      if (set === undefined)
        issues.push({
          path: ['characteristics', i, 'limits'],
          message: `EU GMP Annex 1 predetermines no limit for grade ${grade} ${room.state}: set limits.actionHigh`,
        })
      return
    }
    if (set === undefined) c.limits.actionHigh = annex
    else if (set > annex)
      issues.push({
        path: ['characteristics', i, 'limits', 'actionHigh'],
        message: `${set} is looser than EU GMP Annex 1 Table 5 for grade ${grade} ${room.state} at ≥${c.cleanroom.particleSize} µm (${annex} /m³)`,
      })
  })
  return issues
}

/** Plant states, suppression and alarm references must name what exists. */
function alarmReferences(config: Config, whole: unknown): SemanticIssue[] {
  const issues: SemanticIssue[] = []
  const characteristics = idsInFile(whole, 'characteristics')
  const states = idsInFile(whole, 'alarms', 'states')
  unique(
    config.alarms.states.map((s) => s.id),
    (i, id) =>
      issues.push({
        path: ['alarms', 'states', i, 'id'],
        message: `duplicate plant state "${id}"`,
      }),
  )
  config.alarms.states.forEach((s, i) => {
    if (s.when && !characteristics.has(s.when.characteristic))
      issues.push({
        path: ['alarms', 'states', i, 'when', 'characteristic'],
        message: `no characteristic "${s.when.characteristic}"`,
      })
    if (s.when && s.when.below === undefined && s.when.above === undefined)
      issues.push({ path: ['alarms', 'states', i, 'when'], message: 'set below or above' })
  })
  config.alarms.suppression.forEach((rule, i) => {
    if ('state' in rule.when && !states.has(rule.when.state))
      issues.push({
        path: ['alarms', 'suppression', i, 'when', 'state'],
        message: `no plant state "${rule.when.state}" in alarms.states`,
      })
    if ('alarm' in rule.when && !characteristics.has(rule.when.alarm.split(':')[0] as string))
      issues.push({
        path: ['alarms', 'suppression', i, 'when', 'alarm'],
        message: `no characteristic "${rule.when.alarm.split(':')[0]}"`,
      })
    rule.suppress.forEach((pattern, k) => {
      const ch = pattern.split(':')[0] as string
      if (ch !== '*' && !characteristics.has(ch))
        issues.push({
          path: ['alarms', 'suppression', i, 'suppress', k],
          message: `no characteristic "${ch}"`,
        })
    })
  })
  return issues
}

/**
 * With mqtt.external, `mqtt.subscribe` (when set) is what the gateway subscribes to on that
 * broker, instead of the mapped topics (sources/mqtt-client.ts): a mapped topic none of its
 * filters matches never arrives, and nothing would say so. The embedded broker takes the
 * mapped topics whatever `subscribe` says.
 */
function subscribedTopics(config: Config, whole: unknown): SemanticIssue[] {
  const filters = config.mqtt.subscribe
  if (!config.mqtt.external || filters.length === 0) return []
  const written = at(whole, 'mqtt', 'subscribe')
  // A filter the schema refused might have covered a topic: only the schema's problem is told.
  if (!Array.isArray(written) || written.length !== filters.length) return []
  const split = filters.map((f) => f.split('/'))
  const issues: SemanticIssue[] = []
  config.characteristics.forEach((c, i) => {
    const topic = c.source.mqtt?.topic
    if (topic === undefined || split.some((f) => topicMatches(f, topic))) return
    issues.push({
      path: ['characteristics', i, 'source', 'mqtt', 'topic'],
      message: `topic "${topic}" is outside mqtt.subscribe (${filters.join(', ')}): from mqtt.external the gateway subscribes to those filters only, so its readings would never arrive; add a filter that covers it`,
    })
  })
  return issues
}

/** The value at `path` in the file as written, or undefined. */
function at(whole: unknown, ...path: string[]): unknown {
  let node = whole
  for (const key of path)
    node =
      node !== null && typeof node === 'object' && !Array.isArray(node)
        ? (node as Record<string, unknown>)[key]
        : undefined
  return node
}

/** The ids of the entries of a list in the file as written, those the schema refused included. */
function idsInFile(whole: unknown, ...path: string[]): Set<string> {
  const list = at(whole, ...path)
  const ids = new Set<string>()
  if (Array.isArray(list))
    for (const entry of list) {
      const id = (entry as { id?: unknown } | null)?.id
      if (typeof id === 'string') ids.add(id)
    }
  return ids
}

/** Calls `onDuplicate` for every repeat of a defined value after its first occurrence. */
function unique(
  values: (string | undefined)[],
  onDuplicate: (index: number, value: string) => void,
): void {
  const seen = new Set<string>()
  values.forEach((v, i) => {
    if (v === undefined) return
    if (seen.has(v)) onDuplicate(i, v)
    seen.add(v)
  })
}

const SUBGROUPED: ReadonlySet<string> = new Set(['xbar-r', 'xbar-s'])

/** The pure rules' view of a characteristic, with the configuration's defaults applied. */
export function characteristicSpec(config: Config, c: CharacteristicConfig): CharacteristicSpec {
  const chart = c.chart
  const subgroup: Subgrouping =
    chart.subgroup?.size !== undefined
      ? { by: 'count', size: chart.subgroup.size }
      : chart.subgroup?.windowMs !== undefined
        ? { by: 'time', windowMs: chart.subgroup.windowMs }
        : chart.subgroup?.byKey
          ? { by: 'key' }
          : { by: 'count', size: SUBGROUPED.has(chart.type) ? 5 : 1 }
  const window = chart.baselineWindow
  return {
    chart: {
      type: chart.type,
      subgroup,
      baseline: window
        ? { from: Date.parse(window.from), to: Date.parse(window.to) }
        : { subgroups: chart.baselineCount ?? config.spc.baselineCount },
      excludeOutOfControl: chart.excludeOutOfControl,
      given: chart.given,
      sigmaMethod: chart.sigmaMethod as SigmaMethod | undefined,
      rules: chart.rules ?? config.spc.rules,
      runLengths: chart.runLengths,
      ewma: chart.ewma,
      cusum: chart.cusum ? { ...CUSUM_DEFAULTS, ...chart.cusum } : undefined,
    },
    limits: c.limits,
    specLimits: c.specLimits,
    capability: {
      threshold: c.capability?.threshold ?? config.spc.capability.threshold,
      minReadings: c.capability?.minReadings ?? config.spc.capability.minReadings,
    },
  }
}
