/**
 * The control plane's records: tenants, their agents and agent configs, agent activity (a TTL heartbeat) and
 * plugin settings, with the fields, enums, id formats and rules of the original MaimConfig
 * (`shared/contracts/control-plane-api.md` §3–§5, §8). Runs on any `SqlClient`; the migrations are portable
 * between SQLite, PostgreSQL and MySQL/MariaDB. Where MaiKit deliberately differs from the original:
 *
 * - Deleting a tenant deletes its agents, and deleting an agent deletes its API keys, activity rows and
 *   plugin settings, in the same statement (foreign keys with `ON DELETE CASCADE`). The original left them
 *   behind, including usable keys of deleted agents.
 * - Names are unique where the original only checked on create: tenant names globally, agent names per
 *   tenant, also on rename and under concurrent requests (unique indexes).
 * - The agent config keeps every section it is given and merges updates (see `AgentConfig`).
 * - Lists have a stable order (creation time, then id), so pages never skip or repeat a row.
 * - Text fields are length-checked to their column sizes; NUL characters are refused (PostgreSQL cannot
 *   store them).
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import * as AgentConfig from "./AgentConfig.ts"
import * as Database from "../platform/Database.ts"
import {
  type Backend,
  backendOf,
  DbBoolean,
  DbInt,
  ddl,
  deleteWhere,
  idPattern,
  isConstraintViolation,
  isUniqueViolation,
  naiveIso,
  newId,
  toDbBoolean,
  upsert
} from "./internal/controlPlaneSql.ts"
import { SystemCatalog } from "./SystemCatalog.ts"
import {
  ActivityRejected,
  AgentConfigRejected,
  AgentNameTaken,
  AgentNotFound,
  AgentNotInTenant,
  IdTaken,
  TenantNameTaken,
  TenantNotFound,
  TenantStoreStorageError
} from "./TenantStoreError.ts"

export {
  ActivityRejected,
  AgentConfigRejected,
  AgentNameTaken,
  AgentNotFound,
  AgentNotInTenant,
  IdTaken,
  TenantNameTaken,
  TenantNotFound,
  TenantStoreStorageError
} from "./TenantStoreError.ts"

export const TenantType = Schema.Literals(["personal", "enterprise"])
export type TenantType = typeof TenantType.Type
export const TenantStatus = Schema.Literals(["active", "inactive", "suspended"])
export type TenantStatus = typeof TenantStatus.Type
export const AgentStatus = Schema.Literals(["active", "inactive", "archived"])
export type AgentStatus = typeof AgentStatus.Type

const noNul = Schema.makeFilter((text: string) => !text.includes("\u0000") || "must not contain NUL characters")

/** A string of at most `max` characters (its column size). */
export const Text = (max: number) => Schema.String.check(Schema.isMaxLength(max), noNul)
/** A non-empty string of at most `max` characters. */
export const Name = (max: number) => Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(max), noNul)

/** Ids are `tenant_`/`agent_`/`key_` and 12 hex digits; lookups accept any string up to the column size. */
export const IdParam = Text(50)
export const TenantName = Name(100)
export const AgentName = Name(100)
export const Description = Text(10_000)
export const Email = Text(255)
export const PluginName = Name(100)

/** The id given when importing a record from the original (same format as generated ids). */
export const TenantId = Schema.String.check(Schema.isPattern(idPattern("tenant")))
export const AgentId = Schema.String.check(Schema.isPattern(idPattern("agent")))

export const Tenant = Schema.Struct({
  id: Schema.String,
  tenant_name: Schema.String,
  tenant_type: TenantType,
  description: Schema.NullOr(Schema.String),
  contact_email: Schema.NullOr(Schema.String),
  tenant_config: Schema.NullOr(Schema.JsonObject),
  status: TenantStatus,
  owner_id: Schema.NullOr(Schema.String),
  /** Naive UTC ISO 8601 with microseconds, as the original's `datetime.isoformat()`. */
  created_at: Schema.String,
  updated_at: Schema.String
}).annotate({ identifier: "Tenant" })
export type Tenant = typeof Tenant.Type

const TenantRow = Tenant.mapFields((fields) => ({
  ...fields,
  tenant_config: Schema.NullOr(Schema.fromJsonString(Schema.JsonObject))
}))

export const NewTenant = Schema.Struct({
  tenant_name: TenantName,
  tenant_type: TenantType,
  description: Schema.optionalKey(Schema.NullOr(Description)),
  contact_email: Schema.optionalKey(Schema.NullOr(Email)),
  tenant_config: Schema.optionalKey(Schema.NullOr(Schema.JsonObject)),
  owner_id: Schema.optionalKey(Schema.NullOr(IdParam))
}).annotate({ identifier: "NewTenant" })
export type NewTenant = typeof NewTenant.Type

