import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { InstanceRegistry, type InstanceSupervisor } from "@maikit/core/launcher"
import { SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import {
  botFolder,
  command,
  component,
  isGone,
  maibotInstance,
  supervisorLayer,
  tempDir
} from "../../core/test/helpers/instances.ts"
import { Launcher, LauncherApi, MaikitServer } from "../src/index.ts"

/** The headers the Vue client's axios wrapper puts on every request. */
const clientHeaders = {
  "content-type": "application/json",
  accept: "application/json",
  "x-client-name": "MailLauncher-Frontend",
  "x-client-version": "1.0.0"
}

/** The launcher with its instance routes on a real loopback port, data in a fresh folder; yields the base URL. */
const serve = (dataDir = tempDir("launcher"), options: InstanceSupervisor.Options = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      MaikitServer.layer({
        families: [Launcher.family, Launcher.instancesFamily],
        host: "127.0.0.1",
        port: 0
      }).pipe(
        Layer.provideMerge(Layer.mergeAll(
          supervisorLayer(dataDir, options),
          SystemMetrics.SystemMetrics.layer,
          UpdateChecker.UpdateChecker.layer()
        ))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    const base = address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
    return { base, registry: Context.get(context, InstanceRegistry.InstanceRegistry) }
  })

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { ...init, headers: { ...clientHeaders, "x-request-time": new Date().toISOString() } })
    return { status: response.status, body: await response.text() }
  })

const decode = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(schema: S, body: string): S["Type"] =>
  Schema.decodeUnknownSync(schema)(JSON.parse(body))

const post = (url: string, body: unknown) => call(url, { method: "POST", body: JSON.stringify(body) })

const list = (base: string) => Effect.map(call(`${base}/api/v1/instances`), (r) => decode(LauncherApi.InstancesResponse, r.body))

const statusOf = (base: string, id: string) =>
  Effect.map(call(`${base}/api/v1/instance/${id}/status`), (r) => decode(LauncherApi.InstanceStatusResponse, r.body))

/** Exactly what `addExistingInstance` in the Vue client posts for a MaiBot folder and its adapter. */
const vueAddBody = (maibot: string, name = "mai-existing") => ({
  instance_name: name,
  maibot_path: maibot,
  adapter_path: Path.join(maibot, "napcat-ada"),
  install_services: [{ name: "napcat-ada", path: Path.join(maibot, "napcat-ada"), port: 8095, run_cmd: "python main.py" }],
  install_path: maibot,
  port: 8000,
  version: "检测到的MaiBot版本",
  host: "localhost",
  token: ""
})

/** The `loc` and `msg` of each issue of a 422. */
const refusedAs = (response: { readonly status: number; readonly body: string }) => {
  assert.strictEqual(response.status, 422, response.body)
  return decode(LauncherApi.ValidationDetail, response.body).detail.map((issue) => [issue.loc.join("."), issue.msg])
}

const instanceKeys = [
  "id",
  "name",
  "status",
  "installedAt",
  "path",
  "port",
  "services",
  "version",
  "total_runtime",
  "start_count",
  "last_start_time"
]

