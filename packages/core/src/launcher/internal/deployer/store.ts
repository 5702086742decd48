/**
 * The deployer's tables in MaiKit's database: jobs (state, what they created, who runs them), their last log
 * lines (200 per job), what each deployed instance is (generation, WebUI port, where it came from) and the
 * backups updates take. Owned by the `deployer` service and migrated with it.
 */
import { Effect, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Database from "../../../platform/Database.ts"
import * as DeployJob from "../../DeployJob.ts"
import { DeployerError, StorageFailed } from "../../DeployerError.ts"

export const logLimit = 200

export const migrations = Database.migrations("deployer", {
  "0001_create_jobs": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE deployer_jobs (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      instance_id TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      ref TEXT,
      generation TEXT,
      path TEXT NOT NULL,
      request TEXT NOT NULL,
      status TEXT NOT NULL,
      progress INTEGER NOT NULL,
      message TEXT NOT NULL,
      step TEXT NOT NULL,
      services TEXT NOT NULL,
      created TEXT NOT NULL,
      kept TEXT NOT NULL,
      removed TEXT NOT NULL,
      cancelled INTEGER NOT NULL DEFAULT 0,
      backup_id TEXT,
      owner_pid INTEGER NOT NULL,
      owner_ticks INTEGER,
      tool_pid INTEGER,
      tool_ticks INTEGER,
      started_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      finished_at TEXT
    )`),
  "0002_create_logs": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE deployer_logs (
      job_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      at INTEGER NOT NULL,
      level TEXT NOT NULL,
      message TEXT NOT NULL,
      PRIMARY KEY (job_id, seq)
    )`),
  "0003_create_instances": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE deployer_instances (
      instance_id TEXT PRIMARY KEY,
      generation TEXT NOT NULL,
      webui_port INTEGER,
      remote TEXT NOT NULL,
      ref TEXT NOT NULL,
      adapter TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`),
  "0004_create_backups": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE deployer_backups (
      id TEXT PRIMARY KEY,
      instance_id TEXT NOT NULL,
      instance_name TEXT NOT NULL,
      version TEXT NOT NULL,
      generation TEXT,
      head TEXT,
      directory TEXT NOT NULL,
      previous_venv TEXT,
      components TEXT NOT NULL,
      size_bytes INTEGER NOT NULL,
      reason TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`)
})

/** A path a job created: removed on failure. `contentsOnly`: the folder existed (empty) before; only its entries go. */
export const Created = Schema.Struct({ path: Schema.String, contentsOnly: Schema.Boolean })
export type Created = typeof Created.Type

/** The job's row: its public status plus what it needs to be retried, cleaned up or found after a crash. */
export interface JobRecord {
  status: DeployJob.JobStatus
  /** The request, as JSON, so a failed job can be run again. */
  readonly request: string
  created: Array<Created>
  ownerPid: number
  ownerTicks: number | undefined
  toolPid: number | undefined
  toolTicks: number | undefined
}

const JobRow = Schema.Struct({
  id: Schema.String,
  kind: DeployJob.JobKind,
  instance_id: Schema.String,
  name: Schema.String,
  version: Schema.String,
  ref: Schema.NullOr(Schema.String),
  generation: Schema.NullOr(DeployJob.Generation),
  path: Schema.String,
  request: Schema.String,
  status: DeployJob.JobStatusName,
  progress: Schema.Number,
  message: Schema.String,
  step: Schema.String,
  services: Schema.fromJsonString(Schema.Array(DeployJob.ServiceProgress)),
  created: Schema.fromJsonString(Schema.Array(Created)),
  kept: Schema.fromJsonString(Schema.Array(Schema.String)),
  removed: Schema.fromJsonString(Schema.Array(Schema.String)),
  cancelled: Schema.Number,
  backup_id: Schema.NullOr(Schema.String),
  owner_pid: Schema.Number,
  owner_ticks: Schema.NullOr(Schema.Number),
  tool_pid: Schema.NullOr(Schema.Number),
  tool_ticks: Schema.NullOr(Schema.Number),
  started_at: Schema.String,
  updated_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String)
})

const LogRow = Schema.Struct({ job_id: Schema.String, at: Schema.Number, level: DeployJob.LogLevel, message: Schema.String })

