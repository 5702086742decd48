/**
 * The control plane's hot routes on the fast lane (`POST /api/v2/auth/parse-api-key` and
 * `POST /api/v2/auth/validate-api-key`): two servers on one SQLite file, one with the lane and one without,
 * must give every request the same answer (status, headers, and the envelope but its request id, time and
 * duration). Then the guarantees the lane must keep: every successful validation counts exactly one use, under
 * 200 concurrent requests, and a key revoked on another connection fails its very next check.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { HttpServer } from "effect/http"
import { ControlPlaneDatabase } from "@maikit/core/control-plane"
import { reopenableDatabase } from "../../core/test/helpers/controlPlane.ts"
import { ControlPlane, MaikitServer } from "../src/index.ts"
import { type Answer, keptAliveClient } from "./helpers/keptAlive.ts"

const request = keptAliveClient(8)

const post = (base: string, path: string, body: string, headers: Record<string, string> = {}) =>
  request(base, {
    path,
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers },
    body
  })

const dataOf = (answer: Answer) => (JSON.parse(answer.body) as { data: Record<string, unknown> }).data

/** The answer without what differs from request to request: the envelope's request id, time and duration. */
const comparable = (answer: Answer) => {
  let body: unknown = answer.body
  try {
    const parsed = JSON.parse(answer.body) as Record<string, unknown>
    body = { ...parsed, request_id: typeof parsed["request_id"], timestamp: typeof parsed["timestamp"], execution_time: typeof parsed["execution_time"] }
  } catch {
    body = answer.body
  }
  return { ...answer, headers: { ...answer.headers, "content-length": undefined }, body }
}

const servers = Effect.gen(function*() {
  const open = yield* reopenableDatabase("sqlite")
  const serve = (fastLane: boolean) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        MaikitServer.layer({ families: [ControlPlane.family], host: "127.0.0.1", port: 0, fastLane, accessToken: Option.none() })
          .pipe(Layer.provide(ControlPlaneDatabase.layerServices(open(), { catalog: {} })))
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      return address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
    })
  const withLane = yield* serve(true)
  const withoutLane = yield* serve(false)
  const tenant = dataOf(yield* post(withoutLane, "/api/v2/tenants", JSON.stringify({ tenant_name: "lane", tenant_type: "enterprise" })))
  const member = dataOf(yield* post(withoutLane, "/api/v2/agents", JSON.stringify({ tenant_id: tenant["id"], name: "bot" })))
  let made = 0
  const createKey = (permissions: ReadonlyArray<string>) =>
    Effect.map(
      post(withoutLane, "/api/v2/api-keys", JSON.stringify({ tenant_id: tenant["id"], agent_id: member["id"], name: `k${++made}`, permissions })),
      (answer) => {
        const data = dataOf(answer)
        return { key: String(data["api_key"]), id: String(data["api_key_id"]) }
      }
    )
  // Read where the uses were counted: a server adds the uses it holds in memory to what is written.
  const usageOf = (id: string) =>
    Effect.promise(async () => {
      const response = await fetch(`${withLane}/api/v2/api-keys/${id}`)
      return ((await response.json()) as { data: { usage_count: number } }).data.usage_count
    })
  return { withLane, withoutLane, createKey, usageOf }
})

