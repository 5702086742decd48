/**
 * A reference between the two: a bare Effect `HttpApi` serving the launcher's health route
 * (`{status, time}`, the same schema-encoded answer) with `HttpRouter.serve` on `NodeHttpServer`, without
 * MaiKit's middleware, logger off. Prints `READY <port>` when listening.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import * as Http from "node:http"

class Api extends HttpApi.make("bare").add(
  HttpApiGroup.make("system").add(
    HttpApiEndpoint.get("health", "/api/v1/system/health", {
      success: Schema.Struct({ status: Schema.Literal("success"), time: Schema.String })
    })
  )
) {}

const routes = HttpApiBuilder.layer(Api).pipe(
  Layer.provide(HttpApiBuilder.group(Api, "system", (handlers) =>
    handlers.handle("health", () =>
      Effect.map(Clock.currentTimeMillis, (millis) => ({
        status: "success" as const,
        time: new Date(millis).toISOString().replace("Z", "+00:00")
      }))))
  )
)

const server = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0 }))
)

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
