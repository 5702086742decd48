import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { WebSocket } from "ws"
import { InstanceRegistry } from "@maikit/core/launcher"
import {
  deployerLayer,
  deployerOptions,
  eventually,
  fixtureWorld,
  slowIndex,
  tempDir
} from "../../core/test/helpers/deployer.ts"
import { InstallLogSocket } from "../../ws-adapter/src/index.ts"
import { Launcher, LauncherApi, LauncherDeploy, LauncherDeployApi, MaikitServer } from "../src/index.ts"

const clientHeaders = {
  "content-type": "application/json",
  accept: "application/json",
  "x-client-name": "MailLauncher-Frontend",
  "x-client-version": "1.0.0"
}

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { ...init, headers: { ...clientHeaders, "x-request-time": new Date().toISOString() } })
    return { status: response.status, body: await response.text() }
  })

const post = (url: string, body: unknown) => call(url, { method: "POST", body: JSON.stringify(body) })

const decode = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(schema: S, body: string): S["Type"] =>
  Schema.decodeUnknownSync(schema)(JSON.parse(body))

/** Exactly what `deployStore.startDeployment` in the Vue client posts (contract §4.2 row 11). */
const vueDeployBody = (installPath: string, name: string) => ({
  instance_name: name,
  version: "latest",
  install_path: installPath,
  port: 18600,
  install_services: [{ name: "napcat-ada", path: `${installPath}/napcat-ada`, port: 18695, run_cmd: "python main.py" }],
  host: "127.0.0.1",
  token: ""
})

