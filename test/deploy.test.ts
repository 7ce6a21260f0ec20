import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, requireProgram, tempDir, waitFor } from './helpers/index.ts'

/**
 * The systemd unit for a machine without Docker (deploy/linewatch.service, README "Running as a
 * service"): valid for systemd's own checker, sandboxed, and its command line runs the gateway
 * and stops it cleanly within the unit's stop timeout.
 */
const ROOT = join(import.meta.dirname, '..')
const UNIT = join(ROOT, 'deploy', 'linewatch.service')
const run = promisify(execFile)

/** The unit's settings of its [Service] section, each name with its values in order. */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>()
  let section = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('[')) {
      section = line
      continue
    }
    if (section !== '[Service]') continue
    const eq = line.indexOf('=')
    const name = line.slice(0, eq)
    settings.set(name, [...(settings.get(name) ?? []), line.slice(eq + 1)])
  }
  return settings
}

describe('the systemd unit', () => {
  const text = readFileSync(UNIT, 'utf8')
  const service = serviceSettings(text)
  let dir: { path: string; remove(): Promise<void> }
  let analyze: string
  beforeAll(async () => {
    dir = await tempDir('linewatch-deploy-')
    analyze = await requireProgram('systemd-analyze', 'systemd')
  })
  afterAll(() => dir?.remove())

  it('passes systemd-analyze verify, and its sandbox is rated OK or better', async () => {
    // Node where it is on this machine (the unit names Debian's /usr/bin/node, which verify
    // requires to exist).
    const here = join(dir.path, 'linewatch.service')
    await writeFile(here, text.replace('/usr/bin/node ', `${process.execPath} `))
    const verified = await run(analyze, ['verify', here])
    expect(verified.stderr).toBe('')
    // Exposure 0 (fully sandboxed) … 10 (not at all), the threshold in tenths; up to 4.9 is "OK".
    const security = await run(analyze, ['security', '--offline=yes', '--threshold=49', here])
    expect(security.stdout).toMatch(/Overall exposure level for linewatch\.service: [0-3]\.\d OK/)
  })

  it('runs as its own user with no privileges, and the malloc arenas of the Docker image', () => {
    expect(service.get('User')).toEqual(['linewatch'])
    expect(service.get('NoNewPrivileges')).toEqual(['yes'])
    expect(service.get('CapabilityBoundingSet')).toEqual([''])
    expect(service.get('ProtectSystem')).toEqual(['strict'])
    const docker = /^ENV MALLOC_ARENA_MAX=(\d+)$/m.exec(
      readFileSync(join(ROOT, 'Dockerfile'), 'utf8'),
    )
    expect(service.get('Environment')).toContain(`MALLOC_ARENA_MAX=${docker?.[1]}`)
    expect(service.get('Restart')).toEqual(['on-failure'])
  })

  it('its command runs the gateway, which stops cleanly on SIGTERM within TimeoutStopSec', async () => {
    const [execStart] = service.get('ExecStart') ?? []
    const [node, ...args] = (execStart as string).split(' ')
    expect(node).toBe('/usr/bin/node')
    // Installed at /opt/linewatch, configured in /etc/linewatch: here, this checkout and a file
    // of this test's (dataDir relative to the working directory, as in the unit).
    const config = join(dir.path, 'linewatch.yaml')
    const port = await freePort()
    await writeFile(
      config,
      `dataDir: ./data\nhttp: { host: 127.0.0.1, port: ${port} }\nmqtt: { broker: { host: 127.0.0.1, port: 0 } }\n`,
    )
    const argv = args.map((a) =>
      a.replace('/opt/linewatch', ROOT).replace('/etc/linewatch/linewatch.yaml', config),
    )
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' }
    for (const assignment of service.get('Environment') ?? []) {
      const [name, value] = assignment.split('=') as [string, string]
      env[name] = value
    }
    const child = spawn(process.execPath, argv, { cwd: dir.path, env })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d))
    child.stderr.on('data', (d: Buffer) => (output += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await waitFor(
      'the gateway to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`it exited: ${output}`)
        return (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok
      },
      { timeoutMs: 30_000 },
    )
    const stopSeconds = Number(service.get('TimeoutStopSec')?.[0])
    child.kill(service.get('KillSignal')?.[0] as NodeJS.Signals)
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('still running'), stopSeconds * 1000)),
    ])
    expect(code, output).toBe(0)
    // Its data where the unit's WorkingDirectory puts it, and JSON lines for the journal.
    expect(readFileSync(join(dir.path, 'data', 'timeseries.db')).length).toBeGreaterThan(0)
    expect(
      output
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
    ).toEqual(expect.arrayContaining(['linewatch gateway ready', 'stopping']))
  }, 90_000)
})
