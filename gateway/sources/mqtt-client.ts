import { connect, type MqttClient } from 'mqtt'
import type { Config } from '../config/index.ts'
import { LinewatchError } from '../errors.ts'
import { createMqttIngest } from './mqtt-ingest.ts'
import type { Source, SourceContext, SourceStatus } from './types.ts'

/**
 * Consumes from an external broker (Mosquitto, EMQX, HiveMQ…) with mqtt.js. A persistent
 * session (clean: false, fixed client id) and QoS 1 subscriptions let the broker keep what
 * arrives while the gateway is away; mqtt.js reconnects by itself.
 */
export function createMqttClientSource(
  options: NonNullable<Config['mqtt']['external']> & {
    subscribe: string[]
    maxPacketBytes: number
  },
  topics: ReadonlyMap<string, string>,
  ctx: SourceContext & { env: NodeJS.ProcessEnv },
): Source {
  const { log } = ctx
  let client: MqttClient | null = null
  let received = 0
  let lastError: string | undefined
  const ingest = createMqttIngest({
    source: 'mqtt-external',
    topics,
    sink: ctx.sink,
    maxPacketBytes: options.maxPacketBytes,
    onMessage: () => received++,
  })

  return {
    name: 'mqtt-external',

    async start() {
      let password: string | undefined
      if (options.passwordEnv) {
        password = ctx.env[options.passwordEnv]
        if (password === undefined) {
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `mqtt.external.passwordEnv names ${options.passwordEnv}, which is not set in the environment`,
          )
        }
      }
      const c = connect(options.url, {
        clientId: options.clientId ?? 'linewatch-gateway',
        clean: false,
        username: options.username,
        password,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
      })
      client = c
      c.on('connect', (connack) => {
        lastError = undefined
        log.info(
          { url: options.url, sessionPresent: connack.sessionPresent },
          'connected to the external MQTT broker',
        )
        // A resumed session keeps its subscriptions; subscribing again is harmless and covers a broker that lost it.
        c.subscribe(
          Object.fromEntries(options.subscribe.map((topic) => [topic, { qos: 1 as const }])),
          (err) => {
            if (err) log.error({ err }, 'subscribing on the external MQTT broker failed')
          },
        )
      })
      c.on('message', (topic, payload) => ingest(topic, payload))
      c.on('error', (err) => {
        lastError = err.message
        log.warn({ err: err.message, url: options.url }, 'external MQTT broker error')
      })
      c.on('offline', () =>
        log.warn({ url: options.url }, 'external MQTT broker unreachable; reconnecting'),
      )
    },

    status(): SourceStatus {
      return {
        name: 'mqtt-external',
        kind: 'mqtt-client',
        connected: client?.connected ?? false,
        detail: lastError ?? options.url,
        received,
      }
    },

    async stop() {
      const c = client
      client = null
      if (c) await c.endAsync()
    },
  }
}
