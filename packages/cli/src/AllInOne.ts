/**
 * The all-in-one MaiKit server: every API family on one port (the launcher's 23456 by default), on the
 * embedded SQLite database, with logs to the console and a daily-rotated file. `maikit serve` and
 * `examples/server` both run this layer.
 */
import { Effect, Layer } from "effect"
import { ControlPlaneDatabase } from "@maikit/core/control-plane"
import { BotConfigFiles, BotDatabase, Deployer, InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { Database, Logging, MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { ControlPlane, Launcher, LauncherDeploy, LauncherResources, MaikitServer, StatusRelay } from "@maikit/http-adapter"
import { LightRelay } from "@maikit/light-relay"
import { InstallLogSocket, LogSocket, TerminalSocket } from "@maikit/ws-adapter"

const announce = Effect.gen(function*() {
  const config = yield* MaikitConfig.MaikitConfig
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}`
  yield* Effect.logInfo(`MaiKit listening on ${url} (console at ${url}/console/, docs at ${url}/docs, data in ${config.dataDir})`)
})

/** The server, built from settings the caller has already resolved (or from `MaikitConfig.layer`). */
export const layerFromConfig = Layer.unwrap(Effect.gen(function*() {
  const config = yield* MaikitConfig.MaikitConfig
  const mounts: ReadonlyArray<MaikitServer.Mount<InstanceSupervisor.InstanceSupervisor | Deployer.Deployer>> = [
    TerminalSocket.mount({ accessToken: config.accessToken }),
    LogSocket.mount({ accessToken: config.accessToken }),
    InstallLogSocket.mount({ accessToken: config.accessToken })
  ]
  const server = MaikitServer.layer({
    families: [
      Launcher.family,
      Launcher.instancesFamily,
      LauncherDeploy.family,
      LauncherResources.resourcesFamily,
      ControlPlane.family,
      StatusRelay.family
    ],
    mounts,
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    accessToken: config.accessToken,
    allowedHosts: config.allowedHosts,
    allowedOrigins: config.allowedOrigins,
    title: "MaiKit",
    console: true
  }).pipe(
    Layer.provide(Layer.mergeAll(
      SystemMetrics.SystemMetrics.layer,
      UpdateChecker.UpdateChecker.layer(),
      ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layer),
      LightRelay.relayServices({ ble: true }),
      Layer.mergeAll(
        InstanceSupervisor.InstanceSupervisor.layer(),
        Deployer.Deployer.layer(),
        BotConfigFiles.BotConfigFiles.layer(),
        BotDatabase.BotDatabase.layer()
      ).pipe(Layer.provide(InstanceRegistry.InstanceRegistry.layer))
    ))
  )
  return Layer.mergeAll(server, Layer.effectDiscard(announce)).pipe(
    Layer.provide(Database.layer),
    Layer.provide(Logging.layer({
      directory: config.logDir,
      level: MaikitConfig.toLogLevel(config.logLevel),
      retentionDays: config.logRetentionDays
    }))
  )
}))

/** The server with settings from `maikit.toml`, `MAIKIT_*` variables and `overrides`. */
export const layer = (overrides: MaikitConfig.Overrides = {}) =>
  layerFromConfig.pipe(Layer.provide(MaikitConfig.MaikitConfig.layer({ overrides })))
