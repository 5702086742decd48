/**
 * Typed clients of a MaiKit server's launcher routes: `LauncherClient` for the system and version routes,
 * `LauncherInstancesClient` for the instances. Errors are the routes' declared bodies (`{detail}` with its status).
 */
import { Context, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as MaikitClient from "../MaikitClient.ts"
import { LauncherApi, LauncherInstancesApi } from "./LauncherApi.ts"

export class LauncherClient extends Context.Service<LauncherClient, HttpApiClient.ForApi<typeof LauncherApi>>()(
  "@maikit/http-adapter/LauncherClient"
) {
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(LauncherClient, MaikitClient.make(LauncherApi, options))
}

export class LauncherInstancesClient
  extends Context.Service<LauncherInstancesClient, HttpApiClient.ForApi<typeof LauncherInstancesApi>>()(
    "@maikit/http-adapter/LauncherInstancesClient"
  )
{
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(LauncherInstancesClient, MaikitClient.make(LauncherInstancesApi, options))
}
