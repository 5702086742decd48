/**
 * The relay's MQTT links: one live connection per enabled MQTT config (plus any built-in links, such as the
 * embedded broker's), each publishing the aggregate status as `{"code","timestamp"}` on its topic at QoS 1
 * with the retain flag on every aggregate change, so a light that (re)connects gets the current state at
 * once. Config changes (create, update, disable, delete, or an edit by another process) apply at once.
 *
 * Connections speak MQTT 5 and fall back to 3.1.1 when a broker refuses 5. MQTT.js's own reconnect is off:
 * a lost connection is retried with exponential backoff and jitter, and the backoff only resets after a
 * connection stayed up for `stableAfter`, so a broker that accepts and then kicks (a duplicate client id)
 * cannot cause a reconnect storm. Nothing is queued while offline: on every (re)connect the link publishes
 * the status as it is then, one message, never a backlog.
 *
 * `pushDeviceConfig` publishes a device config (QoS 1, not retained: a retained `reset` would reset the
 * device at every boot) through the link chosen by `via`, or else through every connected link, once per
 * broker, and succeeds when a broker acknowledged it.
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, FiberMap, Layer, Option, Random, Schema, Stream } from "effect"
import Mqtt from "mqtt"
import type { IClientOptions, MqttClient } from "mqtt"
import { DeviceConfigDisabled, MqttLinkUnavailable, MqttPublishError } from "./MqttLinkError.ts"
import * as RelayConfig from "./RelayConfig.ts"
import { RelayConfigStore, type RelayConfigNotFound, type RelayConfigStoreError } from "./RelayConfigStore.ts"
import { StatusBus } from "./StatusBus.ts"
import * as StatusEvent from "./StatusEvent.ts"

export { DeviceConfigDisabled, MqttLinkUnavailable, MqttPublishError } from "./MqttLinkError.ts"

export const LinkStatus = Schema.Literals(["connecting", "connected", "disconnected", "disabled"])
export type LinkStatus = typeof LinkStatus.Type

/** A link's connection as `GET /api/status` shows it. Built-in links have negative ids. */
export const LinkState = Schema.Struct({
  id: Schema.Number,
  broker: Schema.String,
  client_id: Schema.String,
  topic: Schema.String,
  status: LinkStatus,
  protocol: Schema.NullOr(Schema.Literals(["5.0", "3.1.1"])),
  connected_at: Schema.NullOr(Schema.String),
  last_error: Schema.NullOr(Schema.String),
  last_error_at: Schema.NullOr(Schema.String),
  last_publish: Schema.NullOr(Schema.Struct({ code: StatusEvent.StatusCode, timestamp: Schema.String, at: Schema.String })),
  failures: Schema.Number,
  next_attempt_at: Schema.NullOr(Schema.String)
}).annotate({ identifier: "MqttLinkState" })
export type LinkState = typeof LinkState.Type

/**
 * What the relay heard from a device on its `mqtt_status` topic (on any link): whether its last message said
 * it is online (`null` when the message says neither, e.g. a bare counter), when, and the message itself.
 */
export const DeviceState = Schema.Struct({
  id: Schema.Number,
  device_name: Schema.String,
  status_topic: Schema.String,
  online: Schema.NullOr(Schema.Boolean),
  last_seen: Schema.NullOr(Schema.String),
  last_payload: Schema.NullOr(Schema.String)
}).annotate({ identifier: "DeviceState" })
export type DeviceState = typeof DeviceState.Type

/** A link that is not stored, e.g. to the relay's embedded broker. */
export interface BuiltInLink {
  readonly broker: string
  readonly client_id?: string | undefined
  readonly topic?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
}

export interface Options {
  readonly builtIn?: ReadonlyArray<BuiltInLink> | undefined
  /** First retry delay; doubles per failure up to `maxBackoff`, each delay jittered to 50–100 %. Default 500 ms. */
  readonly initialBackoff?: Duration.Input | undefined
  /** Default 30 seconds. */
  readonly maxBackoff?: Duration.Input | undefined
  /** A connection up this long resets the backoff. Default 10 seconds. */
  readonly stableAfter?: Duration.Input | undefined
  /** Default 10 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /** Seconds between MQTT pings. Default 30. */
  readonly keepalive?: number | undefined
  /** How long a device push waits for the broker's acknowledgement. Default 5 seconds. */
  readonly publishTimeout?: Duration.Input | undefined
}

export interface PushResult {
  readonly topic: string
  readonly brokers: ReadonlyArray<{ readonly id: number; readonly broker: string }>
}

