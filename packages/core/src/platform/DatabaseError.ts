import { Schema } from "effect"

const describe = (cause: unknown): string => {
  if (cause instanceof Error) {
    const reason = (cause as { readonly cause?: unknown }).cause
    return reason instanceof Error && reason.message !== "" && reason.message !== cause.message
      ? `${cause.message}: ${reason.message}`
      : cause.message
  }
  return String(cause)
}

/** The database file could not be created or opened; start-up cannot continue without it. */
export class DatabaseOpenError extends Schema.TaggedError<DatabaseOpenError>()("DatabaseOpenError", {
  filename: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {
  static readonly of = (filename: string, cause: unknown): DatabaseOpenError =>
    new DatabaseOpenError({ filename, cause, message: `cannot open database ${filename}: ${describe(cause)}` })
}

/**
 * A service's migrations did not apply. `migration` is the key the service registered (e.g.
 * `0001_create_tenants`) when one migration is to blame; the transaction around the run was rolled back.
 */
export class DatabaseMigrationError extends Schema.TaggedError<DatabaseMigrationError>()("DatabaseMigrationError", {
  service: Schema.String,
  migration: Schema.optional(Schema.String),
  message: Schema.String,
  cause: Schema.Defect()
}) {
  static readonly of = (service: string, migration: string | undefined, cause: unknown): DatabaseMigrationError =>
    migration === undefined
      ? new DatabaseMigrationError({ service, cause, message: `migrations of ${service} failed: ${describe(cause)}` })
      : new DatabaseMigrationError({
        service,
        migration,
        cause,
        message: `migration ${migration} of ${service} failed: ${describe(cause)}`
      })
}
