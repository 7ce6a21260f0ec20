import type { AlarmService } from '../alarms/index.ts'
import type { ClusterConfig, Config } from '../config/index.ts'
import type { Logger } from '../log.ts'
import type { NcService } from '../nonconformance/index.ts'
import type { Pipeline } from '../pipeline/index.ts'
import type { SparkplugSource } from '../sources/sparkplug/index.ts'
import type { ReadingSink, Source } from '../sources/types.ts'
import { whenAll } from '../store/records-writer.ts'
import type { JournaledStore } from '../store/types.ts'
import { createLeases, type Leases } from './leases.ts'
import type { Tenures } from './tenures.ts'
import { clusterUnits, type UnitKind } from './units.ts'

/**
 * A gateway among several (docs/scale.md). The characteristics are hashed into partitions;
 * this gateway judges the partitions whose lease it holds (leases.ts, in PostgreSQL). For each
 * one it holds, it:
 *
 * 1. restores the partition's charts from the shared journal (the last snapshot and the
 *    committed readings after it), and its alarms and open NCs from the shared records;
 * 2. consumes the partition's topics from the external broker on the partition's own
 *    persistent session (client id `<clientId>-p<partition>`, clean session off), holding every
 *    PUBACK until the reading is committed. The session belongs to the partition, not to the
 *    gateway: when a gateway dies, the broker keeps the session and hands every message not
 *    acknowledged to the next holder when it connects with that client id. A message the dead
 *    gateway had committed but not acknowledged comes again with its packet id, and is known
 *    from the deliveries the journal keeps with the readings.
 *
 * A lease lost (not renewed in time, or taken) stops the partition at once: the connection is
 * closed without sending a held acknowledgement, and the journal refuses any later commit for
 * the partition (fencing), so nothing the next holder does not see is ever acknowledged. A
 * lease handed over (another gateway joined) stops consuming, snapshots the charts and commits
 * before the lease is given up: the next holder restores exactly where this one stopped.
 *
 * A Sparkplug group is a unit leased like a partition (units.ts): its holder restores the
 * group's characteristics the same way, then runs a Sparkplug host for that group alone (host id
 * `<sparkplug.hostId>-<group>`), which asks the nodes for rebirths as any starting host does.
 * Sparkplug sessions are clean and DATA is QoS 0: nothing waits at the broker for the next
 * holder, so what was published between the old host's end and the new one's births is lost.
 *
 * An OPC-UA server is a unit too: its holder restores the server's characteristics and opens
 * the session with it (its own application certificate, from its data directory). A session
 * acknowledges nothing and cannot be handed over: what changed between the old holder's end and
 * the new session's first values is not seen; the first value repeating the last one taken is
 * not taken twice.
 */
export interface Cluster {
  start(): Promise<void>
  stop(): Promise<void>
  /** The partitions' consumers, for health. */
  sources(): Source[]
  status(): ClusterStatus
}

export interface ClusterStatus {
  gateway: string
  partitions: number
  /** The partitions this gateway holds, and how many characteristics they have. */
  held: number[]
  characteristics: number
  leases: ReturnType<Leases['status']>
}

interface Partition {
  ids: string[]
  /** Topic → characteristic, for this partition's MQTT characteristics. */
  topics: Map<string, string>
  /** What the unit stands for: a hash partition, a Sparkplug group, an OPC-UA server. */
  unit: UnitKind
}