export interface Service {
  readonly states: Effect.Effect<ReadonlyArray<LinkState>, RelayConfigStoreError>
  /** Every stored device config with what its `mqtt_status` topic last said. */
  readonly devices: Effect.Effect<ReadonlyArray<DeviceState>, RelayConfigStoreError>
  readonly pushDeviceConfig: (
    id: number,
    options: { readonly reset: boolean; readonly via?: number | undefined }
  ) => Effect.Effect<
    PushResult,
    RelayConfigNotFound | RelayConfigStoreError | DeviceConfigDisabled | MqttLinkUnavailable | MqttPublishError
  >
}

type Link = Pick<RelayConfig.MqttConfig, "id" | "broker" | "client_id" | "username" | "password" | "topic">

interface Runtime {
  readonly link: Link
  state: LinkState
  client: MqttClient | undefined
  /** Device status topics this link's current connection is subscribed to. */
  subscribed: Set<string>
}

interface Connection {
  readonly client: MqttClient
  readonly connected: Deferred.Deferred<void, Error>
  readonly closed: Deferred.Deferred<string>
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const reasonCode = (cause: unknown): number | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "number"
    ? cause.code
    : undefined

// 3.1.1 CONNACK return code 1 and MQTT 5 reason code 0x84: the broker does not speak this version.
const refusesProtocol = (cause: unknown) => reasonCode(cause) === 1 || reasonCode(cause) === 0x84

/** `ssl://` and `tls://` are MQTT.js's `mqtts://`; `tcp://` is its `mqtt://`. */
const connectUrl = (broker: string) => broker.replace(/^(ssl|tls):\/\//i, "mqtts://")

const sameLink = (a: Link, b: Link) =>
  a.broker === b.broker && a.client_id === b.client_id && a.username === b.username && a.password === b.password &&
  a.topic === b.topic

const brokerKey = (broker: string) => {
  const url = new URL(broker)
  return `${url.hostname.toLowerCase()}:${url.port}`
}

const offline = new Set(["offline", "0", "false", "disconnected", "down", "off"])
const onlineWords = new Set(["online", "1", "true", "connected", "up", "on"])

/** `online`/`offline` as text, or a JSON object whose `status`, `state` or `online` says so. */
export const readPresence = (payload: string): boolean | null => {
  const text = payload.trim().toLowerCase()
  if (offline.has(text)) return false
  if (onlineWords.has(text)) return true
  try {
    const parsed: unknown = JSON.parse(payload)
    if (typeof parsed === "object" && parsed !== null) {
      for (const key of ["online", "status", "state"]) {
        const value = (parsed as Record<string, unknown>)[key]
        if (typeof value === "boolean") return value
        if (typeof value === "string" && offline.has(value.toLowerCase())) return false
        if (typeof value === "string" && onlineWords.has(value.toLowerCase())) return true
      }
    }
  } catch {
    return null
  }
  return null
}

const maxPayloadShown = 256

const initialState = (link: Link, status: LinkStatus): LinkState => ({
  id: link.id,
  broker: link.broker,
  client_id: link.client_id,
  topic: link.topic,
  status,
  protocol: null,
  connected_at: null,
  last_error: null,
  last_error_at: null,
  last_publish: null,
  failures: 0,
  next_attempt_at: null
})

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const bus = yield* StatusBus
  const store = yield* RelayConfigStore
  const initialBackoff = Duration.toMillis(Duration.fromInputUnsafe(options.initialBackoff ?? "500 millis"))
  const maxBackoff = Duration.toMillis(Duration.fromInputUnsafe(options.maxBackoff ?? "30 seconds"))
  const stableAfter = Duration.toMillis(Duration.fromInputUnsafe(options.stableAfter ?? "10 seconds"))
  const connectTimeout = Duration.fromInputUnsafe(options.connectTimeout ?? "10 seconds")
  const publishTimeout = Duration.fromInputUnsafe(options.publishTimeout ?? "5 seconds")
  const keepalive = options.keepalive ?? 30

  const builtIn: ReadonlyArray<Link> = (options.builtIn ?? []).map((link, index) => ({
    id: -(index + 1),
    broker: link.broker,
    client_id: link.client_id ?? `${RelayConfig.mqttDefaults.client_id}-relay`,
    username: link.username ?? "",
    password: link.password ?? "",
    topic: link.topic ?? RelayConfig.mqttDefaults.topic
  }))
  const runtimes = new Map<number, Runtime>()
  const fibers = yield* FiberMap.make<number>()
  const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

  // Device status topics by topic, and what was last heard on each device's topic.
  let statusTopics = new Map<string, ReadonlyArray<number>>()
  const heard = new Map<number, { topic: string; online: boolean | null; last_seen: string; last_payload: string }>()

  const onMessage = (topic: string, payload: Buffer) => {
    const ids = statusTopics.get(topic)
    if (ids === undefined) return
    const text = payload.toString("utf8")
    const entry = {
      topic,
      online: readPresence(text),
      last_seen: new Date().toISOString(),
      last_payload: text.slice(0, maxPayloadShown)
    }
    for (const id of ids) heard.set(id, entry)
  }

  /** Brings `runtime`'s subscriptions in line with the device status topics. */
  const syncSubscriptions = (runtime: Runtime) => {
    const client = runtime.client
    if (client === undefined) return
    const wanted = new Set(statusTopics.keys())
    const added = [...wanted].filter((topic) => !runtime.subscribed.has(topic))
    const removed = [...runtime.subscribed].filter((topic) => !wanted.has(topic))
    if (added.length > 0) client.subscribe(added, { qos: 0 })
    if (removed.length > 0) client.unsubscribe(removed)
    runtime.subscribed = wanted
  }

  const refreshDevices = Effect.map(store.device.list, (devices) => {
    const topics = new Map<string, Array<number>>()
    for (const device of devices) {
      if (!device.enabled || device.mqtt_status === "") continue
      topics.set(device.mqtt_status, [...(topics.get(device.mqtt_status) ?? []), device.id])
    }
    statusTopics = topics
    for (const runtime of runtimes.values()) syncSubscriptions(runtime)
  })

  const open = (link: Link, protocolVersion: 4 | 5) =>
    Effect.acquireRelease(
      Effect.sync((): Connection => {
        const connected = Deferred.makeUnsafe<void, Error>()
        const closed = Deferred.makeUnsafe<string>()
        const clientOptions: IClientOptions = {
          protocolVersion,
          clientId: link.client_id,
          reconnectPeriod: 0,
          connectTimeout: Duration.toMillis(connectTimeout),
          keepalive,
          clean: true,
          queueQoSZero: false,
          resubscribe: false,
          ...(link.username === "" ? {} : { username: link.username }),
          ...(link.password === "" ? {} : { password: link.password })
        }
        const client = Mqtt.connect(connectUrl(link.broker), clientOptions)
        let lastError: Error | undefined
        client.on("connect", () => Deferred.doneUnsafe(connected, Exit.void))
        client.on("message", onMessage)
        client.on("error", (error) => {
          lastError = error
          Deferred.doneUnsafe(connected, Exit.fail(error))
        })
        client.on("disconnect", (packet) => {
          lastError = new Error(`the broker disconnected the client (reason code ${packet.reasonCode ?? 0})`)
        })
        client.on("close", () => {
          const error = lastError ?? new Error("connection closed")
          Deferred.doneUnsafe(connected, Exit.fail(error))
          Deferred.doneUnsafe(closed, Exit.succeed(error.message))
        })
        return { client, connected, closed }
      }),
      ({ client }) =>
        Effect.callback<void>((resume) => {
          client.end(true, {}, () => resume(Effect.void))
        }).pipe(Effect.timeoutOption("2 seconds"))
    )

  const publishStatus = (
    runtime: Runtime,
    client: MqttClient,
    clock: Clock.Clock,
    status: StatusEvent.StatusPayload
  ) => {
    const payload = JSON.stringify({ code: status.code, timestamp: status.timestamp })
    client.publish(runtime.link.topic, payload, { qos: 1, retain: true }, (error) => {
      const at = new Date(clock.currentTimeMillisUnsafe()).toISOString()
      runtime.state = error instanceof Error
        ? { ...runtime.state, last_error: `publish failed: ${error.message}`, last_error_at: at }
        : { ...runtime.state, last_publish: { code: status.code, timestamp: status.timestamp, at } }
    })
  }

  type Outcome =
    | { readonly _tag: "Refused"; readonly error: Error }
    | { readonly _tag: "Lost"; readonly reason: string; readonly upFor: number }

  /** One connection's life: connect, publish the current status and every change, until it closes. */
  const session = (runtime: Runtime, protocolVersion: 4 | 5) =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* open(runtime.link, protocolVersion)
      const connected = yield* Deferred.await(connection.connected).pipe(
        Effect.timeout(Duration.sum(connectTimeout, Duration.seconds(1))),
        Effect.exit
      )
      if (Exit.isFailure(connected)) {
        const error = Option.getOrElse(
          Exit.findErrorOption(connected),
          () => new Error("connection attempt timed out")
        )
        return { _tag: "Refused", error: error instanceof Error ? error : new Error(describe(error)) } as Outcome
      }
      const clock = yield* Clock.Clock
      const since = clock.currentTimeMillisUnsafe()
      runtime.client = connection.client
      runtime.state = {
        ...runtime.state,
        status: "connected",
        protocol: protocolVersion === 5 ? "5.0" : "3.1.1",
        connected_at: new Date(since).toISOString(),
        next_attempt_at: null
      }
      runtime.subscribed = new Set()
      syncSubscriptions(runtime)
      yield* Effect.addFinalizer(() => Effect.sync(() => (runtime.client = undefined)))
      // Every change is published in the publisher's turn, so it reaches the broker with no fiber wake-up in
      // between. Listening starts before the current status is read: a change in between is published twice,
      // never lost.
      yield* bus.listen((update) => publishStatus(runtime, connection.client, clock, update), { changesOnly: true })
      publishStatus(runtime, connection.client, clock, yield* bus.current)
      const reason = yield* Deferred.await(connection.closed)
      const upFor = (yield* Clock.currentTimeMillis) - since
      return { _tag: "Lost", reason, upFor } as Outcome
    }))

  const backoff = (failures: number) =>
    Effect.map(Random.next, (random) => {
      const ceiling = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(failures, 30))
      return Math.round(ceiling / 2 + (random * ceiling) / 2)
    })

  const run = (link: Link) =>
    Effect.gen(function*() {
      const runtime: Runtime = { link, state: initialState(link, "connecting"), client: undefined, subscribed: new Set() }
      runtimes.set(link.id, runtime)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (runtimes.get(link.id) === runtime) runtimes.delete(link.id)
        })
      )
      let protocolVersion: 4 | 5 = 5
      let failures = 0
      while (true) {
        runtime.state = { ...runtime.state, status: "connecting", next_attempt_at: null }
        const outcome = yield* session(runtime, protocolVersion)
        if (outcome._tag === "Refused" && protocolVersion === 5 && refusesProtocol(outcome.error)) {
          yield* Effect.logInfo(`MQTT ${link.broker} refuses MQTT 5; using 3.1.1`)
          protocolVersion = 4
          continue
        }
        if (outcome._tag === "Lost" && outcome.upFor >= stableAfter) failures = 0
        const delay = yield* backoff(failures)
        failures++
        const at = yield* now
        const message = outcome._tag === "Refused" ? describe(outcome.error) : outcome.reason
        runtime.state = {
          ...runtime.state,
          status: "disconnected",
          connected_at: null,
          last_error: message,
          last_error_at: at,
          failures,
          next_attempt_at: new Date(Date.parse(at) + delay).toISOString()
        }
        yield* Effect.logWarning(`MQTT ${link.broker}: ${message}; retrying in ${delay} ms`)
        yield* Effect.sleep(Duration.millis(delay))
      }
    })

  const desired = Effect.map(store.mqtt.list, (configs): ReadonlyArray<Link> => [
    ...configs.filter((config) => config.enabled),
    ...builtIn
  ])

  const reconcile = Effect.gen(function*() {
    const links = yield* desired
    const wanted = new Set(links.map((link) => link.id))
    for (const id of runtimes.keys()) {
      if (!wanted.has(id)) yield* FiberMap.remove(fibers, id)
    }
    for (const link of links) {
      const running = runtimes.get(link.id)
      if (running === undefined || !sameLink(running.link, link)) yield* FiberMap.run(fibers, link.id, run(link))
    }
  })

  const changes = yield* store.subscribe
  yield* refreshDevices
  yield* reconcile
  yield* Stream.fromQueue(changes).pipe(
    Stream.runForEach((change) =>
      Effect.andThen(
        change === "device" || change === "external" ? refreshDevices : Effect.void,
        change === "mqtt" || change === "external" ? reconcile : Effect.void
      ).pipe(
        Effect.catch((error) => Effect.logError(`status relay: cannot apply config changes: ${error.message}`))
      )
    ),
    Effect.forkScoped
  )

  const states = Effect.map(store.mqtt.list, (configs) => [
    ...configs.map((config) =>
      config.enabled ? runtimes.get(config.id)?.state ?? initialState(config, "connecting") : initialState(config, "disabled")
    ),
    ...builtIn.map((link) => runtimes.get(link.id)?.state ?? initialState(link, "connecting"))
  ])

  const publishOnce = (runtime: Runtime, client: MqttClient, topic: string, payload: string) =>
    Effect.callback<void, MqttPublishError>((resume) => {
      client.publish(topic, payload, { qos: 1, retain: false }, (error) => {
        resume(
          error instanceof Error
            ? Effect.fail(
              new MqttPublishError({
                broker: runtime.link.broker,
                topic,
                message: `${runtime.link.broker} refused the publish to ${topic}: ${error.message}`,
                cause: error
              })
            )
            : Effect.void
        )
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: publishTimeout,
        orElse: () =>
          Effect.fail(
            new MqttPublishError({
              broker: runtime.link.broker,
              topic,
              message: `${runtime.link.broker} did not acknowledge the publish to ${topic} within ${
                Duration.format(publishTimeout)
              }`,
              cause: undefined
            })
          )
      })
    )

  const pushDeviceConfig = Effect.fn("MqttLink.pushDeviceConfig")(function*(
    id: number,
    pushOptions: { readonly reset: boolean; readonly via?: number | undefined }
  ) {
    const device = yield* store.device.get(id)
    if (!device.enabled) {
      return yield* new DeviceConfigDisabled({ id, message: `device config ${id} is disabled; enable it to push` })
    }
    // Only links the configs still want: a link just disabled or edited may not have closed yet.
    const wanted = new Map((yield* store.mqtt.list).filter((config) => config.enabled).map((config) => [config.id, config]))
    const connected = [...runtimes.values()].filter((runtime) => {
      const stored = wanted.get(runtime.link.id)
      return runtime.client !== undefined && (runtime.link.id < 0 || (stored !== undefined && sameLink(stored, runtime.link)))
    })
    let targets: Array<Runtime>
    if (pushOptions.via !== undefined) {
      const via = pushOptions.via
      const chosen = connected.find((runtime) => runtime.link.id === via)
      if (chosen === undefined) {
        if (!builtIn.some((link) => link.id === via)) yield* store.mqtt.get(via)
        return yield* new MqttLinkUnavailable({ message: `MQTT link ${via} is not connected` })
      }
      targets = [chosen]
    } else {
      const seen = new Set<string>()
      targets = connected.toSorted((a, b) => a.link.id - b.link.id).filter((runtime) => {
        const key = brokerKey(connectUrl(runtime.link.broker))
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
    }
    if (targets.length === 0) {
      return yield* new MqttLinkUnavailable({
        message: "no MQTT link is connected; add or enable an MQTT config whose broker the device can reach"
      })
    }
    const payload = JSON.stringify(RelayConfig.devicePayload(device, pushOptions.reset))
    const results = yield* Effect.forEach(
      targets,
      (runtime) =>
        runtime.client === undefined
          ? Effect.fail(new MqttLinkUnavailable({ message: `MQTT link ${runtime.link.id} disconnected` }))
          : Effect.result(publishOnce(runtime, runtime.client, device.config_topic, payload)),
      { concurrency: "unbounded" }
    )
    const delivered = targets.filter((_, index) => results[index]?._tag === "Success")
    if (delivered.length === 0) {
      const first = results.find((result) => result._tag === "Failure")
      return yield* first?._tag === "Failure"
        ? Effect.fail(first.failure)
        : Effect.fail(new MqttLinkUnavailable({ message: "no MQTT link accepted the push" }))
    }
    return {
      topic: device.config_topic,
      brokers: delivered.map((runtime) => ({ id: runtime.link.id, broker: runtime.link.broker }))
    }
  })

  const devices = Effect.map(store.device.list, (configs) =>
    configs.map((device): DeviceState => {
      const entry = heard.get(device.id)
      const last = entry?.topic === device.mqtt_status ? entry : undefined
      return {
        id: device.id,
        device_name: device.device_name,
        status_topic: device.mqtt_status,
        online: last?.online ?? null,
        last_seen: last?.last_seen ?? null,
        last_payload: last?.last_payload ?? null
      }
    }))

  return MqttLink.of({ states, devices, pushDeviceConfig })
})

export class MqttLink extends Context.Service<MqttLink, Service>()("@maikit/core/MqttLink") {
  static readonly layer = (options: Options = {}): Layer.Layer<MqttLink, RelayConfigStoreError, StatusBus | RelayConfigStore> =>
    Layer.effect(MqttLink, make(options))
}
