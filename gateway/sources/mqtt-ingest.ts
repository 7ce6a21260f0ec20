import { parsePayload } from './payload.ts'
import type { ReadingSink } from './types.ts'

/**
 * From an MQTT message to readings: the topic names the characteristic (exact match, O(1)),
 * the payload gives one or more readings. Anything refused goes to the sink's dead letters.
 * Shared by the embedded broker and the external-broker client.
 */
export type MqttIngest = (topic: string, payload: Buffer) => void

export function createMqttIngest(options: {
  source: string
  topics: ReadonlyMap<string, string>
  sink: ReadingSink
  maxPacketBytes: number
  onMessage: () => void
}): MqttIngest {
  const { source, topics, sink, maxPacketBytes } = options
  return (topic, payload) => {
    options.onMessage()
    const now = Date.now()
    const characteristic = topics.get(topic)
    if (characteristic === undefined) {
      sink.reject({
        source,
        reason: 'unknown-topic',
        detail: `no characteristic is mapped to topic "${topic}"`,
        address: topic,
        payload,
        ts: now,
      })
      return
    }
    // The embedded broker cuts these off earlier; an external broker may deliver them.
    if (payload.length > maxPacketBytes) {
      sink.reject({
        source,
        reason: 'oversize',
        detail: `payload of ${payload.length} bytes exceeds mqtt.maxPacketBytes (${maxPacketBytes})`,
        address: topic,
        payload: payload.subarray(0, 1024),
        size: payload.length,
        ts: now,
      })
      return
    }
    for (const parsed of parsePayload(payload, now)) {
      if (parsed.ok)
        sink.reading({
          characteristic,
          ts: parsed.ts,
          value: parsed.value,
          size: parsed.size,
          key: parsed.key,
        })
      else
        sink.reject({
          source,
          reason: parsed.reason,
          detail: parsed.detail,
          address: topic,
          payload,
          ts: now,
        })
    }
  }
}
