import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer, type Socket, connect as tcpConnect } from 'node:net'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import { Aedes } from 'aedes'
import { connectAsync, type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import type { DeadLettersView, Health, ReadingsView } from '../gateway/contract.ts'
import { FileIssuesError, type LinewatchError } from '../gateway/errors.ts'
import { createLogger } from '../gateway/log.ts'
import { hashPassword } from '../gateway/sources/credentials.ts'
import { type CertFiles, createCa, type TestCa } from './helpers/certs.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.ts'

/**
 * MQTT users, permissions and TLS against the real embedded broker (and Mosquitto as an
 * external broker over mqtts): what a device sees on the wire (CONNACK, SUBACK codes, PUBACKs,
 * deliveries, TLS handshakes), and what the gateway stores, counts and keeps.
 */

type Gw = TestGateway & { removeDataDir(): Promise<void> }

const health = async (gw: Gw) => (await gw.get<Health>('/api/health', null)).body
const rejected = async (gw: Gw) => (await health(gw)).counters.rejected
const letters = async (gw: Gw, reason: string) =>
  (await gw.get<DeadLettersView>(`/api/dead-letters?reason=${reason}&limit=50`, TOKENS.engineer))
    .body.items
const readings = async (gw: Gw, id: string) =>
  (
    await gw.get<ReadingsView>(
      `/api/characteristics/${id}/readings?from=0&to=${Date.now() + 86_400_000}`,
    )
  ).body.readings

/** Connects, or the error that refused it (CONNACK code, TLS, closed). */
async function attempt(url: string, options: IClientOptions = {}): Promise<MqttClient | Error> {
  try {
    return await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }, false)
  } catch (e) {
    return e as Error
  }
}
async function connected(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await attempt(url, options)
  if (c instanceof Error) throw c
  return c
}

/** The return codes of a SUBACK (mqtt.js rejects a SUBACK with a failure in it, packet attached). */
async function suback(client: MqttClient, subscriptions: ISubscriptionMap): Promise<number[]> {
  try {
    return (await client.subscribeAsync(subscriptions)).map((g) => g.qos)
  } catch (e) {
    const granted = (e as { packet?: { granted?: number[] } }).packet?.granted
    if (!granted) throw e
    return granted
  }
}

/** Messages a client receives, kept in order. */
function inbox(client: MqttClient): { topic: string; payload: string; retain: boolean }[] {
  const got: { topic: string; payload: string; retain: boolean }[] = []
  client.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), retain: packet.retain }),
  )
  return got
}

