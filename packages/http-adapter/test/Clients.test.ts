/**
 * The typed clients against a real server on loopback, with an access token: every family answers through its
 * client (the launcher's deploy and resource routes included), declared error bodies arrive as typed failures,
 * and a missing token is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { FetchHttpClient, HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { BotConfigFiles, BotDatabase } from "@maikit/core/launcher"
import { SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { checkout } from "../../core/test/fixtures/maibotTree.ts"
import { suiteServices } from "../../core/test/helpers/controlPlane.ts"
import { deployerLayer, deployerOptions, fixtureWorld } from "../../core/test/helpers/deployer.ts"
import { botFolder, supervisorLayer, tempDir } from "../../core/test/helpers/instances.ts"
import {
  ControlPlane,
  ControlPlaneClient,
  Launcher,
  LauncherClient,
  LauncherDeploy,
  LauncherDeployClient,
  LauncherResources,
  LauncherResourcesClient,
  MaikitServer,
  StatusRelay,
  StatusRelayClient
} from "../src/index.ts"
import { services as relayServices } from "./helpers/relay.ts"

const token = "client-test-token"

/** A client service from its own layer, the way a host gets one. */
const connect = <I, S, R>(client: Context.Key<I, S>, layer: Layer.Layer<I, never, R>) =>
  Effect.provide(Effect.service(client), layer)

/** One server with every family, on a real port; yields its base URL. */
const serve = Effect.gen(function*() {
  const dataDir = tempDir("clients")
  const context = yield* Layer.build(
    MaikitServer.layer({
      families: [Launcher.family, Launcher.instancesFamily, ControlPlane.family, StatusRelay.family],
      host: "127.0.0.1",
      port: 0,
      accessToken: Option.some(Redacted.make(token))
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(
        supervisorLayer(dataDir),
        SystemMetrics.SystemMetrics.layer,
        UpdateChecker.UpdateChecker.layer(),
        suiteServices("sqlite"),
        relayServices(dataDir)
      ))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  return { baseUrl: address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`, dataDir }
})

describe("typed clients", () => {
  it.live("call every family of a remote server with its token; declared errors are typed", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* serve
      const options = { baseUrl, accessToken: token }

      const launcher = yield* connect(LauncherClient.LauncherClient, LauncherClient.LauncherClient.layer(options))
      const health = yield* launcher.launcherSystem.health()
      assert.strictEqual(health.status, "success")

      const instances = yield* connect(LauncherClient.LauncherInstancesClient, LauncherClient.LauncherInstancesClient.layer(options))
      const folder = botFolder()
      const added = yield* instances.launcherInstances.addInstance({
        payload: { instance_name: "remote", install_services: [], install_path: folder, port: 8000, version: "0.7.0" }
      })
      assert.isTrue(added.success)
      const { instances: listed } = yield* instances.launcherInstances.listInstances()
      assert.deepStrictEqual(listed.map((instance) => instance.id), [added.instance_id])
      const missing = yield* Effect.flip(instances.launcherInstances.startInstance({ params: { id: "0".repeat(40) } }))
      assert.deepStrictEqual(missing, { detail: `未找到实例 ${"0".repeat(40)}` })

      const controlPlane = yield* connect(ControlPlaneClient.ControlPlaneClient, ControlPlaneClient.ControlPlaneClient.layer(options))
      const tenant = yield* controlPlane.controlPlaneTenants.createTenant({
        payload: { tenant_name: "client-tenant", tenant_type: "personal" }
      })
      assert.isTrue(tenant.success)
      assert.strictEqual(tenant.data?.tenant_name, "client-tenant")

      const relay = yield* connect(StatusRelayClient.StatusRelayClient, StatusRelayClient.StatusRelayClient.layer(options))
      yield* relay.statusRelayEvents.postEvent({ payload: { code: "busy", session_id: "client", agent: "claude" } })
      const status = yield* relay.statusRelayEvents.status()
      assert.strictEqual(status.data.code, "busy")

      // Without the token the server refuses; the client reports the family's 401 body as a failure.
      const anonymous = yield* connect(LauncherClient.LauncherClient, LauncherClient.LauncherClient.layer({ baseUrl }))
      const refused = yield* Effect.flip(anonymous.launcherSystem.health())
      assert.include(String(refused), "401")
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.scoped))
})

describe("typed clients of the deploy and resource routes", () => {
  it.live("list versions, read and patch a config file, and type a refused update", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const context = yield* Layer.build(
        MaikitServer.layer({
          families: [Launcher.instancesFamily, LauncherDeploy.family, LauncherResources.resourcesFamily],
          host: "127.0.0.1",
          port: 0,
          accessToken: Option.some(Redacted.make(token))
        }).pipe(
          Layer.provideMerge(Layer.mergeAll(BotConfigFiles.BotConfigFiles.layer(), BotDatabase.BotDatabase.layer())),
          Layer.provideMerge(deployerLayer(Path.join(world.root, "data"), deployerOptions(world)))
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const options = { baseUrl: address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`, accessToken: token }

      const deploy = yield* connect(LauncherDeployClient.LauncherDeployClient, LauncherDeployClient.LauncherDeployClient.layer(options))
      const versions = yield* deploy.launcherDeploy.versions({ query: {} })
      assert.strictEqual(versions.latest, "1.2.1")
      assert.strictEqual(versions.remote, world.maibot)
      const refused = yield* Effect.flip(deploy.launcherDeploy.update({ params: { id: "0".repeat(40) }, payload: { version: "1.2.1" } }))
      assert.deepStrictEqual(refused, { detail: `未找到实例 ${"0".repeat(40)}` })

      const tree = checkout("1.x", false)
      const instances = yield* connect(LauncherClient.LauncherInstancesClient, LauncherClient.LauncherInstancesClient.layer(options))
      const added = yield* instances.launcherInstances.addInstance({
        payload: { instance_name: "files", install_services: [], install_path: tree.dir, port: 8000, version: "1.0.0" }
      })
      const iid = added.instance_id ?? ""
      const resources = yield* connect(LauncherResourcesClient.LauncherResourcesClient, LauncherResourcesClient.LauncherResourcesClient.layer(options))
      const file = yield* resources.launcherConfig.fileGet({ params: { iid, file: "bot" } })
      const data = file.data as { bot: { nickname: string } }
      assert.strictEqual(data.bot.nickname, "麦麦")
      const written = yield* resources.launcherConfig.filePut({
        params: { iid, file: "bot" },
        headers: { "if-match": file.version },
        payload: { ...data, bot: { ...data.bot, nickname: "小麦" } }
      })
      assert.isTrue(written.changed)
      assert.include(Fs.readFileSync(file.path, "utf8"), "nickname = \"小麦\"")
      const stale = yield* Effect.flip(resources.launcherConfig.filePut({
        params: { iid, file: "bot" },
        headers: { "if-match": file.version },
        payload: data
      }))
      assert.property(stale, "detail")
      const kept = yield* resources.launcherConfig.fileVersions({ params: { iid, file: "bot" } })
      assert.strictEqual(kept.current, written.version)
      assert.deepStrictEqual(kept.versions.map((version) => version.id), [written.saved?.id])
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.scoped))
})
