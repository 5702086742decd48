import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpServer } from "effect/http"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ControlPlaneDatabase } from "@maikit/core/control-plane"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { dropDatabase, freshDatabase, TestPostgres } from "../../core/test/helpers/postgres.ts"
import { tempDir } from "../../core/test/helpers/controlPlane.ts"
import { ControlPlane, Launcher, MaikitServer } from "../src/index.ts"
import {
  BaseUrl,
  backendNames,
  call,
  dataOf,
  envelopeOf,
  errorCodeOf,
  request,
  seed,
  serverLayer,
  unique
} from "./helpers/controlPlane.ts"

const Tenant = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  tenant_name: Schema.String,
  tenant_type: Schema.String,
  description: Schema.NullOr(Schema.String),
  contact_email: Schema.NullOr(Schema.String),
  tenant_config: Schema.NullOr(Schema.Unknown),
  status: Schema.String,
  owner_id: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String
})

const Agent = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  tenant_id: Schema.String,
  name: Schema.String,
  status: Schema.String,
  tags: Schema.NullOr(Schema.Array(Schema.Unknown)),
  config: Schema.Struct({
    persona: Schema.Struct({ personality: Schema.String }),
    bot_overrides: Schema.Struct({ nickname: Schema.String }),
    config_overrides: Schema.Record(Schema.String, Schema.Unknown)
  })
})

const Key = Schema.Struct({
  id: Schema.String,
  api_key_id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  api_key: Schema.String,
  permissions: Schema.Array(Schema.String),
  status: Schema.String,
  usage_count: Schema.Number,
  last_used_at: Schema.NullOr(Schema.String)
})

const Issue = Schema.Struct({ loc: Schema.Array(Schema.Union([Schema.String, Schema.Number])), msg: Schema.String })
const Invalid = Schema.Struct({ error_code: Schema.String, error: Schema.String, detail: Schema.Array(Issue) })

const invalid = (answer: { readonly status: number; readonly body: unknown }) => {
  assert.strictEqual(answer.status, 422, JSON.stringify(answer.body))
  return Schema.decodeUnknownSync(Invalid)(answer.body)
}

