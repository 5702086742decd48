/**
 * An in-process MQTT broker (aedes, MQTT 3.1.1) for `--embedded-broker`, so a light works with no broker
 * installed. Retained messages live in memory: a light that reconnects gets the current status at once.
 *
 * Who may do what:
 * - the relay's own client signs in with an account of its own, whose password is made afresh at every start
 *   and never leaves the process: it alone may publish on the protected topics — the status topics lights
 *   follow and the topics device configs are pushed on (which carry Wi-Fi and MQTT passwords);
 * - with `credentials`, every other client must present them (compared in constant time); it may subscribe to
 *   anything and publish on any other topic (a light's presence on its `mqtt_status` topic);
 * - without `credentials` the broker listens on loopback only, and refuses to start elsewhere: any local program
 *   may connect, read statuses and publish on other topics, but never receives a device config push.
 * A client that publishes on a protected topic is disconnected (MQTT 3.1.1 has no way to refuse one message).
 */
import type { Client } from "aedes"
import { Effect, Option, Redacted } from "effect"
import { MaikitConfig } from "@maikit/core/platform"
import { type MqttLink, RelayConfig } from "@maikit/core/relay"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import { EmbeddedBrokerError } from "./LightRelayError.ts"

export { EmbeddedBrokerError } from "./LightRelayError.ts"

/** The account devices and other clients sign in with. */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

export interface Options {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** Required to listen beyond loopback. */
  readonly credentials?: Option.Option<Credentials> | undefined
}

/** The topics only the relay may publish on; config topics are also kept from anonymous clients. */
export interface ProtectedTopics {
  readonly status: ReadonlyArray<string>
  readonly config: ReadonlyArray<string>
}

export interface Broker {
  readonly host: string
  readonly port: number
  /** Where the relay's own client connects: the listening address, or loopback when it listens on all. */
  readonly url: string
  /** The relay's own link to this broker, signed in with its account. */
  readonly relayLink: MqttLink.BuiltInLink
  /** Replaces the protected topics (the relay follows its device configs); the defaults are always protected. */
  readonly protect: (topics: ProtectedTopics) => Effect.Effect<void>
}

/** The username of the relay's own account; no configured account may take it. */
export const relayUsername = "maikit-relay"

