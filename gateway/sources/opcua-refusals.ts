import type { SecurityModeName, SecurityPolicyName } from '../config/opcua-security-schema.ts'

/**
 * The pure parts of OPC-UA security: which endpoint to take, why a connection was refused and
 * what a person does about it, and how long to wait before trying again. No I/O here.
 */

/** Why a server could not be used; each is counted in the source's status. */
export type RefusalKind =
  /** The server's certificate is in no trust list (it now lies in rejected/). */
  | 'certificate-untrusted'
  /** The server presented another certificate than the pinned one. */
  | 'certificate-mismatch'
  /** Trusted or not, the certificate failed a check: expired, revoked, chain incomplete… */
  | 'certificate-invalid'
  /** The server refused linewatch's own certificate (it does not trust it yet). */
  | 'client-certificate-refused'
  /** The server refused the user name and password, or the session's identity. */
  | 'identity-refused'
  /** The server offers no endpoint with the configured policy, mode and identity. */
  | 'no-endpoint'

/** A refusal: not a network hiccup but something a person must fix; retried slowly. */
export class OpcuaRefusal extends Error {
  readonly kind: RefusalKind
  constructor(kind: RefusalKind, message: string) {
    super(message)
    this.name = 'OpcuaRefusal'
    this.kind = kind
  }
}

export interface CertificateInfo {
  /** The subject's fields, most specific first: `CN=…, O=…, C=…`. */
  subject: string
  /** SHA-1 of the DER, 40 lowercase hex digits: node-opcua names its files with it. */
  thumbprint: string
  notBefore: Date
  notAfter: Date
  /** The application URI in subjectAltName, when there is one. */
  applicationUri?: string | undefined
}

/** `"CN=…, O=…" (thumbprint …, valid until 2036-12-03)`: enough to recognise a certificate. */
export function certificateText(info: CertificateInfo): string {
  return `"${info.subject}" (thumbprint ${info.thumbprint}, valid ${day(info.notBefore)} to ${day(info.notAfter)})`
}

const day = (d: Date) => (Number.isNaN(d.getTime()) ? '?' : d.toISOString().slice(0, 10))

/** A thumbprint as people copy it (colons, spaces, upper case) → 40 lowercase hex digits. */
export function normaliseThumbprint(text: string): string | undefined {
  const hex = text.replace(/[\s:]/g, '').toLowerCase()
  return /^[0-9a-f]{40}$/.test(hex) ? hex : undefined
}

// --- Endpoints --------------------------------------------------------------------------------

export type UserTokenName = 'Anonymous' | 'UserName' | 'Certificate' | 'IssuedToken'

/** What an endpoint offers, as GetEndpoints describes it. */
export interface EndpointOffer {
  policy: string
  mode: string
  userTokens: readonly UserTokenName[]
}

/**
 * The endpoint with the configured policy and mode that takes the configured identity, or the
 * refusal saying what the server offers instead.
 */
export function chooseEndpoint<E extends EndpointOffer>(
  offers: readonly E[],
  want: { policy: SecurityPolicyName; mode: SecurityModeName; user: boolean },
): E | OpcuaRefusal {
  const matching = offers.filter((o) => o.policy === want.policy && o.mode === want.mode)
  const token: UserTokenName = want.user ? 'UserName' : 'Anonymous'
  const chosen = matching.find((o) => o.userTokens.includes(token))
  if (chosen) return chosen
  const offered = [...new Set(offers.map((o) => `${o.policy}/${o.mode}`))].join(', ') || 'nothing'
  if (matching.length === 0) {
    return new OpcuaRefusal(
      'no-endpoint',
      `the server offers no endpoint with ${want.policy}/${want.mode}; it offers ${offered}: set securityPolicy and securityMode to one of these`,
    )
  }
  const accepted = [...new Set(matching.flatMap((o) => o.userTokens))].join(', ') || 'nothing'
  return new OpcuaRefusal(
    want.user ? 'no-endpoint' : 'identity-refused',
    want.user
      ? `the server's ${want.policy}/${want.mode} endpoint takes no user name and password (it takes ${accepted})`
      : `the server's ${want.policy}/${want.mode} endpoint takes no anonymous session (it takes ${accepted}): set user and passwordEnv`,
  )
}

// --- Refusals from the wire -------------------------------------------------------------------

/** Status codes by which a server refuses the session's identity. */
const IDENTITY =
  /\b(BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|BadUserSignatureInvalid)\b/
/** node-opcua's words when the server has no endpoint of the policy and mode (under None). */
const NO_ENDPOINT = /End point must exist.*securityMode = (\w+).*securityPolicy = \S*#(\w+)/s
/** node-opcua's words when the server closes the OpenSecureChannel over linewatch's certificate. */
const CHANNEL_REFUSED =
  /rejected by server: (BadSecurityChecksFailed|BadCertificate\w+|BadNonceInvalid|BadSecurityPolicyRejected)/

export interface RefusalContext {
  user?: string | undefined
  passwordEnv?: string | undefined
  /** linewatch's own certificate: what the server's administrator must trust. */
  own?: { file: string; info: CertificateInfo } | undefined
}

/**
 * The refusal an error stands for, or undefined for a failure that may pass by itself (no
 * route, a time-out, a server restarting). Looks through the error's causes.
 */
export function refusalOf(err: unknown, ctx: RefusalContext): OpcuaRefusal | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof OpcuaRefusal) return e
    const identity = IDENTITY.exec(e.message)
    if (identity) {
      return new OpcuaRefusal(
        'identity-refused',
        ctx.user
          ? `the server refused user "${ctx.user}" (${identity[1]}): check the user name and the password in ${ctx.passwordEnv ?? 'passwordEnv'}`
          : `the server refused an anonymous session (${identity[1]}): set user and passwordEnv`,
      )
    }
    const endpoint = NO_ENDPOINT.exec(e.message)
    if (endpoint) {
      return new OpcuaRefusal(
        'no-endpoint',
        `the server offers no endpoint with ${endpoint[2]}/${endpoint[1]}: set securityPolicy and securityMode to one it offers`,
      )
    }
    const channel = CHANNEL_REFUSED.exec(e.message)
    if (channel) {
      const own = ctx.own
        ? `: the server must trust linewatch's certificate ${certificateText(ctx.own.info)}, file ${ctx.own.file}`
        : ''
      return new OpcuaRefusal(
        'client-certificate-refused',
        `the server refused the secure channel (${channel[1]}), most often because it does not trust linewatch's certificate yet${own}`,
      )
    }
  }
  return undefined
}

// --- Retrying ---------------------------------------------------------------------------------

/** After a failure that may pass by itself: 250 ms, doubling, capped at 3 s. */
const TRANSIENT_FIRST_MS = 250
const TRANSIENT_MAX_MS = 3_000
/** After a refusal a person must fix: 5 s, doubling, capped at 1 min (no storm of sign-ins). */
const REFUSED_FIRST_MS = 5_000
const REFUSED_MAX_MS = 60_000

/**
 * How long to wait before the next attempt after `n` failures in a row, the latest included
 * (0: a connection that held was lost; try again soon).
 */
export function retryDelayMs(n: number, refused: boolean): number {
  return refused
    ? Math.min(REFUSED_MAX_MS, REFUSED_FIRST_MS * 2 ** Math.max(0, n - 1))
    : Math.min(TRANSIENT_MAX_MS, TRANSIENT_FIRST_MS * 2 ** Math.max(0, n))
}
