/**
 * The control plane under load, each figure with its baseline from the same run:
 *
 * 1. `POST /api/v2/auth/validate-api-key` over HTTP with MaiBot's body `{api_key, required_permission: "chat",
 *    check_rate_limit: true}`: MaiKit (key epoch read, usage counted, envelope) on SQLite, PostgreSQL and MariaDB
 *    versus bare `node:http` doing a SHA-256 and an in-memory map lookup. Servers in their own processes,
 *    alternating rounds; target ratio ≥ 0.3 on SQLite. Every server's `usage_count` must then be at least the
 *    validations it answered with a 2xx (no use lost), and at most one per connection and run more (the
 *    requests still in flight when a run ended). And `POST /api/v2/auth/parse-api-key` on SQLite versus
 *    the same parse by hand on bare `node:http`; target ≥ 0.5.
 * 2. `GET /api/v2/tenants` paging over 10k tenants (SQLite): p50/p99 latency of the first, middle and last page.
 * 3. In-process `ApiKeyAuth.validate` with 100k keys stored, on SQLite, PostgreSQL and MariaDB, versus the same
 *    lookup done by hand on the driver (hash + one indexed join, no service); target ≥ 20k/s on SQLite. The
 *    first pass over the picked keys runs with the in-memory key index empty and is reported on its own; the
 *    measured rounds repeat the same keys, as clients of a deployment do.
 *
 * Settings: BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_BACKENDS (default
 * `sqlite,postgresql,mariadb`; `sqlite` alone skips the database servers), MAIKIT_BENCH_DATABASE_URL (an admin
 * URL of a PostgreSQL server) and MAIKIT_BENCH_MYSQL_URL (of a MySQL/MariaDB server); without them, servers are
 * started from Debian's binaries.
 */
import type BetterSqlite3 from "better-sqlite3"
import { Array as Arr, Context, Effect, Layer, ManagedRuntime, Redacted, References } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { ApiKeyAuth, ControlPlaneDatabase, TenantStore } from "@maikit/core/control-plane"
import { Database } from "@maikit/core/platform"
import { format, here, load, median, printTable, rounds, seconds, startServer, type LoadResult } from "./harness.ts"
import * as Mariadb from "./mariadb.ts"
import * as Postgres from "./postgres.ts"

// better-sqlite3 is a dependency of @maikit/core, not of the bench package.
const Sqlite = createRequire(new URL("../../packages/core/package.json", import.meta.url))(
  "better-sqlite3"
) as typeof BetterSqlite3

const post = async (base: string, path: string, body: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  const envelope = (await response.json()) as { success: boolean; data: Record<string, string> }
  if (!envelope.success) throw new Error(`${path} failed: ${JSON.stringify(envelope)}`)
  return envelope.data
}


// 3: in process, 100k keys; measured first, in a process nothing else has run in yet.
const keyCount = 100_000
const agentsPerTenant = 100
const keysPerAgent = 100
const validations = 20_000
const concurrency = 16

interface Seeded {
  readonly keys: ReadonlyArray<string>
}

/** 10 tenants × 100 agents × 100 keys; keys inserted in bulk (their hashes, as `ApiKeyAuth` stores them). */
const seed = Effect.gen(function*() {
  const store = yield* TenantStore.TenantStore
  const sql = yield* SqlClient.SqlClient
  const keys: Array<string> = []
  const at = new Date().toISOString().slice(0, 23) + "000"
  for (let t = 0; t < keyCount / agentsPerTenant / keysPerAgent; t++) {
    const owner = yield* store.createTenant({ tenant_name: `bench-${t}`, tenant_type: "enterprise" })
    for (let a = 0; a < agentsPerTenant; a++) {
      const member = yield* store.createAgent({ tenant_id: owner.id, name: `agent-${a}` })
      const rows: Array<Record<string, unknown>> = Array.from({ length: keysPerAgent }, (_, k) => {
        const key = ApiKeyAuth.generate(owner.id, member.id)
        keys.push(key)
        return {
          id: `key_${(keys.length).toString(16).padStart(12, "0")}`,
          tenant_id: owner.id,
          agent_id: member.id,
          name: `key-${a}-${k}`,
          description: null,
          key_hash: ApiKeyAuth.hash(key),
          key_prefix: ApiKeyAuth.displayPrefix(key),
          permissions: JSON.stringify(["chat"]),
          status: "active",
          expires_at: null,
          last_used_at: null,
          usage_count: 0,
          created_at: at,
          updated_at: at
        }
      })
      if (Arr.isReadonlyArrayNonEmpty(rows)) yield* sql.withTransaction(sql`INSERT INTO api_keys ${sql.insert(rows)}`)
    }
  }
  return { keys } satisfies Seeded
})

