import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OpcuaServerConfig, parseConfig } from '../gateway/config/index.ts'
import type { Health, ReadingsView } from '../gateway/contract.ts'
import { createOpcuaSource } from '../gateway/sources/opcua.ts'
import {
  acquireClientPki,
  describeCertificate,
  listCertificates,
} from '../gateway/sources/opcua-pki.ts'
import {
  chooseEndpoint,
  OpcuaRefusal,
  refusalOf,
  retryDelayMs,
} from '../gateway/sources/opcua-refusals.ts'
import type { Source } from '../gateway/sources/types.ts'
import { startTestGateway, type TestGateway, testConfigYaml } from './helpers/gateway.ts'
import { freePort, tempDir, waitFor } from './helpers/index.ts'
import {
  addPressForce,
  capturedLog,
  collectingSink,
  type SecureTestServer,
  startSecureTestServer,
} from './helpers/opcua.ts'

// A real node-opcua server with its own certificate and trust list, the gateway's client with
// its PKI folder, and the built CLI: nothing mocked. One PKI per side for the whole file.

const NS = 'urn:linewatch:test:press'
const FORCE = `nsu=${NS};s=Press.Force`
const PASSWORD_ENV = 'LW_TEST_OPCUA_PRESS_PASSWORD'
const BIN = join(import.meta.dirname, '..', 'bin', 'linewatch.js')

