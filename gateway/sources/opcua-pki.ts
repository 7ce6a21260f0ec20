import { X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { getHostname, makeApplicationUrn, OPCUACertificateManager } from 'node-opcua'
import { LinewatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { CertificateInfo } from './opcua-refusals.ts'

/**
 * linewatch's OPC-UA client PKI: a folder as node-opcua lays it out (own/, trusted/, rejected/,
 * issuers/), the application certificate made at first start, and the certificates in it.
 */

/** `opcua.pkiDir`, or dataDir/pki/opcua-client; absolute. */
export function clientPkiDir(opcua: { pkiDir?: string | undefined }, dataDir: string): string {
  return resolve(opcua.pkiDir ?? join(dataDir, 'pki', 'opcua-client'))
}

// --- Certificates -----------------------------------------------------------------------------

/** Subject, thumbprint, validity and application URI of a DER certificate. */
export function describeCertificate(der: Uint8Array): CertificateInfo {
  const x = new X509Certificate(der)
  const fields = x.subject.split('\n').filter(Boolean)
  // The common name first: it is what people recognise.
  const subject = [
    ...fields.filter((f) => f.startsWith('CN=')),
    ...fields.filter((f) => !f.startsWith('CN=')).reverse(),
  ].join(', ')
  return {
    subject,
    thumbprint: x.fingerprint.replace(/:/g, '').toLowerCase(),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    applicationUri: /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1],
  }
}

/** A certificate file, PEM or DER, as DER. */
export async function readCertificateFile(file: string): Promise<Buffer> {
  try {
    const bytes = await readFile(file)
    const der = bytes.subarray(0, 11).toString('latin1') === '-----BEGIN ' ? pemToDer(bytes) : bytes
    describeCertificate(der) // throws on what is no certificate
    return der
  } catch (cause) {
    throw new LinewatchError(
      'LW_ERR_OPCUA_CERTIFICATE',
      `cannot read the certificate ${file}: ${(cause as Error).message}`,
      { cause },
    )
  }
}

/** The first certificate of a PEM file (a chain's leaf). */
function pemToDer(pem: Buffer): Buffer {
  return Buffer.from(new X509Certificate(pem).raw)
}

export interface StoredCertificate {
  file: string
  der: Buffer
  info: CertificateInfo
}

/** The readable certificates in a folder of the PKI (trusted/certs, rejected, issuers/certs). */
export async function listCertificates(folder: string): Promise<StoredCertificate[]> {
  let names: string[]
  try {
    names = (await readdir(folder)).sort()
  } catch {
    return []
  }
  const out: StoredCertificate[] = []
  for (const name of names) {
    if (!/\.(pem|der|crt|cer)$/i.test(name)) continue
    const file = join(folder, name)
    try {
      const der = await readCertificateFile(file)
      out.push({ file, der, info: describeCertificate(der) })
    } catch {
      // Not a certificate (a stray file): not ours to judge here.
    }
  }
  return out
}

// --- The PKI ----------------------------------------------------------------------------------

/**
 * A certificate manager that the OPC-UA clients given it cannot dispose: node-opcua's clients
 * dispose their manager on disconnect, and this one outlives them (shared by the sources of one
 * folder, released by its last user).
 */
class SharedCertificateManager extends OPCUACertificateManager {
  override async dispose(): Promise<void> {}
  async release(): Promise<void> {
    this.referenceCounter = 0
    await super.dispose()
  }
}

export interface ClientPki {
  /** The PKI folder, absolute. */
  dir: string
  manager: OPCUACertificateManager
  applicationName: string
  /** The URI in linewatch's certificate, which the client must announce. */
  applicationUri: string
  /** linewatch's application certificate: what a server's administrator trusts. */
  own: StoredCertificate
  /** Calls `listener` when a certificate or CRL is added to trusted/ or issuers/ (a person trusted one). */
  onChange(listener: () => void): () => void
  /** Certificates the client refused, in rejected/. */
  rejectedFolder: string
  trustedFolder: string
  release(): Promise<void>
}

export interface ClientPkiOptions {
  dir: string
  applicationName?: string | undefined
  applicationUri?: string | undefined
  log?: Logger | undefined
  /** Watch the folder for trusted certificates (the gateway); a command that runs once does not. */
  watch?: boolean
}

const shared = new Map<string, { ready: Promise<ClientPki>; users: number }>()

/**
 * The PKI of a folder, made ready: folders and private key made, and linewatch's application
 * certificate made at first start (self-signed, 10 years). One manager per folder in a process.
 */
export function acquireClientPki(options: ClientPkiOptions): Promise<ClientPki> {
  const dir = resolve(options.dir)
  let entry = shared.get(dir)
  if (!entry) {
    const ready = openClientPki({ ...options, dir }, () => {
      const e = shared.get(dir)
      if (!e || --e.users > 0) return false
      shared.delete(dir)
      return true
    })
    entry = { ready, users: 0 }
    shared.set(dir, entry)
    // A folder that could not be opened is tried afresh next time.
    ready.catch(() => shared.get(dir) === entry && shared.delete(dir))
  }
  entry.users++
  return entry.ready
}

async function openClientPki(options: ClientPkiOptions, last: () => boolean): Promise<ClientPki> {
  const { dir, log } = options
  const applicationName = options.applicationName ?? 'linewatch'
  const hostname = getHostname()
  const manager = new SharedCertificateManager({
    rootFolder: dir,
    automaticallyAcceptUnknownCertificate: false,
    disableFileWatchers: options.watch !== true,
  })
  try {
    await manager.initialize()
    // The path node-opcua's client reads its certificate from by default.
    const file = join(manager.rootDir, 'own', 'certs', 'client_certificate.pem')
    const wantedUri = options.applicationUri ?? makeApplicationUrn(hostname, applicationName)
    if (!existsSync(file)) {
      await manager.createSelfSignedCertificate({
        applicationUri: wantedUri,
        dns: [hostname],
        subject: `/CN=${applicationName.replace(/[/=]/g, '-')}@${hostname}/O=linewatch`,
        startDate: new Date(),
        validity: 3650,
        outputFile: file,
      })
      const der = await readCertificateFile(file)
      log?.info(
        { file, ...describeCertificate(der) },
        "made linewatch's OPC-UA application certificate: servers must trust it",
      )
    }
    const der = await readCertificateFile(file)
    const info = describeCertificate(der)
    if (info.applicationUri !== wantedUri) {
      log?.warn(
        { file, certificate: info.applicationUri, configured: wantedUri },
        'the application certificate names another application URI than configured: it is used as it is; delete own/ under the PKI folder to make a new one',
      )
    }
    const listeners = new Set<() => void>()
    const changed = () => {
      for (const l of listeners) l()
    }
    // A certificate the client itself just refused lands in rejected/: that changes nothing.
    manager.on('certificateAdded', (event) => event.store !== 'rejected' && changed())
    manager.on('crlAdded', changed)
    return {
      dir,
      manager,
      applicationName,
      applicationUri: info.applicationUri ?? wantedUri,
      own: { file, der, info },
      rejectedFolder: manager.rejectedFolder,
      trustedFolder: manager.trustedFolder,
      onChange(listener) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      async release() {
        if (last()) await manager.release()
      },
    }
  } catch (err) {
    await manager.release().catch(() => {})
    throw err
  }
}

/** Moves a certificate into trusted/ (from rejected/ when it is there); returns its new file. */
export async function trustCertificate(pki: ClientPki, der: Buffer): Promise<string> {
  const { thumbprint } = describeCertificate(der)
  await pki.manager.reloadCertificates()
  await pki.manager.trustCertificate(der)
  const stored = (await listCertificates(pki.trustedFolder)).find(
    (c) => c.info.thumbprint === thumbprint,
  )
  return stored?.file ?? pki.trustedFolder
}
