import { DataType } from 'node-opcua'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { preferredMember } from '../rules/leases.ts'
import { type ClusterGateway, type ClusterPlant, startClusterPlant } from './helpers/cluster.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import { type SetVariable, startTestServer, type TestServer } from './helpers/opcua.ts'

/**
 * OPC-UA in a cluster: two gateway processes share one Mosquitto, PostgreSQL, Redis and
 * InfluxDB; two node-opcua servers (a CNC and a press), each one unit of ownership after the hash
 * partitions (sorted by server id), held by one gateway, which alone opens a session with it.
 * The holder of the CNC is killed with SIGKILL: the other gateway takes the unit within the lease
 * expiry plus 5 s, opens the session, and the CNC's readings arrive again. Then the CNC's value
 * stops changing (the survivor has taken it), the killed gateway comes back and the CNC is handed
 * back to it; its new subscription's first value repeats the one already taken, and the chart
 * does not take it twice.
 */
const GATEWAYS = ['gw-a', 'gw-b'] as const
const LEASE_MS = 4000
const NS = 'urn:linewatch:test:cluster-machines'
/** Sorted by id: cnc-1 is the first unit after the partitions, press-2 the second. */
const SERVERS = [
  { id: 'cnc-1', characteristic: 'bore', node: 'Bore' },
  { id: 'press-2', characteristic: 'force', node: 'Force' },
] as const

/** Partitions such that rendezvous hashing prefers a different gateway for each server's unit. */
function partitionsSplittingTheServers(): number {
  for (let p = 2; p < 64; p++)
    if (preferredMember(p, [...GATEWAYS]) !== preferredMember(p + 1, [...GATEWAYS])) return p
  throw new Error('no partition count splits the two servers between the gateways')
}
const PARTITIONS = partitionsSplittingTheServers()
const unitOf = (i: number) => PARTITIONS + i

