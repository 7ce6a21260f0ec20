import Type, { type Static, type TSchema } from 'typebox'
import { CHART_TYPES, NELSON_RULES, WESTERN_ELECTRIC_RULES } from '../../rules/index.ts'
import { AlarmsConfig, CharacteristicAlarms, Cleanroom, CleanroomLocation } from './alarm-schema.ts'
import { BrokerSecurityProperties, ExternalTlsProperties } from './mqtt-security-schema.ts'
import { OpcuaPkiProperties, OpcuaServerSecurityProperties } from './opcua-security-schema.ts'
import { QualityConfig, UserAuthProperties } from './quality-schema.ts'
import { ReportsConfig } from './report-schema.ts'
import { SparkplugConfig, SparkplugSource } from './sparkplug-schema.ts'
import { WebhooksSchema } from './webhook-schema.ts'

/**
 * The configuration schema: the one source of truth for the config's types, its defaults and
 * its documentation. `schema/linewatch.schema.json` is generated from it (`npm run schema`) and
 * a test keeps the two equal. A property with a `default` may be left out of the file.
 */

const Id = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  maxLength: 128,
  description: 'Identifier: letters, digits, dot, underscore, hyphen (URL-safe).',
})
const Port = (port: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: port, description })
const Role = Type.Union(
  [
    Type.Literal('viewer'),
    Type.Literal('operator'),
    Type.Literal('quality-engineer'),
    Type.Literal('quality-manager'),
    Type.Literal('admin'),
    Type.Literal('engineer'),
  ],
  {
    description:
      'viewer watches (wall displays); operator acknowledges and comments; quality-engineer investigates, dispositions, runs CAPAs and changes alarm settings; quality-manager approves, closes and changes limits; admin may do all. `engineer` (earlier versions) means quality-engineer.',
  },
)
const RULE_IDS = [...NELSON_RULES, ...WESTERN_ELECTRIC_RULES]
const RuleId = Type.Union(
  RULE_IDS.map((r) => Type.Literal(r)),
  { description: 'Nelson N1–N8 or Western Electric WE1–WE4 (docs/spc.md).' },
)
const Cause = Type.Union(
  [
    ...['HH', 'H', 'L', 'LL', 'target', 'rate', 'stale', 'comm-loss', 'grade-a-5um'].map((c) =>
      Type.Literal(c),
    ),
    ...RULE_IDS.map((r) => Type.Literal(r)),
    ...['cusum-upper', 'cusum-lower'].map((c) => Type.Literal(c)),
    ...['action-high', 'action-low', 'alert-high', 'alert-low'].map((c) => Type.Literal(c)),
  ],
  {
    description:
      'An alarm condition: HH, H, L, LL, target, rate, stale, comm-loss, a run rule, a CUSUM side (action-high, action-low, alert-high, alert-low: the earlier names of HH, LL, H, L).',
  },
)
const IsoTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})$',
  description: 'ISO 8601 with a time zone.',
})
const obj = <P extends Record<string, TSchema>>(properties: P, description: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, description })

const Limits = Type.Object(
  {
    actionLow: Type.Optional(Type.Number()),
    alertLow: Type.Optional(Type.Number()),
    alertHigh: Type.Optional(Type.Number()),
    actionHigh: Type.Optional(Type.Number()),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Fixed alert and action limits in the unit of the characteristic (actionLow ≤ alertLow < alertHigh ≤ actionHigh). A reading strictly beyond a limit is past it.',
  },
)

