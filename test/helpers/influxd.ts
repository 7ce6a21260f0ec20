import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  freePort,
  type RunningProcess,
  requireProgram,
  startProcess,
  tempDir,
  waitFor,
} from './index.ts'

export interface RunningInfluxd {
  /** e.g. `http://127.0.0.1:41234` */
  url: string
  port: number
  /** Temporary directory holding the configuration, meta, data and WAL (deleted by `remove`). */
  dataDir: string
  /** Everything the server printed since it was last (re)started. */
  output(): string
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit; its data stays for `restart`. */
  stop(): Promise<void>
  /** Starts it again (stopping it first if running) on the same port with the same data. */
  restart(): Promise<void>
  /**
   * Freezes the server (SIGSTOP): connections stay open and nothing answers, as a server that
   * hangs. `resume` (SIGCONT) lets it go on; resume before stopping it.
   */
  pause(): void
  resume(): void
  /** Stops the server and deletes its directory: call it in afterAll/afterEach. */
  remove(): Promise<void>
}

/**
 * A real InfluxDB 1.x on 127.0.0.1: its own temporary directory and free ports (HTTP and the RPC
 * bind address, which would otherwise collide at 8088 between parallel suites), no reporting,
 * no `_internal` monitor database and no HTTP request log.
 */
export async function startInfluxd(): Promise<RunningInfluxd> {
  const influxd = await requireProgram('influxd', 'influxdb')
  const dir = await tempDir('linewatch-influxd-')
  const configFile = join(dir.path, 'influxdb.toml')
  let proc: RunningProcess | undefined
  let port = 0

  /** Starts influxd and waits (bounded) for `/ping`; fails at once if it exits first. */
  const launch = async (): Promise<void> => {
    const started = startProcess(influxd, ['-config', configFile], { cwd: dir.path })
    proc = started
    const exited = new Promise<never>((_, reject) =>
      started.child.once('exit', (code, signal) =>
        reject(
          new Error(
            `influxd exited (${code ?? signal}) before answering /ping:\n${started.output()}`,
          ),
        ),
      ),
    )
    exited.catch(() => {}) // it also exits when stopped later
    try {
      await Promise.race([
        exited,
        waitFor(
          `influxd /ping on port ${port}`,
          async () => {
            const res = await fetch(`http://127.0.0.1:${port}/ping`, {
              signal: AbortSignal.timeout(1000),
            })
            return res.status === 204
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        ),
      ])
    } catch (e) {
      await started.stop()
      proc = undefined
      throw e
    }
  }

  const stop = async (): Promise<void> => {
    const running = proc
    proc = undefined
    await running?.stop()
  }

  // A free port can be taken by a parallel suite before influxd binds it: try fresh ones.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    let rpcPort = await freePort()
    while (rpcPort === port) rpcPort = await freePort()
    await writeFile(configFile, configToml(dir.path, port, rpcPort))
    try {
      await launch()
      break
    } catch (e) {
      if (attempt < 3 && String(e).includes('address already in use')) continue
      await dir.remove()
      throw e
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir: dir.path,
    output: () => proc?.output() ?? '',
    stop,
    async restart() {
      await stop()
      await launch()
    },
    pause() {
      proc?.child.kill('SIGSTOP')
    },
    resume() {
      proc?.child.kill('SIGCONT')
    },
    async remove() {
      await stop()
      await dir.remove()
    },
  }
}

function configToml(dir: string, port: number, rpcPort: number): string {
  // Only what differs from influxd's defaults; every listener on loopback.
  return `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = false
`
}
