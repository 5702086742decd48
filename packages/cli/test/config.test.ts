import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { checkout, fixtureText } from "../../core/test/fixtures/maibotTree.ts"
import { tempDir } from "../../core/test/helpers/instances.ts"

const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "../src/bin.ts")

interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The real `maikit` binary, run from source. */
const maikit = (args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ["--conditions=source", bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.once("exit", (status) => resolve({ status, stdout, stderr }))
    })
  )

describe("maikit config", () => {
  it.live("get, set, history, diff and restore on a registered 1.x instance", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cli-config")
      const tree = checkout("1.x", false)
      Fs.writeFileSync(Path.join(tree.dir, "bot.py"), "")
      const added = yield* maikit(["instances", "add", tree.dir, "--name", "mai-cli", "--data-dir", dataDir])
      assert.strictEqual(added.status, 0, added.stderr)
      const d = ["--data-dir", dataDir]

      const nickname = yield* maikit(["config", "get", "mai-cli", "bot", "bot.nickname", ...d])
      assert.strictEqual(nickname.stdout.trim(), "麦麦", nickname.stderr)
      const rules = yield* maikit(["config", "get", "mai-cli", "bot", "chat.talk_value_rules[1].time", ...d])
      assert.strictEqual(rules.stdout.trim(), "20:00-23:59")
      const raw = yield* maikit(["config", "get", "mai-cli", "bot", "--raw", ...d])
      assert.strictEqual(`${raw.stdout.replace(/\n$/, "")}\n`, fixtureText("1.x", "bot_config.toml"))

      const set = yield* maikit(["config", "set", "mai-cli", "bot", "chat.talk_value", "0.7", ...d])
      assert.strictEqual(set.status, 0, set.stderr)
      assert.include(set.stdout, "previous version kept as")
      const text = Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8")
      assert.strictEqual(
        text,
        fixtureText("1.x", "bot_config.toml").replace("talk_value = 1.0 # 聊天频率", "talk_value = 0.7 # 聊天频率")
      )
      const wrong = yield* maikit(["config", "set", "mai-cli", "bot", "webui.port", "\"eighty\"", ...d])
      assert.strictEqual(wrong.status, 1)
      assert.include(wrong.stderr, "webui.port: expected a number")

      const history = yield* maikit(["config", "history", "mai-cli", "bot", ...d])
      const version = /^(\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{16})/m.exec(history.stdout)?.[1] as string
      assert.isString(version, history.stdout)
      const diff = yield* maikit(["config", "diff", "mai-cli", "bot", version, ...d])
      assert.include(diff.stdout, "-talk_value = 1.0 # 聊天频率")
      assert.include(diff.stdout, "+talk_value = 0.7 # 聊天频率")
      const restored = yield* maikit(["config", "restore", "mai-cli", "bot", version, ...d])
      assert.strictEqual(restored.status, 0, restored.stderr)
      assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"), fixtureText("1.x", "bot_config.toml"))

      const unknown = yield* maikit(["config", "get", "nobody", "bot", ...d])
      assert.strictEqual(unknown.status, 1)
      assert.include(unknown.stderr, "no instance nobody")
    }), 120_000)
})
