import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "../../core/test/helpers/mqtt.ts"
import { bin } from "./helpers.ts"

/** The real `maikit` binary, run from source on this Node, as a user would run it. */
const maikit = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--conditions=source", bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000
  })

describe("maikit CLI", () => {
  it("--help lists the commands", () => {
    const result = maikit(["--help"])
    assert.strictEqual(result.status, 0, result.stderr)
    for (const command of ["serve", "version", "completions"]) assert.include(result.stdout, command)
  })

  it("every command has --help", () => {
    for (const command of ["serve", "version", "completions"]) {
      const result = maikit([command, "--help"])
      assert.strictEqual(result.status, 0, `${command}: ${result.stderr}`)
      assert.include(result.stdout, command)
    }
    assert.include(maikit(["serve", "--help"]).stdout, "--token")
  })

  it("lists each flag once: the relay's --log-level is its own, not also a global one", () => {
    for (const command of [["light", "serve"], ["serve"]]) {
      const help = maikit([...command, "--help"])
      assert.strictEqual(help.status, 0, help.stderr)
      assert.lengthOf(help.stdout.match(/--log-level/g) ?? [], 1, `${command.join(" ")}:\n${help.stdout}`)
    }
  })

  it("version prints the release", () => {
    const result = maikit(["version"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^maikit \d+\.\d+\.\d+/)
  })

  it("completions prints a script for each shell", () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const result = maikit(["completions", shell])
      assert.strictEqual(result.status, 0, `${shell}: ${result.stderr}`)
      assert.include(result.stdout, "maikit")
      assert.include(result.stdout, "serve")
    }
  })

  it("refuses a non-loopback host without a token, naming the fix", () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-"))
    const result = maikit(["serve", "--host", "0.0.0.0", "--data-dir", dataDir])
    assert.strictEqual(result.status, 2)
    assert.include(result.stderr, "without an access token")
    assert.include(result.stderr, "--token")
  })

  it("refuses a bad configuration value, naming the key", () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-"))
    const result = maikit(["serve", "--data-dir", dataDir], { MAIKIT_LOG_LEVEL: "chatty" })
    assert.strictEqual(result.status, 2)
    assert.include(result.stderr, "MAIKIT_LOG_LEVEL")
  })

  it("refuses a bad allowed origin or host, naming the key", () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-"))
    const fromEnv = maikit(["serve", "--data-dir", dataDir], { MAIKIT_ALLOWED_ORIGINS: "http://localhost:*,localhost:5173" })
    assert.strictEqual(fromEnv.status, 2)
    assert.include(fromEnv.stderr, "MAIKIT_ALLOWED_ORIGINS")
    const fromFlag = maikit(["serve", "--data-dir", dataDir, "--allowed-host", "evil example"])
    assert.strictEqual(fromFlag.status, 2)
    assert.include(fromFlag.stderr, "allowed_hosts")
  })

  it.live("serve answers the hosts and origins given with --allowed-host and --allowed-origin", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-"))
      const child = spawn(process.execPath, [
        "--conditions=source",
        bin,
        "serve",
        "--port",
        String(port),
        "--data-dir",
        dataDir,
        "--allowed-host",
        "maikit.test",
        "--allowed-origin",
        "http://maikit.test:5173,http://console.test"
      ], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const get = (headers: Record<string, string>) =>
        Effect.promise(() =>
          new Promise<number>((resolve) => {
            const request = Http.get({ host: "127.0.0.1", port, path: "/api/v1/system/health", headers }, (response) => {
              response.resume()
              resolve(response.statusCode ?? 0)
            })
            request.on("error", () => resolve(0))
          })
        )
      const deadline = Date.now() + 20_000
      while ((yield* get({})) !== 200 && Date.now() < deadline) yield* Effect.sleep("100 millis")
      assert.strictEqual(yield* get({ host: `maikit.test:${port}` }), 200)
      assert.strictEqual(yield* get({ host: `other.test:${port}` }), 421)
      assert.strictEqual(yield* get({ origin: "http://maikit.test:5173" }), 200)
      assert.strictEqual(yield* get({ origin: "http://console.test" }), 200)
      assert.strictEqual(yield* get({ origin: "http://localhost:5173" }), 403, "the list replaces the defaults")
    }).pipe(Effect.scoped), 40_000)

  it.live("serve answers health, creates the database and log file, and stops on SIGINT", () =>
    Effect.gen(function*() {
      const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-"))
      const port = yield* freePort()
      const child = spawn(process.execPath, ["--conditions=source", bin, "serve", "--port", String(port), "--data-dir", dataDir], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const health = yield* Effect.promise(async () => {
        for (let attempt = 0; attempt < 100; attempt++) {
          try {
            const response = await fetch(`http://127.0.0.1:${port}/api/v1/system/health`)
            return (await response.json()) as { status: string }
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        }
        return { status: "unreachable" }
      })
      assert.strictEqual(health.status, "success")
      assert.isTrue(Fs.existsSync(Path.join(dataDir, "maikit.db")))
      child.kill("SIGINT")
      const code = yield* Effect.promise(() => exited)
      // 128 + SIGINT, after the scope closed: the log file below was flushed by the shutdown.
      assert.strictEqual(code, 130)
      assert.include(Fs.readFileSync(Path.join(dataDir, "logs", "maikit.log"), "utf8"), "MaiKit listening")
    }))
})
