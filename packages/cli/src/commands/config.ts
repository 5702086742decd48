/**
 * `maikit config …`: a MaiBot instance's config files from the command line, through the same `BotConfigFiles`
 * the server uses (so edits patch the file, keep comments, keep a version and refuse wrong types). Works on
 * the local database and files, with or without a server running.
 *
 *   maikit config get <instance> <file> [key.path]       the file (or one value) as JSON; --raw for the text
 *   maikit config set <instance> <file> <key.path> <value>
 *   maikit config history <instance> <file>              the kept versions
 *   maikit config diff <instance> <file> <version>       a kept version against the current file
 *   maikit config restore <instance> <file> <version>
 *
 * `<instance>` is an id or a unique name; `<file>` one of bot, model, lpmm, env, adapter.
 */
import { Console, Effect, Layer, Option, References } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { BotConfigFiles, InstanceRegistry } from "@maikit/core/launcher"
import { Database, MaikitConfig } from "@maikit/core/platform"

const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription("Directory of the database (default ./data)"),
  Flag.optional
)
const configFile = Flag.String("config").pipe(
  Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
  Flag.optional
)
const instance = Argument.String("instance").pipe(Argument.withDescription("The instance's id or unique name"))
const file = Argument.Literals("file", ["bot", "model", "lpmm", "env", "adapter"]).pipe(
  Argument.withDescription("bot, model, lpmm, env or adapter")
)
const version = Argument.String("version").pipe(Argument.withDescription("A kept version's id (see `config history`)"))

interface Local {
  readonly dataDir: Option.Option<string>
  readonly config: Option.Option<string>
}

const services = (flags: Local) =>
  BotConfigFiles.BotConfigFiles.layer().pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layer),
    Layer.provideMerge(MaikitConfig.MaikitConfig.layer({
      overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
    }))
  )

type Services = BotConfigFiles.BotConfigFiles | InstanceRegistry.InstanceRegistry | MaikitConfig.MaikitConfig

const userError = (message: string) => new CliError.UserError({ cause: message, userMessage: message })

const onFiles = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<A, E, Services>
) =>
  effect.pipe(
    Effect.provide(services(flags)),
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.mapError((error) =>
      error._tag === "MaikitConfigError" || error._tag === "UserError"
        ? error
        : new CliError.UserError({ cause: error, userMessage: error.message })
    )
  )

/** An id, or the name of exactly one instance. */
const resolve = (reference: string) =>
  Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const instances = yield* registry.list
    const byId = instances.find((candidate) => candidate.id === reference)
    if (byId !== undefined) return byId.id
    const named = instances.filter((candidate) => candidate.name === reference)
    if (named.length === 1) return (named[0] as InstanceRegistry.Instance).id
    return yield* Effect.fail(
      userError(
        named.length === 0
          ? `no instance ${reference} (see \`maikit instances ls\`)`
          : `${named.length} instances are named ${reference}; use the id`
      )
    )
  })

/** `chat.talk_value_rules[1].value`, `chat.talk_value_rules.1.value` or `bot."odd.key"`. */
export const parseKeyPath = (text: string): Array<string | number> => {
  const segments: Array<string | number> = []
  const pattern = /"((?:[^"\\]|\\.)*)"|\[(\d+)\]|([^.[\]"]+)/g
  for (const match of text.matchAll(pattern)) {
    if (match[1] !== undefined) segments.push(JSON.parse(`"${match[1]}"`) as string)
    else if (match[2] !== undefined) segments.push(Number(match[2]))
    else if (match[3] !== undefined) segments.push(/^\d+$/.test(match[3]) ? Number(match[3]) : match[3])
  }
  return segments
}

const valueAt = (data: unknown, path: ReadonlyArray<string | number>): unknown => {
  let current = data
  for (const segment of path) {
    if (typeof current !== "object" || current === null || !(segment in current)) return undefined
    current = (current as Record<string | number, unknown>)[segment]
  }
  return current
}