for (const backend of backendNames) {
  layer(serverLayer(backend), { excludeTestServices: true })(`control-plane family on ${backend}`, (test) => {
    test.effect("runs the original's test_api.py flow: health, tenant, agent, key, parse, validate", () =>
      Effect.gen(function*() {
        const health = yield* call("GET", "/health")
        assert.strictEqual(health.status, 200)
        assert.deepInclude(health.body as object, { status: "healthy", version: "1.0.0" })
        assert.deepStrictEqual((health.body as { services: unknown }).services, { database: "healthy", api: "healthy" })

        const tenantAnswer = yield* call("POST", "/api/v2/tenants", {
          tenant_name: unique("测试公司"),
          tenant_type: "enterprise",
          description: "测试租户",
          contact_email: "test@example.com",
          tenant_config: { timezone: "Asia/Shanghai", language: "zh-CN" }
        })
        const tenant = dataOf(Tenant, tenantAnswer)
        assert.strictEqual(tenant.tenant_id, tenant.id)
        assert.match(tenant.id, /^tenant_[0-9a-f]{12}$/)
        const envelope = envelopeOf(tenantAnswer)
        assert.match(envelope.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        assert.match(envelope.request_id, /^[0-9a-f-]{36}$/)
        assert.isNumber(envelope.execution_time)
        assert.isNull(envelope.error_code)

        const agent = dataOf(Agent, yield* call("POST", "/api/v2/agents", {
          tenant_id: tenant.tenant_id,
          name: "测试助手",
          description: "一个测试用的AI助手",
          config: { persona: "友好的测试助手", bot_overrides: { nickname: "小助", platform: "test" }, tags: ["测试", "助手"] }
        }))
        assert.strictEqual(agent.agent_id, agent.id)
        assert.strictEqual(agent.config.persona.personality, "友好的测试助手")
        assert.strictEqual(agent.config.bot_overrides.nickname, "小助")

        const keyAnswer = yield* call("POST", "/api/v2/api-keys", {
          tenant_id: tenant.tenant_id,
          agent_id: agent.agent_id,
          name: "测试密钥",
          description: "用于测试的API密钥",
          permissions: ["chat"]
        })
        const key = dataOf(Key, keyAnswer)
        assert.strictEqual(envelopeOf(keyAnswer).tenant_id, tenant.id)
        assert.lengthOf(key.api_key, 84)
        assert.include((keyAnswer.body as { data: { warning: string } }).data.warning, "once")

        const parsed = dataOf(
          Schema.Struct({ tenant_id: Schema.String, agent_id: Schema.String, format_valid: Schema.Boolean }),
          yield* call("POST", "/api/v2/auth/parse-api-key", { api_key: key.api_key })
        )
        assert.deepStrictEqual(parsed, { tenant_id: tenant.id, agent_id: agent.id, format_valid: true })
        const valid = yield* call("POST", "/api/v2/auth/validate-api-key", {
          api_key: key.api_key,
          required_permission: "chat",
          check_rate_limit: true
        })
        assert.deepInclude(dataOf(Schema.Record(Schema.String, Schema.Unknown), valid), {
          valid: true,
          has_permission: true,
          api_key_id: key.api_key_id
        })
        assert.strictEqual(envelopeOf(valid).tenant_id, tenant.id)
      }))

    test.effect("runs maim_db's integration flow: data.id, nulls accepted, deletes answer 200", () =>
      Effect.gen(function*() {
        const tenant = dataOf(Tenant, yield* call("POST", "/api/v2/tenants", {
          tenant_name: unique("it"),
          tenant_type: "personal",
          description: "integration",
          contact_email: null,
          tenant_config: {}
        }))
        const agent = dataOf(Agent, yield* call("POST", "/api/v2/agents", {
          tenant_id: tenant.id,
          name: unique("bot"),
          description: "integration bot",
          template_id: null,
          config: { persona: "integration_test_bot", custom_setting: "value" }
        }))
        const config = dataOf(
          Schema.Record(Schema.String, Schema.Unknown),
          yield* call("GET", `/api/v2/agents/${agent.id}/config`)
        )
        assert.strictEqual(config["custom_setting"], "value")
        const key = dataOf(Key, yield* call("POST", "/api/v2/api-keys", {
          tenant_id: tenant.id,
          agent_id: agent.id,
          name: unique("key"),
          description: "integration key",
          permissions: [],
          expires_at: null
        }))
        for (const path of [`/api/v2/api-keys/${key.api_key_id}`, `/api/v2/agents/${agent.id}`, `/api/v2/tenants/${tenant.id}`]) {
          const deleted = yield* call("DELETE", path)
          assert.strictEqual(deleted.status, 200)
          assert.isTrue(envelopeOf(deleted).success, path)
        }
        assert.strictEqual(errorCodeOf(yield* call("GET", `/api/v2/tenants/${tenant.id}`)), "TENANT_003")
      }))

    test.effect("answers business errors with HTTP 200, success false and the original's codes", () =>
      Effect.gen(function*() {
        const { tenantId, agentId, keyId, apiKey } = yield* seed(["chat"])
        const name = unique("dup")
        yield* call("POST", "/api/v2/tenants", { tenant_name: name, tenant_type: "personal" })
        const expectations: ReadonlyArray<readonly [string, string, string, unknown?]> = [
          ["TENANT_002", "POST", "/api/v2/tenants", { tenant_name: name, tenant_type: "personal" }],
          ["TENANT_003", "GET", "/api/v2/tenants/tenant_000000000000"],
          ["TENANT_003", "PUT", "/api/v2/tenants/nope", { description: "x" }],
          ["TENANT_003", "DELETE", "/api/v2/tenants/nope"],
          ["AGENT_001", "POST", "/api/v2/agents", { tenant_id: "tenant_000000000000", name: "x" }],
          ["AGENT_001", "GET", "/api/v2/agents?tenant_id=tenant_000000000000"],
          ["AGENT_004", "GET", "/api/v2/agents/agent_000000000000"],
          ["AGENT_004", "GET", "/api/v2/agents/agent_000000000000/config"],
          [
            "AGENT_011",
            "PUT",
            `/api/v2/agents/${agentId}/config`,
            { config_overrides: { model: { models: [{ name: "m", api_provider: "OpenAI" }] } } }
          ],
          ["TENANT_001", "POST", "/api/v2/api-keys", { tenant_id: "tenant_000000000000", agent_id: agentId, name: "k" }],
          ["AGENT_001", "POST", "/api/v2/api-keys", { tenant_id: tenantId, agent_id: "agent_000000000000", name: "k" }],
          ["KEY_001", "GET", "/api/v2/api-keys/key_000000000000"],
          ["KEY_001", "POST", "/api/v2/api-keys/key_000000000000/disable"],
          ["AUTH_001", "POST", "/api/v2/auth/parse-api-key", { api_key: "sk-not-ours" }],
          ["AUTH_001", "POST", "/api/v2/auth/validate-api-key", { api_key: "mmc_%%%" }],
          ["AUTH_005", "POST", "/api/v2/auth/validate-api-key", { api_key: `mmc_${Buffer.from("tenant_a_agent_b_c_v1").toString("base64")}` }],
          ["AUTH_003", "POST", "/api/v2/auth/validate-api-key", { api_key: apiKey, required_permission: "admin" }],
          ["ACTIVITY_002", "PUT", "/api/v2/agent-activity", { tenant_id: tenantId, agent_id: "agent_000000000000", ttl_seconds: 5 }],
          ["SYSTEM_002", "GET", "/api/v2/system/bot-defaults"]
        ]
        for (const [code, method, path, body] of expectations) {
          assert.strictEqual(errorCodeOf(yield* call(method, path, body)), code, `${method} ${path}`)
        }
        const denied = envelopeOf(yield* call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey, required_permission: "admin" }))
        assert.deepInclude(denied.data as object, { valid: false, has_permission: false, api_key_id: keyId })

        const disabled = yield* call("POST", `/api/v2/api-keys/${keyId}/disable`)
        assert.strictEqual(dataOf(Key, disabled).status, "disabled")
        assert.strictEqual(errorCodeOf(yield* call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey })), "AUTH_004")
        const check = envelopeOf(yield* call("POST", "/api/v2/auth/check-permission", { api_key: apiKey, permission: "chat" }))
        assert.strictEqual(check.error_code, "AUTH_004")
        assert.strictEqual(check.message, "API密钥不可用")
        yield* call("PUT", `/api/v2/api-keys/${keyId}`, { expires_at: "2000-01-01T00:00:00", status: "active" })
        assert.strictEqual(errorCodeOf(yield* call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey })), "AUTH_002")
      }))

    test.effect("rejects bad input with 422 naming the field, in the envelope and FastAPI's detail", () =>
      Effect.gen(function*() {
        const missing = invalid(yield* call("POST", "/api/v2/tenants", { tenant_type: "personal" }))
        assert.deepStrictEqual(missing.detail[0]?.loc, ["body", "tenant_name"])
        assert.strictEqual(missing.error_code, "VALIDATION_ERROR")
        assert.include(missing.error, "tenant_name")
        const badEnum = invalid(yield* call("POST", "/api/v2/tenants", { tenant_name: "x", tenant_type: "team" }))
        assert.deepStrictEqual(badEnum.detail[0]?.loc, ["body", "tenant_type"])
        const tooLong = invalid(yield* call("POST", "/api/v2/tenants", { tenant_name: "x".repeat(101), tenant_type: "personal" }))
        assert.deepStrictEqual(tooLong.detail[0]?.loc, ["body", "tenant_name"])
        const malformed = invalid(yield* call("POST", "/api/v2/tenants", "{\"tenant_name\": "))
        assert.strictEqual(malformed.detail[0]?.loc[0], "body")
        const text = yield* call("POST", "/api/v2/tenants", "tenant_name=x", { "content-type": "text/plain" })
        assert.strictEqual(text.status, 415)
        assert.strictEqual(envelopeOf(text).error_code, "UNSUPPORTED_MEDIA_TYPE")
        const page = invalid(yield* call("GET", "/api/v2/tenants?page=0"))
        assert.deepStrictEqual(page.detail[0]?.loc, ["query", "page"])
        const hugePage = invalid(yield* call("GET", "/api/v2/tenants?page=9007199254740991&size=100"))
        assert.deepStrictEqual(hugePage.detail[0]?.loc, ["query", "page"])
        const nulKey = invalid(yield* call("POST", "/api/v2/api-keys/import", { api_key: "mmc_\u0000dGVu", name: "x" }))
        assert.deepStrictEqual(nulKey.detail[0]?.loc, ["body", "api_key"])
        const agentsWithoutTenant = invalid(yield* call("GET", "/api/v2/agents"))
        assert.deepStrictEqual(agentsWithoutTenant.detail[0]?.loc, ["query", "tenant_id"])
        const ttl = invalid(yield* call("PUT", "/api/v2/agent-activity", { tenant_id: "t", agent_id: "a", ttl_seconds: 0 }))
        assert.deepStrictEqual(ttl.detail[0]?.loc, ["body", "ttl_seconds"])
        const config = invalid(yield* call("PUT", "/api/v2/agents/agent_000000000000/config", {
          config_overrides: { chat: { max_context_size: "lots" } }
        }))
        assert.deepStrictEqual(config.detail[0]?.loc, ["body", "config_overrides", "chat", "max_context_size"])
        const nul = invalid(yield* call("POST", "/api/v2/tenants", { tenant_name: "a\u0000b", tenant_type: "personal" }))
        assert.include(nul.detail[0]?.msg ?? "", "NUL")
      }))

    test.effect("answers unknown routes 404 and wrong methods 405 with the envelope", () =>
      Effect.gen(function*() {
        const missing = yield* call("GET", "/api/v2/nothing-here")
        assert.strictEqual(missing.status, 404)
        assert.deepInclude(missing.body as object, { success: false, error_code: "NOT_FOUND", detail: "Not Found" })
        const wrong = yield* call("PATCH", "/api/v2/tenants")
        assert.strictEqual(wrong.status, 405)
        assert.include(wrong.headers.get("allow") ?? "", "POST")
      }))

    test.effect("pages tenants, agents and keys; reads show keys masked", () =>
      Effect.gen(function*() {
        const { tenantId, agentId, apiKey } = yield* seed()
        yield* call("POST", "/api/v2/api-keys", { tenant_id: tenantId, agent_id: agentId, name: unique("k2") })
        const tenants = dataOf(
          Schema.Struct({ items: Schema.Array(Tenant), total: Schema.Int, page: Schema.Int, size: Schema.Int, pages: Schema.Int }),
          yield* call("GET", "/api/v2/tenants?page=1&size=1")
        )
        assert.lengthOf(tenants.items, 1)
        assert.strictEqual(tenants.pages, tenants.total)
        const agents = dataOf(
          Schema.Struct({ items: Schema.Array(Agent), total: Schema.Int }),
          yield* call("GET", `/api/v2/agents?tenant_id=${tenantId}&status=active`)
        )
        assert.strictEqual(agents.total, 1)
        const keys = dataOf(
          Schema.Struct({
            items: Schema.Array(Key),
            pagination: Schema.Struct({ total: Schema.Int, total_pages: Schema.Int, has_next: Schema.Boolean, has_prev: Schema.Boolean })
          }),
          yield* call("GET", `/api/v2/api-keys?tenant_id=${tenantId}&page=1&page_size=1`)
        )
        assert.deepStrictEqual(keys.pagination, { total: 2, total_pages: 2, has_next: true, has_prev: false })
        for (const key of keys.items) {
          assert.match(key.api_key, /^mmc_.{16}\*{8}$/)
          assert.notStrictEqual(key.api_key, apiKey)
        }
      }))

    test.effect("counts key usage and shows it on reads", () =>
      Effect.gen(function*() {
        const { keyId, apiKey } = yield* seed()
        for (let i = 0; i < 3; i++) yield* call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey })
        yield* call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey, check_rate_limit: false })
        yield* call("POST", "/api/v2/auth/check-permission", { api_key: apiKey, permission: "chat" })
        const key = dataOf(Key, yield* call("GET", `/api/v2/api-keys/${keyId}`))
        assert.strictEqual(key.usage_count, 3)
        assert.isNotNull(key.last_used_at)
      }))

    test.effect("masks provider secrets in agent configs; the mask written back keeps them", () =>
      Effect.gen(function*() {
        const { tenantId } = yield* seed()
        const agent = dataOf(Agent, yield* call("POST", "/api/v2/agents", {
          tenant_id: tenantId,
          name: unique("sec"),
          config: { config_overrides: { model: { api_providers: [{ name: "mine", api_key: "sk-live-123", base_url: "https://x" }] } } }
        }))
        const read = yield* call("GET", `/api/v2/agents/${agent.id}/config`)
        assert.notInclude(read.text, "sk-live-123")
        const config = (read.body as { data: { config_overrides: { model: unknown } } }).data
        const written = yield* call("PUT", `/api/v2/agents/${agent.id}/config`, config)
        assert.isTrue(envelopeOf(written).success)
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ readonly config: string }>`SELECT config FROM agents WHERE id = ${agent.id}`
        assert.include(row?.config ?? "", "sk-live-123")
        assert.notInclude(row?.config ?? "", "********")
      }))

    test.effect("reports agent activity and serves plugin settings in the original's bare shapes", () =>
      Effect.gen(function*() {
        const { tenantId, agentId } = yield* seed()
        const activity = dataOf(
          Schema.Struct({ ttl_seconds: Schema.Int, expires_at: Schema.String }),
          yield* call("PUT", "/api/v2/agent-activity", { tenant_id: tenantId, agent_id: agentId, ttl_seconds: 120 })
        )
        assert.strictEqual(activity.ttl_seconds, 120)
        const listed = dataOf(
          Schema.Struct({ items: Schema.Array(Schema.Struct({ agent_id: Schema.String })), count: Schema.Int }),
          yield* call("GET", `/api/v2/agent-activity?tenant_id=${tenantId}`)
        )
        assert.deepStrictEqual(listed.items.map((item) => item.agent_id), [agentId])

        const saved = yield* call("POST", `/api/v1/plugins/settings?tenant_id=${tenantId}`, {
          plugin_name: "weather",
          enabled: true,
          config: { unit: "C" }
        })
        assert.deepStrictEqual(saved.body, { plugin_name: "weather", enabled: true, config: { unit: "C" } })
        yield* call("POST", `/api/v1/plugins/settings?tenant_id=${tenantId}&agent_id=${agentId}`, {
          plugin_name: "weather",
          enabled: false,
          config: {}
        })
        const merged = yield* call("GET", `/api/v1/plugins/settings?tenant_id=${tenantId}&agent_id=${agentId}`)
        assert.deepStrictEqual(merged.body, [{ plugin_name: "weather", enabled: false, config: {} }])
        const unknown = yield* call("POST", "/api/v1/plugins/settings?tenant_id=tenant_000000000000", {
          plugin_name: "x",
          enabled: true,
          config: {}
        })
        assert.strictEqual(unknown.status, 404)
        assert.deepStrictEqual(unknown.body, { detail: "租户不存在" })
        assert.strictEqual((yield* call("GET", "/api/v1/plugins/settings")).status, 422)
      }))

    test.effect("logs usage, serves the system catalog, /info, and JSON or HTML at /", () =>
      Effect.gen(function*() {
        const usage = dataOf(
          Schema.Struct({ action: Schema.String, timestamp: Schema.String }),
          yield* call("POST", "/api/v1/usage/log", { action: "chat", details: { tokens: 3 } })
        )
        assert.strictEqual(usage.action, "chat")
        assert.match(usage.timestamp, /Z$/)
        const models = yield* call("GET", "/api/v2/system/models")
        assert.include(envelopeOf(models).message, "static_fallback")
        const info = yield* call("GET", "/info")
        assert.deepInclude((info.body as { architecture: object }).architecture, { database: backend })
        const json = yield* call("GET", "/", undefined, { accept: "application/json" })
        assert.deepInclude(json.body as object, { message: "MaiMBot API Server", version: "1.0.0" })
        const html = yield* call("GET", "/", undefined, { accept: "text/html,application/xhtml+xml" })
        assert.include(html.text, "<!DOCTYPE html>")
      }))
  })
}

