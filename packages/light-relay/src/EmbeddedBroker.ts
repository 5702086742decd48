/**
 * An in-process MQTT broker (aedes, MQTT 3.1.1) for `--embedded-broker`, so a light works with no broker
 * installed. Retained messages live in memory: a light that reconnects gets the current status at once.
 */
import { Aedes } from "aedes"
import { Effect } from "effect"
import * as Net from "node:net"
import { EmbeddedBrokerError } from "./LightRelayError.ts"

export { EmbeddedBrokerError } from "./LightRelayError.ts"

export interface Broker {
  readonly host: string
  readonly port: number
  /** Where the relay's own client connects: the listening address, or loopback when it listens on all. */
  readonly url: string
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** Listens on `host:port` (port 0 picks a free one) for the scope's lifetime. */
export const make = Effect.fnUntraced(function*(host: string, port: number) {
  const address = `${host}:${port}`
  const broker = yield* Effect.tryPromise({
    try: () => Aedes.createBroker(),
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
  yield* Effect.logInfo(`embedded MQTT broker listening on ${host}:${boundPort}`)
  return {
    host,
    port: boundPort,
    url: `mqtt://${reachable.includes(":") ? `[${reachable}]` : reachable}:${boundPort}`
  } satisfies Broker
})
