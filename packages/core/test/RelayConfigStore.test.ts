import { assert, describe, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Effect, Exit, Layer, Queue } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Database from "../src/platform/Database.ts"
import * as RelayConfig from "../src/relay/RelayConfig.ts"
import { decodeInput, RelayConfigStore } from "../src/relay/RelayConfigStore.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-relay-store-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0
const freshFile = () => Path.join(root, `case-${++counter}`, "config.db")

const store = (filename: string, options?: Parameters<typeof RelayConfigStore.layer>[0]) =>
  RelayConfigStore.layer(options).pipe(Layer.provide(Database.layerFile(filename)))

describe("RelayConfigStore MQTT configs", () => {
  it.effect("creates with the seed's defaults, reads, updates partially and deletes", () =>
    Effect.gen(function*() {
      const { mqtt } = yield* RelayConfigStore
      const created = yield* mqtt.create({ broker: "tcp://127.0.0.1:1883" })
      assert.deepStrictEqual(created, {
        id: 1,
        broker: "tcp://127.0.0.1:1883",
        client_id: "opencode-monitor",
        username: "",
        password: "",
        topic: "opencode/status",
        enabled: true
      })
      const updated = yield* mqtt.update(created.id, { topic: "my/topic", enabled: false })
      assert.strictEqual(updated.topic, "my/topic")
      assert.strictEqual(updated.broker, "tcp://127.0.0.1:1883")
      assert.deepStrictEqual(yield* mqtt.get(created.id), updated)
      assert.deepStrictEqual(yield* mqtt.list, [updated])
      yield* mqtt.remove(created.id)
      const missing = yield* Effect.exit(mqtt.get(created.id))
      assert.isTrue(Exit.isFailure(missing))
      const error = yield* Effect.flip(mqtt.remove(created.id))
      assert.strictEqual(error._tag, "RelayConfigNotFound")
      assert.strictEqual(error.message, "MQTT config 1 not found")
    }).pipe(Effect.provide(store(freshFile()))))

  it.effect("keeps secrets write-only: masked on read, kept when written back masked", () =>
    Effect.gen(function*() {
      const { mqtt, device } = yield* RelayConfigStore
      const created = yield* mqtt.create({ broker: "mqtt://broker.local", username: "u", password: "s3cret" })
      assert.strictEqual(RelayConfig.maskMqtt(created).password, RelayConfig.secretMask)
      const kept = yield* mqtt.update(created.id, { password: RelayConfig.secretMask, username: "v" })
      assert.strictEqual(kept.password, "s3cret")
      assert.strictEqual((yield* mqtt.get(created.id)).password, "s3cret")
      const cleared = yield* mqtt.update(created.id, { password: "" })
      assert.strictEqual(RelayConfig.maskMqtt(cleared).password, "")

      const masked = yield* mqtt.create({ broker: "mqtt://other.local", password: RelayConfig.secretMask })
      assert.strictEqual(masked.password, "")

      const light = yield* device.create({ device_name: "AI-Light", wifi_pass: "wifi-pass-1", mqtt_pass: "p" })
      const view = RelayConfig.maskDevice(light)
      assert.strictEqual(view.wifi_pass, RelayConfig.secretMask)
      assert.strictEqual(view.mqtt_pass, RelayConfig.secretMask)
      const again = yield* device.update(light.id, { ...view, pin_red: 5 })
      assert.strictEqual(again.wifi_pass, "wifi-pass-1")
      assert.strictEqual(again.mqtt_pass, "p")
      assert.strictEqual(again.pin_red, 5)
    }).pipe(Effect.provide(store(freshFile()))))

  it.effect("refuses two enabled links to one broker with one client id", () =>
    Effect.gen(function*() {
      const { mqtt } = yield* RelayConfigStore
      const first = yield* mqtt.create({ broker: "tcp://127.0.0.1:1883" })
      const twin = yield* Effect.flip(mqtt.create({ broker: "mqtt://127.0.0.1" }))
      assert.strictEqual(twin._tag, "RelayConfigConflict")
      assert.include(twin.message, "opencode-monitor")
      const disabled = yield* mqtt.create({ broker: "mqtt://127.0.0.1", enabled: false })
      const enabling = yield* Effect.flip(mqtt.update(disabled.id, { enabled: true }))
      assert.strictEqual(enabling._tag, "RelayConfigConflict")
      yield* mqtt.update(disabled.id, { enabled: true, client_id: "second" })
      assert.lengthOf(yield* mqtt.list, 2)
      assert.strictEqual((yield* mqtt.get(first.id)).client_id, "opencode-monitor")
    }).pipe(Effect.provide(store(freshFile()))))
})

