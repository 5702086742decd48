/**
 * The candidate as `maikit serve` runs it: every family, the WebSocket mounts, SQLite and the log file, on a
 * loopback port with its data in a temp dir. Prints `READY <port>` when listening.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AllInOne } from "@maikit/cli"

const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-serve-"))
process.on("exit", () => Fs.rmSync(dataDir, { recursive: true, force: true }))

Effect.gen(function*() {
  const context = yield* Layer.build(AllInOne.layer({ host: "127.0.0.1", port: 0, dataDir, logLevel: "warn" }))
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
