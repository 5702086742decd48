/**
 * What a deploy or update job looks like from outside: its status (persisted, so it outlives the job and a
 * restart of MaiKit), its last log lines, the progress of each service it installs, and the events it emits
 * while it runs. `Deployer` produces them; adapters render them in their clients' shapes.
 */
import { Schema } from "effect"

/** The original's statuses: a cancelled or interrupted job is `failed` (its client stops polling only then). */
export const JobStatusName = Schema.Literals(["preparing", "installing", "completed", "failed"])
export type JobStatusName = typeof JobStatusName.Type

export const JobKind = Schema.Literals(["deploy", "update"])
export type JobKind = typeof JobKind.Type

export const LogLevel = Schema.Literals(["info", "warning", "error", "success"])
export type LogLevel = typeof LogLevel.Type

export const LogEntry = Schema.Struct({
  /** Epoch milliseconds. */
  at: Schema.Number,
  level: LogLevel,
  message: Schema.String
})
export type LogEntry = typeof LogEntry.Type

export const ServiceState = Schema.Literals(["pending", "installing", "completed", "failed", "skipped"])

export const ServiceProgress = Schema.Struct({
  name: Schema.String,
  status: ServiceState,
  progress: Schema.Int,
  message: Schema.String
})
export type ServiceProgress = typeof ServiceProgress.Type

export const Generation = Schema.Literals(["0.x", "1.x"])
export type Generation = typeof Generation.Type

export const JobStatus = Schema.Struct({
  id: Schema.String,
  kind: JobKind,
  /** The instance deployed (the job's own id for a deploy) or updated. */
  instanceId: Schema.String,
  name: Schema.String,
  /** As requested (`latest`, `main`, `1.2.1`, `v0.6.3`). */
  version: Schema.String,
  /** The ref it resolved to, once known. */
  ref: Schema.NullOr(Schema.String),
  generation: Schema.NullOr(Generation),
  path: Schema.String,
  status: JobStatusName,
  progress: Schema.Int,
  message: Schema.String,
  /** The step running or, for a failed job, the step that failed. */
  step: Schema.String,
  services: Schema.Array(ServiceProgress),
  logs: Schema.Array(LogEntry),
  cancelled: Schema.Boolean,
  /** What was left in place after a failure: folders that existed before the job, or that it could not remove. */
  kept: Schema.Array(Schema.String),
  /** What a failure or cancel removed: only what the job itself created. */
  removed: Schema.Array(Schema.String),
  /** The backup an update took first. */
  backupId: Schema.NullOr(Schema.String),
  /** ISO 8601 UTC. */
  startedAt: Schema.String,
  updatedAt: Schema.String,
  finishedAt: Schema.NullOr(Schema.String)
})
export type JobStatus = typeof JobStatus.Type

/** A job's live events: its overall progress, one log line, one service's progress, and its end. */
export const ProgressEvent = Schema.TaggedStruct("Progress", {
  jobId: Schema.String,
  status: JobStatusName,
  progress: Schema.Int,
  message: Schema.String,
  step: Schema.String
})
export const LogEvent = Schema.TaggedStruct("Log", {
  jobId: Schema.String,
  entry: LogEntry
})
export const ServiceEvent = Schema.TaggedStruct("Service", {
  jobId: Schema.String,
  service: ServiceProgress
})
export const FinishedEvent = Schema.TaggedStruct("Finished", {
  jobId: Schema.String,
  status: JobStatus
})
export const JobEvent = Schema.Union([ProgressEvent, LogEvent, ServiceEvent, FinishedEvent])
export type JobEvent = typeof JobEvent.Type

export const Backup = Schema.Struct({
  id: Schema.String,
  instanceId: Schema.String,
  instanceName: Schema.String,
  /** The instance's version when the backup was taken. */
  version: Schema.String,
  generation: Schema.NullOr(Generation),
  /** The commit checked out then. */
  head: Schema.NullOr(Schema.String),
  /** Where the copy lives: `<dataDir>/backups/<id>`. */
  directory: Schema.String,
  /** The venv the update replaced, kept beside the instance until the backup is restored or deleted. */
  previousVenv: Schema.NullOr(Schema.String),
  sizeBytes: Schema.Number,
  reason: Schema.String,
  createdAt: Schema.String
})
export type Backup = typeof Backup.Type

/** A service the deployer can install, as `/deploy/services` lists it. */
export const DeployableService = Schema.Struct({
  name: Schema.String,
  description: Schema.String
})
export type DeployableService = typeof DeployableService.Type

export const VersionListing = Schema.Struct({
  /** `latest`, `main`, tags newest first, `dev`. */
  versions: Schema.Array(Schema.String),
  /** What `latest` stands for now. */
  latest: Schema.NullOr(Schema.String),
  source: Schema.Literals(["remote", "cache", "builtin"]),
  remote: Schema.NullOr(Schema.String),
  fetchedAt: Schema.NullOr(Schema.String)
})
export type VersionListing = typeof VersionListing.Type
