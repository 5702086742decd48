/**
 * The control-plane family: MaimConfig's routes served from `TenantStore`, `ApiKeyAuth` and `SystemCatalog`,
 * in the original's envelope `{success, message, data, timestamp, request_id, tenant_id, execution_time,
 * error, error_code}` with its error codes (§9). Business errors are HTTP 200 with `success: false`, as the
 * original's clients expect; a request that does not match its schema is a 422 whose body carries both the
 * envelope and FastAPI's `detail` list naming the field. The plugin routes keep the original's bare shapes.
 */
import { Clock, Duration, Effect, Exit, Layer, type Result, Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import * as Crypto from "node:crypto"
import {
  ApiKeyAuth,
  SystemCatalog,
  type ApiKeyStorageError,
  type TenantStoreStorageError,
  TenantStore
} from "@maikit/core/control-plane"
import { MaikitVersion } from "@maikit/core/platform"
import * as ApiFamily from "../ApiFamily.ts"
import { ApiKeyInput, ControlPlaneApi, ValidateRequest } from "./ControlPlaneApi.ts"

/** The original's API version, which its clients and `/health` report. */
export const apiVersion = "1.0.0"

interface Reply {
  readonly success: boolean
  readonly message: string
  readonly data: unknown
  readonly tenant_id: string | null
  readonly error: string | null
  readonly error_code: string | null
}

const ok = (message: string, data: unknown, tenantId: string | null = null): Reply => ({
  success: true,
  message,
  data,
  tenant_id: tenantId,
  error: null,
  error_code: null
})

const failed = (code: string, message: string, error: string, data: unknown = null): Reply => ({
  success: false,
  message,
  data,
  tenant_id: null,
  error,
  error_code: code
})

/** `%Y-%m-%dT%H:%M:%SZ`, as the original's envelope writes it. */
const stamp = (millis: number) => new Date(millis).toISOString().slice(0, 19) + "Z"

const envelopeOf = (reply: Reply, millis: number, executionTime: number | null) => ({
  success: reply.success,
  message: reply.message,
  data: reply.data,
  timestamp: stamp(millis),
  request_id: Crypto.randomUUID(),
  tenant_id: reply.tenant_id,
  execution_time: executionTime,
  error: reply.error,
  error_code: reply.error_code
})

/** Runs a handler whose errors are already replies, and wraps the reply in the envelope. */
const envelope = <R>(handler: Effect.Effect<Reply, never, R>) =>
  Effect.clockWith((clock) => {
    const started = clock.currentTimeNanosUnsafe()
    return Effect.map(handler, (reply) => {
      const executionTime = Number(clock.currentTimeNanosUnsafe() - started) / 1e9
      return HttpServerResponse.jsonUnsafe(envelopeOf(reply, clock.currentTimeMillisUnsafe(), executionTime))
    })
  })

const reject = (code: string, message: string) => (error: { readonly message: string }) =>
  Effect.succeed(failed(code, message, error.message))

/** The database failed: logged in full, answered without the driver's internals. */
const storageFailure = (code: string, message: string) =>
  (error: TenantStoreStorageError | ApiKeyStorageError) =>
    Effect.as(Effect.logError(message, error), failed(code, message, `${error.operation} failed`))

const tenantView = (tenant: TenantStore.Tenant) => ({ ...tenant, tenant_id: tenant.id })
const agentView = (agent: TenantStore.Agent) => ({ ...agent, agent_id: agent.id })
const keyView = (key: ApiKeyAuth.ApiKey) => ({ ...key, id: key.api_key_id })

const issueBody = (status: number, code: string, message: string, detail: unknown, error: string) =>
  HttpServerResponse.jsonUnsafe({ ...envelopeOf(failed(code, message, error), Date.now(), null), detail }, { status })

const describeIssues = (issues: ReadonlyArray<ApiFamily.RequestIssue>) =>
  issues.map((issue) => `${issue.loc.join(".")}: ${issue.msg}`).join("; ")

/** The envelope, plus FastAPI's `detail` for clients that read that instead. */
export const errors: ApiFamily.ErrorShape = {
  invalidRequest: (issues) =>
    issueBody(
      422,
      "VALIDATION_ERROR",
      "请求参数验证失败",
      issues.map((issue) => ({ type: issue.type, loc: issue.loc, msg: issue.msg })),
      describeIssues(issues)
    ),
  notFound: () => issueBody(404, "NOT_FOUND", "Not Found", "Not Found", "no such route"),
  methodNotAllowed: (allowed) =>
    HttpServerResponse.setHeader(
      issueBody(405, "METHOD_NOT_ALLOWED", "Method Not Allowed", "Method Not Allowed", `allowed: ${allowed.join(", ")}`),
      "allow",
      allowed.join(", ")
    ),
  payloadTooLarge: (limitBytes) =>
    issueBody(
      413,
      "PAYLOAD_TOO_LARGE",
      "Request body too large",
      `Request body too large: the limit is ${limitBytes} bytes`,
      `the limit is ${limitBytes} bytes`
    ),
  unsupportedMediaType: (contentType) =>
    issueBody(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "Unsupported Media Type",
      `Unsupported content type ${contentType}: send application/json`,
      `unsupported content type ${contentType}`
    ),
  unauthorized: () =>
    HttpServerResponse.setHeader(
      issueBody(401, "UNAUTHORIZED", "Not authenticated", "Not authenticated", "missing or wrong access token"),
      "www-authenticate",
      "Bearer"
    ),
  misdirected: (host) =>
    issueBody(421, "MISDIRECTED_REQUEST", "Misdirected Request", `This server does not answer for host ${host}`, `unknown host ${host}`),
  forbidden: (reason) => issueBody(403, "FORBIDDEN", "Forbidden", reason, reason),
  internalError: () => issueBody(500, "INTERNAL_ERROR", "Internal Server Error", "Internal Server Error", "internal error")
}

const pageOf = (page: number | undefined) => page ?? 1
const sizeOf = (size: number | undefined) => size ?? 20

export const TenantHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneTenants",
  Effect.fn(function*(handlers) {
    const store = yield* TenantStore.TenantStore
    return handlers
      .handle("createTenant", ({ payload }) =>
        envelope(store.createTenant(payload).pipe(
          Effect.map((tenant) => ok("租户创建成功", tenantView(tenant))),
          Effect.catchTags({
            TenantNameTaken: reject("TENANT_002", "租户名称已存在"),
            IdTaken: reject("TENANT_001", "创建租户失败"),
            TenantStoreStorageError: storageFailure("TENANT_001", "创建租户失败")
          })
        )))
      .handle("listTenants", ({ query }) =>
        envelope(store.listTenants({ page: pageOf(query.page), size: sizeOf(query.size) }).pipe(
          Effect.map((page) => ok("获取租户列表成功", { ...page, items: page.items.map(tenantView) })),
          Effect.catchTag("TenantStoreStorageError", storageFailure("TENANT_005", "获取租户列表失败"))
        )))
      .handle("getTenant", ({ params }) =>
        envelope(store.getTenant(params.tenant_id).pipe(
          Effect.map((tenant) => ok("获取租户信息成功", tenantView(tenant))),
          Effect.catchTags({
            TenantNotFound: reject("TENANT_003", "租户不存在"),
            TenantStoreStorageError: storageFailure("TENANT_004", "获取租户信息失败")
          })
        )))
      .handle("updateTenant", ({ params, payload }) =>
        envelope(store.updateTenant(params.tenant_id, payload).pipe(
          Effect.map((tenant) => ok("租户更新成功", tenantView(tenant))),
          Effect.catchTags({
            TenantNotFound: reject("TENANT_003", "租户不存在"),
            TenantNameTaken: reject("TENANT_002", "租户名称已存在"),
            TenantStoreStorageError: storageFailure("TENANT_006", "更新租户失败")
          })
        )))
      .handle("deleteTenant", ({ params }) =>
        envelope(store.deleteTenant(params.tenant_id).pipe(
          Effect.as(ok("租户删除成功", { id: params.tenant_id, tenant_id: params.tenant_id })),
          Effect.catchTags({
            TenantNotFound: reject("TENANT_003", "租户不存在"),
            TenantStoreStorageError: storageFailure("TENANT_007", "删除租户失败")
          })
        )))
  })
)

