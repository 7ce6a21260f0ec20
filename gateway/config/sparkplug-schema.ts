import Type from 'typebox'
import type { Config } from './schema.ts'
import type { SemanticIssue } from './yaml-schema.ts'

/**
 * The Sparkplug B parts of the configuration (issue 10): a characteristic's Sparkplug source, and
 * the primary host application's settings (docs/sparkplug.md). schema.ts assembles them;
 * load.ts adds `sparkplugConfigProblems` to its checks.
 */

/** A Sparkplug id as a topic level: no separators, no wildcards. */
const Level = (description: string) =>
  Type.String({ minLength: 1, maxLength: 128, pattern: '^[^/#+]+$', description })

/** `characteristics[].source.sparkplug`. */
export const SparkplugSource = Type.Object(
  {
    group: Level('Sparkplug group id.'),
    node: Level('Edge node id.'),
    device: Type.Optional(Level('Device id, for a metric of a device (DBIRTH/DDATA).')),
    metric: Type.String({
      minLength: 1,
      description: "The metric's name as its birth announces it (DATA may use its alias).",
    }),
  },
  {
    additionalProperties: false,
    description:
      'A metric of a Sparkplug B edge node or device: readings come from its births and DATA messages, by name or alias.',
  },
)

const Rebirth = Type.Object(
  {
    onGap: Type.Boolean({
      default: true,
      description: 'Ask for a rebirth when a missing seq did not arrive within reorderTimeoutMs.',
    }),
    onDataBeforeBirth: Type.Boolean({
      default: true,
      description:
        'Ask for a rebirth when DATA (or a DBIRTH, DDEATH) comes from a node or device whose birth the host has not seen.',
    }),
    onUnknownAlias: Type.Boolean({
      default: true,
      description:
        'Ask for a rebirth when DATA names an alias or a metric that the birth did not announce.',
    }),
    onMalformed: Type.Boolean({
      default: true,
      description: 'Ask for a rebirth when a payload cannot be decoded (or lacks its seq).',
    }),
    minIntervalMs: Type.Integer({
      minimum: 0,
      default: 5000,
      description:
        'At most one rebirth request per edge node in this time: requests in between are counted and merged into one sent when it has passed, so a bad node cannot start a rebirth storm.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'When the host asks an edge node for a rebirth (an NCMD with `Node Control/Rebirth` = true, by name).',
  },
)

/** The top-level `sparkplug` section. */
export const SparkplugConfig = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'Run the host. Default: on when any characteristic has a sparkplug source. Set true to run it without (GET /api/sparkplug/nodes then lists what the nodes announce).',
      }),
    ),
    hostId: Type.Optional(
      Level(
        'The sparkplug_host_id: the host publishes its STATE on spBv1.0/STATE/<hostId>. Required when the host runs; unique among the host applications on the broker (two gateways never share one). In a cluster each group has a host of its own, <hostId>-<group>, run by the gateway holding the group (docs/scale.md).',
      ),
    ),
    url: Type.Optional(
      Type.String({
        pattern: '^(mqtts?|wss?|tcp|tls)://.+',
        description:
          'Broker the host connects to. Default: mqtt.external.url when set, else the embedded broker (on loopback when it listens on every address).',
      }),
    ),
    clientId: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'MQTT client id of the host (default: linewatch-sparkplug-<hostId>).',
      }),
    ),
    username: Type.Optional(
      Type.String({
        description:
          'MQTT user of the host (default: mqtt.external.username on the external broker).',
      }),
    ),
    passwordEnv: Type.Optional(
      Type.String({ description: 'Environment variable holding the MQTT password of the host.' }),
    ),
    groups: Type.Array(Level('A Sparkplug group id.'), {
      default: [],
      uniqueItems: true,
      description:
        "Groups the host takes (subscribing to spBv1.0/<group>/#). Empty (the default): all groups (spBv1.0/#). To spread Sparkplug over several gateways, give each its own groups, or run them as a cluster, which leases each group to one gateway at a time (docs/scale.md): MQTT shared subscriptions ($share) would split one node's messages between gateways and break its seq.",
    }),
    qos: Type.Integer({
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        "QoS of the host's subscriptions. Sparkplug sessions are clean: nothing is kept for the host while it is away, and nodes publish DATA at QoS 0. With 1 (the default) the deaths and STATE messages sent at QoS 1 arrive at QoS 1.",
    }),
    reorderTimeoutMs: Type.Integer({
      minimum: 0,
      default: 2000,
      description:
        "The Reorder Timeout: how long messages after a missing seq are held for it to arrive, before they are taken in order without it and the node is asked for a rebirth. 0: don't wait.",
    }),
    rebirth: Rebirth,
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Sparkplug B 3.0 primary host application (docs/sparkplug.md): STATE, births and deaths, seq order, rebirth requests.',
  },
)

/** Whether the gateway runs the Sparkplug host: on by use, unless switched off. */
export function sparkplugEnabled(config: Config): boolean {
  return (
    config.sparkplug.enabled ?? config.characteristics.some((c) => c.source.sparkplug !== undefined)
  )
}

/** The checks the schema cannot make: a host id when the host runs, a broker, no metric mapped twice. */
export function sparkplugConfigProblems(config: Config): SemanticIssue[] {
  const issues: SemanticIssue[] = []
  if (!sparkplugEnabled(config)) return issues
  const sp = config.sparkplug
  if (sp.hostId === undefined)
    issues.push({
      path: ['sparkplug'],
      message:
        'sparkplug.hostId is required when the Sparkplug host runs (a characteristic reads Sparkplug)',
    })
  if (!sp.url && !config.mqtt.external && !config.mqtt.broker.enabled)
    issues.push({
      path: ['sparkplug'],
      message: 'Sparkplug needs a broker: the embedded one, mqtt.external, or sparkplug.url',
    })
  const groups = new Set(sp.groups)
  const seen = new Set<string>()
  config.characteristics.forEach((c, i) => {
    const s = c.source.sparkplug
    if (!s) return
    const key = JSON.stringify([s.group, s.node, s.device ?? null, s.metric])
    if (seen.has(key))
      issues.push({
        path: ['characteristics', i, 'source', 'sparkplug', 'metric'],
        message: 'this metric is mapped twice',
      })
    seen.add(key)
    if (groups.size > 0 && !groups.has(s.group))
      issues.push({
        path: ['characteristics', i, 'source', 'sparkplug', 'group'],
        message: `group "${s.group}" is not in sparkplug.groups: the host would never receive it`,
      })
  })
  return issues
}
