import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, requireProgram, startProcess, tempDir, waitFor } from './index.ts'

export interface Mosquitto {
  url: string
  port: number
  stop(): Promise<void>
}

/** A real Mosquitto broker on a free loopback port (anonymous, no persistence). */
export async function startMosquitto(): Promise<Mosquitto> {
  const program = await requireProgram('mosquitto', 'mosquitto')
  const dir = await tempDir('linewatch-mosquitto-')
  const port = await freePort()
  const conf = join(dir.path, 'mosquitto.conf')
  await writeFile(
    conf,
    // Queued QoS 1 messages for a persistent session that is away: more than a test sends.
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nmax_queued_messages 100000\n`,
  )
  const proc = startProcess(program, ['-c', conf])
  await waitFor(
    'mosquitto to listen',
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1')
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(false))
      }),
    { timeoutMs: 10_000 },
  )
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async stop() {
      await proc.stop()
      await dir.remove()
    },
  }
}

/** Publishes with Mosquitto's own client, `mosquitto_pub`. */
export async function mosquittoPub(
  url: string,
  topic: string,
  message: string,
  options: { qos?: 0 | 1; username?: string; password?: string } = {},
): Promise<void> {
  const program = await requireProgram('mosquitto_pub', 'mosquitto-clients')
  const { hostname, port } = new URL(url)
  const args = [
    '-h',
    hostname,
    '-p',
    port,
    '-t',
    topic,
    '-m',
    message,
    '-q',
    String(options.qos ?? 0),
  ]
  if (options.username) args.push('-u', options.username, '-P', options.password ?? '')
  await promisify(execFile)(program, args, { timeout: 10_000 })
}
