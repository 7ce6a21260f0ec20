import { execFile } from 'node:child_process'
import { chown, readdir } from 'node:fs/promises'
import { connect } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, startProcess, tempDir, waitFor } from './index.ts'

const run = promisify(execFile)

export interface Postgres {
  /** `postgres://linewatch@127.0.0.1:PORT/linewatch` (trust authentication on loopback). */
  url: string
  port: number
  /** A further empty database on this server, and its URL. */
  createDatabase(name: string): Promise<string>
  /**
   * Freezes the server (SIGSTOP to the postmaster and every process it started): connections
   * stay open but nothing answers, as when a host hangs or the network drops packets.
   */
  pause(): Promise<void>
  /** Lets a paused server go on (SIGCONT). */
  resume(): Promise<void>
  stop(): Promise<void>
}

/** The processes a postmaster started (backends, checkpointer, …), from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises')
  const out: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === pid) out.push(Number(entry))
  }
  return out
}

/** The binaries of the newest PostgreSQL installed (Debian keeps them out of PATH). */
async function binaries(): Promise<string> {
  const root = '/usr/lib/postgresql'
  const versions = await readdir(root).catch(() => [] as string[])
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest)
    throw new Error(
      'PostgreSQL is not installed: run `npm test` (it provisions the suite) or `apt-get install -y postgresql`',
    )
  return join(root, newest, 'bin')
}

/**
 * A real PostgreSQL server on a free loopback port with a temporary data directory (initdb),
 * trust authentication for the user `linewatch`, one database `linewatch`. PostgreSQL refuses to
 * run as root: as root the server runs as the `postgres` user, which owns the directory.
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = await binaries()
  const dir = await tempDir('linewatch-postgres-')
  const data = join(dir.path, 'data')
  const asRoot = userInfo().uid === 0
  const ids = asRoot
    ? await (async () => {
        const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim())
        const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim())
        await chown(dir.path, uid, gid)
        return { uid, gid }
      })()
    : {}
  await run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'linewatch', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { ...ids, cwd: dir.path },
  )
  const port = await freePort()
  // Fast shutdown on SIGINT: roll back open transactions, disconnect clients, stop.
  const proc = startProcess(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir.path,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
    ],
    { ...ids, cwd: dir.path, stopSignal: 'SIGINT', graceMs: 10_000 },
  )
  const psql = join(bin, 'psql')
  const sql = (command: string, database = 'postgres') =>
    run(psql, [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'linewatch',
      '-d',
      database,
      '-c',
      command,
    ])
  try {
    await waitFor(
      'postgres to accept connections',
      async () => {
        const open = await new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1')
          s.once('connect', () => {
            s.destroy()
            resolve(true)
          })
          s.once('error', () => resolve(false))
        })
        if (!open) return false
        await sql('SELECT 1')
        return true
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    await sql('CREATE DATABASE linewatch')
  } catch (err) {
    await proc.stop()
    await dir.remove()
    throw new Error(`${String(err)}\n${proc.output()}`)
  }
  const urlOf = (database: string) => `postgres://linewatch@127.0.0.1:${port}/${database}`
  let stopped = false
  return {
    url: urlOf('linewatch'),
    port,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
      await sql(`CREATE DATABASE ${name}`)
      return urlOf(name)
    },
    async pause() {
      const pid = proc.child.pid as number
      // The postmaster first: stopped, it starts no new process while its children are stopped.
      process.kill(pid, 'SIGSTOP')
      for (const c of await childrenOf(pid)) process.kill(c, 'SIGSTOP')
    },
    async resume() {
      const pid = proc.child.pid as number
      for (const c of await childrenOf(pid)) process.kill(c, 'SIGCONT')
      process.kill(pid, 'SIGCONT')
    },
    async stop() {
      if (stopped) return
      stopped = true
      await proc.stop()
      await dir.remove()
    },
  }
}
