/**
 * `maikit light serve|config|version|install-hooks`: the AI status-light relay of seed 004. `serve` runs
 * `LightRelay`; `config` lists and edits the relay's MQTT, BLE and device configs straight in its database
 * (a running relay notices within a second); `install-hooks` wires Claude Code, Codex and opencode to it.
 */
import { Console, Effect, Layer, Option, References, Schema } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { Database, Logging, MaikitConfig, MaikitVersion } from "@maikit/core/platform"
import { AgentHooks, RelayConfig, RelayConfigStore } from "@maikit/core/relay"
import { HookInstaller, LightRelay } from "@maikit/light-relay"
import { allowedHost, allowedOrigin } from "./accessFlags.ts"

const db = Flag.String("db").pipe(
  Flag.withDescription(`SQLite file with the relay's configs (default ${LightRelay.defaults.db})`),
  Flag.withDefault(LightRelay.defaults.db)
)
const logFile = Flag.String("log-file").pipe(
  Flag.withDescription(
    `Log directory (the file is monitor.log, rotated daily to monitor.log.YYYY-MM-DD) or a .log file path (default ${LightRelay.defaults.logFile})`
  ),
  Flag.withDefault(LightRelay.defaults.logFile)
)
const logLevel = Flag.Literals("log-level", LightRelay.LogLevel).pipe(
  Flag.withDescription("debug, info, warn or error (default info)"),
  Flag.withDefault(LightRelay.defaults.logLevel)
)
/** A list setting from the environment, comma-separated, when its flag is not given. */
const fromEnvironment = (name: string) => {
  const raw = process.env[name]
  return raw === undefined ? undefined : MaikitConfig.splitList(raw)
}

const token = Flag.String("token").pipe(
  Flag.withDescription("Access token clients must present (needed to listen beyond loopback; env MAIKIT_TOKEN)"),
  Flag.optional
)

export const serve = Command.make(
  "serve",
  {
    addr: Flag.String("addr").pipe(
      Flag.withDescription("Listen address [host]:port; :8045 listens on 127.0.0.1 (default :8045)"),
      Flag.withDefault(LightRelay.defaults.addr)
    ),
    db,
    tls: Flag.Boolean("tls").pipe(
      Flag.withDescription("Serve HTTPS; a self-signed certificate is made on first use"),
      Flag.withDefault(false)
    ),
    tlsCert: Flag.String("tls-cert").pipe(
      Flag.withDescription(`TLS certificate (default ${LightRelay.defaults.tlsCert})`),
      Flag.withDefault(LightRelay.defaults.tlsCert)
    ),
    tlsKey: Flag.String("tls-key").pipe(
      Flag.withDescription(`TLS private key (default ${LightRelay.defaults.tlsKey})`),
      Flag.withDefault(LightRelay.defaults.tlsKey)
    ),
    logFile,
    logLevel,
    embeddedBroker: Flag.String("embedded-broker").pipe(
      Flag.withDescription("Run an MQTT broker in the relay on host:port (e.g. 127.0.0.1:1883) and publish to it"),
      Flag.optional
    ),
    brokerUser: Flag.String("broker-user").pipe(
      Flag.withDescription("Username lights sign in to the embedded broker with (needed beyond loopback; env MAIKIT_BROKER_USER)"),
      Flag.optional
    ),
    brokerPassword: Flag.String("broker-password").pipe(
      Flag.withDescription("Password for --broker-user (prefer env MAIKIT_BROKER_PASSWORD: other users can read command lines)"),
      Flag.optional
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
  },
  (flags) =>
    Layer.launch(LightRelay.layer({
      addr: flags.addr,
      db: flags.db,
      tls: flags.tls,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      logFile: flags.logFile,
      logLevel: flags.logLevel,
      embeddedBroker: Option.getOrUndefined(flags.embeddedBroker),
      brokerUser: Option.getOrElse(flags.brokerUser, () => process.env["MAIKIT_BROKER_USER"]),
      brokerPassword: Option.getOrElse(flags.brokerPassword, () => process.env["MAIKIT_BROKER_PASSWORD"]),
      accessToken: Option.getOrElse(flags.token, () => process.env["MAIKIT_TOKEN"]),
      allowedHosts: flags.allowedHost ?? fromEnvironment("MAIKIT_ALLOWED_HOSTS"),
      allowedOrigins: flags.allowedOrigin ?? fromEnvironment("MAIKIT_ALLOWED_ORIGINS"),
      ble: !flags.noBle,
      sessionTtlMinutes: flags.sessionTtl
    })).pipe(
      Effect.catchTags({
        AddressInvalid: (error) => Effect.fail(new CliError.UserError({ cause: error, userMessage: error.message })),
        TlsSetupError: (error) => Effect.fail(new CliError.UserError({ cause: error, userMessage: error.message })),
        EmbeddedBrokerError: (error) => Effect.fail(new CliError.UserError({ cause: error, userMessage: error.message })),
        MaikitConfigError: (error) => Effect.fail(new CliError.UserError({ cause: error, userMessage: error.message }))
      })
    )
).pipe(
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

const configFlags = { db, logFile, logLevel }

const configCommand = Command.make("config").pipe(
  Command.withSharedFlags({
    ...configFlags,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false))
  })
)

