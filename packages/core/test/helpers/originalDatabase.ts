/**
 * A database shaped like an original MaimConfig deployment's (maim_db's Peewee tables of
 * `shared/contracts/control-plane-api.md` §3.2, its per-agent config tables, and the SQLAlchemy `plugin_settings`),
 * on the test MariaDB or in a SQLite file, with the original's columns and rows: ids, plain-text keys built by the
 * original's recipe, Peewee's `YYYY-MM-DD HH:MM:SS.ffffff` timestamps, booleans as 0/1, JSON as text.
 */
import { Effect, Scope } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as SqliteClient from "../../src/platform/SqliteClient.ts"
import { execute, freshMysqlDatabase, query, type TestMysql } from "./mysql.ts"

export type Flavour = "mysql" | "sqlite"

const hex = (bytes: number) => Crypto.randomBytes(bytes).toString("hex")

/** A key exactly as the original generates it (§6.1): standard base64 with padding. */
export const originalKey = (tenantId: string, agentId: string) =>
  `mmc_${Buffer.from(`${tenantId}_${agentId}_${hex(8)}_v1`).toString("base64")}`

/** Peewee's text for a naive UTC datetime. */
const peewee = (millis: number) => new Date(millis).toISOString().replace("T", " ").replace("Z", "000")

const schema = (flavour: Flavour): ReadonlyArray<string> => {
  const options = flavour === "mysql" ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" : ""
  const autoId = flavour === "mysql" ? "INTEGER AUTO_INCREMENT PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
  const bool = flavour === "mysql" ? "BOOL" : "INTEGER"
  return [
    `CREATE TABLE tenants (id VARCHAR(50) NOT NULL PRIMARY KEY, tenant_name VARCHAR(100) NOT NULL,
      tenant_type VARCHAR(20) NOT NULL, description TEXT, contact_email VARCHAR(255), tenant_config TEXT,
      status VARCHAR(20) NOT NULL, owner_id VARCHAR(50), created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`,
    "CREATE UNIQUE INDEX tenant_tenant_name ON tenants (tenant_name)",
    `CREATE TABLE agents (id VARCHAR(50) NOT NULL PRIMARY KEY, tenant_id VARCHAR(50) NOT NULL, name VARCHAR(100) NOT NULL,
      description TEXT, template_id VARCHAR(50), config TEXT, status VARCHAR(20) NOT NULL,
      created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`,
    "CREATE INDEX agent_tenant_id ON agents (tenant_id)",
    `CREATE TABLE api_keys (id VARCHAR(50) NOT NULL PRIMARY KEY, tenant_id VARCHAR(50) NOT NULL, agent_id VARCHAR(50) NOT NULL,
      name VARCHAR(100) NOT NULL, description TEXT, api_key VARCHAR(255) NOT NULL, permissions TEXT NOT NULL,
      status VARCHAR(20) NOT NULL, expires_at DATETIME(6), last_used_at DATETIME(6), usage_count INTEGER NOT NULL,
      created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`,
    "CREATE UNIQUE INDEX apikey_api_key ON api_keys (api_key)",
    "CREATE INDEX apikey_tenant_id_agent_id ON api_keys (tenant_id, agent_id)",
    `CREATE TABLE agent_active_states (id ${autoId}, tenant_id VARCHAR(50) NOT NULL, agent_id VARCHAR(50) NOT NULL,
      last_seen_at DATETIME(6) NOT NULL, ttl_seconds INTEGER NOT NULL, expires_at DATETIME(6) NOT NULL)${options}`,
    "CREATE UNIQUE INDEX agentactivestate_tenant_id_agent_id ON agent_active_states (tenant_id, agent_id)",
    `CREATE TABLE plugin_settings (id VARCHAR(50) NOT NULL PRIMARY KEY, tenant_id VARCHAR(50) NOT NULL,
      agent_id VARCHAR(50), plugin_name VARCHAR(100) NOT NULL, enabled ${bool} DEFAULT 0, config JSON,
      created_at DATETIME(6), updated_at DATETIME(6),
      FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
      FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE)${options}`,
    `CREATE TABLE personality_configs (id VARCHAR(50) NOT NULL PRIMARY KEY, agent_id VARCHAR(50) NOT NULL,
      personality TEXT NOT NULL, reply_style VARCHAR(500) NOT NULL, interest VARCHAR(500) NOT NULL,
      plan_style VARCHAR(500) NOT NULL, private_plan_style VARCHAR(500) NOT NULL, visual_style VARCHAR(500) NOT NULL,
      states TEXT NOT NULL, state_probability REAL NOT NULL, created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`,
    `CREATE TABLE chat_config_overrides (id VARCHAR(50) NOT NULL PRIMARY KEY, agent_id VARCHAR(50) NOT NULL,
      max_context_size INTEGER NOT NULL, interest_rate_mode VARCHAR(20) NOT NULL, planner_size REAL NOT NULL,
      mentioned_bot_reply ${bool} NOT NULL, auto_chat_value REAL NOT NULL, enable_auto_chat_value_rules ${bool} NOT NULL,
      at_bot_inevitable_reply REAL NOT NULL, planner_smooth REAL NOT NULL, talk_value REAL NOT NULL,
      enable_talk_value_rules ${bool} NOT NULL, talk_value_rules TEXT NOT NULL, auto_chat_value_rules TEXT NOT NULL,
      created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`,
    `CREATE TABLE model_config_overrides (id VARCHAR(50) NOT NULL PRIMARY KEY, agent_id VARCHAR(50) NOT NULL,
      models TEXT NOT NULL, api_providers TEXT NOT NULL, model_task_config TEXT NOT NULL,
      created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL)${options}`
  ]
}

