import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as Http from "node:http"
import * as Net from "node:net"
import { eventually, payloadOf, sharedMosquitto, subscriber, uniqueName } from "../../core/test/helpers/mqtt.ts"
import { MaikitServer, StatusRelay } from "../src/index.ts"
import { call, sendJson, serveRelay, services, sse, tempDirs } from "./helpers/relay.ts"

const fresh = tempDirs("maikit-relay-http-")

describe("status relay: events, health and status", () => {
  it.live("accepts the seed's event and reports it in /api/status", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh())
      const health = yield* call(`${base}/api/health`)
      assert.deepStrictEqual(health.json, { code: 0, message: "ok" })

      const posted = yield* sendJson(`${base}/api/event`, "POST", { code: "busy", timestamp: "2026-06-27T14:30:00Z" })
      assert.strictEqual(posted.status, 200)
      assert.deepStrictEqual(posted.json, { code: 0, message: "ok" })
      yield* sendJson(`${base}/api/event`, "POST", { code: "permission", session_id: "claude-1", agent: "claude" })

      const status = yield* call(`${base}/api/status`)
      const data = status.json.data as {
        code: string
        session_id: string
        sessions: Array<{ session_id: string; code: string }>
        mqtt: Array<unknown>
        ble: { adapter: string; links: Array<unknown> }
      }
      assert.strictEqual(data.code, "permission")
      assert.strictEqual(data.session_id, "claude-1")
      assert.deepStrictEqual(data.sessions.map((s) => [s.session_id, s.code]), [["claude-1", "permission"], [
        "default",
        "busy"
      ]])
      assert.deepStrictEqual(data.mqtt, [])
      assert.strictEqual(data.ble.adapter, "unsupported")
    }).pipe(Effect.scoped))

  it.live("maps Claude Code, Codex and opencode hook payloads", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh())
      const hook = (agent: string, body: unknown, query = "") =>
        Effect.map(sendJson(`${base}/api/hook/${agent}${query}`, "POST", body), (reply) => reply.json.data as {
          accepted: boolean
          code: string | null
          session_id: string | null
        })
      const claude = { session_id: "c1", cwd: "/home/me/project", hook_event_name: "PreToolUse", tool_name: "Bash" }
      assert.deepStrictEqual(yield* hook("claude", claude), { accepted: true, code: "using_tool", session_id: "c1" })
      const ask = yield* hook("claude", { ...claude, tool_name: "AskUserQuestion" })
      assert.strictEqual(ask.code, "permission")
      const idleNudge = yield* hook("claude", { ...claude, hook_event_name: "Notification", notification_type: "idle_prompt" })
      assert.strictEqual(idleNudge.code, "idle")
      const prompt = yield* hook("claude", {
        ...claude,
        hook_event_name: "Notification",
        notification_type: "permission_prompt"
      })
      assert.strictEqual(prompt.code, "permission")
      const other = yield* hook("claude", { ...claude, hook_event_name: "Notification", notification_type: "auth_success" })
      assert.isFalse(other.accepted)

      const codex = yield* hook("codex", { session_id: "x1" }, "?event=Stop")
      assert.deepStrictEqual(codex, { accepted: true, code: "idle", session_id: "x1" })
      const notify = yield* hook("codex", { type: "agent-turn-complete", "thread-id": "t1" })
      assert.deepStrictEqual(notify, { accepted: true, code: "idle", session_id: "t1" })
      const empty = yield* call(`${base}/api/hook/codex?event=PreToolUse`, { method: "POST" })
      assert.strictEqual((empty.json.data as { code: string }).code, "using_tool")

      yield* hook("opencode", { type: "session.created", session_id: "root", title: "fix bug" })
      yield* hook("opencode", { type: "session.created", session_id: "child", parent_id: "root" })
      const childTool = yield* hook("opencode", { type: "tool.execute.before", session_id: "child", tool: "bash" })
      assert.deepStrictEqual(childTool, { accepted: true, code: "using_tool", session_id: "root" })
      const childIdle = yield* hook("opencode", { type: "session.status", session_id: "child", status: "idle" })
      assert.isFalse(childIdle.accepted)
      const question = yield* hook("opencode", { type: "tool.execute.before", session_id: "root", tool: "question" })
      assert.strictEqual(question.code, "permission")

      const status = yield* call(`${base}/api/status`)
      const sessions = (status.json.data as { sessions: Array<{ session_id: string; label?: string; agent?: string }> })
        .sessions
      const root = sessions.find((s) => s.session_id === "root")
      assert.strictEqual(root?.label, "fix bug")
      assert.strictEqual(sessions.find((s) => s.session_id === "c1")?.label, "project")

      const bad = yield* sendJson(`${base}/api/hook/claude`, "POST", "{nope")
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(bad.json.code, -1)
      const unknownAgent = yield* sendJson(`${base}/api/hook/cursor`, "POST", {})
      assert.strictEqual(unknownAgent.status, 400)
    }).pipe(Effect.scoped))
})

