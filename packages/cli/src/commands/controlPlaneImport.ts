/**
 * `maikit control-plane import --from <url>`: moves an original MaimConfig deployment's database (MySQL/MariaDB, or
 * maim_db's SQLite file) into MaiKit's control-plane store, the one `DATABASE_URL` / `--data-dir` names. The
 * source is only read; a second run changes nothing; `--dry-run` tells what a run would do.
 */
import { Console, Effect, Layer, Option, Redacted, References } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { ControlPlaneDatabase, MaimConfigImport } from "@maikit/core/control-plane"
import { MaikitConfig } from "@maikit/core/platform"
import { printJson, table } from "./output.ts"

const countRows = (summary: MaimConfigImport.Summary) =>
  (["tenants", "agents", "agent_configs", "api_keys", "activity", "plugin_settings"] as const).map((kind) => {
    const counts = summary[kind]
    return [kind, String(counts.read), String(counts.imported), String(counts.unchanged), String(counts.skipped)]
  })

const printSummary = (summary: MaimConfigImport.Summary) =>
  Effect.gen(function*() {
    yield* Console.log(
      summary.dry_run
        ? `Dry run: nothing was written. Importing ${summary.source} would do this:`
        : `Imported from ${summary.source}:`
    )
    yield* Console.log(table(["RECORDS", "READ", summary.dry_run ? "WOULD IMPORT" : "IMPORTED", "UNCHANGED", "SKIPPED"], countRows(summary)))
    for (const note of summary.notes) yield* Console.log(`skipped: ${note}`)
  })

const importCommand = Command.make(
  "import",
  {
    from: Flag.String("from").pipe(
      Flag.withDescription(
        "The original's database: mysql+aiomysql://user:password@host:3306/maimbot_api (or mysql://…), or maim_db's " +
          "sqlite+aiosqlite:///data/MaiBot.db. Only read, never written"
      )
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Run the import and roll it back: print what it would do"),
      Flag.withDefault(false)
    ),
    dataDir: Flag.String("data-dir").pipe(
      Flag.withDescription("Directory of MaiKit's SQLite database (default ./data); DATABASE_URL selects another database"),
      Flag.optional
    ),
    config: Flag.String("config").pipe(
      Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the summary as JSON"), Flag.withDefault(false))
  },
  (flags) =>
    MaimConfigImport.run(Redacted.make(flags.from), { dryRun: flags.dryRun }).pipe(
      Effect.flatMap((summary) => flags.json ? printJson(summary) : printSummary(summary)),
      Effect.provide(ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layer).pipe(
        Layer.provide(MaikitConfig.MaikitConfig.layer({
          overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
        }))
      )),
      Effect.provideService(References.MinimumLogLevel, "Warn"),
      Effect.mapError((error) =>
        error._tag === "MaikitConfigError" ? error : new CliError.UserError({ cause: error, userMessage: error.message })
      )
    )
).pipe(Command.withDescription("Import tenants, agents, configs, activity, plugin settings and API keys from an original MaimConfig database"))

export const controlPlane = Command.make("control-plane").pipe(
  Command.withDescription("The control plane's database: import from an original MaimConfig deployment"),
  Command.withSubcommands([importCommand])
)
