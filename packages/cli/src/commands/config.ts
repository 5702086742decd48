/**
 * `maikit config …`: a MaiBot instance's config files from the command line, through the same `BotConfigFiles`
 * the server uses (so edits patch the file, keep comments, keep a version and refuse wrong types). Works on
 * the local database and files, with or without a server running; with `--server URL` on that server's.
 *
 *   maikit config get <instance> <file> [key.path]       the file (or one value) as JSON; --raw for the text
 *   maikit config set <instance> <file> <key.path> <value>
 *   maikit config history <instance> <file>              the kept versions
 *   maikit config diff <instance> <file> <version>       a kept version against the current file
 *   maikit config restore <instance> <file> <version>
 *
 * `<instance>` is an id or a unique name; `<file>` one of bot, model, lpmm, env, adapter. What they do is in
 * `handlers/config.ts`, loaded when one runs.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { local, onUse, orServer } from "./flags.ts"

const handlers = onUse(() => import("../handlers/config.ts"))

const common = {
  ...local,
  ...orServer,
  instance: Argument.String("instance").pipe(Argument.withDescription("The instance's id or unique name")),
  file: Argument.Literals("file", ["bot", "model", "lpmm", "env", "adapter"]).pipe(
    Argument.withDescription("bot, model, lpmm, env or adapter")
  )
}
const keyPath = Argument.String("key").pipe(Argument.withDescription("A key path such as chat.talk_value"))
const version = Argument.String("version").pipe(Argument.withDescription("A kept version's id (see `config history`)"))

export const getFlags = {
  ...common,
  key: keyPath.pipe(Argument.optional),
  raw: Flag.Boolean("raw").pipe(Flag.withDescription("Print the file's text"), Flag.withDefault(false))
}
export const setFlags = {
  ...common,
  key: keyPath,
  value: Argument.String("value").pipe(Argument.withDescription("JSON (0.5, true, [\"a\"]) or plain text")),
  string: Flag.Boolean("string").pipe(Flag.withDescription("Take the value as text even if it reads as JSON"), Flag.withDefault(false))
}
export const fileFlags = common
export const versionFlags = { ...common, version }

export const config = Command.make("config").pipe(
  Command.withDescription("Read and edit a MaiBot instance's config files (bot, model, lpmm, env, adapter)"),
  Command.withSubcommands([
    Command.make("get", getFlags, (flags) => handlers((run) => run.get(flags))).pipe(
      Command.withDescription("Print a config file (or one key) as JSON")
    ),
    Command.make("set", setFlags, (flags) => handlers((run) => run.set(flags))).pipe(
      Command.withDescription("Set one key, keeping the rest of the file (comments included) as it is")
    ),
    Command.make("history", fileFlags, (flags) => handlers((run) => run.history(flags))).pipe(
      Command.withDescription("List the kept versions of a config file, newest first")
    ),
    Command.make("diff", versionFlags, (flags) => handlers((run) => run.diff(flags))).pipe(
      Command.withDescription("Show what changed from a kept version to the current file")
    ),
    Command.make("restore", versionFlags, (flags) => handlers((run) => run.restore(flags))).pipe(
      Command.withDescription("Write a kept version back (the current file is kept first)")
    )
  ])
)