const Chart = Type.Object(
  {
    type: Type.Union(
      CHART_TYPES.map((t) => Type.Literal(t)),
      {
        default: 'imr',
        description:
          'imr: individuals and moving range; xbar-r, xbar-s: subgroup means with ranges or standard deviations; ewma; cusum; p, np, c, u: attributes.',
      },
    ),
    subgroup: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 1000, description: 'Readings per subgroup.' }),
          ),
          windowMs: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'A subgroup per time window (aligned to the epoch).',
            }),
          ),
          byKey: Type.Optional(
            Type.Literal(true, {
              description:
                'A subgroup per run of readings with the same `subgroup` key (lot, batch).',
            }),
          ),
        },
        {
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          description:
            'How readings form subgroups (X̄-R, X̄-S, EWMA, CUSUM): exactly one of size, windowMs, byKey. Default: 5 for X̄ charts, 1 otherwise.',
        },
      ),
    ),
    baselineCount: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description: 'Subgroups that estimate the limits (default: spc.baselineCount).',
      }),
    ),
    baselineWindow: Type.Optional(
      Type.Object(
        { from: IsoTime, to: IsoTime },
        {
          additionalProperties: false,
          description: 'Estimate the limits from the subgroups in this time range instead.',
        },
      ),
    ),
    excludeOutOfControl: Type.Boolean({
      default: false,
      description: 'Phase I: leave baseline subgroups beyond the limits out and estimate again.',
    }),
    given: Type.Optional(
      Type.Object(
        { center: Type.Number(), sigma: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) },
        {
          additionalProperties: false,
          description:
            'Known parameters, no baseline: μ and σ (variables), or p, c̄, ū as center (attributes).',
        },
      ),
    ),
    sigmaMethod: Type.Optional(
      Type.Union(
        ['mr', 'rbar', 'sbar', 'pooled'].map((m) => Type.Literal(m)),
        { description: 'σ estimate (default: mr for imr, rbar for xbar-r, sbar for xbar-s).' },
      ),
    ),
    rules: Type.Optional(
      Type.Array(RuleId, { uniqueItems: true, description: 'Run rules (default: spc.rules).' }),
    ),
    runLengths: Type.Optional(
      Type.Object(
        Object.fromEntries(
          ['N2', 'N3', 'N4', 'N7', 'N8', 'WE4'].map((r) => [
            r,
            Type.Optional(Type.Integer({ minimum: r === 'N4' ? 3 : 2, maximum: 50 })),
          ]),
        ),
        {
          additionalProperties: false,
          description:
            'Run lengths other than the canonical N2 9, N3 6, N4 14, N7 15, N8 8, WE4 8.',
        },
      ),
    ),
    ewma: Type.Optional(
      Type.Object(
        {
          lambda: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.2 }),
          L: Type.Number({ exclusiveMinimum: 0, default: 3 }),
        },
        { additionalProperties: false, description: 'EWMA weight λ and limit width L (σ units).' },
      ),
    ),
    cusum: Type.Optional(
      Type.Object(
        {
          k: Type.Optional(Type.Number({ minimum: 0, description: 'Reference value, σ units.' })),
          h: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, description: 'Decision interval, σ units.' }),
          ),
          headStart: Type.Optional(
            Type.Number({ minimum: 0, description: 'Fast initial response: C⁺₀ = C⁻₀, σ units.' }),
          ),
          resetOnSignal: Type.Optional(
            Type.Boolean({ description: 'Reset a side to the head start after it signals.' }),
          ),
        },
        { additionalProperties: false, description: 'Tabular CUSUM parameters.' },
      ),
    ),
  },
  { additionalProperties: false, default: {}, description: 'Control chart of the characteristic.' },
)

/** When the verdict "capable" may be given (AIAG, Minitab: only for a stable process). */
const capabilityPolicy = {
  threshold: Type.Number({
    exclusiveMinimum: 0,
    default: 1.33,
    description: 'Cpk and Ppk must both reach this for the verdict "capable".',
  }),
  minReadings: Type.Integer({
    minimum: 2,
    default: 25,
    description: 'Readings since the limits froze before any verdict.',
  }),
}
const CAPABILITY_POLICY =
  'The capability verdict: "capable" needs a chart that has not signalled since its limits froze, Cpk and Ppk ≥ threshold, and at least minReadings readings; a chart that signalled gets "not in statistical control — capability indices are not a prediction".'