let state = 42
const picks = Array.from({ length: validations }, () => {
  state = (state * 1103515245 + 12345) % 2147483648
  return state % keyCount
})

const checkSql = `SELECT k.id, k.tenant_id, k.agent_id, k.key_hash, k.permissions, k.status, k.expires_at,
  t.status AS tenant_status, a.status AS agent_status
  FROM api_keys k JOIN agents a ON a.id = k.agent_id JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = `

interface Measured {
  readonly backend: string
  readonly mode: string
  /** The first pass, while the in-memory key index is still empty: every check reads the key's row. */
  readonly cold: number | undefined
  readonly maikit: number
  readonly bare: number
}

const measure = async (backend: string, database: Layer.Layer<SqlClient.SqlClient, unknown>, bare: {
  readonly sequential: (keys: ReadonlyArray<string>) => Promise<void>
  readonly concurrent?: (keys: ReadonlyArray<string>) => Promise<void>
}): Promise<ReadonlyArray<Measured>> => {
  const runtime = ManagedRuntime.make(
    ControlPlaneDatabase.layerServices(database, { catalog: {} }).pipe(
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "Warn"))
    )
  )
  try {
    const started = performance.now()
    const { keys } = await runtime.runPromise(seed)
    console.log(`seeded ${keys.length.toLocaleString("en")} keys on ${backend} in ${format((performance.now() - started) / 1000, 1)} s`)
    const context = await runtime.runPromise(Effect.context<ApiKeyAuth.ApiKeyAuth>())
    const auth = Context.get(context, ApiKeyAuth.ApiKeyAuth)
    const validateAll = (parallel: number) =>
      runtime.runPromise(Effect.forEach(picks, (index) =>
        auth.validate({ apiKey: keys[index] ?? "", requiredPermission: "chat" }), { concurrency: parallel, discard: true }))
    const timed = async (run: () => Promise<void>) => {
      const begin = performance.now()
      await run()
      return validations / ((performance.now() - begin) / 1000)
    }
    const modes = [
      { mode: "sequential", maikit: () => validateAll(1), bare: () => bare.sequential(keys) },
      ...(bare.concurrent === undefined
        ? []
        : [{ mode: `${concurrency} concurrent`, maikit: () => validateAll(concurrency), bare: () => bare.concurrent?.(keys) ?? Promise.resolve() }])
    ]
    const results: Array<Measured> = []
    for (const [index, mode] of modes.entries()) {
      const first = await timed(mode.maikit)
      const cold = index === 0 ? first : undefined
      await mode.bare()
      const samples = { maikit: [] as Array<number>, bare: [] as Array<number> }
      for (let round = 0; round < rounds; round++) {
        if (round % 2 === 0) {
          samples.maikit.push(await timed(mode.maikit))
          samples.bare.push(await timed(mode.bare))
        } else {
          samples.bare.push(await timed(mode.bare))
          samples.maikit.push(await timed(mode.maikit))
        }
      }
      results.push({ backend, mode: mode.mode, cold, maikit: median(samples.maikit), bare: median(samples.bare) })
    }
    return results
  } finally {
    await runtime.dispose()
  }
}

const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-keys-"))
process.on("exit", () => Fs.rmSync(directory, { recursive: true, force: true }))
const sqliteFile = Path.join(directory, "maikit.db")

