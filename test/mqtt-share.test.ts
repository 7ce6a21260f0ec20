import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import type { DeadLettersView, Health, ReadingsView } from '../gateway/contract.ts'
import { FileIssuesError } from '../gateway/errors.ts'
import { consumedTopics, filterLevels, topicMatches } from '../gateway/sources/mqtt-ingest.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.ts'

/**
 * Shared subscriptions on an external broker (`$share/<group>/<filter>`, MQTT 5 and Mosquitto
 * for 3.1.1 clients): the gateway subscribes with the filter as written and matches a message's
 * topic against the filter part. Against a real Mosquitto: two gateways in one group each store
 * a share of the readings, every reading exactly once between them.
 */

const IDS = ['fill-weight', 'cap-torque', 'label-weight'] as const
const topicOf = (id: string) => `plant/line-1/${id}`

const characteristics = `
characteristics:
${[...IDS, 'warm-up']
  .map(
    (id) =>
      `  - { id: ${id}, name: ${id}, path: Plant/Filling/Line 1/Filler, source: { mqtt: { topic: ${topicOf(id)} } } }`,
  )
  .join('\n')}
`

const gatewayConfig = (url: string, clientId: string) => `
mqtt:
  broker: { enabled: false }
  external: { url: ${url}, clientId: ${clientId} }
  subscribe: ['$share/line/plant/#']
${characteristics}`