interface ConfigFlags {
  readonly db: string
  readonly logFile: string
  readonly logLevel: LightRelay.LogLevel
}

/** Runs `effect` on the relay's database; edits are also logged to its log file. */
const onStore = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: ConfigFlags,
  effect: Effect.Effect<A, E, RelayConfigStore.RelayConfigStore>
) => {
  const log = LightRelay.logTarget(flags.logFile, process.cwd())
  return effect.pipe(
    Effect.provide(
      RelayConfigStore.RelayConfigStore.layer({ externalChangeInterval: 0 }).pipe(
        Layer.provide(Database.layerFile(flags.db))
      )
    ),
    Effect.provide(Logging.layer({
      directory: log.directory,
      fileName: log.fileName,
      level: MaikitConfig.toLogLevel(flags.logLevel),
      console: false,
      format: "logfmt"
    })),
    Effect.provideService(References.MinimumLogLevel, MaikitConfig.toLogLevel(flags.logLevel)),
    Effect.mapError((error) => new CliError.UserError({ cause: error, userMessage: error.message }))
  )
}

const numericFields = new Set(["mqtt_port", "pin_red", "pin_green", "pin_yellow"])
const booleans: Record<string, boolean> = { true: true, false: false, yes: true, no: false, on: true, off: false, "1": true, "0": false }

/** `key=value` pairs as loose input: `enabled` is a boolean, ports and pins are numbers, the rest strings. */
export const parseAssignments = (pairs: ReadonlyArray<string>): Effect.Effect<Record<string, unknown>, CliError.UserError> =>
  Effect.suspend(() => {
    const values: Record<string, unknown> = {}
    for (const pair of pairs) {
      const at = pair.indexOf("=")
      if (at <= 0) {
        return Effect.fail(new CliError.UserError({ cause: pair, userMessage: `expected key=value, got "${pair}"` }))
      }
      const key = pair.slice(0, at)
      const raw = pair.slice(at + 1)
      values[key] = key === "enabled"
        ? booleans[raw.toLowerCase()] ?? raw
        : numericFields.has(key) && /^-?\d+$/.test(raw)
        ? Number(raw)
        : raw
    }
    return Effect.succeed(values)
  })

const kind = Argument.Literals("kind", RelayConfig.kinds).pipe(Argument.withDescription("mqtt, ble or device"))
const id = Argument.Int("id").pipe(Argument.withDescription("Config id"))
const assignments = Argument.String("key=value").pipe(
  Argument.withDescription("Fields to set, e.g. broker=tcp://127.0.0.1:1883 topic=opencode/status enabled=false"),
  Argument.variadic()
)

const view = (configKind: RelayConfig.Kind, config: RelayConfig.MqttConfig | RelayConfig.BleConfig | RelayConfig.DeviceConfig) =>
  configKind === "mqtt"
    ? RelayConfig.maskMqtt(config as RelayConfig.MqttConfig)
    : configKind === "device"
    ? RelayConfig.maskDevice(config as RelayConfig.DeviceConfig)
    : config

const describeConfig = (config: object) =>
  Object.entries(config).filter(([key]) => key !== "id").map(([key, value]) => `${key}=${String(value)}`).join("  ")

const listAll = Effect.gen(function*() {
  const store = yield* RelayConfigStore.RelayConfigStore
  return {
    mqtt: (yield* store.mqtt.list).map(RelayConfig.maskMqtt),
    ble: yield* store.ble.list,
    device: (yield* store.device.list).map(RelayConfig.maskDevice)
  }
})

const printAll = (all: { readonly [K in RelayConfig.Kind]: ReadonlyArray<{ readonly id: number }> }) =>
  Console.log(
    RelayConfig.kinds.map((configKind) => {
      const rows = all[configKind]
      const title = `${RelayConfig.kindLabels[configKind].replace(/^./, (c) => c.toUpperCase())}s`
      return rows.length === 0
        ? `${title}: none`
        : [`${title}:`, ...rows.map((row) => `  ${row.id}  ${describeConfig(row)}`)].join("\n")
    }).join("\n\n")
  )