export const AgentHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneAgents",
  Effect.fn(function*(handlers) {
    const store = yield* TenantStore.TenantStore
    return handlers
      .handle("createAgent", ({ payload }) =>
        envelope(store.createAgent(payload).pipe(
          Effect.map((agent) => ok("Agent创建成功", agentView(agent))),
          Effect.catchTags({
            TenantNotFound: reject("AGENT_001", "租户不存在"),
            AgentNameTaken: reject("AGENT_002", "Agent名称已存在"),
            AgentConfigRejected: reject("AGENT_011", "配置验证失败"),
            IdTaken: reject("AGENT_003", "创建Agent失败"),
            TenantStoreStorageError: storageFailure("AGENT_003", "创建Agent失败")
          })
        )))
      .handle("listAgents", ({ query }) =>
        envelope(store.listAgents({
          tenant_id: query.tenant_id,
          status: query.status,
          page: pageOf(query.page),
          size: sizeOf(query.size)
        }).pipe(
          Effect.map((page) => ok("获取Agent列表成功", { ...page, items: page.items.map(agentView) })),
          Effect.catchTags({
            TenantNotFound: reject("AGENT_001", "租户不存在"),
            TenantStoreStorageError: storageFailure("AGENT_006", "获取Agent列表失败")
          })
        )))
      .handle("getAgent", ({ params }) =>
        envelope(store.getAgent(params.agent_id).pipe(
          Effect.map((agent) => ok("获取Agent信息成功", agentView(agent))),
          Effect.catchTags({
            AgentNotFound: reject("AGENT_004", "Agent不存在"),
            TenantStoreStorageError: storageFailure("AGENT_005", "获取Agent信息失败")
          })
        )))
      .handle("updateAgent", ({ params, payload }) =>
        envelope(store.updateAgent(params.agent_id, payload).pipe(
          Effect.map((agent) => ok("Agent更新成功", agentView(agent))),
          Effect.catchTags({
            AgentNotFound: reject("AGENT_004", "Agent不存在"),
            AgentNameTaken: reject("AGENT_002", "Agent名称已存在"),
            AgentConfigRejected: reject("AGENT_011", "配置验证失败"),
            TenantStoreStorageError: storageFailure("AGENT_007", "更新Agent失败")
          })
        )))
      .handle("deleteAgent", ({ params }) =>
        envelope(store.deleteAgent(params.agent_id).pipe(
          Effect.as(ok("Agent删除成功", { id: params.agent_id, agent_id: params.agent_id })),
          Effect.catchTags({
            AgentNotFound: reject("AGENT_004", "Agent不存在"),
            TenantStoreStorageError: storageFailure("AGENT_008", "删除Agent失败")
          })
        )))
      .handle("getAgentConfig", ({ params }) =>
        envelope(store.getAgentConfig(params.agent_id).pipe(
          Effect.map((config) => ok("获取Agent配置成功", config)),
          Effect.catchTags({
            AgentNotFound: reject("AGENT_004", "Agent不存在"),
            TenantStoreStorageError: storageFailure("AGENT_009", "获取Agent配置失败")
          })
        )))
      .handle("updateAgentConfig", ({ params, payload }) =>
        envelope(store.updateAgentConfig(params.agent_id, payload).pipe(
          Effect.map((config) => ok("Agent配置更新成功", config)),
          Effect.catchTags({
            AgentNotFound: reject("AGENT_004", "Agent不存在"),
            AgentConfigRejected: reject("AGENT_011", "配置验证失败"),
            TenantStoreStorageError: storageFailure("AGENT_010", "更新Agent配置失败")
          })
        )))
  })
)

