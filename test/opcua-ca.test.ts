import { execFile } from 'node:child_process'
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../gateway/config/index.ts'
import { createOpcuaSource } from '../gateway/sources/opcua.ts'
import { acquireClientPki } from '../gateway/sources/opcua-pki.ts'
import type { Source } from '../gateway/sources/types.ts'
import { testConfigYaml } from './helpers/gateway.ts'
import { freePort, requireProgram, tempDir, waitFor } from './helpers/index.ts'
import {
  addPressForce,
  capturedLog,
  collectingSink,
  type SecureTestServer,
  startSecureTestServer,
} from './helpers/opcua.ts'

/**
 * A server certificate issued by a plant's CA (as a GDS or an IT department issues them), not
 * self-signed: the gateway trusts the CA, not each server. The CA, its revocation list and the
 * server's certificate are made with OpenSSL, the server is node-opcua's, the gateway's client
 * reads its PKI folder as it does in production. OPC-UA Part 4 §6.1.3 asks for the issuer's
 * revocation list: without it the certificate is refused, with it accepted, once revoked refused.
 */

const NS = 'urn:linewatch:test:ca'
const FORCE = `nsu=${NS};s=Press.Force`
const PASSWORD_ENV = 'LW_TEST_OPCUA_CA_PASSWORD'
const APPLICATION_URI = 'urn:linewatch-test:press-ca'

const run = promisify(execFile)

/** A CA (OpenSSL `ca` with its database, to issue, revoke and list revocations) in `dir`. */
async function makeCa(dir: string) {
  const openssl = await requireProgram('openssl', 'openssl')
  const f = (name: string) => join(dir, name)
  const ssl = (...args: string[]) => run(openssl, args, { cwd: dir, timeout: 30_000 })
  const words = (text: string) => text.split(' ')
  await writeFile(f('index.txt'), '')
  await writeFile(f('crlnumber'), '01\n')
  await writeFile(
    f('ca.cnf'),
    `[ ca ]
default_ca = plant
[ plant ]
database = ${f('index.txt')}
crlnumber = ${f('crlnumber')}
certificate = ${f('ca.pem')}
private_key = ${f('ca.key')}
default_md = sha256
default_crl_days = 30
`,
  )
  await ssl(
    ...words('req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj'),
    '/CN=Plant CA/O=linewatch test',
    ...words(
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -addext subjectKeyIdentifier=hash',
    ),
  )
  await writeFile(
    f('server.ext'),
    `basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = URI:${APPLICATION_URI}, IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`,
  )
  await ssl(
    ...words('req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj'),
    '/CN=press-ca/O=linewatch test',
  )
  await ssl(
    ...words(
      'x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile server.ext',
    ),
  )
  const crl = async () => {
    await ssl('ca', '-config', 'ca.cnf', '-gencrl', '-out', 'ca.crl.pem')
    // DER, as OPC-UA PKI folders hold revocation lists.
    await ssl('crl', '-in', 'ca.crl.pem', '-outform', 'DER', '-out', 'ca.crl')
    return f('ca.crl')
  }
  return {
    caCertificate: f('ca.pem'),
    server: { certificateFile: f('server.pem'), privateKeyFile: f('server.key') },
    crl,
    revokeServer: () => ssl('ca', '-config', 'ca.cnf', '-revoke', 'server.pem'),
  }
}

describe('OPC-UA: a server certificate issued by the plant’s CA (a real node-opcua server)', () => {
  let dir: { path: string; remove(): Promise<void> }
  let server: SecureTestServer
  let ca: Awaited<ReturnType<typeof makeCa>>
  let pkiDir: string
  let setForce: (value: number, ts?: number) => void
  const sources: Source[] = []

  beforeAll(async () => {
    dir = await tempDir('linewatch-opcua-ca-')
    await mkdir(join(dir.path, 'ca'))
    ca = await makeCa(join(dir.path, 'ca'))
    server = await startSecureTestServer({
      port: await freePort(),
      pkiDir: join(dir.path, 'server-pki'),
      namespace: NS,
      users: { linewatch: 'right-password' },
      own: { ...ca.server, applicationUri: APPLICATION_URI },
    })
    setForce = addPressForce(server)
    pkiDir = join(dir.path, 'client-pki')
    const pki = await acquireClientPki({ dir: pkiDir })
    await server.trust(pki.own.der)
    await pki.release()
    // The gateway trusts the CA: its certificate in trusted/certs, nothing of the server's.
    await copyFile(ca.caCertificate, join(pkiDir, 'trusted', 'certs', 'plant-ca.pem'))
  }, 60_000)
  afterAll(async () => {
    for (const s of sources) await s.stop()
    await server?.stop()
    await dir?.remove()
  })

  async function startSource() {
    const sink = collectingSink()
    const { log } = capturedLog()
    const config = parseConfig(
      testConfigYaml(
        join(dir.path, 'data'),
        `
opcua:
  servers:
    - id: press-ca
      endpoint: '${server.endpoint}'
      samplingIntervalMs: 0
      publishingIntervalMs: 100
      user: linewatch
      passwordEnv: ${PASSWORD_ENV}
mqtt: { broker: { enabled: false } }
characteristics:
  - id: force
    name: Press force
    path: plant/forming/press-ca
    unit: kN
    source: { opcua: { server: press-ca, nodeId: '${FORCE}' } }
`,
      ),
      'test.yaml',
    )
    const source = createOpcuaSource(
      config.opcua.servers[0] as never,
      [{ characteristic: 'force', nodeId: FORCE }],
      { sink, log, pkiDir, env: { [PASSWORD_ENV]: 'right-password' } },
    )
    sources.push(source)
    await source.start()
    return { source, sink }
  }

  it('refuses it while the CA’s revocation list is missing, saying which file to add', async () => {
    const { source } = await startSource()
    const status = await waitFor('the refusal', () =>
      source.status().detail?.includes('revocation list') ? source.status() : undefined,
    )
    expect(status.connected).toBe(false)
    expect(status.detail).toMatch(/no revocation list of its issuer is in the PKI folder/)
    await source.stop()
  })

  it('accepts it with the CA trusted and its revocation list in trusted/crl: a reading flows', async () => {
    await copyFile(await ca.crl(), join(pkiDir, 'trusted', 'crl', 'plant-ca.crl'))
    const { source, sink } = await startSource()
    await waitFor('the connection', () => source.status().connected)
    setForce(12.25)
    await waitFor('the reading', () => sink.readings.some((r) => r.value === 12.25))
    await source.stop()
  })

  it('refuses it once the CA has revoked it', async () => {
    await ca.revokeServer()
    await rm(join(pkiDir, 'trusted', 'crl', 'plant-ca.crl'))
    await writeFile(join(pkiDir, 'trusted', 'crl', 'plant-ca.crl'), await readFile(await ca.crl()))
    const { source } = await startSource()
    const status = await waitFor('the refusal', () =>
      source.status().detail?.includes('revoked') ? source.status() : undefined,
    )
    expect(status.connected).toBe(false)
    expect(status.detail).toMatch(/its issuer has revoked it/)
    await source.stop()
  })
})
