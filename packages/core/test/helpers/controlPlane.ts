/**
 * The control plane's services on each backend the tests run against: a fresh SQLite file, and a fresh
 * database on the test PostgreSQL server and on the test MariaDB server.
 */
import { Effect, Layer, Redacted } from "effect"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as ControlPlaneDatabase from "../../src/control-plane/ControlPlaneDatabase.ts"
import * as Database from "../../src/platform/Database.ts"
import { freshMysqlDatabase, TestMysql } from "./mysql.ts"
import { freshDatabase, TestPostgres } from "./postgres.ts"

export type BackendName = "sqlite" | "postgresql" | "mysql"

export const backendNames: ReadonlyArray<BackendName> = ["sqlite", "postgresql", "mysql"]

const created: Array<string> = []
afterAll(() => {
  for (const directory of created.splice(0)) Fs.rmSync(directory, { recursive: true, force: true })
})

/** A temp dir removed after the test file's last test. */
export const tempDir = (prefix: string): string => {
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), `maikit-${prefix}-`))
  created.push(directory)
  return directory
}

/** A new SQLite file of its own. */
export const sqliteDatabase = () =>
  Layer.unwrap(Effect.sync(() => Database.layerFile(Path.join(tempDir("control-plane"), "maikit.db"))))

/** A new PostgreSQL database on the test server, dropped with the scope. */
export const postgresDatabase = () =>
  Layer.unwrap(Effect.map(freshDatabase, (url) => ControlPlaneDatabase.layerPostgres(Redacted.make(url))))

/** A new database on the test MariaDB (or `MAIKIT_TEST_MYSQL_URL`) server, dropped with the scope. */
export const mysqlDatabase = () =>
  Layer.unwrap(Effect.map(freshMysqlDatabase, (url) => ControlPlaneDatabase.layerMysql(Redacted.make(url))))

/**
 * A fresh database of `backend` that can be opened more than once (each opening its own connections, as separate
 * processes would): yields the opener. The PostgreSQL and MariaDB servers live as long as the scope.
 */
export const reopenableDatabase = (backend: BackendName) =>
  backend === "sqlite"
    ? Effect.sync(() => {
      const file = Path.join(tempDir("control-plane-shared"), "maikit.db")
      return () => Database.layerFile(file)
    })
    : backend === "postgresql"
    ? Effect.flatMap(Layer.build(TestPostgres.layer), (server) =>
      Effect.map(Effect.provide(freshDatabase, server), (url) => () => ControlPlaneDatabase.layerPostgres(Redacted.make(url))))
    : Effect.flatMap(Layer.build(TestMysql.layer), (server) =>
      Effect.map(Effect.provide(freshMysqlDatabase, server), (url) => () => ControlPlaneDatabase.layerMysql(Redacted.make(url))))

export interface ServiceOptions {
  readonly usageFlushInterval?: number
}

const onDatabase = <E, R>(database: Layer.Layer<SqlClient.SqlClient, E, R>, options: ServiceOptions) =>
  ControlPlaneDatabase.layerServices(database, { catalog: {}, apiKeys: options })

/**
 * TenantStore, ApiKeyAuth and the static system catalog on a fresh database of `backend`, with nothing left
 * to provide: the PostgreSQL and MariaDB suites start (or reuse, from the environment) their server; the SQLite
 * suite never touches one.
 */
export const suiteServices = (backend: BackendName, options: ServiceOptions = {}) =>
  backend === "sqlite"
    ? onDatabase(sqliteDatabase(), options)
    : backend === "postgresql"
    ? onDatabase(postgresDatabase(), options).pipe(Layer.provide(TestPostgres.layer))
    : onDatabase(mysqlDatabase(), options).pipe(Layer.provide(TestMysql.layer))

export { TestMysql, TestPostgres }
