/**
 * The relay's BLE lights: for each enabled BLE config, find the peripheral by its advertised name, connect to
 * the configured characteristic and write the aggregate status as a mode string (UTF-8, seed 004's table:
 * `StatusEvent.bleModes`) on connect and on every aggregate change. A lost or failed link is retried with
 * exponential backoff and jitter; config changes apply at once. On a host without Bluetooth (or without the
 * optional driver) every link reads `unsupported` and nothing else happens.
 */
import { Clock, Context, Duration, Effect, Exit, FiberMap, Layer, Queue, Random, Schema, Stream } from "effect"
import { BleTransport, type Connection } from "./BleTransport.ts"
import type * as RelayConfig from "./RelayConfig.ts"
import { RelayConfigStore, type RelayConfigStoreError } from "./RelayConfigStore.ts"
import { StatusBus } from "./StatusBus.ts"
import * as StatusEvent from "./StatusEvent.ts"

export const BleLinkStatus = Schema.Literals([
  "unsupported",
  "waiting",
  "scanning",
  "connecting",
  "connected",
  "disconnected",
  "disabled"
])
export type BleLinkStatus = typeof BleLinkStatus.Type

export const BleLinkState = Schema.Struct({
  id: Schema.Number,
  device_name: Schema.String,
  status: BleLinkStatus,
  peripheral: Schema.NullOr(Schema.String),
  connected_at: Schema.NullOr(Schema.String),
  last_error: Schema.NullOr(Schema.String),
  last_error_at: Schema.NullOr(Schema.String),
  last_write: Schema.NullOr(Schema.Struct({ mode: Schema.String, code: StatusEvent.StatusCode, at: Schema.String })),
  failures: Schema.Number,
  next_attempt_at: Schema.NullOr(Schema.String)
}).annotate({ identifier: "BleLinkState" })
export type BleLinkState = typeof BleLinkState.Type

/** The adapter (noble's state, `unloaded` until a BLE config is enabled) and every BLE config's link. */
export const BleStatus = Schema.Struct({
  adapter: Schema.String,
  links: Schema.Array(BleLinkState)
}).annotate({ identifier: "BleStatus" })
export type BleStatus = typeof BleStatus.Type

export interface Options {
  /** How long one scan looks for the device. Default 15 seconds. */
  readonly scanTimeout?: Duration.Input | undefined
  /** Default 1 second, doubling per failure up to `maxBackoff`, jittered to 50–100 %. */
  readonly initialBackoff?: Duration.Input | undefined
  /** Default 30 seconds. */
  readonly maxBackoff?: Duration.Input | undefined
  /** A connection up this long resets the backoff. Default 10 seconds. */
  readonly stableAfter?: Duration.Input | undefined
}

export interface Service {
  readonly status: Effect.Effect<BleStatus, RelayConfigStoreError>
}

type Link = Pick<RelayConfig.BleConfig, "id" | "device_name" | "service_uuid" | "char_uuid">

interface Runtime {
  readonly link: Link
  state: BleLinkState
}

const encoder = new TextEncoder()

const sameLink = (a: Link, b: Link) =>
  a.device_name === b.device_name && a.service_uuid === b.service_uuid && a.char_uuid === b.char_uuid

