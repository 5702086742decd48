/**
 * Typed clients of a MaiKit server, made from the same `HttpApi`s the server serves: every route is a method
 * whose arguments, answer and declared error bodies are the schemas of its endpoint, so a host calls a remote
 * MaiKit from TypeScript without writing a request by hand, and the CLI's remote commands use them too. Each
 * family has its own client service (`LauncherClient.LauncherClient`, `LauncherClient.LauncherInstancesClient`,
 * `LauncherDeployClient.LauncherDeployClient`, `LauncherResourcesClient.LauncherResourcesClient`,
 * `ControlPlaneClient.ControlPlaneClient`, `StatusRelayClient.StatusRelayClient`) built with its `layer`; `make`
 * builds a client for any of the families' APIs.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { LauncherClient } from "@maikit/http-adapter/launcher"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* LauncherClient.LauncherInstancesClient
 *   const { instances } = yield* client.launcherInstances.listInstances()
 *   return instances.map((instance) => `${instance.name}: ${instance.status}`)
 * }).pipe(
 *   Effect.provide(LauncherClient.LauncherInstancesClient.layer({
 *     baseUrl: "http://127.0.0.1:23456",
 *     accessToken: process.env.MAIKIT_TOKEN
 *   })),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 */
import { Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { type HttpApi, type HttpApiGroup, HttpApiClient } from "effect/http-api"

export interface Options {
  /** The server, e.g. `http://127.0.0.1:23456`; a path prefix is kept. */
  readonly baseUrl: string | URL
  /** The server's access token, sent as a Bearer token on every request. */
  readonly accessToken?: string | Redacted.Redacted<string> | undefined
}

/** A client of `api` on the server `options` names. Needs an `HttpClient` (`FetchHttpClient.layer`, Node's). */
export const make = <ApiId extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  options: Options
) => {
  const token = typeof options.accessToken === "string" || options.accessToken === undefined
    ? options.accessToken
    : Redacted.value(options.accessToken)
  return HttpApiClient.make(api, {
    baseUrl: options.baseUrl,
    transformClient: (client) =>
      token === undefined ? client : HttpClient.mapRequest(client, HttpClientRequest.bearerToken(token))
  })
}
