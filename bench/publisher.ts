/**
 * Benchmark publisher, run as a child process so it does not share the gateway's core.
 * Publishes `total` JSON readings round-robin over `characteristics` topics on `connections`
 * mqtt.js clients, either as fast as the broker takes them (rate 0) or at `rate` per second.
 * Each payload carries its send time (`ts`, epoch ms) for the latency measurement.
 * Protocol with the parent: it sends {start}, the child answers {started: epochMs} then {done}.
 */
import { connectAsync, type MqttClient } from 'mqtt'

interface Job {
  url: string
  connections: number
  total: number
  rate: number
  characteristics: number
  /** First characteristic index (keeps phases apart when needed). */
  topicPrefix: string
}

const WINDOW = 500 // publishes in flight per connection before waiting for the socket

function topic(prefix: string, i: number): string {
  return `${prefix}/c${String(i).padStart(4, '0')}`
}

async function run(job: Job): Promise<void> {
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: job.connections }, () => connectAsync(job.url, { reconnectPeriod: 0 })),
  )
  process.send?.({ started: Date.now() })
  let sent = 0
  let next = 0
  const started = performance.now()
  await Promise.all(
    clients.map(async (client, c) => {
      const share =
        Math.floor(job.total / job.connections) + (c < job.total % job.connections ? 1 : 0)
      let inFlight = 0
      let wake: (() => void) | null = null
      for (let k = 0; k < share; k++) {
        if (job.rate > 0) {
          // Paced: the n-th message of the whole run is due at n / rate seconds.
          const due = (sent / job.rate) * 1000 - (performance.now() - started)
          if (due > 1) await new Promise((r) => setTimeout(r, due))
        }
        const i = next++ % job.characteristics
        const value = 100 + Math.sin(next) * 2 + (next % 7) * 0.1
        inFlight++
        sent++
        client.publish(
          topic(job.topicPrefix, i),
          `{"value":${value.toFixed(3)},"ts":${Date.now()}}`,
          { qos: 0 },
          () => {
            inFlight--
            if (wake && inFlight < WINDOW / 2) {
              const w = wake
              wake = null
              w()
            }
          },
        )
        if (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r))
      }
    }),
  )
  await Promise.all(clients.map((c) => c.endAsync()))
  process.send?.({ done: sent })
}

process.on('message', (msg: { start?: Job }) => {
  if (msg.start) {
    run(msg.start).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      },
    )
  }
})
