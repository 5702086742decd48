import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { eventually, fixtureWorld, offlinePipEnv, processesMentioning, slowIndex, tempDir } from "../../core/test/helpers/deployer.ts"
import { type Env, maikit as run } from "./helpers.ts"

const maikit = (args: ReadonlyArray<string>, env: Env, interrupt?: () => boolean) => run(args, { env, interrupt })

describe("maikit versions, deploy, instances update, backups", () => {
  it.live("lists versions, deploys with plain progress lines, updates after a backup, lists and removes the backup; Ctrl+C cancels cleanly", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const dataDir = Path.join(world.root, "data")
      const env = {
        ...offlinePipEnv(world.wheels),
        MAIKIT_MAIBOT_REMOTES: world.maibot,
        MAIKIT_ADAPTER_REMOTES: world.adapter,
        MAIKIT_PYTHON: "python3",
        MAIKIT_CONFIG: undefined
      }
      const home = tempDir("cli-deploy")

      const versions = yield* maikit(["versions", "--data-dir", dataDir], env)
      assert.strictEqual(versions.status, 0, versions.stderr)
      assert.deepStrictEqual(versions.stdout.trim().split("\n").slice(0, 3), ["latest (1.2.1)", "main", "1.2.1"])
      assert.include(versions.stderr, world.maibot)

      const unknown = yield* maikit(["deploy", "9.9.9", "--name", "x", "--path", Path.join(home, "x"), "--port", "18900", "--data-dir", dataDir], env)
      assert.notStrictEqual(unknown.status, 0)
      assert.include(unknown.stderr, "unknownVersion")
      assert.isFalse(Fs.existsSync(Path.join(home, "x")))

      const path = Path.join(home, "dev")
      const deployed = yield* maikit(["deploy", "dev", "--name", "devbot", "--path", path, "--port", "18900", "--data-dir", dataDir], env)
      assert.strictEqual(deployed.status, 0, deployed.stderr + deployed.stdout)
      assert.match(deployed.stdout, /^\[ {2}5%\] 阶段1\/4: 准备部署环境$/m)
      assert.match(deployed.stdout, /^\[ 75%\] 未找到依赖文件，跳过依赖安装$/m)
      assert.include(deployed.stdout, "✔ 部署完成！所有4个阶段已完成")
      const id = /as instance ([0-9a-f]{40})/.exec(deployed.stderr)?.[1] ?? ""
      assert.match(id, /^[0-9a-f]{40}$/)

      const updated = yield* maikit(["instances", "update", id, "1.2.1", "--data-dir", dataDir], env)
      assert.strictEqual(updated.status, 0, updated.stderr + updated.stdout)
      assert.include(updated.stdout, "✔ 更新完成：实例 devbot 现在是 1.2.1")
      const listed = yield* maikit(["backups", "ls", "--data-dir", dataDir, "--json"], env)
      const backups = JSON.parse(listed.stdout) as Array<{ id: string; version: string; instanceId: string }>
      assert.deepStrictEqual(backups.map((backup) => [backup.version, backup.instanceId]), [["dev", id]])
      const removed = yield* maikit(["backups", "rm", backups[0]?.id ?? "", "--data-dir", dataDir], env)
      assert.strictEqual(removed.status, 0, removed.stderr)
      assert.include((yield* maikit(["backups", "ls", "--data-dir", dataDir], env)).stdout, "No backups")

      const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (server) => Effect.promise(server.close))
      const slow = { ...env, PIP_NO_INDEX: undefined, PIP_FIND_LINKS: "", PIP_DEFAULT_TIMEOUT: "600", MAIKIT_PIP_INDEX_URL: index.url }
      const cancelled = Path.join(home, "cancelled")
      const interrupted = yield* maikit(
        ["deploy", "1.2.1", "--name", "slow", "--path", cancelled, "--port", "18901", "--data-dir", dataDir],
        slow,
        () => index.requests.length > 0
      )
      assert.notStrictEqual(interrupted.status, 0)
      yield* eventually(Effect.sync(() => processesMentioning(cancelled)), (pids) => pids.length === 0, 5_000)
      assert.isFalse(Fs.existsSync(cancelled))
    }).pipe(Effect.scoped), 240_000)
})
