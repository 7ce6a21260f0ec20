import Type, { type TSchema } from 'typebox'
import { ALARM_PRIORITIES, ALARM_STATES } from '../../rules/index.ts'
import { NC_STATUSES } from '../../rules/quality/nc-workflow.ts'
import { REJECT_REASONS } from '../sources/status.ts'

/**
 * The response schemas of the API routes, for the OpenAPI document (GET /api/openapi.json):
 * the payloads declared in contract.ts, as JSON Schema. They document and do not serialize
 * (gateway/api/openapi.ts): a property left out here is still sent. Large payloads are given
 * with their top-level properties and types, nested records more loosely; test/openapi.test.ts
 * checks real answers of a running gateway against them.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Enum = (values: readonly string[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  )
/** An object whose properties are not listed here (see contract.ts). */
const Loose = (description: string) => Type.Object({}, { additionalProperties: true, description })
const Ms = (description = 'UTC milliseconds since the epoch') => Type.Number({ description })
const Reading = Type.Object({ ts: Ms(), value: Type.Number() })

/** An answer described in prose, for `response: { 200: … }`. */
const describe = <T extends TSchema>(description: string, schema: T) => ({
  ...schema,
  description,
})

export const ApiErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
})

/** 204: nothing in the body. */
export const NoContent = { description: 'Done; no body.', type: 'null' } as const

const SourceStatus = Type.Object({
  name: Type.String(),
  kind: Enum(['mqtt-broker', 'mqtt-client', 'opcua', 'sparkplug']),
  connected: Type.Boolean(),
  detail: Type.Optional(Type.String()),
  received: Type.Integer({ description: 'Messages received since start, accepted or not.' }),
  counts: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  sparkplug: Type.Optional(Loose('The Sparkplug host: its edge nodes with their counters.')),
})

const StoreStatus = Type.Object({
  kind: Enum(['sqlite', 'influxdb']),
  healthy: Type.Boolean(),
  pending: Type.Integer(),
  spooled: Type.Integer(),
  written: Type.Integer(),
  rejected: Type.Optional(Type.Integer()),
  dropped: Type.Optional(Type.Integer()),
  retentionDeleted: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String()),
})

const RejectCounts = Type.Object(
  Object.fromEntries(REJECT_REASONS.map((r) => [r, Type.Integer()])),
  { description: 'Per reject reason.' },
)

export const HealthSchema = describe(
  'The gateway’s health: ok, or degraded while a source is disconnected, the store refuses writes or internal errors are recent.',
  Type.Object({
    status: Enum(['ok', 'degraded']),
    version: Type.String(),
    bootId: Type.String(),
    startedAt: Type.String({ format: 'date-time' }),
    sources: Type.Array(SourceStatus),
    store: StoreStatus,
    records: Type.Optional(
      Type.Object({
        pending: Type.Integer(),
        committed: Type.Integer(),
        commits: Type.Integer(),
        dropped: Type.Integer(),
        skipped: Type.Integer(),
        lastError: Type.Optional(Type.String()),
      }),
    ),
    counters: Type.Object({
      readings: Type.Integer(),
      rejected: RejectCounts,
      prunedDeadLetters: Type.Integer(),
    }),
    errors: Type.Object({
      total: Type.Integer(),
      recent: Type.Integer(),
      windowMs: Type.Integer(),
    }),
    live: Type.Optional(
      Type.Object({
        clients: Type.Integer(),
        dropped: Type.Integer(),
        redis: Type.Optional(Type.Boolean()),
      }),
    ),
    cluster: Type.Optional(
      Type.Object({
        gateway: Type.String(),
        partitions: Type.Integer(),
        held: Type.Array(Type.Integer()),
        characteristics: Type.Integer(),
        notOwned: Type.Integer(),
      }),
    ),
  }),
)

const Role = Enum(['viewer', 'operator', 'quality-engineer', 'quality-manager', 'admin'])
const UserRef = Type.Object({ name: Type.String(), printedName: Type.String() })

