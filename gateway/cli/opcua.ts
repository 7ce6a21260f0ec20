import type { Command } from 'commander'
import { type Config, loadConfigFile, type OpcuaServerConfig } from '../config/index.ts'
import {
  SECURITY_MODES,
  SECURITY_POLICIES,
  type SecurityModeName,
  type SecurityPolicyName,
} from '../config/opcua-security-schema.ts'
import { LinewatchError } from '../errors.ts'

/**
 * `linewatch opcua browse | trust | certificates` (issue 10, docs/opcua.md): list a server's
 * variables as characteristic entries to paste, trust a server's certificate, and show the
 * client's PKI folder. node-opcua loads only when one of them runs.
 */

interface PkiOptions {
  config?: string
  pki?: string
}

/** The PKI folder and application names of `--config` (the gateway's) or `--pki`. */
async function pkiOf(opts: PkiOptions, config?: Config) {
  const { clientPkiDir } = await import('../sources/opcua-pki.ts')
  if (config) {
    return {
      dir: clientPkiDir(config.opcua, config.dataDir),
      applicationName: config.opcua.applicationName,
      applicationUri: config.opcua.applicationUri,
      // How to name this folder again in a command a person runs next.
      flag: `--config ${opts.config}`,
    }
  }
  // Without a configuration: the default configuration's folder (dataDir ./data).
  const dir = clientPkiDir({ pkiDir: opts.pki }, './data')
  return { dir, applicationName: undefined, applicationUri: undefined, flag: `--pki ${dir}` }
}

function serverOf(config: Config | undefined, id: string | undefined): OpcuaServerConfig {
  if (!config || id === undefined) {
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      '--server needs --config (it names an entry of opcua.servers)',
    )
  }
  const server = config.opcua.servers.find((s) => s.id === id)
  if (!server) {
    const known = config.opcua.servers.map((s) => s.id).join(', ') || 'none'
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `no OPC-UA server "${id}" in opcua.servers (there are: ${known})`,
    )
  }
  return server
}

/** `--security Basic256Sha256:Sign` → policy and mode; a policy alone means SignAndEncrypt. */
export function parseSecurity(text: string): {
  securityPolicy: SecurityPolicyName
  securityMode: SecurityModeName
} {
  const [policy = '', mode] = text.split(':')
  const securityPolicy = SECURITY_POLICIES.find((p) => p.toLowerCase() === policy.toLowerCase())
  const securityMode = SECURITY_MODES.find(
    (m) =>
      m.toLowerCase() ===
      (mode ?? (securityPolicy === 'None' ? 'None' : 'SignAndEncrypt')).toLowerCase(),
  )
  if (
    !securityPolicy ||
    !securityMode ||
    (securityPolicy === 'None') !== (securityMode === 'None')
  ) {
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `--security takes None or POLICY[:MODE] with POLICY one of ${SECURITY_POLICIES.filter((p) => p !== 'None').join(', ')} and MODE Sign or SignAndEncrypt (default), not "${text}"`,
    )
  }
  return { securityPolicy, securityMode }
}

/** node-opcua prints warnings on the console: here stdout is the YAML, so they go to stderr when asked. */
async function quietLibrary(verbose: boolean): Promise<void> {
  const { setWarningLogger, setErrorLogger } = await import('node-opcua')
  const { format } = await import('node:util')
  const toStderr = (_context: unknown, ...args: unknown[]) =>
    verbose && process.stderr.write(`node-opcua: ${format(...args)}\n`)
  setWarningLogger(toStderr)
  setErrorLogger(toStderr)
}

