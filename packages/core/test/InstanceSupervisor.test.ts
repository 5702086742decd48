import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import * as DeletionPlan from "../src/launcher/internal/deletionPlan.ts"
import * as InstanceSupervisor from "../src/launcher/InstanceSupervisor.ts"
import {
  botFolder,
  command,
  component,
  eventually,
  isGone,
  maibotInstance,
  registryLayer,
  singleInstance,
  supervisorLayer,
  tempDir
} from "./helpers/instances.ts"

const Supervisor = InstanceSupervisor.InstanceSupervisor
const Registry = InstanceRegistry.InstanceRegistry

/** Attaches to a component for the test's scope and keeps everything it prints. */
const watch = (id: string, name: string) =>
  Effect.gen(function*() {
    const supervisor = yield* Supervisor
    const terminal = yield* supervisor.attach(id, name)
    const state = { text: terminal.backlog.map((record) => record.data).join(""), states: [terminal.status.state] }
    const delays: Array<number> = []
    yield* Effect.forkScoped(Stream.runForEach(terminal.events, (event) =>
      Effect.sync(() => {
        if (event._tag === "Output") state.text += event.data
        else {
          state.states.push(event.status.state)
          if (event.status.restartDelayMs !== null) delays.push(event.status.restartDelayMs)
        }
      })))
    const waitFor = (needle: string | RegExp, timeoutMs = 5_000) =>
      eventually(
        Effect.sync(() => state.text),
        (text) => (typeof needle === "string" ? text.includes(needle) : needle.test(text)),
        timeoutMs
      )
    return { terminal, state, delays, waitFor }
  })

const Pids = Schema.fromJsonString(Schema.Struct({
  leader: Schema.Int,
  worker: Schema.Int,
  grandchild: Schema.Int,
  daemon: Schema.Int
}))

const pidsIn = (text: string) => Schema.decodeUnknownSync(Pids)(/PIDS (\{[^}]*\})/.exec(text)?.[1] ?? "")

const cmdline = (pid: number): string => Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")

const statusOf = (id: string) => Registry.use((registry) => Effect.map(registry.get(id), (row) => row.status))

