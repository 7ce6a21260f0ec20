import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Health } from '../gateway/contract.ts'
import { hashPassword } from '../gateway/sources/credentials.ts'
import { parseMosquittoAcl, permissionsFor } from '../rules/mqtt-acl.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.ts'

/**
 * The same acl_file given to a real Mosquitto (acl_file, password_file) and to the embedded
 * broker (mqtt.broker.aclFile): the same clients try the same publishes and receptions on
 * both, and what each let through is compared. The file probes where the order of the rules
 * matters: a user's deny against its own grant, a user's grant against a pattern deny, a pattern
 * deny against a pattern grant, %u and %c, anonymous clients.
 */

const ACL = `# Clients without a user name.
topic read public/#
topic write anon/in

user filler-1
topic write plant/line-1/#
topic deny plant/line-1/secret
topic read cmd/filler-1/#

user scada
topic read plant/#
topic write cmd/#

user admin
topic readwrite #

# Everyone.
pattern write devices/%u/#
pattern read devices/%u/cmd
pattern deny plant/+/locked
pattern write plant/+/locked/%u
pattern write clients/%c/status
pattern read markers/%c
`

const PASSWORD = 'interop password'
const USERS = ['filler-1', 'filler-2', 'scada', 'admin']
/** Who tries: [client id, user name or null]. */
const CLIENTS: [string, string | null][] = [
  ['anon-1', null],
  ['f1', 'filler-1'],
  ['f2', 'filler-2'],
  ['scada', 'scada'],
]
const TOPICS = [
  'plant/line-1/weight',
  'plant/line-1/secret',
  'plant/line-1/locked',
  'plant/line-1/locked/filler-1',
  'plant/line-2/locked',
  'plant/line-2/locked/filler-2',
  'devices/filler-1/x',
  'devices/filler-2/x',
  'devices/filler-1/cmd',
  'clients/f1/status',
  'clients/f2/status',
  'cmd/filler-1/stop',
  'public/news',
  'anon/in',
]

type Outcomes = Record<string, { publish: string[]; receive: string[] }>
/** The SUBACK return code each client got for each topic. */
type Subacks = Record<string, number[]>

const connect = (url: string, clientId: string, username: string | null) =>
  connectAsync(url, {
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(username ? { username, password: PASSWORD } : {}),
  })

/**
 * What each client may publish (a message the admin, who may receive everything, gets) and
 * receive (a message the admin publishes). Whether a message was let through is known without
 * waiting on a clock: a marker sent after it, on a topic the receiver may read, arrives after it
 * would have (one broker, deliveries to one client in order).
 */
async function probe(url: string): Promise<{ outcomes: Outcomes; subacks: Subacks }> {
  // The admin may publish and receive everything: one connection watches, one publishes.
  const admin = await connect(url, 'admin', 'admin')
  const watcher = await connect(url, 'admin-watcher', 'admin')
  const seenByAdmin: string[] = []
  watcher.on('message', (topic) => seenByAdmin.push(topic))
  await watcher.subscribeAsync('#', { qos: 1 })
  const out: Outcomes = {}
  const subacks: Subacks = {}
  try {
    for (const [clientId, username] of CLIENTS) {
      const client: MqttClient = await connect(url, clientId, username)
      const seen: string[] = []
      client.on('message', (topic) => seen.push(topic))
      const result = { publish: [] as string[], receive: [] as string[] }
      try {
        for (const topic of TOPICS) {
          seenByAdmin.length = 0
          await client.publishAsync(topic, 'probe', { qos: 1 })
          await admin.publishAsync('marker/admin', 'm', { qos: 1 })
          await waitFor('the marker at the admin', () => seenByAdmin.includes('marker/admin'), {
            intervalMs: 2,
          })
          if (seenByAdmin.slice(0, seenByAdmin.indexOf('marker/admin')).includes(topic))
            result.publish.push(topic)
        }
        const marker = `markers/${clientId}`
        // One subscription per topic; mqtt.js rejects a SUBACK of 0x80, with the packet.
        subacks[clientId] = []
        for (const topic of TOPICS)
          subacks[clientId].push(
            await client.subscribeAsync(topic, { qos: 1 }).then(
              (granted) => granted[0]?.qos as number,
              (e: { packet?: { granted: number[] } }) => e.packet?.granted[0] as number,
            ),
          )
        await client.subscribeAsync(marker, { qos: 1 })
        for (const topic of TOPICS) {
          seen.length = 0
          await admin.publishAsync(topic, 'probe', { qos: 1 })
          await admin.publishAsync(marker, 'm', { qos: 1 })
          await waitFor(`the marker at ${clientId}`, () => seen.includes(marker), { intervalMs: 2 })
          if (seen.slice(0, seen.indexOf(marker)).includes(topic)) result.receive.push(topic)
        }
      } finally {
        await client.endAsync()
      }
      out[clientId] = result
    }
  } finally {
    await admin.endAsync()
    await watcher.endAsync()
  }
  return { outcomes: out, subacks }
}

