/**
 * MaiKit's SQLite driver for `effect/sql`: better-sqlite3 behind the generic `SqlClient.SqlClient`, so
 * services write `sql\`...\`` and never see the driver. One connection is shared through a semaphore,
 * because better-sqlite3 is synchronous and SQLite allows a single writer anyway.
 */
import Sqlite from "better-sqlite3"
import { Array as Arr, Cause, Context, Effect, Layer, Option, type Pull, Semaphore, Stream } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import { classifySqliteError, ConnectionError, SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as StatementCache from "./internal/statementCache.ts"

export interface SqliteClientConfig {
  readonly filename: string
  readonly readonly?: boolean | undefined
  /** Fail instead of creating the file when it does not exist (a database that belongs to another program). */
  readonly fileMustExist?: boolean | undefined
  /** Milliseconds a statement waits for another process's lock before failing with `SQLITE_BUSY`. */
  readonly busyTimeout?: number | undefined
  /** Ignored for in-memory and read-only databases, whose journal mode cannot be switched to WAL. */
  readonly walMode?: boolean | undefined
  readonly preparedStatementCacheSize?: number | undefined
  /**
   * Bytes of the file SQLite may read through a memory map instead of `read()` calls; point reads over a large
   * table get about a third faster. 0 turns it off. Default 256 MiB for files, 0 for in-memory databases.
   */
  readonly mmapSize?: number | undefined
  readonly transformQueryNames?: ((name: string) => string) | undefined
  readonly transformResultNames?: ((name: string) => string) | undefined
}

export interface ResolvedConfig extends SqliteClientConfig {
  readonly readonly: boolean
  readonly busyTimeout: number
  readonly walMode: boolean
  readonly preparedStatementCacheSize: number
  readonly mmapSize: number
}

export interface BackupResult {
  readonly totalPages: number
  readonly remainingPages: number
}

export class SqliteClient extends Context.Service<SqliteClient, {
  readonly config: ResolvedConfig
  /** Copies the live database to `destination` with SQLite's online backup API. */
  readonly backup: (destination: string) => Effect.Effect<BackupResult, SqlError>
  /** The generic client on this same connection (a service can tell whether its `SqlClient` is this one). */
  readonly client: SqlClient.SqlClient
  /**
   * A read for a hot path, without `effect/sql`'s statement pipeline: the cached statement runs on the spot while
   * no transaction is open on the connection (better-sqlite3 is synchronous, so no other statement is half-way
   * through; an open stream's cursor does not stop a read), and otherwise waits its turn for the connection like
   * any statement, since a read inside another fiber's transaction would see its uncommitted writes. No span.
   */
  readonly readNow: (
    sql: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
}>()("@maikit/core/SqliteClient") {}

export const defaultBusyTimeout = 5000
export const defaultPreparedStatementCacheSize = 256
export const defaultMmapSize = 256 * 1024 * 1024
const streamChunkSize = 256

type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

const isMemory = (filename: string): boolean => {
  const trimmed = filename.trim()
  return trimmed === "" || trimmed === ":memory:"
}

const resolveConfig = (options: SqliteClientConfig): ResolvedConfig => {
  const readonly = options.readonly ?? false
  return {
    ...options,
    readonly,
    busyTimeout: options.busyTimeout ?? defaultBusyTimeout,
    walMode: (options.walMode ?? true) && !readonly && !isMemory(options.filename),
    preparedStatementCacheSize: options.preparedStatementCacheSize ?? defaultPreparedStatementCacheSize,
    mmapSize: isMemory(options.filename) ? 0 : options.mmapSize ?? defaultMmapSize
  }
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const toSqlError = (cause: unknown, operation: string): SqlError =>
  new SqlError({ reason: classifySqliteError(cause, { message: messageOf(cause), operation }) })

const needsConversion = (value: unknown): boolean =>
  typeof value === "boolean" || value instanceof Date || (value instanceof Uint8Array && !Buffer.isBuffer(value))

// better-sqlite3 binds only numbers, strings, bigints, buffers and null; the statement helpers
// (`sql.insert({ active: true })`) happily produce booleans and dates.
const toBindable = (value: unknown): unknown => {
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  }
  return value
}

const bindParams = (params: ReadonlyArray<unknown>): ReadonlyArray<unknown> => {
  for (let i = 0; i < params.length; i++) {
    if (needsConversion(params[i])) return params.map(toBindable)
  }
  return params
}

interface Prepared {
  readonly statement: Sqlite.Statement
  readonly reader: boolean
  raw: boolean
  safeIntegers: boolean
}

const prepareWith = (db: Sqlite.Database) => (sql: string): Prepared => {
  const statement = db.prepare(sql)
  return { statement, reader: statement.reader, raw: false, safeIntegers: false }
}

// Each mode switch is a native call; a cached statement usually keeps its modes between runs.
const setModes = (prepared: Prepared, raw: boolean, safeIntegers: boolean): Sqlite.Statement => {
  if (prepared.safeIntegers !== safeIntegers) {
    prepared.statement.safeIntegers(safeIntegers)
    prepared.safeIntegers = safeIntegers
  }
  if (prepared.reader && prepared.raw !== raw) {
    prepared.statement.raw(raw)
    prepared.raw = raw
  }
  return prepared.statement
}

const attempt = <A>(operation: string, f: (safeIntegers: boolean) => A): Effect.Effect<A, SqlError> =>
  Effect.withFiber((fiber) => {
    try {
      return Effect.succeed(f(fiber.getRef(SqlClient.SafeIntegers)))
    } catch (cause) {
      return Effect.fail(toSqlError(cause, operation))
    }
  })

const query = <A extends object>(
  operation: string,
  prepare: (sql: string) => Prepared,
  sql: string,
  params: ReadonlyArray<unknown>,
  values: boolean,
  transformRows: TransformRows
): Effect.Effect<ReadonlyArray<A>, SqlError> =>
  attempt(operation, (safeIntegers) => {
    const prepared = prepare(sql)
    const statement = setModes(prepared, values, safeIntegers)
    if (!prepared.reader) {
      statement.run(bindParams(params))
      return []
    }
    const rows = statement.all(bindParams(params)) as Array<A>
    return transformRows === undefined ? rows : transformRows(rows)
  })

const pullChunks = (
  rows: IterableIterator<object>,
  transformRows: TransformRows
): Pull.Pull<Arr.NonEmptyReadonlyArray<object>, SqlError> =>
  Effect.suspend((): Pull.Pull<Arr.NonEmptyReadonlyArray<object>, SqlError> => {
    const chunk: Array<object> = []
    try {
      while (chunk.length < streamChunkSize) {
        const next = rows.next()
        if (next.done === true) break
        chunk.push(next.value)
      }
    } catch (cause) {
      return Effect.fail(toSqlError(cause, "executeStream"))
    }
    const out = transformRows !== undefined && chunk.length > 0 ? transformRows(chunk) : chunk
    return Arr.isReadonlyArrayNonEmpty(out) ? Effect.succeed(out) : Cause.done()
  })

const makeConnection = (
  db: Sqlite.Database,
  prepareCached: (sql: string) => Prepared
): SqlConnection.Connection => {
  const prepareFresh = prepareWith(db)

  // Streams get their own statement: a cached one could be re-run by a query issued while the
  // iterator is still open, which better-sqlite3 refuses.
  const openIterator = (sql: string, params: ReadonlyArray<unknown>) =>
    attempt("executeStream", (safeIntegers) =>
      setModes(prepareFresh(sql), false, safeIntegers).iterate(bindParams(params)) as IterableIterator<object>)

  return {
    execute: (sql, params, transformRows) => query("execute", prepareCached, sql, params, false, transformRows),
    executeRaw: (sql, params) =>
      attempt("executeRaw", (safeIntegers) => {
        const prepared = prepareCached(sql)
        const statement = setModes(prepared, false, safeIntegers)
        return prepared.reader ? statement.all(bindParams(params)) : statement.run(bindParams(params))
      }),
    executeValues: (sql, params) =>
      query<ReadonlyArray<unknown>>("executeValues", prepareCached, sql, params, true, undefined),
    executeValuesUnprepared: (sql, params) =>
      query<ReadonlyArray<unknown>>("executeValuesUnprepared", prepareFresh, sql, params, true, undefined),
    executeUnprepared: (sql, params, transformRows) =>
      query("executeUnprepared", prepareFresh, sql, params, false, transformRows),
    executeStream: (sql, params, transformRows) =>
      Stream.unwrap(
        Effect.acquireRelease(openIterator(sql, params), (rows) => Effect.sync(() => rows.return?.())).pipe(
          Effect.map((rows) => Stream.fromPull(Effect.succeed(pullChunks(rows, transformRows))))
        )
      )
  }
}

const open = (config: ResolvedConfig) =>
  Effect.try({
    try: () => {
      const db = new Sqlite(config.filename, {
        readonly: config.readonly,
        fileMustExist: config.fileMustExist ?? false,
        timeout: config.busyTimeout
      })
      try {
        // Switching the journal mode needs an exclusive lock, so skip it when the file is already in
        // WAL mode and another process may be writing.
        if (config.walMode && db.pragma("journal_mode", { simple: true }) !== "wal") {
          db.pragma("journal_mode = WAL")
        }
        if (config.mmapSize > 0) db.pragma(`mmap_size = ${Math.floor(config.mmapSize)}`)
      } catch (cause) {
        db.close()
        throw cause
      }
      return db
    },
    catch: (cause) =>
      new SqlError({
        reason: new ConnectionError({
          cause,
          message: `Cannot open SQLite database ${config.filename}: ${messageOf(cause)}`,
          operation: "open"
        })
      })
  })

/**
 * Opens the database in the current scope (closed by its finalizer) and returns both the generic
 * `SqlClient` and the driver-specific `SqliteClient`.
 */
export const make = Effect.fnUntraced(function*(options: SqliteClientConfig) {
  const config = resolveConfig(options)
  const db = yield* Effect.acquireRelease(open(config), (opened) =>
    Effect.sync(() => {
      if (opened.open) opened.close()
    }))
  const cache = StatementCache.make(config.preparedStatementCacheSize, prepareWith(db))
  const prepareCached = (sql: string) => cache.getOrPrepare(sql)
  const connection = makeConnection(db, prepareCached)
  const semaphore = yield* Semaphore.make(1)
  const acquirers = SqlClient.makeSqliteAcquirers({
    connection: Effect.succeed(connection),
    semaphore,
    isTransaction: () => db.inTransaction
  })

  const transformRows = config.transformResultNames === undefined
    ? undefined
    : Statement.defaultTransforms(config.transformResultNames).array
  const client = yield* SqlClient.make({
    ...acquirers,
    compiler: Statement.makeCompilerSqlite(config.transformQueryNames),
    driver: "better-sqlite3",
    spanAttributes: [["db.system.name", "sqlite"]],
    prepareTransactionControls: true,
    releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
    transformRows
  })

  const readQueued = (sql: string, params: ReadonlyArray<unknown>) =>
    acquirers.borrower(() => query<Record<string, unknown>>("readNow", prepareCached, sql, params, false, transformRows))
  const readNow = (
    sql: string,
    params: ReadonlyArray<unknown> = []
  ): Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> =>
    Effect.withFiber((fiber) => {
      if (db.inTransaction) return readQueued(sql, params)
      try {
        const statement = setModes(prepareCached(sql), false, fiber.getRef(SqlClient.SafeIntegers))
        const rows = statement.all(bindParams(params)) as Array<Record<string, unknown>>
        return Effect.succeed(transformRows === undefined ? rows : transformRows(rows))
      } catch {
        // Run again in turn, so that a failing statement fails like any other (the same `SqlError`).
        return readQueued(sql, params)
      }
    })

  const copy = (destination: string) =>
    Effect.tryPromise({
      try: () => db.backup(destination),
      catch: (cause) => toSqlError(cause, "backup")
    })

  // Inside a transaction the caller already holds the connection; borrowing again would deadlock.
  const backup = (destination: string): Effect.Effect<BackupResult, SqlError> =>
    Effect.flatMap(
      Effect.serviceOption(client.transactionService),
      Option.match({
        onNone: () => acquirers.borrower(() => copy(destination)),
        onSome: () => copy(destination)
      })
    )

  return Context.make(SqliteClient, SqliteClient.of({ config, backup, client, readNow })).pipe(
    Context.add(SqlClient.SqlClient, client)
  )
})

export const layer = (options: SqliteClientConfig): Layer.Layer<SqliteClient | SqlClient.SqlClient, SqlError> =>
  Layer.effectContext(make(options)).pipe(Layer.provide(Reactivity.layer))
