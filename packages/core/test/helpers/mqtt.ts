/**
 * Real MQTT brokers and clients for tests. `sharedMosquitto` is the MQTT 5 broker `.ci/run` starts
 * (`MAIKIT_TEST_MOSQUITTO_URL`) or, without it, a private mosquitto on a free loopback port; `privateMosquitto`
 * always starts one the test owns, so it can stop and restart it.
 */
import { Effect, Scope } from "effect"
import Mqtt from "mqtt"
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt"
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const mosquittoBinary = (): string => {
  for (const candidate of ["mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]) {
    const probe = spawnSync(candidate, ["-h"], { stdio: "ignore" })
    if (probe.error === undefined) return candidate
  }
  throw new Error(
    "mosquitto is not installed: MQTT tests need a real MQTT 5 broker. Install it (apt-get install mosquitto, " +
      "brew install mosquitto) or set MAIKIT_TEST_MOSQUITTO_URL to a running broker."
  )
}

export const freePort = () =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
  )

/** Whether something listens on `port` of 127.0.0.1. */
export const acceptsConnections = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

export interface Mosquitto {
  readonly url: string
  readonly port: number
  readonly stop: Effect.Effect<void>
  readonly start: Effect.Effect<void>
}

/** A mosquitto the test owns, on `port` (default: a free one), stopped with the scope. */
export const privateMosquitto = (port?: number) =>
  Effect.gen(function*() {
    const binary = mosquittoBinary()
    const chosen = port ?? (yield* freePort())
    const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-mosquitto-"))
    const config = Path.join(directory, "mosquitto.conf")
    Fs.writeFileSync(config, `listener ${chosen} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
    let child: ChildProcess | undefined
    const stop = Effect.promise(() =>
      new Promise<void>((resolve) => {
        const running = child
        child = undefined
        if (running === undefined || running.exitCode !== null) return resolve()
        running.once("exit", () => resolve())
        running.kill("SIGKILL")
      })
    )
    const start = Effect.gen(function*() {
      child = spawn(binary, ["-c", config], { stdio: "ignore" })
      for (let i = 0; i < 100; i++) {
        if (yield* Effect.promise(() => acceptsConnections(chosen))) return
        yield* Effect.sleep("50 millis")
      }
      return yield* Effect.die(new Error(`mosquitto did not listen on ${chosen} within 5 s`))
    })
    yield* Effect.acquireRelease(start, () =>
      Effect.andThen(stop, Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))))
    return { url: `mqtt://127.0.0.1:${chosen}`, port: chosen, stop, start } satisfies Mosquitto
  })

/** The CI broker when `.ci/run` started one, else a private mosquitto for this scope. */
export const sharedMosquitto: Effect.Effect<string, never, Scope.Scope> = Effect.suspend(() => {
  const url = process.env["MAIKIT_TEST_MOSQUITTO_URL"]
  return url !== undefined && url !== "" ? Effect.succeed(url) : Effect.map(privateMosquitto(), (broker) => broker.url)
})

export const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`

export interface Subscriber {
  readonly client: MqttClient
  readonly messages: Array<IPublishPacket>
  /** Waits until `predicate` holds for the messages received so far. */
  readonly waitFor: (predicate: (messages: ReadonlyArray<IPublishPacket>) => boolean, timeout?: number) => Effect.Effect<void>
}

/** A separate MQTT client subscribed to `topic` at QoS 1, disconnected with the scope. */
export const subscriber = (url: string, topic: string, options: IClientOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = await Mqtt.connectAsync(url, {
        clientId: uniqueName("maikit-test-sub"),
        reconnectPeriod: 0,
        ...options
      })
      const messages: Array<IPublishPacket> = []
      client.on("message", (_topic, _payload, packet) => messages.push(packet))
      await client.subscribeAsync(topic, { qos: 1 })
      return { client, messages }
    }),
    ({ client }) => Effect.promise(() => client.endAsync(true))
  ).pipe(Effect.map(({ client, messages }): Subscriber => ({
    client,
    messages,
    waitFor: (predicate, timeout = 5000) =>
      Effect.gen(function*() {
        const deadline = Date.now() + timeout
        while (!predicate(messages)) {
          if (Date.now() > deadline) {
            return yield* Effect.die(
              new Error(`timed out; received: ${JSON.stringify(messages.map((m) => m.payload.toString()))}`)
            )
          }
          yield* Effect.sleep("10 millis")
        }
      })
  })))

export const payloadOf = (packet: IPublishPacket | undefined): unknown => {
  if (packet === undefined) throw new Error("no such MQTT message")
  return JSON.parse(packet.payload.toString())
}

/** Polls `check` until it returns true, failing the test after `timeout` ms with `what`. */
export const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeout = 5000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeout
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** How a sign-in ended: connected (the client, ended with the scope), or refused with the broker's CONNACK code. */
export type SignIn =
  | { readonly _tag: "Connected"; readonly client: MqttClient }
  | { readonly _tag: "Refused"; readonly code: number | undefined; readonly message: string }

/** Connects once (MQTT 3.1.1 unless `options` say otherwise), without reconnecting, and reports how it went. */
export const signIn = (url: string, options: IClientOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      Mqtt.connectAsync(url, { clientId: uniqueName("maikit-test"), reconnectPeriod: 0, protocolVersion: 4, ...options })
        .then((client): SignIn => ({ _tag: "Connected", client }))
        .catch((error: Error & { code?: number }): SignIn => ({ _tag: "Refused", code: error.code, message: error.message }))
    ),
    (result) => result._tag === "Connected" ? Effect.promise(() => result.client.endAsync(true)) : Effect.void
  )
