import { resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { stringify as stringifyYaml } from 'yaml'
import { newToken, sha256Hex } from '../api/auth.ts'
import { type Config, ConfigSchema, loadConfigFile, normaliseSchema } from '../config/index.ts'
import { configurationReference } from '../config/reference.ts'
import { LinewatchError } from '../errors.ts'
import type { Gateway } from '../index.ts'
import { createLogger, humanReadable, type Logger, type LogLevel } from '../log.ts'
import { packageVersion } from '../paths.ts'
import { hashPassword } from '../sources/credentials.ts'
import { registerCleanroomCommand } from './cleanroom.ts'
import { registerOpcuaCommands } from './opcua.ts'
import { readNewPassword } from './password-input.ts'
import { registerQualityCommands } from './quality.ts'
import type { Simulators } from './simulate.ts'
import { registerSparkplugCommands } from './sparkplug.ts'
import { registerSpcCommand } from './spc.ts'

/**
 * `linewatch`: start the gateway, run the simulators, check a configuration, make tokens.
 * Errors a user can meet print their code and message (no stack) and exit 1.
 */

function logger(level: LogLevel, json: boolean): Logger {
  return createLogger(level, json || !process.stdout.isTTY ? undefined : humanReadable())
}

/** Stops `close` on SIGINT/SIGTERM, then exits. */
function onShutdown(log: Logger, close: () => Promise<void>): void {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}

const program = new Command()
  .name('linewatch')
  .description(
    'Real-time quality monitoring: MQTT and OPC-UA in, SPC and alarms, nonconformances, a live dashboard.',
  )
  .version(packageVersion())
  .showHelpAfterError()

program
  .command('start')
  .description('Run the gateway (and, with --simulate, the demo simulators in the same process).')
  .option('-c, --config <file>', 'configuration file', 'linewatch.yaml')
  .option('--simulate <scenario>', 'also run the simulators of this scenario file (the demo)')
  .option('--json-logs', 'JSON log lines even on a terminal')
  .option(
    '--gateway <name>',
    "this gateway's name in a cluster (overrides cluster.gateway: one file serves every gateway)",
  )
  .action(
    async (opts: { config: string; simulate?: string; jsonLogs?: boolean; gateway?: string }) => {
      const loaded = await loadConfigFile(opts.config)
      const config = withGatewayName(loaded, opts.gateway)
      const log = logger(config.log.level, opts.jsonLogs === true)
      let simulators: Simulators | null = null
      let gateway: Gateway | null = null
      onShutdown(log, async () => {
        await simulators?.stopSensors()
        await gateway?.close()
        await simulators?.stopMachine()
      })
      // The machine first (the gateway connects to it), the sensors last (they publish to the gateway).
      if (opts.simulate)
        simulators = await (await import('./simulate.ts')).startSimulators({
          scenarioFile: opts.simulate,
          log,
          what: 'all',
          config,
        })
      // The gateway (fastify, socket.io, aedes…) loads only for the commands that run it.
      const { createGateway } = await import('../index.ts')
      gateway = await createGateway(config, { log, configFile: resolve(opts.config) })
      if (simulators && opts.simulate) await simulators.startSensors(gateway.urls.mqtt ?? undefined)
      log.info(
        { dashboard: dashboardUrl(config, gateway) },
        `linewatch is running: open ${dashboardUrl(config, gateway)}`,
      )
    },
  )

/** The configuration with this gateway's name in the cluster, as `--gateway` gives it. */
function withGatewayName(config: Config, name: string | undefined): Config {
  if (name === undefined) return config
  if (!config.cluster)
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      '--gateway names a gateway of a cluster: the configuration has no cluster section',
    )
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name))
    throw new LinewatchError(
      'LW_ERR_CONFIG_INVALID',
      `--gateway ${name}: letters, digits, _ . - (at most 63)`,
    )
  return { ...config, cluster: { ...config.cluster, gateway: name } }
}

function dashboardUrl(config: Config, gateway: Gateway): string {
  return config.http.host === '0.0.0.0'
    ? gateway.urls.http.replace('127.0.0.1', 'localhost')
    : gateway.urls.http
}

