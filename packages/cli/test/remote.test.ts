/**
 * The CLI's remote commands against a real `maikit serve` with an access token, through the typed clients:
 * `--server` (or `--url`) and `--token` (or `$MAIKIT_TOKEN`) send `instances`, `config`, `versions`, `deploy`,
 * `instances update` and `backups` to that server instead of the local database.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { checkout, fixtureText } from "../../core/test/fixtures/maibotTree.ts"
import { eventually, fixtureWorld, offlinePipEnv, processesMentioning, slowIndex } from "../../core/test/helpers/deployer.ts"
import { botFolder, tempDir } from "../../core/test/helpers/instances.ts"
import { type Env, maikit as run, type Options, type Result, serve as serveWith } from "./helpers.ts"

const token = "remote-test-token"

/** `maikit` in a directory of its own, with no token in its environment unless given. */
const maikit = (args: ReadonlyArray<string>, options: Options = {}) =>
  run(args, { ...options, cwd: tempDir("cli-remote-cwd"), env: { ...process.env, MAIKIT_TOKEN: undefined, ...options.env } })

/** `maikit serve` with the token, on data of its own. */
const serve = (env: Env = {}) =>
  serveWith(["--data-dir", tempDir("cli-remote-server"), "--token", token], { ...process.env, ...env })

const ok = (result: Result) => assert.strictEqual(result.status, 0, `${result.stderr}\n${result.stdout}`)