const createdWarning = "请立即保存此API密钥：它只在创建时显示一次，之后无法再查看 (shown once; store it now)"

export const ApiKeyHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneApiKeys",
  Effect.fn(function*(handlers) {
    const auth = yield* ApiKeyAuth.ApiKeyAuth
    return handlers
      .handle("createApiKey", ({ payload }) =>
        envelope(auth.create(payload).pipe(
          Effect.map((created) =>
            ok(
              "API密钥创建成功",
              { ...keyView(created.key), api_key: created.api_key, warning: createdWarning },
              created.key.tenant_id
            )
          ),
          Effect.catchTags({
            TenantNotFound: reject("TENANT_001", "租户不存在"),
            AgentNotFound: reject("AGENT_001", "Agent不存在或不属于该租户"),
            AgentNotInTenant: reject("AGENT_001", "Agent不存在或不属于该租户"),
            ApiKeyNameTaken: reject("KEY_002", "API密钥名称已存在"),
            ApiKeyStorageError: storageFailure("KEY_CREATE_ERROR", "创建API密钥失败")
          })
        )))
      .handle("importApiKey", ({ payload }) =>
        envelope(auth.importKey(payload).pipe(
          Effect.map((key) => ok("API密钥导入成功", keyView(key), key.tenant_id)),
          Effect.catchTags({
            ApiKeyMalformed: reject("AUTH_001", "API密钥格式无效"),
            TenantNotFound: reject("TENANT_001", "租户不存在"),
            AgentNotFound: reject("AGENT_001", "Agent不存在或不属于该租户"),
            AgentNotInTenant: reject("AGENT_001", "Agent不存在或不属于该租户"),
            ApiKeyNameTaken: reject("KEY_002", "API密钥名称已存在"),
            ApiKeyAlreadyStored: reject("KEY_003", "API密钥已存在"),
            ApiKeyStorageError: storageFailure("KEY_CREATE_ERROR", "导入API密钥失败")
          })
        )))
      .handle("listApiKeys", ({ query }) => {
        const page = pageOf(query.page)
        const pageSize = sizeOf(query.page_size)
        return envelope(auth.list({
          tenant_id: query.tenant_id,
          agent_id: query.agent_id,
          status: query.status,
          page,
          page_size: pageSize
        }).pipe(
          Effect.map(({ items, total }) => {
            const totalPages = Math.ceil(total / pageSize)
            return ok("获取API密钥列表成功", {
              items: items.map(keyView),
              pagination: {
                page,
                page_size: pageSize,
                total,
                total_pages: totalPages,
                has_next: page < totalPages,
                has_prev: page > 1
              }
            }, query.tenant_id)
          }),
          Effect.catchTag("ApiKeyStorageError", storageFailure("KEY_LIST_ERROR", "获取API密钥列表失败"))
        ))
      })
      .handle("getApiKey", ({ params }) =>
        envelope(auth.get(params.api_key_id).pipe(
          Effect.map((key) => ok("获取API密钥成功", keyView(key), key.tenant_id)),
          Effect.catchTags({
            ApiKeyNotFound: reject("KEY_001", "API密钥不存在"),
            ApiKeyStorageError: storageFailure("KEY_GET_ERROR", "获取API密钥失败")
          })
        )))
      .handle("updateApiKey", ({ params, payload }) =>
        envelope(auth.update(params.api_key_id, payload).pipe(
          Effect.map((key) => ok("API密钥更新成功", keyView(key), key.tenant_id)),
          Effect.catchTags({
            ApiKeyNotFound: reject("KEY_001", "API密钥不存在"),
            ApiKeyNameTaken: reject("KEY_002", "API密钥名称已存在"),
            ApiKeyStorageError: storageFailure("KEY_UPDATE_ERROR", "更新API密钥失败")
          })
        )))
      .handle("disableApiKey", ({ params }) =>
        envelope(auth.disable(params.api_key_id).pipe(
          Effect.map((key) => ok("API密钥已禁用", keyView(key), key.tenant_id)),
          Effect.catchTags({
            ApiKeyNotFound: reject("KEY_001", "API密钥不存在"),
            ApiKeyStorageError: storageFailure("KEY_DISABLE_ERROR", "禁用API密钥失败")
          })
        )))
      .handle("deleteApiKey", ({ params }) =>
        envelope(auth.remove(params.api_key_id).pipe(
          Effect.as(ok("API密钥删除成功", { id: params.api_key_id, api_key_id: params.api_key_id })),
          Effect.catchTags({
            ApiKeyNotFound: reject("KEY_001", "API密钥不存在"),
            ApiKeyStorageError: storageFailure("KEY_DELETE_ERROR", "删除API密钥失败")
          })
        )))
  })
)

