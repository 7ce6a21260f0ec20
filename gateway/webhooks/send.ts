import { createHmac } from 'node:crypto'
import { Agent, request } from 'node:https'
import { rootCertificates } from 'node:tls'

/**
 * One HTTP POST of a delivery. `fetch` (Node's undici) for a hook that trusts the system's
 * CAs; node:https with an agent of its own for a hook with `trustCertificate` (undici's Agent is
 * not a dependency of linewatch). Certificates are verified either way; redirects are not
 * followed (the signed body goes only where configured).
 */

/** The answer to an attempt; `text`: the start of the body of a non-2xx answer, for the log. */
export interface Answer {
  status: number
  text: string
}

export interface Sender {
  post(headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer>
  close(): void
}

/** What is kept of a non-2xx answer's body (for lastError). */
const KEPT_BODY = 300

/** `sha256=` and the hex HMAC-SHA256 of `${timestamp}.${body}` under the hook's secret. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** The URL as shown (status, log): no credentials, no query, no fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

/**
 * A sender for the hook's URL. Credentials in the URL become an `authorization: Basic` header
 * (fetch refuses URLs with credentials). `ca`: PEM text trusted in addition to the system's.
 */
export function createSender(url: string, ca?: string): Sender {
  const target = new URL(url)
  const extra: Record<string, string> = {}
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username)
    const password = decodeURIComponent(target.password)
    extra.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    target.username = ''
    target.password = ''
  }
  const href = target.href
  if (ca !== undefined && target.protocol === 'https:') {
    const agent = new Agent({ ca: [...rootCertificates, ca], keepAlive: true })
    return {
      post: (headers, body, signal) =>
        httpsPost(href, agent, { ...headers, ...extra }, body, signal),
      close: () => agent.destroy(),
    }
  }
  return {
    async post(headers, body, signal) {
      const response = await fetch(href, {
        method: 'POST',
        headers: { ...headers, ...extra },
        body,
        signal,
        redirect: 'manual',
      })
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel().catch(() => {})
        return { status: response.status, text: '' }
      }
      return { status: response.status, text: await startOf(response.body) }
    },
    close() {},
  }
}

/** The first KEPT_BODY bytes of a body; the rest is not read. */
async function startOf(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < KEPT_BODY) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // What was read is enough for a message.
  } finally {
    await reader.cancel().catch(() => {})
  }
  return Buffer.concat(chunks).subarray(0, KEPT_BODY).toString('utf8')
}

function httpsPost(
  url: string,
  agent: Agent,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(body)
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        signal,
        headers: { ...headers, 'content-length': String(payload.byteLength) },
      },
      (res) => {
        const status = res.statusCode ?? 0
        const ok = status >= 200 && status < 300
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          if (ok || size >= KEPT_BODY) return
          chunks.push(chunk)
          size += chunk.byteLength
        })
        res.on('end', () =>
          resolve({
            status,
            text: Buffer.concat(chunks).subarray(0, KEPT_BODY).toString('utf8'),
          }),
        )
        res.on('error', reject)
        // After 'end' this settles nothing; before it, the answer was cut off.
        res.on('close', () => reject(new Error('the connection closed before the answer ended')))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}
