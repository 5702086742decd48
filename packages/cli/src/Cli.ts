/**
 * The `maikit` command tree. Every command has `--help`; `--completions bash|zsh|fish` prints a completion
 * script (also as `maikit completions <shell>`). The tree holds definitions only: each command imports what it
 * does when it runs (`commands/flags.ts` `onUse`), so printing help or running one command loads no other.
 */
import * as Argument from "effect/cli/Argument"
import * as CliConfig from "effect/cli/CliConfig"
import * as Command from "effect/cli/Command"
import * as Completions from "effect/cli/Completions"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { MaikitConfig, MaikitVersion } from "@maikit/core/platform"
import * as ConfigCommands from "./commands/config.ts"
import * as ControlPlaneCommands from "./commands/controlPlane.ts"
import { controlPlane } from "./commands/controlPlaneImport.ts"
import * as DeployCommands from "./commands/deploy.ts"
import { allowedHost, allowedOrigin, onUse, optionalText } from "./commands/flags.ts"
import * as InstanceCommands from "./commands/instances.ts"
import * as LightCommands from "./commands/light.ts"
import * as StatusCommands from "./commands/status.ts"

export const serveFlags = {
  host: optionalText("host", "Address to listen on (default 127.0.0.1; any other needs --token)"),
  port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("Port to listen on (default 23456)"), Flag.optional),
  dataDir: optionalText("data-dir", "Directory for the database and logs (default ./data)"),
  token: optionalText("token", "Access token clients must present (Bearer, X-Maikit-Token or ?token=)"),
  config: optionalText("config", "TOML configuration file (default ./maikit.toml when present)"),
  logLevel: Flag.Literals("log-level", MaikitConfig.LogLevelName.literals).pipe(
    Flag.withDescription("trace, debug, info, warn, error, fatal or none (default info)"),
    Flag.optional
  ),
  allowedHost,
  allowedOrigin
}

export const serve = Command.make(
  "serve",
  serveFlags,
  (flags) => onUse(() => import("./handlers/serve.ts"))((server) => server.serve(flags))
).pipe(
  Command.withDescription("Start the all-in-one MaiKit server (launcher API on port 23456 by default)"),
  Command.withExamples([
    { command: "maikit serve", description: "Serve on 127.0.0.1:23456 with data in ./data" },
    { command: "maikit serve --host 0.0.0.0 --token \"$MAIKIT_TOKEN\"", description: "Serve on every interface" }
  ])
)

export const version = Command.make("version", {}, () => Console.log(`maikit ${MaikitVersion.current.version}`)).pipe(
  Command.withDescription("Print MaiKit's version")
)

export const completions = Command.make(
  "completions",
  { shell: Argument.Literals("shell", ["bash", "zsh", "fish"]).pipe(Argument.withDescription("Target shell")) },
  ({ shell }) => Console.log(Completions.generate("maikit", shell, Completions.fromCommand(root)))
).pipe(Command.withDescription("Print a shell completion script, e.g. `maikit completions bash >> ~/.bashrc`"))

const base = Command.make("maikit").pipe(
  Command.withDescription("MaiKit: run and supervise MaiBot, its control plane and the AI status light")
)

const families = [
  ControlPlaneCommands.tenants,
  ControlPlaneCommands.agents,
  ControlPlaneCommands.keys,
  controlPlane,
  LightCommands.light,
  StatusCommands.status,
  InstanceCommands.instances,
  InstanceCommands.logs,
  InstanceCommands.attach,
  DeployCommands.versions,
  DeployCommands.deploy,
  DeployCommands.backups,
  ConfigCommands.config
] as const

/** The tree completion scripts describe (`completions` itself aside: it is made from this). */
export const root: Command.Command.Any = base.pipe(Command.withSubcommands([serve, version, ...families]))

export const app = base.pipe(Command.withSubcommands([serve, version, completions, ...families]))

/** Runs the CLI with `argv` (without the `node` and script entries). */
export const run = (argv: ReadonlyArray<string>) =>
  Command.runWith(app, { version: MaikitVersion.current.version })(argv).pipe(
    Effect.provideService(CliConfig.CliConfig, cliConfig),
    Effect.asVoid
  )

/**
 * Effect's built-in global flags without its `--log-level`: the commands that log take their own (the relay's
 * is seed 004's, `serve`'s sets `log_level`), and a second one in the same help only confuses.
 */
const cliConfig = CliConfig.make({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.LogLevel) })