const BackupRow = Schema.Struct({
  id: Schema.String,
  instance_id: Schema.String,
  instance_name: Schema.String,
  version: Schema.String,
  generation: Schema.NullOr(DeployJob.Generation),
  head: Schema.NullOr(Schema.String),
  directory: Schema.String,
  previous_venv: Schema.NullOr(Schema.String),
  components: Schema.String,
  size_bytes: Schema.Number,
  reason: Schema.String,
  created_at: Schema.String
})
export type BackupRow = typeof BackupRow.Type

export const DeployedInstance = Schema.Struct({
  instance_id: Schema.String,
  generation: DeployJob.Generation,
  webui_port: Schema.NullOr(Schema.Number),
  remote: Schema.String,
  ref: Schema.String,
  adapter: Schema.Literals(["plugin", "process", "none"]),
  updated_at: Schema.String
})
export type DeployedInstance = typeof DeployedInstance.Type

const decodeJobs = Schema.decodeUnknownEffect(Schema.Array(JobRow))
const decodeLogs = Schema.decodeUnknownEffect(Schema.Array(LogRow))
const decodeBackups = Schema.decodeUnknownEffect(Schema.Array(BackupRow))
const decodeInstances = Schema.decodeUnknownEffect(Schema.Array(DeployedInstance))

const failed = (operation: string) => (cause: SqlError | Schema.SchemaError) =>
  new DeployerError({ reason: new StorageFailed({ operation, output: cause.message }) })

export const backupOf = (row: BackupRow): DeployJob.Backup => ({
  id: row.id,
  instanceId: row.instance_id,
  instanceName: row.instance_name,
  version: row.version,
  generation: row.generation,
  head: row.head,
  directory: row.directory,
  previousVenv: row.previous_venv,
  sizeBytes: row.size_bytes,
  reason: row.reason,
  createdAt: row.created_at
})

const toRecord = (row: typeof JobRow.Type, logs: ReadonlyArray<DeployJob.LogEntry>): JobRecord => ({
  status: {
    id: row.id,
    kind: row.kind,
    instanceId: row.instance_id,
    name: row.name,
    version: row.version,
    ref: row.ref,
    generation: row.generation,
    path: row.path,
    status: row.status,
    progress: row.progress,
    message: row.message,
    step: row.step,
    services: row.services,
    logs,
    cancelled: row.cancelled === 1,
    kept: row.kept,
    removed: row.removed,
    backupId: row.backup_id,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at
  },
  request: row.request,
  created: [...row.created],
  ownerPid: row.owner_pid,
  ownerTicks: row.owner_ticks ?? undefined,
  toolPid: row.tool_pid ?? undefined,
  toolTicks: row.tool_ticks ?? undefined
})