export const SessionSchema = describe(
  'Who the token is: its role, the configured token’s id or the signed-in user.',
  Type.Object({
    title: Type.String(),
    bootId: Type.String(),
    role: Role,
    tokenId: Nullable(Type.String()),
    user: Nullable(UserRef),
    maxShelveMinutes: Type.Number(),
    shiftStarts: Type.Array(Type.Number()),
  }),
)

const PaneLines = Type.Object({
  center: Type.Number(),
  lcl: Nullable(Type.Number()),
  ucl: Nullable(Type.Number()),
  sigma: Type.Optional(Nullable(Type.Number())),
})

const ControlLimits = Type.Object({
  center: Type.Number(),
  sigma: Type.Number(),
  basis: Type.Object(
    { kind: Enum(['estimated', 'given']) },
    {
      additionalProperties: true,
      description:
        'Given, or estimated from the baseline (count, excluded, firstTs, lastTs, method).',
    },
  ),
  panes: Type.Record(Type.String(), PaneLines),
})

const NumberOrNull = Nullable(Type.Number())

const Capability = Type.Object(
  Object.fromEntries(
    [
      'lsl',
      'usl',
      'target',
      'sigmaWithin',
      'sigmaOverall',
      'cp',
      'cpk',
      'cpl',
      'cpu',
      'cpm',
      'pp',
      'ppk',
      'ppl',
      'ppu',
      'expectedPpm',
      'expectedPpmWithin',
      'observedPpm',
      'cpLower95',
      'cpUpper95',
      'cpkLower95',
      'cpkUpper95',
    ].map((k) => [k, NumberOrNull]),
  ),
  {
    description:
      'Cp, Cpk, Cpl, Cpu, Cpm (σ within), Pp, Ppk, Ppl, Ppu (σ overall), expected and observed PPM, 95% bounds of Cp and Cpk; null where the specification does not define it. Also n and mean.',
  },
)

const LiveState = Type.Object({
  status: Type.String({ description: 'ok, alert, action, spc, stale, … (the tile’s colour).' }),
  rules: Type.Array(Type.String()),
  last: Nullable(Reading),
  baseline: Nullable(Type.Object({ have: Type.Integer(), need: Nullable(Type.Integer()) })),
  openNcs: Type.Integer(),
})

export const CharacteristicSchema = describe(
  'A characteristic with its binding, limits, chart, capability and live state.',
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    path: Type.String(),
    hierarchy: Type.Object({
      site: Type.String(),
      area: Nullable(Type.String()),
      line: Nullable(Type.String()),
      cell: Nullable(Type.String()),
    }),
    unit: Type.String(),
    decimals: Type.Integer(),
    source: Type.Object(
      { kind: Enum(['mqtt', 'opcua', 'sparkplug']) },
      {
        additionalProperties: true,
        description: 'mqtt: topic; opcua: server, nodeId; sparkplug: group, node, device, metric.',
      },
    ),
    limits: Loose('Alarm limits: actionLow (LL), alertLow (L), alertHigh (H), actionHigh (HH).'),
    chart: Type.Object({
      type: Type.String({ description: 'imr, xbar-r, xbar-s, p, np, c, u, ewma, cusum' }),
      subgroup: Loose('How readings form subgroups (by count, by key, by time).'),
      panes: Type.Array(Type.String()),
      baseline: Type.Union([
        Type.Object({ count: Type.Integer() }),
        Type.Object({ from: Ms(), to: Ms() }),
      ]),
      rules: Type.Array(Type.String()),
      control: Nullable(ControlLimits),
    }),
    specLimits: Nullable(
      Type.Object({ lsl: NumberOrNull, usl: NumberOrNull, target: NumberOrNull }),
    ),
    capability: Nullable(Capability),
    capabilityVerdict: Nullable(Loose('Whether the indices may be read as a prediction, and why.')),
    state: LiveState,
  }),
)