describe("RelayConfigStore BLE and device configs", () => {
  it.effect("stores BLE configs and device configs with the seed's defaults", () =>
    Effect.gen(function*() {
      const { ble, device } = yield* RelayConfigStore
      const light = yield* ble.create({
        device_name: "AI-Light",
        service_uuid: "b8b7e001-7a6b-4f4f-9a8b-11c0ffee0001",
        char_uuid: "b8b7e002-7a6b-4f4f-9a8b-11c0ffee0001"
      })
      assert.isTrue(light.enabled)
      const off = yield* ble.update(light.id, { enabled: false })
      assert.isFalse(off.enabled)

      const board = yield* device.create({ device_name: "AI-Light" })
      assert.deepStrictEqual(board, { id: 1, device_name: "AI-Light", ...RelayConfig.deviceDefaults })
      assert.deepStrictEqual(RelayConfig.devicePayload(board, false), {
        device_name: "AI-Light",
        mqtt_port: 1883,
        pin_red: 4,
        pin_green: 3,
        pin_yellow: 2,
        reset: false
      })
    }).pipe(Effect.provide(store(freshFile()))))

  it.effect("decodes loose input strictly: unknown keys and bad values are refused", () =>
    Effect.gen(function*() {
      const ok = yield* decodeInput("device", "create", { device_name: "x", mqtt_port: 1884 })
      assert.strictEqual(ok.mqtt_port, 1884)
      for (
        const bad of [
          { device_name: "x", mqtt_port: 70000 },
          { device_name: "x", surprise: 1 },
          { device_name: "x", wifi_pass: "short" },
          { device_name: "x", config_topic: "a/#" },
          { device_name: "x", wifi_ssid: "€".repeat(11) },
          { device_name: "" }
        ]
      ) {
        const error = yield* Effect.flip(decodeInput("device", "create", bad))
        assert.strictEqual(error._tag, "RelayConfigInvalid", JSON.stringify(bad))
      }
      const broker = yield* Effect.flip(decodeInput("mqtt", "create", { broker: "127.0.0.1:1883" }))
      assert.include(broker.message, "tcp://127.0.0.1:1883")
      const uuid = yield* Effect.flip(decodeInput("ble", "update", { char_uuid: "xxx" }))
      assert.include(uuid.message, "UUID")
    }))
})

describe("RelayConfigStore change notifications", () => {
  it.live("announces its own writes and notices commits by another process", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Effect.gen(function*() {
        const configs = yield* RelayConfigStore
        const changes = yield* configs.subscribe
        yield* configs.mqtt.create({ broker: "tcp://127.0.0.1:1883" })
        yield* configs.ble.create({ device_name: "L", service_uuid: "ffe0", char_uuid: "ffe1" })
        assert.deepStrictEqual([yield* Queue.take(changes), yield* Queue.take(changes)], ["mqtt", "ble"])

        const other = new Sqlite(filename)
        other.prepare("UPDATE relay_mqtt_configs SET topic = 'cli/edit' WHERE id = 1").run()
        other.close()
        assert.strictEqual(yield* Queue.take(changes).pipe(Effect.timeout("2 seconds")), "external")
        assert.strictEqual((yield* configs.mqtt.get(1)).topic, "cli/edit")
      }).pipe(Effect.scoped, Effect.provide(store(filename, { externalChangeInterval: "50 millis" })))
    }))
})
