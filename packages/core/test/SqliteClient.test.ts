import { assert, describe, expect, it, layer } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Array as Arr, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, SqlError } from "effect/sql/SqlError"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as StatementCache from "../src/platform/internal/statementCache.ts"
import * as SqliteClient from "../src/platform/SqliteClient.ts"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-sqlite-client-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const fileIn = (name: string) => Path.join(dir, name)

const failingWith = <A>(exit: Exit.Exit<A, unknown>): unknown => {
  assert(Exit.isFailure(exit), "expected a failure")
  const reason = exit.cause.reasons[0]
  assert(reason !== undefined && reason._tag === "Fail", "expected a typed failure")
  return reason.error
}

layer(SqliteClient.layer({ filename: fileIn("client.db") }))("SqliteClient", (shared) => {
  shared.effect("creates, reads, updates and deletes rows through SqlClient", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active INTEGER NOT NULL, born TEXT)`
      yield* sql`INSERT INTO people ${
        sql.insert([
          { id: 1, name: "Ada", active: true, born: new Date("1815-12-10T00:00:00.000Z") },
          { id: 2, name: "Grace", active: false, born: null },
          { id: 3, name: "Linus", active: true, born: null }
        ])
      }`
      const inserted = yield* sql<{ id: number; name: string; active: number; born: string | null }>`
        SELECT id, name, active, born FROM people WHERE id IN ${sql.in([1, 2])} ORDER BY id`
      expect(inserted).toEqual([
        { id: 1, name: "Ada", active: 1, born: "1815-12-10T00:00:00.000Z" },
        { id: 2, name: "Grace", active: 0, born: null }
      ])

      yield* sql`UPDATE people SET ${sql.update({ id: 2, name: "Grace Hopper", active: true }, ["id"])} WHERE id = ${2}`
      const updated = yield* sql<{ name: string; active: number }>`SELECT name, active FROM people WHERE id = ${2}`
      expect(updated).toEqual([{ name: "Grace Hopper", active: 1 }])

      yield* sql`DELETE FROM people WHERE ${sql.in("id", [1, 3])}`
      const remaining = yield* sql<{ id: number }>`SELECT id FROM people`
      expect(remaining).toEqual([{ id: 2 }])
    }))

  shared.effect("returns values, raw run results and unprepared rows", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE shapes (id INTEGER PRIMARY KEY, label TEXT)`
      const run = yield* sql`INSERT INTO shapes ${sql.insert({ label: "circle" })}`.raw
      expect(run).toEqual({ changes: 1, lastInsertRowid: 1 })
      const returning = yield* sql<{ id: number }>`INSERT INTO shapes ${sql.insert({ label: "square" })} RETURNING id`
      expect(returning).toEqual([{ id: 2 }])
      const values = yield* sql`SELECT id, label FROM shapes ORDER BY id`.values
      expect(values).toEqual([[1, "circle"], [2, "square"]])
      const rowsAfterValues = yield* sql`SELECT id, label FROM shapes ORDER BY id`
      expect(rowsAfterValues).toEqual([{ id: 1, label: "circle" }, { id: 2, label: "square" }])
      const unprepared = yield* sql`SELECT label FROM shapes WHERE id = ${2}`.unprepared
      expect(unprepared).toEqual([{ label: "square" }])
      const valuesUnprepared = yield* sql`SELECT count(*) FROM shapes`.valuesUnprepared
      expect(valuesUnprepared).toEqual([[2]])
    }))

  shared.effect("returns bigints only while SqlClient.SafeIntegers is on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
      yield* sql`INSERT INTO big ${sql.insert({ id: 1, n: 9007199254740993n })}`
      const query = sql<{ n: unknown }>`SELECT n FROM big WHERE id = ${1}`
      const safe = yield* Effect.provideService(query, SqlClient.SafeIntegers, true)
      expect(safe).toEqual([{ n: 9007199254740993n }])
      const plain = yield* query
      expect(typeof plain[0]?.n).toBe("number")
    }))

  shared.effect("commits a transaction", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE commits (id INTEGER PRIMARY KEY)`
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO commits (id) VALUES (${1})`
        yield* sql`INSERT INTO commits (id) VALUES (${2})`
      }))
      const rows = yield* sql<{ id: number }>`SELECT id FROM commits ORDER BY id`
      expect(rows).toEqual([{ id: 1 }, { id: 2 }])
    }))

  shared.effect("rolls a failed transaction back and keeps its error", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE rollbacks (id INTEGER PRIMARY KEY)`
      const exit = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO rollbacks (id) VALUES (${1})`
        return yield* Effect.fail("boom" as const)
      })).pipe(Effect.exit)
      expect(failingWith(exit)).toBe("boom")
      const rows = yield* sql`SELECT id FROM rollbacks`
      expect(rows).toEqual([])
    }))

  shared.effect("uses savepoints for nested transactions", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE nested (id INTEGER PRIMARY KEY)`
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO nested (id) VALUES (${1})`
        const inner = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO nested (id) VALUES (${2})`
          return yield* Effect.fail("inner failed" as const)
        })).pipe(Effect.exit)
        expect(failingWith(inner)).toBe("inner failed")
        yield* sql.withTransaction(sql`INSERT INTO nested (id) VALUES (${3})`)
        const visible = yield* sql<{ id: number }>`SELECT id FROM nested ORDER BY id`
        expect(visible).toEqual([{ id: 1 }, { id: 3 }])
      }))
      const committed = yield* sql<{ id: number }>`SELECT id FROM nested ORDER BY id`
      expect(committed).toEqual([{ id: 1 }, { id: 3 }])
    }))

  shared.effect("serialises concurrent transactions on the single connection", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)`
      yield* sql`INSERT INTO counters (id, value) VALUES (1, 0)`
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () =>
          sql.withTransaction(Effect.gen(function*() {
            const [row] = yield* sql<{ value: number }>`SELECT value FROM counters WHERE id = 1`
            yield* Effect.yieldNow
            yield* sql`UPDATE counters SET value = ${(row?.value ?? 0) + 1} WHERE id = 1`
          })),
        { concurrency: "unbounded", discard: true }
      )
      const [row] = yield* sql<{ value: number }>`SELECT value FROM counters WHERE id = 1`
      expect(row?.value).toBe(20)
    }))

  shared.effect("turns constraint violations into SqlError", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)`
      yield* sql`INSERT INTO users ${sql.insert({ email: "a@example.com" })}`
      const duplicate = yield* Effect.flip(sql`INSERT INTO users ${sql.insert({ email: "a@example.com" })}`)
      assert(isSqlError(duplicate))
      expect(duplicate).toBeInstanceOf(SqlError)
      expect(duplicate.reason._tag).toBe("UniqueViolation")
      expect(duplicate.message).toContain("UNIQUE constraint failed: users.email")
      expect(duplicate.isRetryable).toBe(false)

      const missing = yield* Effect.flip(sql`INSERT INTO users (email) VALUES (${null})`)
      expect(missing.reason._tag).toBe("ConstraintError")
      expect(missing.message).toContain("NOT NULL")

      const syntax = yield* Effect.flip(sql`SELEKT 1`)
      expect(syntax._tag).toBe("SqlError")
      expect(syntax.message).toContain("syntax error")
    }))

  shared.effect("recovers the connection after a failed COMMIT", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA foreign_keys = ON`
      yield* sql`CREATE TABLE parents (id INTEGER PRIMARY KEY)`
      yield* sql`CREATE TABLE children (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`
      const failed = yield* Effect.flip(sql.withTransaction(sql`INSERT INTO children (id, parent_id) VALUES (1, 99)`))
      expect(failed.reason._tag).toBe("ConstraintError")
      yield* sql.withTransaction(sql`INSERT INTO parents (id) VALUES (1)`)
      const parents = yield* sql`SELECT id FROM parents`
      const children = yield* sql`SELECT id FROM children`
      expect(parents).toEqual([{ id: 1 }])
      expect(children).toEqual([])
      yield* sql`PRAGMA foreign_keys = OFF`
    }))

  shared.effect("streams rows with executeStream and releases the statement early", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)`
      yield* sql.withTransaction(Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i + 1),
        (id) => sql`INSERT INTO events ${sql.insert({ id, payload: `event-${id}` })}`,
        { discard: true }
      ))
      const all = yield* Stream.runCollect(sql<{ id: number; payload: string }>`SELECT id, payload FROM events ORDER BY id`.stream)
      expect(all.length).toBe(1000)
      expect(all[0]).toEqual({ id: 1, payload: "event-1" })
      expect(all[999]).toEqual({ id: 1000, payload: "event-1000" })

      const firstFive = yield* sql<{ id: number }>`SELECT id FROM events ORDER BY id`.stream.pipe(
        Stream.take(5),
        Stream.runCollect
      )
      expect(firstFive.map((row) => row.id)).toEqual([1, 2, 3, 4, 5])
      // An unfinished statement would hold a table lock and make DROP fail.
      yield* sql`DROP TABLE events`
      const tables = yield* sql`SELECT name FROM sqlite_master WHERE name = 'events'`
      expect(tables).toEqual([])

      const broken = yield* Effect.flip(Stream.runCollect(sql`SELECT * FROM no_such_table`.stream))
      expect(broken.message).toContain("no such table")
    }))

  shared.effect("runs in WAL mode with the default busy timeout", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sqlite = yield* SqliteClient.SqliteClient
      const [journal] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      const [timeout] = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
      expect(journal?.journal_mode).toBe("wal")
      expect(timeout?.timeout).toBe(5000)
      expect(sqlite.config).toMatchObject({ walMode: true, busyTimeout: 5000, readonly: false })
      const [mmap] = yield* sql<{ mmap_size: number }>`PRAGMA mmap_size`
      expect(mmap?.mmap_size).toBe(SqliteClient.defaultMmapSize)
      expect(sql.driver).toBe("better-sqlite3")
    }))

  shared.effect("backs the live database up to another file", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sqlite = yield* SqliteClient.SqliteClient
      yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`
      yield* sql`INSERT INTO notes ${sql.insert({ id: 1, body: "keep me" })}`
      const destination = fileIn("backup.db")
      const result = yield* sqlite.backup(destination)
      expect(result.remainingPages).toBe(0)
      expect(result.totalPages).toBeGreaterThan(0)
      const copy = new Sqlite(destination, { readonly: true })
      try {
        expect(copy.prepare("SELECT body FROM notes").all()).toEqual([{ body: "keep me" }])
      } finally {
        copy.close()
      }
      const inTransaction = yield* sql.withTransaction(sqlite.backup(fileIn("backup-tx.db")))
      expect(inTransaction.remainingPages).toBe(0)
    }))

  shared.effect("readNow reads committed rows at once, never another fiber's uncommitted ones, even while a stream reads", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sqlite = yield* SqliteClient.SqliteClient
      expect(sqlite.client).toBe(sql)
      yield* sql`CREATE TABLE tallies (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)`
      yield* sql`INSERT INTO tallies ${sql.insert([{ id: 1, value: 10 }, { id: 2, value: 20 }])}`
      const read = sqlite.readNow("SELECT value FROM tallies WHERE id = ?", [1])
      expect(yield* read).toEqual([{ value: 10 }])

      // A transaction holds the connection across an await: a read must wait for its commit, not see its write.
      const written = yield* Deferred.make<void>()
      const commit = yield* Deferred.make<void>()
      const writer = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`UPDATE tallies SET value = 11 WHERE id = 1`
        yield* Deferred.succeed(written, undefined)
        yield* Deferred.await(commit)
      })).pipe(Effect.forkChild)
      yield* Deferred.await(written)
      const reader = yield* Effect.forkChild(read)
      yield* Effect.yieldNow
      expect(reader.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(commit, undefined)
      yield* Fiber.join(writer)
      expect(yield* Fiber.join(reader)).toEqual([{ value: 11 }])

      // A stream holds the connection until its last row; a read in the meantime does not wait for it (it would
      // wait for ever here, inside the stream).
      yield* sql`INSERT INTO tallies ${sql.insert(Arr.makeBy(400, (i) => ({ id: i + 3, value: i + 3 })))}`
      const values = yield* sql<{ id: number }>`SELECT id FROM tallies ORDER BY id`.stream.pipe(
        Stream.mapEffect((row) => Effect.map(sqlite.readNow("SELECT value FROM tallies WHERE id = ?", [row.id]), (rows) => rows[0])),
        Stream.runCollect
      )
      expect(values.length).toBe(402)
      expect(values.slice(0, 3)).toEqual([{ value: 11 }, { value: 20 }, { value: 3 }])
      expect((yield* Effect.flip(sqlite.readNow("SELECT * FROM no_such_table"))).message).toContain("no such table")
    }))
})