export const CharacteristicsSchema = describe(
  'Every configured characteristic.',
  Type.Array(CharacteristicSchema),
)

export const ReadingsSchema = describe(
  'Stored readings in the range, oldest first.',
  Type.Object({
    characteristic: Type.String(),
    from: Ms(),
    to: Ms(),
    readings: Type.Array(Reading),
  }),
)

const ChartPoint = Type.Object({
  index: Type.Integer(),
  ts: Ms(),
  phase: Enum(['baseline', 'monitor']),
  n: Type.Integer(),
  panes: Type.Record(
    Type.String(),
    Type.Object(
      { statistic: NumberOrNull, center: NumberOrNull, lcl: NumberOrNull, ucl: NumberOrNull },
      { additionalProperties: true },
    ),
  ),
  rules: Type.Array(Type.String()),
})

export const ChartSchema = describe(
  'Chart points with each pane’s statistic and limits, and the rules each completed.',
  Type.Object({ characteristic: Type.String(), points: Type.Array(ChartPoint) }),
)

export const DeadLettersSchema = describe(
  'Refused messages (newest first) and the counts per reason.',
  Type.Object({
    counts: RejectCounts,
    pruned: Type.Integer(),
    stored: Type.Object({ count: Type.Integer(), bytes: Type.Integer() }),
    caps: Type.Object({ maxCount: Type.Integer(), maxBytes: Type.Integer() }),
    items: Type.Array(
      Type.Object({
        id: Type.Integer(),
        ts: Ms(),
        source: Type.String(),
        reason: Enum(REJECT_REASONS),
        detail: Type.String(),
        address: Nullable(Type.String()),
        size: Type.Integer(),
        payloadText: Nullable(Type.String()),
        payloadBase64: Type.String(),
      }),
    ),
  }),
)

export const LimitChangeSchema = describe(
  'A recorded change of a chart’s limits: who, when, why, before and after.',
  Type.Object({
    id: Type.Integer(),
    characteristic: Type.String(),
    ts: Ms(),
    action: Enum(['restart', 'end-baseline', 'configuration']),
    reason: Type.String(),
    actor: Nullable(Type.String()),
    before: Nullable(ControlLimits),
    after: Nullable(ControlLimits),
  }),
)

export const LimitChangesSchema = describe(
  'The record of every change of the chart’s limits, newest first.',
  Type.Array(LimitChangeSchema),
)

// ——— alarms ———

const AlarmState = Enum(ALARM_STATES)
const AlarmPriority = Enum(ALARM_PRIORITIES)

export const AlarmSchema = describe(
  'An alarm: a characteristic and a condition, its ISA-18.2 state and priority.',
  Type.Object({
    id: Type.String({ description: 'characteristic:condition' }),
    characteristic: Type.String(),
    characteristicName: Type.String(),
    area: Type.String(),
    condition: Type.String(),
    priority: AlarmPriority,
    state: AlarmState,
    active: Type.Boolean(),
    acknowledged: Type.Boolean(),
    activeSince: Nullable(Ms()),
    since: Ms(),
    value: NumberOrNull,
    limit: NumberOrNull,
    unit: Type.String(),
    decimals: Type.Integer(),
    shelvedUntil: Nullable(Ms()),
    shelvedBy: Nullable(Type.String()),
    shelveReason: Nullable(Type.String()),
    message: Type.String(),
  }),
)

export const AlarmsSchema = describe(
  'Alarms, highest priority first, then the newest.',
  Type.Array(AlarmSchema),
)

export const AlarmCountsSchema = describe(
  'Per priority: alarms active, and those waiting for an acknowledgement.',
  Type.Object(
    Object.fromEntries(
      ALARM_PRIORITIES.map((p) => [
        p,
        Type.Object({ active: Type.Integer(), unacknowledged: Type.Integer() }),
      ]),
    ),
  ),
)

