/**
 * A typed client of a MaiKit server's resource routes: a MaiBot instance's emoji and person records, and its
 * config files (read, patch, kept versions, diff, restore). Errors are the routes' declared bodies.
 */
import { Context, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as MaikitClient from "../MaikitClient.ts"
import { LauncherResourcesApi } from "./LauncherResourcesApi.ts"

export class LauncherResourcesClient
  extends Context.Service<LauncherResourcesClient, HttpApiClient.ForApi<typeof LauncherResourcesApi>>()(
    "@maikit/http-adapter/LauncherResourcesClient"
  )
{
  static readonly layer = (options: MaikitClient.Options) =>
    Layer.effect(LauncherResourcesClient, MaikitClient.make(LauncherResourcesApi, options))
}
