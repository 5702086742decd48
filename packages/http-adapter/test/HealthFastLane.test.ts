/**
 * The health routes' fast lane (the launcher's `/api/v1/system/health` and `/api/v1/health`, the control plane's
 * `/health`, the relay's `/api/health`): Node servers answer a plain `GET` of them straight from the request and
 * hand every other request to the application. Two servers with all three families run side by side, one with
 * the lane and one without, and every request must get the same answer from both: status, headers and body
 * (the clock's fields and the probe's latency aside). A lane built from the families' fast routes shows which
 * requests it answers itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import * as Http from "node:http"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { suiteServices } from "../../core/test/helpers/controlPlane.ts"
import { type ApiFamily, ControlPlane, Launcher, MaikitServer, StatusRelay } from "../src/index.ts"
import * as FastLane from "../src/internal/fastLane.ts"
import { type Answer, keptAliveClient, type Request as Sent } from "./helpers/keptAlive.ts"
import { services as relayServices, tempDirs } from "./helpers/relay.ts"

const fresh = tempDirs("maikit-health-lane-")

const healthPaths = ["/api/v1/system/health", "/api/v1/health", "/health", "/api/health"] as const

const send = keptAliveClient(1)

/**
 * The answer without what differs between two servers or two moments: the time, the probe's latency and the
 * control plane's request id.
 */
const comparable = (answer: Answer) => {
  if (!(answer.headers["content-type"] ?? "").includes("application/json")) return answer
  // The time's digits vary in number, and with them the length.
  const headers = { ...answer.headers, "content-length": undefined }
  if (answer.body === "") return { ...answer, headers }
  const body = JSON.parse(answer.body) as Record<string, unknown>
  const database = body["database"] as Record<string, unknown> | undefined
  return {
    ...answer,
    headers,
    body: {
      ...body,
      ...("time" in body ? { time: typeof body["time"] } : {}),
      ...("timestamp" in body ? { timestamp: typeof body["timestamp"] } : {}),
      ...("request_id" in body ? { request_id: typeof body["request_id"] } : {}),
      ...(database === undefined ? {} : { database: { ...database, latency_ms: typeof database["latency_ms"] } })
    }
  }
}

const families = [Launcher.family, ControlPlane.family, StatusRelay.family] as const

const services = () =>
  Layer.mergeAll(
    MaikitConfig.MaikitConfig.layerFrom({ dataDir: "unused", port: 23456 }),
    SystemMetrics.SystemMetrics.layer,
    UpdateChecker.UpdateChecker.layer({ registryUrl: undefined }),
    suiteServices("sqlite"),
    relayServices(fresh())
  )

const serve = (options: { readonly fastLane: boolean; readonly accessToken?: string }) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      MaikitServer.layer({
        families,
        host: "127.0.0.1",
        port: 0,
        fastLane: options.fastLane,
        accessToken: Option.map(Option.fromUndefinedOr(options.accessToken), Redacted.make)
      }).pipe(Layer.provide(services()))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
  })

const sideBySide = (options: { readonly accessToken?: string } = {}) =>
  Effect.gen(function*() {
    const withLane = yield* serve({ ...options, fastLane: true })
    const withoutLane = yield* serve({ ...options, fastLane: false })
    return (sent: Sent) =>
      Effect.map(Effect.all([send(withLane, sent), send(withoutLane, sent)]), ([fast, slow]) => {
        assert.deepStrictEqual(comparable(fast), comparable(slow), `answers differ for ${JSON.stringify(sent)}`)
        return fast
      })
  })

