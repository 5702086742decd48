/**
 * The ready AI status-light relay (seed 004): the status-relay HTTP family with its SSE stream on one port,
 * the configs in a SQLite file, MQTT links, BLE lights, optional HTTPS with a self-signed certificate made on
 * first use, an optional in-process MQTT broker, and logs to the console and `monitor.log`, rotated daily to
 * `monitor.log.YYYY-MM-DD`. `maikit light serve` runs this layer.
 *
 * Deliberate differences from seed 004: `--addr :8045` listens on 127.0.0.1 (MaiKit binds loopback unless a
 * host is named; any other host needs an access token), and the default port is 8045, the seed's base URL,
 * where its flag table says 8080. Like every MaiKit server it answers only its own `Host` names; its reads and
 * SSE stream are open to every origin, its writes only to allowed ones. The embedded broker signs clients in
 * (`EmbeddedBroker`): it needs `brokerUser`/`brokerPassword` beyond loopback, and only the relay publishes on
 * the status and config topics.
 */
import { Context, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Database, Logging, MaikitConfig } from "@maikit/core/platform"
import { BleLink, BleTransport, MqttLink, type RelayConfig, RelayConfigStore, StatusBus } from "@maikit/core/relay"
import { StatusRelay } from "@maikit/http-adapter/relay"
import { MaikitServer } from "@maikit/http-adapter/server"
import * as EmbeddedBroker from "./EmbeddedBroker.ts"
import { AddressInvalid } from "./LightRelayError.ts"
import { defaults, type LogLevel } from "./LightRelayDefaults.ts"
import * as SelfSignedTls from "./SelfSignedTls.ts"

export { AddressInvalid } from "./LightRelayError.ts"

export interface Options {
  readonly addr?: string | undefined
  readonly db?: string | undefined
  readonly tls?: boolean | undefined
  readonly tlsCert?: string | undefined
  readonly tlsKey?: string | undefined
  /** A directory (the log is `<dir>/monitor.log`) or a file path ending in `.log`. */
  readonly logFile?: string | undefined
  readonly logLevel?: LogLevel | undefined
  /** `host:port` for the in-process MQTT broker; the relay publishes to it on `opencode/status`. */
  readonly embeddedBroker?: string | undefined
  /** The account lights and other clients sign in to the embedded broker with; needed beyond loopback. */
  readonly brokerUser?: string | undefined
  readonly brokerPassword?: string | undefined
  readonly accessToken?: string | undefined
  /** `Host` names answered beyond loopback and the listening address (`MaikitServer.Options.allowedHosts`). */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /** Origins whose pages may write (`MaikitServer.Options.allowedOrigins`); reads are open to every origin. */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** `false` skips the BLE driver entirely. Default true. */
  readonly ble?: boolean | undefined
  /** Minutes a silent session is kept. Default 20. */
  readonly sessionTtlMinutes?: number | undefined
  /** Base for relative paths. Default: the process's working directory. */
  readonly cwd?: string | undefined
  readonly console?: boolean | undefined
}

export interface Address {
  readonly host: string
  readonly port: number
}

/** `:8045`, `8045`, `0.0.0.0:8045`, `localhost:8045`, `[::1]:8045`. An empty host means 127.0.0.1. */
export const parseAddress = (addr: string): Effect.Effect<Address, AddressInvalid> => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*))?:?(\d{1,5})$/.exec(addr.trim())
  const port = match === null ? Number.NaN : Number(match[3])
  if (match === null || !Number.isInteger(port) || port > 65535) {
    return Effect.fail(
      new AddressInvalid({ address: addr, message: `invalid address "${addr}": expected [host]:port, e.g. :8045 or 0.0.0.0:8045` })
    )
  }
  const host = match[1] ?? match[2] ?? ""
  return Effect.succeed({ host: host === "" ? MaikitConfig.defaultHost : host, port })
}

