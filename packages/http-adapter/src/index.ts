export * as ApiFamily from "./ApiFamily.ts"
export * as LauncherApi from "./LauncherApi.ts"
export * as Launcher from "./Launcher.ts"
export * as MaikitServer from "./MaikitServer.ts"
