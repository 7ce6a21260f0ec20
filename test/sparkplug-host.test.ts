import { spawn } from 'node:child_process'
import { join } from 'node:path'
import fc from 'fast-check'
import * as tahu from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import type {
  AlarmEventView,
  AlarmView,
  CharacteristicView,
  DeadLettersView,
  Health,
  ReadingsView,
  SparkplugNodesView,
} from '../gateway/contract.ts'
import { hashPassword } from '../gateway/sources/credentials.ts'
import { decodeSparkplugPayload } from '../gateway/sources/sparkplug/payload.ts'
import type { SparkplugNodeStatus } from '../gateway/sources/status.ts'
import { sparkplugNumber } from '../rules/index.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.ts'
import {
  type EdgeNode,
  type Metric,
  type Observed,
  observe,
  rawPublisher,
  startEdgeNode,
} from './helpers/sparkplug.ts'
import { startTcpProxy } from './helpers/tcp-proxy.ts'

/**
 * The Sparkplug B 3.0 primary host against a real third-party edge node (Eclipse Tahu's
 * `sparkplug-client`) on the gateway's embedded broker. Its deviations are tolerated: the death
 * certificate and the command subscription at QoS 0, bdSeq always 0, no STATE handling (it
 * births at once). What a correct node never sends (a skipped seq, garbage, a foreign NDEATH)
 * comes from a raw publisher with Tahu's own encoder. Tests are named after the host-application
 * assertions of the Sparkplug 3.0 specification they cover.
 */

const HOST = 'lw-test'
const REORDER_MS = 400
const REBIRTH_INTERVAL_MS = 1500
const G = 'Plant1'

const chart = '{ given: { center: 500, sigma: 5 }, rules: [] }'
const ch = (id: string, node: string, metric: string, extra = '') =>
  `  - { id: ${id}, name: ${id}, path: ${G}/${node}, chart: ${chart}, source: { sparkplug: { group: ${G}, node: ${node}, metric: "${metric}" } }${extra} }`

const fillerMetrics = (weight = 500.25): Metric[] => [
  { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
  {
    name: 'Fill weight',
    alias: 1,
    type: 'Double',
    value: weight,
    timestamp: Date.now(),
    properties: { engUnit: { type: 'String', value: 'g' } },
  },
  {
    name: 'Torque',
    alias: 2,
    type: 'Float',
    value: 2.5,
    properties: { engUnit: { type: 'String', value: 'Nm' } },
  },
  { name: 'Speed', alias: 3, type: 'Int32', value: -40 },
  { name: 'Serial', alias: 4, type: 'String', value: 'SN-1' },
]
const simple = (): Metric[] => [
  { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
  { name: 'Weight', alias: 7, type: 'Double', value: 400, timestamp: Date.now() },
]

describe('Sparkplug B payloads', () => {
  it('64-bit fields arrive as Long objects: seq 0 is the number 0, values keep their sign and every bit', () => {
    const bytes = tahu.encodePayload({
      timestamp: 1795334400123,
      seq: 0,
      metrics: [
        { name: 'count', type: 'Int64', value: -5 },
        // protobufjs takes a decimal string for a 64-bit field.
        { name: 'big', type: 'UInt64', value: '18446744073709551615' as unknown as number },
        { name: 't', type: 'Int32', value: -7 },
        { name: 'note', type: 'String', value: 'x' },
      ],
    })
    const p = decodeSparkplugPayload(bytes)
    if ('error' in p) throw new Error(p.error)
    expect(p.seq).toBe(0)
    expect(p.timestamp).toBe(1795334400123)
    expect(p.metrics.map((m) => sparkplugNumber(m.value, m.datatype))).toEqual([
      -5,
      2 ** 64,
      -7,
      null,
    ])
    expect(p.metrics[1]?.value).toBe(2n ** 64n - 1n)
  })

  it('decoding is total: any bytes give a payload or a reason, never an exception (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const p = decodeSparkplugPayload(bytes)
        expect('error' in p ? typeof p.error : Array.isArray(p.metrics)).toBeTruthy()
      }),
      { numRuns: 2000 },
    )
  })
})

