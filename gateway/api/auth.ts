import { randomBytes } from 'node:crypto'
import { sha256Hex } from '../../rules/quality/canonical.ts'
import { roleAtLeast } from '../../rules/quality/roles.ts'
import type { Config } from '../config/index.ts'
import type { Role } from '../contract.ts'

/**
 * Bearer tokens with roles. The configuration holds only each token's SHA-256 (tokens are
 * 256-bit random, so a fast hash is enough and no secret sits in the file). A request without
 * a token gets `auth.anonymousRole`; none by default, so the API is closed unless opened.
 */
export interface Principal {
  role: Role
  /** The configured token's id; null for a user's session or anonymous access. */
  tokenId: string | null
  /** The signed-in user (a session), or null for a configured token or anonymous access. */
  user: { name: string; printedName: string } | null
}

export interface Auth {
  /** The principal for a token (or for no token), or null when access is refused. */
  resolve(token: string | undefined): Principal | null
}

export function hasRole(principal: Principal, needed: Role): boolean {
  return roleAtLeast(principal.role, needed)
}

/** The one SHA-256 of the project (tokens are compared by it), here for the API's users. */
export { sha256Hex }

/** A new random access token (43 characters of base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Who acts, as records name them: the user's name, or the configured token's id (user names
 * and token ids are one namespace: a user cannot take a token's id), or "anonymous <role>".
 */
export function principalName(p: Principal | null): string {
  return p?.user?.name ?? p?.tokenId ?? `anonymous ${p?.role ?? 'viewer'}`
}

/** A configured role: `engineer`, from earlier versions, is quality-engineer. */
export function configuredRole(role: Config['auth']['tokens'][number]['role']): Role {
  return role === 'engineer' ? 'quality-engineer' : role
}

/**
 * Configured tokens first, then users' sessions (`sessions`: the session for a token's SHA-256,
 * or null), so a wall display's token keeps working beside signed-in users.
 */
export function createAuth(
  config: Config['auth'],
  sessions: (tokenSha256: string) => Principal | null = () => null,
): Auth {
  const byHash = new Map<string, Principal>(
    config.tokens.map((t) => [
      t.sha256,
      { role: configuredRole(t.role), tokenId: t.id, user: null },
    ]),
  )
  const anonymous: Principal | null =
    config.anonymousRole === 'none'
      ? null
      : { role: configuredRole(config.anonymousRole), tokenId: null, user: null }
  return {
    resolve(token) {
      if (token === undefined || token === '') return anonymous
      const hash = sha256Hex(token)
      return byHash.get(hash) ?? sessions(hash)
    },
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return m?.[1]
}