describe('the configuration of users, permissions and TLS', () => {
  /** The problems of an invalid configuration, as `path: message`. */
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(`${yaml}\ncharacteristics: []\n`, 'plant.yaml')
    } catch (e) {
      if (e instanceof FileIssuesError) return e.issues.map((i) => `${i.path}: ${i.message}`)
      throw e
    }
    return []
  }

  it('defaults keep what was allowed before: no permissions (everything), plain TCP, no TLS', () => {
    const config = parseConfig('characteristics: []', 'plant.yaml')
    expect(config.mqtt.broker.permissions).toBeUndefined()
    expect(config.mqtt.broker.plainListener).toBe(true)
    expect(config.mqtt.broker.tls).toBeUndefined()
    expect(config.mqtt.broker.signInThrottle).toEqual({
      maxFailures: 5,
      windowSeconds: 60,
      lockSeconds: 60,
    })
  })

  it('refuses what cannot work, naming the setting', () => {
    expect(
      problems(`mqtt:
  broker:
    plainListener: false
    permissions:
      - { user: a, everyone: true, publish: [x] }
      - { publish: [x] }
      - { user: b, publish: ['a/#/b', 'devices/%u'] }
      - { everyone: true, subscribe: ['dev-%u/x'] }
    aclFile: acl`),
    ).toEqual([
      'mqtt.broker.permissions[0]: give exactly one of user, anonymous and everyone',
      'mqtt.broker.permissions[1]: give exactly one of user, anonymous and everyone',
      'mqtt.broker.permissions[2].publish[0]: "#" must be a whole level and the last one (a/#/b)',
      'mqtt.broker.permissions[2].publish[1]: %u and %c are substituted only for everyone (Mosquitto: pattern lines), not here (devices/%u)',
      'mqtt.broker.permissions[3].subscribe[0]: %u and %c must be a whole level (dev-%u/x)',
      'mqtt.broker.aclFile: give permissions or aclFile, not both',
      'mqtt.broker.plainListener: with plainListener off the broker needs mqtt.broker.tls to listen at all',
    ])
    expect(
      problems(`mqtt:
  broker:
    tls: { port: 1883, certFile: c, keyFile: k, crlFile: r, requireClientCertificate: true }
  external: { url: 'mqtt://broker:1883', caFile: ca, certFile: c }`),
    ).toEqual([
      'mqtt.broker.tls.requireClientCertificate: client certificates are verified against tls.caFile: set it',
      'mqtt.broker.tls.crlFile: a CRL needs tls.caFile',
      'mqtt.broker.tls.port: port 1883 is also mqtt.broker.port: give TLS a port of its own',
      'mqtt.external.url: TLS files are given but the URL is not mqtts://, tls:// or wss://',
      'mqtt.external.keyFile: a client certificate needs its key: give certFile and keyFile',
    ])
  })

  it('a start with an unreadable acl_file or TLS file is refused with what to fix', async () => {
    const dir = await tempDir()
    try {
      const acl = `${dir.path}/acl`
      await writeFile(acl, 'user u\ntopic sometimes x\n')
      const refusal = (yaml: string) =>
        startTestGateway(`${yaml}\ncharacteristics: []`).then(
          async (gw) => {
            await gw.close()
            await gw.removeDataDir()
            return null
          },
          (e: unknown) => e as LinewatchError,
        )
      const badAcl = await refusal(`mqtt: { broker: { port: 0, aclFile: ${acl} } }`)
      expect(badAcl?.code).toBe('LW_ERR_CONFIG_INVALID')
      expect(badAcl?.message).toBe(
        `${acl} (mqtt.broker.aclFile) is invalid:\n  ${acl}:2: access must be read, write, readwrite or deny, not "sometimes"`,
      )
      const noCert = await refusal(
        `mqtt: { broker: { port: 0, tls: { port: 0, certFile: ${dir.path}/none.pem, keyFile: ${dir.path}/none.key } } }`,
      )
      expect(noCert?.code).toBe('LW_ERR_TLS_FILE')
      expect(noCert?.message).toMatch(
        /^mqtt\.broker\.tls\.certFile: cannot read .*none\.pem: ENOENT/,
      )
      await writeFile(`${dir.path}/junk.pem`, 'not a certificate')
      const junk = await refusal(
        `mqtt: { broker: { port: 0, tls: { port: 0, certFile: ${dir.path}/junk.pem, keyFile: ${dir.path}/junk.pem } } }`,
      )
      expect(junk?.code).toBe('LW_ERR_TLS_FILE')
      expect(junk?.message).toMatch(
        /^mqtt\.broker\.tls: the certificate, key, CA or CRL file cannot be used: /,
      )
    } finally {
      await dir.remove()
    }
  })

  it('a key with a passphrase opens with the one in keyPassphraseEnv, and not without it', async () => {
    const dir = await tempDir('linewatch-pki-')
    const variable = 'LINEWATCH_TEST_BROKER_KEY_PASSPHRASE'
    try {
      const ca = await createCa(dir.path, 'plant')
      const server = await ca.server()
      const locked = `${dir.path}/locked.key`
      const openssl = await requireProgram('openssl', 'openssl')
      await promisify(execFile)(openssl, [
        'pkey',
        '-in',
        server.key,
        '-aes256',
        '-passout',
        'pass:open sesame',
        '-out',
        locked,
      ])
      const yaml = `mqtt: { broker: { port: 0, tls: { host: 127.0.0.1, port: 0, certFile: ${server.cert}, keyFile: ${locked}, keyPassphraseEnv: ${variable} } } }\ncharacteristics: []`
      delete process.env[variable]
      await expect(startTestGateway(yaml)).rejects.toMatchObject({ code: 'LW_ERR_SECRET_MISSING' })
      process.env[variable] = 'open sesame'
      const gw = await startTestGateway(yaml)
      try {
        const device = await connected(gw.gateway.urls.mqtts as string, {
          ca: await readFile(ca.cert),
        })
        await device.endAsync()
      } finally {
        await gw.close()
        await gw.removeDataDir()
      }
    } finally {
      delete process.env[variable]
      await dir.remove()
    }
  })
})

