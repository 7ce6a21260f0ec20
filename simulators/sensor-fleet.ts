import { connect, type MqttClient } from 'mqtt'
import type { Logger } from '../gateway/log.ts'
import type { Scenario, StreamSpec } from './scenario.ts'
import { startStreams } from './ticker.ts'

/**
 * The MQTT sensor fleet: publishes each scenario stream that has an `mqtt` binding in its
 * format (a JSON reading, a JSON array of readings, or a bare number), in real time.
 */
export interface SensorFleet {
  /** Messages published so far. */
  published(): number
  stop(): Promise<void>
}

export async function startSensorFleet(options: {
  scenario: Scenario
  /** Overrides `scenario.mqtt.url`. */
  mqttUrl?: string | undefined
  username?: string | undefined
  password?: string | undefined
  log?: Logger | undefined
}): Promise<SensorFleet> {
  const { scenario } = options
  const url = options.mqttUrl ?? scenario.mqtt.url
  const log = options.log?.child({ module: 'sim-sensors' })
  const client: MqttClient = connect(url, {
    clientId: `linewatch-sensor-fleet-${process.pid}`,
    username: options.username,
    password: options.password,
    reconnectPeriod: 1000,
  })
  client.on('connect', () => log?.info({ url }, 'sensor fleet connected'))
  client.on('offline', () => log?.warn({ url }, 'sensor fleet: broker unreachable, reconnecting'))
  client.on('error', (err) => log?.warn({ err: err.message }, 'sensor fleet: MQTT error'))

  let published = 0
  const batches = new Map<string, { value: number; ts: string }[]>()
  const streams = scenario.streams.filter((s) => s.mqtt)
  const publish = (topic: string, payload: string) => {
    // Readings taken while the broker is away are dropped, as a real sensor without a buffer would.
    if (!client.connected) return
    client.publish(topic, payload, { qos: 0 })
    published++
  }

  const ticker = startStreams(scenario, streams, (stream: StreamSpec, value, ts) => {
    const binding = stream.mqtt
    if (!binding) return
    const iso = new Date(ts).toISOString()
    switch (binding.format) {
      case 'json':
        publish(
          binding.topic,
          JSON.stringify(
            binding.size ? { count: value, size: binding.size, ts: iso } : { value, ts: iso },
          ),
        )
        break
      case 'number':
        publish(binding.topic, String(value))
        break
      case 'array': {
        const batch = batches.get(stream.id) ?? []
        batch.push({ value, ts: iso })
        if (batch.length >= binding.batch) {
          publish(binding.topic, JSON.stringify(batch))
          batches.set(stream.id, [])
        } else batches.set(stream.id, batch)
        break
      }
    }
  })
  log?.info({ url, streams: streams.length }, 'sensor fleet started')

  return {
    published: () => published,
    async stop() {
      ticker.stop()
      await client.endAsync()
    },
  }
}
