/**
 * The launcher's registry of MaiBot instances and their components, in MaiKit's database. An instance is
 * a MaiBot checkout (`main`, run as `python bot.py`) plus its services (NapCat, the adapter), each with
 * its own command, working directory, environment and restart policy. Runtime statistics accumulate here so
 * they survive restarts of MaiKit itself: `start_count` counts runs (from the first component coming up to the
 * last one going down), `last_start_time` is when the latest run began (kept after it ends), `total_runtime`
 * sums every run, the current one included.
 *
 * It also records each running component's process (pid, group, session, start time, boot, and the MaiKit
 * process that owns it), so that a MaiKit that was killed can find what it left running on its next start.
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"
import * as Database from "../platform/Database.ts"
import { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"

export { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"

/** The seeds' English statuses, plus the supervisor's two failure states. */
export const InstanceStatus = Schema.Literals([
  "stopped",
  "starting",
  "running",
  "stopping",
  "crashed",
  "errored",
  "maintenance"
])
export type InstanceStatus = typeof InstanceStatus.Type

export const RestartPolicy = Schema.Literals(["no", "on-failure", "always"])
export type RestartPolicy = typeof RestartPolicy.Type

/**
 * Limits of what a caller may register, chosen well above any real value and well below what hurts: names and
 * version labels fit a list column, a path fits Linux's `PATH_MAX`, a command line the same.
 */
export const limits = {
  name: 64,
  version: 64,
  path: 4096,
  command: 4096,
  host: 253,
  token: 1024,
  services: 16
} as const

// Control characters (NUL, newlines, escape sequences) and lone surrogates: nothing a person types into a name,
// path or command, and each breaks something downstream (C strings, log lines, terminals, UTF-8 encoders).
const unprintable = /[\p{Cc}\p{Cs}]/u

const printable = Schema.makeFilter((value: string) =>
  !unprintable.test(value) || "must not contain control characters (NUL, newlines, escapes) or lone surrogates"
)

const notBlank = Schema.makeFilter((value: string) => value.trim() !== "" || "must not be empty")

const atMost = (max: number) => Schema.isMaxLength(max, { message: `must be at most ${max} characters` })

/** A printable string of at most `max` characters, not blank unless `blank` is allowed. */
const Field = (max: number, options: { readonly blank?: boolean } = {}) =>
  options.blank === true
    ? Schema.String.check(atMost(max), printable)
    : Schema.String.check(notBlank, atMost(max), printable)

/** An instance's display name. */
export const InstanceName = Field(limits.name)
/** A MaiBot version label (`0.7.0`, `unknown`, or the client's `检测到的MaiBot版本`). */
export const VersionLabel = Field(limits.version, { blank: true })
/** A folder as a caller writes it: absolute, relative or `~/…`; resolved (and required to exist) when registered. */
export const FolderPath = Field(limits.path)
/** A command line such as `python main.py`; split like a shell would, without running one. */
export const CommandLine = Field(limits.command)
export const HostName = Field(limits.host)
export const AccessToken = Field(limits.token, { blank: true })
export const Port = Schema.Int.check(
  Schema.makeFilter((port: number) => (port >= 1 && port <= 65535) || "must be a port number from 1 to 65535")
)
/** A service's name: also a folder name under the history and a terminal's address, so a strict shape. */
export const ServiceName = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: "must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"
  })
)

/** A service of an instance being registered (the original's `ServiceInstallConfig`). */
export const ServiceRequest = Schema.Struct({
  name: ServiceName,
  path: FolderPath,
  port: Port,
  /** Command line, e.g. `python main.py`. */
  command: CommandLine
})
export type ServiceRequest = typeof ServiceRequest.Type

/**
 * Registering an existing MaiBot folder (the original's `/instances/add`), as `InstanceSupervisor.add` takes it.
 * The HTTP route and the CLI decode with these same field schemas; the supervisor then requires every path to be
 * an existing directory and stores its real path.
 */
export const AddRequest = Schema.Struct({
  name: InstanceName,
  version: VersionLabel,
  installPath: FolderPath,
  port: Port,
  host: Schema.optional(HostName),
  token: Schema.optional(AccessToken),
  /** With `adapterPath`: "separate-path mode", where the instance lives in `maibotPath`, which needs a `bot.py`. */
  maibotPath: Schema.optional(Schema.NullOr(FolderPath)),
  adapterPath: Schema.optional(Schema.NullOr(FolderPath)),
  services: Schema.Array(ServiceRequest).check(
    Schema.isMaxLength(limits.services, { message: `must list at most ${limits.services} services` })
  ),
  /** For every component. Default `on-failure`. */
  restartPolicy: Schema.optional(RestartPolicy)
}).annotate({ identifier: "AddInstanceRequest" })
export type AddRequest = typeof AddRequest.Type

