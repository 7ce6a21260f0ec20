import { connect, type MqttClient } from 'mqtt'
import { io, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { characteristicSpec, parseConfig } from '../gateway/config/index.ts'
import type { ClientToServer, ServerToClient } from '../gateway/contract.ts'
import { evaluate, initialCharacteristicState } from '../rules/index.ts'
import { partitionOf } from '../rules/leases.ts'
import { type ClusterPlant, startClusterPlant } from './helpers/cluster.ts'
import { waitFor } from './helpers/index.ts'

/**
 * Issue 12: three gateway processes share one plant through one Mosquitto, one PostgreSQL,
 * one Redis and one InfluxDB. 300 characteristics in 12 partitions; a device publishes
 * readings numbered 1…PER for each at QoS 1 to the broker. One gateway is killed with SIGKILL
 * while the readings flow. Its partitions are taken over by the other two within the lease
 * expiry plus 5 s; at the end every reading is stored, and every chart's points equal an
 * uninterrupted run of the rules over its readings taken once each — a reading judged twice
 * (or lost) would shift the points' indices after it.
 */
const C = 300
const PER = 40
const PARTITIONS = 12
const LEASE_MS = 4000
const T0 = Date.UTC(2026, 11, 1, 6)
const GATEWAYS = ['gw-a', 'gw-b', 'gw-c'] as const
const id = (c: number) => `c${String(c).padStart(3, '0')}`
const partitionOfId = (x: string) => partitionOf(x, PARTITIONS)
/** Deterministic values with a shift from reading 25 on some characteristics: rules fire. */
const valueAt = (c: number, seq: number) =>
  10 + ((seq * 37 + c * 11) % 17) / 100 + (c % 5 === 0 && seq > 25 ? 0.4 : 0)

const characteristicsYaml = `
spc: { rules: [N1, N2, N3, N5] }
characteristics:
${Array.from(
  { length: C },
  (_, c) =>
    `  - { id: ${id(c)}, name: ${id(c).toUpperCase()}, path: plant/cluster/line/${id(c)}, source: { mqtt: { topic: cl/${id(c)} } }, chart: { baselineCount: 8 } }`,
).join('\n')}
`

describe('three gateways, one Mosquitto, PostgreSQL, Redis and InfluxDB (issue 12)', () => {
  let plant: ClusterPlant

  beforeAll(async () => {
    plant = await startClusterPlant('linewatch-cluster-')
  }, 60_000)

  afterAll(async () => {
    await plant?.stop()
  })

  const startGateway = (name: string) =>
    plant.startGateway(name, {
      partitions: PARTITIONS,
      leaseMs: LEASE_MS,
      database: 'cluster',
      clientId: 'lw',
      yaml: characteristicsYaml,
    })
  const leases = () => plant.leases()

  it('judges every reading once, shows every gateway on one dashboard, and takes over a killed gateway', async () => {
    for (const name of GATEWAYS) await startGateway(name)
    // Settled: every partition leased, each gateway holding some.
    await plant.settled(PARTITIONS, 3)

    // A dashboard on gw-a.
    const { db, influxd, mosquitto, gateways } = plant
    const a = gateways.get('gw-a')
    const socket: Socket<ServerToClient, ClientToServer> = io(a?.url ?? '', {
      transports: ['websocket'],
    })
    const seenOnA = new Set<string>()
    socket.on('tiles', (tiles) => {
      for (const t of tiles) seenOnA.add(t.id)
    })
    await waitFor('the dashboard socket on gw-a', () => socket.connected)

    // The device publishes readings 1…PER of every characteristic, about 2,000 a second.
    const device = connect(mosquitto.url, { clientId: 'cluster-device', reconnectPeriod: 100 })
    device.on('error', () => {})
    const acked = { count: 0 }
    const published = publishAll(device, acked)

    const victim = 'gw-b'
    await waitFor('a third of the readings', () => acked.count >= (C * PER) / 3, {
      timeoutMs: 60_000,
    })
    const before = await leases()
    const victimPartitions = [...before].filter(([, h]) => h === victim).map(([p]) => p)
    expect(victimPartitions.length).toBeGreaterThan(0)
    // InfluxDB hangs for a moment first: the victim goes on committing readings to the
    // journal, and holds their acknowledgements until InfluxDB answers. Killed then, it leaves
    // readings committed and never acknowledged: the broker sends them again to the next
    // holder, which must know them (else they would be judged twice), and must write to
    // InfluxDB what only the journal has.
    const journaled = async () =>
      Number((await db.query('SELECT count(*) AS n FROM journal_reading')).rows[0]?.n)
    influxd.pause()
    const atPause = await journaled()
    await waitFor(
      'readings committed while InfluxDB hangs',
      async () => (await journaled()) > atPause + 200,
      {
        timeoutMs: 30_000,
      },
    )
    await plant.kill(victim)
    influxd.resume()

    // Taken over within the lease expiry plus 5 s (the bound; the expiry is the
    // database's, the wait starts at the kill).
    await waitFor(
      "the killed gateway's partitions to be held by the others",
      async () => {
        const held = await leases()
        return (
          held.size === PARTITIONS &&
          [...held.values()].every((h) => h !== victim) &&
          victimPartitions.every((p) => held.has(p))
        )
      },
      { timeoutMs: LEASE_MS + 5000, intervalMs: 100 },
    )

    await published
    await device.endAsync()

    // Every reading stored: InfluxDB has PER distinct readings per characteristic.
    const counts = async () => {
      const q = new URLSearchParams({
        db: 'cluster',
        q: 'SELECT count(value) FROM reading GROUP BY characteristic',
      })
      const body = (await (await fetch(`${influxd.url}/query?${q}`)).json()) as {
        results: { series?: { tags: { characteristic: string }; values: [string, number][] }[] }[]
      }
      return new Map(
        (body.results[0]?.series ?? []).map((s) => [s.tags.characteristic, s.values[0]?.[1]]),
      )
    }
    let last = new Map<string, number | undefined>()
    await waitFor(
      'every reading in InfluxDB',
      async () => {
        last = await counts()
        return last.size === C && [...last.values()].every((n) => n === PER)
      },
      { timeoutMs: 90_000 },
    ).catch((err: Error) => {
      const short = [...last].filter(([, n]) => n !== PER).slice(0, 10)
      const missing = Array.from({ length: C }, (_, c) => id(c)).filter((x) => !last.has(x))
      throw new Error(
        `${err.message}: ${last.size} characteristics, short: ${JSON.stringify(short)}, missing partitions: ${JSON.stringify([...new Set(missing.map((x) => partitionOfId(x)))])}\n${[
          ...gateways.values(),
        ]
          .map((g) => g.output().slice(-3000))
          .join('\n')}`,
      )
    })

    // The dashboard on gw-a saw the characteristics gw-b judged before it died.
    const victims = Array.from({ length: C }, (_, c) => id(c)).filter((x) =>
      victimPartitions.includes(partitionOf(x, PARTITIONS)),
    )
    await waitFor('gw-b characteristics on the dashboard of gw-a', () =>
      victims.every((x) => seenOnA.has(x)),
    )
    socket.close()

    // Every chart as an uninterrupted run over its readings, once each.
    const reader = await plant.reader('cluster')
    try {
      const config = parseConfig(characteristicsYaml, 'cluster.yaml')
      for (let c = 0; c < C; c++) {
        const points = await reader.chartPoints({
          characteristic: id(c),
          from: T0,
          to: T0 + (PER + 1) * 1000,
          limit: 10_000,
        })
        const spec = characteristicSpec(config, config.characteristics[c] as never)
        const state = initialCharacteristicState(spec)
        const expected: { index: number; ts: number; phase: string; rules: string[] }[] = []
        for (let seq = 1; seq <= PER; seq++) {
          for (const p of evaluate(spec, state, { ts: T0 + seq * 1000, value: valueAt(c, seq) })
            .points)
            expected.push({
              index: p.index,
              ts: p.ts,
              phase: p.phase,
              rules: [...new Set(p.violations.map((v) => v.rule))].sort(),
            })
        }
        expect(
          points.map((p) => ({
            index: p.index,
            ts: p.ts,
            phase: p.phase,
            rules: [...p.rules].sort(),
          })),
          id(c),
        ).toEqual(expected)
      }
    } finally {
      await reader.stop()
    }
  }, 300_000)
})

/** Publishes readings 1…PER of every characteristic at QoS 1, paced; resolves when all are acknowledged. */
function publishAll(client: MqttClient, acked: { count: number }): Promise<void> {
  return new Promise((resolve) => {
    const total = C * PER
    let next = 0
    let inFlight = 0
    const again: number[] = []
    const pump = () => {
      // At most 100 unacknowledged, 20 per 10 ms tick: about 2,000 a second.
      let budget = 20
      while (inFlight < 100 && budget-- > 0 && (again.length > 0 || next < total)) {
        const k = again.shift() ?? next++
        const seq = Math.floor(k / C) + 1
        const c = k % C
        inFlight++
        client.publish(
          `cl/${id(c)}`,
          JSON.stringify({ value: valueAt(c, seq), ts: T0 + seq * 1000 }),
          { qos: 1 },
          (err) => {
            inFlight--
            if (err) {
              again.push(k)
              return
            }
            acked.count++
            if (acked.count === total) {
              clearInterval(timer)
              resolve()
            }
          },
        )
      }
    }
    const timer = setInterval(pump, 10)
  })
}
