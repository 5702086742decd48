/**
 * Logging for MaiKit processes: Effect's logger writes human-readable lines to the console and JSON or logfmt
 * lines to `<directory>/<fileName>`. Lines are buffered and appended in batches; the first write after local
 * midnight renames the file to `<fileName>.YYYY-MM-DD` (the day it covers) and starts a fresh one, and rotated
 * files older than `retentionDays` are deleted. Only names of exactly that shape are ever deleted. Log files are
 * created 0600 (and a folder the logger creates 0700); ones found readable by others are tightened, with a line
 * saying so. An existing folder keeps its mode: it may be a shared one such as `/tmp`.
 */
import { Clock, Console, DateTime, Duration, Effect, Layer, Logger, References, Schema } from "effect"
import type { LogLevel, Scope } from "effect"
import * as RotatingLogFile from "./internal/rotatingLogFile.ts"
import { LoggingError } from "./LoggingError.ts"
import * as PrivateFiles from "./PrivateFiles.ts"

export { LoggingError } from "./LoggingError.ts"

export interface Options {
  readonly directory: string
  /** Base name of the live file; rotated files get `.YYYY-MM-DD` appended. Default `maikit.log`. */
  readonly fileName?: string | undefined
  readonly level: LogLevel.LogLevel
  /** Rotated files dated more than this many days before today are deleted. Default 7. */
  readonly retentionDays?: number | undefined
  /** Also log to the console. Default `true`. */
  readonly console?: boolean | undefined
  /** Line format of the file. Default `json`. */
  readonly format?: "json" | "logfmt" | undefined
  /** How long lines may wait in memory before they are appended. Default 1 second. */
  readonly flushInterval?: Duration.Input | undefined
  /** The zone whose midnight starts a new file. Default: the system's local zone. */
  readonly timeZone?: DateTime.TimeZone | undefined
}

export const defaultFileName = "maikit.log"
export const defaultRetentionDays = 7
export const defaultFlushInterval: Duration.Input = "1 second"

const FileSettings = Schema.Struct({
  // A bare name, so rotation and retention can never reach outside `directory`.
  fileName: Schema.String.check(Schema.isPattern(/^(?!\.\.?$)[^/\\\0]+$/)),
  retentionDays: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
})

const report = (error: LoggingError) => Console.error(`maikit logging: ${error.message}`)

/**
 * A logger that appends to the rotating file. The scope owns the background flusher; closing it writes every
 * buffered line before it returns.
 */
export const fileLogger: (options: Options) => Effect.Effect<Logger.Logger<unknown, void>, LoggingError, Scope.Scope> =
  Effect.fnUntraced(function*(options: Options) {
    const { directory } = options
    const settings = yield* Schema.decodeUnknownEffect(FileSettings)({
      fileName: options.fileName ?? defaultFileName,
      retentionDays: options.retentionDays ?? defaultRetentionDays
    }).pipe(
      Effect.mapError((cause) =>
        new LoggingError({ path: directory, message: `invalid logging options: ${cause.message}`, cause })
      )
    )
    const file = yield* RotatingLogFile.make({
      directory,
      fileName: settings.fileName,
      retentionDays: settings.retentionDays,
      timeZone: options.timeZone ?? DateTime.zoneMakeLocal(),
      now: yield* Clock.currentTimeMillis,
      onError: report
    })
    if (file.tightened.length > 0) {
      yield* Effect.logWarning(
        `tightened permissions of log files: ${file.tightened.map(PrivateFiles.describe).join(", ")}`
      )
    }
    const format = options.format === "logfmt" ? Logger.formatLogFmt : Logger.formatJson
    const entries = Logger.make((entry): RotatingLogFile.Entry => ({
      time: entry.date.getTime(),
      line: format.log(entry)
    }))
    return yield* Logger.batched(entries, {
      window: options.flushInterval ?? defaultFlushInterval,
      flush: (batch) =>
        file.append(batch).pipe(
          Effect.catch((error) => Console.error(`maikit logging: ${error.message} (up to ${batch.length} lines lost)`))
        )
    })
  })

/**
 * Replaces the current loggers with the console (unless `console: false`) and the rotating file, and sets the
 * minimum log level. Building the layer fails if the options are invalid or the directory is unusable.
 */
export const layer = (options: Options): Layer.Layer<never, LoggingError> => {
  const file = fileLogger(options)
  return Layer.merge(
    options.console === false ? Logger.layer([file]) : Logger.layer([Logger.consolePretty(), file]),
    Layer.succeed(References.MinimumLogLevel, options.level)
  )
}