export function createCluster(ctx: {
  config: Config & { cluster: ClusterConfig }
  /** The PostgreSQL URL (leases and journal). */
  url: string
  pipeline: Pipeline
  alarms: AlarmService
  nc: NcService
  store: JournaledStore
  /** The partitions held and their epochs, which the journal fences with: kept here. */
  tenures: Tenures
  sink: ReadingSink
  log: Logger
  env: NodeJS.ProcessEnv
  /** The gateway's data directory (its OPC-UA application certificate and PKI). */
  dataDir: string
}): Cluster {
  const { config, pipeline, alarms, nc, store, sink, log } = ctx
  const cluster = config.cluster
  if (!config.mqtt.external) throw new Error('a cluster consumes from mqtt.external')
  const external: NonNullable<Config['mqtt']['external']> = config.mqtt.external
  const base = external.clientId ?? 'linewatch'
  const units = clusterUnits(config)
  const parts = new Map<number, Partition>()
  for (const c of config.characteristics) {
    const p = units.unitOf(c.id)
    let part = parts.get(p)
    if (!part) {
      part = { ids: [], topics: new Map(), unit: units.kindOf(p) }
      parts.set(p, part)
    }
    part.ids.push(c.id)
    if (c.source.mqtt) part.topics.set(c.source.mqtt.topic, c.id)
  }
  const consumers = new Map<number, Source>()
  let characteristics = 0

  /** The session with one OPC-UA server, on the server's unit holder. */
  async function serverSession(server: string): Promise<Source> {
    const { createOpcuaServerSource } = await import('../sources/opcua.ts')
    return createOpcuaServerSource(config, server, {
      sink,
      log: log.child({ module: 'opcua', server }),
      dataDir: ctx.dataDir,
      env: ctx.env,
      // The new session's first value may be the one the previous holder took last.
      takenBefore: (id) => pipeline.runtime(id)?.last?.ts,
    })
  }

  /** What reads a unit's characteristics: the partition's MQTT session, the group's host, the server's session. */
  async function consumerOf(partition: number, part: Partition): Promise<Source> {
    const { unit } = part
    if (unit.kind === 'sparkplug') return groupHost(unit.group)
    if (unit.kind === 'opcua') return serverSession(unit.server)
    const clientId = `${base}-p${partition}`
    const { createMqttClientSource } = await import('../sources/mqtt-client.ts')
    return createMqttClientSource(
      {
        ...external,
        clientId,
        subscribe: [],
        maxPacketBytes: config.mqtt.maxPacketBytes,
        name: `mqtt-external:p${partition}`,
        abruptStop: true,
      },
      part.topics,
      {
        sink,
        log: log.child({ module: 'mqtt-client', partition }),
        env: ctx.env,
        deliveries: () => store.deliveries([clientId]),
      },
    )
  }

  /** `abrupt`: a lost lease (a Sparkplug host then leaves its will to the broker, host.ts). */
  async function stopConsuming(partition: number, abrupt = false): Promise<void> {
    const source = consumers.get(partition)
    consumers.delete(partition)
    // Only a Sparkplug host reads the flag: the partitions' MQTT sessions always stop abruptly.
    await (source as SparkplugSource | undefined)?.stop(abrupt)
  }

  /** The host of one Sparkplug group, on sparkplug.url or the external broker. */
  async function groupHost(group: string): Promise<SparkplugSource> {
    const { createSparkplugSource, sparkplugGroupConfig } = await import(
      '../sources/sparkplug/index.ts'
    )
    return createSparkplugSource(sparkplugGroupConfig(config, group), {
      sink,
      log: log.child({ module: 'sparkplug', group }),
      env: ctx.env,
      embeddedPort: () => null,
      name: `sparkplug:${group}`,
      // The rebirth's NBIRTH repeats values the previous holder may have taken already.
      takenBefore: (id) => pipeline.runtime(id)?.last?.ts,
    })
  }

  function forget(part: Partition, handover: boolean): void {
    pipeline.release(part.ids, handover)
    alarms.release(part.ids)
    nc.release(part.ids)
    characteristics -= part.ids.length
  }

  const leases = createLeases({
    url: ctx.url,
    gateway: cluster.gateway,
    // The hash partitions, then one unit per Sparkplug group.
    partitions: units.count,
    leaseMs: cluster.leaseMs,
    log: log.child({ module: 'leases' }),
    async onAcquire(partition, epoch) {
      ctx.tenures.hold(partition, epoch)
      const part = parts.get(partition)
      if (!part) return
      await pipeline.adopt(part.ids)
      alarms.adopt(part.ids)
      nc.adopt(part.ids)
      characteristics += part.ids.length
      const source = await consumerOf(partition, part)
      consumers.set(partition, source)
      await source.start()
      const { unit } = part
      log.info(
        { partition, epoch, characteristics: part.ids.length, ...unit },
        unit.kind === 'partition'
          ? 'partition taken: charts restored, consuming'
          : `${unit.kind === 'sparkplug' ? 'Sparkplug group' : 'OPC-UA server'} taken: charts restored, ${source.name} started`,
      )
    },
    onLose(partition) {
      ctx.tenures.drop(partition)
      const part = parts.get(partition)
      if (!part) return
      void stopConsuming(partition, true).catch((err) =>
        log.warn({ err, partition }, 'closing the partition session failed'),
      )
      forget(part, false)
      log.warn({ partition }, 'partition lease lost: no longer judged here')
    },
    async onRelease(partition) {
      const part = parts.get(partition)
      if (!part) return
      await stopConsuming(partition)
      forget(part, true)
      // The snapshots, the alarm and NC changes committed before the lease goes.
      await store.flush()
      await new Promise<void>((resolve) => whenAll([alarms.whenDurable, nc.whenDurable], resolve))
      ctx.tenures.drop(partition)
      log.info({ partition }, 'partition handed over')
    },
  })

  return {
    start: () => leases.start(),
    async stop() {
      await leases.stop()
      for (const partition of [...consumers.keys()]) await stopConsuming(partition)
    },
    sources: () => [...consumers.values()],
    status: () => ({
      gateway: cluster.gateway,
      partitions: cluster.partitions,
      held: [...leases.held()].sort((a, b) => a - b),
      characteristics,
      leases: leases.status(),
    }),
  }
}