export const AlarmAreasSchema = describe(
  'The operator positions (ISA-95 areas) alarms belong to, sorted.',
  Type.Array(Type.String()),
)

export const AlarmHistorySchema = describe(
  'The alarm’s transitions, newest first, with who and why.',
  Type.Array(
    Type.Object({
      id: Type.Integer(),
      alarm: Type.String(),
      at: Ms(),
      from: AlarmState,
      to: AlarmState,
      by: Nullable(Type.String()),
      why: Type.String(),
      value: NumberOrNull,
    }),
  ),
)

export const AcknowledgedSchema = describe(
  'The alarms acknowledged, and those refused with the reason.',
  Type.Object({
    acknowledged: Type.Array(AlarmSchema),
    refused: Type.Array(Type.Object({ id: Type.String(), reason: Type.String() })),
  }),
)

export const AlarmKpisSchema = describe(
  'Alarm-system health per area (EEMUA 191, ISA-18.2 clause 16).',
  Type.Object({
    from: Ms(),
    to: Ms(),
    areas: Type.Array(
      Type.Object({
        area: Type.String(),
        alarms: Type.Integer(),
        per10Minutes: Type.Object({ mean: Type.Number(), max: Type.Number() }),
        floodPercent: Type.Number(),
        standing: Type.Array(Type.String()),
        chattering: Type.Array(Type.String()),
        badActors: Type.Array(Type.Object({ alarm: Type.String(), activations: Type.Integer() })),
        priorities: Type.Record(Type.String(), Type.Number()),
        meanTimeToAcknowledgeMs: NumberOrNull,
      }),
    ),
  }),
)

export const PlantStateSchema = describe(
  'A plant state that suppresses alarms by design.',
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    active: Type.Boolean(),
    since: Nullable(Ms()),
    by: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    manual: Type.Boolean(),
  }),
)

export const PlantStatesSchema = describe('Every plant state.', Type.Array(PlantStateSchema))

// ——— cleanrooms ———

const Cleanroom = Type.Object({
  id: Type.String(),
  name: Type.String(),
  grade: Type.String({ description: 'EU GMP Annex 1 grade A–D.' }),
  state: Type.String({ description: 'at-rest or in-operation.' }),
  areaM2: Type.Number(),
  counters: Type.Array(
    Type.Object({
      characteristic: Type.String(),
      location: Type.String(),
      particleSize: Type.Number({ description: 'µm: 0.5 or 5' }),
      actionLimit: NumberOrNull,
      annex1ActionLimit: NumberOrNull,
    }),
  ),
})

export const CleanroomsSchema = describe(
  'Cleanrooms with their counters and Annex 1 limits.',
  Type.Array(Cleanroom),
)

export const ClassificationSchema = describe(
  'A room’s ISO 14644-1 classification from its counters’ readings in the range.',
  Type.Object({
    room: Cleanroom,
    from: Ms(),
    to: Ms(),
    samples: Type.Integer(),
    classification: Loose('The ISO 14644-1:2015 verdict per particle size and location.'),
  }),
)

// ——— Sparkplug ———

const SparkplugMetric = Type.Object({
  name: Type.String(),
  alias: Nullable(Type.Integer()),
  datatype: Type.String(),
  unit: Nullable(Type.String()),
  staleSince: Nullable(Type.String()),
  characteristic: Nullable(Type.String()),
  entry: Nullable(Loose('A characteristic entry to paste under `characteristics:`.')),
})

export const SparkplugNodesSchema = describe(
  'The Sparkplug edge nodes and devices as their births announced them.',
  Type.Object({
    enabled: Type.Boolean(),
    hostId: Nullable(Type.String()),
    connected: Type.Boolean(),
    nodes: Type.Array(
      Type.Object({
        group: Type.String(),
        node: Type.String(),
        online: Type.Boolean(),
        bdSeq: Nullable(Type.Integer()),
        birthAt: Nullable(Type.String()),
        deathAt: Nullable(Type.String()),
        rebirths: Type.Integer(),
        metrics: Type.Array(SparkplugMetric),
        devices: Type.Array(
          Type.Object({
            device: Type.String(),
            online: Type.Boolean(),
            birthAt: Nullable(Type.String()),
            deathAt: Nullable(Type.String()),
            metrics: Type.Array(SparkplugMetric),
          }),
        ),
      }),
    ),
  }),
)

