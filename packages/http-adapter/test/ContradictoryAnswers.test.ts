/**
 * Issue #11, defect 7: answers that contradict each other. All four families on one real loopback server: a
 * path parameter too long for the router is a 4xx that says so (not a 405 listing the very method used), relay
 * ids are canonical decimals only (`02`, `2e0`, `+2`, `2;drop` do not address config 2), and `/openapi.json`
 * says what the server does with unknown fields in request bodies: accepts and ignores them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { OpenApi } from "effect/http-api"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { suiteServices } from "../../core/test/helpers/controlPlane.ts"
import { supervisorLayer, tempDir } from "../../core/test/helpers/instances.ts"
import { ControlPlane, Launcher, MaikitServer, StatusRelay, StatusRelayApi } from "../src/index.ts"
import { call, services as relayServices, tempDirs } from "./helpers/relay.ts"

const fresh = tempDirs("maikit-contradictions-")

const serveAll = Effect.gen(function*() {
  const context = yield* Layer.build(
    MaikitServer.layer({
      families: [Launcher.family, Launcher.instancesFamily, ControlPlane.family, StatusRelay.family],
      host: "127.0.0.1",
      port: 0
    }).pipe(
      Layer.provide(Layer.mergeAll(
        relayServices(fresh()),
        suiteServices("sqlite"),
        supervisorLayer(tempDir("contradictions")),
        SystemMetrics.SystemMetrics.layer,
        UpdateChecker.UpdateChecker.layer({ registryUrl: undefined }),
        MaikitConfig.MaikitConfig.layerFrom({ dataDir: fresh() })
      ))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  return `http://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}`
})

const json = (url: string, method: string, body: unknown) =>
  call(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

type Document = {
  readonly paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>
  readonly components: { readonly schemas: Record<string, unknown> }
}

/** Every `additionalProperties: false` reachable from the request bodies, with where it is. */
const closedObjectsInRequests = (document: Document): Array<string> => {
  const found: Array<string> = []
  const seen = new Set<string>()
  const walk = (schema: unknown, where: string): void => {
    if (Array.isArray(schema)) return schema.forEach((item, index) => walk(item, `${where}/${index}`))
    if (typeof schema !== "object" || schema === null) return
    const record = schema as Record<string, unknown>
    const ref = record["$ref"]
    if (typeof ref === "string") {
      const name = ref.replace("#/components/schemas/", "")
      if (!seen.has(name)) {
        seen.add(name)
        walk(document.components.schemas[name], ref)
      }
    }
    if (record["additionalProperties"] === false) found.push(where)
    for (const [key, value] of Object.entries(record)) walk(value, `${where}/${key}`)
  }
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const media of Object.values(operation.requestBody?.content ?? {})) walk(media.schema, `${method} ${path}`)
    }
  }
  return found
}

describe("contradictory answers", () => {
  it.live("a path parameter longer than the router takes is a 4xx saying so, in each family's shape", () =>
    Effect.gen(function*() {
      const base = yield* serveAll
      const tenant = yield* call(`${base}/api/v2/tenants/${"t".repeat(120)}`)
      assert.strictEqual(tenant.status, 422)
      assert.isNull(tenant.headers.get("allow"))
      const envelope = tenant.json as unknown as { success: boolean; error_code: string; error: string }
      assert.isFalse(envelope.success)
      assert.strictEqual(envelope.error_code, "VALIDATION_ERROR")
      assert.include(envelope.error, "longer than 100 characters")
      // Within the router's limit, the schema names the field.
      const field = yield* call(`${base}/api/v2/tenants/${"t".repeat(60)}`)
      assert.strictEqual(field.status, 422)
      assert.include((field.json as unknown as { error: string }).error, "tenant_id")

      const instance = yield* call(`${base}/api/v1/instance/${"a".repeat(101)}/status`)
      assert.strictEqual(instance.status, 422)
      assert.strictEqual(
        (instance.json as unknown as { detail: Array<{ msg: string }> }).detail[0]?.msg,
        "a path parameter is longer than 100 characters"
      )
      const relay = yield* call(`${base}/api/mqtt/${"1".repeat(101)}`, { method: "DELETE" })
      assert.strictEqual(relay.status, 400)
      assert.deepStrictEqual(relay.json, { code: -1, message: "a path parameter is longer than 100 characters" })
      // A wrong method is still a 405.
      const wrong = yield* call(`${base}/api/v2/tenants/t1`, { method: "PATCH" })
      assert.strictEqual(wrong.status, 405)
    }).pipe(Effect.scoped))

  it.live("relay config ids are canonical decimals: 02, 2e0, +2, 2.0 and 2;drop do not address config 2", () =>
    Effect.gen(function*() {
      const base = yield* serveAll
      for (const broker of ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]) {
        assert.strictEqual((yield* json(`${base}/api/mqtt`, "POST", { broker, enabled: false })).status, 200)
      }
      assert.strictEqual((yield* call(`${base}/api/mqtt/2`)).status, 200)
      for (const id of ["02", "2e0", "+2", "2.0", "2;drop", "0x2", "2%20", "9".repeat(17)]) {
        for (const method of ["GET", "DELETE"]) {
          const answer = yield* call(`${base}/api/mqtt/${id}`, { method })
          assert.strictEqual(answer.status, 400, `${method} ${id}`)
          assert.strictEqual(answer.json.code, -1)
        }
        const update = yield* json(`${base}/api/device/config/${id}`, "PUT", { device_name: "x" })
        assert.strictEqual(update.status, 400, `PUT device ${id}`)
      }
      const semicolon = yield* call(`${base}/api/mqtt/2;drop`, { method: "DELETE" })
      assert.deepStrictEqual(semicolon.json, { code: -1, message: "a path may not contain ';'" })
      const leadingZero = yield* call(`${base}/api/mqtt/02`)
      assert.include(leadingZero.json.message, "id")
      assert.strictEqual((yield* call(`${base}/api/mqtt/2`)).status, 200, "config 2 survived every DELETE")
      assert.strictEqual((yield* call(`${base}/api/mqtt/0`)).status, 404, "0 is canonical; no config has it")
    }).pipe(Effect.scoped))

  it.live("/openapi.json says that request bodies may carry unknown fields, and the server ignores them", () =>
    Effect.gen(function*() {
      const base = yield* serveAll
      const document = (yield* call(`${base}/openapi.json`)).json as unknown as Document
      assert.property(document.paths, "/api/mqtt")
      assert.property(document.paths, "/api/v2/tenants")
      assert.property(document.paths, "/api/v1/instances/add")
      assert.deepStrictEqual(closedObjectsInRequests(document), [])
      const mqtt = document.components.schemas["MqttConfigCreate"] as { additionalProperties: unknown }
      assert.strictEqual(mqtt.additionalProperties, true)
      // One family's own document, as a host derives it without the server, says the same.
      assert.deepStrictEqual(closedObjectsInRequests(OpenApi.fromApi(StatusRelayApi.StatusRelayApi) as unknown as Document), [])

      const created = yield* json(`${base}/api/mqtt`, "POST", { broker: "tcp://127.0.0.1:3", enabled: false, colour: "red" })
      assert.strictEqual(created.status, 200)
      assert.notProperty(created.json.data as object, "colour")
      const tenant = yield* json(`${base}/api/v2/tenants`, "POST", { tenant_name: "extra", tenant_type: "personal", colour: "red" })
      assert.strictEqual(tenant.status, 200)
      assert.isTrue((tenant.json as unknown as { success: boolean }).success)
    }).pipe(Effect.scoped))
})
