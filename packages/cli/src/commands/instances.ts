/**
 * `maikit instances …`, `maikit logs`, `maikit attach`: MaiBot instances from the command line.
 *
 * - `instances ls|add|rm` work on the local database (`--data-dir`), with or without a server; with
 *   `--server URL` (and `--token` or `$MAIKIT_TOKEN`) they ask that server instead.
 * - Processes belong to the MaiKit process that supervises them, so `instances start|stop|restart|status` ask the
 *   server that runs them (`--server`, default `http://127.0.0.1:23456`) — as `pm2` asks its daemon.
 *   `instances start --foreground` supervises the instance in this process instead, printing its output until
 *   Ctrl+C stops it.
 * - `logs` and `attach` are WebSocket clients of a server: `logs <id>` prints the instance's recent log lines
 *   (`-f` keeps following), `logs <id> <service>` one terminal's output; `attach` is an interactive terminal,
 *   detached with Ctrl+].
 *
 * What they do is in `handlers/instances.ts` and `handlers/terminals.ts`, loaded when one runs.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as DeployCommands from "./deploy.ts"
import { instanceId, json, local, onUse, optionalText, orServer, server } from "./flags.ts"

const handlers = onUse(() => import("../handlers/instances.ts"))
const terminals = onUse(() => import("../handlers/terminals.ts"))

const service = Argument.String("service").pipe(
  Argument.withDescription("A service of the instance (napcat-ada, napcat, …); default: main"),
  Argument.optional
)

export const listFlags = { ...local, ...orServer, json }

export const addFlags = {
  ...local,
  ...orServer,
  json,
  path: Argument.String("path").pipe(
    Argument.withDescription("The MaiBot folder (with bot.py); with --server, a path on the server's machine")
  ),
  name: optionalText("name", "Instance name (default: the folder's name)"),
  port: Flag.Int("port").pipe(Flag.withDescription("MaiBot's port (default 8000)"), Flag.withDefault(8000)),
  version: Flag.String("version").pipe(Flag.withDescription("MaiBot version label"), Flag.withDefault("unknown")),
  adapter: optionalText("adapter", "The NapCat adapter's folder (service napcat-ada)"),
  adapterPort: Flag.Int("adapter-port").pipe(Flag.withDescription("The adapter's port"), Flag.withDefault(8095)),
  adapterCommand: Flag.String("adapter-command").pipe(
    Flag.withDescription("How to start the adapter"),
    Flag.withDefault("python main.py")
  ),
  napcat: optionalText("napcat", "NapCat's folder (service napcat)"),
  napcatCommand: optionalText("napcat-command", "How to start NapCat, e.g. \"bash launcher.sh -q 123456\""),
  napcatPort: Flag.Int("napcat-port").pipe(Flag.withDescription("NapCat's port"), Flag.withDefault(3001)),
  restart: Flag.Literals("restart", ["no", "on-failure", "always"]).pipe(
    Flag.withDescription("Restart policy of every component"),
    Flag.withDefault("on-failure")
  )
}

export const removeFlags = {
  ...local,
  ...orServer,
  id: instanceId,
  deleteFiles: Flag.Boolean("delete-files").pipe(
    Flag.withDescription("Also delete its folders (done anyway for folders MaiKit created)"),
    Flag.withDefault(false)
  )
}

export const startFlags = {
  ...local,
  ...server,
  id: instanceId,
  foreground: Flag.Boolean("foreground").pipe(
    Flag.withDescription("Supervise it in this process (local database) instead of asking the server"),
    Flag.withDefault(false)
  )
}

export const actionFlags = { ...server, id: instanceId }
export const statusFlags = { ...server, id: instanceId, json }

export const instances = Command.make("instances").pipe(
  Command.withDescription("Manage MaiBot instances"),
  Command.withSubcommands([
    Command.make("ls", listFlags, (flags) => handlers((run) => run.list(flags))).pipe(
      Command.withDescription("List the registered instances and their status"),
      Command.withAlias("list")
    ),
    Command.make("add", addFlags, (flags) => handlers((run) => run.add(flags))).pipe(
      Command.withDescription("Register an existing MaiBot folder (and its adapter, NapCat) as an instance")
    ),
    Command.make("start", startFlags, (flags) => handlers((run) => run.start(flags))).pipe(
      Command.withDescription("Start an instance: MaiBot, then its adapter, then NapCat")
    ),
    Command.make("stop", actionFlags, (flags) => handlers((run) => run.stop(flags))).pipe(
      Command.withDescription("Stop an instance and every process it started")
    ),
    Command.make("restart", actionFlags, (flags) => handlers((run) => run.restart(flags))).pipe(
      Command.withDescription("Stop an instance, then start it")
    ),
    Command.make("status", statusFlags, (flags) => handlers((run) => run.status(flags))).pipe(
      Command.withDescription("Show an instance's processes: state, pid, uptime, CPU, memory, restarts")
    ),
    Command.make("rm", removeFlags, (flags) => handlers((run) => run.remove(flags))).pipe(
      Command.withDescription("Unregister an instance (stopped); its folders stay unless MaiKit created them")
    ),
    DeployCommands.update
  ])
)

export const logsFlags = {
  ...server,
  id: instanceId,
  service,
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDescription("Keep printing new output"),
    Flag.withDefault(false)
  )
}

export const logs = Command.make("logs", logsFlags, (flags) => terminals((run) => run.logs(flags))).pipe(
  Command.withDescription("Print an instance's recent log lines, or one service's terminal output (-f follows)")
)

export const attachFlags = { ...server, id: instanceId, service }

export const attach = Command.make("attach", attachFlags, (flags) => terminals((run) => run.attach(flags))).pipe(
  Command.withDescription("Open a service's terminal here (default: MaiBot's); Ctrl+] detaches")
)
