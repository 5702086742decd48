/**
 * The launcher's deploy routes, as the original backend and its Vue client have them (contract §1.4, §3.1,
 * §4.2; seed 000), plus MaiKit's cancel, retry, job list, instance update and backup routes. Schemas and
 * endpoints only; the handlers are in `LauncherDeploy.ts`.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Deployer } from "@maikit/core/launcher"
import { ActionResponse, Detail, DeployResponse, ValidationDetail } from "./LauncherApi.ts"

const ValidationError = ValidationDetail.pipe(HttpApiSchema.status(422))
const BadRequest = Detail.pipe(HttpApiSchema.status(400))
const NotFound = Detail.pipe(HttpApiSchema.status(404))
const Conflict = Detail.pipe(HttpApiSchema.status(409))
const InternalError = Detail.pipe(HttpApiSchema.status(500))

export const VersionsResponse = Schema.Struct({
  /** `latest`, `main`, tags newest first (no `v`), `dev`: what the client's version picker offers. */
  versions: Schema.Array(Schema.String),
  /** MaiKit: the tag `latest` stands for now. */
  latest: Schema.NullOr(Schema.String),
  /** MaiKit: where the list came from: a remote's `git ls-remote`, the on-disk cache, or the built-in list. */
  source: Schema.Literals(["remote", "cache", "builtin"]),
  remote: Schema.NullOr(Schema.String),
  fetched_at: Schema.NullOr(Schema.String)
})

export const ServicesResponse = Schema.Struct({ services: Schema.Array(Deployer.DeployableService) })

/** One service to install. The original required `path`, `port` and `run_cmd`; here they default. */
export const ServiceInstallRequest = Schema.Struct({
  name: Schema.String,
  path: Schema.optional(Schema.NullOr(Schema.String)),
  port: Schema.optional(Schema.NullOr(Schema.Int)),
  run_cmd: Schema.optional(Schema.NullOr(Schema.String)),
  /** MaiKit, `napcat` only: its release archive (URL or local zip / tar.gz), instead of the configured one. */
  archive: Schema.optional(Schema.NullOr(Schema.String)),
  /** MaiKit, `napcat` only: the archive's SHA-256, checked before it is unpacked. */
  sha256: Schema.optional(Schema.NullOr(Schema.String))
})

/** `POST /deploy/deploy`'s body (the original's deploy_api `DeployRequest`); unknown keys are ignored. */
export const DeployRequestBody = Schema.Struct({
  instance_name: Schema.String,
  install_services: Schema.optional(Schema.Array(ServiceInstallRequest)),
  install_path: Schema.String,
  port: Schema.Int,
  version: Schema.String,
  host: Schema.optional(Schema.NullOr(Schema.String)),
  token: Schema.optional(Schema.NullOr(Schema.String)),
  /** MaiKit: MaiBot's WebUI port (default MaiBot's own, 8001). */
  webui_port: Schema.optional(Schema.NullOr(Schema.Int))
})

/** Seed 000's `POST /deploy/{version}`: the version in the path, the services as `installServices`. */
export const SeedDeployRequestBody = Schema.Struct({
  instance_name: Schema.String,
  installServices: Schema.optional(Schema.Array(ServiceInstallRequest)),
  install_services: Schema.optional(Schema.Array(ServiceInstallRequest)),
  install_path: Schema.String,
  port: Schema.Int,
  version: Schema.optional(Schema.String),
  qq_number: Schema.optional(Schema.NullOr(Schema.String)),
  host: Schema.optional(Schema.NullOr(Schema.String)),
  token: Schema.optional(Schema.NullOr(Schema.String)),
  webui_port: Schema.optional(Schema.NullOr(Schema.Int))
})

export const InstallLog = Schema.Struct({
  /** Local `HH:MM:SS`, as the original. */
  timestamp: Schema.String,
  message: Schema.String,
  level: Deployer.LogLevel
})

/**
 * The original's `InstallStatusResponse` (the client reads `status`, `progress`, `message`,
 * `services_install_status`, `logs`), plus MaiKit's facts about the job. It stays readable after the job ends.
 */
export const InstallStatusResponse = Schema.Struct({
  status: Deployer.JobStatusName,
  progress: Schema.Int,
  message: Schema.String,
  services_install_status: Schema.Array(Deployer.ServiceProgress),
  logs: Schema.Array(InstallLog),
  job_id: Schema.String,
  instance_id: Schema.String,
  kind: Deployer.JobKind,
  version: Schema.String,
  ref: Schema.NullOr(Schema.String),
  generation: Schema.NullOr(Deployer.Generation),
  /** The step running, or the one that failed. */
  step: Schema.String,
  cancelled: Schema.Boolean,
  /** After a failure: what was left in place (folders that existed before) and what was removed. */
  kept: Schema.Array(Schema.String),
  removed: Schema.Array(Schema.String),
  backup_id: Schema.NullOr(Schema.String),
  started_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String)
})

