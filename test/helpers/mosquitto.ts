import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, requireProgram, startProcess, tempDir, waitFor } from './index.ts'

export interface Mosquitto {
  url: string
  port: number
  /** SIGHUP: Mosquitto reads its configuration, acl_file and password_file again. */
  reload(): void
  /** What it logged so far (stderr). */
  output(): string
  stop(): Promise<void>
}

/**
 * A real Mosquitto broker on a free loopback port (anonymous, no persistence). `listener`: lines
 * for its listener (TLS: cafile, certfile, keyfile, …); `global`: further lines (acl_file, …).
 * Files it reads may lie in a test's private temporary directory: as root it keeps running as
 * the same user rather than dropping to `mosquitto`, who could not read them.
 */
export async function startMosquitto(
  options: { listener?: string[]; global?: string[]; scheme?: 'mqtt' | 'mqtts' } = {},
): Promise<Mosquitto> {
  const program = await requireProgram('mosquitto', 'mosquitto')
  const dir = await tempDir('linewatch-mosquitto-')
  const port = await freePort()
  const conf = join(dir.path, 'mosquitto.conf')
  await writeFile(
    conf,
    [
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      ...(options.listener ?? []),
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      // Queued QoS 1 messages for a persistent session that is away: more than a test sends.
      'max_queued_messages 100000',
      ...(options.global ?? []),
      '',
    ].join('\n'),
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
    url: `${options.scheme ?? 'mqtt'}://127.0.0.1:${port}`,
    port,
    reload: () => proc.child.kill('SIGHUP'),
    output: () => proc.output(),
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
