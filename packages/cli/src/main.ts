/** The full `maikit`: parses the command line with the command tree and runs the command. */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.ts"

/** Runs `maikit <argv>` until it is done, then exits (1 on a failure, 2 on a bad setting). */
export const main = (argv: ReadonlyArray<string>) =>
  Cli.run(argv).pipe(
    Effect.catchTag("MaikitConfigError", (error) =>
      Effect.sync(() => {
        process.stderr.write(`maikit: ${error.message}\n`)
        process.exitCode = 2
      })),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain
  )
