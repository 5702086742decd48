/**
 * Moves an existing MaimConfig deployment into MaiKit: reads an original MaimConfig / maim_db database (MySQL or
 * MariaDB, or SQLite given as maim_db's own `sqlite+aiosqlite:///…` URL; the tables of
 * `shared/contracts/control-plane-api.md` §3.2 and maim_db's per-agent config tables) and writes its tenants,
 * agents with their configs, activity rows, plugin settings and API keys into MaiKit's store. The original kept
 * keys in plain text; MaiKit stores their SHA-256 hashes, so the same keys keep validating.
 *
 * - The source is never written: a MySQL source is opened with every session `READ ONLY`, a SQLite file read-only.
 * - Ids, names, statuses, timestamps, usage counts and expiries are kept. A record already in MaiKit (same id, or
 *   for keys the same key) is left as it is, so a second run changes nothing.
 * - Everything is written in one transaction: an import lands whole or not at all. `dryRun` runs the same import
 *   and rolls it back, so its counts are what a real run would do.
 * - What cannot be imported is skipped with a note saying why (an agent whose tenant the original had deleted, a
 *   name MaiKit's unique indexes refuse, a key that names another tenant than its row …).
 */
import { Context, Effect, Exit, Layer, Option, Redacted, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Path from "node:path"
import * as AgentConfig from "./AgentConfig.ts"
import * as ApiKeyAuth from "./ApiKeyAuth.ts"
import * as ControlPlaneDatabase from "./ControlPlaneDatabase.ts"
import { naiveIso } from "./internal/controlPlaneSql.ts"
import {
  configTables,
  isObject,
  jsonOf,
  millisOf,
  naiveIsoOf,
  sectionOf,
  SourceActivity,
  SourceAgent,
  SourceKey,
  SourcePlugin,
  SourceTenant,
  truthy
} from "./internal/originalDatabase.ts"
import { MaimConfigImportError } from "./MaimConfigImportError.ts"
import * as SqliteClient from "../platform/SqliteClient.ts"
import * as TenantStore from "./TenantStore.ts"

export { MaimConfigImportError } from "./MaimConfigImportError.ts"

export const Counts = Schema.Struct({
  /** Rows found in the source. */
  read: Schema.Int,
  /** Written into MaiKit (in a dry run: would be). */
  imported: Schema.Int,
  /** Already in MaiKit, left as they are. */
  unchanged: Schema.Int,
  /** Not importable; `notes` says why. */
  skipped: Schema.Int
})
export type Counts = typeof Counts.Type

export const Summary = Schema.Struct({
  source: Schema.String,
  dry_run: Schema.Boolean,
  tenants: Counts,
  agents: Counts,
  /**
   * Agents' configs: maim_db's per-agent config tables, merged over the sections of the raw `agents.config`
   * column. `read` counts the agents that have one.
   */
  agent_configs: Counts,
  api_keys: Counts,
  activity: Counts,
  plugin_settings: Counts,
  notes: Schema.Array(Schema.String)
}).annotate({ identifier: "MaimConfigImportSummary" })
export type Summary = typeof Summary.Type

export interface Options {
  /** Run the import and roll it back: the summary tells what a real run would do. */
  readonly dryRun?: boolean | undefined
  /** Where a relative SQLite path is resolved. Default the process's working directory. */
  readonly cwd?: string | undefined
}

/**
 * The SQLite file a maim_db URL names, with SQLAlchemy's reading: `sqlite+aiosqlite:///data/MaiBot.db` is the
 * relative path `data/MaiBot.db`, `sqlite:////srv/MaiBot.db` the absolute `/srv/MaiBot.db`.
 */
export const sqliteFileOf = (url: string, cwd: string): string | undefined => {
  const rest = /^sqlite(?:\+[a-z0-9]+)?:\/\/(.*)$/i.exec(url)?.[1]
  if (rest === undefined) return undefined
  const path = decodeURIComponent(rest.replace(/\?.*$/, "")).replace(/^\//, "")
  return path === "" ? undefined : Path.resolve(cwd, path)
}

class DryRun extends Schema.TaggedError<DryRun>()("DryRun", {}) {}

const emptyCounts = (): { read: number; imported: number; unchanged: number; skipped: number } => ({
  read: 0,
  imported: 0,
  unchanged: 0,
  skipped: 0
})

/**
 * Imports the original database at `source` into the control plane's store (the `SqlClient`, `TenantStore` and
 * `ApiKeyAuth` in context).
 */
export const run = Effect.fn("MaimConfigImport.run")(function*(
  source: Redacted.Redacted<string>,
  options: Options = {}
) {
  const raw = Redacted.value(source)
  const shown = ControlPlaneDatabase.describeUrl(raw)
  const sourceError = (reason: "open" | "read", detail: string, cause?: unknown) =>
    new MaimConfigImportError({ source: shown, reason, message: `${shown}: ${detail}`, cause })

  const sqliteFile = sqliteFileOf(raw, options.cwd ?? process.cwd())
  const sourceLayer: Layer.Layer<SqlClient.SqlClient, unknown> = ControlPlaneDatabase.isMysqlUrl(raw)
    ? ControlPlaneDatabase.layerMysql(source, { readonly: true, maxConnections: 2 })
    : sqliteFile !== undefined
    ? SqliteClient.layer({ filename: sqliteFile, readonly: true, fileMustExist: true })
    : Layer.effect(
      SqlClient.SqlClient,
      Effect.fail(
        new Error("use a mysql://… (or mysql+aiomysql://…) URL, or maim_db's sqlite+aiosqlite:///<path> URL")
      )
    )
  const from = Context.get(
    yield* Layer.build(sourceLayer).pipe(
      Effect.mapError((cause) =>
        sourceError("open", `cannot open the source: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
    ),
    SqlClient.SqlClient
  )

  const sql = yield* SqlClient.SqlClient
  const store = yield* TenantStore.TenantStore
  const auth = yield* ApiKeyAuth.ApiKeyAuth

  const read = <S extends Schema.Top>(table: string, schema: S, where?: { readonly agentId: string }) =>
    (where === undefined
      ? from`SELECT * FROM ${from(table)}`
      : from`SELECT * FROM ${from(table)} WHERE agent_id = ${where.agentId}`).pipe(
        Effect.mapError((cause: SqlError) => sourceError("read", `cannot read table ${table}: ${cause.message}`, cause)),
        Effect.flatMap(Effect.forEach((row) =>
          Schema.decodeUnknownEffect(schema)(row).pipe(
            Effect.mapError((cause) => sourceError("read", `a row of ${table} is not in the original's shape: ${cause.message}`, cause))
          )
        ))
      )

  const tables = new Set(
    (yield* from.onDialectOrElse({
      mysql: () => from<{ readonly name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`,
      orElse: () => from<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
    }).pipe(Effect.mapError((cause) => sourceError("read", `cannot list the source's tables: ${cause.message}`, cause))))
      .map((row) => String(row.name).toLowerCase())
  )
  for (const required of ["tenants", "agents", "api_keys"]) {
    if (!tables.has(required)) {
      return yield* sourceError("read", `no ${required} table: not a MaimConfig / maim_db database`)
    }
  }

  const notes: Array<string> = []
  const counts = {
    tenants: emptyCounts(),
    agents: emptyCounts(),
    agent_configs: emptyCounts(),
    api_keys: emptyCounts(),
    activity: emptyCounts(),
    plugin_settings: emptyCounts()
  }
  const skip = (kind: keyof typeof counts, note: string) =>
    Effect.sync(() => {
      counts[kind].skipped++
      notes.push(note)
    })

  const storage = (operation: string) => <A, R>(effect: Effect.Effect<A, SqlError, R>) =>
    Effect.mapError(effect, (cause) =>
      new MaimConfigImportError({ source: shown, reason: "write", message: `cannot ${operation}: ${cause.message}`, cause }))

  /** Keeps the original's timestamps on a record MaiKit just created with its own. */
  const keepTimes = (table: string, id: string, created: string | number | null | undefined, updated: string | number | null | undefined) => {
    const createdAt = naiveIsoOf(created)
    const updatedAt = naiveIsoOf(updated) ?? createdAt
    return createdAt === undefined || updatedAt === undefined
      ? Effect.void
      : sql`UPDATE ${sql(table)} SET created_at = ${createdAt}, updated_at = ${updatedAt} WHERE id = ${id}`.pipe(
        storage(`keep the timestamps of ${id}`),
        Effect.asVoid
      )
  }

  const configOf = Effect.fnUntraced(function*(agent: typeof SourceAgent.Type) {
    const document: Record<string, unknown> = {}
    let structured = false
    for (const { tables: names, path, defaults } of configTables) {
      const table = names.find((name) => tables.has(name))
      if (table === undefined) continue
      const [row] = yield* read(table, Schema.Record(Schema.String, Schema.Unknown), { agentId: agent.id })
      if (row === undefined) continue
      structured = true
      const section = sectionOf(row, defaults)
      if (path.length === 1) document[path[0]] = section
      else {
        const overrides = (document["config_overrides"] ??= {}) as Record<string, unknown>
        overrides[path[1]] = section
      }
    }
    const model = yield* modelOf(agent.id)
    if (model !== undefined) {
      structured = true
      const overrides = (document["config_overrides"] ??= {}) as Record<string, unknown>
      overrides["model"] = model
    }
    const decode = Schema.decodeUnknownExit(AgentConfig.AgentConfigPatch)
    const rawDocument = jsonOf(agent.config)
    const rawParts = isObject(rawDocument)
      ? Object.fromEntries(
        Object.entries(rawDocument).filter(([key]) => key === "persona" || key === "bot_overrides" || key === "config_overrides")
      )
      : {}
    const rawDecoded = decode(rawParts)
    const rawConfig = Exit.isSuccess(rawDecoded) ? rawDecoded.value : {}
    const decoded = decode(document)
    const found = structured || Object.keys(rawConfig).length > 0
    if (Exit.isFailure(decoded)) return { config: rawConfig, found, valid: false }
    return { config: AgentConfig.merge(rawConfig, decoded.value), found, valid: true }
  })

  /** The `model` section: `model_config_overrides` (JSON columns), or the newer provider and model tables. */
  const modelOf = Effect.fnUntraced(function*(agentId: string) {
    const model: Record<string, unknown> = {}
    if (tables.has("model_config_overrides")) {
      const [row] = yield* read("model_config_overrides", Schema.Record(Schema.String, Schema.Unknown), { agentId })
      if (row !== undefined) {
        for (const key of ["api_providers", "models", "model_task_config"]) {
          const value = jsonOf(row[key])
          if (value !== undefined && value !== null) model[key] = value
        }
      }
    }
    if (tables.has("api_provider_configs")) {
      const rows = yield* read("api_provider_configs", Schema.Record(Schema.String, Schema.Unknown), { agentId })
      if (rows.length > 0) model["api_providers"] = rows.map((row) => sectionOf(row, AgentConfig.apiProvider.defaults))
    }
    if (tables.has("model_info_configs")) {
      const rows = yield* read("model_info_configs", Schema.Record(Schema.String, Schema.Unknown), { agentId })
      if (rows.length > 0) {
        model["models"] = rows.map((row) => {
          const { provider_name, ...rest } = sectionOf(row, AgentConfig.modelInfo.defaults)
          return provider_name === undefined ? rest : { ...rest, api_provider: provider_name }
        })
      }
    }
    return Object.keys(model).length === 0 ? undefined : model
  })

  const importTenants = Effect.gen(function*() {
    for (const tenant of yield* read("tenants", SourceTenant)) {
      counts.tenants.read++
      if ((yield* Effect.option(store.getTenant(tenant.id))).pipe(Option.isSome)) {
        counts.tenants.unchanged++
        continue
      }
      const input = Schema.decodeUnknownExit(TenantStore.NewTenant)({
        tenant_name: tenant.tenant_name,
        tenant_type: tenant.tenant_type,
        description: tenant.description ?? null,
        contact_email: tenant.contact_email ?? null,
        tenant_config: isObject(jsonOf(tenant.tenant_config)) ? jsonOf(tenant.tenant_config) : null,
        owner_id: tenant.owner_id ?? null
      })
      const status = Schema.decodeUnknownExit(TenantStore.TenantStatus)(tenant.status)
      if (Exit.isFailure(input) || Exit.isFailure(status) || tenant.id === "" || tenant.id.length > 50) {
        yield* skip("tenants", `tenant ${tenant.id}: fields outside the original's types or sizes`)
        continue
      }
      const created = yield* store.createTenant(input.value, { id: tenant.id }).pipe(
        Effect.map(() => true),
        Effect.catchTags({
          TenantNameTaken: () => Effect.as(skip("tenants", `tenant ${tenant.id}: name "${tenant.tenant_name}" is taken in MaiKit`), false),
          IdTaken: () => Effect.as(skip("tenants", `tenant ${tenant.id}: id taken`), false)
        })
      )
      if (!created) continue
      if (status.value !== "active") yield* store.updateTenant(tenant.id, { status: status.value })
      yield* keepTimes("tenants", tenant.id, tenant.created_at, tenant.updated_at)
      counts.tenants.imported++
    }
  })

  const importAgents = Effect.gen(function*() {
    for (const agent of yield* read("agents", SourceAgent)) {
      counts.agents.read++
      const { config, found, valid } = yield* configOf(agent)
      if (found) counts.agent_configs.read++
      if ((yield* Effect.option(store.getAgent(agent.id))).pipe(Option.isSome)) {
        counts.agents.unchanged++
        if (found) counts.agent_configs.unchanged++
        continue
      }
      const skipAgent = (note: string) =>
        Effect.andThen(skip("agents", note), Effect.sync(() => found && counts.agent_configs.skipped++))
      const status = Schema.decodeUnknownExit(TenantStore.AgentStatus)(agent.status)
      const fields = {
        tenant_id: agent.tenant_id,
        name: agent.name,
        description: agent.description ?? null,
        template_id: agent.template_id ?? null
      }
      if (Exit.isFailure(status) || Exit.isFailure(Schema.decodeUnknownExit(TenantStore.NewAgent)(fields)) || agent.id.length > 50) {
        yield* skipAgent(`agent ${agent.id}: fields outside the original's types or sizes`)
        continue
      }
      let configImported = found && valid
      if (found && !valid) notes.push(`agent ${agent.id}: its stored config is not in the original's shape; imported without it`)
      const create = (withConfig: AgentConfig.AgentConfigPatch) =>
        store.createAgent({ ...fields, config: withConfig }, { id: agent.id }).pipe(Effect.map(() => true))
      const created = yield* create(valid ? config : {}).pipe(
        Effect.catchTag("AgentConfigRejected", (rejected) => {
          notes.push(`agent ${agent.id}: config not imported (${rejected.message})`)
          configImported = false
          return create({})
        }),
        Effect.catchTags({
          TenantNotFound: () => Effect.as(skipAgent(`agent ${agent.id}: its tenant ${agent.tenant_id} is not there`), false),
          AgentNameTaken: () =>
            Effect.as(skipAgent(`agent ${agent.id}: name "${agent.name}" is taken in tenant ${agent.tenant_id}`), false),
          IdTaken: () => Effect.as(skipAgent(`agent ${agent.id}: id taken`), false)
        })
      )
      if (!created) continue
      if (configImported) counts.agent_configs.imported++
      else if (found) counts.agent_configs.skipped++
      // Creating an agent reports it active for 12 h; the original's own activity row, if any, replaces that.
      yield* sql`DELETE FROM agent_activity WHERE tenant_id = ${agent.tenant_id} AND agent_id = ${agent.id}`.pipe(
        storage(`import agent ${agent.id}`)
      )
      if (status.value !== "active") yield* store.updateAgent(agent.id, { status: status.value })
      yield* keepTimes("agents", agent.id, agent.created_at, agent.updated_at)
      counts.agents.imported++
    }
  })

  const importKeys = Effect.gen(function*() {
    for (const key of yield* read("api_keys", SourceKey)) {
      counts.api_keys.read++
      const parsed = ApiKeyAuth.parseKey(key.api_key)
      if (parsed === undefined) {
        yield* skip("api_keys", `key ${key.id}: not in the original's key format`)
        continue
      }
      if (parsed.tenant_id !== key.tenant_id || parsed.agent_id !== key.agent_id) {
        yield* skip("api_keys", `key ${key.id}: names tenant/agent ${parsed.tenant_id}/${parsed.agent_id} but belongs to ${key.tenant_id}/${key.agent_id}, so it never validated`)
        continue
      }
      const existing = yield* sql`SELECT id FROM api_keys WHERE key_hash = ${ApiKeyAuth.hash(key.api_key)}`.pipe(
        storage("read API keys")
      )
      if (existing.length > 0) {
        counts.api_keys.unchanged++
        continue
      }
      const permissions = jsonOf(key.permissions)
      const expiresAt = naiveIsoOf(key.expires_at)
      const input = Schema.decodeUnknownExit(ApiKeyAuth.ImportedApiKey)({
        api_key: key.api_key,
        name: key.name,
        description: key.description ?? null,
        permissions: Array.isArray(permissions) ? permissions : [],
        expires_at: expiresAt === undefined ? null : `${expiresAt.slice(0, 23)}Z`
      })
      const status = Schema.decodeUnknownExit(ApiKeyAuth.ApiKeyStatus)(key.status)
      if (Exit.isFailure(input) || Exit.isFailure(status)) {
        yield* skip("api_keys", `key ${key.id}: fields outside the original's types or sizes`)
        continue
      }
      const stored = yield* auth.importKey(input.value).pipe(
        Effect.map(Option.some),
        Effect.catchTags({
          ApiKeyAlreadyStored: () => Effect.sync(() => {
            counts.api_keys.unchanged++
            return Option.none()
          }),
          ApiKeyMalformed: () => Effect.as(skip("api_keys", `key ${key.id}: not in the original's key format`), Option.none()),
          TenantNotFound: () => Effect.as(skip("api_keys", `key ${key.id}: its tenant ${key.tenant_id} is not there`), Option.none()),
          AgentNotFound: () => Effect.as(skip("api_keys", `key ${key.id}: its agent ${key.agent_id} is not there`), Option.none()),
          AgentNotInTenant: () =>
            Effect.as(skip("api_keys", `key ${key.id}: agent ${key.agent_id} is not in tenant ${key.tenant_id}`), Option.none()),
          ApiKeyNameTaken: () =>
            Effect.as(skip("api_keys", `key ${key.id}: name "${key.name}" is taken in tenant ${key.tenant_id}`), Option.none())
        })
      )
      if (Option.isNone(stored)) continue
      const id = stored.value.api_key_id
      const usage = Number(key.usage_count ?? 0)
      yield* sql`UPDATE api_keys SET ${
        sql.update({
          status: status.value,
          usage_count: Number.isSafeInteger(usage) && usage > 0 ? usage : 0,
          last_used_at: naiveIsoOf(key.last_used_at) ?? null
        })
      } WHERE id = ${id}`.pipe(storage(`import key ${key.id}`))
      yield* keepTimes("api_keys", id, key.created_at, key.updated_at)
      counts.api_keys.imported++
    }
  })

  const importActivity = Effect.gen(function*() {
    if (!tables.has("agent_active_states")) return
    for (const row of yield* read("agent_active_states", SourceActivity)) {
      counts.activity.read++
      const lastSeen = naiveIsoOf(row.last_seen_at)
      const ttl = Number(row.ttl_seconds)
      if (lastSeen === undefined || !Number.isSafeInteger(ttl) || ttl <= 0 || ttl > TenantStore.maxTtlSeconds) {
        yield* skip("activity", `activity of ${row.tenant_id}/${row.agent_id}: not in the original's shape`)
        continue
      }
      const owner = yield* Effect.option(store.getAgent(row.agent_id))
      if (Option.isNone(owner) || owner.value.tenant_id !== row.tenant_id) {
        yield* skip("activity", `activity of ${row.tenant_id}/${row.agent_id}: no such agent in that tenant`)
        continue
      }
      const existing = yield* sql`SELECT 1 AS found FROM agent_activity WHERE tenant_id = ${row.tenant_id} AND agent_id = ${row.agent_id}`
        .pipe(storage("read activity"))
      if (existing.length > 0) {
        counts.activity.unchanged++
        continue
      }
      yield* sql`INSERT INTO agent_activity ${
        sql.insert({
          tenant_id: row.tenant_id,
          agent_id: row.agent_id,
          last_seen_at: lastSeen,
          ttl_seconds: ttl,
          expires_at: naiveIsoOf(row.expires_at) ?? naiveIso(millisOf(lastSeen) + ttl * 1000)
        })
      }`.pipe(storage("import activity"))
      counts.activity.imported++
    }
  })

  const importPlugins = Effect.gen(function*() {
    if (!tables.has("plugin_settings")) return
    for (const row of yield* read("plugin_settings", SourcePlugin)) {
      counts.plugin_settings.read++
      const agentId = row.agent_id ?? undefined
      const config = jsonOf(row.config)
      const input = Schema.decodeUnknownExit(TenantStore.PluginSettingInput)({
        plugin_name: row.plugin_name,
        enabled: truthy(row.enabled),
        config: isObject(config) ? config : {}
      })
      if (Exit.isFailure(input)) {
        yield* skip("plugin_settings", `plugin setting ${row.plugin_name} of ${row.tenant_id}: not in the original's shape`)
        continue
      }
      const id = `ps_${row.tenant_id}_${agentId ?? "global"}_${row.plugin_name}`
      const existing = yield* sql`SELECT 1 AS found FROM plugin_settings WHERE id = ${id}`.pipe(storage("read plugin settings"))
      if (existing.length > 0) {
        counts.plugin_settings.unchanged++
        continue
      }
      const saved = yield* store.savePluginSetting(row.tenant_id, agentId, input.value).pipe(
        Effect.map(() => true),
        Effect.catchTags({
          TenantNotFound: () => Effect.as(skip("plugin_settings", `plugin setting ${id}: its tenant is not there`), false),
          AgentNotFound: () => Effect.as(skip("plugin_settings", `plugin setting ${id}: its agent is not there`), false),
          AgentNotInTenant: () => Effect.as(skip("plugin_settings", `plugin setting ${id}: its agent is in another tenant`), false)
        })
      )
      if (saved) counts.plugin_settings.imported++
    }
  })

  const everything = Effect.gen(function*() {
    yield* importTenants
    yield* importAgents
    yield* importKeys
    yield* importActivity
    yield* importPlugins
    if (options.dryRun === true) return yield* new DryRun()
  })
  yield* sql.withTransaction(everything).pipe(
    Effect.catchTag("DryRun", () => Effect.void),
    Effect.mapError((error) =>
      error._tag === "MaimConfigImportError"
        ? error
        : new MaimConfigImportError({ source: shown, reason: "write", message: `cannot write the import: ${error.message}`, cause: error })
    )
  )
  return {
    source: shown,
    dry_run: options.dryRun === true,
    ...counts,
    notes
  } satisfies Summary
}, Effect.scoped)
