/**
 * The launcher family: the MaiLauncher backend's routes served from MaiKit's core services, in the
 * original's shapes (`{"detail": ...}` errors, `{"status": "success", ...}` envelopes).
 */
import { Clock, Effect, Layer } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { MaikitConfig, MaikitVersion, SystemMetrics, UpdateChecker } from "@maikit/core"
import * as ApiFamily from "./ApiFamily.ts"
import { LauncherApi } from "./LauncherApi.ts"

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
  unauthorized: HttpServerResponse.jsonUnsafe({ detail: "Not authenticated" }, {
    status: 401,
    headers: { "www-authenticate": "Bearer" }
  }),
  internalError: detail(500, "Internal Server Error")
}

/** Python's `datetime.now(timezone.utc).isoformat()`: explicit `+00:00`, not `Z`. */
const utcIsoNow = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString().replace("Z", "+00:00"))

const round2 = (value: number) => Math.round(value * 100) / 100

export const toLauncherMetrics = (snapshot: SystemMetrics.Snapshot) => ({
  system_info: snapshot.os,
  python_version: snapshot.runtime,
  cpu_usage_percent: round2(snapshot.cpuPercent),
  memory_usage: snapshot.memory,
  disk_usage_root: snapshot.disk,
  network_stats: snapshot.network,
  network_up: round2(snapshot.networkRates.upBytesPerSecond),
  network_down: round2(snapshot.networkRates.downBytesPerSecond),
  process: {
    pid: snapshot.process.pid,
    cpu_percent: round2(snapshot.process.cpuPercent),
    memory_rss_mb: round2(snapshot.process.rssBytes / 1024 / 1024),
    uptime_seconds: round2(snapshot.process.uptimeSeconds)
  }
})

export const SystemHandlers = HttpApiBuilder.group(
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
  errors
})
