import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as ControlPlaneDatabase from "../src/control-plane/ControlPlaneDatabase.ts"
import { MaikitConfig, load } from "../src/platform/MaikitConfig.ts"
import { tempDir } from "./helpers/controlPlane.ts"
import { freshDatabase, TestPostgres } from "./helpers/postgres.ts"

const dialect = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return sql.onDialectOrElse({ pg: () => "postgresql", sqlite: () => "sqlite", orElse: () => "other" })
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
      const mysql = yield* Effect.flip(dialect.pipe(
        Effect.provide(ControlPlaneDatabase.layerFrom(Option.some(Redacted.make("mysql://root:hunter2@db/maikit")))),
        Effect.provide(config)
      ))
      assert.strictEqual(mysql._tag, "DatabaseOpenError")
      assert.include(mysql.message, "unsupported database URL")
      assert.notInclude(mysql.message, "hunter2")
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
