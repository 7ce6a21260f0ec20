import Type from 'typebox'
import { filterProblem, substitutionProblem } from '../../rules/index.ts'
import type { Config } from './schema.ts'
import type { SemanticIssue } from './yaml-schema.ts'

/**
 * The MQTT security parts of the configuration (issue 10): per-user permissions and TLS on the
 * embedded broker, TLS to an external broker. schema.ts spreads these properties into
 * `mqtt.broker` and `mqtt.external`. docs/mqtt-security.md explains them.
 */

const Filters = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description }))

const Permission = Type.Object(
  {
    user: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The user these rules are for (a user name of mqtt.broker.users, or a client certificate’s).',
      }),
    ),
    anonymous: Type.Optional(
      Type.Literal(true, { description: 'The rules are for clients without a user name.' }),
    ),
    everyone: Type.Optional(
      Type.Literal(true, {
        description:
          'The rules are for every client, with %u and %c (a whole level) standing for its user name and client id (Mosquitto’s `pattern`). A rule with %u does not apply to a client without a user name.',
      }),
    ),
    publish: Filters('Topic filters it may publish to (a will included).'),
    subscribe: Filters(
      'Topic filters it may receive messages on. A subscription none of whose topics may be received is answered with 0x80; deliveries are checked one by one.',
    ),
    deny: Filters(
      'Topic filters it may neither publish to nor receive on, whatever a grant says: a deny outranks the grants of the same subject (a user’s or anonymous, then everyone’s), and a user’s own grant outranks a deny for everyone.',
    ),
  },
  {
    additionalProperties: false,
    description:
      'Rules for one subject: exactly one of user, anonymous, everyone; then publish, subscribe and deny filters (MQTT wildcards + and #).',
  },
)

/** Spread into `mqtt.broker`. */
export const BrokerSecurityProperties = {
  permissions: Type.Optional(
    Type.Array(Permission, {
      description:
        'Who may publish and subscribe where, as Mosquitto’s acl_file (docs/mqtt-security.md). Left out (the default): every client that may connect may publish and subscribe anywhere. Given: only what it grants, so an empty list allows nothing. A refused publish is acknowledged and dropped, counted and dead-lettered (not-permitted).',
    }),
  ),
  aclFile: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'A Mosquitto acl_file (topic, pattern and user lines) to take the permissions from instead of `permissions` (relative to the working directory): read at start, and again when it changes (aclReloadSeconds), as Mosquitto reads it again on SIGHUP. A changed file that is invalid is not taken: the permissions in force stay, and the error is logged and counted in the recent errors of /api/health.',
    }),
  ),
  aclReloadSeconds: Type.Integer({
    minimum: 1,
    default: 10,
    description:
      'How often the aclFile is checked for changes. Changed permissions apply to the next publish, subscription and delivery of every client, connected or not.',
  }),
  plainListener: Type.Boolean({
    default: true,
    description:
      'Listen for MQTT without TLS on host:port. Turn it off once every device uses mqtt.broker.tls (or keep it on with host 127.0.0.1 for local tools).',
  }),
  tls: Type.Optional(
    Type.Object(
      {
        host: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({
          minimum: 0,
          maximum: 65535,
          default: 8883,
          description: 'MQTT over TLS (mqtts).',
        }),
        certFile: Type.String({
          minLength: 1,
          description: 'The broker’s certificate (PEM), with its intermediate CAs after it.',
        }),
        keyFile: Type.String({ minLength: 1, description: 'Its private key (PEM).' }),
        keyPassphraseEnv: Type.Optional(
          Type.String({
            description: 'Environment variable holding the key’s passphrase, if it has one.',
          }),
        ),
        caFile: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'CA certificates (PEM) that sign client certificates. Given: clients are asked for a certificate; one that does not verify is refused.',
          }),
        ),
        crlFile: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'Certificate revocation list (PEM) of the CA that signs the client certificates: a revoked certificate is refused at the handshake.',
          }),
        ),
        requireClientCertificate: Type.Boolean({
          default: false,
          description:
            'Refuse a TLS handshake without a client certificate that verifies against caFile (and crlFile).',
        }),
        userFromCertificate: Type.Union([Type.Literal('cn'), Type.Literal('none')], {
          default: 'cn',
          description:
            'cn: a client with a verified certificate is signed in as the user named by its subject’s common name (CN), without a password (as Mosquitto’s use_identity_as_username); a user name in its CONNECT is ignored. none: the certificate only secures the connection; the client signs in as over plain TCP.',
        }),
        reloadSeconds: Type.Integer({
          minimum: 1,
          default: 60,
          description:
            'How often the certificate, key, CA and CRL files are checked for changes; changed files are loaded without a restart (connections already open stay).',
        }),
      },
      {
        additionalProperties: false,
        description:
          'A TLS listener (besides the plain one unless plainListener is off). Files are PEM, relative to the working directory.',
      },
    ),
  ),
  signInThrottle: Type.Object(
    {
      maxFailures: Type.Integer({
        minimum: 1,
        default: 5,
        description: 'Refused sign-ins from one client address within windowSeconds that lock it.',
      }),
      windowSeconds: Type.Integer({ minimum: 1, default: 60 }),
      lockSeconds: Type.Integer({
        minimum: 1,
        default: 60,
        description:
          'While locked, a CONNECT from the address is refused (0x05) without looking at its password; a client with a verified certificate is not locked out.',
      }),
    },
    {
      additionalProperties: false,
      default: {},
      description:
        'Failed sign-ins (wrong password, unknown user, missing or refused credentials) per client address. Each is counted (bad-credentials) and the log says so at a bounded rate.',
    },
  ),
}