/** 40 lowercase hex characters, as the original's `sha1(salt + name)`. */
export const InstanceId = Schema.String.check(Schema.isPattern(/^[0-9a-f]{40}$/))

export const ComponentKind = Schema.Literals(["main", "service"])

export const Component = Schema.Struct({
  /** `main` for MaiBot itself; otherwise the service's name (`napcat`, `napcat-ada`, …). */
  name: Schema.String,
  kind: ComponentKind,
  /** Working directory. */
  path: Schema.String,
  port: Schema.NullOr(Schema.Int),
  /** The command line, e.g. `python bot.py`; a `python` command runs through the folder's venv when present. */
  command: Schema.String,
  env: Schema.Record(Schema.String, Schema.String),
  restart_policy: RestartPolicy,
  /** Start order: components start by ascending position and stop in reverse. */
  position: Schema.Int
})
export type Component = typeof Component.Type

export const Instance = Schema.Struct({
  id: InstanceId,
  name: Schema.String,
  version: Schema.String,
  path: Schema.String,
  status: InstanceStatus,
  host: Schema.String,
  port: Schema.Int,
  token: Schema.String,
  /** ISO 8601, UTC. */
  created_at: Schema.String,
  /** When the latest run began (ISO 8601, UTC); kept after the run ends. */
  last_start_time: Schema.NullOr(Schema.String),
  /** Seconds, accumulated over every run, the current one included. */
  total_runtime: Schema.Int,
  /** Runs begun: a start, or the first component coming up; crash restarts within a run do not count. */
  start_count: Schema.Int,
  /** Whether MaiKit created `path` (a deploy) rather than registering an existing folder (an add). */
  owns_path: Schema.Boolean,
  components: Schema.Array(Component)
})
export type Instance = typeof Instance.Type

export interface NewInstance {
  /** An id chosen beforehand (a deploy hands it to its client before the instance exists); default a new one. */
  readonly id?: string | undefined
  readonly name: string
  readonly version: string
  readonly path: string
  readonly host: string
  readonly port: number
  readonly token: string
  readonly ownsPath: boolean
  readonly components: ReadonlyArray<Omit<Component, "position">>
}

/**
 * A component's live process as recorded when it was spawned. `pid` + `start_ticks` + `boot_id` identify the
 * process beyond doubt (a recycled pid has another start time, a reboot another boot id); `pgid` and `sid` find
 * what it started; `run_id` is in the environment of everything the run started (`ComponentProcess.runIdVariable`),
 * which tells its processes apart once the leader is gone; `owner_*` is the MaiKit process supervising it.
 */
export const ProcessRecord = Schema.Struct({
  instance_id: Schema.String,
  component: Schema.String,
  pid: Schema.Int,
  pgid: Schema.Int,
  sid: Schema.Int,
  start_ticks: Schema.Int,
  boot_id: Schema.String,
  run_id: Schema.String,
  /** Epoch milliseconds of the spawn. */
  started_at: Schema.Number,
  owner_pid: Schema.Int,
  owner_start_ticks: Schema.Int
})
export type ProcessRecord = typeof ProcessRecord.Type

/** `sha1(hex(16 random bytes) + name)`: the original's scheme, so ids look the same to its clients. */
export const makeId = (name: string): string =>
  Crypto.createHash("sha1").update(Crypto.randomBytes(16).toString("hex") + name, "utf8").digest("hex")

