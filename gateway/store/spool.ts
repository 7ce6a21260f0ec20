/**
 * A durable FIFO of text batches on disk, for riding out an outage of whatever the batches are
 * bound for. Knows nothing of InfluxDB: a batch is opaque text and a record count.
 *
 * Layout of the directory:
 * - `000000000001.seg`, … append-only segment files, each a run of entries
 *   `<records> <bytes> <crc32 hex>\n<payload>\n`; a new segment is begun at every open and when
 *   the current one passes `segmentBytes`, and a segment is deleted once all its entries are
 *   acknowledged;
 * - `cursor`: `{"seq":n,"offset":n}`, where the oldest unacknowledged entry starts, so a restart
 *   does not deliver acknowledged entries again;
 * - `lock`: the pid of the process that has the spool open. A lock naming a process that is gone
 *   is taken over, and so is one naming this very process (in a container the gateway has the
 *   same pid, often 1, after every restart: a pid that is ours belongs to no other live holder);
 *   a second open of a directory within one process is refused by an in-process registry.
 *
 * Appends are coalesced into one write and one fdatasync (and an fsync of the directory when
 * they begin a segment), and reported only then: an append that resolved survives a crash. A
 * torn entry at the end of a segment (a crash while appending, before the append was reported
 * durable) is ignored at open with a warning.
 *
 * Read errors never take the process down. What can no longer be read is skipped and its records
 * are counted in `lost` (logged as errors): an entry whose checksum does not match, the rest of a
 * segment cut short, a segment file removed under the running spool (and appends to a removed
 * segment begin a new one, so they are durable again). Any other read error (EACCES, EIO, …)
 * rejects `head()`, keeps the entry, and the caller retries later.
 */
import { Buffer } from 'node:buffer'
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Logger } from '../log.ts'

export interface SpoolEntry {
  /** Pass it to `ack` once the entry is delivered. */
  id: number
  text: string
  records: number
}

export interface SpoolOptions {
  dir: string
  /** Appends that would take the spool past this many bytes are refused. */
  maxBytes: number
  log: Logger
  /** A new segment file is begun past this size (default 8 MiB). */
  segmentBytes?: number
}

export interface Spool {
  /** Records held, counting appends still being written. */
  readonly records: number
  /** Entries held, counting appends still being written: `appended - removed`. */
  readonly entries: number
  /** Entries ever taken in (loaded at open or appended): the position of the newest one. */
  readonly appended: number
  /** Entries ever gone (acknowledged, skipped as corrupt, or failed to write), oldest first. */
  readonly removed: number
  /** Bytes held on disk by unacknowledged entries (with appends still being written). */
  readonly bytes: number
  /**
   * Records that could not be read back and were skipped: a corrupt entry, a segment cut short
   * or removed under the running spool. Counted, never silent.
   */
  readonly lost: number
  /**
   * Queues a batch. Returns a promise of the entry's id once it is on disk (fdatasync'd), or
   * `undefined` if it would take the spool past `maxBytes` (nothing is then queued).
   */
  append(text: string, records: number): Promise<number> | undefined
  /**
   * The oldest entry, after every append made before the call is on disk; undefined if empty.
   * Skips (and counts in `lost`) what can no longer be read; rejects for any other read error,
   * keeping the entry for the next call.
   */
  head(): Promise<SpoolEntry | undefined>
  /**
   * Drops the oldest entry, which must be `id` (an id already gone, skipped as lost, is ignored).
   * A failure to persist the cursor is logged, not thrown: it can only deliver an entry twice.
   */
  ack(id: number): Promise<void>
  close(): Promise<void>
}

interface IndexEntry {
  id: number
  offset: number
  headerLength: number
  payloadLength: number
  records: number
  crc: number
}

interface Segment {
  seq: number
  path: string
  /** Unacknowledged entries, oldest first. */
  entries: IndexEntry[]
  /** Bytes in the file (where the next entry goes, for the segment being written). */
  size: number
}

interface PendingAppend {
  header: Buffer
  payload: Buffer
  records: number
  crc: number
  resolve(id: number): void
  reject(e: unknown): void
}

const SEGMENT_NAME = /^(\d{12})\.seg$/
const HEADER = /^(\d+) (\d+) ([0-9a-f]{8})$/
const NEWLINE = Buffer.from('\n')
/** Repeated errors (cursor writes) are logged at most this often. */
const LOG_EVERY_MS = 10_000

/**
 * The spool directories this process has open (resolved paths): the lock file cannot tell a
 * second open in this process from a stale lock of a previous incarnation with the same pid.
 */
const openHere = new Set<string>()

