import { assert, layer } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { ControlPlaneDatabase, MaimConfigImport } from "@maikit/core/control-plane"
import { tempDir } from "../../core/test/helpers/controlPlane.ts"
import { TestMysql } from "../../core/test/helpers/mysql.ts"
import { type Original, originalOnMysql, originalOnSqlite } from "../../core/test/helpers/originalDatabase.ts"
import { backendNames, call, dataOf, envelopeOf, serverLayer } from "./helpers/controlPlane.ts"

const Record = Schema.Record(Schema.String, Schema.Unknown)

const countsOf = (summary: MaimConfigImport.Summary) => ({
  tenants: summary.tenants,
  agents: summary.agents,
  agent_configs: summary.agent_configs,
  api_keys: summary.api_keys,
  activity: summary.activity,
  plugin_settings: summary.plugin_settings
})

const firstRun = {
  tenants: { read: 2, imported: 2, unchanged: 0, skipped: 0 },
  agents: { read: 3, imported: 2, unchanged: 0, skipped: 1 },
  agent_configs: { read: 1, imported: 1, unchanged: 0, skipped: 0 },
  api_keys: { read: 5, imported: 3, unchanged: 0, skipped: 2 },
  activity: { read: 2, imported: 2, unchanged: 0, skipped: 0 },
  plugin_settings: { read: 2, imported: 2, unchanged: 0, skipped: 0 }
}

const secondRun = {
  tenants: { read: 2, imported: 0, unchanged: 2, skipped: 0 },
  agents: { read: 3, imported: 0, unchanged: 2, skipped: 1 },
  agent_configs: { read: 1, imported: 0, unchanged: 1, skipped: 0 },
  api_keys: { read: 5, imported: 0, unchanged: 3, skipped: 2 },
  activity: { read: 2, imported: 0, unchanged: 2, skipped: 0 },
  plugin_settings: { read: 2, imported: 0, unchanged: 2, skipped: 0 }
}

const validate = (apiKey: string) => Effect.map(call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey }), envelopeOf)

