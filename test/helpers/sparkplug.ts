import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt'
import sparkplugClient, { type UPayload } from 'sparkplug-client'
import * as tahu from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { waitFor } from './index.ts'

/**
 * Sparkplug B peers for tests: a real third-party edge node (Eclipse Tahu's `sparkplug-client`,
 * which answers rebirth requests when told to), a raw publisher of payloads encoded with Tahu's
 * `sparkplug-payload` (to send what a correct node never would: a skipped seq, garbage, a
 * foreign NDEATH), and an observer of a topic.
 */

export type Metric = NonNullable<UPayload['metrics']>[number]

export interface EdgeNode {
  readonly group: string
  readonly node: string
  /** NCMD payloads received, with when. */
  readonly commands: { at: number; payload: UPayload }[]
  births: number
  /** Publishes NBIRTH (and the DBIRTHs) now. */
  birth(): void
  data(metrics: Metric[]): void
  deviceData(device: string, metrics: Metric[]): void
  deviceDeath(device: string): void
  /** Stops as the client does it: NDEATH (its bdSeq), then DISCONNECT. */
  stop(): void
}

export interface EdgeNodeOptions {
  url: string
  group: string
  node: string
  /** The NBIRTH metrics (a fresh copy is made per birth: the client appends bdSeq to it). */
  metrics: () => Metric[]
  devices?: Record<string, () => Metric[]>
  /** Birth as soon as connected (the client's `birth` event). Default true. */
  birthOnConnect?: boolean
  /** Answer `Node Control/Rebirth` with a birth. Default true. */
  answerRebirth?: boolean
  username?: string
  password?: string
}

export async function startEdgeNode(options: EdgeNodeOptions): Promise<EdgeNode> {
  const client = sparkplugClient.newClient({
    serverUrl: options.url,
    username: options.username ?? 'node',
    password: options.password ?? 'node-secret',
    groupId: options.group,
    edgeNode: options.node,
    clientId: `edge-${options.group}-${options.node}`,
    publishDeath: true,
    mqttOptions: { reconnectPeriod: 0 },
  })
  const node: EdgeNode = {
    group: options.group,
    node: options.node,
    commands: [],
    births: 0,
    birth() {
      node.births++
      client.publishNodeBirth({ timestamp: Date.now(), metrics: options.metrics() })
      for (const [device, metrics] of Object.entries(options.devices ?? {}))
        client.publishDeviceBirth(device, { timestamp: Date.now(), metrics: metrics() })
    },
    data: (metrics) => client.publishNodeData({ timestamp: Date.now(), metrics }),
    deviceData: (device, metrics) =>
      client.publishDeviceData(device, { timestamp: Date.now(), metrics }),
    deviceDeath: (device) => client.publishDeviceDeath(device, { timestamp: Date.now() }),
    stop: () => client.stop(),
  }
  client.on('ncmd', (payload) => {
    node.commands.push({ at: Date.now(), payload })
    const rebirth = payload.metrics?.find((m) => m.name === 'Node Control/Rebirth')
    if (rebirth?.value === true && options.answerRebirth !== false) node.birth()
  })
  const connected = new Promise<void>((resolve, reject) => {
    client.on('birth', () => {
      if (options.birthOnConnect !== false) node.birth()
      resolve()
    })
    client.on('error', reject)
  })
  await connected
  return node
}

/** A plain MQTT client publishing Sparkplug payloads as given (seq and all). */
export async function rawPublisher(url: string): Promise<{
  client: MqttClient
  publish(topic: string, payload: UPayload | Uint8Array, retain?: boolean): Promise<void>
  close(): Promise<void>
}> {
  const client = await connectAsync(url, {
    clientId: `raw-${Math.random().toString(16).slice(2)}`,
    username: 'node',
    password: 'node-secret',
    reconnectPeriod: 0,
  })
  return {
    client,
    async publish(topic, payload) {
      const bytes = payload instanceof Uint8Array ? payload : tahu.encodePayload(payload)
      await client.publishAsync(topic, Buffer.from(bytes), { qos: 0 })
    },
    close: () => client.endAsync(),
  }
}

export interface Observed {
  topic: string
  json: unknown
  retain: boolean
  qos: number
  at: number
}

/** Subscribes to a topic at QoS 1 and keeps what arrives (JSON payloads parsed). */
export async function observe(
  url: string,
  topic: string,
): Promise<{
  seen: Observed[]
  next(what: string, match: (o: Observed) => boolean, from?: number): Promise<Observed>
  close(): Promise<void>
}> {
  const client = await connectAsync(url, {
    clientId: `observer-${Math.random().toString(16).slice(2)}`,
    username: 'node',
    password: 'node-secret',
    reconnectPeriod: 0,
  })
  const seen: Observed[] = []
  client.on('message', (t, payload, packet: IPublishPacket) => {
    let json: unknown = null
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {}
    seen.push({ topic: t, json, retain: packet.retain, qos: packet.qos, at: Date.now() })
  })
  await client.subscribeAsync(topic, { qos: 1 })
  return {
    seen,
    next: (what, match, from = 0) =>
      waitFor(what, () => seen.slice(from).find(match), { timeoutMs: 15_000, intervalMs: 20 }),
    close: () => client.endAsync(),
  }
}
