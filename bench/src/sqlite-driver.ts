/**
 * SQLite driver choice for MaiKit: our Effect SqliteClient (better-sqlite3 underneath) against
 * `node:sqlite`'s DatabaseSync, with bare better-sqlite3 as a second baseline that isolates the cost of
 * the Effect layer. Point reads by primary key and inserts in one transaction on a 100k-row table, each
 * driver on its own copy of the same temp file, rounds interleaved so drift hits all drivers alike;
 * every number is the median round.
 *
 * Run: `pnpm exec node bench/src/sqlite-driver.ts`
 */
import type BetterSqlite3 from "better-sqlite3"
import { Effect } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as SqliteClient from "../../packages/core/src/platform/SqliteClient.ts"

// better-sqlite3 is a dependency of @maikit/core, not of the bench package.
const Sqlite = createRequire(new URL("../../packages/core/package.json", import.meta.url))(
  "better-sqlite3"
) as typeof BetterSqlite3

const tableRows = 100_000
const readsPerRound = 30_000
const insertsPerRound = 10_000
const rounds = 5

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-sqlite-"))
process.on("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))

const schema = "CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER NOT NULL)"
const selectSql = "SELECT id, name, value FROM kv WHERE id = ?"
const insertSql = "INSERT INTO kv (id, name, value) VALUES (?, ?, ?)"

const seed = (filename: string) => {
  const db = new Sqlite(filename)
  db.pragma("journal_mode = WAL")
  db.exec(schema)
  const insert = db.prepare(insertSql)
  db.transaction(() => {
    for (let id = 1; id <= tableRows; id++) insert.run(id, `name-${id}`, id * 7)
  })()
  db.close()
}

const template = Path.join(dir, "template.db")
seed(template)
const copyOf = (name: string) => {
  const filename = Path.join(dir, name)
  Fs.copyFileSync(template, filename)
  return filename
}

let state = 12345
const readIds = Array.from({ length: readsPerRound }, () => {
  state = (state * 1103515245 + 12345) % 2147483648
  return 1 + (state % tableRows)
})

let sink = 0

interface Driver {
  readonly name: string
  readonly read: () => Promise<void> | void
  readonly insert: (firstId: number) => Promise<void> | void
  readonly close: () => Promise<void> | void
}

const pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"

const bareBetterSqlite = (): Driver => {
  const db = new Sqlite(copyOf("better-sqlite3.db"))
  db.exec(pragmas)
  const select = db.prepare(selectSql)
  const insert = db.prepare(insertSql)
  return {
    name: "better-sqlite3 (bare)",
    read: () => {
      for (const id of readIds) sink += (select.get(id) as { value: number }).value
    },
    insert: (firstId) => {
      db.exec("BEGIN")
      for (let id = firstId; id < firstId + insertsPerRound; id++) insert.run(id, `name-${id}`, id)
      db.exec("COMMIT")
    },
    close: () => {
      db.close()
    }
  }
}

const nodeSqlite = (): Driver => {
  const db = new DatabaseSync(copyOf("node-sqlite.db"))
  db.exec(pragmas)
  const select = db.prepare(selectSql)
  const insert = db.prepare(insertSql)
  return {
    name: "node:sqlite DatabaseSync",
    read: () => {
      for (const id of readIds) sink += (select.get(id) as { value: number }).value
    },
    insert: (firstId) => {
      db.exec("BEGIN")
      for (let id = firstId; id < firstId + insertsPerRound; id++) insert.run(id, `name-${id}`, id)
      db.exec("COMMIT")
    },
    close: () => {
      db.close()
    }
  }
}

const maikitClient = async (): Promise<Driver> => {
  let release: (() => void) | undefined
  const closed = new Promise<void>((resolve) => {
    release = resolve
  })
  const sql = await new Promise<SqlClient.SqlClient>((resolve, reject) => {
    Effect.runPromise(
      Effect.gen(function*() {
        const client = yield* SqlClient.SqlClient
        yield* client`PRAGMA synchronous = NORMAL`
        resolve(client)
        yield* Effect.promise(() => closed)
      }).pipe(Effect.provide(SqliteClient.layer({ filename: copyOf("maikit.db") })))
    ).catch(reject)
  })
  const read = Effect.gen(function*() {
    for (const id of readIds) {
      const rows = yield* sql<{ value: number }>`SELECT id, name, value FROM kv WHERE id = ${id}`
      sink += rows[0]?.value ?? 0
    }
  })
  const insert = (firstId: number) =>
    sql.withTransaction(Effect.gen(function*() {
      for (let id = firstId; id < firstId + insertsPerRound; id++) {
        yield* sql`INSERT INTO kv (id, name, value) VALUES (${id}, ${`name-${id}`}, ${id})`
      }
    }))
  return {
    name: "MaiKit SqliteClient",
    read: () => Effect.runPromise(read),
    insert: (firstId) => Effect.runPromise(insert(firstId)),
    close: () => release?.()
  }
}

const time = async (run: () => Promise<void> | void): Promise<number> => {
  const started = performance.now()
  await run()
  return performance.now() - started
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const started = performance.now()
const drivers = [await maikitClient(), bareBetterSqlite(), nodeSqlite()]
const samples = new Map(drivers.map((driver) => [driver.name, { read: [] as Array<number>, insert: [] as Array<number> }]))

for (let round = 0; round <= rounds; round++) {
  const firstId = tableRows + 1 + round * insertsPerRound
  for (const driver of drivers) {
    const read = await time(driver.read)
    const insert = await time(() => driver.insert(firstId))
    if (round > 0) {
      samples.get(driver.name)?.read.push(readsPerRound / (read / 1000))
      samples.get(driver.name)?.insert.push(insertsPerRound / (insert / 1000))
    }
  }
}
for (const driver of drivers) await driver.close()

const opsPerSecond = (driver: string, workload: "read" | "insert") => median(samples.get(driver)?.[workload] ?? [])

const [client, bare, node] = drivers.map((driver) => driver.name) as [string, string, string]
const comparisons: ReadonlyArray<readonly [candidate: string, baseline: string]> = [
  [client, node],
  [bare, node],
  [client, bare]
]
const workloads = [
  ["point read by id", "read"],
  [`insert (${insertsPerRound / 1000}k per transaction)`, "insert"]
] as const

const rows = [["workload", "candidate", "baseline", "candidate ops/s", "baseline ops/s", "ratio"]]
for (const [label, workload] of workloads) {
  for (const [candidate, baseline] of comparisons) {
    const c = opsPerSecond(candidate, workload)
    const b = opsPerSecond(baseline, workload)
    rows.push([label, candidate, baseline, Math.round(c).toLocaleString("en"), Math.round(b).toLocaleString("en"), (c / b).toFixed(2)])
  }
}
const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
const format = (row: ReadonlyArray<string>) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")

const versions = new DatabaseSync(":memory:").prepare("SELECT sqlite_version() AS v").get() as { v: string }
const bareVersion = new Sqlite(":memory:").prepare("SELECT sqlite_version() AS v").get() as { v: string }
console.log(
  `node ${process.version}; SQLite ${bareVersion.v} (better-sqlite3), ${versions.v} (node:sqlite); ` +
    `${tableRows.toLocaleString("en")} rows, WAL, synchronous=NORMAL; median of ${rounds} rounds ` +
    `(${readsPerRound.toLocaleString("en")} reads, ${insertsPerRound.toLocaleString("en")} inserts each)`
)
console.log(format(rows[0] ?? []))
console.log(widths.map((width) => "-".repeat(width)).join("-|-"))
for (const row of rows.slice(1)) console.log(format(row))
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s (checksum ${sink % 1000})`)
