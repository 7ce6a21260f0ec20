import Type from 'typebox'
import type { SemanticIssue } from './yaml-schema.ts'

/**
 * The OPC-UA security parts of the configuration (issue 10): a server's security policy, mode
 * and user identity, and the client's PKI. schema.ts spreads these properties into
 * `opcua.servers[]` and `opcua`. docs/opcua.md explains them.
 */

/** Policies offered: the ones OPC-UA 1.04+ keeps (Basic128Rsa15 and Basic256 are deprecated). */
export const SECURITY_POLICIES = [
  'None',
  'Basic256Sha256',
  'Aes128_Sha256_RsaOaep',
  'Aes256_Sha256_RsaPss',
] as const
export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number]
export type SecurityModeName = (typeof SECURITY_MODES)[number]

/** Spread into each `opcua.servers[]` entry. */
export const OpcuaServerSecurityProperties = {
  securityPolicy: Type.Union(
    [
      Type.Literal('None'),
      Type.Literal('Basic256Sha256'),
      Type.Literal('Aes128_Sha256_RsaOaep'),
      Type.Literal('Aes256_Sha256_RsaPss'),
    ],
    {
      default: 'Basic256Sha256',
      description:
        "Security policy of the secure channel. A secure policy verifies the server's certificate against the PKI folder (opcua.pkiDir): an unknown certificate is refused until a person trusts it (`linewatch opcua trust`). None must be chosen explicitly, with securityMode None: nothing is signed, encrypted or verified (the demo's local simulator).",
    },
  ),
  securityMode: Type.Union(
    [Type.Literal('None'), Type.Literal('Sign'), Type.Literal('SignAndEncrypt')],
    {
      default: 'SignAndEncrypt',
      description:
        'Sign: every message is signed (tamper-proof, readable on the wire). SignAndEncrypt: signed and encrypted. None only with securityPolicy None.',
    },
  ),
  user: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'User name for the session (with passwordEnv). Without it the session is anonymous. Needs securityMode Sign or SignAndEncrypt.',
    }),
  ),
  passwordEnv: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "Name of the environment variable holding the user's password (never the password itself).",
    }),
  ),
  serverCertificate: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "A file (PEM or DER) holding the server's certificate, pinned: the server must present exactly this certificate, which is then trusted for this server whatever the PKI folder holds. Relative to the working directory. Without it the PKI folder's trust list decides.",
    }),
  ),
}

/** Spread into the `opcua` section. */
export const OpcuaPkiProperties = {
  pkiDir: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "The client's PKI folder: own/ (linewatch's application certificate and key, made at first start), trusted/, rejected/, issuers/. Relative to the working directory. Default: dataDir/pki/opcua-client.",
    }),
  ),
  applicationName: Type.String({
    minLength: 1,
    maxLength: 64,
    default: 'linewatch',
    description:
      "The client's application name, shown by servers and in its certificate's subject (CN=applicationName@host name).",
  }),
  applicationUri: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z][A-Za-z0-9+.-]*:.+',
      description:
        "The client's application URI, written into its certificate (default urn:HOST:applicationName, HOST the host name). The certificate is made once: after changing this, delete own/ under pkiDir so that a new one is made, and have the servers trust it.",
    }),
  ),
}

interface ServerSecurity {
  securityPolicy: SecurityPolicyName
  securityMode: SecurityModeName
  user?: string | undefined
  passwordEnv?: string | undefined
  serverCertificate?: string | undefined
}

/** What the schema cannot say: settings of a server that contradict each other. */
export function opcuaSecurityProblems(config: {
  opcua: { servers: readonly ServerSecurity[] }
}): SemanticIssue[] {
  const issues: SemanticIssue[] = []
  config.opcua.servers.forEach((s, i) => {
    const at = (key: string) => ['opcua', 'servers', i, key]
    if ((s.securityPolicy === 'None') !== (s.securityMode === 'None')) {
      issues.push({
        path: at('securityMode'),
        message:
          s.securityPolicy === 'None'
            ? `securityPolicy None goes with securityMode None only, not ${s.securityMode}`
            : `securityMode None goes with securityPolicy None only, not ${s.securityPolicy}`,
      })
    }
    if (s.user !== undefined && s.passwordEnv === undefined) {
      issues.push({ path: at('user'), message: 'a user needs passwordEnv (where its password is)' })
    }
    if (s.passwordEnv !== undefined && s.user === undefined) {
      issues.push({ path: at('passwordEnv'), message: 'passwordEnv needs a user' })
    }
    if (s.user !== undefined && s.securityMode === 'None') {
      issues.push({
        path: at('user'),
        message:
          "a user name and password need securityMode Sign or SignAndEncrypt: under None the server's certificate is not verified, so the password could go to anyone",
      })
    }
    if (s.serverCertificate !== undefined && s.securityMode === 'None') {
      issues.push({
        path: at('serverCertificate'),
        message: 'a pinned serverCertificate needs a secure securityPolicy and securityMode',
      })
    }
  })
  return issues
}
