import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { BleLink } from "../src/relay/BleLink.ts"
import { BleError, BleTransport, BleUnsupported, type AdapterState, normalizeUuid } from "../src/relay/BleTransport.ts"
import * as Database from "../src/platform/Database.ts"
import { RelayConfigStore } from "../src/relay/RelayConfigStore.ts"
import { StatusBus } from "../src/relay/StatusBus.ts"
import { eventually } from "./helpers/mqtt.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-ble-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0

/** A peripheral in radio range of the simulated adapter. */
class SimulatedLight {
  readonly writes: Array<string> = []
  advertising = true
  connections = 0
  private link: Deferred.Deferred<string> | undefined
  readonly name: string
  readonly id: string
  readonly services: Readonly<Record<string, ReadonlyArray<string>>>
  constructor(name: string, id: string, services: Readonly<Record<string, ReadonlyArray<string>>>) {
    this.name = name
    this.id = id
    this.services = services
  }
  get connected() {
    return this.link !== undefined
  }
  open() {
    this.link = Deferred.makeUnsafe<string>()
    this.connections++
    return this.link
  }
  close() {
    this.link = undefined
  }
  /** The light goes out of range: the central sees a disconnect. */
  drop(reason = "supervision timeout") {
    const link = this.link
    this.link = undefined
    if (link !== undefined) Deferred.doneUnsafe(link, Exit.succeed(reason))
  }
}

/** A BLE adapter simulated behind the same `BleTransport` interface the noble driver implements. */
const simulatedRadio = (lights: ReadonlyArray<SimulatedLight>, state: AdapterState = "poweredOn") =>
  Layer.succeed(
    BleTransport,
    BleTransport.of({
      adapterState: Effect.succeed(state),
      ready: state === "poweredOn" ? Effect.void : Effect.fail(new BleUnsupported({ message: `the Bluetooth adapter is ${state}` })),
      find: (name, timeout) =>
        Effect.gen(function*() {
          const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
          while (Date.now() < deadline) {
            const light = lights.find((candidate) => candidate.advertising && candidate.name === name && !candidate.connected)
            if (light !== undefined) {
              return {
                id: light.id,
                name,
                connect: (serviceUuid: string, charUuid: string) =>
                  Effect.gen(function*() {
                    if (!light.advertising) {
                      return yield* new BleError({ operation: "connect", message: "out of range", cause: undefined })
                    }
                    const characteristics = light.services[normalizeUuid(serviceUuid)]
                    if (characteristics === undefined || !characteristics.includes(normalizeUuid(charUuid))) {
                      return yield* new BleError({ operation: "discover", message: "no such characteristic", cause: undefined })
                    }
                    const link = yield* Effect.acquireRelease(Effect.sync(() => light.open()), () => Effect.sync(() => light.close()))
                    return {
                      write: (data: Uint8Array) =>
                        light.connected
                          ? Effect.sync(() => void light.writes.push(new TextDecoder().decode(data)))
                          : Effect.fail(new BleError({ operation: "write", message: "not connected", cause: undefined })),
                      disconnected: Deferred.await(link)
                    }
                  })
              }
            }
            yield* Effect.sleep("10 millis")
          }
          return yield* new BleError({ operation: "scan", message: `no peripheral named "${name}" found`, cause: undefined })
        })
    })
  )

const relay = (transport: Layer.Layer<BleTransport>) => {
  const base = Layer.mergeAll(StatusBus.layer(), RelayConfigStore.layer({ externalChangeInterval: 0 })).pipe(
    Layer.provide(Database.layerFile(Path.join(root, `case-${++counter}`, "config.db")))
  )
  return Layer.provideMerge(
    BleLink.layer({ scanTimeout: "300 millis", initialBackoff: "30 millis", maxBackoff: "200 millis", stableAfter: "5 seconds" }),
    Layer.merge(base, transport)
  )
}

const service = "b8b7e001-7a6b-4f4f-9a8b-11c0ffee0001"
const characteristic = "b8b7e002-7a6b-4f4f-9a8b-11c0ffee0001"

const linkStatus = (id: number) =>
  BleLink.use((ble) => ble.status).pipe(Effect.map((status) => status.links.find((link) => link.id === id)))

const publish = (code: "idle" | "busy" | "reasoning" | "using_tool" | "tool_done" | "permission" | "error" | "init") =>
  StatusBus.use((bus) => bus.publish({ code }))

