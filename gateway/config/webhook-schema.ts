import { accessSync, constants } from 'node:fs'
import Type, { type Static } from 'typebox'
import { QUALITY_EVENT_TYPES, type QualityEventType } from '../contract.ts'

/**
 * The `webhooks` section of the configuration (schema.ts assembles it): outbound HTTP
 * notifications of the quality loop (docs/webhooks.md). The HMAC secret of a hook is never in
 * the file: `secretEnv` names the environment variable that holds it.
 */

const Id = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  maxLength: 128,
  description: 'Identifier: letters, digits, dot, underscore, hyphen (URL-safe).',
})

// Unsafe: the literals come from a runtime list, whose element type TypeBox cannot map.
const EventType = Type.Unsafe<QualityEventType>(
  Type.Union(
    QUALITY_EVENT_TYPES.map((t) => Type.Literal(t)),
    {
      description:
        'nc.opened, nc.changed, nc.closed, nc.overdue, capa.opened, capa.changed, capa.closed, capa.due or report.daily.',
    },
  ),
)

export const WebhookSchema = Type.Object(
  {
    id: Id,
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description:
        'Where events are POSTed: an http:// or https:// URL. Credentials in the URL (https://user:pass@host/…) are sent as HTTP basic authentication and never shown.',
    }),
    events: Type.Array(EventType, {
      minItems: 1,
      uniqueItems: true,
      default: [...QUALITY_EVENT_TYPES],
      description: 'The event types sent to this hook (default: all).',
    }),
    secretEnv: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      maxLength: 128,
      description:
        'The name of the environment variable that holds the HMAC secret of this hook (the secret is never in the file). Every request is signed with it: x-linewatch-signature.',
    }),
    timeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      default: 10_000,
      description: 'An attempt that has not received a complete answer by then has failed.',
    }),
    retry: Type.Object(
      {
        initialMs: Type.Integer({
          minimum: 1,
          default: 1000,
          description: 'The wait after the first failed attempt; it doubles after each failure.',
        }),
        maxMs: Type.Integer({
          minimum: 1,
          default: 300_000,
          description: 'The longest wait between two attempts.',
        }),
        maxAttempts: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 12,
          description:
            'Attempts of a delivery before it is given up (kept as failed, counted, logged).',
        }),
      },
      {
        additionalProperties: false,
        default: {},
        description:
          'Retries of a failed delivery with exponential backoff (initialMs·2^(attempt−1), capped at maxMs, ±20% jitter).',
      },
    ),
    maxBacklog: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10_000,
      description:
        'Deliveries waiting for this hook at most: when full, the oldest waiting one is dropped (counted as dropped).',
    }),
    trustCertificate: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Path of a PEM file of a CA certificate to trust for this hook, in addition to the system's (for a receiver with a private CA). Certificates are always verified.",
      }),
    ),
  },
  { additionalProperties: false },
)

export const WebhooksSchema = Type.Array(WebhookSchema, {
  default: [],
  description:
    'Outbound webhooks: the quality loop (NC opened, changed, closed; CAPA opened, changed, closed, due) POSTed as signed JSON to MasterControl, TrackWise, ETQ or a ticket system, with retries from a durable, bounded backlog (docs/webhooks.md).',
})

export type WebhookConfig = Static<typeof WebhookSchema>

/**
 * What the schema cannot say: a secret variable not set (or empty), a URL that is not http(s),
 * an id used twice, a CA file that cannot be read. The gateway refuses to start on any.
 */
export function webhookConfigProblems(
  hooks: readonly WebhookConfig[],
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const problems: string[] = []
  const seen = new Map<string, number>()
  hooks.forEach((hook, i) => {
    const at = `webhooks[${i}] (${hook.id})`
    const first = seen.get(hook.id)
    if (first !== undefined)
      problems.push(`${at}: duplicate id "${hook.id}" (first at webhooks[${first}])`)
    else seen.set(hook.id, i)
    if (!env[hook.secretEnv]) {
      problems.push(
        `${at}: the environment variable ${hook.secretEnv} (secretEnv, the HMAC secret) is not set`,
      )
    }
    let url: URL | undefined
    try {
      url = new URL(hook.url)
    } catch {
      problems.push(`${at}: url is not a valid URL`)
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${at}: url must be http:// or https:// (not ${url.protocol})`)
    }
    if (hook.trustCertificate !== undefined) {
      if (url && url.protocol !== 'https:') {
        problems.push(`${at}: trustCertificate is set but the url is not https://`)
      }
      try {
        accessSync(hook.trustCertificate, constants.R_OK)
      } catch {
        problems.push(`${at}: trustCertificate ${hook.trustCertificate} cannot be read`)
      }
    }
    if (hook.retry.maxMs < hook.retry.initialMs) {
      problems.push(`${at}: retry.maxMs (${hook.retry.maxMs}) is below retry.initialMs`)
    }
  })
  return problems
}
