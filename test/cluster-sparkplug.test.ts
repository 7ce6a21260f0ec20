import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterUnits } from '../gateway/cluster/units.ts'
import { parseConfig } from '../gateway/config/index.ts'
import { partitionOf } from '../rules/leases.ts'
import { type ClusterGateway, type ClusterPlant, startClusterPlant } from './helpers/cluster.ts'
import { waitFor } from './helpers/index.ts'
import { type EdgeNode, type Metric, startEdgeNode } from './helpers/sparkplug.ts'

/**
 * Issue 12, Sparkplug B in a cluster: two gateway processes share one Mosquitto, PostgreSQL,
 * Redis and InfluxDB; two Sparkplug groups, each with an Eclipse Tahu edge node publishing
 * NDATA every 100 ms. Each group is a unit of ownership after the hash partitions (units
 * PARTITIONS and PARTITIONS+1, the groups in sorted order), held by one gateway, which runs
 * that group's host. The holder of a group is killed with SIGKILL: the other gateway takes the
 * group within the lease expiry plus 5 s, its host asks the node for a rebirth (the node keeps
 * publishing data the new host has seen no birth for) and the group's readings arrive again.
 * Then the killed gateway comes back and Alpha is handed back to it cleanly; the node, silent
 * meanwhile, births again repeating its last value (as a node does when its primary host is
 * back), which the previous holder had already taken: the chart does not take it twice.
 */
// Five: rendezvous hashing then prefers gw-b for unit 5 (Alpha) and gw-a for unit 6 (Beta).
const PARTITIONS = 5
const LEASE_MS = 4000
const GATEWAYS = ['gw-a', 'gw-b'] as const
const HOST_ID = 'lw'
/** Sorted: Alpha is unit PARTITIONS, Beta PARTITIONS + 1 (independent of the gateway's code). */
const GROUPS = [
  { group: 'Alpha', node: 'FillerA', unit: PARTITIONS, ids: ['alpha-weight', 'alpha-torque'] },
  { group: 'Beta', node: 'FillerB', unit: PARTITIONS + 1, ids: ['beta-weight', 'beta-torque'] },
] as const
const METRICS = ['Weight', 'Torque'] as const

const characteristicsYaml = `
characteristics:
${GROUPS.flatMap(({ group, node, ids }) =>
  ids.map(
    (id, i) =>
      `  - { id: ${id}, name: ${id}, path: plant/${group}/${node}, source: { sparkplug: { group: ${group}, node: ${node}, metric: ${METRICS[i]} } }, chart: { baselineCount: 8 } }`,
  ),
).join('\n')}
  - { id: plain, name: plain, path: plant/plain, source: { mqtt: { topic: cl/plain } } }
`

type Running = ClusterGateway

const metrics = (n: number): Metric[] =>
  METRICS.map((name, i) => ({
    name,
    alias: i + 1,
    type: 'Double',
    value: 100 + i * 10 + (n % 7) / 10,
    timestamp: Date.now(),
  }))

describe('cluster units: the hash partitions, then the Sparkplug groups, then the OPC-UA servers', () => {
  const units = (groups: string[]) =>
    clusterUnits({
      ...parseConfig(
        `sparkplug: { hostId: lw }
characteristics:
${groups.map((g) => `  - { id: ${g.toLowerCase()}-x, name: x, path: p/${g}, source: { sparkplug: { group: ${g}, node: N, metric: X } } }`).join('\n')}
  - { id: plain, name: plain, path: p/plain, source: { mqtt: { topic: t/plain } } }
`,
        'units.yaml',
      ),
      cluster: { partitions: 8 },
    })

  it('numbers the groups after the partitions in sorted order; adding one renumbers no partition', () => {
    const two = units(['Essen', 'Dortmund'])
    expect(two.count).toBe(10)
    expect(two.groups).toEqual(['Dortmund', 'Essen'])
    expect(two.unitOf('dortmund-x')).toBe(8)
    expect(two.unitOf('essen-x')).toBe(9)
    expect(two.kindOf(9)).toEqual({ kind: 'sparkplug', group: 'Essen' })
    expect(two.kindOf(3)).toEqual({ kind: 'partition' })
    expect(two.unitOf('plain')).toBe(partitionOf('plain', 8))
    // Bochum sorts first: the groups after it move up by one, the partitions stay.
    const three = units(['Essen', 'Dortmund', 'Bochum'])
    expect([three.unitOf('bochum-x'), three.unitOf('dortmund-x'), three.unitOf('essen-x')]).toEqual(
      [8, 9, 10],
    )
    expect(three.unitOf('plain')).toBe(two.unitOf('plain'))
  })

  it('numbers the OPC-UA servers after the groups, sorted by id; each server is one unit', () => {
    const u = clusterUnits({
      ...parseConfig(
        `sparkplug: { hostId: lw }
opcua:
  servers:
    - { id: press-2, endpoint: 'opc.tcp://127.0.0.1:4841', securityPolicy: None, securityMode: None }
    - { id: cnc-1, endpoint: 'opc.tcp://127.0.0.1:4840', securityPolicy: None, securityMode: None }
characteristics:
  - { id: force, name: x, path: p/press, source: { opcua: { server: press-2, nodeId: 'nsu=urn:m;s=F' } } }
  - { id: bore, name: x, path: p/cnc, source: { opcua: { server: cnc-1, nodeId: 'nsu=urn:m;s=B' } } }
  - { id: spindle, name: x, path: p/cnc, source: { opcua: { server: cnc-1, nodeId: 'nsu=urn:m;s=S' } } }
  - { id: weight, name: x, path: p/fill, source: { sparkplug: { group: Fill, node: N, metric: W } } }
  - { id: plain, name: plain, path: p/plain, source: { mqtt: { topic: t/plain } } }
`,
        'units.yaml',
      ),
      cluster: { partitions: 4 },
    })
    // 4 partitions (0–3), the group Fill (4), then cnc-1 (5) and press-2 (6).
    expect(u.count).toBe(7)
    expect(u.servers).toEqual(['cnc-1', 'press-2'])
    expect([u.unitOf('bore'), u.unitOf('spindle'), u.unitOf('force')]).toEqual([5, 5, 6])
    expect(u.unitOf('weight')).toBe(4)
    expect(u.kindOf(5)).toEqual({ kind: 'opcua', server: 'cnc-1' })
    expect(u.kindOf(6)).toEqual({ kind: 'opcua', server: 'press-2' })
    expect(u.unitOf('plain')).toBe(partitionOf('plain', 4))
  })
})

