/**
 * Issue #11, defect 1: no foreign web page may drive `maikit serve`. The all-in-one server runs on a real loopback
 * port with its default settings (no token, 127.0.0.1) and is probed as browsers probe it: requests with a foreign
 * `Origin` (simple ones, without a preflight, too), a forged `Host` (DNS rebinding) on HTTP, the terminal and log
 * WebSockets and the SSE stream, and the launcher's real client from a loopback origin, which must keep working.
 * The last suite drives Debian's Chromium (headless) with `evil.example` resolving to 127.0.0.1, so the foreign
 * page and the rebound name are a real browser's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { MaikitConfig } from "@maikit/core/platform"
import { botFolder, tempDir } from "../../core/test/helpers/instances.ts"
import { handshake } from "../../ws-adapter/test/helpers.ts"
import * as AllInOne from "../src/AllInOne.ts"

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

interface Sent {
  readonly method?: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

/** `maikit serve` with its defaults on a free loopback port, data in a fresh folder; yields the port. */
const serve = Effect.gen(function*() {
  const context = yield* Layer.build(
    AllInOne.layerFromConfig.pipe(
      Layer.provide(MaikitConfig.MaikitConfig.layerFrom({ dataDir: tempDir("foreign-pages"), port: 0, logLevel: "none" }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  return address._tag === "UnixPathAddress" ? 0 : address.port
})

/** One request over node:http, which sends the `Host` and `Origin` it is given, as a browser or an attacker would. */
const send = (port: number, sent: Sent) =>
  Effect.promise(() =>
    new Promise<Answer>((resolve, reject) => {
      const request = Http.request({
        host: "127.0.0.1",
        port,
        method: sent.method ?? "GET",
        path: sent.path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(sent.body === undefined ? {} : { "content-length": String(Buffer.byteLength(sent.body)) }),
          ...sent.headers
        }
      }, (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
        // An SSE stream never ends: the head is enough.
        if ((response.headers["content-type"] ?? "").startsWith("text/event-stream")) {
          response.once("data", () => {
            response.destroy()
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body })
          })
        }
      })
      request.on("error", reject)
      request.end(sent.body)
    })
  )

/** The headers the Vue client's axios wrapper puts on every request (contract §0 point 2). */
const clientHeaders = {
  "content-type": "application/json",
  accept: "application/json",
  "x-client-name": "MailLauncher-Frontend",
  "x-client-version": "1.0.0",
  "x-request-time": "2026-01-01T00:00:00.000Z"
}

/** What `addExistingInstance` posts; the `run_cmd` is what a malicious page would choose. */
const addBody = (maibot: string, runCmd = "python main.py") =>
  JSON.stringify({
    instance_name: "mai-existing",
    maibot_path: maibot,
    adapter_path: Path.join(maibot, "napcat-ada"),
    install_services: [{ name: "napcat-ada", path: Path.join(maibot, "napcat-ada"), port: 8095, run_cmd: runCmd }],
    install_path: maibot,
    port: 8000,
    version: "检测到的MaiBot版本",
    host: "localhost",
    token: ""
  })

const instanceCount = (port: number) =>
  Effect.map(
    send(port, { path: "/api/v1/instances" }),
    (answer) => (JSON.parse(answer.body) as { instances: ReadonlyArray<unknown> }).instances.length
  )

const corsHeaderNames = (headers: Http.IncomingHttpHeaders) =>
  Object.keys(headers).filter((name) => name.startsWith("access-control-allow-"))

describe("maikit serve: foreign web pages", () => {
  it.live("a page of another origin cannot add an instance or start one, with or without a preflight", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const maibot = botFolder()
      const evil = { origin: "http://evil.example" }

      // A "simple" request: text/plain needs no preflight, and the browser sends it at once.
      const simple = yield* send(port, {
        method: "POST",
        path: "/api/v1/instances/add",
        headers: { ...evil, "content-type": "text/plain;charset=UTF-8" },
        body: addBody(maibot, "touch /tmp/pwned")
      })
      assert.strictEqual(simple.status, 403)
      assert.include((JSON.parse(simple.body) as { detail: string }).detail, "http://evil.example")
      assert.deepStrictEqual(corsHeaderNames(simple.headers), [])

      const json = yield* send(port, {
        method: "POST",
        path: "/api/v1/instances/add",
        headers: { ...evil, ...clientHeaders },
        body: addBody(maibot, "touch /tmp/pwned")
      })
      assert.strictEqual(json.status, 403)
      assert.strictEqual(yield* instanceCount(port), 0, "nothing was stored")

      const preflight = yield* send(port, {
        method: "OPTIONS",
        path: "/api/v1/instances/add",
        headers: {
          ...evil,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,x-client-name,x-client-version,x-request-time"
        }
      })
      assert.strictEqual(preflight.status, 403)
      assert.deepStrictEqual(corsHeaderNames(preflight.headers), [], "a refused preflight allows nothing")

      // GET routes that act (start, stop) are refused too, before the route is even looked up.
      const start = yield* send(port, { path: "/api/v1/start/some-id/napcat", headers: evil })
      assert.strictEqual(start.status, 403)
      // An <img src> or a link from another site carries no Origin, but says it is cross-site.
      const image = yield* send(port, {
        path: "/api/v1/instance/some-id/start",
        headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" }
      })
      assert.strictEqual(image.status, 403)

      // The control plane and the relay's writes refuse it in their own shapes.
      const tenant = yield* send(port, {
        method: "POST",
        path: "/api/v2/tenants",
        headers: { ...evil, "content-type": "text/plain" },
        body: JSON.stringify({ tenant_name: "t", tenant_type: "personal" })
      })
      assert.strictEqual(tenant.status, 403)
      const envelope = JSON.parse(tenant.body) as { success: boolean; error_code: string }
      assert.isFalse(envelope.success)
      assert.strictEqual(envelope.error_code, "FORBIDDEN")
      const mqtt = yield* send(port, {
        method: "POST",
        path: "/api/mqtt",
        headers: { ...evil, "content-type": "text/plain" },
        body: JSON.stringify({ broker: "tcp://127.0.0.1:1883" })
      })
      assert.strictEqual(mqtt.status, 403)
      assert.strictEqual((JSON.parse(mqtt.body) as { code: number }).code, -1)
      const configs = yield* send(port, { path: "/api/mqtt" })
      assert.deepStrictEqual((JSON.parse(configs.body) as { data: ReadonlyArray<unknown> }).data, [])
    }).pipe(Effect.scoped))

  it.live("a forged Host (DNS rebinding) is refused on HTTP, the WebSockets, the SSE stream and the fast lane", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const rebound = { host: `evil.example:${port}` }

      const list = yield* send(port, { path: "/api/v1/instances", headers: rebound })
      assert.strictEqual(list.status, 421)
      assert.include((JSON.parse(list.body) as { detail: string }).detail, "evil.example")
      const tenants = yield* send(port, { path: "/api/v2/tenants", headers: rebound })
      assert.strictEqual(tenants.status, 421)
      assert.strictEqual((JSON.parse(tenants.body) as { error_code: string }).error_code, "MISDIRECTED_REQUEST")
      // Same-origin to the rebound page, so no Origin at all on a GET: the Host alone decides.
      const events = yield* send(port, { path: "/api/events", headers: { ...rebound, accept: "text/event-stream" } })
      assert.strictEqual(events.status, 421)
      assert.strictEqual((JSON.parse(events.body) as { code: number }).code, -1)

      const before = yield* send(port, { path: "/api/status" })
      const event = yield* send(port, {
        method: "POST",
        path: "/api/event",
        headers: { ...rebound, "content-type": "application/json" },
        body: JSON.stringify({ code: "error" })
      })
      assert.strictEqual(event.status, 421)
      const after = yield* send(port, { path: "/api/status" })
      assert.deepStrictEqual(
        (JSON.parse(after.body) as { data: { code: string } }).data.code,
        (JSON.parse(before.body) as { data: { code: string } }).data.code
      )

      const terminal = yield* handshake(`ws://127.0.0.1:${port}/api/v1/ws/any_main`, rebound)
      assert.strictEqual(terminal._tag, "Refused")
      if (terminal._tag === "Refused") assert.strictEqual(terminal.status, 421)
      const logs = yield* handshake(`ws://127.0.0.1:${port}/api/v1/logs/instance/any/ws`, rebound)
      assert.strictEqual(logs._tag === "Refused" ? logs.status : 101, 421)

      // The names a user really uses still work.
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.8.9.10:${port}`, `app.localhost:${port}`]) {
        assert.strictEqual((yield* send(port, { path: "/api/v1/system/health", headers: { host } })).status, 200, host)
      }
    }).pipe(Effect.scoped))

  it.live("the launcher's client on a loopback origin works unchanged: preflight, add, terminal socket", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const maibot = botFolder()
      for (const origin of ["http://localhost:5173", "http://127.0.0.1:8080", "tauri://localhost", "http://tauri.localhost"]) {
        const preflight = yield* send(port, {
          method: "OPTIONS",
          path: "/api/v1/instances/add",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-client-name,x-client-version,x-request-time"
          }
        })
        assert.isBelow(preflight.status, 300, origin)
        assert.strictEqual(preflight.headers["access-control-allow-origin"], origin)
        assert.strictEqual(preflight.headers["access-control-allow-credentials"], "true")
        assert.include(preflight.headers["access-control-allow-methods"] ?? "", "POST")
        const allowed = (preflight.headers["access-control-allow-headers"] ?? "").toLowerCase()
        for (const header of ["content-type", "x-client-name", "x-client-version", "x-request-time"]) {
          assert.include(allowed, header)
        }
      }

      const origin = "http://localhost:5173"
      const added = yield* send(port, {
        method: "POST",
        path: "/api/v1/instances/add",
        headers: { origin, ...clientHeaders },
        body: addBody(maibot)
      })
      assert.strictEqual(added.status, 200, added.body)
      assert.strictEqual(added.headers["access-control-allow-origin"], origin)
      assert.strictEqual(added.headers["access-control-allow-credentials"], "true")
      const id = (JSON.parse(added.body) as { instance_id: string }).instance_id
      assert.strictEqual(yield* instanceCount(port), 1)

      const terminal = yield* handshake(`ws://127.0.0.1:${port}/api/v1/ws/${id}_main`, { origin })
      assert.strictEqual(terminal._tag, "Open")
      if (terminal._tag === "Open") {
        yield* terminal.client.waitFor((frames) =>
          frames.some((frame) => frame["type"] === "status" && String(frame["message"]).includes("已连接到 main 终端"))
        )
      }
      const foreign = yield* handshake(`ws://127.0.0.1:${port}/api/v1/ws/${id}_main`, { origin: "http://evil.example" })
      assert.strictEqual(foreign._tag === "Refused" ? foreign.status : 101, 403)
      const foreignLogs = yield* handshake(`ws://127.0.0.1:${port}/api/v1/logs/instance/${id}/ws`, { origin: "https://evil.example" })
      assert.strictEqual(foreignLogs._tag === "Refused" ? foreignLogs.status : 101, 403)

      // A page MaiKit serves itself is same-origin.
      const own = yield* send(port, {
        path: "/api/v1/instances",
        headers: { origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin" }
      })
      assert.strictEqual(own.status, 200)
    }).pipe(Effect.scoped))

  it.live("the relay's reads and SSE stream are open to every origin, without credentials", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const dashboard = { origin: "https://dashboard.example" }
      const status = yield* send(port, { path: "/api/status", headers: dashboard })
      assert.strictEqual(status.status, 200)
      assert.strictEqual(status.headers["access-control-allow-origin"], "*")
      assert.isUndefined(status.headers["access-control-allow-credentials"])

      const preflight = yield* send(port, {
        method: "OPTIONS",
        path: "/api/status",
        headers: { ...dashboard, "access-control-request-method": "GET", "access-control-request-headers": "authorization" }
      })
      assert.isBelow(preflight.status, 300)
      assert.strictEqual(preflight.headers["access-control-allow-origin"], "*")
      assert.isUndefined(preflight.headers["access-control-allow-credentials"])

      const stream = yield* send(port, { path: "/api/events", headers: { ...dashboard, accept: "text/event-stream" } })
      assert.strictEqual(stream.status, 200)
      assert.strictEqual(stream.headers["access-control-allow-origin"], "*")
      assert.isUndefined(stream.headers["access-control-allow-credentials"])

      const write = yield* send(port, {
        method: "POST",
        path: "/api/event",
        headers: { ...dashboard, "content-type": "text/plain" },
        body: JSON.stringify({ code: "error" })
      })
      assert.strictEqual(write.status, 403)
      const writePreflight = yield* send(port, {
        method: "OPTIONS",
        path: "/api/mqtt",
        headers: { ...dashboard, "access-control-request-method": "POST" }
      })
      assert.strictEqual(writePreflight.status, 403)
      assert.deepStrictEqual(corsHeaderNames(writePreflight.headers), [])
      const after = yield* send(port, { path: "/api/status" })
      assert.notStrictEqual((JSON.parse(after.body) as { data: { code: string } }).data.code, "error", "the refused event was not published")
    }).pipe(Effect.scoped))
})