describe("control plane: the fast lane of parse-api-key and validate-api-key", () => {
  it.live("answers every kind of request exactly as the application does", () =>
    Effect.gen(function*() {
      const { withLane, withoutLane, createKey } = yield* servers
      const { key } = yield* createKey(["chat"])
      const both = (path: string, body: string, headers: Record<string, string> = {}) =>
        Effect.map(Effect.all([post(withLane, path, body, headers), post(withoutLane, path, body, headers)]), ([fast, slow]) => {
          assert.deepStrictEqual(comparable(fast), comparable(slow), `answers differ for ${path} ${body} ${JSON.stringify(headers)}`)
          return fast
        })
      const unknownKey = `mmc_${Buffer.from("tenant_nobody_agent_nobody_abc_v1").toString("base64")}`
      const validate = "/api/v2/auth/validate-api-key"
      const parse = "/api/v2/auth/parse-api-key"
      const cases: ReadonlyArray<readonly [string, unknown, Record<string, string>?]> = [
        [validate, { api_key: key, required_permission: "chat", check_rate_limit: true }],
        [validate, { api_key: key }],
        [validate, { api_key: key, required_permission: null, check_rate_limit: false }],
        [validate, { api_key: key, required_permission: "admin" }],
        [validate, { api_key: unknownKey, required_permission: "chat" }],
        [validate, { api_key: "not-a-key" }],
        [validate, { api_key: 42 }],
        [validate, { required_permission: "chat" }],
        [validate, { api_key: key, check_rate_limit: "yes" }],
        [validate, { api_key: key, extra: [1, 2] }],
        [validate, { api_key: key }, { origin: "http://localhost:5173" }],
        [validate, { api_key: key }, { origin: "http://evil.example" }],
        [validate, { api_key: key }, { host: "evil.example" }],
        [`${validate}?trace=1`, { api_key: key }],
        [parse, { api_key: key }],
        [parse, { api_key: unknownKey }],
        [parse, { api_key: "mmc_!!!" }],
        [parse, { api_key: "" }],
        [parse, { key }],
        [parse, [key]],
        [parse, { api_key: key }, { origin: "http://localhost:5173" }]
      ]
      const answers: Array<Answer> = []
      for (const [path, body, headers] of cases) answers.push(yield* both(path, JSON.stringify(body), headers))
      answers.push(yield* both(validate, "{\"api_key\": "))
      answers.push(yield* both(validate, JSON.stringify({ api_key: key }), { "content-type": "text/plain" }))
      const codes = answers.map((answer) => answer.status === 200 ? (JSON.parse(answer.body) as { error_code: string | null }).error_code : answer.status)
      assert.deepStrictEqual(codes, [
        null, null, null, "AUTH_003", "AUTH_005", "AUTH_001", 422, 422, 422, null, null, 403, 421, null,
        null, null, "AUTH_001", "AUTH_001", 422, 422, null,
        422, 415
      ])
      const valid = dataOf(answers[0] ?? { status: 0, headers: {}, body: "{}" })
      assert.strictEqual(valid["valid"], true)
      assert.deepStrictEqual(valid["permissions"], ["chat"])
      assert.strictEqual(answers[0]?.headers["vary"], "Origin")
    }).pipe(Effect.scoped))

  it.live("counts exactly one use per successful validation under 200 concurrent requests, none without check_rate_limit", () =>
    Effect.gen(function*() {
      const { withLane, createKey, usageOf } = yield* servers
      const { key, id } = yield* createKey(["chat"])
      const counted = JSON.stringify({ api_key: key, required_permission: "chat", check_rate_limit: true })
      const answers = yield* Effect.forEach(
        Array.from({ length: 200 }, () => counted),
        (body) => post(withLane, "/api/v2/auth/validate-api-key", body),
        { concurrency: 200 }
      )
      assert.isTrue(answers.every((answer) => answer.status === 200 && dataOf(answer)["valid"] === true))
      assert.strictEqual(yield* usageOf(id), 200)
      yield* post(withLane, "/api/v2/auth/validate-api-key", JSON.stringify({ api_key: key, check_rate_limit: false }))
      yield* post(withLane, "/api/v2/auth/validate-api-key", JSON.stringify({ api_key: key, required_permission: "admin" }))
      assert.strictEqual(yield* usageOf(id), 200)
    }).pipe(Effect.scoped))

  it.live("a key disabled or deleted through the other server fails its next check on the lane", () =>
    Effect.gen(function*() {
      const { withLane, withoutLane, createKey } = yield* servers
      const first = yield* createKey(["chat"])
      const second = yield* createKey(["chat"])
      const check = (key: string) =>
        Effect.map(
          post(withLane, "/api/v2/auth/validate-api-key", JSON.stringify({ api_key: key, required_permission: "chat" })),
          (answer) => JSON.parse(answer.body) as { success: boolean; error_code: string | null }
        )
      assert.isTrue((yield* check(first.key)).success)
      assert.isTrue((yield* check(second.key)).success)
      yield* post(withoutLane, `/api/v2/api-keys/${first.id}/disable`, "{}")
      const disabled = yield* check(first.key)
      assert.isFalse(disabled.success)
      assert.strictEqual(disabled.error_code, "AUTH_004")
      yield* Effect.promise(() => fetch(`${withoutLane}/api/v2/api-keys/${second.id}`, { method: "DELETE" }))
      assert.strictEqual((yield* check(second.key)).error_code, "AUTH_005")
    }).pipe(Effect.scoped))
})