/** Fields sent as `null` are left unchanged, as in the original; `tenant_type` cannot change. */
export const TenantPatch = Schema.Struct({
  tenant_name: Schema.optionalKey(Schema.NullOr(TenantName)),
  description: Schema.optionalKey(Schema.NullOr(Description)),
  contact_email: Schema.optionalKey(Schema.NullOr(Email)),
  tenant_config: Schema.optionalKey(Schema.NullOr(Schema.JsonObject)),
  status: Schema.optionalKey(Schema.NullOr(TenantStatus))
}).annotate({ identifier: "TenantPatch" })
export type TenantPatch = typeof TenantPatch.Type

export const Tags = Schema.Array(Schema.Json)

export const Agent = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  name: Schema.String,
  description: Schema.NullOr(Schema.String),
  template_id: Schema.NullOr(Schema.String),
  /** The structured config, provider secrets masked. */
  config: AgentConfig.AgentConfig,
  status: AgentStatus,
  created_at: Schema.String,
  updated_at: Schema.String,
  /** The original accepted and dropped `tags` (always `null`); MaiKit stores them. */
  tags: Schema.NullOr(Tags)
}).annotate({ identifier: "Agent" })
export type Agent = typeof Agent.Type

const AgentRow = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  name: Schema.String,
  description: Schema.NullOr(Schema.String),
  template_id: Schema.NullOr(Schema.String),
  config: Schema.fromJsonString(AgentConfig.AgentConfigPatch),
  status: AgentStatus,
  created_at: Schema.String,
  updated_at: Schema.String,
  tags: Schema.NullOr(Schema.fromJsonString(Tags))
})
type AgentRow = typeof AgentRow.Type

export const NewAgent = Schema.Struct({
  tenant_id: IdParam,
  name: AgentName,
  description: Schema.optionalKey(Schema.NullOr(Description)),
  template_id: Schema.optionalKey(Schema.NullOr(IdParam)),
  config: Schema.optionalKey(Schema.NullOr(AgentConfig.AgentConfigPatch)),
  tags: Schema.optionalKey(Schema.NullOr(Tags))
}).annotate({ identifier: "NewAgent" })
export type NewAgent = typeof NewAgent.Type

/** Fields sent as `null` are left unchanged; `config` merges into the stored config. */
export const AgentPatch = Schema.Struct({
  name: Schema.optionalKey(Schema.NullOr(AgentName)),
  description: Schema.optionalKey(Schema.NullOr(Description)),
  config: Schema.optionalKey(Schema.NullOr(AgentConfig.AgentConfigPatch)),
  status: Schema.optionalKey(Schema.NullOr(AgentStatus)),
  tags: Schema.optionalKey(Schema.NullOr(Tags))
}).annotate({ identifier: "AgentPatch" })
export type AgentPatch = typeof AgentPatch.Type

export const Page = <S extends Schema.Top>(item: S) =>
  Schema.Struct({
    items: Schema.Array(item),
    total: Schema.Int,
    page: Schema.Int,
    size: Schema.Int,
    pages: Schema.Int
  })
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly size: number
  readonly pages: number
}

export interface PageRequest {
  readonly page: number
  readonly size: number
}

/** The TTL an agent gets when it is created, as in the original (12 h). */
export const createdAgentTtlSeconds = 12 * 3600
export const maxTtlSeconds = 2_147_483_647

export const TtlSeconds = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxTtlSeconds }))

export const ActivityReport = Schema.Struct({
  tenant_id: IdParam,
  agent_id: IdParam,
  ttl_seconds: TtlSeconds
}).annotate({ identifier: "ActivityReport" })
export type ActivityReport = typeof ActivityReport.Type

export const AgentActivity = Schema.Struct({
  tenant_id: Schema.String,
  agent_id: Schema.String,
  last_seen_at: Schema.String,
  expires_at: Schema.String,
  ttl_seconds: DbInt
}).annotate({ identifier: "AgentActivity" })
export type AgentActivity = typeof AgentActivity.Type

export const PluginSetting = Schema.Struct({
  plugin_name: Schema.String,
  enabled: Schema.Boolean,
  config: Schema.JsonObject
}).annotate({ identifier: "PluginSetting" })
export type PluginSetting = typeof PluginSetting.Type

export const PluginSettingInput = Schema.Struct({
  plugin_name: PluginName,
  enabled: Schema.Boolean,
  config: Schema.JsonObject
}).annotate({ identifier: "PluginSettingInput" })
export type PluginSettingInput = typeof PluginSettingInput.Type

