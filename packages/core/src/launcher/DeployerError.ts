/**
 * Typed failures of `Deployer`, as one error with a `reason` union (the shape of Effect's `HttpClientError`):
 * each reason carries the structured facts an adapter needs to word it for its clients, and nothing of any
 * wire format. A job that fails while it runs is not an error of the call that started it: it ends `failed`
 * in its status, naming the step and the tool's own message.
 */
import { Schema } from "effect"

/** What is wrong with a request's field. */
export const Problem = Schema.Literals([
  "empty",
  "relative",
  "parentSegment",
  "notWritable",
  "notEmpty",
  "notDirectory",
  "unknownVersion",
  "unknownService",
  "duplicateService",
  "portRange",
  "portInUse",
  "badCommand",
  "badChecksum",
  "missingArchive",
  "downgrade",
  "notRepository"
])
export type Problem = typeof Problem.Type

/** A request that cannot be honoured; nothing was written. `field` names the input, `value` what was given. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  field: Schema.String,
  problem: Problem,
  value: Schema.String,
  /** The other party of a conflict (the instance holding a port) or a fact that explains it (the versions known). */
  detail: Schema.optional(Schema.String)
}) {}

/** Another job is deploying to, or updating, the same folder. */
export class PathBusy extends Schema.TaggedError<PathBusy>()("PathBusy", {
  path: Schema.String,
  jobId: Schema.String
}) {}

export class JobNotFound extends Schema.TaggedError<JobNotFound>()("JobNotFound", {
  jobId: Schema.String
}) {}

/** Retry of a job that has not failed, or cancel of one that has finished. */
export class JobState extends Schema.TaggedError<JobState>()("JobState", {
  jobId: Schema.String,
  status: Schema.String
}) {}

export class InstanceMissing extends Schema.TaggedError<InstanceMissing>()("InstanceMissing", {
  instanceId: Schema.String
}) {}

/** The instance runs (or starts, stops, backs off): an update or restore would pull files from under it. */
export class InstanceBusy extends Schema.TaggedError<InstanceBusy>()("InstanceBusy", {
  instanceId: Schema.String,
  status: Schema.String
}) {}

export class BackupNotFound extends Schema.TaggedError<BackupNotFound>()("BackupNotFound", {
  backupId: Schema.String
}) {}

/** A backup could not be restored or deleted (a file operation failed); `step` says which part. */
export class BackupFailed extends Schema.TaggedError<BackupFailed>()("BackupFailed", {
  backupId: Schema.String,
  step: Schema.String,
  output: Schema.String
}) {}

/** MaiKit's database failed; `operation` names what was being done. */
export class StorageFailed extends Schema.TaggedError<StorageFailed>()("StorageFailed", {
  operation: Schema.String,
  output: Schema.String
}) {}

export const Reason = Schema.Union([
  InvalidRequest,
  PathBusy,
  JobNotFound,
  JobState,
  InstanceMissing,
  InstanceBusy,
  BackupNotFound,
  BackupFailed,
  StorageFailed
])
export type Reason = typeof Reason.Type

const describe = (reason: Reason): string => {
  switch (reason._tag) {
    case "InvalidRequest":
      return `invalid ${reason.field} (${reason.problem}): ${reason.value}${reason.detail === undefined ? "" : ` — ${reason.detail}`}`
    case "PathBusy":
      return `job ${reason.jobId} is already working in ${reason.path}`
    case "JobNotFound":
      return `no job ${reason.jobId}`
    case "JobState":
      return `job ${reason.jobId} is ${reason.status}`
    case "InstanceMissing":
      return `no instance ${reason.instanceId}`
    case "InstanceBusy":
      return `instance ${reason.instanceId} is ${reason.status}; stop it first`
    case "BackupNotFound":
      return `no backup ${reason.backupId}`
    case "BackupFailed":
      return `backup ${reason.backupId}: ${reason.step} failed: ${reason.output}`
    case "StorageFailed":
      return `storage failed (${reason.operation}): ${reason.output}`
  }
}

export class DeployerError extends Schema.TaggedError<DeployerError>()("DeployerError", {
  reason: Reason
}) {
  override get message(): string {
    return describe(this.reason)
  }
}

/** A failure inside a job's step (a tool that exited non-zero, a check that did not hold). */
export class StepFailed extends Schema.TaggedError<StepFailed>()("StepFailed", {
  /** The job's step, e.g. `clone`, `deps`, `python`. */
  step: Schema.String,
  /** The tool or check: `git`, `pip`, `python`, `archive`, … */
  tool: Schema.String,
  /** The tool's own words (its last error lines), or what the check found. */
  output: Schema.String
}) {
  override get message(): string {
    return `${this.step} (${this.tool}): ${this.output}`
  }
}