const initialState = (link: Link, status: BleLinkStatus): BleLinkState => ({
  id: link.id,
  device_name: link.device_name,
  status,
  peripheral: null,
  connected_at: null,
  last_error: null,
  last_error_at: null,
  last_write: null,
  failures: 0,
  next_attempt_at: null
})

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const bus = yield* StatusBus
  const store = yield* RelayConfigStore
  const transport = yield* BleTransport
  const scanTimeout = Duration.fromInputUnsafe(options.scanTimeout ?? "15 seconds")
  const initialBackoff = Duration.toMillis(Duration.fromInputUnsafe(options.initialBackoff ?? "1 second"))
  const maxBackoff = Duration.toMillis(Duration.fromInputUnsafe(options.maxBackoff ?? "30 seconds"))
  const stableAfter = Duration.toMillis(Duration.fromInputUnsafe(options.stableAfter ?? "10 seconds"))
  const runtimes = new Map<number, Runtime>()
  const fibers = yield* FiberMap.make<number>()
  const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

  const write = (runtime: Runtime, connection: Connection, code: StatusEvent.StatusCode) =>
    Effect.gen(function*() {
      const mode = StatusEvent.bleModes[code]
      yield* connection.write(encoder.encode(mode))
      runtime.state = { ...runtime.state, last_write: { mode, code, at: yield* now } }
    })

  /** One connection: find, connect, write the current mode and every change, until the link drops. */
  const session = (runtime: Runtime) =>
    Effect.scoped(Effect.gen(function*() {
      runtime.state = { ...runtime.state, status: "scanning", next_attempt_at: null }
      const peripheral = yield* transport.find(runtime.link.device_name, scanTimeout)
      runtime.state = { ...runtime.state, status: "connecting", peripheral: peripheral.id }
      const connection = yield* peripheral.connect(runtime.link.service_uuid, runtime.link.char_uuid)
      const since = yield* Clock.currentTimeMillis
      const updates = yield* bus.subscribe({ buffer: 16, changesOnly: true })
      yield* write(runtime, connection, (yield* bus.current).code)
      runtime.state = { ...runtime.state, status: "connected", connected_at: new Date(since).toISOString() }
      const follow = Queue.take(updates).pipe(
        Effect.flatMap((update) => write(runtime, connection, update.code)),
        Effect.forever,
        // The bus ended: the relay is shutting down and this scope closes next.
        Effect.catchTag("Done", () => Effect.never)
      )
      const reason = yield* Effect.raceFirst(connection.disconnected, follow)
      return { reason, upFor: (yield* Clock.currentTimeMillis) - since }
    }))

  const backoff = (failures: number) =>
    Effect.map(Random.next, (random) => {
      const ceiling = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(failures, 30))
      return Math.round(ceiling / 2 + (random * ceiling) / 2)
    })

  const run = (link: Link) =>
    Effect.gen(function*() {
      const runtime: Runtime = { link, state: initialState(link, "waiting") }
      runtimes.set(link.id, runtime)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (runtimes.get(link.id) === runtime) runtimes.delete(link.id)
        })
      )
      const usable = yield* Effect.exit(transport.ready)
      if (Exit.isFailure(usable)) {
        const at = yield* now
        const reason = usable.cause.reasons.find((r) => r._tag === "Fail")
        runtime.state = {
          ...runtime.state,
          status: "unsupported",
          last_error: reason?._tag === "Fail" ? reason.error.message : "BLE is not available on this host",
          last_error_at: at
        }
        return yield* Effect.never
      }
      let failures = 0
      while (true) {
        const outcome = yield* Effect.result(session(runtime))
        if (outcome._tag === "Success" && outcome.success.upFor >= stableAfter) failures = 0
        const delay = yield* backoff(failures)
        failures++
        const at = yield* now
        const message = outcome._tag === "Success" ? outcome.success.reason : outcome.failure.message
        runtime.state = {
          ...runtime.state,
          status: "disconnected",
          connected_at: null,
          last_error: message,
          last_error_at: at,
          failures,
          next_attempt_at: new Date(Date.parse(at) + delay).toISOString()
        }
        yield* Effect.logWarning(`BLE ${link.device_name}: ${message}; retrying in ${delay} ms`)
        yield* Effect.sleep(Duration.millis(delay))
      }
    })

  const reconcile = Effect.gen(function*() {
    const links = (yield* store.ble.list).filter((config) => config.enabled)
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
  yield* reconcile
  yield* Stream.fromQueue(changes).pipe(
    Stream.runForEach((change) =>
      change === "ble" || change === "external"
        ? reconcile.pipe(
          Effect.catch((error) => Effect.logError(`status relay: cannot apply BLE config changes: ${error.message}`))
        )
        : Effect.void
    ),
    Effect.forkScoped
  )

  const status = Effect.gen(function*() {
    const configs = yield* store.ble.list
    return {
      adapter: yield* transport.adapterState,
      links: configs.map((config) =>
        config.enabled ? runtimes.get(config.id)?.state ?? initialState(config, "waiting") : initialState(config, "disabled")
      )
    }
  })

  return BleLink.of({ status })
})

export class BleLink extends Context.Service<BleLink, Service>()("@maikit/core/BleLink") {
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<BleLink, RelayConfigStoreError, StatusBus | RelayConfigStore | BleTransport> =>
    Layer.effect(BleLink, make(options))
}
