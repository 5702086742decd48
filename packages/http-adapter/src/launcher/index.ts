/** The launcher family (`/api/v1`): the MaiLauncher backend's routes in the original's shapes. */
export * as Launcher from "./Launcher.ts"
export * as LauncherApi from "./LauncherApi.ts"
export * as LauncherClient from "./LauncherClient.ts"
export * as LauncherDeploy from "./LauncherDeploy.ts"
export * as LauncherDeployApi from "./LauncherDeployApi.ts"
export * as LauncherResources from "./LauncherResources.ts"
export * as LauncherResourcesApi from "./LauncherResourcesApi.ts"