/**
 * What the launcher's client does, as a page: add an instance with axios's headers (a preflighted request), post
 * a "simple" one too (no preflight), then open the terminal socket. It reports what happened to its own server.
 */
const clientPage = (apiPort: number, maibot: string) => `<!doctype html><html><body><script>
const api = "http://127.0.0.1:${apiPort}"
const body = ${JSON.stringify(addBody(maibot))}
const out = []
let id = "none"
;(async () => {
  try {
    const response = await fetch(api + "/api/v1/instances/add", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-Client-Name": "MailLauncher-Frontend",
        "X-Client-Version": "1.0.0",
        "X-Request-Time": new Date().toISOString()
      },
      body
    })
    const json = await response.json()
    id = json.instance_id ?? "none"
    out.push("add:" + response.status)
  } catch (error) {
    out.push("add:blocked")
  }
  try {
    await fetch(api + "/api/v1/instances/add", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body })
    out.push("simple:sent")
  } catch (error) {
    out.push("simple:blocked")
  }
  await new Promise((resolve) => {
    const socket = new WebSocket("ws://127.0.0.1:${apiPort}/api/v1/ws/" + id + "_main")
    socket.onmessage = (message) => { out.push("ws:" + JSON.parse(message.data).type); socket.close(); resolve() }
    socket.onerror = () => { out.push("ws:refused"); resolve() }
  })
  await fetch("/result", { method: "POST", body: out.join(" ") })
})()
</script></body></html>`

