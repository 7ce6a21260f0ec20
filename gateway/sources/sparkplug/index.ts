import type { Config } from '../../config/index.ts'
import { sparkplugEnabled } from '../../config/sparkplug-schema.ts'
import { LinewatchError } from '../../errors.ts'
import type { Source, SourceContext, SourceStatus } from '../types.ts'
import type { SparkplugHost } from './host.ts'
import type { SparkplugNodesView } from './view.ts'

/**
 * The Sparkplug B primary host as a source of the gateway (docs/sparkplug.md). This face loads
 * nothing heavy: mqtt.js and the protobuf schema are loaded when the source starts, as the
 * other sources' libraries are (a gateway without Sparkplug never loads them).
 */

export type {
  SparkplugCharacteristicEntry,
  SparkplugDeviceView,
  SparkplugMetricView,
  SparkplugNodesView,
  SparkplugNodeView,
} from './view.ts'
export { sparkplugEnabled }

export interface SparkplugSource extends Source {
  /** What births announced (GET /api/sparkplug/nodes). */
  nodes(): SparkplugNodesView
  /** `abrupt`: without the STATE death and DISCONNECT, so the broker sends the will (host.ts). */
  stop(abrupt?: boolean): Promise<void>
}

/**
 * The configuration of a cluster's host for one Sparkplug group (docs/scale.md): that group's
 * characteristics only, its topics only (`spBv1.0/<group>/#`), and a host id of its own,
 * `<sparkplug.hostId>-<group>` (the client id likewise), so that the group's STATE is the
 * group's whichever gateway holds it, and two groups' hosts never take each other's STATE.
 */
export function sparkplugGroupConfig(config: Config, group: string): Config {
  const sp = config.sparkplug
  const hostId = `${sp.hostId ?? 'linewatch'}-${group}`
  return {
    ...config,
    sparkplug: {
      ...sp,
      hostId,
      ...(sp.clientId === undefined ? {} : { clientId: `${sp.clientId}-${group}` }),
      groups: [group],
    },
    characteristics: config.characteristics.filter((c) => c.source.sparkplug?.group === group),
  }
}

/** Where the host connects: sparkplug.url, else the external broker, else the embedded one. */
export function sparkplugBroker(
  config: Config,
  embeddedPort: number | null,
): { url: string; username: string | undefined; passwordEnv: string | undefined } {
  const sp = config.sparkplug
  const external = config.mqtt.external
  const url =
    sp.url ??
    external?.url ??
    `mqtt://${loopbackHost(config.mqtt.broker.host)}:${embeddedPort ?? config.mqtt.broker.port}`
  const useExternal = sp.url === undefined && external !== undefined
  return {
    url,
    username: sp.username ?? (useExternal ? external.username : undefined),
    passwordEnv: sp.passwordEnv ?? (useExternal ? external.passwordEnv : undefined),
  }
}

/** A host to connect to: a wildcard address is reached on loopback (anonymous 'loopback' lets it in). */
function loopbackHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

export function createSparkplugSource(
  config: Config,
  ctx: SourceContext & {
    env: NodeJS.ProcessEnv
    /** The embedded broker's port once it listens (it may have been given port 0). */
    embeddedPort: () => number | null
    /** The source's name (default `sparkplug`). */
    name?: string
    /** The latest reading time already taken per characteristic (host.ts `takenBefore`). */
    takenBefore?: (characteristic: string) => number | undefined
  },
): SparkplugSource {
  const hostId = config.sparkplug.hostId ?? 'linewatch'
  const name = ctx.name ?? 'sparkplug'
  let host: SparkplugHost | null = null
  // Stopped before the host was made (a cluster's lease lost while starting): never make it.
  let stopped = false
  return {
    name,

    async start() {
      const broker = sparkplugBroker(config, ctx.embeddedPort())
      let password: string | undefined
      if (broker.passwordEnv) {
        password = ctx.env[broker.passwordEnv]
        if (password === undefined)
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `the Sparkplug host's password variable ${broker.passwordEnv} is not set in the environment`,
          )
      }
      // On the external broker, its TLS files too (the broker's certificate is always verified).
      const external = config.mqtt.external
      const tls =
        config.sparkplug.url === undefined && external
          ? await (await import('../mqtt-client.ts')).tlsOptions(external, ctx.env)
          : {}
      const { createSparkplugHost } = await import('./host.ts')
      if (stopped) return
      host = createSparkplugHost(
        {
          config,
          name,
          takenBefore: ctx.takenBefore,
          hostId,
          url: broker.url,
          clientId: config.sparkplug.clientId ?? `linewatch-sparkplug-${hostId}`,
          username: broker.username,
          password,
          tls,
        },
        ctx,
      )
      await host.start()
    },

    status(): SourceStatus {
      return (
        host?.status() ?? {
          name,
          kind: 'sparkplug',
          connected: false,
          detail: 'not started',
          received: 0,
        }
      )
    },

    nodes(): SparkplugNodesView {
      return host?.nodes() ?? { enabled: true, hostId, connected: false, nodes: [] }
    },

    async stop(abrupt = false) {
      stopped = true
      await host?.stop(abrupt)
    },
  }
}

/** The gateway's Sparkplug source among its sources, if it runs one. */
/**
 * The Sparkplug hosts this gateway runs: the one host (`sparkplug`), or in a cluster one per
 * group it holds (`sparkplug:<group>`).
 */
export function findSparkplugSources(sources: readonly Source[]): SparkplugSource[] {
  return sources.filter(
    (s): s is SparkplugSource =>
      (s.name === 'sparkplug' || s.name.startsWith('sparkplug:')) && 'nodes' in s,
  )
}
