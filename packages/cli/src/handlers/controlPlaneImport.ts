/** What `maikit control-plane import` does (the definition is in `commands/controlPlaneImport.ts`). */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ControlPlaneDatabase, MaimConfigImport } from "@maikit/core/control-plane"
import type * as Commands from "../commands/controlPlaneImport.ts"
import type { Input } from "../commands/flags.ts"
import { onDatabase, settings } from "./local.ts"
import { printJson, table } from "./output.ts"

const kinds = ["tenants", "agents", "agent_configs", "api_keys", "activity", "plugin_settings"] as const

const printSummary = (summary: MaimConfigImport.Summary) =>
  Effect.gen(function*() {
    yield* Console.log(
      summary.dry_run
        ? `Dry run: nothing was written. Importing ${summary.source} would do this:`
        : `Imported from ${summary.source}:`
    )
    yield* Console.log(table(
      ["RECORDS", "READ", summary.dry_run ? "WOULD IMPORT" : "IMPORTED", "UNCHANGED", "SKIPPED"],
      kinds.map((kind) => {
        const counts = summary[kind]
        return [kind, String(counts.read), String(counts.imported), String(counts.unchanged), String(counts.skipped)]
      })
    ))
    for (const note of summary.notes) yield* Console.log(`skipped: ${note}`)
  })

export const importDatabase = (flags: Input<typeof Commands.importFlags>) =>
  onDatabase(
    ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layer).pipe(Layer.provide(settings(flags))),
    MaimConfigImport.run(Redacted.make(flags.from), { dryRun: flags.dryRun }).pipe(
      Effect.flatMap((summary) => flags.json ? printJson(summary) : printSummary(summary))
    )
  )
