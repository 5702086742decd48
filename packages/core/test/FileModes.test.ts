/**
 * Issue #11, defect 5: the data folder, the database (with its WAL and shared memory), the log files and the
 * terminal histories hold secrets, so nobody but their owner may read them — whatever the umask, and also when
 * an older MaiKit left them readable.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as OutputHistory from "../src/launcher/OutputHistory.ts"
import * as Database from "../src/platform/Database.ts"
import * as Logging from "../src/platform/Logging.ts"
import { MaikitConfig } from "../src/platform/MaikitConfig.ts"
import { tempDir } from "./fixtures/support.ts"

const modeOf = (path: string): number => Fs.statSync(path).mode & 0o777

/** Runs `effect` under a umask that takes nothing away, so only explicit modes protect the files. */
const withOpenUmask = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(() => process.umask(0)), () => effect, (previous) =>
    Effect.sync(() => process.umask(previous)))

/** Every message logged while `effect` runs. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make((entry) => lines.push(String(entry.message)))
    const value = yield* Effect.provide(effect, Logger.layer([logger]))
    return { value, lines }
  })

const write = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS secrets (value TEXT)`
  yield* sql`INSERT INTO secrets VALUES ('wifi_pass')`
})

describe("file modes", () => {
  it.effect("a new data folder is 0700 and the database, its WAL and shared memory 0600, whatever the umask", () =>
    withOpenUmask(Effect.gen(function*() {
      const dataDir = Path.join(tempDir("modes"), "data")
      const filename = Path.join(dataDir, Database.fileName)
      yield* write.pipe(
        Effect.andThen(Effect.sync(() => [filename, `${filename}-wal`, `${filename}-shm`].map(modeOf))),
        Effect.tap((modes) => Effect.sync(() => assert.deepStrictEqual(modes, [0o600, 0o600, 0o600]))),
        Effect.provide(Database.layer),
        Effect.provide(MaikitConfig.layerFrom({ dataDir }))
      )
      assert.strictEqual(modeOf(dataDir), 0o700)
    })))

  it.effect("a database and data folder left readable by an older MaiKit are tightened at start, with a log line", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("modes")
      const filename = Path.join(dataDir, Database.fileName)
      yield* write.pipe(Effect.provide(Database.layerFile(filename)))
      Fs.writeFileSync(`${filename}-journal`, "")
      for (const path of [filename, `${filename}-journal`]) Fs.chmodSync(path, 0o644)
      Fs.chmodSync(dataDir, 0o755)

      const { value: walMode, lines } = yield* captureLogs(
        write.pipe(
          Effect.andThen(Effect.sync(() => modeOf(`${filename}-wal`))),
          Effect.provide(Database.layer),
          Effect.provide(MaikitConfig.layerFrom({ dataDir }))
        )
      )
      assert.strictEqual(modeOf(dataDir), 0o700)
      assert.strictEqual(modeOf(filename), 0o600)
      assert.strictEqual(modeOf(`${filename}-journal`), 0o600)
      assert.strictEqual(walMode, 0o600, "SQLite gives the WAL the database's mode")
      const logged = lines.join("\n")
      assert.include(logged, `${filename} 0644 → 0600`)
      assert.include(logged, `${dataDir} 0755 → 0700`)
    }))

  it.effect("a shared folder with the sticky bit is never tightened", () =>
    Effect.gen(function*() {
      const shared = tempDir("modes")
      Fs.chmodSync(shared, 0o1777)
      const { lines } = yield* captureLogs(
        Effect.provide(Effect.void, Database.layer.pipe(Layer.provide(MaikitConfig.layerFrom({ dataDir: shared }))))
      )
      assert.strictEqual(Fs.statSync(shared).mode & 0o7777, 0o1777)
      assert.include(lines.join("\n"), "sticky bit")
      assert.strictEqual(modeOf(Path.join(shared, Database.fileName)), 0o600)
    }))

  it.effect("log files are created 0600, rotated ones stay so, and old readable ones are tightened", () =>
    withOpenUmask(Effect.gen(function*() {
      const directory = Path.join(tempDir("modes"), "logs")
      yield* Effect.logInfo("first").pipe(Effect.provide(Logging.layer({ directory, level: "Info", console: false })))
      const live = Path.join(directory, Logging.defaultFileName)
      assert.strictEqual(modeOf(directory), 0o700)
      assert.strictEqual(modeOf(live), 0o600)

      const rotated = `${live}.2025-03-09`
      Fs.writeFileSync(rotated, "{}\n", { mode: 0o644 })
      Fs.chmodSync(live, 0o644)
      const unrelated = Path.join(directory, "notes.txt")
      Fs.writeFileSync(unrelated, "mine", { mode: 0o644 })
      const { lines } = yield* captureLogs(
        Effect.logInfo("second").pipe(Effect.provide(Logging.layer({ directory, level: "Info", console: false })))
      )
      assert.deepStrictEqual([live, rotated].map(modeOf), [0o600, 0o600])
      assert.strictEqual(modeOf(unrelated), 0o644, "only MaiKit's own log files are changed")
      assert.include(lines.join("\n"), `${live} 0644 → 0600`)
    })))

  it.effect("terminal histories are 0600 in 0700 folders; an old readable one is tightened when it opens", () =>
    withOpenUmask(Effect.gen(function*() {
      const directory = Path.join(tempDir("modes"), "instances", "abc", "main")
      const record = Effect.scoped(Effect.gen(function*() {
        const history = yield* OutputHistory.make({ directory, maxFileBytes: 64, maxFiles: 2 })
        for (let i = 0; i < 4; i++) history.appendUnsafe(Date.now(), Buffer.from(`token=secret-${i}-${"x".repeat(40)}\n`))
        yield* history.flush
        return history.path
      }))
      const path = yield* record
      assert.deepStrictEqual([path, `${path}.1`, `${path}.2`].map(modeOf), [0o600, 0o600, 0o600])
      assert.deepStrictEqual([directory, Path.dirname(directory)].map(modeOf), [0o700, 0o700])

      Fs.chmodSync(`${path}.1`, 0o644)
      const { lines } = yield* captureLogs(record)
      assert.strictEqual(modeOf(`${path}.1`), 0o600)
      assert.include(lines.join("\n"), "0644 → 0600")
    })))
})
