import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireProgram } from './index.ts'

/**
 * A test PKI made with the `openssl` command line, as a person following docs/mqtt-security.md
 * would: a CA, certificates it signs (a server's for 127.0.0.1, clients' by common name), and
 * its certificate revocation list. EC P-256 keys (quick to make), valid for two days.
 */
export interface CertFiles {
  cert: string
  key: string
}

export interface TestCa {
  name: string
  /** The CA's certificate (what a peer trusts). */
  cert: string
  key: string
  /** Its CRL, made by `revoke` (and at start, empty). */
  crl: string
  /** A server certificate for 127.0.0.1 and localhost (subjectAltName). */
  server(name?: string): Promise<CertFiles>
  /** A client certificate whose subject's common name is `cn`. */
  client(cn: string): Promise<CertFiles>
  /** Revokes a certificate this CA signed and writes the CRL again. */
  revoke(cert: string): Promise<void>
}

const run = promisify(execFile)

export async function createCa(dir: string, name: string): Promise<TestCa> {
  const openssl = await requireProgram('openssl', 'openssl')
  const ssl = (...args: string[]) => run(openssl, args, { cwd: dir, timeout: 20_000 })
  const file = (suffix: string) => join(dir, `${name}${suffix}`)
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await ssl(
    'req',
    '-x509',
    '-new',
    ...newKey,
    '-keyout',
    file('-ca.key'),
    '-out',
    file('-ca.pem'),
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  )
  // `openssl ca` keeps the revocations in an index file; it needs a small configuration.
  await writeFile(file('-index.txt'), '')
  await writeFile(file('-crlnumber'), '01\n')
  await writeFile(
    file('-ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${file('-index.txt')}`,
      `crlnumber = ${file('-crlnumber')}`,
      `certificate = ${file('-ca.pem')}`,
      `private_key = ${file('-ca.key')}`,
      'default_md = sha256',
      'default_crl_days = 2',
      '',
    ].join('\n'),
  )
  const gencrl = () =>
    ssl('ca', '-config', file('-ca.cnf'), '-gencrl', '-out', file('-crl.pem')).then(() => {})
  await gencrl()
  let serial = 0
  const sign = async (leaf: string, subject: string, extensions: string): Promise<CertFiles> => {
    const base = join(dir, `${name}-${leaf}`)
    await ssl(
      'req',
      '-new',
      ...newKey,
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.csr`,
      '-subj',
      subject,
    )
    await writeFile(`${base}.ext`, extensions)
    serial++
    await ssl(
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      file('-ca.pem'),
      '-CAkey',
      file('-ca.key'),
      '-set_serial',
      String(1000 + serial),
      '-days',
      '2',
      '-extfile',
      `${base}.ext`,
      '-out',
      `${base}.pem`,
    )
    return { cert: `${base}.pem`, key: `${base}.key` }
  }
  return {
    name,
    cert: file('-ca.pem'),
    key: file('-ca.key'),
    crl: file('-crl.pem'),
    server: (leaf = 'server') =>
      sign(
        leaf,
        '/CN=127.0.0.1',
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
      ),
    client: (cn) => sign(`client-${cn}`, `/CN=${cn}`, 'extendedKeyUsage=clientAuth\n'),
    async revoke(cert) {
      await ssl('ca', '-config', file('-ca.cnf'), '-revoke', cert)
      await gencrl()
    },
  }
}
