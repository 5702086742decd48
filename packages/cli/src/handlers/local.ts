/**
 * Commands that work on the local database: the settings `maikit serve` would use in this directory (with
 * `--data-dir` and `--config` applied), the services a command needs on them, and its failures as one line.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { MaikitConfig } from "@maikit/core/platform"
import type { Local } from "../commands/flags.ts"
import { oneLine } from "./output.ts"

export const settings = (flags: Local) =>
  MaikitConfig.MaikitConfig.layer({
    overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
  })

type Failure = { readonly message: string; readonly _tag: string }

/**
 * Runs `effect` with `services`, logging warnings and worse only. A failure becomes the one line `maikit` prints;
 * a bad setting stays a `MaikitConfigError`, which `maikit` reports with exit code 2.
 */
export const onDatabase = <ROut, LE extends Failure, A, E extends Failure, R extends ROut>(
  services: Layer.Layer<ROut, LE>,
  effect: Effect.Effect<A, E, R>
) =>
  effect.pipe(
    Effect.provide(services),
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.mapError(oneLine)
  )
