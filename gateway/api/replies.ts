import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Role } from '../contract.ts'
import { bearerToken, hasRole } from './auth.ts'

/** The error replies of the API, in fastify's shape ({statusCode, error, message}). */

export function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message })
}

export function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(404).send({ statusCode: 404, error: 'Not Found', message })
}

export function conflict(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(409).send({ statusCode: 409, error: 'Conflict', message })
}

/**
 * Why a request has no principal, as the 401 says it: no token sent, a header that is not a
 * bearer token, or a token that is not (or no longer) valid — a wrong or revoked token, or the
 * token of a session that ended. The socket.io handshake says the same (gateway/live).
 */
export function unauthorisedReason(
  authorization: string | undefined,
): 'missing' | 'malformed' | 'invalid' {
  if (authorization === undefined || authorization.trim() === '') return 'missing'
  return bearerToken(authorization) === undefined ? 'malformed' : 'invalid'
}

const UNAUTHORISED_MESSAGES = {
  missing: 'an access token is required (Authorization: Bearer …)',
  malformed: 'the Authorization header is not a bearer token (Authorization: Bearer …)',
  invalid: 'the access token is not valid (or the session ended): sign in again',
} as const

/**
 * A hook that lets a request through only with at least `role`: 401 without a principal
 * (saying whether a token is missing or was not accepted), 403 with the reason (what the act
 * needs, what the token has) with too small a one. Routes take it as `preValidation`: the role
 * is checked before the body and parameters are, so a request that may not act learns nothing
 * of what a valid one looks like.
 */
export const need = (role: Role, act?: string): RoleHook =>
  withRole(role, async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const principal = request.principal
    if (!principal) {
      const reason = unauthorisedReason(request.headers.authorization)
      // RFC 6750 §3: a token that was sent and refused is error="invalid_token".
      const challenge =
        reason === 'missing'
          ? 'Bearer'
          : `Bearer error="${reason === 'invalid' ? 'invalid_token' : 'invalid_request'}"`
      await reply.code(401).header('www-authenticate', challenge).send({
        statusCode: 401,
        error: 'Unauthorized',
        message: UNAUTHORISED_MESSAGES[reason],
      })
      return
    }
    if (!hasRole(principal, role)) {
      await reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message: `${act ? `${act} needs` : 'this needs'} the ${role} role; the token has ${principal.role}`,
      })
    }
  })

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>
/** A hook marked with the role it asks for: the OpenAPI document names it per route. */
export type RoleHook = Hook & { readonly requiredRole: string }

/**
 * Marks `handler` with the role it asks for (`requiredRole`, in the OpenAPI document as
 * `x-linewatch-role`); a route whose role depends on the request names its lowest.
 */
export function withRole(role: string, handler: Hook): RoleHook {
  return Object.assign(handler, { requiredRole: role })
}

/** The role a route's hook(s) ask for, if one is marked. */
export function requiredRoleOf(hooks: unknown): string | undefined {
  const handlers = Array.isArray(hooks) ? hooks : [hooks]
  for (const h of handlers) {
    const role = (h as Partial<RoleHook> | undefined)?.requiredRole
    if (typeof role === 'string') return role
  }
  return undefined
}
