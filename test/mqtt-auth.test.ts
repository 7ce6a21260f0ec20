import { connectAsync } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { hashPassword, verifyPassword } from '../gateway/sources/credentials.ts'
import { startTestGateway } from './helpers/gateway.ts'

const CHARACTERISTICS = `characteristics: []`

async function refusal(
  url: string,
  options: { username?: string; password?: string } = {},
): Promise<string | null> {
  try {
    const client = await connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 5000 })
    await client.endAsync()
    return null
  } catch (e) {
    return (e as Error).message
  }
}

describe('embedded broker authentication', () => {
  it('password hashes verify only the right password', async () => {
    const hash = await hashPassword('s3cret line')
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(await verifyPassword('s3cret line', hash)).toBe(true)
    expect(await verifyPassword('s3cret lin', hash)).toBe(false)
    expect(await hashPassword('s3cret line')).not.toBe(hash) // salted
  })

  it('accepts users with the right password and refuses wrong ones; anonymous refused when set to deny', async () => {
    const hash = await hashPassword('filler-1-pass')
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0, anonymous: deny, users: [{ username: filler-1, passwordHash: '${hash}' }] } }
${CHARACTERISTICS}`)
    try {
      const url = gw.gateway.urls.mqtt as string
      expect(await refusal(url, { username: 'filler-1', password: 'filler-1-pass' })).toBeNull()
      expect(await refusal(url, { username: 'filler-1', password: 'nope' })).toMatch(
        /Bad username or password/i,
      )
      expect(await refusal(url, { username: 'nobody', password: 'filler-1-pass' })).toMatch(
        /Bad username or password/i,
      )
      expect(await refusal(url)).toMatch(/Not authorized/i)
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })

  it('by default accepts anonymous clients from loopback (the only address a test can come from)', async () => {
    const gw = await startTestGateway(`mqtt: { broker: { port: 0 } }\n${CHARACTERISTICS}`)
    try {
      expect(gw.config.mqtt.broker.anonymous).toBe('loopback')
      expect(await refusal(gw.gateway.urls.mqtt as string)).toBeNull()
    } finally {
      await gw.close()
      await gw.removeDataDir()
    }
  })
})