describe('Sparkplug B in a cluster: split by group (issue 12)', () => {
  let plant: ClusterPlant
  let mosquitto: ClusterPlant['mosquitto']
  let gateways: ClusterPlant['gateways']
  const nodes: EdgeNode[] = []
  let publisher: NodeJS.Timeout | undefined
  /** The last metrics each group's node sent: its births repeat them, as a node's do. */
  const lastSent = new Map<string, Metric[]>()
  const paused = new Set<string>()

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-cluster-sp-')
    ;({ mosquitto, gateways } = plant)
  }, 60_000)

  afterAll(async () => {
    clearInterval(publisher)
    for (const node of nodes) node.stop()
    await plant?.stop()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'clustersp',
      clientId: 'lw',
      yaml: `sparkplug: { hostId: ${HOST_ID}, reorderTimeoutMs: 500, rebirth: { minIntervalMs: 1000 } }\n${characteristicsYaml}`,
    })
  /** Live leases by unit, read from PostgreSQL with its own clock. */
  const leases = () => plant.leases()

  const hosts = (gw: Running) => plant.sources(gw, 'sparkplug')
  const stored = (characteristic: string, since: number) =>
    plant.stored('clustersp', characteristic, since)

  it('leases each group to one gateway, which hosts it; a killed holder’s group is taken over and its readings continue', async () => {
    for (const name of GATEWAYS) await startGateway(name)
    // Settled: every unit held by the gateway rendezvous hashing prefers among the two.
    await plant.preferred(PARTITIONS + GROUPS.length, GATEWAYS)

    // The edge nodes: each publishes its two metrics every 100 ms (QoS 0, as Sparkplug does).
    for (const { group, node } of GROUPS)
      nodes.push(
        await startEdgeNode({
          url: mosquitto.url,
          group,
          node,
          metrics: () => [
            { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
            ...(lastSent.get(group) ?? metrics(0)).map((m) => ({ ...m })),
          ],
        }),
      )
    let n = 0
    publisher = setInterval(() => {
      n++
      for (const node of nodes) {
        if (paused.has(node.group)) continue
        const sent = metrics(n)
        lastSent.set(node.group, sent)
        node.data(sent)
      }
    }, 100)

    // Each group's host runs on its unit's holder only, and its metrics' readings arrive.
    const held = await leases()
    expect(new Set(GROUPS.map((g) => held.get(g.unit))).size, 'one group per gateway').toBe(2)
    for (const { group, unit, ids } of GROUPS) {
      const holder = held.get(unit) as string
      await plant.waitFor(
        `the host of ${group} online on ${holder} only`,
        async () => {
          for (const gw of gateways.values()) {
            const online = (await hosts(gw)).get(`sparkplug:${group}`) === true
            if (online !== (gw.name === holder)) return false
          }
          return true
        },
        { timeoutMs: 20_000 },
      )
      for (const id of ids)
        await waitFor(`readings of ${id}`, async () => (await stored(id, 0)) >= 5, {
          timeoutMs: 30_000,
        })
    }
    // GET /api/sparkplug/nodes on each gateway: the nodes of the group it holds, under that
    // group's host id.
    for (const { group, unit, node } of GROUPS) {
      const holder = gateways.get(held.get(unit) as string) as Running
      const view = (await (await fetch(`${holder.url}/api/sparkplug/nodes`)).json()) as {
        enabled: boolean
        hostId: string
        nodes: { group: string; node: string }[]
      }
      expect(view.enabled).toBe(true)
      expect(view.hostId).toBe(`${HOST_ID}-${group}`)
      expect(view.nodes.map((n) => [n.group, n.node])).toEqual([[group, node]])
    }

    // Kill the holder of Alpha with SIGKILL.
    const [alpha] = GROUPS
    const victim = held.get(alpha.unit) as string
    const survivor = GATEWAYS.find((g) => g !== victim) as string
    const theirs = [...held].filter(([, h]) => h === victim).map(([u]) => u)
    await plant.kill(victim)
    const killedAt = Date.now()

    // Taken over within the lease expiry plus 5 s.
    await plant.waitFor(
      `the units of ${victim} held by ${survivor}`,
      async () => {
        const now = await leases()
        return theirs.every((u) => now.get(u) === survivor)
      },
      { timeoutMs: LEASE_MS + 5000, intervalMs: 100 },
    )
    // The new host asks the node, whose data it has seen no birth for, for a rebirth …
    const node = nodes[0] as EdgeNode
    await waitFor(
      `a rebirth request to ${alpha.node} after the kill`,
      () =>
        node.commands.some(
          (c) =>
            c.at > killedAt &&
            c.payload.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true),
        ),
      { timeoutMs: 20_000 },
    )
    // … and the group's readings published after the kill arrive, judged by the survivor.
    const survivorGw = gateways.get(survivor) as Running
    expect((await hosts(survivorGw)).get(`sparkplug:${alpha.group}`)).toBe(true)
    for (const id of alpha.ids)
      await waitFor(
        `readings of ${id} after the kill`,
        async () => (await stored(id, killedAt)) >= 5,
        { timeoutMs: 30_000 },
      )
    // Beta's readings too, wherever it is now.
    for (const id of GROUPS[1].ids)
      await plant.waitFor(
        `readings of ${id} after the kill`,
        async () => (await stored(id, killedAt)) >= 5,
        { timeoutMs: 30_000 },
      )

    // Alpha's node falls silent; its last value is taken (by the survivor).
    paused.add(alpha.group)
    const repeated = (lastSent.get(alpha.group) as Metric[])[0]?.timestamp as number
    for (const id of alpha.ids)
      await waitFor(`${id} at ${repeated}`, async () => (await stored(id, repeated - 1)) === 1, {
        timeoutMs: 10_000,
      })
    // The killed gateway comes back: Alpha is handed back to it (clean: host stopped, charts
    // snapshotted, lease given up), and its host for Alpha comes online.
    const back = await startGateway(victim)
    await waitFor(
      `${alpha.group} handed back to ${victim}`,
      async () =>
        (await leases()).get(alpha.unit) === victim &&
        (await hosts(back)).get(`sparkplug:${alpha.group}`) === true &&
        !(await hosts(survivorGw)).has(`sparkplug:${alpha.group}`),
      { timeoutMs: 30_000 },
    )
    // The node births again with the value already taken, then goes on publishing.
    node.birth()
    paused.delete(alpha.group)
    for (const id of alpha.ids)
      await waitFor(
        `readings of ${id} after the handover`,
        async () => (await stored(id, repeated)) >= 5,
        { timeoutMs: 30_000 },
      )

    // Since the kill, each Alpha chart has one point per reading, numbered without a gap: the
    // repeated value judged again would have taken the next number and left one out.
    // The node stops publishing first, so that the points and readings compared are the same.
    clearInterval(publisher)
    const reader = await plant.reader('clustersp')
    const pointsOf = (id: string) =>
      reader.chartPoints({
        characteristic: id,
        from: killedAt,
        to: Date.now() + 60_000,
        limit: 100_000,
      })
    try {
      for (const id of alpha.ids) {
        // One snapshot of both: a message still in flight when the node stopped may be stored
        // between two reads (its point a moment later).
        const { points, count } = await waitFor(`every reading of ${id} charted`, async () => {
          const p = await pointsOf(id)
          const n = await stored(id, killedAt - 1)
          return p.length === n ? { points: p, count: n } : undefined
        })
        expect(points.length).toBeGreaterThanOrEqual(10)
        const first = points[0]?.index as number
        expect(
          points.map((p) => p.index),
          id,
        ).toEqual(points.map((_, i) => first + i))
        expect(points.length, id).toBe(count)
      }
    } finally {
      await reader.stop()
    }
  }, 120_000)
})
