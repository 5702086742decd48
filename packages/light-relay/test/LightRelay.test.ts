import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { Database } from "@maikit/core/platform"
import { MqttLink, RelayConfigStore, StatusBus } from "@maikit/core/relay"
import { eventually, freePort, payloadOf, subscriber } from "../../core/test/helpers/mqtt.ts"
import { EmbeddedBroker, LightRelay } from "../src/index.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-light-relay-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0
const fresh = () => {
  const dir = Path.join(root, `case-${++counter}`)
  Fs.mkdirSync(dir, { recursive: true })
  return dir
}

const httpsCall = (url: string, ca: string, init: { method?: string; body?: string } = {}) =>
  Effect.promise(() =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = Https.request(url, {
        method: init.method ?? "GET",
        ca,
        headers: init.body === undefined ? {} : { "content-type": "application/json" }
      }, (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
      })
      request.on("error", reject)
      request.end(init.body)
    })
  )

describe("LightRelay", () => {
  it.live("serves HTTPS with a self-signed pair made on first use and publishes to its embedded broker", () =>
    Effect.gen(function*() {
      const cwd = fresh()
      const brokerPort = yield* freePort()
      const start = Effect.gen(function*() {
        const context = yield* Layer.build(LightRelay.layer({
          cwd,
          addr: "127.0.0.1:0",
          tls: true,
          embeddedBroker: `127.0.0.1:${brokerPort}`,
          ble: false,
          console: false
        }))
        const address = Context.get(context, HttpServer.HttpServer).address
        return address._tag === "UnixPathAddress" ? 0 : address.port
      })

      const scope = yield* Scope.make()
      const port = yield* Scope.provide(start, scope)
      const cert = Fs.readFileSync(Path.join(cwd, "data/tls/cert.pem"), "utf8")
      assert.strictEqual(Fs.statSync(Path.join(cwd, "data/tls/key.pem")).mode & 0o777, 0o600)
      const base = `https://localhost:${port}`

      const light = yield* subscriber(`mqtt://127.0.0.1:${brokerPort}`, "opencode/status", { protocolVersion: 4 })
      yield* light.waitFor((messages) => messages.length >= 1)
      const posted = yield* httpsCall(`${base}/api/event`, cert, {
        method: "POST",
        body: JSON.stringify({ code: "busy", timestamp: "2026-06-27T14:30:00Z" })
      })
      assert.deepStrictEqual(JSON.parse(posted.body), { code: 0, message: "ok" })
      yield* light.waitFor((messages) => messages.some((m) => (payloadOf(m) as { code: string }).code === "busy"))

      const status = JSON.parse((yield* httpsCall(`${base}/api/status`, cert)).body) as {
        data: { mqtt: Array<{ id: number; protocol: string; status: string }>; ble: { links: Array<unknown> } }
      }
      assert.deepStrictEqual(status.data.mqtt.map((link) => [link.id, link.status, link.protocol]), [[-1, "connected", "3.1.1"]])
      assert.isTrue(Fs.existsSync(Path.join(cwd, "data/config.db")))
      yield* Scope.close(scope, Exit.void)
      yield* eventually("the log file", Effect.sync(() => Fs.existsSync(Path.join(cwd, "logs/monitor.log"))))
      const logged = Fs.readFileSync(Path.join(cwd, "logs/monitor.log"), "utf8")
      assert.include(logged, "AI status light relay listening on https")
      // Made before the server listens, and still in the file: the log file starts before anything is logged.
      assert.include(logged, "generated a self-signed TLS certificate")

      // A second start keeps the pair it made.
      const again = yield* Scope.make()
      yield* Scope.provide(start, again)
      assert.strictEqual(Fs.readFileSync(Path.join(cwd, "data/tls/cert.pem"), "utf8"), cert)
      yield* Scope.close(again, Exit.void)
    }).pipe(Effect.scoped))

  it.live("refuses to listen beyond loopback without a token, and rejects a bad address", () =>
    Effect.gen(function*() {
      const exposed = yield* Effect.flip(Layer.build(LightRelay.layer({ cwd: fresh(), addr: "0.0.0.0:0", ble: false, console: false })))
      assert.strictEqual(exposed._tag, "MaikitConfigError")
      const bad = yield* Effect.flip(LightRelay.parseAddress("host:port"))
      assert.strictEqual(bad._tag, "AddressInvalid")
      assert.deepStrictEqual(yield* LightRelay.parseAddress(":8045"), { host: "127.0.0.1", port: 8045 })
      assert.deepStrictEqual(yield* LightRelay.parseAddress("0.0.0.0:80"), { host: "0.0.0.0", port: 80 })
      assert.deepStrictEqual(yield* LightRelay.parseAddress("[::1]:8045"), { host: "::1", port: 8045 })
      assert.deepStrictEqual(LightRelay.logTarget("/var/log/ai-status-light.log", "/"), {
        directory: "/var/log",
        fileName: "ai-status-light.log"
      })
      assert.deepStrictEqual(LightRelay.logTarget("./logs", "/srv"), { directory: "/srv/logs", fileName: "monitor.log" })
    }).pipe(Effect.scoped))
})

describe("MqttLink against aedes (MQTT 3.1.1)", () => {
  it.live("falls back to 3.1.1 and reconnects after the broker restarts, publishing only the latest state", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const brokerScope = yield* Scope.make()
      yield* Scope.provide(EmbeddedBroker.make({ host: "127.0.0.1", port }), brokerScope)
      const url = `mqtt://127.0.0.1:${port}`
      const store = yield* RelayConfigStore.RelayConfigStore
      const config = yield* store.mqtt.create({ broker: url, topic: "lights/one" })
      const state = MqttLink.MqttLink.use((link) => link.states).pipe(Effect.map((states) => states.find((s) => s.id === config.id)))
      yield* eventually("connect", Effect.map(state, (s) => s?.status === "connected"))
      assert.strictEqual((yield* state)?.protocol, "3.1.1")

      yield* Scope.close(brokerScope, Exit.void)
      yield* eventually("the link to notice", Effect.map(state, (s) => s?.status !== "connected"))
      const bus = yield* StatusBus.StatusBus
      for (const code of ["busy", "reasoning", "error"] as const) yield* bus.publish({ code })

      const restarted = yield* Scope.make()
      yield* Scope.provide(EmbeddedBroker.make({ host: "127.0.0.1", port }), restarted)
      const light = yield* subscriber(url, "lights/one", { protocolVersion: 4 })
      yield* eventually("reconnect", Effect.map(state, (s) => s?.status === "connected"))
      yield* light.waitFor((messages) => messages.length >= 1)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(light.messages.map((m) => (payloadOf(m) as { code: string }).code), ["error"])
      assert.strictEqual(light.messages[0]?.qos, 1)
      yield* Effect.promise(() => light.client.endAsync(true))
      yield* Scope.close(restarted, Exit.void)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.provideMerge(
          MqttLink.MqttLink.layer({ initialBackoff: "50 millis", maxBackoff: "300 millis" }),
          Layer.mergeAll(StatusBus.StatusBus.layer(), RelayConfigStore.RelayConfigStore.layer({ externalChangeInterval: 0 }))
            .pipe(Layer.provide(Database.layerFile(Path.join(fresh(), "config.db"))))
        )
      )
    ))
})
