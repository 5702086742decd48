/**
 * Property tests: every route of the status-relay family, fed malformed JSON, wrong types, unknown codes,
 * unknown and malformed ids, oversize bodies and hostile strings, answers a 4xx `{code: -1, message}` —
 * never a 500 — and leaves the stored configs as they were. Hostile strings that are valid are stored and
 * read back verbatim.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { serveRelay, tempDirs } from "./helpers/relay.ts"

const fresh = tempDirs("maikit-relay-props-")

const limit = 8 * 1024
const runs = 40

interface Reply {
  readonly status: number
  readonly body: unknown
}

const request = async (base: string, method: string, path: string, body?: string): Promise<Reply> => {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } })
  })
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: response.status, body: parsed }
}

const isRelayError = (reply: Reply) =>
  reply.status >= 400 && reply.status < 500 && typeof reply.body === "object" && reply.body !== null &&
  (reply.body as { code?: unknown }).code === -1 && typeof (reply.body as { message?: unknown }).message === "string" &&
  ((reply.body as { message: string }).message).length > 0

const expectRejected = (reply: Reply, what: string) => {
  if (!isRelayError(reply)) throw new Error(`${what}: expected a 4xx {code: -1, message}, got ${reply.status} ${JSON.stringify(reply.body)}`)
}

/** The fields of each writable route and the type each must have. */
type FieldType = "string" | "boolean" | "int"
const bodies: ReadonlyArray<{ readonly method: string; readonly path: string; readonly valid: Record<string, unknown>; readonly fields: Record<string, FieldType> }> = [
  { method: "POST", path: "/api/event", valid: { code: "busy" }, fields: { code: "string", timestamp: "string", session_id: "string", agent: "string", label: "string" } },
  {
    method: "POST",
    path: "/api/mqtt",
    valid: { broker: "tcp://127.0.0.1:1" },
    fields: { broker: "string", client_id: "string", username: "string", password: "string", topic: "string", enabled: "boolean" }
  },
  {
    method: "PUT",
    path: "/api/mqtt/1",
    valid: {},
    fields: { broker: "string", client_id: "string", username: "string", password: "string", topic: "string", enabled: "boolean" }
  },
  {
    method: "POST",
    path: "/api/ble",
    valid: { device_name: "L", service_uuid: "ffe0", char_uuid: "ffe1" },
    fields: { device_name: "string", service_uuid: "string", char_uuid: "string", enabled: "boolean" }
  },
  { method: "PUT", path: "/api/ble/1", valid: {}, fields: { device_name: "string", service_uuid: "string", char_uuid: "string", enabled: "boolean" } },
  ...["POST /api/device/config", "PUT /api/device/config/1"].map((route) => {
    const [method = "", path = ""] = route.split(" ")
    return {
      method,
      path,
      valid: method === "POST" ? { device_name: "AI-Light" } : {},
      fields: {
        device_name: "string",
        config_topic: "string",
        wifi_ssid: "string",
        wifi_pass: "string",
        mqtt_broker: "string",
        mqtt_port: "int",
        mqtt_user: "string",
        mqtt_pass: "string",
        mqtt_client: "string",
        mqtt_topic: "string",
        mqtt_status: "string",
        pin_red: "int",
        pin_green: "int",
        pin_yellow: "int",
        enabled: "boolean"
      } satisfies Record<string, FieldType>
    }
  }),
  { method: "POST", path: "/api/device/config/push", valid: { id: 1 }, fields: { id: "int", reset: "boolean", mqtt_id: "int" } },
  {
    method: "POST",
    path: "/api/hook/claude",
    valid: {},
    fields: { hook_event_name: "string", session_id: "string", cwd: "string", tool_name: "string", notification_type: "string" }
  }
]

const json = fc.jsonValue()
const wrongFor: Record<FieldType, fc.Arbitrary<unknown>> = {
  string: fc.oneof(fc.integer(), fc.boolean(), fc.array(json, { maxLength: 3 }), fc.dictionary(fc.string(), json, { maxKeys: 3 })),
  boolean: fc.oneof(fc.string(), fc.integer(), fc.array(fc.boolean(), { maxLength: 2 })),
  // Finite: JSON writes NaN and the infinities as `null`, which is no wrong type for an optional field.
  int: fc.oneof(fc.string(), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(1e300))
}