describe("InstanceSupervisor", () => {
  it.live("add checks the folders with the original's messages and registers main plus the services", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const dir = botFolder()
      const file = Path.join(dir, "bot.py")
      const base = { name: "mai", version: "unknown", installPath: dir, port: 8000, services: [] }
      const failure = (request: InstanceSupervisor.AddRequest) => Effect.map(Effect.flip(supervisor.add(request)), (e) => e.message)

      assert.strictEqual(yield* failure({ ...base, installPath: "/nonexistent/mai" }), "指定的安装路径不存在: /nonexistent/mai")
      assert.strictEqual(yield* failure({ ...base, installPath: file }), `指定的安装路径不是目录: ${file}`)
      assert.strictEqual(
        yield* failure({ ...base, maibotPath: Path.join(dir, "napcat"), adapterPath: Path.join(dir, "napcat-ada") }),
        `MaiBot路径中未找到bot.py文件: ${Path.join(dir, "napcat", "bot.py")}`
      )
      assert.strictEqual(
        yield* failure({ ...base, maibotPath: dir, adapterPath: "/nonexistent/ada" }),
        "指定的适配器路径不存在: /nonexistent/ada"
      )
      const service = { name: "napcat-ada", path: "/nonexistent/ada", port: 8095, command: "python main.py" }
      assert.strictEqual(yield* failure({ ...base, services: [service] }), "服务 napcat-ada 的路径不存在: /nonexistent/ada")
      assert.include(yield* failure({ ...base, services: [{ ...service, path: dir, command: "python 'main.py" }] }), "启动命令无效")
      assert.strictEqual(
        yield* failure({ ...base, services: [{ ...service, path: dir, name: "../x" }] }),
        "install_services[0].name: must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"
      )
      assert.include(yield* failure({ ...base, services: [{ ...service, path: dir, name: "main" }] }), "服务名称重复或保留")
      assert.strictEqual(yield* failure({ ...base, port: 70000 }), "port: must be a port number from 1 to 65535")
      assert.strictEqual(
        yield* failure({ ...base, services: [{ ...service, path: dir, command: "python\u0000main.py" }] }),
        "install_services[0].run_cmd: must not contain control characters (NUL, newlines, escapes) or lone surrogates"
      )
      assert.strictEqual(yield* failure({ ...base, version: "9".repeat(100_000) }), "version: must be at most 64 characters")
      const invalid = yield* Effect.flip(supervisor.add({ ...base, name: " " }))
      assert.deepStrictEqual([invalid._tag, "field" in invalid ? invalid.field : ""], ["InstanceRequestInvalid", "instance_name"])
      assert.lengthOf(yield* supervisor.list, 0, "nothing was registered by a rejected request")

      const home = Path.dirname(dir)
      const previousHome = process.env["HOME"]
      process.env["HOME"] = home
      const fromHome = yield* supervisor.add({ ...base, installPath: `~/${Path.basename(dir)}` }).pipe(
        Effect.ensuring(Effect.sync(() => (process.env["HOME"] = previousHome)))
      )
      assert.strictEqual(fromHome.path, dir, "~ is the user's home")
      yield* supervisor.remove(fromHome.id)

      const added = yield* supervisor.add({
        ...base,
        maibotPath: dir,
        adapterPath: Path.join(dir, "napcat-ada"),
        host: "localhost",
        services: [{ ...service, path: Path.join(dir, "napcat-ada") }]
      })
      assert.match(added.id, /^[0-9a-f]{40}$/)
      assert.strictEqual(added.path, dir)
      assert.isFalse(added.owns_path)
      assert.deepStrictEqual(
        added.components.map((c) => [c.name, c.kind, c.command, c.port, c.restart_policy]),
        [["main", "main", "python bot.py", 8000, "on-failure"], ["napcat-ada", "service", "python main.py", 8095, "on-failure"]]
      )
      const [listed] = yield* supervisor.list
      assert.deepStrictEqual(listed?.components.map((c) => c.state), ["stopped", "stopped"])
      assert.deepStrictEqual(yield* supervisor.counts, { total: 1, running: 0, stopped: 1 })
    }).pipe(Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("starts MaiBot through its venv, then the adapter, then NapCat; stops in reverse leaving no process", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const dir = botFolder()
      const { id } = yield* registry.add(maibotInstance(dir))
      const main = yield* watch(id, "main")
      assert.strictEqual(main.state.states[0], "stopped", "a terminal can attach before the start")

      const started = yield* supervisor.start(id)
      assert.strictEqual(started.state, "running")
      assert.strictEqual(started.instance.status, "running")
      assert.strictEqual(started.instance.start_count, 1)
      assert.isNotNull(started.instance.last_start_time)
      const view = yield* supervisor.get(id)
      assert.deepStrictEqual(view.components.map((c) => c.state), ["running", "running", "running"])

      const stats = yield* supervisor.componentStats(id)
      const [mainStats, adapterStats, napcatStats] = stats
      const pids = stats.map((entry) => entry.pid ?? 0)
      assert.isTrue(pids.every((pid) => pid > 1))
      assert.include(cmdline(pids[0] ?? 0), Path.join(dir, "venv", "bin", "python"), "python resolved through the venv")
      const banner = yield* main.waitFor("麦麦 MaiBot 启动")
      assert.include(banner, `venv=${Path.join(dir, "venv")}`)
      assert.isAtLeast((adapterStats?.lastStartTime ?? 0) - (mainStats?.lastStartTime ?? 0), 190, "adapter after main")
      assert.isAtLeast((napcatStats?.lastStartTime ?? 0) - (adapterStats?.lastStartTime ?? 0), 190, "napcat after the adapter")

      yield* main.terminal.write("你好\r")
      yield* main.waitFor("echo:你好")

      const stopped = yield* supervisor.stop(id)
      assert.strictEqual(stopped.status, "stopped")
      assert.strictEqual(stopped.last_start_time, started.instance.last_start_time, "the latest start stays on record")
      assert.isTrue(pids.every(isGone), "every process is gone when stop returns")
      yield* main.waitFor("MaiBot 正在关闭")
      const after = yield* supervisor.componentStats(id)
      assert.isTrue(after.every((entry) => entry.state === "stopped" && entry.pid === null))
      const [mainAfter, adapterAfter, napcatAfter] = yield* Effect.forEach(
        ["main", "napcat-ada", "napcat"],
        (name) => Effect.map(supervisor.attach(id, name), (terminal) => terminal.status.lastExit?.at ?? 0)
      )
      assert.isTrue((napcatAfter ?? 0) <= (adapterAfter ?? 0) && (adapterAfter ?? 0) <= (mainAfter ?? 0), "reverse order")
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("keeps every byte in a history file per component, including output nobody watched", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("supervisor")
      yield* Effect.gen(function*() {
        const supervisor = yield* Supervisor
        const registry = yield* Registry
        const { id } = yield* registry.add(singleInstance("utf8", command("utf8-split.mjs"), { restart_policy: "no" }))
        // The start window (3 s below) is one the fixture's ~120 ms of writing cannot reach on a loaded machine.
        const quick = yield* Effect.flip(supervisor.start(id))
        assert.include(quick.message, "main did not start (stopped: process exited with code 0", "gone before running")
        const file = Path.join(dataDir, "instances", id, "main", "history.log")
        // Each character arrived in its own read, so the file holds one record per character.
        yield* eventually(Effect.sync(() => Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : ""), (text) =>
          ["你", "好", "🙂"].every((char) => text.includes(`${Buffer.byteLength(char)}\n${char}\n`)))
        const terminal = yield* supervisor.attach(id, "main")
        const all = yield* terminal.history({ fromMs: 0, toMs: Date.now() + 1000 })
        assert.include(all.map((record) => record.data).join(""), "你好🙂\r\n")
      }).pipe(Effect.scoped, Effect.provide(supervisorLayer(dataDir, { startSeconds: 3 })))
    }))

  it.live("a crash loop restarts with exponential backoff, shows as crashed, then errored after the budget", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      // Each run reaches running (0.2 s) before it crashes (0.4 s): the budget must count those starts too.
      const { id } = yield* registry.add(singleInstance("crashy", command("exit.mjs", "1", "400")))
      const main = yield* watch(id, "main")
      const seen = new Set<string>()
      const started = yield* supervisor.start(id)
      assert.strictEqual(started.state, "running")
      yield* eventually(Effect.tap(statusOf(id), (status) => Effect.sync(() => seen.add(status))), (status) =>
        status === "errored", 10_000)
      assert.isTrue(seen.has("crashed"), `saw ${[...seen].join(", ")}`)
      const [stats] = yield* supervisor.componentStats(id)
      assert.strictEqual(stats?.startCount, 3)
      assert.strictEqual(stats?.restartCount, 2)
      assert.deepStrictEqual(main.delays, [100, 200], "100 ms × 2ⁿ without jitter")
      const status = yield* main.terminal.currentStatus
      assert.include(status.message ?? "", "crash loop: 3 starts")
      const row = yield* registry.get(id)
      assert.strictEqual(row.start_count, 1, "one run of the instance, whatever its restarts")
      assert.isNotNull(row.last_start_time, "the latest start stays on record after the run ends")

      const again = yield* supervisor.start(id)
      assert.strictEqual(again.state, "running", "a manual start resets the budget")
      yield* supervisor.stop(id)
      assert.strictEqual(yield* statusOf(id), "stopped")
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor"), { crashLoop: { maxStarts: 3, windowMs: 30_000 } }))))

  it.live("stop kills a tree that ignores Ctrl+C, including a grandchild and a daemon that left the group", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const { id } = yield* registry.add(singleInstance("tree", command("tree.mjs", "stubborn")))
      const main = yield* watch(id, "main")
      yield* supervisor.start(id)
      const pids = pidsIn(yield* main.waitFor(/PIDS \{[^}]*\}/))
      const all = [pids.leader, pids.worker, pids.grandchild, pids.daemon]
      assert.isFalse(all.some(isGone))
      const before = Date.now()
      yield* supervisor.stop(id)
      assert.isAtLeast(Date.now() - before, 450, "the grace period was honoured")
      assert.isTrue(all.every(isGone), `survivors: ${all.filter((pid) => !isGone(pid)).join(", ")}`)
      assert.include(main.state.text, "leader ignoring SIGINT")
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("a crash-restart leaves no orphan of the previous run", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const { id } = yield* registry.add(singleInstance("orphans", command("tree.mjs", "crash:600")))
      const main = yield* watch(id, "main")
      yield* supervisor.start(id)
      const first = pidsIn(yield* main.waitFor(/PIDS \{[^}]*\}/))
      yield* eventually(Effect.sync(() => main.state.states), (states) => states.includes("backing-off"), 5_000)
      const firstRun = [first.leader, first.worker, first.grandchild, first.daemon]
      assert.isTrue(firstRun.every(isGone), `left over: ${firstRun.filter((pid) => !isGone(pid)).join(", ")}`)
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("terminals: input and resize reach the PTY, aliases resolve, unknown names are typed errors", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const dir = botFolder()
      const { id } = yield* registry.add(maibotInstance(dir))
      const notRunning = yield* Effect.flip((yield* supervisor.attach(id, "main")).write("x"))
      assert.strictEqual(notRunning._tag, "ComponentNotRunning")

      const adapter = yield* watch(id, "nonebot")
      assert.strictEqual(adapter.terminal.component, "napcat-ada")
      const single = yield* supervisor.startComponent(id, "nonebot")
      assert.strictEqual(single.component, "napcat-ada")
      assert.strictEqual(single.state, "running")
      const view = yield* supervisor.get(id)
      assert.deepStrictEqual(view.components.map((c) => c.state), ["stopped", "running", "stopped"], "only that one")
      assert.strictEqual(view.status, "running")
      yield* adapter.terminal.resize(132, 43)
      yield* adapter.waitFor("size:132x43")
      yield* adapter.terminal.write("ping\r")
      yield* adapter.waitFor("echo:ping")

      const unknown = yield* Effect.flip(supervisor.attach(id, "qq"))
      assert.strictEqual(unknown._tag, "ComponentNotFound")
      assert.strictEqual(unknown.message, `实例 '${id}' 没有 'qq' 终端`)
      assert.strictEqual((yield* Effect.flip(supervisor.startComponent(id, "webui")))._tag, "ComponentNotFound")
      const missing = yield* Effect.flip(supervisor.attach("0".repeat(40), "main"))
      assert.strictEqual(missing._tag, "InstanceNotFound")
      assert.strictEqual((yield* Effect.flip(supervisor.start("nope")))._tag, "InstanceNotFound")
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("one component stops or restarts alone; the others keep running, the same processes", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      yield* supervisor.start(id)
      const pids = () =>
        Effect.map(supervisor.componentStats(id), (stats) => Object.fromEntries(stats.map((stat) => [stat.name, stat.pid])))
      const before = yield* pids()
      assert.isTrue(Object.values(before).every((pid) => pid !== null), JSON.stringify(before))

      const stopped = yield* supervisor.stopComponent(id, "maibot")
      assert.strictEqual(stopped.component, "main")
      assert.isTrue(isGone(before["main"] as number), "MaiBot's process is gone")
      const afterStop = yield* pids()
      assert.deepStrictEqual(afterStop, { ...before, main: null }, "the adapter and NapCat keep their processes")
      assert.deepStrictEqual((yield* supervisor.get(id)).components.map((c) => c.state), ["stopped", "running", "running"])
      assert.strictEqual(yield* statusOf(id), "running")
      const adapter = yield* watch(id, "napcat-ada")
      yield* adapter.terminal.write("still here\r")
      yield* adapter.waitFor("echo:still here")

      const restarted = yield* supervisor.restartComponent(id, "nonebot")
      assert.deepStrictEqual([restarted.component, restarted.state], ["napcat-ada", "running"])
      const afterRestart = yield* pids()
      assert.isTrue(isGone(before["napcat-ada"] as number), "the adapter's old process is gone")
      assert.notStrictEqual(afterRestart["napcat-ada"], null)
      assert.notStrictEqual(afterRestart["napcat-ada"], before["napcat-ada"], "a new process")
      assert.strictEqual(afterRestart["napcat"], before["napcat"], "NapCat untouched")
      assert.strictEqual(afterRestart["main"], null, "MaiBot stays stopped")

      // Restarting a stopped component starts it; stopping one that is stopped is a no-op.
      assert.strictEqual((yield* supervisor.restartComponent(id, "main")).state, "running")
      assert.deepStrictEqual((yield* supervisor.get(id)).components.map((c) => c.state), ["running", "running", "running"])
      yield* supervisor.stopComponent(id, "napcat")
      yield* supervisor.stopComponent(id, "napcat")
      assert.deepStrictEqual((yield* supervisor.get(id)).components.map((c) => c.state), ["running", "running", "stopped"])

      const unknown = yield* Effect.flip(supervisor.stopComponent(id, "webui"))
      assert.strictEqual(unknown._tag, "ComponentNotFound")
      assert.strictEqual(unknown.message, "实例 mai 没有 webui 服务")
      assert.strictEqual((yield* Effect.flip(supervisor.restartComponent(id, "webui")))._tag, "ComponentNotFound")
      assert.strictEqual((yield* Effect.flip(supervisor.stopComponent("nope", "main")))._tag, "InstanceNotFound")
      yield* supervisor.stop(id)
      assert.strictEqual(yield* statusOf(id), "stopped")
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("a venv created after the first start is picked up by the next one; attached terminals see the rebuild", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const dir = botFolder()
      Fs.rmSync(Path.join(dir, "venv"), { recursive: true })
      const env = { PATH: "/nonexistent" }
      const { id } = yield* registry.add(maibotInstance(dir, { components: [component("main", dir, "python bot.py", { env })] }))
      const before = yield* supervisor.attach(id, "main")
      const failure = yield* Effect.flip(supervisor.start(id))
      assert.include(failure.message, "command not found or not executable: python")
      Fs.mkdirSync(Path.join(dir, "venv", "bin"), { recursive: true })
      Fs.symlinkSync(process.execPath, Path.join(dir, "venv", "bin", "python"))
      const started = yield* supervisor.start(id)
      assert.strictEqual(started.state, "running")
      yield* Stream.runDrain(before.events).pipe(Effect.timeout("2 seconds"))
      const after = yield* watch(id, "main")
      yield* after.waitFor("麦麦 MaiBot 启动")
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("a start that fails says which component and why, and leaves the instance errored", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const dir = botFolder()
      const { id } = yield* registry.add(maibotInstance(dir, {
        components: [
          component("main", dir, "python bot.py"),
          component("napcat-ada", Path.join(dir, "napcat-ada"), "no-such-adapter --serve")
        ]
      }))
      const failure = yield* Effect.flip(supervisor.start(id))
      assert.strictEqual(failure._tag, "InstanceStartFailed")
      assert.include(failure.message, "command not found or not executable: no-such-adapter")
      assert.strictEqual(yield* statusOf(id), "errored")
      yield* supervisor.stop(id)
      assert.strictEqual(yield* statusOf(id), "stopped")
    }).pipe(Effect.scoped, Effect.provide(supervisorLayer(tempDir("supervisor")))))

  it.live("remove keeps folders MaiKit did not create unless asked, deletes owned ones, always drops the history", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("supervisor")
      yield* Effect.gen(function*() {
        const supervisor = yield* Supervisor
        const registry = yield* Registry
        const registered = botFolder()
        const kept = yield* registry.add(maibotInstance(registered))
        yield* supervisor.start(kept.id)
        const pids = (yield* supervisor.componentStats(kept.id)).map((entry) => entry.pid ?? 0)
        const history = Path.join(dataDir, "instances", kept.id)
        assert.isTrue(Fs.existsSync(history))
        const result = yield* supervisor.remove(kept.id)
        assert.isTrue(pids.every(isGone), "a running instance is stopped first")
        assert.deepStrictEqual(result.deleted, [])
        assert.deepStrictEqual(result.kept, [registered])
        assert.isTrue(Fs.existsSync(Path.join(registered, "bot.py")))
        assert.isFalse(Fs.existsSync(history))
        assert.strictEqual((yield* Effect.flip(registry.get(kept.id)))._tag, "InstanceNotFound")

        const asked = yield* registry.add(maibotInstance(botFolder()))
        const deletedOnRequest = yield* supervisor.remove(asked.id, { deleteFiles: true })
        assert.deepStrictEqual(deletedOnRequest.deleted, [asked.path])
        assert.isFalse(Fs.existsSync(asked.path))

        const deployed = botFolder()
        const outside = tempDir("adapter-elsewhere")
        const owned = yield* registry.add(maibotInstance(deployed, {
          ownsPath: true,
          components: [
            component("main", deployed, "python bot.py"),
            component("napcat-ada", Path.join(deployed, "napcat-ada"), "python main.py"),
            component("napcat", outside, "python main.py")
          ]
        }))
        const deleted = yield* supervisor.remove(owned.id)
        assert.sameMembers([...deleted.deleted], [deployed, outside], "a nested folder goes with its parent")
        assert.isFalse(Fs.existsSync(deployed))
        assert.isFalse(Fs.existsSync(outside))

        const dangerous = yield* registry.add(maibotInstance(dataDir, { ownsPath: true, components: [] }))
        const refused = yield* supervisor.remove(dangerous.id)
        assert.deepStrictEqual(refused.deleted, [])
        assert.deepStrictEqual(refused.refused, [{ path: dataDir, reason: "拒绝删除 MaiKit 数据文件夹及其中的内容" }])
        assert.isTrue(Fs.existsSync(dataDir), "a folder holding MaiKit's own data is never deleted")
        assert.strictEqual((yield* Effect.flip(supervisor.remove(kept.id)))._tag, "InstanceNotFound")
      }).pipe(Effect.scoped, Effect.provide(supervisorLayer(dataDir)))
    }))

  it("the deletion plan refuses a filesystem root and the folders around MaiKit's data without deleting anything", () => {
    const dataDir = tempDir("plan")
    Fs.mkdirSync(Path.join(dataDir, "instances"))
    const protect = { dataDir, historyRoot: Path.join(dataDir, "instances"), others: [] }
    const refusals = (path: string) =>
      DeletionPlan.plan({ path, components: [] }, protect).map((entry) => [entry.path, entry.refusal])
    assert.deepStrictEqual(refusals("/"), [["/", "拒绝删除文件系统根目录"]])
    assert.deepStrictEqual(refusals(Path.dirname(dataDir)), [[Path.dirname(dataDir), "拒绝删除包含 MaiKit 数据或工作目录的文件夹"]])
    assert.deepStrictEqual(refusals(process.cwd()), [[process.cwd(), "拒绝删除包含 MaiKit 数据或工作目录的文件夹"]])
    assert.deepStrictEqual(refusals(Path.join(dataDir, "instances")), [[
      Path.join(dataDir, "instances"),
      "拒绝删除 MaiKit 数据文件夹及其中的内容"
    ]])
    const bot = botFolder()
    assert.deepStrictEqual(refusals(bot), [[bot, undefined]], "an ordinary instance folder may go")
    assert.deepStrictEqual(refusals(Path.join(bot, "missing")), [], "a missing folder is not in the plan")
  })

  it.live("closing the supervisor stops every instance; a new one reconciles what a killed one left running", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("supervisor")
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(supervisorLayer(dataDir), scope)
      const supervisor = Context.get(context, Supervisor)
      const registry = Context.get(context, Registry)
      const first = yield* registry.add(maibotInstance(botFolder()))
      const second = yield* registry.add(singleInstance("tree", command("tree.mjs")))
      yield* supervisor.start(first.id)
      yield* supervisor.start(second.id)
      const pids = [
        ...(yield* supervisor.componentStats(first.id)).map((entry) => entry.pid ?? 0),
        ...(yield* supervisor.componentStats(second.id)).map((entry) => entry.pid ?? 0)
      ]
      assert.lengthOf(pids.filter((pid) => pid > 1), 4)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(pids.every(isGone), `survivors: ${pids.filter((pid) => !isGone(pid)).join(", ")}`)

      yield* Effect.gen(function*() {
        const reopened = yield* Registry
        assert.strictEqual((yield* reopened.get(first.id)).status, "stopped", "a clean shutdown records the stop")
        yield* reopened.recordStart(first.id)
        yield* reopened.setStatus(first.id, "running")
      }).pipe(Effect.provide(registryLayer(dataDir)))
      yield* Effect.gen(function*() {
        const restarted = yield* Supervisor
        const view = yield* restarted.get(first.id)
        assert.strictEqual(view.status, "stopped")
        const runtime = view.total_runtime
        yield* Effect.sleep(1_100)
        assert.strictEqual((yield* restarted.get(first.id)).total_runtime, runtime, "the open run was closed")
        assert.deepStrictEqual(yield* restarted.counts, { total: 2, running: 0, stopped: 2 })
      }).pipe(Effect.provide(supervisorLayer(dataDir)))
    }))
})
