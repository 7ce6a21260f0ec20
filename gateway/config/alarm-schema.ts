import Type, { type TSchema } from 'typebox'
import { ALARM_PRIORITIES } from '../../rules/alarms/types.ts'
import { NELSON_RULES, WESTERN_ELECTRIC_RULES } from '../../rules/index.ts'

/**
 * The alarm parts of the configuration schema (schema.ts assembles them): plant-wide defaults
 * under `alarms`, a characteristic's own settings under `characteristics[].alarms`, and the
 * cleanrooms of the GMP profile.
 */

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 128 })

export const LIMIT_CONDITIONS = ['HH', 'H', 'L', 'LL'] as const
export const SPC_CONDITIONS = [
  ...NELSON_RULES,
  ...WESTERN_ELECTRIC_RULES,
  'cusum-upper',
  'cusum-lower',
] as const
export const CONDITIONS = [
  ...LIMIT_CONDITIONS,
  'target',
  'rate',
  'stale',
  'comm-loss',
  ...SPC_CONDITIONS,
  'grade-a-5um',
] as const

const Priority = Type.Union(
  ALARM_PRIORITIES.map((p) => Type.Literal(p)),
  { description: 'critical, high, medium or low (ISA-18.2: the urgency of the response).' },
)

const Delay = Type.Union(
  [
    Type.Object(
      { ms: Type.Integer({ minimum: 0, description: 'The condition must hold this long.' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        readings: Type.Integer({
          minimum: 1,
          maximum: 1000,
          description: 'The condition must hold for this many readings in a row.',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'A delay in time ({ms}) or in consecutive readings ({readings}).' },
)

const Deadband = Type.Union(
  [
    Type.Object({ units: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
    Type.Object(
      { percent: Type.Number({ minimum: 0, maximum: 100 }) },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'Hysteresis: an active limit, target or rate alarm clears only once the value is back inside the threshold by this much (in the unit of the characteristic, or a percentage of the threshold).',
  },
)

/** What every condition may set; a characteristic's settings win over the plant's defaults. */
const tuning = {
  deadband: Type.Optional(Deadband),
  onDelay: Type.Optional(
    Type.Union([Delay], {
      description: 'ISA-18.2 on-delay: how long the condition must hold before the alarm sounds.',
    }),
  ),
  offDelay: Type.Optional(
    Type.Union([Delay], {
      description: 'ISA-18.2 off-delay: how long it must stay clear before the alarm clears.',
    }),
  ),
  reAlarmMinutes: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      description:
        'An acknowledged alarm still active this long after its acknowledgement is announced again (unacknowledged).',
    }),
  ),
}

const ConditionSettings = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'false: no alarm for this condition.' })),
    priority: Type.Optional(Priority),
    ...tuning,
  },
  { additionalProperties: false },
)

export const CharacteristicAlarms = Type.Object(
  {
    area: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'The operator position (default: the path cut at alarms.areaLevel).',
      }),
    ),
    ...tuning,
    target: Type.Optional(
      Type.Object(
        {
          value: Type.Number(),
          maxDeviation: Type.Number({
            exclusiveMinimum: 0,
            description: 'Alarm when |value − target| exceeds this.',
          }),
        },
        { additionalProperties: false, description: 'Deviation-from-target alarm.' },
      ),
    ),
    rate: Type.Optional(
      Type.Object(
        {
          maxPerMinute: Type.Number({
            exclusiveMinimum: 0,
            description: 'Alarm when the value changes faster than this per minute (either way).',
          }),
          windowMs: Type.Integer({
            minimum: 1000,
            default: 60000,
            description: 'The window the rate is measured over.',
          }),
        },
        { additionalProperties: false, description: 'Rate-of-change alarm.' },
      ),
    ),
    staleAfterMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        description: 'Alarm when no reading arrives for this long (default: alarms.staleAfterMs).',
      }),
    ),
    spc: Type.Optional(
      Type.Array(Type.Union(SPC_CONDITIONS.map((c) => Type.Literal(c))), {
        uniqueItems: true,
        description:
          "SPC signals that raise alarms (default: every rule the chart judges, and a CUSUM chart's two sides; [] for none).",
      }),
    ),
    conditions: Type.Optional(
      Type.Object(
        Object.fromEntries(CONDITIONS.map((c) => [c, Type.Optional(ConditionSettings)])) as Record<
          string,
          TSchema
        >,
        {
          additionalProperties: false,
          description:
            'Settings of single conditions (HH, H, L, LL, target, rate, stale, comm-loss, N1…WE4, cusum-upper, cusum-lower): enabled, priority and the tuning above.',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Alarms of this characteristic. HH, H, L and LL follow its action and alert limits; comm-loss is on for every characteristic; target, rate and stale when set here.',
  },
)

const SuppressWhen = Type.Union(
  [
    Type.Object(
      { state: Id },
      { additionalProperties: false, description: 'While this plant state holds.' },
    ),
    Type.Object(
      {
        alarm: Type.String({
          pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9-]+$',
          description: 'While this alarm (characteristic:condition) is active.',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'What suppresses: a plant state, or another alarm being active.' },
)

const PlantState = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    when: Type.Optional(
      Type.Object(
        {
          characteristic: Id,
          below: Type.Optional(Type.Number()),
          above: Type.Optional(Type.Number()),
        },
        {
          additionalProperties: false,
          description:
            "Holds while the characteristic's latest reading is below (or above) the value. Without `when`, an operator sets the state (PUT /api/plant-states/:id).",
        },
      ),
    ),
  },
  { additionalProperties: false },
)

export const AlarmsConfig = Type.Object(
  {
    areaLevel: Type.Integer({
      minimum: 1,
      maximum: 4,
      default: 2,
      description:
        "The operator position an alarm belongs to: the characteristic's path cut after this many levels (1 site, 2 area, 3 line, 4 cell).",
    }),
    priorities: Type.Object(
      {
        HH: Type.Union([Priority], { default: 'high' }),
        H: Type.Union([Priority], { default: 'medium' }),
        L: Type.Union([Priority], { default: 'medium' }),
        LL: Type.Union([Priority], { default: 'high' }),
        target: Type.Union([Priority], { default: 'medium' }),
        rate: Type.Union([Priority], { default: 'medium' }),
        stale: Type.Union([Priority], { default: 'medium' }),
        'comm-loss': Type.Union([Priority], { default: 'high' }),
        'grade-a-5um': Type.Union([Priority], {
          default: 'high',
          description:
            'Consecutive or regular ≥ 5 µm counts in a grade A room (EU GMP Annex 1 Table 5, note 2).',
        }),
        spc: Type.Union([Priority], {
          default: 'low',
          description: 'Every SPC signal (run rules, CUSUM).',
        }),
      },
      { additionalProperties: false, default: {}, description: 'Priority per condition type.' },
    ),
    ...tuning,
    staleAfterMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        description: 'A stale alarm for every characteristic (default: only where set).',
      }),
    ),
    maxShelveMinutes: Type.Integer({
      minimum: 1,
      maximum: 7 * 24 * 60,
      default: 480,
      description:
        'The longest an operator may shelve an alarm (ISA-18.2: shelving is time-limited). The alarm returns by itself after the time asked for.',
    }),
    states: Type.Array(PlantState, {
      default: [],
      description: 'Plant states (line stopped, cleanroom at rest) that suppress alarms.',
    }),
    suppression: Type.Array(
      Type.Object(
        {
          when: SuppressWhen,
          suppress: Type.Array(
            Type.String({
              pattern: '^([A-Za-z0-9][A-Za-z0-9._-]*|\\*):([A-Za-z0-9-]+|\\*)$',
              description: 'characteristic:condition; * for any characteristic or condition.',
            }),
            { minItems: 1 },
          ),
        },
        { additionalProperties: false },
      ),
      {
        default: [],
        description:
          'Suppression by design (ISA-18.2 state F): while `when` holds, the named alarms are suppressed.',
      },
    ),
    history: Type.Object(
      {
        maxAgeDays: Type.Number({ exclusiveMinimum: 0, default: 400 }),
        maxEvents: Type.Integer({ minimum: 1000, default: 1000000 }),
      },
      {
        additionalProperties: false,
        default: {},
        description:
          'Alarm transitions kept in records.db (the oldest go first): the KPIs and the history read them.',
      },
    ),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Alarm management after ISA-18.2 (docs/alarms.md).',
  },
)

export const Cleanroom = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    grade: Type.Union(
      ['A', 'B', 'C', 'D'].map((g) => Type.Literal(g)),
      { description: 'EU GMP Annex 1 grade.' },
    ),
    state: Type.Union([Type.Literal('at-rest'), Type.Literal('in-operation')], {
      default: 'in-operation',
      description:
        "The occupancy state monitored: the particle action limits are Annex 1's for the grade in this state.",
    }),
    areaM2: Type.Number({
      exclusiveMinimum: 0,
      description: 'Floor area, for the number of sampling locations (ISO 14644-1 Table A.1).',
    }),
  },
  { additionalProperties: false },
)

export const CleanroomLocation = Type.Object(
  {
    room: Id,
    location: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'The sampling location in the room (ISO 14644-1 classifies by location).',
    }),
    particleSize: Type.Union([Type.Literal(0.5), Type.Literal(5)], {
      description:
        "Particles ≥ this size (µm) per m³: the action limit (HH) is Annex 1's for the room's grade and state, unless limits.actionHigh is stricter.",
    }),
  },
  {
    additionalProperties: false,
    description: 'This characteristic is a particle count of a cleanroom location.',
  },
)
