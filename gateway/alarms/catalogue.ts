import {
  type AlarmCondition,
  type AlarmDelay,
  type AlarmPriority,
  type AlarmSettings,
  alarmSettingsProblems,
  isSpcSignal,
  type ThresholdSettings,
} from '../../rules/index.ts'
import type { CharacteristicConfig, Config } from '../config/index.ts'

/**
 * The alarms a configuration defines, worked out once at start (pure: configuration in,
 * definitions out). Per characteristic: HH, H, L, LL where it has the action and alert
 * limits; comm-loss always; target, rate and stale where set; one alarm per SPC signal it
 * judges (or those listed in `alarms.spc`). A condition's settings are its own, else the
 * characteristic's, else the plant's (`alarms`).
 */
export interface AlarmDefinition {
  /** `characteristic:condition` */
  id: string
  characteristic: string
  condition: AlarmCondition
  priority: AlarmPriority
  area: string
  settings: AlarmSettings
  /** Its activation opens a nonconformance (nonconformance.openOn, characteristics[].openNcOn). */
  opensNc: boolean
}

type Tuning = {
  deadband?: ThresholdSettings['deadband']
  onDelay?: AlarmDelay | undefined
  offDelay?: AlarmDelay | undefined
  reAlarmMinutes?: number | undefined
}

/** The names NCs have used for the limit conditions, and the conditions they are. */
const LEGACY_CAUSES: Record<string, AlarmCondition> = {
  'action-high': 'HH',
  'action-low': 'LL',
  'alert-high': 'H',
  'alert-low': 'L',
}

export function conditionOf(name: string): AlarmCondition {
  return LEGACY_CAUSES[name] ?? (name as AlarmCondition)
}

/** The conditions whose alarm opens a nonconformance for this characteristic. */
export function ncConditions(config: Config, c: CharacteristicConfig): Set<AlarmCondition> {
  return new Set((c.openNcOn ?? config.nonconformance.openOn).map(conditionOf))
}

/** The operator position: the ISA-95 path cut after `level` levels, unless the characteristic names one. */
export function areaOf(config: Config, c: CharacteristicConfig): string {
  return c.alarms?.area ?? c.path.split('/').slice(0, config.alarms.areaLevel).join('/')
}

const LIMIT_OF: Record<'HH' | 'H' | 'L' | 'LL', keyof CharacteristicConfig['limits']> = {
  HH: 'actionHigh',
  H: 'alertHigh',
  L: 'alertLow',
  LL: 'actionLow',
}

/** A ≥ 5 µm particle counter of a grade A room: Annex 1's rule for its counts applies. */
export function gradeA5um(config: Config, c: CharacteristicConfig): boolean {
  const room = c.cleanroom && config.cleanrooms.find((r) => r.id === c.cleanroom?.room)
  return room?.grade === 'A' && c.cleanroom?.particleSize === 5
}

/** The SPC signals a characteristic's chart can give. */
function chartSignals(config: Config, c: CharacteristicConfig): AlarmCondition[] {
  const rules = c.chart.rules ?? config.spc.rules
  return c.chart.type === 'cusum' ? ['cusum-upper', 'cusum-lower', ...rules] : [...rules]
}

/** The conditions a characteristic's configuration asks for, in order, with their thresholds. */
function wanted(
  config: Config,
  c: CharacteristicConfig,
): { condition: AlarmCondition; threshold?: number; enabled: boolean }[] {
  const own = c.alarms
  const out: { condition: AlarmCondition; threshold?: number }[] = []
  for (const level of ['HH', 'H', 'L', 'LL'] as const) {
    const limit = c.limits[LIMIT_OF[level]]
    if (limit !== undefined) out.push({ condition: level, threshold: limit })
  }
  if (own?.target) out.push({ condition: 'target', threshold: own.target.maxDeviation })
  if (own?.rate) out.push({ condition: 'rate', threshold: own.rate.maxPerMinute })
  if ((own?.staleAfterMs ?? config.alarms.staleAfterMs) !== undefined)
    out.push({ condition: 'stale' })
  out.push({ condition: 'comm-loss' })
  if (gradeA5um(config, c)) out.push({ condition: 'grade-a-5um' })
  for (const signal of own?.spc ?? chartSignals(config, c)) out.push({ condition: signal })
  return out.map((w) => ({
    ...w,
    enabled:
      (own?.conditions?.[w.condition] as { enabled?: boolean } | undefined)?.enabled !== false,
  }))
}

/** The conditions of a characteristic's alarms, in order (what alarmDefinitions defines). */
export function alarmConditions(config: Config, c: CharacteristicConfig): AlarmCondition[] {
  return wanted(config, c).flatMap((w) => (w.enabled ? [w.condition] : []))
}