describe("Launcher deploy routes", () => {
  it.live("replay the Vue client's deploy page: versions, deploy, poll install-status; 409, 404, 4xx in {detail}, WS log", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (server) => Effect.promise(server.close))
      const dataDir = Path.join(world.root, "data")
      const options = deployerOptions(world, {
        pip: { indexUrl: index.url },
        env: { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_FIND_LINKS: "", PIP_DEFAULT_TIMEOUT: "600" }
      })
      const context = yield* Layer.build(
        MaikitServer.layer({
          families: [Launcher.instancesFamily, LauncherDeploy.family],
          mounts: [InstallLogSocket.mount()],
          host: "127.0.0.1",
          port: 0
        }).pipe(Layer.provideMerge(deployerLayer(dataDir, options)))
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const base = address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
      const home = tempDir("deploy-http")

      for (const path of ["/api/v1/deploy/versions", "/api/v1/versions"]) {
        const versions = decode(LauncherDeployApi.VersionsResponse, (yield* call(`${base}${path}`)).body)
        assert.deepStrictEqual(versions.versions, ["latest", "main", "1.2.1", "1.0.0", "1.0.0-rc.4", "0.12.3", "0.6.3-fix4-alpha", "dev"])
        assert.strictEqual(versions.latest, "1.2.1")
      }
      assert.deepStrictEqual(JSON.parse((yield* call(`${base}/api/v1/deploy/services`)).body).services.map((s: { name: string }) => s.name), [
        "napcat-ada",
        "napcat"
      ])

      // Another instance holds port 18700.
      yield* Context.get(context, InstanceRegistry.InstanceRegistry).add({
        name: "other",
        version: "x",
        path: home,
        host: "127.0.0.1",
        port: 18700,
        token: "",
        ownsPath: false,
        components: []
      })
      const full = Path.join(home, "full")
      Fs.mkdirSync(full)
      Fs.writeFileSync(Path.join(full, "mine.txt"), "x")
      const bad = async (body: unknown, path = "/api/v1/deploy/deploy") => {
        const response = await fetch(`${base}${path}`, { method: "POST", headers: clientHeaders, body: JSON.stringify(body) })
        return { status: response.status, body: await response.json() as { detail: unknown } }
      }
      const refusals = yield* Effect.promise(() =>
        Promise.all([
          bad({ ...vueDeployBody("relative/mai", "a") }),
          bad({ ...vueDeployBody(`${home}/x/../y`, "a") }),
          bad({ ...vueDeployBody(full, "a") }),
          bad({ ...vueDeployBody(Path.join(home, "v"), "a"), version: "0.0.1" }),
          bad({ ...vueDeployBody(Path.join(home, "v"), "a"), install_services: [{ name: "nonebot", path: "", port: 1, run_cmd: "x" }] }),
          bad({ ...vueDeployBody(Path.join(home, "v"), "a"), port: 0 }),
          bad({ ...vueDeployBody(Path.join(home, "v"), "a"), port: 18700 }),
          bad({ ...vueDeployBody(Path.join(home, "v"), "a"), port: "8000" }),
          bad({ instance_name: "a", install_path: Path.join(home, "v"), port: 18800, installServices: [{ name: "qq" }] }, "/api/v1/deploy/1.2.1"),
          bad({ instance_name: "a", install_path: Path.join(home, "v"), port: 18800 }, "/api/v1/deploy/9.9.9")
        ])
      )
      assert.deepStrictEqual(refusals.map((refusal) => refusal.status), [400, 400, 400, 400, 400, 400, 400, 422, 400, 400])
      assert.deepStrictEqual(refusals.slice(0, 7).map((refusal) => refusal.body.detail), [
        "install_path: 安装路径必须是绝对路径（可用 ~ 表示主目录）: relative/mai",
        `install_path: 路径不能包含 '..': ${home}/x/../y`,
        `install_path: 目标文件夹不是空的: ${full}`,
        "version: 未知版本: 0.0.1（可用: latest, main, 1.2.1, 1.0.0, 1.0.0-rc.4, 0.12.3, 0.6.3-fix4-alpha, dev）",
        "install_services: 未知服务: nonebot（可部署: napcat-ada, napcat）",
        "port: 端口无效: 0（应为 1–65535 的整数）",
        "port: 端口 18700 已被实例 other使用"
      ])
      assert.isArray(refusals[7]?.body.detail)
      assert.deepStrictEqual(Fs.readdirSync(home).toSorted(), ["full"])

      const socket = new WebSocket(`${base.replace("http", "ws")}${InstallLogSocket.path}`)
      const frames: Array<InstallLogSocket.InstallLogLine> = []
      socket.on("message", (data) => frames.push(JSON.parse(String(data)) as InstallLogSocket.InstallLogLine))
      yield* Effect.promise(() => new Promise((resolve) => socket.once("open", resolve)))

      const target = Path.join(home, "MaiBot", "Deployments", "web")
      const started = yield* post(`${base}/api/v1/deploy/deploy`, vueDeployBody(target, "web"))
      assert.strictEqual(started.status, 200, started.body)
      const answer = decode(LauncherApi.DeployResponse, started.body)
      assert.isTrue(answer.success)
      assert.strictEqual(answer.message, "MaiBot 版本 latest 的实例 web 部署任务已启动。")
      const id = answer.instance_id ?? ""
      assert.match(id, /^[0-9a-f]{40}$/)

      yield* eventually(Effect.sync(() => index.requests.length), (count) => count > 0, 60_000)
      const twice = yield* post(`${base}/api/v1/deploy/deploy`, { ...vueDeployBody(target, "web2"), port: 18601 })
      assert.strictEqual(twice.status, 409)
      assert.strictEqual(JSON.parse(twice.body).detail, `路径 ${target} 已有部署任务进行中（任务 ${id}）`)
      const midway = decode(LauncherDeployApi.InstallStatusResponse, (yield* call(`${base}/api/v1/deploy/install-status/${id}`)).body)
      assert.strictEqual(midway.status, "installing")
      assert.isAtLeast(midway.progress, 58)
      assert.isBelow(midway.progress, 100)
      index.release()

      const done = yield* eventually(
        Effect.map(call(`${base}/api/v1/deploy/install-status/${id}`), (response) => decode(LauncherDeployApi.InstallStatusResponse, response.body)),
        (status) => status.status !== "installing",
        120_000
      )
      assert.strictEqual(done.status, "completed", done.message)
      assert.strictEqual(done.progress, 100)
      assert.strictEqual(done.message, "部署完成！所有4个阶段已完成")
      assert.deepStrictEqual(done.services_install_status.map((service) => [service.name, service.status]), [["napcat-ada", "completed"]])
      assert.isTrue(done.logs.every((entry) => /^\d{2}:\d{2}:\d{2}$/.test(entry.timestamp)))
      assert.isTrue(done.logs.some((entry) => entry.level === "success"))
      const alias = decode(LauncherDeployApi.InstallStatusResponse, (yield* call(`${base}/api/v1/install-status/${id}`)).body)
      assert.strictEqual(alias.status, "completed")

      const listed = JSON.parse((yield* call(`${base}/api/v1/instances`)).body) as { instances: Array<{ id: string; version: string; path: string }> }
      const instance = listed.instances.find((entry) => entry.id === id)
      assert.deepStrictEqual([instance?.version, instance?.path], ["1.2.1", target])

      yield* eventually(Effect.sync(() => frames.length), () => frames.some((frame) => frame.message.includes("部署完成")), 10_000)
      assert.isTrue(frames.every((frame) => frame.source === "install" && frame.job_id === id))
      assert.match(frames[0]?.time ?? "", /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
      assert.isTrue(frames.some((frame) => frame.level === "SUCCESS"))
      socket.close()

      const missing = yield* call(`${base}/api/v1/deploy/install-status/${"0".repeat(40)}`)
      assert.deepStrictEqual([missing.status, JSON.parse(missing.body)], [404, { detail: `实例 ${"0".repeat(40)} 不存在或尚未开始安装` }])
      const finishedCancel = yield* post(`${base}/api/v1/deploy/cancel/${id}`, {})
      assert.strictEqual(finishedCancel.status, 409)
      const backups = JSON.parse((yield* call(`${base}/api/v1/instance/${id}/backups`)).body)
      assert.deepStrictEqual(backups, { success: true, backups: [] })
      const noInstance = yield* post(`${base}/api/v1/instance/${"1".repeat(40)}/update`, { version: "dev" })
      assert.deepStrictEqual([noInstance.status, JSON.parse(noInstance.body)], [404, { detail: `未找到实例 ${"1".repeat(40)}` }])
      const unknownVersion = yield* post(`${base}/api/v1/instance/${id}/update`, { version: "7.7.7" })
      assert.strictEqual(unknownVersion.status, 400)

      const openapi = JSON.parse((yield* call(`${base}/openapi.json`)).body) as { paths: Record<string, unknown> }
      for (const path of ["/api/v1/deploy/deploy", "/api/v1/deploy/install-status/{id}", "/api/v1/instance/{id}/update", "/api/v1/instance/{id}/backups"]) {
        assert.property(openapi.paths, path)
      }
    }).pipe(Effect.scoped), 180_000)
})
