/**
 * A real PostgreSQL for tests: the server `.ci/run` starts (`MAIKIT_TEST_DATABASE_URL`, an admin URL) or,
 * without it, a private server from Debian's binaries in a temp dir on a free loopback port (run as the
 * `postgres` user when the tests run as root), stopped by PID with the scope. Each suite gets a fresh
 * database on it.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, Scope } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "./mqtt.ts"

const notInstalled =
  "PostgreSQL is not installed: the control-plane tests need a real server. Install it (apt-get install " +
  "postgresql) or set MAIKIT_TEST_DATABASE_URL to an admin URL of a running server (e.g. " +
  "postgres://postgres@127.0.0.1:5432/postgres)."

/** Debian's binaries, installed or unpacked by the test run's set-up (`vitest.services.ts`). */
const binDir = (): string => {
  const roots = [process.env["MAIKIT_TEST_PACKAGE_ROOT"] ?? "", "/"].filter((root) => root !== "")
  for (const root of roots.map((prefix) => Path.join(prefix, "usr/lib/postgresql"))) {
    const versions = Fs.existsSync(root)
      ? Fs.readdirSync(root).filter((name) => Fs.existsSync(Path.join(root, name, "bin", "initdb")))
      : []
    const newest = versions.toSorted((a, b) => Number(b) - Number(a))[0]
    if (newest !== undefined) return Path.join(root, newest, "bin")
  }
  throw new Error(notInstalled)
}

const isRoot = () => process.getuid?.() === 0

/** Runs a PostgreSQL binary, as `postgres` when we are root (the server refuses to run as root). */
const asServerUser = (binary: string, args: ReadonlyArray<string>): [string, ReadonlyArray<string>] =>
  isRoot() ? ["runuser", ["-u", "postgres", "--", binary, ...args]] : [binary, args]

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const postmasterPid = (data: string): number | undefined => {
  try {
    const pid = Number(Fs.readFileSync(Path.join(data, "postmaster.pid"), "utf8").split("\n")[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** A server the scope owns; yields its admin URL. */
export const privatePostgres: Effect.Effect<string, never, Scope.Scope> = Effect.gen(function*() {
  const bin = binDir()
  const port = yield* freePort()
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-postgres-"))
  const data = Path.join(directory, "data")
  if (isRoot()) {
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim())
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim())
    if (!Number.isInteger(uid) || uid <= 0) throw new Error(`${notInstalled} (no postgres user to run it as)`)
    Fs.chownSync(directory, uid, gid)
  }
  const [initdb, initArgs] = asServerUser(Path.join(bin, "initdb"), [
    "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"
  ])
  const init = spawnSync(initdb, initArgs, { encoding: "utf8" })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.error?.message}`)

  const start = Effect.gen(function*() {
    const [server, serverArgs] = asServerUser(Path.join(bin, "postgres"), [
      "-D", data, "-k", directory, "-p", String(port), "-h", "127.0.0.1",
      "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"
    ])
    const child = spawn(server, serverArgs, { stdio: "ignore" })
    const [ready, readyArgs] = [Path.join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port), "-q"]]
    for (let attempt = 0; attempt < 200; attempt++) {
      if (spawnSync(ready, readyArgs).status === 0) return child.pid ?? 0
      if (child.exitCode !== null) break
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error(`PostgreSQL did not start on 127.0.0.1:${port} (data in ${data})`))
  })

  const stop = (launcher: number) =>
    Effect.gen(function*() {
      const pid = postmasterPid(data)
      // SIGQUIT: immediate shutdown; the data directory is thrown away anyway.
      for (const target of [pid, launcher]) if (target !== undefined && alive(target)) process.kill(target, "SIGQUIT")
      if (pid !== undefined) {
        for (let attempt = 0; attempt < 100 && alive(pid); attempt++) yield* Effect.sleep("50 millis")
        if (alive(pid)) process.kill(pid, "SIGKILL")
      }
      Fs.rmSync(directory, { recursive: true, force: true })
    })

  yield* Effect.acquireRelease(start, stop)
  return `postgres://postgres@127.0.0.1:${port}/postgres`
})

/** The CI server when `.ci/run` started one, else a private one for this scope. */
export const sharedPostgres: Effect.Effect<string, never, Scope.Scope> = Effect.suspend(() => {
  const url = process.env["MAIKIT_TEST_DATABASE_URL"]
  return url !== undefined && url !== "" ? Effect.succeed(url) : privatePostgres
})

/** The PostgreSQL server of a test file; build it once (e.g. with `layer(TestPostgres.layer)`). */
export class TestPostgres extends Context.Service<TestPostgres, { readonly adminUrl: string }>()(
  "@maikit/core/test/TestPostgres"
) {
  static readonly layer = Layer.effect(TestPostgres, Effect.map(sharedPostgres, (adminUrl) => ({ adminUrl })))
}

const execute = (url: string, statement: string) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1 })
    yield* sql.unsafe(statement)
  })).pipe(Effect.provide(Reactivity.layer), Effect.orDie)

export const withDatabase = (adminUrl: string, database: string): string => {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** Drops the database at `url` now, cutting its connections (a database going away under a server). */
export const dropDatabase = (url: string): Effect.Effect<void, never, TestPostgres> =>
  Effect.gen(function*() {
    const { adminUrl } = yield* TestPostgres
    yield* execute(adminUrl, `DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`)
  })

/** A new, empty database on the test server for this scope (dropped afterwards); yields its URL. */
export const freshDatabase: Effect.Effect<string, never, Scope.Scope | TestPostgres> = Effect.gen(function*() {
  const { adminUrl } = yield* TestPostgres
  const name = `maikit_test_${Crypto.randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(
    execute(adminUrl, `CREATE DATABASE ${name}`),
    () => execute(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  )
  return withDatabase(adminUrl, name)
})