/** The embedded broker's account: both parts or neither. */
const credentialsOf = (options: Options) => {
  const { brokerUser, brokerPassword } = options
  if (brokerUser === undefined && brokerPassword === undefined) return Effect.succeed(Option.none<EmbeddedBroker.Credentials>())
  if (brokerUser === undefined || brokerPassword === undefined) {
    return Effect.fail(MaikitConfig.MaikitConfigError.of(
      brokerUser === undefined ? "broker-user" : "broker-password",
      "command line",
      "the embedded broker needs both a username and a password (--broker-user and --broker-password)"
    ))
  }
  return Effect.succeed(Option.some({ username: brokerUser, password: Redacted.make(brokerPassword) }))
}

/** Where logs go: a directory gets `monitor.log`; a path ending in `.log` names the file itself. */
export const logTarget = (logFile: string, cwd: string) => {
  const resolved = Path.resolve(cwd, logFile)
  const isFile = resolved.endsWith(".log") || (Fs.existsSync(resolved) && Fs.statSync(resolved).isFile())
  return isFile
    ? { directory: Path.dirname(resolved), fileName: Path.basename(resolved) }
    : { directory: resolved, fileName: defaults.logFileName }
}

/** The relay's services (bus, configs, MQTT and BLE links) on a host's `SqlClient`. */
export const relayServices = (options: {
  readonly ble: boolean
  readonly builtIn?: ReadonlyArray<MqttLink.BuiltInLink> | undefined
  readonly sessionTtlMinutes?: number | undefined
}) => {
  const base = Layer.mergeAll(
    StatusBus.StatusBus.layer({
      sessionTtl: options.sessionTtlMinutes === undefined ? undefined : Duration.minutes(options.sessionTtlMinutes)
    }),
    RelayConfigStore.RelayConfigStore.layer()
  )
  const transport = options.ble ? BleTransport.BleTransport.layerNoble : BleTransport.BleTransport.layerUnsupported()
  const links = Layer.mergeAll(
    MqttLink.MqttLink.layer({ builtIn: options.builtIn }),
    BleLink.BleLink.layer().pipe(Layer.provide(transport))
  )
  return Layer.provideMerge(links, base)
}

/** The relay's services on its own database file. */
export const services = (options: {
  readonly db: string
  readonly ble: boolean
  readonly builtIn: ReadonlyArray<MqttLink.BuiltInLink>
  readonly sessionTtlMinutes?: number | undefined
}) => relayServices(options).pipe(Layer.provide(Database.layerFile(options.db)))

/** The embedded broker's address when `--embedded-broker` is on. */
export class EmbeddedBrokerAddress extends Context.Service<EmbeddedBrokerAddress, Option.Option<EmbeddedBroker.Broker>>()(
  "@maikit/light-relay/EmbeddedBrokerAddress"
) {}

/** The topics lights follow (`mqtt_topic`) and receive their configs on (`config_topic`), from the device configs. */
const deviceTopics = (devices: ReadonlyArray<RelayConfig.DeviceConfig>): EmbeddedBroker.ProtectedTopics => ({
  status: devices.flatMap((device) => device.mqtt_topic === "" ? [] : [device.mqtt_topic]),
  config: devices.map((device) => device.config_topic)
})

/** Keeps the embedded broker's protected topics in line with the device configs, for the scope's lifetime. */
const protectDeviceTopics = Layer.effectDiscard(Effect.gen(function*() {
  const broker = yield* EmbeddedBrokerAddress
  if (Option.isNone(broker)) return
  const store = yield* RelayConfigStore.RelayConfigStore
  const changes = yield* store.subscribe
  const sync = store.device.list.pipe(
    Effect.flatMap((devices) => broker.value.protect(deviceTopics(devices))),
    Effect.catch((error) => Effect.logError(`embedded broker: cannot read the device configs: ${error.message}`))
  )
  yield* sync
  yield* Stream.fromQueue(changes).pipe(
    Stream.filter((change) => change === "device" || change === "external"),
    Stream.runForEach(() => sync),
    Effect.forkScoped
  )
}))

