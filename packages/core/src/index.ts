export * as AgentConfig from "./AgentConfig.ts"
export * as AgentHooks from "./AgentHooks.ts"
export * as ApiKeyAuth from "./ApiKeyAuth.ts"
export * as BleLink from "./BleLink.ts"
export * as BleTransport from "./BleTransport.ts"
export * as ControlPlaneDatabase from "./ControlPlaneDatabase.ts"
export * as ComponentGroup from "./ComponentGroup.ts"
export * as ComponentProcess from "./ComponentProcess.ts"
export * as Database from "./Database.ts"
export * as InstanceRegistry from "./InstanceRegistry.ts"
export * as InstanceSupervisor from "./InstanceSupervisor.ts"
export * as Logging from "./Logging.ts"
export * as MaikitConfig from "./MaikitConfig.ts"
export * as MaikitVersion from "./MaikitVersion.ts"
export * as OutputHistory from "./OutputHistory.ts"
export * as ProcessTree from "./ProcessTree.ts"
export * as MqttLink from "./MqttLink.ts"
export * as RelayConfig from "./RelayConfig.ts"
export * as RelayConfigStore from "./RelayConfigStore.ts"
export * as SqliteClient from "./SqliteClient.ts"
export * as StatusBus from "./StatusBus.ts"
export * as StatusEvent from "./StatusEvent.ts"
export * as SystemCatalog from "./SystemCatalog.ts"
export * as SystemMetrics from "./SystemMetrics.ts"
export * as TenantStore from "./TenantStore.ts"
export * as UpdateChecker from "./UpdateChecker.ts"
export * as VenvCommand from "./VenvCommand.ts"

// Error classes are also exported by name: declaration files of dependent packages can only name a
// class through a direct export, not through a namespace that re-exports it.
export { DatabaseMigrationError, DatabaseOpenError } from "./DatabaseError.ts"
export { LoggingError } from "./LoggingError.ts"
export { MaikitConfigError } from "./MaikitConfigError.ts"
export { SystemMetricsError } from "./SystemMetricsError.ts"
export { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
export {
  ComponentNotFound,
  InstanceRequestInvalid,
  InstanceRuntimeError,
  InstanceStartFailed
} from "./InstanceSupervisorError.ts"
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
export { HookPayloadInvalid } from "./AgentHooksError.ts"
export { BleError, BleUnsupported } from "./BleLinkError.ts"
export { DeviceConfigDisabled, MqttLinkUnavailable, MqttPublishError } from "./MqttLinkError.ts"
export {
  RelayConfigConflict,
  RelayConfigInvalid,
  RelayConfigNotFound,
  RelayConfigStoreError
} from "./RelayConfigStoreError.ts"
export {
  CommandLineError,
  ComponentNotRunning,
  ComponentSpawnError,
  DependencyError,
  HistoryError,
  ProcessTreeError,
  SubscriberOverflow
} from "./SupervisorError.ts"
