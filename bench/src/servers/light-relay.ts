/**
 * The candidate as `maikit light serve` runs it: the relay app (bus, configs on SQLite, MQTT and BLE links, log
 * file) on a loopback port, with its files in a temp dir. Prints `READY <port>` when listening.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { LightRelay } from "../../../packages/light-relay/src/index.ts"

const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-light-"))
process.on("exit", () => Fs.rmSync(cwd, { recursive: true, force: true }))

Effect.gen(function*() {
  const context = yield* Layer.build(LightRelay.layer({ addr: "127.0.0.1:0", cwd, ble: false, console: false, logLevel: "warn" }))
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
