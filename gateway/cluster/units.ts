import { partitionOf } from '../../rules/leases.ts'
import type { Config } from '../config/index.ts'

/**
 * The units of ownership of a cluster (docs/scale.md): what one lease covers. Units
 * 0 … partitions−1 are the hash partitions of the characteristics; units partitions …
 * partitions+groups−1 are the Sparkplug groups the characteristics name, in sorted order
 * (code-unit order, so every gateway numbers them alike). A Sparkplug group is one unit because
 * its host must see every message of its edge nodes in order (seq): a characteristic read from
 * Sparkplug belongs to its group's unit, never to a hash partition.
 *
 * Adding or removing a group renumbers no partition; it renumbers the group units sorted after
 * it (their lease rows then name other groups), so every gateway must run the same group list:
 * change it on all gateways at once, as for `cluster.partitions`.
 *
 * The leases, the pipeline's ownership and the journal's fence all ask `unitOf`, so they agree.
 */
export interface ClusterUnits {
  partitions: number
  /** The Sparkplug groups, sorted: group i is unit partitions + i. */
  groups: readonly string[]
  /** Units to lease: partitions + groups. */
  count: number
  /** The unit of a characteristic (by id): its Sparkplug group's, else its hash partition. */
  unitOf(characteristic: string): number
  /** The Sparkplug group a unit stands for; undefined for a hash partition. */
  groupOf(unit: number): string | undefined
}

export function clusterUnits(
  config: Pick<Config, 'characteristics'> & { cluster: { partitions: number } },
): ClusterUnits {
  const { partitions } = config.cluster
  const groupOfCharacteristic = new Map<string, string>()
  for (const c of config.characteristics)
    if (c.source.sparkplug) groupOfCharacteristic.set(c.id, c.source.sparkplug.group)
  // Plain sort: code-unit order, independent of the locale.
  const groups = [...new Set(groupOfCharacteristic.values())].sort()
  const unitOfGroup = new Map(groups.map((g, i) => [g, partitions + i]))
  return {
    partitions,
    groups,
    count: partitions + groups.length,
    unitOf(characteristic) {
      const group = groupOfCharacteristic.get(characteristic)
      return group === undefined
        ? partitionOf(characteristic, partitions)
        : (unitOfGroup.get(group) as number)
    },
    groupOf: (unit) => (unit >= partitions ? groups[unit - partitions] : undefined),
  }
}
