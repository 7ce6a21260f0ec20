import { randomBytes } from 'node:crypto'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { stringify } from 'yaml'
import {
  initialSparkplugNode,
  parseSparkplugTopic,
  SPARKPLUG_NAMESPACE,
  type SparkplugNodeState,
  type SparkplugPolicy,
  stepSparkplugNode,
} from '../../rules/index.ts'
import { type Config, loadConfigFile } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import { sparkplugBindings } from '../sources/sparkplug/bindings.ts'
import {
  entriesOf,
  isControlMetric,
  type KnownNode,
  sparkplugNodeViews,
} from '../sources/sparkplug/entries.ts'
import { type SparkplugNodeView, sparkplugBroker } from '../sources/sparkplug/index.ts'

/**
 * `linewatch sparkplug discover`: listens to a broker's Sparkplug B traffic for a while, asks
 * each edge node that sends data without having been seen to be born for a rebirth (once), and
 * prints what the births announced, with characteristic entries ready to paste. It is not a
 * primary host: it publishes no STATE.
 */

interface DiscoverOptions {
  config?: string
  url?: string
  seconds: number
  group: string[]
  username?: string
  passwordEnv?: string
}

const CONNECT_TIMEOUT_MS = 10_000

function seconds(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new InvalidArgumentError(`"${value}" is not a number of seconds from 0 to 3600.`)
  return n
}

export function registerSparkplugCommands(program: Command): void {
  const sparkplug = program
    .command('sparkplug')
    .description('Sparkplug B edge nodes (docs/sparkplug.md).')
  sparkplug
    .command('discover')
    .description(
      'Listen for Sparkplug B births, ask nodes that send data unseen for a rebirth, and print what they announced as characteristic entries (YAML).',
    )
    .option(
      '-c, --config <file>',
      'take the broker, credentials and host id from this configuration',
    )
    .option('--url <url>', 'broker to listen on, e.g. mqtt://127.0.0.1:1883')
    .option('--seconds <n>', 'how long to listen', seconds, 10)
    .addOption(
      new Option('--group <id>', 'only this Sparkplug group (repeatable)')
        .argParser((v: string, all: string[]) => [...all, v])
        .default([], 'all groups'),
    )
    .option('--username <name>', 'MQTT user name')
    .option('--password-env <variable>', 'environment variable holding the MQTT password')
    .action(async (opts: DiscoverOptions) => {
      const config = opts.config ? await loadConfigFile(opts.config) : null
      if (!config && !opts.url)
        throw new LinewatchError('LW_ERR_CONFIG_INVALID', 'give --url or --config')
      process.stdout.write(await discover(opts, config))
    })
}

