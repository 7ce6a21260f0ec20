/**
 * Benchmark publisher, run as a child process so it does not share the gateway's core. Every
 * PUBLISH packet of a phase is encoded beforehand (mqtt-packet's `generate`) into one buffer
 * per connection, then written on raw TCP sockets in large slices: the publisher costs next to
 * nothing while the broker works, so it is not what limits the rate (an mqtt.js client
 * encoding per publish capped it in earlier runs).
 *
 * - QoS 0 flat out: slices of ~64 KiB, as fast as the socket drains (TCP back-pressure).
 * - QoS 1 flat out: at most `window` unacknowledged messages per connection; each PUBACK
 *   read lets the next message go, so a broker that acknowledges after a group commit sees
 *   up to `window` × `connections` messages waiting on one commit.
 * - Paced (`rate` > 0): the n-th message of the phase (over all connections) is due at
 *   n / rate seconds; its time stamps (`ts`, epoch ms, always 13 digits) are written into the
 *   encoded packet just before it is sent, so `ts` is the send time for latency.
 *
 * Message m of the phase goes on connection m % connections to characteristic
 * (first + m) % characteristics. One reading per message is `{"value": v, "ts": t}`; a batch
 * is a JSON array of `batch` such objects, all for the message's characteristic. Values are a
 * seeded normal process (mean 100, σ 2): in control, with the false alarms all eight Nelson
 * rules give on such data.
 *
 * Protocol with the parent: {prepare: PublishJob} → connects and encodes, answers {ready};
 * {go} → answers {started: epochMs}, then {done: PublishDone}; {close} → DISCONNECT, exit 0.
 */
