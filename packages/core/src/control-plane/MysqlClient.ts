/**
 * MaiKit's MySQL / MariaDB driver for `effect/sql`: a `mysql2` pool behind the generic `SqlClient.SqlClient`.
 * `@effect/sql-mysql2` has no release for effect 4.1 (its 4.0 release candidates import `effect/unstable/sql`,
 * which effect 4.1 no longer exports), so, as for SQLite, this is a small client on `SqlClient.make`. `mysql2`
 * is loaded the first time a client is made, never at import, so hosts on SQLite need not install it.
 *
 * Statements run as server-side prepared statements (`execute`, cached per connection); each statement outside
 * a transaction borrows a pooled connection for its round trip only. Integers come back as numbers (as strings
 * only past 2^53, which no column here reaches), `DECIMAL` sums as numbers and `DATETIME` values as text.
 */
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import {
  AuthenticationError,
  AuthorizationError,
  ConnectionError,
  ConstraintError,
  DeadlockError,
  LockTimeoutError,
  SqlError,
  type SqlErrorReason,
  SqlSyntaxError,
  StatementTimeoutError,
  UniqueViolation,
  UnknownError
} from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import type * as Mysql from "mysql2"

export interface MysqlClientConfig {
  readonly host: string
  readonly port: number
  /** A Unix socket to connect through instead of `host:port`. */
  readonly socketPath?: string | undefined
  readonly user: string
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database: string
  /** Pool size per process. Default 10. */
  readonly maxConnections?: number | undefined
  /** Milliseconds to wait for the server to accept a connection. Default 10 s. */
  readonly connectTimeout?: number | undefined
  /**
   * Every session is `READ ONLY`: the server refuses any write, whatever the statement (for reading a database
   * that belongs to another program).
   */
  readonly readonly?: boolean | undefined
}

export class MysqlClient extends Context.Service<MysqlClient, {
  readonly config: MysqlClientConfig
  /** `MariaDB` or `MySQL`, and the server's version string. */
  readonly server: { readonly product: "MariaDB" | "MySQL"; readonly version: string }
}>()("@maikit/core/MysqlClient") {}

export const defaultPort = 3306
export const defaultMaxConnections = 10
export const defaultConnectTimeout = 10_000

const connectionErrnos = new Set([1040, 1042, 1043, 1049, 1129, 1130, 1203, 2002, 2003, 2006, 2013])
const authorizationErrnos = new Set([1044, 1142, 1143, 1227, 1792])
const syntaxErrnos = new Set([1054, 1064, 1146])
const constraintErrnos = new Set([1022, 1048, 1169, 1216, 1217, 1451, 1452, 1557, 3819, 4025])
const connectionCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENOENT", "PROTOCOL_CONNECTION_LOST"])

const field = (cause: unknown, name: string): unknown =>
  typeof cause === "object" && cause !== null ? (cause as Record<string, unknown>)[name] : undefined

const messageOf = (cause: unknown): string => {
  const text = field(cause, "message")
  const code = field(cause, "code")
  if (typeof text === "string" && text !== "") return text
  return typeof code === "string" ? code : String(cause)
}

/** The `SqlError` reason for a `mysql2` failure, by the server's error number or the socket's error code. */
export const classify = (cause: unknown, message: string, operation: string): SqlErrorReason => {
  const props = { cause, message, operation }
  const errno = field(cause, "errno")
  const code = field(cause, "code")
  if (typeof code === "string" && connectionCodes.has(code)) return new ConnectionError(props)
  if (typeof errno !== "number") return new UnknownError(props)
  if (connectionErrnos.has(errno)) return new ConnectionError(props)
  if (errno === 1045) return new AuthenticationError(props)
  if (authorizationErrnos.has(errno)) return new AuthorizationError(props)
  if (syntaxErrnos.has(errno)) return new SqlSyntaxError(props)
  if (errno === 1062) {
    const key = /for key '([^']*)'/.exec(messageOf(cause))?.[1]
    return new UniqueViolation({ ...props, constraint: key ?? "unknown" })
  }
  if (constraintErrnos.has(errno)) return new ConstraintError(props)
  if (errno === 1213) return new DeadlockError(props)
  if (errno === 1205) return new LockTimeoutError(props)
  if (errno === 3024 || errno === 1969) return new StatementTimeoutError(props)
  return new UnknownError(props)
}

const toSqlError = (cause: unknown, operation: string): SqlError =>
  new SqlError({ reason: classify(cause, messageOf(cause), operation) })

const where = (config: MysqlClientConfig) => config.socketPath ?? `${config.host}:${config.port}`

/** Why a first connection failed, in words that name the fix. */
const connectError = (config: MysqlClientConfig, cause: unknown): SqlError => {
  const reason = classify(cause, messageOf(cause), "connect")
  const errno = field(cause, "errno")
  const message = reason._tag === "AuthenticationError"
    ? `the server at ${where(config)} refused user '${config.user}' (wrong user name or password): ${messageOf(cause)}`
    : errno === 1049
    ? `the server at ${where(config)} has no database '${config.database}': create it first (${messageOf(cause)})`
    : reason._tag === "ConnectionError"
    ? `cannot reach a MySQL/MariaDB server at ${where(config)}: ${messageOf(cause)}`
    : messageOf(cause)
  return new SqlError({ reason: classify(cause, message, "connect") })
}

type Queryable = Pick<Mysql.Pool, "execute" | "query">

