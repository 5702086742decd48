/**
 * The launcher: MaiBot instances and their components in a registry, supervised as processes on PTYs with
 * their output history, and the bots' own config files and database. `node-pty` loads on the first spawn, not
 * with this module.
 */
export * as BotConfigFiles from "./BotConfigFiles.ts"
export * as BotDatabase from "./BotDatabase.ts"
export * as ComponentGroup from "./ComponentGroup.ts"
export * as ComponentProcess from "./ComponentProcess.ts"
export * as Deployer from "./Deployer.ts"
export * as DeployJob from "./DeployJob.ts"
export * as InstanceRegistry from "./InstanceRegistry.ts"
export * as InstanceSupervisor from "./InstanceSupervisor.ts"
export * as OutputHistory from "./OutputHistory.ts"
export * as ProcessTree from "./ProcessTree.ts"
export * as PtyHost from "./PtyHost.ts"
export * as VenvCommand from "./VenvCommand.ts"

// Exported by name too, for the declaration files of dependent packages (see platform/index.ts).
export {
  BackupFailed,
  BackupNotFound,
  DeployerError,
  InstanceBusy,
  InstanceMissing,
  InvalidRequest,
  JobNotFound,
  JobState,
  PathBusy,
  StepFailed,
  StorageFailed
} from "./DeployerError.ts"
export { BotDatabaseError, BotDatabaseUnavailable, BotRecordNotFound, BotRecordRejected } from "./BotDatabaseError.ts"
export {
  ConfigFileError,
  ConfigFileInvalid,
  ConfigFileNotFound,
  ConfigPathEscapes,
  ConfigValueInvalid,
  ConfigVersionConflict,
  ConfigVersionNotFound
} from "./BotConfigFilesError.ts"
export { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
export {
  ComponentNotFound,
  InstanceRequestInvalid,
  InstanceRuntimeError,
  InstanceStartFailed
} from "./InstanceSupervisorError.ts"
export {
  CommandLineError,
  ComponentNotRunning,
  ComponentSpawnError,
  DependencyError,
  HistoryError,
  ProcessTreeError,
  SubscriberOverflow
} from "./SupervisorError.ts"