export const JobSummary = Schema.Struct({
  job_id: Schema.String,
  instance_id: Schema.String,
  kind: Deployer.JobKind,
  name: Schema.String,
  version: Schema.String,
  path: Schema.String,
  status: Deployer.JobStatusName,
  progress: Schema.Int,
  message: Schema.String,
  started_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String)
})

export const JobsResponse = Schema.Struct({ success: Schema.Literal(true), jobs: Schema.Array(JobSummary) })

export const UpdateRequestBody = Schema.Struct({ version: Schema.String })

export const UpdateResponse = Schema.Struct({
  success: Schema.Boolean,
  message: Schema.String,
  instance_id: Schema.String,
  /** Poll `/deploy/install-status/{job_id}` for its progress. */
  job_id: Schema.String
})

export const BackupDetail = Schema.Struct({
  id: Schema.String,
  instance_id: Schema.String,
  instance_name: Schema.String,
  version: Schema.String,
  generation: Schema.NullOr(Deployer.Generation),
  head: Schema.NullOr(Schema.String),
  directory: Schema.String,
  previous_venv: Schema.NullOr(Schema.String),
  size_bytes: Schema.Number,
  reason: Schema.String,
  created_at: Schema.String
})

export const BackupsResponse = Schema.Struct({ success: Schema.Literal(true), backups: Schema.Array(BackupDetail) })

const idParam = { id: Schema.String }
const versionsEndpoint = <const Name extends string, const Path extends `/api/v1/${string}`>(name: Name, path: Path) =>
  HttpApiEndpoint.get(name, path, {
    query: { refresh: Schema.optional(Schema.Literals(["true", "false", "1", "0"])) },
    success: VersionsResponse,
    error: ValidationError
  })
const statusEndpoint = <const Name extends string, const Path extends `/api/v1/${string}`>(name: Name, path: Path) =>
  HttpApiEndpoint.get(name, path, { params: idParam, success: InstallStatusResponse, error: [NotFound, InternalError] })

export class LauncherDeployGroup extends HttpApiGroup.make("launcherDeploy")
  .add(
    versionsEndpoint("versions", "/api/v1/deploy/versions"),
    versionsEndpoint("versionsAlias", "/api/v1/versions"),
    HttpApiEndpoint.get("services", "/api/v1/deploy/services", { success: ServicesResponse }),
    HttpApiEndpoint.post("deploy", "/api/v1/deploy/deploy", {
      payload: DeployRequestBody,
      success: DeployResponse,
      error: [BadRequest, NotFound, Conflict, ValidationError, InternalError]
    }),
    HttpApiEndpoint.get("jobs", "/api/v1/deploy/jobs", { success: JobsResponse, error: InternalError }),
    statusEndpoint("installStatus", "/api/v1/deploy/install-status/:id"),
    statusEndpoint("installStatusAlias", "/api/v1/install-status/:id"),
    HttpApiEndpoint.post("cancel", "/api/v1/deploy/cancel/:id", {
      params: idParam,
      success: ActionResponse,
      error: [NotFound, Conflict, InternalError]
    }),
    HttpApiEndpoint.post("retry", "/api/v1/deploy/retry/:id", {
      params: idParam,
      success: DeployResponse,
      error: [BadRequest, NotFound, Conflict, InternalError]
    }),
    HttpApiEndpoint.post("deployVersion", "/api/v1/deploy/:version", {
      params: { version: Schema.String },
      payload: SeedDeployRequestBody,
      success: DeployResponse,
      error: [BadRequest, NotFound, Conflict, ValidationError, InternalError]
    }),
    HttpApiEndpoint.post("update", "/api/v1/instance/:id/update", {
      params: idParam,
      payload: UpdateRequestBody,
      success: UpdateResponse,
      error: [BadRequest, NotFound, Conflict, ValidationError, InternalError]
    }),
    HttpApiEndpoint.get("backups", "/api/v1/instance/:id/backups", {
      params: idParam,
      success: BackupsResponse,
      error: [NotFound, InternalError]
    }),
    HttpApiEndpoint.post("restoreBackup", "/api/v1/instance/:id/backups/:backup_id/restore", {
      params: { id: Schema.String, backup_id: Schema.String },
      success: ActionResponse,
      error: [NotFound, Conflict, InternalError]
    }),
    HttpApiEndpoint.delete("deleteBackup", "/api/v1/instance/:id/backups/:backup_id", {
      params: { id: Schema.String, backup_id: Schema.String },
      success: ActionResponse,
      error: [NotFound, InternalError]
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Launcher: deploy",
    description: "Versions, deploy jobs with persisted status (poll install-status every few seconds), cancel and retry, " +
      "instance updates with backup and rollback. Install log: WebSocket /api/v1/logs/ws " +
      "(frames {time, level, message, source: \"install\", job_id}; ?job=<id> for one job)"
  }))
{}

export class LauncherDeployApi extends HttpApi.make("launcherDeploy")
  .add(LauncherDeployGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit launcher deploy API",
    description: "The MaiLauncher backend's deploy routes, served by MaiKit's Deployer"
  }))
{}
