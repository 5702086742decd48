/** A typed client of a status relay's routes (`/api`): events in, status and configs out, errors `{code: -1}`. */
import { Context, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as MaikitClient from "../MaikitClient.ts"
import { StatusRelayApi } from "./StatusRelayApi.ts"

export class StatusRelayClient extends Context.Service<StatusRelayClient, HttpApiClient.ForApi<typeof StatusRelayApi>>()(
  "@maikit/http-adapter/StatusRelayClient"
) {
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(StatusRelayClient, MaikitClient.make(StatusRelayApi, options))
}
