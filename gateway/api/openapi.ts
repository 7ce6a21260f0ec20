import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { requiredRoleOf } from './replies.ts'
import { ApiErrorSchema } from './responses.ts'

/**
 * The OpenAPI 3.1 document of the API, generated from the routes' schemas (params, query,
 * bodies and `response`) by @fastify/swagger and served at GET /api/openapi.json without a
 * token: it describes the routes, as the README does, and holds no data.
 *
 * The response schemas document; they do not serialize. fastify would otherwise compile them
 * with fast-json-stringify, which drops every property a schema does not declare: replies are
 * written with JSON.stringify as they were before the schemas existed.
 */

/** Routes answered without a token (security: [] in the document). */
const PUBLIC = new Set(['/api/health', '/api/openapi.json', '/api/auth/sign-in'])

export interface OpenApiContext {
  title: string
  version: string
  /** GET /metrics answers without a token (metrics.anonymous). */
  metricsAnonymous: boolean
}

/** Call before any route is declared: only routes declared after it are documented. */
export async function registerOpenApi(app: FastifyInstance, ctx: OpenApiContext): Promise<void> {
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'linewatch',
        version: ctx.version,
        description: `The REST API of the linewatch gateway "${ctx.title}". Payloads are declared in gateway/contract.ts; errors are {statusCode, error, message}. Every route but those without a security requirement needs a bearer token (a configured token, or a session from POST /api/auth/sign-in) of at least the role the route names as x-linewatch-role (viewer < operator < quality-engineer < quality-manager < admin; an act that needs more by what it does says so in its 403 answer).`,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A configured token (linewatch token) or a session token from POST /api/auth/sign-in.',
          },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      const documented = url.startsWith('/api/') || url === '/metrics'
      if (!documented) return { schema: { ...schema, hide: true }, url }
      const open = PUBLIC.has(url) || (url === '/metrics' && ctx.metricsAnonymous)
      const tag = url === '/metrics' ? 'metrics' : (url.split('/')[2] ?? 'api')
      // The role its hook asks for (a signed-in principal of any role, when none is named).
      const role = open ? undefined : (requiredRoleOf(route.preValidation) ?? 'viewer')
      return {
        schema: {
          ...schema,
          tags: [tag.replace(/[.:].*$/, '')],
          ...(open ? { security: [] } : {}),
          ...(role ? { 'x-linewatch-role': role } : {}),
          response: {
            ...((schema?.response as object | undefined) ?? {}),
            '4XX': {
              description:
                'Refused: 400 (a bad request, with the reason), 401 (no or a wrong token), 403 (too small a role, with what the act needs), 404, 409 (not in a state that allows it).',
              ...ApiErrorSchema,
            },
          },
        },
        url,
      }
    },
  })
  app.get(
    '/api/openapi.json',
    {
      schema: {
        response: {
          200: {
            description: 'This document (OpenAPI 3.1).',
            type: 'object',
            additionalProperties: true,
          },
        },
      },
    },
    async () => app.swagger(),
  )
}
