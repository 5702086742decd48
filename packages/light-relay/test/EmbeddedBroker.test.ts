/**
 * Issue #11, defect 2: the embedded MQTT broker authenticates. Real aedes brokers on loopback, real MQTT
 * clients (mqtt.js, MQTT 3.1.1) and the whole relay (`LightRelay.layer`) over real HTTP.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import * as Http from "node:http"
import { eventually, freePort, payloadOf, signIn, subscriber } from "../../core/test/helpers/mqtt.ts"
import { tempDirs } from "../../http-adapter/test/helpers/relay.ts"
import { EmbeddedBroker, LightRelay } from "../src/index.ts"

const fresh = tempDirs("maikit-embedded-broker-")

const account = { username: "lights", password: "correct horse battery staple" }

/** The relay with its embedded broker on free loopback ports; yields both. */
const relay = (options: { readonly credentials: boolean }) =>
  Effect.gen(function*() {
    const brokerPort = yield* freePort()
    const context = yield* Layer.build(LightRelay.layer({
      cwd: fresh(),
      addr: "127.0.0.1:0",
      embeddedBroker: `127.0.0.1:${brokerPort}`,
      ...(options.credentials ? { brokerUser: account.username, brokerPassword: account.password } : {}),
      ble: false,
      console: false
    }))
    const address = Context.get(context, HttpServer.HttpServer).address
    const base = `http://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}`
    return { base, broker: `mqtt://127.0.0.1:${brokerPort}` }
  })

const post = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    return { status: response.status, json: await response.json() as { code: number; data?: unknown } }
  })

const codeOf = (message: Parameters<typeof payloadOf>[0]) => (payloadOf(message) as { code: string }).code

