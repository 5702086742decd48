/**
 * The candidate: the status-relay family (`POST /api/event`, SSE on `GET /api/events`) on MaiKit's HTTP
 * stack over the real services — bus, config store on a temporary SQLite file, MQTT link, no BLE. With
 * `BROKER_URL` set, an MQTT config publishes every aggregate change there. Prints `READY <port>` when
 * listening (and, with a broker, connected).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Layer, Option } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Database } from "@maikit/core/platform"
import { BleLink, BleTransport, MqttLink, RelayConfigStore, StatusBus } from "@maikit/core/relay"
import { StatusRelay } from "@maikit/http-adapter/relay"
import { MaikitServer } from "@maikit/http-adapter/server"

const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-relay-"))
process.once("exit", () => Fs.rmSync(directory, { recursive: true, force: true }))
const broker = process.env["BROKER_URL"]

const services = Layer.provideMerge(
  Layer.mergeAll(
    MqttLink.MqttLink.layer(),
    BleLink.BleLink.layer().pipe(Layer.provide(BleTransport.BleTransport.layerUnsupported()))
  ),
  Layer.mergeAll(StatusBus.StatusBus.layer(), RelayConfigStore.RelayConfigStore.layer()).pipe(
    Layer.provide(Database.layerFile(Path.join(directory, "config.db")))
  )
)

const server = MaikitServer.layer({
  families: [StatusRelay.family],
  host: "127.0.0.1",
  port: 0,
  maxBodyBytes: 64 * 1024,
  accessToken: Option.none()
}).pipe(Layer.provideMerge(services))

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  if (broker !== undefined) {
    const store = Context.get(context, RelayConfigStore.RelayConfigStore)
    const link = Context.get(context, MqttLink.MqttLink)
    const config = yield* store.mqtt.create({ broker, client_id: `bench-relay-${process.pid}` })
    while (!(yield* link.states).some((state) => state.id === config.id && state.status === "connected")) {
      yield* Effect.sleep("20 millis")
    }
  }
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, NodeRuntime.runMain)