// ——— the quality loop ———

export const UserSchema = describe(
  'A user (never its password hash).',
  Type.Object({
    name: Type.String(),
    printedName: Type.String(),
    role: Role,
    disabled: Type.Boolean(),
    createdAt: Ms(),
    passwordChangedAt: Ms(),
    lockedUntil: Nullable(Ms()),
  }),
)

export const UsersSchema = describe('Every user.', Type.Array(UserSchema))

export const SignInSchema = describe(
  'A session: its token is a bearer token until it expires.',
  Type.Object({ token: Type.String(), expiresAt: Ms(), user: UserSchema }),
)

const NcStatus = Enum(NC_STATUSES)

const NcSummaryProperties = {
  id: Type.Integer(),
  number: Type.String({ description: 'e.g. NC-000042' }),
  characteristic: Type.String(),
  characteristicName: Type.String(),
  path: Type.String(),
  cause: Type.String(),
  causes: Type.Array(Type.String()),
  title: Type.String(),
  status: NcStatus,
  recurrenceOf: Nullable(Type.Integer()),
  openedAt: Ms(),
  lastAt: Ms(),
  occurrences: Type.Integer(),
  trigger: Type.Object({
    ts: Ms(),
    value: Type.Number(),
    limit: NumberOrNull,
    rule: Nullable(Type.String()),
    pane: Nullable(Type.String()),
    runLength: Nullable(Type.Integer()),
  }),
}

export const NcSummarySchema = Type.Object({
  ...NcSummaryProperties,
  workflow: Type.Object({
    status: NcStatus,
    severity: Nullable(Type.String()),
    owner: Nullable(Type.String()),
    dueAt: Nullable(Ms()),
    overdue: Type.Boolean(),
  }),
})

export const NcListSchema = describe('NCs, newest first.', Type.Array(NcSummarySchema))

const SignatureView = Type.Object({
  user: Type.String(),
  printedName: Type.String(),
  meaning: Enum(['reviewed', 'approved', 'closed']),
  at: Ms(),
  recordHash: Type.String(),
  manifest: Type.Array(Type.String()),
  holds: Type.Boolean(),
})
const CommentView = Type.Object({ at: Ms(), by: Type.String(), text: Type.String() })
export const AttachmentSchema = describe(
  'The attachment as stored.',
  Type.Object({
    name: Type.String(),
    size: Type.Integer(),
    sha256: Type.String(),
    contentType: Type.String(),
    at: Ms(),
    by: Type.String(),
  }),
)

export const NcSchema = describe(
  'One NC with its readings, limits in force, occurrences and whole workflow.',
  Type.Object({
    ...NcSummaryProperties,
    workflow: Type.Object(
      {
        status: NcStatus,
        severity: Nullable(Type.String()),
        owner: Nullable(Type.String()),
        dueAt: Nullable(Ms()),
        containment: Type.Array(Type.String()),
        rootCause: Nullable(Loose('Five whys and a fishbone.')),
        affectedLots: Type.Array(Type.String()),
        disposition: Nullable(
          Type.Object({ decision: Type.String(), justification: Type.String() }),
        ),
        capas: Type.Array(Type.String()),
        closedAt: Nullable(Ms()),
        reopened: Type.Integer(),
        overdue: Type.Boolean(),
        recurrenceOf: Nullable(Type.Integer()),
        lotsSeen: Type.Array(Type.String()),
        signatures: Type.Array(SignatureView),
        comments: Type.Array(CommentView),
        attachments: Type.Array(AttachmentSchema),
      },
      { additionalProperties: true },
    ),
    limitsInForce: Type.Object({
      alarm: Loose('Alarm limits in force when it opened.'),
      control: Nullable(ControlLimits),
    }),
    readings: Type.Array(Reading),
    history: Type.Array(Reading),
  }),
)

