/**
 * The control-plane family's contract: MaimConfig's routes (`shared/contracts/control-plane-api.md` §1,
 * §4–§8) with its response envelope, so the original's clients keep working. Kept apart from the handlers
 * so a host can derive a typed client or an OpenAPI document without the server.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { AgentConfig, ApiKeyAuth, SystemCatalog, TenantStore } from "@maikit/core/control-plane"
import { acceptUnknownFields } from "../internal/unknownFields.ts"

/**
 * Every `/api/v2` response (and `/api/v1/usage/log`): business errors are HTTP 200 with `success: false`
 * and an `error_code`, as the original's clients expect.
 */
export const Envelope = <S extends Schema.Top>(data: S) =>
  Schema.Struct({
    success: Schema.Boolean,
    message: Schema.String,
    data: Schema.NullOr(data),
    /** UTC, second precision: `2025-12-02T10:30:00Z`. */
    timestamp: Schema.String,
    request_id: Schema.String,
    tenant_id: Schema.NullOr(Schema.String),
    /** Seconds. */
    execution_time: Schema.NullOr(Schema.Number),
    error: Schema.NullOr(Schema.String),
    error_code: Schema.NullOr(Schema.String)
  })

/** FastAPI's validation issues (which the original's clients parse) in an envelope. */
export const ValidationError = Schema.Struct({
  ...Envelope(Schema.Null).fields,
  detail: Schema.Array(Schema.Struct({
    type: Schema.String,
    loc: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
    msg: Schema.String
  }))
}).annotate({ identifier: "ControlPlaneValidationError" })

const Invalid = ValidationError.pipe(HttpApiSchema.status(422))

/** Bounded so that an offset always stays an exact integer. */
const PageNumber = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))
const PageSize = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 }))

/** A tenant, with `tenant_id` beside `id` (the original's test script reads one, maim_db's test the other). */
export const TenantView = Schema.Struct({ ...TenantStore.Tenant.fields, tenant_id: Schema.String })
  .annotate({ identifier: "TenantView" })
export const AgentView = Schema.Struct({ ...TenantStore.Agent.fields, agent_id: Schema.String })
  .annotate({ identifier: "AgentView" })
export const ApiKeyView = Schema.Struct({ ...ApiKeyAuth.ApiKey.fields, id: Schema.String })
  .annotate({ identifier: "ApiKeyView" })
/** Creation is the only time the full key is shown. */
export const CreatedApiKey = Schema.Struct({ ...ApiKeyView.fields, warning: Schema.String })
  .annotate({ identifier: "CreatedApiKey" })

const PageOf = <S extends Schema.Top>(item: S) => TenantStore.Page(item)

export const Deleted = Schema.Struct({ id: Schema.String })

export const Pagination = Schema.Struct({
  page: Schema.Int,
  page_size: Schema.Int,
  total: Schema.Int,
  total_pages: Schema.Int,
  has_next: Schema.Boolean,
  has_prev: Schema.Boolean
})

export const ApiKeyPage = Schema.Struct({ items: Schema.Array(ApiKeyView), pagination: Pagination })

export const ApiKeyInput = Schema.Struct({ api_key: ApiKeyAuth.PresentedKey })

export const ValidateRequest = Schema.Struct({
  api_key: ApiKeyInput.fields.api_key,
  required_permission: Schema.optionalKey(Schema.NullOr(ApiKeyAuth.Permission)),
  /** When true (the default) the use is counted, as in the original. */
  check_rate_limit: Schema.optionalKey(Schema.Boolean)
}).annotate({ identifier: "ValidateApiKeyRequest" })

export const PermissionRequest = Schema.Struct({
  api_key: ApiKeyInput.fields.api_key,
  permission: ApiKeyAuth.Permission
}).annotate({ identifier: "CheckPermissionRequest" })

export const ActivityList = Schema.Struct({ items: Schema.Array(TenantStore.AgentActivity), count: Schema.Int })

export const UsageLog = Schema.Struct({
  tenant_id: Schema.optionalKey(Schema.NullOr(TenantStore.IdParam)),
  agent_id: Schema.optionalKey(Schema.NullOr(TenantStore.IdParam)),
  user_id: Schema.optionalKey(Schema.NullOr(TenantStore.Text(100))),
  action: TenantStore.Name(200),
  details: Schema.optionalKey(Schema.NullOr(Schema.JsonObject)),
  timestamp: Schema.optionalKey(Schema.NullOr(TenantStore.Text(64)))
}).annotate({ identifier: "UsageLog" })

export const SystemModels = Schema.Struct({
  providers: Schema.Array(SystemCatalog.SystemProvider),
  models: Schema.Array(SystemCatalog.SystemModel),
  defaults: Schema.JsonObject
})