/** check-permission answers "not usable" for any status but active, as the original does. */
const unusable = (code: string) => (error: { readonly message: string }) =>
  Effect.succeed(failed(code, "API密钥不可用", error.message))

const validated = (validation: ApiKeyAuth.Validation) => ok("API密钥验证成功", validation, validation.tenant_id)

const parsedReply = (parsed: ApiKeyAuth.ParsedKey) => ok("API密钥解析成功", parsed, parsed.tenant_id)

const validationRequest = (payload: typeof ValidateRequest.Type) => ({
  apiKey: payload.api_key,
  requiredPermission: payload.required_permission ?? undefined,
  recordUsage: payload.check_rate_limit ?? true
})

// Built once: validate-api-key is the hot route, and a handler map per request is garbage per request.
const validationFailures = {
  ApiKeyMalformed: reject("AUTH_001", "API密钥格式无效"),
  ApiKeyUnknown: reject("AUTH_005", "API密钥不存在"),
  ApiKeyDisabled: reject("AUTH_004", "API密钥已禁用"),
  ApiKeyExpired: reject("AUTH_002", "API密钥已过期"),
  ApiKeyOwnerInactive: reject("AUTH_004", "API密钥不可用"),
  ApiKeyPermissionDenied: (error: ApiKeyAuth.ApiKeyPermissionDenied) =>
    Effect.succeed(failed("AUTH_003", "API密钥权限不足", error.message, {
      valid: false,
      tenant_id: error.tenant_id,
      agent_id: error.agent_id,
      api_key_id: error.api_key_id,
      permissions: error.permissions,
      has_permission: false,
      status: "active"
    })),
  ApiKeyStorageError: storageFailure("AUTH_VALIDATE_ERROR", "验证API密钥失败")
}