const malformedJson = fc.oneof(
  fc.string().filter((text) => {
    try {
      JSON.parse(text)
      return false
    } catch {
      return text.trim() !== ""
    }
  }),
  fc.jsonValue().map((value) => JSON.stringify({ value })).map((text) => text.slice(0, Math.max(1, text.length - 1)))
)

/** Strings an attacker would try: control characters, injections, traversal, markup, huge unicode. */
const hostile = fc.oneof(
  fc.constantFrom(
    "'; DROP TABLE relay_mqtt_configs; --",
    "__proto__",
    "constructor",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "${process.exit()}",
    "%s%s%s%n",
    "\u202e\u0000",
    "😀".repeat(40),
    "a\u0000b",
    "line\nbreak",
    "tab\there"
  ),
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.string({ unit: "grapheme", maxLength: 64 })
)

const storedState = (base: string) =>
  Promise.all(["/api/mqtt", "/api/ble", "/api/device/config"].map((path) => request(base, "GET", path))).then((replies) =>
    JSON.stringify(replies.map((reply) => reply.body))
  )

const seed = async (base: string) => {
  await request(base, "POST", "/api/mqtt", JSON.stringify({ broker: "tcp://127.0.0.1:9", password: "pw", enabled: false }))
  await request(base, "POST", "/api/ble", JSON.stringify({ device_name: "AI-Light", service_uuid: "ffe0", char_uuid: "ffe1" }))
  await request(base, "POST", "/api/device/config", JSON.stringify({ device_name: "AI-Light", wifi_pass: "password1" }))
}

const relay = Effect.gen(function*() {
  const { base } = yield* serveRelay(fresh(), { maxBodyBytes: limit })
  yield* Effect.promise(() => seed(base))
  return { base, before: yield* Effect.promise(() => storedState(base)) }
})