describe('permissions on the embedded broker (Mosquitto acl_file semantics)', () => {
  let gw: Gw
  let url: string
  const password = 'correct horse battery'
  beforeAll(async () => {
    const hash = await hashPassword(password)
    gw = await startTestGateway(`
mqtt:
  broker:
    port: 0
    anonymous: deny
    users:
      - { username: filler-1, passwordHash: '${hash}' }
      - { username: filler-2, passwordHash: '${hash}' }
      - { username: scada, passwordHash: '${hash}' }
    permissions:
      - { everyone: true, publish: ['plant/%u/#', 'status/%c'] }
      - { user: scada, subscribe: ['plant/#', 'status/+'], publish: ['cmd/#'] }
      - { user: filler-1, subscribe: ['cmd/filler-1/#'] }
      - { user: filler-1, deny: [plant/filler-1/secret] }
characteristics:
  - { id: weight-1, name: Weight 1, path: p/l/c1, source: { mqtt: { topic: plant/filler-1/weight } } }
  - { id: weight-2, name: Weight 2, path: p/l/c2, source: { mqtt: { topic: plant/filler-2/weight } } }
`)
    url = gw.gateway.urls.mqtt as string
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
  })
  const as = (username: string, clientId = `${username}-plc`) =>
    connected(url, { username, password, clientId, protocolVersion: 4 })

  it('a refused subscription is answered with SUBACK 0x80, a permitted one granted; the refusal is counted', async () => {
    const before = await rejected(gw)
    const filler = await as('filler-1')
    try {
      const codes = await suback(filler, { 'cmd/filler-1/#': { qos: 1 }, 'plant/#': { qos: 1 } })
      expect(codes).toEqual([1, 0x80])
      await waitFor(
        'the refusal counted',
        async () => (await rejected(gw))['not-permitted'] === before['not-permitted'] + 1,
      )
      expect((await letters(gw, 'not-permitted'))[0]?.detail).toBe(
        'the subscription of client "filler-1-plc" (user "filler-1") to "plant/#" is refused (SUBACK 0x80): no topic it matches may be received',
      )
    } finally {
      await filler.endAsync()
    }
  })

  it('a refused publish is acknowledged, dropped (not stored, not delivered, not retained) and counted; permitted ones are stored', async () => {
    const before = await rejected(gw)
    const scada = await as('scada')
    const seen = inbox(scada)
    const filler = await as('filler-1')
    try {
      await scada.subscribeAsync('plant/#', { qos: 1 })
      // filler-1 may publish under plant/filler-1/ only (%u), and not to its secret.
      await filler.publishAsync('plant/filler-2/weight', '999', { qos: 1, retain: true })
      await filler.publishAsync('plant/filler-1/secret', 'x', { qos: 1 })
      await filler.publishAsync('plant/filler-1/weight', '500.5', { qos: 1 })
      // PUBACKs of the three came back (publishAsync resolved). The permitted one is stored (its
      // PUBACK waited for the commit) and delivered; the refused ones went nowhere.
      expect((await readings(gw, 'weight-1')).map((r) => r.value)).toEqual([500.5])
      expect(await readings(gw, 'weight-2')).toEqual([])
      await waitFor('the permitted message delivered', () => seen.length > 0)
      expect(seen.map((m) => m.topic)).toEqual(['plant/filler-1/weight'])
      const counted = await waitFor('both refusals counted', async () => {
        const r = await rejected(gw)
        return r['not-permitted'] === before['not-permitted'] + 2 ? r : undefined
      })
      expect(counted['unknown-topic']).toBe(before['unknown-topic'])
      const [secret, other] = await letters(gw, 'not-permitted')
      expect(other).toMatchObject({
        source: 'mqtt',
        address: 'plant/filler-2/weight',
        payloadText: '999',
        detail:
          'a publish by client "filler-1-plc" (user "filler-1") to "plant/filler-2/weight" is not permitted: acknowledged and dropped',
      })
      expect(secret?.address).toBe('plant/filler-1/secret')

      // Not retained: a new subscriber gets filler-2's own retained value, not filler-1's refused one.
      const filler2 = await as('filler-2')
      await filler2.publishAsync('plant/filler-2/state', 'running', { qos: 1, retain: true })
      await filler2.endAsync()
      const late = await as('scada', 'scada-late')
      const lateSeen = inbox(late)
      try {
        await late.subscribeAsync('plant/filler-2/#', { qos: 1 })
        await waitFor('the retained state', () => lateSeen.length > 0)
        // scada may not publish to itself under plant/: the marker goes through cmd/ (granted
        // for publishing, and scada may not receive it: so a second subscription on status/).
        const marker = await as('filler-2', 'marker')
        await late.subscribeAsync('status/marker', { qos: 1 })
        await marker.publishAsync('status/marker', 'done', { qos: 1 })
        await marker.endAsync()
        await waitFor('the marker', () => lateSeen.some((m) => m.topic === 'status/marker'))
        expect(lateSeen.map((m) => [m.topic, m.payload, m.retain])).toEqual([
          ['plant/filler-2/state', 'running', true],
          ['status/marker', 'done', false],
        ])
      } finally {
        await late.endAsync()
        // Cleared, so that later subscriptions do not receive it.
        const clear = await as('filler-2')
        await clear.publishAsync('plant/filler-2/state', '', { qos: 1, retain: true })
        await clear.endAsync()
      }
    } finally {
      await filler.endAsync()
      await scada.endAsync()
    }
  })

  it('%c: a client publishes to status/<its client id> only', async () => {
    const filler = await as('filler-1', 'line-1-filler')
    const scada = await as('scada')
    const seen = inbox(scada)
    try {
      await scada.subscribeAsync('status/+', { qos: 1 })
      await filler.publishAsync('status/line-2-filler', 'spoofed', { qos: 1 })
      await filler.publishAsync('status/line-1-filler', 'ok', { qos: 1 })
      await waitFor('the permitted status', () => seen.length > 0)
      // Deliveries to scada are in publishing order: had the first been routed, it would be first.
      expect(seen.map((m) => [m.topic, m.payload])).toEqual([['status/line-1-filler', 'ok']])
    } finally {
      await filler.endAsync()
      await scada.endAsync()
    }
  })

  it('a granted subscription wider than the grant receives only what may be received', async () => {
    const scada = await as('scada')
    const filler = await as('filler-1')
    const scadaSeen = inbox(scada)
    const fillerSeen = inbox(filler)
    try {
      // scada may receive plant/# and status/+: "#" is granted, deliveries are filtered.
      const [granted] = await scada.subscribeAsync('#', { qos: 1 })
      expect(granted?.qos).toBe(1)
      await filler.subscribeAsync('cmd/filler-1/#', { qos: 1 })
      await scada.publishAsync('cmd/filler-1/stop', 'now', { qos: 1 })
      await waitFor('the command at filler-1', () => fillerSeen.length > 0)
      await filler.publishAsync('plant/filler-1/weight', '501', { qos: 1 })
      await waitFor('the weight at scada', () =>
        scadaSeen.some((m) => m.topic === 'plant/filler-1/weight'),
      )
      // The command (published first) never reached scada, which may not receive cmd/.
      expect(scadaSeen.map((m) => m.topic)).toEqual(['plant/filler-1/weight'])
    } finally {
      await filler.endAsync()
      await scada.endAsync()
    }
  })

  it('a will the permissions refuse is dropped and counted when its client goes', async () => {
    const before = await rejected(gw)
    const scada = await as('scada')
    const seen = inbox(scada)
    await scada.subscribeAsync('plant/#', { qos: 1 })
    const filler = await connected(url, {
      username: 'filler-1',
      password,
      clientId: 'will-tester',
      will: { topic: 'plant/filler-2/alarm', payload: Buffer.from('gone'), qos: 1, retain: false },
    })
    const gone = new Promise<void>((resolve) => filler.once('close', () => resolve()))
    filler.stream.destroy() // no DISCONNECT: the will would go out
    await gone
    try {
      const letter = await waitFor('the will refused', async () =>
        (await letters(gw, 'not-permitted')).find((l) => l.detail.startsWith('the will of')),
      )
      expect(letter.detail).toBe(
        'the will of client "will-tester" (user "filler-1") to "plant/filler-2/alarm" is not permitted: acknowledged and dropped',
      )
      expect((await rejected(gw))['not-permitted']).toBe(before['not-permitted'] + 1)
      const marker = await as('filler-1', 'marker-2')
      await marker.publishAsync('plant/filler-1/done', 'x', { qos: 1 })
      await marker.endAsync()
      await waitFor('the marker', () => seen.length > 0)
      expect(seen.map((m) => m.topic)).toEqual(['plant/filler-1/done'])
    } finally {
      await scada.endAsync()
    }
  })
})

