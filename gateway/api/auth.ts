import { createHash, randomBytes } from 'node:crypto'
import type { Config } from '../config/index.ts'
import type { Role } from '../contract.ts'

/**
 * Bearer tokens with roles. The configuration holds only each token's SHA-256 (tokens are
 * 256-bit random, so a fast hash is enough and no secret sits in the file). A request without
 * a token gets `auth.anonymousRole`; none by default, so the API is closed unless opened.
 */
export interface Principal {
  role: Role
  tokenId: string | null
}

export interface Auth {
  /** The principal for a token (or for no token), or null when access is refused. */
  resolve(token: string | undefined): Principal | null
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, engineer: 3, admin: 4 }

export function hasRole(principal: Principal, needed: Role): boolean {
  return RANK[principal.role] >= RANK[needed]
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** A new random access token (43 characters of base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

export function createAuth(config: Config['auth']): Auth {
  const byHash = new Map(config.tokens.map((t) => [t.sha256, { role: t.role, tokenId: t.id }]))
  const anonymous: Principal | null =
    config.anonymousRole === 'none' ? null : { role: config.anonymousRole, tokenId: null }
  return {
    resolve(token) {
      if (token === undefined || token === '') return anonymous
      return byHash.get(sha256Hex(token)) ?? null
    },
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return m?.[1]
}