describe('shared subscription filters', () => {
  it('match a topic by their filter part; a malformed one matches nothing', () => {
    expect(filterLevels('$share/line/plant/#')).toEqual(['plant', '#'])
    expect(filterLevels('$share/line/+/line-1/fill-weight')).toEqual(['+', 'line-1', 'fill-weight'])
    expect(filterLevels('plant/#')).toEqual(['plant', '#'])
    const matches = (filter: string, topic: string) => topicMatches(filter.split('/'), topic)
    expect(matches('$share/line/plant/#', 'plant/line-1/fill-weight')).toBe(true)
    expect(matches('$share/line/plant/+', 'plant/line-1/fill-weight')).toBe(false)
    expect(matches('$share/line/+/+/fill-weight', 'plant/line-1/fill-weight')).toBe(true)
    // The group is no topic level: `$share/plant/#` shares `#`, it is not a filter on "plant".
    expect(matches('$share/plant/#', 'other/topic')).toBe(true)
    expect(matches('$share/plant/#', '$SYS/broker/uptime')).toBe(false)
    for (const malformed of ['$share/line', '$share/line/', '$share//plant/#', '$share/l+/plant/#'])
      expect(matches(malformed, 'plant/line-1/fill-weight')).toBe(false)
    const wanted = consumedTopics(new Map([['a/b', 'x']]), ['$share/g/plant/#'])
    expect([
      wanted('a/b'),
      wanted('plant/x'),
      wanted('other/x'),
      wanted('spBv1.0/g/NDATA/n'),
    ]).toEqual([true, true, false, false])
  })

  it('config check takes a shared subscription that covers the mapped topics and refuses one that does not', () => {
    const yaml = (filter: string) => `
mqtt:
  broker: { enabled: false }
  external: { url: 'mqtt://broker.plant:1883' }
  subscribe: ['${filter}']
${characteristics}`
    expect(parseConfig(yaml('$share/line/plant/#'), 'plant.yaml').mqtt.subscribe).toEqual([
      '$share/line/plant/#',
    ])
    let issues: string[] = []
    try {
      parseConfig(yaml('$share/plant/line-2/#'), 'plant.yaml')
    } catch (e) {
      if (!(e instanceof FileIssuesError)) throw e
      issues = e.issues.map((i) => `${i.path}: ${i.message}`)
    }
    expect(issues).toHaveLength(IDS.length + 1)
    expect(issues[0]).toMatch(
      /^characteristics\[0\]\.source\.mqtt\.topic: topic "plant\/line-1\/fill-weight" is outside mqtt\.subscribe \(\$share\/plant\/line-2\/#\)/,
    )
  })

  describe('two gateways in one $share group on a real Mosquitto', () => {
    let mosquitto: Mosquitto
    const gateways: (TestGateway & { removeDataDir(): Promise<void> })[] = []

    beforeAll(async () => {
      mosquitto = await startMosquitto()
      for (const clientId of ['linewatch-share-a', 'linewatch-share-b'])
        gateways.push(await startTestGateway(gatewayConfig(mosquitto.url, clientId)))
    }, 60_000)
    afterAll(async () => {
      for (const gw of gateways) {
        await gw.close()
        await gw.removeDataDir()
      }
      await mosquitto?.stop()
    })

    const readings = async (gw: TestGateway, id: string, from: number) =>
      (
        await gw.get<ReadingsView>(
          `/api/characteristics/${id}/readings?from=${from}&to=${from + 3_600_000}&limit=10000`,
        )
      ).body.readings

    it('each QoS 1 reading is stored by exactly one of them, all of them together; an unmapped topic is dead-lettered by the one that got it', async () => {
      for (const gw of gateways)
        await waitFor(
          'the external broker connection',
          async () => (await gw.get<Health>('/api/health', null)).body.sources[0]?.connected,
          { timeoutMs: 30_000 },
        )
      const publisher = await connectAsync(mosquitto.url, { clientId: 'share-publisher' })
      try {
        // Both subscriptions are in place once each gateway has stored a warm-up reading (the
        // broker hands a shared subscription's messages round the group).
        const base = Date.now() - 60_000
        let warmUps = 0
        await waitFor(
          'a warm-up reading at each gateway',
          async () => {
            await publisher.publishAsync(
              topicOf('warm-up'),
              JSON.stringify({ value: warmUps, ts: base + warmUps++ }),
              { qos: 1 },
            )
            const counts = await Promise.all(
              gateways.map(async (gw) => (await readings(gw, 'warm-up', base)).length),
            )
            return counts.every((n) => n > 0)
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        )

        // Published before the readings: a copy at either gateway arrives before its share of them.
        const unmapped = `unmapped ${Date.now()}`
        await publisher.publishAsync('plant/line-1/not-mapped', unmapped, { qos: 1 })

        // N readings over three topics, each with its own time stamp and value.
        const N = 150
        const start = base + 10_000
        const published = new Map<string, number>() // "id ts" → value
        for (let i = 0; i < N; i++) {
          const id = IDS[i % IDS.length] as string
          const ts = start + i
          const value = 100 + i / 8
          published.set(`${id} ${ts}`, value)
          await publisher.publishAsync(topicOf(id), JSON.stringify({ value, ts }), { qos: 1 })
        }

        const stored = async () =>
          Promise.all(
            gateways.map(async (gw) =>
              (
                await Promise.all(
                  IDS.map(async (id) =>
                    (await readings(gw, id, start)).map((r) => [`${id} ${r.ts}`, r.value] as const),
                  ),
                )
              ).flat(),
            ),
          )
        const [a, b] = await waitFor(
          'every reading stored',
          async () => {
            const s = await stored()
            return s.flat().length >= N ? s : undefined
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        )
        if (!a || !b) throw new Error('two gateways expected')
        // Exactly once: no reading at both, none twice at one, together all N with their values.
        expect(new Set(a.map(([k]) => k)).size).toBe(a.length)
        expect(new Set(b.map(([k]) => k)).size).toBe(b.length)
        expect(a.filter(([k]) => b.some(([l]) => l === k))).toEqual([])
        expect(new Map([...a, ...b])).toEqual(published)
        // Both had their share.
        expect(a.length).toBeGreaterThan(0)
        expect(b.length).toBeGreaterThan(0)

        const letters = await waitFor(
          'the unmapped message dead-lettered',
          async () => {
            const views = await Promise.all(
              gateways.map(
                async (gw) =>
                  (await gw.get<DeadLettersView>('/api/dead-letters?limit=1000', TOKENS.engineer))
                    .body,
              ),
            )
            const held = views.map((v) => v.items.filter((d) => d.payloadText === unmapped))
            return held.flat().length > 0 ? held : undefined
          },
          { timeoutMs: 30_000 },
        )
        expect(letters.map((l) => l.length).sort()).toEqual([0, 1])
        expect(letters.flat()[0]).toMatchObject({
          source: 'mqtt-external',
          reason: 'unknown-topic',
          address: 'plant/line-1/not-mapped',
        })
      } finally {
        await publisher.endAsync()
      }
    }, 180_000)
  })
})