const run = (
  target: Queryable,
  method: "execute" | "query",
  sql: string,
  params: ReadonlyArray<unknown>,
  rowsAsArray: boolean,
  operation: string
): Effect.Effect<unknown, SqlError> =>
  Effect.callback<unknown, SqlError>((resume) => {
    const done = (cause: unknown, results: unknown) =>
      resume(cause ? Effect.fail(toSqlError(cause, operation)) : Effect.succeed(results))
    if (method === "execute") target.execute({ sql, values: params as Array<unknown>, rowsAsArray }, done)
    else target.query({ sql, values: params as Array<unknown>, rowsAsArray }, done)
  })

/** `mysql2` answers a statement without a result set with a header object, not rows. */
const rowsOf = <A extends object>(results: unknown): ReadonlyArray<A> => (Array.isArray(results) ? results : [])

const makeConnection = (target: Queryable): SqlConnection.Connection => {
  const rows = <A extends object>(
    method: "execute" | "query",
    sql: string,
    params: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    operation: string,
    transformRows: (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ) =>
    Effect.map(run(target, method, sql, params, rowsAsArray, operation), (results) =>
      transformRows === undefined ? rowsOf<A>(results) : transformRows(rowsOf<A>(results)))
  return {
    execute: (sql, params, transformRows) => rows("execute", sql, params, false, "execute", transformRows),
    executeRaw: (sql, params) => run(target, "execute", sql, params, false, "executeRaw"),
    executeValues: (sql, params) => rows<ReadonlyArray<unknown>>("execute", sql, params, true, "executeValues", undefined),
    executeValuesUnprepared: (sql, params) =>
      rows<ReadonlyArray<unknown>>("query", sql, params, true, "executeValuesUnprepared", undefined),
    // Transaction control, DDL and trigger bodies: statements the server will not prepare.
    executeUnprepared: (sql, params, transformRows) =>
      rows("query", sql, params, false, "executeUnprepared", transformRows),
    // The control plane streams nothing; a stream reads the whole result first, then hands it out.
    executeStream: (sql, params, transformRows) =>
      Stream.unwrap(
        Effect.map(rows("execute", sql, params, false, "executeStream", transformRows), (all) => Stream.fromIterable(all))
      )
  }
}

const escape = Statement.defaultEscape("`")

/** `?` placeholders and backquoted identifiers, as MySQL and MariaDB both take them. */
export const makeCompiler = (): Statement.Compiler =>
  Statement.makeCompiler({
    dialect: "mysql",
    placeholder: () => "?",
    onIdentifier: escape,
    onCustom: () => ["", []],
    onRecordUpdate: () => ["", []]
  })

/**
 * Opens a pool in the current scope (ended by its finalizer) and checks that one connection works, failing with
 * a `SqlError` that names the server and the reason (unreachable, credentials refused, no such database).
 */
export const make = Effect.fnUntraced(function*(config: MysqlClientConfig) {
  const driver = yield* Effect.tryPromise({
    try: () => import("mysql2"),
    catch: (cause) =>
      new SqlError({
        reason: new ConnectionError({
          cause,
          message: "the MySQL driver is not installed: add the mysql2 package beside @maikit/core",
          operation: "connect"
        })
      })
  })
  const readonly = config.readonly ?? false
  const pool = driver.createPool({
    host: config.host,
    port: config.port,
    ...(config.socketPath === undefined ? {} : { socketPath: config.socketPath }),
    user: config.user,
    ...(config.password === undefined ? {} : { password: Redacted.value(config.password) }),
    database: config.database,
    connectionLimit: config.maxConnections ?? defaultMaxConnections,
    connectTimeout: config.connectTimeout ?? defaultConnectTimeout,
    charset: "utf8mb4",
    timezone: "Z",
    dateStrings: true,
    supportBigNumbers: true,
    decimalNumbers: true,
    multipleStatements: false
  })
  if (readonly) {
    pool.on("connection", (connection) => {
      connection.query("SET SESSION TRANSACTION READ ONLY")
    })
  }
  yield* Effect.addFinalizer(() => Effect.callback<void>((resume) => pool.end(() => resume(Effect.void))))

  const connection = makeConnection(pool)
  const [version] = yield* Effect.mapError(
    connection.execute("SELECT VERSION() AS version", [], undefined),
    (error) => connectError(config, error.reason.cause)
  )
  const versionText = String(version?.["version"] ?? "")
  const server = { product: /mariadb/i.test(versionText) ? "MariaDB" as const : "MySQL" as const, version: versionText }

  const transactionAcquirer = Effect.acquireRelease(
    Effect.callback<Mysql.PoolConnection, SqlError>((resume) =>
      pool.getConnection((cause, leased) =>
        resume(cause ? Effect.fail(toSqlError(cause, "acquireConnection")) : Effect.succeed(leased))
      )
    ),
    (leased) => Effect.sync(() => leased.release())
  ).pipe(Effect.map(makeConnection))

  const client = yield* SqlClient.make({
    acquirer: Effect.succeed(connection),
    transactionAcquirer,
    compiler: makeCompiler(),
    driver: "mysql2",
    spanAttributes: [
      ["db.system.name", server.product === "MariaDB" ? "mariadb" : "mysql"],
      ["server.address", config.socketPath ?? config.host],
      ["server.port", config.port],
      ["db.namespace", config.database]
    ],
    beginTransaction: readonly ? "START TRANSACTION READ ONLY" : "START TRANSACTION",
    releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`
  })

  return Context.make(MysqlClient, MysqlClient.of({ config, server })).pipe(Context.add(SqlClient.SqlClient, client))
})

export const layer = (config: MysqlClientConfig): Layer.Layer<MysqlClient | SqlClient.SqlClient, SqlError> =>
  Layer.effectContext(make(config)).pipe(Layer.provide(Reactivity.layer))
