/**
 * The launcher family's contract: the original MaiLauncher backend's routes and shapes, as its Vue client
 * reads them (`shared/contracts/launcher-api.md`). Kept apart from the handlers so a host can derive a typed
 * client or OpenAPI document without the server.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { ComponentProcess, InstanceRegistry } from "@maikit/core/launcher"
import { MaikitVersion, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { acceptUnknownFields } from "../internal/unknownFields.ts"

/** FastAPI's `HTTPException` body. */
export const Detail = Schema.Struct({ detail: Schema.String })

/** FastAPI's validation body: a list of Pydantic-style issues. */
export const ValidationDetail = Schema.Struct({
  detail: Schema.Array(Schema.Struct({
    type: Schema.String,
    loc: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
    msg: Schema.String,
    input: Schema.optional(Schema.Unknown)
  }))
}).annotate({ identifier: "LauncherValidationError" })

const ValidationError = ValidationDetail.pipe(HttpApiSchema.status(422))

const Success = Schema.Literal("success")

export const TestResponse = Schema.Struct({ status: Success, message: Schema.String, port: Schema.Int })

export const HealthResponse = Schema.Struct({
  status: Success,
  /** UTC, ISO 8601 with an explicit `+00:00` as Python's `isoformat()` writes it. */
  time: Schema.String
})


/** `/system/metrics` `data`, field for field as psutil reported it, plus the rates the client also reads. */
export const LauncherMetrics = Schema.Struct({
  system_info: Schema.Struct({
    system: Schema.String,
    release: Schema.String,
    version: Schema.String,
    machine: Schema.String,
    processor: Schema.String
  }),
  /** The original reported its Python runtime here; MaiKit reports its Node.js runtime. */
  python_version: Schema.String,
  cpu_usage_percent: Schema.Number,
  /** Seed 000: MaiKit's own process, of one core (psutil's `Process.cpu_percent()`), so it can exceed 100. */
  process_cpu_usage_percent: Schema.Number,
  /** Seed 000: MaiKit's own resident and virtual memory, and its share of the host's memory. */
  process_memory_usage: Schema.Struct({
    rss_mb: Schema.Number,
    vms_mb: Schema.NullOr(Schema.Number),
    percent: Schema.Number
  }),
  memory_usage: Schema.Struct({
    total_mb: Schema.Number,
    available_mb: Schema.Number,
    percent: Schema.Number,
    used_mb: Schema.Number,
    free_mb: Schema.Number
  }),
  disk_usage_root: Schema.Struct({
    total_gb: Schema.Number,
    used_gb: Schema.Number,
    free_gb: Schema.Number,
    percent: Schema.Number
  }),
  network_stats: Schema.Struct({
    interfaces: Schema.Array(SystemMetrics.NetworkInterface),
    total_bytes_sent: Schema.Number,
    total_bytes_recv: Schema.Number,
    total_packets_sent: Schema.Number,
    total_packets_recv: Schema.Number
  }),
  /** Bytes per second over the last sampling interval. */
  network_up: Schema.Number,
  network_down: Schema.Number,
  process: Schema.Struct({
    pid: Schema.Int,
    cpu_percent: Schema.Number,
    memory_rss_mb: Schema.Number,
    uptime_seconds: Schema.Number
  })
})

export const MetricsResponse = Schema.Struct({ status: Success, data: LauncherMetrics })

export const CurrentVersionResponse = Schema.Struct({
  status: Success,
  data: Schema.Struct({
    ...MaikitVersion.Release.fields,
    build_date: Schema.String,
    git_commit: Schema.NullOr(Schema.String)
  })
})

/**
 * The settings drawer reads `data.*`; the first-time wizard reads the same facts at the top level and an
 * `update_description`. Both are served.
 */
export const CheckVersionResponse = Schema.Struct({
  status: Success,
  data: UpdateChecker.UpdateInfo,
  current_version: Schema.String,
  latest_version: Schema.String,
  has_update: Schema.Boolean,
  update_description: Schema.String
})

export const VersionHistoryResponse = Schema.Struct({
  status: Success,
  data: Schema.Array(MaikitVersion.Release)
})

