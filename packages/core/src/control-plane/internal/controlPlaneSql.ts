/**
 * What the control-plane tables share on SQLite, PostgreSQL and MySQL/MariaDB: one set of migrations with portable
 * column types, so values cross the driver boundary in forms all dialects agree on.
 */
import { Effect, Schema, SchemaTransformation } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Fragment } from "effect/sql/Statement"
import * as Crypto from "node:crypto"

/** The database products the control plane runs on, as `/health` names them. */
export type Backend = "sqlite" | "postgresql" | "mysql"

export const backendOf = (sql: SqlClient.SqlClient): Backend =>
  sql.onDialectOrElse({ pg: () => "postgresql" as const, mysql: () => "mysql" as const, orElse: () => "sqlite" as const })

/** The DDL that differs by dialect; everything else in the migrations is written once. */
export interface Ddl {
  /** Free text: MySQL's `TEXT` holds 64 KiB only, so `MEDIUMTEXT` (16 MiB) there. */
  readonly text: Fragment
  /**
   * After `CREATE TABLE (…)`: on MySQL/MariaDB, InnoDB (foreign keys, transactions), utf8mb4, and a binary collation
   * without padding, so names compare as on SQLite and PostgreSQL (`Foo` ≠ `foo`, `a` ≠ `a `); the server's default
   * collation ignores both.
   */
  readonly tableOptions: Fragment
}

export const ddl: Effect.Effect<Ddl, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.onDialectOrElse({
    mysql: () =>
      Effect.map(
        // MySQL 8 and MariaDB 10.11 name their binary no-pad collation differently.
        sql<{ readonly name: string }>`SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS
          WHERE COLLATION_NAME IN ('utf8mb4_0900_bin', 'utf8mb4_nopad_bin') ORDER BY COLLATION_NAME`,
        (rows): Ddl => ({
          text: sql.literal("MEDIUMTEXT"),
          tableOptions: sql.literal(
            ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${rows[0]?.name ?? "utf8mb4_bin"}`
          )
        })
      ),
    orElse: () => Effect.succeed<Ddl>({ text: sql.literal("TEXT"), tableOptions: sql.literal("") })
  })
})

/**
 * Deletes the rows `where` selects from `table` and tells how many went: `RETURNING` where the dialect has it,
 * the server's affected-row count on MySQL (which has no `DELETE … RETURNING`).
 */
export const deleteWhere = (
  sql: SqlClient.SqlClient,
  table: string,
  where: Fragment
): Effect.Effect<number, SqlError> =>
  sql.onDialectOrElse({
    mysql: () =>
      Effect.map(
        sql`DELETE FROM ${sql(table)} WHERE ${where}`.raw,
        (result) => Number((result as { readonly affectedRows?: number }).affectedRows ?? 0)
      ),
    orElse: () => Effect.map(sql`DELETE FROM ${sql(table)} WHERE ${where} RETURNING 1 AS gone`, (rows) => rows.length)
  })

/**
 * `INSERT … ON CONFLICT (key) DO UPDATE SET column = excluded.column, …` in each dialect's words (MySQL's
 * `ON DUPLICATE KEY UPDATE column = VALUES(column)`, which MariaDB and MySQL 8 both take).
 */
export const upsert = (
  sql: SqlClient.SqlClient,
  table: string,
  row: Record<string, unknown>,
  conflict: ReadonlyArray<string>,
  update: ReadonlyArray<string>
) =>
  sql.onDialectOrElse({
    mysql: () =>
      sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON DUPLICATE KEY UPDATE ${
        sql.csv(update.map((column) => sql`${sql(column)} = VALUES(${sql(column)})`))
      }`,
    orElse: () =>
      sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON CONFLICT (${sql.csv(conflict.map((column) => sql`${sql(column)}`))})
        DO UPDATE SET ${sql.csv(update.map((column) => sql`${sql(column)} = excluded.${sql(column)}`))}`
  })

/** PostgreSQL returns `BIGINT` and `COUNT(*)` as a `bigint`; SQLite and `MysqlClient` return a number. */
export const DbInt = Schema.Union([
  Schema.Number,
  Schema.BigInt.pipe(
    Schema.decodeTo(
      Schema.Number,
      SchemaTransformation.transform({ decode: (value: bigint) => Number(value), encode: (value: number) => BigInt(value) })
    )
  )
])

/** Booleans live in `INTEGER` columns (0/1): a PostgreSQL `boolean` would need dialect-specific DDL. */
export const DbBoolean = DbInt.pipe(
  Schema.decodeTo(
    Schema.Boolean,
    SchemaTransformation.transform({ decode: (value: number) => value !== 0, encode: (value: boolean): number => (value ? 1 : 0) })
  )
)

export const toDbBoolean = (value: boolean): number => (value ? 1 : 0)

/**
 * Timestamps are stored as naive UTC ISO text with microseconds (`2025-12-02T10:30:00.123000`), the form the
 * original's clients read (Python's `datetime.isoformat()` of a naive UTC value). The fixed width makes text
 * order equal time order in both dialects, so `expires_at > ?` needs no date functions.
 */
export const naiveIso = (millis: number): string => new Date(millis).toISOString().slice(0, 23) + "000"

/** Ids in the original's format: a prefix and 12 lowercase hex digits, here from the CSPRNG. */
export const newId = (prefix: "tenant" | "agent" | "key"): string => `${prefix}_${Crypto.randomBytes(6).toString("hex")}`

export const idPattern = (prefix: "tenant" | "agent" | "key"): RegExp => new RegExp(`^${prefix}_[0-9a-f]{12}$`)

export const isUniqueViolation = (error: SqlError): boolean => error.reason._tag === "UniqueViolation"

/** A foreign key or check failed: the row a write refers to is gone (deleted by a concurrent request). */
export const isConstraintViolation = (error: SqlError): boolean => error.reason._tag === "ConstraintError"
