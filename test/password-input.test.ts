import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PasswordSource, readNewPassword } from '../gateway/cli/password-input.ts'
import { verifyPassword } from '../gateway/sources/credentials.ts'
import { startTestGateway, testConfigYaml } from './helpers/gateway.ts'
import { requireProgram, tempDir, waitFor } from './helpers/index.ts'

/**
 * Issue 11: `linewatch hash-password` (and `user add|passwd`) at a terminal crashed with EAGAIN
 * (readFileSync on a non-blocking terminal). They now ask twice without echo.
 *
 * Two levels: the helper with a stand-in terminal (a stream with isTTY and setRawMode, to see
 * the raw mode switched on and back and every key handled), and the built CLI on a real
 * pseudo-terminal made by util-linux `script` (a tty.ReadStream cannot be made without one).
 */

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'linewatch.js')

/** A stand-in terminal: keys written to it arrive as a TTY's would; raw mode is recorded. */
function fakeTerminal() {
  const stream = new PassThrough() as PassThrough & PasswordSource
  const modes: boolean[] = []
  stream.isTTY = true
  stream.setRawMode = (raw: boolean) => {
    modes.push(raw)
    return stream
  }
  const out = new PassThrough()
  let shown = ''
  out.on('data', (d: Buffer) => {
    shown += d
  })
  return {
    stream,
    out,
    modes,
    shown: () => shown,
    /** Types `keys` once the prompt `n` (1 or 2) is on screen. */
    async typeAt(n: number, keys: string) {
      await waitFor(`prompt ${n}`, () => shown.split(': ').length > n, { timeoutMs: 5000 })
      stream.write(keys)
    },
  }
}

describe('readNewPassword at a terminal (a stand-in stream)', () => {
  it('asks twice with nothing echoed, in raw mode that is switched off again', async () => {
    const t = fakeTerminal()
    const read = readNewPassword({
      what: 'password',
      code: 'LW_ERR_USER_REFUSED',
      input: t.stream,
      output: t.out,
    })
    await t.typeAt(1, 'pa ss wörd\r')
    await t.typeAt(2, 'pa ss wörd\r')
    expect(await read).toBe('pa ss wörd')
    expect(t.shown()).toBe('Password: \nPassword again: \n')
    expect(t.modes).toEqual([true, false])
    expect(t.stream.isPaused()).toBe(true)
  })

  it('edits with Backspace and Ctrl-U, drops escape sequences, takes a pasted CR LF as one Enter', async () => {
    const t = fakeTerminal()
    const read = readNewPassword({
      what: 'new password',
      code: 'LW_ERR_USER_REFUSED',
      input: t.stream,
      output: t.out,
    })
    // Typed ahead, both lines at once, as a paste: the second line waits for its prompt.
    await t.typeAt(1, 'wrong\x15secrett\x7f\x1b[D!\r\nsecret!\r')
    expect(await read).toBe('secret!')
    expect(t.shown()).toBe('New password: \nNew password again: \n')
  })

  it('refuses entries that differ, and an empty one', async () => {
    const t = fakeTerminal()
    const read = readNewPassword({
      what: 'password',
      code: 'LW_ERR_USER_REFUSED',
      input: t.stream,
      output: t.out,
    })
    await t.typeAt(1, 'one\r')
    await t.typeAt(2, 'two\r')
    await expect(read).rejects.toMatchObject({
      code: 'LW_ERR_USER_REFUSED',
      message: 'the two entries of the password differ: nothing was done; run the command again',
    })
    expect(t.modes).toEqual([true, false])

    const e = fakeTerminal()
    const empty = readNewPassword({
      what: 'password',
      code: 'LW_ERR_USER_REFUSED',
      input: e.stream,
      output: e.out,
    })
    await e.typeAt(1, '\r')
    await expect(empty).rejects.toThrow('no password entered')
    expect(e.shown()).toBe('Password: \n') // not asked again

    const d = fakeTerminal()
    const eof = readNewPassword({
      what: 'password',
      code: 'LW_ERR_USER_REFUSED',
      input: d.stream,
      output: d.out,
    })
    await d.typeAt(1, '\x04')
    await expect(eof).rejects.toThrow('no password entered')
    expect(d.modes).toEqual([true, false])
  })

  it('Ctrl-C restores the terminal first, then interrupts', async () => {
    const t = fakeTerminal()
    let modesAtInterrupt: boolean[] = []
    const read = readNewPassword({
      what: 'password',
      code: 'LW_ERR_USER_REFUSED',
      input: t.stream,
      output: t.out,
      onInterrupt: () => {
        modesAtInterrupt = [...t.modes]
      },
    })
    await t.typeAt(1, 'abc\x03')
    await expect(read).rejects.toThrow('cancelled: no password was entered')
    expect(modesAtInterrupt).toEqual([true, false])
  })
})