describe("Launcher instance routes", () => {
  it.live("replay the Vue client: add, list, start, restart, stop, delete (contract §4.2 rows 4–9)", () =>
    Effect.gen(function*() {
      const { base } = yield* serve()
      const maibot = botFolder()

      const added = yield* post(`${base}/api/v1/instances/add`, vueAddBody(maibot))
      assert.strictEqual(added.status, 200, added.body)
      const deploy = decode(LauncherApi.DeployResponse, added.body)
      assert.isTrue(deploy.success)
      assert.strictEqual(deploy.message, "现有实例 mai-existing 已成功添加到系统中。")
      const id = deploy.instance_id ?? ""
      assert.match(id, /^[0-9a-f]{40}$/)

      const listed = yield* call(`${base}/api/v1/instances`)
      const raw = JSON.parse(listed.body) as { instances: Array<Record<string, unknown>>; success: boolean }
      assert.isTrue(raw.success)
      assert.deepStrictEqual(Object.keys(raw.instances[0] ?? {}), instanceKeys, "the original's keys, in its order")
      const [before] = (yield* list(base)).instances
      assert.strictEqual(before?.status, "stopped")
      assert.strictEqual(before?.path, maibot)
      assert.strictEqual(before?.version, "检测到的MaiBot版本")
      assert.isBelow(Math.abs(Date.parse(before?.installedAt ?? "") - Date.now()), 60_000)
      assert.deepStrictEqual(before?.services, [
        { name: "napcat-ada", path: Path.join(maibot, "napcat-ada"), status: "stopped", port: 8095 }
      ])
      assert.deepStrictEqual(JSON.parse((yield* call(`${base}/api/v1/instances/stats`)).body), {
        total: 1,
        running: 0,
        stopped: 1
      })

      const start = yield* call(`${base}/api/v1/instance/${id}/start`)
      assert.deepStrictEqual(JSON.parse(start.body), { success: true, message: "实例 mai-existing 已启动" })
      const [running] = (yield* list(base)).instances
      assert.strictEqual(running?.status, "running")
      assert.strictEqual(running?.services[0]?.status, "running")
      assert.strictEqual(running?.start_count, 1)
      assert.isNotNull(running?.last_start_time)
      const first = yield* statusOf(base, id)
      assert.deepStrictEqual(first.components.map((c) => [c.name, c.state]), [["main", "running"], ["napcat-ada", "running"]])
      const firstPids = first.components.map((c) => c.pid ?? 0)
      assert.isTrue(firstPids.every((pid) => pid > 1))
      assert.isAtLeast(first.components[0]?.memory_bytes ?? 0, 1)

      const restart = yield* call(`${base}/api/v1/instance/${id}/restart`)
      assert.deepStrictEqual(JSON.parse(restart.body), { success: true, message: "实例 mai-existing 已重启" })
      const second = yield* statusOf(base, id)
      assert.isTrue(firstPids.every(isGone), "the restart ended the previous processes")
      assert.notDeepEqual(second.components.map((c) => c.pid), first.components.map((c) => c.pid))

      const stop = yield* call(`${base}/api/v1/instance/${id}/stop`)
      assert.deepStrictEqual(JSON.parse(stop.body), { success: true, message: "实例 mai-existing 已停止" })
      assert.isTrue(second.components.every((c) => isGone(c.pid ?? 0)))
      const [stopped] = (yield* list(base)).instances
      assert.strictEqual(stopped?.status, "stopped")
      assert.strictEqual(stopped?.start_count, 2)
      assert.isAbove(
        Date.parse(stopped?.last_start_time ?? ""),
        Date.parse(running?.last_start_time ?? ""),
        "the latest start (the restart's) stays on record"
      )

      const removed = yield* call(`${base}/api/v1/instance/${id}/delete`, { method: "DELETE" })
      const removal = decode(LauncherApi.ActionResponse, removed.body)
      assert.isTrue(removal.success)
      assert.include(removal.message, "实例 mai-existing 已删除")
      assert.include(removal.message, "已保留")
      assert.isTrue(Fs.existsSync(Path.join(maibot, "bot.py")), "a folder MaiKit did not create is kept")
      assert.lengthOf((yield* list(base)).instances, 0)
    }).pipe(Effect.scoped))

  it.live("add rejects bad folders with the original's 400s and malformed bodies with 422", () =>
    Effect.gen(function*() {
      const { base } = yield* serve()
      const maibot = botFolder()
      const add = (body: unknown) => post(`${base}/api/v1/instances/add`, body)
      const traditional = { ...vueAddBody(maibot), maibot_path: null, adapter_path: null }

      const missing = yield* add({ ...traditional, install_path: "/nonexistent/maibot" })
      assert.strictEqual(missing.status, 400)
      assert.deepStrictEqual(JSON.parse(missing.body), { detail: "指定的安装路径不存在: /nonexistent/maibot" })
      const file = Path.join(maibot, "bot.py")
      const notDirectory = yield* add({ ...traditional, install_path: file })
      assert.deepStrictEqual(JSON.parse(notDirectory.body), { detail: `指定的安装路径不是目录: ${file}` })
      const noBot = yield* add({ ...vueAddBody(Path.join(maibot, "napcat")), adapter_path: maibot })
      assert.strictEqual(noBot.status, 400)
      assert.include(decode(LauncherApi.Detail, noBot.body).detail, "MaiBot路径中未找到bot.py文件")
      const badService = yield* add({
        ...traditional,
        install_services: [{ name: "napcat-ada", path: "/nonexistent/ada", port: 8095, run_cmd: "python main.py" }]
      })
      assert.deepStrictEqual(JSON.parse(badService.body), { detail: "服务 napcat-ada 的路径不存在: /nonexistent/ada" })

      const { install_path: _, ...withoutPath } = traditional
      const incomplete = yield* add(withoutPath)
      assert.strictEqual(incomplete.status, 422)
      assert.deepStrictEqual(decode(LauncherApi.ValidationDetail, incomplete.body).detail[0]?.loc, ["body", "install_path"])
      const wrongType = yield* add({ ...traditional, port: "eight thousand" })
      assert.strictEqual(wrongType.status, 422)
      const malformed = yield* call(`${base}/api/v1/instances/add`, { method: "POST", body: "{\"instance_name\":" })
      assert.strictEqual(malformed.status, 422)
      assert.lengthOf((yield* list(base)).instances, 0, "nothing registered by a rejected request")
      const extra = yield* add({ ...traditional, qq_number: "123456", unknown_key: true })
      assert.strictEqual(extra.status, 200, "unknown keys and qq_number are accepted and ignored")
    }).pipe(Effect.scoped))

  it.live("unknown ids are 404 {detail} on every instance route, and the server keeps serving", () =>
    Effect.gen(function*() {
      const { base } = yield* serve()
      const id = "f".repeat(40)
      for (const path of ["start", "stop", "restart", "delete", "status"]) {
        const response = yield* call(`${base}/api/v1/instance/${id}/${path}`)
        assert.strictEqual(response.status, 404, path)
        assert.deepStrictEqual(JSON.parse(response.body), { detail: `未找到实例 ${id}` })
      }
      for (const service of ["napcat", "nonebot"]) {
        const response = yield* call(`${base}/api/v1/start/not-an-id/${service}`)
        assert.deepStrictEqual(JSON.parse(response.body), { detail: "未找到实例 not-an-id" })
      }
      const removed = yield* call(`${base}/api/v1/instance/${id}/delete`, { method: "DELETE" })
      assert.strictEqual(removed.status, 404)
      const badQuery = yield* call(`${base}/api/v1/instance/${id}/delete?delete_files=maybe`, { method: "DELETE" })
      assert.strictEqual(badQuery.status, 422)
      const wrongMethod = yield* call(`${base}/api/v1/instance/${id}/start`, { method: "POST" })
      assert.strictEqual(wrongMethod.status, 405)
      assert.strictEqual((yield* call(`${base}/api/v1/instances`)).status, 200)
      const openApi = JSON.parse((yield* call(`${base}/openapi.json`)).body) as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
      }
      assert.property(openApi.paths, "/api/v1/instances/add")
      assert.property(openApi.paths, "/api/v1/system/health", "next to the system routes")
      assert.includeMembers(Object.keys(openApi.paths["/api/v1/instance/{id}/start"]?.["get"]?.responses ?? {}), ["200", "404"])
    }).pipe(Effect.scoped))

  it.live("the seed's service routes start NapCat and the adapter alone; a failed start is success:false", () =>
    Effect.gen(function*() {
      const { base, registry } = yield* serve()
      const maibot = botFolder()
      const { id, name } = yield* registry.add(maibotInstance(maibot))
      const adapter = yield* call(`${base}/api/v1/start/${id}/nonebot`)
      assert.deepStrictEqual(JSON.parse(adapter.body), { success: true, message: `实例 ${name} 的Napcat-ada服务已启动` })
      const napcat = yield* call(`${base}/api/v1/start/${id}/napcat`)
      assert.deepStrictEqual(JSON.parse(napcat.body), { success: true, message: `实例 ${name} 的NapCat服务已启动` })
      const states = (yield* statusOf(base, id)).components.map((c) => [c.name, c.state])
      assert.deepStrictEqual(states, [["main", "stopped"], ["napcat-ada", "running"], ["napcat", "running"]])
      yield* call(`${base}/api/v1/instance/${id}/stop`)

      const lonely = yield* registry.add(maibotInstance(botFolder(), {
        components: [component("main", maibot, command("exit.mjs", "4"), { restart_policy: "no" })]
      }))
      const noNapcat = yield* call(`${base}/api/v1/start/${lonely.id}/napcat`)
      assert.strictEqual(noNapcat.status, 404)
      assert.deepStrictEqual(JSON.parse(noNapcat.body), { detail: `实例 ${lonely.name} 没有 napcat 服务` })
      const failed = yield* call(`${base}/api/v1/instance/${lonely.id}/start`)
      assert.strictEqual(failed.status, 200, "as the original: a failed start is a 200 with success false")
      const body = decode(LauncherApi.ActionResponse, failed.body)
      assert.isFalse(body.success)
      assert.include(body.message, "main did not start (errored: process exited with code 4")
      assert.strictEqual((yield* list(base)).instances.find((i) => i.id === lonely.id)?.status, "errored")
    }).pipe(Effect.scoped))

  it.live("MaiKit's component routes stop, restart and start one component; the others keep their processes", () =>
    Effect.gen(function*() {
      const { base, registry } = yield* serve()
      const { id, name } = yield* registry.add(maibotInstance(botFolder()))
      yield* call(`${base}/api/v1/instance/${id}/start`)
      const pids = () => Effect.map(statusOf(base, id), (status) => Object.fromEntries(status.components.map((c) => [c.name, c.pid])))
      const before = yield* pids()
      const act = (what: string, verb: string) => call(`${base}/api/v1/instance/${id}/component/${what}/${verb}`)

      const stopped = yield* act("main", "stop")
      assert.deepStrictEqual(JSON.parse(stopped.body), { success: true, message: `实例 ${name} 的MaiBot服务已停止` })
      assert.deepStrictEqual(yield* pids(), { ...before, main: null })
      assert.strictEqual((yield* list(base)).instances.find((i) => i.id === id)?.status, "running", "the others run")

      const restarted = yield* act("adapter", "restart")
      assert.deepStrictEqual(JSON.parse(restarted.body), { success: true, message: `实例 ${name} 的Napcat-ada服务已重启` })
      const after = yield* pids()
      assert.isTrue(isGone(before["napcat-ada"] ?? 0))
      assert.notStrictEqual(after["napcat-ada"], before["napcat-ada"])
      assert.strictEqual(after["napcat"], before["napcat"], "NapCat untouched")

      const startedMain = yield* act("maibot", "start")
      assert.deepStrictEqual(JSON.parse(startedMain.body), { success: true, message: `实例 ${name} 的MaiBot服务已启动` })
      assert.deepStrictEqual((yield* statusOf(base, id)).components.map((c) => c.state), ["running", "running", "running"])

      for (const verb of ["start", "stop", "restart"]) {
        const unknown = yield* act("webui", verb)
        assert.strictEqual(unknown.status, 404, verb)
        assert.deepStrictEqual(JSON.parse(unknown.body), { detail: `实例 ${name} 没有 webui 服务` })
        const missing = yield* call(`${base}/api/v1/instance/${"f".repeat(40)}/component/main/${verb}`)
        assert.deepStrictEqual([missing.status, JSON.parse(missing.body)], [404, { detail: `未找到实例 ${"f".repeat(40)}` }])
      }
      const openApi = JSON.parse((yield* call(`${base}/openapi.json`)).body) as { paths: Record<string, unknown> }
      assert.includeMembers(Object.keys(openApi.paths), [
        "/api/v1/instance/{id}/component/{component}/start",
        "/api/v1/instance/{id}/component/{component}/stop",
        "/api/v1/instance/{id}/component/{component}/restart"
      ])
      yield* call(`${base}/api/v1/instance/${id}/stop`)
    }).pipe(Effect.scoped))

  it.live("GET …/delete?delete_files=true deletes the instance's folders; owned folders go without asking", () =>
    Effect.gen(function*() {
      const { base, registry } = yield* serve()
      const registered = botFolder()
      const { id } = yield* registry.add(maibotInstance(registered))
      const response = yield* call(`${base}/api/v1/instance/${id}/delete?delete_files=true`)
      const removal = decode(LauncherApi.ActionResponse, response.body)
      assert.include(removal.message, "已删除 1 个文件夹")
      assert.isFalse(Fs.existsSync(registered))

      const deployed = botFolder()
      const owned = yield* registry.add(maibotInstance(deployed, { ownsPath: true }))
      yield* call(`${base}/api/v1/instance/${owned.id}/start`)
      const pids = (yield* statusOf(base, owned.id)).components.map((c) => c.pid ?? 0)
      yield* call(`${base}/api/v1/instance/${owned.id}/delete`, { method: "DELETE" })
      assert.isTrue(pids.every(isGone), "a running instance is stopped before it is deleted")
      assert.isFalse(Fs.existsSync(deployed))
    }).pipe(Effect.scoped))

  it.live("delete_files=true deletes only folders the instance owns; the data folder, home, parents, links stay", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("launcher")
      const { base, registry } = yield* serve(dataDir)
      const logs = Path.join(dataDir, "logs")
      Fs.mkdirSync(logs)
      Fs.writeFileSync(Path.join(logs, "maikit.log"), "{}\n")
      const home = tempDir("home")
      Fs.writeFileSync(Path.join(home, ".bashrc"), "")
      const elsewhere = tempDir("elsewhere")
      Fs.writeFileSync(Path.join(elsewhere, "keep.txt"), "")
      const linked = Path.join(tempDir("links"), "bot")
      Fs.symlinkSync(elsewhere, linked)
      const parent = tempDir("parent")
      const child = Path.join(parent, "bot")
      Fs.mkdirSync(child)
      const neighbour = botFolder()
      yield* registry.add(maibotInstance(neighbour, { name: "neighbour" }))

      const deleteWith = (path: string, servicePath?: string) =>
        Effect.gen(function*() {
          const { id } = yield* registry.add(maibotInstance(path, {
            components: [
              component("main", path, "python bot.py"),
              ...(servicePath === undefined ? [] : [component("napcat", servicePath, "python main.py")])
            ]
          }))
          const response = yield* call(`${base}/api/v1/instance/${id}/delete?delete_files=true`, { method: "DELETE" })
          assert.strictEqual(response.status, 200, response.body)
          return decode(LauncherApi.ActionResponse, response.body).message
        })

      const previousHome = process.env["HOME"]
      process.env["HOME"] = home
      const messages = yield* Effect.all([
        deleteWith(dataDir),
        deleteWith(logs),
        deleteWith(botFolder(), logs),
        deleteWith(linked),
        deleteWith(home),
        deleteWith(child, parent),
        deleteWith(botFolder(), neighbour)
      ]).pipe(Effect.ensuring(Effect.sync(() => (process.env["HOME"] = previousHome))))
      const [data, insideData, serviceInData, link, homeFolder, withParent, shared] = messages

      assert.include(data, `拒绝删除: ${dataDir} (拒绝删除 MaiKit 数据文件夹及其中的内容)`)
      assert.include(insideData, `拒绝删除: ${logs} (拒绝删除 MaiKit 数据文件夹及其中的内容)`)
      assert.include(serviceInData, "已删除 1 个文件夹")
      assert.include(serviceInData, `${logs} (拒绝删除 MaiKit 数据文件夹及其中的内容)`)
      assert.include(link, `${linked} (经由符号链接到达 ${elsewhere}，拒绝删除)`)
      assert.include(homeFolder, `${home} (拒绝删除用户主目录或包含它的文件夹)`)
      assert.include(withParent, "已删除 1 个文件夹")
      assert.include(withParent, `${parent} (拒绝删除实例文件夹的上级目录)`)
      assert.include(shared, `${neighbour} (拒绝删除实例 neighbour 使用的文件夹)`)

      assert.isTrue(Fs.existsSync(Path.join(dataDir, "maikit.db")), "the database survives")
      assert.isTrue(Fs.existsSync(Path.join(logs, "maikit.log")), "<data_dir>/logs survives")
      assert.isTrue(Fs.existsSync(Path.join(elsewhere, "keep.txt")), "a link's target survives")
      assert.isTrue(Fs.existsSync(linked), "the link itself is not the instance's either")
      assert.isTrue(Fs.existsSync(Path.join(home, ".bashrc")))
      assert.isTrue(Fs.existsSync(parent))
      assert.isFalse(Fs.existsSync(child), "the instance's own folder is deleted")
      assert.isTrue(Fs.existsSync(Path.join(neighbour, "bot.py")))
      assert.deepStrictEqual((yield* list(base)).instances.map((i) => i.name), ["neighbour"], "the others are unregistered")
    }).pipe(Effect.scoped))

  it.live("add bounds every field, refuses control characters and lone surrogates (422), and stores real paths", () =>
    Effect.gen(function*() {
      const { base } = yield* serve()
      const maibot = botFolder()
      const add = (body: unknown) => post(`${base}/api/v1/instances/add`, body)
      const traditional = { ...vueAddBody(maibot), maibot_path: null, adapter_path: null }
      const huge = "x".repeat(100_000)
      const service = traditional.install_services[0]

      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, instance_name: "mai\u0000bot" })), [[
        "body.instance_name",
        "must not contain control characters (NUL, newlines, escapes) or lone surrogates"
      ]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, instance_name: "mai\nbot" }))[0]?.[0], "body.instance_name")
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, instance_name: "mai\ud800" }))[0]?.[0], "body.instance_name")
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, instance_name: huge })), [[
        "body.instance_name",
        "must be at most 64 characters"
      ]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, version: huge })), [["body.version", "must be at most 64 characters"]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, instance_name: "  " })), [["body.instance_name", "must not be empty"]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...vueAddBody(maibot), maibot_path: "" })), [["body.maibot_path", "must not be empty"]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, install_path: `${maibot}\u0000` }))[0]?.[0], "body.install_path")
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, install_path: `/${huge}` })), [[
        "body.install_path",
        "must be at most 4096 characters"
      ]])
      assert.deepStrictEqual(
        refusedAs(yield* add({ ...traditional, install_services: [{ ...service, run_cmd: "python main.py\nrm -rf ~" }] }))[0]?.[0],
        "body.install_services.0.run_cmd"
      )
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, install_services: [{ ...service, name: "../x" }] }))[0]?.[0], "body.install_services.0.name")
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, port: 0 })), [["body.port", "must be a port number from 1 to 65535"]])
      assert.deepStrictEqual(refusedAs(yield* add({ ...traditional, install_services: Array.from({ length: 17 }, () => service) })), [[
        "body.install_services",
        "must list at most 16 services"
      ]])

      const passwd = Path.relative(process.cwd(), "/etc/passwd")
      const file = yield* add({ ...vueAddBody(maibot), maibot_path: passwd })
      assert.strictEqual(file.status, 400)
      assert.deepStrictEqual(JSON.parse(file.body), { detail: "指定的MaiBot路径不是目录: /etc/passwd" })
      const fileAsInstall = yield* add({ ...vueAddBody(maibot), install_path: "/etc/passwd" })
      assert.deepStrictEqual(JSON.parse(fileAsInstall.body), { detail: "指定的安装路径不是目录: /etc/passwd" })
      const fileOnlyMaibot = yield* add({ ...traditional, maibot_path: "/etc/passwd" })
      assert.strictEqual(fileOnlyMaibot.status, 400, "a path is checked even when the mode does not use it")
      assert.lengthOf((yield* list(base)).instances, 0, "nothing registered by a refused request")

      const link = Path.join(tempDir("links"), "bot")
      Fs.symlinkSync(maibot, link)
      const viaLink = yield* add({
        ...traditional,
        install_path: Path.relative(process.cwd(), link),
        install_services: [{ ...service, path: `${link}/napcat-ada/../napcat-ada` }]
      })
      assert.strictEqual(viaLink.status, 200, viaLink.body)
      const [stored] = (yield* list(base)).instances
      assert.strictEqual(stored?.path, maibot, "relative, through a link: stored as the real absolute path")
      assert.strictEqual(stored?.services[0]?.path, Path.join(maibot, "napcat-ada"))
    }).pipe(Effect.scoped))

  it.live("a start answers with the real state: a bot that crashes at once is success:false, fast; the list keeps its statistics", () =>
    Effect.gen(function*() {
      const { base, registry } = yield* serve(tempDir("launcher"), { crashLoop: { maxStarts: 4, windowMs: 60_000 } })
      const crashing = yield* registry.add(maibotInstance(botFolder(), {
        name: "crashing",
        components: [component("main", botFolder(), command("exit.mjs", "1"))]
      }))
      const before = Date.now()
      const answer = yield* call(`${base}/api/v1/instance/${crashing.id}/start`)
      const waited = Date.now() - before
      assert.deepStrictEqual(decode(LauncherApi.ActionResponse, answer.body), {
        success: false,
        message: "启动实例 crashing 失败: main crashed while starting (process exited with code 1); " +
          "restarting in 100 ms per its restart policy"
      })
      assert.isBelow(waited, 2_000, "answered when the bot crashed, not after the start wait")

      const [listed] = (yield* list(base)).instances.filter((instance) => instance.id === crashing.id)
      assert.strictEqual(listed?.status, "crashed")
      assert.strictEqual(listed?.start_count, 1)
      assert.isNotNull(listed?.last_start_time)
      const firstSpawn = (yield* statusOf(base, crashing.id)).components[0]
      assert.isAtMost(Math.abs(Date.parse(listed?.last_start_time ?? "") - Date.parse(firstSpawn?.last_start_time ?? "")), 1_000)

      const statusNow = () => Effect.map(list(base), (r) => r.instances.find((instance) => instance.id === crashing.id))
      let gaveUp = yield* statusNow()
      while (gaveUp?.status !== "errored") {
        yield* Effect.sleep(50)
        gaveUp = yield* statusNow()
      }
      assert.strictEqual(gaveUp.start_count, 1, "one run, whatever its restarts")
      assert.strictEqual(gaveUp.last_start_time, listed?.last_start_time, "the latest start stays after the run ends")
      const crashed = (yield* statusOf(base, crashing.id)).components[0]
      assert.strictEqual(crashed?.start_count, 4)
      assert.include(crashed?.message ?? "", "crash loop: 4 starts")

      const healthy = yield* registry.add(maibotInstance(botFolder(), { name: "healthy" }))
      const quick = Date.now()
      const started = yield* call(`${base}/api/v1/instance/${healthy.id}/start`)
      assert.deepStrictEqual(JSON.parse(started.body), { success: true, message: "实例 healthy 已启动" })
      assert.isBelow(Date.now() - quick, 3_000, "three waves of 0.2 s, not the 5 s start wait")
      const firstRun = (yield* list(base)).instances.find((instance) => instance.id === healthy.id)
      yield* Effect.sleep(1_100)
      yield* call(`${base}/api/v1/instance/${healthy.id}/stop`)
      yield* call(`${base}/api/v1/instance/${healthy.id}/start`)
      const secondRun = (yield* list(base)).instances.find((instance) => instance.id === healthy.id)
      assert.strictEqual(secondRun?.start_count, 2)
      assert.isAbove(Date.parse(secondRun?.last_start_time ?? ""), Date.parse(firstRun?.last_start_time ?? ""))
      assert.isAtLeast(secondRun?.total_runtime ?? 0, 1, "the first run's time is kept")
      yield* call(`${base}/api/v1/instance/${healthy.id}/stop`)
    }).pipe(Effect.scoped), 60_000)
})