export class LauncherSystemGroup extends HttpApiGroup.make("launcherSystem")
  .add(
    HttpApiEndpoint.get("test", "/api/test", { success: TestResponse }),
    HttpApiEndpoint.get("health", "/api/v1/system/health", { success: HealthResponse }),
    HttpApiEndpoint.get("healthAlias", "/api/v1/health", { success: HealthResponse }),
    HttpApiEndpoint.get("metrics", "/api/v1/system/metrics", { success: MetricsResponse }),
    HttpApiEndpoint.get("currentVersion", "/api/v1/version/current", { success: CurrentVersionResponse }),
    HttpApiEndpoint.get("checkVersion", "/api/v1/version/check", {
      query: {
        current_version: Schema.optional(Schema.String),
        internal_version: Schema.optional(Schema.String),
        force_check: Schema.optional(Schema.String),
        channel: Schema.optional(Schema.String)
      },
      success: CheckVersionResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.get("versionHistory", "/api/v1/version/history", {
      query: { limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0))) },
      success: VersionHistoryResponse,
      error: ValidationError
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Launcher: system",
    description: "Health, host metrics and version routes of the MaiLauncher backend contract"
  }))
{}

export class LauncherApi extends HttpApi.make("launcher")
  .add(LauncherSystemGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit launcher API",
    description: "Compatible with the MaiLauncher backend (port 23456, /api/v1) and its Vue client",
    transform: acceptUnknownFields
  }))
{}

/** A service of an instance as `/instances` lists it; `status` is its process's live state. */
export const ServiceDetail = Schema.Struct({
  name: Schema.String,
  path: Schema.String,
  status: ComponentProcess.ComponentState,
  port: Schema.NullOr(Schema.Int)
})

/** The original's `InstanceDetail`, keys in its order; `status` in the seeds' English. */
export const InstanceDetail = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: InstanceRegistry.InstanceStatus,
  /** When the instance was registered: ISO 8601 UTC (the original wrote naive local time). */
  installedAt: Schema.String,
  path: Schema.String,
  port: Schema.Int,
  services: Schema.Array(ServiceDetail),
  version: Schema.String,
  total_runtime: Schema.Int,
  start_count: Schema.Int,
  last_start_time: Schema.NullOr(Schema.String)
})

export const InstancesResponse = Schema.Struct({ instances: Schema.Array(InstanceDetail), success: Schema.Literal(true) })

export const InstanceStatsResponse = Schema.Struct({ total: Schema.Int, running: Schema.Int, stopped: Schema.Int })

export const ActionResponse = Schema.Struct({ success: Schema.Boolean, message: Schema.String })

export const DeployResponse = Schema.Struct({
  success: Schema.Boolean,
  message: Schema.String,
  instance_id: Schema.NullOr(Schema.String)
})

/**
 * One service of `/instances/add`: every field required, as the original's `ServiceInstallConfig`, and bounded by
 * the registry's field schemas (`InstanceRegistry.limits`).
 */
export const ServiceInstallConfig = Schema.Struct({
  name: InstanceRegistry.ServiceName,
  path: InstanceRegistry.FolderPath,
  port: InstanceRegistry.Port,
  run_cmd: InstanceRegistry.CommandLine
})

/**
 * `/instances/add`'s body (the original's instance_api `DeployRequest`); unknown keys are ignored. Unlike the
 * original, every field is bounded and printable (no control characters, no lone surrogates) and an empty path is
 * refused, with a 422 naming the field; paths must then be existing directories (400, the original's messages).
 */
export const AddInstanceRequest = Schema.Struct({
  instance_name: InstanceRegistry.InstanceName,
  install_services: Schema.Array(ServiceInstallConfig).check(
    Schema.isMaxLength(InstanceRegistry.limits.services, {
      message: `must list at most ${InstanceRegistry.limits.services} services`
    })
  ),
  install_path: InstanceRegistry.FolderPath,
  port: InstanceRegistry.Port,
  version: InstanceRegistry.VersionLabel,
  maibot_path: Schema.optional(Schema.NullOr(InstanceRegistry.FolderPath)),
  adapter_path: Schema.optional(Schema.NullOr(InstanceRegistry.FolderPath)),
  /** Accepted and ignored, as by the original. */
  qq_number: Schema.optional(Schema.NullOr(Schema.String.check(Schema.isMaxLength(64)))),
  host: Schema.optional(Schema.NullOr(InstanceRegistry.HostName)),
  token: Schema.optional(Schema.NullOr(InstanceRegistry.AccessToken)),
  /** MaiKit: the restart policy of every component (default `on-failure`). */
  restart_policy: Schema.optional(ComponentProcess.RestartPolicy)
})

