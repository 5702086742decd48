/**
 * The candidate of `deployer.ts`'s responsiveness run: MaiKit's launcher routes (system, instances, deploy) with a
 * Deployer over the bench's fixture remote and wheels (`BENCH_WORLD`, JSON). Prints `READY <port>` when listening.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Path from "node:path"
import { SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { Launcher, LauncherDeploy, MaikitServer } from "@maikit/http-adapter"
import { deployerLayer, deployerOptions, type World } from "../../../packages/core/test/helpers/deployer.ts"

const world = JSON.parse(process.env["BENCH_WORLD"] ?? "{}") as World

const server = MaikitServer.layer({
  families: [Launcher.family, Launcher.instancesFamily, LauncherDeploy.family],
  host: "127.0.0.1",
  port: 0
}).pipe(
  Layer.provideMerge(Layer.mergeAll(
    deployerLayer(Path.join(world.root, "server-data"), deployerOptions(world)),
    SystemMetrics.SystemMetrics.layer,
    UpdateChecker.UpdateChecker.layer()
  ))
)

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