/** Serves `page` on a loopback port under any name, and takes its reports; yields the port and the next report. */
const pageServer = (page: string) =>
  Effect.gen(function*() {
    const reports: Array<string> = []
    const server = yield* Effect.acquireRelease(
      Effect.callback<Http.Server>((resume) => {
        const created = Http.createServer((request, response) => {
          if (request.url !== "/result") return void response.writeHead(200, { "content-type": "text/html" }).end(page)
          let text = ""
          request.setEncoding("utf8")
          request.on("data", (chunk: string) => (text += chunk))
          request.on("end", () => {
            reports.push(text)
            response.end()
          })
        })
        created.listen(0, "127.0.0.1", () => resume(Effect.succeed(created)))
      }),
      (listening) =>
        Effect.callback<void>((resume) => {
          listening.closeAllConnections()
          listening.close(() => resume(Effect.void))
        })
    )
    /** Loads `url` in headless Chromium, `evil.example` resolving to 127.0.0.1 (as DNS rebinding makes it), until the page reports. */
    const visit = (url: string) =>
      Effect.gen(function*() {
        const seen = reports.length
        const profile = tempDir("chromium-profile")
        const browser = spawn(chromium, [
          ...chromiumFlags,
          `--user-data-dir=${profile}`,
          "--host-resolver-rules=MAP evil.example 127.0.0.1",
          url
        ], { stdio: "ignore", detached: true })
        // Chromium's own helper processes share its process group: they go with it.
        yield* Effect.addFinalizer(() =>
          Effect.callback<void>((resume) => {
            browser.once("exit", () => {
              Fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
              resume(Effect.void)
            })
            if (browser.pid !== undefined) process.kill(-browser.pid, "SIGKILL")
          })
        )
        const deadline = Date.now() + 30_000
        while (reports.length === seen && Date.now() < deadline) yield* Effect.sleep("50 millis")
        return reports[seen] ?? "no report"
      }).pipe(Effect.scoped)
    return { port: (server.address() as AddressInfo).port, visit }
  })

