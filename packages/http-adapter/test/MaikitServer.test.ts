import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Redacted, Schema } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { ApiFamily, Launcher, LauncherApi, MaikitServer } from "../src/index.ts"

const Echo = Schema.Struct({ name: Schema.String, port: Schema.Int })

class EchoApi extends HttpApi.make("echo").add(
  HttpApiGroup.make("echo").add(HttpApiEndpoint.post("echo", "/api/v1/echo", { payload: Echo, success: Echo }))
) {}

/** A family of the host's own with the launcher's error shape: the path a JSON body takes. */
const echoFamily = ApiFamily.make({
  name: "echo",
  api: EchoApi,
  routes: HttpApiBuilder.layer(EchoApi).pipe(
    Layer.provide(
      HttpApiBuilder.group(EchoApi, "echo", (handlers) => handlers.handle("echo", ({ payload }) => Effect.succeed(payload)))
    )
  ),
  owns: (path) => path.startsWith("/api/v1/echo"),
  errors: Launcher.errors
})

const services = (registryUrl?: string) =>
  Layer.mergeAll(
    MaikitConfig.MaikitConfig.layerFrom({ dataDir: "unused", port: 23456 }),
    SystemMetrics.SystemMetrics.layer,
    UpdateChecker.UpdateChecker.layer({ registryUrl })
  )

interface ServeOptions {
  readonly accessToken?: string
  readonly registryUrl?: string
  readonly allowedHosts?: ReadonlyArray<string>
  readonly allowedOrigins?: ReadonlyArray<string>
}

/** Starts the families on a real loopback port for the test's scope; yields the base URL. */
const serve = (options: ServeOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      MaikitServer.layer({
        families: [Launcher.family, echoFamily],
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: 1024,
        accessToken: options.accessToken === undefined ? Option.none() : Option.some(Redacted.make(options.accessToken)),
        allowedHosts: options.allowedHosts,
        allowedOrigins: options.allowedOrigins
      }).pipe(Layer.provide(services(options.registryUrl)))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
  })

const call = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

/** A request over node:http, which sends the `Host` it is given (fetch does not). */
const raw = (base: string, sent: { readonly path: string; readonly headers: Record<string, string> }) =>
  Effect.promise(() =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = Http.get(new URL(sent.path, base), { headers: sent.headers }, (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
      })
      request.on("error", reject)
    })
  )

const decode = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(schema: S, body: string): S["Type"] =>
  Schema.decodeUnknownSync(schema)(JSON.parse(body))

const postJson = (url: string, body: string, headers: Record<string, string> = {}) =>
  call(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })

/** A registry stand-in on loopback that announces `version` as the newest release. */
const registry = (version: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<Http.Server>((resolve) => {
        const server = Http.createServer((_request, response) => {
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version }))
        })
        server.listen(0, "127.0.0.1", () => resolve(server))
      })
    ),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/latest`))

describe("MaikitServer with the launcher family", () => {
  it.live("serves health, its seed alias and the test route in the original's shapes", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const health = yield* call(`${base}/api/v1/system/health`)
      assert.strictEqual(health.status, 200)
      const body = decode(LauncherApi.HealthResponse, health.body)
      assert.match(body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00$/)
      assert.isBelow(Math.abs(Date.parse(body.time) - Date.now()), 5000)
      const alias = yield* call(`${base}/api/v1/health`)
      assert.strictEqual(decode(LauncherApi.HealthResponse, alias.body).status, "success")
      const test = yield* call(`${base}/api/test`)
      assert.deepStrictEqual(JSON.parse(test.body), { status: "success", message: "后端运行正常", port: 23456 })
    }).pipe(Effect.scoped))

  it.live("serves host metrics with every field the client reads", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const response = yield* call(`${base}/api/v1/system/metrics`)
      assert.strictEqual(response.status, 200)
      const { data } = decode(LauncherApi.MetricsResponse, response.body)
      assert.isAbove(data.memory_usage.total_mb, 0)
      assert.isAtLeast(data.cpu_usage_percent, 0)
      assert.isAtMost(data.cpu_usage_percent, 100)
      assert.isAbove(data.disk_usage_root.total_gb, 0)
      assert.isTrue(data.network_stats.interfaces.every((nic) => nic.name !== "lo"))
      assert.isNotEmpty(data.system_info.system)
      assert.include(data.python_version, process.versions.node)
      // Seed 000's figures of the server's own process, psutil's `Process` fields.
      assert.isAtLeast(data.process_cpu_usage_percent, 0)
      assert.isAbove(data.process_memory_usage.rss_mb, 1)
      assert.isAbove(data.process_memory_usage.vms_mb ?? 0, data.process_memory_usage.rss_mb)
      assert.isAbove(data.process_memory_usage.percent, 0)
      assert.isBelow(data.process_memory_usage.percent, 100)
    }).pipe(Effect.scoped))

  it.live("answers the version routes; history honours ?limit and rejects a bad one", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const current = decode(LauncherApi.CurrentVersionResponse, (yield* call(`${base}/api/v1/version/current`)).body)
      assert.match(current.data.version, /^\d+\.\d+\.\d+/)
      assert.isAbove(current.data.internal_version, 0)

      const check = decode(
        LauncherApi.CheckVersionResponse,
        (yield* call(`${base}/api/v1/version/check?current_version=0.1.0&internal_version=100&channel=stable`)).body
      )
      assert.isFalse(check.data.has_update)
      assert.strictEqual(check.data.source, "disabled")
      assert.strictEqual(check.latest_version, check.data.latest_version)

      const history = decode(LauncherApi.VersionHistoryResponse, (yield* call(`${base}/api/v1/version/history?limit=1`)).body)
      assert.lengthOf(history.data, 1)

      const bad = yield* call(`${base}/api/v1/version/history?limit=ten`)
      assert.strictEqual(bad.status, 422)
      const detail = decode(LauncherApi.ValidationDetail, bad.body).detail
      assert.deepStrictEqual(detail[0]?.loc, ["query", "limit"])
    }).pipe(Effect.scoped))

  it.live("reports a newer release found in the registry", () =>
    Effect.gen(function*() {
      const registryUrl = yield* registry("9.0.0")
      const base = yield* serve({ registryUrl })
      const check = decode(LauncherApi.CheckVersionResponse, (yield* call(`${base}/api/v1/version/check`)).body)
      assert.isTrue(check.data.has_update)
      assert.isTrue(check.has_update)
      assert.strictEqual(check.data.latest_version, "9.0.0")
      assert.strictEqual(check.data.latest_internal, 9000)
      assert.strictEqual(check.data.update_type, "major")
      assert.strictEqual(check.data.source, "registry")
    }).pipe(Effect.scoped))

  it.live("an unreachable registry is no update, not an error", () =>
    Effect.gen(function*() {
      const base = yield* serve({ registryUrl: "http://127.0.0.1:9/latest" })
      const response = yield* call(`${base}/api/v1/version/check`)
      assert.strictEqual(response.status, 200)
      const check = decode(LauncherApi.CheckVersionResponse, response.body)
      assert.isFalse(check.data.has_update)
      assert.strictEqual(check.data.source, "unreachable")
    }).pipe(Effect.scoped))
})

describe("MaikitServer bad input", () => {
  it.live("an unknown route is 404 and a wrong method 405, in {detail}", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const missing = yield* call(`${base}/api/v1/nope`)
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(JSON.parse(missing.body), { detail: "Not Found" })

      const wrongMethod = yield* call(`${base}/api/v1/system/health`, { method: "POST" })
      assert.strictEqual(wrongMethod.status, 405)
      assert.deepStrictEqual(JSON.parse(wrongMethod.body), { detail: "Method Not Allowed" })
      assert.include(wrongMethod.headers.get("allow") ?? "", "GET")

      const echoGet = yield* call(`${base}/api/v1/echo`)
      assert.strictEqual(echoGet.status, 405)
    }).pipe(Effect.scoped))

  it.live("malformed JSON and wrong types are 422 with the field named", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const ok = yield* postJson(`${base}/api/v1/echo`, JSON.stringify({ name: "mai", port: 8000 }))
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(JSON.parse(ok.body), { name: "mai", port: 8000 })

      const malformed = yield* postJson(`${base}/api/v1/echo`, "{\"name\": ")
      assert.strictEqual(malformed.status, 422)
      const malformedDetail = decode(LauncherApi.ValidationDetail, malformed.body).detail
      assert.strictEqual(malformedDetail[0]?.type, "json_invalid")

      const wrongType = yield* postJson(`${base}/api/v1/echo`, JSON.stringify({ name: "mai", port: "8000x" }))
      assert.strictEqual(wrongType.status, 422)
      const wrongTypeDetail = decode(LauncherApi.ValidationDetail, wrongType.body).detail
      assert.deepStrictEqual(wrongTypeDetail[0]?.loc, ["body", "port"])

      const missing = yield* postJson(`${base}/api/v1/echo`, JSON.stringify({ port: 1 }))
      assert.strictEqual(missing.status, 422)
      assert.deepStrictEqual(decode(LauncherApi.ValidationDetail, missing.body).detail[0]?.loc, ["body", "name"])

      const form = yield* call(`${base}/api/v1/echo`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "name=mai&port=8000"
      })
      assert.strictEqual(form.status, 415)
      assert.deepStrictEqual(JSON.parse(form.body), {
        detail: "Unsupported content type application/x-www-form-urlencoded: send application/json"
      })
    }).pipe(Effect.scoped))

  it.live("a body over the limit is 413 and the server keeps serving", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const huge = yield* postJson(`${base}/api/v1/echo`, JSON.stringify({ name: "x".repeat(4096), port: 1 }))
      assert.strictEqual(huge.status, 413)
      assert.include(decode(LauncherApi.Detail, huge.body).detail, "1024")
      const after = yield* call(`${base}/api/v1/system/health`)
      assert.strictEqual(after.status, 200)
    }).pipe(Effect.scoped))
})

describe("MaikitServer CORS, docs and access token", () => {
  it.live("answers the client's preflight with its custom headers allowed, for the launcher's origins", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const preflight = yield* call(`${base}/api/v1/system/health`, {
        method: "OPTIONS",
        headers: {
          origin: "http://tauri.localhost",
          "access-control-request-method": "GET",
          "access-control-request-headers": "content-type,x-client-name,x-client-version,x-request-time"
        }
      })
      assert.isBelow(preflight.status, 300)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "http://tauri.localhost")
      const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase()
      for (const header of ["content-type", ...MaikitServer.clientHeaders.map((name) => name.toLowerCase())]) {
        assert.include(allowed, header)
      }
      assert.include(preflight.headers.get("access-control-allow-methods") ?? "", "DELETE")

      const simple = yield* call(`${base}/api/v1/system/health`, { headers: { origin: "http://localhost:5173" } })
      assert.strictEqual(simple.headers.get("access-control-allow-origin"), "http://localhost:5173")
      assert.strictEqual(simple.headers.get("access-control-allow-credentials"), "true")
      assert.strictEqual(simple.headers.get("vary"), "Origin")
      const notFound = yield* call(`${base}/api/v1/missing`, { headers: { origin: "http://[::1]:8080" } })
      assert.strictEqual(notFound.headers.get("access-control-allow-origin"), "http://[::1]:8080")
      // Without an Origin there is nothing to allow, but caches must still know the answer depends on it.
      const sameOrigin = yield* call(`${base}/api/v1/system/health`)
      assert.isNull(sameOrigin.headers.get("access-control-allow-origin"))
      assert.strictEqual(sameOrigin.headers.get("vary"), "Origin")

      // Another origin is refused, in the family's shape, and allowed nothing.
      const foreign = yield* call(`${base}/api/v1/system/health`, { headers: { origin: "http://example.test" } })
      assert.strictEqual(foreign.status, 403)
      assert.deepStrictEqual(JSON.parse(foreign.body), { detail: "pages of http://example.test may not use this server" })
      assert.isNull(foreign.headers.get("access-control-allow-origin"))
      assert.isNull(foreign.headers.get("access-control-allow-credentials"))
      const foreignPreflight = yield* call(`${base}/api/v1/echo`, {
        method: "OPTIONS",
        headers: { origin: "http://example.test", "access-control-request-method": "POST" }
      })
      assert.strictEqual(foreignPreflight.status, 403)
      assert.isNull(foreignPreflight.headers.get("access-control-allow-methods"))
      // The OpenAPI document is open to every origin: online editors read it.
      const document = yield* call(`${base}/openapi.json`, { headers: { origin: "http://example.test" } })
      assert.strictEqual(document.status, 200)
      assert.strictEqual(document.headers.get("access-control-allow-origin"), "*")
    }).pipe(Effect.scoped))

  it.live("configured origins replace the default ones; configured hosts add to loopback", () =>
    Effect.gen(function*() {
      const base = yield* serve({
        allowedOrigins: ["https://console.example.com", "http://maikit.lan:*"],
        allowedHosts: ["maikit.lan", ".example.com"]
      })
      const port = new URL(base).port
      const origin = (value: string) => call(`${base}/api/v1/system/health`, { headers: { origin: value } })
      assert.strictEqual((yield* origin("https://console.example.com")).status, 200)
      assert.strictEqual((yield* origin("https://console.example.com:443")).status, 200)
      assert.strictEqual((yield* origin("http://maikit.lan:5173")).status, 200)
      assert.strictEqual((yield* origin("http://console.example.com")).status, 403, "another scheme")
      assert.strictEqual((yield* origin("http://localhost:5173")).status, 403, "the defaults are replaced")
      // Same origin is always allowed: the page came from this server.
      assert.strictEqual((yield* origin(base)).status, 200)

      const host = (value: string) => raw(base, { path: "/api/v1/system/health", headers: { host: value } })
      assert.strictEqual((yield* host(`maikit.lan:${port}`)).status, 200)
      assert.strictEqual((yield* host(`example.com:${port}`)).status, 200)
      assert.strictEqual((yield* host(`api.example.com:${port}`)).status, 200)
      assert.strictEqual((yield* host(`localhost:${port}`)).status, 200)
      assert.strictEqual((yield* host(`[::1]:${port}`)).status, 200)
      const other = yield* host(`maikit.example.org:${port}`)
      assert.strictEqual(other.status, 421)
      assert.deepStrictEqual(JSON.parse(other.body), { detail: `This server does not answer for host maikit.example.org:${port}` })
    }).pipe(Effect.scoped))

  it.live("a server with mounts only applies the same rules, in a plain shape", () =>
    Effect.gen(function*() {
      const ping: MaikitServer.Mount = {
        routes: HttpRouter.add("GET", "/ping", HttpServerResponse.text("pong")),
        paths: [{ method: "GET", path: "/ping" }]
      }
      const context = yield* Layer.build(MaikitServer.layer({ families: [], mounts: [ping], host: "127.0.0.1", port: 0 }))
      const address = Context.get(context, HttpServer.HttpServer).address
      const base = `http://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}`
      assert.strictEqual((yield* call(`${base}/ping`)).body, "pong")
      const rebound = yield* raw(base, { path: "/ping", headers: { host: "evil.example" } })
      assert.strictEqual(rebound.status, 421)
      assert.deepStrictEqual(JSON.parse(rebound.body), { message: "this server does not answer for host evil.example" })
      const foreign = yield* call(`${base}/ping`, { headers: { origin: "http://evil.example" } })
      assert.strictEqual(foreign.status, 403)
    }).pipe(Effect.scoped))

  it.live("a bad allow-list entry fails the server's start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(serve({ allowedOrigins: ["localhost:5173"] }))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "expected an origin")
    }).pipe(Effect.scoped))

  it.live("serves a home page, an OpenAPI document, Swagger UI and the /redoc reference with no external assets", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const home = yield* call(`${base}/`)
      assert.strictEqual(home.status, 200)
      assert.include(home.body, "href=\"/docs\"")

      const openApi = yield* call(`${base}/openapi.json`)
      const document = JSON.parse(openApi.body) as { paths: Record<string, unknown> }
      assert.property(document.paths, "/api/v1/system/health")
      assert.property(document.paths, "/api/v1/echo")

      const docs = yield* call(`${base}/docs`)
      assert.strictEqual(docs.status, 200)
      assert.include(docs.body, "SwaggerUIBundle")
      assert.notMatch(docs.body, /<(script|link)[^>]+(src|href)="https?:/)

      const reference = yield* call(`${base}/redoc`)
      assert.strictEqual(reference.status, 200)
      assert.include(reference.body, "createApiReference")
      assert.include(reference.body, "/api/v1/system/health")
      assert.notMatch(reference.body, /<(script|link)[^>]+(src|href)="https?:/)
    }).pipe(Effect.scoped))

  it.live("with an access token, API routes need it; the home page and docs do not", () =>
    Effect.gen(function*() {
      const base = yield* serve({ accessToken: "s3cret" })
      const anonymous = yield* call(`${base}/api/v1/system/health`)
      assert.strictEqual(anonymous.status, 401)
      assert.deepStrictEqual(JSON.parse(anonymous.body), { detail: "Not authenticated" })
      const wrong = yield* call(`${base}/api/v1/system/health`, {
        headers: { authorization: "Bearer nope", origin: "http://localhost:5173" }
      })
      assert.strictEqual(wrong.status, 401)
      // A browser can read why it was refused.
      assert.strictEqual(wrong.headers.get("access-control-allow-origin"), "http://localhost:5173")
      const bearer = yield* call(`${base}/api/v1/system/health`, { headers: { authorization: "Bearer s3cret" } })
      assert.strictEqual(bearer.status, 200)
      const header = yield* call(`${base}/api/v1/system/health`, { headers: { "x-maikit-token": "s3cret" } })
      assert.strictEqual(header.status, 200)
      const query = yield* call(`${base}/api/v1/system/health?token=s3cret`)
      assert.strictEqual(query.status, 200)
      const home = yield* call(`${base}/`)
      assert.strictEqual(home.status, 200)
      const preflight = yield* call(`${base}/api/v1/system/health`, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "GET" }
      })
      assert.isBelow(preflight.status, 300)
    }).pipe(Effect.scoped))
})

describe("MaikitServer mounted into a host's node:http server", () => {
  it.live("answers MaiKit's routes next to the host's own", () =>
    Effect.gen(function*() {
      const maikit = yield* Effect.acquireRelease(
        Effect.promise(() => MaikitServer.nodeHandler({ families: [Launcher.family] }, services())),
        (mounted) => Effect.promise(mounted.dispose)
      )
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Http.Server>((resolve) => {
            const host = Http.createServer((request, response) => {
              if (request.url === "/hello") return void response.end("host")
              maikit.handler(request, response)
            })
            host.listen(0, "127.0.0.1", () => resolve(host))
          })
        ),
        (host) => Effect.promise(() => new Promise<void>((resolve) => host.close(() => resolve())))
      )
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      assert.strictEqual((yield* call(`${base}/hello`)).body, "host")
      const health = yield* call(`${base}/api/v1/system/health`)
      assert.strictEqual(decode(LauncherApi.HealthResponse, health.body).status, "success")
      assert.strictEqual((yield* call(`${base}/api/v1/unknown`)).status, 404)
    }).pipe(Effect.scoped))
})