import { connect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { topicOf } from './fixture.ts'

export interface PublishJob {
  host: string
  port: number
  connections: number
  qos: 0 | 1
  /** Readings per message: 1 is one JSON object, more is a JSON array of that many. */
  batch: number
  messages: number
  /** Messages per second over all connections; 0 is flat out. */
  rate: number
  characteristics: number
  /** The characteristic of the phase's first message (keeps phases' round robins apart). */
  first: number
  /** Unacknowledged QoS 1 messages per connection (flat out only). */
  window: number
  /** Client ids are `${clientPrefix}-${connection}`: new ones for every phase. */
  clientPrefix: string
  seed: number
}

export interface PublishReady {
  /** Bytes of PUBLISH packets the phase writes. */
  bytes: number
  encodeMs: number
}

export interface PublishDone {
  messages: number
  readings: number
  /** Epoch ms at which the last byte was handed to the kernel. */
  writtenAt: number
  /** QoS 1: epoch ms at which the last PUBACK arrived. */
  ackedAt: number | null
  acked: number
}

const { generate } = mqttPacket
const SLICE_BYTES = 64 * 1024
/** Set once the parent asked to close: a connection closing before then is an error. */
let closing = false

/** Encoded packets kept per connection at most (then the pool is sent again, see `encode`). */
const POOL_BYTES = 16 * 1024 * 1024

/**
 * One connection's encoded packets: `buffer` holds a pool of them back to back, `starts[k]` is
 * where pool packet k begins. The connection's message k is pool packet k % pool.
 */
interface Encoded {
  buffer: Buffer
  starts: Uint32Array
  /** Offset of every reading's 13 `ts` digits in `buffer`, `batch` per packet. */
  tsAt: Uint32Array
  /** Messages this connection sends, and the packets in its pool. */
  count: number
  pool: number
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

/**
 * Packets to encode for a connection sending `count` messages: all of them when they fit in
 * POOL_BYTES, else a pool sent round and round (the bare broker takes 50-reading messages
 * faster than a phase's worth could be held). The pool is a multiple of the characteristics'
 * cycle, so message m still goes to characteristic (first + m) % characteristics, and at least
 * twice the QoS 1 window, so no packet id is in flight twice.
 */
function poolSize(job: PublishJob, count: number): number {
  const bytes = 40 + 38 * job.batch
  if (count * bytes <= POOL_BYTES) return count
  const unit = job.characteristics / gcd(job.characteristics, job.connections)
  const fits = Math.max(1, Math.floor(POOL_BYTES / bytes / unit)) * unit
  return Math.min(count, Math.max(fits, Math.ceil((2 * job.window) / unit) * unit))
}

/** Seeded normal values (mulberry32 + Box–Muller): the same numbers in every run. */
function normals(seed: number): () => number {
  let a = seed >>> 0
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297
  }
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
}

function encode(job: PublishJob, connection: number, next: () => number): Encoded {
  const count =
    Math.floor(job.messages / job.connections) +
    (connection < job.messages % job.connections ? 1 : 0)
  const pool = poolSize(job, count)
  const packets: Buffer[] = []
  const starts = new Uint32Array(pool + 1)
  const tsAt = new Uint32Array(pool * job.batch)
  const ts = String(Date.now())
  let offset = 0
  for (let k = 0; k < pool; k++) {
    const m = k * job.connections + connection
    const parts: string[] = []
    const tsInPayload: number[] = []
    let length = job.batch > 1 ? 1 : 0
    for (let r = 0; r < job.batch; r++) {
      const head = `${r > 0 ? ',' : ''}{"value":${(100 + 2 * next()).toFixed(3)},"ts":`
      tsInPayload.push(length + head.length)
      parts.push(`${head}${ts}}`)
      length += head.length + ts.length + 1
    }
    const text = job.batch > 1 ? `[${parts.join('')}]` : parts.join('')
    const payload = Buffer.from(text)
    const packet = generate({
      cmd: 'publish',
      topic: topicOf((job.first + m) % job.characteristics),
      payload,
      qos: job.qos,
      messageId: job.qos > 0 ? (k % 65535) + 1 : undefined,
      retain: false,
      dup: false,
    } as mqttPacket.IPublishPacket)
    const payloadAt = offset + packet.length - payload.length
    for (let r = 0; r < job.batch; r++)
      tsAt[k * job.batch + r] = payloadAt + (tsInPayload[r] as number)
    packets.push(packet)
    starts[k] = offset
    offset += packet.length
  }
  starts[pool] = offset
  return { buffer: Buffer.concat(packets, offset), starts, tsAt, count, pool }
}

/** Reads MQTT packets off a byte stream (only their type matters here). */
function packetReader(onPacket: (type: number, body: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | null = null
  return (chunk) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    let i = 0
    while (i + 2 <= buf.length) {
      let length = 0
      let multiplier = 1
      let j = i + 1
      let complete = false
      while (j < buf.length) {
        const byte = buf[j++] as number
        length += (byte & 127) * multiplier
        multiplier *= 128
        if ((byte & 128) === 0) {
          complete = true
          break
        }
      }
      if (!complete || j + length > buf.length) break
      onPacket((buf[i] as number) >> 4, buf.subarray(j, j + length))
      i = j + length
    }
    rest = i < buf.length ? Buffer.from(buf.subarray(i)) : null
  }
}

interface Connection {
  socket: Socket
  encoded: Encoded
  count: number
  /** Packets written so far. */
  sent: number
  acked: number
  onAcks: () => void
}

async function open(job: PublishJob, c: number, encoded: Encoded): Promise<Connection> {
  const socket = connect({ host: job.host, port: job.port, noDelay: true })
  const conn: Connection = {
    socket,
    encoded,
    count: encoded.count,
    sent: 0,
    acked: 0,
    onAcks: () => {},
  }
  let connack: ((code: number) => void) | null = null
  const connacked = new Promise<number>((resolve) => {
    connack = resolve
  })
  const read = packetReader((type, body) => {
    if (type === 4) conn.acked++
    else if (type === 2) connack?.(body[1] ?? 255)
  })
  socket.on('data', (chunk: Buffer) => {
    const before = conn.acked
    read(chunk)
    if (conn.acked !== before) conn.onAcks()
  })
  socket.on('close', () => {
    if (!closing) {
      console.error(
        `publisher: the broker closed connection ${job.clientPrefix}-${c} after ${conn.sent} of ${conn.count} messages (${conn.acked} acknowledged)`,
      )
      process.exit(2)
    }
  })
  socket.on('error', (err) => console.error(`publisher: connection ${c}: ${err.message}`))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(
    generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: `${job.clientPrefix}-${c}`,
      clean: true,
      keepalive: 0,
    }),
  )
  const code = await connacked
  if (code !== 0) throw new Error(`CONNACK ${code} for ${job.clientPrefix}-${c}`)
  return conn
}