describe("SqliteClient options", () => {
  it.effect("applies busyTimeout and walMode: false", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [journal] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      const [timeout] = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
      expect(journal?.journal_mode).toBe("delete")
      expect(timeout?.timeout).toBe(1234)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: fileIn("options.db"), busyTimeout: 1234, walMode: false }))))

  it.effect("skips WAL for in-memory databases", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sqlite = yield* SqliteClient.SqliteClient
      const [journal] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      expect(journal?.journal_mode).toBe("memory")
      expect(sqlite.config.walMode).toBe(false)
      expect(sqlite.config.mmapSize).toBe(0)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))

  it.effect("transforms query and result names", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, display_name TEXT)`
      yield* sql`INSERT INTO accounts ${sql.insert({ accountId: 7, displayName: "Seven" })}`
      const rows = yield* sql`SELECT * FROM accounts`
      expect(rows).toEqual([{ accountId: 7, displayName: "Seven" }])
      const streamed = yield* Stream.runCollect(sql`SELECT * FROM accounts`.stream)
      expect(streamed).toEqual([{ accountId: 7, displayName: "Seven" }])
      const untransformed = yield* sql.withoutTransforms()`SELECT * FROM accounts`
      expect(untransformed).toEqual([{ account_id: 7, display_name: "Seven" }])
    }).pipe(Effect.provide(SqliteClient.layer({
      filename: ":memory:",
      transformQueryNames: (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      transformResultNames: (name) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    }))))

  it.effect("opens read-only and refuses writes", () =>
    Effect.gen(function*() {
      const filename = fileIn("readonly.db")
      const seed = new Sqlite(filename)
      seed.exec("CREATE TABLE fixed (id INTEGER PRIMARY KEY); INSERT INTO fixed VALUES (1)")
      seed.close()
      const result = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql`SELECT id FROM fixed`
        const write = yield* Effect.flip(sql`INSERT INTO fixed VALUES (2)`)
        return { rows, write }
      }).pipe(Effect.provide(SqliteClient.layer({ filename, readonly: true })))
      expect(result.rows).toEqual([{ id: 1 }])
      expect(result.write.message).toContain("readonly")
    }))

  it.effect("fails with LockTimeoutError once another process holds the lock past busyTimeout", () =>
    Effect.gen(function*() {
      const filename = fileIn("locked.db")
      const other = new Sqlite(filename)
      other.pragma("journal_mode = WAL")
      other.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
      other.exec("BEGIN IMMEDIATE")
      try {
        const { error, waited } = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const started = Date.now()
          const failure = yield* Effect.flip(sql`INSERT INTO t (id) VALUES (1)`)
          return { error: failure, waited: Date.now() - started }
        }).pipe(Effect.provide(SqliteClient.layer({ filename, busyTimeout: 150 })))
        expect(error.reason._tag).toBe("LockTimeoutError")
        expect(error.isRetryable).toBe(true)
        expect(waited).toBeGreaterThanOrEqual(140)
      } finally {
        other.exec("ROLLBACK")
        other.close()
      }
    }))

  it.effect("fails to open a database in a missing directory with a ConnectionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Effect.service(SqlClient.SqlClient), SqliteClient.layer({ filename: fileIn("missing/dir/x.db") }))
      )
      expect(error.reason._tag).toBe("ConnectionError")
      expect(error.message).toContain("missing/dir/x.db")
    }))

  it.effect("closes the database when the layer's scope ends", () =>
    Effect.gen(function*() {
      const filename = fileIn("closing.db")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY)`
        yield* sql`INSERT INTO t VALUES (1)`
      }).pipe(Effect.provide(SqliteClient.layer({ filename })))
      // A clean close checkpoints the WAL and deletes it.
      expect(Fs.existsSync(`${filename}-wal`)).toBe(false)
      const reopened = new Sqlite(filename, { readonly: true })
      try {
        expect(reopened.prepare("SELECT id FROM t").all()).toEqual([{ id: 1 }])
      } finally {
        reopened.close()
      }
    }))
})

describe("statement cache", () => {
  it("keeps at most `capacity` statements, evicting the least recently used", () => {
    const prepared: Array<string> = []
    const cache = StatementCache.make(2, (sql) => {
      prepared.push(sql)
      return { sql }
    })
    const a = cache.getOrPrepare("a")
    cache.getOrPrepare("b")
    expect(cache.getOrPrepare("a")).toBe(a)
    cache.getOrPrepare("c")
    expect(cache.size()).toBe(2)
    cache.getOrPrepare("a")
    cache.getOrPrepare("b")
    expect(prepared).toEqual(["a", "b", "c", "b"])
  })
})
