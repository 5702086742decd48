import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Database from "../src/platform/Database.ts"
import { MqttLink, readPresence } from "../src/relay/MqttLink.ts"
import { RelayConfigStore } from "../src/relay/RelayConfigStore.ts"
import { StatusBus } from "../src/relay/StatusBus.ts"
import { eventually, payloadOf, privateMosquitto, sharedMosquitto, subscriber, uniqueName } from "./helpers/mqtt.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-mqtt-link-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0

const relay = (options: Parameters<typeof MqttLink.layer>[0] = {}) => {
  const base = Layer.mergeAll(
    StatusBus.layer(),
    RelayConfigStore.layer({ externalChangeInterval: 0 })
  ).pipe(Layer.provide(Database.layerFile(Path.join(root, `case-${++counter}`, "config.db"))))
  return Layer.provideMerge(
    MqttLink.layer({ initialBackoff: "50 millis", maxBackoff: "400 millis", stableAfter: "5 seconds", ...options }),
    base
  )
}

const linkState = (id: number) =>
  MqttLink.use((link) => link.states).pipe(Effect.map((states) => states.find((state) => state.id === id)))

const connected = (id: number) =>
  eventually(`MQTT link ${id} to connect`, Effect.map(linkState(id), (state) => state?.status === "connected"))

const publish = (code: "idle" | "busy" | "reasoning" | "using_tool" | "permission" | "error", session = "s") =>
  StatusBus.use((bus) => bus.publish({ code, session_id: session }))

describe("MqttLink against mosquitto (MQTT 5)", () => {
  it.live("publishes {code, timestamp} retained at QoS 1 on every aggregate change", () =>
    Effect.gen(function*() {
      const url = yield* sharedMosquitto
      const topic = uniqueName("maikit/test/status")
      const store = yield* RelayConfigStore
      const config = yield* store.mqtt.create({ broker: url, topic, client_id: uniqueName("relay") })
      yield* connected(config.id)
      const state = yield* linkState(config.id)
      assert.strictEqual(state?.protocol, "5.0")

      const live = yield* subscriber(url, topic, { protocolVersion: 5 })
      yield* live.waitFor((messages) => messages.length === 1)
      assert.strictEqual(live.messages[0]?.retain, true)
      assert.deepInclude(payloadOf(live.messages[0]) as object, { code: "idle" })

      yield* publish("busy")
      yield* publish("busy")
      yield* publish("reasoning", "other")
      yield* publish("busy", "other")
      yield* StatusBus.use((bus) => bus.publish({ code: "permission", session_id: "p", timestamp: "2026-06-27T14:30:00Z" }))
      yield* live.waitFor((messages) => messages.length === 5)
      assert.deepStrictEqual(live.messages.map((m) => (payloadOf(m) as { code: string }).code), [
        "idle",
        "busy",
        "reasoning",
        "busy",
        "permission"
      ])
      const last = live.messages[4]
      assert.deepStrictEqual(payloadOf(last), { code: "permission", timestamp: "2026-06-27T14:30:00Z" })
      assert.strictEqual(last?.qos, 1)

      // A light that connects now gets the current state at once, from the broker's retained copy.
      const late = yield* subscriber(url, topic)
      yield* late.waitFor((messages) => messages.length === 1)
      assert.strictEqual(late.messages[0]?.retain, true)
      assert.deepStrictEqual(payloadOf(late.messages[0]), { code: "permission", timestamp: "2026-06-27T14:30:00Z" })
      yield* eventually(
        "last_publish",
        Effect.map(linkState(config.id), (s) => s?.last_publish?.code === "permission")
      )
      yield* Effect.promise(() => late.client.publishAsync(topic, "", { retain: true, qos: 1 }))
    }).pipe(Effect.scoped, Effect.provide(relay())))

  it.live("applies create, update, disable and delete at once", () =>
    Effect.gen(function*() {
      const url = yield* sharedMosquitto
      const first = uniqueName("maikit/test/a")
      const second = uniqueName("maikit/test/b")
      const store = yield* RelayConfigStore
      const watchFirst = yield* subscriber(url, first)
      const watchSecond = yield* subscriber(url, second)

      const config = yield* store.mqtt.create({ broker: url, topic: first, client_id: uniqueName("relay") })
      yield* watchFirst.waitFor((messages) => messages.length >= 1)

      yield* store.mqtt.update(config.id, { topic: second })
      yield* watchSecond.waitFor((messages) => messages.length >= 1)
      yield* publish("error")
      yield* watchSecond.waitFor((messages) => messages.some((m) => (payloadOf(m) as { code: string }).code === "error"))

      yield* store.mqtt.update(config.id, { enabled: false })
      yield* eventually("the link to stop", Effect.map(linkState(config.id), (s) => s?.status === "disabled"))
      const before = watchSecond.messages.length
      yield* publish("busy", "x")
      yield* Effect.sleep("200 millis")
      assert.strictEqual(watchSecond.messages.length, before)

      yield* store.mqtt.update(config.id, { enabled: true })
      yield* connected(config.id)
      yield* store.mqtt.remove(config.id)
      yield* eventually("the link to disappear", Effect.map(linkState(config.id), (s) => s === undefined))
      for (const topic of [first, second]) {
        yield* Effect.promise(() => watchFirst.client.publishAsync(topic, "", { retain: true, qos: 1 }))
      }
    }).pipe(Effect.scoped, Effect.provide(relay())))

  it.live("reconnects with backoff after the broker restarts and publishes only the latest state", () =>
    Effect.gen(function*() {
      const broker = yield* privateMosquitto()
      const topic = "maikit/restart/status"
      const store = yield* RelayConfigStore
      const config = yield* store.mqtt.create({ broker: broker.url, topic })
      yield* connected(config.id)

      yield* broker.stop
      yield* eventually("the link to notice", Effect.map(linkState(config.id), (s) => s?.status !== "connected"))
      for (const code of ["busy", "reasoning", "using_tool", "error", "permission"] as const) yield* publish(code)
      yield* eventually("two failed attempts", Effect.map(linkState(config.id), (s) => (s?.failures ?? 0) >= 2))
      const down = yield* linkState(config.id)
      assert.isNotNull(down?.last_error)
      assert.isNotNull(down?.next_attempt_at)

      yield* broker.start
      const light = yield* subscriber(broker.url, topic)
      yield* connected(config.id)
      yield* light.waitFor((messages) => messages.length >= 1)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(light.messages.map((m) => (payloadOf(m) as { code: string }).code), ["permission"])
      assert.strictEqual((yield* linkState(config.id))?.last_error !== null, true)
    }).pipe(Effect.scoped, Effect.provide(relay())))
})