/**
 * Writes messages [conn.sent, end) in slices of at most SLICE_BYTES that do not wrap around
 * the pool; resolves once the socket has taken them (after 'drain' when it had to buffer).
 */
function writeUpTo(conn: Connection, end: number): Promise<void> {
  const { buffer, starts, pool } = conn.encoded
  let flushed = true
  while (conn.sent < end) {
    const from = conn.sent % pool
    const limit = Math.min(pool, from + (end - conn.sent))
    let to = from + 1
    while (to < limit && (starts[to + 1] as number) - (starts[from] as number) <= SLICE_BYTES) to++
    flushed = conn.socket.write(buffer.subarray(starts[from], starts[to]))
    conn.sent += to - from
  }
  return flushed
    ? Promise.resolve()
    : new Promise((resolve) => conn.socket.once('drain', () => resolve()))
}

async function flatOut(job: PublishJob, conn: Connection): Promise<void> {
  if (job.qos === 0) {
    while (conn.sent < conn.count) {
      await writeUpTo(conn, Math.min(conn.count, conn.sent + 1024))
    }
    return
  }
  await new Promise<void>((resolve) => {
    const refill = () => {
      const end = Math.min(conn.count, conn.acked + job.window)
      if (end > conn.sent) void writeUpTo(conn, end)
      if (conn.acked >= conn.count) resolve()
    }
    conn.onAcks = refill
    refill()
  })
}

async function paced(job: PublishJob, conns: Connection[]): Promise<void> {
  const started = performance.now()
  const n = conns.length
  let due = 0
  while (due < job.messages) {
    due = Math.min(job.messages, Math.floor(((performance.now() - started) * job.rate) / 1000) + 1)
    const now = String(Date.now())
    for (let c = 0; c < n; c++) {
      const conn = conns[c] as Connection
      // Messages c, c + n, c + 2n, … of the phase are this connection's 0, 1, 2, …
      const end = Math.max(0, Math.ceil((due - c) / n))
      if (end <= conn.sent) continue
      const { buffer, tsAt, pool } = conn.encoded
      for (let k = conn.sent; k < end; k++) {
        const at = (k % pool) * job.batch
        for (let r = 0; r < job.batch; r++) buffer.write(now, tsAt[at + r] as number, 'latin1')
      }
      void writeUpTo(conn, end)
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  if (job.qos === 1) {
    await Promise.all(
      conns.map(
        (conn) =>
          new Promise<void>((resolve) => {
            conn.onAcks = () => {
              if (conn.acked >= conn.count) resolve()
            }
            conn.onAcks()
          }),
      ),
    )
  }
}

async function run(job: PublishJob): Promise<void> {
  const t0 = performance.now()
  const next = normals(job.seed)
  const encoded = Array.from({ length: job.connections }, (_, c) => encode(job, c, next))
  const encodeMs = performance.now() - t0
  const conns = await Promise.all(encoded.map((e, c) => open(job, c, e)))
  // Bytes the phase writes (a pool sent round and round counts every time).
  const bytes = encoded.reduce(
    (sum, e) =>
      sum + Math.floor(e.count / e.pool) * e.buffer.length + (e.starts[e.count % e.pool] as number),
    0,
  )
  process.send?.({ ready: { bytes, encodeMs } satisfies PublishReady })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  process.send?.({ started: Date.now() })
  if (job.rate > 0) await paced(job, conns)
  else await Promise.all(conns.map((conn) => flatOut(job, conn)))
  const ackedAt = job.qos === 1 ? Date.now() : null
  // Every byte handed to the kernel: an empty write's callback comes after those before it.
  await Promise.all(
    conns.map((conn) => new Promise<void>((resolve) => conn.socket.write('', () => resolve()))),
  )
  const done: PublishDone = {
    messages: job.messages,
    readings: job.messages * job.batch,
    writtenAt: Date.now(),
    ackedAt,
    acked: conns.reduce((sum, conn) => sum + conn.acked, 0),
  }
  process.send?.({ done })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  closing = true
  await Promise.all(
    conns.map(
      (conn) =>
        new Promise<void>((resolve) => {
          conn.socket.end(generate({ cmd: 'disconnect' }), () => resolve())
        }),
    ),
  )
}

process.once('message', (msg: { prepare?: PublishJob }) => {
  if (!msg.prepare) return
  run(msg.prepare).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
})