export interface Original {
  readonly url: string
  readonly tenant: string
  readonly suspendedTenant: string
  readonly agent: string
  readonly archivedAgent: string
  readonly orphanAgent: string
  /** Active, `chat`, used 5 times. */
  readonly activeKey: string
  /** Status `disabled`. */
  readonly disabledKey: string
  /** Status `active`, `expires_at` in the past. */
  readonly expiredKey: string
  /** What the source holds now, to tell that an import left it as it was. */
  readonly fingerprint: Effect.Effect<string>
}

const insert = (table: string, row: Record<string, unknown>): readonly [string, ReadonlyArray<unknown>] => [
  `INSERT INTO ${table} (${Object.keys(row).join(", ")}) VALUES (${Object.keys(row).map(() => "?").join(", ")})`,
  Object.values(row)
]

const rows = (now: number) => {
  const tenant = `tenant_${hex(6)}`
  const suspendedTenant = `tenant_${hex(6)}`
  const goneTenant = `tenant_${hex(6)}`
  const agent = `agent_${hex(6)}`
  const archivedAgent = `agent_${hex(6)}`
  const orphanAgent = `agent_${hex(6)}`
  const created = peewee(Date.UTC(2025, 11, 2, 10, 30, 0, 123))
  const later = peewee(Date.UTC(2025, 11, 3, 8, 0, 0, 0))
  const activeKey = originalKey(tenant, agent)
  const disabledKey = originalKey(tenant, archivedAgent)
  const expiredKey = originalKey(tenant, agent)
  const suffix = hex(3)
  const key = (id: string, tenantId: string, agentId: string, name: string, apiKey: string, extra: Record<string, unknown>) =>
    insert("api_keys", {
      id,
      tenant_id: tenantId,
      agent_id: agentId,
      name,
      description: null,
      api_key: apiKey,
      permissions: "[\"chat\"]",
      status: "active",
      expires_at: null,
      last_used_at: null,
      usage_count: 0,
      created_at: created,
      updated_at: created,
      ...extra
    })
  const statements = [
    insert("tenants", {
      id: tenant,
      tenant_name: `测试公司-${suffix}`,
      tenant_type: "enterprise",
      description: "导入测试",
      contact_email: "test@example.com",
      tenant_config: "{\"timezone\": \"Asia/Shanghai\", \"language\": \"zh-CN\"}",
      status: "active",
      owner_id: null,
      created_at: created,
      updated_at: later
    }),
    insert("tenants", {
      id: suspendedTenant,
      tenant_name: `停用-${suffix}`,
      tenant_type: "personal",
      description: null,
      contact_email: null,
      tenant_config: "null",
      status: "suspended",
      owner_id: "owner_1",
      created_at: created,
      updated_at: created
    }),
    insert("agents", {
      id: agent,
      tenant_id: tenant,
      name: "测试助手",
      description: "helper",
      template_id: null,
      config: "{\"persona\": \"友好的测试助手\", \"bot_overrides\": {\"nickname\": \"小助\", \"platform\": \"test\"}, \"tags\": [\"x\"]}",
      status: "active",
      created_at: created,
      updated_at: later
    }),
    insert("agents", {
      id: archivedAgent,
      tenant_id: tenant,
      name: "归档",
      description: null,
      template_id: "tpl_1",
      config: "{}",
      status: "archived",
      created_at: later,
      updated_at: later
    }),
    // The original deleted tenants without their agents and keys.
    insert("agents", {
      id: orphanAgent,
      tenant_id: goneTenant,
      name: "孤儿",
      description: null,
      template_id: null,
      config: null,
      status: "active",
      created_at: created,
      updated_at: created
    }),
    insert("personality_configs", {
      id: `config_${hex(6)}`,
      agent_id: agent,
      personality: "一个认真负责的助手",
      reply_style: "简洁",
      interest: "",
      plan_style: "",
      private_plan_style: "",
      visual_style: "",
      states: "[\"开心\", \"专注\"]",
      state_probability: 0.25,
      created_at: created,
      updated_at: created
    }),
    insert("chat_config_overrides", {
      id: `config_${hex(6)}`,
      agent_id: agent,
      max_context_size: 30,
      interest_rate_mode: "fast",
      planner_size: 1.5,
      mentioned_bot_reply: 0,
      auto_chat_value: 1.0,
      enable_auto_chat_value_rules: 1,
      at_bot_inevitable_reply: 1.0,
      planner_smooth: 3.0,
      talk_value: 0.5,
      enable_talk_value_rules: 1,
      talk_value_rules: "[]",
      auto_chat_value_rules: "[]",
      created_at: created,
      updated_at: created
    }),
    insert("model_config_overrides", {
      id: `config_${hex(6)}`,
      agent_id: agent,
      models: "[{\"name\": \"my-model\", \"model_identifier\": \"m-1\", \"api_provider\": \"MyProvider\"}]",
      api_providers: "[{\"name\": \"MyProvider\", \"base_url\": \"https://llm.example/v1\", \"api_key\": \"sk-original-secret\"}]",
      model_task_config: "{\"replyer\": {\"model_list\": [\"my-model\"]}}",
      created_at: created,
      updated_at: created
    }),
    key(`key_${hex(6)}`, tenant, agent, "测试密钥", activeKey, { usage_count: 5, last_used_at: later }),
    key(`key_${hex(6)}`, tenant, archivedAgent, "停用密钥", disabledKey, { status: "disabled" }),
    key(`key_${hex(6)}`, tenant, agent, "过期密钥", expiredKey, { expires_at: created }),
    key(`key_${hex(6)}`, goneTenant, orphanAgent, "孤儿密钥", originalKey(goneTenant, orphanAgent), {}),
    // A row whose key names another agent: the original's validation never found it.
    key(`key_${hex(6)}`, tenant, archivedAgent, "错配", originalKey(tenant, agent), {}),
    insert("agent_active_states", {
      tenant_id: tenant,
      agent_id: agent,
      last_seen_at: peewee(now),
      ttl_seconds: 43200,
      expires_at: peewee(now + 43_200_000)
    }),
    insert("agent_active_states", {
      tenant_id: tenant,
      agent_id: archivedAgent,
      last_seen_at: created,
      ttl_seconds: 300,
      expires_at: peewee(Date.UTC(2025, 11, 2, 10, 35, 0, 123))
    }),
    insert("plugin_settings", {
      id: `ps_${tenant}_global_mood`,
      tenant_id: tenant,
      agent_id: null,
      plugin_name: "mood",
      enabled: 1,
      config: "{\"level\": 1}",
      created_at: created,
      updated_at: created
    }),
    insert("plugin_settings", {
      id: `ps_${tenant}_${agent}_mood`.slice(0, 50),
      tenant_id: tenant,
      agent_id: agent,
      plugin_name: "mood",
      enabled: 0,
      config: "{\"level\": 2}",
      created_at: created,
      updated_at: created
    })
  ]
  return { tenant, suspendedTenant, agent, archivedAgent, orphanAgent, activeKey, disabledKey, expiredKey, statements }
}

