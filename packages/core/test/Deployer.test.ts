import { assert, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Deployer from "../src/launcher/Deployer.ts"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import * as InstanceSupervisor from "../src/launcher/InstanceSupervisor.ts"
import {
  adapterCommit,
  deployerLayer,
  deployerOptions,
  eventually,
  finished,
  fixtureWorld,
  processesMentioning,
  slowIndex,
  tempDir
} from "./helpers/deployer.ts"

const world = fixtureWorld()
const dataDir = Path.join(world.root, "data")
const home = tempDir("deployer-home")
const md5 = (text: string) => Crypto.createHash("md5").update(text.replace(/\r\n?/g, "\n")).digest("hex")
const git = (cwd: string, ...args: ReadonlyArray<string>) => ChildProcess.execFileSync("git", [...args], { cwd, encoding: "utf8" }).trim()

/** A NapCat release: `start.sh` and a config folder, as a tar.gz. */
const napcatArchive = (() => {
  const source = Path.join(world.root, "napcat-release")
  Fs.mkdirSync(Path.join(source, "config"), { recursive: true })
  Fs.writeFileSync(Path.join(source, "start.sh"), "echo napcat started\nexec cat\n")
  Fs.writeFileSync(Path.join(source, "config", "napcat.json"), "{}\n")
  const archive = Path.join(world.root, "NapCat.Shell.tar.gz")
  ChildProcess.execFileSync("tar", ["-czf", archive, "-C", source, "."])
  return { file: archive, sha256: Crypto.createHash("sha256").update(Fs.readFileSync(archive)).digest("hex") }
})()

const Registry = InstanceRegistry.InstanceRegistry
const Supervisor = InstanceSupervisor.InstanceSupervisor

/** Everything a component prints from now on, for the test's scope. */
const watchTerminal = (id: string, component: string) =>
  Effect.gen(function*() {
    const terminal = yield* (yield* Supervisor).attach(id, component)
    const state = { text: terminal.backlog.map((record) => record.data).join("") }
    yield* Effect.forkScoped(Stream.runForEach(terminal.events, (event) =>
      Effect.sync(() => {
        if (event._tag === "Output") state.text += event.data
      })))
    return { terminal, waitFor: (needle: string) => eventually(Effect.sync(() => state.text), (text) => text.includes(needle), 15_000) }
  })

const options = deployerOptions(world, {
  maibotRemotes: [Path.join(world.root, "unreachable.git"), world.maibot],
  napcatArchive: napcatArchive.file
})

layer(deployerLayer(dataDir, options), { excludeTestServices: true, timeout: 60_000 })("Deployer", (it) => {
  let oneId = ""
  let zeroId = ""

  it.effect("deploys 1.x after a failed clone, with the adapter plugin at a compatible revision; start shows the bot", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const path = Path.join(home, "MaiBot", "Deployments", "one")
      const started = yield* deployer.deploy({
        name: "one",
        version: "latest",
        path,
        port: 18000,
        services: [{ name: "napcat-ada", path: Path.join(path, "napcat-ada"), port: 18095, command: "python main.py" }]
      })
      oneId = started.id
      assert.strictEqual(started.instanceId, started.id)
      const percents: Array<number> = []
      const events = yield* deployer.watch(started.id).pipe(
        Stream.tap((event) => Effect.sync(() => event._tag === "Progress" && percents.push(event.progress))),
        Stream.runCollect
      )
      const last = events.at(-1)
      assert.strictEqual(last?._tag, "Finished")
      const status = yield* deployer.status(started.id)
      assert.strictEqual(status.status, "completed", status.message)
      assert.strictEqual(status.progress, 100)
      assert.strictEqual(status.message, "部署完成！所有4个阶段已完成")
      assert.strictEqual(status.ref, "1.2.1")
      assert.strictEqual(status.generation, "1.x")
      assert.deepStrictEqual(percents, percents.toSorted((a, b) => a - b), "progress never goes back")
      assert.isTrue(percents.some((percent) => percent > 20 && percent < 38), `git progress: ${percents.join(",")}`)
      assert.isTrue(percents.some((percent) => percent > 58 && percent < 73), `pip progress: ${percents.join(",")}`)
      const logs = status.logs.map((entry) => entry.message).join("\n")
      assert.include(logs, "unreachable.git")
      assert.include(logs, "尝试下一个代码源")
      assert.include(logs, "Successfully installed")
      assert.deepStrictEqual(status.services, [{ name: "napcat-ada", status: "completed", progress: 100, message: "适配器已作为插件安装到 plugins/MaiBot-Napcat-Adapter" }])

      assert.strictEqual(Fs.readFileSync(Path.join(path, "eula.confirmed"), "utf8"), md5(Fs.readFileSync(Path.join(path, "EULA.md"), "utf8")))
      assert.isFalse(Fs.existsSync(Path.join(path, "config")), "1.x writes its own config")
      const plugin = Path.join(path, "plugins", "MaiBot-Napcat-Adapter")
      assert.strictEqual(git(plugin, "rev-parse", "HEAD"), adapterCommit(world.adapter, "changelog"))

      const instance = yield* (yield* Registry).get(started.id)
      assert.strictEqual(instance.version, "1.2.1")
      assert.isTrue(instance.owns_path)
      assert.deepStrictEqual(instance.components.map((component) => [component.name, component.command, component.env]), [
        ["main", "python bot.py", { PORT: "18000" }]
      ])

      const supervisor = yield* Supervisor
      const main = yield* watchTerminal(started.id, "main")
      yield* supervisor.start(started.id)
      yield* main.waitFor("MaiBot fixture 1.2.1 running with fixture_a 1.2, port=18000")
      yield* main.terminal.write("hello\r")
      yield* main.waitFor("echo: hello")

      const refused = yield* Effect.flip(deployer.update(started.id, "dev"))
      assert.strictEqual(refused.reason._tag, "InstanceBusy")
      yield* supervisor.stop(started.id)
    }).pipe(Effect.scoped), 180_000)

  it.effect("deploys 0.x with its templates, the standalone adapter in its own venv and NapCat from an archive", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const path = Path.join(home, "zero")
      const started = yield* deployer.deploy({
        name: "zero",
        version: "0.12.3",
        path,
        port: 18100,
        webuiPort: 18101,
        services: [
          { name: "napcat-ada", port: 18195 },
          { name: "napcat", path: Path.join(home, "zero-napcat"), port: 18196, sha256: napcatArchive.sha256 }
        ]
      })
      zeroId = started.id
      const status = yield* finished(started.id)
      assert.strictEqual(status.status, "completed", status.message)
      assert.strictEqual(status.generation, "0.x")
      assert.deepStrictEqual(Fs.readdirSync(Path.join(path, "config")).toSorted(), ["bot_config.toml", "model_config.toml"])
      assert.include(Fs.readFileSync(Path.join(path, "config", "bot_config.toml"), "utf8"), "# 麦麦的QQ号")
      const env = Fs.readFileSync(Path.join(path, ".env"), "utf8")
      assert.include(env, "PORT=18100\n")
      assert.include(env, "WEBUI_PORT=18101")
      assert.include(env, "HOST=127.0.0.1")
      const adapterConfig = Fs.readFileSync(Path.join(path, "napcat-ada", "config.toml"), "utf8")
      assert.include(adapterConfig, "port = 18195             # Napcat设定的端口")
      assert.include(adapterConfig, "port = 18100               # 麦麦的端口")
      assert.isTrue(Fs.existsSync(Path.join(path, "napcat-ada", "venv", "bin", "python")))
      assert.isTrue(Fs.existsSync(Path.join(home, "zero-napcat", "start.sh")))
      assert.include(status.logs.map((entry) => entry.message).join("\n"), `SHA-256 ${napcatArchive.sha256}（校验通过）`)
      const instance = yield* (yield* Registry).get(started.id)
      assert.deepStrictEqual(instance.components.map((component) => [component.name, component.path, component.port, component.command]), [
        ["main", path, 18100, "python bot.py"],
        ["napcat-ada", Path.join(path, "napcat-ada"), 18195, "python main.py"],
        ["napcat", Path.join(home, "zero-napcat"), 18196, "bash start.sh"]
      ])
      const supervisor = yield* Supervisor
      const adapter = yield* watchTerminal(started.id, "napcat-ada")
      const main = yield* watchTerminal(started.id, "main")
      yield* supervisor.start(started.id)
      yield* main.waitFor("MaiBot fixture 0.12.3 running")
      yield* adapter.waitFor("adapter running")
      yield* supervisor.stop(started.id)
    }).pipe(Effect.scoped), 180_000)

  it.effect("a failed pip leaves a folder that existed before in place, empty, and says which step failed", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const path = Path.join(home, "existing")
      Fs.mkdirSync(path)
      Fs.writeFileSync(Path.join(home, "beside.txt"), "the user's")
      const started = yield* deployer.deploy({ name: "broken", version: "classical", path, port: 18200 })
      const status = yield* finished(started.id)
      assert.strictEqual(status.status, "failed")
      assert.strictEqual(status.step, "deps")
      assert.match(status.message, /^阶段3\/4 安装依赖失败 \(pip\): .*fixture-missing/)
      assert.isTrue(Fs.statSync(path).isDirectory())
      assert.deepStrictEqual(Fs.readdirSync(path), [])
      assert.deepStrictEqual(status.kept, [path])
      assert.isTrue(status.removed.some((removed) => removed === Path.join(path, "bot.py")))
      assert.strictEqual(Fs.readFileSync(Path.join(home, "beside.txt"), "utf8"), "the user's")
      const missing = yield* Effect.flip((yield* Registry).get(started.id))
      assert.strictEqual(missing._tag, "InstanceNotFound")
    }), 180_000)

  it.effect("a tree that needs Python 3.12 fails at once, naming it, and removes the folder it made", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const path = Path.join(home, "needs312")
      const started = yield* deployer.deploy({ name: "new", version: "1.0.0", path, port: 18300 })
      const status = yield* finished(started.id)
      assert.strictEqual(status.step, "python")
      assert.match(status.message, /需要 Python >=3\.12，找到的: 3\.11\.\d+/)
      assert.isFalse(Fs.existsSync(path))
      assert.isFalse(status.logs.some((entry) => entry.message.includes("venv")))
    }), 180_000)

  it.effect("cancel mid-pip kills pip at once and removes the folder; a second deploy to the same path is refused meanwhile", () =>
    Effect.gen(function*() {
      const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (server) => Effect.promise(server.close))
      const slow = deployerOptions(world, {
        pip: { indexUrl: index.url, trustedHosts: ["127.0.0.1"] },
        env: { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_FIND_LINKS: "", PIP_DEFAULT_TIMEOUT: "600" }
      })
      yield* Effect.gen(function*() {
        const deployer = yield* Deployer.Deployer
        const path = Path.join(home, "cancelled")
        const started = yield* deployer.deploy({ name: "slow", version: "1.2.1", path, port: 18400 })
        yield* eventually(Effect.sync(() => index.requests.length), (count) => count > 0, 60_000)
        assert.isAbove(processesMentioning(path).length, 0, "pip runs")
        const second = yield* Effect.flip(deployer.deploy({ name: "again", version: "1.2.1", path, port: 18401 }))
        assert.strictEqual(second.reason._tag, "PathBusy")
        const cancelled = yield* deployer.cancel(started.id)
        assert.strictEqual(cancelled.status, "failed")
        assert.isTrue(cancelled.cancelled)
        assert.strictEqual(cancelled.message, "部署已取消")
        assert.deepStrictEqual(processesMentioning(path), [])
        assert.isFalse(Fs.existsSync(path))
        assert.include(cancelled.removed, path)
        const stored = yield* deployer.status(started.id)
        assert.strictEqual(stored.status, "failed")
      }).pipe(Effect.provide(deployerLayer(dataDir, slow)))
    }).pipe(Effect.scoped), 180_000)

  it.effect("updates 0.x to 1.x after a backup: adapter process becomes the plugin; the backup restores and deletes", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const registry = yield* Registry
      const before = yield* registry.get(zeroId)
      const botConfig = Path.join(before.path, "config", "bot_config.toml")
      Fs.appendFileSync(botConfig, "# edited by the user\n")
      Fs.mkdirSync(Path.join(before.path, "data"), { recursive: true })
      Fs.writeFileSync(Path.join(before.path, "data", "MaiBot.db"), "database")
      const oldHead = git(before.path, "rev-parse", "HEAD")
      const job = yield* deployer.update(zeroId, "1.2.1")
      const status = yield* finished(job.id)
      assert.strictEqual(status.status, "completed", status.message)
      assert.strictEqual(status.kind, "update")
      const after = yield* registry.get(zeroId)
      assert.strictEqual(after.version, "1.2.1")
      assert.deepStrictEqual(after.components.map((component) => component.name), ["main", "napcat"])
      assert.strictEqual(after.components[0]?.env["MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"], "1")
      assert.isTrue(Fs.existsSync(Path.join(before.path, "plugins", "MaiBot-Napcat-Adapter", "_manifest.json")))
      assert.include(Fs.readFileSync(botConfig, "utf8"), "# edited by the user")
      assert.isTrue(Fs.existsSync(Path.join(before.path, "napcat-ada", "main.py")), "the old adapter's folder stays")
      const backups = yield* deployer.backups(zeroId)
      assert.strictEqual(backups.length, 1)
      const backup = backups[0] as Deployer.Backup
      assert.strictEqual(backup.id, status.backupId)
      assert.strictEqual(backup.version, "0.12.3")
      assert.strictEqual(backup.head, oldHead)
      assert.strictEqual(backup.previousVenv, Path.join(before.path, `venv.maikit-backup-${backup.id}`))
      assert.isTrue(Fs.existsSync(Path.join(backup.directory, "files", "data", "MaiBot.db")))
      assert.isFalse(Fs.existsSync(Path.join(backup.directory, "files", "venv")))

      const restored = yield* deployer.restoreBackup(backup.id)
      assert.isNull(restored.previousVenv)
      const back = yield* registry.get(zeroId)
      assert.strictEqual(back.version, "0.12.3")
      assert.deepStrictEqual(back.components.map((component) => component.name), ["main", "napcat-ada", "napcat"])
      assert.strictEqual(git(before.path, "rev-parse", "HEAD"), oldHead)
      assert.isTrue(Fs.existsSync(Path.join(before.path, "template")))
      assert.isFalse(Fs.existsSync(backup.previousVenv ?? ""))

      yield* deployer.deleteBackup(backup.id)
      assert.deepStrictEqual(yield* deployer.backups(zeroId), [])
      assert.isFalse(Fs.existsSync(backup.directory))
    }), 180_000)

  it.effect("an update whose pip fails restores the backup: old commit, old venv, the user's edits, same version", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const registry = yield* Registry
      const before = yield* registry.get(oneId)
      const oldHead = git(before.path, "rev-parse", "HEAD")
      const venvPython = Fs.realpathSync(Path.join(before.path, "venv", "bin", "python"))
      Fs.mkdirSync(Path.join(before.path, "config"))
      Fs.writeFileSync(Path.join(before.path, "config", "bot_config.toml"), "[bot]\nnickname = \"mine\"\n")
      const job = yield* deployer.update(oneId, "classical")
      const status = yield* finished(job.id)
      assert.strictEqual(status.status, "failed")
      assert.strictEqual(status.step, "deps")
      assert.include(status.logs.map((entry) => entry.message).join("\n"), "已恢复到更新前的状态")
      assert.strictEqual(git(before.path, "rev-parse", "HEAD"), oldHead)
      assert.strictEqual(Fs.realpathSync(Path.join(before.path, "venv", "bin", "python")), venvPython)
      assert.strictEqual(Fs.readFileSync(Path.join(before.path, "config", "bot_config.toml"), "utf8"), "[bot]\nnickname = \"mine\"\n")
      assert.isFalse(Fs.readdirSync(before.path).some((name) => name.startsWith("venv.maikit")))
      const after = yield* registry.get(oneId)
      assert.strictEqual(after.version, before.version)
      assert.deepStrictEqual(after.components, before.components)
      const downgrade = yield* Effect.flip(deployer.update(oneId, "0.12.3"))
      assert.strictEqual(downgrade.reason._tag === "InvalidRequest" && downgrade.reason.problem, "downgrade")
    }), 180_000)
})
