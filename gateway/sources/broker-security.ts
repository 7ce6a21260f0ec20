import { readFile, stat } from 'node:fs/promises'
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls'
import { type PermissionEntry, parseMosquittoAcl } from '../../rules/index.ts'
import { LinewatchError } from '../errors.ts'
import type { BrokerOptions } from './broker-thread.ts'
import { keyPassphrase, readTlsFile } from './tls-files.ts'

/**
 * What the embedded broker's security reads at start (broker-thread.ts uses it): the
 * permissions, from the configuration or a Mosquitto acl_file, and the TLS listener's files.
 */

/** The permissions in force: from `permissions` or a Mosquitto acl_file; null when none are configured. */
export async function loadPermissions(options: BrokerOptions): Promise<PermissionEntry[] | null> {
  if (options.permissions) return options.permissions as PermissionEntry[]
  const file = options.aclFile
  if (file === undefined) return null
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `mqtt.broker.aclFile: cannot read ${file}: ${(cause as Error).message}`,
      { cause },
    )
  }
  const parsed = parseMosquittoAcl(text)
  if ('problems' in parsed)
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `${file} (mqtt.broker.aclFile) is invalid:\n${parsed.problems.map((p) => `  ${file}:${p.line}: ${p.message}`).join('\n')}`,
    )
  return parsed.entries
}

export type TlsOptions = NonNullable<BrokerOptions['tls']>

/** The TLS listener's files, read and checked (a key that does not fit its certificate, a CRL that is not PEM). */
export async function loadTls(tls: TlsOptions): Promise<SecureContextOptions> {
  const read = (setting: string, file: string | undefined) =>
    readTlsFile('mqtt.broker.tls', setting, file)
  const passphrase = keyPassphrase('mqtt.broker.tls', tls.keyPassphraseEnv, process.env)
  const context: SecureContextOptions = {
    cert: await read('certFile', tls.certFile),
    key: await read('keyFile', tls.keyFile),
    ca: await read('caFile', tls.caFile),
    crl: await read('crlFile', tls.crlFile),
    passphrase,
  }
  try {
    createSecureContext(context)
  } catch (cause) {
    throw new LinewatchError(
      'LW_ERR_TLS_FILE',
      `mqtt.broker.tls: the certificate, key, CA or CRL file cannot be used: ${(cause as Error).message}`,
      { cause },
    )
  }
  return context
}

/** Size and modification time of the TLS files: they changed when this does. */
export function tlsFilesVersion(tls: TlsOptions): Promise<string> {
  return filesVersion([tls.certFile, tls.keyFile, tls.caFile, tls.crlFile])
}

/** What changes when one of `files` is written, replaced or removed (sizes and times). */
export async function filesVersion(files: readonly (string | undefined)[]): Promise<string> {
  const parts = await Promise.all(
    files.map((f) =>
      f === undefined
        ? '-'
        : stat(f).then(
            (s) => `${s.size}:${s.mtimeMs}`,
            () => 'missing',
          ),
    ),
  )
  return parts.join(' ')
}

/** Why a peer certificate was not verified, for a person. */
export function authorizationWhy(socket: TLSSocket): string {
  const e = socket.authorizationError as unknown
  return e instanceof Error ? e.message : String(e)
}
