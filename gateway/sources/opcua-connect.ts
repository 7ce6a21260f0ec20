import {
  type EndpointDescription,
  extractFirstCertificateInChain,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua'
import type { SecurityModeName, SecurityPolicyName } from '../config/opcua-security-schema.ts'
import { type ClientPki, describeCertificate, listCertificates } from './opcua-pki.ts'
import {
  certificateText,
  chooseEndpoint,
  type EndpointOffer,
  OpcuaRefusal,
  type UserTokenName,
} from './opcua-refusals.ts'

/**
 * Opening an OPC-UA client with the configured security: the server's endpoint and certificate
 * verified before any secret is sent, then a client that uses exactly that certificate. Shared
 * by the source and `linewatch opcua`.
 */

export interface Security {
  securityPolicy: SecurityPolicyName
  securityMode: SecurityModeName
  user?: string | undefined
  password?: string | undefined
  /** A pinned server certificate: the server must present exactly this one. */
  pinned?: { file: string; der: Buffer } | undefined
}

export const STEP_TIMEOUT_MS = 10_000
export const CLOSE_TIMEOUT_MS = 3_000

/** Awaits `promise`, but gives up on abort or after `timeoutMs`, saying which step it was. */
export async function step<T>(
  what: string,
  promise: Promise<T>,
  signal: AbortSignal,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    onAbort = () => reject(new Error('stopped'))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, giveUp])
  } catch (cause) {
    throw new Error(`${what}: ${(cause as Error).message}`, { cause })
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
    promise.catch(() => {}) // a step given up on may still fail later: not an unhandled rejection
  }
}

const never = new AbortController().signal

function clientOptions(pki: ClientPki, clientName: string) {
  return {
    applicationName: pki.applicationName,
    applicationUri: pki.applicationUri,
    clientName,
    endpointMustExist: false,
    clientCertificateManager: pki.manager,
    // Whoever uses the client supervises reconnection: the client must not retry by itself.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
  }
}

/** What GetEndpoints says of an endpoint, in the configuration's words. */
export function offerOf(
  e: EndpointDescription,
): EndpointOffer & { description: EndpointDescription } {
  return {
    policy: e.securityPolicyUri?.split('#')[1] ?? String(e.securityPolicyUri),
    mode: MessageSecurityMode[e.securityMode] ?? String(e.securityMode),
    userTokens: (e.userIdentityTokens ?? []).map(
      (t) => (UserTokenType[t.tokenType] ?? 'Invalid') as UserTokenName,
    ),
    description: e,
  }
}

/** The server's endpoints, asked over an unsecured channel (GetEndpoints is open to anyone). */
export async function serverEndpoints(
  endpoint: string,
  pki: ClientPki,
  signal: AbortSignal,
): Promise<EndpointDescription[]> {
  const client = OPCUAClient.create({
    ...clientOptions(pki, 'linewatch discovery'),
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
  })
  try {
    await step('connect', client.connect(endpoint), signal)
    return await step('GetEndpoints', client.getEndpoints(), signal)
  } finally {
    await step('disconnect', client.disconnect(), never, CLOSE_TIMEOUT_MS).catch(() => {})
  }
}

/** What node-opcua's verdicts on a certificate mean for the person reading the status. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  BadCertificateTimeInvalid: 'it has expired or is not valid yet',
  BadCertificateIssuerTimeInvalid: "its issuer's certificate has expired or is not valid yet",
  BadCertificateRevocationUnknown:
    "no revocation list of its issuer is in the PKI folder (issuers/crl or trusted/crl): add the issuer's CRL",
  BadCertificateIssuerRevocationUnknown:
    "no revocation list of its issuer's issuer is in the PKI folder: add that CRL",
  BadCertificateRevoked: 'its issuer has revoked it',
  BadCertificateIssuerRevoked: "its issuer's certificate has been revoked",
  BadCertificateChainIncomplete:
    "its issuer's certificate is not in the PKI folder (issuers/certs): add the CA certificate",
  BadCertificateInvalid: 'it cannot be read as a certificate',
}

/**
 * The certificate chain of the server's endpoint that matches `security`, verified: equal to the
 * pinned certificate, or accepted by the PKI folder's trust list. An unknown certificate is
 * refused (node-opcua files it under rejected/) with the command that trusts it.
 */
