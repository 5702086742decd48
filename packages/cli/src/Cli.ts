/**
 * The `maikit` command tree. Every command has `--help`; `--completions bash|zsh|fish` prints a completion
 * script (also as `maikit completions <shell>`).
 */
import { Console, Effect, Layer, Option } from "effect"
import { Argument, CliConfig, Command, Completions, Flag, GlobalFlag } from "effect/cli"
import { MaikitConfig, MaikitVersion } from "@maikit/core/platform"
import * as AllInOne from "./AllInOne.ts"
import { allowedHost, allowedOrigin } from "./commands/accessFlags.ts"
import * as ConfigCommands from "./commands/config.ts"
import * as ControlPlaneCommands from "./commands/controlPlane.ts"
import { controlPlane } from "./commands/controlPlaneImport.ts"
import * as DeployCommands from "./commands/deploy.ts"
import * as InstanceCommands from "./commands/instances.ts"
import * as LightCommands from "./commands/light.ts"
import * as StatusCommands from "./commands/status.ts"

const host = Flag.String("host").pipe(
  Flag.withDescription("Address to listen on (default 127.0.0.1; any other needs --token)"),
  Flag.optional
)
const port = Flag.Int("port").pipe(
  Flag.withAlias("p"),
  Flag.withDescription("Port to listen on (default 23456)"),
  Flag.optional
)
const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription("Directory for the database and logs (default ./data)"),
  Flag.optional
)
const token = Flag.String("token").pipe(
  Flag.withDescription("Access token clients must present (Bearer, X-Maikit-Token or ?token=)"),
  Flag.optional
)
const config = Flag.String("config").pipe(
  Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
  Flag.optional
)

const logLevel = Flag.Literals("log-level", MaikitConfig.LogLevelName.literals).pipe(
  Flag.withDescription("trace, debug, info, warn, error, fatal or none (default info)"),
  Flag.optional
)

export const serve = Command.make(
  "serve",
  { host, port, dataDir, token, config, logLevel, allowedHost, allowedOrigin },
  (flags) =>
    Layer.launch(AllInOne.layer({
      host: Option.getOrUndefined(flags.host),
      port: Option.getOrUndefined(flags.port),
      dataDir: Option.getOrUndefined(flags.dataDir),
      accessToken: Option.getOrUndefined(flags.token),
      configFile: Option.getOrUndefined(flags.config),
      logLevel: Option.getOrUndefined(flags.logLevel),
      allowedHosts: flags.allowedHost,
      allowedOrigins: flags.allowedOrigin
    }))
).pipe(
  Command.withDescription("Start the all-in-one MaiKit server (launcher API on port 23456 by default)"),
  Command.withExamples([
    { command: "maikit serve", description: "Serve on 127.0.0.1:23456 with data in ./data" },
    { command: "maikit serve --host 0.0.0.0 --token \"$MAIKIT_TOKEN\"", description: "Serve on every interface" }
  ])
)

export const version = Command.make(
  "version",
  {},
  () => Console.log(`maikit ${MaikitVersion.current.version}`)
).pipe(Command.withDescription("Print MaiKit's version"))

export const completions = Command.make(
  "completions",
  { shell: Argument.Literals("shell", ["bash", "zsh", "fish"]).pipe(Argument.withDescription("Target shell")) },
  ({ shell }) => Console.log(Completions.generate("maikit", shell, Completions.fromCommand(root)))
).pipe(Command.withDescription("Print a shell completion script, e.g. `maikit completions bash >> ~/.bashrc`"))

const base = Command.make("maikit").pipe(
  Command.withDescription("MaiKit: run and supervise MaiBot, its control plane and the AI status light")
)

export const root: Command.Command.Any = base.pipe(
  Command.withSubcommands([
    serve,
    version,
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
  ])
)

export const app = base.pipe(
  Command.withSubcommands([
    serve,
    version,
    completions,
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
  ])
)

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