describe("maikit's remote commands", () => {
  it.live("instances and config on a remote server, with the token from --token or MAIKIT_TOKEN", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const remote = ["--server", url, "--token", token]

      const anonymous = yield* maikit(["instances", "ls", "--server", url])
      assert.strictEqual(anonymous.status, 1)
      assert.include(anonymous.stderr, `${url} needs an access token: pass --token or set MAIKIT_TOKEN`)
      const wrong = yield* maikit(["instances", "ls", "--server", url, "--token", "nope"])
      assert.include(wrong.stderr, `${url} refused the access token`)
      const nobody = yield* maikit(["instances", "ls", "--server", "http://127.0.0.1:9"])
      assert.include(nobody.stderr, "no MaiKit server at http://127.0.0.1:9")

      const folder = botFolder()
      const added = yield* maikit(["instances", "add", folder, "--name", "remote-bot", ...remote])
      ok(added)
      const id = /Added instance ([0-9a-f]{40}) \(remote-bot\)/.exec(added.stdout)?.[1] ?? ""
      assert.match(id, /^[0-9a-f]{40}$/, added.stdout)

      const listed = yield* maikit(["instances", "ls", "--url", url, "--json"], { env: { MAIKIT_TOKEN: token } })
      ok(listed)
      const instances = JSON.parse(listed.stdout) as Array<{ id: string; name: string; path: string }>
      assert.deepStrictEqual(instances.map((instance) => [instance.id, instance.name, instance.path]), [[id, "remote-bot", folder]])
      const table = yield* maikit(["instances", "ls", ...remote])
      assert.match(table.stdout, new RegExp(`^${id}\\s+remote-bot\\s+stopped`, "m"))
      // Without --server the same command reads the local database, which knows nothing of the server's.
      const local = yield* maikit(["instances", "ls", "--data-dir", tempDir("cli-remote-local")])
      assert.include(local.stdout, "No instances")

      ok(yield* maikit(["instances", "start", id, ...remote]))
      const status = yield* maikit(["instances", "status", id, ...remote])
      ok(status)
      assert.match(status.stdout, new RegExp(`^${id} running$`, "m"))
      assert.match(status.stdout, /^main\s+running\s+\d+\s/m)
      const stopped = yield* maikit(["instances", "stop", id, ...remote])
      assert.strictEqual(stopped.stdout.trim(), "实例 remote-bot 已停止")
      const missing = yield* maikit(["instances", "restart", "f".repeat(40), ...remote])
      assert.strictEqual(missing.status, 1)
      assert.include(missing.stderr, `未找到实例 ${"f".repeat(40)}`)

      const tree = checkout("1.x", false)
      Fs.writeFileSync(Path.join(tree.dir, "bot.py"), "")
      ok(yield* maikit(["instances", "add", tree.dir, "--name", "remote-config", ...remote]))
      const nickname = yield* maikit(["config", "get", "remote-config", "bot", "bot.nickname", ...remote])
      ok(nickname)
      assert.strictEqual(nickname.stdout.trim(), "麦麦")
      const raw = yield* maikit(["config", "get", "remote-config", "bot", "--raw", ...remote])
      assert.strictEqual(`${raw.stdout.replace(/\n$/, "")}\n`, fixtureText("1.x", "bot_config.toml"))
      const set = yield* maikit(["config", "set", "remote-config", "bot", "chat.talk_value", "0.7", ...remote])
      ok(set)
      assert.include(set.stdout, "previous version kept as")
      assert.strictEqual(
        Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"),
        fixtureText("1.x", "bot_config.toml").replace("talk_value = 1.0 # 聊天频率", "talk_value = 0.7 # 聊天频率")
      )
      const history = yield* maikit(["config", "history", "remote-config", "bot", ...remote])
      const version = /^(\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{16})/m.exec(history.stdout)?.[1] ?? ""
      assert.notStrictEqual(version, "", history.stdout + history.stderr)
      const diff = yield* maikit(["config", "diff", "remote-config", "bot", version, ...remote])
      assert.include(diff.stdout, "+talk_value = 0.7 # 聊天频率")
      ok(yield* maikit(["config", "restore", "remote-config", "bot", version, ...remote]))
      assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"), fixtureText("1.x", "bot_config.toml"))
      const unknown = yield* maikit(["config", "get", "nobody", "bot", ...remote])
      assert.include(unknown.stderr, "no instance nobody")

      const removed = yield* maikit(["instances", "rm", id, ...remote])
      ok(removed)
      const after = JSON.parse((yield* maikit(["instances", "ls", "--json", ...remote])).stdout) as Array<{ name: string }>
      assert.deepStrictEqual(after.map((instance) => instance.name), ["remote-config"])
      assert.isTrue(Fs.existsSync(Path.join(folder, "bot.py")), "a folder MaiKit did not create stays")
    }).pipe(Effect.scoped), 180_000)

  it.live("versions, deploy, update and backups on a remote server; Ctrl+C cancels the server's job", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (server) => Effect.promise(server.close))
      // The server installs from an index that holds every download until released: an update stays in pip.
      const { url } = yield* serve({
        ...offlinePipEnv(world.wheels),
        PIP_NO_INDEX: undefined,
        PIP_FIND_LINKS: "",
        PIP_DEFAULT_TIMEOUT: "600",
        MAIKIT_PIP_INDEX_URL: index.url,
        MAIKIT_MAIBOT_REMOTES: world.maibot,
        MAIKIT_ADAPTER_REMOTES: world.adapter,
        MAIKIT_PYTHON: "python3",
        MAIKIT_CONFIG: undefined
      })
      const remote = ["--server", url, "--token", token]

      const listing = yield* maikit(["versions", ...remote])
      ok(listing)
      assert.deepStrictEqual(listing.stdout.trim().split("\n").slice(0, 3), ["latest (1.2.1)", "main", "1.2.1"])
      assert.include(listing.stderr, world.maibot)

      const path = Path.join(tempDir("cli-remote-deploy"), "dev")
      const deployed = yield* maikit(["deploy", "dev", "--name", "devbot", "--path", path, "--port", "18910", ...remote])
      ok(deployed)
      assert.include(deployed.stdout, "✔ 部署完成！所有4个阶段已完成")
      const id = /as instance ([0-9a-f]{40})/.exec(deployed.stderr)?.[1] ?? ""
      assert.match(id, /^[0-9a-f]{40}$/, deployed.stderr)
      assert.isTrue(Fs.existsSync(Path.join(path, "bot.py")))

      const interrupted = yield* maikit(["instances", "update", id, "1.2.1", ...remote], {
        interrupt: () => index.requests.length > 0
      })
      assert.notStrictEqual(interrupted.status, 0)
      // The server's job was cancelled: its pip is gone and the instance is back on dev.
      yield* eventually(Effect.sync(() => processesMentioning(path)), (pids) => pids.length === 0, 10_000)
      yield* eventually(
        Effect.map(maikit(["instances", "ls", "--json", ...remote]), (listed) =>
          (JSON.parse(listed.stdout) as Array<{ version: string; status: string }>).map((instance) => instance.version)),
        (versions) => versions.length === 1 && versions[0] === "dev",
        20_000
      )

      index.release()
      const updated = yield* maikit(["instances", "update", id, "1.2.1", ...remote])
      ok(updated)
      assert.include(updated.stdout, "✔ 更新完成：实例 devbot 现在是 1.2.1")

      const listed = yield* maikit(["backups", "ls", "--json", ...remote])
      ok(listed)
      const backups = JSON.parse(listed.stdout) as Array<{ id: string; version: string; instance_id: string }>
      assert.isAbove(backups.length, 0)
      assert.isTrue(backups.every((backup) => backup.instance_id === id && backup.version === "dev"))
      const newest = backups[0]?.id ?? ""
      const removed = yield* maikit(["backups", "rm", newest, ...remote])
      ok(removed)
      assert.include(removed.stdout, newest)
      const left = JSON.parse((yield* maikit(["backups", "ls", "--json", "--instance", id, ...remote])).stdout) as Array<{ id: string }>
      assert.notInclude(left.map((backup) => backup.id), newest)
    }).pipe(Effect.scoped), 300_000)
})