export const AuthHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneAuth",
  Effect.fn(function*(handlers) {
    const auth = yield* ApiKeyAuth.ApiKeyAuth
    return handlers
      .handle("parseApiKey", ({ payload }) =>
        envelope(ApiKeyAuth.parse(payload.api_key).pipe(
          Effect.map(parsedReply),
          Effect.catchTag("ApiKeyMalformed", reject("AUTH_001", "API密钥格式无效"))
        )))
      .handle("validateApiKey", ({ payload }) =>
        envelope(auth.validate(validationRequest(payload)).pipe(Effect.map(validated), Effect.catchTags(validationFailures))))
      .handle("checkPermission", ({ payload }) =>
        envelope(auth.checkPermission(payload.api_key, payload.permission).pipe(
          Effect.map((check) => ok("权限检查完成", check, check.tenant_id)),
          Effect.catchTags({
            ApiKeyMalformed: reject("AUTH_001", "API密钥格式无效"),
            ApiKeyUnknown: reject("AUTH_005", "API密钥不存在"),
            ApiKeyDisabled: unusable("AUTH_004"),
            ApiKeyExpired: reject("AUTH_002", "API密钥已过期"),
            ApiKeyOwnerInactive: unusable("AUTH_004"),
            ApiKeyStorageError: storageFailure("AUTH_PERMISSION_ERROR", "检查权限失败")
          })
        )))
  })
)