const sourceTables = [
  "tenants",
  "agents",
  "api_keys",
  "agent_active_states",
  "plugin_settings",
  "personality_configs",
  "chat_config_overrides",
  "model_config_overrides"
]

/** An original-shaped database on the test MariaDB, dropped with the scope. */
export const originalOnMysql: Effect.Effect<Original, never, Scope.Scope | TestMysql> = Effect.gen(function*() {
  const url = yield* freshMysqlDatabase
  const built = rows(Date.now())
  yield* execute(url, ...schema("mysql"), ...built.statements)
  const fingerprint = Effect.map(query(url, `CHECKSUM TABLE ${sourceTables.join(", ")} EXTENDED`), (found) => JSON.stringify(found))
  return { ...built, url: url.replace(/^mysql:/, "mysql+aiomysql:"), fingerprint }
})

/** An original-shaped maim_db SQLite file in `directory`, named by maim_db's own `sqlite+aiosqlite:///` URL. */
export const originalOnSqlite = (directory: string): Effect.Effect<Original> =>
  Effect.gen(function*() {
    const file = Path.join(directory, "MaiBot.db")
    const built = rows(Date.now())
    yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const statement of schema("sqlite")) yield* sql.unsafe(statement.replaceAll("DATETIME(6)", "DATETIME"))
      for (const [statement, params] of built.statements) yield* sql.unsafe(statement, params)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: file, walMode: false })), Effect.orDie)
    const fingerprint = Effect.sync(() => Crypto.hash("sha256", Fs.readFileSync(file), "hex"))
    // Four slashes: SQLAlchemy's absolute path.
    return { ...built, url: `sqlite+aiosqlite:///${file}`, fingerprint }
  })
