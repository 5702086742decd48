/**
 * A PostgreSQL for benchmarks: `MAIKIT_BENCH_DATABASE_URL` or `MAIKIT_TEST_DATABASE_URL` (an admin URL of a
 * running server), else a private server from Debian's binaries in a temp dir on a loopback port (as the
 * `postgres` user when run as root), stopped by PID. Each benchmark gets a fresh database on it.
 */
import { spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Postgres {
  /** A new database on the server; returns its URL. */
  readonly createDatabase: () => string
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const binDir = (): string => {
  const root = "/usr/lib/postgresql"
  const newest = (Fs.existsSync(root) ? Fs.readdirSync(root) : [])
    .filter((version) => Fs.existsSync(Path.join(root, version, "bin", "initdb")))
    .toSorted((a, b) => Number(b) - Number(a))[0]
  if (newest === undefined) {
    throw new Error("PostgreSQL is not installed: apt-get install postgresql, or set MAIKIT_BENCH_DATABASE_URL")
  }
  return Path.join(root, newest, "bin")
}

const root = process.getuid?.() === 0
const asServerUser = (binary: string, args: ReadonlyArray<string>): [string, ReadonlyArray<string>] =>
  root ? ["runuser", ["-u", "postgres", "--", binary, ...args]] : [binary, args]

const databaseUrl = (admin: string, name: string) => {
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

const onServer = (bin: string, admin: string) => (): string => {
  const name = `maikit_bench_${Crypto.randomBytes(4).toString("hex")}`
  const result = spawnSync(Path.join(bin, "psql"), [admin, "-qc", `CREATE DATABASE ${name}`], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`cannot create a database: ${result.stderr}`)
  return databaseUrl(admin, name)
}

export const start = async (): Promise<Postgres> => {
  const bin = binDir()
  const given = process.env["MAIKIT_BENCH_DATABASE_URL"] ?? process.env["MAIKIT_TEST_DATABASE_URL"]
  if (given !== undefined && given !== "") return { createDatabase: onServer(bin, given), stop: async () => {} }

  const port = await freePort()
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-postgres-"))
  const data = Path.join(directory, "data")
  if (root) spawnSync("chown", ["postgres:", directory])
  const [initdb, initArgs] = asServerUser(Path.join(bin, "initdb"), [
    "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"
  ])
  const init = spawnSync(initdb, initArgs, { encoding: "utf8" })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const [server, serverArgs] = asServerUser(Path.join(bin, "postgres"), [
    "-D", data, "-k", directory, "-p", String(port), "-h", "127.0.0.1", "-c", "max_connections=200"
  ])
  spawn(server, serverArgs, { stdio: "ignore" })
  for (let attempt = 0; attempt < 200; attempt++) {
    if (spawnSync(Path.join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port), "-q"]).status === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`
  return {
    createDatabase: onServer(bin, admin),
    stop: async () => {
      const pid = Number(Fs.readFileSync(Path.join(data, "postmaster.pid"), "utf8").split("\n")[0])
      process.kill(pid, "SIGINT")
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          process.kill(pid, 0)
        } catch {
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}
