import { connect } from 'node:net'
import {
  freePort,
  type RunningProcess,
  requireProgram,
  startProcess,
  tempDir,
  waitFor,
} from './index.ts'

export interface RedisServer {
  url: string
  port: number
  /** Stops the server (its data gone, as no persistence); the function starts it again on the same port. */
  outage(): Promise<() => Promise<void>>
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
  const launch = async () => {
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
      throw new Error(`${String(err)}\n${proc.output()}`)
    }
    return proc
  }
  let proc: RunningProcess | null
  try {
    proc = await launch()
  } catch (err) {
    await dir.remove()
    throw err
  }
  let stopped = false
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async outage() {
      await proc?.stop()
      proc = null
      return async () => {
        proc = await launch()
      }
    },
    async stop() {
      if (stopped) return
      stopped = true
      await proc?.stop()
      await dir.remove()
    },
  }
}