describe("status relay: configs", () => {
  it.live("MQTT configs: seed defaults, masked secrets, partial update, 404 and 409", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh())
      const create = yield* sendJson(`${base}/api/mqtt`, "POST", {
        broker: "tcp://127.0.0.1:9",
        username: "user",
        password: "pass",
        enabled: false
      })
      assert.strictEqual(create.status, 200)
      assert.deepStrictEqual(create.json, {
        code: 0,
        message: "创建成功",
        data: {
          id: 1,
          broker: "tcp://127.0.0.1:9",
          client_id: "opencode-monitor",
          username: "user",
          password: "********",
          topic: "opencode/status",
          enabled: false
        }
      })
      const list = yield* call(`${base}/api/mqtt`)
      assert.strictEqual((list.json.data as Array<{ password: string }>)[0]?.password, "********")
      assert.notInclude(list.text, "\"pass\"")

      const update = yield* sendJson(`${base}/api/mqtt/1`, "PUT", {
        broker: "tcp://192.168.1.100:1883",
        client_id: "my-monitor",
        username: "user",
        password: "********",
        topic: "my/topic",
        enabled: false
      })
      assert.deepStrictEqual(update.json.message, "更新成功")
      assert.strictEqual((update.json.data as { topic: string }).topic, "my/topic")
      const partial = yield* sendJson(`${base}/api/mqtt/1`, "PUT", { topic: "other/topic" })
      assert.strictEqual((partial.json.data as { client_id: string }).client_id, "my-monitor")

      const missing = yield* call(`${base}/api/mqtt/42`)
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(missing.json, { code: -1, message: "MQTT config 42 not found" })
      const badId = yield* call(`${base}/api/mqtt/abc`)
      assert.strictEqual(badId.status, 400)
      assert.strictEqual(badId.json.code, -1)

      yield* sendJson(`${base}/api/mqtt`, "POST", { broker: "tcp://10.0.0.1:1883" })
      const twin = yield* sendJson(`${base}/api/mqtt`, "POST", { broker: "mqtt://10.0.0.1" })
      assert.strictEqual(twin.status, 409)
      assert.strictEqual(twin.json.code, -1)

      const removed = yield* call(`${base}/api/mqtt/1`, { method: "DELETE" })
      assert.deepStrictEqual(removed.json, { code: 0, message: "删除成功" })
      assert.strictEqual((yield* call(`${base}/api/mqtt/1`, { method: "DELETE" })).status, 404)
    }).pipe(Effect.scoped))

  it.live("BLE and device configs with the seed's defaults; device secrets masked", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh())
      const ble = yield* sendJson(`${base}/api/ble`, "POST", {
        device_name: "AI-Light",
        service_uuid: "b8b7e001-7a6b-4f4f-9a8b-11c0ffee0001",
        char_uuid: "b8b7e002-7a6b-4f4f-9a8b-11c0ffee0001"
      })
      assert.deepStrictEqual(ble.json.data, {
        id: 1,
        device_name: "AI-Light",
        service_uuid: "b8b7e001-7a6b-4f4f-9a8b-11c0ffee0001",
        char_uuid: "b8b7e002-7a6b-4f4f-9a8b-11c0ffee0001",
        enabled: true
      })
      const bleUpdate = yield* sendJson(`${base}/api/ble/1`, "PUT", { enabled: false })
      assert.isFalse((bleUpdate.json.data as { enabled: boolean }).enabled)
      const status = yield* call(`${base}/api/status`)
      assert.strictEqual((status.json.data as { ble: { links: Array<{ status: string }> } }).ble.links[0]?.status, "disabled")

      const device = yield* sendJson(`${base}/api/device/config`, "POST", {
        device_name: "AI-Light",
        wifi_ssid: "MyWiFi",
        wifi_pass: "MyPassword",
        mqtt_pass: "pass"
      })
      const data = device.json.data as Record<string, unknown>
      assert.strictEqual(data["config_topic"], "agent/status/config")
      assert.strictEqual(data["mqtt_port"], 1883)
      assert.deepStrictEqual([data["pin_red"], data["pin_green"], data["pin_yellow"]], [4, 3, 2])
      assert.strictEqual(data["wifi_pass"], "********")
      assert.strictEqual(data["mqtt_pass"], "********")
      const got = yield* call(`${base}/api/device/config/1`)
      assert.notInclude(got.text, "MyPassword")
      assert.strictEqual((yield* call(`${base}/api/device/config/1`, { method: "DELETE" })).json.message, "删除成功")
      assert.strictEqual((yield* call(`${base}/api/device/config/1`)).status, 404)
    }).pipe(Effect.scoped))
})