describe("the health routes' fast lane", () => {
  it.live("answers every kind of request exactly as the application does", () =>
    Effect.gen(function*() {
      const both = yield* sideBySide()
      const variants: ReadonlyArray<Omit<Sent, "path"> & { readonly suffix?: string }> = [
        {},
        { headers: { origin: "http://localhost:5173" } },
        { headers: { origin: "http://dashboard.test" } },
        { headers: { "sec-fetch-site": "cross-site" } },
        { headers: { "sec-fetch-site": "same-origin" } },
        { headers: { host: "evil.example:23456" } },
        { suffix: "?probe=1" },
        { suffix: "/" },
        { method: "HEAD" },
        { headers: { "content-type": "application/json", "content-length": "2" }, body: "{}" },
        { headers: { authorization: "Bearer not-needed" } }
      ]
      for (const path of healthPaths) {
        const answers: Array<Answer> = []
        for (const { suffix, ...variant } of variants) answers.push(yield* both({ ...variant, path: `${path}${suffix ?? ""}` }))
        const [plain, allowed, foreign, crossSite, sameOrigin, rebinding] = answers
        assert.strictEqual(plain?.status, 200, path)
        assert.strictEqual(plain?.headers["vary"], "Origin", path)
        assert.strictEqual(plain?.headers["content-type"], "application/json", path)
        assert.strictEqual(allowed?.headers["access-control-allow-origin"], "http://localhost:5173", path)
        assert.strictEqual(sameOrigin?.status, 200, path)
        assert.strictEqual(rebinding?.status, 421, path)
        // The relay's reads are open to every origin; the other families' are not.
        if (path === "/api/health") {
          assert.strictEqual(foreign?.headers["access-control-allow-origin"], "*")
          assert.strictEqual(crossSite?.status, 200)
        } else {
          assert.strictEqual(foreign?.status, 403, path)
          assert.strictEqual(crossSite?.status, 403, path)
        }
      }
      const launcher = JSON.parse((yield* both({ path: "/api/v1/system/health" })).body) as Record<string, unknown>
      assert.strictEqual(launcher["status"], "success")
      assert.match(String(launcher["time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/)
      const controlPlane = JSON.parse((yield* both({ path: "/health" })).body) as Record<string, unknown>
      assert.strictEqual(controlPlane["status"], "healthy")
      assert.deepStrictEqual(controlPlane["services"], { database: "healthy", api: "healthy" })
      assert.strictEqual((yield* both({ path: "/api/health" })).body, "{\"code\":0,\"message\":\"ok\"}")
    }).pipe(Effect.scoped))

  it.live("checks the access token as the application does", () =>
    Effect.gen(function*() {
      const both = yield* sideBySide({ accessToken: "s3cret" })
      for (const path of healthPaths) {
        assert.strictEqual((yield* both({ path })).status, 401, path)
        assert.strictEqual((yield* both({ path, headers: { authorization: "Bearer nope" } })).status, 401, path)
        assert.strictEqual((yield* both({ path, headers: { authorization: "Bearer s3cret" } })).status, 200, path)
        assert.strictEqual((yield* both({ path, headers: { "x-maikit-token": "s3cret" } })).status, 200, path)
      }
    }).pipe(Effect.scoped))

  it.live("the lane answers a plain GET itself and declines every unusual one", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(services())
      const none = Effect.succeed<ReadonlyArray<ApiFamily.FastRoute>>([])
      const routes = yield* Effect.all([
        Launcher.family.fastRoutes ?? none,
        ControlPlane.family.fastRoutes ?? none,
        StatusRelay.family.fastRoutes ?? none
      ]).pipe(Effect.map((all) => all.flat()), Effect.provideContext(context))
      // The control plane's route answers only while the shared probe is fresh: the endpoint runs it first.
      const declined: Array<string> = []
      const lane = FastLane.make({
        routes,
        maxBodyBytes: 1024,
        hostAllowed: (host) => host === undefined || host.startsWith("127.0.0.1"),
        authorized: () => true,
        headers: { vary: "Origin" },
        fallback: () => undefined
      })
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Http.Server>((resolve) => {
            const host = Http.createServer((request, response) => {
              if (lane(request, response)) return
              declined.push(`${request.method} ${request.url}`)
              response.writeHead(599).end()
            })
            host.listen(0, "127.0.0.1", () => resolve(host))
          })
        ),
        (host) => Effect.promise(() => new Promise<void>((resolve) => host.close(() => resolve())))
      )
      const address = server.address()
      const base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
      const plain = yield* Effect.forEach(["/api/v1/system/health", "/api/v1/health", "/api/health"], (path) => send(base, { path }))
      assert.deepStrictEqual(plain.map((answer) => answer.status), [200, 200, 200])
      assert.deepStrictEqual(declined, [])
      // No probe has run yet in these services: the control plane's route declines, and answers after one.
      assert.strictEqual((yield* send(base, { path: "/health" })).status, 599)
      const withProbe = yield* Layer.build(
        MaikitServer.layer({ families: [ControlPlane.family], host: "127.0.0.1", port: 0, fastLane: false })
      ).pipe(Effect.provideContext(context))
      const probeServer = Context.get(withProbe, HttpServer.HttpServer).address
      const probeBase = probeServer._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${probeServer.port}`
      assert.strictEqual((yield* send(probeBase, { path: "/health" })).status, 200)
      const answered = yield* send(base, { path: "/health" })
      assert.strictEqual(answered.status, 200)
      assert.strictEqual(answered.headers["vary"], "Origin")
      declined.length = 0
      yield* send(base, { path: "/api/health", headers: { origin: "http://localhost:5173" } })
      yield* send(base, { path: "/api/health", headers: { "sec-fetch-site": "cross-site" } })
      yield* send(base, { path: "/api/health", headers: { host: "evil.example" } })
      yield* send(base, { path: "/api/health?x=1" })
      yield* send(base, { path: "/api/health", method: "HEAD" })
      yield* send(base, { path: "/api/health", headers: { "content-type": "application/json", "content-length": "2" }, body: "{}" })
      assert.deepStrictEqual(declined, [
        "GET /api/health",
        "GET /api/health",
        "GET /api/health",
        "GET /api/health?x=1",
        "HEAD /api/health",
        "GET /api/health"
      ])
    }).pipe(Effect.scoped))
})
