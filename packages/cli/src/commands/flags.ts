/**
 * The flags several commands share, and how a command loads its implementation. Command modules hold only
 * definitions (names, flags, descriptions) and import what a command does when it runs (`onUse`), so `--help`,
 * `version` and every other command never load it.
 */
import * as Argument from "effect/cli/Argument"
import type * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"

/** What a command's handler receives for a flag set. */
export type Input<Config extends Command.Command.Config> = Command.Command.Config.Infer<Config>

/**
 * Runs `run` with the module `load` imports, imported when the command runs. The module is named by a literal
 * `import()` at the call site, so the bundler makes it a chunk of its own.
 */
export const onUse = <M>(load: () => Promise<M>) => <A, E, R>(run: (module: M) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.promise(load), run)

export const optionalText = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

/** A repeatable flag whose values may also be comma-separated; none given leaves the setting to the config. */
const list = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(description),
    Flag.atLeast(0),
    Flag.map((values) => {
      const items = values.flatMap((value) => value.split(",")).map((item) => item.trim()).filter((item) => item !== "")
      return items.length === 0 ? undefined : items
    })
  )

// ---------------------------------------------------------------------------------------------------------
// serving

/** The `Host` names a server answers beyond loopback (see SECURITY.md). */
export const allowedHost = list(
  "allowed-host",
  "A Host name answered beyond loopback and the listening address, e.g. maikit.lan, .example.com or * (repeatable; env MAIKIT_ALLOWED_HOSTS)"
)
/** The origins whose pages may call a server (see SECURITY.md). */
export const allowedOrigin = list(
  "allowed-origin",
  "An origin whose pages may call every route, e.g. http://maikit.lan:5173 or http://localhost:* (repeatable; replaces the defaults; env MAIKIT_ALLOWED_ORIGINS)"
)

// ---------------------------------------------------------------------------------------------------------
// the local database

export const dataDir = optionalText("data-dir", "Directory of the database (default ./data)")
export const configFile = optionalText("config", "TOML configuration file (default ./maikit.toml when present)")
/** The database and settings of the MaiKit in this directory, as `maikit serve` would open them. */
export const local = { dataDir, config: configFile }
export type Local = Input<typeof local>

export const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of text"), Flag.withDefault(false))

// ---------------------------------------------------------------------------------------------------------
// a remote MaiKit

export const defaultServer = "http://127.0.0.1:23456"

const serverFlag = (description: string) => optionalText("server", description).pipe(Flag.withAlias("url"))
const token = optionalText("token", "The server's access token (default $MAIKIT_TOKEN)")

/** For commands that work on the local database unless given a server. */
export const orServer = {
  server: serverFlag("Ask this MaiKit server instead of the local database, e.g. http://maibot.lan:23456"),
  token
}
/** For commands that always ask a server: the local one unless given another. */
export const server = {
  server: serverFlag(`The MaiKit server that runs the instances (default ${defaultServer})`),
  token
}
export type Remote = Input<typeof server>

export const instanceId = Argument.String("id").pipe(Argument.withDescription("The instance's id (40 hex characters)"))