describe("status relay: MQTT end to end", () => {
  it.live("an event posted over HTTP reaches an MQTT subscriber; a device push reaches the device", () =>
    Effect.gen(function*() {
      const url = yield* sharedMosquitto
      const { base } = yield* serveRelay(fresh())
      const topic = uniqueName("maikit/http/status")
      const light = yield* subscriber(url, topic)
      const created = yield* sendJson(`${base}/api/mqtt`, "POST", { broker: url, topic, client_id: uniqueName("relay") })
      const id = (created.json.data as { id: number }).id
      yield* eventually(
        "the link to connect",
        Effect.map(call(`${base}/api/status`), (reply) =>
          (reply.json.data as { mqtt: Array<{ id: number; status: string }> }).mqtt.some((link) =>
            link.id === id && link.status === "connected"
          ))
      )
      yield* sendJson(`${base}/api/event`, "POST", { code: "reasoning", timestamp: "2026-06-27T14:30:00Z" })
      yield* light.waitFor((messages) =>
        messages.some((m) => (payloadOf(m) as { code: string }).code === "reasoning")
      )
      const last = light.messages.at(-1)
      assert.deepStrictEqual(payloadOf(last), { code: "reasoning", timestamp: "2026-06-27T14:30:00Z" })

      const configTopic = uniqueName("agent/status/config")
      const board = yield* subscriber(url, configTopic)
      yield* sendJson(`${base}/api/device/config`, "POST", {
        device_name: "AI-Light",
        config_topic: configTopic,
        wifi_ssid: "MyWiFi",
        wifi_pass: "MyPassword"
      })
      const push = yield* sendJson(`${base}/api/device/config/push`, "POST", { id: 1, reset: true })
      assert.strictEqual(push.json.message, "配置已推送")
      yield* board.waitFor((messages) => messages.length === 1)
      assert.deepStrictEqual(payloadOf(board.messages[0]), {
        device_name: "AI-Light",
        wifi_ssid: "MyWiFi",
        wifi_pass: "MyPassword",
        mqtt_port: 1883,
        pin_red: 4,
        pin_green: 3,
        pin_yellow: 2,
        reset: true
      })
      const missing = yield* sendJson(`${base}/api/device/config/push`, "POST", { id: 9 })
      assert.strictEqual(missing.status, 404)
      yield* sendJson(`${base}/api/mqtt/${id}`, "PUT", { enabled: false })
      yield* eventually(
        "the link to stop",
        Effect.map(call(`${base}/api/status`), (reply) =>
          (reply.json.data as { mqtt: Array<{ status: string }> }).mqtt.every((link) => link.status === "disabled"))
      )
      const offline = yield* sendJson(`${base}/api/device/config/push`, "POST", { id: 1 })
      assert.strictEqual(offline.status, 503)
      assert.strictEqual(offline.json.code, -1)
      yield* Effect.promise(() => light.client.publishAsync(topic, "", { retain: true, qos: 1 }))
    }).pipe(Effect.scoped))
})

