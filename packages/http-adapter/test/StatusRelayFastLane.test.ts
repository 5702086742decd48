/**
 * `POST /api/event`'s fast lane: Node servers answer its happy path straight from the request and hand every
 * other request to the application. Two relays run side by side, one with the lane and one without, and
 * every request must get the same answer from both: status, body and headers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as fc from "fast-check"
import * as Http from "node:http"
import { MaikitServer, StatusRelay } from "../src/index.ts"
import { keptAliveClient } from "./helpers/keptAlive.ts"
import { call, serveRelay, services, tempDirs } from "./helpers/relay.ts"

const fresh = tempDirs("maikit-relay-lane-")

interface Sent {
  readonly path?: string
  readonly headers?: Record<string, string>
  readonly body: string
  /** Sends the body in chunks without a `content-length`. */
  readonly chunked?: boolean
  readonly untyped?: boolean
}

const request = keptAliveClient(1)

/** A `POST` (to `/api/event` unless told), typed as JSON and with its length unless told otherwise. */
const send = (base: string, sent: Sent) =>
  request(base, {
    path: sent.path ?? "/api/event",
    method: "POST",
    headers: {
      ...(sent.untyped === true ? {} : { "content-type": "application/json" }),
      ...(sent.chunked === true ? {} : { "content-length": String(Buffer.byteLength(sent.body)) }),
      ...sent.headers
    },
    body: sent.chunked === true ? Array.from({ length: Math.ceil(sent.body.length / 4) }, (_, i) => sent.body.slice(i * 4, i * 4 + 4)) : sent.body
  })

const relays = Effect.gen(function*() {
  const withLane = yield* serveRelay(fresh(), { maxBodyBytes: 1024 })
  const withoutLane = yield* serveRelay(fresh(), { maxBodyBytes: 1024, fastLane: false })
  const both = (sent: Sent) =>
    Effect.map(Effect.all([send(withLane.base, sent), send(withoutLane.base, sent)]), ([fast, slow]) => {
      assert.deepStrictEqual(fast, slow, `answers differ for ${JSON.stringify(sent).slice(0, 200)}`)
      return fast
    })
  return { withLane, withoutLane, both }
})

const statusOf = (base: string) =>
  Effect.map(call(`${base}/api/status`), (reply) => reply.json.data as { code: string; seq: number })

