/**
 * A typed client of a MaiKit server's control plane (`/api/v2`, `/health`, `/info`): answers and business errors
 * arrive in the original's envelope, as the routes declare it.
 */
import { Context, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as MaikitClient from "../MaikitClient.ts"
import { ControlPlaneApi } from "./ControlPlaneApi.ts"

export class ControlPlaneClient extends Context.Service<ControlPlaneClient, HttpApiClient.ForApi<typeof ControlPlaneApi>>()(
  "@maikit/http-adapter/ControlPlaneClient"
) {
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(ControlPlaneClient, MaikitClient.make(ControlPlaneApi, options))
}