/** Debian's Chromium, as the test set-up found or provisioned it (`vitest.services.ts`). */
const chromium = process.env["MAIKIT_TEST_CHROMIUM"] ?? "chromium"
/** Headless, and quiet on this closed network: no background requests, updates, sync or first-run pages. */
const chromiumFlags = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** What headless Chromium shows for `url`, with `evil.example` resolving to 127.0.0.1. */
const dumpDom = (url: string) =>
  Effect.callback<string>((resume) => {
    const profile = tempDir("chromium-profile")
    execFile(chromium, [
      ...chromiumFlags,
      `--user-data-dir=${profile}`,
      "--host-resolver-rules=MAP evil.example 127.0.0.1",
      "--dump-dom",
      url
    ], { timeout: 60_000 }, (_error, stdout) => {
      Fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
      resume(Effect.succeed(stdout))
    })
  })

describe("maikit serve: foreign web pages, in Chromium", () => {
  it.live("the client works from a loopback origin; from another origin it adds nothing and opens no terminal", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const pages = yield* pageServer(clientPage(port, botFolder()))

      const foreign = yield* pages.visit(`http://evil.example:${pages.port}/`)
      assert.strictEqual(foreign, "add:blocked simple:sent ws:refused")
      assert.strictEqual(yield* instanceCount(port), 0, "neither the preflighted nor the simple request stored anything")

      const rebound = yield* dumpDom(`http://evil.example:${port}/api/v1/instances`)
      assert.include(rebound, "This server does not answer for host evil.example")

      const loopback = yield* pages.visit(`http://localhost:${pages.port}/`)
      assert.strictEqual(loopback, "add:200 simple:sent ws:status")
      assert.strictEqual(yield* instanceCount(port), 1, "the client's add went through, the simple text/plain one did not")
    }).pipe(Effect.scoped), 120_000)
})
