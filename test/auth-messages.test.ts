import { io } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'

/**
 * Issue 11: a refused request says why. No token: "an access token is required"; a token that
 * was sent but is not accepted (wrong, revoked, or a session that ended): "not valid … sign in
 * again" — over REST and in the socket.io handshake.
 */

const ADMIN_PASSWORD = 'first start: quiet amber harbour'
const REQUIRED = 'an access token is required (Authorization: Bearer …)'
const NOT_VALID = 'the access token is not valid (or the session ended): sign in again'

describe('why a request is refused (401)', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }

  async function call(path: string, headers: Record<string, string>, method = 'GET') {
    const res = await fetch(`${gw.gateway.urls.http}${path}`, {
      method,
      headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
      body: method === 'POST' ? '{}' : undefined,
    })
    const text = await res.text()
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      body: text ? (JSON.parse(text) as { message?: string; token?: string }) : {},
    }
  }

  /** The handshake's refusal (or "connected"), within 10 s. */
  async function handshake(auth: Record<string, unknown>): Promise<string> {
    const socket = io(gw.gateway.urls.http, {
      auth,
      transports: ['websocket'],
      reconnection: false,
    })
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer to the handshake')), 10_000)
        socket.on('connect', () => {
          clearTimeout(timer)
          resolve('connected')
        })
        socket.on('connect_error', (e) => {
          clearTimeout(timer)
          resolve(e.message)
        })
      })
    } finally {
      socket.close()
    }
  }

  beforeAll(async () => {
    process.env.LINEWATCH_ADMIN_PASSWORD = ADMIN_PASSWORD
    gw = await startTestGateway('mqtt: { broker: { enabled: false } }\n')
  })

  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
    delete process.env.LINEWATCH_ADMIN_PASSWORD
  })

  it('without a token: a token is required', async () => {
    const r = await call('/api/session', {})
    expect(r.status).toBe(401)
    expect(r.body.message).toBe(REQUIRED)
    expect(r.challenge).toBe('Bearer')
  })

  it('with a wrong token: the token is not valid', async () => {
    const r = await call('/api/session', { authorization: 'Bearer not-a-token-of-this-gateway' })
    expect(r.status).toBe(401)
    expect(r.body.message).toBe(NOT_VALID)
    expect(r.challenge).toBe('Bearer error="invalid_token"')
  })

  it('with an Authorization header that is not a bearer token: says so', async () => {
    const r = await call('/api/session', { authorization: 'Basic dXNlcjpwYXNz' })
    expect(r.status).toBe(401)
    expect(r.body.message).toBe(
      'the Authorization header is not a bearer token (Authorization: Bearer …)',
    )
  })

  it("with a session's token after sign-out: not valid, sign in again", async () => {
    const signIn = await fetch(`${gw.gateway.urls.http}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: ADMIN_PASSWORD }),
    })
    expect(signIn.status).toBe(200)
    const { token } = (await signIn.json()) as { token: string }
    const bearer = { authorization: `Bearer ${token}` }
    expect((await call('/api/session', bearer)).status).toBe(200)
    expect((await call('/api/auth/sign-out', bearer, 'POST')).status).toBe(204)
    const after = await call('/api/session', bearer)
    expect(after.status).toBe(401)
    expect(after.body.message).toBe(NOT_VALID)
    expect(await handshake({ token })).toBe(`unauthorized: ${NOT_VALID}`)
  })

  it('a valid token is let through (and a viewer is told what it lacks with 403, not 401)', async () => {
    expect((await call('/api/session', { authorization: `Bearer ${TOKENS.viewer}` })).status).toBe(
      200,
    )
    const r = await call('/api/dead-letters', { authorization: `Bearer ${TOKENS.viewer}` })
    expect(r.status).toBe(403)
  })

  it('the socket.io handshake says the same', async () => {
    expect(await handshake({})).toBe('unauthorized: an access token is required')
    expect(await handshake({ token: '' })).toBe('unauthorized: an access token is required')
    expect(await handshake({ token: 'wrong' })).toBe(`unauthorized: ${NOT_VALID}`)
    expect(await handshake({ token: TOKENS.viewer })).toBe('connected')
  })
})