export const ActivityHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneActivity",
  Effect.fn(function*(handlers) {
    const store = yield* TenantStore.TenantStore
    return handlers
      .handle("reportActivity", ({ payload }) =>
        envelope(store.reportActivity(payload).pipe(
          Effect.map((activity) => ok("活跃状态已更新", activity)),
          Effect.catchTags({
            ActivityRejected: (error) => Effect.succeed(failed("ACTIVITY_002", error.message, "校验失败")),
            TenantStoreStorageError: storageFailure("ACTIVITY_003", "更新活跃状态失败")
          })
        )))
      .handle("listActivity", ({ query }) =>
        envelope(store.listActivity(query.tenant_id).pipe(
          Effect.map((items) => ok("获取活跃状态成功", { items, count: items.length })),
          Effect.catchTag("TenantStoreStorageError", storageFailure("ACTIVITY_004", "获取活跃状态失败"))
        )))
  })
)

const detail = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ detail: message }, { status })

/** The plugin routes answer failures as FastAPI did: `{detail}` with a status. */
const storage = (error: TenantStoreStorageError) =>
  Effect.as(Effect.logError("plugin settings failed", error), detail(500, `${error.operation} failed`))

export const PluginHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlanePlugins",
  Effect.fn(function*(handlers) {
    const store = yield* TenantStore.TenantStore
    return handlers
      .handle("pluginSettings", ({ query }) =>
        store.pluginSettings(query.tenant_id, query.agent_id).pipe(
          Effect.map((settings) => HttpServerResponse.jsonUnsafe(settings)),
          Effect.catchTag("TenantStoreStorageError", storage)
        ))
      .handle("savePluginSetting", ({ query, payload }) =>
        store.savePluginSetting(query.tenant_id, query.agent_id, payload).pipe(
          Effect.map((setting) => HttpServerResponse.jsonUnsafe(setting)),
          Effect.catchTags({
            TenantNotFound: (error) => Effect.succeed(detail(404, error.message)),
            AgentNotFound: (error) => Effect.succeed(detail(404, error.message)),
            AgentNotInTenant: (error) => Effect.succeed(detail(404, error.message)),
            TenantStoreStorageError: storage
          })
        ))
  })
)

export const UsageHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneUsage",
  (handlers) =>
    handlers.handle("logUsage", ({ payload }) =>
      envelope(Effect.gen(function*() {
        const entry = { ...payload, timestamp: payload.timestamp ?? stamp(yield* Clock.currentTimeMillis) }
        yield* Effect.logInfo("usage").pipe(Effect.annotateLogs({ usage: entry }))
        return ok("Usage log recorded", entry, payload.tenant_id ?? null)
      })))
)

/** How long `/health` answers from its last database probe. */
export const probeTtl = Duration.seconds(1)

const features = ["多租户隔离", "Agent 配置管理", "API 密钥认证（SHA-256 存储）", "Agent 活跃状态 TTL", "插件配置"]

interface Probed {
  readonly outcome: Result.Result<void, { readonly message: string }>
  readonly latencyMs: number
  /** When the probe finished, in epoch milliseconds. */
  readonly at: number
}

interface HealthProbe {
  /** The last probe while it is younger than `probeTtl`, else a new one; requests during a probe share it. */
  readonly probe: Effect.Effect<Probed>
  /** The last probe if it is younger than `probeTtl` at `now`, for the fast route, which cannot wait for one. */
  readonly fresh: (now: number) => Probed | undefined
}

/**
 * One probe per store, shared by the `/health` endpoint and its fast route, so that the two give the same
 * answer and the database sees one probe a second whichever answers. Keyed by the store the family's layers
 * are built with; a host that builds the family twice on one store shares it too.
 */
const healthProbes = new WeakMap<TenantStore.TenantStore["Service"], HealthProbe>()

