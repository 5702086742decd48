/**
 * The control-plane family served on a real loopback port over a fresh database of each backend, and a small
 * JSON client for it.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { HttpServer } from "effect/http"
import { suiteServices, type BackendName, type ServiceOptions } from "../../../core/test/helpers/controlPlane.ts"
import { ControlPlane, MaikitServer } from "../../src/index.ts"

export { backendNames, type BackendName } from "../../../core/test/helpers/controlPlane.ts"

/** The server base URL, for tests sharing one server. */
export class BaseUrl extends Context.Service<BaseUrl, string>()("@maikit/http-adapter/test/BaseUrl") {}

export const serverLayer = (backend: BackendName, options: ServiceOptions & { readonly maxBodyBytes?: number } = {}) =>
  Layer.effect(
    BaseUrl,
    Effect.map(Effect.service(HttpServer.HttpServer), (server) =>
      server.address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${server.address.port}`)
  ).pipe(
    Layer.provideMerge(
      MaikitServer.layer({
        families: [ControlPlane.family],
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
        accessToken: Option.none()
      })
    ),
    Layer.provideMerge(suiteServices(backend, options))
  )

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: unknown
}

export const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let body: unknown = undefined
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    return { status: response.status, headers: response.headers, text, body }
  })

export const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  Effect.flatMap(BaseUrl, (base) =>
    request(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
    }))

/** The nine envelope fields, every one present. */
export const EnvelopeShape = Schema.Struct({
  success: Schema.Boolean,
  message: Schema.String,
  data: Schema.Unknown,
  timestamp: Schema.String,
  request_id: Schema.String,
  tenant_id: Schema.NullOr(Schema.String),
  execution_time: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  error_code: Schema.NullOr(Schema.String)
})
export type EnvelopeShape = typeof EnvelopeShape.Type

const decodeEnvelope = Schema.decodeUnknownSync(EnvelopeShape)

export const envelopeOf = (answer: Answer): EnvelopeShape => {
  const envelope = decodeEnvelope(answer.body)
  for (const key of Object.keys(EnvelopeShape.fields)) {
    if (!(key in (answer.body as object))) throw new Error(`envelope key ${key} missing in ${answer.text}`)
  }
  return envelope
}

/** The `data` of a successful envelope (HTTP 200, `success: true`), failing the test otherwise. */
export const dataOf = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(schema: S, answer: Answer): S["Type"] => {
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}: ${answer.text}`)
  const envelope = envelopeOf(answer)
  if (!envelope.success) throw new Error(`expected success: ${answer.text}`)
  return Schema.decodeUnknownSync(schema)(envelope.data)
}

/** A business error: HTTP 200, `success: false`, the code, and no data. */
export const errorCodeOf = (answer: Answer): string | null => {
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}: ${answer.text}`)
  const envelope = envelopeOf(answer)
  if (envelope.success) throw new Error(`expected a failure: ${answer.text}`)
  return envelope.error_code
}

let counter = 0
export const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`

export const Id = Schema.Struct({ id: Schema.String })
export const Created = Schema.Struct({ id: Schema.String, tenant_id: Schema.String })

/** A tenant, one agent of it and one key of the agent, through the API; yields their ids and the key. */
export const seed = (permissions: ReadonlyArray<string> = ["chat"]) =>
  Effect.gen(function*() {
    const tenant = dataOf(
      Schema.Struct({ id: Schema.String, tenant_id: Schema.String }),
      yield* call("POST", "/api/v2/tenants", { tenant_name: unique("t"), tenant_type: "personal" })
    )
    const agent = dataOf(
      Schema.Struct({ id: Schema.String, agent_id: Schema.String }),
      yield* call("POST", "/api/v2/agents", { tenant_id: tenant.id, name: unique("a") })
    )
    const key = dataOf(
      Schema.Struct({ id: Schema.String, api_key_id: Schema.String, api_key: Schema.String }),
      yield* call("POST", "/api/v2/api-keys", { tenant_id: tenant.id, agent_id: agent.id, name: unique("k"), permissions })
    )
    return { tenantId: tenant.id, agentId: agent.id, keyId: key.api_key_id, apiKey: key.api_key }
  })
