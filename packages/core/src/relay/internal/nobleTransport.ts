/**
 * The `@stoprocent/noble` driver behind `BleTransport`. Imported dynamically, only when a BLE config is
 * enabled: noble binds to the host's HCI socket (or CoreBluetooth, WinRT) when it loads. One scan serves
 * every pending `find`; it stops when none is left.
 */
import { Deferred, Duration, Effect, Exit } from "effect"
import type * as NobleModule from "@stoprocent/noble"
import { BleError, BleUnsupported } from "../BleLinkError.ts"
import { type AdapterState, type Connection, normalizeUuid, type Peripheral, type Service } from "../BleTransport.ts"

type Noble = NobleModule.Noble
type NoblePeripheral = NobleModule.Peripheral

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const unusable: ReadonlySet<string> = new Set(["unsupported", "unauthorized"])

// Noble reports `unknown` until its binding settles; `unsupported` arrives within about a second here.
const settleTimeout = Duration.seconds(5)

/** Connects to `peripheral` and resolves the characteristic; disconnects when the scope closes. */
const connect = (peripheral: NoblePeripheral) => (serviceUuid: string, charUuid: string) =>
  Effect.gen(function*() {
    const disconnected = yield* Deferred.make<string>()
    const onDisconnect = (reason: NobleModule.DisconnectReason) =>
      Deferred.doneUnsafe(disconnected, Exit.succeed(`disconnected (${typeof reason === "number" ? `HCI ${reason}` : reason})`))
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => peripheral.connectAsync(),
        catch: (cause) => new BleError({ operation: "connect", message: describe(cause), cause })
      }).pipe(Effect.tap(() => Effect.sync(() => peripheral.on("disconnect", onDisconnect)))),
      () =>
        Effect.promise(() => {
          peripheral.removeListener("disconnect", onDisconnect)
          return peripheral.disconnectAsync().catch(() => undefined)
        })
    )
    const found = yield* Effect.tryPromise({
      try: () =>
        peripheral.discoverSomeServicesAndCharacteristicsAsync([normalizeUuid(serviceUuid)], [normalizeUuid(charUuid)]),
      catch: (cause) => new BleError({ operation: "discover", message: describe(cause), cause })
    })
    const characteristic = found.characteristics.find((candidate) => candidate.uuid === normalizeUuid(charUuid))
    if (characteristic === undefined) {
      return yield* new BleError({
        operation: "discover",
        message: `${peripheral.advertisement.localName ?? peripheral.id} has no characteristic ${charUuid} in service ${serviceUuid}`,
        cause: undefined
      })
    }
    const withoutResponse = !characteristic.properties.includes("write")
    const connection: Connection = {
      write: (data) =>
        Effect.tryPromise({
          try: () => characteristic.writeAsync(Buffer.from(data), withoutResponse),
          catch: (cause) => new BleError({ operation: "write", message: describe(cause), cause })
        }),
      disconnected: Deferred.await(disconnected)
    }
    return connection
  })

const wrap = (noble: Noble): Service => {
  const waiters = new Map<string, Set<(peripheral: NoblePeripheral) => void>>()
  let scanning = false

  noble.on("discover", (peripheral: NoblePeripheral) => {
    const name = peripheral.advertisement.localName
    const pending = name === undefined ? undefined : waiters.get(name)
    if (pending === undefined) return
    waiters.delete(name)
    for (const resolve of pending) resolve(peripheral)
    if (waiters.size === 0) stopScan()
  })

  const stopScan = () => {
    if (!scanning) return
    scanning = false
    noble.stopScanningAsync().catch(() => undefined)
  }

  const state = (): AdapterState => noble.state

  const ready: Effect.Effect<void, BleUnsupported> = Effect.suspend(() => {
    if (noble.state === "poweredOn") return Effect.void
    if (unusable.has(noble.state)) {
      return Effect.fail(new BleUnsupported({ message: `the Bluetooth adapter is ${noble.state}` }))
    }
    return Effect.callback<AdapterState>((resume) => {
      const onChange = (next: AdapterState) => {
        if (next === "poweredOn" || unusable.has(next)) {
          noble.removeListener("stateChange", onChange)
          resume(Effect.succeed(next))
        }
      }
      noble.on("stateChange", onChange)
      return Effect.sync(() => noble.removeListener("stateChange", onChange))
    }).pipe(
      Effect.timeoutOption(noble.state === "unknown" ? settleTimeout : Duration.infinity),
      Effect.flatMap((settled) =>
        settled._tag === "Some" && settled.value === "poweredOn"
          ? Effect.void
          : Effect.fail(
            new BleUnsupported({
              message: settled._tag === "Some" ? `the Bluetooth adapter is ${settled.value}` : "no Bluetooth adapter answered"
            })
          )
      )
    )
  })

  const find = (name: string, timeout: Duration.Input) =>
    Effect.callback<NoblePeripheral, BleError>((resume) => {
      const resolve = (peripheral: NoblePeripheral) => resume(Effect.succeed(peripheral))
      const pending = waiters.get(name) ?? new Set()
      pending.add(resolve)
      waiters.set(name, pending)
      if (!scanning) {
        scanning = true
        noble.startScanningAsync([], false).catch((cause: unknown) => {
          scanning = false
          resume(Effect.fail(new BleError({ operation: "scan", message: describe(cause), cause })))
        })
      }
      return Effect.sync(() => {
        pending.delete(resolve)
        if (pending.size === 0) waiters.delete(name)
        if (waiters.size === 0) stopScan()
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(new BleError({ operation: "scan", message: `no peripheral named "${name}" found`, cause: undefined }))
      }),
      Effect.map((peripheral): Peripheral => ({
        id: peripheral.id,
        name,
        connect: connect(peripheral)
      }))
    )

  return { adapterState: Effect.sync(state), ready, find }
}

export const make: Effect.Effect<Service, BleUnsupported> = Effect.tryPromise({
  try: () => import("@stoprocent/noble"),
  catch: (cause) => new BleUnsupported({ message: `@stoprocent/noble is not available: ${describe(cause)}` })
}).pipe(Effect.map((module) => wrap(module.default)))
