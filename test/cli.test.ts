import { execFile, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuth } from '../gateway/api/auth.ts'
import { parseConfig } from '../gateway/config/index.ts'
import type { ReadingsView } from '../gateway/contract.ts'
import { verifyPassword } from '../gateway/sources/credentials.ts'
import { startTestGateway } from './helpers/gateway.ts'
import { freePort, runProgram, tempDir, waitFor } from './helpers/index.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'linewatch.js')

/** Runs `linewatch …` as a user would (the built CLI); never throws on a non-zero exit. */
function linewatch(args: string[], options: { input?: string; cwd?: string } = {}) {
  return runProgram(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? join(import.meta.dirname, '..'),
    input: options.input,
  })
}

describe('linewatch CLI', () => {
  let dir: { path: string; remove(): Promise<void> }
  beforeAll(async () => {
    dir = await tempDir()
  })
  afterAll(() => dir?.remove())

  it.each([
    [[]],
    [['start']],
    [['simulate']],
    [['config', 'check']],
    [['config', 'schema']],
    [['token']],
    [['hash-password']],
  ])('linewatch %j --help', async (args) => {
    const { code, stdout } = await linewatch([...args, '--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: linewatch/)
  })

  it('npx linewatch works from the checkout', async () => {
    const { stdout } = await promisify(execFile)(
      'npx',
      ['--no-install', 'linewatch', '--version'],
      {
        cwd: join(import.meta.dirname, '..'),
        env: { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH}` },
        timeout: 30_000,
      },
    )
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('config check accepts the demo configuration', async () => {
    const { code, stdout } = await linewatch(['config', 'check', 'config/demo.yaml'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/config\/demo\.yaml: valid — 10 characteristics \(8 MQTT, 2 OPC-UA\)/)
  })

  it('config check and start refuse an invalid file with its file, line and reason, and exit 1', async () => {
    const file = join(dir.path, 'broken.yaml')
    await writeFile(file, 'http:\n  port: eighty\nmqtt:\n  brokr: {}\n')
    for (const command of [
      ['config', 'check', file],
      ['start', '--config', file],
    ]) {
      const { code, stderr } = await linewatch(command)
      expect(code).toBe(1)
      expect(stderr).toContain('LW_ERR_CONFIG_INVALID')
      expect(stderr).toContain(`${file}:2:9: http.port: must be integer`)
      expect(stderr).toContain(`${file}:4:3: mqtt.brokr: unknown setting "brokr"`)
      expect(stderr).not.toMatch(/\n\s+at /) // a message for a person, not a stack trace
    }
  })

  it('config check lists the schema and the semantic problems in one run, and refuses an empty file', async () => {
    const file = join(dir.path, 'both.yaml')
    await writeFile(
      file,
      `http: { port: eighty }
characteristics:
  - { id: a, name: A, path: s/a, source: { mqtt: { topic: t/1 } }, limits: { alertHigh: 10, actionHigh: 9 } }
  - { id: a, name: B, path: s/a, source: { opcua: { server: lathe, nodeId: 'nsu=urn:x;s=y' } } }
`,
    )
    const { code, stderr } = await linewatch(['config', 'check', file])
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:1:15: http.port: must be integer`)
    expect(stderr).toContain(
      `${file}:3:76: characteristics[0].limits: alertHigh (10) must not be above actionHigh (9)`,
    )
    expect(stderr).toContain(
      `${file}:4:11: characteristics[1].id: duplicate id "a" (first at characteristics[0])`,
    )
    expect(stderr).toContain(
      `${file}:4:61: characteristics[1].source.opcua.server: no OPC-UA server "lathe" in opcua.servers`,
    )

    const empty = join(dir.path, 'empty.yaml')
    await writeFile(empty, '# to be written\n')
    const refused = await linewatch(['config', 'check', empty])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      `LW_ERR_CONFIG_INVALID: ${empty} is invalid:\n  ${empty}:1:1: the file is empty: no settings in it`,
    )
  })

  it('start reports a missing file with its own code', async () => {
    const { code, stderr } = await linewatch(['start', '--config', join(dir.path, 'nope.yaml')])
    expect(code).toBe(1)
    expect(stderr).toMatch(/LW_ERR_CONFIG_NOT_FOUND: cannot read .*nope\.yaml/)
  })

  it('start runs the gateway until SIGTERM, then stops cleanly; a taken port is refused with LW_ERR_PORT_IN_USE', async () => {
    const port = await freePort()
    const file = join(dir.path, 'run.yaml')
    await writeFile(
      file,
      `dataDir: ${join(dir.path, 'run-data')}\nhttp: { host: 127.0.0.1, port: ${port} }\nmqtt: { broker: { host: 127.0.0.1, port: 0 } }\n`,
    )
    const child = spawn(process.execPath, [BIN, 'start', '--config', file, '--json-logs'])
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await waitFor(
      'the gateway to answer',
      async () => (await fetch(`http://127.0.0.1:${port}/api/health`)).ok,
      { timeoutMs: 20_000 },
    )

    // Another data directory (one gateway per data directory), the same HTTP port.
    const other = join(dir.path, 'run-other.yaml')
    await writeFile(
      other,
      `dataDir: ${join(dir.path, 'run-data-2')}\nhttp: { host: 127.0.0.1, port: ${port} }\nmqtt: { broker: { host: 127.0.0.1, port: 0 } }\n`,
    )
    const second = await linewatch(['start', '--config', other])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(
      `LW_ERR_PORT_IN_USE: HTTP port ${port} is in use by another program`,
    )

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string })
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['linewatch gateway ready', 'stopping']),
    )
  })

  it('token prints a new token once, with the configuration entry that grants its role', async () => {
    const { code, stdout } = await linewatch([
      'token',
      '--id',
      'wall-2',
      '--role',
      'quality-engineer',
    ])
    expect(code).toBe(0)
    const token = /^ {2}(\S{43})$/m.exec(stdout)?.[1] as string
    const entry = /^ {2}(- \{ id: wall-2, .*\})$/m.exec(stdout)?.[1] as string
    const config = parseConfig(`auth:\n  tokens:\n    ${entry}\n`)
    expect(createAuth(config.auth).resolve(token)).toEqual({
      role: 'quality-engineer',
      tokenId: 'wall-2',
      user: null,
    })
    expect(createAuth(config.auth).resolve(`${token}x`)).toBeNull()
    expect((await linewatch(['token', '--role', 'root'])).code).toBe(1)
  })

  it('token refuses an id the configuration would refuse, with the rule, and quotes an id YAML would not read as text', async () => {
    for (const id of ['a, b', '-x', 'wall display', 'x'.repeat(129)]) {
      const { code, stdout, stderr } = await linewatch(['token', '--id', id])
      expect(code).toBe(1)
      expect(stdout).toBe('') // no token is made
      expect(stderr).toContain(
        'A token id is letters, digits, dot, underscore and hyphen, starting with a letter or digit (^[A-Za-z0-9][A-Za-z0-9._-]*$, at most 128 characters)',
      )
    }
    // Valid ids that plain YAML would read as a number or a boolean: the entry still parses.
    for (const id of ['123', 'true', '1e3']) {
      const { code, stdout } = await linewatch(['token', '--id', id])
      expect(code).toBe(0)
      const token = /^ {2}(\S{43})$/m.exec(stdout)?.[1] as string
      const entry = /^ {2}(- \{ id: .*\})$/m.exec(stdout)?.[1] as string
      const config = parseConfig(`auth:\n  tokens:\n    ${entry}\n`)
      expect(config.auth.tokens[0]?.id).toBe(id)
      expect(createAuth(config.auth).resolve(token)?.tokenId).toBe(id)
    }
  })

  it('hash-password hashes the password on standard input', async () => {
    const { code, stdout } = await linewatch(['hash-password'], { input: 'pa ss\n' })
    expect(code).toBe(0)
    expect(await verifyPassword('pa ss', stdout.trim())).toBe(true)
    const empty = await linewatch(['hash-password'], { input: '' })
    expect(empty.code).toBe(1)
    expect(empty.stderr).toContain('no password on standard input')
  })

  it('simulate sensors publishes a scenario to a broker', async () => {
    const gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
characteristics:
  - { id: w, name: Weight, path: s/a/l/c, source: { mqtt: { topic: sim/w } } }
  - { id: n, name: Count, path: s/a/l/c, source: { mqtt: { topic: sim/n } } }
`)
    const scenario = join(dir.path, 'scenario.yaml')
    await writeFile(
      scenario,
      `streams:
  - { id: w, mqtt: { topic: sim/w, format: json }, every: 100ms, mean: 50, sigma: 0.1, decimals: 2 }
  - { id: n, mqtt: { topic: sim/n, format: array, batch: 2 }, every: 100ms, mean: 7, sigma: 0 }
`,
    )
    const child = spawn(process.execPath, [
      BIN,
      'simulate',
      'sensors',
      '--scenario',
      scenario,
      '--mqtt-url',
      gw.gateway.urls.mqtt as string,
    ])
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    try {
      const since = Date.now()
      const got = async (id: string) =>
        (
          await gw.get<ReadingsView>(
            `/api/characteristics/${id}/readings?from=${since - 1000}&to=${Date.now() + 1000}`,
          )
        ).body.readings
      const weights = await waitFor('readings from the simulator', async () => {
        const r = await got('w')
        return r.length >= 5 ? r : undefined
      })
      expect(weights.every((r) => Math.abs(r.value - 50) < 1)).toBe(true)
      await waitFor(
        'batched readings',
        async () => (await got('n')).filter((r) => r.value === 7).length >= 4,
      )
    } finally {
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      await gw.close()
      await gw.removeDataDir()
    }
  })
})
