import { connect } from 'node:net'
import { freePort, requireProgram, startProcess, tempDir, waitFor } from './index.ts'

export interface RedisServer {
  url: string
  port: number
  stop(): Promise<void>
}

/** Sends PING on a raw connection and resolves whether Redis answered PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')))
    s.once('error', () => done(false))
  })
}

/** A real redis-server on a free loopback port, in a temporary directory, with no persistence. */
export async function startRedis(): Promise<RedisServer> {
  const program = await requireProgram('redis-server', 'redis-server')
  const dir = await tempDir('linewatch-redis-')
  const port = await freePort()
  const proc = startProcess(program, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir.path,
  ])
  try {
    await waitFor('redis-server to answer PING', () => ping(port), { timeoutMs: 10_000 })
  } catch (err) {
    await proc.stop()
    await dir.remove()
    throw new Error(`${String(err)}\n${proc.output()}`)
  }
  let stopped = false
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (stopped) return
      stopped = true
      await proc.stop()
      await dir.remove()
    },
  }
}