describe("status relay: SSE", () => {
  it.live("sends connected, then status events with ids, and keep-alive comments", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh(), { events: { keepAliveInterval: "100 millis" } })
      yield* sendJson(`${base}/api/event`, "POST", { code: "init", session_id: "s" })
      const client = yield* sse(`${base}/api/events`, { origin: "http://dashboard.test" })
      yield* client.waitFor((events) => events.length === 1)
      assert.strictEqual(client.headers["content-type"], "text/event-stream; charset=utf-8")
      // Open to dashboards of every origin, without credentials.
      assert.strictEqual(client.headers["access-control-allow-origin"], "*")
      assert.isUndefined(client.headers["access-control-allow-credentials"])
      assert.deepStrictEqual(client.retry, [3000])
      const connected = client.events[0]
      assert.strictEqual(connected?.event, "connected")
      assert.strictEqual((JSON.parse(connected?.data ?? "{}") as { code: string }).code, "init")

      yield* sendJson(`${base}/api/event`, "POST", { code: "busy", session_id: "s", timestamp: "2026-06-27T14:30:00Z" })
      yield* sendJson(`${base}/api/event`, "POST", { code: "tool_done", session_id: "t" })
      yield* client.waitFor((events) => events.length === 3)
      const status = client.events[1]
      assert.strictEqual(status?.event, "status")
      assert.match(status?.id ?? "", /^[0-9a-z]+-2$/)
      const body = JSON.parse(status?.data ?? "{}") as { code: string; timestamp: string; session: { session_id: string } }
      assert.strictEqual(body.code, "busy")
      assert.strictEqual(body.timestamp, "2026-06-27T14:30:00Z")
      assert.strictEqual(body.session.session_id, "s")
      yield* Effect.sleep("250 millis")
      assert.include(client.comments, "keep-alive")
    }).pipe(Effect.scoped))

  it.live("replays what a client missed from Last-Event-ID, and gives a stale id the snapshot", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh())
      const first = yield* sse(`${base}/api/events`)
      yield* first.waitFor((events) => events.length === 1)
      yield* sendJson(`${base}/api/event`, "POST", { code: "busy" })
      yield* first.waitFor((events) => events.length === 2)
      const lastId = first.events[1]?.id ?? ""
      first.request.destroy()
      for (const code of ["reasoning", "using_tool", "tool_done"]) yield* sendJson(`${base}/api/event`, "POST", { code })

      const resumed = yield* sse(`${base}/api/events`, { "last-event-id": lastId })
      yield* resumed.waitFor((events) => events.length === 4)
      assert.deepStrictEqual(resumed.events.map((e) => e.event), ["connected", "status", "status", "status"])
      assert.isUndefined(resumed.events[0]?.id)
      assert.deepStrictEqual(
        resumed.events.slice(1).map((e) => (JSON.parse(e.data) as { code: string }).code),
        ["reasoning", "using_tool", "tool_done"]
      )

      const stranger = yield* sse(`${base}/api/events`, { "last-event-id": "abc-99" })
      yield* stranger.waitFor((events) => events.length === 1)
      yield* Effect.sleep("100 millis")
      assert.lengthOf(stranger.events, 1)
      assert.match(stranger.events[0]?.id ?? "", /-4$/)
      assert.strictEqual((JSON.parse(stranger.events[0]?.data ?? "{}") as { code: string }).code, "tool_done")
    }).pipe(Effect.scoped))

  it.live("a client that stops reading never delays the others; it resumes in order up to the latest", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh(), { events: { maxBufferedBytes: 4096 } })
      const port = Number(new URL(base).port)
      // A raw socket that asks for the stream and stops reading; what the kernel cannot buffer waits in the
      // server (coalescing itself is exercised in StatusEvents.test.ts, where no kernel buffer hides it).
      let received = ""
      const stuck = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Net.Socket>((resolve) => {
            const socket = Net.connect(port, "127.0.0.1", () => {
              socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`)
              socket.pause()
              resolve(socket)
            })
            socket.setEncoding("utf8")
            socket.on("data", (chunk: string) => (received += chunk))
          })
        ),
        (socket) => Effect.sync(() => socket.destroy())
      )
      const healthy = yield* sse(`${base}/api/events`)
      yield* healthy.waitFor((events) => events.length === 1)
      const clients = Effect.map(call(`${base}/api/status`), (reply) => (reply.json.data as { sse_clients: number }).sse_clients)
      assert.strictEqual(yield* clients, 2)
      const label = "x".repeat(160)
      const total = 600
      const started = Date.now()
      for (let i = 0; i < total; i++) {
        yield* sendJson(`${base}/api/event`, "POST", { code: i % 2 === 0 ? "busy" : "reasoning", session_id: `s${i % 7}`, label })
      }
      yield* healthy.waitFor((events) => events.length === total + 1, 10_000)
      assert.isBelow(Date.now() - started, 10_000)
      const seqs = healthy.events.slice(1).map((e) => (JSON.parse(e.data) as { seq: number }).seq)
      assert.deepStrictEqual(seqs, Array.from({ length: total }, (_, i) => i + 1))

      stuck.resume()
      const statusFrames = () => received.split("\n\n").filter((frame) => frame.includes("event: status"))
      yield* eventually(
        "the stuck client to catch up",
        Effect.sync(() => statusFrames().at(-1)?.includes(`"seq":${total},`) ?? false)
      )
      const stuckSeqs = statusFrames().map((frame) => Number(/"seq":(\d+)/.exec(frame)?.[1]))
      assert.deepStrictEqual(stuckSeqs, stuckSeqs.toSorted((a, b) => a - b))
    }).pipe(Effect.scoped))
})

describe("status relay: SSE beyond node:http", () => {
  it.live("refuses clients past maxClients with 503 {code: -1}", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh(), { events: { maxClients: 1 } })
      const first = yield* sse(`${base}/api/events`)
      yield* first.waitFor((events) => events.length === 1)
      const second = yield* call(`${base}/api/events`)
      assert.strictEqual(second.status, 503)
      assert.deepStrictEqual(second.json, { code: -1, message: "too many event stream clients" })
    }).pipe(Effect.scoped))

  it.live("streams through a fetch-style host (webHandler) too", () =>
    Effect.gen(function*() {
      const web = yield* Effect.acquireRelease(
        Effect.sync(() => MaikitServer.webHandler({ families: [StatusRelay.family] }, services(fresh()))),
        (handler) => Effect.promise(() => handler.dispose())
      )
      const response = yield* Effect.promise(() => web.handler(new Request("http://relay/api/events")))
      assert.strictEqual(response.status, 200)
      assert.include(response.headers.get("content-type") ?? "", "text/event-stream")
      const reader = response.body?.getReader()
      const decoder = new TextDecoder()
      let text = ""
      const readUntil = (needle: string) =>
        Effect.promise(async () => {
          while (!text.includes(needle)) {
            const chunk = await reader?.read()
            if (chunk === undefined || chunk.done) break
            text += decoder.decode(chunk.value)
          }
        })
      yield* readUntil("event: connected")
      const posted = yield* Effect.promise(() =>
        web.handler(new Request("http://relay/api/event", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: "error" })
        }))
      )
      assert.strictEqual(posted.status, 200)
      yield* readUntil("event: status")
      assert.include(text, "\"code\":\"error\"")
      yield* Effect.promise(async () => reader?.cancel())
    }).pipe(Effect.scoped))
})

describe("status relay: bad input", () => {
  it.live("malformed JSON, unknown codes, wrong methods, unknown routes and oversize bodies get {code: -1}", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh(), { maxBodyBytes: 1024 })
      const malformed = yield* sendJson(`${base}/api/event`, "POST", "{\"code\": ")
      assert.strictEqual(malformed.status, 400)
      assert.deepStrictEqual(malformed.json, { code: -1, message: "malformed JSON body" })

      const unknown = yield* sendJson(`${base}/api/event`, "POST", { code: "working" })
      assert.strictEqual(unknown.status, 400)
      assert.strictEqual(unknown.json.code, -1)
      assert.include(unknown.json.message, "code")

      const wrongType = yield* sendJson(`${base}/api/mqtt`, "POST", { broker: "tcp://h:1", enabled: "yes" })
      assert.strictEqual(wrongType.status, 400)
      assert.include(wrongType.json.message, "enabled")

      const method = yield* call(`${base}/api/event`)
      assert.strictEqual(method.status, 405)
      assert.strictEqual(method.json.code, -1)
      assert.include(method.headers.get("allow") ?? "", "POST")

      const route = yield* call(`${base}/api/nothing-here`)
      assert.strictEqual(route.status, 404)
      assert.deepStrictEqual(route.json, { code: -1, message: "not found" })

      const huge = yield* sendJson(`${base}/api/event`, "POST", { code: "busy", label: "x".repeat(4096) })
      assert.strictEqual(huge.status, 413)
      assert.strictEqual(huge.json.code, -1)

      const preflight = yield* call(`${base}/api/event`, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" }
      })
      assert.isBelow(preflight.status, 300)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "http://localhost:5173")
    }).pipe(Effect.scoped))
})

describe("the relay's server when it stops", () => {
  it.live("a stopping server closes an SSE stream, which never ends by itself, once its grace is over", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        MaikitServer.layer({ families: [StatusRelay.family], host: "127.0.0.1", port: 0, shutdownGraceMs: 300 })
          .pipe(Layer.provideMerge(services(fresh()))),
        scope
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      const closed = new Promise<void>((resolve) => {
        Http.get({ host: "127.0.0.1", port, path: "/api/events", agent: false }, (response) => {
          response.resume()
          response.once("close", () => resolve())
        })
      })
      yield* Effect.promise(async () => {
        while ((await fetch(`http://127.0.0.1:${port}/api/health`).then(() => true, () => false)) === false) {
          await new Promise((wait) => setTimeout(wait, 20))
        }
      })
      yield* Effect.sleep(200)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("10 seconds"))
      yield* Effect.promise(() => closed)
      const took = Date.now() - started
      assert.isAtLeast(took, 250, "open requests get their grace")
      assert.isBelow(took, 5_000, `stopped in ${took} ms`)
    }), 20_000)
})
