/**
 * `maikit light serve|config|version|install-hooks`: the AI status-light relay of seed 004. `serve` runs
 * `LightRelay`; `config` lists and edits the relay's MQTT, BLE and device configs straight in its database
 * (a running relay notices within a second); `install-hooks` wires Claude Code, Codex and opencode to it.
 * What they do is in `handlers/light.ts`, loaded when one runs.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { MaikitVersion } from "@maikit/core/platform"
import { AgentHooks, RelayConfig } from "@maikit/core/relay"
import { LightRelayDefaults } from "@maikit/light-relay/defaults"
import { allowedHost, allowedOrigin, type Input, onUse, optionalText } from "./flags.ts"

const handlers = onUse(() => import("../handlers/light.ts"))
const { defaults } = LightRelayDefaults

const db = Flag.String("db").pipe(
  Flag.withDescription(`SQLite file with the relay's configs (default ${defaults.db})`),
  Flag.withDefault(defaults.db)
)
const logFile = Flag.String("log-file").pipe(
  Flag.withDescription(
    `Log directory (the file is monitor.log, rotated daily to monitor.log.YYYY-MM-DD) or a .log file path (default ${defaults.logFile})`
  ),
  Flag.withDefault(defaults.logFile)
)
const logLevel = Flag.Literals("log-level", LightRelayDefaults.LogLevel).pipe(
  Flag.withDescription("debug, info, warn or error (default info)"),
  Flag.withDefault(defaults.logLevel)
)
const token = optionalText("token", "Access token clients must present (needed to listen beyond loopback; env MAIKIT_TOKEN)")

export const serveFlags = {
  addr: Flag.String("addr").pipe(
    Flag.withDescription("Listen address [host]:port; :8045 listens on 127.0.0.1 (default :8045)"),
    Flag.withDefault(defaults.addr)
  ),
  db,
  tls: Flag.Boolean("tls").pipe(
    Flag.withDescription("Serve HTTPS; a self-signed certificate is made on first use"),
    Flag.withDefault(false)
  ),
  tlsCert: Flag.String("tls-cert").pipe(
    Flag.withDescription(`TLS certificate (default ${defaults.tlsCert})`),
    Flag.withDefault(defaults.tlsCert)
  ),
  tlsKey: Flag.String("tls-key").pipe(
    Flag.withDescription(`TLS private key (default ${defaults.tlsKey})`),
    Flag.withDefault(defaults.tlsKey)
  ),
  logFile,
  logLevel,
  embeddedBroker: optionalText(
    "embedded-broker",
    "Run an MQTT broker in the relay on host:port (e.g. 127.0.0.1:1883) and publish to it"
  ),
  brokerUser: optionalText(
    "broker-user",
    "Username lights sign in to the embedded broker with (needed beyond loopback; env MAIKIT_BROKER_USER)"
  ),
  brokerPassword: optionalText(
    "broker-password",
    "Password for --broker-user (prefer env MAIKIT_BROKER_PASSWORD: other users can read command lines)"
  ),
  token,
  allowedHost,
  allowedOrigin,
  noBle: Flag.Boolean("no-ble").pipe(Flag.withDescription("Never load the Bluetooth driver"), Flag.withDefault(false)),
  sessionTtl: Flag.Int("session-ttl").pipe(
    Flag.withDescription("Minutes a silent session is kept before the light forgets it (default 20)"),
    Flag.withSchema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 * 24 * 60 }))),
    Flag.withDefault(20)
  )
}

export const serve = Command.make("serve", serveFlags, (flags) => handlers((light) => light.serve(flags))).pipe(
  Command.withDescription("Start the AI status-light relay (HTTP API, SSE, MQTT and BLE)"),
  Command.withExamples([
    { command: "maikit light serve --addr :8045", description: "Serve on 127.0.0.1:8045 with configs in ./data/config.db" },
    { command: "maikit light serve --addr :8045 --tls", description: "Serve HTTPS with a self-signed certificate" },
    {
      command: "MAIKIT_BROKER_PASSWORD=… maikit light serve --embedded-broker 0.0.0.0:1883 --broker-user lights",
      description: "Also be the MQTT broker the light connects to (lights sign in as lights)"
    }
  ])
)

// ---------------------------------------------------------------------------------------------------------
// config

export const configFlags = {
  db,
  logFile,
  logLevel,
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false))
}
export type ConfigFlags = Input<typeof configFlags>

const configCommand = Command.make("config").pipe(Command.withSharedFlags(configFlags))

const kind = Argument.Literals("kind", RelayConfig.kinds).pipe(Argument.withDescription("mqtt, ble or device"))
const id = Argument.Int("id").pipe(Argument.withDescription("Config id"))
const assignments = Argument.String("key=value").pipe(
  Argument.withDescription("Fields to set, e.g. broker=tcp://127.0.0.1:1883 topic=opencode/status enabled=false"),
  Argument.variadic()
)

const add = Command.make("add", { kind, assignments }, (input) =>
  Effect.flatMap(configCommand, (flags) => handlers((light) => light.add(flags, input)))).pipe(
    Command.withDescription("Create a config; unset fields get the seed's defaults"),
    Command.withExamples([
      { command: "maikit light config add mqtt broker=tcp://127.0.0.1:1883", description: "Publish to a local broker" },
      {
        command: "maikit light config add ble device_name=AI-Light service_uuid=ffe0 char_uuid=ffe1",
        description: "Drive a BLE light"
      }
    ])
  )

const set = Command.make("set", { kind, id, assignments }, (input) =>
  Effect.flatMap(configCommand, (flags) => handlers((light) => light.set(flags, input)))).pipe(
    Command.withDescription("Change fields of a config; a running relay applies it at once"),
    Command.withExamples([{ command: "maikit light config set mqtt 1 enabled=false", description: "Disable MQTT config 1" }])
  )

const remove = Command.make("rm", { kind, id }, (input) =>
  Effect.flatMap(configCommand, (flags) => handlers((light) => light.remove(flags, input)))).pipe(
    Command.withDescription("Delete a config")
  )

export const config = configCommand.pipe(
  Command.withHandler((flags) => handlers((light) => light.list(flags))),
  Command.withSubcommands([add, set, remove]),
  Command.withDescription("List the relay's MQTT, BLE and device configs (secrets masked), or add, set and rm them")
)

// ---------------------------------------------------------------------------------------------------------
// version, install-hooks

export const version = Command.make("version", {}, () =>
  Console.log(
    `maikit light relay ${MaikitVersion.current.version} (node ${process.version}, ${process.platform}-${process.arch})`
  )).pipe(
  Command.withDescription("Print the relay's version")
)

export const installHooksFlags = {
  agent: Flag.Literals("agent", AgentHooks.agents).pipe(
    Flag.withDescription("Only this tool: claude, codex or opencode (default all three)"),
    Flag.optional
  ),
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Show the files it would write"), Flag.withDefault(false)),
  url: Flag.String("url").pipe(
    Flag.withDescription(`The relay's base URL (default ${LightRelayDefaults.url})`),
    Flag.withDefault(LightRelayDefaults.url)
  ),
  token
}

export const installHooks = Command.make(
  "install-hooks",
  installHooksFlags,
  (flags) => handlers((light) => light.installHooks(flags))
).pipe(
  Command.withDescription("Wire Claude Code, Codex and opencode to the relay, keeping your own hooks (backups first)"),
  Command.withExamples([
    { command: "maikit light install-hooks --dry-run", description: "Show what would change" },
    { command: "maikit light install-hooks --agent claude", description: "Only Claude Code" }
  ])
)

export const light = Command.make("light").pipe(
  Command.withSubcommands([serve, config, version, installHooks]),
  Command.withDescription("The AI status-light relay: serve, config, version, install-hooks")
)
