import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Database from "../src/platform/Database.ts"
import { DatabaseMigrationError, DatabaseOpenError } from "../src/platform/DatabaseError.ts"
import { MaikitConfig } from "../src/platform/MaikitConfig.ts"
import * as SqliteClient from "../src/platform/SqliteClient.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-database-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

let counter = 0
const freshFile = () => Path.join(root, `case-${++counter}`, "maikit.db")

const tableNames = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
  return rows.map((row) => row.name)
})

const recorded = (service: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ migration_id: number; name: string }>`
      SELECT migration_id, name FROM ${sql(Database.migrationsTable(service))} ORDER BY migration_id`
    return rows.map((row) => `${row.migration_id}_${row.name}`)
  })

const tenantMigrations = (runs: Array<string>) => ({
  "0001_create_tenants": Effect.gen(function*() {
    runs.push("0001")
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL)`
  }),
  "0002_index_tenant_names": Effect.gen(function*() {
    runs.push("0002")
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE INDEX tenants_name ON tenants (name)`
  })
})

describe("Database.layerFile", () => {
  it.effect("creates the directory and opens the file in WAL mode with a busy timeout", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      expect(Fs.existsSync(Path.dirname(filename))).toBe(false)
      const pragmas = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sqlite = yield* SqliteClient.SqliteClient
        const [journal] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        const [timeout] = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
        return { journal: journal?.journal_mode, timeout: timeout?.timeout, config: sqlite.config }
      }).pipe(Effect.provide(Database.layerFile(filename)))
      expect(Fs.existsSync(filename)).toBe(true)
      expect(pragmas.journal).toBe("wal")
      expect(pragmas.timeout).toBe(Database.busyTimeout)
      expect(pragmas.config.filename).toBe(filename)
    }))

  it.effect("fails with DatabaseOpenError naming the file when the directory cannot be created", () =>
    Effect.gen(function*() {
      const blocker = Path.join(root, "a-file")
      Fs.writeFileSync(blocker, "not a directory")
      const filename = Path.join(blocker, "maikit.db")
      const error = yield* Effect.flip(Effect.provide(tableNames, Database.layerFile(filename)))
      assert(error instanceof DatabaseOpenError)
      expect(error.filename).toBe(filename)
      expect(error.message).toContain(filename)
    }))
})

