import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
}

export interface Receiver {
  url: string
  requests: Received[]
  close(): Promise<void>
}

/** A real HTTP receiver on 127.0.0.1; `answer(n)` (n: 1 for the first request) says what to do. */
export async function receiver(
  answer: (n: number, res: ServerResponse) => number | 'hang' = () => 200,
  tls?: { key: string; cert: string },
): Promise<Receiver> {
  const requests: Received[] = []
  const handler = (req: import('node:http').IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString() })
      const status = answer(requests.length, res)
      if (status === 'hang') return
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(status >= 300 ? `receiver says no (${status})` : 'ok')
    })
  }
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/hooks/quality`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