const PluginSettingRow = Schema.Struct({
  plugin_name: Schema.String,
  enabled: DbBoolean,
  config: Schema.fromJsonString(Schema.JsonObject),
  agent_id: Schema.NullOr(Schema.String)
})

const CountRow = Schema.Struct({ total: DbInt })
const StatusRow = Schema.Struct({ status: Schema.String })
const AgentOwnerRow = Schema.Struct({ tenant_id: Schema.String, status: AgentStatus })

export type { Backend } from "./internal/controlPlaneSql.ts"

const pagesOf = (total: number, size: number) => Math.ceil(total / size)

const tenantColumns = "id, tenant_name, tenant_type, description, contact_email, tenant_config, status, owner_id, created_at, updated_at"
const agentColumns = "id, tenant_id, name, description, template_id, config, status, created_at, updated_at, tags"

const migrations = Database.migrations("tenant-store", {
  "0001_create_tenants": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions, text } = yield* ddl
    yield* sql`CREATE TABLE tenants (
      id VARCHAR(50) PRIMARY KEY,
      tenant_name VARCHAR(100) NOT NULL,
      tenant_type VARCHAR(20) NOT NULL,
      description ${text},
      contact_email VARCHAR(255),
      tenant_config ${text},
      status VARCHAR(20) NOT NULL,
      owner_id VARCHAR(50),
      created_at VARCHAR(32) NOT NULL,
      updated_at VARCHAR(32) NOT NULL
    )${tableOptions}`
    yield* sql`CREATE UNIQUE INDEX tenants_tenant_name ON tenants (tenant_name)`
    yield* sql`CREATE INDEX tenants_created ON tenants (created_at, id)`
  }),
  // Foreign keys are table constraints: MySQL 8 parses a column's `REFERENCES` and ignores it.
  "0002_create_agents": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions, text } = yield* ddl
    yield* sql`CREATE TABLE agents (
      id VARCHAR(50) PRIMARY KEY,
      tenant_id VARCHAR(50) NOT NULL,
      name VARCHAR(100) NOT NULL,
      description ${text},
      template_id VARCHAR(50),
      config ${text} NOT NULL,
      status VARCHAR(20) NOT NULL,
      tags ${text},
      created_at VARCHAR(32) NOT NULL,
      updated_at VARCHAR(32) NOT NULL,
      FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
    )${tableOptions}`
    yield* sql`CREATE UNIQUE INDEX agents_tenant_name ON agents (tenant_id, name)`
    // The target of (tenant_id, agent_id) foreign keys: a row may only name an agent of its own tenant.
    yield* sql`CREATE UNIQUE INDEX agents_tenant_id ON agents (tenant_id, id)`
    yield* sql`CREATE INDEX agents_tenant_created ON agents (tenant_id, created_at, id)`
  }),
  "0003_create_agent_activity": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions } = yield* ddl
    yield* sql`CREATE TABLE agent_activity (
      tenant_id VARCHAR(50) NOT NULL,
      agent_id VARCHAR(50) NOT NULL,
      last_seen_at VARCHAR(32) NOT NULL,
      ttl_seconds INTEGER NOT NULL,
      expires_at VARCHAR(32) NOT NULL,
      PRIMARY KEY (tenant_id, agent_id),
      FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
    )${tableOptions}`
    yield* sql`CREATE INDEX agent_activity_expires ON agent_activity (expires_at)`
  }),
  "0004_create_plugin_settings": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions, text } = yield* ddl
    // `ps_<tenant>_<agent or global>_<plugin>`: at most 205 characters.
    yield* sql`CREATE TABLE plugin_settings (
      id VARCHAR(255) PRIMARY KEY,
      tenant_id VARCHAR(50) NOT NULL,
      agent_id VARCHAR(50),
      plugin_name VARCHAR(100) NOT NULL,
      enabled INTEGER NOT NULL,
      config ${text} NOT NULL,
      created_at VARCHAR(32) NOT NULL,
      updated_at VARCHAR(32) NOT NULL,
      FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
      FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
    )${tableOptions}`
    yield* sql`CREATE INDEX plugin_settings_tenant ON plugin_settings (tenant_id, agent_id)`
  })
})

/**
 * SQLite enforces foreign keys only when the connection asks for it, and the cascades above are how deletes
 * reach keys and activity; MaiKit's SQLite client shares one connection, so switching it on once holds.
 */
const foreignKeys = Layer.effectDiscard(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    sqlite: () =>
      Effect.gen(function*() {
        yield* sql`PRAGMA foreign_keys = ON`
        const [state] = yield* sql<{ readonly foreign_keys: number }>`PRAGMA foreign_keys`
        if (state?.foreign_keys !== 1) return yield* Effect.die(new Error("SQLite refused to enforce foreign keys"))
      }),
    orElse: () => Effect.void
  })
}).pipe(Effect.orDie))