/** Runs the built `linewatch …` as a user would; never throws on a non-zero exit. */
function linewatch(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.stdin.end()
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('OPC-UA security: certificates, policies, user identity (a node-opcua server with certificates)', () => {
  let dir: { path: string; remove(): Promise<void> }
  let server: SecureTestServer
  let setForce: (value: number, ts?: number) => void
  let dataDir: string
  let pkiDir: string
  let configFile: string
  let gw: TestGateway | undefined
  const sources: Source[] = []

  const serverYaml = (extra = '') => `
opcua:
  servers:
    - id: press-1
      endpoint: '${server.endpoint}'
      samplingIntervalMs: 0
      publishingIntervalMs: 100
      user: linewatch
      passwordEnv: ${PASSWORD_ENV}${extra}
mqtt: { broker: { enabled: false } }
characteristics:
  - id: force
    name: Press force
    path: plant/forming/press-1
    unit: kN
    source: { opcua: { server: press-1, nodeId: '${FORCE}' } }
`

  beforeAll(async () => {
    dir = await tempDir('linewatch-opcua-security-')
    dataDir = join(dir.path, 'data')
    pkiDir = join(dataDir, 'pki', 'opcua-client') // the gateway's default
    server = await startSecureTestServer({
      port: await freePort(),
      pkiDir: join(dir.path, 'server-pki'),
      namespace: NS,
      users: { linewatch: 'right-password' },
    })
    setForce = addPressForce(server)
    server.addVariable('Press', 'Press.Recipe', 'Recipe', 12 /* String */)
    // The gateway's application certificate, made as at its first start; the server's
    // administrator trusts it (the server refuses unknown clients too).
    const pki = await acquireClientPki({ dir: pkiDir })
    await server.trust(pki.own.der)
    await pki.release()
    process.env[PASSWORD_ENV] = 'right-password'
    configFile = join(dir.path, 'linewatch.yaml')
    await writeFile(configFile, testConfigYaml(dataDir, serverYaml()))
  })
  afterAll(async () => {
    for (const s of sources) await s.stop()
    await gw?.close()
    await server?.stop()
    delete process.env[PASSWORD_ENV]
    await dir?.remove()
  })

  const gatewayLog = capturedLog()
  const health = async () => (await gw?.get<Health>('/api/health', null))?.body
  const press = async () => (await health())?.sources.find((s) => s.name === 'opcua:press-1')

  it("refuses the server's unknown certificate by default, naming it and how to trust it; the gateway runs on", async () => {
    gw = await startTestGateway(serverYaml(), { dataDir, log: gatewayLog.log })
    const status = await waitFor('the refusal in the status', async () => {
      const s = await press()
      return s?.detail?.includes('not trusted') ? s : undefined
    })
    const cert = describeCertificate(server.certificate)
    const rejected = await listCertificates(join(pkiDir, 'rejected'))
    expect(rejected.map((c) => c.info.thumbprint)).toEqual([cert.thumbprint])
    const file = rejected[0]?.file ?? ''
    expect(existsSync(file)).toBe(true)
    expect(status.connected).toBe(false)
    expect(status.counts?.['certificate-untrusted']).toBeGreaterThanOrEqual(1)
    // Subject, thumbprint, the file node-opcua kept it in, and the command that trusts it.
    expect(status.detail).toContain(
      `refused: the server's certificate is not trusted: "${cert.subject}"`,
    )
    expect(status.detail).toContain(`thumbprint ${cert.thumbprint}`)
    expect(status.detail).toContain(`kept as ${file}`)
    expect(status.detail).toContain(
      `linewatch opcua trust --config FILE --server press-1 --thumbprint ${cert.thumbprint}`,
    )
    expect((await health())?.status).toBe('degraded')
    // Refused before any session: no password went to a server not yet trusted.
    expect(server.signIns()).toBe(0)
    expect(status.counts?.['identity-refused']).toBeUndefined()
  })

  it('`linewatch opcua trust` moves it into trusted/; the gateway connects at once (Basic256Sha256, SignAndEncrypt) and a reading flows', async () => {
    const cert = describeCertificate(server.certificate)
    const trust = await linewatch([
      'opcua',
      'trust',
      '--config',
      configFile,
      '--thumbprint',
      cert.thumbprint.toUpperCase().replace(/(..)(?!$)/g, '$1:'), // as other tools show it
    ])
    expect(trust.stderr).toBe('')
    expect(trust.code).toBe(0)
    expect(trust.stdout).toContain(`trusted "${cert.subject}" (thumbprint ${cert.thumbprint}`)
    expect((await listCertificates(join(pkiDir, 'trusted', 'certs'))).length).toBe(1)
    expect(await listCertificates(join(pkiDir, 'rejected'))).toEqual([])

    // A refusal waits 5 s and more before trying again; a certificate trusted wakes it.
    await waitFor('the connection', async () => (await press())?.connected)
    expect(gatewayLog.lines.map((l) => l.msg)).toContain(
      'a certificate was added to the PKI folder: trying again now',
    )
    expect((await press())?.counts).toEqual({ 'certificate-untrusted': 1 })
    const ts = Date.now() - 500
    setForce(21.5, ts)
    await waitFor('the reading in the store', async () => {
      const view = await gw?.get<ReadingsView>(
        `/api/characteristics/force/readings?from=${ts}&to=${ts + 60_000}`,
      )
      return view?.body.readings.some((r) => r.value === 21.5 && r.ts === ts)
    })
    expect((await press())?.detail).toBeUndefined()
    await gw?.close()
    gw = undefined
  })

  /** A source of its own on the gateway's PKI folder (the server's certificate is trusted now). */
  async function startSource(
    overrides: Partial<OpcuaServerConfig>,
    env: NodeJS.ProcessEnv,
    clientPki = pkiDir,
  ) {
    const sink = collectingSink()
    const { log, lines } = capturedLog()
    const config = parseConfig(testConfigYaml(dataDir, serverYaml()), 'test.yaml')
    const base = config.opcua.servers[0]
    if (!base) throw new Error('no server in the test configuration')
    const source = createOpcuaSource(
      { ...base, ...overrides },
      [{ characteristic: 'force', nodeId: FORCE }],
      { sink, log, pkiDir: clientPki, env },
    )
    sources.push(source)
    await source.start()
    return { source, sink, lines }
  }

  it.each([
    ['Aes256_Sha256_RsaPss', 'SignAndEncrypt'],
    ['Aes128_Sha256_RsaOaep', 'Sign'],
  ] as const)(
    'connects under %s with %s and a reading flows',
    async (securityPolicy, securityMode) => {
      const { source, sink } = await startSource(
        { securityPolicy, securityMode },
        { [PASSWORD_ENV]: 'right-password' },
      )
      await waitFor('the connection', () => source.status().connected)
      const value = securityMode === 'Sign' ? 3.25 : 7.75
      setForce(value)
      await waitFor('the reading', () => sink.readings.some((r) => r.value === value))
      await source.stop()
    },
  )

  it('a wrong password is refused with a clear status and a counter, tried again only after a back-off; the right one works', async () => {
    const signInsBefore = server.signIns()
    const wrong = await startSource({}, { [PASSWORD_ENV]: 'wrong-password' })
    const first = await waitFor('the refusal', () =>
      wrong.source.status().counts?.['identity-refused'] === 1 ? Date.now() : undefined,
    )
    const status = wrong.source.status()
    expect(status.connected).toBe(false)
    expect(status.detail).toBe(
      `refused: the server refused user "linewatch" (BadUserAccessDenied): check the user name and the password in ${PASSWORD_ENV}`,
    )
    // The second attempt waits the refusal back-off (5 s), not the 0.5 s of a network hiccup.
    const second = await waitFor(
      'the second attempt',
      () =>
        (wrong.source.status().counts?.['identity-refused'] ?? 0) >= 2 ? Date.now() : undefined,
      { timeoutMs: 10_000 },
    )
    expect(second - first).toBeGreaterThanOrEqual(retryDelayMs(1, true) - 100)
    const signInsSoFar = server.signIns()
    // Logged once at warn, then quietly: no log storm either.
    const warned = wrong.lines.filter((l) => l.msg === 'cannot connect; retrying' && l.level === 40)
    expect(warned).toHaveLength(1)
    expect(wrong.sink.readings).toEqual([])
    await wrong.source.stop()
    // The server saw one sign-in per attempt, no more.
    expect(signInsSoFar - signInsBefore).toBe(2)

    const right = await startSource({}, { [PASSWORD_ENV]: 'right-password' })
    await waitFor('the connection', () => right.source.status().connected)
    setForce(11.125)
    await waitFor('the reading', () => right.sink.readings.some((r) => r.value === 11.125))
    expect(right.source.status().counts).toEqual({})
    await right.source.stop()
  })

  it('a pinned serverCertificate is trusted for its server alone; another certificate is refused, and a missing secret stops the start', async () => {
    // A fresh client PKI whose trust list is empty: only the pin can make the server trusted.
    const fresh = join(dir.path, 'pinned-pki')
    const pki = await acquireClientPki({ dir: fresh })
    await server.trust(pki.own.der)
    const pinned = join(dir.path, 'press-1.der')
    await writeFile(pinned, server.certificate)
    const good = await startSource(
      { serverCertificate: pinned },
      { [PASSWORD_ENV]: 'right-password' },
      fresh,
    )
    await waitFor('the connection', () => good.source.status().connected)
    setForce(5.5)
    await waitFor('the reading', () => good.sink.readings.some((r) => r.value === 5.5))
    await good.source.stop()
    expect(await listCertificates(join(fresh, 'trusted', 'certs'))).toEqual([])

    const wrong = await startSource(
      { serverCertificate: pki.own.file }, // a certificate, but not the server's
      { [PASSWORD_ENV]: 'right-password' },
      fresh,
    )
    await waitFor('the refusal', () => wrong.source.status().counts?.['certificate-mismatch'])
    expect(wrong.source.status().detail).toContain(
      `refused: the server presented "${describeCertificate(server.certificate).subject}"`,
    )
    expect(wrong.source.status().detail).toContain(
      `not the pinned serverCertificate ${pki.own.file} (thumbprint ${pki.own.info.thumbprint})`,
    )
    await wrong.source.stop()
    await pki.release()

    await expect(startSource({}, {})).rejects.toMatchObject({
      code: 'LW_ERR_SECRET_MISSING',
      message: `opcua.servers press-1: passwordEnv names ${PASSWORD_ENV}, which is not set in the environment`,
    })
  })

  it('`linewatch opcua browse` prints valid YAML with the AnalogItemType variable, its unit and its EURange as a comment', async () => {
    const { code, stdout, stderr } = await linewatch(
      [
        'opcua',
        'browse',
        server.endpoint,
        '--security',
        'Aes256_Sha256_RsaPss:SignAndEncrypt',
        '--user',
        'linewatch',
        '--password-env',
        PASSWORD_ENV,
        '--pki',
        pkiDir,
        '--id',
        'press-1',
      ],
      { [PASSWORD_ENV]: 'right-password' },
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const config = parseConfig(stdout, 'browse.yaml')
    expect(config.opcua.servers).toMatchObject([
      {
        id: 'press-1',
        endpoint: server.endpoint,
        securityPolicy: 'Aes256_Sha256_RsaPss',
        securityMode: 'SignAndEncrypt',
        user: 'linewatch',
        passwordEnv: PASSWORD_ENV,
      },
    ])
    expect(config.characteristics).toEqual([
      expect.objectContaining({
        id: 'Press.Force',
        name: 'Force',
        path: 'press-1/Press',
        unit: 'kN',
        source: { opcua: { server: 'press-1', nodeId: FORCE } },
        limits: {},
      }),
    ])
    expect(config.characteristics[0]?.specLimits).toBeUndefined()
    expect(stdout).toContain('# Objects/Press/Force: Double, AnalogItemType')
    expect(stdout).toContain(
      "# EURange 0 … 50 kN: the instrument's range, not a specification (no limits are set from it)",
    )
    expect(stdout).toContain(`#   Recipe (nsu=${NS};s=Press.Recipe): a String, not a number`)
  })

  it('browse names an untrusted server certificate and the command that trusts it (exit 1)', async () => {
    const other = await tempDir('linewatch-opcua-other-pki-')
    try {
      const { code, stdout, stderr } = await linewatch(
        [
          'opcua',
          'browse',
          server.endpoint,
          '--user',
          'linewatch',
          '--password-env',
          PASSWORD_ENV,
          '--pki',
          other.path,
        ],
        { [PASSWORD_ENV]: 'right-password' },
      )
      expect(code).toBe(1)
      expect(stdout).toBe('')
      const cert = describeCertificate(server.certificate)
      expect(stderr).toContain('LW_ERR_OPCUA_CONNECT')
      expect(stderr).toContain(`thumbprint ${cert.thumbprint}`)
      expect(stderr).toContain(
        `linewatch opcua trust --pki ${other.path} --thumbprint ${cert.thumbprint}`,
      )
    } finally {
      await other.remove()
    }
  })
})

describe('OPC-UA security: pure rules and configuration', () => {
  const offer = (policy: string, mode: string, userTokens: string[]) =>
    ({ policy, mode, userTokens }) as Parameters<typeof chooseEndpoint>[0][number]

  it('chooses the endpoint of the policy, mode and identity, or says what the server offers', () => {
    const offers = [
      offer('None', 'None', ['Anonymous']),
      offer('Basic256Sha256', 'Sign', ['Anonymous', 'UserName']),
      offer('Basic256Sha256', 'SignAndEncrypt', ['UserName']),
    ]
    expect(
      chooseEndpoint(offers, { policy: 'Basic256Sha256', mode: 'SignAndEncrypt', user: true }),
    ).toBe(offers[2])
    const missing = chooseEndpoint(offers, {
      policy: 'Aes256_Sha256_RsaPss',
      mode: 'SignAndEncrypt',
      user: true,
    })
    expect(missing).toBeInstanceOf(OpcuaRefusal)
    expect((missing as OpcuaRefusal).message).toBe(
      'the server offers no endpoint with Aes256_Sha256_RsaPss/SignAndEncrypt; it offers None/None, Basic256Sha256/Sign, Basic256Sha256/SignAndEncrypt: set securityPolicy and securityMode to one of these',
    )
    const anonymous = chooseEndpoint(offers, {
      policy: 'Basic256Sha256',
      mode: 'SignAndEncrypt',
      user: false,
    })
    expect(anonymous).toMatchObject({ kind: 'identity-refused' })
  })

  it('tells refusals (a person must act) from failures that pass by themselves', () => {
    const wrapped = new Error('create session: BadUserAccessDenied (0x801f0000)', {
      cause: new Error('BadUserAccessDenied (0x801f0000)'),
    })
    expect(refusalOf(wrapped, { user: 'qa', passwordEnv: 'PW' })).toMatchObject({
      kind: 'identity-refused',
      message:
        'the server refused user "qa" (BadUserAccessDenied): check the user name and the password in PW',
    })
    expect(
      refusalOf(
        new Error(
          'connect: The connection has been rejected by server: BadSecurityChecksFailed (0x80130000)',
        ),
        {},
      ),
    ).toMatchObject({ kind: 'client-certificate-refused' })
    expect(
      refusalOf(
        new Error(
          'create session:  End point must exist opc.tcp://m:4840  securityMode = None  securityPolicy = http://opcfoundation.org/UA/SecurityPolicy#None',
        ),
        {},
      ),
    ).toMatchObject({
      kind: 'no-endpoint',
      message: expect.stringMatching(/^the server offers no endpoint with None\/None:/),
    })
    expect(refusalOf(new Error('connect: connect ECONNREFUSED 127.0.0.1:4840'), {})).toBe(undefined)
    expect(refusalOf(new Error('connect: no answer within 10000 ms'), {})).toBe(undefined)
    expect([0, 1, 2, 3, 4].map((n) => retryDelayMs(n, false))).toEqual([250, 500, 1000, 2000, 3000])
    expect([1, 2, 3, 4, 5, 9].map((n) => retryDelayMs(n, true))).toEqual([
      5000, 10_000, 20_000, 40_000, 60_000, 60_000,
    ])
  })

  it('a secure policy is the default; None is chosen explicitly, and contradictions are refused', () => {
    const server = (extra: string) =>
      `opcua: { servers: [{ id: m, endpoint: 'opc.tcp://m:4840'${extra} }] }\n`
    expect(parseConfig(server('')).opcua.servers[0]).toMatchObject({
      securityPolicy: 'Basic256Sha256',
      securityMode: 'SignAndEncrypt',
    })
    expect(parseConfig(server('')).opcua.applicationName).toBe('linewatch')
    expect(
      parseConfig(server(', securityPolicy: None, securityMode: None')).opcua.servers[0],
    ).toMatchObject({ securityPolicy: 'None', securityMode: 'None' })
    const refused = (extra: string) => {
      try {
        parseConfig(server(extra), 'c.yaml')
        return ''
      } catch (err) {
        return (err as Error).message
      }
    }
    expect(refused(', securityPolicy: None')).toContain(
      'opcua.servers[0].securityMode: securityPolicy None goes with securityMode None only, not SignAndEncrypt',
    )
    expect(refused(', securityMode: None')).toContain(
      'securityMode None goes with securityPolicy None only, not Basic256Sha256',
    )
    expect(refused(', user: qa')).toContain('a user needs passwordEnv')
    expect(refused(', passwordEnv: PW')).toContain('passwordEnv needs a user')
    expect(
      refused(', securityPolicy: None, securityMode: None, user: qa, passwordEnv: PW'),
    ).toContain('a user name and password need securityMode Sign or SignAndEncrypt')
    expect(refused(', securityPolicy: Basic128Rsa15')).toContain('securityPolicy')
  })
})