describe("Database.layer", () => {
  it.effect("opens <dataDir>/maikit.db from MaikitConfig", () =>
    Effect.gen(function*() {
      const dataDir = Path.join(root, "data-dir", "nested")
      const tables = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE marker (id INTEGER PRIMARY KEY)`
        return yield* tableNames
      }).pipe(Effect.provide(Database.layer.pipe(Layer.provide(MaikitConfig.layerFrom({ dataDir })))))
      expect(tables).toEqual(["marker"])
      expect(Fs.existsSync(Path.join(dataDir, Database.fileName))).toBe(true)
    }))
})

describe("Database.migrations", () => {
  it.effect("applies every migration to a fresh database and records them in the service's table", () =>
    Effect.gen(function*() {
      const runs: Array<string> = []
      const result = yield* Effect.gen(function*() {
        const applied = yield* Database.migrate("tenant-store", tenantMigrations(runs))
        const sql = yield* SqlClient.SqlClient
        const indexes = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'tenants_name'`
        return { applied, tables: yield* tableNames, recorded: yield* recorded("tenant-store"), indexes }
      }).pipe(Effect.provide(Database.layerFile(freshFile())))
      expect(result.applied).toEqual(["0001_create_tenants", "0002_index_tenant_names"])
      expect(runs).toEqual(["0001", "0002"])
      expect(result.tables).toEqual(["maikit_migrations_tenant_store", "tenants"])
      expect(result.recorded).toEqual(["1_create_tenants", "2_index_tenant_names"])
      expect(result.indexes).toEqual([{ name: "tenants_name" }])
    }))

  it.effect("on an existing database runs only new migrations and keeps the data", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const runs: Array<string> = []
      const migrations = tenantMigrations(runs)

      yield* Effect.gen(function*() {
        yield* Database.migrate("tenant-store", migrations)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO tenants ${sql.insert({ id: "t1", name: "First" })}`
      }).pipe(Effect.provide(Database.layerFile(filename)))

      const second = yield* Database.migrate("tenant-store", migrations).pipe(
        Effect.provide(Database.layerFile(filename))
      )
      expect(second).toEqual([])
      expect(runs).toEqual(["0001", "0002"])

      const third = yield* Effect.gen(function*() {
        const applied = yield* Database.migrate("tenant-store", {
          ...migrations,
          "0003_add_plan": Effect.gen(function*() {
            runs.push("0003")
            const sql = yield* SqlClient.SqlClient
            yield* sql`ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT 'free'`
          })
        })
        const sql = yield* SqlClient.SqlClient
        const tenants = yield* sql`SELECT id, name, plan FROM tenants`
        return { applied, tenants, recorded: yield* recorded("tenant-store") }
      }).pipe(Effect.provide(Database.layerFile(filename)))
      expect(third.applied).toEqual(["0003_add_plan"])
      expect(runs).toEqual(["0001", "0002", "0003"])
      expect(third.tenants).toEqual([{ id: "t1", name: "First", plan: "free" }])
      expect(third.recorded).toEqual(["1_create_tenants", "2_index_tenant_names", "3_add_plan"])
    }))

  it.effect("refuses a migration numbered below one already applied instead of skipping it", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const runs: Array<string> = []
      const { "0001_create_tenants": first } = tenantMigrations(runs)
      yield* Database.migrate("tenant-store", {
        "0001_create_tenants": first,
        "0003_noop": Effect.void
      }).pipe(Effect.provide(Database.layerFile(filename)))

      const error = yield* Effect.flip(Database.migrate("tenant-store", {
        "0001_create_tenants": first,
        "0002_late_arrival": Effect.sync(() => runs.push("late")),
        "0003_noop": Effect.void
      }).pipe(Effect.provide(Database.layerFile(filename))))
      assert(error._tag === "DatabaseMigrationError")
      expect(error.migration).toBe("0002_late_arrival")
      expect(error.message).toContain("not above the latest applied migration (3)")
      expect(runs).toEqual(["0001"])
    }))

  it.effect("keeps two services' migrations independent, composed in either order", () =>
    Effect.gen(function*() {
      const runs: Array<string> = []
      const tenants = Database.migrations("tenant-store", tenantMigrations(runs))
      const audit = (extra: boolean) =>
        Database.migrations("audit-log", {
          "0001_create_audit": Effect.gen(function*() {
            runs.push("audit-0001")
            const sql = yield* SqlClient.SqlClient
            yield* sql`CREATE TABLE audit (id INTEGER PRIMARY KEY, event TEXT NOT NULL)`
          }),
          ...(extra
            ? {
              "0002_audit_actor": Effect.gen(function*() {
                runs.push("audit-0002")
                const sql = yield* SqlClient.SqlClient
                yield* sql`ALTER TABLE audit ADD COLUMN actor TEXT`
              })
            }
            : {})
        })
      const filename = freshFile()

      const first = yield* Effect.all([recorded("tenant-store"), recorded("audit-log")]).pipe(
        Effect.provide(Layer.mergeAll(tenants, audit(false)).pipe(Layer.provideMerge(Database.layerFile(filename))))
      )
      expect(first).toEqual([["1_create_tenants", "2_index_tenant_names"], ["1_create_audit"]])

      const second = yield* Effect.all([recorded("tenant-store"), recorded("audit-log"), tableNames]).pipe(
        Effect.provide(Layer.mergeAll(audit(true), tenants).pipe(Layer.provideMerge(Database.layerFile(filename))))
      )
      expect(second[0]).toEqual(["1_create_tenants", "2_index_tenant_names"])
      expect(second[1]).toEqual(["1_create_audit", "2_audit_actor"])
      expect(second[2]).toEqual(["audit", "maikit_migrations_audit_log", "maikit_migrations_tenant_store", "tenants"])
      expect(runs.filter((run) => run.startsWith("audit"))).toEqual(["audit-0001", "audit-0002"])
      expect(runs.filter((run) => !run.startsWith("audit"))).toEqual(["0001", "0002"])
    }))

  it.effect("runs a service's migrations before the service that needs its tables", () =>
    Effect.gen(function*() {
      class TenantCount extends Context.Service<TenantCount, { readonly atStart: number }>()("test/TenantCount") {}
      const TenantCountLive = Layer.effect(
        TenantCount,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM tenants`
          return TenantCount.of({ atStart: row?.n ?? -1 })
        })
      ).pipe(Layer.provide(Database.migrations("tenant-store", tenantMigrations([]))))
      const count = yield* Effect.service(TenantCount).pipe(
        Effect.provide(TenantCountLive.pipe(Layer.provide(Database.layerFile(freshFile()))))
      )
      expect(count.atStart).toBe(0)
    }))

  it.effect("fails with a tagged error naming service and migration, leaving no partial state", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const runs: Array<string> = []
      const migrations = tenantMigrations(runs)
      yield* Database.migrate("tenant-store", { "0001_create_tenants": migrations["0001_create_tenants"] }).pipe(
        Effect.provide(Database.layerFile(filename))
      )

      const broken = {
        ...migrations,
        "0003_create_plans": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE plans (id TEXT PRIMARY KEY)`
          yield* sql`INSERT INTO plans (id) VALUES ('free')`
          return yield* Effect.fail("plans seed rejected")
        })
      }
      const { error, after } = yield* Effect.gen(function*() {
        const failure = yield* Effect.flip(Database.migrate("tenant-store", broken))
        return { error: failure, after: { tables: yield* tableNames, recorded: yield* recorded("tenant-store") } }
      }).pipe(Effect.provide(Database.layerFile(filename)))

      expect(error).toBeInstanceOf(DatabaseMigrationError)
      expect(error._tag).toBe("DatabaseMigrationError")
      expect(error.service).toBe("tenant-store")
      expect(error.migration).toBe("0003_create_plans")
      expect(error.message).toContain("tenant-store")
      expect(error.message).toContain("0003_create_plans")
      expect(error.message).toContain("plans seed rejected")
      expect(after.tables).toEqual(["maikit_migrations_tenant_store", "tenants"])
      expect(after.recorded).toEqual(["1_create_tenants"])
      expect(runs).toEqual(["0001", "0002"])

      const indexes = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'tenants_name'`
      }).pipe(Effect.provide(Database.layerFile(filename)))
      expect(indexes).toEqual([])
    }))

  it.effect("reports SQL errors and defects inside a migration as the tagged error", () =>
    Effect.gen(function*() {
      const sqlFailure = yield* Effect.flip(Database.migrate("bad-sql", {
        "0001_typo": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABEL oops (id INTEGER)`
        })
      }))
      expect(sqlFailure.migration).toBe("0001_typo")
      expect(sqlFailure.message).toMatch(/migration 0001_typo of bad-sql failed: .*syntax error/)

      const defect = yield* Effect.flip(Database.migrate("dying", {
        "0001_dies": Effect.die(new Error("unexpected"))
      }))
      expect(defect.migration).toBe("0001_dies")
      expect(defect.message).toBe("migration 0001_dies of dying failed: unexpected")

      const tables = yield* tableNames
      expect(tables).toEqual(["maikit_migrations_bad_sql", "maikit_migrations_dying"])
    }).pipe(Effect.provide(Database.layerFile(freshFile()))))

  it.effect("rejects badly named services and migration keys", () =>
    Effect.gen(function*() {
      const badService = yield* Effect.flip(Database.migrate("Tenant Store", {}))
      expect(badService.service).toBe("Tenant Store")
      expect(badService.migration).toBeUndefined()
      expect(badService.message).toContain("kebab-case")

      const badKey = yield* Effect.flip(Database.migrate("tenant-store", { "create_tenants": Effect.void }))
      expect(badKey.migration).toBe("create_tenants")
      expect(badKey.message).toContain("<id>_<name>")

      const duplicate = yield* Effect.flip(Database.migrate("tenant-store", {
        "0001_a": Effect.void,
        "1_b": Effect.void
      }))
      assert(duplicate.migration === undefined)
      expect(duplicate.message).toContain("duplicate")
    }).pipe(Effect.provide(Database.layerFile(freshFile()))))

  it.effect("fails the layer with the tagged error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(
        tableNames,
        Database.migrations("tenant-store", { "0001_fail": Effect.fail("no") }).pipe(
          Layer.provideMerge(Database.layerFile(freshFile()))
        )
      ))
      assert(error._tag === "DatabaseMigrationError")
      expect(error.migration).toBe("0001_fail")
    }))
})