export const CapaSchema = describe(
  'A CAPA with its signatures, comments and effectiveness from the data.',
  Type.Object({
    id: Type.String({ description: 'e.g. CAPA-000007' }),
    title: Type.String(),
    kind: Enum(['corrective', 'preventive']),
    owner: Type.String(),
    dueAt: Ms(),
    ncs: Type.Array(Type.String()),
    status: Enum(['open', 'implemented', 'verified', 'approved', 'closed']),
    openedAt: Ms(),
    implementedAt: Nullable(Ms()),
    verification: Nullable(
      Type.Object({
        effective: Type.Boolean(),
        notes: Type.String(),
        at: Ms(),
        by: Type.String(),
      }),
    ),
    approvedAt: Nullable(Ms()),
    closedAt: Nullable(Ms()),
    signatures: Type.Array(Loose('A signature as recorded.')),
    overdue: Type.Boolean(),
    signatureViews: Type.Array(SignatureView),
    comments: Type.Array(CommentView),
    effectiveness: Type.Array(
      Type.Object(
        { characteristic: Type.String(), characteristicName: Type.String() },
        {
          additionalProperties: true,
          description: 'Cpk, Ppk and NCs per day before and after the implementation.',
        },
      ),
    ),
  }),
)

export const CapasSchema = describe('CAPAs, newest first.', Type.Array(CapaSchema))

const RecordKpis = {
  open: Type.Integer(),
  overdue: Type.Integer(),
  openIds: Type.Array(Type.String()),
  overdueIds: Type.Array(Type.String()),
  opened: Type.Integer(),
  closed: Type.Integer(),
  meanTimeToCloseMs: NumberOrNull,
}
const ParetoRow = Type.Object({
  name: Type.String(),
  count: Type.Integer(),
  percent: Type.Number(),
  cumulativePercent: Type.Number(),
})

export const QualityKpisSchema = describe(
  'Open and overdue NCs and CAPAs, mean time to close, recurrence rate, Pareto by cause and characteristic.',
  Type.Object({
    from: Ms(),
    to: Ms(),
    now: Ms(),
    ncs: Type.Object({
      ...RecordKpis,
      recurrences: Type.Integer(),
      recurrenceRate: NumberOrNull,
    }),
    capas: Type.Object(RecordKpis),
    paretoByCause: Type.Array(ParetoRow),
    paretoByCharacteristic: Type.Array(ParetoRow),
  }),
)

export const AuditSchema = describe(
  'Audit entries, hash-chained, oldest first.',
  Type.Array(
    Type.Object({
      seq: Type.Integer(),
      at: Ms(),
      actor: Type.String(),
      action: Type.String(),
      entity: Type.String(),
      entityId: Type.String(),
      reason: Type.String(),
      before: Type.Unknown(),
      after: Type.Unknown(),
      prevHash: Type.String(),
      hash: Type.String(),
    }),
  ),
)

export const AuditVerdictSchema = describe(
  'Whether the audit trail’s chain holds, and where it breaks if not.',
  Type.Union([
    Type.Object({
      ok: Type.Literal(true),
      count: Type.Integer(),
      head: Type.Object({ seq: Type.Integer(), hash: Type.String() }),
      outside: Type.Array(Type.String()),
    }),
    Type.Object({ ok: Type.Literal(false), seq: Type.Integer(), why: Type.String() }),
  ]),
)

/** A file answer: CSV, PDF or an attachment's own type. */
export const fileResponse = (description: string, types: string[]) => ({
  description,
  content: Object.fromEntries(
    types.map((t) => [
      t,
      { schema: t.startsWith('text/') ? { type: 'string' } : { type: 'string', format: 'binary' } },
    ]),
  ),
})
