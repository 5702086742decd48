/**
 * A real MariaDB for tests: the server named by `MAIKIT_TEST_MYSQL_URL` (an admin URL, e.g.
 * `mysql://root@127.0.0.1:3306/mysql`, MySQL 8 works too) or, without it, a private server from Debian's
 * `mariadb-server` binaries in a temp dir on a free loopback port (`mariadb-install-db` + `mariadbd`, as the
 * `mysql` user when the tests run as root). The private server is started once per test file (each file runs in
 * its own process) on first use and stopped by PID after the file's last test; each suite gets a fresh database.
 */
import { Context, Effect, Layer, Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Mysql from "mysql2/promise"
import { afterAll } from "vitest"
import { freePort } from "./mqtt.ts"

const notInstalled =
  "MariaDB is not installed: the control-plane tests need a real server. Install it (apt-get install " +
  "mariadb-server) or set MAIKIT_TEST_MYSQL_URL to an admin URL of a running MySQL 8 / MariaDB server (e.g. " +
  "mysql://root@127.0.0.1:3306/mysql)."

const isExecutable = (file: string) => {
  try {
    Fs.accessSync(file, Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** Debian's layout under `/` or under the root the test set-up unpacked the packages into (`vitest.services.ts`). */
const installation = (): { readonly root: string; readonly installDb: string; readonly server: string } => {
  const roots = [process.env["MAIKIT_TEST_PACKAGE_ROOT"] ?? "", "/"].filter((root) => root !== "")
  for (const root of roots) {
    const installDb = Path.join(root, "usr/bin/mariadb-install-db")
    const server = Path.join(root, "usr/sbin/mariadbd")
    if (isExecutable(installDb) && isExecutable(server)) return { root, installDb, server }
  }
  throw new Error(notInstalled)
}

const isRoot = () => process.getuid?.() === 0

const idOf = (flag: "-u" | "-g") => Number(spawnSync("id", [flag, "mysql"], { encoding: "utf8" }).stdout.trim())

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

interface Running {
  readonly adminUrl: string
  readonly stop: () => Promise<void>
}

const startPrivate = async (): Promise<Running> => {
  const { root, installDb, server } = installation()
  const port = await Effect.runPromise(freePort())
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-mariadb-"))
  const data = Path.join(directory, "data")
  // The server refuses to run as root unless told to; Debian's package brings a `mysql` user for it.
  const user = isRoot() ? (Number.isInteger(idOf("-u")) && idOf("-u") > 0 ? "mysql" : "root") : Os.userInfo().username
  if (isRoot() && user === "mysql") Fs.chownSync(directory, idOf("-u"), idOf("-g"))
  const unpacked = root === "/"
    ? []
    : [
      `--basedir=${Path.join(root, "usr")}`,
      `--lc-messages-dir=${Path.join(root, "usr/share/mysql")}`,
      ...[Path.join(root, "usr/lib/mysql/plugin")].filter((plugins) => Fs.existsSync(plugins)).map((plugins) => `--plugin-dir=${plugins}`)
    ]
  const common = [
    "--no-defaults",
    `--datadir=${data}`,
    `--user=${user}`,
    ...unpacked,
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=16M",
    // A throwaway server: nothing is synced to disk (DDL, which creates files, is what the tests wait for most).
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-flush-method=nosync",
    "--innodb-doublewrite=0",
    "--skip-sync-frm",
    "--skip-name-resolve"
  ]
  const installed = spawnSync(
    installDb,
    [...common, "--auth-root-authentication-method=normal", "--skip-test-db", `--tmpdir=${directory}`],
    { encoding: "utf8", cwd: directory }
  )
  if (installed.status !== 0) {
    Fs.rmSync(directory, { recursive: true, force: true })
    throw new Error(`mariadb-install-db failed: ${installed.stderr || installed.stdout || installed.error?.message}`)
  }
  const child: ChildProcess = spawn(server, [
    ...common,
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--socket=${Path.join(directory, "mysqld.sock")}`,
    `--pid-file=${Path.join(directory, "mysqld.pid")}`,
    `--log-error=${Path.join(directory, "error.log")}`,
    `--tmpdir=${directory}`,
    "--skip-log-bin",
    "--innodb-fast-shutdown=3",
    "--max-connections=400"
  ], { stdio: "ignore" })
  const adminUrl = `mysql://root@127.0.0.1:${port}/mysql`
  const stop = async () => {
    const pid = child.pid
    if (pid !== undefined && alive(pid)) {
      child.kill("SIGTERM")
      for (let attempt = 0; attempt < 200 && alive(pid); attempt++) await new Promise((resolve) => setTimeout(resolve, 50))
      if (alive(pid)) child.kill("SIGKILL")
    }
    Fs.rmSync(directory, { recursive: true, force: true })
  }
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) break
    const ready = await Mysql.createConnection({ host: "127.0.0.1", port, user: "root" }).then(
      (connection) => connection.end().then(() => true),
      () => false
    )
    if (ready) return { adminUrl, stop }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const log = Fs.existsSync(Path.join(directory, "error.log"))
    ? Fs.readFileSync(Path.join(directory, "error.log"), "utf8").split("\n").slice(-8).join("\n")
    : ""
  await stop()
  throw new Error(`MariaDB did not start on 127.0.0.1:${port}:\n${log}`)
}

let shared: Promise<Running> | undefined

afterAll(async () => {
  const running = shared
  shared = undefined
  if (running !== undefined) await (await running).stop()
})

/** The server of this test file: `MAIKIT_TEST_MYSQL_URL`, else a private one started on first use. */
export const sharedMysql: Effect.Effect<string> = Effect.suspend(() => {
  const url = process.env["MAIKIT_TEST_MYSQL_URL"]
  if (url !== undefined && url !== "") return Effect.succeed(url)
  shared ??= startPrivate()
  return Effect.map(Effect.promise(() => shared as Promise<Running>), (running) => running.adminUrl)
})

/** The MySQL/MariaDB server of a test file. */
export class TestMysql extends Context.Service<TestMysql, { readonly adminUrl: string }>()(
  "@maikit/core/test/TestMysql"
) {
  static readonly layer = Layer.effect(TestMysql, Effect.map(sharedMysql, (adminUrl) => ({ adminUrl })))
}

/** Runs statements on the server at `url` (admin work and the original-shaped fixtures of the import tests). */
export const execute = (url: string, ...statements: ReadonlyArray<string | readonly [string, ReadonlyArray<unknown>]>) =>
  Effect.promise(async () => {
    const connection = await Mysql.createConnection({ uri: url.replace(/^[a-z0-9+]+:/i, "mysql:"), charset: "utf8mb4" })
    try {
      for (const statement of statements) {
        if (typeof statement === "string") await connection.query(statement)
        else await connection.query(statement[0], [...statement[1]] as Array<Mysql.QueryValues>)
      }
    } finally {
      await connection.end()
    }
  })

/** The rows one statement answers on the server at `url`. */
export const query = (url: string, statement: string) =>
  Effect.promise(async () => {
    const connection = await Mysql.createConnection({ uri: url.replace(/^[a-z0-9+]+:/i, "mysql:"), charset: "utf8mb4" })
    try {
      const [rows] = await connection.query(statement)
      return rows
    } finally {
      await connection.end()
    }
  })

export const withDatabase = (adminUrl: string, database: string): string => {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** A new, empty database on the test server for this scope (dropped afterwards); yields its URL. */
export const freshMysqlDatabase: Effect.Effect<string, never, Scope.Scope | TestMysql> = Effect.gen(function*() {
  const { adminUrl } = yield* TestMysql
  const name = `maikit_test_${Crypto.randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(
    execute(adminUrl, `CREATE DATABASE ${name} CHARACTER SET utf8mb4`),
    () => execute(adminUrl, `DROP DATABASE IF EXISTS ${name}`)
  )
  return withDatabase(adminUrl, name)
})
