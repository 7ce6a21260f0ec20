import { hostname } from 'node:os'
import { join } from 'node:path'
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAVariable,
  Variant,
} from 'node-opcua'
import { LinewatchError } from '../gateway/errors.ts'
import type { Logger } from '../gateway/log.ts'
import type { Scenario, StreamSpec } from './scenario.ts'
import { startStreams } from './ticker.ts'

/**
 * The OPC-UA machine simulator: a real node-opcua server with one Double variable per scenario
 * stream that has an `opcua` binding, driven in real time by the scenario.
 */
export interface MachineSimulator {
  /** `opc.tcp://127.0.0.1:<port>` by default (SecurityPolicy None, anonymous). */
  endpoint: string
  port: number
  namespaceUri: string
  /** Sets a variable now (`nodeId` is the string identifier, e.g. `Cell1.BoreDiameter`). */
  write(nodeId: string, value: number, ts?: number): void
  stop(): Promise<void>
}

export interface MachineSimulatorOptions {
  scenario: Scenario
  /** Overrides `scenario.opcua.port`. */
  port?: number | undefined
  /** Address to listen on: 127.0.0.1 by default; 0.0.0.0 (or ::) for every interface. */
  host?: string | undefined
  /** Where the server keeps its own certificate (a temporary directory in tests). */
  pkiDir: string
  log?: Logger
  /** Run the scenario's streams (default true); tests turn it off and call `write`. */
  drive?: boolean
}

export async function startMachineSimulator(
  options: MachineSimulatorOptions,
): Promise<MachineSimulator> {
  const { scenario, pkiDir, drive = true } = options
  const port = options.port ?? scenario.opcua.port
  const host = options.host ?? '127.0.0.1'
  // The endpoint URL a server advertises must name it: a wildcard address names nothing.
  const advertised = host === '0.0.0.0' || host === '::' ? hostname() : host
  const namespaceUri = scenario.opcua.namespaceUri
  const log = options.log?.child({ module: 'sim-machine', port })

  const server = new OPCUAServer({
    port,
    host,
    hostname: advertised,
    // A demo machine: only None is offered, and the demo's configuration chooses None for it
    // explicitly (docs/opcua.md). A real machine is reached with a secure policy.
    securityModes: [MessageSecurityMode.None],
    securityPolicies: [SecurityPolicy.None],
    allowAnonymous: true,
    // Both managers default to ~/.config; keep every file under pkiDir.
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'server'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    userCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'user'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    // 0: a client asking for samplingInterval 0 gets every change, none folded together.
    serverCapabilities: { minSupportedSampleRate: 0 },
    buildInfo: { productName: 'linewatch machine simulator', manufacturerName: 'linewatch' },
    serverInfo: {
      applicationUri: 'urn:linewatch:sim:server',
      applicationName: 'linewatch machine simulator',
    },
  })
  await server.initialize()

  const addressSpace = server.engine.addressSpace
  if (!addressSpace) throw new Error('OPC-UA server has no address space after initialize()')
  const namespace = addressSpace.registerNamespace(namespaceUri)
  const folder = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: 'Machine' })

  const streams = scenario.streams.filter(
    (s): s is StreamSpec & { opcua: NonNullable<StreamSpec['opcua']> } => Boolean(s.opcua),
  )
  const variables = new Map<string, UAVariable>()
  for (const stream of streams) {
    const name = stream.opcua.displayName ?? stream.opcua.nodeId
    const variable = namespace.addVariable({
      organizedBy: folder,
      nodeId: `s=${stream.opcua.nodeId}`,
      browseName: name,
      displayName: name,
      dataType: 'Double',
      minimumSamplingInterval: 0, // changes are pushed, not polled
    })
    // Until the first tick there is no measurement: say so rather than invent one.
    variable.setValueFromSource({ dataType: DataType.Null }, StatusCodes.BadWaitingForInitialData)
    variables.set(stream.opcua.nodeId, variable)
  }

  const write = (nodeId: string, value: number, ts = Date.now()): void => {
    const variable = variables.get(nodeId)
    if (!variable) throw new Error(`machine simulator has no variable ${nodeId}`)
    variable.setValueFromSource(
      new Variant({ dataType: DataType.Double, value }),
      StatusCodes.Good,
      new Date(ts),
    )
  }

  try {
    await server.start() // on failure it has shut itself down already
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    throw new LinewatchError(
      'LW_ERR_PORT_IN_USE',
      `OPC-UA simulator port ${port} is in use by another program: stop it or choose another (--opcua-port, or opcua.port in the scenario)`,
      { cause: err },
    )
  }
  const ticker = drive
    ? startStreams(scenario, streams, (stream, value, ts) =>
        write(stream.opcua?.nodeId ?? stream.id, value, ts),
      )
    : undefined
  const endpoint = `opc.tcp://${advertised.includes(':') ? `[${advertised}]` : advertised}:${port}`
  log?.info(
    { endpoint, namespaceUri, variables: variables.size, drive },
    'machine simulator started',
  )

  let stopping: Promise<void> | undefined
  return {
    endpoint,
    port,
    namespaceUri,
    write,
    stop() {
      stopping ??= (async () => {
        ticker?.stop()
        await server.shutdown(0) // 0: close at once, no grace period announced to clients
        log?.info('machine simulator stopped')
      })()
      return stopping
    },
  }
}
