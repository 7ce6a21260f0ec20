/** The cluster's public face (docs/scale.md): a gateway among several, by leases on partitions. */
export * from './cluster.ts'
export * from './leases.ts'
