/**
 * A typed client of a MaiKit server's deploy routes: versions, deploy jobs and their status, cancel and retry,
 * instance updates and their backups. Errors are the routes' declared bodies (`{detail}` with its status).
 */
import { Context, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as MaikitClient from "../MaikitClient.ts"
import { LauncherDeployApi } from "./LauncherDeployApi.ts"

export class LauncherDeployClient extends Context.Service<LauncherDeployClient, HttpApiClient.ForApi<typeof LauncherDeployApi>>()(
  "@maikit/http-adapter/LauncherDeployClient"
) {
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(LauncherDeployClient, MaikitClient.make(LauncherDeployApi, options))
}