describe('refused sign-ins are counted and throttled per client address', () => {
  it('wrong passwords lock the address; the right one is then refused too until the lock ends; the log stays bounded', async () => {
    const lines: Record<string, unknown>[] = []
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l))
        done()
      },
    })
    const hash = await hashPassword('the right one')
    const gw = await startTestGateway(
      `
mqtt:
  broker:
    port: 0
    anonymous: deny
    users: [{ username: filler-1, passwordHash: '${hash}' }]
    signInThrottle: { maxFailures: 3, windowSeconds: 60, lockSeconds: 2 }
characteristics: []
`,
      { log: createLogger('info', sink) },
    )
    try {
      const url = gw.gateway.urls.mqtt as string
      const wrong = () => attempt(url, { username: 'filler-1', password: 'guess' })
      for (let i = 0; i < 3; i++) expect(String(await wrong())).toMatch(/Bad username or password/)
      // Locked: refused without looking at the password (0x05, not authorized).
      expect(
        String(await attempt(url, { username: 'filler-1', password: 'the right one' })),
      ).toMatch(/Not authorized/)
      const r = await waitFor('the refusals counted', async () => {
        const c = await rejected(gw)
        return c['bad-credentials'] === 4 ? c : undefined
      })
      expect(r['not-permitted']).toBe(0)
      // Newest first; the client ids are mqtt.js's random ones.
      const details = (await letters(gw, 'bad-credentials')).map((l) =>
        l.detail.replace(/^MQTT client "[^"]+"/, 'MQTT client "?"'),
      )
      const refused = 'MQTT client "?" (127.0.0.1, user "filler-1") refused:'
      expect(details).toEqual([
        expect.stringMatching(
          /^MQTT client "\?" \(127\.0\.0\.1, user "filler-1"\) refused: too many failed sign-ins \(3 within 1 min\): locked until \d{4}-/,
        ),
        `${refused} bad username or password; 127.0.0.1 is locked for 2 s after 3 refused sign-ins`,
        `${refused} bad username or password`,
        `${refused} bad username or password`,
      ])
      const source = (await health(gw)).sources.find((s) => s.name === 'mqtt')
      expect(source?.counts).toMatchObject({ 'sign-ins-refused': 4, 'addresses-locked': 1 })
      // The lock ends (2 s): the right password is accepted again; attempts while locked did not extend it.
      const ok = await waitFor(
        'the lock to end',
        async () => {
          const c = await attempt(url, { username: 'filler-1', password: 'the right one' })
          return c instanceof Error ? undefined : c
        },
        { timeoutMs: 6000, intervalMs: 250 },
      )
      await ok.endAsync()
      // Four refusals and a lock: at most one warning line per kind within the 10 s log window.
      const warnings = lines.filter((l) => l.level === 40)
      expect(warnings.filter((l) => l.reason === 'bad-credentials')).toHaveLength(1)
      expect(
        warnings.filter((l) => l.msg === 'MQTT client address locked after refused sign-ins'),
      ).toHaveLength(1)
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })
})