export const migrations = Database.migrations("instance-registry", {
  "0001_create_instances": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE launcher_instances (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      path TEXT NOT NULL,
      status TEXT NOT NULL,
      host TEXT NOT NULL,
      port INTEGER NOT NULL,
      token TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_start_time TEXT,
      total_runtime INTEGER NOT NULL DEFAULT 0,
      start_count INTEGER NOT NULL DEFAULT 0,
      owns_path INTEGER NOT NULL DEFAULT 0
    )`),
  "0002_create_components": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE launcher_components (
      instance_id TEXT NOT NULL,
      name TEXT NOT NULL,
      kind TEXT NOT NULL,
      path TEXT NOT NULL,
      port INTEGER,
      command TEXT NOT NULL,
      env TEXT NOT NULL,
      restart_policy TEXT NOT NULL,
      position INTEGER NOT NULL,
      PRIMARY KEY (instance_id, name)
    )`),
  // `last_start_time` used to mark an open run too, and was cleared when the run ended; the run now has its own
  // column so the time of the latest start survives the stop.
  "0003_record_runs_and_processes": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE launcher_instances ADD COLUMN run_started_at TEXT`
    yield* sql`UPDATE launcher_instances SET run_started_at = last_start_time`
    yield* sql`CREATE TABLE launcher_processes (
      instance_id TEXT NOT NULL,
      component TEXT NOT NULL,
      pid INTEGER NOT NULL,
      pgid INTEGER NOT NULL,
      sid INTEGER NOT NULL,
      start_ticks INTEGER NOT NULL,
      boot_id TEXT NOT NULL,
      run_id TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      owner_pid INTEGER NOT NULL,
      owner_start_ticks INTEGER NOT NULL,
      PRIMARY KEY (instance_id, component)
    )`
  })
})

const InstanceRow = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  version: Schema.String,
  path: Schema.String,
  status: InstanceStatus,
  host: Schema.String,
  port: Schema.Number,
  token: Schema.String,
  created_at: Schema.String,
  last_start_time: Schema.NullOr(Schema.String),
  run_started_at: Schema.NullOr(Schema.String),
  total_runtime: Schema.Number,
  start_count: Schema.Number,
  owns_path: Schema.Number
})

const ComponentRow = Schema.Struct({
  instance_id: Schema.String,
  name: Schema.String,
  kind: ComponentKind,
  path: Schema.String,
  port: Schema.NullOr(Schema.Number),
  command: Schema.String,
  env: Schema.fromJsonString(Schema.Record(Schema.String, Schema.String)),
  restart_policy: RestartPolicy,
  position: Schema.Number
})

const decodeInstances = Schema.decodeUnknownEffect(Schema.Array(InstanceRow))
const decodeComponents = Schema.decodeUnknownEffect(Schema.Array(ComponentRow))
const decodeProcesses = Schema.decodeUnknownEffect(Schema.Array(ProcessRecord))

const isoOf = (millis: number) => new Date(millis).toISOString()

/** Whole seconds from an ISO time to `now`; 0 without a time. */
const secondsSince = (iso: string | null, now: number): number =>
  iso === null ? 0 : Math.max(0, Math.round((now - Date.parse(iso)) / 1000))

const failed = (operation: string) => (cause: SqlError | Schema.SchemaError) =>
  new InstanceRegistryError({ operation, message: cause.message, cause })

export class InstanceRegistry extends Context.Service<InstanceRegistry, {
  readonly list: Effect.Effect<ReadonlyArray<Instance>, InstanceRegistryError>
  readonly get: (id: string) => Effect.Effect<Instance, InstanceNotFound | InstanceRegistryError>
  /** Inserts the instance and its components in one transaction. */
  readonly add: (instance: NewInstance) => Effect.Effect<Instance, InstanceRegistryError>
  /** Deletes the instance and its components in one transaction; the folders are the caller's business. */
  readonly remove: (id: string) => Effect.Effect<void, InstanceNotFound | InstanceRegistryError>
  /** Replaces the version and the components in one transaction (an update of the instance's MaiBot). */
  readonly update: (
    id: string,
    changes: { readonly version: string; readonly components: ReadonlyArray<Omit<Component, "position">> }
  ) => Effect.Effect<Instance, InstanceNotFound | InstanceRegistryError>
  readonly setStatus: (id: string, status: InstanceStatus) => Effect.Effect<void, InstanceNotFound | InstanceRegistryError>
  /** A run begins: `start_count + 1`, `last_start_time = now`. */
  readonly recordStart: (id: string) => Effect.Effect<Instance, InstanceNotFound | InstanceRegistryError>
  /** The run ends: its time is added to `total_runtime`; `last_start_time` stays. */
  readonly recordStop: (id: string) => Effect.Effect<Instance, InstanceNotFound | InstanceRegistryError>
  /**
   * Start-up reconciliation, after the supervisor has dealt with the processes a killed MaiKit left: every
   * instance not in `keep` (the ones still running, adopted or owned by another live MaiKit) that is not
   * `stopped`, or still has an open run, becomes `stopped` with the run closed uncounted (when its processes died
   * is unknown). Returns the ids it changed.
   */
  readonly reconcile: (keep?: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, InstanceRegistryError>
  /** Records (or replaces) a component's live process. */
  readonly recordProcess: (record: ProcessRecord) => Effect.Effect<void, InstanceRegistryError>
  /** Forgets a component's process once it and its tree are gone; a newer record of the component stays. */
  readonly forgetProcess: (
    instanceId: string,
    component: string,
    pid: number
  ) => Effect.Effect<void, InstanceRegistryError>
  /** Every recorded process, of every instance. */
  readonly processes: Effect.Effect<ReadonlyArray<ProcessRecord>, InstanceRegistryError>
}>()("@maikit/core/InstanceRegistry") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const load = (rows: ReadonlyArray<typeof InstanceRow.Type>) =>
      Effect.gen(function*() {
        if (rows.length === 0) return []
        const ids = rows.map((row) => row.id)
        const components = yield* sql`SELECT * FROM launcher_components WHERE ${sql.in("instance_id", ids)}
          ORDER BY position`.pipe(Effect.flatMap(decodeComponents))
        const now = yield* Clock.currentTimeMillis
        return rows.map(({ run_started_at, ...row }): Instance => ({
          ...row,
          id: row.id,
          total_runtime: row.total_runtime + secondsSince(run_started_at, now),
          owns_path: row.owns_path === 1,
          components: components.filter((component) => component.instance_id === row.id).map((component) => ({
            name: component.name,
            kind: component.kind,
            path: component.path,
            port: component.port,
            command: component.command,
            env: component.env,
            restart_policy: component.restart_policy,
            position: component.position
          }))
        }))
      })

    const list = sql`SELECT * FROM launcher_instances ORDER BY created_at, id`.pipe(
      Effect.flatMap(decodeInstances),
      Effect.flatMap(load),
      Effect.mapError(failed("list"))
    )

    const find = (id: string) =>
      sql`SELECT * FROM launcher_instances WHERE id = ${id}`.pipe(
        Effect.flatMap(decodeInstances),
        Effect.flatMap(load),
        Effect.mapError(failed("get")),
        Effect.flatMap((instances) =>
          Option.match(Option.fromNullishOr(instances[0]), {
            onNone: () => Effect.fail(new InstanceNotFound({ id })),
            onSome: Effect.succeed
          })
        )
      )

    const add = (instance: NewInstance) =>
      Effect.gen(function*() {
        const id = instance.id ?? makeId(instance.name)
        const createdAt = isoOf(yield* Clock.currentTimeMillis)
        yield* sql`INSERT INTO launcher_instances ${
          sql.insert({
            id,
            name: instance.name,
            version: instance.version,
            path: instance.path,
            status: "stopped",
            host: instance.host,
            port: instance.port,
            token: instance.token,
            created_at: createdAt,
            last_start_time: null,
            total_runtime: 0,
            start_count: 0,
            owns_path: instance.ownsPath ? 1 : 0,
            run_started_at: null
          })
        }`
        for (const [position, component] of instance.components.entries()) {
          yield* sql`INSERT INTO launcher_components ${
            sql.insert({
              instance_id: id,
              name: component.name,
              kind: component.kind,
              path: component.path,
              port: component.port,
              command: component.command,
              env: JSON.stringify(component.env),
              restart_policy: component.restart_policy,
              position
            })
          }`
        }
        return id
      }).pipe(
        sql.withTransaction,
        Effect.mapError(failed("add")),
        Effect.flatMap(find),
        Effect.catchTag("InstanceNotFound", (error) =>
          Effect.fail(new InstanceRegistryError({ operation: "add", message: `lost ${error.id}`, cause: error })))
      )

    const remove = (id: string) =>
      find(id).pipe(
        Effect.andThen(
          Effect.gen(function*() {
            yield* sql`DELETE FROM launcher_processes WHERE instance_id = ${id}`
            yield* sql`DELETE FROM launcher_components WHERE instance_id = ${id}`
            yield* sql`DELETE FROM launcher_instances WHERE id = ${id}`
          }).pipe(sql.withTransaction, Effect.mapError(failed("remove")))
        )
      )

    const insertComponents = (id: string, components: ReadonlyArray<Omit<Component, "position">>) =>
      Effect.forEach(components, (component, position) =>
        sql`INSERT INTO launcher_components ${
          sql.insert({
            instance_id: id,
            name: component.name,
            kind: component.kind,
            path: component.path,
            port: component.port,
            command: component.command,
            env: JSON.stringify(component.env),
            restart_policy: component.restart_policy,
            position
          })
        }`, { discard: true })

    const update = (
      id: string,
      changes: { readonly version: string; readonly components: ReadonlyArray<Omit<Component, "position">> }
    ) =>
      find(id).pipe(
        Effect.andThen(
          Effect.gen(function*() {
            yield* sql`UPDATE launcher_instances SET version = ${changes.version} WHERE id = ${id}`
            yield* sql`DELETE FROM launcher_components WHERE instance_id = ${id}`
            yield* insertComponents(id, changes.components)
          }).pipe(sql.withTransaction, Effect.mapError(failed("update")))
        ),
        Effect.andThen(find(id))
      )

    const setStatus = (id: string, status: InstanceStatus) =>
      find(id).pipe(
        Effect.andThen(sql`UPDATE launcher_instances SET status = ${status} WHERE id = ${id}`.pipe(
          Effect.mapError(failed("setStatus"))
        )),
        Effect.asVoid
      )

    const recordStart = (id: string) =>
      Effect.gen(function*() {
        yield* find(id)
        const now = isoOf(yield* Clock.currentTimeMillis)
        yield* sql`UPDATE launcher_instances SET start_count = start_count + 1, last_start_time = ${now},
          run_started_at = ${now} WHERE id = ${id}`.pipe(Effect.mapError(failed("recordStart")))
        return yield* find(id)
      })

    const recordStop = (id: string) =>
      Effect.gen(function*() {
        yield* find(id)
        const now = yield* Clock.currentTimeMillis
        const [row] = yield* sql<{ readonly run_started_at: string | null }>`SELECT run_started_at
          FROM launcher_instances WHERE id = ${id}`.pipe(Effect.mapError(failed("recordStop")))
        const started = row?.run_started_at ?? null
        if (started !== null) {
          yield* sql`UPDATE launcher_instances SET total_runtime = total_runtime + ${secondsSince(started, now)},
            run_started_at = NULL WHERE id = ${id}`.pipe(Effect.mapError(failed("recordStop")))
        }
        return yield* find(id)
      })

    const reconcile = (keep: ReadonlyArray<string> = []) =>
      Effect.gen(function*() {
        const stale = yield* sql<{ readonly id: string }>`SELECT id FROM launcher_instances
          WHERE status != 'stopped' OR run_started_at IS NOT NULL`
        const ids = stale.map((row) => row.id).filter((id) => !keep.includes(id))
        if (ids.length === 0) return []
        yield* sql`UPDATE launcher_instances SET status = 'stopped', run_started_at = NULL WHERE ${sql.in("id", ids)}`
        return ids
      }).pipe(sql.withTransaction, Effect.mapError(failed("reconcile")))

    const recordProcess = (record: ProcessRecord) =>
      sql`INSERT INTO launcher_processes ${sql.insert(record)}
        ON CONFLICT (instance_id, component) DO UPDATE SET pid = excluded.pid, pgid = excluded.pgid,
          sid = excluded.sid, start_ticks = excluded.start_ticks, boot_id = excluded.boot_id, run_id = excluded.run_id,
          started_at = excluded.started_at, owner_pid = excluded.owner_pid,
          owner_start_ticks = excluded.owner_start_ticks`.pipe(Effect.asVoid, Effect.mapError(failed("recordProcess")))

    const forgetProcess = (instanceId: string, component: string, pid: number) =>
      sql`DELETE FROM launcher_processes WHERE instance_id = ${instanceId} AND component = ${component}
        AND pid = ${pid}`.pipe(Effect.asVoid, Effect.mapError(failed("forgetProcess")))

    const processes = sql`SELECT * FROM launcher_processes ORDER BY instance_id, component`.pipe(
      Effect.flatMap(decodeProcesses),
      Effect.mapError(failed("processes"))
    )

    return InstanceRegistry.of({
      list,
      get: find,
      add,
      update,
      remove,
      setStatus,
      recordStart,
      recordStop,
      reconcile,
      recordProcess,
      forgetProcess,
      processes
    })
  })

  /** The registry on the `SqlClient` in context, with its tables migrated first. */
  static readonly layer: Layer.Layer<
    InstanceRegistry,
    Database.DatabaseMigrationError,
    SqlClient.SqlClient
  > = Layer.effect(InstanceRegistry, InstanceRegistry.make).pipe(Layer.provide(migrations))
}