const SpecLimits = Type.Object(
  {
    lsl: Type.Optional(Type.Number({ description: 'Lower specification limit.' })),
    usl: Type.Optional(Type.Number({ description: 'Upper specification limit.' })),
    target: Type.Optional(
      Type.Number({ description: 'Target (default: the mid-point of lsl and usl).' }),
    ),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'Specification limits: process capability is computed against them.',
  },
)

const Source = Type.Object(
  {
    mqtt: Type.Optional(
      Type.Object(
        {
          topic: Type.String({
            minLength: 1,
            pattern: '^[^#+]+$',
            description: 'Exact topic (no wildcards).',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    opcua: Type.Optional(
      Type.Object(
        {
          server: Id,
          nodeId: Type.String({
            pattern: '^nsu=[^;]+;[isgb]=.+$',
            description:
              'NodeId in namespace-URI form, e.g. nsu=urn:linewatch:sim:cnc;s=Cell1.BoreDiameter',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    sparkplug: Type.Optional(SparkplugSource),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    description: 'Where the readings come from: exactly one of mqtt, opcua or sparkplug.',
  },
)

const Characteristic = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    path: Type.String({
      pattern: '^[^/]+(/[^/]+){0,3}$',
      description: 'ISA-95 location: site/area/line/cell (1 to 4 levels).',
    }),
    unit: Type.String({ default: '', maxLength: 40 }),
    decimals: Type.Integer({ minimum: 0, maximum: 9, default: 2, description: 'Decimals shown.' }),
    source: Source,
    limits: Limits,
    chart: Chart,
    specLimits: Type.Optional(SpecLimits),
    capability: Type.Optional(
      Type.Object(
        {
          threshold: Type.Optional(capabilityPolicy.threshold),
          minReadings: Type.Optional(capabilityPolicy.minReadings),
        },
        {
          additionalProperties: false,
          description: `${CAPABILITY_POLICY} (default: spc.capability)`,
        },
      ),
    ),
    openNcOn: Type.Optional(
      Type.Array(Cause, {
        uniqueItems: true,
        description:
          'Alarm conditions whose alarm opens a nonconformance (default: nonconformance.openOn).',
      }),
    ),
    alarms: Type.Optional(CharacteristicAlarms),
    cleanroom: Type.Optional(CleanroomLocation),
  },
  { additionalProperties: false },
)

const OpcuaServer = Type.Object(
  {
    id: Id,
    endpoint: Type.String({
      pattern: '^opc\\.tcp://.+',
      description: 'e.g. opc.tcp://127.0.0.1:4840',
    }),
    samplingIntervalMs: Type.Integer({ minimum: 0, default: 250 }),
    publishingIntervalMs: Type.Integer({ minimum: 50, default: 250 }),
    ...OpcuaServerSecurityProperties,
  },
  { additionalProperties: false },
)

const Influx = Type.Object(
  {
    url: Type.String({ pattern: '^https?://.+', description: 'e.g. http://127.0.0.1:8086' }),
    database: Type.String({
      minLength: 1,
      description: 'Database (1.x) or bucket mapped to it (2.x, 3).',
    }),
    retentionPolicy: Type.Optional(Type.String({ minLength: 1 })),
    tokenEnv: Type.Optional(
      Type.String({
        description: 'Name of the environment variable holding the token (never the token itself).',
      }),
    ),
    batchSize: Type.Integer({ minimum: 1, default: 5000 }),
    flushIntervalMs: Type.Integer({ minimum: 10, default: 1000 }),
    maxSpoolBytes: Type.Integer({
      minimum: 0,
      default: 1073741824,
      description: 'Disk kept for records waiting out an outage.',
    }),
  },
  { additionalProperties: false },
)

const MqttUser = Type.Object(
  {
    username: Type.String({ minLength: 1 }),
    passwordHash: Type.String({
      pattern: '^scrypt\\$',
      description: 'From `linewatch hash-password`; never the password itself.',
    }),
  },
  { additionalProperties: false },
)

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    title: Type.String({ default: 'linewatch', description: 'Shown on the dashboard.' }),
    dataDir: Type.String({
      default: './data',
      description: 'SQLite files and spools (relative to the working directory).',
    }),
    log: obj(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) =>
            Type.Literal(l),
          ),
          { default: 'info' },
        ),
      },
      'Logging (JSON lines on stdout).',
    ),
    shifts: obj(
      {
        starts: Type.Array(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }), {
          minItems: 1,
          maxItems: 24,
          uniqueItems: true,
          default: ['06:00', '14:00', '22:00'],
          description:
            'Local times (HH:MM, 24 h) at which shifts start: the dashboard’s “Shift” range, in the browser’s time zone. Two shifts of 12 h: ["06:00", "18:00"].',
        }),
      },
      'The plant’s shifts.',
    ),
    http: obj(
      {
        host: Type.String({ default: '0.0.0.0' }),
        port: Port(8080, 'Dashboard, REST API under /api and socket.io.'),
      },
      'HTTP server.',
    ),
    auth: obj(
      {
        anonymousRole: Type.Union([Type.Literal('none'), Role], {
          default: 'none',
          description:
            'Role of a request without a token. none: every route but /api/health needs a token.',
        }),
        tokens: Type.Array(
          Type.Object(
            {
              id: Id,
              role: Role,
              sha256: Type.String({
                pattern: '^[0-9a-f]{64}$',
                description:
                  'SHA-256 of the token, from `linewatch token`; never the token itself.',
              }),
              kiosk: Type.Optional(
                Type.Boolean({
                  description:
                    'A wall display: the dashboard opened with this token shows the overview in kiosk mode (every tile on the screen, no navigation), as `?kiosk=1` does.',
                }),
              ),
              area: Type.Optional(
                Type.String({
                  minLength: 1,
                  maxLength: 256,
                  description:
                    'Kiosk mode (implied): show only this area ("Machining", or with its site "Dortmund/Machining"), as `?area=` does.',
                }),
              ),
              rotateSeconds: Type.Optional(
                Type.Integer({
                  minimum: 5,
                  maximum: 86400,
                  description:
                    'Kiosk mode (implied): show one area at a time, the next after this many seconds, as `?rotate=` does.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        ...UserAuthProperties,
      },
      'API and dashboard access: bearer tokens with roles (wall displays, integrations), and local users who sign in (docs/quality.md).',
    ),
    mqtt: obj(
      {
        broker: obj(
          {
            enabled: Type.Boolean({
              default: true,
              description: 'Run the embedded broker (off when using an external one).',
            }),
            host: Type.String({ default: '0.0.0.0' }),
            port: Port(1883, 'MQTT over TCP.'),
            anonymous: Type.Union(
              [Type.Literal('loopback'), Type.Literal('allow'), Type.Literal('deny')],
              {
                default: 'loopback',
                description:
                  'Clients without credentials: loopback only (default), allowed from anywhere, or refused.',
              },
            ),
            users: Type.Array(MqttUser, { default: [] }),
            maxAcksWaiting: Type.Integer({
              minimum: 1,
              default: 8192,
              description:
                'QoS 1/2 messages a connection may have sent and not yet had acknowledged (each acknowledgement waits for the commit of its reading) while the broker reads on; beyond, it reads no further on that connection until the commit. The broker as a whole stops reading at 8 times this many. Bounds the memory a publisher that outruns the store can take.',
            }),
            ...BrokerSecurityProperties,
          },
          'The embedded MQTT broker that devices connect to.',
        ),
        external: Type.Optional(
          Type.Object(
            {
              url: Type.String({
                pattern: '^(mqtts?|wss?|tcp|tls)://.+',
                description: 'e.g. mqtt://broker.plant:1883',
              }),
              username: Type.Optional(Type.String()),
              passwordEnv: Type.Optional(
                Type.String({ description: 'Environment variable holding the password.' }),
              ),
              clientId: Type.Optional(Type.String()),
              ...ExternalTlsProperties,
            },
            {
              additionalProperties: false,
              description: 'Consume from an external broker instead of the embedded one.',
            },
          ),
        ),
        subscribe: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description:
            'Topic filters consumed besides the mapped topics. Empty (the default): the gateway subscribes to exactly the topics the characteristics map, so other traffic on a shared broker is neither received nor kept. Add filters (e.g. `plant/#`) to also see the other topics they match: a message on a topic no characteristic maps is dead-lettered (unknown-topic). With mqtt.external the gateway subscribes on that broker to these filters instead of the mapped topics, so they must cover every mapped topic: one outside them is refused (its readings would never arrive). A filter may be a shared subscription `$share/<group>/<filter>` (MQTT 5; Mosquitto also for 3.1.1 clients): gateways subscribing with the same group each get a share of the messages its filter matches (each message goes to one of them), and a message’s topic is matched against the filter part, which must cover the mapped topics as above. For plain-MQTT load sharing only: a characteristic’s readings then go to any member, so its chart sees part of its stream; Sparkplug B and clustered ownership do not use it (docs/scale.md).',
        }),
        maxPacketBytes: Type.Integer({
          minimum: 64,
          default: 65536,
          description: 'A larger packet is cut off before it is buffered, and dead-lettered.',
        }),
      },
      'MQTT sources.',
    ),
    opcua: obj(
      { servers: Type.Array(OpcuaServer, { default: [] }), ...OpcuaPkiProperties },
      'OPC-UA sources.',
    ),
    sparkplug: SparkplugConfig,
    store: obj(
      {
        timeseries: Type.Union([Type.Literal('sqlite'), Type.Literal('influxdb')], {
          default: 'sqlite',
          description: 'sqlite: embedded, under dataDir. influxdb: see store.influxdb.',
        }),
        influxdb: Type.Optional(Influx),
        commitIntervalMs: Type.Integer({
          minimum: 10,
          maximum: 60_000,
          default: 200,
          description:
            'What nobody waits for is committed at least this often: QoS 0 readings, chart points and events in the embedded time series (or the journal beside InfluxDB, or a cluster’s journal in PostgreSQL), and alarm and NC changes in the records. A QoS 1 acknowledgement or an API answer that waits commits at once, whatever this says. Longer: fewer bytes written (a commit rewrites every page it changed; 1000 wrote about 30 % less to the time series than 200 with the bench’s data, docs/architecture.md), for an SSD or SD card whose write endurance matters; a crash then loses up to this much of what nobody waited for (QoS 0).',
        }),
        maxPendingRecords: Type.Integer({
          minimum: 1000,
          default: 2_000_000,
          description:
            'Records (readings, chart points, events, snapshots, deliveries) the embedded time series, or the journal beside InfluxDB or in PostgreSQL, holds in memory before they are committed. While more than half of them wait (or half of the records writer’s 100,000 statements), the embedded broker stops reading its devices’ connections, and reads on below a quarter, so that a burst of QoS 0 messages slows its publishers down (TCP) instead of being refused. Past the bound, records are refused and counted (an external broker or OPC-UA cannot be slowed down that way).',
        }),
        records: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], {
          default: 'sqlite',
          description:
            'Where the records live (NCs, CAPAs, signatures, the audit trail, alarms, limit changes, dead letters, users). sqlite: records.db under dataDir. postgres: a PostgreSQL database that several gateways share (store.postgres; docs/scale.md).',
        }),
        postgres: obj(
          {
            urlEnv: Type.String({
              minLength: 1,
              default: 'LINEWATCH_POSTGRES_URL',
              description:
                'Name of the environment variable holding the connection URL (postgres://user:password@host:5432/database; a password goes in the variable, never in this file). `?sslmode=verify-full` with `sslrootcert=` verifies the server.',
            }),
          },
          "PostgreSQL for the records (store.records: postgres) and, with cluster, the charts' journal and the leases.",
        ),
        sqlite: obj(
          {
            retention: obj(
              {
                maxAgeDays: Type.Number({
                  exclusiveMinimum: 0,
                  default: 90,
                  description:
                    'Readings, chart points and events older than this (by their time stamp) are deleted. They are stored in blocks of at most an hour of time stamps, and a block goes when its newest record is this old: a record may outlive the limit by up to an hour.',
                }),
                maxBytes: Type.Integer({
                  minimum: 1,
                  default: 10737418240,
                  description:
                    'Above this size of the time-series database the oldest records are deleted, whatever their age. The default, 10 GiB, bounds the disk a gateway left running uses, so a demo box never fills its disk; size it to the disk for a plant.',
                }),
              },
              'How long the embedded time series keeps records: whichever limit is reached first (age or size) removes the oldest.',
            ),
          },
          'The embedded SQLite time series (store.timeseries: sqlite).',
        ),
      },
      'Where readings, chart statistics and events are written.',
    ),
    deadLetters: obj(
      {
        maxCount: Type.Integer({
          minimum: 0,
          default: 10000,
          description: 'Dead letters kept; the oldest go first.',
        }),
        maxBytes: Type.Integer({
          minimum: 0,
          default: 67108864,
          description:
            'Payload bytes kept over all dead letters (64 MiB); the oldest go first. A payload is kept up to 64 KiB (and never more than this).',
        }),
      },
      'Refused messages kept in records.db with their reason (GET /api/dead-letters). Whichever cap is exceeded, the oldest are pruned and counted (counters.prunedDeadLetters in /api/health, pruned in /api/dead-letters); the totals per reason are kept for ever.',
    ),
    spc: obj(
      {
        baselineCount: Type.Integer({
          minimum: 1,
          maximum: 10_000,
          default: 25,
          description:
            'Subgroups that estimate the limits (readings, for individuals and attributes charts).',
        }),
        rules: Type.Array(RuleId, { default: ['N1', 'N2'], uniqueItems: true }),
        capability: obj(capabilityPolicy, CAPABILITY_POLICY),
      },
      'Chart defaults.',
    ),
    nonconformance: obj(
      {
        openOn: Type.Array(Cause, {
          default: ['HH', 'LL', 'N1', 'N2', 'grade-a-5um'],
          uniqueItems: true,
          description:
            'Alarm conditions that open a nonconformance when their alarm becomes active (after its on-delay): a confirmed deviation, not every noisy point. An alarm suppressed by design or out of service opens none; a shelved one still does.',
        }),
        readingsBefore: Type.Integer({
          minimum: 0,
          maximum: 1000,
          default: 20,
          description: 'Kept with the NC.',
        }),
        readingsAfter: Type.Integer({
          minimum: 0,
          maximum: 1000,
          default: 10,
          description: 'Added as they arrive.',
        }),
      },
      'Automatic nonconformances.',
    ),
    cluster: Type.Optional(
      Type.Object(
        {
          gateway: Type.String({
            pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$',
            description:
              "This gateway's name, unique among the gateways sharing the PostgreSQL database (its leases, its MQTT sessions and its audit chain carry it).",
          }),
          partitions: Type.Integer({
            minimum: 1,
            maximum: 4096,
            default: 32,
            description:
              'The characteristics are hashed into this many partitions (every gateway must use the same number); a gateway judges the partitions it holds the lease of. More partitions than gateways spread the load evenly.',
          }),
          leaseMs: Type.Integer({
            minimum: 1000,
            maximum: 600_000,
            default: 10_000,
            description:
              'A lease not renewed for this long expires, and another gateway takes the partition over (restoring its charts from the shared snapshots and the journal). Renewed every third of it.',
          }),
        },
        {
          additionalProperties: false,
          description:
            'Several gateways share one plant (docs/scale.md): each characteristic is judged by exactly one gateway at a time, by leases held in PostgreSQL. Needs store.records: postgres, store.timeseries: influxdb and mqtt.external.',
        },
      ),
    ),
    live: obj(
      {
        flushIntervalMs: Type.Integer({
          minimum: 16,
          default: 100,
          description: 'Live updates are coalesced and sent at most this often.',
        }),
        maxPointsPerFlush: Type.Integer({
          minimum: 1,
          default: 500,
          description: 'Per characteristic, per flush.',
        }),
        maxBufferedBytes: Type.Integer({
          minimum: 1024,
          default: 4194304,
          description:
            "A dashboard that stops reading is disconnected once this much (about 4 MiB by default) is queued for it unsent, so one stalled client cannot hold the gateway's memory; the others keep receiving. The dashboard reconnects and resyncs when it reads again.",
        }),
        redis: Type.Optional(
          Type.Object(
            {
              urlEnv: Type.String({
                minLength: 1,
                description:
                  'Name of the environment variable holding the Redis URL (e.g. redis://127.0.0.1:6379; a password goes in the URL, never in this file).',
              }),
              keyPrefix: Type.String({
                minLength: 1,
                default: 'linewatch',
                description:
                  'Prefix of the Redis channels: gateways with the same prefix share their live events; another plant on the same Redis uses another prefix.',
              }),
            },
            {
              additionalProperties: false,
              description:
                'Several gateways: their live hubs share events over Redis (the socket.io Redis adapter), so a dashboard connected to any of them receives the tiles, deviations, NCs, limits and chart points of every characteristic. Without it, each gateway pushes only its own. A Redis outage never holds up the readings: each gateway keeps pushing its own events to its own dashboards and reconnects.',
            },
          ),
        ),
      },
      'Live push to dashboards.',
    ),
    metrics: obj(
      {
        anonymous: Type.Boolean({
          default: false,
          description:
            'Answer GET /metrics without a token. Off by default: a scraper sends a token of at least the viewer role (Prometheus: `authorization: { credentials_file: … }`). Turn it on only where the HTTP port is reachable from a trusted network alone.',
        }),
      },
      'Prometheus metrics at GET /metrics (docs/metrics.md).',
    ),
    alarms: AlarmsConfig,
    quality: QualityConfig,
    webhooks: WebhooksSchema,
    reports: ReportsConfig,
    cleanrooms: Type.Array(Cleanroom, {
      default: [],
      description:
        'Cleanrooms of the GMP profile (EU GMP Annex 1, ISO 14644-1; docs/cleanroom.md). Particle counters name their room in characteristics[].cleanroom.',
    }),
    characteristics: Type.Array(Characteristic, { default: [] }),
  },
  {
    additionalProperties: false,
    $id: 'https://linewatch.dev/schema/linewatch.schema.json',
    title: 'linewatch configuration',
  },
)

export type Config = Static<typeof ConfigSchema>
export type CharacteristicConfig = Config['characteristics'][number]
export type OpcuaServerConfig = Config['opcua']['servers'][number]
export type InfluxConfig = NonNullable<Config['store']['influxdb']>
export type SqliteRetentionConfig = Config['store']['sqlite']['retention']
export type ClusterConfig = NonNullable<Config['cluster']>
export type DeadLettersConfig = Config['deadLetters']
export type RoleName = Config['auth']['tokens'][number]['role']
export type CauseName = NonNullable<CharacteristicConfig['openNcOn']>[number]
export type AlarmsConfigType = Config['alarms']
export type CharacteristicAlarmsConfig = NonNullable<CharacteristicConfig['alarms']>
export type CleanroomConfig = Config['cleanrooms'][number]
