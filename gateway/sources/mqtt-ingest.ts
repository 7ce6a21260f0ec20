import { receiveTime } from './clock.ts'
import { ParsedReadings, parsePayload, parseSimple } from './payload.ts'
import type { ReadingSink } from './types.ts'

/**
 * From an MQTT message to readings: the topic names the characteristic (exact match, O(1)),
 * the payload gives one or more readings (the common forms by a fast path that reads the bytes,
 * everything else by the full parser). Anything refused goes to the sink's dead letters.
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
  const simple = new ParsedReadings()
  return (topic, payload) => {
    options.onMessage()
    const now = receiveTime()
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
    if (parseSimple(payload, now, simple)) {
      for (let i = 0; i < simple.count; i++) {
        const size = simple.size[i] as number
        sink.reading({
          characteristic,
          ts: simple.ts[i] as number,
          value: simple.value[i] as number,
          size: Number.isNaN(size) ? undefined : size,
          key: simple.key[i],
          receivedAt: now,
        })
      }
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
          receivedAt: now,
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

/**
 * Which topics a source takes: the mapped ones, and those the configured filters match (a
 * message on a topic no characteristic maps is then dead-lettered as unknown-topic). Sparkplug
 * B's namespace (spBv1.0/…) belongs to the Sparkplug host: a filter such as `#` does not take it.
 * A shared subscription `$share/<group>/<filter>` takes what its `<filter>` matches.
 */
export function consumedTopics(
  topics: ReadonlyMap<string, string>,
  filters: readonly string[],
): (topic: string) => boolean {
  const split = filters.map(filterLevels)
  return (topic) =>
    topics.has(topic) ||
    (!topic.startsWith('spBv1.0/') && split.some((f) => topicMatches(f, topic)))
}

/**
 * The levels a subscription matches topics with. A shared subscription (MQTT 5 [MQTT-4.8.2],
 * and Mosquitto for MQTT 3.1.1 clients too) is written `$share/<group>/<filter>`: the broker
 * hands each message that `<filter>` matches to one member of the group, with the topic it was
 * published on, so it is matched by `<filter>`. A malformed one (no filter, a group that is
 * empty or has a wildcard) is left whole: it matches no topic, as the broker refuses it.
 */
export function filterLevels(filter: string): string[] {
  const levels = filter.split('/')
  if (levels[0] !== '$share') return levels
  const group = levels[1]
  const inner = levels.slice(2)
  if (!group || group.includes('+') || group.includes('#') || inner.join('/') === '') return levels
  return inner
}

/**
 * MQTT topic filter matching, filter given by its levels ([MQTT-4.7]); a shared subscription's
 * levels (`$share`, group, filter…) match by the filter's.
 */
export function topicMatches(filter: readonly string[], topic: string): boolean {
  if (filter[0] === '$share') {
    const inner = filterLevels(filter.join('/'))
    return inner[0] !== '$share' && topicMatches(inner, topic)
  }
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with $.
  if (topic.startsWith('$') && (filter[0] === '#' || filter[0] === '+')) return false
  const levels = topic.split('/')
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]
    if (f === '#') return true
    if (i >= levels.length) return false
    if (f !== '+' && f !== levels[i]) return false
  }
  return filter.length === levels.length
}