const sqliteBare = () => {
  const db = new Sqlite(sqliteFile, { readonly: true })
  const statement = db.prepare(`${checkSql}?`)
  return {
    sequential: async (keys: ReadonlyArray<string>) => {
      for (const index of picks) {
        const row = statement.get(ApiKeyAuth.hash(keys[index] ?? "")) as { permissions: string; status: string } | undefined
        if (row === undefined || row.status !== "active" || !(JSON.parse(row.permissions) as Array<string>).includes("chat")) {
          throw new Error("bare SQLite lookup failed")
        }
      }
    }
  }
}

/** The lookup by hand on a server's driver; `placeholder` is the dialect's first parameter (`$1`, `?`). */
const serverLookup = (placeholder: string) => (key: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe<{ permissions: string; status: string }>(`${checkSql}${placeholder}`, [ApiKeyAuth.hash(key)])
    const row = rows[0]
    if (row === undefined || row.status !== "active" || !(JSON.parse(row.permissions) as Array<string>).includes("chat")) {
      return yield* Effect.die(new Error("bare server lookup failed"))
    }
  })

const serverBare = (database: Layer.Layer<SqlClient.SqlClient, unknown>, placeholder: string) => {
  const runtime = ManagedRuntime.make(database)
  const lookup = serverLookup(placeholder)
  const run = (keys: ReadonlyArray<string>, parallel: number) =>
    runtime.runPromise(Effect.forEach(picks, (index) => lookup(keys[index] ?? ""), { concurrency: parallel, discard: true }))
  return {
    bare: { sequential: (keys: ReadonlyArray<string>) => run(keys, 1), concurrent: (keys: ReadonlyArray<string>) => run(keys, concurrency) },
    dispose: () => runtime.dispose()
  }
}

const measured: Array<Measured> = []
let bareSqlite: ReturnType<typeof sqliteBare> | undefined
measured.push(...await measure("SQLite", Database.layerFile(sqliteFile), {
  sequential: (keys) => {
    bareSqlite ??= sqliteBare()
    return bareSqlite.sequential(keys)
  }
}))

const backends = new Set((process.env["BENCH_BACKENDS"] ?? "sqlite,postgresql,mariadb").split(",").map((name) => name.trim()))
const postgres = backends.has("postgresql") ? await Postgres.start() : undefined
const mariadb = backends.has("mariadb") ? await Mariadb.start() : undefined
const stopServers = async () => {
  await postgres?.stop()
  await mariadb?.stop()
}
const servers = [
  ...(postgres === undefined ? [] : [
    { backend: "PostgreSQL", url: postgres.createDatabase(), open: ControlPlaneDatabase.layerPostgres, placeholder: "$1" }
  ]),
  ...(mariadb === undefined ? [] : [
    { backend: "MariaDB", url: mariadb.createDatabase(), open: ControlPlaneDatabase.layerMysql, placeholder: "?" }
  ])
]
try {
  for (const server of servers) {
    const database = server.open(Redacted.make(server.url))
    const bare = serverBare(database, server.placeholder)
    try {
      measured.push(...await measure(server.backend, database, bare.bare))
    } finally {
      await bare.dispose()
    }
  }
} catch (error) {
  await stopServers()
  throw error
}

// 1 and 2: over HTTP, after the in-process figures, so that the load generator's heap does not weigh on them.
const tenantCount = 10_000

/** A candidate server on `databaseUrl` (SQLite in a temp dir without one) with a key to validate. */
const startCandidate = async (name: string, environment: Record<string, string>) => {
  const server = await startServer(name, Path.join(here, "servers/control-plane-http.ts"), environment)
  const base = `http://127.0.0.1:${server.port}`
  const tenant = await post(base, "/api/v2/tenants", { tenant_name: "bench", tenant_type: "enterprise" })
  const agent = await post(base, "/api/v2/agents", { tenant_id: tenant["id"], name: "bench" })
  const created = await post(base, "/api/v2/api-keys", {
    tenant_id: tenant["id"],
    agent_id: agent["id"],
    name: "bench",
    permissions: ["chat"]
  })
  return { server, base, keyId: created["api_key_id"] ?? "", apiKey: created["api_key"] ?? "" }
}