export const Health = Schema.Struct({
  status: Schema.Literals(["healthy", "unhealthy"]),
  /** Epoch seconds. */
  timestamp: Schema.Number,
  version: Schema.String,
  services: Schema.Struct({ database: Schema.String, api: Schema.String }),
  database: Schema.Struct({
    backend: Schema.String,
    latency_ms: Schema.NullOr(Schema.Number),
    error: Schema.NullOr(Schema.String)
  }),
  /**
   * MaiKit: API key uses counted in memory and not yet written (a crash would lose them; a graceful stop writes
   * them). Written once `flush_max_pending` are waiting, and at least every `flush_interval_ms`.
   */
  api_key_usage: Schema.Struct({
    pending: Schema.Int,
    flush_interval_ms: Schema.Int,
    flush_max_pending: Schema.Int
  })
}).annotate({ identifier: "ControlPlaneHealth" })

export const Info = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  version: Schema.String,
  architecture: Schema.Struct({
    isolation_levels: Schema.Array(Schema.String),
    auth_mode: Schema.String,
    database: Schema.String
  }),
  supported_features: Schema.Array(Schema.String),
  server: Schema.String
}).annotate({ identifier: "ControlPlaneInfo" })

const tenantParams = { tenant_id: TenantStore.IdParam }
const agentParams = { agent_id: TenantStore.IdParam }
const keyParams = { api_key_id: TenantStore.IdParam }

export class TenantsGroup extends HttpApiGroup.make("controlPlaneTenants")
  .add(
    HttpApiEndpoint.post("createTenant", "/api/v2/tenants", {
      payload: TenantStore.NewTenant,
      success: Envelope(TenantView),
      error: Invalid
    }),
    HttpApiEndpoint.get("listTenants", "/api/v2/tenants", {
      query: { page: Schema.optional(PageNumber), size: Schema.optional(PageSize) },
      success: Envelope(PageOf(TenantView)),
      error: Invalid
    }),
    HttpApiEndpoint.get("getTenant", "/api/v2/tenants/:tenant_id", {
      params: tenantParams,
      success: Envelope(TenantView),
      error: Invalid
    }),
    HttpApiEndpoint.put("updateTenant", "/api/v2/tenants/:tenant_id", {
      params: tenantParams,
      payload: TenantStore.TenantPatch,
      success: Envelope(TenantView),
      error: Invalid
    }),
    HttpApiEndpoint.delete("deleteTenant", "/api/v2/tenants/:tenant_id", {
      params: tenantParams,
      success: Envelope(Deleted),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Control plane: tenants",
    description: "Deleting a tenant also deletes its agents, API keys, activity and plugin settings"
  }))
{}

export class AgentsGroup extends HttpApiGroup.make("controlPlaneAgents")
  .add(
    HttpApiEndpoint.post("createAgent", "/api/v2/agents", {
      payload: TenantStore.NewAgent,
      success: Envelope(AgentView),
      error: Invalid
    }),
    HttpApiEndpoint.get("listAgents", "/api/v2/agents", {
      query: {
        tenant_id: TenantStore.IdParam,
        page: Schema.optional(PageNumber),
        size: Schema.optional(PageSize),
        status: Schema.optional(TenantStore.AgentStatus)
      },
      success: Envelope(PageOf(AgentView)),
      error: Invalid
    }),
    HttpApiEndpoint.get("getAgent", "/api/v2/agents/:agent_id", {
      params: agentParams,
      success: Envelope(AgentView),
      error: Invalid
    }),
    HttpApiEndpoint.put("updateAgent", "/api/v2/agents/:agent_id", {
      params: agentParams,
      payload: TenantStore.AgentPatch,
      success: Envelope(AgentView),
      error: Invalid
    }),
    HttpApiEndpoint.delete("deleteAgent", "/api/v2/agents/:agent_id", {
      params: agentParams,
      success: Envelope(Deleted),
      error: Invalid
    }),
    HttpApiEndpoint.get("getAgentConfig", "/api/v2/agents/:agent_id/config", {
      params: agentParams,
      success: Envelope(AgentConfig.AgentConfig),
      error: Invalid
    }),
    HttpApiEndpoint.put("updateAgentConfig", "/api/v2/agents/:agent_id/config", {
      params: agentParams,
      payload: AgentConfig.AgentConfigPatch,
      success: Envelope(AgentConfig.AgentConfig),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Control plane: agents",
    description: "Agent configs keep every section and merge updates; provider secrets read back as ********"
  }))
{}

