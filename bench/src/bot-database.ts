/**
 * Emoji search on a bot's own database while the bot writes it: `BotDatabase.emoji.search` (the page and its
 * total count, in the original's field names) over 100k rows with the resource manager's filters, while a
 * separate process inserts rows the way a running MaiBot does (200 rows a second, `BENCH_WRITES_PER_SECOND`;
 * a real bot registers a few emoji a minute). Baseline: the naive statements (`SELECT *` with the filter,
 * `ORDER BY … LIMIT`, and the count) prepared once on bare better-sqlite3 in this process, measured in the same
 * run against the same file and writer. Target: the service's p99 at most 20 ms.
 *
 * Run: `pnpm bench bot-database`
 */
import type BetterSqlite3 from "better-sqlite3"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BotDatabase from "../../packages/core/src/launcher/BotDatabase.ts"
import * as InstanceRegistry from "../../packages/core/src/launcher/InstanceRegistry.ts"
import * as Database from "../../packages/core/src/platform/Database.ts"
import { checkout, type Generation } from "../../packages/core/test/fixtures/maibotTree.ts"
import { format, printTable } from "./harness.ts"

const Sqlite = createRequire(new URL("../../packages/core/package.json", import.meta.url))(
  "better-sqlite3"
) as typeof BetterSqlite3

const rows = 100_000
const searches = Number(process.env["BENCH_SEARCHES"] ?? 1000)
const writesPerSecond = process.env["BENCH_WRITES_PER_SECOND"] ?? "200"
const target = 20

/** The resource manager's filter combinations (§4.2 #21/#22), with a page further down now and then. */
const filters: ReadonlyArray<BotDatabase.EmojiFilter> = [
  {},
  { is_registered: 1 },
  { is_banned: 1 },
  { emotion: "开心" },
  { description_like: "猫" },
  { is_registered: 1, description_like: "狗" },
  { format: "gif", is_banned: 0 },
  { description_like: "表情包 4242" }
]

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN
}

/** The same statements the service runs for a filter, prepared once each on a bare connection. */
const bareSearch = (db: BetterSqlite3.Database, generation: Generation) => {
  const cache = new Map<string, { page: BetterSqlite3.Statement; count: BetterSqlite3.Statement }>()
  return (filter: BotDatabase.EmojiFilter, offset: number) => {
    const clauses: Array<string> = generation === "1.x" ? ["image_type IN ('EMOJI', 'emoji')"] : []
    const params: Array<unknown> = []
    const column = (name: string) => generation === "1.x" && (name === "emotion" || name === "format") ? undefined : name
    for (const name of ["emotion", "format"] as const) {
      if (filter[name]) {
        const col = column(name)
        clauses.push(col === undefined ? "0 = 1" : `${col} = ?`)
        if (col !== undefined) params.push(filter[name])
      }
    }
    for (const name of ["is_registered", "is_banned"] as const) {
      if (filter[name] !== undefined && filter[name] !== null) {
        clauses.push(`${name} = ?`)
        params.push(filter[name])
      }
    }
    if (filter.description_like) {
      clauses.push("description LIKE ? ESCAPE '\\'")
      params.push(`%${filter.description_like}%`)
    }
    const where = clauses.length === 0 ? "1 = 1" : clauses.join(" AND ")
    const table = generation === "1.x" ? "images" : "emoji"
    let statements = cache.get(where)
    if (statements === undefined) {
      statements = {
        page: db.prepare(`SELECT * FROM ${table} WHERE ${where} ORDER BY record_time DESC LIMIT ? OFFSET ?`),
        count: db.prepare(`SELECT COUNT(*) AS total FROM ${table} WHERE ${where}`)
      }
      cache.set(where, statements)
    }
    statements.page.all(...params, 100, offset)
    statements.count.get(...params)
  }
}

const measure = async (generation: Generation) => {
  const tree = checkout(generation, { emoji: rows, persons: 100 })
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-botdb-"))
  const layer = BotDatabase.BotDatabase.layer().pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db")))
  )
  const writer = ChildProcess.spawn(
    process.execPath,
    [Path.join(import.meta.dirname, "../../packages/core/test/fixtures/botWriter.mjs"), tree.database as string, generation, "600000", writesPerSecond],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  await new Promise<void>((resolve) => writer.stdout.once("data", () => resolve()))
  const bare = new Sqlite(tree.database as string, { fileMustExist: true, timeout: 3000 })
  const search = bareSearch(bare, generation)
  const service: Array<number> = []
  const baseline: Array<number> = []
  const byFilter = filters.map(() => [] as Array<number>)
  await Effect.runPromise(Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const instance = yield* registry.add({
      name: "bench",
      version: generation,
      path: tree.dir,
      host: "127.0.0.1",
      port: 8000,
      token: "",
      ownsPath: false,
      components: []
    })
    const db = yield* BotDatabase.BotDatabase
    for (let i = 0; i < searches; i++) {
      const filter = filters[i % filters.length] as BotDatabase.EmojiFilter
      const offset = (i % 5) * 100
      const started = performance.now()
      yield* db.emoji.search(instance.id, filter, { limit: 100, offset, order: "recent" })
      const took = performance.now() - started
      service.push(took)
      byFilter[i % filters.length]?.push(took)
      const bareStarted = performance.now()
      search(filter, offset)
      baseline.push(performance.now() - bareStarted)
    }
  }).pipe(Effect.provide(layer)))
  bare.close()
  writer.kill("SIGTERM")
  Fs.rmSync(tree.dir, { recursive: true, force: true })
  Fs.rmSync(dataDir, { recursive: true, force: true })
  return { generation, service, baseline, byFilter }
}

const results = [await measure("1.x"), await measure("0.x")]
printTable(
  `Emoji search over ${format(rows)} rows while a bot process inserts ${writesPerSecond} rows/s (${
    format(searches)
  } searches each, page + total)`,
  ["generation", "BotDatabase p50 ms", "p99 ms", "bare better-sqlite3 p50 ms", "p99 ms", "p99 ratio", `p99 ≤ ${target} ms`],
  results.map(({ generation, service, baseline }) => {
    const p99 = percentile(service, 0.99)
    return [
      generation,
      format(percentile(service, 0.5), 2),
      format(p99, 2),
      format(percentile(baseline, 0.5), 2),
      format(percentile(baseline, 0.99), 2),
      format(percentile(baseline, 0.99) / p99, 2),
      p99 <= target ? "yes" : "NO"
    ]
  })
)
printTable(
  "BotDatabase per filter (ms)",
  ["filter", ...results.flatMap(({ generation }) => [`${generation} p50`, "p90", "max"])],
  filters.map((filter, i) => [
    JSON.stringify(filter),
    ...results.flatMap(({ byFilter }) => {
      const times = byFilter[i] as Array<number>
      return [format(percentile(times, 0.5), 2), format(percentile(times, 0.9), 2), format(percentile(times, 1), 2)]
    })
  ])
)
process.exitCode = results.every(({ service }) => percentile(service, 0.99) <= target) ? 0 : 1