describe("the embedded broker's sign-in", () => {
  it.live("with credentials, an anonymous client and a wrong password are refused; the right ones get in", () =>
    Effect.gen(function*() {
      const { broker } = yield* relay({ credentials: true })
      const anonymous = yield* signIn(broker)
      assert.strictEqual(anonymous._tag, "Refused")
      assert.strictEqual(anonymous._tag === "Refused" ? anonymous.code : 0, 5, "not authorized")
      const wrong = yield* signIn(broker, { username: account.username, password: "correct horse battery stapler" })
      assert.strictEqual(wrong._tag === "Refused" ? wrong.code : 0, 4, "bad username or password")
      const otherUser = yield* signIn(broker, { username: "admin", password: account.password })
      assert.strictEqual(otherUser._tag, "Refused")
      // The relay's own account cannot be guessed from the configured one, nor its client id taken.
      const asRelay = yield* signIn(broker, { username: EmbeddedBroker.relayUsername, password: account.password })
      assert.strictEqual(asRelay._tag, "Refused")
      const takeover = yield* signIn(broker, { ...account, clientId: "opencode-monitor-relay" })
      assert.strictEqual(takeover._tag, "Refused")

      const light = yield* signIn(broker, account)
      assert.strictEqual(light._tag, "Connected")
    }).pipe(Effect.scoped))

  it.live("the relay publishes through its own signed-in link; authenticated lights read the status", () =>
    Effect.gen(function*() {
      const { base, broker } = yield* relay({ credentials: true })
      const light = yield* subscriber(broker, "opencode/status", { protocolVersion: 4, ...account })
      const posted = yield* post(`${base}/api/event`, { code: "busy" })
      assert.strictEqual(posted.status, 200)
      yield* light.waitFor((messages) => messages.some((message) => codeOf(message) === "busy"))
      const status = yield* Effect.promise(() =>
        fetch(`${base}/api/status`).then((r) => r.json() as Promise<{ data: { mqtt: Array<{ id: number; status: string }> } }>)
      )
      assert.deepStrictEqual(status.data.mqtt.map((link) => [link.id, link.status]), [[-1, "connected"]])
    }).pipe(Effect.scoped))

  it.live("a signed-in client other than the relay cannot publish on the status or config topics", () =>
    Effect.gen(function*() {
      const { base, broker } = yield* relay({ credentials: true })
      yield* post(`${base}/api/event`, { code: "reasoning" })
      const watcher = yield* subscriber(broker, "opencode/status", { protocolVersion: 4, ...account })
      yield* watcher.waitFor((messages) => messages.some((message) => codeOf(message) === "reasoning"))

      for (const topic of ["opencode/status", "agent/status/config"]) {
        const forger = yield* signIn(broker, account)
        assert.strictEqual(forger._tag, "Connected")
        if (forger._tag !== "Connected") continue
        const closed = Effect.callback<void>((resume) => void forger.client.once("close", () => resume(Effect.void)))
        forger.client.publish(topic, JSON.stringify({ code: "idle", forged: true }), { qos: 1, retain: true })
        yield* Effect.timeout(closed, "5 seconds")
      }
      // A light's topics from its device config are protected too, as soon as the config exists.
      const device = yield* post(`${base}/api/device/config`, { device_name: "desk", mqtt_topic: "desk/light" })
      assert.strictEqual(device.status, 200)
      const deskForger = yield* signIn(broker, account)
      if (deskForger._tag === "Connected") {
        const closed = Effect.callback<void>((resume) => void deskForger.client.once("close", () => resume(Effect.void)))
        deskForger.client.publish("desk/light", "{\"code\":\"idle\"}", { qos: 1, retain: true })
        yield* Effect.timeout(closed, "5 seconds")
      }

      // The retained state is still the relay's, and nobody following it saw the forgery.
      const late = yield* subscriber(broker, "opencode/status", { protocolVersion: 4, ...account })
      yield* late.waitFor((messages) => messages.length >= 1)
      assert.deepStrictEqual(late.messages.map(codeOf), ["reasoning"])
      assert.isFalse(watcher.messages.some((message) => message.payload.toString().includes("forged")))
      const desk = yield* subscriber(broker, "desk/light", { protocolVersion: 4, ...account })
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(desk.messages, [])

      // Other topics stay open: a light reports its presence.
      const presence = yield* subscriber(broker, "desk/presence", { protocolVersion: 4, ...account })
      const reporter = yield* signIn(broker, account)
      if (reporter._tag === "Connected") yield* Effect.promise(() => reporter.client.publishAsync("desk/presence", "online"))
      yield* presence.waitFor((messages) => messages.length === 1)
    }).pipe(Effect.scoped))

  it.live("without credentials it serves loopback only; anonymous clients read statuses but never a config push", () =>
    Effect.gen(function*() {
      const { base, broker } = yield* relay({ credentials: false })
      const statuses = yield* subscriber(broker, "opencode/status", { protocolVersion: 4 })
      const configs = yield* subscriber(broker, "agent/status/config", { protocolVersion: 4 })
      const everything = yield* subscriber(broker, "#", { protocolVersion: 4 })
      yield* post(`${base}/api/event`, { code: "error" })
      yield* statuses.waitFor((messages) => messages.some((message) => codeOf(message) === "error"))

      const device = yield* post(`${base}/api/device/config`, { device_name: "desk", wifi_ssid: "home", wifi_pass: "wifi-secret-1" })
      const id = (device.json.data as { id: number }).id
      const pushed = yield* post(`${base}/api/device/config/push`, { id })
      assert.strictEqual(pushed.status, 200, JSON.stringify(pushed.json))
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(configs.messages, [])
      assert.isFalse(everything.messages.some((message) => message.payload.toString().includes("wifi-secret-1")))

      const forger = yield* signIn(broker)
      if (forger._tag === "Connected") {
        const closed = Effect.callback<void>((resume) => void forger.client.once("close", () => resume(Effect.void)))
        forger.client.publish("opencode/status", "{\"code\":\"idle\",\"forged\":true}", { qos: 1, retain: true })
        yield* Effect.timeout(closed, "5 seconds")
      }
      assert.isFalse(statuses.messages.some((message) => message.payload.toString().includes("forged")))
    }).pipe(Effect.scoped))

  it.live("a device config push reaches a signed-in light", () =>
    Effect.gen(function*() {
      const { base, broker } = yield* relay({ credentials: true })
      const light = yield* subscriber(broker, "agent/status/config", { protocolVersion: 4, ...account })
      const device = yield* post(`${base}/api/device/config`, { device_name: "desk", wifi_ssid: "home", wifi_pass: "wifi-secret-1" })
      const pushed = yield* post(`${base}/api/device/config/push`, { id: (device.json.data as { id: number }).id })
      assert.strictEqual(pushed.status, 200)
      yield* light.waitFor((messages) => messages.length === 1)
      assert.strictEqual((payloadOf(light.messages[0]) as { wifi_pass: string }).wifi_pass, "wifi-secret-1")
    }).pipe(Effect.scoped))

  it.live("refuses to listen beyond loopback without credentials, before anything listens", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const bare = yield* Effect.flip(EmbeddedBroker.make({ host: "0.0.0.0", port }))
      assert.strictEqual(bare._tag, "EmbeddedBrokerError")
      assert.include(bare.message, "without credentials")
      const refused = yield* signIn(`mqtt://127.0.0.1:${port}`)
      assert.strictEqual(refused._tag, "Refused", "nothing listens")

      const viaRelay = yield* Effect.flip(Layer.build(LightRelay.layer({
        cwd: fresh(),
        addr: "127.0.0.1:0",
        embeddedBroker: `0.0.0.0:${port}`,
        ble: false,
        console: false
      })))
      assert.strictEqual(viaRelay._tag, "EmbeddedBrokerError")

      const halfAccount = yield* Effect.flip(Layer.build(LightRelay.layer({
        cwd: fresh(),
        addr: "127.0.0.1:0",
        embeddedBroker: `127.0.0.1:${port}`,
        brokerUser: "lights",
        ble: false,
        console: false
      })))
      assert.strictEqual(halfAccount._tag, "MaikitConfigError")
      const reserved = yield* Effect.flip(EmbeddedBroker.make({
        host: "127.0.0.1",
        port,
        credentials: Option.some({ username: EmbeddedBroker.relayUsername, password: Redacted.make("x") })
      }))
      assert.include(reserved.message, "relay's own")
    }).pipe(Effect.scoped))
})

