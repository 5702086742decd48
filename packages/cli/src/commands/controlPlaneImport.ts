/**
 * `maikit control-plane import --from <url>`: moves an original MaimConfig deployment's database (MySQL/MariaDB, or
 * maim_db's SQLite file) into MaiKit's control-plane store, the one `DATABASE_URL` / `--data-dir` names. The
 * source is only read; a second run changes nothing; `--dry-run` tells what a run would do. What it does is in
 * `handlers/controlPlaneImport.ts`, loaded when it runs.
 */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { json, local, onUse } from "./flags.ts"

const handlers = onUse(() => import("../handlers/controlPlaneImport.ts"))

export const importFlags = {
  ...local,
  json,
  from: Flag.String("from").pipe(
    Flag.withDescription(
      "The original's database: mysql+aiomysql://user:password@host:3306/maimbot_api (or mysql://…), or maim_db's " +
        "sqlite+aiosqlite:///data/MaiBot.db. Only read, never written"
    )
  ),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDescription("Run the import and roll it back: print what it would do"),
    Flag.withDefault(false)
  )
}

export const controlPlane = Command.make("control-plane").pipe(
  Command.withDescription("The control plane's database: import from an original MaimConfig deployment"),
  Command.withSubcommands([
    Command.make("import", importFlags, (flags) => handlers((run) => run.importDatabase(flags))).pipe(
      Command.withDescription(
        "Import tenants, agents, configs, activity, plugin settings and API keys from an original MaimConfig database"
      )
    )
  ])
)