const add = Command.make("add", { kind, assignments }, ({ kind: configKind, assignments: pairs }) =>
  Effect.gen(function*() {
    const flags = yield* configCommand
    const values = yield* parseAssignments(pairs)
    const config = yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      const created = configKind === "mqtt"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("mqtt", "create", values), store.mqtt.create)
        : configKind === "ble"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("ble", "create", values), store.ble.create)
        : yield* Effect.flatMap(RelayConfigStore.decodeInput("device", "create", values), store.device.create)
      yield* Effect.logInfo(`created ${RelayConfig.kindLabels[configKind]} ${created.id}`)
      return created
    }))
    yield* flags.json
      ? Console.log(JSON.stringify(view(configKind, config), null, 2))
      : Console.log(`created ${RelayConfig.kindLabels[configKind]} ${config.id}: ${describeConfig(view(configKind, config))}`)
  })).pipe(
    Command.withDescription("Create a config; unset fields get the seed's defaults"),
    Command.withExamples([
      { command: "maikit light config add mqtt broker=tcp://127.0.0.1:1883", description: "Publish to a local broker" },
      {
        command: "maikit light config add ble device_name=AI-Light service_uuid=ffe0 char_uuid=ffe1",
        description: "Drive a BLE light"
      }
    ])
  )

const set = Command.make("set", { kind, id, assignments }, ({ kind: configKind, id: configId, assignments: pairs }) =>
  Effect.gen(function*() {
    const flags = yield* configCommand
    const values = yield* parseAssignments(pairs)
    const config = yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      const updated = configKind === "mqtt"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("mqtt", "update", values), (patch) => store.mqtt.update(configId, patch))
        : configKind === "ble"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("ble", "update", values), (patch) => store.ble.update(configId, patch))
        : yield* Effect.flatMap(
          RelayConfigStore.decodeInput("device", "update", values),
          (patch) => store.device.update(configId, patch)
        )
      yield* Effect.logInfo(`updated ${RelayConfig.kindLabels[configKind]} ${configId}: ${Object.keys(values).join(", ")}`)
      return updated
    }))
    yield* flags.json
      ? Console.log(JSON.stringify(view(configKind, config), null, 2))
      : Console.log(`updated ${RelayConfig.kindLabels[configKind]} ${configId}: ${describeConfig(view(configKind, config))}`)
  })).pipe(
    Command.withDescription("Change fields of a config; a running relay applies it at once"),
    Command.withExamples([{ command: "maikit light config set mqtt 1 enabled=false", description: "Disable MQTT config 1" }])
  )

const remove = Command.make("rm", { kind, id }, ({ kind: configKind, id: configId }) =>
  Effect.gen(function*() {
    const flags = yield* configCommand
    yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      yield* store[configKind].remove(configId)
      yield* Effect.logInfo(`deleted ${RelayConfig.kindLabels[configKind]} ${configId}`)
    }))
    yield* Console.log(`deleted ${RelayConfig.kindLabels[configKind]} ${configId}`)
  })).pipe(Command.withDescription("Delete a config"))

export const config = configCommand.pipe(
  Command.withHandler((flags) =>
    Effect.flatMap(onStore(flags, listAll), (all) => (flags.json ? Console.log(JSON.stringify(all, null, 2)) : printAll(all)))
  ),
  Command.withSubcommands([add, set, remove]),
  Command.withDescription("List the relay's MQTT, BLE and device configs (secrets masked), or add, set and rm them")
)

// ---------------------------------------------------------------------------------------------------------
// version, install-hooks

export const version = Command.make(
  "version",
  {},
  () =>
    Console.log(
      `maikit light relay ${MaikitVersion.current.version} (node ${process.version}, ${process.platform}-${process.arch})`
    )
).pipe(Command.withDescription("Print the relay's version"))

export const installHooks = Command.make(
  "install-hooks",
  {
    agent: Flag.Literals("agent", AgentHooks.agents).pipe(
      Flag.withDescription("Only this tool: claude, codex or opencode (default all three)"),
      Flag.optional
    ),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Show the files it would write"), Flag.withDefault(false)),
    url: Flag.String("url").pipe(
      Flag.withDescription(`The relay's base URL (default ${HookInstaller.defaultUrl})`),
      Flag.withDefault(HookInstaller.defaultUrl)
    ),
    token
  },
  (flags) =>
    Effect.gen(function*() {
      const changes = yield* HookInstaller.install({
        agents: Option.match(flags.agent, { onNone: () => AgentHooks.agents, onSome: (agent) => [agent] }),
        url: flags.url,
        token: Option.getOrUndefined(flags.token),
        dryRun: flags.dryRun
      }).pipe(Effect.mapError((error) => new CliError.UserError({ cause: error, userMessage: error.message })))
      for (const change of changes) {
        const verb = flags.dryRun && change.action !== "unchanged" ? `would ${change.action}` : change.action === "unchanged"
          ? "unchanged"
          : `${change.action}d`
        yield* Console.log(
          `${change.agent}: ${verb} ${change.path}${change.backup === undefined ? "" : ` (backup: ${change.backup})`}`
        )
        if (flags.dryRun && change.action !== "unchanged") yield* Console.log(change.content)
      }
      if (!flags.dryRun) {
        yield* Console.log("Restart the tools to load the hooks. Codex reads them with [features] codex_hooks = true.")
      }
    })
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