describe('readNewPassword from a pipe', () => {
  const piped = (text: string) => {
    const stream = new PassThrough()
    stream.end(text)
    return readNewPassword({ what: 'password', code: 'LW_ERR_USER_REFUSED', input: stream })
  }

  it('takes everything, its one trailing newline dropped', async () => {
    expect(await piped('pa ss\n')).toBe('pa ss')
    expect(await piped('pa ss\r\n')).toBe('pa ss')
    expect(await piped('pa ss \n\n')).toBe('pa ss \n')
    expect(await piped('no newline')).toBe('no newline')
  })

  it('refuses nothing and too much', async () => {
    await expect(piped('')).rejects.toThrow(
      'no password on standard input: type it at a terminal, or pipe it in',
    )
    await expect(piped('\n')).rejects.toThrow('no password on standard input')
    await expect(piped('x'.repeat(70_000))).rejects.toThrow('more than 64 KiB on standard input')
  })
})

/** `linewatch …` on a pseudo-terminal (util-linux `script`): type at its prompts, read its screen. */
class OnTerminal {
  private readonly child: ChildProcessWithoutNullStreams
  private screen = ''
  readonly exited: Promise<number | null>

  constructor(script: string, args: string[]) {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const command = [process.execPath, BIN, ...args].map(quote).join(' ')
    this.child = spawn(script, ['-qec', command, '/dev/null'], { cwd: ROOT })
    this.child.stdout.on('data', (d: Buffer) => {
      this.screen += d
    })
    this.child.stderr.on('data', (d: Buffer) => {
      this.screen += d
    })
    this.exited = new Promise((resolve) => this.child.on('close', resolve))
  }

  /** Waits (10 s at most) for the `n`th time `prompt` is on screen, then types `keys`. */
  async typeAt(prompt: string, n: number, keys: string): Promise<void> {
    await waitFor(
      `"${prompt}" (${n}) on the terminal; it shows:\n${this.screen}`,
      () => this.screen.split(prompt).length > n,
      {
        timeoutMs: 10_000,
      },
    )
    this.child.stdin.write(keys)
  }

  /** The exit status (within 20 s) and everything the terminal showed. */
  async finish(): Promise<{ code: number | null; screen: string }> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000)
    const code = await this.exited
    clearTimeout(timer)
    this.child.stdin.end()
    return { code, screen: this.screen }
  }
}

describe('the built CLI on a real terminal (util-linux script)', () => {
  let script: string
  let dir: { path: string; remove(): Promise<void> }

  beforeAll(async () => {
    for (const name of ['main', 'password-input', 'quality']) {
      const source = join(ROOT, 'gateway', 'cli', `${name}.ts`)
      const built = join(ROOT, 'dist', 'gateway', 'cli', `${name}.js`)
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs)
        throw new Error(`dist/ is older than gateway/cli/${name}.ts: run \`npm run build\` first`)
    }
    script = await requireProgram('script', 'bsdutils')
    dir = await tempDir()
  })
  afterAll(() => dir?.remove())

  it('hash-password asks twice without echo and prints the hash (no EAGAIN)', async () => {
    const t = new OnTerminal(script, ['hash-password'])
    await t.typeAt('Password: ', 1, 'terminal secret\r')
    await t.typeAt('Password again: ', 1, 'terminal secret\r')
    const { code, screen } = await t.finish()
    expect(screen).not.toContain('EAGAIN')
    expect(code).toBe(0)
    expect(screen).not.toContain('terminal secret') // never echoed
    const hash = /^(scrypt\$\S+)\r?$/m.exec(screen)?.[1]
    expect(hash, screen).toBeDefined()
    expect(await verifyPassword('terminal secret', hash as string)).toBe(true)
  })

  it('hash-password refuses two different entries, exit 1', async () => {
    const t = new OnTerminal(script, ['hash-password'])
    await t.typeAt('Password: ', 1, 'first one\r')
    await t.typeAt('Password again: ', 1, 'second one\r')
    const { code, screen } = await t.finish()
    expect(code).toBe(1)
    expect(screen).toContain(
      'linewatch: LW_ERR_CONFIG_INVALID: the two entries of the password differ',
    )
    expect(screen).not.toMatch(/scrypt\$/)
  })

  it('user add takes the password typed twice; the user then signs in with it', async () => {
    const dataDir = join(dir.path, 'data')
    const rest = 'mqtt: { broker: { port: 0 } }\n'
    const config = join(dir.path, 'linewatch.yaml')
    await writeFile(config, testConfigYaml(dataDir, rest))
    const password = 'typed at a terminal, twice'
    const t = new OnTerminal(script, [
      'user',
      'add',
      '-c',
      config,
      '--name',
      'kiosk-admin',
      '--printed-name',
      'Kim Admin',
      '--role',
      'admin',
      '--reason',
      'first admin, typed at a terminal',
    ])
    await t.typeAt('Password: ', 1, `${password}\r`)
    await t.typeAt('Password again: ', 1, `${password}\r`)
    const { code, screen } = await t.finish()
    expect(screen).toContain('user kiosk-admin added (admin): audit entry #1')
    expect(code).toBe(0)
    expect(screen).not.toContain(password)

    const gw = await startTestGateway(rest, { dataDir })
    try {
      const res = await fetch(`${gw.gateway.urls.http}/api/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'kiosk-admin', password }),
      })
      expect(res.status).toBe(200)
    } finally {
      await gw.close()
    }
  })
})