export async function openSpool(options: SpoolOptions): Promise<Spool> {
  const spool = new DiskSpool(options)
  try {
    await spool.load()
  } catch (e) {
    await spool.unlock()
    throw e
  }
  return spool
}

class DiskSpool implements Spool {
  records = 0
  bytes = 0
  appended = 0
  removed = 0
  lost = 0

  private readonly dir: string
  private readonly maxBytes: number
  private readonly segmentBytes: number
  private readonly log: Logger
  private segments: Segment[] = []
  /** The segment appends go to, and its handle; a fresh one is begun after every open. */
  private active: { segment: Segment; handle: FileHandle } | undefined
  private nextSeq = 1
  private nextId = 1
  private pending: PendingAppend[] = []
  /** Every file operation runs in this chain, one at a time, in call order. */
  private chain: Promise<unknown> = Promise.resolve()
  private closed = false
  /** Whether this instance holds the lock (its directory is in `openHere`). */
  private locked = false
  private lastCursorError = 0

  constructor(options: SpoolOptions) {
    this.dir = options.dir
    this.maxBytes = options.maxBytes
    this.segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024
    this.log = options.log
  }

  get entries(): number {
    return this.appended - this.removed
  }

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await this.lock()
    const cursor = await this.readCursor()
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort()
    for (const name of names) {
      const seq = Number(SEGMENT_NAME.exec(name)?.[1])
      const path = join(this.dir, name)
      this.nextSeq = Math.max(this.nextSeq, seq + 1)
      if (cursor && seq < cursor.seq) {
        await unlink(path).catch(ignoreMissing) // fully acknowledged before a crash
        continue
      }
      const segment = await this.scanSegment(
        seq,
        path,
        cursor && seq === cursor.seq ? cursor.offset : 0,
      )
      if (!segment) continue // removed since readdir
      if (segment.entries.length > 0) this.segments.push(segment)
      else await unlink(path).catch(ignoreMissing)
    }
    if (this.entries > 0) {
      this.log.info(
        { dir: this.dir, records: this.records, bytes: this.bytes, entries: this.entries },
        'spool holds records from a previous run',
      )
    }
  }

  append(text: string, records: number): Promise<number> | undefined {
    if (this.closed) throw new Error('spool is closed')
    const payload = Buffer.from(text, 'utf8')
    const crc = crc32(payload)
    const header = Buffer.from(
      `${records} ${payload.length} ${crc.toString(16).padStart(8, '0')}\n`,
    )
    const size = header.length + payload.length + 1
    if (this.bytes + size > this.maxBytes) return undefined
    this.records += records
    this.appended += 1
    this.bytes += size
    const written = new Promise<number>((resolve, reject) => {
      this.pending.push({ header, payload, records, crc, resolve, reject })
    })
    void this.run(() => this.writePending()).catch(() => {}) // failures reject `written`
    return written
  }

  head(): Promise<SpoolEntry | undefined> {
    return this.run(async () => {
      for (;;) {
        const segment = this.segments[0]
        if (!segment) return undefined
        const entry = segment.entries[0]
        if (!entry) {
          // Empty: the segment being written (the newest), or one whose first write failed.
          if (segment === this.active?.segment) return undefined
          this.segments.shift()
          await unlink(segment.path).catch(() => {})
          continue
        }
        const payload = Buffer.alloc(entry.payloadLength)
        let bytesRead: number
        try {
          const handle = await open(segment.path, 'r')
          try {
            ;({ bytesRead } = await handle.read(
              payload,
              0,
              payload.length,
              entry.offset + entry.headerLength,
            ))
          } finally {
            await handle.close()
          }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e // kept: retried later
          await this.loseSegment(
            segment,
            'spool segment file is gone (removed under the running gateway): its records are lost',
          )
          continue
        }
        if (bytesRead < payload.length) {
          await this.loseSegment(
            segment,
            'spool segment file is cut short (truncated under the running gateway): the records past the cut are lost',
          )
          continue
        }
        if (crc32(payload) === entry.crc) {
          return { id: entry.id, text: payload.toString('utf8'), records: entry.records }
        }
        this.log.error(
          { file: segment.path, offset: entry.offset, records: entry.records },
          'spool entry is corrupt (checksum mismatch): its records are skipped',
        )
        await this.dropHead(true)
      }
    })
  }

  ack(id: number): Promise<void> {
    return this.run(async () => {
      const entry = this.oldest()
      if (entry === undefined || id < entry.id) return // skipped as lost meanwhile
      if (entry.id !== id) throw new Error(`spool: ack of ${id}, which is not the oldest entry`)
      await this.dropHead()
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.run(async () => {
      await this.active?.handle.close().catch(() => {})
      this.active = undefined
      await this.unlock()
    })
  }

  /** Releases the lock if this instance holds it. */
  async unlock(): Promise<void> {
    if (!this.locked) return
    this.locked = false
    openHere.delete(resolve(this.dir))
    await unlink(join(this.dir, 'lock')).catch(() => {})
  }

  /** The oldest entry still held (skipping empty segments). */
  private oldest(): IndexEntry | undefined {
    for (const segment of this.segments) if (segment.entries.length > 0) return segment.entries[0]
    return undefined
  }

  /**
   * Gives up the rest of the oldest segment, which can no longer be read: its records are
   * counted as lost, the cursor moves past it.
   */
  private async loseSegment(segment: Segment, message: string): Promise<void> {
    const entries = segment.entries.splice(0)
    for (const e of entries) this.forget(e, true)
    const records = entries.reduce((n, e) => n + e.records, 0)
    this.log.error(
      { file: segment.path, entries: entries.length, records, lost: this.lost },
      message,
    )
    await this.persistCursor(segment.seq, segment.size)
    if (this.active?.segment === segment) {
      await this.active.handle.close().catch(() => {})
      this.active = undefined
    }
    this.segments = this.segments.filter((s) => s !== segment)
    await unlink(segment.path).catch(() => {})
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(op)
    this.chain = result.catch(() => {})
    return result
  }

  /** Writes every queued append with one writev and one fdatasync. */
  private async writePending(): Promise<void> {
    const batch = this.pending.splice(0)
    if (batch.length === 0) return
    try {
      let { segment, handle } = await this.activeSegment()
      if ((await handle.stat()).nlink === 0) {
        // Removed under us: appending to it would fsync into a file no restart can find.
        const gone = segment
        await handle.close().catch(() => {})
        this.active = undefined
        this.segments = this.segments.filter((s) => s !== gone)
        const records = gone.entries.reduce((n, e) => n + e.records, 0)
        for (const e of gone.entries.splice(0)) this.forget(e, true)
        this.log.error(
          { file: gone.path, records, lost: this.lost },
          'spool segment file is gone (removed under the running gateway): its records are lost; appends go to a new segment',
        )
        ;({ segment, handle } = await this.activeSegment())
      }
      const buffers = batch.flatMap((b) => [b.header, b.payload, NEWLINE])
      const total = buffers.reduce((n, b) => n + b.length, 0)
      const { bytesWritten } = await handle.writev(buffers)
      if (bytesWritten !== total) throw new Error(`short write to ${segment.path}`)
      await handle.datasync()
      for (const b of batch) {
        const id = this.nextId++
        segment.entries.push({
          id,
          offset: segment.size,
          headerLength: b.header.length,
          payloadLength: b.payload.length,
          records: b.records,
          crc: b.crc,
        })
        segment.size += b.header.length + b.payload.length + 1
        b.resolve(id)
      }
    } catch (e) {
      // What may have reached the file is past the last indexed entry: a new segment is begun,
      // and the next open reports the tail as torn.
      if (this.active) {
        await this.active.handle.close().catch(() => {})
        this.active = undefined
      }
      for (const b of batch) {
        this.records -= b.records
        this.removed += 1
        this.bytes -= b.header.length + b.payload.length + 1
        b.reject(e)
      }
    }
  }

  private async activeSegment(): Promise<{ segment: Segment; handle: FileHandle }> {
    if (this.active && this.active.segment.size < this.segmentBytes) return this.active
    if (this.active) {
      await this.active.handle.close().catch(() => {})
      this.active = undefined
    }
    const seq = this.nextSeq++
    const path = join(this.dir, `${String(seq).padStart(12, '0')}.seg`)
    const handle = await open(path, 'ax')
    try {
      await syncDir(this.dir) // the new file's name must survive a crash too
    } catch (e) {
      await handle.close().catch(() => {})
      throw e
    }
    const segment: Segment = { seq, path, entries: [], size: 0 }
    this.segments.push(segment)
    this.active = { segment, handle }
    return this.active
  }

  private forget(entry: IndexEntry, lost: boolean): void {
    this.records -= entry.records
    this.removed += 1
    this.bytes -= entry.headerLength + entry.payloadLength + 1
    if (lost) this.lost += entry.records
  }

  /**
   * Drops the oldest entry; `lost` if it was skipped rather than delivered. The index is updated
   * first; the cursor and the unlink of a finished segment are best effort: failing them only
   * means an entry delivered twice after a restart, so they are logged, not thrown.
   */
  private async dropHead(lost = false): Promise<void> {
    const segment = this.segments[0]
    const entry = segment?.entries.shift()
    if (!segment || !entry) return
    this.forget(entry, lost)
    const next = segment.entries[0]
    if (next) {
      await this.persistCursor(segment.seq, next.offset)
      return
    }
    await this.persistCursor(segment.seq, segment.size)
    if (this.active?.segment === segment) {
      await this.active.handle.close().catch(() => {})
      this.active = undefined
    }
    this.segments.shift()
    await unlink(segment.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') this.cursorError(e, segment.path)
    })
  }

  private async persistCursor(seq: number, offset: number): Promise<void> {
    try {
      await this.writeCursor(seq, offset)
    } catch (e) {
      this.cursorError(e, join(this.dir, 'cursor'))
    }
  }

  private cursorError(e: unknown, file: string): void {
    const now = Date.now()
    if (now - this.lastCursorError < LOG_EVERY_MS) return
    this.lastCursorError = now
    this.log.warn(
      { err: e, file },
      'spool bookkeeping cannot be written: acknowledged entries may be delivered again after a restart',
    )
  }

  /** The segment's entries from `from` on; undefined if the file is gone. */
  private async scanSegment(seq: number, path: string, from: number): Promise<Segment | undefined> {
    const segment: Segment = { seq, path, entries: [], size: 0 }
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
    try {
      const { size } = await handle.stat()
      segment.size = size
      const head = Buffer.alloc(64)
      let offset = from
      while (offset < size) {
        const { bytesRead } = await handle.read(head, 0, head.length, offset)
        const eol = head.subarray(0, bytesRead).indexOf(0x0a)
        const match = eol > 0 ? HEADER.exec(head.toString('latin1', 0, eol)) : null
        const payloadLength = Number(match?.[2])
        const end = offset + eol + 1 + payloadLength
        const trailer = Buffer.alloc(1)
        if (match && end < size) await handle.read(trailer, 0, 1, end)
        if (!match || end >= size || trailer[0] !== 0x0a) {
          this.log.warn(
            { file: path, offset, bytes: size - offset },
            'spool segment ends with a torn or unreadable entry (a crash while appending?): ignored',
          )
          break
        }
        const records = Number(match[1])
        segment.entries.push({
          id: this.nextId++,
          offset,
          headerLength: eol + 1,
          payloadLength,
          records,
          crc: Number.parseInt(match[3] as string, 16),
        })
        this.records += records
        this.appended += 1
        this.bytes += end + 1 - offset
        offset = end + 1
      }
    } finally {
      await handle.close()
    }
    return segment
  }

  private async readCursor(): Promise<{ seq: number; offset: number } | undefined> {
    try {
      const cursor = JSON.parse(await readFile(join(this.dir, 'cursor'), 'utf8')) as unknown
      if (isCursor(cursor)) return cursor
    } catch {}
    return undefined
  }

  /** Written then renamed, so it is whole; not fsync'd: losing it only delivers a batch twice. */
  private async writeCursor(seq: number, offset: number): Promise<void> {
    const path = join(this.dir, 'cursor')
    await writeFile(`${path}.tmp`, JSON.stringify({ seq, offset }))
    await rename(`${path}.tmp`, path)
  }

  /**
   * One process per spool directory: a second one would interleave its appends and acks. A lock
   * naming a live process other than this one is refused; one naming a process that is gone, or
   * this process (a previous incarnation with the same pid, as PID 1 in a container), is taken
   * over. Within this process, `openHere` refuses a second open.
   */
  private async lock(): Promise<void> {
    const path = join(this.dir, 'lock')
    const key = resolve(this.dir)
    if (openHere.has(key)) {
      throw new Error(`spool ${this.dir} is in use by this process (opened twice)`)
    }
    openHere.add(key)
    this.locked = true
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' })
      return
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        this.locked = false
        openHere.delete(key)
        throw e
      }
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      this.locked = false
      openHere.delete(key)
      throw new Error(
        `spool ${this.dir} is in use by process ${holder} (delete ${path} if that is not a linewatch process)`,
      )
    }
    this.log.info(
      { dir: this.dir, holder: holder || undefined },
      holder === process.pid
        ? 'spool lock names this process id: left by a previous run with the same pid, taken over'
        : 'spool lock left by a process that is gone: taken over',
    )
    await writeFile(path, String(process.pid))
  }
}

function isCursor(value: unknown): value is { seq: number; offset: number } {
  if (typeof value !== 'object' || value === null) return false
  const { seq, offset } = value as Record<string, unknown>
  return Number.isInteger(seq) && Number.isInteger(offset)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ignoreMissing(e: NodeJS.ErrnoException): void {
  if (e.code !== 'ENOENT') throw e
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
