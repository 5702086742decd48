import { DateTime, Effect, Option, Predicate } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { LoggingError } from "../LoggingError.ts"
import * as PrivateFiles from "../PrivateFiles.ts"

export interface Entry {
  readonly time: number
  readonly line: string
}

export interface RotatingLogFile {
  readonly append: (entries: ReadonlyArray<Entry>) => Effect.Effect<void, LoggingError>
  /** Log files found readable by others when the file was set up, now 0600. */
  readonly tightened: ReadonlyArray<PrivateFiles.Tightened>
}

export interface Options {
  readonly directory: string
  readonly fileName: string
  readonly retentionDays: number
  readonly timeZone: DateTime.TimeZone
  readonly now: number
  readonly onError: (error: LoggingError) => Effect.Effect<void>
}

interface Period {
  readonly day: string
  readonly end: number
}

const isoDay = /^\d{4}-\d{2}-\d{2}$/

const io = <A>(path: string, action: string, run: () => Promise<A>): Effect.Effect<A, LoggingError> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new LoggingError({ path, message: `cannot ${action} ${path}: ${String(cause)}`, cause })
  })

const ignoreMissing = <A>(promise: Promise<A>): Promise<A | undefined> =>
  promise.catch((cause: unknown) => {
    if (Predicate.hasProperty(cause, "code") && cause.code === "ENOENT") return undefined
    throw cause
  })

/** The day a rotated file covers, if `name` is exactly `<fileName>.YYYY-MM-DD` with a real calendar date. */
const rotatedDay = (fileName: string, name: string): string | undefined => {
  const prefix = `${fileName}.`
  if (!name.startsWith(prefix)) return undefined
  const day = name.slice(prefix.length)
  if (!isoDay.test(day)) return undefined
  const parsed = DateTime.make(day)
  return Option.isSome(parsed) && DateTime.formatIsoDateUtc(parsed.value) === day ? day : undefined
}

export const make = Effect.fnUntraced(function*(options: Options) {
  const { directory, fileName, retentionDays, timeZone, onError } = options
  const path = Path.join(directory, fileName)

  const periodOf = (time: number): Period => {
    const zoned = DateTime.makeZonedUnsafe(time, { timeZone })
    return {
      day: DateTime.formatIsoDate(zoned),
      end: DateTime.toEpochMillis(DateTime.startOf(DateTime.add(zoned, { days: 1 }), "day"))
    }
  }

  const prune = Effect.fnUntraced(function*(now: number) {
    const cutoff = DateTime.formatIsoDate(
      DateTime.subtract(DateTime.makeZonedUnsafe(now, { timeZone }), { days: retentionDays })
    )
    const entries = yield* io(directory, "list", () => Fs.readdir(directory, { withFileTypes: true }))
    for (const entry of entries) {
      const day = entry.isFile() ? rotatedDay(fileName, entry.name) : undefined
      if (day !== undefined && day < cutoff) {
        const target = Path.join(directory, entry.name)
        yield* io(target, "delete", () => ignoreMissing(Fs.unlink(target)))
      }
    }
  })

  const rotate = Effect.fnUntraced(function*(day: string) {
    const target = Path.join(directory, `${fileName}.${day}`)
    const current = yield* io(path, "stat", () => ignoreMissing(Fs.stat(path)))
    if (current === undefined) return
    const existing = yield* io(target, "stat", () => ignoreMissing(Fs.stat(target)))
    if (existing === undefined) {
      yield* io(path, "rename", () => Fs.rename(path, target))
      return
    }
    // A rotated file for that day already exists (e.g. after a clock step backwards); keep both contents.
    const content = yield* io(path, "read", () => Fs.readFile(path))
    yield* io(target, "append to", () => Fs.appendFile(target, content))
    yield* io(path, "delete", () => Fs.unlink(path))
  })

  // Logs hold secrets now and then (a URL with a password, a device's config): a file this writer creates is
  // 0600 whatever the umask. `created` goes back to false when a rotation moves the live file away.
  let created = false
  const write = (text: string) =>
    io(path, "write", async () => {
      if (!created) {
        PrivateFiles.createFileSync(path)
        created = true
      }
      await Fs.appendFile(path, text, "utf8")
    })

  yield* io(directory, "create", async () => PrivateFiles.makeDirectorySync(directory))
  const tightened = yield* io(directory, "secure", async () => {
    const names = await Fs.readdir(directory)
    const logs = names.filter((name) => name === fileName || rotatedDay(fileName, name) !== undefined)
    return logs.flatMap((name) => PrivateFiles.tightenSync(Path.join(directory, name)) ?? [])
  })
  const existing = yield* io(path, "stat", () => ignoreMissing(Fs.stat(path)))
  // A file left by an earlier run covers the day it was last written, so its mtime decides its rotation.
  let period: Period | undefined = existing !== undefined && existing.size > 0 ? periodOf(existing.mtimeMs) : undefined
  yield* prune(options.now)

  const append = Effect.fnUntraced(function*(entries: ReadonlyArray<Entry>) {
    let chunk = ""
    for (const entry of entries) {
      if (period === undefined) {
        period = periodOf(entry.time)
      } else if (entry.time >= period.end) {
        if (chunk !== "") {
          yield* write(chunk)
          chunk = ""
        }
        const previous = period.day
        period = periodOf(entry.time)
        yield* rotate(previous).pipe(Effect.catch(onError))
        created = false
        yield* prune(entry.time).pipe(Effect.catch(onError))
      }
      chunk += `${entry.line}\n`
    }
    if (chunk !== "") yield* write(chunk)
  })

  return { append, tightened } satisfies RotatingLogFile
})