const baseOf = (context: Context.Context<HttpServer.HttpServer>) => {
  const address = Context.get(context, HttpServer.HttpServer).address
  return address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
}

describe("control-plane family health and catalog", () => {
  it.live("/health answers 503 when the database stops answering, within a second (the probe's cache)", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const services = ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layerPostgres(Redacted.make(url)), {
        catalog: {}
      })
      const context = yield* Layer.build(
        MaikitServer.layer({ families: [ControlPlane.family], host: "127.0.0.1", port: 0, accessToken: Option.none() })
          .pipe(Layer.provide(services))
      )
      const base = baseOf(context)
      assert.strictEqual((yield* request(`${base}/health`)).status, 200)
      yield* dropDatabase(url)
      // The last probe answers for a second; the next request after that probes again.
      yield* Effect.sleep(Duration.sum(ControlPlane.probeTtl, Duration.millis(100)))
      const down = yield* request(`${base}/health`)
      assert.strictEqual(down.status, 503)
      assert.deepInclude(down.body as object, { status: "unhealthy", detail: "服务不健康" })
      assert.deepInclude((down.body as { services: object }).services, { database: "unhealthy" })
    }).pipe(Effect.scoped, Effect.provide(TestPostgres.layer)))

  it.live("serves the operator's model config and bot defaults, never its provider keys, next to the launcher", () =>
    Effect.gen(function*() {
      const dir = tempDir("catalog")
      const modelConfig = Path.join(dir, "model_config.toml")
      Fs.writeFileSync(modelConfig, [
        "[[api_providers]]",
        "name = \"SiliconFlow\"",
        "base_url = \"https://api.siliconflow.cn/v1\"",
        "api_key = \"sk-operator-secret\"",
        "client_type = \"openai\"",
        "[[models]]",
        "name = \"deepseek-v3\"",
        "model_identifier = \"deepseek-ai/DeepSeek-V3\"",
        "api_provider = \"SiliconFlow\"",
        "price_in = 2.0",
        "[model_task_config.replyer]",
        "model_list = [\"deepseek-v3\"]"
      ].join("\n"))
      const template = Path.join(dir, "bot_config.toml")
      Fs.writeFileSync(template, "[bot]\nplatform = \"qq\"\n[chat]\ntalk_value = 1.0\n[inner]\nversion = \"1\"\n")
      const database = ControlPlaneDatabase.layerFrom(Option.some(Redacted.make(`sqlite:${Path.join(dir, "db.sqlite")}`)))
      const services = Layer.mergeAll(
        ControlPlaneDatabase.layerServices(database, {
          catalog: { modelConfigPath: modelConfig, botConfigTemplatePath: template }
        }),
        SystemMetrics.SystemMetrics.layer,
        UpdateChecker.UpdateChecker.layer({ registryUrl: undefined })
      ).pipe(Layer.provideMerge(MaikitConfig.MaikitConfig.layerFrom({ dataDir: dir })))
      const context = yield* Layer.build(
        MaikitServer.layer({
          families: [Launcher.family, ControlPlane.family],
          host: "127.0.0.1",
          port: 0,
          accessToken: Option.none()
        }).pipe(Layer.provide(services))
      )
      const base = baseOf(context)
      const models = yield* request(`${base}/api/v2/system/models`)
      assert.notInclude(models.text, "sk-operator-secret")
      assert.include(envelopeOf(models).message, "dynamic_toml")
      const data = (models.body as { data: { providers: Array<{ name: string }>; defaults: object } }).data
      assert.deepStrictEqual(data.providers.map((provider) => provider.name), ["SiliconFlow"])
      assert.deepStrictEqual(data.defaults, { replyer: { model_list: ["deepseek-v3"] } })
      const defaults = yield* request(`${base}/api/v2/system/bot-defaults`)
      assert.deepStrictEqual((defaults.body as { data: unknown }).data, { bot: { platform: "qq" }, chat: { talk_value: 1 } })
      const { tenantId } = yield* seed().pipe(Effect.provideService(BaseUrl, base))
      const misuse = yield* request(`${base}/api/v2/agents`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          tenant_id: tenantId,
          name: "x",
          config: { config_overrides: { model: { models: [{ name: "m", api_provider: "SiliconFlow" }] } } }
        })
      })
      assert.strictEqual(envelopeOf(misuse).error_code, "AGENT_011", "the operator's providers are the system providers")
      const launcherHealth = yield* request(`${base}/api/v1/system/health`)
      assert.strictEqual(launcherHealth.status, 200, "the launcher family still answers next to the control plane")
      const home = yield* request(`${base}/`, { headers: { accept: "text/html" } })
      assert.include(home.text, "control-plane")
    }))
})
