import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Role } from '../contract.ts'
import { hasRole } from './auth.ts'

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
 * A pre-handler that lets a request through only with at least `role`: 401 without a
 * principal, 403 with the reason (what the act needs, what the token has) with too small a one.
 */
export const need =
  (role: Role, act?: string) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const principal = request.principal
    if (!principal) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'an access token is required (Authorization: Bearer …)',
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
  }