/** Imports `original` (dry run, run, run again) into the served store and checks it through the HTTP API. */
const importAndServe = (original: Original) =>
  Effect.gen(function*() {
    const before = yield* original.fingerprint
    const sql = yield* SqlClient.SqlClient
    const tenantRows = Effect.map(sql<{ readonly total: number | bigint }>`SELECT COUNT(*) AS total FROM tenants WHERE id = ${original.tenant}`, (rows) =>
      Number(rows[0]?.total))

    const dry = yield* MaimConfigImport.run(Redacted.make(original.url), { dryRun: true })
    assert.isTrue(dry.dry_run)
    assert.deepStrictEqual(countsOf(dry), firstRun, "a dry run counts what a run would do")
    assert.strictEqual(yield* tenantRows, 0, "and writes nothing")

    const summary = yield* MaimConfigImport.run(Redacted.make(original.url))
    assert.deepStrictEqual(countsOf(summary), firstRun)
    assert.notInclude(summary.source, "password")
    assert.strictEqual(summary.notes.length, 3, summary.notes.join("\n"))
    assert.isTrue(summary.notes.some((note) => note.includes(original.orphanAgent) && note.includes("is not there")))
    assert.isTrue(summary.notes.some((note) => note.includes("never validated")))

    const tenant = dataOf(Record, yield* call("GET", `/api/v2/tenants/${original.tenant}`))
    assert.deepInclude(tenant, {
      tenant_type: "enterprise",
      contact_email: "test@example.com",
      tenant_config: { timezone: "Asia/Shanghai", language: "zh-CN" },
      status: "active",
      created_at: "2025-12-02T10:30:00.123000",
      updated_at: "2025-12-03T08:00:00.000000"
    })
    assert.strictEqual(dataOf(Record, yield* call("GET", `/api/v2/tenants/${original.suspendedTenant}`))["status"], "suspended")

    const config = dataOf(Record, yield* call("GET", `/api/v2/agents/${original.agent}/config`))
    const persona = config["persona"] as Record<string, unknown>
    assert.deepInclude(persona, { personality: "一个认真负责的助手", reply_style: "简洁", states: ["开心", "专注"], state_probability: 0.25 })
    assert.deepInclude(config["bot_overrides"] as object, { nickname: "小助", platform: "test" }, "the raw column's sections")
    const overrides = config["config_overrides"] as Record<string, Record<string, unknown>>
    assert.deepInclude(overrides["chat"] ?? {}, { max_context_size: 30, mentioned_bot_reply: false, talk_value: 0.5 })
    const model = overrides["model"] ?? {}
    assert.deepStrictEqual(model["model_task_config"], { replyer: { model_list: ["my-model"] } })
    assert.deepInclude((model["api_providers"] as Array<object>)[0] ?? {}, { name: "MyProvider", api_key: "********" })
    const archived = dataOf(Record, yield* call("GET", `/api/v2/agents/${original.archivedAgent}`))
    assert.deepInclude(archived, { status: "archived", template_id: "tpl_1" })
    assert.strictEqual(envelopeOf(yield* call("GET", `/api/v2/agents/${original.orphanAgent}`)).error_code, "AGENT_004")

    const valid = yield* validate(original.activeKey)
    assert.isTrue(valid.success, JSON.stringify(valid))
    assert.deepInclude(valid.data as object, { tenant_id: original.tenant, agent_id: original.agent, permissions: ["chat"] })
    assert.strictEqual((yield* validate(original.disabledKey)).error_code, "AUTH_004")
    assert.strictEqual((yield* validate(original.expiredKey)).error_code, "AUTH_002")
    const keyId = String((valid.data as Record<string, unknown>)["api_key_id"])
    const key = dataOf(Record, yield* call("GET", `/api/v2/api-keys/${keyId}`))
    assert.deepInclude(key, { name: "测试密钥", usage_count: 6, created_at: "2025-12-02T10:30:00.123000" })
    assert.notInclude(JSON.stringify(key), original.activeKey.slice(20))

    const active = dataOf(Schema.Struct({ items: Schema.Array(Record) }), yield* call("GET", `/api/v2/agent-activity?tenant_id=${original.tenant}`))
    assert.deepStrictEqual(active.items.map((item) => item["agent_id"]), [original.agent], "the expired activity row is kept but not listed")
    const plugins = yield* call("GET", `/api/v1/plugins/settings?tenant_id=${original.tenant}&agent_id=${original.agent}`)
    assert.deepStrictEqual(plugins.body, [{ plugin_name: "mood", enabled: false, config: { level: 2 } }])

    const again = yield* MaimConfigImport.run(Redacted.make(original.url))
    assert.deepStrictEqual(countsOf(again), secondRun, "a second run changes nothing")
    assert.isTrue((yield* validate(original.activeKey)).success)
    assert.strictEqual(yield* original.fingerprint, before, "the source was never written")
  })

for (const backend of backendNames) {
  layer(serverLayer(backend), { excludeTestServices: true })(`import from an original MaimConfig into ${backend}`, (test) => {
    test.effect("from MySQL (mysql+aiomysql://), then serves its keys", () =>
      Effect.flatMap(originalOnMysql, importAndServe).pipe(Effect.scoped, Effect.provide(TestMysql.layer)))

    test.effect("from maim_db's SQLite file (sqlite+aiosqlite:///), then serves its keys", () =>
      Effect.flatMap(originalOnSqlite(tempDir("original")), importAndServe))
  })
}

layer(TestMysql.layer)("import sources", (test) => {
  test.effect("a MySQL source is opened read-only: the server refuses writes", () =>
    Effect.gen(function*() {
      const original = yield* originalOnMysql
      const refused = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* Effect.flip(sql`DELETE FROM tenants`)
      }).pipe(Effect.provide(ControlPlaneDatabase.layerMysql(Redacted.make(original.url), { readonly: true })))
      assert.include(refused.message, "READ ONLY")
    }).pipe(Effect.scoped))

  test.effect("a source that is not a MaimConfig database is refused before anything is written", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(MaimConfigImport.run(Redacted.make(`sqlite+aiosqlite:///${tempDir("none")}/none.db`)))
      assert.strictEqual(missing.reason, "open")
    }).pipe(Effect.provide(serverLayer("sqlite"))))
})