/** A copy of `data` with `value` at `path`, creating tables on the way. */
const withValue = (data: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown => {
  const [head, ...rest] = path
  if (head === undefined) return value
  const container: Record<string | number, unknown> = Array.isArray(data)
    ? [...data] as unknown as Record<number, unknown>
    : typeof data === "object" && data !== null
    ? { ...data }
    : {}
  container[head] = withValue(container[head], rest, value)
  return container
}

const get = Command.make(
  "get",
  {
    dataDir,
    config: configFile,
    instance,
    file,
    key: Argument.String("key").pipe(Argument.withDescription("A key path such as chat.talk_value"), Argument.optional),
    raw: Flag.Boolean("raw").pipe(Flag.withDescription("Print the file's text"), Flag.withDefault(false))
  },
  (flags) =>
    onFiles(flags, Effect.gen(function*() {
      const id = yield* resolve(flags.instance)
      const snapshot = yield* (yield* BotConfigFiles.BotConfigFiles).read(id, flags.file)
      if (flags.raw) return yield* Console.log(snapshot.text.replace(/\n$/, ""))
      if (Option.isNone(flags.key)) return yield* Console.log(JSON.stringify(snapshot.data, null, 2))
      const value = valueAt(snapshot.data, parseKeyPath(flags.key.value))
      if (value === undefined) return yield* Effect.fail(userError(`${flags.key.value} is not set in ${snapshot.path}`))
      yield* Console.log(typeof value === "string" ? value : JSON.stringify(value, null, 2))
    }))
).pipe(Command.withDescription("Print a config file (or one key) as JSON"))

const set = Command.make(
  "set",
  {
    dataDir,
    config: configFile,
    instance,
    file,
    key: Argument.String("key").pipe(Argument.withDescription("A key path such as chat.talk_value")),
    value: Argument.String("value").pipe(Argument.withDescription("JSON (0.5, true, [\"a\"]) or plain text")),
    string: Flag.Boolean("string").pipe(Flag.withDescription("Take the value as text even if it reads as JSON"), Flag.withDefault(false))
  },
  (flags) =>
    onFiles(flags, Effect.gen(function*() {
      const id = yield* resolve(flags.instance)
      const files = yield* BotConfigFiles.BotConfigFiles
      const snapshot = yield* files.read(id, flags.file)
      const path = parseKeyPath(flags.key)
      if (path.length === 0) return yield* Effect.fail(userError("the key path is empty"))
      let value: unknown = flags.value
      if (!flags.string && flags.file !== "env") {
        try {
          value = JSON.parse(flags.value)
        } catch {
          value = flags.value
        }
      }
      const result = yield* files.write(id, flags.file, withValue(snapshot.data, path, value), {
        expectedVersion: snapshot.version
      })
      yield* Console.log(
        result.changed
          ? `${flags.key} set in ${result.path} (previous version kept as ${result.saved?.id ?? "-"})`
          : `${flags.key} already had that value; nothing written`
      )
    }))
).pipe(Command.withDescription("Set one key, keeping the rest of the file (comments included) as it is"))

const history = Command.make(
  "history",
  { dataDir, config: configFile, instance, file },
  (flags) =>
    onFiles(flags, Effect.gen(function*() {
      const id = yield* resolve(flags.instance)
      const list = yield* (yield* BotConfigFiles.BotConfigFiles).versions(id, flags.file)
      if (list.versions.length === 0) return yield* Console.log("No kept versions yet.")
      yield* Console.log(`current ${list.current ?? "(missing)"}`)
      for (const kept of list.versions) {
        yield* Console.log(`${kept.id}  ${kept.savedAt}  ${kept.size} bytes${kept.version === list.current ? "  (= current)" : ""}`)
      }
    }))
).pipe(Command.withDescription("List the kept versions of a config file, newest first"))

const diff = Command.make(
  "diff",
  { dataDir, config: configFile, instance, file, version },
  (flags) =>
    onFiles(flags, Effect.gen(function*() {
      const id = yield* resolve(flags.instance)
      const result = yield* (yield* BotConfigFiles.BotConfigFiles).diff(id, flags.file, flags.version)
      yield* Console.log(result.patch.replace(/\n$/, ""))
    }))
).pipe(Command.withDescription("Show what changed from a kept version to the current file"))

const restore = Command.make(
  "restore",
  { dataDir, config: configFile, instance, file, version },
  (flags) =>
    onFiles(flags, Effect.gen(function*() {
      const id = yield* resolve(flags.instance)
      const result = yield* (yield* BotConfigFiles.BotConfigFiles).restore(id, flags.file, flags.version)
      yield* Console.log(`restored ${result.path} to ${flags.version} (the replaced one kept as ${result.saved?.id ?? "-"})`)
    }))
).pipe(Command.withDescription("Write a kept version back (the current file is kept first)"))

export const config = Command.make("config").pipe(
  Command.withDescription("Read and edit a MaiBot instance's config files (bot, model, lpmm, env, adapter)"),
  Command.withSubcommands([get, set, history, diff, restore])
)
