/**
 * The control plane's `SqlClient`, chosen by configuration: PostgreSQL (`@effect/sql-pg`) when
 * `databaseUrl` (`DATABASE_URL`, `database_url`) is a `postgres://` or `postgresql://` URL, MySQL 8 or MariaDB
 * 10.11+ (`MysqlClient`, on `mysql2`) for `mysql://` and the original's `mysql+aiomysql://` (any `mysql+<driver>`,
 * and `mariadb://`), otherwise MaiKit's SQLite file in the data directory. A database server is how a deployment
 * outgrows one machine: several stateless MaiKit replicas share one database, and since nothing about a key is
 * cached beyond the database's key epoch, a revocation on one replica fails the next check on every other.
 */
import { type Config, Context, Effect, Layer, Option, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as ApiKeyAuth from "./ApiKeyAuth.ts"
import * as Database from "../platform/Database.ts"
import { type DatabaseMigrationError, DatabaseOpenError } from "../platform/DatabaseError.ts"
import { MaikitConfig } from "../platform/MaikitConfig.ts"
import type { MysqlClientConfig } from "./MysqlClient.ts"
import * as SystemCatalog from "./SystemCatalog.ts"
import { TenantStore } from "./TenantStore.ts"

export { DatabaseOpenError } from "../platform/DatabaseError.ts"

export const isPostgresUrl = (url: string): boolean => /^postgres(?:ql)?:\/\//i.test(url)

/** `mysql://`, `mariadb://`, and SQLAlchemy's `mysql+<driver>://` (the original's `mysql+aiomysql://`). */
export const isMysqlUrl = (url: string): boolean => /^(?:mysql|mariadb)(?:\+[a-z0-9]+)?:\/\//i.test(url)

/**
 * The connection a MySQL URL names: `mysql[+driver]://user:password@host:port/database`, the user name and
 * password percent-decoded; `?unix_socket=/path` (SQLAlchemy's spelling) or `?socket=/path` connects through a
 * socket. The database is required.
 */
export const mysqlConfigFromUrl = (url: string): MysqlClientConfig => {
  const parsed = new URL(url.replace(/^[a-z0-9+]+:/i, "mysql:"))
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""))
  if (database === "" || database.includes("/")) {
    throw new Error("the URL names no database: use mysql://user:password@host:3306/<database>")
  }
  return {
    host: parsed.hostname === "" ? "localhost" : parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: parsed.port === "" ? 3306 : Number(parsed.port),
    socketPath: parsed.searchParams.get("unix_socket") ?? parsed.searchParams.get("socket") ?? undefined,
    user: decodeURIComponent(parsed.username),
    password: parsed.password === "" ? undefined : Redacted.make(decodeURIComponent(parsed.password)),
    database
  }
}

/** The URL without its password, for messages. */
export const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparsable database URL>"
  }
}

export interface PostgresOptions {
  /** Pool size per process. Default 10. */
  readonly maxConnections?: number
}

/** A PostgreSQL pool; the first connection is opened (and a failure reported) while the layer builds. */
export const layerPostgres = (
  url: Redacted.Redacted<string>,
  options: PostgresOptions = {}
): Layer.Layer<SqlClient.SqlClient, DatabaseOpenError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      // Loaded only here, so hosts on SQLite need not install the PostgreSQL driver.
      const { PgClient } = yield* Effect.tryPromise(() => import("@effect/sql-pg"))
      const client = yield* PgClient.make({ url, maxConnections: options.maxConnections ?? 10, applicationName: "maikit" })
      yield* client`SELECT 1`
      return Context.make(SqlClient.SqlClient, client)
    }).pipe(Effect.mapError((cause) => DatabaseOpenError.of(describeUrl(Redacted.value(url)), cause)))
  ).pipe(Layer.provide(Reactivity.layer))

export interface MysqlOptions {
  /** Pool size per process. Default 10. */
  readonly maxConnections?: number
  /** Every session read-only (the server refuses writes): for reading another program's database. */
  readonly readonly?: boolean
}

/**
 * A MySQL / MariaDB pool on the URL's database; the first connection is opened while the layer builds, and a
 * failure names what is wrong (server unreachable, credentials refused, no such database, driver missing).
 */
export const layerMysql = (
  url: Redacted.Redacted<string>,
  options: MysqlOptions = {}
): Layer.Layer<SqlClient.SqlClient, DatabaseOpenError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const config = yield* Effect.try(() => mysqlConfigFromUrl(Redacted.value(url)))
      // Loaded only here (and `mysql2` only inside it), so hosts on SQLite need not install the MySQL driver.
      const MysqlClient = yield* Effect.tryPromise(() => import("./MysqlClient.ts"))
      return yield* MysqlClient.make({ ...config, maxConnections: options.maxConnections, readonly: options.readonly })
    }).pipe(Effect.mapError((cause) => DatabaseOpenError.of(describeUrl(Redacted.value(url)), cause)))
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * `url` when given (PostgreSQL, MySQL/MariaDB, or a `sqlite:`/`file:` path), otherwise `<dataDir>/maikit.db`.
 */
export const layerFrom = (
  url: Option.Option<Redacted.Redacted<string>>
): Layer.Layer<SqlClient.SqlClient, DatabaseOpenError, MaikitConfig> => {
  if (Option.isNone(url)) return Database.layer
  const raw = Redacted.value(url.value)
  if (isPostgresUrl(raw)) return layerPostgres(url.value)
  if (isMysqlUrl(raw)) return layerMysql(url.value)
  const file = /^(?:sqlite|file):(?:\/\/)?(.+)$/i.exec(raw)?.[1]
  if (file !== undefined) return Database.layerFile(file)
  return Layer.effect(
    SqlClient.SqlClient,
    Effect.fail(
      DatabaseOpenError.of(
        describeUrl(raw),
        new Error(
          "unsupported database URL: use postgres://… for PostgreSQL, mysql://… (or mysql+aiomysql://…) for MySQL " +
            "and MariaDB, or sqlite:<path> for SQLite"
        )
      )
    )
  )
}

/** The database `MaikitConfig` names. */
export const layer: Layer.Layer<SqlClient.SqlClient, DatabaseOpenError, MaikitConfig> = Layer.unwrap(
  Effect.map(Effect.service(MaikitConfig), (config) => layerFrom(config.databaseUrl))
)

export type Services = TenantStore | ApiKeyAuth.ApiKeyAuth | SystemCatalog.SystemCatalog

/**
 * The control plane's services on `database`: the system catalog from `MAIMBOT_*` variables (or `catalog`),
 * the tenant store and the API keys, with their migrations applied. `database` stays in the output so a host
 * can share it.
 */
export const layerServices = <E, R>(
  database: Layer.Layer<SqlClient.SqlClient, E, R>,
  options: { readonly catalog?: SystemCatalog.Options; readonly apiKeys?: ApiKeyAuth.Options } = {}
): Layer.Layer<Services | SqlClient.SqlClient, E | DatabaseMigrationError | Config.ConfigError, R> =>
  ApiKeyAuth.ApiKeyAuth.layer(options.apiKeys).pipe(
    Layer.provideMerge(TenantStore.layer),
    Layer.provideMerge(options.catalog === undefined ? SystemCatalog.SystemCatalog.layerFromEnv : SystemCatalog.SystemCatalog.layer(options.catalog)),
    Layer.provideMerge(database)
  )