/** The file changed: scada no longer reads plant/#, filler-2 may now read cmd/#. */
const CHANGED_ACL = ACL.replace('user scada\ntopic read plant/#\n', 'user scada\n').replace(
  'user admin\n',
  'user filler-2\ntopic read cmd/#\n\nuser admin\n',
)

/**
 * Whether a client (subscribed to `topic` and to its marker topic, its messages collected in
 * `seen`) still receives a message the admin publishes on `topic`: the marker, sent after it,
 * tells without a clock.
 */
async function stillReceives(
  admin: MqttClient,
  seen: string[],
  topic: string,
  marker: string,
): Promise<boolean> {
  seen.length = 0
  await admin.publishAsync(topic, 'probe', { qos: 1 })
  await admin.publishAsync(marker, 'm', { qos: 1 })
  await waitFor(`the marker ${marker}`, () => seen.includes(marker), { intervalMs: 2 })
  return seen.slice(0, seen.indexOf(marker)).includes(topic)
}

describe('the same acl_file on Mosquitto and on the embedded broker', () => {
  let dir: { path: string; remove(): Promise<void> }
  let mosquitto: Mosquitto
  let aclFile: string

  beforeAll(async () => {
    dir = await tempDir('linewatch-acl-')
    aclFile = join(dir.path, 'acl')
    await writeFile(aclFile, ACL)
    const passwordFile = join(dir.path, 'passwords')
    const mosquittoPasswd = await requireProgram('mosquitto_passwd', 'mosquitto')
    await writeFile(passwordFile, '')
    for (const user of USERS)
      await promisify(execFile)(mosquittoPasswd, ['-b', passwordFile, user, PASSWORD], {
        timeout: 10_000,
      })
    mosquitto = await startMosquitto({
      global: [`acl_file ${aclFile}`, `password_file ${passwordFile}`],
    })
  })
  afterAll(async () => {
    await mosquitto?.stop()
    await dir?.remove()
  })

  /** A gateway whose embedded broker takes its permissions from the same file (looked at every second). */
  async function embeddedOnTheFile() {
    const hash = await hashPassword(PASSWORD)
    return startTestGateway(`
mqtt:
  broker:
    port: 0
    aclFile: ${aclFile}
    aclReloadSeconds: 1
    users:
${USERS.map((u) => `      - { username: ${u}, passwordHash: '${hash}' }`).join('\n')}
characteristics: []
`)
  }

  it('lets the same publishes and receptions through', async () => {
    const gw = await embeddedOnTheFile()
    try {
      const embedded = await probe(gw.gateway.urls.mqtt as string)
      const mosquittoSaw = await probe(mosquitto.url)
      const real = mosquittoSaw.outcomes
      expect(embedded.outcomes).toEqual(real)
      // The one difference, by design: Mosquitto's acl_file grants every SUBSCRIBE and withholds
      // the messages; the embedded broker answers 0x80 where nothing could be delivered.
      for (const [clientId] of CLIENTS) {
        expect(mosquittoSaw.subacks[clientId]).toEqual(TOPICS.map(() => 1))
        expect(embedded.subacks[clientId]).toEqual(
          TOPICS.map((t) => (real[clientId]?.receive.includes(t) ? 1 : 0x80)),
        )
      }

      // What the documented order of the rules gives, written out (the brokers agree on it).
      expect(real.f1?.publish).toEqual([
        'plant/line-1/weight',
        // filler-1's own grant (plant/line-1/#) comes before the pattern deny of plant/+/locked.
        'plant/line-1/locked',
        'plant/line-1/locked/filler-1',
        'devices/filler-1/x',
        'devices/filler-1/cmd',
        'clients/f1/status',
      ])
      // filler-2 has no entries of its own: the patterns only, their deny first.
      expect(real.f2?.publish).toEqual([
        'plant/line-2/locked/filler-2',
        'devices/filler-2/x',
        'clients/f2/status',
      ])
      expect(real.f2?.receive).toEqual([])
      expect(real.f1?.receive).toEqual(['devices/filler-1/cmd', 'cmd/filler-1/stop'])
      expect(real['anon-1']).toEqual({
        publish: ['anon/in'],
        receive: ['public/news'],
      })
      // scada's own read of plant/# comes before the pattern deny of plant/+/locked.
      expect(real.scada?.receive).toEqual(TOPICS.filter((t) => t.startsWith('plant/')))

      // And the pure rules say the same as both.
      const { entries } = parseMosquittoAcl(ACL) as { entries: never }
      for (const [clientId, username] of CLIENTS) {
        const p = permissionsFor(entries, { username, clientId })
        expect(TOPICS.filter((t) => p.canPublish(t))).toEqual(real[clientId]?.publish)
        expect(TOPICS.filter((t) => p.canReceive(t))).toEqual(real[clientId]?.receive)
      }
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('takes a changed acl_file as Mosquitto takes it on SIGHUP, for the clients connected too', async () => {
    const gw = await embeddedOnTheFile()
    const brokers = { embedded: gw.gateway.urls.mqtt as string, mosquitto: mosquitto.url }
    const connected: MqttClient[] = []
    try {
      // scada, connected before the change, reads plant/# on both.
      const watch: Record<string, { admin: MqttClient; scada: MqttClient; seen: string[] }> = {}
      for (const [name, url] of Object.entries(brokers)) {
        const admin = await connect(url, `admin-${name}`, 'admin')
        const scada = await connect(url, 'scada', 'scada')
        connected.push(admin, scada)
        const seen: string[] = []
        scada.on('message', (topic) => seen.push(topic))
        await scada.subscribeAsync(['plant/#', 'markers/scada'], { qos: 1 })
        watch[name] = { admin, scada, seen }
        expect(await stillReceives(admin, seen, 'plant/line-1/weight', 'markers/scada')).toBe(true)
      }
      await writeFile(aclFile, CHANGED_ACL)
      mosquitto.reload()
      await waitFor('Mosquitto to read its files again', () =>
        mosquitto.output().includes('Reloading config'),
      )
      // The connected scada no longer receives plant/… on either (the embedded broker looks at
      // the file every second).
      for (const [name, w] of Object.entries(watch)) {
        await waitFor(
          `scada's read of plant/# withdrawn on ${name}`,
          async () =>
            !(await stillReceives(w.admin, w.seen, 'plant/line-1/weight', 'markers/scada')),
          { timeoutMs: 20_000 },
        )
      }
      // And every client connecting now meets the same permissions on both.
      const embedded = await probe(brokers.embedded)
      const real = (await probe(brokers.mosquitto)).outcomes
      expect(embedded.outcomes).toEqual(real)
      expect(real.scada?.receive).toEqual([])
      expect(real.f2?.receive).toEqual(['cmd/filler-1/stop'])
    } finally {
      for (const c of connected) await c.endAsync()
      await writeFile(aclFile, ACL)
      mosquitto.reload()
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('keeps the permissions in force when the changed acl_file is invalid, counted as an error, and takes the next valid one', async () => {
    const gw = await embeddedOnTheFile()
    const url = gw.gateway.urls.mqtt as string
    const admin = await connect(url, 'admin-invalid', 'admin')
    const scada = await connect(url, 'scada', 'scada')
    const errors = async () => (await gw.get<Health>('/api/health')).body.errors.total
    try {
      const seen: string[] = []
      scada.on('message', (topic) => seen.push(topic))
      await scada.subscribeAsync(['plant/#', 'markers/scada'], { qos: 1 })
      expect(await stillReceives(admin, seen, 'plant/line-1/weight', 'markers/scada')).toBe(true)
      const before = await errors()
      // The change would withdraw scada's read, but one line of the file is wrong: none of it
      // is taken (Mosquitto refuses such a file at start too).
      await writeFile(aclFile, `${CHANGED_ACL}\ntopic sometimes plant/#\n`)
      await waitFor(
        'the invalid file to be refused, counted in health',
        async () => {
          return (await errors()) > before
        },
        { timeoutMs: 20_000 },
      )
      expect(await stillReceives(admin, seen, 'plant/line-1/weight', 'markers/scada')).toBe(true)
      // Mended: taken.
      await writeFile(aclFile, CHANGED_ACL)
      await waitFor(
        "scada's read of plant/# withdrawn",
        async () => !(await stillReceives(admin, seen, 'plant/line-1/weight', 'markers/scada')),
        { timeoutMs: 20_000 },
      )
    } finally {
      await scada.endAsync()
      await admin.endAsync()
      await writeFile(aclFile, ACL)
      await gw.close()
      await gw.removeDataDir()
    }
  })
})
