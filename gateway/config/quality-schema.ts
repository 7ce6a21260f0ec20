import Type, { type TSchema } from 'typebox'

/** The configuration of the quality loop (issue 9): users' sign-in, and the records' policies. */

const obj = <P extends Record<string, TSchema>>(properties: P, description: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, description })

/** Added to the auth section: local users' passwords, sessions and lock-out. */
export const UserAuthProperties = {
  minPasswordLength: Type.Integer({
    minimum: 8,
    maximum: 128,
    default: 15,
    description:
      'Shortest password a user may set (NIST SP 800-63B-4: at least 15 for a password that is the only factor, as it is here; length, no composition rules; common passwords and the user name are refused). A password set earlier under a lower minimum still signs in.',
  }),
  sessionIdleMinutes: Type.Integer({
    minimum: 1,
    maximum: 1440,
    default: 30,
    description: 'A signed-in session ends after this long without a request.',
  }),
  sessionMaxHours: Type.Integer({
    minimum: 1,
    maximum: 168,
    default: 12,
    description: 'A session ends this long after sign-in, however active.',
  }),
  lockout: obj(
    {
      maxFailures: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
      windowMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15 }),
      lockMinutes: Type.Integer({ minimum: 1, maximum: 10_080, default: 15 }),
    },
    'maxFailures failed sign-ins (or signature passwords) within windowMinutes lock the user name, and the client address, for lockMinutes. Every failure is in the audit trail.',
  ),
}

export const QualityConfig = obj(
  {
    effectivenessWindowDays: Type.Number({
      exclusiveMinimum: 0,
      maximum: 3650,
      default: 30,
      description:
        "A CAPA's verification of effectiveness compares the characteristic's Cpk, Ppk and NC rate over this many days before its implementation with as many after.",
    }),
    capaDueNoticeHours: Type.Number({
      minimum: 0,
      maximum: 8760,
      default: 24,
      description: 'A CAPA not closed this long before its due date is announced (capa.due).',
    }),
    attachments: obj(
      {
        maxBytes: Type.Integer({
          minimum: 1024,
          maximum: 1_073_741_824,
          default: 10_485_760,
          description: 'Largest file attached to an NC (10 MiB by default).',
        }),
        maxPerRecord: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
      },
      'Files attached to NCs, kept under dataDir/attachments/<NC>/<sha256>.',
    ),
  },
  'The quality loop: NCs, CAPAs, their attachments (docs/quality.md).',
)
