import * as Fs from "node:fs"
import * as PrivateFiles from "../../platform/PrivateFiles.ts"

export interface ByteRecord {
  readonly timestamp: number
  readonly bytes: Uint8Array
}

export interface HistoryFileOptions {
  readonly path: string
  readonly maxFileBytes: number
  readonly maxFiles: number
  readonly highWaterBytes: number
  readonly onError: (message: string) => void
  /** Told of records the file no longer holds: written, or failed to write. */
  readonly onWritten?: ((records: ReadonlyArray<ByteRecord>) => void) | undefined
}

const newline = Buffer.from("\n")
/**
 * Each write costs a threadpool round trip (~50 µs of main-thread time here), so small appends wait up to
 * `coalesceMs` to share one `writev`; a backlog of `coalesceBytes` is written at once.
 */
const coalesceMs = 10
const coalesceBytes = 64 * 1024
const headerPattern = /^(\d+) (\d+)$/

const header = (record: ByteRecord): Buffer => Buffer.from(`${record.timestamp} ${record.bytes.length}\n`, "latin1")

const recordSize = (record: ByteRecord): number =>
  `${record.timestamp} ${record.bytes.length}\n`.length + record.bytes.length + 1

/**
 * Record framing: a `<epoch ms> <byte length>\n` header, the bytes exactly as the process wrote them, and `\n`.
 * Storing the raw bytes costs no escaping or re-encoding on the hot path, keeps every byte and newline, and
 * reads like the terminal did. A torn or corrupt record (crash, full disk) is skipped by resynchronising on the
 * next line that parses as a header followed by a correctly placed newline.
 */
const parseRecords = (buffer: Buffer, fromMs: number, toMs: number, out: Array<ByteRecord>): void => {
  let position = 0
  while (position < buffer.length) {
    const eol = buffer.indexOf(0x0a, position)
    if (eol < 0) return
    const match = headerPattern.exec(buffer.toString("latin1", position, eol))
    if (match !== null) {
      const timestamp = Number(match[1])
      const end = eol + 1 + Number(match[2])
      if (end < buffer.length && buffer[end] === 0x0a) {
        if (timestamp >= fromMs && timestamp <= toMs) out.push({ timestamp, bytes: buffer.subarray(eol + 1, end) })
        position = end + 1
        continue
      }
    }
    position = eol + 1
  }
}

const firstTimestamp = async (path: string): Promise<number | undefined> => {
  const handle = await Fs.promises.open(path, "r")
  try {
    const buffer = Buffer.alloc(32)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    const head = buffer.toString("latin1", 0, bytesRead)
    const space = head.indexOf(" ")
    return space > 0 ? Number(head.slice(0, space)) : undefined
  } finally {
    await handle.close()
  }
}

const errorText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Append-only, size-rotated history file with an asynchronous batching writer. Appends never block: records
 * queue in memory while one write is in flight, and the next write takes everything queued in one `writev`, so
 * a flood costs one syscall per batch. `append` reports when the backlog passes the high-water mark so the
 * producer can pause its source instead of letting memory grow (PM2's unbounded log buffering is the
 * anti-pattern). Reads hold the writer still, so a query never sees a half-rotated set of files.
 */
export class HistoryFile {
  private readonly options: HistoryFileOptions
  private fd: number | undefined
  private size = 0
  private pending: Array<ByteRecord> = []
  private pendingBytes = 0
  private writing = false
  private readers = 0
  private tornTail = false
  private closed = false
  private lastError: string | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private drainWaiters: Array<() => void> = []
  private idleWaiters: Array<() => void> = []

  constructor(options: HistoryFileOptions) {
    this.options = options
    this.fd = PrivateFiles.openSync(options.path, "a+")
    this.size = Fs.fstatSync(this.fd).size
    // A previous run that died mid-write left a partial record; start the next one on a fresh line.
    if (this.size > 0) {
      const last = Buffer.alloc(1)
      Fs.readSync(this.fd, last, 0, 1, this.size - 1)
      this.tornTail = last[0] !== 0x0a
    }
  }

  append(record: ByteRecord): boolean {
    if (this.closed) return true
    this.pending.push(record)
    this.pendingBytes += record.bytes.length
    this.schedule()
    return this.pendingBytes < this.options.highWaterBytes
  }

  /** Calls `callback` once the backlog is back under the high-water mark. */
  onDrain(callback: () => void): void {
    if (this.pendingBytes < this.options.highWaterBytes) callback()
    else this.drainWaiters.push(callback)
  }