describe("status relay: the fast lane of POST /api/event", () => {
  it.live("answers every kind of request exactly as the application does, and records the same events", () =>
    Effect.gen(function*() {
      const { withLane, withoutLane, both } = yield* relays
      const cases: ReadonlyArray<Sent> = [
        { body: JSON.stringify({ code: "busy", timestamp: "2026-06-27T14:30:00Z" }) },
        { body: JSON.stringify({ code: "permission", session_id: "s1", agent: "claude", label: "fix", extra: 1 }) },
        { body: JSON.stringify({ code: "working" }) },
        { body: JSON.stringify({ code: "busy", timestamp: "yesterday" }) },
        { body: JSON.stringify({ code: 3 }) },
        { body: "[1, 2]" },
        { body: "null" },
        { body: "{\"code\": " },
        { body: "" },
        { body: JSON.stringify({ code: "busy", label: "x".repeat(2048) }) },
        { body: JSON.stringify({ code: "reasoning" }), chunked: true },
        { body: JSON.stringify({ code: "using_tool" }), headers: { origin: "http://localhost:5173" } },
        { body: JSON.stringify({ code: "tool_done" }), path: "/api/event?via=hook" },
        { body: JSON.stringify({ code: "init" }), path: "/api/event/" },
        { body: JSON.stringify({ code: "error" }), headers: { "content-type": "application/json; charset=utf-8" } },
        { body: JSON.stringify({ code: "idle" }), headers: { "content-type": "text/plain" } },
        { body: JSON.stringify({ code: "busy", session_id: "\u0007bell" }) },
        { body: JSON.stringify({ code: "busy", session_id: "untyped" }), untyped: true },
        { body: JSON.stringify({ code: "error" }), headers: { origin: "http://dashboard.test" } },
        { body: JSON.stringify({ code: "error" }), headers: { host: "evil.example:8045" } }
      ]
      const answers = []
      for (const sent of cases) answers.push(yield* both(sent))
      assert.deepStrictEqual(answers.map((answer) => answer.status), [
        200, 200, 400, 400, 400, 400, 400, 400, 400, 413, 200, 200, 200, 200, 200, 415, 400, 200, 403, 421
      ])
      assert.strictEqual(answers[0]?.body, "{\"code\":0,\"message\":\"ok\"}")
      assert.strictEqual(answers[0]?.headers["vary"], "Origin")
      assert.strictEqual(answers[11]?.headers["access-control-allow-origin"], "http://localhost:5173")
      // A page of another origin may not post, and a DNS-rebinding page names a host the relay is not.
      assert.strictEqual(answers[18]?.headers["access-control-allow-origin"], undefined)
      assert.deepStrictEqual(JSON.parse(answers[19]?.body ?? ""), {
        code: -1,
        message: "this server does not answer for host evil.example:8045"
      })
      assert.deepStrictEqual(JSON.parse(answers[15]?.body ?? ""), {
        code: -1,
        message: "unsupported content type text/plain: send application/json"
      })

      const [fast, slow] = yield* Effect.all([statusOf(withLane.base), statusOf(withoutLane.base)])
      assert.deepStrictEqual({ code: fast.code, seq: fast.seq }, { code: slow.code, seq: slow.seq })
      assert.strictEqual(fast.seq, 8)
    }).pipe(Effect.scoped))

  it.live("any JSON body gets the same answer with or without the lane (fast-check)", () =>
    Effect.gen(function*() {
      const { both } = yield* relays
      const codes = fc.constantFrom("idle", "busy", "reasoning", "using_tool", "tool_done", "permission", "error", "init")
      const eventLike = fc.record({
        code: fc.oneof(codes, fc.string(), fc.integer()),
        timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), fc.string()),
        session_id: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.integer()),
        label: fc.string({ maxLength: 40 })
      }, { requiredKeys: ["code"] })
      const body = fc.oneof(eventLike.map((event) => JSON.stringify(event)), fc.json(), fc.string({ maxLength: 60 }))
      yield* Effect.promise(() =>
        fc.assert(fc.asyncProperty(body, (text) => Effect.runPromise(Effect.asVoid(both({ body: text })))), { numRuns: 120 })
      )
    }).pipe(Effect.scoped))

  it.live("checks the access token as the application does", () =>
    Effect.gen(function*() {
      const { base } = yield* serveRelay(fresh(), { accessToken: "s3cret" })
      const event = JSON.stringify({ code: "busy", session_id: "t" })
      const missing = yield* send(base, { body: event })
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(JSON.parse(missing.body).code, -1)
      const wrong = yield* send(base, { body: event, headers: { authorization: "Bearer nope" } })
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual(((yield* call(`${base}/api/status?token=s3cret`)).json.data as { seq: number }).seq, 0)

      const bearer = yield* send(base, { body: event, headers: { authorization: "Bearer s3cret" } })
      assert.strictEqual(bearer.status, 200)
      const header = yield* send(base, { body: JSON.stringify({ code: "permission" }), headers: { "x-maikit-token": "s3cret" } })
      assert.strictEqual(header.status, 200)
      const status = yield* call(`${base}/api/status?token=s3cret`)
      assert.strictEqual((status.json.data as { code: string; seq: number }).code, "permission")
      assert.strictEqual((status.json.data as { seq: number }).seq, 2)
    }).pipe(Effect.scoped))

  it.live("a host's own node:http server gets the lane from makeNodeHandlers", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(services(fresh()))
      const handlers = yield* MaikitServer.makeNodeHandlers({
        families: [StatusRelay.family],
        maxBodyBytes: 1024,
        accessToken: Option.none()
      }).pipe(Effect.provideContext(context))
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Http.Server>((resolve) => {
            const host = Http.createServer(handlers.request)
            host.listen(0, "127.0.0.1", () => resolve(host))
          })
        ),
        (host) =>
          Effect.promise(() =>
            new Promise<void>((resolve) => {
              host.close(() => resolve())
              host.closeAllConnections()
            })
          )
      )
      const address = server.address()
      const base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
      const accepted = yield* send(base, { body: JSON.stringify({ code: "reasoning", session_id: "h" }) })
      assert.strictEqual(accepted.status, 200)
      const refused = yield* send(base, { body: JSON.stringify({ code: "dreaming" }) })
      assert.strictEqual(refused.status, 400)
      assert.include(JSON.parse(refused.body).message, "code")
      const status = yield* statusOf(base)
      assert.deepStrictEqual({ code: status.code, seq: status.seq }, { code: "reasoning", seq: 1 })
    }).pipe(Effect.scoped))
})
