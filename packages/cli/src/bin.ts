#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "./Cli.ts"

Cli.run(process.argv.slice(2)).pipe(
  Effect.catchTag("MaikitConfigError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`maikit: ${error.message}\n`)
      process.exitCode = 2
    })),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
