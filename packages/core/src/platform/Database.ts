/**
 * MaiKit's one SQLite database, `<dataDir>/maikit.db`, opened through our `SqliteClient` so every
 * service sees only `SqlClient.SqlClient`. Each service owns its tables and brings its own migrations,
 * recorded in its own `maikit_migrations_<service>` table, so services compose in any order and one
 * service's history never blocks another's.
 *
 * The database holds secrets, so its file is created 0600 before SQLite opens it, and SQLite gives the
 * `-wal` and `-shm` files it creates later the main file's mode; folders it creates are 0700, and a looser
 * database (or, for `layer`, data folder) found at start is tightened with a log line (`PrivateFiles`).
 */
import { Effect, Layer } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import * as Path from "node:path"
import { DatabaseMigrationError, DatabaseOpenError } from "./DatabaseError.ts"
import { MaikitConfig } from "./MaikitConfig.ts"
import * as PrivateFiles from "./PrivateFiles.ts"
import * as SqliteClient from "./SqliteClient.ts"

export { DatabaseMigrationError, DatabaseOpenError } from "./DatabaseError.ts"

export const fileName = "maikit.db"
export const busyTimeout = 5000

export type Services = SqliteClient.SqliteClient | SqlClient.SqlClient

/** The files SQLite keeps for a database: the file itself, its WAL, shared memory and rollback journal. */
export const filesOf = (filename: string): ReadonlyArray<string> =>
  [filename, `${filename}-wal`, `${filename}-shm`, `${filename}-journal`]

const isMemory = (filename: string): boolean => filename.trim() === "" || filename.trim() === ":memory:"

/**
 * Opens (creating its directory 0700 and its file 0600 if needed) the database at `filename`; existing files of
 * the database readable by others are tightened to 0600 first.
 */
export const layerFile = (filename: string): Layer.Layer<Services, DatabaseOpenError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      if (!isMemory(filename)) {
        const created = yield* Effect.try({
          try: () => {
            PrivateFiles.makeDirectorySync(Path.dirname(filename))
            return PrivateFiles.createFileSync(filename)
          },
          catch: (cause) => DatabaseOpenError.of(filename, cause)
        })
        if (!created) yield* PrivateFiles.tighten(filesOf(filename))
      }
      return yield* SqliteClient.make({ filename, walMode: true, busyTimeout }).pipe(
        Effect.mapError((cause) => DatabaseOpenError.of(filename, cause))
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))

/** The database in the configured data directory, which is MaiKit's own and so kept 0700 too. */
export const layer: Layer.Layer<Services, DatabaseOpenError, MaikitConfig> = Layer.unwrap(
  Effect.map(Effect.service(MaikitConfig), (config) =>
    Layer.effectDiscard(PrivateFiles.tighten([config.dataDir])).pipe(
      Layer.provideMerge(layerFile(Path.join(config.dataDir, fileName)))
    ))
)

/**
 * A service's migrations, keyed `<id>_<name>` (e.g. `0001_create_tenants`). Ids only grow: a migration
 * whose id is not above the highest one already applied is never run, so append, never insert.
 */
export type Migrations = Readonly<Record<string, Effect.Effect<unknown, unknown, SqlClient.SqlClient>>>

const servicePattern = /^[a-z][a-z0-9-]*$/
const keyPattern = /^(\d+)_(.+)$/

export const migrationsTable = (service: string): string => `maikit_migrations_${service.replaceAll("-", "_")}`

const guard = (service: string, key: string, migration: Effect.Effect<unknown, unknown, SqlClient.SqlClient>) =>
  migration.pipe(
    Effect.mapError((cause) => DatabaseMigrationError.of(service, key, cause)),
    Effect.catchDefect((cause) => Effect.fail(DatabaseMigrationError.of(service, key, cause)))
  )

const loader = (service: string, definitions: Migrations) =>
  Effect.suspend(() => {
    const resolved: Array<readonly [id: number, name: string, key: string, load: Migrator.ResolvedMigration[2]]> = []
    for (const [key, migration] of Object.entries(definitions)) {
      const match = keyPattern.exec(key)
      if (match === null) {
        return Effect.fail(
          DatabaseMigrationError.of(service, key, "migration keys must look like <id>_<name>, e.g. 0001_create_tables")
        )
      }
      resolved.push([Number(match[1]), match[2] as string, key, Effect.succeed(guard(service, key, migration))])
    }
    return Effect.succeed(resolved.toSorted(([a], [b]) => a - b))
  })