const healthProbeOf = Effect.fnUntraced(function*(store: TenantStore.TenantStore["Service"]) {
  const known = healthProbes.get(store)
  if (known !== undefined) return known
  let last: Probed | undefined
  // Monitors and load balancers poll `/health`; one probe a second answers them all.
  const probe = yield* Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const outcome = yield* store.probe.pipe(Effect.timeout("3 seconds"), Effect.result)
    const at = yield* Clock.currentTimeMillis
    const probed: Probed = { outcome, latencyMs: at - started, at }
    last = probed
    return probed
  }).pipe(Effect.cachedWithTTL(probeTtl))
  const ttl = Duration.toMillis(probeTtl)
  const made: HealthProbe = {
    probe,
    fresh: (now) => last !== undefined && now - last.at < ttl ? last : undefined
  }
  healthProbes.set(store, made)
  return made
})

/** `/health`'s answer: 200 when the last probe reached the database, else 503 with `detail`. */
const healthAnswer = (
  store: TenantStore.TenantStore["Service"],
  probed: Probed,
  pendingUses: number,
  usageFlush: ApiKeyAuth.ApiKeyAuth["Service"]["usageFlush"],
  now: number
) => {
  const healthy = probed.outcome._tag === "Success"
  const body = {
    status: healthy ? "healthy" : "unhealthy",
    timestamp: now / 1000,
    version: apiVersion,
    services: { database: healthy ? "healthy" : "unhealthy", api: "healthy" },
    database: {
      backend: store.backend,
      latency_ms: healthy ? probed.latencyMs : null,
      error: probed.outcome._tag === "Failure" ? probed.outcome.failure.message : null
    },
    api_key_usage: {
      pending: pendingUses,
      flush_interval_ms: usageFlush.intervalMs,
      flush_max_pending: usageFlush.maxPending
    }
  }
  return healthy ? { status: 200, body } : { status: 503, body: { ...body, detail: "服务不健康" } }
}

/** A successful reply in the envelope, as `envelope` answers it, for the fast routes. */
const envelopeJson = (reply: Reply, started: bigint): ApiFamily.FastAnswer => ({
  status: 200,
  json: JSON.stringify(envelopeOf(reply, Date.now(), Number(process.hrtime.bigint() - started) / 1e9))
})

/**
 * The hot routes as fast routes, so that Node servers answer their happy paths without the application's
 * per-request work: `GET /health`, which monitors poll, while the shared probe is fresh and healthy (a stale
 * probe, which must run again, and an unhealthy answer go to the endpoint); `POST /api/v2/auth/parse-api-key`
 * and `POST /api/v2/auth/validate-api-key`, which MaiBot's clients call on every message. A body the endpoint's
 * payload schema refuses, a malformed key and every failed validation go to the endpoint, which answers the
 * error; a failed validation counts no use, so checking again there counts none either. A successful
 * validation has counted its use, so the lane answers it, later if the check waited for the database.
 */
const fastRoutes = Effect.gen(function*() {
  const store = yield* TenantStore.TenantStore
  const auth = yield* ApiKeyAuth.ApiKeyAuth
  const health = yield* healthProbeOf(store)
  const context = yield* Effect.context<never>()
  const run = Effect.runSyncWith(context)
  const fork = Effect.runForkWith(context)
  const decodeParse = Schema.decodeUnknownExit(ApiKeyInput)
  const decodeValidate = Schema.decodeUnknownExit(ValidateRequest)
  const healthRoute: ApiFamily.FastRoute = {
    method: "GET",
    path: "/health",
    answer: () => {
      const now = Date.now()
      const probed = health.fresh(now)
      if (probed === undefined || probed.outcome._tag === "Failure") return undefined
      const answer = healthAnswer(store, probed, run(auth.pendingUsage), auth.usageFlush, now)
      return { status: answer.status, json: JSON.stringify(answer.body) }
    }
  }
  const parseRoute: ApiFamily.FastRoute = {
    method: "POST",
    path: "/api/v2/auth/parse-api-key",
    answer: (body) => {
      const started = process.hrtime.bigint()
      const payload = decodeParse(body)
      if (Exit.isFailure(payload)) return undefined
      const parsed = ApiKeyAuth.parseKey(payload.value.api_key)
      return parsed === undefined ? undefined : envelopeJson(parsedReply(parsed), started)
    }
  }
  const validateRoute: ApiFamily.FastRoute = {
    method: "POST",
    path: "/api/v2/auth/validate-api-key",
    answer: (body) => {
      const started = process.hrtime.bigint()
      const payload = decodeValidate(body)
      if (Exit.isFailure(payload)) return undefined
      const answerOf = (exit: Exit.Exit<ApiKeyAuth.Validation, unknown>) =>
        Exit.isSuccess(exit) ? envelopeJson(validated(exit.value), started) : undefined
      const fiber = fork(auth.validate(validationRequest(payload.value)))
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return answerOf(exit)
      return new Promise((resolve) => fiber.addObserver((later) => resolve(answerOf(later))))
    }
  }
  return [healthRoute, parseRoute, validateRoute]
})

