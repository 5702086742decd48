/**
 * What BleLink needs from a BLE stack: wait for the adapter, find a peripheral by its advertised name,
 * connect to one characteristic, write bytes, and learn when the link drops. The production driver is
 * `@stoprocent/noble`, an optional dependency imported only when a BLE config is enabled; where it cannot load
 * or the host has no usable adapter, `ready` fails with `BleUnsupported` and the relay carries on without BLE.
 * Tests provide a simulated peripheral through this same interface.
 */
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import { BleError, BleUnsupported } from "./BleLinkError.ts"

export { BleError, BleUnsupported } from "./BleLinkError.ts"

/** Noble's adapter states, plus `unloaded` before the driver is first needed. */
export type AdapterState = "unloaded" | "poweredOn" | "poweredOff" | "unauthorized" | "unsupported" | "unknown" | "resetting"

export interface Connection {
  /** Writes to the characteristic (with response when the characteristic supports it). */
  readonly write: (data: Uint8Array) => Effect.Effect<void, BleError>
  /** Completes, with a reason, when the peripheral disconnects. */
  readonly disconnected: Effect.Effect<string>
}

export interface Peripheral {
  readonly id: string
  readonly name: string
  /** Connects and resolves the characteristic; disconnects when the scope closes. */
  readonly connect: (serviceUuid: string, charUuid: string) => Effect.Effect<Connection, BleError, Scope.Scope>
}

export interface Service {
  readonly adapterState: Effect.Effect<AdapterState>
  /** Waits until the adapter is powered on; fails at once when this host cannot do BLE. */
  readonly ready: Effect.Effect<void, BleUnsupported>
  /** Scans until a peripheral advertising `name` is seen, or `timeout` passes. */
  readonly find: (name: string, timeout: Duration.Input) => Effect.Effect<Peripheral, BleError>
}

/** Lower-case, no dashes: how noble spells UUIDs. */
export const normalizeUuid = (uuid: string) => uuid.replaceAll("-", "").toLowerCase()

export class BleTransport extends Context.Service<BleTransport, Service>()("@maikit/core/BleTransport") {
  /** `@stoprocent/noble`, imported on first use; a host without it or without an adapter reads `unsupported`. */
  static readonly layerNoble: Layer.Layer<BleTransport> = Layer.effect(
    BleTransport,
    Effect.gen(function*() {
      const load = yield* Effect.cached(
        Effect.tryPromise({
          try: () => import("./internal/nobleTransport.ts"),
          catch: (cause) =>
            new BleUnsupported({ message: `the BLE driver cannot load: ${cause instanceof Error ? cause.message : String(cause)}` })
        }).pipe(Effect.flatMap((module) => module.make))
      )
      let loaded: Service | undefined
      const driver = Effect.tap(load, (service) => Effect.sync(() => (loaded = service)))
      return BleTransport.of({
        adapterState: Effect.suspend(() => (loaded === undefined ? Effect.succeed("unloaded" as const) : loaded.adapterState)),
        ready: Effect.flatMap(driver, (service) => service.ready),
        find: (name, timeout) =>
          driver.pipe(
            Effect.mapError((error) => new BleError({ operation: "scan", message: error.message, cause: error })),
            Effect.flatMap((service) => service.find(name, timeout))
          )
      })
    })
  )

  /** For hosts that never want BLE: every config reads `unsupported`. */
  static readonly layerUnsupported = (reason = "BLE is turned off for this relay"): Layer.Layer<BleTransport> =>
    Layer.succeed(
      BleTransport,
      BleTransport.of({
        adapterState: Effect.succeed("unsupported"),
        ready: Effect.fail(new BleUnsupported({ message: reason })),
        find: () => Effect.fail(new BleError({ operation: "scan", message: reason, cause: undefined }))
      })
    )
}
