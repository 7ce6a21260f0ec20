import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import {
  DataType,
  MessageSecurityMode,
  makeEUInformation,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  type StatusCode,
  StatusCodes,
  type UAObject,
  Variant,
  type VariantLike,
} from 'node-opcua'
import { createLogger, type Logger } from '../../gateway/log.ts'
import type { Communication, Reading, ReadingSink, Rejection } from '../../gateway/sources/types.ts'
import type { Scenario, StreamSpec } from '../../simulators/scenario.ts'

/** A sink that keeps everything it is given. */
export function collectingSink(): ReadingSink & {
  readings: Reading[]
  rejections: Rejection[]
  communications: Communication[]
} {
  const readings: Reading[] = []
  const rejections: Rejection[] = []
  const communications: Communication[] = []
  return {
    readings,
    rejections,
    communications,
    reading: (r) => void readings.push(r),
    reject: (r) => void rejections.push(r),
    // Kept in memory: everything is as stored as it will ever be.
    durable: (done) => done(),
    remember: () => {},
    communication: (c) => void communications.push(c),
  }
}

/** A pino logger whose JSON lines the test can read. */
export function capturedLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { log, lines }
}

/** A scenario with only OPC-UA streams, `every` defaulting to 1s and no noise. */
export function opcuaScenario(
  streams: Array<Partial<StreamSpec> & { id: string; nodeId: string }>,
  namespaceUri = 'urn:linewatch:sim:machine',
): Scenario {
  return {
    seed: 7,
    mqtt: { url: 'mqtt://127.0.0.1:1883' },
    opcua: { port: 4840, namespaceUri },
    streams: streams.map(({ nodeId, ...s }) => ({
      every: '1s',
      mean: 10,
      sigma: 0,
      decimals: 3,
      deviations: [],
      ...s,
      opcua: { nodeId },
    })),
  }
}

/** Sets a test variable's value, status (Good by default) and source timestamp (now by default). */
export type SetVariable = (value: VariantLike, status?: StatusCode, ts?: number) => void

/**
 * A bare OPC-UA server for what the machine simulator does not offer: namespaces registered
 * before the one under test (so its index is not 1) and variables of any type and status.
 */
export interface TestServer {
  endpoint: string
  /** Index of each namespace URI on this server. */
  namespaceIndex(uri: string): number
  /** Adds `ns=<uri's index>;s=<id>` under Objects (valueRank 1 for an array). */
  addVariable(uri: string, id: string, dataType: DataType, valueRank?: number): SetVariable
  stop(): Promise<void>
}

export async function startTestServer(options: {
  port: number
  pkiDir: string
  namespaces: string[]
}): Promise<TestServer> {
  const server = new OPCUAServer({
    port: options.port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    securityModes: [MessageSecurityMode.None],
    securityPolicies: [SecurityPolicy.None],
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: join(options.pkiDir, 'server'),
    }),
    userCertificateManager: new OPCUACertificateManager({
      rootFolder: join(options.pkiDir, 'user'),
    }),
    serverCapabilities: { minSupportedSampleRate: 0 },
  })
  await server.initialize()
  const addressSpace = server.engine.addressSpace
  if (!addressSpace) throw new Error('test server has no address space')
  for (const uri of options.namespaces) addressSpace.registerNamespace(uri)
  await server.start()
  return {
    endpoint: `opc.tcp://127.0.0.1:${options.port}`,
    namespaceIndex: (uri) => addressSpace.getNamespaceIndex(uri),
    addVariable(uri, id, dataType, valueRank = -1) {
      const variable = addressSpace.getNamespace(uri).addVariable({
        organizedBy: addressSpace.rootFolder.objects,
        nodeId: `s=${id}`,
        browseName: id,
        dataType: DataType[dataType],
        valueRank,
        minimumSamplingInterval: 0,
      })
      return (value, status = StatusCodes.Good, ts = Date.now()) =>
        variable.setValueFromSource(new Variant(value), status, new Date(ts))
    },
    stop: () => server.shutdown(0),
  }
}

/**
 * A TCP relay that can go silent without closing anything, as a pulled cable or a hung
 * server looks to a client: bytes in either direction are dropped while it is frozen.
 */
export interface SilentLink {
  port: number
  /** Drop every byte from now on; sockets stay open. */
  freeze(): void
  /** Reset the connections that went through the silence (as TCP would, in the end) and relay again. */
  thaw(): void
  stop(): Promise<void>
}