// The migrator only runs ids above the latest applied one, so a migration numbered below it (say, merged
// from a branch) would be skipped silently forever; refuse to start instead.
const rejectSkipped = Effect.fnUntraced(function*(
  service: string,
  table: string,
  resolved: ReadonlyArray<readonly [id: number, name: string, key: string, load: unknown]>
) {
  const sql = yield* SqlClient.SqlClient
  const exists = yield* sql.onDialectOrElse({
    pg: () => sql`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ${table}`,
    mysql: () => sql`SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ${table}`,
    orElse: () => sql`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ${table}`
  })
  if (exists.length === 0) return
  const rows = yield* sql<{ readonly migration_id: number }>`SELECT migration_id FROM ${sql(table)}`.withoutTransform
  const recorded = new Set(rows.map((row) => row.migration_id))
  const latest = Math.max(0, ...recorded)
  const skipped = resolved.find(([id]) => id <= latest && !recorded.has(id))
  if (skipped !== undefined) {
    return yield* DatabaseMigrationError.of(
      service,
      skipped[2],
      `its id ${skipped[0]} is not above the latest applied migration (${latest}), so it would never run; renumber it`
    )
  }
}, (effect, service) =>
  Effect.mapError(effect, (error) =>
    error._tag === "SqlError" ? DatabaseMigrationError.of(service, undefined, error) : error))

/** Seconds a process waits for another one's migrations on MySQL/MariaDB. */
const mysqlLockWait = 120

/**
 * MySQL and MariaDB commit before and after every DDL statement, so there the migrator's transaction neither keeps
 * two processes apart nor undoes a failed migration. A named lock, held by a connection of its own for the whole
 * run, keeps processes apart; after a failure, the migrations the migrator recorded up front from the failed one on
 * are unrecorded, so the next start runs (and reports) them again instead of skipping them. What the failed
 * migration did before it failed stays: DDL cannot be rolled back there.
 */
const mysqlGuarded = <A>(
  service: string,
  table: string,
  run: Effect.Effect<A, DatabaseMigrationError, SqlClient.SqlClient>
): Effect.Effect<A, DatabaseMigrationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const connection = yield* Effect.mapError(sql.reserve, (error) => DatabaseMigrationError.of(service, undefined, error))
    // Lock names are the server's, not a database's, and at most 64 characters long: hash the database's and ours.
    const lock = "SHA1(CONCAT(DATABASE(), '/', ?))"
    const [held] = yield* connection.executeUnprepared(`SELECT GET_LOCK(${lock}, ?) AS acquired`, [table, mysqlLockWait], undefined)
      .pipe(Effect.mapError((error) => DatabaseMigrationError.of(service, undefined, error)))
    if (Number(held?.["acquired"]) !== 1) {
      return yield* DatabaseMigrationError.of(service, undefined, `another process held the migration lock for ${mysqlLockWait} s`)
    }
    yield* Effect.addFinalizer(() => Effect.ignore(connection.executeUnprepared(`DO RELEASE_LOCK(${lock})`, [table], undefined)))
    return yield* run.pipe(
      Effect.tapError((error) => {
        const failed = keyPattern.exec(error.migration ?? "")?.[1]
        return failed === undefined
          ? Effect.void
          : Effect.ignore(sql`DELETE FROM ${sql(table)} WHERE migration_id >= ${Number(failed)}`)
      })
    )
  }).pipe(Effect.scoped)

/**
 * Applies `service`'s pending migrations in one transaction and returns the keys it applied. On SQLite,
 * `BEGIN IMMEDIATE` takes the write lock up front, so a second process migrating the same file waits for the
 * busy timeout instead of failing on a read-to-write lock upgrade; on PostgreSQL the migrator locks its table; on
 * MySQL/MariaDB a named lock keeps processes apart (see `mysqlGuarded`).
 */
export const migrate = Effect.fn("Database.migrate")(function*(service: string, definitions: Migrations) {
  if (!servicePattern.test(service)) {
    return yield* DatabaseMigrationError.of(
      service,
      undefined,
      "service names must be kebab-case ([a-z][a-z0-9-]*)"
    )
  }
  const sql = yield* SqlClient.SqlClient
  const resolved = yield* loader(service, definitions)
  const table = migrationsTable(service)
  const run = Effect.gen(function*() {
    yield* rejectSkipped(service, table, resolved)
    return yield* runMigrator
  })
  const runMigrator = Migrator.make({})({
    loader: Effect.succeed(resolved.map(([id, name, , load]) => [id, name, load] as const)),
    table
  }).pipe(
    Effect.provideService(
      SqlClient.BeginTransaction,
      sql.onDialectOrElse({ sqlite: () => "BEGIN IMMEDIATE", orElse: () => undefined })
    ),
    Effect.mapError((error) =>
      error._tag === "MigrationError" && error.cause instanceof DatabaseMigrationError
        ? error.cause
        : DatabaseMigrationError.of(service, undefined, error)
    )
  )
  const applied = yield* sql.onDialectOrElse({ mysql: () => mysqlGuarded(service, table, run), orElse: () => run })
  const keys = new Map(resolved.map(([id, , key]) => [id, key]))
  return applied.map(([id, name]) => keys.get(id) ?? `${id}_${name}`)
})

/**
 * A layer that applies `service`'s migrations when built. Provide it to the service's own layer so its
 * tables exist before the service starts.
 */
export const migrations = (
  service: string,
  definitions: Migrations
): Layer.Layer<never, DatabaseMigrationError, SqlClient.SqlClient> =>
  Layer.effectDiscard(
    Effect.tap(migrate(service, definitions), (applied) =>
      applied.length === 0
        ? Effect.void
        : Effect.logInfo(`applied migrations of ${service}: ${applied.join(", ")}`))
  )