const TlsFiles = {
  caFile: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'CA certificates (PEM) the broker’s certificate must chain to, instead of the system’s. The broker’s certificate is always verified, host name included.',
    }),
  ),
  certFile: Type.Optional(
    Type.String({ minLength: 1, description: 'Client certificate (PEM), when the broker asks.' }),
  ),
  keyFile: Type.Optional(Type.String({ minLength: 1, description: 'Its private key (PEM).' })),
  keyPassphraseEnv: Type.Optional(
    Type.String({ description: 'Environment variable holding the key’s passphrase.' }),
  ),
}

/** Spread into `mqtt.external`. */
export const ExternalTlsProperties = TlsFiles

/** What the schema cannot say about these settings. */
export function mqttSecurityIssues(config: Config): SemanticIssue[] {
  const issues: SemanticIssue[] = []
  const broker = config.mqtt.broker
  const at = (...path: (string | number)[]) => ['mqtt', 'broker', ...path]
  broker.permissions?.forEach((p, i) => {
    const subjects = [p.user !== undefined, p.anonymous === true, p.everyone === true]
    if (subjects.filter(Boolean).length !== 1)
      issues.push({
        path: at('permissions', i),
        message: 'give exactly one of user, anonymous and everyone',
      })
    for (const key of ['publish', 'subscribe', 'deny'] as const)
      p[key]?.forEach((filter, k) => {
        const problem = filterProblem(filter) ?? substitutionProblem(filter, p.everyone === true)
        if (problem) issues.push({ path: at('permissions', i, key, k), message: problem })
      })
  })
  if (broker.permissions && broker.aclFile !== undefined)
    issues.push({ path: at('aclFile'), message: 'give permissions or aclFile, not both' })
  const tls = broker.tls
  if (tls) {
    if (tls.requireClientCertificate && !tls.caFile)
      issues.push({
        path: at('tls', 'requireClientCertificate'),
        message: 'client certificates are verified against tls.caFile: set it',
      })
    if (tls.crlFile && !tls.caFile)
      issues.push({ path: at('tls', 'crlFile'), message: 'a CRL needs tls.caFile' })
    if (broker.plainListener && tls.port !== 0 && tls.port === broker.port)
      issues.push({
        path: at('tls', 'port'),
        message: `port ${tls.port} is also mqtt.broker.port: give TLS a port of its own`,
      })
  }
  if (broker.enabled && !broker.plainListener && !tls)
    issues.push({
      path: at('plainListener'),
      message: 'with plainListener off the broker needs mqtt.broker.tls to listen at all',
    })
  const external = config.mqtt.external
  if (external) {
    const secure = /^(mqtts|wss|tls):\/\//.test(external.url)
    const file = external.caFile ?? external.certFile ?? external.keyFile
    if (file !== undefined && !secure)
      issues.push({
        path: ['mqtt', 'external', 'url'],
        message: 'TLS files are given but the URL is not mqtts://, tls:// or wss://',
      })
    if ((external.certFile === undefined) !== (external.keyFile === undefined))
      issues.push({
        path: ['mqtt', 'external', external.certFile ? 'keyFile' : 'certFile'],
        message: 'a client certificate needs its key: give certFile and keyFile',
      })
  }
  return issues
}
