import { type ErrorCode, LinewatchError } from '../errors.ts'

/**
 * A new password for a command (`linewatch hash-password`, `linewatch user add|passwd`).
 *
 * At a terminal it is asked for twice, without echo: standard input goes to raw mode for the
 * two lines and back afterwards (whatever happens), the prompts go to standard error (standard
 * output may be redirected to keep the result), and the two entries must match. Enter ends an
 * entry; Backspace deletes a character, Ctrl-U the entry; Ctrl-C cancels as it would any
 * command (SIGINT); Ctrl-D on an empty entry ends the input. Reading a terminal with
 * `readFileSync(0)` — as these commands did — fails with EAGAIN, since its descriptor is
 * non-blocking.
 *
 * Otherwise (a pipe, a file) it is everything on standard input with its one trailing newline
 * dropped, so `printf '%s\n' "$PASSWORD" | linewatch …` and `< file` keep working.
 */

/** What the helper needs of standard input: a Readable, and a terminal's raw mode when it is one. */
export type PasswordSource = NodeJS.ReadableStream & {
  isTTY?: boolean
  setRawMode?: (raw: boolean) => unknown
}

export interface PasswordInputOptions {
  /** What is asked for, in words: "password", "new password". */
  what: string
  /** The code of a refusal (no password, the entries differ). */
  code: ErrorCode
  input?: PasswordSource
  /** Where the prompts go (standard error). */
  output?: NodeJS.WritableStream
  /** Ctrl-C at the prompt, once the terminal is back in its mode (default: SIGINT to itself). */
  onInterrupt?: () => void
}

/** More than this on standard input is no password. */
const MAX_PIPED_BYTES = 64 * 1024

export async function readNewPassword(options: PasswordInputOptions): Promise<string> {
  const input = options.input ?? process.stdin
  if (input.isTTY && typeof input.setRawMode === 'function') return fromTerminal(input, options)
  const text = await readAll(input, options)
  const password = text.replace(/\r?\n$/, '')
  if (!password)
    throw new LinewatchError(
      options.code,
      `no ${options.what} on standard input: type it at a terminal, or pipe it in`,
    )
  return password
}

async function readAll(input: PasswordSource, options: PasswordInputOptions): Promise<string> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    bytes += buffer.length
    if (bytes > MAX_PIPED_BYTES)
      throw new LinewatchError(
        options.code,
        `more than ${MAX_PIPED_BYTES / 1024} KiB on standard input: that is not a ${options.what}`,
      )
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function fromTerminal(input: PasswordSource, options: PasswordInputOptions): Promise<string> {
  const output = options.output ?? process.stderr
  const lines = new HiddenLines(input)
  let interrupted = false
  let first: string | null
  let second: string | null = null
  try {
    output.write(`${capitalised(options.what)}: `)
    first = await lines.next()
    output.write('\n')
    if (first !== null && first !== '') {
      output.write(`${capitalised(options.what)} again: `)
      second = await lines.next()
      output.write('\n')
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e
    interrupted = true
    first = null
  } finally {
    lines.close()
  }
  if (interrupted) {
    output.write('\n')
    ;(options.onInterrupt ?? (() => process.kill(process.pid, 'SIGINT')))()
    throw new LinewatchError(options.code, `cancelled: no ${options.what} was entered`)
  }
  if (first === null || first === '')
    throw new LinewatchError(options.code, `no ${options.what} entered`)
  if (second !== first)
    throw new LinewatchError(
      options.code,
      `the two entries of the ${options.what} differ: nothing was done; run the command again`,
    )
  return first
}

class Interrupted extends Error {}

/**
 * Lines typed at a terminal in raw mode, nothing echoed. Keys that arrive ahead of a prompt
 * (typed ahead, pasted) are kept for the next line.
 */
class HiddenLines {
  private readonly input: PasswordSource
  private readonly keys: string[] = []
  private ended = false
  private wake: (() => void) | null = null
  private readonly onData = (chunk: string | Buffer) => {
    this.keys.push(...String(chunk))
    this.wake?.()
  }
  private readonly onEnd = () => {
    this.ended = true
    this.wake?.()
  }

  constructor(input: PasswordSource) {
    this.input = input
    input.setRawMode?.(true)
    input.setEncoding('utf8')
    input.on('data', this.onData)
    input.on('end', this.onEnd)
    input.on('error', this.onEnd) // a terminal that went away (EIO)
    input.resume()
  }

  /** The next line; null when the input ends (Ctrl-D on an empty line, or the terminal closed). */
  async next(): Promise<string | null> {
    let line = ''
    for (;;) {
      const key = this.keys.shift()
      if (key === undefined) {
        if (this.ended) return line === '' ? null : line
        await new Promise<void>((resolve) => {
          this.wake = resolve
        })
        this.wake = null
        continue
      }
      switch (key) {
        case '\r':
          if (this.keys[0] === '\n') this.keys.shift() // a pasted CR LF is one Enter
          return line
        case '\n':
          return line
        case '\x03': // Ctrl-C
          throw new Interrupted()
        case '\x04': // Ctrl-D
          return line === '' ? null : line
        case '\x7f': // Backspace (DEL)
        case '\b':
          line = [...line].slice(0, -1).join('')
          break
        case '\x15': // Ctrl-U
          line = ''
          break
        case '\x1b': // an escape sequence (arrow keys…): dropped whole
          this.skipEscape()
          break
        default:
          if (key >= ' ') line += key
      }
    }
  }

  private skipEscape(): void {
    const introducer = this.keys[0]
    if (introducer !== '[' && introducer !== 'O') return
    this.keys.shift()
    while (this.keys.length > 0) {
      const c = this.keys.shift() as string
      if (c >= '@' && c <= '~') return
    }
  }

  close(): void {
    this.input.removeListener('data', this.onData)
    this.input.removeListener('end', this.onEnd)
    this.input.removeListener('error', this.onEnd)
    this.input.setRawMode?.(false)
    this.input.pause()
  }
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
