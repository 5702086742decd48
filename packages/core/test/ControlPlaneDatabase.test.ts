import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as ControlPlaneDatabase from "../src/control-plane/ControlPlaneDatabase.ts"
import * as Database from "../src/platform/Database.ts"
import { databaseUrlFromParts, MaikitConfig, load } from "../src/platform/MaikitConfig.ts"
import { tempDir } from "./helpers/controlPlane.ts"
import { execute, freshMysqlDatabase, TestMysql } from "./helpers/mysql.ts"
import { freshDatabase, TestPostgres } from "./helpers/postgres.ts"

const dialect = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return sql.onDialectOrElse({ pg: () => "postgresql", sqlite: () => "sqlite", mysql: () => "mysql", orElse: () => "other" })
})

describe("ControlPlaneDatabase", () => {
  it.effect("reads DATABASE_URL (and database_url in maikit.toml), redacted", () =>
    Effect.gen(function*() {
      const cwd = tempDir("cp-config")
      const fromEnv = yield* load({ cwd, env: { DATABASE_URL: "postgres://u:secret@db:5432/maikit" } })
      assert.strictEqual(Option.map(fromEnv.databaseUrl, Redacted.value).pipe(Option.getOrNull), "postgres://u:secret@db:5432/maikit")
      assert.notInclude(String(fromEnv.databaseUrl), "secret")
      Fs.writeFileSync(Path.join(cwd, "maikit.toml"), "database_url = \"sqlite:/tmp/x.db\"\n")
      const fromFile = yield* load({ cwd, env: {} })
      assert.strictEqual(Option.map(fromFile.databaseUrl, Redacted.value).pipe(Option.getOrNull), "sqlite:/tmp/x.db")
      assert.isTrue(Option.isNone((yield* load({ cwd: tempDir("cp-none"), env: {} })).databaseUrl))
    }))

  it.effect("uses the SQLite file in the data directory without a URL, and a sqlite: URL's file with one", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cp-default")
      const config = MaikitConfig.layerFrom({ dataDir })
      assert.strictEqual(yield* dialect.pipe(Effect.provide(ControlPlaneDatabase.layer), Effect.provide(config)), "sqlite")
      assert.isTrue(Fs.existsSync(Path.join(dataDir, "maikit.db")))
      const file = Path.join(tempDir("cp-url"), "elsewhere.db")
      yield* dialect.pipe(
        Effect.provide(ControlPlaneDatabase.layerFrom(Option.some(Redacted.make(`sqlite:${file}`)))),
        Effect.provide(config)
      )
      assert.isTrue(Fs.existsSync(file))
    }))

  it.effect("refuses other URLs and unreachable servers without printing the password", () =>
    Effect.gen(function*() {
      const config = MaikitConfig.layerFrom({ dataDir: tempDir("cp-bad") })
      const mssql = yield* Effect.flip(dialect.pipe(
        Effect.provide(ControlPlaneDatabase.layerFrom(Option.some(Redacted.make("mssql://sa:hunter2@db/maikit")))),
        Effect.provide(config)
      ))
      assert.strictEqual(mssql._tag, "DatabaseOpenError")
      assert.include(mssql.message, "unsupported database URL")
      assert.notInclude(mssql.message, "hunter2")
      const down = yield* Effect.flip(dialect.pipe(
        Effect.provide(ControlPlaneDatabase.layerPostgres(Redacted.make("postgres://u:hunter2@127.0.0.1:9/maikit")))
      ))
      assert.strictEqual(down._tag, "DatabaseOpenError")
      assert.notInclude(down.message, "hunter2")
      assert.include(down.message, "127.0.0.1:9")
    }))

  it.live("selects PostgreSQL for a postgres:// URL", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const config = MaikitConfig.layerFrom({ dataDir: tempDir("cp-pg"), databaseUrl: Option.some(Redacted.make(url)) })
      assert.strictEqual(yield* dialect.pipe(Effect.provide(ControlPlaneDatabase.layer), Effect.provide(config)), "postgresql")
    }).pipe(Effect.scoped, Effect.provide(TestPostgres.layer)))
})