/**
 * The relay: listening, publishing and logging until the layer's scope closes. The output keeps the
 * `HttpServer` (to read the bound port) and the relay's services.
 */
export const layer = (options: Options = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const cwd = options.cwd ?? process.cwd()
    const resolve = (path: string) => Path.resolve(cwd, path)
    const address = yield* parseAddress(options.addr ?? defaults.addr)
    const token = options.accessToken === undefined ? Option.none() : Option.some(Redacted.make(options.accessToken))
    yield* MaikitConfig.requireTokenBeyondLoopback({ host: address.host, accessToken: token })
    const allowedHosts = yield* MaikitConfig.decodeSetting(
      Schema.UndefinedOr(Schema.Array(MaikitConfig.AllowedHost)),
      options.allowedHosts,
      "allowed-host",
      "command line"
    )
    const allowedOrigins = yield* MaikitConfig.decodeSetting(
      Schema.UndefinedOr(Schema.Array(MaikitConfig.AllowedOrigin)),
      options.allowedOrigins,
      "allowed-origin",
      "command line"
    )
    const brokerCredentials = yield* credentialsOf(options)
    // Inside the layers below, so that what it logs (a certificate made on first use) reaches the log file.
    const certificate = options.tls === true
      ? Effect.map(
        SelfSignedTls.ensure(resolve(options.tlsCert ?? defaults.tlsCert), resolve(options.tlsKey ?? defaults.tlsKey)),
        Option.some
      )
      : Effect.succeedNone
    const db = resolve(options.db ?? defaults.db)
    const log = logTarget(options.logFile ?? defaults.logFile, cwd)

    const embedded = options.embeddedBroker === undefined
      ? Layer.succeed(EmbeddedBrokerAddress, Option.none())
      : Layer.effect(
        EmbeddedBrokerAddress,
        Effect.flatMap(
          parseAddress(options.embeddedBroker),
          (at) => Effect.map(EmbeddedBroker.make({ host: at.host, port: at.port, credentials: brokerCredentials }), Option.some)
        )
      )

    const relay = Layer.unwrap(Effect.map(Effect.service(EmbeddedBrokerAddress), (broker) =>
      services({
        db,
        ble: options.ble ?? true,
        builtIn: Option.match(broker, { onNone: () => [], onSome: (b) => [b.relayLink] }),
        sessionTtlMinutes: options.sessionTtlMinutes
      })))

    // `MaikitServer.layer`, like `maikit serve`: the fast lane answers `POST /api/event`, the body limit is set once.
    const server = Layer.unwrap(Effect.map(certificate, (pair) =>
      MaikitServer.layer({
        families: [StatusRelay.family],
        maxBodyBytes: 64 * 1024,
        accessToken: token,
        allowedHosts,
        allowedOrigins,
        title: "MaiKit light relay",
        console: true,
        host: address.host,
        port: address.port,
        tls: Option.getOrUndefined(pair)
      })))

    const scheme = options.tls === true ? "https" : "http"
    const shown = address.host.includes(":") ? `[${address.host}]` : address.host
    const announce = Effect.logInfo(
      `AI status light relay listening on ${scheme}://${shown}:${address.port} (configs in ${db}, logs in ${
        Path.join(log.directory, log.fileName)
      })`
    )

    return Layer.mergeAll(server, Layer.effectDiscard(announce), protectDeviceTopics).pipe(
      Layer.provideMerge(relay),
      Layer.provideMerge(embedded),
      Layer.provide(Logging.layer({
        directory: log.directory,
        fileName: log.fileName,
        level: MaikitConfig.toLogLevel(options.logLevel ?? defaults.logLevel),
        console: options.console ?? true,
        format: "logfmt"
      }))
    )
  }))