export class TenantStore extends Context.Service<TenantStore, {
  readonly backend: Backend
  /** Answers when the database does (one round trip). */
  readonly probe: Effect.Effect<void, TenantStoreStorageError>
  /** `options.id` keeps an id from the original (imports); otherwise a new one is generated. */
  readonly createTenant: (
    input: NewTenant,
    options?: { readonly id?: string }
  ) => Effect.Effect<Tenant, TenantNameTaken | IdTaken | TenantStoreStorageError>
  readonly getTenant: (id: string) => Effect.Effect<Tenant, TenantNotFound | TenantStoreStorageError>
  readonly listTenants: (request: PageRequest) => Effect.Effect<Page<Tenant>, TenantStoreStorageError>
  readonly updateTenant: (
    id: string,
    patch: TenantPatch
  ) => Effect.Effect<Tenant, TenantNotFound | TenantNameTaken | TenantStoreStorageError>
  /** Also deletes the tenant's agents, API keys, activity rows and plugin settings. */
  readonly deleteTenant: (id: string) => Effect.Effect<void, TenantNotFound | TenantStoreStorageError>
  /** Creates the agent and reports it active for 12 h, in one transaction. */
  readonly createAgent: (
    input: NewAgent,
    options?: { readonly id?: string }
  ) => Effect.Effect<Agent, TenantNotFound | AgentNameTaken | AgentConfigRejected | IdTaken | TenantStoreStorageError>
  readonly getAgent: (id: string) => Effect.Effect<Agent, AgentNotFound | TenantStoreStorageError>
  /** Confirms that `agentId` exists and belongs to `tenantId`, which exists. */
  readonly requireAgentOf: (
    tenantId: string,
    agentId: string
  ) => Effect.Effect<void, TenantNotFound | AgentNotFound | AgentNotInTenant | TenantStoreStorageError>
  readonly listAgents: (
    request: PageRequest & { readonly tenant_id: string; readonly status?: AgentStatus | undefined }
  ) => Effect.Effect<Page<Agent>, TenantNotFound | TenantStoreStorageError>
  readonly updateAgent: (
    id: string,
    patch: AgentPatch
  ) => Effect.Effect<Agent, AgentNotFound | AgentNameTaken | AgentConfigRejected | TenantStoreStorageError>
  /** Also deletes the agent's API keys, activity rows and plugin settings. */
  readonly deleteAgent: (id: string) => Effect.Effect<void, AgentNotFound | TenantStoreStorageError>
  readonly getAgentConfig: (id: string) => Effect.Effect<AgentConfig.AgentConfig, AgentNotFound | TenantStoreStorageError>
  readonly updateAgentConfig: (
    id: string,
    patch: AgentConfig.AgentConfigPatch
  ) => Effect.Effect<AgentConfig.AgentConfig, AgentNotFound | AgentConfigRejected | TenantStoreStorageError>
  readonly reportActivity: (
    report: ActivityReport
  ) => Effect.Effect<AgentActivity, ActivityRejected | TenantStoreStorageError>
  /** The pairs whose TTL has not run out, optionally of one tenant. */
  readonly listActivity: (
    tenantId?: string
  ) => Effect.Effect<ReadonlyArray<AgentActivity>, TenantStoreStorageError>
  /**
   * Without `agentId`, the tenant-wide settings; with it, the agent's settings merged over the tenant-wide
   * ones (the agent's win), by plugin name.
   */
  readonly pluginSettings: (
    tenantId: string,
    agentId?: string
  ) => Effect.Effect<ReadonlyArray<PluginSetting>, TenantStoreStorageError>
  readonly savePluginSetting: (
    tenantId: string,
    agentId: string | undefined,
    input: PluginSettingInput
  ) => Effect.Effect<PluginSetting, TenantNotFound | AgentNotFound | AgentNotInTenant | TenantStoreStorageError>
}>()("@maikit/core/TenantStore") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const catalog = yield* SystemCatalog
    const backend: Backend = backendOf(sql)

    const fail = TenantStoreStorageError.of
    const storage = (operation: string) => <A, R>(effect: Effect.Effect<A, SqlError | Schema.SchemaError, R>) =>
      Effect.mapError(effect, fail(operation))
    const transaction = <A, E, R>(
      operation: string,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | TenantStoreStorageError, R> =>
      Effect.mapError(sql.withTransaction(effect), (error) => isSqlError(error) ? fail(operation)(error) : error)

    const decodeTenant = Schema.decodeUnknownEffect(TenantRow)
    const encodeTenant = Schema.encodeUnknownEffect(TenantRow)
    const decodeAgentRow = Schema.decodeUnknownEffect(AgentRow)
    const decodeActivity = Schema.decodeUnknownEffect(AgentActivity)
    const decodePlugin = Schema.decodeUnknownEffect(PluginSettingRow)
    const decodeCount = Schema.decodeUnknownEffect(CountRow)
    const now = Effect.map(Clock.currentTimeMillis, naiveIso)

    const count = (operation: string, rows: Effect.Effect<ReadonlyArray<unknown>, SqlError>) =>
      rows.pipe(Effect.flatMap((found) => decodeCount(found[0] ?? { total: 0 })), Effect.map((row) => row.total), storage(operation))

    const toAgent = (row: AgentRow): Effect.Effect<Agent, TenantStoreStorageError> =>
      Effect.try({
        try: () => ({ ...row, config: AgentConfig.mask(AgentConfig.expand(row.config)) }),
        catch: fail("read agent config")
      })

    const findTenant = (id: string) =>
      sql`SELECT ${sql.literal(tenantColumns)} FROM tenants WHERE id = ${id}`.pipe(
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(undefined) : decodeTenant(rows[0])),
        storage("read tenant")
      )

    const getTenant = Effect.fn("TenantStore.getTenant")(function*(id: string) {
      const tenant = yield* findTenant(id)
      if (tenant === undefined) return yield* TenantNotFound.of(id)
      return tenant
    })

    const tenantNameUsed = (name: string, except?: string) =>
      sql`SELECT id FROM tenants WHERE tenant_name = ${name}`.pipe(
        Effect.map((rows) => rows.some((row) => row["id"] !== except)),
        storage("check tenant name")
      )

    const onTenantWrite = (operation: string, name: string) => <A, R>(effect: Effect.Effect<A, SqlError, R>) =>
      Effect.mapError(effect, (error) => isUniqueViolation(error) ? TenantNameTaken.of(name) : fail(operation)(error))

    const createTenant = Effect.fn("TenantStore.createTenant")(function*(input: NewTenant, options?: { readonly id?: string }) {
      const at = yield* now
      const tenant: Tenant = {
        id: options?.id ?? newId("tenant"),
        tenant_name: input.tenant_name,
        tenant_type: input.tenant_type,
        description: input.description ?? null,
        contact_email: input.contact_email ?? null,
        tenant_config: input.tenant_config ?? null,
        status: "active",
        owner_id: input.owner_id ?? null,
        created_at: at,
        updated_at: at
      }
      const row = yield* encodeTenant(tenant).pipe(storage("create tenant"))
      return yield* transaction(
        "create tenant",
        Effect.gen(function*() {
          if (yield* tenantNameUsed(input.tenant_name)) return yield* TenantNameTaken.of(input.tenant_name)
          if (options?.id !== undefined && (yield* findTenant(options.id)) !== undefined) return yield* IdTaken.of(options.id)
          yield* sql`INSERT INTO tenants ${sql.insert(row)}`.pipe(onTenantWrite("create tenant", input.tenant_name))
          return tenant
        })
      )
    })

    const listTenants = Effect.fn("TenantStore.listTenants")(function*(request: PageRequest) {
      const offset = (request.page - 1) * request.size
      const total = yield* count("list tenants", sql`SELECT COUNT(*) AS total FROM tenants`)
      const rows = yield* sql`SELECT ${sql.literal(tenantColumns)} FROM tenants ORDER BY created_at, id
        LIMIT ${request.size} OFFSET ${offset}`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeTenant(row))),
        storage("list tenants")
      )
      return { items: rows, total, page: request.page, size: request.size, pages: pagesOf(total, request.size) }
    })

    const updateTenant = Effect.fn("TenantStore.updateTenant")(function*(id: string, patch: TenantPatch) {
      return yield* transaction(
        "update tenant",
        Effect.gen(function*() {
          const current = yield* getTenant(id)
          const name = patch.tenant_name ?? current.tenant_name
          if (name !== current.tenant_name && (yield* tenantNameUsed(name, id))) return yield* TenantNameTaken.of(name)
          const updated: Tenant = {
            ...current,
            tenant_name: name,
            description: patch.description ?? current.description,
            contact_email: patch.contact_email ?? current.contact_email,
            tenant_config: patch.tenant_config ?? current.tenant_config,
            status: patch.status ?? current.status,
            updated_at: yield* now
          }
          const row = yield* encodeTenant(updated).pipe(storage("update tenant"))
          yield* sql`UPDATE tenants SET ${sql.update(row, ["id", "tenant_type", "created_at"])} WHERE id = ${id}`.pipe(
            onTenantWrite("update tenant", name)
          )
          return updated
        })
      )
    })

    const deleteTenant = Effect.fn("TenantStore.deleteTenant")(function*(id: string) {
      const deleted = yield* deleteWhere(sql, "tenants", sql`id = ${id}`).pipe(storage("delete tenant"))
      if (deleted === 0) return yield* TenantNotFound.of(id)
    })

    const findAgentRow = (id: string) =>
      sql`SELECT ${sql.literal(agentColumns)} FROM agents WHERE id = ${id}`.pipe(
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(undefined) : decodeAgentRow(rows[0])),
        storage("read agent")
      )

    const getAgentRow = (id: string) =>
      Effect.flatMap(findAgentRow(id), (row) => row === undefined ? Effect.fail(AgentNotFound.of(id)) : Effect.succeed(row))

    const agentNameUsed = (tenantId: string, name: string, except?: string) =>
      sql`SELECT id FROM agents WHERE tenant_id = ${tenantId} AND name = ${name}`.pipe(
        Effect.map((rows) => rows.some((row) => row["id"] !== except)),
        storage("check agent name")
      )

    const checkConfig = Effect.fnUntraced(function*(patch: AgentConfig.AgentConfigPatch) {
      const misuse = AgentConfig.systemProviderMisuse(patch, yield* catalog.systemProviderNames)
      if (misuse !== undefined) return yield* AgentConfigRejected.of(misuse.provider, misuse.model)
    })

    const mergeConfig = (stored: AgentConfig.AgentConfigPatch, patch: AgentConfig.AgentConfigPatch) =>
      Effect.try({ try: () => AgentConfig.merge(stored, patch), catch: fail("merge agent config") })

    const encodeJson = (operation: string, value: unknown) =>
      Effect.try({ try: () => JSON.stringify(value), catch: fail(operation) })

    const upsertActivity = (tenantId: string, agentId: string, ttlSeconds: number) =>
      Effect.gen(function*() {
        const millis = yield* Clock.currentTimeMillis
        const activity: AgentActivity = {
          tenant_id: tenantId,
          agent_id: agentId,
          last_seen_at: naiveIso(millis),
          expires_at: naiveIso(millis + ttlSeconds * 1000),
          ttl_seconds: ttlSeconds
        }
        yield* upsert(sql, "agent_activity", activity, ["tenant_id", "agent_id"], ["last_seen_at", "ttl_seconds", "expires_at"])
          .pipe(storage("report activity"))
        return activity
      })

    const onAgentWrite = (operation: string, tenantId: string, name: string) =>
    <A, R>(effect: Effect.Effect<A, SqlError, R>) =>
      Effect.mapError(effect, (error) =>
        isUniqueViolation(error)
          ? AgentNameTaken.of(tenantId, name)
          : isConstraintViolation(error)
          ? TenantNotFound.of(tenantId)
          : fail(operation)(error))

    const createAgent = Effect.fn("TenantStore.createAgent")(function*(input: NewAgent, options?: { readonly id?: string }) {
      const patch = input.config ?? AgentConfig.empty
      yield* checkConfig(patch)
      const config = yield* mergeConfig(AgentConfig.empty, patch)
      const at = yield* now
      const row: AgentRow = {
        id: options?.id ?? newId("agent"),
        tenant_id: input.tenant_id,
        name: input.name,
        description: input.description ?? null,
        template_id: input.template_id ?? null,
        config,
        status: "active",
        created_at: at,
        updated_at: at,
        tags: input.tags ?? null
      }
      const encoded = {
        ...row,
        config: yield* encodeJson("create agent", config),
        tags: row.tags === null ? null : yield* encodeJson("create agent", row.tags)
      }
      yield* transaction(
        "create agent",
        Effect.gen(function*() {
          if ((yield* findTenant(input.tenant_id)) === undefined) return yield* TenantNotFound.of(input.tenant_id)
          if (yield* agentNameUsed(input.tenant_id, input.name)) return yield* AgentNameTaken.of(input.tenant_id, input.name)
          if (options?.id !== undefined && (yield* findAgentRow(options.id)) !== undefined) return yield* IdTaken.of(options.id)
          yield* sql`INSERT INTO agents ${sql.insert(encoded)}`.pipe(
            onAgentWrite("create agent", input.tenant_id, input.name)
          )
          yield* upsertActivity(input.tenant_id, row.id, createdAgentTtlSeconds)
        })
      )
      return yield* toAgent(row)
    })

    const getAgent = Effect.fn("TenantStore.getAgent")(function*(id: string) {
      return yield* toAgent(yield* getAgentRow(id))
    })

    const requireAgentOf = Effect.fn("TenantStore.requireAgentOf")(function*(tenantId: string, agentId: string) {
      if ((yield* findTenant(tenantId)) === undefined) return yield* TenantNotFound.of(tenantId)
      const agent = yield* findAgentRow(agentId)
      if (agent === undefined) return yield* AgentNotFound.of(agentId)
      if (agent.tenant_id !== tenantId) return yield* AgentNotInTenant.of(agentId, tenantId)
    })

    const listAgents = Effect.fn("TenantStore.listAgents")(function*(
      request: PageRequest & { readonly tenant_id: string; readonly status?: AgentStatus | undefined }
    ) {
      if ((yield* findTenant(request.tenant_id)) === undefined) return yield* TenantNotFound.of(request.tenant_id)
      const where = sql.and([
        sql`tenant_id = ${request.tenant_id}`,
        ...(request.status === undefined ? [] : [sql`status = ${request.status}`])
      ])
      const total = yield* count("list agents", sql`SELECT COUNT(*) AS total FROM agents WHERE ${where}`)
      const rows = yield* sql`SELECT ${sql.literal(agentColumns)} FROM agents WHERE ${where} ORDER BY created_at, id
        LIMIT ${request.size} OFFSET ${(request.page - 1) * request.size}`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeAgentRow(row))),
        storage("list agents")
      )
      const items = yield* Effect.forEach(rows, toAgent)
      return { items, total, page: request.page, size: request.size, pages: pagesOf(total, request.size) }
    })

    const writeAgent = (operation: string, row: AgentRow) =>
      Effect.gen(function*() {
        const changes = {
          name: row.name,
          description: row.description,
          config: yield* encodeJson(operation, row.config),
          status: row.status,
          tags: row.tags === null ? null : yield* encodeJson(operation, row.tags),
          updated_at: row.updated_at
        }
        yield* sql`UPDATE agents SET ${sql.update(changes)} WHERE id = ${row.id}`.pipe(
          Effect.mapError((error) =>
            isUniqueViolation(error) ? AgentNameTaken.of(row.tenant_id, row.name) : fail(operation)(error)
          )
        )
      })

    const updateAgent = Effect.fn("TenantStore.updateAgent")(function*(id: string, patch: AgentPatch) {
      if (patch.config !== undefined && patch.config !== null) yield* checkConfig(patch.config)
      const row = yield* transaction(
        "update agent",
        Effect.gen(function*() {
          const current = yield* getAgentRow(id)
          const name = patch.name ?? current.name
          if (name !== current.name && (yield* agentNameUsed(current.tenant_id, name, id))) {
            return yield* AgentNameTaken.of(current.tenant_id, name)
          }
          const updated: AgentRow = {
            ...current,
            name,
            description: patch.description ?? current.description,
            config: patch.config === undefined || patch.config === null
              ? current.config
              : yield* mergeConfig(current.config, patch.config),
            status: patch.status ?? current.status,
            tags: patch.tags ?? current.tags,
            updated_at: yield* now
          }
          yield* writeAgent("update agent", updated)
          return updated
        })
      )
      return yield* toAgent(row)
    })

    const deleteAgent = Effect.fn("TenantStore.deleteAgent")(function*(id: string) {
      const deleted = yield* deleteWhere(sql, "agents", sql`id = ${id}`).pipe(storage("delete agent"))
      if (deleted === 0) return yield* AgentNotFound.of(id)
    })

    const getAgentConfig = Effect.fn("TenantStore.getAgentConfig")(function*(id: string) {
      return (yield* getAgent(id)).config
    })

    const updateAgentConfig = Effect.fn("TenantStore.updateAgentConfig")(function*(
      id: string,
      patch: AgentConfig.AgentConfigPatch
    ) {
      yield* checkConfig(patch)
      const row = yield* transaction(
        "update agent config",
        Effect.gen(function*() {
          const current = yield* getAgentRow(id)
          const updated: AgentRow = {
            ...current,
            config: yield* mergeConfig(current.config, patch),
            updated_at: yield* now
          }
          const config = yield* encodeJson("update agent config", updated.config)
          yield* sql`UPDATE agents SET config = ${config}, updated_at = ${updated.updated_at} WHERE id = ${id}`.pipe(
            storage("update agent config")
          )
          return updated
        })
      )
      return (yield* toAgent(row)).config
    })

    const reportActivity = Effect.fn("TenantStore.reportActivity")(function*(report: ActivityReport) {
      return yield* transaction(
        "report activity",
        Effect.gen(function*() {
          const tenant = yield* sql`SELECT status FROM tenants WHERE id = ${report.tenant_id}`.pipe(
            Effect.flatMap(Effect.forEach((row) => Schema.decodeUnknownEffect(StatusRow)(row))),
            storage("report activity")
          )
          if (tenant[0]?.status !== "active") {
            return yield* new ActivityRejected({ reason: "tenant_inactive", message: "租户不存在或未激活" })
          }
          const agent = yield* sql`SELECT tenant_id, status FROM agents WHERE id = ${report.agent_id}`.pipe(
            Effect.flatMap(Effect.forEach((row) => Schema.decodeUnknownEffect(AgentOwnerRow)(row))),
            storage("report activity")
          )
          const owner = agent[0]
          if (owner === undefined) return yield* new ActivityRejected({ reason: "agent_missing", message: "Agent不存在" })
          if (owner.tenant_id !== report.tenant_id) {
            return yield* new ActivityRejected({ reason: "agent_not_in_tenant", message: "Agent不属于指定租户" })
          }
          if (owner.status === "inactive") {
            return yield* new ActivityRejected({ reason: "agent_inactive", message: "Agent未激活" })
          }
          return yield* upsertActivity(report.tenant_id, report.agent_id, report.ttl_seconds)
        })
      )
    })

    const listActivity = Effect.fn("TenantStore.listActivity")(function*(tenantId?: string) {
      const at = yield* now
      const where = sql.and([
        sql`expires_at > ${at}`,
        ...(tenantId === undefined ? [] : [sql`tenant_id = ${tenantId}`])
      ])
      return yield* sql`SELECT tenant_id, agent_id, last_seen_at, expires_at, ttl_seconds FROM agent_activity
        WHERE ${where} ORDER BY tenant_id, agent_id`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeActivity(row))),
        storage("list activity")
      )
    })

    const pluginSettings = Effect.fn("TenantStore.pluginSettings")(function*(tenantId: string, agentId?: string) {
      const scope = agentId === undefined ? sql`agent_id IS NULL` : sql`(agent_id IS NULL OR agent_id = ${agentId})`
      const rows = yield* sql`SELECT plugin_name, enabled, config, agent_id FROM plugin_settings
        WHERE tenant_id = ${tenantId} AND ${scope} ORDER BY plugin_name`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodePlugin(row))),
        storage("read plugin settings")
      )
      const merged = new Map<string, PluginSetting>()
      for (const row of rows) {
        if (row.agent_id === null && merged.has(row.plugin_name)) continue
        merged.set(row.plugin_name, { plugin_name: row.plugin_name, enabled: row.enabled, config: row.config })
      }
      return [...merged.values()]
    })

    const savePluginSetting = Effect.fn("TenantStore.savePluginSetting")(function*(
      tenantId: string,
      agentId: string | undefined,
      input: PluginSettingInput
    ) {
      const at = yield* now
      const row = {
        id: `ps_${tenantId}_${agentId ?? "global"}_${input.plugin_name}`,
        tenant_id: tenantId,
        agent_id: agentId ?? null,
        plugin_name: input.plugin_name,
        enabled: toDbBoolean(input.enabled),
        config: yield* encodeJson("save plugin setting", input.config),
        created_at: at,
        updated_at: at
      }
      yield* transaction(
        "save plugin setting",
        Effect.gen(function*() {
          if (agentId === undefined) {
            if ((yield* findTenant(tenantId)) === undefined) return yield* TenantNotFound.of(tenantId)
          } else {
            yield* requireAgentOf(tenantId, agentId)
          }
          yield* upsert(sql, "plugin_settings", row, ["id"], ["enabled", "config", "updated_at"]).pipe(
            storage("save plugin setting")
          )
        })
      )
      return { plugin_name: input.plugin_name, enabled: input.enabled, config: input.config }
    })

    return TenantStore.of({
      backend,
      probe: sql`SELECT 1 AS ok`.pipe(Effect.asVoid, storage("probe database")),
      createTenant,
      getTenant,
      listTenants,
      updateTenant,
      deleteTenant,
      createAgent,
      getAgent,
      requireAgentOf,
      listAgents,
      updateAgent,
      deleteAgent,
      getAgentConfig,
      updateAgentConfig,
      reportActivity,
      listActivity,
      pluginSettings,
      savePluginSetting
    })
  })

  /** The store on the `SqlClient` it is given, with its tables migrated. */
  static readonly layer: Layer.Layer<
    TenantStore,
    Database.DatabaseMigrationError,
    SqlClient.SqlClient | SystemCatalog
  > = Layer.effect(TenantStore, TenantStore.make).pipe(Layer.provide(Layer.mergeAll(migrations, foreignKeys)))
}