export function registerOpcuaCommands(program: Command): void {
  const opcua = program
    .command('opcua')
    .description(
      "OPC-UA: list a server's variables as characteristics, trust a server's certificate, show the client's certificates (docs/opcua.md).",
    )

  opcua
    .command('browse')
    .description(
      "List the server's numeric variables (with EngineeringUnits and EURange) and print a server entry and characteristic entries to paste (YAML).",
    )
    .argument('[endpoint]', 'opc.tcp://host:port (or take it from --config and --server)')
    .option(
      '-c, --config <file>',
      "the gateway's configuration: its PKI folder (and --server's settings)",
    )
    .option('--server <id>', 'an entry of opcua.servers: its endpoint, security and user')
    .option(
      '--security <policy[:mode]>',
      'None, or Basic256Sha256 | Aes128_Sha256_RsaOaep | Aes256_Sha256_RsaPss with :Sign or :SignAndEncrypt',
      'Basic256Sha256:SignAndEncrypt',
    )
    .option('--user <name>', 'user name for the session (the password from --password-env)')
    .option('--password-env <var>', 'environment variable holding the password')
    .option('--pki <dir>', 'client PKI folder without --config', 'data/pki/opcua-client')
    .option('--id <id>', 'server id in the printed entries (default: --server, else opcua-1)')
    .option('--verbose', "print node-opcua's warnings on stderr")
    .action(
      async (
        endpointArg: string | undefined,
        opts: PkiOptions & {
          server?: string
          security: string
          user?: string
          passwordEnv?: string
          id?: string
          verbose?: boolean
        },
      ) => {
        const config = opts.config ? await loadConfigFile(opts.config) : undefined
        const configured = opts.server !== undefined ? serverOf(config, opts.server) : undefined
        const endpoint = endpointArg ?? configured?.endpoint
        if (!endpoint) {
          throw new LinewatchError(
            'LW_ERR_CONFIG_INVALID',
            'name the server: an endpoint (opc.tcp://host:port), or --config FILE --server ID',
          )
        }
        const security = configured
          ? { securityPolicy: configured.securityPolicy, securityMode: configured.securityMode }
          : parseSecurity(opts.security)
        const user = opts.user ?? configured?.user
        const passwordEnv = opts.passwordEnv ?? configured?.passwordEnv
        if ((user === undefined) !== (passwordEnv === undefined)) {
          throw new LinewatchError('LW_ERR_CONFIG_INVALID', '--user and --password-env go together')
        }
        const password = passwordEnv !== undefined ? process.env[passwordEnv] : undefined
        if (passwordEnv !== undefined && password === undefined) {
          throw new LinewatchError(
            'LW_ERR_SECRET_MISSING',
            `${passwordEnv} (the password) is not set in the environment`,
          )
        }
        await quietLibrary(opts.verbose === true)
        const where = await pkiOf(opts, config)
        const { readCertificateFile } = await import('../sources/opcua-pki.ts')
        const pinned =
          configured?.serverCertificate !== undefined
            ? {
                file: configured.serverCertificate,
                der: await readCertificateFile(configured.serverCertificate),
              }
            : undefined
        const outcome = await withSession(
          endpoint,
          { ...security, user, password, pinned },
          { ...where, serverId: opts.server, passwordEnv },
          async (session) => (await import('../sources/opcua-browse.ts')).browseVariables(session),
        )
        const { browseYaml } = await import('./opcua-entries.ts')
        process.stdout.write(
          browseYaml(
            {
              id: opts.id ?? opts.server ?? 'opcua-1',
              endpoint,
              ...security,
              user,
              passwordEnv,
            },
            outcome,
            new Date(),
          ),
        )
      },
    )

  opcua
    .command('trust')
    .description(
      "Trust an OPC-UA server's certificate: move it from rejected/ into trusted/ of the client's PKI folder (a running gateway tries the server again at once).",
    )
    .option('-c, --config <file>', "the gateway's configuration (its PKI folder)")
    .option('--pki <dir>', 'the PKI folder, without --config')
    .option(
      '--thumbprint <sha1>',
      'the certificate the gateway refused (its status and log name it)',
    )
    .option(
      '--server <id>',
      'ask this server (of --config) for its certificate; with --thumbprint, only if it matches',
    )
    .option('--file <cert>', 'a certificate file (PEM or DER), e.g. from the machine builder')
    .action(async (opts: PkiOptions & { thumbprint?: string; server?: string; file?: string }) => {
      if (!opts.config && !opts.pki) {
        throw new LinewatchError(
          'LW_ERR_CONFIG_INVALID',
          'name the PKI folder: --config FILE or --pki DIR',
        )
      }
      const config = opts.config ? await loadConfigFile(opts.config) : undefined
      const server = opts.server !== undefined ? serverOf(config, opts.server) : undefined
      await quietLibrary(false)
      const { normaliseThumbprint, certificateText } = await import('../sources/opcua-refusals.ts')
      const pkiModule = await import('../sources/opcua-pki.ts')
      const wanted =
        opts.thumbprint !== undefined ? normaliseThumbprint(opts.thumbprint) : undefined
      if (opts.thumbprint !== undefined && !wanted) {
        throw new LinewatchError(
          'LW_ERR_OPCUA_CERTIFICATE',
          `--thumbprint takes the SHA-1 thumbprint, 40 hex digits (colons allowed), not "${opts.thumbprint}"`,
        )
      }
      if (!opts.file && !wanted && !server) {
        throw new LinewatchError(
          'LW_ERR_OPCUA_CERTIFICATE',
          'name the certificate: --thumbprint (of one in rejected/), --file, or --server',
        )
      }
      const where = await pkiOf(opts, config)
      const pki = await pkiModule.acquireClientPki(where)
      try {
        let der: Buffer | undefined
        let from = ''
        if (opts.file) {
          der = await pkiModule.readCertificateFile(opts.file)
          from = opts.file
        } else if (wanted) {
          const rejected = await pkiModule.listCertificates(pki.rejectedFolder)
          const stored = rejected.find((c) => c.info.thumbprint === wanted)
          if (stored) {
            der = stored.der
            from = stored.file
          }
        }
        if (!der && server) {
          const { serverEndpoints } = await import('../sources/opcua-connect.ts')
          const { extractFirstCertificateInChain } = await import('node-opcua')
          const endpoints = await serverEndpoints(
            server.endpoint,
            pki,
            new AbortController().signal,
          ).catch((err: Error) => {
            throw new LinewatchError(
              'LW_ERR_OPCUA_CONNECT',
              `cannot ask ${server.endpoint} for its certificate: ${err.message}`,
            )
          })
          const chain = endpoints.find((e) => e.serverCertificate?.length)?.serverCertificate
          if (chain) {
            der = extractFirstCertificateInChain(chain) ?? chain
            from = `${server.endpoint} (asked now)`
          }
        }
        if (!der) {
          throw new LinewatchError(
            'LW_ERR_OPCUA_CERTIFICATE',
            wanted
              ? `no certificate with thumbprint ${wanted} in ${pki.rejectedFolder}${server ? ` and ${server.id} presents another` : ''} (linewatch opcua certificates ${where.flag} lists them)`
              : `${server?.endpoint} presents no certificate`,
          )
        }
        const info = pkiModule.describeCertificate(der)
        if (wanted && info.thumbprint !== wanted) {
          throw new LinewatchError(
            'LW_ERR_OPCUA_CERTIFICATE',
            `${from} is ${certificateText(info)}, not the thumbprint ${wanted}: nothing trusted`,
          )
        }
        const file = await pkiModule.trustCertificate(pki, der)
        process.stdout.write(`trusted ${certificateText(info)}\n  from ${from}\n  now   ${file}\n`)
        if (!wanted && !opts.file) {
          process.stdout.write(
            '  Compare the thumbprint with the one the machine shows: it was taken from the network just now.\n',
          )
        }
      } finally {
        await pki.release()
      }
    })

  opcua
    .command('certificates')
    .description(
      "Show the client's PKI folder: linewatch's own certificate (for servers to trust), and the trusted and rejected server certificates.",
    )
    .option('-c, --config <file>', "the gateway's configuration (its PKI folder)")
    .option('--pki <dir>', 'the PKI folder, without --config')
    .action(async (opts: PkiOptions) => {
      if (!opts.config && !opts.pki) {
        throw new LinewatchError(
          'LW_ERR_CONFIG_INVALID',
          'name the PKI folder: --config FILE or --pki DIR',
        )
      }
      const config = opts.config ? await loadConfigFile(opts.config) : undefined
      await quietLibrary(false)
      const { certificateText } = await import('../sources/opcua-refusals.ts')
      const pkiModule = await import('../sources/opcua-pki.ts')
      const where = await pkiOf(opts, config)
      const pki = await pkiModule.acquireClientPki(where)
      try {
        const out = [
          `PKI folder ${pki.dir}`,
          `own (servers must trust it; application URI ${pki.applicationUri}):`,
          `  ${certificateText(pki.own.info)}`,
          `  ${pki.own.file}`,
        ]
        for (const [label, folder] of [
          ['trusted', pki.trustedFolder],
          ['rejected', pki.rejectedFolder],
        ] as const) {
          const list = await pkiModule.listCertificates(folder)
          out.push(`${label} (${list.length}):`)
          for (const c of list) out.push(`  ${certificateText(c.info)}`, `  ${c.file}`)
        }
        process.stdout.write(`${out.join('\n')}\n`)
      } finally {
        await pki.release()
      }
    })
}

