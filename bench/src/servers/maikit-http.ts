/**
 * The candidate: MaiKit's HTTP stack (launcher family + a JSON POST family, CORS, error shaping, body limit)
 * on a loopback port. Prints `READY <port>` when listening.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Layer, Option } from "effect"
import { HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { ApiFamily, Launcher, MaikitServer } from "@maikit/http-adapter"
import { Instance } from "../workload.ts"

class BenchApi extends HttpApi.make("bench").add(
  HttpApiGroup.make("bench").add(
    HttpApiEndpoint.post("register", "/api/v1/bench/instances", { payload: Instance, success: Instance })
  )
) {}

const benchFamily = ApiFamily.make({
  name: "bench",
  api: BenchApi,
  routes: HttpApiBuilder.layer(BenchApi).pipe(
    Layer.provide(
      HttpApiBuilder.group(BenchApi, "bench", (handlers) => handlers.handle("register", ({ payload }) => Effect.succeed(payload)))
    )
  ),
  owns: (path) => path.startsWith("/api/v1/bench"),
  errors: Launcher.errors
})

const server = MaikitServer.layer({
  families: [Launcher.family, benchFamily],
  host: "127.0.0.1",
  port: 0,
  accessToken: Option.none()
}).pipe(
  Layer.provide(Layer.mergeAll(
    MaikitConfig.MaikitConfig.layerFrom({ dataDir: "unused" }),
    SystemMetrics.SystemMetrics.layer,
    UpdateChecker.UpdateChecker.layer({ registryUrl: undefined })
  ))
)

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
