/**
 * A MariaDB for benchmarks: `MAIKIT_BENCH_MYSQL_URL` or `MAIKIT_TEST_MYSQL_URL` (an admin URL of a running MySQL 8 /
 * MariaDB server), else a private server from Debian's `mariadb-server` in a temp dir on a loopback port (as the
 * `mysql` user when run as root), with the server's default durability, stopped by PID. Each benchmark gets a
 * fresh database on it.
 */
import { spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Mariadb {
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

const client = (admin: string, statement: string) => {
  const url = new URL(admin)
  return spawnSync("mariadb", [
    "-h", url.hostname, "-P", url.port === "" ? "3306" : url.port, "-u", decodeURIComponent(url.username),
    ...(url.password === "" ? [] : [`-p${decodeURIComponent(url.password)}`]), "-e", statement
  ], { encoding: "utf8" })
}

const onServer = (admin: string) => (): string => {
  const name = `maikit_bench_${Crypto.randomBytes(4).toString("hex")}`
  const result = client(admin, `CREATE DATABASE ${name} CHARACTER SET utf8mb4`)
  if (result.status !== 0) throw new Error(`cannot create a database: ${result.stderr}`)
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

export const start = async (): Promise<Mariadb> => {
  const given = process.env["MAIKIT_BENCH_MYSQL_URL"] ?? process.env["MAIKIT_TEST_MYSQL_URL"]
  if (given !== undefined && given !== "") return { createDatabase: onServer(given), stop: async () => {} }
  if (!Fs.existsSync("/usr/sbin/mariadbd")) {
    throw new Error("MariaDB is not installed: apt-get install mariadb-server, or set MAIKIT_BENCH_MYSQL_URL")
  }
  const root = process.getuid?.() === 0
  const port = await freePort()
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-mariadb-"))
  if (root) spawnSync("chown", ["mysql:", directory])
  const common = [
    "--no-defaults",
    `--datadir=${Path.join(directory, "data")}`,
    `--user=${root ? "mysql" : Os.userInfo().username}`,
    "--innodb-buffer-pool-size=256M",
    "--skip-name-resolve"
  ]
  const init = spawnSync("mariadb-install-db", [...common, "--auth-root-authentication-method=normal", "--skip-test-db"], {
    encoding: "utf8",
    cwd: directory
  })
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}`)
  const child = spawn("/usr/sbin/mariadbd", [
    ...common, "--bind-address=127.0.0.1", `--port=${port}`, `--socket=${Path.join(directory, "mysqld.sock")}`,
    `--pid-file=${Path.join(directory, "mysqld.pid")}`, `--log-error=${Path.join(directory, "error.log")}`,
    "--skip-log-bin", "--max-connections=400"
  ], { stdio: "ignore" })
  const admin = `mysql://root@127.0.0.1:${port}/mysql`
  for (let attempt = 0; attempt < 300 && client(admin, "SELECT 1").status !== 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    createDatabase: onServer(admin),
    stop: async () => {
      const pid = child.pid
      if (pid !== undefined) {
        child.kill("SIGTERM")
        for (let attempt = 0; attempt < 200; attempt++) {
          try {
            process.kill(pid, 0)
          } catch {
            break
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}