const candidates = [
  { backend: "SQLite", ...await startCandidate("maikit", { SEED_TENANTS: String(tenantCount) }) },
  ...(postgres === undefined ? [] : [
    { backend: "PostgreSQL", ...await startCandidate("maikit-postgresql", { DATABASE_URL: postgres.createDatabase() }) }
  ]),
  ...(mariadb === undefined ? [] : [
    { backend: "MariaDB", ...await startCandidate("maikit-mariadb", { DATABASE_URL: mariadb.createDatabase() }) }
  ])
]
const candidateBase = candidates[0]?.base ?? ""
// Each server checks a key of its own; the keys differ only in their random part, so each check costs the same.
const baseline = await startServer("bare", Path.join(here, "servers/bare-key-check.ts"), { API_KEY: candidates[0]?.apiKey ?? "" })
// MaiBot's clients ask for the permission and have the use counted (`check_rate_limit`, true by default too).
const validateBody = (apiKey: string) => JSON.stringify({ api_key: apiKey, required_permission: "chat", check_rate_limit: true })
const bodies = new Map([
  ...candidates.map((c) => [c.server.name, validateBody(c.apiKey)] as const),
  ["bare", validateBody(candidates[0]?.apiKey ?? "")] as const
])

const httpRuns = new Map<string, Array<LoadResult>>([["bare", []], ...candidates.map((c) => [c.server.name, []] as [string, Array<LoadResult>])])
const parseRuns = new Map<string, Array<LoadResult>>([["bare", []], ["maikit", []]])
const validated = new Map<string, number>()
const usage = new Map<string, number>()
const pageRows: Array<Array<string>> = []
const rss = new Map<string, number>()
try {
  const hit = (server: { readonly name: string; readonly port: number }, secondsToRun: number) =>
    load({
      url: `http://127.0.0.1:${server.port}/api/v2/auth/validate-api-key`,
      method: "POST",
      body: bodies.get(server.name) ?? "",
      seconds: secondsToRun
    }).then((result) => {
      validated.set(server.name, (validated.get(server.name) ?? 0) + result.ok)
      return result
    })
  const all = [...candidates.map((c) => c.server), baseline]
  for (const server of all) await hit(server, 2)
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? all : all.toReversed()) {
      const result = await hit(server, seconds)
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${server.name} answered ${result.non2xx} non-2xx and ${result.errors} errors`)
      }
      httpRuns.get(server.name)?.push(result)
    }
  }
  for (const { server, base, keyId } of candidates) {
    const check = await fetch(`${base}/api/v2/api-keys/${keyId}`).then((r) => r.json()) as { data: { usage_count: number } }
    usage.set(server.name, check.data.usage_count)
    // autocannon stops counting answers when a run ends, with up to one request per connection still in flight:
    // those were validated, and counted, too.
    const answered = validated.get(server.name) ?? 0
    const inFlight = 50 * (rounds + 1)
    if (check.data.usage_count < answered || check.data.usage_count > answered + inFlight) {
      throw new Error(`${server.name} counted ${check.data.usage_count} uses of ${answered} validations answered (+ ≤ ${inFlight} in flight)`)
    }
  }
  for (const server of all) rss.set(server.name, server.rssMb())

  const sqliteCandidate = candidates[0]
  if (sqliteCandidate !== undefined) {
    const parseBody = JSON.stringify({ api_key: sqliteCandidate.apiKey })
    const parseOn = (server: { readonly port: number }, secondsToRun: number) =>
      load({ url: `http://127.0.0.1:${server.port}/api/v2/auth/parse-api-key`, method: "POST", body: parseBody, seconds: secondsToRun })
    const pair = [sqliteCandidate.server, baseline]
    for (const server of pair) await parseOn(server, 2)
    for (let round = 0; round < rounds; round++) {
      for (const server of round % 2 === 0 ? pair : pair.toReversed()) {
        const result = await parseOn(server, seconds)
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`${server.name} answered ${result.non2xx} non-2xx and ${result.errors} errors on parse-api-key`)
        }
        parseRuns.get(server === baseline ? "bare" : "maikit")?.push(result)
      }
    }
  }

  const pages = Math.ceil((tenantCount + 1) / 20)
  for (const page of [1, Math.ceil(pages / 2), pages]) {
    const url = `${candidateBase}/api/v2/tenants?page=${page}&size=20`
    await load({ url, seconds: 1, connections: 10 })
    const results: Array<LoadResult> = []
    for (let round = 0; round < rounds; round++) results.push(await load({ url, seconds, connections: 10 }))
    pageRows.push([
      `page ${page} of ${pages} (size 20)`,
      format(median(results.map((r) => r.requestsPerSecond))),
      format(median(results.map((r) => r.p50)), 1),
      format(median(results.map((r) => r.p99)), 1)
    ])
  }
} finally {
  for (const { server } of candidates) await server.stop()
  await baseline.stop()
  await stopServers()
}