/** Opens a session as the gateway would (certificate verified first), runs `work`, closes. */
async function withSession<T>(
  endpoint: string,
  security: import('../sources/opcua-connect.ts').Security,
  where: Awaited<ReturnType<typeof pkiOf>> & {
    serverId?: string | undefined
    passwordEnv?: string | undefined
  },
  work: (session: import('node-opcua').ClientSession) => Promise<T>,
): Promise<T> {
  const connect = await import('../sources/opcua-connect.ts')
  const { acquireClientPki } = await import('../sources/opcua-pki.ts')
  const { refusalOf } = await import('../sources/opcua-refusals.ts')
  const signal = new AbortController().signal
  const pki = await acquireClientPki(where)
  let client: import('node-opcua').OPCUAClient | undefined
  let session: import('node-opcua').ClientSession | undefined
  try {
    const serverCertificate =
      security.securityPolicy === 'None'
        ? undefined
        : await connect.verifiedServerCertificate({
            endpoint,
            security,
            pki,
            signal,
            trustCommand: (thumbprint) =>
              `linewatch opcua trust ${where.flag}${where.serverId ? ` --server ${where.serverId}` : ''} --thumbprint ${thumbprint}`,
          })
    client = connect.createClient({
      security,
      pki,
      clientName: 'linewatch browse',
      serverCertificate,
    })
    await connect.step('connect', client.connect(endpoint), signal)
    session = await connect.step(
      'create session',
      client.createSession(connect.identityOf(security)),
      signal,
    )
    return await connect.step('browse', work(session), signal, 120_000)
  } catch (err) {
    const refusal = refusalOf(err, {
      user: security.user,
      passwordEnv: where.passwordEnv,
      own: pki.own,
    })
    throw new LinewatchError(
      'LW_ERR_OPCUA_CONNECT',
      refusal
        ? `${endpoint} refused: ${refusal.message}`
        : `cannot browse ${endpoint}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}`,
      { cause: err },
    )
  } finally {
    const never = new AbortController().signal
    if (session)
      await connect.step('close session', session.close(true), never, 3000).catch(() => {})
    if (client) await connect.step('disconnect', client.disconnect(), never, 3000).catch(() => {})
    await pki.release()
  }
}
