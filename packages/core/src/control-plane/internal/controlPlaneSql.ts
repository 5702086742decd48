/**
 * What the control-plane tables share on SQLite and PostgreSQL: one set of migrations with portable column
 * types, so values cross the driver boundary in forms both dialects agree on.
 */
import { Schema, SchemaTransformation } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"

/** PostgreSQL returns `BIGINT` and `COUNT(*)` as a `bigint`; SQLite returns a number. */
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
