import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { botFolder, isGone, tempDir } from "../../core/test/helpers/instances.ts"
import { bin, serve as serveWith } from "./helpers.ts"

interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The real `maikit` binary, run from source; once it is attached, `input` goes to its stdin chunk by chunk. */
const maikit = (args: ReadonlyArray<string>, input: ReadonlyArray<string> = []) =>
  Effect.promise(() =>
    new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ["--conditions=source", bin, ...args], { stdio: ["pipe", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.once("exit", (status) => resolve({ status, stdout, stderr }))
      const feed = async () => {
        if (input.length === 0) return
        while (!stderr.includes("attached to")) await new Promise((wait) => setTimeout(wait, 50))
        for (const chunk of input) {
          child.stdin.write(chunk)
          await new Promise((wait) => setTimeout(wait, 800))
        }
      }
      void feed()
    })
  )

const serve = (dataDir: string) => serveWith(["--data-dir", dataDir])

const idIn = (text: string) => /instance ([0-9a-f]{40})/.exec(text)?.[1] ?? ""

describe("maikit instances, logs and attach", () => {
  it.live("add, ls and rm on the local database; start, stop, logs and attach against `maikit serve`", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cli-serve")
      const folder = botFolder()
      const server = yield* serve(dataDir)
      const [bad, added] = yield* Effect.all([
        maikit(["instances", "add", "/nonexistent/mai", "--data-dir", dataDir]),
        maikit(["instances", "add", folder, "--adapter", Path.join(folder, "napcat-ada"), "--data-dir", dataDir])
      ], { concurrency: "unbounded" })
      assert.strictEqual(bad.status, 1)
      assert.include(bad.stderr, "指定的安装路径不存在: /nonexistent/mai")
      assert.strictEqual(added.status, 0, added.stderr)
      const id = idIn(added.stdout)
      assert.match(id, /^[0-9a-f]{40}$/)

      const started = yield* maikit(["instances", "start", id, "--url", server.url])
      assert.strictEqual(started.status, 0, started.stderr)
      assert.strictEqual(started.stdout.trim(), `实例 ${Path.basename(folder)} 已启动`)

      const [listed, logs, attached, unknown] = yield* Effect.all([
        maikit(["instances", "ls", "--json", "--data-dir", dataDir]),
        maikit(["logs", id, "--url", server.url]),
        maikit(["attach", id, "napcat-ada", "--url", server.url], ["hello from the cli\r", "\u001d"]),
        maikit(["instances", "stop", "f".repeat(40), "--url", server.url])
      ], { concurrency: "unbounded" })
      const [instance] = JSON.parse(listed.stdout) as Array<{ id: string; status: string; components: Array<{ name: string }> }>
      assert.strictEqual(instance?.id, id)
      assert.strictEqual(instance?.status, "running", "the server keeps the database's status live")
      assert.deepStrictEqual(instance?.components.map((c) => c.name), ["main", "napcat-ada"])
      assert.strictEqual(logs.status, 0, logs.stderr)
      assert.match(logs.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO +\[main\] 麦麦 MaiBot 启动/m)
      assert.include(logs.stdout, "[napcat-ada] ready pid=")
      assert.strictEqual(attached.status, 0, attached.stderr)
      assert.include(attached.stdout, "echo:hello from the cli")
      assert.include(attached.stderr, "detached from napcat-ada")
      assert.strictEqual(unknown.status, 1)
      assert.include(unknown.stderr, `未找到实例 ${"f".repeat(40)}`)

      const pidsOf = Effect.promise(() =>
        fetch(`${server.url}/api/v1/instance/${id}/status`).then((r) => r.json() as Promise<{ components: Array<{ pid: number }> }>)
      ).pipe(Effect.map((body) => body.components.map((c) => c.pid)))
      const first = yield* pidsOf
      const stopped = yield* maikit(["instances", "stop", id, "--url", server.url])
      assert.strictEqual(stopped.stdout.trim(), `实例 ${Path.basename(folder)} 已停止`)
      assert.isTrue(first.every(isGone))

      yield* Effect.promise(() => fetch(`${server.url}/api/v1/instance/${id}/start`))
      const second = yield* pidsOf
      server.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => server.exited), 130)
      assert.isTrue(second.every(isGone), "the server's shutdown stops its instances")

      const removed = yield* maikit(["instances", "rm", id, "--data-dir", dataDir])
      assert.strictEqual(removed.status, 0, removed.stderr)
      assert.include(removed.stdout, `kept ${folder}`)
      assert.isTrue(Fs.existsSync(Path.join(folder, "bot.py")))
    }).pipe(Effect.scoped), 90_000)
})
