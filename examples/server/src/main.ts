/**
 * The all-in-one MaiKit server. Settings come from `maikit.toml` and `MAIKIT_*` variables
 * (MAIKIT_HOST, MAIKIT_PORT, MAIKIT_DATA_DIR, MAIKIT_TOKEN, MAIKIT_LOG_LEVEL).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { AllInOne } from "@maikit/cli"

Layer.launch(AllInOne.layer()).pipe(
  Effect.catchTag("MaikitConfigError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`maikit: ${error.message}\n`)
      process.exitCode = 2
    })),
  NodeRuntime.runMain
)