export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const logsOf = (jobId: string) =>
    sql`SELECT job_id, at, level, message FROM deployer_logs WHERE job_id = ${jobId} ORDER BY seq`.pipe(
      Effect.flatMap(decodeLogs),
      Effect.map((rows) => rows.map(({ at, level, message }) => ({ at, level, message })))
    )

  /** Writes the job's row (not its logs). */
  const save = (record: JobRecord) => {
    const status = record.status
    const row = {
      id: status.id,
      kind: status.kind,
      instance_id: status.instanceId,
      name: status.name,
      version: status.version,
      ref: status.ref,
      generation: status.generation,
      path: status.path,
      request: record.request,
      status: status.status,
      progress: status.progress,
      message: status.message,
      step: status.step,
      services: JSON.stringify(status.services),
      created: JSON.stringify(record.created),
      kept: JSON.stringify(status.kept),
      removed: JSON.stringify(status.removed),
      cancelled: status.cancelled ? 1 : 0,
      backup_id: status.backupId,
      owner_pid: record.ownerPid,
      owner_ticks: record.ownerTicks ?? null,
      tool_pid: record.toolPid ?? null,
      tool_ticks: record.toolTicks ?? null,
      started_at: status.startedAt,
      updated_at: status.updatedAt,
      finished_at: status.finishedAt
    }
    return sql`INSERT OR REPLACE INTO deployer_jobs ${sql.insert(row)}`.pipe(Effect.asVoid, Effect.mapError(failed("saveJob")))
  }

  /** Appends a log line; every 50 lines the job's older ones beyond the last 200 go. */
  const appendLog = (jobId: string, seq: number, entry: DeployJob.LogEntry) =>
    Effect.gen(function*() {
      yield* sql`INSERT INTO deployer_logs ${sql.insert({ job_id: jobId, seq, ...entry })}`
      if (seq % 50 === 0 && seq > logLimit) yield* sql`DELETE FROM deployer_logs WHERE job_id = ${jobId} AND seq <= ${seq - logLimit}`
    }).pipe(Effect.mapError(failed("appendLog")))

  const get = (jobId: string) =>
    Effect.gen(function*() {
      const rows = yield* sql`SELECT * FROM deployer_jobs WHERE id = ${jobId}`.pipe(Effect.flatMap(decodeJobs))
      const row = rows[0]
      if (row === undefined) return undefined
      const logs = yield* logsOf(jobId)
      return toRecord(row, logs.slice(-logLimit))
    }).pipe(Effect.mapError(failed("getJob")))

  /** Every job, newest first, without logs. */
  const list = sql`SELECT * FROM deployer_jobs ORDER BY started_at DESC, id`.pipe(
    Effect.flatMap(decodeJobs),
    Effect.map((rows) => rows.map((row) => toRecord(row, []))),
    Effect.mapError(failed("listJobs"))
  )

  const active = sql`SELECT * FROM deployer_jobs WHERE status IN ('preparing', 'installing')`.pipe(
    Effect.flatMap(decodeJobs),
    Effect.flatMap((rows) => Effect.forEach(rows, (row) => Effect.map(logsOf(row.id), (logs) => toRecord(row, logs.slice(-logLimit))))),
    Effect.mapError(failed("activeJobs"))
  )

  const removeLogs = (jobId: string) =>
    sql`DELETE FROM deployer_logs WHERE job_id = ${jobId}`.pipe(Effect.asVoid, Effect.mapError(failed("removeLogs")))

  const recordInstance = (instance: DeployedInstance) =>
    sql`INSERT OR REPLACE INTO deployer_instances ${sql.insert(instance)}`.pipe(
      Effect.asVoid,
      Effect.mapError(failed("recordInstance"))
    )

  const instanceOf = (instanceId: string) =>
    sql`SELECT * FROM deployer_instances WHERE instance_id = ${instanceId}`.pipe(
      Effect.flatMap(decodeInstances),
      Effect.map((rows) => rows[0]),
      Effect.mapError(failed("getInstance"))
    )

  const addBackup = (row: BackupRow) =>
    sql`INSERT INTO deployer_backups ${sql.insert(row)}`.pipe(Effect.asVoid, Effect.mapError(failed("addBackup")))

  const backups = (instanceId: string | undefined) =>
    (instanceId === undefined
      ? sql`SELECT * FROM deployer_backups ORDER BY created_at DESC, id`
      : sql`SELECT * FROM deployer_backups WHERE instance_id = ${instanceId} ORDER BY created_at DESC, id`).pipe(
        Effect.flatMap(decodeBackups),
        Effect.mapError(failed("listBackups"))
      )

  const backup = (backupId: string) =>
    sql`SELECT * FROM deployer_backups WHERE id = ${backupId}`.pipe(
      Effect.flatMap(decodeBackups),
      Effect.map((rows) => rows[0]),
      Effect.mapError(failed("getBackup"))
    )

  const setPreviousVenv = (backupId: string, previousVenv: string | null) =>
    sql`UPDATE deployer_backups SET previous_venv = ${previousVenv} WHERE id = ${backupId}`.pipe(
      Effect.asVoid,
      Effect.mapError(failed("updateBackup"))
    )

  const removeBackup = (backupId: string) =>
    sql`DELETE FROM deployer_backups WHERE id = ${backupId}`.pipe(Effect.asVoid, Effect.mapError(failed("removeBackup")))

  return {
    save,
    appendLog,
    get,
    list,
    active,
    removeLogs,
    recordInstance,
    instanceOf,
    addBackup,
    backups,
    backup,
    setPreviousVenv,
    removeBackup
  }
})

export type Store = Effect.Success<typeof make>
