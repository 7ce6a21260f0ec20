import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Ports chosen for servers started later, below Linux's ephemeral range (32768–60999): between
 * the choice and the server's start (seconds, for a gateway process), nothing listening on
 * port 0 and no outgoing connection can be given the port. Chosen from the ephemeral range, a
 * restarted gateway found its port taken by a test running beside it, whose own gateway then
 * answered in its place.
 */
const CHOSEN_PORTS = { from: 20_000, to: 32_000 }

/** Whether a TCP port is free on 127.0.0.1 now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A free TCP port on 127.0.0.1 (for servers that cannot listen on port 0 themselves). */
export async function freePort(): Promise<number> {
  const { from, to } = CHOSEN_PORTS
  for (let tries = 0; tries < 100; tries++) {
    const port = from + Math.floor(Math.random() * (to - from))
    if (await portIsFree(port)) return port
  }
  throw new Error(`no free port found in ${from}–${to} in 100 tries`)
}

/** A fresh temporary directory and its removal. */
export async function tempDir(
  prefix = 'linewatch-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 15_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (e) {
      lastError = e
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      )
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** The absolute path of a program, or an error saying how to install it (tests never skip). */
export async function requireProgram(name: string, debianPackage: string): Promise<string> {
  const { execFileSync } = await import('node:child_process')
  for (const dir of [
    '/usr/bin',
    '/usr/sbin',
    '/usr/local/bin',
    '/usr/local/sbin',
    ...(process.env.PATH ?? '').split(':'),
  ]) {
    const path = join(dir, name)
    try {
      execFileSync('test', ['-x', path])
      return path
    } catch {}
  }
  throw new Error(
    `${name} is not installed: run \`npm test\` (it provisions the suite) or \`apt-get install -y ${debianPackage}\``,
  )
}

export interface RunningProcess {
  child: ChildProcess
  /** Everything the process printed so far. */
  output(): string
  stop(): Promise<void>
}

/**
 * Starts a server program (as `uid`/`gid` when given); `stop` sends `stopSignal` (SIGTERM) and
 * waits for it to exit (SIGKILL after `graceMs`, 5 s).
 */
export function startProcess(
  command: string,
  args: string[],
  options: {
    cwd?: string
    uid?: number
    gid?: number
    stopSignal?: NodeJS.Signals
    graceMs?: number
  } = {},
): RunningProcess {
  const { stopSignal = 'SIGTERM', graceMs = 5000 } = options
  const child = spawn(command, args, {
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(stopSignal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Remaining Length as MQTT encodes it (variable byte integer). */
export function varint(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return out
}

/** What a program run to its end printed, and its exit code. */
export interface ProgramRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program to its end with `input` on its stdin; never throws on a non-zero exit. */
export function runProgram(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<ProgramRun> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : process.env,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.stdin.end(options.input ?? '')
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * One HTTP request to the gateway's API at `base` with a bearer token (none: null) and a JSON
 * body; the answer's body parsed as JSON when it is JSON, else its text.
 */
export async function apiCall<T>(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: res.status, body: parsed as T, headers: res.headers }
}

/**
 * How often the event loop turned while `work` ran (a spinning setImmediate): work that holds
 * the thread gives about none, work that leaves it free many. A count, not a time.
 */
export async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0
  let done = false
  const spin = () => {
    turns++
    if (!done) setImmediate(spin)
  }
  setImmediate(spin)
  try {
    return { value: await work(), turns }
  } finally {
    done = true
  }
}