describe("status relay bad input (fast-check)", () => {
  it.live("malformed JSON on every route: 400 {code: -1}", () =>
    Effect.gen(function*() {
      const { base, before } = yield* relay
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...bodies), malformedJson, async (route, text) => {
            const reply = await request(base, route.method, route.path, text)
            expectRejected(reply, `${route.method} ${route.path} ${JSON.stringify(text)}`)
            assert.strictEqual(reply.status, 400)
          }),
          { numRuns: runs }
        )
      )
      assert.strictEqual(yield* Effect.promise(() => storedState(base)), before)
    }).pipe(Effect.scoped))

  it.live("a field of the wrong type, or an unknown status code: 400 naming the field", () =>
    Effect.gen(function*() {
      const { base, before } = yield* relay
      const wrongField = fc.constantFrom(...bodies).chain((route) =>
        fc.constantFrom(...Object.entries(route.fields)).chain(([field, type]) =>
          wrongFor[type].map((value) => ({ route, field, body: { ...route.valid, [field]: value } }))
        )
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(wrongField, async ({ route, field, body }) => {
            const reply = await request(base, route.method, route.path, JSON.stringify(body))
            expectRejected(reply, `${route.method} ${route.path} ${JSON.stringify(body)}`)
            assert.strictEqual(reply.status, 400)
            assert.include((reply.body as { message: string }).message, field)
          }),
          { numRuns: runs * 2 }
        )
      )
      const unknownCode = fc.string().filter((code) =>
        !["idle", "busy", "reasoning", "using_tool", "tool_done", "permission", "error", "init"].includes(code)
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(unknownCode, async (code) => {
            const reply = await request(base, "POST", "/api/event", JSON.stringify({ code }))
            expectRejected(reply, `code ${JSON.stringify(code)}`)
          }),
          { numRuns: runs }
        )
      )
      assert.strictEqual(yield* Effect.promise(() => storedState(base)), before)
    }).pipe(Effect.scoped))

  it.live("unknown ids are 404 and malformed ids 400, on every route with an id", () =>
    Effect.gen(function*() {
      const { base, before } = yield* relay
      const collections = ["/api/mqtt", "/api/ble", "/api/device/config"]
      const methods = ["GET", "PUT", "DELETE"]
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...collections),
            fc.constantFrom(...methods),
            fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER }),
            async (collection, method, id) => {
              const reply = await request(base, method, `${collection}/${id}`, method === "PUT" ? "{}" : undefined)
              expectRejected(reply, `${method} ${collection}/${id}`)
              assert.strictEqual(reply.status, 404)
            }
          ),
          { numRuns: runs }
        )
      )
      const malformedId = fc.string({ minLength: 1, maxLength: 30 }).filter((id) =>
        id.trim() !== "" && !Number.isFinite(Number(id)) && !/^[./\\?#%]+$/.test(id) && id !== "push"
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...collections), fc.constantFrom(...methods), malformedId, async (collection, method, id) => {
            const reply = await request(base, method, `${collection}/${encodeURIComponent(id)}`, method === "PUT" ? "{}" : undefined)
            expectRejected(reply, `${method} ${collection}/${JSON.stringify(id)}`)
          }),
          { numRuns: runs }
        )
      )
      const push = await404(base)
      yield* Effect.promise(() => push)
      assert.strictEqual(yield* Effect.promise(() => storedState(base)), before)
    }).pipe(Effect.scoped))

  it.live("bodies over the limit are 413 on every route", () =>
    Effect.gen(function*() {
      const { base, before } = yield* relay
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...bodies), fc.integer({ min: limit + 1, max: limit * 8 }), async (route, size) => {
            const body = JSON.stringify({ ...route.valid, label: "x".repeat(size) })
            const reply = await request(base, route.method, route.path, body)
            expectRejected(reply, `${route.method} ${route.path} with ${size} bytes`)
            assert.strictEqual(reply.status, 413)
          }),
          { numRuns: 20 }
        )
      )
      assert.strictEqual(yield* Effect.promise(() => storedState(base)), before)
    }).pipe(Effect.scoped))

  it.live("hostile strings never get a 500: rejected as {code: -1} or stored and read back verbatim", () =>
    Effect.gen(function*() {
      const { base, before } = yield* relay
      const fields = fc.constantFrom(
        { path: "/api/mqtt", base: { broker: "tcp://127.0.0.1:9", enabled: false }, field: "topic" },
        { path: "/api/mqtt", base: { broker: "tcp://127.0.0.1:9", enabled: false }, field: "client_id" },
        { path: "/api/mqtt", base: { enabled: false }, field: "broker" },
        { path: "/api/ble", base: { service_uuid: "ffe0", char_uuid: "ffe1", enabled: false }, field: "device_name" },
        { path: "/api/ble", base: { device_name: "x", char_uuid: "ffe1", enabled: false }, field: "service_uuid" },
        { path: "/api/device/config", base: { device_name: "x" }, field: "wifi_ssid" },
        { path: "/api/device/config", base: { device_name: "x" }, field: "mqtt_broker" },
        { path: "/api/device/config", base: {}, field: "device_name" }
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fields, hostile, async (target, value) => {
            const reply = await request(base, "POST", target.path, JSON.stringify({ ...target.base, [target.field]: value }))
            if (reply.status === 200) {
              const created = (reply.body as { data: Record<string, unknown> & { id: number } }).data
              assert.strictEqual(created[target.field], value)
              const read = await request(base, "GET", `${target.path}/${created.id}`)
              assert.strictEqual((read.body as { data: Record<string, unknown> }).data[target.field], value)
              const removed = await request(base, "DELETE", `${target.path}/${created.id}`)
              assert.strictEqual(removed.status, 200)
            } else {
              expectRejected(reply, `${target.path} ${target.field}=${JSON.stringify(value)}`)
            }
          }),
          { numRuns: runs * 2 }
        )
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(hostile, hostile, async (session, label) => {
            const reply = await request(base, "POST", "/api/event", JSON.stringify({ code: "busy", session_id: session, label }))
            if (reply.status !== 200) expectRejected(reply, `event ${JSON.stringify({ session, label })}`)
          }),
          { numRuns: runs }
        )
      )
      assert.strictEqual(yield* Effect.promise(() => storedState(base)), before)
      const status = yield* Effect.promise(() => request(base, "GET", "/api/status"))
      assert.strictEqual(status.status, 200)
    }).pipe(Effect.scoped))
})

/** Pushing an unknown device, through an unknown link. */
const await404 = async (base: string) => {
  const unknownDevice = await request(base, "POST", "/api/device/config/push", JSON.stringify({ id: 424242 }))
  expectRejected(unknownDevice, "push of an unknown device")
  assert.strictEqual(unknownDevice.status, 404)
  const unknownLink = await request(base, "POST", "/api/device/config/push", JSON.stringify({ id: 1, mqtt_id: 77 }))
  expectRejected(unknownLink, "push through an unknown link")
  assert.strictEqual(unknownLink.status, 404)
  // JSON null stands for "absent" in an optional field, but a required one must be there.
  const nullCode = await request(base, "POST", "/api/event", JSON.stringify({ code: null }))
  expectRejected(nullCode, "a null code")
}