describe('MQTT 3.1.1 where aedes is lax', () => {
  it('[MQTT-3.1.3-8] an empty client id with a persistent session is refused with CONNACK 0x02', async () => {
    const gw = await startTestGateway('mqtt: { broker: { port: 0 } }\ncharacteristics: []')
    try {
      const socket = tcpConnect(Number(new URL(gw.gateway.urls.mqtt as string).port), '127.0.0.1')
      const received: Packet[] = []
      const parser = mqttPacket.parser()
      parser.on('packet', (p) => received.push(p))
      socket.on('data', (d: Buffer) => parser.parse(d))
      socket.on('error', () => {})
      const closed = once(socket, 'close')
      await once(socket, 'connect')
      // Written by hand (mqtt-packet refuses to): protocol level 4, flags 0 (clean session 0), id "".
      const body = Buffer.from([0, 4, ...Buffer.from('MQTT'), 4, 0x00, 0, 60, 0, 0])
      socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
      await closed
      expect(received).toMatchObject([{ cmd: 'connack', returnCode: 2 }])
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })
})

describe('TLS on the embedded broker: client certificates, CA, CRL', () => {
  let dir: { path: string; remove(): Promise<void> }
  let plant: TestCa
  let rogue: TestCa
  let gw: Gw
  let url: string
  let certs: Record<'filler1' | 'filler2' | 'filler3' | 'intruder', CertFiles>
  const tlsOptions = async (
    ca: string | null,
    client: CertFiles | null,
  ): Promise<IClientOptions> => ({
    protocolVersion: 4,
    ...(ca ? { ca: await readFile(ca) } : {}),
    ...(client ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {}),
  })

  beforeAll(async () => {
    dir = await tempDir('linewatch-pki-')
    plant = await createCa(dir.path, 'plant')
    rogue = await createCa(dir.path, 'rogue')
    const server = await plant.server()
    certs = {
      filler1: await plant.client('filler-1'),
      filler2: await plant.client('filler-2'),
      filler3: await plant.client('filler-3'),
      intruder: await rogue.client('filler-1'),
    }
    await plant.revoke(certs.filler2.cert)
    gw = await startTestGateway(`
mqtt:
  broker:
    port: 0
    plainListener: false
    anonymous: deny
    tls:
      host: 127.0.0.1
      port: 0
      certFile: ${server.cert}
      keyFile: ${server.key}
      caFile: ${plant.cert}
      crlFile: ${plant.crl}
      requireClientCertificate: true
      reloadSeconds: 1
    permissions:
      - { everyone: true, publish: ['plant/%u/#'] }
characteristics:
  - { id: weight-1, name: Weight 1, path: p/l/c1, source: { mqtt: { topic: plant/filler-1/weight } } }
`)
    url = gw.gateway.urls.mqtts as string
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
    await dir?.remove()
  })

  it('a device trusting the CA, with its certificate, signs in as its CN and publishes under plant/%u; every acknowledged reading is stored', async () => {
    expect(gw.gateway.urls.mqtt).toBeNull()
    expect(url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/)
    const before = (await rejected(gw))['tls-handshake']
    const filler = await connected(url, await tlsOptions(plant.cert, certs.filler1))
    try {
      // Refused handshakes on other connections meanwhile do not disturb it.
      const refusals = Array.from({ length: 5 }, async () =>
        attempt(url, await tlsOptions(plant.cert, null)),
      )
      for (let i = 0; i < 20; i++)
        await filler.publishAsync('plant/filler-1/weight', String(500 + i), { qos: 1 })
      for (const r of await Promise.all(refusals)) expect(r).toBeInstanceOf(Error)
      await waitFor(
        'the five refusals counted',
        async () => (await rejected(gw))['tls-handshake'] === before + 5,
      )
      // Each PUBACK came after the commit: all twenty are there at once.
      expect((await readings(gw, 'weight-1')).map((r) => r.value)).toEqual(
        Array.from({ length: 20 }, (_, i) => 500 + i),
      )
      // As user "filler-1" it may not publish under another's name: acknowledged, dropped.
      await filler.publishAsync('plant/filler-2/weight', '1', { qos: 1 })
      const letter = await waitFor(
        'the refusal',
        async () => (await letters(gw, 'not-permitted'))[0],
      )
      expect(letter.detail).toMatch(
        /\(user "filler-1"\) to "plant\/filler-2\/weight" is not permitted/,
      )
    } finally {
      await filler.endAsync()
    }
  })

  it('a device refuses a broker certificate its CA did not sign (and the broker counts the aborted handshake)', async () => {
    const before = (await rejected(gw))['tls-handshake']
    const untrusting = await attempt(url, await tlsOptions(rogue.cert, certs.filler1))
    // The broker sends its CA with its certificate: a CA the device does not trust.
    expect(String(untrusting)).toBe('Error: self-signed certificate in certificate chain')
    const systemTrust = await attempt(url, await tlsOptions(null, certs.filler1))
    expect(String(systemTrust)).toBe('Error: self-signed certificate in certificate chain')
    await waitFor(
      'both aborted handshakes counted',
      async () => (await rejected(gw))['tls-handshake'] === before + 2,
    )
  })

  it('no client certificate, one from another CA, or a revoked one: the handshake is refused and counted with its reason', async () => {
    const before = (await rejected(gw))['tls-handshake']
    for (const client of [null, certs.intruder, certs.filler2])
      expect(await attempt(url, await tlsOptions(plant.cert, client))).toBeInstanceOf(Error)
    const details = await waitFor('three refusals', async () => {
      if ((await rejected(gw))['tls-handshake'] !== before + 3) return undefined
      return (await letters(gw, 'tls-handshake')).slice(0, 3).map((l) => l.detail)
    })
    expect(details).toEqual([
      'TLS handshake with 127.0.0.1 refused: client certificate not accepted (CERT_REVOKED)',
      'TLS handshake with 127.0.0.1 refused: client certificate not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      expect.stringMatching(
        /^TLS handshake with 127\.0\.0\.1 refused: .*peer did not return a certificate/,
      ),
    ])
    const source = (await health(gw)).sources.find((s) => s.name === 'mqtt')
    expect(source?.counts?.['tls-handshakes-refused']).toBeGreaterThanOrEqual(3)
    expect((await health(gw)).status).toBe('ok')
  })

  it('a certificate revoked while the gateway runs is refused once the CRL file changes, without a restart', async () => {
    const first = await connected(url, await tlsOptions(plant.cert, certs.filler3))
    await plant.revoke(certs.filler3.cert)
    try {
      const refused = await waitFor(
        'the new CRL to be loaded (reloadSeconds: 1)',
        async () => {
          const c = await attempt(url, await tlsOptions(plant.cert, certs.filler3))
          if (c instanceof Error) return c
          await c.endAsync()
          return undefined
        },
        { timeoutMs: 8000, intervalMs: 200 },
      )
      expect(refused).toBeInstanceOf(Error)
      expect((await letters(gw, 'tls-handshake'))[0]?.detail).toMatch(/\(CERT_REVOKED\)$/)
      // A connection open before the revocation stays (as with Mosquitto): documented.
      expect(first.connected).toBe(true)
    } finally {
      await first.endAsync()
    }
  })

  it('userFromCertificate none, client certificate optional: the certificate only secures the connection, the password signs in', async () => {
    const hash = await hashPassword('line one secret')
    const server = await plant.server('server-2')
    const other = await startTestGateway(`
mqtt:
  broker:
    port: 0
    anonymous: deny
    users: [{ username: hmi, passwordHash: '${hash}' }]
    tls: { host: 127.0.0.1, port: 0, certFile: ${server.cert}, keyFile: ${server.key}, caFile: ${plant.cert}, userFromCertificate: none }
characteristics: []
`)
    try {
      const tlsUrl = other.gateway.urls.mqtts as string
      const base = await tlsOptions(plant.cert, null)
      const hmi = await connected(tlsUrl, { ...base, username: 'hmi', password: 'line one secret' })
      await hmi.endAsync()
      expect(String(await attempt(tlsUrl, base))).toMatch(/Not authorized/)
      // A certificate alone does not sign in here; a revoked one is refused even with the password.
      const withCert = await tlsOptions(plant.cert, certs.filler1)
      expect(String(await attempt(tlsUrl, withCert))).toMatch(/Not authorized/)
      const revoked = {
        ...(await tlsOptions(plant.cert, certs.filler2)),
        username: 'hmi',
        password: 'line one secret',
      }
      // No CRL configured here: revocation is the crlFile's job. The certificate verifies.
      const ok = await connected(tlsUrl, revoked)
      await ok.endAsync()
      const intruder = {
        ...(await tlsOptions(plant.cert, certs.intruder)),
        username: 'hmi',
        password: 'line one secret',
      }
      expect(String(await attempt(tlsUrl, intruder))).toMatch(/Not authorized/)
      const last = (await letters(other, 'bad-credentials'))[0]?.detail
      expect(last).toMatch(/refused: client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/)
      // The plain listener is still there.
      expect(other.gateway.urls.mqtt).toMatch(/^mqtt:/)
    } finally {
      await other.close()
      await other.removeDataDir()
    }
  })
})