const rps = (results: ReadonlyArray<LoadResult>) => median(results.map((r) => r.requestsPerSecond))
const p99 = (results: ReadonlyArray<LoadResult>) => median(results.map((r) => r.p99))

const bareRuns = httpRuns.get("bare") ?? []
printTable(
  `POST /api/v2/auth/validate-api-key {api_key, required_permission: "chat", check_rate_limit: true}: MaiKit vs bare node:http (SHA-256 + Map) (${rounds} alternating rounds of ${seconds} s, 50 connections, median)`,
  ["server", "req/s", "p99 ms", "RSS MB", "uses counted / validations answered", "ratio to bare"],
  [
    ...candidates.map(({ backend, server }) => {
      const runs = httpRuns.get(server.name) ?? []
      return [
        `MaiKit on ${backend} (epoch read, usage counted, envelope)`,
        format(rps(runs)),
        format(p99(runs)),
        format(rss.get(server.name) ?? 0),
        `${format(usage.get(server.name) ?? 0)} / ${format(validated.get(server.name) ?? 0)} (+ in flight)`,
        `${format(rps(runs) / rps(bareRuns), 2)}${backend === "SQLite" ? " (target ≥ 0.3)" : ""}`
      ]
    }),
    ["bare node:http (SHA-256 + in-memory Map)", format(rps(bareRuns)), format(p99(bareRuns)), format(rss.get("bare") ?? 0), "", ""]
  ]
)

const parseMaikit = parseRuns.get("maikit") ?? []
const parseBare = parseRuns.get("bare") ?? []
printTable(
  `POST /api/v2/auth/parse-api-key: MaiKit on SQLite vs bare node:http (the same parse by hand) (${rounds} alternating rounds of ${seconds} s, 50 connections, median)`,
  ["server", "req/s", "p99 ms", "ratio to bare"],
  [
    ["MaiKit (envelope)", format(rps(parseMaikit)), format(p99(parseMaikit)), `${format(rps(parseMaikit) / rps(parseBare), 2)} (target ≥ 0.5)`],
    ["bare node:http", format(rps(parseBare)), format(p99(parseBare)), ""]
  ]
)

printTable(
  `GET /api/v2/tenants over ${(tenantCount + 1).toLocaleString("en")} tenants (10 connections, ${rounds} rounds of ${seconds} s, median)`,
  ["page", "req/s", "p50 ms", "p99 ms"],
  pageRows
)

printTable(
  `In-process ApiKeyAuth.validate, ${keyCount.toLocaleString("en")} keys stored, ${validations.toLocaleString("en")} random validations per round (median of ${rounds})`,
  ["backend", "mode", "MaiKit validations/s", "first pass (index cold)", "bare lookup/s", "ratio"],
  measured.map((row) => [
    row.backend,
    row.mode,
    format(row.maikit),
    row.cold === undefined ? "—" : format(row.cold),
    format(row.bare),
    format(row.maikit / row.bare, 2)
  ])
)