describe('OPC-UA in a cluster: one session per server, on its unit holder', () => {
  let plant: ClusterPlant
  let pki: { path: string; remove(): Promise<void> }
  const servers: TestServer[] = []
  const setters: SetVariable[] = []
  let writer: NodeJS.Timeout | undefined
  /** Servers whose value stops changing. */
  const paused = new Set<number>()

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-cluster-opcua-')
    pki = await tempDir('linewatch-cluster-opcua-pki-')
    for (const [i, s] of SERVERS.entries()) {
      const server = await startTestServer({
        port: await freePort(),
        pkiDir: `${pki.path}/${s.id}`,
        namespaces: [NS],
      })
      servers.push(server)
      setters.push(server.addVariable(NS, s.node, DataType.Double))
      ;(setters[i] as SetVariable)({ dataType: DataType.Double, value: 10 + i })
    }
  }, 120_000)

  afterAll(async () => {
    clearInterval(writer)
    await plant?.stop()
    for (const s of servers) await s.stop()
    await pki?.remove()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'clusteropcua',
      clientId: 'lwo',
      yaml: `opcua:
  servers:
${SERVERS.map((s, i) => `    - { id: ${s.id}, endpoint: '${servers[i]?.endpoint}', samplingIntervalMs: 0, publishingIntervalMs: 100, securityPolicy: None, securityMode: None }`).join('\n')}
characteristics:
${SERVERS.map((s) => `  - { id: ${s.characteristic}, name: ${s.characteristic}, path: plant/machining/${s.id}, source: { opcua: { server: ${s.id}, nodeId: 'nsu=${NS};s=${s.node}' } }, chart: { baselineCount: 8 } }`).join('\n')}
  - { id: plain, name: plain, path: plant/plain, source: { mqtt: { topic: clo/plain } } }
`,
    })

  const sessions = (gw: ClusterGateway) => plant.sources(gw, 'opcua')
  const stored = (characteristic: string, since: number) =>
    plant.stored('clusteropcua', characteristic, since)

  /** Each server's session runs on its unit's holder only, connected. */
  async function sessionsOnHolders(): Promise<void> {
    await plant.waitFor(
      'each server’s session on its holder only',
      async () => {
        const held = await plant.leases()
        for (const gw of plant.gateways.values()) {
          const running = await sessions(gw)
          for (const [i, s] of SERVERS.entries()) {
            const holds = held.get(unitOf(i)) === gw.name
            if ((running.get(`opcua:${s.id}`) === true) !== holds) return false
            if (!holds && running.has(`opcua:${s.id}`)) return false
          }
        }
        return true
      },
      { timeoutMs: 30_000 },
    )
  }

  it('leases each server to one gateway, which alone reads it; a killed holder’s server is taken over and handed back without a reading twice', async () => {
    for (const name of GATEWAYS) await startGateway(name)
    const held = await plant.preferred(PARTITIONS + SERVERS.length, GATEWAYS)
    expect(new Set(SERVERS.map((_, i) => held.get(unitOf(i)))).size, 'one server each').toBe(2)

    // The machines' values change every 100 ms.
    let n = 0
    writer = setInterval(() => {
      n++
      for (const [i, set] of setters.entries())
        if (!paused.has(i))
          set({ dataType: DataType.Double, value: 10 + i + (n % 7) / 10 }, undefined, Date.now())
    }, 100)
    await sessionsOnHolders()
    for (const s of SERVERS)
      await plant.waitFor(
        `readings of ${s.characteristic}`,
        async () => (await stored(s.characteristic, 0)) >= 5,
        {
          timeoutMs: 30_000,
        },
      )

    // Kill the holder of the CNC with SIGKILL.
    const [cnc] = SERVERS
    const victim = held.get(unitOf(0)) as string
    const survivor = GATEWAYS.find((g) => g !== victim) as string
    const theirs = [...held].filter(([, h]) => h === victim).map(([u]) => u)
    await plant.kill(victim)
    const killedAt = Date.now()
    await plant.waitFor(
      `the units of ${victim} held by ${survivor}`,
      async () => {
        const now = await plant.leases()
        return theirs.every((u) => now.get(u) === survivor)
      },
      { timeoutMs: LEASE_MS + 5000, intervalMs: 100 },
    )
    // The survivor opens the CNC's session, and the readings after the kill arrive.
    await sessionsOnHolders()
    for (const s of SERVERS)
      await waitFor(
        `readings of ${s.characteristic} after the kill`,
        async () => (await stored(s.characteristic, killedAt)) >= 5,
        { timeoutMs: 30_000 },
      )

    // The CNC's value stops changing; the survivor takes its last one.
    paused.add(0)
    const last = Date.now()
    setters[0]?.({ dataType: DataType.Double, value: 42.5 }, undefined, last)
    await plant.waitFor(
      `${cnc.characteristic} at ${last}`,
      async () => (await stored(cnc.characteristic, last - 1)) === 1,
      {
        timeoutMs: 10_000,
      },
    )
    // The killed gateway comes back: the CNC is handed back to it (session closed, charts
    // snapshotted, lease given up), and it opens the session, whose first value is that one.
    const back = await startGateway(victim)
    await waitFor(
      `${cnc.id} handed back to ${victim}`,
      async () =>
        (await plant.leases()).get(unitOf(0)) === victim &&
        (await sessions(back)).get(`opcua:${cnc.id}`) === true,
      { timeoutMs: 30_000 },
    )
    await sessionsOnHolders()
    paused.delete(0)
    await plant.waitFor(
      `readings of ${cnc.characteristic} after the handover`,
      async () => (await stored(cnc.characteristic, last)) >= 5,
      { timeoutMs: 30_000 },
    )

    // Since the kill, the CNC's chart has one point per reading, numbered without a gap: the
    // repeated value judged again would have taken the next number and left one out.
    clearInterval(writer)
    const reader = await plant.reader('clusteropcua')
    try {
      const { points, count } = await waitFor(
        `every reading of ${cnc.characteristic} charted`,
        async () => {
          const p = await reader.chartPoints({
            characteristic: cnc.characteristic,
            from: killedAt,
            to: Date.now() + 60_000,
            limit: 100_000,
          })
          const c = await stored(cnc.characteristic, killedAt - 1)
          return p.length === c ? { points: p, count: c } : undefined
        },
      )
      expect(points.length).toBeGreaterThanOrEqual(10)
      const first = points[0]?.index as number
      expect(points.map((p) => p.index)).toEqual(points.map((_, i) => first + i))
      expect(points.length).toBe(count)
      expect(points.filter((p) => p.ts === last)).toHaveLength(1)
    } finally {
      await reader.stop()
    }
  }, 180_000)
})
