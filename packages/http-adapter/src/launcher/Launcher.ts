/**
 * The launcher family: the MaiLauncher backend's routes served from MaiKit's core services, in the
 * original's shapes (`{"detail": ...}` errors, `{"status": "success", ...}` envelopes).
 */
import { Clock, Effect, Layer } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { type ComponentProcess, type InstanceRegistryError, InstanceSupervisor } from "@maikit/core/launcher"
import { MaikitConfig, MaikitVersion, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import * as ApiFamily from "../ApiFamily.ts"
import { LauncherApi, LauncherInstancesApi } from "./LauncherApi.ts"

const detail = (status: number, message: unknown) => HttpServerResponse.jsonUnsafe({ detail: message }, { status })

/** FastAPI's default error bodies, which the original's clients parse. */
export const errors: ApiFamily.ErrorShape = {
  invalidRequest: (issues) => HttpServerResponse.jsonUnsafe({ detail: issues }, { status: 422 }),
  notFound: detail(404, "Not Found"),
  methodNotAllowed: (allowed) =>
    HttpServerResponse.jsonUnsafe({ detail: "Method Not Allowed" }, {
      status: 405,
      headers: { allow: allowed.join(", ") }
    }),
  payloadTooLarge: (limitBytes) => detail(413, `Request body too large: the limit is ${limitBytes} bytes`),
  unsupportedMediaType: (contentType) => detail(415, `Unsupported content type ${contentType}: send application/json`),
  unauthorized: HttpServerResponse.jsonUnsafe({ detail: "Not authenticated" }, {
    status: 401,
    headers: { "www-authenticate": "Bearer" }
  }),
  misdirected: (host) => detail(421, `This server does not answer for host ${host}`),
  forbidden: (reason) => detail(403, reason),
  internalError: detail(500, "Internal Server Error")
}

/** Python's `datetime.now(timezone.utc).isoformat()`: explicit `+00:00`, not `Z`. */
const utcIso = (millis: number) => new Date(millis).toISOString().replace("Z", "+00:00")
const utcIsoNow = Effect.map(Clock.currentTimeMillis, utcIso)

/**
 * The health routes as fast routes: monitors and the launcher's shell poll them, so Node servers answer them
 * without the application's per-request work, with the body the endpoint's `HealthResponse` encodes to.
 */
const healthAnswer = () => ({ status: 200, json: JSON.stringify({ status: "success", time: utcIso(Date.now()) }) })
const fastRoutes = Effect.succeed<ReadonlyArray<ApiFamily.FastRoute>>([
  { method: "GET", path: "/api/v1/system/health", answer: healthAnswer },
  { method: "GET", path: "/api/v1/health", answer: healthAnswer }
])

const round2 = (value: number) => Math.round(value * 100) / 100
const MiB = 1024 * 1024

export const toLauncherMetrics = (snapshot: SystemMetrics.Snapshot) => ({
  system_info: snapshot.os,
  python_version: snapshot.runtime,
  cpu_usage_percent: round2(snapshot.cpuPercent),
  process_cpu_usage_percent: round2(snapshot.process.cpuPercent),
  process_memory_usage: {
    rss_mb: round2(snapshot.process.rssBytes / MiB),
    vms_mb: snapshot.process.vmsBytes === null ? null : round2(snapshot.process.vmsBytes / MiB),
    percent: snapshot.memory.total_mb > 0 ? round2(snapshot.process.rssBytes / MiB / snapshot.memory.total_mb * 100) : 0
  },
  memory_usage: snapshot.memory,
  disk_usage_root: snapshot.disk,
  network_stats: snapshot.network,
  network_up: round2(snapshot.networkRates.upBytesPerSecond),
  network_down: round2(snapshot.networkRates.downBytesPerSecond),
  process: {
    pid: snapshot.process.pid,
    cpu_percent: round2(snapshot.process.cpuPercent),
    memory_rss_mb: round2(snapshot.process.rssBytes / MiB),
    uptime_seconds: round2(snapshot.process.uptimeSeconds)
  }
})

export const SystemHandlers = ApiFamily.group(
  LauncherApi,
  "launcherSystem",
  Effect.fn(function*(handlers) {
    const config = yield* MaikitConfig.MaikitConfig
    const metrics = yield* SystemMetrics.SystemMetrics
    const updates = yield* UpdateChecker.UpdateChecker
    const health = Effect.map(utcIsoNow, (time) => ({ status: "success" as const, time }))
    return handlers
      .handle("test", () => Effect.succeed({ status: "success" as const, message: "后端运行正常", port: config.port }))
      .handle("health", () => health)
      .handle("healthAlias", () => health)
      .handle("metrics", () =>
        metrics.snapshot.pipe(
          Effect.map((snapshot) => ({ status: "success" as const, data: toLauncherMetrics(snapshot) })),
          Effect.catchTag(
            "SystemMetricsError",
            (error) => Effect.succeed(detail(500, `获取系统指标失败: ${error.message}`))
          )
        ))
      .handle("currentVersion", () =>
        Effect.succeed({
          status: "success" as const,
          data: {
            ...MaikitVersion.current,
            build_date: MaikitVersion.current.release_date,
            git_commit: null
          }
        }))
      .handle("checkVersion", ({ query }) =>
        Effect.map(updates.check({ force: query.force_check === "true" }), (info) => ({
          status: "success" as const,
          data: info,
          current_version: info.current_version,
          latest_version: info.latest_version,
          has_update: info.has_update,
          update_description: info.release_notes
        })))
      .handle("versionHistory", ({ query }) =>
        Effect.succeed({
          status: "success" as const,
          data: query.limit === undefined ? MaikitVersion.releases : MaikitVersion.releases.slice(0, query.limit)
        }))
  })
)

const launcherPrefixes = ["/api/v1/", "/api/test", "/ws"]

export type Requirements = MaikitConfig.MaikitConfig | SystemMetrics.SystemMetrics | UpdateChecker.UpdateChecker

/** The launcher family, ready for `MaikitServer`. Needs the config, host metrics and the update checker. */
export const family: ApiFamily.ApiFamily<Requirements> = ApiFamily.make({
  name: "launcher",
  api: LauncherApi,
  routes: HttpApiBuilder.layer(LauncherApi).pipe(Layer.provide(SystemHandlers)),
  owns: (path) => launcherPrefixes.some((prefix) => path === prefix || path.startsWith(prefix)),
  errors,
  fastRoutes
})

const serviceLabels: Readonly<Record<string, string>> = {
  main: "MaiBot",
  napcat: "NapCat",
  "napcat-ada": "Napcat-ada",
  "nonebot-ada": "NoneBot-ada",
  nonebot: "NoneBot"
}

const instanceDetail = (instance: InstanceSupervisor.InstanceView) => ({
  id: instance.id,
  name: instance.name,
  status: instance.status,
  installedAt: instance.created_at,
  path: instance.path,
  port: instance.port,
  services: instance.components.filter((component) => component.kind !== "main").map((component) => ({
    name: component.name,
    path: component.path,
    status: component.state,
    port: component.port
  })),
  version: instance.version,
  total_runtime: instance.total_runtime,
  start_count: instance.start_count,
  last_start_time: instance.last_start_time
})

const componentDetail = (stats: ComponentProcess.ComponentStats) => ({
  name: stats.name,
  state: stats.state,
  pid: stats.pid,
  uptime_seconds: stats.uptimeSeconds,
  cpu_percent: stats.cpuPercent,
  memory_bytes: stats.memoryBytes,
  process_count: stats.processCount,
  start_count: stats.startCount,
  restart_count: stats.restartCount,
  total_runtime_seconds: stats.totalRuntimeSeconds,
  last_start_time: stats.lastStartTime === null ? null : new Date(stats.lastStartTime).toISOString(),
  message: stats.message
})

const notFound = (error: { readonly id: string }) => Effect.succeed(detail(404, `未找到实例 ${error.id}`))

/** The database failed: logged in full, answered as the original did (`<what>: <error>`). */
const storageFailure = (what: string) => (error: InstanceRegistryError) =>
  Effect.as(Effect.logError(what, error), detail(500, `${what}: ${error.message}`))

const startFailure = (error: { readonly name: string; readonly message: string }) =>
  Effect.succeed({ success: false, message: `启动实例 ${error.name} 失败: ${error.message}` })

const started = (outcome: InstanceSupervisor.StartOutcome, done: string) => ({
  success: true,
  message: outcome.state === "running" ? done : `${done}，正在等待其进入运行状态`
})

const deletionMessage = (result: InstanceSupervisor.RemoveResult) => {
  let message = `实例 ${result.instance.name} 已删除`
  if (result.deleted.length > 0) message += `，已删除 ${result.deleted.length} 个文件夹`
  if (result.failed.length > 0) {
    message += `，但 ${result.failed.length} 个文件夹删除失败: ${
      result.failed.map((entry) => `${entry.path} (${entry.message})`).join(", ")
    }`
  }
  if (result.refused.length > 0) {
    message += `；${result.refused.length} 个文件夹不属于该实例，拒绝删除: ${
      result.refused.map((entry) => `${entry.path} (${entry.reason})`).join(", ")
    }`
  }
  if (result.kept.length > 0) message += `；文件夹不是 MaiKit 创建的，已保留（删除请加 ?delete_files=true）`
  return message
}

/** How a single-component action's failures are answered; `what` names the action for a storage failure. */
const componentFailures = (what: string) => ({
  InstanceNotFound: notFound,
  ComponentNotFound: (error: { readonly message: string }) => Effect.succeed(detail(404, error.message)),
  InstanceStartFailed: startFailure,
  InstanceRuntimeError: (error: { readonly message: string }) => Effect.succeed({ success: false, message: error.message }),
  InstanceRegistryError: storageFailure(what)
})
const label = (component: string) => serviceLabels[component] ?? component

export const InstanceHandlers = ApiFamily.group(
  LauncherInstancesApi,
  "launcherInstances",
  Effect.fn(function*(handlers) {
    const supervisor = yield* InstanceSupervisor.InstanceSupervisor
    const remove = (id: string, deleteFiles: string | undefined) =>
      supervisor.remove(id, { deleteFiles: deleteFiles === "true" || deleteFiles === "1" }).pipe(
        Effect.map((result) => ({ success: true, message: deletionMessage(result) })),
        Effect.catchTags({ InstanceNotFound: notFound, InstanceRegistryError: storageFailure("删除实例失败") })
      )
    const startService = (id: string, requested: string) =>
      supervisor.startComponent(id, requested).pipe(
        Effect.map((outcome) =>
          started(outcome, `实例 ${outcome.instance.name} 的${label(outcome.component ?? requested)}服务已启动`)
        ),
        Effect.catchTags(componentFailures("启动服务失败"))
      )
    return handlers
      .handle("listInstances", () =>
        supervisor.list.pipe(
          Effect.map((instances) => ({ instances: instances.map(instanceDetail), success: true as const })),
          Effect.catchTag("InstanceRegistryError", storageFailure("获取实例列表失败"))
        ))
      .handle("instanceStats", () =>
        supervisor.counts.pipe(Effect.catchTag("InstanceRegistryError", storageFailure("获取实例统计信息失败"))))
      .handle("addInstance", ({ payload }) =>
        supervisor.add({
          name: payload.instance_name,
          version: payload.version,
          installPath: payload.install_path,
          port: payload.port,
          host: payload.host ?? undefined,
          token: payload.token ?? undefined,
          maibotPath: payload.maibot_path,
          adapterPath: payload.adapter_path,
          restartPolicy: payload.restart_policy,
          services: payload.install_services.map((service) => ({
            name: service.name,
            path: service.path,
            port: service.port,
            command: service.run_cmd
          }))
        }).pipe(
          Effect.map((instance) => ({
            success: true,
            message: `现有实例 ${instance.name} 已成功添加到系统中。`,
            instance_id: instance.id
          })),
          Effect.catchTags({
            InstanceRequestInvalid: (error) => Effect.succeed(detail(400, error.message)),
            InstanceRegistryError: storageFailure("处理添加实例时发生内部错误")
          })
        ))
      .handle("startInstance", ({ params }) =>
        supervisor.start(params.id).pipe(
          Effect.map((outcome) => started(outcome, `实例 ${outcome.instance.name} 已启动`)),
          Effect.catchTags({
            InstanceNotFound: notFound,
            InstanceStartFailed: startFailure,
            InstanceRuntimeError: (error) => Effect.succeed({ success: false, message: error.message }),
            InstanceRegistryError: storageFailure("启动实例失败")
          })
        ))
      .handle("stopInstance", ({ params }) =>
        supervisor.stop(params.id).pipe(
          Effect.map((instance) => ({ success: true, message: `实例 ${instance.name} 已停止` })),
          Effect.catchTags({ InstanceNotFound: notFound, InstanceRegistryError: storageFailure("停止实例失败") })
        ))
      .handle("restartInstance", ({ params }) =>
        supervisor.restart(params.id).pipe(
          Effect.map((outcome) => started(outcome, `实例 ${outcome.instance.name} 已重启`)),
          Effect.catchTags({
            InstanceNotFound: notFound,
            InstanceStartFailed: startFailure,
            InstanceRuntimeError: (error) => Effect.succeed({ success: false, message: error.message }),
            InstanceRegistryError: storageFailure("重启实例失败")
          })
        ))
      .handle("deleteInstance", ({ params, query }) => remove(params.id, query.delete_files))
      .handle("deleteInstanceAlias", ({ params, query }) => remove(params.id, query.delete_files))
      .handle("startNapcat", ({ params }) => startService(params.id, "napcat"))
      .handle("startNonebot", ({ params }) => startService(params.id, "nonebot"))
      .handle("startComponent", ({ params }) => startService(params.id, params.component))
      .handle("stopComponent", ({ params }) =>
        supervisor.stopComponent(params.id, params.component).pipe(
          Effect.map((outcome) => ({ success: true, message: `实例 ${outcome.instance.name} 的${label(outcome.component)}服务已停止` })),
          Effect.catchTags({
            InstanceNotFound: notFound,
            ComponentNotFound: (error) => Effect.succeed(detail(404, error.message)),
            InstanceRegistryError: storageFailure("停止服务失败")
          })
        ))
      .handle("restartComponent", ({ params }) =>
        supervisor.restartComponent(params.id, params.component).pipe(
          Effect.map((outcome) => started(outcome, `实例 ${outcome.instance.name} 的${label(outcome.component ?? params.component)}服务已重启`)),
          Effect.catchTags(componentFailures("重启服务失败"))
        ))
      .handle("instanceStatus", ({ params }) =>
        Effect.gen(function*() {
          const instance = yield* supervisor.get(params.id)
          const stats = yield* supervisor.componentStats(params.id)
          return {
            success: true as const,
            instance_id: instance.id,
            status: instance.status,
            components: stats.map(componentDetail)
          }
        }).pipe(
          Effect.catchTags({ InstanceNotFound: notFound, InstanceRegistryError: storageFailure("获取实例状态失败") })
        ))
  })
)

/**
 * The launcher's instance routes, ready for `MaikitServer` next to `family`. Kept apart from `family` so a host
 * can serve the system routes without running processes. Needs the `InstanceSupervisor`.
 */
export const instancesFamily: ApiFamily.ApiFamily<InstanceSupervisor.InstanceSupervisor> = ApiFamily.make({
  name: "launcher-instances",
  api: LauncherInstancesApi,
  routes: HttpApiBuilder.layer(LauncherInstancesApi).pipe(Layer.provide(InstanceHandlers)),
  owns: (path) => launcherPrefixes.some((prefix) => path === prefix || path.startsWith(prefix)),
  errors
})