export class ApiKeysGroup extends HttpApiGroup.make("controlPlaneApiKeys")
  .add(
    HttpApiEndpoint.post("createApiKey", "/api/v2/api-keys", {
      payload: ApiKeyAuth.NewApiKey,
      success: Envelope(CreatedApiKey),
      error: Invalid
    }),
    HttpApiEndpoint.post("importApiKey", "/api/v2/api-keys/import", {
      payload: ApiKeyAuth.ImportedApiKey,
      success: Envelope(ApiKeyView),
      error: Invalid
    }),
    HttpApiEndpoint.get("listApiKeys", "/api/v2/api-keys", {
      query: {
        tenant_id: TenantStore.IdParam,
        agent_id: Schema.optional(TenantStore.IdParam),
        status: Schema.optional(ApiKeyAuth.ApiKeyStatus),
        page: Schema.optional(PageNumber),
        page_size: Schema.optional(PageSize)
      },
      success: Envelope(ApiKeyPage),
      error: Invalid
    }),
    HttpApiEndpoint.get("getApiKey", "/api/v2/api-keys/:api_key_id", {
      params: keyParams,
      success: Envelope(ApiKeyView),
      error: Invalid
    }),
    HttpApiEndpoint.put("updateApiKey", "/api/v2/api-keys/:api_key_id", {
      params: keyParams,
      payload: ApiKeyAuth.ApiKeyPatch,
      success: Envelope(ApiKeyView),
      error: Invalid
    }),
    HttpApiEndpoint.post("disableApiKey", "/api/v2/api-keys/:api_key_id/disable", {
      params: keyParams,
      success: Envelope(ApiKeyView),
      error: Invalid
    }),
    HttpApiEndpoint.delete("deleteApiKey", "/api/v2/api-keys/:api_key_id", {
      params: keyParams,
      success: Envelope(Schema.Struct({ id: Schema.String, api_key_id: Schema.String })),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Control plane: API keys",
    description: "Keys are stored as SHA-256 hashes; the full key is returned once, at creation"
  }))
{}

export class AuthGroup extends HttpApiGroup.make("controlPlaneAuth")
  .add(
    HttpApiEndpoint.post("parseApiKey", "/api/v2/auth/parse-api-key", {
      payload: ApiKeyInput,
      success: Envelope(ApiKeyAuth.ParsedKey),
      error: Invalid
    }),
    HttpApiEndpoint.post("validateApiKey", "/api/v2/auth/validate-api-key", {
      payload: ValidateRequest,
      success: Envelope(ApiKeyAuth.Validation),
      error: Invalid
    }),
    HttpApiEndpoint.post("checkPermission", "/api/v2/auth/check-permission", {
      payload: PermissionRequest,
      success: Envelope(ApiKeyAuth.PermissionCheck),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Control plane: key authentication",
    description: "A disabled, expired or deleted key fails the very next check; nothing is cached"
  }))
{}

export class ActivityGroup extends HttpApiGroup.make("controlPlaneActivity")
  .add(
    HttpApiEndpoint.put("reportActivity", "/api/v2/agent-activity", {
      payload: TenantStore.ActivityReport,
      success: Envelope(TenantStore.AgentActivity),
      error: Invalid
    }),
    HttpApiEndpoint.get("listActivity", "/api/v2/agent-activity", {
      query: { tenant_id: Schema.optional(TenantStore.IdParam) },
      success: Envelope(ActivityList),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Control plane: agent activity (TTL heartbeat)" }))
{}

const pluginQuery = { tenant_id: TenantStore.IdParam, agent_id: Schema.optional(TenantStore.IdParam) }

/** The original's plugin routes have no envelope: a bare array or object, errors as `{detail}`. */
export class PluginsGroup extends HttpApiGroup.make("controlPlanePlugins")
  .add(
    HttpApiEndpoint.get("pluginSettings", "/api/v1/plugins/settings", {
      query: pluginQuery,
      success: Schema.Array(TenantStore.PluginSetting),
      error: Invalid
    }),
    HttpApiEndpoint.post("savePluginSetting", "/api/v1/plugins/settings", {
      query: pluginQuery,
      payload: TenantStore.PluginSettingInput,
      success: TenantStore.PluginSetting,
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Control plane: plugin settings" }))
{}

export class UsageGroup extends HttpApiGroup.make("controlPlaneUsage")
  .add(
    HttpApiEndpoint.post("logUsage", "/api/v1/usage/log", {
      payload: UsageLog,
      success: Envelope(UsageLog),
      error: Invalid
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Control plane: usage log" }))
{}

export class SystemGroup extends HttpApiGroup.make("controlPlaneSystem")
  .add(
    HttpApiEndpoint.get("systemModels", "/api/v2/system/models", { success: Envelope(SystemModels) }),
    HttpApiEndpoint.get("botDefaults", "/api/v2/system/bot-defaults", { success: Envelope(Schema.JsonObject) }),
    HttpApiEndpoint.get("health", "/health", { success: Health }),
    HttpApiEndpoint.get("info", "/info", { success: Info })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Control plane: system",
    description: "`/health` probes the database (503 when it does not answer)"
  }))
{}

export class ControlPlaneApi extends HttpApi.make("controlPlane")
  .add(TenantsGroup)
  .add(AgentsGroup)
  .add(ApiKeysGroup)
  .add(AuthGroup)
  .add(ActivityGroup)
  .add(PluginsGroup)
  .add(UsageGroup)
  .add(SystemGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit control plane API",
    description: "Compatible with MaimConfig (tenants, agents, API keys, activity, plugin settings)",
    transform: acceptUnknownFields
  }))
{}
