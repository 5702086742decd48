/**
 * The launcher family's contract: the original MaiLauncher backend's routes and shapes, as its Vue client
 * reads them (`shared/contracts/launcher-api.md`). Kept apart from the handlers so a host can derive a typed
 * client or OpenAPI document without the server.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { MaikitVersion, UpdateChecker } from "@maikit/core"

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

const NetworkInterface = Schema.Struct({
  name: Schema.String,
  bytes_sent: Schema.Number,
  bytes_recv: Schema.Number,
  packets_sent: Schema.Number,
  packets_recv: Schema.Number,
  errin: Schema.Number,
  errout: Schema.Number,
  dropin: Schema.Number,
  dropout: Schema.Number
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
    interfaces: Schema.Array(NetworkInterface),
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
    description: "Compatible with the MaiLauncher backend (port 23456, /api/v1) and its Vue client"
  }))
{}