/** Always protected: the relay's default status topic and the default topic device configs are pushed on. */
export const defaultProtectedTopics: ProtectedTopics = {
  status: [RelayConfig.mqttDefaults.topic],
  config: [RelayConfig.deviceDefaults.config_topic]
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const digest = (value: string | Buffer) => Crypto.createHash("sha256").update(value).digest()

/** Compares two secrets in constant time (their digests, so that lengths do not leak either). */
const secretMatches = (presented: Buffer | undefined, expected: string) =>
  presented !== undefined && Crypto.timingSafeEqual(digest(presented), digest(expected))

/** CONNACK return codes of MQTT 3.1.1. */
const refused = (returnCode: 2 | 4 | 5, message: string) => Object.assign(new Error(message), { returnCode })

/** Checks the options before anything listens: a broker beyond loopback needs credentials. */
const validate = (options: Options, address: string) => {
  const credentials = options.credentials ?? Option.none()
  if (Option.isNone(credentials)) {
    return MaikitConfig.isLoopbackHost(options.host)
      ? Effect.void
      : Effect.fail(
        new EmbeddedBrokerError({
          address,
          message: `refusing to run the embedded MQTT broker on ${address} without credentials: anyone on the network ` +
            `could read device configs (Wi-Fi passwords) and forge statuses. Set --broker-user and --broker-password ` +
            `(or MAIKIT_BROKER_USER and MAIKIT_BROKER_PASSWORD), or listen on 127.0.0.1`,
          cause: undefined
        })
      )
  }
  const { username, password } = credentials.value
  if (username === "" || Redacted.value(password) === "") {
    return Effect.fail(
      new EmbeddedBrokerError({ address, message: "the embedded broker's username and password must not be empty", cause: undefined })
    )
  }
  return username === relayUsername
    ? Effect.fail(
      new EmbeddedBrokerError({ address, message: `the username ${relayUsername} is the relay's own; choose another`, cause: undefined })
    )
    : Effect.void
}

/** Listens on `host:port` for the scope's lifetime. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const { host, port } = options
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`
  yield* validate(options, address)
  const credentials = Option.getOrUndefined(options.credentials ?? Option.none())
  const relayPassword = Crypto.randomBytes(32).toString("base64url")
  const relayClientId = `${RelayConfig.mqttDefaults.client_id}-relay`

  const relayClients = new WeakSet<Client>()
  const trusted = new WeakSet<Client>()
  let statusTopics = new Set(defaultProtectedTopics.status)
  let configTopics = new Set(defaultProtectedTopics.config)

  // aedes is loaded here, when a broker is asked for, not with the relay.
  const { Aedes } = yield* Effect.promise(() => import("aedes"))
  const broker = yield* Effect.tryPromise({
    try: () =>
      Aedes.createBroker({
        authenticate: (client, username, password, done) => {
          if (username === relayUsername) {
            if (!secretMatches(password, relayPassword)) return done(refused(4, "bad username or password"), false)
            relayClients.add(client)
            trusted.add(client)
            return done(null, true)
          }
          // Nobody else may take the relay's client id: the broker would drop the relay's session for it.
          if (client.id === relayClientId) return done(refused(2, "this client id is reserved"), false)
          if (credentials === undefined) return done(null, true)
          if (username !== credentials.username || !secretMatches(password, Redacted.value(credentials.password))) {
            return done(refused(username === undefined ? 5 : 4, "bad username or password"), false)
          }
          trusted.add(client)
          done(null, true)
        },
        authorizePublish: (client, packet, done) => {
          if (packet.topic.startsWith("$SYS/")) return done(new Error("$SYS/ topics are reserved"))
          if (client !== null && !relayClients.has(client) && (statusTopics.has(packet.topic) || configTopics.has(packet.topic))) {
            return done(new Error(`only the relay publishes on ${packet.topic}`))
          }
          done(null)
        },
        authorizeForward: (client, packet) => (configTopics.has(packet.topic) && !trusted.has(client) ? null : packet)
      }),
    catch: (cause) => new EmbeddedBrokerError({ address, message: `cannot start the broker: ${describe(cause)}`, cause })
  })
  // Closing the broker first drops its clients; the listener only finishes closing once they are gone.
  const server = yield* Effect.acquireRelease(
    Effect.callback<Net.Server, EmbeddedBrokerError>((resume) => {
      const listener = Net.createServer(broker.handle)
      listener.once("error", (cause) => {
        broker.close()
        resume(Effect.fail(new EmbeddedBrokerError({ address, message: `cannot listen on ${address}: ${describe(cause)}`, cause })))
      })
      listener.listen(port, host, () => resume(Effect.succeed(listener)))
    }),
    (listening) =>
      Effect.callback<void>((resume) => {
        broker.close(() => listening.close(() => resume(Effect.void)))
      })
  )
  const bound = server.address()
  const boundPort = typeof bound === "object" && bound !== null ? bound.port : port
  const reachable = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host
  const url = `mqtt://${reachable.includes(":") ? `[${reachable}]` : reachable}:${boundPort}`
  yield* Effect.logInfo(
    `embedded MQTT broker listening on ${host}:${boundPort} (${credentials === undefined ? "loopback clients, no sign-in" : `sign-in as ${credentials.username}`})`
  )
  return {
    host,
    port: boundPort,
    url,
    relayLink: { broker: url, client_id: relayClientId, username: relayUsername, password: relayPassword },
    protect: (topics) =>
      Effect.sync(() => {
        statusTopics = new Set([...defaultProtectedTopics.status, ...topics.status])
        configTopics = new Set([...defaultProtectedTopics.config, ...topics.config])
      })
  } satisfies Broker
})
