/** What `maikit light …` does (the definitions are in `commands/light.ts`). */
import * as CliError from "effect/cli/CliError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { Database, Logging, MaikitConfig } from "@maikit/core/platform"
import { AgentHooks, RelayConfig, RelayConfigStore } from "@maikit/core/relay"
import { HookInstaller, LightRelay } from "@maikit/light-relay"
import type { Input } from "../commands/flags.ts"
import type { ConfigFlags, installHooksFlags, serveFlags } from "../commands/light.ts"
import { oneLine, printJson } from "./output.ts"

/** A list setting from the environment, comma-separated, when its flag is not given. */
const fromEnvironment = (name: string) => {
  const raw = process.env[name]
  return raw === undefined ? undefined : MaikitConfig.splitList(raw)
}

export const serve = (flags: Input<typeof serveFlags>) =>
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
      AddressInvalid: (error) => Effect.fail(oneLine(error)),
      TlsSetupError: (error) => Effect.fail(oneLine(error)),
      EmbeddedBrokerError: (error) => Effect.fail(oneLine(error)),
      // The relay's settings come from its flags: a bad one is the user's to fix, exit code 1 like the others.
      MaikitConfigError: (error) => Effect.fail(new CliError.UserError({ cause: error, userMessage: error.message }))
    })
  )

// ---------------------------------------------------------------------------------------------------------
// config

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
    Effect.mapError(oneLine)
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

export const list = (flags: ConfigFlags) =>
  Effect.flatMap(onStore(flags, listAll), (all) => (flags.json ? printJson(all) : printAll(all)))

const printConfig = (
  flags: ConfigFlags,
  verb: string,
  configKind: RelayConfig.Kind,
  config: RelayConfig.MqttConfig | RelayConfig.BleConfig | RelayConfig.DeviceConfig
) =>
  flags.json
    ? printJson(view(configKind, config))
    : Console.log(`${verb} ${RelayConfig.kindLabels[configKind]} ${config.id}: ${describeConfig(view(configKind, config))}`)

export const add = (
  flags: ConfigFlags,
  input: { readonly kind: RelayConfig.Kind; readonly assignments: ReadonlyArray<string> }
) =>
  Effect.gen(function*() {
    const values = yield* parseAssignments(input.assignments)
    const config = yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      const created = input.kind === "mqtt"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("mqtt", "create", values), store.mqtt.create)
        : input.kind === "ble"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("ble", "create", values), store.ble.create)
        : yield* Effect.flatMap(RelayConfigStore.decodeInput("device", "create", values), store.device.create)
      yield* Effect.logInfo(`created ${RelayConfig.kindLabels[input.kind]} ${created.id}`)
      return created
    }))
    yield* printConfig(flags, "created", input.kind, config)
  })

export const set = (
  flags: ConfigFlags,
  input: { readonly kind: RelayConfig.Kind; readonly id: number; readonly assignments: ReadonlyArray<string> }
) =>
  Effect.gen(function*() {
    const values = yield* parseAssignments(input.assignments)
    const config = yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      const updated = input.kind === "mqtt"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("mqtt", "update", values), (patch) => store.mqtt.update(input.id, patch))
        : input.kind === "ble"
        ? yield* Effect.flatMap(RelayConfigStore.decodeInput("ble", "update", values), (patch) => store.ble.update(input.id, patch))
        : yield* Effect.flatMap(
          RelayConfigStore.decodeInput("device", "update", values),
          (patch) => store.device.update(input.id, patch)
        )
      yield* Effect.logInfo(`updated ${RelayConfig.kindLabels[input.kind]} ${input.id}: ${Object.keys(values).join(", ")}`)
      return updated
    }))
    yield* printConfig(flags, "updated", input.kind, config)
  })

export const remove = (flags: ConfigFlags, input: { readonly kind: RelayConfig.Kind; readonly id: number }) =>
  Effect.gen(function*() {
    yield* onStore(flags, Effect.gen(function*() {
      const store = yield* RelayConfigStore.RelayConfigStore
      yield* store[input.kind].remove(input.id)
      yield* Effect.logInfo(`deleted ${RelayConfig.kindLabels[input.kind]} ${input.id}`)
    }))
    yield* Console.log(`deleted ${RelayConfig.kindLabels[input.kind]} ${input.id}`)
  })

// ---------------------------------------------------------------------------------------------------------
// install-hooks

export const installHooks = (flags: Input<typeof installHooksFlags>) =>
  Effect.gen(function*() {
    const changes = yield* HookInstaller.install({
      agents: Option.match(flags.agent, { onNone: () => AgentHooks.agents, onSome: (agent) => [agent] }),
      url: flags.url,
      token: Option.getOrUndefined(flags.token),
      dryRun: flags.dryRun
    }).pipe(Effect.mapError(oneLine))
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