export async function startSilentLink(targetPort: number): Promise<SilentLink> {
  let frozen = false
  const sockets = new Set<Socket>()
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1')
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      sockets.add(from)
      from.on('data', (chunk) => {
        if (!frozen) to.write(chunk)
      })
      from.on('close', () => {
        sockets.delete(from)
        to.destroy()
      })
      from.on('error', () => to.destroy())
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    freeze: () => {
      frozen = true
    },
    thaw: () => {
      for (const s of sockets) s.destroy()
      frozen = false
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/**
 * A node-opcua server that offers only secure endpoints (Basic256Sha256, Aes128_Sha256_RsaOaep
 * and Aes256_Sha256_RsaPss, with Sign and SignAndEncrypt), with its own certificate and trust
 * list (a client's certificate is refused until `trust`), and user names with passwords
 * (no anonymous sessions).
 */
export interface SecureTestServer {
  endpoint: string
  /** The server's own certificate (DER). */
  certificate: Buffer
  /** Sign-ins with a user name and password the server has judged, right or wrong. */
  signIns(): number
  /** Puts a client's certificate (DER) on the server's trust list. */
  trust(certificate: Buffer): Promise<void>
  /** Adds an AnalogItemType variable (Double) with EURange and EngineeringUnits under `folder`. */
  addAnalogItem(options: {
    folder: string
    id: string
    name: string
    range: { low: number; high: number }
    /** UNECE common code (e.g. B47), symbol (kN) and description (kilonewton). */
    unit: { code: string; symbol: string; description: string }
  }): (value: number, ts?: number) => void
  /** Adds a plain variable (no EURange, no unit), e.g. a String one, under `folder`. */
  addVariable(folder: string, id: string, name: string, dataType: DataType): void
  stop(): Promise<void>
}

export async function startSecureTestServer(options: {
  port: number
  pkiDir: string
  namespace: string
  users: Record<string, string>
  /** A certificate (PEM) and key of its own, e.g. issued by a CA, for this application URI. */
  own?: { certificateFile: string; privateKeyFile: string; applicationUri: string }
}): Promise<SecureTestServer> {
  let signIns = 0
  const serverPki = new OPCUACertificateManager({
    rootFolder: join(options.pkiDir, 'server'),
    automaticallyAcceptUnknownCertificate: false,
  })
  const server = new OPCUAServer({
    port: options.port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    securityModes: [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [
      SecurityPolicy.Basic256Sha256,
      SecurityPolicy.Aes128_Sha256_RsaOaep,
      SecurityPolicy.Aes256_Sha256_RsaPss,
    ],
    allowAnonymous: false,
    userManager: {
      isValidUser: (user: string, password: string) => {
        signIns++
        return options.users[user] === password
      },
    },
    serverCertificateManager: serverPki,
    userCertificateManager: new OPCUACertificateManager({
      rootFolder: join(options.pkiDir, 'user'),
    }),
    serverCapabilities: { minSupportedSampleRate: 0 },
    ...(options.own
      ? {
          certificateFile: options.own.certificateFile,
          privateKeyFile: options.own.privateKeyFile,
          serverInfo: { applicationUri: options.own.applicationUri },
        }
      : {}),
  })
  await server.initialize()
  const addressSpace = server.engine.addressSpace
  if (!addressSpace) throw new Error('test server has no address space')
  const namespace = addressSpace.registerNamespace(options.namespace)
  const folders = new Map<string, UAObject>()
  const folderOf = (name: string) => {
    let folder = folders.get(name)
    if (!folder) {
      folder = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: name })
      folders.set(name, folder)
    }
    return folder
  }
  await server.start()
  return {
    endpoint: `opc.tcp://127.0.0.1:${options.port}`,
    certificate: Buffer.from(server.getCertificate()),
    signIns: () => signIns,
    trust: (certificate) => serverPki.trustCertificate(certificate),
    addAnalogItem({ folder, id, name, range, unit }) {
      const variable = namespace.addAnalogDataItem({
        organizedBy: folderOf(folder),
        nodeId: `s=${id}`,
        browseName: name,
        dataType: 'Double',
        engineeringUnitsRange: range,
        engineeringUnits: makeEUInformation(unit.code, unit.symbol, unit.description),
        minimumSamplingInterval: 0,
      })
      return (value, ts = Date.now()) =>
        variable.setValueFromSource(
          new Variant({ dataType: DataType.Double, value }),
          StatusCodes.Good,
          new Date(ts),
        )
    },
    addVariable(folder, id, name, dataType) {
      namespace.addVariable({
        organizedBy: folderOf(folder),
        nodeId: `s=${id}`,
        browseName: name,
        dataType: DataType[dataType],
      })
    },
    stop: () => server.shutdown(0),
  }
}

/** A press's force (kN, 0–50, an AnalogItemType at `s=Press.Force`) on a secure test server. */
export function addPressForce(server: SecureTestServer): (value: number, ts?: number) => void {
  return server.addAnalogItem({
    folder: 'Press',
    id: 'Press.Force',
    name: 'Force',
    range: { low: 0, high: 50 },
    unit: { code: 'B47', symbol: 'kN', description: 'kilonewton' },
  })
}