describe("ControlPlaneDatabase on MySQL / MariaDB", () => {
  it("reads the seed's URL forms and, without a URL, its DATABASE_HOST, … variables", () => {
    for (const url of ["mysql+aiomysql://username:password@localhost:3306/maimbot_api", "mysql://username:password@localhost/maimbot_api"]) {
      assert.isTrue(ControlPlaneDatabase.isMysqlUrl(url))
      const config = ControlPlaneDatabase.mysqlConfigFromUrl(url)
      assert.deepInclude(config, { host: "localhost", port: 3306, user: "username", database: "maimbot_api" })
      assert.strictEqual(config.password === undefined ? undefined : Redacted.value(config.password), "password")
    }
    assert.isTrue(ControlPlaneDatabase.isMysqlUrl("mariadb://u@h/d"))
    assert.isFalse(ControlPlaneDatabase.isMysqlUrl("postgres://u@h/d"))
    assert.deepInclude(ControlPlaneDatabase.mysqlConfigFromUrl("mysql://a%40b:p%3Aw@[::1]:3307/x?unix_socket=/run/m.sock"), {
      host: "::1",
      port: 3307,
      user: "a@b",
      socketPath: "/run/m.sock",
      database: "x"
    })
    assert.throws(() => ControlPlaneDatabase.mysqlConfigFromUrl("mysql://u@h:3306/"), /names no database/)

    assert.strictEqual(
      databaseUrlFromParts({
        DATABASE_HOST: "db.internal",
        DATABASE_PORT: "3307",
        DATABASE_NAME: "maimbot_api",
        DATABASE_USER: "user",
        DATABASE_PASSWORD: "p@ss:word"
      }),
      "mysql://user:p%40ss%3Aword@db.internal:3307/maimbot_api"
    )
    assert.strictEqual(databaseUrlFromParts({ DATABASE_NAME: "maimbot_api" }), "mysql://localhost:3306/maimbot_api")
    assert.isUndefined(databaseUrlFromParts({ DATABASE_USER: "user" }))
  })

  it.effect("DATABASE_URL wins over the parts; the parts are used when it is absent", () =>
    Effect.gen(function*() {
      const cwd = tempDir("cp-parts")
      const parts = { DATABASE_HOST: "127.0.0.1", DATABASE_NAME: "maimbot_api", DATABASE_USER: "u", DATABASE_PASSWORD: "secret" }
      const fromParts = yield* load({ cwd, env: parts })
      assert.strictEqual(Option.map(fromParts.databaseUrl, Redacted.value).pipe(Option.getOrNull), "mysql://u:secret@127.0.0.1:3306/maimbot_api")
      const fromUrl = yield* load({ cwd, env: { ...parts, DATABASE_URL: "sqlite:/tmp/x.db" } })
      assert.strictEqual(Option.map(fromUrl.databaseUrl, Redacted.value).pipe(Option.getOrNull), "sqlite:/tmp/x.db")
    }))

  it.live("selects MySQL for the seed's mysql+aiomysql:// URL, and says what is wrong when it cannot connect", () =>
    Effect.gen(function*() {
      const url = new URL(yield* freshMysqlDatabase)
      const config = MaikitConfig.layerFrom({ dataDir: tempDir("cp-mysql") })
      const open = (raw: string) =>
        dialect.pipe(Effect.provide(ControlPlaneDatabase.layerFrom(Option.some(Redacted.make(raw)))), Effect.provide(config))
      const seedForm = `mysql+aiomysql://${url.username}@${url.host}${url.pathname}`
      assert.strictEqual(yield* open(seedForm), "mysql")

      const { adminUrl } = yield* TestMysql
      yield* Effect.acquireRelease(
        execute(
          adminUrl,
          "CREATE USER IF NOT EXISTS 'maikit_cp'@'127.0.0.1' IDENTIFIED BY 'right-password'",
          `GRANT ALL ON ${url.pathname.slice(1)}.* TO 'maikit_cp'@'127.0.0.1'`
        ),
        () => execute(adminUrl, "DROP USER IF EXISTS 'maikit_cp'@'127.0.0.1'")
      )
      assert.strictEqual(yield* open(`mysql+aiomysql://maikit_cp:right-password@${url.host}${url.pathname}`), "mysql")
      const refused = yield* Effect.flip(open(`mysql+aiomysql://maikit_cp:hunter2@${url.host}${url.pathname}`))
      assert.strictEqual(refused._tag, "DatabaseOpenError")
      assert.include(refused.message, "refused user 'maikit_cp' (wrong user name or password)")
      assert.notInclude(refused.message, "hunter2")

      const missing = yield* Effect.flip(open(`mysql://${url.username}@${url.host}/maikit_no_such_database`))
      assert.include(missing.message, "has no database 'maikit_no_such_database'")

      const down = yield* Effect.flip(open("mysql://u:hunter2@127.0.0.1:9/maikit"))
      assert.strictEqual(down._tag, "DatabaseOpenError")
      assert.include(down.message, "cannot reach a MySQL/MariaDB server at 127.0.0.1:9")
      assert.notInclude(down.message, "hunter2")
    }).pipe(Effect.scoped, Effect.provide(TestMysql.layer)))
})