/** A component's process as `/instance/{id}/status` reports it. */
export const ComponentStatsDetail = Schema.Struct({
  name: Schema.String,
  state: ComponentProcess.ComponentState,
  pid: Schema.NullOr(Schema.Int),
  uptime_seconds: Schema.Number,
  cpu_percent: Schema.NullOr(Schema.Number),
  memory_bytes: Schema.NullOr(Schema.Number),
  process_count: Schema.Int,
  /** Every spawn, crash restarts included. */
  start_count: Schema.Int,
  restart_count: Schema.Int,
  total_runtime_seconds: Schema.Number,
  /** ISO 8601 UTC of the latest spawn. */
  last_start_time: Schema.NullOr(Schema.String),
  /**
   * Why the component is `errored` or backing off; for a process taken over from a MaiKit that was killed,
   * "adopted: output not available until restart".
   */
  message: Schema.NullOr(Schema.String)
})

export const InstanceStatusResponse = Schema.Struct({
  success: Schema.Literal(true),
  instance_id: Schema.String,
  status: InstanceRegistry.InstanceStatus,
  components: Schema.Array(ComponentStatsDetail)
})

const NotFound = Detail.pipe(HttpApiSchema.status(404))
const BadRequest = Detail.pipe(HttpApiSchema.status(400))
const InternalError = Detail.pipe(HttpApiSchema.status(500))

const idParam = { id: Schema.String }
const action = <const Name extends string, const Path extends `/api/v1/${string}`>(name: Name, path: Path) =>
  HttpApiEndpoint.get(name, path, { params: idParam, success: ActionResponse, error: [NotFound, InternalError] })
/**
 * MaiKit: one component of an instance (`main`, a service, or an alias: `maibot`, `nonebot`, `adapter`), the others
 * left as they are; `GET` like the instance actions and the seed's service-start routes.
 */
const componentAction = <const Name extends string>(name: Name, verb: "start" | "stop" | "restart") =>
  HttpApiEndpoint.get(name, `/api/v1/instance/:id/component/:component/${verb}`, {
    params: { id: Schema.String, component: Schema.String },
    success: ActionResponse,
    error: [NotFound, InternalError]
  })
const deleteQuery = { delete_files: Schema.optional(Schema.Literals(["true", "false", "1", "0"])) }

export class LauncherInstancesGroup extends HttpApiGroup.make("launcherInstances")
  .add(
    HttpApiEndpoint.get("listInstances", "/api/v1/instances", { success: InstancesResponse, error: InternalError }),
    HttpApiEndpoint.get("instanceStats", "/api/v1/instances/stats", {
      success: InstanceStatsResponse,
      error: InternalError
    }),
    HttpApiEndpoint.post("addInstance", "/api/v1/instances/add", {
      payload: AddInstanceRequest,
      success: DeployResponse,
      error: [BadRequest, ValidationError, InternalError]
    }),
    action("startInstance", "/api/v1/instance/:id/start"),
    action("stopInstance", "/api/v1/instance/:id/stop"),
    action("restartInstance", "/api/v1/instance/:id/restart"),
    HttpApiEndpoint.delete("deleteInstance", "/api/v1/instance/:id/delete", {
      params: idParam,
      query: deleteQuery,
      success: ActionResponse,
      error: [NotFound, ValidationError, InternalError]
    }),
    HttpApiEndpoint.get("deleteInstanceAlias", "/api/v1/instance/:id/delete", {
      params: idParam,
      query: deleteQuery,
      success: ActionResponse,
      error: [NotFound, ValidationError, InternalError]
    }),
    action("startNapcat", "/api/v1/start/:id/napcat"),
    action("startNonebot", "/api/v1/start/:id/nonebot"),
    componentAction("startComponent", "start"),
    componentAction("stopComponent", "stop"),
    componentAction("restartComponent", "restart"),
    HttpApiEndpoint.get("instanceStatus", "/api/v1/instance/:id/status", {
      params: idParam,
      success: InstanceStatusResponse,
      error: [NotFound, InternalError]
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Launcher: instances",
    description: "Registering, starting, stopping and deleting MaiBot instances and their services. " +
      "Terminals: WebSocket /api/v1/ws/{instance_id}_{type}; logs: WebSocket /api/v1/logs/instance/{id}/ws"
  }))
{}

export class LauncherInstancesApi extends HttpApi.make("launcherInstances")
  .add(LauncherInstancesGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit launcher instances API",
    description: "The MaiLauncher backend's instance routes, served by MaiKit's InstanceSupervisor",
    transform: acceptUnknownFields
  }))
{}
