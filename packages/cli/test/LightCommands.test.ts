import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { TestConsole } from "effect/testing"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { LightRelay } from "@maikit/light-relay"
import { eventually, freePort, signIn } from "../../core/test/helpers/mqtt.ts"
import * as Cli from "../src/Cli.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-light-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0
const fresh = () => {
  const dir = Path.join(root, `case-${++counter}`)
  Fs.mkdirSync(dir, { recursive: true })
  return dir
}

/** Runs `maikit <argv>` in this process; yields what it printed. */
const maikit = (...argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* Cli.run(argv)
    return (yield* TestConsole.logLines).map(String).join("\n")
  }).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, TestConsole.layer)))

const bin = Path.resolve(import.meta.dirname, "../src/bin.ts")

describe("maikit light config", () => {
  it.live("adds, sets, lists (secrets masked) and removes configs in the relay's database", () =>
    Effect.gen(function*() {
      const dir = fresh()
      const db = Path.join(dir, "config.db")
      const logs = Path.join(dir, "logs")
      const at = ["light", "config", "--db", db, "--log-file", logs]
      const added = yield* maikit(...at, "add", "mqtt", "broker=tcp://127.0.0.1:1883", "username=me", "password=s3cret")
      assert.include(added, "created MQTT config 1")
      assert.notInclude(added, "s3cret")
      yield* maikit(...at, "add", "device", "device_name=AI-Light", "mqtt_port=1884", "wifi_pass=wifi-secret")
      const set = yield* maikit(...at, "set", "mqtt", "1", "enabled=off", "topic=my/topic")
      assert.include(set, "enabled=false")
      assert.include(set, "topic=my/topic")

      const listed = yield* maikit(...at)
      assert.include(listed, "MQTT configs:")
      assert.include(listed, "password=********")
      assert.include(listed, "BLE configs: none")
      assert.include(listed, "mqtt_port=1884")
      assert.notInclude(listed, "wifi-secret")
      const json = JSON.parse(yield* maikit(...at, "--json")) as { mqtt: Array<{ enabled: boolean; password: string }> }
      assert.deepStrictEqual([json.mqtt[0]?.enabled, json.mqtt[0]?.password], [false, "********"])

      const invalid = yield* Effect.flip(maikit(...at, "add", "mqtt", "broker=nope"))
      assert.include(String(invalid.message ?? invalid), "broker")
      const unknown = yield* Effect.flip(maikit(...at, "set", "ble", "9", "enabled=true"))
      assert.include(String(unknown.message ?? unknown), "BLE config 9 not found")
      assert.include(yield* maikit(...at, "rm", "mqtt", "1"), "deleted MQTT config 1")
      assert.include(yield* maikit(...at), "MQTT configs: none")
      assert.include(Fs.readFileSync(Path.join(logs, "monitor.log"), "utf8"), "deleted MQTT config 1")
    }))

  it.live("maikit status posts one event to a running relay and reports a refusal", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(LightRelay.layer({ cwd: fresh(), addr: "127.0.0.1:0", ble: false, console: false }))
      const address = Context.get(context, HttpServer.HttpServer).address
      const url = `http://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}`
      const printed = yield* maikit("status", "using_tool", "--url", url, "--session", "s7", "--agent", "codex", "--label", "api")
      assert.include(printed, "status using_tool sent")
      const snapshot = yield* Effect.promise(() => fetch(`${url}/api/status`).then((r) => r.json())) as Effect.Effect<{
        data: { code: string; sessions: Array<{ session_id: string; agent: string; label: string }> }
      }>
      assert.strictEqual(snapshot.data.code, "using_tool")
      assert.deepStrictEqual(snapshot.data.sessions.map((s) => [s.session_id, s.agent, s.label]), [["s7", "codex", "api"]])
      // The relay serves the web console, which sees only the relay's family.
      const page = yield* Effect.promise(() => fetch(`${url}/console/`).then((r) => r.headers.get("content-type")))
      assert.include(page, "text/html")
      const info = yield* Effect.promise(() => fetch(`${url}/api/console/info`).then((r) => r.json() as Promise<{ families: Array<string> }>))
      assert.deepStrictEqual(info.families, ["status relay"])
      const refused = yield* Effect.flip(maikit("status", "busy", "--url", url, "--session", "bad\u0001id"))
      assert.include(String(refused.message ?? refused), "control characters")
      const unreachable = yield* Effect.flip(maikit("status", "busy", "--url", "http://127.0.0.1:9"))
      assert.include(String(unreachable.message ?? unreachable), "cannot reach the relay")
    }).pipe(Effect.scoped))
})

describe("maikit light serve", () => {
  it.live("runs the relay as a process until SIGTERM, with seed 004's file layout", () =>
    Effect.gen(function*() {
      const cwd = fresh()
      const port = yield* freePort()
      const child = spawn(process.execPath, ["--conditions=source", bin, "light", "serve", "--addr", `127.0.0.1:${port}`, "--no-ble"], {
        cwd,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const health = () =>
        Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.status === 200, () => false)
        )
      yield* eventually("the relay to answer", Effect.suspend(health), 20_000)
      yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/api/event`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: "init" })
        })
      )
      const exited = Effect.promise(() => new Promise<number | null>((resolve) => child.once("exit", resolve)))
      child.kill("SIGTERM")
      const code = yield* exited.pipe(Effect.timeout("10 seconds"))
      assert.isTrue(code === 0 || code === null || code === 130 || code === 143, `exit ${code}: ${output}`)
      assert.isTrue(Fs.existsSync(Path.join(cwd, "data", "config.db")))
      assert.include(Fs.readFileSync(Path.join(cwd, "logs", "monitor.log"), "utf8"), "AI status light relay listening")
      assert.include(output, `http://127.0.0.1:${port}`)
    }).pipe(Effect.scoped), 40_000)

  it.live("its embedded broker refuses a bind beyond loopback without credentials, and signs lights in with them", () =>
    Effect.gen(function*() {
      const brokerPort = yield* freePort()
      const refused = spawnSync(process.execPath, [
        "--conditions=source",
        bin,
        "light",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--no-ble",
        "--embedded-broker",
        `0.0.0.0:${brokerPort}`
      ], { cwd: fresh(), encoding: "utf8", timeout: 30_000 })
      assert.notStrictEqual(refused.status, 0)
      assert.include(refused.stderr + refused.stdout, "without credentials")

      const port = yield* freePort()
      const child = spawn(process.execPath, [
        "--conditions=source",
        bin,
        "light",
        "serve",
        "--addr",
        `127.0.0.1:${port}`,
        "--no-ble",
        "--embedded-broker",
        `127.0.0.1:${brokerPort}`,
        "--broker-user",
        "lights"
      ], { cwd: fresh(), stdio: "ignore", env: { ...process.env, MAIKIT_BROKER_PASSWORD: "from the environment" } })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const broker = `mqtt://127.0.0.1:${brokerPort}`
      yield* eventually(
        "the broker to listen",
        Effect.map(signIn(broker, { username: "lights", password: "from the environment" }), (result) => result._tag === "Connected").pipe(
          Effect.scoped
        ),
        20_000
      )
      const anonymous = yield* signIn(broker)
      assert.strictEqual(anonymous._tag, "Refused")
    }).pipe(Effect.scoped), 40_000)
})