program
  .command('simulate')
  .description('Run the simulators alone: the MQTT sensor fleet, the OPC-UA machine, or both.')
  .argument('[what]', 'all | sensors | machine', 'all')
  .option('-s, --scenario <file>', 'scenario file', 'simulators/scenarios/demo.yaml')
  .option('--mqtt-url <url>', "broker to publish to (default: the scenario's mqtt.url)")
  .option(
    '--opcua-port <port>',
    "port of the machine's OPC-UA server (default: the scenario's)",
    (v) => Number(v),
  )
  .option('--opcua-host <host>', 'address the OPC-UA server listens on', '127.0.0.1')
  .action(
    async (
      what: string,
      opts: { scenario: string; mqttUrl?: string; opcuaPort?: number; opcuaHost: string },
    ) => {
      if (!['all', 'sensors', 'machine'].includes(what))
        throw new LinewatchError(
          'LW_ERR_SCENARIO_INVALID',
          `simulate takes all, sensors or machine, not "${what}"`,
        )
      const log = logger('info', false)
      const { startSimulators } = await import('./simulate.ts')
      const sims = await startSimulators({
        scenarioFile: opts.scenario,
        log,
        what: what as 'all' | 'sensors' | 'machine',
        opcuaPort: opts.opcuaPort,
        opcuaHost: opts.opcuaHost,
      })
      if (what !== 'machine') await sims.startSensors(opts.mqttUrl)
      onShutdown(log, async () => {
        await sims.stopSensors()
        await sims.stopMachine()
      })
    },
  )

const configCommand = program.command('config').description('Work with configuration files.')

configCommand
  .command('check')
  .description('Validate a configuration file; print each problem with its file, line and reason.')
  .argument('<file>', 'configuration file')
  .action(async (file: string) => {
    const config = await loadConfigFile(file)
    const n = config.characteristics.length
    const mqtt = config.characteristics.filter((c) => c.source.mqtt).length
    const sparkplug = config.characteristics.filter((c) => c.source.sparkplug).length
    const sp = sparkplug > 0 ? `${sparkplug} Sparkplug, ` : ''
    process.stdout.write(
      `${file}: valid — ${n} characteristics (${mqtt} MQTT, ${sp}${n - mqtt - sparkplug} OPC-UA), time series in ${config.store.timeseries}\n`,
    )
  })

configCommand
  .command('schema')
  .description('Print the JSON Schema of the configuration file.')
  .action(() => {
    process.stdout.write(`${JSON.stringify(normaliseSchema(ConfigSchema), null, 2)}\n`)
  })

configCommand
  .command('reference')
  .description('Print the configuration reference (Markdown) generated from the schema.')
  .action(() => {
    process.stdout.write(configurationReference())
  })

program
  .command('token')
  .description(
    'Make a new API access token; print it once, and the configuration entry holding its hash.',
  )
  .option(
    '--id <id>',
    'name of the token (who or what uses it): letters, digits, dot, underscore, hyphen',
    tokenId,
    'wall-display',
  )
  .addOption(
    new Option('--role <role>', 'role')
      .choices(['viewer', 'operator', 'quality-engineer', 'quality-manager', 'admin'])
      .default('viewer'),
  )
  .action((opts: { id: string; role: string }) => {
    const token = newToken()
    // Written by the YAML library, so an id such as "123" or "true" stays a string.
    const entry = stringifyYaml(
      { id: opts.id, role: opts.role, sha256: sha256Hex(token) },
      { collectionStyle: 'flow', lineWidth: 0 },
    ).trimEnd()
    process.stdout.write(
      `Token (shown once; give it to ${opts.id}):\n  ${token}\n\nAdd to auth.tokens in the configuration:\n  - ${entry}\n`,
    )
  })

/** A token id as auth.tokens[].id takes it (the configuration's Id), else the rule it breaks. */
function tokenId(value: string): string {
  const rule = ConfigSchema.properties.auth.properties.tokens.items.properties.id as unknown as {
    pattern: string
    maxLength: number
  }
  if (new RegExp(rule.pattern).test(value) && value.length <= rule.maxLength) return value
  throw new InvalidArgumentError(
    `A token id is letters, digits, dot, underscore and hyphen, starting with a letter or digit (${rule.pattern}, at most ${rule.maxLength} characters), as auth.tokens[].id takes it.`,
  )
}

program
  .command('hash-password')
  .description(
    'Hash an MQTT password for mqtt.broker.users: typed twice at a terminal (not shown), or read from standard input.',
  )
  .action(async () => {
    const password = await readNewPassword({ what: 'password', code: 'LW_ERR_CONFIG_INVALID' })
    process.stdout.write(`${await hashPassword(password)}\n`)
  })

registerSpcCommand(program)
registerCleanroomCommand(program)
registerSparkplugCommands(program)
registerOpcuaCommands(program)
registerQualityCommands(program)

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof LinewatchError) {
    process.stderr.write(`linewatch: ${err.code}: ${err.message}\n`)
  } else {
    process.stderr.write(`linewatch: ${(err as Error).stack ?? String(err)}\n`)
  }
  process.exit(1)
})