describe("the light relay's HTTP side against foreign pages", () => {
  it.live("answers only its own hosts; reads are open to every origin, writes only to allowed ones", () =>
    Effect.gen(function*() {
      const { base } = yield* relay({ credentials: false })
      const url = new URL(base)
      const raw = (path: string, headers: Record<string, string>, method = "GET", body?: string) =>
        Effect.promise(() =>
          new Promise<{ status: number; headers: Http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
            const request = Http.request({ host: url.hostname, port: url.port, path, method, headers }, (response) => {
              let text = ""
              response.setEncoding("utf8")
              response.on("data", (chunk: string) => (text += chunk))
              response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }))
            })
            request.on("error", reject)
            request.end(body)
          })
        )
      const rebound = yield* raw("/api/status", { host: `evil.example:${url.port}` })
      assert.strictEqual(rebound.status, 421)
      assert.deepStrictEqual(JSON.parse(rebound.body), { code: -1, message: `this server does not answer for host evil.example:${url.port}` })

      const read = yield* raw("/api/mqtt", { origin: "http://dashboard.example" })
      assert.strictEqual(read.status, 200)
      assert.strictEqual(read.headers["access-control-allow-origin"], "*")
      assert.isUndefined(read.headers["access-control-allow-credentials"])

      const body = JSON.stringify({ broker: "tcp://127.0.0.1:1883" })
      const write = yield* raw("/api/mqtt", { origin: "http://dashboard.example", "content-type": "text/plain", "content-length": String(body.length) }, "POST", body)
      assert.strictEqual(write.status, 403)
      assert.strictEqual((JSON.parse(write.body) as { code: number }).code, -1)
      const allowed = yield* raw("/api/mqtt", { origin: "http://localhost:5173", "content-type": "application/json", "content-length": String(body.length) }, "POST", body)
      assert.strictEqual(allowed.status, 200, allowed.body)
      assert.strictEqual(allowed.headers["access-control-allow-origin"], "http://localhost:5173")
      yield* eventually("the list to show it", Effect.map(raw("/api/mqtt", {}), (answer) => answer.body.includes("1883")))
    }).pipe(Effect.scoped))
})
