/**
 * A component's terminal output, kept twice: a ring in memory bounded by bytes (replayed to a client that
 * attaches) and a size-rotated file on disk (`history.log`, then `history.log.1` … `.N`, oldest last) that
 * answers time-range queries like the original protocol's `request_history`. Every chunk is recorded whether
 * or not anyone is watching. Unlike the original, whole chunks are kept: no line is dropped and newlines stay.
 *
 * A file record is a `<epoch ms> <byte length>\n` header, the raw bytes and `\n`, so the hot path neither
 * escapes nor re-encodes anything and the file reads like the terminal did.
 *
 * A terminal shows whatever the bot prints, secrets included: the files are created 0600 in folders created 0700,
 * and files of an earlier run found readable by others are tightened when the history opens, with a log line.
 */
import { Effect, Schema, Scope } from "effect"
import * as Path from "node:path"
import * as PrivateFiles from "../platform/PrivateFiles.ts"
import { type ByteRecord, HistoryFile } from "./internal/historyFile.ts"
import { RecordRing } from "./internal/recordRing.ts"
import { HistoryError } from "./SupervisorError.ts"

export { HistoryError } from "./SupervisorError.ts"

/** One chunk of output as the process wrote it, decoded as UTF-8, stamped in epoch milliseconds. */
export const OutputRecord = Schema.Struct({
  timestamp: Schema.Number,
  data: Schema.String
})
export type OutputRecord = typeof OutputRecord.Type

/** Inclusive on both ends, in epoch milliseconds. */
export const TimeRange = Schema.Struct({
  fromMs: Schema.Number,
  toMs: Schema.Number
})
export type TimeRange = typeof TimeRange.Type

export interface Options {
  /** Directory of the history files; created if missing. */
  readonly directory: string
  readonly fileName?: string | undefined
  /** Rotate when the live file would grow past this. Default 10 MiB. */
  readonly maxFileBytes?: number | undefined
  /** Rotated files kept (`.1` … `.N`). Default 5, so at most about 60 MiB per component on disk. */
  readonly maxFiles?: number | undefined
  /** In-memory ring size. Default 1 MiB. */
  readonly ringBytes?: number | undefined
  /** Backlog of unwritten bytes above which `appendUnsafe` asks the producer to pause. Default 8 MiB. */
  readonly highWaterBytes?: number | undefined
  /** Write failures (disk full, permissions) land here; output keeps flowing and the ring keeps recording. */
  readonly onWriteError?: ((error: HistoryError) => void) | undefined
}

export const defaults = {
  fileName: "history.log",
  maxFileBytes: 10 * 1024 * 1024,
  maxFiles: 5,
  ringBytes: 1024 * 1024,
  highWaterBytes: 8 * 1024 * 1024
} as const

export interface OutputHistory {
  /** Absolute path of the live file. */
  readonly path: string
  /**
   * Hot path, synchronous: records one chunk, as raw bytes that end on a UTF-8 character boundary, in the ring
   * and queues it for the file; nothing is decoded or copied until someone reads. Returns `false` when the file
   * backlog is past the high-water mark: the caller should pause its source and resume from `onDrainUnsafe`.
   * `release`, if given, is called once the history holds `bytes` no more (written to the file and out of the
   * ring), for a caller that holds no other reference to them and wants their memory back at once rather than at
   * the garbage collector's next pass (the PTY thread's batches). A record the history drops is not released.
   */
  readonly appendUnsafe: (timestamp: number, bytes: Uint8Array, release?: () => void) => boolean
  readonly onDrainUnsafe: (callback: () => void) => void
  /** The ring's content, oldest first, captured synchronously (so it can be paired with a subscription). */
  readonly recentUnsafe: () => ReadonlyArray<OutputRecord>
  readonly recent: Effect.Effect<ReadonlyArray<OutputRecord>>
  /** Records in `[fromMs, toMs]` from every retained file and the unwritten backlog, oldest first. */
  readonly query: (range: TimeRange) => Effect.Effect<ReadonlyArray<OutputRecord>, HistoryError>
  /** Waits until everything recorded so far has been written. */
  readonly flush: Effect.Effect<void>
}

/** A record whose bytes go back to `release` once both the ring and the file have let go of them. */
interface HeldRecord extends ByteRecord {
  readonly release: (() => void) | undefined
  holders: number
}

const letGo = (record: ByteRecord): void => {
  const held = record as HeldRecord
  if (held.release !== undefined && --held.holders === 0) held.release()
}

/** Opens (appending to) the history in `options.directory`; the scope's end flushes and closes the file. */
export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<OutputHistory, HistoryError, Scope.Scope> {
  const path = Path.resolve(options.directory, options.fileName ?? defaults.fileName)
  const onWriteError = options.onWriteError
  const maxFiles = Math.max(1, options.maxFiles ?? defaults.maxFiles)
  yield* Effect.try({
    try: () => PrivateFiles.makeDirectorySync(Path.dirname(path)),
    catch: (cause) => new HistoryError({ path, message: `cannot create the history folder: ${String(cause)}` })
  })
  yield* PrivateFiles.tighten([path, ...Array.from({ length: maxFiles }, (_, i) => `${path}.${i + 1}`)])
  const file = yield* Effect.acquireRelease(
    Effect.try({
      try: () =>
        new HistoryFile({
          path,
          maxFileBytes: Math.max(1, options.maxFileBytes ?? defaults.maxFileBytes),
          maxFiles,
          highWaterBytes: Math.max(1, options.highWaterBytes ?? defaults.highWaterBytes),
          onError: (message) => onWriteError?.(new HistoryError({ path, message })),
          onWritten: (records) => {
            for (const record of records) letGo(record)
          }
        }),
      catch: (cause) => new HistoryError({ path, message: `cannot open history: ${String(cause)}` })
    }),
    (opened) => Effect.promise(() => opened.close())
  )
  const ring = new RecordRing<ByteRecord>(Math.max(1, options.ringBytes ?? defaults.ringBytes), letGo)
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
  const decode = (records: ReadonlyArray<ByteRecord>): ReadonlyArray<OutputRecord> =>
    records.map((record) => ({ timestamp: record.timestamp, data: decoder.decode(record.bytes) }))
  let last = 0

  const appendUnsafe = (timestamp: number, bytes: Uint8Array, release?: () => void): boolean => {
    // Queries assume time never runs backwards within the files; a wall-clock step back must not break that.
    last = timestamp > last ? timestamp : last
    const record: HeldRecord = { timestamp: last, bytes, release, holders: 2 }
    ring.push(record, bytes.length)
    return file.append(record)
  }
  const recentUnsafe = (): ReadonlyArray<OutputRecord> => decode(ring.toArray())

  return {
    path,
    appendUnsafe,
    onDrainUnsafe: (callback) => file.onDrain(callback),
    recentUnsafe,
    recent: Effect.sync(recentUnsafe),
    query: (range) =>
      Effect.tryPromise({
        try: () => file.read(range.fromMs, range.toMs).then(decode),
        catch: (cause) => new HistoryError({ path, message: `cannot read history: ${String(cause)}` })
      }),
    flush: Effect.promise(() => file.flush())
  }
})