export const SystemHandlers = ApiFamily.group(
  ControlPlaneApi,
  "controlPlaneSystem",
  Effect.fn(function*(handlers) {
    const store = yield* TenantStore.TenantStore
    const catalog = yield* SystemCatalog.SystemCatalog
    const auth = yield* ApiKeyAuth.ApiKeyAuth
    const health = yield* healthProbeOf(store)
    return handlers
      .handle("systemModels", () =>
        envelope(Effect.map(catalog.models, (models) =>
          ok(`获取模型列表成功 (Source: ${models.source})`, {
            providers: models.providers,
            models: models.models,
            defaults: models.defaults
          }))))
      .handle("botDefaults", () =>
        envelope(catalog.botDefaults.pipe(
          Effect.map((sections) => ok("获取Bot默认配置成功", sections)),
          Effect.catchTag("BotDefaultsUnavailable", reject("SYSTEM_002", "Bot默认配置不可用"))
        )))
      .handle("health", () =>
        Effect.gen(function*() {
          const probed = yield* health.probe
          const now = yield* Clock.currentTimeMillis
          const answer = healthAnswer(store, probed, yield* auth.pendingUsage, auth.usageFlush, now)
          return HttpServerResponse.jsonUnsafe(answer.body, { status: answer.status })
        }))
      .handle("info", () =>
        Effect.succeed({
          name: "MaiMBot API",
          description: "MaiMBot 多租户控制平面（租户、Agent、API 密钥、活跃状态、插件配置）",
          version: apiVersion,
          architecture: {
            isolation_levels: ["tenant", "agent", "platform"],
            auth_mode: "internal_service",
            database: store.backend
          },
          supported_features: features,
          server: `MaiKit ${MaikitVersion.current.version}`
        }))
  })
)

const rootBody = {
  message: "MaiMBot API Server",
  version: apiVersion,
  description: "MaiMBot 多租户控制平面，由 MaiKit 提供",
  endpoints: {
    tenants: "/api/v2/tenants",
    agents: "/api/v2/agents",
    api_keys: "/api/v2/api-keys",
    auth: "/api/v2/auth",
    docs: "/docs",
    redoc: "/docs"
  },
  features
}

const prefixes = ["/api/v2/", "/api/v1/plugins/", "/api/v1/usage/"]
const exact = new Set(["/health", "/info", "/api/v2"])

export type Requirements = TenantStore.TenantStore | ApiKeyAuth.ApiKeyAuth | SystemCatalog.SystemCatalog

/** The control-plane family, ready for `MaikitServer`; it answers `/` with the original's JSON. */
export const family: ApiFamily.ApiFamily<Requirements> = ApiFamily.make({
  name: "control-plane",
  api: ControlPlaneApi,
  routes: HttpApiBuilder.layer(ControlPlaneApi).pipe(
    Layer.provide([
      TenantHandlers,
      AgentHandlers,
      ApiKeyHandlers,
      AuthHandlers,
      ActivityHandlers,
      PluginHandlers,
      UsageHandlers,
      SystemHandlers
    ])
  ),
  owns: (path) => exact.has(path) || prefixes.some((prefix) => path.startsWith(prefix)),
  errors,
  root: Effect.sync(() => HttpServerResponse.jsonUnsafe(rootBody)),
  fastRoutes
})