describe("MqttLink device config push", () => {
  it.live("publishes only the non-empty fields and reset, not retained, once per broker", () =>
    Effect.gen(function*() {
      const url = yield* sharedMosquitto
      const store = yield* RelayConfigStore
      const configTopic = uniqueName("agent/status/config")
      const a = yield* store.mqtt.create({ broker: url, topic: uniqueName("s"), client_id: uniqueName("a") })
      const b = yield* store.mqtt.create({ broker: url, topic: uniqueName("s"), client_id: uniqueName("b") })
      yield* connected(a.id)
      yield* connected(b.id)
      const device = yield* store.device.create({
        device_name: "AI-Light",
        config_topic: configTopic,
        wifi_ssid: "MyWiFi",
        wifi_pass: "MyPassword",
        mqtt_broker: "192.168.1.100",
        mqtt_topic: "agent/status"
      })
      const board = yield* subscriber(url, configTopic)
      const link = yield* MqttLink
      const result = yield* link.pushDeviceConfig(device.id, { reset: true })
      assert.strictEqual(result.topic, configTopic)
      assert.deepStrictEqual(result.brokers.map((target) => target.id), [a.id])
      yield* board.waitFor((messages) => messages.length === 1)
      yield* Effect.sleep("200 millis")
      assert.lengthOf(board.messages, 1)
      const [message] = board.messages
      assert.strictEqual(message?.retain, false)
      assert.deepStrictEqual(payloadOf(message), {
        device_name: "AI-Light",
        wifi_ssid: "MyWiFi",
        wifi_pass: "MyPassword",
        mqtt_broker: "192.168.1.100",
        mqtt_port: 1883,
        mqtt_topic: "agent/status",
        pin_red: 4,
        pin_green: 3,
        pin_yellow: 2,
        reset: true
      })

      const viaB = yield* link.pushDeviceConfig(device.id, { reset: false, via: b.id })
      assert.deepStrictEqual(viaB.brokers.map((target) => target.id), [b.id])
      yield* board.waitFor((messages) => messages.length === 2)
      assert.strictEqual((payloadOf(board.messages[1]) as { reset: boolean }).reset, false)

      const unknownLink = yield* Effect.flip(link.pushDeviceConfig(device.id, { reset: false, via: 999 }))
      assert.strictEqual(unknownLink._tag, "RelayConfigNotFound")
      yield* store.mqtt.update(b.id, { enabled: false })
      yield* eventually("b to stop", Effect.map(linkState(b.id), (state) => state?.status === "disabled"))
      const downLink = yield* Effect.flip(link.pushDeviceConfig(device.id, { reset: false, via: b.id }))
      assert.strictEqual(downLink._tag, "MqttLinkUnavailable")
      const unknownDevice = yield* Effect.flip(link.pushDeviceConfig(999, { reset: false }))
      assert.strictEqual(unknownDevice._tag, "RelayConfigNotFound")
      yield* store.device.update(device.id, { enabled: false })
      const disabled = yield* Effect.flip(link.pushDeviceConfig(device.id, { reset: false }))
      assert.strictEqual(disabled._tag, "DeviceConfigDisabled")
    }).pipe(Effect.scoped, Effect.provide(relay())))

  it.live("follows each device's mqtt_status topic: online, offline, last seen", () =>
    Effect.gen(function*() {
      const url = yield* sharedMosquitto
      const store = yield* RelayConfigStore
      const statusTopic = uniqueName("agentLight/status")
      yield* store.mqtt.create({ broker: url, topic: uniqueName("s"), client_id: uniqueName("relay") })
      const device = yield* store.device.create({ device_name: "AI-Light", mqtt_status: statusTopic })
      yield* store.device.create({ device_name: "Silent" })
      const deviceState = MqttLink.use((link) => link.devices).pipe(
        Effect.map((devices) => devices.find((d) => d.id === device.id))
      )
      const board = yield* subscriber(url, uniqueName("unused"))
      yield* eventually(
        "the subscription",
        Effect.gen(function*() {
          yield* Effect.promise(() => board.client.publishAsync(statusTopic, "online"))
          return (yield* deviceState)?.online === true
        })
      )
      assert.isNotNull((yield* deviceState)?.last_seen)
      yield* Effect.promise(() => board.client.publishAsync(statusTopic, JSON.stringify({ status: "offline", rssi: -70 })))
      yield* eventually("offline", Effect.map(deviceState, (state) => state?.online === false))
      assert.include((yield* deviceState)?.last_payload ?? "", "rssi")
      const silent = (yield* MqttLink.use((link) => link.devices)).find((d) => d.device_name === "Silent")
      assert.deepStrictEqual([silent?.online, silent?.last_seen], [null, null])

      const moved = uniqueName("agentLight/moved")
      yield* store.device.update(device.id, { mqtt_status: moved })
      assert.isNull((yield* deviceState)?.last_seen)
      yield* eventually(
        "the new topic",
        Effect.gen(function*() {
          yield* Effect.promise(() => board.client.publishAsync(moved, "1"))
          return (yield* deviceState)?.online === true
        })
      )
      assert.deepStrictEqual(
        ["online", "OFFLINE", "{\"online\":false}", "{\"state\":\"up\"}", "42", "{"].map(readPresence),
        [true, false, false, true, null, null]
      )
    }).pipe(Effect.scoped, Effect.provide(relay())))

  it.live("fails clearly when no link is connected", () =>
    Effect.gen(function*() {
      const store = yield* RelayConfigStore
      const device = yield* store.device.create({ device_name: "AI-Light" })
      const error = yield* Effect.flip(MqttLink.use((link) => link.pushDeviceConfig(device.id, { reset: false })))
      assert.strictEqual(error._tag, "MqttLinkUnavailable")
      assert.include(error.message, "no MQTT link is connected")
    }).pipe(Effect.provide(relay())))
})
