import { readFile } from 'node:fs/promises'
import { LinewatchError } from '../errors.ts'

/**
 * TLS files named in the configuration (the embedded broker's listener, an external broker's
 * client side): read at start, refused with the setting's path when unreadable.
 */

/** The file's bytes, or undefined when the setting is not given. `where`: e.g. "mqtt.broker.tls". */
export async function readTlsFile(
  where: string,
  setting: string,
  file: string | undefined,
): Promise<Buffer | undefined> {
  if (file === undefined) return undefined
  try {
    return await readFile(file)
  } catch (cause) {
    throw new LinewatchError(
      'LW_ERR_TLS_FILE',
      `${where}.${setting}: cannot read ${file}: ${(cause as Error).message}`,
      { cause },
    )
  }
}

/** The key's passphrase from the environment variable the configuration names, if it names one. */
export function keyPassphrase(
  where: string,
  variable: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (variable === undefined) return undefined
  const passphrase = env[variable]
  if (passphrase === undefined)
    throw new LinewatchError(
      'LW_ERR_SECRET_MISSING',
      `${where}.keyPassphraseEnv names ${variable}, which is not set in the environment`,
    )
  return passphrase
}