export async function verifiedServerCertificate(options: {
  endpoint: string
  security: Security
  pki: ClientPki
  signal: AbortSignal
  /** The command a person runs to trust the certificate with this thumbprint. */
  trustCommand: (thumbprint: string) => string
}): Promise<Buffer> {
  const { security, pki } = options
  const endpoints = await serverEndpoints(options.endpoint, pki, options.signal)
  const chosen = chooseEndpoint(endpoints.map(offerOf), {
    policy: security.securityPolicy,
    mode: security.securityMode,
    user: security.user !== undefined,
  })
  if (chosen instanceof OpcuaRefusal) throw chosen
  const chain = chosen.description.serverCertificate
  if (!chain || chain.length === 0) {
    throw new OpcuaRefusal(
      'certificate-invalid',
      `the server's ${chosen.policy}/${chosen.mode} endpoint carries no certificate`,
    )
  }
  const leaf = extractFirstCertificateInChain(chain) ?? chain
  let info: ReturnType<typeof describeCertificate>
  try {
    info = describeCertificate(leaf)
  } catch (err) {
    throw new OpcuaRefusal(
      'certificate-invalid',
      `the server's certificate cannot be read: ${(err as Error).message}`,
    )
  }

  if (security.pinned) {
    const pinned = describeCertificate(security.pinned.der)
    if (pinned.thumbprint !== info.thumbprint) {
      throw new OpcuaRefusal(
        'certificate-mismatch',
        `the server presented ${certificateText(info)}, not the pinned serverCertificate ${security.pinned.file} (thumbprint ${pinned.thumbprint})`,
      )
    }
    const now = Date.now()
    if (!(info.notBefore.getTime() <= now && now <= info.notAfter.getTime())) {
      throw new OpcuaRefusal(
        'certificate-invalid',
        `the server's pinned certificate ${certificateText(info)} has expired or is not valid yet`,
      )
    }
    return chain
  }

  // The trust list as it is on disk now: a person may have trusted the certificate meanwhile.
  await pki.manager.reloadCertificates()
  const status = await pki.manager.checkCertificate(chain)
  if (status.isGood()) return chain
  if (status.equals(StatusCodes.BadCertificateUntrusted)) {
    const stored = (await listCertificates(pki.rejectedFolder)).find(
      (c) => c.info.thumbprint === info.thumbprint,
    )
    throw new OpcuaRefusal(
      'certificate-untrusted',
      `the server's certificate is not trusted: ${certificateText(info)}, kept as ${stored?.file ?? pki.rejectedFolder}. If it is this server's certificate (compare the thumbprint with the one the machine shows), trust it: ${options.trustCommand(info.thumbprint)}`,
    )
  }
  const problem = CERTIFICATE_PROBLEMS[status.name] ?? 'it failed verification'
  throw new OpcuaRefusal(
    'certificate-invalid',
    `the server's certificate ${certificateText(info)} is refused (${status.name}): ${problem}`,
  )
}

/** A client for `security`; `serverCertificate` (verified) is required unless the policy is None. */
export function createClient(options: {
  security: Security
  pki: ClientPki
  clientName: string
  serverCertificate?: Buffer | undefined
}): OPCUAClient {
  const { security } = options
  return OPCUAClient.create({
    ...clientOptions(options.pki, options.clientName),
    securityMode: MessageSecurityMode[security.securityMode],
    securityPolicy: SecurityPolicy[security.securityPolicy],
    // Given, the client uses this certificate and fetches none of its own (unverified).
    serverCertificate: options.serverCertificate,
    requestedSessionTimeout: 60_000,
    keepPendingSessionsOnDisconnect: true, // the caller decides whether the session can be closed
  })
}

/** The session's identity: the user and password, or anonymous. */
export function identityOf(security: Security): UserIdentityInfo {
  return security.user !== undefined
    ? { type: UserTokenType.UserName, userName: security.user, password: security.password ?? '' }
    : { type: UserTokenType.Anonymous }
}
