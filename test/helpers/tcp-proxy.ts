import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on loopback in front of a server, to take one client's network away from it:
 * `cut()` ends every connection through it and ends those that come until `restore()`, while
 * the server itself runs on for everyone else.
 */
export async function startTcpProxy(targetPort: number): Promise<{
  port: number
  cut(): void
  restore(): void
  close(): Promise<void>
}> {
  const sockets = new Set<Socket>()
  let cut = false
  const server = createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true
      for (const s of sockets) s.destroy()
    },
    restore() {
      cut = false
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
