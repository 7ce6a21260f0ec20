import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on loopback in front of a server, to take one client's network away from it while
 * the server runs on for everyone else: `cut()` ends every connection through it (no goodbye:
 * an MQTT client's will goes out), `refuse(true)` ends those that come until `refuse(false)`.
 */
export async function startTcpProxy(targetPort: number): Promise<{
  port: number
  cut(): void
  refuse(on: boolean): void
  close(): Promise<void>
}> {
  const sockets = new Set<Socket>()
  let refusing = false
  const server = createServer((client) => {
    if (refusing) {
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
      for (const s of sockets) s.destroy()
    },
    refuse(on) {
      refusing = on
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