describe('Sparkplug configuration', () => {
  const yaml = (sparkplug: string, extra = '') => `
${sparkplug}
characteristics:
  - { id: a, name: A, path: P/L, source: { sparkplug: { group: G1, node: N, metric: M } } }
${extra}`
  const problems = (text: string) => {
    try {
      parseConfig(text, 'plant.yaml')
      return []
    } catch (err) {
      return (err as { issues: { path: string; message: string }[] }).issues.map(
        (i) => `${i.path}: ${i.message}`,
      )
    }
  }

  it('a host id is required once a characteristic reads Sparkplug; defaults as documented', () => {
    expect(problems(yaml(''))).toEqual([
      'sparkplug: sparkplug.hostId is required when the Sparkplug host runs (a characteristic reads Sparkplug)',
    ])
    const config = parseConfig(yaml('sparkplug: { hostId: h1 }'))
    expect(config.sparkplug).toEqual({
      hostId: 'h1',
      groups: [],
      qos: 1,
      reorderTimeoutMs: 2000,
      rebirth: {
        onGap: true,
        onDataBeforeBirth: true,
        onUnknownAlias: true,
        onMalformed: true,
        minIntervalMs: 5000,
      },
    })
  })

  it('a metric mapped twice, a group the host does not take, a host id with a wildcard are refused', () => {
    const twice =
      '  - { id: b, name: B, path: P/L, source: { sparkplug: { group: G1, node: N, metric: M } } }'
    expect(problems(yaml('sparkplug: { hostId: h1, groups: [G2] }', twice))).toEqual([
      'characteristics[0].source.sparkplug.group: group "G1" is not in sparkplug.groups: the host would never receive it',
      'characteristics[1].source.sparkplug.metric: this metric is mapped twice',
      'characteristics[1].source.sparkplug.group: group "G1" is not in sparkplug.groups: the host would never receive it',
    ])
    expect(problems(yaml('sparkplug: { hostId: "a/#" }'))[0]).toMatch(
      /^sparkplug\.hostId: does not match \^\[\^\/#\+\]\+\$ /,
    )
  })
})

describe('Sparkplug B primary host on the embedded broker', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let url: string
  const nodes: EdgeNode[] = []
  const started = Date.now()

  const get = async <T>(path: string, token: string = TOKENS.viewer) =>
    (await gw.get<T>(path, token)).body
  const readings = async (id: string) =>
    (await get<ReadingsView>(`/api/characteristics/${id}/readings`)).readings.map((r) => r.value)
  const waitReading = (id: string, value: number) =>
    waitFor(`a reading ${value} of ${id}`, async () => (await readings(id)).includes(value))
  const nodeStatus = async (node: string): Promise<SparkplugNodeStatus | undefined> =>
    (await get<Health>('/api/health')).sources
      .find((s) => s.name === 'sparkplug')
      ?.sparkplug?.nodes.find((n) => n.group === G && n.node === node)
  const alarm = (id: string) => get<AlarmView>(`/api/alarms/${encodeURIComponent(id)}`)
  const history = (id: string) =>
    get<AlarmEventView[]>(`/api/alarms/${encodeURIComponent(id)}/history`)
  const node = async (options: Omit<Parameters<typeof startEdgeNode>[0], 'url' | 'group'>) => {
    const n = await startEdgeNode({ url, group: G, ...options })
    nodes.push(n)
    return n
  }

  beforeAll(async () => {
    const hash = await hashPassword('node-secret')
    gw = await startTestGateway(`
mqtt:
  broker: { port: 0, users: [{ username: node, passwordHash: '${hash}' }] }
  # Every other topic is taken and dead-lettered: Sparkplug's namespace must not be.
  subscribe: ['#']
sparkplug:
  hostId: ${HOST}
  reorderTimeoutMs: ${REORDER_MS}
  rebirth: { minIntervalMs: ${REBIRTH_INTERVAL_MS} }
characteristics:
${ch('fill-weight', 'Filler', 'Fill weight')}
${ch('torque', 'Filler', 'Torque', ', unit: N·m')}
  - { id: level, name: level, path: ${G}/Filler/Tank, chart: ${chart}, source: { sparkplug: { group: ${G}, node: Filler, device: Tank, metric: Level } } }
${ch('gap-weight', 'Gappy', 'Weight')}
${ch('late-weight', 'Late', 'Weight')}
${ch('alias-weight', 'Aliased', 'Weight')}
${ch('storm-weight', 'Storm', 'Weight')}
${ch('table-weight', 'Tables', 'Weight')}
${ch('raw-weight', 'Raw', 'Weight')}
${ch('ghost-weight', 'Ghost', 'Weight')}
`)
    url = gw.gateway.urls.mqtt as string
  })
  afterAll(async () => {
    for (const n of nodes) n.stop()
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('[tck-id-host-topic-phid-birth-topic] [tck-id-host-topic-phid-birth-qos] [tck-id-host-topic-phid-birth-retain] [tck-id-host-topic-phid-birth-payload] STATE birth: retained at QoS 1 on spBv1.0/STATE/<host_id>, {"online": true, "timestamp": …}', async () => {
    const o = await observe(url, `spBv1.0/STATE/${HOST}`)
    try {
      const birth = await o.next('the retained STATE', () => true)
      expect(birth.topic).toBe(`spBv1.0/STATE/${HOST}`)
      expect(birth.retain).toBe(true)
      expect(birth.qos).toBe(1)
      const json = birth.json as { online: boolean; timestamp: number }
      expect(Object.keys(json).sort()).toEqual(['online', 'timestamp'])
      expect(json.online).toBe(true)
      expect(json.timestamp).toBeGreaterThanOrEqual(started)
      expect(json.timestamp).toBeLessThanOrEqual(Date.now())
      const health = await get<Health>('/api/health')
      expect(health.sources.find((s) => s.name === 'sparkplug')).toMatchObject({
        kind: 'sparkplug',
        connected: true,
      })
    } finally {
      await o.close()
    }
  })

  it('[tck-id-message-flow-hid-sparkplug-state-message-delivered] an offline STATE on its own topic is answered at once with its birth (the same timestamp)', async () => {
    const o = await observe(url, `spBv1.0/STATE/${HOST}`)
    const raw = await rawPublisher(url)
    try {
      const birth = (await o.next('the retained STATE', () => true)).json as { timestamp: number }
      const from = o.seen.length
      const sent = Date.now()
      await raw.client.publishAsync(
        `spBv1.0/STATE/${HOST}`,
        JSON.stringify({ online: false, timestamp: birth.timestamp }),
        { qos: 1, retain: true },
      )
      const offline = await o.next(
        'the offline STATE',
        (x) => (x.json as { online: boolean }).online === false,
        from,
      )
      const again = await o.next(
        'the birth again',
        (x) => (x.json as { online: boolean }).online === true,
        o.seen.indexOf(offline) + 1,
      )
      expect(again.json).toEqual({ online: true, timestamp: birth.timestamp })
      expect(again.at - sent).toBeLessThan(2000)
      // The retained STATE is online again for whoever subscribes next.
      const fresh = await observe(url, `spBv1.0/STATE/${HOST}`)
      expect((await fresh.next('the retained STATE', () => true)).json).toEqual({
        online: true,
        timestamp: birth.timestamp,
      })
      await fresh.close()
    } finally {
      await raw.close()
      await o.close()
    }
  })

  it('NBIRTH and DBIRTH: metrics, aliases and units are learned; NDATA and DDATA arrive by name and by alias', async () => {
    const filler = await node({
      node: 'Filler',
      metrics: () => fillerMetrics(),
      devices: {
        Tank: () => [
          {
            name: 'Level',
            alias: 10,
            type: 'Double',
            value: 1.5,
            properties: { engUnit: { type: 'String', value: 'm' } },
          },
        ],
      },
    })
    await waitReading('fill-weight', 500.25)
    filler.data([{ name: 'Fill weight', type: 'Double', value: 501.5 }])
    filler.data([{ alias: 1, type: 'Double', value: 502.5 } as Metric])
    filler.deviceData('Tank', [{ alias: 10, type: 'Double', value: 3.25 } as Metric])
    await waitReading('fill-weight', 502.5)
    await waitReading('level', 3.25)
    expect(await readings('fill-weight')).toEqual(expect.arrayContaining([500.25, 501.5, 502.5]))
    expect(await readings('torque')).toEqual([2.5])
    // Engineering units fill a unit the configuration leaves open, and only then.
    expect((await get<CharacteristicView>('/api/characteristics/fill-weight')).unit).toBe('g')
    expect((await get<CharacteristicView>('/api/characteristics/level')).unit).toBe('m')
    expect((await get<CharacteristicView>('/api/characteristics/torque')).unit).toBe('N·m')
    expect((await get<CharacteristicView>('/api/characteristics/level')).source).toEqual({
      kind: 'sparkplug',
      group: G,
      node: 'Filler',
      device: 'Tank',
      metric: 'Level',
    })
    expect((await gw.get('/api/sparkplug/nodes', null)).status).toBe(401)
    const view = await get<SparkplugNodesView>('/api/sparkplug/nodes')
    expect(view).toMatchObject({ enabled: true, hostId: HOST, connected: true })
    const n = view.nodes.find((x) => x.node === 'Filler')
    expect(n).toMatchObject({ group: G, online: true, bdSeq: 0 })
    const byName = new Map(n?.metrics.map((m) => [m.name, m]))
    expect(byName.get('Fill weight')).toMatchObject({
      alias: 1,
      datatype: 'Double',
      unit: 'g',
      characteristic: 'fill-weight',
      entry: null,
      staleSince: null,
    })
    expect(byName.get('Speed')?.entry).toEqual({
      id: 'plant1-filler-speed',
      name: 'Speed',
      path: 'Plant1/Filler',
      source: { sparkplug: { group: G, node: 'Filler', metric: 'Speed' } },
    })
    expect(byName.get('Serial')).toMatchObject({ datatype: 'String', entry: null })
    expect(n?.devices).toEqual([
      expect.objectContaining({
        device: 'Tank',
        online: true,
        metrics: [expect.objectContaining({ name: 'Level', alias: 10, characteristic: 'level' })],
      }),
    ])
  })

  it('[tck-id-operational-behavior-host-reordering-start] [tck-id-operational-behavior-host-reordering-rebirth] a missing seq: the reorder timeout runs out, the held message is taken, and an NCMD `Node Control/Rebirth` = true (by name) goes to the node, which is born again', async () => {
    const gappy = await node({ node: 'Gappy', metrics: simple })
    await waitReading('gap-weight', 400)
    const raw = await rawPublisher(url)
    // The node's birth had seq 0: seq 2 comes, 1 never does.
    const sent = Date.now()
    await raw.publish(`spBv1.0/${G}/NDATA/Gappy`, {
      timestamp: Date.now(),
      seq: 2,
      metrics: [{ name: 'Weight', type: 'Double', value: 402 }],
    })
    await raw.close()
    const command = await waitFor('the rebirth request', () => gappy.commands[0])
    expect(command.at - sent).toBeGreaterThanOrEqual(REORDER_MS - 10)
    expect(command.payload.metrics).toEqual([
      expect.objectContaining({ name: 'Node Control/Rebirth', type: 'Boolean', value: true }),
    ])
    expect(command.payload.metrics?.[0]).not.toHaveProperty('alias')
    expect(command.payload).not.toHaveProperty('seq')
    await waitReading('gap-weight', 402)
    await waitFor(
      'the node born again',
      async () => (await nodeStatus('Gappy'))?.online && gappy.births === 2,
    )
    expect(await nodeStatus('Gappy')).toMatchObject({ rebirths: 1, gaps: 1, rebirthsSuppressed: 0 })
    gappy.data([{ name: 'Weight', type: 'Double', value: 403 }])
    await waitReading('gap-weight', 403)
  })

  it('[tck-id-operational-behavior-host-reordering-success] messages out of order within the timeout are taken in seq order, without a rebirth', async () => {
    const raw = await rawPublisher(url)
    try {
      const metrics = (value: number): Metric[] => [{ name: 'Weight', type: 'Double', value }]
      await raw.publish(`spBv1.0/${G}/NBIRTH/Raw`, {
        timestamp: Date.now(),
        seq: 0,
        metrics: [
          { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
          { name: 'bdSeq', type: 'UInt64', value: 4 },
          { name: 'Weight', alias: 1, type: 'Double', value: 300, timestamp: Date.now() },
        ],
      })
      await raw.publish(`spBv1.0/${G}/NDATA/Raw`, {
        timestamp: Date.now(),
        seq: 2,
        metrics: metrics(302),
      })
      await raw.publish(`spBv1.0/${G}/NDATA/Raw`, {
        timestamp: Date.now(),
        seq: 1,
        metrics: metrics(301),
      })
      await waitReading('raw-weight', 302)
      expect(await readings('raw-weight')).toEqual(expect.arrayContaining([300, 301, 302]))
      expect(await nodeStatus('Raw')).toMatchObject({
        online: true,
        gaps: 0,
        rebirths: 0,
        outOfOrder: 0,
      })
    } finally {
      await raw.close()
    }
  })

  it('data before a birth is refused and the node asked for a rebirth; born, its data is taken', async () => {
    const late = await node({ node: 'Late', metrics: simple, birthOnConnect: false })
    late.data([{ name: 'Weight', type: 'Double', value: 410 }])
    await waitFor('the rebirth request', () => late.commands.length > 0)
    await waitReading('late-weight', 400)
    late.data([{ name: 'Weight', type: 'Double', value: 411 }])
    await waitReading('late-weight', 411)
    expect(await readings('late-weight')).not.toContain(410)
    expect(await nodeStatus('Late')).toMatchObject({ beforeBirth: 1, rebirths: 1 })
  })

  it('an alias the birth did not announce is refused with its reason and the node asked for a rebirth', async () => {
    const aliased = await node({ node: 'Aliased', metrics: simple })
    await waitReading('alias-weight', 400)
    aliased.data([
      { alias: 99, type: 'Double', value: 1 } as Metric,
      { alias: 7, type: 'Double', value: 405 } as Metric,
    ])
    await waitReading('alias-weight', 405)
    await waitFor('the rebirth request', () => aliased.commands.length > 0)
    await waitFor('the dead letter', async () =>
      (
        await get<DeadLettersView>('/api/dead-letters?reason=unknown-metric', TOKENS.engineer)
      ).items.some(
        (l) => l.detail === `${G}/Aliased: NDATA names alias 99, which the NBIRTH did not announce`,
      ),
    )
    expect(await nodeStatus('Aliased')).toMatchObject({ unknownMetric: 1, rebirths: 1 })
  })

  it('a malformed payload gets its reason and counter and a rebirth request; the gateway goes on', async () => {
    const filler = nodes.find((n) => n.node === 'Filler') as EdgeNode
    const before = (await get<Health>('/api/health')).counters.rejected['malformed-sparkplug']
    const raw = await rawPublisher(url)
    await raw.publish(`spBv1.0/${G}/NDATA/Filler`, Buffer.from('not a protobuf payload'))
    await raw.close()
    await waitFor('the rebirth request', () => filler.commands.length > 0)
    await waitFor(
      'the malformed payload counted',
      async () =>
        (await get<Health>('/api/health')).counters.rejected['malformed-sparkplug'] === before + 1,
    )
    expect(await nodeStatus('Filler')).toMatchObject({ malformed: 1, rebirths: 1 })
    const letters = await waitFor('the dead letter', async () => {
      const view = await get<DeadLettersView>(
        '/api/dead-letters?reason=malformed-sparkplug',
        TOKENS.engineer,
      )
      return view.items.length > 0 ? view : undefined
    })
    expect(letters.items[0]).toMatchObject({
      source: 'sparkplug',
      address: `spBv1.0/${G}/NDATA/Filler`,
    })
    expect(letters.items[0]?.detail).toMatch(
      /^Plant1\/Filler: cannot decode the Sparkplug B payload: /,
    )
    await waitFor('the node born again', () => filler.births === 2)
    filler.data([{ name: 'Fill weight', type: 'Double', value: 503.5 }])
    await waitReading('fill-weight', 503.5)
  })

  it('rebirth rate limit: a storm of bad payloads from one node gets at most one request per minIntervalMs, and none after it', async () => {
    const storm = await node({ node: 'Storm', metrics: simple, answerRebirth: false })
    await waitReading('storm-weight', 400)
    const raw = await rawPublisher(url)
    const started = Date.now()
    for (let i = 0; i < 20; i++)
      await raw.publish(`spBv1.0/${G}/NDATA/Storm`, Buffer.from([0xff, 0xff, 0xff]))
    await raw.close()
    await waitFor(
      '20 malformed payloads counted',
      async () => (await nodeStatus('Storm'))?.malformed === 20,
    )
    const stormMs = Date.now() - started
    // The requests held back go out when the interval ends: at least a second one.
    await waitFor('the held-back request', () => storm.commands[1], { timeoutMs: 10_000 })
    // Then no more: watch two intervals (a bounded window, not a measure of speed).
    await new Promise((resolve) => setTimeout(resolve, 2 * REBIRTH_INTERVAL_MS))
    // When the host sent each request: its payload's time stamp (the times they were received
    // at can come closer together, the first delivered late on a loaded machine).
    const sent = storm.commands.map((c) => Number(c.payload.timestamp))
    // One request per interval at most, however long the storm took on a loaded machine.
    for (let k = 1; k < sent.length; k++)
      expect((sent[k] as number) - (sent[k - 1] as number)).toBeGreaterThanOrEqual(
        REBIRTH_INTERVAL_MS - 10,
      )
    expect(sent.length).toBeLessThanOrEqual(2 + Math.floor(stormMs / REBIRTH_INTERVAL_MS))
    const status = await nodeStatus('Storm')
    expect(status?.rebirths).toBe(sent.length)
    // Every malformed payload asked for a rebirth: those not sent at once were held back.
    expect(status?.rebirthsSuppressed).toBeGreaterThanOrEqual(20 - sent.length)
  })

  it('a DBIRTH with a DataSet of Int32 columns (which Tahu’s decodePayload throws on, tahu#316) is read', async () => {
    await node({
      node: 'Tables',
      metrics: () => [
        ...simple(),
        {
          name: 'Recipe',
          type: 'DataSet',
          value: {
            numOfColumns: 2,
            columns: ['step', 'ms'],
            types: ['Int32', 'UInt64'],
            rows: [
              [1, 200],
              [2, 300],
            ],
          },
        } as Metric,
      ],
    })
    await waitReading('table-weight', 400)
    const view = await get<SparkplugNodesView>('/api/sparkplug/nodes')
    const tables = view.nodes.find((n) => n.node === 'Tables')
    expect(tables?.metrics.map((m) => [m.name, m.datatype])).toContainEqual(['Recipe', 'DataSet'])
    expect(await nodeStatus('Tables')).toMatchObject({ malformed: 0 })
  })

  it('[tck-id-payloads-ndeath-bdseq] an NDEATH whose bdSeq is not the current birth’s is ignored', async () => {
    await node({ node: 'Ghost', metrics: simple })
    await waitReading('ghost-weight', 400)
    const raw = await rawPublisher(url)
    await raw.publish(`spBv1.0/${G}/NDEATH/Ghost`, {
      timestamp: Date.now(),
      metrics: [{ name: 'bdSeq', type: 'UInt64', value: 5 }],
    })
    await raw.close()
    await waitFor(
      'the death counted as ignored',
      async () => (await nodeStatus('Ghost'))?.ignoredDeaths === 1,
    )
    expect(await nodeStatus('Ghost')).toMatchObject({ online: true })
    expect((await alarm('ghost-weight:comm-loss')).state).toBe('normal')
  })

  it('[tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-offline] [tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-tags-stale] DDEATH: the device offline, its metrics stale, comm-loss for its characteristics only', async () => {
    const filler = nodes.find((n) => n.node === 'Filler') as EdgeNode
    filler.deviceDeath('Tank')
    const lost = await waitFor('level comm-loss', async () => {
      const a = await alarm('level:comm-loss')
      return a.active ? a : undefined
    })
    expect(lost.message).toBe('level communication lost')
    expect((await history('level:comm-loss'))[0]?.why).toContain(
      'Sparkplug DDEATH of device "Tank" of Plant1/Filler',
    )
    expect((await alarm('fill-weight:comm-loss')).active).toBe(false)
    const view = await get<SparkplugNodesView>('/api/sparkplug/nodes')
    const tank = view.nodes
      .find((n) => n.node === 'Filler')
      ?.devices.find((d) => d.device === 'Tank')
    expect(tank?.online).toBe(false)
    expect(tank?.metrics[0]?.staleSince).not.toBeNull()
  })

  it('[tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline] [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-tags-stale] NDEATH with the current bdSeq: the node offline, its metrics stale, a comm-loss alarm for each of its characteristics', async () => {
    const filler = nodes.find((n) => n.node === 'Filler') as EdgeNode
    filler.stop()
    nodes.splice(nodes.indexOf(filler), 1)
    const alarms = await waitFor('comm-loss alarms', async () => {
      const list = await get<AlarmView[]>('/api/alarms')
      const ids = list.filter((a) => a.condition === 'comm-loss').map((a) => a.id)
      return ids.includes('fill-weight:comm-loss') && ids.includes('torque:comm-loss')
        ? list
        : undefined
    })
    const fill = alarms.find((a) => a.id === 'fill-weight:comm-loss')
    expect(fill).toMatchObject({ state: 'unack-active', active: true })
    expect((await history('fill-weight:comm-loss'))[0]?.why).toContain(
      'Sparkplug NDEATH (bdSeq 0) of Plant1/Filler',
    )
    // Other nodes are not concerned.
    expect((await alarm('gap-weight:comm-loss')).active).toBe(false)
    const view = await get<SparkplugNodesView>('/api/sparkplug/nodes')
    const n = view.nodes.find((x) => x.node === 'Filler')
    expect(n?.online).toBe(false)
    expect(n?.deathAt).not.toBeNull()
    expect(n?.metrics.every((m) => m.staleSince !== null)).toBe(true)
  })

  it('Sparkplug traffic on the embedded broker is not dead-lettered as unknown-topic, even with mqtt.subscribe: [#]', async () => {
    const health = await get<Health>('/api/health')
    expect(health.counters.rejected['unknown-topic']).toBe(0)
    expect(health.status === 'ok' || health.status === 'degraded').toBe(true)
    expect(health.sources.find((s) => s.name === 'sparkplug')?.connected).toBe(true)
  })
})

const BIN = join(import.meta.dirname, '..', 'bin', 'linewatch.js')

/** Runs the built `linewatch` CLI as a user would. */
function linewatch(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('Sparkplug B primary host on an external broker (Mosquitto)', () => {
  const EXT = 'lw-ext'
  let mosquitto: Mosquitto
  let link: Awaited<ReturnType<typeof startTcpProxy>>
  let gw: (TestGateway & { removeDataDir(): Promise<void> }) | null = null
  let states: Awaited<ReturnType<typeof observe>>
  let edge: EdgeNode | null = null
  const state = (o: Observed) => o.json as { online: boolean; timestamp: number }

  beforeAll(async () => {
    mosquitto = await startMosquitto()
    link = await startTcpProxy(mosquitto.port)
    states = await observe(mosquitto.url, `spBv1.0/STATE/${EXT}`)
    gw = await startTestGateway(`
mqtt:
  broker: { enabled: false }
  external: { url: 'mqtt://127.0.0.1:${link.port}', clientId: lw-ext-gateway }
sparkplug: { hostId: ${EXT} }
characteristics:
${ch('ext-weight', 'Remote', 'Weight')}
`)
  })
  afterAll(async () => {
    edge?.stop()
    await gw?.close()
    await gw?.removeDataDir()
    await states?.close()
    await link?.close()
    await mosquitto?.stop()
  })

  const get = async <T>(path: string) => {
    if (!gw) throw new Error('the gateway is stopped')
    return (await gw.get<T>(path)).body
  }

  it('readings from a node on the external broker', async () => {
    edge = await startEdgeNode({ url: mosquitto.url, group: G, node: 'Remote', metrics: simple })
    await waitFor('a reading', async () =>
      (await get<ReadingsView>('/api/characteristics/ext-weight/readings')).readings.some(
        (r) => r.value === 400,
      ),
    )
    edge.data([{ name: 'Weight', type: 'Double', value: 401 }])
    await waitFor('a DATA reading', async () =>
      (await get<ReadingsView>('/api/characteristics/ext-weight/readings')).readings.some(
        (r) => r.value === 401,
      ),
    )
  })

  it('[tck-id-operational-behavior-host-application-connect-will] [tck-id-operational-behavior-host-application-connect-will-topic] [tck-id-operational-behavior-host-application-connect-will-payload] [tck-id-operational-behavior-host-application-connect-will-qos] [tck-id-operational-behavior-host-application-connect-will-retained] [tck-id-host-topic-phid-birth-payload-timestamp] a connection lost without DISCONNECT: the broker publishes the will, offline with that connection’s timestamp, retained; the next connection has a will of its own', async () => {
    const first = await states.next('the first birth', (o) => state(o).online)
    const t1 = state(first).timestamp
    link.refuse(true)
    const from = states.seen.length
    link.cut()
    const will1 = await states.next(
      'the will of the first connection',
      (o) => !state(o).online,
      from,
    )
    expect(will1.json).toEqual({ online: false, timestamp: t1 })
    expect(will1.qos).toBe(1)
    // Retained: what a client subscribing now is given.
    const fresh = await observe(mosquitto.url, `spBv1.0/STATE/${EXT}`)
    const retained = await fresh.next('the retained STATE', () => true)
    expect(retained).toMatchObject({ retain: true, json: { online: false, timestamp: t1 } })
    await fresh.close()
    // Communication with the node is lost with the broker.
    await waitFor(
      'comm-loss',
      async () => (await get<AlarmView>('/api/alarms/ext-weight%3Acomm-loss')).active,
    )

    link.refuse(false)
    const second = await states.next(
      'the second birth',
      (o) => state(o).online,
      states.seen.indexOf(will1) + 1,
    )
    const t2 = state(second).timestamp
    expect(t2).toBeGreaterThan(t1)
    // The node that was online is asked for a rebirth after the reconnection.
    await waitFor(
      'a rebirth request after the reconnection',
      () => (edge as EdgeNode).commands.length > 0,
    )
    link.cut()
    const will2 = await states.next(
      'the will of the second connection',
      (o) => !state(o).online,
      states.seen.indexOf(second) + 1,
    )
    expect(will2.json).toEqual({ online: false, timestamp: t2 })
    await states.next(
      'the third birth',
      (o) => state(o).online && state(o).timestamp > t2,
      states.seen.indexOf(will2) + 1,
    )
  })

  it('linewatch sparkplug discover: asks a node seen only by its data for a rebirth, prints what it announced as entries parseConfig accepts', async () => {
    const found = await startEdgeNode({
      url: mosquitto.url,
      group: G,
      node: 'Discovered',
      metrics: () => [
        ...simple(),
        { name: 'Count', alias: 8, type: 'Int32', value: 3 },
        {
          name: 'Weight kg',
          alias: 9,
          type: 'Float',
          value: 1.5,
          properties: { engUnit: { type: 'String', value: 'kg' } },
        },
      ],
      devices: { Scale: () => [{ name: 'Mass', alias: 1, type: 'Double', value: 2.5 }] },
    })
    // Born before the listener starts: it sees data only, until it asks.
    const ticker = setInterval(
      () => found.data([{ name: 'Weight', type: 'Double', value: 400 }]),
      100,
    )
    try {
      const out = await linewatch([
        'sparkplug',
        'discover',
        '--url',
        mosquitto.url,
        '--seconds',
        '2',
        '--group',
        G,
      ])
      expect(out.stderr).toBe('')
      expect(out.code).toBe(0)
      expect(found.commands.length).toBeGreaterThanOrEqual(1)
      expect(out.stdout).toContain('# Plant1/Discovered: online, bdSeq 0, born when asked')
      const config = parseConfig(out.stdout, 'discovered.yaml')
      expect(config.sparkplug.hostId).toBe('linewatch')
      const entries = config.characteristics.filter(
        (c) => c.source.sparkplug?.node === 'Discovered',
      )
      expect(entries.map((c) => [c.id, c.unit, c.path, c.source.sparkplug])).toEqual([
        [
          'plant1-discovered-weight',
          '',
          'Plant1/Discovered',
          { group: G, node: 'Discovered', metric: 'Weight' },
        ],
        [
          'plant1-discovered-count',
          '',
          'Plant1/Discovered',
          { group: G, node: 'Discovered', metric: 'Count' },
        ],
        [
          'plant1-discovered-weight-kg',
          'kg',
          'Plant1/Discovered',
          { group: G, node: 'Discovered', metric: 'Weight kg' },
        ],
        [
          'plant1-discovered-scale-mass',
          '',
          'Plant1/Discovered/Scale',
          { group: G, node: 'Discovered', device: 'Scale', metric: 'Mass' },
        ],
      ])
    } finally {
      clearInterval(ticker)
      found.stop()
    }
  })

  it('[tck-id-operational-behavior-host-application-termination] [tck-id-operational-behavior-host-application-death-payload] [tck-id-host-topic-phid-death-payload-timestamp-disconnect-clean] a clean stop publishes the death (offline, the current time) before DISCONNECT', async () => {
    const last = states.seen.filter((o) => state(o).online).at(-1) as Observed
    const from = states.seen.length
    const stopping = Date.now()
    await gw?.close()
    gw = null
    const death = await states.next('the death', (o) => !state(o).online, from)
    expect(death.qos).toBe(1)
    expect(state(death).timestamp).toBeGreaterThanOrEqual(
      Math.max(stopping - 5, state(last).timestamp),
    )
    const fresh = await observe(mosquitto.url, `spBv1.0/STATE/${EXT}`)
    expect((await fresh.next('the retained STATE', () => true)).json).toEqual(death.json)
    await fresh.close()
  })
})
