import { partitionOf } from '../../rules/leases.ts'
import type { Config } from '../config/index.ts'

/**
 * The units of ownership of a cluster (docs/scale.md): what one lease covers, numbered
 *
 * - 0 … partitions−1: the hash partitions of the characteristics read over MQTT;
 * - then one unit per Sparkplug group the characteristics name, in sorted order: its host must
 *   see every message of its edge nodes in order (seq);
 * - then one unit per OPC-UA server the characteristics read from, in sorted order of the
 *   server ids: one session per server, on one gateway.
 *
 * Sorting is by code unit, so every gateway numbers them alike. Adding or removing a group or a
 * server renumbers no partition; it renumbers the units sorted after it (their lease rows then
 * name others), so every gateway must run the same list: change it on all gateways at once, as
 * for `cluster.partitions`.
 *
 * The leases, the pipeline's ownership and the journal's fence all ask `unitOf`, so they agree.
 */
export interface ClusterUnits {
  partitions: number
  /** The Sparkplug groups, sorted: group i is unit partitions + i. */
  groups: readonly string[]
  /** The OPC-UA servers (ids), sorted: server i is unit partitions + groups + i. */
  servers: readonly string[]
  /** Units to lease: partitions + groups + servers. */
  count: number
  /** The unit of a characteristic (by id): its Sparkplug group's or OPC-UA server's, else its hash partition. */
  unitOf(characteristic: string): number
  /** What a unit stands for. */
  kindOf(unit: number): UnitKind
}

export type UnitKind =
  | { kind: 'partition' }
  | { kind: 'sparkplug'; group: string }
  | { kind: 'opcua'; server: string }

export function clusterUnits(
  config: Pick<Config, 'characteristics'> & { cluster: { partitions: number } },
): ClusterUnits {
  const { partitions } = config.cluster
  const groupOf = new Map<string, string>()
  const serverOf = new Map<string, string>()
  for (const c of config.characteristics) {
    if (c.source.sparkplug) groupOf.set(c.id, c.source.sparkplug.group)
    else if (c.source.opcua) serverOf.set(c.id, c.source.opcua.server)
  }
  // Plain sort: code-unit order, independent of the locale.
  const groups = [...new Set(groupOf.values())].sort()
  const servers = [...new Set(serverOf.values())].sort()
  const unitOfGroup = new Map(groups.map((g, i) => [g, partitions + i]))
  const unitOfServer = new Map(servers.map((s, i) => [s, partitions + groups.length + i]))
  return {
    partitions,
    groups,
    servers,
    count: partitions + groups.length + servers.length,
    unitOf(characteristic) {
      const group = groupOf.get(characteristic)
      if (group !== undefined) return unitOfGroup.get(group) as number
      const server = serverOf.get(characteristic)
      if (server !== undefined) return unitOfServer.get(server) as number
      return partitionOf(characteristic, partitions)
    },
    kindOf(unit) {
      if (unit < partitions) return { kind: 'partition' }
      const group = groups[unit - partitions]
      if (group !== undefined) return { kind: 'sparkplug', group }
      return { kind: 'opcua', server: servers[unit - partitions - groups.length] as string }
    },
  }
}
