import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Logging from "../src/platform/Logging.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-logging-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const at = (year: number, month: number, day: number, hour = 12, minute = 0, second = 0) =>
  new Date(year, month - 1, day, hour, minute, second).getTime()

const linesOf = (file: string): ReadonlyArray<string> =>
  Fs.existsSync(file) ? Fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "") : []

const messagesOf = (file: string): ReadonlyArray<unknown> =>
  linesOf(file).map((line) => {
    const parsed: { readonly message: unknown } = JSON.parse(line)
    return parsed.message
  })

const withLogging = (options: Logging.Options) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provide(self, Logging.layer(options))

describe("Logging", () => {
  it.effect("writes JSON lines to the file", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* TestClock.setTime(at(2025, 3, 10))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("hello")
        yield* Effect.logWarning("careful").pipe(Effect.annotateLogs("instance", "abc"))
      }).pipe(withLogging({ directory, level: "Info", console: false }))

      const lines = linesOf(Path.join(directory, "maikit.log")).map((line) => JSON.parse(line))
      assert.strictEqual(lines.length, 2)
      assert.strictEqual(lines[0].message, "hello")
      assert.strictEqual(lines[0].level, "INFO")
      assert.strictEqual(lines[0].timestamp, new Date(at(2025, 3, 10)).toISOString())
      assert.strictEqual(lines[1].level, "WARN")
      assert.deepStrictEqual(lines[1].annotations, { instance: "abc" })
    }))

  it.effect("writes logfmt lines when asked", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* Effect.logInfo("hello").pipe(withLogging({ directory, level: "Info", console: false, format: "logfmt" }))
      const lines = linesOf(Path.join(directory, "maikit.log"))
      assert.strictEqual(lines.length, 1)
      assert.match(lines[0] ?? "", /level=INFO .*message=hello/)
    }))

  it.effect("drops lines below the minimum level", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* Effect.gen(function*() {
        yield* Effect.logDebug("debug")
        yield* Effect.logInfo("info")
        yield* Effect.logWarning("warn")
        yield* Effect.logError("error")
      }).pipe(withLogging({ directory, level: "Warn", console: false }))
      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log")), ["warn", "error"])
    }))

  it.effect("also writes human-readable lines to the console", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* Effect.logInfo("to both").pipe(withLogging({ directory, level: "Info" }))
      const consoleLines = yield* TestConsole.logLines
      assert.isTrue(consoleLines.some((line) => String(line).includes("INFO") && String(line).includes("to both")))
      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log")), ["to both"])
    }))

  it.effect("rotates at the first write after local midnight", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* TestClock.setTime(at(2025, 3, 10, 23, 59, 58))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("day one, early")
        yield* TestClock.adjust("1 second")
        yield* Effect.logInfo("day one, last")
        yield* TestClock.setTime(at(2025, 3, 11, 0, 0, 1))
        yield* Effect.logInfo("day two")
      }).pipe(withLogging({ directory, level: "Info", console: false }))

      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log.2025-03-10")), [
        "day one, early",
        "day one, last"
      ])
      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log")), ["day two"])
    }))

  it.effect("rotates inside one batch and after a flush alike", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* TestClock.setTime(at(2025, 3, 10, 23, 0))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("10th")
        yield* TestClock.setTime(at(2025, 3, 11, 9, 0))
        yield* Effect.logInfo("11th")
        yield* TestClock.adjust("2 seconds")
        yield* TestClock.setTime(at(2025, 3, 12, 9, 0))
        yield* Effect.logInfo("12th")
      }).pipe(withLogging({ directory, level: "Info", console: false, flushInterval: "1 hour" }))

      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log.2025-03-10")), ["10th"])
      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log.2025-03-11")), ["11th"])
      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log")), ["12th"])
    }))

  it.effect("rotates a file left by an earlier run under the day it was last written", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const file = Path.join(directory, "maikit.log")
      Fs.writeFileSync(file, "{\"message\":\"yesterday\"}\n")
      Fs.utimesSync(file, new Date(at(2025, 3, 9, 22)), new Date(at(2025, 3, 9, 22)))
      yield* TestClock.setTime(at(2025, 3, 10, 8))
      yield* Effect.logInfo("today").pipe(withLogging({ directory, level: "Info", console: false }))

      assert.deepStrictEqual(messagesOf(Path.join(directory, "maikit.log.2025-03-09")), ["yesterday"])
      assert.deepStrictEqual(messagesOf(file), ["today"])
    }))

  it.effect("deletes only expired MaiKit-pattern files", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const names = [
        "maikit.log.2025-03-01",
        "maikit.log.2025-03-12",
        "maikit.log.2025-03-13",
        "maikit.log.2025-03-19",
        "maikit.log.2025-02-30",
        "maikit.log.2025-03-01.bak",
        "maikit.log.2025-3-1",
        "xmaikit.log.2025-03-01",
        "monitor.log.2025-03-01",
        "notes.txt"
      ]
      for (const name of names) Fs.writeFileSync(Path.join(directory, name), "x\n")
      Fs.mkdirSync(Path.join(directory, "maikit.log.2025-01-01"))
      yield* TestClock.setTime(at(2025, 3, 20))

      yield* Effect.logInfo("started").pipe(withLogging({ directory, level: "Info", console: false, retentionDays: 7 }))

      assert.deepStrictEqual(Fs.readdirSync(directory).toSorted(), [
        "maikit.log",
        "maikit.log.2025-01-01",
        "maikit.log.2025-02-30",
        "maikit.log.2025-03-01.bak",
        "maikit.log.2025-03-13",
        "maikit.log.2025-03-19",
        "maikit.log.2025-3-1",
        "monitor.log.2025-03-01",
        "notes.txt",
        "xmaikit.log.2025-03-01"
      ])
    }))

  it.effect("applies retention again when it rotates", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      Fs.writeFileSync(Path.join(directory, "maikit.log.2025-03-17"), "x\n")
      Fs.writeFileSync(Path.join(directory, "maikit.log.2025-03-18"), "x\n")
      Fs.writeFileSync(Path.join(directory, "other.log"), "x\n")
      yield* TestClock.setTime(at(2025, 3, 20, 23, 30))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("20th")
        yield* TestClock.setTime(at(2025, 3, 21, 0, 30))
        yield* Effect.logInfo("21st")
      }).pipe(withLogging({ directory, level: "Info", console: false, retentionDays: 2 }))

      assert.deepStrictEqual(Fs.readdirSync(directory).toSorted(), [
        "maikit.log",
        "maikit.log.2025-03-20",
        "other.log"
      ])
    }))

  it.effect("supports the status relay's monitor.log naming", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      Fs.writeFileSync(Path.join(directory, "maikit.log.2020-01-01"), "x\n")
      Fs.writeFileSync(Path.join(directory, "monitor.log.2020-01-01"), "x\n")
      yield* TestClock.setTime(at(2025, 3, 10, 23, 59))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("before")
        yield* TestClock.setTime(at(2025, 3, 11, 0, 1))
        yield* Effect.logInfo("after")
      }).pipe(withLogging({ directory, fileName: "monitor.log", level: "Info", console: false }))

      assert.deepStrictEqual(Fs.readdirSync(directory).toSorted(), [
        "maikit.log.2020-01-01",
        "monitor.log",
        "monitor.log.2025-03-10"
      ])
      assert.deepStrictEqual(messagesOf(Path.join(directory, "monitor.log.2025-03-10")), ["before"])
      assert.deepStrictEqual(messagesOf(Path.join(directory, "monitor.log")), ["after"])
    }))

  it.effect("loses nothing when the scope closes", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const count = 10_000
      yield* Effect.gen(function*() {
        for (let i = 0; i < count; i++) yield* Effect.logInfo(`line ${i}`)
      }).pipe(withLogging({ directory, level: "Info", console: false, flushInterval: "1 hour" }))

      const messages = messagesOf(Path.join(directory, "maikit.log"))
      assert.strictEqual(messages.length, count)
      assert.strictEqual(messages[0], "line 0")
      assert.strictEqual(messages[count - 1], `line ${count - 1}`)
    }))

  it.effect("flushes in the background while the scope is open", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const file = Path.join(directory, "maikit.log")
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("early")
        assert.deepStrictEqual(messagesOf(file), [])
        yield* TestClock.adjust("1 second")
        for (let attempt = 0; attempt < 100 && messagesOf(file).length === 0; attempt++) {
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        }
        assert.deepStrictEqual(messagesOf(file), ["early"])
      }).pipe(withLogging({ directory, level: "Info", console: false }))
    }))

  it.effect("rejects unsafe options", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      for (const options of [{ fileName: "../escape.log" }, { fileName: "" }, { retentionDays: -1 }, { retentionDays: 1.5 }]) {
        const error = yield* Layer.build(Logging.layer({ directory, level: "Info", console: false, ...options })).pipe(
          Effect.flip
        )
        assert.strictEqual(error._tag, "LoggingError")
      }
      assert.deepStrictEqual(Fs.readdirSync(directory), [])
    }))
})