describe("BleLink with a simulated peripheral", () => {
  it.live("connects by name and writes seed 004's mode for every aggregate change, as UTF-8", () => {
    const light = new SimulatedLight("AI-Light", "aa:bb", { [normalizeUuid(service)]: [normalizeUuid(characteristic)] })
    return Effect.gen(function*() {
      const store = yield* RelayConfigStore
      const config = yield* store.ble.create({ device_name: "AI-Light", service_uuid: service, char_uuid: characteristic })
      yield* eventually("the link to connect", Effect.map(linkStatus(config.id), (s) => s?.status === "connected"))
      assert.deepStrictEqual(light.writes, ["idle"])
      for (const code of ["busy", "reasoning", "using_tool", "tool_done", "permission", "error", "init", "idle"] as const) {
        yield* publish(code)
      }
      yield* eventually("every mode", Effect.sync(() => light.writes.length === 9))
      assert.deepStrictEqual(light.writes, ["idle", "busy", "thinking", "ai", "success", "alarm", "error", "init", "idle"])
      const state = yield* linkStatus(config.id)
      assert.strictEqual(state?.peripheral, "aa:bb")
      assert.deepInclude(state?.last_write ?? {}, { mode: "idle", code: "idle" })
    }).pipe(Effect.provide(relay(simulatedRadio([light]))))
  })

  it.live("reconnects after the link drops and writes the current mode again", () => {
    const light = new SimulatedLight("AI-Light", "aa:bb", { ffe0: ["ffe1"] })
    return Effect.gen(function*() {
      const store = yield* RelayConfigStore
      const config = yield* store.ble.create({ device_name: "AI-Light", service_uuid: "FFE0", char_uuid: "ffe1" })
      yield* eventually("connect", Effect.map(linkStatus(config.id), (s) => s?.status === "connected"))
      light.advertising = false
      light.drop()
      yield* eventually("the drop to be seen", Effect.map(linkStatus(config.id), (s) => s?.status !== "connected"))
      yield* publish("permission")
      yield* eventually("a failed retry while out of range", Effect.map(linkStatus(config.id), (s) => (s?.failures ?? 0) >= 2))
      const down = yield* linkStatus(config.id)
      assert.isNotNull(down?.last_error)
      light.advertising = true
      yield* eventually("reconnect", Effect.map(linkStatus(config.id), (s) => s?.status === "connected"))
      assert.strictEqual(light.writes.at(-1), "alarm")
      assert.strictEqual(light.connections, 2)
    }).pipe(Effect.provide(relay(simulatedRadio([light]))))
  })

  it.live("applies config changes at once: another device, a wrong characteristic, disabled, deleted", () => {
    const first = new SimulatedLight("Desk", "01", { ffe0: ["ffe1"] })
    const second = new SimulatedLight("Shelf", "02", { ffe0: ["ffe1"] })
    return Effect.gen(function*() {
      const store = yield* RelayConfigStore
      const config = yield* store.ble.create({ device_name: "Desk", service_uuid: "ffe0", char_uuid: "ffe1" })
      yield* eventually("desk", Effect.sync(() => first.connected))
      yield* store.ble.update(config.id, { device_name: "Shelf" })
      yield* eventually("shelf", Effect.sync(() => second.connected && !first.connected))
      yield* store.ble.update(config.id, { char_uuid: "ffe9" })
      yield* eventually("a discover failure", Effect.map(linkStatus(config.id), (s) => (s?.last_error ?? "").includes("characteristic")))
      assert.isFalse(second.connected)
      yield* store.ble.update(config.id, { char_uuid: "ffe1", enabled: false })
      yield* Effect.sleep("100 millis")
      assert.strictEqual((yield* linkStatus(config.id))?.status, "disabled")
      assert.isFalse(second.connected)
      yield* store.ble.update(config.id, { enabled: true })
      yield* eventually("enabled again", Effect.sync(() => second.connected))
      yield* store.ble.remove(config.id)
      yield* eventually("gone", Effect.sync(() => !second.connected))
      assert.isUndefined(yield* linkStatus(config.id))
    }).pipe(Effect.provide(relay(simulatedRadio([first, second]))))
  })

  it.live("an adapter that cannot do BLE reads unsupported, and nothing else happens", () =>
    Effect.gen(function*() {
      const store = yield* RelayConfigStore
      const config = yield* store.ble.create({ device_name: "AI-Light", service_uuid: "ffe0", char_uuid: "ffe1" })
      yield* eventually("unsupported", Effect.map(linkStatus(config.id), (s) => s?.status === "unsupported"))
      const status = yield* BleLink.use((ble) => ble.status)
      assert.strictEqual(status.adapter, "unsupported")
      assert.include(status.links[0]?.last_error ?? "", "unsupported")
      yield* publish("busy")
      assert.strictEqual((yield* linkStatus(config.id))?.status, "unsupported")
    }).pipe(Effect.provide(relay(simulatedRadio([], "unsupported")))))
})

describe("BleLink with the noble driver on this host", () => {
  it.live("loads @stoprocent/noble only when a BLE config is enabled and reports what the host can do", () =>
    Effect.gen(function*() {
      const before = yield* BleLink.use((ble) => ble.status)
      assert.strictEqual(before.adapter, "unloaded")
      const store = yield* RelayConfigStore
      const config = yield* store.ble.create({ device_name: "AI-Light", service_uuid: "ffe0", char_uuid: "ffe1" })
      // A host without an adapter settles on "unsupported"; one with an adapter starts scanning.
      yield* eventually(
        "the driver to settle",
        Effect.map(linkStatus(config.id), (s) => s !== undefined && s.status !== "waiting"),
        15_000
      )
      const after = yield* BleLink.use((ble) => ble.status)
      assert.notStrictEqual(after.adapter, "unloaded")
      const link = after.links[0]
      assert.include(["unsupported", "scanning", "connecting", "disconnected"], link?.status)
      if (link?.status === "unsupported") assert.isNotNull(link.last_error)
    }).pipe(Effect.provide(relay(BleTransport.layerNoble))), 30_000)
})