async function discover(opts: DiscoverOptions, config: Config | null): Promise<string> {
  const broker = config ? sparkplugBroker(config, null) : null
  const url = opts.url ?? (broker as { url: string }).url
  const passwordEnv = opts.passwordEnv ?? broker?.passwordEnv
  const password = passwordEnv ? process.env[passwordEnv] : undefined
  if (passwordEnv && password === undefined)
    throw new LinewatchError(
      'LW_ERR_SECRET_MISSING',
      `${passwordEnv} is not set in the environment`,
    )
  const groups = opts.group.length > 0 ? opts.group : (config?.sparkplug.groups ?? [])
  const { connectAsync } = await import('mqtt')
  const { decodeSparkplugPayload, rebirthRequest } = await import('../sources/sparkplug/payload.ts')
  let client: Awaited<ReturnType<typeof connectAsync>>
  try {
    client = await connectAsync(url, {
      clientId: `linewatch-discover-${randomBytes(4).toString('hex')}`,
      clean: true,
      username: opts.username ?? broker?.username,
      password,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0,
    })
  } catch (err) {
    throw new LinewatchError(
      'LW_ERR_SPARKPLUG_CONNECT',
      `cannot connect to ${url}: ${(err as Error).message}`,
    )
  }
  // One rebirth request per node and run; gaps are no concern of a listener.
  const policy: SparkplugPolicy = {
    reorderTimeoutMs: 0,
    rebirth: {
      onGap: false,
      onDataBeforeBirth: true,
      onUnknownAlias: true,
      onMalformed: false,
      minIntervalMs: opts.seconds * 1000 + 1,
    },
  }
  const nodes = new Map<string, KnownNode & { state: SparkplugNodeState<unknown> }>()
  const asked = new Set<string>()
  client.on('message', (topic, payload) => {
    const t = parseSparkplugTopic(topic)
    if (t === null || t.kind !== 'node' || t.type === 'NCMD' || t.type === 'DCMD') return
    const key = `${t.group}/${t.node}`
    let entry = nodes.get(key)
    if (!entry) {
      entry = { group: t.group, node: t.node, state: initialSparkplugNode() }
      nodes.set(key, entry)
    }
    const decoded = decodeSparkplugPayload(payload)
    const at = Date.now()
    const events = stepSparkplugNode(
      policy,
      entry.state,
      'error' in decoded
        ? { kind: 'malformed', type: t.type, device: t.device, detail: decoded.error, at }
        : { kind: 'message', type: t.type, device: t.device, payload: decoded, at },
    )
    for (const e of events) {
      if (e.type !== 'rebirth') continue
      asked.add(key)
      client.publish(
        `${SPARKPLUG_NAMESPACE}/${t.group}/NCMD/${t.node}`,
        Buffer.from(rebirthRequest(at)),
        {
          qos: 0,
        },
      )
    }
  })
  const filters =
    groups.length > 0
      ? groups.map((g) => `${SPARKPLUG_NAMESPACE}/${g}/#`)
      : [`${SPARKPLUG_NAMESPACE}/#`]
  const granted = await client.subscribeAsync(filters, { qos: 0 })
  const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic)
  if (refused.length > 0) {
    await client.endAsync(true)
    throw new LinewatchError(
      'LW_ERR_SPARKPLUG_CONNECT',
      `${url} refused the subscriptions ${refused.join(', ')}`,
    )
  }
  await new Promise((r) => setTimeout(r, opts.seconds * 1000))
  await client.endAsync()

  const bindings = config ? sparkplugBindings(config) : null
  const views = sparkplugNodeViews(
    nodes.values(),
    bindings?.bound ?? (() => null),
    config?.characteristics.map((c) => c.id) ?? [],
  )
  const unborn = [...nodes.values()].filter((n) => n.state.birthAt === null)
  return report(url, opts.seconds, views, unborn, asked, config)
}

function report(
  url: string,
  secs: number,
  views: SparkplugNodeView[],
  unborn: KnownNode[],
  asked: ReadonlySet<string>,
  config: Config | null,
): string {
  const lines = [`# linewatch sparkplug discover: ${url}, ${secs} s`]
  if (views.length === 0) lines.push('# no edge node was born while listening')
  for (const n of views) {
    const asking = asked.has(`${n.group}/${n.node}`) ? ', born when asked' : ''
    lines.push(
      `# ${n.group}/${n.node}: ${n.online ? 'online' : 'offline'}, bdSeq ${n.bdSeq ?? 'none'}${asking}`,
    )
    const scopes = [{ device: null as string | null, metrics: n.metrics }, ...n.devices]
    for (const s of scopes) {
      const where = s.device === null ? '' : `device ${s.device}: `
      for (const m of s.metrics) {
        const alias = m.alias === null ? '' : `, alias ${m.alias}`
        const unit = m.unit === null ? '' : `, ${m.unit}`
        const note = m.characteristic
          ? ` — read by ${m.characteristic}`
          : m.entry
            ? ''
            : isControlMetric(m.name)
              ? ' — Sparkplug’s own'
              : ' — not a number'
        lines.push(`#   ${where}${m.name} (${m.datatype}${alias}${unit})${note}`)
      }
    }
  }
  for (const n of unborn)
    lines.push(
      `# ${n.group}/${n.node}: sent data but no birth${asked.has(`${n.group}/${n.node}`) ? ' (asked for one)' : ''}`,
    )
  lines.push(
    '# Paste the entries under characteristics: (and sparkplug: once) in the configuration.',
  )
  const doc = {
    sparkplug: { hostId: config?.sparkplug.hostId ?? 'linewatch' },
    characteristics: entriesOf(views),
  }
  return `${lines.join('\n')}\n${stringify(doc)}`
}