describe('an external broker over mqtts (Mosquitto with a TLS listener requiring client certificates)', () => {
  let dir: { path: string; remove(): Promise<void> }
  let plant: TestCa
  let rogue: TestCa
  let mosquitto: Mosquitto
  let gatewayCert: CertFiles
  let deviceCert: CertFiles
  const config = (url: string, ca: string) => `
mqtt:
  broker: { enabled: false }
  external: { url: ${url}, clientId: linewatch-tls-test, caFile: ${ca}, certFile: ${gatewayCert.cert}, keyFile: ${gatewayCert.key} }
characteristics:
  - { id: rh, name: Relative humidity, path: site/cleanroom/suite-1/room-b, source: { mqtt: { topic: site/room-b/rh } } }
`
  beforeAll(async () => {
    dir = await tempDir('linewatch-pki-')
    plant = await createCa(dir.path, 'plant')
    rogue = await createCa(dir.path, 'rogue')
    const server = await plant.server()
    gatewayCert = await plant.client('linewatch')
    deviceCert = await plant.client('sensor-1')
    mosquitto = await startMosquitto({
      scheme: 'mqtts',
      listener: [
        `cafile ${plant.cert}`,
        `certfile ${server.cert}`,
        `keyfile ${server.key}`,
        'require_certificate true',
      ],
    })
  })
  afterAll(async () => {
    await mosquitto?.stop()
    await dir?.remove()
  })

  it('with the CA in caFile and a client certificate, the gateway consumes what a device publishes', async () => {
    const gw = await startTestGateway(config(mosquitto.url, plant.cert))
    try {
      await waitFor(
        'the external broker connection',
        async () => (await health(gw)).sources[0]?.connected,
      )
      const device = await connected(mosquitto.url, {
        ca: await readFile(plant.cert),
        cert: await readFile(deviceCert.cert),
        key: await readFile(deviceCert.key),
      })
      const ts = Date.now()
      await device.publishAsync('site/room-b/rh', JSON.stringify({ value: 43.5, ts }), { qos: 1 })
      await device.endAsync()
      const got = await waitFor('the reading', async () => {
        const r = await readings(gw, 'rh')
        return r.length > 0 ? r : undefined
      })
      expect(got).toEqual([{ ts, value: 43.5 }])
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('a broker certificate the configured CA did not sign is refused: not connected, counted, the status says why', async () => {
    const gw = await startTestGateway(config(mosquitto.url, rogue.cert))
    try {
      const source = await waitFor('the refusal in the status', async () => {
        const s = (await health(gw)).sources[0]
        return s?.detail?.startsWith('TLS handshake refused') ? s : undefined
      })
      expect(source).toMatchObject({ name: 'mqtt-external', connected: false })
      expect(source.detail).toBe(
        "TLS handshake refused: self-signed certificate in certificate chain (is the broker's CA in mqtt.external.caFile?)",
      )
      const letter = await waitFor(
        'the dead letter',
        async () => (await letters(gw, 'tls-handshake'))[0],
      )
      expect(letter).toMatchObject({
        source: 'mqtt-external',
        detail: `TLS handshake with ${mosquitto.url} refused: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)`,
      })
      expect((await health(gw)).status).toBe('degraded')
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })
})

describe('an external broker that refuses the gateway its subscription (a real aedes, permissions denying it)', () => {
  it('the source is not connected while refused, the status names the filter; once granted it is', async () => {
    let deny = true
    const broker = await Aedes.createBroker({
      authorizeSubscribe: (_client, sub, done) =>
        // No subscription given back: SUBACK 0x80 (MQTT 3.1.1, 3.9.3).
        deny ? done(null, null) : done(null, sub),
    })
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      broker.handle(socket)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
    const gw = await startTestGateway(`
mqtt:
  broker: { enabled: false }
  external: { url: ${url}, clientId: linewatch-refused }
characteristics:
  - { id: rh, name: Relative humidity, path: site/cleanroom/suite-1/room-b, source: { mqtt: { topic: site/room-b/rh } } }
`)
    try {
      // Connected (CONNACK) but refused (SUBACK 0x80): nothing will arrive, and health says so.
      const source = await waitFor('the refusal in the status', async () => {
        const s = (await health(gw)).sources[0]
        return s?.detail?.startsWith('subscription refused') ? s : undefined
      })
      expect(source).toMatchObject({
        name: 'mqtt-external',
        connected: false,
        detail: 'subscription refused by the broker: site/room-b/rh',
      })
      expect((await health(gw)).status).toBe('degraded')
      // Granted on the next connection (the broker's permissions changed, the connection dropped).
      deny = false
      for (const socket of sockets) socket.destroy()
      await waitFor(
        'the granted subscription',
        async () => (await health(gw)).sources[0]?.connected,
      )
      const device = await connectAsync(url)
      const ts = Date.now()
      await device.publishAsync('site/room-b/rh', JSON.stringify({ value: 44, ts }), { qos: 1 })
      await device.endAsync()
      const got = await waitFor('the reading', async () => {
        const r = await readings(gw, 'rh')
        return r.length > 0 ? r : undefined
      })
      expect(got).toEqual([{ ts, value: 44 }])
    } finally {
      await gw.close()
      await gw.removeDataDir()
      await new Promise<void>((r) => broker.close(() => r()))
      server.close()
    }
  })
})
