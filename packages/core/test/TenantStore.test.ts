import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { TestClock } from "effect/testing"
import * as AgentConfig from "../src/control-plane/AgentConfig.ts"
import { TenantStore } from "../src/control-plane/TenantStore.ts"
import { backendNames, suiteServices } from "./helpers/controlPlane.ts"

const naiveIso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/
let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`

const newTenant = (name = unique("tenant")) =>
  Effect.flatMap(TenantStore, (store) => store.createTenant({ tenant_name: name, tenant_type: "enterprise" }))

const newAgent = (tenantId: string, name = unique("agent")) =>
  Effect.flatMap(TenantStore, (store) => store.createAgent({ tenant_id: tenantId, name }))

const rowCount = (table: string, column: string, value: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly n: number | bigint }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE ${sql(column)} = ${value}`
    return Number(rows[0]?.n ?? 0)
  })

for (const backend of backendNames) {
  layer(suiteServices(backend), { excludeTestServices: true })(`TenantStore on ${backend}`, (test) => {
    test.effect("reports its backend and answers the probe", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        assert.strictEqual(store.backend, backend)
        yield* store.probe
      }))

    test.effect("creates tenants in the original's shape, reads them back and refuses a taken name", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const name = unique("公司")
        const created = yield* store.createTenant({
          tenant_name: name,
          tenant_type: "enterprise",
          description: "测试",
          contact_email: "test@example.com",
          tenant_config: { timezone: "Asia/Shanghai" }
        })
        assert.match(created.id, /^tenant_[0-9a-f]{12}$/)
        assert.strictEqual(created.status, "active")
        assert.match(created.created_at, naiveIso)
        assert.deepStrictEqual(yield* store.getTenant(created.id), created)
        const plain = yield* store.createTenant({ tenant_name: unique("p"), tenant_type: "personal" })
        assert.isNull(plain.tenant_config)
        assert.isNull(plain.description)
        const taken = yield* Effect.flip(store.createTenant({ tenant_name: name, tenant_type: "personal" }))
        assert.strictEqual(taken._tag, "TenantNameTaken")
        const missing = yield* Effect.flip(store.getTenant("tenant_000000000000"))
        assert.strictEqual(missing._tag, "TenantNotFound")
      }))

    test.effect("pages tenants in a stable order without skipping or repeating", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const before = (yield* store.listTenants({ page: 1, size: 1 })).total
        for (let i = 0; i < 5; i++) yield* newTenant()
        const seen: Array<string> = []
        const total = before + 5
        const pages = Math.ceil(total / 2)
        for (let page = 1; page <= pages; page++) {
          const result = yield* store.listTenants({ page, size: 2 })
          assert.strictEqual(result.total, total)
          assert.strictEqual(result.pages, pages)
          seen.push(...result.items.map((tenant) => tenant.id))
        }
        assert.strictEqual(new Set(seen).size, total)
        assert.lengthOf((yield* store.listTenants({ page: pages + 1, size: 2 })).items, 0)
      }))

    test.effect("updates given fields, ignores nulls, refuses a rename onto a taken name", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const other = yield* newTenant()
        const updated = yield* store.updateTenant(tenant.id, {
          description: "new",
          status: "suspended",
          contact_email: null,
          tenant_config: { a: 1 }
        })
        assert.strictEqual(updated.description, "new")
        assert.strictEqual(updated.status, "suspended")
        assert.strictEqual(updated.tenant_type, "enterprise")
        assert.deepStrictEqual(updated.tenant_config, { a: 1 })
        assert.deepStrictEqual(yield* store.getTenant(tenant.id), updated)
        const clash = yield* Effect.flip(store.updateTenant(tenant.id, { tenant_name: other.tenant_name }))
        assert.strictEqual(clash._tag, "TenantNameTaken")
        const renamed = yield* store.updateTenant(tenant.id, { tenant_name: `${tenant.tenant_name}-2` })
        assert.strictEqual(renamed.tenant_name, `${tenant.tenant_name}-2`)
        const missing = yield* Effect.flip(store.updateTenant("tenant_000000000000", { description: "x" }))
        assert.strictEqual(missing._tag, "TenantNotFound")
      }))

    test.effect("creates agents with a 12 h activity TTL; names are unique per tenant, also on rename", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const other = yield* newTenant()
        const agent = yield* store.createAgent({
          tenant_id: tenant.id,
          name: "助手",
          description: "d",
          config: { persona: { personality: "友好" }, bot_overrides: { nickname: "小助", platform: "test" } },
          tags: ["a"]
        })
        assert.match(agent.id, /^agent_[0-9a-f]{12}$/)
        assert.strictEqual(agent.status, "active")
        assert.deepStrictEqual(agent.tags, ["a"])
        assert.strictEqual(agent.config.persona.personality, "友好")
        assert.strictEqual(agent.config.bot_overrides.nickname, "小助")
        const [activity] = yield* store.listActivity(tenant.id)
        assert.strictEqual(activity?.agent_id, agent.id)
        assert.strictEqual(activity?.ttl_seconds, 12 * 3600)
        assert.strictEqual(
          Date.parse(`${activity?.expires_at}Z`) - Date.parse(`${activity?.last_seen_at}Z`),
          12 * 3600 * 1000
        )

        const taken = yield* Effect.flip(store.createAgent({ tenant_id: tenant.id, name: "助手" }))
        assert.strictEqual(taken._tag, "AgentNameTaken")
        yield* store.createAgent({ tenant_id: other.id, name: "助手" })
        const second = yield* newAgent(tenant.id)
        const clash = yield* Effect.flip(store.updateAgent(second.id, { name: "助手" }))
        assert.strictEqual(clash._tag, "AgentNameTaken")
        const noTenant = yield* Effect.flip(store.createAgent({ tenant_id: "tenant_000000000000", name: "x" }))
        assert.strictEqual(noTenant._tag, "TenantNotFound")
      }))

    test.effect("lists a tenant's agents with a status filter and paging", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const agents = []
        for (let i = 0; i < 3; i++) agents.push(yield* newAgent(tenant.id))
        yield* store.updateAgent(agents[1]?.id ?? "", { status: "archived" })
        const all = yield* store.listAgents({ tenant_id: tenant.id, page: 1, size: 2 })
        assert.strictEqual(all.total, 3)
        assert.strictEqual(all.pages, 2)
        assert.lengthOf(all.items, 2)
        const archived = yield* store.listAgents({ tenant_id: tenant.id, page: 1, size: 20, status: "archived" })
        assert.deepStrictEqual(archived.items.map((agent) => agent.id), [agents[1]?.id])
        const missing = yield* Effect.flip(store.listAgents({ tenant_id: "tenant_000000000000", page: 1, size: 20 }))
        assert.strictEqual(missing._tag, "TenantNotFound")
      }))

    test.effect("stores the config document: every section kept, updates merged, secrets masked", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const agent = yield* store.createAgent({
          tenant_id: tenant.id,
          name: unique("cfg"),
          config: {
            config_overrides: {
              chat: { max_context_size: 40, talk_value: 2 },
              tool: { enable_tool: true },
              dream: { interval_minutes: 10 },
              model: { api_providers: [{ name: "mine", api_key: "sk-secret", base_url: "https://x.example" }] }
            }
          }
        })
        assert.deepStrictEqual(agent.config.config_overrides.tool, { enable_tool: true })
        const updated = yield* store.updateAgentConfig(agent.id, {
          config_overrides: {
            chat: { talk_value: 5 },
            model: { api_providers: [{ name: "mine", api_key: AgentConfig.maskedSecret, client_type: "gemini" }] }
          }
        })
        assert.strictEqual(updated.config_overrides.chat?.max_context_size, 40)
        assert.strictEqual(updated.config_overrides.chat?.talk_value, 5)
        assert.deepStrictEqual(updated.config_overrides["dream"], { interval_minutes: 10 })
        assert.strictEqual(updated.config_overrides.model.api_providers[0]?.api_key, AgentConfig.maskedSecret)
        assert.strictEqual(updated.config_overrides.model.api_providers[0]?.client_type, "gemini")
        assert.deepStrictEqual(yield* store.getAgentConfig(agent.id), updated)

        const sql = yield* SqlClient.SqlClient
        const [raw] = yield* sql<{ readonly config: string }>`SELECT config FROM agents WHERE id = ${agent.id}`
        assert.include(raw?.config ?? "", "sk-secret", "the real key is stored; only reads mask it")

        const viaAgent = yield* store.updateAgent(agent.id, { config: { persona: { personality: "p" } } })
        assert.strictEqual(viaAgent.config.persona.personality, "p")
        assert.strictEqual(viaAgent.config.config_overrides.chat?.talk_value, 5)
      }))

    test.effect("refuses custom models on a system provider and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const name = unique("sec")
        const rejected = yield* Effect.flip(store.createAgent({
          tenant_id: tenant.id,
          name,
          config: { config_overrides: { model: { models: [{ name: "m", api_provider: "OpenAI" }] } } }
        }))
        assert.strictEqual(rejected._tag, "AgentConfigRejected")
        assert.include(rejected.message, "Security Violation")
        assert.strictEqual(yield* rowCount("agents", "tenant_id", tenant.id), 0)
        const agent = yield* newAgent(tenant.id)
        const onUpdate = yield* Effect.flip(store.updateAgentConfig(agent.id, {
          config_overrides: { model: { models: [{ name: "m", api_provider: "Anthropic" }] } }
        }))
        assert.strictEqual(onUpdate._tag, "AgentConfigRejected")
        assert.deepStrictEqual((yield* store.getAgentConfig(agent.id)).config_overrides.model.models, [])
      }))

    test.effect("activity: only active tenants and their non-inactive agents may report", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const other = yield* newTenant()
        const agent = yield* newAgent(tenant.id)
        const foreign = yield* newAgent(other.id)
        const reason = (tenantId: string, agentId: string) =>
          Effect.map(Effect.flip(store.reportActivity({ tenant_id: tenantId, agent_id: agentId, ttl_seconds: 60 })), (e) =>
            e._tag === "ActivityRejected" ? e.reason : e._tag)
        assert.strictEqual(yield* reason("tenant_000000000000", agent.id), "tenant_inactive")
        assert.strictEqual(yield* reason(tenant.id, "agent_000000000000"), "agent_missing")
        assert.strictEqual(yield* reason(tenant.id, foreign.id), "agent_not_in_tenant")
        yield* store.updateAgent(agent.id, { status: "inactive" })
        assert.strictEqual(yield* reason(tenant.id, agent.id), "agent_inactive")
        yield* store.updateAgent(agent.id, { status: "archived" })
        const report = yield* store.reportActivity({ tenant_id: tenant.id, agent_id: agent.id, ttl_seconds: 60 })
        assert.strictEqual(report.ttl_seconds, 60)
        yield* store.updateTenant(other.id, { status: "suspended" })
        assert.strictEqual(yield* reason(other.id, foreign.id), "tenant_inactive")
        const listed = yield* store.listActivity(tenant.id)
        assert.deepStrictEqual(listed.map((row) => row.ttl_seconds), [60])
        assert.isTrue((yield* store.listActivity()).some((row) => row.tenant_id === other.id))
      }))

    test.effect("activity expires when its TTL runs out", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const agent = yield* newAgent(tenant.id)
        yield* Effect.gen(function*() {
          yield* TestClock.setTime(Date.now() + 365 * 86400_000)
          yield* store.reportActivity({ tenant_id: tenant.id, agent_id: agent.id, ttl_seconds: 30 })
          assert.lengthOf(yield* store.listActivity(tenant.id), 1)
          yield* TestClock.adjust("29 seconds")
          assert.lengthOf(yield* store.listActivity(tenant.id), 1)
          yield* TestClock.adjust("2 seconds")
          assert.lengthOf(yield* store.listActivity(tenant.id), 0)
        }).pipe(Effect.provide(TestClock.layer()))
      }))

    test.effect("plugin settings: tenant-wide and per agent, the agent's win, saved by upsert", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const other = yield* newTenant()
        const agent = yield* newAgent(tenant.id)
        yield* store.savePluginSetting(tenant.id, undefined, { plugin_name: "weather", enabled: true, config: { unit: "C" } })
        yield* store.savePluginSetting(tenant.id, undefined, { plugin_name: "music", enabled: false, config: {} })
        yield* store.savePluginSetting(tenant.id, agent.id, { plugin_name: "weather", enabled: false, config: { unit: "F" } })
        yield* store.savePluginSetting(tenant.id, undefined, { plugin_name: "music", enabled: true, config: { v: 2 } })
        assert.deepStrictEqual(yield* store.pluginSettings(tenant.id), [
          { plugin_name: "music", enabled: true, config: { v: 2 } },
          { plugin_name: "weather", enabled: true, config: { unit: "C" } }
        ])
        assert.deepStrictEqual(yield* store.pluginSettings(tenant.id, agent.id), [
          { plugin_name: "music", enabled: true, config: { v: 2 } },
          { plugin_name: "weather", enabled: false, config: { unit: "F" } }
        ])
        const foreign = yield* Effect.flip(
          store.savePluginSetting(other.id, agent.id, { plugin_name: "x", enabled: true, config: {} })
        )
        assert.strictEqual(foreign._tag, "AgentNotInTenant")
        const noTenant = yield* Effect.flip(
          store.savePluginSetting("tenant_000000000000", undefined, { plugin_name: "x", enabled: true, config: {} })
        )
        assert.strictEqual(noTenant._tag, "TenantNotFound")
      }))

    test.effect("deleting an agent removes its activity and plugin settings; deleting a tenant removes its agents", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const tenant = yield* newTenant()
        const agent = yield* newAgent(tenant.id)
        const kept = yield* newAgent(tenant.id)
        yield* store.savePluginSetting(tenant.id, agent.id, { plugin_name: "p", enabled: true, config: {} })
        yield* store.savePluginSetting(tenant.id, undefined, { plugin_name: "p", enabled: true, config: {} })
        yield* store.deleteAgent(agent.id)
        assert.strictEqual((yield* Effect.flip(store.getAgent(agent.id)))._tag, "AgentNotFound")
        assert.strictEqual(yield* rowCount("agent_activity", "agent_id", agent.id), 0)
        assert.strictEqual(yield* rowCount("plugin_settings", "agent_id", agent.id), 0)
        assert.strictEqual(yield* rowCount("plugin_settings", "tenant_id", tenant.id), 1)
        assert.strictEqual((yield* Effect.flip(store.deleteAgent(agent.id)))._tag, "AgentNotFound")

        yield* store.deleteTenant(tenant.id)
        assert.strictEqual((yield* Effect.flip(store.getAgent(kept.id)))._tag, "AgentNotFound")
        for (const table of ["agents", "agent_activity", "plugin_settings"]) {
          assert.strictEqual(yield* rowCount(table, "tenant_id", tenant.id), 0, table)
        }
        assert.strictEqual((yield* Effect.flip(store.deleteTenant(tenant.id)))._tag, "TenantNotFound")
      }))

    test.effect("keeps an explicit id (imports from the original) and refuses one in use", () =>
      Effect.gen(function*() {
        const store = yield* TenantStore
        const id = `tenant_${Math.random().toString(16).slice(2, 14).padEnd(12, "0")}`
        const tenant = yield* store.createTenant({ tenant_name: unique("imp"), tenant_type: "personal" }, { id })
        assert.strictEqual(tenant.id, id)
        const again = yield* Effect.flip(store.createTenant({ tenant_name: unique("imp"), tenant_type: "personal" }, { id }))
        assert.strictEqual(again._tag, "IdTaken")
        const agentId = `agent_${Math.random().toString(16).slice(2, 14).padEnd(12, "0")}`
        const agent = yield* store.createAgent({ tenant_id: id, name: unique("a") }, { id: agentId })
        assert.strictEqual(agent.id, agentId)
        const agentAgain = yield* Effect.flip(store.createAgent({ tenant_id: id, name: unique("a") }, { id: agentId }))
        assert.strictEqual(agentAgain._tag, "IdTaken")
      }))
  })
}