  /** Resolves when everything appended so far is on disk (or was dropped by a write error). */
  flush(): Promise<void> {
    return new Promise((resolve) => this.whenIdle(resolve))
  }

  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    this.closeFd()
  }

  /** Records with `fromMs <= timestamp <= toMs`, oldest first, from the rotated files, the live file and the backlog. */
  async read(fromMs: number, toMs: number): Promise<Array<ByteRecord>> {
    this.readers++
    try {
      await new Promise<void>((resolve) => this.whenWriterStill(resolve))
      const out: Array<ByteRecord> = []
      const files = this.filesOldestFirst()
      const starts = await Promise.all(files.map(firstTimestamp))
      for (let i = 0; i < files.length; i++) {
        const start = starts[i]
        const nextStart = starts.slice(i + 1).find((time) => time !== undefined)
        if (start !== undefined && start > toMs) break
        if (nextStart !== undefined && nextStart < fromMs) continue
        parseRecords(await Fs.promises.readFile(files[i] ?? ""), fromMs, toMs, out)
      }
      for (const record of this.pending) {
        if (record.timestamp >= fromMs && record.timestamp <= toMs) out.push(record)
      }
      return out
    } finally {
      this.readers--
      this.schedule()
    }
  }

  private filesOldestFirst(): Array<string> {
    const files: Array<string> = []
    for (let i = this.options.maxFiles; i >= 1; i--) {
      if (Fs.existsSync(`${this.options.path}.${i}`)) files.push(`${this.options.path}.${i}`)
    }
    files.push(this.options.path)
    return files
  }

  private whenWriterStill(callback: () => void): void {
    if (this.writing) this.idleWaiters.push(callback)
    else callback()
  }

  private whenIdle(callback: () => void): void {
    if (this.writing || this.pending.length > 0) {
      this.idleWaiters.push(() => this.whenIdle(callback))
      this.pump()
    } else {
      callback()
    }
  }

  private schedule(): void {
    if (this.writing || this.readers > 0 || this.closed || this.pending.length === 0) return
    if (this.pendingBytes >= coalesceBytes) {
      this.pump()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.pump(), coalesceMs)
      this.timer.unref()
    }
  }

  /** Writes the backlog now (up to the rotation point). */
  private pump(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.writing || this.readers > 0 || this.closed || this.pending.length === 0) return
    const first = this.pending[0]
    if (this.fd !== undefined && this.size > 0 && first !== undefined &&
      this.size + recordSize(first) > this.options.maxFileBytes) {
      return this.rotate()
    }
    const fd = this.fd ?? this.reopen()
    if (fd === undefined) {
      // The disk refuses the file: drop the backlog rather than grow memory; the ring still holds recent output.
      this.pending = []
      this.pendingBytes = 0
      this.settle()
      return
    }
    // After a failed write the file may end mid-record; a newline lets the reader resynchronise after it.
    const buffers: Array<Uint8Array> = this.tornTail ? [newline] : []
    this.tornTail = false
    let count = 0
    let fileBytes = 0
    let dataBytes = 0
    for (const record of this.pending) {
      const head = header(record)
      const size = head.length + record.bytes.length + 1
      if (count > 0 && this.size + fileBytes + size > this.options.maxFileBytes) break
      buffers.push(head, record.bytes, newline)
      fileBytes += size
      dataBytes += record.bytes.length
      count++
    }
    const records = this.pending.splice(0, count)
    this.writing = true
    Fs.writev(fd, buffers, (error, written) => {
      this.writing = false
      this.pendingBytes -= dataBytes
      this.options.onWritten?.(records)
      if (error !== null) {
        this.tornTail = true
        this.report(`cannot write ${this.options.path}: ${error.message}`)
      } else {
        this.size += written
        this.lastError = undefined
      }
      this.settle()
    })
  }

  /** A broken disk fails every write the same way; report each distinct failure once until a write succeeds. */
  private report(message: string): void {
    if (message === this.lastError) return
    this.lastError = message
    this.options.onError(message)
  }

  private settle(): void {
    if (this.pendingBytes < this.options.highWaterBytes && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const waiter of waiters) waiter()
    }
    const idle = this.idleWaiters
    this.idleWaiters = []
    this.schedule()
    for (const waiter of idle) waiter()
  }

  /**
   * Closes the file and shifts `path` → `path.1` → … → `path.<maxFiles>` (the oldest dropped) in the thread pool,
   * as a write would be: on ext4, renaming over and unlinking a full file waits for the journal, milliseconds the
   * event loop (and every terminal it serves) would otherwise stand still for. Output keeps arriving meanwhile
   * and waits in the backlog, under the same high-water mark as a slow disk.
   */
  private rotate(): void {
    const { maxFiles, path } = this.options
    const fd = this.fd
    this.fd = undefined
    this.size = 0
    this.writing = true
    const shift = async () => {
      if (fd !== undefined) await new Promise<void>((resolve) => Fs.close(fd, () => resolve()))
      for (let i = maxFiles - 1; i >= 1; i--) {
        await Fs.promises.rename(`${path}.${i}`, `${path}.${i + 1}`).catch((cause: NodeJS.ErrnoException) => {
          if (cause.code !== "ENOENT") throw cause
        })
      }
      await Fs.promises.rename(path, `${path}.1`)
    }
    // A file that cannot be opened here is left to the next write, which reopens it and reports why not.
    const reopen = async () => {
      const opened = await PrivateFiles.open(path, "a")
      this.fd = opened
      this.size = (await Fs.promises.stat(path)).size
    }
    shift()
      .catch((cause: unknown) => this.report(`cannot rotate ${path}: ${errorText(cause)}`))
      .then(reopen)
      .catch(() => {})
      .finally(() => {
        this.writing = false
        this.settle()
      })
  }

  private reopen(): number | undefined {
    try {
      this.fd = PrivateFiles.openSync(this.options.path, "a")
      this.size = Fs.fstatSync(this.fd).size
      return this.fd
    } catch (cause) {
      this.report(`cannot open ${this.options.path}: ${errorText(cause)}`)
      return undefined
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return
    try {
      Fs.closeSync(this.fd)
    } catch {
      // already unusable; the next write reopens the path
    }
    this.fd = undefined
  }
}