/** The alarms of a characteristic (or only the one of condition `only`). */
export function alarmDefinitions(
  config: Config,
  c: CharacteristicConfig,
  only?: AlarmCondition,
): AlarmDefinition[] {
  const own = c.alarms
  const area = areaOf(config, c)
  const opens = ncConditions(config, c)
  const out: AlarmDefinition[] = []
  for (const { condition, threshold, enabled } of wanted(config, c)) {
    if (!enabled || (only !== undefined && condition !== only)) continue
    const mine = own?.conditions?.[condition] as
      | (Tuning & { enabled?: boolean; priority?: AlarmPriority })
      | undefined
    const tuning: Tuning = { ...pick(config.alarms), ...pick(own ?? {}), ...pick(mine ?? {}) }
    const priorityKey = isSpcSignal(condition) ? 'spc' : condition
    const settings: AlarmSettings = {
      condition,
      priority: mine?.priority ?? config.alarms.priorities[priorityKey as 'spc'],
      threshold:
        condition === 'stale'
          ? undefined
          : {
              threshold: threshold ?? 0,
              deadband: tuning.deadband,
              onDelay: tuning.onDelay,
              offDelay: tuning.offDelay,
            },
      target: own?.target?.value,
      rateWindowMs: own?.rate?.windowMs,
      staleAfterMs: own?.staleAfterMs ?? config.alarms.staleAfterMs,
      reAlarmMs: tuning.reAlarmMinutes === undefined ? undefined : tuning.reAlarmMinutes * 60_000,
    }
    out.push({
      id: `${c.id}:${condition}`,
      characteristic: c.id,
      condition,
      priority: settings.priority,
      area,
      settings,
      opensNc: opens.has(condition),
    })
  }
  return out
}

function pick(t: Tuning): Tuning {
  const out: Tuning = {}
  if (t.deadband !== undefined) out.deadband = t.deadband
  if (t.onDelay !== undefined) out.onDelay = t.onDelay
  if (t.offDelay !== undefined) out.offDelay = t.offDelay
  if (t.reAlarmMinutes !== undefined) out.reAlarmMinutes = t.reAlarmMinutes
  return out
}

/** What is wrong with a characteristic's alarm settings, for the configuration check. */
export function alarmConfigProblems(
  config: Config,
  c: CharacteristicConfig,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = []
  const signals = new Set(chartSignals(config, c))
  for (const signal of c.alarms?.spc ?? []) {
    if (!signals.has(signal))
      problems.push({
        path: ['alarms', 'spc'],
        message: `${signal} is not judged by this chart (its rules: ${[...signals].join(', ') || 'none'})`,
      })
  }
  for (const d of alarmDefinitions(config, c)) {
    for (const message of alarmSettingsProblems(d.settings))
      problems.push({ path: ['alarms', 'conditions', d.condition], message })
  }
  return problems
}

/**
 * Suppression by design, resolved: for each suppressing thing (a plant state `state:ID`, or an
 * alarm id), the alarms it suppresses. Patterns `char:*`, `*:cond` and `*:*` are expanded over
 * the defined alarms. Built in: a characteristic's comm-loss alarm suppresses its stale alarm
 * (the silence has a known cause).
 */
export function suppressionMap(
  config: Config,
  definitions: readonly Pick<AlarmDefinition, 'id' | 'characteristic' | 'condition'>[],
): Map<string, { targets: string[]; why: string }> {
  const map = new Map<string, { targets: string[]; why: string }>()
  // The targets already listed per key: a pattern like `*:stale` names one alarm per
  // characteristic, and `targets.includes` made that quadratic.
  const listed = new Map<string, Set<string>>()
  const add = (key: string, why: string, targets: string[]) => {
    const entry = map.get(key) ?? { targets: [], why }
    let seen = listed.get(key)
    if (!seen) {
      seen = new Set()
      listed.set(key, seen)
    }
    for (const t of targets) {
      if (seen.has(t) || t === key) continue
      seen.add(t)
      entry.targets.push(t)
    }
    map.set(key, entry)
  }
  const names = new Map(config.alarms.states.map((s) => [s.id, s.name]))
  for (const rule of config.alarms.suppression) {
    const key = 'state' in rule.when ? `state:${rule.when.state}` : rule.when.alarm
    const why =
      'state' in rule.when
        ? `suppressed by design: ${names.get(rule.when.state) ?? rule.when.state}`
        : `suppressed by design: ${rule.when.alarm} is active`
    const targets = definitions
      .filter((d) =>
        rule.suppress.some((pattern) => {
          const [ch, cond] = pattern.split(':') as [string, string]
          return (ch === '*' || ch === d.characteristic) && (cond === '*' || cond === d.condition)
        }),
      )
      .map((d) => d.id)
    add(key, why, targets)
  }
  const ids = new Set(definitions.map((d) => d.id))
  for (const d of definitions) {
    if (d.condition !== 'comm-loss') continue
    const stale = `${d.characteristic}:stale`
    if (ids.has(stale)) add(d.id, 'suppressed by design: communication is lost', [stale])
  }
  return map
}
