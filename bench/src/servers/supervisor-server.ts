/**
 * The candidate of `supervisor.ts`: MaiKit's launcher instance routes and terminal WebSocket on a loopback port,
 * with one registered instance, `flood`, whose MaiBot writes BENCH_FLOOD_MB of 100-byte lines (BENCH_FLOOD_TEXT=zh:
 * with Chinese text) and exits.
 * Prints `READY <port>` when listening.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { Database, MaikitConfig } from "@maikit/core/platform"
import { Launcher, MaikitServer } from "@maikit/http-adapter"
import { TerminalSocket } from "../../../packages/ws-adapter/src/index.ts"

const megabytes = process.env["BENCH_FLOOD_MB"] ?? "100"
const text = process.env["BENCH_FLOOD_TEXT"] === "zh" ? ["zh"] : []
const flood = Path.join(import.meta.dirname, "../../../packages/core/test/fixtures/flood.mjs")
const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-supervisor-"))
process.on("exit", () => Fs.rmSync(dataDir, { recursive: true, force: true }))

const services = InstanceSupervisor.InstanceSupervisor.layer({ startSeconds: 0 }).pipe(
  Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
  Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db"))),
  Layer.provideMerge(MaikitConfig.MaikitConfig.layerFrom({ dataDir }))
)

const server = MaikitServer.layer({
  families: [Launcher.instancesFamily],
  mounts: [TerminalSocket.mount()],
  host: "127.0.0.1",
  port: 0
}).pipe(Layer.provideMerge(services))

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  yield* Context.get(context, InstanceRegistry.InstanceRegistry).add({
    name: "flood",
    version: "bench",
    path: dataDir,
    host: "127.0.0.1",
    port: 8000,
    token: "",
    ownsPath: false,
    components: [{
      name: "main",
      kind: "main",
      path: dataDir,
      port: null,
      command: [process.execPath, flood, megabytes, ...text].map((word) => JSON.stringify(word)).join(" "),
      env: {},
      restart_policy: "no"
    }]
  })
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