const probeMigrations = (second: string) => ({
  "0001_create_first": Effect.andThen(SqlClient.SqlClient, (sql) => sql`CREATE TABLE first_table (id INTEGER PRIMARY KEY)`),
  "0002_create_second": Effect.andThen(SqlClient.SqlClient, (sql) => sql.unsafe(second))
})

const recorded = Effect.andThen(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ readonly migration_id: number }>`SELECT migration_id FROM maikit_migrations_mysql_probe ORDER BY migration_id`, (rows) =>
    rows.map((row) => Number(row.migration_id))))

describe("Database.migrate on MySQL / MariaDB (DDL commits implicitly there)", () => {

  it.live("a failed migration is not recorded, so the next start runs it again", () =>
    Effect.gen(function*() {
      const url = yield* freshMysqlDatabase
      const open = ControlPlaneDatabase.layerMysql(Redacted.make(url))
      const failed = yield* Effect.flip(Database.migrate("mysql-probe", probeMigrations("CREATE TABLE second_table (")).pipe(Effect.provide(open)))
      assert.strictEqual(failed._tag === "DatabaseMigrationError" ? failed.migration : failed._tag, "0002_create_second")
      assert.deepStrictEqual(yield* recorded.pipe(Effect.provide(open)), [1], "the first committed, the failed one is not recorded")
      const applied = yield* Database.migrate("mysql-probe", probeMigrations("CREATE TABLE second_table (id INTEGER PRIMARY KEY)"))
        .pipe(Effect.provide(open))
      assert.deepStrictEqual(applied, ["0002_create_second"])
      assert.deepStrictEqual(yield* recorded.pipe(Effect.provide(open)), [1, 2])
    }).pipe(Effect.scoped, Effect.provide(TestMysql.layer)))

  it.live("two processes starting at once on a fresh database both come up: one migrates, the other waits for it", () =>
    Effect.gen(function*() {
      const url = yield* freshMysqlDatabase
      const start = ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layerMysql(Redacted.make(url)), { catalog: {} })
      yield* Effect.all([Layer.build(start), Layer.build(start)].map((built) => Effect.scoped(built)), { concurrency: 2 })
      const tables = yield* Effect.andThen(SqlClient.SqlClient, (sql) =>
        sql<{ readonly migration_id: number }>`SELECT migration_id FROM maikit_migrations_api_key_auth`).pipe(
          Effect.provide(ControlPlaneDatabase.layerMysql(Redacted.make(url)))
        )
      assert.strictEqual(tables.length, 3)
    }).pipe(Effect.scoped, Effect.provide(TestMysql.layer)))
})
