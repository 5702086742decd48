/**
 * The platform every domain builds on: configuration, the SQLite client and migrations, logging, host
 * metrics and MaiKit's own version. Imports no domain.
 */
export * as AccessToken from "./AccessToken.ts"
export * as Database from "./Database.ts"
export * as Logging from "./Logging.ts"
export * as MaikitConfig from "./MaikitConfig.ts"
export * as MaikitVersion from "./MaikitVersion.ts"
export * as PrivateFiles from "./PrivateFiles.ts"
export * as SqliteClient from "./SqliteClient.ts"
export * as SystemMetrics from "./SystemMetrics.ts"
export * as UpdateChecker from "./UpdateChecker.ts"

// Error classes are also exported by name: declaration files of dependent packages can only name a
// class through a direct export, not through a namespace that re-exports it.
export { DatabaseMigrationError, DatabaseOpenError } from "./DatabaseError.ts"
export { LoggingError } from "./LoggingError.ts"
export { MaikitConfigError } from "./MaikitConfigError.ts"
export { SystemMetricsError } from "./SystemMetricsError.ts"
