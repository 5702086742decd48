/**
 * The control plane: tenants, agents, agent configs, activity, plugin settings and API keys, on SQLite,
 * PostgreSQL or MySQL/MariaDB. The PostgreSQL and MySQL drivers load only when such a URL is configured.
 */
export * as AgentConfig from "./AgentConfig.ts"
export * as ApiKeyAuth from "./ApiKeyAuth.ts"
export * as ControlPlaneDatabase from "./ControlPlaneDatabase.ts"
export * as MaimConfigImport from "./MaimConfigImport.ts"
export * as MysqlClient from "./MysqlClient.ts"
export * as SystemCatalog from "./SystemCatalog.ts"
export * as TenantStore from "./TenantStore.ts"

// Exported by name too, for the declaration files of dependent packages (see platform/index.ts).
export {
  ApiKeyAlreadyStored,
  ApiKeyDisabled,
  ApiKeyExpired,
  ApiKeyMalformed,
  ApiKeyNameTaken,
  ApiKeyNotFound,
  ApiKeyOwnerInactive,
  ApiKeyPermissionDenied,
  ApiKeyStorageError,
  ApiKeyUnknown
} from "./ApiKeyAuthError.ts"
export { MaimConfigImportError } from "./MaimConfigImportError.ts"
export { BotDefaultsUnavailable } from "./SystemCatalogError.ts"
export {
  ActivityRejected,
  AgentConfigRejected,
  AgentNameTaken,
  AgentNotFound,
  AgentNotInTenant,
  IdTaken,
  TenantNameTaken,
  TenantNotFound,
  TenantStoreStorageError
} from "./TenantStoreError.ts"
